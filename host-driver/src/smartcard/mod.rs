//! Generic PC/SC readers beside the face-auth reader: smartphone マイナ保険証 (Android, iPhone)
//! or a card on a plain NFC reader. The firmware's applet clients run unchanged over a PC/SC
//! card; the context is re-established when pcscd restarts.

mod context;
mod reading;

pub use context::{PcscCard, PcscError, PcscService, ReaderSlot};
pub use reading::{read_identity, CardReading, PinSource, ReadError};
