//! The QEMU rig: the real `thumbv7em-none-eabihf` reader image (`firmware/image-qemu`) on
//! `qemu-system-arm -machine mps2-an386`, with
//!
//! * UART0 on a TCP server port: the host driver connects there (`tcp:127.0.0.1:PORT`);
//! * UART1 connected to this bridge: the image's NFC frontend calls are served by the
//!   simulated PICC side ([`SimFrontend`]) with a persona's virtual My Number card behind it;
//! * UART2 connected to this bridge: the panel. The image reports its phase and link state,
//!   the pairing code on its screen and its stack high-water mark; a scripted [`Patient`] (or
//!   staff member) presses keys and places or takes the card in answer, as the person at the
//!   counter would;
//! * semihosting: the image's persistent store is the file `shikaku-flash.bin` in the rig's
//!   state directory, so a second [`QemuRig::start`] on the same directory is the same reader
//!   after a restart (and killing QEMU mid-write is a power cut).
//!
//! Nothing of the reader runs on the host: session, link, ISO-DEP and the applet clients are
//! the firmware binary in QEMU.

pub mod wire;

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use shikaku_firmware::nfc::frontend::{BitRate, NfcFrontend, ShortFrame, Technology, Timeout};

use crate::sim_frontend::SimFrontend;
use crate::vcard::card::VirtualCard;

/// What the image last reported on the panel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PanelStatus {
    pub phase: String,
    pub secured: bool,
    pub clock_synced: bool,
    pub card: bool,
    pub pending: u8,
}

/// Someone at the counter, following what the reader shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patient {
    /// Nobody there.
    Away,
    /// Places the card, chooses PIN, types it, agrees; takes the card when finished.
    Pin { pin: String },
    /// Staff unlock 目視 with their passcode, the patient places the card, staff confirm the
    /// photo, the patient agrees; takes the card when finished.
    Visual { passcode: String },
    /// Every detour a reception can take: places the card, reads the expiry notice, chooses
    /// PIN and mistypes it (`wrong_pin`) until the card locks (confirming the last try), then
    /// staff unlock 目視 with `passcode` and confirm the photo; agrees; takes the card.
    Detours { wrong_pin: String, passcode: String },
}

/// The rig's shared state.
pub struct RigState {
    pub status: PanelStatus,
    /// Every phase in order of report.
    pub phases: Vec<String>,
    /// (bytes used by the main loop, stack size) from the last stack report.
    pub stack: Option<(u32, u32)>,
    /// Bytes of stack used at boot (building the reader), from the same report.
    pub boot_stack: Option<u32>,
    pub panicked: bool,
    pub patient: Patient,
    /// Sessions the patient saw through to `Finished`.
    pub finished: u32,
    /// Keys for the image, sent on the next panel turn.
    keys: VecDeque<u8>,
    /// The phase the patient last acted on (acts once per phase entry).
    acted: Option<String>,
    pub frontend_calls: u64,
    /// The pairing code the reader last showed.
    pub shown_code: Option<u32>,
    /// Staff at the reader accept a pairing whose code on the reader is this one (the code the
    /// host showed them), and reject any other.
    pub host_code: Option<u32>,
    /// Pairings staff accepted and rejected at the reader.
    pub pairings: (u32, u32),
    /// The reader's code staff last answered (they answer each code shown once).
    answered: Option<u32>,
    /// The reader's counters from its last stack report (every 2 s).
    pub counters: Option<ReaderCounters>,
}

/// What the image counts about its link and storage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReaderCounters {
    pub frames_rx: u32,
    pub frames_rejected: u32,
    pub storage_failures: u32,
    pub outbox_full: u32,
}

type Air = SimFrontend<VirtualCard>;

pub struct QemuRig {
    pub host_port: u16,
    pub state: Arc<Mutex<RigState>>,
    pub air: Arc<Mutex<Air>>,
    child: Child,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    pub qemu_log: PathBuf,
}

/// The image built by `scripts/qemu.sh build` (release), or `SHIKAKU_QEMU_IMAGE`.
pub fn default_image(root: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("SHIKAKU_QEMU_IMAGE") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("SHIKAKU_IMAGE_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/images"));
    target.join("thumbv7em-none-eabihf/release/shikaku-image-qemu")
}

/// `image` for a test, or `None` (the reason printed) when it cannot run here. Only when asked
/// for (`scripts/qemu.sh` sets `SHIKAKU_REQUIRE_QEMU` or an image directory): stale images in
/// `target/` never run. With `SHIKAKU_REQUIRE_QEMU=1` a missing image or QEMU fails the test.
pub fn image_for_test(image: PathBuf, what: &str) -> Option<PathBuf> {
    let asked = ["SHIKAKU_REQUIRE_QEMU", "SHIKAKU_QEMU_IMAGE", "SHIKAKU_IMAGE_TARGET_DIR"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    if !asked {
        eprintln!("skipped: {what} runs from scripts/qemu.sh test");
        return None;
    }
    let qemu_ok = Command::new("qemu-system-arm").arg("--version").output().is_ok_and(|o| o.status.success());
    let required = std::env::var_os("SHIKAKU_REQUIRE_QEMU").is_some_and(|v| v == "1");
    if !image.exists() || !qemu_ok {
        let why =
            format!("QEMU image {} or qemu-system-arm missing (run scripts/qemu.sh build)", image.display());
        assert!(!required, "{why}");
        eprintln!("skipped: {why}");
        return None;
    }
    Some(image)
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl QemuRig {
    /// Boots `image` in QEMU with `card` under the simulated frontend (away from the field);
    /// `state_dir` holds the image's flash (a new directory: a reader fresh from the factory,
    /// unpaired) and QEMU's log.
    pub fn start(image: &Path, card: VirtualCard, state_dir: &Path) -> std::io::Result<Self> {
        let log_dir = state_dir;
        let host_port = free_port()?;
        let fe_listener = TcpListener::bind("127.0.0.1:0")?;
        let panel_listener = TcpListener::bind("127.0.0.1:0")?;
        let fe_port = fe_listener.local_addr()?.port();
        let panel_port = panel_listener.local_addr()?.port();
        let qemu_log = log_dir.join("qemu.log");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&qemu_log)?;
        let child = Command::new("qemu-system-arm")
            .current_dir(state_dir)
            .args(["-machine", "mps2-an386", "-nographic", "-monitor", "none"])
            .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
            .arg(image)
            .args(["-serial", &format!("tcp:127.0.0.1:{host_port},server=on,wait=off")])
            .args(["-serial", &format!("tcp:127.0.0.1:{fe_port}")])
            .args(["-serial", &format!("tcp:127.0.0.1:{panel_port}")])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut sim = SimFrontend::new(card);
        sim.set_card_present(false);
        let air = Arc::new(Mutex::new(sim));
        let state = Arc::new(Mutex::new(RigState {
            status: PanelStatus::default(),
            phases: Vec::new(),
            stack: None,
            boot_stack: None,
            panicked: false,
            patient: Patient::Away,
            finished: 0,
            keys: VecDeque::new(),
            acted: None,
            frontend_calls: 0,
            shown_code: None,
            host_code: None,
            pairings: (0, 0),
            answered: None,
            counters: None,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let mut rig = Self { host_port, state, air, child, stop, threads: Vec::new(), qemu_log };
        let fe = accept(&fe_listener, &mut rig.child)?;
        let panel = accept(&panel_listener, &mut rig.child)?;
        {
            let (air, state, stop) = (rig.air.clone(), rig.state.clone(), rig.stop.clone());
            rig.threads.push(std::thread::spawn(move || serve_frontend(fe, air, state, stop)));
        }
        {
            let (air, state, stop) = (rig.air.clone(), rig.state.clone(), rig.stop.clone());
            rig.threads.push(std::thread::spawn(move || serve_panel(panel, air, state, stop)));
        }
        Ok(rig)
    }

    /// The host driver's endpoint for this reader.
    pub fn endpoint(&self) -> String {
        format!("tcp:127.0.0.1:{}", self.host_port)
    }

    /// Staff at the reader have seen `code` on the reception PC: they accept a pairing whose
    /// code on the reader's screen is the same, and reject any other.
    pub fn staff_saw_host_code(&self, code: u32) {
        if let Ok(mut s) = self.state.lock() {
            s.host_code = Some(code);
        }
    }

    /// Power cut: QEMU is killed at once, whatever it was writing.
    pub fn power_cut(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn set_patient(&self, p: Patient) {
        if let Ok(mut s) = self.state.lock() {
            s.patient = p;
            s.acted = None;
        }
    }

    pub fn status(&self) -> PanelStatus {
        self.state.lock().map(|s| s.status.clone()).unwrap_or_default()
    }

    /// Waits until `cond` holds on the state, or `timeout`.
    pub fn wait(&self, timeout: Duration, cond: impl Fn(&RigState) -> bool) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if self.state.lock().map(|s| cond(&s)).unwrap_or(false) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Whether QEMU still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for QemuRig {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.child.kill();
        let _ = self.child.wait();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn accept(l: &TcpListener, child: &mut Child) -> std::io::Result<TcpStream> {
    l.set_nonblocking(true)?;
    let t0 = Instant::now();
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(Duration::from_millis(20)))?;
                return Ok(s);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if let Ok(Some(st)) = child.try_wait() {
                    return Err(std::io::Error::other(format!("qemu exited: {st}")));
                }
                if t0.elapsed() > Duration::from_secs(20) {
                    return Err(std::io::Error::other("qemu did not connect its serial ports"));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e),
        }
    }
}

fn read_some(s: &mut TcpStream, buf: &mut [u8]) -> Option<usize> {
    match s.read(buf) {
        Ok(0) => None,
        Ok(n) => Some(n),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Some(0),
        Err(_) => None,
    }
}

/// Serves the image's frontend calls with the simulated PICC side.
fn serve_frontend(
    mut s: TcpStream,
    air: Arc<Mutex<Air>>,
    state: Arc<Mutex<RigState>>,
    stop: Arc<AtomicBool>,
) {
    let mut d = wire::FrameReader::default();
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        let Some(n) = read_some(&mut s, &mut buf) else { return };
        for &b in &buf[..n] {
            let Some((kind, p)) = d.push(b) else { continue };
            let answer = {
                let Ok(mut fe) = air.lock() else { return };
                frontend_call(&mut fe, kind, &p)
            };
            if let Ok(mut st) = state.lock() {
                st.frontend_calls += 1;
            }
            if s.write_all(&answer).is_err() {
                return;
            }
        }
    }
}

fn u32_at(p: &[u8], at: usize) -> u32 {
    p.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(0)
}

fn frontend_call(fe: &mut Air, kind: u8, p: &[u8]) -> Vec<u8> {
    let simple = |r: Result<(), shikaku_firmware::nfc::FrontendError>| match r {
        Ok(()) => wire::frame(wire::OK, &[]),
        Err(e) => wire::frame(wire::ERR, &[wire::error_code(e)]),
    };
    let frame = |r: Result<usize, shikaku_firmware::nfc::FrontendError>, rx: &[u8]| match r {
        Ok(n) => wire::frame(wire::RX, &rx[..n.min(rx.len())]),
        Err(e) => wire::frame(wire::ERR, &[wire::error_code(e)]),
    };
    let mut rx = vec![0u8; wire::MAX_PAYLOAD];
    match kind {
        wire::FIELD_ON => simple(fe.field_on()),
        wire::FIELD_OFF => simple(fe.field_off()),
        wire::CONFIGURE if p.len() == 3 => {
            let t = if p[0] == 0 { Technology::TypeA } else { Technology::TypeB };
            simple(fe.configure(t, BitRate::from_code(p[1]), BitRate::from_code(p[2])))
        }
        wire::TRANSCEIVE if p.len() >= 4 => {
            let r = fe.transceive(&p[4..], &mut rx, Timeout::from_fc(u32_at(p, 0)));
            frame(r, &rx)
        }
        wire::SHORT if p.len() == 5 => {
            let f = if p[0] == 0x26 { ShortFrame::Reqa } else { ShortFrame::Wupa };
            let r = fe.transceive_short_frame(f, &mut rx, Timeout::from_fc(u32_at(p, 1)));
            frame(r, &rx)
        }
        wire::BITS => wire::frame(wire::ERR, &[7]),
        wire::GUARD => simple(fe.guard_time(Timeout::from_fc(u32_at(p, 0)))),
        _ => wire::frame(wire::ERR, &[5]),
    }
}

/// The panel: boot configuration, status in, keys and card moves out.
fn serve_panel(mut s: TcpStream, air: Arc<Mutex<Air>>, state: Arc<Mutex<RigState>>, stop: Arc<AtomicBool>) {
    let mut d = wire::FrameReader::default();
    let mut buf = [0u8; 1024];
    while !stop.load(Ordering::SeqCst) {
        let Some(n) = read_some(&mut s, &mut buf) else { return };
        let mut out = Vec::new();
        for &b in &buf[..n] {
            let Some((kind, p)) = d.push(b) else { continue };
            match kind {
                wire::BOOT => {
                    // The image's TRNG stand-in (session ids, the reader's nonces and pairing
                    // secrets): without the OS generator the reader does not boot, rather than
                    // run on an all-zero seed.
                    let mut seed = [0u8; 32];
                    if let Err(e) = shikaku_host::os::fill(&mut seed) {
                        eprintln!("qemu rig: no seed for the reader: {e}");
                        return;
                    }
                    out.extend(wire::frame(wire::CONFIG, &seed));
                }
                // Another kind of screen: the person at the counter looks again (a wrong PIN
                // brings the PIN entry back without another phase in between).
                wire::SCREEN if !p.is_empty() => {
                    if let Ok(mut st) = state.lock() {
                        // The phase the screen belongs to: the status report comes later.
                        let phase = String::from_utf8_lossy(&p[1..]).into_owned();
                        if !phase.is_empty() && st.status.phase != phase {
                            st.status.phase = phase.clone();
                            st.phases.push(phase);
                        }
                        st.acted = None;
                    }
                }
                wire::PAIRING_CODE if p.len() >= 4 => {
                    if let Ok(mut st) = state.lock() {
                        st.shown_code = Some(u32_at(&p, 0));
                        st.acted = None;
                    }
                }
                wire::STATUS if p.len() >= 5 => {
                    let Ok(mut st) = state.lock() else { return };
                    if p[0] == 0xFF {
                        st.panicked = true;
                    }
                    st.status = PanelStatus {
                        phase: String::from_utf8_lossy(&p[5..]).into_owned(),
                        secured: p[1] != 0,
                        clock_synced: p[2] != 0,
                        card: p[3] != 0,
                        pending: p[4],
                    };
                    if st.phases.last() != Some(&st.status.phase) {
                        let ph = st.status.phase.clone();
                        st.phases.push(ph);
                    }
                }
                wire::STACK if p.len() >= 8 => {
                    if let Ok(mut st) = state.lock() {
                        st.stack = Some((u32_at(&p, 0), u32_at(&p, 4)));
                        if p.len() >= 12 {
                            st.boot_stack = Some(u32_at(&p, 8));
                        }
                        if p.len() >= 28 {
                            st.counters = Some(ReaderCounters {
                                frames_rx: u32_at(&p, 12),
                                frames_rejected: u32_at(&p, 16),
                                storage_failures: u32_at(&p, 20),
                                outbox_full: u32_at(&p, 24),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        // The person at the counter reacts to what the reader shows.
        if let (Ok(mut st), Ok(mut fe)) = (state.lock(), air.lock()) {
            act(&mut st, &mut fe);
            if !st.keys.is_empty() {
                let keys: Vec<u8> = st.keys.drain(..).collect();
                out.extend(wire::frame(wire::KEYS_RX, &keys));
            }
        }
        if !out.is_empty() && s.write_all(&out).is_err() {
            return;
        }
    }
}

const KEY_STAFF: u8 = 15;
const KEY_CHOOSE_PIN: u8 = 14;
const KEY_YES: u8 = 16;
const KEY_NO: u8 = 17;
const KEY_ENTER: u8 = 11;

fn digits(s: &str) -> impl Iterator<Item = u8> + '_ {
    s.bytes().map(|b| b.wrapping_sub(b'0'))
}

/// One step of the patient or staff, once per phase entered.
fn act(st: &mut RigState, fe: &mut Air) {
    let status = st.status.clone();
    let phase = status.phase.as_str();
    if st.acted.as_deref() == Some(phase) {
        return;
    }
    // Staff compare the code on the reader with the one the reception PC showed them.
    if phase == "PairingConfirm" {
        if let (Some(shown), Some(host)) = (st.shown_code, st.host_code) {
            if st.answered != Some(shown) {
                st.answered = Some(shown);
                if shown == host {
                    st.keys.push_back(KEY_YES);
                    st.pairings.0 += 1;
                } else {
                    st.keys.push_back(KEY_NO);
                    st.pairings.1 += 1;
                }
            }
        }
        return;
    }
    if !(status.secured && status.clock_synced) {
        return;
    }
    let mut acted = true;
    match (st.patient.clone(), phase) {
        (Patient::Away, _) => acted = false,
        (Patient::Pin { .. }, "Idle") => fe.set_card_present(true),
        (Patient::Pin { .. }, "ChooseMethod") => st.keys.push_back(KEY_CHOOSE_PIN),
        (Patient::Pin { pin }, "PinEntry") => st.keys.extend(digits(&pin)),
        (Patient::Visual { .. }, "Idle") => st.keys.push_back(KEY_STAFF),
        (Patient::Visual { passcode }, "PasscodeEntry") => st.keys.extend(digits(&passcode)),
        (Patient::Visual { .. }, "VisualArmed") => fe.set_card_present(true),
        (Patient::Visual { .. }, "VisualCheck") => st.keys.push_back(KEY_YES),
        (Patient::Detours { .. }, "Idle") => fe.set_card_present(true),
        (Patient::Detours { .. }, "CertNotice") => st.keys.push_back(KEY_ENTER),
        (Patient::Detours { .. }, "ChooseMethod") => st.keys.push_back(KEY_CHOOSE_PIN),
        (Patient::Detours { wrong_pin, .. }, "PinEntry") => st.keys.extend(digits(&wrong_pin)),
        (Patient::Detours { .. }, "PinConfirmLastTry") => st.keys.push_back(KEY_YES),
        (Patient::Detours { .. }, "PinLocked") => st.keys.push_back(KEY_STAFF),
        (Patient::Detours { passcode, .. }, "PasscodeEntry") => st.keys.extend(digits(&passcode)),
        (Patient::Detours { .. }, "VisualCheck") => st.keys.push_back(KEY_YES),
        (_, "ConsentIntro") => st.keys.push_back(KEY_YES),
        (_, "Finished") => {
            fe.set_card_present(false);
            st.finished += 1;
            st.patient = Patient::Away;
        }
        _ => acted = false,
    }
    if acted {
        st.acted = Some(phase.to_owned());
    }
}
