//! 目視 passcodes: salted hashes per staff account, provisioned by the host over the paired,
//! encrypted link; checked in constant time against every account; exponential back-off and a
//! lock after repeated failures.
//!
//! - The hash is PBKDF2-HMAC-SHA256 with the account's own salt and at least
//!   [`MIN_ITERATIONS`] (deliberately slow: 72.5 M instructions per account counted under QEMU,
//!   about 0.15 s on a 480 MHz Cortex-M7, so one try against 8 accounts takes about 1.2 s), so
//!   a copy of the reader's flash costs an attacker that much per guess and account. A
//!   provision with fewer iterations is refused. With 4 digits this slows a guess; it does not
//!   make the hash safe to show (10⁴ guesses), which is why it only travels sealed.
//! - The failure count is the driver's to keep across restarts ([`PasscodeStore::failures`],
//!   [`PasscodeStore::restore`]): a reboot resumes the back-off and keeps the lock.

use heapless::{String, Vec};
use shikaku_protocol::{passcode, Duration, Instant};

/// Staff accounts a reader holds.
pub const MAX_ACCOUNTS: usize = 8;
/// Longest staff account id.
pub const MAX_ACCOUNT_LEN: usize = 32;
/// The fewest PBKDF2 iterations a provisioned hash may use.
pub const MIN_ITERATIONS: u32 = passcode::DEFAULT_ITERATIONS;
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
    #[error("the hash uses fewer than the minimum PBKDF2 iterations")]
    TooFewIterations,
}

/// One provisioned account as stored (salted hash only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountRecord<'a> {
    pub account: &'a str,
    pub salt: [u8; 16],
    pub iterations: u32,
    pub hash: [u8; 32],
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
        if iterations < MIN_ITERATIONS {
            return Err(ProvisionError::TooFewIterations);
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

    /// Removes an account; returns whether it was there.
    pub fn revoke(&mut self, account: &str, authenticated: bool) -> Result<bool, ProvisionError> {
        if !authenticated {
            return Err(ProvisionError::Unauthenticated);
        }
        let before = self.entries.len();
        self.entries.retain(|e| e.account.as_str() != account);
        Ok(self.entries.len() != before)
    }

    /// The accounts, to keep across restarts.
    pub fn records(&self) -> impl Iterator<Item = AccountRecord<'_>> {
        self.entries.iter().map(|e| AccountRecord {
            account: e.account.as_str(),
            salt: e.salt,
            iterations: e.iterations,
            hash: e.hash,
        })
    }

    /// Failed tries since the last success or provisioning.
    pub fn failures(&self) -> u8 {
        self.failures
    }

    /// Restores what was kept before a restart: the accounts (re-checked as if provisioned)
    /// and the failure count, with the back-off that count calls for starting at `now`.
    pub fn restore<'a>(
        &mut self,
        records: impl IntoIterator<Item = AccountRecord<'a>>,
        failures: u8,
        now: Instant,
    ) {
        for r in records {
            let _ = self.provision(r.account, r.salt, r.iterations, r.hash, true);
        }
        self.failures = failures.min(LOCK_AFTER);
        self.not_before = now + backoff(self.failures);
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
                let locked_for = backoff(self.failures);
                self.not_before = now + locked_for;
                Unlock::Denied { failures: self.failures, locked_for }
            }
        }
    }
}

/// The wait after `failures` failed tries.
fn backoff(failures: u8) -> Duration {
    if failures < FREE_FAILURES {
        Duration::ZERO
    } else {
        let shift = u32::from(failures - FREE_FAILURES);
        BACKOFF_BASE.saturating_mul(1u64 << shift.min(20)).min(BACKOFF_MAX)
    }
}
