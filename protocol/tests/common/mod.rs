//! Builds one message of every type from owned random fields, for round-trip tests.
#![allow(dead_code)]

use proptest::prelude::*;
use shikaku_protocol::message::*;

/// Owned material a message borrows from.
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    pub which: usize,
    pub blob: Vec<u8>,
    pub blob2: Vec<u8>,
    pub text: String,
    pub text2: String,
    pub text3: String,
    pub a16: [u8; 16],
    pub a32: [u8; 32],
    pub b32: [u8; 32],
    pub n8: u8,
    pub n16: u16,
    pub n32: u32,
    pub n64: u64,
    pub m64: u64,
    pub flag: bool,
    pub e: [u8; 8],
}

pub(crate) const MESSAGE_TYPES: usize = 32;

fn text() -> impl Strategy<Value = String> {
    // Includes characters outside JIS X 0208 (髙, 﨑) and multi-byte UTF-8; at most 255 bytes.
    prop::collection::vec(
        prop_oneof![Just('a'), Just('髙'), Just('﨑'), Just('0'), Just('-'), any::<char>()],
        0..60,
    )
    .prop_map(|cs| {
        let mut s = String::new();
        for c in cs {
            if s.len() + c.len_utf8() <= shikaku_protocol::MAX_TEXT {
                s.push(c);
            }
        }
        s
    })
}

pub(crate) fn fields() -> impl Strategy<Value = Fields> {
    (
        0..MESSAGE_TYPES,
        prop::collection::vec(any::<u8>(), 0..1800),
        prop::collection::vec(any::<u8>(), 0..300),
        (text(), text(), text()),
        (any::<[u8; 16]>(), any::<[u8; 32]>(), any::<[u8; 32]>()),
        (any::<u8>(), any::<u16>(), any::<u32>(), any::<u64>(), any::<u64>(), any::<bool>()),
        any::<[u8; 8]>(),
    )
        .prop_map(
            |(
                which,
                blob,
                blob2,
                (text, text2, text3),
                (a16, a32, b32),
                (n8, n16, n32, n64, m64, flag),
                e,
            )| {
                Fields {
                    which,
                    blob,
                    blob2,
                    text,
                    text2,
                    text3,
                    a16,
                    a32,
                    b32,
                    n8,
                    n16,
                    n32,
                    n64,
                    m64,
                    flag,
                    e,
                }
            },
        )
}

fn pick<T: Copy>(all: &[T], i: u8) -> T {
    all[i as usize % all.len()]
}

pub(crate) fn consents(e: &[u8; 8]) -> Consents {
    Consents {
        medication: pick(ConsentAnswer::ALL, e[0]),
        health_checkup: pick(ConsentAnswer::ALL, e[1]),
        treatment: pick(ConsentAnswer::ALL, e[2]),
        surgery: pick(ConsentAnswer::ALL, e[3]),
        comprehensive: pick(ConsentAnswer::ALL, e[4]),
    }
}

/// The message of type number `f.which` (0..MESSAGE_TYPES), borrowing from `f`.
pub(crate) fn build(f: &Fields) -> Message<'_> {
    let e = &f.e;
    let expiry = if f.flag { CertExpiry::DaysLeft(f.n16) } else { CertExpiry::DaysPast(f.n16) };
    match f.which {
        0 => Message::ReaderHello {
            firmware: FirmwareVersion { major: e[0], minor: e[1], patch: e[2], build: &f.text },
            serial: &f.text2,
            model: &f.text3,
            capabilities: Capabilities(f.n32),
            max_payload: f.n16,
            nonce: f.a16,
            key_check: f.b32[..16].try_into().unwrap(),
        },
        1 => Message::PairResponse { reader_public: f.a32, reader_nonce: f.a16, confirm: f.a16 },
        2 => Message::CardDetected { kind: pick(CardKind::ALL, e[0]) },
        3 => Message::CardRemoved,
        4 => Message::AuthModesOffered {
            modes: AuthModes::EMPTY.with(pick(AuthMethod::ALL, e[0])).with(pick(AuthMethod::ALL, e[1])),
        },
        5 => Message::AuthModeChosen { method: pick(AuthMethod::ALL, e[0]) },
        6 => Message::PinOutcome { result: pick(PinResult::ALL, e[0]), tries_left: f.n8 },
        7 => Message::VisualModeStarted { staff_account: &f.text },
        8 => Message::VisualModeStopped { reason: pick(VisualStopReason::ALL, e[0]) },
        9 => Message::VisualUnlockFailed { failures: f.n8, locked_for_ms: f.n32 },
        10 => Message::FaceProgress { stage: pick(FaceStage::ALL, e[0]), attempt: f.n8 },
        11 => Message::FaceOutcome {
            decision: pick(FaceDecision::ALL, e[0]),
            score_milli: f.n16,
            attempts: f.n8,
        },
        12 => Message::ConsentAnswers { consents: consents(e) },
        13 => Message::CertExpiryNotice { expiry },
        14 => Message::VerifiedIdentity(VerifiedIdentity {
            auth_cert: &f.blob,
            proof: if e[5].is_multiple_of(2) {
                Proof::CardSignature { challenge: f.a32, signature: &f.blob2 }
            } else {
                Proof::ReaderAttestation { challenge: f.b32, attestation: &f.blob2 }
            },
            method: pick(AuthMethod::ALL, e[0]),
            card_kind: pick(CardKind::ALL, e[1]),
            consents: consents(e),
            staff_account: if e[6].is_multiple_of(2) { Some(&f.text) } else { None },
            registration: f.flag,
            cert_expiry: expiry,
            card_detected_at: f.n64,
            verified_at: f.m64,
        }),
        15 => Message::DiagnosticsReport {
            uptime_s: f.n32,
            nfc: pick(SelfTest::ALL, e[0]),
            camera: pick(SelfTest::ALL, e[1]),
            clock_ms: f.n64,
            frames_rx: f.n32,
            frames_rejected: f.n32 ^ 0x5555,
        },
        16 => Message::HostHello { driver_version: &f.text, nonce: f.a16 },
        17 => Message::PairRequest { host_public: f.a32, host_nonce: f.a16 },
        18 => Message::PairConfirm { confirm: f.a16 },
        19 => Message::TimeSync { unix_ms: f.n64 },
        20 => Message::PasscodeProvision { account: &f.text, salt: f.a16, iterations: f.n32, hash: f.a32 },
        21 => Message::PasscodeRevoke { account: &f.text },
        22 => Message::HostChallenge { challenge: f.a32 },
        23 => Message::DiagnosticsRequest,
        24 => Message::Ack { session: f.n32, seq: f.n32.rotate_left(7) },
        25 => Message::Error { code: ErrorCode(f.n16), remedy: pick(Remedy::ALL, e[0]), detail: &f.text },
        26 => Message::Cancel { reason: pick(CancelReason::ALL, e[0]) },
        27 => Message::CertificateRead { auth_cert: &f.blob },
        28 => Message::PairResult { outcome: pick(PairOutcome::ALL, e[0]), proof: f.a16 },
        29 => Message::PasscodeResult { account: &f.text, outcome: pick(PasscodeOutcome::ALL, e[0]) },
        30 => Message::LinkReady,
        _ => Message::RegistrationStatus { registered: f.flag },
    }
}
