//! The homography from the canonical card (see [`super::layout`]) to the camera frame (the
//! frame is sampled through it with [`crate::geom::sample_grey`]).

use crate::geom::{self, Pivot};
use crate::image::Point;

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
        let h = geom::solve8(&mut a, Pivot::Absolute(1e-12))?;
        if !h.iter().all(|v| v.is_finite()) {
            return None;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
