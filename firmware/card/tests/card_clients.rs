//! The applet clients against a scripted card: every command byte is checked, the answers come
//! from the fixtures of a real test card.

use shikaku_card::commands::sha256_digest_info;
use shikaku_card::cv_cert::CvCertificate;
use shikaku_card::der::Certificate;
use shikaku_card::io::{CardIo, Sizing};
use shikaku_card::jpki::{CardKind, Jpki};
use shikaku_card::secret::CollationB;
use shikaku_card::surface_ap::{self, SurfaceAp, CARD_FACE_MAX_LEN};
use shikaku_card::testing::{LinkError, ScriptedCard};
use shikaku_card::text_ap::{Sex, TextAp, BASIC_FOUR_MAX_LEN};
use shikaku_card::{CardError, Date, ParseError, Pin4, PinStatus, VerifyError};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/myna-testcard/", $name))
    };
}

const SELECT_JPKI: [u8; 15] =
    [0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
const SELECT_TEXT: [u8; 15] =
    [0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];
const SELECT_SURFACE: [u8; 15] =
    [0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x02];
const SELECT_AUTH_PIN: [u8; 7] = [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18];
const VERIFY_STATUS: [u8; 4] = [0x00, 0x20, 0x00, 0x80];
const VERIFY_1234: [u8; 9] = [0x00, 0x20, 0x00, 0x80, 0x04, b'1', b'2', b'3', b'4'];

fn pin() -> Pin4 {
    Pin4::from_ascii(b"1234").unwrap()
}

/// SELECT JPKI, SELECT EF 0018, VERIFY status answering `status`.
fn jpki_pin_status(status: u16) -> ScriptedCard {
    ScriptedCard::new()
        .expect_sw(&SELECT_JPKI, 0x9000)
        .expect_sw(&SELECT_AUTH_PIN, 0x9000)
        .expect_sw(&VERIFY_STATUS, status)
}

// ---------------------------------------------------------------- JPKI

#[test]
fn jpki_reads_and_verifies_the_auth_certificate() {
    let cert = fixture!("jpki-auth-cert.der");
    let ca = fixture!("jpki-auth-ca-cert.der");
    let mut card = ScriptedCard::new()
        .expect_sw(&SELECT_JPKI, 0x9000)
        .read_ef(0x000A, cert, cert.len())
        .read_ef(0x000B, ca, ca.len());
    let mut io = CardIo::new(&mut card);
    let mut jpki = Jpki::select(&mut io).unwrap();
    let mut cert_buf = [0u8; 2048];
    let mut ca_buf = [0u8; 2048];
    let got = jpki.read_auth_cert(&mut cert_buf).unwrap();
    assert_eq!(got, cert);
    let got_ca = jpki.read_auth_ca_cert(&mut ca_buf).unwrap();
    assert_eq!(got_ca, ca);
    let leaf = Certificate::parse(got).unwrap();
    leaf.verify_issued_by(&Certificate::parse(got_ca).unwrap()).unwrap();
    card.finish();
}

#[test]
fn jpki_card_kinds() {
    for (label, kind) in [
        (&b"JPKIAPICCTOKEN2"[..], CardKind::PhysicalCard),
        (b"JPKIAPGPSETOKEN", CardKind::Android),
        (b"JPKIAPIOSTOKEN", CardKind::Iphone),
        (b"SOMETHINGELSE", CardKind::Unknown),
    ] {
        let mut info = [b' '; 32].to_vec();
        info[..label.len()].copy_from_slice(label);
        info.extend_from_slice(&[0x90, 0x00]);
        let mut card = ScriptedCard::new()
            .expect_sw(&SELECT_JPKI, 0x9000)
            .expect_sw(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x06], 0x9000)
            .expect(&[0x00, 0xB0, 0x00, 0x00, 0x20], &info);
        let mut io = CardIo::new(&mut card);
        assert_eq!(Jpki::select(&mut io).unwrap().card_kind().unwrap(), kind);
        card.finish();
    }
}

#[test]
fn pin_status_costs_no_try() {
    for (sw, status) in [
        (0x63C3, PinStatus::TriesLeft(3)),
        (0x63C2, PinStatus::TriesLeft(2)),
        (0x63C1, PinStatus::TriesLeft(1)),
        (0x63C0, PinStatus::Locked),
        (0x6984, PinStatus::Locked),
        (0x9000, PinStatus::Verified),
    ] {
        let mut card = jpki_pin_status(sw);
        let mut io = CardIo::new(&mut card);
        let got = Jpki::select(&mut io).unwrap().auth_pin_status().unwrap();
        assert_eq!(got, status, "{sw:04X}");
        card.finish();
    }
    assert_eq!(PinStatus::TriesLeft(3).tries_left(), Some(3));
    // Anything else is an error, not a guess.
    let mut card = jpki_pin_status(0x6A82);
    let mut io = CardIo::new(&mut card);
    assert_eq!(Jpki::select(&mut io).unwrap().auth_pin_status(), Err(CardError::NotFound));
}

#[test]
fn verify_auth_pin_with_tries_left() {
    let mut card = jpki_pin_status(0x63C3).expect_sw(&VERIFY_1234, 0x9000);
    let mut io = CardIo::new(&mut card);
    Jpki::select(&mut io).unwrap().verify_auth_pin(&pin(), None).unwrap();
    card.finish();

    // A wrong PIN reports what is left.
    let mut card = jpki_pin_status(0x63C3).expect_sw(&VERIFY_1234, 0x63C2);
    let mut io = CardIo::new(&mut card);
    let err = Jpki::select(&mut io).unwrap().verify_auth_pin(&pin(), None).unwrap_err();
    assert_eq!(err, CardError::WrongPin { tries_left: 2 });
    card.finish();
}

#[test]
fn one_try_left_needs_confirmation() {
    // Without a confirmation nothing is sent after the status query.
    let mut card = jpki_pin_status(0x63C1);
    let mut io = CardIo::new(&mut card);
    let err = Jpki::select(&mut io).unwrap().verify_auth_pin(&pin(), None).unwrap_err();
    assert_eq!(err, CardError::LastTryNotConfirmed);
    card.finish();

    // With it, the last try is spent; wrong → 63C0 → no tries left.
    let mut card = jpki_pin_status(0x63C1).expect_sw(&VERIFY_1234, 0x63C0);
    let mut io = CardIo::new(&mut card);
    let confirm = PinStatus::TriesLeft(1).confirm_last_try();
    assert!(confirm.is_some());
    let err = Jpki::select(&mut io).unwrap().verify_auth_pin(&pin(), confirm).unwrap_err();
    assert_eq!(err, CardError::WrongPin { tries_left: 0 });
    card.finish();

    // Confirmed and right.
    let mut card = jpki_pin_status(0x63C1).expect_sw(&VERIFY_1234, 0x9000);
    let mut io = CardIo::new(&mut card);
    let confirm = PinStatus::TriesLeft(1).confirm_last_try();
    Jpki::select(&mut io).unwrap().verify_auth_pin(&pin(), confirm).unwrap();
    card.finish();
}

#[test]
fn locked_pins_are_never_tried() {
    for status in [0x63C0, 0x6984] {
        let mut card = jpki_pin_status(status);
        let mut io = CardIo::new(&mut card);
        let err = Jpki::select(&mut io).unwrap().verify_auth_pin(&pin(), None).unwrap_err();
        assert_eq!(err, CardError::Locked);
        assert!(err.remedy().contains("municipal office"));
        card.finish();
    }
    // A card that answers 6984 to the VERIFY itself.
    let mut card = jpki_pin_status(0x63C2).expect_sw(&VERIFY_1234, 0x6984);
    let mut io = CardIo::new(&mut card);
    let err = Jpki::select(&mut io).unwrap().verify_auth_pin(&pin(), None).unwrap_err();
    assert_eq!(err, CardError::Locked);
    card.finish();
}

#[test]
fn sign_with_the_auth_key() {
    let message = b"eligibility challenge";
    let hash: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::digest(message).into()
    };
    let mut command = vec![0x80, 0x2A, 0x00, 0x80, 0x33];
    command.extend_from_slice(&sha256_digest_info(&hash));
    command.push(0x00);
    let mut answer = vec![0x5A; 256];
    answer.extend_from_slice(&[0x90, 0x00]);
    let mut card = ScriptedCard::new()
        .expect_sw(&SELECT_JPKI, 0x9000)
        .expect_sw(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x17], 0x9000)
        .expect(&command, &answer)
        .expect_sw(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x17], 0x9000)
        .expect(&command, &answer[1..])
        .expect_sw(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x17], 0x9000)
        .expect_sw(&command, 0x6982);
    let mut io = CardIo::new(&mut card);
    let mut jpki = Jpki::select(&mut io).unwrap();
    let mut signature = [0u8; 256];
    jpki.sign_with_auth_key(message, &mut signature).unwrap();
    assert_eq!(signature, [0x5A; 256]);
    assert_eq!(
        jpki.sign_hash_with_auth_key(&hash, &mut signature),
        Err(CardError::UnexpectedResponseLength { len: 255 })
    );
    assert_eq!(
        jpki.sign_hash_with_auth_key(&hash, &mut signature),
        Err(CardError::SecurityStatusNotSatisfied)
    );
    card.finish();
}

#[test]
fn garbage_from_the_card_is_a_typed_error() {
    let mut buf = [0u8; 2048];

    // A one-byte answer.
    let mut card = ScriptedCard::new().expect(&SELECT_JPKI, &[0x90]);
    let mut io = CardIo::new(&mut card);
    assert_eq!(Jpki::select(&mut io).err(), Some(CardError::ResponseTooShort));

    // Data where none belongs.
    let mut card = ScriptedCard::new().expect(&SELECT_JPKI, &[0x01, 0x90, 0x00]);
    let mut io = CardIo::new(&mut card);
    assert_eq!(Jpki::select(&mut io).err(), Some(CardError::UnexpectedResponseLength { len: 1 }));

    // No such applet; a link that drops.
    let mut card = ScriptedCard::new().expect_sw(&SELECT_JPKI, 0x6A82);
    let mut io = CardIo::new(&mut card);
    assert_eq!(Jpki::select(&mut io).err(), Some(CardError::NotFound));
    let mut card = ScriptedCard::new().expect_link_error(&SELECT_JPKI, LinkError::Dropped);
    let mut io = CardIo::new(&mut card);
    assert_eq!(Jpki::select(&mut io).err(), Some(CardError::Transport(LinkError::Dropped)));

    // A certificate with an indefinite length, one larger than the buffer, one cut short.
    for (first, err) in [
        (&[0x30, 0x80, 0x00, 0x00][..], CardError::Parse(ParseError::BadLength)),
        (&[0x30, 0x82, 0x7F, 0x00][..], CardError::BufferTooSmall { capacity: 2048 }),
        (&[0x30, 0x82, 0x01, 0x00][..], CardError::Parse(ParseError::Truncated)),
    ] {
        let mut answer = first.to_vec();
        answer.extend_from_slice(&[0x90, 0x00]);
        let mut card = ScriptedCard::new()
            .expect_sw(&SELECT_JPKI, 0x9000)
            .expect_sw(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A], 0x9000)
            .expect(&[0x00, 0xB0, 0x00, 0x00, 0x00], &answer);
        let mut io = CardIo::new(&mut card);
        let mut jpki = Jpki::select(&mut io).unwrap();
        assert_eq!(jpki.read_auth_cert(&mut buf).err(), Some(err));
        card.finish();
    }

    // More data than asked for.
    let mut answer = vec![0x30; 40];
    answer.extend_from_slice(&[0x90, 0x00]);
    let mut card = ScriptedCard::new()
        .expect_sw(&SELECT_JPKI, 0x9000)
        .expect_sw(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x06], 0x9000)
        .expect(&[0x00, 0xB0, 0x00, 0x00, 0x20], &answer);
    let mut io = CardIo::new(&mut card);
    assert_eq!(
        Jpki::select(&mut io).unwrap().card_kind(),
        Err(CardError::UnexpectedResponseLength { len: 40 })
    );
    card.finish();

    // Android before the PIN: 6982 on the certificate.
    let mut card = ScriptedCard::new()
        .expect_sw(&SELECT_JPKI, 0x9000)
        .expect_sw(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A], 0x9000)
        .expect_sw(&[0x00, 0xB0, 0x00, 0x00, 0x00], 0x6982);
    let mut io = CardIo::new(&mut card);
    assert_eq!(
        Jpki::select(&mut io).unwrap().read_auth_cert(&mut buf).err(),
        Some(CardError::SecurityStatusNotSatisfied)
    );
}

#[test]
fn reading_stops_at_6b00_and_short_reads() {
    let data: Vec<u8> = (0..=255u8).cycle().take(300).collect();
    let mut first = data[..256].to_vec();
    first.extend_from_slice(&[0x90, 0x00]);
    let mut second = data[256..].to_vec();
    second.extend_from_slice(&[0x90, 0x00]);
    // Short read ends the file.
    let mut card = ScriptedCard::new()
        .expect(&[0x00, 0xB0, 0x00, 0x00, 0x00], &first)
        .expect(&[0x00, 0xB0, 0x01, 0x00, 0x00], &second);
    let mut io = CardIo::new(&mut card);
    let mut buf = [0u8; 1024];
    assert_eq!(io.read_ef(&mut buf, Sizing::UntilEnd), Ok(300));
    assert_eq!(&buf[..300], &data[..]);
    card.finish();
    // 6B00 after a full step ends it too; 6B00 on the first step is an error.
    let mut card = ScriptedCard::new()
        .expect(&[0x00, 0xB0, 0x00, 0x00, 0x00], &first)
        .expect_sw(&[0x00, 0xB0, 0x01, 0x00, 0x00], 0x6B00)
        .expect_sw(&[0x00, 0xB0, 0x00, 0x00, 0x00], 0x6B00);
    let mut io = CardIo::new(&mut card);
    assert_eq!(io.read_ef(&mut buf, Sizing::UntilEnd), Ok(256));
    assert_eq!(io.read_ef(&mut buf, Sizing::UntilEnd), Err(CardError::WrongOffset));
    card.finish();
    // A buffer too small for what the card keeps sending.
    let mut card = ScriptedCard::new()
        .expect(&[0x00, 0xB0, 0x00, 0x00, 0x00], &first)
        .expect(&[0x00, 0xB0, 0x01, 0x00, 0x00], &second);
    let mut io = CardIo::new(&mut card);
    let mut small = [0u8; 280];
    assert_eq!(io.read_ef(&mut small, Sizing::UntilEnd), Err(CardError::BufferTooSmall { capacity: 280 }));
    card.finish();
}

// ---------------------------------------------------------------- text applet

#[test]
fn text_applet_with_pin() {
    let basic = fixture!("text-0002.bin");
    let number = fixture!("text-0001-physical.bin");
    let mut card = ScriptedCard::new()
        .expect_sw(&SELECT_TEXT, 0x9000)
        .expect_sw(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x11], 0x9000)
        .expect_sw(&VERIFY_STATUS, 0x63C3)
        .expect_sw(&VERIFY_1234, 0x9000)
        .read_ef(0x0002, basic, basic.len())
        // The 個人番号 file carries filler: the TLV says 15 bytes, the card sends 17.
        .read_ef(0x0001, number, 15);
    let mut io = CardIo::new(&mut card);
    let mut text = TextAp::select(&mut io).unwrap();
    text.verify_pin(&pin(), None).unwrap();
    let mut buf = [0u8; BASIC_FOUR_MAX_LEN];
    let b = text.read_basic_four(&mut buf).unwrap();
    assert_eq!(b.name, "黒桐　幹也");
    assert_eq!(b.date_of_birth, Date::new(1980, 2, 17).unwrap());
    assert_eq!(b.sex, Sex::Male);
    let n = text.read_my_number_sensitive(None).unwrap();
    assert_eq!(n.expose_sensitive_digits(), b"537686677188");
    card.finish();
}

#[test]
fn text_applet_checks_what_it_reads_against_its_signed_records() {
    let cv = fixture!("text-0004.bin");
    let integrity = fixture!("text-0003.bin");
    let applet_key = fixture!("text-0007.bin");
    let number = fixture!("text-0001-physical.bin");
    let mut wrong_number = number.to_vec();
    wrong_number[5] = b'0';
    let mut card = ScriptedCard::new()
        .expect_sw(&SELECT_TEXT, 0x9000)
        .read_ef(0x0004, cv, cv.len())
        .read_ef(0x0003, integrity, integrity.len())
        .read_ef(0x0007, applet_key, applet_key.len())
        .read_ef(0x0001, number, number.len())
        .read_ef(0x0001, &wrong_number, number.len());
    let mut io = CardIo::new(&mut card);
    let mut text = TextAp::select(&mut io).unwrap();
    let mut cv_buf = [0u8; 1024];
    let mut integrity_buf = [0u8; 512];
    let mut key_buf = [0u8; 1024];
    let cert = text.read_cv_cert(&mut cv_buf).unwrap();
    let record = text.read_integrity_record(&mut integrity_buf).unwrap();
    record.verify(&cert.public_key).unwrap();
    let key = text.read_applet_key_record(&mut key_buf).unwrap();
    key.verify(&cert.public_key).unwrap();
    let n = text.read_my_number_sensitive(Some(&record)).unwrap();
    assert_eq!(n.expose_sensitive_digits(), b"537686677188");
    assert_eq!(
        text.read_my_number_sensitive(Some(&record)).err(),
        Some(CardError::Verify(VerifyError::DigestMismatch))
    );
    card.finish();
}

#[test]
fn text_applet_with_collation_b() {
    let mut command = vec![0x00, 0x20, 0x00, 0x80, 0x0E];
    command.extend_from_slice(b"55021720352285");
    let mut card = ScriptedCard::new()
        .expect_sw(&SELECT_TEXT, 0x9000)
        .expect_sw(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x15], 0x9000)
        .expect_sw(&VERIFY_STATUS, 0x63CA)
        .expect_sw(&command, 0x9000);
    let mut io = CardIo::new(&mut card);
    let code = CollationB::from_dob(Date::new(1980, 2, 17).unwrap(), 2035, b"2285").unwrap();
    TextAp::select(&mut io).unwrap().verify_collation_b(&code, None).unwrap();
    card.finish();
}

// ---------------------------------------------------------------- surface applet

#[test]
fn surface_applet_opens_reads_and_verifies_the_face() {
    let face = fixture!("surface-0002.bin");
    let cv = fixture!("surface-0004.bin");
    let mut command = vec![0x00, 0x20, 0x00, 0x80, 0x0E];
    command.extend_from_slice(b"55021720352285");
    let mut card = ScriptedCard::new()
        .expect_sw(&SELECT_SURFACE, 0x9000)
        .expect_sw(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x12], 0x9000)
        .expect_sw(&VERIFY_STATUS, 0x63CA)
        .expect_sw(&command, 0x9000)
        .read_ef(0x0004, cv, cv.len())
        .read_ef(0x0002, face, face.len());
    let mut io = CardIo::new(&mut card);
    let mut surface = SurfaceAp::select(&mut io).unwrap();
    let code = CollationB::from_parts(b"550217", 2035, b"2285").unwrap();
    surface.verify_collation_b(&code, None).unwrap();
    let mut cv_buf = [0u8; 1024];
    let cert = surface.read_cv_cert(&mut cv_buf).unwrap();
    let mut face_buf = [0u8; CARD_FACE_MAX_LEN];
    let record = surface.read_card_face(&mut face_buf).unwrap();
    record.verify(&cert.public_key).unwrap();
    assert_eq!(record.photo_jp2.len(), 1854);
    card.finish();
}

#[test]
fn surface_collation_b_rules() {
    let code = CollationB::from_parts(b"550217", 2035, b"2285").unwrap();
    let select_b = [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x12];
    let mut card = ScriptedCard::new()
        .expect_sw(&SELECT_SURFACE, 0x9000)
        .expect_sw(&select_b, 0x9000)
        .expect_sw(&VERIFY_STATUS, 0x63C1)
        .expect_sw(&select_b, 0x9000)
        .expect_sw(&VERIFY_STATUS, 0x6984);
    let mut io = CardIo::new(&mut card);
    let mut surface = SurfaceAp::select(&mut io).unwrap();
    assert_eq!(surface.verify_collation_b(&code, None), Err(CardError::LastTryNotConfirmed));
    assert_eq!(surface.verify_collation_b(&code, None), Err(CardError::Locked));
    card.finish();
}

/// The genuineness check with a stand-in: no private key of the test card is available, so the
/// scripted card answers the challenge "the body of mf-do-7F21" with that certificate's
/// signature, made by the key in mf-do-F8. Same construction: PKCS#1 v1.5 over
/// DigestInfo(SHA-256(challenge)).
#[test]
fn chip_genuineness_challenge() {
    let signer = CvCertificate::parse(fixture!("mf-do-F8.bin")).unwrap();
    let signed = CvCertificate::parse(fixture!("mf-do-7F21.bin")).unwrap();
    let challenge = signed.body;
    let hash: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::digest(challenge).into()
    };
    let mut command = vec![0x80, 0x2A, 0x00, 0x00, 0x33];
    command.extend_from_slice(&sha256_digest_info(&hash));
    command.push(0x00);
    let mut answer = signed.signature.to_vec();
    answer.extend_from_slice(&[0x90, 0x00]);
    let mut forged = answer.clone();
    forged[7] ^= 0x01;

    let mut card = ScriptedCard::new()
        .expect_sw(&SELECT_SURFACE, 0x9000)
        .expect(&command, &answer)
        .expect(&command, &forged);
    let mut io = CardIo::new(&mut card);
    let mut surface = SurfaceAp::select(&mut io).unwrap();
    surface.prove_genuine(challenge, &signer.public_key).unwrap();
    assert_eq!(
        surface.prove_genuine(challenge, &signer.public_key),
        Err(CardError::Verify(VerifyError::BadSignature))
    );
    card.finish();

    // The text applet uses the same exchange.
    let mut card = ScriptedCard::new().expect_sw(&SELECT_TEXT, 0x9000).expect(&command, &answer);
    let mut io = CardIo::new(&mut card);
    TextAp::select(&mut io).unwrap().prove_genuine(challenge, &signer.public_key).unwrap();
    card.finish();

    // And the free function, for callers holding a CardIo.
    let mut card = ScriptedCard::new().expect_sw(&command, 0x6982);
    let mut io = CardIo::new(&mut card);
    let mut sig = [0u8; 256];
    assert_eq!(
        surface_ap::prove_genuine(&mut io, challenge, &signer.public_key, &mut sig),
        Err(CardError::SecurityStatusNotSatisfied)
    );
}

#[test]
fn mf_objects_by_get_data() {
    let f8 = fixture!("mf-do-F8.bin");
    let d7 = fixture!("mf-do-7F21.bin");
    let with_sw = |b: &[u8]| [b, &[0x90, 0x00][..]].concat();
    let mut card = ScriptedCard::new()
        .expect(&[0x00, 0xCA, 0x00, 0xF8, 0x00], &with_sw(f8))
        .expect(&[0x00, 0xCA, 0x7F, 0x21, 0x00], &with_sw(d7));
    let mut io = CardIo::new(&mut card);
    let mut a = [0u8; 1024];
    let mut b = [0u8; 1024];
    let top = CvCertificate::parse(io.get_data(0x00F8, &mut a).unwrap()).unwrap();
    let below = CvCertificate::parse(io.get_data(0x7F21, &mut b).unwrap()).unwrap();
    below.verify_issued_by(&top).unwrap();
    card.finish();
}
