//! The host endpoint against a reader built from the protocol crate: handshake, results
//! delivered exactly once while the link is pulled at every step, and a fake reader refused.

use shikaku_host::reader::{HostEndpoint, HostEvent};
use shikaku_protocol::auth::{LinkKeys, PairingKey};
use shikaku_protocol::deframer::Deframer;
use shikaku_protocol::message::*;
use shikaku_protocol::reliable::{Outbox, RetryPolicy};
use shikaku_protocol::{Header, Link, Role, MAX_FRAME, MAX_PAYLOAD};

/// A reader's link side: hello, keys, an outbox of results.
struct Reader {
    key: Option<PairingKey>,
    link: Link,
    deframer: Box<Deframer<MAX_FRAME>>,
    outbox: Outbox<4, MAX_PAYLOAD>,
    nonce: u8,
}

impl Reader {
    fn new(key: Option<PairingKey>) -> Self {
        Self {
            key,
            link: Link::new(Role::Reader),
            deframer: Box::new(Deframer::new()),
            outbox: Outbox::new(RetryPolicy { initial_ms: 100, max_ms: 400 }),
            nonce: 0,
        }
    }

    fn push_result(&mut self, session: u32, seq: u32, msg: &Message<'_>, now: u64) {
        let mut p = vec![0u8; MAX_PAYLOAD];
        let n = msg.encode(&mut p).unwrap();
        self.outbox.push(Header { msg_type: msg.msg_type(), session, seq }, &p[..n], now).unwrap();
    }

    /// Handles host bytes; returns bytes for the host.
    fn on_bytes(&mut self, mut bytes: &[u8], now: u64) -> Vec<u8> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let n = self.deframer.push(bytes);
            bytes = &bytes[n..];
            while let Some(Ok(f)) = self.deframer.next_frame() {
                let Ok(rx) = self.link.decode(&f) else { continue };
                match rx.message {
                    Message::HostHello { nonce, .. } => {
                        self.nonce = self.nonce.wrapping_add(1);
                        let reader_nonce = [self.nonce; 16];
                        let keys = self.key.as_ref().map(|k| LinkKeys::derive(k, &nonce, &reader_nonce));
                        let key_check =
                            keys.as_ref().map(|k| k.hello_check(&nonce, &reader_nonce)).unwrap_or([0; 16]);
                        let hello = Message::ReaderHello {
                            firmware: FirmwareVersion { major: 0, minor: 1, patch: 0, build: "test" },
                            serial: "SK-0001",
                            model: "sim",
                            capabilities: Capabilities(Capabilities::PIN_KEYPAD),
                            max_payload: MAX_PAYLOAD as u16,
                            nonce: reader_nonce,
                            key_check,
                        };
                        self.link.reset();
                        let mut buf = [0u8; MAX_FRAME];
                        let n = self.link.encode(&mut buf, 0, 0, &hello).unwrap();
                        out.extend_from_slice(&buf[..n]);
                        if let Some(k) = keys {
                            self.link.secure(&k);
                        }
                        self.outbox.on_reconnect(now);
                    }
                    Message::Ack { session, seq } => {
                        self.outbox.ack(session, seq);
                    }
                    _ => {}
                }
            }
        }
        if self.link.is_secured() {
            while let Some(t) = self.outbox.poll_transmit(now) {
                let mut buf = [0u8; MAX_FRAME];
                let (h, p) = (t.header, t.payload.to_vec());
                let n = self.link.encode_raw(&mut buf, &h, &p).unwrap();
                out.extend_from_slice(&buf[..n]);
            }
        }
        out
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

#[test]
fn handshake_secures_the_link_and_results_arrive_once_per_pulled_cable() {
    let key = PairingKey([9; 32]);
    // The link is pulled after `cut` exchanges, for every cut position.
    for cut in 0..8 {
        let mut host = HostEndpoint::new(Some(key.clone()), [0; 16]);
        let mut reader = Reader::new(Some(key.clone()));
        let cert = vec![0x30; 1590];
        for (i, seq) in [0u32, 1, 2].iter().enumerate() {
            reader.push_result(77, *seq, &identity(&cert), i as u64);
        }
        let mut results = Vec::new();
        let mut now = 0u64;
        let mut exchanges = 0;
        let mut connections = 0u8;
        'conn: loop {
            connections += 1;
            host.connect([connections; 16]);
            for _round in 0..20 {
                now += 150;
                let mut to_reader = Vec::new();
                while let Some(b) = host.poll_transmit() {
                    to_reader.extend(b);
                }
                exchanges += 1;
                if exchanges == cut {
                    continue 'conn; // cable pulled: both sides lose what was in flight
                }
                let to_host = reader.on_bytes(&to_reader, now);
                for e in host.receive(&to_host) {
                    match e {
                        HostEvent::Result(r) => {
                            host.ack(r.session, r.seq);
                            results.push((r.session, r.seq));
                        }
                        HostEvent::Secured(info) => assert_eq!(info.serial, "SK-0001"),
                        HostEvent::NeedsPairing(_)
                        | HostEvent::KeyMismatch(_)
                        | HostEvent::Rejected(_)
                        | HostEvent::Paired { .. } => {
                            panic!("unexpected {e:?}")
                        }
                        HostEvent::Status(_) => {}
                    }
                }
                if reader.outbox.is_empty() && results.len() == 3 {
                    break 'conn;
                }
            }
            assert!(connections < 5, "cut {cut}: no progress");
        }
        results.sort();
        assert_eq!(results, vec![(77, 0), (77, 1), (77, 2)], "cut at exchange {cut}");
    }
}

#[test]
fn a_result_already_in_the_journal_is_acknowledged_but_not_taken_again() {
    let key = PairingKey([9; 32]);
    let mut host = HostEndpoint::new(Some(key.clone()), [0; 16]);
    host.restore_seen(5, 1);
    let mut reader = Reader::new(Some(key));
    let cert = vec![0x30; 10];
    reader.push_result(5, 1, &identity(&cert), 0);
    host.connect([1; 16]);
    let hello = host.poll_transmit().unwrap();
    let bytes = reader.on_bytes(&hello, 0);
    let events = host.receive(&bytes);
    assert!(matches!(events[0], HostEvent::Secured(_)));
    assert!(!events.iter().any(|e| matches!(e, HostEvent::Result(_))));
    // The ack still goes out, so the reader's outbox empties.
    let ack = host.poll_transmit().unwrap();
    reader.on_bytes(&ack, 1);
    assert!(reader.outbox.is_empty());
}

#[test]
fn a_reader_without_the_pairing_key_cannot_deliver_an_identity() {
    let mut host = HostEndpoint::new(Some(PairingKey([9; 32])), [0; 16]);
    let mut fake = Reader::new(Some(PairingKey([8; 32])));
    let cert = vec![0x30; 10];
    fake.push_result(1, 1, &identity(&cert), 0);
    host.connect([1; 16]);
    let hello = host.poll_transmit().unwrap();
    let events = host.receive(&fake.on_bytes(&hello, 0));
    // Its hello does not prove our key: the link never becomes secure, its frames are refused.
    assert!(matches!(events[0], HostEvent::KeyMismatch(_)), "{events:?}");
    assert!(!host.is_secured());
    assert!(events[1..].iter().all(|e| matches!(e, HostEvent::Rejected(shikaku_protocol::Error::NotPaired))));
    assert!(!events.iter().any(|e| matches!(e, HostEvent::Result(_))));

    // An unpaired host is told to pair and takes nothing either.
    let mut unpaired = HostEndpoint::new(None, [0; 16]);
    let mut honest = Reader::new(None);
    honest.push_result(1, 1, &identity(&cert), 0);
    unpaired.connect([2; 16]);
    let hello = unpaired.poll_transmit().unwrap();
    let events = unpaired.receive(&honest.on_bytes(&hello, 0));
    assert!(matches!(events.as_slice(), [HostEvent::NeedsPairing(_)]));
}

#[test]
fn pairing_yields_the_same_key_and_code_on_both_sides_and_a_tampered_answer_fails() {
    use shikaku_protocol::auth::pairing::{PairingSecrets, PublicKey, StaticSecret};
    for tamper in [false, true] {
        let mut host = HostEndpoint::new(None, [0; 16]);
        host.start_pairing([0x42; 32], [5; 16]);
        let req = host.poll_transmit().unwrap();
        let frame = shikaku_protocol::Frame::new_checked(&req[..]).unwrap();
        let mut reader_link = Link::new(Role::Reader);
        let Message::PairRequest { host_public, host_nonce } = reader_link.decode(&frame).unwrap().message
        else {
            panic!("expected a pair request")
        };
        let secret = StaticSecret::from([0x24; 32]);
        let reader_public = PublicKey::from(&secret).to_bytes();
        let reader_nonce = [6; 16];
        let s = PairingSecrets::derive(
            &secret,
            &host_public,
            &host_public,
            &reader_public,
            &host_nonce,
            &reader_nonce,
        );
        let mut confirm = s.reader_confirm();
        if tamper {
            confirm[0] ^= 1;
        }
        let mut buf = [0u8; MAX_FRAME];
        let n = reader_link
            .encode(&mut buf, 0, 1, &Message::PairResponse { reader_public, reader_nonce, confirm })
            .unwrap();
        let events = host.receive(&buf[..n]);
        if tamper {
            assert!(matches!(
                events.as_slice(),
                [HostEvent::Rejected(shikaku_protocol::Error::PairingMismatch)]
            ));
            assert!(host.poll_transmit().is_none(), "no confirmation after a mismatch");
            continue;
        }
        let [HostEvent::Paired { key, code }] = events.as_slice() else { panic!("{events:?}") };
        assert_eq!(key.0, s.key.0);
        assert_eq!(*code, s.code);
        // The host's confirmation checks out on the reader.
        let conf = host.poll_transmit().unwrap();
        let frame = shikaku_protocol::Frame::new_checked(&conf[..]).unwrap();
        let Message::PairConfirm { confirm } = reader_link.decode(&frame).unwrap().message else { panic!() };
        s.check(s.host_confirm(), &confirm).unwrap();
    }
}

#[test]
fn a_second_hello_on_a_live_connection_is_refused_so_counters_cannot_restart() {
    let key = PairingKey([9; 32]);
    let mut host = HostEndpoint::new(Some(key.clone()), [0; 16]);
    let mut reader = Reader::new(Some(key));
    let cert = vec![0x30; 10];
    reader.push_result(3, 1, &identity(&cert), 0);
    host.connect([1; 16]);
    let hello = host.poll_transmit().unwrap();
    let first = reader.on_bytes(&hello, 0);
    let events = host.receive(&first);
    let HostEvent::Result(r) = &events[1] else { panic!("{events:?}") };
    host.ack(r.session, r.seq);
    // An attacker replays the whole first burst (hello + the result) on the same connection.
    let events = host.receive(&first);
    assert!(matches!(events[0], HostEvent::Rejected(_)), "{events:?}");
    assert!(!events.iter().any(|e| matches!(e, HostEvent::Result(_) | HostEvent::Secured(_))), "{events:?}");
}
