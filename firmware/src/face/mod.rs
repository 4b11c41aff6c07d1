//! The face path: the chip photo decoder, the face engine (detection, landmarks, alignment,
//! embedding), liveness, and the types they share.

pub mod align;
pub mod detect;
pub mod engine;
pub mod image;
pub mod jp2;
pub mod landmarks;
pub mod liveness;
pub mod model;
pub mod verifier;
