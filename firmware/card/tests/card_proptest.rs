//! Whatever the card answers, the parsers and clients return a value or a typed error: never a
//! panic. Random bytes, and fixtures with random damage (which get much further in).

use proptest::prelude::*;

use shikaku_card::apdu::ApduTransport;
use shikaku_card::cv_cert::CvCertificate;
use shikaku_card::der::{self, Certificate};
use shikaku_card::io::{CardIo, Sizing};
use shikaku_card::jpki::Jpki;
use shikaku_card::surface_ap::{AgeRecord, CardFace, Jp2Header};
use shikaku_card::text_ap::{AppletKeyRecord, BasicFour, IntegrityRecord, MyNumber};
use shikaku_card::{tlv, Date, DateTime, Pin4, RsaPublicKey};

macro_rules! fixture {
    ($name:literal) => {{
        let bytes: &[u8] = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/myna-testcard/",
            $name
        ));
        bytes
    }};
}

const FIXTURES: [&[u8]; 13] = [
    fixture!("surface-0001.bin"),
    fixture!("text-0003.bin"),
    fixture!("text-0007.bin"),
    fixture!("surface-0002.bin"),
    fixture!("surface-0004.bin"),
    fixture!("text-0001-physical.bin"),
    fixture!("text-0002.bin"),
    fixture!("mf-do-F8.bin"),
    fixture!("mf-do-7F21.bin"),
    fixture!("cv-certificate-synthetic.bin"),
    fixture!("cv-ca-key-synthetic.bin"),
    fixture!("jpki-auth-cert.der"),
    fixture!("jpki-auth-ca-cert.der"),
];

/// Runs every parser (and the checks behind them) over `bytes`.
fn parse_everything(bytes: &[u8]) {
    let _ = tlv::parse(bytes);
    let _ = tlv::iter(bytes).take(64).count();
    let _ = tlv::encoded_len(bytes);
    let _ = der::read(bytes);
    let ca = Certificate::parse(fixture!("jpki-auth-ca-cert.der")).unwrap();
    if let Ok(c) = Certificate::parse(bytes) {
        let _ = c.verify_issued_by(&ca);
    }
    if let Ok(c) = CvCertificate::parse(bytes) {
        let _ = c.verify_with(&c.public_key);
    }
    let _ = BasicFour::parse(bytes);
    let _ = MyNumber::parse(bytes);
    if let Ok(face) = CardFace::parse(bytes) {
        let _ = face.verify(&face.card_key);
        let _ = Jp2Header::parse(face.photo_jp2);
    }
    let _ = Jp2Header::parse(bytes);
    if let Ok(r) = AgeRecord::parse(bytes) {
        let _ = r.verify(&r.card_key);
    }
    if let Ok(r) = IntegrityRecord::parse(bytes) {
        let _ = r.check_basic_four(bytes);
        let _ = r.check_my_number_file(bytes);
    }
    if let Ok(r) = AppletKeyRecord::parse(bytes) {
        let _ = r.verify(&r.applet_key);
    }
    if let Ok(key) = RsaPublicKey::parse_card_encoding(bytes) {
        let _ = key.verify_sha256(b"m", &[0x01; 256]);
    }
    let _ = Date::parse_yyyymmdd(bytes);
    let _ = DateTime::parse_utc_time(bytes);
    let _ = DateTime::parse_generalized_time(bytes);
}

/// A card that answers each command with the next canned response.
struct Chaos(Vec<Vec<u8>>);

impl ApduTransport for Chaos {
    type Error = ();
    fn transceive(&mut self, _command: &[u8], response: &mut [u8]) -> Result<usize, ()> {
        let answer = if self.0.is_empty() { return Err(()) } else { self.0.remove(0) };
        let n = answer.len().min(response.len());
        response[..n].copy_from_slice(&answer[..n]);
        Ok(n)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        parse_everything(&bytes);
    }

    #[test]
    fn damaged_fixtures_never_panic(
        which in 0..FIXTURES.len(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut bytes = FIXTURES[which].to_vec();
        for (at, value) in flips {
            let i = at % bytes.len();
            bytes[i] = value;
        }
        parse_everything(&bytes);
        parse_everything(&bytes[..cut % (bytes.len() + 1)]);
    }

    #[test]
    fn random_card_answers_never_panic(
        answers in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..12),
    ) {
        let mut card = Chaos(answers);
        let mut io = CardIo::new(&mut card);
        let mut buf = [0u8; 1024];
        let _ = io.read_ef(&mut buf, Sizing::Tlv);
        let _ = io.read_ef(&mut buf, Sizing::UntilEnd);
        let _ = io.get_data(0x7F21, &mut buf);
        if let Ok(mut jpki) = Jpki::select(&mut io) {
            let _ = jpki.card_kind();
            let _ = jpki.auth_pin_status();
            let _ = jpki.verify_auth_pin(&Pin4::from_ascii(b"0000").unwrap(), None);
            let mut sig = [0u8; 256];
            let _ = jpki.sign_hash_with_auth_key(&[0; 32], &mut sig);
            let _ = jpki.read_auth_cert(&mut buf);
        }
    }
}
