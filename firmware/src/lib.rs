//! The no_std core of the shikaku reader: the NFC stack (ISO 14443 Type A/B, ISO-DEP, the
//! ST25R3916 driver), the session state machine, the reader's screens, the drivers that run
//! card operations for the session, and the seam between the session and the face engine.
//! The card layer lives in `shikaku-card` and the face path in `shikaku-face`; everything
//! here is sans-IO and builds for `thumbv7em-none-eabihf`.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

// The test doubles of `nfc::testing` allocate; nothing else in the crate does.
#[cfg(feature = "testing")]
extern crate std;

#[macro_use]
extern crate shikaku_fmt;
shikaku_fmt::check_features!();

pub mod drive;
pub mod face_verifier;
pub mod nfc;
pub mod session;
pub mod st25r3916;
pub mod ui;
