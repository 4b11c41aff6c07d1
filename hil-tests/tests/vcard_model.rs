//! Card-model tests of the virtual My Number card, without pcscd: APDUs straight into the
//! model, and the `myna-card` crate driving it through an in-process transport.

use myna_card::ap::jpki::{JpkiAp, SignatureScheme, TokenType};
use myna_card::ap::surface::SurfaceAp;
use myna_card::ap::text::TextAp;
use myna_card::{Card, CardVerifiableCertificate, Certificate, Pin, Retries};
use shikaku_hil::vcard::card::{Applet, VirtualCard, AID_JPKI, AID_SURFACE, AID_TEXT};
use shikaku_hil::vcard::persona::{self, Date};
use shikaku_hil::vcard::{self, fixture, AtrChoice, Issued};
use shikaku_hil::SmartCard;

fn build(id: &str) -> (VirtualCard, Issued) {
    let p = persona::find(id).unwrap_or_else(|| panic!("no persona {id}"));
    vcard::build_at(&p, Date::today(), &AtrChoice::Contactless).expect("card builds")
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Sends an APDU and returns (data, SW).
fn tx(card: &mut VirtualCard, apdu: &[u8]) -> (Vec<u8>, u16) {
    let r = card.process_apdu(apdu);
    assert!(r.len() >= 2, "response too short");
    let (d, sw) = r.split_at(r.len() - 2);
    (d.to_vec(), u16::from_be_bytes([sw[0], sw[1]]))
}

fn sw(card: &mut VirtualCard, apdu: &str) -> u16 {
    tx(card, &hex(apdu)).1
}

fn select_ap(card: &mut VirtualCard, aid: &[u8]) -> u16 {
    let mut a = vec![0x00, 0xA4, 0x04, 0x0C, aid.len() as u8];
    a.extend_from_slice(aid);
    tx(card, &a).1
}

fn select_ef(card: &mut VirtualCard, ef: u16) -> u16 {
    let [h, l] = ef.to_be_bytes();
    tx(card, &[0x00, 0xA4, 0x02, 0x0C, 0x02, h, l]).1
}

fn verify(card: &mut VirtualCard, value: &str) -> u16 {
    let mut a = vec![0x00, 0x20, 0x00, 0x80, value.len() as u8];
    a.extend_from_slice(value.as_bytes());
    tx(card, &a).1
}

/// Reads the whole current EF with READ BINARY chunks of `chunk` bytes until `6B00`/short read.
fn read_all(card: &mut VirtualCard, chunk: u8) -> Result<Vec<u8>, u16> {
    let mut out = Vec::new();
    loop {
        let off = out.len() as u16;
        let [p1, p2] = off.to_be_bytes();
        let (d, s) = tx(card, &[0x00, 0xB0, p1, p2, chunk]);
        match s {
            0x9000 => {
                let short = d.len() < if chunk == 0 { 256 } else { usize::from(chunk) };
                out.extend(d);
                if short {
                    return Ok(out);
                }
            }
            0x6B00 if !out.is_empty() => return Ok(out),
            other => return Err(other),
        }
    }
}

fn read_ef(card: &mut VirtualCard, ef: u16) -> Result<Vec<u8>, u16> {
    match select_ef(card, ef) {
        0x9000 => read_all(card, 0),
        e => Err(e),
    }
}

/// `myna-card` talking to the model in-process.
struct Direct<'a>(&'a mut VirtualCard);

impl myna_card::Transmit for Direct<'_> {
    fn transmit(&mut self, command: &[u8]) -> myna_card::Result<Vec<u8>> {
        Ok(self.0.process_apdu(command))
    }
}

#[test]
fn jpki_access_rules_physical_card() {
    let (mut c, issued) = build("yamada");
    assert_eq!(select_ap(&mut c, &AID_JPKI), 0x9000);
    assert_eq!(read_ef(&mut c, 0x000A), Ok(issued.auth_cert.clone()));
    assert_eq!(read_ef(&mut c, 0x000B), Ok(issued.auth_ca_cert.clone()));
    assert_eq!(read_ef(&mut c, 0x0002), Ok(issued.sign_ca_cert.clone()));
    // Sign cert only after the sign password.
    assert_eq!(read_ef(&mut c, 0x0001), Err(0x6982));
    assert_eq!(select_ef(&mut c, 0x001B), 0x9000);
    assert_eq!(verify(&mut c, "YAMADA2024"), 0x9000);
    assert_eq!(read_ef(&mut c, 0x0001), Ok(issued.sign_cert.clone().unwrap()));
    // Token info: 160 bytes, label in the first 32, space padded.
    let ti = read_ef(&mut c, 0x0006).unwrap();
    assert_eq!(ti.len(), 160);
    assert_eq!(&ti[..32], b"JPKIAPICCTOKEN2                 ");
    // Key and PIN EFs are not readable.
    assert_eq!(select_ef(&mut c, 0x0017), 0x9000);
    assert_eq!(sw(&mut c, "00B0000000"), 0x6981);
    assert_eq!(select_ef(&mut c, 0x0042), 0x6A82);
}

#[test]
fn auth_pin_retry_sequence_and_lock() {
    let (mut c, _) = build("yamada");
    select_ap(&mut c, &AID_JPKI);
    select_ef(&mut c, 0x0018);
    // Query does not spend a try.
    assert_eq!(sw(&mut c, "00200080"), 0x63C3);
    assert_eq!(sw(&mut c, "00200080"), 0x63C3);
    assert_eq!(verify(&mut c, "9999"), 0x63C2);
    assert_eq!(verify(&mut c, "9998"), 0x63C1);
    assert_eq!(verify(&mut c, "9997"), 0x63C0);
    // The 4th answer, and every one after it, is 6984 — even with the right PIN.
    assert_eq!(verify(&mut c, "9996"), 0x6984);
    assert_eq!(verify(&mut c, "1234"), 0x6984);
    assert_eq!(sw(&mut c, "00200080"), 0x63C0);
    // Locked survives a reset and an applet switch.
    c.reset();
    select_ap(&mut c, &AID_JPKI);
    select_ef(&mut c, 0x0018);
    assert_eq!(verify(&mut c, "1234"), 0x6984);
    assert_eq!(c.tries_left(Applet::Jpki, 0x0018), Some(0));
    // Signing is refused.
    select_ef(&mut c, 0x0017);
    let di = vec![0x11; 51];
    let mut a = hex("802A008033");
    a.extend(&di);
    a.push(0);
    assert_eq!(tx(&mut c, &a).1, 0x6982);
}

#[test]
fn correct_pin_resets_the_counter_and_sign_password_has_five() {
    let (mut c, _) = build("yamada");
    select_ap(&mut c, &AID_JPKI);
    select_ef(&mut c, 0x0018);
    assert_eq!(verify(&mut c, "0000"), 0x63C2);
    assert_eq!(verify(&mut c, "1234"), 0x9000);
    assert_eq!(sw(&mut c, "00200080"), 0x63C3);
    select_ef(&mut c, 0x001B);
    assert_eq!(sw(&mut c, "00200080"), 0x63C5);
    assert_eq!(verify(&mut c, "WRONG1"), 0x63C4);
    // VERIFY by short EF id (P2 = 80 | SFI) works without a SELECT.
    assert_eq!(sw(&mut c, "00200098"), 0x63C3);
}

#[test]
fn security_state_is_cleared_on_applet_switch_and_reset() {
    let (mut c, _) = build("yamada");
    select_ap(&mut c, &AID_TEXT);
    select_ef(&mut c, 0x0011);
    assert_eq!(verify(&mut c, "1234"), 0x9000);
    assert!(read_ef(&mut c, 0x0002).is_ok());
    assert_eq!(select_ap(&mut c, &AID_SURFACE), 0x9000);
    assert_eq!(select_ap(&mut c, &AID_TEXT), 0x9000);
    assert_eq!(read_ef(&mut c, 0x0002), Err(0x6982));
    // Re-selecting the same applet clears it too, and so does a reset.
    select_ef(&mut c, 0x0011);
    assert_eq!(verify(&mut c, "1234"), 0x9000);
    select_ap(&mut c, &AID_TEXT);
    assert_eq!(read_ef(&mut c, 0x0002), Err(0x6982));
    select_ef(&mut c, 0x0011);
    assert_eq!(verify(&mut c, "1234"), 0x9000);
    c.reset();
    assert_eq!(sw(&mut c, "00B0000000"), 0x6986);
    select_ap(&mut c, &AID_TEXT);
    assert_eq!(read_ef(&mut c, 0x0002), Err(0x6982));
}

#[test]
fn read_binary_offsets_sfi_and_errors() {
    let (mut c, issued) = build("yamada");
    // No current EF / no DF.
    assert_eq!(sw(&mut c, "00A40000"), 0x6A86);
    assert_eq!(sw(&mut c, "00B0000000"), 0x6986);
    assert_eq!(sw(&mut c, "00B08A0000"), 0x6A82);
    select_ap(&mut c, &AID_JPKI);
    assert_eq!(sw(&mut c, "00B0000000"), 0x6986);
    // SFI form reads and selects.
    let (d, s) = tx(&mut c, &hex("00B08A0004"));
    assert_eq!((s, d.as_slice()), (0x9000, &issued.auth_cert[..4]));
    // Offset form continues on the same EF.
    let (d, s) = tx(&mut c, &hex("00B0010010"));
    assert_eq!((s, d.as_slice()), (0x9000, &issued.auth_cert[0x100..0x110]));
    // Past the end: 6B00; up to the end: short read.
    let len = issued.auth_cert.len();
    let [p1, p2] = (len as u16).to_be_bytes();
    assert_eq!(tx(&mut c, &[0x00, 0xB0, p1, p2, 0x00]).1, 0x6B00);
    let [p1, p2] = (len as u16 - 3).to_be_bytes();
    let (d, s) = tx(&mut c, &[0x00, 0xB0, p1, p2, 0x00]);
    assert_eq!((s, d.len()), (0x9000, 3));
    // Bad P1 for the SFI form, data in a READ BINARY, bad lengths.
    assert_eq!(sw(&mut c, "00B0E00000"), 0x6A86);
    assert_eq!(sw(&mut c, "00B000000100"), 0x6700);
    assert_eq!(sw(&mut c, "00A4"), 0x6700);
    assert_eq!(sw(&mut c, "00A4020C0300"), 0x6700);
    assert_eq!(sw(&mut c, "00A4020C03000A"), 0x6700);
    assert_eq!(sw(&mut c, "00A4040C00"), 0x6700);
    assert_eq!(sw(&mut c, "00A40203020001"), 0x6A86);
    assert_eq!(sw(&mut c, "00A4080C020001"), 0x6A86);
    // ISO MF selection: a no-op inside an applet, refused at power-on; 3F00 is not a file.
    assert_eq!(sw(&mut c, "00A40000"), 0x9000);
    assert_eq!(sw(&mut c, "00A4000C023F00"), 0x6A82);
    assert_eq!(sw(&mut c, "00200180"), 0x6A86);
    // Only logical channel 0.
    assert_eq!(sw(&mut c, "01B0000000"), 0x6881);
    assert_eq!(sw(&mut c, "03A4040C0AD392F00026010000000 1"), 0x6881);
    assert_eq!(sw(&mut c, "40B0000000"), 0x6881);
    assert_eq!(sw(&mut c, "0070000001"), 0x6881, "MANAGE CHANNEL open");
    // Unknown instruction / class.
    assert_eq!(sw(&mut c, "00FE0000"), 0x6D00);
    assert_eq!(sw(&mut c, "A0B0000000"), 0x6E00);
    // 住基 is not modelled; 共通 minimally; unknown AIDs answer 6A82.
    assert_eq!(sw(&mut c, "00A4040C0AD3921000310001010401"), 0x6A82);
    assert_eq!(sw(&mut c, "00A4040C0AD3921000310001010100"), 0x9000);
    assert_eq!(sw(&mut c, "00A4040C07A0000003080000"), 0x6A82);
}

#[test]
fn get_data_at_mf_level_serves_the_fixture_chain() {
    let (mut c, _) = build("yamada");
    // Short Le is refused for the 575-byte objects; extended Le returns them.
    assert_eq!(sw(&mut c, "00CA00F800"), 0x6700);
    let (d, s) = tx(&mut c, &hex("00CA00F8000000"));
    assert_eq!((s, d), (0x9000, fixture("mf-do-F8.bin").unwrap()));
    let (d, s) = tx(&mut c, &hex("00CA7F21000000"));
    assert_eq!((s, d), (0x9000, fixture("mf-do-7F21.bin").unwrap()));
    let (d, s) = tx(&mut c, &hex("00CA5F5100"));
    assert_eq!((s, d), (0x9000, hex("E000FF8131FE4514")));
    // Not with an applet selected; the GP ISD brings the MF state back.
    select_ap(&mut c, &AID_JPKI);
    assert_eq!(sw(&mut c, "00CA00F8000000"), 0x6A88);
    assert_eq!(sw(&mut c, "00A4040C07A0000001510000"), 0x9000);
    assert_eq!(sw(&mut c, "00CA00F8000000"), 0x9000);
    // myna-card's MasterFile reads the chain, which verifies to the J-LIS test root.
    let mut card = Card::new(Direct(&mut c));
    let chain = myna_card::MasterFile::new(&mut card).certificate_chain().unwrap();
    CardVerifiableCertificate::verify_chain(&chain).unwrap();
}

#[test]
fn signing_with_auth_and_sign_keys_verifies_with_the_certificates() {
    let (mut c, issued) = build("yamada");
    let msg = b"shikaku vcard signing test";
    let digest_info = {
        use sha2::{Digest, Sha256};
        let mut di = hex("3031300d060960864801650304020105000420");
        di.extend(Sha256::digest(msg));
        di
    };
    // OpenSC style: SELECT EF 0017, VERIFY 0018, 80 2A 00 80 <DigestInfo> 00.
    select_ap(&mut c, &AID_JPKI);
    select_ef(&mut c, 0x0017);
    let mut apdu = hex("802A008033");
    apdu.extend(&digest_info);
    apdu.push(0);
    assert_eq!(tx(&mut c, &apdu).1, 0x6982, "no PIN yet");
    select_ef(&mut c, 0x0018);
    assert_eq!(verify(&mut c, "1234"), 0x9000);
    select_ef(&mut c, 0x0017);
    let (sig, s) = tx(&mut c, &apdu);
    assert_eq!((s, sig.len()), (0x9000, 256));
    let cert = Certificate::parse(&issued.auth_cert).unwrap();
    cert.public_key()
        .unwrap()
        .verify_pkcs1_sha256(msg, &sig)
        .expect("auth signature verifies with the auth certificate");
    // Still verified for a second signature; a wrong P2 is refused.
    assert_eq!(tx(&mut c, &apdu).1, 0x9000);
    let mut bad = apdu.clone();
    bad[3] = 0x00;
    assert_eq!(tx(&mut c, &bad).1, 0x6A86);
    let mut bad = apdu.clone();
    bad[2] = 0x07;
    assert_eq!(tx(&mut c, &bad).1, 0x6A86);

    // myna-card style: scheme in P1, key by SFI in P2, every scheme checked.
    let mut card = Card::new(Direct(&mut c));
    let mut jpki = JpkiAp::select(&mut card).unwrap();
    jpki.verify_auth_pin(&Pin::numeric("1234").unwrap()).unwrap();
    let digest = {
        use sha2::{Digest, Sha256};
        Sha256::digest(msg).to_vec()
    };
    for scheme in [
        SignatureScheme::Verbatim,
        SignatureScheme::Sha256Bare,
        SignatureScheme::PreHashedDigestInfo,
        SignatureScheme::Sha256DigestInfo,
        SignatureScheme::PreHashedPss,
        SignatureScheme::Sha256Pss,
    ] {
        let data: &[u8] = match scheme {
            SignatureScheme::PreHashedDigestInfo | SignatureScheme::PreHashedPss => &digest,
            SignatureScheme::Verbatim => &digest_info,
            _ => msg,
        };
        jpki.sign_with_auth_key_checked(scheme, data).unwrap_or_else(|e| panic!("{scheme:?}: {e}"));
    }
    // Sign key: refused until the sign password, then verifies with the sign certificate.
    assert!(jpki.sign_with_sign_key(SignatureScheme::Sha256DigestInfo, msg).is_err());
    jpki.verify_sign_pin(&Pin::new("YAMADA2024").unwrap()).unwrap();
    jpki.sign_with_sign_key_checked(SignatureScheme::Sha256DigestInfo, msg).unwrap();
}

#[test]
fn myna_card_reads_and_verifies_the_text_ap() {
    let (mut c, issued) = build("takasaki");
    let mut card = Card::new(Direct(&mut c));
    let mut text = TextAp::select(&mut card).unwrap();
    assert!(text.read_attributes().is_err(), "needs a credential");
    assert_eq!(text.retries(myna_card::ap::text::ef::PIN).unwrap(), Retries::Remaining(3));
    assert_eq!(text.retries(myna_card::ap::text::ef::BLOCKED_0012).unwrap(), Retries::Blocked);
    text.verify_pin(&Pin::numeric("8080").unwrap()).unwrap();
    let attrs = text.read_attributes().unwrap();
    assert_eq!(attrs.name, "髙﨑　𠮷乃");
    assert_eq!(attrs.address, "大阪府大阪市北区中之島１－３－２０");
    assert_eq!(attrs.birth_date.to_string(), "1989-01-08");
    assert_eq!(attrs.sex, myna_card::Sex::Female);
    assert_eq!(text.read_my_number().unwrap().as_str(), issued.persona.my_number());
    // Integrity record: digests match the files, signature verifies under the EF 0004 key.
    let integrity = text.read_integrity_record().unwrap();
    let attributes_raw = text.read_ef(0x0002).unwrap();
    let my_number_raw = text.read_my_number_file().unwrap();
    assert!(integrity.matches_attributes_file(&attributes_raw).unwrap());
    assert!(integrity.matches_my_number_file(&my_number_raw));
    let cv = text.read_certificate().unwrap();
    integrity.verify(&cv.public_key).unwrap();
    text.read_signed_public_key().unwrap().verify(&cv.public_key).unwrap();
    // Our CV issuer is not a J-LIS key: myna-card says so instead of "bad signature".
    assert!(matches!(cv.verify(), Err(myna_card::Error::UnknownCertificateAuthority(_))));
    // AP-key challenge signature (no PIN) verifies under the signed AP key.
    let spk = text.read_signed_public_key().unwrap();
    let challenge = text.card().get_challenge(16).unwrap();
    let sig = text.sign(&challenge).unwrap();
    SignatureScheme::Sha256DigestInfo.verify(&spk.public_key, &challenge, &sig).unwrap();
}

#[test]
fn text_ap_codes_open_what_they_should() {
    let (mut c, p) = build("yamada");
    let p = p.persona;
    select_ap(&mut c, &AID_TEXT);
    select_ef(&mut c, 0x0015);
    assert_eq!(verify(&mut c, &p.code_b()), 0x9000);
    assert!(read_ef(&mut c, 0x0002).is_ok());
    assert!(read_ef(&mut c, 0x0003).is_ok());
    assert_eq!(read_ef(&mut c, 0x0001), Err(0x6982), "code B does not open 個人番号");
    select_ap(&mut c, &AID_TEXT);
    select_ef(&mut c, 0x0014);
    assert_eq!(verify(&mut c, &p.code_a()), 0x9000);
    assert!(read_ef(&mut c, 0x0001).is_ok());
    assert!(read_ef(&mut c, 0x0002).is_ok());
    // Free files.
    select_ap(&mut c, &AID_TEXT);
    for ef in 4..=7 {
        assert!(read_ef(&mut c, ef).is_ok(), "text {ef:04X} is free");
    }
    // The text PIN counter (3) is separate from the JPKI one.
    select_ef(&mut c, 0x0011);
    assert_eq!(verify(&mut c, "0000"), 0x63C2);
    select_ap(&mut c, &AID_JPKI);
    select_ef(&mut c, 0x0018);
    assert_eq!(sw(&mut c, "00200080"), 0x63C3);
}

#[test]
fn surface_ap_face_record_verifies_and_access_rules_hold() {
    let (mut c, issued) = build("takasaki");
    let p = issued.persona.clone();
    select_ap(&mut c, &AID_SURFACE);
    assert_eq!(read_ef(&mut c, 0x0002), Err(0x6982));
    assert_eq!(read_ef(&mut c, 0x0001), Err(0x6982));
    assert!(read_ef(&mut c, 0x0003).is_ok());
    assert!(read_ef(&mut c, 0x0004).is_ok());
    // DOB key (和暦 YYMMDD) opens only the age record.
    select_ef(&mut c, 0x0011);
    assert_eq!(verify(&mut c, "010108"), 0x9000);
    assert!(read_ef(&mut c, 0x0001).is_ok());
    assert_eq!(read_ef(&mut c, 0x0002), Err(0x6982));

    let mut card = Card::new(Direct(&mut c));
    let mut surface = SurfaceAp::select(&mut card).unwrap();
    surface.verify_code_b(&Pin::numeric(p.code_b()).unwrap()).unwrap();
    assert!(surface.read_my_number_image().is_err(), "0005 needs 照合番号A");
    let cert = surface.read_certificate().unwrap();
    let face = surface.read_card_face().unwrap();
    face.verify(&cert.public_key).expect("DF28 verifies");
    assert_eq!(face.birth_date.to_string(), "1989-01-08");
    assert_eq!(face.expiry.to_string(), "2033-01-08");
    assert_eq!(face.photo.format, myna_card::ImageFormat::Jpeg2000);
    assert_eq!(face.name_image.format, myna_card::ImageFormat::Png);
    // 照合番号B is computable from the face data as a reader would.
    let code_b = myna_card::verification_code_b(face.birth_date, face.expiry.year, b"0907").unwrap();
    assert_eq!(code_b.as_bytes(), p.code_b().as_bytes());
    // Challenge signed by the card key carried in DF24.
    let challenge = surface.card().get_challenge(16).unwrap();
    let sig = surface.sign(&challenge).unwrap();
    SignatureScheme::Sha256DigestInfo.verify(&face.public_key, &challenge, &sig).unwrap();
    // A tampered photo no longer verifies.
    let mut bad = face.clone();
    let n = bad.signed_segments[2].len() - 1;
    bad.signed_segments[2][n] ^= 1;
    assert!(bad.verify(&cert.public_key).is_err());
    // 照合番号A opens the rendered 個人番号 too.
    let mut surface = SurfaceAp::select(&mut card).unwrap();
    surface.verify_code_a(&Pin::numeric(p.code_a()).unwrap()).unwrap();
    let img = surface.read_my_number_image().unwrap();
    img.verify(&cert.public_key).unwrap();
    surface.read_age_record().unwrap().verify(&cert.public_key).unwrap();
}

#[test]
fn fixture_persona_serves_fixture_bytes_byte_for_byte() {
    let (mut c, _) = build("fixture");
    let p = persona::find("fixture").unwrap();
    select_ap(&mut c, &AID_JPKI);
    for (ef, name) in
        [(0x000A, "jpki-auth-cert.der"), (0x000B, "jpki-auth-ca-cert.der"), (0x0002, "jpki-sign-ca-cert.der")]
    {
        assert_eq!(read_ef(&mut c, ef).unwrap(), fixture(name).unwrap(), "{name}");
    }
    select_ef(&mut c, 0x001B);
    assert_eq!(verify(&mut c, "SHIKAKU1"), 0x9000);
    assert_eq!(read_ef(&mut c, 0x0001).unwrap(), fixture("jpki-sign-cert.der").unwrap());

    select_ap(&mut c, &AID_TEXT);
    select_ef(&mut c, 0x0011);
    assert_eq!(verify(&mut c, "1234"), 0x9000);
    assert_eq!(read_ef(&mut c, 1).unwrap(), fixture("text-0001-physical.bin").unwrap());
    for ef in 2..=7 {
        let name = format!("text-{ef:04}.bin");
        assert_eq!(read_ef(&mut c, ef).unwrap(), fixture(&name).unwrap(), "{name}");
    }

    select_ap(&mut c, &AID_SURFACE);
    select_ef(&mut c, 0x0013);
    assert_eq!(verify(&mut c, "537686677188"), 0x9000, "照合番号A = 個人番号");
    for ef in 1..=5 {
        let name = format!("surface-{ef:04}.bin");
        assert_eq!(read_ef(&mut c, ef).unwrap(), fixture(&name).unwrap(), "{name}");
    }
    // The README's 照合番号B opens the card face, and the DOB key the age record.
    select_ap(&mut c, &AID_SURFACE);
    select_ef(&mut c, 0x0012);
    assert_eq!(verify(&mut c, "55021720352285"), 0x9000);
    assert_eq!(read_ef(&mut c, 2).unwrap(), fixture("surface-0002.bin").unwrap());
    select_ap(&mut c, &AID_SURFACE);
    select_ef(&mut c, 0x0011);
    assert_eq!(verify(&mut c, "550217"), 0x9000);
    assert_eq!(read_ef(&mut c, 1).unwrap(), fixture("surface-0001.bin").unwrap());
    assert_eq!(p.code_b(), "55021720352285");

    // The real face record still verifies under the real EF 0004 key (we serve it unchanged).
    let face = myna_card::ap::surface::CardFace::parse(&fixture("surface-0002.bin").unwrap()).unwrap();
    let cv = CardVerifiableCertificate::parse(&fixture("surface-0004.bin").unwrap()).unwrap();
    face.verify(&cv.public_key).unwrap();
}

#[test]
fn android_token_needs_the_pin_for_the_auth_cert_and_has_only_jpki() {
    let (mut c, issued) = build("android");
    assert_eq!(select_ap(&mut c, &AID_TEXT), 0x6A82);
    assert_eq!(select_ap(&mut c, &AID_SURFACE), 0x6A82);
    assert_eq!(select_ap(&mut c, &AID_JPKI), 0x9000);
    assert_eq!(read_ef(&mut c, 0x000A), Err(0x6982));
    assert_eq!(read_ef(&mut c, 0x000B), Ok(issued.auth_ca_cert.clone()));
    let mut card = Card::new(Direct(&mut c));
    let mut jpki = JpkiAp::select(&mut card).unwrap();
    assert_eq!(jpki.read_token_type().unwrap(), TokenType::Android);
    jpki.verify_auth_pin(&Pin::numeric("4321").unwrap()).unwrap();
    assert_eq!(jpki.read_auth_certificate_der().unwrap(), issued.auth_cert);

    let (mut c, _) = build("iphone");
    let mut card = Card::new(Direct(&mut c));
    let mut jpki = JpkiAp::select(&mut card).unwrap();
    assert_eq!(jpki.read_token_type().unwrap(), TokenType::IPhone);
    let (mut c, _) = build("yamada");
    let mut card = Card::new(Direct(&mut c));
    let mut jpki = JpkiAp::select(&mut card).unwrap();
    assert_eq!(jpki.read_token_type().unwrap(), TokenType::Card);
    assert!(jpki.read_certificate_availability().unwrap().has_sign_certificate());
}

#[test]
fn pinless_face_card_behaviour() {
    let (mut c, p) = build("faceonly");
    select_ap(&mut c, &AID_JPKI);
    // The auth certificate is readable (face authentication forwards it).
    assert!(read_ef(&mut c, 0x000A).is_ok());
    // No usable PIN: query 63C0, VERIFY 6984, no try is counted.
    select_ef(&mut c, 0x0018);
    assert_eq!(sw(&mut c, "00200080"), 0x63C0);
    assert_eq!(verify(&mut c, "1234"), 0x6984);
    select_ef(&mut c, 0x001B);
    assert_eq!(sw(&mut c, "00200080"), 0x63C0);
    // No signature certificate.
    assert_eq!(select_ef(&mut c, 0x0001), 0x6A82);
    let avail = read_ef(&mut c, 0x0008).unwrap();
    assert_eq!(avail, [0x00, 0x8F, 0x00]);
    // Text AP: PIN unusable, 照合番号B works.
    select_ap(&mut c, &AID_TEXT);
    select_ef(&mut c, 0x0011);
    assert_eq!(verify(&mut c, "1234"), 0x6984);
    select_ef(&mut c, 0x0015);
    assert_eq!(verify(&mut c, &p.persona.code_b()), 0x9000);
    assert!(read_ef(&mut c, 0x0002).is_ok());
}

#[test]
fn locked_and_last_try_personas() {
    let (mut c, _) = build("locked");
    select_ap(&mut c, &AID_JPKI);
    select_ef(&mut c, 0x0018);
    assert_eq!(sw(&mut c, "00200080"), 0x63C0);
    assert_eq!(verify(&mut c, "0000"), 0x6984, "right PIN, but locked");
    let (mut c, _) = build("lasttry");
    select_ap(&mut c, &AID_JPKI);
    select_ef(&mut c, 0x0018);
    assert_eq!(sw(&mut c, "00200080"), 0x63C1);
    assert_eq!(verify(&mut c, "1111"), 0x9000);
    assert_eq!(sw(&mut c, "00200080"), 0x63C3);
}

#[test]
fn certificate_states_relative_to_today() {
    let today = Date::today();
    let to_md = |d: Date| myna_card::Date { year: d.year as u16, month: d.month, day: d.day };
    for (id, valid_today, valid_in_100_days) in [
        ("yamada", true, true),
        ("expiring", true, false),
        ("expired", false, false),
        ("lapsed", false, false),
    ] {
        let (_, issued) = build(id);
        let cert = Certificate::parse(&issued.auth_cert).unwrap();
        assert_eq!(cert.is_valid_on(to_md(today)), valid_today, "{id} today");
        assert_eq!(cert.is_valid_on(to_md(today.add_days(100))), valid_in_100_days, "{id} +100 days");
        // Issued by our own test CA and verifiable against it.
        let ca = Certificate::parse(&issued.auth_ca_cert).unwrap();
        cert.verify_signature(&ca).unwrap();
        assert!(cert.issuer().contains("SHIKAKU-VCARD-TEST"), "{}", cert.issuer());
    }
    // The auth certificate has the fixture's shape: C=JP + serial-like CN, same extensions.
    let (_, issued) = build("yamada");
    let ours = Certificate::parse(&issued.auth_cert).unwrap();
    let real = Certificate::parse(&fixture("jpki-auth-cert.der").unwrap()).unwrap();
    let ext_oids = |der: &[u8]| -> Vec<Vec<u8>> {
        use shikaku_hil::vcard::der::parse_header;
        // Certificate -> TBSCertificate -> last element [3] -> SEQUENCE of Extension.
        let (_, h, _) = parse_header(der).unwrap();
        let (_, th, tl) = parse_header(&der[h..]).unwrap();
        let mut rest = &der[h + th..h + th + tl];
        let mut exts = &[][..];
        while !rest.is_empty() {
            let (tag, eh, el) = parse_header(rest).unwrap();
            if tag == 0xA3 {
                let (_, sh, sl) = parse_header(&rest[eh..]).unwrap();
                exts = &rest[eh + sh..eh + sh + sl];
            }
            rest = &rest[eh + el..];
        }
        let mut oids = vec![];
        while !exts.is_empty() {
            let (_, eh, el) = parse_header(exts).unwrap();
            let (_, oh, ol) = parse_header(&exts[eh..]).unwrap();
            oids.push(exts[eh + oh..eh + oh + ol].to_vec());
            exts = &exts[eh + el..];
        }
        oids
    };
    assert_eq!(ext_oids(&issued.auth_cert), ext_oids(&fixture("jpki-auth-cert.der").unwrap()));
    let _ = real;
    assert!(ours.subject().starts_with("C=JP,CN=") || ours.subject().contains("CN="));
}

#[test]
fn every_builtin_persona_builds() {
    for p in persona::builtin() {
        vcard::build_at(&p, Date::today(), &AtrChoice::Contact).unwrap_or_else(|e| panic!("{}: {e}", p.id));
    }
}

#[test]
fn random_apdus_never_panic_and_always_answer_a_status() {
    use rand_core::{RngCore, SeedableRng};
    let (mut c, _) = build("yamada");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let prefixes: [&[u8]; 9] = [
        &[0x00, 0xA4],
        &[0x00, 0xB0],
        &[0x00, 0x20],
        &[0x80, 0x2A],
        &[0x00, 0xCA],
        &[0x00, 0x84],
        &[0x00, 0x24],
        &[0x00, 0x70],
        &[0x80, 0xAE],
    ];
    for i in 0..20_000u32 {
        if i % 500 == 0 {
            // Keep visiting applets so deep paths are exercised.
            let aid: &[u8] = match i / 500 % 3 {
                0 => &AID_JPKI,
                1 => &AID_TEXT,
                _ => &AID_SURFACE,
            };
            select_ap(&mut c, aid);
        }
        let len = (rng.next_u32() % 300) as usize;
        let mut apdu = vec![0u8; len];
        rng.fill_bytes(&mut apdu);
        if len >= 2 && rng.next_u32() % 2 == 0 {
            let p = prefixes[(rng.next_u32() % 9) as usize];
            apdu[..2].copy_from_slice(p);
        }
        let r = c.process_apdu(&apdu);
        assert!(r.len() >= 2, "no status for {apdu:02X?}");
    }
}

#[test]
fn iphone_profile_accepts_the_last_command_indicator() {
    let (mut c, _) = build("iphone");
    assert_eq!(sw(&mut c, "80FC0000"), 0x9000);
    let (mut c, _) = build("yamada");
    assert_eq!(sw(&mut c, "80FC0000"), 0x6700);
}

#[test]
fn example_persona_file_loads_and_builds() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/vcard/personas.example.toml");
    let personas = vcard::load_personas(Some(&path)).unwrap();
    assert_eq!(personas.len(), 1);
    let (mut c, issued) = vcard::build_at(&personas[0], Date::today(), &AtrChoice::Contactless).unwrap();
    select_ap(&mut c, &AID_JPKI);
    select_ef(&mut c, 0x0018);
    assert_eq!(sw(&mut c, "00200080"), 0x63C2);
    let sign = Certificate::parse(issued.sign_cert.as_ref().unwrap()).unwrap();
    assert!(sign.subject().contains("Hachioji-shi"), "{}", sign.subject());
    // Unknown fields are rejected rather than silently ignored.
    assert!(persona::parse_toml("[[persona]]\nid = \"x\"\nnmae = \"typo\"\n").is_err());
}

#[test]
fn binary_lists_personas_and_rejects_unknown_ones() {
    let bin = env!("CARGO_BIN_EXE_shikaku-vcard");
    let out = std::process::Command::new(bin).arg("--list").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for p in persona::builtin() {
        assert!(text.contains(&format!("  {}", p.id)), "{} missing in --list", p.id);
    }
    assert!(text.contains("GENERATED key"), "the fixture persona must say it signs with a generated key");
    assert!(text.contains("髙﨑　𠮷乃"));
    let out = std::process::Command::new(bin).args(["--persona", "nobody"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn common_ap_card_info_and_internal_authenticate() {
    let (mut c, issued) = build("yamada");
    let mut card = Card::new(Direct(&mut c));
    let mut common = myna_card::ap::common::CommonAp::select(&mut card).unwrap();
    let info = common.read_card_info().unwrap();
    assert_eq!(info.municipality_code, issued.persona.municipality_code);
    assert_eq!(info.expiry.to_string(), issued.persona.card_expiry.to_string());
    assert_eq!(common.pin_retries().unwrap(), Retries::Remaining(3));
    let challenge = b"0123456789abcdef";
    let sig = common.internal_authenticate(challenge).unwrap();
    use rsa::Pkcs1v15Sign;
    use sha2::{Digest, Sha256};
    vcard::keys::rsa_key("persona/yamada/common-ia")
        .to_public_key()
        .verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(challenge), &sig)
        .unwrap();
    // Other applets refuse INTERNAL AUTHENTICATE: JPKI keys are behind a PIN, 券面 keys sign
    // through 80 2A instead.
    select_ap(&mut c, &AID_JPKI);
    assert_eq!(sw(&mut c, "0088009704AABBCCDD00"), 0x6982);
    select_ap(&mut c, &AID_SURFACE);
    assert_eq!(sw(&mut c, "0088008004AABBCCDD00"), 0x6985);
    // READ RECORD edge cases.
    select_ap(&mut c, &vcard::card::AID_COMMON);
    select_ef(&mut c, 0x0001);
    assert_eq!(tx(&mut c, &hex("00B2010400")).1, 0x9000);
    assert_eq!(sw(&mut c, "00B2020400"), 0x6A83);
    assert_eq!(sw(&mut c, "00B2010300"), 0x6A86);
    assert_eq!(sw(&mut c, "00B0000000"), 0x6981);
}

/// (depth, tag, OID bytes) of every DER element, descending into constructed ones only.
fn der_shape(der: &[u8], depth: usize, out: &mut Vec<(usize, u32, Vec<u8>)>) {
    use shikaku_hil::vcard::der::parse_header;
    let mut rest = der;
    while !rest.is_empty() {
        let (tag, h, l) = parse_header(rest).expect("DER");
        let value = &rest[h..h + l];
        out.push((depth, tag, if tag == 0x06 { value.to_vec() } else { vec![] }));
        if tag & 0x20 != 0 {
            der_shape(value, depth + 1, out);
        }
        rest = &rest[h + l..];
    }
}

#[test]
fn generated_certificates_have_the_fixture_asn1_shape() {
    let (_, issued) = build("takasaki");
    let shape = |der: &[u8]| {
        let mut v = vec![];
        der_shape(der, 0, &mut v);
        v
    };
    assert_eq!(shape(&issued.auth_cert), shape(&fixture("jpki-auth-cert.der").unwrap()));
    assert_eq!(shape(issued.sign_cert.as_ref().unwrap()), shape(&fixture("jpki-sign-cert.der").unwrap()));
    assert_eq!(shape(&issued.auth_ca_cert), shape(&fixture("jpki-auth-ca-cert.der").unwrap()));
    assert_eq!(shape(&issued.sign_ca_cert), shape(&fixture("jpki-sign-ca-cert.der").unwrap()));
}

/// TLV tag tree of a card record (stops at `00`/`FF` filler).
fn tlv_shape(data: &[u8], depth: usize, out: &mut Vec<(usize, u32, usize)>) {
    use shikaku_hil::vcard::der::parse_header;
    let mut rest = data;
    while let Some(&first) = rest.first() {
        // FFxx is a record tag; only a short all-FF tail is filler (text 0001 ends in FF FF).
        if first == 0x00 || (first == 0xFF && rest.iter().all(|b| *b == 0xFF)) {
            break;
        }
        let Some((tag, h, l)) = parse_header(rest) else { break };
        if rest.len() < h + l {
            break;
        }
        // Lengths of fixed-size fields must match too (digests, keys, signatures, ids).
        let fixed = matches!(tag, 0xDF31 | 0xDF32 | 0xDF33 | 0xDF42 | 0xDF24 | 0xDF28 | 0xDF52)
            || tag == 0x5F4E
            || tag == 0x5F37;
        out.push((depth, tag, if fixed { l } else { 0 }));
        let constructed = if tag > 0xFF { (tag >> 8) as u8 & 0x20 != 0 } else { tag as u8 & 0x20 != 0 };
        if constructed {
            tlv_shape(&rest[h..h + l], depth + 1, out);
        }
        rest = &rest[h + l..];
    }
}

#[test]
fn generated_ap_records_have_the_fixture_layout() {
    let read_all_with_code_a = |id: &str| {
        let (mut c, issued) = build(id);
        let code_a = issued.persona.code_a();
        let mut text = vec![];
        select_ap(&mut c, &AID_TEXT);
        select_ef(&mut c, 0x0014);
        assert_eq!(verify(&mut c, &code_a), 0x9000);
        for ef in 1..=7 {
            text.push(read_ef(&mut c, ef).unwrap());
        }
        let mut surface = vec![];
        select_ap(&mut c, &AID_SURFACE);
        select_ef(&mut c, 0x0013);
        assert_eq!(verify(&mut c, &code_a), 0x9000);
        for ef in 1..=5 {
            surface.push(read_ef(&mut c, ef).unwrap());
        }
        (text, surface)
    };
    let shape = |d: &[u8]| {
        let mut v = vec![];
        tlv_shape(d, 0, &mut v);
        v
    };
    let (real_text, real_surface) = read_all_with_code_a("fixture");
    let (our_text, our_surface) = read_all_with_code_a("takasaki");
    for (i, (a, b)) in real_text.iter().zip(&our_text).enumerate() {
        assert_eq!(shape(b), shape(a), "text {:04X}", i + 1);
    }
    for (i, (a, b)) in real_surface.iter().zip(&our_surface).enumerate() {
        assert_eq!(shape(b), shape(a), "surface {:04X}", i + 1);
    }
    // The 個人番号 file has the same physical length, filler included.
    assert_eq!(our_text[0].len(), real_text[0].len());
}
