//! Converters from dlib's model files to the compact formats the firmware loads.

pub mod detector;
pub mod landmarks;

use crate::dlib_dat::{DatReader, Res};

/// What follows each computational layer of a dlib network: three bools and three tensors
/// that must be empty, and after the bottom layer (`first`, cleared here) its sample
/// expansion factor.
fn empty_tail(r: &mut DatReader, first: &mut bool) -> Res<()> {
    for _ in 0..3 {
        r.boolean()?;
    }
    for _ in 0..3 {
        let (d, _) = r.tensor()?;
        if d.iter().product::<usize>() != 0 {
            return Err("a layer carries a non-empty gradient or output tensor".into());
        }
    }
    if *first {
        r.int()?; // the bottom layer's sample expansion factor
        *first = false;
    }
    Ok(())
}

/// The computational layers of a dlib network, from the input outwards, to the end of the
/// file: each one's name, then what `layer` reads of it, then its [`empty_tail`].
pub fn layers<L>(r: &mut DatReader, mut layer: impl FnMut(&mut DatReader, &str) -> Res<L>) -> Res<Vec<L>> {
    let mut layers = Vec::new();
    let mut first = true;
    while !r.at_end() {
        let name = r.string()?;
        layers.push(layer(r, &name)?);
        empty_tail(r, &mut first)?;
    }
    Ok(layers)
}

/// The wrappers' versions, outside in, up to the bottom add_layer (version 3); returns how
/// many there were.
pub fn wrapper_versions(r: &mut DatReader) -> Res<usize> {
    let mut wrappers = 0;
    loop {
        let v = r.int()?;
        wrappers += 1;
        match v {
            1 | 2 => continue,
            3 => break,
            _ => return Err(format!("unexpected wrapper version {v}")),
        }
    }
    Ok(wrappers)
}

/// The rest of an "affine_" layer (params γ then β, two aliases, mode), which must be in
/// per-channel (conv) mode: (γ, β).
pub fn affine(r: &mut DatReader) -> Res<(Vec<f32>, Vec<f32>)> {
    let (_, params) = r.tensor()?;
    let g = r.alias()?;
    let _ = r.alias()?;
    let mode = r.int()?;
    if mode != 0 {
        return Err(format!("affine mode {mode}, expected per-channel (0)"));
    }
    let n = g.iter().product::<usize>();
    if params.len() != 2 * n {
        return Err("affine params".into());
    }
    Ok((params[..n].to_vec(), params[n..].to_vec()))
}
