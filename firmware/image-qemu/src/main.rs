//! The reader firmware on QEMU's `mps2-an386` (Cortex-M4F, 25 MHz): the same main loop as the
//! board ([`shikaku_image_core::Reader`]: session core, reader link, card operations over
//! Type B + ISO-DEP + ISO 7816), with the board's drivers swapped for CMSDK APB UARTs:
//!
//! * UART0 (`0x4000_4000`): the host link, raw protocol frames (QEMU `-serial tcp::PORT,server`;
//!   the host driver connects with `tcp:127.0.0.1:PORT`).
//! * UART1 (`0x4000_5000`): the NFC frontend as remote calls to the rig's bridge, which serves
//!   them with the simulated PICC side and the virtual My Number card.
//! * UART2 (`0x4000_6000`): the panel: keys in, phase/status, the pairing code on screen and
//!   stack reports out, and the boot configuration (an entropy seed) from the rig.
//! * Semihosting: the persistent store ([`shikaku_store`]) on an emulated NOR flash, the file
//!   `shikaku-flash.bin` in QEMU's working directory: the pairing key staff accepted, the 目視
//!   accounts, the passcode failure count and unacknowledged identities survive a restart (or
//!   QEMU killed mid-write: a power cut).
//!
//! Time is SysTick at 1 kHz. The stack is painted at boot; its high-water mark is reported on
//! the panel every 2 s (`scripts/size.sh` prints it).
#![no_std]
#![no_main]

mod cmsdk;
mod flash;
mod rng;

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use heapless::Deque;
use shikaku_firmware::session::{Key, Phase, Screen};
use shikaku_image_core::uart_frontend::{Serial, UartFrontend};
use shikaku_image_core::wire::{self, Deframer};
use shikaku_image_core::storage::FlashStorage;
use shikaku_image_core::{phase_name, Platform, Reader, Status, Storage};
use shikaku_store::Store;
use shikaku_protocol::endpoint::reader::{Entropy, Identity};
use shikaku_protocol::message::{Capabilities, FirmwareVersion};
use shikaku_protocol::{Duration, Instant};

use cmsdk::Uart;

const SYSCLK_HZ: u32 = 25_000_000;
static MILLIS: AtomicU32 = AtomicU32::new(0);
static MILLIS_HI: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    let m = MILLIS.load(Ordering::Relaxed).wrapping_add(1);
    MILLIS.store(m, Ordering::Relaxed);
    if m == 0 {
        MILLIS_HI.fetch_add(1, Ordering::Relaxed);
    }
}

fn now() -> Instant {
    loop {
        let hi = MILLIS_HI.load(Ordering::Relaxed);
        let lo = MILLIS.load(Ordering::Relaxed);
        if hi == MILLIS_HI.load(Ordering::Relaxed) {
            return Instant::from_millis(((hi as u64) << 32) | lo as u64);
        }
    }
}

/// UART1 as the frontend's serial line.
struct FrontendPort(Uart);

impl Serial for FrontendPort {
    fn read(&mut self) -> Option<u8> {
        self.0.read()
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.write_all(bytes)
    }
    fn now(&mut self) -> Instant {
        now()
    }
}

struct Qemu {
    host: Uart,
    panel: Uart,
    panel_rx: Deframer,
    keys: Deque<Key, 32>,
    rng: rng::HashDrbg,
    last_stack_report: Instant,
    storage: Option<FlashStorage<flash::SemihostFlash>>,
    last_screen: u8,
}

impl Qemu {
    fn pump_panel(&mut self) {
        while let Some(b) = self.panel.read() {
            if let Some((kind, n)) = self.panel_rx.push(b) {
                if kind == wire::KEYS_RX {
                    for &c in self.panel_rx.payload(n) {
                        if let Some(k) = Key::from_code(c) {
                            let _ = self.keys.push_back(k);
                        }
                    }
                }
            }
        }
    }

    fn panel_send(&mut self, kind: u8, parts: &[&[u8]]) {
        let p = &mut self.panel;
        wire::encode(kind, parts, |b| p.write_all(b));
    }
}

impl Platform for Qemu {
    fn now(&mut self) -> Instant {
        now()
    }
    fn host_read(&mut self, buf: &mut [u8]) -> usize {
        shikaku_image_core::read_available(buf, || self.host.read())
    }
    fn host_write(&mut self, bytes: &[u8]) {
        self.host.write_all(bytes)
    }
    fn key(&mut self) -> Option<Key> {
        self.pump_panel();
        self.keys.pop_front()
    }
    fn show(&mut self, screen: &Screen, phase: Phase) {
        // The display is the rig's: the kind of screen (a wrong PIN comes back to the same
        // phase with another screen in between) with the phase it belongs to (the status report
        // comes only at the end of the poll), and the pairing code staff compare.
        let kind = screen.kind();
        if self.last_screen != kind {
            self.last_screen = kind;
            self.panel_send(wire::SCREEN, &[&[kind], phase_name(phase).as_bytes()]);
        }
        if let Screen::PairingCode { code } = screen {
            self.panel_send(wire::PAIRING_CODE, &[&code.to_le_bytes()]);
        }
    }
    fn status(&mut self, s: Status) {
        let head = [s.phase as u8, s.secured as u8, s.clock_synced as u8, s.card as u8, s.pending];
        let name = phase_name(s.phase);
        self.panel_send(wire::STATUS, &[&head, name.as_bytes()]);
    }
    fn entropy(&mut self) -> &mut dyn Entropy {
        &mut self.rng
    }
    fn storage(&mut self) -> Option<&mut dyn Storage> {
        self.storage.as_mut().map(|s| s as &mut dyn Storage)
    }
}

type QemuReader = Reader<UartFrontend<FrontendPort>>;

#[entry]
fn main() -> ! {
    stack::paint();
    let (reader, mut plat) = init();
    // Building the reader (its ~40 KB are assembled on the stack before they move into the
    // static) is the boot peak; the main loop's own high-water mark is measured afresh.
    let boot = stack::high_water().0;
    stack::paint();
    run(reader, &mut plat, boot)
}

#[inline(never)]
fn init() -> (&'static mut QemuReader, Qemu) {
    let Some(mut cp) = cortex_m::Peripherals::take() else { panic!("core peripherals taken") };
    cp.SYST.set_clock_source(SystClkSource::Core);
    cp.SYST.set_reload(SYSCLK_HZ / 1000 - 1);
    cp.SYST.clear_current();
    cp.SYST.enable_counter();
    cp.SYST.enable_interrupt();

    let host = Uart::new(cmsdk::UART0);
    let fe_uart = Uart::new(cmsdk::UART1);
    let panel = Uart::new(cmsdk::UART2);

    let mut plat = Qemu {
        host,
        panel,
        panel_rx: Deframer::new(),
        keys: Deque::new(),
        rng: rng::HashDrbg::new([0; 32]),
        last_stack_report: Instant::ZERO,
        storage: None,
        last_screen: 0,
    };
    // Boot configuration from the rig: an entropy seed.
    let seed = boot_config(&mut plat);
    // What was kept before this start; a store that cannot be opened leaves the reader as new.
    let mut storage = flash::SemihostFlash::open()
        .ok()
        .and_then(|f| Store::new(f, 0..flash::CAPACITY as u32).ok())
        .map(FlashStorage::new);
    let key = storage.as_mut().and_then(|s| s.pairing_key().ok().flatten());
    plat.rng = rng::HashDrbg::new(seed);
    let mut first = [0u8; 4];
    plat.rng.fill(&mut first);

    let id = Identity {
        firmware: FirmwareVersion { major: 0, minor: 1, patch: 0, build: "qemu" },
        serial: "SK-QEMU-0001",
        model: "shikaku-qemu-mps2-an386",
        capabilities: Capabilities(Capabilities::PIN_KEYPAD | Capabilities::VISUAL_MODE),
    };
    let fe = UartFrontend::new(FrontendPort(fe_uart));
    let first_session = u32::from_le_bytes(first) & 0x7FFF_FFFF;
    let Some(reader) = cortex_m::singleton!(: QemuReader = Reader::new(id, key, first_session, fe)) else {
        panic!("reader already built")
    };
    if let Some(s) = storage.as_mut() {
        if s.restore(reader, now()).is_err() {
            reader.storage_failures = reader.storage_failures.wrapping_add(1);
        }
    }
    plat.storage = storage;
    (reader, plat)
}

#[inline(never)]
fn run(reader: &'static mut QemuReader, plat: &mut Qemu, boot_stack: u32) -> ! {
    loop {
        reader.poll(plat);
        let now = now();
        if now - plat.last_stack_report >= Duration::from_secs(2) {
            plat.last_stack_report = now;
            let (used, size) = stack::high_water();
            plat.panel_send(
                wire::STACK,
                &[
                    &used.to_le_bytes(),
                    &size.to_le_bytes(),
                    &boot_stack.to_le_bytes(),
                    &reader.frames_rx.to_le_bytes(),
                    &reader.frames_rejected.to_le_bytes(),
                    &reader.storage_failures.to_le_bytes(),
                    &reader.outbox_full.to_le_bytes(),
                ],
            );
        }
        // Sleep until the next SysTick (1 ms): the UARTs hold their bytes meanwhile.
        cortex_m::asm::wfi();
    }
}

/// Asks the rig for the boot configuration on the panel line: the entropy seed (waits up to
/// 10 s, then runs with a fixed seed).
fn boot_config(p: &mut Qemu) -> [u8; 32] {
    p.panel_send(wire::BOOT, &[]);
    let t0 = now();
    while now() - t0 < Duration::from_secs(10) {
        while let Some(b) = p.panel.read() {
            if let Some((wire::CONFIG, n)) = p.panel_rx.push(b) {
                let c = p.panel_rx.payload(n);
                if c.len() >= 32 {
                    let mut seed = [0u8; 32];
                    seed.copy_from_slice(&c[..32]);
                    return seed;
                }
            }
        }
    }
    [0x5A; 32]
}

mod stack {
    //! Stack painting: everything between the statics and the current stack pointer is filled
    //! with a pattern at boot; the lowest overwritten word gives the high-water mark.
    const PAINT: u32 = 0xCCCC_CCCC;
    extern "C" {
        static mut _stack_end: u32;
        static mut _stack_start: u32;
    }

    fn bounds() -> (usize, usize) {
        // SAFETY: only the addresses of the linker symbols are taken.
        (core::ptr::addr_of!(_stack_end) as usize, core::ptr::addr_of!(_stack_start) as usize)
    }

    #[inline(never)]
    pub fn paint() {
        let (bottom, _) = bounds();
        let sp = cortex_m::register::msp::read() as usize;
        let mut p = bottom;
        // Leave 256 bytes below the current frame alone.
        while p + 4 <= sp.saturating_sub(256) {
            // SAFETY: [bottom, sp - 256) is unused stack RAM above the statics.
            unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
            p += 4;
        }
    }

    /// (bytes of stack ever used, stack size).
    pub fn high_water() -> (u32, u32) {
        let (bottom, top) = bounds();
        let mut p = bottom;
        // SAFETY: reading the stack region word by word.
        while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
            p += 4;
        }
        ((top - p) as u32, (top - bottom) as u32)
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // Report on the panel line so the rig sees it, then stop.
    let mut u = Uart::new(cmsdk::UART2);
    wire::encode(wire::STATUS, &[&[0xFF, 0, 0, 0, 0], b"Panic"], |b| u.write_all(b));
    loop {
        cortex_m::asm::wfi();
    }
}
