//! Presentation-attack detection (`shikaku_face::liveness`) on rendered scenes
//! (`shikaku_hil::face_scenes`): APCER per attack type and BPCER (ISO/IEC 30107-3) over seeded
//! batches, with each cue switched off in turn to show which one stops which attack.
//!
//! The thresholds were tuned on seeds 1000… (`cargo test -p shikaku-hil --test face_liveness
//! tune -- --ignored --nocapture` prints every cue's score); this test uses seeds 0…29. The
//! scenes are synthetic: the numbers say the cues work on this renderer's model of heads,
//! prints and screens, not what they do on real cameras. Weakness, measured below: a screen
//! replaying a video of the live face has parallax and is stopped only by the screen moiré cue
//! (and by background coherence when the screen is waved about).

use shikaku_face::liveness::{Cue, Cues, LivenessCheck, LivenessConfig, Report, Verdict};
use shikaku_hil::face_scenes::*;

const SEEDS: std::ops::Range<u64> = 0..30;

fn check(seq: &Sequence, config: LivenessConfig) -> (Verdict, Report) {
    let c = run(seq, config);
    (c.verdict(), c.report())
}

fn run(seq: &Sequence, config: LivenessConfig) -> LivenessCheck {
    let mut c = LivenessCheck::new(config);
    for i in 0..seq.frames.len() {
        c.push(seq.frames[i].image_ref(), seq.boxes[i], Some(&seq.landmarks[i])).expect("frame taken");
    }
    c
}

fn accepted(v: &Verdict) -> bool {
    matches!(v, Verdict::Live { .. })
}

fn with_cues(parallax: bool, coherence: bool, moire: bool) -> LivenessConfig {
    LivenessConfig { cues: Cues { parallax, coherence, moire }, ..LivenessConfig::default() }
}

#[test]
fn apcer_and_bpcer_per_attack_type() {
    let photo = fixture_photo().expect("fixture photo");
    let configs = [
        ("all cues", with_cues(true, true, true)),
        ("parallax only", with_cues(true, false, false)),
        ("coherence only", with_cues(false, true, false)),
        ("moire only", with_cues(false, false, true)),
        ("no cue (motion check only)", with_cues(false, false, false)),
    ];
    // accepted[config][kind], and the deciding cues with all cues on.
    let mut acc = [[0usize; 4]; 5];
    let mut need_motion = [0usize; 4];
    let mut by_cue = [[0usize; 3]; 4];
    let n = SEEDS.count();
    for (k, kind) in SceneKind::ALL.iter().enumerate() {
        for seed in SEEDS {
            let seq = render_sequence(&photo, *kind, &Perturb::standard(seed));
            let run = run(&seq, LivenessConfig::default());
            let r = run.report();
            for (ci, (_, cfg)) in configs.iter().enumerate() {
                let v = run.verdict_with(cfg);
                acc[ci][k] += usize::from(accepted(&v));
                if ci == 0 {
                    match v {
                        Verdict::NeedMotion { .. } => need_motion[k] += 1,
                        Verdict::Attack { cue, .. } => {
                            by_cue[k][match cue {
                                Cue::Planar => 0,
                                Cue::BackgroundCoherence => 1,
                                Cue::ScreenMoire => 2,
                            }] += 1
                        }
                        _ => {}
                    }
                    if kind.is_attack() == accepted(&v) {
                        println!("  error: {} seed {seed}: {v:?} {r:?}", kind.name());
                    }
                }
            }
        }
    }
    let pct = |a: usize| 100.0 * a as f64 / n as f64;
    println!("{n} sequences per class, 6 frames of 320×240 each");
    println!("{:28} {:>8} {:>12} {:>13} {:>13}", "", "BPCER", "APCER print", "APCER screen", "APCER video");
    for (ci, (name, _)) in configs.iter().enumerate() {
        println!(
            "{:28} {:>7.1}% {:>11.1}% {:>12.1}% {:>12.1}%",
            name,
            pct(n - acc[ci][0]),
            pct(acc[ci][1]),
            pct(acc[ci][2]),
            pct(acc[ci][3])
        );
    }
    for (k, kind) in SceneKind::ALL.iter().enumerate() {
        println!(
            "{:13} all cues: need-motion {}, stopped by planar {}, coherence {}, moiré {}",
            kind.name(),
            need_motion[k],
            by_cue[k][0],
            by_cue[k][1],
            by_cue[k][2]
        );
    }
    println!(
        "WEAKNESS: a screen replaying a video of the live face passes the parallax cue in {:.0} % \
         of sequences; only the moiré and coherence cues stop it, and the moiré cue is only as \
         good as the renderer's screen model",
        pct(acc[1][3])
    );

    let max = n * 5 / 100;
    // With every cue: APCER ≤ 5 % for each attack type at BPCER ≤ 5 %.
    assert!(n - acc[0][0] <= max, "BPCER {:.1} %", pct(n - acc[0][0]));
    assert!(acc[0][1] <= max, "flat print APCER {:.1} %", pct(acc[0][1]));
    assert!(acc[0][2] <= max, "screen photo APCER {:.1} %", pct(acc[0][2]));
    assert!(acc[0][3] <= max, "screen video APCER {:.1} %", pct(acc[0][3]));
    // The parallax cue alone stops flat prints at the same BPCER; the moiré cue alone stops
    // both screens.
    assert!(acc[1][1] <= max && n - acc[1][0] <= max, "parallax only: {:?}", acc[1]);
    assert!(acc[3][2] <= max && acc[3][3] <= max && n - acc[3][0] <= max, "moiré only: {:?}", acc[3]);
    // Without any cue, the attacks that move enough pass: the cues are what stop them.
    assert!(acc[4][1] >= n / 3, "no cue: flat prints accepted {}", acc[4][1]);
    assert!(acc[4][2] >= n / 2, "no cue: screen photos accepted {}", acc[4][2]);
    assert!(acc[4][3] >= n / 2, "no cue: screen videos accepted {}", acc[4][3]);
    // The screen video has parallax: the parallax cue alone lets most through (the documented
    // weakness); if this starts failing the weakness is gone or the renderer changed.
    assert!(acc[1][3] >= n / 2, "parallax only: screen videos accepted {}", acc[1][3]);
}

#[test]
fn sequences_without_motion_are_never_live() {
    let photo = fixture_photo().expect("fixture photo");
    for kind in [SceneKind::Live, SceneKind::FlatPrint] {
        for seed in 100..106 {
            let seq = render_sequence(&photo, kind, &Perturb { box_jitter: 0.0, ..Perturb::still(seed) });
            let (v, r) = check(&seq, LivenessConfig::default());
            assert!(matches!(v, Verdict::NeedMotion { .. }), "{} seed {seed}: {v:?} {r:?}", kind.name());
        }
    }
}

#[test]
fn scenes_are_deterministic_with_consistent_ground_truth() {
    let photo = fixture_photo().expect("fixture photo");
    assert_eq!((photo.width, photo.height), (378, 472));
    let p = Perturb { frames: 3, ..Perturb::standard(5) };
    for kind in SceneKind::ALL {
        let a = render_sequence(&photo, kind, &p);
        let b = render_sequence(&photo, kind, &p);
        assert_eq!(a.frames, b.frames, "{}: same seed, same frames", kind.name());
        assert_eq!(a.boxes, b.boxes);
        let c = render_sequence(&photo, kind, &Perturb { seed: 6, ..p.clone() });
        assert_ne!(a.frames, c.frames, "{}: another seed, other frames", kind.name());
        assert_eq!(a.frames.len(), 3);
        for (f, (bx, lm)) in a.frames.iter().zip(a.boxes.iter().zip(&a.landmarks)) {
            assert_eq!((f.width, f.height, f.data.len()), (320, 240, 320 * 240 * 3));
            assert!(bx.left >= 0 && bx.top >= 0 && bx.right < 320 && bx.bottom < 240, "{kind:?} {bx:?}");
            let w = bx.width() as f32;
            assert!((80.0..=150.0).contains(&w), "{kind:?}: face {w} px wide");
            for l in lm {
                assert!(l.x > bx.left as f32 && l.x < bx.right as f32, "{kind:?}: {l:?} in {bx:?}");
                assert!(l.y > bx.top as f32 && l.y < bx.bottom as f32, "{kind:?}: {l:?} in {bx:?}");
            }
            // The eyes are level within the roll and above the nose.
            assert!(lm[4].y > lm[0].y.max(lm[2].y));
        }
    }
}

#[test]
fn genuine_stills_are_labelled() {
    let photo = fixture_photo().expect("fixture photo");
    let set = genuine_stills(&photo, 3, 8);
    assert_eq!(set.len(), 8);
    for (i, s) in set.iter().enumerate() {
        let (w, h) = if i % 4 == 3 { (640, 480) } else { (320, 240) };
        assert_eq!((s.frame.width, s.frame.height), (w, h));
        assert!(s.label.starts_with("yaw "), "{}", s.label);
        let b = s.face_box;
        assert!(b.left >= 0 && b.top >= 0 && b.right < w as i32 && b.bottom < h as i32, "{b:?} {}", s.label);
    }
    let again = genuine_stills(&photo, 3, 8);
    assert!(set.iter().zip(&again).all(|(a, b)| a.frame == b.frame && a.label == b.label));
}

/// Writes frames of each scene as PNGs to `$SCENE_DIR` (default: the temp dir), with
/// `truth.json` (face box and landmarks per frame) for checking the ground truth against dlib's
/// detector and landmark predictor. `SCENE_SEEDS` sequences per class (default 1).
#[test]
#[ignore]
fn dump_scenes() {
    let photo = fixture_photo().unwrap();
    let dir = std::env::var_os("SCENE_DIR").map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let seeds: u64 = std::env::var("SCENE_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut truth = vec![];
    for kind in SceneKind::ALL {
        for seed in 7..7 + seeds {
            let s = render_sequence(&photo, kind, &Perturb::standard(seed));
            for (i, f) in s.frames.iter().enumerate() {
                let file = format!("scene-{}-{seed}-{i}.png", kind.name().replace(' ', "_"));
                f.save_png(&dir.join(&file)).unwrap();
                let b = s.boxes[i];
                let lm: Vec<[f32; 2]> = s.landmarks[i].iter().map(|p| [p.x, p.y]).collect();
                truth.push(serde_json::json!({
                    "file": file, "kind": kind.name(),
                    "box": [b.left, b.top, b.right, b.bottom], "landmarks": lm,
                }));
            }
        }
    }
    for (i, s) in genuine_stills(&photo, 7, 4 * seeds as usize).iter().enumerate() {
        let file = format!("still-{i}.png");
        s.frame.save_png(&dir.join(&file)).unwrap();
        let b = s.face_box;
        let lm: Vec<[f32; 2]> = s.landmarks.iter().map(|p| [p.x, p.y]).collect();
        truth.push(serde_json::json!({
            "file": file, "kind": "still", "label": s.label,
            "box": [b.left, b.top, b.right, b.bottom], "landmarks": lm,
        }));
    }
    std::fs::write(dir.join("truth.json"), serde_json::to_string_pretty(&truth).unwrap()).unwrap();
    println!("frames and truth.json in {}", dir.display());
}

/// Prints every cue's score on the tuning seeds (1000…; `TUNE_N` sequences per class, only
/// the class `TUNE_KIND` names if set, e.g. `TUNE_KIND=live`).
#[test]
#[ignore]
fn tune() {
    let photo = fixture_photo().unwrap();
    let n: u64 = std::env::var("TUNE_N").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    let only = std::env::var("TUNE_KIND").ok();
    for kind in SceneKind::ALL {
        if only.as_deref().is_some_and(|k| k != kind.name()) {
            continue;
        }
        for seed in 1000..1000 + n {
            let s = render_sequence(&photo, kind, &Perturb::standard(seed));
            let mut c = LivenessCheck::new(LivenessConfig::default());
            for i in 0..s.frames.len() {
                c.push(s.frames[i].image_ref(), s.boxes[i], Some(&s.landmarks[i])).unwrap();
            }
            let r = c.report();
            let pairs: Vec<String> = c.pairs()[1..]
                .iter()
                .map(|p| {
                    format!(
                        "{}:{:.2}/{:.2}/{}-{}",
                        p.blocks, p.motion, p.residual, p.ring_with_face, p.ring_static
                    )
                })
                .collect();
            println!(
                "{:13} {seed} parallax {:?} coherence {:?} moire {:?} | {:?} | {}",
                kind.name(),
                r.parallax,
                r.coherence,
                r.moire,
                c.verdict(),
                pairs.join(" ")
            );
        }
    }
}
