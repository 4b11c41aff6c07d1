//! Pairing mode on the reader: only staff at the keypad open it (the Staff key twice, then a
//! staff passcode; the keys alone while no account exists), it ends by itself, and a pairing
//! code is kept only when staff press Yes. Nothing from the host opens, extends or confirms it.

mod common;

use common::session::*;
use shikaku_firmware::session::{Event, Key, PairingStep, Phase, Screen};
use shikaku_protocol::message::{CardKind, Message, PasscodeOutcome};
use shikaku_protocol::Duration;

fn provision(r: &mut Rig, account: &str, passcode: &[u8; 4]) {
    let salt = [0x42; 16];
    let hash = shikaku_protocol::passcode::hash(passcode, &salt, 10_000);
    let out = r.host(Message::PasscodeProvision { account, salt, iterations: 10_000, hash });
    assert!(out.contains(&Out::PasscodeResult(account.into(), PasscodeOutcome::Stored)));
}

fn pairing_steps(out: &[Out]) -> Vec<PairingStep> {
    out.iter().filter_map(|o| if let Out::Pairing(p) = o { Some(*p) } else { None }).collect()
}

#[test]
fn without_a_staff_account_the_staff_key_twice_opens_pairing_mode_for_two_minutes() {
    let mut r = Rig::new();
    r.key(Key::Staff);
    let out = r.key(Key::Staff);
    let until = r.now + Duration::from_secs(120);
    assert_eq!(pairing_steps(&out), [PairingStep::Open { until }]);
    assert_eq!(Rig::screens(&out), [Screen::PairingOpen]);
    assert_eq!(r.s.phase(), Phase::Pairing);
    // Two minutes later it closes by itself.
    let out = r.advance(120_000);
    assert_eq!(pairing_steps(&out), [PairingStep::Close]);
    assert_eq!(r.s.phase(), Phase::Idle);
}

#[test]
fn with_staff_accounts_pairing_mode_needs_a_staff_passcode() {
    let mut r = Rig::new();
    provision(&mut r, "staff-sato", b"4821");
    r.key(Key::Staff);
    let out = r.key(Key::Staff);
    assert_eq!(Rig::screens(&out), [Screen::PairingPasscode { entered: 0 }]);
    assert!(pairing_steps(&out).is_empty());
    // A wrong passcode: no pairing mode, and it counts as a failed try.
    let out = r.digits(&[1, 1, 1, 1]);
    assert!(pairing_steps(&out).is_empty(), "{out:?}");
    assert!(out.contains(&Out::SaveLockout(1)), "the failure is kept: {out:?}");
    let out = r.digits(&[4, 8, 2, 1]);
    let until = r.now + Duration::from_secs(120);
    assert_eq!(pairing_steps(&out), [PairingStep::Open { until }]);
    assert!(out.contains(&Out::SaveLockout(0)));
    // The right passcode for pairing does not unlock 目視.
    assert!(!r.s.visual_unlocked());
}

#[test]
fn a_code_is_kept_only_when_staff_press_yes() {
    let mut r = Rig::new();
    r.key(Key::Staff);
    r.key(Key::Staff);
    let out = r.ev(Event::PairingCode { code: 42_917 });
    assert_eq!(Rig::screens(&out), [Screen::PairingCode { code: 42_917 }]);
    assert_eq!(r.s.phase(), Phase::PairingConfirm);
    // Keys other than Yes/Enter and No/Cancel do nothing.
    for k in [Key::Digit(4), Key::Skip, Key::Staff] {
        assert!(pairing_steps(&r.key(k)).is_empty());
        assert_eq!(r.s.phase(), Phase::PairingConfirm);
    }
    let out = r.key(Key::Yes);
    assert_eq!(pairing_steps(&out), [PairingStep::Accept]);
    assert_eq!(Rig::screens(&out), [Screen::PairingDone]);
    assert_eq!(r.s.phase(), Phase::Idle);
}

#[test]
fn no_or_silence_rejects_the_code() {
    let mut r = Rig::new();
    r.key(Key::Staff);
    r.key(Key::Staff);
    r.ev(Event::PairingCode { code: 1 });
    let out = r.key(Key::No);
    assert_eq!(pairing_steps(&out), [PairingStep::Reject, PairingStep::Close]);

    r.key(Key::Staff);
    r.key(Key::Staff);
    r.ev(Event::PairingCode { code: 2 });
    let out = r.advance(60_000);
    assert_eq!(pairing_steps(&out), [PairingStep::Close], "the input timeout ends it");
    assert_eq!(r.s.phase(), Phase::Idle);
}

#[test]
fn a_pairing_code_nobody_asked_for_mid_reception_is_rejected() {
    let mut r = Rig::with_challenge();
    r.place(CardKind::PhysicalCard, valid_until_2030(), shikaku_firmware::session::PinState::TriesLeft(3));
    let phase = r.s.phase();
    let out = r.ev(Event::PairingCode { code: 7 });
    assert_eq!(pairing_steps(&out), [PairingStep::Reject]);
    assert_eq!(r.s.phase(), phase, "the reception goes on");
    assert!(Rig::screens(&out).is_empty());
}

#[test]
fn nothing_from_the_host_opens_pairing_mode() {
    let mut r = Rig::new();
    // Every host message the session takes, in Idle: none opens pairing mode.
    for m in [
        Message::Cancel { reason: shikaku_protocol::message::CancelReason::Host },
        Message::HostChallenge { challenge: [1; 32] },
        Message::RegistrationStatus { registered: true },
        Message::TimeSync { unix_ms: NOW_UNIX_MS },
    ] {
        let out = r.host(m);
        assert!(pairing_steps(&out).is_empty());
        assert_eq!(r.s.phase(), Phase::Idle);
    }
}
