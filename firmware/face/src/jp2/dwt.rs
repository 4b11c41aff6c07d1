//! Inverse discrete wavelet transform (T.800 Annex F): 1-D lifting with whole-sample symmetric
//! extension, reversible 5/3 on integers and irreversible 9/7 on `f32`, applied to rows then
//! columns of each resolution level. Coefficients sit in the tile-component buffer in the
//! usual band layout: at each level the low band top-left, HL right of it, LH below, HH
//! diagonal. 9/7 values are stored as `f32` bits in the same `i32` words.

use super::store::Store;

/// Lifting constants of the 9/7 filter (Table F.4).
const ALPHA: f32 = -1.586_134_3;
const BETA: f32 = -0.052_980_117;
const GAMMA: f32 = 0.882_911_1;
const DELTA: f32 = 0.443_506_87;
const K: f32 = 1.230_174_1;

/// One resolution step: the low band of `lw × lh` at the top-left of the `w × h` region
/// becomes the `w × h` image; `x0`/`y0` are the region's origin on the resolution grid (their
/// parity says whether the first sample is low or high pass).
#[derive(Clone, Copy)]
pub(crate) struct Level {
    pub(crate) w: usize,
    pub(crate) h: usize,
    pub(crate) x0: u32,
    pub(crate) y0: u32,
}

/// Interleaves low (first `sn`) and high samples of `line` into `tmp` by parity of `i0`.
fn interleave<T: Copy>(src: impl Fn(usize) -> T, n: usize, i0: u32, tmp: &mut [T]) {
    let odd = (i0 & 1) as usize;
    let sn = (n + 1 - odd) / 2; // low samples: the positions of even global index
    for (k, t) in tmp.iter_mut().take(n).enumerate() {
        let global_even = (k + odd).is_multiple_of(2);
        let j = if global_even { (k + odd) / 2 - odd } else { sn + (k - (1 - odd)) / 2 };
        *t = src(j);
    }
}

#[inline]
fn mirror(i: isize, n: usize) -> usize {
    let n = n as isize;
    let mut i = i;
    if n == 1 {
        return 0;
    }
    // Period 2n-2 symmetric extension.
    let period = 2 * n - 2;
    i = i.rem_euclid(period);
    if i >= n {
        i = period - i;
    }
    i as usize
}

/// 1-D reversible synthesis of `x` (interleaved), first sample at global index `i0`.
fn synth53(x: &mut [i32], i0: u32) {
    let n = x.len();
    if n == 1 {
        if i0 & 1 == 1 {
            x[0] /= 2;
        }
        return;
    }
    let first_even = (i0 & 1) as usize; // local index of the first even global sample
    let mut k = first_even;
    while k < n {
        let l = x[mirror(k as isize - 1, n)];
        let r = x[mirror(k as isize + 1, n)];
        x[k] = x[k].wrapping_sub((l.wrapping_add(r).wrapping_add(2)) >> 2);
        k += 2;
    }
    let mut k = 1 - first_even;
    while k < n {
        let l = x[mirror(k as isize - 1, n)];
        let r = x[mirror(k as isize + 1, n)];
        x[k] = x[k].wrapping_add((l.wrapping_add(r)) >> 1);
        k += 2;
    }
}

/// 1-D irreversible synthesis on `f32` values kept as bits in `i32` words.
fn synth97(x: &mut [i32], i0: u32) {
    let n = x.len();
    let get = |x: &[i32], k: usize| f32::from_bits(x[k] as u32);
    let put = |x: &mut [i32], k: usize, v: f32| x[k] = v.to_bits() as i32;
    if n == 1 {
        if i0 & 1 == 1 {
            let v = get(x, 0) / 2.0;
            put(x, 0, v);
        }
        return;
    }
    let even = (i0 & 1) as usize;
    let odd = 1 - even;
    for (start, scale) in [(even, K), (odd, 1.0 / K)] {
        let mut k = start;
        while k < n {
            let v = get(x, k) * scale;
            put(x, k, v);
            k += 2;
        }
    }
    for (start, c) in [(even, DELTA), (odd, GAMMA), (even, BETA), (odd, ALPHA)] {
        let mut k = start;
        while k < n {
            let l = get(x, mirror(k as isize - 1, n));
            let r = get(x, mirror(k as isize + 1, n));
            let v = get(x, k) - c * (l + r);
            put(x, k, v);
            k += 2;
        }
    }
}

/// Inverse 2-D transform of one level, in place in `buf` (row stride `stride`, coefficients
/// kept as `store` says). `tmp` holds at least `max(w, h)` words.
pub(crate) fn inverse_level(
    buf: &mut [i32],
    store: Store,
    stride: usize,
    lv: Level,
    reversible: bool,
    tmp: &mut [i32],
) {
    let (w, h) = (lv.w, lv.h);
    if w == 0 || h == 0 {
        return;
    }
    // Rows.
    for y in 0..h {
        let base = y * stride;
        line(w, |j| store.get(buf, base + j), lv.x0, reversible, tmp);
        for (x, v) in tmp[..w].iter().enumerate() {
            store.set(buf, base + x, *v);
        }
    }
    // Columns.
    for x in 0..w {
        line(h, |j| store.get(buf, j * stride + x), lv.y0, reversible, tmp);
        for (y, v) in tmp[..h].iter().enumerate() {
            store.set(buf, y * stride + x, *v);
        }
    }
}

fn line(n: usize, src: impl Fn(usize) -> i32, i0: u32, reversible: bool, tmp: &mut [i32]) {
    interleave(src, n, i0, tmp);
    let t = &mut tmp[..n];
    if reversible {
        synth53(t, i0);
    } else {
        synth97(t, i0);
    }
}
