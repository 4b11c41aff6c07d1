//! Parity of our landmarks (`shikaku_face::landmarks`) and alignment
//! (`shikaku_face::align`) with dlib's `shape_predictor` and `get_face_chip` on the
//! same images and boxes.
//!
//! Reference data: `scripts/face-ref-landmarks.py MODELS_DIR MODELS_DIR/landmarks-ref` (with
//! the venv of `scripts/face-parity.sh`); the model is converted here from
//! `MODELS_DIR/shape_predictor_5_face_landmarks.dat` by
//! `shikaku_hil::face_convert::landmarks::convert`. Without them the tests skip with a
//! message, unless `SHIKAKU_REQUIRE_MODELS=1`.
//!
//! Tolerances: landmarks exactly dlib's (dlib's parts are integer pixels; anything but an
//! exact match is off by at least one pixel); chip samples within ±1 of dlib's (the
//! transforms are closed forms where dlib uses an SVD: equal to the last bits of f64, so a
//! bilinear value can round the other way only when it lies within ~1e-12 of an integer).

use shikaku_face::align::{self, CHIP_BYTES};
use shikaku_face::image::{ImageRef, Point, Rect};
use shikaku_face::landmarks::{format, LandmarkError, ShapeModel};
use shikaku_hil::face_convert::landmarks::convert;
use std::time::Instant;

use shikaku_hil::face_models::{models_dir, need};

fn model_blob() -> Option<Vec<u8>> {
    let dat = need(models_dir().join("shape_predictor_5_face_landmarks.dat"), "scripts/face-models.sh")?;
    Some(convert(&dat).expect("convert the shape predictor"))
}

struct Case {
    name: String,
    image: String,
    w: usize,
    h: usize,
    ch: usize,
    rect: Rect,
    source: String,
    dlib: [Point; 5],
}

fn cases(dir: &std::path::Path) -> Option<Vec<Case>> {
    let text = need(dir.join("cases.txt"), "scripts/face-ref-landmarks.py")?;
    let mut out = Vec::new();
    for line in String::from_utf8(text).unwrap().lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 20, "{line}");
        let n = |i: usize| f[i].parse::<i64>().unwrap();
        let mut dlib = [Point::default(); 5];
        for (k, p) in dlib.iter_mut().enumerate() {
            *p = Point { x: n(10 + 2 * k) as f32, y: n(11 + 2 * k) as f32 };
        }
        out.push(Case {
            name: f[0].into(),
            image: f[1].into(),
            w: n(2) as usize,
            h: n(3) as usize,
            ch: n(4) as usize,
            rect: Rect { left: n(5) as i32, top: n(6) as i32, right: n(7) as i32, bottom: n(8) as i32 },
            source: f[9].into(),
            dlib,
        });
    }
    Some(out)
}

#[test]
fn model_file_is_checked() {
    let Some(mut blob) = model_blob() else { return };
    let m = ShapeModel::parse(&blob).expect("our converted model");
    println!(
        "landmark model: {} bytes, {} levels × {} trees of depth {}, {} feature pixels per level",
        blob.len(),
        m.cascades(),
        m.trees_per_level(),
        m.tree_depth(),
        m.features_per_level()
    );
    assert_eq!(&blob[..8], &format::MAGIC);
    let n = blob.len();
    assert_eq!(ShapeModel::parse(&blob[..n - 4]).unwrap_err(), LandmarkError::BadLength);
    blob[n / 3] ^= 0x10;
    assert_eq!(ShapeModel::parse(&blob).unwrap_err(), LandmarkError::BadChecksum);
    // The converter refuses what is not a shape predictor.
    assert!(convert(b"not a model").is_err());
    let dat =
        need(models_dir().join("shape_predictor_5_face_landmarks.dat"), "scripts/face-models.sh").unwrap();
    assert!(convert(&dat[..dat.len() - 1]).is_err());
}

#[test]
fn landmarks_and_chips_match_dlib() {
    let Some(blob) = model_blob() else { return };
    let model = ShapeModel::parse(&blob).unwrap();
    let dir = models_dir().join("landmarks-ref");
    let Some(cases) = cases(&dir) else { return };
    let (mut exact, mut worst_px) = (0usize, 0f32);
    let (mut max_d, mut sum_d, mut n_d) = (0i32, 0u64, 0u64);
    let (mut max_own, mut sum_own) = (0i32, 0u64);
    let (mut t_lm, mut t_chip) = (0.0, 0.0);
    let mut failures = Vec::new();
    let mut images: std::collections::HashMap<String, Vec<u8>> = Default::default();
    let embed = std::fs::read(models_dir().join("resnet-f32.shfr")).ok();
    let embedder = embed.as_deref().map(|b| shikaku_face::model::Model::parse(b).expect("resnet-f32.shfr"));
    let mut arena = vec![0f32; shikaku_face::model::ARENA_F32];
    let mut worst_embed = 0f32;
    let mut embedded_one = false;
    let mut per_image: std::collections::BTreeMap<String, (f64, usize)> = Default::default();
    for c in &cases {
        let px = images
            .entry(c.image.clone())
            .or_insert_with(|| std::fs::read(dir.join(format!("{}.rgb", c.image))).unwrap());
        let img = ImageRef::new(c.w, c.h, c.ch, px).unwrap();
        let t = Instant::now();
        let ours = model.predict(img, c.rect).unwrap();
        t_lm += t.elapsed().as_secs_f64();
        let d = ours
            .iter()
            .zip(&c.dlib)
            .map(|(a, b)| (a.x - b.x).abs().max((a.y - b.y).abs()))
            .fold(0f32, f32::max);
        worst_px = worst_px.max(d);
        if d <= 0.01 {
            exact += 1;
        } else {
            failures.push(format!("{} ({}): ours {:?} dlib {:?}", c.name, c.source, ours, c.dlib));
        }

        // The chip from dlib's landmarks (alignment alone) and from ours (the whole path).
        let theirs = std::fs::read(dir.join(format!("{}.chip.rgb", c.name))).unwrap();
        assert_eq!(theirs.len(), CHIP_BYTES);
        let mut chip = vec![0u8; CHIP_BYTES];
        let out: &mut [u8; CHIP_BYTES] = chip.as_mut_slice().try_into().unwrap();
        let t = Instant::now();
        align::chip(img, &c.dlib, out).unwrap();
        let dt = t.elapsed().as_secs_f64();
        t_chip += dt;
        let e = per_image.entry(c.image.clone()).or_insert((0.0, 0));
        e.0 += dt;
        e.1 += 1;
        let mut case_max = 0;
        for (a, b) in chip.iter().zip(&theirs) {
            let dd = (*a as i32 - *b as i32).abs();
            case_max = case_max.max(dd);
            sum_d += dd as u64;
        }
        n_d += CHIP_BYTES as u64;
        max_d = max_d.max(case_max);
        if case_max > 1 {
            failures.push(format!("{} ({}): chip max |Δ| {case_max}", c.name, c.source));
        }
        if let Some(m) = &embedder {
            // Real faces only (the hand boxes far from the face give chips of background);
            // byte-identical chips embed identically, so after the first face only differing
            // chips are embedded (the debug-build embedder takes seconds).
            if c.source == "hog" && (!embedded_one || chip != theirs) {
                embedded_one = true;
                let a = m.embed(&chip, &mut arena).unwrap();
                let b = m.embed(&theirs, &mut arena).unwrap();
                let dist = shikaku_face::model::distance(&a, &b);
                worst_embed = worst_embed.max(dist);
                println!("{}: embedding distance ours vs dlib's chip {dist:.2e}", c.name);
            }
        }
        // The whole path (our landmarks, then our chip); the same landmarks give the same chip.
        let mut own = chip.clone();
        if ours != c.dlib {
            let out: &mut [u8; CHIP_BYTES] = own.as_mut_slice().try_into().unwrap();
            align::chip(img, &ours, out).unwrap();
        }
        for (a, b) in own.iter().zip(&theirs) {
            let dd = (*a as i32 - *b as i32).abs();
            max_own = max_own.max(dd);
            sum_own += dd as u64;
        }
    }
    let n = cases.len();
    println!(
        "landmarks: {exact}/{n} cases exactly dlib's (worst {worst_px} px); {:.2} ms per prediction (this build)",
        t_lm * 1e3 / n as f64
    );
    println!(
        "chips from dlib's landmarks: max |Δ| {max_d}, mean |Δ| {:.5}; {:.1} ms per chip (this build)",
        sum_d as f64 / n_d as f64,
        t_chip * 1e3 / n as f64
    );
    for (image, (t, k)) in &per_image {
        println!("  chips of {image}: {:.1} ms each", t * 1e3 / *k as f64);
    }
    println!("chips from our landmarks: max |Δ| {max_own}, mean |Δ| {:.5}", sum_own as f64 / n_d as f64);
    if embedder.is_some() {
        println!("embeddings of our chip vs dlib's chip (HOG boxes): worst distance {worst_embed:.2e}");
        assert!(worst_embed < 0.01, "embedding distance {worst_embed}");
    } else {
        eprintln!("SKIPPED (embedding comparison): no resnet-f32.shfr; run scripts/face-models.sh");
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}
