//! The card-data walkers on arbitrary bytes: BER-TLV (iterate, find, nest), DER and the X.509
//! certificate, the CV certificate, the card-face, age, basic-four, My Number and integrity
//! records, and the JP2 header reader. Typed errors only, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shikaku_card::cv_cert::CvCertificate;
use shikaku_card::der::{self, Certificate};
use shikaku_card::surface_ap::{AgeRecord, CardFace, Jp2Header};
use shikaku_card::text_ap::{BasicFour, IntegrityRecord, MyNumber};
use shikaku_card::tlv;

/// Walks TLVs and their constructed values down to a depth.
fn walk(input: &[u8], depth: u8) {
    for t in tlv::iter(input).take(64) {
        let Ok(t) = t else { return };
        if depth < 6 {
            walk(t.value, depth + 1);
        }
    }
    let _ = tlv::find(input, 0x5F20);
    let _ = tlv::header(input);
    let _ = tlv::encoded_len(input);
}

fn walk_der(mut input: &[u8], depth: u8) {
    for _ in 0..64 {
        let Ok((e, rest)) = der::read(input) else { return };
        if depth < 8 {
            walk_der(e.value, depth + 1);
        }
        input = rest;
    }
}

fuzz_target!(|data: &[u8]| {
    walk(data, 0);
    walk_der(data, 0);
    if let Ok(c) = Certificate::parse(data) {
        let _ = c.verify_issued_by(&c);
    }
    if let Ok(c) = CvCertificate::parse(data) {
        let _ = c.verify_issued_by(&c);
    }
    let _ = CardFace::parse(data);
    let _ = AgeRecord::parse(data);
    let _ = Jp2Header::parse(data);
    let _ = BasicFour::parse(data);
    let _ = IntegrityRecord::parse(data);
    let _ = MyNumber::parse(data);
});
