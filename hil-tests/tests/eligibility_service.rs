//! The reference eligibility service over real HTTP on 127.0.0.1 and a real SQLite file,
//! driven by the host's HTTP client and virtual cards that sign as the reader asks them to.

mod common;

use common::eligibility::*;
use shikaku_hil::eligibility::{seed, Clock};
use shikaku_hil::vcard::{keys, persona, pki};
use shikaku_host::eligibility::wire::{
    self, CertStatus, ConsentAnswers, ProofCheck, ProofJson, RegistrationRequest,
};
use shikaku_host::eligibility::{EligibilityService, ErrorCode, InsuredQuery};
use shikaku_host::model::{
    ConsentFlag, Consents, Eligibility, InsuredCardClassification, LimitCategory,
    LimitCertificateClassification, Method, PersonalFamilyClassification, PreschoolClassification,
    Qualification, QualificationValidity, ReasonOfLoss, Sex,
};

/// A PIN reception of built-in persona `id` end to end: challenge, card signature, answer.
fn pin_reception(
    svc: &impl EligibilityService,
    id: &str,
    consents: ConsentAnswers,
) -> Result<shikaku_host::eligibility::EligibilityAnswer, shikaku_host::eligibility::EligibilityError> {
    let p = persona::find(id).unwrap();
    let (mut card, cert) = card(id);
    let challenge = svc.challenge()?.bytes().unwrap();
    let sig = card_sign(&mut card, p.pin.as_deref().unwrap(), &challenge);
    let mut req = signed_request(id, &cert, &challenge, &sig);
    req.consents = consents;
    svc.check(&req)
}

/// The qualification an answer is about (1, 2, 3).
fn qual(e: &Eligibility) -> &Qualification {
    e.qualification.as_deref().unwrap_or_else(|| panic!("a qualification in {e:?}"))
}

fn name(e: &Eligibility) -> Option<&str> {
    e.qualification.as_deref().map(|q| q.name.as_str())
}

/// A `YYYYMMDDHHMMSS` time a day later.
fn a_day_after(t: &str) -> String {
    let d = persona::Date::parse(&t[..8]).expect("YYYYMMDD").add_days(1);
    format!("{}{}", d.yyyymmdd(), &t[8..])
}

fn code_of<T: std::fmt::Debug>(r: Result<T, shikaku_host::eligibility::EligibilityError>) -> ErrorCode {
    r.expect_err("refused").code
}

#[test]
fn valid_card_signature_answers_the_record_with_consents() {
    let env = start();
    let c = env.client();
    let consents =
        ConsentAnswers { medication: Some(true), health_checkup: Some(false), ..Default::default() };
    let a = pin_reception(&c, "yamada", consents).unwrap();
    let e = &a.eligibility;
    assert_eq!(e.validity, QualificationValidity::Valid);
    let q = qual(e);
    assert_eq!(q.name, "山田　太郎");
    assert_eq!(q.name_kana.as_deref(), Some("ヤマダ　タロウ"));
    assert_eq!(q.insurer_number, "06273399");
    assert_eq!(q.insurer_name, "関西中央商事健康保険組合");
    assert_eq!(
        (q.symbol.as_deref(), q.number.as_str(), q.branch.as_deref()),
        (Some("21003"), "1024", Some("00"))
    );
    assert_eq!(q.family, Some(PersonalFamilyClassification::Insured));
    assert_eq!(q.birth_date, "19750401");
    assert_eq!(q.copay_percent, Some(30));
    assert_eq!(
        (q.qualification_date.as_deref(), q.disqualification_date.as_deref()),
        (Some("19980401"), None)
    );
    // The 照会番号 the clinic registered for this patient.
    assert_eq!(e.reference_number.as_deref(), Some("0000012345"));
    // Consents: the flag, when (JST, to the second) and until when — 24 hours later when given.
    let medication = e.consents.medication.as_ref().expect("medication answered");
    assert_eq!(medication.flag, ConsentFlag::Given);
    assert!(
        medication.time.len() == 14 && medication.time.bytes().all(|b| b.is_ascii_digit()),
        "{medication:?}"
    );
    assert_eq!(medication.available_until.as_deref(), Some(a_day_after(&medication.time).as_str()));
    let checkup = e.consents.health_checkup.as_ref().expect("health checkup answered");
    assert_eq!((checkup.flag, &checkup.available_until), (ConsentFlag::NotGiven, &None));
    assert_eq!(e.consents.treatment, None);
    assert_eq!(a.proof, ProofCheck::CardSignature);
    assert!(!a.attested_by_host && !a.deferred && a.registered && a.medical_info_available);
    assert_eq!(a.cert_status, CertStatus::Valid);

    // Consents are kept: a later reception without the screens still returns them.
    let again = pin_reception(&c, "yamada", ConsentAnswers::default()).unwrap();
    assert_eq!(again.eligibility.consents.medication.as_ref(), Some(medication));
    // The 照会番号 is the patient's, not the answer's.
    assert_eq!(again.eligibility.reference_number, e.reference_number);
}

#[test]
fn a_card_lookup_returns_the_full_record_with_names_outside_jis_x_0208_unchanged_in_the_json() {
    let env = start();
    let c = env.client();
    let p = persona::find("takasaki").unwrap();
    let (mut card, cert) = card("takasaki");
    let ch = c.challenge().unwrap().bytes().unwrap();
    let sig = card_sign(&mut card, p.pin.as_deref().unwrap(), &ch);
    let req = signed_request("takasaki", &cert, &ch, &sig);
    // The JSON itself: UTF-8 as stored, no escapes, no substitutes.
    let (status, body) =
        raw(&env.url(), "POST", "/eligibility", serde_json::to_string(&req).unwrap().as_bytes());
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""name":"髙﨑　𠮷乃""#), "{body}");
    // The client reads the kept answer back: the same record.
    let e = c.check(&req).unwrap().eligibility;
    let q = qual(&e);
    assert_eq!(q.name, "髙﨑　𠮷乃");
    assert_eq!(q.name_kana.as_deref(), Some("タカサキ　ヨシノ"));
    assert_eq!(q.insurer_number, "270009", "国保: 6 digits");
    assert_eq!(q.insurer_name, "大阪市 国民健康保険");
    assert_eq!(q.card_classification, InsuredCardClassification::General);
    assert_eq!((q.sex1, q.sex2), (Sex::Female, None));
    assert_eq!(q.address.as_deref(), Some("大阪府大阪市北区中之島１－３－２０"));
    assert_eq!(q.post_number.as_deref(), Some("530-0005"));
    assert_eq!(
        (q.symbol.as_deref(), q.number.as_str(), q.branch.as_deref()),
        (Some("大阪北"), "812345", Some("01"))
    );
    assert_eq!(q.family, None, "国保 knows no 本人/家族");
    let limit = q.limit.as_ref().expect("限度額適用認定証");
    assert_eq!(
        (limit.classification, limit.category),
        (LimitCertificateClassification::Limit, LimitCategory::A03)
    );
    assert_eq!(limit.category.label(), "ウ");
    assert_eq!(q.birth_date, "19890108");
}

#[test]
fn certificate_validity_rules() {
    let env = start();
    let c = env.client();
    let all = ConsentAnswers { comprehensive: Some(true), ..Default::default() };

    let a = pin_reception(&c, "expiring", all).unwrap();
    assert_eq!(a.cert_status, CertStatus::ExpiringSoon);
    assert_eq!(a.eligibility.validity, QualificationValidity::Valid);
    assert_eq!(a.eligibility.consents.surgery.as_ref().map(|c| c.flag), Some(ConsentFlag::Given));

    // Expired 30 days ago: accepted, eligibility only, consents neither kept nor returned.
    let a = pin_reception(&c, "expired", all).unwrap();
    assert_eq!(a.cert_status, CertStatus::Grace);
    assert!(!a.medical_info_available);
    assert_eq!(a.eligibility.validity, QualificationValidity::Valid);
    assert_eq!(name(&a.eligibility), Some("佐藤　健"));
    assert_eq!(a.eligibility.consents, Consents::none());

    // Expired 200 days ago: refused with its own code.
    assert_eq!(code_of(pin_reception(&c, "lapsed", all)), ErrorCode::CertLapsed);
}

#[test]
fn grace_boundary_by_the_clock() {
    // The fixture test card's certificate ends 2030-02-17 14:59:59 UTC; 3 calendar months
    // later is 2030-05-17.
    let day = |y: i32, m: u8, d: u8| persona::Date::new(y, m, d).days() * 86_400_000 + 12 * 3_600_000;
    let mut cfg = config();
    cfg.clock = Clock::fixed(day(2030, 5, 17));
    let env = start_with(cfg.clone());
    let c = env.client();
    let cert = vcard::fixture("jpki-auth-cert.der").unwrap();
    let ch = c.challenge().unwrap().bytes().unwrap();
    let a = c.check(&attested_request("fixture", &cert, &ch)).unwrap();
    assert_eq!(a.cert_status, CertStatus::Grace);
    cfg.clock.set(day(2030, 5, 18));
    let ch = c.challenge().unwrap().bytes().unwrap();
    assert_eq!(code_of(c.check(&attested_request("fixture", &cert, &ch))), ErrorCode::CertLapsed);
    cfg.clock.set(day(2019, 1, 1));
    let ch = c.challenge().unwrap().bytes().unwrap();
    assert_eq!(code_of(c.check(&attested_request("fixture", &cert, &ch))), ErrorCode::CertNotYetValid);
}

use shikaku_hil::vcard;

#[test]
fn fixture_card_with_a_host_vouched_attestation() {
    let env = start();
    let c = env.client();
    let cert = vcard::fixture("jpki-auth-cert.der").unwrap();
    assert!(c.is_registered(&cert).unwrap());
    let ch = c.challenge().unwrap().bytes().unwrap();
    let a = c.check(&attested_request("fixture", &cert, &ch)).unwrap();
    assert_eq!(a.proof, ProofCheck::AttestedByHost);
    assert!(a.attested_by_host);
    assert_eq!(name(&a.eligibility), Some("黒桐　幹也"));
    assert_eq!(qual(&a.eligibility).name_kana.as_deref(), Some("クロギリ　ミキヤ"));
    assert_eq!(qual(&a.eligibility).insurer_name, "全国健康保険協会 東京支部");

    // Not vouched: refused.
    let ch = c.challenge().unwrap().bytes().unwrap();
    let mut req = attested_request("fixture", &cert, &ch);
    req.proof = ProofJson::ReaderAttestation { challenge: wire::hex(&ch), attested_by_host: false };
    assert_eq!(code_of(c.check(&req)), ErrorCode::AttestationNotVouched);

    // A PIN reception must carry a card signature.
    let ch = c.challenge().unwrap().bytes().unwrap();
    let mut req = attested_request("fixture", &cert, &ch);
    req.method = Method::Pin;
    assert_eq!(code_of(c.check(&req)), ErrorCode::BadRequest);
}

#[test]
fn bad_signatures_are_refused() {
    let env = start();
    let c = env.client();
    // The fixture persona's card signs with a generated key: it does not match the real
    // test card's certificate.
    assert_eq!(code_of(pin_reception(&c, "fixture", ConsentAnswers::default())), ErrorCode::BadSignature);

    // A good signature over another challenge, and a flipped bit.
    let (mut card, cert) = card("yamada");
    let ch = c.challenge().unwrap().bytes().unwrap();
    let other = c.challenge().unwrap().bytes().unwrap();
    let sig = card_sign(&mut card, "1234", &other);
    assert_eq!(code_of(c.check(&signed_request("yamada", &cert, &ch, &sig))), ErrorCode::BadSignature);
    let mut sig = card_sign(&mut card, "1234", &other);
    sig[100] ^= 1;
    assert_eq!(code_of(c.check(&signed_request("yamada", &cert, &other, &sig))), ErrorCode::BadSignature);
}

#[test]
fn certificates_of_another_ca_or_mangled_are_refused() {
    let env = start();
    let c = env.client();
    let p = persona::find("yamada").unwrap();
    let key = keys::rsa_key("persona/yamada/auth");
    // Same DN as the virtual card's CA, another key: only the signature tells them apart.
    let rogue = pki::Ca {
        hierarchy: pki::Hierarchy::Auth,
        key: keys::rsa_key("eligibility-test/rogue-ca"),
        der: vec![],
        serial: 0x5A_0001,
    };
    let cert = pki::issue(&p, pki::Hierarchy::Auth, &key, &rogue, persona::Date::today());
    let ch = c.challenge().unwrap().bytes().unwrap();
    let sig = keys::sign_sha256(&key, &ch);
    assert_eq!(code_of(c.check(&signed_request("rogue", &cert, &ch, &sig))), ErrorCode::CertUntrusted);

    let (_, good) = card("yamada");
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 10] ^= 0x40; // inside the CA signature
    assert_eq!(code_of(c.check(&signed_request("mangled", &bad, &ch, &sig))), ErrorCode::CertUntrusted);
    assert_eq!(
        code_of(c.check(&signed_request("junk", b"not a certificate", &ch, &sig))),
        ErrorCode::CertMalformed
    );

    // A service that trusts only the virtual card's CA refuses the real test card.
    let mut cfg = config();
    cfg.trusted_cas.truncate(1);
    let only_vcard = start_with(cfg);
    let fixture = vcard::fixture("jpki-auth-cert.der").unwrap();
    let c2 = only_vcard.client();
    let ch = c2.challenge().unwrap().bytes().unwrap();
    assert_eq!(code_of(c2.check(&attested_request("fixture", &fixture, &ch))), ErrorCode::CertUntrusted);
}

#[test]
fn challenges_are_single_use_and_expire() {
    let mut cfg = config();
    cfg.clock = Clock::fixed(persona::Date::today().days() * 86_400_000 + 3_600_000);
    cfg.challenge_ttl = std::time::Duration::from_secs(60);
    let env = start_with(cfg.clone());
    let c = env.client();
    let (mut card, cert) = card("yamada");
    let ch = c.challenge().unwrap().bytes().unwrap();
    let sig = card_sign(&mut card, "1234", &ch);
    let req = signed_request("yamada", &cert, &ch, &sig);
    let first = c.check(&req).unwrap();

    // The same request again (a retry after a lost answer): the same answer.
    assert_eq!(c.check(&req).unwrap(), first);
    // The same challenge under another request id: a replay.
    let mut replay = req.clone();
    replay.request_id.push_str("-again");
    assert_eq!(code_of(c.check(&replay)), ErrorCode::ChallengeReplayed);
    // The same request id with another body: a conflict.
    let mut conflict = req.clone();
    conflict.consents.medication = Some(true);
    assert_eq!(code_of(c.check(&conflict)), ErrorCode::RequestConflict);

    // Never issued.
    let made_up = [0x5Au8; 32];
    let sig = card_sign(&mut card, "1234", &made_up);
    assert_eq!(
        code_of(c.check(&signed_request("yamada", &cert, &made_up, &sig))),
        ErrorCode::ChallengeUnknown
    );

    // Issued, then the clock passes its lifetime.
    let issued = c.challenge().unwrap();
    let ch = issued.bytes().unwrap();
    cfg.clock.set(issued.expires_at_ms as i64 + 1);
    let sig = card_sign(&mut card, "1234", &ch);
    assert_eq!(code_of(c.check(&signed_request("yamada", &cert, &ch, &sig))), ErrorCode::ChallengeExpired);
}

#[test]
fn every_validity_code() {
    let env = start();
    let c = env.client();
    let attested = |id: &str| {
        let (_, cert) = card(id);
        let ch = c.challenge().unwrap().bytes().unwrap();
        c.check(&attested_request(id, &cert, &ch)).unwrap()
    };
    // 1: covered above; 3: the old qualification lost 20 days ago, the new one starts in 14
    // days (PIN locked: face). The answer is about the lost one.
    let a = attested("locked");
    assert_eq!(a.eligibility.validity, QualificationValidity::InvalidNewerExists);
    let q = qual(&a.eligibility);
    assert_eq!((q.insurer_number.as_str(), q.number.as_str()), ("39261011", "00918273"));
    assert_eq!(q.insurer_name, "京都府後期高齢者医療広域連合");
    assert!(q.disqualification_date.is_some());
    // 4: registered card, no qualification: no record, no consents.
    let a = pin_reception(&c, "iphone", ConsentAnswers { comprehensive: Some(true), ..Default::default() })
        .unwrap();
    assert_eq!(a.eligibility.validity, QualificationValidity::NotFound);
    assert_eq!((&a.eligibility.qualification, &a.eligibility.consents), (&None, &Consents::none()));
    assert_eq!(a.eligibility.reference_number, None, "no record, no 照会番号");
    // 5: two qualifications in force: staff must pick, no single record.
    let a = pin_reception(&c, "android", ConsentAnswers::default()).unwrap();
    assert_eq!(a.eligibility.validity, QualificationValidity::MultipleMatches);
    assert_eq!(a.eligibility.qualification, None);
    // 2: 資格喪失 (a persona without a built-in card: its certificate and key directly).
    let lost = seed::lost_persona();
    let cert = seed::persona_cert(&lost, persona::Date::today()).unwrap();
    let ch = c.challenge().unwrap().bytes().unwrap();
    let sig = keys::sign_sha256(&keys::rsa_key("persona/lost/auth"), &ch);
    let a = c.check(&signed_request("lost", &cert, &ch, &sig)).unwrap();
    assert_eq!(a.eligibility.validity, QualificationValidity::Invalid);
    assert_eq!(name(&a.eligibility), Some("髙橋　﨑子"));
    assert_eq!(qual(&a.eligibility).disqualification_date.as_deref(), Some("20250401"));
    assert_eq!(qual(&a.eligibility).reason_of_loss, Some(ReasonOfLoss::Other));
    assert_eq!(a.eligibility.validity.code(), "2");
}

#[test]
fn first_registration_flow() {
    let env = start();
    let c = env.client();
    let (_, cert) = card("faceonly");
    // What the host answers the reader's CertificateRead with.
    assert!(!c.is_registered(&cert).unwrap());
    let ch = c.challenge().unwrap().bytes().unwrap();
    assert_eq!(code_of(c.check(&attested_request("faceonly", &cert, &ch))), ErrorCode::NotRegistered);
    // 初回登録 with the eligibility request.
    let ch = c.challenge().unwrap().bytes().unwrap();
    let mut req = attested_request("faceonly", &cert, &ch);
    req.registration = true;
    let a = c.check(&req).unwrap();
    assert!(a.registered);
    assert_eq!(name(&a.eligibility), Some("中村　ハル"));
    assert!(c.is_registered(&cert).unwrap());
}

#[test]
fn registration_endpoint_and_unseen_certificates() {
    let env = start();
    let c = env.client();
    // The same card's certificate issued another day: new bytes (never seen, so the hash
    // lookup misses and the client asks with the certificate), same issuer and serial.
    let p = persona::find("faceonly").unwrap();
    let other_day = seed::persona_cert(&p, persona::Date::today().add_days(-3)).unwrap();
    let (_, today) = card("faceonly");
    assert_ne!(other_day, today);
    assert!(!c.is_registered(&other_day).unwrap());
    let ch = c.challenge().unwrap().bytes().unwrap();
    let req = RegistrationRequest {
        request_id: "SK-TEST/reg/1".into(),
        auth_cert: wire::b64(&other_day),
        proof: ProofJson::ReaderAttestation { challenge: wire::hex(&ch), attested_by_host: true },
        deferred: false,
    };
    assert!(c.register(&req).unwrap());
    assert!(c.is_registered(&today).unwrap());
    assert!(c.is_registered(&other_day).unwrap());
}

#[test]
fn deferred_challenges_are_checked_and_never_reused() {
    let env = start();
    let c = env.client();
    let (mut card, cert) = card("yamada");
    let host_minted = [0x42u8; 32];
    let sig = card_sign(&mut card, "1234", &host_minted);
    let mut req = signed_request("yamada", &cert, &host_minted, &sig);
    req.deferred = true;
    let a = c.check(&req).unwrap();
    assert!(a.deferred);
    assert_eq!(a.proof, ProofCheck::CardSignature);
    let mut again = req.clone();
    again.request_id.push_str("-b");
    assert_eq!(code_of(c.check(&again)), ErrorCode::ChallengeReplayed);
    // Too old, or from the future: freshness rests on the host, within bounds.
    for (verified_at, code) in [
        (reception_time() - 15 * 86_400_000, ErrorCode::ChallengeExpired),
        (reception_time() + 3_600_000, ErrorCode::BadRequest),
    ] {
        let ch = [verified_at as u8 ^ 0x77; 32];
        let sig = card_sign(&mut card, "1234", &ch);
        let mut stale = signed_request("yamada", &cert, &ch, &sig);
        stale.deferred = true;
        stale.verified_at = verified_at;
        assert_eq!(code_of(c.check(&stale)), code);
    }
    // A deferred request with a bad signature is still refused.
    let mut forged = signed_request("yamada", &cert, &[0x43; 32], &sig);
    forged.deferred = true;
    // Its own request id: the ids above derive from challenges that follow the clock, and one
    // of them can equal 0x43… on some days.
    forged.request_id.push_str("-forged");
    assert_eq!(code_of(c.check(&forged)), ErrorCode::BadSignature);
}

#[test]
fn the_store_survives_a_restart() {
    let mut env = start();
    let c = env.client();
    let (mut card, cert) = card("yamada");
    let ch = c.challenge().unwrap().bytes().unwrap();
    let pending = c.challenge().unwrap().bytes().unwrap();
    let sig = card_sign(&mut card, "1234", &ch);
    let req = signed_request("yamada", &cert, &ch, &sig);
    let first = c.check(&req).unwrap();
    env.server.take().unwrap().shutdown();

    env.server = Some(serve(&env.db(), config()));
    let c = env.client();
    assert_eq!(c.check(&req).unwrap(), first, "answer kept across the restart");
    let mut replay = req.clone();
    replay.request_id.push_str("-r");
    assert_eq!(code_of(c.check(&replay)), ErrorCode::ChallengeReplayed);
    // A challenge issued before the restart is still good.
    let sig = card_sign(&mut card, "1234", &pending);
    assert!(c.check(&signed_request("yamada", &cert, &pending, &sig)).is_ok());
}

#[test]
fn the_binary_serves_and_seeds() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bin.db");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_shikaku-eligibility"))
        .args(["--db", db.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    let result = std::panic::catch_unwind(|| {
        let c = client(&url);
        c.health().unwrap();
        let cert = vcard::fixture("jpki-auth-cert.der").unwrap();
        assert!(c.is_registered(&cert).unwrap());
        assert_eq!(c.challenge().unwrap().bytes().map(|b| b.len()), Some(32));
    });
    child.kill().unwrap();
    child.wait().unwrap();
    result.unwrap();
}

/// One raw HTTP/1.1 exchange: (status, body).
fn raw(url: &str, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

fn error_code(body: &str) -> u16 {
    serde_json::from_str::<wire::ErrorBody>(body).map(|b| b.code.code()).unwrap_or(0)
}

#[test]
fn malformed_requests_get_typed_errors() {
    let env = start();
    let url = env.url();
    assert_eq!(raw(&url, "GET", "/health", b"").0, 200);
    let (status, body) = raw(&url, "POST", "/eligibility", b"{not json");
    assert_eq!((status, error_code(&body)), (400, 619));
    let (status, body) = raw(&url, "POST", "/eligibility", &vec![b' '; 70 * 1024]);
    assert_eq!((status, error_code(&body)), (400, 619));
    let (status, body) = raw(&url, "GET", "/registered?cert_sha256=zz", b"");
    assert_eq!((status, error_code(&body)), (400, 619));
    let (status, body) = raw(&url, "GET", &format!("/registered?cert_sha256={}", "0".repeat(64)), b"");
    assert_eq!((status, error_code(&body)), (404, 622));
    let (status, body) = raw(&url, "POST", "/registered", br#"{"auth_cert":"%%%"}"#);
    assert_eq!((status, error_code(&body)), (400, 613));
    let (status, body) = raw(&url, "DELETE", "/eligibility", b"");
    assert_eq!((status, error_code(&body)), (400, 619));
    // Missing request id.
    let (_, cert) = card("yamada");
    let ch = env.client().challenge().unwrap().bytes().unwrap();
    let mut req = attested_request("yamada", &cert, &ch);
    req.request_id.clear();
    let (status, body) = raw(&url, "POST", "/eligibility", serde_json::to_string(&req).unwrap().as_bytes());
    assert_eq!((status, error_code(&body)), (400, 619));
    // Still serving.
    assert!(env.client().challenge().is_ok());
}

#[test]
fn one_challenge_wins_under_concurrency() {
    let env = start();
    let url = env.url();
    let (_, cert) = card("yamada");
    let ch = env.client().challenge().unwrap().bytes().unwrap();
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (url, cert) = (url.clone(), cert.clone());
                s.spawn(move || {
                    let mut req = attested_request("yamada", &cert, &ch);
                    req.request_id = format!("SK-RACE/{i}");
                    client(&url).check(&req).map_err(|e| e.code)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|c| *c == ErrorCode::ChallengeReplayed));

    // The same request sent several times at once: one answer, given to all.
    let ch = env.client().challenge().unwrap().bytes().unwrap();
    let req = attested_request("yamada", &cert, &ch);
    let answers: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..6).map(|_| s.spawn(|| client(&url).check(&req).map_err(|e| e.code))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(answers.iter().all(|a| a.is_ok() && *a == answers[0]), "{answers:?}");

    // Challenges issued in parallel are all distinct.
    let mut all: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8).map(|_| s.spawn(|| client(&url).challenge().unwrap().challenge)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 8);
}

// ---- 照会区分 2: POST /insured ----

fn lookup(
    c: &impl EligibilityService,
    insurer: &str,
    symbol: Option<&str>,
    number: &str,
    branch: Option<&str>,
    birth: &str,
    date: &str,
) -> Eligibility {
    let query = InsuredQuery {
        insurer_number: insurer.into(),
        symbol: symbol.map(Into::into),
        number: number.into(),
        branch: branch.map(Into::into),
        birth_date: birth.into(),
        date: date.into(),
    };
    c.lookup_insured(&query).unwrap_or_else(|e| panic!("{query:?}: {e:?}"))
}

#[test]
fn every_scripted_insured_query_answers_its_expected_validity_and_name() {
    let env = start();
    let c = env.client();
    let cases = seed::insured_queries(persona::Date::today());
    let codes: std::collections::BTreeSet<&str> = cases.iter().map(|k| k.expected.code()).collect();
    assert_eq!(
        codes.into_iter().collect::<Vec<_>>(),
        ["1", "2", "3", "4", "5"],
        "the script covers every code"
    );
    for case in cases {
        let e = c.lookup_insured(&case.query).unwrap_or_else(|e| panic!("{}: {e:?}", case.label));
        assert_eq!((e.validity, name(&e)), (case.expected, case.name), "{}", case.label);
        assert_eq!(e.qualification.is_some(), case.name.is_some(), "{}", case.label);
        // Nobody consented yet; card-less people never have consents.
        assert_eq!(e.consents, Consents::none(), "{}", case.label);
        // Only 𠮷田　健司 has a 照会番号 registered, and it comes with his record only.
        let registered = case.name == Some("𠮷田　健司");
        assert_eq!(e.reference_number.as_deref(), registered.then_some("0000020001"), "{}", case.label);
    }
}

#[test]
fn branch_numbers_tell_family_members_with_one_symbol_and_number_apart() {
    let env = start();
    let c = env.client();
    let today = persona::Date::today().yyyymmdd();
    let family = |branch, birth| lookup(&c, "01270018", Some("2710345"), "88", branch, birth, &today);
    // Twins share the birth date: without 枝番 both match.
    assert_eq!(family(None, "20140610").validity, QualificationValidity::MultipleMatches);
    let hina = family(Some("01"), "20140610");
    assert_eq!((hina.validity, name(&hina)), (QualificationValidity::Valid, Some("𠮷田　陽菜")));
    assert_eq!(qual(&hina).family, Some(PersonalFamilyClassification::Family));
    assert_eq!(qual(&hina).insured_name.as_deref(), Some("𠮷田　健司"), "the head is the insured");
    assert_eq!(name(&family(Some("02"), "20140610")), Some("𠮷田　結菜"));
    // The head: found with or without 枝番, not with a twin's 枝番.
    assert_eq!(name(&family(Some("00"), "19820914")), Some("𠮷田　健司"));
    assert_eq!(name(&family(None, "19820914")), Some("𠮷田　健司"));
    assert_eq!(family(Some("01"), "19820914").validity, QualificationValidity::NotFound);
    assert_eq!(family(Some("03"), "20140610").validity, QualificationValidity::NotFound);
}

#[test]
fn symbols_tell_people_with_one_number_and_birth_date_apart() {
    let env = start();
    let c = env.client();
    let today = persona::Date::today().yyyymmdd();
    let ask = |symbol| lookup(&c, "01130012", symbol, "15", None, "19900214", &today);
    assert_eq!(name(&ask(Some("1234567"))), Some("髙﨑　誠"));
    assert_eq!(name(&ask(Some("7654321"))), Some("佐々木　誠"));
    assert_eq!(ask(None).validity, QualificationValidity::MultipleMatches);
    assert_eq!(ask(Some("")).validity, QualificationValidity::MultipleMatches, "an empty 記号 is no 記号");
    assert_eq!(ask(Some("1234567 ")).validity, QualificationValidity::NotFound, "記号 is compared exactly");
}

#[test]
fn the_date_asked_decides_before_and_after_a_loss_and_a_reacquisition() {
    let env = start();
    let c = env.client();
    let today = persona::Date::today().yyyymmdd();
    let old = |date: &str| lookup(&c, "01140013", Some("3210987"), "204", Some("00"), "19861103", date);
    let new = |date: &str| lookup(&c, "06140050", Some("MM-12"), "3301", Some("00"), "19861103", date);
    // Before the loss on 2025-07-01 the old qualification is in force.
    assert_eq!(old("20250630").validity, QualificationValidity::Valid);
    // Lost, the new one not yet acquired (2025-08-01): 3 by the old numbers, 4 by the new.
    let between = old("20250715");
    assert_eq!(between.validity, QualificationValidity::InvalidNewerExists);
    let q = qual(&between);
    assert_eq!(
        (q.insurer_name.as_str(), q.disqualification_date.as_deref()),
        ("全国健康保険協会 神奈川支部", Some("20250701"))
    );
    assert_eq!(q.name_of_other.as_deref(), Some("佐藤　美咲"), "旧姓");
    assert_eq!(new("20250715").validity, QualificationValidity::NotFound);
    // From its first day the new one is in force, and stays so.
    assert_eq!(new("20250801").validity, QualificationValidity::Valid);
    assert_eq!(new(&today).validity, QualificationValidity::Valid);
    assert_eq!(old(&today).validity, QualificationValidity::InvalidNewerExists);
    // Lost with nothing newer: 2, with the reason.
    let tome = lookup(&c, "39131015", None, "01234567", None, "19380211", &today);
    assert_eq!(tome.validity, QualificationValidity::Invalid);
    assert_eq!(qual(&tome).reason_of_loss, Some(ReasonOfLoss::Death));
    assert_eq!(
        lookup(&c, "39131015", None, "01234567", None, "19380211", "20250109").validity,
        QualificationValidity::Valid
    );
}

#[test]
fn insured_records_carry_preschool_elderly_and_limit_data() {
    let env = start();
    let c = env.client();
    let today = persona::Date::today();
    let cases = seed::insured_queries(today);
    let find = |n: &str| {
        let case = cases.iter().find(|k| k.name == Some(n)).unwrap_or_else(|| panic!("a case for {n}"));
        c.lookup_insured(&case.query).unwrap()
    };
    let aoi = find("渡邉　蒼");
    let q = qual(&aoi);
    assert_eq!((q.preschool, q.copay_percent), (Some(PreschoolClassification::Preschool), Some(20)));
    assert_eq!(q.insurer_number, "140004", "answered as stored, whatever padding was asked with");
    let kazuko = find("中島　和子");
    let elderly = qual(&kazuko).elderly.as_ref().expect("高齢受給者");
    assert_eq!(elderly.copay_percent, 20);
    assert!(elderly.valid_start_date <= today.yyyymmdd());
    let tanaka = find("田中　実");
    let limit = qual(&tanaka).limit.as_ref().expect("限度額");
    assert_eq!(
        (limit.classification, limit.category),
        (LimitCertificateClassification::LimitAndMealReduction, LimitCategory::B05)
    );
    assert_eq!(qual(&tanaka).insurer_name, "福岡県後期高齢者医療広域連合");
}

#[test]
fn an_insured_lookup_of_a_card_holder_carries_the_cards_consents() {
    let env = start();
    let c = env.client();
    let consents = ConsentAnswers { medication: Some(true), ..Default::default() };
    pin_reception(&c, "yamada", consents).unwrap();
    let today = persona::Date::today().yyyymmdd();
    let e = lookup(&c, "06273399", Some("21003"), "1024", Some("00"), "19750401", &today);
    assert_eq!(name(&e), Some("山田　太郎"));
    assert_eq!(e.consents.medication.as_ref().map(|c| c.flag), Some(ConsentFlag::Given));
    assert_eq!(e.consents.surgery, None);
}

#[test]
fn insured_lookups_with_a_malformed_body_are_bad_requests() {
    let env = start();
    let url = env.url();
    let good = r#"{"insurer_number":"01130012","symbol":"1234567","number":"15","birth_date":"19900214","date":"20261207"}"#;
    assert_eq!(raw(&url, "POST", "/insured", good.as_bytes()).0, 200);
    for body in [
        "{not json".to_owned(),
        r#"{"insurer_number":"01130012","number":"15"}"#.to_owned(),
        good.replace("19900214", "1990-02-14"),
        good.replace("20261207", "20261307"),
        good.replace("01130012", "1130012"),
        good.replace(r#""number":"15""#, r#""number":" ""#),
        good.replace(r#""symbol":"1234567""#, r#""branch":"1""#),
    ] {
        let (status, text) = raw(&url, "POST", "/insured", body.as_bytes());
        assert_eq!((status, error_code(&text)), (400, 619), "{body} → {text}");
        let e: wire::ErrorBody = serde_json::from_str(&text).unwrap();
        assert_eq!(e.code, ErrorCode::BadRequest);
    }
}
