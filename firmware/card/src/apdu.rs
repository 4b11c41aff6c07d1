//! ISO/IEC 7816-4 APDUs: the one command APDU type of shikaku (parse, short and extended
//! encoding), status words, and the seam between the card transport (ISO 14443-4 in the
//! firmware's `nfc`, PC/SC on the host) and the applet clients: anything that can exchange one
//! command APDU for one response APDU.

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

impl<T: ApduTransport + ?Sized> ApduTransport for &mut T {
    type Error = T::Error;

    fn transceive(&mut self, command: &[u8], response: &mut [u8]) -> Result<usize, Self::Error> {
        (**self).transceive(command, response)
    }
}

/// Encoding or parsing a command APDU failed: nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CommandError {
    /// The caller's buffer cannot hold the command.
    #[error("command buffer too small: need {needed} bytes")]
    BufferTooSmall { needed: usize },
    /// More data than the encoding allows (255 short, 65535 extended).
    #[error("command data too long: {len} bytes")]
    DataTooLong { len: usize },
    /// Le outside 1..=256 (short) or 1..=65536 (extended).
    #[error("Le out of range")]
    LeOutOfRange,
    /// The bytes are not a well-formed case 1/2/3/4 APDU.
    #[error("malformed command APDU")]
    Malformed,
    /// READ BINARY offsets are 15 bits (`P1` bit 8 selects the SFI form).
    #[error("READ BINARY offset {offset} out of range")]
    OffsetOutOfRange { offset: usize },
    /// A command that carries data was given none.
    #[error("command data empty")]
    EmptyData,
    /// A short EF identifier is 1..=30.
    #[error("short EF identifier {sfi} out of range")]
    InvalidSfi { sfi: u8 },
}

/// A command APDU, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CommandApdu<'a> {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: &'a [u8],
    /// Expected response length Ne (1..=256 short, 1..=65536 extended); `None` for no Le.
    pub le: Option<u32>,
    /// Extended length encoding.
    pub extended: bool,
}

impl<'a> CommandApdu<'a> {
    /// A command with the short encoding if data and Le allow it, else extended.
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8, data: &'a [u8], le: Option<u32>) -> Self {
        let extended = data.len() > 255 || le.is_some_and(|le| le > 256);
        Self { cla, ins, p1, p2, data, le, extended }
    }

    /// Parses any case 1, 2S/E, 3S/E, 4S/E APDU.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, CommandError> {
        let (&[cla, ins, p1, p2], body) = bytes.split_first_chunk::<4>().ok_or(CommandError::Malformed)?;
        let mut cmd = Self { cla, ins, p1, p2, data: &[], le: None, extended: false };
        match body {
            [] => {}
            [le] => cmd.le = Some(if *le == 0 { 256 } else { *le as u32 }),
            [0, rest @ ..] if rest.len() >= 2 => {
                cmd.extended = true;
                let ext = |hi: u8, lo: u8| match u16::from_be_bytes([hi, lo]) {
                    0 => 65536u32,
                    n => n as u32,
                };
                if rest.len() == 2 {
                    cmd.le = Some(ext(rest[0], rest[1]));
                } else {
                    let lc = u16::from_be_bytes([rest[0], rest[1]]) as usize;
                    let data = &rest[2..];
                    if lc == 0 {
                        return Err(CommandError::Malformed);
                    }
                    if data.len() == lc {
                        cmd.data = data;
                    } else if data.len() == lc + 2 {
                        cmd.data = &data[..lc];
                        cmd.le = Some(ext(data[lc], data[lc + 1]));
                    } else {
                        return Err(CommandError::Malformed);
                    }
                }
            }
            [lc, rest @ ..] => {
                let lc = *lc as usize;
                if lc == 0 {
                    return Err(CommandError::Malformed);
                }
                if rest.len() == lc {
                    cmd.data = rest;
                } else if rest.len() == lc + 1 {
                    cmd.data = &rest[..lc];
                    let le = rest[lc];
                    cmd.le = Some(if le == 0 { 256 } else { le as u32 });
                } else {
                    return Err(CommandError::Malformed);
                }
            }
        }
        Ok(cmd)
    }

    /// The encoded length.
    pub fn encoded_len(&self) -> usize {
        let (lc_len, le_len) = if self.extended {
            let lc = if self.data.is_empty() { 0 } else { 3 };
            let le = match (self.le, self.data.is_empty()) {
                (None, _) => 0,
                (Some(_), true) => 3,
                (Some(_), false) => 2,
            };
            (lc, le)
        } else {
            ((!self.data.is_empty()) as usize, self.le.is_some() as usize)
        };
        4 + lc_len + self.data.len() + le_len
    }

    /// Encodes into `out`, returns the length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CommandError> {
        let (max_data, max_le) = if self.extended { (65535, 65536) } else { (255, 256) };
        if self.data.len() > max_data {
            return Err(CommandError::DataTooLong { len: self.data.len() });
        }
        if let Some(le) = self.le {
            if le == 0 || le > max_le {
                return Err(CommandError::LeOutOfRange);
            }
        }
        let len = self.encoded_len();
        let out = out.get_mut(..len).ok_or(CommandError::BufferTooSmall { needed: len })?;
        out[..4].copy_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        let mut i = 4;
        if self.extended {
            if !self.data.is_empty() {
                out[i] = 0;
                out[i + 1..i + 3].copy_from_slice(&(self.data.len() as u16).to_be_bytes());
                i += 3;
            }
            out[i..i + self.data.len()].copy_from_slice(self.data);
            i += self.data.len();
            if let Some(le) = self.le {
                if self.data.is_empty() {
                    out[i] = 0;
                    i += 1;
                }
                // 65536 wraps to 0000.
                out[i..i + 2].copy_from_slice(&(le as u16).to_be_bytes());
                i += 2;
            }
        } else {
            if !self.data.is_empty() {
                out[i] = self.data.len() as u8;
                i += 1;
            }
            out[i..i + self.data.len()].copy_from_slice(self.data);
            i += self.data.len();
            if let Some(le) = self.le {
                // 256 wraps to 00.
                out[i] = le as u8;
                i += 1;
            }
        }
        debug_assert_eq!(i, len);
        Ok(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(
        extended: bool,
        h: [u8; 4],
        data: &[u8],
        le: Option<u32>,
        out: &mut [u8],
    ) -> Result<usize, CommandError> {
        CommandApdu { cla: h[0], ins: h[1], p1: h[2], p2: h[3], data, le, extended }.encode(out)
    }

    #[test]
    fn parse_all_cases() {
        let c1 = CommandApdu::parse(&[0, 0xA4, 0, 0]).unwrap();
        assert_eq!((c1.data, c1.le, c1.extended), (&[][..], None, false));
        let c2 = CommandApdu::parse(&[0, 0xB0, 0, 0, 0]).unwrap();
        assert_eq!(c2.le, Some(256));
        let c3 = CommandApdu::parse(&[0, 0xA4, 2, 0x0C, 2, 0, 0x0A]).unwrap();
        assert_eq!((c3.data, c3.le), (&[0, 0x0A][..], None));
        let c4 = CommandApdu::parse(&[0x80, 0x2A, 0, 0x80, 1, 0xAA, 0]).unwrap();
        assert_eq!((c4.data, c4.le), (&[0xAA][..], Some(256)));
        let c2e = CommandApdu::parse(&[0, 0xB0, 0, 0, 0, 0x0C, 0x80]).unwrap();
        assert_eq!((c2e.le, c2e.extended), (Some(3200), true));
        let c2e0 = CommandApdu::parse(&[0, 0xB0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(c2e0.le, Some(65536));
        let c3e = CommandApdu::parse(&[0, 0x2A, 0, 0, 0, 0, 2, 1, 2]).unwrap();
        assert_eq!((c3e.data, c3e.le, c3e.extended), (&[1, 2][..], None, true));
        let c4e = CommandApdu::parse(&[0, 0x2A, 0, 0, 0, 0, 2, 1, 2, 1, 0]).unwrap();
        assert_eq!((c4e.data, c4e.le), (&[1, 2][..], Some(256)));
        for bad in [
            &[][..],
            &[0, 0xA4, 0][..],
            &[0, 0xA4, 0, 0, 2, 1][..],
            &[0, 0xA4, 0, 0, 2, 1, 2, 3, 4][..],
            &[0, 0xA4, 0, 0, 0, 0, 0, 1][..],
            &[0, 0xA4, 0, 0, 0, 0, 3, 1][..],
        ] {
            assert_eq!(CommandApdu::parse(bad), Err(CommandError::Malformed), "{bad:02X?}");
        }
    }

    #[test]
    fn encode_round_trips() {
        let mut out = [0u8; 300];
        let n = encode(false, [0, 0xB0, 0x8A, 0], &[], Some(256), &mut out).unwrap();
        assert_eq!(&out[..n], &[0, 0xB0, 0x8A, 0, 0]);
        let n = encode(false, [0, 0x20, 0, 0x80], b"1234", None, &mut out).unwrap();
        assert_eq!(&out[..n], &[0, 0x20, 0, 0x80, 4, b'1', b'2', b'3', b'4']);
        let n = encode(true, [0, 0xB0, 0, 0], &[], Some(65536), &mut out).unwrap();
        assert_eq!(&out[..n], &[0, 0xB0, 0, 0, 0, 0, 0]);
        let n = encode(true, [0x80, 0x2A, 0, 0x80], &[9; 3], Some(256), &mut out).unwrap();
        assert_eq!(&out[..n], &[0x80, 0x2A, 0, 0x80, 0, 0, 3, 9, 9, 9, 1, 0]);
        assert_eq!(
            encode(false, [0; 4], &[0; 256], None, &mut out),
            Err(CommandError::DataTooLong { len: 256 })
        );
        assert_eq!(encode(false, [0; 4], &[], Some(257), &mut out), Err(CommandError::LeOutOfRange));
        assert_eq!(
            encode(false, [0; 4], &[1; 10], None, &mut out[..8]),
            Err(CommandError::BufferTooSmall { needed: 15 })
        );
        let big = [7u8; 1000];
        let c = CommandApdu::new(0, 0xD6, 0, 0, &big, None);
        assert!(c.extended);
        let mut outb = [0u8; 1100];
        let n = c.encode(&mut outb).unwrap();
        assert_eq!(CommandApdu::parse(&outb[..n]).unwrap(), c);
    }
}
