//! Runs the reader image in QEMU (`mps2-an386`) with a persona's virtual card under the
//! simulated NFC frontend, and prints the endpoint the host driver connects to. The patient
//! and staff at the counter follow a script (`--script pin:1234,visual:4821`), each step once
//! the reader is idle again; phases and the stack high-water mark are printed as they come.
//!
//! The reader keeps its flash in `--state-dir` (the same directory again: the same reader,
//! still paired). A new one is unpaired: run `shikaku pair tcp:127.0.0.1:<port>`; when the PC
//! prints its pairing code, type that code here (you are the staff member at the reader): the
//! bridge presses Yes on the reader if the reader shows the same code, No otherwise.
//!
//! ```sh
//! scripts/qemu.sh run --persona yamada --state-dir /tmp/reader1 --script pin:1234
//! shikaku pair tcp:127.0.0.1:<port>   # then type the code it prints into the bridge
//! shikaku run   # with readers = ["tcp:127.0.0.1:<port>"] in the config
//! ```

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use shikaku_hil::qemu::{Patient, QemuRig};
use shikaku_hil::vcard::{self, persona};

#[derive(Parser)]
#[command(about = "The shikaku reader image in QEMU with a virtual My Number card")]
struct Args {
    /// The image (firmware/image-qemu, release build).
    #[arg(long)]
    image: PathBuf,
    /// Built-in persona whose card lies ready.
    #[arg(long, default_value = "yamada")]
    persona: String,

    /// Comma-separated receptions: `pin:DDDD` or `visual:DDDD` (staff passcode).
    #[arg(long, default_value = "")]
    script: String,
    /// The reader's flash (`shikaku-flash.bin`) and QEMU's log.
    #[arg(long, default_value = ".")]
    state_dir: PathBuf,
}

fn main() -> Result<(), String> {
    let a = Args::parse();
    let p = persona::find(&a.persona).ok_or_else(|| format!("no persona {}", a.persona))?;
    let (card, _) = vcard::build(&p)?;
    let mut script: Vec<Patient> = Vec::new();
    for step in a.script.split(',').filter(|s| !s.is_empty()) {
        match step.split_once(':') {
            Some(("pin", d)) => script.push(Patient::Pin { pin: d.into() }),
            Some(("visual", d)) => script.push(Patient::Visual { passcode: d.into() }),
            _ => return Err(format!("bad script step {step}")),
        }
    }
    std::fs::create_dir_all(&a.state_dir).map_err(|e| format!("{}: {e}", a.state_dir.display()))?;
    let mut rig = QemuRig::start(&a.image, card, &a.state_dir).map_err(|e| e.to_string())?;
    println!("reader on {}", rig.endpoint());
    // The staff member at the reader: the code the PC showed, typed here.
    let state = rig.state.clone();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines().map_while(Result::ok) {
            if let Ok(code) = line.trim().parse::<u32>() {
                if let Ok(mut s) = state.lock() {
                    s.host_code = Some(code);
                }
            }
        }
    });
    let mut shown = None;
    let mut last = String::new();
    let mut stack = None;
    let mut steps = script.into_iter();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        if !rig.alive() {
            return Err("qemu exited".into());
        }
        let code = rig.state.lock().ok().and_then(|s| s.shown_code);
        if code != shown {
            shown = code;
            if let Some(c) = code {
                println!("the reader shows pairing code {c:06}: type the code the PC shows");
            }
        }
        let st = rig.status();
        let line = format!("{} secured={} synced={} card={}", st.phase, st.secured, st.clock_synced, st.card);
        if line != last {
            println!("phase {line}");
            last = line;
        }
        let (s, away) =
            rig.state.lock().map(|s| (s.stack, s.patient == Patient::Away)).unwrap_or((None, false));
        if s != stack {
            if let Some((used, size)) = s {
                println!("stack high-water mark (main loop): {used} of {size} bytes");
            }
            stack = s;
        }
        if away && st.phase == "Idle" && st.secured && st.clock_synced {
            if let Some(p) = steps.next() {
                println!("next at the counter: {p:?}");
                rig.set_patient(p);
            }
        }
    }
}
