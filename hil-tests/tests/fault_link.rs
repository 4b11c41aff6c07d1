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
use shikaku_hil::testkit;
use shikaku_host::reader::HostEndpoint;
use shikaku_protocol::auth::PairingKey;
use shikaku_protocol::message::*;
use shikaku_protocol::passcode;

const KEY: [u8; 32] = [0x6C; 32];
const PASSCODE: &[u8; 4] = b"4821";

type Script = Vec<(u64, Event<'static>)>;

fn face_script() -> Script {
    vec![
        // The face engine's answer is ready before the attempt starts (the reader asks it
        // when the patient chooses face).
        (1_500, Event::Face(FaceReply { decision: FaceDecision::Match, score_milli: 910 })),
        (2_000, Event::CardPresent),
        (3_000, Event::Key(Key::ChooseFace)),
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
/// The host provisions the staff passcode on every secured link.
fn run(script: Script, cut: Option<usize>) -> Run {
    let mut reader = SimReader::new(KEY, "SK-FAULT-LINK");
    let mut host = HostEndpoint::new(Some(PairingKey(KEY)), [0; 16]);
    let salt = *b"fault link salt!";
    let hash = passcode::hash(PASSCODE, &salt, 10_000);
    let r = testkit::run_cut_pipe(&mut reader, &mut host, script, cut, 40_000, true, |host| {
        host.send(&Message::PasscodeProvision { account: "uketsuke-01", salt, iterations: 10_000, hash })
            .unwrap();
    });
    assert!(r.script_done, "cut {cut:?}: the script did not run to its end");
    assert_eq!(reader.link.pending(), 0, "cut {cut:?}: messages left unacknowledged");
    assert_eq!(reader.session.phase(), Phase::Idle, "cut {cut:?}: reader not back in automatic mode");
    assert!(!reader.session.visual_unlocked(), "cut {cut:?}: 目視 left on");
    Run { taken: r.taken, frames: r.frames }
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
