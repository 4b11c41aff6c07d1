//! Parity of our face embedder (`shikaku_face::model`) with dlib's own on the same
//! aligned 150×150 inputs. `scripts/face-models.sh` makes the weight files and
//! `scripts/face-parity.sh` the inputs and dlib's descriptors (then runs this test); without
//! them the tests skip with a message, unless `SHIKAKU_REQUIRE_MODELS=1`.

use shikaku_face::model::{
    distance, format::WeightKind, macs, Descriptor, Model, ModelError, ARENA_BYTES, ARENA_F32, CHIP_BYTES,
    THRESHOLD,
};
use std::time::Instant;

/// How far from the threshold a pair may sit for the int8 engine's decision to differ.
const INT8_MARGIN: f32 = 0.01;

use shikaku_hil::face_models::{models_dir, need};

fn cosine(a: &Descriptor, b: &Descriptor) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[test]
fn weight_files_are_checked() {
    let dir = models_dir();
    for (name, kind) in [("resnet-f32.shfr", WeightKind::F32), ("resnet-i8.shfr", WeightKind::I8)] {
        let Some(mut blob) = need(dir.join(name), "scripts/face-models.sh") else { return };
        assert_eq!(Model::parse(&blob).expect(name).kind(), kind);
        let n = blob.len();
        assert_eq!(Model::parse(&blob[..n - 1]).unwrap_err(), ModelError::BadLength);
        blob[n / 2] ^= 0x40;
        assert_eq!(Model::parse(&blob).unwrap_err(), ModelError::BadChecksum);
        println!("{name}: {n} bytes of external flash");
    }
    println!("arena: {ARENA_BYTES} bytes; {} multiply-accumulates per embedding", macs());
}

#[test]
fn parity_with_dlib() {
    let dir = models_dir();
    let Some(f32_blob) = need(dir.join("resnet-f32.shfr"), "scripts/face-models.sh") else { return };
    let Some(i8_blob) = need(dir.join("resnet-i8.shfr"), "scripts/face-models.sh") else { return };
    let parity = dir.join("parity");
    let Some(reference) = need(parity.join("dlib-descriptors.txt"), "scripts/face-parity.sh") else { return };
    let f32_model = Model::parse(&f32_blob).unwrap();
    let i8_model = Model::parse(&i8_blob).unwrap();
    let mut arena = vec![0f32; ARENA_F32];

    let mut rows: Vec<(String, Descriptor, Descriptor, Descriptor)> = Vec::new();
    let (mut t_f32, mut t_i8) = (0.0, 0.0);
    for line in String::from_utf8(reference).unwrap().lines() {
        let mut it = line.split_whitespace();
        let name = it.next().unwrap().to_string();
        let v: Vec<f32> = it.map(|x| x.parse().unwrap()).collect();
        let theirs: Descriptor = v.try_into().expect("128 components");
        let chip = std::fs::read(parity.join(format!("{name}.rgb"))).unwrap();
        assert_eq!(chip.len(), CHIP_BYTES);
        let t = Instant::now();
        let ours = f32_model.embed(&chip, &mut arena).unwrap();
        t_f32 += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let ours8 = i8_model.embed(&chip, &mut arena).unwrap();
        t_i8 += t.elapsed().as_secs_f64();
        rows.push((name, theirs, ours, ours8));
    }
    assert!(rows.len() >= 3, "too few parity inputs");

    println!("{:<22} {:>12} {:>10} {:>12}", "input", "f32 max|Δ|", "f32 cos", "int8 cos");
    let mut worst_f32 = 0f32;
    let mut worst_i8 = 1f32;
    for (name, theirs, ours, ours8) in &rows {
        let d = theirs.iter().zip(ours).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        let c8 = cosine(theirs, ours8);
        println!("{name:<22} {d:>12.2e} {:>10.6} {c8:>12.6}", cosine(theirs, ours));
        worst_f32 = worst_f32.max(d);
        worst_i8 = worst_i8.min(c8);
    }
    println!("worst: f32 max|Δ| {worst_f32:.2e} (limit 1e-3), int8 cosine {worst_i8:.6} (limit 0.99)");

    // the decision on every pair of inputs
    let mut pairs = 0;
    let mut int8_flips = 0;
    for i in 0..rows.len() {
        for j in i + 1..rows.len() {
            let dlib = distance(&rows[i].1, &rows[j].1);
            let ours = distance(&rows[i].2, &rows[j].2);
            let ours8 = distance(&rows[i].3, &rows[j].3);
            println!(
                "pair {} / {}: distance dlib {dlib:.4} ours f32 {ours:.4} int8 {ours8:.4}",
                rows[i].0, rows[j].0
            );
            assert_eq!(
                dlib < THRESHOLD,
                ours < THRESHOLD,
                "f32 decision differs on {} / {}",
                rows[i].0,
                rows[j].0
            );
            if (dlib < THRESHOLD) != (ours8 < THRESHOLD) {
                // int8 moves distances by a few thousandths: a flip is only acceptable for a
                // pair that sits on the threshold, and it is reported
                assert!(
                    (dlib - THRESHOLD).abs() < INT8_MARGIN,
                    "int8 decision differs on {} / {} at distance {dlib}",
                    rows[i].0,
                    rows[j].0
                );
                println!("  int8 decision differs (dlib distance within {INT8_MARGIN} of the threshold)");
                int8_flips += 1;
            }
            pairs += 1;
        }
    }
    println!(
        "decisions at threshold {THRESHOLD}: f32 agrees with dlib on all {pairs} pairs; int8 on {} \
         ({int8_flips} flip(s), all within {INT8_MARGIN} of the threshold)",
        pairs - int8_flips
    );

    let n = rows.len() as f64;
    let ours_ms = 1000.0 * t_f32 / n;
    println!(
        "ours: f32 {ours_ms:.1} ms, int8 {:.1} ms per embedding (this build's profile)",
        1000.0 * t_i8 / n
    );
    if let Ok(s) = std::fs::read_to_string(parity.join("dlib-time.txt")) {
        if let Ok(dlib_ms) = s.trim().parse::<f64>() {
            println!("dlib: {dlib_ms:.1} ms per embedding; ours/dlib = {:.2}", ours_ms / dlib_ms);
        }
    }
    assert!(worst_f32 <= 1e-3, "f32 embeddings differ from dlib's by {worst_f32}");
    assert!(worst_i8 >= 0.99, "int8 embeddings' cosine to dlib's is {worst_i8}");
}
