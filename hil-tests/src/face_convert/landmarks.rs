//! dlib's 5-point shape predictor (`shape_predictor_5_face_landmarks.dat`) → our landmark
//! model file (`SHLMK001`, read by `shikaku_face::landmarks`).
//!
//! dlib's serialization of `shape_predictor` (version 1), in dlib's value encoding
//! ([`crate::dlib_dat`]):
//!
//! - int version (1);
//! - `matrix<float,0,1>` initial shape: rows, columns (written negated by newer dlib), then
//!   the 2·parts floats x0 y0 x1 y1 …, normalised to the detection box ((0,0) = top left
//!   corner, (1,1) = bottom right corner);
//! - forests: a vector (length, items) of cascade levels, each a vector of regression trees;
//!   a tree is a vector of splits (idx1, idx2 as integers, thresh as a float) then a vector
//!   of leaf values (each a `matrix<float,0,1>` of 2·parts floats); the tree is complete:
//!   splits are stored breadth first, children of i at 2i+1 (left, taken when
//!   `f[idx1] − f[idx2] > thresh`) and 2i+2, leaves = splits + 1;
//! - anchor_idx: per cascade level, a vector of integers (the landmark each feature pixel
//!   hangs on);
//! - deltas: per cascade level, a vector of `vector<float,2>` (two floats each), the offset of
//!   each feature pixel from its anchor in the normalised mean shape.
//!
//! Our file keeps exactly these numbers (f32 as dlib stores them, so inference is bit-for-bit
//! the same) in a fixed layout; see the firmware module for the byte layout.

use crate::dlib_dat::{DatReader, Res};
use shikaku_face::landmarks::format;

fn float(r: &mut DatReader) -> Res<f32> {
    let v = r.float()?;
    let f = v as f32;
    if !f.is_finite() || f as f64 != v {
        return Err(format!("float {v} is not an exact finite f32 at {}", r.p));
    }
    Ok(f)
}

fn column(r: &mut DatReader) -> Res<Vec<f32>> {
    let nr = r.int()?.unsigned_abs() as usize;
    let nc = r.int()?.unsigned_abs() as usize;
    if nc != 1 && nr != 0 {
        return Err(format!("expected a column vector, found {nr}×{nc} at {}", r.p));
    }
    (0..nr).map(|_| float(r)).collect()
}

fn index(v: i64, bound: usize, what: &str) -> Res<u32> {
    if v < 0 || v as u64 >= bound as u64 {
        return Err(format!("{what} {v} out of range (< {bound})"));
    }
    Ok(v as u32)
}

struct Tree {
    splits: Vec<(i64, i64, f32)>,
    leaves: Vec<Vec<f32>>,
}

/// Converts dlib's serialized shape predictor into our model file.
pub fn convert(dat: &[u8]) -> Result<Vec<u8>, String> {
    let mut r = DatReader::new(dat);
    let version = r.int()?;
    if version != 1 {
        return Err(format!("shape_predictor version {version}, expected 1"));
    }
    let initial = column(&mut r)?;
    if initial.is_empty() || initial.len() % 2 != 0 {
        return Err(format!("initial shape of {} numbers", initial.len()));
    }
    let parts = initial.len() / 2;
    if parts != format::PARTS {
        return Err(format!("{parts} landmarks, expected {}", format::PARTS));
    }
    let n_cascades = r.uint()?;
    let mut forests: Vec<Vec<Tree>> = Vec::with_capacity(n_cascades.min(1024));
    for _ in 0..n_cascades {
        let n_trees = r.uint()?;
        let mut trees = Vec::with_capacity(n_trees.min(1 << 16));
        for _ in 0..n_trees {
            let n_splits = r.uint()?;
            let mut splits = Vec::with_capacity(n_splits.min(1 << 16));
            for _ in 0..n_splits {
                let a = r.int()?;
                let b = r.int()?;
                splits.push((a, b, float(&mut r)?));
            }
            let n_leaves = r.uint()?;
            let mut leaves = Vec::with_capacity(n_leaves.min(1 << 16));
            for _ in 0..n_leaves {
                let leaf = column(&mut r)?;
                if leaf.len() != 2 * parts {
                    return Err(format!("leaf of {} numbers, expected {}", leaf.len(), 2 * parts));
                }
                leaves.push(leaf);
            }
            trees.push(Tree { splits, leaves });
        }
        forests.push(trees);
    }
    let n_anchor = r.uint()?;
    if n_anchor != n_cascades {
        return Err(format!("{n_anchor} anchor lists for {n_cascades} cascade levels"));
    }
    let mut anchors = Vec::with_capacity(n_anchor);
    for _ in 0..n_anchor {
        let n = r.uint()?;
        let mut v = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            v.push(index(r.int()?, parts, "anchor landmark")?);
        }
        anchors.push(v);
    }
    let n_deltas = r.uint()?;
    if n_deltas != n_cascades {
        return Err(format!("{n_deltas} delta lists for {n_cascades} cascade levels"));
    }
    let mut deltas = Vec::with_capacity(n_deltas);
    for _ in 0..n_deltas {
        let n = r.uint()?;
        let mut v = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            let x = float(&mut r)?;
            v.push([x, float(&mut r)?]);
        }
        deltas.push(v);
    }
    if !r.at_end() {
        return Err(format!("{} bytes after the shape predictor", dat.len() - r.p));
    }

    // Uniform shape: every level has the same number of feature pixels and trees, and every
    // tree the same depth (true of dlib's trainer, which the file layout relies on).
    if n_cascades == 0 {
        return Err("no cascade levels".into());
    }
    let n_trees = forests[0].len();
    let n_features = anchors[0].len();
    let n_splits = forests[0].first().map(|t| t.splits.len()).unwrap_or(0);
    let depth = (n_splits + 1).trailing_zeros() as usize;
    if n_trees == 0 || n_splits + 1 != 1 << depth || depth == 0 || depth > format::MAX_DEPTH {
        return Err(format!(
            "{n_trees} trees of {n_splits} splits: not complete trees of depth 1..={}",
            format::MAX_DEPTH
        ));
    }
    if n_features == 0 || n_features > format::MAX_FEATURES {
        return Err(format!("{n_features} feature pixels per level (1..={})", format::MAX_FEATURES));
    }
    let mut out = Vec::with_capacity(format::file_len(parts, n_cascades, n_trees, depth, n_features));
    out.extend_from_slice(&format::MAGIC);
    for v in [
        parts,
        n_cascades,
        n_trees,
        depth,
        n_features,
        format::file_len(parts, n_cascades, n_trees, depth, n_features),
    ] {
        out.extend_from_slice(&(v as u32).to_le_bytes());
    }
    debug_assert_eq!(out.len(), format::HEADER_LEN);
    for x in &initial {
        out.extend_from_slice(&x.to_le_bytes());
    }
    for (c, trees) in forests.iter().enumerate() {
        if trees.len() != n_trees || anchors[c].len() != n_features || deltas[c].len() != n_features {
            return Err(format!("cascade level {c} differs in shape from level 0"));
        }
        for (&a, d) in anchors[c].iter().zip(&deltas[c]) {
            out.extend_from_slice(&a.to_le_bytes());
            out.extend_from_slice(&d[0].to_le_bytes());
            out.extend_from_slice(&d[1].to_le_bytes());
        }
        for (t, tree) in trees.iter().enumerate() {
            if tree.splits.len() != n_splits || tree.leaves.len() != n_splits + 1 {
                return Err(format!("tree {t} of level {c} is not complete of depth {depth}"));
            }
            for &(a, b, th) in &tree.splits {
                out.extend_from_slice(&index(a, n_features, "split feature")?.to_le_bytes());
                out.extend_from_slice(&index(b, n_features, "split feature")?.to_le_bytes());
                out.extend_from_slice(&th.to_le_bytes());
            }
            for leaf in &tree.leaves {
                for x in leaf {
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
        }
    }
    let sum = format::fnv1a(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    if out.len() != format::file_len(parts, n_cascades, n_trees, depth, n_features) {
        return Err("internal: file length mismatch".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_garbage() {
        assert!(convert(&[]).is_err());
        assert!(convert(&[0x01, 0x02]).is_err());
        // version 1, then a 2×1 initial shape (one landmark): wrong landmark count.
        assert!(convert(&[0x01, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00]).is_err());
    }
}
