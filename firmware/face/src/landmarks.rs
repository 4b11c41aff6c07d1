//! The 5-point face landmarks: dlib's shape predictor (an ensemble of regression trees,
//! Kazemi & Sullivan 2014) with dlib's own numbers, run as dlib runs it.
//!
//! [`ShapeModel::predict`] reproduces `dlib::shape_predictor::operator()(img, rect)`:
//! start from the mean shape (normalised to the box); for each cascade level, find the
//! similarity transform (rotation and scale only) from the mean shape to the current shape
//! (Umeyama's least squares, in closed form for 2-D), place each of the level's feature
//! pixels at `T·delta + current[anchor]` (f32, as dlib), map it to the image through the box
//! (`x = left + (right − left)·u`, f64) and round to the nearest pixel (`⌊v + 0.5⌋`); read its
//! intensity (grey as is, RGB as `(r + g + b) / 3` rounded down) or 0 outside the image; walk
//! every tree of the level (`f[a] − f[b] > thresh` → left) and add its leaf to the shape.
//! The result is mapped through the box and rounded like the feature pixels: dlib's parts are
//! integer points, and so are ours.
//!
//! No heap: the model is borrowed from flash, the feature values live on the stack
//! ([`format::MAX_FEATURES`] f32 = 4 KiB at most): `predict` takes about 4.5 KiB of stack on
//! thumbv7em (its frame is 4416 bytes plus saved registers, measured from the release
//! assembly), `parse` under 0.2 KiB. `parse` reads the whole file once (checksum, indices,
//! numbers), so `predict` needs no checks.

use super::geom::{self, floor, sqrt};
use super::image::{ImageRef, Point, Rect};

/// The model file (`SHLMK001`), written by `shikaku_hil::face_convert::landmarks::convert`.
///
/// All numbers little-endian.
///
/// ```text
/// header   8  magic "SHLMK001"
///          4  parts P (5)
///          4  cascade levels C
///          4  trees per level T
///          4  tree depth D (splits 2^D − 1, leaves 2^D)
///          4  feature pixels per level F
///          4  total length of the file in bytes, checksum included
/// mean     2·P f32: the initial shape x0 y0 x1 y1 …, normalised to the box
/// level    F × (u32 anchor landmark, f32 dx, f32 dy)
///          T × tree: (2^D − 1) × (u32 feature a, u32 feature b, f32 thresh), breadth first;
///                    2^D × 2·P f32 leaf values
/// trailer  4  FNV-1a 32 of every byte before it
/// ```
pub mod format {
    pub const MAGIC: [u8; 8] = *b"SHLMK001";
    pub const HEADER_LEN: usize = 32;
    /// Landmarks of the 5-point model: outer and inner corner of the right eye (image left
    /// is the subject's right: parts 0, 1 are on the image's right), then the left eye's
    /// (2, 3), then the base of the nose (4), as dlib numbers them.
    pub const PARTS: usize = 5;
    /// Most feature pixels per cascade level we take (dlib's default is 500).
    pub const MAX_FEATURES: usize = 1024;
    /// Deepest tree we take (dlib's default is 4).
    pub const MAX_DEPTH: usize = 12;

    pub const fn feature_len() -> usize {
        12
    }
    pub const fn tree_len(parts: usize, depth: usize) -> usize {
        ((1 << depth) - 1) * 12 + (1 << depth) * 2 * parts * 4
    }
    pub const fn level_len(parts: usize, trees: usize, depth: usize, features: usize) -> usize {
        features * feature_len() + trees * tree_len(parts, depth)
    }
    pub const fn file_len(
        parts: usize,
        cascades: usize,
        trees: usize,
        depth: usize,
        features: usize,
    ) -> usize {
        HEADER_LEN + 2 * parts * 4 + cascades * level_len(parts, trees, depth, features) + 4
    }

    /// FNV-1a, 32 bits.
    pub fn fnv1a(b: &[u8]) -> u32 {
        let mut h: u32 = 0x811c_9dc5;
        for &x in b {
            h ^= x as u32;
            h = h.wrapping_mul(0x0100_0193);
        }
        h
    }
}

/// Why a model file or a prediction was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LandmarkError {
    #[error("not a landmark model (bad magic)")]
    BadMagic,
    #[error("the model file's length differs from its header")]
    BadLength,
    #[error("the model file's checksum does not match")]
    BadChecksum,
    /// Counts in the header that this code does not take (landmarks ≠ 5, no levels, too deep
    /// trees, too many feature pixels).
    #[error("unsupported model shape")]
    BadShape,
    /// A split names a feature pixel past the level's count, or an anchor a landmark past 5.
    #[error("an index in the model is out of range")]
    BadIndex,
    /// A number in the model is NaN or infinite.
    #[error("a number in the model is not finite")]
    BadNumber,
    /// The box is empty (right < left or bottom < top) or absurdly large.
    #[error("the face box is empty or too large")]
    BadRect,
}

fn rd_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn rd_f32(b: &[u8], at: usize) -> f32 {
    f32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A checked landmark model borrowed from flash.
#[derive(Clone, Copy, Debug)]
pub struct ShapeModel<'m> {
    blob: &'m [u8],
    cascades: usize,
    trees: usize,
    depth: usize,
    features: usize,
    mean: [f32; 2 * format::PARTS],
}

/// Largest box side we take, in pixels: far beyond any camera, small enough that every
/// coordinate stays exact in f64 and in i64.
const MAX_RECT_SIDE: i64 = 1 << 20;

impl<'m> ShapeModel<'m> {
    /// Checks the header, the length, the checksum, every index and every number.
    pub fn parse(blob: &'m [u8]) -> Result<Self, LandmarkError> {
        use format::*;
        if blob.len() < HEADER_LEN + 4 {
            return Err(if blob.len() >= 8 && blob[..8] != MAGIC {
                LandmarkError::BadMagic
            } else {
                LandmarkError::BadLength
            });
        }
        if blob[..8] != MAGIC {
            return Err(LandmarkError::BadMagic);
        }
        let h = |i: usize| rd_u32(blob, 8 + 4 * i) as usize;
        let (parts, cascades, trees, depth, features, total) = (h(0), h(1), h(2), h(3), h(4), h(5));
        if parts != PARTS
            || cascades == 0
            || cascades > 1 << 10
            || trees == 0
            || trees > 1 << 16
            || depth == 0
            || depth > MAX_DEPTH
            || features == 0
            || features > MAX_FEATURES
        {
            return Err(LandmarkError::BadShape);
        }
        let want = cascades
            .checked_mul(level_len(parts, trees, depth, features))
            .and_then(|n| n.checked_add(HEADER_LEN + 2 * parts * 4 + 4));
        if want != Some(blob.len()) || total != blob.len() {
            return Err(LandmarkError::BadLength);
        }
        let body = blob.len() - 4;
        if fnv1a(&blob[..body]) != rd_u32(blob, body) {
            return Err(LandmarkError::BadChecksum);
        }
        let mut mean = [0f32; 2 * PARTS];
        for (i, m) in mean.iter_mut().enumerate() {
            *m = rd_f32(blob, HEADER_LEN + 4 * i);
        }
        let model = ShapeModel { blob, cascades, trees, depth, features, mean };
        if mean.iter().any(|x| !x.is_finite()) {
            return Err(LandmarkError::BadNumber);
        }
        // Every index and every number, once, so that predict() needs no checks.
        let splits = (1usize << depth) - 1;
        for c in 0..cascades {
            let lv = model.level_at(c);
            for f in 0..features {
                let at = lv + f * feature_len();
                if rd_u32(blob, at) as usize >= PARTS {
                    return Err(LandmarkError::BadIndex);
                }
                if !rd_f32(blob, at + 4).is_finite() || !rd_f32(blob, at + 8).is_finite() {
                    return Err(LandmarkError::BadNumber);
                }
            }
            for t in 0..trees {
                let at = model.tree_at(c, t);
                for s in 0..splits {
                    let a = at + 12 * s;
                    if rd_u32(blob, a) as usize >= features || rd_u32(blob, a + 4) as usize >= features {
                        return Err(LandmarkError::BadIndex);
                    }
                    if rd_f32(blob, a + 8).is_nan() {
                        return Err(LandmarkError::BadNumber);
                    }
                }
                let leaves = at + 12 * splits;
                for k in 0..(1usize << depth) * 2 * PARTS {
                    if !rd_f32(blob, leaves + 4 * k).is_finite() {
                        return Err(LandmarkError::BadNumber);
                    }
                }
            }
        }
        Ok(model)
    }

    pub fn cascades(&self) -> usize {
        self.cascades
    }
    pub fn trees_per_level(&self) -> usize {
        self.trees
    }
    pub fn tree_depth(&self) -> usize {
        self.depth
    }
    pub fn features_per_level(&self) -> usize {
        self.features
    }

    fn level_at(&self, c: usize) -> usize {
        format::HEADER_LEN
            + 2 * format::PARTS * 4
            + c * format::level_len(format::PARTS, self.trees, self.depth, self.features)
    }

    fn tree_at(&self, c: usize, t: usize) -> usize {
        self.level_at(c)
            + self.features * format::feature_len()
            + t * format::tree_len(format::PARTS, self.depth)
    }

    /// The 5 landmarks of the face in `rect`, as dlib's `shape_predictor(img, rect)` gives
    /// them (integer pixel positions; parts may lie outside the image when the box does).
    pub fn predict(&self, img: ImageRef, rect: Rect) -> Result<[Point; format::PARTS], LandmarkError> {
        use format::PARTS;
        let (l, t, r, b) = (rect.left as i64, rect.top as i64, rect.right as i64, rect.bottom as i64);
        if r < l || b < t || r - l > MAX_RECT_SIDE || b - t > MAX_RECT_SIDE {
            return Err(LandmarkError::BadRect);
        }
        // dlib's unnormalizing transform maps (0,0) to the top left corner and (1,1) to the
        // bottom right corner: x = left + (right − left)·u (dlib solves it by least squares;
        // the exact solution is this one).
        let box_map = |u: f32, v: f32| -> (f64, f64) {
            ((r - l) as f64 * u as f64 + l as f64, (b - t) as f64 * v as f64 + t as f64)
        };
        let (w, h) = (img.width() as f64, img.height() as f64);
        let blob = self.blob;
        let mut shape = self.mean;
        let mut feats = [0f32; format::MAX_FEATURES];
        let splits = (1usize << self.depth) - 1;
        let leaf_len = 2 * PARTS * 4;
        for c in 0..self.cascades {
            let m = similarity_2x2(&self.mean, &shape);
            let lv = self.level_at(c);
            for (f, out) in feats[..self.features].iter_mut().enumerate() {
                let at = lv + f * format::feature_len();
                let a = rd_u32(blob, at) as usize;
                let (dx, dy) = (rd_f32(blob, at + 4), rd_f32(blob, at + 8));
                let u = m[0] * dx + m[1] * dy + shape[2 * a];
                let v = m[2] * dx + m[3] * dy + shape[2 * a + 1];
                let (x, y) = box_map(u, v);
                let (x, y) = (floor(x + 0.5), floor(y + 0.5));
                *out = if x >= 0.0 && y >= 0.0 && x < w && y < h {
                    img.grey(x as usize, y as usize) as f32
                } else {
                    0.0
                };
            }
            for t in 0..self.trees {
                let at = self.tree_at(c, t);
                let mut i = 0usize;
                while i < splits {
                    let s = at + 12 * i;
                    let (fa, fb) = (rd_u32(blob, s) as usize, rd_u32(blob, s + 4) as usize);
                    let th = rd_f32(blob, s + 8);
                    i = if feats[fa] - feats[fb] > th { 2 * i + 1 } else { 2 * i + 2 };
                }
                let leaf = at + 12 * splits + (i - splits) * leaf_len;
                for (k, s) in shape.iter_mut().enumerate() {
                    *s += rd_f32(blob, leaf + 4 * k);
                }
            }
        }
        let mut parts = [Point::default(); PARTS];
        for (i, p) in parts.iter_mut().enumerate() {
            let (x, y) = box_map(shape[2 * i], shape[2 * i + 1]);
            *p = Point { x: floor(x + 0.5) as f32, y: floor(y + 0.5) as f32 };
        }
        Ok(parts)
    }
}

/// The 2×2 part (rotation·scale) of the least-squares similarity transform taking `from` to
/// `to` (Umeyama), row-major, rounded to f32 as dlib does before using it. In 2-D Umeyama's
/// SVD has a closed form: c·R = [[a, −b], [b, a]] with a = (cov00 + cov11)/σ², b = (cov10 −
/// cov01)/σ², cov = E[(to − μto)(from − μfrom)ᵀ], σ² = E|from − μfrom|² — the same numbers
/// dlib's SVD reaches, to the last bits of f64.
fn similarity_2x2(from: &[f32; 2 * format::PARTS], to: &[f32; 2 * format::PARTS]) -> [f32; 4] {
    let pair = |v: &[f32; 2 * format::PARTS]| {
        core::array::from_fn::<_, { format::PARTS }, _>(|i| (v[2 * i] as f64, v[2 * i + 1] as f64))
    };
    let sim = geom::similarity(&pair(from), &pair(to));
    let [[c00, c01], [c10, c11]] = sim.cov;
    let (a, b) = if sim.sigma != 0.0 {
        sim.ab()
    } else {
        // dlib keeps c = 1 and the rotation alone.
        let norm = sqrt(sq(c00 + c11) + sq(c10 - c01));
        if norm == 0.0 {
            (1.0, 0.0)
        } else {
            ((c00 + c11) / norm, (c10 - c01) / norm)
        }
    };
    [a as f32, -b as f32, b as f32, a as f32]
}

fn sq(x: f64) -> f64 {
    x * x
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny well-formed model: 2 levels, 3 trees of depth 2, 4 feature pixels.
    fn tiny() -> Vec<u8> {
        let (parts, cascades, trees, depth, features) = (5usize, 2usize, 3usize, 2usize, 4usize);
        let total = format::file_len(parts, cascades, trees, depth, features);
        let mut v = Vec::new();
        v.extend_from_slice(&format::MAGIC);
        for x in [parts, cascades, trees, depth, features, total] {
            v.extend_from_slice(&(x as u32).to_le_bytes());
        }
        let mean = [0.8f32, 0.3, 0.6, 0.3, 0.2, 0.3, 0.4, 0.3, 0.5, 0.7];
        for x in mean {
            v.extend_from_slice(&x.to_le_bytes());
        }
        for _ in 0..cascades {
            for f in 0..features {
                v.extend_from_slice(&(f as u32 % 5).to_le_bytes());
                v.extend_from_slice(&0.05f32.to_le_bytes());
                v.extend_from_slice(&(-0.02f32).to_le_bytes());
            }
            for _ in 0..trees {
                for s in 0..3u32 {
                    v.extend_from_slice(&s.to_le_bytes());
                    v.extend_from_slice(&(s + 1).to_le_bytes());
                    v.extend_from_slice(&0.0f32.to_le_bytes());
                }
                for k in 0..4 * 10 {
                    v.extend_from_slice(&((k as f32 - 20.0) * 0.0005).to_le_bytes());
                }
            }
        }
        let sum = format::fnv1a(&v);
        v.extend_from_slice(&sum.to_le_bytes());
        assert_eq!(v.len(), total);
        v
    }

    fn reseal(v: &mut [u8]) {
        let n = v.len() - 4;
        let sum = format::fnv1a(&v[..n]);
        v[n..].copy_from_slice(&sum.to_le_bytes());
    }

    #[test]
    fn bad_files_are_refused_with_their_reason() {
        let good = tiny();
        let m = ShapeModel::parse(&good).unwrap();
        assert_eq!((m.cascades(), m.trees_per_level(), m.tree_depth(), m.features_per_level()), (2, 3, 2, 4));
        assert_eq!(ShapeModel::parse(&[]).unwrap_err(), LandmarkError::BadLength);
        assert_eq!(ShapeModel::parse(&good[..good.len() - 1]).unwrap_err(), LandmarkError::BadLength);
        let mut v = good.clone();
        v[0] = b'X';
        assert_eq!(ShapeModel::parse(&v).unwrap_err(), LandmarkError::BadMagic);
        let mut v = good.clone();
        v[100] ^= 1;
        assert_eq!(ShapeModel::parse(&v).unwrap_err(), LandmarkError::BadChecksum);
        // 68 landmarks: another model shape.
        let mut v = good.clone();
        v[8] = 68;
        reseal(&mut v);
        assert_eq!(ShapeModel::parse(&v).unwrap_err(), LandmarkError::BadShape);
        // Depth 0.
        let mut v = good.clone();
        v[20] = 0;
        reseal(&mut v);
        assert_eq!(ShapeModel::parse(&v).unwrap_err(), LandmarkError::BadShape);
        // Header length field lies.
        let mut v = good.clone();
        v[28] ^= 4;
        reseal(&mut v);
        assert_eq!(ShapeModel::parse(&v).unwrap_err(), LandmarkError::BadLength);
        // Anchor landmark 7.
        let first_feature = format::HEADER_LEN + 40;
        let mut v = good.clone();
        v[first_feature] = 7;
        reseal(&mut v);
        assert_eq!(ShapeModel::parse(&v).unwrap_err(), LandmarkError::BadIndex);
        // Split on feature 4 of 4.
        let first_split = first_feature + 4 * 12;
        let mut v = good.clone();
        v[first_split] = 4;
        reseal(&mut v);
        assert_eq!(ShapeModel::parse(&v).unwrap_err(), LandmarkError::BadIndex);
        // A NaN leaf.
        let first_leaf = first_split + 3 * 12;
        let mut v = good.clone();
        v[first_leaf..first_leaf + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        reseal(&mut v);
        assert_eq!(ShapeModel::parse(&v).unwrap_err(), LandmarkError::BadNumber);
        // An infinite mean.
        let mut v = good;
        v[32..36].copy_from_slice(&f32::INFINITY.to_le_bytes());
        reseal(&mut v);
        assert_eq!(ShapeModel::parse(&v).unwrap_err(), LandmarkError::BadNumber);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let blob = tiny();
        let m = ShapeModel::parse(&blob).unwrap();
        let px = [7u8; 3];
        let one = ImageRef::new(1, 1, 3, &px).unwrap();
        // A box far outside a 1×1 image: every feature pixel reads 0, parts follow the box.
        let far = Rect { left: 10_000, top: -10_000, right: 10_100, bottom: -9_900 };
        let p = m.predict(one, far).unwrap();
        assert!(p.iter().all(|q| q.x >= 9_000.0 && q.y <= -9_000.0));
        // A one-pixel box.
        let dot = Rect { left: 0, top: 0, right: 0, bottom: 0 };
        assert!(m.predict(one, dot).unwrap().iter().all(|q| q.x == 0.0 && q.y == 0.0));
        // Empty and absurd boxes are refused.
        assert_eq!(
            m.predict(one, Rect { left: 5, top: 0, right: 4, bottom: 9 }).unwrap_err(),
            LandmarkError::BadRect
        );
        let huge = Rect { left: i32::MIN, top: i32::MIN, right: i32::MAX, bottom: i32::MAX };
        assert_eq!(m.predict(one, huge).unwrap_err(), LandmarkError::BadRect);
    }

    #[test]
    fn random_boxes_never_panic() {
        let blob = tiny();
        let m = ShapeModel::parse(&blob).unwrap();
        let px: Vec<u8> = (0..40 * 30 * 3).map(|i| (i * 13 % 256) as u8).collect();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for k in 0..500 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let (w, h) = (1 + (seed % 40) as usize, 1 + (seed >> 8) as usize % 30);
            let ch = if k % 2 == 0 { 1 } else { 3 };
            let img = ImageRef::new(w, h, ch, &px[..w * h * ch]).unwrap();
            let l = ((seed >> 16) % 200) as i32 - 100;
            let t = ((seed >> 24) % 200) as i32 - 100;
            let side = ((seed >> 32) % 300) as i32;
            let rect = Rect { left: l, top: t, right: l + side, bottom: t + side / 2 };
            let parts = m.predict(img, rect).unwrap();
            assert!(parts.iter().all(|p| p.x.is_finite() && p.y.is_finite()));
        }
    }

    #[test]
    fn similarity_of_a_scaled_rotated_shape() {
        let from = [0.8f32, 0.3, 0.6, 0.3, 0.2, 0.3, 0.4, 0.3, 0.5, 0.7];
        // to = 2·R(90°)·from + (1, 1)
        let mut to = [0f32; 10];
        for i in 0..5 {
            to[2 * i] = -2.0 * from[2 * i + 1] + 1.0;
            to[2 * i + 1] = 2.0 * from[2 * i] + 1.0;
        }
        let m = similarity_2x2(&from, &to);
        for (got, want) in m.iter().zip([0.0f32, -2.0, 2.0, 0.0]) {
            assert!((got - want).abs() < 1e-6, "{m:?}");
        }
        // All points on one spot: no scale to find, no panic.
        let m = similarity_2x2(&[0.5; 10], &to);
        assert!(m.iter().all(|x| x.is_finite()));
    }
}
