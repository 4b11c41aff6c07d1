//! Every message type survives encode → frame → deframe → decode unchanged.

mod common;

use common::{build, fields, Fields, MESSAGE_TYPES};
use proptest::prelude::*;
use shikaku_protocol::auth::{LinkKeys, PairingKey};
use shikaku_protocol::deframer::Deframer;
use shikaku_protocol::message::{Direction, Message};
use shikaku_protocol::{Frame, Link, Role, MAX_FRAME};

fn secured_pair() -> (Link, Link) {
    let keys = LinkKeys::derive(&PairingKey([7; 32]), &[1; 16], &[2; 16]);
    let mut reader = Link::new(Role::Reader);
    let mut host = Link::new(Role::Host);
    reader.secure(&keys);
    host.secure(&keys);
    (reader, host)
}

/// Sends `msg` from the side allowed to send it and returns what the other side decoded.
fn through_link(msg: &Message<'_>, session: u32, seq: u32, check: impl FnOnce(&Message<'_>)) {
    let (mut reader, mut host) = secured_pair();
    let (tx, rx) = match msg.direction() {
        Direction::ReaderToHost | Direction::Both => (&mut reader, &mut host),
        Direction::HostToReader => (&mut host, &mut reader),
    };
    let mut buf = [0u8; MAX_FRAME];
    let n = tx.encode(&mut buf, session, seq, msg).expect("encode");
    let frame = Frame::new_checked(&mut buf[..n]).expect("checked");
    assert_eq!(frame.total_len(), n);
    let got = rx.decode(frame).expect("decode");
    // Everything is sealed on a secured link but the hellos, which set up the keys.
    assert_eq!(got.authenticated, !Message::is_hello(msg.msg_type()));
    assert_eq!((got.header.session, got.header.seq), (session, seq));
    check(&got.message);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_message_round_trips_through_a_secured_link(f in fields(), session: u32, seq: u32) {
        let msg = build(&f);
        through_link(&msg, session, seq, |got| assert_eq!(got, &msg));
    }

    #[test]
    fn every_message_round_trips_through_the_deframer_in_random_chunks(
        f in fields(),
        chunks in prop::collection::vec(1usize..97, 1..64),
    ) {
        let msg = build(&f);
        let (mut reader, mut host) = secured_pair();
        let (tx, rx) = match msg.direction() {
            Direction::HostToReader => (&mut host, &mut reader),
            _ => (&mut reader, &mut host),
        };
        let mut wire = [0u8; MAX_FRAME];
        let n = tx.encode(&mut wire, 9, 10, &msg).unwrap();
        let mut d: Deframer<MAX_FRAME> = Deframer::new();
        let mut sent = 0;
        let mut decoded = 0;
        let mut ci = 0;
        while sent < n {
            let step = chunks[ci % chunks.len()].min(n - sent);
            ci += 1;
            prop_assert_eq!(d.push(&wire[sent..sent + step]), step);
            sent += step;
            while let Some(r) = d.next_frame() {
                let frame = r.unwrap();
                prop_assert_eq!(rx.decode(frame).unwrap().message, msg);
                decoded += 1;
            }
        }
        prop_assert_eq!(decoded, 1);
    }
}

#[test]
fn the_builder_covers_every_message_type() {
    // Guard against a message type added to the protocol but missing from the round trip.
    let mut seen = std::collections::BTreeSet::new();
    for which in 0..MESSAGE_TYPES {
        let f = Fields {
            which,
            blob: vec![1, 2, 3],
            blob2: vec![4; 256],
            text: "髙﨑 staff-01".into(),
            text2: "SN0001".into(),
            text3: "model".into(),
            a16: [1; 16],
            a32: [2; 32],
            b32: [3; 32],
            n8: 3,
            n16: 90,
            n32: 77,
            n64: 1_700_000_000_000,
            m64: 1_700_000_000_500,
            flag: true,
            e: [0, 1, 2, 3, 4, 5, 6, 7],
        };
        let msg = build(&f);
        seen.insert(msg.msg_type());
        through_link(&msg, 1, which as u32, |got| assert_eq!(got, &msg));
    }
    let known: Vec<u8> = (0u8..=255)
        .filter(|t| Message::decode(*t, 0, &[]) != Err(shikaku_protocol::Error::UnknownMessageType(*t)))
        .collect();
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), known, "every decodable type is built");
}
