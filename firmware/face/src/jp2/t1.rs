//! Tier-1: EBCOT code-block decoding (T.800 Annex D): significance propagation, magnitude
//! refinement and cleanup passes over stripes of four rows, with the context modelling of
//! Tables D.1–D.4, and the optional code-block styles (bypass, context reset, termination on
//! each pass, vertically causal contexts, segmentation symbols).

use super::mq::{Contexts, MqDecoder, RawDecoder, Source, CTX_RL, CTX_UNIFORM};
use super::Jp2Error;

/// Code-block style bits (SPcod/SPcoc).
pub(crate) const STYLE_BYPASS: u8 = 0x01;
pub(crate) const STYLE_RESET: u8 = 0x02;
pub(crate) const STYLE_TERMALL: u8 = 0x04;
pub(crate) const STYLE_CAUSAL: u8 = 0x08;
pub(crate) const STYLE_SEGSYM: u8 = 0x20;

const SIG: i32 = 1;
const VISIT: i32 = 2;
const REFINED: i32 = 4;
const NEG: i32 = 8;

/// Largest number of magnitude bit-planes a code-block may have here (the values are kept
/// in an `i32` with one fractional bit).
pub(crate) const MAX_BITPLANES: u32 = 30;

/// One codeword segment of a code-block: its chunks and how many coding passes it holds.
#[derive(Clone, Copy, Default)]
pub(crate) struct Segment {
    pub(crate) first_chunk: u16,
    pub(crate) chunks: u16,
    pub(crate) passes: u16,
}

/// Where a code-block's samples go and how it was coded.
pub(crate) struct Block<'a> {
    /// Band orientation: 0 LL, 1 HL, 2 LH, 3 HH.
    pub(crate) band: u8,
    pub(crate) width: usize,
    pub(crate) height: usize,
    pub(crate) numbps: u32,
    pub(crate) style: u8,
    pub(crate) segments: &'a [Segment],
    pub(crate) chunks: &'a [(u32, u32)],
    pub(crate) data: &'a [u8],
}

/// Pass kinds in the order they come: cleanup first, then significance, refinement, cleanup.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    Significance,
    Refinement,
    Cleanup,
}

enum Coder<'a> {
    Mq(MqDecoder<'a>),
    Raw(RawDecoder<'a>),
}

impl Coder<'_> {
    #[inline]
    fn decode(&mut self, ctx: &mut Contexts, cx: usize) -> u32 {
        match self {
            Coder::Mq(d) => d.decode(ctx, cx),
            Coder::Raw(d) => d.bit(),
        }
    }
}

/// Decodes `block` into `out` (row stride `stride`; values are written, not added: the
/// caller zeroes `out` first). `flags` is scratch of `(width + 2) * (height + 2)` words.
/// The values carry one fractional bit: magnitude × 2, with the half of the lowest decoded
/// bit-plane added (mid-point reconstruction).
pub(crate) fn decode_block(
    block: &Block<'_>,
    out: &mut [i32],
    stride: usize,
    flags: &mut [i32],
) -> Result<(), Jp2Error> {
    let (w, h) = (block.width, block.height);
    let fs = w + 2;
    let flags = flags.get_mut(..fs * (h + 2)).ok_or(Jp2Error::ArenaTooSmall)?;
    flags.fill(0);
    if h > 0 && (h - 1) * stride + w > out.len() {
        return Err(Jp2Error::Corrupt);
    }
    if block.numbps == 0 || block.segments.is_empty() {
        return Ok(());
    }
    if block.numbps > MAX_BITPLANES {
        return Err(Jp2Error::Corrupt);
    }
    let mut st = State {
        out,
        stride,
        flags,
        fs,
        w,
        h,
        band: block.band,
        causal: block.style & STYLE_CAUSAL != 0,
        ctx: Contexts::new(),
    };
    let mut bpno = block.numbps; // stored position of the current bit-plane (one fractional bit)
    let mut pass = Pass::Cleanup;
    let mut pass_index = 0usize;
    for seg in block.segments {
        let first = usize::from(seg.first_chunk);
        let chunks = block.chunks.get(first..first + usize::from(seg.chunks)).ok_or(Jp2Error::Corrupt)?;
        let src = Source { data: block.data, chunks };
        // In bypass mode, from the 11th pass on, significance and refinement passes are raw.
        let raw = block.style & STYLE_BYPASS != 0 && pass_index >= 10 && pass != Pass::Cleanup;
        let mut coder = if raw { Coder::Raw(RawDecoder::new(src)) } else { Coder::Mq(MqDecoder::new(src)) };
        for _ in 0..seg.passes {
            if bpno == 0 {
                // More passes than bit-planes.
                return Err(Jp2Error::Corrupt);
            }
            match pass {
                Pass::Significance => st.significance(&mut coder, bpno, raw),
                Pass::Refinement => st.refinement(&mut coder, bpno, raw),
                Pass::Cleanup => {
                    st.cleanup(&mut coder, bpno);
                    if block.style & STYLE_SEGSYM != 0 {
                        for _ in 0..4 {
                            coder.decode(&mut st.ctx, CTX_UNIFORM);
                        }
                    }
                }
            }
            if block.style & STYLE_RESET != 0 {
                st.ctx.reset();
            }
            pass = match pass {
                Pass::Significance => Pass::Refinement,
                Pass::Refinement => Pass::Cleanup,
                Pass::Cleanup => {
                    bpno -= 1;
                    Pass::Significance
                }
            };
            pass_index += 1;
        }
    }
    Ok(())
}

struct State<'a> {
    out: &'a mut [i32],
    stride: usize,
    flags: &'a mut [i32],
    fs: usize,
    w: usize,
    h: usize,
    band: u8,
    causal: bool,
    ctx: Contexts,
}

/// Zero coding context from the significant neighbours (Table D.1).
fn zc_context(band: u8, h: u32, v: u32, d: u32) -> usize {
    let (h, v) = if band == 1 { (v, h) } else { (h, v) };
    if band == 3 {
        let hv = h + v;
        return match (d, hv) {
            (3.., _) => 8,
            (2, 1..) => 7,
            (2, _) => 6,
            (1, 2..) => 5,
            (1, 1) => 4,
            (1, _) => 3,
            (_, 2..) => 2,
            (_, 1) => 1,
            _ => 0,
        };
    }
    match (h, v, d) {
        (2.., _, _) => 8,
        (1, 1.., _) => 7,
        (1, 0, 1..) => 6,
        (1, 0, 0) => 5,
        (0, 2.., _) => 4,
        (0, 1, _) => 3,
        (0, 0, 2..) => 2,
        (0, 0, 1) => 1,
        _ => 0,
    }
}

impl State<'_> {
    #[inline]
    fn fidx(&self, x: usize, y: usize) -> usize {
        (y + 1) * self.fs + x + 1
    }

    /// Significant neighbours: (horizontal, vertical, diagonal) counts.
    #[inline]
    fn neighbours(&self, x: usize, y: usize) -> (u32, u32, u32) {
        let i = self.fidx(x, y);
        let s = |j: usize| (self.flags[j] & SIG) as u32;
        let below = !(self.causal && y % 4 == 3);
        let (up, down) = (i - self.fs, i + self.fs);
        let h = s(i - 1) + s(i + 1);
        let mut v = s(up);
        let mut d = s(up - 1) + s(up + 1);
        if below {
            v += s(down);
            d += s(down - 1) + s(down + 1);
        }
        (h, v, d)
    }

    #[inline]
    fn zc(&self, x: usize, y: usize) -> usize {
        let (h, v, d) = self.neighbours(x, y);
        zc_context(self.band, h, v, d)
    }

    /// Sign coding context and XOR bit (Table D.3).
    fn sc(&self, x: usize, y: usize) -> (usize, u32) {
        let i = self.fidx(x, y);
        let contrib = |j: usize| -> i32 {
            let f = self.flags[j];
            if f & SIG == 0 {
                0
            } else if f & NEG != 0 {
                -1
            } else {
                1
            }
        };
        let below = !(self.causal && y % 4 == 3);
        let hc = (contrib(i - 1) + contrib(i + 1)).clamp(-1, 1);
        let vd = if below { contrib(i + self.fs) } else { 0 };
        let vc = (contrib(i - self.fs) + vd).clamp(-1, 1);
        match (hc, vc) {
            (1, 1) => (13, 0),
            (1, 0) => (12, 0),
            (1, _) => (11, 0),
            (0, 1) => (10, 0),
            (0, 0) => (9, 0),
            (0, _) => (10, 1),
            (_, 1) => (11, 1),
            (_, 0) => (12, 1),
            _ => (13, 1),
        }
    }

    /// Makes (x, y) significant at stored bit-plane `bpno`; decodes its sign.
    fn set_significant(&mut self, coder: &mut Coder<'_>, x: usize, y: usize, bpno: u32, raw: bool) {
        let negative = if raw {
            coder.decode(&mut self.ctx, 0) == 1
        } else {
            let (cx, xor) = self.sc(x, y);
            coder.decode(&mut self.ctx, cx) ^ xor == 1
        };
        let one_plus_half = (1i32 << bpno) | ((1i32 << bpno) >> 1);
        let i = self.fidx(x, y);
        self.flags[i] |= SIG | if negative { NEG } else { 0 };
        self.out[y * self.stride + x] = if negative { -one_plus_half } else { one_plus_half };
    }

    fn significance(&mut self, coder: &mut Coder<'_>, bpno: u32, raw: bool) {
        for y0 in (0..self.h).step_by(4) {
            for x in 0..self.w {
                for y in y0..(y0 + 4).min(self.h) {
                    let i = self.fidx(x, y);
                    if self.flags[i] & SIG != 0 {
                        continue;
                    }
                    let cx = self.zc(x, y);
                    if cx == 0 {
                        continue;
                    }
                    if coder.decode(&mut self.ctx, cx) == 1 {
                        self.set_significant(coder, x, y, bpno, raw);
                    }
                    self.flags[i] |= VISIT;
                }
            }
        }
    }

    fn refinement(&mut self, coder: &mut Coder<'_>, bpno: u32, _raw: bool) {
        let half = (1i32 << bpno) >> 1;
        for y0 in (0..self.h).step_by(4) {
            for x in 0..self.w {
                for y in y0..(y0 + 4).min(self.h) {
                    let i = self.fidx(x, y);
                    let f = self.flags[i];
                    if f & (SIG | VISIT) != SIG {
                        continue;
                    }
                    let cx = if f & REFINED != 0 {
                        16
                    } else {
                        let (h, v, d) = self.neighbours(x, y);
                        if h + v + d > 0 {
                            15
                        } else {
                            14
                        }
                    };
                    let bit = coder.decode(&mut self.ctx, cx);
                    let o = y * self.stride + x;
                    let value = self.out[o];
                    // The refined bit moves the mid-point up or down by half the plane.
                    let up = (bit == 1) != (value < 0);
                    self.out[o] = if up { value.wrapping_add(half) } else { value.wrapping_sub(half) };
                    self.flags[i] |= REFINED;
                }
            }
        }
    }

    fn cleanup(&mut self, coder: &mut Coder<'_>, bpno: u32) {
        for y0 in (0..self.h).step_by(4) {
            for x in 0..self.w {
                let mut start = y0;
                let end = (y0 + 4).min(self.h);
                if end - y0 == 4
                    && (y0..end)
                        .all(|y| self.flags[self.fidx(x, y)] & (SIG | VISIT) == 0 && self.zc(x, y) == 0)
                {
                    if coder.decode(&mut self.ctx, CTX_RL) == 0 {
                        continue;
                    }
                    let r = (coder.decode(&mut self.ctx, CTX_UNIFORM) << 1)
                        | coder.decode(&mut self.ctx, CTX_UNIFORM);
                    let y = y0 + r as usize;
                    self.set_significant(coder, x, y, bpno, false);
                    start = y + 1;
                }
                for y in start..end {
                    let i = self.fidx(x, y);
                    if self.flags[i] & (SIG | VISIT) != 0 {
                        continue;
                    }
                    let cx = self.zc(x, y);
                    if coder.decode(&mut self.ctx, cx) == 1 {
                        self.set_significant(coder, x, y, bpno, false);
                    }
                }
            }
        }
        for f in self.flags.iter_mut() {
            *f &= !VISIT;
        }
    }
}
