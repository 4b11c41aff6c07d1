//! Eligibility forwarding: the verified identity a reader reports goes to the eligibility
//! service (behind [`EligibilityService`]); the answer, or why there is none, goes to the
//! durable [`crate::journal::Journal`] and to staff.
//!
//! # The HTTP API ([`wire`] holds the JSON)
//!
//! | call | body → answer |
//! |---|---|
//! | `POST /challenge` | – → [`Challenge`]: 32-byte nonce, single use, expires |
//! | `POST /eligibility` | [`EligibilityRequest`] → [`EligibilityAnswer`] (a [`crate::model::Eligibility`] inside) |
//! | `POST /registration` | [`RegistrationRequest`] → [`wire::Registered`]: 初回登録 |
//! | `POST /insured` | [`InsuredQuery`] → [`crate::model::Eligibility`]: 照会区分 2, by insurance number |
//! | `GET /registered?cert_sha256=<hex>` | → [`wire::Registered`], or `404` [`ErrorCode::CertUnknown`] |
//! | `POST /registered` | [`wire::RegisteredQuery`] (the certificate) → [`wire::Registered`] |
//! | `GET /health` | → `{"ok":true}` |
//!
//! Every refusal is a non-2xx answer with an [`wire::ErrorBody`]: `{code, name, message}`, the
//! code one of [`ErrorCode`] (6xx). `/registered` answers the reader's `CertificateRead` with
//! `RegistrationStatus`.
//!
//! # What is signed, who vouches
//!
//! - **Card signature** (PIN, iPhone on-device): the card's auth key signs the service's
//!   challenge; the reader sends the card `DigestInfo(SHA-256(challenge))`, so the signature is
//!   plain RSASSA-PKCS1-v1_5 / SHA-256 over the 32 challenge bytes, and the service verifies it
//!   with the certificate's key after checking the certificate chain. Nothing is taken on trust.
//! - **Reader attestation** (face, 目視): the reader MACs the challenge, the certificate hash,
//!   the method, the staff account and the time with a key derived from the *pairing key*
//!   (`shikaku_protocol::auth::reader_attestation`). Only the paired host holds that key, so
//!   the host checks it ([`check_reader_attestation`]) and the service accepts the host's word
//!   (`attested_by_host: true`; the answer says [`wire::ProofCheck::AttestedByHost`]). This
//!   is the trust boundary: for face and 目視 the service trusts the host (and the host's
//!   authenticated channel to the service), not the reader; the service still checks the
//!   certificate chain, its validity and that the challenge is its own and unused.
//! - **Deferred** (service unreachable when the card was read): the host mints the challenge
//!   ([`Forwarder::challenge`]), the reception is queued; on retry the service verifies the
//!   card signature and that the challenge was never used, freshness rests on the host.

pub mod error;
pub mod http;
pub mod wire;

pub use error::{EligibilityError, ErrorCode};
pub use http::{HttpEligibility, RetryPolicy, Timeouts};
pub use wire::{
    Challenge, EligibilityAnswer, EligibilityRequest, InsuredQuery, ProofJson, RegistrationRequest,
};

use shikaku_protocol::auth::PairingKey;
use shikaku_protocol::message::{AuthMethod, Proof, VerifiedIdentity};

use crate::journal::{self, Entry, Journal, ReceptionKey, Status};
use crate::model::{Method, Reception};

/// The eligibility system, as the host sees it.
pub trait EligibilityService {
    /// A fresh single-use challenge for the reader.
    fn challenge(&self) -> Result<Challenge, EligibilityError>;
    /// Whether the card is registered for insurance use (answers `CertificateRead`).
    fn is_registered(&self, auth_cert: &[u8]) -> Result<bool, EligibilityError>;
    /// The insurance record for a verified identity.
    fn check(&self, request: &EligibilityRequest) -> Result<EligibilityAnswer, EligibilityError>;
    /// 初回登録 on its own.
    fn register(&self, request: &RegistrationRequest) -> Result<bool, EligibilityError>;
    /// 照会区分 2: the state of the insured person named by insurance number on a date.
    fn lookup_insured(&self, query: &InsuredQuery) -> Result<crate::model::Eligibility, EligibilityError>;
}

/// A reference or a box of a service is the service (the app holds a `Box<dyn …>`, tests
/// lend theirs).
macro_rules! forward_service {
    ($($ptr:ty),+) => {$(
        impl<S: EligibilityService + ?Sized> EligibilityService for $ptr {
            fn challenge(&self) -> Result<Challenge, EligibilityError> {
                (**self).challenge()
            }
            fn is_registered(&self, auth_cert: &[u8]) -> Result<bool, EligibilityError> {
                (**self).is_registered(auth_cert)
            }
            fn check(&self, request: &EligibilityRequest) -> Result<EligibilityAnswer, EligibilityError> {
                (**self).check(request)
            }
            fn register(&self, request: &RegistrationRequest) -> Result<bool, EligibilityError> {
                (**self).register(request)
            }
            fn lookup_insured(&self, query: &InsuredQuery) -> Result<crate::model::Eligibility, EligibilityError> {
                (**self).lookup_insured(query)
            }
        }
    )+};
}
forward_service!(&S, Box<S>);

/// The host's method of a protocol [`AuthMethod`].
pub fn method_of(m: AuthMethod) -> Method {
    match m {
        AuthMethod::Face => Method::Face,
        AuthMethod::Pin => Method::Pin,
        AuthMethod::Visual => Method::Visual,
        AuthMethod::OnDevice => Method::OnDevice,
    }
}

/// Recomputes the reader's attestation of a face / 目視 identity with the pairing key
/// (constant-time comparison). `false` for a card-signed identity.
pub fn check_reader_attestation(pairing: &PairingKey, v: &VerifiedIdentity<'_>) -> bool {
    let Proof::ReaderAttestation { challenge, attestation } = v.proof else {
        return false;
    };
    let want = shikaku_protocol::auth::reader_attestation(
        pairing,
        &challenge,
        v.auth_cert,
        v.method.to_wire(),
        v.staff_account,
        v.verified_at,
    );
    want.len() == attestation.len()
        && want.iter().zip(attestation).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// The journal row of a verified identity (no eligibility yet).
pub fn reception_of(reader: &str, session: u32, seq: u32, v: &VerifiedIdentity<'_>) -> Reception {
    Reception {
        reader: reader.to_owned(),
        session,
        seq,
        method: method_of(v.method),
        cert_sha256: wire::cert_sha256(v.auth_cert),
        staff_account: v.staff_account.map(str::to_owned),
        registration: v.registration,
        verified_at: v.verified_at,
        eligibility: None,
        error_code: None,
    }
}

/// The service request of a verified identity. `attestation_checked`: the host verified the
/// reader attestation ([`check_reader_attestation`]); `deferred`: the challenge was minted by
/// the host ([`IssuedChallenge::deferred`]).
pub fn request_of(
    key: &ReceptionKey,
    v: &VerifiedIdentity<'_>,
    attestation_checked: bool,
    deferred: bool,
) -> EligibilityRequest {
    let proof = match v.proof {
        Proof::CardSignature { challenge, signature } => {
            ProofJson::CardSignature { challenge: wire::hex(&challenge), signature: wire::b64(signature) }
        }
        Proof::ReaderAttestation { challenge, .. } => ProofJson::ReaderAttestation {
            challenge: wire::hex(&challenge),
            attested_by_host: attestation_checked,
        },
    };
    EligibilityRequest {
        request_id: key.request_id(),
        auth_cert: wire::b64(v.auth_cert),
        proof,
        method: method_of(v.method),
        consents: wire::ConsentAnswers::from_protocol(&v.consents),
        registration: v.registration,
        staff_account: v.staff_account.map(str::to_owned),
        verified_at: v.verified_at,
        deferred,
    }
}

/// A challenge for the reader's `HostChallenge`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedChallenge {
    pub challenge: [u8; 32],
    /// Minted by the host because the service could not be asked: set
    /// [`EligibilityRequest::deferred`].
    pub deferred: bool,
    /// Why the service was not asked.
    pub reason: Option<EligibilityError>,
}

/// What became of one submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Confirmed(Box<EligibilityAnswer>),
    /// The service could not be reached: the reception is kept and retried later.
    Queued(EligibilityError),
    /// The service refused: final.
    Refused(EligibilityError),
    /// The same `(reader, session, seq)` was already recorded: nothing done.
    Duplicate(Box<Entry>),
}

/// What the reception screen shows for one reception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffStatus {
    pub status: Status,
    pub code: Option<ErrorCode>,
    pub message: String,
}

/// Pause between queue retries: initial · 2^(attempts − 1), capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueBackoff {
    pub initial_ms: u64,
    pub max_ms: u64,
}

impl Default for QueueBackoff {
    fn default() -> Self {
        Self { initial_ms: 5_000, max_ms: 300_000 }
    }
}

impl QueueBackoff {
    pub fn delay_ms(&self, attempts: u32) -> u64 {
        let shift = attempts.saturating_sub(1).min(30);
        self.initial_ms.saturating_mul(1u64 << shift).min(self.max_ms)
    }
}

/// Submits verified identities, journals every one, and keeps an offline queue.
///
/// Queued requests are retried for as long as the service stays unreachable, with a pause
/// doubling up to [`QueueBackoff::max_ms`]; call [`Forwarder::retry_due`] when
/// [`Journal::next_due_ms`](crate::journal::Journal::next_due_ms) says so. A service may bound
/// how old a deferred request may be (the reference service: 14 days); past that the answer is
/// a final refusal, and the journal row stays as the evidence that the card was presented.
pub struct Forwarder<S> {
    service: S,
    journal: Journal,
    backoff: QueueBackoff,
}

impl<S: EligibilityService> Forwarder<S> {
    pub fn new(service: S, journal: Journal) -> Self {
        Self { service, journal, backoff: QueueBackoff::default() }
    }

    pub fn with_backoff(mut self, backoff: QueueBackoff) -> Self {
        self.backoff = backoff;
        self
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    pub fn service(&self) -> &S {
        &self.service
    }

    /// Gives the journal back (e.g. to reopen it under a new process in tests).
    pub fn into_parts(self) -> (S, Journal) {
        (self.service, self.journal)
    }

    /// A challenge for the reader: the service's, or when it cannot be reached one minted
    /// here from the OS RNG (the reception is then deferred). With neither there is no
    /// challenge: a guessable one would let a recorded signature be replayed.
    pub fn challenge(&self) -> Result<IssuedChallenge, crate::os::RandomUnavailable> {
        let reason = match self.service.challenge() {
            Ok(c) => match c.bytes() {
                Some(challenge) => return Ok(IssuedChallenge { challenge, deferred: false, reason: None }),
                None => EligibilityError::new(ErrorCode::BadResponse, "challenge not 32 bytes"),
            },
            Err(e) => e,
        };
        let challenge = crate::os::random()?;
        Ok(IssuedChallenge { challenge, deferred: true, reason: Some(reason) })
    }

    /// The answer to the reader's `CertificateRead` (`RegistrationStatus { registered }`).
    /// When the service cannot be asked, the card is assumed registered (most are, and a
    /// wrong "not registered" would walk the patient into 初回登録); the error says why, and
    /// an unregistered card then gets [`ErrorCode::NotRegistered`] with its remedy.
    pub fn registration_status(&self, auth_cert: &[u8]) -> (bool, Option<EligibilityError>) {
        match self.service.is_registered(auth_cert) {
            Ok(registered) => (registered, None),
            Err(e) => (true, Some(e)),
        }
    }

    /// Journals the reception, then asks the service. `reception.cert_sha256` must be the
    /// hash of `request.auth_cert`.
    pub fn submit(
        &mut self,
        reception: &Reception,
        request: &EligibilityRequest,
    ) -> journal::Result<Outcome> {
        let key = ReceptionKey::of(reception);
        let hash_matches = request.auth_cert_der().map(|der| wire::cert_sha256(&der));
        if hash_matches.as_deref() != Some(reception.cert_sha256.to_ascii_lowercase().as_str()) {
            return Err(journal::JournalError::Refused("reception and request name different certificates"));
        }
        if !self.journal.record(reception)? {
            if let Some(entry) = self.journal.get(&key)? {
                if entry.status != Status::Presented {
                    return Ok(Outcome::Duplicate(Box::new(entry)));
                }
            }
        }
        let json = serde_json::to_string(request)
            .map_err(|_| journal::JournalError::Refused("request does not serialise"))?;
        self.deliver(&key, &json, request, 0)
    }

    fn deliver(
        &mut self,
        key: &ReceptionKey,
        json: &str,
        request: &EligibilityRequest,
        attempts_before: u32,
    ) -> journal::Result<Outcome> {
        match self.service.check(request) {
            Ok(answer) => {
                self.journal.confirm(key, &answer.eligibility)?;
                Ok(Outcome::Confirmed(Box::new(answer)))
            }
            Err(e) if e.is_retryable() => {
                let attempts = attempts_before + 1;
                let next = crate::os::unix_ms() + self.backoff.delay_ms(attempts);
                self.journal.defer(key, json, attempts, next, e.code.code(), &e.staff_message())?;
                Ok(Outcome::Queued(e))
            }
            Err(e) => {
                self.journal.refuse(key, e.code.code(), &e.staff_message())?;
                Ok(Outcome::Refused(e))
            }
        }
    }

    /// Re-sends every queued request due at `now_ms`.
    pub fn retry_due(&mut self, now_ms: u64) -> journal::Result<Vec<(ReceptionKey, Outcome)>> {
        let mut out = vec![];
        for p in self.journal.due(now_ms)? {
            let outcome = match serde_json::from_str::<EligibilityRequest>(&p.request) {
                Ok(request) => self.deliver(&p.key, &p.request, &request, p.attempts)?,
                Err(_) => {
                    let e = EligibilityError::new(ErrorCode::BadRequest, "queued request unreadable");
                    self.journal.refuse(&p.key, e.code.code(), &e.staff_message())?;
                    Outcome::Refused(e)
                }
            };
            out.push((p.key, outcome));
        }
        Ok(out)
    }

    /// What staff see for a reception.
    pub fn staff_status(&self, key: &ReceptionKey) -> journal::Result<Option<StaffStatus>> {
        Ok(self.journal.get(key)?.map(|e| StaffStatus {
            status: e.status,
            code: e.reception.error_code.and_then(ErrorCode::from_code),
            message: match e.status {
                Status::Confirmed => "資格確認済み (eligibility confirmed)".to_owned(),
                Status::Presented => "資格確認中 (asking the eligibility service)".to_owned(),
                _ => e.message.unwrap_or_default(),
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_backoff_doubles_and_caps() {
        let b = QueueBackoff { initial_ms: 1000, max_ms: 6000 };
        let got: Vec<u64> = (1..=5).map(|n| b.delay_ms(n)).collect();
        assert_eq!(got, [1000, 2000, 4000, 6000, 6000]);
        assert_eq!(b.delay_ms(0), 1000);
        assert_eq!(b.delay_ms(u32::MAX), 6000);
    }
}
