//! `req` → `res`: requests answered into `res` by the eligibility lookup; readable requests
//! with a bad field answered with a ProcessingResultCode; unreadable requests put back into
//! `res` beside a `.err`, never lost; requests wait in `req` while the service is down.

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use shikaku_host::eligibility::{EligibilityError, ErrorCode, InsuredQuery};
use shikaku_host::model::Eligibility;
use shikaku_host::receipt::{
    parse_request, FieldError, FileEncoding, FnLookup, Folders, ReqError, ReqWatcher, WriterConfig,
};

fn req_xml(symbol: &str, encoding: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"{encoding}\" standalone=\"no\"?>\r\n\
<XmlMsg>\r\n\
  <MessageHeader>\r\n\
    <QualificationConfirmationDate>20250401</QualificationConfirmationDate>\r\n\
    <MedicalInstitutionCode>1311111111</MedicalInstitutionCode>\r\n\
    <ArbitraryFileIdentifier>clinic_0001</ArbitraryFileIdentifier>\r\n\
  </MessageHeader>\r\n\
  <MessageBody>\r\n\
    <QualificationConfirmSearchInfo>\r\n\
      <InsurerNumber>  138057</InsurerNumber>\r\n\
      <InsuredCardSymbol>{symbol}</InsuredCardSymbol>\r\n\
      <InsuredIdentificationNumber>3456</InsuredIdentificationNumber>\r\n\
      <InsuredBranchNumber>01</InsuredBranchNumber>\r\n\
      <Birthdate>19800101</Birthdate>\r\n\
      <LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>\r\n\
    </QualificationConfirmSearchInfo>\r\n\
  </MessageBody>\r\n\
</XmlMsg>\r\n"
    )
}

fn sjis(s: &str) -> Vec<u8> {
    let (b, _, err) = encoding_rs::SHIFT_JIS.encode(s);
    assert!(!err);
    b.into_owned()
}

/// A stand-in eligibility service: answers from the query, with a name that needs references.
fn answer(q: &InsuredQuery) -> Result<Eligibility, EligibilityError> {
    if q.number == "0000" {
        return Err(EligibilityError::new(ErrorCode::BadRequest, "refused by the service"));
    }
    let mut e = common::eligibility("髙橋 𠮷子");
    if let Some(r) = e.qualification.as_mut() {
        r.insurer_number = q.insurer_number.clone();
        r.symbol = q.symbol.clone();
        r.number = q.number.clone();
        r.branch = q.branch.clone();
        r.birth_date = q.birth_date.clone();
    }
    Ok(e)
}

type Answerer = fn(&InsuredQuery) -> Result<Eligibility, EligibilityError>;

fn lookup() -> FnLookup<Answerer> {
    FnLookup(answer)
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    v.sort();
    v
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

fn read_res(path: &Path) -> String {
    let bytes = fs::read(path).unwrap();
    let (t, _, err) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!err);
    t.into_owned()
}

fn text<'a>(doc: &'a roxmltree::Document<'a>, name: &str) -> Option<&'a str> {
    let mut it = doc.descendants().filter(|n| n.has_tag_name(name));
    let first = it.next()?;
    Some(first.text().unwrap_or(""))
}

fn watcher(base: &Path) -> (Folders, ReqWatcher) {
    let folders = Folders::under(base);
    let w = ReqWatcher::new(folders.clone(), WriterConfig::new("1311111111")).unwrap().settle(Duration::ZERO);
    (folders, w)
}

#[test]
fn requests_in_both_encodings_are_answered() {
    let base = tempfile::tempdir().unwrap();
    let (f, mut w) = watcher(base.path());
    fs::write(f.req.join("OQSsiquc01req_A1.xml"), req_xml("東京１２", "UTF-8")).unwrap();
    fs::write(f.req.join("OQSsiquc01req_B2.xml"), sjis(&req_xml("東京１２", "Shift_JIS"))).unwrap();
    // Not requests: left alone.
    fs::write(f.req.join("notes.txt"), "x").unwrap();
    fs::write(f.req.join("OQSsiquc01req_.xml"), "x").unwrap();

    let report = w.poll_once(&lookup());
    assert_eq!(report.answered.len(), 2, "{report:?}");
    assert!(report.returned.is_empty() && report.io_errors.is_empty(), "{report:?}");
    assert_eq!(names(&f.req), ["OQSsiquc01req_.xml", "notes.txt"]);
    assert_eq!(files(&f.res), ["OQSsiquc01res_A1.xml", "OQSsiquc01res_B2.xml"]);

    for id in ["A1", "B2"] {
        let t = read_res(&f.res.join(format!("OQSsiquc01res_{id}.xml")));
        let doc = roxmltree::Document::parse(&t).unwrap();
        assert_eq!(doc.root_element().tag_name().name(), "XmlMsg");
        assert_eq!(text(&doc, "ArbitraryFileIdentifier"), Some("clinic_0001"));
        assert_eq!(text(&doc, "QualificationConfirmationDate"), Some("20250401"));
        assert_eq!(text(&doc, "MedicalInstitutionCode"), Some("1311111111"));
        assert_eq!(text(&doc, "ReferenceClassification"), Some("2"));
        assert_eq!(text(&doc, "SegmentOfResult"), Some("1"));
        assert_eq!(text(&doc, "CharacterCodeIdentifier"), Some("1"));
        assert_eq!(text(&doc, "QualificationValidity"), Some("1"));
        assert_eq!(text(&doc, "InsurerNumber"), Some("  138057"));
        assert_eq!(text(&doc, "InsuredCardSymbol"), Some("東京１２"));
        assert_eq!(text(&doc, "Birthdate"), Some("19800101"));
        // CP932 by default: 髙 as itself, 𠮷 (in no Shift_JIS) as a reference; never a look-alike.
        assert_eq!(text(&doc, "Name"), Some("髙橋 𠮷子"));
        assert!(t.contains("&#x20BB7;"), "𠮷 travels as a reference");
        assert!(!t.contains("Substituted") && !t.contains('吉'));
        // The request's consent decides 限度額: given here, so it is handed over, stamped.
        assert_eq!(text(&doc, "LimitApplicationCertificateRelatedConsFlg"), Some("1"));
        assert!(text(&doc, "LimitApplicationCertificateClassificationFlag").is_some());
    }
    // Nothing left to do.
    let again = w.poll_once(&lookup());
    assert!(again.answered.is_empty() && again.returned.is_empty());
}

#[test]
fn utf8_answers_when_configured() {
    let base = tempfile::tempdir().unwrap();
    let folders = Folders::under(base.path());
    let cfg = WriterConfig { medical_institution_code: "1311111111".into(), encoding: FileEncoding::Utf8 };
    let mut w = ReqWatcher::new(folders.clone(), cfg).unwrap().settle(Duration::ZERO);
    fs::write(folders.req.join("OQSsiquc01req_U.xml"), req_xml("12", "UTF-8")).unwrap();
    assert_eq!(w.poll_once(&lookup()).answered.len(), 1);
    let t = fs::read_to_string(folders.res.join("OQSsiquc01res_U.xml")).unwrap();
    let doc = roxmltree::Document::parse(&t).unwrap();
    assert_eq!(text(&doc, "CharacterCodeIdentifier"), Some("0"));
    assert_eq!(text(&doc, "Name"), Some("髙橋 𠮷子"));
    assert!(t.contains("髙橋 𠮷子"), "UTF-8 carries every character as itself");
}

#[test]
fn a_character_code_inside_a_request_does_not_pick_the_answer_encoding() {
    let base = tempfile::tempdir().unwrap();
    let (f, mut w) = watcher(base.path()); // configured: CP932
    let asks_utf8 = req_xml("12", "UTF-8").replace(
        "</ArbitraryFileIdentifier>",
        "</ArbitraryFileIdentifier><CharacterCodeIdentifier>0</CharacterCodeIdentifier>",
    );
    // Upper-case extension, as Windows programs sometimes write it.
    fs::write(f.req.join("OQSsiquc01req_C.XML"), asks_utf8).unwrap();
    assert_eq!(w.poll_once(&lookup()).answered.len(), 1);
    let t = read_res(&f.res.join("OQSsiquc01res_C.xml"));
    assert!(t.starts_with("<?xml version=\"1.0\" encoding=\"Shift_JIS\""));
    let doc = roxmltree::Document::parse(&t).unwrap();
    assert_eq!(text(&doc, "CharacterCodeIdentifier"), Some("1"));
    assert_eq!(text(&doc, "Name"), Some("髙橋 𠮷子"));
}

#[test]
fn a_lookup_failure_is_answered_with_its_code() {
    let base = tempfile::tempdir().unwrap();
    let (f, mut w) = watcher(base.path());
    fs::write(f.req.join("OQSsiquc01req_E.xml"), req_xml("12", "UTF-8").replace(">3456<", ">0000<")).unwrap();
    let report = w.poll_once(&lookup());
    assert_eq!(report.answered.len(), 1);
    let doc_text = read_res(&f.res.join("OQSsiquc01res_E.xml"));
    let doc = roxmltree::Document::parse(&doc_text).unwrap();
    assert_eq!(text(&doc, "SegmentOfResult"), Some("9"));
    assert_eq!(text(&doc, "ErrorCode"), Some("SHK0619"));
    assert!(!text(&doc, "ErrorMessage").unwrap_or("").is_empty());
    assert_eq!(text(&doc, "ProcessingResultStatus"), Some("2"));
    assert_eq!(text(&doc, "ArbitraryFileIdentifier"), Some("clinic_0001"));
}

#[test]
fn while_the_service_is_unreachable_the_request_waits_and_is_answered_when_it_returns() {
    use std::cell::Cell;
    let base = tempfile::tempdir().unwrap();
    let folders = Folders::under(base.path());
    let journal = shikaku_host::journal::Journal::open(base.path().join("j.sqlite")).unwrap();
    let mut w = ReqWatcher::new(folders.clone(), WriterConfig::new("1311111111"))
        .unwrap()
        .settle(Duration::ZERO)
        .retry(Duration::ZERO, Duration::ZERO)
        .with_journal(journal);
    fs::write(folders.req.join("OQSsiquc01req_D.xml"), req_xml("12", "UTF-8")).unwrap();
    let up = Cell::new(false);
    let calls = Cell::new(0);
    let service = FnLookup(|q: &InsuredQuery| {
        calls.set(calls.get() + 1);
        if up.get() {
            answer(q)
        } else {
            Err(EligibilityError::new(ErrorCode::ServiceUnreachable, "connection refused"))
        }
    });
    for _ in 0..3 {
        let report = w.poll_once(&service);
        assert_eq!(report.waiting.len(), 1, "{report:?}");
        assert!(report.answered.is_empty());
    }
    assert_eq!(calls.get(), 3, "asked again on every due pass");
    assert!(files(&folders.res).is_empty(), "no answer from old data, no error answer either");
    assert_eq!(names(&folders.req), ["OQSsiquc01req_D.xml"], "the request is the durable queue");
    // The reason is visible to staff (JSON API, doctor) through the journal.
    let seen = shikaku_host::journal::Journal::open(base.path().join("j.sqlite")).unwrap();
    let waiting = seen.waiting_requests().unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].file, "OQSsiquc01req_D.xml");
    assert_eq!(waiting[0].identifier.as_deref(), Some("clinic_0001"));
    assert_eq!((waiting[0].attempts, waiting[0].last_code), (3, ErrorCode::ServiceUnreachable.code()));
    // The service comes back: answered, and no longer listed.
    up.set(true);
    let report = w.poll_once(&service);
    assert_eq!(report.answered.len(), 1, "{report:?}");
    assert!(files(&folders.req).is_empty());
    assert!(seen.waiting_requests().unwrap().is_empty());
}

#[test]
fn a_request_still_being_written_waits() {
    let base = tempfile::tempdir().unwrap();
    let folders = Folders::under(base.path());
    let mut w = ReqWatcher::new(folders.clone(), WriterConfig::new("1311111111"))
        .unwrap()
        .settle(Duration::from_secs(3600));
    let full = req_xml("12", "UTF-8");
    fs::write(folders.req.join("OQSsiquc01req_W.xml"), &full[..full.len() / 2]).unwrap();
    let report = w.poll_once(&lookup());
    assert_eq!(report.settling, 1);
    assert!(report.answered.is_empty() && report.returned.is_empty());
    assert!(files(&folders.res).is_empty());
    assert_eq!(names(&folders.req), ["OQSsiquc01req_W.xml"]);
}

#[test]
fn public_sample_quirks_parse() {
    // Single-quoted declaration and whitespace before `>` in a tag, as a clinic's own
    // template writes them; 6-digit insurer number without padding; empty branch number.
    let xml = "<?xml version='1.0' encoding='UTF-8' standalone='no'?>\n<XmlMsg>\n<MessageHeader>\n\
<QualificationConfirmationDate>20210627</QualificationConfirmationDate>\n\
<MedicalInstitutionCode>6540212424</MedicalInstitutionCode>\n\
<ArbitraryFileIdentifier >CLINICID</ArbitraryFileIdentifier >\n</MessageHeader>\n<MessageBody>\n\
<QualificationConfirmSearchInfo >\n<InsurerNumber>138057</InsurerNumber>\n<InsuredCardSymbol>記号</InsuredCardSymbol>\n\
<InsuredIdentificationNumber>12</InsuredIdentificationNumber>\n<InsuredBranchNumber></InsuredBranchNumber>\n\
<Birthdate>19600101</Birthdate>\n<LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>\n\
</QualificationConfirmSearchInfo> </MessageBody>\n</XmlMsg>";
    let r = parse_request(xml.as_bytes()).unwrap();
    assert_eq!(r.header.arbitrary_file_identifier.as_deref(), Some("CLINICID"));
    let l = r.lookup().unwrap();
    assert_eq!(l.query.insurer_number, "138057");
    assert_eq!(l.query.symbol.as_deref(), Some("記号"));
    assert_eq!(l.query.branch, None, "an empty element counts as absent");
    assert_eq!(l.query.date, "20210627");
    assert!(l.limit_consent);
    // Echoed as it came: the empty element stays empty.
    assert_eq!(r.search.as_ref().unwrap().insured_branch_number.as_deref(), Some(""));
    // With a UTF-8 BOM too.
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(xml.as_bytes());
    assert_eq!(parse_request(&bom).unwrap(), r);
}

/// (what, bytes, is the expected error).
type Case = (&'static str, Vec<u8>, fn(&ReqError) -> bool);

fn unreadable() -> Vec<Case> {
    let good = req_xml("12", "UTF-8");
    let mut deep = String::from("<?xml version=\"1.0\"?><XmlMsg>");
    deep.push_str(&"<a>".repeat(40));
    deep.push_str(&"</a>".repeat(40));
    deep.push_str("</XmlMsg>");
    let laughs =
        "<?xml version=\"1.0\"?><!DOCTYPE XmlMsg [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>\
<XmlMsg>&b;</XmlMsg>";
    let mut bad_sjis = b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><XmlMsg>".to_vec();
    bad_sjis.extend_from_slice(&[0x82, 0x20, 0xFF]);
    bad_sjis.extend_from_slice(b"</XmlMsg>");
    vec![
        ("empty", b"".to_vec(), |e| matches!(e, ReqError::Empty)),
        ("blank", b"  \r\n".to_vec(), |e| matches!(e, ReqError::Empty)),
        ("not xml", b"hello".to_vec(), |e| matches!(e, ReqError::Empty | ReqError::Xml { .. })),
        ("truncated", good.as_bytes()[..good.len() / 2].to_vec(), |e| matches!(e, ReqError::Xml { .. })),
        ("mismatched", b"<XmlMsg><a></b></XmlMsg>".to_vec(), |e| matches!(e, ReqError::Xml { .. })),
        ("two roots", b"<XmlMsg/><XmlMsg/>".to_vec(), |e| matches!(e, ReqError::Xml { .. })),
        ("wrong root", good.replace("XmlMsg", "Other").into_bytes(), |e| {
            matches!(e, ReqError::WrongRoot { .. })
        }),
        ("doctype", laughs.as_bytes().to_vec(), |e| matches!(e, ReqError::DoctypeNotAllowed)),
        ("unknown entity", b"<XmlMsg>&nbsp;</XmlMsg>".to_vec(), |e| matches!(e, ReqError::Xml { .. })),
        ("deep", deep.into_bytes(), |e| matches!(e, ReqError::TooDeep)),
        ("too large", vec![b' '; 100_000], |e| matches!(e, ReqError::TooLarge { .. })),
        ("bad encoding label", good.replace("UTF-8", "EBCDIC-XYZ").into_bytes(), |e| {
            matches!(e, ReqError::UnsupportedEncoding { .. })
        }),
        ("bad Shift_JIS bytes", bad_sjis, |e| matches!(e, ReqError::Undecodable { .. })),
        ("Shift_JIS bytes declared UTF-8", sjis(&req_xml("東京", "UTF-8")), |e| {
            matches!(e, ReqError::Undecodable { .. })
        }),
    ]
}

/// Readable requests with a field problem: (what, bytes, the problem).
fn bad_fields() -> Vec<(&'static str, Vec<u8>, FieldError)> {
    let good = req_xml("12", "UTF-8");
    let missing = |field| FieldError::Missing { field };
    vec![
        (
            "missing insurer number",
            good.replace("<InsurerNumber>  138057</InsurerNumber>", "").into_bytes(),
            missing("InsurerNumber"),
        ),
        (
            "duplicate insurer number",
            good.replace(
                "<InsurerNumber>  138057</InsurerNumber>",
                "<InsurerNumber>138057</InsurerNumber><InsurerNumber>06139999</InsurerNumber>",
            )
            .into_bytes(),
            FieldError::Duplicate { field: "InsurerNumber" },
        ),
        (
            "bad birthdate",
            good.replace("19800101", "1980-1-1").into_bytes(),
            FieldError::Invalid { field: "Birthdate", value: "1980-1-1".into() },
        ),
        (
            "no such day",
            good.replace("19800101", "19800231").into_bytes(),
            FieldError::Invalid { field: "Birthdate", value: "19800231".into() },
        ),
        (
            "bad insurer number",
            good.replace("  138057", "13805X").into_bytes(),
            FieldError::Invalid { field: "InsurerNumber", value: "13805X".into() },
        ),
        (
            "bad consent flag",
            good.replace("ConsFlg>1<", "ConsFlg>yes<").into_bytes(),
            FieldError::Invalid { field: "LimitApplicationCertificateRelatedConsFlg", value: "yes".into() },
        ),
        (
            "no number",
            good.replace("<InsuredIdentificationNumber>3456</InsuredIdentificationNumber>", "").into_bytes(),
            missing("InsuredIdentificationNumber"),
        ),
        ("no body", good.replace("MessageBody", "Other").into_bytes(), missing("MessageBody")),
    ]
}

#[test]
fn unreadable_requests_are_typed_errors() {
    for (what, bytes, expected) in unreadable() {
        let err = parse_request(&bytes).expect_err(what);
        assert!(expected(&err), "{what}: got {err:?}");
        assert!(err.code().starts_with("SHK1"));
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn readable_requests_with_a_bad_field_say_which() {
    for (what, bytes, expected) in bad_fields() {
        let req = parse_request(&bytes).unwrap_or_else(|e| panic!("{what}: readable, got {e:?}"));
        assert_eq!(req.lookup().unwrap_err(), expected, "{what}");
    }
}

#[test]
fn unreadable_request_files_go_back_into_res_beside_their_reason() {
    let base = tempfile::tempdir().unwrap();
    let (f, mut w) = watcher(base.path());
    let cases = unreadable();
    for (i, (_, bytes, _)) in cases.iter().enumerate() {
        fs::write(f.req.join(format!("OQSsiquc01req_bad{i:02}.xml")), bytes).unwrap();
    }
    // A good one among them is unaffected.
    fs::write(f.req.join("OQSsiquc01req_good.xml"), req_xml("12", "UTF-8")).unwrap();

    let report = w.poll_once(&lookup());
    assert_eq!(report.answered.len(), 1, "{report:?}");
    assert_eq!(report.returned.len(), cases.len(), "{report:?}");
    assert!(report.io_errors.is_empty(), "{report:?}");
    assert!(files(&f.req).is_empty(), "req emptied: {:?}", files(&f.req));

    for (i, (what, bytes, _)) in cases.iter().enumerate() {
        let name = format!("OQSsiquc01req_bad{i:02}.xml");
        // The request itself, byte for byte, in res; the reason beside it under the same name.
        assert_eq!(&fs::read(f.res.join(&name)).unwrap(), bytes, "{what}");
        let reason = fs::read(f.res.join(format!("OQSsiquc01req_bad{i:02}.err"))).unwrap();
        let (reason, _, _) = encoding_rs::SHIFT_JIS.decode(&reason);
        assert!(reason.starts_with("SHK1"), "{what}: {reason}");
        assert!(!f.res.join(format!("OQSsiquc01res_bad{i:02}.xml")).exists(), "{what}: no answer file");
    }
}

#[test]
fn readable_requests_with_a_bad_field_are_answered_with_the_problem_and_their_identifier() {
    let base = tempfile::tempdir().unwrap();
    let (f, mut w) = watcher(base.path());
    let cases = bad_fields();
    for (i, (_, bytes, _)) in cases.iter().enumerate() {
        fs::write(f.req.join(format!("OQSsiquc01req_f{i:02}.xml")), bytes).unwrap();
    }
    let report = w.poll_once(&lookup());
    assert_eq!(report.answered.len(), cases.len(), "{report:?}");
    for (i, (what, _, problem)) in cases.iter().enumerate() {
        let t = read_res(&f.res.join(format!("OQSsiquc01res_f{i:02}.xml")));
        let doc = roxmltree::Document::parse(&t).unwrap();
        assert_eq!(text(&doc, "ArbitraryFileIdentifier"), Some("clinic_0001"), "{what}");
        assert_eq!(text(&doc, "QualificationConfirmationDate"), Some("20250401"), "{what}");
        assert_eq!(text(&doc, "SegmentOfResult"), Some("1"), "{what}");
        assert_eq!(text(&doc, "ErrorCode"), None, "{what}");
        assert_eq!(text(&doc, "ProcessingResultStatus"), Some("2"), "{what}");
        assert_eq!(text(&doc, "ProcessingResultCode"), Some(problem.code()), "{what}");
        assert!(
            text(&doc, "ProcessingResultMessage").unwrap().contains(match problem {
                FieldError::Missing { field }
                | FieldError::Duplicate { field }
                | FieldError::Invalid { field, .. } => *field,
            }),
            "{what}"
        );
        assert_eq!(text(&doc, "ResultList"), None, "{what}");
    }
}

#[test]
fn mutated_requests_never_panic() {
    let good = sjis(&req_xml("東京", "Shift_JIS"));
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut ok = 0;
    for _ in 0..3000 {
        let mut b = good.clone();
        for _ in 0..(next() % 6 + 1) {
            let i = (next() as usize) % b.len();
            match next() % 3 {
                0 => b[i] = next() as u8,
                1 => {
                    b.remove(i);
                }
                _ => b.truncate(i),
            }
            if b.is_empty() {
                break;
            }
        }
        if parse_request(&b).is_ok() {
            ok += 1;
        }
    }
    assert!(ok < 3000);
}

#[test]
fn a_failure_before_the_answer_is_published_keeps_the_request() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let base = tempfile::tempdir().unwrap();
    let folders = Folders::under(base.path());
    let fail = Arc::new(AtomicBool::new(true));
    let fail2 = fail.clone();
    let hook: shikaku_host::receipt::WriteHook = Arc::new(move |_tmp: &Path| {
        if fail2.load(Ordering::Relaxed) {
            Err(std::io::Error::other("disk full"))
        } else {
            Ok(())
        }
    });
    let mut w = ReqWatcher::new(folders.clone(), WriterConfig::new("1311111111"))
        .unwrap()
        .settle(Duration::ZERO)
        .with_hook(hook);
    fs::write(folders.req.join("OQSsiquc01req_F.xml"), req_xml("12", "UTF-8")).unwrap();
    let report = w.poll_once(&lookup());
    assert!(report.answered.is_empty());
    assert_eq!(report.io_errors.len(), 1, "{report:?}");
    assert!(names(&folders.res).is_empty(), "no answer, not even a temporary file");
    assert_eq!(names(&folders.req), ["OQSsiquc01req_F.xml"], "request kept for the retry");
    // The disk recovers: the next pass answers it.
    fail.store(false, Ordering::Relaxed);
    let report = w.poll_once(&lookup());
    assert_eq!(report.answered.len(), 1, "{report:?}");
    assert_eq!(names(&folders.res), ["OQSsiquc01res_F.xml"]);
    assert!(files(&folders.req).is_empty());
}

#[test]
fn a_running_watcher_answers_every_request_exactly_once() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let base = tempfile::tempdir().unwrap();
    let folders = Folders::under(base.path());
    let mut w = ReqWatcher::new(folders.clone(), WriterConfig::new("1311111111"))
        .unwrap()
        .settle(Duration::from_millis(300));
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let (stop2, calls2) = (stop.clone(), calls.clone());
    let watcher = std::thread::spawn(move || {
        let counting = FnLookup(move |q: &InsuredQuery| {
            calls2.fetch_add(1, Ordering::Relaxed);
            answer(q)
        });
        w.run(&counting, &stop2, Duration::from_millis(5));
    });
    // The receipt computer, writing in place (not atomically), in two halves.
    const N: usize = 40;
    for i in 0..N {
        let xml = req_xml("12", "UTF-8").replace("clinic_0001", &format!("clinic_{i:04}"));
        let path = folders.req.join(format!("OQSsiquc01req_{i:04}.xml"));
        let (a, b) = xml.as_bytes().split_at(xml.len() / 2);
        fs::write(&path, a).unwrap();
        let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut f, b).unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while files(&folders.res).len() < N || !files(&folders.req).is_empty() {
        assert!(std::time::Instant::now() < deadline, "res {:?}", files(&folders.res));
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), N, "each request looked up once");
    let returned: Vec<String> =
        files(&folders.res).into_iter().filter(|n| !n.starts_with("OQSsiquc01res_")).collect();
    assert!(returned.is_empty(), "none read half-written: {returned:?}");
    for i in 0..N {
        let t = read_res(&folders.res.join(format!("OQSsiquc01res_{i:04}.xml")));
        let doc = roxmltree::Document::parse(&t).unwrap();
        assert_eq!(text(&doc, "ArbitraryFileIdentifier"), Some(format!("clinic_{i:04}").as_str()));
    }
}

#[test]
fn an_identifier_with_a_line_break_is_echoed_as_an_xml_reader_reads_it() {
    let base = tempfile::tempdir().unwrap();
    let (f, mut w) = watcher(base.path());
    let xml = req_xml("12", "UTF-8").replace("clinic_0001", "clinic\r\n0001");
    fs::write(f.req.join("OQSsiquc01req_L.xml"), &xml).unwrap();
    assert_eq!(w.poll_once(&lookup()).answered.len(), 1);
    let request = roxmltree::Document::parse(&xml).unwrap();
    let t = read_res(&f.res.join("OQSsiquc01res_L.xml"));
    let answer = roxmltree::Document::parse(&t).unwrap();
    assert_eq!(text(&answer, "ArbitraryFileIdentifier"), text(&request, "ArbitraryFileIdentifier"));
    assert_eq!(text(&answer, "ArbitraryFileIdentifier"), Some("clinic\n0001"));
}

#[test]
fn a_malformed_header_value_is_refused_but_not_copied_into_the_answers_header() {
    let base = tempfile::tempdir().unwrap();
    let (f, mut w) = watcher(base.path());
    let xml = req_xml("12", "UTF-8")
        .replace("<QualificationConfirmationDate>20250401<", "<QualificationConfirmationDate>2025-04-01<")
        .replace(">1311111111<", ">13-1111111<");
    fs::write(f.req.join("OQSsiquc01req_H.xml"), &xml).unwrap();
    assert_eq!(w.poll_once(&lookup()).answered.len(), 1);
    let t = read_res(&f.res.join("OQSsiquc01res_H.xml"));
    let doc = roxmltree::Document::parse(&t).unwrap();
    assert_eq!(text(&doc, "ProcessingResultCode"), Some("SHK2003"));
    assert_eq!(text(&doc, "ArbitraryFileIdentifier"), Some("clinic_0001"), "the identifier is always echoed");
    let date = text(&doc, "QualificationConfirmationDate").unwrap();
    assert!(date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()), "{date}");
    assert_eq!(text(&doc, "MedicalInstitutionCode"), Some("1311111111"), "the configured code");
}
