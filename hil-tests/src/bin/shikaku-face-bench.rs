// shikaku-face-bench: timings of our face engine, for scripts/face-parity.sh (one embedding)
// and scripts/face-bench.sh (one whole verification) to set beside dlib's on the same machine
// in the same run.
//
//   shikaku-face-bench WEIGHTS.shfr CHIP.rgb ITERATIONS
//     → "<kind> median_ms min_ms peak_rss_kib" per embedding of a 150×150 RGB chip
//   shikaku-face-bench write-inputs DIR [SEED]
//     → writes one verification's inputs for both sides to read: DIR/photo.pgm (the fixture
//       card's chip photo, 378×472 grey, as the firmware's JPEG 2000 decoder gives it),
//       DIR/live-0.rgb … live-5.rgb (a rendered live scene, 320×240 RGB, raw) and
//       DIR/inputs.txt (one line per image: file width height channels; the photo first)
//   shikaku-face-bench verify MODELS_DIR f32|i8 INPUT_DIR ITERATIONS
//     → "<kind> median_ms min_ms peak_rss_kib cpu_ms" per verification (cpu_ms: the median CPU
//       time of the one thread, left out where /proc does not tell it): the photo and the six frames
//       described (detector, 5-point landmarks, aligned chip, ResNet descriptor) with
//       `Models::describe`, and the six photo–frame distances; the distances go to stderr
//       ("distances <kind> d0 … d5")
//   shikaku-face-bench split MODELS_DIR f32|i8 INPUT_DIR ITERATIONS
//     → "split-<kind> detector_ms landmarks_chip_ms embedder_ms total_ms": the same
//       verification run stage by stage (medians per verification of each stage); fails
//       unless every descriptor equals `Models::describe`'s
//   shikaku-face-bench costs INPUT_DIR
//     → "costs macs detector_macs embedder_macs arena_bytes": multiply-accumulates of one
//       verification (the detector's on every image, the embedder's once per image) and the
//       f32 arena the engine needs for the largest image (RAM on the reader, with the chip)
//
// peak_rss_kib is the peak resident set of this process, which holds the whole weight files in
// RAM; on the reader the weights stay in flash and the RAM is the arena.

use shikaku_face::align;
use shikaku_face::detect::Detector;
use shikaku_face::engine::{self, Models};
use shikaku_face::image::ImageRef;
use shikaku_face::landmarks::ShapeModel;
use shikaku_face::model::{self, Descriptor, Model, ARENA_F32, CHIP_BYTES};
use shikaku_hil::face_scenes::{self, Perturb, SceneKind};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "usage: shikaku-face-bench WEIGHTS.shfr CHIP.rgb ITERATIONS\n\
       shikaku-face-bench write-inputs DIR [SEED]\n\
       shikaku-face-bench verify|split MODELS_DIR f32|i8 INPUT_DIR ITERATIONS\n\
       shikaku-face-bench costs INPUT_DIR";

/// The live scene's seed unless one is given.
const DEFAULT_SEED: u64 = 1;

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(path: &Path, data: &[u8]) -> Result<(), String> {
    std::fs::write(path, data).map_err(|e| format!("{}: {e}", path.display()))
}

/// Linux: VmHWM in /proc/self/status; 0 where unavailable.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time of this thread so far, seconds (Linux: /proc/thread-self/schedstat, in ns; None
/// where unavailable).
fn thread_cpu_s() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(s.split_whitespace().next()?.parse::<u64>().ok()? as f64 / 1e9)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn iterations(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("ITERATIONS {s}: a number > 0")),
    }
}

/// Time per embedding of one 150×150 RGB chip (scripts/face-parity.sh).
fn embed_mode(weights: &str, chip: &str, n: &str) -> Result<(), String> {
    let blob = read(Path::new(weights))?;
    let chip = read(Path::new(chip))?;
    let n = iterations(n)?;
    let model = Model::parse(&blob).map_err(|e| format!("{weights}: {e:?}"))?;
    let mut arena = vec![0f32; ARENA_F32];
    model.embed(&chip, &mut arena).map_err(|e| format!("{e:?}"))?; // warm-up
    let mut ms: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            let d = model.embed(&chip, &mut arena);
            std::hint::black_box(d).ok();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let med = median(&mut ms);
    println!("{:?} {med:.3} {:.3} {}", model.kind(), ms[0], peak_rss_kib());
    Ok(())
}

/// One image of a verification, as read back from INPUT_DIR.
struct Input {
    name: String,
    width: usize,
    height: usize,
    channels: usize,
    data: Vec<u8>,
}

impl Input {
    fn view(&self) -> Result<ImageRef<'_>, String> {
        ImageRef::new(self.width, self.height, self.channels, &self.data)
            .map_err(|e| format!("{}: {e}", self.name))
    }
}

fn write_inputs(dir: &str, seed: Option<&str>) -> Result<(), String> {
    let seed = match seed {
        Some(s) => s.parse().map_err(|_| format!("SEED {s}: a number"))?,
        None => DEFAULT_SEED,
    };
    let dir = Path::new(dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let photo = face_scenes::fixture_photo()?;
    let seq = face_scenes::render_sequence(&photo, SceneKind::Live, &Perturb::standard(seed));
    let mut list = String::new();
    let mut pgm = format!("P5\n{} {}\n255\n", photo.width, photo.height).into_bytes();
    pgm.extend_from_slice(&photo.data);
    write(&dir.join("photo.pgm"), &pgm)?;
    list += &format!("photo.pgm {} {} 1\n", photo.width, photo.height);
    for (i, f) in seq.frames.iter().enumerate() {
        let name = format!("live-{i}.rgb");
        write(&dir.join(&name), &f.data)?;
        list += &format!("{name} {} {} 3\n", f.width, f.height);
    }
    write(&dir.join("inputs.txt"), list.as_bytes())?;
    eprintln!(
        "shikaku-face-bench: wrote the photo ({}×{} grey) and {} live frames (seed {seed}) to {}",
        photo.width,
        photo.height,
        seq.frames.len(),
        dir.display()
    );
    Ok(())
}

/// The photo first, then the live frames (INPUT_DIR/inputs.txt).
fn read_inputs(dir: &str) -> Result<Vec<Input>, String> {
    let dir = Path::new(dir);
    let list = std::fs::read_to_string(dir.join("inputs.txt"))
        .map_err(|e| format!("{}/inputs.txt: {e} (run write-inputs first)", dir.display()))?;
    let mut out = vec![];
    for line in list.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [name, w, h, c] = f[..] else { return Err(format!("inputs.txt: bad line {line:?}")) };
        let num = |s: &str| s.parse::<usize>().map_err(|_| format!("inputs.txt: bad line {line:?}"));
        let (width, height, channels) = (num(w)?, num(h)?, num(c)?);
        let bytes = read(&dir.join(name))?;
        let len = width * height * channels;
        // a .pgm carries a header: the pixels are the file's last bytes
        let Some(data) = bytes.len().checked_sub(len).map(|at| bytes[at..].to_vec()) else {
            return Err(format!("{name}: {} bytes, {len} of pixels expected", bytes.len()));
        };
        out.push(Input { name: name.to_string(), width, height, channels, data });
    }
    if out.len() < 2 {
        return Err("inputs.txt: a photo and at least one frame are needed".into());
    }
    Ok(out)
}

fn leak(path: &Path) -> Result<&'static [u8], String> {
    Ok(Box::leak(read(path)?.into_boxed_slice()))
}

/// The three weight files (as shikaku-face-eval loads them).
fn load(dir: &str, weights: &str) -> Result<Models<'static>, String> {
    let dir = Path::new(dir);
    let detector =
        Detector::parse(leak(&dir.join("detector.shdt"))?).map_err(|e| format!("detector.shdt: {e}"))?;
    let shape = ShapeModel::parse(leak(&dir.join("landmarks5.shlm"))?)
        .map_err(|e| format!("landmarks5.shlm: {e}"))?;
    let name = match weights {
        "f32" => "resnet-f32.shfr",
        "i8" => "resnet-i8.shfr",
        w => return Err(format!("weights {w}: f32 or i8")),
    };
    let embedder = Model::parse(leak(&dir.join(name))?).map_err(|e| format!("{name}: {e}"))?;
    Ok(Models { detector, shape, embedder })
}

/// Scratch for a verification: the arena for the largest image and the chip buffer.
struct Scratch {
    arena: Vec<f32>,
    chip: Box<[u8; CHIP_BYTES]>,
}

impl Scratch {
    fn new(inputs: &[Input]) -> Result<Scratch, String> {
        let mut words = 0;
        for i in inputs {
            let n = engine::arena_len(i.width, i.height);
            if n == 0 {
                return Err(format!("{}: {}×{} is a size the detector refuses", i.name, i.width, i.height));
            }
            words = words.max(n);
        }
        Ok(Scratch { arena: vec![0f32; words], chip: Box::new([0u8; CHIP_BYTES]) })
    }
}

/// One verification through the engine: the photo and every frame described, then the
/// photo–frame distances.
fn verification(m: &Models, inputs: &[Input], s: &mut Scratch) -> Result<Vec<f32>, String> {
    let (photo, frames) = inputs.split_first().ok_or("no inputs")?;
    let (_, reference) =
        m.describe(photo.view()?, &mut s.arena, &mut s.chip).map_err(|e| format!("{}: {e}", photo.name))?;
    let mut d = Vec::with_capacity(frames.len());
    for f in frames {
        let (_, live) =
            m.describe(f.view()?, &mut s.arena, &mut s.chip).map_err(|e| format!("{}: {e}", f.name))?;
        d.push(model::distance(&reference, &live));
    }
    Ok(d)
}

fn verify_mode(models: &str, weights: &str, dir: &str, n: &str) -> Result<(), String> {
    let n = iterations(n)?;
    let m = load(models, weights)?;
    let inputs = read_inputs(dir)?;
    let mut s = Scratch::new(&inputs)?;
    let dist = verification(&m, &inputs, &mut s)?; // warm-up
    let mut ms: Vec<f64> = Vec::with_capacity(n);
    let mut cpu: Vec<f64> = Vec::with_capacity(n);
    for _ in 0..n {
        let (t, c) = (Instant::now(), thread_cpu_s());
        let d = verification(&m, &inputs, &mut s)?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        if let (Some(c), Some(now)) = (c, thread_cpu_s()) {
            cpu.push((now - c) * 1000.0);
        }
        if d != dist {
            return Err("the distances differ between runs".into());
        }
    }
    let med = median(&mut ms);
    let kind = format!("{:?}", m.embedder.kind());
    eprintln!("distances {kind} {}", dist.iter().map(|d| format!("{d:.4}")).collect::<Vec<_>>().join(" "));
    let cpu = if cpu.len() == n { format!(" {:.3}", median(&mut cpu)) } else { String::new() };
    println!("{kind} {med:.3} {:.3} {}{cpu}", ms[0], peak_rss_kib());
    Ok(())
}

/// Seconds spent in the detector, in landmarks plus chip, in the embedder.
#[derive(Default, Clone, Copy)]
struct Split {
    detector: f64,
    landmarks_chip: f64,
    embedder: f64,
}

/// One image through the engine's steps (as `Models::describe` takes them), each timed.
fn describe_timed(m: &Models, img: &Input, s: &mut Scratch, t: &mut Split) -> Result<Descriptor, String> {
    let view = img.view()?;
    let err = |e: String| format!("{}: {e}", img.name);
    let t0 = Instant::now();
    let mut found = Default::default();
    m.detector
        .detect::<{ engine::MAX_FACES }>(view, &mut s.arena, &mut found)
        .map_err(|e| err(e.to_string()))?;
    // the largest box, first among equals
    let mut best: Option<&shikaku_face::detect::Detection> = None;
    for d in found.iter() {
        if best.is_none_or(|b| d.rect.area() > b.rect.area()) {
            best = Some(d);
        }
    }
    let best = best.ok_or_else(|| err("no face".into()))?;
    let t1 = Instant::now();
    let landmarks = m.shape.predict(view, best.rect).map_err(|e| err(e.to_string()))?;
    align::chip(view, &landmarks, &mut s.chip).map_err(|e| err(e.to_string()))?;
    let t2 = Instant::now();
    let d = m.embedder.embed(&s.chip[..], &mut s.arena).map_err(|e| err(e.to_string()))?;
    let t3 = Instant::now();
    s.chip.fill(0);
    t.detector += (t1 - t0).as_secs_f64();
    t.landmarks_chip += (t2 - t1).as_secs_f64();
    t.embedder += (t3 - t2).as_secs_f64();
    Ok(d)
}

fn split_mode(models: &str, weights: &str, dir: &str, n: &str) -> Result<(), String> {
    let n = iterations(n)?;
    let m = load(models, weights)?;
    let inputs = read_inputs(dir)?;
    let mut s = Scratch::new(&inputs)?;
    // what the engine itself gives, to hold the stage-by-stage run to
    let mut expected = vec![];
    for i in &inputs {
        let (_, d) =
            m.describe(i.view()?, &mut s.arena, &mut s.chip).map_err(|e| format!("{}: {e}", i.name))?;
        expected.push(d);
    }
    let mut runs: Vec<Split> = Vec::with_capacity(n);
    for _ in 0..n {
        let mut t = Split::default();
        for (i, want) in inputs.iter().zip(&expected) {
            let d = describe_timed(&m, i, &mut s, &mut t)?;
            if d != *want {
                return Err(format!("{}: the stage-by-stage descriptor differs from the engine's", i.name));
            }
        }
        // the distances (negligible, but part of the verification)
        let d: Vec<f32> = expected[1..].iter().map(|x| model::distance(&expected[0], x)).collect();
        std::hint::black_box(d);
        runs.push(t);
    }
    let pick = |f: fn(&Split) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>()) * 1000.0;
    let (det, lm, emb) = (pick(|t| t.detector), pick(|t| t.landmarks_chip), pick(|t| t.embedder));
    let total = pick(|t| t.detector + t.landmarks_chip + t.embedder);
    println!("split-{:?} {det:.3} {lm:.3} {emb:.3} {total:.3}", m.embedder.kind());
    Ok(())
}

fn costs_mode(dir: &str) -> Result<(), String> {
    let inputs = read_inputs(dir)?;
    let detector: u64 = inputs.iter().map(|i| Detector::macs(i.width, i.height)).sum();
    let embedder = model::macs() * inputs.len() as u64;
    let arena = Scratch::new(&inputs)?.arena.len() * size_of::<f32>();
    println!("costs {} {detector} {embedder} {arena}", detector + embedder);
    Ok(())
}

fn run() -> Result<(), String> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    match a[..] {
        ["write-inputs", dir] => write_inputs(dir, None),
        ["write-inputs", dir, seed] => write_inputs(dir, Some(seed)),
        ["verify", models, weights, dir, n] => verify_mode(models, weights, dir, n),
        ["split", models, weights, dir, n] => split_mode(models, weights, dir, n),
        ["costs", dir] => costs_mode(dir),
        [weights, chip, n] => embed_mode(weights, chip, n),
        _ => Err(USAGE.into()),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shikaku-face-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
