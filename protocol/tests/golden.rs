//! Golden frames: the reader↔host wire format, pinned byte for byte.
//!
//! The round-trip tests prove that what the encoder writes the decoder reads back; they pass
//! just as well after a field is reordered, widened or renumbered on both sides at once. But
//! readers in the field keep the firmware they were flashed with and hosts update on their own
//! schedule, so such a change breaks deployed pairs while every round trip stays green. This
//! file is the check that does not move with the code: one fixed frame per message type,
//! written out as literal bytes.
//!
//! **A wire change is a deliberate act with a version bump.** When a test here fails, either the
//! change was a mistake (fix the code), or it is meant: then change the protocol version
//! (`VERSION_MAJOR` / `VERSION_MINOR` in `protocol/src/lib.rs`: a minor bump only for fields
//! appended at the end of a payload, a major one for anything else) and these vectors together,
//! in the same commit. The version byte is in every vector, so a bump alone fails here too until
//! the vectors follow it.
//!
//! Frame layout (`protocol/src/frame.rs`), integers little-endian:
//!
//! ```text
//! offset size field
//!  0     2    marker "SK" (53 4b)
//!  2     1    version: major << 4 | minor (20 = 2.0)
//!  3     1    flags: bit 0 = sealed (payload encrypted, AEAD trailer present)
//!  4     1    message type
//!  5     4    session id
//!  9     4    sequence number
//! 13     2    payload length n
//! 15     2    header CRC-16/IBM-3740 over bytes 0..15
//! 17     n    payload: fields in declaration order; text = u8 length + UTF-8,
//!             blob = u16 length + bytes, enums = their u8 wire number
//!  +    20    if sealed: counter (u32, the nonce) + Poly1305 tag (16 bytes); the payload
//!             is then ChaCha20 ciphertext and the 17 header bytes are the associated data
//!  +     4    CRC-32/ISO-HDLC over everything before it
//! ```
//!
//! Each vector is one string of spaced hex per field, in wire order, with a comment naming the
//! field. `GOLDEN` holds unsecured frames, session 0x1A2B3C4D and sequence 0x05060708, written by
//! the plain frame encoder (most types may not travel unsecured on a `Link`; the pairing ones are
//! checked through an unsecured `Link` as well). `SECURED` holds the first frame each side sends
//! after `Link::secure` with `LinkKeys::derive` from a fixed pairing key and fixed nonces, so its
//! MAC trailer (counter 1, tag) pins the key derivation and the MAC too.
//!
//! The CRCs, keys and tags below were also recomputed with an independent implementation
//! (Python's `zlib` and the `cryptography` package's HKDF and ChaCha20Poly1305) when the
//! vectors were written (protocol 2.0). To renew them after a
//! deliberate change, print the encoder's output for each entry, compare it field by field with
//! the change you meant, and paste it here.

mod common;

use std::collections::BTreeSet;

use shikaku_protocol::auth::{LinkKeys, PairingKey};
use shikaku_protocol::frame::{self, Header, TAG_LEN};
use shikaku_protocol::message::*;
use shikaku_protocol::{Error, Frame, Link, Role, MAX_FRAME};

/// Session id in the header of every golden frame.
const SESSION: u32 = 0x1A2B_3C4D;
/// Sequence number in the header of every golden frame.
const SEQ: u32 = 0x0506_0708;

/// `N` consecutive byte values from `start`: fixed, and no two neighbours alike, so a shifted,
/// truncated or reordered field shows.
const fn ramp<const N: usize>(start: u8) -> [u8; N] {
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = start.wrapping_add(i as u8);
        i += 1;
    }
    out
}

const PAIRING_KEY: [u8; 32] = ramp(0x80);
const HOST_NONCE: [u8; 16] = ramp(0x10);
const READER_NONCE: [u8; 16] = ramp(0x30);
const CHALLENGE: [u8; 32] = ramp(0xA0);
/// The start of a DER certificate; the protocol carries it as opaque bytes.
const AUTH_CERT: &[u8] = &[0x30, 0x82, 0x04, 0xD2, 0x30, 0x82, 0x03, 0xBA, 0xA0, 0x03, 0x02, 0x01];
const SIGNATURE: [u8; 16] = ramp(0x50);
const ATTESTATION: [u8; 32] = ramp(0xE0);
/// 髙 and 﨑 take 3 bytes each in UTF-8: a text's length prefix counts bytes, not characters.
const STAFF: &str = "髙﨑-staff01";
/// On the wire: 01 02 03 00 01 (medication, health checkup, treatment, surgery, comprehensive).
const CONSENTS: Consents = Consents {
    medication: ConsentAnswer::Agreed,
    health_checkup: ConsentAnswer::Declined,
    treatment: ConsentAnswer::Skipped,
    surgery: ConsentAnswer::NotAsked,
    comprehensive: ConsentAnswer::Agreed,
};

/// Pinned both unsecured and secured (a reader→host result).
const FACE_OUTCOME: Message<'static> =
    Message::FaceOutcome { decision: FaceDecision::Match, score_milli: 873, attempts: 2 };
/// Pinned both unsecured and secured (a host→reader message).
const HOST_CHALLENGE: Message<'static> = Message::HostChallenge { challenge: CHALLENGE };

/// A message and the exact frame it is on the wire.
struct Golden {
    msg: Message<'static>,
    wire: &'static [&'static str],
}

/// One unsecured frame per message type (two for `VerifiedIdentity`, one per kind of proof).
const GOLDEN: &[Golden] = &[
    Golden {
        msg: Message::ReaderHello {
            firmware: FirmwareVersion { major: 2, minor: 7, patch: 13, build: "g3f9a1c2" },
            serial: "SK-0042-1337",
            model: "SHK-200",
            capabilities: Capabilities(
                Capabilities::FACE
                    | Capabilities::PIN_KEYPAD
                    | Capabilities::VISUAL_MODE
                    | Capabilities::NFC_TYPE_B
                    | Capabilities::DISPLAY
                    | Capabilities::CAMERA
                    | Capabilities::ATTESTATION,
            ),
            max_payload: 3072,
            nonce: READER_NONCE,
            key_check: ramp(0xC0),
        },
        wire: &[
            "53 4b",                                           // marker "SK"
            "20",                                              // version 2.0
            "00",                                              // flags: none (not sealed)
            "01",                                              // type: 0x01 ReaderHello
            "4d 3c 2b 1a",                                     // session: 0x1A2B3C4D
            "08 07 06 05",                                     // seq: 0x05060708
            "47 00",                                           // length: 71
            "56 91",                                           // header CRC-16
            "02 07 0d",                                        // firmware: major 2, minor 7, patch 13
            "08",                                              // firmware.build: length 8
            "67 33 66 39 61 31 63 32",                         // firmware.build: "g3f9a1c2"
            "0c",                                              // serial: length 12
            "53 4b 2d 30 30 34 32 2d 31 33 33 37",             // serial: "SK-0042-1337"
            "07",                                              // model: length 7
            "53 48 4b 2d 32 30 30",                            // model: "SHK-200"
            "f7 00 00 00",                                     // capabilities: 0x000000F7 (u32)
            "00 0c",                                           // max_payload: 3072 (u16)
            "30 31 32 33 34 35 36 37 38 39 3a 3b 3c 3d 3e 3f", // nonce
            "c0 c1 c2 c3 c4 c5 c6 c7 c8 c9 ca cb cc cd ce cf", // key_check
            "43 13 ae 26",                                     // CRC-32
        ],
    },
    Golden {
        msg: Message::PairResponse {
            reader_public: ramp(0x20),
            reader_nonce: READER_NONCE,
            confirm: ramp(0xD0),
        },
        wire: &[
            "53 4b",                                           // marker "SK"
            "20",                                              // version 2.0
            "00",                                              // flags: none (not sealed)
            "02",                                              // type: 0x02 PairResponse
            "4d 3c 2b 1a",                                     // session: 0x1A2B3C4D
            "08 07 06 05",                                     // seq: 0x05060708
            "40 00",                                           // length: 64
            "3b 70",                                           // header CRC-16
            "20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f", // reader_public [0..16]
            "30 31 32 33 34 35 36 37 38 39 3a 3b 3c 3d 3e 3f", // reader_public [16..32]
            "30 31 32 33 34 35 36 37 38 39 3a 3b 3c 3d 3e 3f", // reader_nonce
            "d0 d1 d2 d3 d4 d5 d6 d7 d8 d9 da db dc dd de df", // confirm
            "15 9b db a4",                                     // CRC-32
        ],
    },
    Golden {
        msg: Message::CardDetected { kind: CardKind::PinlessCard },
        wire: &[
            "53 4b",       // marker "SK"
            "20",          // version 2.0
            "00",          // flags: none (not sealed)
            "03",          // type: 0x03 CardDetected
            "4d 3c 2b 1a", // session: 0x1A2B3C4D
            "08 07 06 05", // seq: 0x05060708
            "01 00",       // length: 1
            "8f 96",       // header CRC-16
            "04",          // kind: PinlessCard (4)
            "fd 11 ed 91", // CRC-32
        ],
    },
    Golden {
        msg: Message::CardRemoved,
        wire: &[
            "53 4b",       // marker "SK"
            "20",          // version 2.0
            "00",          // flags: none (not sealed)
            "04",          // type: 0x04 CardRemoved
            "4d 3c 2b 1a", // session: 0x1A2B3C4D
            "08 07 06 05", // seq: 0x05060708
            "00 00",       // length: 0
            "03 8c",       // header CRC-16
            "6c 55 8c 29", // CRC-32
        ],
    },
    Golden {
        msg: Message::AuthModesOffered {
            modes: AuthModes::EMPTY.with(AuthMethod::Face).with(AuthMethod::Pin).with(AuthMethod::Visual),
        },
        wire: &[
            "53 4b",       // marker "SK"
            "20",          // version 2.0
            "00",          // flags: none (not sealed)
            "05",          // type: 0x05 AuthModesOffered
            "4d 3c 2b 1a", // session: 0x1A2B3C4D
            "08 07 06 05", // seq: 0x05060708
            "01 00",       // length: 1
            "7b 67",       // header CRC-16
            "07",          // modes: Face | Pin | Visual (bits 0..=2)
            "01 00 4c 4f", // CRC-32
        ],
    },
    Golden {
        msg: Message::AuthModeChosen { method: AuthMethod::Visual },
        wire: &[
            "53 4b",       // marker "SK"
            "20",          // version 2.0
            "00",          // flags: none (not sealed)
            "06",          // type: 0x06 AuthModeChosen
            "4d 3c 2b 1a", // session: 0x1A2B3C4D
            "08 07 06 05", // seq: 0x05060708
            "01 00",       // length: 1
            "81 1f",       // header CRC-16
            "03",          // method: Visual (3)
            "3b e4 f5 6b", // CRC-32
        ],
    },
    Golden {
        msg: Message::PinOutcome { result: PinResult::Wrong, tries_left: 2 },
        wire: &[
            "53 4b",       // marker "SK"
            "20",          // version 2.0
            "00",          // flags: none (not sealed)
            "07",          // type: 0x07 PinOutcome
            "4d 3c 2b 1a", // session: 0x1A2B3C4D
            "08 07 06 05", // seq: 0x05060708
            "02 00",       // length: 2
            "9b 92",       // header CRC-16
            "02",          // result: Wrong (2)
            "02",          // tries_left: 2
            "4e 35 51 7d", // CRC-32
        ],
    },
    Golden {
        msg: Message::VisualModeStarted { staff_account: STAFF },
        wire: &[
            "53 4b",                                     // marker "SK"
            "20",                                        // version 2.0
            "00",                                        // flags: none (not sealed)
            "08",                                        // type: 0x08 VisualModeStarted
            "4d 3c 2b 1a",                               // session: 0x1A2B3C4D
            "08 07 06 05",                               // seq: 0x05060708
            "0f 00",                                     // length: 15
            "f4 6f",                                     // header CRC-16
            "0e",                                        // staff_account: length 14 (bytes)
            "e9 ab 99 ef a8 91 2d 73 74 61 66 66 30 31", // staff_account: "髙﨑-staff01" (UTF-8)
            "02 30 d0 fb",                               // CRC-32
        ],
    },
    Golden {
        msg: Message::VisualModeStopped { reason: VisualStopReason::CardRemoved },
        wire: &[
            "53 4b",       // marker "SK"
            "20",          // version 2.0
            "00",          // flags: none (not sealed)
            "09",          // type: 0x09 VisualModeStopped
            "4d 3c 2b 1a", // session: 0x1A2B3C4D
            "08 07 06 05", // seq: 0x05060708
            "01 00",       // length: 1
            "b2 94",       // header CRC-16
            "04",          // reason: CardRemoved (4)
            "27 df 5f 5d", // CRC-32
        ],
    },
    Golden {
        msg: Message::VisualUnlockFailed { failures: 3, locked_for_ms: 300_000 },
        wire: &[
            "53 4b",       // marker "SK"
            "20",          // version 2.0
            "00",          // flags: none (not sealed)
            "0a",          // type: 0x0A VisualUnlockFailed
            "4d 3c 2b 1a", // session: 0x1A2B3C4D
            "08 07 06 05", // seq: 0x05060708
            "05 00",       // length: 5
            "8c 20",       // header CRC-16
            "03",          // failures: 3
            "e0 93 04 00", // locked_for_ms: 300000 (u32)
            "c3 0b 86 83", // CRC-32
        ],
    },
    Golden {
        msg: Message::FaceProgress { stage: FaceStage::LivenessCheck, attempt: 2 },
        wire: &[
            "53 4b",       // marker "SK"
            "20",          // version 2.0
            "00",          // flags: none (not sealed)
            "0b",          // type: 0x0B FaceProgress
            "4d 3c 2b 1a", // session: 0x1A2B3C4D
            "08 07 06 05", // seq: 0x05060708
            "02 00",       // length: 2
            "52 61",       // header CRC-16
            "05",          // stage: LivenessCheck (5)
            "02",          // attempt: 2
            "68 66 22 cb", // CRC-32
        ],
    },
    Golden {
        msg: FACE_OUTCOME,
        wire: &[
            "53 4b",       // marker "SK"
            "20",          // version 2.0
            "00",          // flags: none (not sealed)
            "0c",          // type: 0x0C FaceOutcome
            "4d 3c 2b 1a", // session: 0x1A2B3C4D
            "08 07 06 05", // seq: 0x05060708
            "04 00",       // length: 4
            "49 e2",       // header CRC-16
            "01",          // decision: Match (1)
            "69 03",       // score_milli: 873 (u16)
            "02",          // attempts: 2
            "b0 30 45 3f", // CRC-32
        ],
    },
    Golden {
        msg: Message::ConsentAnswers { consents: CONSENTS },
        wire: &[
            "53 4b",          // marker "SK"
            "20",             // version 2.0
            "00",             // flags: none (not sealed)
            "0d",             // type: 0x0D ConsentAnswers
            "4d 3c 2b 1a",    // session: 0x1A2B3C4D
            "08 07 06 05",    // seq: 0x05060708
            "05 00",          // length: 5
            "31 09",          // header CRC-16
            "01 02 03 00 01", // consents: Agreed, Declined, Skipped, NotAsked, Agreed
            "88 ec 67 eb",    // CRC-32
        ],
    },
    Golden {
        msg: Message::CertExpiryNotice { expiry: CertExpiry::DaysLeft(61) },
        wire: &[
            "53 4b",       // marker "SK"
            "20",          // version 2.0
            "00",          // flags: none (not sealed)
            "0e",          // type: 0x0E CertExpiryNotice
            "4d 3c 2b 1a", // session: 0x1A2B3C4D
            "08 07 06 05", // seq: 0x05060708
            "03 00",       // length: 3
            "6d db",       // header CRC-16
            "00",          // expiry: DaysLeft (0)
            "3d 00",       // expiry: 61 days (u16)
            "5d 9b 25 42", // CRC-32
        ],
    },
    Golden {
        msg: Message::VerifiedIdentity(VerifiedIdentity {
            auth_cert: AUTH_CERT,
            proof: Proof::CardSignature { challenge: CHALLENGE, signature: &SIGNATURE },
            method: AuthMethod::Pin,
            card_kind: CardKind::PhysicalCard,
            consents: CONSENTS,
            staff_account: None,
            registration: true,
            cert_expiry: CertExpiry::DaysLeft(1234),
            card_detected_at: 1_760_000_000_123,
            verified_at: 1_760_000_004_567,
        }),
        wire: &[
            "53 4b",                                           // marker "SK"
            "20",                                              // version 2.0
            "00",                                              // flags: none (not sealed)
            "0f",                                              // type: 0x0F VerifiedIdentity
            "4d 3c 2b 1a",                                     // session: 0x1A2B3C4D
            "08 07 06 05",                                     // seq: 0x05060708
            "5d 00",                                           // length: 93
            "94 2e",                                           // header CRC-16
            "0c 00",                                           // auth_cert: length 12 (u16)
            "30 82 04 d2 30 82 03 ba a0 03 02 01",             // auth_cert: DER bytes
            "01",                                              // proof: CardSignature (1)
            "a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 aa ab ac ad ae af", // proof.challenge [0..16]
            "b0 b1 b2 b3 b4 b5 b6 b7 b8 b9 ba bb bc bd be bf", // proof.challenge [16..32]
            "10 00",                                           // proof.signature: length 16 (u16)
            "50 51 52 53 54 55 56 57 58 59 5a 5b 5c 5d 5e 5f", // proof.signature
            "02",                                              // method: Pin (2)
            "01",                                              // card_kind: PhysicalCard (1)
            "01 02 03 00 01",                                  // consents
            "00",                                              // staff_account: None (0)
            "01",                                              // registration: true
            "00",                                              // cert_expiry: DaysLeft (0)
            "d2 04",                                           // cert_expiry: 1234 days (u16)
            "7b c0 2c c8 99 01 00 00",                         // card_detected_at: 1760000000123 (u64)
            "d7 d1 2c c8 99 01 00 00",                         // verified_at: 1760000004567 (u64)
            "26 a3 a8 af",                                     // CRC-32
        ],
    },
    Golden {
        msg: Message::VerifiedIdentity(VerifiedIdentity {
            auth_cert: AUTH_CERT,
            proof: Proof::ReaderAttestation { challenge: CHALLENGE, attestation: &ATTESTATION },
            method: AuthMethod::Visual,
            card_kind: CardKind::PinlessCard,
            consents: CONSENTS,
            staff_account: Some(STAFF),
            registration: false,
            cert_expiry: CertExpiry::DaysPast(30),
            card_detected_at: 1_760_000_000_123,
            verified_at: 1_760_000_004_567,
        }),
        wire: &[
            "53 4b",                                           // marker "SK"
            "20",                                              // version 2.0
            "00",                                              // flags: none (not sealed)
            "0f",                                              // type: 0x0F VerifiedIdentity
            "4d 3c 2b 1a",                                     // session: 0x1A2B3C4D
            "08 07 06 05",                                     // seq: 0x05060708
            "7c 00",                                           // length: 124
            "43 1b",                                           // header CRC-16
            "0c 00",                                           // auth_cert: length 12 (u16)
            "30 82 04 d2 30 82 03 ba a0 03 02 01",             // auth_cert: DER bytes
            "02",                                              // proof: ReaderAttestation (2)
            "a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 aa ab ac ad ae af", // proof.challenge [0..16]
            "b0 b1 b2 b3 b4 b5 b6 b7 b8 b9 ba bb bc bd be bf", // proof.challenge [16..32]
            "20 00",                                           // proof.attestation: length 32 (u16)
            "e0 e1 e2 e3 e4 e5 e6 e7 e8 e9 ea eb ec ed ee ef", // proof.attestation [0..16]
            "f0 f1 f2 f3 f4 f5 f6 f7 f8 f9 fa fb fc fd fe ff", // proof.attestation [16..32]
            "03",                                              // method: Visual (3)
            "04",                                              // card_kind: PinlessCard (4)
            "01 02 03 00 01",                                  // consents
            "01",                                              // staff_account: Some (1)
            "0e",                                              // staff_account: length 14
            "e9 ab 99 ef a8 91 2d 73 74 61 66 66 30 31",       // staff_account: "髙﨑-staff01"
            "00",                                              // registration: false
            "01",                                              // cert_expiry: DaysPast (1)
            "1e 00",                                           // cert_expiry: 30 days (u16)
            "7b c0 2c c8 99 01 00 00",                         // card_detected_at: 1760000000123 (u64)
            "d7 d1 2c c8 99 01 00 00",                         // verified_at: 1760000004567 (u64)
            "d1 0a 41 40",                                     // CRC-32
        ],
    },
    Golden {
        msg: Message::DiagnosticsReport {
            uptime_s: 86_461,
            nfc: SelfTest::Passed,
            camera: SelfTest::Failed,
            clock_ms: 1_760_000_000_000,
            frames_rx: 12_345,
            frames_rejected: 7,
        },
        wire: &[
            "53 4b",                   // marker "SK"
            "20",                      // version 2.0
            "00",                      // flags: none (not sealed)
            "10",                      // type: 0x10 DiagnosticsReport
            "4d 3c 2b 1a",             // session: 0x1A2B3C4D
            "08 07 06 05",             // seq: 0x05060708
            "16 00",                   // length: 22
            "ac 21",                   // header CRC-16
            "bd 51 01 00",             // uptime_s: 86461 (u32)
            "01",                      // nfc: Passed (1)
            "02",                      // camera: Failed (2)
            "00 c0 2c c8 99 01 00 00", // clock_ms: 1760000000000 (u64)
            "39 30 00 00",             // frames_rx: 12345 (u32)
            "07 00 00 00",             // frames_rejected: 7 (u32)
            "ce 62 13 b4",             // CRC-32
        ],
    },
    Golden {
        msg: Message::CertificateRead { auth_cert: AUTH_CERT },
        wire: &[
            "53 4b",                               // marker "SK"
            "20",                                  // version 2.0
            "00",                                  // flags: none (not sealed)
            "11",                                  // type: 0x11 CertificateRead
            "4d 3c 2b 1a",                         // session: 0x1A2B3C4D
            "08 07 06 05",                         // seq: 0x05060708
            "0e 00",                               // length: 14
            "3f 73",                               // header CRC-16
            "0c 00",                               // auth_cert: length 12 (u16)
            "30 82 04 d2 30 82 03 ba a0 03 02 01", // auth_cert: DER bytes
            "ac 1b 27 97",                         // CRC-32
        ],
    },
    Golden {
        msg: Message::HostHello { driver_version: "shikaku-host 0.9.1", nonce: HOST_NONCE },
        wire: &[
            "53 4b",                                           // marker "SK"
            "20",                                              // version 2.0
            "00",                                              // flags: none (not sealed)
            "40",                                              // type: 0x40 HostHello
            "4d 3c 2b 1a",                                     // session: 0x1A2B3C4D
            "08 07 06 05",                                     // seq: 0x05060708
            "23 00",                                           // length: 35
            "24 ca",                                           // header CRC-16
            "12",                                              // driver_version: length 18
            "73 68 69 6b 61 6b 75 2d 68 6f 73 74 20 30 2e 39", // driver_version: "shikaku-host 0.9.1" [0..16]
            "2e 31", // driver_version: "shikaku-host 0.9.1" [16..18]
            "10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f", // nonce
            "08 ef 1d 84", // CRC-32
        ],
    },
    Golden {
        msg: Message::PairRequest { host_public: ramp(0x60), host_nonce: HOST_NONCE },
        wire: &[
            "53 4b",                                           // marker "SK"
            "20",                                              // version 2.0
            "00",                                              // flags: none (not sealed)
            "41",                                              // type: 0x41 PairRequest
            "4d 3c 2b 1a",                                     // session: 0x1A2B3C4D
            "08 07 06 05",                                     // seq: 0x05060708
            "30 00",                                           // length: 48
            "4d 44",                                           // header CRC-16
            "60 61 62 63 64 65 66 67 68 69 6a 6b 6c 6d 6e 6f", // host_public [0..16]
            "70 71 72 73 74 75 76 77 78 79 7a 7b 7c 7d 7e 7f", // host_public [16..32]
            "10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f", // host_nonce
            "a7 95 d4 19",                                     // CRC-32
        ],
    },
    Golden {
        msg: Message::PairConfirm { confirm: ramp(0xF0) },
        wire: &[
            "53 4b",                                           // marker "SK"
            "20",                                              // version 2.0
            "00",                                              // flags: none (not sealed)
            "42",                                              // type: 0x42 PairConfirm
            "4d 3c 2b 1a",                                     // session: 0x1A2B3C4D
            "08 07 06 05",                                     // seq: 0x05060708
            "10 00",                                           // length: 16
            "51 3a",                                           // header CRC-16
            "f0 f1 f2 f3 f4 f5 f6 f7 f8 f9 fa fb fc fd fe ff", // confirm
            "ef aa 5e 6d",                                     // CRC-32
        ],
    },
    Golden {
        msg: Message::TimeSync { unix_ms: 1_760_000_000_000 },
        wire: &[
            "53 4b",                   // marker "SK"
            "20",                      // version 2.0
            "00",                      // flags: none (not sealed)
            "43",                      // type: 0x43 TimeSync
            "4d 3c 2b 1a",             // session: 0x1A2B3C4D
            "08 07 06 05",             // seq: 0x05060708
            "08 00",                   // length: 8
            "c2 68",                   // header CRC-16
            "00 c0 2c c8 99 01 00 00", // unix_ms: 1760000000000 (u64)
            "b1 00 19 f9",             // CRC-32
        ],
    },
    Golden {
        msg: Message::PasscodeProvision {
            account: "staff01",
            salt: ramp(0x40),
            iterations: 600_000,
            hash: ramp(0x70),
        },
        wire: &[
            "53 4b",                                           // marker "SK"
            "20",                                              // version 2.0
            "00",                                              // flags: none (not sealed)
            "44",                                              // type: 0x44 PasscodeProvision
            "4d 3c 2b 1a",                                     // session: 0x1A2B3C4D
            "08 07 06 05",                                     // seq: 0x05060708
            "3c 00",                                           // length: 60
            "2e 88",                                           // header CRC-16
            "07",                                              // account: length 7
            "73 74 61 66 66 30 31",                            // account: "staff01"
            "40 41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f", // salt
            "c0 27 09 00",                                     // iterations: 600000 (u32)
            "70 71 72 73 74 75 76 77 78 79 7a 7b 7c 7d 7e 7f", // hash [0..16]
            "80 81 82 83 84 85 86 87 88 89 8a 8b 8c 8d 8e 8f", // hash [16..32]
            "9e 22 8c 0f",                                     // CRC-32
        ],
    },
    Golden {
        msg: Message::PasscodeRevoke { account: "staff01" },
        wire: &[
            "53 4b",                // marker "SK"
            "20",                   // version 2.0
            "00",                   // flags: none (not sealed)
            "45",                   // type: 0x45 PasscodeRevoke
            "4d 3c 2b 1a",          // session: 0x1A2B3C4D
            "08 07 06 05",          // seq: 0x05060708
            "08 00",                // length: 8
            "36 99",                // header CRC-16
            "07",                   // account: length 7
            "73 74 61 66 66 30 31", // account: "staff01"
            "89 38 b9 0c",          // CRC-32
        ],
    },
    Golden {
        msg: HOST_CHALLENGE,
        wire: &[
            "53 4b",                                           // marker "SK"
            "20",                                              // version 2.0
            "00",                                              // flags: none (not sealed)
            "46",                                              // type: 0x46 HostChallenge
            "4d 3c 2b 1a",                                     // session: 0x1A2B3C4D
            "08 07 06 05",                                     // seq: 0x05060708
            "20 00",                                           // length: 32
            "83 6e",                                           // header CRC-16
            "a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 aa ab ac ad ae af", // challenge [0..16]
            "b0 b1 b2 b3 b4 b5 b6 b7 b8 b9 ba bb bc bd be bf", // challenge [16..32]
            "2a db b0 61",                                     // CRC-32
        ],
    },
    Golden {
        msg: Message::DiagnosticsRequest,
        wire: &[
            "53 4b",       // marker "SK"
            "20",          // version 2.0
            "00",          // flags: none (not sealed)
            "47",          // type: 0x47 DiagnosticsRequest
            "4d 3c 2b 1a", // session: 0x1A2B3C4D
            "08 07 06 05", // seq: 0x05060708
            "00 00",       // length: 0
            "2c b0",       // header CRC-16
            "e3 ec b8 14", // CRC-32
        ],
    },
    Golden {
        msg: Message::RegistrationStatus { registered: true },
        wire: &[
            "53 4b",       // marker "SK"
            "20",          // version 2.0
            "00",          // flags: none (not sealed)
            "48",          // type: 0x48 RegistrationStatus
            "4d 3c 2b 1a", // session: 0x1A2B3C4D
            "08 07 06 05", // seq: 0x05060708
            "01 00",       // length: 1
            "2e 08",       // header CRC-16
            "01",          // registered: true
            "ad b9 7e d8", // CRC-32
        ],
    },
    Golden {
        msg: Message::Ack { session: 0x2233_4455, seq: 0x0000_0107 },
        wire: &[
            "53 4b",       // marker "SK"
            "20",          // version 2.0
            "00",          // flags: none (not sealed)
            "80",          // type: 0x80 Ack
            "4d 3c 2b 1a", // session: 0x1A2B3C4D
            "08 07 06 05", // seq: 0x05060708
            "08 00",       // length: 8
            "47 dd",       // header CRC-16
            "55 44 33 22", // session: 0x22334455 (u32)
            "07 01 00 00", // seq: 0x00000107 (u32)
            "73 df 6e ea", // CRC-32
        ],
    },
    Golden {
        msg: Message::Error {
            code: ErrorCode::FACE_LIVENESS,
            remedy: Remedy::OtherMethod,
            detail: "liveness: screen replay",
        },
        wire: &[
            "53 4b",                                           // marker "SK"
            "20",                                              // version 2.0
            "00",                                              // flags: none (not sealed)
            "81",                                              // type: 0x81 Error
            "4d 3c 2b 1a",                                     // session: 0x1A2B3C4D
            "08 07 06 05",                                     // seq: 0x05060708
            "1b 00",                                           // length: 27
            "2e 53",                                           // header CRC-16
            "ca 00",                                           // code: 202 FACE_LIVENESS (u16)
            "02",                                              // remedy: OtherMethod (2)
            "17",                                              // detail: length 23
            "6c 69 76 65 6e 65 73 73 3a 20 73 63 72 65 65 6e", // detail: "liveness: screen replay" [0..16]
            "20 72 65 70 6c 61 79",                            // detail: "liveness: screen replay" [16..23]
            "41 b8 da 2f",                                     // CRC-32
        ],
    },
    Golden {
        msg: Message::PairResult { outcome: PairOutcome::Accepted, proof: ramp(0x70) },
        wire: &[
            "53 4b",                                           // marker "SK"
            "20",                                              // version 2.0
            "00",                                              // flags: none (not sealed)
            "12",                                              // type: 0x12 PairResult
            "4d 3c 2b 1a",                                     // session: 0x1A2B3C4D
            "08 07 06 05",                                     // seq: 0x05060708
            "11 00",                                           // length: 17
            "88 18",                                           // header CRC-16
            "01",                                              // outcome: Accepted (1)
            "70 71 72 73 74 75 76 77 78 79 7a 7b 7c 7d 7e 7f", // proof
            "e7 f1 88 61",                                     // CRC-32
        ],
    },
    Golden {
        msg: Message::PasscodeResult { account: "staff-01", outcome: PasscodeOutcome::StoreFull },
        wire: &[
            "53 4b",                   // marker "SK"
            "20",                      // version 2.0
            "00",                      // flags: none (not sealed)
            "13",                      // type: 0x13 PasscodeResult
            "4d 3c 2b 1a",             // session: 0x1A2B3C4D
            "08 07 06 05",             // seq: 0x05060708
            "0a 00",                   // length: 10
            "48 1f",                   // header CRC-16
            "08",                      // account: length 8
            "73 74 61 66 66 2d 30 31", // account: "staff-01"
            "03",                      // outcome: StoreFull (3)
            "b7 e9 47 d4",             // CRC-32
        ],
    },
    Golden {
        msg: Message::LinkReady,
        wire: &[
            "53 4b",       // marker "SK"
            "20",          // version 2.0
            "00",          // flags: none (not sealed)
            "49",          // type: 0x49 LinkReady
            "4d 3c 2b 1a", // session: 0x1A2B3C4D
            "08 07 06 05", // seq: 0x05060708
            "00 00",       // length: 0
            "56 e3",       // header CRC-16
            "61 71 ec c9", // CRC-32
        ],
    },
    Golden {
        msg: Message::Cancel { reason: CancelReason::Patient },
        wire: &[
            "53 4b",       // marker "SK"
            "20",          // version 2.0
            "00",          // flags: none (not sealed)
            "82",          // type: 0x82 Cancel
            "4d 3c 2b 1a", // session: 0x1A2B3C4D
            "08 07 06 05", // seq: 0x05060708
            "01 00",       // length: 1
            "6c c7",       // header CRC-16
            "03",          // reason: Patient (3)
            "26 88 f1 19", // CRC-32
        ],
    },
];

/// The per-connection keys `LinkKeys::derive` gives for `PAIRING_KEY`, `HOST_NONCE` and
/// `READER_NONCE` (HKDF-SHA256, salt = host nonce ‖ reader nonce, info "shikaku link keys v2").
const READER_TO_HOST_KEY: &[&str] =
    &["05 e0 2f f7 6c fd 36 de 05 53 64 ee 1f 77 8e ee", "0f 1d 9f 78 ec bd a1 46 24 36 96 57 f1 8f 21 a0"];
const HOST_TO_READER_KEY: &[&str] =
    &["5b b5 16 2a 05 38 27 4a 77 f0 37 20 5b eb 78 41", "14 a6 94 8b b5 d6 8b 9f 71 ae 12 bb 52 72 da 82"];

/// The first frame each side sends on a link secured with those keys, with the same session and
/// sequence number as the unsecured frames: ChaCha20-Poly1305 with the direction's key, nonce =
/// counter 1 (u32 LE) then eight zero bytes, associated data = the 17 header bytes.
const SECURED: &[Golden] = &[
    Golden {
        msg: FACE_OUTCOME,
        wire: &[
            "53 4b",                                           // marker "SK"
            "20",                                              // version 2.0
            "01",                                              // flags: sealed (AEAD trailer)
            "0c",                                              // type: 0x0C FaceOutcome
            "4d 3c 2b 1a",                                     // session: 0x1A2B3C4D
            "08 07 06 05",                                     // seq: 0x05060708
            "04 00",                                           // length: 4
            "3c e1",                                           // header CRC-16
            "a4 f1 a2 d0",                                     // ciphertext [0..4]
            "01 00 00 00",                                     // counter: 1 (the nonce)
            "fe ad af 6a 46 95 3e 23 95 5d bd 4a c5 3c f9 18", // Poly1305 tag
            "8e 21 95 37",                                     // CRC-32
        ],
    },
    Golden {
        msg: HOST_CHALLENGE,
        wire: &[
            "53 4b",                                           // marker "SK"
            "20",                                              // version 2.0
            "01",                                              // flags: sealed (AEAD trailer)
            "46",                                              // type: 0x46 HostChallenge
            "4d 3c 2b 1a",                                     // session: 0x1A2B3C4D
            "08 07 06 05",                                     // seq: 0x05060708
            "20 00",                                           // length: 32
            "f6 6d",                                           // header CRC-16
            "f0 b5 52 1b 28 9d 38 79 29 15 81 48 72 d7 11 2b", // ciphertext [0..16]
            "ad 71 b8 5e 4f 10 14 c2 11 98 7e 75 46 8e 84 a8", // ciphertext [16..32]
            "01 00 00 00",                                     // counter: 1 (the nonce)
            "44 a4 a8 ac 0e b8 8e 58 da 08 12 9f a2 87 72 31", // Poly1305 tag
            "cb 63 a7 bf",                                     // CRC-32
        ],
    },
];

/// Parses spaced hex, one string per field ("53 4b", "10", …), into bytes.
fn hex(fields: &[&str]) -> Vec<u8> {
    fields
        .iter()
        .flat_map(|field| field.split_whitespace())
        .map(|byte| {
            assert_eq!(byte.len(), 2, "hex byte {byte:?} is not two digits");
            u8::from_str_radix(byte, 16).unwrap_or_else(|e| panic!("hex byte {byte:?}: {e}"))
        })
        .collect()
}

fn spaced(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

/// Byte-for-byte equality, reported as spaced hex with the first differing offset.
#[track_caller]
fn assert_bytes(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got.iter().zip(want).position(|(g, w)| g != w).unwrap_or(got.len().min(want.len()));
        panic!(
            "{what}: bytes differ from offset {at} (got {} bytes, golden {})\n   got: {}\ngolden: {}",
            got.len(),
            want.len(),
            spaced(got),
            spaced(want)
        );
    }
}

/// The variant's name. Exhaustive on purpose: a message added to the protocol stops this file
/// from compiling until it is named here, next to the golden frame it needs.
fn variant(msg: &Message<'_>) -> &'static str {
    match msg {
        Message::ReaderHello { .. } => "ReaderHello",
        Message::PairResponse { .. } => "PairResponse",
        Message::CardDetected { .. } => "CardDetected",
        Message::CardRemoved => "CardRemoved",
        Message::AuthModesOffered { .. } => "AuthModesOffered",
        Message::AuthModeChosen { .. } => "AuthModeChosen",
        Message::PinOutcome { .. } => "PinOutcome",
        Message::VisualModeStarted { .. } => "VisualModeStarted",
        Message::VisualModeStopped { .. } => "VisualModeStopped",
        Message::VisualUnlockFailed { .. } => "VisualUnlockFailed",
        Message::FaceProgress { .. } => "FaceProgress",
        Message::FaceOutcome { .. } => "FaceOutcome",
        Message::ConsentAnswers { .. } => "ConsentAnswers",
        Message::CertExpiryNotice { .. } => "CertExpiryNotice",
        Message::VerifiedIdentity(_) => "VerifiedIdentity",
        Message::CertificateRead { .. } => "CertificateRead",
        Message::DiagnosticsReport { .. } => "DiagnosticsReport",
        Message::PairResult { .. } => "PairResult",
        Message::PasscodeResult { .. } => "PasscodeResult",
        Message::LinkReady => "LinkReady",
        Message::HostHello { .. } => "HostHello",
        Message::PairRequest { .. } => "PairRequest",
        Message::PairConfirm { .. } => "PairConfirm",
        Message::TimeSync { .. } => "TimeSync",
        Message::PasscodeProvision { .. } => "PasscodeProvision",
        Message::PasscodeRevoke { .. } => "PasscodeRevoke",
        Message::HostChallenge { .. } => "HostChallenge",
        Message::DiagnosticsRequest => "DiagnosticsRequest",
        Message::RegistrationStatus { .. } => "RegistrationStatus",
        Message::Ack { .. } => "Ack",
        Message::Error { .. } => "Error",
        Message::Cancel { .. } => "Cancel",
    }
}

/// The side that sends `msg` (either side may send the `Both` ones; the reader does here).
fn sender(msg: &Message<'_>) -> Role {
    match msg.direction() {
        Direction::HostToReader => Role::Host,
        Direction::ReaderToHost | Direction::Both => Role::Reader,
    }
}

fn peer(role: Role) -> Role {
    match role {
        Role::Reader => Role::Host,
        Role::Host => Role::Reader,
    }
}

fn golden_header(msg: &Message<'_>) -> Header {
    Header { msg_type: msg.msg_type(), session: SESSION, seq: SEQ }
}

/// `msg` as an unsecured frame, through the plain frame encoder.
fn encode_unsecured(msg: &Message<'_>) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME];
    let n = frame::emit_with(&mut buf, &golden_header(msg), None, |dst| msg.encode(dst))
        .unwrap_or_else(|e| panic!("{}: encode: {e}", variant(msg)));
    buf[..n].to_vec()
}

fn link_keys() -> LinkKeys {
    LinkKeys::derive(&PairingKey(PAIRING_KEY), &HOST_NONCE, &READER_NONCE)
}

/// A link just secured with the golden keys: its counters start afresh.
fn secured_link(role: Role) -> Link {
    let mut link = Link::new(role);
    link.secure(&link_keys());
    link
}

/// `msg` as the first frame a freshly secured link of its sender writes.
fn encode_secured(msg: &Message<'_>) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME];
    let n = secured_link(sender(msg))
        .encode(&mut buf, SESSION, SEQ, msg)
        .unwrap_or_else(|e| panic!("{}: secured encode: {e}", variant(msg)));
    buf[..n].to_vec()
}

#[test]
fn every_message_type_has_a_golden_frame() {
    let golden: BTreeSet<u8> = GOLDEN.iter().map(|g| g.msg.msg_type()).collect();
    // Every type the decoder knows, probed as roundtrip.rs does.
    let known: BTreeSet<u8> =
        (0u8..=255).filter(|t| Message::decode(*t, 0, &[]) != Err(Error::UnknownMessageType(*t))).collect();
    assert_eq!(golden, known, "message types with a golden frame vs. message types the decoder knows");
    assert_eq!(golden.len(), common::MESSAGE_TYPES, "golden frames vs. common::MESSAGE_TYPES");
    let variants: BTreeSet<&str> = GOLDEN.iter().map(|g| variant(&g.msg)).collect();
    assert_eq!(variants.len(), common::MESSAGE_TYPES, "every variant of Message: {variants:?}");
}

#[test]
fn golden_frames_are_what_the_encoder_writes_byte_for_byte() {
    for g in GOLDEN {
        let name = variant(&g.msg);
        let want = hex(g.wire);
        assert_bytes(&encode_unsecured(&g.msg), &want, name);

        // An unsecured `Link` writes the pairing messages exactly so, and refuses the rest.
        let mut buf = [0u8; MAX_FRAME];
        let sent = Link::new(sender(&g.msg)).encode(&mut buf, SESSION, SEQ, &g.msg);
        if Message::allowed_unsealed(g.msg.msg_type(), false) {
            let n = sent.unwrap_or_else(|e| panic!("{name}: unsecured link encode: {e}"));
            assert_bytes(&buf[..n], &want, name);
        } else {
            assert_eq!(sent, Err(Error::NotPaired), "{name} is sent unsecured");
        }
    }
}

#[test]
fn golden_frames_decode_and_reencode_byte_for_byte() {
    for g in GOLDEN {
        let name = variant(&g.msg);
        let wire = hex(g.wire);
        let frame = Frame::new_checked(&wire[..]).unwrap_or_else(|e| panic!("{name}: frame check: {e}"));
        assert_eq!(frame.total_len(), wire.len(), "{name}: frame length");
        assert!(!frame.is_authenticated(), "{name}: authenticated flag");
        assert_eq!(frame.header(), golden_header(&g.msg), "{name}: header");

        let msg = Message::decode(frame.msg_type(), frame.version_minor(), frame.payload())
            .unwrap_or_else(|e| panic!("{name}: decode: {e}"));
        assert_eq!(msg, g.msg, "{name}: decoded message");
        // The decoded message borrows from the golden bytes and writes them again.
        assert_bytes(&encode_unsecured(&msg), &wire, name);

        if Message::allowed_unsealed(g.msg.msg_type(), false) {
            let mut copy = wire.clone();
            let frame = Frame::new_checked(&mut copy[..]).unwrap_or_else(|e| panic!("{name}: {e}"));
            let got = Link::new(peer(sender(&g.msg)))
                .decode(frame)
                .unwrap_or_else(|e| panic!("{name}: unsecured link decode: {e}"));
            assert!(!got.authenticated, "{name}: authenticated");
            assert_eq!(got.header, golden_header(&g.msg), "{name}: link header");
            assert_eq!(got.message, g.msg, "{name}: link message");
        }
    }
}

#[test]
fn link_keys_from_a_fixed_pairing_key_and_nonces_are_pinned() {
    let keys = link_keys();
    assert_bytes(&keys.reader_to_host, &hex(READER_TO_HOST_KEY), "reader→host key");
    assert_bytes(&keys.host_to_reader, &hex(HOST_TO_READER_KEY), "host→reader key");
}

#[test]
fn secured_golden_frames_pin_the_aead_trailer_and_key_derivation() {
    assert!(
        SECURED.iter().any(|s| s.msg.direction() == Direction::ReaderToHost && s.msg.is_result()),
        "a reader→host result is pinned secured"
    );
    assert!(
        SECURED.iter().any(|s| s.msg.direction() == Direction::HostToReader),
        "a host→reader message is pinned secured"
    );
    for s in SECURED {
        let name = variant(&s.msg);
        let wire = hex(s.wire);
        assert_bytes(&encode_secured(&s.msg), &wire, name);
        // Deterministic: a second link, with keys derived again, writes the very same bytes.
        assert_bytes(&encode_secured(&s.msg), &wire, name);

        let frame = Frame::new_checked(&wire[..]).unwrap_or_else(|e| panic!("{name}: frame check: {e}"));
        assert_eq!(frame.total_len(), wire.len(), "{name}: frame length");
        assert!(frame.is_authenticated(), "{name}: sealed flag");
        let (counter, tag) = frame.auth_trailer().unwrap_or_else(|| panic!("{name}: no AEAD trailer"));
        assert_eq!((counter, tag.len()), (1, TAG_LEN), "{name}: first counter and tag length");
        let ciphertext = frame.payload().to_vec();

        let mut copy = wire.clone();
        let frame = Frame::new_checked(&mut copy[..]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = secured_link(peer(sender(&s.msg)))
            .decode(frame)
            .unwrap_or_else(|e| panic!("{name}: secured link decode: {e}"));
        assert!(got.authenticated, "{name}: authenticated");
        assert_eq!(got.header, golden_header(&s.msg), "{name}: header");
        assert_eq!(got.message, s.msg, "{name}: decoded message");
        assert_bytes(&encode_secured(&got.message), &wire, name);

        // Sealing changes the flags, the header CRC and the trailer, and encrypts the payload:
        // it opens to that of the unsecured golden frame, and differs from it on the wire.
        let plain = GOLDEN.iter().find(|g| g.msg == s.msg).map(|g| hex(g.wire));
        let plain = plain.unwrap_or_else(|| panic!("{name}: no unsecured golden frame"));
        let plain =
            Frame::new_checked(&plain[..]).unwrap_or_else(|e| panic!("{name}: {e}")).payload().to_vec();
        assert_bytes(got.payload, &plain, name);
        assert_eq!(ciphertext.len(), plain.len(), "{name}: ciphertext length");
        assert_ne!(ciphertext, plain, "{name}: the payload travels encrypted");
    }
}
