//! The face path: the chip photo decoder, the face engine (detection, landmarks, alignment,
//! embedding) and the types they share.

pub mod image;
pub mod jp2;
pub mod model;
