//! The crate's small numerical kit, one implementation of each operation (no `std`, no heap):
//!
//! - [`sqrt`] / [`sqrtf`] / [`sqrtf_or_zero`] and [`floor`]: `libm`'s (correctly rounded, as
//!   `std` and dlib's C++ compute them); the last one is the variant for measurements (lengths,
//!   variances, RMS) whose callers want 0 rather than NaN for an input ≤ 0 or NaN.
//! - [`blend`]: the bilinear interpolation of four neighbours, generic over the precision
//!   ([`Real`]: f32 on the card-front and liveness paths, f64 where dlib parity needs double).
//!   The edge policy is the caller's, and there are two, because the callers truly differ:
//!   [`sample_grey`] clamps coordinates to the image (edges replicated; the card front and
//!   liveness), [`Cell::inside`] refuses a sample whose 2×2 neighbourhood leaves the image
//!   (dlib's `interpolate_bilinear`, for [`crate::align`]).
//! - [`solve8`]: the 8×8 linear system of a homography with h₂₂ = 1 (Gaussian elimination with
//!   partial pivoting, back substitution), generic over the precision, with the pivot rule as
//!   a parameter ([`Pivot`]): the card front solves the exact four-point system in f64 with an
//!   absolute threshold, liveness the least-squares normal equations in f32 with a threshold
//!   relative to their diagonal.
//! - [`similarity`]: the moments of the least-squares similarity transform (Umeyama, 2-D
//!   closed form) that the landmark cascade and the chip alignment both fit.

use core::ops::{Add, Div, Mul, Sub};

use crate::image::ImageRef;

/// Square root of an f64 (IEEE: NaN below 0, correctly rounded).
#[inline]
pub(crate) fn sqrt(x: f64) -> f64 {
    libm::sqrt(x)
}

/// Square root of an f32 (IEEE: NaN below 0, correctly rounded).
#[inline]
pub(crate) fn sqrtf(x: f32) -> f32 {
    libm::sqrtf(x)
}

/// Square root of a measurement: 0 for x ≤ 0 or NaN (a variance rounded just below 0 is 0),
/// otherwise [`sqrtf`].
#[inline]
pub(crate) fn sqrtf_or_zero(x: f32) -> f32 {
    if x > 0.0 {
        libm::sqrtf(x)
    } else {
        0.0
    }
}

/// `⌊x⌋` of an f64.
#[inline]
pub(crate) fn floor(x: f64) -> f64 {
    libm::floor(x)
}

/// The float types the generic operations run in.
pub(crate) trait Real:
    Copy + PartialOrd + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self>
{
    const ZERO: Self;
    const ONE: Self;
    fn abs(self) -> Self;
    /// The larger of the two; the other one if either is NaN (as `f32::max`).
    fn max(self, other: Self) -> Self;
    fn is_nan(self) -> bool;
}

macro_rules! real {
    ($t:ty) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline]
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            #[inline]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    };
}
real!(f32);
real!(f64);

/// Bilinear interpolation of the 2×2 neighbourhood `tl tr / bl br` at fractions `(fx, fy)`:
/// `(tl (1 − fx) + tr fx) (1 − fy) + (bl (1 − fx) + br fx) fy`.
#[inline]
pub(crate) fn blend<T: Real>(tl: T, tr: T, bl: T, br: T, fx: T, fy: T) -> T {
    (tl * (T::ONE - fx) + tr * fx) * (T::ONE - fy) + (bl * (T::ONE - fx) + br * fx) * fy
}

/// Where a bilinear sample falls: the top-left pixel of its 2×2 neighbourhood, the right and
/// bottom neighbours' columns and rows, and the fractions towards them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Cell<T> {
    pub(crate) x0: usize,
    pub(crate) y0: usize,
    pub(crate) x1: usize,
    pub(crate) y1: usize,
    pub(crate) fx: T,
    pub(crate) fy: T,
}

impl Cell<f32> {
    /// Coordinates clamped to a `w`×`h` image (w, h ≥ 1); at the last row or column the
    /// neighbour is the pixel itself (edges replicated).
    #[inline]
    pub(crate) fn clamped(x: f32, y: f32, w: usize, h: usize) -> Self {
        let x = x.clamp(0.0, (w - 1) as f32);
        let y = y.clamp(0.0, (h - 1) as f32);
        let (x0, y0) = (x as usize, y as usize);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        Self { x0, y0, x1, y1, fx: x - x0 as f32, fy: y - y0 as f32 }
    }
}

impl Cell<f64> {
    /// dlib's `interpolate_bilinear`: `None` when the 2×2 neighbourhood leaves a `w`×`h` image
    /// (or the coordinates are not finite).
    #[inline]
    pub(crate) fn inside(x: f64, y: f64, w: usize, h: usize) -> Option<Self> {
        if !(x.abs() < 1e15 && y.abs() < 1e15) {
            return None;
        }
        let (left, top) = (floor(x), floor(y));
        if !(left >= 0.0 && top >= 0.0 && left + 1.0 < w as f64 && top + 1.0 < h as f64) {
            return None;
        }
        let (x0, y0) = (left as usize, top as usize);
        Some(Self { x0, y0, x1: x0 + 1, y1: y0 + 1, fx: x - left, fy: y - top })
    }
}

/// Bilinear grey sample of `frame` at `(x, y)`, coordinates clamped to the image.
#[inline]
pub(crate) fn sample_grey(frame: &ImageRef<'_>, x: f32, y: f32) -> f32 {
    let c = Cell::clamped(x, y, frame.width(), frame.height());
    let g = |xx, yy| f32::from(frame.grey(xx, yy));
    blend(g(c.x0, c.y0), g(c.x1, c.y0), g(c.x0, c.y1), g(c.x1, c.y1), c.fx, c.fy)
}

/// When [`solve8`] gives up on a pivot.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Pivot<T> {
    /// A pivot of magnitude below this (or NaN) makes the system singular.
    Absolute(T),
    /// A pivot of magnitude at most this times the largest diagonal element (or NaN) makes the
    /// system singular; so does a diagonal of zeros.
    Relative(T),
}

/// Gaussian elimination with partial pivoting of an 8×8 system (augmented column 8), then back
/// substitution; `None` when a pivot is refused by `pivot`. `a` is left eliminated.
pub(crate) fn solve8<T: Real>(a: &mut [[T; 9]; 8], pivot: Pivot<T>) -> Option<[T; 8]> {
    let (limit, strict) = match pivot {
        Pivot::Absolute(eps) => (eps, true),
        Pivot::Relative(eps) => {
            let scale = (0..8).map(|i| a[i][i].abs()).fold(T::ZERO, T::max);
            if scale.is_nan() || scale <= T::ZERO {
                return None;
            }
            (scale * eps, false)
        }
    };
    for col in 0..8 {
        let mut piv = col;
        for r in col + 1..8 {
            if a[r][col].abs() > a[piv][col].abs() {
                piv = r;
            }
        }
        let p = a[piv][col].abs();
        if p.is_nan() || if strict { p < limit } else { p <= limit } {
            return None;
        }
        a.swap(col, piv);
        let pivot_row = a[col];
        for row in a.iter_mut().skip(col + 1) {
            let f = row[col] / pivot_row[col];
            for (x, p) in row.iter_mut().zip(pivot_row.iter()).skip(col) {
                *x = *x - f * *p;
            }
        }
    }
    let mut h = [T::ZERO; 8];
    for r in (0..8).rev() {
        let mut s = a[r][8];
        for c in r + 1..8 {
            s = s - a[r][c] * h[c];
        }
        h[r] = s / a[r][r];
    }
    Some(h)
}

/// The moments of the least-squares similarity transform taking `from[i]` to `to[i]`
/// (Umeyama); in 2-D its SVD has a closed form, c·R = [[a, −b], [b, a]] with
/// a = (cov00 + cov11)/σ², b = (cov10 − cov01)/σ² ([`Similarity::ab`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Similarity {
    /// Means of `from` and of `to`.
    pub(crate) mean_from: (f64, f64),
    pub(crate) mean_to: (f64, f64),
    /// σ² = E|from − μfrom|².
    pub(crate) sigma: f64,
    /// cov = E[(to − μto)(from − μfrom)ᵀ], row-major.
    pub(crate) cov: [[f64; 2]; 2],
}

impl Similarity {
    /// `(a, b)` of the rotation·scale `[[a, −b], [b, a]]` (not finite when σ² = 0).
    #[inline]
    pub(crate) fn ab(&self) -> (f64, f64) {
        let c = &self.cov;
        ((c[0][0] + c[1][1]) / self.sigma, (c[1][0] - c[0][1]) / self.sigma)
    }
}

/// [`Similarity`] of `N` point pairs `(from[i], to[i])`.
pub(crate) fn similarity<const N: usize>(from: &[(f64, f64); N], to: &[(f64, f64); N]) -> Similarity {
    let n = N as f64;
    let (mut mfx, mut mfy, mut mtx, mut mty) = (0f64, 0f64, 0f64, 0f64);
    for (f, t) in from.iter().zip(to) {
        mfx += f.0;
        mfy += f.1;
        mtx += t.0;
        mty += t.1;
    }
    let (mfx, mfy, mtx, mty) = (mfx / n, mfy / n, mtx / n, mty / n);
    let (mut sigma, mut c00, mut c01, mut c10, mut c11) = (0f64, 0f64, 0f64, 0f64, 0f64);
    for (f, t) in from.iter().zip(to) {
        let (fx, fy) = (f.0 - mfx, f.1 - mfy);
        let (tx, ty) = (t.0 - mtx, t.1 - mty);
        sigma += fx * fx + fy * fy;
        c00 += tx * fx;
        c01 += tx * fy;
        c10 += ty * fx;
        c11 += ty * fy;
    }
    Similarity {
        mean_from: (mfx, mfy),
        mean_to: (mtx, mty),
        sigma: sigma / n,
        cov: [[c00 / n, c01 / n], [c10 / n, c11 / n]],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqrt_is_accurate() {
        for x in [1e-6f32, 0.25, 2.0, 3.0, 100.0, 12345.6, 1e9] {
            let r = sqrtf_or_zero(x);
            assert!((r * r - x).abs() <= x * 1e-5, "{x}: {r}");
        }
        assert_eq!(sqrtf_or_zero(-1.0), 0.0);
        assert_eq!(sqrtf_or_zero(f32::NAN), 0.0);
        assert!(sqrtf(f32::NAN).is_nan());
    }

    #[test]
    fn floor_and_sqrt() {
        assert_eq!(floor(2.5), 2.0);
        assert_eq!(floor(-2.5), -3.0);
        assert_eq!(floor(-0.0), 0.0);
        assert_eq!(floor(1e300), 1e300);
        for x in [0.0, 1e-300, 0.25, 2.0, 3.0, 22500.0, 1e10, 123456.789] {
            let (got, want) = (sqrt(x), x.sqrt());
            assert!(got == want || got.to_bits().abs_diff(want.to_bits()) == 1, "{x}: {got} vs {want}");
        }
        assert!(sqrt(-1.0).is_nan());
    }

    #[test]
    fn bilinear_sampling_interpolates_and_clamps() {
        let data = [0u8, 100, 200, 50];
        let img = ImageRef::new(2, 2, 1, &data).unwrap();
        assert_eq!(sample_grey(&img, 0.5, 0.0), 50.0);
        assert_eq!(sample_grey(&img, 0.5, 0.5), 87.5);
        assert_eq!(sample_grey(&img, -3.0, 9.0), 200.0);
    }
}
