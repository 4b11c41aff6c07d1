//! Names without a silent ●.
//!
//! Text stays UTF-8 everywhere inside the driver (see [`crate::model`]). Only the Shift_JIS
//! writer of the receipt-computer files has to squeeze a name into a smaller character set, and
//! it does so here, field by field, with a verdict the file carries next to the field:
//!
//! 1. a character in the target set is kept;
//! 2. a character outside it that has a standard form in the [異体字 table](ITAIJI) (髙→高,
//!    﨑→崎, 𠮷→吉, …) is replaced by that form, and the field is flagged
//!    [`FieldFlag::Substituted`];
//! 3. a variation selector (IVS/SVS, as 戸籍統一文字 glyphs arrive: 葛 + U+E0100) is dropped —
//!    the base character carries the name, only the glyph detail is lost — also flagged
//!    [`FieldFlag::Substituted`];
//! 4. only a character with no mapping at all becomes ● ([`UNMAPPABLE`]), and the field is
//!    flagged [`FieldFlag::Unmappable`].
//!
//! The original text is never thrown away: the UTF-8 output carries it unchanged, and the
//! Shift_JIS writer adds it as numeric character references next to a flagged field.
//!
//! # Target set: strict JIS X 0208 or CP932
//!
//! `encoding_rs`'s `Shift_JIS` is the WHATWG one, i.e. Windows-31J / CP932: besides JIS X 0208
//! it encodes the NEC row 13 symbols (①, ㈱, …) and the IBM extension kanji (0xFA40–0xFC4B),
//! which hold several name variants: 髙 (0xFBFC) and 﨑 (0xFAB1) *are* encodable in CP932 but
//! are *not* in JIS X 0208. Which is right depends on the program that reads the file:
//!
//! * [`Charset::Jis0208`] (the default): only JIS X 0201 (ASCII, half-width katakana) and JIS X
//!   0208 proper (SJIS lead bytes 0x81–0x84, 0x88–0x9F, 0xE0–0xEA). The files declare
//!   `encoding="Shift_JIS"`, and a reader that takes that label literally (Java's `Shift_JIS`,
//!   iconv/libxml2, ICU) fails or prints ● on an IBM-extension byte pair. Replacing 髙 by 高 with a
//!   flag is what the clinic sees on the insurance card anyway, and works with every reader.
//! * [`Charset::Cp932`]: everything `encoding_rs` encodes except the user-defined area (外字,
//!   U+E000–U+E757, meaningless to another PC). Choose it when the receipt computer is known to
//!   decode the files as CP932 (Windows / .NET `shift_jis`): 髙 and 﨑 then pass unchanged.
//!
//! The choice is [`Charset`] in the receipt writer's configuration.

mod itaiji;

pub use itaiji::{ITAIJI, MAPPING_DIFFERENCES};

use std::fmt::Write as _;

/// What replaces a character that has no mapping: ● (U+25CF, JIS X 0208 row 1, 0x819C).
pub const UNMAPPABLE: char = '●';

/// The character set a Shift_JIS field is reduced to. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Charset {
    /// JIS X 0201 + JIS X 0208: safe for every Shift_JIS reader.
    #[default]
    Jis0208,
    /// Windows-31J: JIS X 0208 plus NEC row 13 and the IBM extensions.
    Cp932,
}

/// The verdict for one field, written next to it in the receipt-computer file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldFlag {
    /// Every character was in the target set.
    Unchanged = 0,
    /// At least one character was replaced by its standard form (異体字 table, mapping
    /// difference, dropped variation selector); nothing was lost to ●.
    Substituted = 1,
    /// At least one character had no mapping and is ● in the converted text.
    Unmappable = 2,
}

impl FieldFlag {
    /// The value written in the file (`0`, `1`, `2`).
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// One replaced character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    pub original: char,
    /// The standard form written instead; `None` for ●, empty for a dropped variation selector.
    pub standard: Option<&'static str>,
}

/// A field converted for a Shift_JIS file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    /// Text that contains only characters of the target set (still a Rust `String`; the writer
    /// encodes the whole document afterwards, which then cannot fail).
    pub text: String,
    pub flag: FieldFlag,
    pub replaced: Vec<Replacement>,
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

/// Whether `c` may be written as is in a file whose names are reduced to `charset`.
pub fn in_target(c: char, charset: Charset) -> bool {
    // Control characters other than tab/newline have no business in a name or an XML file.
    if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
        return false;
    }
    let Some(bytes) = sjis_bytes(c) else {
        return false;
    };
    // The encoder folds a few code points onto others (¥ → 0x5C, ‾ → 0x7E, − → 0x817C) that
    // decode as something else (\, ~, －): those are not written as is.
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

/// Variation selectors: SVS U+FE00–U+FE0F and IVS U+E0100–U+E01EF.
pub fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// The standard form for a character outside the target sets, from the 異体字 table or the
/// mapping differences.
pub fn standard_form(c: char) -> Option<&'static str> {
    ITAIJI
        .iter()
        .chain(MAPPING_DIFFERENCES.iter())
        .find(|(variant, _)| *variant == c)
        .map(|(_, standard)| *standard)
}

/// Reduces `text` to `charset`, replacing what must be replaced and saying so.
pub fn convert(text: &str, charset: Charset) -> Converted {
    let mut out = String::with_capacity(text.len());
    let mut flag = FieldFlag::Unchanged;
    let mut replaced = Vec::new();
    for c in text.chars() {
        if in_target(c, charset) {
            out.push(c);
        } else if is_variation_selector(c) {
            flag = flag.max(FieldFlag::Substituted);
            replaced.push(Replacement { original: c, standard: Some("") });
        } else if let Some(standard) = standard_form(c).filter(|s| s.chars().all(|s| in_target(s, charset))) {
            out.push_str(standard);
            flag = flag.max(FieldFlag::Substituted);
            replaced.push(Replacement { original: c, standard: Some(standard) });
        } else {
            out.push(UNMAPPABLE);
            flag = FieldFlag::Unmappable;
            replaced.push(Replacement { original: c, standard: None });
        }
    }
    Converted { text: out, flag, replaced }
}

/// `text` with every character outside `charset` written as an XML numeric character reference
/// (`&#x9AD9;`), the rest XML-escaped: the lossless original of a flagged field inside a
/// Shift_JIS file.
pub fn xml_escape_with_ncr(text: &str, charset: Charset) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match xml_entity(c) {
            Some(entity) => out.push_str(entity),
            None if in_target(c, charset) => out.push(c),
            None => {
                let _ = write!(out, "&#x{:X};", c as u32);
            }
        }
    }
    out
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
    fn the_classic_cases() {
        let c = convert("髙橋", Charset::Jis0208);
        assert_eq!(c.text, "高橋");
        assert_eq!(c.flag, FieldFlag::Substituted);
        let c = convert("髙橋", Charset::Cp932);
        assert_eq!(c.text, "髙橋");
        assert_eq!(c.flag, FieldFlag::Unchanged);
        let c = convert("𠮷田", Charset::Cp932);
        assert_eq!(c.text, "吉田");
        assert_eq!(c.flag, FieldFlag::Substituted);
        let c = convert("山田 ﾀﾛｳ", Charset::Jis0208);
        assert_eq!(c.flag, FieldFlag::Unchanged);
    }

    #[test]
    fn no_mapping_is_a_flagged_bullet() {
        let c = convert("a\u{1F600}b", Charset::Cp932);
        assert_eq!(c.text, "a●b");
        assert_eq!(c.flag, FieldFlag::Unmappable);
        assert_eq!(c.replaced, vec![Replacement { original: '\u{1F600}', standard: None }]);
    }

    #[test]
    fn variation_selectors_are_dropped_and_flagged() {
        let c = convert("葛\u{E0100}西", Charset::Jis0208);
        assert_eq!(c.text, "葛西");
        assert_eq!(c.flag, FieldFlag::Substituted);
    }

    #[test]
    fn ncr_keeps_the_original() {
        assert_eq!(xml_escape_with_ncr("髙<", Charset::Jis0208), "&#x9AD9;&lt;");
        assert_eq!(xml_escape_with_ncr("髙<", Charset::Cp932), "髙&lt;");
    }
}
