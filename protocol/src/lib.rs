//! # shikaku-protocol
//!
//! What a shikaku reader and its host say to each other, on a USB bulk pipe, a UART or TCP:
//!
//! - [`frame`]: the checked, zero-copy wire frame (marker, version, type, session, sequence,
//!   length, payload, optional MAC trailer, CRC) and its encoder into a caller's buffer;
//! - [`deframer`]: reassembly from a byte stream with resynchronisation after garbage;
//! - [`message`]: the complete, typed message set of a reception session;
//! - [`auth`]: pairing (X25519), per-connection keys, sealing (ChaCha20-Poly1305) and replay
//!   refusal;
//! - [`link`]: one end of the link, putting the above together;
//! - [`endpoint`]: the reader's and the host's end of a connection (hello, pairing, delivery);
//! - [`reliable`]: exactly-once delivery of results (outbox and duplicate filter);
//! - [`time`]: the typed monotonic instant, span and wall-clock reading the cores take.
//!
//! `no_std`, no allocation; everything is sans-IO.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]

pub mod auth;
mod codec;
pub mod deframer;
pub mod endpoint;
mod error;
pub mod frame;
pub mod link;
pub mod message;
pub mod passcode;
pub mod reliable;
pub mod time;

pub use codec::MAX_TEXT;
pub use error::Error;
pub use frame::{Frame, Header, MAX_FRAME, MAX_PAYLOAD};
pub use link::{Link, Received, Role};
pub use message::Message;
pub use time::{Duration, Instant, UnixMillis};

/// Protocol major version: frames of another major are refused.
pub const VERSION_MAJOR: u8 = 2;
/// Protocol minor version: newer minors are accepted (appended fields are skipped).
pub const VERSION_MINOR: u8 = 0;
