// shikaku-face-eval: the accuracy of the reader's face engine on an LFW-style pairs set —
// FMR/FNMR at thresholds, EER, FTA, a DET curve (det.png), APCER/BPCER for attack
// presentations, and agreement with dlib's own decisions when given them.
//
//   shikaku-face-eval --pairs FILE --root DIR --out DIR [--attacks FILE] [--reference TSV]
//   shikaku-face-eval --make-ci-set DIR --sources DIR --out DIR [--reference TSV] --check
//
// The engine is the firmware's (`shikaku_face`): detector, 5-point landmarks,
// alignment and the ResNet embedder, loaded from the weight files scripts/face-models.sh
// makes (--models, default target/face-models).

use clap::Parser;
use shikaku_face::detect::{Detection, Detector};
use shikaku_face::engine::{self, Models};
use shikaku_face::image::ImageRef;
use shikaku_face::landmarks::ShapeModel;
use shikaku_face::liveness::{LivenessCheck, LivenessConfig, Verdict};
use shikaku_face::model::{Model, CHIP_BYTES, THRESHOLD};
use shikaku_hil::face_eval::report::{self, Described, Describer, LivenessJudge, Reference};
use shikaku_hil::face_eval::{ci_set, pairs};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Accuracy of the face engine on LFW-style pairs (FMR/FNMR, EER, DET, APCER/BPCER)")]
struct Args {
    /// The pairs file (LFW format).
    #[arg(long, required_unless_present = "make_ci_set")]
    pairs: Option<PathBuf>,
    /// The image root: ROOT/name/name_000N.{jpg,png}.
    #[arg(long, required_unless_present = "make_ci_set")]
    root: Option<PathBuf>,
    /// Where report.txt, scores.tsv and det.png go.
    #[arg(long)]
    out: PathBuf,
    /// Attack presentations: lines `species<TAB>frame directory` (species `bona-fide`, or the
    /// attack instrument).
    #[arg(long)]
    attacks: Option<PathBuf>,
    /// dlib's decisions on the same pairs (scripts/face-ref-eval.py).
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Makes the project's own set in DIR (from --sources) and evaluates it.
    #[arg(long)]
    make_ci_set: Option<PathBuf>,
    /// With --make-ci-set: only make the set (for the reference to run on it first).
    #[arg(long)]
    make_only: bool,
    /// The public-domain portraits (scripts/face-eval-sources.sh).
    #[arg(long, default_value = "target/face-models/eval-sources")]
    sources: PathBuf,
    /// The weight files.
    #[arg(long, default_value = "target/face-models")]
    models: PathBuf,
    /// The embedder's weights: f32 or i8.
    #[arg(long, default_value = "f32")]
    weights: String,
    /// Decision threshold on the descriptor distance.
    #[arg(long, default_value_t = THRESHOLD)]
    threshold: f32,
    /// Fails unless every impostor pair is rejected, a genuine pair of the fixture is accepted,
    /// every decision agrees with the reference (when given), and no print or screen-photo
    /// attack passes.
    #[arg(long)]
    check: bool,
}

fn leak(path: PathBuf) -> Result<&'static [u8], String> {
    let b =
        std::fs::read(&path).map_err(|e| format!("{}: {e} (run scripts/face-models.sh)", path.display()))?;
    Ok(Box::leak(b.into_boxed_slice()))
}

fn load(dir: &std::path::Path, weights: &str) -> Result<Models<'static>, String> {
    let detector =
        Detector::parse(leak(dir.join("detector.shdt"))?).map_err(|e| format!("detector.shdt: {e}"))?;
    let shape =
        ShapeModel::parse(leak(dir.join("landmarks5.shlm"))?).map_err(|e| format!("landmarks5.shlm: {e}"))?;
    let name = match weights {
        "f32" => "resnet-f32.shfr",
        "i8" => "resnet-i8.shfr",
        w => return Err(format!("--weights {w}: f32 or i8")),
    };
    let embedder = Model::parse(leak(dir.join(name))?).map_err(|e| format!("{name}: {e}"))?;
    Ok(Models { detector, shape, embedder })
}

fn view(img: &image::RgbImage) -> Result<ImageRef<'_>, String> {
    ImageRef::new(img.width() as usize, img.height() as usize, 3, img.as_raw()).map_err(|e| e.to_string())
}

struct Engine {
    models: &'static Models<'static>,
    arena: Vec<f32>,
    chip: Box<[u8; CHIP_BYTES]>,
}

impl Engine {
    fn run(&mut self, img: &image::RgbImage) -> Result<(engine::Face, [f32; 128]), String> {
        let view = view(img)?;
        let need = engine::arena_len(view.width(), view.height());
        if self.arena.len() < need {
            self.arena.resize(need, 0.0);
        }
        self.models.describe(view, &mut self.arena, &mut self.chip).map_err(|e| e.to_string())
    }
}

impl Describer for Engine {
    fn describe(&mut self, img: &image::RgbImage) -> Described {
        match self.run(img) {
            Ok((face, d)) => Described::Face {
                rect: [face.rect.left, face.rect.top, face.rect.right, face.rect.bottom],
                descriptor: Box::new(d),
            },
            Err(e) => Described::NoFace(e),
        }
    }
}

/// The firmware's liveness check on the faces our detector and landmark model find, frame by
/// frame (no embedding: liveness does not need one).
struct Judge {
    models: &'static Models<'static>,
    arena: Vec<f32>,
}

impl LivenessJudge for Judge {
    fn judge(&mut self, frames: &[image::RgbImage]) -> Result<bool, String> {
        let mut check = LivenessCheck::new(LivenessConfig::default());
        for img in frames {
            let view = view(img)?;
            let need = Detector::arena_len(view.width(), view.height());
            if self.arena.len() < need {
                self.arena.resize(need, 0.0);
            }
            let mut found: heapless::Vec<Detection, 8> = heapless::Vec::new();
            self.models.detector.detect(view, &mut self.arena, &mut found).map_err(|e| e.to_string())?;
            let face = found.iter().max_by_key(|d| d.rect.area()).ok_or("no face")?;
            let landmarks = self.models.shape.predict(view, face.rect).map_err(|e| e.to_string())?;
            check.push(view, face.rect, Some(&landmarks)).map_err(|e| e.to_string())?;
        }
        Ok(matches!(check.verdict(), Verdict::Live { .. }))
    }
}

fn run(a: Args) -> Result<bool, String> {
    let (pairs_list, root, attacks_path, limits) = if let Some(dir) = &a.make_ci_set {
        let made = ci_set::make(&a.sources, dir)?;
        eprintln!(
            "face-eval: made the CI set in {} ({} pairs, {} attack presentations)",
            dir.display(),
            made.pairs.len(),
            made.attacks.len()
        );
        if a.make_only {
            return Ok(true);
        }
        (made.pairs, dir.clone(), Some(dir.join("attacks.txt")), ci_set::LIMITS.to_string())
    } else {
        let (Some(p), Some(r)) = (&a.pairs, &a.root) else {
            return Err("--pairs and --root are needed".into());
        };
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        // A set may state its limits in ROOT/LIMITS.txt (the CI set does).
        let limits = std::fs::read_to_string(r.join("LIMITS.txt"))
            .unwrap_or_else(|_| "not stated (no LIMITS.txt in the root)".to_string());
        (pairs::parse(&text)?, r.clone(), a.attacks.clone(), limits.trim().to_string())
    };
    let reference = match &a.reference {
        Some(p) => {
            Some(Reference::parse(&std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?)?)
        }
        None => None,
    };
    // One copy of the weights for the describer and the liveness judge.
    let models: &'static Models<'static> = Box::leak(Box::new(load(&a.models, &a.weights)?));
    let mut engine = Engine { models, arena: Vec::new(), chip: Box::new([0; CHIP_BYTES]) };
    let attack_sets = match &attacks_path {
        Some(p) => Some(ci_set::read_attacks(p)?),
        None => None,
    };
    let mut judge = Judge { models, arena: Vec::new() };
    let attacks = attack_sets.as_deref().map(|s| (s, &mut judge as &mut dyn LivenessJudge));
    let o = report::run(
        &pairs_list,
        &root,
        &mut engine,
        a.threshold,
        reference.as_ref(),
        attacks,
        &limits,
        &a.out,
    )?;
    print!("{}", o.report);
    println!("wrote {}/report.txt, scores.tsv and det.png", a.out.display());
    if !a.check {
        return Ok(true);
    }
    let mut failed = Vec::new();
    if o.false_matches > 0 {
        failed.push(format!("{} impostor pairs accepted", o.false_matches));
    }
    if o.accepted_genuine.get("fixture").copied().unwrap_or(0) == 0 {
        failed.push("no genuine pair of the fixture photo accepted".to_string());
    }
    if !o.disagreements.is_empty() {
        failed.push(format!("{} decisions differ from the reference", o.disagreements.len()));
    }
    if let Some(pad) = &o.pad {
        for (s, passed, _, _) in &pad.apcer {
            if (s == "print" || s == "screen-photo") && *passed > 0 {
                failed.push(format!("{passed} {s} attacks accepted as live"));
            }
        }
    }
    if failed.is_empty() {
        println!("check: passed");
        Ok(true)
    } else {
        println!("check FAILED: {}", failed.join("; "));
        Ok(false)
    }
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("shikaku-face-eval: {e}");
            ExitCode::from(2)
        }
    }
}
