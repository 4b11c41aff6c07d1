//! The rig's serial protocol (host side); the image's side is
//! `firmware/image-core/src/wire.rs`, which documents the frames. Both must agree byte for byte.

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
pub const STACK: u8 = 0x12;

pub const OK: u8 = 0x80;
pub const CONFIG: u8 = 0x81;
pub const RX: u8 = 0x82;
pub const KEYS_RX: u8 = 0x84;
pub const ERR: u8 = 0x8F;

use shikaku_firmware::nfc::frontend::FrontendError;

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

pub fn encode(kind: u8, payload: &[u8]) -> Vec<u8> {
    let p = &payload[..payload.len().min(MAX_PAYLOAD)];
    let len = (p.len() as u16).to_le_bytes();
    let mut out = vec![START, kind, len[0], len[1]];
    out.extend_from_slice(p);
    let s = out[1..].iter().fold(0u8, |s, &b| s.wrapping_add(b));
    out.push(!s);
    out
}

/// Reassembles frames; bad ones are dropped.
#[derive(Default)]
pub struct Deframer {
    buf: Vec<u8>,
}

impl Deframer {
    pub fn push(&mut self, b: u8) -> Option<(u8, Vec<u8>)> {
        if self.buf.is_empty() && b != START {
            return None;
        }
        self.buf.push(b);
        if self.buf.len() < 4 {
            return None;
        }
        let n = u16::from_le_bytes([self.buf[2], self.buf[3]]) as usize;
        if n > MAX_PAYLOAD {
            self.buf.clear();
            return None;
        }
        if self.buf.len() < 5 + n {
            return None;
        }
        let frame = std::mem::take(&mut self.buf);
        let s = frame[1..4 + n].iter().fold(0u8, |s, &b| s.wrapping_add(b));
        (!s == frame[4 + n]).then(|| (frame[1], frame[4..4 + n].to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_garbage() {
        let mut d = Deframer::default();
        let mut bytes = vec![0x00, 0x13];
        bytes.extend(encode(TRANSCEIVE, &[1, 2, 3]));
        let mut bad = encode(RX, &[9]);
        bad[4] ^= 1;
        bytes.extend(bad);
        bytes.extend(encode(OK, &[]));
        let got: Vec<_> = bytes.into_iter().filter_map(|b| d.push(b)).collect();
        assert_eq!(got, vec![(TRANSCEIVE, vec![1, 2, 3]), (OK, vec![])]);
    }
}
