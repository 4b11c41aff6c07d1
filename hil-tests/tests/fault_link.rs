//! Fault injection on the reader ↔ host link (virtual time): the firmware's session core and
//! reader link against the host driver's endpoint, the byte pipe cut — everything in flight
//! lost, both sides reconnecting with fresh hello nonces — at every frame of a face reception
//! and of a 目視 reception (staff passcode provisioned over the link, unlocked at the reader,
//! photo checked). `link_session.rs` does the same for the PIN flow; `app_e2e.rs` pulls the
//! cable under the whole host App (journal, face folder).
//!
//! After every cut: each message taken once, none lost (the same set as the clean run), exactly
//! one verified identity, nothing left unacknowledged, and the reader back in automatic mode
//! (`Phase::Idle`, 目視 off).

use shikaku_firmware::session::{Event, FaceReply, Key, Phase};
use shikaku_hil::sim_reader::SimReader;
use shikaku_host::reader::{HostEndpoint, HostEvent};
use shikaku_protocol::auth::PairingKey;
use shikaku_protocol::message::*;
use shikaku_protocol::passcode;

const KEY: [u8; 32] = [0x6C; 32];
const NOW_UNIX_MS: u64 = 1_795_262_400_000;
const PASSCODE: &[u8; 4] = b"4821";

type Script = Vec<(u64, Event<'static>)>;

fn face_script() -> Script {
    vec![
        (2_000, Event::CardPresent),
        (3_000, Event::Key(Key::ChooseFace)),
        (4_500, Event::Face(FaceReply { decision: FaceDecision::Match, score_milli: 910 })),
        (6_000, Event::Key(Key::Yes)),
        (9_000, Event::CardRemoved),
    ]
}

fn visual_script() -> Script {
    let mut s = vec![(2_000, Event::Key(Key::Staff))];
    for (i, d) in PASSCODE.iter().enumerate() {
        s.push((2_200 + 100 * i as u64, Event::Key(Key::Digit(d - b'0'))));
    }
    s.extend([
        (4_000, Event::CardPresent),
        (6_000, Event::Key(Key::Yes)),
        (7_000, Event::Key(Key::Yes)),
        (10_000, Event::CardRemoved),
    ]);
    s
}

struct Run {
    /// (session, seq, type) of every message the host took.
    taken: Vec<(u32, u32, u8)>,
    frames: usize,
}

/// Runs `script`; the pipe loses everything in flight at frame `cut` (counted both ways).
fn run(script: Script, cut: Option<usize>) -> Run {
    let mut reader = SimReader::new(KEY, "SK-FAULT-LINK");
    let mut host = HostEndpoint::new(Some(PairingKey(KEY)), [0; 16]);
    let mut taken = Vec::new();
    let mut now = 1_000u64;
    let mut frames_seen = 0usize;
    let mut connection = 0u8;
    let mut script = script.into_iter().peekable();
    let salt = *b"fault link salt!";
    let hash = passcode::hash(PASSCODE, &salt, 1_000);
    host.connect([connection; 16]);
    while now < 40_000 {
        now += 50;
        // A step waits for a secured link and a synced clock, as a patient waits for the screen.
        if reader.link.is_secured() && reader.session.clock_synced() {
            while script.peek().is_some_and(|(t, _)| *t <= now) {
                let (_, e) = script.next().unwrap();
                reader.event(now, e);
            }
        }
        reader.event(now, Event::Tick);
        let mut h2r = Vec::new();
        while let Some(b) = host.poll_transmit() {
            h2r.extend(b);
        }
        let r2h = reader.transmit(now);
        let frames = usize::from(!h2r.is_empty()) + usize::from(!r2h.is_empty());
        if cut.is_some_and(|c| frames_seen < c + 1 && c < frames_seen + frames) {
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
                    host.send(&Message::PasscodeProvision {
                        account: "uketsuke-01",
                        salt,
                        iterations: 1_000,
                        hash,
                    })
                    .unwrap();
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
    assert!(script.peek().is_none(), "cut {cut:?}: the script did not run to its end");
    assert_eq!(reader.link.pending(), 0, "cut {cut:?}: messages left unacknowledged");
    assert_eq!(reader.session.phase(), Phase::Idle, "cut {cut:?}: reader not back in automatic mode");
    assert!(!reader.session.visual_unlocked(), "cut {cut:?}: 目視 left on");
    Run { taken, frames: frames_seen }
}

fn sweep(make: fn() -> Script, method_results: &[u8]) -> usize {
    let clean = run(make(), None);
    let types: Vec<u8> = clean.taken.iter().map(|t| t.2).collect();
    for t in method_results {
        assert!(types.contains(t), "clean run lacks {t}: {types:?}");
    }
    let mut clean_sorted = clean.taken.clone();
    clean_sorted.sort();
    for cut in 0..clean.frames {
        let r = run(make(), Some(cut));
        let mut keys: Vec<(u32, u32)> = r.taken.iter().map(|t| (t.0, t.1)).collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n, "cut {cut}: a message was taken twice");
        let ids = r.taken.iter().filter(|t| t.2 == msg_type::VERIFIED_IDENTITY).count();
        assert_eq!(ids, 1, "cut {cut}: identities");
        let mut sorted = r.taken.clone();
        sorted.sort();
        assert_eq!(sorted, clean_sorted, "cut {cut}: the same messages, none lost");
    }
    clean.frames
}

#[test]
fn face_reception_survives_a_cut_at_every_frame() {
    use msg_type::*;
    let frames = sweep(face_script, &[FACE_OUTCOME, CONSENT_ANSWERS, VERIFIED_IDENTITY, CARD_REMOVED]);
    assert!(frames >= 10, "{frames}");
}

#[test]
fn visual_check_reception_survives_a_cut_at_every_frame() {
    use msg_type::*;
    let frames = sweep(visual_script, &[VISUAL_MODE_STARTED, VERIFIED_IDENTITY, VISUAL_MODE_STOPPED]);
    assert!(frames >= 10, "{frames}");
}
