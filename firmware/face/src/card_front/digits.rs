//! Reading a row of digit cells: the row is rectified into a patch (canonical pixels, ink
//! high), every cell is compared with the ten digit templates by normalised cross-correlation
//! over small shifts, and a digit is taken only with a clear score and a clear margin over the
//! runner-up.

use super::layout::{DigitRow, DigitStyle, CODE_DIGITS, TEXT_DIGITS};
use super::rectify::Homography;
use super::{templates, CardFrontError, Field};
use crate::geom::{sample_grey, sqrtf_or_zero};
use crate::image::ImageRef;

/// Search radius around the layout position, canonical px (± 0.75 mm).
pub(crate) const SHIFT: usize = 6;
/// Per-cell refinement around the row's best shift, canonical px.
const CELL_SHIFT: i32 = 1;

/// Lowest correlation a digit may be taken with.
pub const MIN_SCORE: f32 = 0.55;
/// Least margin of the best digit over the runner-up (see [`required_margin`]).
pub const MIN_MARGIN: f32 = 0.06;
/// The margin a digit of score `s` needs: [`MIN_MARGIN`] for a clean match, more for a weaker
/// one (a weak match with a small margin is how misreads look).
pub fn required_margin(s: f32) -> f32 {
    MIN_MARGIN + 0.5 * (0.85 - s).max(0.0)
}

/// A blank-able cell whose ink spread is under this fraction of its row's printed cells is
/// blank.
const BLANK_RATIO: f32 = 0.3;

/// Bytes of patch the largest row needs.
pub(crate) const PATCH_MAX: usize = patch_len(4, CODE_DIGITS);

pub(crate) const fn patch_len(cells: usize, style: DigitStyle) -> usize {
    (cells * style.cell_w + 2 * SHIFT) * (style.cell_h + 2 * SHIFT)
}

/// The sharp and the blurred template sets of a style.
fn templates_for(style: DigitStyle) -> [&'static [&'static [u8]; 10]; 2] {
    if style == TEXT_DIGITS {
        [&templates::TEXT, &templates::TEXT_BLURRED]
    } else {
        [&templates::CODE, &templates::CODE_BLURRED]
    }
}

/// How sure the reading of a row was.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RowQuality {
    pub min_score: f32,
    pub min_margin: f32,
}

/// A template with its mean removed and its norm.
struct Prepared {
    mean: f32,
    norm: f32,
}

fn prepare(t: &[u8]) -> Prepared {
    let n = t.len() as f32;
    let mean = t.iter().map(|&v| f32::from(v)).sum::<f32>() / n;
    let var: f32 = t.iter().map(|&v| (f32::from(v) - mean) * (f32::from(v) - mean)).sum();
    Prepared { mean, norm: sqrtf_or_zero(var) }
}

/// Normalised cross-correlation of template `t` with the patch window at `(x0, y0)`; also
/// answers the window's standard deviation.
fn ncc(
    t: &[u8],
    p: &Prepared,
    patch: &[u8],
    pw: usize,
    x0: usize,
    y0: usize,
    style: DigitStyle,
) -> (f32, f32) {
    let (cw, ch) = (style.cell_w, style.cell_h);
    let (mut sw, mut sww, mut stw) = (0f32, 0f32, 0f32);
    for y in 0..ch {
        let row = &patch[(y0 + y) * pw + x0..(y0 + y) * pw + x0 + cw];
        let trow = &t[y * cw..y * cw + cw];
        for (&w, &tv) in row.iter().zip(trow) {
            let w = f32::from(w);
            sw += w;
            sww += w * w;
            stw += (f32::from(tv) - p.mean) * w;
        }
    }
    let n = (cw * ch) as f32;
    let var = (sww - sw * sw / n).max(0.0);
    let sd = sqrtf_or_zero(var / n);
    if var < 1e-3 || p.norm < 1e-3 {
        return (0.0, sd);
    }
    (stw / (sqrtf_or_zero(var) * p.norm), sd)
}

/// The templates of a style, prepared.
struct Matcher {
    sets: [&'static [&'static [u8]; 10]; 2],
    prepared: [[Prepared; 10]; 2],
    style: DigitStyle,
}

impl Matcher {
    fn new(style: DigitStyle) -> Self {
        let sets = templates_for(style);
        let prepared = core::array::from_fn(|s| core::array::from_fn(|d| prepare(sets[s][d])));
        Self { sets, prepared, style }
    }

    /// Digit `d`'s score at `(x0, y0)` of the patch: the better of its sharp and blurred
    /// template; and the window's standard deviation.
    fn score(&self, d: usize, patch: &[u8], pw: usize, x0: usize, y0: usize) -> (f32, f32) {
        let (a, sd) = ncc(self.sets[0][d], &self.prepared[0][d], patch, pw, x0, y0, self.style);
        let (b, _) = ncc(self.sets[1][d], &self.prepared[1][d], patch, pw, x0, y0, self.style);
        (a.max(b), sd)
    }
}

/// Reads `row` into `out` (ASCII digits, one per cell).
pub(crate) fn read_row(
    frame: &ImageRef<'_>,
    h: &Homography,
    field: Field,
    row: &DigitRow,
    patch: &mut [u8],
    out: &mut [u8],
) -> Result<RowQuality, CardFrontError> {
    let style = row.style;
    let pw = row.cells * style.cell_w + 2 * SHIFT;
    let ph = style.cell_h + 2 * SHIFT;
    let got = patch.len();
    let patch = patch.get_mut(..pw * ph).ok_or(CardFrontError::ScratchTooSmall { need: pw * ph, got })?;
    // Rectify: canonical pixel centres, ink high.
    for y in 0..ph {
        for x in 0..pw {
            let u = (row.left + x) as f32 - SHIFT as f32 + 0.5;
            let v = (row.top + y) as f32 - SHIFT as f32 + 0.5;
            let p = h.map(u, v);
            patch[y * pw + x] = 255 - sample_grey(frame, p.x - 0.5, p.y - 0.5) as u8;
        }
    }
    let matcher = Matcher::new(style);

    // The row's shift: the one maximising the sum of the cells' best scores, on a grid of
    // 2 px, then refined by 1 px around the best.
    let row_score = |dx: usize, dy: usize| {
        let mut total = 0f32;
        // A blank-able cell is left out: blank, it would pull the row onto the next glyph.
        let first = usize::from(row.blank_first);
        for c in first..row.cells {
            let x0 = c * style.cell_w + dx;
            total += (0..10).map(|d| matcher.score(d, patch, pw, x0, dy).0).fold(f32::MIN, f32::max);
        }
        total
    };
    let mut best_shift = (SHIFT, SHIFT, f32::MIN);
    for dy in (0..=2 * SHIFT).step_by(2) {
        for dx in (0..=2 * SHIFT).step_by(2) {
            let total = row_score(dx, dy);
            if total > best_shift.2 {
                best_shift = (dx, dy, total);
            }
        }
    }
    let (cx, cy) = (best_shift.0, best_shift.1);
    for dy in cy.saturating_sub(1)..=(cy + 1).min(2 * SHIFT) {
        for dx in cx.saturating_sub(1)..=(cx + 1).min(2 * SHIFT) {
            if (dx, dy) != (cx, cy) {
                let total = row_score(dx, dy);
                if total > best_shift.2 {
                    best_shift = (dx, dy, total);
                }
            }
        }
    }

    // Each cell: best and runner-up digit over a small shift around the row's.
    let mut quality = RowQuality { min_score: 1.0, min_margin: 1.0 };
    let mut spread = [0f32; 4];
    let mut scores = [[f32::MIN; 10]; 4];
    for c in 0..row.cells.min(4) {
        for ddy in -CELL_SHIFT..=CELL_SHIFT {
            for ddx in -CELL_SHIFT..=CELL_SHIFT {
                let x0 = (c * style.cell_w + best_shift.0) as i32 + ddx;
                let y0 = best_shift.1 as i32 + ddy;
                if x0 < 0 || y0 < 0 || x0 as usize + style.cell_w > pw || y0 as usize + style.cell_h > ph {
                    continue;
                }
                for (d, best) in scores[c].iter_mut().enumerate() {
                    let (s, sd) = matcher.score(d, patch, pw, x0 as usize, y0 as usize);
                    if ddx == 0 && ddy == 0 {
                        spread[c] = sd;
                    }
                    *best = best.max(s);
                }
            }
        }
    }
    let printed_spread = {
        let (mut s, mut n) = (0f32, 0f32);
        for (c, &sd) in spread.iter().enumerate().take(row.cells) {
            if !(row.blank_first && c == 0) {
                s += sd;
                n += 1.0;
            }
        }
        s / n.max(1.0)
    };
    for c in 0..row.cells.min(4) {
        if row.blank_first && c == 0 && spread[c] < BLANK_RATIO * printed_spread {
            out[c] = b'0';
            continue;
        }
        let (mut d1, mut s1, mut s2) = (0usize, f32::MIN, f32::MIN);
        for (d, &s) in scores[c].iter().enumerate() {
            if s > s1 {
                (s2, s1, d1) = (s1, s, d);
            } else if s > s2 {
                s2 = s;
            }
        }
        quality.min_score = quality.min_score.min(s1);
        quality.min_margin = quality.min_margin.min(s1 - s2);
        if s1 < MIN_SCORE || s1 - s2 < required_margin(s1) {
            return Err(CardFrontError::LowConfidence { field, cell: c as u8 });
        }
        out[c] = b'0' + d1 as u8;
    }
    Ok(quality)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_differ_from_each_other() {
        for t in [TEXT_DIGITS, CODE_DIGITS].iter().flat_map(|&s| templates_for(s).map(|t| (s, t))) {
            let (style, t) = t;
            let p: [Prepared; 10] = core::array::from_fn(|d| prepare(t[d]));
            let pw = style.cell_w;
            for a in 0..10 {
                let (same, _) = ncc(t[a], &p[a], t[a], pw, 0, 0, style);
                assert!((same - 1.0).abs() < 1e-3, "{a} with itself: {same}");
                for b in 0..10 {
                    if a != b {
                        let (s, _) = ncc(t[a], &p[a], t[b], pw, 0, 0, style);
                        assert!(s < 0.9, "{a} vs {b}: {s}");
                    }
                }
            }
        }
    }
}
