//! A NOR flash in RAM with the board's geometry, for tests and rigs: 32-byte words each
//! programmable once between erases, writes that may only clear bits, erase counts per sector,
//! and a power cut after the N-th word program or sector erase (the cut word is half
//! programmed and may be programmed again, the cut sector half erased, and nothing after the
//! cut reaches the flash).

extern crate std;

use std::vec;
use std::vec::Vec;

use embedded_storage::nor_flash::{
    check_erase, check_read, check_write, ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// The flash word (the STM32H7's 256-bit word).
pub const WORD: usize = 32;
/// The erase sector.
pub const SECTOR: usize = 8192;
/// Sectors of the RAM flash.
pub const SECTORS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RamError {
    /// Power is gone.
    Cut,
    /// A word programmed twice, or a bit set by a write.
    NotWritable,
    Kind(NorFlashErrorKind),
}

impl NorFlashError for RamError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            RamError::Kind(k) => *k,
            _ => NorFlashErrorKind::Other,
        }
    }
}

#[derive(Clone)]
pub struct RamFlash {
    pub bytes: Vec<u8>,
    /// Per word: programmed since the last erase.
    pub programmed: Vec<bool>,
    pub erases: Vec<u32>,
    pub words_written: u64,
    /// Word programs and sector erases left before the power cut (`None`: no cut).
    pub budget: Option<usize>,
    pub cut: bool,
}

impl RamFlash {
    /// An erased flash.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        RamFlash {
            bytes: vec![0xff; SECTOR * SECTORS],
            programmed: vec![false; SECTOR * SECTORS / WORD],
            erases: vec![0; SECTORS],
            words_written: 0,
            budget: None,
            cut: false,
        }
    }

    /// The same flash with the power back on.
    pub fn rebooted(&self) -> Self {
        RamFlash { budget: None, cut: false, ..self.clone() }
    }

    /// Spends one step of the budget; `false` when this step is the one cut.
    fn step(&mut self) -> Result<bool, RamError> {
        if self.cut {
            return Err(RamError::Cut);
        }
        match &mut self.budget {
            Some(0) => {
                self.cut = true;
                Ok(false)
            }
            Some(n) => {
                *n -= 1;
                Ok(true)
            }
            None => Ok(true),
        }
    }
}

impl ErrorType for RamFlash {
    type Error = RamError;
}

impl ReadNorFlash for RamFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), RamError> {
        if self.cut {
            return Err(RamError::Cut);
        }
        check_read(self, offset, bytes.len()).map_err(RamError::Kind)?;
        let at = offset as usize;
        bytes.copy_from_slice(&self.bytes[at..at + bytes.len()]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.bytes.len()
    }
}

impl NorFlash for RamFlash {
    const WRITE_SIZE: usize = WORD;
    const ERASE_SIZE: usize = SECTOR;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), RamError> {
        check_erase(self, from, to).map_err(RamError::Kind)?;
        for sector in (from as usize / SECTOR)..(to as usize / SECTOR) {
            let at = sector * SECTOR;
            if !self.step()? {
                self.bytes[at..at + SECTOR / 2].fill(0xff);
                return Err(RamError::Cut);
            }
            self.bytes[at..at + SECTOR].fill(0xff);
            self.programmed[at / WORD..(at + SECTOR) / WORD].fill(false);
            self.erases[sector] += 1;
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), RamError> {
        check_write(self, offset, bytes.len()).map_err(RamError::Kind)?;
        for (i, word) in bytes.chunks(WORD).enumerate() {
            let at = offset as usize + i * WORD;
            let old = &self.bytes[at..at + WORD];
            if self.programmed[at / WORD] || old.iter().zip(word).any(|(o, n)| n & !o != 0) {
                return Err(RamError::NotWritable);
            }
            let whole = self.step()?;
            let len = if whole { WORD } else { WORD / 2 };
            for (o, n) in self.bytes[at..at + len].iter_mut().zip(word) {
                *o &= n;
            }
            if !whole {
                // A torn program leaves the word half programmed; programming it again (bits
                // only cleared) is what NOR flash allows.
                return Err(RamError::Cut);
            }
            self.programmed[at / WORD] = true;
            self.words_written += 1;
        }
        Ok(())
    }
}
