//! Our own inference of dlib's face ResNet (`dlib_face_recognition_resnet_model_v1`, CC0,
//! from the PyPI package `face_recognition_models`): an aligned 150×150 RGB face chip in, a
//! 128-D descriptor out; two chips are the same person when the descriptors are closer than
//! [`THRESHOLD`] (stricter than dlib's 0.6: see the README's face section for why).
//!
//! The network (dlib's `dnn_face_recognition_ex.cpp`): conv 7×7/2 32 → affine → relu →
//! max-pool 3×3/2 → 3 residual blocks of 32 → a downsampling block and 3 blocks of 64 → one
//! and 2 of 128 → one and 2 of 256 → one downsampling block of 256 → average over the whole
//! map → fully connected 256→128 without bias. A residual block is
//! `relu(affine(conv(relu(affine(conv(x))))) + x)`; a downsampling block uses stride 2 in its
//! first conv and adds a 2×2/2 average pool of `x`, with dlib's rule for tensors of different
//! sizes (the sum has the larger size and missing elements count as 0).
//!
//! Weights come as a byte slice in our [`format`] (they live in external flash); activations
//! live in a caller-provided arena of [`ARENA_F32`] floats (346 KiB), nothing else is
//! allocated. Two weight kinds: f32, and int8 with a per-output-channel scale (the products
//! are accumulated in f32 and scaled once per output).
//!
//! Budget: weights 22,430,576 bytes (f32) or 5,633,488 bytes (int8) of external flash; RAM
//! [`ARENA_BYTES`] = 353,848 bytes of arena plus the caller's 67,500-byte chip and about 2 KiB
//! of stack; [`macs()`] = 270,854,144 multiply-accumulates per embedding; about 10 KiB of code.
//! Parity with dlib 20.0 (`hil-tests/tests/face_parity.rs`): f32 within 5e-7 per component,
//! int8 at cosine ≥ 0.999 on the inputs tried.

pub mod format;

use format::{ConvShape, WeightKind, CONVS, DESCRIPTOR_LEN, FC_IN, HEADER_LEN, MAGIC, N_CONV};

/// Side of the aligned face chip.
pub const CHIP: usize = 150;
/// Bytes of one chip: RGB, 8 bits per channel, row-major, interleaved.
pub const CHIP_BYTES: usize = CHIP * CHIP * 3;
/// The decision threshold on the L2 distance between descriptors: a match below it. dlib's
/// own operating point is 0.6 (its 99.38 % on LFW); a reception desk would rather send a
/// patient to the PIN or to staff than accept a stranger, so the reader decides at 0.5 (the
/// README's face section gives the measured rates behind this).
pub const THRESHOLD: f32 = 0.5;

/// Largest activation map (32 channels × 35 × 35 after the stem).
const MAP: usize = 32 * 35 * 35;
/// The stem's window of normalised input (3 channels × 7 rows × 150) and its ring of three
/// conv output rows (32 channels × 72).
const STEM_WIN: usize = 3 * 7 * CHIP;
const STEM_RING: usize = 3 * 32 * 72;
/// Output rows per step of the in-place 3×3 convolution, and its ring of two such chunks
/// (all channels) at the widest level (no wider than the stem's scratch at any level).
const IN_PLACE_ROWS: usize = 4;
const ROWS: usize = 2 * IN_PLACE_ROWS * 32 * 35;
const SCRATCH: usize = if STEM_WIN + STEM_RING > ROWS { STEM_WIN + STEM_RING } else { ROWS };
/// Floats the caller must provide for one embedding: two activation maps (a block's input,
/// kept for the skip path, and its working map: the second conv of a block runs in place
/// behind a ring of output rows) and the scratch rows.
pub const ARENA_F32: usize = 2 * MAP + SCRATCH;
/// Peak RAM of one embedding, in bytes (the arena; the stack use is about 2 KiB).
pub const ARENA_BYTES: usize = ARENA_F32 * 4;

/// Multiply-accumulates of one embedding (convolutions and the fully connected layer).
pub const fn macs() -> u64 {
    let s0 = &CONVS[0];
    let stem = (CHIP - s0.k) / s0.stride + 1;
    let mut total = (stem * stem * s0.weights()) as u64;
    let mut h = (stem - 3) / 2 + 1;
    let mut i = 1;
    while i < N_CONV {
        let (a, b) = (&CONVS[i], &CONVS[i + 1]);
        let th = (h + 2 * a.pad - a.k) / a.stride + 1;
        let yh = (th + 2 * b.pad - b.k) / b.stride + 1;
        total += (th * th * a.weights() + yh * yh * b.weights()) as u64;
        let sh = if a.stride == 2 { (h - 2) / 2 + 1 } else { h };
        h = if yh > sh { yh } else { sh };
        i += 2;
    }
    total + (FC_IN * DESCRIPTOR_LEN) as u64
}

/// Why a weight file or an input was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ModelError {
    #[error("not an embedder weight file (magic)")]
    BadMagic,
    #[error("unknown weight kind")]
    BadKind,
    /// The file is shorter or longer than its kind requires, or its header says otherwise.
    #[error("the weight file's length differs from its kind's")]
    BadLength,
    /// A layer's shape differs from the network this code runs.
    #[error("layer {0} of the weight file differs from the network")]
    BadShape(usize),
    #[error("the weight file's checksum does not match")]
    BadChecksum,
    /// The chip is not 150×150×3 bytes.
    #[error("the chip is not 150×150 RGB")]
    BadInput,
    /// The arena is smaller than [`ARENA_F32`].
    #[error("the arena is smaller than the embedder needs")]
    ArenaTooSmall,
}

/// A 128-D face descriptor.
pub type Descriptor = [f32; DESCRIPTOR_LEN];

#[derive(Debug, Clone, Copy)]
struct ConvRef {
    shape: ConvShape,
    /// Offset of the bias (then scales for int8, then weights) in the file.
    at: usize,
}

/// A parsed, checked weight file borrowed from flash.
#[derive(Debug, Clone, Copy)]
pub struct Model<'w> {
    blob: &'w [u8],
    kind: WeightKind,
    mean: [f32; 3],
    convs: [ConvRef; N_CONV],
    fc_at: usize,
}

fn rd_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn rd_f32(b: &[u8], at: usize) -> f32 {
    f32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl<'w> Model<'w> {
    /// Checks the header, every layer shape, the length and the checksum.
    pub fn parse(blob: &'w [u8]) -> Result<Self, ModelError> {
        if blob.len() < HEADER_LEN + 4 {
            return Err(ModelError::BadLength);
        }
        if blob[..8] != MAGIC {
            return Err(ModelError::BadMagic);
        }
        let kind = match rd_u32(blob, 8) {
            0 => WeightKind::F32,
            1 => WeightKind::I8,
            _ => return Err(ModelError::BadKind),
        };
        if rd_u32(blob, 12) as usize != N_CONV {
            return Err(ModelError::BadShape(0));
        }
        let total = format::file_len(kind);
        if blob.len() != total || rd_u32(blob, 28) as usize != total {
            return Err(ModelError::BadLength);
        }
        let sum = rd_u32(blob, total - 4);
        if format::fnv1a(&blob[..total - 4]) != sum {
            return Err(ModelError::BadChecksum);
        }
        let mean = [rd_f32(blob, 16), rd_f32(blob, 20), rd_f32(blob, 24)];
        let mut convs = [ConvRef { shape: CONVS[0], at: 0 }; N_CONV];
        let mut at = HEADER_LEN;
        for (i, s) in CONVS.iter().enumerate() {
            let got = ConvShape {
                out: rd_u32(blob, at) as usize,
                inp: rd_u32(blob, at + 4) as usize,
                k: rd_u32(blob, at + 8) as usize,
                stride: rd_u32(blob, at + 12) as usize,
                pad: rd_u32(blob, at + 16) as usize,
            };
            if got != *s {
                return Err(ModelError::BadShape(i));
            }
            convs[i] = ConvRef { shape: *s, at: at + 20 };
            at += format::conv_record_len(s, kind);
        }
        if rd_u32(blob, at) as usize != DESCRIPTOR_LEN || rd_u32(blob, at + 4) as usize != FC_IN {
            return Err(ModelError::BadShape(N_CONV));
        }
        Ok(Model { blob, kind, mean, convs, fc_at: at + 8 })
    }

    pub fn kind(&self) -> WeightKind {
        self.kind
    }

    /// Embeds one aligned chip (150×150, RGB interleaved). The arena is overwritten; the
    /// caller wipes it (and the chip) when the session ends.
    pub fn embed(&self, chip: &[u8], arena: &mut [f32]) -> Result<Descriptor, ModelError> {
        if chip.len() != CHIP_BYTES {
            return Err(ModelError::BadInput);
        }
        if arena.len() < ARENA_F32 {
            return Err(ModelError::ArenaTooSmall);
        }
        let (mut xa, rest) = arena[..ARENA_F32].split_at_mut(MAP);
        let (mut b, scratch) = rest.split_at_mut(MAP);
        self.stem(chip, xa, scratch);
        let (mut xc, mut xh, mut xw) = (32, 35, 35);
        let mut li = 1;
        while li < N_CONV {
            let c1 = self.convs[li];
            let c2 = self.convs[li + 1];
            // t = relu(conv1(x)) into b
            let (th, tw) = conv_out(xh, xw, &c1.shape);
            self.conv(&c1, xa, xh, xw, b, th, tw);
            relu(&mut b[..c1.shape.out * th * tw]);
            // y = conv2(t), in place in b
            self.conv_in_place(&c2, b, th, tw, scratch);
            let (yc, yh, yw) = (c2.shape.out, th, tw);
            // skip path and dlib's add of differently sized tensors (the larger size, missing
            // elements 0), then relu, in place in b: backwards, since the sum is at least as
            // large as y in every dimension, so no element of y is overwritten before it is read
            let down = c1.shape.stride == 2;
            let (sh, sw) = if down { ((xh - 2) / 2 + 1, (xw - 2) / 2 + 1) } else { (xh, xw) };
            let (oc, oh, ow) = (yc.max(xc), yh.max(sh), yw.max(sw));
            for ch in (0..oc).rev() {
                for r in (0..oh).rev() {
                    for col in (0..ow).rev() {
                        let mut v = 0.0;
                        if ch < yc && r < yh && col < yw {
                            v += b[(ch * yh + r) * yw + col];
                        }
                        if ch < xc && r < sh && col < sw {
                            v += if down {
                                let p = &xa[ch * xh * xw..];
                                let (r2, c2i) = (2 * r, 2 * col);
                                (p[r2 * xw + c2i]
                                    + p[r2 * xw + c2i + 1]
                                    + p[(r2 + 1) * xw + c2i]
                                    + p[(r2 + 1) * xw + c2i + 1])
                                    * 0.25
                            } else {
                                xa[(ch * xh + r) * xw + col]
                            };
                        }
                        b[(ch * oh + r) * ow + col] = if v > 0.0 { v } else { 0.0 };
                    }
                }
            }
            // rotate: the block output (b) is the next input; the old input buffer is free
            core::mem::swap(&mut xa, &mut b);
            (xc, xh, xw) = (oc, oh, ow);
            li += 2;
        }
        // average over the whole map, then the fully connected layer
        let mut pooled = [0.0f32; FC_IN];
        let n = (xh * xw) as f32;
        for (ch, p) in pooled.iter_mut().enumerate() {
            let s: f32 = xa[ch * xh * xw..(ch + 1) * xh * xw].iter().sum();
            *p = s / n;
        }
        let mut out = [0.0f32; DESCRIPTOR_LEN];
        let w = self.fc_at;
        for (j, o) in out.iter_mut().enumerate() {
            *o = match self.kind {
                WeightKind::F32 => {
                    let base = w + 4 * j * FC_IN;
                    pooled.iter().enumerate().map(|(i, &v)| v * rd_f32(self.blob, base + 4 * i)).sum()
                }
                WeightKind::I8 => {
                    let scale = rd_f32(self.blob, w + 4 * j);
                    let base = w + 4 * DESCRIPTOR_LEN + j * FC_IN;
                    let acc: f32 = pooled
                        .iter()
                        .zip(&self.blob[base..base + FC_IN])
                        .map(|(&v, &q)| v * (q as i8) as f32)
                        .sum();
                    acc * scale
                }
            };
        }
        pooled.fill(0.0);
        Ok(out)
    }

    /// conv 7×7/2 (+ folded affine) → relu → max pool 3×3/2, producing 32×35×35 in `out`
    /// without ever holding the normalised input or the 32×72×72 conv output: a window of
    /// the 7 input rows a conv row needs, and a ring of three conv rows for the pool.
    fn stem(&self, chip: &[u8], out: &mut [f32], scratch: &mut [f32]) {
        let (win, ring) = scratch.split_at_mut(STEM_WIN);
        let cv = self.convs[0];
        let (_, ow) = conv_out(CHIP, CHIP, &cv.shape);
        let row_len = cv.shape.out * ow;
        let ring = &mut ring[..3 * row_len];
        let (oh, opw) = (35, 35);
        let mut next_row = 0;
        for py in 0..oh {
            while next_row <= 2 * py + 2 {
                // input rows 2r .. 2r+7 of the conv row r, normalised as dlib's input layer
                let top = next_row * cv.shape.stride;
                for ch in 0..3 {
                    for ky in 0..cv.shape.k {
                        let src = &chip[(top + ky) * CHIP * 3..(top + ky + 1) * CHIP * 3];
                        let dst = &mut win[(ch * cv.shape.k + ky) * CHIP..(ch * cv.shape.k + ky + 1) * CHIP];
                        for (d, px) in dst.iter_mut().zip(src.chunks_exact(3)) {
                            *d = (px[ch] as f32 - self.mean[ch]) / 256.0;
                        }
                    }
                }
                let slot = &mut ring[(next_row % 3) * row_len..(next_row % 3 + 1) * row_len];
                self.conv_rows(&cv, win, cv.shape.k, CHIP, slot, 0, 1, ow);
                next_row += 1;
            }
            for ch in 0..32 {
                for px in 0..opw {
                    let mut m = f32::NEG_INFINITY;
                    for dy in 0..3 {
                        let row = &ring[((2 * py + dy) % 3) * row_len + ch * ow..];
                        for dx in 0..3 {
                            m = m.max(row[2 * px + dx]);
                        }
                    }
                    out[(ch * oh + py) * opw + px] = if m > 0.0 { m } else { 0.0 };
                }
            }
        }
        win.fill(0.0);
        ring.fill(0.0);
    }

    /// A 3×3 stride-1 convolution with as many outputs as inputs, written over its input
    /// (c×h×w in `buf`), [`IN_PLACE_ROWS`] output rows at a time: a chunk of output rows is
    /// held in a two-chunk ring until the input rows it replaces are no longer needed, i.e.
    /// until the next chunk is done.
    fn conv_in_place(&self, cv: &ConvRef, buf: &mut [f32], h: usize, w: usize, scratch: &mut [f32]) {
        let c = cv.shape.out;
        let k = IN_PLACE_ROWS;
        let chunk = c * k * w;
        let ring = &mut scratch[..2 * chunk];
        let flush = |buf: &mut [f32], ring: &[f32], index: usize| {
            let r0 = index * k;
            let n = k.min(h - r0);
            let slot = &ring[(index % 2) * chunk..];
            for o in 0..c {
                buf[(o * h + r0) * w..(o * h + r0 + n) * w]
                    .copy_from_slice(&slot[o * n * w..(o + 1) * n * w]);
            }
        };
        let chunks = h.div_ceil(k);
        for index in 0..chunks {
            let r0 = index * k;
            let n = k.min(h - r0);
            let slot = &mut ring[(index % 2) * chunk..(index % 2) * chunk + c * n * w];
            self.conv_rows(cv, buf, h, w, slot, r0, n, w);
            if index >= 1 {
                flush(buf, ring, index - 1);
            }
        }
        flush(buf, ring, chunks - 1);
        ring.fill(0.0);
    }

    /// Full convolution of `inp` (c×h×w) into `out` (oc×oh×ow).
    #[allow(clippy::too_many_arguments)]
    fn conv(&self, cv: &ConvRef, inp: &[f32], h: usize, w: usize, out: &mut [f32], oh: usize, ow: usize) {
        self.conv_rows(cv, inp, h, w, &mut out[..cv.shape.out * oh * ow], 0, oh, ow);
    }

    /// Output rows `r0..r0+nr` of a convolution, written as `out[o][r - r0][x]`.
    #[allow(clippy::too_many_arguments)]
    fn conv_rows(
        &self,
        cv: &ConvRef,
        inp: &[f32],
        h: usize,
        w: usize,
        out: &mut [f32],
        r0: usize,
        nr: usize,
        ow: usize,
    ) {
        let s = cv.shape;
        let plane = nr * ow;
        let kk = s.k * s.k;
        let bias_at = cv.at;
        let (scale_at, w_at) = match self.kind {
            WeightKind::F32 => (0, cv.at + 4 * s.out),
            WeightKind::I8 => (cv.at + 4 * s.out, cv.at + 8 * s.out),
        };
        for o in 0..s.out {
            let acc = &mut out[o * plane..(o + 1) * plane];
            acc.fill(0.0);
            for i in 0..s.inp {
                let src = &inp[i * h * w..(i + 1) * h * w];
                if s.k == 3 && s.stride == 1 && s.pad == 1 && w >= 2 {
                    // the common case (24 of 29 convs): three taps of a row at once
                    let base = (o * s.inp + i) * kk;
                    let mut wk = [0f32; 9];
                    for (j, v) in wk.iter_mut().enumerate() {
                        *v = match self.kind {
                            WeightKind::F32 => rd_f32(self.blob, w_at + 4 * (base + j)),
                            WeightKind::I8 => (self.blob[w_at + base + j] as i8) as f32,
                        };
                    }
                    for rr in 0..nr {
                        let y = r0 + rr;
                        let drow = &mut acc[rr * ow..(rr + 1) * ow];
                        for ky in 0..3 {
                            let iy = y + ky;
                            if iy < 1 || iy > h {
                                continue;
                            }
                            let srow = &src[(iy - 1) * w..iy * w];
                            let (w0, w1, w2) = (wk[3 * ky], wk[3 * ky + 1], wk[3 * ky + 2]);
                            drow[0] += w1 * srow[0] + w2 * srow[1];
                            for (d, win) in drow[1..w - 1].iter_mut().zip(srow.windows(3)) {
                                *d += w0 * win[0] + w1 * win[1] + w2 * win[2];
                            }
                            drow[w - 1] += w0 * srow[w - 2] + w1 * srow[w - 1];
                        }
                    }
                    continue;
                }
                for ky in 0..s.k {
                    for kx in 0..s.k {
                        let widx = (o * s.inp + i) * kk + ky * s.k + kx;
                        let wv = match self.kind {
                            WeightKind::F32 => rd_f32(self.blob, w_at + 4 * widx),
                            WeightKind::I8 => (self.blob[w_at + widx] as i8) as f32,
                        };
                        if wv == 0.0 {
                            continue;
                        }
                        // input column ix = x*stride + kx - pad must lie in 0..w
                        let x_lo = (s.pad.saturating_sub(kx)).div_ceil(s.stride);
                        let x_hi =
                            if w + s.pad > kx { ((w + s.pad - kx - 1) / s.stride + 1).min(ow) } else { 0 };
                        if x_lo >= x_hi {
                            continue;
                        }
                        for rr in 0..nr {
                            let y = r0 + rr;
                            let iy = y * s.stride + ky;
                            if iy < s.pad || iy - s.pad >= h {
                                continue;
                            }
                            let srow = &src[(iy - s.pad) * w..(iy - s.pad + 1) * w];
                            let drow = &mut acc[rr * ow..(rr + 1) * ow];
                            if s.stride == 1 {
                                let off = x_lo + kx - s.pad;
                                let n = x_hi - x_lo;
                                for (d, &v) in drow[x_lo..x_hi].iter_mut().zip(&srow[off..off + n]) {
                                    *d += wv * v;
                                }
                            } else {
                                for (x, d) in drow.iter_mut().enumerate().take(x_hi).skip(x_lo) {
                                    *d += wv * srow[x * s.stride + kx - s.pad];
                                }
                            }
                        }
                    }
                }
            }
            let bias = rd_f32(self.blob, bias_at + 4 * o);
            let scale = match self.kind {
                WeightKind::F32 => 1.0,
                WeightKind::I8 => rd_f32(self.blob, scale_at + 4 * o),
            };
            for v in acc.iter_mut() {
                *v = *v * scale + bias;
            }
        }
    }
}

fn conv_out(h: usize, w: usize, s: &ConvShape) -> (usize, usize) {
    ((h + 2 * s.pad - s.k) / s.stride + 1, (w + 2 * s.pad - s.k) / s.stride + 1)
}

fn relu(v: &mut [f32]) {
    for x in v {
        if *x < 0.0 {
            *x = 0.0;
        }
    }
}

/// Zeroes an arena (or a descriptor) when the session ends: the activations are a
/// recognisable trace of the face.
pub fn wipe(buf: &mut [f32]) {
    buf.fill(0.0);
    core::hint::black_box(&mut *buf);
}

/// Euclidean distance between two descriptors.
pub fn distance(a: &Descriptor, b: &Descriptor) -> f32 {
    let s: f32 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    crate::geom::sqrtf(s)
}

/// The decision: same person when the distance is below [`THRESHOLD`].
pub fn is_match(a: &Descriptor, b: &Descriptor) -> bool {
    distance(a, b) < THRESHOLD
}
