//! The result files (`face` results and `res` answers), rendered from the typed model in the
//! layout's element order. No string templates: a file is a tree of [`Node`]s built by the
//! functions below, one per element group, then serialised and encoded once.

use std::fmt::Write as _;

use crate::model::{
    Consent, Consents, ElderlyRecipient, Eligibility, LimitCertificate, ProcessingResultStatus,
    Qualification, Reception, ReferenceClassification, SegmentOfResult,
};
use crate::names::{self, Charset};

use super::kana;
use super::req::{QualificationRequest, SearchInfo};
use super::time::{jst_date, jst_datetime};

/// The bytes of a file: the declaration's label, the encoder and which characters may appear
/// as themselves (every other one is written as a numeric character reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileEncoding {
    /// Windows-31J, labelled `Shift_JIS`: what the receipt computers (Windows programs) read
    /// and write; 髙, 﨑, ①, Ⅱ as themselves.
    #[default]
    Cp932,
    /// UTF-8: every character as itself.
    Utf8,
    /// Shift_JIS restricted to JIS X 0201 + JIS X 0208, for readers that take the label
    /// literally (Java, iconv): 髙 and 﨑 as references.
    Jis0208,
}

impl FileEncoding {
    /// `CharacterCodeIdentifier` (OQSCD005): 0 UTF-8, 1 Shift_JIS.
    pub fn character_code_identifier(self) -> &'static str {
        match self {
            FileEncoding::Utf8 => "0",
            FileEncoding::Cp932 | FileEncoding::Jis0208 => "1",
        }
    }

    /// The label in the XML declaration.
    pub fn label(self) -> &'static str {
        match self {
            FileEncoding::Utf8 => "UTF-8",
            FileEncoding::Cp932 | FileEncoding::Jis0208 => "Shift_JIS",
        }
    }

    /// Whether `c` is written as itself.
    pub fn carries(self, c: char) -> bool {
        match self {
            FileEncoding::Utf8 => xml_allowed(c),
            FileEncoding::Cp932 => names::in_target(c, Charset::Cp932),
            FileEncoding::Jis0208 => names::in_target(c, Charset::Jis0208),
        }
    }

    fn encode(self, text: &str) -> Vec<u8> {
        match self {
            FileEncoding::Utf8 => text.as_bytes().to_vec(),
            FileEncoding::Cp932 | FileEncoding::Jis0208 => {
                // Every character outside the set became a reference, so nothing is unmappable.
                encoding_rs::SHIFT_JIS.encode(text).0.into_owned()
            }
        }
    }
}

/// How result files are written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WriterConfig {
    /// 医療機関コード (10 digits), written in every face file's header.
    pub medical_institution_code: String,
    pub encoding: FileEncoding,
}

impl WriterConfig {
    pub fn new(medical_institution_code: impl Into<String>) -> Self {
        Self { medical_institution_code: medical_institution_code.into(), encoding: FileEncoding::default() }
    }
}

/// An error in the header (`ErrorCode` / `ErrorMessage`, only with `SegmentOfResult` 9). Codes
/// that shikaku itself produces start with `SHK` so they never collide with the eligibility
/// system's own codes, which are forwarded unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderError {
    pub code: String,
    pub message: String,
}

/// A field whose text had characters outside the file's set, carried as references.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Referenced {
    pub element: String,
    /// The characters, in order of appearance, each once.
    pub chars: Vec<char>,
}

/// A rendered file and the fields that needed character references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub referenced: Vec<Referenced>,
}

/// One element: text, or children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Leaf(&'static str, String),
    Group(&'static str, Vec<Node>),
}

/// Children of one element, in the order they are pushed.
#[derive(Default)]
struct Children(Vec<Node>);

impl Children {
    fn leaf(&mut self, tag: &'static str, value: impl Into<String>) {
        self.0.push(Node::Leaf(tag, value.into()));
    }
    fn opt(&mut self, tag: &'static str, value: Option<impl Into<String>>) {
        if let Some(v) = value {
            self.leaf(tag, v);
        }
    }
    fn group(&mut self, tag: &'static str, children: Children) {
        self.0.push(Node::Group(tag, children.0));
    }
}

/// Characters that XML 1.0 forbids even as references.
fn xml_allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

struct Serializer {
    encoding: FileEncoding,
    out: String,
    referenced: Vec<Referenced>,
}

impl Serializer {
    fn text(&mut self, tag: &'static str, value: &str) {
        let mut outside: Vec<char> = Vec::new();
        for c in value.chars() {
            if let Some(entity) = names::xml_entity(c) {
                self.out.push_str(entity);
            } else if !xml_allowed(c) {
                // Not even a reference can carry it (a control character): dropped, reported.
                if !outside.contains(&c) {
                    outside.push(c);
                }
            } else if self.encoding.carries(c) {
                self.out.push(c);
            } else {
                let _ = write!(self.out, "&#x{:X};", c as u32);
                if !outside.contains(&c) {
                    outside.push(c);
                }
            }
        }
        if !outside.is_empty() {
            self.referenced.push(Referenced { element: tag.to_owned(), chars: outside });
        }
    }

    fn node(&mut self, n: &Node, depth: usize) {
        for _ in 0..depth {
            self.out.push('\t');
        }
        match n {
            Node::Leaf(tag, value) => {
                let _ = write!(self.out, "<{tag}>");
                self.text(tag, value);
                let _ = write!(self.out, "</{tag}>\r\n");
            }
            Node::Group(tag, children) => {
                let _ = write!(self.out, "<{tag}>\r\n");
                for c in children {
                    self.node(c, depth + 1);
                }
                for _ in 0..depth {
                    self.out.push('\t');
                }
                let _ = write!(self.out, "</{tag}>\r\n");
            }
        }
    }
}

/// Serialises `root` with the declaration and encodes it.
pub fn serialize(root: &Node, encoding: FileEncoding) -> Rendered {
    let mut s = Serializer { encoding, out: String::with_capacity(4096), referenced: Vec::new() };
    let _ = write!(s.out, "<?xml version=\"1.0\" encoding=\"{}\" standalone=\"no\"?>\r\n", encoding.label());
    s.node(root, 0);
    Rendered { bytes: encoding.encode(&s.out), referenced: s.referenced }
}

/// Header values of one file.
pub struct Header<'a> {
    pub process_execution_time: String,
    pub qualification_confirmation_date: String,
    pub medical_institution_code: &'a str,
    pub arbitrary_file_identifier: Option<&'a str>,
    pub reference_classification: ReferenceClassification,
    /// `Err`: 異常終了 with its code and message.
    pub outcome: Result<(), &'a HeaderError>,
}

fn header(h: &Header<'_>, encoding: FileEncoding) -> Children {
    let mut c = Children::default();
    c.leaf("ProcessExecutionTime", &h.process_execution_time);
    c.leaf("QualificationConfirmationDate", &h.qualification_confirmation_date);
    c.leaf("MedicalInstitutionCode", h.medical_institution_code);
    c.opt("ArbitraryFileIdentifier", h.arbitrary_file_identifier);
    c.leaf("ReferenceClassification", h.reference_classification.code());
    match h.outcome {
        Ok(()) => c.leaf("SegmentOfResult", SegmentOfResult::Normal.code()),
        Err(e) => {
            c.leaf("SegmentOfResult", SegmentOfResult::Abnormal.code());
            c.leaf("ErrorCode", &e.code);
            c.leaf("ErrorMessage", &e.message);
        }
    }
    c.leaf("CharacterCodeIdentifier", encoding.character_code_identifier());
    c
}

/// 保険者番号: 8 characters, a 6-digit 国保 number right-aligned with spaces (as the eligibility
/// system sends it).
pub fn insurer_number_field(n: &str) -> String {
    let n = n.trim();
    if n.len() < 8 && n.bytes().all(|b| b.is_ascii_digit()) {
        format!("{n:>8}")
    } else {
        n.to_owned()
    }
}

/// Percent → the three-digit ratio field (`30` → `030`).
fn ratio(percent: u8) -> String {
    format!("{percent:03}")
}

fn elderly(e: &ElderlyRecipient) -> Children {
    let mut c = Children::default();
    c.opt("ElderlyRecipientCertificateDate", e.issuance_date.as_deref());
    c.leaf("ElderlyRecipientValidStartDate", &e.valid_start_date);
    c.opt("ElderlyRecipientValidEndDate", e.valid_end_date.as_deref());
    c.leaf("ElderlyRecipientContributionRatio", ratio(e.copay_percent));
    c
}

fn limit(l: &LimitCertificate) -> Children {
    let mut c = Children::default();
    c.leaf("LimitApplicationCertificateClassification", l.classification.code());
    c.leaf("LimitApplicationCertificateClassificationFlag", l.category.code());
    c.opt("LimitApplicationCertificateDate", l.issuance_date.as_deref());
    c.leaf("LimitApplicationCertificateValidStartDate", &l.valid_start_date);
    c.opt("LimitApplicationCertificateValidEndDate", l.valid_end_date.as_deref());
    c.opt("LimitApplicationCertificateLongTermDate", l.long_term_date.as_deref());
    c
}

fn consent(c: &mut Children, item: Option<&Consent>, tags: [&'static str; 3]) {
    if let Some(item) = item {
        c.leaf(tags[0], item.flag.code());
        c.leaf(tags[1], &item.time);
        c.opt(tags[2], item.available_until.as_deref());
    }
}

/// `ResultOfQualificationConfirmation`, in the layout's order.
fn result(q: &Qualification, consents: &Consents, reference_number: Option<&str>) -> Children {
    let mut c = Children::default();
    c.leaf("InsuredCardClassification", q.card_classification.code());
    c.leaf("InsurerNumber", insurer_number_field(&q.insurer_number));
    c.opt("InsuredCardSymbol", q.symbol.as_deref());
    c.leaf("InsuredIdentificationNumber", &q.number);
    c.opt("InsuredBranchNumber", q.branch.as_deref());
    c.opt("PersonalFamilyClassification", q.family.map(|f| f.code()));
    c.opt("InsuredName", q.insured_name.as_deref());
    c.leaf("Name", &q.name);
    c.opt("NameOfOther", q.name_of_other.as_deref());
    c.opt("NameKana", q.name_kana.as_deref().map(kana::to_half_width));
    c.opt("NameOfOtherKana", q.name_of_other_kana.as_deref().map(kana::to_half_width));
    c.leaf("Sex1", q.sex1.code());
    c.opt("Sex2", q.sex2.map(|s| s.code()));
    c.leaf("Birthdate", &q.birth_date);
    c.opt("Address", q.address.as_deref());
    c.opt("PostNumber", q.post_number.as_deref());
    c.opt("QualificationDate", q.qualification_date.as_deref());
    c.opt("DisqualificationDate", q.disqualification_date.as_deref());
    c.opt("InsuredCertificateIssuanceDate", q.certificate_issuance_date.as_deref());
    c.opt("InsuredCardValidDate", q.card_valid_date.as_deref());
    c.opt("InsuredCardExpirationDate", q.card_expiration_date.as_deref());
    c.opt("InsuredPartialContributionRatio", q.copay_percent.map(ratio));
    c.opt("PreschoolClassification", q.preschool.map(|p| p.code()));
    c.opt("ReasonOfLoss", q.reason_of_loss.map(|r| r.code()));
    c.leaf("InsurerName", &q.insurer_name);
    if let Some(e) = &q.elderly {
        c.group("ElderlyRecipientCertificateInfo", elderly(e));
    }
    if let Some(lc) = &q.limit_consent {
        c.leaf("LimitApplicationCertificateRelatedConsFlg", lc.flag.code());
        c.leaf("LimitApplicationCertificateRelatedConsTime", &lc.time);
    }
    if let Some(l) = &q.limit {
        c.group("LimitApplicationCertificateRelatedInfo", limit(l));
    }
    consent(
        &mut c,
        consents.health_checkup.as_ref(),
        [
            "SpecificHealthCheckupsInfoConsFlg",
            "SpecificHealthCheckupsInfoConsTime",
            "SpecificHealthCheckupsInfoAvailableTime",
        ],
    );
    consent(
        &mut c,
        consents.medication.as_ref(),
        ["PharmacistsInfoConsFlg", "PharmacistsInfoConsTime", "PharmacistsInfoAvailableTime"],
    );
    consent(
        &mut c,
        consents.treatment.as_ref(),
        ["DiagnosisInfoConsFlg", "DiagnosisInfoConsTime", "DiagnosisInfoAvailableTime"],
    );
    consent(
        &mut c,
        consents.surgery.as_ref(),
        ["OperationInfoConsFlg", "OperationInfoConsTime", "OperationInfoAvailableTime"],
    );
    c.opt("ReferenceNumber", reference_number);
    c
}

/// What a body says.
enum BodyContent<'a> {
    /// The lookup completed: validity, and the result list when there is a qualification.
    Answered(&'a Eligibility),
    /// The request was read but cannot be looked up (a missing or malformed field): 処理結果
    /// エラー with a code naming the problem.
    Refused { code: &'a str, message: &'a str },
    /// 異常終了 (the header says why).
    Failed,
}

fn body(content: &BodyContent<'_>, search: Option<&SearchInfo>) -> Children {
    let mut c = Children::default();
    match content {
        BodyContent::Answered(e) => {
            c.leaf("ProcessingResultStatus", ProcessingResultStatus::Normal.code());
            c.leaf("QualificationValidity", e.validity.code());
            if let Some(q) = &e.qualification {
                let mut list = Children::default();
                list.group(
                    "ResultOfQualificationConfirmation",
                    result(q, &e.consents, e.reference_number.as_deref()),
                );
                c.group("ResultList", list);
            }
        }
        BodyContent::Refused { code, message } => {
            c.leaf("ProcessingResultStatus", ProcessingResultStatus::Error.code());
            c.leaf("ProcessingResultCode", *code);
            c.leaf("ProcessingResultMessage", *message);
        }
        BodyContent::Failed => c.leaf("ProcessingResultStatus", ProcessingResultStatus::Error.code()),
    }
    if let Some(s) = search {
        c.group("QualificationConfirmSearchInfo", search_info(s));
    }
    c
}

/// The request's search keys, echoed as they came (text unchanged, untrimmed).
fn search_info(s: &SearchInfo) -> Children {
    let mut c = Children::default();
    c.opt("InsurerNumber", s.insurer_number.as_deref());
    c.opt("InsuredCardSymbol", s.insured_card_symbol.as_deref());
    c.opt("InsuredIdentificationNumber", s.insured_identification_number.as_deref());
    c.opt("InsuredBranchNumber", s.insured_branch_number.as_deref());
    c.opt("Birthdate", s.birthdate.as_deref());
    c.opt("LimitApplicationCertificateRelatedConsFlg", s.limit_application_consent.as_deref());
    c.opt("ArbitraryIdentifier", s.arbitrary_identifier.as_deref());
    c
}

fn document(
    h: &Header<'_>,
    content: &BodyContent<'_>,
    search: Option<&SearchInfo>,
    encoding: FileEncoding,
) -> Rendered {
    let mut root = Children::default();
    root.group("MessageHeader", header(h, encoding));
    root.group("MessageBody", body(content, search));
    serialize(&Node::Group("XmlMsg", root.0), encoding)
}

/// A `face` file for one reception (照会区分 1). A reception whose eligibility could not be
/// confirmed is written too, 異常終了 with the error code in the header: the receipt computer
/// still learns that a card was presented.
pub fn render_reception(r: &Reception, now_unix_ms: u64, cfg: &WriterConfig) -> Rendered {
    let id = reception_id(r);
    let error = match (&r.eligibility, r.error_code) {
        (Some(_), _) => None,
        (None, code) => Some(HeaderError {
            code: format!("SHK{:04}", code.unwrap_or(0)),
            message: "資格情報を取得できませんでした".into(),
        }),
    };
    let h = Header {
        process_execution_time: jst_datetime(now_unix_ms),
        qualification_confirmation_date: jst_date(r.verified_at),
        medical_institution_code: &cfg.medical_institution_code,
        arbitrary_file_identifier: Some(&id),
        reference_classification: ReferenceClassification::Card,
        outcome: error.as_ref().map_or(Ok(()), Err),
    };
    let content = match &r.eligibility {
        Some(e) => BodyContent::Answered(e),
        None => BodyContent::Failed,
    };
    document(&h, &content, None, cfg.encoding)
}

/// What a `req` file is answered with.
pub enum Answer<'a> {
    Answered(&'a Eligibility),
    /// The request is readable but not usable (e.g. a required field is missing).
    Refused {
        code: &'a str,
        message: &'a str,
    },
    /// The eligibility system refused the lookup.
    Failed(&'a HeaderError),
}

/// The answer to a readable `req` file (照会区分 2). The header echoes the request's
/// `ArbitraryFileIdentifier` (always: it is how the receipt computer finds its answer), and its
/// 資格確認日 and 医療機関コード when they are well-formed — a malformed one (the request is then
/// refused for it) is replaced by today's date / the configured code, so the answer itself
/// keeps the layout's formats. Characters outside the file's set travel as references, which
/// read back as the same text.
pub fn render_answer(
    req: &QualificationRequest,
    answer: Answer<'_>,
    now_unix_ms: u64,
    cfg: &WriterConfig,
) -> Rendered {
    let h = &req.header;
    let header = Header {
        process_execution_time: jst_datetime(now_unix_ms),
        qualification_confirmation_date: h
            .qualification_confirmation_date
            .clone()
            .filter(|d| super::req::is_date(d))
            .unwrap_or_else(|| jst_date(now_unix_ms)),
        medical_institution_code: h
            .medical_institution_code
            .as_deref()
            .filter(|c| c.len() == 10 && c.bytes().all(|b| b.is_ascii_digit()))
            .unwrap_or(&cfg.medical_institution_code),
        arbitrary_file_identifier: h.arbitrary_file_identifier.as_deref(),
        reference_classification: ReferenceClassification::InsuranceNumber,
        outcome: match &answer {
            Answer::Failed(e) => Err(e),
            _ => Ok(()),
        },
    };
    let content = match answer {
        Answer::Answered(e) => BodyContent::Answered(e),
        Answer::Refused { code, message } => BodyContent::Refused { code, message },
        Answer::Failed(_) => BodyContent::Failed,
    };
    document(&header, &content, req.search.as_ref(), cfg.encoding)
}

/// `<reader>-<session>-<seq>`: the reception's exactly-once key, safe in a file name and as
/// `ArbitraryFileIdentifier`. Everything in the reader serial but ASCII letters, digits and `-`
/// becomes `-`; when that changed anything, `x` and a hash of the real serial follow, so two
/// readers never share a name (`SK/1` and `SK 1` are `SK-1x…` with different hashes).
pub fn reception_id(r: &Reception) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || c == '-';
    let mut reader: String = r.reader.chars().map(|c| if safe(c) { c } else { '-' }).collect();
    if !r.reader.chars().all(safe) || r.reader.is_empty() {
        let _ = write!(reader, "x{:08x}", fnv1a(r.reader.as_bytes()));
    }
    format!("{reader}-{}-{}", r.session, r.seq)
}

/// FNV-1a, 32 bits: stable across builds and platforms.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ b as u32).wrapping_mul(0x0100_0193))
}

/// The 30 digits in the middle of a reception's `face` file name: the 医療機関コード (10, as the
/// terminals write it), then 20 digits of a 64-bit FNV-1a hash of the reception's exactly-once
/// key — stable for a reception (a result delivered twice replaces its own file), distinct
/// between readers and sessions. Consumers read only the trailing time stamp.
pub fn face_digits(r: &Reception, medical_institution_code: &str) -> String {
    let code: String = medical_institution_code.chars().filter(char::is_ascii_digit).take(10).collect();
    let key = format!("{}\0{}\0{}", r.reader, r.session, r.seq);
    let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    format!("{code:0>10}{h:020}")
}
