//! The card-front reader (`shikaku_face::card_front`) against fictitious card fronts of the
//! personas (`shikaku_hil::card_front_render`) in camera frames: read 照合番号B, then open the
//! persona's virtual card's surface applet with it over the simulated air interface (firmware
//! applet client → ISO 7816-4 → ISO/IEC 14443-4 → simulated frontend → virtual card).
//!
//! What is expected comes from the persona (`Persona::code_b`, the value the virtual card
//! checks), never from the reader. `SHIKAKU_CARD_FRONT_DUMP=<dir>` writes the frames of the
//! first test and of the sweep's failures as PNG.

use shikaku_card::surface_ap::SurfaceAp;
use shikaku_card::{CardIo, PinStatus};
use shikaku_face::card_front::{self, CardFrontError, ImageRef, PinB, Reading};
use shikaku_firmware::nfc::iso_dep::{IsoDep, IsoDepConfig};
use shikaku_firmware::nfc::type_b::{self, ActivationConfig};
use shikaku_hil::card_front_render::{self as render, Perturb, Scene};
use shikaku_hil::sim_frontend::{FaultConfig, SimCardConfig, SimFrontend};
use shikaku_hil::vcard::card::{Applet, EfBody, VirtualCard};
use shikaku_hil::vcard::persona::{self, Date, Persona};
use shikaku_hil::vcard::{self, AtrChoice};
use shikaku_hil::SmartCard;

/// Physical-card personas with different birth dates (昭和 and 平成元年, single- and
/// two-digit months and days) and expiry years.
const PERSONAS: &[&str] = &["yamada", "takasaki", "expiring", "lapsed", "locked", "faceonly"];

/// 照合番号B key EF of the surface applet.
const SURFACE_B: u16 = 0x0012;

fn persona(id: &str) -> Persona {
    persona::find(id).unwrap_or_else(|| panic!("persona {id}"))
}

fn read(scene: &Scene) -> Result<Reading, CardFrontError> {
    let (w, h) = (scene.frame.width() as usize, scene.frame.height() as usize);
    let img = ImageRef::new(w, h, 3, scene.frame.as_raw()).expect("frame");
    let mut scratch = vec![0u8; card_front::scratch_len(w, h)];
    card_front::read_detailed(img, &mut scratch)
}

fn dump(name: &str, scene: &Scene) {
    if let Some(dir) = std::env::var_os("SHIKAKU_CARD_FRONT_DUMP") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("dump dir");
        scene.frame.save(dir.join(format!("{name}.png"))).expect("save frame");
    }
}

type Air = IsoDep<SimFrontend<VirtualCard>>;

/// The persona's virtual card in the simulated field, activated; `b_tries`: set the surface
/// applet's 照合番号B retry counter.
fn card_in_field(p: &Persona, b_tries: Option<u8>) -> Air {
    let (card, _) = vcard::build_at(p, Date::today(), &AtrChoice::Contactless).expect("card builds");
    let card = match b_tries {
        None => card,
        Some(n) => {
            let mut image = card.image().clone();
            match image.apps.get_mut(&Applet::Surface).and_then(|a| a.efs.get_mut(&SURFACE_B)) {
                Some(EfBody::Pin { left, .. }) => *left = n,
                _ => panic!("surface applet has no 照合番号B key"),
            }
            VirtualCard::new(image, card.atr().to_vec(), &p.id)
        }
    };
    let mut sim = SimFrontend::with_config(card, SimCardConfig::default(), FaultConfig::default());
    let act = type_b::activate(&mut sim, &ActivationConfig { cid: Some(1), ..ActivationConfig::default() })
        .expect("activation");
    IsoDep::with_config(sim, act.params, IsoDepConfig::default())
}

fn b_tries_left(air: &Air) -> u8 {
    air.frontend().card().tries_left(Applet::Surface, SURFACE_B).expect("照合番号B key")
}

#[test]
fn reads_each_persona_and_opens_its_surface_applet() {
    for (i, id) in PERSONAS.iter().enumerate() {
        let p = persona(id);
        let scene = render::persona_frame(&p, &Perturb::MILD, 100 + i as u64).expect("render");
        dump(&format!("persona-{id}"), &scene);
        let reading = read(&scene).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert!(reading.pin.matches(p.code_b().as_bytes()), "{id}: read differs from 照合番号B");
        for (got, want) in reading.corners.iter().zip(scene.corners) {
            let d = ((got.x - want.0).powi(2) + (got.y - want.1).powi(2)).sqrt();
            assert!(d < 1.5, "{id}: corner {got:?} vs {want:?} ({d:.2} px)");
        }
        println!("{id}: min score {:.3}, min margin {:.3}", reading.min_score, reading.min_margin);

        // Open the surface applet with the digits read, and read the card face it guards.
        let mut air = card_in_field(&p, None);
        let before = b_tries_left(&air);
        {
            let mut io = CardIo::new(&mut air);
            let mut ap = SurfaceAp::select(&mut io).expect("surface AP");
            let code = reading.pin.to_collation_b().expect("14 digits");
            ap.verify_collation_b(&code, None).unwrap_or_else(|e| panic!("{id}: card refused the read: {e}"));
            let mut buf = [0u8; shikaku_card::surface_ap::CARD_FACE_MAX_LEN];
            let face = ap.read_card_face(&mut buf).expect("card face record");
            let (b, e) = (face.date_of_birth, face.expiry);
            assert_eq!(
                (i32::from(b.year), b.month, b.day),
                (p.birth_date.year, p.birth_date.month, p.birth_date.day)
            );
            assert_eq!(i32::from(e.year), p.card_expiry.year);
        }
        assert_eq!(b_tries_left(&air), before, "{id}: a correct 照合番号B spends no try");
    }
}

#[derive(Default, Debug, Clone, Copy)]
struct Tally {
    correct: u32,
    /// A typed error: the session re-captures or falls back.
    refused: u32,
    /// 14 digits that are not the card's: the card answered 63Cx.
    wrong: u32,
}

fn sweep(kind: &str, set: fn(f32) -> Perturb, levels: &[f32], seeds: u64) -> Vec<(f32, Tally)> {
    let mut out = vec![];
    let cards: Vec<(Persona, image::RgbImage)> = PERSONAS
        .iter()
        .map(|id| {
            let p = persona(id);
            let card = render::render_card(&render::CardPrint::from_persona(&p), 2.0).expect("render");
            (p, card)
        })
        .collect();
    for &level in levels {
        let mut t = Tally::default();
        let mut errors: Vec<String> = vec![];
        for seed in 0..seeds {
            for (i, (p, card)) in cards.iter().enumerate() {
                let s = 1000 * seed + i as u64 + (level * 100.0) as u64 * 7919;
                let scene = render::camera_frame(card, 2.0, &set(level), s, 640, 480);
                match read(&scene) {
                    Ok(r) if r.pin.matches(p.code_b().as_bytes()) => t.correct += 1,
                    Ok(r) => {
                        t.wrong += 1;
                        dump(&format!("wrong-{kind}-{level}-{}-{s}", p.id), &scene);
                        refused_by_card_without_burning_it(p, &r.pin);
                    }
                    Err(e) => {
                        t.refused += 1;
                        errors.push(format!("{e:?}"));
                        if level <= 0.25 {
                            dump(&format!("refused-{kind}-{level}-{}-{s}", p.id), &scene);
                        }
                    }
                }
            }
        }
        errors.sort();
        errors.dedup();
        println!(
            "{kind:<12} {level:.2}: {:>3} correct, {:>3} refused, {:>2} wrong of {:>3}  {}",
            t.correct,
            t.refused,
            t.wrong,
            t.correct + t.refused + t.wrong,
            errors.join(" ")
        );
        out.push((level, t));
    }
    out
}

/// A wrong read presented to the card: refused with 63Cx, one try spent, never the last.
fn refused_by_card_without_burning_it(p: &Persona, pin: &PinB) {
    let mut air = card_in_field(p, None);
    let before = b_tries_left(&air);
    {
        let mut io = CardIo::new(&mut air);
        let mut ap = SurfaceAp::select(&mut io).expect("surface AP");
        let err =
            ap.verify_collation_b(&pin.to_collation_b().expect("digits"), None).expect_err("wrong code");
        assert!(
            matches!(err, shikaku_card::CardError::WrongPin { tries_left } if tries_left == before - 1),
            "{err:?}"
        );
    }
    assert_eq!(b_tries_left(&air), before - 1);
}

const LEVELS: [f32; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];
const SEEDS: u64 = 2;

/// Reads per level of one perturbation (the others off); asserts what the reader must keep.
fn sweep_and_check(kind: &str, set: fn(f32) -> Perturb, mild_min: f32) {
    let rows = sweep(kind, set, &LEVELS, SEEDS);
    let n = (SEEDS as usize * PERSONAS.len()) as f32;
    for (level, t) in &rows {
        if *level <= 0.25 {
            assert!(t.correct as f32 / n >= mild_min, "{kind} at {level}: {t:?}");
        }
    }
    let wrong: u32 = rows.iter().map(|(_, t)| t.wrong).sum();
    let total = n * rows.len() as f32;
    assert!(wrong as f32 / total <= 0.02, "{kind}: {wrong} wrong reads of {total}");
}

#[test]
fn sweep_perspective() {
    sweep_and_check("perspective", |s| Perturb { perspective: s, ..Perturb::default() }, 1.0);
}

#[test]
fn sweep_blur() {
    sweep_and_check("blur", |s| Perturb { blur: s, ..Perturb::default() }, 1.0);
}

#[test]
fn sweep_glare() {
    sweep_and_check("glare", |s| Perturb { glare: s, ..Perturb::default() }, 1.0);
}

#[test]
fn sweep_noise() {
    sweep_and_check("noise", |s| Perturb { noise: s, ..Perturb::default() }, 1.0);
}

#[test]
fn sweep_low_light() {
    sweep_and_check("low_light", |s| Perturb { low_light: s, ..Perturb::default() }, 1.0);
}

#[test]
fn frames_without_a_whole_card_give_typed_errors() {
    for seed in 1..=4 {
        let frame = render::empty_frame(seed, 640, 480);
        let scene = Scene { frame, corners: [(0.0, 0.0); 4] };
        assert_eq!(read(&scene).unwrap_err(), CardFrontError::NoCard, "empty desk {seed}");
    }
    // The card slid half out of the frame.
    let p = persona("yamada");
    let scene = render::persona_frame(&p, &Perturb::default(), 7).expect("render");
    let mut cut = scene.frame.clone();
    for y in 0..cut.height() {
        for x in 0..cut.width() {
            let from = x + 300;
            let px =
                if from < cut.width() { *scene.frame.get_pixel(from, y) } else { image::Rgb([40, 38, 36]) };
            cut.put_pixel(x, y, px);
        }
    }
    let cut = Scene { frame: cut, corners: scene.corners };
    assert_eq!(read(&cut).unwrap_err(), CardFrontError::NotWhollyInFrame);
    // A grey image (camera covered).
    let grey = Scene {
        frame: image::RgbImage::from_pixel(640, 480, image::Rgb([90, 90, 90])),
        corners: scene.corners,
    };
    assert_eq!(read(&grey).unwrap_err(), CardFrontError::NoCard);
}

/// A card whose printed security code differs from the chip's (a misread the margin check let
/// through looks the same to the card): the first try is refused with 63Cx, and with one try
/// left the applet client refuses to send without an explicit confirmation, which a camera
/// read never gives — the session falls back to staff entry and the card keeps its last try.
#[test]
fn a_wrong_read_never_spends_the_last_try() {
    let p = persona("yamada");
    let mut misprinted = p.clone();
    misprinted.security_code = "4824".into();
    let scene = render::persona_frame(&misprinted, &Perturb::MILD, 3).expect("render");
    let pin = read(&scene).expect("the misprinted card reads").pin;
    assert!(pin.matches(misprinted.code_b().as_bytes()));

    let mut air = card_in_field(&p, Some(2));
    {
        let mut io = CardIo::new(&mut air);
        let mut ap = SurfaceAp::select(&mut io).expect("surface AP");
        let code = pin.to_collation_b().expect("digits");
        assert_eq!(ap.collation_b_status().expect("status"), PinStatus::TriesLeft(2));
        let err = ap.verify_collation_b(&code, None).expect_err("wrong 照合番号B");
        assert!(matches!(err, shikaku_card::CardError::WrongPin { tries_left: 1 }), "{err:?}");
        let err = ap.verify_collation_b(&code, None).expect_err("last try guarded");
        assert!(matches!(err, shikaku_card::CardError::LastTryNotConfirmed), "{err:?}");
        assert_eq!(ap.collation_b_status().expect("status"), PinStatus::TriesLeft(1));
    }
    assert_eq!(b_tries_left(&air), 1, "the last try is still there for staff entry");
}

/// The card lying upside down in the tray, seen by a grey camera: the photo box tells which
/// way up it is, and the corners come back as the printed card's.
#[test]
fn reads_an_upside_down_card_in_a_grey_frame() {
    let p = persona("expired");
    let scene = render::persona_frame(&p, &Perturb::MILD, 11).expect("render");
    let turned = image::imageops::rotate180(&scene.frame);
    let grey = image::DynamicImage::ImageRgb8(turned).to_luma8();
    let img = ImageRef::new(640, 480, 1, grey.as_raw()).expect("frame");
    let mut scratch = vec![0u8; card_front::scratch_len(640, 480)];
    let reading = card_front::read_detailed(img, &mut scratch).expect("reads upside down");
    assert!(reading.pin.matches(p.code_b().as_bytes()));
    // The printed top-left corner is now at the turned position of the original one.
    let (x, y) = scene.corners[0];
    let want = (639.0 - x, 479.0 - y);
    let got = reading.corners[0];
    assert!((got.x - want.0).abs() < 1.5 && (got.y - want.1).abs() < 1.5, "{got:?} vs {want:?}");
}
