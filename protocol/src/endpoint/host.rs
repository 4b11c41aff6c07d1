//! The host's end of one reader link, sans-IO: bytes in, bytes and events out.
//!
//! Handshake: the host sends `HostHello` with a fresh nonce; the reader answers `ReaderHello`
//! with its own and a key check; both derive the connection keys from the pairing key and the
//! two nonces. The host checks the reader's key check, then sends `LinkReady` sealed under the
//! new keys, which is what makes the reader switch to them; every later frame is sealed.
//! Results are acknowledged once the application has kept them and passed on once per
//! connection (the duplicate filter is seeded from the durable log after a restart); a result
//! the application could not keep ([`HostEndpoint::not_kept`]) is taken again when the reader
//! re-sends it.
//!
//! Pairing: [`HostEndpoint::start_pairing`] sends the key exchange; the reader must have
//! pairing mode open (staff open it on the reader). After both confirmations the host shows
//! the code ([`HostEvent::PairingCode`]); the key is the host's ([`HostEvent::Paired`]) only
//! when the reader reports that staff accepted the same code on its keypad, with a proof only
//! that reader can make.

use std::collections::VecDeque;

use crate::auth::pairing::{PairingSecrets, PublicKey, StaticSecret};
use crate::auth::{LinkKeys, PairingKey};
use crate::deframer::Deframer;
use crate::message::{FirmwareVersion, Message, PairOutcome};
use crate::reliable::{Delivery, DuplicateFilter};
use crate::{Error as ProtocolError, Link, Role, MAX_FRAME};

/// A message from the reader, owned; decode it again with [`Inbound::message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub session: u32,
    pub seq: u32,
    msg_type: u8,
    minor: u8,
    payload: Vec<u8>,
}

impl Inbound {
    pub fn message(&self) -> Result<Message<'_>, ProtocolError> {
        Message::decode(self.msg_type, self.minor, &self.payload)
    }
    pub fn msg_type(&self) -> u8 {
        self.msg_type
    }
}

/// What the reader said about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    pub serial: String,
    pub model: String,
    pub firmware: String,
    pub capabilities: u32,
}

/// What the endpoint reports.
#[derive(Clone)]
pub enum HostEvent {
    /// The reader answered the hello and the link is now authenticated.
    Secured(ReaderInfo),
    /// The reader is not paired with this host (no key for it here).
    NeedsPairing(ReaderInfo),
    /// The reader holds another pairing key (paired with another PC, or re-flashed): nothing
    /// it sends will verify; re-pair it.
    KeyMismatch(ReaderInfo),
    /// A result, delivered once per (session, seq).
    Result(Inbound),
    /// A result this host already kept came again (its acknowledgement was lost): it was
    /// acknowledged again and not handed up.
    AlreadyKept { session: u32, seq: u32 },
    /// Progress or status that is not a result (shown to staff, not journalled).
    Status(Inbound),
    /// The key exchange is confirmed on both sides: show `code`; staff accept it on the reader.
    PairingCode { code: u32 },
    /// Staff accepted the code on the reader: store `key` for this reader and reconnect
    /// ([`HostEndpoint::connect`]) to use it.
    Paired { key: PairingKey, code: u32 },
    /// The reader refused the pairing or staff rejected the code; nothing changed on it.
    PairingRefused(PairOutcome),
    /// A frame was refused; the link goes on.
    Rejected(ProtocolError),
}

/// Finds the pairing key of a reader serial (the key store).
pub type KeyLookup = Box<dyn Fn(&str) -> Option<PairingKey> + Send>;

/// Where the endpoint finds the pairing key once the reader has named itself.
pub enum Keys {
    /// This key (or none) whatever the reader says.
    Fixed(Option<PairingKey>),
    /// Looked up by the serial in the reader's hello (the key store).
    BySerial(KeyLookup),
}

impl From<Option<PairingKey>> for Keys {
    fn from(k: Option<PairingKey>) -> Self {
        Keys::Fixed(k)
    }
}

/// A pairing the host started and the reader has not yet answered.
struct PendingPairing {
    secret: StaticSecret,
    host_public: [u8; 32],
    host_nonce: [u8; 16],
}

pub struct HostEndpoint {
    pairing_in_progress: Option<PendingPairing>,
    /// A confirmed exchange waiting for staff to accept the code on the reader.
    awaiting_staff: Option<PairingSecrets>,
    link: Link,
    deframer: Box<Deframer<MAX_FRAME>>,
    dedup: DuplicateFilter<64>,
    keys: Keys,
    host_nonce: [u8; 16],
    session: u32,
    seq: u32,
    tx: VecDeque<Vec<u8>>,
    info: Option<ReaderInfo>,
    /// Results the application has kept, most recent last.
    acked: VecDeque<(u32, u32)>,
    /// Results handed up on this connection and not yet acknowledged.
    handed_up: Vec<(u32, u32)>,
}

/// What the host says it is in its hello.
pub const DRIVER_VERSION: &str = concat!("shikaku-host ", env!("CARGO_PKG_VERSION"));

/// How many kept results the endpoint remembers for re-acknowledging re-sends.
const ACKED_MEMORY: usize = 256;

impl HostEndpoint {
    /// `pairing`: the stored key for this reader, if paired. `nonce` must be fresh per
    /// connection (from the OS RNG).
    pub fn new(pairing: impl Into<Keys>, nonce: [u8; 16]) -> Self {
        Self {
            pairing_in_progress: None,
            awaiting_staff: None,
            link: Link::new(Role::Host),
            deframer: Box::new(Deframer::new()),
            dedup: DuplicateFilter::new(),
            keys: pairing.into(),
            host_nonce: nonce,
            session: 0,
            seq: 0,
            tx: VecDeque::new(),
            info: None,
            acked: VecDeque::new(),
            handed_up: Vec::new(),
        }
    }

    /// Marks results already in the durable log as kept: a re-send is acknowledged, not taken.
    pub fn restore_seen(&mut self, session: u32, seq: u32) {
        self.dedup.restore(session, seq);
        self.mark_acked(session, seq);
    }

    /// The application has kept the result `(session, seq)` (journal written): acknowledge it.
    pub fn ack(&mut self, session: u32, seq: u32) {
        self.handed_up.retain(|k| *k != (session, seq));
        self.mark_acked(session, seq);
        self.queue(&Message::Ack { session, seq });
    }

    /// The application could not keep the result `(session, seq)` (the journal refused it): it
    /// stays unacknowledged, and the reader's next re-send of it is handed up again.
    pub fn not_kept(&mut self, session: u32, seq: u32) {
        self.handed_up.retain(|k| *k != (session, seq));
    }

    fn mark_acked(&mut self, session: u32, seq: u32) {
        if self.acked.len() >= ACKED_MEMORY {
            self.acked.pop_front();
        }
        if !self.acked.contains(&(session, seq)) {
            self.acked.push_back((session, seq));
        }
    }

    pub fn is_secured(&self) -> bool {
        self.link.is_secured()
    }

    pub fn reader(&self) -> Option<&ReaderInfo> {
        self.info.as_ref()
    }

    /// Starts (or restarts, after a reconnect) the handshake.
    pub fn connect(&mut self, nonce: [u8; 16]) {
        self.host_nonce = nonce;
        self.link.reset();
        self.deframer.reset();
        self.tx.clear();
        self.info = None;
        // What the application did not keep comes again on the new connection.
        self.handed_up.clear();
        let hello = Message::HostHello { driver_version: DRIVER_VERSION, nonce };
        self.queue(&hello);
    }

    /// Starts pairing with an ephemeral secret from the OS RNG. The reader answers with its
    /// key and a confirmation; [`HostEvent::Paired`] carries the new key.
    pub fn start_pairing(&mut self, secret: [u8; 32], nonce: [u8; 16]) {
        let secret = StaticSecret::from(secret);
        let host_public = PublicKey::from(&secret).to_bytes();
        self.queue(&Message::PairRequest { host_public, host_nonce: nonce });
        self.pairing_in_progress = Some(PendingPairing { secret, host_public, host_nonce: nonce });
    }

    /// Queues a host→reader message (time sync, challenge, passcode, cancel, …).
    pub fn send(&mut self, msg: &Message<'_>) -> Result<(), ProtocolError> {
        self.queue_checked(msg)
    }

    /// For the endpoint's own messages (hello, pairing, acknowledgements), which are small
    /// enough to always fit a frame. The one refusal is an acknowledgement while the link is
    /// not secured (the application kept a result after the cable was pulled): it is dropped
    /// here, and the reader's re-send after the next hello is acknowledged from `acked`.
    fn queue(&mut self, msg: &Message<'_>) {
        let _ = self.queue_checked(msg);
    }

    fn queue_checked(&mut self, msg: &Message<'_>) -> Result<(), ProtocolError> {
        let mut buf = vec![0u8; MAX_FRAME];
        self.seq = self.seq.wrapping_add(1);
        let n = self.link.encode(&mut buf, self.session, self.seq, msg)?;
        buf.truncate(n);
        self.tx.push_back(buf);
        Ok(())
    }

    /// Bytes to write to the transport.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.tx.pop_front()
    }

    /// Feeds bytes read from the transport; returns what happened.
    #[must_use]
    pub fn receive(&mut self, mut bytes: &[u8]) -> Vec<HostEvent> {
        let mut events = Vec::new();
        while !bytes.is_empty() {
            let n = self.deframer.push(bytes);
            bytes = &bytes[n..];
            loop {
                // Decode into an owned form first so the deframer's borrow ends here.
                let next = match self.deframer.next_frame() {
                    None => break,
                    Some(Err(e)) => Err(e),
                    Some(Ok(frame)) => {
                        let header = frame.header();
                        let minor = frame.version_minor();
                        match self.link.decode(frame) {
                            Ok(rx) => Ok((header, minor, rx.payload.to_vec(), rx.message.is_result())),
                            Err(e) => Err(e),
                        }
                    }
                };
                match next {
                    Err(e) => events.push(HostEvent::Rejected(e)),
                    Ok((h, minor, payload, is_result)) => {
                        let inbound =
                            Inbound { session: h.session, seq: h.seq, msg_type: h.msg_type, minor, payload };
                        self.on_message(inbound, is_result, &mut events);
                    }
                }
            }
        }
        events
    }

    fn on_message(&mut self, inbound: Inbound, is_result: bool, events: &mut Vec<HostEvent>) {
        let message = match inbound.message() {
            Ok(m) => m,
            Err(e) => {
                events.push(HostEvent::Rejected(e));
                return;
            }
        };
        match message {
            // One hello per connection: a second one (a replay of this connection's hello
            // would re-derive the same keys and restart the counters) is refused.
            Message::ReaderHello { .. } if self.info.is_some() => {
                events.push(HostEvent::Rejected(ProtocolError::DuplicateHello));
            }
            Message::ReaderHello { firmware, serial, model, capabilities, nonce, key_check, .. } => {
                let info = ReaderInfo {
                    serial: serial.to_owned(),
                    model: model.to_owned(),
                    firmware: version(&firmware),
                    capabilities: capabilities.0,
                };
                self.info = Some(info.clone());
                let key = match &self.keys {
                    Keys::Fixed(k) => k.clone(),
                    Keys::BySerial(find) => find(&info.serial),
                };
                match &key {
                    Some(key) => {
                        let keys = LinkKeys::derive(key, &self.host_nonce, &nonce);
                        if keys.hello_matches(&self.host_nonce, &nonce, &key_check) {
                            self.link.secure(&keys);
                            // Sealed under the new keys: the reader switches to them on it.
                            self.queue(&Message::LinkReady);
                            events.push(HostEvent::Secured(info));
                        } else {
                            events.push(HostEvent::KeyMismatch(info));
                        }
                    }
                    None => events.push(HostEvent::NeedsPairing(info)),
                }
            }
            Message::PairResponse { reader_public, reader_nonce, confirm } => {
                let Some(p) = self.pairing_in_progress.take() else {
                    events.push(HostEvent::Rejected(ProtocolError::NoPairingInProgress));
                    return;
                };
                let s = PairingSecrets::derive(
                    &p.secret,
                    &reader_public,
                    &p.host_public,
                    &reader_public,
                    &p.host_nonce,
                    &reader_nonce,
                );
                match s.check(s.reader_confirm(), &confirm) {
                    Ok(()) => {
                        self.queue(&Message::PairConfirm { confirm: s.host_confirm() });
                        events.push(HostEvent::PairingCode { code: s.code });
                        self.awaiting_staff = Some(s);
                    }
                    Err(e) => events.push(HostEvent::Rejected(e)),
                }
            }
            Message::PairResult { outcome: PairOutcome::Accepted, proof } => {
                let Some(s) = self.awaiting_staff.take() else {
                    events.push(HostEvent::Rejected(ProtocolError::NoPairingInProgress));
                    return;
                };
                match s.check(s.accepted_proof(), &proof) {
                    Ok(()) => {
                        self.keys = Keys::Fixed(Some(s.key.clone()));
                        events.push(HostEvent::Paired { key: s.key.clone(), code: s.code });
                    }
                    Err(e) => events.push(HostEvent::Rejected(e)),
                }
            }
            Message::PairResult { outcome, .. } => {
                // Unsealed on an unpaired link, so anyone could send it: it only ends a
                // pairing this host started, and never changes a key.
                if self.pairing_in_progress.take().is_some() || self.awaiting_staff.take().is_some() {
                    events.push(HostEvent::PairingRefused(outcome));
                } else {
                    events.push(HostEvent::Rejected(ProtocolError::NoPairingInProgress));
                }
            }
            // An answer to a request, like the diagnostics report: never deduplicated.
            Message::PasscodeResult { .. } => events.push(HostEvent::Status(inbound)),
            Message::Ack { .. } => {}
            // A report is an answer to a request, not a session message: never deduplicated.
            Message::DiagnosticsReport { .. } => events.push(HostEvent::Status(inbound)),
            // Results are acknowledged only once the application has kept them
            // ([`HostEndpoint::ack`], after the journal write): a host that dies in between
            // gets the result again from the reader. A result is handed up once per connection
            // (the application is on it); after its ack, a re-send only gets the ack again.
            _ if is_result => {
                let key = (inbound.session, inbound.seq);
                if self.acked.contains(&key) {
                    self.queue(&Message::Ack { session: key.0, seq: key.1 });
                    events.push(HostEvent::AlreadyKept { session: key.0, seq: key.1 });
                } else if !self.handed_up.contains(&key) {
                    self.handed_up.push(key);
                    events.push(HostEvent::Result(inbound));
                }
            }
            // Status for the staff: acknowledged at once and shown once.
            _ => {
                let ack = Message::Ack { session: inbound.session, seq: inbound.seq };
                self.queue(&ack);
                if self.dedup.check(inbound.session, inbound.seq) == Delivery::New {
                    events.push(HostEvent::Status(inbound));
                }
            }
        }
    }
}

fn version(f: &FirmwareVersion<'_>) -> String {
    format!("{}.{}.{}+{}", f.major, f.minor, f.patch, f.build)
}

impl core::fmt::Debug for HostEvent {
    // By hand: the pairing key must never reach a log.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HostEvent::Secured(i) => f.debug_tuple("Secured").field(i).finish(),
            HostEvent::NeedsPairing(i) => f.debug_tuple("NeedsPairing").field(i).finish(),
            HostEvent::KeyMismatch(i) => f.debug_tuple("KeyMismatch").field(i).finish(),
            HostEvent::Result(m) => f.debug_tuple("Result").field(&(m.session, m.seq, m.msg_type)).finish(),
            HostEvent::Status(m) => f.debug_tuple("Status").field(&(m.session, m.seq, m.msg_type)).finish(),
            HostEvent::Paired { code, .. } => {
                f.debug_struct("Paired").field("code", code).finish_non_exhaustive()
            }
            HostEvent::AlreadyKept { session, seq } => {
                f.debug_struct("AlreadyKept").field("session", session).field("seq", seq).finish()
            }
            HostEvent::PairingCode { code } => f.debug_struct("PairingCode").field("code", code).finish(),
            HostEvent::PairingRefused(o) => f.debug_tuple("PairingRefused").field(o).finish(),
            HostEvent::Rejected(e) => f.debug_tuple("Rejected").field(e).finish(),
        }
    }
}
