//! The face embedder against a plain reference written from the network's definition (direct
//! convolutions over zero-padded maps, separate affine-free layers, f64 sums), on weight files
//! with pseudo-random weights in our format: no downloaded model needed. Parity with dlib
//! itself on the real weights is `hil-tests/tests/face_parity.rs`.

use shikaku_face::model::format::{self, WeightKind, CONVS, DESCRIPTOR_LEN, FC_IN, MAGIC, N_CONV};
use shikaku_face::model::{
    distance, is_match, macs, wipe, Model, ModelError, ARENA_F32, CHIP, CHIP_BYTES, THRESHOLD,
};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
    fn unit(&mut self) -> f32 {
        self.next() as f32 / (1u64 << 31) as f32 * 2.0 - 1.0
    }
}

const MEAN: [f32; 3] = [122.782, 117.001, 104.298];

/// Weights as the reference uses them (already dequantised for int8), and the file.
struct Synthetic {
    convs: Vec<(Vec<f32>, Vec<f32>)>,
    fc: Vec<f32>,
    blob: Vec<u8>,
}

fn synthetic(kind: WeightKind, seed: u64) -> Synthetic {
    let mut rng = Rng(seed);
    let mut o = Vec::new();
    o.extend_from_slice(&MAGIC);
    o.extend_from_slice(&(kind as u32).to_le_bytes());
    o.extend_from_slice(&(N_CONV as u32).to_le_bytes());
    MEAN.iter().for_each(|m| o.extend_from_slice(&m.to_le_bytes()));
    o.extend_from_slice(&(format::file_len(kind) as u32).to_le_bytes());
    let mut convs = Vec::new();
    let mut layer = |o: &mut Vec<u8>, out: usize, per: usize, with_bias: bool| -> (Vec<f32>, Vec<f32>) {
        let gain = 1.6 / (per as f32).sqrt();
        let bias: Vec<f32> = (0..out).map(|_| if with_bias { 0.05 * rng.unit() } else { 0.0 }).collect();
        let mut w = Vec::with_capacity(out * per);
        match kind {
            WeightKind::F32 => {
                if with_bias {
                    bias.iter().for_each(|b| o.extend_from_slice(&b.to_le_bytes()));
                }
                for _ in 0..out * per {
                    let v = gain * rng.unit();
                    o.extend_from_slice(&v.to_le_bytes());
                    w.push(v);
                }
            }
            WeightKind::I8 => {
                let scales: Vec<f32> =
                    (0..out).map(|_| gain / 127.0 * (0.5 + 0.5 * rng.unit().abs())).collect();
                if with_bias {
                    bias.iter().for_each(|b| o.extend_from_slice(&b.to_le_bytes()));
                }
                scales.iter().for_each(|s| o.extend_from_slice(&s.to_le_bytes()));
                for s in &scales {
                    for _ in 0..per {
                        let q = (rng.next() % 255) as i32 - 127;
                        o.push(q as i8 as u8);
                        w.push(q as f32 * s);
                    }
                }
                while !o.len().is_multiple_of(4) {
                    o.push(0);
                }
            }
        }
        (w, bias)
    };
    for s in CONVS.iter() {
        for v in [s.out, s.inp, s.k, s.stride, s.pad] {
            o.extend_from_slice(&(v as u32).to_le_bytes());
        }
        convs.push(layer(&mut o, s.out, s.weights() / s.out, true));
    }
    o.extend_from_slice(&(DESCRIPTOR_LEN as u32).to_le_bytes());
    o.extend_from_slice(&(FC_IN as u32).to_le_bytes());
    let (fc, _) = layer(&mut o, DESCRIPTOR_LEN, FC_IN, false);
    let sum = format::fnv1a(&o);
    o.extend_from_slice(&sum.to_le_bytes());
    assert_eq!(o.len(), format::file_len(kind));
    Synthetic { convs, fc, blob: o }
}

/// A tensor c×h×w.
#[derive(Clone)]
struct T {
    c: usize,
    h: usize,
    w: usize,
    v: Vec<f64>,
}

impl T {
    fn at(&self, c: usize, y: isize, x: isize) -> f64 {
        if c >= self.c || y < 0 || x < 0 || y as usize >= self.h || x as usize >= self.w {
            0.0
        } else {
            self.v[(c * self.h + y as usize) * self.w + x as usize]
        }
    }
}

fn conv(x: &T, i: usize, wts: &(Vec<f32>, Vec<f32>)) -> T {
    let s = CONVS[i];
    let oh = (x.h + 2 * s.pad - s.k) / s.stride + 1;
    let ow = (x.w + 2 * s.pad - s.k) / s.stride + 1;
    let mut v = vec![0.0; s.out * oh * ow];
    for o in 0..s.out {
        for y in 0..oh {
            for xx in 0..ow {
                let mut acc = wts.1[o] as f64;
                for c in 0..s.inp {
                    for ky in 0..s.k {
                        for kx in 0..s.k {
                            let iy = (y * s.stride + ky) as isize - s.pad as isize;
                            let ix = (xx * s.stride + kx) as isize - s.pad as isize;
                            acc += wts.0[((o * s.inp + c) * s.k + ky) * s.k + kx] as f64 * x.at(c, iy, ix);
                        }
                    }
                }
                v[(o * oh + y) * ow + xx] = acc;
            }
        }
    }
    T { c: s.out, h: oh, w: ow, v }
}

fn relu(mut t: T) -> T {
    t.v.iter_mut().for_each(|x| *x = x.max(0.0));
    t
}

fn pool(x: &T, k: usize, s: usize, max: bool) -> T {
    let (oh, ow) = ((x.h - k) / s + 1, (x.w - k) / s + 1);
    let mut v = Vec::new();
    for c in 0..x.c {
        for y in 0..oh {
            for xx in 0..ow {
                let mut acc = if max { f64::NEG_INFINITY } else { 0.0 };
                for dy in 0..k {
                    for dx in 0..k {
                        let p = x.at(c, (y * s + dy) as isize, (xx * s + dx) as isize);
                        acc = if max { acc.max(p) } else { acc + p / (k * k) as f64 };
                    }
                }
                v.push(acc);
            }
        }
    }
    T { c: x.c, h: oh, w: ow, v }
}

/// dlib's add_prev: the larger size, missing elements are 0.
fn add(a: &T, b: &T) -> T {
    let (c, h, w) = (a.c.max(b.c), a.h.max(b.h), a.w.max(b.w));
    let mut v = Vec::new();
    for ch in 0..c {
        for y in 0..h as isize {
            for x in 0..w as isize {
                v.push(a.at(ch, y, x) + b.at(ch, y, x));
            }
        }
    }
    T { c, h, w, v }
}

fn reference(s: &Synthetic, chip: &[u8]) -> Vec<f64> {
    let mut v = vec![0.0; 3 * CHIP * CHIP];
    for (i, px) in chip.chunks(3).enumerate() {
        for c in 0..3 {
            v[c * CHIP * CHIP + i] = (px[c] as f64 - MEAN[c] as f64) / 256.0;
        }
    }
    let input = T { c: 3, h: CHIP, w: CHIP, v };
    let mut x = pool(&relu(conv(&input, 0, &s.convs[0])), 3, 2, true);
    let mut i = 1;
    while i < N_CONV {
        let t = relu(conv(&x, i, &s.convs[i]));
        let y = conv(&t, i + 1, &s.convs[i + 1]);
        let skip = if CONVS[i].stride == 2 { pool(&x, 2, 2, false) } else { x.clone() };
        x = relu(add(&y, &skip));
        i += 2;
    }
    let n = (x.h * x.w) as f64;
    let pooled: Vec<f64> =
        (0..x.c).map(|c| x.v[c * x.h * x.w..(c + 1) * x.h * x.w].iter().sum::<f64>() / n).collect();
    (0..DESCRIPTOR_LEN)
        .map(|j| (0..FC_IN).map(|i| s.fc[j * FC_IN + i] as f64 * pooled[i]).sum::<f64>())
        .collect()
}

fn chip(seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    (0..CHIP_BYTES).map(|i| ((i / 3 % CHIP) as u32 + rng.next() % 64) as u8).collect()
}

#[test]
fn engine_matches_the_reference_on_synthetic_weights() {
    for (kind, seed) in [(WeightKind::I8, 7), (WeightKind::F32, 11)] {
        let s = synthetic(kind, seed);
        let model = Model::parse(&s.blob).unwrap();
        let mut arena = vec![f32::NAN; ARENA_F32];
        let input = chip(seed + 1);
        let ours = model.embed(&input, &mut arena).unwrap();
        let want = reference(&s, &input);
        let scale = want.iter().fold(0f64, |m, x| m.max(x.abs()));
        assert!(scale > 1e-3, "degenerate synthetic network");
        for (j, (a, b)) in ours.iter().zip(&want).enumerate() {
            assert!(
                (*a as f64 - b).abs() <= 1e-4 * scale.max(1.0),
                "{kind:?} component {j}: ours {a}, reference {b}"
            );
        }
        // the arena can be reused, and is wiped on request
        assert_eq!(model.embed(&input, &mut arena).unwrap(), ours);
        wipe(&mut arena);
        assert!(arena.iter().all(|x| *x == 0.0));
    }
}

#[test]
fn bad_files_and_inputs_are_refused() {
    let s = synthetic(WeightKind::I8, 3);
    let mut blob = s.blob.clone();
    assert!(Model::parse(&blob).is_ok());
    assert_eq!(Model::parse(&blob[..blob.len() - 4]).unwrap_err(), ModelError::BadLength);
    blob[0] = b'X';
    assert_eq!(Model::parse(&blob).unwrap_err(), ModelError::BadMagic);
    let mut blob = s.blob.clone();
    blob[100] ^= 1;
    assert_eq!(Model::parse(&blob).unwrap_err(), ModelError::BadChecksum);
    let mut blob = s.blob.clone();
    blob[8] = 2;
    assert_eq!(Model::parse(&blob).unwrap_err(), ModelError::BadKind);
    // a layer shape that is not the network's (the checksum recomputed so the shape is what fails)
    let mut blob = s.blob.clone();
    blob[32] = 31; // the first conv's output channels
    let n = blob.len();
    let sum = format::fnv1a(&blob[..n - 4]);
    blob[n - 4..].copy_from_slice(&sum.to_le_bytes());
    assert_eq!(Model::parse(&blob).unwrap_err(), ModelError::BadShape(0));

    let model = Model::parse(&s.blob).unwrap();
    let mut small = vec![0f32; ARENA_F32 - 1];
    assert_eq!(model.embed(&chip(1), &mut small).unwrap_err(), ModelError::ArenaTooSmall);
    let mut arena = vec![0f32; ARENA_F32];
    assert_eq!(model.embed(&[0u8; 10], &mut arena).unwrap_err(), ModelError::BadInput);
}

#[test]
fn distance_and_decision() {
    let a = [0f32; DESCRIPTOR_LEN];
    let mut b = [0f32; DESCRIPTOR_LEN];
    b[0] = 0.3;
    b[5] = 0.3;
    assert!((distance(&a, &b) - 0.424_264_07).abs() < 1e-6);
    assert!(is_match(&a, &b));
    // exactly at the threshold is no match (d < t)
    b[5] = 0.4;
    assert!((distance(&a, &b) - 0.5).abs() < 1e-6);
    assert_eq!(is_match(&a, &b), distance(&a, &b) < THRESHOLD);
    b[9] = 0.4;
    assert!((distance(&a, &b) - 0.640_312_4).abs() < 1e-6);
    assert!(!is_match(&a, &b));
    assert_eq!(THRESHOLD, 0.5);
    // 29 convolutions and the fc layer of dlib's face ResNet
    assert_eq!(macs(), 270_854_144);
}
