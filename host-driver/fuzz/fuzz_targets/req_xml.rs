//! The receipt computer's `req` folder reader on arbitrary bytes (UTF-8 and Shift_JIS XML,
//! DTDs, entities, deep nesting, oversized input): a typed error or a request, never a panic.
//! A request that parses has its search fields within the bounds the writer relies on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shikaku_host::receipt::parse_request;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = parse_request(data) {
        assert!(req.search.insurer_number.len() <= data.len());
        assert!(req.search.birthdate.len() <= data.len());
    }
});
