//! The virtual card through a real pcscd + vpcd: OpenSC, `myna-card` and raw PC/SC see it as
//! a card. One test function with sub-steps, so nothing else uses the reader meanwhile.
//!
//! Test processes serialise on a lock file in the temp dir. Skips (with a message) only when
//! pcscd is not installed; with `SHIKAKU_REQUIRE_PCSC=1` it
//! fails instead. Uses an already running pcscd (e.g. from `scripts/pcsc-rig.sh pcscd`) or starts
//! `pcscd -f` itself and stops it afterwards. The card is served on vpcd port
//! `$SHIKAKU_VPCD_PORT` (default 35964, reader "Virtual PCD 00 01", so a card the rig serves on
//! 35963 is left alone).

use myna_card::ap::jpki::{JpkiAp, SignatureScheme};
use myna_card::ap::surface::SurfaceAp;
use myna_card::ap::text::TextAp;
use myna_card::transport::pcsc::{connect, Sharing};
use myna_card::{CardVerifiableCertificate, Certificate, Pin};
use shikaku_hil::testkit;
use shikaku_hil::vcard::card::VirtualCard;
use shikaku_hil::vcard::persona::{self, Date};
use shikaku_hil::vcard::vpcd::{self, CardServer, VpcdConfig};
use shikaku_hil::vcard::{self, AtrChoice, Issued};
use std::ffi::CString;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn port() -> u16 {
    std::env::var("SHIKAKU_VPCD_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(35964)
}

fn reader_name() -> String {
    format!("Virtual PCD 00 {:02}", port() - 35963)
}

fn required() -> bool {
    std::env::var("SHIKAKU_REQUIRE_PCSC").is_ok_and(|v| v == "1")
}

fn installed(cmd: &str) -> bool {
    Command::new(cmd)
        .arg(if cmd == "pcscd" { "--version" } else { "--help" })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// pcscd we started (killed on drop) or one that was already there.
struct Pcscd(Option<Child>);

impl Drop for Pcscd {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn reader_listed() -> bool {
    pcsc::Context::establish(pcsc::Scope::User)
        .and_then(|ctx| ctx.list_readers_owned())
        .map(|readers| readers.iter().any(|r| r.to_string_lossy() == reader_name()))
        .unwrap_or(false)
}

fn start_pcscd() -> Pcscd {
    if reader_listed() {
        eprintln!("vcard_pcsc: using the running pcscd");
        return Pcscd(None);
    }
    let _ = std::fs::create_dir_all("/run/pcscd");
    let child = Command::new("pcscd")
        .args(["-f", "-e"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting pcscd -f");
    let guard = Pcscd(Some(child));
    let t0 = Instant::now();
    while !reader_listed() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "pcscd started but reader {} never appeared (is vsmartcard-vpcd installed?)",
            reader_name()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("vcard_pcsc: started pcscd -f");
    guard
}

fn card_present() -> bool {
    let Ok(ctx) = pcsc::Context::establish(pcsc::Scope::User) else {
        return false;
    };
    let name = CString::new(reader_name()).unwrap();
    ctx.connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY).is_ok()
}

fn wait_presence(present: bool) {
    let t0 = Instant::now();
    while card_present() != present {
        if t0.elapsed() > Duration::from_secs(20) {
            let (_, sockets) = run("ss", &["-tanp"]);
            panic!(
                "card never became {} in {}; sockets:\n{sockets}",
                if present { "present" } else { "absent" },
                reader_name()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Serves `id` until the returned server is dropped; waits until pcscd sees the card.
fn serve(id: &str, atr: AtrChoice) -> (CardServer<VirtualCard>, Issued) {
    let p = persona::find(id).unwrap();
    let (card, issued) = vcard::build_at(&p, Date::today(), &atr).unwrap();
    let server = vpcd::spawn(
        card,
        VpcdConfig {
            port: port(),
            verbose: std::env::var_os("SHIKAKU_VCARD_VERBOSE").is_some(),
            ..Default::default()
        },
    );
    wait_presence(true);
    (server, issued)
}

fn remove(mut server: CardServer<VirtualCard>) {
    server.stop();
    wait_presence(false);
}

fn run(cmd: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("running {cmd}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    let b64: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => 0,
        }
    };
    let bytes: Vec<u8> = b64.bytes().filter(|c| *c != b'=').collect();
    let mut out = vec![];
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c) << (18 - 6 * i);
        }
        let take = chunk.len() - 1;
        out.extend(&n.to_be_bytes()[1..1 + take]);
    }
    out
}

fn transmit(card: &pcsc::Card, apdu: &[u8]) -> u16 {
    let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    let r = card.transmit(apdu, &mut buf).expect("transmit");
    u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]])
}

fn opensc_steps(issued: &Issued) {
    let reader = reader_name();
    let (ok, out) = run("opensc-tool", &["-r", &reader, "--name"]);
    assert!(ok && out.contains("jpki"), "opensc-tool --name: {out}");
    let (ok, out) = run("pkcs15-tool", &["-r", &reader, "--list-certificates"]);
    assert!(ok, "pkcs15-tool --list-certificates: {out}");
    for label in [
        "User Authentication Certificate",
        "Digital Signature Certificate",
        "User Authentication Certificate CA",
    ] {
        assert!(out.contains(label), "{label} missing in: {out}");
    }
    let (ok, out) = run("pkcs15-tool", &["-r", &reader, "--read-certificate", "01"]);
    assert!(ok, "pkcs15-tool --read-certificate 01: {out}");
    assert_eq!(pem_to_der(&out), issued.auth_cert, "certificate 01 differs");
    let (ok, out) = run("pkcs15-tool", &["-r", &reader, "--read-certificate", "03"]);
    assert!(ok, "{out}");
    assert_eq!(pem_to_der(&out), issued.auth_ca_cert, "certificate 03 differs");
    let (ok, out) = run("pkcs15-tool", &["-r", &reader, "--list-pins"]);
    assert!(ok && out.contains("Tries left     : 3"), "{out}");

    // Signature through OpenSC's JPKI driver (SELECT 0017, VERIFY 0018, 80 2A 00 80).
    let dir = std::env::temp_dir().join(format!("vcard-pcsc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let msg = b"signed through pcscd by OpenSC";
    let digest = {
        use sha2::{Digest, Sha256};
        Sha256::digest(msg)
    };
    let input = dir.join("digest");
    let output = dir.join("sig");
    std::fs::write(&input, digest).unwrap();
    let pin = issued.persona.pin.clone().unwrap();
    let (ok, out) = run("pkcs15-crypt", &testkit::pkcs15_crypt_sign_args(&reader, &pin, &input, &output));
    assert!(ok, "pkcs15-crypt: {out}");
    let sig = std::fs::read(&output).unwrap();
    Certificate::parse(&issued.auth_cert)
        .unwrap()
        .public_key()
        .unwrap()
        .verify_pkcs1_sha256(msg, &sig)
        .expect("OpenSC signature verifies with the certificate");
    let _ = std::fs::remove_dir_all(&dir);
}

fn myna_card_steps(issued: &Issued) {
    let p = &issued.persona;
    let mut card = connect(&reader_name(), Sharing::Exclusive).expect("myna-card connects");
    {
        let mut jpki = JpkiAp::select(&mut card).unwrap();
        assert_eq!(jpki.read_auth_certificate_der().unwrap(), issued.auth_cert);
        assert_eq!(jpki.read_auth_ca_certificate_der().unwrap(), issued.auth_ca_cert);
        let cert = jpki.read_auth_certificate().unwrap();
        cert.verify_signature(&jpki.read_auth_ca_certificate().unwrap()).unwrap();
        jpki.verify_auth_pin(&Pin::numeric(p.pin.clone().unwrap()).unwrap()).unwrap();
        jpki.sign_with_auth_key_checked(SignatureScheme::Sha256DigestInfo, b"via pcscd").unwrap();
        jpki.verify_sign_pin(&Pin::new(p.sign_password.clone().unwrap()).unwrap()).unwrap();
        assert_eq!(jpki.read_sign_certificate_der().unwrap(), issued.sign_cert.clone().unwrap());
        jpki.sign_with_sign_key_checked(SignatureScheme::Sha256DigestInfo, b"via pcscd").unwrap();
    }
    {
        let mut text = TextAp::select(&mut card).unwrap();
        text.verify_pin(&Pin::numeric(p.pin.clone().unwrap()).unwrap()).unwrap();
        let attrs = text.read_attributes().unwrap();
        assert_eq!(attrs.name, p.name);
        assert_eq!(attrs.address, p.address);
        assert_eq!(attrs.birth_date.to_string(), p.birth_date.to_string());
        let raw = text.read_ef(0x0002).unwrap();
        let integrity = text.read_integrity_record().unwrap();
        assert!(integrity.matches_attributes_file(&raw).unwrap());
        integrity.verify(&text.read_certificate().unwrap().public_key).unwrap();
    }
    {
        let mut surface = SurfaceAp::select(&mut card).unwrap();
        surface.verify_code_b(&Pin::numeric(p.code_b()).unwrap()).unwrap();
        let cert = surface.read_certificate().unwrap();
        let face = surface.read_card_face().unwrap();
        face.verify(&cert.public_key).unwrap();
        let challenge = surface.card().get_challenge(16).unwrap();
        let sig = surface.sign(&challenge).unwrap();
        SignatureScheme::Sha256DigestInfo.verify(&face.public_key, &challenge, &sig).unwrap();
    }
    // MF-level GET DATA needs the extended Le retry, through pcscd and vpcd.
    let mut mf = myna_card::MasterFile::select(&mut card).unwrap();
    let chain = mf.certificate_chain().unwrap();
    assert_eq!(chain.len(), 2);
    CardVerifiableCertificate::verify_chain(&chain).unwrap();
}

fn pin_lock_steps() {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let name = CString::new(reader_name()).unwrap();
    let card = ctx.connect(&name, pcsc::ShareMode::Exclusive, pcsc::Protocols::ANY).unwrap();
    let select_jpki =
        [0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
    assert_eq!(transmit(&card, &select_jpki), 0x9000);
    assert_eq!(transmit(&card, &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18]), 0x9000);
    assert_eq!(transmit(&card, &[0x00, 0x20, 0x00, 0x80]), 0x63C3);
    let wrong = [0x00, 0x20, 0x00, 0x80, 0x04, b'9', b'9', b'9', b'9'];
    let answers: Vec<u16> = (0..4).map(|_| transmit(&card, &wrong)).collect();
    assert_eq!(answers, [0x63C2, 0x63C1, 0x63C0, 0x6984]);
    let right = [0x00, 0x20, 0x00, 0x80, 0x04, b'1', b'2', b'3', b'4'];
    assert_eq!(transmit(&card, &right), 0x6984, "locked for good");
    // Still locked after a card reset through pcscd.
    card.disconnect(pcsc::Disposition::ResetCard).map_err(|(_, e)| e).unwrap();
    let card = ctx.connect(&name, pcsc::ShareMode::Exclusive, pcsc::Protocols::ANY).unwrap();
    assert_eq!(transmit(&card, &select_jpki), 0x9000);
    assert_eq!(transmit(&card, &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18]), 0x9000);
    assert_eq!(transmit(&card, &[0x00, 0x20, 0x00, 0x80]), 0x63C0);
    assert_eq!(transmit(&card, &right), 0x6984);
    // Logical channels are refused.
    assert_eq!(transmit(&card, &[0x01, 0xB0, 0x00, 0x00, 0x00]), 0x6881);
}

#[test]
fn virtual_card_through_pcscd() {
    if !installed("pcscd") {
        if required() {
            panic!("SHIKAKU_REQUIRE_PCSC=1 but pcscd is not installed");
        }
        eprintln!(
            "SKIPPED vcard_pcsc: pcscd is not installed (apt-get install pcscd vsmartcard-vpcd \
             opensc); set SHIKAKU_REQUIRE_PCSC=1 to make this a failure"
        );
        return;
    }
    assert!(installed("opensc-tool"), "pcscd is installed but OpenSC is not (apt-get install opensc)");
    // Other test processes on this machine (e.g. a parallel `cargo test -p shikaku-hil` in
    // another target dir) must not share pcscd and the reader with us: a cross-process lock.
    let lock_path = std::env::temp_dir().join("shikaku-vcard-pcsc.lock");
    let lock = std::fs::File::create(&lock_path).expect("creating the pcsc test lock file");
    lock.lock().expect("locking the pcsc test lock file");
    let mut pcscd = start_pcscd();
    if card_present() {
        panic!(
            "a card is already present in {}: stop whatever serves it, or set SHIKAKU_VPCD_PORT",
            reader_name()
        );
    }

    // 1. OpenSC and myna-card against a generated persona with a non-JIS X 0208 name.
    let (server, issued) = serve("takasaki", AtrChoice::Contactless);
    opensc_steps(&issued);
    myna_card_steps(&issued);
    remove(server);

    // 2. Three wrong PINs lock; the 4th answer is 6984, seen through pcscd.
    let (server, _) = serve("yamada", AtrChoice::Contactless);
    pin_lock_steps();
    {
        let card = server.card.lock().unwrap();
        assert_eq!(card.tries_left(vcard::card::Applet::Jpki, 0x0018), Some(0));
    }
    remove(server);

    // 3. The fixture persona hands OpenSC the real test-card certificate, byte for byte; with
    //    the contact ATR OpenSC matches the JPKI driver by ATR.
    let (server, _) = serve("fixture", AtrChoice::Contact);
    let (ok, out) = run("opensc-tool", &["-r", &reader_name(), "--atr"]);
    assert!(ok && out.contains("3b:e0:00:ff:81:31:fe:45:14"), "{out}");
    let (ok, out) = run("pkcs15-tool", &["-r", &reader_name(), "--read-certificate", "01"]);
    assert!(ok, "{out}");
    assert_eq!(pem_to_der(&out), vcard::fixture("jpki-auth-cert.der").unwrap());
    remove(server);

    // 4. vpcd goes away (pcscd restarted under the card): the card reconnects by itself.
    if pcscd.0.is_some() {
        let (server, _) = vcard::spawn_persona("yamada", port()).unwrap();
        wait_presence(true);
        drop(pcscd);
        pcscd = start_pcscd();
        wait_presence(true);
        let (ok, out) = run("opensc-tool", &["-r", &reader_name(), "--name"]);
        assert!(ok && out.contains("jpki"), "after pcscd restart: {out}");
        remove(server);
    } else {
        eprintln!("vcard_pcsc: pcscd restart step skipped (pcscd was not started by this test)");
    }
    drop(pcscd);
    drop(lock);
}
