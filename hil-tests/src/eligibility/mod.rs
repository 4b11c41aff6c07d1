//! Reference eligibility service (オンライン資格確認 stand-in) for tests and demos: HTTP over
//! `tiny_http`, a SQLite store of insured persons, the JPKI checks a real service makes.
//!
//! The API and its JSON are those of [`shikaku_host::eligibility`] (the host's client); see
//! there for the table of calls and for the trust boundary of reader attestations. What the
//! service checks on `POST /eligibility` and `POST /registration`, in order:
//!
//! 1. the auth certificate parses (X.509, RSA) — else `613 cert_malformed`;
//! 2. it is signed by one of the trusted CAs (the virtual card's own test CA and the fixture
//!    JPKI-TEST CA by default; several CA generations share one DN, so the signature decides)
//!    — else `610 cert_untrusted`;
//! 3. validity (the reader's rule, `shikaku_firmware::session::expiry`): valid; within
//!    3 calendar months after notAfter accepted for eligibility only (consents neither stored
//!    nor returned, `medical_info_available: false`); later `611 cert_lapsed`;
//!    before notBefore `612`;
//! 4. the challenge: issued by `POST /challenge`, unused, not expired — else `615` / `616` /
//!    `617`; the challenge is burnt by the first request that names it, whatever the outcome.
//!    A `deferred` request carries a host-minted challenge: recorded, refused if seen again,
//!    and refused when its `verified_at` is older than [`Config::max_deferred_age`] (14 days)
//!    (`617`) or in the future beyond 10 minutes of clock skew (`619`);
//! 5. the proof: a card signature must verify as RSASSA-PKCS1-v1_5 / SHA-256 over the 32
//!    challenge bytes with the certificate's key (`614 bad_signature`); a reader attestation
//!    is accepted only with `attested_by_host: true` (`621`), flagged in the answer;
//! 6. registration: the card must be registered for insurance use, or the request asks for
//!    初回登録 (`registration: true`) — else `618 not_registered`;
//! 7. the record: 資格有効性 1–5 from the qualifications of the card's person on the service
//!    clock's date in JST (the rules: [`service`]; the seeded people: [`seed`]).
//!
//! `POST /insured` (照会区分 2: by 保険者番号, 記号, 番号, 枝番 and 生年月日, as a receipt
//! computer asks for a patient with a 資格確認書) answers a `shikaku_host::model::Eligibility`
//! for the date asked, by the rules in [`service`]; a body that is not an `InsuredQuery`, or
//! whose numbers or dates are malformed, is `619 bad_request`.
//!
//! An answer about a person the clinic registered a 照会番号 for carries it
//! (`reference_number`); answers 1, 2 and 3 carry the card consents of the person (flag, time,
//! and until when the information may be viewed: 24 hours after the consent, this service's
//! rule).
//!
//! Answers are kept per `request_id`: the same request again gets the same answer (a client
//! retrying after a lost answer is not told "replayed"); the same id with another body is
//! `620 request_conflict`.

pub mod http;
pub mod seed;
pub mod service;
pub mod store;

pub use http::RunningServer;
pub use service::Service;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The service's clock: the system clock, or a settable one (tests, `--now`).
#[derive(Clone, Default)]
pub struct Clock {
    fixed: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Self {
        Self { fixed: None }
    }

    /// A clock standing at `unix_ms` until [`Clock::set`].
    pub fn fixed(unix_ms: i64) -> Self {
        Self { fixed: Some(Arc::new(AtomicI64::new(unix_ms))) }
    }

    pub fn set(&self, unix_ms: i64) {
        if let Some(f) = &self.fixed {
            f.store(unix_ms, Ordering::SeqCst);
        }
    }

    pub fn now_ms(&self) -> i64 {
        match &self.fixed {
            Some(f) => f.load(Ordering::SeqCst),
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
        }
    }

    /// Today (UTC) by this clock.
    pub fn today(&self) -> crate::vcard::persona::Date {
        crate::vcard::persona::Date::from_days(self.now_ms().div_euclid(86_400_000))
    }
}

/// Service settings.
#[derive(Clone)]
pub struct Config {
    /// Trust anchors, DER.
    pub trusted_cas: Vec<Vec<u8>>,
    pub challenge_ttl: Duration,
    /// A deferred request (host-minted challenge) whose `verified_at` is older than this is
    /// refused (`617`): freshness rests on the host, so it is bounded.
    pub max_deferred_age: Duration,
    pub clock: Clock,
}

impl Config {
    /// The virtual card's auth CA and the fixture JPKI-TEST auth CA, a 5-minute challenge
    /// lifetime (face retries and consent screens included), the system clock.
    pub fn default_trust() -> Result<Self, String> {
        Ok(Self {
            trusted_cas: default_cas()?,
            challenge_ttl: Duration::from_secs(300),
            max_deferred_age: Duration::from_secs(14 * 86_400),
            clock: Clock::system(),
        })
    }
}

/// The virtual card's auth CA and the fixture JPKI-TEST auth CA (`jpki-auth-ca-cert.der`).
pub fn default_cas() -> Result<Vec<Vec<u8>>, String> {
    Ok(vec![
        crate::vcard::pki::ca(crate::vcard::pki::Hierarchy::Auth).der,
        crate::vcard::fixture("jpki-auth-ca-cert.der")?,
    ])
}

/// Opens the store at `db`, seeds it if it holds nobody (or when `reseed`), and serves on
/// `listen` (`127.0.0.1:0` for an ephemeral port).
pub fn start(
    db: &std::path::Path,
    listen: &str,
    config: Config,
    personas: &[crate::vcard::persona::Persona],
    reseed: bool,
) -> Result<RunningServer, String> {
    let store = store::Store::open(db).map_err(|e| format!("opening {}: {e}", db.display()))?;
    let empty = store.person_count().map_err(|e| e.to_string())? == 0;
    if reseed || empty {
        seed::seed(&store, personas, config.clock.today(), config.clock.now_ms())?;
    }
    http::serve(Arc::new(Service::new(store, config)), listen)
}
