//! The simulated rig: one reader and one host, every layer real except the air, the keypad,
//! the camera and the wire, all driven in **virtual time**.
//!
//! ```text
//!  scripted keypad ─┐                      ┌─ ReplayFace (recorded FaceReply list)
//!                   ▼                      ▼
//!             session core (firmware::session, on the host)
//!                   │ CardOp                │ ToHost (queue)        ▲ LinkInput::Host
//!      firmware::drive::card_ops            ▼                       │
//!      JPKI client → ISO 7816-4 →     ReaderEndpoint (shipping, shikaku_protocol::endpoint::reader):
//!      ISO 14443-4 (IsoDep) → Type B  hello, keys, MAC, exactly-once outbox, retransmissions
//!                   │                       │ frames ▲
//!                   ▼                       ▼        │   byte pipe, 2 ms each way (lossy option)
//!      SimFrontend (PICC side,        HostEndpoint (shipping, shikaku_protocol::endpoint::host):
//!      fault injection)               hello, key check, MAC, results handed up once
//!                   │                       │ HostEvent ▲ send / ack
//!                   ▼                       ▼           │
//!      virtual card (persona)         Host: challenges, registration answer, proof checks,
//!                                     acknowledges each result after recording it
//! ```
//!
//! The link is the one the product ships: the reader side is a [`ReaderEndpoint`] (fed the way
//! the firmware image's `image-core` feeds it), the host side a
//! [`HostEndpoint`](shikaku_protocol::endpoint::host::HostEndpoint) (as the host driver uses
//! it). Each run starts with the handshake: the host sends `HostHello`, the reader answers
//! `ReaderHello`, both derive the connection keys from [`PAIRING_KEY`] and the two nonces
//! (fixed host nonce, reader nonce from a seeded [`RigEntropy`]), and only then does the host
//! send the wall clock and the passcode. Every session message goes through
//! [`ReaderEndpoint::queue`] and its outbox, retransmitted at [`ReaderEndpoint::next_deadline`]
//! in virtual time until the host acknowledges it.
//!
//! The clock starts at 0 ms; card operations take the air time the simulated frontend
//! counted, the face engine 1.5 s per attempt, the pipe 2 ms each way (the handshake takes the
//! first 4 ms). The host sets the reader's wall clock with `TimeSync` to a fixed date
//! ([`TODAY`], 09:00 JST) and the virtual card is issued as of that date, so certificate
//! expiry is deterministic.
//!
//! [`Rig::run`] answers an [`Outcome`]: the transcript (time, screens, card operations —
//! never PIN digits —, host messages), the screens in order, the card operations, what the
//! host received and checked, the state of the link at the end (secured, messages left
//! unacknowledged) and the PIN tries left on the card afterwards.
//! [`scenarios::Expect::check`] requires every run to end with the link secured and the
//! reader's outbox empty ([`scenarios::delivered`]).
//!
//! Self-check: the rig must catch a broken shipping endpoint. `shikaku-protocol` has a
//! feature `broken-endpoint` (never for a real build) under which the reader endpoint matches
//! acknowledgements against the wrong sequence number; the scenario tests must then fail
//! (20 of 22 do, on "session messages never acknowledged at the end"):
//!
//! ```text
//! cargo test -p shikaku-hil --test rig_scenarios --features shikaku-protocol/broken-endpoint
//! ```

pub mod face;
pub mod host;
pub mod scenarios;

use std::collections::{HashSet, VecDeque};
use std::fmt::Write as _;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use shikaku_card::apdu::ApduTransport;
use shikaku_card::testing::Counting;
use shikaku_firmware::drive::card_ops;
use shikaku_firmware::nfc::iso_dep::{IsoDep, IsoDepConfig, IsoDepError, IsoDepParams};
use shikaku_firmware::nfc::type_b::{self, ActivationConfig};
use shikaku_firmware::nfc::{ApduError, FrontendError};
use shikaku_firmware::session::{
    Action, CardFailure, CardOp, CardReply, Config, Event, FaceReply, FaceVerifier, Key, Phase, PinState,
    Screen, Session,
};
use shikaku_protocol::auth::PairingKey;
use shikaku_protocol::endpoint::reader::{Diagnostics, Entropy, Identity, LinkInput, ReaderEndpoint};
use shikaku_protocol::message::{msg_type, Capabilities, CardKind, FirmwareVersion, SelfTest};
use shikaku_protocol::{passcode, Duration, Frame, Instant, Message, UnixMillis, MAX_FRAME};

use crate::render;
use crate::sim_frontend::{AirCounters, FaultConfig, SimCardConfig, SimFrontend};
use crate::vcard::card::{Applet, VirtualCard};
use crate::vcard::persona::{self, Date};
use crate::vcard::{self, AtrChoice, Issued};
use crate::SmartCard;

pub use face::ReplayFace;
pub use host::{ErrorRecord, Host, HostRecord, IdentityRecord};

/// The fixed date of every scenario.
pub const TODAY: Date = Date::new(2026, 11, 21);
/// The pairing key both sides hold (pairing already done).
pub const PAIRING_KEY: [u8; 32] = *b"shikaku rig test pairing key 32B";
/// Pipe latency each way.
pub const PIPE_LATENCY: Duration = Duration::from_millis(2);
/// One face attempt.
pub const FACE_ATTEMPT: Duration = Duration::from_millis(1_500);
/// The staff account and passcode the host provisions.
pub const STAFF_ACCOUNT: &str = "uketsuke-01";
pub const STAFF_PASSCODE: &str = "4821";
/// What the rig's reader says it is in its `ReaderHello`.
pub const READER_IDENTITY: Identity = Identity {
    firmware: FirmwareVersion { major: 0, minor: 1, patch: 0, build: "rig" },
    serial: "SK-RIG-0001",
    model: "shikaku-sim-rig",
    capabilities: Capabilities(Capabilities::FACE | Capabilities::PIN_KEYPAD | Capabilities::VISUAL_MODE),
};
/// Seed of the reader's stand-in for its TRNG (hello nonce, pairing secrets).
pub const READER_ENTROPY_SEED: u64 = 0x7269_675f_7472_6e67;

/// The reader's TRNG, deterministic: a seeded ChaCha20 stream.
pub struct RigEntropy(ChaCha20Rng);

impl RigEntropy {
    pub fn new(seed: u64) -> Self {
        Self(ChaCha20Rng::seed_from_u64(seed))
    }
}

impl Entropy for RigEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        self.0.fill_bytes(buf);
    }
}

/// The wall clock at 09:00 JST on `d`.
pub fn unix_ms(d: Date) -> UnixMillis {
    UnixMillis((d.days() * 86_400_000) as u64)
}

/// One scripted thing the world does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The card (or phone) enters the field.
    Place,
    /// The card leaves the field (presence detection reports it at once).
    Remove,
    Key(Key),
}

/// A reception to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub persona: String,
    /// The host's answer to `CertificateRead`.
    pub registered: bool,
    /// What happens when, in milliseconds of virtual time from the start of the run.
    pub script: Vec<(u64, Step)>,
    pub face: Vec<FaceReply>,
    pub faults: FaultConfig,
    pub iso_dep: IsoDepConfig,
    /// Pull the card out once this many APDUs were answered (mid-operation).
    pub remove_after_apdus: Option<u64>,
    /// With `remove_after_apdus`: the card still processes the next APDU, but leaves before
    /// its answer reaches the reader.
    pub pull_swallows_answer: bool,
    /// A lossy wire: the first send of every result and every other acknowledgement (of a
    /// result or of a status message) are lost, so the reader's outbox re-sends and the host
    /// sees results again that it already kept.
    pub lossy_link: bool,
    /// Place a card without the JPKI applet instead of the persona's.
    pub foreign_card: bool,
    /// Seed of the host's challenges.
    pub seed: u64,
}

impl Scenario {
    pub fn new(name: &str, persona: &str) -> Self {
        Self {
            name: name.into(),
            persona: persona.into(),
            registered: true,
            script: Vec::new(),
            face: Vec::new(),
            faults: FaultConfig::default(),
            iso_dep: IsoDepConfig::default(),
            remove_after_apdus: None,
            pull_swallows_answer: false,
            lossy_link: false,
            foreign_card: false,
            seed: 1,
        }
    }

    /// Adds `step` at `at_ms`.
    pub fn at(mut self, at_ms: u64, step: Step) -> Self {
        self.script.push((at_ms, step));
        self
    }

    /// Adds keys one second apart from `from_ms`.
    pub fn keys(mut self, from_ms: u64, keys: &[Key]) -> Self {
        for (i, k) in keys.iter().enumerate() {
            self.script.push((from_ms + 1_000 * i as u64, Step::Key(*k)));
        }
        self
    }

    /// Adds four digit keys one second apart (the PIN or passcode; never logged).
    pub fn digits(self, from_ms: u64, digits: &str) -> Self {
        let keys: Vec<Key> = digits.bytes().map(|b| Key::Digit(b - b'0')).collect();
        self.keys(from_ms, &keys)
    }

    pub fn face(mut self, replies: &[FaceReply]) -> Self {
        self.face = replies.to_vec();
        self
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub transcript: Vec<String>,
    /// Every screen shown, with its time (virtual ms from the start of the run).
    pub screens: Vec<(u64, Screen)>,
    /// Card operations in order, and what came back for each (the transcript has them as
    /// text).
    pub card_ops: Vec<CardOpRecord>,
    pub card_replies: Vec<CardAnswer>,
    /// Everything the host took in, in order (the transcript has each as a summary line).
    pub host_messages: Vec<HostRecord>,
    pub identities: Vec<IdentityRecord>,
    pub errors: Vec<ErrorRecord>,
    /// Auth PIN tries left on the card at the end.
    pub pin_tries_left: Option<u8>,
    /// APDUs the card processed.
    pub apdus: u64,
    /// What went over the simulated air (frames, injected faults, air time).
    pub air: AirCounters,
    /// Frames the lossy wire dropped, and results the host saw again after it had kept them
    /// (the endpoint only acknowledged them again; see [`host`]).
    pub wire_lost: u64,
    pub host_duplicates: u32,
    /// Frames the host's endpoint refused (and hellos it could not secure).
    pub host_refused: u32,
    /// Whether the handshake secured the link (the host checked the reader's hello).
    pub link_secured: bool,
    /// Session messages still unacknowledged in the reader's outbox at the end.
    pub reader_unacked: usize,
    /// Session messages the reader's endpoint would not queue (outbox full).
    pub reader_dropped: u32,
    /// Host frames the reader's endpoint refused.
    pub reader_rejected: u32,
    pub face_attempts: Vec<u8>,
    /// When the run ended (virtual ms from its start).
    pub end_ms: u64,
    pub issued: Issued,
    /// The session's phase at the end (`Idle` = automatic mode, no card).
    pub final_phase: Phase,
    /// Whether 目視 mode was still unlocked at the end.
    pub visual_unlocked: bool,
}

impl Outcome {
    /// The types of the host's messages in order ([`msg_type`] constants).
    pub fn host_types(&self) -> Vec<u8> {
        self.host_messages.iter().map(|m| m.msg_type).collect()
    }
    /// The host's messages of type `t`.
    pub fn host_messages_of(&self, t: u8) -> impl Iterator<Item = &HostRecord> {
        self.host_messages.iter().filter(move |m| m.msg_type == t)
    }
}

/// A card operation the session asked for (the PIN itself is not kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardOpRecord {
    Identify,
    VerifyPin { last_try_confirmed: bool },
    ReadCertificate,
    SignChallenge,
}

impl CardOpRecord {
    fn of(op: &CardOp) -> Self {
        match op {
            CardOp::Identify => Self::Identify,
            CardOp::VerifyPin { last_try_confirmed, .. } => {
                Self::VerifyPin { last_try_confirmed: *last_try_confirmed }
            }
            CardOp::ReadCertificate => Self::ReadCertificate,
            CardOp::SignChallenge { .. } => Self::SignChallenge,
        }
    }
}

/// What came back for a card operation: the driver's reply, or the card left the field before
/// it answered (the driver's `Lost` and the card no longer there to re-activate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardAnswer {
    Reply(CardReplyRecord),
    Removed,
}

/// A card reply, owned (the rig holds it until its virtual time comes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardReplyRecord {
    Identified { kind: CardKind, auth_cert: Vec<u8>, not_after_unix_s: i64, pin: PinState },
    Certificate { auth_cert: Vec<u8>, not_after_unix_s: i64 },
    PinVerified,
    PinWrong { tries_left: u8 },
    PinLocked,
    Signed { signature: Vec<u8> },
    Failed { error: CardFailure },
}

impl CardReplyRecord {
    fn from_reply(r: &CardReply<'_>) -> Self {
        match *r {
            CardReply::Identified { kind, auth_cert, not_after_unix_s, pin } => {
                CardReplyRecord::Identified { kind, auth_cert: auth_cert.to_vec(), not_after_unix_s, pin }
            }
            CardReply::Certificate { auth_cert, not_after_unix_s } => {
                CardReplyRecord::Certificate { auth_cert: auth_cert.to_vec(), not_after_unix_s }
            }
            CardReply::PinVerified => CardReplyRecord::PinVerified,
            CardReply::PinWrong { tries_left } => CardReplyRecord::PinWrong { tries_left },
            CardReply::PinLocked => CardReplyRecord::PinLocked,
            CardReply::Signed { signature } => CardReplyRecord::Signed { signature: signature.to_vec() },
            CardReply::Failed { error } => CardReplyRecord::Failed { error },
        }
    }

    fn as_reply(&self) -> CardReply<'_> {
        match self {
            CardReplyRecord::Identified { kind, auth_cert, not_after_unix_s, pin } => CardReply::Identified {
                kind: *kind,
                auth_cert,
                not_after_unix_s: *not_after_unix_s,
                pin: *pin,
            },
            CardReplyRecord::Certificate { auth_cert, not_after_unix_s } => {
                CardReply::Certificate { auth_cert, not_after_unix_s: *not_after_unix_s }
            }
            CardReplyRecord::PinVerified => CardReply::PinVerified,
            CardReplyRecord::PinWrong { tries_left } => CardReply::PinWrong { tries_left: *tries_left },
            CardReplyRecord::PinLocked => CardReply::PinLocked,
            CardReplyRecord::Signed { signature } => CardReply::Signed { signature },
            CardReplyRecord::Failed { error } => CardReply::Failed { error: *error },
        }
    }

    fn describe(&self) -> String {
        match self {
            CardReplyRecord::Identified { kind, auth_cert, not_after_unix_s, pin } => {
                let end = Date::from_days(not_after_unix_s.div_euclid(86_400));
                let pin = match pin {
                    PinState::TriesLeft(1) => "PIN 1 try left".into(),
                    PinState::TriesLeft(n) => format!("PIN {n} tries left"),
                    PinState::Unavailable => "PIN unavailable".into(),
                };
                format!("Identified {kind:?}, auth cert {} B until {end}, {pin}", auth_cert.len())
            }
            CardReplyRecord::Signed { signature } => format!("Signed ({} B)", signature.len()),
            CardReplyRecord::Certificate { auth_cert, not_after_unix_s } => {
                let end = Date::from_days(not_after_unix_s.div_euclid(86_400));
                format!("Certificate {} B until {end}", auth_cert.len())
            }
            other => format!("{other:?}"),
        }
    }
}

/// Things due at a virtual time.
#[derive(Debug)]
enum Due {
    Script(Step),
    Card(CardReplyRecord),
    Face(FaceReply),
}

/// Bytes in flight one way, each chunk with its arrival time.
#[derive(Default)]
struct Pipe {
    chunks: VecDeque<(Instant, Vec<u8>)>,
}

impl Pipe {
    fn send(&mut self, now: Instant, bytes: Vec<u8>) {
        self.chunks.push_back((now + PIPE_LATENCY, bytes));
    }
    fn next_time(&self) -> Option<Instant> {
        self.chunks.front().map(|c| c.0)
    }
    fn take_due(&mut self, now: Instant) -> Vec<u8> {
        let mut out = Vec::new();
        while self.chunks.front().is_some_and(|c| c.0 <= now) {
            if let Some((_, b)) = self.chunks.pop_front() {
                out.extend(b);
            }
        }
        out
    }
}

/// What lies on the reader: the virtual My Number card of the persona, or another ISO 14443
/// Type B card (a 運転免許証, say) that has no JPKI applet.
pub enum RigCard {
    MyNumber(Box<VirtualCard>),
    Foreign,
}

impl SmartCard for RigCard {
    fn atr(&self) -> &[u8] {
        match self {
            RigCard::MyNumber(c) => c.atr(),
            RigCard::Foreign => &[0x3B, 0x88, 0x80, 0x01, 0, 0, 0, 0, 0x77, 0x81, 0x81, 0x00, 0x7F],
        }
    }
    fn reset(&mut self) {
        if let RigCard::MyNumber(c) = self {
            c.reset();
        }
    }
    fn process_apdu(&mut self, command: &[u8]) -> Vec<u8> {
        match self {
            RigCard::MyNumber(c) => c.process_apdu(command),
            // SELECT of any applet: not here; anything else: unknown instruction.
            RigCard::Foreign if command.get(1) == Some(&0xA4) => vec![0x6A, 0x82],
            RigCard::Foreign => vec![0x6D, 0x00],
        }
    }
}

type Air = IsoDep<SimFrontend<RigCard>>;

/// Pulls the card out of the field once `remove_at` APDUs were answered (counted by the
/// shared [`Counting`] wrapper, which carries the rig's count across card operations).
struct CardPull<'a> {
    link: Counting<&'a mut Air>,
    remove_at: Option<u64>,
    /// Pull the card after it processed the next APDU, before its answer reaches the reader.
    swallow: bool,
    pulled: &'a mut bool,
}

impl ApduTransport for CardPull<'_> {
    type Error = <Air as ApduTransport>::Error;
    fn transceive(&mut self, command: &[u8], response: &mut [u8]) -> Result<usize, Self::Error> {
        if Some(self.link.apdus) == self.remove_at && !*self.pulled {
            *self.pulled = true;
            if self.swallow {
                // The card acts on the command; the answer is lost as the card leaves.
                let _ = self.link.inner.transceive(command, response);
                response.fill(0);
                self.link.apdus += 1;
                self.link.inner.frontend_mut().set_card_present(false);
                return Err(ApduError::Transport(IsoDepError::NoResponse(FrontendError::Timeout)));
            }
            self.link.inner.frontend_mut().set_card_present(false);
        }
        self.link.transceive(command, response)
    }
}

/// The rig for one scenario.
pub struct Rig {
    /// Virtual time: the monotonic clock of the reader, from zero at the start of the run.
    now: Instant,
    session: Session,
    air: Air,
    activated: bool,
    apdus: u64,
    remove_at: Option<u64>,
    swallow: bool,
    pulled: bool,
    lossy: bool,
    acks: u64,
    lost: u64,
    face: ReplayFace,
    /// The reader's end of the host link: the shipping endpoint.
    link: ReaderEndpoint,
    entropy: RigEntropy,
    /// Results already sent once (the lossy wire drops each first send).
    sent_once: HashSet<(u32, u32)>,
    frames_rx: u32,
    frames_rejected: u32,
    dropped: u32,
    to_host: Pipe,
    to_reader: Pipe,
    host: Host,
    due: Vec<(Instant, u64, Due)>,
    order: u64,
    transcript: Vec<String>,
    /// Screens shown, with the virtual time in ms (as in [`Outcome::screens`]).
    screens: Vec<(u64, Screen)>,
    card_ops: Vec<CardOpRecord>,
    card_replies: Vec<CardAnswer>,
    issued: Issued,
}

impl Rig {
    /// Builds the reader, the card for the scenario's persona and the host.
    pub fn new(scenario: &Scenario) -> Result<Self, String> {
        let p =
            persona::find(&scenario.persona).ok_or_else(|| format!("no persona {:?}", scenario.persona))?;
        let (card, issued) = vcard::build_at(&p, TODAY, &AtrChoice::Contactless)?;
        let card = if scenario.foreign_card { RigCard::Foreign } else { RigCard::MyNumber(Box::new(card)) };
        let mut sim = SimFrontend::with_config(card, SimCardConfig::default(), scenario.faults.clone());
        sim.set_card_present(false);
        // Parameters until the first activation replaces them.
        let params = IsoDepParams { fsc: 32, fwi: 4, cid: None, nad_supported: false };
        let air = IsoDep::with_config(sim, params, scenario.iso_dep);

        // Both ends hold the pairing key (pairing already done); the connection keys come from
        // the handshake at the start of the run.
        let link = ReaderEndpoint::new(READER_IDENTITY, Some(PairingKey(PAIRING_KEY)));
        let host = Host::new(PairingKey(PAIRING_KEY), scenario.registered, scenario.seed);
        let session = Session::new(Config::default(), PairingKey(PAIRING_KEY), 0x5100_0000);

        let mut rig = Self {
            now: Instant::ZERO,
            session,
            air,
            activated: false,
            apdus: 0,
            remove_at: scenario.remove_after_apdus,
            swallow: scenario.pull_swallows_answer,
            pulled: false,
            lossy: scenario.lossy_link,
            acks: 0,
            lost: 0,
            face: ReplayFace::new(scenario.face.iter().copied()),
            link,
            entropy: RigEntropy::new(READER_ENTROPY_SEED),
            sent_once: HashSet::new(),
            frames_rx: 0,
            frames_rejected: 0,
            dropped: 0,
            to_host: Pipe::default(),
            to_reader: Pipe::default(),
            host,
            due: Vec::new(),
            order: 0,
            transcript: Vec::new(),
            screens: Vec::new(),
            card_ops: Vec::new(),
            card_replies: Vec::new(),
            issued,
        };
        for (t, step) in &scenario.script {
            rig.schedule(Instant::from_millis(*t), Due::Script(*step));
        }
        Ok(rig)
    }

    fn schedule(&mut self, at: Instant, what: Due) {
        self.order += 1;
        self.due.push((at, self.order, what));
    }

    fn log(&mut self, what: impl AsRef<str>) {
        let line = format!("{:>8.3} s  {}", self.now.as_millis() as f64 / 1000.0, what.as_ref());
        self.transcript.push(line);
    }

    fn show(&mut self, screen: Screen) {
        let (ja, _) = screen.ja();
        let (en, _) = screen.en();
        let mut line = format!("screen  {:<18} {ja} / {en}", render::screen_name(&screen));
        if let Some((dja, den)) = render::detail_text(&screen) {
            let _ = write!(line, "  [{dja} | {den}]");
        }
        self.log(line);
        self.screens.push((self.now.as_millis(), screen));
    }

    /// Host → reader through the host's endpoint, at the host's current time.
    fn host_send(&mut self, msg: &Message<'_>) {
        match self.host.send(msg) {
            Ok(()) => self.log(format!("host → reader  {}", host::summary(msg))),
            Err(e) => self.log(format!("host could not send {}: {e:?}", host::summary(msg))),
        }
        self.flush_host();
    }

    /// The host's frames onto the pipe; the lossy wire drops every other acknowledgement.
    fn flush_host(&mut self) {
        while let Some(f) = self.host.poll_transmit() {
            let is_ack = Frame::new_unchecked(&f[..]).msg_type() == msg_type::ACK;
            if is_ack && self.lossy {
                self.acks += 1;
                if self.acks % 2 == 1 {
                    self.lost += 1;
                    self.log("pipe    an acknowledgement is lost on the wire");
                    continue;
                }
            }
            self.to_reader.send(self.now, f);
        }
    }

    /// What the host does once the reader's hello checked out: the wall clock, then the 目視
    /// passcode of one staff account (salted hash only).
    fn host_secured(&mut self) {
        let wall = unix_ms(TODAY).as_millis() + self.now.as_millis();
        self.host_send(&Message::TimeSync { unix_ms: wall });
        let salt = *b"rig passcode slt";
        let iterations = 1_000;
        let hash = passcode::hash(STAFF_PASSCODE.as_bytes(), &salt, iterations);
        self.host_send(&Message::PasscodeProvision { account: STAFF_ACCOUNT, salt, iterations, hash });
    }

    /// Runs the scenario to its end and answers what happened.
    pub fn run(mut self) -> Outcome {
        self.log("boot: automatic mode");
        self.show(Screen::PlaceCard);
        // The host connects: its hello, the reader's answer, then both ends are secured and
        // the host sends the wall clock and the passcode ([`Rig::host_secured`]).
        self.host.connect();
        self.log("host → reader  HostHello (this connection's nonce)");
        self.flush_host();

        let horizon = self.due.iter().map(|d| d.0).max().unwrap_or(Instant::ZERO) + Duration::from_secs(30);
        loop {
            let next = [
                self.due.iter().map(|d| d.0).min(),
                self.session.next_deadline(),
                self.to_host.next_time(),
                self.to_reader.next_time(),
                // Retransmissions; an unsecured link sends none, so they wait for a hello.
                self.link.next_deadline().filter(|_| self.link.is_secured()),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next else { break };
            if next > horizon {
                break;
            }
            self.now = self.now.max(next);
            self.step();
        }
        self.log("end");
        let pin_tries_left = match self.air.frontend().card() {
            RigCard::MyNumber(c) => c.tries_left(Applet::Jpki, 0x0018),
            RigCard::Foreign => None,
        };
        Outcome {
            name: String::new(),
            transcript: self.transcript,
            screens: self.screens,
            card_ops: self.card_ops,
            card_replies: self.card_replies,
            host_messages: self.host.messages.clone(),
            identities: self.host.identities.clone(),
            errors: self.host.errors.clone(),
            pin_tries_left,
            apdus: self.apdus,
            air: *self.air.frontend().counters(),
            wire_lost: self.lost,
            host_duplicates: self.host.duplicates,
            host_refused: self.host.refused,
            link_secured: self.host.is_secured(),
            reader_unacked: self.link.pending(),
            reader_dropped: self.dropped,
            reader_rejected: self.frames_rejected,
            face_attempts: self.face.attempts.clone(),
            end_ms: self.now.as_millis(),
            issued: self.issued,
            final_phase: self.session.phase(),
            visual_unlocked: self.session.visual_unlocked(),
        }
    }

    /// Everything due at `self.now`, in a fixed order: the wire, the world, the deadlines.
    fn step(&mut self) {
        let now = self.now;
        // Reader → host.
        let bytes = self.to_host.take_due(now);
        if !bytes.is_empty() {
            let turn = self.host.receive(&bytes);
            for l in turn.lines {
                self.log(l);
            }
            self.flush_host();
            if turn.secured {
                self.host_secured();
            }
        }
        // Host → reader.
        let bytes = self.to_reader.take_due(now);
        if !bytes.is_empty() {
            self.reader_receive(&bytes);
        }
        // Scripted steps, card and face answers.
        while let Some(i) = self
            .due
            .iter()
            .enumerate()
            .filter(|(_, d)| d.0 <= now)
            .min_by_key(|(_, d)| (d.0, d.1))
            .map(|(i, _)| i)
        {
            let (_, _, what) = self.due.remove(i);
            self.handle_due(what);
        }
        // Deadlines of the core.
        if self.session.next_deadline().is_some_and(|d| d <= now) {
            let actions = self.session.handle(now, Event::Tick);
            self.perform(actions);
        }
        self.flush_link();
    }

    /// Host → reader bytes into the reader's endpoint; what it hands up is handled the way the
    /// firmware image does (`image-core`'s `host_input`).
    fn reader_receive(&mut self, mut bytes: &[u8]) {
        let now = self.now;
        while !bytes.is_empty() {
            let n = self.link.push_rx(bytes);
            bytes = &bytes[n..];
            loop {
                match self.link.poll_input(now, &mut self.entropy) {
                    None => break,
                    Some(LinkInput::Host { message, authenticated }) => {
                        self.frames_rx = self.frames_rx.wrapping_add(1);
                        if let Message::DiagnosticsRequest = message {
                            if authenticated {
                                self.link.send_diagnostics(Diagnostics {
                                    uptime_s: (now.as_millis() / 1000) as u32,
                                    nfc: SelfTest::Passed,
                                    camera: SelfTest::NotRun,
                                    clock: self.session.wall_clock(now).unwrap_or_default(),
                                    frames_rx: self.frames_rx,
                                    frames_rejected: self.frames_rejected,
                                });
                            }
                            continue;
                        }
                        let actions = self.session.handle(now, Event::Host { message, authenticated });
                        self.perform(actions);
                    }
                    Some(LinkInput::Connected { secured }) => {
                        self.log(if secured {
                            "link    HostHello answered with ReaderHello: keys derived from the pairing key"
                        } else {
                            "link    HostHello answered with ReaderHello: not paired, link stays open"
                        });
                    }
                    Some(LinkInput::Paired { key, code }) => {
                        // The new key also signs the reader's attestations from now on.
                        self.session.set_pairing_key(key);
                        self.log(format!("link    paired, code {code:06}"));
                    }
                    Some(LinkInput::Handled) => {}
                    Some(LinkInput::Rejected(e)) => {
                        self.frames_rejected = self.frames_rejected.wrapping_add(1);
                        self.log(format!("reader refused a frame: {e:?}"));
                    }
                }
            }
            if n == 0 {
                break;
            }
        }
    }

    /// The reader's endpoint's frames onto the pipe (its hello, session messages from the
    /// outbox, retransmissions); the lossy wire drops the first send of every result.
    fn flush_link(&mut self) {
        let mut buf = vec![0u8; MAX_FRAME];
        while let Some(n) = self.link.poll_transmit(self.now, &mut buf) {
            let frame = Frame::new_unchecked(&buf[..n]);
            let (session, seq) = (frame.session(), frame.seq());
            let is_result = Message::decode(frame.msg_type(), frame.version_minor(), frame.payload())
                .is_ok_and(|m| m.is_result());
            if self.lossy && is_result && self.sent_once.insert((session, seq)) {
                self.lost += 1;
                self.log(format!("pipe    result {session:08x}/{seq} lost on the wire (first send)"));
                continue;
            }
            self.to_host.send(self.now, buf[..n].to_vec());
        }
    }

    fn handle_due(&mut self, what: Due) {
        let now = self.now;
        match what {
            Due::Script(Step::Place) => {
                self.log("world   card placed on the reader");
                self.air.frontend_mut().set_card_present(true);
                if self.activate() {
                    let actions = self.session.handle(now, Event::CardPresent);
                    self.perform(actions);
                } else {
                    self.log("nfc     no card answered the activation");
                }
            }
            Due::Script(Step::Remove) => {
                self.log("world   card taken off the reader");
                self.air.frontend_mut().set_card_present(false);
                self.activated = false;
                let actions = self.session.handle(now, Event::CardRemoved);
                self.perform(actions);
            }
            Due::Script(Step::Key(key)) => {
                let shown = match key {
                    Key::Digit(_) => "digit (hidden)".to_string(),
                    k => format!("{k:?}"),
                };
                self.log(format!("keypad  {shown}"));
                let actions = self.session.handle(now, Event::Key(key));
                self.perform(actions);
            }
            Due::Card(reply) => {
                if let CardReplyRecord::Failed { error: CardFailure::Lost } = reply {
                    // A real driver checks presence before reporting: re-activate (WUPB).
                    if !self.activate() {
                        self.log("nfc     card lost and not in the field: removed");
                        self.card_replies.push(CardAnswer::Removed);
                        let actions = self.session.handle(now, Event::CardRemoved);
                        self.perform(actions);
                        return;
                    }
                }
                let line = format!("card  ← {}", reply.describe());
                self.log(line);
                self.card_replies.push(CardAnswer::Reply(reply.clone()));
                let actions = self.session.handle(now, Event::Card(reply.as_reply()));
                self.perform(actions);
            }
            Due::Face(reply) => {
                self.log(format!("face    {:?} (score {})", reply.decision, reply.score_milli));
                let actions = self.session.handle(now, Event::Face(reply));
                self.perform(actions);
            }
        }
    }

    /// Type B activation of whatever is in the field; on success the block protocol restarts.
    fn activate(&mut self) -> bool {
        let config = ActivationConfig { cid: Some(1), ..ActivationConfig::default() };
        match type_b::activate(self.air.frontend_mut(), &config) {
            Ok(act) => {
                self.air.reactivate(act.params);
                self.activated = true;
                true
            }
            Err(_) => {
                self.activated = false;
                false
            }
        }
    }

    fn perform(&mut self, actions: shikaku_firmware::session::Actions) {
        for action in actions {
            match action {
                Action::Show(screen) => self.show(screen),
                Action::Send(out) => {
                    // Every session message goes through the endpoint's exactly-once outbox.
                    let msg = self.session.host_message(&out);
                    if let Err(e) = self.link.queue(out.session, out.seq, &msg, self.now) {
                        let line = format!(
                            "link    {:08x}/{} {} not queued: {e:?}",
                            out.session,
                            out.seq,
                            host::summary(&msg)
                        );
                        self.dropped += 1;
                        self.log(line);
                    }
                    // Out at once, in order.
                    self.flush_link();
                }
                Action::Card(op) => self.card_op(op),
                Action::StartFace { attempt } => {
                    self.log(format!("face    attempt {attempt}: capturing"));
                    let reply = self.face.verify(attempt);
                    self.schedule(self.now + FACE_ATTEMPT, Due::Face(reply));
                }
                Action::WipeFace => self.face.wipe(),
            }
        }
        self.flush_link();
    }

    fn card_op(&mut self, op: CardOp) {
        let name = match &op {
            CardOp::Identify => "Identify".to_string(),
            CardOp::VerifyPin { last_try_confirmed: false, .. } => "VerifyPin".to_string(),
            CardOp::VerifyPin { last_try_confirmed: true, .. } => "VerifyPin(last try confirmed)".to_string(),
            CardOp::SignChallenge { .. } => "SignChallenge".to_string(),
            CardOp::ReadCertificate => "ReadCertificate".to_string(),
        };
        self.log(format!("card  → {name}"));
        self.card_ops.push(CardOpRecord::of(&op));
        let fc0 = self.air.frontend().counters().air_time_fc;
        let apdus0 = self.apdus;
        let was_pulled = self.pulled;
        let mut buf = vec![0u8; card_ops::BUFFER_LEN];
        let owned = if self.activated {
            let mut t = CardPull {
                link: Counting { inner: &mut self.air, apdus: self.apdus, bytes: 0 },
                remove_at: self.remove_at,
                swallow: self.swallow,
                pulled: &mut self.pulled,
            };
            let reply = card_ops::run(&mut t, op, &mut buf);
            let owned = CardReplyRecord::from_reply(&reply);
            self.apdus = t.link.apdus;
            owned
        } else {
            CardReplyRecord::Failed { error: CardFailure::Lost }
        };
        if self.pulled && !was_pulled {
            self.log(format!("world   card pulled out after {} APDUs", self.apdus));
        }
        let fc = self.air.frontend().counters().air_time_fc - fc0;
        let ms = (fc / 13_560).max(1);
        self.log(format!("nfc     {} APDUs, {ms} ms on air", self.apdus - apdus0));
        self.schedule(self.now + Duration::from_millis(ms), Due::Card(owned));
    }
}

/// Builds and runs a scenario.
pub fn run(scenario: &Scenario) -> Result<Outcome, String> {
    let rig = Rig::new(scenario)?;
    let mut outcome = rig.run();
    outcome.name = scenario.name.clone();
    Ok(outcome)
}
