//! Result files in each encoding read back with an independent XML parser (roxmltree, after
//! decoding with encoding_rs) to exactly the values of the model: every character, including
//! those outside the file's character set, which travel as numeric character references.

mod common;

use shikaku_host::model::{Eligibility, Method, QualificationValidity, Reception};
use shikaku_host::receipt::{render_reception, FaceWriter, FileEncoding, WriterConfig, FACE_PREFIX};

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
        eligibility: Some(common::eligibility(name)),
        error_code: None,
    }
}

/// Decodes as the receipt computer would (CP932 for Shift_JIS), checking that the declaration
/// and `CharacterCodeIdentifier` agree with the bytes.
fn decode(bytes: &[u8], enc: FileEncoding) -> String {
    let text = match enc {
        FileEncoding::Utf8 => String::from_utf8(bytes.to_vec()).expect("UTF-8 file is valid UTF-8"),
        FileEncoding::Cp932 | FileEncoding::Jis0208 => {
            let (t, _, had_errors) = encoding_rs::SHIFT_JIS.decode(bytes);
            assert!(!had_errors, "Shift_JIS file has undecodable bytes");
            t.into_owned()
        }
    };
    let decl = text.lines().next().unwrap();
    assert!(decl.contains(&format!("encoding=\"{}\"", enc.label())), "{decl}");
    assert!(
        text.contains(&format!(
            "<CharacterCodeIdentifier>{}</CharacterCodeIdentifier>",
            enc.character_code_identifier()
        )),
        "CharacterCodeIdentifier agrees with the declaration"
    );
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
    fn res_in(&self, group: &str, name: &str) -> Option<String> {
        self.at(&["MessageBody", "ResultList", "ResultOfQualificationConfirmation", group, name])
    }
}

fn render(r: &Reception, encoding: FileEncoding) -> Parsed {
    let cfg = WriterConfig { medical_institution_code: "1311111111".into(), encoding };
    let rendered = render_reception(r, NOW, &cfg);
    Parsed { text: decode(&rendered.bytes, encoding) }
}

const ALL: [FileEncoding; 3] = [FileEncoding::Cp932, FileEncoding::Utf8, FileEncoding::Jis0208];

#[test]
fn every_value_reads_back_in_every_encoding() {
    let r = reception("山田　花子");
    let e = r.eligibility.as_ref().unwrap();
    let q = e.qualification.as_deref().unwrap();
    for enc in ALL {
        let p = render(&r, enc);
        let h = |n: &str| p.at(&["MessageHeader", n]);
        assert_eq!(h("ProcessExecutionTime").as_deref(), Some("20250401093012"));
        assert_eq!(h("QualificationConfirmationDate").as_deref(), Some("20250401"));
        assert_eq!(h("MedicalInstitutionCode").as_deref(), Some("1311111111"));
        assert_eq!(h("ArbitraryFileIdentifier").as_deref(), Some("SK-0001-7-3"));
        assert_eq!(h("ReferenceClassification").as_deref(), Some("1"));
        assert_eq!(h("SegmentOfResult").as_deref(), Some("1"));
        assert_eq!(h("ErrorCode"), None, "no error elements when SegmentOfResult is 1");
        assert_eq!(h("ErrorMessage"), None);
        assert_eq!(p.at(&["MessageBody", "ProcessingResultStatus"]).as_deref(), Some("1"));
        assert_eq!(p.at(&["MessageBody", "QualificationValidity"]).as_deref(), Some("1"));

        assert_eq!(p.res("InsuredCardClassification").as_deref(), Some("01"));
        // 6-digit 国保 numbers are right-aligned to 8 with spaces, as the system sends them.
        assert_eq!(p.res("InsurerNumber").as_deref(), Some("  138057"));
        assert_eq!(p.res("InsuredCardSymbol").as_deref(), q.symbol.as_deref());
        assert_eq!(p.res("InsuredIdentificationNumber").as_deref(), Some(q.number.as_str()));
        assert_eq!(p.res("InsuredBranchNumber").as_deref(), Some("01"));
        assert_eq!(p.res("PersonalFamilyClassification").as_deref(), Some("2"));
        assert_eq!(p.res("InsuredName").as_deref(), Some("山田　一郎"));
        assert_eq!(p.res("Name").as_deref(), Some("山田　花子"));
        assert_eq!(p.res("NameOfOther").as_deref(), Some("山田　花"));
        // Kana half-width, as receipt computers read it.
        assert_eq!(p.res("NameKana").as_deref(), Some("ﾀｶｻｷ ﾖｼｺ"));
        assert_eq!(p.res("NameOfOtherKana").as_deref(), Some("ﾔﾏﾀﾞ ﾊﾅ"));
        assert_eq!(p.res("Sex1").as_deref(), Some("2"));
        assert_eq!(p.res("Sex2"), None);
        assert_eq!(p.res("Birthdate").as_deref(), Some("19540101"));
        assert_eq!(p.res("Address").as_deref(), q.address.as_deref());
        assert_eq!(p.res("PostNumber").as_deref(), Some("100-8916"));
        assert_eq!(p.res("QualificationDate").as_deref(), Some("20190401"));
        assert_eq!(p.res("DisqualificationDate"), None);
        assert_eq!(p.res("InsuredCertificateIssuanceDate").as_deref(), Some("20240801"));
        assert_eq!(p.res("InsuredCardValidDate").as_deref(), Some("20240801"));
        assert_eq!(p.res("InsuredCardExpirationDate").as_deref(), Some("20250731"));
        assert_eq!(p.res("InsuredPartialContributionRatio").as_deref(), Some("020"));
        assert_eq!(p.res("InsurerName").as_deref(), Some("千代田区国民健康保険"));
        let er = "ElderlyRecipientCertificateInfo";
        assert_eq!(p.res_in(er, "ElderlyRecipientValidStartDate").as_deref(), Some("20240801"));
        assert_eq!(p.res_in(er, "ElderlyRecipientContributionRatio").as_deref(), Some("020"));
        let li = "LimitApplicationCertificateRelatedInfo";
        assert_eq!(p.res_in(li, "LimitApplicationCertificateClassification").as_deref(), Some("01"));
        assert_eq!(p.res_in(li, "LimitApplicationCertificateClassificationFlag").as_deref(), Some("A03"));
        assert_eq!(p.res("PharmacistsInfoConsFlg").as_deref(), Some("1"));
        assert_eq!(p.res("PharmacistsInfoConsTime").as_deref(), Some("20250401093005"));
        assert_eq!(p.res("PharmacistsInfoAvailableTime").as_deref(), Some("20250402093005"));
        assert_eq!(p.res("SpecificHealthCheckupsInfoConsFlg").as_deref(), Some("0"));
        assert_eq!(p.res("SpecificHealthCheckupsInfoAvailableTime"), None, "not given: no viewing period");
        assert_eq!(p.res("DiagnosisInfoConsFlg").as_deref(), Some("1"));
        assert_eq!(p.res("OperationInfoConsFlg"), None, "not asked: absent");
        assert_eq!(p.res("ReferenceNumber").as_deref(), Some("0000012345"));
    }
}

#[test]
fn the_result_elements_come_in_the_layout_order() {
    let p = render(&reception("山田　花子"), FileEncoding::Cp932);
    let doc = p.doc();
    let result = doc.descendants().find(|n| n.has_tag_name("ResultOfQualificationConfirmation")).unwrap();
    let names: Vec<&str> =
        result.children().filter(|n| n.is_element()).map(|n| n.tag_name().name()).collect();
    assert_eq!(
        names,
        [
            "InsuredCardClassification",
            "InsurerNumber",
            "InsuredCardSymbol",
            "InsuredIdentificationNumber",
            "InsuredBranchNumber",
            "PersonalFamilyClassification",
            "InsuredName",
            "Name",
            "NameOfOther",
            "NameKana",
            "NameOfOtherKana",
            "Sex1",
            "Birthdate",
            "Address",
            "PostNumber",
            "QualificationDate",
            "InsuredCertificateIssuanceDate",
            "InsuredCardValidDate",
            "InsuredCardExpirationDate",
            "InsuredPartialContributionRatio",
            "InsurerName",
            "ElderlyRecipientCertificateInfo",
            "LimitApplicationCertificateRelatedInfo",
            "SpecificHealthCheckupsInfoConsFlg",
            "SpecificHealthCheckupsInfoConsTime",
            "PharmacistsInfoConsFlg",
            "PharmacistsInfoConsTime",
            "PharmacistsInfoAvailableTime",
            "DiagnosisInfoConsFlg",
            "DiagnosisInfoConsTime",
            "DiagnosisInfoAvailableTime",
            "ReferenceNumber",
        ]
    );
}

#[test]
fn names_outside_the_character_set_arrive_unchanged_as_references() {
    let original = "𠮷田　髙﨑　渡邉";
    for enc in ALL {
        let cfg = WriterConfig { medical_institution_code: "1311111111".into(), encoding: enc };
        let rendered = render_reception(&reception(original), NOW, &cfg);
        let p = Parsed { text: decode(&rendered.bytes, enc) };
        assert_eq!(p.res("Name").as_deref(), Some(original), "{enc:?}");
        assert!(
            !p.text.contains('●') && !p.text.contains('高') && !p.text.contains('崎'),
            "{enc:?}: no look-alike"
        );
        let raw = &p.text;
        let expect_refs: &[(char, bool)] = match enc {
            // Every character is UTF-8.
            FileEncoding::Utf8 => &[('𠮷', false), ('髙', false), ('﨑', false), ('邉', false)],
            // 髙 and 﨑 are IBM extensions in CP932; 𠮷 is in no Shift_JIS.
            FileEncoding::Cp932 => &[('𠮷', true), ('髙', false), ('﨑', false), ('邉', false)],
            FileEncoding::Jis0208 => &[('𠮷', true), ('髙', true), ('﨑', true), ('邉', false)],
        };
        for &(c, as_reference) in expect_refs {
            let reference = format!("&#x{:X};", c as u32);
            assert_eq!(raw.contains(&reference), as_reference, "{enc:?} {c}");
            assert_eq!(raw.contains(c), !as_reference, "{enc:?} {c}");
        }
        let listed: Vec<char> = rendered.referenced.iter().flat_map(|r| r.chars.clone()).collect();
        let want: Vec<char> = expect_refs.iter().filter(|(_, r)| *r).map(|(c, _)| *c).collect();
        assert_eq!(listed, want, "{enc:?}: the fields that needed references are reported");
    }
}

#[test]
fn no_element_outside_the_layout_is_added() {
    for enc in ALL {
        let p = render(&reception("髙橋　𠮷子"), enc);
        assert!(!p.text.contains("Substituted") && !p.text.contains("Original"), "{enc:?}");
    }
}

#[test]
fn markup_in_values_is_escaped() {
    let original = "A&B <C> \"D\" 'E'";
    for enc in ALL {
        let p = render(&reception(original), enc);
        assert_eq!(p.res("Name").as_deref(), Some(original));
    }
}

#[test]
fn line_breaks_survive_and_what_xml_cannot_carry_is_reported() {
    let original = "山田\r\n花子\t";
    for enc in ALL {
        let p = render(&reception(original), enc);
        assert_eq!(p.res("Name").as_deref(), Some(original), "{enc:?}");
    }
    // NUL is not an XML 1.0 character, not even as a reference: left out, and reported.
    let cfg = WriterConfig { medical_institution_code: "1311111111".into(), encoding: FileEncoding::Utf8 };
    let rendered = render_reception(&reception("山\u{0}田"), NOW, &cfg);
    let p = Parsed { text: decode(&rendered.bytes, FileEncoding::Utf8) };
    assert_eq!(p.res("Name").as_deref(), Some("山田"));
    assert_eq!(rendered.referenced.len(), 1);
    assert_eq!(rendered.referenced[0].chars, ['\u{0}']);
}

#[test]
fn an_unconfirmed_reception_is_still_written_with_its_error() {
    let mut r = reception("山田 花子");
    r.eligibility = None;
    r.error_code = Some(12);
    for enc in ALL {
        let p = render(&r, enc);
        assert_eq!(p.at(&["MessageHeader", "SegmentOfResult"]).as_deref(), Some("9"));
        assert_eq!(p.at(&["MessageHeader", "ErrorCode"]).as_deref(), Some("SHK0012"));
        assert!(!p.at(&["MessageHeader", "ErrorMessage"]).unwrap().is_empty());
        assert_eq!(p.at(&["MessageBody", "ProcessingResultStatus"]).as_deref(), Some("2"));
        assert_eq!(p.at(&["MessageBody", "ResultList"]), None);
    }
}

#[test]
fn no_qualification_is_a_completed_lookup_without_a_result_list() {
    let mut r = reception("山田 花子");
    r.eligibility = Some(Eligibility::without_record(QualificationValidity::NotFound));
    let p = render(&r, FileEncoding::Cp932);
    assert_eq!(p.at(&["MessageHeader", "SegmentOfResult"]).as_deref(), Some("1"));
    assert_eq!(p.at(&["MessageHeader", "ErrorCode"]), None);
    assert_eq!(p.at(&["MessageBody", "ProcessingResultStatus"]).as_deref(), Some("1"));
    assert_eq!(p.at(&["MessageBody", "QualificationValidity"]).as_deref(), Some("4"));
    assert_eq!(p.at(&["MessageBody", "ResultList"]), None);
}

fn is_face_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(FACE_PREFIX).and_then(|r| r.strip_suffix(".xml")) else {
        return false;
    };
    let Some((digits, stamp)) = rest.split_once('_') else { return false };
    digits.len() == 30 && stamp.len() == 14 && digits.bytes().chain(stamp.bytes()).all(|b| b.is_ascii_digit())
}

#[test]
fn face_file_names_are_digits_and_a_time_stamp_and_never_shared() {
    let dir = tempfile::tempdir().unwrap();
    let w = FaceWriter::new(dir.path(), WriterConfig::new("1311111111")).unwrap();
    let plain = reception("山田");
    let name = w.file_name(&plain);
    assert!(is_face_name(&name), "{name}");
    assert!(name.starts_with("OQSsiquc01res_face_1311111111"), "{name}");
    assert!(name.ends_with("_20250401093000.xml"), "{name}");
    let mut a = reception("山田");
    let mut b = reception("山田");
    a.reader = "SK/1".into();
    b.reader = "SK 1".into();
    assert_ne!(w.file_name(&a), w.file_name(&b));
    let mut c = reception("山田");
    c.seq = 4;
    assert_ne!(w.file_name(&plain), w.file_name(&c));
    let mut r = reception("髙橋 一郎");
    r.reader = "SK/00 01".into(); // nothing of this may escape into the path
    let written = w.write_at(&r, NOW).unwrap();
    let file = written.path.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(is_face_name(&file), "{file}");
    assert_eq!(written.path.parent().unwrap(), dir.path());
    // Written twice (a re-delivered result): still one file.
    w.write_at(&r, NOW + 1000).unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    // Default configuration: CP932, 髙 as itself.
    let bytes = std::fs::read(&written.path).unwrap();
    let p = Parsed { text: decode(&bytes, FileEncoding::Cp932) };
    assert_eq!(p.res("Name").as_deref(), Some("髙橋 一郎"));
    assert!(written.referenced.is_empty());
}
