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
