//! `shikaku run` as a reception PC runs it, against a simulated reader on TCP and the
//! reference eligibility service: the reception shows up on the loopback JSON API and in the
//! `face` folder, and a request the receipt computer drops into `req` is answered in `res`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use shikaku_hil::sim_device::SimDevice;
use shikaku_hil::sim_reader::SimReader;
use shikaku_hil::testkit::{self, shikaku_bin};
use shikaku_hil::vcard::{self, persona};
use shikaku_host::keystore::KeyStore;
use shikaku_protocol::auth::PairingKey;

const KEY: [u8; 32] = [0x19; 32];

fn http_get(addr: &str, path: &str) -> Option<String> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    body.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn shikaku_run_serves_the_api_and_both_folders() {
    let home = tempfile::tempdir().unwrap();
    let p = persona::find("yamada").unwrap();
    let (_, issued) = vcard::build(&p).unwrap();
    let service = testkit::eligibility_service(home.path(), 0).unwrap();
    let device = SimDevice::spawn(SimReader::new(KEY, "SK-RUN-1").with_persona_card(&issued)).unwrap();
    KeyStore::new(&home.path().join("keys")).store("SK-RUN-1", &PairingKey(KEY)).unwrap();
    let api = format!("127.0.0.1:{}", free_port());
    let oqs = home.path().join("oqs");
    let cfg = home.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "readers = [\"{}\"]\nkey_dir = \"{}\"\neligibility_url = \"{}\"\napi_listen = \"{api}\"\njournal = \"{}\"\nencoding = \"utf8\"\n[folders]\nface = \"{}\"\nreq = \"{}\"\nres = \"{}\"\n",
            device.endpoint(),
            home.path().join("keys").display(),
            service.url(),
            home.path().join("journal.sqlite").display(),
            oqs.join("face").display(),
            oqs.join("req").display(),
            oqs.join("res").display(),
        ),
    )
    .unwrap();
    let mut child = Command::new(shikaku_bin())
        .args(["--config", cfg.to_str().unwrap(), "run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // The patient at the reader.
    let pin: [u8; 4] = p.pin.as_deref().unwrap().as_bytes().try_into().unwrap();
    let t0 = Instant::now();
    let mut reception = None;
    let mut done = false;
    while t0.elapsed() < Duration::from_secs(30) && reception.is_none() {
        testkit::patient_pin_step(&mut device.reader.lock().unwrap(), &pin, &mut done);
        if let Some(body) = http_get(&api, "/receptions?since=0") {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if let Some(first) = v.as_array().and_then(|a| a.first()).filter(|r| !r["eligibility"].is_null())
            {
                reception = Some(first.clone());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let reception = reception.expect("the reception appears on the JSON API");
    assert_eq!(reception["reader"], "SK-RUN-1");
    assert_eq!(reception["method"], "pin");
    let el = &reception["eligibility"];
    assert_eq!(el["validity"], "1");
    let q = &el["qualification"];
    let faces: Vec<_> = std::fs::read_dir(oqs.join("face")).unwrap().flatten().collect();
    assert_eq!(faces.len(), 1, "one face file");

    // The receipt computer asks about this patient in `req`; the answer comes in `res`.
    let req = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<XmlMsg><MessageHeader><QualificationConfirmationDate>20261121</QualificationConfirmationDate><MedicalInstitutionCode>0000000000</MedicalInstitutionCode></MessageHeader><MessageBody><QualificationConfirmSearchInfo><InsurerNumber>{}</InsurerNumber><InsuredIdentificationNumber>{}</InsuredIdentificationNumber><Birthdate>{}</Birthdate><LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg></QualificationConfirmSearchInfo></MessageBody></XmlMsg>\n",
        q["insurer_number"].as_str().unwrap(),
        q["number"].as_str().unwrap(),
        q["birth_date"].as_str().unwrap(),
    );
    std::fs::write(oqs.join("req/OQSsiquc01req_T1.xml"), &req).unwrap();
    let t0 = Instant::now();
    let mut answer = None;
    while t0.elapsed() < Duration::from_secs(15) && answer.is_none() {
        answer = std::fs::read_dir(oqs.join("res"))
            .unwrap()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with("OQSsiquc01res_"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap());
        std::thread::sleep(Duration::from_millis(100));
    }
    let answer = answer.expect("an answer in res");
    assert!(answer.contains("<QualificationValidity>1</QualificationValidity>"), "{answer}");
    assert!(answer.contains(q["number"].as_str().unwrap()), "{answer}");
    let layout = shikaku_hil::layout::check_tree(&oqs, &[("OQSsiquc01req_T1.xml".into(), req.into_bytes())]);
    assert_eq!((layout.face, layout.res), (1, 1));
    assert!(layout.violations.is_empty(), "the files follow the layout: {:?}", layout.violations);

    let _ = child.kill();
    let mut out = String::new();
    let _ = child.stdout.take().unwrap().read_to_string(&mut out);
    let _ = child.wait();
    assert!(out.contains("reader SK-RUN-1 connected"), "{out}");
    assert!(out.contains("confirmed"), "{out}");
    service.shutdown();
}
