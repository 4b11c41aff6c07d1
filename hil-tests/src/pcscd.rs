//! A real pcscd for tests: start, stop, and the machine-wide lock the PC/SC tests share so
//! that no two test processes use pcscd and the vpcd readers at once.

use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn installed() -> bool {
    Command::new("pcscd").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// `SHIKAKU_REQUIRE_PCSC=1`: a missing pcscd is a failure, not a skip.
pub fn required() -> bool {
    std::env::var("SHIKAKU_REQUIRE_PCSC").as_deref() == Ok("1")
}

/// Takes the lock (blocks while another PC/SC test holds it); released when dropped.
pub fn lock() -> std::io::Result<File> {
    let f = File::create(std::env::temp_dir().join("shikaku-vcard-pcsc.lock"))?;
    f.lock()?;
    Ok(f)
}

pub fn running() -> bool {
    Command::new("pgrep").args(["-x", "pcscd"]).stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Stops every pcscd and waits until they are gone.
pub fn stop_all() {
    let _ = Command::new("pkill").args(["-x", "pcscd"]).status();
    let t0 = Instant::now();
    while running() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `pcscd -f` (foreground, as a child we own).
pub fn start() -> std::io::Result<Child> {
    let _ = std::fs::create_dir_all("/run/pcscd");
    Command::new("pcscd").args(["-f", "-e"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn()
}
