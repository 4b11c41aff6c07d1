//! dlib's tiled image pyramid (`input_rgb_image_pyramid<pyramid_down<6>>`): the levels' sizes,
//! where each sits in the tiled image, and the mapping of a box in the tiled image back to the
//! original image. Facts from dlib 20.0 (`image_pyramid.h`, `input.h`), our code.
//!
//! - level 0 is the image; each next level is ⌊5/6·rows⌋ × ⌊5/6·cols⌋ of the one before (the
//!   rate is the double 5.0/6.0), until a level would have no pixels or fewer than 5 rows;
//! - the levels go down a first column, left-aligned at the outer padding, `PADDING` apart,
//!   until the next one fits beside the previous in the space right of it and the column is
//!   at least half the total height; the rest go up a second column, right-aligned with
//!   level 0 and bottom-aligned with the first column's last level, stopping at the first one
//!   that would touch level 0;
//! - the tiled image is that plus `OUTER_PADDING` on every side, zero (the mean colour)
//!   wherever no level is.

/// The pyramid's down-sampling: each level is (N−1)/N of the one before.
pub const PYRAMID_N: u32 = 6;
/// Pixels between levels.
pub const PADDING: i64 = 10;
/// Pixels around the tiled image.
pub const OUTER_PADDING: i64 = 11;
/// Levels at most (an image [`MAX_SIDE`] high has 45).
pub const MAX_LEVELS: usize = 48;
/// Largest image side taken.
pub const MAX_SIDE: usize = 16_384;

/// A level's place in the tiled image: inclusive corners as dlib's `rectangle`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tile {
    pub left: i64,
    pub top: i64,
    pub right: i64,
    pub bottom: i64,
}

impl Tile {
    pub const fn width(&self) -> i64 {
        self.right - self.left + 1
    }
    pub const fn height(&self) -> i64 {
        self.bottom - self.top + 1
    }
    const fn is_empty(&self) -> bool {
        self.left > self.right || self.top > self.bottom
    }
    const fn intersects(&self, o: &Tile) -> bool {
        let t = Tile {
            left: if self.left > o.left { self.left } else { o.left },
            top: if self.top > o.top { self.top } else { o.top },
            right: if self.right < o.right { self.right } else { o.right },
            bottom: if self.bottom < o.bottom { self.bottom } else { o.bottom },
        };
        !t.is_empty()
    }
}

/// The tiled pyramid of one image size.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub levels: usize,
    /// Levels in the first column (the rest are in the second).
    pub first_column: usize,
    pub tiles: [Tile; MAX_LEVELS],
    /// Rows and columns of the tiled image.
    pub rows: usize,
    pub cols: usize,
}

/// The next level's size, as dlib's `find_pyramid_down_output_image_size` for N = 6.
pub const fn down(n: usize) -> usize {
    let rate = (PYRAMID_N as f64 - 1.0) / PYRAMID_N as f64;
    // positive, so the truncation is dlib's floor
    (rate * n as f64) as usize
}

impl Plan {
    /// The layout dlib computes for a `width`×`height` image (`None` when a side is 0 or
    /// above [`MAX_SIDE`]).
    pub const fn new(width: usize, height: usize) -> Option<Plan> {
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return None;
        }
        let mut tiles = [Tile { left: 0, top: 0, right: 0, bottom: 0 }; MAX_LEVELS];
        let (mut nr, mut nc) = (height, width);
        let mut n = 0;
        loop {
            if n == MAX_LEVELS {
                return None;
            }
            tiles[n] = Tile { left: 0, top: 0, right: nc as i64 - 1, bottom: nr as i64 - 1 };
            n += 1;
            nr = down(nr);
            nc = down(nc);
            if nr * nc == 0 || nr < 5 {
                break;
            }
        }
        let w0 = tiles[0].width();
        let h0 = tiles[0].height();
        let mut total = 0;
        let mut i = 0;
        while i < n {
            total += tiles[i].height() + PADDING;
            i += 1;
        }
        total -= PADDING * 2;
        let mut height_1 = 0;
        let mut prev_width = 0;
        i = 0;
        while i < n {
            if tiles[i].width() <= w0 - prev_width - PADDING && (height_1 - h0) * 2 >= total - h0 {
                break;
            }
            height_1 += tiles[i].height() + PADDING;
            prev_width = tiles[i].width();
            i += 1;
        }
        height_1 -= PADDING;
        let rows = height_1 + OUTER_PADDING * 2;
        let cols = w0 + OUTER_PADDING * 2;

        let mut y = OUTER_PADDING;
        i = 0;
        while y < height_1 + OUTER_PADDING && i < n {
            let t = tiles[i];
            tiles[i] = Tile {
                left: t.left + OUTER_PADDING,
                top: t.top + y,
                right: t.right + OUTER_PADDING,
                bottom: t.bottom + y,
            };
            y += tiles[i].height() + PADDING;
            i += 1;
        }
        y -= PADDING;
        let first_column = i;
        while i < n {
            let (bx, by) = (OUTER_PADDING + w0 - 1, y - 1);
            let t = Tile { left: bx - tiles[i].right, top: by - tiles[i].bottom, right: bx, bottom: by };
            if tiles[0].intersects(&t) {
                break;
            }
            tiles[i] = t;
            y -= t.height() + PADDING;
            i += 1;
        }
        Some(Plan { levels: i, first_column, tiles, rows: rows as usize, cols: cols as usize })
    }

    /// Index of the level whose tile is nearest to the tiled-image point (x, y) (the first one
    /// containing it, else the first at the smallest distance), as dlib's `nearest_rect`.
    pub fn nearest(&self, x: i64, y: i64) -> usize {
        let mut best = 0;
        let mut best_d = i64::MAX;
        let mut i = 0;
        while i < self.levels {
            let t = &self.tiles[i];
            let nx = x.clamp(t.left, t.right);
            let ny = y.clamp(t.top, t.bottom);
            if nx == x && ny == y {
                return i;
            }
            let d = (nx - x) * (nx - x) + (ny - y) * (ny - y);
            if d < best_d {
                best_d = d;
                best = i;
            }
            i += 1;
        }
        best
    }
}

/// dlib's `pyramid_down<6>::point_up` applied `levels` times: p·6/5 + 0.3 each time.
pub fn point_up(mut p: f64, levels: usize) -> f64 {
    let ratio = PYRAMID_N as f64 / (PYRAMID_N as f64 - 1.0);
    for _ in 0..levels {
        p = p * ratio + 0.3;
    }
    p
}

/// ⌊x + 0.5⌋ as dlib's drectangle → rectangle conversion rounds.
pub fn round_half_up(x: f64) -> i64 {
    let y = x + 0.5;
    let t = y as i64;
    if (t as f64) > y {
        t - 1
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_sizes_and_layout() {
        let p = Plan::new(640, 480).unwrap();
        assert_eq!(p.tiles[0], Tile { left: 11, top: 11, right: 650, bottom: 490 });
        assert_eq!((p.tiles[1].width(), p.tiles[1].height()), (533, 400));
        assert_eq!(p.cols, 662);
        // every level inside the tiled image, no two overlapping
        for i in 0..p.levels {
            let t = p.tiles[i];
            assert!(t.left >= 0 && t.top >= 0 && t.right < p.cols as i64 && t.bottom < p.rows as i64);
            for j in 0..i {
                assert!(!t.intersects(&p.tiles[j]), "{i} {j}");
            }
        }
        assert!(Plan::new(0, 5).is_none());
        assert!(Plan::new(MAX_SIDE + 1, 5).is_none());
        assert_eq!(round_half_up(-25.5), -25);
        assert_eq!(round_half_up(-25.6), -26);
        assert_eq!(round_half_up(2.5), 3);
    }
}
