//! Runs the reader image in QEMU (`mps2-an386`) with a persona's virtual card under the
//! simulated NFC frontend, and prints the endpoint the host driver connects to. The patient
//! and staff at the counter follow a script (`--script pin:1234,visual:4821`), each step once
//! the reader is idle again; phases and the stack high-water mark are printed as they come.
//!
//! ```sh
//! scripts/qemu.sh run --persona yamada --key-hex <64 hex digits> --script pin:1234
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
    /// The pairing key handed to the image at boot (64 hex digits); unpaired without.
    #[arg(long)]
    key_hex: Option<String>,
    /// Comma-separated receptions: `pin:DDDD` or `visual:DDDD` (staff passcode).
    #[arg(long, default_value = "")]
    script: String,
    /// Where QEMU's log goes.
    #[arg(long, default_value = ".")]
    log_dir: PathBuf,
}

fn main() -> Result<(), String> {
    let a = Args::parse();
    let p = persona::find(&a.persona).ok_or_else(|| format!("no persona {}", a.persona))?;
    let (card, _) = vcard::build(&p)?;
    let key = match &a.key_hex {
        None => None,
        Some(h) => {
            let bytes: Vec<u8> = (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(h.get(i..i + 2).unwrap_or("zz"), 16))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("--key-hex: {e}"))?;
            Some(<[u8; 32]>::try_from(bytes).map_err(|_| "--key-hex: 32 bytes".to_string())?)
        }
    };
    let mut script: Vec<Patient> = Vec::new();
    for step in a.script.split(',').filter(|s| !s.is_empty()) {
        match step.split_once(':') {
            Some(("pin", d)) => script.push(Patient::Pin { pin: d.into() }),
            Some(("visual", d)) => script.push(Patient::Visual { passcode: d.into() }),
            _ => return Err(format!("bad script step {step}")),
        }
    }
    let mut rig = QemuRig::start(&a.image, card, key, &a.log_dir).map_err(|e| e.to_string())?;
    println!("reader on {}", rig.endpoint());
    let mut last = String::new();
    let mut stack = None;
    let mut steps = script.into_iter();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        if !rig.alive() {
            return Err("qemu exited".into());
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
