//! A scripted PICC-side frontend for tests (feature `testing`, and the crate's own unit
//! tests; uses `std`, never part of the reader's image): each step names the exact frame the
//! PCD must send (CRC excluded) and what the "air" returns (a frame or a frontend error).
//!
//! Matching rule: frames are compared exactly, every byte (the same default as
//! `shikaku_card::testing::ScriptedCard`); a step may also pin the timeout the PCD uses
//! ([`Step::with_timeout`]). Any deviation panics with the step number.

use std::collections::VecDeque;
use std::vec::Vec;

use super::frontend::{BitRate, FrontendError, NfcFrontend, Technology, Timeout};

/// One expected PCD frame and its scripted answer.
#[derive(Debug, Clone)]
pub struct Step {
    pub tx: Vec<u8>,
    pub reply: Result<Vec<u8>, FrontendError>,
    /// If set, the timeout the PCD must use for this frame.
    pub timeout: Option<Timeout>,
}

impl Step {
    pub fn exchange(tx: &[u8], reply: Result<&[u8], FrontendError>) -> Self {
        Self { tx: tx.to_vec(), reply: reply.map(<[u8]>::to_vec), timeout: None }
    }

    pub fn with_timeout(mut self, timeout: Timeout) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// Plays a script; panics on any deviation.
#[derive(Debug)]
pub struct ScriptedFrontend {
    steps: VecDeque<Step>,
    pub done: usize,
    pub field: bool,
    pub technology: Option<Technology>,
    pub rates: (BitRate, BitRate),
    pub timeouts: Vec<Timeout>,
}

impl ScriptedFrontend {
    pub fn new(steps: Vec<Step>) -> Self {
        Self {
            steps: steps.into(),
            done: 0,
            field: false,
            technology: None,
            rates: (BitRate::Kbps106, BitRate::Kbps106),
            timeouts: Vec::new(),
        }
    }

    /// Asserts the whole script was played.
    pub fn finish(&self) {
        assert!(
            self.steps.is_empty(),
            "{} scripted steps left after {} played, next expects {:02X?}",
            self.steps.len(),
            self.done,
            self.steps.front().map(|s| &s.tx)
        );
    }
}

impl NfcFrontend for ScriptedFrontend {
    fn field_on(&mut self) -> Result<(), FrontendError> {
        self.field = true;
        Ok(())
    }

    fn field_off(&mut self) -> Result<(), FrontendError> {
        self.field = false;
        Ok(())
    }

    fn configure(
        &mut self,
        technology: Technology,
        pcd_to_picc: BitRate,
        picc_to_pcd: BitRate,
    ) -> Result<(), FrontendError> {
        self.technology = Some(technology);
        self.rates = (pcd_to_picc, picc_to_pcd);
        Ok(())
    }

    fn transceive(&mut self, tx: &[u8], rx: &mut [u8], timeout: Timeout) -> Result<usize, FrontendError> {
        let step = self
            .steps
            .pop_front()
            .unwrap_or_else(|| panic!("PCD sent {:02X?} after the script ended ({} steps)", tx, self.done));
        assert_eq!(
            tx,
            &step.tx[..],
            "step {}: PCD sent {:02X?}, script expects {:02X?}",
            self.done,
            tx,
            step.tx
        );
        if let Some(t) = step.timeout {
            assert_eq!(timeout, t, "step {}: timeout", self.done);
        }
        self.timeouts.push(timeout);
        self.done += 1;
        let reply = step.reply?;
        if reply.len() > rx.len() {
            return Err(FrontendError::Overflow);
        }
        rx[..reply.len()].copy_from_slice(&reply);
        Ok(reply.len())
    }
}

/// A hostile PICC that answers every frame with S(WTX) (no CID) asking for `wtxm`, for ever;
/// it records the timeouts the PCD grants.
#[derive(Debug)]
pub struct WtxStaller {
    pub wtxm: u8,
    pub timeouts: Vec<Timeout>,
}

impl WtxStaller {
    pub fn new(wtxm: u8) -> Self {
        Self { wtxm, timeouts: Vec::new() }
    }

    /// The sum of the timeouts granted, in carrier cycles (u64: no saturation).
    pub fn total_fc(&self) -> u64 {
        self.timeouts.iter().map(|t| t.as_fc() as u64).sum()
    }
}

impl NfcFrontend for WtxStaller {
    fn field_on(&mut self) -> Result<(), FrontendError> {
        Ok(())
    }
    fn field_off(&mut self) -> Result<(), FrontendError> {
        Ok(())
    }
    fn configure(&mut self, _: Technology, _: BitRate, _: BitRate) -> Result<(), FrontendError> {
        Ok(())
    }
    fn transceive(&mut self, _tx: &[u8], rx: &mut [u8], timeout: Timeout) -> Result<usize, FrontendError> {
        self.timeouts.push(timeout);
        rx[..2].copy_from_slice(&[0xF2, self.wtxm]);
        Ok(2)
    }
}
