//! The demo's main job end to end: the reference eligibility service, simulated readers on TCP
//! running the reader images' loop over virtual cards, the real `shikaku run`, patients at the
//! readers and a receipt computer's requests; every reception and request must end as scripted.

use std::time::Duration;

use shikaku_hil::chain::{self, ChainOptions, Expected, MIN_FACE_FILES, MIN_RES_ANSWERS};

#[test]
fn the_whole_chain_ends_as_scripted() {
    let out = tempfile::tempdir().unwrap();
    let opts = ChainOptions { readers: 4, deadline: Duration::from_secs(110), ..ChainOptions::default() };
    let report = chain::run(out.path(), &opts).expect("the chain starts");
    println!("{}", report.summary());
    let failures = report.failures();
    assert!(failures.is_empty(), "not as scripted:\n{}", failures.join("\n"));

    // Every scripted reception is there and ended as expected.
    assert_eq!(report.receptions.len(), chain::visits().len());
    assert!(report.receptions.iter().all(|r| r.ok));
    let with_file = report.receptions.iter().filter(|r| r.face_file.is_some()).count();
    let refused = report.receptions.iter().filter(|r| r.expected == Expected::RefusedAtReader).count();
    assert_eq!(with_file + refused, report.receptions.len());
    assert!(report.face_files >= MIN_FACE_FILES, "{} face files", report.face_files);
    assert_eq!(report.face_files, with_file, "one face file per reception, no more");
    // Several readers took part.
    let mut readers: Vec<_> = report.receptions.iter().map(|r| r.reader.as_str()).collect();
    readers.sort();
    readers.dedup();
    assert!(readers.len() >= 3, "{readers:?}");
    // Validity codes 1, 3, 4 and 5 among the face files.
    for code in ["1", "3", "4", "5"] {
        assert!(
            report.receptions.iter().any(|r| r.validity.as_deref() == Some(code)),
            "no reception answered {code}"
        );
    }

    // Every request answered as expected; the truncated one came back beside its .err.
    assert!(report.requests.iter().all(|r| r.ok));
    let readable = report.requests.iter().filter(|r| r.expected != ".err").count();
    assert!(readable >= MIN_RES_ANSWERS);
    assert_eq!(report.res_answers, readable);
    assert_eq!(report.err_files, 1);
    assert!(report.requests.iter().any(|r| r.encoding == "Shift_JIS"));
    assert!(report.requests.iter().any(|r| r.encoding == "UTF-8"));

    // The layout check found nothing; the journal stayed where it was configured.
    assert!(report.layout.ran);
    assert!(report.layout.violations.is_empty());
    assert!(report.journal.exists());
}
