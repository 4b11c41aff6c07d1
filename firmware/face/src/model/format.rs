//! The compact weight format the reader loads from external flash (`SHFRES01`).
//!
//! Written by `shikaku-face-convert` from dlib's `dlib_face_recognition_resnet_model_v1.dat`.
//! Every batch-norm-replacing affine layer is folded into the convolution before it
//! (`w' = γ·w`, `b' = γ·b + β`), so the file holds 29 convolutions and one fully connected
//! layer, in network order. All numbers are little-endian.
//!
//! ```text
//! header   8  magic "SHFRES01"
//!          4  kind: 0 = f32 weights, 1 = int8 weights with a per-output-channel f32 scale
//!          4  number of convolutions (29)
//!         12  input means R, G, B (f32; the input is (pixel - mean) / 256)
//!          4  total length of the file in bytes, checksum included
//! conv     20 out, in, k, stride, pad (u32 each)
//!          f32: bias[out] f32, weight[out][in][k][k] f32
//!          i8:  bias[out] f32, scale[out] f32, weight[out][in][k][k] i8, zero-padded to 4 bytes
//! fc       8  out, in (u32)
//!          f32: weight[out][in] f32 (no bias: dlib's fc_no_bias)
//!          i8:  scale[out] f32, weight[out][in] i8, zero-padded to 4 bytes
//! trailer  4  FNV-1a 32 of every byte before it
//! ```

/// First eight bytes of a weight file.
pub const MAGIC: [u8; 8] = *b"SHFRES01";
/// Length of the fixed header.
pub const HEADER_LEN: usize = 32;

/// How the weights are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightKind {
    F32 = 0,
    I8 = 1,
}

/// Shape of one convolution of the network, as dlib defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    pub out: usize,
    pub inp: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
}

impl ConvShape {
    pub const fn weights(&self) -> usize {
        self.out * self.inp * self.k * self.k
    }
}

const fn c(out: usize, inp: usize, k: usize, stride: usize, pad: usize) -> ConvShape {
    ConvShape { out, inp, k, stride, pad }
}

/// Number of convolutions (each with its folded affine layer).
pub const N_CONV: usize = 29;
/// Width of the embedding.
pub const DESCRIPTOR_LEN: usize = 128;
/// Channels into the fully connected layer.
pub const FC_IN: usize = 256;

/// The convolutions of dlib's face ResNet in forward order: the 7×7/2 stem, then two per
/// residual block (the first one of a downsampling block has stride 2 and no padding, which is
/// dlib's default padding for stride ≠ 1).
pub const CONVS: [ConvShape; N_CONV] = [
    c(32, 3, 7, 2, 0),
    // level 4: three blocks of 32
    c(32, 32, 3, 1, 1),
    c(32, 32, 3, 1, 1),
    c(32, 32, 3, 1, 1),
    c(32, 32, 3, 1, 1),
    c(32, 32, 3, 1, 1),
    c(32, 32, 3, 1, 1),
    // level 3: down to 64, then three blocks
    c(64, 32, 3, 2, 0),
    c(64, 64, 3, 1, 1),
    c(64, 64, 3, 1, 1),
    c(64, 64, 3, 1, 1),
    c(64, 64, 3, 1, 1),
    c(64, 64, 3, 1, 1),
    c(64, 64, 3, 1, 1),
    c(64, 64, 3, 1, 1),
    // level 2: down to 128, then two blocks
    c(128, 64, 3, 2, 0),
    c(128, 128, 3, 1, 1),
    c(128, 128, 3, 1, 1),
    c(128, 128, 3, 1, 1),
    c(128, 128, 3, 1, 1),
    c(128, 128, 3, 1, 1),
    // level 1: down to 256, then two blocks
    c(256, 128, 3, 2, 0),
    c(256, 256, 3, 1, 1),
    c(256, 256, 3, 1, 1),
    c(256, 256, 3, 1, 1),
    c(256, 256, 3, 1, 1),
    c(256, 256, 3, 1, 1),
    // level 0: one downsampling block of 256
    c(256, 256, 3, 2, 0),
    c(256, 256, 3, 1, 1),
];

/// Bytes one convolution takes in a file of the given kind.
pub const fn conv_record_len(s: &ConvShape, kind: WeightKind) -> usize {
    20 + match kind {
        WeightKind::F32 => 4 * s.out + 4 * s.weights(),
        WeightKind::I8 => 8 * s.out + pad4(s.weights()),
    }
}

/// Bytes the fully connected layer takes.
pub const fn fc_record_len(kind: WeightKind) -> usize {
    8 + match kind {
        WeightKind::F32 => 4 * DESCRIPTOR_LEN * FC_IN,
        WeightKind::I8 => 4 * DESCRIPTOR_LEN + pad4(DESCRIPTOR_LEN * FC_IN),
    }
}

/// Total length of a well-formed file of the given kind.
pub const fn file_len(kind: WeightKind) -> usize {
    let mut n = HEADER_LEN;
    let mut i = 0;
    while i < N_CONV {
        n += conv_record_len(&CONVS[i], kind);
        i += 1;
    }
    n + fc_record_len(kind) + 4
}

pub const fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

/// FNV-1a, 32 bits: a cheap integrity check of the flash region, not a security measure
/// (the region is written at provisioning and protected like the code image).
pub fn fnv1a(data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in data {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}
