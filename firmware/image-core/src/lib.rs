//! The reader's main loop, the same on the reference board and under QEMU: the session core
//! ([`Session`]), the reader's protocol end ([`ReaderEndpoint`]) and the card operations
//! ([`card_ops`]) over the ISO/IEC 14443 stack, glued to a [`Platform`] (clock, host byte
//! pipe, keypad, display, entropy, optionally a face engine) and an [`NfcFrontend`], without
//! heap. The simulated rig (`hil-tests/src/rig`) runs this same loop on the host, with a
//! platform in virtual time and the simulated frontend.
//!
//! One [`Reader::poll`] call: host bytes in → link → session; keys → session; card presence
//! (poll for a Type B card when none is in the field, presence check while one is); a tick;
//! the session's actions carried out (frames queued, card operations run and their replies fed
//! back, screens shown, pairing steps and what must survive a restart kept); frames out.
//!
//! What must survive a power cut goes to the platform's [`Storage`] as it happens: the pairing
//! key when staff accept a pairing, the 目視 accounts when the host provisions them, the
//! passcode failure count after every try, and each verified identity until the host
//! acknowledges it. At boot the image reads them back ([`Reader::new`]'s key,
//! [`Reader::restore_passcodes`], [`Reader::restore_pending`]).
//!
//! A new card session starts only while the outbox has room for its identity
//! ([`ReaderEndpoint::has_room_for_identity`]); otherwise the patient sees
//! [`Screen::ResultsPending`] until the host takes what is waiting.
#![no_std]
#![forbid(unsafe_code)]

#[macro_use]
extern crate shikaku_fmt;
shikaku_fmt::check_features!();

pub mod storage;
pub mod uart_frontend;
pub mod wire;

use heapless::{String, Vec};
use shikaku_firmware::drive::card_ops;
use shikaku_firmware::nfc::iso_dep::IsoDepConfig;
use shikaku_firmware::nfc::{type_b, IsoDep, IsoDepParams, NfcFrontend};
use shikaku_firmware::session::visual::AccountRecord;
use shikaku_firmware::session::{
    Action, Actions, CardFailure, CardOp, CardReply, Config, Event, FaceReply, FaceVerifier, Key,
    PairingStep, Phase, Screen, Session,
};
use shikaku_protocol::auth::PairingKey;
use shikaku_protocol::endpoint::reader::{Diagnostics, Entropy, Identity, LinkInput, ReaderEndpoint};
use shikaku_protocol::message::{CancelReason, FaceDecision, Message, PasscodeOutcome, SelfTest};
use shikaku_protocol::{Duration, Error, Header, Instant, MAX_FRAME};

/// A write to the reader's persistent store failed (worn or faulty flash): the reader goes on,
/// but what was not written is lost at the next power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageFailed;

/// What the reader keeps across restarts and power cuts. The board keeps it in the MCU's
/// internal flash; QEMU in an emulated flash region; rigs in memory.
pub trait Storage {
    /// The pairing key staff accepted on the keypad.
    fn save_pairing_key(&mut self, key: &[u8; 32]) -> Result<(), StorageFailed>;
    /// All 目視 accounts (salted hashes), replacing what was kept.
    fn save_passcodes(
        &mut self,
        accounts: &mut dyn Iterator<Item = AccountRecord<'_>>,
    ) -> Result<(), StorageFailed>;
    /// The passcode failure count.
    fn save_lockout(&mut self, failures: u8) -> Result<(), StorageFailed>;
    /// A verified identity until the host acknowledges it.
    fn save_pending(&mut self, header: &Header, payload: &[u8]) -> Result<(), StorageFailed>;
    /// The host acknowledged `(session, seq)`.
    fn remove_pending(&mut self, session: u32, seq: u32) -> Result<(), StorageFailed>;
}

/// What the main loop needs from the board (or from QEMU's UARTs).
pub trait Platform {
    /// The monotonic clock (since boot).
    fn now(&mut self) -> Instant;
    /// Bytes from the host, without blocking; returns how many were written into `buf`.
    fn host_read(&mut self, buf: &mut [u8]) -> usize;
    /// Bytes to the host (blocking until queued).
    fn host_write(&mut self, bytes: &[u8]);
    /// The next key pressed, if any.
    fn key(&mut self) -> Option<Key>;
    /// Shows a screen (display) and reports the session's phase (for rigs).
    fn show(&mut self, screen: &Screen, phase: Phase);
    /// The session's phase or the link state changed (rigs script the patient from this).
    fn status(&mut self, _status: Status) {}
    /// The random source for nonces and pairing.
    fn entropy(&mut self) -> &mut dyn Entropy;
    /// The face engine, if the platform has one. Without one (the images: no camera, no
    /// engine) every face attempt is answered `PhotoUnavailable`, so the session goes
    /// straight to PIN or staff (目視).
    fn face(&mut self) -> Option<&mut dyn FaceVerifier> {
        None
    }
    /// A card operation is about to run (for rigs and logs; the PIN is inside `op`, so a
    /// platform must not log it).
    fn card_op(&mut self, _op: &CardOp) {}
    /// What came back for the last card operation: the driver's reply, or `None` when the
    /// card left the field before it answered (reported to the session as a removal).
    fn card_answer(&mut self, _reply: Option<&CardReply<'_>>) {}
    /// Where the reader keeps what must survive a restart; `None`: nothing is kept (a reboot
    /// forgets the pairing, the accounts, the lock-out and unacknowledged identities).
    fn storage(&mut self) -> Option<&mut dyn Storage> {
        None
    }
}

/// The state a rig or a status LED cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub phase: Phase,
    pub secured: bool,
    pub clock_synced: bool,
    pub card: bool,
    pub pending: u8,
}

/// How often to look for a card while none is in the field, and to check it is still there.
pub const CARD_POLL: Duration = Duration::from_millis(150);
pub const PRESENCE_CHECK: Duration = Duration::from_millis(300);

/// The reader: session, link and the card link over the frontend.
pub struct Reader<F: NfcFrontend> {
    pub session: Session,
    pub link: ReaderEndpoint,
    air: IsoDep<F>,
    card: bool,
    next_card_poll: Instant,
    buf: [u8; card_ops::BUFFER_LEN],
    frame: [u8; MAX_FRAME],
    last_status: Option<Status>,
    nfc_ok: bool,
    results_pending_shown: bool,
    pub frames_rx: u32,
    pub frames_rejected: u32,
    /// Session messages the link's outbox would not take (full).
    pub outbox_full: u32,
    /// Writes to the platform's storage that failed.
    pub storage_failures: u32,
}

/// A host message copied out of the link's buffer, so the session can run while the link is
/// borrowed again for the frames it queues.
enum OwnedHost {
    TimeSync(u64),
    Challenge([u8; 32]),
    Registration(bool),
    Provision { account: String<64>, salt: [u8; 16], iterations: u32, hash: [u8; 32] },
    Revoke(String<64>),
    Cancel(CancelReason),
    Diagnostics,
    Other,
}

impl OwnedHost {
    fn from(m: &Message<'_>) -> Self {
        let text = |s: &str| String::<64>::try_from(s).ok();
        match *m {
            Message::TimeSync { unix_ms } => Self::TimeSync(unix_ms),
            Message::HostChallenge { challenge } => Self::Challenge(challenge),
            Message::RegistrationStatus { registered } => Self::Registration(registered),
            Message::PasscodeProvision { account, salt, iterations, hash } => match text(account) {
                Some(account) => Self::Provision { account, salt, iterations, hash },
                None => Self::Other,
            },
            Message::PasscodeRevoke { account } => text(account).map(Self::Revoke).unwrap_or(Self::Other),
            Message::Cancel { reason } => Self::Cancel(reason),
            Message::DiagnosticsRequest => Self::Diagnostics,
            _ => Self::Other,
        }
    }

    fn as_message(&self) -> Option<Message<'_>> {
        Some(match self {
            Self::TimeSync(unix_ms) => Message::TimeSync { unix_ms: *unix_ms },
            Self::Challenge(challenge) => Message::HostChallenge { challenge: *challenge },
            Self::Registration(registered) => Message::RegistrationStatus { registered: *registered },
            Self::Provision { account, salt, iterations, hash } => {
                Message::PasscodeProvision { account, salt: *salt, iterations: *iterations, hash: *hash }
            }
            Self::Revoke(account) => Message::PasscodeRevoke { account },
            Self::Cancel(reason) => Message::Cancel { reason: *reason },
            Self::Diagnostics | Self::Other => return None,
        })
    }
}

impl<F: NfcFrontend> Reader<F> {
    /// A reader with its identity, its pairing key (if paired) and the first session id
    /// (from the TRNG at boot, so ids do not repeat across restarts).
    pub fn new(id: Identity, key: Option<[u8; 32]>, first_session: u32, fe: F) -> Self {
        Self::with_iso_dep(id, key, first_session, fe, IsoDepConfig::default())
    }

    /// [`Reader::new`] with another ISO-DEP configuration (retries, for rigs).
    pub fn with_iso_dep(
        id: Identity,
        key: Option<[u8; 32]>,
        first_session: u32,
        fe: F,
        config: IsoDepConfig,
    ) -> Self {
        let params = IsoDepParams { fsc: 32, fwi: 4, cid: None, nad_supported: false };
        Self {
            session: Session::new(Config::default(), PairingKey(key.unwrap_or([0; 32])), first_session),
            link: ReaderEndpoint::new(id, key.map(PairingKey)),
            air: IsoDep::with_config(fe, params, config),
            card: false,
            next_card_poll: Instant::ZERO,
            buf: [0; card_ops::BUFFER_LEN],
            frame: [0; MAX_FRAME],
            last_status: None,
            nfc_ok: true,
            results_pending_shown: false,
            frames_rx: 0,
            frames_rejected: 0,
            outbox_full: 0,
            storage_failures: 0,
        }
    }

    /// Puts back the 目視 accounts and the failure count kept before a restart.
    pub fn restore_passcodes<'a>(
        &mut self,
        accounts: impl IntoIterator<Item = AccountRecord<'a>>,
        failures: u8,
        now: Instant,
    ) {
        self.session.restore_passcodes(accounts, failures, now);
    }

    /// Puts back an identity kept before a restart and not yet acknowledged: it goes to the
    /// host on the next connection (the host's journal drops it if it already has it).
    pub fn restore_pending(&mut self, header: Header, payload: &[u8], now: Instant) {
        if self.link.restore(header, payload, now).is_err() {
            self.outbox_full = self.outbox_full.wrapping_add(1);
        }
    }

    pub fn frontend_mut(&mut self) -> &mut F {
        self.air.frontend_mut()
    }

    /// The frontend back (a rig rebuilding the reader after a simulated power cut).
    pub fn into_frontend(self) -> F {
        self.air.into_frontend()
    }

    pub fn frontend(&self) -> &F {
        self.air.frontend()
    }

    /// Whether a card is known to be in the field (activated, not yet found gone).
    pub fn card_in_field(&self) -> bool {
        self.card
    }

    /// When [`Reader::poll`] next looks for a card or checks the known one (for hosts that
    /// poll in virtual time; a board simply polls in a loop).
    pub fn next_card_poll(&self) -> Instant {
        self.next_card_poll
    }

    /// One turn of the main loop.
    pub fn poll<P: Platform>(&mut self, p: &mut P) {
        let now = p.now();
        self.host_input(p, now);
        while let Some(k) = p.key() {
            let actions = self.session.handle(now, Event::Key(k));
            self.run(p, now, actions);
        }
        self.card_presence(p, now);
        let actions = self.session.handle(now, Event::Tick);
        self.run(p, now, actions);
        self.host_output(p, now);
        self.report(p);
    }

    fn host_input<P: Platform>(&mut self, p: &mut P, now: Instant) {
        let mut rx = [0u8; 256];
        let n = p.host_read(&mut rx);
        let mut bytes = &rx[..n];
        while !bytes.is_empty() {
            let k = self.link.push_rx(bytes);
            bytes = bytes.get(k..).unwrap_or(&[]);
            loop {
                let input = match self.link.poll_input(now, p.entropy()) {
                    None => break,
                    Some(LinkInput::Host { message }) => {
                        self.frames_rx = self.frames_rx.wrapping_add(1);
                        Some(OwnedHost::from(&message))
                    }
                    Some(LinkInput::PairingCode { code }) => {
                        let actions = self.session.handle(now, Event::PairingCode { code });
                        self.run(p, now, actions);
                        None
                    }
                    Some(LinkInput::Acked { session, seq }) => {
                        keep(&mut self.storage_failures, p.storage(), |s| s.remove_pending(session, seq));
                        None
                    }
                    Some(LinkInput::Rejected(e)) => {
                        self.frames_rejected = self.frames_rejected.wrapping_add(1);
                        if matches!(e, Error::PairingNotOpen | Error::PairingAttemptsExhausted) {
                            warn!("pairing request refused: {}", e);
                        }
                        None
                    }
                    Some(_) => None,
                };
                match input {
                    Some(OwnedHost::Diagnostics) => self.diagnostics(now),
                    Some(m) => {
                        // Only sealed frames reach here (the link refuses the rest).
                        if let Some(message) = m.as_message() {
                            let actions =
                                self.session.handle(now, Event::Host { message, authenticated: true });
                            self.run(p, now, actions);
                        }
                    }
                    None => {}
                }
            }
            if k == 0 {
                break;
            }
        }
    }

    fn diagnostics(&mut self, now: Instant) {
        self.link.send_diagnostics(Diagnostics {
            uptime_s: (now.as_millis() / 1000) as u32,
            nfc: if self.nfc_ok { SelfTest::Passed } else { SelfTest::Failed },
            camera: SelfTest::NotRun,
            clock: self.session.wall_clock(now).unwrap_or_default(),
            frames_rx: self.frames_rx,
            frames_rejected: self.frames_rejected,
        });
    }

    /// Looks for a card while none is known; checks a known one is still there.
    fn card_presence<P: Platform>(&mut self, p: &mut P, now: Instant) {
        if now < self.next_card_poll {
            return;
        }
        if !self.card {
            self.next_card_poll = now + CARD_POLL;
            // Only when the session wants a card: idle or 目視 armed.
            if !matches!(self.session.phase(), Phase::Idle | Phase::VisualArmed)
                || !self.session.clock_synced()
            {
                return;
            }
            // No new reception while its identity might find no room (the host has been
            // away for several receptions): the patient is told, and results already waiting
            // are kept until the host takes them.
            if !self.link.has_room_for_identity() {
                if !self.results_pending_shown {
                    self.results_pending_shown = true;
                    p.show(&Screen::ResultsPending, self.session.phase());
                }
                return;
            }
            if core::mem::take(&mut self.results_pending_shown) {
                p.show(&Screen::PlaceCard, self.session.phase());
            }
            match activate(&mut self.air) {
                Ok(()) => {
                    self.card = true;
                    let actions = self.session.handle(now, Event::CardPresent);
                    self.run(p, now, actions);
                }
                Err(e) => {
                    if matches!(e, type_b::TypeBError::Frontend(_)) {
                        self.nfc_ok = false;
                    }
                    let _ = self.air.frontend_mut().field_off();
                }
            }
        } else {
            self.next_card_poll = now + PRESENCE_CHECK;
            // Not while the session talks to the card (it only does so inside `run`). A check
            // that goes unanswered (RF noise) is confirmed by a new activation before the card
            // counts as gone: a card still there does not start a second session.
            if !matches!(self.air.presence_check(), Ok(true)) && !still_there(&mut self.air) {
                self.card_gone(p, now);
            }
        }
    }

    fn card_gone<P: Platform>(&mut self, p: &mut P, now: Instant) {
        self.card = false;
        let _ = self.air.frontend_mut().field_off();
        let actions = self.session.handle(now, Event::CardRemoved);
        self.run(p, now, actions);
    }

    /// Carries out the session's actions; card replies go straight back into the session,
    /// whose new actions are carried out in turn (a few levels at most).
    fn run<P: Platform>(&mut self, p: &mut P, now: Instant, actions: Actions) {
        let mut stack: Vec<Actions, 4> = Vec::new();
        let _ = stack.push(actions);
        while let Some(actions) = stack.pop() {
            for a in actions {
                match a {
                    Action::Send(t) => {
                        let msg = self.session.host_message(&t);
                        if self.link.queue(t.session, t.seq, &msg, now).is_err() {
                            self.outbox_full = self.outbox_full.wrapping_add(1);
                        }
                        // A verified identity is kept in storage until acknowledged (the copy
                        // in the outbox is the one kept: no second buffer).
                        if let Message::VerifiedIdentity(_) = msg {
                            let header = Header { msg_type: msg.msg_type(), session: t.session, seq: t.seq };
                            let payload = self.link.pending_payload(t.session, t.seq);
                            keep(&mut self.storage_failures, p.storage(), |s| {
                                s.save_pending(&header, payload.ok_or(StorageFailed)?)
                            });
                        }
                    }
                    Action::Pairing(step) => self.pairing(p, step),
                    Action::PasscodeResult { account, outcome } => {
                        let changed = matches!(outcome, PasscodeOutcome::Stored | PasscodeOutcome::Revoked);
                        let records = || self.session.passcodes().records();
                        let kept = !changed
                            || keep(&mut self.storage_failures, p.storage(), |s| {
                                s.save_passcodes(&mut records())
                            });
                        let outcome = if kept { outcome } else { PasscodeOutcome::StorageFailed };
                        self.link.send_passcode_result(&account, outcome);
                    }
                    Action::SaveLockout { failures } => {
                        keep(&mut self.storage_failures, p.storage(), |s| s.save_lockout(failures));
                    }
                    Action::Card(op) => {
                        #[cfg(feature = "broken-session")]
                        let op = broken(op);
                        p.card_op(&op);
                        let reply = card_ops::run(&mut self.air, op, &mut self.buf);
                        // The card lost mid-exchange: if it no longer answers an activation it
                        // left the field, and the session hears a removal, not a read error.
                        let lost = matches!(reply, CardReply::Failed { error: CardFailure::Lost });
                        let gone = lost && !still_there(&mut self.air);
                        let next = if gone {
                            p.card_answer(None);
                            self.card = false;
                            let _ = self.air.frontend_mut().field_off();
                            self.session.handle(now, Event::CardRemoved)
                        } else {
                            p.card_answer(Some(&reply));
                            self.session.handle(now, Event::Card(reply))
                        };
                        if stack.push(next).is_err() {
                            // Deeper than any flow goes; dropping would lose the session's
                            // state, so cancel the session instead.
                            let _ = self.session.handle(now, Event::CardRemoved);
                        }
                    }
                    Action::Show(screen) => p.show(&screen, self.session.phase()),
                    Action::StartFace { attempt } => {
                        // Without a face engine (the images have no camera): no photo to
                        // match, so the session goes straight to PIN or staff (目視).
                        let reply = match p.face() {
                            Some(engine) => engine.verify(attempt),
                            None => FaceReply { decision: FaceDecision::PhotoUnavailable, score_milli: 0 },
                        };
                        let next = self.session.handle(now, Event::Face(reply));
                        if stack.push(next).is_err() {
                            let _ = self.session.handle(now, Event::CardRemoved);
                        }
                    }
                    Action::WipeFace => {
                        if let Some(engine) = p.face() {
                            engine.wipe();
                        }
                    }
                }
            }
        }
    }

    /// Carries out a pairing step from the session on the link's pairing gate.
    fn pairing<P: Platform>(&mut self, p: &mut P, step: PairingStep) {
        match step {
            PairingStep::Open { until } => {
                info!("pairing mode opened by staff at the reader");
                self.link.open_pairing(until)
            }
            PairingStep::Reject => {
                warn!("pairing code rejected by staff at the reader");
                self.link.reject_pairing()
            }
            PairingStep::Close => self.link.close_pairing(),
            PairingStep::Accept => {
                if let Some(key) = self.link.accept_pairing() {
                    info!("paired: staff accepted the code at the reader");
                    keep(&mut self.storage_failures, p.storage(), |s| s.save_pairing_key(&key.0));
                    // The new key also signs the reader's attestations from now on.
                    self.session.set_pairing_key(key);
                }
            }
        }
    }

    fn host_output<P: Platform>(&mut self, p: &mut P, now: Instant) {
        while let Some(n) = self.link.poll_transmit(now, &mut self.frame) {
            if let Some(f) = self.frame.get(..n) {
                p.host_write(f);
            }
        }
    }

    fn report<P: Platform>(&mut self, p: &mut P) {
        let s = Status {
            phase: self.session.phase(),
            secured: self.link.is_secured(),
            clock_synced: self.session.clock_synced(),
            card: self.card,
            pending: self.link.pending().min(255) as u8,
        };
        if self.last_status != Some(s) {
            self.last_status = Some(s);
            p.status(s);
        }
    }
}

/// Writes to the platform's storage, if it has one. A failed write is counted in `failures` and
/// the reader goes on; answers whether the write was kept (`true` without storage: there is
/// nothing to keep it in).
fn keep(
    failures: &mut u32,
    storage: Option<&mut dyn Storage>,
    write: impl FnOnce(&mut dyn Storage) -> Result<(), StorageFailed>,
) -> bool {
    match storage.map(write) {
        Some(Err(StorageFailed)) => {
            *failures = failures.wrapping_add(1);
            false
        }
        _ => true,
    }
}

/// Whether the card is still in the field: the field is reset and the card activated
/// again (its state is lost, so only between card operations or after one failed); if it
/// answers, the block protocol restarts with its new parameters.
fn still_there<F: NfcFrontend>(air: &mut IsoDep<F>) -> bool {
    let fe = air.frontend_mut();
    let _ = fe.field_off();
    let _ = fe.guard_time(type_b::FIELD_RESET);
    activate(air).is_ok()
}

/// Activates a Type B card in the field and restarts the block protocol with its parameters.
/// The one call of `type_b::activate`, so the images keep one copy of it.
fn activate<F: NfcFrontend>(air: &mut IsoDep<F>) -> Result<(), type_b::TypeBError> {
    let card = type_b::activate(air.frontend_mut(), &type_b::ActivationConfig::default())?;
    air.reactivate(card.params);
    Ok(())
}

/// The deliberately broken build: every PIN is replaced by 0000 before it reaches the card, so
/// a correct PIN is refused and no identity is ever verified by PIN.
#[cfg(feature = "broken-session")]
fn broken(op: CardOp) -> CardOp {
    use shikaku_card::secret::Pin4;
    match op {
        CardOp::VerifyPin { last_try_confirmed, .. } => match Pin4::from_keypad([0, 0, 0, 0]) {
            Some(pin) => CardOp::VerifyPin { pin, last_try_confirmed },
            None => CardOp::Identify,
        },
        op => op,
    }
}

/// The name of a phase, for rigs and logs.
pub fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Idle => "Idle",
        Phase::PasscodeEntry => "PasscodeEntry",
        Phase::VisualArmed => "VisualArmed",
        Phase::Identifying => "Identifying",
        Phase::CertNotice => "CertNotice",
        Phase::ChooseMethod => "ChooseMethod",
        Phase::PinEntry => "PinEntry",
        Phase::PinConfirmLastTry => "PinConfirmLastTry",
        Phase::VerifyingPin => "VerifyingPin",
        Phase::ReadingCertificate => "ReadingCertificate",
        Phase::PinLocked => "PinLocked",
        Phase::AwaitChallenge => "AwaitChallenge",
        Phase::Signing => "Signing",
        Phase::Face => "Face",
        Phase::FaceFailed => "FaceFailed",
        Phase::VisualCheck => "VisualCheck",
        Phase::ConsentIntro => "ConsentIntro",
        Phase::Consent => "Consent",
        Phase::Registration => "Registration",
        Phase::Finished => "Finished",
        Phase::Pairing => "Pairing",
        Phase::PairingConfirm => "PairingConfirm",
    }
}

/// Fills `buf` from a byte source until it runs dry (a UART's receive register): for
/// [`Platform::host_read`].
pub fn read_available(buf: &mut [u8], mut next: impl FnMut() -> Option<u8>) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match next() {
            Some(b) => {
                buf[n] = b;
                n += 1;
            }
            None => break,
        }
    }
    n
}
