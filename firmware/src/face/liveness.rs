//! Presentation-attack detection across frames: being written.
