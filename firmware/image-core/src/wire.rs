//! The rig's serial protocol between the QEMU image and the host bridge
//! (`hil-tests/src/bin/shikaku-qemu-bridge.rs`): the NFC frontend as remote calls (the bridge
//! answers with the virtual card behind the simulated PICC side), the keypad, the display's
//! phase, and boot configuration.
//!
//! Frame: `7E`, type, length (u16 LE), payload, check byte (`!` of the wrapping sum of type,
//! length bytes and payload). The image sends requests; the bridge sends exactly one answer
//! to each request type marked "→". Notifications get no answer.
//!
//! | type | from image | payload | answer |
//! |---|---|---|---|
//! | `01` | boot | – | → `81` config: seed (32) |
//! | `02`/`03` | field on / off | – | → `80` ok or `8F` error |
//! | `04` | configure | tech (0 A, 1 B), PCD→PICC code, PICC→PCD code | → `80` / `8F` |
//! | `05` | transceive | timeout fc (u32), frame | → `82` answer frame / `8F` |
//! | `06` | short frame | code, timeout fc | → `82` / `8F` |
//! | `07` | bit frame | tx bits (u16), timeout fc, frame | → `83` valid bits (u16), collision, bytes / `8F` |
//! | `08` | guard time | fc (u32) | → `80` |
//! | `10` | status (notification) | phase, secured, synced, card, pending, name | – |
//! | `11` | keys? | – | → `84` key codes |
//! | `12` | stack report (notification) | main-loop high-water bytes (u32), stack size (u32), boot high-water bytes (u32), then the reader's counters (u32 each): host frames taken, host frames refused, storage failures, outbox refusals | – |
//! | `13` | pairing code on screen (notification) | the 6-digit code (u32) | – |
//! | `14` | a screen of another kind shown (notification) | `Screen::kind` (u8), the phase's name | – |
//!
//! Error codes in `8F`: the [`FrontendError`] variants 1..=8 in declaration order.

use shikaku_firmware::nfc::frontend::FrontendError;

pub const START: u8 = 0x7E;
pub const MAX_PAYLOAD: usize = 1100;

pub const BOOT: u8 = 0x01;
pub const FIELD_ON: u8 = 0x02;
pub const FIELD_OFF: u8 = 0x03;
pub const CONFIGURE: u8 = 0x04;
pub const TRANSCEIVE: u8 = 0x05;
pub const SHORT: u8 = 0x06;
pub const BITS: u8 = 0x07;
pub const GUARD: u8 = 0x08;
pub const STATUS: u8 = 0x10;
pub const KEYS: u8 = 0x11;
pub const STACK: u8 = 0x12;
pub const PAIRING_CODE: u8 = 0x13;
pub const SCREEN: u8 = 0x14;

pub const OK: u8 = 0x80;
pub const CONFIG: u8 = 0x81;
pub const RX: u8 = 0x82;
pub const BITS_RX: u8 = 0x83;
pub const KEYS_RX: u8 = 0x84;
pub const ERR: u8 = 0x8F;

pub fn error_code(e: FrontendError) -> u8 {
    match e {
        FrontendError::Timeout => 1,
        FrontendError::Crc => 2,
        FrontendError::Collision => 3,
        FrontendError::Framing => 4,
        FrontendError::Protocol => 5,
        FrontendError::Overflow => 6,
        FrontendError::Unsupported => 7,
        FrontendError::Hardware => 8,
    }
}

pub fn error_from_code(c: u8) -> FrontendError {
    match c {
        1 => FrontendError::Timeout,
        2 => FrontendError::Crc,
        3 => FrontendError::Collision,
        4 => FrontendError::Framing,
        5 => FrontendError::Protocol,
        6 => FrontendError::Overflow,
        7 => FrontendError::Unsupported,
        _ => FrontendError::Hardware,
    }
}

fn check(kind: u8, payload: &[u8]) -> u8 {
    let len = (payload.len() as u16).to_le_bytes();
    let mut s = kind.wrapping_add(len[0]).wrapping_add(len[1]);
    for &b in payload {
        s = s.wrapping_add(b);
    }
    !s
}

/// Writes one frame with `write` (byte by byte or in pieces).
pub fn encode(kind: u8, parts: &[&[u8]], mut write: impl FnMut(&[u8])) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let len = (len.min(MAX_PAYLOAD) as u16).to_le_bytes();
    write(&[START, kind, len[0], len[1]]);
    let mut s = kind.wrapping_add(len[0]).wrapping_add(len[1]);
    let mut left = u16::from_le_bytes(len) as usize;
    for p in parts {
        let p = &p[..p.len().min(left)];
        left -= p.len();
        for &b in p {
            s = s.wrapping_add(b);
        }
        write(p);
    }
    write(&[!s]);
}

/// Reassembles frames from a byte stream; garbage before a start byte is skipped, a frame
/// with a bad check byte is dropped.
pub struct Deframer {
    buf: [u8; MAX_PAYLOAD + 5],
    len: usize,
}

impl Default for Deframer {
    fn default() -> Self {
        Self::new()
    }
}

impl Deframer {
    pub const fn new() -> Self {
        Self { buf: [0; MAX_PAYLOAD + 5], len: 0 }
    }

    /// Takes one byte; returns `Some((type, payload length))` when a frame is complete, its
    /// payload then in [`Deframer::payload`] until the next call.
    pub fn push(&mut self, b: u8) -> Option<(u8, usize)> {
        if self.len == 0 && b != START {
            return None;
        }
        if self.len >= self.buf.len() {
            self.len = 0;
            return None;
        }
        self.buf[self.len] = b;
        self.len += 1;
        if self.len < 4 {
            return None;
        }
        let plen = u16::from_le_bytes([self.buf[2], self.buf[3]]) as usize;
        if plen > MAX_PAYLOAD {
            self.len = 0;
            return None;
        }
        if self.len < 5 + plen {
            return None;
        }
        let kind = self.buf[1];
        let ok = check(kind, &self.buf[4..4 + plen]) == self.buf[4 + plen];
        self.len = 0;
        ok.then_some((kind, plen))
    }

    pub fn payload(&self, n: usize) -> &[u8] {
        &self.buf[4..4 + n.min(MAX_PAYLOAD)]
    }
}
