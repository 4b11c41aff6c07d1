//! An independent checker of the receipt-computer files shikaku writes (オンライン資格確認
//! 外部インターフェイス, `OQSsiquc01`): `face` results of card receptions and `res` answers to the
//! receipt computer's `req` files.
//!
//! It does **not** use the writer's code to decide what is right. The layout below is written
//! from these public sources (software that reads or writes the files):
//!
//! * `hangilc/myclinic-ts` @ 9c27569, `packages/onshi-result/codes.ts`, `MessageHeader.ts`,
//!   `ResultOfQualificationConfirmation.ts`, `ElderlyRecipientCertificateInfo.ts`,
//!   `QualificationConfirmSearchInfo.ts`, `packages/frontend/src/lib/onshi-face.test.ts` (a face
//!   sample): code tables, required fields, half-width `NameKana`, space-padded `InsurerNumber`;
//! * `Sotatek-ChinhVu/smart-test` @ eb1af29 (branch `develop_new`),
//!   `Domain/Models/Online/QualificationConfirmation/{MessageHeader,MessageBody,
//!   QualificationConfirmSearchInfo,ResultOfQualificationConfirmation,
//!   LimitApplicationCertificateRelatedInfo,ElderlyRecipientCertificateInfo}.cs`: body order,
//!   `QualificationConfirmSearchInfo` echoed in `res`, `PrescriptionIssueSelect`;
//! * `YUKI-ENT/OQSDrug2` @ 4673bb2, `OQSDrug/QualificationFaceExporter.cs`: a writer in spec
//!   order; 3-digit ratios;
//! * a face-folder bridge whose element list is annotated "別紙3-1 XMLレイアウト仕様 Ver8.07"
//!   (found by a code search of public repositories; its repository could not be named): spec order of the header and of
//!   `ResultOfQualificationConfirmation`, `ErrorCode` only when `SegmentOfResult` ≠ 1,
//!   `QualificationValidity` 6, `PublicExpenseResultList`;
//! * a SignalR file bridge (the same; part of the SmartKarte integration): an unreadable
//!   request comes back into `res` under its own name beside `<same base>.err`;
//! * "ReceptionAgent" (the same; builds on OQSDrug2): the
//!   face file name `OQSsiquc01res_face_<30>_<YYYYMMDDHHMMSS>.xml` whose middle starts with the
//!   10-digit 医療機関コード; strict CP932 decoding, the declaration agreeing with the bytes;
//! * the clinic blog http://sanox.org/sano-shikaku/ (road12, road13): the request layout with a
//!   single-quoted declaration and an empty `InsuredBranchNumber`; the `req`/`res`/`face` folders.
//!
//! # What a file must satisfy
//!
//! * **Name.** `face`: `OQSsiquc01res_face_<30 digits>_<YYYYMMDDHHMMSS>.xml`, the first 10
//!   digits being the file's `MedicalInstitutionCode`. `res`: `OQSsiquc01res_<id>.xml`, answering
//!   `OQSsiquc01req_<id>.xml`; a request that could not be read comes back as
//!   `OQSsiquc01req_<id>.xml` in `res`, unchanged, with `OQSsiquc01req_<id>.err` (a non-empty
//!   reason) beside it.
//! * **Encoding.** An XML declaration naming `UTF-8` or `Shift_JIS`; the bytes decode strictly in
//!   it (Shift_JIS read as Windows-31J/CP932, nothing replaced); `CharacterCodeIdentifier` agrees
//!   (0 UTF-8, 1 Shift_JIS). A UTF-8 byte-order mark is accepted before a UTF-8 declaration only.
//! * **Structure.** Well-formed XML without a DTD, root `XmlMsg`, no attributes or namespaces;
//!   every element known and under its own parent ([`LAYOUT`]), in spec order, none repeated
//!   except the list items (`ResultOfQualificationConfirmation`, `SpecificDiseasesCertificateInfo`,
//!   `MedicalTicketInfo`); text only in leaves, elements only in groups.
//! * **Presence.** Required elements present and not empty. `ErrorCode` and `ErrorMessage` present
//!   exactly when `SegmentOfResult` ≠ 1. `ResultList` present exactly when `ProcessingResultStatus`
//!   is 1 and `QualificationValidity` is 1, 2 or 3 (4 該当資格なし and 5 複数該当 have no record).
//!   `QualificationValidity` required when `ProcessingResultStatus` is 1. A `ProcessingResultCode`
//!   required when `ProcessingResultStatus` is 2 in a file that ended normally (`SegmentOfResult`
//!   1): the error must be named in the body when the header does not name it. `InsurerNumber`
//!   required in a result unless the card classification is A1 医療扶助.
//! * **Values.** Code tables (both 3 and 9 accepted for 異常終了 and 1/2 for 未就学区分, where the
//!   sources disagree); dates `YYYYMMDD` and times `YYYYMMDDHHMMSS` naming real days and times;
//!   `MedicalInstitutionCode` 10 digits; a result's `InsurerNumber` 8 characters, digits
//!   right-aligned with spaces; ratios 3 digits (`030` = 3割); `NameKana` / `NameOfOtherKana` only
//!   JIS X 0201 katakana (U+FF61–U+FF9F) and the ASCII space; `PostNumber` `NNN-NNNN`. The echoed
//!   `QualificationConfirmSearchInfo` is free text: it is whatever the receipt computer sent,
//!   checked against the request by [`check_echo`].
//! * **No substitutes.** No `●` (U+25CF), which stands for a character that was lost, anywhere
//!   (as itself or as a reference), and no element named `…Substituted` / `…Original` (shikaku's
//!   own extension, which no receipt computer knows).
//! * **Echo** ([`check_echo`]): `ArbitraryFileIdentifier`, `QualificationConfirmationDate` and every
//!   layout child of the request's `QualificationConfirmSearchInfo` reappear in the answer with
//!   exactly the same text after XML decoding of both files (an empty element as an empty
//!   element); the answer's `ReferenceClassification` is 2 (a face result's is 1).
//!
//! Real terminals' face files do **not** follow spec order (the myclinic-ts sample and another
//! copied from a real file share a hash-map-like order), so this is a checker for the files
//! shikaku writes, which are held to spec order, not a reader for files from terminals.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// One thing wrong with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub file: PathBuf,
    pub what: String,
}

/// What [`check_tree`] looked at and found.
#[derive(Debug, Clone, Default)]
pub struct LayoutReport {
    /// Files in `face`.
    pub face: usize,
    /// Answers (`OQSsiquc01res_<id>.xml`) in `res`.
    pub res: usize,
    /// `.err` files in `res` (each beside a returned request).
    pub err: usize,
    pub violations: Vec<Violation>,
}

const FACE_PREFIX: &str = "OQSsiquc01res_face_";
const RES_PREFIX: &str = "OQSsiquc01res_";
const REQ_PREFIX: &str = "OQSsiquc01req_";
/// The writer's in-flight temporary files: no receipt computer's pattern matches them.
const TEMP_PREFIX: &str = ".shikaku-tmp-";

// ---------------------------------------------------------------------------------------------
// The layout table
// ---------------------------------------------------------------------------------------------

/// What an element's text must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Has element children, no text.
    Group,
    /// One of the codes of a table.
    Code(&'static [&'static str]),
    /// `YYYYMMDD`
    Date,
    /// `YYYYMMDDHHMMSS`
    DateTime,
    /// 医療機関コード: 10 digits.
    InstitutionCode,
    /// 保険者番号 in a result: 8 characters, digits right-aligned with spaces.
    InsurerNumber,
    /// 一部負担金割合: 3 digits.
    Ratio,
    /// JIS X 0201 katakana and the space.
    HalfKana,
    /// `NNN-NNNN`
    PostNumber,
    Text,
}

/// A condition on other elements of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cond {
    /// `SegmentOfResult` ≠ 1.
    SegmentNotNormal,
    /// `ProcessingResultStatus` 1 and `QualificationValidity` 1, 2 or 3.
    HasRecord,
    /// `ProcessingResultStatus` 1.
    StatusNormal,
    /// `ProcessingResultStatus` 2 with `SegmentOfResult` 1.
    ErrorInBody,
    /// The sibling `InsuredCardClassification` is not A1 (医療扶助).
    HealthInsurance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Required,
    Optional,
    /// Present exactly when the condition holds.
    Iff(Cond),
    /// Required when the condition holds, optional otherwise.
    RequiredIf(Cond),
}

/// One element of the layout: its parent, name, presence and value rule. Its position in spec
/// order is its position among the entries with the same parent.
#[derive(Debug, Clone, Copy)]
struct Elem {
    parent: &'static str,
    name: &'static str,
    need: Need,
    rule: Rule,
    /// A list item (may occur more than once).
    repeat: bool,
}

const fn el(parent: &'static str, name: &'static str, need: Need, rule: Rule) -> Elem {
    Elem { parent, name, need, rule, repeat: false }
}

const fn item(parent: &'static str, name: &'static str) -> Elem {
    Elem { parent, name, need: Need::Optional, rule: Rule::Group, repeat: true }
}

// Short names for the table below.
const R: Need = Need::Required;
const O: Need = Need::Optional;
const fn iff(c: Cond) -> Need {
    Need::Iff(c)
}
const fn required_if(c: Cond) -> Need {
    Need::RequiredIf(c)
}
const DATE: Rule = Rule::Date;
const TIME: Rule = Rule::DateTime;
const GROUP: Rule = Rule::Group;
const TEXT: Rule = Rule::Text;

// Code tables (research §3).
const REFERENCE_CLASSIFICATION: &[&str] = &["1", "2"];
/// 1 正常終了, 2 処理中, 9 異常終了 (myclinic-ts) or 3 (the Ver8.07 list): both accepted.
const SEGMENT_OF_RESULT: &[&str] = &["1", "2", "3", "9"];
const CHARACTER_CODE_IDENTIFIER: &[&str] = &["0", "1"];
const PROCESSING_RESULT_STATUS: &[&str] = &["1", "2"];
/// OQSCD006: 1 有効 … 5 複数該当, 6 有効（未登録） (医療扶助).
const QUALIFICATION_VALIDITY: &[&str] = &["1", "2", "3", "4", "5", "6"];
const INSURED_CARD_CLASSIFICATION: &[&str] = &["01", "02", "03", "04", "05", "06", "07", "A1"];
const PERSONAL_FAMILY: &[&str] = &["1", "2"];
const SEX: &[&str] = &["1", "2", "3"];
/// 1 未就学 (both sources), 2 就学中 (one source only): both accepted.
const PRESCHOOL: &[&str] = &["1", "2"];
const REASON_OF_LOSS: &[&str] = &["01", "02", "03", "99"];
const CONS_FLG: &[&str] = &["0", "1"];
/// 0 同意なし, 1 同意あり, 2 同意有効期限切れ.
const SPECIFIC_DISEASES_CONS_FLG: &[&str] = &["0", "1", "2"];
const LIMIT_CLASSIFICATION: &[&str] = &["01", "02", "03"];
/// OQSCD012.
const LIMIT_CLASSIFICATION_FLAG: &[&str] = &[
    "A01", "A02", "A03", "A04", "A05", "A06", "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09",
    "B10",
];
/// OQSCD013.
const DISEASE_CATEGORY: &[&str] = &["1", "2", "3"];
/// 1 電子処方箋, 2 紙の処方箋.
const PRESCRIPTION_ISSUE_SELECT: &[&str] = &["1", "2"];

const H: &str = "MessageHeader";
const B: &str = "MessageBody";
const S: &str = "QualificationConfirmSearchInfo";
const Q: &str = "ResultOfQualificationConfirmation";
const ELDERLY: &str = "ElderlyRecipientCertificateInfo";
const LIMIT: &str = "LimitApplicationCertificateRelatedInfo";
const DISEASES: &str = "SpecificDiseasesCertificateInfo";
const TICKET: &str = "MedicalTicketInfo";

/// The `res` / `face` layout, each parent's children in spec order.
const LAYOUT: &[Elem] = &[
    el("XmlMsg", H, R, GROUP),
    el("XmlMsg", B, R, GROUP),
    // MessageHeader (Ver8.07 list, smart-test MessageHeader.cs)
    el(H, "ProcessExecutionTime", R, TIME),
    el(H, "QualificationConfirmationDate", R, DATE),
    el(H, "MedicalInstitutionCode", R, Rule::InstitutionCode),
    el(H, "ArbitraryFileIdentifier", O, TEXT),
    el(H, "ReferenceClassification", R, Rule::Code(REFERENCE_CLASSIFICATION)),
    el(H, "SegmentOfResult", R, Rule::Code(SEGMENT_OF_RESULT)),
    el(H, "ErrorCode", iff(Cond::SegmentNotNormal), TEXT),
    el(H, "ErrorMessage", iff(Cond::SegmentNotNormal), TEXT),
    el(H, "CharacterCodeIdentifier", R, Rule::Code(CHARACTER_CODE_IDENTIFIER)),
    // MessageBody (Ver8.07 list for PrescriptionIssueSelect first; smart-test MessageBody.cs)
    el(B, "PrescriptionIssueSelect", O, Rule::Code(PRESCRIPTION_ISSUE_SELECT)),
    el(B, "ProcessingResultStatus", R, Rule::Code(PROCESSING_RESULT_STATUS)),
    el(B, "ProcessingResultCode", required_if(Cond::ErrorInBody), TEXT),
    el(B, "ProcessingResultMessage", O, TEXT),
    el(B, "QualificationValidity", required_if(Cond::StatusNormal), Rule::Code(QUALIFICATION_VALIDITY)),
    el(B, "ResultList", iff(Cond::HasRecord), GROUP),
    el(B, S, O, GROUP),
    item("ResultList", Q),
    // The request's search keys, echoed (free text: compared with the request by check_echo).
    el(S, "InsurerNumber", O, TEXT),
    el(S, "InsuredCardSymbol", O, TEXT),
    el(S, "InsuredIdentificationNumber", O, TEXT),
    el(S, "InsuredBranchNumber", O, TEXT),
    el(S, "Birthdate", O, TEXT),
    el(S, "LimitApplicationCertificateRelatedConsFlg", O, TEXT),
    el(S, "ArbitraryIdentifier", O, TEXT),
    // ResultOfQualificationConfirmation (Ver8.07 list = OQSDrug2 writer order)
    el(Q, "InsuredCardClassification", O, Rule::Code(INSURED_CARD_CLASSIFICATION)),
    el(Q, "InsurerNumber", required_if(Cond::HealthInsurance), Rule::InsurerNumber),
    el(Q, "InsuredCardSymbol", O, TEXT),
    el(Q, "InsuredIdentificationNumber", O, TEXT),
    el(Q, "InsuredBranchNumber", O, TEXT),
    el(Q, "PersonalFamilyClassification", O, Rule::Code(PERSONAL_FAMILY)),
    el(Q, "InsuredName", O, TEXT),
    el(Q, "Name", R, TEXT),
    el(Q, "NameOfOther", O, TEXT),
    el(Q, "NameKana", O, Rule::HalfKana),
    el(Q, "NameOfOtherKana", O, Rule::HalfKana),
    el(Q, "Sex1", R, Rule::Code(SEX)),
    el(Q, "Sex2", O, Rule::Code(SEX)),
    el(Q, "Birthdate", R, DATE),
    el(Q, "Address", O, TEXT),
    el(Q, "PostNumber", O, Rule::PostNumber),
    el(Q, "QualificationDate", O, DATE),
    el(Q, "DisqualificationDate", O, DATE),
    el(Q, "InsuredCertificateIssuanceDate", O, DATE),
    el(Q, "InsuredCardValidDate", O, DATE),
    el(Q, "InsuredCardExpirationDate", O, DATE),
    el(Q, "InsuredPartialContributionRatio", O, Rule::Ratio),
    el(Q, "PreschoolClassification", O, Rule::Code(PRESCHOOL)),
    el(Q, "ReasonOfLoss", O, Rule::Code(REASON_OF_LOSS)),
    el(Q, "InsurerName", R, TEXT),
    el(Q, ELDERLY, O, GROUP),
    el(Q, "LimitApplicationCertificateRelatedConsFlg", O, Rule::Code(CONS_FLG)),
    el(Q, "LimitApplicationCertificateRelatedConsTime", O, TIME),
    el(Q, LIMIT, O, GROUP),
    el(Q, "SpecificDiseasesCertificateRelatedConsFlg", O, Rule::Code(SPECIFIC_DISEASES_CONS_FLG)),
    el(Q, "SpecificDiseasesCertificateRelatedConsTime", O, TIME),
    el(Q, "SpecificDiseasesCertificateList", O, GROUP),
    el(Q, "PublicExpenseResultList", O, GROUP),
    el(Q, "SpecificHealthCheckupsInfoConsFlg", O, Rule::Code(CONS_FLG)),
    el(Q, "SpecificHealthCheckupsInfoConsTime", O, TIME),
    el(Q, "SpecificHealthCheckupsInfoAvailableTime", O, TIME),
    el(Q, "PharmacistsInfoConsFlg", O, Rule::Code(CONS_FLG)),
    el(Q, "PharmacistsInfoConsTime", O, TIME),
    el(Q, "PharmacistsInfoAvailableTime", O, TIME),
    el(Q, "DiagnosisInfoConsFlg", O, Rule::Code(CONS_FLG)),
    el(Q, "DiagnosisInfoConsTime", O, TIME),
    el(Q, "DiagnosisInfoAvailableTime", O, TIME),
    el(Q, "OperationInfoConsFlg", O, Rule::Code(CONS_FLG)),
    el(Q, "OperationInfoConsTime", O, TIME),
    el(Q, "OperationInfoAvailableTime", O, TIME),
    el(Q, "ReferenceNumber", O, TEXT),
    // smart-test declares it in the result too (position not given by an ordered source).
    el(Q, "PrescriptionIssueSelect", O, Rule::Code(PRESCRIPTION_ISSUE_SELECT)),
    // 高齢受給者証
    el(ELDERLY, "ElderlyRecipientCertificateDate", O, DATE),
    el(ELDERLY, "ElderlyRecipientValidStartDate", O, DATE),
    el(ELDERLY, "ElderlyRecipientValidEndDate", O, DATE),
    el(ELDERLY, "ElderlyRecipientContributionRatio", O, Rule::Ratio),
    // 限度額適用認定証
    el(LIMIT, "LimitApplicationCertificateClassification", O, Rule::Code(LIMIT_CLASSIFICATION)),
    el(LIMIT, "LimitApplicationCertificateClassificationFlag", O, Rule::Code(LIMIT_CLASSIFICATION_FLAG)),
    el(LIMIT, "LimitApplicationCertificateDate", O, DATE),
    el(LIMIT, "LimitApplicationCertificateValidStartDate", O, DATE),
    el(LIMIT, "LimitApplicationCertificateValidEndDate", O, DATE),
    el(LIMIT, "LimitApplicationCertificateLongTermDate", O, DATE),
    // 特定疾病療養受療証 (not written by shikaku; allowed)
    item("SpecificDiseasesCertificateList", DISEASES),
    el(DISEASES, "SpecificDiseasesDiseaseCategory", O, Rule::Code(DISEASE_CATEGORY)),
    el(DISEASES, "SpecificDiseasesCertificateDate", O, DATE),
    el(DISEASES, "SpecificDiseasesValidStartDate", O, DATE),
    el(DISEASES, "SpecificDiseasesValidEndDate", O, DATE),
    el(DISEASES, "SpecificDiseasesSelfPay", O, TEXT),
    // 医療扶助 (not written by shikaku; allowed)
    item("PublicExpenseResultList", TICKET),
    el(TICKET, "TicketType", O, TEXT),
    el(TICKET, "MedicalTicketValidDate", O, DATE),
    el(TICKET, "MedicalTicketExpirationDate", O, DATE),
    el(TICKET, "IssueNumber", O, TEXT),
    el(TICKET, "MedicalTreatmentMonth", O, TEXT),
    el(TICKET, "DesignatedMedicalInstitutionCode", O, TEXT),
    el(TICKET, "DesignatedMedicalInstitutionFlag", O, TEXT),
    el(TICKET, "DesignatedMedicalInstitutionName", O, TEXT),
    el(TICKET, "PrescriptionIssuerMedicalInstitutionCode", O, TEXT),
    el(TICKET, "PrescriptionIssuerMedicalInstitutionName", O, TEXT),
    el(TICKET, "InjuryName1", O, TEXT),
    el(TICKET, "InjuryName2", O, TEXT),
    el(TICKET, "InjuryName3", O, TEXT),
    el(TICKET, "MedicalTreatmentType", O, TEXT),
    el(TICKET, "SelfPayAmount", O, TEXT),
    el(TICKET, "DistrictContactName", O, TEXT),
    el(TICKET, "HandlingContactName", O, TEXT),
    el(TICKET, "SingleOrCombinedUse", O, TEXT),
    el(TICKET, "StatusOfSocialInsurance", O, TEXT),
    el(TICKET, "ConsistencyFlag", O, TEXT),
    // sic: misspelt in both sources that list it
    el(TICKET, "StatusOfInfecton", O, TEXT),
    el(TICKET, "StatusOfElderlyMedicalCare", O, TEXT),
    el(TICKET, "StatusOfPrefecturalExpenses", O, TEXT),
    el(TICKET, "Remarks1", O, TEXT),
    el(TICKET, "Remarks2", O, TEXT),
    el(TICKET, "Remarks3", O, TEXT),
];

/// The children of `parent`, in spec order.
fn children_of(parent: &str) -> impl Iterator<Item = &'static Elem> + '_ {
    LAYOUT.iter().filter(move |e| e.parent == parent)
}

/// `name` under `parent`: its position in spec order and its entry.
fn lookup(parent: &str, name: &str) -> Option<(usize, &'static Elem)> {
    children_of(parent).enumerate().find(|(_, e)| e.name == name)
}

// ---------------------------------------------------------------------------------------------
// Value rules
// ---------------------------------------------------------------------------------------------

fn all_digits(v: &str, n: usize) -> bool {
    v.len() == n && v.bytes().all(|b| b.is_ascii_digit())
}

/// `YYYYMMDD` naming a day of the (Gregorian) calendar, 1868 (明治) or later.
fn is_date(v: &str) -> bool {
    if !all_digits(v, 8) {
        return false;
    }
    let n = |r: std::ops::Range<usize>| v.get(r).and_then(|s| s.parse::<u32>().ok()).unwrap_or(0);
    let (y, m, d) = (n(0..4), n(4..6), n(6..8));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    y >= 1868 && (1..=days).contains(&d)
}

/// `YYYYMMDDHHMMSS`
fn is_datetime(v: &str) -> bool {
    if !all_digits(v, 14) {
        return false;
    }
    let n = |r: std::ops::Range<usize>| v.get(r).and_then(|s| s.parse::<u32>().ok()).unwrap_or(99);
    v.get(..8).is_some_and(is_date) && n(8..10) < 24 && n(10..12) < 60 && n(12..14) < 60
}

fn is_half_kana(c: char) -> bool {
    c == ' ' || ('\u{FF61}'..='\u{FF9F}').contains(&c)
}

/// Why `v` breaks `rule`, if it does.
fn value_problem(rule: Rule, v: &str) -> Option<String> {
    let ok = match rule {
        Rule::Group | Rule::Text => true,
        Rule::Code(codes) => codes.contains(&v),
        Rule::Date => is_date(v),
        Rule::DateTime => is_datetime(v),
        Rule::InstitutionCode => all_digits(v, 10),
        Rule::InsurerNumber => {
            let digits = v.trim_start_matches(' ');
            v.chars().count() == 8 && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        }
        Rule::Ratio => all_digits(v, 3) && v.parse::<u32>().is_ok_and(|p| p <= 100),
        Rule::HalfKana => v.chars().all(is_half_kana),
        Rule::PostNumber => {
            let b = v.as_bytes();
            b.len() == 8 && b[3] == b'-' && b[..3].iter().chain(&b[4..]).all(|c| c.is_ascii_digit())
        }
    };
    if ok {
        return None;
    }
    Some(match rule {
        Rule::Code(codes) => format!("{v:?} is not in its code table {codes:?}"),
        Rule::Date => format!("{v:?} is not a date YYYYMMDD"),
        Rule::DateTime => format!("{v:?} is not a time YYYYMMDDHHMMSS"),
        Rule::InstitutionCode => format!("{v:?} is not a 10-digit 医療機関コード"),
        Rule::InsurerNumber => format!("{v:?} is not 8 characters of digits right-aligned with spaces"),
        Rule::Ratio => format!("{v:?} is not a 3-digit ratio (030 = 3割)"),
        Rule::HalfKana => {
            let bad: String = v.chars().filter(|c| !is_half_kana(*c)).collect();
            format!("{v:?} is not half-width katakana (JIS X 0201): {bad:?}")
        }
        Rule::PostNumber => format!("{v:?} is not a post number NNN-NNNN"),
        Rule::Group | Rule::Text => String::new(),
    })
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    Utf8,
    ShiftJis,
}

/// The `encoding` pseudo-attribute of the XML declaration at the start of `bytes`:
/// `Ok(None)` without a declaration, `Err` for a declaration that does not end.
fn declared_encoding(bytes: &[u8]) -> Result<Option<String>, String> {
    if !bytes.starts_with(b"<?xml") {
        return Ok(None);
    }
    let end = bytes.windows(2).position(|w| w == b"?>").ok_or("the XML declaration does not end")?;
    let decl =
        std::str::from_utf8(&bytes[..end]).map_err(|_| "the XML declaration is not ASCII".to_owned())?;
    let Some(at) = decl.find("encoding") else { return Ok(None) };
    let after = decl[at + "encoding".len()..].trim_start();
    let Some(after) = after.strip_prefix('=') else {
        return Err("the declaration's encoding has no value".into());
    };
    let after = after.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'');
    let Some(quote) = quote else { return Err("the declaration's encoding is not quoted".into()) };
    let value = &after[1..];
    match value.find(quote) {
        Some(e) => Ok(Some(value[..e].to_owned())),
        None => Err("the declaration's encoding is not closed".into()),
    }
}

/// A file decoded as its declaration says.
struct Decoded {
    text: String,
    charset: Charset,
    /// The file had an XML declaration naming its encoding.
    declared: bool,
}

/// Decodes strictly: a UTF-8 BOM, then the declaration (`UTF-8` or `Shift_JIS`, read as CP932),
/// else UTF-8. Nothing is ever replaced.
fn decode(bytes: &[u8]) -> Result<Decoded, String> {
    if bytes.starts_with(&[0xFE, 0xFF]) || bytes.starts_with(&[0xFF, 0xFE]) {
        return Err("a UTF-16 byte-order mark: the layout has UTF-8 and Shift_JIS only".into());
    }
    let (bom, rest) = match bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        Some(rest) => (true, rest),
        None => (false, bytes),
    };
    let label = declared_encoding(rest)?;
    let charset = match label.as_deref() {
        None => Charset::Utf8,
        Some(l) if l.eq_ignore_ascii_case("UTF-8") => Charset::Utf8,
        Some(l) if l.eq_ignore_ascii_case("Shift_JIS") => Charset::ShiftJis,
        Some(l) => return Err(format!("declared encoding {l:?} is neither UTF-8 nor Shift_JIS")),
    };
    if bom && charset != Charset::Utf8 {
        return Err("a UTF-8 byte-order mark before a Shift_JIS declaration".into());
    }
    let text = match charset {
        Charset::Utf8 => std::str::from_utf8(rest)
            .map(str::to_owned)
            .map_err(|e| format!("declared UTF-8 but the bytes are not UTF-8 ({e})"))?,
        Charset::ShiftJis => encoding_rs::SHIFT_JIS
            .decode_without_bom_handling_and_without_replacement(rest)
            .map(|t| t.into_owned())
            .ok_or("declared Shift_JIS but the bytes are not Shift_JIS (CP932)")?,
    };
    Ok(Decoded { text, charset, declared: label.is_some() })
}

fn parse(text: &str) -> Result<roxmltree::Document<'_>, String> {
    let opts = roxmltree::ParsingOptions { allow_dtd: false, ..roxmltree::ParsingOptions::default() };
    roxmltree::Document::parse_with_options(text, opts).map_err(|e| format!("not well-formed XML: {e}"))
}

/// The text of an element: its text children, references resolved.
fn text_of(n: roxmltree::Node<'_, '_>) -> String {
    n.children().filter(|c| c.is_text()).filter_map(|c| c.text()).collect()
}

/// The first child element named `name`.
fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children().find(|c| c.is_element() && c.tag_name().name() == name)
}

fn path_text(root: roxmltree::Node<'_, '_>, path: &[&str]) -> Option<String> {
    let mut n = root;
    for p in path {
        n = child(n, p)?;
    }
    Some(text_of(n))
}

// ---------------------------------------------------------------------------------------------
// Structure
// ---------------------------------------------------------------------------------------------

/// Values the conditional rules depend on.
struct Facts {
    segment: Option<String>,
    status: Option<String>,
    validity: Option<String>,
}

impl Facts {
    fn of(root: roxmltree::Node<'_, '_>) -> Self {
        Facts {
            segment: path_text(root, &[H, "SegmentOfResult"]),
            status: path_text(root, &[B, "ProcessingResultStatus"]),
            validity: path_text(root, &[B, "QualificationValidity"]),
        }
    }

    fn holds(&self, c: Cond, parent: roxmltree::Node<'_, '_>) -> bool {
        match c {
            Cond::SegmentNotNormal => self.segment.as_deref() != Some("1"),
            Cond::HasRecord => {
                self.status.as_deref() == Some("1")
                    && matches!(self.validity.as_deref(), Some("1" | "2" | "3"))
            }
            Cond::StatusNormal => self.status.as_deref() == Some("1"),
            Cond::ErrorInBody => self.status.as_deref() == Some("2") && self.segment.as_deref() == Some("1"),
            Cond::HealthInsurance => {
                child(parent, "InsuredCardClassification").map(text_of).as_deref() != Some("A1")
            }
        }
    }
}

fn cond_text(c: Cond) -> &'static str {
    match c {
        Cond::SegmentNotNormal => "SegmentOfResult is not 1",
        Cond::HasRecord => "ProcessingResultStatus is 1 and QualificationValidity is 1, 2 or 3",
        Cond::StatusNormal => "ProcessingResultStatus is 1",
        Cond::ErrorInBody => "ProcessingResultStatus is 2 in a file with SegmentOfResult 1",
        Cond::HealthInsurance => "InsuredCardClassification is not A1 (医療扶助)",
    }
}

fn is_extension(name: &str) -> bool {
    name.ends_with("Substituted") || name.ends_with("Original")
}

/// Checks the children of `node` (an element named `parent` at `path`) against the layout.
fn check_children(
    node: roxmltree::Node<'_, '_>,
    parent: &str,
    path: &str,
    facts: &Facts,
    out: &mut Vec<String>,
) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    // The furthest position in spec order reached so far, and the element there.
    let mut furthest: Option<(usize, String)> = None;
    for c in node.children() {
        if c.is_text() {
            let t = c.text().unwrap_or_default();
            if !t.trim().is_empty() {
                out.push(format!("{path}: text {t:?} in a group element"));
            }
            continue;
        }
        if !c.is_element() {
            continue;
        }
        let name = c.tag_name().name();
        let here = format!("{path}/{name}");
        if c.tag_name().namespace().is_some() {
            out.push(format!("{here}: in a namespace (the layout has none)"));
        }
        if c.attributes().next().is_some() {
            out.push(format!("{here}: has attributes (the layout has none)"));
        }
        if is_extension(name) {
            out.push(format!("{here}: a `…Substituted`/`…Original` extension element, not in the layout"));
            continue;
        }
        let Some((pos, spec)) = lookup(parent, name) else {
            match LAYOUT.iter().find(|e| e.name == name) {
                Some(e) => {
                    out.push(format!("{here}: not a child of {parent} (it belongs under {})", e.parent))
                }
                None => out.push(format!("{here}: unknown element")),
            }
            continue;
        };
        let count = seen.entry(spec.name).or_insert(0);
        *count += 1;
        if *count == 2 && !spec.repeat {
            out.push(format!("{here}: repeated"));
        }
        match &furthest {
            Some((at, prev)) if pos < *at => {
                out.push(format!("{here}: out of spec order (after {prev})"));
            }
            Some((at, _)) if pos == *at => {}
            _ => furthest = Some((pos, name.to_owned())),
        }
        if spec.rule == Rule::Group {
            check_children(c, name, &here, facts, out);
        } else {
            if c.children().any(|g| g.is_element()) {
                out.push(format!("{here}: has child elements but is a leaf"));
            }
            let v = text_of(c);
            if v.is_empty() && spec.need != Need::Optional {
                out.push(format!("{here}: empty"));
            } else if !v.is_empty() {
                if let Some(p) = value_problem(spec.rule, &v) {
                    out.push(format!("{here}: {p}"));
                }
            }
        }
    }
    for spec in children_of(parent) {
        let present = seen.contains_key(spec.name);
        match spec.need {
            Need::Required if !present => out.push(format!("{path}/{}: required, missing", spec.name)),
            Need::Iff(c) if present != facts.holds(c, node) => out.push(if present {
                format!("{path}/{}: present, but allowed only when {}", spec.name, cond_text(c))
            } else {
                format!("{path}/{}: missing, required when {}", spec.name, cond_text(c))
            }),
            Need::RequiredIf(c) if !present && facts.holds(c, node) => {
                out.push(format!("{path}/{}: missing, required when {}", spec.name, cond_text(c)))
            }
            _ => {}
        }
    }
    if parent == "ResultList" && seen.is_empty() {
        out.push(format!("{path}: no {Q}"));
    }
}

/// Which kind of file a name is.
enum Kind {
    /// `face`: the 30 digits and the time stamp.
    Face { digits: String },
    /// A `res` answer.
    Answer,
}

fn kind_of(name: &str) -> Result<Kind, String> {
    if let Some(rest) = name.strip_prefix(FACE_PREFIX) {
        let Some(stem) = rest.strip_suffix(".xml") else {
            return Err(format!("{name}: a face file must end in .xml"));
        };
        let (digits, stamp) = stem.rsplit_once('_').unwrap_or(("", stem));
        if !all_digits(digits, 30) {
            return Err(format!("{name}: the middle of a face file name must be 30 digits, is {digits:?}"));
        }
        if !is_datetime(stamp) {
            return Err(format!(
                "{name}: the face file name must end in a time stamp YYYYMMDDHHMMSS, has {stamp:?}"
            ));
        }
        return Ok(Kind::Face { digits: digits.to_owned() });
    }
    if let Some(rest) = name.strip_prefix(RES_PREFIX) {
        return match rest.strip_suffix(".xml") {
            Some(id) if !id.is_empty() => Ok(Kind::Answer),
            _ => Err(format!("{name}: an answer must be named {RES_PREFIX}<id>.xml")),
        };
    }
    Err(format!("{name}: not a result file ({FACE_PREFIX}…_<time>.xml or {RES_PREFIX}<id>.xml)"))
}

/// Checks one result file (`face` or `res` answer) by its file name and bytes.
///
/// A returned request (`OQSsiquc01req_<id>.xml`) is the receipt computer's own file and is not
/// checked here; a `.err` must hold a non-empty reason in UTF-8 or Shift_JIS. Anything else is
/// a violation.
pub fn check_file(name: &str, bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    if name.starts_with(REQ_PREFIX) && name.ends_with(".xml") {
        return out;
    }
    if name.ends_with(".err") {
        let text = std::str::from_utf8(bytes).map(str::to_owned).ok().or_else(|| {
            encoding_rs::SHIFT_JIS
                .decode_without_bom_handling_and_without_replacement(bytes)
                .map(|t| t.into_owned())
        });
        match text {
            None => out.push(format!("{name}: the reason is neither UTF-8 nor Shift_JIS")),
            Some(t) if t.trim().is_empty() => out.push(format!("{name}: empty reason")),
            Some(_) => {}
        }
        if !name.starts_with(REQ_PREFIX) {
            out.push(format!("{name}: a .err belongs beside a returned request {REQ_PREFIX}<id>.err"));
        }
        return out;
    }
    let kind = match kind_of(name) {
        Ok(k) => Some(k),
        Err(e) => {
            out.push(e);
            None
        }
    };
    let decoded = match decode(bytes) {
        Ok(d) => d,
        Err(e) => {
            out.push(e);
            return out;
        }
    };
    if !decoded.declared {
        out.push("no XML declaration naming the encoding".into());
    }
    if let Some(i) = decoded.text.find('\u{25CF}') {
        let line = decoded.text[..i].matches('\n').count() + 1;
        out.push(format!("line {line}: ● (U+25CF), a substitute for a lost character"));
    }
    let doc = match parse(&decoded.text) {
        Ok(d) => d,
        Err(e) => {
            out.push(e);
            return out;
        }
    };
    let root = doc.root_element();
    if root.tag_name().name() != "XmlMsg" {
        out.push(format!("root element is {:?}, not XmlMsg", root.tag_name().name()));
        return out;
    }
    for n in root.descendants().filter(|n| n.is_text()) {
        let t = n.text().unwrap_or_default();
        if t.contains('\u{25CF}') && !decoded.text.contains('\u{25CF}') {
            let parent = n.parent().map(|p| p.tag_name().name()).unwrap_or_default();
            out.push(format!("{parent}: ● (U+25CF) as a character reference"));
        }
    }
    let facts = Facts::of(root);
    check_children(root, "XmlMsg", "XmlMsg", &facts, &mut out);

    let header = |e: &str| path_text(root, &[H, e]);
    let cci = header("CharacterCodeIdentifier");
    let expected = match decoded.charset {
        Charset::Utf8 => "0",
        Charset::ShiftJis => "1",
    };
    if let Some(cci) = cci.as_deref().filter(|c| *c != expected) {
        out.push(format!(
            "CharacterCodeIdentifier {cci} but the declaration says {} (expected {expected})",
            match decoded.charset {
                Charset::Utf8 => "UTF-8",
                Charset::ShiftJis => "Shift_JIS",
            }
        ));
    }
    let rc = header("ReferenceClassification");
    match kind {
        Some(Kind::Face { digits }) => {
            if rc.as_deref() != Some("1") {
                out.push(format!("a face result must have ReferenceClassification 1, has {rc:?}"));
            }
            if let Some(code) = header("MedicalInstitutionCode") {
                if !digits.starts_with(&code) {
                    out.push(format!(
                        "{name}: the name's 30 digits do not start with MedicalInstitutionCode {code}"
                    ));
                }
            }
        }
        Some(Kind::Answer) if rc.as_deref() != Some("2") => {
            out.push(format!("a res answer must have ReferenceClassification 2, has {rc:?}"));
        }
        Some(Kind::Answer) | None => {}
    }
    out
}

/// Checks that a `res` answer echoes its request: `ArbitraryFileIdentifier`,
/// `QualificationConfirmationDate` and every layout child of the request's
/// `QualificationConfirmSearchInfo`, with exactly the same text after XML decoding; and
/// `ReferenceClassification` 2.
pub fn check_echo(request: &[u8], answer: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let req_text = match decode(request) {
        Ok(d) => d.text,
        Err(e) => return vec![format!("the request is unreadable ({e}): it must be returned, not answered")],
    };
    let ans_text = match decode(answer) {
        Ok(d) => d.text,
        Err(e) => return vec![format!("the answer is unreadable: {e}")],
    };
    let req = match parse(&req_text) {
        Ok(d) => d,
        Err(e) => return vec![format!("the request is {e}: it must be returned, not answered")],
    };
    let ans = match parse(&ans_text) {
        Ok(d) => d,
        Err(e) => return vec![format!("the answer is {e}")],
    };
    let (rq, an) = (req.root_element(), ans.root_element());
    for e in ["ArbitraryFileIdentifier", "QualificationConfirmationDate"] {
        if let Some(want) = path_text(rq, &[H, e]) {
            match path_text(an, &[H, e]) {
                Some(got) if got == want => {}
                Some(got) => out.push(format!("{H}/{e}: {got:?} in the answer, {want:?} in the request")),
                None => out.push(format!("{H}/{e}: {want:?} in the request, missing in the answer")),
            }
        }
    }
    let echoed = child(an, B).and_then(|b| child(b, S));
    if let Some(search) = child(rq, B).and_then(|b| child(b, S)) {
        for c in search.children().filter(|c| c.is_element()) {
            let name = c.tag_name().name();
            if lookup(S, name).is_none() {
                continue; // outside the layout: cannot be echoed into a conforming file
            }
            let want = text_of(c);
            match echoed.and_then(|s| child(s, name)).map(text_of) {
                Some(got) if got == want => {}
                Some(got) => out.push(format!("{S}/{name}: {got:?} in the answer, {want:?} in the request")),
                None => out.push(format!("{S}/{name}: {want:?} in the request, not echoed in the answer")),
            }
        }
    }
    let rc = path_text(an, &[H, "ReferenceClassification"]);
    if rc.as_deref() != Some("2") {
        out.push(format!("a res answer must have ReferenceClassification 2, has {rc:?}"));
    }
    out
}

fn files_in(dir: &Path, violations: &mut Vec<Violation>) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    match fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries.flatten() {
                let path = entry.path();
                if !path.is_file() {
                    continue;
                }
                match entry.file_name().to_str() {
                    Some(n) if n.starts_with(TEMP_PREFIX) => {}
                    Some(n) => files.push((n.to_owned(), path)),
                    None => violations.push(Violation { file: path, what: "file name is not UTF-8".into() }),
                }
            }
        }
        // A folder nothing was written to yet.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => violations.push(Violation { file: dir.to_owned(), what: format!("cannot list: {e}") }),
    }
    files.sort();
    files
}

fn read(path: &Path, violations: &mut Vec<Violation>) -> Option<Vec<u8>> {
    match fs::read(path) {
        Ok(b) => Some(b),
        Err(e) => {
            violations.push(Violation { file: path.to_owned(), what: format!("cannot read: {e}") });
            None
        }
    }
}

/// Checks every file in `<oqs>/face` and `<oqs>/res`; `requests` = (request file name, its bytes)
/// of the requests the receipt computer wrote, to check the echo of each answer.
///
/// Besides [`check_file`] for each file and [`check_echo`] for each answer: every answer has its
/// request; a request returned into `res` has its `.err` beside it and is byte for byte the
/// request that was written; every `.err` has its returned request; every request given ended
/// either answered, returned, or still waiting in `<oqs>/req` — never lost, never both.
pub fn check_tree(oqs: &Path, requests: &[(String, Vec<u8>)]) -> LayoutReport {
    let mut report = LayoutReport::default();
    let mut v = Vec::new();
    let by_name: HashMap<&str, &[u8]> = requests
        .iter()
        .map(|(n, b)| {
            let n = n.rsplit(['/', '\\']).next().unwrap_or(n);
            (n, b.as_slice())
        })
        .collect();

    for (name, path) in files_in(&oqs.join("face"), &mut v) {
        report.face += 1;
        if !name.starts_with(FACE_PREFIX) {
            v.push(Violation { file: path, what: format!("{name}: not a face result in face") });
            continue;
        }
        let Some(bytes) = read(&path, &mut v) else { continue };
        v.extend(check_file(&name, &bytes).into_iter().map(|what| Violation { file: path.clone(), what }));
    }

    let res_dir = oqs.join("res");
    let res_files = files_in(&res_dir, &mut v);
    let names: Vec<&str> = res_files.iter().map(|(n, _)| n.as_str()).collect();
    let mut answered: Vec<String> = Vec::new();
    let mut returned: Vec<String> = Vec::new();
    for (name, path) in &res_files {
        let Some(bytes) = read(path, &mut v) else { continue };
        let mut push = |what: String| v.push(Violation { file: path.clone(), what });
        if let Some(base) = name.strip_suffix(".err") {
            report.err += 1;
            if !names.contains(&format!("{base}.xml").as_str()) {
                push(format!("{name}: no returned request {base}.xml beside it"));
            }
            check_file(name, &bytes).into_iter().for_each(&mut push);
        } else if let Some(base) = name.strip_prefix(REQ_PREFIX).and_then(|_| name.strip_suffix(".xml")) {
            returned.push(name.clone());
            if !names.contains(&format!("{base}.err").as_str()) {
                push(format!("{name}: a returned request without {base}.err beside it"));
            }
            match by_name.get(name.as_str()) {
                Some(orig) if *orig != bytes.as_slice() => {
                    push(format!("{name}: not the request as it was written"))
                }
                Some(_) => {}
                None => push(format!("{name}: returned, but no such request was written")),
            }
        } else if name.starts_with(FACE_PREFIX) {
            push(format!("{name}: a face result in res"));
        } else {
            report.res += 1;
            check_file(name, &bytes).into_iter().for_each(&mut push);
            let id = name.strip_prefix(RES_PREFIX).and_then(|r| r.strip_suffix(".xml"));
            let req_name = id.map(|id| format!("{REQ_PREFIX}{id}.xml"));
            match req_name.as_deref().and_then(|r| by_name.get(r).map(|b| (r, b))) {
                Some((r, req)) => {
                    answered.push(r.to_owned());
                    check_echo(req, &bytes).into_iter().for_each(|w| push(format!("echo of {r}: {w}")));
                }
                None => push(format!(
                    "{name}: an answer without a matching request {}",
                    req_name.unwrap_or_default()
                )),
            }
        }
    }
    for (name, _) in requests {
        let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let a = answered.iter().any(|n| n == name);
        let r = returned.iter().any(|n| n == name);
        let waiting = oqs.join("req").join(name).is_file();
        let file = oqs.join("req").join(name);
        if a && r {
            v.push(Violation { file, what: format!("{name}: both answered and returned") });
        } else if !a && !r && !waiting {
            v.push(Violation {
                file,
                what: format!("{name}: neither answered, returned nor waiting in req"),
            });
        }
    }
    report.violations = v;
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parent_in_the_layout_is_a_group_element_of_the_layout() {
        for e in LAYOUT {
            if e.parent != "XmlMsg" {
                assert!(
                    LAYOUT.iter().any(|p| p.name == e.parent && p.rule == Rule::Group),
                    "{} has no group parent {}",
                    e.name,
                    e.parent
                );
            }
            assert_eq!(children_of(e.parent).filter(|x| x.name == e.name).count(), 1, "{} twice", e.name);
        }
    }

    #[test]
    fn value_rules_accept_the_layouts_forms_and_refuse_near_misses() {
        assert!(is_date("20240229") && !is_date("20230229") && !is_date("202410（カット）"));
        assert!(is_datetime("20250401093012") && !is_datetime("20250401243012"));
        assert_eq!(value_problem(Rule::InsurerNumber, "  138057"), None);
        assert!(value_problem(Rule::InsurerNumber, "138057").is_some());
        assert!(value_problem(Rule::InsurerNumber, "1380 57 ").is_some());
        assert_eq!(value_problem(Rule::HalfKana, "ﾀｶｻｷ ﾖｼｺ"), None);
        assert!(value_problem(Rule::HalfKana, "タカサキ").is_some());
        assert!(value_problem(Rule::HalfKana, "ﾀｶｻｷ\u{3000}ﾖｼｺ").is_some());
        assert_eq!(value_problem(Rule::PostNumber, "100-8916"), None);
        assert!(value_problem(Rule::PostNumber, "1008916").is_some());
        assert_eq!(value_problem(Rule::Ratio, "030"), None);
        assert!(value_problem(Rule::Ratio, "30").is_some());
    }

    #[test]
    fn declarations_with_either_quote_are_read_and_a_bom_needs_utf8() {
        assert_eq!(
            declared_encoding(b"<?xml version='1.0' encoding='UTF-8' standalone='no'?><a/>"),
            Ok(Some("UTF-8".into()))
        );
        assert!(decode(b"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><a/>").is_err());
        assert!(decode(b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><a>\xFD</a>").is_err());
        assert!(decode(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>\x92\x6A</a>").is_err());
    }
}
