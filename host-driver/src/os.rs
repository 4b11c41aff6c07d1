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
    #[cfg(test)]
    if FAILING.with(std::cell::Cell::get) {
        return Err(RandomUnavailable("simulated failure".into()));
    }
    getrandom::getrandom(buf).map_err(|e| RandomUnavailable(e.to_string()))
}

#[cfg(test)]
thread_local! {
    /// Test seam: the generator fails on this thread (per thread, so that tests running in
    /// parallel do not see each other's failures).
    static FAILING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with the OS generator failing on this thread (tests only).
#[cfg(test)]
pub(crate) fn with_failing_generator<T>(f: impl FnOnce() -> T) -> T {
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            FAILING.with(|c| c.set(false));
        }
    }
    FAILING.with(|c| c.set(true));
    let _restore = Restore;
    f()
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

    #[test]
    fn a_failing_generator_is_an_error_not_a_substitute() {
        let e = with_failing_generator(random::<32>).unwrap_err();
        assert!(e.to_string().contains("refusing to pair"), "{e}");
        assert!(with_failing_generator(|| fill(&mut [0u8; 16])).is_err());
        // The seam is undone afterwards.
        assert!(random::<16>().is_ok());
    }
}
