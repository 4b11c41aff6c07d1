//! The face path of the shikaku reader (no_std, no heap): the JPEG 2000 decoder for the chip
//! photo, the face engine (detection, landmarks, alignment, embedding), liveness across live
//! frames, and the card-front reader that finds 照合番号B on a photograph of the card.
//!
//! The session meets this crate through `shikaku_firmware::face_verifier`, which holds the
//! attempt's buffers and wipes them.
#![cfg_attr(not(test), no_std)]

pub mod align;
pub mod card_front;
pub mod detect;
pub mod engine;
mod geom;
pub mod image;
pub mod jp2;
pub mod landmarks;
pub mod liveness;
pub mod model;
