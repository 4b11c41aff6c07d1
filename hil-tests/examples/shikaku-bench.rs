//! Side-by-side benchmarks of shikaku against its peers, measured in one run on this machine
//! (`scripts/bench.sh` runs it and writes `BENCHMARKS.md`). An example rather than a binary
//! because the `myna-card` peer is a dev-dependency.
//!
//! - `pcsc`: the virtual card (persona yamada) behind a real pcscd + vpcd; reading the auth
//!   certificate, and a PIN signature (VERIFY + COMPUTE SIGNATURE over SHA-256 DigestInfo), by
//!   the host driver's PC/SC path (`shikaku_host::smartcard::read_identity`), OpenSC
//!   (`pkcs15-tool --read-certificate 01`, `pkcs15-crypt -s -k 01 --sha-256 --pkcs1`; each a
//!   process with PKCS#15 binding) and the `myna-card` crate. Every sample connects anew.
//! - `host`: the host App with 1, 4 and 16 simulated readers on TCP (each a `SimReader`
//!   signing with the persona's RSA key), the reference eligibility service over HTTP and
//!   SQLite, the journal and the `face` folder: receptions per second, the App's time per
//!   identity (attestation/journal/eligibility/face file), the reception's latency from the
//!   patient's last key to the written result, and the process's peak memory (VmHWM).
//!
//! Output: `|`-separated rows `section|what|value|unit|note`, one per measurement.

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shikaku_card::secret::Pin4;
use shikaku_firmware::session::Phase;
use shikaku_hil::pcscd;
use shikaku_hil::sim_device::SimDevice;
use shikaku_hil::testkit;
use shikaku_hil::vcard::{self, persona};
use shikaku_host::app::AppEvent;
use shikaku_host::smartcard::{read_identity, PcscService, PinSource};

const PORT: u16 = 35964;
const READER: &str = "Virtual PCD 00 01";

fn row(section: &str, what: &str, value: f64, unit: &str, note: &str) {
    println!("{section}|{what}|{value:.3}|{unit}|{note}");
}

/// Median and mean of `n` samples of `f` in milliseconds.
fn time_ms(n: usize, mut f: impl FnMut()) -> (f64, f64) {
    let mut v: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v.iter().sum::<f64>() / v.len() as f64)
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn pcsc(samples: usize) {
    if !pcscd::installed() {
        eprintln!("bench: pcscd not installed; PC/SC rows skipped");
        return;
    }
    let _lock = pcscd::lock().unwrap();
    pcscd::stop_all();
    let mut daemon = pcscd::start().unwrap();
    let mut svc = PcscService::new();
    let t0 = Instant::now();
    while !svc.readers().map(|rs| rs.iter().any(|r| r.name == READER)).unwrap_or(false) {
        assert!(t0.elapsed() < Duration::from_secs(20), "vpcd reader never appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (server, issued) = vcard::spawn_persona("yamada", PORT).unwrap();
    assert!(svc.wait_for_card(READER, Duration::from_secs(20)).unwrap());
    let pin = issued.persona.pin.clone().unwrap();
    let challenge = [0x42u8; 32];

    let ours_cert = time_ms(samples, || {
        let mut card = svc.connect(READER).unwrap();
        let r = read_identity(&mut card, PinSource::None, &challenge).unwrap();
        assert_eq!(r.auth_cert, issued.auth_cert);
    });
    let ours_sig = time_ms(samples, || {
        let mut card = svc.connect(READER).unwrap();
        let r = read_identity(
            &mut card,
            PinSource::Typed { pin: Pin4::from_ascii(pin.as_bytes()).unwrap(), confirm_last_try: false },
            &challenge,
        )
        .unwrap();
        assert_eq!(r.signature.map(|s| s.len()), Some(256));
    });

    let opensc_cert = time_ms(samples, || run("pkcs15-tool", &["-r", READER, "--read-certificate", "01"]));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("digest");
    let output = dir.path().join("sig");
    std::fs::write(&input, [0x42u8; 32]).unwrap();
    let opensc_sig = time_ms(samples, || {
        run("pkcs15-crypt", &testkit::pkcs15_crypt_sign_args(READER, &pin, &input, &output))
    });

    use myna_card::ap::jpki::{JpkiAp, SignatureScheme};
    use myna_card::transport::pcsc::{connect, Sharing};
    let myna_cert = time_ms(samples, || {
        let mut card = connect(READER, Sharing::Shared).unwrap();
        let mut jpki = JpkiAp::select(&mut card).unwrap();
        assert_eq!(jpki.read_auth_certificate_der().unwrap(), issued.auth_cert);
    });
    let myna_sig = time_ms(samples, || {
        let mut card = connect(READER, Sharing::Shared).unwrap();
        let mut jpki = JpkiAp::select(&mut card).unwrap();
        let _cert = jpki.read_auth_certificate_der().unwrap();
        jpki.verify_auth_pin(&myna_card::Pin::numeric(pin.clone()).unwrap()).unwrap();
        let sig = jpki.sign_with_auth_key(SignatureScheme::Sha256DigestInfo, &challenge).unwrap();
        assert_eq!(sig.len(), 256);
    });
    let note = format!("median of {samples}, vpcd virtual card, connect included");
    for (what, (med, _)) in [
        ("auth certificate: shikaku host (PC/SC)", ours_cert),
        ("auth certificate: OpenSC pkcs15-tool", opensc_cert),
        ("auth certificate: myna-card", myna_cert),
        ("PIN + signature + certificate: shikaku host (PC/SC)", ours_sig),
        ("PIN + signature: OpenSC pkcs15-crypt", opensc_sig),
        ("PIN + signature + certificate: myna-card", myna_sig),
    ] {
        row("pcsc", what, med, "ms", &note);
    }
    row("pcsc", "ratio certificate OpenSC / shikaku", opensc_cert.0 / ours_cert.0, "x", "");
    row("pcsc", "ratio certificate myna-card / shikaku", myna_cert.0 / ours_cert.0, "x", "");
    row("pcsc", "ratio signature OpenSC / shikaku", opensc_sig.0 / ours_sig.0, "x", "");
    row("pcsc", "ratio signature myna-card / shikaku", myna_sig.0 / ours_sig.0, "x", "");
    drop(server);
    let _ = daemon.kill();
    let _ = daemon.wait();
}

fn vm_hwm_kb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0.0)
}

const KEY: [u8; 32] = [0x62; 32];

/// One patient per reader, back to back: place, PIN, agree, take the card, again.
fn patients(
    devices: Arc<Vec<(String, SimDevice)>>,
    pin: String,
    stop: Arc<AtomicBool>,
    keyed: Arc<Mutex<HashMap<String, Instant>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok(pin) = <[u8; 4]>::try_from(pin.as_bytes()) else { return };
        while !stop.load(Ordering::SeqCst) {
            for (serial, d) in devices.iter() {
                // Back-to-back patients: a new one arrives as soon as the last took the card. A
                // patient's next step waits for the host's acknowledgements of the results so
                // far (a reader holds only a few unacknowledged; a real patient takes seconds).
                let mut reader = d.reader.lock().unwrap();
                if reader.link.pending() > 0 {
                    continue;
                }
                let acted = testkit::patient_pin_step(&mut reader, &pin, &mut false);
                drop(reader);
                if acted == Some(Phase::ConsentIntro) {
                    keyed.lock().unwrap().insert(serial.clone(), Instant::now());
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    })
}

fn host(readers: usize, seconds: u64, service_url: &str) {
    let home = tempfile::tempdir().unwrap();
    let p = persona::find("yamada").unwrap();
    let (_, issued) = vcard::build(&p).unwrap();
    let mut devices = Vec::new();
    let mut endpoints = Vec::new();
    for i in 0..readers {
        // Serials unique per run: the shared service keys requests by reader and session.
        let serial: &'static str = Box::leak(format!("SK-BENCH-{readers}-{i}").into_boxed_str());
        let d = testkit::paired_device(&home.path().join("keys"), KEY, serial, &issued);
        endpoints.push(d.endpoint());
        devices.push((serial.to_string(), d));
    }
    let cfg = testkit::host_config(home.path(), &endpoints, service_url);
    let service = testkit::one_try_client(service_url, Duration::from_millis(500), Duration::from_secs(5));
    let (mut app, rx) = testkit::start_app(&cfg, service);
    let devices = Arc::new(devices);
    let stop = Arc::new(AtomicBool::new(false));
    let keyed = Arc::new(Mutex::new(HashMap::new()));
    let patient = patients(devices.clone(), p.pin.clone().unwrap(), stop.clone(), keyed.clone());
    // Warm-up: every reader connected.
    let mut connected = 0;
    let t0 = Instant::now();
    while connected < readers && t0.elapsed() < Duration::from_secs(20) {
        if let Ok(e) = rx.recv_timeout(Duration::from_millis(20)) {
            connected +=
                app.on_event(e).iter().filter(|e| matches!(e, AppEvent::ReaderConnected { .. })).count();
        }
    }
    let mut handled = Vec::new();
    let mut latency = Vec::new();
    let mut confirmed = 0usize;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(seconds) {
        let Ok(e) = rx.recv_timeout(Duration::from_millis(20)) else { continue };
        let t = Instant::now();
        let out = app.on_event(e);
        let took = t.elapsed();
        for ev in &out {
            if let AppEvent::Reception { outcome, reader, .. } = ev {
                assert!(outcome.starts_with("confirmed"), "{outcome}");
                confirmed += 1;
                handled.push(took.as_secs_f64() * 1e3);
                if let Some(k) = keyed.lock().unwrap().remove(reader) {
                    latency.push(k.elapsed().as_secs_f64() * 1e3);
                }
            }
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    patient.join().unwrap();
    drop(app);
    let pct = |v: &mut Vec<f64>, q: f64| {
        v.sort_by(|a, b| a.total_cmp(b));
        if v.is_empty() {
            0.0
        } else {
            v[((v.len() - 1) as f64 * q).round() as usize]
        }
    };
    let note = format!("{readers} reader(s), {seconds} s, {confirmed} receptions");
    row("host", &format!("receptions/s, {readers} reader(s)"), confirmed as f64 / elapsed, "/s", &note);
    row(
        "host",
        &format!("App time per identity p50, {readers} reader(s)"),
        pct(&mut handled, 0.5),
        "ms",
        "journal + HTTP eligibility + face XML",
    );
    row(
        "host",
        &format!("App time per identity p95, {readers} reader(s)"),
        pct(&mut handled, 0.95),
        "ms",
        "",
    );
    row(
        "host",
        &format!("last key → result written p50, {readers} reader(s)"),
        pct(&mut latency, 0.5),
        "ms",
        "incl. TCP, link, queueing",
    );
    row(
        "host",
        &format!("last key → result written p95, {readers} reader(s)"),
        pct(&mut latency, 0.95),
        "ms",
        "",
    );
    row(
        "host",
        &format!("peak memory (VmHWM) after {readers} reader(s)"),
        vm_hwm_kb() / 1024.0,
        "MiB",
        "whole bench process so far",
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let want = |s: &str| args.len() < 2 || args.iter().any(|a| a == s);
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    if want("pcsc") {
        pcsc(std::env::var("BENCH_SAMPLES").ok().and_then(|s| s.parse().ok()).unwrap_or(10));
    }
    if want("host") {
        let home = tempfile::tempdir().unwrap();
        let svc = testkit::eligibility_service(home.path(), 0).unwrap();
        for n in [1, 4, 16] {
            host(n, seconds, &svc.url());
        }
        svc.shutdown();
    }
}
