//! Exactly-once delivery of results across a link that drops, duplicates, reorders and
//! reconnects, driven in virtual time with deterministic seeds.

use proptest::prelude::*;
use shikaku_protocol::auth::{LinkKeys, PairingKey};
use shikaku_protocol::message::*;
use shikaku_protocol::reliable::{Class, Delivery, DuplicateFilter, Outbox, Queued, RetryPolicy};
use shikaku_protocol::{Duration, Instant};
use shikaku_protocol::{Frame, Header, Link, Role, MAX_FRAME, MAX_PAYLOAD};

/// A tiny deterministic PRNG (xorshift) so each seed replays the same faults.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

struct Faults {
    drop: u64,
    dup: u64,
    reorder: u64,
    reconnect: u64,
}

/// Runs `results` through reader outbox → lossy wire → host; returns the host's deliveries.
fn run(seed: u64, results: u32, faults: &Faults) -> (Vec<(u32, u32)>, usize) {
    let mut rng = Rng(seed | 1);
    let mut conn = 0u8;
    let connect = |conn: u8| {
        let k = LinkKeys::derive(&PairingKey([3; 32]), &[conn; 16], &[conn.wrapping_add(100); 16]);
        let mut r = Link::new(Role::Reader);
        let mut h = Link::new(Role::Host);
        r.secure(&k);
        h.secure(&k);
        (r, h)
    };
    let (mut reader, mut host) = connect(conn);
    let mut outbox: Outbox<4, MAX_PAYLOAD> =
        Outbox::new(RetryPolicy { initial: Duration::from_millis(50), max: Duration::from_millis(400) });
    let mut filter: DuplicateFilter<8> = DuplicateFilter::new();
    let mut to_host: Vec<Vec<u8>> = Vec::new();
    let mut to_reader: Vec<Vec<u8>> = Vec::new();
    let mut delivered = Vec::new();
    let mut sent = 0u32;
    let mut now = 0u64;
    let cert = [0x30u8; 1590];
    let mut frames_on_wire = 0;

    for _step in 0..20_000 {
        now += 10;
        // The session produces a new result whenever the outbox has room.
        if sent < results && outbox.len() < 4 {
            let session = 1000 + sent / 3;
            let seq = sent % 3;
            let msg = Message::VerifiedIdentity(VerifiedIdentity {
                auth_cert: &cert,
                proof: Proof::ReaderAttestation { challenge: [sent as u8; 32], attestation: &[1; 32] },
                method: AuthMethod::Pin,
                card_kind: CardKind::PhysicalCard,
                consents: Consents::NONE,
                staff_account: None,
                registration: false,
                cert_expiry: CertExpiry::DaysLeft(10),
                card_detected_at: now,
                verified_at: now,
            });
            let mut payload = [0u8; MAX_PAYLOAD];
            let n = msg.encode(&mut payload).unwrap();
            outbox
                .push(
                    Header { msg_type: msg.msg_type(), session, seq },
                    &payload[..n],
                    Class::Identity,
                    Instant::from_millis(now),
                )
                .unwrap();
            sent += 1;
        }
        while let Some(t) = outbox.poll_transmit(Instant::from_millis(now)) {
            let mut buf = [0u8; MAX_FRAME];
            let n = reader.encode_raw(&mut buf, &t.header, t.payload).unwrap();
            to_host.push(buf[..n].to_vec());
        }
        // The wire misbehaves.
        for q in [&mut to_host, &mut to_reader] {
            if q.len() > 1 && rng.chance(faults.reorder) {
                let i = (rng.next() as usize) % q.len();
                let f = q.remove(i);
                q.push(f);
            }
            if let Some(f) = q.first().cloned() {
                if rng.chance(faults.dup) {
                    q.push(f);
                }
            }
        }
        if rng.chance(faults.reconnect) {
            conn = conn.wrapping_add(1);
            (reader, host) = connect(conn);
            to_host.clear();
            to_reader.clear();
            outbox.on_reconnect(Instant::from_millis(now));
            continue;
        }
        // Host side: accept what verifies, ack everything, deliver once.
        for mut f in std::mem::take(&mut to_host) {
            frames_on_wire += 1;
            if rng.chance(faults.drop) {
                continue;
            }
            let frame = Frame::new_checked(&mut f[..]).unwrap();
            let Ok(rx) = host.decode(frame) else { continue }; // replays and reorders refused
            let h = rx.header;
            if filter.check(h.session, h.seq) == Delivery::New {
                delivered.push((h.session, h.seq));
            }
            let mut buf = [0u8; MAX_FRAME];
            let n = host
                .encode(&mut buf, h.session, h.seq, &Message::Ack { session: h.session, seq: h.seq })
                .unwrap();
            to_reader.push(buf[..n].to_vec());
        }
        for mut f in std::mem::take(&mut to_reader) {
            if rng.chance(faults.drop) {
                continue;
            }
            let frame = Frame::new_checked(&mut f[..]).unwrap();
            if let Ok(rx) = reader.decode(frame) {
                if let Message::Ack { session, seq } = rx.message {
                    outbox.ack(session, seq);
                }
            }
        }
        if sent == results && outbox.is_empty() {
            break;
        }
    }
    assert!(outbox.is_empty(), "seed {seed}: results still unacknowledged");
    (delivered, frames_on_wire)
}

fn expected(results: u32) -> Vec<(u32, u32)> {
    (0..results).map(|i| (1000 + i / 3, i % 3)).collect()
}

#[test]
fn a_clean_link_delivers_each_result_once_without_retransmission() {
    let (mut got, frames) = run(1, 30, &Faults { drop: 0, dup: 0, reorder: 0, reconnect: 0 });
    got.sort();
    assert_eq!(got, expected(30));
    assert_eq!(frames, 30);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_result_arrives_exactly_once_despite_drops_duplicates_reorders_and_reconnects(
        seed: u64,
        drop in 0u64..40,
        dup in 0u64..30,
        reorder in 0u64..30,
        reconnect in 0u64..5,
    ) {
        let (mut got, _) = run(seed, 24, &Faults { drop, dup, reorder, reconnect });
        let n = got.len();
        got.sort();
        got.dedup();
        prop_assert_eq!(got.len(), n, "a result was delivered twice");
        prop_assert_eq!(got, expected(24));
    }
}

#[test]
fn the_outbox_backs_off_and_resends_at_once_after_reconnect() {
    let mut o: Outbox<2, 16> =
        Outbox::new(RetryPolicy { initial: Duration::from_millis(100), max: Duration::from_millis(300) });
    let h = Header { msg_type: msg_type::PIN_OUTCOME, session: 1, seq: 1 };
    o.push(h, &[1, 2], Class::Record, Instant::ZERO).unwrap();
    o.push(h, &[1, 2], Class::Record, Instant::ZERO).unwrap(); // same (session, seq): not doubled
    assert_eq!(o.len(), 1);
    let times: Vec<u64> =
        (0..=1000).step_by(10).filter(|&t| o.poll_transmit(Instant::from_millis(t)).is_some()).collect();
    assert_eq!(times, vec![0, 100, 300, 600, 900]);
    o.on_reconnect(Instant::from_millis(905));
    assert_eq!(o.poll_transmit(Instant::from_millis(905)).map(|t| t.attempt), Some(6));
    assert!(o.ack(1, 1));
    assert!(!o.ack(1, 1));
    assert!(o.next_deadline().is_none());
}

#[test]
fn a_full_outbox_and_an_oversized_result_are_typed_errors() {
    let mut o: Outbox<1, 4> = Outbox::default();
    let h = |seq| Header { msg_type: msg_type::PIN_OUTCOME, session: 1, seq };
    assert_eq!(
        o.push(h(1), &[0; 5], Class::Identity, Instant::ZERO),
        Err(shikaku_protocol::Error::Oversized { len: 5, max: 4 })
    );
    o.push(h(1), &[0; 4], Class::Identity, Instant::ZERO).unwrap();
    assert_eq!(
        o.push(h(2), &[0; 4], Class::Identity, Instant::ZERO),
        Err(shikaku_protocol::Error::OutboxFull)
    );
}

#[test]
fn a_full_outbox_lets_status_then_records_go_but_never_an_identity() {
    let mut o: Outbox<4, 4> = Outbox::default();
    let h = |seq| Header { msg_type: msg_type::PIN_OUTCOME, session: 1, seq };
    let t = Instant::ZERO;
    o.push(h(1), &[1], Class::Identity, t).unwrap();
    o.push(h(2), &[2], Class::Record, t).unwrap();
    o.push(h(3), &[3], Class::Status, t).unwrap();
    o.push(h(4), &[4], Class::Record, t).unwrap();
    // Full: a new status replaces the oldest status.
    assert_eq!(o.push(h(5), &[5], Class::Status, t), Ok(Queued::Evicted(h(3), Class::Status)));
    // A record takes the place of the status, then of the oldest record.
    assert_eq!(o.push(h(6), &[6], Class::Record, t), Ok(Queued::Evicted(h(5), Class::Status)));
    assert_eq!(o.push(h(7), &[7], Class::Identity, t), Ok(Queued::Evicted(h(2), Class::Record)));
    // A status finds nothing lesser to replace.
    assert_eq!(o.push(h(8), &[8], Class::Status, t), Err(shikaku_protocol::Error::OutboxFull));
    assert_eq!(o.identities(), 2);
    o.push(h(9), &[9], Class::Identity, t).unwrap();
    o.push(h(10), &[10], Class::Identity, t).unwrap();
    assert_eq!(o.identities(), 4);
    // Only identities left: the next one is refused, none is ever evicted.
    assert_eq!(o.push(h(11), &[11], Class::Identity, t), Err(shikaku_protocol::Error::OutboxFull));
    let mut seqs = Vec::new();
    while let Some(x) = o.poll_transmit(t) {
        seqs.push(x.header.seq);
    }
    assert_eq!(seqs, vec![1, 7, 9, 10]);
}

#[test]
fn the_duplicate_filter_tracks_sessions_and_a_window() {
    let mut f: DuplicateFilter<2> = DuplicateFilter::new();
    assert_eq!(f.check(1, 5), Delivery::New);
    assert_eq!(f.check(1, 3), Delivery::New); // late but unseen
    assert_eq!(f.check(1, 3), Delivery::Duplicate);
    assert_eq!(f.check(1, 5), Delivery::Duplicate);
    assert_eq!(f.check(1, 200), Delivery::New);
    assert_eq!(f.check(1, 100), Delivery::Duplicate); // older than the window: counted as seen
    assert_eq!(f.check(2, 0), Delivery::New);
    assert_eq!(f.check(3, 0), Delivery::New); // evicts session 1 (least recently used)
    assert_eq!(f.check(2, 0), Delivery::Duplicate);
    f.restore(9, 4);
    assert_eq!(f.check(9, 4), Delivery::Duplicate);
}
