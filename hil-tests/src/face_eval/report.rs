//! The evaluation run: every image of the pairs described once, every pair scored, the rates,
//! the DET curve, attack presentations, and agreement with a reference (dlib's own decisions).

use super::metrics::{self, Presentation, Scored};
use super::pairs::{ImageId, Pair};
use shikaku_face::model::{distance, Descriptor};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One described image: the face box found and the descriptor, or why not.
#[derive(Clone, Debug)]
pub enum Described {
    Face { rect: [i32; 4], descriptor: Box<Descriptor> },
    NoFace(String),
}

/// What turns an image into a descriptor (our engine in the tool; a fake in tests).
pub trait Describer {
    fn describe(&mut self, image: &image::RgbImage) -> Described;
}

/// What decides liveness for a sequence of frames.
pub trait LivenessJudge {
    /// `Ok(true)` = judged live; `Err` = no verdict (e.g. no face): counted as not live.
    fn judge(&mut self, frames: &[image::RgbImage]) -> Result<bool, String>;
}

/// One attack (or bona fide) presentation: the frames of one attempt.
pub struct AttackSet {
    /// `bona-fide`, or the attack instrument species.
    pub species: String,
    pub frames: Vec<image::RgbImage>,
}

/// A reference's view of the same pairs (dlib's distances, by pair line).
#[derive(Clone, Debug, Default)]
pub struct Reference {
    pub distances: BTreeMap<usize, Option<f32>>,
}

impl Reference {
    /// Reads `pair <line> <distance|-> <genuine>` lines (scripts/face-ref-eval.py).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut distances = BTreeMap::new();
        for (i, l) in text.lines().enumerate() {
            let f: Vec<&str> = l.split('\t').collect();
            if f.first() != Some(&"pair") {
                continue;
            }
            let bad = || format!("reference line {}: {l:?}", i + 1);
            let line: usize = f.get(1).and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            let d = match f.get(2) {
                Some(&"-") => None,
                Some(s) => Some(s.parse::<f32>().map_err(|_| bad())?),
                None => return Err(bad()),
            };
            distances.insert(line, d);
        }
        Ok(Reference { distances })
    }
}

pub struct Outcome {
    pub scores: Vec<(Pair, Scored)>,
    pub report: String,
    /// Impostor pairs accepted at the threshold.
    pub false_matches: usize,
    /// Genuine pairs rejected at the threshold (failures to acquire included).
    pub false_non_matches: usize,
    /// Genuine pairs accepted, per name.
    pub accepted_genuine: BTreeMap<String, usize>,
    /// Pairs where our decision differs from the reference's.
    pub disagreements: Vec<String>,
    pub pad: Option<metrics::PadReport>,
}

/// Scores the pairs and writes `report.txt`, `scores.tsv` and `det.png` under `out`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    pairs: &[Pair],
    root: &Path,
    describer: &mut dyn Describer,
    threshold: f32,
    reference: Option<&Reference>,
    attacks: Option<(&[AttackSet], &mut dyn LivenessJudge)>,
    limits: &str,
    out: &Path,
) -> Result<Outcome, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut ids: Vec<&ImageId> = pairs.iter().flat_map(|p| [&p.a, &p.b]).collect();
    ids.sort();
    ids.dedup();
    let mut described: BTreeMap<ImageId, Described> = BTreeMap::new();
    for id in ids {
        let path = id.path(root)?;
        let img = image::open(&path).map_err(|e| format!("{}: {e}", path.display()))?.to_rgb8();
        described.insert(id.clone(), describer.describe(&img));
    }
    let mut scores = Vec::new();
    let mut tsv = String::from("line\ta\tb\tgenuine\tdistance\tdecision\treference\n");
    let mut disagreements = Vec::new();
    for p in pairs {
        let d = match (&described[&p.a], &described[&p.b]) {
            (Described::Face { descriptor: x, .. }, Described::Face { descriptor: y, .. }) => {
                Some(distance(x, y))
            }
            _ => None,
        };
        let ours = d.map(|d| d < threshold);
        let theirs = reference.and_then(|r| r.distances.get(&p.line).copied());
        if let Some(theirs) = theirs {
            let theirs_dec = theirs.map(|d| d < threshold);
            if theirs_dec != ours {
                disagreements.push(format!(
                    "line {} ({} vs {}): ours {:?} ({:?}), reference {:?} ({:?})",
                    p.line, p.a, p.b, ours, d, theirs_dec, theirs
                ));
            }
        } else if reference.is_some() {
            disagreements.push(format!("line {}: missing from the reference", p.line));
        }
        let fmt = |d: Option<f32>| d.map_or("-".to_string(), |d| format!("{d:.5}"));
        let _ = writeln!(
            tsv,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            p.line,
            p.a,
            p.b,
            u8::from(p.genuine),
            fmt(d),
            match ours {
                Some(true) => "accept",
                Some(false) => "reject",
                None => "no-face",
            },
            theirs.map_or("".to_string(), fmt)
        );
        scores.push((p.clone(), Scored { genuine: p.genuine, distance: d }));
    }
    std::fs::write(out.join("scores.tsv"), tsv).map_err(|e| format!("scores.tsv: {e}"))?;

    let flat: Vec<Scored> = scores.iter().map(|(_, s)| *s).collect();
    let at = metrics::rates_at(&flat, threshold);
    let sweep = metrics::sweep(&flat);
    let eer = metrics::eer(&flat);
    let genuine_fta = scores.iter().filter(|(p, s)| p.genuine && s.distance.is_none()).count();
    let false_non_matches = at.false_non_matches + genuine_fta;
    let mut accepted_genuine = BTreeMap::new();
    for (p, s) in &scores {
        if p.genuine && s.distance.is_some_and(|d| d < threshold) {
            *accepted_genuine.entry(p.a.name.clone()).or_insert(0) += 1;
        }
    }
    let no_face: Vec<String> = described
        .iter()
        .filter_map(|(id, d)| match d {
            Described::NoFace(why) => Some(format!("{id}: {why}")),
            _ => None,
        })
        .collect();

    let mut r = String::new();
    let _ = writeln!(
        r,
        "face evaluation: {} pairs ({} genuine, {} impostor), {} images",
        pairs.len(),
        pairs.iter().filter(|p| p.genuine).count(),
        pairs.iter().filter(|p| !p.genuine).count(),
        described.len()
    );
    let _ = writeln!(r, "THE SET'S LIMITS: {limits}");
    let _ = writeln!(
        r,
        "failure to acquire (no face found): {} of {} images{}",
        no_face.len(),
        described.len(),
        if no_face.is_empty() { String::new() } else { format!(": {}", no_face.join("; ")) }
    );
    let _ = writeln!(r, "pair FTA: {:.2} %", 100.0 * metrics::fta(&flat));
    let _ = writeln!(
        r,
        "at the threshold {threshold:.3}: FMR {:.2} % ({} of {} impostor pairs accepted), FNMR {:.2} % ({} of {} genuine pairs rejected; {} more not comparable)",
        100.0 * at.fmr, at.false_matches, at.impostor, 100.0 * at.fnmr, at.false_non_matches, at.genuine, genuine_fta
    );
    match eer {
        Some(e) if e.gap > 0.0 => {
            let _ = writeln!(r, "EER 0 %: genuine and impostor distances are separated by a gap of {:.3} (largest genuine {:.3}, smallest impostor {:.3})",
                e.gap, e.threshold - e.gap / 2.0, e.threshold + e.gap / 2.0);
        }
        Some(e) => {
            let _ = writeln!(r, "EER {:.2} % at the threshold {:.3}", 100.0 * e.rate, e.threshold);
        }
        None => {
            let _ = writeln!(r, "EER: needs both genuine and impostor comparisons");
        }
    }
    let _ = writeln!(r, "FMR / FNMR at thresholds:");
    for t in [0.40f32, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70] {
        let x = metrics::rates_at(&flat, t);
        let _ = writeln!(
            r,
            "  {t:.2}: FMR {:6.2} % ({:3}/{:3})  FNMR {:6.2} % ({:3}/{:3})",
            100.0 * x.fmr,
            x.false_matches,
            x.impostor,
            100.0 * x.fnmr,
            x.false_non_matches,
            x.genuine
        );
    }
    if let Some(reference) = reference {
        let _ = writeln!(
            r,
            "decision agreement with the reference: {} of {} pairs{}",
            pairs.len() - disagreements.len(),
            pairs.len(),
            if disagreements.is_empty() {
                String::new()
            } else {
                format!("; differ: {}", disagreements.join("; "))
            }
        );
        let deltas: Vec<f32> = scores
            .iter()
            .filter_map(|(p, s)| Some((s.distance? - reference.distances.get(&p.line).copied()??).abs()))
            .collect();
        if !deltas.is_empty() {
            let max = deltas.iter().copied().fold(0.0, f32::max);
            let _ = writeln!(r, "distance vs reference: max |Δ| {max:.2e} over {} pairs", deltas.len());
        }
    }
    let pad = if let Some((sets, judge)) = attacks {
        let mut presentations = Vec::new();
        for set in sets {
            let live = judge.judge(&set.frames).unwrap_or(false);
            presentations.push(Presentation { species: set.species.clone(), accepted_as_live: live });
        }
        let p = metrics::pad(&presentations);
        let _ = writeln!(r, "presentation attacks ({} presentations):", presentations.len());
        for (s, passed, n, rate) in &p.apcer {
            let _ = writeln!(r, "  APCER {s}: {:.1} % ({passed} of {n} accepted as live)", 100.0 * rate);
        }
        let _ = writeln!(
            r,
            "  BPCER: {:.1} % ({} of {} bona fide rejected)",
            100.0 * p.bpcer.2,
            p.bpcer.0,
            p.bpcer.1
        );
        Some(p)
    } else {
        None
    };

    let caption = vec![
        format!(
            "{} genuine / {} impostor pairs; hollow markers: a rate of 0 drawn on the axis",
            at.genuine, at.impostor
        ),
        format!("red: the engine's threshold {threshold:.3}"),
    ];
    let png = super::det_plot::draw(&sweep, Some(&at), "DET: shikaku face engine", &caption);
    png.save(out.join("det.png")).map_err(|e| format!("det.png: {e}"))?;
    std::fs::write(out.join("report.txt"), &r).map_err(|e| format!("report.txt: {e}"))?;
    Ok(Outcome {
        scores,
        report: r,
        false_matches: at.false_matches,
        false_non_matches,
        accepted_genuine,
        disagreements,
        pad,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face_eval::pairs;

    /// Describes an image by its mean colour: same colour = same "person".
    struct ByColour;
    impl Describer for ByColour {
        fn describe(&mut self, img: &image::RgbImage) -> Described {
            let p = img.get_pixel(0, 0).0;
            if p == [0, 0, 0] {
                return Described::NoFace("black".into());
            }
            let mut descriptor = [0.0; 128];
            for (d, &c) in descriptor.iter_mut().zip(&p) {
                *d = c as f32 / 255.0;
            }
            Described::Face { rect: [0, 0, 1, 1], descriptor: Box::new(descriptor) }
        }
    }

    #[test]
    fn pairs_are_scored_reported_and_checked_against_a_reference() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("set");
        for (name, n, c) in [
            ("red", 1, [200, 0, 0]),
            ("red", 2, [190, 10, 0]),
            ("blue", 1, [0, 0, 200]),
            ("dark", 1, [0, 0, 0]),
        ] {
            std::fs::create_dir_all(root.join(name)).unwrap();
            image::RgbImage::from_pixel(4, 4, image::Rgb(c))
                .save(root.join(name).join(format!("{name}_{n:04}.png")))
                .unwrap();
        }
        let p = pairs::parse("3\nred\t1\t2\nred\t1\tblue\t1\nred\t1\tdark\t1\n").unwrap();
        let reference = Reference::parse("pair\t2\t0.01\t1\npair\t3\t0.1\t0\npair\t4\t-\t0\n").unwrap();
        let o =
            run(&p, &root, &mut ByColour, 0.6, Some(&reference), None, "a toy set", &dir.path().join("out"))
                .unwrap();
        assert_eq!(o.false_matches, 0);
        assert_eq!(o.accepted_genuine.get("red"), Some(&1));
        // the reference accepts the red–blue pair (0.1), we reject it (distance ≈ 1.1)
        assert_eq!(o.disagreements.len(), 1, "{:?}", o.disagreements);
        assert!(o.disagreements[0].starts_with("line 3"));
        assert!(o.report.contains("THE SET'S LIMITS: a toy set"));
        assert!(o.report.contains("dark_0001: black"));
        assert!(dir.path().join("out/det.png").is_file());
        let tsv = std::fs::read_to_string(dir.path().join("out/scores.tsv")).unwrap();
        assert!(tsv.contains("red_0001\tdark_0001\t0\t-\tno-face"));
    }
}
