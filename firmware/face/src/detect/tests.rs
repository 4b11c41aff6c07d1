//! Unit tests on synthetic weight files (the parity with dlib on the real model is in
//! `hil-tests/tests/face_detect_parity.rs`).

use super::*;
extern crate std;
use std::vec;
use std::vec::Vec;

/// A well-formed weight file whose convolutions are all zero except the scorer's bias.
fn blob(score_bias: f32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&MAGIC);
    v.extend_from_slice(&(format::file_len() as u32).to_le_bytes());
    for m in [122.782f32, 117.001, 104.298] {
        v.extend_from_slice(&m.to_le_bytes());
    }
    for x in [6u32, 10, 11, 80, 80] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.extend_from_slice(&0.4146f64.to_le_bytes());
    v.extend_from_slice(&1.0f64.to_le_bytes());
    v.extend_from_slice(&(N_CONV as u32).to_le_bytes());
    for (i, s) in CONVS.iter().enumerate() {
        for x in [s.out, s.inp, s.k, s.stride, s.pad, s.relu as usize] {
            v.extend_from_slice(&(x as u32).to_le_bytes());
        }
        let bias = if i == N_CONV - 1 { score_bias } else { 0.0 };
        for _ in 0..s.out {
            v.extend_from_slice(&bias.to_le_bytes());
        }
        v.resize(v.len() + 4 * s.weights(), 0);
    }
    reseal(&mut v);
    v
}

fn reseal(v: &mut Vec<u8>) {
    let n = v.len();
    if n >= 4 && n == format::file_len() {
        let h = format::fnv1a(&v[..n - 4]);
        v[n - 4..].copy_from_slice(&h.to_le_bytes());
    } else {
        let h = format::fnv1a(v);
        v.extend_from_slice(&h.to_le_bytes());
    }
}

#[test]
fn weight_files_are_checked() {
    let good = blob(-1.0);
    assert_eq!(good.len(), format::file_len());
    assert!(Detector::parse(&good).is_ok());

    assert_eq!(Detector::parse(&[]).err(), Some(DetectError::BadMagic));
    let mut bad = good.clone();
    bad[0] = b'X';
    assert_eq!(Detector::parse(&bad).err(), Some(DetectError::BadMagic));

    assert_eq!(Detector::parse(&good[..good.len() - 1]).err(), Some(DetectError::BadLength));
    assert_eq!(Detector::parse(&good[..100]).err(), Some(DetectError::BadLength));
    let mut longer = good.clone();
    longer.push(0);
    assert_eq!(Detector::parse(&longer).err(), Some(DetectError::BadLength));

    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x10;
    assert_eq!(Detector::parse(&flipped).err(), Some(DetectError::BadChecksum));

    // a layer of another shape, checksum made right
    let mut shape = good.clone();
    let at = HEADER_LEN + format::conv_record_len(&CONVS[0]) + format::conv_record_len(&CONVS[1]);
    shape[at..at + 4].copy_from_slice(&33u32.to_le_bytes());
    reseal(&mut shape);
    assert_eq!(Detector::parse(&shape).err(), Some(DetectError::BadLayer(2)));

    // a pyramid padding dlib does not use
    let mut params = good.clone();
    params[28..32].copy_from_slice(&9u32.to_le_bytes());
    reseal(&mut params);
    assert_eq!(Detector::parse(&params).err(), Some(DetectError::BadParams));
    let mut nan = good.clone();
    nan[44..52].copy_from_slice(&f64::NAN.to_le_bytes());
    reseal(&mut nan);
    assert_eq!(Detector::parse(&nan).err(), Some(DetectError::BadParams));
}

#[test]
fn arena_and_image_sizes_are_checked() {
    let b = blob(-1.0);
    let det = Detector::parse(&b).unwrap();
    let pixels = vec![90u8; 40 * 30 * 3];
    let img = ImageRef::new(40, 30, 3, &pixels).unwrap();
    let need = Detector::arena_len(40, 30);
    assert!(need > 0);
    let mut arena = vec![0f32; need - 1];
    let mut out: heapless::Vec<Detection, 4> = heapless::Vec::new();
    assert_eq!(
        det.detect(img, &mut arena, &mut out),
        Err(DetectError::ArenaTooSmall { need, got: need - 1 })
    );
    assert_eq!(det.detect(img, &mut [], &mut out), Err(DetectError::ArenaTooSmall { need, got: 0 }));

    let wide = vec![0u8; pyramid::MAX_SIDE + 1];
    let img = ImageRef::new(pyramid::MAX_SIDE + 1, 1, 1, &wide).unwrap();
    assert_eq!(Detector::arena_len(pyramid::MAX_SIDE + 1, 1), 0);
    assert_eq!(
        det.detect(img, &mut arena, &mut out),
        Err(DetectError::ImageSize { width: pyramid::MAX_SIDE + 1, height: 1 })
    );
    // the stated budgets
    const { assert!(ARENA_640X480 > ARENA_320X240 && ARENA_640X480 < 256 * 1024) };
    assert_eq!(Detector::arena_len(640, 480), ARENA_640X480);
}

#[test]
fn tiny_images_give_no_detection() {
    let b = blob(1.0);
    let det = Detector::parse(&b).unwrap();
    let mut out: heapless::Vec<Detection, 4> = heapless::Vec::new();
    for (w, h) in [(1, 1), (3, 17), (17, 3)] {
        let px = vec![200u8; w * h];
        let img = ImageRef::new(w, h, 1, &px).unwrap();
        let mut arena = vec![0f32; Detector::arena_len(w, h)];
        // the tiled image is smaller than the network's first layers need, or the map
        // has positions whose windows come from the padding only: whatever dlib's network
        // gives, nothing panics and the count matches the list
        let n = det.detect(img, &mut arena, &mut out).unwrap();
        assert_eq!(n.min(4), out.len());
    }
}

#[test]
fn no_score_above_zero_gives_no_detection() {
    let b = blob(-0.5);
    let det = Detector::parse(&b).unwrap();
    let mut s = 12345u32;
    let px: Vec<u8> = (0..48 * 40 * 3)
        .map(|_| {
            s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (s >> 16) as u8
        })
        .collect();
    let img = ImageRef::new(48, 40, 3, &px).unwrap();
    let mut arena = vec![0f32; Detector::arena_len(48, 40)];
    let mut out: heapless::Vec<Detection, 4> = heapless::Vec::new();
    assert_eq!(det.detect(img, &mut arena, &mut out), Ok(0));
    assert!(out.is_empty());
}

#[test]
fn every_window_scoring_gives_non_overlapping_boxes() {
    // every map position scores 0.25: the kept boxes are exactly those no earlier kept box
    // overlaps, all with that confidence
    let b = blob(0.25);
    let det = Detector::parse(&b).unwrap();
    let px = vec![128u8; 64 * 48];
    let img = ImageRef::new(64, 48, 1, &px).unwrap();
    let mut arena = vec![0f32; Detector::arena_len(64, 48)];
    let mut out: heapless::Vec<Detection, 64> = heapless::Vec::new();
    let n = det.detect(img, &mut arena, &mut out).unwrap();
    assert!(n >= 1 && n == out.len());
    for (i, d) in out.iter().enumerate() {
        assert_eq!(d.confidence, 0.25);
        assert!(d.rect.width() >= 80 && d.rect.height() >= 80, "{:?}", d.rect);
        for e in &out[..i] {
            assert!(!overlaps(&e.rect, &d.rect, 0.4146, 1.0));
        }
    }
    // with room for one only, the first one comes and the count is still the total
    let mut one: heapless::Vec<Detection, 1> = heapless::Vec::new();
    assert_eq!(det.detect(img, &mut arena, &mut one), Ok(n));
    assert_eq!(one[0], out[0]);
}

#[test]
fn overlap_rule_is_dlibs() {
    let a = Rect { left: 0, top: 0, right: 9, bottom: 9 };
    // intersection 50, bounding box 150: 1/3
    let b = Rect { left: 5, top: 0, right: 14, bottom: 9 };
    assert!(overlaps(&a, &b, 0.3, 1.0));
    assert!(!overlaps(&a, &b, 0.34, 1.0));
    // b inside a: covered fully
    let c = Rect { left: 2, top: 2, right: 5, bottom: 5 };
    assert!(overlaps(&a, &c, 0.9, 0.99));
    assert!(!overlaps(&a, &c, 0.9, 1.0));
    let far = Rect { left: 20, top: 20, right: 29, bottom: 29 };
    assert!(!overlaps(&a, &far, 0.0, 0.0));
}

#[test]
fn resize_matches_the_scalar_formula_inside() {
    // away from lane rounding, the 4-lane path agrees with plain bilinear interpolation
    let top: Vec<f32> = (0..12).map(|i| i as f32).collect();
    let bottom: Vec<f32> = (0..12).map(|i| 2.0 * i as f32).collect();
    let mut dst = vec![0f32; 10];
    let xs = scale(12, 10);
    resize_row(&top, &bottom, &mut dst, 0.25, xs);
    for (c, v) in dst.iter().enumerate() {
        let x = c as f64 * xs;
        let want = 0.75 * x + 0.25 * 2.0 * x;
        assert!((*v as f64 - want).abs() < 1e-4, "{c}: {v} vs {want}");
    }
}

#[test]
fn too_many_candidates_is_an_error() {
    // every window of a 200×150 frame scores: more than the arena's candidate list holds
    let b = blob(0.5);
    let det = Detector::parse(&b).unwrap();
    let px = vec![60u8; 200 * 150];
    let img = ImageRef::new(200, 150, 1, &px).unwrap();
    let mut arena = vec![0f32; Detector::arena_len(200, 150)];
    let mut out: heapless::Vec<Detection, 2> = heapless::Vec::new();
    assert_eq!(det.detect(img, &mut arena, &mut out), Err(DetectError::TooManyCandidates(MAX_CANDIDATES)));
    assert!(out.is_empty());
}
