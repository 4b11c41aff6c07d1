//! What both scenario targets share: the input decoder, a deterministic TRNG, the reader's
//! identity, the in-flight frame queues with their faults, and the attacker's frame builders.

use std::collections::VecDeque;

use shikaku_protocol::auth::{LinkKeys, PairingKey, Sealer};
use shikaku_protocol::endpoint::host::HostEndpoint;
use shikaku_protocol::endpoint::reader::{Entropy, Identity, ReaderEndpoint};
use shikaku_protocol::frame::{self, Frame, Header, HEADER_LEN};
use shikaku_protocol::message::{Capabilities, FirmwareVersion, Message};
use shikaku_protocol::{Instant, Link, Role, MAX_FRAME};

/// Reads the fuzz input as a script: bytes, little-endian integers, short byte strings.
/// Past the end everything reads as zero, so every input is a complete script.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 != 0
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        for b in &mut a {
            *b = self.u8();
        }
        a
    }
    /// A length byte, then that many bytes (fewer at the end of the input).
    pub fn bytes(&mut self) -> Vec<u8> {
        let n = (self.u8() as usize).min(self.data.len());
        let (b, rest) = self.data.split_at(n);
        self.data = rest;
        b.to_vec()
    }
}

/// Writes scripts for [`Input`] (seeds and tests).
#[derive(Default)]
pub struct Script(pub Vec<u8>);

impl Script {
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.push(b.len() as u8);
        self.0.extend_from_slice(b);
        self
    }
}

/// A deterministic stand-in for the reader's TRNG.
pub struct Counter(pub u8);
impl Entropy for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_mul(17).wrapping_add(29);
            *b = self.0;
        }
    }
}

pub fn identity_of_reader() -> Identity {
    Identity {
        firmware: FirmwareVersion { major: 0, minor: 1, patch: 0, build: "fuzz" },
        serial: "SK-FUZZ",
        model: "fuzz",
        capabilities: Capabilities(Capabilities::PIN_KEYPAD),
    }
}

/// Which way a frame travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    ToReader,
    ToHost,
}

impl Dir {
    pub fn of(b: bool) -> Self {
        if b {
            Dir::ToHost
        } else {
            Dir::ToReader
        }
    }
}

/// Frames in flight one way, and a record of what went that way (for replays).
#[derive(Default)]
pub struct Wire {
    pub in_flight: VecDeque<Vec<u8>>,
    pub history: VecDeque<Vec<u8>>,
}

/// Frames kept in flight per direction (more: the oldest is lost) and in the replay record.
const IN_FLIGHT: usize = 32;
const HISTORY: usize = 32;

impl Wire {
    pub fn send(&mut self, frame: Vec<u8>) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(frame.clone());
        if self.in_flight.len() == IN_FLIGHT {
            self.in_flight.pop_front();
        }
        self.in_flight.push_back(frame);
    }
    /// Puts bytes on the wire that no endpoint sent (not recorded for replay).
    pub fn inject(&mut self, bytes: Vec<u8>) {
        if self.in_flight.len() == IN_FLIGHT {
            self.in_flight.pop_front();
        }
        self.in_flight.push_back(bytes);
    }
    fn index(&self, i: u8) -> Option<usize> {
        (!self.in_flight.is_empty()).then(|| i as usize % self.in_flight.len())
    }
    pub fn take(&mut self, i: u8) -> Option<Vec<u8>> {
        let i = self.index(i)?;
        self.in_flight.remove(i)
    }
    pub fn duplicate(&mut self, i: u8) {
        if let Some(i) = self.index(i) {
            let f = self.in_flight[i].clone();
            self.inject(f);
        }
    }
    pub fn swap(&mut self, a: u8, b: u8) {
        if let (Some(a), Some(b)) = (self.index(a), self.index(b)) {
            self.in_flight.swap(a, b);
        }
    }
    /// Flips one bit of a frame in flight; with `fix_crc` the attacker makes the checksums
    /// right again, so only the AEAD (or the decoder) stands in the way.
    pub fn flip(&mut self, i: u8, bit: u16, fix_crc: bool) {
        if let Some(i) = self.index(i) {
            let f = &mut self.in_flight[i];
            if f.is_empty() {
                return;
            }
            let bit = bit as usize % (f.len() * 8);
            f[bit / 8] ^= 1 << (bit % 8);
            if fix_crc {
                fix_checksums(f);
            }
        }
    }
    pub fn truncate(&mut self, i: u8, len: u16) {
        if let Some(i) = self.index(i) {
            let f = &mut self.in_flight[i];
            let n = len as usize % (f.len() + 1);
            f.truncate(n);
        }
    }
    pub fn replay(&mut self, i: u8) {
        if !self.history.is_empty() {
            let f = self.history[i as usize % self.history.len()].clone();
            self.inject(f);
        }
    }
    pub fn clear(&mut self) {
        self.in_flight.clear();
    }
}

const CRC16: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740);
const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Recomputes the header and frame checksums of a (possibly altered) frame, as an attacker
/// who is not stopped by line-noise checks would; the frame is cut to its header's length.
pub fn fix_checksums(f: &mut Vec<u8>) {
    if f.len() < HEADER_LEN {
        return;
    }
    let hcrc = CRC16.checksum(&f[..15]);
    f[15..17].copy_from_slice(&hcrc.to_le_bytes());
    let Ok(total) = Frame::new_unchecked(&f[..]).check_header() else {
        return;
    };
    if f.len() < total {
        return;
    }
    f.truncate(total);
    let crc = CRC32.checksum(&f[..total - 4]);
    f[total - 4..].copy_from_slice(&crc.to_le_bytes());
}

/// A frame anyone can make: unsealed (a hello, or a pairing message).
pub fn unsealed(role: Role, seq: u32, msg: &Message<'_>) -> Vec<u8> {
    let mut link = Link::new(role);
    let mut buf = vec![0u8; MAX_FRAME];
    match link.encode(&mut buf, 0, seq, msg) {
        Ok(n) => {
            buf.truncate(n);
            buf
        }
        Err(_) => Vec::new(),
    }
}

/// A frame sealed under a key the endpoints do not hold, with any counter.
pub fn sealed_under_other_key(
    role: Role,
    nonce: u8,
    counter: u32,
    session: u32,
    seq: u32,
    msg: &Message<'_>,
) -> Vec<u8> {
    let keys = LinkKeys::derive(&PairingKey([0xEE; 32]), &[nonce; 16], &[nonce ^ 0x55; 16]);
    let key = match role {
        Role::Reader => keys.reader_to_host,
        Role::Host => keys.host_to_reader,
    };
    let mut sealer = Sealer::at_counter_for_tests(key, counter);
    let mut payload = vec![0u8; shikaku_protocol::MAX_PAYLOAD];
    let Ok(n) = msg.encode(&mut payload) else {
        return Vec::new();
    };
    let header = Header { msg_type: msg.msg_type(), session, seq };
    let mut buf = vec![0u8; MAX_FRAME];
    match frame::emit(&mut buf, &header, &payload[..n], Some(&mut sealer)) {
        Ok(n) => {
            buf.truncate(n);
            buf
        }
        Err(_) => Vec::new(),
    }
}

/// The message type in a frame's clear header (sealed or not), if it has a valid header.
pub fn msg_type_of(f: &[u8]) -> Option<u8> {
    Frame::new_checked(f).ok().map(|f| f.msg_type())
}

/// The canonical payload bytes of a message.
pub fn payload_of(msg: &Message<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; shikaku_protocol::MAX_PAYLOAD];
    let n = msg.encode(&mut buf).expect("a message the endpoints handled encodes");
    buf.truncate(n);
    buf
}

/// Whether to print the coverage counters (`SHIKAKU_FUZZ_STATS=1`).
pub fn stats_wanted() -> bool {
    use std::sync::OnceLock;
    static WANTED: OnceLock<bool> = OnceLock::new();
    *WANTED.get_or_init(|| std::env::var_os("SHIKAKU_FUZZ_STATS").is_some())
}

/// What a faulty or hostile cable does to one frame in flight; its parameters come from the
/// fuzz input after the direction ([`Wire::fault`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Drop,
    Duplicate,
    Swap,
    /// One bit flipped, checksums fixed up or not.
    Flip,
    Truncate,
    /// A frame that already went by, again.
    Replay,
}

impl Wire {
    /// Applies `fault`, reading its parameters (frame index, bit, length) from `inp`.
    pub fn fault(&mut self, fault: Fault, inp: &mut Input<'_>) {
        match fault {
            Fault::Drop => {
                let _ = self.take(inp.u8());
            }
            Fault::Duplicate => self.duplicate(inp.u8()),
            Fault::Swap => {
                let (a, b) = (inp.u8(), inp.u8());
                self.swap(a, b);
            }
            Fault::Flip => {
                let (i, bit, fix) = (inp.u8(), inp.u16(), inp.bool());
                self.flip(i, bit, fix);
            }
            Fault::Truncate => {
                let (i, len) = (inp.u8(), inp.u16());
                self.truncate(i, len);
            }
            Fault::Replay => self.replay(inp.u8()),
        }
    }
}

/// The two shipping endpoints and the two wires between them, in virtual milliseconds: what
/// each target's world is built on.
pub struct Ends {
    pub now: u64,
    pub reader: ReaderEndpoint,
    pub host: HostEndpoint,
    pub rng: Counter,
    pub to_reader: Wire,
    pub to_host: Wire,
    nonces: u8,
}

impl Ends {
    pub fn new(reader_key: Option<[u8; 32]>, host_key: Option<[u8; 32]>) -> Self {
        Ends {
            now: 0,
            reader: ReaderEndpoint::new(identity_of_reader(), reader_key.map(PairingKey)),
            host: HostEndpoint::new(host_key.map(PairingKey), [0; 16]),
            rng: Counter(3),
            to_reader: Wire::default(),
            to_host: Wire::default(),
            nonces: 0,
        }
    }

    /// The host (re)connects with a fresh nonce.
    pub fn connect(&mut self) {
        self.nonces = self.nonces.wrapping_add(1);
        self.host.connect([self.nonces; 16]);
    }

    pub fn instant(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    pub fn wire(&mut self, dir: Dir) -> &mut Wire {
        match dir {
            Dir::ToReader => &mut self.to_reader,
            Dir::ToHost => &mut self.to_host,
        }
    }

    /// Both ends put on the wire what they have due; answers the reader's frames (for those
    /// who watch the cable).
    pub fn transmit(&mut self) -> Vec<Vec<u8>> {
        while let Some(f) = self.host.poll_transmit() {
            self.to_reader.send(f);
        }
        let mut sent = Vec::new();
        let mut buf = vec![0u8; MAX_FRAME];
        while let Some(n) = self.reader.poll_transmit(self.instant(), &mut buf) {
            let f = buf[..n].to_vec();
            self.to_host.send(f.clone());
            sent.push(f);
        }
        sent
    }
}
