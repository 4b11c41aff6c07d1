//! The homography from the canonical card (see [`super::layout`]) to the camera frame, and
//! bilinear sampling of the frame through it.

use crate::image::{ImageRef, Point};

/// Square root without `std` (Newton on a bit-level first guess); 0 for x ≤ 0.
pub(crate) fn sqrt(x: f32) -> f32 {
    if x <= 0.0 || !x.is_finite() {
        return 0.0;
    }
    let mut y = f32::from_bits((x.to_bits() >> 1) + 0x1FBD_1DF5);
    for _ in 0..3 {
        y = 0.5 * (y + x / y);
    }
    y
}

/// Maps canonical card pixels `(u, v)` to frame pixels: `(x, y) = (h0 u + h1 v + h2,
/// h3 u + h4 v + h5) / (h6 u + h7 v + 1)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Homography([f64; 8]);

impl Homography {
    /// The homography taking `from[i]` to `to[i]`; `None` if the points are degenerate.
    pub(crate) fn from_points(from: &[Point; 4], to: &[Point; 4]) -> Option<Self> {
        // Two rows per correspondence of the 8×8 system A h = b.
        let mut a = [[0f64; 9]; 8];
        for i in 0..4 {
            let (u, v) = (f64::from(from[i].x), f64::from(from[i].y));
            let (x, y) = (f64::from(to[i].x), f64::from(to[i].y));
            a[2 * i] = [u, v, 1.0, 0.0, 0.0, 0.0, -u * x, -v * x, x];
            a[2 * i + 1] = [0.0, 0.0, 0.0, u, v, 1.0, -u * y, -v * y, y];
        }
        // Gaussian elimination with partial pivoting.
        for col in 0..8 {
            let mut pivot = col;
            for row in col + 1..8 {
                if a[row][col].abs() > a[pivot][col].abs() {
                    pivot = row;
                }
            }
            if a[pivot][col].abs() < 1e-12 {
                return None;
            }
            a.swap(col, pivot);
            let pivot_row = a[col];
            for (r, row) in a.iter_mut().enumerate() {
                if r != col {
                    let f = row[col] / pivot_row[col];
                    if f != 0.0 {
                        for (v, p) in row.iter_mut().zip(pivot_row).skip(col) {
                            *v -= f * p;
                        }
                    }
                }
            }
        }
        let mut h = [0f64; 8];
        for (i, v) in h.iter_mut().enumerate() {
            *v = a[i][8] / a[i][i];
            if !v.is_finite() {
                return None;
            }
        }
        Some(Self(h))
    }

    /// The homography from the canonical card rectangle to `corners` (top-left, top-right,
    /// bottom-right, bottom-left in the frame).
    pub(crate) fn from_card_corners(corners: &[Point; 4]) -> Option<Self> {
        let (w, h) = (super::layout::CARD_WIDTH, super::layout::CARD_HEIGHT);
        let card =
            [Point { x: 0.0, y: 0.0 }, Point { x: w, y: 0.0 }, Point { x: w, y: h }, Point { x: 0.0, y: h }];
        Self::from_points(&card, corners)
    }

    /// Frame position of canonical `(u, v)`.
    #[inline]
    pub(crate) fn map(&self, u: f32, v: f32) -> Point {
        let h = &self.0;
        let (u, v) = (f64::from(u), f64::from(v));
        let d = h[6] * u + h[7] * v + 1.0;
        let d = if d.abs() < 1e-9 { 1e-9 } else { d };
        Point { x: ((h[0] * u + h[1] * v + h[2]) / d) as f32, y: ((h[3] * u + h[4] * v + h[5]) / d) as f32 }
    }
}

/// Bilinear grey sample of `frame` at `(x, y)`, coordinates clamped to the image.
#[inline]
pub(crate) fn sample(frame: &ImageRef<'_>, x: f32, y: f32) -> f32 {
    let (w, h) = (frame.width(), frame.height());
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x as usize, y as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let g = |xx, yy| f32::from(frame.grey(xx, yy));
    let top = g(x0, y0) * (1.0 - fx) + g(x1, y0) * fx;
    let bottom = g(x0, y1) * (1.0 - fx) + g(x1, y1) * fx;
    top * (1.0 - fy) + bottom * fy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqrt_is_accurate() {
        for x in [1e-6f32, 0.25, 2.0, 3.0, 100.0, 12345.6, 1e9] {
            let r = sqrt(x);
            assert!((r * r - x).abs() <= x * 1e-5, "{x}: {r}");
        }
        assert_eq!(sqrt(-1.0), 0.0);
        assert_eq!(sqrt(f32::NAN), 0.0);
    }

    #[test]
    fn homography_maps_the_four_points_and_refuses_degenerate_ones() {
        let from = [
            Point { x: 0.0, y: 0.0 },
            Point { x: 100.0, y: 0.0 },
            Point { x: 100.0, y: 50.0 },
            Point { x: 0.0, y: 50.0 },
        ];
        let to = [
            Point { x: 12.0, y: 30.0 },
            Point { x: 300.0, y: 10.0 },
            Point { x: 320.0, y: 200.0 },
            Point { x: 5.0, y: 170.0 },
        ];
        let h = Homography::from_points(&from, &to).unwrap();
        for (f, t) in from.iter().zip(&to) {
            let p = h.map(f.x, f.y);
            assert!((p.x - t.x).abs() < 1e-3 && (p.y - t.y).abs() < 1e-3, "{p:?} vs {t:?}");
        }
        let line = [from[0], from[1], Point { x: 200.0, y: 0.0 }, Point { x: 300.0, y: 0.0 }];
        assert!(Homography::from_points(&line, &to).is_none());
    }

    #[test]
    fn bilinear_sampling_interpolates_and_clamps() {
        let data = [0u8, 100, 200, 50];
        let img = ImageRef::new(2, 2, 1, &data).unwrap();
        assert_eq!(sample(&img, 0.5, 0.0), 50.0);
        assert_eq!(sample(&img, 0.5, 0.5), 87.5);
        assert_eq!(sample(&img, -3.0, 9.0), 200.0);
    }
}
