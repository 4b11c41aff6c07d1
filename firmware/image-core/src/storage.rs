//! The reader's [`Storage`] on the persistent store ([`shikaku_store`]): the same code on the
//! board's internal flash, QEMU's emulated flash and the rigs' RAM flash.
//!
//! At boot, [`FlashStorage::pairing_key`] gives the key for [`Reader::new`] and
//! [`FlashStorage::restore`] puts back the staff accounts, the passcode failure count and the
//! identities the host had not acknowledged. A store that cannot be read (a damaged region, a
//! record of another format) is reported by the image and the reader starts as if new: the
//! host's journal deduplicates anything sent twice, and an unpaired reader opens pairing only
//! to staff at its keypad.

use embedded_storage::nor_flash::NorFlash;
use heapless::Vec;
use shikaku_firmware::nfc::NfcFrontend;
use shikaku_firmware::session::visual::{AccountRecord, MAX_ACCOUNTS};
use shikaku_protocol::{Header, Instant};
use shikaku_store::{Lockout, PasscodeRecord, PendingRef, Store, StoreError};

use crate::{Reader, Storage, StorageFailed};

/// [`Storage`] on a [`Store`] over any NOR flash.
pub struct FlashStorage<F: NorFlash> {
    store: Store<F>,
}

impl<F: NorFlash> FlashStorage<F> {
    pub fn new(store: Store<F>) -> Self {
        Self { store }
    }

    pub fn into_store(self) -> Store<F> {
        self.store
    }

    /// The pairing key kept before the restart, if any.
    pub fn pairing_key(&mut self) -> Result<Option<[u8; 32]>, StoreError> {
        self.store.pairing_key()
    }

    /// Puts back into a freshly built reader what was kept: accounts, failure count, pending
    /// identities. Stops at the first record it cannot read and says which.
    pub fn restore<N: NfcFrontend>(
        &mut self,
        reader: &mut Reader<N>,
        now: Instant,
    ) -> Result<(), StoreError> {
        let failures = self.store.lockout()?.failures;
        let accounts = self.store.passcodes()?;
        reader.restore_passcodes(
            accounts.iter().map(|a| AccountRecord {
                account: a.account.as_str(),
                salt: a.salt,
                iterations: a.iterations,
                hash: a.hash,
            }),
            failures,
            now,
        );
        self.store.for_each_pending(|p| {
            let header = Header { msg_type: p.msg_type, session: p.session, seq: p.seq };
            reader.restore_pending(header, p.payload, now);
        })
    }
}

/// The store's reason is not carried: the reader can only count the failure (it shows in
/// [`Reader::storage_failures`]).
fn kept<T>(r: Result<T, StoreError>) -> Result<(), StorageFailed> {
    r.map(|_| ()).map_err(|_| StorageFailed)
}

impl<F: NorFlash> Storage for FlashStorage<F> {
    fn save_pairing_key(&mut self, key: &[u8; 32]) -> Result<(), StorageFailed> {
        kept(self.store.set_pairing_key(Some(key)))
    }

    fn save_passcodes(
        &mut self,
        accounts: &mut dyn Iterator<Item = AccountRecord<'_>>,
    ) -> Result<(), StorageFailed> {
        let mut all: Vec<PasscodeRecord, MAX_ACCOUNTS> = Vec::new();
        for a in accounts {
            let account = heapless::String::try_from(a.account).map_err(|_| StorageFailed)?;
            let record = PasscodeRecord { account, salt: a.salt, iterations: a.iterations, hash: a.hash };
            all.push(record).map_err(|_| StorageFailed)?;
        }
        let r = kept(self.store.set_passcodes(&all));
        for a in all.iter_mut() {
            zeroize::Zeroize::zeroize(&mut a.hash);
        }
        r
    }

    fn save_lockout(&mut self, failures: u8) -> Result<(), StorageFailed> {
        kept(self.store.set_lockout(Lockout { failures }))
    }

    fn save_pending(&mut self, header: &Header, payload: &[u8]) -> Result<(), StorageFailed> {
        let p = PendingRef { session: header.session, seq: header.seq, msg_type: header.msg_type, payload };
        kept(self.store.push_pending(&p))
    }

    fn remove_pending(&mut self, session: u32, seq: u32) -> Result<(), StorageFailed> {
        kept(self.store.remove_pending(session, seq))
    }
}
