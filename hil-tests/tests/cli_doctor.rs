//! `shikaku doctor` with every check passing, then with each check failing in turn: the exit
//! code says failure and the report names the check and the remedy.
//!
//! The simulated reader runs the firmware images' main loop, whose diagnostics cannot be set
//! from outside (its NFC self-test fails only when the frontend itself errs, its clock is the
//! session's wall clock, which the driver sets on connecting): how doctor judges a failing NFC
//! self-test and a skewed reader clock is unit-tested in `host-driver/src/doctor.rs`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use shikaku_hil::pcscd;
use shikaku_hil::sim_device::SimDevice;
use shikaku_hil::sim_reader::SimReader;
use shikaku_hil::testkit::shikaku_bin;
use shikaku_host::keystore::KeyStore;
use shikaku_protocol::auth::PairingKey;

const KEY: [u8; 32] = [0x5D; 32];

/// A stand-in eligibility service that answers every request with 200.
fn health_server() -> (String, Arc<AtomicBool>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    l.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while !s.load(Ordering::SeqCst) {
            match l.accept() {
                Ok((mut c, _)) => {
                    let _ = c.set_nonblocking(false);
                    let mut buf = [0u8; 1024];
                    let _ = c.read(&mut buf);
                    let _ = c.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}",
                    );
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        }
    });
    (url, stop)
}

struct Setup {
    home: tempfile::TempDir,
    reader: String,
    eligibility: String,
    face: PathBuf,
}

fn write_config(s: &Setup) -> PathBuf {
    let cfg = s.home.path().join("config.toml");
    let text = format!(
        "readers = [\"{}\"]\nkey_dir = \"{}\"\neligibility_url = \"{}\"\nmax_clock_skew_s = 60\n\n[folders]\nface = \"{}\"\nreq = \"{}\"\nres = \"{}\"\n",
        s.reader,
        s.home.path().join("keys").display(),
        s.eligibility,
        s.face.display(),
        s.home.path().join("req").display(),
        s.home.path().join("res").display(),
    );
    std::fs::write(&cfg, text).unwrap();
    cfg
}

fn doctor(s: &Setup, env: &[(&str, &str)]) -> (bool, String) {
    let cfg = write_config(s);
    let mut cmd = Command::new(shikaku_bin());
    cmd.args(["--config", cfg.to_str().unwrap(), "doctor", "--timeout", "3"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o: Output = cmd.output().unwrap();
    (
        o.status.success(),
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
    )
}

fn line<'a>(report: &'a str, check: &str) -> &'a str {
    report.lines().find(|l| l.contains(check)).unwrap_or_else(|| panic!("no {check:?} line in:\n{report}"))
}

#[test]
fn doctor_passes_then_names_each_failing_check() {
    if !pcscd::installed() {
        assert!(!pcscd::required(), "SHIKAKU_REQUIRE_PCSC=1 but pcscd is not installed");
        eprintln!("SKIPPED cli_doctor: pcscd is not installed");
        return;
    }
    let _lock = pcscd::lock().unwrap();
    let mut daemon = if pcscd::running() { None } else { Some(pcscd::start().unwrap()) };
    std::thread::sleep(std::time::Duration::from_millis(500));

    let device = SimDevice::spawn(SimReader::new(KEY, "SK-DOC-1")).unwrap();
    let (eligibility, stop) = health_server();
    let home = tempfile::tempdir().unwrap();
    KeyStore::new(&home.path().join("keys")).store("SK-DOC-1", &PairingKey(KEY)).unwrap();
    let mut s = Setup { face: home.path().join("face"), home, reader: device.endpoint(), eligibility };

    let (ok, report) = doctor(&s, &[]);
    assert!(ok, "all checks pass:\n{report}");
    assert!(report.contains("doctor: all checks passed"));
    for check in [
        "reader connection",
        "firmware",
        "pairing",
        "NFC self-test",
        "clock",
        "eligibility service",
        "receipt-computer folders",
        "PC/SC service",
    ] {
        assert!(line(&report, check).starts_with("[ok  ]"), "{check}:\n{report}");
    }
    // The simulated reader runs the images' main loop: no camera, so its self-test is not run
    // (a warning, not a failure).
    let camera = line(&report, "camera self-test");
    assert!(camera.starts_with("[WARN]") && camera.contains("not run"), "{report}");

    // 1. The eligibility service is unreachable.
    let good_url = std::mem::replace(&mut s.eligibility, "http://127.0.0.1:9".into());
    let (ok, report) = doctor(&s, &[]);
    assert!(!ok, "{report}");
    assert!(line(&report, "eligibility service").starts_with("[FAIL]"), "{report}");
    s.eligibility = good_url;

    // 2. The face folder cannot be written (its parent is a file).
    let blocker = s.home.path().join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let good_face = std::mem::replace(&mut s.face, blocker.join("face"));
    let (ok, report) = doctor(&s, &[]);
    assert!(!ok, "{report}");
    assert!(line(&report, "receipt-computer folders").starts_with("[FAIL]"), "{report}");
    s.face = good_face;

    // 3. The PC/SC service is not there.
    let (ok, report) = doctor(&s, &[("PCSCLITE_CSOCK_NAME", "/nonexistent/pcscd.comm")]);
    assert!(!ok, "{report}");
    assert!(line(&report, "PC/SC service").starts_with("[FAIL]"), "{report}");

    // 4. The reader is not paired with this PC.
    std::fs::remove_file(s.home.path().join("keys/SK-DOC-1.key")).unwrap();
    let (ok, report) = doctor(&s, &[]);
    assert!(!ok, "{report}");
    assert!(line(&report, "pairing").starts_with("[FAIL]") && report.contains("shikaku pair"), "{report}");

    // 5. A wrong key: the reader's frames do not verify.
    KeyStore::new(&s.home.path().join("keys")).store("SK-DOC-1", &PairingKey([1; 32])).unwrap();
    let (ok, report) = doctor(&s, &[]);
    assert!(!ok, "{report}");
    assert!(line(&report, "pairing").starts_with("[FAIL]"), "{report}");

    // 6. The cable is pulled: no reader at all.
    drop(device);
    let (ok, report) = doctor(&s, &[]);
    assert!(!ok, "{report}");
    assert!(line(&report, "reader connection").starts_with("[FAIL]"), "{report}");
    assert!(report.contains("USB cable"), "{report}");

    stop.store(true, Ordering::SeqCst);
    if let Some(d) = daemon.as_mut() {
        let _ = d.kill();
        let _ = d.wait();
    }
}
