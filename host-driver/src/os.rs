//! What the host takes from the operating system: random bytes and the wall clock. One place
//! for each, so that nothing else reads them its own way.
//!
//! Random bytes become pairing secrets, connection nonces, passcode salts and challenges. If
//! the OS generator fails there is no safe substitute (bytes derived from the time are
//! guessable), so [`random`] answers an error and the caller refuses to pair, salt or connect.

/// The OS random generator did not answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the operating system's random generator failed ({0}); refusing to pair, salt or connect without it")]
pub struct RandomUnavailable(String);

/// Fresh bytes from the OS random generator.
pub fn random<const N: usize>() -> Result<[u8; N], RandomUnavailable> {
    let mut b = [0u8; N];
    fill(&mut b)?;
    Ok(b)
}

/// Fills `buf` from the OS random generator.
pub fn fill(buf: &mut [u8]) -> Result<(), RandomUnavailable> {
    getrandom::getrandom(buf).map_err(|e| RandomUnavailable(e.to_string()))
}

/// The wall clock in Unix milliseconds (0 for a clock set before 1970).
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_draws_differ_and_the_clock_is_after_2025() {
        let (a, b) = (random::<32>().unwrap(), random::<32>().unwrap());
        assert_ne!(a, b);
        assert!(unix_ms() > 1_735_689_600_000);
    }
}
