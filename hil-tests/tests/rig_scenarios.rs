//! Complete receptions on the simulated rig, through the full stack: session core → card-op
//! driver → JPKI client → ISO 7816-4 → ISO 14443-4 → Type B → simulated air → virtual card, and
//! session core → the shipping `ReaderEndpoint` (handshake, exactly-once outbox) → MAC'd frames →
//! byte pipe → the shipping `HostEndpoint` → host (proof checks, acks after recording).
//!
//! Each test asserts the exact screens, the card operations and the one result (verified
//! identity or error) that reaches the host; every `Expect` check also requires the link to
//! have been secured by the handshake and the reader's outbox to be empty at the end. With
//! `--features shikaku-protocol/broken-endpoint` these tests must fail (see `rig/mod.rs`).

use shikaku_firmware::nfc::iso_dep::IsoDepConfig;
use shikaku_firmware::session::screen::ConsentItem;
use shikaku_firmware::session::{CardFailure, Key, Screen};
use shikaku_hil::rig::scenarios::{self, Expect};
use shikaku_hil::rig::{self, CardAnswer, CardOpRecord as Op, CardReplyRecord, Outcome, Scenario, Step};
use shikaku_hil::sim_frontend::FaultConfig;
use shikaku_protocol::message::msg_type::*;
use shikaku_protocol::message::{
    AuthMethod, CardKind, CertExpiry, ConsentAnswer, ErrorCode, PinResult, Remedy, VisualStopReason,
};
use shikaku_protocol::Message;

fn run(s: &Scenario) -> Outcome {
    let o = rig::run(s).expect("rig runs");
    // Never a PIN or passcode digit in the transcript.
    for line in &o.transcript {
        assert!(!line.contains("Digit("), "a digit leaked into the transcript: {line}");
    }
    o
}

fn screens(o: &Outcome) -> Vec<Screen> {
    o.screens.iter().map(|(_, s)| *s).collect()
}

/// The screens from the idle reader to the method choice, face and PIN offered.
const TO_METHOD: [Screen; 3] =
    [Screen::PlaceCard, Screen::Reading, Screen::ChooseMethod { face: true, pin: true }];

/// The screens after a right PIN: the card signs, the consent, done, idle again.
const PIN_ACCEPTED: [Screen; 4] = [
    Screen::Reading,
    Screen::ConsentIntro,
    Screen::Done { method: AuthMethod::Pin, renewal_needed: false },
    Screen::PlaceCard,
];

/// What the host receives up to the patient's choice of method.
const TO_CHOSEN: [u8; 4] = [CARD_DETECTED, CERTIFICATE_READ, AUTH_MODES_OFFERED, AUTH_MODE_CHOSEN];

const VERIFY_PIN: Op = Op::VerifyPin { last_try_confirmed: false };
const PIN_FLOW: [Op; 3] = [Op::Identify, VERIFY_PIN, Op::SignChallenge];

fn pin_entry(tries_left: u8) -> Vec<Screen> {
    (0..4).map(|entered| Screen::PinEntry { entered, tries_left }).collect()
}

fn assert_identity(o: &Outcome, method: AuthMethod) -> &rig::IdentityRecord {
    if let Err(e) = Expect::Identity(method).check(o) {
        panic!("{}: {e}\n{}", o.name, o.transcript.join("\n"));
    }
    &o.identities[0]
}

fn assert_refused(o: &Outcome, code: ErrorCode) {
    if let Err(e) = Expect::Refused(code).check(o) {
        panic!("{}: {e}\n{}", o.name, o.transcript.join("\n"));
    }
}

#[test]
fn face_ok() {
    let o = run(&scenarios::face_ok());
    let mut expected = TO_METHOD.to_vec();
    expected.extend([
        Screen::FaceInProgress { attempt: 1, max: 3 },
        Screen::ConsentIntro,
        Screen::Done { method: AuthMethod::Face, renewal_needed: false },
        Screen::PlaceCard,
    ]);
    assert_eq!(screens(&o), expected);
    assert_eq!(o.card_ops, [Op::Identify]);
    let id = assert_identity(&o, AuthMethod::Face);
    assert!(!id.card_signed);
    assert_eq!(id.card_kind, CardKind::PhysicalCard);
    assert_eq!(id.consents.comprehensive, ConsentAnswer::Agreed);
    let face_to_end = [FACE_PROGRESS, FACE_OUTCOME, CONSENT_ANSWERS, VERIFIED_IDENTITY, CARD_REMOVED];
    assert_eq!(o.host_types(), [&TO_CHOSEN[..], &face_to_end].concat());
    assert_eq!(o.face_attempts, [1]);
}

#[test]
fn pin_ok() {
    let o = run(&scenarios::pin_ok());
    let mut expected = TO_METHOD.to_vec();
    expected.extend(pin_entry(3));
    expected.extend(PIN_ACCEPTED);
    assert_eq!(screens(&o), expected);
    assert_eq!(o.card_ops, PIN_FLOW);
    assert!(
        matches!(
            &o.card_replies[1..],
            [
                CardAnswer::Reply(CardReplyRecord::PinVerified),
                CardAnswer::Reply(CardReplyRecord::Signed { signature })
            ] if signature.len() == 256
        ),
        "{:?}",
        o.card_replies
    );
    let id = assert_identity(&o, AuthMethod::Pin);
    assert!(id.card_signed, "the card signed the host's challenge");
    assert_eq!(o.pin_tries_left, Some(3));
    let pin_to_end = [PIN_OUTCOME, CONSENT_ANSWERS, VERIFIED_IDENTITY, CARD_REMOVED];
    assert_eq!(o.host_types(), [&TO_CHOSEN[..], &pin_to_end].concat());
}

#[test]
fn pin_locked_then_staff_visual_check_with_the_card_staying() {
    let o = run(&scenarios::pin_locked_visual());
    let mut expected = TO_METHOD.to_vec();
    expected.extend(pin_entry(1));
    expected.extend([Screen::PinConfirmLastTry, Screen::Reading, Screen::PinLocked { face: true }]);
    expected.extend((0..4).map(|entered| Screen::PasscodeEntry { entered }));
    expected.extend([
        Screen::VisualCheck,
        Screen::ConsentIntro,
        Screen::Done { method: AuthMethod::Visual, renewal_needed: false },
        Screen::PlaceCard,
    ]);
    assert_eq!(screens(&o), expected);
    // One card session: the card never left, no second Identify.
    assert_eq!(o.card_ops, [Op::Identify, Op::VerifyPin { last_try_confirmed: true }]);
    assert_eq!(o.card_replies[1], CardAnswer::Reply(CardReplyRecord::PinWrong { tries_left: 0 }));
    let id = assert_identity(&o, AuthMethod::Visual);
    assert_eq!(id.staff_account.as_deref(), Some(rig::STAFF_ACCOUNT));
    // The patient's own wrong last try locked it; nothing else was spent.
    assert_eq!(o.pin_tries_left, Some(0));
    let types = o.host_types();
    assert!(types.contains(&VISUAL_MODE_STARTED));
    assert_eq!(types.last(), Some(&CARD_REMOVED));
    assert!(o
        .host_messages
        .iter()
        .any(|m| matches!(m.message(), Message::VisualModeStopped { reason: VisualStopReason::Completed })));
}

#[test]
fn certificate_expiring_within_three_months() {
    let o = run(&scenarios::cert_expiring());
    let s = screens(&o);
    let Screen::CertExpiringSoon { days_left } = s[2] else { panic!("{s:?}") };
    assert!((55..=62).contains(&days_left), "{days_left}");
    assert_eq!(
        s,
        [
            Screen::PlaceCard,
            Screen::Reading,
            Screen::CertExpiringSoon { days_left },
            Screen::ChooseMethod { face: true, pin: true },
            Screen::FaceInProgress { attempt: 1, max: 3 },
            Screen::ConsentIntro,
            Screen::Done { method: AuthMethod::Face, renewal_needed: true },
            Screen::PlaceCard,
        ]
    );
    assert_eq!(o.card_ops, [Op::Identify]);
    let id = assert_identity(&o, AuthMethod::Face);
    assert_eq!(id.cert_expiry, CertExpiry::DaysLeft(days_left));
    assert!(o.host_types().contains(&CERT_EXPIRY_NOTICE));
}

#[test]
fn certificate_in_grace_is_eligibility_only() {
    let o = run(&scenarios::cert_grace());
    let s = screens(&o);
    let Screen::CertExpiredGrace { days_past } = s[2] else { panic!("{s:?}") };
    assert!((28..=32).contains(&days_past), "{days_past}");
    assert_eq!(
        s,
        [
            Screen::PlaceCard,
            Screen::Reading,
            Screen::CertExpiredGrace { days_past },
            Screen::ChooseMethod { face: true, pin: true },
            Screen::FaceInProgress { attempt: 1, max: 3 },
            Screen::Done { method: AuthMethod::Face, renewal_needed: true },
            Screen::PlaceCard,
        ]
    );
    let id = assert_identity(&o, AuthMethod::Face);
    assert_eq!(id.cert_expiry, CertExpiry::DaysPast(days_past));
    // No consent screens and no consent answers in the grace period.
    assert!(!o.host_types().contains(&CONSENT_ANSWERS));
}

#[test]
fn certificate_expired_past_grace_is_refused_with_the_eligibility_certificate_remedy() {
    let o = run(&scenarios::cert_lapsed());
    let s = screens(&o);
    let Screen::CertExpiredRefused { days_past } = s[2] else { panic!("{s:?}") };
    assert!((195..=205).contains(&days_past), "{days_past}");
    assert_eq!(
        s,
        [Screen::PlaceCard, Screen::Reading, Screen::CertExpiredRefused { days_past }, Screen::PlaceCard]
    );
    assert_eq!(o.card_ops, [Op::Identify]);
    assert_refused(&o, ErrorCode::CERT_EXPIRED_PAST_GRACE);
    assert_eq!(o.errors[0].remedy, Remedy::EligibilityCertificate);
    assert!(Screen::CertExpiredRefused { days_past }.ja().1.contains("資格確認書"));
}

#[test]
fn card_pulled_mid_read() {
    let o = run(&scenarios::card_pulled());
    assert_eq!(screens(&o), [Screen::PlaceCard, Screen::Reading, Screen::PlaceCard]);
    assert_eq!(o.card_ops, [Op::Identify]);
    assert_eq!(o.card_replies, [CardAnswer::Removed]);
    assert_eq!(o.apdus, 7);
    assert_refused(&o, ErrorCode::CARD_REMOVED);
    assert_eq!(o.host_types(), [CARD_REMOVED, ERROR]);
}

#[test]
fn face_fails_three_times_then_pin() {
    let o = run(&scenarios::face_fails_then_pin());
    let mut expected = TO_METHOD.to_vec();
    for attempt in 1..=3 {
        expected.push(Screen::FaceInProgress { attempt, max: 3 });
        if attempt < 3 {
            expected.push(Screen::FaceRetry { attempt, max: 3 });
        }
    }
    expected.push(Screen::FaceFailed { pin: true });
    expected.extend(pin_entry(3));
    expected.extend(PIN_ACCEPTED);
    assert_eq!(screens(&o), expected);
    assert_eq!(o.card_ops, PIN_FLOW);
    assert_eq!(o.face_attempts, [1, 2, 3]);
    assert_identity(&o, AuthMethod::Pin);
}

#[test]
fn pinless_card_offers_face_only() {
    let o = run(&scenarios::pinless_face());
    assert_eq!(screens(&o)[2], Screen::ChooseMethod { face: true, pin: false });
    assert_identity(&o, AuthMethod::Face);
    assert!(o.host_types().contains(&AUTH_MODES_OFFERED));
}

#[test]
fn first_registration() {
    let o = run(&scenarios::first_registration());
    let mut expected = TO_METHOD.to_vec();
    expected.extend([
        Screen::FaceInProgress { attempt: 1, max: 3 },
        Screen::ConsentIntro,
        Screen::RegistrationOffer,
        Screen::Done { method: AuthMethod::Face, renewal_needed: false },
        Screen::PlaceCard,
    ]);
    assert_eq!(screens(&o), expected);
    let id = assert_identity(&o, AuthMethod::Face);
    assert!(id.registration);
}

#[test]
fn consents_one_by_one() {
    let s = Scenario::new("consents-one-by-one", "yamada")
        .at(1_000, Step::Place)
        .at(3_000, Step::Key(Key::ChooseFace))
        .face(&[rig::ReplayFace::matched(900)])
        .keys(6_000, &[Key::No, Key::Yes, Key::No, Key::Skip, Key::Yes])
        .at(13_000, Step::Remove);
    let o = run(&s);
    let consent: Vec<Screen> =
        screens(&o).into_iter().filter(|s| matches!(s, Screen::Consent { .. })).collect();
    let items: Vec<ConsentItem> = consent
        .iter()
        .map(|s| match s {
            Screen::Consent { item, .. } => *item,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(items, ConsentItem::ALL);
    let id = assert_identity(&o, AuthMethod::Face);
    assert_eq!(id.consents.medication, ConsentAnswer::Agreed);
    assert_eq!(id.consents.health_checkup, ConsentAnswer::Declined);
    assert_eq!(id.consents.treatment, ConsentAnswer::Skipped);
    assert_eq!(id.consents.surgery, ConsentAnswer::Agreed);
}

#[test]
fn every_demo_scenario_ends_as_expected() {
    for (s, expect) in scenarios::all() {
        let o = run(&s);
        if let Err(e) = expect.check(&o) {
            panic!("{}: {e}\n{}", s.name, o.transcript.join("\n"));
        }
    }
}

#[test]
fn pin_flow_completes_with_5_percent_rf_errors() {
    for seed in 1..=3 {
        let mut s = scenarios::pin_ok();
        s.name = format!("pin-ok-rf5-seed{seed}");
        s.faults = FaultConfig::rate(seed, 50_000);
        s.iso_dep = IsoDepConfig { max_retries: 5, ..IsoDepConfig::default() };
        let o = run(&s);
        let id = assert_identity(&o, AuthMethod::Pin);
        assert!(id.card_signed);
        assert_eq!(o.card_ops, PIN_FLOW);
        assert_eq!(o.pin_tries_left, Some(3));
        assert!(o.air.dropped + o.air.corrupted > 0, "{}: no fault was injected", s.name);
    }
}

#[test]
fn card_pulled_after_each_apdu_of_the_pin_flow() {
    let full = run(&scenarios::pin_ok());
    let total = full.apdus;
    assert_eq!(total, 19, "Identify 13 + VerifyPin 4 + SignChallenge 2");
    for n in 0..total {
        let mut s = scenarios::pin_ok();
        s.name = format!("pin-ok-pulled-after-{n}");
        s.remove_after_apdus = Some(n);
        let o = run(&s);
        assert!(o.identities.is_empty(), "{}: identity after the card was pulled", s.name);
        assert_eq!(o.apdus, n, "{}", s.name);
        // Our error never costs a try: the typed PIN is right, so the counter stays full.
        assert_eq!(o.pin_tries_left, Some(3), "{}", s.name);
        // One error, the card removal (never a wrong-PIN outcome), and the reader is back idle.
        assert_refused(&o, ErrorCode::CARD_REMOVED);
        assert!(
            !o.host_messages_of(PIN_OUTCOME)
                .any(|m| matches!(m.message(), Message::PinOutcome { result: PinResult::Wrong, .. })),
            "{}",
            s.name
        );
        assert_eq!(o.screens.last().map(|s| s.1), Some(Screen::PlaceCard), "{}", s.name);
    }
}

#[test]
fn card_pulled_while_each_apdu_of_the_pin_flow_is_answered() {
    // The card acts on the command (VERIFY, COMPUTE SIGNATURE, …) but leaves before its answer
    // reaches the reader: nothing half-done is forwarded and no try is lost.
    for n in 0..19 {
        let mut s = scenarios::pin_ok();
        s.name = format!("pin-ok-answer-lost-at-{n}");
        s.remove_after_apdus = Some(n);
        s.pull_swallows_answer = true;
        let o = run(&s);
        assert!(o.identities.is_empty(), "{}: identity after the card was pulled", s.name);
        assert_eq!(o.apdus, n + 1, "{}", s.name);
        assert_eq!(o.pin_tries_left, Some(3), "{}", s.name);
        assert_refused(&o, ErrorCode::CARD_REMOVED);
        assert_eq!(o.screens.last().map(|s| s.1), Some(Screen::PlaceCard), "{}", s.name);
    }
}

#[test]
fn a_pulled_card_placed_again_completes_in_a_new_session() {
    let mut s = scenarios::pin_ok();
    s.remove_after_apdus = Some(15); // during VerifyPin
    let s = s
        .at(20_000, Step::Place)
        .at(22_000, Step::Key(Key::ChoosePin))
        .digits(23_000, "1234")
        .at(28_000, Step::Key(Key::Yes))
        .at(31_000, Step::Remove);
    let o = run(&s);
    assert_eq!(o.identities.len(), 1, "{}", o.transcript.join("\n"));
    assert!(o.identities[0].proof.is_ok());
    assert_eq!(o.errors.len(), 1);
    assert_eq!(o.errors[0].code, ErrorCode::CARD_REMOVED);
    assert_ne!(o.errors[0].session, o.identities[0].session, "a new session after the pull");
    assert_eq!(o.pin_tries_left, Some(3));
}

#[test]
fn results_cross_a_lossy_wire_exactly_once() {
    for mut s in [scenarios::pin_ok(), scenarios::pin_locked_visual()] {
        s.lossy_link = true;
        let o = run(&s);
        assert!(
            o.wire_lost > 0 && o.host_duplicates > 0,
            "{}: lost {} dup {}",
            s.name,
            o.wire_lost,
            o.host_duplicates
        );
        let method = if s.name == "pin-ok" { AuthMethod::Pin } else { AuthMethod::Visual };
        assert_identity(&o, method);
        // Every result reached the host once: no message twice.
        let mut seen = std::collections::HashSet::new();
        for m in &o.host_messages {
            assert!(seen.insert((m.session, m.seq)), "{}: {m:?} processed twice", s.name);
        }
    }
}

#[test]
fn android_pin_on_the_reader() {
    let o = run(&scenarios::android_pin());
    let id = assert_identity(&o, AuthMethod::Pin);
    assert_eq!(id.card_kind, CardKind::Android);
}

#[test]
fn iphone_confirms_on_the_phone() {
    let o = run(&scenarios::iphone());
    let id = assert_identity(&o, AuthMethod::OnDevice);
    assert_eq!(id.card_kind, CardKind::IPhone);
}

#[test]
fn android_reads_the_certificate_only_after_the_pin() {
    // The phone answers 6982 for the certificate before the PIN: the reader identifies the
    // token without it, verifies the PIN in the same selection, then reads and signs.
    let o = run(&scenarios::android_pin());
    assert_eq!(o.card_ops, [Op::Identify, VERIFY_PIN, Op::ReadCertificate, Op::SignChallenge]);
    assert_eq!(o.pin_tries_left, Some(3));
}

#[test]
fn patient_walks_away_and_the_session_times_out() {
    let o = run(&scenarios::walked_away());
    let code = ErrorCode::SESSION_TIMEOUT;
    let mut expected = TO_METHOD.to_vec();
    expected.extend([Screen::Error { code, remedy: code.remedy() }, Screen::PlaceCard]);
    assert_eq!(screens(&o), expected);
    // The input timeout (60 s) after the method screen.
    let (t, _) = o.screens[3];
    assert!((61_000..61_200).contains(&t), "{t}");
    assert_refused(&o, code);
}

#[test]
fn a_card_without_jpki_is_not_a_my_number_card() {
    let o = run(&scenarios::not_my_number_card());
    let code = ErrorCode::NOT_A_MY_NUMBER_CARD;
    assert_eq!(
        screens(&o),
        [
            Screen::PlaceCard,
            Screen::Reading,
            Screen::Error { code, remedy: code.remedy() },
            Screen::PlaceCard
        ]
    );
    assert_eq!(
        o.card_replies,
        [CardAnswer::Reply(CardReplyRecord::Failed { error: CardFailure::NotMyNumberCard })]
    );
    assert_eq!(o.apdus, 1);
    assert_refused(&o, code);
}
