//! The CMSDK APB UART of the MPS2 FPGA images (ARM DDI 0479): DATA, STATE (bit 0 TX full,
//! bit 1 RX full), CTRL (bit 0 TX enable, bit 1 RX enable), INTSTATUS, BAUDDIV.

pub const UART0: usize = 0x4000_4000;
pub const UART1: usize = 0x4000_5000;
pub const UART2: usize = 0x4000_6000;

const DATA: usize = 0x00;
const STATE: usize = 0x04;
const CTRL: usize = 0x08;
const BAUDDIV: usize = 0x10;
const TX_FULL: u32 = 1 << 0;
const RX_FULL: u32 = 1 << 1;

pub struct Uart {
    base: usize,
}

impl Uart {
    /// Enables TX and RX (the baud divisor only matters on the FPGA; QEMU needs it ≥ 16).
    pub fn new(base: usize) -> Self {
        let u = Self { base };
        u.w(BAUDDIV, 16);
        u.w(CTRL, 0b11);
        u
    }

    fn r(&self, off: usize) -> u32 {
        // SAFETY: a CMSDK UART register of the MPS2 memory map.
        unsafe { core::ptr::read_volatile((self.base + off) as *const u32) }
    }

    fn w(&self, off: usize, v: u32) {
        // SAFETY: a CMSDK UART register of the MPS2 memory map.
        unsafe { core::ptr::write_volatile((self.base + off) as *mut u32, v) }
    }

    pub fn read(&mut self) -> Option<u8> {
        (self.r(STATE) & RX_FULL != 0).then(|| self.r(DATA) as u8)
    }

    pub fn write_all(&mut self, bytes: &[u8]) {
        for &b in bytes {
            while self.r(STATE) & TX_FULL != 0 {}
            self.w(DATA, b as u32);
        }
    }
}
