//! The encrypted link between the shipping reader and host endpoints under a script of
//! deliveries, faults and an attacker's frames; see `shikaku_protocol_fuzz::sealed_link`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    shikaku_protocol_fuzz::sealed_link::run(data);
});
