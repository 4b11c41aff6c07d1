//! Rigs and simulators for shikaku.
