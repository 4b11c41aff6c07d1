//! `sealed_link`: a paired, connected reader and host (the shipping endpoints) and a script of
//! what happens to them: results queued on the reader, host messages sent, frames delivered,
//! lost, doubled, reordered, bit-flipped (checksums fixed or not), cut short, replayed; bytes,
//! hellos and frames sealed under another key injected; the cable pulled; time passing.
//!
//! Invariants (a panic is a finding):
//! - the host hands up a result or a status only if the reader queued that `(session, seq)`,
//!   and its payload is exactly what the reader queued;
//! - the host hands up each `(session, seq)` once (the application acknowledges every one);
//! - the reader passes on a host message only if the real host sent it, and only once; it
//!   reports an acknowledgement only for what the host application acknowledged;
//! - no pairing event on either side (nobody started one; injected pairing frames are refused);
//! - the reader stays paired with its key: after the script a clean reconnect secures the link
//!   under the original key, and, if the reader dropped nothing, every queued message arrives.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use shikaku_protocol::endpoint::host::{HostEvent, Inbound};
use shikaku_protocol::endpoint::reader::LinkInput;
use shikaku_protocol::message::*;
use shikaku_protocol::Role;

use crate::common::*;

/// What one run reached (for the seed checks and the coverage counters).
#[derive(Debug, Default, Clone, Copy)]
pub struct Reached {
    pub results_handed_up: u32,
    pub statuses_handed_up: u32,
    pub host_messages_taken: u32,
    pub acks_taken: u32,
    pub connections: u32,
    pub attacker_frames: u32,
}

static RUNS: AtomicU64 = AtomicU64::new(0);
static DEEP: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

const KEY: [u8; 32] = [9; 32];
/// Messages one run queues at most (well inside the host's memory of kept results).
const MAX_QUEUED: usize = 64;

struct World {
    e: Ends,
    /// `(session, seq)` → (type, payload) of everything the reader queued.
    queued: HashMap<(u32, u32), (u8, Vec<u8>)>,
    next_seq: [u32; 4],
    /// What the host application got, once each.
    handed_up: HashSet<(u32, u32)>,
    host_acked: HashSet<(u32, u32)>,
    /// Payloads of the messages the real host sent, and whether the reader took each.
    host_sent: Vec<(u8, Vec<u8>, bool)>,
    next_time: u64,
    reached: Reached,
}

impl World {
    fn new() -> Self {
        let mut w = World {
            e: Ends::new(Some(KEY), Some(KEY)),
            queued: HashMap::new(),
            next_seq: [0; 4],
            handed_up: HashSet::new(),
            host_acked: HashSet::new(),
            host_sent: Vec::new(),
            next_time: 1_700_000_000_000,
            reached: Reached::default(),
        };
        w.e.connect();
        w.settle();
        assert!(w.e.host.is_secured() && w.e.reader.is_secured(), "the clean handshake secures both ends");
        w
    }

    /// Both ends put on the wire what they have due.
    fn transmit(&mut self) {
        let _ = self.e.transmit();
    }

    /// Delivers everything in flight until both ends are quiet (a clean link).
    fn settle(&mut self) {
        for _ in 0..16 {
            self.transmit();
            if self.e.to_reader.in_flight.is_empty() && self.e.to_host.in_flight.is_empty() {
                return;
            }
            while let Some(f) = self.e.to_reader.in_flight.pop_front() {
                self.to_reader_bytes(&f);
            }
            while let Some(f) = self.e.to_host.in_flight.pop_front() {
                self.to_host_bytes(&f);
            }
        }
    }

    fn deliver(&mut self, dir: Dir, bytes: &[u8]) {
        match dir {
            Dir::ToReader => self.to_reader_bytes(bytes),
            Dir::ToHost => self.to_host_bytes(bytes),
        }
    }

    fn to_reader_bytes(&mut self, bytes: &[u8]) {
        let now = self.e.instant();
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = self.e.reader.push_rx(rest);
            rest = &rest[n..];
            while let Some(input) = self.e.reader.poll_input(now, &mut self.e.rng) {
                match input {
                    LinkInput::Host { message } => {
                        let t = message.msg_type();
                        let p = payload_of(&message);
                        // Equal messages (two `Cancel`s) are told apart by count only.
                        let same = |(st, sp, _): &&mut (u8, Vec<u8>, bool)| *st == t && *sp == p;
                        assert!(
                            self.host_sent.iter_mut().any(|m| same(&m)),
                            "the reader took a host message the host never sent: {message:?}"
                        );
                        let Some((_, _, taken)) = self.host_sent.iter_mut().filter(same).find(|m| !m.2)
                        else {
                            panic!("the reader took a host message more often than it was sent: {message:?}");
                        };
                        *taken = true;
                        self.reached.host_messages_taken += 1;
                    }
                    LinkInput::Acked { session, seq } => {
                        // Results are acknowledged by the application, statuses by the host
                        // endpoint as they arrive.
                        let key = (session, seq);
                        let given = self.host_acked.contains(&key)
                            || (self.handed_up.contains(&key)
                                && self.queued.get(&key).is_some_and(|(t, _)| is_status(*t)));
                        assert!(given, "the reader took an acknowledgement of {key:?} the host never gave");
                        self.reached.acks_taken += 1;
                    }
                    LinkInput::PairingCode { code } => {
                        panic!("a pairing code ({code}) on a reader nobody asked to pair")
                    }
                    LinkInput::HelloAnswered
                    | LinkInput::Connected
                    | LinkInput::Handled
                    | LinkInput::Rejected(_) => {}
                }
            }
        }
    }

    fn to_host_bytes(&mut self, bytes: &[u8]) {
        for e in self.e.host.receive(bytes) {
            match e {
                HostEvent::Result(r) => {
                    self.check_queued(&r, "result");
                    let key = (r.session, r.seq);
                    assert!(self.handed_up.insert(key), "result {key:?} handed up twice");
                    self.reached.results_handed_up += 1;
                    // The application keeps it, then acknowledges.
                    self.e.host.ack(r.session, r.seq);
                    self.host_acked.insert(key);
                }
                HostEvent::Status(s) => {
                    self.check_queued(&s, "status");
                    let key = (s.session, s.seq);
                    assert!(self.handed_up.insert(key), "status {key:?} shown twice");
                    self.reached.statuses_handed_up += 1;
                }
                HostEvent::AlreadyKept { session, seq } => {
                    assert!(self.host_acked.contains(&(session, seq)), "({session}, {seq}) kept twice over");
                }
                HostEvent::Secured(_) => self.reached.connections += 1,
                HostEvent::KeyMismatch(_) | HostEvent::Rejected(_) => {}
                e @ (HostEvent::NeedsPairing(_)
                | HostEvent::PairingCode { .. }
                | HostEvent::Paired { .. }
                | HostEvent::PairingRefused(_)) => panic!("unexpected on a paired link: {e:?}"),
            }
        }
    }

    fn check_queued(&self, m: &Inbound, what: &str) {
        let key = (m.session, m.seq);
        let Some((t, payload)) = self.queued.get(&key) else {
            panic!("the host handed up a {what} {key:?} the reader never queued");
        };
        assert_eq!(m.msg_type(), *t, "{what} {key:?}: another type than queued");
        let got = m.message().expect("a handed-up message decodes");
        assert_eq!(&payload_of(&got), payload, "{what} {key:?}: another payload than queued");
    }

    fn queue(&mut self, session: u8, kind: u8, size: u16) {
        if self.queued.len() >= MAX_QUEUED {
            return;
        }
        let s = session as usize % self.next_seq.len();
        let (session, seq) = (s as u32 + 1, self.next_seq[s]);
        self.next_seq[s] += 1;
        let cert: Vec<u8> = (0..size % 1600).map(|i| (i as u8) ^ (seq as u8)).collect();
        let detail = format!("e{seq}");
        let msg = match kind % 6 {
            0 => Message::VerifiedIdentity(VerifiedIdentity {
                auth_cert: &cert,
                proof: Proof::ReaderAttestation { challenge: [seq as u8; 32], attestation: &[2; 32] },
                method: AuthMethod::Face,
                card_kind: CardKind::PhysicalCard,
                consents: Consents::NONE,
                staff_account: None,
                registration: false,
                cert_expiry: CertExpiry::DaysLeft(500),
                card_detected_at: u64::from(seq),
                verified_at: u64::from(session),
            }),
            1 => Message::PinOutcome { result: PinResult::Wrong, tries_left: seq as u8 },
            2 => Message::FaceOutcome { decision: FaceDecision::Match, score_milli: seq as u16, attempts: 1 },
            3 => Message::Error { code: ErrorCode(seq as u16), remedy: Remedy::RetryCard, detail: &detail },
            4 => Message::CardDetected { kind: CardKind::PhysicalCard },
            _ => Message::FaceProgress { stage: FaceStage::Capturing, attempt: seq as u8 },
        };
        if self.e.reader.queue(session, seq, &msg, self.e.instant()).is_ok() {
            self.queued.insert((session, seq), (msg.msg_type(), payload_of(&msg)));
        }
    }

    fn host_send(&mut self, kind: u8) {
        self.next_time += 1;
        let t = self.next_time;
        let msg = match kind % 3 {
            0 => Message::TimeSync { unix_ms: t },
            1 => Message::HostChallenge { challenge: [t as u8; 32] },
            _ => Message::Cancel { reason: CancelReason::Host },
        };
        if self.e.host.send(&msg).is_ok() {
            self.host_sent.push((msg.msg_type(), payload_of(&msg), false));
        }
    }

    /// A frame from someone without the key: sealed under another one, or a hello.
    fn inject(&mut self, dir: Dir, inp: &mut Input<'_>) {
        self.reached.attacker_frames += 1;
        let (kind, nonce, counter, session, seq) = (inp.u8(), inp.u8(), inp.u32(), inp.u8(), inp.u8());
        // Often the (session, seq) of something real, so a forgery would be noticed.
        let (session, seq) = (u32::from(session % 5), u32::from(seq % 16));
        let f = match (dir, kind % 4) {
            (Dir::ToReader, 0) => {
                sealed_under_other_key(Role::Host, nonce, counter, 0, 1, &Message::Ack { session, seq })
            }
            (Dir::ToReader, 1) => sealed_under_other_key(
                Role::Host,
                nonce,
                counter,
                0,
                seq,
                &Message::TimeSync { unix_ms: u64::from(counter) },
            ),
            (Dir::ToReader, 2) => {
                sealed_under_other_key(Role::Host, nonce, counter, 0, 1, &Message::LinkReady)
            }
            (Dir::ToReader, _) => unsealed(
                Role::Host,
                seq,
                &Message::HostHello { driver_version: "attacker", nonce: inp.array() },
            ),
            (Dir::ToHost, 0) => sealed_under_other_key(
                Role::Reader,
                nonce,
                counter,
                session,
                seq,
                &Message::PinOutcome { result: PinResult::Verified, tries_left: 3 },
            ),
            (Dir::ToHost, 1) => sealed_under_other_key(
                Role::Reader,
                nonce,
                counter,
                session,
                seq,
                &Message::CardDetected { kind: CardKind::Android },
            ),
            (Dir::ToHost, 2) => unsealed(
                Role::Reader,
                seq,
                &Message::PairResult { outcome: PairOutcome::Accepted, proof: inp.array() },
            ),
            (Dir::ToHost, _) => unsealed(
                Role::Reader,
                seq,
                &Message::ReaderHello {
                    firmware: FirmwareVersion { major: 0, minor: 1, patch: 0, build: "x" },
                    serial: "SK-FUZZ",
                    model: "fuzz",
                    capabilities: Capabilities(0),
                    max_payload: 3072,
                    nonce: inp.array(),
                    key_check: inp.array(),
                },
            ),
        };
        self.e.wire(dir).inject(f);
    }

    fn step(&mut self, inp: &mut Input<'_>) {
        match inp.u8() % 16 {
            0 | 1 => self.queue(inp.u8(), inp.u8(), inp.u16()),
            2 => self.host_send(inp.u8()),
            3 | 4 => {
                let dir = Dir::of(inp.bool());
                if let Some(f) = self.e.wire(dir).take(inp.u8()) {
                    self.deliver(dir, &f);
                }
            }
            5 => {
                // Everything in flight, in order, both ways.
                while let Some(f) = self.e.to_reader.in_flight.pop_front() {
                    self.to_reader_bytes(&f);
                }
                while let Some(f) = self.e.to_host.in_flight.pop_front() {
                    self.to_host_bytes(&f);
                }
            }
            6 => {
                let dir = Dir::of(inp.bool());
                self.e.wire(dir).fault(Fault::Drop, inp);
            }
            7 => {
                let dir = Dir::of(inp.bool());
                self.e.wire(dir).fault(Fault::Duplicate, inp);
            }
            8 => {
                let dir = Dir::of(inp.bool());
                self.e.wire(dir).fault(Fault::Swap, inp);
            }
            9 => {
                let dir = Dir::of(inp.bool());
                self.e.wire(dir).fault(Fault::Flip, inp);
            }
            10 => {
                let dir = Dir::of(inp.bool());
                self.e.wire(dir).fault(Fault::Truncate, inp);
            }
            11 => {
                self.reached.attacker_frames += 1;
                let dir = Dir::of(inp.bool());
                let b = inp.bytes();
                self.e.wire(dir).inject(b);
            }
            12 => {
                let dir = Dir::of(inp.bool());
                self.inject(dir, inp);
            }
            13 => {
                self.reached.attacker_frames += 1;
                let dir = Dir::of(inp.bool());
                let i = inp.u8();
                self.e.wire(dir).replay(i);
            }
            14 => {
                // The cable is pulled: what was in flight is lost, both ends notice.
                self.e.to_reader.clear();
                self.e.to_host.clear();
                self.e.reader.disconnected();
                self.e.connect();
            }
            _ => self.e.now += u64::from(inp.u16()),
        }
        self.transmit();
    }

    /// After the script: a clean reconnect must secure the link under the original key, and
    /// deliver everything still pending.
    fn finish(&mut self) {
        assert!(self.e.reader.is_paired(), "the reader lost its pairing key");
        self.e.to_reader.clear();
        self.e.to_host.clear();
        self.e.reader.disconnected();
        let before = self.reached.connections;
        self.e.connect();
        self.settle();
        assert!(
            self.reached.connections > before && self.e.host.is_secured() && self.e.reader.is_secured(),
            "a clean reconnect does not secure the link: the reader's key changed"
        );
        // A last round after the outbox's longest back-off.
        self.e.now += 10_000;
        self.settle();
        assert_eq!(self.e.reader.pending(), 0, "a clean link leaves results unacknowledged");
        if self.e.reader.dropped() == 0 {
            let missing: Vec<_> = self.queued.keys().filter(|k| !self.handed_up.contains(k)).collect();
            assert!(missing.is_empty(), "queued and never handed up: {missing:?}");
        }
    }
}

fn is_status(msg_type: u8) -> bool {
    matches!(msg_type, msg_type::CARD_DETECTED | msg_type::FACE_PROGRESS)
}

/// Runs one script; panics on a broken invariant.
pub fn run(data: &[u8]) -> Reached {
    let mut w = World::new();
    let mut inp = Input::new(data);
    let mut steps = 0;
    while !inp.is_empty() && steps < 512 {
        w.step(&mut inp);
        steps += 1;
    }
    w.finish();
    if stats_wanted() {
        let r = w.reached;
        for (c, v) in
            DEEP.iter().zip([r.results_handed_up, r.host_messages_taken, r.acks_taken, r.connections])
        {
            if v > 0 {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        let n = RUNS.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            let d: Vec<u64> = DEEP.iter().map(|c| c.load(Ordering::Relaxed)).collect();
            eprintln!(
                "sealed_link: {n} runs; runs with a result handed up {}, a host message taken {}, \
                 an ack taken {}, a connection secured {}",
                d[0], d[1], d[2], d[3]
            );
        }
    }
    w.reached
}

/// Seeds: each reaches a secured delivery.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    // Queue an identity and a PIN outcome, deliver everything twice.
    let mut s = Script::default();
    s.u8(0).u8(0).u8(0).u16(300).u8(1).u8(0).u8(1).u16(0).u8(5).u8(5).u8(5);
    out.push(("deliver", s.0));
    // A host message, a lost frame, time for the re-send, delivery.
    let mut s = Script::default();
    s.u8(2).u8(0).u8(0).u8(1).u8(2).u16(10).u8(6).u8(1).u8(0).u8(15).u16(400).u8(5).u8(5).u8(5);
    out.push(("lossy", s.0));
    // A result, the cable pulled, an injected hello, a replay, delivery.
    let mut s = Script::default();
    s.u8(0).u8(1).u8(3).u16(0).u8(14).u8(12).u8(0).u8(3).u8(0).u32(0).u8(0).u8(0).raw(&[7; 16]);
    s.u8(13).u8(1).u8(0).u8(5).u8(5).u8(5).u8(5);
    out.push(("reconnect", s.0));
    // Flips with the checksums fixed, sealed forgeries both ways.
    let mut s = Script::default();
    s.u8(0).u8(2).u8(3).u16(0).u8(9).u8(1).u8(0).u16(200).u8(1);
    s.u8(12).u8(1).u8(0).u8(1).u32(5).u8(1).u8(0).u8(12).u8(0).u8(0).u8(1).u32(5).u8(1).u8(0);
    s.u8(5).u8(15).u16(2000).u8(5).u8(5);
    out.push(("forgeries", s.0));
    out
}
