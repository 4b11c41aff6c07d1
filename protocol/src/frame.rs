//! The wire frame, fit for a USB bulk pipe and a UART alike.
//!
//! ```text
//! offset size field
//!  0     2    start marker "SK" (0x53 0x4B)
//!  2     1    version: major << 4 | minor
//!  3     1    flags: bit 0 = sealed (payload encrypted, AEAD trailer present); others reserved
//!  4     1    message type
//!  5     4    session id (LE)
//!  9     4    sequence number (LE)
//! 13     2    payload length n (LE), at most MAX_PAYLOAD
//! 15     2    CRC-16/IBM-3740 over bytes 0..15 (LE)
//! 17     n    payload (ciphertext when sealed: ChaCha20 keeps the length)
//!  +     20   if sealed: counter (u32 LE, the nonce) + Poly1305 tag (16 bytes)
//!  +     4    CRC-32/ISO-HDLC over everything before it (LE)
//! ```
//!
//! The header has its own checksum so that a corrupted length is caught before the receiver
//! waits for bytes that will never come; the deframer then resynchronises on the next marker.
//! A sealed frame's header (bytes 0..17) is the AEAD's associated data: it travels in clear
//! (a receiver must know the type and length before it can open anything) but cannot be
//! changed. The CRCs catch line noise only; authenticity is the AEAD's job.

use crate::{Error, VERSION_MAJOR, VERSION_MINOR};

pub const MARKER: [u8; 2] = *b"SK";
pub const HEADER_LEN: usize = 17;
pub const CRC_LEN: usize = 4;
pub const COUNTER_LEN: usize = 4;
pub const TAG_LEN: usize = 16;
pub const AUTH_TRAILER_LEN: usize = COUNTER_LEN + TAG_LEN;
/// Largest payload: a verified identity with a 2 KB certificate and a 256-byte signature fits.
pub const MAX_PAYLOAD: usize = 3072;
/// Largest complete frame on the wire.
pub const MAX_FRAME: usize = HEADER_LEN + MAX_PAYLOAD + AUTH_TRAILER_LEN + CRC_LEN;

pub const FLAG_AUTHENTICATED: u8 = 0x01;

const CRC16: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740);
const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

mod field {
    use core::ops::Range;
    pub(super) const MARKER: Range<usize> = 0..2;
    pub(super) const VERSION: usize = 2;
    pub(super) const FLAGS: usize = 3;
    pub(super) const TYPE: usize = 4;
    pub(super) const SESSION: Range<usize> = 5..9;
    pub(super) const SEQ: Range<usize> = 9..13;
    pub(super) const LENGTH: Range<usize> = 13..15;
    pub(super) const HEADER_CRC: Range<usize> = 15..17;
}

/// The header fields of a frame, as a plain value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header {
    pub msg_type: u8,
    pub session: u32,
    pub seq: u32,
}

/// A checked, zero-copy view of one frame.
#[derive(Debug, Clone, Copy)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

fn le16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}
fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps a buffer without checking it. Accessors may panic on short buffers; use
    /// [`Frame::new_checked`] for anything that came from outside.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer holding exactly one frame (extra bytes after it are ignored) after
    /// checking marker, header checksum, version, length and frame checksum.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let frame = Self::new_unchecked(buffer);
        frame.check()?;
        Ok(frame)
    }

    /// Checks the header alone: enough to know the frame's total length.
    pub fn check_header(&self) -> Result<usize, Error> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            // A partial marker that does not match is already known to be wrong.
            if b.iter().zip(MARKER.iter()).any(|(x, y)| x != y) {
                return Err(Error::BadMarker);
            }
            return Err(Error::Truncated { needed: HEADER_LEN - b.len() });
        }
        if b[field::MARKER] != MARKER {
            return Err(Error::BadMarker);
        }
        if CRC16.checksum(&b[..field::HEADER_CRC.start]) != le16(&b[field::HEADER_CRC]) {
            return Err(Error::HeaderCrc);
        }
        let major = b[field::VERSION] >> 4;
        if major != VERSION_MAJOR {
            return Err(Error::UnsupportedVersion(major));
        }
        let len = le16(&b[field::LENGTH]) as usize;
        if len > MAX_PAYLOAD {
            return Err(Error::Oversized { len, max: MAX_PAYLOAD });
        }
        let trailer = if b[field::FLAGS] & FLAG_AUTHENTICATED != 0 { AUTH_TRAILER_LEN } else { 0 };
        Ok(HEADER_LEN + len + trailer + CRC_LEN)
    }

    /// Checks the whole frame.
    pub fn check(&self) -> Result<(), Error> {
        let total = self.check_header()?;
        let b = self.buffer.as_ref();
        if b.len() < total {
            return Err(Error::Truncated { needed: total - b.len() });
        }
        let crc_at = total - CRC_LEN;
        if CRC32.checksum(&b[..crc_at]) != le32(&b[crc_at..total]) {
            return Err(Error::FrameCrc);
        }
        Ok(())
    }

    pub fn version_minor(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION] & 0x0F
    }
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }
    /// Whether the payload is sealed (encrypted and authenticated).
    pub fn is_authenticated(&self) -> bool {
        self.flags() & FLAG_AUTHENTICATED != 0
    }
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }
    pub fn session(&self) -> u32 {
        le32(&self.buffer.as_ref()[field::SESSION])
    }
    pub fn seq(&self) -> u32 {
        le32(&self.buffer.as_ref()[field::SEQ])
    }
    pub fn payload_len(&self) -> usize {
        le16(&self.buffer.as_ref()[field::LENGTH]) as usize
    }
    pub fn header(&self) -> Header {
        Header { msg_type: self.msg_type(), session: self.session(), seq: self.seq() }
    }
    /// Total length of the frame on the wire.
    pub fn total_len(&self) -> usize {
        let trailer = if self.is_authenticated() { AUTH_TRAILER_LEN } else { 0 };
        HEADER_LEN + self.payload_len() + trailer + CRC_LEN
    }
    /// The frame's own bytes, without anything after it in the buffer.
    pub fn bytes(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.total_len()]
    }
    /// Counter and tag, when the frame is sealed.
    pub fn auth_trailer(&self) -> Option<(u32, &[u8])> {
        if !self.is_authenticated() {
            return None;
        }
        let at = HEADER_LEN + self.payload_len();
        let b = self.buffer.as_ref();
        Some((le32(&b[at..at + COUNTER_LEN]), &b[at + COUNTER_LEN..at + AUTH_TRAILER_LEN]))
    }
}

impl<'a> Frame<&'a [u8]> {
    pub fn payload(&self) -> &'a [u8] {
        let len = self.payload_len();
        &self.buffer[HEADER_LEN..HEADER_LEN + len]
    }
    /// The frame's own bytes, without anything after it in the buffer.
    pub fn as_bytes(&self) -> &'a [u8] {
        &self.buffer[..self.total_len()]
    }
}

/// A frame taken apart for opening (see [`Frame::into_parts`]).
pub type Parts<'a> = (&'a [u8], &'a mut [u8], Option<(u32, [u8; TAG_LEN])>);

impl<'a> Frame<&'a mut [u8]> {
    /// A checked frame taken apart for opening: the header (associated data), the payload to
    /// decrypt in place, and the counter and tag of a sealed frame.
    pub fn into_parts(self) -> Parts<'a> {
        let trailer = self.auth_trailer().map(|(counter, tag)| {
            let mut t = [0u8; TAG_LEN];
            t.copy_from_slice(tag);
            (counter, t)
        });
        let len = self.payload_len();
        let (header, rest) = self.buffer.split_at_mut(HEADER_LEN);
        (header, &mut rest[..len], trailer)
    }
}

/// Encrypts a payload in place and computes its tag; implemented by [`crate::auth::Sealer`].
pub trait Seal {
    /// Seals `payload` under `header` as associated data; returns the counter to put in the
    /// trailer and writes the 16-byte tag.
    fn seal(&mut self, header: &[u8], payload: &mut [u8], tag: &mut [u8; TAG_LEN]) -> Result<u32, Error>;
}

/// Writes one frame into `buf` and returns its length. The payload is produced by `body`,
/// which writes into the slice it is given and returns how many bytes it wrote.
pub fn emit_with(
    buf: &mut [u8],
    header: &Header,
    sealer: Option<&mut dyn Seal>,
    body: impl FnOnce(&mut [u8]) -> Result<usize, Error>,
) -> Result<usize, Error> {
    if buf.len() < HEADER_LEN + CRC_LEN {
        return Err(Error::BufferTooSmall);
    }
    let trailer = if sealer.is_some() { AUTH_TRAILER_LEN } else { 0 };
    let room = (buf.len() - HEADER_LEN - CRC_LEN - trailer).min(MAX_PAYLOAD);
    let n = body(&mut buf[HEADER_LEN..HEADER_LEN + room])?;
    if n > MAX_PAYLOAD {
        return Err(Error::Oversized { len: n, max: MAX_PAYLOAD });
    }
    buf[field::MARKER].copy_from_slice(&MARKER);
    buf[field::VERSION] = (VERSION_MAJOR << 4) | VERSION_MINOR;
    buf[field::FLAGS] = if sealer.is_some() { FLAG_AUTHENTICATED } else { 0 };
    buf[field::TYPE] = header.msg_type;
    buf[field::SESSION].copy_from_slice(&header.session.to_le_bytes());
    buf[field::SEQ].copy_from_slice(&header.seq.to_le_bytes());
    buf[field::LENGTH].copy_from_slice(&(n as u16).to_le_bytes());
    let hcrc = CRC16.checksum(&buf[..field::HEADER_CRC.start]);
    buf[field::HEADER_CRC].copy_from_slice(&hcrc.to_le_bytes());
    let mut end = HEADER_LEN + n;
    if let Some(sealer) = sealer {
        let mut tag = [0u8; TAG_LEN];
        let (head, rest) = buf.split_at_mut(HEADER_LEN);
        let counter = sealer.seal(head, &mut rest[..n], &mut tag)?;
        buf[end..end + COUNTER_LEN].copy_from_slice(&counter.to_le_bytes());
        buf[end + COUNTER_LEN..end + AUTH_TRAILER_LEN].copy_from_slice(&tag);
        end += AUTH_TRAILER_LEN;
    }
    let crc = CRC32.checksum(&buf[..end]);
    buf[end..end + CRC_LEN].copy_from_slice(&crc.to_le_bytes());
    Ok(end + CRC_LEN)
}

/// Writes one frame with a ready payload.
pub fn emit(
    buf: &mut [u8],
    header: &Header,
    payload: &[u8],
    sealer: Option<&mut dyn Seal>,
) -> Result<usize, Error> {
    if payload.len() > MAX_PAYLOAD {
        return Err(Error::Oversized { len: payload.len(), max: MAX_PAYLOAD });
    }
    emit_with(buf, header, sealer, |dst| {
        let dst = dst.get_mut(..payload.len()).ok_or(Error::BufferTooSmall)?;
        dst.copy_from_slice(payload);
        Ok(payload.len())
    })
}
