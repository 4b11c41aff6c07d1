//! Reader-side card transport: the NFC frontend seam, ISO/IEC 14443-3 activation (Type B for
//! the My Number card, Type A for phones), the ISO/IEC 14443-4 block protocol and ISO 7816-4
//! APDU handling on top. No heap; fixed frame buffers; every malformed frame is a typed error.

pub mod frontend;
pub mod iso7816;
pub mod iso_dep;
pub mod type_a;
pub mod type_b;

#[cfg(test)]
pub(crate) mod testing;

pub use frontend::{BitRate, FrontendError, NfcFrontend, Technology, Timeout};
pub use iso7816::{ApduError, CommandApdu};
pub use iso_dep::{IsoDep, IsoDepConfig, IsoDepError, IsoDepParams};
