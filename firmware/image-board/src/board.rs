//! The reference board, in one place: STM32H747I-DISCO (STM32H747XIH6, Cortex-M7 at 64 MHz
//! from HSI here) with an X-NUCLEO-NFC06A1 (ST25R3916) plugged into its Arduino connector (CN5,
//! CN6, CN8, CN9) and a 4×4 matrix keypad. Registers are driven directly (RM0399), so the image
//! needs no HAL crate.
//!
//! | function | MCU pin | board | notes |
//! |---|---|---|---|
//! | ST25R3916 SCK | PK0 (SPI5_SCK, AF5) | Arduino D13 | SPI mode 1, 8 MHz (≤ 10 MHz) |
//! | ST25R3916 MISO | PJ11 (SPI5_MISO, AF5) | Arduino D12 | |
//! | ST25R3916 MOSI | PJ10 (SPI5_MOSI, AF5) | Arduino D11 | |
//! | ST25R3916 /SS | PK1 (GPIO out) | Arduino D10 | software chip select |
//! | ST25R3916 IRQ | PA4 (GPIO in) | Arduino A0 | active high |
//! | host link (UART) | PA9 TX / PA10 RX (USART1, AF7) | ST-LINK virtual COM port (CN2) | 115200 8N1, raw protocol frames |
//! | host link (USB) | USB OTG HS with the USB3320 ULPI PHY | CN1 (micro-AB) | vendor class, VID 0x1209 PID 0x5348 |
//! | keypad rows | PJ3, PF8, PJ4, PA8 (out, open drain) | Arduino D2, D3, D4, D5 | driven low one at a time |
//! | keypad columns | PJ7, PJ0, PJ5, PJ6 (in, pull-up) | Arduino D6, D7, D8, D9 | |
//! | user LEDs | PI12, PI13, PI14, PI15 | LD1–LD4 | LD1 = field on, LD2 = card, LD4 = error |
//! | camera | DCMI (PA4/PA6/PB7/PC6…PC11/PD3/PE4…PE6/PG9/PG10…) | CN7 camera connector | B-CAMS-OMV module; pins shared with A0: see firmware/README.md |
//! | display + touch | MIPI DSI (OTM8009A 800×480) + FT6x06 on I2C4 (PD12/PD13) | on board | drawn with `shikaku_firmware::ui` |
//! | TRNG | RNG (HSI48 kernel clock) | – | nonces, pairing keys, session ids |
//!
//! The 4×4 keypad layout: `1 2 3 PIN` / `4 5 6 顔` / `7 8 9 職員` / `消 0 決 取消`, with `決`
//! doubling as はい and `消` as いいえ on consent screens.

use core::convert::Infallible;

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{ErrorType as PinErrorType, InputPin};
use embedded_hal::spi::{ErrorType, Operation, SpiDevice};
use shikaku_firmware::session::Key;

/// Core clock after reset: HSI 64 MHz, no PLL (enough for the reader; the camera pipeline
/// will raise it to 480 MHz with PLL1).
pub const SYSCLK_HZ: u32 = 64_000_000;

// ---- Register access ------------------------------------------------------------------------

fn rd(addr: usize) -> u32 {
    // SAFETY: a peripheral register of the STM32H747 memory map (RM0399 §2.3).
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

fn wr(addr: usize, v: u32) {
    // SAFETY: a peripheral register of the STM32H747 memory map (RM0399 §2.3).
    unsafe { core::ptr::write_volatile(addr as *mut u32, v) }
}

fn modify(addr: usize, clear: u32, set: u32) {
    wr(addr, (rd(addr) & !clear) | set)
}

const RCC: usize = 0x5802_4400;
const RCC_CR: usize = RCC;
const RCC_AHB2ENR: usize = RCC + 0xDC;
const RCC_AHB4ENR: usize = RCC + 0xE0;
const RCC_APB2ENR: usize = RCC + 0xF0;

/// GPIO ports A..K.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Port {
    A = 0,
    B = 1,
    C = 2,
    F = 5,
    H = 7,
    I = 8,
    J = 9,
    K = 10,
}

const GPIO_BASE: usize = 0x5802_0000;

#[derive(Clone, Copy)]
pub struct Pin {
    pub port: Port,
    pub n: u8,
}

impl Pin {
    const fn new(port: Port, n: u8) -> Self {
        Self { port, n }
    }
    fn base(self) -> usize {
        GPIO_BASE + 0x400 * self.port as usize
    }
    fn field2(self, reg: usize, v: u32) {
        let sh = 2 * self.n as u32;
        modify(self.base() + reg, 0b11 << sh, (v & 0b11) << sh);
    }
    pub fn output(self, open_drain: bool) {
        self.field2(0x00, 0b01);
        modify(self.base() + 0x04, 1 << self.n, (open_drain as u32) << self.n);
        self.field2(0x08, 0b10);
    }
    pub fn input(self, pull_up: bool) {
        self.field2(0x00, 0b00);
        self.field2(0x0C, if pull_up { 0b01 } else { 0b10 });
    }
    pub fn alternate(self, af: u8) {
        let (reg, sh) = if self.n < 8 { (0x20, 4 * self.n as u32) } else { (0x24, 4 * (self.n as u32 - 8)) };
        modify(self.base() + reg, 0xF << sh, (af as u32 & 0xF) << sh);
        self.field2(0x08, 0b11);
        self.field2(0x00, 0b10);
    }
    pub fn set(self, high: bool) {
        let bit = if high { 1u32 << self.n } else { 1u32 << (self.n + 16) };
        wr(self.base() + 0x18, bit);
    }
    pub fn is_high(self) -> bool {
        rd(self.base() + 0x10) & (1 << self.n) != 0
    }
}

pub const NFC_SCK: Pin = Pin::new(Port::K, 0);
pub const NFC_MISO: Pin = Pin::new(Port::J, 11);
pub const NFC_MOSI: Pin = Pin::new(Port::J, 10);
pub const NFC_CS: Pin = Pin::new(Port::K, 1);
pub const NFC_IRQ: Pin = Pin::new(Port::A, 4);
pub const UART_TX: Pin = Pin::new(Port::A, 9);
pub const UART_RX: Pin = Pin::new(Port::A, 10);
pub const KEY_ROWS: [Pin; 4] =
    [Pin::new(Port::J, 3), Pin::new(Port::F, 8), Pin::new(Port::J, 4), Pin::new(Port::A, 8)];
pub const KEY_COLS: [Pin; 4] =
    [Pin::new(Port::J, 7), Pin::new(Port::J, 0), Pin::new(Port::J, 5), Pin::new(Port::J, 6)];
pub const LEDS: [Pin; 4] =
    [Pin::new(Port::I, 12), Pin::new(Port::I, 13), Pin::new(Port::I, 14), Pin::new(Port::I, 15)];

/// Clocks for the GPIO ports, SPI5, USART1 and the RNG; pins to their functions.
pub fn init_pins() {
    // GPIOA, F, I, J, K.
    modify(RCC_AHB4ENR, 0, (1 << 0) | (1 << 5) | (1 << 8) | (1 << 9) | (1 << 10));
    // SPI5 (bit 20) and USART1 (bit 4) on APB2; their kernel clocks stay at rcc_pclk2 (64 MHz).
    modify(RCC_APB2ENR, 0, (1 << 20) | (1 << 4));
    let _ = rd(RCC_APB2ENR);
    for p in [NFC_SCK, NFC_MISO, NFC_MOSI] {
        p.alternate(5);
    }
    NFC_CS.set(true);
    NFC_CS.output(false);
    NFC_IRQ.input(false);
    UART_TX.alternate(7);
    UART_RX.alternate(7);
    for r in KEY_ROWS {
        r.set(true);
        r.output(true);
    }
    for c in KEY_COLS {
        c.input(true);
    }
    for l in LEDS {
        l.set(true); // LEDs are active low
        l.output(false);
    }
}

pub fn led(i: usize, on: bool) {
    if let Some(l) = LEDS.get(i) {
        l.set(!on);
    }
}

/// USB OTG HS with the ULPI PHY: the ULPI pins (AF10), the USB kernel clock (HSI48, already on
/// for the RNG), the USB supply detector, and the OTG HS and ULPI clocks.
pub fn usb_clocks() {
    const RCC_AHB1ENR: usize = RCC + 0xD8;
    const RCC_AHB1RSTR: usize = RCC + 0x80;
    const RCC_D2CCIP2R: usize = RCC + 0x54;
    const PWR_CR3: usize = 0x5802_4800 + 0x0C;
    modify(RCC_AHB4ENR, 0, (1 << 1) | (1 << 2) | (1 << 7));
    let _ = rd(RCC_AHB4ENR);
    for p in crate::usb::ULPI_PINS {
        p.alternate(10);
    }
    modify(RCC_CR, 0, 1 << 12);
    while rd(RCC_CR) & (1 << 13) == 0 {}
    modify(RCC_D2CCIP2R, 0b11 << 20, 0b11 << 20);
    modify(PWR_CR3, 0, 1 << 24);
    modify(RCC_AHB1ENR, 0, (1 << 25) | (1 << 26));
    modify(RCC_AHB1RSTR, 0, 1 << 25);
    modify(RCC_AHB1RSTR, 1 << 25, 0);
}

// ---- SPI5 for the ST25R3916 -----------------------------------------------------------------

const SPI5: usize = 0x4001_5000;
const SPI_CR1: usize = SPI5;
const SPI_CR2: usize = SPI5 + 0x04;
const SPI_CFG1: usize = SPI5 + 0x08;
const SPI_CFG2: usize = SPI5 + 0x0C;
const SPI_SR: usize = SPI5 + 0x14;
const SPI_IFCR: usize = SPI5 + 0x18;
const SPI_TXDR: usize = SPI5 + 0x20;
const SPI_RXDR: usize = SPI5 + 0x30;

/// SPI5 as an `embedded-hal` [`SpiDevice`] with PK1 as chip select: master, mode 1 (CPOL 0,
/// CPHA 1) as the ST25R3916 wants, 8-bit frames, 64 MHz / 8 = 8 MHz.
pub struct NfcSpi {
    _private: (),
}

impl NfcSpi {
    pub fn new() -> Self {
        wr(SPI_CR1, 0);
        // MBR = /8 (0b010 << 28), DSIZE = 8 bits (7).
        wr(SPI_CFG1, (0b010 << 28) | 7);
        // MASTER, SSM with SSI high (software NSS), CPHA = 1, AFCNTR keeps the pins driven.
        wr(SPI_CFG2, (1 << 31) | (1 << 26) | (1 << 22) | (1 << 24));
        wr(SPI_CR1, 1 << 12);
        wr(SPI_CR2, 0);
        Self { _private: () }
    }

    fn byte(&mut self, out: u8) -> u8 {
        while rd(SPI_SR) & (1 << 1) == 0 {} // TXP
                                            // SAFETY: an 8-bit write to TXDR sends one frame (RM0399 §51.11.9).
        unsafe { core::ptr::write_volatile(SPI_TXDR as *mut u8, out) };
        while rd(SPI_SR) & 1 == 0 {} // RXP
                                     // SAFETY: an 8-bit read of RXDR takes one frame.
        unsafe { core::ptr::read_volatile(SPI_RXDR as *const u8) }
    }
}

impl Default for NfcSpi {
    fn default() -> Self {
        Self::new()
    }
}

impl ErrorType for NfcSpi {
    type Error = Infallible;
}

impl SpiDevice for NfcSpi {
    fn transaction(&mut self, ops: &mut [Operation<'_, u8>]) -> Result<(), Infallible> {
        NFC_CS.set(false);
        modify(SPI_CR1, 0, 1); // SPE
        modify(SPI_CR1, 0, 1 << 9); // CSTART (endless transfer, TSIZE = 0)
        for op in ops.iter_mut() {
            match op {
                Operation::Write(w) => w.iter().for_each(|&b| {
                    self.byte(b);
                }),
                Operation::Read(r) => r.iter_mut().for_each(|b| *b = self.byte(0)),
                Operation::Transfer(r, w) => {
                    for i in 0..r.len().max(w.len()) {
                        let got = self.byte(w.get(i).copied().unwrap_or(0));
                        if let Some(x) = r.get_mut(i) {
                            *x = got;
                        }
                    }
                }
                Operation::TransferInPlace(b) => b.iter_mut().for_each(|x| *x = self.byte(*x)),
                Operation::DelayNs(ns) => Delay.delay_ns(*ns),
            }
        }
        while rd(SPI_SR) & (1 << 12) == 0 {} // TXC
        modify(SPI_CR1, 1 << 10, 1 << 10); // CSUSP
        modify(SPI_CR1, 1, 0);
        wr(SPI_IFCR, 0xFF8);
        NFC_CS.set(true);
        Ok(())
    }
}

/// The ST25R3916's IRQ line.
pub struct NfcIrq;

impl PinErrorType for NfcIrq {
    type Error = Infallible;
}

impl InputPin for NfcIrq {
    fn is_high(&mut self) -> Result<bool, Infallible> {
        Ok(NFC_IRQ.is_high())
    }
    fn is_low(&mut self) -> Result<bool, Infallible> {
        Ok(!NFC_IRQ.is_high())
    }
}

/// Busy-wait delays on the DWT cycle counter (enabled in `main`).
#[derive(Clone, Copy)]
pub struct Delay;

impl DelayNs for Delay {
    fn delay_ns(&mut self, ns: u32) {
        let cycles = (ns as u64 * SYSCLK_HZ as u64 / 1_000_000_000) as u32;
        let start = cortex_m::peripheral::DWT::cycle_count();
        while cortex_m::peripheral::DWT::cycle_count().wrapping_sub(start) < cycles {}
    }
}

// ---- USART1 on the ST-LINK virtual COM port ---------------------------------------------------

const USART1: usize = 0x4001_1000;

pub struct HostUart;

impl HostUart {
    pub fn new() -> Self {
        wr(USART1, 0);
        wr(USART1 + 0x0C, SYSCLK_HZ / 115_200); // BRR
        wr(USART1, (1 << 29) | (1 << 3) | (1 << 2) | 1); // FIFOEN, TE, RE, UE
        Self
    }
    pub fn read(&mut self) -> Option<u8> {
        let isr = rd(USART1 + 0x1C);
        if isr & (1 << 3) != 0 {
            wr(USART1 + 0x20, 1 << 3); // clear overrun: the protocol re-sends
        }
        (isr & (1 << 5) != 0).then(|| rd(USART1 + 0x24) as u8)
    }
    pub fn write_all(&mut self, bytes: &[u8]) {
        for &b in bytes {
            while rd(USART1 + 0x1C) & (1 << 7) == 0 {}
            wr(USART1 + 0x28, b as u32);
        }
    }
}

impl Default for HostUart {
    fn default() -> Self {
        Self::new()
    }
}

// ---- TRNG --------------------------------------------------------------------------------------

const RNG: usize = 0x4802_1800;

pub struct Trng;

impl Trng {
    /// HSI48 on (the RNG's default kernel clock), the RNG enabled.
    pub fn new() -> Self {
        modify(RCC_CR, 0, 1 << 12);
        while rd(RCC_CR) & (1 << 13) == 0 {}
        modify(RCC_AHB2ENR, 0, 1 << 6);
        wr(RNG, 1 << 2);
        Self
    }
    pub fn word(&mut self) -> u32 {
        loop {
            let sr = rd(RNG + 0x04);
            if sr & 0x66 != 0 {
                // Seed or clock error: restart the generator.
                wr(RNG, 0);
                wr(RNG, 1 << 2);
                continue;
            }
            if sr & 1 != 0 {
                return rd(RNG + 0x08);
            }
        }
    }
}

impl Default for Trng {
    fn default() -> Self {
        Self::new()
    }
}

impl shikaku_protocol::endpoint::reader::Entropy for Trng {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(4) {
            let w = self.word().to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
    }
}

// ---- Keypad ------------------------------------------------------------------------------------

const LAYOUT: [[Key; 4]; 4] = [
    [Key::Digit(1), Key::Digit(2), Key::Digit(3), Key::ChoosePin],
    [Key::Digit(4), Key::Digit(5), Key::Digit(6), Key::ChooseFace],
    [Key::Digit(7), Key::Digit(8), Key::Digit(9), Key::Staff],
    [Key::Clear, Key::Digit(0), Key::Enter, Key::Cancel],
];

/// Scans the matrix every call; a key counts once when it has been down for 3 scans.
pub struct Keypad {
    down: Option<(usize, usize)>,
    stable: u8,
    reported: bool,
}

impl Keypad {
    pub const fn new() -> Self {
        Self { down: None, stable: 0, reported: false }
    }

    pub fn scan(&mut self) -> Option<(usize, usize)> {
        let mut found = None;
        for (r, row) in KEY_ROWS.iter().enumerate() {
            row.set(false);
            Delay.delay_ns(2_000);
            for (c, col) in KEY_COLS.iter().enumerate() {
                if !col.is_high() && found.is_none() {
                    found = Some((r, c));
                }
            }
            row.set(true);
        }
        found
    }

    /// The key newly pressed, if any.
    pub fn poll(&mut self) -> Option<Key> {
        let now = self.scan();
        if now != self.down {
            self.down = now;
            self.stable = 0;
            self.reported = false;
            return None;
        }
        self.stable = self.stable.saturating_add(1);
        match now {
            Some((r, c)) if self.stable >= 3 && !self.reported => {
                self.reported = true;
                Some(LAYOUT[r][c])
            }
            _ => None,
        }
    }
}

impl Default for Keypad {
    fn default() -> Self {
        Self::new()
    }
}
