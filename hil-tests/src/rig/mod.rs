//! The simulated rig: one reader and one host, every layer real except the air, the keypad,
//! the camera and the wire, all driven in **virtual time**.
//!
//! ```text
//!  scripted keypad ─┐                      ┌─ ReplayFace (recorded FaceReply list)
//!                   ▼                      ▼
//!        image_core::Reader (the firmware images' main loop, on the host) with RigPlatform:
//!        session core, card ops, ReaderEndpoint (shipping: hello, keys, MAC, exactly-once
//!        outbox, retransmissions); polls for a Type B card every CARD_POLL, checks presence
//!        every PRESENCE_CHECK
//!                   │ card ops (JPKI → ISO 7816-4 → ISO 14443-4 IsoDep → Type B)
//!                   │                       │ frames ▲
//!                   ▼                       ▼        │   byte pipe, 2 ms each way (lossy option)
//!      SimFrontend (PICC side,        HostEndpoint (shipping, shikaku_protocol::endpoint::host):
//!      fault injection, card pulls)   hello, key check, MAC, results handed up once
//!                   │                       │ HostEvent ▲ send / ack
//!                   ▼                       ▼           │
//!      virtual card (persona)         Host: challenges, registration answer, proof checks,
//!                                     acknowledges each result after recording it
//! ```
//!
//! The reader is the one the firmware images run: [`image_core::Reader`] over the simulated
//! frontend, with a [`Platform`] in virtual time (the rig's clock, the host pipe, the scripted
//! keypad, the screens recorded with the session's phase, a seeded [`RigEntropy`] for its
//! TRNG, and the scenario's [`ReplayFace`] as its face engine). The rig has no reader loop of
//! its own: its event loop advances the clock to the next thing due — a scripted step, bytes
//! arriving on the pipe, a deadline of the session or of the link's outbox, the reader's next
//! card poll while a card is in (or known in) the field — and calls [`Reader::poll`].
//!
//! The host side is a [`HostEndpoint`](shikaku_protocol::endpoint::host::HostEndpoint) (as
//! the host driver uses it). Each run starts with the handshake: the host sends `HostHello`,
//! the reader answers `ReaderHello`, both derive the connection keys from [`PAIRING_KEY`] and
//! the two nonces, and only then does the host send the wall clock and the passcode.
//!
//! The clock starts at 0 ms. A card placed by the script enters the simulated field; the
//! reader finds it at its next card poll (at most [`shikaku_image_core::CARD_POLL`] later) and notices its removal
//! at the next presence check (at most [`shikaku_image_core::PRESENCE_CHECK`] later). A poll that ran card
//! operations takes the air time the simulated frontend counted, each face attempt
//! [`FACE_ATTEMPT`]; what the reader sent in that poll leaves when it ends, and the pipe takes
//! 2 ms each way (the handshake takes the first 4 ms). The host sets the reader's wall clock
//! with `TimeSync` to a fixed date ([`TODAY`], 09:00 JST) and the virtual card is issued as of
//! that date, so certificate expiry is deterministic.
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
use shikaku_firmware::nfc::iso_dep::IsoDepConfig;
use shikaku_firmware::session::{
    CardFailure, CardOp, CardReply, FaceReply, FaceVerifier, Key, Phase, PinState, Screen,
};
use shikaku_image_core::storage::FlashStorage;
use shikaku_image_core::{Platform, Reader, Status, Storage};
use shikaku_protocol::auth::PairingKey;
use shikaku_protocol::endpoint::reader::{Entropy, Identity, PairingStats};
use shikaku_protocol::message::{msg_type, Capabilities, CardKind, FirmwareVersion};
use shikaku_protocol::{passcode, Duration, Frame, Instant, Message, UnixMillis};
use shikaku_store::ram::{RamFlash, SECTOR, SECTORS};
use shikaku_store::Store;

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
/// The salt of the staff passcode the rig's host provisions.
pub const RIG_PASSCODE_SALT: &[u8; 16] = b"rig passcode slt";
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
    /// The card leaves the field (the reader notices at its next presence check, at most
    /// `PRESENCE_CHECK` later).
    Remove,
    Key(Key),
    /// The cable between reader and PC is pulled (the reader notices, as over USB); nothing
    /// crosses until [`Step::Plug`].
    Unplug,
    /// The cable is back: the host connects again (hello, keys, `LinkReady`).
    Plug,
    /// The reader loses power and starts again: a new [`Reader`] from what its flash kept
    /// (a RAM NOR flash through the same [`FlashStorage`] the images use); the host sees the
    /// connection drop and connects again if the cable is in.
    PowerCut,
}

/// Something a device on the cable does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injection {
    /// These bytes towards the reader.
    ToReader(Vec<u8>),
    /// These bytes towards the host.
    ToHost(Vec<u8>),
    /// Every frame the real host sent so far, again, towards the reader (a replay).
    ReplayToReader,
    /// Every frame the real reader sent so far, again, towards the host.
    ReplayToHost,
    /// Every frame the real host sent so far, last first (reordered), towards the reader.
    ReorderToReader,
}

/// One frame on the cable, as an observer tapping it records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tapped {
    pub to_reader: bool,
    /// Put there by a device on the cable (an [`Injection`]), not by the reader or the host.
    pub injected: bool,
    pub bytes: Vec<u8>,
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
    /// Pull the card out once it processed this many APDUs (mid-operation; done by the
    /// simulated frontend, [`SimFrontend::pull_after_apdus`]).
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
    /// What a device on the cable does, when (virtual ms).
    pub injections: Vec<(u64, Injection)>,
    /// The host pre-issues challenges as the host driver does (one per connection and after
    /// each card), so a reception can finish while the PC is away.
    pub host_preissues_challenge: bool,
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
            injections: Vec::new(),
            host_preissues_challenge: false,
        }
    }

    /// Adds an injection at `at_ms`.
    pub fn inject(mut self, at_ms: u64, what: Injection) -> Self {
        self.injections.push((at_ms, what));
        self
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
    /// The session's phase when each screen of [`Outcome::screens`] was shown.
    pub screen_phases: Vec<Phase>,
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
    /// Every frame that crossed the cable (and every injected one), in order.
    pub wire: Vec<Tapped>,
    /// Pairing requests the reader refused and key exchanges it started.
    pub reader_pairing: PairingStats,
    /// Whether the reader holds a pairing key at the end.
    pub reader_paired: bool,
    /// Power cuts the reader went through.
    pub reboots: u32,
    /// Writes to the reader's flash that failed.
    pub storage_failures: u32,
    /// Status and record messages the reader's full outbox let go (never an identity).
    pub reader_evicted: u32,
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

type Frontend = SimFrontend<RigCard>;

/// The face engine of the rig: the scenario's replayed outcomes, each attempt logged.
struct RigFace {
    replay: ReplayFace,
    lines: Vec<String>,
}

impl FaceVerifier for RigFace {
    fn verify(&mut self, attempt: u8) -> FaceReply {
        let reply = self.replay.verify(attempt);
        self.lines.push(format!("face    attempt {attempt}: capturing"));
        self.lines.push(format!("face    {:?} (score {})", reply.decision, reply.score_milli));
        reply
    }

    fn wipe(&mut self) {
        self.replay.wipe();
    }
}

/// The reader's board in virtual time.
struct RigPlatform {
    now: Instant,
    /// Host → reader bytes that arrived and were not read yet.
    inbox: VecDeque<u8>,
    /// Frames the reader wrote during the current poll (they leave when it ends).
    outbox: Vec<Vec<u8>>,
    keys: VecDeque<Key>,
    face: RigFace,
    entropy: RigEntropy,
    transcript: Vec<String>,
    screens: Vec<(u64, Screen)>,
    phases: Vec<Phase>,
    card_ops: Vec<CardOpRecord>,
    card_replies: Vec<CardAnswer>,
    /// Card operations run during the current poll.
    ops_this_poll: usize,
    last_status: Option<Status>,
    /// The reader's flash (taken out and put back across a power cut).
    storage: Option<FlashStorage<RamFlash>>,
}

impl RigPlatform {
    fn log(&mut self, what: impl AsRef<str>) {
        self.drain_face();
        self.stamp(what.as_ref());
    }

    fn drain_face(&mut self) {
        for l in std::mem::take(&mut self.face.lines) {
            self.stamp(&l);
        }
    }

    /// One transcript line at the rig's current time.
    fn stamp(&mut self, what: &str) {
        let line = format!("{:>8.3} s  {what}", self.now.as_millis() as f64 / 1000.0);
        self.transcript.push(line);
    }
}

impl Platform for RigPlatform {
    fn now(&mut self) -> Instant {
        self.now
    }

    fn host_read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.inbox.len());
        for (d, s) in buf.iter_mut().zip(self.inbox.drain(..n)) {
            *d = s;
        }
        n
    }

    fn host_write(&mut self, bytes: &[u8]) {
        self.outbox.push(bytes.to_vec());
    }

    fn key(&mut self) -> Option<Key> {
        self.keys.pop_front()
    }

    fn show(&mut self, screen: &Screen, phase: Phase) {
        let (ja, _) = screen.ja();
        let (en, _) = screen.en();
        let mut line = format!("screen  {:<18} {ja} / {en}", render::screen_name(screen));
        if let Some((dja, den)) = render::detail_text(screen) {
            let _ = write!(line, "  [{dja} | {den}]");
        }
        self.log(line);
        self.screens.push((self.now.as_millis(), *screen));
        self.phases.push(phase);
    }

    fn status(&mut self, s: Status) {
        let before = self.last_status.replace(s);
        if before.is_none_or(|b| b.secured != s.secured) && s.secured {
            self.log("link    HostHello answered with ReaderHello: keys derived from the pairing key");
        }
        if before.is_some_and(|b| b.card != s.card) {
            self.log(if s.card { "nfc     card activated" } else { "nfc     card no longer in the field" });
        }
    }

    fn entropy(&mut self) -> &mut dyn Entropy {
        &mut self.entropy
    }

    fn face(&mut self) -> Option<&mut dyn FaceVerifier> {
        Some(&mut self.face)
    }

    fn storage(&mut self) -> Option<&mut dyn Storage> {
        self.storage.as_mut().map(|s| s as &mut dyn Storage)
    }

    fn card_op(&mut self, op: &CardOp) {
        let name = match op {
            CardOp::Identify => "Identify",
            CardOp::VerifyPin { last_try_confirmed: false, .. } => "VerifyPin",
            CardOp::VerifyPin { last_try_confirmed: true, .. } => "VerifyPin(last try confirmed)",
            CardOp::SignChallenge { .. } => "SignChallenge",
            CardOp::ReadCertificate => "ReadCertificate",
        };
        self.log(format!("card  → {name}"));
        self.card_ops.push(CardOpRecord::of(op));
        self.ops_this_poll += 1;
    }

    fn card_answer(&mut self, reply: Option<&CardReply<'_>>) {
        match reply {
            Some(r) => {
                let r = CardReplyRecord::from_reply(r);
                self.log(format!("card  ← {}", r.describe()));
                self.card_replies.push(CardAnswer::Reply(r));
            }
            None => {
                self.log("nfc     card lost and not in the field: removed");
                self.card_replies.push(CardAnswer::Removed);
            }
        }
    }
}

/// The rig for one scenario.
pub struct Rig {
    /// Virtual time: the monotonic clock of the reader, from zero at the start of the run.
    now: Instant,
    reader: Reader<Frontend>,
    platform: RigPlatform,
    /// The scripted steps not yet due, in order.
    script: VecDeque<(Instant, Step)>,
    lossy: bool,
    acks: u64,
    lost: u64,
    /// Results already sent once (the lossy wire drops each first send).
    sent_once: HashSet<(u32, u32)>,
    pull_logged: bool,
    to_host: Pipe,
    to_reader: Pipe,
    host: Host,
    issued: Issued,
    /// Injections not yet due, in order.
    injections: VecDeque<(Instant, Injection)>,
    /// The cable is in.
    cable: bool,
    wire: Vec<Tapped>,
    reboots: u32,
    /// The host provisioned the passcode (once per run: a re-provisioning would clear a
    /// lock-out, which is the administrator's remedy, not the rig's).
    provisioned: bool,
    iso_dep: IsoDepConfig,
    /// Counters of readers that lost power (evicted, dropped), added to the outcome's.
    lost_counters: (u32, u32),
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
        if let Some(n) = scenario.remove_after_apdus {
            sim.pull_after_apdus(n, scenario.pull_swallows_answer);
        }
        // Both ends hold the pairing key (pairing done earlier: the reader's flash has it); the
        // connection keys come from the handshake at the start of the run.
        let mut store =
            Store::new(RamFlash::new(), 0..(SECTOR * SECTORS) as u32).map_err(|e| e.to_string())?;
        store.set_pairing_key(Some(&PAIRING_KEY)).map_err(|e| e.to_string())?;
        let mut storage = FlashStorage::new(store);
        let key = storage.pairing_key().map_err(|e| e.to_string())?;
        let reader = Reader::with_iso_dep(READER_IDENTITY, key, 0x5100_0000, sim, scenario.iso_dep);
        let mut host = Host::new(PairingKey(PAIRING_KEY), scenario.registered, scenario.seed);
        host.preissue = scenario.host_preissues_challenge;
        let mut injections: Vec<(Instant, Injection)> =
            scenario.injections.iter().map(|(t, i)| (Instant::from_millis(*t), i.clone())).collect();
        injections.sort_by_key(|i| i.0);
        let mut script: Vec<(Instant, Step)> =
            scenario.script.iter().map(|(t, s)| (Instant::from_millis(*t), *s)).collect();
        // In time order; steps at the same time in the order the scenario gave them.
        script.sort_by_key(|s| s.0);
        Ok(Self {
            now: Instant::ZERO,
            reader,
            platform: RigPlatform {
                now: Instant::ZERO,
                inbox: VecDeque::new(),
                outbox: Vec::new(),
                keys: VecDeque::new(),
                face: RigFace { replay: ReplayFace::new(scenario.face.iter().copied()), lines: Vec::new() },
                entropy: RigEntropy::new(READER_ENTROPY_SEED),
                transcript: Vec::new(),
                screens: Vec::new(),
                phases: Vec::new(),
                card_ops: Vec::new(),
                card_replies: Vec::new(),
                ops_this_poll: 0,
                last_status: None,
                storage: Some(storage),
            },
            script: script.into(),
            lossy: scenario.lossy_link,
            acks: 0,
            lost: 0,
            sent_once: HashSet::new(),
            pull_logged: false,
            to_host: Pipe::default(),
            to_reader: Pipe::default(),
            host,
            issued,
            injections: injections.into(),
            cable: true,
            wire: Vec::new(),
            reboots: 0,
            provisioned: false,
            iso_dep: scenario.iso_dep,
            lost_counters: (0, 0),
        })
    }

    fn log(&mut self, what: impl AsRef<str>) {
        self.platform.now = self.now;
        self.platform.log(what);
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
            if !self.cable {
                continue;
            }
            let is_ack = Frame::new_unchecked(&f[..]).msg_type() == msg_type::ACK;
            if is_ack && self.lossy {
                self.acks += 1;
                if self.acks % 2 == 1 {
                    self.lost += 1;
                    self.log("pipe    an acknowledgement is lost on the wire");
                    continue;
                }
            }
            self.wire.push(Tapped { to_reader: true, injected: false, bytes: f.clone() });
            self.to_reader.send(self.now, f);
        }
    }

    /// What the host does once the reader's hello checked out: the wall clock, then the 目視
    /// passcode of one staff account (salted hash only).
    fn host_secured(&mut self) {
        let wall = unix_ms(TODAY).as_millis() + self.now.as_millis();
        self.host_send(&Message::TimeSync { unix_ms: wall });
        if !self.provisioned {
            self.provisioned = true;
            let salt = *RIG_PASSCODE_SALT;
            let iterations = 10_000;
            let hash = passcode::hash(STAFF_PASSCODE.as_bytes(), &salt, iterations);
            self.host_send(&Message::PasscodeProvision { account: STAFF_ACCOUNT, salt, iterations, hash });
        }
        if self.host.preissue {
            let line = self.host.preissue_challenge();
            self.log(line);
            self.flush_host();
        }
    }

    /// When the reader next has something to do on its own: a deadline of the session or of
    /// the link's outbox (an unsecured link sends none), unread host bytes, or its next card
    /// poll while a card is in the field or known to be (with no card near, a poll finds
    /// nothing, so the rig skips it; the first poll after a card is placed finds it).
    fn reader_next(&mut self) -> Option<Instant> {
        let card_near = self.reader.card_in_field() || self.reader.frontend().card_present();
        [
            self.reader.session.next_deadline(),
            self.reader.link.next_deadline().filter(|_| self.reader.link.is_secured()),
            (!self.platform.inbox.is_empty()).then_some(self.now),
            card_near.then(|| self.reader.next_card_poll()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs the scenario to its end and answers what happened.
    pub fn run(mut self) -> Outcome {
        self.log("boot: automatic mode");
        // The boot screen, before the session shows anything.
        self.platform.show(&Screen::PlaceCard, Phase::Idle);
        // The host connects: its hello, the reader's answer, then both ends are secured and
        // the host sends the wall clock and the passcode ([`Rig::host_secured`]).
        self.host.connect();
        self.log("host → reader  HostHello (this connection's nonce)");
        self.flush_host();

        let horizon = self
            .script
            .iter()
            .map(|d| d.0)
            .chain(self.injections.iter().map(|i| i.0))
            .max()
            .unwrap_or(Instant::ZERO)
            + Duration::from_secs(30);
        loop {
            let next = [
                self.script.front().map(|d| d.0),
                self.injections.front().map(|i| i.0),
                self.to_host.next_time(),
                self.to_reader.next_time(),
                self.reader_next(),
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
        let sim = self.reader.frontend();
        let pin_tries_left = match sim.card() {
            RigCard::MyNumber(c) => c.tries_left(Applet::Jpki, 0x0018),
            RigCard::Foreign => None,
        };
        let air = *sim.counters();
        Outcome {
            name: String::new(),
            transcript: self.platform.transcript,
            screens: self.platform.screens,
            screen_phases: self.platform.phases,
            card_ops: self.platform.card_ops,
            card_replies: self.platform.card_replies,
            host_messages: self.host.messages.clone(),
            identities: self.host.identities.clone(),
            errors: self.host.errors.clone(),
            pin_tries_left,
            apdus: air.apdus,
            air,
            wire_lost: self.lost,
            host_duplicates: self.host.duplicates,
            host_refused: self.host.refused,
            link_secured: self.host.is_secured(),
            reader_unacked: self.reader.link.pending(),
            reader_dropped: self.reader.outbox_full + self.lost_counters.1,
            reader_rejected: self.reader.frames_rejected,
            face_attempts: self.platform.face.replay.attempts.clone(),
            end_ms: self.now.as_millis(),
            issued: self.issued,
            final_phase: self.reader.session.phase(),
            visual_unlocked: self.reader.session.visual_unlocked(),
            wire: self.wire,
            reader_pairing: self.reader.link.pairing_stats(),
            reader_paired: self.reader.link.is_paired(),
            reboots: self.reboots,
            storage_failures: self.reader.storage_failures,
            reader_evicted: self.reader.link.dropped() + self.lost_counters.0,
        }
    }

    /// Everything due at `self.now`, in a fixed order: the wire, the world, then one turn of
    /// the reader's main loop.
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
        // Host → reader: into the reader's receive buffer.
        let bytes = self.to_reader.take_due(now);
        self.platform.inbox.extend(bytes);
        // Scripted steps.
        while self.script.front().is_some_and(|d| d.0 <= now) {
            if let Some((_, step)) = self.script.pop_front() {
                self.world(step);
            }
        }
        while self.injections.front().is_some_and(|i| i.0 <= now) {
            if let Some((_, what)) = self.injections.pop_front() {
                self.inject(what);
            }
        }
        self.poll();
    }

    /// A device on the cable sends something; it arrives like any other bytes.
    fn inject(&mut self, what: Injection) {
        let real = |to_reader: bool, wire: &[Tapped]| -> Vec<Vec<u8>> {
            wire.iter().filter(|t| t.to_reader == to_reader && !t.injected).map(|t| t.bytes.clone()).collect()
        };
        let (to_reader, frames, what_name) = match what {
            Injection::ToReader(b) => (true, vec![b], "bytes"),
            Injection::ToHost(b) => (false, vec![b], "bytes"),
            Injection::ReplayToReader => (true, real(true, &self.wire), "a replay of every host frame"),
            Injection::ReplayToHost => (false, real(false, &self.wire), "a replay of every reader frame"),
            Injection::ReorderToReader => {
                let mut f = real(true, &self.wire);
                f.reverse();
                (true, f, "every host frame, last first")
            }
        };
        let n: usize = frames.iter().map(Vec::len).sum();
        self.log(format!(
            "attack  {what_name} ({n} B) towards the {}",
            if to_reader { "reader" } else { "host" }
        ));
        for bytes in frames {
            self.wire.push(Tapped { to_reader, injected: true, bytes: bytes.clone() });
            if to_reader {
                self.to_reader.send(self.now, bytes);
            } else {
                self.to_host.send(self.now, bytes);
            }
        }
    }

    fn world(&mut self, step: Step) {
        match step {
            Step::Place => {
                self.log("world   card placed on the reader");
                self.reader.frontend_mut().set_card_present(true);
            }
            Step::Remove => {
                self.log("world   card taken off the reader");
                self.reader.frontend_mut().set_card_present(false);
            }
            Step::Unplug => {
                self.log("world   the cable is pulled");
                self.cable = false;
                self.to_host = Pipe::default();
                self.to_reader = Pipe::default();
                self.platform.inbox.clear();
                self.reader.link.disconnected();
            }
            Step::Plug => {
                self.log("world   the cable is back: the host connects again");
                self.cable = true;
                self.host.connect();
                self.flush_host();
            }
            Step::PowerCut => self.power_cut(),
            Step::Key(key) => {
                let shown = match key {
                    Key::Digit(_) => "digit (hidden)".to_string(),
                    k => format!("{k:?}"),
                };
                self.log(format!("keypad  {shown}"));
                self.platform.keys.push_back(key);
            }
        }
    }

    /// One [`Reader::poll`] at `self.now`. A poll that ran card operations lasts the air time
    /// they took, each face attempt [`FACE_ATTEMPT`]; the frames the reader wrote leave when
    /// the poll ends.
    fn poll(&mut self) {
        self.platform.now = self.now;
        self.platform.ops_this_poll = 0;
        let fc0 = self.reader.frontend().counters().air_time_fc;
        let apdus0 = self.reader.frontend().counters().apdus;
        let faces0 = self.platform.face.replay.attempts.len();
        self.reader.poll(&mut self.platform);
        self.platform.drain_face();
        let sim = self.reader.frontend();
        let mut busy_ms = 0;
        if self.platform.ops_this_poll > 0 {
            let ms = ((sim.counters().air_time_fc - fc0) / 13_560).max(1);
            let apdus = sim.counters().apdus - apdus0;
            busy_ms += ms;
            self.log(format!("nfc     {apdus} APDUs, {ms} ms on air"));
        }
        if self.reader.frontend().pulled() && !self.pull_logged {
            self.pull_logged = true;
            let n = self.reader.frontend().counters().apdus;
            self.log(format!("world   card pulled out after {n} APDUs"));
        }
        let faces = self.platform.face.replay.attempts.len() - faces0;
        busy_ms += faces as u64 * FACE_ATTEMPT.as_millis();
        self.now += Duration::from_millis(busy_ms);
        for f in std::mem::take(&mut self.platform.outbox) {
            self.onto_wire(f);
        }
    }

    /// The reader loses power: RAM is gone; a new reader starts from its flash.
    fn power_cut(&mut self) {
        self.reboots += 1;
        self.log("world   power cut: the reader restarts from its flash");
        let Some(mut storage) = self.platform.storage.take() else { return };
        let key = storage.pairing_key().ok().flatten();
        let first_session = 0x5100_0000u32.wrapping_add(self.reboots << 24);
        let placeholder = Reader::with_iso_dep(
            READER_IDENTITY,
            None,
            0,
            SimFrontend::new(RigCard::Foreign),
            IsoDepConfig::default(),
        );
        let old = std::mem::replace(&mut self.reader, placeholder);
        self.lost_counters.0 += old.link.dropped();
        self.lost_counters.1 += old.outbox_full;
        let fe = old.into_frontend();
        self.reader = Reader::with_iso_dep(READER_IDENTITY, key, first_session, fe, self.iso_dep);
        if let Err(e) = storage.restore(&mut self.reader, self.now) {
            self.log(format!("reader  flash could not be read back: {e}"));
        }
        self.platform.storage = Some(storage);
        self.platform.keys.clear();
        self.platform.inbox.clear();
        self.platform.last_status = None;
        self.to_host = Pipe::default();
        self.to_reader = Pipe::default();
        self.platform.show(&Screen::PlaceCard, Phase::Idle);
        if self.cable {
            // The host sees the device go and come back (USB) and connects again.
            self.host.connect();
            self.flush_host();
        }
    }

    /// A frame from the reader onto the pipe; the lossy wire drops the first send of every
    /// result.
    fn onto_wire(&mut self, f: Vec<u8>) {
        if !self.cable {
            return;
        }
        self.wire.push(Tapped { to_reader: false, injected: false, bytes: f.clone() });
        let frame = Frame::new_unchecked(&f[..]);
        let (session, seq) = (frame.session(), frame.seq());
        // The payload is sealed; the type is in the clear header.
        let is_result = Message::is_result_type(frame.msg_type());
        if self.lossy && is_result && self.sent_once.insert((session, seq)) {
            self.lost += 1;
            self.log(format!("pipe    result {session:08x}/{seq} lost on the wire (first send)"));
            return;
        }
        self.to_host.send(self.now, f);
    }
}

/// Builds and runs a scenario.
pub fn run(scenario: &Scenario) -> Result<Outcome, String> {
    let rig = Rig::new(scenario)?;
    let mut outcome = rig.run();
    outcome.name = scenario.name.clone();
    Ok(outcome)
}
