//! The MQ arithmetic decoder (T.800 Annex C) and the raw (bypass) bit reader, both reading a
//! codeword segment that may be split in chunks (one per quality layer).

/// One codeword segment: chunks of the codestream, read back to back; bytes past the end read
/// as `0xFF` (the decoder then sees a marker and feeds 1-bits, as the standard intends).
#[derive(Clone, Copy)]
pub(crate) struct Source<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) chunks: &'a [(u32, u32)],
}

impl Source<'_> {
    fn byte(&self, mut pos: usize) -> u8 {
        for &(start, len) in self.chunks {
            let len = len as usize;
            if pos < len {
                return self.data.get(start as usize + pos).copied().unwrap_or(0xFF);
            }
            pos -= len;
        }
        0xFF
    }
}

/// Qe, next index on MPS, next index on LPS, switch (Table C.2).
const QE: [(u16, u8, u8, bool); 47] = [
    (0x5601, 1, 1, true),
    (0x3401, 2, 6, false),
    (0x1801, 3, 9, false),
    (0x0AC1, 4, 12, false),
    (0x0521, 5, 29, false),
    (0x0221, 38, 33, false),
    (0x5601, 7, 6, true),
    (0x5401, 8, 14, false),
    (0x4801, 9, 14, false),
    (0x3801, 10, 14, false),
    (0x3001, 11, 17, false),
    (0x2401, 12, 18, false),
    (0x1C01, 13, 20, false),
    (0x1601, 29, 21, false),
    (0x5601, 15, 14, true),
    (0x5401, 16, 14, false),
    (0x5101, 17, 15, false),
    (0x4801, 18, 16, false),
    (0x3801, 19, 17, false),
    (0x3401, 20, 18, false),
    (0x3001, 21, 19, false),
    (0x2801, 22, 19, false),
    (0x2401, 23, 20, false),
    (0x2201, 24, 21, false),
    (0x1C01, 25, 22, false),
    (0x1801, 26, 23, false),
    (0x1601, 27, 24, false),
    (0x1401, 28, 25, false),
    (0x1201, 29, 26, false),
    (0x1101, 30, 27, false),
    (0x0AC1, 31, 28, false),
    (0x09C1, 32, 29, false),
    (0x08A1, 33, 30, false),
    (0x0521, 34, 31, false),
    (0x0441, 35, 32, false),
    (0x02A1, 36, 33, false),
    (0x0221, 37, 34, false),
    (0x0141, 38, 35, false),
    (0x0111, 39, 36, false),
    (0x0085, 40, 37, false),
    (0x0049, 41, 38, false),
    (0x0025, 42, 39, false),
    (0x0015, 43, 40, false),
    (0x0009, 44, 41, false),
    (0x0005, 45, 42, false),
    (0x0001, 45, 43, false),
    (0x5601, 46, 46, false),
];

/// Number of contexts of the tier-1 coder.
pub(crate) const CONTEXTS: usize = 19;
pub(crate) const CTX_RL: usize = 17;
pub(crate) const CTX_UNIFORM: usize = 18;

/// Context states: index into [`QE`] and the MPS, as `index << 1 | mps`.
pub(crate) struct Contexts(pub(crate) [u8; CONTEXTS]);

impl Contexts {
    pub(crate) fn new() -> Self {
        let mut c = Self([0; CONTEXTS]);
        c.reset();
        c
    }

    /// The initial states (Table D.7): all 0 except UNIFORM 46, run-length 3, ZC 0 at 4.
    pub(crate) fn reset(&mut self) {
        self.0 = [0; CONTEXTS];
        self.0[0] = 4 << 1;
        self.0[CTX_RL] = 3 << 1;
        self.0[CTX_UNIFORM] = 46 << 1;
    }
}

pub(crate) struct MqDecoder<'a> {
    src: Source<'a>,
    pos: usize,
    a: u32,
    c: u32,
    ct: u32,
}

impl<'a> MqDecoder<'a> {
    /// INITDEC.
    pub(crate) fn new(src: Source<'a>) -> Self {
        let mut d = Self { src, pos: 0, a: 0x8000, c: 0, ct: 0 };
        d.c = u32::from(d.src.byte(0)) << 16;
        d.byte_in();
        d.c <<= 7;
        d.ct = d.ct.saturating_sub(7);
        d.a = 0x8000;
        d
    }

    fn byte_in(&mut self) {
        if self.src.byte(self.pos) == 0xFF {
            let next = self.src.byte(self.pos + 1);
            if next > 0x8F {
                self.c = self.c.wrapping_add(0xFF00);
                self.ct = 8;
            } else {
                self.pos += 1;
                self.c = self.c.wrapping_add(u32::from(next) << 9);
                self.ct = 7;
            }
        } else {
            self.pos += 1;
            self.c = self.c.wrapping_add(u32::from(self.src.byte(self.pos)) << 8);
            self.ct = 8;
        }
    }

    fn renorm(&mut self) {
        loop {
            if self.ct == 0 {
                self.byte_in();
            }
            self.a <<= 1;
            self.c <<= 1;
            self.ct -= 1;
            if self.a & 0x8000 != 0 {
                break;
            }
        }
    }

    /// DECODE one decision in context `cx`.
    pub(crate) fn decode(&mut self, ctx: &mut Contexts, cx: usize) -> u32 {
        let state = ctx.0[cx];
        let (index, mps) = (usize::from(state >> 1), u32::from(state & 1));
        let (qe, nmps, nlps, switch) = QE[index];
        let qe = u32::from(qe);
        self.a -= qe;
        let d;
        if (self.c >> 16) >= qe {
            self.c -= qe << 16;
            if self.a & 0x8000 != 0 {
                return mps;
            }
            // MPS exchange.
            if self.a < qe {
                d = 1 - mps;
                ctx.0[cx] = (nlps << 1) | (if switch { 1 - mps } else { mps }) as u8;
            } else {
                d = mps;
                ctx.0[cx] = (nmps << 1) | mps as u8;
            }
        } else {
            // LPS exchange.
            if self.a < qe {
                d = mps;
                ctx.0[cx] = (nmps << 1) | mps as u8;
            } else {
                d = 1 - mps;
                ctx.0[cx] = (nlps << 1) | (if switch { 1 - mps } else { mps }) as u8;
            }
            self.a = qe;
        }
        self.renorm();
        d
    }
}

/// Raw (arithmetic-coding bypass) bits, with the bit stuffed after each `0xFF`.
pub(crate) struct RawDecoder<'a> {
    src: Source<'a>,
    pos: usize,
    c: u32,
    ct: u32,
}

impl<'a> RawDecoder<'a> {
    pub(crate) fn new(src: Source<'a>) -> Self {
        Self { src, pos: 0, c: 0, ct: 0 }
    }

    pub(crate) fn bit(&mut self) -> u32 {
        if self.ct == 0 {
            if self.c == 0xFF {
                let b = self.src.byte(self.pos);
                if b > 0x8F {
                    self.c = 0xFF;
                    self.ct = 8;
                } else {
                    self.c = u32::from(b);
                    self.pos += 1;
                    self.ct = 7;
                }
            } else {
                self.c = u32::from(self.src.byte(self.pos));
                self.pos += 1;
                self.ct = 8;
            }
        }
        self.ct -= 1;
        (self.c >> self.ct) & 1
    }
}
