//! Small pieces the integration tests share: the `shikaku` binary, a reference eligibility
//! service on an ephemeral port, and a patient who answers whatever the reader shows.

use std::path::{Path, PathBuf};
use std::process::Command;

use shikaku_firmware::session::{Event, Key, Phase};

use crate::sim_reader::SimReader;

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
        Phase::Idle if !*done => r.event(0, Event::CardPresent),
        Phase::ChooseMethod => r.event(0, Event::Key(Key::ChoosePin)),
        Phase::PinEntry => {
            for d in pin {
                r.event(0, Event::Key(Key::Digit(d.wrapping_sub(b'0'))));
            }
        }
        Phase::ConsentIntro => r.event(0, Event::Key(Key::Yes)),
        Phase::Finished => {
            *done = true;
            r.event(0, Event::CardRemoved);
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
    let mut now = 1_000u64;
    let mut frames_seen = 0usize;
    let mut connection = 0u8;
    let mut script = script.into_iter().peekable();
    host.connect([connection; 16]);
    while now < until_ms {
        now += 50;
        if !gate || (reader.link.is_secured() && reader.session.clock_synced()) {
            while let Some((_, e)) = script.next_if(|(t, _)| *t <= now) {
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
                    let _ = host.send(&Message::TimeSync { unix_ms: NOW_UNIX_MS + now });
                    on_secured(host);
                    let _ = host.send(&Message::HostChallenge { challenge: [0xC1; 32] });
                }
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
