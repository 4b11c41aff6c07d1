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

/// 資格有効性 (QualificationValidity): 1 有効, 2 無効, 3 無効(新しい資格あり), 4 該当資格なし,
/// 5 複数該当.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QualificationValidity {
    Valid = 1,
    Invalid = 2,
    InvalidNewerExists = 3,
    NotFound = 4,
    MultipleMatches = 5,
}

impl QualificationValidity {
    pub fn code(self) -> u8 {
        self as u8
    }
    pub fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            1 => Self::Valid,
            2 => Self::Invalid,
            3 => Self::InvalidNewerExists,
            4 => Self::NotFound,
            5 => Self::MultipleMatches,
            _ => return None,
        })
    }
}

/// A consent flag with the time it was given (ISO 8601, JST), as the eligibility system keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    /// "1" agreed, "0" declined, absent: not asked.
    pub medication: Option<bool>,
    pub health_checkup: Option<bool>,
    pub treatment: Option<bool>,
    pub surgery: Option<bool>,
    pub given_at: Option<String>,
}

/// The insurance record the eligibility system answers with (DESIGN §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eligibility {
    /// 資格有効性
    pub validity: QualificationValidity,
    /// 保険者番号 (8 digits, or 6 for 国保)
    pub insurer_number: Option<String>,
    /// 記号
    pub symbol: Option<String>,
    /// 番号
    pub number: Option<String>,
    /// 枝番 (2 digits)
    pub branch: Option<String>,
    /// 氏名 (UTF-8, may hold characters outside JIS X 0208: 髙, 﨑, …)
    pub name: Option<String>,
    /// 氏名カナ
    pub name_kana: Option<String>,
    /// 生年月日 YYYYMMDD
    pub birth_date: Option<String>,
    /// 負担割合 in percent (10, 20, 30)
    pub copay_percent: Option<u8>,
    /// 限度額適用認定証 区分 (ア, イ, ウ, エ, オ, …)
    pub limit_category: Option<String>,
    pub consents: ConsentRecord,
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
