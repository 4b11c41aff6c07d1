//! A blocking `embedded_storage` flash seen through `embedded_storage_async`'s traits, which is
//! what sequential-storage takes. Hand-written rather than embassy-embedded-hal's
//! `BlockingAsync`: it is these few lines, it borrows the flash (the store builds a map view per
//! operation and keeps the flash), and it spares the firmware that crate's dependencies.

use embedded_storage::nor_flash::{ErrorType, NorFlash, ReadNorFlash};
use embedded_storage_async::nor_flash as asynch;

/// The borrowed blocking flash; each async call completes on its first poll.
pub(crate) struct Blocking<'f, F>(pub(crate) &'f mut F);

impl<F: ErrorType> ErrorType for Blocking<'_, F> {
    type Error = F::Error;
}

impl<F: ReadNorFlash> asynch::ReadNorFlash for Blocking<'_, F> {
    const READ_SIZE: usize = F::READ_SIZE;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        self.0.read(offset, bytes)
    }

    fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl<F: NorFlash> asynch::NorFlash for Blocking<'_, F> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        self.0.erase(from, to)
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        self.0.write(offset, bytes)
    }
}
