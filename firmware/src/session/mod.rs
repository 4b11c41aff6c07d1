//! The reader's session core: a sans-IO state machine for one reception at the counter.
//!
//! It takes [`Event`]s (card, keypad, face engine, host, time) with the current monotonic
//! [`Instant`] and returns [`Action`]s (card operations, screens, host messages, face
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
//!
//! The session is in one `State` at a time, and each state holds the data that is valid in
//! it only (the digits typed, where a 目視 unlock leads, what an awaited challenge is for, the
//! consent question on screen); [`Phase`] is its observable kind. What belongs to the whole
//! reception (the card, its certificate and validity, the answers so far) is in the
//! per-card `Context`. This file keeps the session, the dispatch of events and the shared
//! plumbing; each flow has its own file: `identify` (card, certificate, method choice),
//! `pin`, `passcode` (目視 unlock and check), `face`, `consent`, `registration`, `identity`
//! (challenge, signature, verified identity) and `host` (host messages in and out).

mod action;
mod consent;
mod digits;
mod event;
pub mod expiry;
mod face;
mod host;
mod identify;
mod identity;
mod pairing;
mod passcode;
mod pin;
mod registration;
pub mod screen;
pub mod visual;

pub use action::{Action, CardOp, Outgoing, PairingStep, ToHost};
pub use event::{CardFailure, CardReply, Event, FaceReply, Key, PinState};
pub use expiry::Validity;
pub use face::FaceVerifier;
pub use screen::{ConsentItem, Screen};
pub use visual::{PasscodeStore, Unlock};

use heapless::Vec;
use shikaku_protocol::auth::PairingKey;
use shikaku_protocol::message::{AuthMethod, CardKind, Consents, ErrorCode, VisualStopReason};
use shikaku_protocol::{Duration, Instant, UnixMillis};

use digits::DigitEntry;
use identity::AwaitFor;
use passcode::AfterUnlock;

/// Longest auth certificate kept for the verified identity.
pub const MAX_CERT: usize = 2048;
/// RSA-2048 signature length.
pub const SIGNATURE_LEN: usize = 256;

/// Actions from one event; never more than this many.
pub type Actions = Vec<Action, 8>;

/// Timeouts (spans of the monotonic clock) and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// An input screen (method, PIN, consent, passcode) waits this long for a key.
    pub input_timeout: Duration,
    /// A 目視 unlock waits this long for the card.
    pub visual_armed_timeout: Duration,
    /// The card operation or the host answer must come within this.
    pub operation_timeout: Duration,
    /// After the consents, how long the reader waits for the host's answer on the card's
    /// registration (初回登録) if it has not come yet; then it goes on as registered (the
    /// eligibility system refuses an unregistered card with its remedy).
    pub registration_wait: Duration,
    /// Notices (certificate expiring / grace) stay this long unless dismissed.
    pub notice: Duration,
    pub face_max_attempts: u8,
    /// Pairing mode, once staff open it on the reader, lasts this long.
    pub pairing_window: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            input_timeout: Duration::from_secs(60),
            visual_armed_timeout: Duration::from_secs(120),
            operation_timeout: Duration::from_secs(15),
            registration_wait: Duration::from_secs(3),
            notice: Duration::from_secs(4),
            face_max_attempts: 3,
            pairing_window: Duration::from_secs(120),
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
    /// Pairing mode open on the reader: waiting for the host's pairing request.
    Pairing,
    /// Staff compare the pairing code with the host's and accept or reject it.
    PairingConfirm,
}

/// The session's state: one variant per [`Phase`], carrying the data valid in that phase
/// only. Leaving a state drops its data (typed digits are wiped on drop).
#[derive(Debug)]
enum State {
    Idle,
    /// The 目視 passcode being typed, and where a granted unlock leads.
    PasscodeEntry {
        entry: DigitEntry,
        after: AfterUnlock,
    },
    VisualArmed,
    Identifying,
    CertNotice,
    ChooseMethod,
    /// The PIN being typed.
    PinEntry {
        entry: DigitEntry,
    },
    /// All four PIN digits, waiting for the holder's yes to spend the last try.
    PinConfirmLastTry {
        entry: DigitEntry,
    },
    VerifyingPin,
    ReadingCertificate,
    PinLocked,
    /// Waiting for the host — its challenge, or its answer on the card's registration — and
    /// what to do once it is here.
    AwaitChallenge {
        purpose: AwaitFor,
    },
    Signing,
    Face,
    FaceFailed,
    VisualCheck,
    ConsentIntro,
    /// The consent question on screen (index into [`ConsentItem::ALL`]).
    Consent {
        index: u8,
    },
    Registration,
    Finished,
    PairingOpen,
    /// A confirmed exchange's code on screen until staff accept or reject it.
    PairingConfirm,
}

impl State {
    fn phase(&self) -> Phase {
        match self {
            State::Idle => Phase::Idle,
            State::PasscodeEntry { .. } => Phase::PasscodeEntry,
            State::VisualArmed => Phase::VisualArmed,
            State::Identifying => Phase::Identifying,
            State::CertNotice => Phase::CertNotice,
            State::ChooseMethod => Phase::ChooseMethod,
            State::PinEntry { .. } => Phase::PinEntry,
            State::PinConfirmLastTry { .. } => Phase::PinConfirmLastTry,
            State::VerifyingPin => Phase::VerifyingPin,
            State::ReadingCertificate => Phase::ReadingCertificate,
            State::PinLocked => Phase::PinLocked,
            State::AwaitChallenge { .. } => Phase::AwaitChallenge,
            State::Signing => Phase::Signing,
            State::Face => Phase::Face,
            State::FaceFailed => Phase::FaceFailed,
            State::VisualCheck => Phase::VisualCheck,
            State::ConsentIntro => Phase::ConsentIntro,
            State::Consent { .. } => Phase::Consent,
            State::Registration => Phase::Registration,
            State::Finished => Phase::Finished,
            State::PairingOpen => Phase::Pairing,
            State::PairingConfirm => Phase::PairingConfirm,
        }
    }
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
    registered: Option<bool>,
    registration: bool,
    signature: Vec<u8, SIGNATURE_LEN>,
    challenge: Option<[u8; 32]>,
    attestation: [u8; 32],
    /// Face attempts in this reception; they count across the method choices.
    face_attempts: u8,
    /// Wall-clock readings (see `Session::wall`), sent to the host as Unix ms.
    detected_at: UnixMillis,
    verified_at: UnixMillis,
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
            registered: None,
            registration: false,
            signature: Vec::new(),
            challenge: None,
            attestation: [0; 32],
            face_attempts: 0,
            detected_at: UnixMillis(0),
            verified_at: UnixMillis(0),
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
    state: State,
    deadline: Option<Instant>,
    ctx: Context,
    next_session: u32,
    /// The staff account while 目視 mode is unlocked.
    staff: Option<visual::AccountId>,
    passcodes: PasscodeStore,
    pairing_key: PairingKey,
    /// Wall clock − monotonic clock in ms (signed: either may be ahead), from the host's
    /// time sync; wall clock = monotonic + offset.
    clock_offset_ms: i64,
    clock_synced: bool,
    /// A challenge that came before the card (in automatic mode, while a passcode is typed or
    /// 目視 waits for the card); the next card's session takes it.
    pending_challenge: Option<[u8; 32]>,
}

impl Session {
    /// `first_session` should differ across boots (e.g. from the TRNG) so that session ids
    /// never repeat towards the host.
    pub fn new(config: Config, pairing_key: PairingKey, first_session: u32) -> Self {
        Self {
            config,
            state: State::Idle,
            deadline: None,
            ctx: Context::new(first_session),
            next_session: first_session,
            staff: None,
            passcodes: PasscodeStore::new(),
            pairing_key,
            clock_offset_ms: 0,
            clock_synced: false,
            pending_challenge: None,
        }
    }

    pub fn phase(&self) -> Phase {
        self.state.phase()
    }
    pub fn session_id(&self) -> u32 {
        self.ctx.session
    }
    /// When the driver should deliver [`Event::Tick`] next.
    #[must_use]
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadline
    }
    pub fn passcodes(&self) -> &PasscodeStore {
        &self.passcodes
    }
    /// Puts back the accounts and failure count kept before a restart.
    pub fn restore_passcodes<'a>(
        &mut self,
        accounts: impl IntoIterator<Item = visual::AccountRecord<'a>>,
        failures: u8,
        now: Instant,
    ) {
        self.passcodes.restore(accounts, failures, now);
    }
    /// Re-pairing changes the key the reader attests with.
    pub fn set_pairing_key(&mut self, key: PairingKey) {
        self.pairing_key = key;
    }
    /// Whether 目視 mode is unlocked (false = automatic mode).
    pub fn visual_unlocked(&self) -> bool {
        self.staff.is_some()
    }

    /// The synchronised wall clock at monotonic `now`, once the host has set it.
    #[must_use]
    pub fn wall_clock(&self, now: Instant) -> Option<UnixMillis> {
        self.clock_synced.then(|| self.wall(now))
    }

    /// Whether the wall clock has been set by the host.
    pub fn clock_synced(&self) -> bool {
        self.clock_synced
    }

    /// The wall clock at monotonic `now` (before any sync, the monotonic reading itself).
    fn wall(&self, now: Instant) -> UnixMillis {
        UnixMillis((now.as_millis() as i64).saturating_add(self.clock_offset_ms).max(0) as u64)
    }

    /// Handles one event at monotonic time `now`.
    #[must_use = "the actions must be carried out (and each Send encoded) before the next event"]
    pub fn handle(&mut self, now: Instant, event: Event<'_>) -> Actions {
        let mut out = Out { actions: Vec::new() };
        match event {
            Event::Tick => self.on_tick(now, &mut out),
            Event::CardPresent => self.on_card_present(now, &mut out),
            Event::CardRemoved => self.on_card_removed(now, &mut out),
            Event::Card(reply) => self.on_card(now, reply, &mut out),
            Event::Key(key) => self.on_key(now, key, &mut out),
            Event::PinEntered(pin) => self.on_pin_entered(now, pin, &mut out),
            Event::Face(reply) => self.on_face(now, reply, &mut out),
            Event::Host { message, authenticated } => self.on_host(now, message, authenticated, &mut out),
            Event::PairingCode { code } => self.on_pairing_code(now, code, &mut out),
        }
        out.actions
    }

    // ---- plumbing ----

    /// The one place the state changes: digits typed in the phase left are wiped here (an
    /// explicit wipe rather than `Drop` on the digits, whose glue would follow every state
    /// value around: 80 B of flash on the reader).
    fn enter(&mut self, now: Instant, state: State, timeout: Option<Duration>) {
        self.wipe_digits();
        self.state = state;
        self.deadline = timeout.map(|t| now + t);
    }

    fn wipe_digits(&mut self) {
        if let State::PasscodeEntry { entry, .. }
        | State::PinEntry { entry, .. }
        | State::PinConfirmLastTry { entry, .. } = &mut self.state
        {
            entry.clear();
        }
    }

    fn send(&mut self, out: &mut Out, message: Outgoing) {
        let seq = self.ctx.seq;
        self.ctx.seq = self.ctx.seq.wrapping_add(1);
        out.push(Action::Send(ToHost { session: self.ctx.session, seq, message }));
    }

    /// Wipes the digits typed in this state, if it holds any.
    fn clear_digits(&mut self) {
        if let State::PasscodeEntry { entry, .. }
        | State::PinEntry { entry }
        | State::PinConfirmLastTry { entry } = &mut self.state
        {
            entry.clear();
        }
    }

    fn new_context(&mut self) {
        self.next_session = self.next_session.wrapping_add(1);
        self.ctx = Context::new(self.next_session);
    }

    /// Ends the session: wipes secrets and face buffers, leaves 目視 mode, shows `screen`.
    fn finish(&mut self, now: Instant, screen: Screen, out: &mut Out) {
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
            self.enter(now, State::Finished, None);
        } else {
            self.return_to_idle(now, out, false);
        }
    }

    /// Back to automatic mode. The finished session's buffers stay until the next session
    /// begins, so messages already handed out can still be encoded.
    fn return_to_idle(&mut self, now: Instant, out: &mut Out, show: bool) {
        self.staff = None;
        self.enter(now, State::Idle, None);
        if show {
            out.push(Action::Show(Screen::PlaceCard));
        }
    }

    fn abort(&mut self, now: Instant, code: ErrorCode, out: &mut Out) {
        if matches!(self.state, State::Idle | State::Finished) {
            return;
        }
        if self.ctx.card_present || self.ctx.detected_at != UnixMillis(0) {
            self.send(out, Outgoing::Error { code, remedy: code.remedy() });
        }
        self.finish(now, Screen::Error { code, remedy: code.remedy() }, out);
    }

    // ---- events ----

    fn on_tick(&mut self, now: Instant, out: &mut Out) {
        let Some(deadline) = self.deadline else { return };
        if now < deadline {
            return;
        }
        self.deadline = None;
        match self.state {
            State::CertNotice => self.after_cert_notice(now, out),
            // The host never said whether the card is registered: go on as registered.
            State::AwaitChallenge { purpose: AwaitFor::Registration } => {
                self.ctx.registered = Some(true);
                self.offer_registration(now, out)
            }
            State::PasscodeEntry { after: AfterUnlock::AwaitCard, .. } => self.return_to_idle(now, out, true),
            State::VisualArmed => self.visual_timed_out(now, out),
            State::PasscodeEntry { after: AfterUnlock::OpenPairing, .. } => {
                self.return_to_idle(now, out, true)
            }
            State::PairingOpen | State::PairingConfirm => self.pairing_timed_out(now, out),
            State::Idle | State::Finished => {}
            _ => self.abort(now, ErrorCode::SESSION_TIMEOUT, out),
        }
    }

    fn on_card_present(&mut self, now: Instant, out: &mut Out) {
        match self.state {
            State::Idle => self.new_context(),
            State::VisualArmed => {}
            _ => return, // a second card, or the same one bouncing: ignore
        }
        self.ctx.card_present = true;
        self.ctx.detected_at = self.wall(now);
        self.ctx.challenge = self.pending_challenge.take();
        out.push(Action::Show(Screen::Reading));
        out.push(Action::Card(CardOp::Identify));
        self.enter(now, State::Identifying, Some(self.config.operation_timeout));
    }

    fn on_card_removed(&mut self, now: Instant, out: &mut Out) {
        let was_present = self.ctx.card_present;
        self.ctx.card_present = false;
        match self.state {
            State::Idle | State::VisualArmed => {}
            State::Finished => {
                if was_present {
                    self.send(out, Outgoing::CardRemoved);
                }
                self.return_to_idle(now, out, true);
            }
            State::PasscodeEntry { after: AfterUnlock::AwaitCard | AfterUnlock::OpenPairing, .. } => {}
            State::PairingOpen | State::PairingConfirm => {}
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
                out.push(Action::WipeFace);
                if self.staff.is_some() {
                    self.send(out, Outgoing::VisualModeStopped { reason: VisualStopReason::CardRemoved });
                }
                self.return_to_idle(now, out, true);
            }
        }
    }

    fn on_card(&mut self, now: Instant, reply: CardReply<'_>, out: &mut Out) {
        match (self.phase(), reply) {
            (phase, CardReply::Failed { error }) if phase != Phase::Idle && phase != Phase::Finished => {
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
            (Phase::VerifyingPin | Phase::ReadingCertificate, reply) => self.on_pin_reply(now, reply, out),
            (Phase::Signing, CardReply::Signed { signature }) => self.on_signed(now, signature, out),
            _ => {} // late or unexpected answers are ignored; the deadline covers silence
        }
    }

    fn on_key(&mut self, now: Instant, key: Key, out: &mut Out) {
        let handled = match self.state {
            State::Idle | State::PasscodeEntry { .. } | State::VisualArmed | State::VisualCheck => {
                self.visual_key(now, key, out)
            }
            State::CertNotice | State::ChooseMethod | State::PinLocked | State::FaceFailed => {
                self.method_key(now, key, out)
            }
            State::PinEntry { .. } | State::PinConfirmLastTry { .. } => self.pin_key(now, key, out),
            State::ConsentIntro | State::Consent { .. } => self.consent_key(now, key, out),
            State::Registration => self.registration_key(now, key, out),
            State::PairingOpen | State::PairingConfirm => self.pairing_key(now, key, out),
            _ => false,
        };
        // Any other Cancel ends the session (it does nothing in automatic mode or once finished).
        if !handled && key == Key::Cancel {
            self.abort(now, ErrorCode::CANCELLED, out);
        }
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

/// A session dropped mid-entry (on the host; the reader's lives as long as the device) leaves
/// no digits behind.
impl Drop for Session {
    fn drop(&mut self) {
        self.wipe_digits();
    }
}
