//! Driver for the ST25R3916 NFC reader chip (as on the X-NUCLEO-NFC06A1) over `embedded-hal`
//! 1.0: an [`SpiDevice`] (SPI mode 1, ≤ 10 MHz, chip select handled by the device), the IRQ
//! output as an [`InputPin`] and a [`DelayNs`]. It implements [`NfcFrontend`], so the
//! ISO/IEC 14443-3/-4 layers run on it unchanged.
//!
//! What it does, in the chip's terms:
//!
//! * **Field**: `tx_en` / `rx_en` in the operation control register, with the oscillator
//!   enabled (`en`) and the regulators adjusted at [`St25r3916::init`]. After switching the
//!   field on it waits [`FIELD_ON_GUARD_US`] (ISO/IEC 14443-3 asks for ≥ 5 ms before the first
//!   command).
//! * **Technology and bit rates**: the mode register's initiator operating mode (ISO 14443A
//!   with OOK, ISO 14443B with AM and a ~10 % modulation depth) and the bit rate register
//!   (106–848 kbit/s each way).
//! * **Frames**: the frame is loaded into the 512-byte FIFO, its length into the
//!   number-of-transmitted-bytes registers, then `Transmit with CRC` (standard frames),
//!   `Transmit without CRC` (bit-oriented anticollision frames, with `antcl`) or `Transmit
//!   REQA/WUPA` (short frames). Frames longer than the FIFO are refilled on the transmit
//!   water-level interrupt; answers longer than the FIFO are drained on the receive
//!   water-level interrupt, so frames of any ISO/IEC 14443-4 frame size fit.
//! * **Timeouts**: the no-response timer (NRT), started by the chip at the end of the
//!   transmission, in steps of 64/fc (≤ 308 ms) or 4096/fc (≤ 19.8 s); `I_nre` is a
//!   [`FrontendError::Timeout`]. A watchdog on top (the frame times, the timeout and
//!   [`Config::watchdog_margin_us`]) turns a chip that never interrupts into
//!   [`FrontendError::Hardware`].
//! * **CRC**: the chip appends the CRC on transmit and checks it on receive (unless
//!   `no_crc_rx`, for ATQA and anticollision answers). The received CRC is put in the FIFO;
//!   the driver strips it. `I_crc` is [`FrontendError::Crc`], `I_par` / `I_err1` / `I_err2`
//!   [`FrontendError::Framing`], `I_col` [`FrontendError::Collision`], a FIFO overflow or an
//!   answer longer than the caller's buffer [`FrontendError::Overflow`].
//!
//! The driver is blocking and polls the IRQ line between [`Config::poll_us`] delays; it holds
//! no heap and no statics.

pub mod regs;

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::InputPin;
use embedded_hal::spi::{Operation, SpiDevice};

use crate::nfc::frontend::{
    BitFrameRx, BitRate, FrontendError, NfcFrontend, ShortFrame, Technology, Timeout,
};
use regs::*;

/// Wait after switching the field on before the first command (ISO/IEC 14443-3: ≥ 5 ms).
pub const FIELD_ON_GUARD_US: u32 = 5_100;
/// Wait after switching the field off so every card in the field resets.
pub const FIELD_OFF_US: u32 = 5_100;

/// Driver tunables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// Delay between two looks at the IRQ line.
    pub poll_us: u32,
    /// Added to the expected duration of an exchange before the chip is declared dead.
    pub watchdog_margin_us: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self { poll_us: 20, watchdog_margin_us: 20_000 }
    }
}

/// Counters of what the driver saw (for diagnostics and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    pub frames: u32,
    pub timeouts: u32,
    pub crc_errors: u32,
    pub tx_refills: u32,
    pub rx_drains: u32,
}

/// The ST25R3916 driver.
pub struct St25r3916<SPI, IRQ, D> {
    spi: SPI,
    irq: IRQ,
    delay: D,
    config: Config,
    technology: Technology,
    rates: (BitRate, BitRate),
    field: bool,
    stats: Stats,
}

/// How a frame is put on air.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TxKind {
    /// `Transmit with CRC`; the answer's CRC is checked and stripped.
    Standard,
    /// `Transmit without CRC` of `bits` bits with `antcl`; the answer has no CRC.
    Bits(usize),
    /// `Transmit REQA` / `Transmit WUPA`; the answer (ATQA) has no CRC.
    Short(u8),
}

/// What a completed reception left behind.
struct Received {
    /// Bytes written to the caller's buffer (CRC stripped).
    len: usize,
    /// Valid bits in the last byte (0 = all eight).
    last_bits: u8,
    /// Collision position (`c_byte`, `c_bit`), if `I_col` fired.
    collision: Option<(u8, u8)>,
}

impl<SPI: SpiDevice, IRQ: InputPin, D: DelayNs> St25r3916<SPI, IRQ, D> {
    /// A driver around the bus, the IRQ line and a delay. Call [`St25r3916::init`] next.
    pub fn new(spi: SPI, irq: IRQ, delay: D) -> Self {
        Self::with_config(spi, irq, delay, Config::default())
    }

    /// Like [`St25r3916::new`] with explicit tunables.
    pub fn with_config(spi: SPI, irq: IRQ, delay: D, config: Config) -> Self {
        Self {
            spi,
            irq,
            delay,
            config,
            technology: Technology::TypeB,
            rates: (BitRate::Kbps106, BitRate::Kbps106),
            field: false,
            stats: Stats::default(),
        }
    }

    /// Gives the bus, the IRQ line and the delay back.
    pub fn release(self) -> (SPI, IRQ, D) {
        (self.spi, self.irq, self.delay)
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Whether the field is on.
    pub fn field(&self) -> bool {
        self.field
    }

    /// Puts the chip into its default state, checks its identity, enables the oscillator and
    /// the regulators, and leaves the field off. Returns the IC identity register.
    pub fn init(&mut self) -> Result<u8, FrontendError> {
        self.command(cmd::SET_DEFAULT)?;
        let id = self.read_reg(IC_IDENTITY)?;
        if id & IC_TYPE_MASK != IC_TYPE_ST25R3916 {
            warn!("st25r3916: unexpected IC identity {}", id);
            return Err(FrontendError::Hardware);
        }
        // Clear what is pending; let through only the interrupts the driver waits for.
        self.read_irqs()?;
        let wanted =
            I_OSC | I_WL | I_RXS | I_RXE | I_TXE | I_COL | I_NRE | I_DCT | I_CRC | I_PAR | I_ERR1 | I_ERR2;
        let mask = !wanted;
        self.write_regs(IRQ_MASK_MAIN, &mask.to_le_bytes())?;
        self.write_reg(OP_CONTROL, OP_EN)?;
        // The oscillator reports itself stable with I_osc (within about 1 ms).
        let irqs = self.wait_irq(I_OSC, 10_000)?;
        if irqs & I_OSC == 0 && self.read_reg(AUX_DISPLAY)? & AUX_DISPLAY_OSC_OK == 0 {
            return Err(FrontendError::Hardware);
        }
        self.command(cmd::ADJUST_REGULATORS)?;
        let irqs = self.wait_irq(I_DCT, 10_000)?;
        if irqs & I_DCT == 0 {
            return Err(FrontendError::Hardware);
        }
        // Receiver masked for 64 × 4 / fc after the end of a transmission (ignores the
        // card's load-modulation ramp-up); modulation depth for Type B.
        self.write_reg(MASK_RX_TIMER, 4)?;
        self.write_reg(TX_DRIVER, TX_DRIVER_AM_MOD_10)?;
        self.configure(Technology::TypeB, BitRate::Kbps106, BitRate::Kbps106)?;
        info!("st25r3916: ready, IC identity {}", id);
        Ok(id)
    }

    // ---- SPI primitives ------------------------------------------------------------------

    fn bus<T>(r: Result<T, SPI::Error>) -> Result<T, FrontendError> {
        r.map_err(|_| FrontendError::Hardware)
    }

    fn command(&mut self, code: u8) -> Result<(), FrontendError> {
        Self::bus(self.spi.write(&[code]))
    }

    fn write_reg(&mut self, addr: u8, value: u8) -> Result<(), FrontendError> {
        Self::bus(self.spi.write(&[SPI_WRITE | (addr & ADDR_MASK), value]))
    }

    fn write_regs(&mut self, addr: u8, values: &[u8]) -> Result<(), FrontendError> {
        let head = [SPI_WRITE | (addr & ADDR_MASK)];
        Self::bus(self.spi.transaction(&mut [Operation::Write(&head), Operation::Write(values)]))
    }

    fn read_regs(&mut self, addr: u8, out: &mut [u8]) -> Result<(), FrontendError> {
        let head = [SPI_READ | (addr & ADDR_MASK)];
        Self::bus(self.spi.transaction(&mut [Operation::Write(&head), Operation::Read(out)]))
    }

    fn read_reg(&mut self, addr: u8) -> Result<u8, FrontendError> {
        let mut v = [0u8];
        self.read_regs(addr, &mut v)?;
        Ok(v[0])
    }

    fn modify_reg(&mut self, addr: u8, clear: u8, set: u8) -> Result<(), FrontendError> {
        let v = self.read_reg(addr)?;
        let n = (v & !clear) | set;
        if n != v {
            self.write_reg(addr, n)?;
        }
        Ok(())
    }

    fn fifo_load(&mut self, data: &[u8]) -> Result<(), FrontendError> {
        if data.is_empty() {
            return Ok(());
        }
        Self::bus(self.spi.transaction(&mut [Operation::Write(&[SPI_FIFO_LOAD]), Operation::Write(data)]))
    }

    fn fifo_read(&mut self, out: &mut [u8]) -> Result<(), FrontendError> {
        if out.is_empty() {
            return Ok(());
        }
        Self::bus(self.spi.transaction(&mut [Operation::Write(&[SPI_FIFO_READ]), Operation::Read(out)]))
    }

    /// Bytes in the FIFO, and FIFO status register 2.
    fn fifo_status(&mut self) -> Result<(usize, u8), FrontendError> {
        let mut s = [0u8; 2];
        self.read_regs(FIFO_STATUS1, &mut s)?;
        let n = s[0] as usize | (((s[1] & FIFO2_B_MASK) as usize) << 2);
        Ok((n, s[1]))
    }

    /// Reads (and so clears) the four interrupt registers.
    fn read_irqs(&mut self) -> Result<u32, FrontendError> {
        let mut r = [0u8; 4];
        self.read_regs(IRQ_MAIN, &mut r)?;
        Ok(u32::from_le_bytes(r))
    }

    /// Waits until one of `wanted` is pending or `budget_us` passed; returns what was read.
    fn wait_irq(&mut self, wanted: u32, budget_us: u32) -> Result<u32, FrontendError> {
        let mut waited = 0u32;
        let mut seen = 0u32;
        loop {
            if Self::pin(self.irq.is_high())? {
                seen |= self.read_irqs()?;
                if seen & wanted != 0 {
                    return Ok(seen);
                }
            }
            if waited >= budget_us {
                return Ok(seen);
            }
            self.delay.delay_us(self.config.poll_us);
            waited = waited.saturating_add(self.config.poll_us);
        }
    }

    fn pin(r: Result<bool, IRQ::Error>) -> Result<bool, FrontendError> {
        r.map_err(|_| FrontendError::Hardware)
    }

    // ---- Timers ------------------------------------------------------------------------------

    /// Programs the no-response timer for `timeout` (rounded up; at least one step, at most
    /// 0xFFFF × 4096/fc).
    fn set_no_response_timer(&mut self, timeout: Timeout) -> Result<(), FrontendError> {
        let fc = timeout.as_fc().max(1);
        let (step, value) = if fc <= 0xFFFF * 64 {
            (0, fc.div_ceil(64))
        } else {
            (TIMER_NRT_STEP_4096, fc.div_ceil(4096).min(0xFFFF))
        };
        self.modify_reg(TIMER_EMV_CONTROL, TIMER_NRT_STEP_4096, step)?;
        let v = (value as u16).to_be_bytes();
        self.write_regs(NO_RESPONSE_TIMER1, &v)
    }

    /// The expected duration, in µs, of sending `tx_bytes` and receiving up to `rx_bytes`.
    fn frame_time_us(&self, tx_bytes: usize, rx_bytes: usize) -> u32 {
        // 10 etu per byte (Type B start/stop bits; Type A 9 bits + parity rounds up) plus
        // SOF/EOF, at each direction's bit rate.
        let tx = (tx_bytes as u64 + 4) * 10 * self.rates.0.etu_fc() as u64;
        let rx = (rx_bytes as u64 + 4) * 10 * self.rates.1.etu_fc() as u64;
        Timeout::from_fc((tx + rx).min(u32::MAX as u64) as u32).as_micros()
    }

    // ---- The exchange ------------------------------------------------------------------------

    /// One frame out and one frame in. `rx` receives the answer without CRC.
    fn exchange(
        &mut self,
        tx: &[u8],
        kind: TxKind,
        rx: &mut [u8],
        timeout: Timeout,
    ) -> Result<Received, FrontendError> {
        if !self.field {
            return Err(FrontendError::Timeout);
        }
        let check_crc = kind == TxKind::Standard;
        // Stop whatever runs, empty the FIFO, forget stale interrupts.
        self.command(cmd::STOP)?;
        self.command(cmd::CLEAR_FIFO)?;
        self.read_irqs()?;
        self.modify_reg(AUX, AUX_NO_CRC_RX, if check_crc { 0 } else { AUX_NO_CRC_RX })?;
        if self.technology == Technology::TypeA {
            let antcl = if matches!(kind, TxKind::Bits(_)) { ISO14443A_ANTCL } else { 0 };
            self.modify_reg(ISO14443A_NFC, ISO14443A_ANTCL, antcl)?;
        }
        self.set_no_response_timer(timeout)?;

        let mut loaded = 0usize;
        let command = match kind {
            TxKind::Short(code) => code,
            TxKind::Standard | TxKind::Bits(_) => {
                let bits = match kind {
                    TxKind::Bits(b) => b,
                    _ => tx.len().saturating_mul(8),
                };
                if bits > tx.len().saturating_mul(8) || bits == 0 || bits / 8 > 0x1FFF {
                    return Err(FrontendError::Unsupported);
                }
                let (full, rest) = ((bits / 8) as u16, (bits % 8) as u8);
                self.write_regs(NUM_TX_BYTES1, &[(full >> 5) as u8, (((full & 0x1F) as u8) << 3) | rest])?;
                let first = tx.len().min(FIFO_DEPTH);
                self.fifo_load(&tx[..first])?;
                loaded = first;
                if check_crc {
                    cmd::TRANSMIT_WITH_CRC
                } else {
                    cmd::TRANSMIT_WITHOUT_CRC
                }
            }
        };
        self.command(command)?;
        self.stats.frames = self.stats.frames.wrapping_add(1);

        let rx_room = (rx.len() + if check_crc { 2 } else { 0 }).min(RX_WATER_LEVEL);
        let budget = self
            .frame_time_us(tx.len(), rx_room)
            .saturating_add(timeout.as_micros())
            .saturating_add(self.config.watchdog_margin_us);
        let mut waited = 0u32;
        let mut got = 0usize; // bytes read from the FIFO, CRC included
        let mut overflow = false;
        let mut tx_done = false;
        let mut receiving = false;
        let mut pending = 0u32;
        loop {
            if pending == 0 {
                if !Self::pin(self.irq.is_high())? {
                    if waited >= budget {
                        self.command(cmd::STOP)?;
                        warn!("st25r3916: no interrupt within {} us", budget);
                        return Err(FrontendError::Hardware);
                    }
                    self.delay.delay_us(self.config.poll_us);
                    waited = waited.saturating_add(self.config.poll_us);
                    continue;
                }
                pending = self.read_irqs()?;
                if pending == 0 {
                    // A glitch on the line: count it as waiting, never spin.
                    self.delay.delay_us(self.config.poll_us);
                    waited = waited.saturating_add(self.config.poll_us);
                }
                continue;
            }
            let irqs = pending;
            pending = 0;
            // Any interrupt is progress: the watchdog counts from the last one.
            waited = 0;
            if irqs & I_WL != 0 {
                if !tx_done && loaded < tx.len() {
                    let (n, _) = self.fifo_status()?;
                    let room = FIFO_DEPTH.saturating_sub(n);
                    let chunk = (tx.len() - loaded).min(room);
                    self.fifo_load(&tx[loaded..loaded + chunk])?;
                    loaded += chunk;
                    self.stats.tx_refills = self.stats.tx_refills.wrapping_add(1);
                } else if receiving {
                    self.drain(rx, &mut got, &mut overflow)?;
                    self.stats.rx_drains = self.stats.rx_drains.wrapping_add(1);
                    if overflow {
                        // No room for the rest: stop receiving rather than wait for the end.
                        self.command(cmd::STOP)?;
                        return Err(FrontendError::Overflow);
                    }
                }
            }
            if irqs & I_TXE != 0 {
                tx_done = true;
                let (_, s2) = self.fifo_status()?;
                if s2 & FIFO2_UNF != 0 || loaded < tx.len() {
                    self.command(cmd::STOP)?;
                    return Err(FrontendError::Hardware);
                }
            }
            if irqs & I_RXS != 0 {
                receiving = true;
            }
            if irqs & I_NRE != 0 && irqs & I_RXE == 0 && !receiving {
                self.stats.timeouts = self.stats.timeouts.wrapping_add(1);
                return Err(FrontendError::Timeout);
            }
            if irqs & I_RXE != 0 {
                let (_, s2) = self.fifo_status()?;
                self.drain(rx, &mut got, &mut overflow)?;
                if irqs & I_CRC != 0 {
                    self.stats.crc_errors = self.stats.crc_errors.wrapping_add(1);
                    return Err(FrontendError::Crc);
                }
                if irqs & (I_PAR | I_ERR1 | I_ERR2) != 0 {
                    return Err(FrontendError::Framing);
                }
                let collision = if irqs & I_COL != 0 {
                    let c = self.read_reg(COLLISION_STATUS)?;
                    Some((c >> COLL_BYTE_SHIFT, (c >> COLL_BIT_SHIFT) & 0x07))
                } else {
                    None
                };
                if collision.is_some() && !matches!(kind, TxKind::Bits(_)) {
                    return Err(FrontendError::Collision);
                }
                if overflow || s2 & FIFO2_OVR != 0 {
                    return Err(FrontendError::Overflow);
                }
                let len = if check_crc {
                    if got < 2 {
                        // A frame too short to carry a CRC.
                        return Err(FrontendError::Framing);
                    }
                    got - 2
                } else {
                    got
                };
                let last_bits = (s2 & FIFO2_LB_MASK) >> 1;
                return Ok(Received { len, last_bits, collision });
            }
            if irqs & I_NRE != 0 && !receiving {
                self.stats.timeouts = self.stats.timeouts.wrapping_add(1);
                return Err(FrontendError::Timeout);
            }
        }
    }

    /// Moves what the FIFO holds into `rx` (past `*got`); bytes beyond `rx` are read into a
    /// scratch buffer and counted as overflow, except the CRC which may spill 2 bytes.
    fn drain(&mut self, rx: &mut [u8], got: &mut usize, overflow: &mut bool) -> Result<(), FrontendError> {
        let (mut n, _) = self.fifo_status()?;
        while n > 0 {
            if *got < rx.len() {
                let k = n.min(rx.len() - *got);
                self.fifo_read(&mut rx[*got..*got + k])?;
                *got += k;
                n -= k;
            } else {
                let mut scratch = [0u8; 32];
                let k = n.min(scratch.len());
                self.fifo_read(&mut scratch[..k])?;
                // Up to two bytes past the buffer are the CRC, which is stripped anyway.
                if *got + k > rx.len() + 2 {
                    *overflow = true;
                }
                *got += k;
                n -= k;
            }
        }
        Ok(())
    }
}

impl<SPI: SpiDevice, IRQ: InputPin, D: DelayNs> NfcFrontend for St25r3916<SPI, IRQ, D> {
    fn field_on(&mut self) -> Result<(), FrontendError> {
        if !self.field {
            self.modify_reg(OP_CONTROL, 0, OP_EN | OP_RX_EN | OP_TX_EN)?;
            self.field = true;
            self.delay.delay_us(FIELD_ON_GUARD_US);
            debug!("st25r3916: field on");
        }
        Ok(())
    }

    fn field_off(&mut self) -> Result<(), FrontendError> {
        self.command(cmd::STOP)?;
        self.modify_reg(OP_CONTROL, OP_RX_EN | OP_TX_EN, 0)?;
        if self.field {
            self.field = false;
            self.delay.delay_us(FIELD_OFF_US);
            debug!("st25r3916: field off");
        }
        Ok(())
    }

    fn configure(
        &mut self,
        technology: Technology,
        pcd_to_picc: BitRate,
        picc_to_pcd: BitRate,
    ) -> Result<(), FrontendError> {
        let mode = match technology {
            Technology::TypeA => MODE_OM_ISO14443A,
            Technology::TypeB => MODE_OM_ISO14443B | MODE_TR_AM,
        };
        self.write_reg(MODE, mode)?;
        self.write_reg(BIT_RATE, (pcd_to_picc.code() << 4) | picc_to_pcd.code())?;
        match technology {
            // Parity on both ways, no anticollision framing until asked for.
            Technology::TypeA => self.write_reg(ISO14443A_NFC, 0)?,
            // Default SOF (10-11 etu low, 2-3 high), EOF 10-11 etu, EGT 0, TR1 per ISO.
            Technology::TypeB => self.write_regs(ISO14443B_1, &[0, 0])?,
        }
        self.technology = technology;
        self.rates = (pcd_to_picc, picc_to_pcd);
        Ok(())
    }

    fn transceive(&mut self, tx: &[u8], rx: &mut [u8], timeout: Timeout) -> Result<usize, FrontendError> {
        if tx.is_empty() {
            return Err(FrontendError::Unsupported);
        }
        let r = self.exchange(tx, TxKind::Standard, rx, timeout)?;
        if r.last_bits != 0 {
            return Err(FrontendError::Framing);
        }
        Ok(r.len)
    }

    fn transceive_short_frame(
        &mut self,
        frame: ShortFrame,
        rx: &mut [u8],
        timeout: Timeout,
    ) -> Result<usize, FrontendError> {
        if self.technology != Technology::TypeA {
            return Err(FrontendError::Unsupported);
        }
        let code = match frame {
            ShortFrame::Reqa => cmd::TRANSMIT_REQA,
            ShortFrame::Wupa => cmd::TRANSMIT_WUPA,
        };
        let r = self.exchange(&[], TxKind::Short(code), rx, timeout)?;
        if r.collision.is_some() {
            return Err(FrontendError::Collision);
        }
        Ok(r.len)
    }

    fn transceive_bits(
        &mut self,
        tx: &[u8],
        tx_bits: usize,
        rx: &mut [u8],
        timeout: Timeout,
    ) -> Result<BitFrameRx, FrontendError> {
        if self.technology != Technology::TypeA {
            return Err(FrontendError::Unsupported);
        }
        let r = self.exchange(tx, TxKind::Bits(tx_bits), rx, timeout)?;
        let offset = tx_bits % 8;
        // Bits received into the FIFO, counted from bit `offset` of the first byte.
        let total = match r.last_bits {
            0 => r.len * 8,
            b => r.len.saturating_sub(1) * 8 + b as usize,
        };
        match r.collision {
            // c_byte / c_bit count from the start of the frame, transmitted bits included.
            Some((byte, bit)) => {
                let at = (byte as usize * 8 + bit as usize).saturating_sub(tx_bits);
                Ok(BitFrameRx { valid_bits: at.min(total.saturating_sub(offset)), collision: true })
            }
            None => Ok(BitFrameRx { valid_bits: total.saturating_sub(offset), collision: false }),
        }
    }

    fn guard_time(&mut self, time: Timeout) -> Result<(), FrontendError> {
        self.delay.delay_us(time.as_micros());
        Ok(())
    }
}
