//! The receipt-computer files shikaku writes (`face` results, `res` answers, returned requests
//! with their `.err`), checked against the layout by the independent checker
//! `shikaku_hil::layout`, and the checker itself shown to catch each kind of fault.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use shikaku_hil::layout::{check_echo, check_file, check_tree};
use shikaku_host::eligibility::{EligibilityError, ErrorCode, InsuredQuery};
use shikaku_host::model::{
    Consent, ConsentFlag, Consents, ElderlyRecipient, Eligibility, InsuredCardClassification, LimitCategory,
    LimitCertificate, LimitCertificateClassification, Method, PersonalFamilyClassification, Qualification,
    QualificationValidity, Reception, Sex,
};
use shikaku_host::receipt::{
    parse_request, render_answer, Answer, FaceWriter, FileEncoding, FnLookup, Folders, HeaderError,
    ReqWatcher, WriterConfig,
};

const ENCODINGS: [FileEncoding; 3] = [FileEncoding::Cp932, FileEncoding::Utf8, FileEncoding::Jis0208];
/// 2025-04-01 09:30:12 JST.
const NOW: u64 = 1_743_467_412_000;
const INSTITUTION: &str = "1311111111";
/// Outside JIS X 0208 (𠮷 outside Shift_JIS altogether; 髙, 﨑 only in CP932) and inside (邉).
const HARD_NAME: &str = "𠮷田　髙﨑邉";

fn cfg(encoding: FileEncoding) -> WriterConfig {
    WriterConfig { medical_institution_code: INSTITUTION.into(), encoding }
}

// A complete answer (copied from host-driver/tests/common/mod.rs): every field of the layout
// that the writer knows is set.
fn qualification(name: &str) -> Qualification {
    Qualification {
        card_classification: InsuredCardClassification::General,
        insurer_number: "138057".into(),
        symbol: Some("東京１２".into()),
        number: "3456".into(),
        branch: Some("01".into()),
        family: Some(PersonalFamilyClassification::Family),
        insured_name: Some("山田　一郎".into()),
        name: name.into(),
        name_of_other: Some("山田　花".into()),
        name_kana: Some("タカサキ　ヨシコ".into()),
        name_of_other_kana: Some("ヤマダ　ハナ".into()),
        sex1: Sex::Female,
        sex2: None,
        birth_date: "19540101".into(),
        address: Some("東京都千代田区霞が関１－２－２".into()),
        post_number: Some("100-8916".into()),
        qualification_date: Some("20190401".into()),
        disqualification_date: None,
        certificate_issuance_date: Some("20240801".into()),
        card_valid_date: Some("20240801".into()),
        card_expiration_date: Some("20250731".into()),
        copay_percent: Some(20),
        preschool: None,
        reason_of_loss: None,
        insurer_name: "千代田区国民健康保険".into(),
        elderly: Some(ElderlyRecipient {
            issuance_date: Some("20240801".into()),
            valid_start_date: "20240801".into(),
            valid_end_date: Some("20250731".into()),
            copay_percent: 20,
        }),
        limit_consent: None,
        limit: Some(LimitCertificate {
            classification: LimitCertificateClassification::Limit,
            category: LimitCategory::A03,
            issuance_date: Some("20240801".into()),
            valid_start_date: "20240801".into(),
            valid_end_date: Some("20250731".into()),
            long_term_date: None,
        }),
    }
}

fn consent(flag: ConsentFlag) -> Consent {
    Consent {
        flag,
        time: "20250401093005".into(),
        available_until: (flag == ConsentFlag::Given).then(|| "20250402093005".into()),
    }
}

fn full(name: &str) -> Eligibility {
    Eligibility {
        validity: QualificationValidity::Valid,
        qualification: Some(Box::new(qualification(name))),
        consents: Consents {
            health_checkup: Some(consent(ConsentFlag::NotGiven)),
            medication: Some(consent(ConsentFlag::Given)),
            treatment: Some(consent(ConsentFlag::Given)),
            surgery: Some(consent(ConsentFlag::Given)),
        },
        reference_number: Some("0000012345".into()),
    }
}

fn reception(seq: u32, eligibility: Option<Eligibility>, error_code: Option<u16>) -> Reception {
    Reception {
        reader: "SK-0001".into(),
        session: 7,
        seq,
        method: Method::Face,
        cert_sha256: "00".repeat(32),
        staff_account: None,
        registration: false,
        verified_at: NOW,
        eligibility,
        error_code,
    }
}

/// A request as receipt computers write it (sanox.org road12 layout).
fn request_xml(decl: &str, afi: &str, symbol: &str, number: Option<&str>, branch: &str) -> String {
    let number =
        number.map(|n| format!("   <InsuredIdentificationNumber>{n}</InsuredIdentificationNumber>\r\n"));
    format!(
        "{decl}\r\n<XmlMsg>\r\n <MessageHeader>\r\n  <QualificationConfirmationDate>20250401</QualificationConfirmationDate>\r\n  \
         <MedicalInstitutionCode>{INSTITUTION}</MedicalInstitutionCode>\r\n  <ArbitraryFileIdentifier>{afi}</ArbitraryFileIdentifier>\r\n \
         </MessageHeader>\r\n <MessageBody>\r\n  <QualificationConfirmSearchInfo>\r\n   <InsurerNumber>  138057</InsurerNumber>\r\n   \
         <InsuredCardSymbol>{symbol}</InsuredCardSymbol>\r\n{}   <InsuredBranchNumber>{branch}</InsuredBranchNumber>\r\n   \
         <Birthdate>19540101</Birthdate>\r\n   <LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>\r\n  \
         </QualificationConfirmSearchInfo>\r\n </MessageBody>\r\n</XmlMsg>\r\n",
        number.unwrap_or_default()
    )
}

const DECL_UTF8: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>";
const DECL_SJIS: &str = "<?xml version=\"1.0\" encoding=\"Shift_JIS\" standalone=\"no\"?>";
const DECL_SINGLE: &str = "<?xml version='1.0' encoding='UTF-8' standalone='no'?>";

fn sjis(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!unmappable, "fixture not encodable in Shift_JIS: {text}");
    bytes.into_owned()
}

/// The decoded text of a file (the test's own strict decoding, by the declaration).
fn decoded(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).to_ascii_lowercase();
    if head.contains("shift_jis") {
        encoding_rs::SHIFT_JIS
            .decode_without_bom_handling_and_without_replacement(bytes)
            .expect("valid Shift_JIS")
            .into_owned()
    } else {
        String::from_utf8(bytes.to_vec()).expect("valid UTF-8")
    }
}

/// The texts of every element named `name`.
fn texts(bytes: &[u8], name: &str) -> Vec<String> {
    let text = decoded(bytes);
    let doc = roxmltree::Document::parse(&text).expect("well-formed");
    doc.descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == name)
        .map(|n| n.children().filter_map(|c| c.text()).collect())
        .collect()
}

/// The first element named `name`.
fn text(bytes: &[u8], name: &str) -> String {
    texts(bytes, name).into_iter().next().unwrap_or_else(|| panic!("no {name}"))
}

/// The last element named `name` (in an answer, the echoed `QualificationConfirmSearchInfo`
/// comes after the result).
fn last_text(bytes: &[u8], name: &str) -> String {
    texts(bytes, name).into_iter().last().unwrap_or_else(|| panic!("no {name}"))
}

fn assert_clean(what: &str, violations: &[String]) {
    assert!(violations.is_empty(), "{what}:\n  {}", violations.join("\n  "));
}

fn assert_tree_clean(oqs: &Path, requests: &[(String, Vec<u8>)]) -> shikaku_hil::layout::LayoutReport {
    let report = check_tree(oqs, requests);
    let lines: Vec<String> =
        report.violations.iter().map(|v| format!("{}: {}", v.file.display(), v.what)).collect();
    assert_clean("tree", &lines);
    report
}

fn reported(violations: &[String], needles: &[&str]) -> bool {
    violations.iter().any(|v| needles.iter().all(|n| v.contains(n)))
}

fn assert_reported(violations: &[String], needles: &[&str]) {
    assert!(
        reported(violations, needles),
        "no violation mentioning {needles:?} in:\n  {}",
        violations.join("\n  ")
    );
}

#[test]
fn face_files_for_a_full_record_a_validity_4_answer_and_an_unconfirmed_reception_follow_the_layout_in_every_encoding(
) {
    for enc in ENCODINGS {
        let tmp = tempfile::tempdir().unwrap();
        let writer = FaceWriter::new(tmp.path().join("face"), cfg(enc)).unwrap();
        let receptions = [
            reception(1, Some(full("山田　花子")), None),
            reception(2, Some(Eligibility::without_record(QualificationValidity::NotFound)), None),
            reception(3, None, Some(601)),
        ];
        for r in &receptions {
            let written = writer.write_at(r, NOW).unwrap();
            let name = written.path.file_name().unwrap().to_str().unwrap().to_owned();
            let bytes = fs::read(&written.path).unwrap();
            assert_clean(&format!("{enc:?} {name}"), &check_file(&name, &bytes));
            assert_eq!(text(&bytes, "ReferenceClassification"), "1");
        }
        let report = assert_tree_clean(tmp.path(), &[]);
        assert_eq!((report.face, report.res, report.err), (3, 0, 0), "{enc:?}");
    }
}

#[test]
fn res_answers_for_a_full_record_validity_4_a_refusal_and_a_failure_follow_the_layout_and_echo_the_request() {
    let request = request_xml(DECL_UTF8, "clinic-0001", "東京１２", Some("3456"), "01").into_bytes();
    let req = parse_request(&request).unwrap();
    let e_full = full("山田　花子");
    let e_none = Eligibility::without_record(QualificationValidity::NotFound);
    let failure = HeaderError {
        code: "SHK0611".into(), message: "資格確認を完了できませんでした".into()
    };
    for enc in ENCODINGS {
        let answers = [
            ("full", Answer::Answered(&e_full)),
            ("validity 4", Answer::Answered(&e_none)),
            ("refused", Answer::Refused { code: "SHK2003", message: "Birthdate の値が不正です" }),
            ("failed", Answer::Failed(&failure)),
        ];
        for (what, answer) in answers {
            let bytes = render_answer(&req, answer, NOW, &cfg(enc)).bytes;
            assert_clean(&format!("{enc:?} {what}"), &check_file("OQSsiquc01res_clinic-0001.xml", &bytes));
            assert_clean(&format!("{enc:?} {what} echo"), &check_echo(&request, &bytes));
        }
    }
}

/// A face file that passes, and the same file with one fault per field.
fn face_fixture(broken: bool) -> (String, Vec<u8>) {
    let (decl_cci, date, name, extension, order) = if broken {
        ("0", "20250231", "●田　花子", "<NameSubstituted>2</NameSubstituted>", true)
    } else {
        ("1", "20250401", "山田　花子", "", false)
    };
    let sex_birth = if order {
        "<Birthdate>19540101</Birthdate><Sex1>2</Sex1>"
    } else {
        "<Sex1>2</Sex1><Birthdate>19540101</Birthdate>"
    };
    let xml = format!(
        "{DECL_SJIS}\r\n<XmlMsg><MessageHeader><ProcessExecutionTime>20250401093012</ProcessExecutionTime>\
         <QualificationConfirmationDate>{date}</QualificationConfirmationDate><MedicalInstitutionCode>{INSTITUTION}</MedicalInstitutionCode>\
         <ArbitraryFileIdentifier>SK-0001-7-1</ArbitraryFileIdentifier><ReferenceClassification>1</ReferenceClassification>\
         <SegmentOfResult>1</SegmentOfResult><CharacterCodeIdentifier>{decl_cci}</CharacterCodeIdentifier></MessageHeader>\
         <MessageBody><ProcessingResultStatus>1</ProcessingResultStatus><QualificationValidity>1</QualificationValidity>\
         <ResultList><ResultOfQualificationConfirmation><InsuredCardClassification>01</InsuredCardClassification>\
         <InsurerNumber>  138057</InsurerNumber><InsuredIdentificationNumber>3456</InsuredIdentificationNumber>\
         <Name>{name}</Name>{extension}<NameKana>ﾔﾏﾀﾞ ﾊﾅｺ</NameKana>{sex_birth}<InsurerName>千代田区国民健康保険</InsurerName>\
         </ResultOfQualificationConfirmation></ResultList></MessageBody></XmlMsg>\r\n"
    );
    (format!("OQSsiquc01res_face_{INSTITUTION}{:020}_20250401093012.xml", 42), sjis(&xml))
}

#[test]
fn the_checker_reports_each_fault_of_a_deliberately_broken_file() {
    let (name, good) = face_fixture(false);
    assert_clean("the fixture without faults", &check_file(&name, &good));
    let (name, bad) = face_fixture(true);
    let v = check_file(&name, &bad);
    assert_reported(&v, &["Sex1", "out of spec order"]);
    assert_reported(&v, &["NameSubstituted"]);
    assert_reported(&v, &["●"]);
    assert_reported(&v, &["CharacterCodeIdentifier 0", "Shift_JIS"]);
    assert_reported(&v, &["QualificationConfirmationDate", "\"20250231\" is not a date"]);
}

#[test]
fn the_checker_holds_conditional_elements_to_segment_of_result_and_qualification_validity() {
    let (name, good) = face_fixture(false);
    let xml = decoded(&good);
    let case = |from: &str, to: &str| {
        assert!(xml.contains(from), "{from}");
        check_file(&name, &sjis(&xml.replacen(from, to, 1)))
    };
    // An error code in a file that ended normally.
    let v = case("<CharacterCodeIdentifier>", "<ErrorCode>X</ErrorCode><CharacterCodeIdentifier>");
    assert_reported(&v, &["ErrorCode", "allowed only when SegmentOfResult is not 1"]);
    // 異常終了 without its code.
    let v = case("<SegmentOfResult>1", "<SegmentOfResult>9");
    assert_reported(&v, &["ErrorCode", "missing"]);
    // 該当資格なし with a record.
    let v = case("<QualificationValidity>1", "<QualificationValidity>4");
    assert_reported(&v, &["ResultList", "allowed only when"]);
    // A code outside its table, full-width kana, an unpadded insurer number.
    assert_reported(&case("<Sex1>2", "<Sex1>4"), &["Sex1", "code table"]);
    assert_reported(&case("ﾔﾏﾀﾞ ﾊﾅｺ", "ヤマダ　ハナコ"), &["NameKana", "half-width"]);
    assert_reported(&case("  138057", "138057"), &["InsurerNumber", "8 characters"]);
    // A required element missing; an element under the wrong parent; an unknown one.
    assert_reported(
        &case("<InsurerName>千代田区国民健康保険</InsurerName>", ""),
        &["InsurerName", "required"],
    );
    assert_reported(
        &case("<NameKana>", "<ProcessingResultStatus>1</ProcessingResultStatus><NameKana>"),
        &["belongs under MessageBody"],
    );
    assert_reported(&case("<NameKana>", "<Nickname>x</Nickname><NameKana>"), &["Nickname", "unknown"]);
    // A repeated element.
    assert_reported(&case("<NameKana>", "<Name>山田</Name><NameKana>"), &["Name", "repeated"]);
    // The bytes are not what the declaration says.
    let lying = [b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>".as_slice(), &good[DECL_SJIS.len()..]].concat();
    assert_reported(&check_file(&name, &lying), &["not UTF-8"]);
    // A face file name without the 30 digits, and a res answer with the face's 照会区分.
    assert_reported(&check_file("OQSsiquc01res_face_20250401093012.xml", &good), &["30 digits"]);
    assert_reported(&check_file("OQSsiquc01res_x.xml", &good), &["ReferenceClassification 2"]);
}

#[test]
fn the_checker_reports_an_answer_that_does_not_echo_its_request_and_a_request_returned_without_its_err() {
    let request = request_xml(DECL_UTF8, "clinic-0001", "東京１２", Some("3456"), "01").into_bytes();
    let req = parse_request(&request).unwrap();
    let e = full("山田　花子");
    let answer = decoded(&render_answer(&req, Answer::Answered(&e), NOW, &cfg(FileEncoding::Utf8)).bytes);
    let v = check_echo(&request, answer.replace("clinic-0001", "clinic-0002").as_bytes());
    assert_reported(&v, &["ArbitraryFileIdentifier", "clinic-0002"]);
    // The echoed 保険者番号 trimmed (the last one: the echo comes after the result).
    let mut trimmed = answer.clone();
    let at = trimmed.rfind("<InsurerNumber>  138057").unwrap();
    trimmed.replace_range(at..at + "<InsurerNumber>  138057".len(), "<InsurerNumber>138057");
    let v = check_echo(&request, trimmed.as_bytes());
    assert_reported(&v, &["QualificationConfirmSearchInfo/InsurerNumber"]);

    let tmp = tempfile::tempdir().unwrap();
    let res = tmp.path().join("res");
    fs::create_dir_all(&res).unwrap();
    fs::write(res.join("OQSsiquc01req_lost.xml"), b"<XmlMsg>").unwrap();
    fs::write(res.join("OQSsiquc01res_stray.xml"), answer.as_bytes()).unwrap();
    let requests = vec![
        ("OQSsiquc01req_lost.xml".to_owned(), b"<XmlMsg>".to_vec()),
        ("OQSsiquc01req_gone.xml".to_owned(), request.clone()),
    ];
    let v: Vec<String> = check_tree(tmp.path(), &requests).violations.into_iter().map(|v| v.what).collect();
    assert_reported(&v, &["OQSsiquc01req_lost.xml", "without OQSsiquc01req_lost.err"]);
    assert_reported(&v, &["OQSsiquc01res_stray.xml", "without a matching request"]);
    assert_reported(&v, &["OQSsiquc01req_gone.xml", "neither answered"]);
}

/// The requests of the watcher test: (file name, bytes).
fn watcher_requests() -> Vec<(String, Vec<u8>)> {
    let utf8 = request_xml(DECL_UTF8, "clinic-0001", "東京１２", Some("3456"), "01");
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(request_xml(DECL_UTF8, "clinic-0003", "12", Some("3456"), "01").as_bytes());
    let sjis_req = sjis(&request_xml(DECL_SJIS, "髙-0002", "髙１２", Some("3456"), "01"));
    let mut bad_sjis = sjis(&request_xml(DECL_SJIS, "clinic-0008", "12", Some("3456"), "01"));
    let at = bad_sjis.windows(2).position(|w| w == b"12").unwrap();
    bad_sjis[at] = 0xFD; // not a Shift_JIS byte
                         // Declared UTF-8, bytes Shift_JIS.
    let sjis_as_utf8 = sjis(&request_xml(DECL_UTF8, "clinic-0009", "髙１２", Some("3456"), "01"));
    vec![
        ("OQSsiquc01req_utf8.xml".into(), utf8.clone().into_bytes()),
        ("OQSsiquc01req_sjis.xml".into(), sjis_req),
        ("OQSsiquc01req_bom.xml".into(), bom),
        (
            "OQSsiquc01req_single.xml".into(),
            request_xml(DECL_SINGLE, "clinic-0004", "12", Some("3456"), "01").into_bytes(),
        ),
        (
            "OQSsiquc01req_nobranch.xml".into(),
            request_xml(DECL_UTF8, "clinic-0005", "12", Some("3456"), "").into_bytes(),
        ),
        (
            "OQSsiquc01req_noid.xml".into(),
            request_xml(DECL_UTF8, "clinic-0006", "12", None, "01").into_bytes(),
        ),
        ("OQSsiquc01req_truncated.xml".into(), utf8.as_bytes()[..utf8.len() / 2].to_vec()),
        ("OQSsiquc01req_badsjis.xml".into(), bad_sjis),
        ("OQSsiquc01req_sjisasutf8.xml".into(), sjis_as_utf8),
    ]
}

const UNREADABLE: [&str; 3] = ["truncated", "badsjis", "sjisasutf8"];

#[test]
fn req_watcher_answers_readable_requests_returns_unreadable_ones_beside_an_err_and_the_tree_passes_the_checker(
) {
    for enc in ENCODINGS {
        let tmp = tempfile::tempdir().unwrap();
        let folders = Folders::under(tmp.path());
        folders.create_all().unwrap();
        let requests = watcher_requests();
        for (name, bytes) in &requests {
            fs::write(folders.req.join(name), bytes).unwrap();
        }
        let queries: Mutex<Vec<InsuredQuery>> = Mutex::new(Vec::new());
        let lookup = FnLookup(|q: &InsuredQuery| -> Result<Eligibility, EligibilityError> {
            queries.lock().unwrap().push(q.clone());
            Ok(full(HARD_NAME))
        });
        let mut watcher = ReqWatcher::new(folders.clone(), cfg(enc)).unwrap().settle(Duration::ZERO);
        let report = watcher.poll_once(&lookup);
        assert!(report.io_errors.is_empty() && report.waiting.is_empty(), "{enc:?}: {report:?}");
        assert_eq!((report.answered.len(), report.returned.len()), (6, 3), "{enc:?}: {report:?}");
        assert_eq!(fs::read_dir(&folders.req).unwrap().count(), 0, "{enc:?}: req is empty");

        let tree = assert_tree_clean(tmp.path(), &requests);
        assert_eq!((tree.face, tree.res, tree.err), (0, 6, 3), "{enc:?}");

        // 髙 in 記号 reached the lookup unchanged, and came back in the identifier.
        assert!(queries.lock().unwrap().iter().any(|q| q.symbol.as_deref() == Some("髙１２")), "{enc:?}");
        let sjis_answer = fs::read(folders.res.join("OQSsiquc01res_sjis.xml")).unwrap();
        assert_eq!(text(&sjis_answer, "ArbitraryFileIdentifier"), "髙-0002", "{enc:?}");
        assert_eq!(last_text(&sjis_answer, "InsuredCardSymbol"), "髙１２", "{enc:?}");
        assert_eq!(text(&sjis_answer, "Name"), HARD_NAME, "{enc:?}");
        // The empty 枝番 is echoed empty and the lookup went ahead without it.
        let nobranch = fs::read(folders.res.join("OQSsiquc01res_nobranch.xml")).unwrap();
        assert_eq!(text(&nobranch, "ProcessingResultStatus"), "1", "{enc:?}");
        assert_eq!(last_text(&nobranch, "InsuredBranchNumber"), "", "{enc:?}");
        // A missing 番号: answered, not returned, with the field named and the identifier echoed.
        let noid = fs::read(folders.res.join("OQSsiquc01res_noid.xml")).unwrap();
        assert_eq!(text(&noid, "ProcessingResultStatus"), "2", "{enc:?}");
        assert_eq!(text(&noid, "ProcessingResultCode"), "SHK2001", "{enc:?}");
        assert_eq!(text(&noid, "ArbitraryFileIdentifier"), "clinic-0006", "{enc:?}");
        // Unreadable requests: the request itself in res, its reason beside it.
        for id in UNREADABLE {
            let name = format!("OQSsiquc01req_{id}.xml");
            let original = &requests.iter().find(|(n, _)| *n == name).unwrap().1;
            assert_eq!(&fs::read(folders.res.join(&name)).unwrap(), original, "{enc:?} {name}");
            let reason = fs::read(folders.res.join(format!("OQSsiquc01req_{id}.err"))).unwrap();
            assert!(reason.iter().any(|b| !b.is_ascii_whitespace()), "{enc:?} {id}: empty reason");
            assert!(!folders.res.join(format!("OQSsiquc01res_{id}.xml")).exists(), "{enc:?} {id} answered");
        }
    }
}

#[test]
fn names_outside_jis_x_0208_read_back_unchanged_in_every_encoding() {
    let request = request_xml(DECL_UTF8, "clinic-0001", "12", Some("3456"), "01").into_bytes();
    let req = parse_request(&request).unwrap();
    let e = full(HARD_NAME);
    for enc in ENCODINGS {
        let tmp = tempfile::tempdir().unwrap();
        let face = FaceWriter::new(tmp.path().join("face"), cfg(enc)).unwrap();
        let face_bytes =
            fs::read(face.write_at(&reception(1, Some(e.clone()), None), NOW).unwrap().path).unwrap();
        let res_bytes = render_answer(&req, Answer::Answered(&e), NOW, &cfg(enc)).bytes;
        for (what, bytes) in [("face", &face_bytes), ("res", &res_bytes)] {
            assert_eq!(text(bytes, "Name"), HARD_NAME, "{enc:?} {what}");
            let raw = decoded(bytes);
            if enc == FileEncoding::Utf8 {
                assert!(raw.contains(HARD_NAME), "{enc:?} {what}: as itself in UTF-8");
            } else {
                assert!(raw.contains("&#x20BB7;"), "{enc:?} {what}: 𠮷 as a reference in Shift_JIS");
            }
        }
        assert_tree_clean(tmp.path(), &[]);
    }
}

#[test]
fn a_retryable_lookup_failure_leaves_the_request_in_req_and_writes_nothing_until_the_service_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let folders = Folders::under(tmp.path());
    folders.create_all().unwrap();
    let name = "OQSsiquc01req_wait.xml";
    let request = request_xml(DECL_UTF8, "clinic-0010", "12", Some("3456"), "01").into_bytes();
    fs::write(folders.req.join(name), &request).unwrap();
    let up = AtomicBool::new(false);
    let lookup = FnLookup(|_: &InsuredQuery| -> Result<Eligibility, EligibilityError> {
        if up.load(Ordering::SeqCst) {
            Ok(full("山田　花子"))
        } else {
            Err(EligibilityError::new(ErrorCode::ServiceUnreachable, "connection refused"))
        }
    });
    let mut watcher = ReqWatcher::new(folders.clone(), cfg(FileEncoding::Cp932))
        .unwrap()
        .settle(Duration::ZERO)
        .retry(Duration::ZERO, Duration::ZERO);
    for _ in 0..2 {
        let report = watcher.poll_once(&lookup);
        assert_eq!(report.waiting.len(), 1, "{report:?}");
        assert!(report.answered.is_empty() && report.returned.is_empty(), "{report:?}");
        assert_eq!(fs::read(folders.req.join(name)).unwrap(), request, "the request stays in req");
        assert_eq!(fs::read_dir(&folders.res).unwrap().count(), 0, "nothing in res");
    }
    let requests = vec![(name.to_owned(), request.clone())];
    assert_tree_clean(tmp.path(), &requests);

    up.store(true, Ordering::SeqCst);
    let report = watcher.poll_once(&lookup);
    assert_eq!(report.answered.len(), 1, "{report:?}");
    assert!(!folders.req.join(name).exists());
    let answer = fs::read(folders.res.join("OQSsiquc01res_wait.xml")).unwrap();
    assert_eq!(text(&answer, "ArbitraryFileIdentifier"), "clinic-0010");
    assert_eq!(text(&answer, "QualificationValidity"), "1");
    let tree = assert_tree_clean(tmp.path(), &requests);
    assert_eq!((tree.res, tree.err), (1, 0));
}
