//! ISO/IEC 7816-4 command APDUs over a block transport: short and extended encoding, parsing,
//! and the response handling a reader owes its applet clients: `61xx` (fetch the rest with
//! GET RESPONSE, reassembling into the caller's buffer) and `6Cxx` (re-issue with `Le = xx`).

use crate::apdu::StatusWord;

/// One command-response exchange below the APDU layer (the ISO-DEP block protocol).
pub trait RawExchange {
    type Error;

    /// Sends `command`, writes the whole answer into `response`, returns its length.
    fn exchange(&mut self, command: &[u8], response: &mut [u8]) -> Result<usize, Self::Error>;

    /// Whether `error` means "the answer did not fit `response`".
    fn is_overflow(error: &Self::Error) -> bool {
        let _ = error;
        false
    }
}

/// Errors encoding or parsing a command APDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CommandError {
    /// The output buffer is too small.
    #[error("output buffer too small")]
    BufferTooSmall,
    /// More data than the encoding allows (255 short, 65535 extended).
    #[error("command data too long")]
    DataTooLong,
    /// Le outside 1..=256 (short) or 1..=65536 (extended).
    #[error("Le out of range")]
    LeOutOfRange,
    /// The bytes are not a well-formed case 1/2/3/4 APDU.
    #[error("malformed command APDU")]
    Malformed,
}

/// Errors of the APDU layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ApduError<E> {
    /// The transport below failed.
    #[error("transport: {0}")]
    Transport(E),
    /// The (reassembled) response does not fit the caller's buffer.
    #[error("response longer than the buffer")]
    Overflow,
    /// The command APDU is malformed.
    #[error("command: {0}")]
    Command(CommandError),
    /// The card answered with fewer than two bytes.
    #[error("response without status word")]
    MissingStatusWord,
    /// The card kept answering `61xx` / `6Cxx` beyond a sane number of rounds.
    #[error("too many GET RESPONSE rounds")]
    TooManyRounds,
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
            return Err(CommandError::DataTooLong);
        }
        if let Some(le) = self.le {
            if le == 0 || le > max_le {
                return Err(CommandError::LeOutOfRange);
            }
        }
        let len = self.encoded_len();
        let out = out.get_mut(..len).ok_or(CommandError::BufferTooSmall)?;
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

/// Encodes a short APDU (data ≤ 255, Le 1..=256).
pub fn encode_short(
    header: [u8; 4],
    data: &[u8],
    le: Option<u32>,
    out: &mut [u8],
) -> Result<usize, CommandError> {
    let [cla, ins, p1, p2] = header;
    CommandApdu { cla, ins, p1, p2, data, le, extended: false }.encode(out)
}

/// Encodes an extended APDU (data ≤ 65535, Le 1..=65536).
pub fn encode_extended(
    header: [u8; 4],
    data: &[u8],
    le: Option<u32>,
    out: &mut [u8],
) -> Result<usize, CommandError> {
    let [cla, ins, p1, p2] = header;
    CommandApdu { cla, ins, p1, p2, data, le, extended: true }.encode(out)
}

/// GET RESPONSE keeps the logical channel of the command it continues.
fn get_response_cla(cla: u8) -> u8 {
    if cla & 0x40 != 0 {
        0x40 | (cla & 0x0F)
    } else {
        cla & 0x03
    }
}

/// Upper bound on `61xx`/`6Cxx` rounds for one command (64 KiB in 256-byte pieces).
const MAX_ROUNDS: usize = 260;
/// Largest command we copy to re-issue after `6Cxx` (short case 4 plus slack).
const REISSUE_MAX: usize = 4 + 3 + 255 + 3;

/// One APDU exchange with `61xx` / `6Cxx` handling. The complete response (data of all GET
/// RESPONSE rounds followed by the final status word) is written to `response`.
pub fn transceive<X: RawExchange>(
    x: &mut X,
    command: &[u8],
    response: &mut [u8],
) -> Result<usize, ApduError<X::Error>> {
    let cmd = CommandApdu::parse(command).map_err(ApduError::Command)?;
    if response.len() < 2 {
        return Err(ApduError::Overflow);
    }
    let exchange = |x: &mut X, c: &[u8], r: &mut [u8]| -> Result<(usize, StatusWord), ApduError<X::Error>> {
        match x.exchange(c, r) {
            Ok(n) => match r.get(..n) {
                Some([.., sw1, sw2]) => Ok((n, StatusWord::from_bytes(*sw1, *sw2))),
                Some(_) => Err(ApduError::MissingStatusWord),
                None => Err(ApduError::Overflow),
            },
            Err(e) if X::is_overflow(&e) => Err(ApduError::Overflow),
            Err(e) => Err(ApduError::Transport(e)),
        }
    };

    let (mut n, mut sw) = exchange(x, command, response)?;
    if sw.sw1() == 0x6C && cmd.data.len() <= 255 {
        // Wrong Le: the card tells the exact length; re-issue once with it.
        debug!("apdu: 6C{:02x}, re-issuing with that Le", sw.sw2());
        let mut buf = [0u8; REISSUE_MAX];
        let le = if sw.sw2() == 0 { 256 } else { sw.sw2() as u32 };
        let again = CommandApdu { le: Some(le), ..cmd };
        let len = again.encode(&mut buf).map_err(ApduError::Command)?;
        (n, sw) = exchange(x, &buf[..len], response)?;
    }

    let mut data_len = n - 2;
    let mut rounds = 0;
    loop {
        let le = match sw.sw1() {
            0x61 => sw.sw2(),
            // 6Cxx in answer to GET RESPONSE: ask again with the exact length.
            0x6C if rounds > 0 => sw.sw2(),
            _ => break,
        };
        rounds += 1;
        if rounds > MAX_ROUNDS {
            return Err(ApduError::TooManyRounds);
        }
        let get = [get_response_cla(cmd.cla), 0xC0, 0x00, 0x00, le];
        let rest = response.get_mut(data_len..).filter(|r| r.len() >= 2).ok_or(ApduError::Overflow)?;
        let (m, s) = exchange(x, &get, rest)?;
        data_len += m - 2;
        sw = s;
    }
    // The last round's status word sits right after the data already.
    Ok(data_len + 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::vec::Vec;

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
        let n = encode_short([0, 0xB0, 0x8A, 0], &[], Some(256), &mut out).unwrap();
        assert_eq!(&out[..n], &[0, 0xB0, 0x8A, 0, 0]);
        let n = encode_short([0, 0x20, 0, 0x80], b"1234", None, &mut out).unwrap();
        assert_eq!(&out[..n], &[0, 0x20, 0, 0x80, 4, b'1', b'2', b'3', b'4']);
        let n = encode_extended([0, 0xB0, 0, 0], &[], Some(65536), &mut out).unwrap();
        assert_eq!(&out[..n], &[0, 0xB0, 0, 0, 0, 0, 0]);
        let n = encode_extended([0x80, 0x2A, 0, 0x80], &[9; 3], Some(256), &mut out).unwrap();
        assert_eq!(&out[..n], &[0x80, 0x2A, 0, 0x80, 0, 0, 3, 9, 9, 9, 1, 0]);
        assert_eq!(encode_short([0; 4], &[0; 256], None, &mut out), Err(CommandError::DataTooLong));
        assert_eq!(encode_short([0; 4], &[], Some(257), &mut out), Err(CommandError::LeOutOfRange));
        assert_eq!(encode_short([0; 4], &[1; 10], None, &mut out[..8]), Err(CommandError::BufferTooSmall));
        let big = [7u8; 1000];
        let c = CommandApdu::new(0, 0xD6, 0, 0, &big, None);
        assert!(c.extended);
        let mut outb = [0u8; 1100];
        let n = c.encode(&mut outb).unwrap();
        assert_eq!(CommandApdu::parse(&outb[..n]).unwrap(), c);
    }

    /// A card double answering from a queue and recording the commands.
    struct Fake {
        answers: VecDeque<Vec<u8>>,
        seen: Vec<Vec<u8>>,
    }

    impl RawExchange for Fake {
        type Error = &'static str;
        fn exchange(&mut self, c: &[u8], r: &mut [u8]) -> Result<usize, &'static str> {
            self.seen.push(c.to_vec());
            let a = self.answers.pop_front().ok_or("script ended")?;
            let dst = r.get_mut(..a.len()).ok_or("overflow")?;
            dst.copy_from_slice(&a);
            Ok(a.len())
        }
        fn is_overflow(e: &&'static str) -> bool {
            *e == "overflow"
        }
    }

    fn fake(answers: &[&[u8]]) -> Fake {
        Fake { answers: answers.iter().map(|a| a.to_vec()).collect(), seen: Vec::new() }
    }

    #[test]
    fn get_response_61xx_reassembles() {
        let mut last = vec![8u8; 254];
        last.extend_from_slice(&[0x90, 0x00]);
        let mut f = fake(&[&[1, 2, 3, 0x61, 0x04], &[4, 5, 6, 7, 0x61, 0x00], &last]);
        let mut resp = [0u8; 300];
        let n = transceive(&mut f, &[0x00, 0xB0, 0, 0, 0], &mut resp).unwrap();
        assert_eq!(n, 3 + 4 + 254 + 2);
        assert_eq!(&resp[..7], &[1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(&resp[n - 2..n], &[0x90, 0x00]);
        assert_eq!(f.seen[1], vec![0x00, 0xC0, 0, 0, 4]);
        assert_eq!(f.seen[2], vec![0x00, 0xC0, 0, 0, 0]);
    }

    #[test]
    fn wrong_le_6cxx_reissues() {
        let mut f = fake(&[&[0x6C, 0x05], &[1, 2, 3, 4, 5, 0x90, 0x00]]);
        let mut resp = [0u8; 16];
        let n = transceive(&mut f, &[0x80, 0xB0, 0, 0, 0], &mut resp).unwrap();
        assert_eq!(&resp[..n], &[1, 2, 3, 4, 5, 0x90, 0x00]);
        assert_eq!(f.seen[1], vec![0x80, 0xB0, 0, 0, 5]);
        // Case 3 gets an Le appended.
        let mut f = fake(&[&[0x6C, 0x00], &[0x90, 0x00]]);
        transceive(&mut f, &[0x00, 0xCB, 0, 0, 1, 0x5C], &mut resp).unwrap();
        assert_eq!(f.seen[1], vec![0x00, 0xCB, 0, 0, 1, 0x5C, 0x00]);
    }

    #[test]
    fn get_response_keeps_channel_and_handles_6c() {
        let mut f = fake(&[&[0x61, 0x10], &[0x6C, 0x02], &[1, 2, 0x90, 0x00]]);
        let mut resp = [0u8; 16];
        let n = transceive(&mut f, &[0x83, 0xB0, 0, 0, 0], &mut resp).unwrap();
        assert_eq!(&resp[..n], &[1, 2, 0x90, 0x00]);
        assert_eq!(f.seen[1], vec![0x03, 0xC0, 0, 0, 0x10]);
        assert_eq!(f.seen[2], vec![0x03, 0xC0, 0, 0, 0x02]);
    }

    #[test]
    fn overflow_is_typed() {
        let mut f = fake(&[&[1, 2, 3, 0x61, 0x03], &[4, 5, 6, 0x90, 0x00]]);
        let mut resp = [0u8; 6];
        assert_eq!(transceive(&mut f, &[0, 0xB0, 0, 0, 0], &mut resp), Err(ApduError::Overflow));
        let mut f = fake(&[&[1, 2, 3, 0x90, 0x00]]);
        assert_eq!(transceive(&mut f, &[0, 0xB0, 0, 0, 0], &mut resp[..4]), Err(ApduError::Overflow));
        assert_eq!(transceive(&mut f, &[0, 0xB0, 0, 0, 0], &mut resp[..1]), Err(ApduError::Overflow));
    }

    #[test]
    fn malformed_inputs_are_typed() {
        let mut resp = [0u8; 16];
        let mut f = fake(&[&[0x90]]);
        assert_eq!(transceive(&mut f, &[0, 0xB0, 0, 0, 0], &mut resp), Err(ApduError::MissingStatusWord));
        assert_eq!(
            transceive(&mut f, &[0, 0xB0], &mut resp),
            Err(ApduError::Command(CommandError::Malformed))
        );
        let mut f = fake(&[]);
        assert_eq!(
            transceive(&mut f, &[0, 0xB0, 0, 0, 0], &mut resp),
            Err(ApduError::Transport("script ended"))
        );
        // A card answering 61xx forever is cut off.
        let mut f = Fake { answers: (0..400).map(|_| vec![0x61, 0x00]).collect(), seen: Vec::new() };
        let mut big = [0u8; 64];
        assert_eq!(transceive(&mut f, &[0, 0xB0, 0, 0, 0], &mut big), Err(ApduError::TooManyRounds));
    }
}
