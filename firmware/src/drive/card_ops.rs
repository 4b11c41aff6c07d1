//! Runs one [`CardOp`] of the session core against the card with the applet clients and
//! answers the [`CardReply`] the core expects.
//!
//! | op | APDUs (JPKI) | reply |
//! |---|---|---|
//! | `Identify` | SELECT JPKI, token info `0006`, auth cert `000A`, VERIFY status `0018` | `Identified` |
//! | `VerifyPin` | SELECT JPKI, VERIFY status, VERIFY with the PIN | `PinVerified` / `PinWrong` / `PinLocked` |
//! | `SignChallenge` | SELECT EF `0017`, COMPUTE DIGITAL SIGNATURE | `Signed` |
//!
//! `SignChallenge` never re-selects the applet: the auth PIN verified by `VerifyPin` holds
//! only within the selection it was verified in (an iPhone authorises the key itself).
//!
//! Errors: anything from the transport (RF timeout, card gone) is [`CardFailure::Lost`];
//! `6A82` on the applet SELECT is [`CardFailure::NotMyNumberCard`]; every other refusal is
//! [`CardFailure::Protocol`]. No PIN try is ever spent on our own error: the PIN status is
//! asked first and the last try goes out only with the holder's confirmation.
//!
//! No heap: the certificate and the signature are written into the caller's buffer, which
//! the reply borrows.

use sha2::{Digest, Sha256};
use shikaku_protocol::message::CardKind;

use crate::session::{CardFailure, CardOp, CardReply, PinState};
use shikaku_card::apdu::ApduTransport;
use shikaku_card::commands::{ef, sha256_digest_info};
use shikaku_card::der::Certificate;
use shikaku_card::io::{SigningKey, SIGNATURE_LEN};
use shikaku_card::jpki::{self, Jpki};
use shikaku_card::{CardError, CardIo, PinStatus};

/// Size a caller's buffer must have: the largest auth certificate the session keeps
/// (and at least a signature).
pub const BUFFER_LEN: usize = jpki::MAX_CERT_LEN;

/// Runs `op` on the card behind `transport`. `buf` receives the certificate (`Identify`) or the
/// signature (`SignChallenge`); it should hold [`BUFFER_LEN`] bytes. The PIN inside a
/// `VerifyPin` is wiped when `op` is dropped at the end of this call.
pub fn run<'b, T: ApduTransport>(transport: &mut T, op: CardOp, buf: &'b mut [u8]) -> CardReply<'b> {
    let mut io = CardIo::new(transport);
    match op {
        CardOp::Identify => identify(&mut io, buf),
        CardOp::VerifyPin { pin, last_try_confirmed } => verify_pin(&mut io, &pin, last_try_confirmed),
        CardOp::SignChallenge { challenge } => sign(&mut io, &challenge, buf),
        CardOp::ReadCertificate => read_certificate(&mut io, buf),
    }
}

fn failed<'b>(error: CardFailure) -> CardReply<'b> {
    CardReply::Failed { error }
}

/// The coarse failure for an error of the applet clients (not on the applet SELECT).
pub fn failure<E>(e: &CardError<E>) -> CardFailure {
    match e {
        CardError::Transport(_) => CardFailure::Lost,
        _ => CardFailure::Protocol,
    }
}

fn select<'c, 't, T: ApduTransport>(io: &'c mut CardIo<'t, T>) -> Result<Jpki<'c, 't, T>, CardFailure> {
    Jpki::select(io).map_err(|e| match e {
        CardError::NotFound => CardFailure::NotMyNumberCard,
        e => failure(&e),
    })
}

fn kind(k: jpki::CardKind) -> CardKind {
    match k {
        jpki::CardKind::PhysicalCard => CardKind::PhysicalCard,
        jpki::CardKind::Android => CardKind::Android,
        jpki::CardKind::Iphone => CardKind::IPhone,
        jpki::CardKind::Unknown => CardKind::Unknown,
    }
}

fn pin_state(status: PinStatus) -> PinState {
    match status {
        // Verified in this selection: the counter is at its maximum.
        PinStatus::Verified => PinState::TriesLeft(3),
        PinStatus::TriesLeft(n) => PinState::TriesLeft(n),
        PinStatus::Locked => PinState::Unavailable,
    }
}

fn identify<'b, T: ApduTransport>(io: &mut CardIo<'_, T>, buf: &'b mut [u8]) -> CardReply<'b> {
    let mut jpki = match select(io) {
        Ok(j) => j,
        Err(e) => return failed(e),
    };
    let kind = match jpki.card_kind() {
        Ok(k) => kind(k),
        Err(e) => return failed(failure(&e)),
    };
    let pin = match jpki.auth_pin_status() {
        Ok(s) => pin_state(s),
        Err(e) => return failed(failure(&e)),
    };
    let cert = match jpki.read_auth_cert(buf) {
        Ok(c) => c,
        // Android keeps the certificate behind the PIN: read it after VERIFY.
        Err(CardError::SecurityStatusNotSatisfied) if kind == CardKind::Android => {
            return CardReply::Identified { kind, auth_cert: &[], not_after_unix_s: 0, pin };
        }
        Err(e) => {
            warn!("drive: auth certificate unreadable");
            return failed(failure(&e));
        }
    };
    match Certificate::parse(cert) {
        Ok(parsed) => CardReply::Identified {
            kind,
            auth_cert: cert,
            not_after_unix_s: parsed.not_after.unix_seconds(),
            pin,
        },
        Err(_) => failed(CardFailure::Protocol),
    }
}

/// The auth certificate in the current selection (after VERIFY on Android): no SELECT of the
/// applet, which would drop the verified state.
fn read_certificate<'b, T: ApduTransport>(io: &mut CardIo<'_, T>, buf: &'b mut [u8]) -> CardReply<'b> {
    let cert = match io.read_file(ef::jpki::AUTH_CERT, buf, shikaku_card::io::Sizing::Tlv) {
        Ok(c) => c,
        Err(e) => return failed(failure(&e)),
    };
    match Certificate::parse(cert) {
        Ok(parsed) => {
            CardReply::Certificate { auth_cert: cert, not_after_unix_s: parsed.not_after.unix_seconds() }
        }
        Err(_) => failed(CardFailure::Protocol),
    }
}

fn verify_pin<'b, T: ApduTransport>(
    io: &mut CardIo<'_, T>,
    pin: &shikaku_card::Pin4,
    last_try_confirmed: bool,
) -> CardReply<'b> {
    let mut jpki = match select(io) {
        Ok(j) => j,
        Err(e) => return failed(e),
    };
    // The confirmation token exists only when the card itself says one try is left.
    let confirm = if last_try_confirmed {
        match jpki.auth_pin_status() {
            Ok(PinStatus::Locked) => return CardReply::PinLocked,
            Ok(status) => status.confirm_last_try(),
            Err(e) => return failed(failure(&e)),
        }
    } else {
        None
    };
    match jpki.verify_auth_pin(pin, confirm) {
        Ok(()) => CardReply::PinVerified,
        Err(CardError::WrongPin { tries_left }) => CardReply::PinWrong { tries_left },
        Err(CardError::Locked) => CardReply::PinLocked,
        // The card has one try left but the core did not ask the holder (its count was stale):
        // nothing was sent, no try spent. Refuse the operation rather than tell the holder
        // the PIN was wrong; placing the card again reads the real count.
        Err(CardError::LastTryNotConfirmed) => failed(CardFailure::Protocol),
        Err(e) => failed(failure(&e)),
    }
}

fn sign<'b, T: ApduTransport>(
    io: &mut CardIo<'_, T>,
    challenge: &[u8; 32],
    buf: &'b mut [u8],
) -> CardReply<'b> {
    let Some(out) = buf.get_mut(..SIGNATURE_LEN) else {
        return failed(CardFailure::Protocol);
    };
    let Ok(signature) = <&mut [u8; SIGNATURE_LEN]>::try_from(out) else {
        return failed(CardFailure::Protocol);
    };
    let hash: [u8; 32] = Sha256::digest(challenge).into();
    // Same selection as the VERIFY: select the key EF only (what `Jpki::sign_hash_with_auth_key`
    // does after its applet SELECT).
    let result = io.select_ef(ef::jpki::AUTH_KEY).and_then(|()| {
        io.compute_signature(SigningKey::SelectedKeyEf, &sha256_digest_info(&hash), signature)
    });
    match result {
        Ok(()) => CardReply::Signed { signature: &buf[..SIGNATURE_LEN] },
        Err(e) => failed(failure(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shikaku_card::testing::{LinkError, Match, ScriptedCard};
    use shikaku_card::Pin4;
    use std::vec::Vec;

    type Answer = Result<Vec<u8>, LinkError>;
    type Step<'a> = (&'a [u8], Answer);

    /// A scripted card; the steps name command prefixes (the script leaves out READ BINARY
    /// offsets and the digest to sign).
    fn script(steps: Vec<Step<'_>>) -> ScriptedCard {
        steps.into_iter().fold(ScriptedCard::new().matching(Match::Prefix), |s, (c, a)| s.step(c, a))
    }

    const SELECT_JPKI: &[u8] =
        &[0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0, 0, 0, 0x01];
    const SELECT_TOKEN: &[u8] = &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x06];
    const SELECT_CERT: &[u8] = &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A];
    const SELECT_PIN: &[u8] = &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18];
    const SELECT_KEY: &[u8] = &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x17];
    const READ: &[u8] = &[0x00, 0xB0];
    const VERIFY_STATUS: &[u8] = &[0x00, 0x20, 0x00, 0x80];
    const VERIFY_1234: &[u8] = &[0x00, 0x20, 0x00, 0x80, 0x04, b'1', b'2', b'3', b'4'];
    const SIGN: &[u8] = &[0x80, 0x2A, 0x00, 0x80, 0x33];

    fn ok() -> Answer {
        Ok(vec![0x90, 0x00])
    }
    fn sw(sw: u16) -> Answer {
        Ok(sw.to_be_bytes().to_vec())
    }
    fn data(d: &[u8]) -> Answer {
        let mut v = d.to_vec();
        v.extend_from_slice(&[0x90, 0x00]);
        Ok(v)
    }

    /// A minimal DER certificate with validity 2021-11-21 .. 2027-02-20 23:59:59Z.
    fn cert() -> Vec<u8> {
        fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
            let mut v = vec![tag];
            let n = value.len();
            if n < 128 {
                v.push(n as u8);
            } else if n < 256 {
                v.extend_from_slice(&[0x81, n as u8]);
            } else {
                v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
            }
            v.extend_from_slice(value);
            v
        }
        let sha256_rsa = tlv(
            0x30,
            &[tlv(0x06, &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B]), vec![0x05, 0x00]].concat(),
        );
        let rsa_enc = tlv(
            0x30,
            &[tlv(0x06, &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]), vec![0x05, 0x00]].concat(),
        );
        let name = tlv(0x30, &[]);
        let validity = tlv(0x30, &[tlv(0x17, b"211121000000Z"), tlv(0x17, b"270220235959Z")].concat());
        let mut modulus = vec![0x00];
        modulus.extend_from_slice(&[0xC1; 256]);
        let key = tlv(0x30, &[tlv(0x02, &modulus), tlv(0x02, &[0x01, 0x00, 0x01])].concat());
        let mut bits = vec![0x00];
        bits.extend_from_slice(&key);
        let spki = tlv(0x30, &[rsa_enc, tlv(0x03, &bits)].concat());
        let tbs = tlv(
            0x30,
            &[
                tlv(0xA0, &tlv(0x02, &[2])),
                tlv(0x02, &[7]),
                sha256_rsa.clone(),
                name.clone(),
                validity,
                name,
                spki,
            ]
            .concat(),
        );
        let mut sig = vec![0x00];
        sig.extend_from_slice(&[0x5A; 256]);
        tlv(0x30, &[tbs, sha256_rsa, tlv(0x03, &sig)].concat())
    }

    fn token(label: &[u8]) -> Vec<u8> {
        let mut t = label.to_vec();
        t.resize(32, b' ');
        t
    }

    /// READ BINARY steps serving `file` the way `Sizing::Tlv` reads it (256-byte steps).
    fn reads(file: &[u8]) -> Vec<Step<'static>> {
        let mut steps = Vec::new();
        let mut at = 0;
        while at < file.len() {
            let n = (file.len() - at).min(256);
            steps.push((READ, data(&file[at..at + n])));
            at += n;
        }
        steps
    }

    fn identify_script(label: &[u8], pin_sw: u16) -> (ScriptedCard, Vec<u8>) {
        let c = cert();
        let mut steps: Vec<Step<'_>> = vec![
            (SELECT_JPKI, ok()),
            (SELECT_TOKEN, ok()),
            (READ, data(&token(label))),
            (SELECT_PIN, ok()),
            (VERIFY_STATUS, sw(pin_sw)),
            (SELECT_CERT, ok()),
        ];
        steps.extend(reads(&c));
        (script(steps), c)
    }

    #[test]
    fn identify_reads_kind_certificate_expiry_and_pin_state() {
        let (mut card, c) = identify_script(b"JPKIAPICCTOKEN2", 0x63C3);
        let mut buf = [0u8; BUFFER_LEN];
        let reply = run(&mut card, CardOp::Identify, &mut buf);
        card.finish();
        // 2027-02-20T23:59:59Z
        let expected = (20_869 * 86_400) + 86_399;
        assert_eq!(
            reply,
            CardReply::Identified {
                kind: CardKind::PhysicalCard,
                auth_cert: &c,
                not_after_unix_s: expected,
                pin: PinState::TriesLeft(3)
            }
        );
    }

    #[test]
    fn identify_maps_token_kinds_and_locked_pins() {
        for (label, sw_, kind, pin) in [
            (&b"JPKIAPGPSETOKEN"[..], 0x63C2, CardKind::Android, PinState::TriesLeft(2)),
            (b"JPKIAPIOSTOKEN", 0x63C3, CardKind::IPhone, PinState::TriesLeft(3)),
            (b"JPKIAPICCTOKEN2", 0x6984, CardKind::PhysicalCard, PinState::Unavailable),
            (b"JPKIAPICCTOKEN2", 0x63C0, CardKind::PhysicalCard, PinState::Unavailable),
            (b"SOMETHINGELSE", 0x63C3, CardKind::Unknown, PinState::TriesLeft(3)),
        ] {
            let (mut card, _) = identify_script(label, sw_);
            let mut buf = [0u8; BUFFER_LEN];
            match run(&mut card, CardOp::Identify, &mut buf) {
                CardReply::Identified { kind: k, pin: p, .. } => assert_eq!((k, p), (kind, pin)),
                other => panic!("{other:?}"),
            }
        }
    }

    /// An identify that gets as far as selecting the auth certificate of a card whose token
    /// names it `token`, PIN tries 3.
    fn up_to_the_certificate(token_name: &[u8]) -> Vec<Step<'static>> {
        vec![
            (SELECT_JPKI, ok()),
            (SELECT_TOKEN, ok()),
            (READ, data(&token(token_name))),
            (SELECT_PIN, ok()),
            (VERIFY_STATUS, sw(0x63C3)),
            (SELECT_CERT, ok()),
        ]
    }

    #[test]
    fn identify_failures() {
        // No JPKI applet.
        assert_eq!(
            run(&mut script(vec![(SELECT_JPKI, sw(0x6A82))]), CardOp::Identify, &mut [0u8; BUFFER_LEN]),
            CardReply::Failed { error: CardFailure::NotMyNumberCard }
        );
        // The card leaves during the certificate read.
        let mut steps = up_to_the_certificate(b"JPKIAPICCTOKEN2");
        steps.push((READ, Err(LinkError::Dropped)));
        assert_eq!(
            run(&mut script(steps), CardOp::Identify, &mut [0u8; BUFFER_LEN]),
            CardReply::Failed { error: CardFailure::Lost }
        );
        // Certificate behind the PIN (Android): identified without it, read after VERIFY.
        let mut steps = up_to_the_certificate(b"JPKIAPGPSETOKEN");
        steps.push((READ, sw(0x6982)));
        assert_eq!(
            run(&mut script(steps), CardOp::Identify, &mut [0u8; BUFFER_LEN]),
            CardReply::Identified {
                kind: CardKind::Android,
                auth_cert: &[],
                not_after_unix_s: 0,
                pin: PinState::TriesLeft(3)
            }
        );
        // The same refusal on a physical card is a protocol failure.
        let mut steps = up_to_the_certificate(b"JPKIAPICCTOKEN2");
        steps.push((READ, sw(0x6982)));
        assert_eq!(
            run(&mut script(steps), CardOp::Identify, &mut [0u8; BUFFER_LEN]),
            CardReply::Failed { error: CardFailure::Protocol }
        );
        // A certificate that does not parse.
        let mut steps = up_to_the_certificate(b"JPKIAPICCTOKEN2");
        steps.extend(reads(&[0x30, 0x03, 0x02, 0x01, 0x00]));
        assert_eq!(
            run(&mut script(steps), CardOp::Identify, &mut [0u8; BUFFER_LEN]),
            CardReply::Failed { error: CardFailure::Protocol }
        );
    }

    fn pin() -> Pin4 {
        Pin4::from_keypad([1, 2, 3, 4]).unwrap()
    }

    #[test]
    fn verify_pin_outcomes() {
        let cases: [(u16, u16, CardReply<'static>); 4] = [
            (0x63C3, 0x9000, CardReply::PinVerified),
            (0x63C3, 0x63C2, CardReply::PinWrong { tries_left: 2 }),
            (0x63C2, 0x63C0, CardReply::PinWrong { tries_left: 0 }),
            (0x63C2, 0x6984, CardReply::PinLocked),
        ];
        for (status, answer, expected) in cases {
            let mut card = script(vec![
                (SELECT_JPKI, ok()),
                (SELECT_PIN, ok()),
                (VERIFY_STATUS, sw(status)),
                (VERIFY_1234, sw(answer)),
            ]);
            let reply = run(&mut card, CardOp::VerifyPin { pin: pin(), last_try_confirmed: false }, &mut []);
            card.finish();
            assert_eq!(reply, expected);
        }
    }

    #[test]
    fn a_locked_pin_is_never_sent() {
        let mut card = script(vec![(SELECT_JPKI, ok()), (SELECT_PIN, ok()), (VERIFY_STATUS, sw(0x63C0))]);
        let reply = run(&mut card, CardOp::VerifyPin { pin: pin(), last_try_confirmed: true }, &mut []);
        card.finish();
        assert_eq!(reply, CardReply::PinLocked);
    }

    #[test]
    fn the_last_try_needs_the_holders_confirmation() {
        // Not confirmed: nothing sent beyond the status query.
        let mut card = script(vec![(SELECT_JPKI, ok()), (SELECT_PIN, ok()), (VERIFY_STATUS, sw(0x63C1))]);
        let reply = run(&mut card, CardOp::VerifyPin { pin: pin(), last_try_confirmed: false }, &mut []);
        card.finish();
        assert_eq!(reply, CardReply::Failed { error: CardFailure::Protocol });
        // Confirmed: the status is asked (for the token) and the PIN goes out.
        let mut card = script(vec![
            (SELECT_JPKI, ok()),
            (SELECT_PIN, ok()),
            (VERIFY_STATUS, sw(0x63C1)),
            (SELECT_PIN, ok()),
            (VERIFY_STATUS, sw(0x63C1)),
            (VERIFY_1234, sw(0x63C0)),
        ]);
        let reply = run(&mut card, CardOp::VerifyPin { pin: pin(), last_try_confirmed: true }, &mut []);
        card.finish();
        assert_eq!(reply, CardReply::PinWrong { tries_left: 0 });
    }

    #[test]
    fn verify_pin_transport_loss() {
        let mut card =
            script(vec![(SELECT_JPKI, ok()), (SELECT_PIN, ok()), (VERIFY_STATUS, Err(LinkError::Dropped))]);
        let reply = run(&mut card, CardOp::VerifyPin { pin: pin(), last_try_confirmed: false }, &mut []);
        assert_eq!(reply, CardReply::Failed { error: CardFailure::Lost });
    }

    #[test]
    fn sign_challenge_without_reselecting_the_applet() {
        let challenge = [7u8; 32];
        let hash: [u8; 32] = Sha256::digest(challenge).into();
        let mut expected_cmd = SIGN.to_vec();
        expected_cmd.extend_from_slice(&sha256_digest_info(&hash));
        let signature: Vec<u8> = (0..=255u8).collect();
        let mut card = script(vec![(SELECT_KEY, ok()), (&expected_cmd, data(&signature))]);
        let mut buf = [0u8; BUFFER_LEN];
        let reply = run(&mut card, CardOp::SignChallenge { challenge }, &mut buf);
        card.finish();
        assert_eq!(reply, CardReply::Signed { signature: &signature });

        // PIN not verified in this selection.
        let mut card = script(vec![(SELECT_KEY, ok()), (SIGN, sw(0x6982))]);
        let reply = run(&mut card, CardOp::SignChallenge { challenge }, &mut buf);
        assert_eq!(reply, CardReply::Failed { error: CardFailure::Protocol });
        // A short answer.
        let mut card = script(vec![(SELECT_KEY, ok()), (SIGN, data(&[1, 2, 3]))]);
        let reply = run(&mut card, CardOp::SignChallenge { challenge }, &mut buf);
        assert_eq!(reply, CardReply::Failed { error: CardFailure::Protocol });
        // No room for the signature.
        let mut card = script(vec![]);
        let mut small = [0u8; 16];
        let reply = run(&mut card, CardOp::SignChallenge { challenge }, &mut small);
        assert_eq!(reply, CardReply::Failed { error: CardFailure::Protocol });
    }

    #[test]
    fn a_card_stalling_with_wtx_fails_each_operation_as_lost_within_the_budget() {
        use crate::nfc::iso_dep::{IsoDep, IsoDepParams, FWT_DELTA, WTX_BUDGET};
        use crate::nfc::testing::WtxStaller;
        // My Number card parameters (FWI 10, FSC 256); the card answers every block with
        // S(WTX) of WTXM 59, i.e. FWT(14) ≈ 4.95 s each time, for ever.
        let params = IsoDepParams { fsc: 256, fwi: 10, cid: None, nad_supported: false };
        let ops = [
            CardOp::Identify,
            CardOp::VerifyPin { pin: pin(), last_try_confirmed: false },
            CardOp::ReadCertificate,
            CardOp::SignChallenge { challenge: [7; 32] },
        ];
        for op in ops {
            let mut link = IsoDep::new(WtxStaller::new(59), params);
            let mut buf = [0u8; BUFFER_LEN];
            let reply = run(&mut link, op, &mut buf);
            assert_eq!(reply, CardReply::Failed { error: CardFailure::Lost });
            // One exchange's FWT and the WTX budget, not minutes.
            let first = crate::nfc::frontend::fwt_from_fwi(10).saturating_add(FWT_DELTA);
            let waited = link.frontend().total_fc();
            assert!(
                waited <= first.as_fc() as u64 + WTX_BUDGET.as_fc() as u64,
                "waited {} ms",
                waited / 13_560
            );
        }
    }
}
