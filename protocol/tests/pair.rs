//! Both shipping ends of a connection — [`ReaderEndpoint`] and [`HostEndpoint`] — driven
//! against each other in virtual time by a [`Pair`] harness (in the manner of quinn-proto's):
//! a pipe with latency, loss, corruption and pulled cables between them. Nothing here is a
//! second implementation of either end: an attacker's frames are built by hand only where
//! the test is about an attacker.

use std::collections::VecDeque;

use shikaku_protocol::auth::PairingKey;
use shikaku_protocol::endpoint::host::{HostEndpoint, HostEvent};
use shikaku_protocol::endpoint::reader::{Entropy, Identity, LinkInput, ReaderEndpoint};
use shikaku_protocol::message::*;
use shikaku_protocol::{Error, Frame, Instant, Link, Role, MAX_FRAME};

/// A deterministic stand-in for the reader's TRNG.
struct Counter(u8);
impl Entropy for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_mul(17).wrapping_add(29);
            *b = self.0;
        }
    }
}

fn identity_of_reader() -> Identity {
    Identity {
        firmware: FirmwareVersion { major: 0, minor: 1, patch: 0, build: "test" },
        serial: "SK-0001",
        model: "sim",
        capabilities: Capabilities(Capabilities::PIN_KEYPAD),
    }
}

fn identity(cert: &[u8]) -> Message<'_> {
    Message::VerifiedIdentity(VerifiedIdentity {
        auth_cert: cert,
        proof: Proof::ReaderAttestation { challenge: [1; 32], attestation: &[2; 32] },
        method: AuthMethod::Face,
        card_kind: CardKind::PhysicalCard,
        consents: Consents::NONE,
        staff_account: None,
        registration: false,
        cert_expiry: CertExpiry::DaysLeft(500),
        card_detected_at: 1,
        verified_at: 2,
    })
}

/// What the reader's endpoint passed on, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ReaderSaw {
    Host { msg_type: u8 },
    HelloAnswered,
    Connected,
    PairingCode { code: u32 },
    Rejected(Error),
}

/// Faults on one direction of the pipe, by frame count (deterministic).
#[derive(Debug, Clone, Copy, Default)]
struct Faults {
    /// Drop every n-th frame.
    drop_every: Option<u32>,
    /// Flip one byte in every n-th frame.
    corrupt_every: Option<u32>,
}

#[derive(Default)]
struct Pipe {
    in_flight: VecDeque<(u64, Vec<u8>)>,
    faults: Faults,
    sent: u32,
    dropped: u32,
    corrupted: u32,
}

impl Pipe {
    fn send(&mut self, now: u64, latency: u64, mut frame: Vec<u8>) {
        self.sent += 1;
        if self.faults.drop_every.is_some_and(|n| self.sent.is_multiple_of(n)) {
            self.dropped += 1;
            return;
        }
        if self.faults.corrupt_every.is_some_and(|n| self.sent.is_multiple_of(n)) {
            self.corrupted += 1;
            let i = frame.len() / 2;
            frame[i] ^= 0x5A;
        }
        self.in_flight.push_back((now + latency, frame));
    }

    fn due(&mut self, now: u64) -> Vec<u8> {
        let mut out = Vec::new();
        while self.in_flight.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, f)) = self.in_flight.pop_front() {
                out.extend(f);
            }
        }
        out
    }
}

/// One reader and one host endpoint joined by a pipe, in virtual milliseconds.
struct Pair {
    now: u64,
    latency: u64,
    reader: ReaderEndpoint,
    host: HostEndpoint,
    rng: Counter,
    to_reader: Pipe,
    to_host: Pipe,
    reader_saw: Vec<ReaderSaw>,
    host_events: Vec<HostEvent>,
    /// Results the host application kept (and acknowledged), in order.
    kept: Vec<(u32, u32)>,
    /// The application acknowledges what it kept at once (else the test calls `ack`).
    auto_ack: bool,
    connections: u8,
}

impl Pair {
    fn new(reader_key: Option<PairingKey>, host_key: Option<PairingKey>) -> Self {
        Self {
            now: 0,
            latency: 5,
            reader: ReaderEndpoint::new(identity_of_reader(), reader_key),
            host: HostEndpoint::new(host_key, [0; 16]),
            rng: Counter(3),
            to_reader: Pipe::default(),
            to_host: Pipe::default(),
            reader_saw: Vec::new(),
            host_events: Vec::new(),
            kept: Vec::new(),
            auto_ack: true,
            connections: 0,
        }
    }

    /// The host (re)connects with a fresh nonce.
    fn connect(&mut self) {
        self.connections += 1;
        self.host.connect([self.connections; 16]);
    }

    /// The cable is pulled: what was in flight is lost, both ends notice, the host reconnects.
    fn cut(&mut self) {
        self.to_reader.in_flight.clear();
        self.to_host.in_flight.clear();
        self.reader.disconnected();
        self.connect();
    }

    /// One millisecond of the world: both ends transmit what is due, the pipe delivers what
    /// has arrived, the host application keeps and acknowledges every result it is handed.
    fn tick(&mut self) {
        while let Some(f) = self.host.poll_transmit() {
            self.to_reader.send(self.now, self.latency, f);
        }
        let mut buf = [0u8; MAX_FRAME];
        while let Some(n) = self.reader.poll_transmit(Instant::from_millis(self.now), &mut buf) {
            self.to_host.send(self.now, self.latency, buf[..n].to_vec());
        }
        let bytes = self.to_reader.due(self.now);
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let n = self.reader.push_rx(rest);
            rest = &rest[n..];
            while let Some(input) = self.reader.poll_input(Instant::from_millis(self.now), &mut self.rng) {
                let saw = match input {
                    LinkInput::Host { message } => ReaderSaw::Host { msg_type: message.msg_type() },
                    LinkInput::HelloAnswered => ReaderSaw::HelloAnswered,
                    LinkInput::Connected => ReaderSaw::Connected,
                    LinkInput::PairingCode { code } => ReaderSaw::PairingCode { code },
                    LinkInput::Handled | LinkInput::Acked { .. } => continue,
                    LinkInput::Rejected(e) => ReaderSaw::Rejected(e),
                };
                self.reader_saw.push(saw);
            }
        }
        let bytes = self.to_host.due(self.now);
        if !bytes.is_empty() {
            for e in self.host.receive(&bytes) {
                if let HostEvent::Result(r) = &e {
                    // The application keeps it (journal write), then acknowledges.
                    self.kept.push((r.session, r.seq));
                    if self.auto_ack {
                        self.host.ack(r.session, r.seq);
                    }
                }
                self.host_events.push(e);
            }
        }
        self.now += 1;
    }

    fn run_for(&mut self, ms: u64) {
        for _ in 0..ms {
            self.tick();
        }
    }

    fn queue_result(&mut self, session: u32, seq: u32, msg: &Message<'_>) {
        self.reader.queue(session, seq, msg, Instant::from_millis(self.now)).expect("the outbox has room");
    }

    /// Frames an attacker on the cable puts on the way to the reader.
    fn inject_to_reader(&mut self, msg: &Message<'_>) {
        let mut attacker = Link::new(Role::Host);
        let mut buf = [0u8; MAX_FRAME];
        let n = attacker.encode(&mut buf, 0, 1, msg).expect("an unsecured link encodes it");
        self.to_reader.send(self.now, 0, buf[..n].to_vec());
    }

    fn secured_pair() -> Self {
        let key = PairingKey([9; 32]);
        let mut p = Pair::new(Some(key.clone()), Some(key));
        p.connect();
        p.run_for(50);
        assert!(p.host.is_secured() && p.reader.is_secured());
        p
    }

    fn host_pairing_code(&self) -> Option<u32> {
        self.host_events.iter().find_map(|e| match e {
            HostEvent::PairingCode { code } => Some(*code),
            _ => None,
        })
    }

    fn reader_pairing_code(&self) -> Option<u32> {
        self.reader_saw.iter().find_map(|s| match s {
            ReaderSaw::PairingCode { code } => Some(*code),
            _ => None,
        })
    }

    fn host_paired(&self) -> Option<([u8; 32], u32)> {
        self.host_events.iter().find_map(|e| match e {
            HostEvent::Paired { key, code } => Some((key.0, *code)),
            _ => None,
        })
    }

    fn host_refusals(&self) -> Vec<PairOutcome> {
        self.host_events
            .iter()
            .filter_map(|e| match e {
                HostEvent::PairingRefused(o) => Some(*o),
                _ => None,
            })
            .collect()
    }

    fn host_rejections(&self) -> Vec<Error> {
        self.host_events
            .iter()
            .filter_map(|e| match e {
                HostEvent::Rejected(e) => Some(*e),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn handshake_secures_the_link_and_results_arrive_once_per_pulled_cable() {
    let key = PairingKey([9; 32]);
    let cert = vec![0x30; 1590];
    // The cable is pulled at every millisecond of the first exchanges in turn.
    for cut_at in 0..40u64 {
        let mut p = Pair::new(Some(key.clone()), Some(key.clone()));
        for seq in 0..3 {
            p.queue_result(77, seq, &identity(&cert));
        }
        p.connect();
        p.run_for(cut_at);
        p.cut();
        p.run_for(20_000);
        assert!(p.host.is_secured(), "cut at {cut_at} ms: the reconnect secured the link");
        let mut kept = p.kept.clone();
        kept.sort();
        kept.dedup();
        assert_eq!(kept, vec![(77, 0), (77, 1), (77, 2)], "cut at {cut_at} ms");
        assert_eq!(p.reader.pending(), 0, "cut at {cut_at} ms: every result acknowledged");
        assert!(p.connections <= 2);
        for e in &p.host_events {
            match e {
                HostEvent::Secured(info) => assert_eq!(info.serial, "SK-0001"),
                HostEvent::Result(_) | HostEvent::Status(_) => {}
                // A re-send of a result whose acknowledgement the cut lost: kept already.
                HostEvent::AlreadyKept { session, seq } => {
                    assert!(p.kept.contains(&(*session, *seq)), "cut at {cut_at} ms: {session}/{seq}")
                }
                other => panic!("cut at {cut_at} ms: unexpected {other:?}"),
            }
        }
    }
}

#[test]
fn results_arrive_exactly_once_over_a_slow_lossy_corrupting_link() {
    let key = PairingKey([9; 32]);
    let cert = vec![0x30; 900];
    let mut p = Pair::new(Some(key.clone()), Some(key));
    p.latency = 40;
    p.to_host.faults = Faults { drop_every: Some(3), corrupt_every: Some(5) };
    p.to_reader.faults = Faults { drop_every: Some(4), corrupt_every: None };
    p.connect();
    // A hello lost on the way is the host's to repeat (the manager reconnects on silence).
    for _ in 0..10 {
        p.run_for(200);
        if p.host.is_secured() {
            break;
        }
        p.connect();
    }
    assert!(p.host.is_secured());
    for seq in 0..6 {
        p.queue_result(12, seq, &identity(&cert));
        p.run_for(50);
    }
    p.run_for(60_000);
    // Exactly once, not in order: a result whose first send was lost arrives after later ones.
    let mut kept = p.kept.clone();
    kept.sort();
    assert_eq!(kept, (0..6).map(|s| (12, s)).collect::<Vec<_>>(), "each result kept exactly once");
    assert_eq!(p.reader.pending(), 0);
    assert!(p.to_host.dropped > 0 && p.to_host.corrupted > 0 && p.to_reader.dropped > 0);
    // Damaged frames were refused by their checksum, never taken.
    assert!(p
        .host_rejections()
        .iter()
        .all(|e| matches!(e, Error::FrameCrc | Error::HeaderCrc | Error::BadMarker)));
}

#[test]
fn a_result_kept_after_the_cable_was_pulled_is_acknowledged_on_the_next_connection() {
    let key = PairingKey([9; 32]);
    let mut p = Pair::new(Some(key.clone()), Some(key));
    p.auto_ack = false;
    p.queue_result(8, 2, &identity(&[0x30; 10]));
    p.connect();
    p.run_for(30);
    assert_eq!(p.kept, vec![(8, 2)]);
    // The cable goes; the journal write finishes while the host is reconnecting.
    p.cut();
    p.host.ack(8, 2);
    p.run_for(5_000);
    assert!(p.host.is_secured());
    assert_eq!(p.kept, vec![(8, 2)], "the re-send is acknowledged, not taken again");
    assert_eq!(p.reader.pending(), 0);
}

#[test]
fn a_result_already_in_the_journal_is_acknowledged_but_not_taken_again() {
    let key = PairingKey([9; 32]);
    let mut p = Pair::new(Some(key.clone()), Some(key));
    p.host.restore_seen(5, 1);
    p.queue_result(5, 1, &identity(&[0x30; 10]));
    p.connect();
    p.run_for(100);
    assert!(matches!(p.host_events[0], HostEvent::Secured(_)));
    assert!(!p.host_events.iter().any(|e| matches!(e, HostEvent::Result(_))));
    // The ack still goes out, so the reader's outbox empties.
    assert_eq!(p.reader.pending(), 0);
}

#[test]
fn a_reader_without_the_pairing_key_cannot_deliver_an_identity() {
    let mut p = Pair::new(Some(PairingKey([8; 32])), Some(PairingKey([9; 32])));
    p.queue_result(1, 1, &identity(&[0x30; 10]));
    p.connect();
    p.run_for(2_000);
    // Its hello does not prove our key: the link never becomes secure, its frames are refused.
    assert!(matches!(p.host_events[0], HostEvent::KeyMismatch(_)), "{:?}", p.host_events);
    assert!(!p.host.is_secured());
    // The host never sends the sealed `LinkReady`, so the reader never switches to the keys
    // it proposed and sends nothing sealed at all.
    assert_eq!(p.host_events.len(), 1, "{:?}", p.host_events);
    assert!(!p.reader.is_secured());
    assert_eq!(p.reader.pending(), 1);
    assert!(p.kept.is_empty());

    // An unpaired host is told to pair and takes nothing either.
    let mut p = Pair::new(None, None);
    p.queue_result(1, 1, &identity(&[0x30; 10]));
    p.connect();
    p.run_for(2_000);
    assert!(matches!(p.host_events.as_slice(), [HostEvent::NeedsPairing(_)]), "{:?}", p.host_events);
    assert!(p.kept.is_empty());
}

#[test]
fn pairing_yields_the_same_key_and_code_on_both_ends_once_staff_accept_it_on_the_reader() {
    let mut p = Pair::new(None, None);
    p.connect();
    p.run_for(50);
    p.host.start_pairing([0x42; 32], [5; 16]);
    p.run_for(50);
    let code = p.host_pairing_code().expect("the host shows the code");
    assert_eq!(p.reader_pairing_code(), Some(code), "the reader shows the same code");
    assert!(code < 1_000_000);
    assert_eq!(p.host_paired(), None, "no key on the host before staff accept on the reader");
    assert!(!p.reader.is_paired());

    let key = p.reader.accept_pairing().expect("a confirmed exchange waits for staff");
    p.run_for(50);
    assert_eq!(p.host_paired(), Some((key.0, code)));
    assert!(p.reader.is_paired());

    // The new key secures the next connection both ways.
    p.connect();
    p.run_for(50);
    assert!(p.host.is_secured() && p.reader.is_secured());
    assert!(p.reader_saw.contains(&ReaderSaw::Connected));
}

#[test]
fn staff_rejecting_the_code_on_the_reader_leaves_both_ends_unpaired() {
    let mut p = Pair::new(None, None);
    p.connect();
    p.run_for(50);
    p.host.start_pairing([0x42; 32], [5; 16]);
    p.run_for(50);
    assert!(p.reader_pairing_code().is_some());
    p.reader.reject_pairing();
    p.run_for(50);
    assert_eq!(p.host_refusals(), vec![PairOutcome::RejectedByStaff]);
    assert_eq!(p.host_paired(), None);
    assert!(!p.reader.is_paired());
    assert!(p.reader.accept_pairing().is_none(), "a rejected exchange cannot be accepted later");
}

#[test]
fn a_paired_reader_refuses_pairing_until_staff_open_pairing_mode_on_it() {
    let mut p = Pair::secured_pair();
    // A program on the reception PC (or a device on the cable) asks to re-pair.
    p.host.start_pairing([0x42; 32], [5; 16]);
    p.run_for(50);
    assert_eq!(p.host_refusals(), vec![PairOutcome::NotOpen]);
    assert!(p.reader_saw.contains(&ReaderSaw::Rejected(Error::PairingNotOpen)));
    assert_eq!(p.reader.pairing_stats().refused, 1);
    assert_eq!(p.reader_pairing_code(), None);

    // Staff open pairing mode on the reader: the same request now goes through, sealed.
    p.reader.open_pairing(Instant::from_millis(p.now + 120_000));
    p.host.start_pairing([0x43; 32], [6; 16]);
    p.run_for(50);
    let code = p.reader_pairing_code().expect("the exchange runs in pairing mode");
    assert_eq!(p.host_pairing_code(), Some(code));
    let key = p.reader.accept_pairing().expect("staff accept");
    p.run_for(50);
    assert_eq!(p.host_paired(), Some((key.0, code)));
    assert!(!p.reader.pairing_open(Instant::from_millis(p.now)), "pairing mode closes once paired");
}

#[test]
fn pairing_mode_closes_at_its_deadline_and_after_its_attempts() {
    let mut p = Pair::secured_pair();
    p.reader.open_pairing(Instant::from_millis(p.now + 1_000));
    p.run_for(1_000);
    p.host.start_pairing([0x42; 32], [5; 16]);
    p.run_for(50);
    assert_eq!(p.host_refusals(), vec![PairOutcome::NotOpen], "refused after the deadline");

    p.reader.open_pairing(Instant::from_millis(p.now + 600_000));
    for i in 0..5u8 {
        p.host.start_pairing([0x50 + i; 32], [i; 16]);
        p.run_for(50);
    }
    let started = p.reader.pairing_stats().started;
    assert_eq!(started, u32::from(shikaku_protocol::endpoint::reader::PAIRING_ATTEMPTS));
    assert_eq!(
        p.host_refusals().iter().filter(|o| **o == PairOutcome::TooManyAttempts).count(),
        5 - started as usize
    );
}

#[test]
fn a_hello_from_the_cable_does_not_disturb_an_established_connection() {
    let mut p = Pair::secured_pair();
    let cert = vec![0x30; 300];
    // Someone on the cable sends hellos with their own nonces, again and again.
    for i in 0..5u8 {
        p.inject_to_reader(&Message::HostHello { driver_version: "x", nonce: [i; 16] });
        p.run_for(3);
    }
    assert!(p.reader.is_secured(), "the reader keeps its connection keys");
    // The reader still talks to the real host, under the same keys.
    p.queue_result(4, 1, &identity(&cert));
    p.run_for(100);
    assert_eq!(p.kept, vec![(4, 1)]);
    assert_eq!(p.reader.pending(), 0, "acknowledged by the real host");
    assert_eq!(p.reader_saw.iter().filter(|s| **s == ReaderSaw::Connected).count(), 1);
    // The hellos the reader answered reach the real host, which refuses them as duplicates.
    assert!(p.host_rejections().contains(&Error::DuplicateHello));
}

#[test]
fn on_a_secured_link_unsealed_pairing_messages_are_refused() {
    let mut p = Pair::secured_pair();
    p.reader.open_pairing(Instant::from_millis(p.now + 60_000));
    p.inject_to_reader(&Message::PairRequest { host_public: [7; 32], host_nonce: [7; 16] });
    p.run_for(5);
    assert_eq!(p.reader_saw.last(), Some(&ReaderSaw::Rejected(Error::Unauthenticated)));
    assert_eq!(p.reader.pairing_stats().started, 0);
}

#[test]
fn a_forged_pairing_acceptance_does_not_give_the_host_a_key() {
    let mut p = Pair::new(None, None);
    p.connect();
    p.run_for(50);
    p.host.start_pairing([0x42; 32], [5; 16]);
    p.run_for(50);
    assert!(p.host_pairing_code().is_some());
    // Before staff touch the reader, a device on the cable claims they accepted.
    let mut attacker = Link::new(Role::Reader);
    let mut buf = [0u8; MAX_FRAME];
    let n = attacker
        .encode(&mut buf, 0, 1, &Message::PairResult { outcome: PairOutcome::Accepted, proof: [0; 16] })
        .unwrap();
    let events = p.host.receive(&buf[..n]);
    assert!(matches!(events.as_slice(), [HostEvent::Rejected(Error::PairingMismatch)]), "{events:?}");
    assert_eq!(p.host_paired(), None);
}

#[test]
fn a_result_the_application_could_not_keep_is_taken_again_on_the_next_resend() {
    let mut p = Pair::secured_pair();
    p.auto_ack = false;
    p.queue_result(6, 1, &identity(&[0x30; 10]));
    p.run_for(30);
    assert_eq!(p.kept, vec![(6, 1)]);
    // The journal refused it (disk full): the application says so and does not acknowledge.
    p.host.not_kept(6, 1);
    p.run_for(2_000);
    assert_eq!(p.kept, vec![(6, 1), (6, 1)], "the reader's re-send is handed up again");
    p.host.ack(6, 1);
    p.run_for(6_000);
    assert_eq!(p.reader.pending(), 0);
}

#[test]
fn a_tampered_pairing_answer_fails_and_no_confirmation_goes_out() {
    let mut host = HostEndpoint::new(None, [0; 16]);
    host.start_pairing([0x42; 32], [5; 16]);
    let req = host.poll_transmit().unwrap();
    // The real reader answers; an attacker on the cable flips one bit of its confirmation and
    // frames the answer anew (pairing frames carry no MAC, only checksums).
    let mut reader = ReaderEndpoint::new(identity_of_reader(), None); // unpaired: pairing mode is open
    reader.push_rx(&req);
    while reader.poll_input(Instant::ZERO, &mut Counter(9)).is_some() {}
    let mut buf = [0u8; MAX_FRAME];
    let n = reader.poll_transmit(Instant::ZERO, &mut buf).expect("the reader answers the request");
    let mut eavesdropper = Link::new(Role::Host);
    let answer = eavesdropper.decode(Frame::new_checked(&mut buf[..n]).unwrap()).unwrap().message;
    let Message::PairResponse { reader_public, reader_nonce, mut confirm } = answer else {
        panic!("expected a pair response")
    };
    confirm[0] ^= 1;
    let mut attacker = Link::new(Role::Reader);
    let tampered = Message::PairResponse { reader_public, reader_nonce, confirm };
    let n = attacker.encode(&mut buf, 0, 1, &tampered).unwrap();
    let events = host.receive(&buf[..n]);
    assert!(matches!(events.as_slice(), [HostEvent::Rejected(Error::PairingMismatch)]), "{events:?}");
    assert!(host.poll_transmit().is_none(), "no confirmation after a mismatch");
}

#[test]
fn pairing_answers_nobody_asked_for_are_refused_as_such_on_both_ends() {
    let mut p = Pair::new(None, None);
    p.connect();
    p.run_for(50);
    let mut attacker = Link::new(Role::Reader);
    let mut buf = [0u8; MAX_FRAME];
    let n = attacker
        .encode(
            &mut buf,
            0,
            1,
            &Message::PairResponse { reader_public: [1; 32], reader_nonce: [2; 16], confirm: [3; 16] },
        )
        .unwrap();
    let events = p.host.receive(&buf[..n]);
    assert!(matches!(events.as_slice(), [HostEvent::Rejected(Error::NoPairingInProgress)]), "{events:?}");

    let mut attacker = Link::new(Role::Host);
    let n = attacker.encode(&mut buf, 0, 1, &Message::PairConfirm { confirm: [3; 16] }).unwrap();
    p.to_reader.send(p.now, 0, buf[..n].to_vec());
    p.run_for(2);
    assert_eq!(p.reader_saw.last(), Some(&ReaderSaw::Rejected(Error::NoPairingInProgress)));
    assert!(!p.reader.is_paired());
}

#[test]
fn a_second_hello_on_a_live_connection_is_refused_so_counters_cannot_restart() {
    // Record what the reader sends from its hello on: the hello and a result.
    let key = PairingKey([9; 32]);
    let mut host = HostEndpoint::new(Some(key.clone()), [0; 16]);
    let mut reader = ReaderEndpoint::new(identity_of_reader(), Some(key));
    let mut rng = Counter(1);
    reader.queue(3, 1, &identity(&[0x30; 10]), Instant::ZERO).unwrap();
    host.connect([1; 16]);
    let mut recorded = Vec::new();
    let mut kept = Vec::new();
    for _ in 0..4 {
        while let Some(f) = host.poll_transmit() {
            reader.push_rx(&f);
            while reader.poll_input(Instant::ZERO, &mut rng).is_some() {}
        }
        let mut buf = [0u8; MAX_FRAME];
        while let Some(n) = reader.poll_transmit(Instant::ZERO, &mut buf) {
            recorded.extend_from_slice(&buf[..n]);
            for e in host.receive(&buf[..n]) {
                if let HostEvent::Result(r) = e {
                    kept.push((r.session, r.seq));
                    host.ack(r.session, r.seq);
                }
            }
        }
    }
    assert_eq!(kept, vec![(3, 1)]);
    // An attacker replays the whole burst (hello + the result) on the same connection.
    let events = host.receive(&recorded);
    assert!(matches!(events[0], HostEvent::Rejected(Error::DuplicateHello)), "{events:?}");
    assert!(!events.iter().any(|e| matches!(e, HostEvent::Result(_) | HostEvent::Secured(_))), "{events:?}");
}

/// Moves every frame one end has for the other, both ways, until nothing moves.
fn exchange(host: &mut HostEndpoint, reader: &mut ReaderEndpoint, rng: &mut Counter) -> Vec<HostEvent> {
    let mut events = Vec::new();
    let mut saw = Vec::new();
    for _ in 0..8 {
        while let Some(f) = host.poll_transmit() {
            reader.push_rx(&f);
            while let Some(i) = reader.poll_input(Instant::ZERO, rng) {
                if let LinkInput::PairingCode { code } = i {
                    saw.push(code);
                }
            }
        }
        let mut buf = [0u8; MAX_FRAME];
        while let Some(n) = reader.poll_transmit(Instant::ZERO, &mut buf) {
            events.extend(host.receive(&buf[..n]));
        }
    }
    events.extend(saw.into_iter().map(|code| HostEvent::PairingCode { code }));
    events
}

fn code_of(events: &[HostEvent]) -> Option<u32> {
    events.iter().find_map(|e| match e {
        HostEvent::PairingCode { code } => Some(*code),
        _ => None,
    })
}

/// Why `shikaku pair` makes the operator type the reader's code too: a device between PC and
/// reader runs one exchange with each. It can forge the reader's acceptance towards the PC (it
/// is the "reader" of that exchange), but the two codes differ, so staff comparing them at
/// both ends refuse it.
#[test]
fn a_device_in_the_middle_of_a_pairing_cannot_make_the_two_codes_agree() {
    let mut pc = HostEndpoint::new(None, [0; 16]);
    let mut reader = ReaderEndpoint::new(identity_of_reader(), None);
    // The device: a reader towards the PC, a host towards the real reader.
    let mut fake_reader = ReaderEndpoint::new(identity_of_reader(), None);
    let mut fake_pc = HostEndpoint::new(None, [0; 16]);
    pc.start_pairing([0x42; 32], [5; 16]);
    fake_pc.start_pairing([0x66; 32], [6; 16]);
    let pc_side = exchange(&mut pc, &mut fake_reader, &mut Counter(1));
    let reader_side = exchange(&mut fake_pc, &mut reader, &mut Counter(2));
    let pc_code = code_of(&pc_side).expect("the PC shows a code");
    // The device and the real reader derived the same code in their exchange: the reader
    // shows it (the reader's `PairingCode`, gathered by `exchange`).
    let reader_code = code_of(&reader_side).expect("the device's exchange with the reader completes");
    assert_ne!(pc_code, reader_code, "the codes at the two ends differ");
    // The device can make the PC believe the reader accepted: a PC that skipped its own
    // comparison would store a key the device shares.
    fake_reader.accept_pairing().expect("the device accepts its own exchange");
    let events = exchange(&mut pc, &mut fake_reader, &mut Counter(3));
    assert!(events.iter().any(|e| matches!(e, HostEvent::Paired { .. })), "{events:?}");
    // The real reader keeps nothing unless staff accept a code that matches the PC's.
    assert!(!reader.is_paired());
}

#[test]
fn no_room_for_a_new_session_once_identities_fill_half_the_outbox() {
    let mut reader = ReaderEndpoint::new(identity_of_reader(), Some(PairingKey([9; 32])));
    for seq in 0..4u32 {
        assert!(reader.has_room_for_identity(), "{seq} identities waiting");
        reader.queue(seq, 0, &identity(&[0x30; 10]), Instant::ZERO).unwrap();
        // Status messages do not count against the room.
        reader.queue(seq, 1, &Message::CardRemoved, Instant::ZERO).unwrap();
    }
    assert!(!reader.has_room_for_identity(), "4 of 8 slots hold identities");
    assert_eq!(reader.pending(), 8);
}
