//! The DET curve (FNMR against FMR, both on normal-deviate scales, as ISO/IEC 19795-1 draws
//! it) as a PNG. Rates of 0 cannot sit on that scale: they are drawn on the axis's lower edge
//! with hollow markers, and the caption says how many pairs each rate rests on.

use super::metrics::Rates;
use ab_glyph::{point, Font, FontVec, PxScale, ScaleFont};
use image::{Rgb, RgbImage};

const W: u32 = 640;
const H: u32 = 560;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 610.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 470.0;
/// Axis range: 0.1 % to 50 %.
const MIN_RATE: f64 = 0.001;
const MAX_RATE: f64 = 0.5;
const TICKS: [(f64, &str); 9] = [
    (0.001, "0.1"),
    (0.002, "0.2"),
    (0.005, "0.5"),
    (0.01, "1"),
    (0.02, "2"),
    (0.05, "5"),
    (0.1, "10"),
    (0.2, "20"),
    (0.5, "50"),
];

/// The standard normal CDF, from erfc (Abramowitz & Stegun 7.1.26, |ε| < 1.5e-7).
fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-z * z).exp();
    if x >= 0.0 {
        1.0 - erfc / 2.0
    } else {
        erfc / 2.0
    }
}

/// The normal deviate of a probability (the inverse CDF), by bisection: plotting needs
/// pixels, not digits.
pub fn probit(p: f64) -> f64 {
    let (mut lo, mut hi) = (-8.0, 8.0);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

fn axis(rate: f64, from: f64, to: f64) -> f64 {
    let r = rate.clamp(MIN_RATE, MAX_RATE);
    let (a, b) = (probit(MIN_RATE), probit(MAX_RATE));
    from + (probit(r) - a) / (b - a) * (to - from)
}

struct Plot {
    img: RgbImage,
    font: Option<FontVec>,
}

impl Plot {
    fn put(&mut self, x: i64, y: i64, c: Rgb<u8>) {
        if x >= 0 && y >= 0 && (x as u32) < W && (y as u32) < H {
            self.img.put_pixel(x as u32, y as u32, c);
        }
    }

    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: Rgb<u8>, thick: i64) {
        let n = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
        for i in 0..=n {
            let t = i as f64 / n as f64;
            let (x, y) = ((x0 + (x1 - x0) * t).round() as i64, (y0 + (y1 - y0) * t).round() as i64);
            for d in 0..thick {
                self.put(x + d / 2, y + d - d / 2, c);
                self.put(x, y + d, c);
            }
        }
    }

    fn marker(&mut self, (x, y): (f64, f64), c: Rgb<u8>, filled: bool) {
        for dy in -5i64..=5 {
            for dx in -5i64..=5 {
                let r2 = dx * dx + dy * dy;
                if r2 <= 25 && (filled || r2 >= 12) {
                    self.put(x.round() as i64 + dx, y.round() as i64 + dy, c);
                }
            }
        }
    }

    fn text(&mut self, x: f64, y: f64, size: f32, s: &str, c: Rgb<u8>) {
        let Some(font) = self.font.take() else { return };
        let f = font.as_scaled(PxScale::from(size));
        let mut pen = x as f32;
        let mut glyphs = Vec::new();
        for ch in s.chars() {
            let g = f.scaled_glyph(ch);
            let adv = f.h_advance(g.id);
            glyphs.push(ab_glyph::Glyph { position: point(pen, y as f32 + f.ascent()), ..g });
            pen += adv;
        }
        for g in glyphs {
            if let Some(o) = font.outline_glyph(g) {
                let b = o.px_bounds();
                let mut px = Vec::new();
                o.draw(|gx, gy, cov| px.push((b.min.x as i64 + gx as i64, b.min.y as i64 + gy as i64, cov)));
                for (px_x, px_y, cov) in px {
                    if cov > 0.4 {
                        self.put(px_x, px_y, c);
                    }
                }
            }
        }
        self.font = Some(font);
    }
}

/// Draws the sweep and the operating point; `caption` lines go under the plot.
pub fn draw(sweep: &[Rates], operating: Option<&Rates>, title: &str, caption: &[String]) -> RgbImage {
    let font = crate::render::find_cjk_font()
        .ok()
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|d| FontVec::try_from_vec_and_index(d, 0).ok());
    let mut p = Plot { img: RgbImage::from_pixel(W, H, Rgb([255, 255, 255])), font };
    let grey = Rgb([215, 215, 215]);
    let black = Rgb([0, 0, 0]);
    for (r, label) in TICKS {
        let x = axis(r, LEFT, RIGHT);
        let y = axis(r, BOTTOM, TOP);
        p.line((x, TOP), (x, BOTTOM), grey, 1);
        p.line((LEFT, y), (RIGHT, y), grey, 1);
        p.text(x - 8.0, BOTTOM + 6.0, 13.0, label, black);
        p.text(LEFT - 34.0, y - 8.0, 13.0, label, black);
    }
    p.line((LEFT, TOP), (LEFT, BOTTOM), black, 1);
    p.line((LEFT, BOTTOM), (RIGHT, BOTTOM), black, 1);
    p.line((RIGHT, TOP), (RIGHT, BOTTOM), black, 1);
    p.line((LEFT, TOP), (RIGHT, TOP), black, 1);
    p.text(LEFT, 14.0, 17.0, title, black);
    p.text((LEFT + RIGHT) / 2.0 - 90.0, BOTTOM + 24.0, 14.0, "FMR (%, normal deviate scale)", black);
    p.text(8.0, TOP - 24.0, 14.0, "FNMR (%)", black);
    let blue = Rgb([30, 90, 200]);
    let pts: Vec<(f64, f64, bool)> = sweep
        .iter()
        .map(|r| {
            (axis(r.fmr, LEFT, RIGHT), axis(r.fnmr, BOTTOM, TOP), r.fmr >= MIN_RATE && r.fnmr >= MIN_RATE)
        })
        .collect();
    for w in pts.windows(2) {
        p.line((w[0].0, w[0].1), (w[1].0, w[1].1), blue, 2);
    }
    for &(x, y, inside) in &pts {
        p.marker((x, y), blue, inside);
    }
    if let Some(op) = operating {
        let red = Rgb([210, 30, 30]);
        let at = (axis(op.fmr, LEFT, RIGHT), axis(op.fnmr, BOTTOM, TOP));
        p.marker(at, red, true);
        p.text(at.0 + 8.0, at.1 - 20.0, 13.0, &format!("threshold {:.3}", op.threshold), red);
    }
    for (i, c) in caption.iter().enumerate() {
        p.text(LEFT - 60.0, BOTTOM + 46.0 + 16.0 * i as f64, 12.0, c, black);
    }
    p.img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probit_inverts_the_normal_cdf() {
        assert!(probit(0.5).abs() < 1e-6);
        assert!((probit(0.975) - 1.959_964).abs() < 1e-4);
        assert!((probit(0.001) + 3.090_232).abs() < 1e-4);
    }

    #[test]
    fn the_curve_and_the_operating_point_are_drawn() {
        let r = |fmr, fnmr, t| Rates {
            threshold: t,
            fmr,
            fnmr,
            false_matches: 0,
            false_non_matches: 0,
            genuine: 1,
            impostor: 1,
        };
        let sweep = [r(0.0, 0.5, 0.1), r(0.05, 0.1, 0.5), r(0.3, 0.01, 0.8)];
        let img = draw(&sweep, Some(&sweep[1]), "test", &[]);
        // the operating point's red marker sits where the axes put FMR 5 %, FNMR 10 %
        let (x, y) = (axis(0.05, LEFT, RIGHT).round() as u32, axis(0.1, BOTTOM, TOP).round() as u32);
        assert_eq!(img.get_pixel(x, y), &Rgb([210, 30, 30]));
        // and the blue curve passes between the first two points
        let mid = (
            (axis(0.0, LEFT, RIGHT) + axis(0.05, LEFT, RIGHT)) / 2.0,
            (axis(0.5, BOTTOM, TOP) + axis(0.1, BOTTOM, TOP)) / 2.0,
        );
        let near_blue = (-2i64..=2).any(|d| {
            (-2i64..=2).any(|e| {
                img.get_pixel((mid.0 as i64 + d) as u32, (mid.1 as i64 + e) as u32) == &Rgb([30, 90, 200])
            })
        });
        assert!(near_blue);
    }
}
