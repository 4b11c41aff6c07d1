//! The face engine's JPEG 2000 decoder (card-face photo, DF27) on arbitrary bytes: the header
//! reader, the arena estimate and the full decode with a bounded arena and output buffer.
//! Typed errors only: never a panic, never a write past the arena or the output, and the
//! buffers wiped afterwards.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shikaku_face::jp2;

/// Bounds like the reader's: a card photo is at most a few hundred pixels a side.
const MAX_ARENA_WORDS: usize = 1 << 20;
const MAX_OUT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Ok(info) = jp2::info(data) else { return };
    let Ok(words) = jp2::arena_words(data) else { return };
    if words > MAX_ARENA_WORDS || info.output_len() > MAX_OUT {
        return;
    }
    let mut arena = vec![0i32; words];
    let mut out = vec![0u8; info.output_len()];
    if let Ok(img) = jp2::decode(data, &mut arena, &mut out) {
        assert_eq!(img.pixels().len(), img.info().output_len());
    }
    // Either way nothing of the photo is left behind: the image wiped on drop or on error,
    // every arena word the decode touched zeroed.
    assert!(out.iter().all(|&b| b == 0), "image not wiped");
    assert!(arena.iter().all(|&w| w == 0), "arena not wiped");
    // Too small an arena is a typed error, never an overrun.
    let mut small = vec![0i32; words / 4];
    let _ = jp2::decode(data, &mut small, &mut out);
});
