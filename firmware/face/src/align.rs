//! Alignment of a face to the embedder's 150×150 RGB chip, as dlib's
//! `get_face_chip(img, shape, size = 150, padding = 0.25)` makes it (that is
//! `extract_image_chip(img, get_face_chip_details(shape, 150, 0.25))`):
//!
//! 1. `get_face_chip_details`: the least-squares similarity transform (Umeyama) from dlib's
//!    5-point template (`(padding + t)/(2·padding + 1)·150`) to the landmarks gives a rotation
//!    angle, a scale and the chip's box in the image: a square of side 150·scale centred on the
//!    image of the chip's centre (75, 75).
//! 2. `extract_image_chip`: when the box shrunk by dlib's 2:1 pyramid (`p/2 − (1.25, 0.75)`)
//!    still covers more than 150² pixels, the image is first reduced with
//!    `pyramid_down<2>` (a 5×5 [1 4 6 4 1]² filter, integer, truncating, keeping every other
//!    pixel) — as many levels as needed — within the box's bounding rectangle grown by a
//!    margin; then each chip pixel is sampled bilinearly (f64, truncated to u8) through the
//!    affine map from the chip's corners to the rotated box on that level; samples whose 2×2
//!    neighbourhood leaves the (cropped) image are black.
//!
//! Differences from dlib: dlib solves the similarity and the affine maps with an SVD and a
//! pseudo-inverse and takes the angle with `atan2` and `sin`/`cos`; we use the exact closed
//! forms, which agree to the last bits of f64 — a chip sample can differ by 1 only when a
//! bilinear value falls within ~1e-12 of an integer.
//!
//! No heap, no tables: pyramid pixels are computed on demand from the image (25 source pixels
//! per level-0 pixel, 25ⁿ⁺¹ per level-n pixel). Faces up to about 300 pixels across need no
//! pyramid at all; up to about 600, level 0 (≈ 7 M multiply-adds per chip); larger faces
//! need level 1 and cost 25× more (on the host, release: 0.5 ms, 6 ms and 150 ms per chip
//! for the three cases) — downscale such frames first. Stack on thumbv7em: about 1 KiB
//! (`chip`'s frame is 952 bytes) plus about 0.1 KiB per pyramid level for the on-demand
//! recursion (measured from the release assembly).

use super::geom::{self, blend, floor, sqrt, Cell};
use super::image::{ImageRef, Point};

/// Side of the chip in pixels.
pub const CHIP_SIZE: usize = 150;
/// Bytes of an RGB chip.
pub const CHIP_BYTES: usize = CHIP_SIZE * CHIP_SIZE * 3;
/// dlib's padding around the face for the embedder (`get_face_chip`'s default 0.25 as the
/// face recognition examples use it).
pub const PADDING: f64 = 0.25;

/// dlib's mean positions of the 5 landmarks in the unpadded chip (`get_face_chip_details`).
const TEMPLATE: [(f64, f64); 5] = [
    (0.8595674595992, 0.2134981538014),
    (0.6460604764104, 0.2289674387677),
    (0.1205750620789, 0.2137274526848),
    (0.3340850613712, 0.2290642403242),
    (0.4901123135679, 0.6277975316475),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AlignError {
    /// A landmark is NaN, infinite or absurdly far away (|x|, |y| > 2²⁴).
    #[error("a landmark is not a usable number")]
    BadLandmark,
    /// All landmarks on one spot: no scale or rotation can be found.
    #[error("the landmarks are degenerate (all on one point)")]
    Degenerate,
}

/// A rectangle with f64 edges, dlib's `drectangle` (inclusive: width = right − left + 1).
#[derive(Clone, Copy, Debug, PartialEq)]
struct DRect {
    l: f64,
    t: f64,
    r: f64,
    b: f64,
}

impl DRect {
    const EMPTY: DRect = DRect { l: 0.0, t: 0.0, r: -1.0, b: -1.0 };
    fn is_empty(&self) -> bool {
        self.t > self.b || self.l > self.r
    }
    fn area(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            (self.r - self.l + 1.0) * (self.b - self.t + 1.0)
        }
    }
    fn width(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.r - self.l + 1.0
        }
    }
    fn height(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.b - self.t + 1.0
        }
    }
    fn center(&self) -> (f64, f64) {
        ((self.l + self.r) / 2.0, (self.t + self.b) / 2.0)
    }
    /// `*this += p`: the union with the point.
    fn add(self, (x, y): (f64, f64)) -> DRect {
        if self.is_empty() {
            DRect { l: x, t: y, r: x, b: y }
        } else {
            DRect { l: self.l.min(x), t: self.t.min(y), r: self.r.max(x), b: self.b.max(y) }
        }
    }
    /// `pyramid_down<2>::rect_down`.
    fn down(&self) -> DRect {
        let d = |x: f64, y: f64| (x / 2.0 - 1.25, y / 2.0 - 0.75);
        DRect::EMPTY.add(d(self.l, self.t)).add(d(self.r, self.b))
    }
    /// dlib's conversion to `rectangle`: each edge rounded with ⌊v + 0.5⌋.
    fn round(&self) -> IRect {
        let f = |v: f64| floor(v + 0.5) as i64;
        IRect { l: f(self.l), t: f(self.t), r: f(self.r), b: f(self.b) }
    }
}

/// dlib's `rectangle` (inclusive edges).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct IRect {
    l: i64,
    t: i64,
    r: i64,
    b: i64,
}

impl IRect {
    const EMPTY: IRect = IRect { l: 0, t: 0, r: -1, b: -1 };
    fn is_empty(&self) -> bool {
        self.t > self.b || self.l > self.r
    }
    fn intersect(&self, o: &IRect) -> IRect {
        IRect { l: self.l.max(o.l), t: self.t.max(o.t), r: self.r.min(o.r), b: self.b.min(o.b) }
    }
    fn width(&self) -> i64 {
        if self.is_empty() {
            0
        } else {
            self.r - self.l + 1
        }
    }
    fn height(&self) -> i64 {
        if self.is_empty() {
            0
        } else {
            self.b - self.t + 1
        }
    }
}

/// The part of the image the chip is cut from (`sub_image(img, bounding_box)`), and the
/// sizes of its pyramid levels.
struct Source<'a> {
    img: ImageRef<'a>,
    /// Top left of the crop in the image.
    x0: usize,
    y0: usize,
    /// Rows and columns of level −1 (the crop itself), 0, 1, …
    dims: [(usize, usize); 33],
}

impl Source<'_> {
    fn dims(&self, level: i32) -> (usize, usize) {
        self.dims[(level + 1) as usize]
    }

    /// The pixel (x, y) of a level; x, y inside that level.
    fn pixel(&self, level: i32, x: usize, y: usize) -> [u32; 3] {
        if level < 0 {
            let p = self.img.rgb(self.x0 + x, self.y0 + y);
            return [p[0] as u32, p[1] as u32, p[2] as u32];
        }
        const K: [u32; 5] = [1, 4, 6, 4, 1];
        let mut acc = [0u32; 3];
        for (i, ki) in K.iter().enumerate() {
            let mut row = [0u32; 3];
            for (j, kj) in K.iter().enumerate() {
                let p = self.pixel(level - 1, 2 * x + j, 2 * y + i);
                for ch in 0..3 {
                    row[ch] += kj * p[ch];
                }
            }
            for ch in 0..3 {
                acc[ch] += ki * row[ch];
            }
        }
        [acc[0] / 256, acc[1] / 256, acc[2] / 256]
    }

    /// dlib's `interpolate_bilinear` on an RGB image: `None` when the 2×2 neighbourhood
    /// leaves the level.
    fn bilinear(&self, level: i32, x: f64, y: f64) -> Option<[u8; 3]> {
        let (nr, nc) = self.dims(level);
        let Cell { x0: c, y0: r, x1: c1, y1: r1, fx: lr, fy: tb } = Cell::inside(x, y, nc, nr)?;
        let tl = self.pixel(level, c, r);
        let tr = self.pixel(level, c1, r);
        let bl = self.pixel(level, c, r1);
        let br = self.pixel(level, c1, r1);
        let mut out = [0u8; 3];
        for ch in 0..3 {
            let v = blend(tl[ch] as f64, tr[ch] as f64, bl[ch] as f64, br[ch] as f64, lr, tb);
            // dlib's assign_pixel(unsigned char, double): clamp, then truncate.
            out[ch] = if v > 255.0 {
                255
            } else if v >= 0.0 {
                v as u8
            } else {
                0
            };
        }
        Some(out)
    }
}

/// Where the chip lies in the image: dlib's `chip_details` for a 150×150 chip.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChipPlace {
    /// Centre of the chip's box in the image.
    pub center: (f64, f64),
    /// Image pixels per chip pixel.
    pub scale: f64,
    /// cos and sin of the chip's rotation in the image.
    pub cos: f64,
    pub sin: f64,
}

/// dlib's `get_face_chip_details(shape, 150, 0.25)` for 5 landmarks.
pub fn chip_place(landmarks: &[Point; 5]) -> Result<ChipPlace, AlignError> {
    if landmarks.iter().any(|p| !(p.x.abs() <= 16_777_216.0 && p.y.abs() <= 16_777_216.0)) {
        return Err(AlignError::BadLandmark);
    }
    let size = CHIP_SIZE as f64;
    let mut from = [(0f64, 0f64); 5];
    for (f, &(x, y)) in from.iter_mut().zip(&TEMPLATE) {
        *f = ((PADDING + x) / (2.0 * PADDING + 1.0) * size, (PADDING + y) / (2.0 * PADDING + 1.0) * size);
    }
    // Umeyama's least squares similarity, closed form in 2-D (see geom::similarity).
    let sim = geom::similarity(&from, &landmarks.map(|p| (p.x as f64, p.y as f64)));
    let ((mfx, mfy), (mtx, mty)) = (sim.mean_from, sim.mean_to);
    let (a, b) = sim.ab();
    let scale = sqrt(a * a + b * b);
    if scale.is_nan() || scale <= 0.0 || !scale.is_finite() {
        return Err(AlignError::Degenerate);
    }
    // t = mean_to − M·mean_from; the chip's centre (75, 75) maps to M·(75, 75) + t.
    let (tx, ty) = (mtx - (a * mfx - b * mfy), mty - (b * mfx + a * mfy));
    let half = size / 2.0;
    let center = (a * half - b * half + tx, b * half + a * half + ty);
    Ok(ChipPlace { center, scale, cos: a / scale, sin: b / scale })
}

/// The 150×150 RGB chip of the face with these landmarks (dlib's 5-point landmarks of
/// [`super::landmarks::ShapeModel::predict`]), as dlib's `get_face_chip(img, shape, 150, 0.25)`.
/// Grey images are read as RGB with equal channels, as dlib loads them.
pub fn chip(img: ImageRef, landmarks: &[Point; 5], out: &mut [u8; CHIP_BYTES]) -> Result<(), AlignError> {
    let place = chip_place(landmarks)?;
    let size = CHIP_SIZE as f64;
    let side = size * place.scale - 1.0;
    let (cx, cy) = place.center;
    let rect = DRect { l: cx - side / 2.0, t: cy - side / 2.0, r: cx + side / 2.0, b: cy + side / 2.0 };
    let image_rect = IRect { l: 0, t: 0, r: img.width() as i64 - 1, b: img.height() as i64 - 1 };

    if place.sin == 0.0 && place.cos > 0.0 && rect.height() == size && rect.width() == size {
        // No rotation, no scaling: dlib copies the (rounded) box, black outside the image.
        let ir = rect.round();
        for r in 0..CHIP_SIZE {
            for c in 0..CHIP_SIZE {
                let (x, y) = (ir.l + c as i64, ir.t + r as i64);
                let o = 3 * (r * CHIP_SIZE + c);
                let inside = x >= 0 && y >= 0 && x <= image_rect.r && y <= image_rect.b;
                let p = if inside { img.rgb(x as usize, y as usize) } else { [0; 3] };
                out[o..o + 3].copy_from_slice(&p);
            }
        }
        return Ok(());
    }

    let chip_area = size * size;
    // Depth of the pyramid and the margin around the rotated box.
    let mut depth = 0usize;
    let mut grow = 2.0;
    let mut d = rect.down();
    while d.area() > chip_area && depth < 31 {
        d = d.down();
        depth += 1;
        grow = grow * 2.0 + 2.0;
    }
    let rot = |(px, py): (f64, f64), (ox, oy): (f64, f64)| {
        let (x, y) = (px - ox, py - oy);
        (place.cos * x - place.sin * y + ox, place.sin * x + place.cos * y + oy)
    };
    let c0 = rect.center();
    let rot_rect = DRect::EMPTY
        .add(rot((rect.l, rect.t), c0))
        .add(rot((rect.r, rect.t), c0))
        .add(rot((rect.l, rect.b), c0))
        .add(rot((rect.r, rect.b), c0));
    let grown =
        DRect { l: rot_rect.l - grow, t: rot_rect.t - grow, r: rot_rect.r + grow, b: rot_rect.b + grow };
    let clipped = DRect {
        l: grown.l.max(0.0),
        t: grown.t.max(0.0),
        r: grown.r.min(image_rect.r as f64),
        b: grown.b.min(image_rect.b as f64),
    };
    let rounded = clipped.round();
    let bbox = if rounded.is_empty() { IRect::EMPTY } else { rounded };
    let crop = bbox.intersect(&image_rect);

    let mut dims = [(0usize, 0usize); 33];
    dims[0] = (crop.height() as usize, crop.width() as usize);
    for k in 1..=depth.min(31) {
        let (nr, nc) = dims[k - 1];
        dims[k] = if nr <= 8 || nc <= 8 { (0, 0) } else { ((nr - 3) / 2, (nc - 3) / 2) };
    }
    let src = Source {
        img,
        x0: if crop.is_empty() { 0 } else { crop.l as usize },
        y0: if crop.is_empty() { 0 } else { crop.t as usize },
        dims,
    };

    // The level to sample and the box on it.
    let mut level: i32 = -1;
    let mut r2 = DRect {
        l: rect.l - bbox.l as f64,
        t: rect.t - bbox.t as f64,
        r: rect.r - bbox.l as f64,
        b: rect.b - bbox.t as f64,
    };
    while r2.down().area() > chip_area && level < 31 {
        level += 1;
        r2 = r2.down();
    }
    // dlib would index past its pyramid here (its depth and level loops disagree only
    // through rounding); sampling nothing gives a black chip instead.
    let usable = level < depth as i32;

    // Affine map from chip (col, row) to the level: (0,0) → rotated top left, (149,0) → top
    // right, (0,149) → bottom left.
    let c2 = r2.center();
    let p0 = rot((r2.l, r2.t), c2);
    let p1 = rot((r2.r, r2.t), c2);
    let p2 = rot((r2.l, r2.b), c2);
    let last = size - 1.0;
    let (m00, m10) = ((p1.0 - p0.0) / last, (p1.1 - p0.1) / last);
    let (m01, m11) = ((p2.0 - p0.0) / last, (p2.1 - p0.1) / last);
    for r in 0..CHIP_SIZE {
        for c in 0..CHIP_SIZE {
            let (fc, fr) = (c as f64, r as f64);
            let x = m00 * fc + m01 * fr + p0.0;
            let y = m10 * fc + m11 * fr + p0.1;
            let o = 3 * (r * CHIP_SIZE + c);
            let px = if usable { src.bilinear(level, x, y) } else { None };
            out[o..o + 3].copy_from_slice(&px.unwrap_or([0; 3]));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(x: f32, y: f32) -> Point {
        Point { x, y }
    }

    /// The template itself, scaled to the chip: the chip's own landmarks.
    fn template_points(scale: f64, dx: f64, dy: f64) -> [Point; 5] {
        let mut p = [Point::default(); 5];
        for (q, &(x, y)) in p.iter_mut().zip(&TEMPLATE) {
            let (u, v) = ((PADDING + x) / 1.5 * 150.0, (PADDING + y) / 1.5 * 150.0);
            *q = pt((u * scale + dx) as f32, (v * scale + dy) as f32);
        }
        p
    }

    #[test]
    fn place_of_the_template_is_the_identity() {
        let p = chip_place(&template_points(1.0, 0.0, 0.0)).unwrap();
        assert!((p.scale - 1.0).abs() < 1e-6 && p.sin.abs() < 1e-6 && (p.cos - 1.0).abs() < 1e-9);
        assert!((p.center.0 - 75.0).abs() < 1e-4 && (p.center.1 - 75.0).abs() < 1e-4, "{p:?}");
        let p = chip_place(&template_points(2.0, 10.0, -5.0)).unwrap();
        assert!(
            (p.scale - 2.0).abs() < 1e-6
                && (p.center.0 - 160.0).abs() < 1e-3
                && (p.center.1 - 145.0).abs() < 1e-3
        );
    }

    #[test]
    fn degenerate_landmarks_are_refused_or_handled() {
        let px = [50u8; 20 * 20];
        let img = ImageRef::new(20, 20, 1, &px).unwrap();
        let mut out = [0u8; CHIP_BYTES];
        assert_eq!(chip(img, &[pt(3.0, 3.0); 5], &mut out).unwrap_err(), AlignError::Degenerate);
        let mut bad = [pt(1.0, 1.0); 5];
        bad[2] = pt(f32::NAN, 0.0);
        assert_eq!(chip(img, &bad, &mut out).unwrap_err(), AlignError::BadLandmark);
        bad[2] = pt(1e30, 0.0);
        assert_eq!(chip(img, &bad, &mut out).unwrap_err(), AlignError::BadLandmark);
        // Collinear points: a similarity exists; the chip is made without panicking.
        let line = [pt(1.0, 1.0), pt(5.0, 1.0), pt(9.0, 1.0), pt(13.0, 1.0), pt(17.0, 1.0)];
        chip(img, &line, &mut out).unwrap();
        // Landmarks far outside a tiny image: all black.
        let one = [9u8; 3];
        let tiny = ImageRef::new(1, 1, 3, &one).unwrap();
        out.fill(1);
        chip(tiny, &template_points(1.0, 5000.0, 5000.0), &mut out).unwrap();
        assert!(out.iter().all(|&v| v == 0));
        // A huge face on a tiny image (deep pyramid of an empty crop): black, no panic.
        chip(tiny, &template_points(40.0, 0.0, 0.0), &mut out).unwrap();
    }

    #[test]
    fn unrotated_unscaled_chip_is_a_copy() {
        // A 200×200 gradient; landmarks = template + (20, 30): the chip is the image shifted.
        let mut px = [0u8; 200 * 200];
        for (i, v) in px.iter_mut().enumerate() {
            *v = ((i % 200) + (i / 200)) as u8;
        }
        let img = ImageRef::new(200, 200, 1, &px).unwrap();
        let mut out = [0u8; CHIP_BYTES];
        let lm = template_points(1.0, 20.0, 30.0);
        chip(img, &lm, &mut out).unwrap();
        for (r, c) in [(0usize, 0usize), (10, 140), (149, 149)] {
            let want = img.rgb(c + 20, r + 30);
            let o = 3 * (r * CHIP_SIZE + c);
            // Rounded landmarks give a transform within a hair of the copy.
            for ch in 0..3 {
                assert!((out[o + ch] as i32 - want[ch] as i32).abs() <= 1, "({r},{c})");
            }
        }
    }

    #[test]
    fn random_geometry_never_panics() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let px: Vec<u8> = (0..97 * 61 * 3).map(|i| (i * 7 % 251) as u8).collect();
        let mut out = [0u8; CHIP_BYTES];
        for k in 0..300 {
            let (w, h) = (1 + (next() % 97) as usize, 1 + (next() % 61) as usize);
            let ch = if k % 2 == 0 { 1 } else { 3 };
            let img = ImageRef::new(w, h, ch, &px[..w * h * ch]).unwrap();
            let span = [3.0, 40.0, 400.0, 3000.0][k % 4];
            let mut lm = [Point::default(); 5];
            for p in lm.iter_mut() {
                let u = (next() % 10_000) as f64 / 10_000.0;
                let v = (next() % 10_000) as f64 / 10_000.0;
                *p = pt((u * span - span / 4.0).round() as f32, (v * span - span / 4.0).round() as f32);
            }
            match chip(img, &lm, &mut out) {
                Ok(()) | Err(AlignError::Degenerate) => {}
                Err(e) => panic!("{e:?} for {lm:?}"),
            }
        }
    }

    #[test]
    fn pyramid_pixel_is_dlibs_filter() {
        // A 12×12 image of value 100 except one bright pixel: the level-0 pixel whose 5×5
        // window holds it gets 100 + 155·w/256 with w the filter weight there.
        let mut px = [100u8; 12 * 12 * 3];
        let at = 3 * (4 * 12 + 3);
        px[at..at + 3].copy_from_slice(&[255, 255, 255]);
        let img = ImageRef::new(12, 12, 3, &px).unwrap();
        let mut dims = [(0usize, 0usize); 33];
        dims[0] = (12, 12);
        dims[1] = (4, 4);
        let src = Source { img, x0: 0, y0: 0, dims };
        // Level-0 (1, 1) covers source rows 2..7, columns 2..7: the bright pixel is at
        // window (row 2, col 1): weight 6·4 = 24.
        assert_eq!(src.pixel(0, 1, 1), [100 + 155 * 24 / 256; 3]);
        assert_eq!(src.pixel(0, 3, 3), [100; 3]);
    }
}
