//! The seam between the card transport (ISO 14443-4 + ISO 7816-4 in `nfc`) and the applet
//! clients (`card`): anything that can exchange one command APDU for one response APDU.

/// An ISO 7816-4 status word (`SW1 SW2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StatusWord(pub u16);

impl StatusWord {
    pub const OK: Self = Self(0x9000);
    pub const WRONG_LENGTH: Self = Self(0x6700);
    pub const LOGICAL_CHANNEL_NOT_SUPPORTED: Self = Self(0x6881);
    pub const SECURITY_STATUS_NOT_SATISFIED: Self = Self(0x6982);
    pub const AUTH_METHOD_BLOCKED: Self = Self(0x6984);
    pub const NO_CURRENT_EF: Self = Self(0x6986);
    pub const FILE_NOT_FOUND: Self = Self(0x6A82);
    pub const INCORRECT_P1P2: Self = Self(0x6A86);
    pub const WRONG_OFFSET: Self = Self(0x6B00);
    pub const INS_NOT_SUPPORTED: Self = Self(0x6D00);
    pub const CLA_NOT_SUPPORTED: Self = Self(0x6E00);

    pub const fn from_bytes(sw1: u8, sw2: u8) -> Self {
        Self(((sw1 as u16) << 8) | sw2 as u16)
    }
    pub const fn sw1(self) -> u8 {
        (self.0 >> 8) as u8
    }
    pub const fn sw2(self) -> u8 {
        self.0 as u8
    }
    pub const fn is_success(self) -> bool {
        self.0 == 0x9000
    }
    /// `63Cx`: verification failed, `x` tries left.
    pub const fn tries_left(self) -> Option<u8> {
        if self.0 & 0xFFF0 == 0x63C0 {
            Some((self.0 & 0x000F) as u8)
        } else {
            None
        }
    }
}

/// Exchanges one command APDU for one response APDU (data followed by `SW1 SW2`).
///
/// The transport below handles `61xx` / `6Cxx` and block chaining, so what comes back is the
/// complete response. Implemented by the ISO 14443-4 stack on the reader and by test doubles.
pub trait ApduTransport {
    type Error;

    /// Sends `command` and writes the whole response, status word included, into `response`.
    /// Returns the number of bytes written.
    fn transceive(&mut self, command: &[u8], response: &mut [u8]) -> Result<usize, Self::Error>;
}
