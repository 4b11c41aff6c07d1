//! The result files (`face` results and `res` answers) as the receipt computer reads them.

use std::fmt::Write as _;

use crate::model::{ConsentRecord, Eligibility, Reception};
use crate::names::{self, Charset, FieldFlag};

use super::req::QualificationRequest;
use super::time::{jst_date, jst_datetime};

/// `CharacterCodeIdentifier`: 0 = UTF-8, 1 = Shift_JIS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CharacterCode {
    Utf8 = 0,
    #[default]
    ShiftJis = 1,
}

impl CharacterCode {
    pub fn code(self) -> u8 {
        self as u8
    }
    /// The label in the XML declaration.
    pub fn label(self) -> &'static str {
        match self {
            CharacterCode::Utf8 => "UTF-8",
            CharacterCode::ShiftJis => "Shift_JIS",
        }
    }
}

/// How result files are written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WriterConfig {
    /// 医療機関コード (10 digits), written in every header.
    pub medical_institution_code: String,
    pub character_code: CharacterCode,
    /// For Shift_JIS files: strict JIS X 0208 or CP932 (see [`crate::names`]).
    pub charset: Charset,
}

impl WriterConfig {
    pub fn new(medical_institution_code: impl Into<String>) -> Self {
        Self {
            medical_institution_code: medical_institution_code.into(),
            character_code: CharacterCode::default(),
            charset: Charset::default(),
        }
    }
}

/// `SegmentOfResult` (処理結果区分, OQSCD003): 1 正常終了, 2 処理中, 9 異常終了.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentOfResult {
    Normal = 1,
    Processing = 2,
    Abnormal = 9,
}

/// An error answered in the header (`ErrorCode` / `ErrorMessage`). Codes that shikaku itself
/// produces start with `SHK` so they never collide with the eligibility system's own codes,
/// which are forwarded unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderError {
    pub code: String,
    pub message: String,
}

/// A rendered file and what happened to its text fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    /// Every text field that is not byte-for-byte its UTF-8 original, with its flag.
    pub flagged: Vec<(&'static str, FieldFlag)>,
}

struct Doc<'a> {
    out: String,
    cfg: &'a WriterConfig,
    depth: usize,
    flagged: Vec<(&'static str, FieldFlag)>,
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match names::xml_entity(c) {
            Some(entity) => out.push_str(entity),
            None => out.push(c),
        }
    }
}

/// Characters that XML 1.0 forbids even as references.
fn xml_allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

impl<'a> Doc<'a> {
    fn new(cfg: &'a WriterConfig) -> Self {
        let mut out = String::with_capacity(4096);
        let _ = write!(
            out,
            "<?xml version=\"1.0\" encoding=\"{}\" standalone=\"no\"?>\r\n",
            cfg.character_code.label()
        );
        Doc { out, cfg, depth: 0, flagged: Vec::new() }
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push('\t');
        }
    }

    fn open(&mut self, tag: &str) {
        self.indent();
        let _ = write!(self.out, "<{tag}>\r\n");
        self.depth += 1;
    }

    fn close(&mut self, tag: &str) {
        self.depth -= 1;
        self.indent();
        let _ = write!(self.out, "</{tag}>\r\n");
    }

    fn raw_leaf(&mut self, tag: &str, escaped: &str) {
        self.indent();
        let _ = write!(self.out, "<{tag}>{escaped}</{tag}>\r\n");
    }

    fn opt_leaf(&mut self, tag: &'static str, value: Option<&str>) {
        if let Some(v) = value {
            self.leaf(tag, v);
        }
    }

    /// Converts for the file's character set: Shift_JIS through [`names::convert`], UTF-8
    /// only drops what XML cannot carry.
    fn convert(&self, value: &str) -> (String, FieldFlag) {
        match self.cfg.character_code {
            CharacterCode::ShiftJis => {
                let c = names::convert(value, self.cfg.charset);
                (c.text, c.flag)
            }
            CharacterCode::Utf8 => {
                if value.chars().all(xml_allowed) {
                    (value.to_owned(), FieldFlag::Unchanged)
                } else {
                    let t =
                        value.chars().map(|c| if xml_allowed(c) { c } else { names::UNMAPPABLE }).collect();
                    (t, FieldFlag::Unmappable)
                }
            }
        }
    }

    /// A field, converted for the file's character set. When it had to change, it is followed
    /// by `<{tag}Substituted>` (1 standard form / 2 ●) and `<{tag}Original>` with the original
    /// text, characters outside the file's set as character references — for every field, not
    /// only names, so nothing becomes ● unannounced. Both are shikaku extensions (see the
    /// module docs). Only characters XML 1.0 cannot carry at all are missing from the original.
    fn leaf(&mut self, tag: &'static str, value: &str) {
        let (text, flag) = self.convert(value);
        let mut esc = String::with_capacity(text.len());
        escape_into(&mut esc, &text);
        self.raw_leaf(tag, &esc);
        if flag != FieldFlag::Unchanged {
            self.flagged.push((tag, flag));
            self.raw_leaf(&format!("{tag}Substituted"), &flag.code().to_string());
            let original: String = value.chars().filter(|&c| xml_allowed(c)).collect();
            let esc = match self.cfg.character_code {
                CharacterCode::ShiftJis => names::xml_escape_with_ncr(&original, self.cfg.charset),
                CharacterCode::Utf8 => {
                    let mut e = String::new();
                    escape_into(&mut e, &original);
                    e
                }
            };
            self.raw_leaf(&format!("{tag}Original"), &esc);
        }
    }

    fn finish(self) -> Rendered {
        let bytes = match self.cfg.character_code {
            CharacterCode::Utf8 => self.out.into_bytes(),
            CharacterCode::ShiftJis => {
                let (bytes, _, had_errors) = encoding_rs::SHIFT_JIS.encode(&self.out);
                // Every character went through names::convert or is ASCII markup.
                debug_assert!(!had_errors, "unconverted text in a Shift_JIS document");
                bytes.into_owned()
            }
        };
        Rendered { bytes, flagged: self.flagged }
    }
}

/// Header values of one file.
pub(super) struct Header<'a> {
    pub process_execution_time: String,
    pub qualification_confirmation_date: String,
    pub medical_institution_code: &'a str,
    pub arbitrary_file_identifier: Option<&'a str>,
    /// 照会区分: 1 マイナンバーカード, 2 被保険者証情報.
    pub reference_classification: u8,
    pub segment_of_result: SegmentOfResult,
    pub error: Option<&'a HeaderError>,
}

fn header(doc: &mut Doc<'_>, h: &Header<'_>) {
    doc.open("MessageHeader");
    doc.leaf("ProcessExecutionTime", &h.process_execution_time);
    doc.leaf("QualificationConfirmationDate", &h.qualification_confirmation_date);
    doc.leaf("MedicalInstitutionCode", h.medical_institution_code);
    doc.opt_leaf("ArbitraryFileIdentifier", h.arbitrary_file_identifier);
    doc.leaf("ReferenceClassification", &h.reference_classification.to_string());
    doc.leaf("SegmentOfResult", &(h.segment_of_result as u8).to_string());
    if let Some(e) = h.error {
        doc.leaf("ErrorCode", &e.code);
        doc.leaf("ErrorMessage", &e.message);
    }
    doc.leaf("CharacterCodeIdentifier", &doc.cfg.character_code.code().to_string());
    doc.close("MessageHeader");
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

/// 限度額適用認定証適用区分 (OQSCD012): label ↔ code.
pub const LIMIT_CATEGORIES: &[(&str, &str)] = &[
    ("A01", "ア"),
    ("A02", "イ"),
    ("A03", "ウ"),
    ("A04", "エ"),
    ("A05", "オ"),
    ("A06", "オ（境）"),
    ("B01", "現役並みⅢ"),
    ("B02", "現役並みⅡ"),
    ("B03", "現役並みⅠ"),
    ("B04", "一般"),
    ("B05", "低所得Ⅱ"),
    ("B06", "低所得Ⅰ"),
    ("B07", "低所得Ⅰ（老福）"),
    ("B08", "低所得Ⅰ（境）"),
    ("B09", "一般Ⅱ"),
    ("B10", "一般Ⅰ"),
];

/// The code for a 限度額 label (or a code given as is); `None` when unknown.
pub fn limit_category_code(label: &str) -> Option<&'static str> {
    LIMIT_CATEGORIES.iter().find(|(code, l)| *l == label || *code == label).map(|(code, _)| *code)
}

/// ISO 8601 (`2025-04-01T09:30:00+09:00`) → `YYYYMMDDHHmmss`; `None` if it does not look like
/// a date-time.
pub fn compact_datetime(iso: &str) -> Option<String> {
    let head = iso.split(['+', 'Z']).next()?;
    let head = head.split('.').next()?;
    let digits: String = head.chars().filter(char::is_ascii_digit).collect();
    match digits.len() {
        14 => Some(digits),
        12 => Some(digits + "00"),
        8 => Some(digits + "000000"),
        _ => None,
    }
}

fn flag(v: bool) -> &'static str {
    if v {
        "1"
    } else {
        "0"
    }
}

fn consents(doc: &mut Doc<'_>, c: &ConsentRecord) {
    let time = c.given_at.as_deref().and_then(compact_datetime);
    for (value, flag_tag, time_tag) in [
        (c.health_checkup, "SpecificHealthCheckupsInfoConsFlg", "SpecificHealthCheckupsInfoConsTime"),
        (c.medication, "PharmacistsInfoConsFlg", "PharmacistsInfoConsTime"),
        (c.treatment, "DiagnosisInfoConsFlg", "DiagnosisInfoConsTime"),
        (c.surgery, "OperationInfoConsFlg", "OperationInfoConsTime"),
    ] {
        if let Some(v) = value {
            doc.leaf(flag_tag, flag(v));
            if let Some(t) = &time {
                doc.leaf(time_tag, t);
            }
        }
    }
}

fn body(doc: &mut Doc<'_>, e: &Eligibility, search: Option<&QualificationRequest>) {
    doc.open("MessageBody");
    if let Some(req) = search {
        let s = &req.search;
        doc.open("QualificationConfirmSearchInfo");
        doc.leaf("InsurerNumber", &insurer_number_field(&s.insurer_number));
        if let Some(v) = &s.insured_card_symbol {
            doc.leaf("InsuredCardSymbol", v);
        }
        doc.leaf("InsuredIdentificationNumber", &s.insured_identification_number);
        doc.opt_leaf("InsuredBranchNumber", s.insured_branch_number.as_deref());
        doc.leaf("Birthdate", &s.birthdate);
        if let Some(v) = s.limit_application_consent {
            doc.leaf("LimitApplicationCertificateRelatedConsFlg", flag(v));
        }
        doc.opt_leaf("ArbitraryIdentifier", s.arbitrary_identifier.as_deref());
        doc.close("QualificationConfirmSearchInfo");
    }
    doc.leaf("ProcessingResultStatus", "1");
    doc.leaf("QualificationValidity", &e.validity.code().to_string());
    doc.open("ResultList");
    doc.open("ResultOfQualificationConfirmation");
    if let Some(v) = &e.insurer_number {
        doc.leaf("InsurerNumber", &insurer_number_field(v));
    }
    if let Some(v) = &e.symbol {
        doc.leaf("InsuredCardSymbol", v);
    }
    if let Some(v) = &e.number {
        doc.leaf("InsuredIdentificationNumber", v);
    }
    doc.opt_leaf("InsuredBranchNumber", e.branch.as_deref());
    if let Some(v) = &e.name {
        doc.leaf("Name", v);
    }
    if let Some(v) = &e.name_kana {
        doc.leaf("NameKana", v);
    }
    doc.opt_leaf("Birthdate", e.birth_date.as_deref());
    if let Some(p) = e.copay_percent {
        doc.leaf("InsuredPartialContributionRatio", &format!("{p:03}"));
    }
    if let Some(code) = e.limit_category.as_deref().and_then(limit_category_code) {
        doc.open("LimitApplicationCertificateRelatedInfo");
        doc.leaf("LimitApplicationCertificateClassificationFlag", code);
        doc.close("LimitApplicationCertificateRelatedInfo");
    }
    consents(doc, &e.consents);
    doc.close("ResultOfQualificationConfirmation");
    doc.close("ResultList");
    doc.close("MessageBody");
}

fn error_body(doc: &mut Doc<'_>) {
    doc.open("MessageBody");
    doc.leaf("ProcessingResultStatus", "2");
    doc.close("MessageBody");
}

/// A `face` file for one reception (照会区分 1, マイナンバーカード). A reception whose eligibility
/// could not be confirmed is written too, with `SegmentOfResult` 9 and the error code in the
/// header: the receipt computer still learns that a card was presented.
pub fn render_reception(r: &Reception, now_unix_ms: u64, cfg: &WriterConfig) -> Rendered {
    let mut doc = Doc::new(cfg);
    doc.open("XmlMsg");
    let id = reception_id(r);
    let error = match (&r.eligibility, r.error_code) {
        (Some(_), _) => None,
        (None, code) => Some(HeaderError {
            code: format!("SHK{:04}", code.unwrap_or(0)),
            message: "資格情報を取得できませんでした".into(),
        }),
    };
    header(
        &mut doc,
        &Header {
            process_execution_time: jst_datetime(now_unix_ms),
            qualification_confirmation_date: jst_date(r.verified_at),
            medical_institution_code: &cfg.medical_institution_code,
            arbitrary_file_identifier: Some(&id),
            reference_classification: 1,
            segment_of_result: if error.is_none() {
                SegmentOfResult::Normal
            } else {
                SegmentOfResult::Abnormal
            },
            error: error.as_ref(),
        },
    );
    match &r.eligibility {
        Some(e) => body(&mut doc, e, None),
        None => error_body(&mut doc),
    }
    doc.close("XmlMsg");
    doc.finish()
}

/// The answer to a `req` file: the eligibility record, or the header error. Written in the
/// character code the request asks for (see [`answer_character_code`]).
pub fn render_answer(
    req: Option<&QualificationRequest>,
    answer: Result<&Eligibility, &HeaderError>,
    now_unix_ms: u64,
    cfg: &WriterConfig,
) -> Rendered {
    let cfg = &WriterConfig { character_code: answer_character_code(req, cfg.character_code), ..cfg.clone() };
    let mut doc = Doc::new(cfg);
    doc.open("XmlMsg");
    let h = req.map(|r| &r.header);
    header(
        &mut doc,
        &Header {
            process_execution_time: jst_datetime(now_unix_ms),
            qualification_confirmation_date: h
                .and_then(|h| h.qualification_confirmation_date.clone())
                .unwrap_or_else(|| jst_date(now_unix_ms)),
            medical_institution_code: h
                .map(|h| h.medical_institution_code.as_str())
                .filter(|c| !c.is_empty())
                .unwrap_or(&cfg.medical_institution_code),
            arbitrary_file_identifier: h.and_then(|h| h.arbitrary_file_identifier.as_deref()),
            reference_classification: 2,
            segment_of_result: if answer.is_ok() {
                SegmentOfResult::Normal
            } else {
                SegmentOfResult::Abnormal
            },
            error: answer.err(),
        },
    );
    match answer {
        Ok(e) => body(&mut doc, e, req),
        Err(_) => error_body(&mut doc),
    }
    doc.close("XmlMsg");
    doc.finish()
}

/// `<reader>-<session>-<seq>`: the reception's exactly-once key, safe in a file name and as
/// `ArbitraryFileIdentifier`. Everything in the reader serial but ASCII letters, digits and `-`
/// becomes `-`; when that changed anything, `x` and a hash of the real serial follow, so two
/// readers never share a name (`SK/1` and `SK 1` are `SK-1x…` with different hashes).
pub fn reception_id(r: &Reception) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || c == '-';
    let mut reader: String = r.reader.chars().map(|c| if safe(c) { c } else { '-' }).collect();
    if !r.reader.chars().all(safe) || r.reader.is_empty() {
        // FNV-1a, 32 bits: stable across builds and platforms.
        let h = r.reader.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193));
        let _ = write!(reader, "x{h:08x}");
    }
    format!("{reader}-{}-{}", r.session, r.seq)
}

/// The character code of an answer: the request's `CharacterCodeIdentifier` when it names one
/// (0 / 1), else the configured one.
pub fn answer_character_code(req: Option<&QualificationRequest>, configured: CharacterCode) -> CharacterCode {
    match req.and_then(|r| r.header.character_code_identifier.as_deref()) {
        Some("0") => CharacterCode::Utf8,
        Some("1") => CharacterCode::ShiftJis,
        _ => configured,
    }
}
