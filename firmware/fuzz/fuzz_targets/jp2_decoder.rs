//! The chip-photo JPEG 2000 decoder on arbitrary bytes: headers, packets, tier-1 and the
//! wavelet transform. Typed errors only, never a panic; the buffers are wiped either way.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shikaku_firmware::face::jp2;

fuzz_target!(|data: &[u8]| {
    let _ = jp2::info(data);
    let Ok(words) = jp2::arena_words(data) else { return };
    let Ok(info) = jp2::info(data) else { return };
    // Bounded like the reader: a header asking for more gets ArenaTooSmall / OutputTooSmall.
    let mut arena = vec![0i32; words.min(256 << 10)];
    let mut out = vec![0u8; info.output_len().min(256 << 10)];
    let decoded = jp2::decode(data, &mut arena, &mut out).map(|img| img.pixels().len());
    if let Ok(len) = decoded {
        assert_eq!(len, info.output_len());
    }
    assert!(out.iter().all(|&b| b == 0), "image not wiped");
    assert!(arena.iter().all(|&w| w == 0), "arena not wiped");
});
