//! The two ends of a reader↔host connection, sans-IO: the one implementation of the hello,
//! the pairing and exactly-once delivery that the firmware images, the host driver, the rigs
//! and the tests all run.
//!
//! - [`reader`]: the reader's end, `no_std` and without heap (frames in, session inputs out;
//!   session messages in, frames out through the exactly-once outbox).
//! - [`host`] (feature `std`): the host's end (bytes in, [`host::HostEvent`]s out; results
//!   handed up once and acknowledged only after the application kept them).
//!
//! Handshake: the host sends `HostHello` with a fresh nonce; the reader answers `ReaderHello`
//! with its own nonce and a key check; with a stored pairing key both derive the connection
//! keys from it and the two nonces, and every later frame is authenticated. Pairing
//! (`PairRequest` → `PairResponse` → `PairConfirm`) derives a new pairing key by X25519 and a
//! 6-digit code both sides show for staff to compare.

#[cfg(feature = "std")]
pub mod host;
pub mod reader;
