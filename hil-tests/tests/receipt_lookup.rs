//! The receipt computer's requests answered by the eligibility service, end to end: `req`
//! files in UTF-8 and CP932 → the host's `ReqWatcher` → the reference service's
//! `POST /insured` over HTTP → `res` files read back as a receipt computer would (CP932,
//! an independent XML parser). Every scripted lookup of the seed (people with and without a
//! card) comes back with the validity and the exact name the service holds; an outage delays
//! the answer and never produces a stale one.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use shikaku_hil::eligibility::{self, seed, Clock};
use shikaku_hil::testkit;
use shikaku_host::eligibility::InsuredQuery;
use shikaku_host::receipt::{Folders, ReqWatcher, WriterConfig};

fn request(id: &str, q: &InsuredQuery, encoding: &str) -> String {
    let opt =
        |tag: &str, v: &Option<String>| v.as_ref().map(|v| format!("<{tag}>{v}</{tag}>")).unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"{encoding}\" standalone=\"no\"?>\r\n<XmlMsg><MessageHeader>\
<QualificationConfirmationDate>{}</QualificationConfirmationDate>\
<MedicalInstitutionCode>1311111111</MedicalInstitutionCode>\
<ArbitraryFileIdentifier>{id}</ArbitraryFileIdentifier></MessageHeader><MessageBody>\
<QualificationConfirmSearchInfo><InsurerNumber>{}</InsurerNumber>{}\
<InsuredIdentificationNumber>{}</InsuredIdentificationNumber>{}<Birthdate>{}</Birthdate>\
<LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>\
</QualificationConfirmSearchInfo></MessageBody></XmlMsg>\r\n",
        q.date,
        q.insurer_number,
        opt("InsuredCardSymbol", &q.symbol),
        q.number,
        opt("InsuredBranchNumber", &q.branch),
        q.birth_date,
    )
}

fn write_request(req_dir: &Path, id: &str, q: &InsuredQuery, cp932: bool) {
    let text = request(id, q, if cp932 { "Shift_JIS" } else { "UTF-8" });
    let bytes = if cp932 {
        let (b, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
        // A 記号 the receipt computer cannot write in CP932 would be a reference; none here.
        assert!(!unmappable, "{id}");
        b.into_owned()
    } else {
        text.into_bytes()
    };
    fs::write(req_dir.join(format!("OQSsiquc01req_{id}.xml")), bytes).unwrap();
}

/// A `res` file decoded as a receipt computer on Windows decodes it (CP932, strict).
fn read_answer(path: &Path) -> String {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad, "{}: not CP932", path.display());
    text.into_owned()
}

fn text_of(xml: &str, name: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(xml).expect("well-formed");
    let n = doc.descendants().find(|n| n.has_tag_name(name))?;
    Some(n.text().unwrap_or("").to_owned())
}

#[test]
fn every_scripted_lookup_is_answered_with_the_services_validity_and_exact_name() {
    let dir = tempfile::tempdir().unwrap();
    let service = testkit::eligibility_service(dir.path(), 0).unwrap();
    let folders = Folders::under(dir.path().join("oqs"));
    let mut watcher =
        ReqWatcher::new(folders.clone(), WriterConfig::new("1311111111")).unwrap().settle(Duration::ZERO);
    let cases = seed::insured_queries(Clock::system().today());
    assert!(cases.len() >= 8, "the seed scripts every code: {}", cases.len());
    for (i, c) in cases.iter().enumerate() {
        write_request(&folders.req, &format!("case{i:02}"), &c.query, i % 2 == 1);
    }
    let client = testkit::one_try_client(&service.url(), Duration::from_secs(2), Duration::from_secs(10));
    let report = watcher.poll_once(&client);
    assert_eq!(report.answered.len(), cases.len(), "{report:?}");

    let mut codes = std::collections::BTreeSet::new();
    for (i, c) in cases.iter().enumerate() {
        let id = format!("case{i:02}");
        let xml = read_answer(&folders.res.join(format!("OQSsiquc01res_{id}.xml")));
        let what = format!("{} ({id})", c.label);
        assert_eq!(text_of(&xml, "ArbitraryFileIdentifier").as_deref(), Some(id.as_str()), "{what}");
        assert_eq!(text_of(&xml, "SegmentOfResult").as_deref(), Some("1"), "{what}");
        assert_eq!(text_of(&xml, "ProcessingResultStatus").as_deref(), Some("1"), "{what}");
        assert_eq!(text_of(&xml, "QualificationValidity").as_deref(), Some(c.expected.code()), "{what}");
        assert_eq!(text_of(&xml, "Name").as_deref(), c.name, "{what}");
        assert_eq!(text_of(&xml, "ResultList").is_some(), c.name.is_some(), "{what}");
        if let Some(name) = c.name {
            // Characters CP932 lacks travel as references, the rest as themselves.
            for ch in name.chars() {
                let reference = format!("&#x{:X};", ch as u32);
                if ch == '𠮷' {
                    assert!(xml.contains(&reference), "{what}: {ch} as a reference");
                } else {
                    assert!(xml.contains(ch), "{what}: {ch} as itself");
                }
            }
        }
        codes.insert(c.expected.code());
    }
    assert_eq!(
        codes.into_iter().collect::<Vec<_>>(),
        ["1", "2", "3", "4", "5"],
        "every validity code came out"
    );
    let names: Vec<&str> = cases.iter().filter_map(|c| c.name).collect();
    for ch in ['𠮷', '髙', '﨑', '邉'] {
        assert!(names.iter().any(|n| n.contains(ch)), "a scripted name holds {ch}");
    }
    service.shutdown();
}

#[test]
fn during_an_outage_the_answer_is_delayed_not_stale() {
    let dir = tempfile::tempdir().unwrap();
    let service = testkit::eligibility_service(dir.path(), 0).unwrap();
    let addr = service.addr();
    let url = service.url();
    let journal = shikaku_host::journal::Journal::open(dir.path().join("journal.sqlite")).unwrap();
    let folders = Folders::under(dir.path().join("oqs"));
    let mut watcher = ReqWatcher::new(folders.clone(), WriterConfig::new("1311111111"))
        .unwrap()
        .settle(Duration::ZERO)
        .retry(Duration::ZERO, Duration::ZERO)
        .with_journal(journal);
    let client = testkit::one_try_client(&url, Duration::from_millis(500), Duration::from_secs(5));
    let case = seed::insured_queries(Clock::system().today())
        .into_iter()
        .find(|c| c.expected.code() == "1")
        .expect("a valid case");

    // Answered once while the service is up …
    write_request(&folders.req, "before", &case.query, false);
    assert_eq!(watcher.poll_once(&client).answered.len(), 1);
    // … then the line goes down: the same person asked again gets no answer from old data.
    service.shutdown();
    write_request(&folders.req, "during", &case.query, false);
    for _ in 0..3 {
        let report = watcher.poll_once(&client);
        assert_eq!(report.waiting.len(), 1, "{report:?}");
        assert!(report.answered.is_empty());
    }
    assert!(!folders.res.join("OQSsiquc01res_during.xml").exists(), "no stale answer");
    let waiting = shikaku_host::journal::Journal::open(dir.path().join("journal.sqlite"))
        .unwrap()
        .waiting_requests()
        .unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].identifier.as_deref(), Some("during"));
    assert!(waiting[0].attempts >= 3);

    // The service returns (same database, same address): the waiting request is answered.
    let service = eligibility::start(
        &dir.path().join("eligibility.sqlite"),
        &addr.to_string(),
        eligibility::Config::default_trust().unwrap(),
        &shikaku_hil::vcard::persona::builtin(),
        false,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !folders.res.join("OQSsiquc01res_during.xml").exists() {
        assert!(Instant::now() < deadline, "answered once the service is back");
        watcher.poll_once(&client);
    }
    let xml = read_answer(&folders.res.join("OQSsiquc01res_during.xml"));
    assert_eq!(text_of(&xml, "QualificationValidity").as_deref(), Some("1"));
    assert_eq!(text_of(&xml, "Name").as_deref(), case.name);
    assert!(fs::read_dir(&folders.req).unwrap().next().is_none(), "req is empty");
    service.shutdown();
}
