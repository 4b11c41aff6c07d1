//! The JPEG 2000 decoder against OpenJPEG's `opj_decompress` on the fixture card's chip
//! photo and on images `opj_compress` makes with many coding choices; corrupt input gives
//! typed errors; buffers are wiped.
//!
//! The reference decodes are made at test time. Without the OpenJPEG tools these tests say
//! so and skip, unless `SHIKAKU_REQUIRE_TOOLS=1`; the fixture photo is then still checked
//! against the SHA-256 of the reference decode, recorded once from `opj_decompress` 2.5.0.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use shikaku_firmware::card::surface_ap::CardFace;
use shikaku_firmware::face::jp2::{self, Jp2Error};

static SURFACE_FACE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/myna-testcard/surface-0002.bin"
));

fn photo() -> &'static [u8] {
    CardFace::parse(SURFACE_FACE).unwrap().photo_jp2
}

fn tools_present() -> bool {
    let ok = Command::new("opj_decompress").arg("-h").output().is_ok();
    if !ok {
        assert!(
            std::env::var("SHIKAKU_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "opj_decompress missing and SHIKAKU_REQUIRE_TOOLS=1 (apt install libopenjp2-tools)"
        );
        eprintln!("SKIPPED: opj_decompress not installed (libopenjp2-tools); reference comparison not run");
    }
    ok
}

fn scratch_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shikaku-jp2-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Reads a binary PGM (P5, 8-bit) or PPM (P6): (width, height, channels, samples).
fn read_pnm(path: &Path) -> (u32, u32, usize, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes[i] == b'#' {
            while bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        while !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..i]).to_string());
    }
    let channels = if fields[0] == "P6" { 3 } else { 1 };
    assert_eq!(fields[3], "255");
    let (w, h): (u32, u32) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let data = bytes[i + 1..].to_vec();
    assert_eq!(data.len(), (w * h) as usize * channels);
    (w, h, channels, data)
}

fn write_pnm(path: &Path, w: u32, h: u32, channels: usize, data: &[u8]) {
    let mut out = format!("{}\n{w} {h}\n255\n", if channels == 3 { "P6" } else { "P5" }).into_bytes();
    out.extend_from_slice(data);
    std::fs::write(path, out).unwrap();
}

/// opj_decompress's decode of `input` (written to `dir`).
fn reference(dir: &Path, name: &str, input: &[u8], channels: usize) -> (u32, u32, Vec<u8>) {
    let src = dir.join(name);
    std::fs::write(&src, input).unwrap();
    let out = dir.join(format!("{name}.{}", if channels == 3 { "ppm" } else { "pgm" }));
    let st = Command::new("opj_decompress").arg("-i").arg(&src).arg("-o").arg(&out).output().unwrap();
    assert!(st.status.success(), "opj_decompress: {}", String::from_utf8_lossy(&st.stderr));
    let (w, h, c, data) = read_pnm(&out);
    assert_eq!(c, channels);
    (w, h, data)
}

fn ours(input: &[u8]) -> Result<(jp2::ImageInfo, Vec<u8>, usize), Jp2Error> {
    let words = jp2::arena_words(input)?;
    let mut arena = vec![0i32; words];
    let info = jp2::info(input)?;
    let mut out = vec![0u8; info.output_len()];
    let img = jp2::decode(input, &mut arena, &mut out)?;
    let pixels = img.pixels().to_vec();
    Ok((img.info(), pixels, img.arena_words_used()))
}

/// (max abs diff, PSNR in dB).
fn compare(a: &[u8], b: &[u8]) -> (u8, f64) {
    assert_eq!(a.len(), b.len());
    let mut max = 0;
    let mut se = 0f64;
    for (x, y) in a.iter().zip(b) {
        let d = x.abs_diff(*y);
        max = max.max(d);
        se += f64::from(d) * f64::from(d);
    }
    let mse = se / a.len() as f64;
    let psnr = if mse == 0.0 { f64::INFINITY } else { 10.0 * (255.0 * 255.0 / mse).log10() };
    (max, psnr)
}

/// SHA-256 of `opj_decompress`'s decode of the fixture photo (OpenJPEG 2.5.0), as a PGM's
/// samples.
const FIXTURE_REFERENCE_SHA256: &str = "4ab9ecd32129431494a6fa42025de2bfb4802d0f5d9de9fe256f37cc5590d103";

#[test]
fn fixture_photo_header() {
    let info = jp2::info(photo()).unwrap();
    assert_eq!((info.width, info.height, info.components, info.precision), (378, 472, 1, 8));
    assert!(info.reversible);
    assert_eq!(info.tiles, 1);
}

#[test]
fn fixture_photo_matches_the_recorded_reference_decode() {
    let (info, pixels, used) = ours(photo()).unwrap();
    assert_eq!(info.output_len(), 378 * 472);
    let hex: String = Sha256::digest(&pixels).iter().map(|b| format!("{b:02x}")).collect();
    eprintln!("fixture: arena words used {used} ({} bytes)", used * 4);
    assert_eq!(hex, FIXTURE_REFERENCE_SHA256);
}

#[test]
fn fixture_photo_matches_opj_decompress_exactly() {
    if !tools_present() {
        return;
    }
    let dir = scratch_dir("fixture");
    let (w, h, reference) = reference(&dir, "photo.jp2", photo(), 1);
    assert_eq!((w, h), (378, 472));
    let (_, pixels, _) = ours(photo()).unwrap();
    let (max, psnr) = compare(&pixels, &reference);
    eprintln!("fixture photo vs opj_decompress: max abs diff {max}, PSNR {psnr} dB");
    assert_eq!(max, 0, "reversible 5/3 must match exactly");
}
