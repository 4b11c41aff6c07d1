//! A simulated NFC frontend with a Type B card in its field: the PICC side of ISO/IEC 14443-3
//! (REQB/WUPB, slot-MARKER, ATQB, ATTRIB, HLTB) and ISO/IEC 14443-4 (I-blocks with chaining in
//! both directions, R(ACK)/R(NAK) per the PICC rules, S(WTX) when configured, S(DESELECT))
//! around any [`SmartCard`]. It implements the firmware's [`NfcFrontend`], so the reader stack
//! runs unchanged on the host.
//!
//! Faults are deterministic: a seeded generator decides, frame by frame, whether a frame on air
//! is lost (the receiver sees nothing: timeout) or corrupted (the PCD sees a CRC error; the PICC
//! ignores a corrupted frame, which the PCD also sees as a timeout). Frames are numbered in air
//! order from 0 (PCD frame, then the PICC's answer), and faults can be pinned to frame numbers.
//! Counters report frames and bytes on air and an estimate of air time in carrier cycles.
//!
//! Time is virtual (1/fc). Commands can be given a processing time (by INS): the card is busy
//! and deaf until its answer is ready; with `auto_wtx` it first asks for the time with S(WTX)
//! like a real card, without it simply answers late, possibly after the PCD timed out.

use shikaku_firmware::nfc::frontend::{
    frame_size_from_index, BitRate, FrontendError, NfcFrontend, ShortFrame, Technology, Timeout,
};

use crate::SmartCard;

/// The card's answer starts this long after the end of the PCD's frame (TR0 + TR1, roughly).
const TR_FC: u64 = 2048;

/// Static description of the simulated card's Type B personality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCardConfig {
    pub pupi: [u8; 4],
    pub app_data: [u8; 4],
    /// ATQB protocol info (3 bytes), `B3 81 A1` like the My Number card.
    pub protocol_info: [u8; 3],
    /// The card's AFI (REQB with another non-zero AFI is ignored).
    pub afi: u8,
    /// MBLI reported in the answer to ATTRIB.
    pub mbli: u8,
    /// Send S(WTX) before answering a command.
    pub wtx: Option<WtxConfig>,
    /// Processing time by instruction byte (INS); other commands are answered at once.
    pub slow_commands: Vec<(u8, Timeout)>,
    /// When processing takes longer than the card's FWT, ask for the time with one S(WTX)
    /// whose WTXM covers it, as real cards do. Without, a slow card simply answers late (and
    /// ignores frames while busy).
    pub auto_wtx: bool,
}

impl Default for SimCardConfig {
    fn default() -> Self {
        Self {
            pupi: [0x1C, 0x2D, 0x3E, 0x4F],
            app_data: [0x00, 0x00, 0x00, 0x00],
            protocol_info: [0xB3, 0x81, 0xA1],
            afi: 0x00,
            mbli: 0,
            wtx: None,
            slow_commands: Vec::new(),
            auto_wtx: true,
        }
    }
}

/// When and how the card asks for more time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WtxConfig {
    /// WTXM (1..=59).
    pub wtxm: u8,
    /// S(WTX) requests before the answer.
    pub rounds: u8,
    /// Only for every n-th command (1 = all).
    pub every: u32,
}

/// Deterministic fault injection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultConfig {
    /// Seed of the generator (also used for anticollision slot choice).
    pub seed: u64,
    /// Probability per frame on air, in parts per million (10_000 = 1 %).
    pub rate_ppm: u32,
    /// Frame numbers to lose.
    pub drop_frames: Vec<u64>,
    /// Frame numbers to corrupt.
    pub corrupt_frames: Vec<u64>,
    /// Also inject rate-based faults before the card is ACTIVE (activation frames).
    pub during_activation: bool,
}

impl FaultConfig {
    /// Rate-based faults only.
    pub fn rate(seed: u64, rate_ppm: u32) -> Self {
        Self { seed, rate_ppm, ..Self::default() }
    }
}

/// Counters of what went over the air.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AirCounters {
    /// Frames the PCD sent (incl. lost ones) and their bytes incl. CRC.
    pub pcd_frames: u64,
    pub pcd_bytes: u64,
    /// Frames the PICC sent (incl. lost ones) and their bytes incl. CRC.
    pub picc_frames: u64,
    pub picc_bytes: u64,
    /// Injected faults.
    pub dropped: u64,
    pub corrupted: u64,
    /// Exchanges that ended in a timeout / CRC error at the PCD.
    pub timeouts: u64,
    pub crc_errors: u64,
    /// Complete command APDUs processed and S(WTX) requests sent by the card.
    pub apdus: u64,
    pub wtx_requests: u64,
    /// Estimated air time (frames at the configured bit rates plus waiting), in 1/fc.
    pub air_time_fc: u64,
}

/// Which way a frame travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    PcdToPicc,
    PiccToPcd,
}

/// What happened to a frame on air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Drop,
    Corrupt,
}

/// One recorded frame (when recording is on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AirFrame {
    pub index: u64,
    pub direction: Direction,
    pub bytes: Vec<u8>,
    pub fault: Option<Fault>,
    /// For PCD frames: the timeout the PCD gave the frontend.
    pub timeout: Option<Timeout>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PiccState {
    /// No power (field off or card away).
    Off,
    Idle,
    /// After REQB/WUPB; `slot` is the slot it waits for (`None`: ATQB already sent).
    Ready {
        slot: Option<u8>,
    },
    Active {
        cid: u8,
        fsd: usize,
        rates: (BitRate, BitRate),
    },
    Halt,
}

/// ISO/IEC 14443-4 PICC-side state.
#[derive(Debug, Clone, Default)]
struct Tcl {
    /// PICC block number (Rule C: 1 after activation).
    bn: bool,
    last: Vec<u8>,
    rx_chain: Vec<u8>,
    tx_data: Vec<u8>,
    tx_off: usize,
    tx_chunk: usize,
    tx_chaining: bool,
    wtx_left: u8,
    wtxm: u8,
    /// Processing time still to spend after the S(WTX) handshake, in 1/fc.
    deferred: u64,
    commands: u32,
}

/// splitmix64: small, seedable, deterministic.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The simulated frontend and the card in its field.
pub struct SimFrontend<C: SmartCard> {
    card: C,
    config: SimCardConfig,
    faults: FaultConfig,
    rng: Rng,
    field: bool,
    present: bool,
    technology: Technology,
    rates: (BitRate, BitRate),
    state: PiccState,
    tcl: Tcl,
    frame_index: u64,
    counters: AirCounters,
    recording: bool,
    log: Vec<AirFrame>,
    /// Virtual time in 1/fc since creation.
    now: u64,
    /// The card's next frame and when it starts; while set, the card is busy and deaf.
    pending: Option<(u64, Vec<u8>)>,
    /// Processing delay of the reply being built.
    reply_delay: u64,
    /// Tear the card out of the field once it processed this many APDUs (see
    /// [`SimFrontend::pull_after_apdus`]).
    pull: Option<CardPull>,
    pulled: bool,
}

/// When the card leaves the field mid-operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CardPull {
    after_apdus: u64,
    swallow: bool,
}

impl<C: SmartCard> SimFrontend<C> {
    /// A card with the default (My Number like) Type B personality and no faults.
    pub fn new(card: C) -> Self {
        Self::with_config(card, SimCardConfig::default(), FaultConfig::default())
    }

    pub fn with_config(card: C, config: SimCardConfig, faults: FaultConfig) -> Self {
        let rng = Rng(faults.seed);
        Self {
            card,
            config,
            faults,
            rng,
            field: false,
            present: true,
            technology: Technology::TypeB,
            rates: (BitRate::Kbps106, BitRate::Kbps106),
            state: PiccState::Off,
            tcl: Tcl::default(),
            frame_index: 0,
            counters: AirCounters::default(),
            recording: false,
            log: Vec::new(),
            now: 0,
            pending: None,
            reply_delay: 0,
            pull: None,
            pulled: false,
        }
    }

    pub fn card(&self) -> &C {
        &self.card
    }
    pub fn card_mut(&mut self) -> &mut C {
        &mut self.card
    }
    pub fn counters(&self) -> &AirCounters {
        &self.counters
    }
    pub fn reset_counters(&mut self) {
        self.counters = AirCounters::default();
    }
    /// Number of the next frame on air.
    pub fn frame_index(&self) -> u64 {
        self.frame_index
    }
    pub fn faults_mut(&mut self) -> &mut FaultConfig {
        &mut self.faults
    }
    pub fn config_mut(&mut self) -> &mut SimCardConfig {
        &mut self.config
    }
    /// Records every frame on air from now on (see [`SimFrontend::log`]).
    pub fn record(&mut self, on: bool) {
        self.recording = on;
    }
    pub fn log(&self) -> &[AirFrame] {
        &self.log
    }
    /// Whether the card is ACTIVE (after ATTRIB, before DESELECT/HLTB).
    pub fn is_active(&self) -> bool {
        matches!(self.state, PiccState::Active { .. })
    }
    /// The bit rates the frontend is configured for.
    pub fn bit_rates(&self) -> (BitRate, BitRate) {
        self.rates
    }
    /// The CID and FSD the card was given by ATTRIB.
    pub fn attrib_params(&self) -> Option<(u8, usize)> {
        match self.state {
            PiccState::Active { cid, fsd, .. } => Some((cid, fsd)),
            _ => None,
        }
    }

    /// Takes the card away from (`false`) or puts it back into (`true`) the field.
    pub fn set_card_present(&mut self, present: bool) {
        if present && !self.present && self.field {
            self.power_up();
        }
        if !present {
            self.state = PiccState::Off;
            self.pending = None;
        }
        self.present = present;
    }

    /// Whether the card is in the field.
    pub fn card_present(&self) -> bool {
        self.present
    }

    /// Tears the card out of the field (once) when it has processed `apdus` APDUs: before the
    /// next command reaches it, or — with `swallow` — after it acted on the next command but
    /// before its answer is on air (the reader times out).
    pub fn pull_after_apdus(&mut self, apdus: u64, swallow: bool) {
        self.pull = Some(CardPull { after_apdus: apdus, swallow });
        self.pulled = false;
    }

    /// Whether [`SimFrontend::pull_after_apdus`] has taken the card away.
    pub fn pulled(&self) -> bool {
        self.pulled
    }

    /// Virtual time since creation, in 1/fc.
    pub fn now(&self) -> Timeout {
        Timeout::from_fc(self.now.min(u32::MAX as u64) as u32)
    }

    fn power_up(&mut self) {
        self.pending = None;
        self.card.reset();
        self.state = PiccState::Idle;
        self.tcl = Tcl::default();
    }

    fn fault_for(&mut self, eligible: bool) -> (u64, Option<Fault>) {
        let index = self.frame_index;
        self.frame_index += 1;
        let draw = self.rng.next();
        let coin = self.rng.next();
        if self.faults.drop_frames.contains(&index) {
            return (index, Some(Fault::Drop));
        }
        if self.faults.corrupt_frames.contains(&index) {
            return (index, Some(Fault::Corrupt));
        }
        let eligible = eligible || self.faults.during_activation;
        if eligible && (draw % 1_000_000) < self.faults.rate_ppm as u64 {
            return (index, Some(if coin & 1 == 0 { Fault::Drop } else { Fault::Corrupt }));
        }
        (index, None)
    }

    fn frame_time(&self, bytes: usize, rate: BitRate) -> u64 {
        // Type B character: start, 8 data, stop = 10 etu; SOF ≈ 12 etu, EOF ≈ 10 etu; CRC 2.
        ((bytes as u64 + 2) * 10 + 22) * rate.etu_fc() as u64
    }

    fn note(
        &mut self,
        index: u64,
        direction: Direction,
        bytes: &[u8],
        fault: Option<Fault>,
        timeout: Option<Timeout>,
    ) {
        match fault {
            Some(Fault::Drop) => self.counters.dropped += 1,
            Some(Fault::Corrupt) => self.counters.corrupted += 1,
            None => {}
        }
        if self.recording {
            self.log.push(AirFrame { index, direction, bytes: bytes.to_vec(), fault, timeout });
        }
    }

    /// The card's answer to a frame it received intact, if any.
    fn picc_receive(&mut self, frame: &[u8]) -> Option<Vec<u8>> {
        if self.technology != Technology::TypeB {
            return None;
        }
        match self.state {
            PiccState::Off => None,
            PiccState::Active { rates, .. } => {
                if rates != self.rates {
                    // The card cannot demodulate a frame at another bit rate.
                    return None;
                }
                self.tcl_receive(frame)
            }
            _ => {
                if self.rates != (BitRate::Kbps106, BitRate::Kbps106) {
                    return None;
                }
                self.type_b_receive(frame)
            }
        }
    }

    fn atqb(&self) -> Vec<u8> {
        let mut v = vec![0x50];
        v.extend_from_slice(&self.config.pupi);
        v.extend_from_slice(&self.config.app_data);
        v.extend_from_slice(&self.config.protocol_info);
        v
    }

    fn type_b_receive(&mut self, frame: &[u8]) -> Option<Vec<u8>> {
        match *frame {
            [0x05, afi, param] => {
                let wake = param & 0x08 != 0;
                let afi_ok = afi == 0
                    || afi == self.config.afi
                    || (afi & 0x0F == 0 && afi & 0xF0 == self.config.afi & 0xF0);
                let state_ok = match self.state {
                    PiccState::Idle | PiccState::Ready { .. } => true,
                    PiccState::Halt => wake,
                    _ => false,
                };
                if !afi_ok || !state_ok {
                    return None;
                }
                let slots = 1u64 << (param & 0x07).min(4);
                let slot = (self.rng.next() % slots) as u8 + 1;
                if slot == 1 {
                    self.state = PiccState::Ready { slot: None };
                    Some(self.atqb())
                } else {
                    self.state = PiccState::Ready { slot: Some(slot) };
                    None
                }
            }
            [marker] if marker & 0x0F == 0x05 && marker != 0x05 => {
                let n = (marker >> 4) + 1;
                match self.state {
                    PiccState::Ready { slot: Some(s) } if s == n => {
                        self.state = PiccState::Ready { slot: None };
                        Some(self.atqb())
                    }
                    _ => None,
                }
            }
            [0x1D, p0, p1, p2, p3, _param1, param2, _param3, param4, ..] => {
                if [p0, p1, p2, p3] != self.config.pupi
                    || !matches!(self.state, PiccState::Ready { slot: None })
                {
                    return None;
                }
                let picc_to_pcd = BitRate::from_code(param2 >> 6);
                let pcd_to_picc = BitRate::from_code(param2 >> 4);
                let caps = self.config.protocol_info[0];
                let ok = |r: BitRate, bits: [u8; 3]| match r {
                    BitRate::Kbps106 => true,
                    BitRate::Kbps212 => caps & bits[0] != 0,
                    BitRate::Kbps424 => caps & bits[1] != 0,
                    BitRate::Kbps848 => caps & bits[2] != 0,
                };
                if !ok(picc_to_pcd, [0x10, 0x20, 0x40]) || !ok(pcd_to_picc, [0x01, 0x02, 0x04]) {
                    return None;
                }
                let cid = param4 & 0x0F;
                if cid != 0 && self.config.protocol_info[2] & 0x01 == 0 {
                    return None;
                }
                let fsd = frame_size_from_index(param2 & 0x0F) as usize;
                self.state = PiccState::Active { cid, fsd, rates: (pcd_to_picc, picc_to_pcd) };
                self.tcl = Tcl { bn: true, ..Tcl::default() };
                Some(vec![(self.config.mbli << 4) | cid])
            }
            [0x50, p0, p1, p2, p3] => {
                if [p0, p1, p2, p3] != self.config.pupi || !matches!(self.state, PiccState::Ready { .. }) {
                    return None;
                }
                self.state = PiccState::Halt;
                Some(vec![0x00])
            }
            _ => None,
        }
    }

    fn tcl_receive(&mut self, frame: &[u8]) -> Option<Vec<u8>> {
        let PiccState::Active { cid, fsd, .. } = self.state else {
            return None;
        };
        let (&pcb, mut rest) = frame.split_first()?;
        let with_cid = pcb & 0x08 != 0;
        if with_cid {
            let (&c, r) = rest.split_first()?;
            if c & 0x0F != cid {
                return None;
            }
            rest = r;
        } else if cid != 0 {
            return None;
        }
        let reply = match pcb {
            // I-block.
            p if p & 0xE2 == 0x02 => {
                if p & 0x04 != 0 {
                    rest = rest.get(1..)?;
                }
                self.tcl.bn = !self.tcl.bn; // Rule D
                self.tcl.rx_chain.extend_from_slice(rest);
                if p & 0x10 != 0 {
                    self.r_block(false, with_cid, cid) // Rule 2
                } else {
                    let command = std::mem::take(&mut self.tcl.rx_chain);
                    let processing = command
                        .get(1)
                        .and_then(|ins| self.config.slow_commands.iter().find(|(i, _)| i == ins))
                        .map_or(0, |(_, t)| t.as_fc() as u64);
                    self.tcl.tx_data = self.card.process_apdu(&command);
                    self.tcl.tx_off = 0;
                    self.counters.apdus += 1;
                    self.tcl.commands += 1;
                    let fwt = 4096u64 << (self.config.protocol_info[2] >> 4).min(14);
                    match self.config.wtx {
                        Some(w) if w.rounds > 0 && self.tcl.commands.is_multiple_of(w.every.max(1)) => {
                            self.tcl.wtx_left = w.rounds;
                            self.tcl.wtxm = w.wtxm;
                            self.tcl.deferred = processing;
                            self.wtx_request(w.wtxm, with_cid, cid)
                        }
                        _ if self.config.auto_wtx && processing > fwt => {
                            let wtxm = processing.div_ceil(fwt).min(59) as u8;
                            self.tcl.wtx_left = 1;
                            self.tcl.wtxm = wtxm;
                            self.tcl.deferred = processing;
                            self.wtx_request(wtxm, with_cid, cid)
                        }
                        _ => {
                            self.reply_delay = processing;
                            self.next_chunk(with_cid, cid, fsd)
                        }
                    }
                }
            }
            // R-block.
            p if p & 0xE6 == 0xA2 => {
                let bn = p & 0x01 != 0;
                let nak = p & 0x10 != 0;
                if bn == self.tcl.bn {
                    self.tcl.last.clone() // Rule 11
                } else if nak {
                    self.r_block(false, with_cid, cid) // Rule 12
                } else {
                    self.tcl.bn = !self.tcl.bn; // Rule E
                    if self.tcl.tx_chaining {
                        self.tcl.tx_off += self.tcl.tx_chunk; // Rule 13
                        self.next_chunk(with_cid, cid, fsd)
                    } else {
                        return None;
                    }
                }
            }
            // S(WTX) response.
            p if p & 0xF7 == 0xF2 => {
                if self.tcl.wtx_left == 0 || rest.len() != 1 {
                    return None;
                }
                self.tcl.wtx_left -= 1;
                if self.tcl.wtx_left > 0 {
                    self.wtx_request(self.tcl.wtxm, with_cid, cid)
                } else {
                    self.reply_delay = std::mem::take(&mut self.tcl.deferred);
                    self.next_chunk(with_cid, cid, fsd)
                }
            }
            // S(DESELECT) request.
            p if p & 0xF7 == 0xC2 => {
                self.state = PiccState::Halt;
                let mut v = vec![p];
                if with_cid {
                    v.push(cid);
                }
                return Some(v);
            }
            _ => return None,
        };
        self.tcl.last = reply.clone();
        Some(reply)
    }

    fn header(pcb: u8, with_cid: bool, cid: u8) -> Vec<u8> {
        if with_cid {
            vec![pcb | 0x08, cid]
        } else {
            vec![pcb]
        }
    }

    fn r_block(&self, nak: bool, with_cid: bool, cid: u8) -> Vec<u8> {
        let pcb = 0xA2 | if nak { 0x10 } else { 0 } | self.tcl.bn as u8;
        Self::header(pcb, with_cid, cid)
    }

    fn wtx_request(&mut self, wtxm: u8, with_cid: bool, cid: u8) -> Vec<u8> {
        self.counters.wtx_requests += 1;
        let mut v = Self::header(0xF2, with_cid, cid);
        v.push(wtxm & 0x3F);
        v
    }

    fn next_chunk(&mut self, with_cid: bool, cid: u8, fsd: usize) -> Vec<u8> {
        let room = fsd - 2 - 1 - with_cid as usize;
        let remaining = self.tcl.tx_data.len() - self.tcl.tx_off;
        let chunk = remaining.min(room);
        let chaining = chunk < remaining;
        self.tcl.tx_chunk = chunk;
        self.tcl.tx_chaining = chaining;
        let pcb = 0x02 | if chaining { 0x10 } else { 0 } | self.tcl.bn as u8;
        let mut v = Self::header(pcb, with_cid, cid);
        v.extend_from_slice(&self.tcl.tx_data[self.tcl.tx_off..self.tcl.tx_off + chunk]);
        v
    }
}

impl<C: SmartCard> NfcFrontend for SimFrontend<C> {
    fn field_on(&mut self) -> Result<(), FrontendError> {
        if !self.field {
            self.field = true;
            if self.present {
                self.power_up();
            }
        }
        Ok(())
    }

    fn field_off(&mut self) -> Result<(), FrontendError> {
        self.field = false;
        self.state = PiccState::Off;
        self.pending = None;
        Ok(())
    }

    fn configure(
        &mut self,
        technology: Technology,
        pcd_to_picc: BitRate,
        picc_to_pcd: BitRate,
    ) -> Result<(), FrontendError> {
        self.technology = technology;
        self.rates = (pcd_to_picc, picc_to_pcd);
        Ok(())
    }

    fn transceive(&mut self, tx: &[u8], rx: &mut [u8], timeout: Timeout) -> Result<usize, FrontendError> {
        let start = self.now;
        self.counters.pcd_frames += 1;
        self.counters.pcd_bytes += tx.len() as u64 + 2;
        self.now += self.frame_time(tx.len(), self.rates.0);
        // Rate-based faults hit exchanges that start with the card ACTIVE (unless configured
        // for activation too), so the answer to ATTRIB is not affected but DESELECT is.
        let eligible = self.is_active();
        let (index, fault) = self.fault_for(eligible);
        self.note(index, Direction::PcdToPicc, tx, fault, Some(timeout));
        // The card torn away before a new command reaches it.
        let pull = self.pull.filter(|p| !self.pulled && self.present && p.after_apdus == self.counters.apdus);
        let new_command = tx.first().is_some_and(|pcb| pcb & 0xE2 == 0x02) && self.tcl.rx_chain.is_empty();
        if pull.is_some_and(|p| !p.swallow) && self.is_active() && new_command && fault.is_none() {
            self.pulled = true;
            self.set_card_present(false);
        }
        // A busy card does not listen; an idle one may schedule its answer.
        if self.field && fault.is_none() && self.pending.is_none() {
            if let Some(answer) = self.picc_receive(tx) {
                let delay = std::mem::take(&mut self.reply_delay);
                self.pending = Some((self.now + TR_FC + delay, answer));
            }
        }
        // Or torn away once it acted on the command, its answer lost.
        if pull.is_some_and(|p| p.swallow && self.counters.apdus > p.after_apdus) {
            self.pulled = true;
            self.set_card_present(false);
        }
        let deadline = self.now + timeout.as_fc() as u64;
        let answer = match self.pending.take() {
            Some((at, answer)) if at <= deadline => {
                // (An answer that became ready while the PCD was still sending is simply
                // delivered after its frame.)
                self.now = self.now.max(at);
                answer
            }
            later => {
                self.pending = later;
                self.now = deadline;
                self.counters.timeouts += 1;
                self.counters.air_time_fc += self.now - start;
                return Err(FrontendError::Timeout);
            }
        };
        self.counters.picc_frames += 1;
        self.counters.picc_bytes += answer.len() as u64 + 2;
        self.now += self.frame_time(answer.len(), self.rates.1);
        let (index, fault) = self.fault_for(eligible);
        self.note(index, Direction::PiccToPcd, &answer, fault, None);
        if fault == Some(Fault::Drop) {
            // Nothing arrives: the PCD waits out its timeout.
            self.now = self.now.max(deadline);
        }
        self.counters.air_time_fc += self.now - start;
        match fault {
            Some(Fault::Drop) => {
                self.counters.timeouts += 1;
                Err(FrontendError::Timeout)
            }
            Some(Fault::Corrupt) => {
                self.counters.crc_errors += 1;
                Err(FrontendError::Crc)
            }
            None => {
                let dst = rx.get_mut(..answer.len()).ok_or(FrontendError::Overflow)?;
                dst.copy_from_slice(&answer);
                Ok(answer.len())
            }
        }
    }

    fn transceive_short_frame(
        &mut self,
        _frame: ShortFrame,
        _rx: &mut [u8],
        timeout: Timeout,
    ) -> Result<usize, FrontendError> {
        // No Type A card in this field.
        self.now += timeout.as_fc() as u64;
        self.counters.air_time_fc += timeout.as_fc() as u64;
        Err(FrontendError::Timeout)
    }
}
