//! What every fault-injection test on the simulated rig asserts.

use std::collections::HashSet;

use shikaku_firmware::session::{Phase, Screen};
use shikaku_hil::rig::{self, Outcome, Scenario};
use shikaku_protocol::message::{msg_type, PinResult};
use shikaku_protocol::Message;

/// Runs a scenario; never a PIN digit in the transcript.
pub(crate) fn run(s: &Scenario) -> Outcome {
    let o = rig::run(s).expect("rig runs");
    for line in &o.transcript {
        assert!(!line.contains("Digit("), "{}: a digit leaked into the transcript: {line}", s.name);
    }
    o
}

/// PIN outcomes the host was told of that spent a try.
pub(crate) fn reported_wrong_pins(o: &Outcome) -> u8 {
    o.host_messages_of(msg_type::PIN_OUTCOME)
        .filter(|m| {
            matches!(m.message(), Message::PinOutcome { result: PinResult::Wrong | PinResult::Locked, .. })
        })
        .count() as u8
}

/// The invariants every faulted run holds; `initial_tries` is the card's PIN counter before,
/// `patient_wrong_pins` the wrong PINs the patient typed in the script.
pub(crate) fn assert_invariants(o: &Outcome, initial_tries: Option<u8>, patient_wrong_pins: u8, what: &str) {
    let ctx = || format!("{what}\n{}", o.transcript.join("\n"));
    // Nothing processed twice by the host, at most one identity.
    let mut seen = HashSet::new();
    for m in &o.host_messages {
        assert!(seen.insert((m.session, m.seq)), "{m:?} processed twice: {}", ctx());
    }
    assert!(o.identities.len() <= 1, "identity forwarded twice: {}", ctx());
    // Whatever the card did, the link delivered every session message and the outbox emptied.
    if let Err(e) = rig::scenarios::delivered(o) {
        panic!("{e}: {}", ctx());
    }
    // A PIN try is spent only by a wrong PIN the patient typed (reported to the host unless
    // the card left with the answer), never by our own error.
    if let (Some(before), Some(after)) = (initial_tries, o.pin_tries_left) {
        let spent = before - after;
        assert!(spent <= patient_wrong_pins, "a PIN try spent by our own error: {}", ctx());
        assert!(reported_wrong_pins(o) <= spent, "a wrong PIN reported but not spent: {}", ctx());
    }
    // Back in automatic mode.
    assert_eq!(o.final_phase, Phase::Idle, "reader not idle: {}", ctx());
    assert!(!o.visual_unlocked, "目視 left on: {}", ctx());
    assert_eq!(o.screens.last().map(|s| s.1), Some(Screen::PlaceCard), "{}", ctx());
    // A result, never lost: an identity or a clear error code.
    assert!(
        o.identities.len() + o.errors.len() >= 1,
        "the host heard neither an identity nor an error: {}",
        ctx()
    );
    for e in &o.errors {
        assert_eq!(e.remedy, e.code.remedy(), "error without its remedy: {}", ctx());
    }
}
