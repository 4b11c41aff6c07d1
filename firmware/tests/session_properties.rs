//! Random event sequences against the session core: it never panics, a PIN never leaves
//! except in a VERIFY to the card, the last try is never sent unconfirmed, and no session
//! emits two verified identities.

mod common;

use common::session::*;
use proptest::prelude::*;
use shikaku_firmware::session::{CardFailure, CardReply, Event, FaceReply, Key, Phase, PinState};
use shikaku_protocol::message::{CancelReason, CardKind, FaceDecision, Message};

#[derive(Debug, Clone)]
enum Step {
    CardPresent,
    CardRemoved,
    Identified {
        kind: u8,
        not_after_days: i16,
        tries: u8,
    },
    PinVerified,
    PinWrong(u8),
    PinLocked,
    Signed,
    Failed,
    Key(u8),
    /// Four PIN digits in a row.
    TypePin,
    Face(u8),
    Challenge,
    Registered(bool),
    Cancel,
    Provision,
    Advance(u32),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::CardPresent),
        Just(Step::CardRemoved),
        (0u8..5, -200i16..400, 0u8..4).prop_map(|(kind, not_after_days, tries)| Step::Identified {
            kind,
            not_after_days,
            tries
        }),
        Just(Step::PinVerified),
        (0u8..3).prop_map(Step::PinWrong),
        Just(Step::PinLocked),
        Just(Step::Signed),
        Just(Step::Failed),
        (0u8..20).prop_map(Step::Key),
        (0u8..20).prop_map(Step::Key),
        (13u8..17).prop_map(Step::Key),
        (13u8..17).prop_map(Step::Key),
        Just(Step::TypePin),
        Just(Step::TypePin),
        Just(Step::CardPresent),
        (0u8..4).prop_map(Step::Face),
        Just(Step::Challenge),
        any::<bool>().prop_map(Step::Registered),
        Just(Step::Cancel),
        Just(Step::Provision),
        (0u32..130_000).prop_map(Step::Advance),
    ]
}

fn key(k: u8) -> Key {
    match k {
        0..=9 => Key::Digit([7, 3, 1, 9, 7, 3, 1, 9, 2, 4][k as usize]),
        _ => Key::from_code(k).unwrap_or(Key::Skip),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]
    #[test]
    fn random_event_sequences_keep_the_invariants(steps in prop::collection::vec(step(), 1..120)) {
        let mut r = Rig::with_challenge();
        let cert = vec![0xAAu8; 1200];
        let sig = [0x5Au8; 256];
        // The card's tries left as last told to the core, to check the last-try rule.
        let mut tries_told: Option<u8> = None;
        for s in steps {
            let before = r.log.len();
            // Replies count only when the core asked for them; stray ones are ignored by it.
            let phase = r.s.phase();
            let verifying = phase == Phase::VerifyingPin;
            match s {
                Step::CardPresent => { r.ev(Event::CardPresent); }
                Step::CardRemoved => { r.ev(Event::CardRemoved); }
                Step::Identified { kind, not_after_days, tries } => {
                    let kind = [CardKind::PhysicalCard, CardKind::Android, CardKind::IPhone, CardKind::PinlessCard, CardKind::Unknown][kind as usize];
                    let pin = if tries == 0 { PinState::Unavailable } else { PinState::TriesLeft(tries) };
                    if phase == Phase::Identifying {
                        tries_told = Some(tries);
                    }
                    let not_after = (NOW_UNIX_MS / 1000) as i64 + i64::from(not_after_days) * DAY_S;
                    r.ev(Event::Card(CardReply::Identified { kind, auth_cert: &cert, not_after_unix_s: not_after, pin }));
                }
                Step::PinVerified => { r.ev(Event::Card(CardReply::PinVerified)); }
                Step::PinWrong(t) => { if verifying { tries_told = Some(t) } r.ev(Event::Card(CardReply::PinWrong { tries_left: t })); }
                Step::PinLocked => { if verifying { tries_told = Some(0) } r.ev(Event::Card(CardReply::PinLocked)); }
                Step::Signed => { r.ev(Event::Card(CardReply::Signed { signature: &sig })); }
                Step::Failed => { r.ev(Event::Card(CardReply::Failed { error: CardFailure::Lost })); }
                Step::Key(k) => { r.key(key(k)); }
                Step::TypePin => { r.digits(&[7, 3, 1, 9]); }
                Step::Face(d) => {
                    let decision = [FaceDecision::Match, FaceDecision::NoMatch, FaceDecision::LivenessFailed, FaceDecision::NoFace][d as usize];
                    r.ev(Event::Face(FaceReply { decision, score_milli: 500 }));
                }
                Step::Challenge => { r.host(Message::HostChallenge { challenge: [9; 32] }); }
                Step::Registered(b) => { r.host(Message::RegistrationStatus { registered: b }); }
                Step::Cancel => { r.host(Message::Cancel { reason: CancelReason::Staff }); }
                Step::Provision => {
                    // Hashed once for all cases: PBKDF2 at the reader's minimum iterations.
                    static HASH: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
                    let salt = [3; 16];
                    let hash = *HASH.get_or_init(|| shikaku_protocol::passcode::hash(b"7319", &salt, 10_000));
                    r.host(Message::PasscodeProvision { account: "staff-x", salt, iterations: 10_000, hash });
                }
                Step::Advance(ms) => { r.advance(u64::from(ms)); }
            }
            // The last-try rule: a VERIFY at one (or zero) try left only when confirmed.
            for o in &r.log[before..] {
                if let Out::Card(c) = o {
                    if c.starts_with("VerifyPin") && tries_told.is_some_and(|t| t <= 1) {
                        prop_assert!(c.ends_with("confirmed=true)"), "unconfirmed last try: {c}");
                    }
                    prop_assert!(!c.contains("7319") && !c.contains("7, 3, 1, 9"), "PIN digits in a card op log: {c}");
                }
            }
        }
        // No PIN digits (ASCII or raw keypad values) in anything sent to the host.
        for w in &r.wire {
            prop_assert!(!w.windows(4).any(|x| x == b"7319"), "ASCII PIN on the link");
            prop_assert!(!w.windows(4).any(|x| x == [7, 3, 1, 9]), "raw PIN on the link");
        }
        // At most one verified identity per session id.
        let mut sessions: Vec<u32> = r.identities.iter().map(|(s, _)| *s).collect();
        let n = sessions.len();
        sessions.sort();
        sessions.dedup();
        prop_assert_eq!(sessions.len(), n, "two identities in one session");
        // Screens never carry digits beyond counts: Debug of every screen lacks the PIN.
        for o in &r.log {
            if let Out::Screen(screen) = o {
                let shown = format!("{screen:?}");
                prop_assert!(!shown.contains("7319"));
            }
        }
    }
}
