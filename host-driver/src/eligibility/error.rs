//! Typed eligibility errors: a stable numeric code (6xx, next to the reader's 1xx–5xx codes in
//! `shikaku_protocol::message::ErrorCode`), a stable name, and the message staff see.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why eligibility could not be confirmed. Numbers are stable: never reuse one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    // 60x: the link to the service. Retryable: the reception is queued and retried.
    /// Nothing answered (connection refused, no route, DNS).
    ServiceUnreachable = 601,
    /// The service did not answer in time.
    ServiceTimeout = 602,
    /// The service answered something that is not the API (garbage, wrong JSON).
    BadResponse = 603,
    /// The service answered 5xx.
    ServiceError = 604,
    // 61x–62x: the service refused this request. Final: not retried.
    /// The certificate does not chain to a trusted JPKI CA.
    CertUntrusted = 610,
    /// The certificate expired more than 3 months ago.
    CertLapsed = 611,
    /// The certificate is not valid yet.
    CertNotYetValid = 612,
    /// The certificate is not a parsable X.509 RSA certificate.
    CertMalformed = 613,
    /// The card signature does not verify with the certificate's key.
    BadSignature = 614,
    /// The challenge was never issued by the service.
    ChallengeUnknown = 615,
    /// The challenge was already used (replay).
    ChallengeReplayed = 616,
    /// The challenge expired before it was used.
    ChallengeExpired = 617,
    /// The card is not registered for insurance use and no 初回登録 was requested.
    NotRegistered = 618,
    /// The request is malformed.
    BadRequest = 619,
    /// The same request id was used with a different request.
    RequestConflict = 620,
    /// A reader attestation arrived without the host vouching for it.
    AttestationNotVouched = 621,
    /// `GET /registered?cert_sha256=`: the service never saw this certificate; ask again with
    /// the certificate itself (`POST /registered`). The client does so on its own.
    CertUnknown = 622,
}

impl ErrorCode {
    pub const ALL: &'static [ErrorCode] = &[
        Self::ServiceUnreachable,
        Self::ServiceTimeout,
        Self::BadResponse,
        Self::ServiceError,
        Self::CertUntrusted,
        Self::CertLapsed,
        Self::CertNotYetValid,
        Self::CertMalformed,
        Self::BadSignature,
        Self::ChallengeUnknown,
        Self::ChallengeReplayed,
        Self::ChallengeExpired,
        Self::NotRegistered,
        Self::BadRequest,
        Self::RequestConflict,
        Self::AttestationNotVouched,
        Self::CertUnknown,
    ];

    pub fn code(self) -> u16 {
        self as u16
    }

    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.code() == code)
    }

    /// Stable machine name (snake_case), also the `name` of the service's error body.
    pub fn name(self) -> &'static str {
        match self {
            Self::ServiceUnreachable => "service_unreachable",
            Self::ServiceTimeout => "service_timeout",
            Self::BadResponse => "bad_response",
            Self::ServiceError => "service_error",
            Self::CertUntrusted => "cert_untrusted",
            Self::CertLapsed => "cert_lapsed",
            Self::CertNotYetValid => "cert_not_yet_valid",
            Self::CertMalformed => "cert_malformed",
            Self::BadSignature => "bad_signature",
            Self::ChallengeUnknown => "challenge_unknown",
            Self::ChallengeReplayed => "challenge_replayed",
            Self::ChallengeExpired => "challenge_expired",
            Self::NotRegistered => "not_registered",
            Self::BadRequest => "bad_request",
            Self::RequestConflict => "request_conflict",
            Self::AttestationNotVouched => "attestation_not_vouched",
            Self::CertUnknown => "cert_unknown",
        }
    }

    /// A transport problem: keep the reception, retry later. Everything else is an answer.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::ServiceUnreachable | Self::ServiceTimeout | Self::BadResponse | Self::ServiceError
        )
    }

    /// What the reception screen says: what happened and what to do.
    pub fn staff_message(self) -> &'static str {
        match self {
            Self::ServiceUnreachable => {
                "資格確認サービスに接続できません。受付は保存済みで、接続が戻り次第自動で再送します \
                 (eligibility service unreachable; reception kept and retried automatically)"
            }
            Self::ServiceTimeout => {
                "資格確認サービスの応答がありません。受付は保存済みで、自動で再送します \
                 (eligibility service timed out; reception kept and retried automatically)"
            }
            Self::BadResponse => {
                "資格確認サービスの応答が不正です。受付は保存済みで、自動で再送します \
                 (eligibility service answered garbage; reception kept and retried)"
            }
            Self::ServiceError => {
                "資格確認サービスで障害が発生しています。受付は保存済みで、自動で再送します \
                 (eligibility service error; reception kept and retried)"
            }
            Self::CertUntrusted => {
                "電子証明書を確認できません (発行元不明)。カードを確認し、保険証等で確認してください \
                 (certificate not issued by a trusted JPKI CA)"
            }
            Self::CertLapsed => {
                "電子証明書の有効期限が3か月以上前に切れています。市区町村窓口での更新をご案内ください \
                 (certificate expired more than 3 months ago: renew at the municipal office)"
            }
            Self::CertNotYetValid => {
                "電子証明書がまだ有効になっていません。端末の時刻を確認してください \
                 (certificate not yet valid: check the PC clock)"
            }
            Self::CertMalformed => {
                "電子証明書を読み取れません (certificate unreadable: place the card again)"
            }
            Self::BadSignature => {
                "カードの署名を確認できません。カードを置き直してください (card signature does not verify)"
            }
            Self::ChallengeUnknown | Self::ChallengeExpired => {
                "確認の有効時間が切れました。カードを置き直してください \
                 (challenge unknown or expired: place the card again)"
            }
            Self::ChallengeReplayed => {
                "同じ確認結果が再利用されました。カードを置き直してください (challenge replayed)"
            }
            Self::NotRegistered => {
                "このカードは保険証利用の登録がありません。カードリーダーで初回登録を行ってください \
                 (card not registered for insurance use: do the initial registration on the reader)"
            }
            Self::BadRequest | Self::RequestConflict => {
                "資格確認の要求が不正です。サポートへ連絡してください (malformed request: contact support)"
            }
            Self::AttestationNotVouched => {
                "カードリーダーの証明を端末が確認できませんでした。リーダーを再ペアリングしてください \
                 (reader attestation not checked by the host: re-pair the reader)"
            }
            Self::CertUnknown => {
                "この証明書は資格確認サービスに未登録です (certificate unknown to the service)"
            }
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.code())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u16::deserialize(d)?;
        Self::from_code(n).ok_or_else(|| serde::de::Error::custom(format!("unknown error code {n}")))
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E{} {}", self.code(), self.name())
    }
}

/// An eligibility failure: the code plus a detail for the log (no personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EligibilityError {
    pub code: ErrorCode,
    pub detail: String,
}

impl EligibilityError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self { code, detail: detail.into() }
    }
    pub fn is_retryable(&self) -> bool {
        self.code.is_retryable()
    }
    /// The staff-facing line: code, what happened, remedy.
    pub fn staff_message(&self) -> String {
        format!("[E{}] {}", self.code.code(), self.code.staff_message())
    }
}

impl fmt::Display for EligibilityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl std::error::Error for EligibilityError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.code()), "{c}");
            assert_eq!(ErrorCode::from_code(c.code()), Some(*c));
            assert!((600..700).contains(&c.code()));
            assert!(!c.staff_message().is_empty());
        }
        assert_eq!(ErrorCode::from_code(600), None);
        assert!(ErrorCode::ServiceTimeout.is_retryable());
        assert!(!ErrorCode::CertLapsed.is_retryable());
    }
}
