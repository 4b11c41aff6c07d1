//! The face path: the chip photo decoder (and, alongside it, the face engine).

pub mod jp2;
pub mod model;
