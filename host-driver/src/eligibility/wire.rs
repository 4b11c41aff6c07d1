//! The JSON of the eligibility HTTP API, shared by the client here and the reference service
//! (`shikaku-hil`'s `shikaku-eligibility`). Binary values: certificates and signatures base64
//! (standard alphabet, padded), challenges and hashes lowercase hex.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::ErrorCode;
use crate::model::{Eligibility, Method};

/// `POST /challenge` answer: a single-use nonce the card (PIN) or the reader (face, 目視) signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// 32 bytes, hex.
    pub challenge: String,
    /// Unix milliseconds after which the service refuses it.
    pub expires_at_ms: u64,
}

impl Challenge {
    pub fn bytes(&self) -> Option<[u8; 32]> {
        from_hex(&self.challenge)?.try_into().ok()
    }
}

/// How the identity is proven to the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProofJson {
    /// The card's auth key signed the challenge: RSASSA-PKCS1-v1_5 with SHA-256 over the
    /// 32 challenge bytes (the reader sends the card `DigestInfo(SHA-256(challenge))`).
    CardSignature {
        /// hex, 32 bytes.
        challenge: String,
        /// base64, 256 bytes for RSA-2048.
        signature: String,
    },
    /// Face or 目視: the reader's HMAC over the challenge, which only the paired host can check.
    /// The host checked it and vouches (`attested_by_host: true`); the HMAC itself is not sent.
    ReaderAttestation {
        /// hex, 32 bytes.
        challenge: String,
        attested_by_host: bool,
    },
}

impl ProofJson {
    pub fn challenge_hex(&self) -> &str {
        match self {
            ProofJson::CardSignature { challenge, .. } | ProofJson::ReaderAttestation { challenge, .. } => {
                challenge
            }
        }
    }
}

/// Consent answers given on the reader: `Some(true)` agreed, `Some(false)` declined or skipped,
/// `None` not asked. `comprehensive` (包括同意) stands for all four.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentAnswers {
    pub medication: Option<bool>,
    pub health_checkup: Option<bool>,
    pub treatment: Option<bool>,
    pub surgery: Option<bool>,
    pub comprehensive: Option<bool>,
}

impl ConsentAnswers {
    pub fn from_protocol(c: &shikaku_protocol::message::Consents) -> Self {
        use shikaku_protocol::message::ConsentAnswer as A;
        let f = |a: A| match a {
            A::NotAsked => None,
            A::Agreed => Some(true),
            A::Declined | A::Skipped => Some(false),
        };
        Self {
            medication: f(c.medication),
            health_checkup: f(c.health_checkup),
            treatment: f(c.treatment),
            surgery: f(c.surgery),
            comprehensive: f(c.comprehensive),
        }
    }

    /// Per item, with 包括同意 applied.
    pub fn effective(&self) -> [Option<bool>; 4] {
        let all = self.comprehensive;
        [all.or(self.medication), all.or(self.health_checkup), all.or(self.treatment), all.or(self.surgery)]
    }

    pub fn any_asked(&self) -> bool {
        self.effective().iter().any(Option::is_some)
    }
}

/// `POST /eligibility` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibilityRequest {
    /// Idempotency key, `<reader>/<session>/<seq>`: the service answers a repeated request with
    /// the same id and body exactly as the first time (so a retry after a lost answer does not
    /// hit "challenge replayed").
    pub request_id: String,
    /// 利用者証明用電子証明書, DER, base64.
    pub auth_cert: String,
    pub proof: ProofJson,
    pub method: Method,
    #[serde(default)]
    pub consents: ConsentAnswers,
    /// 初回登録 requested on the reader.
    #[serde(default)]
    pub registration: bool,
    #[serde(default)]
    pub staff_account: Option<String>,
    /// Reader clock, Unix milliseconds.
    pub verified_at: u64,
    /// The challenge was minted by the host because the service was unreachable when the card
    /// was read: the service checks the signature and that the challenge was never used, but
    /// freshness rests on the host (the answer says `deferred`).
    #[serde(default)]
    pub deferred: bool,
}

impl EligibilityRequest {
    pub fn auth_cert_der(&self) -> Option<Vec<u8>> {
        b64_decode(&self.auth_cert)
    }
}

/// State of the certificate as the service judged it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertStatus {
    Valid,
    /// At most 3 months remain.
    ExpiringSoon,
    /// Expired within 3 months: eligibility only, medical-information consents not returned.
    Grace,
}

/// How the service accepted the proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProofCheck {
    /// The service verified the card signature itself.
    CardSignature,
    /// The service trusted the host's word on the reader attestation.
    AttestedByHost,
}

/// `POST /eligibility` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibilityAnswer {
    pub eligibility: Eligibility,
    pub cert_status: CertStatus,
    /// notAfter of the certificate, Unix seconds.
    pub cert_not_after: i64,
    pub proof: ProofCheck,
    pub attested_by_host: bool,
    pub deferred: bool,
    /// Registered for insurance use (after this request's 初回登録, if any).
    pub registered: bool,
    /// False in the grace period: consents are neither stored nor returned.
    pub medical_info_available: bool,
}

/// `POST /registration` body: 初回登録 alone, with the same proof as an eligibility request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationRequest {
    pub request_id: String,
    pub auth_cert: String,
    pub proof: ProofJson,
    #[serde(default)]
    pub deferred: bool,
}

/// `POST /insured` body: 照会区分 2, a lookup by the data on an insurance card or 資格確認書
/// (patients without a マイナ保険証, or a receipt computer checking again). The service answers
/// an [`Eligibility`] with the state **on `date`**: 1 a qualification in force that day; 2 the
/// one found was lost by then; 3 lost, and a newer one exists; 4 nothing matches (a completed
/// lookup, not an error); 5 several people match (e.g. no 枝番 given, twins under one 記号/番号).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsuredQuery {
    /// 保険者番号, 6 or 8 digits (leading spaces of the file's 8-character field removed).
    pub insurer_number: String,
    /// 記号, exactly as the card prints it (kanji, digits, hyphens).
    #[serde(default)]
    pub symbol: Option<String>,
    /// 番号
    pub number: String,
    /// 枝番, 2 digits; without it every family member under 記号/番号 with the birth date matches.
    #[serde(default)]
    pub branch: Option<String>,
    /// 生年月日 `YYYYMMDD`.
    pub birth_date: String,
    /// 資格確認日 `YYYYMMDD`: the day the state is asked for.
    pub date: String,
}

/// `GET /registered?cert_sha256=` and `POST /registered` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    pub registered: bool,
}

/// `POST /registered` body: when the service has never seen the certificate's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredQuery {
    pub auth_cert: String,
}

/// Every non-2xx answer of the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub name: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, name: code.name().to_owned(), message: message.into() }
    }
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s.trim()).ok()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// SHA-256 of a certificate, lowercase hex: the only form in which the host keeps it.
pub fn cert_sha256(der: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_base64_round_trip() {
        assert_eq!(from_hex(&hex(&[0, 1, 0xAB, 0xFF])), Some(vec![0, 1, 0xAB, 0xFF]));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(b64_decode(&b64(b"\x00\xffabc")), Some(b"\x00\xffabc".to_vec()));
    }

    #[test]
    fn proof_json_shape() {
        let p = ProofJson::ReaderAttestation { challenge: "00".into(), attested_by_host: true };
        let j = serde_json::to_string(&p).unwrap();
        assert_eq!(j, r#"{"type":"reader_attestation","challenge":"00","attested_by_host":true}"#);
        let e = ErrorBody::new(ErrorCode::CertLapsed, "x");
        let j = serde_json::to_string(&e).unwrap();
        assert!(j.starts_with(r#"{"code":611,"name":"cert_lapsed""#), "{j}");
    }

    #[test]
    fn comprehensive_consent_covers_all() {
        let c = ConsentAnswers { comprehensive: Some(true), ..Default::default() };
        assert_eq!(c.effective(), [Some(true); 4]);
        assert!(!ConsentAnswers::default().any_asked());
    }
}
