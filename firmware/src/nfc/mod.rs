//! Reader-side card transport: the NFC frontend seam, ISO/IEC 14443-3 activation (Type B for
//! the My Number card, Type A for phones), the ISO/IEC 14443-4 block protocol and ISO 7816-4
//! APDU handling on top. No heap; fixed frame buffers; every malformed frame is a typed error.
//!
//! Layers, bottom up:
//!
//! * [`frontend`]: the [`NfcFrontend`] trait a chip driver implements (field, technology and
//!   bit rates, one frame out and one frame in with CRC handled, typed errors), time in
//!   carrier cycles so the same code runs in virtual time.
//! * [`type_b`] / [`type_a`]: ISO/IEC 14443-3 activation (and RATS/PPS for Type A), ending in
//!   the [`IsoDepParams`] (FSC, FWI, CID) of the card.
//! * [`iso_dep`]: the ISO/IEC 14443-4 block protocol, PCD side, as a sans-IO core
//!   ([`IsoDepCore`]) and a blocking driver ([`IsoDep`]), with chaining, WTX, DESELECT,
//!   presence check and the PCD error recovery rules.
//! * [`iso7816`]: APDU encoding and `61xx` / `6Cxx` handling; [`IsoDep`] implements
//!   [`shikaku_card::apdu::ApduTransport`] with it, which is what the applet clients use.
//!
//! ```no_run
//! use shikaku_card::apdu::ApduTransport;
//! use shikaku_firmware::nfc::{type_b, IsoDep, NfcFrontend};
//!
//! /// Reads the JPKI token info (EF 0006) from a My Number card in the field.
//! fn token_info<F: NfcFrontend>(mut fe: F, out: &mut [u8; 34]) -> Option<usize> {
//!     let card = type_b::activate(&mut fe, &type_b::ActivationConfig::default()).ok()?;
//!     let mut link = IsoDep::new(fe, card.params);
//!     let select_ap = [0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0, 0, 0, 0x01];
//!     link.transceive(&select_ap, out).ok()?;
//!     link.transceive(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x06], out).ok()?;
//!     let n = link.transceive(&[0x00, 0xB0, 0x00, 0x00, 0x20], out).ok()?;
//!     link.deselect().ok()?;
//!     Some(n)
//! }
//! ```

pub mod frontend;
pub mod iso7816;
pub mod iso_dep;
pub mod type_a;
pub mod type_b;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use frontend::{BitRate, FrontendError, NfcFrontend, Technology, Timeout, TransceiveFn};
pub use iso7816::ApduError;
pub use iso_dep::{IsoDep, IsoDepConfig, IsoDepCore, IsoDepError, IsoDepParams, Poll};
pub use shikaku_card::apdu::CommandApdu;
