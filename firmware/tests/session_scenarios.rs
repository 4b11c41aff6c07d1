//! One scenario per branch of the reception flow, in virtual time: the exact screens, card
//! operations and host messages, and the single message that matters to the host.

mod common;

use common::session::*;
use shikaku_firmware::session::{ConsentItem, Key, Outgoing, Phase, PinState, Screen};
use shikaku_protocol::auth::{reader_attestation, PairingKey};
use shikaku_protocol::message::*;
use shikaku_protocol::Duration;

fn ids(r: &Rig) -> usize {
    r.all_hosts().iter().filter(|h| **h == Outgoing::VerifiedIdentity).count()
}

fn comprehensive() -> Consents {
    Consents { comprehensive: ConsentAnswer::Agreed, ..Consents::NONE }
}

#[test]
fn pin_ok_with_comprehensive_consent() {
    let mut r = Rig::with_challenge();
    let out = r.place(CardKind::PhysicalCard, valid_until_2030(), PinState::TriesLeft(3));
    assert_eq!(Rig::cards(&out), vec!["Identify"]);
    assert_eq!(Rig::screens(&out), vec![Screen::Reading, Screen::ChooseMethod { face: true, pin: true }]);
    let face_and_pin = AuthModes::EMPTY.with(AuthMethod::Face).with(AuthMethod::Pin);
    assert_eq!(
        Rig::hosts(&out),
        vec![
            Outgoing::CardDetected { kind: CardKind::PhysicalCard },
            Outgoing::CertificateRead,
            Outgoing::AuthModesOffered { modes: face_and_pin }
        ]
    );
    let out = r.key(Key::ChoosePin);
    assert_eq!(Rig::screens(&out), vec![Screen::PinEntry { entered: 0, tries_left: 3 }]);
    let out = r.digits(&[7, 3, 1, 9]);
    assert_eq!(
        Rig::screens(&out),
        vec![
            Screen::PinEntry { entered: 1, tries_left: 3 },
            Screen::PinEntry { entered: 2, tries_left: 3 },
            Screen::PinEntry { entered: 3, tries_left: 3 },
            Screen::Reading
        ]
    );
    assert_eq!(Rig::cards(&out), vec!["VerifyPin(Pin4(****), confirmed=false)"]);
    assert_eq!(Rig::hosts(&out), vec![Outgoing::AuthModeChosen { method: AuthMethod::Pin }]);
    let out = r.ev(shikaku_firmware::session::Event::Card(shikaku_firmware::session::CardReply::PinVerified));
    assert_eq!(Rig::cards(&out), vec!["Sign(c5)"]);
    assert_eq!(Rig::hosts(&out), vec![Outgoing::PinOutcome { result: PinResult::Verified, tries_left: 3 }]);
    let sig = [0x5A; 256];
    let out = r.ev(shikaku_firmware::session::Event::Card(shikaku_firmware::session::CardReply::Signed {
        signature: &sig,
    }));
    assert_eq!(Rig::screens(&out), vec![Screen::ConsentIntro]);
    let out = r.key(Key::Yes);
    assert_eq!(
        Rig::hosts(&out),
        vec![Outgoing::ConsentAnswers { consents: comprehensive() }, Outgoing::VerifiedIdentity]
    );
    assert_eq!(Rig::screens(&out), vec![Screen::Done { method: AuthMethod::Pin, renewal_needed: false }]);
    let Message::VerifiedIdentity(v) = r.identity() else { panic!() };
    assert_eq!(v.method, AuthMethod::Pin);
    assert_eq!(v.auth_cert, &r.cert[..]);
    assert_eq!(v.proof, Proof::CardSignature { challenge: CHALLENGE, signature: &sig });
    assert_eq!(v.consents, comprehensive());
    assert_eq!(v.staff_account, None);
    assert!(!v.registration);
    assert!(v.card_detected_at >= NOW_UNIX_MS && v.verified_at >= v.card_detected_at);
    assert_eq!(r.s.phase(), Phase::Finished);
    let out = r.ev(shikaku_firmware::session::Event::CardRemoved);
    assert_eq!(Rig::hosts(&out), vec![Outgoing::CardRemoved]);
    assert_eq!(Rig::screens(&out), vec![Screen::PlaceCard]);
    assert_eq!(r.s.phase(), Phase::Idle);
}

#[test]
fn face_ok_after_one_miss_with_individual_consents() {
    let mut r = Rig::with_challenge();
    r.place(CardKind::PhysicalCard, valid_until_2030(), PinState::TriesLeft(3));
    let out = r.key(Key::ChooseFace);
    assert_eq!(out.iter().filter(|o| matches!(o, Out::Face(1))).count(), 1);
    assert_eq!(Rig::screens(&out), vec![Screen::FaceInProgress { attempt: 1, max: 3 }]);
    let out = r.face(FaceDecision::NoMatch, 420);
    assert_eq!(
        Rig::hosts(&out),
        vec![
            Outgoing::FaceOutcome { decision: FaceDecision::NoMatch, score_milli: 420, attempts: 1 },
            Outgoing::FaceProgress { stage: FaceStage::Capturing, attempt: 2 }
        ]
    );
    assert!(out.contains(&Out::Wipe), "images wiped after every attempt");
    assert_eq!(
        Rig::screens(&out),
        vec![Screen::FaceRetry { attempt: 1, max: 3 }, Screen::FaceInProgress { attempt: 2, max: 3 }]
    );
    r.face(FaceDecision::Match, 910);
    let out = r.key(Key::No);
    assert_eq!(Rig::screens(&out), vec![Screen::Consent { item: ConsentItem::Medication, index: 0 }]);
    r.key(Key::Yes);
    r.key(Key::No);
    r.key(Key::Skip);
    let out = r.key(Key::Yes);
    let consents = Consents {
        medication: ConsentAnswer::Agreed,
        health_checkup: ConsentAnswer::Declined,
        treatment: ConsentAnswer::Skipped,
        surgery: ConsentAnswer::Agreed,
        comprehensive: ConsentAnswer::NotAsked,
    };
    assert_eq!(Rig::hosts(&out), vec![Outgoing::ConsentAnswers { consents }, Outgoing::VerifiedIdentity]);
    let Message::VerifiedIdentity(v) = r.identity() else { panic!() };
    assert_eq!(v.method, AuthMethod::Face);
    let Proof::ReaderAttestation { challenge, attestation } = v.proof else { panic!("face: reader attests") };
    assert_eq!(challenge, CHALLENGE);
    let want = reader_attestation(
        &PairingKey(PAIRING),
        &CHALLENGE,
        &r.cert,
        AuthMethod::Face as u8,
        None,
        v.verified_at,
    );
    assert_eq!(attestation, &want[..]);
    // A reader with another pairing key would attest differently.
    assert_ne!(
        attestation,
        &reader_attestation(&PairingKey([0; 32]), &CHALLENGE, &r.cert, 1, None, v.verified_at)[..]
    );
}

#[test]
fn face_cap_offers_pin_and_staff_then_pin_works() {
    let mut r = Rig::with_challenge();
    r.place(CardKind::PhysicalCard, valid_until_2030(), PinState::TriesLeft(3));
    r.key(Key::ChooseFace);
    r.face(FaceDecision::NoMatch, 100);
    r.face(FaceDecision::LivenessFailed, 0);
    let out = r.face(FaceDecision::NoMatch, 300);
    assert_eq!(Rig::screens(&out), vec![Screen::FaceFailed { pin: true }]);
    assert!(!out.iter().any(|o| matches!(o, Out::Face(_))), "no fourth attempt");
    let out = r.key(Key::ChooseFace);
    assert!(out.is_empty(), "face is closed after the cap");
    let out = r.key(Key::ChoosePin);
    assert_eq!(Rig::screens(&out), vec![Screen::PinEntry { entered: 0, tries_left: 3 }]);
}

#[test]
fn an_unreadable_card_front_goes_straight_to_pin_or_staff() {
    let mut r = Rig::with_challenge();
    r.place(CardKind::PhysicalCard, valid_until_2030(), PinState::TriesLeft(3));
    r.key(Key::ChooseFace);
    // First attempt: no photo to compare with (card front unreadable or 照合番号B refused).
    let out = r.face(FaceDecision::PhotoUnavailable, 0);
    assert_eq!(
        Rig::hosts(&out),
        vec![Outgoing::FaceOutcome { decision: FaceDecision::PhotoUnavailable, score_milli: 0, attempts: 1 }]
    );
    assert_eq!(Rig::screens(&out), vec![Screen::FaceFailed { pin: true }]);
    assert!(
        !out.iter().any(|o| matches!(o, Out::Face(_))),
        "no second attempt at a photo that cannot be had"
    );
    let out = r.key(Key::Staff);
    assert!(!Rig::screens(&out).is_empty(), "staff (目視) take over");
}

#[test]
fn the_last_pin_try_needs_an_explicit_yes_and_no_spends_nothing() {
    let mut r = Rig::with_challenge();
    r.place(CardKind::PhysicalCard, valid_until_2030(), PinState::TriesLeft(1));
    r.key(Key::ChoosePin);
    let out = r.digits(&[1, 2, 3, 4]);
    assert_eq!(Rig::screens(&out).last(), Some(&Screen::PinConfirmLastTry));
    assert!(Rig::cards(&out).is_empty(), "nothing sent to the card before the yes");
    let out = r.key(Key::No);
    assert!(Rig::cards(&out).is_empty());
    assert_eq!(
        Rig::hosts(&out),
        vec![
            Outgoing::PinOutcome { result: PinResult::Declined, tries_left: 1 },
            Outgoing::AuthModesOffered {
                modes: AuthModes::EMPTY.with(AuthMethod::Face).with(AuthMethod::Pin)
            }
        ]
    );
    assert_eq!(Rig::screens(&out), vec![Screen::ChooseMethod { face: true, pin: true }]);
    r.key(Key::ChoosePin);
    r.digits(&[1, 2, 3, 4]);
    let out = r.key(Key::Yes);
    assert_eq!(Rig::cards(&out), vec!["VerifyPin(Pin4(****), confirmed=true)"]);
}

#[test]
fn wrong_pin_shows_tries_left_before_and_after() {
    let mut r = Rig::with_challenge();
    r.place(CardKind::PhysicalCard, valid_until_2030(), PinState::TriesLeft(3));
    r.key(Key::ChoosePin);
    r.digits(&[0, 0, 0, 0]);
    let out = r.ev(shikaku_firmware::session::Event::Card(shikaku_firmware::session::CardReply::PinWrong {
        tries_left: 2,
    }));
    assert_eq!(Rig::hosts(&out), vec![Outgoing::PinOutcome { result: PinResult::Wrong, tries_left: 2 }]);
    assert_eq!(
        Rig::screens(&out),
        vec![Screen::PinWrong { tries_left: 2 }, Screen::PinEntry { entered: 0, tries_left: 2 }]
    );
}

fn provision(r: &mut Rig, account: &str, passcode: &[u8; 4]) {
    let salt = [0x42; 16];
    let hash = shikaku_protocol::passcode::hash(passcode, &salt, 10_000);
    r.host(Message::PasscodeProvision { account, salt, iterations: 10_000, hash });
}

#[test]
fn pin_locked_then_visual_check_with_passcode_without_replacing_the_card() {
    let mut r = Rig::with_challenge();
    provision(&mut r, "staff-sato", b"4821");
    r.place(CardKind::PhysicalCard, valid_until_2030(), PinState::TriesLeft(3));
    r.key(Key::ChoosePin);
    r.digits(&[9, 9, 9, 9]);
    let out = r.ev(shikaku_firmware::session::Event::Card(shikaku_firmware::session::CardReply::PinLocked));
    assert_eq!(Rig::hosts(&out), vec![Outgoing::PinOutcome { result: PinResult::Locked, tries_left: 0 }]);
    assert_eq!(Rig::screens(&out), vec![Screen::PinLocked { face: true }]);
    assert_eq!(r.s.passcodes().accounts(), 1);
    let out = r.key(Key::Staff);
    assert_eq!(Rig::screens(&out), vec![Screen::PasscodeEntry { entered: 0 }]);
    let out = r.digits(&[4, 8, 2, 1]);
    assert_eq!(Rig::hosts(&out), vec![Outgoing::VisualModeStarted]);
    assert_eq!(Rig::screens(&out).last(), Some(&Screen::VisualCheck));
    assert!(r.s.visual_unlocked());
    let out = r.key(Key::Yes);
    assert_eq!(Rig::hosts(&out), vec![Outgoing::AuthModeChosen { method: AuthMethod::Visual }]);
    let out = r.key(Key::Yes);
    assert_eq!(
        Rig::hosts(&out),
        vec![
            Outgoing::ConsentAnswers { consents: comprehensive() },
            Outgoing::VerifiedIdentity,
            Outgoing::VisualModeStopped { reason: VisualStopReason::Completed }
        ]
    );
    assert!(!r.s.visual_unlocked(), "back to automatic mode after the session");
    let Message::VerifiedIdentity(v) = r.identity() else { panic!() };
    assert_eq!(v.method, AuthMethod::Visual);
    assert_eq!(v.staff_account, Some("staff-sato"));
    // The audit message names the account.
    let started = r.wire.iter().find(|w| w.len() == 1 + "staff-sato".len()).unwrap();
    assert_eq!(&started[1..], b"staff-sato");
}

#[test]
fn visual_mode_from_automatic_mode_then_card_then_check() {
    let mut r = Rig::with_challenge();
    provision(&mut r, "staff-01", b"0007");
    r.key(Key::Staff);
    let out = r.digits(&[0, 0, 0, 7]);
    assert_eq!(Rig::screens(&out).last(), Some(&Screen::VisualPlaceCard));
    assert_eq!(r.s.phase(), Phase::VisualArmed);
    let out = r.place(CardKind::PhysicalCard, valid_until_2030(), PinState::TriesLeft(3));
    assert_eq!(Rig::screens(&out), vec![Screen::Reading, Screen::VisualCheck]);
    r.key(Key::Yes);
    r.key(Key::Skip);
    let Message::VerifiedIdentity(v) = r.identity() else { panic!() };
    assert_eq!((v.method, v.staff_account), (AuthMethod::Visual, Some("staff-01")));
    assert_eq!(v.consents.medication, ConsentAnswer::Skipped);
}

#[test]
fn visual_mode_times_out_back_to_automatic_mode() {
    let mut r = Rig::with_challenge();
    provision(&mut r, "staff-01", b"0007");
    r.key(Key::Staff);
    r.digits(&[0, 0, 0, 7]);
    assert!(r.s.visual_unlocked());
    assert!(r.advance(119_000).is_empty());
    let out = r.advance(1_000);
    assert_eq!(Rig::hosts(&out), vec![Outgoing::VisualModeStopped { reason: VisualStopReason::Timeout }]);
    assert_eq!(Rig::screens(&out), vec![Screen::PlaceCard]);
    assert!(!r.s.visual_unlocked());
    assert_eq!(r.s.phase(), Phase::Idle);
    // The next card goes through the automatic flow.
    let out = r.place(CardKind::PhysicalCard, valid_until_2030(), PinState::TriesLeft(3));
    assert_eq!(Rig::screens(&out).last(), Some(&Screen::ChooseMethod { face: true, pin: true }));
}

#[test]
fn passcode_brute_force_hits_back_off_then_lock() {
    let mut r = Rig::with_challenge();
    provision(&mut r, "staff-01", b"4821");
    r.key(Key::Staff);
    let mut failures = Vec::new();
    let mut backoffs = Vec::new();
    for guess in 0..40u16 {
        let d = [
            (guess / 1000 % 10) as u8,
            (guess / 100 % 10) as u8,
            (guess / 10 % 10) as u8,
            (guess % 10) as u8,
        ];
        let out = r.digits(&d);
        for h in Rig::hosts(&out) {
            if let Outgoing::VisualUnlockFailed { failures: f, locked_for_ms } = h {
                failures.push((f, locked_for_ms));
            }
        }
        for s in Rig::screens(&out) {
            if let Screen::PasscodeBackoff { wait_s } = s {
                backoffs.push(wait_s);
            }
        }
        if r.s.passcodes().is_locked() {
            break;
        }
        // Wait out any back-off before the next guess (virtual time).
        r.now += Duration::from_millis(16 * 60_000);
        if r.s.phase() != Phase::PasscodeEntry {
            r.key(Key::Staff);
        }
    }
    assert!(r.s.passcodes().is_locked());
    assert_eq!(failures.iter().map(|f| f.0).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());
    assert_eq!(failures[..3].iter().map(|f| f.1).collect::<Vec<_>>(), vec![0, 0, 5_000]);
    assert_eq!(failures[3].1, 10_000);
    assert_eq!(failures[9].1, u32::MAX, "locked");
    assert!(!r.s.visual_unlocked());
    // Even the right passcode is refused once locked.
    let out = r.key(Key::Staff);
    assert_eq!(Rig::screens(&out), vec![Screen::PasscodeLocked]);
    // Re-provisioning over the paired link clears the lock.
    provision(&mut r, "staff-01", b"4821");
    assert!(!r.s.passcodes().is_locked());
    let _ = backoffs;
}

#[test]
fn a_guess_during_back_off_is_not_even_checked() {
    let mut r = Rig::with_challenge();
    provision(&mut r, "staff-01", b"4821");
    r.key(Key::Staff);
    for _ in 0..3 {
        r.digits(&[1, 1, 1, 1]);
    }
    // Third failure started a 5 s back-off: the right passcode now is refused unchecked.
    let out = r.digits(&[4, 8, 2, 1]);
    assert_eq!(Rig::screens(&out).last(), Some(&Screen::PasscodeBackoff { wait_s: 5 }));
    assert!(!r.s.visual_unlocked());
    r.now += Duration::from_millis(5_000);
    r.digits(&[4, 8, 2, 1]);
    assert!(r.s.visual_unlocked());
}

#[test]
fn passcode_hashes_from_an_unpaired_link_are_refused() {
    let mut r = Rig::with_challenge();
    let salt = [1; 16];
    let hash = shikaku_protocol::passcode::hash(b"1234", &salt, 10_000);
    r.ev(shikaku_firmware::session::Event::Host {
        message: Message::PasscodeProvision { account: "mallory", salt, iterations: 10_000, hash },
        authenticated: false,
    });
    assert_eq!(r.s.passcodes().accounts(), 0);
    r.key(Key::Staff);
    r.digits(&[1, 2, 3, 4]);
    assert!(!r.s.visual_unlocked());
}

#[test]
fn certificate_expiring_within_three_months_alerts_then_continues() {
    let mut r = Rig::with_challenge();
    let out = r.place(CardKind::PhysicalCard, unix_s(2027, 1, 31), PinState::TriesLeft(3));
    assert_eq!(Rig::screens(&out), vec![Screen::Reading, Screen::CertExpiringSoon { days_left: 71 }]);
    assert!(Rig::hosts(&out).contains(&Outgoing::CertExpiryNotice { expiry: CertExpiry::DaysLeft(71) }));
    let out = r.advance(4_000);
    assert_eq!(Rig::screens(&out), vec![Screen::ChooseMethod { face: true, pin: true }]);
    r.key(Key::ChooseFace);
    r.face(FaceDecision::Match, 900);
    let out = r.key(Key::Yes);
    assert_eq!(Rig::screens(&out), vec![Screen::Done { method: AuthMethod::Face, renewal_needed: true }]);
    let Message::VerifiedIdentity(v) = r.identity() else { panic!() };
    assert_eq!(v.cert_expiry, CertExpiry::DaysLeft(71));
}

#[test]
fn certificate_in_grace_is_accepted_for_eligibility_only_without_consents() {
    let mut r = Rig::with_challenge();
    let out = r.place(CardKind::PhysicalCard, unix_s(2026, 10, 1), PinState::TriesLeft(3));
    assert_eq!(Rig::screens(&out), vec![Screen::Reading, Screen::CertExpiredGrace { days_past: 51 }]);
    r.key(Key::Enter);
    r.key(Key::ChooseFace);
    let out = r.face(FaceDecision::Match, 900);
    assert!(!Rig::screens(&out).iter().any(|s| matches!(s, Screen::ConsentIntro | Screen::Consent { .. })));
    assert!(!r.all_hosts().iter().any(|h| matches!(h, Outgoing::ConsentAnswers { .. })));
    let Message::VerifiedIdentity(v) = r.identity() else { panic!() };
    assert_eq!(v.consents, Consents::NONE);
    assert_eq!(v.cert_expiry, CertExpiry::DaysPast(51));
    assert_eq!(
        Rig::screens(&out).last(),
        Some(&Screen::Done { method: AuthMethod::Face, renewal_needed: true })
    );
}

#[test]
fn certificate_expired_past_grace_is_refused_with_guidance() {
    let mut r = Rig::with_challenge();
    let out = r.place(CardKind::PhysicalCard, unix_s(2026, 1, 10), PinState::TriesLeft(3));
    assert_eq!(Rig::screens(&out), vec![Screen::Reading, Screen::CertExpiredRefused { days_past: 315 }]);
    let code = ErrorCode::CERT_EXPIRED_PAST_GRACE;
    assert_eq!(
        Rig::hosts(&out),
        vec![
            Outgoing::CardDetected { kind: CardKind::PhysicalCard },
            Outgoing::CertificateRead,
            Outgoing::CertExpiryNotice { expiry: CertExpiry::DaysPast(315) },
            Outgoing::Error { code, remedy: Remedy::EligibilityCertificate }
        ]
    );
    assert!(r.key(Key::ChoosePin).is_empty(), "no method after a refusal");
    assert_eq!(ids(&r), 0);
    let out = r.ev(shikaku_firmware::session::Event::CardRemoved);
    assert_eq!(Rig::screens(&out), vec![Screen::PlaceCard]);
}

#[test]
fn card_removed_mid_session_aborts_cleanly_and_late_answers_are_ignored() {
    let mut r = Rig::with_challenge();
    r.place(CardKind::PhysicalCard, valid_until_2030(), PinState::TriesLeft(3));
    r.key(Key::ChoosePin);
    r.digits(&[1, 2]);
    let out = r.ev(shikaku_firmware::session::Event::CardRemoved);
    let code = ErrorCode::CARD_REMOVED;
    assert_eq!(
        Rig::hosts(&out),
        vec![Outgoing::CardRemoved, Outgoing::Error { code, remedy: Remedy::RetryCard }]
    );
    assert!(out.contains(&Out::Wipe));
    assert_eq!(Rig::screens(&out), vec![Screen::PlaceCard]);
    // Typing on and a late card answer change nothing.
    assert!(r.digits(&[3, 4]).is_empty());
    let sig = [1u8; 256];
    assert!(r
        .ev(shikaku_firmware::session::Event::Card(shikaku_firmware::session::CardReply::Signed {
            signature: &sig
        }))
        .is_empty());
    assert_eq!(ids(&r), 0);
    assert_eq!(r.s.phase(), Phase::Idle);
}

#[test]
fn card_pulled_during_the_read_aborts_with_a_retry_remedy() {
    let mut r = Rig::with_challenge();
    r.ev(shikaku_firmware::session::Event::CardPresent);
    let out = r.ev(shikaku_firmware::session::Event::Card(shikaku_firmware::session::CardReply::Failed {
        error: shikaku_firmware::session::CardFailure::Lost,
    }));
    let code = ErrorCode::CARD_UNREADABLE;
    assert_eq!(Rig::hosts(&out), vec![Outgoing::Error { code, remedy: Remedy::RetryCard }]);
    assert_eq!(Rig::screens(&out), vec![Screen::Error { code, remedy: Remedy::RetryCard }]);
    let out = r.ev(shikaku_firmware::session::Event::CardRemoved);
    assert_eq!(Rig::screens(&out), vec![Screen::PlaceCard]);
}

#[test]
fn host_cancel_mid_session_forwards_nothing() {
    let mut r = Rig::with_challenge();
    r.place(CardKind::PhysicalCard, valid_until_2030(), PinState::TriesLeft(3));
    r.key(Key::ChooseFace);
    let out = r.host(Message::Cancel { reason: CancelReason::Host });
    let code = ErrorCode::CANCELLED;
    assert_eq!(Rig::hosts(&out), vec![Outgoing::Error { code, remedy: Remedy::None }]);
    assert!(r.face(FaceDecision::Match, 999).is_empty(), "a late face match is ignored");
    assert_eq!(ids(&r), 0);
}

#[test]
fn an_unregistered_card_is_offered_registration_and_the_host_sees_the_flag() {
    let mut r = Rig::with_challenge();
    r.place(CardKind::PhysicalCard, valid_until_2030(), PinState::TriesLeft(3));
    r.host(Message::RegistrationStatus { registered: false });
    r.key(Key::ChooseFace);
    r.face(FaceDecision::Match, 900);
    let out = r.key(Key::Yes);
    assert_eq!(Rig::screens(&out), vec![Screen::RegistrationOffer]);
    assert_eq!(ids(&r), 0);
    r.key(Key::Yes);
    let Message::VerifiedIdentity(v) = r.identity() else { panic!() };
    assert!(v.registration);
}

#[test]
fn a_patient_quicker_than_the_registration_answer_waits_for_it_and_is_offered_registration() {
    let mut r = Rig::with_challenge();
    r.registration_answer = None;
    r.place(CardKind::PhysicalCard, valid_until_2030(), PinState::TriesLeft(3));
    r.key(Key::ChooseFace);
    r.face(FaceDecision::Match, 900);
    let out = r.key(Key::Yes);
    assert_eq!(Rig::screens(&out), vec![Screen::WaitingForHost], "no answer yet: wait, do not assume");
    assert_eq!(ids(&r), 0);
    let out = r.host(Message::RegistrationStatus { registered: false });
    assert_eq!(Rig::screens(&out), vec![Screen::RegistrationOffer]);
    r.key(Key::Yes);
    let Message::VerifiedIdentity(v) = r.identity() else { panic!() };
    assert!(v.registration);
}

#[test]
fn without_a_registration_answer_the_reader_goes_on_as_registered_after_a_short_wait() {
    let mut r = Rig::with_challenge();
    r.registration_answer = None;
    r.place(CardKind::PhysicalCard, valid_until_2030(), PinState::TriesLeft(3));
    r.key(Key::ChooseFace);
    r.face(FaceDecision::Match, 900);
    r.key(Key::Yes);
    let wait = shikaku_firmware::session::Config::default().registration_wait.as_millis();
    assert!(r.advance(wait - 1).is_empty(), "still waiting");
    let out = r.advance(1);
    assert!(Rig::hosts(&out).contains(&Outgoing::VerifiedIdentity), "{out:?}");
    let Message::VerifiedIdentity(v) = r.identity() else { panic!() };
    assert!(!v.registration);
    // A late answer changes nothing.
    assert!(r.host(Message::RegistrationStatus { registered: false }).is_empty());
}

#[test]
fn android_types_the_phone_pin_on_the_reader() {
    let mut r = Rig::with_challenge();
    let out = r.place(CardKind::Android, valid_until_2030(), PinState::TriesLeft(3));
    assert_eq!(Rig::screens(&out).last(), Some(&Screen::PinEntry { entered: 0, tries_left: 3 }));
    assert!(Rig::hosts(&out)
        .contains(&Outgoing::AuthModesOffered { modes: AuthModes::EMPTY.with(AuthMethod::Pin) }));
}

#[test]
fn iphone_confirms_on_the_phone_and_the_phone_signs() {
    let mut r = Rig::with_challenge();
    let out = r.place(CardKind::IPhone, valid_until_2030(), PinState::Unavailable);
    assert_eq!(Rig::screens(&out).last(), Some(&Screen::ConfirmOnPhone));
    assert_eq!(Rig::cards(&out), vec!["Identify", "Sign(c5)"]);
    let sig = [3u8; 256];
    r.ev(shikaku_firmware::session::Event::Card(shikaku_firmware::session::CardReply::Signed {
        signature: &sig,
    }));
    r.key(Key::Yes);
    let Message::VerifiedIdentity(v) = r.identity() else { panic!() };
    assert_eq!(v.method, AuthMethod::OnDevice);
    assert_eq!(v.card_kind, CardKind::IPhone);
}

#[test]
fn a_pinless_card_offers_face_only() {
    let mut r = Rig::with_challenge();
    let out = r.place(CardKind::PhysicalCard, valid_until_2030(), PinState::Unavailable);
    assert_eq!(Rig::screens(&out).last(), Some(&Screen::ChooseMethod { face: true, pin: false }));
    assert!(r.key(Key::ChoosePin).is_empty());
}

#[test]
fn without_a_challenge_the_reader_waits_for_the_host() {
    let mut r = Rig::new();
    r.place(CardKind::PhysicalCard, valid_until_2030(), PinState::TriesLeft(3));
    r.key(Key::ChooseFace);
    r.face(FaceDecision::Match, 900);
    let out = r.key(Key::Yes);
    assert_eq!(Rig::screens(&out).last(), Some(&Screen::WaitingForHost));
    assert_eq!(ids(&r), 0);
    let out = r.host(Message::HostChallenge { challenge: [7; 32] });
    assert!(Rig::hosts(&out).contains(&Outgoing::VerifiedIdentity));
    let Message::VerifiedIdentity(v) = r.identity() else { panic!() };
    assert!(matches!(v.proof, Proof::ReaderAttestation { challenge: [7, ..], .. }));
}

#[test]
fn an_idle_input_screen_times_out_with_a_clear_code() {
    let mut r = Rig::with_challenge();
    r.place(CardKind::PhysicalCard, valid_until_2030(), PinState::TriesLeft(3));
    r.key(Key::ChoosePin);
    r.digits(&[5]);
    assert!(r.advance(59_000).is_empty());
    let out = r.advance(1_000);
    let code = ErrorCode::SESSION_TIMEOUT;
    assert_eq!(Rig::hosts(&out), vec![Outgoing::Error { code, remedy: Remedy::None }]);
    assert_eq!(ids(&r), 0);
}

#[test]
fn each_session_gets_a_new_id_and_sequence_numbers_restart() {
    let mut r = Rig::with_challenge();
    r.place(CardKind::PhysicalCard, unix_s(2026, 1, 10), PinState::TriesLeft(3));
    let first = r.s.session_id();
    r.ev(shikaku_firmware::session::Event::CardRemoved);
    r.place(CardKind::PhysicalCard, unix_s(2026, 1, 10), PinState::TriesLeft(3));
    assert_ne!(r.s.session_id(), first);
}

#[test]
fn android_reads_the_certificate_after_the_pin_and_checks_its_dates_then() {
    use shikaku_firmware::session::{CardReply, Event};
    let mut r = Rig::with_challenge();
    r.ev(Event::CardPresent);
    let out = r.ev(Event::Card(CardReply::Identified {
        kind: CardKind::Android,
        auth_cert: &[],
        not_after_unix_s: 0,
        pin: PinState::TriesLeft(3),
    }));
    assert_eq!(Rig::screens(&out), vec![Screen::PinEntry { entered: 0, tries_left: 3 }]);
    assert!(!Rig::hosts(&out).contains(&Outgoing::CertificateRead), "no certificate yet");
    r.digits(&[4, 3, 2, 1]);
    let out = r.ev(Event::Card(CardReply::PinVerified));
    assert_eq!(Rig::cards(&out), vec!["ReadCertificate"]);
    let cert = r.cert.clone();
    let out =
        r.ev(Event::Card(CardReply::Certificate { auth_cert: &cert, not_after_unix_s: unix_s(2027, 1, 31) }));
    assert_eq!(
        Rig::hosts(&out),
        vec![Outgoing::CertificateRead, Outgoing::CertExpiryNotice { expiry: CertExpiry::DaysLeft(71) }]
    );
    assert_eq!(Rig::cards(&out), vec!["Sign(c5)"]);
    let sig = [9u8; 256];
    r.ev(Event::Card(CardReply::Signed { signature: &sig }));
    r.key(Key::Yes);
    let Message::VerifiedIdentity(v) = r.identity() else { panic!() };
    assert_eq!((v.method, v.card_kind), (AuthMethod::Pin, CardKind::Android));
    assert_eq!(v.auth_cert, &cert[..]);
}

#[test]
fn android_with_a_lapsed_certificate_is_refused_after_the_pin() {
    use shikaku_firmware::session::{CardReply, Event};
    let mut r = Rig::with_challenge();
    r.ev(Event::CardPresent);
    r.ev(Event::Card(CardReply::Identified {
        kind: CardKind::Android,
        auth_cert: &[],
        not_after_unix_s: 0,
        pin: PinState::TriesLeft(3),
    }));
    r.digits(&[4, 3, 2, 1]);
    r.ev(Event::Card(CardReply::PinVerified));
    let cert = r.cert.clone();
    let out =
        r.ev(Event::Card(CardReply::Certificate { auth_cert: &cert, not_after_unix_s: unix_s(2026, 1, 10) }));
    assert_eq!(Rig::screens(&out), vec![Screen::CertExpiredRefused { days_past: 315 }]);
    assert!(Rig::cards(&out).is_empty(), "nothing signed");
    assert_eq!(ids(&r), 0);
}

#[test]
fn an_unknown_token_is_not_a_my_number_card() {
    let mut r = Rig::with_challenge();
    let out = r.place(CardKind::Unknown, valid_until_2030(), PinState::TriesLeft(3));
    let code = ErrorCode::NOT_A_MY_NUMBER_CARD;
    assert_eq!(
        Rig::hosts(&out),
        vec![
            Outgoing::CardDetected { kind: CardKind::Unknown },
            Outgoing::Error { code, remedy: Remedy::CallStaff }
        ]
    );
    assert_eq!(Rig::screens(&out).last(), Some(&Screen::Error { code, remedy: Remedy::CallStaff }));
}
