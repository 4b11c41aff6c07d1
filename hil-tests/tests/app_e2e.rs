//! The host driver end to end: a simulated reader (session core + reader link, with a
//! persona's real certificate and key) on TCP, the reference eligibility service over real
//! HTTP and SQLite, the journal, and the receipt computer's `face` folder. A PIN reception is
//! confirmed and written; with the eligibility service down it is kept, the staff told why,
//! and delivered when the service is back.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use shikaku_hil::sim_device::SimDevice;
use shikaku_hil::testkit::{self, receptions};
use shikaku_hil::vcard::{self, persona};
use shikaku_host::app::{App, AppEvent};
use shikaku_host::config::Config;
use shikaku_host::eligibility::HttpEligibility;

const KEY: [u8; 32] = [0x71; 32];

/// The App of the tests (Shift_JIS files) on `device`, asking the service at `url` once.
fn start(home: &std::path::Path, device: &SimDevice, url: &str) -> (Config, App<HttpEligibility>, Receiver) {
    let cfg = testkit::host_config(home, &[device.endpoint()], url);
    let (app, rx) = testkit::start_app(&cfg, quick(url));
    (cfg, app, rx)
}

type Receiver = mpsc::Receiver<shikaku_host::reader::ManagerEvent>;

fn quick(url: &str) -> HttpEligibility {
    testkit::one_try_client(url, Duration::from_millis(300), Duration::from_secs(3))
}

/// Runs the driver until `until` says stop or 30 s pass; returns every event.
fn drive(
    app: &mut App<HttpEligibility>,
    rx: &Receiver,
    device: &SimDevice,
    pin: Option<&[u8; 4]>,
    mut until: impl FnMut(&[AppEvent]) -> bool,
) -> Vec<AppEvent> {
    let mut events = Vec::new();
    let mut done = pin.is_none();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(30) && !until(&events) {
        if let Ok(e) = rx.recv_timeout(Duration::from_millis(20)) {
            events.extend(app.on_event(e));
        }
        events.extend(app.retry_due());
        testkit::patient_pin_step(&mut device.reader.lock().unwrap(), pin.unwrap_or(&[0; 4]), &mut done);
    }
    events
}

#[test]
fn a_pin_reception_is_confirmed_journalled_and_written_for_the_receipt_computer() {
    let home = tempfile::tempdir().unwrap();
    let p = persona::find("takasaki").unwrap();
    let (_, issued) = vcard::build(&p).unwrap();
    let service = testkit::eligibility_service(home.path(), 0).unwrap();
    let device = testkit::paired_device(&home.path().join("keys"), KEY, "SK-E2E-1", &issued);
    let (cfg, mut app, rx) = start(home.path(), &device, &service.url());

    let pin = testkit::pin_digits(&p);
    let events = drive(&mut app, &rx, &device, Some(&pin), |ev| !receptions(ev).is_empty());
    let rs = receptions(&events);
    assert_eq!(rs.len(), 1, "{events:?}");
    assert!(rs[0].0.starts_with("confirmed (資格有効性 1)"), "{events:?}");
    let face = std::path::PathBuf::from(rs[0].1.clone().expect("face file written"));
    let bytes = std::fs::read(&face).unwrap();
    // CP932 file: 髙﨑 as themselves, 𠮷 (in no Shift_JIS) as a reference — never a look-alike.
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad, "valid Shift_JIS");
    assert!(text.contains("<Name>髙﨑　&#x20BB7;乃</Name>"), "{text}");
    let name = face.file_name().unwrap().to_str().unwrap();
    assert_eq!(
        shikaku_hil::layout::check_file(name, &bytes),
        Vec::<String>::new(),
        "the face file follows the layout"
    );
    assert!(text.contains("<QualificationValidity>1</QualificationValidity>"), "{text}");
    assert!(!text.contains('●'), "no silent ●");
    assert!(face.file_name().unwrap().to_str().unwrap().starts_with("OQSsiquc01res_"));
    // Nothing secret in the folder or the journal.
    for f in [face.clone(), cfg.journal.clone()] {
        let b = std::fs::read(&f).unwrap();
        assert!(!b.windows(4).any(|w| w == pin), "{} holds the PIN", f.display());
    }
    drop(app);
    service.shutdown();
}

#[test]
fn with_the_service_down_the_reception_is_kept_and_delivered_later() {
    let home = tempfile::tempdir().unwrap();
    let p = persona::find("yamada").unwrap();
    let (_, issued) = vcard::build(&p).unwrap();
    // A port nobody listens on yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let device = testkit::paired_device(&home.path().join("keys"), KEY, "SK-E2E-2", &issued);
    let (_, mut app, rx) = start(home.path(), &device, &url);
    let pin = testkit::pin_digits(&p);

    let events = drive(&mut app, &rx, &device, Some(&pin), |ev| !receptions(ev).is_empty());
    let rs = receptions(&events);
    assert_eq!(rs.len(), 1, "{events:?}");
    assert!(rs[0].0.starts_with("queued:"), "the staff see why: {:?}", rs[0].0);
    let session = rs[0].2;
    // The evidence that a card was presented is already in the face folder (segment 9).
    let first = std::fs::read(rs[0].1.clone().unwrap()).unwrap();
    let (text, _, _) = encoding_rs::SHIFT_JIS.decode(&first);
    assert!(text.contains("<SegmentOfResult>9</SegmentOfResult>"), "{text}");

    // The line comes back: the queued request goes out and the result replaces the file.
    let service = testkit::eligibility_service(home.path(), port).unwrap();
    // No new patient: only the queue can produce this reception.
    let events = drive(&mut app, &rx, &device, None, |ev| !receptions(ev).is_empty());
    let rs = receptions(&events);
    assert_eq!(rs.len(), 1, "{events:?}");
    assert!(rs[0].0.starts_with("confirmed"), "{events:?}");
    assert_eq!(rs[0].2, session, "the queued reception itself");
    let text = std::fs::read(rs[0].1.clone().unwrap()).unwrap();
    let (text, _, _) = encoding_rs::SHIFT_JIS.decode(&text);
    assert!(text.contains("<QualificationValidity>1</QualificationValidity>"), "{text}");
    drop(app);
    service.shutdown();
}

#[test]
fn the_cable_pulled_at_every_step_still_gives_one_face_file_and_one_journal_row() {
    let home = tempfile::tempdir().unwrap();
    let p = persona::find("yamada").unwrap();
    let (_, issued) = vcard::build(&p).unwrap();
    let service = testkit::eligibility_service(home.path(), 0).unwrap();
    let pin = testkit::pin_digits(&p);
    // Cut after the 1st, 2nd, … write to the host, until a session completes before the cut.
    let mut cuts_exercised = 0;
    for cut in 1..=30 {
        let run = home.path().join(format!("cut-{cut}"));
        // One reader per run: session ids restart with each simulated reader (a real one seeds
        // them from its TRNG at boot), and the service remembers every request id it answered.
        let serial: &'static str = Box::leak(format!("SK-E2E-3-{cut}").into_boxed_str());
        let device = testkit::paired_device(&run.join("keys"), KEY, serial, &issued);
        *device.cut_after_writes.lock().unwrap() = Some(cut);
        let (cfg, mut app, rx) = start(&run, &device, &service.url());
        let events = drive(&mut app, &rx, &device, Some(&pin), |ev| {
            !receptions(ev).is_empty() && device.reader.lock().unwrap().link.pending() == 0
        });
        // Let late re-sends arrive: none may produce a second file or row.
        let more = drive(&mut app, &rx, &device, None, |_| false_after(Duration::from_millis(400)));
        let all: Vec<AppEvent> = events.into_iter().chain(more).collect();
        let confirmed: Vec<_> =
            receptions(&all).into_iter().filter(|r| r.0.starts_with("confirmed")).collect();
        assert_eq!(confirmed.len(), 1, "cut {cut}: {all:?}");
        let files: Vec<_> = std::fs::read_dir(&cfg.folders.face).unwrap().flatten().collect();
        assert_eq!(files.len(), 1, "cut {cut}: one face file");
        let journal = shikaku_host::journal::Journal::open(&cfg.journal).unwrap();
        assert_eq!(journal.entries().unwrap().len(), 1, "cut {cut}: one journal row");
        if !all.iter().any(|e| matches!(e, AppEvent::ReaderLost { .. })) {
            break; // the whole session fit before this cut: every step has been covered
        }
        cuts_exercised += 1;
    }
    assert!(cuts_exercised >= 3, "the session was cut at {cuts_exercised} points only");
    service.shutdown();
}

/// A condition that turns true once `d` has passed since its first call.
fn false_after(d: Duration) -> bool {
    thread_local!(static START: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) });
    START.with(|s| {
        let t = *s.get().get_or_insert_with(Instant::now);
        s.set(Some(t));
        if t.elapsed() > d {
            s.set(None);
            true
        } else {
            false
        }
    })
}

#[test]
fn two_readers_on_one_pc_each_run_their_own_sessions() {
    let home = tempfile::tempdir().unwrap();
    let service = testkit::eligibility_service(home.path(), 0).unwrap();
    let personas = ["yamada", "takasaki"].map(|id| persona::find(id).unwrap());
    let devices: Vec<SimDevice> = personas
        .iter()
        .zip(["SK-TWO-A", "SK-TWO-B"])
        .map(|(p, serial)| {
            let (_, issued) = vcard::build(p).unwrap();
            testkit::paired_device(&home.path().join("keys"), KEY, serial, &issued)
        })
        .collect();
    let endpoints: Vec<String> = devices.iter().map(SimDevice::endpoint).collect();
    let cfg = testkit::host_config(home.path(), &endpoints, &service.url());
    let (mut app, rx) = testkit::start_app(&cfg, quick(&service.url()));
    let pins: Vec<[u8; 4]> = personas.iter().map(testkit::pin_digits).collect();
    let mut done = [false, false];
    let mut events = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(30) && receptions(&events).len() < 2 {
        if let Ok(e) = rx.recv_timeout(Duration::from_millis(20)) {
            events.extend(app.on_event(e));
        }
        for (i, d) in devices.iter().enumerate() {
            testkit::patient_pin_step(&mut d.reader.lock().unwrap(), &pins[i], &mut done[i]);
        }
    }
    let mut readers: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            AppEvent::Reception { reader, outcome, .. } if outcome.starts_with("confirmed") => {
                Some(reader.clone())
            }
            _ => None,
        })
        .collect();
    readers.sort();
    assert_eq!(readers, ["SK-TWO-A", "SK-TWO-B"], "{events:?}");
    assert_eq!(std::fs::read_dir(&cfg.folders.face).unwrap().count(), 2);
    service.shutdown();
}
