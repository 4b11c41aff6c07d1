//! One tile: its resolution/band/precinct/code-block structure in the arena, tier-2 packet
//! decoding in the tile's progression order (tag trees, inclusion, zero bit-planes, passes,
//! lengths), then tier-1, dequantisation and the inverse wavelet transform per component.

use heapless::Vec;

use super::dwt::{self, Level};
use super::header::{Params, Siz, MAX_COMPONENTS, MAX_LEVELS};
use super::store::Store;
use super::t1::{self, Block, Segment, STYLE_BYPASS, STYLE_TERMALL};
use super::{Arena, Jp2Error};

/// Words of a precinct's record for one band.
const PB: usize = 8;
/// Words of a code-block's record.
const CB: usize = 8;
/// Words of a chunk record (the code-block's bytes from one packet for one segment).
const CH: usize = 5;

// Code-block record fields.
const CB_INCLUDED: usize = 0;
const CB_ZBP: usize = 1;
const CB_LBLOCK: usize = 2;
const CB_PASSES: usize = 3;
const CB_SEG: usize = 4;
const CB_SEG_PASSES: usize = 5;
const CB_HEAD: usize = 6;
const CB_TAIL: usize = 7;
// Chunk record fields.
const CH_NEXT: usize = 0;
const CH_SEG: usize = 1;
const CH_OFFSET: usize = 2;
const CH_LEN: usize = 3;
const CH_PASSES: usize = 4;

/// Most segments and chunks one code-block may have.
const MAX_SEGMENTS: usize = 100;
const MAX_CHUNKS: usize = 128;
/// Most tile-parts per tile.
pub(crate) const MAX_TILE_PARTS: usize = 32;

#[derive(Clone, Copy, Default)]
struct Rect {
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
}

impl Rect {
    fn w(&self) -> usize {
        (self.x1 - self.x0) as usize
    }
    fn h(&self) -> usize {
        (self.y1 - self.y0) as usize
    }
}

fn ceil_div_pow2(v: u32, e: u32) -> u32 {
    ((u64::from(v) + (1u64 << e) - 1) >> e) as u32
}

/// Band rectangle (B-15): `nb` levels below the tile-component, orientation offsets.
fn band_rect(tc: Rect, nb: u32, xob: u32, yob: u32) -> Rect {
    let f = |v: u32, o: u32| -> u32 {
        if nb == 0 {
            return v;
        }
        let shift = i64::from(o) << (nb - 1);
        let a = i64::from(v) - shift;
        // ceil(a / 2^nb) for a possibly negative a.
        let d = 1i64 << nb;
        (-((-a).div_euclid(d))).max(0) as u32
    };
    Rect { x0: f(tc.x0, xob), y0: f(tc.y0, yob), x1: f(tc.x1, xob), y1: f(tc.y1, yob) }
}

#[derive(Clone, Copy, Default)]
struct Res {
    rect: Rect,
    ppx: u32,
    ppy: u32,
    pw: u32,
    ph: u32,
    /// Arena word of the first precinct record (`nbands * PB` words per precinct).
    prec_base: usize,
    nbands: usize,
}

#[derive(Clone, Copy, Default)]
struct Comp {
    levels: u32,
    res: [Res; MAX_LEVELS + 1],
    coef_base: usize,
}

/// Orientation of band `b` of resolution `r` (0 LL; then HL, LH, HH).
fn orientation(r: usize, b: usize) -> u8 {
    if r == 0 {
        0
    } else {
        b as u8 + 1
    }
}

/// Packet header bits, with the bit stuffed after each `0xFF`.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    end: usize,
    buf: u32,
    ct: u32,
}

impl Bits<'_> {
    fn bit(&mut self) -> Result<u32, Jp2Error> {
        if self.ct == 0 {
            let stuffed = self.buf == 0xFF;
            if self.pos >= self.end {
                return Err(Jp2Error::Truncated);
            }
            self.buf = u32::from(self.data[self.pos]);
            self.pos += 1;
            self.ct = if stuffed { 7 } else { 8 };
        }
        self.ct -= 1;
        Ok((self.buf >> self.ct) & 1)
    }

    fn bits(&mut self, n: u32) -> Result<u32, Jp2Error> {
        let mut v = 0;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Ok(v)
    }

    /// Ends the header: a byte that follows `0xFF` is part of it.
    fn align(&mut self) -> Result<(), Jp2Error> {
        if self.buf == 0xFF && self.ct == 0 {
            if self.pos >= self.end {
                return Err(Jp2Error::Truncated);
            }
            self.pos += 1;
        } else if self.buf == 0xFF {
            // The stuffed byte follows a 0xFF whose bits were not all used.
            if self.pos >= self.end {
                return Err(Jp2Error::Truncated);
            }
            self.pos += 1;
        }
        self.ct = 0;
        self.buf = 0;
        Ok(())
    }
}

/// A tag tree over `w × h` leaves at arena word `base`, two words per node (value, low).
fn tag_tree_nodes(mut w: usize, mut h: usize) -> usize {
    let mut n = 0;
    loop {
        n += w * h;
        if w <= 1 && h <= 1 {
            return n;
        }
        w = w.div_ceil(2);
        h = h.div_ceil(2);
    }
}

fn tag_tree_decode(
    words: &mut [i32],
    base: usize,
    (w, h): (usize, usize),
    (x, y): (usize, usize),
    threshold: i32,
    bits: &mut Bits<'_>,
) -> Result<bool, Jp2Error> {
    let mut path = [0usize; 24];
    let mut depth = 0;
    let (mut lw, mut lh, mut lx, mut ly, mut off) = (w, h, x, y, 0);
    loop {
        path[depth] = base + 2 * (off + ly * lw + lx);
        depth += 1;
        if (lw <= 1 && lh <= 1) || depth == path.len() {
            break;
        }
        off += lw * lh;
        lw = lw.div_ceil(2);
        lh = lh.div_ceil(2);
        lx /= 2;
        ly /= 2;
    }
    let mut low = 0;
    for &node in path[..depth].iter().rev() {
        let (value, node_low) = (words[node], words[node + 1]);
        if low < node_low {
            low = node_low;
        }
        let mut value = value;
        while low < threshold && low < value {
            if bits.bit()? == 1 {
                value = low;
            } else {
                low += 1;
            }
        }
        words[node] = value;
        words[node + 1] = low;
    }
    Ok(words[path[0]] < threshold)
}

fn max_passes(style: u8, seg: i32) -> i32 {
    if style & STYLE_TERMALL != 0 {
        1
    } else if style & STYLE_BYPASS != 0 {
        match seg {
            0 => 10,
            s if s % 2 == 1 => 2,
            _ => 1,
        }
    } else {
        i32::MAX
    }
}

/// Decodes one tile into `out` (the whole image, `channels` bytes per pixel).
pub(crate) struct TileDecoder<'c> {
    pub(crate) cs: &'c [u8],
    pub(crate) siz: Siz,
    pub(crate) params: Params,
    pub(crate) tile: u32,
    pub(crate) parts: Vec<(usize, usize), MAX_TILE_PARTS>,
}

struct Walk<'a, 'c> {
    cs: &'c [u8],
    params: &'a Params,
    comps: &'a [Comp],
    parts: &'a [(usize, usize)],
    part: usize,
    pos: usize,
    rect: Rect,
}

impl TileDecoder<'_> {
    pub(crate) fn decode(&self, arena: &mut Arena<'_>, out: &mut [u8]) -> Result<(), Jp2Error> {
        let siz = &self.siz;
        let p = &self.params;
        let (x0, y0, x1, y1) = siz.tile_rect(self.tile);
        let tile = Rect { x0, y0, x1, y1 };
        let ncomp = siz.ncomp;
        if p.cod.mct && ncomp != 3 {
            return Err(Jp2Error::BadMarker(0xFF52));
        }
        let mut comps = [Comp::default(); MAX_COMPONENTS];
        // Coefficient buffers first, then the structures.
        let area = tile.w().checked_mul(tile.h()).ok_or(Jp2Error::TooLarge)?;
        let store = choose_store(&self.siz, &self.params)?;
        let words = store.words(area);
        for (c, comp) in comps.iter_mut().enumerate().take(ncomp) {
            comp.levels = u32::from(p.comp[c].levels);
            comp.coef_base = arena.alloc(words)?;
        }
        for (c, comp) in comps.iter_mut().enumerate().take(ncomp) {
            self.build(arena, c, comp, tile)?;
        }
        let mut walk = Walk {
            cs: self.cs,
            params: p,
            comps: &comps[..ncomp],
            parts: &self.parts,
            part: 0,
            pos: self.parts.first().map_or(0, |p| p.0),
            rect: tile,
        };
        walk.progression(arena)?;
        let stride = tile.w();
        for (c, comp) in comps.iter().enumerate().take(ncomp) {
            self.tier1(arena, c, comp, stride, store)?;
            let coding = &p.comp[c];
            let tmp = arena.alloc(tile.w().max(tile.h()))?;
            let (coefs, rest) = arena.words.split_at_mut(tmp);
            let buf = &mut coefs[comp.coef_base..comp.coef_base + words];
            for r in 1..=comp.levels as usize {
                let res = comp.res[r].rect;
                let lv = Level { w: res.w(), h: res.h(), x0: res.x0, y0: res.y0 };
                dwt::inverse_level(buf, store, stride, lv, coding.reversible, rest);
            }
            arena.release(tmp);
        }
        self.output(arena, &comps[..ncomp], tile, out, store)
    }

    fn build(&self, arena: &mut Arena<'_>, c: usize, comp: &mut Comp, tile: Rect) -> Result<(), Jp2Error> {
        let coding = &self.params.comp[c];
        let levels = comp.levels;
        for r in 0..=levels as usize {
            let lv = levels - r as u32;
            let rect = Rect {
                x0: ceil_div_pow2(tile.x0, lv),
                y0: ceil_div_pow2(tile.y0, lv),
                x1: ceil_div_pow2(tile.x1, lv),
                y1: ceil_div_pow2(tile.y1, lv),
            };
            let pp = coding.precincts[r];
            let (ppx, ppy) = (u32::from(pp & 0x0F), u32::from(pp >> 4));
            let (pw, ph) = if rect.w() == 0 || rect.h() == 0 {
                (0, 0)
            } else {
                (
                    ceil_div_pow2(rect.x1, ppx) - (rect.x0 >> ppx),
                    ceil_div_pow2(rect.y1, ppy) - (rect.y0 >> ppy),
                )
            };
            let nbands = if r == 0 { 1 } else { 3 };
            let count = (pw as usize).checked_mul(ph as usize).ok_or(Jp2Error::TooLarge)?;
            let prec_base = arena.alloc(count.checked_mul(nbands * PB).ok_or(Jp2Error::TooLarge)?)?;
            comp.res[r] = Res { rect, ppx, ppy, pw, ph, prec_base, nbands };
            for b in 0..nbands {
                let (xob, yob) = match orientation(r, b) {
                    0 => (0, 0),
                    1 => (1, 0),
                    2 => (0, 1),
                    _ => (1, 1),
                };
                let nb = if r == 0 { levels } else { levels - r as u32 + 1 };
                let band = band_rect(tile, nb, xob, yob);
                let (bppx, bppy) = if r == 0 { (ppx, ppy) } else { (ppx - 1, ppy - 1) };
                let cbx = u32::from(coding.cbw).min(bppx);
                let cby = u32::from(coding.cbh).min(bppy);
                for pj in 0..ph {
                    for pi in 0..pw {
                        let gx0 = u64::from((rect.x0 >> ppx) + pi) << bppx;
                        let gy0 = u64::from((rect.y0 >> ppy) + pj) << bppy;
                        let px0 = gx0.max(u64::from(band.x0)) as u32;
                        let py0 = gy0.max(u64::from(band.y0)) as u32;
                        let px1 = (gx0 + (1 << bppx)).min(u64::from(band.x1)) as u32;
                        let py1 = (gy0 + (1 << bppy)).min(u64::from(band.y1)) as u32;
                        let (ncbw, ncbh, cbx0, cby0) = if px0 >= px1 || py0 >= py1 {
                            (0, 0, 0, 0)
                        } else {
                            (
                                ceil_div_pow2(px1, cbx) - (px0 >> cbx),
                                ceil_div_pow2(py1, cby) - (py0 >> cby),
                                px0 >> cbx,
                                py0 >> cby,
                            )
                        };
                        let n = (ncbw * ncbh) as usize;
                        let cb_base = arena.alloc(n * CB)?;
                        let nodes = tag_tree_nodes(ncbw as usize, ncbh as usize);
                        let incl = arena.alloc(2 * nodes)?;
                        let zbp = arena.alloc(2 * nodes)?;
                        for k in 0..nodes {
                            arena.words[incl + 2 * k] = i32::MAX;
                            arena.words[zbp + 2 * k] = i32::MAX;
                        }
                        for k in 0..n {
                            arena.words[cb_base + k * CB + CB_LBLOCK] = 3;
                        }
                        let rec = prec_base + ((pj * pw + pi) as usize * nbands + b) * PB;
                        let w = &mut arena.words[rec..rec + PB];
                        w[0] = cbx0 as i32;
                        w[1] = cby0 as i32;
                        w[2] = ncbw as i32;
                        w[3] = ncbh as i32;
                        w[4] = cb_base as i32;
                        w[5] = incl as i32;
                        w[6] = zbp as i32;
                    }
                }
            }
        }
        Ok(())
    }

    /// Band rectangle, position in the coefficient buffer, code-block exponents.
    fn band_geometry(
        &self,
        c: usize,
        comp: &Comp,
        r: usize,
        b: usize,
        tile: Rect,
    ) -> (Rect, usize, usize, u8) {
        let levels = comp.levels;
        let o = orientation(r, b);
        let (xob, yob) = match o {
            0 => (0, 0),
            1 => (1, 0),
            2 => (0, 1),
            _ => (1, 1),
        };
        let nb = if r == 0 { levels } else { levels - r as u32 + 1 };
        let band = band_rect(tile, nb, xob, yob);
        let (xoff, yoff) = if r == 0 {
            (0, 0)
        } else {
            let low = comp.res[r - 1].rect;
            (if xob == 1 { low.w() } else { 0 }, if yob == 1 { low.h() } else { 0 })
        };
        let _ = c;
        (band, xoff, yoff, o)
    }

    fn tier1(
        &self,
        arena: &mut Arena<'_>,
        c: usize,
        comp: &Comp,
        stride: usize,
        store: Store,
    ) -> Result<(), Jp2Error> {
        let coding = &self.params.comp[c];
        let quant = &self.params.quant[c];
        let (x0, y0, x1, y1) = self.siz.tile_rect(self.tile);
        let tile = Rect { x0, y0, x1, y1 };
        let flags_len = ((1usize << coding.cbw) + 2) * ((1usize << coding.cbh) + 2);
        let flags_at = arena.alloc(flags_len)?;
        // The code-block's values before dequantisation.
        let block_at = arena.alloc((1usize << coding.cbw) * (1usize << coding.cbh))?;
        let precision = u32::from(self.siz.comps[c].precision);
        for r in 0..=comp.levels as usize {
            let res = &comp.res[r];
            for b in 0..res.nbands {
                let (band, xoff, yoff, orient) = self.band_geometry(c, comp, r, b, tile);
                let nb = if r == 0 { comp.levels } else { comp.levels - r as u32 + 1 };
                let index = if r == 0 { 0 } else { 3 * (r - 1) + b + 1 };
                let (eps, mu) = quant.step(index, coding.levels, nb as u8)?;
                let mb = (i32::from(quant.guard) + i32::from(eps) - 1).max(0) as u32;
                let gain = match orient {
                    0 => 0,
                    1 | 2 => 1,
                    _ => 2,
                };
                // Δb = 2^(Rb - εb) (1 + μb / 2^11); the decoded values carry one extra bit.
                let rb = precision as i32 + gain - i32::from(eps) - 1;
                let delta = pow2f(rb) * (1.0 + f32::from(mu) / 2048.0);
                let (bppx, bppy) = if r == 0 { (res.ppx, res.ppy) } else { (res.ppx - 1, res.ppy - 1) };
                let cbx = u32::from(coding.cbw).min(bppx);
                let cby = u32::from(coding.cbh).min(bppy);
                for pk in 0..(res.pw * res.ph) as usize {
                    let rec = res.prec_base + (pk * res.nbands + b) * PB;
                    let pr: [i32; PB] =
                        arena.words[rec..rec + PB].try_into().map_err(|_| Jp2Error::Corrupt)?;
                    let (cbx0, cby0, ncbw, ncbh, cb_base) =
                        (pr[0] as u32, pr[1] as u32, pr[2] as u32, pr[3] as u32, pr[4] as usize);
                    for j in 0..ncbh {
                        for i in 0..ncbw {
                            let gx = (cbx0 + i) << cbx;
                            let gy = (cby0 + j) << cby;
                            let bx0 = gx.max(band.x0);
                            let by0 = gy.max(band.y0);
                            let bx1 = (gx + (1 << cbx)).min(band.x1);
                            let by1 = (gy + (1 << cby)).min(band.y1);
                            if bx0 >= bx1 || by0 >= by1 {
                                continue;
                            }
                            let cbr = cb_base + (j * ncbw + i) as usize * CB;
                            // Position in the tile-component's coefficients.
                            let origin =
                                (yoff + (by0 - band.y0) as usize) * stride + xoff + (bx0 - band.x0) as usize;
                            let (w, h) = ((bx1 - bx0) as usize, (by1 - by0) as usize);
                            let decoded = decode_code_block(
                                arena,
                                self.cs,
                                cbr,
                                (flags_at, flags_len),
                                block_at,
                                (w, h),
                                orient,
                                mb,
                                coding.style,
                            )?;
                            if !decoded {
                                continue;
                            }
                            // Dequantise into place.
                            let (low, high) = arena.words.split_at_mut(block_at);
                            let coefs = &mut low[comp.coef_base..];
                            for y in 0..h {
                                for x in 0..w {
                                    let v = high[y * w + x];
                                    let v = if coding.reversible {
                                        v / 2
                                    } else {
                                        (v as f32 * delta).to_bits() as i32
                                    };
                                    store.set(coefs, origin + y * stride + x, v);
                                }
                            }
                        }
                    }
                }
            }
        }
        arena.release(flags_at);
        Ok(())
    }

    fn output(
        &self,
        arena: &Arena<'_>,
        comps: &[Comp],
        tile: Rect,
        out: &mut [u8],
        store: Store,
    ) -> Result<(), Jp2Error> {
        let siz = &self.siz;
        let ncomp = siz.ncomp;
        let stride = tile.w();
        let width = (siz.x1 - siz.x0) as usize;
        let reversible = self.params.comp[0].reversible;
        if self.params.cod.mct && self.params.comp[..ncomp].iter().any(|c| c.reversible != reversible) {
            return Err(Jp2Error::Unsupported("mixed transforms with MCT"));
        }
        for y in 0..tile.h() {
            for x in 0..tile.w() {
                let mut v = [0f32; MAX_COMPONENTS];
                let mut iv = [0i32; MAX_COMPONENTS];
                for c in 0..ncomp {
                    let word = store.get(&arena.words[comps[c].coef_base..], y * stride + x);
                    if self.params.comp[c].reversible {
                        iv[c] = word;
                    } else {
                        v[c] = f32::from_bits(word as u32);
                    }
                }
                if self.params.cod.mct {
                    if reversible {
                        let g = iv[0].wrapping_sub(iv[2].wrapping_add(iv[1]) >> 2);
                        let r = iv[2].wrapping_add(g);
                        let b = iv[1].wrapping_add(g);
                        iv = [r, g, b];
                    } else {
                        let (y0, cb, cr) = (v[0], v[1], v[2]);
                        v = [y0 + 1.402 * cr, y0 - 0.344_13 * cb - 0.714_14 * cr, y0 + 1.772 * cb];
                    }
                }
                let px = (tile.y0 - siz.y0) as usize + y;
                let py_x = (tile.x0 - siz.x0) as usize + x;
                for c in 0..ncomp {
                    let s = if self.params.comp[c].reversible { iv[c] } else { round(v[c]) };
                    let comp = siz.comps[c];
                    let p = u32::from(comp.precision);
                    let shifted = if comp.signed { s } else { s.saturating_add(1 << (p - 1)) };
                    let (lo, hi) =
                        if comp.signed { (-(1 << (p - 1)), (1 << (p - 1)) - 1) } else { (0, (1 << p) - 1) };
                    let clamped = shifted.clamp(lo, hi) - lo;
                    let byte = if p >= 8 { clamped >> (p - 8) } else { clamped << (8 - p) };
                    let o = (px * width + py_x) * ncomp + c;
                    *out.get_mut(o).ok_or(Jp2Error::OutputTooSmall)? = byte as u8;
                }
            }
        }
        Ok(())
    }
}

/// Two coefficients per word when every component is reversible, at most 12 bits deep,
/// and no band has more than 14 magnitude bit-planes (values ×2 with the half bit then
/// stay within `i16`, and so do the 5/3 lifting steps on them).
pub(crate) fn choose_store(siz: &Siz, params: &Params) -> Result<Store, Jp2Error> {
    for c in 0..siz.ncomp {
        let coding = &params.comp[c];
        if !coding.reversible || siz.comps[c].precision > 12 {
            return Ok(Store::Wide);
        }
        let quant = &params.quant[c];
        for index in 0..=3 * usize::from(coding.levels) {
            let r = index.div_ceil(3);
            let nb = if r == 0 { coding.levels } else { coding.levels - r as u8 + 1 };
            let (eps, _) = quant.step(index, coding.levels, nb)?;
            if u32::from(quant.guard) + u32::from(eps) > 15 {
                return Ok(Store::Wide);
            }
        }
    }
    Ok(Store::Packed)
}

fn round(v: f32) -> i32 {
    if v >= 0.0 {
        (v + 0.5) as i32
    } else {
        (v - 0.5) as i32
    }
}

fn pow2f(e: i32) -> f32 {
    let mut v = 1.0f32;
    if e >= 0 {
        for _ in 0..e.min(126) {
            v *= 2.0;
        }
    } else {
        for _ in 0..(-e).min(126) {
            v *= 0.5;
        }
    }
    v
}

/// Gathers a code-block's segments from its chunk list and runs tier-1 on it.
#[allow(clippy::too_many_arguments)]
fn decode_code_block(
    arena: &mut Arena<'_>,
    cs: &[u8],
    cbr: usize,
    (flags_at, flags_len): (usize, usize),
    block_at: usize,
    (w, h): (usize, usize),
    band: u8,
    mb: u32,
    style: u8,
) -> Result<bool, Jp2Error> {
    let rec: [i32; CB] = arena.words[cbr..cbr + CB].try_into().map_err(|_| Jp2Error::Corrupt)?;
    if rec[CB_INCLUDED] == 0 || rec[CB_PASSES] == 0 {
        return Ok(false);
    }
    let zbp = rec[CB_ZBP] as u32;
    if zbp > mb {
        return Err(Jp2Error::Corrupt);
    }
    let mut segments: Vec<Segment, MAX_SEGMENTS> = Vec::new();
    let mut chunks: Vec<(u32, u32), MAX_CHUNKS> = Vec::new();
    let mut next = rec[CB_HEAD] as usize;
    let mut last_seg = -1;
    while next != 0 {
        let ch = next - 1;
        let c: [i32; CH] =
            arena.words.get(ch..ch + CH).and_then(|s| s.try_into().ok()).ok_or(Jp2Error::Corrupt)?;
        if c[CH_SEG] != last_seg {
            segments
                .push(Segment { first_chunk: chunks.len() as u16, chunks: 0, passes: 0 })
                .map_err(|_| Jp2Error::Unsupported("too many segments in a code-block"))?;
            last_seg = c[CH_SEG];
        }
        chunks
            .push((c[CH_OFFSET] as u32, c[CH_LEN] as u32))
            .map_err(|_| Jp2Error::Unsupported("too many chunks in a code-block"))?;
        if let Some(s) = segments.last_mut() {
            s.chunks += 1;
            s.passes += c[CH_PASSES] as u16;
        }
        next = c[CH_NEXT] as usize;
    }
    let block = Block {
        band,
        width: w,
        height: h,
        numbps: mb - zbp,
        style,
        segments: &segments,
        chunks: &chunks,
        data: cs,
    };
    let (low, rest) = arena.words.split_at_mut(block_at);
    let out = rest.get_mut(..w * h).ok_or(Jp2Error::ArenaTooSmall)?;
    out.fill(0);
    let flags = low.get_mut(flags_at..flags_at + flags_len).ok_or(Jp2Error::ArenaTooSmall)?;
    t1::decode_block(&block, out, w, flags)?;
    Ok(true)
}

impl Walk<'_, '_> {
    fn progression(&mut self, arena: &mut Arena<'_>) -> Result<(), Jp2Error> {
        let layers = u32::from(self.params.cod.layers);
        let maxres = self.comps.iter().map(|c| c.levels).max().unwrap_or(0) as usize;
        let ncomp = self.comps.len();
        match self.params.cod.progression {
            0 => {
                // LRCP
                for l in 0..layers {
                    for r in 0..=maxres {
                        for c in 0..ncomp {
                            for p in 0..self.precincts(c, r) {
                                self.packet(arena, l, r, c, p)?;
                            }
                        }
                    }
                }
            }
            1 => {
                // RLCP
                for r in 0..=maxres {
                    for l in 0..layers {
                        for c in 0..ncomp {
                            for p in 0..self.precincts(c, r) {
                                self.packet(arena, l, r, c, p)?;
                            }
                        }
                    }
                }
            }
            2 => {
                // RPCL
                for r in 0..=maxres {
                    let (xs, ys) = self.steps(|_, rr| rr == r);
                    let mut y = self.rect.y0;
                    while y < self.rect.y1 {
                        let mut x = self.rect.x0;
                        while x < self.rect.x1 {
                            for c in 0..ncomp {
                                if let Some(p) = self.precinct_at(c, r, x, y) {
                                    for l in 0..layers {
                                        self.packet(arena, l, r, c, p)?;
                                    }
                                }
                            }
                            x = next_step(x, xs);
                        }
                        y = next_step(y, ys);
                    }
                }
            }
            3 => {
                // PCRL
                let (xs, ys) = self.steps(|_, _| true);
                let mut y = self.rect.y0;
                while y < self.rect.y1 {
                    let mut x = self.rect.x0;
                    while x < self.rect.x1 {
                        for c in 0..ncomp {
                            for r in 0..=self.comps[c].levels as usize {
                                if let Some(p) = self.precinct_at(c, r, x, y) {
                                    for l in 0..layers {
                                        self.packet(arena, l, r, c, p)?;
                                    }
                                }
                            }
                        }
                        x = next_step(x, xs);
                    }
                    y = next_step(y, ys);
                }
            }
            _ => {
                // CPRL
                for c in 0..ncomp {
                    let (xs, ys) = self.steps(|cc, _| cc == c);
                    let mut y = self.rect.y0;
                    while y < self.rect.y1 {
                        let mut x = self.rect.x0;
                        while x < self.rect.x1 {
                            for r in 0..=self.comps[c].levels as usize {
                                if let Some(p) = self.precinct_at(c, r, x, y) {
                                    for l in 0..layers {
                                        self.packet(arena, l, r, c, p)?;
                                    }
                                }
                            }
                            x = next_step(x, xs);
                        }
                        y = next_step(y, ys);
                    }
                }
            }
        }
        Ok(())
    }

    fn precincts(&self, c: usize, r: usize) -> usize {
        let comp = &self.comps[c];
        if r > comp.levels as usize {
            return 0;
        }
        (comp.res[r].pw * comp.res[r].ph) as usize
    }

    /// Smallest precinct step on the reference grid over the (component, resolution) pairs
    /// `pick` selects.
    fn steps(&self, pick: impl Fn(usize, usize) -> bool) -> (u64, u64) {
        let (mut xs, mut ys) = (u64::MAX, u64::MAX);
        for (c, comp) in self.comps.iter().enumerate() {
            for r in 0..=comp.levels as usize {
                if pick(c, r) {
                    let lv = comp.levels - r as u32;
                    xs = xs.min(1u64 << (comp.res[r].ppx + lv));
                    ys = ys.min(1u64 << (comp.res[r].ppy + lv));
                }
            }
        }
        (xs, ys)
    }

    /// The precinct of (c, r) that starts at reference grid position (x, y), if one does.
    fn precinct_at(&self, c: usize, r: usize, x: u32, y: u32) -> Option<usize> {
        let comp = &self.comps[c];
        if r > comp.levels as usize {
            return None;
        }
        let res = &comp.res[r];
        if res.pw == 0 || res.ph == 0 {
            return None;
        }
        let lv = comp.levels - r as u32;
        let (rpx, rpy) = (res.ppx + lv, res.ppy + lv);
        let (x, y) = (u64::from(x), u64::from(y));
        let (mx, my) = ((1u64 << rpx) - 1, (1u64 << rpy) - 1);
        let ok_y = y & my == 0 || (y == u64::from(self.rect.y0) && (u64::from(res.rect.y0) << lv) & my != 0);
        let ok_x = x & mx == 0 || (x == u64::from(self.rect.x0) && (u64::from(res.rect.x0) << lv) & mx != 0);
        if !ok_x || !ok_y {
            return None;
        }
        let cx = (x + (1 << lv) - 1) >> lv;
        let cy = (y + (1 << lv) - 1) >> lv;
        let pi = (cx >> res.ppx).checked_sub(u64::from(res.rect.x0 >> res.ppx))?;
        let pj = (cy >> res.ppy).checked_sub(u64::from(res.rect.y0 >> res.ppy))?;
        if pi >= u64::from(res.pw) || pj >= u64::from(res.ph) {
            return None;
        }
        Some((pj * u64::from(res.pw) + pi) as usize)
    }

    /// Moves to the next tile-part when the current one is used up.
    fn data_end(&mut self) -> Result<usize, Jp2Error> {
        while self.pos >= self.parts.get(self.part).ok_or(Jp2Error::Truncated)?.1 {
            self.part += 1;
            self.pos = self.parts.get(self.part).ok_or(Jp2Error::Truncated)?.0;
        }
        Ok(self.parts[self.part].1)
    }

    fn packet(
        &mut self,
        arena: &mut Arena<'_>,
        layer: u32,
        r: usize,
        c: usize,
        p: usize,
    ) -> Result<(), Jp2Error> {
        let end = self.data_end()?;
        let cod = &self.params.cod;
        let style = self.params.comp[c].style;
        if cod.sop && self.cs.get(self.pos..self.pos + 2) == Some(&[0xFF, 0x91]) {
            self.pos += 6;
        }
        let res = self.comps[c].res[r];
        let mut bits = Bits { data: self.cs, pos: self.pos, end, buf: 0, ct: 0 };
        let first_chunk = arena.top;
        if bits.bit()? == 1 {
            for b in 0..res.nbands {
                let rec = res.prec_base + (p * res.nbands + b) * PB;
                let pr: [i32; PB] = arena.words[rec..rec + PB].try_into().map_err(|_| Jp2Error::Corrupt)?;
                let (ncbw, ncbh, cb_base, incl, zbp) =
                    (pr[2] as usize, pr[3] as usize, pr[4] as usize, pr[5] as usize, pr[6] as usize);
                for j in 0..ncbh {
                    for i in 0..ncbw {
                        let cbr = cb_base + (j * ncbw + i) * CB;
                        let included_before = arena.words[cbr + CB_INCLUDED] != 0;
                        let included = if included_before {
                            bits.bit()? == 1
                        } else {
                            tag_tree_decode(
                                arena.words,
                                incl,
                                (ncbw, ncbh),
                                (i, j),
                                layer as i32 + 1,
                                &mut bits,
                            )?
                        };
                        if !included {
                            continue;
                        }
                        if !included_before {
                            let mut t = 1;
                            while !tag_tree_decode(arena.words, zbp, (ncbw, ncbh), (i, j), t, &mut bits)? {
                                t += 1;
                                if t > 64 {
                                    return Err(Jp2Error::Corrupt);
                                }
                            }
                            arena.words[cbr + CB_ZBP] = t - 1;
                            arena.words[cbr + CB_INCLUDED] = 1;
                        }
                        let mut passes = if bits.bit()? == 0 {
                            1
                        } else if bits.bit()? == 0 {
                            2
                        } else {
                            match bits.bits(2)? {
                                3 => match bits.bits(5)? {
                                    31 => 37 + bits.bits(7)?,
                                    n => 6 + n,
                                },
                                n => 3 + n,
                            }
                        } as i32;
                        while bits.bit()? == 1 {
                            arena.words[cbr + CB_LBLOCK] += 1;
                            if arena.words[cbr + CB_LBLOCK] > 32 {
                                return Err(Jp2Error::Corrupt);
                            }
                        }
                        let lblock = arena.words[cbr + CB_LBLOCK] as u32;
                        let (mut seg, mut seg_passes) =
                            (arena.words[cbr + CB_SEG], arena.words[cbr + CB_SEG_PASSES]);
                        if arena.words[cbr + CB_PASSES] > 0 && seg_passes >= max_passes(style, seg) {
                            seg += 1;
                            seg_passes = 0;
                        }
                        loop {
                            let take = passes.min(max_passes(style, seg) - seg_passes);
                            let nbits = lblock + (31 - (take as u32).leading_zeros());
                            if nbits > 31 {
                                return Err(Jp2Error::Corrupt);
                            }
                            let len = bits.bits(nbits)?;
                            let ch = arena.alloc(CH)?;
                            let w = &mut arena.words[ch..ch + CH];
                            w[CH_SEG] = seg;
                            w[CH_LEN] = len as i32;
                            w[CH_PASSES] = take;
                            let tail = arena.words[cbr + CB_TAIL] as usize;
                            if tail == 0 {
                                arena.words[cbr + CB_HEAD] = ch as i32 + 1;
                            } else {
                                arena.words[tail - 1 + CH_NEXT] = ch as i32 + 1;
                            }
                            arena.words[cbr + CB_TAIL] = ch as i32 + 1;
                            seg_passes += take;
                            passes -= take;
                            arena.words[cbr + CB_PASSES] += take;
                            if arena.words[cbr + CB_PASSES] > 3 * t1::MAX_BITPLANES as i32 {
                                return Err(Jp2Error::Corrupt);
                            }
                            if passes == 0 {
                                break;
                            }
                            seg += 1;
                            seg_passes = 0;
                        }
                        arena.words[cbr + CB_SEG] = seg;
                        arena.words[cbr + CB_SEG_PASSES] = seg_passes;
                    }
                }
            }
        }
        bits.align()?;
        let mut pos = bits.pos;
        if cod.eph {
            if self.cs.get(pos..pos + 2) == Some(&[0xFF, 0x92]) {
                pos += 2;
            } else {
                return Err(Jp2Error::Corrupt);
            }
        }
        // Body: the chunks allocated by this header, in order.
        let mut ch = first_chunk;
        while ch < arena.top {
            let len = arena.words[ch + CH_LEN] as usize;
            arena.words[ch + CH_OFFSET] = pos as i32;
            pos = pos.checked_add(len).ok_or(Jp2Error::Corrupt)?;
            ch += CH;
        }
        if pos > end {
            return Err(Jp2Error::Truncated);
        }
        self.pos = pos;
        Ok(())
    }
}

fn next_step(v: u32, step: u64) -> u32 {
    let n = (u64::from(v) / step + 1) * step;
    n.min(u64::from(u32::MAX)) as u32
}
