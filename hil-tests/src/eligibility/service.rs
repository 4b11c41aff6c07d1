//! The service's rules, without HTTP: certificate chain, validity, challenge, proof,
//! registration, and the insurance record.

use std::sync::Mutex;

use sha2::{Digest, Sha256};
use shikaku_card::der::Certificate;
use shikaku_firmware::session::expiry::Validity;
use shikaku_host::eligibility::wire::{
    self, CertStatus, Challenge, EligibilityAnswer, EligibilityRequest, ErrorBody, ProofCheck, ProofJson,
    Registered, RegistrationRequest,
};
use shikaku_host::eligibility::ErrorCode;
use shikaku_host::model::{ConsentRecord, Eligibility, Method, QualificationValidity};

use super::store::{ChallengeState, Insured, Store};
use super::Config;

/// A refusal: the code and a message for the log (no personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// The HTTP status the service answers with.
    pub fn http_status(&self) -> u16 {
        match self.code {
            ErrorCode::BadRequest | ErrorCode::CertMalformed => 400,
            ErrorCode::CertUnknown => 404,
            ErrorCode::RequestConflict | ErrorCode::ChallengeReplayed => 409,
            ErrorCode::ServiceError
            | ErrorCode::ServiceTimeout
            | ErrorCode::ServiceUnreachable
            | ErrorCode::BadResponse => 500,
            _ => 403,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody::new(self.code, self.message.clone())
    }
}

impl From<rusqlite::Error> for Refusal {
    fn from(e: rusqlite::Error) -> Self {
        Refusal::new(ErrorCode::ServiceError, format!("store: {e}"))
    }
}

/// A certificate that passed chain and validity checks.
struct CheckedCert {
    card_key: String,
    sha256: String,
    status: CertStatus,
    not_after: i64,
    key_modulus: Vec<u8>,
    key_exponent: Vec<u8>,
}

/// `SHA-256(issuer Name DER)` hex, `:`, serial hex: a card's stable key.
pub fn card_key(cert: &Certificate<'_>) -> String {
    format!("{}:{}", wire::hex(&Sha256::digest(cert.issuer)), wire::hex(cert.serial))
}

/// The service state: store, trust anchors, clock.
pub struct Service {
    store: Mutex<Store>,
    /// Held across look-up, run and keep of an idempotent request, so the same request sent
    /// twice at once gets one answer twice (not one answer and "replayed").
    requests: Mutex<()>,
    config: Config,
}

impl Service {
    pub fn new(store: Store, config: Config) -> Self {
        Self { store: Mutex::new(store), requests: Mutex::new(()), config }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the store (seeding, inspection).
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        f(&mut self.store())
    }

    /// `POST /challenge`.
    pub fn challenge(&self) -> Result<Challenge, Refusal> {
        let mut nonce = [0u8; 32];
        getrandom::getrandom(&mut nonce).map_err(|e| Refusal::new(ErrorCode::ServiceError, e.to_string()))?;
        let now = self.config.clock.now_ms();
        let expires = now + self.config.challenge_ttl.as_millis() as i64;
        let hex = wire::hex(&nonce);
        self.store().issue_challenge(&hex, now, expires)?;
        Ok(Challenge { challenge: hex, expires_at_ms: expires as u64 })
    }

    /// Parses the certificate and checks chain and validity.
    fn check_cert(&self, der: &[u8]) -> Result<CheckedCert, Refusal> {
        let cert = Certificate::parse(der)
            .map_err(|e| Refusal::new(ErrorCode::CertMalformed, format!("certificate: {e:?}")))?;
        if cert.public_key.is_empty() {
            return Err(Refusal::new(ErrorCode::CertMalformed, "certificate key is not RSA"));
        }
        let trusted = self.config.trusted_cas.iter().any(|ca| match Certificate::parse(ca) {
            Ok(ca) => cert.verify_issued_by(&ca).is_ok(),
            Err(_) => false,
        });
        if !trusted {
            return Err(Refusal::new(ErrorCode::CertUntrusted, "no trusted CA signed this certificate"));
        }
        let now_ms = self.config.clock.now_ms();
        let now_s = now_ms.div_euclid(1000);
        if cert.not_before.unix_seconds() > now_s {
            return Err(Refusal::new(ErrorCode::CertNotYetValid, "certificate notBefore is in the future"));
        }
        let not_after = cert.not_after.unix_seconds();
        let status = match Validity::judge(not_after, now_s) {
            Validity::Valid { .. } => CertStatus::Valid,
            Validity::ExpiringSoon { .. } => CertStatus::ExpiringSoon,
            Validity::Grace { .. } => CertStatus::Grace,
            Validity::Refused { days_past } => {
                return Err(Refusal::new(
                    ErrorCode::CertLapsed,
                    format!("certificate expired {days_past} days ago, beyond the 3-month grace"),
                ))
            }
        };
        let checked = CheckedCert {
            card_key: card_key(&cert),
            sha256: wire::cert_sha256(der),
            status,
            not_after,
            key_modulus: cert.public_key.modulus.to_vec(),
            key_exponent: cert.public_key.exponent.to_vec(),
        };
        self.store().note_cert(&checked.sha256, &checked.card_key, now_ms)?;
        Ok(checked)
    }

    /// Challenge (own and unused, or host-minted and never seen) and proof.
    fn check_proof(
        &self,
        store: &Store,
        cert: &CheckedCert,
        proof: &ProofJson,
        method: Option<Method>,
        deferred: bool,
    ) -> Result<ProofCheck, Refusal> {
        let challenge = wire::from_hex(proof.challenge_hex())
            .filter(|c| c.len() == 32)
            .ok_or_else(|| Refusal::new(ErrorCode::BadRequest, "challenge must be 32 bytes of hex"))?;
        let hex = wire::hex(&challenge);
        let now = self.config.clock.now_ms();
        let state = if deferred {
            store.consume_host_challenge(&hex, now)?
        } else {
            store.consume_challenge(&hex, now)?
        };
        match state {
            ChallengeState::Fresh => {}
            ChallengeState::Unknown => {
                return Err(Refusal::new(ErrorCode::ChallengeUnknown, "challenge not issued by this service"))
            }
            ChallengeState::Used => {
                return Err(Refusal::new(ErrorCode::ChallengeReplayed, "challenge already used"))
            }
            ChallengeState::Expired => {
                return Err(Refusal::new(ErrorCode::ChallengeExpired, "challenge expired"))
            }
        }
        match proof {
            ProofJson::CardSignature { signature, .. } => {
                let sig = wire::b64_decode(signature)
                    .ok_or_else(|| Refusal::new(ErrorCode::BadRequest, "signature is not base64"))?;
                let key = shikaku_card::rsa::RsaPublicKey::new(&cert.key_modulus, &cert.key_exponent);
                key.verify_sha256(&challenge, &sig).map_err(|e| {
                    Refusal::new(ErrorCode::BadSignature, format!("card signature does not verify: {e:?}"))
                })?;
                Ok(ProofCheck::CardSignature)
            }
            ProofJson::ReaderAttestation { attested_by_host, .. } => {
                if matches!(method, Some(Method::Pin | Method::OnDevice)) {
                    return Err(Refusal::new(
                        ErrorCode::BadRequest,
                        "PIN and on-device confirmation are proven by a card signature",
                    ));
                }
                if !attested_by_host {
                    return Err(Refusal::new(
                        ErrorCode::AttestationNotVouched,
                        "reader attestation without the host's check",
                    ));
                }
                Ok(ProofCheck::AttestedByHost)
            }
        }
    }

    /// `POST /eligibility`: `(HTTP status, JSON body)`; a repeated request id with the same body
    /// gets the first answer again.
    pub fn eligibility_http(&self, body: &[u8]) -> (u16, String) {
        let request: EligibilityRequest = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => return refusal_http(&Refusal::new(ErrorCode::BadRequest, format!("request: {e}"))),
        };
        self.idempotent(&request.request_id.clone(), body, |s| s.eligibility(&request))
    }

    /// `POST /registration`.
    pub fn registration_http(&self, body: &[u8]) -> (u16, String) {
        let request: RegistrationRequest = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => return refusal_http(&Refusal::new(ErrorCode::BadRequest, format!("request: {e}"))),
        };
        self.idempotent(&format!("registration:{}", request.request_id), body, |s| s.registration(&request))
    }

    fn idempotent<T: serde::Serialize>(
        &self,
        request_id: &str,
        body: &[u8],
        run: impl FnOnce(&Self) -> Result<T, Refusal>,
    ) -> (u16, String) {
        if request_id.is_empty() || request_id.len() > 200 {
            return refusal_http(&Refusal::new(ErrorCode::BadRequest, "request_id must be 1–200 characters"));
        }
        let digest = wire::hex(&Sha256::digest(body));
        let _one_at_a_time = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        match self.store().answer(request_id) {
            Ok(Some((d, status, answer))) if d == digest => return (status, answer),
            Ok(Some(_)) => {
                return refusal_http(&Refusal::new(
                    ErrorCode::RequestConflict,
                    "request_id already used with a different request",
                ))
            }
            Ok(None) => {}
            Err(e) => return refusal_http(&e.into()),
        }
        let (status, answer) = match run(self) {
            Ok(v) => (200, serde_json::to_string(&v).unwrap_or_default()),
            Err(r) => refusal_http(&r),
        };
        // Transport-class failures are not kept: a retry may succeed.
        if status < 500 {
            if let Err(e) = self.store().keep_answer(request_id, &digest, status, &answer) {
                return refusal_http(&e.into());
            }
        }
        (status, answer)
    }

    /// The eligibility rules.
    pub fn eligibility(&self, request: &EligibilityRequest) -> Result<EligibilityAnswer, Refusal> {
        let der = request
            .auth_cert_der()
            .ok_or_else(|| Refusal::new(ErrorCode::CertMalformed, "auth_cert is not base64"))?;
        let cert = self.check_cert(&der)?;
        let now = self.config.clock.now_ms();
        if request.deferred {
            self.check_deferred_age(request.verified_at, now)?;
        }
        let mut guard = self.store();
        guard.transaction(|store| {
            let proof =
                self.check_proof(store, &cert, &request.proof, Some(request.method), request.deferred)?;
            if request.registration {
                store.register(&cert.card_key, now)?;
            } else if !store.is_registered(&cert.card_key)? {
                return Err(Refusal::new(ErrorCode::NotRegistered, "card not registered for insurance use"));
            }
            let grace = cert.status == CertStatus::Grace;
            if !grace && request.consents.any_asked() {
                store.set_consents(&cert.card_key, request.consents.effective(), &jst_iso8601(now))?;
            }
            let rows = store.insured_for(&cert.card_key)?;
            let consents = if grace { no_consents() } else { store.consents(&cert.card_key)? };
            let eligibility = record(&rows, consents);
            Ok(EligibilityAnswer {
                eligibility,
                cert_status: cert.status,
                cert_not_after: cert.not_after,
                proof,
                attested_by_host: proof == ProofCheck::AttestedByHost,
                deferred: request.deferred,
                registered: true,
                medical_info_available: !grace,
            })
        })
    }

    /// A deferred request's age: freshness rests on the host, within bounds.
    fn check_deferred_age(&self, verified_at_ms: u64, now_ms: i64) -> Result<(), Refusal> {
        const SKEW_MS: i64 = 10 * 60 * 1000;
        let at = i64::try_from(verified_at_ms).unwrap_or(i64::MAX);
        if at > now_ms.saturating_add(SKEW_MS) {
            return Err(Refusal::new(ErrorCode::BadRequest, "deferred request verified in the future"));
        }
        let max = self.config.max_deferred_age.as_millis() as i64;
        if now_ms.saturating_sub(at) > max {
            return Err(Refusal::new(
                ErrorCode::ChallengeExpired,
                format!("deferred request older than {} days", max / 86_400_000),
            ));
        }
        Ok(())
    }

    /// 初回登録 alone.
    pub fn registration(&self, request: &RegistrationRequest) -> Result<Registered, Refusal> {
        let der = wire::b64_decode(&request.auth_cert)
            .ok_or_else(|| Refusal::new(ErrorCode::CertMalformed, "auth_cert is not base64"))?;
        let cert = self.check_cert(&der)?;
        let now = self.config.clock.now_ms();
        let mut guard = self.store();
        guard.transaction(|store| {
            self.check_proof(store, &cert, &request.proof, None, request.deferred)?;
            store.register(&cert.card_key, now)?;
            Ok(Registered { registered: true })
        })
    }

    /// `GET /registered?cert_sha256=`.
    pub fn registered_by_hash(&self, sha256_hex: &str) -> Result<Registered, Refusal> {
        let h = sha256_hex.trim().to_ascii_lowercase();
        if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Refusal::new(ErrorCode::BadRequest, "cert_sha256 must be 64 hex digits"));
        }
        let store = self.store();
        let key = store.card_key_of_cert(&h)?.ok_or_else(|| {
            Refusal::new(ErrorCode::CertUnknown, "certificate never seen; POST /registered")
        })?;
        Ok(Registered { registered: store.is_registered(&key)? })
    }

    /// `POST /registered` with the certificate: chain checked, validity not (a lapsed card can
    /// still be asked about).
    pub fn registered_by_cert(&self, der: &[u8]) -> Result<Registered, Refusal> {
        let cert = match self.check_cert(der) {
            Ok(c) => c.card_key,
            Err(r) if matches!(r.code, ErrorCode::CertLapsed | ErrorCode::CertNotYetValid) => {
                let cert = Certificate::parse(der).map_err(|_| r.clone())?;
                card_key(&cert)
            }
            Err(r) => return Err(r),
        };
        Ok(Registered { registered: self.store().is_registered(&cert)? })
    }
}

fn refusal_http(r: &Refusal) -> (u16, String) {
    (r.http_status(), serde_json::to_string(&r.body()).unwrap_or_default())
}

fn no_consents() -> ConsentRecord {
    ConsentRecord { medication: None, health_checkup: None, treatment: None, surgery: None, given_at: None }
}

/// 資格有効性 from the card's qualifications: none → 4; two or more active → 5; one active → 1;
/// else a superseded one → 3; else lost → 2.
pub fn record(rows: &[Insured], consents: ConsentRecord) -> Eligibility {
    let active: Vec<&Insured> = rows.iter().filter(|r| r.status == "active").collect();
    let (validity, row) = match active.len() {
        0 => match rows.iter().find(|r| r.status == "superseded") {
            Some(r) => (QualificationValidity::InvalidNewerExists, Some(r)),
            None => match rows.iter().find(|r| r.status == "lost") {
                Some(r) => (QualificationValidity::Invalid, Some(r)),
                None => (QualificationValidity::NotFound, None),
            },
        },
        1 => (QualificationValidity::Valid, Some(active[0])),
        _ => (QualificationValidity::MultipleMatches, None),
    };
    let Some(r) = row else {
        return Eligibility {
            validity,
            insurer_number: None,
            symbol: None,
            number: None,
            branch: None,
            name: None,
            name_kana: None,
            birth_date: None,
            copay_percent: None,
            limit_category: None,
            consents: no_consents(),
        };
    };
    Eligibility {
        validity,
        insurer_number: Some(r.insurer_number.clone()),
        symbol: r.symbol.clone(),
        number: Some(r.number.clone()),
        branch: r.branch.clone(),
        name: Some(r.name.clone()),
        name_kana: Some(r.name_kana.clone()),
        birth_date: Some(r.birth_date.clone()),
        copay_percent: Some(r.copay_percent),
        limit_category: r.limit_category.clone(),
        consents,
    }
}

/// Unix milliseconds as ISO 8601 in JST (`2026-11-21T14:48:54+09:00`).
pub fn jst_iso8601(unix_ms: i64) -> String {
    let s = unix_ms.div_euclid(1000) + 9 * 3600;
    let d = crate::vcard::persona::Date::from_days(s.div_euclid(86_400));
    let t = s.rem_euclid(86_400);
    format!("{}T{:02}:{:02}:{:02}+09:00", d, t / 3600, t / 60 % 60, t % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jst_times() {
        assert_eq!(jst_iso8601(0), "1970-01-01T09:00:00+09:00");
        assert_eq!(jst_iso8601(1_763_700_000_000), "2025-11-21T13:40:00+09:00");
    }

    #[test]
    fn validity_codes_from_rows() {
        let row = |status: &str| Insured { status: status.into(), ..Default::default() };
        let code = |rows: &[Insured]| record(rows, no_consents()).validity.code();
        assert_eq!(code(&[]), 4);
        assert_eq!(code(&[row("active")]), 1);
        assert_eq!(code(&[row("lost")]), 2);
        assert_eq!(code(&[row("lost"), row("superseded")]), 3);
        assert_eq!(code(&[row("active"), row("active")]), 5);
        assert_eq!(code(&[row("lost"), row("active")]), 1);
    }
}
