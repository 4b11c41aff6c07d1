//! The ST25R3916 driver against a register-level model of the chip.
//!
//! The model is written from the datasheet's behaviour, not from the driver: an SPI device
//! that decodes the SPI modes (register read/write with auto-increment, FIFO load/read,
//! direct commands), a register file, the 512-byte FIFO with its status registers and water
//! levels, the four interrupt registers (cleared on read) with their masks driving the IRQ
//! line, the no-response timer (64/fc or 4096/fc steps, started at the end of transmission),
//! CRC appended on transmit and checked on receive (and placed in the FIFO), bit rates, and
//! virtual time in carrier cycles advanced by the delay and by SPI traffic. Behind the
//! antenna sits a PICC: a small ISO/IEC 14443-3 Type A or Type B card with an ISO/IEC 14443-4
//! block layer (chaining both ways, R(ACK)/R(NAK), DESELECT) and a tiny APDU application.
//! Several PICCs may sit in the field: their answers superpose, and differing bits are a
//! collision shown in the collision display register. Faults (a lost answer, a corrupted
//! answer, a dead IRQ line) are injected on air.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::rc::Rc;

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{ErrorType as PinErrorType, InputPin};
use embedded_hal::spi::{ErrorType, Operation, SpiDevice};
use shikaku_firmware::nfc::frontend::{fwt_from_fwi, BitRate, FrontendError, NfcFrontend, Timeout};
use shikaku_firmware::nfc::{type_a, type_b, IsoDep, IsoDepParams};
use shikaku_firmware::st25r3916::regs::*;
use shikaku_firmware::st25r3916::St25r3916;

// ---------------------------------------------------------------------------------------------
// CRCs on air (ISO/IEC 14443-3 Annex B): CRC_A init 6363, CRC_B init FFFF inverted, LSB first.

fn crc16(init: u16, data: &[u8]) -> u16 {
    let mut crc = init;
    for &b in data {
        let mut x = b ^ (crc as u8);
        x ^= x << 4;
        crc = (crc >> 8) ^ ((x as u16) << 8) ^ ((x as u16) << 3) ^ ((x as u16) >> 4);
    }
    crc
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tech {
    A,
    B,
}

fn crc(tech: Tech, data: &[u8]) -> [u8; 2] {
    let c = match tech {
        Tech::A => crc16(0x6363, data),
        Tech::B => !crc16(0xFFFF, data),
    };
    c.to_le_bytes()
}

fn with_crc(tech: Tech, data: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    v.extend_from_slice(&crc(tech, data));
    v
}

fn strip_crc(tech: Tech, frame: &[u8]) -> Option<&[u8]> {
    if frame.len() < 3 {
        return None;
    }
    let (body, c) = frame.split_at(frame.len() - 2);
    (crc(tech, body) == [c[0], c[1]]).then_some(body)
}

// ---------------------------------------------------------------------------------------------
// The PICC behind the antenna.

/// A PICC's answer on air: bytes as they land in the FIFO, the valid bits of the last byte
/// (0 = 8) and the time from the end of the PCD frame to the start of the answer.
#[derive(Debug)]
struct Answer {
    bytes: Vec<u8>,
    last_bits: u8,
    delay_fc: u64,
}

/// Several PICCs answering at once: identical answers superpose cleanly; otherwise the first
/// differing bit (counted from bit `offset` of the first FIFO byte) is a collision, and the
/// chip keeps the bits before it. Returns the merged answer and the collision's bit index.
fn superpose(answers: Vec<Answer>, offset: usize) -> Option<(Answer, Option<usize>)> {
    let mut it = answers.into_iter();
    let first = it.next()?;
    let mut at: Option<usize> = None;
    let bit = |a: &Answer, i: usize| a.bytes.get(i / 8).map(|b| b >> (i % 8) & 1);
    for other in it {
        let n = first.bytes.len().max(other.bytes.len()) * 8;
        if let Some(i) = (offset..n).find(|&i| bit(&first, i) != bit(&other, i)) {
            at = Some(at.map_or(i, |a| a.min(i)));
        }
    }
    Some((first, at))
}

trait Picc {
    fn tech(&self) -> Tech;
    fn power(&mut self, on: bool);
    /// The bit rate codes (PCD → PICC, PICC → PCD) the PICC currently uses.
    fn rates(&self) -> (u8, u8) {
        (0, 0)
    }
    /// A frame received on air (`bits` bits, CRC included when the PCD sent one).
    fn receive(&mut self, frame: &[u8], bits: usize) -> Option<Answer>;
}

/// The APDU application: READ BINARY (B0) returns Le pattern bytes, UPDATE BINARY (D6)
/// stores its data, GET DATA (CA) returns (length, sum) of what was stored.
#[derive(Default)]
struct App {
    stored: Vec<u8>,
}

impl App {
    fn apdu(&mut self, c: &[u8]) -> Vec<u8> {
        if c.len() < 4 {
            return vec![0x67, 0x00];
        }
        match c[1] {
            0xB0 => {
                let le = match c.get(4) {
                    Some(0) | None => 256,
                    Some(&n) => n as usize,
                };
                let mut r: Vec<u8> = (0..le).map(|i| (i * 7 + 3) as u8).collect();
                r.extend_from_slice(&[0x90, 0x00]);
                r
            }
            0xD6 => {
                // Short or extended Lc.
                let data =
                    if c.get(4) == Some(&0) && c.len() > 7 { &c[7..] } else { c.get(5..).unwrap_or(&[]) };
                self.stored = data.to_vec();
                vec![0x90, 0x00]
            }
            0xCA => {
                let sum: u32 = self.stored.iter().map(|&b| b as u32).sum();
                let len = self.stored.len() as u16;
                let mut r = len.to_be_bytes().to_vec();
                r.extend_from_slice(&(sum as u16).to_be_bytes());
                r.extend_from_slice(&[0x90, 0x00]);
                r
            }
            _ => vec![0x6D, 0x00],
        }
    }
}

/// The PICC side of ISO/IEC 14443-4.
struct IsoDepPicc {
    fsd: usize,
    /// PICC block number (starts at 1, toggled on each received I-block: Rule D).
    bn: bool,
    cid: Option<u8>,
    rx_chain: Vec<u8>,
    /// The response still to send when chaining, and the last block sent.
    tx_rest: Vec<u8>,
    last: Vec<u8>,
    app: App,
}

impl IsoDepPicc {
    fn new() -> Self {
        Self {
            fsd: 256,
            bn: true,
            cid: None,
            rx_chain: Vec::new(),
            tx_rest: Vec::new(),
            last: Vec::new(),
            app: App::default(),
        }
    }

    fn reset(&mut self, fsd: usize, cid: Option<u8>) {
        *self = Self { fsd, cid, app: std::mem::take(&mut self.app), ..Self::new() };
    }

    fn prologue(&self, pcb: u8) -> Vec<u8> {
        match self.cid {
            Some(c) => vec![pcb | 0x08, c],
            None => vec![pcb],
        }
    }

    /// The next I-block of the response (chained if it does not fit FSD).
    fn next_i_block(&mut self) -> Vec<u8> {
        let head = if self.cid.is_some() { 2 } else { 1 };
        let room = self.fsd - head - 2;
        let chaining = self.tx_rest.len() > room;
        let n = self.tx_rest.len().min(room);
        let mut pcb = 0x02 | self.bn as u8;
        if chaining {
            pcb |= 0x10;
        }
        let mut b = self.prologue(pcb);
        b.extend(self.tx_rest.drain(..n));
        b
    }

    fn block(&mut self, frame: &[u8]) -> Option<Vec<u8>> {
        let pcb = *frame.first()?;
        let has_cid = pcb & 0x08 != 0;
        let inf = frame.get(if has_cid { 2 } else { 1 }..)?;
        if has_cid != self.cid.is_some() {
            return None;
        }
        let out = match pcb & 0xC0 {
            0x00 => {
                // I-block (Rule D: toggle, then answer with our block number).
                let bn = pcb & 1 != 0;
                if bn == self.bn {
                    // A repeat of a block we already acknowledged: the PCD missed our answer.
                    return Some(self.last.clone());
                }
                self.bn = bn;
                self.rx_chain.extend_from_slice(inf);
                if pcb & 0x10 != 0 {
                    self.prologue(0xA2 | self.bn as u8)
                } else {
                    let cmd = std::mem::take(&mut self.rx_chain);
                    self.tx_rest = self.app.apdu(&cmd);
                    self.next_i_block()
                }
            }
            0x80 => {
                // R-block.
                let bn = pcb & 1 != 0;
                let nak = pcb & 0x10 != 0;
                if bn == self.bn {
                    return Some(self.last.clone()); // Rule 11
                }
                if nak {
                    return Some(self.prologue(0xA2 | self.bn as u8)); // Rule 12
                }
                if self.tx_rest.is_empty() {
                    return Some(self.last.clone());
                }
                self.bn = bn; // Rule 13: continue chaining
                self.next_i_block()
            }
            _ => {
                // S-block: DESELECT answered, WTX ignored here.
                if pcb & 0x30 == 0x00 {
                    self.prologue(0xC2)
                } else {
                    return None;
                }
            }
        };
        self.last = out.clone();
        Some(out)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Off,
    Idle,
    Ready,
    Active,
    Protocol,
    Halt,
}

/// A 4-byte-UID Type A PICC, ISO/IEC 14443-4 compliant (SAK 20), ATS with TA(1) = 424 both ways.
struct TypeAPicc {
    uid: [u8; 4],
    state: State,
    rates: (u8, u8),
    dep: IsoDepPicc,
}

impl TypeAPicc {
    fn new(uid: [u8; 4]) -> Self {
        Self { uid, state: State::Off, rates: (0, 0), dep: IsoDepPicc::new() }
    }
    fn cl(&self) -> [u8; 5] {
        let u = self.uid;
        [u[0], u[1], u[2], u[3], u[0] ^ u[1] ^ u[2] ^ u[3]]
    }
}

const FDT_A: u64 = 1236;
const TR_B: u64 = 2048;

impl Picc for TypeAPicc {
    fn tech(&self) -> Tech {
        Tech::A
    }
    fn power(&mut self, on: bool) {
        self.state = if on { State::Idle } else { State::Off };
        self.rates = (0, 0);
    }
    fn rates(&self) -> (u8, u8) {
        self.rates
    }
    fn receive(&mut self, frame: &[u8], bits: usize) -> Option<Answer> {
        let ans = |bytes: Vec<u8>| Some(Answer { bytes, last_bits: 0, delay_fc: FDT_A });
        if bits == 7 {
            let wake = frame.first() == Some(&0x52);
            let req = frame.first() == Some(&0x26);
            return match self.state {
                State::Idle if wake || req => {
                    self.state = State::Ready;
                    ans(vec![0x04, 0x00])
                }
                State::Halt if wake => {
                    self.state = State::Ready;
                    ans(vec![0x04, 0x00])
                }
                _ => None,
            };
        }
        match self.state {
            State::Ready if frame.first() == Some(&0x93) => {
                let nvb = *frame.get(1)?;
                if nvb == 0x70 {
                    let body = strip_crc(Tech::A, frame)?;
                    if body[2..7] != self.cl() {
                        return None;
                    }
                    self.state = State::Active;
                    return ans(with_crc(Tech::A, &[0x20]));
                }
                // Anticollision: answer the UID CL1 bits after the ones the PCD sent, the first
                // landing at bit (bits % 8) of the first FIFO byte.
                let known = bits - 16;
                let cl = self.cl();
                if frame[2..].iter().zip(&cl).enumerate().any(|(i, (a, b))| {
                    let n = (known.saturating_sub(i * 8)).min(8);
                    n > 0 && (a ^ b) & ((1u16 << n) - 1) as u8 != 0
                }) {
                    return None;
                }
                let offset = known % 8;
                let mut out = cl[known / 8..].to_vec();
                out[0] &= !((1u16 << offset) - 1) as u8;
                Some(Answer { bytes: out, last_bits: 0, delay_fc: FDT_A })
            }
            State::Active => {
                let body = strip_crc(Tech::A, frame)?;
                match body {
                    [0xE0, param] => {
                        let fsd = shikaku_firmware::nfc::frontend::frame_size_from_index(param >> 4) as usize;
                        self.dep.reset(fsd, Some(param & 0x0F).filter(|&c| c != 0));
                        self.state = State::Protocol;
                        // TL T0(FSCI 8, TA TB TC) TA: 212/424 both ways, TB: FWI 8, TC: CID.
                        ans(with_crc(Tech::A, &[0x05, 0x78, 0x33, 0x80, 0x02]))
                    }
                    [0x50, 0x00] => {
                        self.state = State::Halt;
                        None
                    }
                    _ => None,
                }
            }
            State::Protocol => {
                let body = strip_crc(Tech::A, frame)?;
                if body.first().map(|p| p & 0xF0) == Some(0xD0) && body.len() == 3 {
                    let ppss = body[0];
                    let out = with_crc(Tech::A, &[ppss]);
                    // The new rates apply after the PPS response.
                    self.rates = (body[2] & 0x03, (body[2] >> 2) & 0x03);
                    return ans(out);
                }
                let r = self.dep.block(body)?;
                ans(with_crc(Tech::A, &r))
            }
            _ => None,
        }
    }
}

/// A Type B PICC like the My Number card: ATQB protocol info `B3 <fsci>1 A1`.
struct TypeBPicc {
    pupi: [u8; 4],
    fsci: u8,
    state: State,
    rates: (u8, u8),
    dep: IsoDepPicc,
}

impl TypeBPicc {
    fn new(fsci: u8) -> Self {
        Self {
            pupi: [0x1C, 0x2D, 0x3E, 0x4F],
            fsci,
            state: State::Off,
            rates: (0, 0),
            dep: IsoDepPicc::new(),
        }
    }
}

impl Picc for TypeBPicc {
    fn tech(&self) -> Tech {
        Tech::B
    }
    fn power(&mut self, on: bool) {
        self.state = if on { State::Idle } else { State::Off };
        self.rates = (0, 0);
    }
    fn rates(&self) -> (u8, u8) {
        self.rates
    }
    fn receive(&mut self, frame: &[u8], _bits: usize) -> Option<Answer> {
        let body = strip_crc(Tech::B, frame)?;
        let ans = |b: &[u8]| Some(Answer { bytes: with_crc(Tech::B, b), last_bits: 0, delay_fc: TR_B });
        match (self.state, body) {
            (State::Idle | State::Ready, [0x05, _afi, param])
                if param & 0x08 != 0 || self.state == State::Idle =>
            {
                self.state = State::Ready;
                let p = self.pupi;
                ans(&[0x50, p[0], p[1], p[2], p[3], 0, 0, 0, 0, 0xB3, (self.fsci << 4) | 0x01, 0xA1])
            }
            (State::Ready, [0x1D, p0, p1, p2, p3, _param1, param2, _param3, param4]) => {
                if [*p0, *p1, *p2, *p3] != self.pupi {
                    return None;
                }
                let fsd = shikaku_firmware::nfc::frontend::frame_size_from_index(param2 & 0x0F) as usize;
                let cid = param4 & 0x0F;
                self.dep.reset(fsd, Some(cid).filter(|&c| c != 0));
                self.state = State::Protocol;
                let out = ans(&[cid]);
                self.rates = ((param2 >> 4) & 0x03, (param2 >> 6) & 0x03);
                out
            }
            (State::Protocol, _) => {
                let r = self.dep.block(body)?;
                ans(&r)
            }
            _ => None,
        }
    }
}

/// A raw Type B responder for FIFO tests: answers `[n_hi, n_lo]` with n pattern bytes.
struct EchoPicc;

impl Picc for EchoPicc {
    fn tech(&self) -> Tech {
        Tech::B
    }
    fn power(&mut self, _on: bool) {}
    fn receive(&mut self, frame: &[u8], _bits: usize) -> Option<Answer> {
        let body = strip_crc(Tech::B, frame)?;
        let n = u16::from_be_bytes([*body.first()?, *body.get(1)?]) as usize;
        let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        Some(Answer { bytes: with_crc(Tech::B, &data), last_bits: 0, delay_fc: TR_B })
    }
}

// ---------------------------------------------------------------------------------------------
// The chip.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Drop,
    Corrupt,
}

#[derive(Debug)]
enum Phase {
    Idle,
    /// Sending: bytes taken from the FIFO so far, bytes and bits to send, CRC to append.
    Tx {
        sent: Vec<u8>,
        need: usize,
        bits: usize,
        crc: bool,
        next_fc: u64,
    },
    /// Waiting for the answer (or the no-response timer).
    Wait {
        answer: Option<(u64, Answer)>,
        nrt_at: Option<u64>,
        answer_rate: u8,
    },
    /// Receiving `data` byte by byte.
    Rx {
        data: Vec<u8>,
        last_bits: u8,
        pos: usize,
        next_fc: u64,
        bad_rate: bool,
    },
}

struct Chip {
    regs: [u8; 64],
    fifo: VecDeque<u8>,
    fifo_ovr: bool,
    fifo_unf: bool,
    fifo_lb: u8,
    irq: u32,
    timers: Vec<(u64, u32)>,
    now: u64,
    phase: Phase,
    powered: bool,
    piccs: Vec<Box<dyn Picc>>,
    /// Collision of the answer being received: bit index in the FIFO numbering.
    collision: Option<usize>,
    /// Bits the PCD sent in the last frame (for the collision display register).
    tx_bits: usize,
    answers: u64,
    faults: BTreeMap<u64, Fault>,
    /// Frames on air, PCD → PICC (`true`) and PICC → PCD.
    air: Vec<(bool, Vec<u8>)>,
    /// The IRQ line is broken (never goes high).
    dead_irq: bool,
    ic_identity: u8,
    spi_transactions: u64,
}

impl Chip {
    fn new(picc: Box<dyn Picc>) -> Self {
        Self::with_piccs(vec![picc])
    }

    fn with_piccs(piccs: Vec<Box<dyn Picc>>) -> Self {
        let mut c = Self {
            regs: [0; 64],
            fifo: VecDeque::new(),
            fifo_ovr: false,
            fifo_unf: false,
            fifo_lb: 0,
            irq: 0,
            timers: Vec::new(),
            now: 0,
            phase: Phase::Idle,
            powered: false,
            piccs,
            collision: None,
            tx_bits: 0,
            answers: 0,
            faults: BTreeMap::new(),
            air: Vec::new(),
            dead_irq: false,
            ic_identity: 0x2A, // ic_type 5 (ST25R3916), revision 2
            spi_transactions: 0,
        };
        c.set_default();
        c
    }

    fn set_default(&mut self) {
        self.regs = [0; 64];
        self.regs[MODE as usize] = MODE_OM_ISO14443A;
        // Every interrupt masked after reset.
        for r in IRQ_MASK_MAIN..=IRQ_MASK_TARGET {
            self.regs[r as usize] = 0xFF;
        }
        self.fifo.clear();
        self.irq = 0;
        self.phase = Phase::Idle;
        self.set_field(false);
    }

    fn masks(&self) -> u32 {
        u32::from_le_bytes([
            self.regs[IRQ_MASK_MAIN as usize],
            self.regs[IRQ_MASK_TIMER_NFC as usize],
            self.regs[IRQ_MASK_ERROR_WUP as usize],
            self.regs[IRQ_MASK_TARGET as usize],
        ])
    }

    fn irq_line(&self) -> bool {
        !self.dead_irq && self.irq & !self.masks() != 0
    }

    fn set_field(&mut self, on: bool) {
        if on != self.powered {
            self.powered = on;
            for p in &mut self.piccs {
                p.power(on);
            }
        }
    }

    fn etu(&self, code: u8) -> u64 {
        128 >> code.min(3)
    }

    fn byte_fc(&self, code: u8) -> u64 {
        let bits = if self.picc_tech_selected() == Some(Tech::A) { 9 } else { 10 };
        bits * self.etu(code)
    }

    fn tx_code(&self) -> u8 {
        (self.regs[BIT_RATE as usize] >> 4) & 0x03
    }

    fn rx_code(&self) -> u8 {
        self.regs[BIT_RATE as usize] & 0x03
    }

    /// The technology the mode register selects (initiator, OOK for A, AM for B).
    fn picc_tech_selected(&self) -> Option<Tech> {
        let m = self.regs[MODE as usize];
        if m & MODE_TARG != 0 {
            return None;
        }
        match (m & MODE_OM_MASK, m & MODE_TR_AM != 0) {
            (MODE_OM_ISO14443A, false) => Some(Tech::A),
            (MODE_OM_ISO14443B, true) => Some(Tech::B),
            _ => None,
        }
    }

    fn nrt_fc(&self) -> Option<u64> {
        let v = u16::from_be_bytes([
            self.regs[NO_RESPONSE_TIMER1 as usize],
            self.regs[NO_RESPONSE_TIMER2 as usize],
        ]);
        if v == 0 {
            return None;
        }
        let step = if self.regs[TIMER_EMV_CONTROL as usize] & TIMER_NRT_STEP_4096 != 0 { 4096 } else { 64 };
        Some(v as u64 * step)
    }

    fn read(&mut self, addr: u8) -> u8 {
        match addr {
            IRQ_MAIN..=IRQ_TARGET => {
                let shift = 8 * (addr - IRQ_MAIN) as u32;
                let v = (self.irq >> shift) as u8;
                self.irq &= !(0xFF << shift);
                v
            }
            FIFO_STATUS1 => self.fifo.len() as u8,
            FIFO_STATUS2 => {
                (((self.fifo.len() >> 8) as u8) << 6)
                    | if self.fifo_unf { FIFO2_UNF } else { 0 }
                    | if self.fifo_ovr { FIFO2_OVR } else { 0 }
                    | (self.fifo_lb << 1)
            }
            AUX_DISPLAY => {
                if self.regs[OP_CONTROL as usize] & OP_EN != 0 {
                    AUX_DISPLAY_OSC_OK
                } else {
                    0
                }
            }
            IC_IDENTITY => self.ic_identity,
            a => self.regs[a as usize],
        }
    }

    fn write(&mut self, addr: u8, v: u8) {
        match addr {
            IRQ_MAIN..=FIFO_STATUS2 | COLLISION_STATUS | AUX_DISPLAY | IC_IDENTITY => {} // read only
            OP_CONTROL => {
                let old = self.regs[OP_CONTROL as usize];
                self.regs[OP_CONTROL as usize] = v;
                if old & OP_EN == 0 && v & OP_EN != 0 {
                    self.timers.push((self.now + 9_500, I_OSC)); // ~700 µs
                }
                self.set_field(v & OP_EN != 0 && v & OP_TX_EN != 0);
            }
            a => self.regs[a as usize] = v,
        }
    }

    fn command(&mut self, c: u8) {
        match c {
            cmd::SET_DEFAULT => self.set_default(),
            cmd::STOP => {
                self.phase = Phase::Idle;
                self.fifo.clear();
                self.fifo_ovr = false;
                self.fifo_unf = false;
            }
            cmd::CLEAR_FIFO => {
                self.fifo.clear();
                self.fifo_ovr = false;
                self.fifo_unf = false;
                self.fifo_lb = 0;
                self.regs[COLLISION_STATUS as usize] = 0;
                self.irq = 0;
            }
            cmd::ADJUST_REGULATORS => self.timers.push((self.now + 4_000, I_DCT)),
            cmd::TRANSMIT_WITH_CRC | cmd::TRANSMIT_WITHOUT_CRC => {
                let ntx = ((self.regs[NUM_TX_BYTES1 as usize] as usize) << 5)
                    | (self.regs[NUM_TX_BYTES2 as usize] >> 3) as usize;
                let nbtx = (self.regs[NUM_TX_BYTES2 as usize] & 7) as usize;
                let bits = ntx * 8 + nbtx;
                self.phase = Phase::Tx {
                    sent: Vec::new(),
                    need: bits.div_ceil(8),
                    bits,
                    crc: c == cmd::TRANSMIT_WITH_CRC,
                    next_fc: self.now + 4 * self.etu(self.tx_code()),
                };
            }
            cmd::TRANSMIT_REQA | cmd::TRANSMIT_WUPA => {
                let code = if c == cmd::TRANSMIT_REQA { 0x26 } else { 0x52 };
                self.phase =
                    Phase::Tx { sent: vec![code], need: 1, bits: 7, crc: false, next_fc: self.now + 9 * 128 };
            }
            _ => {}
        }
    }

    /// The end of a transmission: the frame goes on air to the PICC.
    fn end_tx(&mut self, mut frame: Vec<u8>, bits: usize, crc_on: bool, at: u64) {
        self.irq |= I_TXE;
        let mut bits = bits;
        if crc_on {
            if let Some(t) = self.picc_tech_selected() {
                let c = crc(t, &frame);
                frame.extend_from_slice(&c);
                bits += 16;
            }
        }
        self.air.push((true, frame.clone()));
        self.tx_bits = bits;
        // Every powered PICC of the selected technology that decodes the frame at its bit rate
        // may answer; the answers go back at the rate in force when the frame was received
        // (the new rates of ATTRIB / PPS apply after their answer).
        let (selected, tx_code, ok) =
            (self.picc_tech_selected(), self.tx_code(), self.powered && !self.fifo_unf);
        let mut answers = Vec::new();
        let mut answer_rate = 0;
        for p in &mut self.piccs {
            if ok && selected == Some(p.tech()) && p.rates().0 == tx_code {
                let rate = p.rates().1;
                if let Some(a) = p.receive(&frame, bits) {
                    answer_rate = rate;
                    answers.push(a);
                }
            }
        }
        let antcl = self.regs[ISO14443A_NFC as usize] & ISO14443A_ANTCL != 0;
        let merged = superpose(answers, if antcl { bits % 8 } else { 0 });
        self.collision = merged.as_ref().and_then(|m| m.1);
        let answer = merged.map(|m| m.0);
        let answer = answer.and_then(|mut a| {
            let n = self.answers;
            self.answers += 1;
            match self.faults.get(&n) {
                Some(Fault::Drop) => None,
                Some(Fault::Corrupt) => {
                    if let Some(b) = a.bytes.last_mut() {
                        *b ^= 0x5A;
                    }
                    Some(a)
                }
                None => Some(a),
            }
        });
        let nrt_at = self.nrt_fc().map(|n| at + n);
        self.phase = Phase::Wait { answer: answer.map(|a| (at + a.delay_fc, a)), nrt_at, answer_rate };
    }

    /// Runs the chip's state machine up to `until`.
    fn advance(&mut self, until: u64) {
        loop {
            // Timers that fire first.
            let next_timer = self.timers.iter().map(|t| t.0).min();
            let next_phase = match &self.phase {
                Phase::Idle => None,
                Phase::Tx { next_fc, .. } => Some(*next_fc),
                Phase::Wait { answer, nrt_at, .. } => {
                    [answer.as_ref().map(|a| a.0), *nrt_at].into_iter().flatten().min()
                }
                Phase::Rx { next_fc, .. } => Some(*next_fc),
            };
            let next = [next_timer, next_phase].into_iter().flatten().min();
            let Some(t) = next.filter(|&t| t <= until) else { break };
            self.now = t;
            if next_timer == Some(t) {
                let fired: Vec<u32> = self.timers.iter().filter(|x| x.0 == t).map(|x| x.1).collect();
                self.timers.retain(|x| x.0 != t);
                for f in fired {
                    self.irq |= f;
                }
                continue;
            }
            let phase = std::mem::replace(&mut self.phase, Phase::Idle);
            self.phase = match phase {
                Phase::Tx { mut sent, need, bits, crc, .. } if sent.len() >= need => {
                    self.end_tx(std::mem::take(&mut sent), bits, crc, t);
                    continue;
                }
                Phase::Tx { mut sent, need, bits, crc, .. } => {
                    match self.fifo.pop_front() {
                        None => {
                            // FIFO underflow: the frame is cut short.
                            self.fifo_unf = true;
                            self.end_tx(sent, bits, crc, t);
                            continue;
                        }
                        Some(b) => sent.push(b),
                    }
                    let remaining = need - sent.len();
                    if self.fifo.len() == TX_WATER_LEVEL && remaining > self.fifo.len() {
                        self.irq |= I_WL;
                    }
                    let next_fc = t + self.byte_fc(self.tx_code());
                    Phase::Tx { sent, need, bits, crc, next_fc }
                }
                Phase::Wait { answer, nrt_at, answer_rate } => {
                    let answer_first = match (&answer, nrt_at) {
                        (Some((a, _)), Some(n)) => *a < n,
                        (Some(_), None) => true,
                        _ => false,
                    };
                    if answer_first {
                        let (_, a) = answer.expect("answer present");
                        self.irq |= I_RXS;
                        self.air.push((false, a.bytes.clone()));
                        let bad_rate = answer_rate != self.rx_code();
                        Phase::Rx { data: a.bytes, last_bits: a.last_bits, pos: 0, next_fc: t, bad_rate }
                    } else {
                        self.irq |= I_NRE;
                        Phase::Idle
                    }
                }
                Phase::Rx { data, last_bits, pos, bad_rate, .. } => {
                    if pos < data.len() {
                        if self.fifo.len() >= FIFO_DEPTH {
                            self.fifo_ovr = true;
                        } else {
                            self.fifo.push_back(data[pos]);
                            if self.fifo.len() == RX_WATER_LEVEL {
                                self.irq |= I_WL;
                            }
                        }
                        let next_fc = t + self.byte_fc(self.rx_code());
                        Phase::Rx { data, last_bits, pos: pos + 1, next_fc, bad_rate }
                    } else {
                        self.fifo_lb = last_bits;
                        if let Some(i) = self.collision.take() {
                            // Collision display: position counted from the start of the frame,
                            // the transmitted bits included.
                            let offset = if self.regs[ISO14443A_NFC as usize] & ISO14443A_ANTCL != 0 {
                                self.tx_bits % 8
                            } else {
                                0
                            };
                            let pos = self.tx_bits + i - offset;
                            self.regs[COLLISION_STATUS as usize] = (((pos / 8) as u8 & 0x0F)
                                << COLL_BYTE_SHIFT)
                                | (((pos % 8) as u8) << COLL_BIT_SHIFT);
                            self.irq |= I_COL;
                        }
                        if bad_rate {
                            self.irq |= I_ERR1;
                        } else if self.regs[AUX as usize] & AUX_NO_CRC_RX == 0 {
                            let t = self.picc_tech_selected().unwrap_or(Tech::B);
                            if strip_crc(t, &data).is_none() {
                                self.irq |= I_CRC;
                            }
                        }
                        self.irq |= I_RXE;
                        Phase::Idle
                    }
                }
                Phase::Idle => Phase::Idle,
            };
        }
        self.now = until.max(self.now);
    }

    fn spi(&mut self, ops: &mut [Operation<'_, u8>]) {
        self.spi_transactions += 1;
        let mut mode: Option<u8> = None;
        let mut addr = 0u8;
        let mut bytes = 0u64;
        for op in ops.iter_mut() {
            match op {
                Operation::Write(data) => {
                    for &b in data.iter() {
                        bytes += 1;
                        match mode {
                            None => {
                                mode = Some(b);
                                addr = b & ADDR_MASK;
                                if b & 0xC0 == 0xC0 {
                                    self.command(b);
                                }
                            }
                            Some(m) if m & 0xC0 == 0x00 => {
                                self.write(addr, b);
                                addr = (addr + 1) & ADDR_MASK;
                            }
                            Some(SPI_FIFO_LOAD) => {
                                if self.fifo.len() >= FIFO_DEPTH {
                                    self.fifo_ovr = true;
                                } else {
                                    self.fifo.push_back(b);
                                }
                            }
                            Some(_) => {}
                        }
                    }
                }
                Operation::Read(out) => {
                    for o in out.iter_mut() {
                        bytes += 1;
                        *o = match mode {
                            Some(m) if m & 0xC0 == 0x40 => {
                                let v = self.read(addr);
                                addr = (addr + 1) & ADDR_MASK;
                                v
                            }
                            Some(SPI_FIFO_READ) => match self.fifo.pop_front() {
                                Some(b) => b,
                                None => {
                                    self.fifo_unf = true;
                                    0
                                }
                            },
                            _ => 0,
                        };
                    }
                }
                Operation::Transfer(_, _) | Operation::TransferInPlace(_) => {
                    panic!("the driver only writes and reads")
                }
                Operation::DelayNs(ns) => {
                    let t = self.now + (*ns as u64 * 1356) / 100_000;
                    self.advance(t);
                }
            }
        }
        // 5 MHz SCLK: 1.6 µs (about 22 carrier cycles) per byte.
        let t = self.now + bytes * 22;
        self.advance(t);
    }
}

type Shared = Rc<RefCell<Chip>>;

struct Spi(Shared);
impl ErrorType for Spi {
    type Error = Infallible;
}
impl SpiDevice for Spi {
    fn transaction(&mut self, ops: &mut [Operation<'_, u8>]) -> Result<(), Infallible> {
        self.0.borrow_mut().spi(ops);
        Ok(())
    }
}

struct Irq(Shared);
impl PinErrorType for Irq {
    type Error = Infallible;
}
impl InputPin for Irq {
    fn is_high(&mut self) -> Result<bool, Infallible> {
        Ok(self.0.borrow().irq_line())
    }
    fn is_low(&mut self) -> Result<bool, Infallible> {
        Ok(!self.0.borrow().irq_line())
    }
}

struct Delay(Shared);
impl DelayNs for Delay {
    fn delay_ns(&mut self, ns: u32) {
        let mut c = self.0.borrow_mut();
        let t = c.now + (ns as u64 * 1356).div_ceil(100_000);
        c.advance(t);
    }
}

type Driver = St25r3916<Spi, Irq, Delay>;

fn rig(picc: Box<dyn Picc>) -> (Driver, Shared) {
    rig_with(vec![picc])
}

fn rig_with(piccs: Vec<Box<dyn Picc>>) -> (Driver, Shared) {
    let chip = Rc::new(RefCell::new(Chip::with_piccs(piccs)));
    let mut fe = St25r3916::new(Spi(chip.clone()), Irq(chip.clone()), Delay(chip.clone()));
    let id = fe.init().expect("init");
    assert_eq!(id, 0x2A);
    (fe, chip)
}

fn reg(chip: &Shared, addr: u8) -> u8 {
    chip.borrow().regs[addr as usize]
}

fn type_b_card(chip: &Shared, fe: &mut Driver) -> type_b::ActivatedB {
    let _ = chip;
    type_b::activate(fe, &type_b::ActivationConfig::default()).expect("type B activation")
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn init_sets_up_the_chip_and_rejects_a_foreign_one() {
    let (fe, chip) = rig(Box::new(EchoPicc));
    assert!(!fe.field());
    assert_eq!(reg(&chip, OP_CONTROL) & (OP_EN | OP_TX_EN), OP_EN, "oscillator on, field off");
    // I_osc, I_wl, I_rxs, I_rxe, I_txe, I_col, I_nre, I_dct and the error interrupts unmasked.
    let masks = chip.borrow().masks();
    for i in [I_OSC, I_WL, I_RXS, I_RXE, I_TXE, I_COL, I_NRE, I_CRC, I_PAR, I_ERR1] {
        assert_eq!(masks & i, 0, "interrupt {i:#x} masked");
    }
    assert_eq!(reg(&chip, MODE), MODE_OM_ISO14443B | MODE_TR_AM);

    let chip = Rc::new(RefCell::new(Chip::new(Box::new(EchoPicc))));
    chip.borrow_mut().ic_identity = 0x11;
    let mut fe = St25r3916::new(Spi(chip.clone()), Irq(chip.clone()), Delay(chip.clone()));
    assert_eq!(fe.init(), Err(FrontendError::Hardware));
}

#[test]
fn type_a_activation_with_anticollision_rats_and_pps() {
    let (mut fe, chip) = rig(Box::new(TypeAPicc::new([0x08, 0x12, 0x34, 0x56])));
    let config =
        type_a::ActivationConfig { max_bit_rate: BitRate::Kbps424, cid: Some(1), ..Default::default() };
    let card = type_a::activate(&mut fe, &config).expect("type A activation");
    assert_eq!(card.uid.as_bytes(), &[0x08, 0x12, 0x34, 0x56]);
    assert!(card.sak.iso_dep());
    assert_eq!(card.params.fsc, 256);
    assert_eq!(card.params.cid, Some(1));
    assert_eq!((card.pcd_to_picc, card.picc_to_pcd), (BitRate::Kbps424, BitRate::Kbps424));
    // The chip is in ISO 14443A initiator mode with OOK, at 424 kbit/s both ways.
    assert_eq!(reg(&chip, MODE), MODE_OM_ISO14443A);
    assert_eq!(reg(&chip, BIT_RATE), 0x22);
    {
        let c = chip.borrow();
        // WUPA as a short frame, then a bit-oriented anticollision frame (no CRC on air).
        assert_eq!(c.air[0], (true, vec![0x52]));
        assert_eq!(c.air[2], (true, vec![0x93, 0x20]));
        assert_eq!(c.air[3], (false, vec![0x08, 0x12, 0x34, 0x56, 0x08 ^ 0x12 ^ 0x34 ^ 0x56]));
        // SELECT with CRC_A appended by the chip.
        assert_eq!(
            c.air[4].1,
            with_crc(Tech::A, &[0x93, 0x70, 0x08, 0x12, 0x34, 0x56, 0x08 ^ 0x12 ^ 0x34 ^ 0x56])
        );
    }
    // ISO-DEP runs on top, at 424 kbit/s.
    let mut link = IsoDep::new(&mut fe, card.params);
    let mut resp = [0u8; 300];
    let n = link.exchange(&[0x00, 0xB0, 0x00, 0x00, 0x10], &mut resp).expect("read");
    assert_eq!(n, 18);
    assert_eq!(&resp[16..18], &[0x90, 0x00]);
}

#[test]
fn type_b_activation_at_the_best_common_bit_rate() {
    let (mut fe, chip) = rig(Box::new(TypeBPicc::new(8)));
    let card = type_b_card(&chip, &mut fe);
    assert_eq!(card.atqb.pupi, [0x1C, 0x2D, 0x3E, 0x4F]);
    assert_eq!(card.params.fsc, 256);
    assert_eq!(card.params.fwi, 10);
    assert_eq!(reg(&chip, MODE), MODE_OM_ISO14443B | MODE_TR_AM, "ISO 14443B with AM modulation");
    let expect = (card.pcd_to_picc.code() << 4) | card.picc_to_pcd.code();
    assert_eq!(reg(&chip, BIT_RATE), expect);
    assert_eq!(card.pcd_to_picc, BitRate::Kbps424, "B3: 212/424 both ways, capped at 424");
    assert!(fe.field());
    {
        let c = chip.borrow();
        // WUPB with CRC_B appended by the chip.
        assert_eq!(strip_crc(Tech::B, &c.air[0].1), Some(&[0x05, 0x00, 0x18][..]));
    }
    // The card understands us only because the chip was switched to the negotiated rate.
    let mut link = IsoDep::new(&mut fe, card.params);
    let mut resp = [0u8; 300];
    let n = link.exchange(&[0x00, 0xB0, 0x00, 0x00, 0x04], &mut resp).expect("read");
    assert_eq!(&resp[..n], &[3, 10, 17, 24, 0x90, 0x00]);
    link.deselect().expect("deselect");
    fe.field_off().unwrap();
    assert_eq!(reg(&chip, OP_CONTROL) & OP_TX_EN, 0);
    assert!(!chip.borrow().powered);
}

#[test]
fn wrong_bit_rate_is_a_framing_error_and_no_answer() {
    let (mut fe, chip) = rig(Box::new(TypeBPicc::new(8)));
    let card = type_b_card(&chip, &mut fe);
    // Switch the chip back to 106 kbit/s behind the card's back: the card hears noise.
    fe.configure(shikaku_firmware::nfc::Technology::TypeB, BitRate::Kbps106, BitRate::Kbps106).unwrap();
    let mut rx = [0u8; 64];
    let r = fe.transceive(&[0x02, 0x00, 0xB0, 0x00, 0x00, 0x01], &mut rx, fwt_from_fwi(card.params.fwi));
    assert_eq!(r, Err(FrontendError::Timeout));
    // Only the receive side wrong: the answer comes at the wrong rate.
    let (tx, _) = (card.pcd_to_picc, card.picc_to_pcd);
    fe.configure(shikaku_firmware::nfc::Technology::TypeB, tx, BitRate::Kbps106).unwrap();
    let r = fe.transceive(&[0x02, 0x00, 0xB0, 0x00, 0x00, 0x01], &mut rx, fwt_from_fwi(card.params.fwi));
    assert_eq!(r, Err(FrontendError::Framing));
}

#[test]
fn chained_transfer_both_ways_over_the_driver_and_the_model() {
    // FSCI 2: the card takes 32-byte frames, so a 200-byte command is chained by the PCD; a
    // 256-byte read is chained back by the card (FSD 256).
    let (mut fe, chip) = rig(Box::new(TypeBPicc::new(2)));
    let card = type_b_card(&chip, &mut fe);
    assert_eq!(card.params.fsc, 32);
    let mut link = IsoDep::new(&mut fe, card.params);
    let data: Vec<u8> = (0..200u32).map(|i| (i * 13 + 1) as u8).collect();
    let mut cmd = vec![0x00, 0xD6, 0x00, 0x00, data.len() as u8];
    cmd.extend_from_slice(&data);
    let mut resp = [0u8; 300];
    let n = link.exchange(&cmd, &mut resp).expect("update");
    assert_eq!(&resp[..n], &[0x90, 0x00]);
    let n = link.exchange(&[0x00, 0xCA, 0x00, 0x00, 0x04], &mut resp).expect("get data");
    let sum: u32 = data.iter().map(|&b| b as u32).sum();
    assert_eq!(&resp[..n], &[0, 200, (sum >> 8) as u8, sum as u8, 0x90, 0x00]);
    let n = link.exchange(&[0x00, 0xB0, 0x00, 0x00, 0x00], &mut resp).expect("read 256");
    assert_eq!(n, 258);
    assert!(resp[..256].iter().enumerate().all(|(i, &b)| b == (i * 7 + 3) as u8));
    let c = chip.borrow();
    let pcd_chained = c
        .air
        .iter()
        .filter(|(pcd, f)| *pcd && f.len() > 3 && f[0] & 0xF0 == 0x10 && f[0] & 0x02 != 0)
        .count();
    let picc_chained = c
        .air
        .iter()
        .filter(|(pcd, f)| !*pcd && f.len() > 3 && f[0] & 0xF0 == 0x10 && f[0] & 0x02 != 0)
        .count();
    assert!(pcd_chained >= 6, "200 bytes in 32-byte frames: {pcd_chained} chained I-blocks");
    assert_eq!(picc_chained, 1, "258 bytes with FSD 256: one chained block then the last");
    assert!(c.air.iter().all(|(pcd, f)| !*pcd || f.len() <= 32), "no PCD frame beyond FSC");
}

#[test]
fn frames_beyond_the_fifo_use_the_water_levels() {
    // ISO-DEP frames stay within FSD/FSC 256, but the chip is not limited to that: a 700-byte
    // frame goes out refilled at the TX water level (512 loaded, then topped up at 200 left).
    let (mut fe, chip) = rig(Box::new(EchoPicc));
    fe.field_on().unwrap();
    let mut long = vec![0u8; 700];
    long[1] = 8;
    for (i, b) in long.iter_mut().enumerate().skip(2) {
        *b = (i * 5) as u8;
    }
    let mut rx = [0u8; 16];
    assert_eq!(fe.transceive(&long, &mut rx, Timeout::from_micros(5_000)), Ok(8));
    assert!(fe.stats().tx_refills >= 1, "{:?}", fe.stats());
    assert_eq!(chip.borrow().air[0].1, with_crc(Tech::B, &long), "the whole frame went on air, in order");

    // A 700-byte answer is drained at the RX water level; too small a buffer is an overflow.
    let mut rx = vec![0u8; 1024];
    let n = fe.transceive(&[0x02, 0xBC], &mut rx, Timeout::from_micros(5_000)).expect("long answer");
    assert_eq!(n, 700);
    assert!(rx[..700].iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    assert!(fe.stats().rx_drains >= 1);
    let mut small = [0u8; 100];
    assert_eq!(
        fe.transceive(&[0x02, 0xBC], &mut small, Timeout::from_micros(5_000)),
        Err(FrontendError::Overflow)
    );
    // Exactly fitting (the CRC spills past the buffer and is stripped).
    let mut exact = [0u8; 100];
    assert_eq!(fe.transceive(&[0x00, 100], &mut exact, Timeout::from_micros(5_000)), Ok(100));
}

#[test]
fn no_answer_is_a_timeout_from_the_no_response_timer() {
    let (mut fe, chip) = rig(Box::new(TypeBPicc::new(8)));
    let card = type_b_card(&chip, &mut fe);
    let next = chip.borrow().answers;
    chip.borrow_mut().faults.insert(next, Fault::Drop);
    let mut rx = [0u8; 64];
    let t0 = chip.borrow().now;
    let r = fe.transceive(&[0x02, 0x00, 0xB0, 0x00, 0x00, 0x01], &mut rx, Timeout::from_micros(5_000));
    assert_eq!(r, Err(FrontendError::Timeout));
    let elapsed = chip.borrow().now - t0;
    // 5 ms in 64/fc steps: ceil(67800 / 64) = 1060.
    assert_eq!(u16::from_be_bytes([reg(&chip, NO_RESPONSE_TIMER1), reg(&chip, NO_RESPONSE_TIMER2)]), 1060);
    assert_eq!(reg(&chip, TIMER_EMV_CONTROL) & TIMER_NRT_STEP_4096, 0);
    assert!((67_800..67_800 + 13_560).contains(&elapsed), "timed out after {elapsed} fc");
    assert_eq!(fe.stats().timeouts, 1);

    // A long FWT needs the 4096/fc step.
    let next = chip.borrow().answers;
    chip.borrow_mut().faults.insert(next, Fault::Drop);
    let fwt = fwt_from_fwi(14);
    assert_eq!(fe.transceive(&[0xB2], &mut rx, fwt), Err(FrontendError::Timeout));
    assert_ne!(reg(&chip, TIMER_EMV_CONTROL) & TIMER_NRT_STEP_4096, 0);
    assert_eq!(u16::from_be_bytes([reg(&chip, NO_RESPONSE_TIMER1), reg(&chip, NO_RESPONSE_TIMER2)]), 16384);

    // ISO-DEP recovers from a lost answer (R(NAK), then the card re-sends). The raw frames
    // above moved the card's block number: start from a fresh activation.
    fe.field_off().unwrap();
    let _ = card;
    let card = type_b_card(&chip, &mut fe);
    let mut link = IsoDep::new(&mut fe, card.params);
    let next = chip.borrow().answers;
    chip.borrow_mut().faults.insert(next, Fault::Drop);
    let mut resp = [0u8; 300];
    let n = link.exchange(&[0x00, 0xB0, 0x00, 0x00, 0x02], &mut resp).expect("recovered");
    assert_eq!(&resp[..n], &[3, 10, 0x90, 0x00]);
    assert_eq!(link.stats().transmission_errors, 1);
}

#[test]
fn corrupted_answer_is_a_crc_error_and_iso_dep_recovers() {
    let (mut fe, chip) = rig(Box::new(TypeBPicc::new(8)));
    let card = type_b_card(&chip, &mut fe);
    let mut link = IsoDep::new(&mut fe, card.params);
    let next = chip.borrow().answers;
    chip.borrow_mut().faults.insert(next, Fault::Corrupt);
    let mut resp = [0u8; 300];
    let n = link.exchange(&[0x00, 0xB0, 0x00, 0x00, 0x03], &mut resp).expect("recovered");
    assert_eq!(&resp[..n], &[3, 10, 17, 0x90, 0x00]);
    assert_eq!(link.stats().transmission_errors, 1);
    let _ = link;
    assert_eq!(fe.stats().crc_errors, 1);

    // At the frontend level: the chip flags I_crc and the driver reports it.
    let (mut fe, chip) = rig(Box::new(EchoPicc));
    fe.field_on().unwrap();
    chip.borrow_mut().faults.insert(0, Fault::Corrupt);
    let mut rx = [0u8; 64];
    assert_eq!(fe.transceive(&[0x00, 0x10], &mut rx, Timeout::from_micros(5_000)), Err(FrontendError::Crc));
    assert_eq!(fe.transceive(&[0x00, 0x10], &mut rx, Timeout::from_micros(5_000)), Ok(16));
}

#[test]
fn a_dead_irq_line_is_a_hardware_error_not_a_hang() {
    let (mut fe, chip) = rig(Box::new(EchoPicc));
    fe.field_on().unwrap();
    chip.borrow_mut().dead_irq = true;
    let mut rx = [0u8; 64];
    assert_eq!(
        fe.transceive(&[0x00, 0x10], &mut rx, Timeout::from_micros(5_000)),
        Err(FrontendError::Hardware)
    );
    // Field off: nothing goes on air.
    chip.borrow_mut().dead_irq = false;
    fe.field_off().unwrap();
    assert_eq!(
        fe.transceive(&[0x00, 0x10], &mut rx, Timeout::from_micros(5_000)),
        Err(FrontendError::Timeout)
    );
}

#[test]
fn card_layer_reads_a_token_over_the_driver() {
    // The firmware's own Type B + ISO-DEP + ISO 7816 stack, as the session's card ops use it.
    use shikaku_card::apdu::ApduTransport;
    let (mut fe, _chip) = rig(Box::new(TypeBPicc::new(8)));
    let card = type_b::activate(&mut fe, &type_b::ActivationConfig::default()).unwrap();
    let mut link = IsoDep::new(fe, IsoDepParams { ..card.params });
    let mut out = [0u8; 40];
    let n = link.transceive(&[0x00, 0xB0, 0x00, 0x00, 0x20], &mut out).expect("apdu");
    assert_eq!(n, 34);
    assert_eq!(&out[32..34], &[0x90, 0x00]);
}

#[test]
fn two_type_a_cards_collide_and_anticollision_picks_one() {
    // UID CL1 bytes differ first in bit 2 of byte 1 (0x12 vs 0x16): a collision there.
    let (mut fe, chip) = rig_with(vec![
        Box::new(TypeAPicc::new([0x08, 0x12, 0x34, 0x56])),
        Box::new(TypeAPicc::new([0x08, 0x16, 0x99, 0x01])),
    ]);
    let card = type_a::activate(&mut fe, &type_a::ActivationConfig::default()).expect("one card selected");
    // The reader follows the `1` branch at the collision: the card with bit 2 set.
    assert_eq!(card.uid.as_bytes(), &[0x08, 0x16, 0x99, 0x01]);
    let c = chip.borrow();
    // After `93 20` collided at UID bit 10, the PCD sent NVB 0x33 (SEL, NVB, one UID byte and
    // 3 bits): the 11 known bits, bit 10 set to 1.
    assert_eq!(c.air[2], (true, vec![0x93, 0x20]));
    assert_eq!(c.air[4].1[..2], [0x93, 0x33], "{:?}", c.air);
    assert_eq!(c.air[4].1[2], 0x08);
    assert_eq!(c.air[4].1[3] & 0x07, 0x06);
    // Only the selected card answers RATS.
    assert_eq!(card.params.fsc, 256);
}
