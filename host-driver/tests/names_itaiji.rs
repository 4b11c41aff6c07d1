//! Every entry of the 異体字 table, checked against the real encoder, in both target sets.

use shikaku_host::names::{
    convert, in_target, standard_form, Charset, FieldFlag, ITAIJI, MAPPING_DIFFERENCES, UNMAPPABLE,
};
use std::collections::HashSet;

fn sjis_roundtrip(s: &str) -> String {
    let (bytes, _, had_errors) = encoding_rs::SHIFT_JIS.encode(s);
    assert!(!had_errors, "{s:?} does not encode");
    let (back, _, had_errors) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!had_errors);
    back.into_owned()
}

#[test]
fn every_table_entry_maps_into_jis_x_0208() {
    let mut seen = HashSet::new();
    for &(variant, standard) in ITAIJI.iter().chain(MAPPING_DIFFERENCES) {
        let at = format!("U+{:04X} {variant} → {standard}", variant as u32);
        assert!(seen.insert(variant), "{at}: duplicate entry");
        assert!(!standard.is_empty(), "{at}: empty standard form");
        // The variant really is outside the strict set (else the table would change a name
        // that could be written as is, the 邉 mistake).
        assert!(!in_target(variant, Charset::Jis0208), "{at}: variant is in JIS X 0208");
        for s in standard.chars() {
            assert!(in_target(s, Charset::Jis0208), "{at}: standard form not in JIS X 0208");
        }
        assert_eq!(standard_form(variant), Some(standard), "{at}");

        // Strict target: always replaced, flagged, never ●.
        let c = convert(&format!("山{variant}田"), Charset::Jis0208);
        assert_eq!(c.text, format!("山{standard}田"), "{at}");
        assert_eq!(c.flag, FieldFlag::Substituted, "{at}");
        assert!(!c.text.contains(UNMAPPABLE), "{at}");
        assert_eq!(sjis_roundtrip(&c.text), c.text, "{at}: converted text does not survive Shift_JIS");

        // CP932 target: kept when CP932 can write it, else replaced; never ●.
        let c = convert(&variant.to_string(), Charset::Cp932);
        if in_target(variant, Charset::Cp932) {
            assert_eq!(c.text, variant.to_string(), "{at}");
            assert_eq!(c.flag, FieldFlag::Unchanged, "{at}");
        } else {
            assert_eq!(c.text, standard, "{at}");
            assert_eq!(c.flag, FieldFlag::Substituted, "{at}");
        }
        assert_eq!(sjis_roundtrip(&c.text), c.text, "{at}");
    }
}

#[test]
fn the_cp932_question_is_a_real_difference() {
    // 髙 and 﨑 are IBM extensions: in CP932, not in JIS X 0208.
    for c in ['髙', '\u{FA11}'] {
        assert!(in_target(c, Charset::Cp932));
        assert!(!in_target(c, Charset::Jis0208));
    }
    // 邉 / 邊 are JIS X 0208 level 2 and must pass unchanged.
    for c in ['邉', '邊'] {
        assert!(in_target(c, Charset::Jis0208));
        assert_eq!(convert(&c.to_string(), Charset::Jis0208).flag, FieldFlag::Unchanged);
    }
    // NEC row 13 (①) is CP932 only and has no table entry: ● in strict mode, flagged.
    let c = convert("①", Charset::Jis0208);
    assert_eq!((c.text.as_str(), c.flag), ("●", FieldFlag::Unmappable));
    assert_eq!(convert("①", Charset::Cp932).flag, FieldFlag::Unchanged);
    // User-defined area (外字) is never written.
    assert_eq!(convert("\u{E000}", Charset::Cp932).flag, FieldFlag::Unmappable);
}

#[test]
fn a_bullet_only_where_nothing_maps_and_always_flagged() {
    for s in ["彅", "琇", "\u{1F600}", "𩸽"] {
        for cs in [Charset::Jis0208, Charset::Cp932] {
            let c = convert(s, cs);
            if in_target(s.chars().next().unwrap(), cs) {
                assert_eq!(c.flag, FieldFlag::Unchanged);
            } else {
                assert_eq!(c.text, "●", "{s} {cs:?}");
                assert_eq!(c.flag, FieldFlag::Unmappable);
            }
        }
    }
    // A genuine ● in the input is in the target set and unflagged: the flag is what tells
    // them apart.
    assert_eq!(convert("●", Charset::Jis0208).flag, FieldFlag::Unchanged);
}

#[test]
fn ordinary_names_are_untouched() {
    for s in ["山田 太郎", "ﾔﾏﾀﾞ ﾀﾛｳ", "渡邉 花子", "齋藤", "ヤマダ　タロウ", "ABC-123"]
    {
        let c = convert(s, Charset::Jis0208);
        assert_eq!(c.text, s);
        assert_eq!(c.flag, FieldFlag::Unchanged);
        assert!(c.replaced.is_empty());
    }
}

/// Every Unicode scalar value of the BMP and the CJK extension planes: the converted text
/// always encodes to Shift_JIS without error, decodes back to itself, stays in the target set
/// (for the strict set: lead bytes of JIS X 0208 only), and the flag says exactly whether it
/// changed.
#[test]
fn every_character_converts_to_something_writable_and_says_so() {
    let ranges = [0u32..0xD800, 0xE000..0x1_0000, 0x2_0000..0x2_A6E0, 0x2_F800..0x2_FA20, 0xE_0100..0xE_01F0];
    for cs in [Charset::Jis0208, Charset::Cp932] {
        let mut bullets = 0u32;
        for c in ranges.iter().cloned().flatten().filter_map(char::from_u32) {
            let s = c.to_string();
            let conv = convert(&s, cs);
            let (bytes, _, had_errors) = encoding_rs::SHIFT_JIS.encode(&conv.text);
            assert!(!had_errors, "U+{:04X} {cs:?}: {:?} does not encode", c as u32, conv.text);
            let (back, _, _) = encoding_rs::SHIFT_JIS.decode(&bytes);
            assert_eq!(back, conv.text, "U+{:04X} {cs:?}", c as u32);
            assert!(conv.text.chars().all(|t| in_target(t, cs)), "U+{:04X} {cs:?}", c as u32);
            if cs == Charset::Jis0208 {
                let mut i = 0;
                while i < bytes.len() {
                    if bytes[i] < 0x80 || (0xA1..=0xDF).contains(&bytes[i]) {
                        i += 1;
                    } else {
                        assert!(
                            matches!(bytes[i], 0x81..=0x84 | 0x88..=0x9F | 0xE0..=0xEA),
                            "U+{:04X}: lead byte {:02X} outside JIS X 0208",
                            c as u32,
                            bytes[i]
                        );
                        i += 2;
                    }
                }
            }
            let changed = conv.text != s;
            assert_eq!(changed, conv.flag != FieldFlag::Unchanged, "U+{:04X} {cs:?}", c as u32);
            assert_eq!(conv.text.contains(UNMAPPABLE) && c != UNMAPPABLE, conv.flag == FieldFlag::Unmappable);
            if conv.flag == FieldFlag::Unmappable {
                bullets += 1;
            }
        }
        assert!(bullets > 0);
    }
}
