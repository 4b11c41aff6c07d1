//! The complete message set of a reception session, both directions.
//!
//! Messages borrow from the frame they were parsed from ([`Message::decode`]) and encode into
//! a caller's buffer ([`Message::encode`]). Fields are appended, never reordered: a receiver
//! accepts trailing bytes from a newer minor version and refuses them from its own.

mod types;

pub use types::*;

use crate::codec::{FieldError, Reader, Writer};
use crate::Error;

/// How the reader proves a verified identity came from the card it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Proof<'a> {
    /// The card's auth key signed the host's challenge (PIN flow): PKCS#1 v1.5, SHA-256.
    CardSignature { challenge: [u8; 32], signature: &'a [u8] },
    /// Face or 目視: no PIN, so the reader attests with its device key over the session.
    ReaderAttestation { challenge: [u8; 32], attestation: &'a [u8] },
}

/// The result a session exists for: who was confirmed, how, and what they agreed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct VerifiedIdentity<'a> {
    /// 利用者証明用電子証明書, DER.
    pub auth_cert: &'a [u8],
    pub proof: Proof<'a>,
    pub method: AuthMethod,
    pub card_kind: CardKind,
    pub consents: Consents,
    /// Set for 目視: which staff account unlocked the mode.
    pub staff_account: Option<&'a str>,
    /// 初回登録: the patient asked to register the card for insurance use.
    pub registration: bool,
    pub cert_expiry: CertExpiry,
    /// Unix milliseconds (reader clock, synchronised by the host).
    pub card_detected_at: u64,
    pub verified_at: u64,
}

/// Every message of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Message<'a> {
    // ---- reader → host ----
    /// `nonce` is fresh per connection; with the host's it derives the connection's keys.
    /// `key_check` proves the reader holds the pairing key (zeros when unpaired), so a host
    /// with the wrong key knows at once instead of seeing silence.
    ReaderHello {
        firmware: FirmwareVersion<'a>,
        serial: &'a str,
        model: &'a str,
        capabilities: Capabilities,
        max_payload: u16,
        nonce: [u8; 16],
        key_check: [u8; 16],
    },
    PairResponse {
        reader_public: [u8; 32],
        reader_nonce: [u8; 16],
        confirm: [u8; 16],
    },
    CardDetected {
        kind: CardKind,
    },
    CardRemoved,
    AuthModesOffered {
        modes: AuthModes,
    },
    AuthModeChosen {
        method: AuthMethod,
    },
    PinOutcome {
        result: PinResult,
        tries_left: u8,
    },
    VisualModeStarted {
        staff_account: &'a str,
    },
    VisualModeStopped {
        reason: VisualStopReason,
    },
    VisualUnlockFailed {
        failures: u8,
        locked_for_ms: u32,
    },
    FaceProgress {
        stage: FaceStage,
        attempt: u8,
    },
    FaceOutcome {
        decision: FaceDecision,
        score_milli: u16,
        attempts: u8,
    },
    ConsentAnswers {
        consents: Consents,
    },
    CertExpiryNotice {
        expiry: CertExpiry,
    },
    VerifiedIdentity(VerifiedIdentity<'a>),
    /// The auth certificate (no personal data), read before the holder is confirmed, so the
    /// host can ask the eligibility system early, e.g. whether 初回登録 is needed.
    CertificateRead {
        auth_cert: &'a [u8],
    },
    DiagnosticsReport {
        uptime_s: u32,
        nfc: SelfTest,
        camera: SelfTest,
        clock_ms: u64,
        frames_rx: u32,
        frames_rejected: u32,
    },
    /// How a pairing ended on the reader. `Accepted` (staff confirmed the code on the keypad)
    /// carries `proof`, a MAC under the new pairing's confirmation key, so only the reader that
    /// took part can report it; every other outcome carries zeros.
    PairResult {
        outcome: PairOutcome,
        proof: [u8; 16],
    },
    /// What the reader did with a `PasscodeProvision` or `PasscodeRevoke` for `account`.
    PasscodeResult {
        account: &'a str,
        outcome: PasscodeOutcome,
    },

    // ---- host → reader ----
    HostHello {
        driver_version: &'a str,
        nonce: [u8; 16],
    },
    PairRequest {
        host_public: [u8; 32],
        host_nonce: [u8; 16],
    },
    PairConfirm {
        confirm: [u8; 16],
    },
    /// The host's first sealed frame on a new connection: it proves the host derived the same
    /// connection keys, and only then does the reader switch to them.
    LinkReady,
    TimeSync {
        unix_ms: u64,
    },
    /// 目視 passcode for one staff account: salted hash only, never the passcode.
    PasscodeProvision {
        account: &'a str,
        salt: [u8; 16],
        iterations: u32,
        hash: [u8; 32],
    },
    PasscodeRevoke {
        account: &'a str,
    },
    /// Nonce the card (PIN) or the reader (face, 目視) signs into the verified identity.
    HostChallenge {
        challenge: [u8; 32],
    },
    DiagnosticsRequest,
    /// Answer to `CertificateRead`: whether the card is registered for insurance use; when it
    /// is not, the reader offers 初回登録 after the holder is confirmed.
    RegistrationStatus {
        registered: bool,
    },

    // ---- both ----
    Ack {
        session: u32,
        seq: u32,
    },
    Error {
        code: ErrorCode,
        remedy: Remedy,
        detail: &'a str,
    },
    Cancel {
        reason: CancelReason,
    },
}

/// Wire numbers of message types. Never reuse a number.
pub mod msg_type {
    pub const READER_HELLO: u8 = 0x01;
    pub const PAIR_RESPONSE: u8 = 0x02;
    pub const CARD_DETECTED: u8 = 0x03;
    pub const CARD_REMOVED: u8 = 0x04;
    pub const AUTH_MODES_OFFERED: u8 = 0x05;
    pub const AUTH_MODE_CHOSEN: u8 = 0x06;
    pub const PIN_OUTCOME: u8 = 0x07;
    pub const VISUAL_MODE_STARTED: u8 = 0x08;
    pub const VISUAL_MODE_STOPPED: u8 = 0x09;
    pub const VISUAL_UNLOCK_FAILED: u8 = 0x0A;
    pub const FACE_PROGRESS: u8 = 0x0B;
    pub const FACE_OUTCOME: u8 = 0x0C;
    pub const CONSENT_ANSWERS: u8 = 0x0D;
    pub const CERT_EXPIRY_NOTICE: u8 = 0x0E;
    pub const VERIFIED_IDENTITY: u8 = 0x0F;
    pub const DIAGNOSTICS_REPORT: u8 = 0x10;
    pub const CERTIFICATE_READ: u8 = 0x11;
    pub const PAIR_RESULT: u8 = 0x12;
    pub const PASSCODE_RESULT: u8 = 0x13;

    pub const HOST_HELLO: u8 = 0x40;
    pub const PAIR_REQUEST: u8 = 0x41;
    pub const PAIR_CONFIRM: u8 = 0x42;
    pub const TIME_SYNC: u8 = 0x43;
    pub const PASSCODE_PROVISION: u8 = 0x44;
    pub const PASSCODE_REVOKE: u8 = 0x45;
    pub const HOST_CHALLENGE: u8 = 0x46;
    pub const DIAGNOSTICS_REQUEST: u8 = 0x47;
    pub const REGISTRATION_STATUS: u8 = 0x48;
    pub const LINK_READY: u8 = 0x49;

    pub const ACK: u8 = 0x80;
    pub const ERROR: u8 = 0x81;
    pub const CANCEL: u8 = 0x82;
}

/// Who may send a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Direction {
    ReaderToHost,
    HostToReader,
    Both,
}

impl<'a> Message<'a> {
    pub fn msg_type(&self) -> u8 {
        use msg_type::*;
        match self {
            Message::ReaderHello { .. } => READER_HELLO,
            Message::PairResponse { .. } => PAIR_RESPONSE,
            Message::CardDetected { .. } => CARD_DETECTED,
            Message::CardRemoved => CARD_REMOVED,
            Message::AuthModesOffered { .. } => AUTH_MODES_OFFERED,
            Message::AuthModeChosen { .. } => AUTH_MODE_CHOSEN,
            Message::PinOutcome { .. } => PIN_OUTCOME,
            Message::VisualModeStarted { .. } => VISUAL_MODE_STARTED,
            Message::VisualModeStopped { .. } => VISUAL_MODE_STOPPED,
            Message::VisualUnlockFailed { .. } => VISUAL_UNLOCK_FAILED,
            Message::FaceProgress { .. } => FACE_PROGRESS,
            Message::FaceOutcome { .. } => FACE_OUTCOME,
            Message::ConsentAnswers { .. } => CONSENT_ANSWERS,
            Message::CertExpiryNotice { .. } => CERT_EXPIRY_NOTICE,
            Message::VerifiedIdentity(_) => VERIFIED_IDENTITY,
            Message::DiagnosticsReport { .. } => DIAGNOSTICS_REPORT,
            Message::CertificateRead { .. } => CERTIFICATE_READ,
            Message::PairResult { .. } => PAIR_RESULT,
            Message::PasscodeResult { .. } => PASSCODE_RESULT,
            Message::LinkReady => LINK_READY,
            Message::RegistrationStatus { .. } => REGISTRATION_STATUS,
            Message::HostHello { .. } => HOST_HELLO,
            Message::PairRequest { .. } => PAIR_REQUEST,
            Message::PairConfirm { .. } => PAIR_CONFIRM,
            Message::TimeSync { .. } => TIME_SYNC,
            Message::PasscodeProvision { .. } => PASSCODE_PROVISION,
            Message::PasscodeRevoke { .. } => PASSCODE_REVOKE,
            Message::HostChallenge { .. } => HOST_CHALLENGE,
            Message::DiagnosticsRequest => DIAGNOSTICS_REQUEST,
            Message::Ack { .. } => ACK,
            Message::Error { .. } => ERROR,
            Message::Cancel { .. } => CANCEL,
        }
    }

    pub fn direction(&self) -> Direction {
        match self.msg_type() {
            0x01..=0x3F => Direction::ReaderToHost,
            0x40..=0x7F => Direction::HostToReader,
            _ => Direction::Both,
        }
    }

    /// Results are re-sent until acknowledged and delivered exactly once
    /// (see [`crate::reliable`]); everything else is best effort.
    pub fn is_result(&self) -> bool {
        Self::is_result_type(self.msg_type())
    }

    /// [`Message::is_result`] by wire type (in the clear header of a sealed frame).
    pub fn is_result_type(msg_type: u8) -> bool {
        use msg_type::*;
        matches!(
            msg_type,
            VERIFIED_IDENTITY
                | PIN_OUTCOME
                | FACE_OUTCOME
                | CONSENT_ANSWERS
                | VISUAL_MODE_STARTED
                | VISUAL_MODE_STOPPED
                | VISUAL_UNLOCK_FAILED
                | ERROR
        )
    }

    /// The hellos: always sent in clear (they set up the keys everything else is sealed with).
    pub fn is_hello(msg_type: u8) -> bool {
        use msg_type::*;
        matches!(msg_type, READER_HELLO | HOST_HELLO)
    }

    /// May travel unsealed: the hellos always; the pairing messages only while the link is not
    /// secured (a first pairing, or a reader whose key the host lost). On a secured link a
    /// pairing message is sealed like everything else.
    pub fn allowed_unsealed(msg_type: u8, secured: bool) -> bool {
        use msg_type::*;
        Self::is_hello(msg_type)
            || (!secured && matches!(msg_type, PAIR_REQUEST | PAIR_RESPONSE | PAIR_CONFIRM | PAIR_RESULT))
    }

    /// Writes the payload into `buf` and returns its length.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(buf);
        self.write(&mut w)?;
        Ok(w.position())
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        match *self {
            Message::ReaderHello { firmware, serial, model, capabilities, max_payload, nonce, key_check } => {
                w.u8(firmware.major)?;
                w.u8(firmware.minor)?;
                w.u8(firmware.patch)?;
                w.text(firmware.build)?;
                w.text(serial)?;
                w.text(model)?;
                w.u32(capabilities.0)?;
                w.u16(max_payload)?;
                w.bytes(&nonce)?;
                w.bytes(&key_check)
            }
            Message::PairResponse { reader_public, reader_nonce, confirm } => {
                w.bytes(&reader_public)?;
                w.bytes(&reader_nonce)?;
                w.bytes(&confirm)
            }
            Message::CardDetected { kind } => w.u8(kind.to_wire()),
            Message::CardRemoved | Message::DiagnosticsRequest | Message::LinkReady => Ok(()),
            Message::PairResult { outcome, proof } => {
                w.u8(outcome.to_wire())?;
                w.bytes(&proof)
            }
            Message::PasscodeResult { account, outcome } => {
                w.text(account)?;
                w.u8(outcome.to_wire())
            }
            Message::AuthModesOffered { modes } => w.u8(modes.bits()),
            Message::AuthModeChosen { method } => w.u8(method.to_wire()),
            Message::PinOutcome { result, tries_left } => {
                w.u8(result.to_wire())?;
                w.u8(tries_left)
            }
            Message::VisualModeStarted { staff_account } => w.text(staff_account),
            Message::VisualModeStopped { reason } => w.u8(reason.to_wire()),
            Message::VisualUnlockFailed { failures, locked_for_ms } => {
                w.u8(failures)?;
                w.u32(locked_for_ms)
            }
            Message::FaceProgress { stage, attempt } => {
                w.u8(stage.to_wire())?;
                w.u8(attempt)
            }
            Message::FaceOutcome { decision, score_milli, attempts } => {
                w.u8(decision.to_wire())?;
                w.u16(score_milli)?;
                w.u8(attempts)
            }
            Message::ConsentAnswers { consents } => w.bytes(&consents.to_wire()),
            Message::CertExpiryNotice { expiry } => write_expiry(w, expiry),
            Message::VerifiedIdentity(ref v) => {
                w.blob(v.auth_cert)?;
                match v.proof {
                    Proof::CardSignature { challenge, signature } => {
                        w.u8(1)?;
                        w.bytes(&challenge)?;
                        w.blob(signature)?;
                    }
                    Proof::ReaderAttestation { challenge, attestation } => {
                        w.u8(2)?;
                        w.bytes(&challenge)?;
                        w.blob(attestation)?;
                    }
                }
                w.u8(v.method.to_wire())?;
                w.u8(v.card_kind.to_wire())?;
                w.bytes(&v.consents.to_wire())?;
                w.opt_text(v.staff_account)?;
                w.bool(v.registration)?;
                write_expiry(w, v.cert_expiry)?;
                w.u64(v.card_detected_at)?;
                w.u64(v.verified_at)
            }
            Message::DiagnosticsReport { uptime_s, nfc, camera, clock_ms, frames_rx, frames_rejected } => {
                w.u32(uptime_s)?;
                w.u8(nfc.to_wire())?;
                w.u8(camera.to_wire())?;
                w.u64(clock_ms)?;
                w.u32(frames_rx)?;
                w.u32(frames_rejected)
            }
            Message::CertificateRead { auth_cert } => w.blob(auth_cert),
            Message::RegistrationStatus { registered } => w.bool(registered),
            Message::HostHello { driver_version, nonce } => {
                w.text(driver_version)?;
                w.bytes(&nonce)
            }
            Message::PairRequest { host_public, host_nonce } => {
                w.bytes(&host_public)?;
                w.bytes(&host_nonce)
            }
            Message::PairConfirm { confirm } => w.bytes(&confirm),
            Message::TimeSync { unix_ms } => w.u64(unix_ms),
            Message::PasscodeProvision { account, salt, iterations, hash } => {
                w.text(account)?;
                w.bytes(&salt)?;
                w.u32(iterations)?;
                w.bytes(&hash)
            }
            Message::PasscodeRevoke { account } => w.text(account),
            Message::HostChallenge { challenge } => w.bytes(&challenge),
            Message::Ack { session, seq } => {
                w.u32(session)?;
                w.u32(seq)
            }
            Message::Error { code, remedy, detail } => {
                w.u16(code.0)?;
                w.u8(remedy.to_wire())?;
                w.text(detail)
            }
            Message::Cancel { reason } => w.u8(reason.to_wire()),
        }
    }

    /// Parses a payload of the given type. `minor` is the sender's minor version: from a
    /// newer minor, unknown trailing fields are skipped; from ours or older they are an error.
    pub fn decode(msg_type: u8, minor: u8, payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(payload);
        let msg = Self::read(msg_type, &mut r).map_err(|e| e.into_error(msg_type))?;
        // Stays a real comparison once VERSION_MINOR rises above zero.
        #[allow(clippy::absurd_extreme_comparisons)]
        let same_or_older = minor <= crate::VERSION_MINOR;
        if r.remaining() > 0 && same_or_older {
            return Err(Error::TrailingBytes(r.remaining()));
        }
        Ok(msg)
    }

    fn read(msg_type: u8, r: &mut Reader<'a>) -> Result<Self, ReadError> {
        use msg_type::*;
        Ok(match msg_type {
            READER_HELLO => Message::ReaderHello {
                firmware: FirmwareVersion {
                    major: r.u8()?,
                    minor: r.u8()?,
                    patch: r.u8()?,
                    build: r.text()?,
                },
                serial: r.text()?,
                model: r.text()?,
                capabilities: Capabilities(r.u32()?),
                max_payload: r.u16()?,
                nonce: r.array()?,
                key_check: r.array()?,
            },
            PAIR_RESPONSE => Message::PairResponse {
                reader_public: r.array()?,
                reader_nonce: r.array()?,
                confirm: r.array()?,
            },
            CARD_DETECTED => Message::CardDetected { kind: CardKind::from_wire(r.u8()?)? },
            CARD_REMOVED => Message::CardRemoved,
            AUTH_MODES_OFFERED => Message::AuthModesOffered { modes: AuthModes::from_bits(r.u8()?)? },
            AUTH_MODE_CHOSEN => Message::AuthModeChosen { method: AuthMethod::from_wire(r.u8()?)? },
            PIN_OUTCOME => {
                Message::PinOutcome { result: PinResult::from_wire(r.u8()?)?, tries_left: r.u8()? }
            }
            VISUAL_MODE_STARTED => Message::VisualModeStarted { staff_account: r.text()? },
            VISUAL_MODE_STOPPED => {
                Message::VisualModeStopped { reason: VisualStopReason::from_wire(r.u8()?)? }
            }
            VISUAL_UNLOCK_FAILED => {
                Message::VisualUnlockFailed { failures: r.u8()?, locked_for_ms: r.u32()? }
            }
            FACE_PROGRESS => {
                Message::FaceProgress { stage: FaceStage::from_wire(r.u8()?)?, attempt: r.u8()? }
            }
            FACE_OUTCOME => Message::FaceOutcome {
                decision: FaceDecision::from_wire(r.u8()?)?,
                score_milli: r.u16()?,
                attempts: r.u8()?,
            },
            CONSENT_ANSWERS => Message::ConsentAnswers { consents: Consents::from_wire(r.array()?)? },
            CERT_EXPIRY_NOTICE => Message::CertExpiryNotice { expiry: read_expiry(r)? },
            VERIFIED_IDENTITY => {
                let auth_cert = r.blob()?;
                let proof = match r.u8()? {
                    1 => Proof::CardSignature { challenge: r.array()?, signature: r.blob()? },
                    2 => Proof::ReaderAttestation { challenge: r.array()?, attestation: r.blob()? },
                    v => return Err(FieldError::Value { field: "proof", value: v }.into()),
                };
                Message::VerifiedIdentity(VerifiedIdentity {
                    auth_cert,
                    proof,
                    method: AuthMethod::from_wire(r.u8()?)?,
                    card_kind: CardKind::from_wire(r.u8()?)?,
                    consents: Consents::from_wire(r.array()?)?,
                    staff_account: r.opt_text()?,
                    registration: r.bool()?,
                    cert_expiry: read_expiry(r)?,
                    card_detected_at: r.u64()?,
                    verified_at: r.u64()?,
                })
            }
            DIAGNOSTICS_REPORT => Message::DiagnosticsReport {
                uptime_s: r.u32()?,
                nfc: SelfTest::from_wire(r.u8()?)?,
                camera: SelfTest::from_wire(r.u8()?)?,
                clock_ms: r.u64()?,
                frames_rx: r.u32()?,
                frames_rejected: r.u32()?,
            },
            HOST_HELLO => Message::HostHello { driver_version: r.text()?, nonce: r.array()? },
            PAIR_REQUEST => Message::PairRequest { host_public: r.array()?, host_nonce: r.array()? },
            PAIR_CONFIRM => Message::PairConfirm { confirm: r.array()? },
            TIME_SYNC => Message::TimeSync { unix_ms: r.u64()? },
            PASSCODE_PROVISION => Message::PasscodeProvision {
                account: r.text()?,
                salt: r.array()?,
                iterations: r.u32()?,
                hash: r.array()?,
            },
            PASSCODE_REVOKE => Message::PasscodeRevoke { account: r.text()? },
            HOST_CHALLENGE => Message::HostChallenge { challenge: r.array()? },
            DIAGNOSTICS_REQUEST => Message::DiagnosticsRequest,
            LINK_READY => Message::LinkReady,
            PAIR_RESULT => {
                Message::PairResult { outcome: PairOutcome::from_wire(r.u8()?)?, proof: r.array()? }
            }
            PASSCODE_RESULT => {
                Message::PasscodeResult { account: r.text()?, outcome: PasscodeOutcome::from_wire(r.u8()?)? }
            }
            CERTIFICATE_READ => Message::CertificateRead { auth_cert: r.blob()? },
            REGISTRATION_STATUS => Message::RegistrationStatus { registered: r.bool()? },
            ACK => Message::Ack { session: r.u32()?, seq: r.u32()? },
            ERROR => Message::Error {
                code: ErrorCode(r.u16()?),
                remedy: Remedy::from_wire(r.u8()?)?,
                detail: r.text()?,
            },
            CANCEL => Message::Cancel { reason: CancelReason::from_wire(r.u8()?)? },
            other => return Err(ReadError::UnknownType(other)),
        })
    }
}

/// Internal: a field error, or a type this build does not know.
enum ReadError {
    Field(FieldError),
    UnknownType(u8),
}

impl From<FieldError> for ReadError {
    fn from(e: FieldError) -> Self {
        ReadError::Field(e)
    }
}

impl ReadError {
    fn into_error(self, msg_type: u8) -> Error {
        match self {
            ReadError::Field(e) => e.into_error(msg_type),
            ReadError::UnknownType(t) => Error::UnknownMessageType(t),
        }
    }
}

fn write_expiry(w: &mut Writer<'_>, e: CertExpiry) -> Result<(), Error> {
    let (tag, days) = e.to_wire();
    w.u8(tag)?;
    w.u16(days)
}

fn read_expiry(r: &mut Reader<'_>) -> Result<CertExpiry, FieldError> {
    let tag = r.u8()?;
    CertExpiry::from_wire(tag, r.u16()?)
}
