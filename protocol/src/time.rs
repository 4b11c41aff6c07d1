//! Time as the sans-IO cores see it, typed so that a monotonic instant, a span and a wall-clock
//! reading cannot be mixed up: [`Instant`] and [`Duration`] on a monotonic millisecond clock
//! (the reader's since boot, the rigs' virtual time from 0), [`UnixMillis`] for the wall
//! clock the host sets with `TimeSync`.
//!
//! Milliseconds in a `u64` are enough for both (584 million years); arithmetic saturates
//! instead of wrapping, so a hostile or buggy clock reading cannot panic a core.

use core::ops::{Add, AddAssign, Sub};

/// A point on a monotonic millisecond clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Instant(u64);

/// A span of time in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Duration(u64);

/// A wall-clock reading: milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UnixMillis(pub u64);

impl Instant {
    /// The clock's start (boot, or the start of a virtual-time test).
    pub const ZERO: Self = Self(0);

    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }
    pub const fn as_millis(self) -> u64 {
        self.0
    }
    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub const fn saturating_since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
}

impl Duration {
    pub const ZERO: Self = Self(0);

    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }
    pub const fn from_secs(s: u64) -> Self {
        Self(s.saturating_mul(1000))
    }
    pub const fn as_millis(self) -> u64 {
        self.0
    }
    pub const fn saturating_mul(self, k: u64) -> Self {
        Self(self.0.saturating_mul(k))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturating: an instant before `rhs` gives zero.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_since(rhs)
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, d: Duration) -> Duration {
        Duration(self.0.saturating_add(d.0))
    }
}

impl UnixMillis {
    pub const fn as_millis(self) -> u64 {
        self.0
    }
    /// Whole seconds (floor; before 1970 is not a reading any clock here gives).
    pub const fn as_secs(self) -> i64 {
        (self.0 / 1000) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        let t = Instant::from_millis(u64::MAX - 5);
        assert_eq!((t + Duration::from_millis(10)).as_millis(), u64::MAX);
        assert_eq!(Instant::from_millis(3) - Instant::from_millis(10), Duration::ZERO);
        assert_eq!(Instant::from_millis(10) - Instant::from_millis(3), Duration::from_millis(7));
        assert_eq!(Duration::from_secs(u64::MAX), Duration::from_millis(u64::MAX));
        assert_eq!(Duration::from_millis(300).saturating_mul(2), Duration::from_millis(600));
    }
}
