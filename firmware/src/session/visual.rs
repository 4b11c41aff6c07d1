//! 目視 passcodes: salted hashes per staff account, provisioned by the host over the paired
//! link; checked in constant time against every account; exponential back-off and a lock
//! after repeated failures.

use heapless::{String, Vec};
use shikaku_protocol::{passcode, Duration, Instant};

/// Staff accounts a reader holds.
pub const MAX_ACCOUNTS: usize = 8;
/// Longest staff account id.
pub const MAX_ACCOUNT_LEN: usize = 32;
/// Failures before back-off starts.
pub const FREE_FAILURES: u8 = 3;
/// Failures that lock 目視 mode until the host re-provisions a passcode.
pub const LOCK_AFTER: u8 = 10;
/// First back-off; it doubles with each further failure, capped.
pub const BACKOFF_BASE: Duration = Duration::from_secs(5);
pub const BACKOFF_MAX: Duration = Duration::from_secs(15 * 60);

pub type AccountId = String<MAX_ACCOUNT_LEN>;

struct Entry {
    account: AccountId,
    salt: [u8; 16],
    iterations: u32,
    hash: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Unlock {
    Granted(AccountId),
    /// Wrong; `locked_for` until the next try is accepted (zero: at once).
    Denied {
        failures: u8,
        locked_for: Duration,
    },
    /// Too early after a failure: not even checked; `wait` until the next try is accepted.
    BackingOff {
        wait: Duration,
    },
    Locked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ProvisionError {
    #[error("passcode provisioning must come over the paired link")]
    Unauthenticated,
    #[error("account id too long or empty")]
    BadAccount,
    #[error("no room for another staff account")]
    Full,
}

#[derive(Default)]
pub struct PasscodeStore {
    entries: Vec<Entry, MAX_ACCOUNTS>,
    failures: u8,
    /// No try is checked before this.
    not_before: Instant,
}

impl PasscodeStore {
    pub const fn new() -> Self {
        Self { entries: Vec::new(), failures: 0, not_before: Instant::ZERO }
    }

    pub fn accounts(&self) -> usize {
        self.entries.len()
    }

    /// Adds or replaces an account's hash. Re-provisioning clears a lock.
    pub fn provision(
        &mut self,
        account: &str,
        salt: [u8; 16],
        iterations: u32,
        hash: [u8; 32],
        authenticated: bool,
    ) -> Result<(), ProvisionError> {
        if !authenticated {
            return Err(ProvisionError::Unauthenticated);
        }
        if account.is_empty() {
            return Err(ProvisionError::BadAccount);
        }
        let id = AccountId::try_from(account).map_err(|_| ProvisionError::BadAccount)?;
        let entry = Entry { account: id, salt, iterations, hash };
        match self.entries.iter().position(|e| e.account.as_str() == account) {
            Some(i) => self.entries[i] = entry,
            None => self.entries.push(entry).map_err(|_| ProvisionError::Full)?,
        }
        self.failures = 0;
        self.not_before = Instant::ZERO;
        Ok(())
    }

    pub fn revoke(&mut self, account: &str, authenticated: bool) -> Result<(), ProvisionError> {
        if !authenticated {
            return Err(ProvisionError::Unauthenticated);
        }
        self.entries.retain(|e| e.account.as_str() != account);
        Ok(())
    }

    pub fn is_locked(&self) -> bool {
        self.failures >= LOCK_AFTER
    }

    /// Checks typed digits (ASCII) against every account, without an early exit.
    /// `now` is on the session's monotonic clock.
    pub fn check(&mut self, digits: &[u8; 4], now: Instant) -> Unlock {
        if self.is_locked() {
            return Unlock::Locked;
        }
        if now < self.not_before {
            return Unlock::BackingOff { wait: self.not_before - now };
        }
        let mut found: Option<usize> = None;
        for (i, e) in self.entries.iter().enumerate() {
            if passcode::matches(digits, &e.salt, e.iterations, &e.hash) && found.is_none() {
                found = Some(i);
            }
        }
        match found {
            Some(i) => {
                self.failures = 0;
                Unlock::Granted(self.entries[i].account.clone())
            }
            None => {
                self.failures = self.failures.saturating_add(1);
                if self.is_locked() {
                    return Unlock::Locked;
                }
                let locked_for = if self.failures < FREE_FAILURES {
                    Duration::ZERO
                } else {
                    let shift = u32::from(self.failures - FREE_FAILURES);
                    BACKOFF_BASE.saturating_mul(1u64 << shift.min(20)).min(BACKOFF_MAX)
                };
                self.not_before = now + locked_for;
                Unlock::Denied { failures: self.failures, locked_for }
            }
        }
    }
}
