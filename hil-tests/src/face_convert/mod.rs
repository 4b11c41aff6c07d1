//! Converters from dlib's model files to the compact formats the firmware loads.

pub mod detector;
pub mod landmarks;
