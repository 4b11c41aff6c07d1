//! The face match end to end as the session drives it ([`FaceVerifier`]): the camera sees the
//! card front, 照合番号B is read off it, the virtual card's surface applet gives the checked
//! chip photo, the live frames are matched against it, liveness decides over them — and after
//! every attempt and every wipe no image, descriptor or distance is left in any buffer.
//!
//! Needs the weight files of scripts/face-models.sh; skips without them unless
//! `SHIKAKU_REQUIRE_MODELS=1`.

use shikaku_card::cv_cert::TrustAnchor;
use shikaku_card::rsa::RsaPublicKey;
use shikaku_card::surface_ap::CARD_FACE_MAX_LEN;
use shikaku_face::card_front;
use shikaku_face::detect::Detector;
use shikaku_face::engine::{self, Models};
use shikaku_face::landmarks::ShapeModel;
use shikaku_face::liveness::{LivenessCheck, LivenessConfig};
use shikaku_face::model::{Model, CHIP_BYTES};
use shikaku_firmware::drive::chip_photo::CV_CERT_BUF_LEN;
use shikaku_firmware::drive::face_photo::{CardPhoto, PhotoBuffers};
use shikaku_firmware::face_verifier::{Buffers, Camera, CameraError, Config, EngineVerifier, FrameShape};
use shikaku_firmware::nfc::iso_dep::{IsoDep, IsoDepConfig};
use shikaku_firmware::nfc::type_b::{self, ActivationConfig};
use shikaku_firmware::session::FaceVerifier;
use shikaku_hil::card_front_render::{self, Perturb as FrontPerturb};
use shikaku_hil::face_scenes::{self, Perturb, SceneKind};
use shikaku_hil::sim_frontend::{FaultConfig, SimCardConfig, SimFrontend};
use shikaku_hil::vcard::card::VirtualCard;
use shikaku_hil::vcard::persona::{self, Date};
use shikaku_hil::vcard::{self, AtrChoice};
use shikaku_protocol::message::FaceDecision;
use std::collections::VecDeque;

type Air = IsoDep<SimFrontend<VirtualCard>>;

use shikaku_hil::face_models::{models_dir, need};

fn models() -> Option<Models<'static>> {
    let dir = models_dir();
    let read = |n: &str| -> Option<&'static [u8]> {
        need(dir.join(n), "scripts/face-models.sh").map(|b| &*Box::leak(b.into_boxed_slice()))
    };
    Some(Models {
        detector: Detector::parse(read("detector.shdt")?).expect("detector"),
        shape: ShapeModel::parse(read("landmarks5.shlm")?).expect("landmarks"),
        embedder: Model::parse(read("resnet-f32.shfr")?).expect("embedder"),
    })
}

/// Frames queued for the camera to give, one per capture.
#[derive(Default)]
struct Frames(VecDeque<(usize, usize, Vec<u8>)>);

impl Camera for Frames {
    fn capture(&mut self, frame: &mut [u8]) -> Result<FrameShape, CameraError> {
        let (w, h, data) = self.0.pop_front().ok_or(CameraError::NoFrame)?;
        frame.get_mut(..data.len()).ok_or(CameraError::TooLarge)?.copy_from_slice(&data);
        Ok(FrameShape { width: w, height: h, channels: 3 })
    }
}

fn in_field(id: &str) -> Air {
    let p = persona::find(id).expect("persona");
    let (card, _) = vcard::build_at(&p, Date::today(), &AtrChoice::Contactless).expect("card builds");
    let mut sim = SimFrontend::with_config(card, SimCardConfig::default(), FaultConfig::default());
    let act = type_b::activate(&mut sim, &ActivationConfig { cid: Some(1), ..ActivationConfig::default() })
        .expect("activation");
    IsoDep::with_config(sim, act.params, IsoDepConfig::default())
}

fn front(id: &str, seed: u64) -> (usize, usize, Vec<u8>) {
    let p = persona::find(id).expect("persona");
    let s = card_front_render::persona_frame(&p, &FrontPerturb::MILD, seed).expect("card front");
    (s.frame.width() as usize, s.frame.height() as usize, s.frame.into_raw())
}

fn live(kind: SceneKind, seed: u64) -> Vec<(usize, usize, Vec<u8>)> {
    let photo = face_scenes::fixture_photo().expect("fixture photo");
    face_scenes::render_sequence(&photo, kind, &Perturb::standard(seed))
        .frames
        .into_iter()
        .map(|f| (f.width, f.height, f.data))
        .collect()
}

const FRAME: usize = 640 * 480 * 3;

type Verifier = EngineVerifier<'static, 'static, Frames, CardPhoto<'static, Air, Frames>, LivenessCheck>;

fn leak<T>(v: Vec<T>) -> &'static mut [T] {
    Box::leak(v.into_boxed_slice())
}

/// A verifier over the persona's virtual card, with buffers as the reader would hold them.
fn verifier(models: &'static Models<'static>, persona: &str) -> Verifier {
    let (id, n, e) = vcard::cv_root_anchor();
    let key_id: &'static [u8; 16] = Box::leak(Box::new(id.as_slice().try_into().unwrap()));
    let (n, e) = (leak(n), leak(e));
    let anchors: &'static [TrustAnchor<'static>] =
        leak(vec![TrustAnchor { key_id, key: RsaPublicKey::new(n, e) }]);
    let photo = CardPhoto {
        transport: in_field(persona),
        camera: Frames::default(),
        anchors,
        challenge: [7; 32],
        buffers: PhotoBuffers {
            scratch: leak(vec![0u8; card_front::scratch_len(640, 480)]),
            cert: leak(vec![0u8; CV_CERT_BUF_LEN]),
            record: leak(vec![0u8; CARD_FACE_MAX_LEN]),
            jp2_arena: leak(vec![0i32; 400_000]),
        },
    };
    EngineVerifier::new(
        models,
        Frames::default(),
        photo,
        LivenessCheck::new(LivenessConfig::default()),
        Buffers {
            frame: leak(vec![0u8; FRAME]),
            arena: leak(vec![0f32; engine::arena_len(640, 480)]),
            chip: Box::leak(Box::new([0u8; CHIP_BYTES])),
        },
        Config::default(),
    )
}

/// Queues what the cameras will see in the next attempt: the card front, then the live scene.
fn stage(v: &mut Verifier, persona: &str, seed: u64, kind: SceneKind) {
    let (camera, photo, _) = v.parts();
    photo.camera.0.push_back(front(persona, seed));
    camera.0.extend(live(kind, seed + 10));
}

#[test]
fn a_live_holder_matches_attacks_and_strangers_do_not_and_nothing_is_left_behind() {
    let Some(models) = models() else { return };
    let models: &'static Models<'static> = Box::leak(Box::new(models));
    let mut v = verifier(models, "yamada");

    let all_zero = |v: &Verifier| {
        let (f, a, c) = v.buffers();
        let (r, d) = v.kept();
        f.iter().all(|&x| x == 0)
            && a.iter().all(|&x| x == 0.0)
            && c.iter().all(|&x| x == 0)
            && r.iter().all(|&x| x == 0.0)
            && d.iter().all(|&x| x == 0.0)
    };

    // The holder, live: a match.
    {
        let (camera, photo, _) = v.parts();
        photo.camera.0.push_back(front("yamada", 1));
        camera.0.extend(live(SceneKind::Live, 11));
    }
    let r = v.verify(1);
    assert_eq!(r.decision, FaceDecision::Match, "{r:?}");
    assert!(r.score_milli > 400, "{r:?}");
    assert!(all_zero(&v), "buffers wiped after the attempt");
    assert_eq!(v.parts().2.frames(), 0, "liveness state wiped after the attempt");

    // The holder's photo held up as a print: refused by liveness.
    {
        let (camera, photo, _) = v.parts();
        photo.camera.0.push_back(front("yamada", 2));
        camera.0.extend(live(SceneKind::FlatPrint, 12));
    }
    let r = v.verify(2);
    assert_eq!(r.decision, FaceDecision::LivenessFailed, "{r:?}");
    assert!(all_zero(&v));

    // Nobody in front of the camera (frames without a face): no face.
    {
        let (camera, photo, _) = v.parts();
        photo.camera.0.push_back(front("yamada", 3));
        for _ in 0..6 {
            camera.0.push_back((320, 240, vec![90u8; 320 * 240 * 3]));
        }
    }
    assert_eq!(v.verify(3).decision, FaceDecision::NoFace);

    // The card front is not in view (a blank frame): the photo cannot be had.
    {
        let (camera, photo, _) = v.parts();
        photo.camera.0.push_back((640, 480, vec![30u8; FRAME]));
        camera.0.extend(live(SceneKind::Live, 13));
    }
    assert_eq!(v.verify(4).decision, FaceDecision::PhotoUnavailable);
    assert!(all_zero(&v));
    v.wipe();
    assert!(all_zero(&v));
}

// The firmware's session harness, shared across crates by path (a test file is not a crate).
#[path = "../../firmware/tests/common/session.rs"]
mod harness;

#[test]
fn the_session_drives_the_engine_from_a_held_up_print_to_a_live_match() {
    use harness::{valid_until_2030, Out, Rig};
    use shikaku_firmware::session::{Key, PinState, Screen};
    use shikaku_protocol::message::{AuthMethod, CardKind, Message};
    let Some(models) = models() else { return };
    let models: &'static Models<'static> = Box::leak(Box::new(models));
    let mut v = verifier(models, "takasaki");
    let mut r = Rig::with_challenge();
    r.place(CardKind::PhysicalCard, valid_until_2030(), PinState::TriesLeft(3));
    let mut out = r.key(Key::ChooseFace);
    // The patient first holds up the card's photo, then shows their face.
    let scenes = [SceneKind::FlatPrint, SceneKind::Live];
    let mut decisions = Vec::new();
    for (i, kind) in scenes.iter().enumerate() {
        let attempt = out.iter().find_map(|o| if let Out::Face(a) = o { Some(*a) } else { None });
        assert_eq!(attempt, Some(i as u8 + 1), "the session asks for attempt {}", i + 1);
        stage(&mut v, "takasaki", 40 + i as u64, *kind);
        let reply = v.verify(i as u8 + 1);
        decisions.push(reply.decision);
        out = r.face(reply.decision, reply.score_milli);
        assert!(out.contains(&Out::Wipe), "the session wipes after every attempt");
        v.wipe();
    }
    assert_eq!(decisions, vec![FaceDecision::LivenessFailed, FaceDecision::Match]);
    assert_eq!(Rig::screens(&out), vec![Screen::ConsentIntro]);
    r.key(Key::Yes);
    let Message::VerifiedIdentity(id) = r.identity() else { panic!("no verified identity") };
    assert_eq!(id.method, AuthMethod::Face);
}
