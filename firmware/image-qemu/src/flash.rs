//! An emulated NOR flash for the QEMU image: a file on the host, `shikaku-flash.bin` in QEMU's
//! working directory, reached through ARM semihosting (`-semihosting-config
//! enable=on,target=native`). Read = seek + read, write = seek + write, erase = 0xFF written
//! over the sector. NOR rules are kept as the board's flash keeps them: a write may only clear
//! bits (anything else is refused with [`FlashError::NotErased`]), writes are whole 32-byte
//! words, erases whole 8 KiB sectors.
//!
//! Killing QEMU is a power cut: the file keeps every semihosting write that completed. The
//! file is created (all 0xFF) or extended to [`CAPACITY`] when missing or short.
//!
//! Reads come from a copy of the file in RAM, read once at boot: every semihosting call stops
//! the emulated CPU for a host system call, and the store reads its region often (a scan per
//! lookup), which made each store operation take seconds on a loaded machine and the reader
//! deaf to its host meanwhile. Writes and erases go to the file at once (and to the copy), so
//! what a power cut leaves is still exactly what the file holds.

use cortex_m_semihosting::{nr, syscall};
use embedded_storage::nor_flash::{
    check_erase, check_read, check_write, ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// The file, relative to QEMU's working directory (NUL-terminated for the host).
const PATH: &[u8] = b"shikaku-flash.bin\0";
/// The flash word: the board's 256-bit flash word, so the store's layout is the same.
pub const WORD: usize = 32;
/// The erase sector.
pub const SECTOR: usize = 8 * 1024;
/// The emulated flash: 16 sectors.
pub const CAPACITY: usize = 16 * SECTOR;
/// Bytes moved per semihosting call when comparing or erasing.
const CHUNK: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashError {
    NotAligned,
    OutOfBounds,
    /// A write would set a bit that is 0 (the word was not erased).
    NotErased,
    /// The host refused a semihosting call.
    Host,
}

impl NorFlashError for FlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            FlashError::NotAligned => NorFlashErrorKind::NotAligned,
            FlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            FlashError::NotErased | FlashError::Host => NorFlashErrorKind::Other,
        }
    }
}

fn kind(k: NorFlashErrorKind) -> FlashError {
    match k {
        NorFlashErrorKind::NotAligned => FlashError::NotAligned,
        NorFlashErrorKind::OutOfBounds => FlashError::OutOfBounds,
        _ => FlashError::Host,
    }
}

/// The flash file, open for reading and writing, and its copy in RAM.
pub struct SemihostFlash {
    handle: usize,
    mirror: &'static mut [u8; CAPACITY],
}

impl SemihostFlash {
    /// Opens the flash file, creating or extending it (erased) to [`CAPACITY`].
    pub fn open() -> Result<Self, FlashError> {
        let name_len = PATH.len() - 1;
        // SAFETY: SYS_OPEN reads the NUL-terminated name for `name_len` bytes; the block is
        // [name, mode, length]. Mode "r+b" opens an existing file without truncating it.
        let mut handle = unsafe { syscall!(OPEN, PATH.as_ptr(), nr::open::RW_BINARY, name_len) } as isize;
        if handle == -1 {
            // SAFETY: as above; "w+b" creates the file.
            handle = unsafe { syscall!(OPEN, PATH.as_ptr(), nr::open::RW_TRUNC_BINARY, name_len) } as isize;
        }
        if handle < 0 {
            return Err(FlashError::Host);
        }
        let Some(mirror) = cortex_m::singleton!(: [u8; CAPACITY] = [0xff; CAPACITY]) else {
            return Err(FlashError::Host);
        };
        let mut flash = SemihostFlash { handle: handle as usize, mirror };
        // SAFETY: SYS_FLEN takes [handle] and returns the length or -1.
        let len = unsafe { syscall!(FLEN, flash.handle) } as isize;
        if len < 0 {
            return Err(FlashError::Host);
        }
        let mut at = (len as usize).min(CAPACITY);
        // What the file holds; the rest stays erased (0xFF) and is written out below.
        read_at(flash.handle, 0, &mut flash.mirror[..at])?;
        let erased = [0xff; CHUNK];
        while at < CAPACITY {
            let n = CHUNK.min(CAPACITY - at);
            flash.write_at(at, &erased[..n])?;
            at += n;
        }
        Ok(flash)
    }

    fn write_at(&mut self, at: usize, bytes: &[u8]) -> Result<(), FlashError> {
        write_at(self.handle, at, bytes)?;
        self.mirror[at..at + bytes.len()].copy_from_slice(bytes);
        Ok(())
    }
}

fn seek(handle: usize, at: usize) -> Result<(), FlashError> {
    // SAFETY: SYS_SEEK takes [handle, absolute position]; 0 is success.
    match unsafe { syscall!(SEEK, handle, at) } {
        0 => Ok(()),
        _ => Err(FlashError::Host),
    }
}

fn read_at(handle: usize, at: usize, bytes: &mut [u8]) -> Result<(), FlashError> {
    seek(handle, at)?;
    // SAFETY: SYS_READ writes at most `len` bytes into the buffer, which is ours and that long;
    // it returns how many were NOT read.
    match unsafe { syscall!(READ, handle, bytes.as_mut_ptr(), bytes.len()) } {
        0 => Ok(()),
        _ => Err(FlashError::Host),
    }
}

fn write_at(handle: usize, at: usize, bytes: &[u8]) -> Result<(), FlashError> {
    seek(handle, at)?;
    // SAFETY: SYS_WRITE reads `len` bytes from the buffer; it returns how many were NOT written.
    match unsafe { syscall!(WRITE, handle, bytes.as_ptr(), bytes.len()) } {
        0 => Ok(()),
        _ => Err(FlashError::Host),
    }
}

impl ErrorType for SemihostFlash {
    type Error = FlashError;
}

impl ReadNorFlash for SemihostFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        check_read(self, offset, bytes.len()).map_err(kind)?;
        let at = offset as usize;
        bytes.copy_from_slice(&self.mirror[at..at + bytes.len()]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        CAPACITY
    }
}

impl NorFlash for SemihostFlash {
    const WRITE_SIZE: usize = WORD;
    const ERASE_SIZE: usize = SECTOR;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        check_erase(self, from, to).map_err(kind)?;
        let erased = [0xff; CHUNK];
        for at in (from as usize..to as usize).step_by(CHUNK) {
            self.write_at(at, &erased)?;
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        check_write(self, offset, bytes.len()).map_err(kind)?;
        // NOR: a write only clears bits. Check it all before writing anything.
        let at = offset as usize;
        if self.mirror[at..at + bytes.len()].iter().zip(bytes).any(|(o, n)| n & !o != 0) {
            return Err(FlashError::NotErased);
        }
        // One word per host write: a power cut (QEMU killed) lands between words.
        for (i, word) in bytes.chunks(WORD).enumerate() {
            self.write_at(offset as usize + i * WORD, word)?;
        }
        Ok(())
    }
}
