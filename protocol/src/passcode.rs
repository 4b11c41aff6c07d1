//! The 目視 passcode hash, shared so that host and reader compute it identically: the host
//! hashes the 4 digits a staff member chose and sends only salt, iterations and hash; the
//! reader hashes what is typed on its keypad and compares in constant time.

use subtle::ConstantTimeEq;

/// Iterations the host uses unless configured otherwise, and the reader's minimum: 72.5 M
/// instructions per check under QEMU's Cortex-M4 (`scripts/link-cost.sh`), about 0.15 s per
/// account on a 480 MHz Cortex-M7 at one instruction per cycle.
pub const DEFAULT_ITERATIONS: u32 = 10_000;

/// PBKDF2-HMAC-SHA256 of the passcode digits (ASCII) under `salt`.
pub fn hash(passcode: &[u8], salt: &[u8; 16], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(passcode, salt, iterations.max(1), &mut out);
    out
}

/// Constant-time comparison of a typed passcode with a provisioned hash.
pub fn matches(passcode: &[u8], salt: &[u8; 16], iterations: u32, expected: &[u8; 32]) -> bool {
    bool::from(hash(passcode, salt, iterations).ct_eq(expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_passcode_and_salt_match_and_anything_else_does_not() {
        let h = hash(b"4821", &[1; 16], 1000);
        assert!(matches(b"4821", &[1; 16], 1000, &h));
        assert!(!matches(b"4822", &[1; 16], 1000, &h));
        assert!(!matches(b"4821", &[2; 16], 1000, &h));
        assert!(!matches(b"4821", &[1; 16], 1001, &h));
    }
}
