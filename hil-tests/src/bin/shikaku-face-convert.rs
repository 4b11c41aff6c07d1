// shikaku-face-convert: dlib's `dlib_face_recognition_resnet_model_v1.dat` → our compact
// weight files (`SHFRES01`, see `shikaku_face::model::format`), f32 and int8.
//
//   shikaku-face-convert MODEL.dat OUT_DIR   → OUT_DIR/resnet-f32.shfr, OUT_DIR/resnet-i8.shfr
//   shikaku-face-convert --all MODELS_DIR    → also detector.shdt (the CNN face detector) and
//                                              landmarks5.shlm (the 5-point shape predictor)
//
// dlib's serialization of values: `shikaku_hil::dlib_dat`. Of networks:
// - a network is written outside in: every wrapper writes its version (add_layer 2, tags and
//   skips 1, the bottom add_layer 3) before its subnetwork, so the stream is all the versions
//   from the loss layer inwards, the input layer, then each computational layer's details
//   from the input outwards, each followed by three bools and three (empty) tensors, the
//   bottom layer also by its sample expansion factor.
// Layer details: "con_4" params(filters, then biases) num_filters nr nc stride_y stride_x
// pad_y pad_x alias alias 4×double; "affine_" params(γ then β) alias alias mode;
// "relu_"; "max_pool_2"/"avg_pool_2" nr nc stride_y stride_x pad_y pad_x; "add_prev_";
// "fc_2" num_outputs num_inputs params(num_inputs×num_outputs, row-major) alias alias
// bias_mode 4×double.

use shikaku_face::model::format::{self, WeightKind, CONVS, DESCRIPTOR_LEN, FC_IN, MAGIC, N_CONV};
use shikaku_hil::dlib_dat::{DatReader as Reader, Res};
use shikaku_hil::face_convert;
use std::process::ExitCode;

#[derive(Debug)]
enum Layer {
    Con { out: usize, k: usize, stride: usize, pad: usize, w: Vec<f32>, b: Vec<f32> },
    Affine { gamma: Vec<f32>, beta: Vec<f32> },
    Relu,
    MaxPool([usize; 6]),
    AvgPool([usize; 6]),
    AddPrev,
    Fc { out: usize, inp: usize, w: Vec<f32> },
}

struct Parsed {
    mean: [f32; 3],
    layers: Vec<Layer>,
}

fn parse(b: &[u8]) -> Res<Parsed> {
    let mut r = Reader::new(b);
    if r.int()? != 1 {
        return Err("not a dlib add_loss_layer (version)".into());
    }
    r.expect_str("loss_metric_2")?;
    let margin = r.float()?;
    let thresh = r.float()?;
    eprintln!("loss_metric: margin {margin}, distance threshold {thresh}");
    let wrappers = face_convert::wrapper_versions(&mut r)?;
    r.expect_str("input_rgb_image_sized")?;
    let mean = [r.float()? as f32, r.float()? as f32, r.float()? as f32];
    let (nr, nc) = (r.uint()?, r.uint()?);
    if (nr, nc) != (150, 150) {
        return Err(format!("input size {nr}×{nc}, expected 150×150"));
    }
    let layers = face_convert::layers(&mut r, |r, name| {
        Ok(match name {
            "con_4" => {
                let c = r.con_record()?;
                Layer::Con { out: c.out, k: c.k, stride: c.stride, pad: c.pad, w: c.w, b: c.b }
            }
            "affine_" => {
                let (gamma, beta) = face_convert::affine(r)?;
                Layer::Affine { gamma, beta }
            }
            "relu_" => Layer::Relu,
            "max_pool_2" | "avg_pool_2" => {
                let mut v = [0; 6];
                for x in &mut v {
                    *x = r.uint()?;
                }
                if name == "max_pool_2" {
                    Layer::MaxPool(v)
                } else {
                    Layer::AvgPool(v)
                }
            }
            "add_prev_" => Layer::AddPrev,
            "fc_2" => {
                let out = r.uint()?;
                let inp = r.uint()?;
                let (_, params) = r.tensor()?;
                let _ = r.alias()?;
                let _ = r.alias()?;
                let bias_mode = r.int()?;
                for _ in 0..4 {
                    r.float()?;
                }
                if bias_mode != 1 || params.len() != out * inp {
                    return Err(format!("fc: bias mode {bias_mode}, {} params", params.len()));
                }
                Layer::Fc { out, inp, w: params }
            }
            other => return Err(format!("unknown layer {other:?} at {}", r.p)),
        })
    })?;
    eprintln!("{wrappers} wrappers, {} layers", layers.len());
    Ok(Parsed { mean, layers })
}

/// Folded convolutions (affine into conv) and the fc weights as [out][in], after checking
/// that the layer sequence is exactly the network the firmware runs.
struct Folded {
    convs: Vec<(Vec<f32>, Vec<f32>)>,
    fc: Vec<f32>,
}

fn fold(p: &Parsed) -> Res<Folded> {
    let mut convs = Vec::new();
    let mut fc = None;
    let mut it = p.layers.iter().peekable();
    let mut kinds = String::new();
    while let Some(l) = it.next() {
        match l {
            Layer::Con { out, k, stride, pad, w, b } => {
                let i = convs.len();
                let want = CONVS.get(i).ok_or("more convolutions than the network has")?;
                if (*out, *k, *stride, *pad) != (want.out, want.k, want.stride, want.pad)
                    || w.len() != want.weights()
                {
                    return Err(format!("conv {i} shape differs from the network"));
                }
                let Some(Layer::Affine { gamma, beta }) = it.next() else {
                    return Err(format!("conv {i} is not followed by an affine layer"));
                };
                if gamma.len() != *out {
                    return Err(format!("affine after conv {i} has {} channels", gamma.len()));
                }
                let per = w.len() / out;
                let mut fw = w.clone();
                let mut fb = b.clone();
                for o in 0..*out {
                    for x in &mut fw[o * per..(o + 1) * per] {
                        *x *= gamma[o];
                    }
                    fb[o] = b[o] * gamma[o] + beta[o];
                }
                convs.push((fw, fb));
                kinds.push('C');
            }
            Layer::Affine { .. } => return Err("affine without a conv before it".into()),
            Layer::Relu => kinds.push('r'),
            Layer::MaxPool(v) => {
                if *v != [3, 3, 2, 2, 0, 0] {
                    return Err(format!("max pool {v:?}"));
                }
                kinds.push('M');
            }
            Layer::AvgPool(v) => {
                if *v == [2, 2, 2, 2, 0, 0] {
                    kinds.push('A');
                } else if *v == [0, 0, 1, 1, 0, 0] {
                    kinds.push('G');
                } else {
                    return Err(format!("avg pool {v:?}"));
                }
            }
            Layer::AddPrev => kinds.push('+'),
            Layer::Fc { out, inp, w } => {
                if (*out, *inp) != (DESCRIPTOR_LEN, FC_IN) {
                    return Err(format!("fc {inp}→{out}"));
                }
                // dlib: output[j] = Σ_i x[i]·W[i][j]; we store [j][i]
                let mut t = vec![0.0; out * inp];
                for i in 0..*inp {
                    for j in 0..*out {
                        t[j * inp + i] = w[i * out + j];
                    }
                }
                fc = Some(t);
                kinds.push('F');
            }
        }
    }
    // the layer sequence of dlib's face ResNet, input outwards
    let block = "CrC+r";
    let down = "CrCA+r";
    let want = format!(
        "CrM{}{}{}{}{}{}{}GF",
        block.repeat(3),
        down,
        block.repeat(3),
        down,
        block.repeat(2),
        down.to_owned() + &block.repeat(2),
        down
    );
    // `down` above: conv, relu, conv, avg pool of the skip, add, relu (the affine folded)
    if kinds != want || convs.len() != N_CONV {
        return Err(format!("layer sequence differs from the network:\n got  {kinds}\n want {want}"));
    }
    Ok(Folded { convs, fc: fc.ok_or("no fc layer")? })
}

fn quantize(w: &[f32]) -> (f32, Vec<i8>) {
    let m = w.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = if m > 0.0 { m / 127.0 } else { 1.0 };
    (scale, w.iter().map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8).collect())
}

fn write(f: &Folded, mean: [f32; 3], kind: WeightKind) -> Vec<u8> {
    let total = format::file_len(kind);
    let mut o = Vec::with_capacity(total);
    o.extend_from_slice(&MAGIC);
    o.extend_from_slice(&(kind as u32).to_le_bytes());
    o.extend_from_slice(&(N_CONV as u32).to_le_bytes());
    for m in mean {
        o.extend_from_slice(&m.to_le_bytes());
    }
    o.extend_from_slice(&(total as u32).to_le_bytes());
    let pad = |o: &mut Vec<u8>| {
        while !o.len().is_multiple_of(4) {
            o.push(0);
        }
    };
    for (s, (w, b)) in CONVS.iter().zip(&f.convs) {
        for v in [s.out, s.inp, s.k, s.stride, s.pad] {
            o.extend_from_slice(&(v as u32).to_le_bytes());
        }
        for x in b {
            o.extend_from_slice(&x.to_le_bytes());
        }
        match kind {
            WeightKind::F32 => w.iter().for_each(|x| o.extend_from_slice(&x.to_le_bytes())),
            WeightKind::I8 => {
                let per = w.len() / s.out;
                let q: Vec<(f32, Vec<i8>)> = w.chunks(per).map(quantize).collect();
                q.iter().for_each(|(sc, _)| o.extend_from_slice(&sc.to_le_bytes()));
                q.iter().for_each(|(_, v)| o.extend(v.iter().map(|&x| x as u8)));
                pad(&mut o);
            }
        }
    }
    o.extend_from_slice(&(DESCRIPTOR_LEN as u32).to_le_bytes());
    o.extend_from_slice(&(FC_IN as u32).to_le_bytes());
    match kind {
        WeightKind::F32 => f.fc.iter().for_each(|x| o.extend_from_slice(&x.to_le_bytes())),
        WeightKind::I8 => {
            let q: Vec<(f32, Vec<i8>)> = f.fc.chunks(FC_IN).map(quantize).collect();
            q.iter().for_each(|(sc, _)| o.extend_from_slice(&sc.to_le_bytes()));
            q.iter().for_each(|(_, v)| o.extend(v.iter().map(|&x| x as u8)));
            pad(&mut o);
        }
    }
    let sum = format::fnv1a(&o);
    o.extend_from_slice(&sum.to_le_bytes());
    assert_eq!(o.len(), total);
    o
}

fn save(path: &std::path::Path, bytes: &[u8], what: &str) -> Res<()> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("{}: {} bytes ({what})", path.display(), bytes.len());
    Ok(())
}

fn read(path: &std::path::Path) -> Res<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn run() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let (resnet, dir, all) = match args.as_slice() {
        [_, flag, dir] if flag == "--all" => {
            let dir = std::path::PathBuf::from(dir);
            (dir.join("dlib_face_recognition_resnet_model_v1.dat"), dir, true)
        }
        [_, dat, dir] => (std::path::PathBuf::from(dat), std::path::PathBuf::from(dir), false),
        _ => return Err("usage: shikaku-face-convert MODEL.dat OUT_DIR | --all MODELS_DIR".into()),
    };
    let dat = read(&resnet)?;
    let parsed = parse(&dat)?;
    let folded = fold(&parsed)?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (kind, name) in [(WeightKind::F32, "resnet-f32.shfr"), (WeightKind::I8, "resnet-i8.shfr")] {
        save(&dir.join(name), &write(&folded, parsed.mean, kind), &format!("{kind:?}"))?;
    }
    if all {
        let det = face_convert::detector::convert(&read(&dir.join("mmod_human_face_detector.dat"))?)?;
        save(&dir.join("detector.shdt"), &det, "face detector")?;
        let lmk =
            face_convert::landmarks::convert(&read(&dir.join("shape_predictor_5_face_landmarks.dat"))?)?;
        save(&dir.join("landmarks5.shlm"), &lmk, "5-point landmarks")?;
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shikaku-face-convert: {e}");
            ExitCode::FAILURE
        }
    }
}
