//! The `shikaku` command line against a simulated reader on TCP: pairing stores a key and both
//! sides agree; a passcode is hashed on the PC and only the salted hash reaches the reader;
//! weak or mismatched passcodes and unpaired readers are refused with a clear message.

use std::path::{Path, PathBuf};

use shikaku_hil::sim_device::SimDevice;
use shikaku_hil::sim_reader::SimReader;
use shikaku_hil::testkit::{output_text as text, pair_as_operator, shikaku};

#[test]
fn pair_then_provision_a_passcode_over_the_paired_link() {
    let home = tempfile::tempdir().unwrap();
    let device = SimDevice::spawn(SimReader::unpaired("SK-CLI-1")).unwrap();
    let ep = device.endpoint();

    // Not paired yet: passcodes are refused before anything is sent.
    let o = shikaku(home.path(), &["passcode", "set", "staff-01", "--reader", &ep], "4821\n4821\n");
    assert!(!o.status.success());
    assert!(text(&o).contains("not paired"), "{}", text(&o));

    let (ok, out) =
        pair_as_operator(home.path(), &["pair", &ep], |_| device.reader.lock().unwrap().shown_code);
    assert!(ok, "{out}");
    assert!(out.contains("paired with SK-CLI-1"), "{out}");
    assert!(home.path().join("keys/SK-CLI-1.key").exists());
    assert!(device.reader.lock().unwrap().link.is_paired());

    // Weak and mismatched passcodes never leave the PC.
    for (input, why) in
        [("1234\n1234\n", "straight run"), ("4821\n4822\n", "differ"), ("48a1\n48a1\n", "4 digits")]
    {
        let o = shikaku(home.path(), &["passcode", "set", "staff-01", "--reader", &ep], input);
        assert!(!o.status.success());
        assert!(text(&o).contains(why), "{}", text(&o));
    }
    assert_eq!(device.reader.lock().unwrap().session.passcodes().accounts(), 0);

    let o = shikaku(
        home.path(),
        &["passcode", "set", "staff-01", "--reader", &ep, "--iterations", "10000"],
        "4821\n4821\n",
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(device.reader.lock().unwrap().session.passcodes().accounts(), 1);
    // Nothing about the passcode stays on the PC.
    for entry in walk(home.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!bytes.windows(4).any(|w| w == b"4821"), "{} holds the passcode", entry.display());
    }

    let o = shikaku(home.path(), &["passcode", "revoke", "staff-01", "--reader", &ep], "");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(device.reader.lock().unwrap().session.passcodes().accounts(), 0);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
