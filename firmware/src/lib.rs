//! The no_std core of the shikaku reader: card transport, applet clients and the session
//! state machine. Everything here is sans-IO and builds for `thumbv7em-none-eabihf`.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

#[macro_use]
pub mod fmt;

pub mod apdu;
pub mod card;
pub mod card_front;
pub mod drive;
pub mod face;
pub mod link;
pub mod nfc;
pub mod session;
pub mod st25r3916;
pub mod ui;
