//! A reception while the reception PC is away, with every optional message a reception can
//! send — the certificate expiry notice, three wrong PINs (the last try confirmed, the card's
//! PIN locked), three failed face attempts, then 目視 — fills the reader's outbox several times
//! over. The verified identity still reaches the host exactly once when the cable is back, and
//! so it does with a power cut before that (from the reader's flash).
//!
//! The outbox makes room by letting status and attempt records go (`reader_evicted` > 0
//! shows it had to; status messages with nothing lesser to replace are dropped too); before
//! issue #12 it dropped whatever came last, identity included.

use shikaku_firmware::session::{Key, Screen};
use shikaku_hil::rig::{self, Outcome, ReplayFace, Scenario, Step, STAFF_PASSCODE};
use shikaku_protocol::message::AuthMethod;

fn offline_reception(power_cut: bool) -> Scenario {
    let mut s = Scenario::new(if power_cut { "offline-power-cut" } else { "offline" }, "expiring")
        .at(200, Step::Unplug)
        .at(1_000, Step::Place)
        .at(6_000, Step::Key(Key::ChoosePin))
        .digits(7_000, "1111")
        .digits(12_000, "1111")
        .digits(17_000, "1111")
        .at(21_000, Step::Key(Key::Yes))
        .at(23_000, Step::Key(Key::ChooseFace))
        .face(&[ReplayFace::no_match(401), ReplayFace::no_match(388), ReplayFace::no_match(415)])
        .at(30_000, Step::Key(Key::Staff))
        .digits(31_000, STAFF_PASSCODE)
        .at(36_000, Step::Key(Key::Yes))
        .at(37_000, Step::Key(Key::Yes))
        .at(40_000, Step::Remove)
        .at(45_000, Step::Plug);
    if power_cut {
        s = s.at(42_000, Step::PowerCut);
    }
    s.host_preissues_challenge = true;
    s
}

fn check(o: &Outcome) {
    let t = o.transcript.join("\n");
    for screen in
        [Screen::CertExpiringSoon { days_left: 60 }, Screen::PinLocked { face: true }, Screen::VisualCheck]
    {
        assert!(
            o.screens.iter().any(|(_, s)| std::mem::discriminant(s) == std::mem::discriminant(&screen)),
            "{screen:?} missing\n{t}"
        );
    }
    assert!(o.screens.iter().any(|(_, s)| matches!(s, Screen::Done { .. })), "{t}");
    assert_eq!(o.face_attempts, [1, 2, 3], "{t}");
    assert_eq!(o.pin_tries_left, Some(0), "three wrong PINs locked the card");
    assert!(o.reader_evicted > 0, "the outbox overflowed while the PC was away\n{t}");
    // What came back: the link secured again, nothing left unacknowledged, one identity.
    assert!(o.link_secured, "{t}");
    assert_eq!(o.reader_unacked, 0, "{t}");
    assert_eq!(o.identities.len(), 1, "exactly once\n{t}");
    assert_eq!(o.identities[0].method, AuthMethod::Visual);
    assert_eq!(o.identities[0].proof, Ok(()), "{t}");
}

#[test]
fn an_offline_reception_with_every_optional_message_delivers_its_identity_exactly_once() {
    let o = rig::run(&offline_reception(false)).unwrap();
    check(&o);
    assert_eq!(o.reboots, 0);
}

#[test]
fn and_so_it_does_across_a_power_cut_before_the_pc_is_back() {
    let o = rig::run(&offline_reception(true)).unwrap();
    check(&o);
    assert_eq!(o.reboots, 1);
    assert_eq!(o.storage_failures, 0);
}
