//! Four digits typed on the keypad: the card's PIN and the 目視 passcode go through the same
//! entry. The digits are never echoed (screens show only how many are in), never logged
//! (`Debug` prints the count only), and wiped as soon as they are used or cleared, and when
//! the session leaves the phase that holds them (`Session::enter`).

use core::fmt;

use shikaku_card::secret::{wipe, Pin4};

/// Digits in a PIN or a passcode.
pub(super) const DIGITS: usize = 4;

/// The digits typed so far, as keypad values 0–9. No `Clone`, no `Copy`.
pub(super) struct DigitEntry {
    digits: [u8; DIGITS],
    entered: u8,
}

impl DigitEntry {
    pub(super) const fn new() -> Self {
        Self { digits: [0; DIGITS], entered: 0 }
    }

    /// Adds one keypad digit (0–9); a digit past the fourth is dropped. Returns whether all
    /// four are in.
    pub(super) fn push(&mut self, digit: u8) -> bool {
        if (self.entered as usize) < DIGITS {
            self.digits[self.entered as usize] = digit;
            self.entered += 1;
        }
        self.entered as usize == DIGITS
    }

    /// How many digits are in (what the screen may show).
    pub(super) fn entered(&self) -> u8 {
        self.entered
    }

    /// Wipes the digits and starts over.
    pub(super) fn clear(&mut self) {
        wipe(&mut self.digits);
        self.entered = 0;
    }

    /// The digits as the card's PIN; `None` if one is not 0–9.
    pub(super) fn pin(&self) -> Option<Pin4> {
        Pin4::from_keypad(self.digits)
    }

    /// The digits as ASCII, for the passcode check. The caller wipes the copy.
    pub(super) fn ascii(&self) -> [u8; DIGITS] {
        self.digits.map(|d| b'0' + d)
    }
}

impl fmt::Debug for DigitEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DigitEntry({} of {})", self.entered, DIGITS)
    }
}
