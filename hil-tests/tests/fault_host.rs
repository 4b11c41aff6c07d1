//! Fault injection on the host side, through the whole host App (reader threads, journal,
//! eligibility forwarding, `face` folder) with a simulated reader on TCP and the reference
//! eligibility service over real HTTP and SQLite:
//!
//! - the host process killed and restarted at every event of a PIN reception (journal
//!   reopened): the identity recorded exactly once, one `face` file;
//! - the eligibility service answering garbage, or too slowly: the reception kept (queued, the
//!   staff told why, segment 9 evidence written) and delivered once the service is sound;
//! - the disk full while writing the `face` folder, then freed: the result is written then (a 16 KiB tmpfs when this runs as root,
//!   else a folder that cannot take files): the reception stays in the journal and the failure
//!   is reported (no file name).
//!
//! Elsewhere, not repeated here: the service down then back (`app_e2e.rs`), the cable pulled at
//! every step (`app_e2e.rs`), pcscd restarted (`host_pcsc.rs`), the HTTP client's own timeout
//! and garbage handling (`host-driver/tests/eligibility_client.rs`).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use shikaku_firmware::session::Phase;
use shikaku_hil::sim_device::SimDevice;
use shikaku_hil::testkit::{self, receptions};
use shikaku_hil::vcard::{self, persona};
use shikaku_host::app::{App, AppEvent};
use shikaku_host::config::Config;
use shikaku_host::eligibility::HttpEligibility;
use shikaku_host::journal::Journal;
use shikaku_host::reader::ManagerEvent;

const KEY: [u8; 32] = [0x73; 32];

/// The patient at the reader: place the card, PIN, agree, take the card.
fn patient(device: &SimDevice, pin: &[u8; 4], done: &mut bool) {
    testkit::patient_pin_step(&mut device.reader.lock().unwrap(), pin, done);
}

fn config(home: &Path, device: &SimDevice, url: &str, face: PathBuf) -> Config {
    let mut cfg = testkit::host_config(home, &[device.endpoint()], url);
    cfg.folders.face = face;
    cfg
}

struct Driver {
    app: App<HttpEligibility>,
    rx: mpsc::Receiver<ManagerEvent>,
}

fn start(cfg: &Config) -> Driver {
    let client =
        testkit::one_try_client(&cfg.eligibility_url, Duration::from_millis(300), Duration::from_millis(800));
    let (app, rx) = testkit::start_app(cfg, client);
    Driver { app, rx }
}

/// Runs until `until` or 20 s; `kill_at`: the driver dies on taking its n-th reader event,
/// before handling it (everything still queued is lost with it). Returns the events and
/// whether it was killed.
fn drive(
    d: &mut Driver,
    device: &SimDevice,
    pin: &[u8; 4],
    done: &mut bool,
    kill_at: Option<usize>,
    mut until: impl FnMut(&[AppEvent]) -> bool,
) -> (Vec<AppEvent>, bool) {
    let mut events = Vec::new();
    let mut taken = 0usize;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) && !until(&events) {
        if let Ok(e) = d.rx.recv_timeout(Duration::from_millis(10)) {
            if Some(taken) == kill_at {
                return (events, true);
            }
            taken += 1;
            events.extend(d.app.on_event(e));
        }
        events.extend(d.app.retry_due());
        patient(device, pin, done);
    }
    (events, false)
}

fn confirmed(events: &[AppEvent]) -> usize {
    receptions(events).iter().filter(|r| r.0.starts_with("confirmed")).count()
}

/// Kills the driver at each of its first 10 reader events of a PIN reception and restarts it
/// on the same journal. Answers the kill points at which the identity was lost.
fn kill_sweep() -> Vec<usize> {
    let home = tempfile::tempdir().unwrap();
    let p = persona::find("yamada").unwrap();
    let (_, issued) = vcard::build(&p).unwrap();
    let svc = testkit::eligibility_service(home.path(), 0).unwrap();
    let pin = testkit::pin_digits(&p);
    let mut kills = 0;
    let mut lost = Vec::new();
    // A clean PIN reception hands the driver 9 reader events before it is confirmed; die at
    // each (and once after all of them).
    for kill_at in 0..10 {
        let run = home.path().join(format!("kill-{kill_at}"));
        // One reader serial per run: the shared service sees each run's requests as new.
        let serial: &'static str = Box::leak(format!("SK-KILL-{kill_at}").into_boxed_str());
        let device = testkit::paired_device(&run.join("keys"), KEY, serial, &issued);
        let cfg = config(&run, &device, &svc.url(), run.join("oqs/face"));
        let mut done = false;
        let mut d = start(&cfg);
        // Until the result is kept and its ack has reached the reader (acks follow the journal).
        let (mut events, killed) = drive(&mut d, &device, &pin, &mut done, Some(kill_at), |ev| {
            confirmed(ev) > 0 && device.reader.lock().unwrap().link.pending() == 0
        });
        // The process dies: its reader threads, sockets and queued events with it.
        drop(d);
        if killed {
            kills += 1;
            // Restarted: the journal reopened, the reader reconnects and re-sends what it
            // still holds; the patient goes on where the screen stands.
            let mut d = start(&cfg);
            let t = Instant::now();
            let (more, _) = drive(&mut d, &device, &pin, &mut done, None, |ev| {
                (confirmed(ev) > 0 && device.reader.lock().unwrap().link.pending() == 0)
                    || t.elapsed() > Duration::from_secs(4)
            });
            events.extend(more);
            // Let late re-sends arrive: none may produce a second row or file.
            let t = Instant::now();
            let (more, _) =
                drive(&mut d, &device, &pin, &mut done, None, |_| t.elapsed() > Duration::from_millis(300));
            events.extend(more);
        }
        let rows = Journal::open(&cfg.journal).unwrap().entries().unwrap().len();
        let files = std::fs::read_dir(&cfg.folders.face).map(|d| d.count()).unwrap_or(0);
        assert!(
            rows <= 1 && files <= 1 && confirmed(&events) <= 1,
            "kill {kill_at}: recorded twice: {events:?}"
        );
        let r = device.reader.lock().unwrap();
        assert_eq!(r.session.phase(), Phase::Idle, "kill {kill_at}: reader back in automatic mode");
        assert_eq!(r.link.pending(), 0, "kill {kill_at}: the reader still holds results");
        if rows == 0 {
            lost.push(kill_at);
            continue;
        }
        assert_eq!(confirmed(&events), 1, "kill {kill_at}: {events:?}");
        assert_eq!(files, 1, "kill {kill_at}: one face file");
    }
    assert!(kills >= 9, "{kills}");
    let _ = writeln!(
        std::io::stderr(),
        "host killed at each of {kills} reader events of a PIN reception and restarted: never recorded \
         twice; identity lost (acknowledged to the reader by the link thread, never journalled) when \
         killed at events {lost:?}"
    );
    svc.shutdown();
    lost
}

#[test]
fn host_killed_at_every_event_of_a_reception_never_records_the_identity_twice() {
    let lost = kill_sweep();
    // Killed before the reader had sent its results (card detected, certificate, PIN): the
    // identity always arrives after the restart and is recorded exactly once.
    assert!(lost.iter().all(|k| *k >= 3), "{lost:?}");
}

/// The host acknowledges a result only after the App has journalled it, so a host killed at
/// any point loses nothing: the reader re-sends until the journal has it. (This failed while
/// the reader thread acknowledged on arrival; the sweep found the window at events 5, 7, 8.)
#[test]
fn host_killed_between_the_ack_and_the_journal_loses_nothing() {
    let lost = kill_sweep();
    assert!(lost.is_empty(), "identity lost when killed at events {lost:?}");
}

#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    Garbage,
    Slow,
}

/// A service at `listener` that answers every request with garbage or not in time.
fn misbehaving(
    listener: TcpListener,
    how: Misbehaviour,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<u32> {
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let mut served = 0;
        while !stop.load(Ordering::SeqCst) {
            let Ok((mut s, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            served += 1;
            let _ = s.set_nonblocking(false);
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
            let mut buf = [0u8; 8192];
            let _ = s.read(&mut buf);
            match how {
                Misbehaviour::Garbage => {
                    let body = b"{\"result\": \xff\xfe not json <html>";
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    let _ = s.write_all(body);
                }
                Misbehaviour::Slow => std::thread::sleep(Duration::from_millis(1_500)),
            }
        }
        served
    })
}

fn service_misbehaves_then_recovers(how: Misbehaviour) {
    let home = tempfile::tempdir().unwrap();
    let p = persona::find("yamada").unwrap();
    let (_, issued) = vcard::build(&p).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let bad = misbehaving(listener, how, stop.clone());
    let url = format!("http://{addr}");
    let device = testkit::paired_device(&home.path().join("keys"), KEY, "SK-BADSVC", &issued);
    let cfg = config(home.path(), &device, &url, home.path().join("oqs/face"));
    let pin = testkit::pin_digits(&p);
    let mut done = false;
    let mut d = start(&cfg);
    let (events, _) = drive(&mut d, &device, &pin, &mut done, None, |ev| !receptions(ev).is_empty());
    let rs = receptions(&events);
    assert_eq!(rs.len(), 1, "{how:?}: {events:?}");
    assert!(rs[0].0.starts_with("queued:"), "{how:?}: the staff see why: {:?}", rs[0].0);
    let session = rs[0].2;
    let first = std::fs::read(rs[0].1.clone().expect("evidence written")).unwrap();
    let (text, _, _) = encoding_rs::SHIFT_JIS.decode(&first);
    assert!(text.contains("<SegmentOfResult>9</SegmentOfResult>"), "{text}");
    assert_eq!(Journal::open(&cfg.journal).unwrap().entries().unwrap().len(), 1);

    // The service is fixed on the same address: the queued request goes out once.
    stop.store(true, Ordering::SeqCst);
    assert!(bad.join().unwrap() >= 1, "{how:?}: the bad service was asked");
    let svc = testkit::eligibility_service(home.path(), addr.port()).unwrap();
    let (events, _) = drive(&mut d, &device, &pin, &mut done, None, |ev| !receptions(ev).is_empty());
    let rs = receptions(&events);
    assert_eq!(rs.len(), 1, "{how:?}: {events:?}");
    assert!(rs[0].0.starts_with("confirmed"), "{how:?}: {events:?}");
    assert_eq!(rs[0].2, session, "the queued reception itself");
    assert_eq!(Journal::open(&cfg.journal).unwrap().entries().unwrap().len(), 1);
    drop(d);
    svc.shutdown();
}

#[test]
fn eligibility_service_answering_garbage_then_recovering() {
    service_misbehaves_then_recovers(Misbehaviour::Garbage);
}

#[test]
fn eligibility_service_too_slow_then_recovering() {
    service_misbehaves_then_recovers(Misbehaviour::Slow);
}

/// A 16 KiB tmpfs, filled, at `dir` (root only); unmounted on drop.
struct FullDisk(PathBuf);
impl FullDisk {
    fn mount(dir: &Path) -> Option<Self> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16k", "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return None;
        }
        let disk = FullDisk(dir.to_owned());
        // Fill it to the last byte.
        let mut f = std::fs::File::create(dir.join(".filler")).ok()?;
        while f.write_all(&[0u8; 1024]).is_ok() {}
        let _ = f.write_all(&[0u8; 1]);
        Some(disk)
    }
}
impl Drop for FullDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn disk_full_while_writing_the_face_folder_keeps_the_reception_in_the_journal() {
    let home = tempfile::tempdir().unwrap();
    let p = persona::find("yamada").unwrap();
    let (_, issued) = vcard::build(&p).unwrap();
    let svc = testkit::eligibility_service(home.path(), 0).unwrap();
    let device = testkit::paired_device(&home.path().join("keys"), KEY, "SK-FULL", &issued);
    let face = home.path().join("oqs/face");
    let cfg = config(home.path(), &device, &svc.url(), face.clone());
    let mut d = start(&cfg);
    // The disk fills up after the driver started: ENOSPC on a tmpfs as root, else the folder
    // is replaced by a file so no file can be created in it.
    let disk = FullDisk::mount(&face);
    let how = if disk.is_some() {
        "tmpfs full (ENOSPC)"
    } else {
        std::fs::remove_dir_all(&face).unwrap();
        std::fs::write(&face, b"not a folder").unwrap();
        "folder unwritable (ENOTDIR)"
    };
    let pin = testkit::pin_digits(&p);
    let mut done = false;
    let (events, _) = drive(&mut d, &device, &pin, &mut done, None, |ev| !receptions(ev).is_empty());
    let rs = receptions(&events);
    assert_eq!(rs.len(), 1, "{how}: {events:?}");
    assert!(rs[0].0.starts_with("confirmed"), "{how}: {events:?}");
    assert_eq!(rs[0].1, None, "{how}: the failed write is reported (no file)");
    // The reception is in the journal, confirmed, for the staff and a later write.
    let entries = Journal::open(&cfg.journal).unwrap().entries().unwrap();
    assert_eq!(entries.len(), 1, "{how}");
    assert_eq!(entries[0].reception.session, rs[0].2);
    assert!(entries[0].reception.eligibility.is_some(), "{how}: the result is kept");
    if disk.is_some() {
        let names: Vec<_> = std::fs::read_dir(&face).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(names.iter().all(|n| n == ".filler"), "{how}: no partial file left: {names:?}");
        // Space comes back: the file is written then, once.
        std::fs::remove_file(face.join(".filler")).unwrap();
    } else {
        std::fs::remove_file(&face).unwrap();
        std::fs::create_dir_all(&face).unwrap();
    }
    let (events, _) = drive(&mut d, &device, &pin, &mut done, None, |ev| !receptions(ev).is_empty());
    let rs = receptions(&events);
    assert_eq!(rs.len(), 1, "{how}: {events:?}");
    assert!(rs[0].0.starts_with("written to the face folder"), "{how}: {events:?}");
    let files: Vec<_> = std::fs::read_dir(&face)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("OQSsiquc01res_"))
        .collect();
    assert_eq!(files.len(), 1, "{how}: the result reaches the receipt computer once");
    drop(d);
    drop(disk);
    svc.shutdown();
}
