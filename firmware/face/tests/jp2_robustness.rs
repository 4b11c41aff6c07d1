//! The JPEG 2000 decoder on small checked-in images (references made once by
//! `opj_decompress`, see `tests/data/jp2/README.md`), on truncated and corrupted input (typed
//! errors, never a panic), and the wiping of the image and working buffers.

use proptest::prelude::*;
use shikaku_card::surface_ap::CardFace;
use shikaku_face::jp2::{self, Jp2Error};

static SURFACE_FACE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/myna-testcard/surface-0002.bin"
));

macro_rules! data {
    ($name:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/jp2/", $name)).as_slice()
    };
}

static GREY_97: &[u8] = data!("grey-97-tiles-layers.j2k");
static GREY_53: &[u8] = data!("grey-53-rpcl-precincts-modes.jp2");
static RGB_53: &[u8] = data!("rgb-53-pcrl-layers.jp2");

fn photo() -> &'static [u8] {
    CardFace::parse(SURFACE_FACE).unwrap().photo_jp2
}

/// The samples of a binary PGM/PPM made by opj_decompress (one comment line).
fn pnm_samples(bytes: &[u8]) -> &[u8] {
    let mut newlines = 0;
    let mut i = 0;
    let want = if bytes.get(3) == Some(&b'#') { 4 } else { 3 };
    while newlines < want {
        if bytes[i] == b'\n' {
            newlines += 1;
        }
        i += 1;
    }
    &bytes[i..]
}

/// Decodes with bounded buffers (at most 512 Ki words of arena and 1 MiB of output, so a
/// mutated header asking for more gets a typed error instead of an allocation).
fn decode_bounded(input: &[u8]) -> Result<Vec<u8>, Jp2Error> {
    let words = jp2::arena_words(input)?.min(512 << 10);
    let mut arena = vec![0i32; words];
    let len = jp2::info(input)?.output_len().min(1 << 20);
    let mut out = vec![0u8; len];
    let img = jp2::decode(input, &mut arena, &mut out)?;
    let pixels = img.pixels().to_vec();
    drop(img);
    assert!(out.iter().all(|&b| b == 0), "output not wiped on drop");
    assert!(arena.iter().all(|&w| w == 0), "arena not wiped");
    Ok(pixels)
}

#[test]
fn checked_in_images_match_their_opj_decompress_reference() {
    for (name, input, reference, lossless) in [
        ("grey-97", GREY_97, pnm_samples(data!("grey-97-tiles-layers.opj.pgm")), false),
        ("grey-53", GREY_53, pnm_samples(data!("grey-53-rpcl-precincts-modes.opj.pgm")), true),
        ("rgb-53", RGB_53, pnm_samples(data!("rgb-53-pcrl-layers.opj.ppm")), true),
    ] {
        let ours = decode_bounded(input).unwrap();
        assert_eq!(ours.len(), reference.len(), "{name}");
        let max = ours.iter().zip(reference).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        eprintln!("{name}: max abs diff {max}");
        assert!(if lossless { max == 0 } else { max <= 1 }, "{name}: max diff {max}");
    }
}

#[test]
fn the_image_and_the_arena_are_wiped() {
    let input = photo();
    let mut arena = vec![0x5A5A_5A5Ai32; jp2::arena_words(input).unwrap()];
    let mut out = vec![0u8; jp2::info(input).unwrap().output_len()];
    let img = jp2::decode(input, &mut arena, &mut out).unwrap();
    // While the image lives, it is there ...
    assert!(img.pixels().iter().filter(|&&p| p != 0).count() > 100_000);
    let used = img.arena_words_used();
    drop(img);
    // ... and afterwards neither it nor any coefficient, code-block record or scratch word
    // the decode touched remains. Words past the high-water mark were never written.
    assert!(out.iter().all(|&b| b == 0));
    assert!(arena[..used].iter().all(|&w| w == 0));
    assert!(arena[used..].iter().all(|&w| w == 0x5A5A_5A5A));
}

#[test]
fn buffers_are_wiped_when_the_decode_fails() {
    // Cut inside the code-block data: the headers parse, the packets do not.
    let input = &photo()[..1200];
    let mut arena = vec![0i32; 400_000];
    let mut out = vec![0xEEu8; 378 * 472];
    assert_eq!(jp2::decode(input, &mut arena, &mut out).unwrap_err(), Jp2Error::Truncated);
    assert!(out.iter().all(|&b| b == 0));
    assert!(arena.iter().all(|&w| w == 0));
}

#[test]
fn small_buffers_are_typed_errors() {
    let input = photo();
    let words = jp2::arena_words(input).unwrap();
    let mut out = vec![0u8; 378 * 472];
    let mut small = vec![0i32; 1000];
    assert_eq!(jp2::decode(input, &mut small, &mut out).unwrap_err(), Jp2Error::ArenaTooSmall);
    let mut arena = vec![0i32; words];
    let mut short = vec![0u8; 378 * 472 - 1];
    assert_eq!(jp2::decode(input, &mut arena, &mut short).unwrap_err(), Jp2Error::OutputTooSmall);
}

#[test]
fn the_fixture_photo_fits_the_estimate_and_says_what_it_needs() {
    let input = photo();
    let words = jp2::arena_words(input).unwrap();
    let mut arena = vec![0i32; words];
    let mut out = vec![0u8; 378 * 472];
    let img = jp2::decode(input, &mut arena, &mut out).unwrap();
    let used = img.arena_words_used();
    eprintln!(
        "378x472 photo: arena {used} words = {} bytes used (estimate {words} words), output {} bytes",
        used * 4,
        378 * 472
    );
    assert!(used <= words);
    // Two 16-bit coefficients per word (reversible, 8-bit): the coefficient buffer is most
    // of it, and the whole decode stays within 400 kB.
    assert!(used >= 378 * 472 / 2);
    assert!(used * 4 <= 400_000, "{used} words");
}

#[test]
fn every_truncation_is_a_typed_error() {
    for input in [photo(), GREY_97, GREY_53, RGB_53] {
        for len in 0..input.len() - 2 {
            // Cutting only the final EOC may still decode; anything shorter must not.
            match decode_bounded(&input[..len]) {
                Err(_) => {}
                Ok(_) => panic!("truncated to {len} of {} decoded", input.len()),
            }
        }
    }
}

#[test]
fn not_jpeg2000_and_bad_boxes() {
    assert_eq!(jp2::info(b"").unwrap_err(), Jp2Error::NotJpeg2000);
    assert_eq!(jp2::info(b"\x89PNG\r\n\x1a\n").unwrap_err(), Jp2Error::NotJpeg2000);
    let mut wrong_brand = photo().to_vec();
    wrong_brand[20..24].copy_from_slice(b"jpx ");
    wrong_brand[28..32].copy_from_slice(b"jpx ");
    assert_eq!(jp2::info(&wrong_brand).unwrap_err(), Jp2Error::BadBox);
    // ihdr says 379 wide; the codestream says 378.
    let mut mismatch = photo().to_vec();
    let at = mismatch.windows(4).position(|w| w == b"ihdr").unwrap() + 4;
    mismatch[at + 7] = mismatch[at + 7].wrapping_add(1);
    assert_eq!(jp2::info(&mismatch).unwrap_err(), Jp2Error::HeaderMismatch);
}

#[test]
fn unsupported_features_are_named() {
    // An RGN marker segment (ROI) put into the main header, before the first SOT.
    let p = photo();
    let cs = p.windows(2).position(|w| w == [0xFF, 0x4F]).unwrap();
    let sot = p.windows(2).position(|w| w == [0xFF, 0x90]).unwrap();
    let mut bytes = p[cs..sot].to_vec();
    bytes.extend_from_slice(&[0xFF, 0x5E, 0x00, 0x05, 0x00, 0x00, 0x03]);
    bytes.extend_from_slice(&p[sot..]);
    let mut arena = vec![0i32; 300_000];
    let mut out = vec![0u8; 378 * 472];
    assert_eq!(
        jp2::decode(&bytes, &mut arena, &mut out).unwrap_err(),
        Jp2Error::Unsupported("region of interest")
    );
}

/// Single-byte changes (top bit, bottom bit, 0xFF, in turn) at every position of the headers
/// of the small images and every fifth of their packet data never panic.
#[test]
fn every_byte_corrupted_never_panics() {
    for input in [GREY_97, GREY_53, RGB_53] {
        let positions = (0..200.min(input.len())).chain((200..input.len()).step_by(5));
        for (k, at) in positions.enumerate() {
            let mut bytes = input.to_vec();
            bytes[at] = match k % 3 {
                0 => bytes[at] ^ 0x80,
                1 => bytes[at] ^ 0x01,
                _ => 0xFF,
            };
            let _ = decode_bounded(&bytes);
        }
    }
}

fn mutate(input: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut bytes = input.to_vec();
    for &(at, kind, value) in edits {
        if bytes.is_empty() {
            break;
        }
        let at = at % bytes.len();
        match kind % 4 {
            0 => bytes[at] = value,
            1 => bytes[at] ^= 1 << (value % 8),
            2 => {
                bytes.remove(at);
            }
            _ => bytes.insert(at, value),
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_mutations_of_small_images_never_panic(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8),
    ) {
        let input = [GREY_97, GREY_53, RGB_53][which];
        let _ = decode_bounded(&mutate(input, &edits));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_mutations_of_the_photo_never_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..6),
    ) {
        let _ = decode_bounded(&mutate(photo(), &edits));
    }

    #[test]
    fn random_header_mutations_of_the_photo_never_panic(
        edits in proptest::collection::vec((0usize..200, any::<u8>(), any::<u8>()), 1..4),
    ) {
        let _ = decode_bounded(&mutate(photo(), &edits));
    }
}
