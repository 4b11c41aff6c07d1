//! The firmware's session core and reader link against the host driver's endpoint over a
//! byte pipe that is cut at every frame: the verified identity reaches the host exactly once,
//! every session message at most once, and a PIN session completes after each cut.

use shikaku_firmware::session::{Event, Key};
use shikaku_hil::sim_reader::SimReader;
use shikaku_host::reader::{HostEndpoint, HostEvent};
use shikaku_protocol::auth::PairingKey;
use shikaku_protocol::message::*;

const KEY: [u8; 32] = [0x6B; 32];
const NOW_UNIX_MS: u64 = 1_795_262_400_000;

/// Runs a PIN session; the pipe loses everything in flight at frame `cut` (counted across
/// both directions). Returns the (session, seq, type) of every message the host took.
fn run(cut: Option<usize>) -> Vec<(u32, u32, u8)> {
    let mut reader = SimReader::new(KEY, "SK-LINK-1");
    let mut host = HostEndpoint::new(Some(PairingKey(KEY)), [0; 16]);
    let mut taken = Vec::new();
    let mut now = 1_000u64;
    let mut frames_seen = 0usize;
    let mut connection = 0u8;
    let script: Vec<(u64, Event<'static>)> = vec![
        (2_000, Event::CardPresent),
        (3_000, Event::Key(Key::ChoosePin)),
        (3_100, Event::Key(Key::Digit(1))),
        (3_200, Event::Key(Key::Digit(2))),
        (3_300, Event::Key(Key::Digit(3))),
        (3_400, Event::Key(Key::Digit(4))),
        (4_000, Event::Key(Key::Yes)),
        (9_000, Event::CardRemoved),
    ];
    let mut script = script.into_iter().peekable();
    host.connect([connection; 16]);
    while now < 30_000 {
        now += 50;
        while script.peek().is_some_and(|(t, _)| *t <= now) {
            let (_, e) = script.next().unwrap();
            reader.event(now, e);
        }
        reader.event(now, Event::Tick);
        let mut h2r = Vec::new();
        while let Some(b) = host.poll_transmit() {
            h2r.extend(b);
        }
        let r2h = reader.transmit(now);
        let frames = usize::from(!h2r.is_empty()) + usize::from(!r2h.is_empty());
        if cut.is_some_and(|c| frames_seen < c + 1 && c < frames_seen + frames) {
            // The cable is pulled: in-flight bytes are lost, both sides notice and reconnect.
            frames_seen += frames;
            reader.link.disconnected();
            connection += 1;
            host.connect([connection; 16]);
            continue;
        }
        frames_seen += frames;
        reader.receive(now, &h2r);
        for e in host.receive(&r2h) {
            match e {
                HostEvent::Secured(_) => {
                    host.send(&Message::TimeSync { unix_ms: NOW_UNIX_MS + now }).unwrap();
                    host.send(&Message::HostChallenge { challenge: [0xC1; 32] }).unwrap();
                }
                HostEvent::Result(m) | HostEvent::Status(m) => {
                    // The application keeps each result, then acknowledges it.
                    host.ack(m.session, m.seq);
                    if m.msg_type() == msg_type::CERTIFICATE_READ {
                        host.send(&Message::RegistrationStatus { registered: true }).unwrap();
                    }
                    taken.push((m.session, m.seq, m.msg_type()));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(reader.link.pending(), 0, "cut {cut:?}: messages left unacknowledged");
    taken
}

#[test]
fn a_clean_link_carries_the_whole_pin_session() {
    let taken = run(None);
    let types: Vec<u8> = taken.iter().map(|t| t.2).collect();
    use msg_type::*;
    assert_eq!(
        types,
        vec![
            CARD_DETECTED,
            CERTIFICATE_READ,
            AUTH_MODES_OFFERED,
            AUTH_MODE_CHOSEN,
            PIN_OUTCOME,
            CONSENT_ANSWERS,
            VERIFIED_IDENTITY,
            CARD_REMOVED
        ]
    );
}

#[test]
fn every_cut_still_delivers_each_message_once_and_one_identity() {
    let clean = run(None);
    let total_frames = 40;
    for cut in 0..total_frames {
        let taken = run(Some(cut));
        let mut keys: Vec<(u32, u32)> = taken.iter().map(|t| (t.0, t.1)).collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n, "cut {cut}: a message was taken twice");
        let ids = taken.iter().filter(|t| t.2 == msg_type::VERIFIED_IDENTITY).count();
        assert_eq!(ids, 1, "cut {cut}: identities");
        let mut sorted = taken.clone();
        sorted.sort();
        let mut clean_sorted = clean.clone();
        clean_sorted.sort();
        assert_eq!(sorted, clean_sorted, "cut {cut}: the same messages, none lost");
    }
}
