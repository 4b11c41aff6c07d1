//! Security checks on the reader side:
//! - the firmware (reader link + session core) stores a 目視 passcode hash only when it came
//!   over the paired, authenticated link: not from an unpaired reader's plain frame, not as a
//!   plain frame on a secured link, not MAC'd with another key;
//! - a 目視 passcode brute force at the keypad of the simulated rig hits the back-off and the
//!   lock, and the right passcode is refused once locked (the store's own rules are unit-tested
//!   in `firmware/tests/session_scenarios.rs`; this goes through the whole rig and link).

use shikaku_firmware::session::visual::LOCK_AFTER;
use shikaku_firmware::session::{Event, Key, Phase};
use shikaku_hil::rig::{self, Scenario, Step};
use shikaku_hil::sim_reader::SimReader;
use shikaku_host::reader::{HostEndpoint, HostEvent};
use shikaku_protocol::auth::{LinkKeys, PairingKey};
use shikaku_protocol::frame::{self, Header};
use shikaku_protocol::message::msg_type;
use shikaku_protocol::{passcode, Duration, Instant, Link, Message, Role, MAX_FRAME, MAX_PAYLOAD};

const KEY: [u8; 32] = [0x5E; 32];
const SALT: [u8; 16] = *b"security salt 16";

fn provision(hash: &[u8; 32]) -> Message<'_> {
    Message::PasscodeProvision { account: "attacker", salt: SALT, iterations: 10_000, hash: *hash }
}

/// A plain (unauthenticated) frame carrying `msg`, as anyone on the cable can write it.
fn plain(msg: &Message<'_>, seq: u32) -> Vec<u8> {
    let mut payload = vec![0u8; MAX_PAYLOAD];
    let n = msg.encode(&mut payload).expect("encodes");
    let mut buf = vec![0u8; MAX_FRAME];
    let header = Header { msg_type: msg.msg_type(), session: 0, seq };
    let n = frame::emit(&mut buf, &header, &payload[..n], None).expect("frame");
    buf.truncate(n);
    buf
}

/// A frame MAC'd by a secured host-side link that is not the paired one.
fn forged(link: &mut Link, msg: &Message<'_>, seq: u32) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_FRAME];
    let n = link.encode(&mut buf, 0, seq, msg).expect("encodes");
    buf.truncate(n);
    buf
}

/// Typing the passcode at the reader unlocks 目視?
fn unlocks(reader: &mut SimReader, now: Instant) -> bool {
    reader.event(now, Event::Key(Key::Staff));
    for d in b"4821" {
        reader.event(now, Event::Key(Key::Digit(d - b'0')));
    }
    let armed = reader.session.phase() == Phase::VisualArmed;
    reader.event(now, Event::Key(Key::Cancel));
    armed
}

#[test]
fn an_unpaired_reader_refuses_a_passcode_hash() {
    let hash = passcode::hash(b"4821", &SALT, 10_000);
    let mut reader = SimReader::unpaired("SK-SEC-UNPAIRED");
    reader.receive(Instant::from_millis(1_000), &plain(&provision(&hash), 1));
    assert_eq!(reader.session.passcodes().accounts(), 0);
    assert!(!unlocks(&mut reader, Instant::from_millis(2_000)));
}

#[test]
fn a_paired_reader_takes_a_passcode_hash_only_over_the_authenticated_link() {
    let hash = passcode::hash(b"4821", &SALT, 10_000);
    let mut reader = SimReader::new(KEY, "SK-SEC-PAIRED");
    let mut host = HostEndpoint::new(Some(PairingKey(KEY)), [0; 16]);
    host.connect([1; 16]);
    let mut now = Instant::from_millis(1_000);
    let mut secured = false;
    for _ in 0..20 {
        now += Duration::from_millis(10);
        while let Some(b) = host.poll_transmit() {
            reader.receive(now, &b);
        }
        for e in host.receive(&reader.transmit(now)) {
            if let HostEvent::Secured(_) = e {
                secured = true;
                host.send(&Message::TimeSync { unix_ms: 1_795_262_400_000 }).unwrap();
            }
        }
    }
    assert!(secured && reader.link.is_secured());

    // A plain frame slipped onto the secured link (a fake USB device, a man in the middle).
    reader.receive(now, &plain(&provision(&hash), 1));
    // A frame MAC'd with keys derived from another pairing key.
    let mut wrong = Link::new(Role::Host);
    wrong.secure(&LinkKeys::derive(&PairingKey([0xEE; 32]), &[1; 16], &[2; 16]));
    for seq in 1..5 {
        reader.receive(now, &forged(&mut wrong, &provision(&hash), seq));
    }
    assert_eq!(reader.session.passcodes().accounts(), 0, "a forged provisioning was taken");
    assert!(!unlocks(&mut reader, now + Duration::from_millis(100)));

    // The same hash over the paired link is taken and unlocks 目視.
    host.send(&provision(&hash)).unwrap();
    while let Some(b) = host.poll_transmit() {
        reader.receive(now + Duration::from_millis(200), &b);
    }
    assert_eq!(reader.session.passcodes().accounts(), 1);
    assert!(unlocks(&mut reader, now + Duration::from_millis(300)));
}

#[test]
fn passcode_brute_force_on_the_rig_hits_back_off_and_lock() {
    // Staff key and four digits every 6 s for 150 guesses (15 minutes), none right; then the
    // right one.
    let mut s = Scenario::new("visual-brute-force", "yamada");
    let mut t = 1_000;
    for guess in 0..150u32 {
        s = s.at(t, Step::Key(Key::Staff)).digits(t + 100, &format!("{:04}", 9_000 + guess));
        t += 6_000;
    }
    s = s.at(t, Step::Key(Key::Staff)).digits(t + 100, rig::STAFF_PASSCODE);
    let o = rig::run(&s).expect("rig runs");
    // `locked_for_ms` of each VisualUnlockFailed the host received.
    let failures: Vec<u32> = o
        .host_messages_of(msg_type::VISUAL_UNLOCK_FAILED)
        .map(|m| match m.message() {
            Message::VisualUnlockFailed { locked_for_ms, .. } => locked_for_ms,
            other => unreachable!("{other:?}"),
        })
        .collect();
    // Only checked guesses are reported; at most LOCK_AFTER of them were ever checked.
    assert!(!failures.is_empty(), "{}", o.transcript.join("\n"));
    assert!(failures.len() <= usize::from(LOCK_AFTER), "{} checked: {failures:?}", failures.len());
    // Back-off: some report a wait, and the last says locked for good.
    assert!(failures.iter().any(|&ms| ms != 0), "no back-off: {failures:?}");
    assert_eq!(failures.last(), Some(&u32::MAX), "{failures:?}");
    // The right passcode after the lock does not open 目視; the reader is in automatic mode.
    assert!(!o.host_types().contains(&msg_type::VISUAL_MODE_STARTED), "{}", o.transcript.join("\n"));
    assert!(!o.visual_unlocked);
    assert_eq!(o.final_phase, Phase::Idle);
    for line in &o.transcript {
        assert!(!line.contains("Digit("), "a digit leaked into the transcript: {line}");
    }
}
