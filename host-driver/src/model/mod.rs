//! The data a reception produces on the host, shared by eligibility forwarding, the receipt
//! computer files, the JSON API and the durable log. Text stays UTF-8 here; only the
//! receipt-computer writer converts (and flags) for Shift_JIS.

use serde::{Deserialize, Serialize};

/// How the holder was confirmed, as the host records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Face,
    Pin,
    Visual,
    OnDevice,
}

pub mod codes;

pub use codes::{
    CodeError, ConsentFlag, InsuredCardClassification, LimitCategory, LimitCertificateClassification,
    PersonalFamilyClassification, PreschoolClassification, ProcessingResultStatus, QualificationValidity,
    ReasonOfLoss, ReferenceClassification, SegmentOfResult, Sex,
};

/// One consent item as the eligibility system keeps it: given or not, when, and until when the
/// information may be viewed under it. Times are `YYYYMMDDHHMMSS` (JST).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub flag: ConsentFlag,
    /// `…ConsTime`: when the answer was given.
    pub time: String,
    /// `…AvailableTime`: until when the information may be viewed (absent when not given).
    #[serde(default)]
    pub available_until: Option<String>,
}

/// The four consent kinds (特定健診情報, 薬剤情報, 診療情報, 手術情報); `None`: never asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consents {
    pub health_checkup: Option<Consent>,
    pub medication: Option<Consent>,
    pub treatment: Option<Consent>,
    pub surgery: Option<Consent>,
}

impl Consents {
    pub fn none() -> Self {
        Self::default()
    }
}

/// 高齢受給者証 (`ElderlyRecipientCertificateInfo`): dates `YYYYMMDD`, ratio in percent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElderlyRecipient {
    pub issuance_date: Option<String>,
    pub valid_start_date: String,
    pub valid_end_date: Option<String>,
    /// 一部負担金割合 in percent (20 = 2割).
    pub copay_percent: u8,
}

/// 限度額適用認定証 (`LimitApplicationCertificateRelatedInfo`): dates `YYYYMMDD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitCertificate {
    pub classification: LimitCertificateClassification,
    pub category: LimitCategory,
    pub issuance_date: Option<String>,
    pub valid_start_date: String,
    pub valid_end_date: Option<String>,
    /// 長期入院該当年月日 (low-income: more than 90 days in hospital).
    #[serde(default)]
    pub long_term_date: Option<String>,
}

/// The consent to hand 限度額 information over (`LimitApplicationCertificateRelatedConsFlg` /
/// `…ConsTime`), given at the counter or the reader for one visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitConsent {
    pub flag: ConsentFlag,
    pub time: String,
}

/// One qualification (資格) as the eligibility system answers it: every field of
/// `ResultOfQualificationConfirmation`. Text stays UTF-8 (names may hold 𠮷, 髙, 﨑 …); dates
/// are `YYYYMMDD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Qualification {
    pub card_classification: InsuredCardClassification,
    /// 保険者番号: 8 digits, or 6 for 国保.
    pub insurer_number: String,
    /// 記号 (may hold kanji and symbols; 国保 and 後期高齢 often have none).
    pub symbol: Option<String>,
    /// 番号
    pub number: String,
    /// 枝番 (2 digits; family members under one 記号/番号 differ only here).
    pub branch: Option<String>,
    pub family: Option<PersonalFamilyClassification>,
    /// 被保険者氏名: the insured person (the head) when this person is a family member.
    pub insured_name: Option<String>,
    /// 氏名
    pub name: String,
    /// その他の氏名 (通称名, 旧姓).
    pub name_of_other: Option<String>,
    /// 氏名カナ (half-width katakana in the file).
    pub name_kana: Option<String>,
    pub name_of_other_kana: Option<String>,
    /// 性別1 (as registered) and 性別2 (as the card shows it, when they differ).
    pub sex1: Sex,
    pub sex2: Option<Sex>,
    pub birth_date: String,
    pub address: Option<String>,
    /// 郵便番号 `NNN-NNNN`.
    pub post_number: Option<String>,
    /// 資格取得年月日 / 資格喪失年月日.
    pub qualification_date: Option<String>,
    pub disqualification_date: Option<String>,
    /// 被保険者証交付年月日, 有効開始年月日, 有効終了年月日.
    pub certificate_issuance_date: Option<String>,
    pub card_valid_date: Option<String>,
    pub card_expiration_date: Option<String>,
    /// 一部負担金割合 in percent (30 → `030`).
    pub copay_percent: Option<u8>,
    pub preschool: Option<PreschoolClassification>,
    pub reason_of_loss: Option<ReasonOfLoss>,
    /// 保険者名称
    pub insurer_name: String,
    pub elderly: Option<ElderlyRecipient>,
    pub limit_consent: Option<LimitConsent>,
    pub limit: Option<LimitCertificate>,
}

/// The answer of the eligibility system (DESIGN §5): the validity, the qualification it is
/// about (1, 2, 3: the one in force, lost, superseded; none for 4 and 5), the holder's consents,
/// and the 照会番号 the clinic registered for the patient, if it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eligibility {
    pub validity: QualificationValidity,
    pub qualification: Option<Box<Qualification>>,
    #[serde(default)]
    pub consents: Consents,
    /// 照会番号 (`ReferenceNumber`): the number the clinic gave the patient when it registered
    /// them with the eligibility system; absent for patients it did not register.
    #[serde(default)]
    pub reference_number: Option<String>,
}

impl Eligibility {
    /// An answer with no qualification (4 該当資格なし, 5 複数該当).
    pub fn without_record(validity: QualificationValidity) -> Self {
        Self { validity, qualification: None, consents: Consents::none(), reference_number: None }
    }
}

/// One reception as the host records it: always written, even when eligibility could not be
/// confirmed (the evidence a 不詳レセプト claim needs that a マイナ保険証 was presented).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reception {
    /// Reader serial and the reader's session id / sequence: the exactly-once key.
    pub reader: String,
    pub session: u32,
    pub seq: u32,
    pub method: Method,
    /// SHA-256 of the auth certificate, hex (the certificate itself holds no personal data,
    /// but the log keeps only its hash).
    pub cert_sha256: String,
    pub staff_account: Option<String>,
    pub registration: bool,
    /// Unix milliseconds, reader clock.
    pub verified_at: u64,
    /// `None` until the eligibility system answered.
    pub eligibility: Option<Eligibility>,
    /// Stable error code when eligibility could not be confirmed (e.g. service unreachable).
    pub error_code: Option<u16>,
}
