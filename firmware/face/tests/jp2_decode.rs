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
use shikaku_card::surface_ap::CardFace;
use shikaku_face::jp2::{self, Jp2Error};

static SURFACE_FACE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/myna-testcard/surface-0002.bin"
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

/// A temporary directory for the tools' files, removed when dropped (the photo included).
struct ScratchDir(PathBuf);

impl std::ops::Deref for ScratchDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch_dir(name: &str) -> ScratchDir {
    let d = std::env::temp_dir().join(format!("shikaku-jp2-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    ScratchDir(d)
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

/// A synthetic test picture: gradients, edges, a disc and pseudo-random texture.
fn synthetic(w: u32, h: u32, channels: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut out = Vec::with_capacity((w * h) as usize * channels);
    for y in 0..h {
        for x in 0..w {
            for c in 0..channels as u32 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let (dx, dy) = (x as i32 - w as i32 / 2, y as i32 - h as i32 / 3);
                let disc = if dx * dx + dy * dy < (w.min(h) as i32 / 4).pow(2) { 90 } else { 0 };
                let edge = if (x / 16 + y / 16 + c) % 2 == 0 { 40 } else { 0 };
                let v = (x * 255 / w.max(1) + c * 60) / 2 + disc + edge + (state % 24);
                out.push(v.min(255) as u8);
            }
        }
    }
    out
}

struct Case {
    name: &'static str,
    size: (u32, u32),
    channels: usize,
    args: &'static [&'static str],
    ext: &'static str,
}

const CASES: &[Case] = &[
    Case { name: "53-lossless-6-resolutions", size: (200, 150), channels: 1, args: &["-n", "6"], ext: "j2k" },
    Case { name: "53-lossy-3-layers", size: (200, 150), channels: 1, args: &["-r", "20,10,5"], ext: "jp2" },
    Case { name: "97-lossy", size: (200, 150), channels: 1, args: &["-I", "-r", "10"], ext: "jp2" },
    Case { name: "97-near-lossless", size: (131, 77), channels: 1, args: &["-I", "-n", "4"], ext: "j2k" },
    Case {
        name: "97-layers-tiles",
        size: (250, 190),
        channels: 1,
        args: &["-I", "-r", "30,10,2", "-t", "100,90", "-n", "4"],
        ext: "j2k",
    },
    Case {
        name: "53-tiles-64x48",
        size: (200, 150),
        channels: 1,
        args: &["-t", "64,48", "-n", "3"],
        ext: "j2k",
    },
    Case {
        name: "cb16x32-RPCL",
        size: (200, 150),
        channels: 1,
        args: &["-b", "16,32", "-p", "RPCL", "-n", "4"],
        ext: "j2k",
    },
    Case {
        name: "PCRL-precincts",
        size: (200, 150),
        channels: 1,
        args: &["-p", "PCRL", "-c", "[64,64],[32,32]", "-b", "16,16", "-n", "4", "-r", "8,2"],
        ext: "j2k",
    },
    Case {
        name: "CPRL-precincts-rgb",
        size: (120, 100),
        channels: 3,
        args: &["-p", "CPRL", "-c", "[32,32]", "-b", "8,8", "-n", "3"],
        ext: "j2k",
    },
    Case {
        name: "RLCP-layers",
        size: (200, 150),
        channels: 1,
        args: &["-p", "RLCP", "-r", "10,5,1"],
        ext: "j2k",
    },
    Case {
        name: "all-cblk-modes",
        size: (200, 150),
        channels: 1,
        args: &["-M", "63", "-r", "8,4,1"],
        ext: "j2k",
    },
    Case { name: "bypass", size: (200, 150), channels: 1, args: &["-M", "1", "-n", "5"], ext: "j2k" },
    Case {
        name: "reset-termall-97",
        size: (200, 150),
        channels: 1,
        args: &["-I", "-M", "6", "-r", "5"],
        ext: "j2k",
    },
    Case { name: "causal-segsym", size: (131, 77), channels: 1, args: &["-M", "40", "-n", "3"], ext: "j2k" },
    Case {
        name: "SOP-EPH",
        size: (200, 150),
        channels: 1,
        args: &["-SOP", "-EPH", "-r", "10,5"],
        ext: "j2k",
    },
    Case {
        name: "tile-parts-by-resolution",
        size: (300, 200),
        channels: 1,
        args: &["-TP", "R", "-t", "128,128"],
        ext: "j2k",
    },
    Case {
        name: "image-and-tile-offsets",
        size: (123, 97),
        channels: 1,
        args: &["-d", "13,7", "-T", "5,3", "-t", "40,30", "-n", "3"],
        ext: "j2k",
    },
    Case { name: "odd-small-17x9", size: (17, 9), channels: 1, args: &["-n", "3"], ext: "j2k" },
    Case { name: "one-pixel", size: (1, 1), channels: 1, args: &["-n", "1"], ext: "j2k" },
    Case { name: "column-1x40", size: (1, 40), channels: 1, args: &["-n", "1"], ext: "j2k" },
    Case { name: "narrow-5x40", size: (5, 40), channels: 1, args: &["-n", "3"], ext: "j2k" },
    Case {
        name: "narrow-odd-origin",
        size: (5, 40),
        channels: 1,
        args: &["-d", "3,1", "-n", "3"],
        ext: "j2k",
    },
    Case {
        name: "97-odd-origin",
        size: (77, 61),
        channels: 1,
        args: &["-I", "-d", "5,3", "-n", "4", "-r", "4"],
        ext: "j2k",
    },
    Case { name: "rgb-53-rct", size: (120, 100), channels: 3, args: &["-n", "4"], ext: "jp2" },
    Case { name: "rgb-97-ict", size: (120, 100), channels: 3, args: &["-I", "-r", "12"], ext: "jp2" },
    Case { name: "rgb-no-mct", size: (64, 64), channels: 3, args: &["-mct", "0", "-n", "2"], ext: "j2k" },
];

#[test]
fn opj_compress_variants_decode_like_opj_decompress() {
    if !tools_present() {
        return;
    }
    let dir = scratch_dir("variants");
    let mut failures = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        let (w, h) = case.size;
        let src = dir.join(format!("{}.{}", case.name, if case.channels == 3 { "ppm" } else { "pgm" }));
        write_pnm(&src, w, h, case.channels, &synthetic(w, h, case.channels, i as u32));
        let enc = dir.join(format!("{}.{}", case.name, case.ext));
        let st = Command::new("opj_compress")
            .arg("-i")
            .arg(&src)
            .arg("-o")
            .arg(&enc)
            .args(case.args)
            .output()
            .unwrap();
        assert!(st.status.success(), "{}: opj_compress: {}", case.name, String::from_utf8_lossy(&st.stderr));
        let bytes = std::fs::read(&enc).unwrap();
        let (rw, rh, reference) =
            reference(&dir, &format!("{}-ref.{}", case.name, case.ext), &bytes, case.channels);
        let result = ours(&bytes);
        match result {
            Ok((info, pixels, used)) => {
                assert_eq!((info.width, info.height), (rw, rh), "{}", case.name);
                let (max, psnr) = compare(&pixels, &reference);
                let lossless = if info.reversible { "5/3" } else { "9/7" };
                eprintln!(
                    "{:28} {:>4}x{:<4} {} {} bytes: max abs diff {max}, PSNR {psnr:.1} dB, arena {} words",
                    case.name,
                    w,
                    h,
                    lossless,
                    bytes.len(),
                    used
                );
                let ok = if info.reversible { max == 0 } else { max <= 1 };
                if !ok {
                    failures.push(format!("{}: max diff {max}", case.name));
                }
            }
            Err(e) => failures.push(format!("{}: {e:?}", case.name)),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn fixture_photo_reencoded_decodes_like_opj_decompress() {
    if !tools_present() {
        return;
    }
    let dir = scratch_dir("reencoded");
    let (info, pixels, _) = ours(photo()).unwrap();
    let src = dir.join("photo.pgm");
    write_pnm(&src, info.width, info.height, 1, &pixels);
    let variants: &[(&str, &[&str])] = &[
        ("97-rate-20", &["-I", "-r", "20"]),
        ("97-lossless-ish-6-levels", &["-I", "-n", "7"]),
        ("97-tiles-layers", &["-I", "-t", "128,128", "-r", "40,10"]),
        ("53-lossless-cb32", &["-b", "32,32"]),
        ("53-precincts-RPCL-modes", &["-p", "RPCL", "-c", "[128,128],[64,64]", "-M", "9", "-r", "6"]),
    ];
    for (name, args) in variants {
        let enc = dir.join(format!("{name}.jp2"));
        let st = Command::new("opj_compress")
            .arg("-i")
            .arg(&src)
            .arg("-o")
            .arg(&enc)
            .args(*args)
            .output()
            .unwrap();
        assert!(st.status.success(), "{name}: {}", String::from_utf8_lossy(&st.stderr));
        let bytes = std::fs::read(&enc).unwrap();
        let (_, _, reference) = reference(&dir, &format!("{name}-ref.jp2"), &bytes, 1);
        let (info, ours, used) = ours(&bytes).unwrap();
        let (max, psnr) = compare(&ours, &reference);
        eprintln!(
            "photo {name:28} {} bytes: max abs diff {max}, PSNR {psnr:.1} dB, arena {used} words",
            bytes.len()
        );
        assert!(if info.reversible { max == 0 } else { max <= 1 }, "{name}: max diff {max}");
    }
}
