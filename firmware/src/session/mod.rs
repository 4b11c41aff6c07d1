//! The reader's session core: a sans-IO state machine for one reception at the counter.
//!
//! It takes [`Event`]s (card, keypad, face engine, host, time) with the current monotonic time
//! in milliseconds and returns [`Action`]s (card operations, screens, host messages, face
//! requests). The same code runs on the MCU, in host tests with virtual time, and under QEMU.
//!
//! Rules it keeps, whatever the order of events:
//! - a PIN travels only inside [`CardOp::VerifyPin`]; the last try needs an explicit yes;
//! - one verified identity at most per session, and none after an abort;
//! - a 目視 unlock lasts one session or a timeout, then the reader is back in automatic mode;
//! - passcode hashes are accepted only from the paired (authenticated) link.
//!
//! Each [`Action::Send`] must be encoded (see [`Session::host_message`]) before the next
//! event is handled: the message borrows the session's buffers.

mod action;
mod event;
pub mod expiry;
mod face;
pub mod screen;
pub mod visual;

pub use action::{Action, CardOp, Outgoing, ToHost};
pub use event::{CardFailure, CardReply, Event, FaceReply, Key, PinState};
pub use expiry::Validity;
pub use face::FaceVerifier;
pub use screen::{ConsentItem, Screen};
pub use visual::{PasscodeStore, Unlock};

use heapless::Vec;
use shikaku_protocol::auth::{reader_attestation, PairingKey};
use shikaku_protocol::message::{
    AuthMethod, AuthModes, CardKind, ConsentAnswer, Consents, ErrorCode, FaceDecision, FaceStage, Message,
    PinResult, Proof, VerifiedIdentity, VisualStopReason,
};

use shikaku_card::secret::{wipe, Pin4};

/// Longest auth certificate kept for the verified identity.
pub const MAX_CERT: usize = 2048;
/// RSA-2048 signature length.
pub const SIGNATURE_LEN: usize = 256;

/// Actions from one event; never more than this many.
pub type Actions = Vec<Action, 8>;

/// Timeouts and limits, all in milliseconds of the monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// An input screen (method, PIN, consent, passcode) waits this long for a key.
    pub input_timeout_ms: u64,
    /// A 目視 unlock waits this long for the card.
    pub visual_armed_timeout_ms: u64,
    /// The card operation or the host answer must come within this.
    pub operation_timeout_ms: u64,
    /// Notices (certificate expiring / grace) stay this long unless dismissed.
    pub notice_ms: u64,
    pub face_max_attempts: u8,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            input_timeout_ms: 60_000,
            visual_armed_timeout_ms: 120_000,
            operation_timeout_ms: 15_000,
            notice_ms: 4_000,
            face_max_attempts: 3,
        }
    }
}

/// What the session is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Phase {
    /// Automatic mode, no card.
    Idle,
    PasscodeEntry,
    /// 目視 unlocked, waiting for the card.
    VisualArmed,
    Identifying,
    CertNotice,
    ChooseMethod,
    PinEntry,
    PinConfirmLastTry,
    VerifyingPin,
    /// Reading the certificate after the PIN (Android).
    ReadingCertificate,
    PinLocked,
    AwaitChallenge,
    Signing,
    Face,
    FaceFailed,
    VisualCheck,
    ConsentIntro,
    Consent,
    Registration,
    /// Finished (done, refused, or aborted): waiting for the card to leave.
    Finished,
}

/// Where a passcode unlock leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterUnlock {
    /// From automatic mode: wait for the card.
    AwaitCard,
    /// A card is already identified (PIN locked, face failed): check it now.
    CheckNow,
}

/// What a session waiting for the host's challenge does once it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AwaitFor {
    Signature,
    Identity,
}

/// The state of the card on the reader for one session.
struct Context {
    session: u32,
    seq: u32,
    kind: CardKind,
    cert: Vec<u8, MAX_CERT>,
    validity: Option<Validity>,
    pin: PinState,
    method: Option<AuthMethod>,
    consents: Consents,
    consent_index: u8,
    registered: Option<bool>,
    registration: bool,
    signature: Vec<u8, SIGNATURE_LEN>,
    challenge: Option<[u8; 32]>,
    attestation: [u8; 32],
    face_attempts: u8,
    detected_at: u64,
    verified_at: u64,
    identity_sent: bool,
    card_present: bool,
    /// The staff account that unlocked 目視 for this session (kept for the identity).
    staff: Option<visual::AccountId>,
}

impl Context {
    fn new(session: u32) -> Self {
        Self {
            session,
            seq: 0,
            kind: CardKind::Unknown,
            cert: Vec::new(),
            validity: None,
            pin: PinState::Unavailable,
            method: None,
            consents: Consents::NONE,
            consent_index: 0,
            registered: None,
            registration: false,
            signature: Vec::new(),
            challenge: None,
            attestation: [0; 32],
            face_attempts: 0,
            detected_at: 0,
            verified_at: 0,
            identity_sent: false,
            card_present: false,
            staff: None,
        }
    }

    fn pin_usable(&self) -> bool {
        matches!(self.pin, PinState::TriesLeft(n) if n > 0)
            && matches!(self.kind, CardKind::PhysicalCard | CardKind::Android)
    }

    fn face_usable(&self) -> bool {
        // Face needs the photo on the chip: physical cards only.
        matches!(self.kind, CardKind::PhysicalCard | CardKind::PinlessCard)
    }

    fn tries_left(&self) -> u8 {
        match self.pin {
            PinState::TriesLeft(n) => n,
            PinState::Unavailable => 0,
        }
    }

    /// Medical-information consents are not asked in the grace period after expiry.
    fn consents_allowed(&self) -> bool {
        !matches!(self.validity, Some(Validity::Grace { .. }))
    }
}

pub struct Session {
    config: Config,
    phase: Phase,
    deadline: Option<u64>,
    ctx: Context,
    next_session: u32,
    /// Digits typed for a PIN or passcode; wiped as soon as they are used.
    digits: [u8; 4],
    entered: u8,
    after_unlock: AfterUnlock,
    awaiting: AwaitFor,
    staff: Option<visual::AccountId>,
    passcodes: PasscodeStore,
    pairing_key: PairingKey,
    /// Wall clock = monotonic + offset, from the host's time sync.
    clock_offset_ms: i64,
    clock_synced: bool,
    pending_challenge: Option<[u8; 32]>,
}

impl Session {
    /// `first_session` should differ across boots (e.g. from the TRNG) so that session ids
    /// never repeat towards the host.
    pub fn new(config: Config, pairing_key: PairingKey, first_session: u32) -> Self {
        Self {
            config,
            phase: Phase::Idle,
            deadline: None,
            ctx: Context::new(first_session),
            next_session: first_session,
            digits: [0; 4],
            entered: 0,
            after_unlock: AfterUnlock::AwaitCard,
            awaiting: AwaitFor::Identity,
            staff: None,
            passcodes: PasscodeStore::new(),
            pairing_key,
            clock_offset_ms: 0,
            clock_synced: false,
            pending_challenge: None,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }
    pub fn session_id(&self) -> u32 {
        self.ctx.session
    }
    /// When the driver should deliver [`Event::Tick`] next.
    pub fn next_deadline(&self) -> Option<u64> {
        self.deadline
    }
    pub fn passcodes(&self) -> &PasscodeStore {
        &self.passcodes
    }
    /// Re-pairing changes the key the reader attests with.
    pub fn set_pairing_key(&mut self, key: PairingKey) {
        self.pairing_key = key;
    }
    /// Whether 目視 mode is unlocked (false = automatic mode).
    pub fn visual_unlocked(&self) -> bool {
        self.staff.is_some()
    }

    fn wall_ms(&self, now: u64) -> u64 {
        (now as i64).saturating_add(self.clock_offset_ms).max(0) as u64
    }

    /// Builds the protocol message for a [`ToHost`] from the session's buffers.
    pub fn host_message(&self, out: &ToHost) -> Message<'_> {
        match out.message {
            Outgoing::CardDetected { kind } => Message::CardDetected { kind },
            Outgoing::CardRemoved => Message::CardRemoved,
            Outgoing::CertificateRead => Message::CertificateRead { auth_cert: &self.ctx.cert },
            Outgoing::CertExpiryNotice { expiry } => Message::CertExpiryNotice { expiry },
            Outgoing::AuthModesOffered { modes } => Message::AuthModesOffered { modes },
            Outgoing::AuthModeChosen { method } => Message::AuthModeChosen { method },
            Outgoing::PinOutcome { result, tries_left } => Message::PinOutcome { result, tries_left },
            Outgoing::FaceProgress { stage, attempt } => Message::FaceProgress { stage, attempt },
            Outgoing::FaceOutcome { decision, score_milli, attempts } => {
                Message::FaceOutcome { decision, score_milli, attempts }
            }
            Outgoing::VisualModeStarted => Message::VisualModeStarted {
                staff_account: self.staff.as_ref().map(|s| s.as_str()).unwrap_or(""),
            },
            Outgoing::VisualModeStopped { reason } => Message::VisualModeStopped { reason },
            Outgoing::VisualUnlockFailed { failures, locked_for_ms } => {
                Message::VisualUnlockFailed { failures, locked_for_ms }
            }
            Outgoing::ConsentAnswers { consents } => Message::ConsentAnswers { consents },
            Outgoing::VerifiedIdentity => {
                let c = &self.ctx;
                let challenge = c.challenge.unwrap_or([0; 32]);
                let method = c.method.unwrap_or(AuthMethod::Visual);
                let proof = match method {
                    AuthMethod::Pin | AuthMethod::OnDevice => {
                        Proof::CardSignature { challenge, signature: &c.signature }
                    }
                    AuthMethod::Face | AuthMethod::Visual => {
                        Proof::ReaderAttestation { challenge, attestation: &c.attestation }
                    }
                };
                Message::VerifiedIdentity(VerifiedIdentity {
                    auth_cert: &c.cert,
                    proof,
                    method,
                    card_kind: c.kind,
                    consents: c.consents,
                    staff_account: if method == AuthMethod::Visual {
                        c.staff.as_ref().map(|s| s.as_str())
                    } else {
                        None
                    },
                    registration: c.registration,
                    cert_expiry: c
                        .validity
                        .map(Validity::to_wire)
                        .unwrap_or(shikaku_protocol::message::CertExpiry::DaysLeft(0)),
                    card_detected_at: c.detected_at,
                    verified_at: c.verified_at,
                })
            }
            Outgoing::Error { code, remedy } => Message::Error { code, remedy, detail: "" },
        }
    }

    /// Handles one event at monotonic time `now` (ms).
    pub fn handle(&mut self, now: u64, event: Event<'_>) -> Actions {
        let mut out = Out { actions: Vec::new() };
        match event {
            Event::Tick => self.on_tick(now, &mut out),
            Event::CardPresent => self.on_card_present(now, &mut out),
            Event::CardRemoved => self.on_card_removed(now, &mut out),
            Event::Card(reply) => self.on_card(now, reply, &mut out),
            Event::Key(key) => self.on_key(now, key, &mut out),
            Event::PinEntered(pin) => {
                if self.phase == Phase::PinEntry {
                    self.submit_pin(now, pin, false, &mut out);
                }
            }
            Event::Face(reply) => self.on_face(now, reply, &mut out),
            Event::Host { message, authenticated } => self.on_host(now, message, authenticated, &mut out),
        }
        out.actions
    }

    // ---- plumbing ----

    fn enter(&mut self, now: u64, phase: Phase, timeout: Option<u64>) {
        self.phase = phase;
        self.deadline = timeout.map(|t| now.saturating_add(t));
    }

    fn send(&mut self, out: &mut Out, message: Outgoing) {
        let seq = self.ctx.seq;
        self.ctx.seq = self.ctx.seq.wrapping_add(1);
        out.push(Action::Send(ToHost { session: self.ctx.session, seq, message }));
    }

    fn clear_digits(&mut self) {
        wipe(&mut self.digits);
        self.entered = 0;
    }

    fn new_context(&mut self) {
        self.next_session = self.next_session.wrapping_add(1);
        self.ctx = Context::new(self.next_session);
    }

    /// Ends the session: wipes secrets and face buffers, leaves 目視 mode, shows `screen`.
    fn finish(&mut self, now: u64, screen: Screen, out: &mut Out) {
        self.clear_digits();
        out.push(Action::WipeFace);
        if self.staff.is_some() {
            let reason = if self.ctx.identity_sent {
                VisualStopReason::Completed
            } else {
                VisualStopReason::Cancelled
            };
            self.send(out, Outgoing::VisualModeStopped { reason });
            self.staff = None;
        }
        out.push(Action::Show(screen));
        if self.ctx.card_present {
            self.enter(now, Phase::Finished, None);
        } else {
            self.return_to_idle(now, out, false);
        }
    }

    /// Back to automatic mode. The finished session's buffers stay until the next session
    /// begins, so messages already handed out can still be encoded.
    fn return_to_idle(&mut self, now: u64, out: &mut Out, show: bool) {
        self.clear_digits();
        self.staff = None;
        self.enter(now, Phase::Idle, None);
        if show {
            out.push(Action::Show(Screen::PlaceCard));
        }
    }

    fn abort(&mut self, now: u64, code: ErrorCode, out: &mut Out) {
        if self.phase == Phase::Idle || self.phase == Phase::Finished {
            return;
        }
        if self.ctx.card_present || self.ctx.detected_at != 0 {
            self.send(out, Outgoing::Error { code, remedy: code.remedy() });
        }
        self.finish(now, Screen::Error { code, remedy: code.remedy() }, out);
    }

    // ---- events ----

    fn on_tick(&mut self, now: u64, out: &mut Out) {
        let Some(deadline) = self.deadline else { return };
        if now < deadline {
            return;
        }
        self.deadline = None;
        match self.phase {
            Phase::CertNotice => self.after_cert_notice(now, out),
            Phase::PasscodeEntry if self.after_unlock == AfterUnlock::AwaitCard => {
                self.clear_digits();
                self.return_to_idle(now, out, true);
            }
            Phase::VisualArmed => {
                // Back to automatic mode by itself.
                self.send(out, Outgoing::VisualModeStopped { reason: VisualStopReason::Timeout });
                self.staff = None;
                self.return_to_idle(now, out, true);
            }
            Phase::Idle | Phase::Finished => {}
            _ => self.abort(now, ErrorCode::SESSION_TIMEOUT, out),
        }
    }

    fn on_card_present(&mut self, now: u64, out: &mut Out) {
        match self.phase {
            Phase::Idle => self.new_context(),
            Phase::VisualArmed => {}
            _ => return, // a second card, or the same one bouncing: ignore
        }
        self.ctx.card_present = true;
        self.ctx.detected_at = self.wall_ms(now);
        self.ctx.challenge = self.pending_challenge.take();
        out.push(Action::Show(Screen::Reading));
        out.push(Action::Card(CardOp::Identify));
        self.enter(now, Phase::Identifying, Some(self.config.operation_timeout_ms));
    }

    fn on_card_removed(&mut self, now: u64, out: &mut Out) {
        let was_present = self.ctx.card_present;
        self.ctx.card_present = false;
        match self.phase {
            Phase::Idle | Phase::VisualArmed => {}
            Phase::Finished => {
                if was_present {
                    self.send(out, Outgoing::CardRemoved);
                }
                self.return_to_idle(now, out, true);
            }
            Phase::PasscodeEntry if self.after_unlock == AfterUnlock::AwaitCard => {}
            _ => {
                // Mid-session: clean abort, nothing half-forwarded.
                self.send(out, Outgoing::CardRemoved);
                self.send(
                    out,
                    Outgoing::Error {
                        code: ErrorCode::CARD_REMOVED,
                        remedy: ErrorCode::CARD_REMOVED.remedy(),
                    },
                );
                self.clear_digits();
                out.push(Action::WipeFace);
                if self.staff.is_some() {
                    self.send(out, Outgoing::VisualModeStopped { reason: VisualStopReason::CardRemoved });
                }
                self.return_to_idle(now, out, true);
            }
        }
    }

    fn on_card(&mut self, now: u64, reply: CardReply<'_>, out: &mut Out) {
        match (self.phase, reply) {
            (_, CardReply::Failed { error })
                if self.phase != Phase::Idle && self.phase != Phase::Finished =>
            {
                let code = match error {
                    CardFailure::Lost => ErrorCode::CARD_UNREADABLE,
                    CardFailure::NotMyNumberCard => ErrorCode::NOT_A_MY_NUMBER_CARD,
                    CardFailure::Protocol => ErrorCode::CARD_PROTOCOL,
                };
                self.abort(now, code, out);
            }
            (Phase::Identifying, CardReply::Identified { kind, auth_cert, not_after_unix_s, pin }) => {
                self.on_identified(now, kind, auth_cert, not_after_unix_s, pin, out)
            }
            (Phase::VerifyingPin, CardReply::PinVerified) => {
                self.ctx.pin = PinState::TriesLeft(3);
                self.send(out, Outgoing::PinOutcome { result: PinResult::Verified, tries_left: 3 });
                self.ctx.method = Some(AuthMethod::Pin);
                if self.ctx.cert.is_empty() {
                    out.push(Action::Card(CardOp::ReadCertificate));
                    self.enter(now, Phase::ReadingCertificate, Some(self.config.operation_timeout_ms));
                } else {
                    self.sign(now, out);
                }
            }
            (Phase::ReadingCertificate, CardReply::Certificate { auth_cert, not_after_unix_s }) => {
                if auth_cert.is_empty() || self.ctx.cert.extend_from_slice(auth_cert).is_err() {
                    self.abort(now, ErrorCode::CARD_PROTOCOL, out);
                    return;
                }
                self.send(out, Outgoing::CertificateRead);
                let validity = Validity::judge(not_after_unix_s, (self.wall_ms(now) / 1000) as i64);
                self.ctx.validity = Some(validity);
                match validity {
                    Validity::Valid { .. } => {}
                    Validity::ExpiringSoon { .. } | Validity::Grace { .. } => {
                        self.send(out, Outgoing::CertExpiryNotice { expiry: validity.to_wire() });
                    }
                    Validity::Refused { days_past } => {
                        self.send(out, Outgoing::CertExpiryNotice { expiry: validity.to_wire() });
                        let code = ErrorCode::CERT_EXPIRED_PAST_GRACE;
                        self.send(out, Outgoing::Error { code, remedy: code.remedy() });
                        self.finish(now, Screen::CertExpiredRefused { days_past }, out);
                        return;
                    }
                }
                self.sign(now, out);
            }
            (Phase::VerifyingPin, CardReply::PinWrong { tries_left }) => {
                self.ctx.pin = PinState::TriesLeft(tries_left);
                self.send(out, Outgoing::PinOutcome { result: PinResult::Wrong, tries_left });
                if tries_left == 0 {
                    self.pin_locked(now, out);
                } else {
                    out.push(Action::Show(Screen::PinWrong { tries_left }));
                    self.start_pin_entry(now, out);
                }
            }
            (Phase::VerifyingPin, CardReply::PinLocked) => {
                self.ctx.pin = PinState::Unavailable;
                self.send(out, Outgoing::PinOutcome { result: PinResult::Locked, tries_left: 0 });
                self.pin_locked(now, out);
            }
            (Phase::Signing, CardReply::Signed { signature }) => {
                if signature.len() != SIGNATURE_LEN {
                    self.abort(now, ErrorCode::CARD_PROTOCOL, out);
                    return;
                }
                self.ctx.signature.clear();
                let _ = self.ctx.signature.extend_from_slice(signature);
                if self.ctx.kind == CardKind::IPhone {
                    self.ctx.method = Some(AuthMethod::OnDevice);
                }
                self.confirmed(now, out);
            }
            _ => {} // late or unexpected answers are ignored; the deadline covers silence
        }
    }

    fn on_identified(
        &mut self,
        now: u64,
        kind: CardKind,
        cert: &[u8],
        not_after: i64,
        pin: PinState,
        out: &mut Out,
    ) {
        self.ctx.kind = kind;
        self.ctx.pin = pin;
        self.ctx.cert.clear();
        if kind == CardKind::Unknown {
            self.send(out, Outgoing::CardDetected { kind });
            self.abort(now, ErrorCode::NOT_A_MY_NUMBER_CARD, out);
            return;
        }
        if cert.is_empty() && kind == CardKind::Android {
            // The certificate comes after the PIN; its dates are checked then.
            self.send(out, Outgoing::CardDetected { kind });
            self.after_cert_notice(now, out);
            return;
        }
        if self.ctx.cert.extend_from_slice(cert).is_err() || cert.is_empty() {
            self.abort(now, ErrorCode::CARD_PROTOCOL, out);
            return;
        }
        self.send(out, Outgoing::CardDetected { kind });
        self.send(out, Outgoing::CertificateRead);
        let today = (self.wall_ms(now) / 1000) as i64;
        let validity = Validity::judge(not_after, today);
        self.ctx.validity = Some(validity);
        match validity {
            Validity::Valid { .. } => self.after_cert_notice(now, out),
            Validity::ExpiringSoon { days_left } => {
                self.send(out, Outgoing::CertExpiryNotice { expiry: validity.to_wire() });
                out.push(Action::Show(Screen::CertExpiringSoon { days_left }));
                self.enter(now, Phase::CertNotice, Some(self.config.notice_ms));
            }
            Validity::Grace { days_past } => {
                self.send(out, Outgoing::CertExpiryNotice { expiry: validity.to_wire() });
                out.push(Action::Show(Screen::CertExpiredGrace { days_past }));
                self.enter(now, Phase::CertNotice, Some(self.config.notice_ms));
            }
            Validity::Refused { days_past } => {
                self.send(out, Outgoing::CertExpiryNotice { expiry: validity.to_wire() });
                let code = ErrorCode::CERT_EXPIRED_PAST_GRACE;
                self.send(out, Outgoing::Error { code, remedy: code.remedy() });
                self.finish(now, Screen::CertExpiredRefused { days_past }, out);
            }
        }
    }

    /// After the certificate check: 目視 goes to the visual check, else the method choice.
    fn after_cert_notice(&mut self, now: u64, out: &mut Out) {
        if self.staff.is_some() {
            self.visual_check(now, out);
            return;
        }
        match self.ctx.kind {
            CardKind::IPhone => {
                // The phone asks its owner; the reader only asks it to sign.
                self.send(
                    out,
                    Outgoing::AuthModesOffered { modes: AuthModes::EMPTY.with(AuthMethod::OnDevice) },
                );
                self.ctx.method = Some(AuthMethod::OnDevice);
                out.push(Action::Show(Screen::ConfirmOnPhone));
                self.sign(now, out);
            }
            CardKind::Android => {
                // The phone's JPKI PIN, typed on the reader.
                self.send(out, Outgoing::AuthModesOffered { modes: AuthModes::EMPTY.with(AuthMethod::Pin) });
                if self.ctx.pin_usable() {
                    self.start_pin_entry(now, out);
                } else {
                    self.pin_locked(now, out);
                }
            }
            _ => self.offer_methods(now, out),
        }
    }

    fn offer_methods(&mut self, now: u64, out: &mut Out) {
        let face = self.ctx.face_usable();
        let pin = self.ctx.pin_usable();
        let mut modes = AuthModes::EMPTY;
        if face {
            modes = modes.with(AuthMethod::Face);
        }
        if pin {
            modes = modes.with(AuthMethod::Pin);
        }
        self.send(out, Outgoing::AuthModesOffered { modes });
        out.push(Action::Show(Screen::ChooseMethod { face, pin }));
        self.enter(now, Phase::ChooseMethod, Some(self.config.input_timeout_ms));
    }

    fn start_pin_entry(&mut self, now: u64, out: &mut Out) {
        self.clear_digits();
        out.push(Action::Show(Screen::PinEntry { entered: 0, tries_left: self.ctx.tries_left() }));
        self.enter(now, Phase::PinEntry, Some(self.config.input_timeout_ms));
    }

    fn pin_locked(&mut self, now: u64, out: &mut Out) {
        let face = self.ctx.face_usable();
        out.push(Action::Show(Screen::PinLocked { face }));
        self.enter(now, Phase::PinLocked, Some(self.config.input_timeout_ms));
    }

    fn submit_pin(&mut self, now: u64, pin: Pin4, last_try_confirmed: bool, out: &mut Out) {
        self.clear_digits();
        self.send(out, Outgoing::AuthModeChosen { method: AuthMethod::Pin });
        out.push(Action::Show(Screen::Reading));
        out.push(Action::Card(CardOp::VerifyPin { pin, last_try_confirmed }));
        self.enter(now, Phase::VerifyingPin, Some(self.config.operation_timeout_ms));
    }

    /// The PIN is complete: at one try left, ask first (the digits wait, wiped on any exit).
    fn pin_complete(&mut self, now: u64, out: &mut Out) {
        if self.ctx.tries_left() <= 1 {
            out.push(Action::Show(Screen::PinConfirmLastTry));
            self.enter(now, Phase::PinConfirmLastTry, Some(self.config.input_timeout_ms));
            return;
        }
        self.send_typed_pin(now, false, out);
    }

    fn send_typed_pin(&mut self, now: u64, confirmed: bool, out: &mut Out) {
        match Pin4::from_keypad(self.digits) {
            Some(pin) => self.submit_pin(now, pin, confirmed, out),
            None => self.start_pin_entry(now, out),
        }
    }

    fn sign(&mut self, now: u64, out: &mut Out) {
        match self.ctx.challenge {
            Some(challenge) => {
                out.push(Action::Card(CardOp::SignChallenge { challenge }));
                self.enter(now, Phase::Signing, Some(self.config.operation_timeout_ms));
            }
            None => {
                self.awaiting = AwaitFor::Signature;
                out.push(Action::Show(Screen::WaitingForHost));
                self.enter(now, Phase::AwaitChallenge, Some(self.config.operation_timeout_ms));
            }
        }
    }

    fn start_face(&mut self, now: u64, out: &mut Out) {
        self.ctx.face_attempts = self.ctx.face_attempts.saturating_add(1);
        let attempt = self.ctx.face_attempts;
        if attempt == 1 {
            self.send(out, Outgoing::AuthModeChosen { method: AuthMethod::Face });
        }
        self.send(out, Outgoing::FaceProgress { stage: FaceStage::Capturing, attempt });
        out.push(Action::Show(Screen::FaceInProgress { attempt, max: self.config.face_max_attempts }));
        out.push(Action::StartFace { attempt });
        self.enter(now, Phase::Face, Some(self.config.operation_timeout_ms));
    }

    fn on_face(&mut self, now: u64, reply: FaceReply, out: &mut Out) {
        if self.phase != Phase::Face {
            return;
        }
        let attempts = self.ctx.face_attempts;
        self.send(
            out,
            Outgoing::FaceOutcome { decision: reply.decision, score_milli: reply.score_milli, attempts },
        );
        out.push(Action::WipeFace);
        if reply.decision == FaceDecision::Match {
            self.ctx.method = Some(AuthMethod::Face);
            self.confirmed(now, out);
        } else if attempts >= self.config.face_max_attempts
            || reply.decision == FaceDecision::PhotoUnavailable
        {
            // Another attempt cannot get a photo the card front or the card refused: PIN or
            // staff (目視) now.
            let pin = self.ctx.pin_usable();
            out.push(Action::Show(Screen::FaceFailed { pin }));
            self.enter(now, Phase::FaceFailed, Some(self.config.input_timeout_ms));
        } else {
            out.push(Action::Show(Screen::FaceRetry {
                attempt: attempts,
                max: self.config.face_max_attempts,
            }));
            self.start_face(now, out);
        }
    }

    fn visual_check(&mut self, now: u64, out: &mut Out) {
        out.push(Action::Show(Screen::VisualCheck));
        self.enter(now, Phase::VisualCheck, Some(self.config.input_timeout_ms));
    }

    /// The holder is confirmed (PIN + signature, face, iPhone, or staff): consents next.
    fn confirmed(&mut self, now: u64, out: &mut Out) {
        self.ctx.verified_at = self.wall_ms(now);
        if self.ctx.consents_allowed() {
            out.push(Action::Show(Screen::ConsentIntro));
            self.enter(now, Phase::ConsentIntro, Some(self.config.input_timeout_ms));
        } else {
            self.after_consents(now, out);
        }
    }

    fn after_consents(&mut self, now: u64, out: &mut Out) {
        if self.ctx.consents_allowed() {
            let consents = self.ctx.consents;
            self.send(out, Outgoing::ConsentAnswers { consents });
        }
        if self.ctx.registered == Some(false) {
            out.push(Action::Show(Screen::RegistrationOffer));
            self.enter(now, Phase::Registration, Some(self.config.input_timeout_ms));
        } else {
            self.emit_identity(now, out);
        }
    }

    fn emit_identity(&mut self, now: u64, out: &mut Out) {
        let Some(challenge) = self.ctx.challenge else {
            self.awaiting = AwaitFor::Identity;
            out.push(Action::Show(Screen::WaitingForHost));
            self.enter(now, Phase::AwaitChallenge, Some(self.config.operation_timeout_ms));
            return;
        };
        if self.ctx.identity_sent {
            return;
        }
        let method = self.ctx.method.unwrap_or(AuthMethod::Visual);
        if matches!(method, AuthMethod::Face | AuthMethod::Visual) {
            let staff =
                if method == AuthMethod::Visual { self.staff.as_ref().map(|s| s.as_str()) } else { None };
            self.ctx.attestation = reader_attestation(
                &self.pairing_key,
                &challenge,
                &self.ctx.cert,
                method.to_wire(),
                staff,
                self.ctx.verified_at,
            );
        }
        self.ctx.identity_sent = true;
        self.send(out, Outgoing::VerifiedIdentity);
        let renewal_needed =
            matches!(self.ctx.validity, Some(Validity::ExpiringSoon { .. } | Validity::Grace { .. }));
        self.finish(now, Screen::Done { method, renewal_needed }, out);
    }

    fn on_key(&mut self, now: u64, key: Key, out: &mut Out) {
        match (self.phase, key) {
            (Phase::Idle, Key::Staff) => {
                self.new_context();
                self.after_unlock = AfterUnlock::AwaitCard;
                self.start_passcode(now, out);
            }
            (Phase::PasscodeEntry, Key::Digit(d)) if d <= 9 => {
                if (self.entered as usize) < self.digits.len() {
                    self.digits[self.entered as usize] = b'0' + d;
                    self.entered += 1;
                }
                if self.entered == 4 {
                    self.check_passcode(now, out);
                } else {
                    out.push(Action::Show(Screen::PasscodeEntry { entered: self.entered }));
                    self.deadline = Some(now + self.config.input_timeout_ms);
                }
            }
            (Phase::PasscodeEntry, Key::Clear) => {
                self.clear_digits();
                out.push(Action::Show(Screen::PasscodeEntry { entered: 0 }));
            }
            (Phase::PasscodeEntry, Key::Cancel) => {
                self.clear_digits();
                match self.after_unlock {
                    AfterUnlock::AwaitCard => self.return_to_idle(now, out, true),
                    AfterUnlock::CheckNow => self.pin_locked_or_methods(now, out),
                }
            }
            (Phase::VisualArmed, Key::Cancel) => {
                self.send(out, Outgoing::VisualModeStopped { reason: VisualStopReason::Cancelled });
                self.staff = None;
                self.return_to_idle(now, out, true);
            }
            (Phase::CertNotice, Key::Enter | Key::Yes) => self.after_cert_notice(now, out),
            (Phase::ChooseMethod, Key::ChooseFace) if self.ctx.face_usable() => self.start_face(now, out),
            (Phase::ChooseMethod, Key::ChoosePin) if self.ctx.pin_usable() => self.start_pin_entry(now, out),
            (Phase::ChooseMethod | Phase::PinLocked | Phase::FaceFailed, Key::Staff) => {
                self.after_unlock = AfterUnlock::CheckNow;
                self.start_passcode(now, out);
            }
            (Phase::PinLocked, Key::ChooseFace) if self.ctx.face_usable() => self.start_face(now, out),
            (Phase::FaceFailed, Key::ChoosePin) if self.ctx.pin_usable() => self.start_pin_entry(now, out),
            (Phase::PinEntry, Key::Digit(d)) if d <= 9 => {
                if (self.entered as usize) < self.digits.len() {
                    self.digits[self.entered as usize] = d;
                    self.entered += 1;
                }
                if self.entered == 4 {
                    self.pin_complete(now, out);
                } else {
                    out.push(Action::Show(Screen::PinEntry {
                        entered: self.entered,
                        tries_left: self.ctx.tries_left(),
                    }));
                    self.deadline = Some(now + self.config.input_timeout_ms);
                }
            }
            (Phase::PinEntry, Key::Clear) => self.start_pin_entry(now, out),
            (Phase::PinEntry, Key::Cancel) => {
                self.clear_digits();
                self.pin_locked_or_methods(now, out);
            }
            (Phase::PinConfirmLastTry, Key::Yes) => self.send_typed_pin(now, true, out),
            (Phase::PinConfirmLastTry, Key::No | Key::Cancel) => {
                // No try spent: the digits are wiped, face and 目視 stay open.
                self.clear_digits();
                self.send(
                    out,
                    Outgoing::PinOutcome { result: PinResult::Declined, tries_left: self.ctx.tries_left() },
                );
                self.pin_locked_or_methods(now, out);
            }
            (Phase::VisualCheck, Key::Yes | Key::Enter) => {
                self.ctx.method = Some(AuthMethod::Visual);
                self.send(out, Outgoing::AuthModeChosen { method: AuthMethod::Visual });
                self.confirmed(now, out);
            }
            (Phase::VisualCheck, Key::No | Key::Cancel) => {
                self.abort(now, ErrorCode::CANCELLED, out);
            }
            (Phase::ConsentIntro, Key::Yes) => {
                self.ctx.consents = Consents { comprehensive: ConsentAnswer::Agreed, ..Consents::NONE };
                self.after_consents(now, out);
            }
            (Phase::ConsentIntro, Key::No) => {
                self.ctx.consent_index = 0;
                self.show_consent(now, out);
            }
            (Phase::ConsentIntro, Key::Skip) => {
                self.ctx.consents = Consents {
                    medication: ConsentAnswer::Skipped,
                    health_checkup: ConsentAnswer::Skipped,
                    treatment: ConsentAnswer::Skipped,
                    surgery: ConsentAnswer::Skipped,
                    comprehensive: ConsentAnswer::Skipped,
                };
                self.after_consents(now, out);
            }
            (Phase::Consent, Key::Yes | Key::No | Key::Skip) => {
                let answer = match key {
                    Key::Yes => ConsentAnswer::Agreed,
                    Key::No => ConsentAnswer::Declined,
                    _ => ConsentAnswer::Skipped,
                };
                let c = &mut self.ctx.consents;
                match self.ctx.consent_index {
                    0 => c.medication = answer,
                    1 => c.health_checkup = answer,
                    2 => c.treatment = answer,
                    _ => c.surgery = answer,
                }
                self.ctx.consent_index += 1;
                if self.ctx.consent_index as usize >= ConsentItem::ALL.len() {
                    self.after_consents(now, out);
                } else {
                    self.show_consent(now, out);
                }
            }
            (Phase::Registration, Key::Yes | Key::No) => {
                self.ctx.registration = key == Key::Yes;
                self.emit_identity(now, out);
            }
            (Phase::Idle | Phase::Finished | Phase::PasscodeEntry, _) => {}
            (_, Key::Cancel) => self.abort(now, ErrorCode::CANCELLED, out),
            _ => {}
        }
    }

    fn pin_locked_or_methods(&mut self, now: u64, out: &mut Out) {
        if self.ctx.pin == PinState::Unavailable {
            self.pin_locked(now, out);
        } else if self.ctx.kind == CardKind::Android {
            self.start_pin_entry(now, out);
        } else {
            self.offer_methods(now, out);
        }
    }

    fn show_consent(&mut self, now: u64, out: &mut Out) {
        let index = self.ctx.consent_index;
        let item = ConsentItem::ALL[(index as usize).min(ConsentItem::ALL.len() - 1)];
        out.push(Action::Show(Screen::Consent { item, index }));
        self.enter(now, Phase::Consent, Some(self.config.input_timeout_ms));
    }

    fn start_passcode(&mut self, now: u64, out: &mut Out) {
        self.clear_digits();
        if self.passcodes.is_locked() {
            out.push(Action::Show(Screen::PasscodeLocked));
            self.back_from_passcode(now, out);
            return;
        }
        out.push(Action::Show(Screen::PasscodeEntry { entered: 0 }));
        self.enter(now, Phase::PasscodeEntry, Some(self.config.input_timeout_ms));
    }

    fn back_from_passcode(&mut self, now: u64, out: &mut Out) {
        match self.after_unlock {
            AfterUnlock::AwaitCard => {
                self.enter(now, Phase::Idle, None);
            }
            AfterUnlock::CheckNow => self.pin_locked_or_methods(now, out),
        }
    }

    fn check_passcode(&mut self, now: u64, out: &mut Out) {
        let digits = self.digits;
        self.clear_digits();
        let result = self.passcodes.check(&digits, now);
        let mut digits = digits;
        wipe(&mut digits);
        match result {
            Unlock::Granted(account) => {
                self.ctx.staff = Some(account.clone());
                self.staff = Some(account);
                self.send(out, Outgoing::VisualModeStarted);
                match self.after_unlock {
                    AfterUnlock::AwaitCard => {
                        out.push(Action::Show(Screen::VisualPlaceCard));
                        self.enter(now, Phase::VisualArmed, Some(self.config.visual_armed_timeout_ms));
                    }
                    AfterUnlock::CheckNow => self.visual_check(now, out),
                }
            }
            Unlock::Denied { failures, locked_for_ms } => {
                self.send(
                    out,
                    Outgoing::VisualUnlockFailed { failures, locked_for_ms: locked_for_ms as u32 },
                );
                if locked_for_ms > 0 {
                    out.push(Action::Show(Screen::PasscodeBackoff { wait_s: (locked_for_ms / 1000) as u16 }));
                } else {
                    out.push(Action::Show(Screen::PasscodeEntry { entered: 0 }));
                }
                self.deadline = Some(now + self.config.input_timeout_ms);
            }
            Unlock::BackingOff { wait_ms } => {
                out.push(Action::Show(Screen::PasscodeBackoff { wait_s: wait_ms.div_ceil(1000) as u16 }));
            }
            Unlock::Locked => {
                self.send(
                    out,
                    Outgoing::VisualUnlockFailed { failures: visual::LOCK_AFTER, locked_for_ms: u32::MAX },
                );
                out.push(Action::Show(Screen::PasscodeLocked));
                self.back_from_passcode(now, out);
            }
        }
    }

    fn on_host(&mut self, now: u64, message: Message<'_>, authenticated: bool, out: &mut Out) {
        match message {
            Message::HostChallenge { challenge } if authenticated => {
                if self.phase == Phase::Idle
                    || self.phase == Phase::VisualArmed
                    || self.phase == Phase::PasscodeEntry
                {
                    self.pending_challenge = Some(challenge);
                } else if self.ctx.challenge.is_none() {
                    self.ctx.challenge = Some(challenge);
                    if self.phase == Phase::AwaitChallenge {
                        match self.awaiting {
                            AwaitFor::Signature => self.sign(now, out),
                            AwaitFor::Identity => self.emit_identity(now, out),
                        }
                    }
                }
            }
            Message::RegistrationStatus { registered } if authenticated && self.phase != Phase::Idle => {
                self.ctx.registered = Some(registered);
            }
            Message::TimeSync { unix_ms } if authenticated => {
                self.clock_offset_ms = (unix_ms as i64).saturating_sub(now as i64);
                self.clock_synced = true;
            }
            Message::PasscodeProvision { account, salt, iterations, hash } => {
                let _ = self.passcodes.provision(account, salt, iterations, hash, authenticated);
            }
            Message::PasscodeRevoke { account } => {
                let _ = self.passcodes.revoke(account, authenticated);
            }
            Message::Cancel { .. } if authenticated => match self.phase {
                Phase::Idle => {}
                Phase::VisualArmed | Phase::PasscodeEntry => {
                    if self.staff.is_some() {
                        self.send(out, Outgoing::VisualModeStopped { reason: VisualStopReason::Cancelled });
                    }
                    self.return_to_idle(now, out, true);
                }
                _ => self.abort(now, ErrorCode::CANCELLED, out),
            },
            _ => {}
        }
    }

    /// The synchronised wall clock (Unix ms) at monotonic `now`, once the host has set it.
    pub fn wall_clock_ms(&self, now: u64) -> Option<u64> {
        self.clock_synced.then(|| self.wall_ms(now))
    }

    /// Whether the wall clock has been set by the host.
    pub fn clock_synced(&self) -> bool {
        self.clock_synced
    }
}

/// Collects actions; a full list drops the surplus (the list is sized for the worst path).
struct Out {
    actions: Actions,
}

impl Out {
    fn push(&mut self, action: Action) {
        if self.actions.push(action).is_err() {
            warn!("session: action list full");
        }
    }
}
