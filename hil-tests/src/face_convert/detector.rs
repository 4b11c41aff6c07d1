//! dlib's CNN face detector (`mmod_human_face_detector.dat`) → our weight file (`SHDET001`, the
//! layout is documented in `shikaku_face::detect::format`).
//!
//! The network (dlib's `dnn_mmod_face_detection_ex.cpp`):
//! `loss_mmod → con 1×9×9 → 3 × (relu affine con5 45) → relu affine con5d 32 → relu affine
//! con5d 32 → relu affine con5d 16 → input_rgb_image_pyramid<pyramid_down<6>>`, con5 being a
//! 5×5 convolution with stride 1 and padding 2, con5d 5×5 with stride 2 and no padding.
//!
//! The file as dlib wrote it (serialization primitives in [`crate::dlib_dat`]):
//! - add_loss_layer version (1), "loss_mmod_", then `mmod_options`: version; for version 1 a
//!   single detector window width and height, for later versions a vector of windows (count,
//!   then each: version, width, height, label from version 2 on); loss per false alarm, loss
//!   per missed target, truth-match IoU threshold (doubles); the NMS `test_box_overlap` (IoU
//!   threshold, percent-covered threshold) and the ignore one; from version 3 the
//!   image-pyramid flag (an integer), from version 4 the bounding-box-regression flag and λ.
//! - the wrappers' versions outside in (add_layer 2 … the bottom add_layer 3);
//! - "input_rgb_image_pyramid" and the three channel means (floats); the later
//!   "input_rgb_image_pyramid2" adds the pyramid padding and outer padding (integers;
//!   otherwise dlib uses 10 and 11);
//! - the computational layers from the input outwards, each followed by three bools and three
//!   empty tensors, the bottom one also by its sample expansion factor: "con_4" (params:
//!   filters then biases; filters, rows, columns, stride y, stride x, padding y, padding x, two
//!   alias tensors, four doubles), "bn_con2" (params γ then β; two aliases; means, inverse
//!   stds, running means, running variances tensors; update count, window size, four doubles,
//!   ε — dlib turns it into an affine layer when it loads the detector: γ' = γ/√(var+ε),
//!   β' = β − γ'·mean), "affine_" (params γ then β, two aliases, mode), "relu_".
//!
//! Every affine layer is folded into the convolution before it (w' = γ'·w, b' = γ'·b + β').

use crate::dlib_dat::{DatReader, Res};
use shikaku_face::detect::format::{self, CONVS, MAGIC, N_CONV};

/// What the converter found in the file, for the report and the tests.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorInfo {
    pub window: (u32, u32),
    pub nms_iou: f64,
    pub nms_covered: f64,
    pub means: [f32; 3],
    pub padding: u32,
    pub outer_padding: u32,
    pub options_version: i64,
}

enum Layer {
    Con { out: usize, inp: usize, k: usize, stride: usize, pad: usize, w: Vec<f32>, b: Vec<f32> },
    Affine { gamma: Vec<f32>, beta: Vec<f32> },
    Relu,
}

struct Parsed {
    info: DetectorInfo,
    layers: Vec<Layer>,
}

fn parse(b: &[u8]) -> Res<Parsed> {
    let mut r = DatReader::new(b);
    if r.int()? != 1 {
        return Err("not a dlib add_loss_layer (version)".into());
    }
    r.expect_str("loss_mmod_")?;
    let ov = r.int()?;
    let window = match ov {
        1 => (r.uint()? as u32, r.uint()? as u32),
        2..=4 => {
            let n = r.uint()?;
            if n != 1 {
                return Err(format!("{n} detector windows; the firmware runs exactly one"));
            }
            let v = r.int()?;
            let w = (r.uint()? as u32, r.uint()? as u32);
            if v == 2 {
                r.string()?;
            }
            w
        }
        _ => return Err(format!("mmod_options version {ov}")),
    };
    let _loss_fa = r.float()?;
    let _loss_miss = r.float()?;
    let _truth_iou = r.float()?;
    let nms_iou = r.float()?;
    let nms_covered = r.float()?;
    let _ignore_iou = r.float()?;
    let _ignore_covered = r.float()?;
    if ov >= 3 && r.int()? != 1 {
        return Err("the detector does not assume an image pyramid".into());
    }
    if ov >= 4 {
        if r.boolean()? {
            return Err("bounding box regression is not supported".into());
        }
        r.float()?;
    }
    super::wrapper_versions(&mut r)?;
    let tag = r.string()?;
    let means = [r.float()? as f32, r.float()? as f32, r.float()? as f32];
    let (padding, outer_padding) = match tag.as_str() {
        "input_rgb_image_pyramid" => (10, 11),
        "input_rgb_image_pyramid2" => (r.uint()? as u32, r.uint()? as u32),
        t => return Err(format!("input layer {t:?}, expected input_rgb_image_pyramid")),
    };
    let layers = super::layers(&mut r, |r, name| {
        Ok(match name {
            "con_4" => {
                let c = r.con_record()?;
                Layer::Con { out: c.out, inp: c.inp, k: c.k, stride: c.stride, pad: c.pad, w: c.w, b: c.b }
            }
            "bn_con2" => {
                let (_, params) = r.tensor()?;
                let g = r.alias()?;
                let _ = r.alias()?;
                let _means = r.tensor()?;
                let _invstds = r.tensor()?;
                let (_, rm) = r.tensor()?;
                let (_, rv) = r.tensor()?;
                r.int()?;
                r.int()?;
                for _ in 0..4 {
                    r.float()?;
                }
                let eps = r.float()? as f32;
                let n = g.iter().product::<usize>();
                if params.len() != 2 * n || rm.len() != n || rv.len() != n {
                    return Err("bn_con2 sizes".into());
                }
                // dlib's affine_(const bn_&), in f32 as dlib computes it
                let gamma: Vec<f32> = (0..n).map(|i| params[i] / (rv[i] + eps).sqrt()).collect();
                let beta: Vec<f32> = (0..n).map(|i| params[n + i] - gamma[i] * rm[i]).collect();
                Layer::Affine { gamma, beta }
            }
            "affine_" => {
                let (gamma, beta) = super::affine(r)?;
                Layer::Affine { gamma, beta }
            }
            "relu_" => Layer::Relu,
            other => return Err(format!("unknown layer {other:?} at {}", r.p)),
        })
    })?;
    Ok(Parsed {
        info: DetectorInfo {
            window,
            nms_iou,
            nms_covered,
            means,
            padding,
            outer_padding,
            options_version: ov,
        },
        layers,
    })
}

/// The folded convolutions (weights [out][in][k][k], biases) and whether a relu follows each.
type Folded = Vec<(Vec<f32>, Vec<f32>, bool)>;

fn fold(layers: &[Layer]) -> Res<Folded> {
    let mut convs: Folded = Vec::new();
    let mut it = layers.iter().peekable();
    while let Some(l) = it.next() {
        let Layer::Con { out, inp, k, stride, pad, w, b } = l else {
            return Err("the network does not alternate convolutions and their followers".into());
        };
        let i = convs.len();
        let want = CONVS.get(i).ok_or("more convolutions than the network has")?;
        if (*out, *inp, *k, *stride, *pad) != (want.out, want.inp, want.k, want.stride, want.pad) {
            return Err(format!("conv {i}: {out}×{inp}×{k}×{k} /{stride} pad {pad}, expected {:?}", want));
        }
        let (mut fw, mut fb) = (w.clone(), b.clone());
        if let Some(Layer::Affine { gamma, beta }) = it.peek() {
            if gamma.len() != *out {
                return Err(format!("affine after conv {i} has {} channels", gamma.len()));
            }
            let per = w.len() / out;
            for o in 0..*out {
                for x in &mut fw[o * per..(o + 1) * per] {
                    *x *= gamma[o];
                }
                fb[o] = b[o] * gamma[o] + beta[o];
            }
            it.next();
        }
        let relu = matches!(it.peek(), Some(Layer::Relu));
        if relu {
            it.next();
        }
        if relu != want.relu {
            return Err(format!("conv {i}: relu {relu}, expected {}", want.relu));
        }
        convs.push((fw, fb, relu));
    }
    if convs.len() != N_CONV {
        return Err(format!("{} convolutions, expected {N_CONV}", convs.len()));
    }
    Ok(convs)
}

fn put_u32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

/// What is in the file, without converting it.
pub fn inspect(dat: &[u8]) -> Result<DetectorInfo, String> {
    Ok(parse(dat)?.info)
}

/// Converts `mmod_human_face_detector.dat` into our `SHDET001` weight file.
pub fn convert(dat: &[u8]) -> Result<Vec<u8>, String> {
    let p = parse(dat)?;
    let convs = fold(&p.layers)?;
    let i = &p.info;
    let mut v = Vec::with_capacity(format::file_len());
    v.extend_from_slice(&MAGIC);
    put_u32(&mut v, format::file_len() as u32);
    for m in i.means {
        v.extend_from_slice(&m.to_le_bytes());
    }
    put_u32(&mut v, 6); // pyramid_down<6>
    put_u32(&mut v, i.padding);
    put_u32(&mut v, i.outer_padding);
    put_u32(&mut v, i.window.0);
    put_u32(&mut v, i.window.1);
    v.extend_from_slice(&i.nms_iou.to_le_bytes());
    v.extend_from_slice(&i.nms_covered.to_le_bytes());
    put_u32(&mut v, N_CONV as u32);
    for (s, (w, b, relu)) in CONVS.iter().zip(&convs) {
        for x in [s.out, s.inp, s.k, s.stride, s.pad, *relu as usize] {
            put_u32(&mut v, x as u32);
        }
        for x in b.iter().chain(w) {
            v.extend_from_slice(&x.to_le_bytes());
        }
    }
    let h = format::fnv1a(&v);
    put_u32(&mut v, h);
    if v.len() != format::file_len() {
        return Err(format!("wrote {} bytes, the format says {}", v.len(), format::file_len()));
    }
    Ok(v)
}
