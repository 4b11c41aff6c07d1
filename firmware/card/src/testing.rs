//! Test doubles for code that talks to a card through [`ApduTransport`] (feature `testing`;
//! uses `std`, never part of the reader's image).
//!
//! * [`ScriptedCard`]: a card that expects a fixed sequence of commands and gives scripted
//!   answers or link failures;
//! * [`Counting`]: wraps any transport and counts the APDUs answered and their bytes.
//!
//! # Matching rule
//!
//! By default ([`Match::Exact`]) every byte of every command is checked: the command sent must
//! equal the scripted one. Scripts that only care about the header, or that leave out data the
//! test does not fix (a signature's digest, a READ BINARY offset), opt into [`Match::Prefix`]
//! with [`ScriptedCard::matching`]: the command must then start with the scripted bytes.
//!
//! A deviation from the script (a command that does not match, or one after the script ended)
//! panics with the step number: it is a bug in the code under test or in the script, not a
//! link failure that code should handle. Link failures are scripted explicitly
//! ([`ScriptedCard::expect_link_error`]).

use std::collections::VecDeque;
use std::vec::Vec;

use crate::apdu::ApduTransport;

/// How a [`ScriptedCard`] compares the command sent with the scripted one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Match {
    /// The command must equal the scripted bytes.
    #[default]
    Exact,
    /// The command must start with the scripted bytes.
    Prefix,
}

/// The link errors a [`ScriptedCard`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// Scripted: the card left or the exchange failed.
    Dropped,
    /// The scripted answer does not fit the response buffer the client offered.
    Overflow,
}

/// One scripted exchange: the command expected (see [`Match`]) and the answer, status word
/// included, or a link failure.
#[derive(Debug, Clone)]
pub struct Step {
    pub command: Vec<u8>,
    pub answer: Result<Vec<u8>, LinkError>,
}

/// A card that expects these commands, in order, and gives these answers.
#[derive(Debug, Clone, Default)]
pub struct ScriptedCard {
    steps: VecDeque<Step>,
    played: usize,
    matching: Match,
}

impl ScriptedCard {
    /// An empty script that checks commands exactly; chain `expect…` calls to fill it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the matching rule for every step (the default is [`Match::Exact`]).
    pub fn matching(mut self, matching: Match) -> Self {
        self.matching = matching;
        self
    }

    /// Appends a step answering `answer` (a link failure if `Err`).
    pub fn step(mut self, command: &[u8], answer: Result<Vec<u8>, LinkError>) -> Self {
        self.steps.push_back(Step { command: command.to_vec(), answer });
        self
    }

    /// Appends a step answering `answer` (data and status word).
    pub fn expect(self, command: &[u8], answer: &[u8]) -> Self {
        self.step(command, Ok(answer.to_vec()))
    }

    /// Appends a step answering just the status word `sw`.
    pub fn expect_sw(self, command: &[u8], sw: u16) -> Self {
        self.expect(command, &sw.to_be_bytes())
    }

    /// Appends a step answering `data` followed by `90 00`.
    pub fn expect_data(self, command: &[u8], data: &[u8]) -> Self {
        let mut answer = data.to_vec();
        answer.extend_from_slice(&[0x90, 0x00]);
        self.step(command, Ok(answer))
    }

    /// Appends a step where the link fails with `error` instead of answering.
    pub fn expect_link_error(self, command: &[u8], error: LinkError) -> Self {
        self.step(command, Err(error))
    }

    /// SELECT EF `ef` (P2 `0C`), then READ BINARY of `file` the way [`crate::io::CardIo`]
    /// reads a TLV-sized file of `total` bytes: the first READ asks for 256 bytes, the rest
    /// for what the TLV header says remains, 256 at most.
    pub fn read_ef(self, ef: u16, file: &[u8], total: usize) -> Self {
        let [hi, lo] = ef.to_be_bytes();
        let mut s = self.expect_sw(&[0x00, 0xA4, 0x02, 0x0C, 0x02, hi, lo], 0x9000);
        let mut offset = 0;
        while offset < total {
            let le = if offset == 0 { 256 } else { (total - offset).min(256) };
            let answer_len = le.min(file.len() - offset);
            s = s.expect_data(
                &[0x00, 0xB0, (offset >> 8) as u8, offset as u8, le as u8],
                &file[offset..offset + answer_len],
            );
            offset += answer_len;
        }
        s
    }

    /// How many steps were played.
    pub fn played(&self) -> usize {
        self.played
    }

    /// Panics unless every scripted step was played.
    pub fn finish(&self) {
        assert!(
            self.steps.is_empty(),
            "{} scripted commands left unsent after {} played, next expects {:02X?}",
            self.steps.len(),
            self.played,
            self.steps.front().map(|s| &s.command)
        );
    }
}

impl ApduTransport for ScriptedCard {
    type Error = LinkError;

    fn transceive(&mut self, command: &[u8], response: &mut [u8]) -> Result<usize, LinkError> {
        let at = self.played;
        let step = self
            .steps
            .pop_front()
            .unwrap_or_else(|| panic!("command #{at} {command:02X?} sent after the script ended"));
        let matches = match self.matching {
            Match::Exact => command == step.command.as_slice(),
            Match::Prefix => command.starts_with(&step.command),
        };
        assert!(
            matches,
            "command #{at} was {command:02X?}, the script expects {:?} {:02X?}",
            self.matching, step.command
        );
        self.played += 1;
        let answer = step.answer?;
        response.get_mut(..answer.len()).ok_or(LinkError::Overflow)?.copy_from_slice(&answer);
        Ok(answer.len())
    }
}

/// Counts the APDUs `inner` answered and their bytes (command plus response, status words
/// included; the block protocol below is not counted). A failed exchange counts nothing.
#[derive(Debug, Clone, Default)]
pub struct Counting<T> {
    pub inner: T,
    pub apdus: u64,
    pub bytes: u64,
}

impl<T> Counting<T> {
    /// Wraps `inner` with both counters at zero.
    pub fn new(inner: T) -> Self {
        Self { inner, apdus: 0, bytes: 0 }
    }
}

impl<T: ApduTransport> ApduTransport for Counting<T> {
    type Error = T::Error;

    fn transceive(&mut self, command: &[u8], response: &mut [u8]) -> Result<usize, T::Error> {
        let n = self.inner.transceive(command, response)?;
        self.apdus += 1;
        self.bytes += (command.len() + n) as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_checks_every_byte_and_prefix_only_the_start() {
        let mut card = ScriptedCard::new().expect_sw(&[0x00, 0xB0], 0x9000);
        let r = std::panic::catch_unwind(move || card.transceive(&[0x00, 0xB0, 0x00], &mut [0; 4]));
        assert!(r.is_err(), "exact matching accepted a longer command");

        let mut card = ScriptedCard::new().matching(Match::Prefix).expect_data(&[0x00, 0xB0], &[7]);
        let mut buf = [0; 4];
        assert_eq!(card.transceive(&[0x00, 0xB0, 0x00], &mut buf), Ok(3));
        assert_eq!(buf[..3], [7, 0x90, 0x00]);
        card.finish();
    }

    #[test]
    fn link_errors_and_overflow_come_back_as_errors() {
        let mut card = ScriptedCard::new().expect_link_error(&[1], LinkError::Dropped).expect(&[2], &[0; 8]);
        assert_eq!(card.transceive(&[1], &mut [0; 16]), Err(LinkError::Dropped));
        assert_eq!(card.transceive(&[2], &mut [0; 4]), Err(LinkError::Overflow));
        assert_eq!(card.played(), 2);
        card.finish();
    }

    #[test]
    fn counting_counts_answered_apdus_and_bytes() {
        let card = ScriptedCard::new().expect_sw(&[1, 2], 0x9000).expect_link_error(&[3], LinkError::Dropped);
        let mut t = Counting::new(card);
        assert_eq!(t.transceive(&[1, 2], &mut [0; 2]), Ok(2));
        assert!(t.transceive(&[3], &mut [0; 2]).is_err());
        assert_eq!((t.apdus, t.bytes), (1, 4));
        t.inner.finish();
    }
}
