//! Result files written in UTF-8 and Shift_JIS read back with an independent XML parser
//! (roxmltree, after decoding Shift_JIS with encoding_rs) to the values of the reception.

use shikaku_host::model::{ConsentRecord, Eligibility, Method, QualificationValidity, Reception};
use shikaku_host::names::Charset;
use shikaku_host::receipt::{render_reception, CharacterCode, FaceWriter, WriterConfig, FACE_PREFIX};

const NOW: u64 = 1_743_467_412_000; // 2025-04-01 09:30:12 JST

fn reception(name: &str) -> Reception {
    Reception {
        reader: "SK-0001".into(),
        session: 7,
        seq: 3,
        method: Method::Face,
        cert_sha256: "ab".repeat(32),
        staff_account: None,
        registration: false,
        verified_at: 1_743_467_400_000, // 2025-04-01 09:30:00 JST
        eligibility: Some(Eligibility {
            validity: QualificationValidity::Valid,
            insurer_number: Some("138057".into()),
            symbol: Some("東京１２".into()),
            number: Some("3456".into()),
            branch: Some("01".into()),
            name: Some(name.into()),
            name_kana: Some("ﾀｶｻｷ ﾖｼｺ".into()),
            birth_date: Some("19800101".into()),
            copay_percent: Some(30),
            limit_category: Some("ウ".into()),
            consents: ConsentRecord {
                medication: Some(true),
                health_checkup: Some(false),
                treatment: Some(true),
                surgery: None,
                given_at: Some("2025-04-01T09:30:05+09:00".into()),
            },
        }),
        error_code: None,
    }
}

/// Decodes as the receipt computer would, checking the declaration and the identifier agree.
fn decode(bytes: &[u8], cc: CharacterCode) -> String {
    let text = match cc {
        CharacterCode::Utf8 => String::from_utf8(bytes.to_vec()).expect("UTF-8 file is valid UTF-8"),
        CharacterCode::ShiftJis => {
            let (t, _, had_errors) = encoding_rs::SHIFT_JIS.decode(bytes);
            assert!(!had_errors, "Shift_JIS file has undecodable bytes");
            t.into_owned()
        }
    };
    let decl = text.lines().next().unwrap();
    assert!(decl.contains(&format!("encoding=\"{}\"", cc.label())), "{decl}");
    text
}

struct Parsed {
    text: String,
}

impl Parsed {
    fn doc(&self) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(&self.text).expect("well-formed XML")
    }
    /// Text of the only element with this path of names under the root.
    fn at(&self, path: &[&str]) -> Option<String> {
        let doc = self.doc();
        let mut node = doc.root_element();
        assert_eq!(node.tag_name().name(), "XmlMsg");
        for name in path {
            let mut it = node.children().filter(|n| n.is_element() && n.tag_name().name() == *name);
            node = it.next()?;
            assert!(it.next().is_none(), "{name} repeated");
        }
        Some(node.text().unwrap_or("").to_owned())
    }
    fn res(&self, name: &str) -> Option<String> {
        self.at(&["MessageBody", "ResultList", "ResultOfQualificationConfirmation", name])
    }
}

fn render(r: &Reception, cc: CharacterCode, cs: Charset) -> Parsed {
    let cfg = WriterConfig { medical_institution_code: "1311111111".into(), character_code: cc, charset: cs };
    let rendered = render_reception(r, NOW, &cfg);
    Parsed { text: decode(&rendered.bytes, cc) }
}

const ALL: [(CharacterCode, Charset); 3] = [
    (CharacterCode::Utf8, Charset::Jis0208),
    (CharacterCode::ShiftJis, Charset::Jis0208),
    (CharacterCode::ShiftJis, Charset::Cp932),
];

#[test]
fn every_value_reads_back_in_every_encoding() {
    let r = reception("山田 花子");
    let e = r.eligibility.as_ref().unwrap();
    for (cc, cs) in ALL {
        let p = render(&r, cc, cs);
        let h = |n: &str| p.at(&["MessageHeader", n]);
        assert_eq!(h("ProcessExecutionTime").as_deref(), Some("20250401093012"));
        assert_eq!(h("QualificationConfirmationDate").as_deref(), Some("20250401"));
        assert_eq!(h("MedicalInstitutionCode").as_deref(), Some("1311111111"));
        assert_eq!(h("ArbitraryFileIdentifier").as_deref(), Some("SK-0001-7-3"));
        assert_eq!(h("ReferenceClassification").as_deref(), Some("1"));
        assert_eq!(h("SegmentOfResult").as_deref(), Some("1"));
        assert_eq!(h("ErrorCode"), None);
        assert_eq!(h("CharacterCodeIdentifier"), Some(cc.code().to_string()));
        assert_eq!(p.at(&["MessageBody", "ProcessingResultStatus"]).as_deref(), Some("1"));
        assert_eq!(p.at(&["MessageBody", "QualificationValidity"]).as_deref(), Some("1"));

        // 6-digit 国保 numbers are right-aligned to 8 with spaces, as the system sends them.
        assert_eq!(p.res("InsurerNumber").as_deref(), Some("  138057"));
        assert_eq!(p.res("InsurerNumber").unwrap().trim(), e.insurer_number.as_deref().unwrap());
        assert_eq!(p.res("InsuredCardSymbol").as_deref(), e.symbol.as_deref());
        assert_eq!(p.res("InsuredIdentificationNumber").as_deref(), e.number.as_deref());
        assert_eq!(p.res("InsuredBranchNumber").as_deref(), e.branch.as_deref());
        assert_eq!(p.res("Name").as_deref(), e.name.as_deref());
        assert_eq!(p.res("NameSubstituted"), None);
        assert_eq!(p.res("NameKana").as_deref(), e.name_kana.as_deref());
        assert_eq!(p.res("Birthdate").as_deref(), e.birth_date.as_deref());
        assert_eq!(p.res("InsuredPartialContributionRatio").as_deref(), Some("030"));
        assert_eq!(
            p.res("LimitApplicationCertificateRelatedInfo").map(|_| ()),
            Some(()),
            "limit info present"
        );
        let doc = p.doc();
        let flag = doc
            .descendants()
            .find(|n| n.has_tag_name("LimitApplicationCertificateClassificationFlag"))
            .and_then(|n| n.text());
        assert_eq!(flag, Some("A03")); // ウ
        assert_eq!(p.res("PharmacistsInfoConsFlg").as_deref(), Some("1"));
        assert_eq!(p.res("PharmacistsInfoConsTime").as_deref(), Some("20250401093005"));
        assert_eq!(p.res("SpecificHealthCheckupsInfoConsFlg").as_deref(), Some("0"));
        assert_eq!(p.res("DiagnosisInfoConsFlg").as_deref(), Some("1"));
        assert_eq!(p.res("OperationInfoConsFlg"), None, "not asked: absent");
    }
}

#[test]
fn variant_names_are_substituted_flagged_and_kept() {
    let original = "髙﨑 𠮷子";
    let r = reception(original);
    // UTF-8: exactly the original, no flag.
    let p = render(&r, CharacterCode::Utf8, Charset::Jis0208);
    assert_eq!(p.res("Name").as_deref(), Some(original));
    assert_eq!(p.res("NameSubstituted"), None);
    assert_eq!(p.res("NameOriginal"), None);

    // Strict Shift_JIS: all three replaced, flag 1, original as character references.
    let p = render(&r, CharacterCode::ShiftJis, Charset::Jis0208);
    assert_eq!(p.res("Name").as_deref(), Some("高崎 吉子"));
    assert_eq!(p.res("NameSubstituted").as_deref(), Some("1"));
    assert_eq!(p.res("NameOriginal").as_deref(), Some(original));
    assert!(p.text.contains("&#x9AD9;"), "髙 travels as a character reference");

    // CP932: 髙 and 﨑 are IBM extensions and stay; 𠮷 is not in CP932.
    let p = render(&r, CharacterCode::ShiftJis, Charset::Cp932);
    assert_eq!(p.res("Name").as_deref(), Some("髙﨑 吉子"));
    assert_eq!(p.res("NameSubstituted").as_deref(), Some("1"));
    assert_eq!(p.res("NameOriginal").as_deref(), Some(original));
}

#[test]
fn a_bullet_is_flagged_and_the_original_kept() {
    let original = "琇子";
    let p = render(&reception(original), CharacterCode::ShiftJis, Charset::Jis0208);
    assert_eq!(p.res("Name").as_deref(), Some("●子"));
    assert_eq!(p.res("NameSubstituted").as_deref(), Some("2"));
    assert_eq!(p.res("NameOriginal").as_deref(), Some(original));
    // CP932 can write 琇 (IBM extension): no bullet there.
    let p = render(&reception(original), CharacterCode::ShiftJis, Charset::Cp932);
    assert_eq!(p.res("Name").as_deref(), Some(original));
    assert_eq!(p.res("NameSubstituted"), None);
}

#[test]
fn markup_in_values_is_escaped() {
    let original = "A&B <C> \"D\" 'E'";
    for (cc, cs) in ALL {
        let p = render(&reception(original), cc, cs);
        assert_eq!(p.res("Name").as_deref(), Some(original));
    }
}

#[test]
fn line_breaks_survive_and_what_xml_cannot_carry_is_flagged() {
    let original = "山田\r\n花子\t";
    for (cc, cs) in ALL {
        let p = render(&reception(original), cc, cs);
        assert_eq!(p.res("Name").as_deref(), Some(original), "{cc:?}");
        assert_eq!(p.res("NameSubstituted"), None);
    }
    // NUL and other C0 controls are not XML 1.0 characters at all.
    let p = render(&reception("山\u{0}田"), CharacterCode::Utf8, Charset::Jis0208);
    assert_eq!(p.res("Name").as_deref(), Some("山●田"));
    assert_eq!(p.res("NameSubstituted").as_deref(), Some("2"));
    assert_eq!(p.res("NameOriginal").as_deref(), Some("山田"));
}

#[test]
fn every_field_is_flagged_not_only_names() {
    let mut r = reception("山田");
    r.eligibility.as_mut().unwrap().number = Some("髙1234".into());
    let p = render(&r, CharacterCode::ShiftJis, Charset::Jis0208);
    assert_eq!(p.res("InsuredIdentificationNumber").as_deref(), Some("高1234"));
    assert_eq!(p.res("InsuredIdentificationNumberSubstituted").as_deref(), Some("1"));
    assert_eq!(p.res("InsuredIdentificationNumberOriginal").as_deref(), Some("髙1234"));
}

#[test]
fn an_unconfirmed_reception_is_still_written_with_its_error() {
    let mut r = reception("山田 花子");
    r.eligibility = None;
    r.error_code = Some(12);
    for (cc, cs) in ALL {
        let p = render(&r, cc, cs);
        assert_eq!(p.at(&["MessageHeader", "SegmentOfResult"]).as_deref(), Some("9"));
        assert_eq!(p.at(&["MessageHeader", "ErrorCode"]).as_deref(), Some("SHK0012"));
        assert!(!p.at(&["MessageHeader", "ErrorMessage"]).unwrap().is_empty());
        assert_eq!(p.at(&["MessageBody", "ProcessingResultStatus"]).as_deref(), Some("2"));
        assert_eq!(p.at(&["MessageBody", "ResultList"]), None);
    }
}

#[test]
fn different_readers_never_share_a_file() {
    let mut a = reception("山田");
    let mut b = reception("山田");
    a.reader = "SK/1".into();
    b.reader = "SK 1".into();
    assert_ne!(FaceWriter::file_name(&a), FaceWriter::file_name(&b));
    let plain = reception("山田");
    assert_eq!(FaceWriter::file_name(&plain), "OQSsiquc01res_face_SK-0001-7-3_20250401093000.xml");
    let mut empty = reception("山田");
    empty.reader = String::new();
    assert!(FaceWriter::file_name(&empty).starts_with("OQSsiquc01res_face_x"));
}

#[test]
fn face_file_name_and_folder() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = WriterConfig::new("1311111111");
    let w = FaceWriter::new(dir.path(), cfg).unwrap();
    let mut r = reception("髙橋 一郎");
    r.reader = "SK/00 01".into(); // nothing of this may escape into the path
    let written = w.write_at(&r, NOW).unwrap();
    let name = written.path.file_name().unwrap().to_str().unwrap().to_owned();
    assert_eq!(name, "OQSsiquc01res_face_SK-00-01xcb641637-7-3_20250401093000.xml");
    assert!(name.starts_with(FACE_PREFIX) && name.starts_with("OQSsiquc01res_"));
    assert_eq!(written.path.parent().unwrap(), dir.path());
    assert_eq!(written.flagged.len(), 1, "{:?}", written.flagged);
    // Written twice (a re-delivered result): still one file.
    w.write_at(&r, NOW + 1000).unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    // Default configuration: Shift_JIS, strict.
    let bytes = std::fs::read(&written.path).unwrap();
    let p = Parsed { text: decode(&bytes, CharacterCode::ShiftJis) };
    assert_eq!(p.res("Name").as_deref(), Some("高橋 一郎"));
    assert_eq!(p.res("NameSubstituted").as_deref(), Some("1"));
    assert_eq!(p.res("NameOriginal").as_deref(), Some("髙橋 一郎"));
}
