//! Pairing between the shipping reader and host endpoints, with staff, time, faults and an
//! attacker on the cable; see `shikaku_protocol_fuzz::pairing`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    shikaku_protocol_fuzz::pairing::run(data);
});
