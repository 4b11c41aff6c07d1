//! The chip photo path of the face match against a virtual card over the simulated air
//! interface: 照合番号B opens the surface applet, the CV certificate and the record signature
//! check, the chip proves itself, and the photo decodes — or a typed error, with no try of
//! 照合番号B spent beyond the one the card counts and never the last.

use shikaku_card::cv_cert::TrustAnchor;
use shikaku_card::rsa::RsaPublicKey;
use shikaku_card::secret::CollationB;
use shikaku_card::surface_ap::CARD_FACE_MAX_LEN;
use shikaku_card::CardError;
use shikaku_face::jp2;
use shikaku_firmware::drive::chip_photo::{read_chip_photo, CV_CERT_BUF_LEN};
use shikaku_firmware::nfc::iso_dep::{IsoDep, IsoDepConfig};
use shikaku_firmware::nfc::type_b::{self, ActivationConfig};
use shikaku_hil::sim_frontend::{FaultConfig, SimCardConfig, SimFrontend};
use shikaku_hil::vcard::card::{Applet, VirtualCard};
use shikaku_hil::vcard::persona::{self, Date, Persona};
use shikaku_hil::vcard::{self, AtrChoice};

type Air = IsoDep<SimFrontend<VirtualCard>>;

fn in_field(p: &Persona) -> Air {
    let (card, _) = vcard::build_at(p, Date::today(), &AtrChoice::Contactless).expect("card builds");
    let mut sim = SimFrontend::with_config(card, SimCardConfig::default(), FaultConfig::default());
    let act = type_b::activate(&mut sim, &ActivationConfig { cid: Some(1), ..ActivationConfig::default() })
        .expect("activation");
    IsoDep::with_config(sim, act.params, IsoDepConfig::default())
}

fn code(p: &Persona) -> CollationB {
    let b: [u8; 14] = p.code_b().as_bytes().try_into().expect("14 digits");
    CollationB::from_parts(
        b[..6].try_into().unwrap(),
        std::str::from_utf8(&b[6..10]).unwrap().parse().unwrap(),
        b[10..].try_into().unwrap(),
    )
    .expect("a valid 照合番号B")
}

fn tries(air: &Air) -> u8 {
    air.frontend().card().tries_left(Applet::Surface, 0x0012).expect("照合番号B key")
}

#[test]
fn the_photo_is_read_only_after_every_check_and_decodes() {
    let (id, n, e) = vcard::cv_root_anchor();
    let key_id: [u8; 16] = id.as_slice().try_into().expect("16-byte key id");
    let anchors = [TrustAnchor { key_id: &key_id, key: RsaPublicKey::new(&n, &e) }];
    for who in ["yamada", "takasaki"] {
        let p = persona::find(who).expect("persona");
        let mut air = in_field(&p);
        let mut cert = [0u8; CV_CERT_BUF_LEN];
        let mut face = vec![0u8; CARD_FACE_MAX_LEN];
        let photo = read_chip_photo(
            &mut air,
            &code(&p),
            &anchors,
            b"fresh challenge 0123456789abcdef",
            &mut cert,
            &mut face,
        )
        .unwrap_or_else(|e| panic!("{who}: {e}"));
        let info = jp2::info(photo).expect("a JPEG 2000 photo");
        let mut arena = vec![0i32; jp2::arena_words(photo).unwrap()];
        let mut out = vec![0u8; info.output_len()];
        let img = jp2::decode(photo, &mut arena, &mut out).expect("decodes");
        assert!(img.info().width > 100 && img.info().height > 100, "{who}: {:?}", img.info());
    }
}

#[test]
fn a_wrong_code_an_unknown_root_or_one_try_left_is_a_typed_error() {
    let p = persona::find("yamada").expect("persona");
    let (id, n, e) = vcard::cv_root_anchor();
    let key_id: [u8; 16] = id.as_slice().try_into().unwrap();
    let anchors = [TrustAnchor { key_id: &key_id, key: RsaPublicKey::new(&n, &e) }];
    let mut cert = [0u8; CV_CERT_BUF_LEN];
    let mut face = vec![0u8; CARD_FACE_MAX_LEN];

    // A misread digit: the card counts one try and says how many are left.
    let mut air = in_field(&p);
    let before = tries(&air);
    let mut wrong = p.code_b().into_bytes();
    wrong[13] = if wrong[13] == b'9' { b'0' } else { wrong[13] + 1 };
    let wrong = CollationB::from_parts(
        wrong[..6].try_into().unwrap(),
        std::str::from_utf8(&wrong[6..10]).unwrap().parse().unwrap(),
        wrong[10..].try_into().unwrap(),
    )
    .unwrap();
    let err = read_chip_photo(&mut air, &wrong, &anchors, b"challenge", &mut cert, &mut face).unwrap_err();
    assert_eq!(err, CardError::WrongPin { tries_left: before - 1 });

    // Down to the last try: refused before anything is sent, the try is kept for staff.
    while tries(&air) > 1 {
        let _ = read_chip_photo(&mut air, &wrong, &anchors, b"challenge", &mut cert, &mut face);
    }
    let err = read_chip_photo(&mut air, &code(&p), &anchors, b"challenge", &mut cert, &mut face).unwrap_err();
    assert_eq!(err, CardError::LastTryNotConfirmed);
    assert_eq!(tries(&air), 1);

    // A reader that does not trust the card's CV root never reads the record.
    let mut air = in_field(&p);
    let other_id = [0x39u8; 16];
    let stranger = [TrustAnchor { key_id: &other_id, key: RsaPublicKey::new(&n, &e) }];
    let err =
        read_chip_photo(&mut air, &code(&p), &stranger, b"challenge", &mut cert, &mut face).unwrap_err();
    assert!(matches!(err, CardError::Verify(_)), "{err:?}");
}
