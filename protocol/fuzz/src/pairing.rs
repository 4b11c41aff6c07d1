//! `pairing`: a reader (paired or not) and a host (with the reader's key or none), and a script
//! that interleaves the host starting pairings, staff on the reader opening and closing pairing
//! mode and accepting or rejecting the code, time passing, delivery faults, a pulled cable,
//! and an attacker on the cable injecting bytes and well-formed unsealed `HostHello`,
//! `PairRequest`, `PairConfirm` (also a correct one, completing its own exchange),
//! `LinkReady`, `PairResponse` and `PairResult` frames.
//!
//! Invariants (a panic is a finding):
//! - the reader's pairing key changes only when `accept_pairing()` returns `Some`, and then
//!   to the key returned: `is_paired()` follows the expected key after every step, every
//!   `ReaderHello` the reader sends proves the expected key (or none), and after the script a
//!   clean hello from a host holding the expected key secures the link;
//! - the reader starts a key exchange (and sends a `PairResponse`) only while pairing mode is
//!   open (staff opened it and its deadline has not passed, or the reader is unpaired), and at
//!   most `PAIRING_ATTEMPTS` per opening;
//! - the host reports `Paired` only with a key the reader's `accept_pairing()` returned;
//! - nothing reaches the reader's session (nobody sends it session messages).

use std::sync::atomic::{AtomicU64, Ordering};

use shikaku_protocol::auth::pairing::{PairingSecrets, PublicKey, StaticSecret};
use shikaku_protocol::auth::{LinkKeys, PairingKey};
use shikaku_protocol::deframer::Deframer;
use shikaku_protocol::endpoint::host::{HostEndpoint, HostEvent};
use shikaku_protocol::endpoint::reader::{LinkInput, PAIRING_ATTEMPTS};
use shikaku_protocol::message::*;
use shikaku_protocol::{Frame, Instant, Link, Role, MAX_FRAME};

use crate::common::*;

#[derive(Debug, Default, Clone, Copy)]
pub struct Reached {
    pub exchanges_started: u32,
    pub reader_codes: u32,
    pub host_codes: u32,
    pub accepted: u32,
    pub host_paired: u32,
    pub attacker_key_accepted: u32,
}

static RUNS: AtomicU64 = AtomicU64::new(0);
static DEEP: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

const KEY: [u8; 32] = [9; 32];

/// The pairing gate as the reader's documentation describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    Closed,
    Open { until: Option<u64>, started: u32 },
}

impl Gate {
    fn after(paired: bool) -> Self {
        if paired {
            Gate::Closed
        } else {
            Gate::Open { until: None, started: 0 }
        }
    }
}

/// What the attacker on the cable knows of the exchange it started with the reader.
struct AttackerExchange {
    secret: StaticSecret,
    public: [u8; 32],
    nonce: [u8; 16],
}

struct World {
    e: Ends,
    /// The reader's key as it must be.
    expected: Option<[u8; 32]>,
    gate: Gate,
    /// Every key `accept_pairing()` returned.
    accepted: Vec<[u8; 32]>,
    /// The frames the reader takes, mirrored: the host nonces its hellos may answer.
    mirror: Box<Deframer<MAX_FRAME>>,
    hello_nonces: Vec<[u8; 16]>,
    attacker: Option<AttackerExchange>,
    attacker_keys: Vec<[u8; 32]>,
    /// The reader's last unsealed `PairResponse` (what the attacker sees on the cable).
    last_response: Option<([u8; 32], [u8; 16])>,
    /// `PairResponse` frames the reader sent in the current step.
    responses: u32,
    reached: Reached,
}

impl World {
    fn new(reader_paired: bool, host_has_key: bool) -> Self {
        let key = reader_paired.then_some(KEY);
        let mut w = World {
            e: Ends::new(key, host_has_key.then_some(KEY)),
            expected: key,
            gate: Gate::after(reader_paired),
            accepted: Vec::new(),
            mirror: Box::new(Deframer::new()),
            hello_nonces: Vec::new(),
            attacker: None,
            attacker_keys: Vec::new(),
            last_response: None,
            responses: 0,
            reached: Reached::default(),
        };
        w.e.connect();
        for _ in 0..4 {
            w.transmit();
            w.deliver_all();
        }
        w.transmit();
        w
    }

    fn transmit(&mut self) {
        for f in self.e.transmit() {
            self.observe_reader_frame(&f);
        }
    }

    /// Reads what the reader sends, as anyone on the cable can.
    fn observe_reader_frame(&mut self, f: &[u8]) {
        if msg_type_of(f) == Some(msg_type::PAIR_RESPONSE) {
            self.responses += 1;
        }
        let mut copy = f.to_vec();
        let Ok(frame) = Frame::new_checked(&mut copy[..]) else {
            return;
        };
        let Ok(rx) = Link::new(Role::Host).decode(frame) else {
            return; // sealed
        };
        match rx.message {
            Message::ReaderHello { nonce, key_check, .. } => match &self.expected {
                None => assert_eq!(key_check, [0; 16], "an unpaired reader proves a key in its hello"),
                Some(k) => {
                    let proves = self.hello_nonces.iter().any(|hn| {
                        LinkKeys::derive(&PairingKey(*k), hn, &nonce).hello_matches(hn, &nonce, &key_check)
                    });
                    assert!(proves, "the reader's hello does not prove the key it must hold");
                }
            },
            Message::PairResponse { reader_public, reader_nonce, .. } => {
                self.last_response = Some((reader_public, reader_nonce));
            }
            _ => {}
        }
    }

    fn deliver_all(&mut self) {
        while let Some(f) = self.e.to_reader.in_flight.pop_front() {
            self.to_reader_bytes(&f);
        }
        while let Some(f) = self.e.to_host.in_flight.pop_front() {
            self.to_host_bytes(&f);
        }
    }

    fn to_reader_bytes(&mut self, bytes: &[u8]) {
        // The mirror takes the same bytes, so it sees the same frames as the reader.
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = self.mirror.push(rest);
            rest = &rest[n..];
            while let Some(r) = self.mirror.next_frame() {
                if let Ok(frame) = r {
                    if let Ok(rx) = Link::new(Role::Reader).decode(frame) {
                        if let Message::HostHello { nonce, .. } = rx.message {
                            if !self.hello_nonces.contains(&nonce) {
                                self.hello_nonces.push(nonce);
                            }
                        }
                    }
                }
            }
        }
        let now = self.e.instant();
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = self.e.reader.push_rx(rest);
            rest = &rest[n..];
            while let Some(input) = self.e.reader.poll_input(now, &mut self.e.rng) {
                match input {
                    LinkInput::Host { message } => {
                        panic!("the reader's session got a message nobody sent it: {message:?}")
                    }
                    LinkInput::PairingCode { .. } => self.reached.reader_codes += 1,
                    LinkInput::Acked { session, seq } => {
                        panic!("an acknowledgement ({session}, {seq}) of nothing the reader sent")
                    }
                    LinkInput::Rejected(e) => {
                        if std::env::var_os("SHIKAKU_FUZZ_DEBUG").is_some() {
                            eprintln!("reader: rejected {e:?}");
                        }
                    }
                    LinkInput::HelloAnswered | LinkInput::Connected | LinkInput::Handled => {}
                }
            }
        }
    }

    fn to_host_bytes(&mut self, bytes: &[u8]) {
        for e in self.e.host.receive(bytes) {
            match e {
                HostEvent::PairingCode { .. } => self.reached.host_codes += 1,
                HostEvent::Paired { key, .. } => {
                    assert!(
                        self.accepted.contains(&key.0),
                        "the host took a key the reader's staff never accepted"
                    );
                    self.reached.host_paired += 1;
                }
                HostEvent::Result(r) | HostEvent::Status(r) => {
                    panic!("the host handed up ({}, {}) nobody sent", r.session, r.seq)
                }
                e => {
                    if std::env::var_os("SHIKAKU_FUZZ_DEBUG").is_some() {
                        eprintln!("host: {e:?}");
                    }
                }
            }
        }
    }

    fn inject_to_reader(&mut self, inp: &mut Input<'_>) {
        let f = match inp.u8() % 6 {
            0 => inp.bytes(),
            1 => {
                let secret = StaticSecret::from([inp.u8() | 1; 32]);
                let public = PublicKey::from(&secret).to_bytes();
                let nonce = [inp.u8(); 16];
                self.attacker = Some(AttackerExchange { secret, public, nonce });
                unsealed(Role::Host, 1, &Message::PairRequest { host_public: public, host_nonce: nonce })
            }
            2 => unsealed(Role::Host, 1, &Message::PairConfirm { confirm: inp.array() }),
            3 => {
                // The attacker completes the exchange it started, with the reader's answer.
                let (Some(a), Some((reader_public, reader_nonce))) = (&self.attacker, self.last_response)
                else {
                    return;
                };
                let s = PairingSecrets::derive(
                    &a.secret,
                    &reader_public,
                    &a.public,
                    &reader_public,
                    &a.nonce,
                    &reader_nonce,
                );
                if !self.attacker_keys.contains(&s.key.0) {
                    self.attacker_keys.push(s.key.0);
                }
                unsealed(Role::Host, 1, &Message::PairConfirm { confirm: s.host_confirm() })
            }
            4 => unsealed(Role::Host, 1, &Message::LinkReady),
            _ => unsealed(
                Role::Host,
                1,
                &Message::HostHello { driver_version: "attacker", nonce: inp.array() },
            ),
        };
        self.e.to_reader.inject(f);
    }

    fn inject_to_host(&mut self, inp: &mut Input<'_>) {
        let f = match inp.u8() % 4 {
            0 => inp.bytes(),
            1 => {
                let outcome = PairOutcome::ALL[inp.u8() as usize % PairOutcome::ALL.len()];
                unsealed(Role::Reader, 1, &Message::PairResult { outcome, proof: inp.array() })
            }
            2 => unsealed(
                Role::Reader,
                1,
                &Message::PairResponse {
                    reader_public: inp.array(),
                    reader_nonce: inp.array(),
                    confirm: inp.array(),
                },
            ),
            _ => unsealed(
                Role::Reader,
                1,
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
        self.e.to_host.inject(f);
    }

    fn step(&mut self, inp: &mut Input<'_>) {
        let started_before = self.e.reader.pairing_stats().started;
        self.responses = 0;
        match inp.u8() % 18 {
            0 => {
                let (s, n) = (inp.u8(), inp.u8());
                self.e.host.start_pairing([s | 1; 32], [n; 16]);
            }
            1 => {
                let until = self.e.now + u64::from(inp.u16());
                self.e.reader.open_pairing(Instant::from_millis(until));
                self.gate = Gate::Open { until: Some(until), started: 0 };
            }
            2 => {
                self.e.reader.close_pairing();
                self.gate = Gate::after(self.expected.is_some());
            }
            3 => {
                if let Some(key) = self.e.reader.accept_pairing() {
                    self.expected = Some(key.0);
                    self.accepted.push(key.0);
                    self.gate = Gate::Closed;
                    self.reached.accepted += 1;
                    if self.attacker_keys.contains(&key.0) {
                        self.reached.attacker_key_accepted += 1;
                    }
                }
            }
            4 => self.e.reader.reject_pairing(),
            5 => self.e.now += u64::from(inp.u16()),
            6 | 7 => {
                let dir = Dir::of(inp.bool());
                if let Some(f) = self.e.wire(dir).take(inp.u8()) {
                    match dir {
                        Dir::ToReader => self.to_reader_bytes(&f),
                        Dir::ToHost => self.to_host_bytes(&f),
                    }
                }
            }
            8 => self.deliver_all(),
            9 => {
                let dir = Dir::of(inp.bool());
                self.e.wire(dir).fault(Fault::Drop, inp);
            }
            10 => {
                let dir = Dir::of(inp.bool());
                self.e.wire(dir).fault(Fault::Duplicate, inp);
            }
            11 => {
                let dir = Dir::of(inp.bool());
                self.e.wire(dir).fault(Fault::Swap, inp);
            }
            12 => {
                let dir = Dir::of(inp.bool());
                self.e.wire(dir).fault(Fault::Flip, inp);
            }
            13 => {
                self.e.to_reader.clear();
                self.e.to_host.clear();
                self.e.reader.disconnected();
                self.mirror.reset();
                self.e.connect();
            }
            14 => self.inject_to_reader(inp),
            15 => self.inject_to_host(inp),
            16 => {
                let dir = Dir::of(inp.bool());
                self.e.wire(dir).fault(Fault::Replay, inp);
            }
            _ => self.e.connect(),
        }
        self.transmit();
        self.check_step(started_before);
    }

    fn check_step(&mut self, started_before: u32) {
        assert_eq!(self.e.reader.is_paired(), self.expected.is_some(), "is_paired() changed on its own");
        let started = self.e.reader.pairing_stats().started.wrapping_sub(started_before);
        assert!(self.responses <= started, "a PairResponse without a key exchange started");
        if started == 0 {
            return;
        }
        self.reached.exchanges_started += started;
        match &mut self.gate {
            Gate::Closed => panic!("a key exchange started with pairing mode closed (paired reader)"),
            Gate::Open { until, started: n } => {
                assert!(
                    until.is_none_or(|t| self.e.now < t),
                    "a key exchange started after pairing mode's deadline"
                );
                *n += started;
                assert!(
                    *n <= u32::from(PAIRING_ATTEMPTS),
                    "more key exchanges than PAIRING_ATTEMPTS in one opening"
                );
            }
        }
    }

    /// After the script: a clean hello from a host holding the expected key (or none).
    fn finish(&mut self) {
        self.e.reader.disconnected();
        let mut host = HostEndpoint::new(self.expected.map(PairingKey), [0; 16]);
        host.connect([0xA5; 16]);
        let mut events = Vec::new();
        let mut buf = vec![0u8; MAX_FRAME];
        for _ in 0..4 {
            while let Some(f) = host.poll_transmit() {
                let mut rest = &f[..];
                while !rest.is_empty() {
                    let n = self.e.reader.push_rx(rest);
                    rest = &rest[n..];
                    while self.e.reader.poll_input(self.e.instant(), &mut self.e.rng).is_some() {}
                }
            }
            while let Some(n) = self.e.reader.poll_transmit(self.e.instant(), &mut buf) {
                events.extend(host.receive(&buf[..n]));
            }
        }
        let ok = events.iter().any(|e| match (self.expected, e) {
            (Some(_), HostEvent::Secured(_)) => true,
            (None, HostEvent::NeedsPairing(_)) => true,
            _ => false,
        });
        assert!(ok, "a clean hello shows another key on the reader than expected: {events:?}");
    }
}

/// Runs one script; panics on a broken invariant.
pub fn run(data: &[u8]) -> Reached {
    let mut inp = Input::new(data);
    let flags = inp.u8();
    let mut w = World::new(flags & 1 != 0, flags & 2 != 0);
    let mut steps = 0;
    while !inp.is_empty() && steps < 256 {
        w.step(&mut inp);
        steps += 1;
    }
    w.finish();
    if stats_wanted() {
        let r = w.reached;
        for (c, v) in DEEP.iter().zip([r.exchanges_started, r.reader_codes, r.accepted, r.host_paired]) {
            if v > 0 {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        let n = RUNS.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            let d: Vec<u64> = DEEP.iter().map(|c| c.load(Ordering::Relaxed)).collect();
            eprintln!(
                "pairing: {n} runs; runs with a key exchange {}, a code on the reader {}, \
                 an accepted pairing {}, Paired on the host {}",
                d[0], d[1], d[2], d[3]
            );
        }
    }
    w.reached
}

/// Seeds: each completes a pairing, or has the attacker try.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    // Unpaired reader and host: pair, staff accept, the host reconnects with the key.
    let mut s = Script::default();
    s.u8(0).u8(0).u8(0x42).u8(5).u8(8).u8(8).u8(8).u8(3).u8(8).u8(8).u8(17).u8(8).u8(8).u8(8);
    out.push(("first_pairing", s.0));
    // A paired reader and host: pairing mode opened on the reader, re-pair, accept.
    let mut s = Script::default();
    s.u8(3).u8(1).u16(60_000).u8(0).u8(0x43).u8(6).u8(8).u8(8).u8(8).u8(3).u8(8).u8(8).u8(17).u8(8).u8(8);
    out.push(("re_pairing", s.0));
    // Pairing mode's deadline passes, then too many attempts.
    let mut s = Script::default();
    s.u8(3).u8(1).u16(1_000).u8(5).u16(2_000).u8(0).u8(1).u8(1).u8(8).u8(8).u8(1).u16(60_000);
    for i in 0..5u8 {
        s.u8(0).u8(i).u8(i).u8(8).u8(8).u8(8);
    }
    out.push(("deadline_attempts", s.0));
    // An attacker on the cable pairs with an unpaired reader; staff reject, then accept.
    let mut s = Script::default();
    s.u8(0).u8(14).u8(1).u8(0x77).u8(3).u8(8).u8(14).u8(3).u8(8).u8(4).u8(8);
    s.u8(14).u8(1).u8(0x79).u8(4).u8(8).u8(14).u8(3).u8(8).u8(3).u8(8).u8(8);
    out.push(("attacker", s.0));
    // The staff reject the real host's code; forged results and confirmations on the way.
    let mut s = Script::default();
    s.u8(0).u8(0).u8(0x42).u8(5).u8(8).u8(15).u8(1).u8(0).raw(&[0; 16]).u8(8).u8(14).u8(2).raw(&[1; 16]);
    s.u8(8).u8(8).u8(4).u8(8).u8(8);
    out.push(("forged", s.0));
    out
}
