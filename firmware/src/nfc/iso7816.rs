//! ISO/IEC 7816-4 command APDUs over a block transport (the APDU types themselves are
//! `shikaku_card::apdu`): the response handling a reader owes its applet clients: `61xx` (fetch the rest with
//! GET RESPONSE, reassembling into the caller's buffer) and `6Cxx` (re-issue with `Le = xx`).

use shikaku_card::apdu::{CommandApdu, CommandError, StatusWord};

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
