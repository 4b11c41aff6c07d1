//! Full reader stack against the virtual My Number card over the simulated air interface:
//! firmware applet clients (`card`) → ISO 7816-4 → ISO/IEC 14443-4 → Type B activation →
//! simulated frontend → PICC side → virtual card. Error-free and with lost/corrupted frames.

use rsa::Pkcs1v15Sign;
use sha2::{Digest, Sha256};
use shikaku_card::io::SIGNATURE_LEN;
use shikaku_card::jpki::{CardKind, Jpki, MAX_CERT_LEN};
use shikaku_card::{CardIo, Pin4};
use shikaku_firmware::nfc::frontend::Timeout;
use shikaku_firmware::nfc::iso_dep::{IsoDep, IsoDepConfig};
use shikaku_firmware::nfc::type_b::{self, ActivationConfig};
use shikaku_hil::sim_frontend::{FaultConfig, SimCardConfig, SimFrontend, WtxConfig};
use shikaku_hil::vcard::card::VirtualCard;
use shikaku_hil::vcard::persona::{self, Date};
use shikaku_hil::vcard::{self, AtrChoice, Issued};

fn card() -> (VirtualCard, Issued) {
    let p = persona::find("yamada").expect("persona yamada");
    vcard::build_at(&p, Date::today(), &AtrChoice::Contactless).expect("card builds")
}

fn session(config: SimCardConfig, faults: FaultConfig, retries: u8) {
    let (card, issued) = card();
    let fsci = config.protocol_info[1] >> 4;
    let mut sim = SimFrontend::with_config(card, config, faults);
    let act = type_b::activate(&mut sim, &ActivationConfig { cid: Some(1), ..ActivationConfig::default() })
        .expect("activation");
    assert_eq!(act.atqb.protocol.fsci, fsci);
    let mut link = IsoDep::with_config(
        sim,
        act.params,
        IsoDepConfig { max_retries: retries, ..IsoDepConfig::default() },
    );

    let mut io = CardIo::new(&mut link);
    let mut jpki = Jpki::select(&mut io).expect("select JPKI");
    let mut buf = [0u8; MAX_CERT_LEN];
    let cert = jpki.read_auth_cert(&mut buf).expect("auth certificate");
    assert_eq!(cert, &issued.auth_cert[..]);
    assert_eq!(jpki.card_kind().expect("token info"), CardKind::PhysicalCard);

    let pin = issued.persona.pin.as_deref().expect("persona has a PIN");
    let pin = Pin4::from_ascii(pin.as_bytes()).expect("4 digits");
    jpki.verify_auth_pin(&pin, None).expect("verify");
    let mut signature = [0u8; SIGNATURE_LEN];
    jpki.sign_with_auth_key(b"shikaku over the air", &mut signature).expect("sign");
    let hash = Sha256::digest(b"shikaku over the air");
    issued
        .auth_key
        .to_public_key()
        .verify(Pkcs1v15Sign::new::<Sha256>(), &hash, &signature)
        .expect("signature verifies");

    link.deselect().expect("deselect");
}

#[test]
fn jpki_over_the_air_error_free() {
    session(SimCardConfig::default(), FaultConfig::default(), 3);
}

#[test]
fn jpki_over_the_air_with_wtx_on_every_command() {
    let config =
        SimCardConfig { wtx: Some(WtxConfig { wtxm: 2, rounds: 1, every: 1 }), ..SimCardConfig::default() };
    session(config, FaultConfig::default(), 3);
}

#[test]
fn jpki_over_the_air_with_5_percent_frame_errors() {
    for seed in 1..=4 {
        session(SimCardConfig::default(), FaultConfig::rate(seed, 50_000), 5);
    }
}

#[test]
fn jpki_over_the_air_with_small_frames() {
    let config = SimCardConfig { protocol_info: [0xB3, 0x21, 0xA1], ..SimCardConfig::default() };
    session(config, FaultConfig::rate(9, 10_000), 4);
}

#[test]
fn jpki_signing_slower_than_fwt_gets_wtx() {
    // RSA-2048 signing taking 700 ms on a card with FWI 10 (≈ 309 ms): the card asks for
    // time with S(WTX), under 2 % frame errors.
    let config = SimCardConfig {
        slow_commands: vec![(0x2A, Timeout::from_micros(700_000))],
        ..SimCardConfig::default()
    };
    session(config, FaultConfig::rate(21, 20_000), 4);
}

/// Opens the surface AP with 照合番号B and reads the 3 KB card face record of the fixture card
/// (real test-card bytes) over the air, chained in FSC-sized blocks, then checks its DF28
/// signature with the applet's CV certificate read the same way.
fn face_record_over_the_air(config: SimCardConfig, faults: FaultConfig, retries: u8) {
    use shikaku_card::secret::CollationB;
    use shikaku_card::surface_ap::SurfaceAp;
    let p = persona::find("fixture").expect("persona fixture");
    let (card, _) = vcard::build_at(&p, Date::today(), &AtrChoice::Contactless).expect("card builds");
    let mut sim = SimFrontend::with_config(card, config, faults);
    let act = type_b::activate(&mut sim, &ActivationConfig { cid: Some(1), ..ActivationConfig::default() })
        .expect("activation");
    let mut link = IsoDep::with_config(
        sim,
        act.params,
        IsoDepConfig { max_retries: retries, ..IsoDepConfig::default() },
    );
    let mut io = CardIo::new(&mut link);
    let mut ap = SurfaceAp::select(&mut io).expect("surface AP");
    let code = CollationB::from_ascii(b"55021720352285").expect("照合番号B");
    ap.verify_collation_b(&code, None).expect("opens with 照合番号B");
    let mut cv_buf = [0u8; 1024];
    let cv = ap.read_cv_cert(&mut cv_buf).expect("CV certificate");
    let mut buf = [0u8; 4096];
    let face = ap.read_card_face(&mut buf).expect("card face record");
    let fixture = vcard::fixture("surface-0002.bin").expect("fixture");
    assert_eq!(face.photo_jp2.len(), 1854);
    assert!(fixture.windows(face.photo_jp2.len()).any(|w| w == face.photo_jp2), "byte for byte");
    face.verify(&cv.public_key).expect("DF28 verifies with the applet's CV key");
    assert!(link.frontend().counters().picc_frames >= 13, "the record came in chained blocks");
}

#[test]
fn face_record_over_the_air_error_free() {
    face_record_over_the_air(SimCardConfig::default(), FaultConfig::default(), 3);
}

#[test]
fn face_record_over_the_air_with_small_frames_and_5_percent_errors() {
    let config = SimCardConfig { protocol_info: [0xB3, 0x21, 0xA1], ..SimCardConfig::default() };
    for seed in 1..=3 {
        face_record_over_the_air(config.clone(), FaultConfig::rate(seed, 50_000), 5);
    }
}

#[test]
fn mf_cv_certificate_chain_over_the_air_needs_the_extended_le() {
    // No DF selected: GET DATA 7F21 answers 575 bytes; the card refuses the short Le with 6700
    // and the client asks again with an extended Le, through ISO 14443-4 chaining.
    let p = persona::find("fixture").expect("persona fixture");
    let (card, _) = vcard::build_at(&p, Date::today(), &AtrChoice::Contactless).expect("card builds");
    let mut sim = SimFrontend::with_config(card, SimCardConfig::default(), FaultConfig::rate(5, 20_000));
    let act = type_b::activate(&mut sim, &ActivationConfig::default()).expect("activation");
    let mut link =
        IsoDep::with_config(sim, act.params, IsoDepConfig { max_retries: 5, ..IsoDepConfig::default() });
    let mut io = CardIo::new(&mut link);
    let mut buf = [0u8; 1024];
    let got = io.get_data(0x7F21, &mut buf).expect("GET DATA 7F21");
    let want = vcard::fixture("mf-do-7F21.bin").expect("fixture");
    assert_eq!(got, &want[..], "byte for byte");
}
