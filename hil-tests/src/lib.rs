//! Rigs and simulators for shikaku: the virtual My Number card (served over vpcd to a real
//! pcscd, or directly under the firmware's T=CL stack through a simulated NFC frontend), the
//! simulated rig, and the scenario and fault tests.

/// A contact-less card as the simulators see it: an ATR/ATQB and an APDU processor.
///
/// The virtual My Number card implements it; the vpcd server and the simulated NFC frontend
/// (PICC side of ISO 14443-4) drive it, so the same card model serves pcscd and the firmware.
pub trait SmartCard {
    /// The ATR a PC/SC reader reports for this card.
    fn atr(&self) -> &[u8];
    /// Power-on / reset: volatile state (selected applet, security state) is cleared,
    /// retry counters persist.
    fn reset(&mut self);
    /// Processes one complete command APDU and returns the response APDU (data + SW1 SW2).
    fn process_apdu(&mut self, command: &[u8]) -> Vec<u8>;
}
pub mod card_front_render;
pub mod chain;
pub mod dlib_dat;
pub mod eligibility;
pub mod face_convert;
pub mod face_eval;
pub mod face_models;
pub mod face_scenes;
pub mod layout;
pub mod pcscd;
pub mod qemu;
pub mod render;
pub mod rig;
pub mod sim_device;
pub mod sim_frontend;
pub mod sim_reader;
pub mod testkit;
pub mod vcard;
