//! A JPEG 2000 (ITU-T T.800 | ISO/IEC 15444-1) decoder for the card's face photo, in no_std
//! and without a heap: the caller lends a word arena for the coefficients and the code-block
//! state, and the output buffer; both are wiped when the decode ends or the image is dropped.
//!
//! Scope, as the photos of My Number cards need it (the fixture card: JP2, one greyscale
//! 8-bit component, one tile, LRCP, one layer, five levels of reversible 5/3, 64×64
//! code-blocks, no code-block style flags), and a little wider so encoders' common choices
//! decode too:
//!
//! * JP2 boxes (`jP  `, `ftyp`, `jp2h` with `ihdr` and `colr`, `jp2c`) or a raw codestream;
//! * SIZ, COD, COC, QCD, QCC, SOT, SOD, EOC; COM, TLM, PLM, PLT, CRG skipped;
//! * one or more tiles and tile-parts; 1 (greyscale) or 3 components (RGB out, with the
//!   reversible or irreversible component transform), no sub-sampling, up to 16 bits;
//! * all five progression orders, user-defined precincts, SOP and EPH markers, any number of
//!   quality layers;
//! * tier-1 with every code-block style flag (bypass, reset, termination on each pass,
//!   vertically causal, predictable termination, segmentation symbols);
//! * no, derived and expounded scalar quantisation; 5/3 and 9/7; up to 12 levels.
//!
//! Everything else is a typed [`Jp2Error`]: ROI (RGN), POC, packed packet headers, palettes,
//! sub-sampled components. Nothing in the input can make it panic.
//!
//! Memory: [`arena_words`] says how many `i32` words a given photo needs. Reversible images up
//! to 12 bits keep two 16-bit coefficients per word. For the card photo (378 × 472, 5/3) the
//! decode uses 98 626 words (385 KiB): the 89 208-word coefficient buffer, 8 452 words of
//! code-block scratch (64 × 64 values and their context flags), one row/column and the
//! packet state; plus the caller's 178 416-byte output and about 5 KiB of stack.

mod dwt;
mod header;
mod mq;
mod store;
mod t1;
mod tile;

use core::sync::atomic::{compiler_fence, Ordering};

use heapless::Vec;

use header::{MainHeader, EOC, SOT};
use tile::{TileDecoder, MAX_TILE_PARTS};

/// Why a JPEG 2000 image could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Jp2Error {
    /// Neither a JP2 signature nor a codestream SOC marker.
    #[error("not JPEG 2000")]
    NotJpeg2000,
    /// The input ends before a box, marker segment, packet or tile-part does.
    #[error("truncated JPEG 2000 data")]
    Truncated,
    /// A JP2 box is missing, out of order or malformed.
    #[error("malformed JP2 box structure")]
    BadBox,
    /// A marker segment the decoder needs is missing.
    #[error("missing marker {0:#06x}")]
    MissingMarker(u16),
    /// A marker where another was required, or one that is not defined.
    #[error("unexpected marker {0:#06x}")]
    UnexpectedMarker(u16),
    /// A marker segment with a wrong length or value.
    #[error("malformed marker segment {0:#06x}")]
    BadMarker(u16),
    /// The JP2 header and the codestream disagree.
    #[error("JP2 header does not match the codestream")]
    HeaderMismatch,
    /// Valid JPEG 2000, but a feature this decoder leaves out.
    #[error("unsupported JPEG 2000 feature: {0}")]
    Unsupported(&'static str),
    /// Packet or code-block data that cannot be right (too many passes, lengths past the
    /// tile-part, bit-planes out of range, missing EPH).
    #[error("corrupt packet or code-block data")]
    Corrupt,
    /// Image or structure sizes beyond what the decoder accepts.
    #[error("image too large")]
    TooLarge,
    /// The arena lent for the decode is too small.
    #[error("decode arena too small")]
    ArenaTooSmall,
    /// The output buffer is smaller than width × height × components.
    #[error("output buffer too small")]
    OutputTooSmall,
}

/// The size and layout of a JPEG 2000 image, from its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ImageInfo {
    pub width: u32,
    pub height: u32,
    /// 1 (greyscale) or 3 (RGB after the component transform).
    pub components: u8,
    /// Bits per sample of the first component (output is scaled to 8).
    pub precision: u8,
    /// Whether the first component uses the reversible 5/3 path.
    pub reversible: bool,
    pub tiles: u32,
}

impl ImageInfo {
    /// Bytes of the decoded image: width × height × components.
    pub fn output_len(&self) -> usize {
        self.width as usize * self.height as usize * usize::from(self.components)
    }
}

/// Reads the headers only.
pub fn info(jp2: &[u8]) -> Result<ImageInfo, Jp2Error> {
    let (cs, _) = header::codestream(jp2)?;
    Ok(info_of(&parse_main(jp2, cs)?))
}

fn parse_main(jp2: &[u8], cs: &[u8]) -> Result<MainHeader, Jp2Error> {
    let main = header::main_header(cs)?;
    if let (_, Some(boxes)) = header::codestream(jp2)? {
        let s = &main.siz;
        if boxes.width != s.x1 - s.x0
            || boxes.height != s.y1 - s.y0
            || usize::from(boxes.components) != s.ncomp
        {
            return Err(Jp2Error::HeaderMismatch);
        }
    }
    Ok(main)
}

fn info_of(main: &MainHeader) -> ImageInfo {
    let s = &main.siz;
    ImageInfo {
        width: s.x1 - s.x0,
        height: s.y1 - s.y0,
        components: s.ncomp as u8,
        precision: s.comps[0].precision,
        reversible: main.params.comp[0].reversible,
        tiles: s.tiles_across() * s.tiles_down(),
    }
}

/// Arena words to lend for the decode of `jp2`: the largest tile's coefficients for every
/// component (two per word on the reversible path of images up to 12 bits), plus a generous
/// estimate of the code-block state from the main header's code-block size, levels and
/// layers. Images coded with tiny precincts, very many layers, or tile-part headers that
/// change the coding may need more; the decode then fails with [`Jp2Error::ArenaTooSmall`],
/// never overruns.
pub fn arena_words(jp2: &[u8]) -> Result<usize, Jp2Error> {
    let (cs, _) = header::codestream(jp2)?;
    let main = parse_main(jp2, cs)?;
    let s = &main.siz;
    let tw = s.tw.min(s.x1 - s.x0) as usize + 1;
    let th = s.th.min(s.y1 - s.y0) as usize + 1;
    let store = tile::choose_store(s, &main.params)?;
    let coefs = tw
        .checked_mul(th)
        .map(|a| store.words(a))
        .and_then(|a| a.checked_mul(s.ncomp))
        .ok_or(Jp2Error::TooLarge)?;
    // Structures: precinct and code-block records, tag trees and chunk records are bounded
    // by the number of code-blocks; small code-blocks are the worst case per sample.
    let c = &main.params.comp[0];
    let cb_area = (1usize << c.cbw) * (1usize << c.cbh);
    let blocks = 4 * (tw * th / cb_area.max(16) + (c.levels as usize + 1) * 3 * 16) * s.ncomp;
    let per_block = 8 + 8 + 2 * 2 * 2 + 5 * 2 * usize::from(main.params.cod.layers).min(16);
    let scratch =
        ((1usize << c.cbw) + 2) * ((1usize << c.cbh) + 2) + (1usize << (c.cbw + c.cbh)) + tw.max(th);
    blocks
        .checked_mul(per_block)
        .and_then(|b| b.checked_add(coefs + scratch + 1024))
        .ok_or(Jp2Error::TooLarge)
}

/// A bump allocator over the lent words; allocations are zeroed.
pub(crate) struct Arena<'a> {
    pub(crate) words: &'a mut [i32],
    pub(crate) top: usize,
    high_water: usize,
}

impl<'a> Arena<'a> {
    fn new(words: &'a mut [i32]) -> Self {
        Self { words, top: 0, high_water: 0 }
    }

    pub(crate) fn alloc(&mut self, n: usize) -> Result<usize, Jp2Error> {
        let at = self.top;
        let end = at.checked_add(n).ok_or(Jp2Error::ArenaTooSmall)?;
        let region = self.words.get_mut(at..end).ok_or(Jp2Error::ArenaTooSmall)?;
        region.fill(0);
        self.top = end;
        self.high_water = self.high_water.max(end);
        Ok(at)
    }

    pub(crate) fn release(&mut self, at: usize) {
        self.top = at.min(self.top);
    }
}

impl Drop for Arena<'_> {
    /// Wipes every word the decode touched, on success and on error alike.
    fn drop(&mut self) {
        let used = self.high_water.min(self.words.len());
        wipe_words(&mut self.words[..used]);
    }
}

fn wipe_words(buf: &mut [i32]) {
    for w in buf.iter_mut() {
        *w = 0;
    }
    core::hint::black_box(&mut *buf);
    compiler_fence(Ordering::SeqCst);
}

fn wipe_bytes(buf: &mut [u8]) {
    for b in buf.iter_mut() {
        *b = 0;
    }
    core::hint::black_box(&mut *buf);
    compiler_fence(Ordering::SeqCst);
}

/// A decoded image in the caller's buffer: 8-bit samples, row after row, components
/// interleaved. The buffer is wiped when this is dropped.
pub struct DecodedImage<'o> {
    pixels: &'o mut [u8],
    info: ImageInfo,
    arena_used: usize,
}

impl DecodedImage<'_> {
    pub fn info(&self) -> ImageInfo {
        self.info
    }

    pub fn pixels(&self) -> &[u8] {
        self.pixels
    }

    /// Highest arena word the decode used (what a photo of this kind needs).
    pub fn arena_words_used(&self) -> usize {
        self.arena_used
    }

    /// Leaves the pixels in the caller's buffer, and the duty to wipe them with the caller
    /// (the face verifier, which wipes its frame buffer after every attempt).
    pub fn hand_over(self) -> ImageInfo {
        let info = self.info;
        core::mem::forget(self);
        info
    }
}

impl core::fmt::Debug for DecodedImage<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DecodedImage").field("info", &self.info).finish_non_exhaustive()
    }
}

impl Drop for DecodedImage<'_> {
    fn drop(&mut self) {
        wipe_bytes(self.pixels);
    }
}

/// Decodes `jp2` (a JP2 file or a raw codestream) into `out`, using `arena` as working
/// memory ([`arena_words`] says how much). The arena is wiped before this returns; `out` is
/// wiped on error, and when the answered image is dropped.
pub fn decode<'o>(jp2: &[u8], arena: &mut [i32], out: &'o mut [u8]) -> Result<DecodedImage<'o>, Jp2Error> {
    let mut arena = Arena::new(arena);
    match decode_into(jp2, &mut arena, out) {
        Ok(info) => {
            let n = info.output_len();
            let arena_used = arena.high_water;
            Ok(DecodedImage { pixels: &mut out[..n], info, arena_used })
        }
        Err(e) => {
            wipe_bytes(out);
            Err(e)
        }
    }
}

fn decode_into(jp2: &[u8], arena: &mut Arena<'_>, out: &mut [u8]) -> Result<ImageInfo, Jp2Error> {
    let (cs, _) = header::codestream(jp2)?;
    let main = parse_main(jp2, cs)?;
    let info = info_of(&main);
    if out.len() < info.output_len() {
        return Err(Jp2Error::OutputTooSmall);
    }
    out[..info.output_len()].fill(0);
    for t in 0..info.tiles {
        // Gather the tile's parts, in order, from the whole codestream.
        let mut parts: Vec<(usize, usize), MAX_TILE_PARTS> = Vec::new();
        let mut first = None;
        let mut at = main.first_sot;
        let mut expect_index = 0u8;
        while at + 2 <= cs.len() && header::be16(cs, at)? == SOT {
            let tp = header::tile_part(cs, at)?;
            if u32::from(tp.tile) >= info.tiles {
                return Err(Jp2Error::BadMarker(SOT));
            }
            if u32::from(tp.tile) == t {
                if tp.index != expect_index {
                    return Err(Jp2Error::BadMarker(SOT));
                }
                expect_index = expect_index.wrapping_add(1);
                if first.is_none() {
                    first = Some(tp);
                }
                parts.push(tp.data).map_err(|_| Jp2Error::Unsupported("more than 32 tile-parts"))?;
            }
            at = tp.end;
        }
        if at + 2 <= cs.len() && header::be16(cs, at)? != EOC {
            return Err(Jp2Error::UnexpectedMarker(header::be16(cs, at)?));
        }
        let first = first.ok_or(Jp2Error::Truncated)?;
        let params = header::tile_params(cs, &main, &first)?;
        let tile = TileDecoder { cs, siz: main.siz, params, tile: t, parts };
        tile.decode(arena, out)?;
        // Next tile reuses (and overwrites) the same words.
        let used = arena.top;
        wipe_words(&mut arena.words[..used]);
        arena.release(0);
    }
    Ok(info)
}
