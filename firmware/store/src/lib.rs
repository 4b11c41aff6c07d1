//! The reader's persistent state on NOR flash: the pairing key, the 目視 staff passcode
//! accounts, the passcode lock-out counter and the results not yet acknowledged by the host
//! (the outbox's pending entries), kept across reboots and power cuts.
//!
//! The records live in one [`sequential_storage`] map over a range of whole erase sectors of
//! the flash (the board: the last two 128 KiB sectors of the STM32H747's bank 2; QEMU: a file
//! on the host through semihosting). The map only ever appends items (each with a CRC over its
//! header and its data) and erases a sector once its live items have moved on, so:
//!
//! * writes are spread over every sector of the range in turn (wear levelling);
//! * a power cut in the middle of a write leaves the item half written, its CRC fails and it is
//!   ignored: the previous item under the same key is read instead, and the next operation
//!   repairs what the cut left (a half-erased sector is erased again);
//! * every record that must change together is one item, so it changes all at once or not at
//!   all (the whole passcode list is one item; a pending result is one item).
//!
//! The flash only needs plain [`NorFlash`] (write once per word between erases, as the
//! STM32H7's ECC-protected 256-bit flash words demand): nothing is ever rewritten in place.
//! A pending result is removed by writing an empty record under its slot's key, which is why
//! the outbox is 8 fixed slots rather than a queue (the queue's removal of an entry that is not
//! the oldest marks the item in place, which needs multi-write flash).
//!
//! # Record layout (format version 1)
//!
//! Map keys are one byte; every value starts with the format version byte, [`FORMAT_VERSION`].
//! Integers are little-endian. A key never written reads as its default.
//!
//! | key | record | value bytes |
//! | --- | --- | --- |
//! | `0x01` | pairing key | `ver, 0` (none) or `ver, 1, key[32]` |
//! | `0x02` | passcodes | `ver, n (≤ 8), n × (len u8 (≤ 32), account[len] UTF-8, salt[16], iterations u32, hash[32])` |
//! | `0x03` | lock-out | `ver, failures u8` |
//! | `0x10`–`0x17` | outbox slot 0–7 | `ver, 0` (empty) or `ver, 1, order u32, session u32, seq u32, msg_type u8, len u16 (≤ 3072), payload[len]` |
//!
//! `order` grows by one with each push, so the pending results come back in the order they
//! were pushed whatever slot each one landed in. A record with another version byte reads as
//! [`StoreError::UnsupportedVersion`]; one that does not decode (bad length, bad UTF-8,
//! trailing bytes) as [`StoreError::Malformed`]. Neither takes the other records with it.
//!
//! # Secrets
//!
//! The pairing key and the passcode hashes pass through the store's one working buffer, which
//! is zeroized after every operation. What the getters return belongs to the caller.
//!
//! # Blocking
//!
//! sequential-storage is async; the store drives each operation to completion with
//! [`embassy_futures::block_on`] over a blocking flash (the flash never returns `Pending`, so
//! this never spins).
#![cfg_attr(not(test), no_std)]

mod adapter;
mod codec;
#[cfg(any(test, feature = "ram"))]
pub mod ram;

use core::ops::Range;

use embedded_storage::nor_flash::{NorFlash, NorFlashError, NorFlashErrorKind};
use sequential_storage::cache::{Cache, Uncached};
use sequential_storage::map::{MapConfig, MapStorage};
use zeroize::Zeroize;

use adapter::Blocking;
use codec::Put;

/// The format version byte that starts every record.
pub const FORMAT_VERSION: u8 = 1;
/// At most this many staff passcode accounts.
pub const MAX_PASSCODES: usize = 8;
/// At most this many pending (unacknowledged) results at a time.
pub const MAX_PENDING: usize = 8;
/// The largest payload of a pending result, in bytes.
pub const MAX_PAYLOAD: usize = 3072;
/// The smallest erase sector the store accepts: the biggest record must fit in one sector.
pub const MIN_SECTOR: usize = 4096;

const KEY_PAIRING: u8 = 0x01;
const KEY_PASSCODES: u8 = 0x02;
const KEY_LOCKOUT: u8 = 0x03;
const KEY_SLOT0: u8 = 0x10;

/// The working buffer: one key byte plus the biggest value (a full outbox slot), rounded up to
/// the largest flash word sequential-storage supports (32 bytes).
const BUF_LEN: usize = (1 + codec::MAX_VALUE_LEN).next_multiple_of(32);

/// Aligned to a flash word, for flashes that program straight from the buffer.
#[repr(align(32))]
struct Buf([u8; BUF_LEN]);

/// A staff account for 目視 confirmation: PBKDF2 parameters and the passcode's hash.
#[derive(Clone, PartialEq, Eq)]
pub struct PasscodeRecord {
    /// The account name (at most 32 bytes of UTF-8).
    pub account: heapless::String<32>,
    /// The PBKDF2 salt.
    pub salt: [u8; 16],
    /// The PBKDF2 iteration count.
    pub iterations: u32,
    /// The passcode's hash (a secret: the caller zeroizes its copies).
    pub hash: [u8; 32],
}

impl core::fmt::Debug for PasscodeRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The hash stays out of logs.
        f.debug_struct("PasscodeRecord")
            .field("account", &self.account)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// The passcode lock-out counter: consecutive failed passcode attempts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Lockout {
    /// Failed attempts since the last success.
    pub failures: u8,
}

/// A result waiting for the host's acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PendingRef<'a> {
    /// The link session the result was sent in.
    pub session: u32,
    /// Its sequence number in that session.
    pub seq: u32,
    /// The protocol message type.
    pub msg_type: u8,
    /// The encoded message (at most [`MAX_PAYLOAD`] bytes).
    pub payload: &'a [u8],
}

/// What the store can fail with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StoreError {
    /// The range is not whole erase sectors inside the flash, is under two sectors, the
    /// sectors are under [`MIN_SECTOR`] or the flash word is over 32 bytes.
    #[error("the flash range cannot hold the store")]
    BadRange,
    /// The flash refused an operation.
    #[error("flash error: {0:?}")]
    Flash(FlashFault),
    /// The range has no room left for the write.
    #[error("the store is full")]
    Full,
    /// The flash contents are corrupted and could not be repaired (erase the range with
    /// [`Store::erase_all`]).
    #[error("the flash contents are corrupted")]
    Corrupted,
    /// A record was written by another format version.
    #[error("record format version {0} is not supported")]
    UnsupportedVersion(u8),
    /// A record does not decode.
    #[error("a stored record is malformed")]
    Malformed,
    /// More than [`MAX_PASSCODES`] passcode accounts.
    #[error("too many passcode accounts")]
    TooManyPasscodes,
    /// A pending result's payload is over [`MAX_PAYLOAD`] bytes.
    #[error("the pending result's payload is too large")]
    PayloadTooLarge,
    /// [`MAX_PENDING`] results are already pending.
    #[error("the outbox is full")]
    OutboxFull,
    /// The storage library reported an internal inconsistency.
    #[error("internal store error")]
    Internal,
}

/// The kind of a flash error (the flash driver's own error reduced to embedded-storage's kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FlashFault {
    /// An address or length not aligned to the flash's word or sector.
    NotAligned,
    /// Outside the flash.
    OutOfBounds,
    /// The driver's own failure (program or erase error, timeout, …).
    Other,
}

impl<E: NorFlashError> From<sequential_storage::Error<E>> for StoreError {
    fn from(e: sequential_storage::Error<E>) -> Self {
        use sequential_storage::Error as E2;
        match e {
            E2::Storage { value, .. } => StoreError::Flash(match value.kind() {
                NorFlashErrorKind::NotAligned => FlashFault::NotAligned,
                NorFlashErrorKind::OutOfBounds => FlashFault::OutOfBounds,
                _ => FlashFault::Other,
            }),
            E2::FullStorage => StoreError::Full,
            E2::Corrupted { .. } => StoreError::Corrupted,
            E2::SerializationError(_) => StoreError::Malformed,
            _ => StoreError::Internal,
        }
    }
}

type Map<'f, F> = MapStorage<u8, Blocking<'f, F>, Cache<Uncached, Uncached, Uncached, u8>>;

/// The reader's persistent state on a range of NOR flash. See the crate docs for the layout.
pub struct Store<F: NorFlash> {
    flash: F,
    range: Range<u32>,
    buf: Buf,
}

impl<F: NorFlash> Store<F> {
    /// Opens the store on `range` of `flash` (whole erase sectors, at least two, each at least
    /// [`MIN_SECTOR`] bytes). Nothing is read or written until the first operation; a fresh
    /// (erased) range reads as defaults.
    pub fn new(flash: F, range: Range<u32>) -> Result<Self, StoreError> {
        let inside = (range.end as usize) <= flash.capacity();
        if !inside || F::ERASE_SIZE < MIN_SECTOR {
            return Err(StoreError::BadRange);
        }
        MapConfig::<Blocking<'_, F>>::try_new(range.clone()).map_err(|_| StoreError::BadRange)?;
        Ok(Store { flash, range, buf: Buf([0; BUF_LEN]) })
    }

    /// Gives the flash back.
    pub fn into_flash(self) -> F {
        self.flash
    }

    /// The pairing key, if one is stored.
    pub fn pairing_key(&mut self) -> Result<Option<[u8; 32]>, StoreError> {
        self.get(KEY_PAIRING, |v| match v {
            None => Ok(None),
            Some(v) => codec::pairing(v),
        })
    }

    /// Stores the pairing key (`None` forgets it).
    pub fn set_pairing_key(&mut self, key: Option<&[u8; 32]>) -> Result<(), StoreError> {
        self.put(KEY_PAIRING, &Put::Pairing(key))
    }

    /// The staff passcode accounts (none when never set).
    pub fn passcodes(&mut self) -> Result<heapless::Vec<PasscodeRecord, MAX_PASSCODES>, StoreError> {
        self.get(KEY_PASSCODES, |v| match v {
            None => Ok(heapless::Vec::new()),
            Some(v) => codec::passcodes(v),
        })
    }

    /// Replaces all the staff passcode accounts at once (at most [`MAX_PASSCODES`]).
    pub fn set_passcodes(&mut self, all: &[PasscodeRecord]) -> Result<(), StoreError> {
        if all.len() > MAX_PASSCODES {
            return Err(StoreError::TooManyPasscodes);
        }
        self.put(KEY_PASSCODES, &Put::Passcodes(all))
    }

    /// The lock-out counter (zero failures when never set).
    pub fn lockout(&mut self) -> Result<Lockout, StoreError> {
        self.get(KEY_LOCKOUT, |v| match v {
            None => Ok(Lockout::default()),
            Some(v) => codec::lockout(v),
        })
    }

    /// Stores the lock-out counter.
    pub fn set_lockout(&mut self, l: Lockout) -> Result<(), StoreError> {
        self.put(KEY_LOCKOUT, &Put::Lockout(l))
    }

    /// Keeps a result until [`Self::remove_pending`]. Pushing the same `(session, seq)` again
    /// replaces the stored one (it keeps its place in the order).
    pub fn push_pending(&mut self, p: &PendingRef<'_>) -> Result<(), StoreError> {
        if p.payload.len() > MAX_PAYLOAD {
            return Err(StoreError::PayloadTooLarge);
        }
        let mut free = None;
        let mut same = None;
        let mut last_order = None::<u32>;
        for slot in 0..MAX_PENDING as u8 {
            let head = self.get(KEY_SLOT0 + slot, |v| v.map(codec::slot_head).transpose())?;
            match head.flatten() {
                None => {
                    if free.is_none() {
                        free = Some(slot);
                    }
                }
                Some(h) => {
                    if (h.session, h.seq) == (p.session, p.seq) {
                        same = Some((slot, h.order));
                    }
                    last_order = Some(last_order.map_or(h.order, |o| o.max(h.order)));
                }
            }
        }
        let (slot, order) = match (same, free) {
            (Some(s), _) => s,
            (None, Some(slot)) => (slot, last_order.map_or(0, |o| o.wrapping_add(1))),
            (None, None) => return Err(StoreError::OutboxFull),
        };
        self.put(KEY_SLOT0 + slot, &Put::Pending { order, p })
    }

    /// Forgets the pending result `(session, seq)`; `false` when there was none.
    pub fn remove_pending(&mut self, session: u32, seq: u32) -> Result<bool, StoreError> {
        for slot in 0..MAX_PENDING as u8 {
            let head = self.get(KEY_SLOT0 + slot, |v| v.map(codec::slot_head).transpose())?;
            if head.flatten().is_some_and(|h| (h.session, h.seq) == (session, seq)) {
                self.put(KEY_SLOT0 + slot, &Put::EmptySlot)?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Calls `f` with each pending result, oldest push first.
    pub fn for_each_pending(&mut self, mut f: impl FnMut(PendingRef<'_>)) -> Result<(), StoreError> {
        let mut used = heapless::Vec::<(u32, u8), MAX_PENDING>::new();
        for slot in 0..MAX_PENDING as u8 {
            let head = self.get(KEY_SLOT0 + slot, |v| v.map(codec::slot_head).transpose())?;
            if let Some(h) = head.flatten() {
                // Eight slots, eight entries at most: never full.
                used.push((h.order, slot)).map_err(|_| StoreError::Internal)?;
            }
        }
        used.sort_unstable();
        for &(_, slot) in &used {
            self.get(KEY_SLOT0 + slot, |v| {
                if let Some(p) = v.map(codec::slot).transpose()?.flatten() {
                    f(p);
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Erases the whole range: every record is gone (the way out of
    /// [`StoreError::Corrupted`]).
    pub fn erase_all(&mut self) -> Result<(), StoreError> {
        let mut map = Self::map(&mut self.flash, &self.range)?;
        embassy_futures::block_on(map.erase_all())?;
        Ok(())
    }

    fn map<'f>(flash: &'f mut F, range: &Range<u32>) -> Result<Map<'f, F>, StoreError> {
        let config = MapConfig::try_new(range.clone()).map_err(|_| StoreError::BadRange)?;
        Ok(MapStorage::new(Blocking(flash), config, Cache::new_uncached()))
    }

    /// Reads the newest value under `key` and hands it to `decode`; the buffer is zeroized
    /// afterwards whatever happened.
    fn get<R>(
        &mut self,
        key: u8,
        decode: impl FnOnce(Option<&[u8]>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let out = match Self::map(&mut self.flash, &self.range) {
            Err(e) => Err(e),
            Ok(mut map) => match embassy_futures::block_on(map.fetch_item::<&[u8]>(&mut self.buf.0, &key)) {
                Ok(v) => decode(v),
                Err(e) => Err(e.into()),
            },
        };
        self.buf.0.zeroize();
        out
    }

    /// Appends `value` under `key`; the buffer is zeroized afterwards whatever happened.
    fn put(&mut self, key: u8, value: &Put<'_>) -> Result<(), StoreError> {
        let out = match Self::map(&mut self.flash, &self.range) {
            Err(e) => Err(e),
            Ok(mut map) => embassy_futures::block_on(map.store_item(&mut self.buf.0, &key, value))
                .map_err(StoreError::from),
        };
        self.buf.0.zeroize();
        out
    }
}

#[cfg(test)]
mod tests;
