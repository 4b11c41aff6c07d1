//! The detector's weight file as the reader keeps it in external flash (`SHDET001`).
//!
//! Written by `shikaku_hil::face_convert::detector::convert` from dlib's
//! `mmod_human_face_detector.dat`; every affine layer (dlib's test-time batch norm) is folded
//! into the convolution before it. All numbers little-endian.
//!
//! ```text
//! header  8  magic "SHDET001"
//!         4  total length of the file in bytes, checksum included (u32)
//!        12  input means R, G, B (f32; the input is (pixel − mean) / 256)
//!         4  pyramid_down N (6: each level is 5/6 of the one before)
//!         4  padding between pyramid levels (10)
//!         4  outer padding around the tiled pyramid (11)
//!         8  detector window width, height (u32 each; 80×80)
//!         8  NMS: IoU threshold (f64)
//!         8  NMS: percent-covered threshold (f64)
//!         4  number of convolutions (7)
//! conv   24  out, in, k, stride, pad, relu (u32 each)
//!            bias[out] f32, weight[out][in][k][k] f32
//! trailer 4  FNV-1a 32 of every byte before it
//! ```

/// First eight bytes of a detector weight file.
pub const MAGIC: [u8; 8] = *b"SHDET001";
/// Length of the fixed header.
pub const HEADER_LEN: usize = 64;
/// Bytes of a convolution record before its numbers.
pub const CONV_HEADER_LEN: usize = 24;

/// One convolution of the detector (with its folded affine layer and whether a relu follows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    pub out: usize,
    pub inp: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    pub relu: bool,
}

impl ConvShape {
    pub const fn weights(&self) -> usize {
        self.out * self.inp * self.k * self.k
    }
    /// Output length along one axis for an input of `n` (0 if the input is too small).
    pub const fn out_len(&self, n: usize) -> usize {
        let padded = n + 2 * self.pad;
        if padded < self.k {
            0
        } else {
            (padded - self.k) / self.stride + 1
        }
    }
}

const fn c(out: usize, inp: usize, k: usize, stride: usize, pad: usize, relu: bool) -> ConvShape {
    ConvShape { out, inp, k, stride, pad, relu }
}

/// Number of convolutions.
pub const N_CONV: usize = 7;

/// The detector's convolutions in forward order: three 5×5 stride-2 without padding (dlib's
/// default padding for stride ≠ 1 is 0), three 5×5 stride-1 padded by 2, the 9×9 scorer
/// padded by 4 (no relu: its output is the detection score).
pub const CONVS: [ConvShape; N_CONV] = [
    c(16, 3, 5, 2, 0, true),
    c(32, 16, 5, 2, 0, true),
    c(32, 32, 5, 2, 0, true),
    c(45, 32, 5, 1, 2, true),
    c(45, 45, 5, 1, 2, true),
    c(45, 45, 5, 1, 2, true),
    c(1, 45, 9, 1, 4, false),
];

/// Bytes one convolution takes in the file.
pub const fn conv_record_len(s: &ConvShape) -> usize {
    CONV_HEADER_LEN + 4 * s.out + 4 * s.weights()
}

/// Total length of a well-formed file.
pub const fn file_len() -> usize {
    let mut n = HEADER_LEN;
    let mut i = 0;
    while i < N_CONV {
        n += conv_record_len(&CONVS[i]);
        i += 1;
    }
    n + 4
}

/// FNV-1a, 32 bits: an integrity check of the flash region (not a security measure).
pub fn fnv1a(data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in data {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}
