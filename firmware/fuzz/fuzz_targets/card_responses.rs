//! The applet clients and the card-operation driver against a card answering arbitrary
//! response APDUs: the input is a script of responses (`len` byte then that many bytes;
//! `0xFF` a transport error), replayed for every card operation and for the surface applet
//! (card face, CV certificate). Nothing may panic; a reply never carries more than the buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shikaku_card::apdu::ApduTransport;
use shikaku_card::surface_ap::SurfaceAp;
use shikaku_card::{CardIo, Pin4};
use shikaku_firmware::drive::card_ops;
use shikaku_firmware::session::{CardOp, CardReply};

struct FuzzCard<'a> {
    script: &'a [u8],
    calls: u32,
}

#[derive(Debug)]
struct Lost;

impl ApduTransport for FuzzCard<'_> {
    type Error = Lost;
    fn transceive(&mut self, _command: &[u8], response: &mut [u8]) -> Result<usize, Lost> {
        self.calls += 1;
        if self.calls > 1_024 {
            return Err(Lost);
        }
        let Some((&len, rest)) = self.script.split_first() else { return Err(Lost) };
        self.script = rest;
        if len == 0xFF {
            return Err(Lost);
        }
        // Lengths past 254 come as two bytes: 0xFE then a big-endian u16.
        let n = if len == 0xFE && self.script.len() >= 2 {
            let n = usize::from(u16::from_be_bytes([self.script[0], self.script[1]]));
            self.script = &self.script[2..];
            n
        } else {
            usize::from(len)
        };
        let n = n.min(self.script.len()).min(response.len());
        let (r, rest) = self.script.split_at(n);
        self.script = rest;
        response[..n].copy_from_slice(r);
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, script)) = data.split_first() else { return };
    let pin = Pin4::from_ascii(b"1234").unwrap();
    let op = match which % 5 {
        0 => CardOp::Identify,
        1 => CardOp::VerifyPin { pin, last_try_confirmed: which & 0x80 != 0 },
        2 => CardOp::ReadCertificate,
        3 => CardOp::SignChallenge { challenge: [which; 32] },
        _ => {
            let mut card = FuzzCard { script, calls: 0 };
            let mut io = CardIo::new(&mut card);
            if let Ok(mut ap) = SurfaceAp::select(&mut io) {
                let mut buf = vec![0u8; 4096];
                if which & 0x80 != 0 {
                    let _ = ap.read_cv_cert(&mut buf);
                } else {
                    let _ = ap.read_card_face(&mut buf);
                }
            }
            return;
        }
    };
    let mut card = FuzzCard { script, calls: 0 };
    let mut buf = vec![0u8; card_ops::BUFFER_LEN];
    match card_ops::run(&mut card, op, &mut buf) {
        CardReply::Identified { auth_cert, .. } | CardReply::Certificate { auth_cert, .. } => {
            assert!(auth_cert.len() <= card_ops::BUFFER_LEN)
        }
        CardReply::Signed { signature } => assert!(signature.len() <= card_ops::BUFFER_LEN),
        _ => {}
    }
});
