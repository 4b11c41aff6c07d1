//! Streaming frame reassembly for byte pipes (UART, TCP, USB bulk packets of any size).
//!
//! Bytes are pushed in as they arrive; complete frames come out as borrowed views. Garbage
//! before a start marker is skipped and counted; a frame whose header or frame checksum fails
//! is reported once as a typed error and the search resumes one byte after its marker, so a
//! marker inside corrupted data never swallows a good frame behind it.

use crate::frame::{Frame, MARKER};
use crate::Error;

/// What the deframer has seen so far; useful for diagnostics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DeframerStats {
    pub frames: u32,
    pub rejected: u32,
    pub skipped_bytes: u32,
}

/// Reassembles frames in a fixed buffer of `N` bytes (use [`crate::frame::MAX_FRAME`]).
pub struct Deframer<const N: usize> {
    buf: [u8; N],
    len: usize,
    /// Bytes of the frame handed out by the last `next_frame`, dropped on the next call.
    consumed: usize,
    stats: DeframerStats,
}

impl<const N: usize> Default for Deframer<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Deframer<N> {
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            consumed: 0,
            stats: DeframerStats { frames: 0, rejected: 0, skipped_bytes: 0 },
        }
    }

    pub fn stats(&self) -> DeframerStats {
        self.stats
    }

    /// Forgets any partial frame, e.g. after the link dropped.
    pub fn reset(&mut self) {
        self.len = 0;
        self.consumed = 0;
    }

    /// Copies as many of `data` as fit and returns how many were taken. Call
    /// [`Deframer::next_frame`] until it returns `None`, then push the rest.
    pub fn push(&mut self, data: &[u8]) -> usize {
        self.compact();
        let n = data.len().min(N - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&data[..n]);
        self.len += n;
        n
    }

    fn compact(&mut self) {
        if self.consumed > 0 {
            self.buf.copy_within(self.consumed..self.len, 0);
            self.len -= self.consumed;
            self.consumed = 0;
        }
    }

    fn drop_front(&mut self, n: usize) {
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// Returns the next complete frame, a typed error for a rejected one, or `None` when more
    /// bytes are needed. The frame is lent mutably so that a sealed payload can be decrypted
    /// where it lies.
    pub fn next_frame(&mut self) -> Option<Result<Frame<&mut [u8]>, Error>> {
        self.compact();
        loop {
            // Skip to the first possible marker; keep a trailing first marker byte.
            let start = self.buf[..self.len].windows(2).position(|w| w == MARKER).unwrap_or_else(|| {
                if self.len > 0 && self.buf[self.len - 1] == MARKER[0] {
                    self.len - 1
                } else {
                    self.len
                }
            });
            if start > 0 {
                self.stats.skipped_bytes = self.stats.skipped_bytes.saturating_add(start as u32);
                self.drop_front(start);
            }
            if self.len == 0 {
                return None;
            }
            let verdict = Frame::new_unchecked(&self.buf[..self.len]).check_header().and_then(|total| {
                if total > N {
                    Err(Error::Oversized { len: total, max: N })
                } else if total > self.len {
                    Err(Error::Truncated { needed: total - self.len })
                } else {
                    Frame::new_unchecked(&self.buf[..total]).check().map(|()| total)
                }
            });
            match verdict {
                Ok(total) => {
                    self.consumed = total;
                    self.stats.frames = self.stats.frames.saturating_add(1);
                    return Some(Ok(Frame::new_unchecked(&mut self.buf[..total])));
                }
                Err(Error::Truncated { .. }) => {
                    if self.len == N {
                        // Cannot happen with a valid header (total <= N), kept as a guard.
                        self.drop_front(1);
                        continue;
                    }
                    return None;
                }
                Err(e) => {
                    // Resynchronise one byte past this marker.
                    self.stats.rejected = self.stats.rejected.saturating_add(1);
                    self.drop_front(1);
                    return Some(Err(e));
                }
            }
        }
    }
}
