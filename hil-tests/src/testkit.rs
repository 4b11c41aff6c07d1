//! Small pieces the integration tests share: the `shikaku` binary, a reference eligibility
//! service on an ephemeral port, and a patient who answers whatever the reader shows.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use shikaku_firmware::session::{Event, Key, Phase};
use shikaku_host::app::{App, AppEvent};
use shikaku_host::config::{Config, Folders};
use shikaku_host::eligibility::{HttpEligibility, RetryPolicy, Timeouts};
use shikaku_host::keystore::KeyStore;
use shikaku_host::reader::ManagerEvent;
use shikaku_protocol::auth::PairingKey;
use shikaku_protocol::Instant;

use crate::sim_device::SimDevice;
use crate::sim_reader::SimReader;
use crate::vcard::persona::Persona;
use crate::vcard::Issued;

/// The `shikaku` binary next to the running test (`target/<profile>/shikaku`), built if missing.
pub fn shikaku_bin() -> PathBuf {
    // target/<profile>/deps/<test> → target/<profile>/shikaku
    let exe = std::env::current_exe().unwrap_or_default();
    let bin = exe.parent().and_then(Path::parent).map(|d| d.join("shikaku")).unwrap_or_default();
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let _ = Command::new(cargo).args(["build", "-q", "-p", "shikaku-host", "--bin", "shikaku"]).status();
    }
    bin
}

/// The `shikaku` binary started with `args`, its data in `home` (`SHIKAKU_HOME`, no
/// `SHIKAKU_CONFIG`), stdin, stdout and stderr piped.
fn spawn_shikaku(home: &Path, args: &[&str]) -> std::process::Child {
    Command::new(shikaku_bin())
        .args(args)
        .env("SHIKAKU_HOME", home)
        .env_remove("SHIKAKU_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs the `shikaku` binary with `args` and `stdin` as the user would, its data in `home`
/// (`SHIKAKU_HOME`, no `SHIKAKU_CONFIG`).
pub fn shikaku(home: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = spawn_shikaku(home, args);
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// What a command printed: its stdout, then its stderr.
pub fn output_text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The reference eligibility service with every built-in persona insured, on 127.0.0.1:`port`
/// (0: any free port), its database in `dir`.
pub fn eligibility_service(dir: &Path, port: u16) -> Result<crate::eligibility::http::RunningServer, String> {
    crate::eligibility::start(
        &dir.join("eligibility.sqlite"),
        &format!("127.0.0.1:{port}"),
        crate::eligibility::Config::default_trust()?,
        &crate::vcard::persona::builtin(),
        true,
    )
}

/// One step of a patient at the reader: place the card (once, unless `done` is reset), choose
/// PIN, type `pin`, agree to everything, take the card when the reader has finished (`done`
/// turns true). Returns the phase the patient acted on, if any.
pub fn patient_pin_step(r: &mut SimReader, pin: &[u8; 4], done: &mut bool) -> Option<Phase> {
    if !(r.link.is_secured() && r.session.clock_synced()) {
        return None;
    }
    let phase = r.session.phase();
    match phase {
        Phase::Idle if !*done => r.event(Instant::ZERO, Event::CardPresent),
        Phase::ChooseMethod => r.event(Instant::ZERO, Event::Key(Key::ChoosePin)),
        Phase::PinEntry => {
            for d in pin {
                r.event(Instant::ZERO, Event::Key(Key::Digit(d.wrapping_sub(b'0'))));
            }
        }
        Phase::ConsentIntro => r.event(Instant::ZERO, Event::Key(Key::Yes)),
        Phase::Finished => {
            *done = true;
            r.event(Instant::ZERO, Event::CardRemoved);
        }
        _ => return None,
    }
    Some(phase)
}

/// What a scripted patient does at the reader (see [`patient_step`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patient {
    /// Chooses PIN (an Android phone goes to the PIN at once) and types these four ASCII digits.
    Pin([u8; 4]),
    /// Chooses face; the face engine answers the attempt with a match of `score_milli`.
    /// `register`: the answer to the 初回登録 offer of an unregistered card.
    Face { score_milli: u16, register: bool },
    /// Confirms on the phone (iPhone): nothing to do at the reader but the consents.
    Phone,
}

/// One step of a patient at the reader, for any of the [`Patient`] flows: place the card (once,
/// unless `done` is reset), dismiss a certificate notice, choose the method (a face reply is
/// queued just before the face attempt starts), type the PIN, confirm the last try, agree to
/// everything (包括同意), answer the 初回登録 offer (yes, unless a face patient says otherwise),
/// take the card when the reader has finished (`done` turns true). Returns the phase the
/// patient acted on, if any. A caller stepping faster than a person would should pause after
/// each action: the reader asks the host about the card's registration while the patient
/// chooses, and a patient through the consents before the answer is back is not offered
/// 初回登録.
pub fn patient_step(r: &mut SimReader, patient: &Patient, done: &mut bool) -> Option<Phase> {
    use shikaku_firmware::session::FaceReply;
    use shikaku_protocol::message::FaceDecision;
    if !(r.link.is_secured() && r.session.clock_synced()) {
        return None;
    }
    let phase = r.session.phase();
    match (phase, patient) {
        (Phase::Idle, _) if !*done => r.event(Instant::ZERO, Event::CardPresent),
        (Phase::CertNotice, _) => r.event(Instant::ZERO, Event::Key(Key::Yes)),
        (Phase::ChooseMethod | Phase::PinLocked, Patient::Face { score_milli, .. }) => {
            r.event(
                Instant::ZERO,
                Event::Face(FaceReply { decision: FaceDecision::Match, score_milli: *score_milli }),
            );
            r.event(Instant::ZERO, Event::Key(Key::ChooseFace));
        }
        (Phase::ChooseMethod, Patient::Pin(_)) => r.event(Instant::ZERO, Event::Key(Key::ChoosePin)),
        (Phase::PinEntry, Patient::Pin(pin)) => {
            for d in pin {
                r.event(Instant::ZERO, Event::Key(Key::Digit(d.wrapping_sub(b'0'))));
            }
        }
        (Phase::Registration, Patient::Face { register: false, .. }) => {
            r.event(Instant::ZERO, Event::Key(Key::No))
        }
        (Phase::PinConfirmLastTry, _) | (Phase::ConsentIntro, _) | (Phase::Registration, _) => {
            r.event(Instant::ZERO, Event::Key(Key::Yes))
        }
        (Phase::Finished, _) => {
            *done = true;
            r.event(Instant::ZERO, Event::CardRemoved);
        }
        _ => return None,
    }
    Some(phase)
}

/// 2026-11-21 12:00 UTC: the wall clock the host sets in link tests.
pub const NOW_UNIX_MS: u64 = 1_795_262_400_000;

/// What a session over a cut pipe delivered to the host.
pub struct PipeRun {
    /// (session, seq, type) of every message the host took, in order.
    pub taken: Vec<(u32, u32, u8)>,
    /// Frames put on the pipe, both ways.
    pub frames: usize,
    /// Every script step ran.
    pub script_done: bool,
}

/// Runs `script` (virtual ms, event) on `reader` against `host` over an in-memory pipe that
/// loses everything in flight at frame `cut` (counted both ways); both sides then reconnect
/// with fresh hello nonces. The host plays the application: on every secured link a time sync,
/// whatever `on_secured` sends, and a challenge; it keeps and acknowledges every message and
/// answers `CertificateRead` with "registered". With `gate`, a step waits for a secured link
/// and a synced clock, as a patient waits for the screen.
pub fn run_cut_pipe(
    reader: &mut SimReader,
    host: &mut shikaku_host::reader::HostEndpoint,
    script: Vec<(u64, Event<'static>)>,
    cut: Option<usize>,
    until_ms: u64,
    gate: bool,
    on_secured: impl Fn(&mut shikaku_host::reader::HostEndpoint),
) -> PipeRun {
    use shikaku_host::reader::HostEvent;
    use shikaku_protocol::message::{msg_type, Message};
    let mut taken = Vec::new();
    let mut now = Instant::from_millis(1_000);
    let mut frames_seen = 0usize;
    let mut connection = 0u8;
    let mut script = script.into_iter().peekable();
    host.connect([connection; 16]);
    while now.as_millis() < until_ms {
        now += shikaku_protocol::Duration::from_millis(50);
        if !gate || (reader.link.is_secured() && reader.session.clock_synced()) {
            while let Some((_, e)) = script.next_if(|(t, _)| *t <= now.as_millis()) {
                reader.event(now, e);
            }
        }
        reader.event(now, Event::Tick);
        let mut h2r = Vec::new();
        while let Some(b) = host.poll_transmit() {
            h2r.extend(b);
        }
        let r2h = reader.transmit(now);
        let frames = usize::from(!h2r.is_empty()) + usize::from(!r2h.is_empty());
        if cut.is_some_and(|c| frames_seen < c + 1 && c < frames_seen + frames) {
            // The cable is pulled: in-flight bytes are lost, both sides notice and reconnect.
            frames_seen += frames;
            reader.link.disconnected();
            connection += 1;
            host.connect([connection; 16]);
            continue;
        }
        frames_seen += frames;
        reader.receive(now, &h2r);
        for e in host.receive(&r2h) {
            match e {
                HostEvent::Secured(_) => {
                    let _ = host.send(&Message::TimeSync { unix_ms: NOW_UNIX_MS + now.as_millis() });
                    on_secured(host);
                    let _ = host.send(&Message::HostChallenge { challenge: [0xC1; 32] });
                }
                // The answer to a passcode provision (one per connection here): not a
                // session message, nothing to acknowledge.
                HostEvent::Status(m) if m.msg_type() == msg_type::PASSCODE_RESULT => {}
                // A re-send of what was already kept: the endpoint acknowledged it again.
                HostEvent::AlreadyKept { .. } => {}
                HostEvent::Result(m) | HostEvent::Status(m) => {
                    // The application keeps each result, then acknowledges it.
                    host.ack(m.session, m.seq);
                    if m.msg_type() == msg_type::CERTIFICATE_READ {
                        let _ = host.send(&Message::RegistrationStatus { registered: true });
                    }
                    taken.push((m.session, m.seq, m.msg_type()));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    PipeRun { taken, frames: frames_seen, script_done: script.peek().is_none() }
}

/// The host configuration of the App tests: `readers`, the pairing keys in `home/keys`, the
/// receipt-computer folders under `home/oqs`, the journal `home/journal.sqlite`, the rest the
/// defaults (Shift_JIS files).
pub fn host_config(home: &Path, readers: &[impl AsRef<str>], url: &str) -> Config {
    Config {
        readers: readers.iter().map(|r| r.as_ref().parse().unwrap()).collect(),
        key_dir: home.join("keys"),
        eligibility_url: url.to_owned(),
        folders: Folders {
            face: home.join("oqs/face"),
            req: home.join("oqs/req"),
            res: home.join("oqs/res"),
        },
        journal: home.join("journal.sqlite"),
        ..Config::default()
    }
}

/// An eligibility client that asks once, giving up after `connect` / `total`.
pub fn one_try_client(url: &str, connect: Duration, total: Duration) -> HttpEligibility {
    HttpEligibility::with(
        url,
        Timeouts { connect, total },
        RetryPolicy { attempts: 1, ..RetryPolicy::default() },
    )
}

/// The host App of `cfg` asking `client`, connected to every reader of `cfg`; the readers'
/// events arrive on the receiver, for `App::on_event`.
pub fn start_app(
    cfg: &Config,
    client: HttpEligibility,
) -> (App<HttpEligibility>, mpsc::Receiver<ManagerEvent>) {
    let mut app = App::new(cfg, client).unwrap();
    let (tx, rx) = mpsc::channel();
    app.connect_readers(&cfg.readers, tx);
    (app, rx)
}

/// A simulated reader on TCP with `issued`'s card, paired: its `key` is stored for `serial`
/// in `key_dir` as `shikaku pair` would.
pub fn paired_device(key_dir: &Path, key: [u8; 32], serial: &'static str, issued: &Issued) -> SimDevice {
    let device = SimDevice::spawn(SimReader::new(key, serial).with_persona_card(issued)).unwrap();
    KeyStore::new(key_dir).store(serial, &PairingKey(key)).unwrap();
    device
}

/// The persona's card PIN as the four ASCII digits a patient types.
pub fn pin_digits(p: &Persona) -> [u8; 4] {
    p.pin.as_deref().unwrap().as_bytes().try_into().unwrap()
}

/// (outcome, face file, session) of every reception among `events`.
pub fn receptions(events: &[AppEvent]) -> Vec<(String, Option<String>, u32)> {
    events
        .iter()
        .filter_map(|e| match e {
            AppEvent::Reception { outcome, face_file, session, .. } => {
                Some((outcome.clone(), face_file.clone(), *session))
            }
            _ => None,
        })
        .collect()
}

/// The PIN session the link tests script: the card placed at 2 s, PIN chosen and 1234 typed,
/// consent given, the card taken at 9 s.
pub fn pin_session_script() -> Vec<(u64, Event<'static>)> {
    vec![
        (2_000, Event::CardPresent),
        (3_000, Event::Key(Key::ChoosePin)),
        (3_100, Event::Key(Key::Digit(1))),
        (3_200, Event::Key(Key::Digit(2))),
        (3_300, Event::Key(Key::Digit(3))),
        (3_400, Event::Key(Key::Digit(4))),
        (4_000, Event::Key(Key::Yes)),
        (9_000, Event::CardRemoved),
    ]
}

/// Runs of ASCII digits of exactly `n` characters in `bytes`, outside encoded binary: a long
/// token of the base64 / hex alphabet holding a letter (a hash, a challenge, a certificate)
/// is skipped, since its digits are chance, not data.
pub fn digit_runs(bytes: &[u8], n: usize) -> Vec<String> {
    let is_token = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=';
    let mut out = vec![];
    for token in bytes.split(|b| !is_token(*b)) {
        if token.len() >= 20 && token.iter().any(u8::is_ascii_alphabetic) {
            continue;
        }
        for run in token.split(|b| !b.is_ascii_digit()) {
            if run.len() == n {
                out.push(String::from_utf8_lossy(run).into_owned());
            }
        }
    }
    out
}

/// The `pkcs15-crypt` arguments that have OpenSC sign the SHA-256 digest in `input` with key
/// 01 (the JPKI auth key) of the card in `reader`, PIN `pin`, into `output` (PKCS#1).
pub fn pkcs15_crypt_sign_args<'a>(
    reader: &'a str,
    pin: &'a str,
    input: &'a Path,
    output: &'a Path,
) -> Vec<&'a str> {
    vec![
        "-r",
        reader,
        "-s",
        "-k",
        "01",
        "--sha-256",
        "--pkcs1",
        "-p",
        pin,
        "-i",
        input.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
    ]
}

/// `shikaku pair ENDPOINT` with an operator at the PC: when the PC prints its code, the
/// operator looks at the reader (`code_on_reader`, given the PC's code and polled until the
/// reader shows one) and types what it shows. Answers the exit status and everything printed.
pub fn pair_as_operator(
    home: &Path,
    args: &[&str],
    code_on_reader: impl Fn(u32) -> Option<u32>,
) -> (bool, String) {
    use std::io::{BufRead, BufReader};
    let mut child = spawn_shikaku(home, args);
    let mut stdin = child.stdin.take();
    let stdout = child.stdout.take().unwrap();
    let mut printed = String::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let pc_code = line.strip_prefix("pairing code ").and_then(|r| r.get(..6)?.parse::<u32>().ok());
        if let Some(pc_code) = pc_code {
            let t0 = std::time::Instant::now();
            let mut code = code_on_reader(pc_code);
            while code.is_none() && t0.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(20));
                code = code_on_reader(pc_code);
            }
            if let (Some(c), Some(mut s)) = (code, stdin.take()) {
                let _ = writeln!(s, "{c:06}");
            }
        }
        printed.push_str(&line);
        printed.push('\n');
    }
    let o = child.wait_with_output().unwrap();
    printed.push_str(&String::from_utf8_lossy(&o.stderr));
    (o.status.success(), printed)
}
