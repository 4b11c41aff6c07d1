//! Parity of our face detector (`shikaku_face::detect`) with dlib's
//! `cnn_face_detection_model_v1(...)(img, 0)` on the same RGB inputs.
//!
//! `scripts/face-models.sh` fetches `mmod_human_face_detector.dat` (and writes `detector.shdt`);
//! the test converts the `.dat` itself with `shikaku_hil::face_convert::detector::convert`. `scripts/face-ref-detect.py MODELS_DIR
//! MODELS_DIR/detect-parity` (with the venv's dlib) writes the inputs and dlib's detections.
//! Without them the tests skip with a message, unless `SHIKAKU_REQUIRE_MODELS=1`. Run with
//! `--release`: a 640×480 frame is about 3.4 G multiply-accumulates.
//!
//! Tolerances: the same number of detections, every edge within 1 px, confidence within
//! 1e-3 (our convolutions sum in another order than dlib's im2col + GEMM, and the affine
//! layers are folded into the weights, so the scores differ in the last bits of f32).

use shikaku_face::detect::{format, DetectError, Detection, Detector, ARENA_320X240, ARENA_640X480};
use shikaku_face::image::{ImageRef, Rect};
use shikaku_hil::face_convert::detector::{convert, inspect};
use std::time::Instant;

const EDGE_TOL: i32 = 1;
const CONF_TOL: f32 = 1e-3;

use shikaku_hil::face_models::{models_dir, need};

#[test]
fn converter_and_weight_file() {
    let Some(dat) = need(models_dir().join("mmod_human_face_detector.dat"), "scripts/face-models.sh") else {
        return;
    };
    let info = inspect(&dat).unwrap();
    println!("{info:?}");
    assert_eq!(info.window, (80, 80));
    assert_eq!((info.padding, info.outer_padding), (10, 11));
    assert!(info.nms_iou > 0.0 && info.nms_iou < 1.0, "{}", info.nms_iou);
    assert_eq!(info.nms_covered, 1.0);
    let blob = convert(&dat).unwrap();
    assert_eq!(blob.len(), format::file_len());
    Detector::parse(&blob).unwrap();
    // the file scripts/face-models.sh writes for the reader, when there, is this conversion
    if let Ok(on_disk) = std::fs::read(models_dir().join("detector.shdt")) {
        assert!(on_disk == blob, "detector.shdt differs from a fresh conversion of the .dat");
    }
    println!(
        "weight file: {} bytes; arena: {} words ({} bytes) for 320×240, {} words ({} bytes) for 640×480",
        blob.len(),
        ARENA_320X240,
        ARENA_320X240 * 4,
        ARENA_640X480,
        ARENA_640X480 * 4
    );
    println!(
        "multiply-accumulates: {} for 320×240 (tiled {:?}), {} for 640×480 (tiled {:?})",
        Detector::macs(320, 240),
        Detector::tiled_size(320, 240).unwrap(),
        Detector::macs(640, 480),
        Detector::tiled_size(640, 480).unwrap()
    );
    // damaged files are refused with the right error
    assert_eq!(Detector::parse(&blob[..blob.len() - 3]).err(), Some(DetectError::BadLength));
    let mut bad = blob.clone();
    bad[format::HEADER_LEN + 100] ^= 1;
    assert_eq!(Detector::parse(&bad).err(), Some(DetectError::BadChecksum));
    bad = blob.clone();
    bad[..8].copy_from_slice(b"SHFRES01");
    assert_eq!(Detector::parse(&bad).err(), Some(DetectError::BadMagic));
    // and a damaged .dat is refused by the converter, not accepted half-read
    assert!(convert(&dat[..dat.len() / 2]).is_err());
    assert!(convert(&dat[1..]).is_err());
}

struct Reference {
    name: String,
    width: usize,
    height: usize,
    dets: Vec<(Rect, f32)>,
}

fn references(text: &str) -> Vec<Reference> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let n: usize = f[3].parse().unwrap();
            assert_eq!(f.len(), 4 + 5 * n, "{l}");
            let dets = (0..n)
                .map(|i| {
                    let g = &f[4 + 5 * i..9 + 5 * i];
                    let e = |k: usize| g[k].parse::<i32>().unwrap();
                    (Rect { left: e(0), top: e(1), right: e(2), bottom: e(3) }, g[4].parse::<f32>().unwrap())
                })
                .collect();
            Reference {
                name: f[0].to_string(),
                width: f[1].parse().unwrap(),
                height: f[2].parse().unwrap(),
                dets,
            }
        })
        .collect()
}

#[test]
fn parity_with_dlib() {
    let dir = models_dir();
    let Some(dat) = need(dir.join("mmod_human_face_detector.dat"), "scripts/face-models.sh") else { return };
    let parity = dir.join("detect-parity");
    let Some(text) = need(
        parity.join("dlib-detections.txt"),
        "scripts/face-ref-detect.py target/face-models target/face-models/detect-parity",
    ) else {
        return;
    };
    let blob = convert(&dat).unwrap();
    let det = Detector::parse(&blob).unwrap();
    let refs = references(&String::from_utf8(text).unwrap());
    assert!(refs.len() >= 10, "only {} reference inputs", refs.len());
    let (mut worst_edge, mut worst_conf, mut faces, mut empty) = (0i32, 0f32, 0, 0);
    let mut failures = Vec::new();
    for r in &refs {
        let px = std::fs::read(parity.join(format!("{}.rgb", r.name))).unwrap();
        let img = ImageRef::new(r.width, r.height, 3, &px).unwrap();
        let mut arena = vec![0f32; Detector::arena_len(r.width, r.height)];
        let mut out: heapless::Vec<Detection, 16> = heapless::Vec::new();
        let t = Instant::now();
        let n = det.detect(img, &mut arena, &mut out).unwrap();
        let ms = t.elapsed().as_secs_f64() * 1e3;
        println!(
            "{:<18} {}×{}: dlib {:?}, ours {:?} ({ms:.0} ms, arena {} words)",
            r.name,
            r.width,
            r.height,
            r.dets,
            out.iter().map(|d| (d.rect, d.confidence)).collect::<Vec<_>>(),
            arena.len()
        );
        if n != r.dets.len() || out.len() != n {
            failures.push(format!("{}: {} detections, dlib {}", r.name, n, r.dets.len()));
            continue;
        }
        if n == 0 {
            empty += 1;
        }
        for (ours, (rect, conf)) in out.iter().zip(&r.dets) {
            faces += 1;
            let edge = [
                ours.rect.left - rect.left,
                ours.rect.top - rect.top,
                ours.rect.right - rect.right,
                ours.rect.bottom - rect.bottom,
            ]
            .iter()
            .map(|d| d.abs())
            .max()
            .unwrap();
            let dc = (ours.confidence - conf).abs();
            worst_edge = worst_edge.max(edge);
            worst_conf = worst_conf.max(dc);
            if edge > EDGE_TOL || dc > CONF_TOL {
                failures.push(format!(
                    "{}: {:?} {} vs dlib {:?} {}",
                    r.name, ours.rect, ours.confidence, rect, conf
                ));
            }
        }
    }
    println!(
        "{} inputs, {faces} faces, {empty} without: largest edge difference {worst_edge} px, \
         largest confidence difference {worst_conf:.2e}",
        refs.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(faces >= 10 && empty >= 3);
}
