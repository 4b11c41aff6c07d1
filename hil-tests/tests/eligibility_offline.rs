//! The host's forwarding end to end: a reader's `VerifiedIdentity` (card-signed or
//! reader-attested) → journal → the reference service over HTTP; the offline queue when the
//! service is down, across a host restart; and what the files on disk must never hold.

mod common;

use std::time::Duration;

use common::eligibility::*;
use shikaku_hil::testkit::digit_runs;
use shikaku_hil::vcard::persona;
use shikaku_host::eligibility::{
    check_reader_attestation, reception_of, request_of, ErrorCode, Forwarder, HttpEligibility, Outcome,
    QueueBackoff, RetryPolicy, Timeouts,
};
use shikaku_host::journal::{Journal, ReceptionKey, Status};
use shikaku_host::model::{ConsentFlag, QualificationValidity};
use shikaku_host::os::unix_ms as now_ms;
use shikaku_protocol::auth::{reader_attestation, PairingKey};
use shikaku_protocol::message::{
    AuthMethod, CardKind, CertExpiry, ConsentAnswer, Consents, Proof, VerifiedIdentity,
};

fn identity<'a>(
    cert: &'a [u8],
    proof: Proof<'a>,
    method: AuthMethod,
    consents: Consents,
) -> VerifiedIdentity<'a> {
    VerifiedIdentity {
        auth_cert: cert,
        proof,
        method,
        card_kind: CardKind::PhysicalCard,
        consents,
        staff_account: None,
        registration: false,
        cert_expiry: CertExpiry::DaysLeft(900),
        card_detected_at: reception_time() - 4_000,
        verified_at: reception_time(),
    }
}

/// A PIN reception: the card signed `challenge` into `signature`.
fn pin_identity<'a>(
    cert: &'a [u8],
    challenge: [u8; 32],
    signature: &'a [u8],
    consents: Consents,
) -> VerifiedIdentity<'a> {
    identity(cert, Proof::CardSignature { challenge, signature }, AuthMethod::Pin, consents)
}

/// The attestation of a face reception by the reader holding `pairing`.
fn face_attestation(pairing: &PairingKey, challenge: &[u8; 32], cert: &[u8]) -> [u8; 32] {
    reader_attestation(pairing, challenge, cert, AuthMethod::Face.to_wire(), None, reception_time())
}

/// A face reception the reader attested with `attestation`.
fn face_identity<'a>(cert: &'a [u8], challenge: [u8; 32], attestation: &'a [u8]) -> VerifiedIdentity<'a> {
    identity(cert, Proof::ReaderAttestation { challenge, attestation }, AuthMethod::Face, Consents::NONE)
}

fn patient_client(url: &str) -> HttpEligibility {
    HttpEligibility::with(
        url,
        Timeouts { connect: Duration::from_millis(300), total: Duration::from_secs(20) },
        RetryPolicy {
            attempts: 2,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(100),
        },
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn pin_and_face_receptions_are_forwarded_and_journaled() {
    let env = start();
    let dir = tempfile::tempdir().unwrap();
    let mut f = Forwarder::new(patient_client(&env.url()), Journal::open(dir.path().join("j.db")).unwrap());

    // PIN: the card signs the service's challenge.
    let issued = f.challenge().expect("a challenge");
    assert!(!issued.deferred);
    let (mut vc, cert) = card("takasaki");
    let sig = card_sign(&mut vc, "8080", &issued.challenge);
    let consents = Consents { medication: ConsentAnswer::Agreed, ..Consents::NONE };
    let v = pin_identity(&cert, issued.challenge, &sig, consents);
    let r = reception_of("SK-0042", 1, 3, &v);
    let req = request_of(&ReceptionKey::of(&r), &v, false, issued.deferred);
    match f.submit(&r, &req).unwrap() {
        Outcome::Confirmed(a) => {
            assert_eq!(a.eligibility.qualification.as_ref().map(|q| q.name.as_str()), Some("髙﨑　𠮷乃"));
            assert_eq!(a.eligibility.consents.medication.as_ref().map(|c| c.flag), Some(ConsentFlag::Given));
        }
        other => panic!("{other:?}"),
    }
    // The reader re-sends the same result (lost ack): recorded once, the service not asked.
    assert!(matches!(f.submit(&r, &req).unwrap(), Outcome::Duplicate(_)));

    // Face: the reader attests with the pairing key; the host checks and vouches.
    let pairing = PairingKey([7; 32]);
    let issued = f.challenge().expect("a challenge");
    let (_, cert) = card("locked");
    let mac = face_attestation(&pairing, &issued.challenge, &cert);
    let v = face_identity(&cert, issued.challenge, &mac);
    assert!(check_reader_attestation(&pairing, &v));
    assert!(!check_reader_attestation(&PairingKey([8; 32]), &v), "another reader's key");
    let r = reception_of("SK-0042", 2, 1, &v);
    let req = request_of(&ReceptionKey::of(&r), &v, check_reader_attestation(&pairing, &v), false);
    match f.submit(&r, &req).unwrap() {
        Outcome::Confirmed(a) => {
            assert!(a.attested_by_host);
            assert_eq!(a.eligibility.validity, QualificationValidity::InvalidNewerExists);
        }
        other => panic!("{other:?}"),
    }
    let entries = f.journal().entries().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e.status == Status::Confirmed));
}

#[test]
fn service_down_then_host_restart_then_service_up() {
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.db");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let (mut vc, cert) = card("yamada");
    let key;
    {
        let mut f = Forwarder::new(patient_client(&url), Journal::open(&journal_path).unwrap())
            .with_backoff(QueueBackoff { initial_ms: 1_000, max_ms: 10_000 });
        // The service is down when the card is placed: the host mints the challenge.
        let issued = f.challenge().expect("a challenge");
        assert!(issued.deferred);
        let sig = card_sign(&mut vc, "1234", &issued.challenge);
        let v = pin_identity(&cert, issued.challenge, &sig, Consents::NONE);
        let r = reception_of("SK-0042", 9, 1, &v);
        key = ReceptionKey::of(&r);
        let req = request_of(&key, &v, false, issued.deferred);
        match f.submit(&r, &req).unwrap() {
            Outcome::Queued(e) => assert_eq!(e.code, ErrorCode::ServiceUnreachable),
            other => panic!("{other:?}"),
        }
        let s = f.staff_status(&key).unwrap().unwrap();
        assert_eq!(s.status, Status::Pending);
        assert!(s.message.contains("E601"));
    }

    // The service comes up on that port, the host restarts and works through its queue.
    let service_dir = tempfile::tempdir().unwrap();
    let server = shikaku_hil::eligibility::start(
        &service_dir.path().join("eligibility.db"),
        &format!("127.0.0.1:{port}"),
        config(),
        &persona::builtin(),
        false,
    )
    .unwrap();
    let mut f = Forwarder::new(patient_client(&server.url()), Journal::open(&journal_path).unwrap());
    assert_eq!(f.journal().pending().unwrap().len(), 1);
    let done = f.retry_due(now_ms() + 60_000).unwrap();
    match &done[..] {
        [(k, Outcome::Confirmed(a))] => {
            assert_eq!(k, &key);
            assert!(a.deferred);
            assert_eq!(a.eligibility.qualification.as_ref().map(|q| q.name.as_str()), Some("山田　太郎"));
        }
        other => panic!("{other:?}"),
    }
    assert!(f.journal().pending().unwrap().is_empty());
    assert_eq!(f.journal().get(&key).unwrap().unwrap().status, Status::Confirmed);
    // Delivered twice (a second retry pass) changes nothing.
    assert!(f.retry_due(now_ms() + 120_000).unwrap().is_empty());

    // Once delivered, only the certificate's hash remains on disk: the queued request (the
    // certificate itself, the signature) is gone from the database and its WAL.
    // (Scanned with the journal still open: closing it would checkpoint anyway.)
    let bytes = db_bytes(&journal_path);
    let b64 = shikaku_host::eligibility::wire::b64(&cert);
    assert!(
        !bytes.windows(64).any(|w| w == &b64.as_bytes()[..64]),
        "certificate (base64) left in the journal"
    );
    assert!(
        !bytes.windows(64).any(|w| w == &cert[cert.len() - 64..]),
        "certificate bytes left in the journal"
    );
    let hash = shikaku_host::eligibility::wire::cert_sha256(&cert);
    assert!(bytes.windows(64).any(|w| w == hash.as_bytes()), "the hash is kept");
    drop(f);
}

#[test]
fn digit_runs_finds_exact_runs_outside_encoded_binary() {
    assert_eq!(digit_runs(b"a1234b12345 537686677188x", 4), ["1234"]);
    assert_eq!(digit_runs(b"\"537686677188\"", 12), ["537686677188"]);
    assert_eq!(digit_runs(b"\x01pin1234active\x02", 4), ["1234"]);
    // Inside a hash or base64: chance.
    assert!(digit_runs(b"\"ab836691852869cd0f1e2d3c4b5a69788796a5b4c3d2e1f0\"", 12).is_empty());
    assert!(digit_runs(b"MIIGNjCCBR6gAwIBAgID1234ewDQYJKoZIhvcNAQELBQAw", 4).is_empty());
}

#[test]
fn no_pin_and_no_my_number_on_disk() {
    let env = start();
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("journal.db");
    let mut f = Forwarder::new(patient_client(&env.url()), Journal::open(&journal_path).unwrap());
    let personas = persona::builtin();
    let mut seq = 0;
    for p in &personas {
        let (mut vc, cert) = card(&p.id);
        let issued = f.challenge().expect("a challenge");
        seq += 1;
        let sig;
        let mac;
        let v = match (&p.pin, p.auth_tries) {
            (Some(pin), 1..) => {
                sig = card_sign(&mut vc, pin, &issued.challenge);
                pin_identity(&cert, issued.challenge, &sig, Consents::NONE)
            }
            _ => {
                let pairing = PairingKey([1; 32]);
                mac = face_attestation(&pairing, &issued.challenge, &cert);
                face_identity(&cert, issued.challenge, &mac)
            }
        };
        let r = reception_of("SK-0042", 100, seq, &v);
        let req = request_of(&ReceptionKey::of(&r), &v, true, false);
        f.submit(&r, &req).unwrap();
    }
    // A reception queued while the service is unreachable holds the request too.
    let (_, journal) = f.into_parts();
    let mut down = Forwarder::new(patient_client(&format!("http://127.0.0.1:{}", free_port())), journal);
    let (mut vc, cert) = card("yamada");
    let issued = down.challenge().expect("a challenge");
    let sig = card_sign(&mut vc, "1234", &issued.challenge);
    let v = pin_identity(&cert, issued.challenge, &sig, Consents::NONE);
    let r = reception_of("SK-0042", 101, 1, &v);
    assert!(matches!(
        down.submit(&r, &request_of(&ReceptionKey::of(&r), &v, false, true)).unwrap(),
        Outcome::Queued(_)
    ));
    let entries = down.journal().entries().unwrap();
    assert_eq!(entries.len(), personas.len() + 1);
    assert!(entries.iter().any(|e| e
        .reception
        .eligibility
        .as_ref()
        .and_then(|e| e.qualification.as_ref())
        .map(|q| q.name.as_str())
        == Some("髙﨑　𠮷乃")));
    drop(down);

    let mut files = vec![("journal", db_bytes(&journal_path))];
    env.server.as_ref().unwrap();
    files.push(("service", db_bytes(&env.db())));
    for (what, bytes) in &files {
        assert!(bytes.len() > 4096, "{what} database read");
        // The scan sees the stored text (a name outside JIS X 0208, in UTF-8).
        assert!(
            bytes.windows(6).any(|w| w == "髙﨑".as_bytes()),
            "{what}: stored text not visible to the scan"
        );
        let twelve = digit_runs(bytes, 12);
        assert!(twelve.is_empty(), "{what}: 12-digit runs (My Number-like) {twelve:?}");
        let four = digit_runs(bytes, 4);
        for p in &personas {
            // Anywhere, as text or as a SQLite integer (6 or 8 bytes big-endian).
            let n = p.my_number();
            let int: u64 = n.parse().unwrap();
            for pattern in [n.as_bytes(), &int.to_be_bytes()[2..], &int.to_be_bytes()[..]] {
                assert!(!bytes.windows(pattern.len()).any(|w| w == pattern), "{what}: My Number of {}", p.id);
            }
            if let Some(pin) = &p.pin {
                assert!(!four.contains(pin), "{what}: PIN of {} found", p.id);
            }
            if let Some(pw) = &p.sign_password {
                assert!(
                    !bytes.windows(pw.len()).any(|w| w == pw.as_bytes()),
                    "{what}: sign password of {}",
                    p.id
                );
            }
            let b = p.code_b();
            assert!(!bytes.windows(b.len()).any(|w| w == b.as_bytes()), "{what}: 照合番号B of {}", p.id);
        }
        let lower = String::from_utf8_lossy(bytes).to_ascii_lowercase();
        // ("pin" appears as the method's name, never as a field or a column.)
        assert!(!lower.contains("\"pin\":") && !lower.contains("pin text"), "{what}: a PIN field");
        assert!(!lower.contains("my_number"), "{what}: a My Number field");
        // No image: PNG and JPEG 2000 signatures.
        assert!(!bytes.windows(8).any(|w| w == b"\x89PNG\r\n\x1a\n"), "{what}: PNG");
        assert!(!bytes.windows(4).any(|w| w == b"\xff\x4f\xff\x51"), "{what}: JPEG 2000");
    }
}
