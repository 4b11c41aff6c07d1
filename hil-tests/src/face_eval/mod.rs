//! The face evaluation: LFW-style pairs in, FMR/FNMR at thresholds, EER, a DET curve, and
//! APCER/BPCER for attack presentations out (`shikaku-face-eval`).

pub mod ci_set;
pub mod det_plot;
pub mod metrics;
pub mod pairs;
pub mod report;
