//! The layout of "our card" front: where the digits of 照合番号B are printed, and how big.
//!
//! This is the one place these numbers live: the reader looks there, the test renderer
//! (`shikaku_hil::card_front_render`) prints there, and the template generator
//! (`shikaku-glyphs --card-digits`) rasterises its digit templates at exactly this cell size.
//!
//! Coordinates are *canonical pixels*: the card front (ID-1, 85.6 × 54 mm) rectified at
//! [`PX_PER_MM`] pixels per millimetre, origin top-left, x right, y down.

/// Card width (ISO/IEC 7810 ID-1), mm.
pub const CARD_WIDTH_MM: f32 = 85.6;
/// Card height, mm.
pub const CARD_HEIGHT_MM: f32 = 54.0;
/// Corner radius, mm.
pub const CORNER_RADIUS_MM: f32 = 3.18;
/// Canonical pixels per millimetre.
pub const PX_PER_MM: f32 = 8.0;
/// Card width in canonical pixels.
pub const CARD_WIDTH: f32 = CARD_WIDTH_MM * PX_PER_MM;
/// Card height in canonical pixels.
pub const CARD_HEIGHT: f32 = CARD_HEIGHT_MM * PX_PER_MM;

/// How a digit is printed: each digit sits in its own cell (fixed pitch), horizontally centred
/// on its advance, its baseline [`BASELINE`] of the em below the cell top; the cell is one em
/// high.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigitStyle {
    /// Cell width = pitch, canonical px.
    pub cell_w: usize,
    /// Cell height = em size of the font, canonical px.
    pub cell_h: usize,
}

/// Baseline position in the cell, as a fraction of the em (CJK fonts fill the em box).
pub const BASELINE: f32 = 0.88;

/// The dates (生年月日, 有効期限): 3.5 mm em, 2 mm pitch.
pub const TEXT_DIGITS: DigitStyle = DigitStyle { cell_w: 16, cell_h: 28 };
/// The セキュリティコード: 4.5 mm em, 2.625 mm pitch.
pub const CODE_DIGITS: DigitStyle = DigitStyle { cell_w: 21, cell_h: 36 };

/// A run of digit cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigitRow {
    /// Left edge of the first cell, canonical px.
    pub left: usize,
    /// Top of the cells, canonical px.
    pub top: usize,
    /// Number of cells.
    pub cells: usize,
    pub style: DigitStyle,
    /// A two-digit number below 10 is printed with a blank first cell (` 3月`), which reads
    /// as `0`.
    pub blank_first: bool,
}

impl DigitRow {
    /// Left edge of cell `i`.
    pub const fn cell_left(&self, i: usize) -> usize {
        self.left + i * self.style.cell_w
    }
    /// Right edge (exclusive) of the last cell.
    pub const fn right(&self) -> usize {
        self.left + self.cells * self.style.cell_w
    }
}

/// 生年月日 row top, canonical px (27 mm).
pub const BIRTH_TOP: usize = 216;
/// 有効期限 row top (35 mm).
pub const EXPIRY_TOP: usize = 280;
/// セキュリティコード row top (44.5 mm).
pub const CODE_TOP: usize = 356;
/// Left column of the labels (3 mm).
pub const LABEL_LEFT: usize = 24;
/// Left column of the values (14 mm).
pub const VALUE_LEFT: usize = 112;

/// Era year of birth (`60` of 昭和60年): after the two-character era name.
pub const BIRTH_YEAR: DigitRow =
    DigitRow { left: VALUE_LEFT + 60, top: BIRTH_TOP, cells: 2, style: TEXT_DIGITS, blank_first: true };
/// Month of birth: after 年 (one em plus gaps).
pub const BIRTH_MONTH: DigitRow = DigitRow {
    left: BIRTH_YEAR.right() + 36,
    top: BIRTH_TOP,
    cells: 2,
    style: TEXT_DIGITS,
    blank_first: true,
};
/// Day of birth: after 月.
pub const BIRTH_DAY: DigitRow = DigitRow {
    left: BIRTH_MONTH.right() + 36,
    top: BIRTH_TOP,
    cells: 2,
    style: TEXT_DIGITS,
    blank_first: true,
};
/// Expiry year (`2034` of 2034年 3月 5日まで).
pub const EXPIRY_YEAR: DigitRow =
    DigitRow { left: VALUE_LEFT, top: EXPIRY_TOP, cells: 4, style: TEXT_DIGITS, blank_first: false };
/// Expiry month and day: printed, not part of 照合番号B (the renderer prints them here).
pub const EXPIRY_MONTH: DigitRow = DigitRow {
    left: EXPIRY_YEAR.right() + 36,
    top: EXPIRY_TOP,
    cells: 2,
    style: TEXT_DIGITS,
    blank_first: true,
};
pub const EXPIRY_DAY: DigitRow = DigitRow {
    left: EXPIRY_MONTH.right() + 36,
    top: EXPIRY_TOP,
    cells: 2,
    style: TEXT_DIGITS,
    blank_first: true,
};
/// The 4-digit セキュリティコード, after its label.
pub const SECURITY_CODE: DigitRow =
    DigitRow { left: 232, top: CODE_TOP, cells: 4, style: CODE_DIGITS, blank_first: false };

/// The photo box (right side): left, top, right, bottom, canonical px (61–81 × 9–34 mm). It
/// prints darker than the card around it, which tells the reader which way up the card lies.
pub const PHOTO_BOX: [usize; 4] = [488, 72, 648, 272];

/// The fields of 照合番号B, in order.
pub const FIELDS: [(super::Field, DigitRow); 5] = [
    (super::Field::BirthYear, BIRTH_YEAR),
    (super::Field::BirthMonth, BIRTH_MONTH),
    (super::Field::BirthDay, BIRTH_DAY),
    (super::Field::ExpiryYear, EXPIRY_YEAR),
    (super::Field::SecurityCode, SECURITY_CODE),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_fit_on_the_card_left_of_the_photo_and_do_not_overlap() {
        let rows = [BIRTH_YEAR, BIRTH_MONTH, BIRTH_DAY, EXPIRY_YEAR, EXPIRY_MONTH, EXPIRY_DAY, SECURITY_CODE];
        for r in rows {
            assert!(r.right() < PHOTO_BOX[0] || r.top > PHOTO_BOX[3], "{r:?}");
            assert!((r.top + r.style.cell_h) as f32 <= CARD_HEIGHT - 3.0 * PX_PER_MM, "{r:?}");
        }
        for w in [[BIRTH_YEAR, BIRTH_MONTH], [BIRTH_MONTH, BIRTH_DAY], [EXPIRY_YEAR, EXPIRY_MONTH]] {
            assert!(w[0].right() + TEXT_DIGITS.cell_h <= w[1].left, "room for 年/月 between {w:?}");
        }
    }
}
