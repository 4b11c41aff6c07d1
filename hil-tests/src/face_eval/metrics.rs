//! Verification and presentation-attack metrics as ISO/IEC 19795-1 and 30107-3 define them.
//!
//! A comparison score here is a distance (smaller = more alike); a pair is accepted when its
//! distance is below the threshold, as the engine decides.

/// One compared pair: genuine (same person) or impostor, and its distance, or `None` when a
/// face could not be acquired from one of the two images (failure to acquire).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    pub genuine: bool,
    pub distance: Option<f32>,
}

/// Error rates at one threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    pub threshold: f32,
    /// Impostor comparisons accepted / impostor comparisons.
    pub fmr: f64,
    /// Genuine comparisons rejected / genuine comparisons.
    pub fnmr: f64,
    pub false_matches: usize,
    pub false_non_matches: usize,
    pub genuine: usize,
    pub impostor: usize,
}

fn acquired(scores: &[Scored], genuine: bool) -> impl Iterator<Item = f32> + '_ {
    scores.iter().filter(move |s| s.genuine == genuine).filter_map(|s| s.distance)
}

/// Failure-to-acquire rate over all pairs.
pub fn fta(scores: &[Scored]) -> f64 {
    if scores.is_empty() {
        return 0.0;
    }
    scores.iter().filter(|s| s.distance.is_none()).count() as f64 / scores.len() as f64
}

pub fn rates_at(scores: &[Scored], threshold: f32) -> Rates {
    let genuine = acquired(scores, true).count();
    let impostor = acquired(scores, false).count();
    let false_matches = acquired(scores, false).filter(|&d| d < threshold).count();
    let false_non_matches = acquired(scores, true).filter(|&d| d >= threshold).count();
    let ratio = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    Rates {
        threshold,
        fmr: ratio(false_matches, impostor),
        fnmr: ratio(false_non_matches, genuine),
        false_matches,
        false_non_matches,
        genuine,
        impostor,
    }
}

/// Every distinct operating point, thresholds rising: just above each observed distance, plus
/// one below them all.
pub fn sweep(scores: &[Scored]) -> Vec<Rates> {
    let mut ds: Vec<f32> = scores.iter().filter_map(|s| s.distance).collect();
    ds.sort_by(f32::total_cmp);
    ds.dedup();
    let mut ts = Vec::with_capacity(ds.len() + 1);
    ts.push(ds.first().copied().unwrap_or(0.0));
    ts.extend(ds.iter().map(|&d| just_above(d)));
    ts.iter().map(|&t| rates_at(scores, t)).collect()
}

/// The next representable value above a distance (distances are ≥ 0), so that a pair at
/// exactly that distance is accepted.
fn just_above(d: f32) -> f32 {
    if d.is_finite() && d >= 0.0 {
        f32::from_bits(d.to_bits() + 1)
    } else {
        d
    }
}

/// The equal error rate: where FMR and FNMR cross on the sweep (their mean at the closest
/// point), with the threshold there. When the two sets are separated the EER is 0 and the
/// threshold the middle of the gap.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Eer {
    pub rate: f64,
    pub threshold: f32,
    /// Smallest impostor distance minus largest genuine distance (> 0: separated).
    pub gap: f32,
}

pub fn eer(scores: &[Scored]) -> Option<Eer> {
    let g_max = acquired(scores, true).fold(f32::NEG_INFINITY, f32::max);
    let i_min = acquired(scores, false).fold(f32::INFINITY, f32::min);
    if !g_max.is_finite() || !i_min.is_finite() {
        return None;
    }
    let gap = i_min - g_max;
    if gap > 0.0 {
        return Some(Eer { rate: 0.0, threshold: (g_max + i_min) / 2.0, gap });
    }
    let best =
        sweep(scores).into_iter().min_by(|a, b| (a.fmr - a.fnmr).abs().total_cmp(&(b.fmr - b.fnmr).abs()))?;
    Some(Eer { rate: (best.fmr + best.fnmr) / 2.0, threshold: best.threshold, gap })
}

/// The largest threshold whose FMR is at most `target` and the rates there (the operating
/// point a deployment picks for a target FMR: the lowest FNMR it allows); `None` without
/// impostor comparisons.
pub fn at_fmr(scores: &[Scored], target: f64) -> Option<Rates> {
    sweep(scores).into_iter().rfind(|r| r.impostor > 0 && r.fmr <= target)
}

/// Presentation-attack detection results of one presentation.
#[derive(Clone, Debug, PartialEq)]
pub struct Presentation {
    /// `bona-fide`, or the attack instrument species (`print`, `screen`, `screen-video`, …).
    pub species: String,
    /// The detector called it bona fide (live).
    pub accepted_as_live: bool,
}

/// APCER per attack species and BPCER, with the counts behind them.
#[derive(Clone, Debug, PartialEq)]
pub struct PadReport {
    /// (species, attacks accepted as live, attacks, APCER)
    pub apcer: Vec<(String, usize, usize, f64)>,
    /// (bona fide rejected, bona fide, BPCER)
    pub bpcer: (usize, usize, f64),
}

pub fn pad(presentations: &[Presentation]) -> PadReport {
    let ratio = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    let mut species: Vec<String> =
        presentations.iter().filter(|p| p.species != "bona-fide").map(|p| p.species.clone()).collect();
    species.sort();
    species.dedup();
    let apcer = species
        .into_iter()
        .map(|s| {
            let of: Vec<_> = presentations.iter().filter(|p| p.species == s).collect();
            let passed = of.iter().filter(|p| p.accepted_as_live).count();
            let r = ratio(passed, of.len());
            (s, passed, of.len(), r)
        })
        .collect();
    let bona: Vec<_> = presentations.iter().filter(|p| p.species == "bona-fide").collect();
    let rejected = bona.iter().filter(|p| !p.accepted_as_live).count();
    PadReport { apcer, bpcer: (rejected, bona.len(), ratio(rejected, bona.len())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(genuine: bool, d: f32) -> Scored {
        Scored { genuine, distance: Some(d) }
    }

    #[test]
    fn rates_count_accepts_below_the_threshold() {
        let v = [s(true, 0.3), s(true, 0.5), s(true, 0.7), s(false, 0.55), s(false, 0.8), s(false, 0.9)];
        let r = rates_at(&v, 0.6);
        assert_eq!((r.false_matches, r.false_non_matches, r.genuine, r.impostor), (1, 1, 3, 3));
        assert!((r.fmr - 1.0 / 3.0).abs() < 1e-12 && (r.fnmr - 1.0 / 3.0).abs() < 1e-12);
        // a distance equal to the threshold is rejected, as the engine's `d < t`
        assert_eq!(rates_at(&v, 0.5).false_non_matches, 2);
        let e = eer(&v).unwrap();
        assert!((e.rate - 1.0 / 3.0).abs() < 1e-12, "{e:?}");
        assert!(e.gap < 0.0);
    }

    #[test]
    fn separated_sets_have_zero_eer_and_a_gap() {
        let v = [
            s(true, 0.2),
            s(true, 0.4),
            s(false, 0.7),
            s(false, 0.9),
            Scored { genuine: true, distance: None },
        ];
        let e = eer(&v).unwrap();
        assert_eq!(e.rate, 0.0);
        assert!((e.gap - 0.3).abs() < 1e-6 && (e.threshold - 0.55).abs() < 1e-6);
        assert!((fta(&v) - 0.2).abs() < 1e-12);
        let op = at_fmr(&v, 0.0).unwrap();
        assert_eq!(op.fmr, 0.0);
        assert!(op.threshold <= 0.7 && op.fnmr == 0.0, "{op:?}");
        assert!(eer(&[s(true, 0.1)]).is_none());
    }

    #[test]
    fn apcer_per_species_and_bpcer() {
        let p = |s: &str, live| Presentation { species: s.into(), accepted_as_live: live };
        let r = pad(&[
            p("print", false),
            p("print", true),
            p("screen", false),
            p("bona-fide", true),
            p("bona-fide", false),
        ]);
        assert_eq!(r.apcer, vec![("print".into(), 1, 2, 0.5), ("screen".into(), 0, 1, 0.0)]);
        assert_eq!(r.bpcer, (1, 2, 0.5));
    }
}
