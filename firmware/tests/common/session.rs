//! Drives the session core in virtual time and records what it does, for scenario tests.
#![allow(dead_code)]

use shikaku_firmware::session::{
    Action, CardOp, CardReply, Config, Event, FaceReply, Key, Outgoing, PairingStep, PinState, Screen,
    Session,
};
use shikaku_protocol::auth::PairingKey;
use shikaku_protocol::message::{CardKind, FaceDecision, Message, PasscodeOutcome};
use shikaku_protocol::{Duration, Instant};

/// 2026-11-21 12:00:00 UTC.
pub(crate) const NOW_UNIX_MS: u64 = 1_795_262_400_000;
pub(crate) const DAY_S: i64 = 86_400;
pub(crate) const CHALLENGE: [u8; 32] = [0xC5; 32];
pub(crate) const PAIRING: [u8; 32] = [0x11; 32];

/// What came out of the core, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Out {
    Screen(Screen),
    Card(String),
    Host(Outgoing),
    Face(u8),
    Wipe,
    Pairing(PairingStep),
    PasscodeResult(String, PasscodeOutcome),
    SaveLockout(u8),
}

pub(crate) struct Rig {
    pub s: Session,
    /// Virtual monotonic time.
    pub now: Instant,
    pub log: Vec<Out>,
    /// Encoded host messages, to check what crossed the link.
    pub wire: Vec<Vec<u8>>,
    pub identities: Vec<(u32, Vec<u8>)>,
    pub cert: Vec<u8>,
    /// What the host answers at once to `CertificateRead` (as a real host does: whether the
    /// card is registered); `None`: the answer is left to the test.
    pub registration_answer: Option<bool>,
}

pub(crate) fn unix_s(y: i64, m: u32, d: u32) -> i64 {
    shikaku_card::calendar::days_from_civil(y, m, d) * DAY_S + 14 * 3600 + 59 * 60 + 59
}

impl Rig {
    pub(crate) fn new() -> Self {
        let mut r = Rig {
            s: Session::new(Config::default(), PairingKey(PAIRING), 1000),
            now: Instant::from_millis(1_000),
            log: Vec::new(),
            wire: Vec::new(),
            identities: Vec::new(),
            cert: vec![0xAA; 1590],
            registration_answer: Some(true),
        };
        r.host(Message::TimeSync { unix_ms: NOW_UNIX_MS + 1_000 });
        r
    }

    pub(crate) fn with_challenge() -> Self {
        let mut r = Self::new();
        r.host(Message::HostChallenge { challenge: CHALLENGE });
        r
    }

    pub(crate) fn ev(&mut self, e: Event<'_>) -> Vec<Out> {
        let actions = self.s.handle(self.now, e);
        let mut got = Vec::new();
        for a in actions {
            let o = match a {
                Action::Show(s) => Out::Screen(s),
                Action::Card(op) => Out::Card(match op {
                    CardOp::Identify => "Identify".into(),
                    CardOp::VerifyPin { pin, last_try_confirmed } => {
                        format!("VerifyPin({pin:?}, confirmed={last_try_confirmed})")
                    }
                    CardOp::SignChallenge { challenge } => format!("Sign({:02x})", challenge[0]),
                    CardOp::ReadCertificate => "ReadCertificate".into(),
                }),
                Action::Send(t) => {
                    let msg = self.s.host_message(&t);
                    let mut buf = vec![0u8; 4096];
                    let n = msg.encode(&mut buf).expect("host message encodes");
                    buf.truncate(n);
                    if matches!(msg, Message::VerifiedIdentity(_)) {
                        self.identities.push((t.session, buf.clone()));
                    }
                    self.wire.push(buf);
                    Out::Host(t.message)
                }
                Action::StartFace { attempt } => Out::Face(attempt),
                Action::WipeFace => Out::Wipe,
                Action::Pairing(step) => Out::Pairing(step),
                Action::PasscodeResult { account, outcome } => {
                    Out::PasscodeResult(account.to_string(), outcome)
                }
                Action::SaveLockout { failures } => Out::SaveLockout(failures),
            };
            got.push(o.clone());
            self.log.push(o);
        }
        if let Some(registered) = self.registration_answer {
            if got.contains(&Out::Host(Outgoing::CertificateRead)) {
                got.extend(self.host(Message::RegistrationStatus { registered }));
            }
        }
        got
    }

    pub(crate) fn host(&mut self, m: Message<'_>) -> Vec<Out> {
        self.ev(Event::Host { message: m, authenticated: true })
    }
    pub(crate) fn key(&mut self, k: Key) -> Vec<Out> {
        self.ev(Event::Key(k))
    }
    pub(crate) fn digits(&mut self, ds: &[u8]) -> Vec<Out> {
        let mut all = Vec::new();
        for &d in ds {
            all.extend(self.key(Key::Digit(d)));
        }
        all
    }
    /// Moves virtual time on by `ms` milliseconds and ticks.
    pub(crate) fn advance(&mut self, ms: u64) -> Vec<Out> {
        self.now += Duration::from_millis(ms);
        self.ev(Event::Tick)
    }
    pub(crate) fn place(&mut self, kind: CardKind, not_after: i64, pin: PinState) -> Vec<Out> {
        let mut got = self.ev(Event::CardPresent);
        let cert = self.cert.clone();
        got.extend(self.ev(Event::Card(CardReply::Identified {
            kind,
            auth_cert: &cert,
            not_after_unix_s: not_after,
            pin,
        })));
        got
    }
    pub(crate) fn face(&mut self, decision: FaceDecision, score: u16) -> Vec<Out> {
        self.ev(Event::Face(FaceReply { decision, score_milli: score }))
    }
    pub(crate) fn screens(out: &[Out]) -> Vec<Screen> {
        out.iter().filter_map(|o| if let Out::Screen(s) = o { Some(*s) } else { None }).collect()
    }
    pub(crate) fn hosts(out: &[Out]) -> Vec<Outgoing> {
        out.iter().filter_map(|o| if let Out::Host(h) = o { Some(*h) } else { None }).collect()
    }
    pub(crate) fn cards(out: &[Out]) -> Vec<String> {
        out.iter().filter_map(|o| if let Out::Card(c) = o { Some(c.clone()) } else { None }).collect()
    }
    /// The one verified identity sent so far, decoded.
    pub(crate) fn identity(&self) -> Message<'_> {
        assert_eq!(self.identities.len(), 1, "exactly one verified identity");
        Message::decode(shikaku_protocol::message::msg_type::VERIFIED_IDENTITY, 0, &self.identities[0].1)
            .expect("decodes")
    }
    pub(crate) fn all_hosts(&self) -> Vec<Outgoing> {
        Self::hosts(&self.log)
    }
}

pub(crate) fn valid_until_2030() -> i64 {
    unix_s(2030, 2, 17)
}
