//! The receipt computer's `req` folder reader on arbitrary bytes (UTF-8 and Shift_JIS XML,
//! DTDs, entities, deep nesting, oversized input): a typed error or a request, never a panic.
//! A readable request either names its field problem or gives a lookup whose keys are the
//! well-formed values the eligibility service expects; its answer renders without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shikaku_host::model::{Eligibility, QualificationValidity};
use shikaku_host::receipt::{parse_request, render_answer, Answer, WriterConfig};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = parse_request(data) {
        if let Ok(l) = req.lookup() {
            assert!(l.query.insurer_number.len() == 6 || l.query.insurer_number.len() == 8);
            assert!(l.query.birth_date.len() == 8 && l.query.date.len() == 8);
        }
        let e = Eligibility::without_record(QualificationValidity::NotFound);
        let _ = render_answer(&req, Answer::Answered(&e), 0, &WriterConfig::new("1311111111"));
    }
});
