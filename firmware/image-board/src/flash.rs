//! The persistent store's flash on the board: the last two 128 KiB sectors of the STM32H747's
//! flash bank 2 (sectors 6 and 7, `0x081C_0000..0x0820_0000`), which the image does not use
//! (memory.x: the CM7 image is in bank 1; the CM4 core and bank 2 are left alone). Driven
//! through the bank 2 flash registers directly, as the rest of the board (RM0399 §4, "Embedded
//! flash memory").
//!
//! * Reads are memory-mapped: the AXI flash interface reads the array directly.
//! * Programming is by 256-bit flash word (32 bytes, the unit of the ECC): PG set, the eight
//!   32-bit words written in order into the same flash word, then wait for the write queue to
//!   drain (QW). A flash word is programmed once between erases; the store never does more.
//! * Erase is by sector: SER with SNB, START, wait for QW.
//! * The bank is unlocked with KEY1/KEY2 for each operation and locked again afterwards, so a
//!   runaway write elsewhere cannot reach it.
//!
//! A power cut during a program can leave that flash word with an inconsistent ECC; reading it
//! then raises a double ECC error (DBECCERR2) and a bus fault on the AXI read, where the RAM
//! test flash of shikaku-store just reads half-written bytes. sequential-storage reads every
//! word it wrote, so the board needs a bus fault handler that recognises a fault address in
//! this region and turns it into a read error (or has the sector's live records moved and the
//! sector erased); that handler is not written yet.
//!
//! The D-cache is off in this image; if it is turned on, the erased or programmed range must be
//! invalidated (SCB DCIMVAC) before it is read again.

use embedded_storage::nor_flash::{
    check_erase, check_read, check_write, ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

// ---- RM0399 §4.9: flash registers (bank 2 set at FLASH + 0x100) ----------------------------

/// Flash interface register base (RM0399 Table 8: FLASH, AHB3, 0x5200_2000).
const FLASH: usize = 0x5200_2000;
/// FLASH_KEYR2: bank 2 key register.
const FLASH_KEYR2: usize = FLASH + 0x104;
/// FLASH_CR2: bank 2 control register.
const FLASH_CR2: usize = FLASH + 0x10C;
/// FLASH_SR2: bank 2 status register.
const FLASH_SR2: usize = FLASH + 0x110;
/// FLASH_CCR2: bank 2 clear control register (write 1 to clear the SR2 flag at the same bit).
const FLASH_CCR2: usize = FLASH + 0x114;

/// FLASH_KEYRx unlock sequence: KEY1 then KEY2.
const KEY1: u32 = 0x4567_0123;
const KEY2: u32 = 0xCDEF_89AB;

/// FLASH_CR2.LOCK (bit 0): the bank's control register is locked.
const CR_LOCK: u32 = 1 << 0;
/// FLASH_CR2.PG (bit 1): programming enabled.
const CR_PG: u32 = 1 << 1;
/// FLASH_CR2.SER (bit 2): sector erase request.
const CR_SER: u32 = 1 << 2;
/// FLASH_CR2.PSIZE (bits 5:4): program/erase parallelism; 0b10 = x32, valid over the whole
/// supply range.
const CR_PSIZE_X32: u32 = 0b10 << 4;
const CR_PSIZE_MASK: u32 = 0b11 << 4;
/// FLASH_CR2.START (bit 7): start the erase.
const CR_START: u32 = 1 << 7;
/// FLASH_CR2.SNB (bits 10:8): the sector to erase.
const CR_SNB_SHIFT: u32 = 8;
const CR_SNB_MASK: u32 = 0b111 << CR_SNB_SHIFT;

/// FLASH_SR2.BSY (bit 0): an operation is running.
const SR_BSY: u32 = 1 << 0;
/// FLASH_SR2.WBNE (bit 1): the write buffer holds an incomplete flash word.
const SR_WBNE: u32 = 1 << 1;
/// FLASH_SR2.QW (bit 2): a write or erase is queued or running.
const SR_QW: u32 = 1 << 2;
/// FLASH_SR2.EOP (bit 16): end of operation.
const SR_EOP: u32 = 1 << 16;
/// FLASH_SR2.WRPERR (bit 17): write protection error.
const SR_WRPERR: u32 = 1 << 17;
/// FLASH_SR2.PGSERR (bit 18): programming sequence error.
const SR_PGSERR: u32 = 1 << 18;
/// FLASH_SR2.STRBERR (bit 19): strobe error (a word written twice into the write buffer).
const SR_STRBERR: u32 = 1 << 19;
/// FLASH_SR2.INCERR (bit 21): inconsistency error (the write buffer's words not contiguous).
const SR_INCERR: u32 = 1 << 21;
/// FLASH_SR2.OPERR (bit 22): write/erase error.
const SR_OPERR: u32 = 1 << 22;
/// FLASH_SR2.RDPERR (bit 23): read protection error.
const SR_RDPERR: u32 = 1 << 23;
/// FLASH_SR2.RDSERR (bit 24): secure access error.
const SR_RDSERR: u32 = 1 << 24;
/// FLASH_SR2.SNECCERR2 (bit 25): single ECC error corrected.
const SR_SNECCERR: u32 = 1 << 25;
/// FLASH_SR2.DBECCERR2 (bit 26): double ECC error detected.
const SR_DBECCERR: u32 = 1 << 26;
/// Every error flag, cleared through FLASH_CCR2 at the same bits (CLR_xxx).
const SR_ERRORS: u32 = SR_WRPERR
    | SR_PGSERR
    | SR_STRBERR
    | SR_INCERR
    | SR_OPERR
    | SR_RDPERR
    | SR_RDSERR
    | SR_SNECCERR
    | SR_DBECCERR;

// ---- The region -----------------------------------------------------------------------------

/// Bank 2 sector 6 (RM0399 Table 7: bank 2 at 0x0810_0000, eight 128 KiB sectors).
const BASE: usize = 0x081C_0000;
const FIRST_SECTOR: u32 = 6;
/// The erase sector.
pub const SECTOR: usize = 128 * 1024;
/// The region: sectors 6 and 7 of bank 2.
pub const CAPACITY: usize = 2 * SECTOR;
/// The flash word.
pub const WORD: usize = 32;

/// Busy-wait bound: a 128 KiB sector erase takes up to about 4 s (datasheet tERASE128KB at
/// x32); at 64 MHz this many status reads is well past that.
const WAIT_LOOPS: u32 = 200_000_000;

/// What the bank 2 flash interface reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, defmt::Format)]
pub enum FlashError {
    NotAligned,
    OutOfBounds,
    /// FLASH_CR2 stayed locked after the key sequence (a wrong key locks it until reset).
    Locked,
    /// BSY/QW did not clear in time.
    Timeout,
    /// WRPERR: the sector is write-protected (option bytes).
    WriteProtected,
    /// PGSERR, STRBERR or INCERR: the program sequence was refused.
    Sequence,
    /// OPERR: the write or erase failed.
    Operation,
    /// RDPERR or RDSERR: a protected area.
    Protection,
    /// DBECCERR: the ECC found a word it cannot correct (a cut write, or a worn cell). A
    /// corrected single error (SNECCERR) is cleared and not reported.
    Ecc,
}

impl FlashError {
    /// The first error flag set in `sr`, if any (SNECCERR, corrected, is not an error).
    fn from_sr(sr: u32) -> Option<Self> {
        if sr & SR_WRPERR != 0 {
            Some(FlashError::WriteProtected)
        } else if sr & (SR_PGSERR | SR_STRBERR | SR_INCERR) != 0 {
            Some(FlashError::Sequence)
        } else if sr & SR_OPERR != 0 {
            Some(FlashError::Operation)
        } else if sr & (SR_RDPERR | SR_RDSERR) != 0 {
            Some(FlashError::Protection)
        } else if sr & SR_DBECCERR != 0 {
            Some(FlashError::Ecc)
        } else {
            None
        }
    }
}

impl NorFlashError for FlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            FlashError::NotAligned => NorFlashErrorKind::NotAligned,
            FlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            _ => NorFlashErrorKind::Other,
        }
    }
}

fn kind(k: NorFlashErrorKind) -> FlashError {
    match k {
        NorFlashErrorKind::NotAligned => FlashError::NotAligned,
        NorFlashErrorKind::OutOfBounds => FlashError::OutOfBounds,
        _ => FlashError::Operation,
    }
}

fn rd(addr: usize) -> u32 {
    // SAFETY: a flash interface register (RM0399 §4.9) or a word of bank 2 sectors 6–7.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

fn wr(addr: usize, v: u32) {
    // SAFETY: a flash interface register (RM0399 §4.9) or, with FLASH_CR2.PG set, a word of a
    // flash word in bank 2 sectors 6–7 being programmed.
    unsafe { core::ptr::write_volatile(addr as *mut u32, v) }
}

/// The last two sectors of flash bank 2. There is one flash interface: keep one of these.
#[derive(Default)]
pub struct InternalFlash {
    _private: (),
}

impl InternalFlash {
    pub fn new() -> Self {
        InternalFlash { _private: () }
    }

    /// Unlocks FLASH_CR2 (RM0399 §4.5.1: KEY1 then KEY2 into FLASH_KEYR2).
    fn unlock(&mut self) -> Result<(), FlashError> {
        if rd(FLASH_CR2) & CR_LOCK != 0 {
            wr(FLASH_KEYR2, KEY1);
            wr(FLASH_KEYR2, KEY2);
        }
        if rd(FLASH_CR2) & CR_LOCK != 0 {
            return Err(FlashError::Locked);
        }
        Ok(())
    }

    fn lock(&mut self) {
        let cr = rd(FLASH_CR2);
        wr(FLASH_CR2, (cr & !(CR_PG | CR_SER | CR_START | CR_SNB_MASK)) | CR_LOCK);
    }

    /// Waits until the bank is idle (BSY, QW and WBNE clear), then reads and clears the flags.
    fn wait(&mut self) -> Result<(), FlashError> {
        let mut n = 0;
        while rd(FLASH_SR2) & (SR_BSY | SR_QW | SR_WBNE) != 0 {
            n += 1;
            if n == WAIT_LOOPS {
                return Err(FlashError::Timeout);
            }
        }
        let sr = rd(FLASH_SR2);
        wr(FLASH_CCR2, sr & (SR_ERRORS | SR_EOP));
        match FlashError::from_sr(sr) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Runs `op` with the bank unlocked and idle, and locks it again whatever happened.
    fn unlocked(&mut self, op: impl FnOnce(&mut Self) -> Result<(), FlashError>) -> Result<(), FlashError> {
        self.unlock()?;
        // Flags left over from an earlier operation (or a read's ECC) would be taken for this
        // one's: clear them first.
        wr(FLASH_CCR2, SR_ERRORS | SR_EOP);
        let r = self.wait().and_then(|()| op(self));
        self.lock();
        r
    }

    /// RM0399 §4.3.9, single write sequence: PG, eight 32-bit writes into one flash word, wait
    /// for QW to clear, check the flags.
    fn program_word(&mut self, addr: usize, word: &[u8]) -> Result<(), FlashError> {
        modify(FLASH_CR2, CR_PSIZE_MASK | CR_SER, CR_PSIZE_X32 | CR_PG);
        for (i, w) in word.chunks_exact(4).enumerate() {
            wr(addr + 4 * i, u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        }
        // The eight writes reach the flash write buffer before the wait polls QW.
        cortex_m::asm::dsb();
        let r = self.wait();
        modify(FLASH_CR2, CR_PG, 0);
        r
    }

    /// RM0399 §4.3.10, sector erase: SER with SNB, START, wait for QW to clear.
    fn erase_sector(&mut self, sector: u32) -> Result<(), FlashError> {
        modify(
            FLASH_CR2,
            CR_PSIZE_MASK | CR_SNB_MASK | CR_PG,
            CR_PSIZE_X32 | CR_SER | (sector << CR_SNB_SHIFT),
        );
        modify(FLASH_CR2, 0, CR_START);
        cortex_m::asm::dsb();
        let r = self.wait();
        modify(FLASH_CR2, CR_SER | CR_SNB_MASK, 0);
        r
    }
}

fn modify(addr: usize, clear: u32, set: u32) {
    wr(addr, (rd(addr) & !clear) | set)
}

impl ErrorType for InternalFlash {
    type Error = FlashError;
}

impl ReadNorFlash for InternalFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        check_read(self, offset, bytes.len()).map_err(kind)?;
        for (i, b) in bytes.iter_mut().enumerate() {
            // SAFETY: inside bank 2 sectors 6–7 (checked above), memory-mapped for reading.
            *b = unsafe { core::ptr::read_volatile((BASE + offset as usize + i) as *const u8) };
        }
        Ok(())
    }

    fn capacity(&self) -> usize {
        CAPACITY
    }
}

impl NorFlash for InternalFlash {
    const WRITE_SIZE: usize = WORD;
    const ERASE_SIZE: usize = SECTOR;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        check_erase(self, from, to).map_err(kind)?;
        self.unlocked(|f| {
            for at in (from as usize..to as usize).step_by(SECTOR) {
                f.erase_sector(FIRST_SECTOR + (at / SECTOR) as u32)?;
            }
            Ok(())
        })
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        check_write(self, offset, bytes.len()).map_err(kind)?;
        self.unlocked(|f| {
            for (i, word) in bytes.chunks_exact(WORD).enumerate() {
                f.program_word(BASE + offset as usize + i * WORD, word)?;
            }
            Ok(())
        })
    }
}
