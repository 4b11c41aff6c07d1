//! Names as they are: no ●, no look-alike.
//!
//! Text stays UTF-8 everywhere inside the driver (see [`crate::model`]). The receipt-computer
//! files carry every character losslessly: one the file's character set holds is written as
//! itself, any other as an XML numeric character reference (`&#x20BB7;` for 𠮷), inside the
//! element itself — an XML reader gets the original text back, whatever the file's encoding.
//! Replacing 髙 by 高 or by ● would change a name the eligibility system spelled exactly, and
//! an element added beside it would be outside the layout. Which fields needed references is
//! reported by the writer ([`crate::receipt::Referenced`]) for the JSON API and the staff view.
//!
//! # The character sets
//!
//! `encoding_rs`'s `Shift_JIS` is the WHATWG one, i.e. Windows-31J / CP932: besides JIS X 0208
//! it encodes the NEC row 13 symbols (①, ㈱, …) and the IBM extension kanji (0xFA40–0xFC4B),
//! which hold several name variants: 髙 (0xFBFC) and 﨑 (0xFAB1) *are* encodable in CP932 but
//! are *not* in JIS X 0208; 邉 (0xE7B3) is in both; 𠮷 (U+20BB7) is in neither.
//!
//! * [`Charset::Cp932`]: everything `encoding_rs` encodes except the user-defined area (外字,
//!   U+E000–U+E757, meaningless to another PC). What receipt computers — Windows programs —
//!   read and write; the default.
//! * [`Charset::Jis0208`]: only JIS X 0201 (ASCII, half-width katakana) and JIS X 0208 proper
//!   (SJIS lead bytes 0x81–0x84, 0x88–0x9F, 0xE0–0xEA), for a reader that takes the
//!   `Shift_JIS` label literally (Java's `Shift_JIS`, iconv/libxml2, ICU).

/// A Shift_JIS character set. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Charset {
    /// Windows-31J: JIS X 0208 plus NEC row 13 and the IBM extensions.
    #[default]
    Cp932,
    /// JIS X 0201 + JIS X 0208: safe for every Shift_JIS reader.
    Jis0208,
}

/// Shift_JIS bytes of one character, or `None` when `encoding_rs` cannot encode it.
fn sjis_bytes(c: char) -> Option<Vec<u8>> {
    let mut buf = [0u8; 4];
    let (bytes, _, had_errors) = encoding_rs::SHIFT_JIS.encode(c.encode_utf8(&mut buf));
    if had_errors {
        None
    } else {
        Some(bytes.into_owned())
    }
}

/// Whether `c` may be written as itself in a Shift_JIS file limited to `charset`.
pub fn in_target(c: char, charset: Charset) -> bool {
    // Control characters other than tab/newline have no business in a name or an XML file.
    if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
        return false;
    }
    let Some(bytes) = sjis_bytes(c) else {
        return false;
    };
    // The encoder folds a few code points onto others (¥ → 0x5C, ‾ → 0x7E, − → 0x817C) that
    // decode as something else (\, ~, －): those are written as references instead.
    let mut buf = [0u8; 4];
    let (back, _) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(&bytes);
    if back != *c.encode_utf8(&mut buf) {
        return false;
    }
    match bytes.as_slice() {
        // ASCII and JIS X 0201 half-width katakana (0xA1–0xDF).
        [_] => true,
        [lead, _] => match charset {
            Charset::Jis0208 => matches!(lead, 0x81..=0x84 | 0x88..=0x9F | 0xE0..=0xEA),
            // The user-defined area 0xF040–0xF9FC (外字) means nothing to another PC.
            Charset::Cp932 => !matches!(lead, 0xF0..=0xF9),
        },
        _ => false,
    }
}

/// The reference XML text needs for `c`, if any: the five markup characters, and CR (a raw CR
/// would be normalised away by the reader).
pub fn xml_entity(c: char) -> Option<&'static str> {
    Some(match c {
        '&' => "&amp;",
        '<' => "&lt;",
        '>' => "&gt;",
        '"' => "&quot;",
        '\'' => "&apos;",
        '\r' => "&#xD;",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cp932_question_is_a_real_difference() {
        // 髙 and 﨑 are IBM extensions: in CP932, not in JIS X 0208.
        for c in ['髙', '\u{FA11}'] {
            assert!(in_target(c, Charset::Cp932));
            assert!(!in_target(c, Charset::Jis0208));
        }
        // 邉 / 邊 are JIS X 0208 level 2.
        for c in ['邉', '邊'] {
            assert!(in_target(c, Charset::Jis0208));
        }
        // 𠮷 is in no Shift_JIS; NEC row 13 (①) only in CP932; 外字 never.
        assert!(!in_target('𠮷', Charset::Cp932));
        assert!(in_target('①', Charset::Cp932) && !in_target('①', Charset::Jis0208));
        assert!(!in_target('\u{E000}', Charset::Cp932));
        // Folded code points are not "in": they would read back as something else.
        assert!(!in_target('¥', Charset::Cp932));
    }
}
