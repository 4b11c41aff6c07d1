//! Secrets presented to the card: the 4-digit PINs and 照合番号B.
//!
//! The digits leave these types only through [`Secret::write_apdu`], which the clients call to
//! put them into the VERIFY buffer; the buffer is wiped after the exchange and the secret is
//! wiped on drop. No `Clone`, no `Copy`, and `Debug` prints no digits.

use core::fmt;
use core::sync::atomic::{compiler_fence, Ordering};

use super::date::Date;
use crate::apdu::CommandError;

/// Overwrites `buf` with zeros in a way the optimiser keeps.
pub fn wipe(buf: &mut [u8]) {
    for b in buf.iter_mut() {
        *b = 0;
    }
    core::hint::black_box(&mut *buf);
    compiler_fence(Ordering::SeqCst);
}

/// A value presented with VERIFY.
pub trait Secret {
    /// Writes `00 20 00 80 Lc <secret>` into `out`; returns its length.
    fn write_apdu(&self, out: &mut [u8]) -> Result<usize, CommandError>;
}

/// A 4-digit PIN (JPKI 利用者証明用 / text applet 券面事項入力補助用), as ASCII digits.
pub struct Pin4([u8; 4]);

impl Pin4 {
    /// From four ASCII digits; `None` for anything else (the card would count a try for it).
    pub fn from_ascii(digits: &[u8]) -> Option<Self> {
        let d: [u8; 4] = digits.try_into().ok()?;
        d.iter().all(u8::is_ascii_digit).then_some(Self(d))
    }

    /// From four keypad values 0..=9.
    pub fn from_keypad(keys: [u8; 4]) -> Option<Self> {
        if keys.iter().any(|&k| k > 9) {
            return None;
        }
        Some(Self(keys.map(|k| b'0' + k)))
    }
}

impl Secret for Pin4 {
    fn write_apdu(&self, out: &mut [u8]) -> Result<usize, CommandError> {
        super::commands::verify(&self.0, out)
    }
}

impl Drop for Pin4 {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

impl fmt::Debug for Pin4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin4(****)")
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Pin4 {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Pin4(****)")
    }
}

/// 照合番号B: DOB `YYMMDD` in the Japanese era + expiry year `YYYY` + 4-digit security code,
/// all printed on the card front (14 ASCII digits).
pub struct CollationB([u8; 14]);

impl CollationB {
    /// From the digits as read off the card front (OCR): era DOB, expiry year, security code.
    pub fn from_parts(dob_era_yymmdd: &[u8; 6], expiry_year: u16, security_code: &[u8; 4]) -> Option<Self> {
        if !(2000..=9999).contains(&expiry_year) {
            return None;
        }
        let mut v = [0u8; 14];
        v[..6].copy_from_slice(dob_era_yymmdd);
        let y = expiry_year;
        v[6..10].copy_from_slice(&[
            b'0' + (y / 1000) as u8,
            b'0' + (y / 100 % 10) as u8,
            b'0' + (y / 10 % 10) as u8,
            b'0' + (y % 10) as u8,
        ]);
        v[10..].copy_from_slice(security_code);
        if v.iter().all(u8::is_ascii_digit) {
            Some(Self(v))
        } else {
            wipe(&mut v);
            None
        }
    }

    /// From a Gregorian date of birth (converted to its Japanese era), the expiry year and
    /// the security code.
    pub fn from_dob(dob: Date, expiry_year: u16, security_code: &[u8; 4]) -> Option<Self> {
        Self::from_parts(&dob.japanese_era_yymmdd()?, expiry_year, security_code)
    }

    /// From all 14 ASCII digits at once.
    pub fn from_ascii(digits: &[u8]) -> Option<Self> {
        let d: [u8; 14] = digits.try_into().ok()?;
        d.iter().all(u8::is_ascii_digit).then_some(Self(d))
    }

    /// Whether this equals `digits` (for tests and for checking OCR against a second read).
    pub fn matches(&self, digits: &[u8]) -> bool {
        self.0.as_slice() == digits
    }
}

impl Secret for CollationB {
    fn write_apdu(&self, out: &mut [u8]) -> Result<usize, CommandError> {
        super::commands::verify(&self.0, out)
    }
}

impl Drop for CollationB {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

impl fmt::Debug for CollationB {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CollationB(**************)")
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for CollationB {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "CollationB(****)")
    }
}

/// What VERIFY with no data says about a key reference. Costs no try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PinStatus {
    /// `9000`: already verified in this selection (the try counter is then at its maximum).
    Verified,
    /// `63Cx` with x ≥ 1.
    TriesLeft(u8),
    /// `63C0` or `6984`: blocked; only the municipal office can reset it.
    Locked,
}

impl PinStatus {
    /// Tries left, if known (`Verified` means the counter was reset by a correct PIN).
    pub fn tries_left(&self) -> Option<u8> {
        match self {
            Self::TriesLeft(n) => Some(*n),
            Self::Locked => Some(0),
            Self::Verified => None,
        }
    }

    /// The token that allows spending the last try. `Some` only when exactly one try is left:
    /// the UI asks the holder (「残り1回です」) and only then calls this.
    pub fn confirm_last_try(&self) -> Option<LastTryConfirmation> {
        matches!(self, Self::TriesLeft(1)).then_some(LastTryConfirmation { _private: () })
    }
}

/// Explicit permission to send VERIFY when only one try is left. Obtained from
/// [`PinStatus::confirm_last_try`], consumed by the verify call, not `Clone`.
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LastTryConfirmation {
    _private: (),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_and_collation_numbers() {
        assert!(Pin4::from_ascii(b"12a4").is_none());
        assert!(Pin4::from_ascii(b"12345").is_none());
        assert!(Pin4::from_keypad([1, 2, 3, 10]).is_none());
        let p = Pin4::from_keypad([1, 2, 3, 4]).unwrap();
        assert_eq!(format!("{p:?}"), "Pin4(****)");
        let mut b = [0u8; 16];
        assert_eq!(p.write_apdu(&mut b), Ok(9));
        assert_eq!(&b[..9], &[0x00, 0x20, 0x00, 0x80, 0x04, b'1', b'2', b'3', b'4']);

        let dob = Date::new(1980, 2, 17).unwrap();
        let b1 = CollationB::from_dob(dob, 2035, b"2285").unwrap();
        assert!(b1.matches(b"55021720352285"));
        let b2 = CollationB::from_parts(b"550217", 2035, b"2285").unwrap();
        assert!(b2.matches(b"55021720352285"));
        assert!(CollationB::from_parts(b"55O217", 2035, b"2285").is_none());
        assert!(CollationB::from_ascii(b"5502172035228").is_none());
        assert!(!format!("{b1:?}").contains('5'));
    }

    #[test]
    fn only_one_try_left_yields_a_confirmation() {
        assert!(PinStatus::TriesLeft(1).confirm_last_try().is_some());
        assert!(PinStatus::TriesLeft(2).confirm_last_try().is_none());
        assert!(PinStatus::Locked.confirm_last_try().is_none());
        assert!(PinStatus::Verified.confirm_last_try().is_none());
    }
}
