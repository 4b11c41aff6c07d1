//! Ten thousand guesses at the 目視 passcode on the reader's own keypad — every 4-digit code,
//! the right one last — are stopped by the back-off and the lock-out, and a power cut in the
//! middle does not reset them: the failure count is in the reader's flash.
//!
//! Without the failure count kept across the restart, the reader would come back unlocked and
//! take the right code at the end: this test fails then.

use shikaku_firmware::session::visual::LOCK_AFTER;
use shikaku_firmware::session::{Key, Screen};
use shikaku_hil::rig::{self, Scenario, Step, STAFF_PASSCODE};
use shikaku_protocol::message::{msg_type, Message};

#[test]
fn ten_thousand_passcode_guesses_are_stopped_by_a_lock_out_that_survives_a_power_cut() {
    let real: u32 = STAFF_PASSCODE.parse().unwrap();
    let guesses: Vec<u32> = (0..10_000).filter(|g| *g != real).chain([real]).collect();
    let mut s = Scenario::new("passcode-brute-force", "yamada");
    let mut t = 1_000;
    let mut cut_at = None;
    for (i, g) in guesses.iter().enumerate() {
        if i == 8_000 {
            s = s.at(t, Step::PowerCut);
            cut_at = Some(t);
            t += 500;
        }
        s = s.at(t, Step::Key(Key::Staff));
        for (k, d) in format!("{g:04}").bytes().enumerate() {
            s = s.at(t + 10 * (k as u64 + 1), Step::Key(Key::Digit(d - b'0')));
        }
        s = s.at(t + 50, Step::Key(Key::Cancel));
        t += 100;
    }
    let o = rig::run(&s).unwrap();
    let cut_at = cut_at.unwrap();
    assert_eq!(o.reboots, 1);
    assert!(!o.host_messages_of(msg_type::VISUAL_MODE_STARTED).any(|_| true), "a guess unlocked 目視");
    // Only a handful of guesses were ever checked: the back-off, then the lock.
    let failures: Vec<u8> = o
        .host_messages_of(msg_type::VISUAL_UNLOCK_FAILED)
        .filter_map(|m| match m.message() {
            Message::VisualUnlockFailed { failures, .. } => Some(failures),
            _ => None,
        })
        .collect();
    assert!(failures.len() <= usize::from(LOCK_AFTER), "{} guesses checked", failures.len());
    assert_eq!(failures.last(), Some(&LOCK_AFTER), "the lock was reached: {failures:?}");
    // After the power cut the reader is still locked: the Staff key shows the lock at once.
    let after: Vec<&Screen> = o.screens.iter().filter(|(at, _)| *at > cut_at).map(|(_, s)| s).collect();
    assert!(after.contains(&&Screen::PasscodeLocked), "locked after the restart");
    assert!(
        !after.iter().any(|s| matches!(s, Screen::PasscodeEntry { .. })),
        "no passcode entry after the restart"
    );
}
