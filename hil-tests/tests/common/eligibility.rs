//! Helpers shared by the eligibility tests: a service on an ephemeral port over a temp
//! SQLite file, and a virtual card that signs challenges exactly as the reader asks it to.

use std::path::{Path, PathBuf};
use std::time::Duration;

use shikaku_hil::eligibility::{self, Config, RunningServer};
use shikaku_hil::vcard::{self, keys, persona};
use shikaku_host::eligibility::wire::{self, ConsentAnswers, EligibilityRequest, ProofJson};
use shikaku_host::eligibility::{HttpEligibility, RetryPolicy, Timeouts};
use shikaku_host::model::Method;

pub(crate) use shikaku_hil::SmartCard;

pub(crate) struct Env {
    pub dir: tempfile::TempDir,
    pub server: Option<RunningServer>,
}

impl Env {
    pub(crate) fn db(&self) -> PathBuf {
        self.dir.path().join("eligibility.db")
    }
    pub(crate) fn server(&self) -> &RunningServer {
        self.server.as_ref().expect("server running")
    }
    pub(crate) fn url(&self) -> String {
        self.server().url()
    }
    pub(crate) fn client(&self) -> HttpEligibility {
        client(&self.url())
    }
}

pub(crate) fn config() -> Config {
    Config::default_trust().expect("trust anchors")
}

/// A service on 127.0.0.1:<ephemeral> over a fresh database, seeded with the built-ins.
pub(crate) fn start() -> Env {
    start_with(config())
}

pub(crate) fn start_with(config: Config) -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = serve(&dir.path().join("eligibility.db"), config);
    Env { dir, server: Some(server) }
}

pub(crate) fn serve(db: &Path, config: Config) -> RunningServer {
    eligibility::start(db, "127.0.0.1:0", config, &persona::builtin(), false).expect("service starts")
}

/// One attempt, short timeouts: the service's answers are what the tests look at.
pub(crate) fn client(url: &str) -> HttpEligibility {
    HttpEligibility::with(
        url,
        Timeouts { connect: Duration::from_secs(2), total: Duration::from_secs(20) },
        RetryPolicy { attempts: 1, ..RetryPolicy::default() },
    )
}

/// The virtual card of a built-in persona and its auth certificate.
pub(crate) fn card(id: &str) -> (vcard::card::VirtualCard, Vec<u8>) {
    let p = persona::find(id).expect("built-in persona");
    let (card, issued) = vcard::build(&p).expect("card builds");
    (card, issued.auth_cert)
}

fn apdu(card: &mut impl SmartCard, cmd: &[u8]) -> Vec<u8> {
    let r = card.process_apdu(cmd);
    assert!(r.len() >= 2, "short answer to {cmd:02X?}");
    r
}

fn sw(r: &[u8]) -> u16 {
    u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]])
}

/// What the reader's firmware does for a PIN reception: select JPKI, verify the auth PIN,
/// select the auth key and sign `DigestInfo(SHA-256(challenge))`.
pub(crate) fn card_sign(card: &mut impl SmartCard, pin: &str, challenge: &[u8; 32]) -> Vec<u8> {
    card.reset();
    let select_jpki =
        [&[0x00, 0xA4, 0x04, 0x0C, 0x0A][..], &[0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01]]
            .concat();
    assert_eq!(sw(&apdu(card, &select_jpki)), 0x9000);
    assert_eq!(sw(&apdu(card, &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18])), 0x9000);
    let verify = [&[0x00, 0x20, 0x00, 0x80, pin.len() as u8][..], pin.as_bytes()].concat();
    assert_eq!(sw(&apdu(card, &verify)), 0x9000, "PIN verify");
    assert_eq!(sw(&apdu(card, &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x17])), 0x9000);
    let info = keys::sha256_digest_info(&keys::sha256(challenge));
    let sign = [&[0x80, 0x2A, 0x00, 0x80, info.len() as u8][..], &info, &[0x00]].concat();
    let r = apdu(card, &sign);
    assert_eq!(sw(&r), 0x9000, "sign");
    r[..r.len() - 2].to_vec()
}

/// When the tests' receptions happened: now (once per test process), so deferred requests
/// are within the service's age limit.
pub(crate) fn reception_time() -> u64 {
    static T: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *T.get_or_init(shikaku_host::os::unix_ms)
}

/// A request proven by a card signature.
pub(crate) fn signed_request(
    id: &str,
    cert: &[u8],
    challenge: &[u8; 32],
    signature: &[u8],
) -> EligibilityRequest {
    EligibilityRequest {
        request_id: format!("SK-TEST/{id}/{}", wire::hex(&challenge[..6])),
        auth_cert: wire::b64(cert),
        proof: ProofJson::CardSignature { challenge: wire::hex(challenge), signature: wire::b64(signature) },
        method: Method::Pin,
        consents: ConsentAnswers::default(),
        registration: false,
        staff_account: None,
        verified_at: reception_time(),
        deferred: false,
    }
}

/// A face reception the host vouches for.
pub(crate) fn attested_request(id: &str, cert: &[u8], challenge: &[u8; 32]) -> EligibilityRequest {
    EligibilityRequest {
        request_id: format!("SK-TEST/{id}/{}", wire::hex(&challenge[..6])),
        auth_cert: wire::b64(cert),
        proof: ProofJson::ReaderAttestation { challenge: wire::hex(challenge), attested_by_host: true },
        method: Method::Face,
        consents: ConsentAnswers::default(),
        registration: false,
        staff_account: None,
        verified_at: reception_time(),
        deferred: false,
    }
}

/// Every file of the SQLite database `db` (main, WAL, shared memory), concatenated.
pub(crate) fn db_bytes(db: &Path) -> Vec<u8> {
    let mut out = vec![];
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        if let Ok(b) = std::fs::read(PathBuf::from(p)) {
            out.extend(b);
        }
    }
    out
}
