//! The face detector: our own inference of dlib's CNN detector `mmod_human_face_detector`
//! (from the PyPI package `face_recognition_models`, CC0), reproducing dlib's
//! `cnn_face_detection_model_v1(path)(img, 0)` (no upsampling).
//!
//! The steps, as dlib 20.0 does them (facts read from its sources, our code):
//! 1. the tiled image pyramid ([`pyramid`]): level 0 is the image as (pixel − mean)/256 per
//!    channel; each next level is dlib's bilinear `resize_image` of the previous level's
//!    *float* values (its 4-lane path: column positions accumulated in f32 four at a time, row
//!    positions in f64, a scalar tail for the last columns), all levels tiled into one image
//!    with zero (mean colour) elsewhere;
//! 2. the network on the tiled image: 5×5/2 convolutions to 16, 32, 32 channels, three 5×5
//!    convolutions of 45 (padding 2), each followed by its (folded) affine layer and a relu,
//!    then a 9×9 convolution (padding 4) to one score map;
//! 3. every score > 0 (adjust_threshold 0) is a detection: its map position (c, r) is the
//!    tiled-image point (8c + 14, 8r + 14), the centre of an 80×80 window (dlib's
//!    `centered_drect`: corners at ±39.5), mapped to the level whose tile is nearest and up to
//!    the image (p·6/5 + 0.3 per level), rounded to whole pixels;
//! 4. greedy non-maximum suppression in order of decreasing score with dlib's
//!    `test_box_overlap` (intersection over the *bounding box* of the pair above the IoU
//!    threshold, or intersection over either box above the covered threshold; both from the
//!    weight file: 0.3383 and 1.0 for this model).
//!
//! Memory: nothing is allocated; the caller gives an arena of [`Detector::arena_len`] f32
//! words for its frame size. The network runs over the tiled image row by row: each layer's
//! input is a ring of as many rows as its kernel is high, and the pyramid levels are made
//! row by row on demand (two rows per level cached, one chain of levels for each of the
//! tiled image's two columns), so the arena grows with the frame's width, not its area:
//! [`ARENA_320X240`] and [`ARENA_640X480`] words. Weights are read from the blob in place (it
//! can stay in memory-mapped external flash): [`format::file_len`] = 723,080 bytes.
//!
//! Budget (`hil-tests/tests/face_detect_parity.rs` prints it): 99,710 arena words (398,840
//! bytes) and 1,081,210,000 multiply-accumulates for 320×240 (tiled image 342×921); 193,802
//! words (775,208 bytes) and 4,205,564,400 multiply-accumulates for 640×480 (tiled 662×1782).
//! Stack: about 3 KiB of run state plus one small frame per pyramid level (the levels are made
//! recursively; 24 levels for 480 rows). Parity with dlib 20.0.1 on 26 inputs: the same boxes
//! to the pixel, confidence within 2e-6.

pub mod format;
pub mod pyramid;

use super::image::{ImageRef, Rect};
use format::{ConvShape, CONVS, CONV_HEADER_LEN, HEADER_LEN, MAGIC, N_CONV};
use pyramid::{Plan, MAX_LEVELS, OUTER_PADDING, PADDING, PYRAMID_N};

/// Candidate windows above the threshold the arena holds before non-maximum suppression.
pub const MAX_CANDIDATES: usize = 1024;
/// Arena words per candidate: score and the four edges.
const CAND_WORDS: usize = 5;
/// Activations: the tiled image and the outputs of the convolutions (the last is the score).
const N_ACT: usize = N_CONV + 1;

/// Arena words for a 320×240 frame.
pub const ARENA_320X240: usize = Detector::arena_len(320, 240);
/// Arena words for a 640×480 frame.
pub const ARENA_640X480: usize = Detector::arena_len(640, 480);

/// A face found in the image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Detection {
    /// The box in image pixels (may reach past the image's edges, as dlib's do).
    pub rect: Rect,
    /// dlib's detection confidence (the network's score; > 0).
    pub confidence: f32,
}

/// Why a weight file or a detection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DetectError {
    #[error("not a detector weight file (magic)")]
    BadMagic,
    #[error("the weight file's length differs from the format's")]
    BadLength,
    #[error("the weight file's checksum does not match")]
    BadChecksum,
    #[error("convolution {0} of the weight file differs from the network")]
    BadLayer(usize),
    #[error("the weight file's pyramid, window or overlap parameters are not dlib's")]
    BadParams,
    #[error("an image of {width}×{height}: sides from 1 to 16384 are taken")]
    ImageSize { width: usize, height: usize },
    #[error("an arena of {got} words, {need} needed")]
    ArenaTooSmall { need: usize, got: usize },
    #[error("more than {0} candidate windows score above the threshold")]
    TooManyCandidates(usize),
}

/// Where everything for one frame size lives in the arena, and the activations' sizes.
#[derive(Clone, Copy)]
struct Geometry {
    plan: Plan,
    /// Rows, columns and channels of the tiled image (0) and of each convolution's output.
    h: [usize; N_ACT],
    w: [usize; N_ACT],
    /// Offsets of each level's two cached rows inside a chain.
    level_off: [usize; MAX_LEVELS],
    /// Offsets of the two chains, of the row rings of the activations 0..N_CONV (each holds as
    /// many rows as the next convolution's kernel is high), of the score row and of the
    /// candidates.
    chain_off: [usize; 2],
    ring_off: [usize; N_CONV],
    score_off: usize,
    cand_off: usize,
    total: usize,
}

const fn channels(i: usize) -> usize {
    if i == 0 {
        3
    } else {
        CONVS[i - 1].out
    }
}

impl Geometry {
    const fn new(width: usize, height: usize) -> Option<Geometry> {
        let Some(plan) = Plan::new(width, height) else { return None };
        let mut h = [0; N_ACT];
        let mut w = [0; N_ACT];
        h[0] = plan.rows;
        w[0] = plan.cols;
        let mut i = 1;
        while i < N_ACT {
            h[i] = CONVS[i - 1].out_len(h[i - 1]);
            w[i] = CONVS[i - 1].out_len(w[i - 1]);
            i += 1;
        }
        let mut level_off = [0; MAX_LEVELS];
        let mut chain_len = 0;
        i = 0;
        while i < plan.levels {
            level_off[i] = chain_len;
            chain_len += 2 * 3 * plan.tiles[i].width() as usize;
            i += 1;
        }
        let chain_off = [0, chain_len];
        let mut off = 2 * chain_len;
        let mut ring_off = [0; N_CONV];
        i = 0;
        while i < N_CONV {
            ring_off[i] = off;
            off += CONVS[i].k * channels(i) * w[i];
            i += 1;
        }
        let score_off = off;
        off += w[N_CONV];
        let cand_off = off;
        off += MAX_CANDIDATES * CAND_WORDS;
        Some(Geometry { plan, h, w, level_off, chain_off, ring_off, score_off, cand_off, total: off })
    }
}

/// One column's chain of pyramid levels made on demand: for each level the two rows cached
/// (their row numbers, −1 for none, and which was used last) and dlib's running row position.
struct Chain {
    level: usize,
    tag: [[i32; 2]; MAX_LEVELS],
    mru: [u8; MAX_LEVELS],
    y_row: [i32; MAX_LEVELS],
    y_val: [f64; MAX_LEVELS],
}

impl Chain {
    const fn new() -> Chain {
        Chain {
            level: usize::MAX,
            tag: [[-1; 2]; MAX_LEVELS],
            mru: [0; MAX_LEVELS],
            y_row: [-1; MAX_LEVELS],
            y_val: [0.0; MAX_LEVELS],
        }
    }
}

/// dlib's row (or column) step of the bilinear resize from `from` to `to` samples.
fn scale(from: i64, to: i64) -> f64 {
    (from - 1) as f64 / core::cmp::max(to - 1, 1) as f64
}

/// One channel of one row of dlib's bilinear `resize_image` for same-type grey images (the
/// path float tensors take): four columns at a time with f32 positions and weights while the
/// fourth column's right neighbour is inside the source row, then column by column in f64.
fn resize_row(top: &[f32], bottom: &[f32], dst: &mut [f32], tb_frac: f64, x_scale: f64) {
    let n_in = top.len() as i64;
    let tbf = tb_frac as f32;
    let inv_tbf = (1.0 - tb_frac) as f32;
    let step4 = (4.0 * x_scale) as f32;
    let x0 = -4.0 * x_scale;
    let mut lanes =
        [x0 as f32, (x0 + x_scale) as f32, (x0 + 2.0 * x_scale) as f32, (x0 + 3.0 * x_scale) as f32];
    let mut c = 0usize;
    loop {
        let mut left = [0i64; 4];
        let mut lr = [0f32; 4];
        for k in 0..4 {
            lanes[k] += step4;
            left[k] = lanes[k] as i32 as i64; // truncation, as _mm_cvttps_epi32
            lr[k] = lanes[k] - left[k] as f32;
        }
        if left[3] + 1 >= n_in || c + 4 > dst.len() || left[0] < 0 {
            break;
        }
        for k in 0..4 {
            let (l, r) = (left[k] as usize, left[k] as usize + 1);
            let inv_lr = 1.0 - lr[k];
            let tlf = inv_tbf * inv_lr;
            let trf = inv_tbf * lr[k];
            let blf = tbf * inv_lr;
            let brf = tbf * lr[k];
            dst[c + k] = tlf * top[l] + trf * top[r] + blf * bottom[l] + brf * bottom[r];
        }
        c += 4;
    }
    let mut x = -x_scale + c as f64 * x_scale;
    while c < dst.len() {
        x += x_scale;
        let left = floor_i64(x).clamp(0, n_in - 1);
        let right = core::cmp::min(left + 1, n_in - 1);
        let lr = (x - left as f64) as f32;
        let (l, r) = (left as usize, right as usize);
        let upper = (1.0 - lr) * top[l] + lr * top[r];
        let lower = (1.0 - lr) * bottom[l] + lr * bottom[r];
        dst[c] = ((1.0 - tb_frac) * upper as f64 + tb_frac * lower as f64) as f32;
        c += 1;
    }
}

/// One kernel row of a convolution: `d[x] += Σₜ w[t]·row[x·stride + t − pad]` over the taps
/// that fall inside the row (the rest is the zero padding). The columns whose window is
/// wholly inside go tap-fused; the few at the edges tap by tap.
fn taps<const K: usize>(d: &mut [f32], row: &[f32], w: &[f32; 9], stride: usize, pad: usize) {
    let (w_out, w_in) = (d.len(), row.len());
    let wk: [f32; K] = core::array::from_fn(|t| w[t]);
    let lo = pad.div_ceil(stride);
    let hi = if w_in + pad >= K { core::cmp::min(w_out, (w_in + pad - K) / stride + 1) } else { 0 };
    if lo < hi {
        for (x, dv) in (lo..hi).zip(d[lo..hi].iter_mut()) {
            let b = x * stride - pad;
            let win = &row[b..b + K];
            let mut acc = 0.0;
            for t in 0..K {
                acc += wk[t] * win[t];
            }
            *dv += acc;
        }
    }
    for x in (0..core::cmp::min(lo, w_out)).chain(core::cmp::max(hi, lo)..w_out) {
        let mut acc = 0.0;
        for (t, wt) in wk.iter().enumerate() {
            let xi = x * stride + t;
            if xi >= pad && xi - pad < w_in {
                acc += wt * row[xi - pad];
            }
        }
        d[x] += acc;
    }
}

fn floor_i64(x: f64) -> i64 {
    let t = x as i64;
    if (t as f64) > x {
        t - 1
    } else {
        t
    }
}

/// dlib's `test_box_overlap(iou, covered)` on whole-pixel boxes.
fn overlaps(a: &Rect, b: &Rect, iou: f64, covered: f64) -> bool {
    let inner = Rect {
        left: a.left.max(b.left),
        top: a.top.max(b.top),
        right: a.right.min(b.right),
        bottom: a.bottom.min(b.bottom),
    }
    .area() as f64;
    if inner == 0.0 {
        return false;
    }
    let outer = Rect {
        left: a.left.min(b.left),
        top: a.top.min(b.top),
        right: a.right.max(b.right),
        bottom: a.bottom.max(b.bottom),
    }
    .area() as f64;
    inner / outer > iou || inner / a.area() as f64 > covered || inner / b.area() as f64 > covered
}

fn rd_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn rd_f32(b: &[u8], at: usize) -> f32 {
    f32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn rd_f64(b: &[u8], at: usize) -> f64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    f64::from_le_bytes(x)
}

/// The detector over a weight file in our [`format`] (borrowed: it can stay in flash).
pub struct Detector<'a> {
    blob: &'a [u8],
    means: [f32; 3],
    window: (u32, u32),
    nms_iou: f64,
    nms_covered: f64,
    /// Byte offset of each convolution's biases (its weights follow).
    conv_off: [usize; N_CONV],
}

/// The state of one detection run.
struct Run<'d, 'a, 'i> {
    det: &'d Detector<'a>,
    g: &'d Geometry,
    img: ImageRef<'i>,
    chains: [Chain; 2],
    done: [usize; N_ACT],
    n_cand: usize,
}

impl<'a> Detector<'a> {
    /// Checks a weight file (magic, length, checksum, every layer's shape, the pyramid and
    /// overlap parameters) and keeps a reference to it.
    pub fn parse(blob: &'a [u8]) -> Result<Detector<'a>, DetectError> {
        if blob.len() < 8 || blob[..8] != MAGIC {
            return Err(DetectError::BadMagic);
        }
        if blob.len() != format::file_len() || rd_u32(blob, 8) as usize != blob.len() {
            return Err(DetectError::BadLength);
        }
        let n = blob.len();
        if format::fnv1a(&blob[..n - 4]) != rd_u32(blob, n - 4) {
            return Err(DetectError::BadChecksum);
        }
        let means = [rd_f32(blob, 12), rd_f32(blob, 16), rd_f32(blob, 20)];
        let (pn, pad, outer) = (rd_u32(blob, 24), rd_u32(blob, 28) as i64, rd_u32(blob, 32) as i64);
        let window = (rd_u32(blob, 36), rd_u32(blob, 40));
        let (nms_iou, nms_covered) = (rd_f64(blob, 44), rd_f64(blob, 52));
        let ok = pn == PYRAMID_N
            && pad == PADDING
            && outer == OUTER_PADDING
            && (1..=1024).contains(&window.0)
            && (1..=1024).contains(&window.1)
            && (0.0..=1.0).contains(&nms_iou)
            && (0.0..=1.0).contains(&nms_covered)
            && means.iter().all(|m| (0.0..=255.0).contains(m))
            && rd_u32(blob, 60) as usize == N_CONV;
        if !ok {
            return Err(DetectError::BadParams);
        }
        let mut conv_off = [0; N_CONV];
        let mut at = HEADER_LEN;
        for (i, s) in CONVS.iter().enumerate() {
            let mut hdr = [0usize; 6];
            for (j, h) in hdr.iter_mut().enumerate() {
                *h = rd_u32(blob, at + 4 * j) as usize;
            }
            if hdr != [s.out, s.inp, s.k, s.stride, s.pad, s.relu as usize] {
                return Err(DetectError::BadLayer(i));
            }
            conv_off[i] = at + CONV_HEADER_LEN;
            at += format::conv_record_len(s);
        }
        Ok(Detector { blob, means, window, nms_iou, nms_covered, conv_off })
    }

    /// f32 words of arena [`Detector::detect`] needs for a `width`×`height` frame (0 for a
    /// size it refuses).
    pub const fn arena_len(width: usize, height: usize) -> usize {
        match Geometry::new(width, height) {
            Some(g) => g.total,
            None => 0,
        }
    }

    /// Rows and columns of dlib's tiled pyramid image for a frame size.
    pub const fn tiled_size(width: usize, height: usize) -> Option<(usize, usize)> {
        match Plan::new(width, height) {
            Some(p) => Some((p.rows, p.cols)),
            None => None,
        }
    }

    /// Multiply-accumulates of the convolutions for a `width`×`height` frame.
    pub const fn macs(width: usize, height: usize) -> u64 {
        let Some(g) = Geometry::new(width, height) else { return 0 };
        let mut total = 0u64;
        let mut i = 0;
        while i < N_CONV {
            total += (g.h[i + 1] * g.w[i + 1]) as u64 * CONVS[i].weights() as u64;
            i += 1;
        }
        total
    }

    /// Finds the faces in `img` (grey or RGB; grey is replicated to RGB as dlib does). The
    /// detections go to `out` in order of decreasing confidence (the first `N` if there are
    /// more); returns how many there are in all. The arena's contents are overwritten.
    pub fn detect<const N: usize>(
        &self,
        img: ImageRef,
        arena: &mut [f32],
        out: &mut heapless::Vec<Detection, N>,
    ) -> Result<usize, DetectError> {
        out.clear();
        let (width, height) = (img.width(), img.height());
        let g = Geometry::new(width, height).ok_or(DetectError::ImageSize { width, height })?;
        if arena.len() < g.total {
            return Err(DetectError::ArenaTooSmall { need: g.total, got: arena.len() });
        }
        let mut run =
            Run { det: self, g: &g, img, chains: [Chain::new(), Chain::new()], done: [0; N_ACT], n_cand: 0 };
        for q in 0..g.h[N_CONV] {
            run.produce(arena, N_CONV, q)?;
        }
        // greedy non-maximum suppression over the candidates (sorted by decreasing score),
        // the kept ones moved to the front
        let cands = &mut arena[g.cand_off..g.cand_off + run.n_cand * CAND_WORDS];
        let rect_of =
            |c: &[f32]| Rect { left: c[1] as i32, top: c[2] as i32, right: c[3] as i32, bottom: c[4] as i32 };
        let mut kept = 0;
        for i in 0..run.n_cand {
            let r = rect_of(&cands[i * CAND_WORDS..]);
            let hit = (0..kept).any(|k| {
                let kr = rect_of(&cands[k * CAND_WORDS..]);
                overlaps(&kr, &r, self.nms_iou, self.nms_covered)
            });
            if hit {
                continue;
            }
            cands.copy_within(i * CAND_WORDS..(i + 1) * CAND_WORDS, kept * CAND_WORDS);
            kept += 1;
        }
        for k in 0..kept {
            let c = &cands[k * CAND_WORDS..(k + 1) * CAND_WORDS];
            if out.push(Detection { rect: rect_of(c), confidence: c[0] }).is_err() {
                break;
            }
        }
        Ok(kept)
    }

    fn weight(&self, li: usize, at: usize) -> f32 {
        rd_f32(self.blob, self.conv_off[li] + 4 * at)
    }
}

impl Run<'_, '_, '_> {
    /// Makes sure rows up to `q` of activation `i` have been produced.
    fn ensure(&mut self, arena: &mut [f32], i: usize, q: usize) -> Result<(), DetectError> {
        while self.done[i] <= q {
            self.produce(arena, i, self.done[i])?;
            self.done[i] += 1;
        }
        Ok(())
    }

    /// Produces row `q` of activation `i` into its ring (the tiled image, a convolution's
    /// output) or, for the score map, scans it for detections.
    fn produce(&mut self, arena: &mut [f32], i: usize, q: usize) -> Result<(), DetectError> {
        let g = self.g;
        if i == 0 {
            self.tiled_row(arena, q);
            return Ok(());
        }
        let li = i - 1;
        let s: ConvShape = CONVS[li];
        let first = (q * s.stride) as i64 - s.pad as i64;
        let last = core::cmp::min(first + s.k as i64 - 1, g.h[li] as i64 - 1);
        if last >= 0 {
            self.ensure(arena, li, last as usize)?;
        }
        let (w_in, w_out, h_in) = (g.w[li], g.w[i], g.h[li] as i64);
        let cap = s.k;
        let (lo, hi) = arena.split_at_mut(if i < N_CONV { g.ring_off[i] } else { g.score_off });
        let src = &lo[g.ring_off[li]..g.ring_off[li] + cap * s.inp * w_in];
        let dst_len = s.out * w_out;
        let dst = if i < N_CONV {
            let slot = (q % CONVS[i].k) * dst_len;
            &mut hi[slot..slot + dst_len]
        } else {
            &mut hi[..dst_len]
        };
        let det = self.det;
        for o in 0..s.out {
            let d = &mut dst[o * w_out..(o + 1) * w_out];
            d.fill(det.weight(li, o));
            for ci in 0..s.inp {
                for ky in 0..s.k {
                    let yy = first + ky as i64;
                    if yy < 0 || yy >= h_in {
                        continue;
                    }
                    let base = ((yy as usize % cap) * s.inp + ci) * w_in;
                    let row = &src[base..base + w_in];
                    let wbase = s.out + ((o * s.inp + ci) * s.k + ky) * s.k;
                    let mut wk = [0f32; 9];
                    for (kx, x) in wk[..s.k].iter_mut().enumerate() {
                        *x = det.weight(li, wbase + kx);
                    }
                    // the network has 5×5 and 9×9 kernels only (checked by `parse`)
                    if s.k == 5 {
                        taps::<5>(d, row, &wk, s.stride, s.pad);
                    } else {
                        taps::<9>(d, row, &wk, s.stride, s.pad);
                    }
                }
            }
            if s.relu {
                for v in d.iter_mut() {
                    if *v < 0.0 {
                        *v = 0.0;
                    }
                }
            }
        }
        if i == N_CONV {
            self.scan(arena, q)?;
        }
        Ok(())
    }

    /// Candidates from one row of the score map.
    fn scan(&mut self, arena: &mut [f32], q: usize) -> Result<(), DetectError> {
        let g = self.g;
        let det = self.det;
        let hw = (det.window.0 as f64 - 1.0) / 2.0;
        let hh = (det.window.1 as f64 - 1.0) / 2.0;
        for c in 0..g.w[N_CONV] {
            let score = arena[g.score_off + c];
            if score <= 0.0 {
                continue;
            }
            // the map position through every layer back to the tiled image (dlib's
            // output_tensor_to_input_tensor: p·stride − pad + k/2 per convolution)
            let (mut px, mut py) = (c as f64, q as f64);
            for s in CONVS.iter().rev() {
                px = px * s.stride as f64 - s.pad as f64 + (s.k / 2) as f64;
                py = py * s.stride as f64 - s.pad as f64 + (s.k / 2) as f64;
            }
            let (l, t, r, b) = (px - hw, py - hh, px + hw, py + hh);
            let lvl =
                g.plan.nearest(pyramid::round_half_up((l + r) / 2.0), pyramid::round_half_up((t + b) / 2.0));
            let tile = g.plan.tiles[lvl];
            let (ox, oy) = (tile.left as f64, tile.top as f64);
            let edge = |v: f64, o: f64| pyramid::round_half_up(pyramid::point_up(v - o, lvl)) as f32;
            let cand = [score, edge(l, ox), edge(t, oy), edge(r, ox), edge(b, oy)];
            if self.n_cand == MAX_CANDIDATES {
                return Err(DetectError::TooManyCandidates(MAX_CANDIDATES));
            }
            // insert keeping the list sorted by decreasing score
            let list = &mut arena[g.cand_off..g.cand_off + (self.n_cand + 1) * CAND_WORDS];
            let mut at = self.n_cand;
            while at > 0 && list[(at - 1) * CAND_WORDS] < score {
                at -= 1;
            }
            list.copy_within(at * CAND_WORDS..self.n_cand * CAND_WORDS, (at + 1) * CAND_WORDS);
            list[at * CAND_WORDS..(at + 1) * CAND_WORDS].copy_from_slice(&cand);
            self.n_cand += 1;
        }
        Ok(())
    }

    /// Row `y` of the tiled pyramid image into its ring slot.
    fn tiled_row(&mut self, arena: &mut [f32], y: usize) {
        let g = self.g;
        let cols = g.w[0];
        let slot = g.ring_off[0] + (y % CONVS[0].k) * 3 * cols;
        arena[slot..slot + 3 * cols].fill(0.0);
        let y = y as i64;
        for col in 0..2 {
            let range = if col == 0 { 0..g.plan.first_column } else { g.plan.first_column..g.plan.levels };
            let Some(lvl) = range.clone().find(|&j| g.plan.tiles[j].top <= y && y <= g.plan.tiles[j].bottom)
            else {
                continue;
            };
            let tile = g.plan.tiles[lvl];
            if self.chains[col].level != lvl {
                let ch = &mut self.chains[col];
                *ch = Chain::new();
                ch.level = lvl;
            }
            let at = self.level_row(arena, col, lvl, y - tile.top);
            let w = tile.width() as usize;
            for c in 0..3 {
                let dst = slot + c * cols + tile.left as usize;
                arena.copy_within(at + c * w..at + (c + 1) * w, dst);
            }
        }
    }

    /// Row `r` of pyramid level `m` in column `col`'s chain: the arena offset of its three
    /// channel rows, made (recursively from the level above) if not cached.
    fn level_row(&mut self, arena: &mut [f32], col: usize, m: usize, r: i64) -> usize {
        let g = self.g;
        let w = g.plan.tiles[m].width() as usize;
        let slot_len = 3 * w;
        let base = g.chain_off[col] + g.level_off[m];
        for k in 0..2 {
            if self.chains[col].tag[m][k] as i64 == r {
                self.chains[col].mru[m] = k as u8;
                return base + k * slot_len;
            }
        }
        let victim = 1 - self.chains[col].mru[m] as usize;
        let dst = base + victim * slot_len;
        if m == 0 {
            let means = self.det.means;
            let img = self.img;
            let out = &mut arena[dst..dst + slot_len];
            for x in 0..w {
                let p = img.rgb(x, r as usize);
                for c in 0..3 {
                    out[c * w + x] = (p[c] as f32 - means[c]) / 256.0;
                }
            }
        } else {
            let prev = g.plan.tiles[m - 1];
            let (src_h, src_w) = (prev.height(), prev.width());
            let dst_h = g.plan.tiles[m].height();
            let y_scale = scale(src_h, dst_h);
            let ch = &mut self.chains[col];
            if ch.y_row[m] < 0 {
                ch.y_val[m] = -y_scale;
            }
            while (ch.y_row[m] as i64) < r {
                ch.y_val[m] += y_scale;
                ch.y_row[m] += 1;
            }
            let y = ch.y_val[m];
            let top = floor_i64(y).clamp(0, src_h - 1);
            let bottom = core::cmp::min(top + 1, src_h - 1);
            let tb = y - top as f64;
            let t_at = self.level_row(arena, col, m - 1, top);
            let b_at = self.level_row(arena, col, m - 1, bottom);
            let x_scale = scale(src_w, w as i64);
            let sw = src_w as usize;
            let (lo, hi) = arena.split_at_mut(base);
            for c in 0..3 {
                let t = &lo[t_at + c * sw..t_at + (c + 1) * sw];
                let b = &lo[b_at + c * sw..b_at + (c + 1) * sw];
                let d0 = dst - base + c * w;
                resize_row(t, b, &mut hi[d0..d0 + w], tb, x_scale);
            }
        }
        let ch = &mut self.chains[col];
        // rows of a level fit i32: sides are at most MAX_SIDE
        ch.tag[m][victim] = r as i32;
        ch.mru[m] = victim as u8;
        dst
    }
}

#[cfg(test)]
mod tests;
