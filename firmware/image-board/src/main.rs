//! The reader firmware on the reference board (see [`board`] for the pin map and
//! `firmware/README.md` for wiring, flashing and logs): boots the Cortex-M7 of the
//! STM32H747I-DISCO, brings up the pins, SPI5, the ST25R3916, the host link and the keypad,
//! then runs the shared main loop ([`shikaku_image_core::Reader`]: session core, reader link,
//! card operations over the ST25R3916 driver). Logs go out as defmt over RTT.
#![no_std]
#![no_main]

mod board;
mod flash;
mod usb;

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use defmt_rtt as _;
use panic_probe as _;
use shikaku_firmware::nfc::NfcFrontend;
use shikaku_firmware::session::{Key, Phase, Screen};
use shikaku_firmware::st25r3916::St25r3916;
use shikaku_image_core::storage::FlashStorage;
use shikaku_image_core::{phase_name, Platform, Reader, Status, Storage};
use shikaku_store::Store;
use shikaku_protocol::endpoint::reader::{Entropy, Identity};
use shikaku_protocol::message::{Capabilities, FirmwareVersion};
use shikaku_protocol::Instant;

/// The reader's serial number (hello, USB serial string, pairing key file on the PC).
const SERIAL: &str = "SK-H747-0001";

static MILLIS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}

/// Milliseconds since boot (wraps after 49 days; the session only compares nearby times, and
/// the high word is tracked in `Board`).
fn millis() -> u32 {
    MILLIS.load(Ordering::Relaxed)
}

struct Board {
    host: board::HostUart,
    usb: Option<usb::Usb>,
    keypad: board::Keypad,
    trng: board::Trng,
    /// The session's phase, for the keys that change meaning on question screens.
    phase: Phase,
    last_ms: u32,
    high: u64,
    /// The pairing key, 目視 accounts, passcode failures and unacknowledged identities, in
    /// the last two sectors of flash bank 2.
    storage: Option<FlashStorage<flash::InternalFlash>>,
}

impl Platform for Board {
    fn now(&mut self) -> Instant {
        let m = millis();
        if m < self.last_ms {
            self.high += 1 << 32;
        }
        self.last_ms = m;
        Instant::from_millis(self.high | m as u64)
    }
    fn host_read(&mut self, buf: &mut [u8]) -> usize {
        // USB when the host configured the device, the ST-LINK serial port otherwise.
        if let Some(u) = self.usb.as_mut() {
            u.poll();
            if u.configured() {
                return u.pipe.read(buf);
            }
        }
        shikaku_image_core::read_available(buf, || self.host.read())
    }
    fn host_write(&mut self, bytes: &[u8]) {
        match self.usb.as_mut() {
            Some(u) if u.configured() => u.write_all(bytes),
            _ => self.host.write_all(bytes),
        }
    }
    fn key(&mut self) -> Option<Key> {
        let k = self.keypad.poll()?;
        // On question screens 決 answers はい and 消 いいえ.
        let question = matches!(
            self.phase,
            Phase::ConsentIntro
                | Phase::Consent
                | Phase::VisualCheck
                | Phase::PinConfirmLastTry
                | Phase::Registration
        );
        Some(match k {
            Key::Enter if question => Key::Yes,
            Key::Clear if question => Key::No,
            k => k,
        })
    }
    fn show(&mut self, screen: &Screen, phase: Phase) {
        // The DSI panel driver is not written yet (firmware/README.md): the screen goes to
        // the log, in English, never with a PIN or a name.
        defmt::info!("screen [{}]: {}", phase_name(phase), screen.en().0);
    }
    fn status(&mut self, s: Status) {
        self.phase = s.phase;
        board::led(1, s.card);
        board::led(2, s.secured);
    }
    fn entropy(&mut self) -> &mut dyn Entropy {
        &mut self.trng
    }
    fn storage(&mut self) -> Option<&mut dyn Storage> {
        self.storage.as_mut().map(|s| s as &mut dyn Storage)
    }
}

type Nfc = St25r3916<board::NfcSpi, board::NfcIrq, board::Delay>;
type BoardReader = Reader<Nfc>;

#[entry]
fn main() -> ! {
    let Some(mut cp) = cortex_m::Peripherals::take() else { panic!("core peripherals taken") };
    cp.DCB.enable_trace();
    cp.DWT.enable_cycle_counter();
    cp.SYST.set_clock_source(SystClkSource::Core);
    cp.SYST.set_reload(board::SYSCLK_HZ / 1000 - 1);
    cp.SYST.clear_current();
    cp.SYST.enable_counter();
    cp.SYST.enable_interrupt();

    board::init_pins();
    defmt::info!("shikaku reader {} booting", env!("CARGO_PKG_VERSION"));
    let mut nfc = St25r3916::new(board::NfcSpi::new(), board::NfcIrq, board::Delay);
    match nfc.init() {
        Ok(id) => defmt::info!("ST25R3916 ready (IC identity {=u8:#04x})", id),
        Err(e) => {
            defmt::error!("ST25R3916 not answering: {}", e);
            board::led(3, true);
        }
    }
    let _ = nfc.field_off();

    let trng = board::Trng::new();
    let usb = cortex_m::singleton!(: [u32; 1024] = [0; 1024])
        .and_then(|mem| cortex_m::singleton!(: usb_device::bus::UsbBusAllocator<usb::Bus> = synopsys_usb_otg::UsbBus::new(usb::OtgHs, mem)))
        .and_then(|alloc| usb::Usb::new(alloc, SERIAL));
    if usb.is_none() {
        defmt::warn!("USB device not built; serial host link only");
    }
    let mut plat = Board {
        host: board::HostUart::new(),
        usb,
        keypad: board::Keypad::new(),
        trng,
        phase: Phase::Idle,
        last_ms: 0,
        high: 0,
        storage: None,
    };
    let mut first = [0u8; 4];
    plat.trng.fill(&mut first);
    // What was kept before this start. A store that cannot be opened leaves the reader as new
    // (unpaired: pairing opens to staff at the keypad).
    let mut storage = match Store::new(flash::InternalFlash::new(), 0..flash::CAPACITY as u32) {
        Ok(store) => Some(FlashStorage::new(store)),
        Err(e) => {
            defmt::error!("persistent store not usable: {}", e);
            None
        }
    };
    let key = storage.as_mut().and_then(|s| s.pairing_key().ok().flatten());
    let id = Identity {
        firmware: FirmwareVersion { major: 0, minor: 1, patch: 0, build: "board" },
        serial: SERIAL,
        model: "shikaku-stm32h747i-disco",
        capabilities: Capabilities(Capabilities::PIN_KEYPAD | Capabilities::VISUAL_MODE),
    };
    let first_session = u32::from_le_bytes(first) & 0x7FFF_FFFF;
    let Some(reader) = cortex_m::singleton!(: BoardReader = Reader::new(id, key, first_session, nfc)) else {
        panic!("reader already built")
    };
    if let Some(s) = storage.as_mut() {
        let now = plat.now();
        if let Err(e) = s.restore(reader, now) {
            defmt::error!("persistent store: {}", e);
        }
    }
    plat.storage = storage;
    defmt::info!("main loop");
    loop {
        reader.poll(&mut plat);
        board::led(0, reader.frontend_mut().field());
    }
}
