//! ISO/IEC 14443-4 half-duplex block transmission protocol, PCD (reader) side.
//!
//! * I-blocks with chaining in both directions, sized from FSC (what the card accepts) and
//!   FSD (what we accept, [`FSD`]);
//! * R(ACK)/R(NAK) and the PCD error recovery rules: on a timeout or an invalid block the PCD
//!   sends R(NAK), or R(ACK) while the PICC is chaining; an R(ACK) with a block number other than
//!   the current one makes the PCD re-send its last I-block; a bounded number of retries;
//! * S(WTX) answered with the same WTXM and a one-shot extended FWT = FWT × WTXM (≤ FWT(14)),
//!   within a waiting budget per exchange (below);
//! * S(DESELECT);
//! * CID (power-level bits ignored), NAD in PICC I-blocks skipped.
//!
//! No heap: one transmit frame buffer (kept for retransmission) and one receive frame buffer;
//! the reassembled response goes straight into the caller's buffer.
//!
//! # Bounded waiting time extensions
//!
//! FWT = 256 × 16 / fc × 2^FWI, and each S(WTX) grants the next block FWT_temp = FWT × WTXM
//! (WTXM ≤ 59), capped at FWT_max = FWT(14) ≈ 4949 ms. ISO/IEC 14443-4 does not limit how many
//! S(WTX) a PICC may send, so a hostile or broken card answering every S(WTX) response with
//! another S(WTX) would hold the exchange, and the reader's main loop that runs it, for ever
//! (64 requests of FWT_max, the only bound before, are 5.3 minutes). One exchange may
//! therefore extend its waiting time by at most:
//!
//! * [`WTX_BUDGET`], 5 s in total: the sum, over the exchange's S(WTX), of the timeouts they
//!   grant (FWT_temp + ΔFWT). One maximal extension (FWT_max + ΔFWT ≈ 4953 ms) fits, so any
//!   single S(WTX) the standard allows is honoured; the slowest command we send a My Number
//!   card, the RSA-2048 signature, takes well under 2 s;
//! * [`MAX_WTX`] S(WTX), 64: a card with a small FWT could otherwise spend the budget in
//!   thousands of round trips.
//!
//! The time is counted from the WTXM values requested, not read from a clock (the core is
//! sans-IO and a card answering early costs less, never more). The S(WTX) that would pass
//! either limit is not answered: the exchange fails with [`IsoDepError::WtxLimit`] and the link
//! is deactivated, which the card layer sees as a transport error (`CardFailure::Lost` in
//! `drive::card_ops`). An exchange thus waits at most the FWT of each block, [`WTX_BUDGET`] and
//! the bounded retries of the recovery rules.

use super::frontend::{fwt_from_fwi, FrontendError, NfcFrontend, Timeout};
use super::iso7816::{self, ApduError, RawExchange};
use shikaku_card::apdu::ApduTransport;

/// Our maximum frame size FSD (PCB, CID, INF and the 2 CRC bytes), FSDI 8.
pub const FSD: usize = 256;
/// Largest frame without CRC the frontend may hand us.
const RX_MAX: usize = FSD - 2;

/// PCB bits.
const PCB_I: u8 = 0x02;
const PCB_R: u8 = 0xA2;
const PCB_S: u8 = 0xC2;
const PCB_CHAINING: u8 = 0x10;
const PCB_NAK: u8 = 0x10;
const PCB_CID: u8 = 0x08;
const PCB_NAD: u8 = 0x04;
const PCB_BN: u8 = 0x01;
const S_DESELECT: u8 = 0x00;
const S_WTX: u8 = 0x30;

/// Largest FWT: FWI 14, about 4949 ms.
pub const FWT_MAX: Timeout = fwt_from_fwi(14);
/// ΔFWT the PCD adds to every FWT for the PICC's and its own tolerances (49152 / fc).
pub const FWT_DELTA: Timeout = Timeout::from_fc(49_152);
/// Waiting time the S(WTX) of one exchange may add in total, counted as the timeouts they grant
/// (FWT_temp + ΔFWT): 5 s, one maximal extension and a little (see the module docs).
pub const WTX_BUDGET: Timeout = Timeout::from_micros(5_000_000);
/// S(WTX) requests accepted per exchange (see the module docs).
pub const MAX_WTX: u16 = 64;

/// Protocol parameters negotiated at activation (ATQB/ATTRIB or ATS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct IsoDepParams {
    /// The PICC's maximum frame size FSC in bytes (PCB, CID, INF and CRC).
    pub fsc: u16,
    /// Frame waiting integer.
    pub fwi: u8,
    /// CID in use, `None` if CID is not used.
    pub cid: Option<u8>,
    /// The PICC supports NAD (informational; we never send NAD).
    pub nad_supported: bool,
}

/// Tunables of the recovery rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct IsoDepConfig {
    /// Consecutive transmission errors / invalid blocks tolerated per block, and separately
    /// I-block retransmissions requested by the PICC, before giving up.
    pub max_retries: u8,
    /// S(WTX) requests accepted per exchange ([`MAX_WTX`]).
    pub max_wtx: u16,
    /// Waiting time the S(WTX) of one exchange may grant in total ([`WTX_BUDGET`]).
    pub wtx_budget: Timeout,
    /// Added to every FWT.
    pub fwt_delta: Timeout,
}

impl Default for IsoDepConfig {
    fn default() -> Self {
        Self { max_retries: 3, max_wtx: MAX_WTX, wtx_budget: WTX_BUDGET, fwt_delta: FWT_DELTA }
    }
}

/// A block the PICC sent that the rules say it must not send (an "invalid block").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ProtocolError {
    #[error("empty block")]
    Empty,
    #[error("unknown PCB {0:#04x}")]
    BadPcb(u8),
    #[error("block too short for its PCB or with a forbidden INF")]
    BadLength,
    #[error("missing or wrong CID")]
    CidMismatch,
    #[error("I-block with an unexpected block number")]
    BlockNumber,
    #[error("I-block while the PCD is chaining")]
    UnexpectedIBlock,
    #[error("unexpected R(ACK)")]
    UnexpectedAck,
    #[error("R(NAK) from the PICC")]
    UnexpectedNak,
    #[error("WTXM out of range 1..=59")]
    BadWtxm,
    #[error("unexpected S(DESELECT)")]
    UnexpectedDeselect,
}

/// Errors of the block protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum IsoDepError {
    /// The frontend failed in a way retransmission cannot fix.
    #[error("frontend: {0}")]
    Frontend(FrontendError),
    /// Transmission errors persisted beyond the retry limit (card removed?).
    #[error("no valid answer after retries, last error: {0}")]
    NoResponse(FrontendError),
    /// Invalid blocks persisted beyond the retry limit.
    #[error("protocol violation after retries: {0}")]
    Protocol(ProtocolError),
    /// The PICC kept asking for retransmissions beyond the retry limit.
    #[error("retransmission limit reached")]
    RetransmissionLimit,
    /// The PICC asked for more waiting time than one exchange may take: more S(WTX) than
    /// [`IsoDepConfig::max_wtx`], or extensions adding up to more than
    /// [`IsoDepConfig::wtx_budget`]. The card is stalling; the link is given up.
    #[error("waiting time extensions beyond the limit of one exchange")]
    WtxLimit,
    /// The response did not fit the caller's buffer (the chain was still drained).
    #[error("response longer than the buffer")]
    ResponseOverflow,
    /// The command does not fit in a frame (FSC too small to carry anything).
    #[error("frame size too small")]
    FrameSize,
    /// The PICC was deselected or the link was given up after an error; re-activate it.
    #[error("PICC not active")]
    NotActive,
    /// [`IsoDepCore`] was driven out of order (no exchange begun, or another command).
    #[error("exchange driven out of order")]
    Misuse,
}

/// A decoded block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Block<'a> {
    I { chaining: bool, bn: bool, inf: &'a [u8] },
    Ack { bn: bool },
    Nak { bn: bool },
    Wtx { wtxm: u8 },
    Deselect,
}

/// Decodes a block received from the PICC (CRC already stripped). With `cid` set, the block
/// must carry that CID; without, a CID byte is tolerated only if it is 0.
pub fn parse_block(frame: &[u8], cid: Option<u8>) -> Result<Block<'_>, ProtocolError> {
    let (&pcb, mut rest) = frame.split_first().ok_or(ProtocolError::Empty)?;
    if pcb & PCB_CID != 0 {
        let (&c, r) = rest.split_first().ok_or(ProtocolError::BadLength)?;
        if c & 0x0F != cid.unwrap_or(0) || c & 0x30 != 0 {
            return Err(ProtocolError::CidMismatch);
        }
        rest = r;
    } else if cid.is_some() {
        return Err(ProtocolError::CidMismatch);
    }
    let bn = pcb & PCB_BN != 0;
    match pcb & 0xC0 {
        0x00 => {
            if pcb & 0xE2 != PCB_I {
                return Err(ProtocolError::BadPcb(pcb));
            }
            if pcb & PCB_NAD != 0 {
                rest = rest.get(1..).ok_or(ProtocolError::BadLength)?;
            }
            Ok(Block::I { chaining: pcb & PCB_CHAINING != 0, bn, inf: rest })
        }
        0x80 => {
            if pcb & 0xE6 != PCB_R {
                return Err(ProtocolError::BadPcb(pcb));
            }
            if !rest.is_empty() {
                return Err(ProtocolError::BadLength);
            }
            Ok(if pcb & PCB_NAK != 0 { Block::Nak { bn } } else { Block::Ack { bn } })
        }
        0xC0 => {
            if pcb & 0xC7 != PCB_S {
                return Err(ProtocolError::BadPcb(pcb));
            }
            match pcb & 0x30 {
                S_DESELECT if rest.is_empty() => Ok(Block::Deselect),
                S_WTX => match rest {
                    [inf] => {
                        let wtxm = inf & 0x3F;
                        if (1..=59).contains(&wtxm) {
                            Ok(Block::Wtx { wtxm })
                        } else {
                            Err(ProtocolError::BadWtxm)
                        }
                    }
                    _ => Err(ProtocolError::BadLength),
                },
                S_DESELECT => Err(ProtocolError::BadLength),
                _ => Err(ProtocolError::BadPcb(pcb)),
            }
        }
        _ => Err(ProtocolError::BadPcb(pcb)),
    }
}

/// Writes PCB (with the CID flag) and the CID byte; returns the header length.
fn header(out: &mut [u8], pcb: u8, cid: Option<u8>) -> usize {
    match cid {
        Some(c) => {
            out[0] = pcb | PCB_CID;
            out[1] = c & 0x0F;
            2
        }
        None => {
            out[0] = pcb;
            1
        }
    }
}

/// What to send next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    IBlock,
    Ack,
    Nak,
    WtxResponse(u8),
}

/// Why a received frame did not advance the exchange.
#[derive(Debug, Clone, Copy)]
enum Failure {
    Transmission(FrontendError),
    Invalid(ProtocolError),
}

impl From<Failure> for IsoDepError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Transmission(e) => Self::NoResponse(e),
            Failure::Invalid(e) => Self::Protocol(e),
        }
    }
}

/// Exchange statistics since creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct IsoDepStats {
    pub exchanges: u32,
    pub blocks_sent: u32,
    pub transmission_errors: u32,
    pub invalid_blocks: u32,
    pub retransmissions: u32,
    pub wtx: u32,
}

/// Progress of one exchange inside [`IsoDepCore`].
#[derive(Debug, Clone, Copy)]
struct ExchangeState {
    /// Length of the command being sent (the caller passes the same slice on every step).
    cmd_len: usize,
    /// Command bytes acknowledged so far, and bytes in the current I-block.
    sent: usize,
    chunk: usize,
    pcd_chaining: bool,
    picc_chaining: bool,
    received: usize,
    overflow: bool,
    errors: u8,
    retransmissions: u8,
    wtx: u16,
    /// Waiting time granted by this exchange's S(WTX) so far.
    wtx_granted: Timeout,
    next: Next,
    timeout: Timeout,
}

/// What the caller does after feeding a frame result to [`IsoDepCore::on_received`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Poll {
    /// Send [`IsoDepCore::io`]'s frame with its timeout and report the result again.
    Transmit,
    /// The exchange is complete: the response has this many bytes.
    Done(usize),
}

/// The sans-IO block protocol: it owns the frame buffers and the protocol state, says which
/// frame to send with which timeout, and digests what came back. [`IsoDep`] drives it with a
/// blocking [`NfcFrontend`]; an async driver runs the same loop with `.await`:
///
/// ```text
/// core.begin(command)?;
/// loop {
///     let (tx, rx, timeout) = core.io();
///     let result = frontend.transceive(tx, rx, timeout).await;
///     if let Poll::Done(n) = core.on_received(result, command, response)? { break n }
/// }
/// ```
pub struct IsoDepCore {
    params: IsoDepParams,
    config: IsoDepConfig,
    /// PCD block number (Rule A: 0 after activation).
    bn: bool,
    active: bool,
    fwt: Timeout,
    /// The current I-block (kept for retransmission) ...
    tx: [u8; FSD],
    tx_len: usize,
    /// ... or the R/S-block to send instead of it.
    ctrl: [u8; 3],
    ctrl_len: usize,
    rx: [u8; FSD],
    stats: IsoDepStats,
    ex: Option<ExchangeState>,
}

impl IsoDepCore {
    pub fn new(params: IsoDepParams, config: IsoDepConfig) -> Self {
        Self {
            params,
            config,
            bn: false,
            active: true,
            fwt: fwt_from_fwi(params.fwi).saturating_add(config.fwt_delta),
            tx: [0; FSD],
            tx_len: 0,
            ctrl: [0; 3],
            ctrl_len: 0,
            rx: [0; FSD],
            stats: IsoDepStats::default(),
            ex: None,
        }
    }

    /// Starts over with a freshly activated PICC (block number 0).
    pub fn reactivate(&mut self, params: IsoDepParams) {
        self.params = params;
        self.fwt = fwt_from_fwi(params.fwi).saturating_add(self.config.fwt_delta);
        self.bn = false;
        self.active = true;
        self.ex = None;
    }

    pub fn params(&self) -> &IsoDepParams {
        &self.params
    }
    pub fn stats(&self) -> &IsoDepStats {
        &self.stats
    }
    pub fn is_active(&self) -> bool {
        self.active
    }
    /// The current PCD block number.
    pub fn block_number(&self) -> bool {
        self.bn
    }
    /// The frame waiting time in use (FWT + ΔFWT).
    pub fn fwt(&self) -> Timeout {
        self.fwt
    }

    /// Largest INF we may put in one I-block.
    pub fn max_inf(&self) -> usize {
        let frame = (self.params.fsc as usize).min(FSD).saturating_sub(2);
        frame.saturating_sub(1 + self.params.cid.is_some() as usize)
    }

    fn load_i_block(&mut self, inf: &[u8], chaining: bool) {
        let mut pcb = PCB_I | self.bn as u8;
        if chaining {
            pcb |= PCB_CHAINING;
        }
        let h = header(&mut self.tx, pcb, self.params.cid);
        self.tx[h..h + inf.len()].copy_from_slice(inf);
        self.tx_len = h + inf.len();
    }

    /// Prepares the control block for `next` (I-blocks stay in `tx`).
    fn load_ctrl(&mut self, next: Next) {
        self.ctrl_len = match next {
            Next::IBlock => 0,
            Next::Ack | Next::Nak => {
                let nak = if next == Next::Nak { PCB_NAK } else { 0 };
                header(&mut self.ctrl, PCB_R | nak | self.bn as u8, self.params.cid)
            }
            Next::WtxResponse(wtxm) => {
                let h = header(&mut self.ctrl, PCB_S | S_WTX, self.params.cid);
                self.ctrl[h] = wtxm;
                h + 1
            }
        };
    }

    /// Starts sending `command` as one (possibly chained) I-block sequence.
    pub fn begin(&mut self, command: &[u8]) -> Result<(), IsoDepError> {
        if !self.active {
            return Err(IsoDepError::NotActive);
        }
        let max_inf = self.max_inf();
        if max_inf == 0 {
            return Err(IsoDepError::FrameSize);
        }
        self.stats.exchanges += 1;
        let chunk = max_inf.min(command.len());
        let pcd_chaining = chunk < command.len();
        self.load_i_block(&command[..chunk], pcd_chaining);
        self.ex = Some(ExchangeState {
            cmd_len: command.len(),
            sent: 0,
            chunk,
            pcd_chaining,
            picc_chaining: false,
            received: 0,
            overflow: false,
            errors: 0,
            retransmissions: 0,
            wtx: 0,
            wtx_granted: Timeout::from_fc(0),
            next: Next::IBlock,
            timeout: self.fwt,
        });
        Ok(())
    }

    /// The frame to send now, the buffer to receive into, and the timeout to use. Outside an
    /// exchange the frame is empty.
    pub fn io(&mut self) -> (&[u8], &mut [u8], Timeout) {
        let (frame, timeout) = match &self.ex {
            Some(ex) if ex.next == Next::IBlock => (&self.tx[..self.tx_len], ex.timeout),
            Some(ex) => (&self.ctrl[..self.ctrl_len], ex.timeout),
            None => (&self.tx[..0], self.fwt),
        };
        trace!("iso-dep: tx {:?}", frame);
        (frame, &mut self.rx[..RX_MAX], timeout)
    }

    /// Digests the result of sending [`IsoDepCore::io`]'s frame: `Ok(n)` bytes received into
    /// its buffer, or the frontend's error. `command` and `response` must be the same on every
    /// call of one exchange. A fatal error ends the exchange and deactivates the link.
    pub fn on_received(
        &mut self,
        result: Result<usize, FrontendError>,
        command: &[u8],
        response: &mut [u8],
    ) -> Result<Poll, IsoDepError> {
        let Some(mut ex) = self.ex.take() else {
            return Err(IsoDepError::Misuse);
        };
        if ex.cmd_len != command.len() {
            return Err(IsoDepError::Misuse);
        }
        self.stats.blocks_sent += 1;
        match self.step(&mut ex, result, command, response) {
            Ok(Poll::Transmit) => {
                self.load_ctrl(ex.next);
                self.ex = Some(ex);
                Ok(Poll::Transmit)
            }
            Ok(done) => Ok(done),
            Err(IsoDepError::ResponseOverflow) => Err(IsoDepError::ResponseOverflow),
            Err(e) => {
                warn!("iso-dep: exchange failed: {}", e);
                self.active = false;
                Err(e)
            }
        }
    }

    fn step(
        &mut self,
        ex: &mut ExchangeState,
        result: Result<usize, FrontendError>,
        command: &[u8],
        response: &mut [u8],
    ) -> Result<Poll, IsoDepError> {
        let max_retries = self.config.max_retries;
        let max_inf = self.max_inf();
        ex.timeout = self.fwt;

        let outcome = match result {
            Ok(n) => match self.rx[..RX_MAX].get(..n) {
                Some(f) => parse_block(f, self.params.cid).map_err(Failure::Invalid),
                None => Err(Failure::Transmission(FrontendError::Overflow)),
            },
            Err(e) if e.is_transmission_error() => Err(Failure::Transmission(e)),
            Err(e) => return Err(IsoDepError::Frontend(e)),
        };

        let step: Result<Next, Failure> = match outcome {
            Err(f) => Err(f),
            Ok(Block::I { chaining, bn, inf }) => {
                if ex.pcd_chaining {
                    Err(Failure::Invalid(ProtocolError::UnexpectedIBlock))
                } else if bn != self.bn {
                    Err(Failure::Invalid(ProtocolError::BlockNumber))
                } else {
                    // Rule B: a valid I-block toggles our block number.
                    self.bn = !self.bn;
                    ex.errors = 0;
                    ex.retransmissions = 0;
                    if !ex.overflow {
                        match response.get_mut(ex.received..ex.received + inf.len()) {
                            Some(dst) => {
                                dst.copy_from_slice(inf);
                                ex.received += inf.len();
                            }
                            None => ex.overflow = true,
                        }
                    }
                    if chaining {
                        // Rule 2: acknowledge each chained I-block.
                        ex.picc_chaining = true;
                        Ok(Next::Ack)
                    } else if ex.overflow {
                        return Err(IsoDepError::ResponseOverflow);
                    } else {
                        return Ok(Poll::Done(ex.received));
                    }
                }
            }
            Ok(Block::Ack { bn }) => {
                if ex.picc_chaining {
                    Err(Failure::Invalid(ProtocolError::UnexpectedAck))
                } else if bn == self.bn {
                    if ex.pcd_chaining {
                        // Rules B and 7: the chained block arrived, continue chaining.
                        self.bn = !self.bn;
                        ex.errors = 0;
                        ex.retransmissions = 0;
                        ex.sent += ex.chunk;
                        ex.chunk = max_inf.min(command.len() - ex.sent);
                        ex.pcd_chaining = ex.sent + ex.chunk < command.len();
                        self.load_i_block(&command[ex.sent..ex.sent + ex.chunk], ex.pcd_chaining);
                        Ok(Next::IBlock)
                    } else {
                        Err(Failure::Invalid(ProtocolError::UnexpectedAck))
                    }
                } else {
                    // Rule 6: the PICC did not get our last I-block: re-send it.
                    ex.retransmissions += 1;
                    self.stats.retransmissions += 1;
                    if ex.retransmissions > max_retries {
                        return Err(IsoDepError::RetransmissionLimit);
                    }
                    debug!("iso-dep: R(ACK) with other block number, re-sending I-block");
                    Ok(Next::IBlock)
                }
            }
            Ok(Block::Nak { .. }) => Err(Failure::Invalid(ProtocolError::UnexpectedNak)),
            Ok(Block::Deselect) => Err(Failure::Invalid(ProtocolError::UnexpectedDeselect)),
            Ok(Block::Wtx { wtxm }) => {
                ex.wtx += 1;
                self.stats.wtx += 1;
                // The extended FWT holds for the next block only.
                let extended = fwt_from_fwi(self.params.fwi)
                    .saturating_mul(wtxm as u32)
                    .min(FWT_MAX)
                    .saturating_add(self.config.fwt_delta);
                let granted = ex.wtx_granted.saturating_add(extended);
                if ex.wtx > self.config.max_wtx || granted > self.config.wtx_budget {
                    warn!(
                        "iso-dep: S(WTX) {} of this exchange (WTXM {}) refused: {} us granted already",
                        ex.wtx,
                        wtxm,
                        ex.wtx_granted.as_micros()
                    );
                    return Err(IsoDepError::WtxLimit);
                }
                ex.wtx_granted = granted;
                ex.errors = 0;
                ex.timeout = extended;
                Ok(Next::WtxResponse(wtxm))
            }
        };

        ex.next = match step {
            Ok(n) => n,
            Err(f) => {
                match f {
                    Failure::Transmission(_e) => {
                        self.stats.transmission_errors += 1;
                        debug!("iso-dep: transmission error {}", _e);
                    }
                    Failure::Invalid(_e) => {
                        self.stats.invalid_blocks += 1;
                        debug!("iso-dep: invalid block {}", _e);
                    }
                }
                ex.errors += 1;
                if ex.errors > max_retries {
                    return Err(f.into());
                }
                // Rules 4 and 5.
                if ex.picc_chaining {
                    Next::Ack
                } else {
                    Next::Nak
                }
            }
        };
        Ok(Poll::Transmit)
    }

    /// The S(DESELECT) request frame; the link counts as inactive from here on.
    pub fn deselect_frame(&mut self) -> (&[u8], &mut [u8], Timeout) {
        self.active = false;
        self.ex = None;
        self.ctrl_len = header(&mut self.ctrl, PCB_S | S_DESELECT, self.params.cid);
        (&self.ctrl[..self.ctrl_len], &mut self.rx[..RX_MAX], self.fwt)
    }

    /// Whether an answer to S(DESELECT) (or to a presence check, `deselect = false`) is
    /// acceptable: `Ok(true)` yes, `Ok(false)` retry, `Err` give up.
    fn check_answer(
        &mut self,
        result: Result<usize, FrontendError>,
        deselect: bool,
    ) -> Result<bool, IsoDepError> {
        self.stats.blocks_sent += 1;
        match result {
            Ok(n) => match parse_block(self.rx.get(..n).unwrap_or(&[]), self.params.cid) {
                Ok(Block::Deselect) if deselect => Ok(true),
                // Any valid block (normally R(ACK), or a repeated last block) proves presence.
                Ok(_) if !deselect => Ok(true),
                _ => {
                    self.stats.invalid_blocks += 1;
                    Ok(false)
                }
            },
            Err(e) if e.is_transmission_error() => {
                self.stats.transmission_errors += 1;
                Ok(false)
            }
            Err(e) => Err(IsoDepError::Frontend(e)),
        }
    }

    /// The R(NAK) presence-check frame (ISO/IEC 14443-4): a PICC still in the field answers
    /// R(ACK) (Rule 12) without changing state.
    pub fn presence_frame(&mut self) -> Result<(&[u8], &mut [u8], Timeout), IsoDepError> {
        if !self.active {
            return Err(IsoDepError::NotActive);
        }
        self.ex = None;
        self.ctrl_len = header(&mut self.ctrl, PCB_R | PCB_NAK | self.bn as u8, self.params.cid);
        Ok((&self.ctrl[..self.ctrl_len], &mut self.rx[..RX_MAX], self.fwt))
    }

    /// Digests the answer to [`IsoDepCore::deselect_frame`]: `Ok(true)` done, `Ok(false)`
    /// send it again (Rule 8, up to the retry limit).
    pub fn on_deselect_answer(&mut self, result: Result<usize, FrontendError>) -> Result<bool, IsoDepError> {
        self.check_answer(result, true)
    }

    /// Digests the answer to [`IsoDepCore::presence_frame`]: `Ok(true)` present, `Ok(false)`
    /// try again (up to the retry limit, after which the PICC counts as gone).
    pub fn on_presence_answer(&mut self, result: Result<usize, FrontendError>) -> Result<bool, IsoDepError> {
        self.check_answer(result, false)
    }
}

/// The PCD side of an activated ISO-DEP link to one PICC over a blocking [`NfcFrontend`].
pub struct IsoDep<F> {
    fe: F,
    core: IsoDepCore,
}

impl<F: NfcFrontend> IsoDep<F> {
    /// A link to a PICC just activated with `params`.
    pub fn new(fe: F, params: IsoDepParams) -> Self {
        Self::with_config(fe, params, IsoDepConfig::default())
    }

    /// Like [`IsoDep::new`] with explicit recovery tunables.
    pub fn with_config(fe: F, params: IsoDepParams, config: IsoDepConfig) -> Self {
        Self { fe, core: IsoDepCore::new(params, config) }
    }

    /// Starts over with a freshly activated PICC (block number 0).
    pub fn reactivate(&mut self, params: IsoDepParams) {
        self.core.reactivate(params)
    }

    pub fn params(&self) -> &IsoDepParams {
        self.core.params()
    }
    pub fn stats(&self) -> &IsoDepStats {
        self.core.stats()
    }
    pub fn is_active(&self) -> bool {
        self.core.is_active()
    }
    /// The current PCD block number.
    pub fn block_number(&self) -> bool {
        self.core.block_number()
    }
    /// The frame waiting time in use (FWT + ΔFWT).
    pub fn fwt(&self) -> Timeout {
        self.core.fwt()
    }
    /// Largest INF we may put in one I-block.
    pub fn max_inf(&self) -> usize {
        self.core.max_inf()
    }
    pub fn core(&self) -> &IsoDepCore {
        &self.core
    }
    pub fn frontend(&self) -> &F {
        &self.fe
    }
    pub fn frontend_mut(&mut self) -> &mut F {
        &mut self.fe
    }
    pub fn into_frontend(self) -> F {
        self.fe
    }

    /// Sends `command` as one (possibly chained) I-block sequence and reassembles the PICC's
    /// (possibly chained) answer into `response`. Returns the response length.
    pub fn exchange(&mut self, command: &[u8], response: &mut [u8]) -> Result<usize, IsoDepError> {
        self.core.begin(command)?;
        loop {
            let (tx, rx, timeout) = self.core.io();
            let result = self.fe.transceive(tx, rx, timeout);
            if let Poll::Done(n) = self.core.on_received(result, command, response)? {
                return Ok(n);
            }
        }
    }

    /// Sends S(DESELECT) and waits for the PICC's S(DESELECT) response, re-sending it up to
    /// the retry limit (Rule 8). Afterwards the link is inactive either way.
    pub fn deselect(&mut self) -> Result<(), IsoDepError> {
        let mut last = IsoDepError::NoResponse(FrontendError::Timeout);
        for _ in 0..=self.core.config.max_retries {
            let (tx, rx, timeout) = self.core.deselect_frame();
            let result = self.fe.transceive(tx, rx, timeout);
            if let Err(e) = result {
                last = IsoDepError::NoResponse(e);
            } else {
                last = IsoDepError::Protocol(ProtocolError::UnexpectedDeselect);
            }
            if self.core.on_deselect_answer(result)? {
                debug!("iso-dep: deselected");
                return Ok(());
            }
        }
        Err(last)
    }

    /// Presence check with R(NAK) (ISO/IEC 14443-4): a PICC still in the field answers with
    /// R(ACK) (Rule 12) without changing state. Transmission errors are retried up to the
    /// limit; `Ok(false)` means the PICC is gone, and the link is then inactive.
    pub fn presence_check(&mut self) -> Result<bool, IsoDepError> {
        for _ in 0..=self.core.config.max_retries {
            let (tx, rx, timeout) = self.core.presence_frame()?;
            let result = self.fe.transceive(tx, rx, timeout);
            if self.core.on_presence_answer(result)? {
                return Ok(true);
            }
        }
        debug!("iso-dep: PICC gone");
        self.core.active = false;
        Ok(false)
    }
}

impl<F: NfcFrontend> RawExchange for IsoDep<F> {
    type Error = IsoDepError;

    fn exchange(&mut self, command: &[u8], response: &mut [u8]) -> Result<usize, IsoDepError> {
        IsoDep::exchange(self, command, response)
    }

    fn is_overflow(error: &IsoDepError) -> bool {
        *error == IsoDepError::ResponseOverflow
    }
}

/// ISO 7816-4 APDUs over the block protocol, with `61xx` / `6Cxx` handled.
impl<F: NfcFrontend> ApduTransport for IsoDep<F> {
    type Error = ApduError<IsoDepError>;

    fn transceive(&mut self, command: &[u8], response: &mut [u8]) -> Result<usize, Self::Error> {
        iso7816::transceive(self, command, response)
    }
}

#[cfg(test)]
mod tests;
