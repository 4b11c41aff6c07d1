//! The reader's end of the host link, sans-IO and without heap: frames in, session events
//! out; session messages in, frames out.
//!
//! Every session message goes through the exactly-once outbox (re-sent until acknowledged,
//! sealed anew on each send). Hello, pairing and acknowledgements are answered here and never
//! reach the session; only sealed host messages do.
//!
//! - **Hello.** A paired reader answers a hello with its nonce and a key check, and *proposes*
//!   the connection keys; it switches to them only when the host's first sealed frame
//!   (`LinkReady`) opens under them. A hello from anyone without the pairing key therefore
//!   changes nothing: the current connection goes on.
//! - **Pairing.** A pairing request is taken only while pairing mode is open: staff open it on
//!   the reader ([`ReaderEndpoint::open_pairing`], for a bounded time, [`PAIRING_ATTEMPTS`]
//!   requests at most), or the reader has never been paired. After the key exchange and the
//!   host's confirmation the reader shows the 6-digit code; the new key is kept only when staff
//!   accept it on the keypad ([`ReaderEndpoint::accept_pairing`]). On a secured link pairing
//!   messages are sealed like the rest. Every refusal is answered with a `PairResult` and
//!   counted.

use crate::auth::pairing::{PairingSecrets, PublicKey, StaticSecret};
use crate::auth::{LinkKeys, PairingKey};
use crate::deframer::Deframer;
use crate::message::{Capabilities, FirmwareVersion, Message, PairOutcome, PasscodeOutcome, SelfTest};
use crate::reliable::{Class, Outbox, Queued, RetryPolicy};
use crate::time::{Duration, Instant, UnixMillis};
use crate::{Error, Header, Link, Role, MAX_FRAME, MAX_PAYLOAD};
use heapless::{Deque, String};
use zeroize::Zeroize;

/// Session messages waiting for their acknowledgement.
pub const OUTBOX: usize = 8;

/// Randomness for nonces and pairing secrets (the MCU's TRNG; a seeded generator in tests).
pub trait Entropy {
    fn fill(&mut self, buf: &mut [u8]);
}

/// Who this reader says it is.
#[derive(Debug, Clone, Copy)]
pub struct Identity {
    pub firmware: FirmwareVersion<'static>,
    pub serial: &'static str,
    pub model: &'static str,
    pub capabilities: Capabilities,
}

/// What arrived, for the driver.
pub enum LinkInput<'a> {
    /// A host message for the session (always sealed: nothing else reaches the session).
    Host { message: Message<'a> },
    /// The host's hello was answered. Unpaired: the link stays unsecured (pairing only). Paired:
    /// the new keys are proposed, and [`LinkInput::Connected`] follows once the host proves it
    /// has them; the current connection, if any, goes on meanwhile.
    HelloAnswered,
    /// The link now runs on a new connection's keys; pending messages go out again.
    Connected,
    /// The host finished its part of a pairing: staff must compare `code` (shown on the host)
    /// with the reader's screen and accept ([`ReaderEndpoint::accept_pairing`]) or reject it.
    PairingCode { code: u32 },
    /// The host acknowledged `(session, seq)`: a stored copy of it can go.
    Acked { session: u32, seq: u32 },
    /// A frame was handled here (a pairing step); keep polling.
    Handled,
    /// A frame was refused.
    Rejected(Error),
}

/// The reader's self-test answer (best effort: a stale one must never be re-sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Diagnostics {
    pub uptime_s: u32,
    pub nfc: SelfTest,
    pub camera: SelfTest,
    /// The reader's wall clock (zero before the host's `TimeSync`).
    pub clock: UnixMillis,
    pub frames_rx: u32,
    pub frames_rejected: u32,
}

#[derive(Clone)]
enum Control {
    Diagnostics(Diagnostics),
    Hello { nonce: [u8; 16], key_check: [u8; 16] },
    PairResponse { reader_public: [u8; 32], reader_nonce: [u8; 16], confirm: [u8; 16] },
    PairResult { outcome: PairOutcome, proof: [u8; 16] },
    PasscodeResult { account: String<MAX_ACCOUNT>, outcome: PasscodeOutcome },
}

/// Longest staff account name echoed in a `PasscodeResult`.
const MAX_ACCOUNT: usize = 32;

/// Pairing requests one opening of pairing mode accepts (each a fresh key exchange).
pub const PAIRING_ATTEMPTS: u8 = 3;

/// Whether the reader takes pairing requests: only while staff have opened pairing mode on the
/// reader itself (or it has never been paired), and only a few per opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    Closed,
    /// Open until `until` (`None`: an unpaired reader, open until paired).
    Open {
        until: Option<Instant>,
        attempts_left: u8,
    },
}

/// What the pairing state is, for the session and a rig.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PairingStats {
    /// Requests refused because pairing mode was closed or its attempts were used.
    pub refused: u32,
    /// Key exchanges started.
    pub started: u32,
}

struct Pairing {
    gate: Gate,
    /// A key exchange answered, waiting for the host's confirmation.
    exchange: Option<PairingSecrets>,
    /// A confirmed exchange waiting for staff to accept the code on the keypad.
    awaiting_staff: Option<PairingSecrets>,
    stats: PairingStats,
}

impl Pairing {
    fn new(paired: bool) -> Self {
        Self {
            gate: Gate::after(paired),
            exchange: None,
            awaiting_staff: None,
            stats: PairingStats::default(),
        }
    }
}

impl Gate {
    /// Closed once paired; an unpaired reader is open until it is.
    fn after(paired: bool) -> Self {
        if paired {
            Gate::Closed
        } else {
            Gate::Open { until: None, attempts_left: PAIRING_ATTEMPTS }
        }
    }
}

pub struct ReaderEndpoint {
    id: Identity,
    link: Link,
    deframer: Deframer<MAX_FRAME>,
    outbox: Outbox<OUTBOX, MAX_PAYLOAD>,
    control: Deque<Control, 8>,
    key: Option<PairingKey>,
    pairing: Pairing,
    dropped: u32,
    payload: [u8; MAX_PAYLOAD],
}

impl ReaderEndpoint {
    /// An unpaired reader (`key` is `None`) takes a pairing request at once; a paired one only
    /// after [`ReaderEndpoint::open_pairing`].
    pub fn new(id: Identity, key: Option<PairingKey>) -> Self {
        Self {
            pairing: Pairing::new(key.is_some()),
            id,
            link: Link::new(Role::Reader),
            deframer: Deframer::new(),
            outbox: Outbox::new(RetryPolicy {
                initial: Duration::from_millis(300),
                max: Duration::from_secs(5),
            }),
            control: Deque::new(),
            key,
            dropped: 0,
            payload: [0; MAX_PAYLOAD],
        }
    }

    pub fn is_secured(&self) -> bool {
        self.link.is_secured()
    }
    pub fn is_paired(&self) -> bool {
        self.key.is_some()
    }
    /// Unacknowledged session messages.
    pub fn pending(&self) -> usize {
        self.outbox.len()
    }
    /// Whether a new card session may start: its identity is sure to find room in the outbox
    /// (half of it is kept for identities; the rest absorbs the session's other messages).
    pub fn has_room_for_identity(&self) -> bool {
        self.outbox.identities() < OUTBOX / 2
    }
    /// Status or record messages the full outbox let go (never an identity).
    pub fn dropped(&self) -> u32 {
        self.dropped
    }
    pub fn pairing_stats(&self) -> PairingStats {
        self.pairing.stats
    }

    /// The transport went away: forget partial frames and the connection keys. Pending
    /// messages stay and go out again after the next hello.
    pub fn disconnected(&mut self) {
        self.deframer.reset();
        self.link.reset();
        self.control.clear();
        self.pairing.exchange = None;
    }

    /// Staff opened pairing mode on the reader (key sequence and passcode), until `until`.
    pub fn open_pairing(&mut self, until: Instant) {
        self.pairing.gate = Gate::Open { until: Some(until), attempts_left: PAIRING_ATTEMPTS };
        self.pairing.exchange = None;
        self.pairing.awaiting_staff = None;
    }

    /// Pairing mode ends (timeout or cancel on the reader); an unconfirmed exchange is dropped.
    pub fn close_pairing(&mut self) {
        if self.pairing.awaiting_staff.take().is_some() {
            self.pair_result(PairOutcome::TimedOut, [0; 16]);
        }
        self.pairing.exchange = None;
        self.pairing.gate = Gate::after(self.key.is_some());
    }

    /// Whether a pairing request would be taken now.
    pub fn pairing_open(&self, now: Instant) -> bool {
        match self.pairing.gate {
            Gate::Closed => false,
            Gate::Open { until, attempts_left } => attempts_left > 0 && until.is_none_or(|t| now < t),
        }
    }

    /// Staff accepted the code on the keypad: the new key is the reader's from now on (persist
    /// it). The current connection ends; the host's next hello uses the new key.
    pub fn accept_pairing(&mut self) -> Option<PairingKey> {
        let s = self.pairing.awaiting_staff.take()?;
        let key = s.key.clone();
        self.pair_result(PairOutcome::Accepted, s.accepted_proof());
        self.key = Some(key.clone());
        self.pairing.gate = Gate::Closed;
        Some(key)
    }

    /// Staff said the codes differ (or cancelled): nothing changes.
    pub fn reject_pairing(&mut self) {
        if self.pairing.awaiting_staff.take().is_some() {
            self.pair_result(PairOutcome::RejectedByStaff, [0; 16]);
        }
    }

    fn pair_result(&mut self, outcome: PairOutcome, proof: [u8; 16]) {
        let _ = self.control.push_back(Control::PairResult { outcome, proof });
    }

    /// Queues a session message (the firmware's `Session::host_message` numbers them). When the
    /// outbox is full a lesser message makes room (see [`crate::reliable::Class`]).
    pub fn queue(
        &mut self,
        session: u32,
        seq: u32,
        message: &Message<'_>,
        now: Instant,
    ) -> Result<(), Error> {
        let n = message.encode(&mut self.payload)?;
        let header = Header { msg_type: message.msg_type(), session, seq };
        let class = Class::of(message);
        match self.outbox.push(header, &self.payload[..n], class, now) {
            Ok(Queued::Queued) => Ok(()),
            Ok(Queued::Evicted(..)) => {
                self.dropped = self.dropped.wrapping_add(1);
                Ok(())
            }
            Err(e) => {
                self.dropped = self.dropped.wrapping_add(1);
                Err(e)
            }
        }
    }

    /// The encoded payload of a queued, unacknowledged `(session, seq)` (to keep it in flash).
    pub fn pending_payload(&self, session: u32, seq: u32) -> Option<&[u8]> {
        self.outbox.payload(session, seq)
    }

    /// Puts back a result kept in flash across a restart (an identity the host had not
    /// acknowledged); it goes out after the next hello.
    pub fn restore(&mut self, header: Header, payload: &[u8], now: Instant) -> Result<(), Error> {
        self.outbox.push(header, payload, Class::Identity, now).map(|_| ())
    }

    /// Answers a diagnostics request now, outside the outbox: a report is only true when sent.
    pub fn send_diagnostics(&mut self, report: Diagnostics) {
        if self.link.is_secured() {
            let _ = self.control.push_back(Control::Diagnostics(report));
        }
    }

    /// Tells the host what became of a passcode provision or revocation.
    pub fn send_passcode_result(&mut self, account: &str, outcome: PasscodeOutcome) {
        if self.link.is_secured() {
            let account = String::try_from(account).unwrap_or_default();
            let _ = self.control.push_back(Control::PasscodeResult { account, outcome });
        }
    }

    /// Takes bytes from the transport; call [`ReaderEndpoint::poll_input`] until `None`, then push
    /// the rest.
    pub fn push_rx(&mut self, bytes: &[u8]) -> usize {
        self.deframer.push(bytes)
    }

    /// The next input, one frame at a time; `None` when more bytes are needed.
    #[must_use]
    pub fn poll_input(&mut self, now: Instant, rng: &mut dyn Entropy) -> Option<LinkInput<'_>> {
        let frame = match self.deframer.next_frame()? {
            Ok(f) => f,
            Err(e) => return Some(LinkInput::Rejected(e)),
        };
        let rx = match self.link.decode(frame) {
            Ok(rx) => rx,
            Err(e) => return Some(LinkInput::Rejected(e)),
        };
        if rx.rekeyed {
            // The host proved it holds the pairing key: this is the connection now.
            self.outbox.on_reconnect(now);
            self.pairing.exchange = None;
        }
        let input = match rx.message {
            Message::HostHello { nonce: host_nonce, .. } => {
                let mut nonce = [0u8; 16];
                rng.fill(&mut nonce);
                // Nothing changes until the host's first sealed frame opens under these keys.
                let key_check = match self.key.as_ref() {
                    Some(k) => {
                        let keys = LinkKeys::derive(k, &host_nonce, &nonce);
                        self.link.propose(&keys);
                        keys.hello_check(&host_nonce, &nonce)
                    }
                    None => [0; 16],
                };
                let _ = self.control.push_back(Control::Hello { nonce, key_check });
                LinkInput::HelloAnswered
            }
            Message::PairRequest { host_public, host_nonce } => {
                pair_request(&mut self.pairing, &mut self.control, now, rng, host_public, host_nonce)
            }
            Message::PairConfirm { confirm } => {
                let Some(s) = self.pairing.exchange.take() else {
                    return Some(LinkInput::Rejected(Error::NoPairingInProgress));
                };
                if let Err(e) = s.check(s.host_confirm(), &confirm) {
                    return Some(LinkInput::Rejected(e));
                }
                let code = s.code;
                self.pairing.awaiting_staff = Some(s);
                LinkInput::PairingCode { code }
            }
            Message::Ack { session, seq } => {
                // Deliberately broken build for the rig's self-check (hil-tests/src/rig/mod.rs):
                #[cfg(feature = "broken-endpoint")] // an off-by-one: no acknowledgement ever matches.
                let seq = seq.wrapping_add(1);
                if self.outbox.ack(session, seq) {
                    LinkInput::Acked { session, seq }
                } else {
                    LinkInput::Handled
                }
            }
            Message::LinkReady => LinkInput::Handled,
            message => LinkInput::Host { message },
        };
        if rx.rekeyed {
            // Whatever the first sealed frame was (LinkReady, normally), the driver hears of
            // the new connection; the frame itself needs nothing more.
            return Some(match input {
                LinkInput::Handled => LinkInput::Connected,
                other => other,
            });
        }
        Some(input)
    }

    /// Encodes the next frame due into `buf`; `None` when nothing is due.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if let Some(c) = self.control.pop_front() {
            let msg = match &c {
                Control::Hello { nonce, key_check } => Message::ReaderHello {
                    firmware: self.id.firmware,
                    serial: self.id.serial,
                    model: self.id.model,
                    capabilities: self.id.capabilities,
                    max_payload: MAX_PAYLOAD as u16,
                    nonce: *nonce,
                    key_check: *key_check,
                },
                Control::Diagnostics(d) => Message::DiagnosticsReport {
                    uptime_s: d.uptime_s,
                    nfc: d.nfc,
                    camera: d.camera,
                    clock_ms: d.clock.as_millis(),
                    frames_rx: d.frames_rx,
                    frames_rejected: d.frames_rejected,
                },
                Control::PairResponse { reader_public, reader_nonce, confirm } => Message::PairResponse {
                    reader_public: *reader_public,
                    reader_nonce: *reader_nonce,
                    confirm: *confirm,
                },
                Control::PairResult { outcome, proof } => {
                    Message::PairResult { outcome: *outcome, proof: *proof }
                }
                Control::PasscodeResult { account, outcome } => {
                    Message::PasscodeResult { account, outcome: *outcome }
                }
            };
            return self.link.encode(buf, 0, 0, &msg).ok();
        }
        if !self.link.is_secured() {
            return None;
        }
        let t = self.outbox.poll_transmit(now)?;
        let (header, payload) = (t.header, t.payload);
        self.link.encode_raw(buf, &header, payload).ok()
    }

    /// When the next retransmission is due.
    #[must_use]
    pub fn next_deadline(&self) -> Option<Instant> {
        self.outbox.next_deadline()
    }
}

/// A pairing request: refused unless pairing mode is open, else one key exchange answered.
fn pair_request(
    p: &mut Pairing,
    control: &mut Deque<Control, 8>,
    now: Instant,
    rng: &mut dyn Entropy,
    host_public: [u8; 32],
    host_nonce: [u8; 16],
) -> LinkInput<'static> {
    let refusal = match p.gate {
        Gate::Open { until: Some(t), .. } if now >= t => Some(PairOutcome::NotOpen),
        Gate::Closed => Some(PairOutcome::NotOpen),
        Gate::Open { attempts_left: 0, .. } => Some(PairOutcome::TooManyAttempts),
        Gate::Open { .. } => None,
    };
    if let Some(outcome) = refusal {
        p.stats.refused = p.stats.refused.wrapping_add(1);
        let _ = control.push_back(Control::PairResult { outcome, proof: [0; 16] });
        return LinkInput::Rejected(match outcome {
            PairOutcome::TooManyAttempts => Error::PairingAttemptsExhausted,
            _ => Error::PairingNotOpen,
        });
    }
    if let Gate::Open { attempts_left, .. } = &mut p.gate {
        *attempts_left -= 1;
    }
    p.stats.started = p.stats.started.wrapping_add(1);
    p.awaiting_staff = None;
    let mut seed = [0u8; 32];
    rng.fill(&mut seed);
    let secret = StaticSecret::from(seed);
    seed.zeroize();
    let reader_public = PublicKey::from(&secret).to_bytes();
    let mut reader_nonce = [0u8; 16];
    rng.fill(&mut reader_nonce);
    let s = PairingSecrets::derive(
        &secret,
        &host_public,
        &host_public,
        &reader_public,
        &host_nonce,
        &reader_nonce,
    );
    let confirm = s.reader_confirm();
    p.exchange = Some(s);
    let _ = control.push_back(Control::PairResponse { reader_public, reader_nonce, confirm });
    LinkInput::Handled
}
