//! Finding the card in the frame: the largest bright region of a reduced copy (Otsu
//! threshold, flood fill), its four corners by farthest points, then each edge refitted at
//! full resolution along the brightness step and the corners intersected from the lines.

use super::CardFrontError;
use crate::geom::{sample_grey, sqrtf_or_zero};
use crate::image::{ImageRef, Point};

/// The reduced copy has at most this many pixels (160 × 120).
pub(crate) const MAX_REDUCED: usize = 160 * 120;

/// Reduction factor and reduced size for a frame.
pub(crate) fn reduction(width: usize, height: usize) -> (usize, usize, usize) {
    let mut f = 1;
    while (width / f) * (height / f) > MAX_REDUCED {
        f += 1;
    }
    (f, width / f, height / f)
}

/// Bytes of scratch the locator needs: the reduced image and a flood-fill queue of u16.
pub(crate) fn scratch_needed(width: usize, height: usize) -> usize {
    let (_, rw, rh) = reduction(width, height);
    rw * rh * 3
}

const UNVISITED: u8 = 1;
const SEEN: u8 = 2;
const CARD: u8 = 3;

/// Fills the component of `seed` (pixels equal to `from`) with `to`; answers its area and
/// whether it touches the image border.
fn flood(
    mask: &mut [u8],
    queue: &mut [u8],
    w: usize,
    h: usize,
    seed: usize,
    from: u8,
    to: u8,
) -> (usize, bool) {
    let push = |queue: &mut [u8], at: usize, v: usize| {
        queue[2 * at..2 * at + 2].copy_from_slice(&(v as u16).to_le_bytes());
    };
    let (mut head, mut tail) = (0usize, 0usize);
    mask[seed] = to;
    push(queue, tail, seed);
    tail += 1;
    let mut touches = false;
    while head < tail {
        let i = usize::from(u16::from_le_bytes([queue[2 * head], queue[2 * head + 1]]));
        head += 1;
        let (x, y) = (i % w, i / w);
        if x == 0 || y == 0 || x + 1 == w || y + 1 == h {
            touches = true;
        }
        let mut visit = |j: usize| {
            if mask[j] == from {
                mask[j] = to;
                push(queue, tail, j);
                tail += 1;
            }
        };
        if x > 0 {
            visit(i - 1);
        }
        if x + 1 < w {
            visit(i + 1);
        }
        if y > 0 {
            visit(i - w);
        }
        if y + 1 < h {
            visit(i + w);
        }
    }
    (tail, touches)
}

/// Otsu's threshold of a histogram; also answers the two class means.
fn otsu(hist: &[u32; 256]) -> (u8, f32, f32) {
    let total: f64 = hist.iter().map(|&c| f64::from(c)).sum();
    let sum_all: f64 = hist.iter().enumerate().map(|(i, &c)| i as f64 * f64::from(c)).sum();
    let (mut w0, mut sum0) = (0f64, 0f64);
    let (mut best, mut best_t, mut means) = (-1f64, 0u8, (0f32, 0f32));
    for (t, &count) in hist.iter().enumerate().take(255) {
        w0 += f64::from(count);
        sum0 += t as f64 * f64::from(count);
        let w1 = total - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let (m0, m1) = (sum0 / w0, (sum_all - sum0) / w1);
        let between = w0 * w1 * (m0 - m1) * (m0 - m1);
        if between > best {
            best = between;
            best_t = t as u8;
            means = (m0 as f32, m1 as f32);
        }
    }
    (best_t, means.0, means.1)
}

fn dist2(a: Point, b: Point) -> f32 {
    (a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)
}

/// Signed area ×2 (positive: clockwise on screen, y down).
fn area2(q: &[Point; 4]) -> f32 {
    (0..4).map(|i| q[i].x * q[(i + 1) % 4].y - q[(i + 1) % 4].x * q[i].y).sum()
}

/// The card's corners in the frame: top-left, top-right, bottom-right, bottom-left (upright
/// as seen in the frame; the caller decides whether the card lies upside down).
pub(crate) fn locate(frame: &ImageRef<'_>, scratch: &mut [u8]) -> Result<[Point; 4], CardFrontError> {
    let (f, rw, rh) = reduction(frame.width(), frame.height());
    if rw < 32 || rh < 24 {
        return Err(CardFrontError::FrameTooSmall);
    }
    let n = rw * rh;
    let (mask, rest) = scratch.split_at_mut(n);
    let queue = &mut rest[..2 * n];

    // Reduced grey image and its histogram.
    let mut hist = [0u32; 256];
    for ry in 0..rh {
        for rx in 0..rw {
            let mut s = 0u32;
            for y in ry * f..ry * f + f {
                for x in rx * f..rx * f + f {
                    s += u32::from(frame.grey(x, y));
                }
            }
            let g = (s / (f * f) as u32) as u8;
            mask[ry * rw + rx] = g;
            hist[usize::from(g)] += 1;
        }
    }
    // A card is paper on a darker desk: the bright class at least twice as bright as the dark
    // one, whatever the exposure (a textured desk alone splits into two close classes).
    let (t, dark, bright) = otsu(&hist);
    if bright - dark < 12.0 || bright - dark < 0.5 * bright {
        return Err(CardFrontError::NoCard);
    }
    for v in mask.iter_mut() {
        *v = if *v > t { UNVISITED } else { 0 };
    }

    // The largest bright component.
    let (mut best_seed, mut best_area, mut best_touches) = (None, 0usize, false);
    for i in 0..n {
        if mask[i] == UNVISITED {
            let (area, touches) = flood(mask, queue, rw, rh, i, UNVISITED, SEEN);
            if area > best_area {
                (best_seed, best_area, best_touches) = (Some(i), area, touches);
            }
        }
    }
    let seed = best_seed.ok_or(CardFrontError::NoCard)?;
    if best_area < n / 25 {
        return Err(CardFrontError::NoCard);
    }
    if best_touches {
        return Err(CardFrontError::NotWhollyInFrame);
    }
    flood(mask, queue, rw, rh, seed, SEEN, CARD);

    // Corners by farthest points over the component's boundary.
    let is_card = |x: usize, y: usize| mask[y * rw + x] == CARD;
    let boundary = |x: usize, y: usize| {
        is_card(x, y)
            && (x == 0
                || y == 0
                || x + 1 == rw
                || y + 1 == rh
                || !is_card(x - 1, y)
                || !is_card(x + 1, y)
                || !is_card(x, y - 1)
                || !is_card(x, y + 1))
    };
    let (mut cx, mut cy) = (0f32, 0f32);
    for y in 0..rh {
        for x in 0..rw {
            if is_card(x, y) {
                cx += x as f32;
                cy += y as f32;
            }
        }
    }
    let centre = Point { x: cx / best_area as f32, y: cy / best_area as f32 };
    let farthest = |from: Point| {
        let mut best = (0f32, centre);
        for y in 0..rh {
            for x in 0..rw {
                let p = Point { x: x as f32, y: y as f32 };
                if boundary(x, y) && dist2(p, from) > best.0 {
                    best = (dist2(p, from), p);
                }
            }
        }
        best.1
    };
    let a = farthest(centre);
    let c = farthest(a);
    let (mut b, mut d) = (a, c);
    let (mut bmax, mut dmin) = (0f32, 0f32);
    for y in 0..rh {
        for x in 0..rw {
            if boundary(x, y) {
                let s = (c.x - a.x) * (y as f32 - a.y) - (c.y - a.y) * (x as f32 - a.x);
                if s > bmax {
                    (bmax, b) = (s, Point { x: x as f32, y: y as f32 });
                }
                if s < dmin {
                    (dmin, d) = (s, Point { x: x as f32, y: y as f32 });
                }
            }
        }
    }
    let mut quad = [a, b, c, d];
    if area2(&quad) < 0.0 {
        quad.swap(1, 3);
    }
    // The boundary pixels lie half a pixel inside the region: the quad's area falls short by
    // about half the perimeter.
    let perimeter: f32 = (0..4).map(|i| sqrtf_or_zero(dist2(quad[i], quad[(i + 1) % 4]))).sum();
    let ratio = (area2(&quad) / 2.0 + perimeter / 2.0) / best_area as f32;
    if !(0.88..=1.08).contains(&ratio) {
        return Err(CardFrontError::NotCardShaped);
    }
    // Start at the corner whose edge to the next is a long side pointing right.
    let len = |i: usize| sqrtf_or_zero(dist2(quad[i], quad[(i + 1) % 4]));
    let long_first = len(0) + len(2) >= len(1) + len(3);
    let mut start = if long_first { 0 } else { 1 };
    if quad[(start + 1) % 4].x < quad[start].x {
        start += 2;
    }
    let (long, short) =
        if long_first { (len(0) + len(2), len(1) + len(3)) } else { (len(1) + len(3), len(0) + len(2)) };
    let aspect = long / short.max(1.0);
    if !(1.2..=2.4).contains(&aspect) {
        return Err(CardFrontError::NotCardShaped);
    }
    let mut corners = [Point::default(); 4];
    for (i, c) in corners.iter_mut().enumerate() {
        let p = quad[(start + i) % 4];
        *c = Point { x: (p.x + 0.5) * f as f32 - 0.5, y: (p.y + 0.5) * f as f32 - 0.5 };
    }
    // An edge step must stand out: a fifth of the card/desk difference (exposure-relative).
    refine(frame, &corners, f, (0.2 * (bright - dark)).max(4.0))
}

/// A line through `p` with direction `d`.
#[derive(Clone, Copy)]
struct Line {
    p: Point,
    d: Point,
}

fn intersect(l: Line, m: Line) -> Option<Point> {
    let det = l.d.x * m.d.y - l.d.y * m.d.x;
    if det.abs() < 1e-6 {
        return None;
    }
    let t = ((m.p.x - l.p.x) * m.d.y - (m.p.y - l.p.y) * m.d.x) / det;
    Some(Point { x: l.p.x + t * l.d.x, y: l.p.y + t * l.d.y })
}

const EDGE_SAMPLES: usize = 40;

/// Refits each edge along the bright-to-dark step across it at full resolution.
fn refine(
    frame: &ImageRef<'_>,
    coarse: &[Point; 4],
    f: usize,
    min_drop: f32,
) -> Result<[Point; 4], CardFrontError> {
    let mut lines = [Line { p: Point::default(), d: Point::default() }; 4];
    let reach = (2 * f + 3) as f32;
    for (j, line) in lines.iter_mut().enumerate() {
        let (c0, c1) = (coarse[j], coarse[(j + 1) % 4]);
        let (ex, ey) = (c1.x - c0.x, c1.y - c0.y);
        let len = sqrtf_or_zero(ex * ex + ey * ey);
        if len < 8.0 {
            return Err(CardFrontError::EdgesUnclear);
        }
        // Outward normal for clockwise corners (y down).
        let (nx, ny) = (ey / len, -ex / len);
        let mut ts = [0f32; EDGE_SAMPLES];
        let mut ss = [0f32; EDGE_SAMPLES];
        let mut k = 0;
        for i in 0..EDGE_SAMPLES {
            let t = 0.15 + 0.7 * i as f32 / (EDGE_SAMPLES - 1) as f32;
            let (px, py) = (c0.x + t * ex, c0.y + t * ey);
            // Across the edge at offset s, averaged over 5 px along it (noise).
            let (ux, uy) = (ex / len, ey / len);
            let at = |s: f32| {
                let (qx, qy) = (px + s * nx, py + s * ny);
                (-2..=2).map(|a| sample_grey(frame, qx + a as f32 * ux, qy + a as f32 * uy)).sum::<f32>()
                    / 5.0
            };
            // Strongest drop from inside (bright) to outside (dark), in half-pixel steps.
            let steps = (2.0 * reach) as i32;
            let (mut best, mut best_s) = (0f32, 0f32);
            let mut drops = [0f32; 3];
            for st in -steps..=steps {
                let s = st as f32 * 0.5;
                let drop = at(s - 0.75) - at(s + 0.75);
                if drop > best {
                    best = drop;
                    best_s = s;
                    drops = [at(s - 1.25) - at(s + 0.25), drop, at(s - 0.25) - at(s + 1.25)];
                }
            }
            if best < min_drop {
                continue;
            }
            // Parabola through the three drops around the peak.
            let den = drops[0] - 2.0 * drops[1] + drops[2];
            let off =
                if den.abs() > 1e-3 { (0.5 * (drops[0] - drops[2]) / den).clamp(-0.5, 0.5) } else { 0.0 };
            ts[k] = t * len;
            ss[k] = best_s + off * 0.5;
            k += 1;
        }
        let (a, b) = fit_robust(&ts[..k], &ss[..k]).ok_or(CardFrontError::EdgesUnclear)?;
        // s = a + b·t along the edge: the line through c0 + a·n with direction e/len + b·n.
        let (ux, uy) = (ex / len, ey / len);
        *line = Line {
            p: Point { x: c0.x + a * nx, y: c0.y + a * ny },
            d: Point { x: ux + b * nx, y: uy + b * ny },
        };
    }
    let mut corners = [Point::default(); 4];
    for (j, c) in corners.iter_mut().enumerate() {
        *c = intersect(lines[(j + 3) % 4], lines[j]).ok_or(CardFrontError::EdgesUnclear)?;
        // A refined corner far from the coarse one means the fit followed something else.
        if dist2(*c, coarse[j]) > (4.0 * f as f32 + 6.0) * (4.0 * f as f32 + 6.0) {
            return Err(CardFrontError::EdgesUnclear);
        }
    }
    Ok(corners)
}

/// Least-squares line s = a + b t, refitted without points further than 1.2 px from the first
/// fit; `None` with fewer than 10 points left.
fn fit_robust(ts: &[f32], ss: &[f32]) -> Option<(f32, f32)> {
    let fit = |keep: &dyn Fn(f32, f32) -> bool| {
        let (mut n, mut st, mut ss_, mut stt, mut sts) = (0f32, 0f32, 0f32, 0f32, 0f32);
        for (&t, &s) in ts.iter().zip(ss) {
            if keep(t, s) {
                n += 1.0;
                st += t;
                ss_ += s;
                stt += t * t;
                sts += t * s;
            }
        }
        let den = n * stt - st * st;
        if n < 10.0 || den.abs() < 1e-6 {
            return None;
        }
        let b = (n * sts - st * ss_) / den;
        Some(((ss_ - b * st) / n, b))
    };
    let (a, b) = fit(&|_, _| true)?;
    let (a2, b2) = fit(&|t, s| (s - (a + b * t)).abs() <= 1.2)?;
    fit(&|t, s| (s - (a2 + b2 * t)).abs() <= 0.8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dark frame with a bright axis-aligned rectangle.
    fn frame_with_rect(w: usize, h: usize, r: [usize; 4]) -> Vec<u8> {
        let mut v = std::vec![30u8; w * h];
        for y in r[1]..r[3] {
            for x in r[0]..r[2] {
                v[y * w + x] = 220;
            }
        }
        v
    }

    #[test]
    fn finds_a_bright_rectangle_to_subpixel_accuracy() {
        let (w, h) = (320, 240);
        let data = frame_with_rect(w, h, [40, 50, 260, 190]);
        let img = ImageRef::new(w, h, 1, &data).unwrap();
        let mut scratch = std::vec![0u8; scratch_needed(w, h)];
        let c = locate(&img, &mut scratch).unwrap();
        // The step lies between the last bright and the first dark pixel.
        let want = [(39.5, 49.5), (259.5, 49.5), (259.5, 189.5), (39.5, 189.5)];
        for (p, (x, y)) in c.iter().zip(want) {
            assert!((p.x - x).abs() < 0.3 && (p.y - y).abs() < 0.3, "{p:?} vs {x},{y}");
        }
    }

    #[test]
    fn refuses_uniform_frames_squares_and_cut_cards() {
        let (w, h) = (320, 240);
        let mut scratch = std::vec![0u8; scratch_needed(w, h)];
        let flat = std::vec![128u8; w * h];
        assert_eq!(
            locate(&ImageRef::new(w, h, 1, &flat).unwrap(), &mut scratch),
            Err(CardFrontError::NoCard)
        );
        let square = frame_with_rect(w, h, [60, 40, 220, 200]);
        assert_eq!(
            locate(&ImageRef::new(w, h, 1, &square).unwrap(), &mut scratch),
            Err(CardFrontError::NotCardShaped)
        );
        let cut = frame_with_rect(w, h, [100, 50, 320, 190]);
        assert_eq!(
            locate(&ImageRef::new(w, h, 1, &cut).unwrap(), &mut scratch),
            Err(CardFrontError::NotWhollyInFrame)
        );
        assert_eq!(
            locate(&ImageRef::new(30, 20, 1, &[0; 600]).unwrap(), &mut scratch),
            Err(CardFrontError::FrameTooSmall)
        );
    }
}
