//! Drivers at the edges of the sans-IO session core: they run what the core asks for
//! ([`crate::session::Action`]) against the hardware seams and feed the answers back.

pub mod card_ops;
pub mod chip_photo;
pub mod face_photo;
