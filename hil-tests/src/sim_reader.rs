//! A reader without radio: the firmware's session core and reader link, with a card that
//! answers every operation at once (a physical card, PIN 3 tries, valid certificate). For
//! link, transport and host tests that are not about the card.
//!
//! It carries out the session's actions itself rather than through the images' main loop
//! (`image_core::Reader`, which the simulated rig and the QEMU image run): tests feed it session
//! events directly. Behaviour that matters at the reader's boundary (pairing steps, passcode
//! answers, a full outbox) follows the main loop's; the rig is where the images' own code path
//! is tested.

use shikaku_firmware::session::{
    Action, CardOp, CardReply, Config, Event, Key, PairingStep, PinState, Session,
};
use shikaku_protocol::auth::PairingKey;
use shikaku_protocol::endpoint::reader::{Diagnostics, Entropy, Identity, LinkInput, ReaderEndpoint};
use shikaku_protocol::message::*;
use shikaku_protocol::{Instant, UnixMillis, MAX_FRAME};

/// A deterministic stand-in for the TRNG.
pub struct Counter(pub u8);
impl Entropy for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_mul(17).wrapping_add(29);
            *b = self.0;
        }
    }
}

/// Signs SHA-256(challenge) with a card's auth key.
pub type Signer = Box<dyn Fn(&[u8; 32]) -> Vec<u8> + Send>;

pub struct SimReader {
    pub session: Session,
    pub link: ReaderEndpoint,
    pub rng: Counter,
    pub cert: Vec<u8>,
    /// The certificate's end of validity (Unix seconds).
    pub not_after: i64,
    /// Signs SHA-256(challenge) as the card's auth key would; a fixed pattern by default.
    pub signer: Signer,
    /// Added to the clock the reader reports (a reader whose clock drifted).
    pub clock_skew_ms: i64,
    /// What the NFC self-test reports.
    pub nfc_self_test: SelfTest,
    /// What staff at this reader do when it shows a pairing code: press Yes (`Some(true)`),
    /// No (`Some(false)`), or nobody is there (`None`).
    pub staff_confirms_pairing: Option<bool>,
    /// The last pairing code the reader showed.
    pub shown_code: Option<u32>,
    /// Session messages the outbox refused.
    pub outbox_full: u32,
}

impl SimReader {
    /// A reader paired with `key`.
    pub fn new(key: [u8; 32], serial: &'static str) -> Self {
        Self::with_key(Some(key), serial)
    }

    /// A reader never paired: it answers hello and pairing only.
    pub fn unpaired(serial: &'static str) -> Self {
        Self::with_key(None, serial)
    }

    fn with_key(key: Option<[u8; 32]>, serial: &'static str) -> Self {
        let id = Identity {
            firmware: FirmwareVersion { major: 0, minor: 1, patch: 0, build: "test" },
            serial,
            model: "sim",
            capabilities: Capabilities(Capabilities::PIN_KEYPAD | Capabilities::FACE),
        };
        Self {
            session: Session::new(Config::default(), PairingKey(key.unwrap_or([0; 32])), 500),
            link: ReaderEndpoint::new(id, key.map(PairingKey)),
            rng: Counter(1),
            cert: vec![0xAA; 1590],
            not_after: 1_900_000_000,
            signer: Box::new(|_| vec![0x5A; 256]),
            clock_skew_ms: 0,
            nfc_self_test: SelfTest::Passed,
            staff_confirms_pairing: Some(true),
            shown_code: None,
            outbox_full: 0,
        }
    }

    /// Feeds an event to the session and carries out what it asks (the card answers at once).
    pub fn event(&mut self, now: Instant, e: Event<'_>) {
        let mut queue = vec![self.session.handle(now, e)];
        while let Some(actions) = queue.pop() {
            for a in actions {
                match a {
                    Action::Send(t) => {
                        let msg = self.session.host_message(&t);
                        // As the images do: a full outbox lets lesser messages go; what it
                        // refuses is counted, never a panic.
                        if self.link.queue(t.session, t.seq, &msg, now).is_err() {
                            self.outbox_full += 1;
                        }
                    }
                    Action::Pairing(step) => match step {
                        PairingStep::Open { until } => self.link.open_pairing(until),
                        PairingStep::Reject => self.link.reject_pairing(),
                        PairingStep::Close => self.link.close_pairing(),
                        PairingStep::Accept => {
                            if let Some(key) = self.link.accept_pairing() {
                                self.session.set_pairing_key(key);
                            }
                        }
                    },
                    Action::PasscodeResult { account, outcome } => {
                        self.link.send_passcode_result(&account, outcome)
                    }
                    Action::Card(op) => {
                        let cert = self.cert.clone();
                        let not_after = self.not_after;
                        let sig = match &op {
                            CardOp::SignChallenge { challenge } => (self.signer)(challenge),
                            _ => Vec::new(),
                        };
                        let reply = match op {
                            CardOp::Identify => CardReply::Identified {
                                kind: CardKind::PhysicalCard,
                                auth_cert: &cert,
                                not_after_unix_s: not_after,
                                pin: PinState::TriesLeft(3),
                            },
                            CardOp::VerifyPin { .. } => CardReply::PinVerified,
                            CardOp::SignChallenge { .. } => CardReply::Signed { signature: &sig },
                            CardOp::ReadCertificate => {
                                CardReply::Certificate { auth_cert: &cert, not_after_unix_s: not_after }
                            }
                        };
                        queue.push(self.session.handle(now, Event::Card(reply)));
                    }
                    _ => {}
                }
            }
        }
    }

    pub fn receive(&mut self, now: Instant, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let n = self.link.push_rx(bytes);
            bytes = &bytes[n..];
            loop {
                // Copy out what the session needs, then let go of the link's buffer.
                let input = match self.link.poll_input(now, &mut self.rng) {
                    None => break,
                    // Only sealed frames reach the session.
                    Some(LinkInput::Host { message }) => Some(owned(&message, true)),
                    Some(LinkInput::PairingCode { code }) => {
                        self.shown_code = Some(code);
                        self.event(now, Event::PairingCode { code });
                        match self.staff_confirms_pairing {
                            Some(true) => self.event(now, Event::Key(Key::Yes)),
                            Some(false) => self.event(now, Event::Key(Key::No)),
                            None => {}
                        }
                        None
                    }
                    Some(_) => None,
                };
                match input {
                    Some((OwnedHost::Diagnostics, true)) => self.diagnostics(now),
                    Some((OwnedHost::Other | OwnedHost::Diagnostics, _)) | None => {}
                    Some((m, auth)) => {
                        let msg = m.as_message();
                        self.event(now, Event::Host { message: msg, authenticated: auth });
                    }
                }
            }
        }
    }

    /// The reader's self-test report (this simulated reader's NFC and camera always pass).
    fn diagnostics(&mut self, now: Instant) {
        self.link.send_diagnostics(Diagnostics {
            uptime_s: (now.as_millis() / 1000) as u32,
            nfc: self.nfc_self_test,
            camera: SelfTest::Passed,
            clock: self
                .session
                .wall_clock(now)
                .map(|c| UnixMillis((c.as_millis() as i64 + self.clock_skew_ms) as u64))
                .unwrap_or_default(),
            frames_rx: 0,
            frames_rejected: 0,
        });
    }

    pub fn transmit(&mut self, now: Instant) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; MAX_FRAME];
        while let Some(n) = self.link.poll_transmit(now, &mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        out
    }
}

/// A host message, owned, so the link's buffer can be released before the session runs.
enum OwnedHost {
    TimeSync(u64),
    Challenge([u8; 32]),
    Registration(bool),
    Provision { account: String, salt: [u8; 16], iterations: u32, hash: [u8; 32] },
    Revoke(String),
    Cancel(CancelReason),
    Diagnostics,
    Other,
}

impl OwnedHost {
    fn as_message(&self) -> Message<'_> {
        match self {
            OwnedHost::TimeSync(unix_ms) => Message::TimeSync { unix_ms: *unix_ms },
            OwnedHost::Challenge(challenge) => Message::HostChallenge { challenge: *challenge },
            OwnedHost::Registration(registered) => Message::RegistrationStatus { registered: *registered },
            OwnedHost::Provision { account, salt, iterations, hash } => {
                Message::PasscodeProvision { account, salt: *salt, iterations: *iterations, hash: *hash }
            }
            OwnedHost::Revoke(account) => Message::PasscodeRevoke { account },
            OwnedHost::Cancel(reason) => Message::Cancel { reason: *reason },
            OwnedHost::Diagnostics => Message::DiagnosticsRequest,
            OwnedHost::Other => Message::DiagnosticsRequest,
        }
    }
}

fn owned(m: &Message<'_>, authenticated: bool) -> (OwnedHost, bool) {
    let o = match *m {
        Message::TimeSync { unix_ms } => OwnedHost::TimeSync(unix_ms),
        Message::HostChallenge { challenge } => OwnedHost::Challenge(challenge),
        Message::RegistrationStatus { registered } => OwnedHost::Registration(registered),
        Message::PasscodeProvision { account, salt, iterations, hash } => {
            OwnedHost::Provision { account: account.to_owned(), salt, iterations, hash }
        }
        Message::PasscodeRevoke { account } => OwnedHost::Revoke(account.to_owned()),
        Message::Cancel { reason } => OwnedHost::Cancel(reason),
        Message::DiagnosticsRequest => OwnedHost::Diagnostics,
        _ => OwnedHost::Other,
    };
    (o, authenticated)
}

impl SimReader {
    /// Gives this reader a real card: a persona's auth certificate, and signatures made with
    /// its auth key (RSA PKCS#1 v1.5 over DigestInfo(SHA-256(challenge)), as the card does).
    pub fn with_persona_card(mut self, issued: &crate::vcard::Issued) -> Self {
        use rsa::Pkcs1v15Sign;
        use sha2::{Digest, Sha256};
        self.cert = issued.auth_cert.clone();
        if let Ok(c) = shikaku_card::der::Certificate::parse(&issued.auth_cert) {
            self.not_after = c.not_after.unix_seconds();
        }
        let key = issued.auth_key.clone();
        self.signer = Box::new(move |challenge| {
            let hash = Sha256::digest(challenge);
            key.sign(Pkcs1v15Sign::new::<Sha256>(), &hash).unwrap_or_default()
        });
        self
    }
}
