//! The persistent store on the QEMU image's emulated flash, across "reboots": the
//! `shikaku-storetest` image (`firmware/image-qemu/src/bin/storetest.rs`, built with the
//! reader image by `scripts/qemu.sh build`) runs in `qemu-system-arm -machine mps2-an386` with
//! a fresh temporary working directory, where its flash is the file `shikaku-flash.bin`. One
//! run writes, the next one (a new QEMU process, the same file) must read it back; a run
//! killed in the middle of its writes (a power cut) must leave a store that reopens with the
//! earlier records intact.
//!
//! Without the image (or QEMU) the tests say so and pass, unless `SHIKAKU_REQUIRE_QEMU=1`
//! (set by `scripts/test.sh`), where they fail.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use shikaku_hil::qemu;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The storetest image, or `None` (with the reason printed) when it cannot run here.
fn image() -> Option<PathBuf> {
    let p = qemu::default_image(&root()).with_file_name("shikaku-storetest");
    qemu::image_for_test(p, "the QEMU store test")
}

/// QEMU booting `image` with `command` as its semihosting argument, in `dir`.
fn qemu_cmd(image: &Path, dir: &Path, command: &str) -> Command {
    let mut c = Command::new("qemu-system-arm");
    c.current_dir(dir)
        .args(["-machine", "mps2-an386", "-nographic", "-monitor", "none", "-semihosting-config"])
        .arg(format!("enable=on,target=native,arg=storetest,arg={command}"))
        .arg("-kernel")
        .arg(image)
        .stdin(Stdio::null());
    c
}

/// One boot to the end: its output, and whether it exited 0.
fn boot(image: &Path, dir: &Path, command: &str) -> (String, bool) {
    let child = qemu_cmd(image, dir, command)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qemu-system-arm starts");
    // A hung image must not hang the test.
    let pid = child.id();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(Duration::from_secs(120)).is_err() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    });
    let Output { status, stdout, stderr } = child.wait_with_output().expect("qemu-system-arm runs");
    let _ = done_tx.send(());
    let _ = watchdog.join();
    let out = format!("{}{}", String::from_utf8_lossy(&stdout), String::from_utf8_lossy(&stderr));
    eprintln!("--- storetest {command} ({status}):\n{out}");
    (out, status.success())
}

/// Boots `churn` and kills QEMU (a power cut) once it printed `round {after}`.
fn churn_and_cut(image: &Path, dir: &Path, after: u32) {
    let mut child = qemu_cmd(image, dir, "churn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("qemu-system-arm starts");
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let want = format!("round {after}");
    let mut seen = Vec::new();
    let reached = loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line == want => break true,
            Ok(line) => seen.push(line),
            Err(_) => break false,
        }
    };
    child.kill().expect("qemu-system-arm killed");
    let _ = child.wait();
    assert!(reached, "churn never printed {want:?}; it printed: {seen:?}");
}

#[test]
fn a_second_boot_reads_what_the_first_wrote() {
    let Some(image) = image() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let (out, ok) = boot(&image, dir.path(), "write");
    assert!(ok && out.contains("storetest ok"), "write run: {out}");
    assert_eq!(
        std::fs::metadata(dir.path().join("shikaku-flash.bin")).expect("flash file").len(),
        128 * 1024,
        "the flash file has the region's size"
    );
    let (out, ok) = boot(&image, dir.path(), "read");
    assert!(ok && out.contains("storetest ok"), "read run: {out}");
    for line in [
        "key 3c x32",
        "lockout 3",
        "pending session 7 seq 1 type 0x31 len 100",
        "pending session 7 seq 2 type 0x32 len 1000",
        "pending session 7 seq 3 type 0x33 len 3072",
        "pending written 3 churned 0",
    ] {
        assert!(out.contains(line), "{line:?} missing from the read run: {out}");
    }
}

#[test]
fn a_boot_killed_in_the_middle_of_writes_leaves_a_store_that_reopens_intact() {
    let Some(image) = image() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let (out, ok) = boot(&image, dir.path(), "write");
    assert!(ok, "write run: {out}");
    // Cuts at several points; the later ones come after the region (128 KiB) has been
    // written over more than once (each round writes about 2 KiB), so some fall while a
    // sector is reclaimed.
    for after in [3, 29, 70, 150] {
        churn_and_cut(&image, dir.path(), after);
        let (out, ok) = boot(&image, dir.path(), "read");
        assert!(ok && out.contains("storetest ok"), "read after a cut past round {after}: {out}");
        assert!(!out.contains("key 3c x32"), "the churned key replaced the written one: {out}");
    }
}
