//! The 券面事項入力補助 (text) and 券面事項確認 (surface) AP records of a generated persona, in
//! the fixture's layout, with the signatures a verifier checks:
//!
//! - text `0003`: `FF30 { DF31 SHA-256(0001 physical), DF32 SHA-256(0002 after the offset
//!   table), DF33 sig }`, the signature a sha256WithRSA over the DF31‖DF32 TLVs by the text
//!   issuer key (the key certified in text `0004`);
//! - surface `0001` / `0005`: sha256WithRSA over every TLV before the signature, by the surface
//!   issuer key (certified in surface `0004`);
//! - surface `0002` (card face): DF28 = PKCS#1 v1.5 over `DigestInfo(sha256,
//!   SHA-256(DF22‖DF23‖DF24) ‖ SHA-256(DF25‖DF26) ‖ SHA-256(DF27))` — a 96-byte "digest" in a
//!   SHA-256 DigestInfo, worked out from the fixture (it verifies under the fixture's surface
//!   `0004` key) and matching `myna-card`'s `CardFace::verify`. DF29/DF2A are not covered.

use super::der::{parse_header, tlv_n};

/// Builds `FF20`-style records with an offset table (`DF21`) of absolute TLV offsets.
pub fn with_offsets(outer: u32, table_tag: u32, fields: &[Vec<u8>]) -> Vec<u8> {
    let table_len = 2 * fields.len();
    let table_tlv_len = tlv_n(table_tag, &vec![0; table_len]).len();
    let body_len = table_tlv_len + fields.iter().map(Vec::len).sum::<usize>();
    let header_len = tlv_n(outer, &vec![0; body_len]).len() - body_len;
    let mut offsets = Vec::with_capacity(table_len);
    let mut pos = header_len + table_tlv_len;
    for f in fields {
        offsets.extend_from_slice(&(pos as u16).to_be_bytes());
        pos += f.len();
    }
    let mut body = tlv_n(table_tag, &offsets);
    for f in fields {
        body.extend_from_slice(f);
    }
    tlv_n(outer, &body)
}

/// Finds the value of a direct child TLV of the outer object in `record`.
pub fn child(record: &[u8], tag: u32) -> Option<&[u8]> {
    let (_, hl, vl) = parse_header(record)?;
    let mut rest = record.get(hl..hl + vl)?;
    while !rest.is_empty() {
        let (t, h, l) = parse_header(rest)?;
        let v = rest.get(h..h + l)?;
        if t == tag {
            return Some(v);
        }
        rest = &rest[h + l..];
    }
    None
}

/// 5×7 bitmap digits for the rendered images.
const DIGITS: [[u8; 7]; 10] = [
    [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
    [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
    [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
    [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
    [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
    [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
    [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
    [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
];

/// A 1-bit greyscale PNG of `text`: digits rendered with a 5×7 font (scale 2), any other
/// character as a filled block (we carry no kanji font; the images are placeholders in the
/// card's format, not legible renderings of the name or address).
pub fn render_png(text: &str) -> Vec<u8> {
    let chars: Vec<char> = text.chars().collect();
    let scale = 2usize;
    let w = (chars.len().max(1) * 6 + 1) * scale;
    let h = 9 * scale;
    let mut px = vec![vec![false; w]; h];
    for (i, c) in chars.iter().enumerate() {
        let glyph: [u8; 7] = match c.to_digit(10) {
            Some(d) => DIGITS[d as usize],
            None if c.is_whitespace() => [0; 7],
            None => [0x1F, 0x11, 0x15, 0x1B, 0x15, 0x11, 0x1F],
        };
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..5 {
                if bits & (0x10 >> col) != 0 {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            px[(row + 1) * scale + dy][(i * 6 + 1 + col) * scale + dx] = true;
                        }
                    }
                }
            }
        }
    }
    // Raw scanlines: filter byte 0 + packed bits (1 = white, as in the fixture images).
    let row_bytes = w.div_ceil(8);
    let mut raw = Vec::with_capacity(h * (row_bytes + 1));
    for row in &px {
        raw.push(0);
        for chunk in row.chunks(8) {
            let mut b = 0u8;
            for (k, on) in chunk.iter().enumerate() {
                if !on {
                    b |= 0x80 >> k;
                }
            }
            if chunk.len() < 8 {
                b |= 0xFF >> chunk.len();
            }
            raw.push(b);
        }
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&(w as u32).to_be_bytes());
    ihdr.extend_from_slice(&(h as u32).to_be_bytes());
    ihdr.extend_from_slice(&[1, 0, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(0xFFFF).collect() };
    for (i, b) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let n = b.len() as u16;
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(!n).to_le_bytes());
        out.extend_from_slice(b);
    }
    let (mut a, mut s) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        s = (s + a) % 65521;
    }
    out.extend_from_slice(&((s << 16) | a).to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_match_the_fixture_layout() {
        let fields = vec![
            tlv_n(0xDF22, "黒桐　幹也".as_bytes()),
            tlv_n(0xDF23, "東京都清瀬市観布子南１２－７－２０２".as_bytes()),
            tlv_n(0xDF24, b"19800217"),
            tlv_n(0xDF25, b"1"),
        ];
        let rec = with_offsets(0xFF20, 0xDF21, &fields);
        let fixture = std::fs::read(super::super::fixtures_dir().join("myna-testcard/text-0002.bin"));
        if let Ok(fixture) = fixture {
            assert_eq!(rec, fixture);
        }
        assert_eq!(child(&rec, 0xDF24), Some(&b"19800217"[..]));
    }

    #[test]
    fn png_is_well_formed() {
        let png = render_png("1234");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(png.ends_with(&[0xAE, 0x42, 0x60, 0x82]));
    }
}
