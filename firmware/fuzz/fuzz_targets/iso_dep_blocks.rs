//! The reader's ISO 14443-4 (T=CL) block handler against a PICC answering arbitrary frames:
//! the input is a script of frontend answers (`len` byte then that many bytes; `0xFF` a
//! timeout, `0xFE` a CRC error), replayed for a few APDU exchanges with chaining in both
//! directions, and the block parser alone. Nothing may panic, hang or write past a buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shikaku_card::apdu::ApduTransport;
use shikaku_firmware::nfc::iso_dep::{parse_block, IsoDep, IsoDepConfig, IsoDepParams};
use shikaku_firmware::nfc::{FrontendError, Timeout, TransceiveFn};

/// The air as the fuzzer scripts it: each answer is a length byte and that many bytes;
/// `FF` is a timeout, `FE` a CRC error.
fn fuzz_picc(mut script: &[u8]) -> TransceiveFn<impl FnMut(&[u8], &mut [u8], Timeout) -> Result<usize, FrontendError> + '_> {
    let mut calls = 0u32;
    TransceiveFn(move |_tx: &[u8], rx: &mut [u8], _timeout: Timeout| {
        calls += 1;
        // A bound on exchanges, as a wall-clock deadline would be on the reader.
        if calls > 4_096 {
            return Err(FrontendError::Timeout);
        }
        let Some((&len, rest)) = script.split_first() else { return Err(FrontendError::Timeout) };
        script = rest;
        match len {
            0xFF => Err(FrontendError::Timeout),
            0xFE => Err(FrontendError::Crc),
            n => {
                let n = usize::from(n).min(script.len());
                let (frame, rest) = script.split_at(n);
                script = rest;
                let m = n.min(rx.len());
                rx[..m].copy_from_slice(&frame[..m]);
                Ok(n)
            }
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, script)) = data.split_first() else { return };
    let _ = parse_block(script, None);
    let _ = parse_block(script, Some(1));
    let params = IsoDepParams {
        fsc: [16, 32, 64, 256][usize::from(cfg & 3)],
        fwi: (cfg >> 2) & 0x0F,
        cid: if cfg & 0x40 != 0 { Some(1) } else { None },
        nad_supported: false,
    };
    let config = IsoDepConfig { max_retries: 3, max_wtx: 8, ..IsoDepConfig::default() };
    let mut link = IsoDep::with_config(fuzz_picc(script), params, config);
    // A short APDU, then one long enough to be chained at a small FSC.
    let long = [0x5Au8; 300];
    let mut select = [0u8; 15];
    select[..5].copy_from_slice(&[0x00, 0xA4, 0x04, 0x0C, 0x0A]);
    for command in [&select[..], &[0x00, 0xB0, 0x00, 0x00, 0x00][..], &long[..]] {
        let mut response = [0u8; 1024];
        if let Ok(n) = link.transceive(command, &mut response) {
            assert!(n <= response.len());
        }
        let mut small = [0u8; 8];
        let _ = link.exchange(command, &mut small);
    }
});
