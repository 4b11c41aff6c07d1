//! The receptions the demo runs and the scenario tests check: one per branch of the session,
//! each with the outcome it must have.

use shikaku_firmware::session::Key;
use shikaku_protocol::message::{AuthMethod, ErrorCode};

use super::{Outcome, ReplayFace, Scenario, Step};

/// What a scenario must end with at the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Exactly one verified identity by this method, its proof checked, no error.
    Identity(AuthMethod),
    /// No identity; exactly one error with this code.
    Refused(ErrorCode),
}

impl Expect {
    /// `Ok` when `outcome` is what this expectation says, else why not. Whatever the
    /// expectation, the link must have done its part: secured by the handshake, every session
    /// message queued and acknowledged by the end (exactly-once delivery completed).
    pub fn check(&self, outcome: &Outcome) -> Result<(), String> {
        delivered(outcome)?;
        match *self {
            Expect::Identity(method) => {
                let [id] = outcome.identities.as_slice() else {
                    return Err(format!(
                        "expected one verified identity, host got {}",
                        outcome.identities.len()
                    ));
                };
                if id.method != method {
                    return Err(format!("identity by {:?}, expected {method:?}", id.method));
                }
                if let Err(e) = &id.proof {
                    return Err(format!("identity proof did not verify: {e}"));
                }
                if id.auth_cert != outcome.issued.auth_cert {
                    return Err("identity carries another certificate than the card's".into());
                }
                if !outcome.errors.is_empty() {
                    return Err(format!("unexpected errors: {:?}", outcome.errors));
                }
                Ok(())
            }
            Expect::Refused(code) => {
                if !outcome.identities.is_empty() {
                    return Err(format!("expected no identity, host got {}", outcome.identities.len()));
                }
                match outcome.errors.as_slice() {
                    [e] if e.code == code => Ok(()),
                    other => Err(format!("expected error E{:03}, host got {other:?}", code.0)),
                }
            }
        }
    }
}

/// The link's part of every outcome: the host secured the link with the reader's hello, and
/// the reader's outbox took every session message and is empty at the end (each one
/// acknowledged by the host).
pub fn delivered(outcome: &Outcome) -> Result<(), String> {
    if !outcome.link_secured {
        return Err("the handshake never secured the link".into());
    }
    if outcome.reader_dropped > 0 {
        return Err(format!(
            "{} session messages did not fit in the reader's outbox",
            outcome.reader_dropped
        ));
    }
    if outcome.reader_unacked > 0 {
        return Err(format!("{} session messages never acknowledged at the end", outcome.reader_unacked));
    }
    Ok(())
}

pub const PLACE_MS: u64 = 1_000;

/// Face match, 包括同意, done, card taken.
pub fn face_ok() -> Scenario {
    Scenario::new("face-ok", "yamada")
        .at(PLACE_MS, Step::Place)
        .at(3_000, Step::Key(Key::ChooseFace))
        .face(&[ReplayFace::matched(912)])
        .at(6_000, Step::Key(Key::Yes))
        .at(9_000, Step::Remove)
}

/// PIN typed on the reader, the card signs the host's challenge.
pub fn pin_ok() -> Scenario {
    Scenario::new("pin-ok", "yamada")
        .at(PLACE_MS, Step::Place)
        .at(3_000, Step::Key(Key::ChoosePin))
        .digits(4_000, "1234")
        .at(9_000, Step::Key(Key::Yes))
        .at(12_000, Step::Remove)
}

/// One try left, the patient mistypes it after confirming: locked. Staff unlock 目視 with
/// their passcode while the card stays on the reader, check the photo, the patient consents.
pub fn pin_locked_visual() -> Scenario {
    Scenario::new("pin-locked-visual", "lasttry")
        .at(PLACE_MS, Step::Place)
        .at(3_000, Step::Key(Key::ChoosePin))
        .digits(4_000, "9999")
        .at(8_000, Step::Key(Key::Yes))
        .at(10_000, Step::Key(Key::Staff))
        .digits(11_000, super::STAFF_PASSCODE)
        .at(15_000, Step::Key(Key::Yes))
        .at(16_000, Step::Key(Key::Yes))
        .at(19_000, Step::Remove)
}

/// The certificate ends in 60 days: the renewal notice, then face as usual.
pub fn cert_expiring() -> Scenario {
    Scenario::new("cert-expiring", "expiring")
        .at(PLACE_MS, Step::Place)
        .at(6_000, Step::Key(Key::ChooseFace))
        .face(&[ReplayFace::matched(887)])
        .at(9_000, Step::Key(Key::Yes))
        .at(12_000, Step::Remove)
}

/// Expired 30 days ago: eligibility only (no consent screens), face.
pub fn cert_grace() -> Scenario {
    Scenario::new("cert-grace", "expired")
        .at(PLACE_MS, Step::Place)
        .at(6_000, Step::Key(Key::ChooseFace))
        .face(&[ReplayFace::matched(901)])
        .at(10_000, Step::Remove)
}

/// Expired 200 days ago: refused with the 資格確認書 guidance.
pub fn cert_lapsed() -> Scenario {
    Scenario::new("cert-lapsed", "lapsed").at(PLACE_MS, Step::Place).at(5_000, Step::Remove)
}

/// The card is pulled out while its certificate is being read (after 7 APDUs: SELECT JPKI,
/// token info, PIN status, SELECT `000A` and the first READ BINARY).
pub fn card_pulled() -> Scenario {
    let mut s = Scenario::new("card-pulled", "yamada").at(PLACE_MS, Step::Place);
    s.remove_after_apdus = Some(7);
    s
}

/// Face fails three times, the patient uses the PIN instead (card stays).
pub fn face_fails_then_pin() -> Scenario {
    Scenario::new("face-fails-then-pin", "takasaki")
        .at(PLACE_MS, Step::Place)
        .at(3_000, Step::Key(Key::ChooseFace))
        .face(&[ReplayFace::no_match(412), ReplayFace::no_match(455), ReplayFace::no_match(390)])
        .at(9_000, Step::Key(Key::ChoosePin))
        .digits(10_000, "8080")
        .at(15_000, Step::Key(Key::Yes))
        .at(18_000, Step::Remove)
}

/// PIN-less 顔認証マイナンバーカード: face only.
pub fn pinless_face() -> Scenario {
    Scenario::new("pinless-face", "faceonly")
        .at(PLACE_MS, Step::Place)
        .at(3_000, Step::Key(Key::ChooseFace))
        .face(&[ReplayFace::matched(866)])
        .at(6_000, Step::Key(Key::Yes))
        .at(9_000, Step::Remove)
}

/// 初回登録: the host says the card is not registered; the patient registers it.
pub fn first_registration() -> Scenario {
    let mut s = Scenario::new("first-registration", "yamada")
        .at(PLACE_MS, Step::Place)
        .at(3_000, Step::Key(Key::ChooseFace))
        .face(&[ReplayFace::matched(930)])
        .at(6_000, Step::Key(Key::Yes))
        .at(7_000, Step::Key(Key::Yes))
        .at(10_000, Step::Remove);
    s.registered = false;
    s
}

/// The patient walks away at the method choice, the card stays: the session times out.
pub fn walked_away() -> Scenario {
    Scenario::new("walked-away", "yamada").at(PLACE_MS, Step::Place).at(70_000, Step::Remove)
}

/// A driver's licence (ISO 14443 Type B, no JPKI applet) on the reader.
pub fn not_my_number_card() -> Scenario {
    let mut s =
        Scenario::new("not-my-number-card", "yamada").at(PLACE_MS, Step::Place).at(5_000, Step::Remove);
    s.foreign_card = true;
    s
}

/// Every scenario of the demo with its expected outcome.
pub fn all() -> Vec<(Scenario, Expect)> {
    vec![
        (face_ok(), Expect::Identity(AuthMethod::Face)),
        (pin_ok(), Expect::Identity(AuthMethod::Pin)),
        (pin_locked_visual(), Expect::Identity(AuthMethod::Visual)),
        (cert_expiring(), Expect::Identity(AuthMethod::Face)),
        (cert_grace(), Expect::Identity(AuthMethod::Face)),
        (cert_lapsed(), Expect::Refused(ErrorCode::CERT_EXPIRED_PAST_GRACE)),
        (card_pulled(), Expect::Refused(ErrorCode::CARD_REMOVED)),
        (face_fails_then_pin(), Expect::Identity(AuthMethod::Pin)),
        (pinless_face(), Expect::Identity(AuthMethod::Face)),
        (first_registration(), Expect::Identity(AuthMethod::Face)),
        (walked_away(), Expect::Refused(ErrorCode::SESSION_TIMEOUT)),
        (not_my_number_card(), Expect::Refused(ErrorCode::NOT_A_MY_NUMBER_CARD)),
        (android_pin(), Expect::Identity(AuthMethod::Pin)),
        (iphone(), Expect::Identity(AuthMethod::OnDevice)),
    ]
}

/// Android スマホ用電子証明書: the phone's JPKI PIN typed on the reader; the phone releases the
/// auth certificate only after the PIN, so the reader reads it then.
pub fn android_pin() -> Scenario {
    Scenario::new("android-pin", "android")
        .at(PLACE_MS, Step::Place)
        .digits(3_000, "4321")
        .at(9_000, Step::Key(Key::Yes))
        .at(12_000, Step::Remove)
}

/// iPhone: the holder confirms on the phone itself; the reader only asks it to sign.
pub fn iphone() -> Scenario {
    Scenario::new("iphone", "iphone")
        .at(PLACE_MS, Step::Place)
        .at(5_000, Step::Key(Key::Yes))
        .at(8_000, Step::Remove)
}
