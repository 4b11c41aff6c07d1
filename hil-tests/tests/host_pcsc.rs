//! The host driver's generic PC/SC path against the virtual card through a real pcscd + vpcd:
//! list readers, watch the insertion, read kind and certificate, verify the PIN and check the
//! card's signature, and keep working across a pcscd restart (`NoService` → new context).
//! Skips with a message only when pcscd is not installed; `SHIKAKU_REQUIRE_PCSC=1` makes that a
//! failure. Serialises with the other PC/SC tests on the same lock file.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use shikaku_card::der::Certificate;
use shikaku_card::jpki::CardKind;
use shikaku_card::secret::Pin4;
use shikaku_hil::{pcscd, vcard};
use shikaku_host::smartcard::{read_identity, PcscService, PinSource, ReadError};

/// vpcd's second slot, so this test never touches the reader the vcard tests use.
const PORT: u16 = 35964;
const READER: &str = "Virtual PCD 00 01";

fn reader_listed(svc: &mut PcscService) -> bool {
    svc.readers().map(|rs| rs.iter().any(|r| r.name == READER)).unwrap_or(false)
}

fn wait(what: &str, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < Duration::from_secs(25), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn generic_pcsc_reader_reads_and_survives_a_pcscd_restart() {
    if !pcscd::installed() {
        assert!(!pcscd::required(), "SHIKAKU_REQUIRE_PCSC=1 but pcscd is not installed");
        eprintln!("SKIPPED host_pcsc: pcscd is not installed (scripts/setup.sh installs it)");
        return;
    }
    let lock = pcscd::lock().unwrap();

    // Our own pcscd, so that restarting it disturbs nobody else.
    pcscd::stop_all();
    let mut daemon = pcscd::start().unwrap();
    let mut svc = PcscService::new();
    wait("the vpcd reader", || reader_listed(&mut svc));
    assert!(!svc.wait_for_card(READER, Duration::from_millis(200)).unwrap(), "no card yet");

    let (server, issued) = vcard::spawn_persona("yamada", PORT).unwrap();
    // Insertion watch: the card appears while we wait for it.
    assert!(svc.wait_for_card(READER, Duration::from_secs(20)).unwrap(), "insertion seen");
    let slot = svc.readers().unwrap().into_iter().find(|r| r.name == READER).unwrap();
    assert!(slot.card_present);

    // Certificate only: no PIN spent.
    let mut card = svc.connect(READER).unwrap();
    let challenge = [0x42u8; 32];
    let r = read_identity(&mut card, PinSource::None, &challenge).unwrap();
    assert_eq!(r.kind, CardKind::PhysicalCard);
    assert_eq!(r.auth_cert, issued.auth_cert);
    assert_eq!(r.tries_left, Some(3));
    assert!(r.signature.is_none());

    // Wrong PIN: typed error with tries left, then the right one signs the challenge.
    let wrong = read_identity(
        &mut card,
        PinSource::Typed { pin: Pin4::from_ascii(b"9999").unwrap(), confirm_last_try: false },
        &challenge,
    );
    assert!(matches!(wrong, Err(ReadError::WrongPin(2))), "{wrong:?}");
    let pin = issued.persona.pin.clone().expect("yamada has a PIN");
    let r = read_identity(
        &mut card,
        PinSource::Typed { pin: Pin4::from_ascii(pin.as_bytes()).unwrap(), confirm_last_try: false },
        &challenge,
    )
    .unwrap();
    let sig = r.signature.expect("signed");
    let cert = Certificate::parse(&r.auth_cert).unwrap();
    // The card signed DigestInfo(SHA-256(challenge)).
    cert.public_key
        .verify_sha256(&challenge, &sig)
        .expect("the card's signature verifies with its certificate");
    let hash: [u8; 32] = Sha256::digest(challenge).into();
    assert!(cert.public_key.verify_sha256(&hash, &sig).is_err(), "and not over anything else");
    drop(card);

    // pcscd restarts under us: the same service object recovers with a new context.
    let _ = daemon.kill();
    let _ = daemon.wait();
    pcscd::stop_all();
    assert!(svc.readers().is_err() || !reader_listed(&mut svc), "no readers while pcscd is down");
    daemon = pcscd::start().unwrap();
    wait("the reader after the restart", || reader_listed(&mut svc));
    assert!(svc.wait_for_card(READER, Duration::from_secs(20)).unwrap(), "the card reconnects to vpcd");
    let mut card = svc.connect(READER).unwrap();
    let r = read_identity(&mut card, PinSource::None, &challenge).unwrap();
    assert_eq!(r.auth_cert, issued.auth_cert);
    drop(card);
    drop(server);
    let _ = daemon.kill();
    let _ = daemon.wait();
    drop(lock);
}
