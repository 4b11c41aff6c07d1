//! How a tile-component's coefficients sit in the arena: one per `i32` word (9/7 values as
//! `f32` bits, or deep reversible images), or two 16-bit ones per word when the reversible
//! path provably fits (precision ≤ 12 bits and at most 14 magnitude bit-planes in every band),
//! which halves the largest buffer of the decode.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Store {
    Wide,
    Packed,
}

impl Store {
    /// Words for `n` coefficients.
    pub(crate) fn words(self, n: usize) -> usize {
        match self {
            Store::Wide => n,
            Store::Packed => n.div_ceil(2),
        }
    }

    #[inline]
    pub(crate) fn get(self, buf: &[i32], i: usize) -> i32 {
        match self {
            Store::Wide => buf[i],
            Store::Packed => {
                let w = buf[i / 2];
                if i & 1 == 0 {
                    i32::from(w as i16)
                } else {
                    i32::from((w >> 16) as i16)
                }
            }
        }
    }

    #[inline]
    pub(crate) fn set(self, buf: &mut [i32], i: usize, v: i32) {
        match self {
            Store::Wide => buf[i] = v,
            Store::Packed => {
                let w = &mut buf[i / 2];
                let half = i32::from(v as i16) & 0xFFFF;
                *w = if i & 1 == 0 { (*w & !0xFFFF) | half } else { (*w & 0xFFFF) | (half << 16) };
            }
        }
    }
}
