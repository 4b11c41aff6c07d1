//! Security checks on the host side, end to end:
//! - a fake reader without the pairing key cannot get a verified identity into the host App:
//!   not a device claiming a paired reader's serial with another key, not a replay of a
//!   genuine reader's recorded bytes, not a plain (unauthenticated) `VerifiedIdentity` frame;
//! - replayed and reordered frames are refused by the host endpoint, and no message is taken
//!   twice (the reader's outbox re-sends what a refused frame carried);
//! - a full run of the driver (`shikaku_host::app::run`: readers, eligibility over HTTP,
//!   journal, `face` folder, `req` → `res`, JSON API) leaves no PIN, no 12-digit My Number
//!   and no image bytes in its logs (every `tracing` and `log` record captured), the journal,
//!   the eligibility service's database or the XML it wrote.
//!
//! The protocol's own unit tests check forged, replayed and reflected frames at the link; the
//! forwarder-level disk scan is in `eligibility_offline.rs`.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shikaku_firmware::session::{Event, Phase};
use shikaku_hil::sim_device::SimDevice;
use shikaku_hil::sim_reader::SimReader;
use shikaku_hil::testkit::{self, digit_runs, NOW_UNIX_MS};
use shikaku_hil::vcard::{self, persona};
use shikaku_host::app::AppEvent;
use shikaku_host::config::Config;
use shikaku_host::journal::Journal;
use shikaku_host::keystore::KeyStore;
use shikaku_host::reader::{HostEndpoint, HostEvent};
use shikaku_protocol::auth::PairingKey;
use shikaku_protocol::deframer::Deframer;
use shikaku_protocol::frame::{self, Header};
use shikaku_protocol::message::{msg_type, Message};
use shikaku_protocol::{Frame, MAX_FRAME};

const KEY: [u8; 32] = [0x4B; 32];
/// JPEG 2000 (JP2) file signature box.
const JP2_SIGNATURE: [u8; 8] = [0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20];

/// Splits a byte stream into frames.
fn frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut d: Box<Deframer<MAX_FRAME>> = Box::new(Deframer::new());
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = d.push(rest);
        rest = &rest[n..];
        while let Some(f) = d.next_frame() {
            if let Ok(f) = f {
                out.push(f.bytes().to_vec());
            }
        }
    }
    out
}

/// The in-memory PIN session of `link_session.rs`; `mangle` may change the reader → host
/// frames of each step before the host sees them. Returns what the host took and refused.
struct Taken {
    taken: Vec<(u32, u32, u8)>,
    refused: usize,
    /// Every frame the reader sent, in order (for replays).
    sent: Vec<Vec<u8>>,
}

fn session(mut mangle: impl FnMut(usize, Vec<Vec<u8>>) -> Vec<Vec<u8>>) -> (Taken, HostEndpoint, SimReader) {
    let mut reader = SimReader::new(KEY, "SK-SEC-LINK");
    let mut host = HostEndpoint::new(Some(PairingKey(KEY)), [0; 16]);
    let mut t = Taken { taken: Vec::new(), refused: 0, sent: Vec::new() };
    let mut script = testkit::pin_session_script().into_iter().peekable();
    host.connect([7; 16]);
    // Virtual time of the reader's monotonic clock.
    let mut now = shikaku_protocol::Instant::from_millis(1_000);
    let mut step = 0usize;
    while now.as_millis() < 30_000 {
        now += shikaku_protocol::Duration::from_millis(50);
        while script.peek().is_some_and(|(at, _)| *at <= now.as_millis()) {
            let (_, e) = script.next().unwrap();
            reader.event(now, e);
        }
        reader.event(now, Event::Tick);
        while let Some(b) = host.poll_transmit() {
            reader.receive(now, &b);
        }
        let out = frames(&reader.transmit(now));
        t.sent.extend(out.iter().cloned());
        // The network is asked every step, with or without new frames: what it held back
        // comes out later (the hello needs the host's answer before the reader sends more).
        let delivered = mangle(step, out);
        step += 1;
        for f in delivered {
            for e in host.receive(&f) {
                match e {
                    HostEvent::Secured(_) => {
                        host.send(&Message::TimeSync { unix_ms: NOW_UNIX_MS + now.as_millis() }).unwrap();
                        host.send(&Message::HostChallenge { challenge: [0xC1; 32] }).unwrap();
                    }
                    HostEvent::Result(m) | HostEvent::Status(m) => {
                        host.ack(m.session, m.seq);
                        if m.msg_type() == msg_type::CERTIFICATE_READ {
                            host.send(&Message::RegistrationStatus { registered: true }).unwrap();
                        }
                        t.taken.push((m.session, m.seq, m.msg_type()));
                    }
                    HostEvent::Rejected(_) => t.refused += 1,
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    }
    (t, host, reader)
}

fn assert_once(taken: &[(u32, u32, u8)], what: &str) {
    let mut keys: Vec<(u32, u32)> = taken.iter().map(|t| (t.0, t.1)).collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "{what}: a message taken twice");
    let ids = taken.iter().filter(|t| t.2 == msg_type::VERIFIED_IDENTITY).count();
    assert!(ids <= 1, "{what}: {ids} identities");
}

#[test]
fn replayed_frames_are_refused_by_the_host_endpoint() {
    let (clean, mut host, _) = session(|_, f| f);
    assert_once(&clean.taken, "clean");
    assert_eq!(clean.refused, 0);
    // Every frame the reader sent after its hello, again, on the same connection: each one
    // refused (its counter is spent), none taken.
    let mut refused = 0;
    for f in &clean.sent[1..] {
        for e in host.receive(f) {
            match e {
                HostEvent::Rejected(_) => refused += 1,
                HostEvent::Result(m) | HostEvent::Status(m) => {
                    panic!("replayed frame taken: type {:#04x} {}/{}", m.msg_type(), m.session, m.seq)
                }
                _ => {}
            }
        }
    }
    assert_eq!(refused, clean.sent.len() - 1, "every replayed frame refused");

    // The whole recording with its hello, on the same connection: still nothing taken twice.
    let mut events = Vec::new();
    for f in &clean.sent {
        events.extend(host.receive(f));
    }
    assert!(
        !events.iter().any(|e| matches!(e, HostEvent::Result(_) | HostEvent::Status(_))),
        "replayed session taken again: {events:?}"
    );

    // On a new connection (fresh nonces) the recorded bytes do not secure the link.
    let mut fresh = HostEndpoint::new(Some(PairingKey(KEY)), [0; 16]);
    fresh.connect([9; 16]);
    let mut events = Vec::new();
    for f in &clean.sent {
        events.extend(fresh.receive(f));
    }
    assert!(!fresh.is_secured(), "{events:?}");
    assert!(
        !events.iter().any(|e| matches!(e, HostEvent::Result(_) | HostEvent::Status(_))),
        "a replayed session was taken on a new connection: {events:?}"
    );
}

#[test]
fn reordered_frames_are_refused_and_each_message_is_still_taken_once() {
    let (clean, _, _) = session(|_, f| f);
    let mut refused_total = 0;
    let steps = 200;
    for k in 0..steps {
        // At the k-th step that carries frames: hold them back and deliver them after the
        // next step's frames (a reordering network); at steps with several frames, reverse.
        let mut held: Option<Vec<Vec<u8>>> = None;
        let mut seen = 0usize;
        let (t, _, reader) = session(|_, mut f| {
            if f.is_empty() {
                return held.take().unwrap_or_default();
            }
            let i = seen;
            seen += 1;
            if i == k {
                if f.len() > 1 {
                    f.reverse();
                    return f;
                }
                held = Some(f);
                return Vec::new();
            }
            if let Some(h) = held.take() {
                f.extend(h);
            }
            f
        });
        if seen <= k {
            break;
        }
        assert_once(&t.taken, &format!("reorder at {k}"));
        refused_total += t.refused;
        // Nothing lost: everything the clean run took arrives (re-sent by the outbox).
        let mut a: Vec<_> = t.taken.iter().map(|x| x.2).collect();
        let mut b: Vec<_> = clean.taken.iter().map(|x| x.2).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b, "reorder at {k}");
        assert_eq!(reader.link.pending(), 0, "reorder at {k}");
    }
    assert!(refused_total > 0, "no reordered frame was refused");
}

// ---- the App ----

fn config(home: &Path, endpoint: &str, url: &str) -> Config {
    Config {
        encoding: shikaku_host::receipt::FileEncoding::Utf8,
        api_listen: "127.0.0.1:0".into(),
        ..testkit::host_config(home, &[endpoint], url)
    }
}

/// Serves `bytes` to whoever connects (a fake USB device on the reader's port), then idles.
fn fake_device(bytes: Vec<u8>) -> (String, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    std::thread::spawn(move || {
        let mut conns = Vec::new();
        while !s.load(Ordering::SeqCst) {
            if let Ok((mut c, _)) = listener.accept() {
                let _ = c.write_all(&bytes);
                conns.push(c);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    (format!("tcp:127.0.0.1:{port}"), stop)
}

fn run_app(cfg: &Config, for_ms: u64, device: Option<&SimDevice>) -> Vec<AppEvent> {
    let client =
        testkit::one_try_client(&cfg.eligibility_url, Duration::from_millis(300), Duration::from_secs(3));
    let (mut app, rx) = testkit::start_app(cfg, client);
    let mut events = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(for_ms) {
        if let Ok(e) = rx.recv_timeout(Duration::from_millis(20)) {
            events.extend(app.on_event(e));
        }
        if let Some(d) = device {
            let mut r = d.reader.lock().unwrap();
            if r.link.is_secured() && r.session.phase() == Phase::Idle {
                r.event(shikaku_protocol::Instant::ZERO, Event::CardPresent);
            }
        }
    }
    events
}

#[test]
fn a_fake_reader_without_the_pairing_key_cannot_inject_an_identity_through_the_app() {
    let home = tempfile::tempdir().unwrap();
    let svc = testkit::eligibility_service(home.path(), 0).unwrap();
    KeyStore::new(&home.path().join("keys")).store("SK-SEC-LINK", &PairingKey(KEY)).unwrap();

    // 1. A device that claims the paired reader's serial but holds another key.
    let issued = vcard::build(&persona::find("yamada").unwrap()).unwrap().1;
    let impostor = SimReader::new([0x99; 32], "SK-SEC-LINK").with_persona_card(&issued);
    let device = SimDevice::spawn(impostor).unwrap();
    let cfg = config(home.path(), &device.endpoint(), &svc.url());
    let events = run_app(&cfg, 1_500, Some(&device));
    assert!(events.iter().any(|e| matches!(e, AppEvent::ReaderNeedsPairing { .. })), "{events:?}");
    drop(device);

    // 2. A genuine reader's recorded session (hello, results, the identity) replayed, and
    //    3. the identity's payload re-sent as a plain frame, as a fake USB device would.
    let (recorded, _, _) = session(|_, f| f);
    let id = recorded
        .sent
        .iter()
        .find(|f| Frame::new_unchecked(&f[..]).msg_type() == msg_type::VERIFIED_IDENTITY)
        .expect("the recorded session holds an identity");
    let view = Frame::new_unchecked(&id[..]);
    let mut plain = vec![0u8; MAX_FRAME];
    let header = Header { msg_type: msg_type::VERIFIED_IDENTITY, session: view.session(), seq: view.seq() };
    let n = frame::emit(&mut plain, &header, view.payload(), None).unwrap();
    plain.truncate(n);
    let mut bytes: Vec<u8> = recorded.sent.concat();
    bytes.extend(&plain);
    bytes.extend(&plain);
    let (endpoint, stop) = fake_device(bytes);
    let cfg = config(&home.path().join("replay"), &endpoint, &svc.url());
    KeyStore::new(&cfg.key_dir).store("SK-SEC-LINK", &PairingKey(KEY)).unwrap();
    let events2 = run_app(&cfg, 1_500, None);
    stop.store(true, Ordering::SeqCst);

    for (what, ev, journal) in
        [("impostor", &events, home.path().join("journal.sqlite")), ("replay", &events2, cfg.journal.clone())]
    {
        assert!(
            !ev.iter().any(|e| matches!(e, AppEvent::Reception { .. } | AppEvent::ReaderConnected { .. })),
            "{what}: {ev:?}"
        );
        assert!(Journal::open(&journal).unwrap().entries().unwrap().is_empty(), "{what}: journalled");
    }
    for face in [home.path().join("oqs/face"), cfg.folders.face.clone()] {
        let n = std::fs::read_dir(&face).map(|d| d.count()).unwrap_or(0);
        assert_eq!(n, 0, "a face file was written");
    }
    svc.shutdown();
}

// ---- scanning a full run ----

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_full_run_leaves_no_pin_my_number_or_image_in_logs_databases_or_xml() {
    let logs = Captured::default();
    let writer = logs.clone();
    // Everything of ours down to TRACE; the HTTP client's TRACE is a hex dump of every body
    // (4-hex-digit groups read as chance PINs), so it stops at DEBUG.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace,ureq=debug,ureq_proto=debug,rustls=debug"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the only subscriber in this test binary");

    let home = tempfile::tempdir().unwrap();
    let p = persona::find("takasaki").unwrap();
    let (_, issued) = vcard::build(&p).unwrap();
    let svc = testkit::eligibility_service(home.path(), 0).unwrap();
    let device = testkit::paired_device(&home.path().join("keys"), KEY, "SK-SEC-SCAN", &issued);
    let cfg = config(home.path(), &device.endpoint(), &svc.url());
    let stop = Arc::new(AtomicBool::new(false));
    let events = Arc::new(Mutex::new(Vec::new()));
    let driver = {
        let (cfg, stop, events) = (cfg.clone(), stop.clone(), events.clone());
        std::thread::spawn(move || {
            shikaku_host::app::run(&cfg, &stop, |e| events.lock().unwrap().push(e.clone())).unwrap()
        })
    };
    // The patient: PIN, agree, take the card.
    let pin = p.pin.clone().unwrap();
    let pin_digits: [u8; 4] = pin.as_bytes().try_into().unwrap();
    let t0 = Instant::now();
    let mut done = false;
    while t0.elapsed() < Duration::from_secs(20) && !done {
        std::thread::sleep(Duration::from_millis(20));
        testkit::patient_pin_step(&mut device.reader.lock().unwrap(), &pin_digits, &mut done);
    }
    assert!(done, "the reception did not finish");
    // Wait for the face file, then ask through `req` for the confirmed person.
    let t0 = Instant::now();
    let entry = loop {
        let e = Journal::open(&cfg.journal).unwrap().entries().unwrap();
        if let Some(q) =
            e.first().and_then(|e| e.reception.eligibility.clone()).and_then(|el| el.qualification)
        {
            break q;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", events.lock().unwrap());
        std::thread::sleep(Duration::from_millis(50));
    };
    let req = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\r\n<XmlMsg><MessageHeader>\
<QualificationConfirmationDate>20261121</QualificationConfirmationDate>\
<MedicalInstitutionCode>1311111111</MedicalInstitutionCode>\
<ArbitraryFileIdentifier>scan_0001</ArbitraryFileIdentifier></MessageHeader><MessageBody>\
<QualificationConfirmSearchInfo><InsurerNumber>{}</InsurerNumber>\
<InsuredIdentificationNumber>{}</InsuredIdentificationNumber><Birthdate>{}</Birthdate>\
<LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>\
</QualificationConfirmSearchInfo></MessageBody></XmlMsg>\r\n",
        entry.insurer_number, entry.number, entry.birth_date,
    );
    std::fs::write(cfg.folders.req.join("OQSsiquc01req_scan0001.xml"), req).unwrap();
    let t0 = Instant::now();
    while files_under(&cfg.folders.res).is_empty() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::SeqCst);
    driver.join().unwrap();
    drop(device);
    svc.shutdown();

    let mut scanned: Vec<(String, Vec<u8>)> = vec![("logs".into(), logs.0.lock().unwrap().clone())];
    for f in files_under(home.path()) {
        if f.starts_with(home.path().join("keys")) {
            continue; // pairing keys: binary secrets by design, not personal data
        }
        scanned.push((f.display().to_string(), std::fs::read(&f).unwrap()));
    }
    let names: Vec<&str> = scanned.iter().map(|(n, _)| n.as_str()).collect();
    let has = |part: &str| names.iter().any(|n| n.contains(part));
    assert!(has("journal.sqlite") && has("eligibility.sqlite"), "{names:?}");
    assert!(has("/face/") && has("/res/"), "a face and a res file were written: {names:?}");
    let log_text = String::from_utf8_lossy(&scanned[0].1).to_string();
    assert!(log_text.contains("SK-SEC-SCAN") || log_text.len() > 200, "logs captured: {log_text}");

    let mut report = String::from("\nscanned for a PIN, a My Number, image bytes:\n");
    for (what, bytes) in &scanned {
        report += &format!("  {:>8} B  {what}\n", bytes.len());
        for q in persona::builtin() {
            let n = q.my_number();
            let int: u64 = n.parse().unwrap();
            for pattern in [n.as_bytes(), &int.to_be_bytes()[2..], &int.to_be_bytes()[..]] {
                assert!(!bytes.windows(pattern.len()).any(|w| w == pattern), "{what}: My Number of {}", q.id);
            }
        }
        let twelve = digit_runs(bytes, 12);
        assert!(twelve.is_empty(), "{what}: 12-digit runs (My Number-like) {twelve:?}");
        if digit_runs(bytes, 4).contains(&pin) {
            let text = String::from_utf8_lossy(bytes);
            let at = text.find(pin.as_str()).unwrap_or(0);
            panic!("{what}: the PIN: …{}…", &text[at.saturating_sub(300)..(at + 100).min(text.len())]);
        }
        assert!(!bytes.windows(8).any(|w| w == JP2_SIGNATURE), "{what}: JP2 image bytes");
        assert!(!bytes.windows(4).any(|w| w == b"\xff\x4f\xff\x51"), "{what}: JPEG 2000 codestream");
        assert!(!bytes.windows(8).any(|w| w == b"\x89PNG\r\n\x1a\n"), "{what}: PNG");
    }
    let _ = std::io::stderr().write_all(report.as_bytes());
}
