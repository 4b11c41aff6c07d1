//! The minimal host side of the rig: the reception PC's end of the paired link.
//!
//! The link is the shipping [`HostEndpoint`] (the one the host driver runs): it sends the
//! `HostHello`, checks the reader's `ReaderHello` against the pairing key, refuses every later
//! frame that is not authenticated with this connection's keys, acknowledges status messages at
//! once and hands each result up once. On top of it this host does what the reception
//! application does: it answers `CardDetected` with a fresh `HostChallenge` and
//! `CertificateRead` with `RegistrationStatus` (both through [`HostEndpoint::send`]), checks
//! every `VerifiedIdentity` — the card's signature over the challenge with the certificate's
//! public key (PIN, iPhone), or the reader attestation with the pairing key (face, 目視) — and
//! acknowledges each result with [`HostEndpoint::ack`] only after recording it, as the real
//! driver does after its journal write.
//!
//! Duplicates: a result the reader sends again after this host kept it is not handed up by
//! the endpoint, only acknowledged again. [`Host::duplicates`] counts exactly those: every
//! acknowledgement the endpoint queued by itself, while taking bytes in, for a result this
//! host had already recorded and acknowledged.

use std::collections::{HashMap, HashSet, VecDeque};

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use shikaku_card::der::Certificate;
use shikaku_protocol::auth::{reader_attestation, PairingKey};
use shikaku_protocol::endpoint::host::{HostEndpoint, HostEvent, Inbound, Keys, ReaderInfo};
use shikaku_protocol::message::{
    AuthMethod, CardKind, CertExpiry, Consents, ErrorCode, Proof, Remedy, VerifiedIdentity,
};
use shikaku_protocol::{Error as ProtocolError, Message};

/// The host's hello nonce (fixed: every run is deterministic).
pub const HOST_NONCE: [u8; 16] = [0x11; 16];

/// A verified identity as the host received and checked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRecord {
    pub session: u32,
    pub method: AuthMethod,
    pub card_kind: CardKind,
    pub consents: Consents,
    pub staff_account: Option<String>,
    pub registration: bool,
    pub cert_expiry: CertExpiry,
    pub auth_cert: Vec<u8>,
    /// `CardSignature` (true) or `ReaderAttestation` (false).
    pub card_signed: bool,
    /// The proof checked out against the challenge this host issued for the session.
    pub proof: Result<(), String>,
}

/// A message the host took in, typed: its place on the link, its type, and the message itself
/// ([`HostRecord::message`]). The transcript's summary lines are for people; tests assert on
/// these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRecord {
    pub session: u32,
    pub seq: u32,
    /// One of [`msg_type`]'s constants.
    pub msg_type: u8,
    inbound: Inbound,
}

impl HostRecord {
    /// The message, decoded again (it decoded when it was recorded).
    pub fn message(&self) -> Message<'_> {
        self.inbound.message().expect("a recorded message decodes")
    }
}

/// An error the reader reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorRecord {
    pub session: u32,
    pub code: ErrorCode,
    pub remedy: Remedy,
}

pub struct Host {
    endpoint: HostEndpoint,
    /// Frames the endpoint queued, taken out to be looked at and not yet on the pipe.
    out: VecDeque<Vec<u8>>,
    pairing: PairingKey,
    rng: ChaCha20Rng,
    /// Answer to `CertificateRead`.
    pub registered: bool,
    challenges: HashMap<u32, [u8; 32]>,
    /// Pre-issue challenges, as the host driver does: one on each new connection and after
    /// each card is taken, for the reader's next session (which then works while the PC is
    /// away). Each is good for one identity.
    pub preissue: bool,
    preissued: Vec<[u8; 32]>,
    /// Results recorded (and then acknowledged), by `(session, seq)`.
    kept: HashSet<(u32, u32)>,
    /// What the reader said about itself in its hello, once the link is secured.
    pub reader: Option<ReaderInfo>,
    /// Every message taken in, one line each (`session/seq name details`), for the transcript.
    pub received: Vec<String>,
    /// Every message taken in, typed, in the same order.
    pub messages: Vec<HostRecord>,
    pub identities: Vec<IdentityRecord>,
    pub errors: Vec<ErrorRecord>,
    /// Frames the endpoint refused (deframing, MAC, replay, direction, a second hello) and
    /// hellos it could not secure (reader not paired, another key).
    pub refused: u32,
    /// Results that arrived again after this host kept them and were only acknowledged again.
    pub duplicates: u32,
    /// What the reader answered to each passcode provision.
    pub passcode_results: Vec<shikaku_protocol::message::PasscodeOutcome>,
}

/// What one [`Host::receive`] did.
#[derive(Debug, Default)]
pub struct Turn {
    /// One transcript line per thing that happened.
    pub lines: Vec<String>,
    /// The reader's hello arrived and checked out: the link is authenticated from now on.
    pub secured: bool,
}

/// A short readable summary of a message (never a secret: there are none on the link).
pub fn summary(m: &Message<'_>) -> String {
    match m {
        Message::CertificateRead { auth_cert } => format!("CertificateRead ({} B)", auth_cert.len()),
        Message::VerifiedIdentity(v) => format!(
            "VerifiedIdentity method={:?} kind={:?} expiry={:?} registration={} staff={:?} proof={}",
            v.method,
            v.card_kind,
            v.cert_expiry,
            v.registration,
            v.staff_account,
            match v.proof {
                Proof::CardSignature { .. } => "card signature",
                Proof::ReaderAttestation { .. } => "reader attestation",
            }
        ),
        Message::HostChallenge { .. } => "HostChallenge".into(),
        Message::HostHello { driver_version, .. } => format!("HostHello driver={driver_version:?} (nonce)"),
        Message::PasscodeProvision { account, iterations, .. } => {
            format!("PasscodeProvision account={account} iterations={iterations} (salted hash only)")
        }
        Message::Error { code, remedy, .. } => format!("Error E{:03} remedy={remedy:?}", code.0),
        Message::ConsentAnswers { consents } => format!(
            "ConsentAnswers 包括={:?} 薬剤={:?} 健診={:?} 診療={:?} 手術={:?}",
            consents.comprehensive,
            consents.medication,
            consents.health_checkup,
            consents.treatment,
            consents.surgery
        ),
        other => {
            let s = format!("{other:?}");
            s.replace(" }", "").replace(" {", "").replace(": ", "=")
        }
    }
}

impl Host {
    pub fn new(pairing: PairingKey, registered: bool, seed: u64) -> Self {
        Self {
            endpoint: HostEndpoint::new(Keys::Fixed(Some(pairing.clone())), HOST_NONCE),
            out: VecDeque::new(),
            pairing,
            rng: ChaCha20Rng::seed_from_u64(seed),
            registered,
            challenges: HashMap::new(),
            preissue: false,
            preissued: Vec::new(),
            kept: HashSet::new(),
            reader: None,
            received: Vec::new(),
            messages: Vec::new(),
            identities: Vec::new(),
            errors: Vec::new(),
            refused: 0,
            duplicates: 0,
            passcode_results: Vec::new(),
        }
    }

    /// Starts the handshake: queues the `HostHello`.
    pub fn connect(&mut self) {
        self.out.clear();
        self.endpoint.connect(HOST_NONCE);
    }

    pub fn is_secured(&self) -> bool {
        self.endpoint.is_secured()
    }

    /// Pre-issues a challenge for the reader's next session ([`Host::preissue`]).
    pub fn preissue_challenge(&mut self) -> String {
        let mut challenge = [0u8; 32];
        self.rng.fill_bytes(&mut challenge);
        self.preissued.push(challenge);
        match self.endpoint.send(&Message::HostChallenge { challenge }) {
            Ok(()) => "host → reader  HostChallenge (for the next card)".into(),
            Err(e) => format!("host could not send HostChallenge: {e:?}"),
        }
    }

    /// Queues a host → reader message (only once the link is secured: nothing else passes).
    pub fn send(&mut self, msg: &Message<'_>) -> Result<(), ProtocolError> {
        self.endpoint.send(msg)
    }

    /// The next frame for the pipe.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front().or_else(|| self.endpoint.poll_transmit())
    }

    /// Takes bytes from the pipe; the frames to send back come from [`Host::poll_transmit`].
    pub fn receive(&mut self, bytes: &[u8]) -> Turn {
        let mut turn = Turn::default();
        let events = self.endpoint.receive(bytes);
        // What the endpoint queued by itself while taking the bytes in: acknowledgements of
        // status messages, and acknowledgements again of results this host already kept (a
        // re-send after a lost acknowledgement, never handed up: `AlreadyKept`).
        while let Some(f) = self.endpoint.poll_transmit() {
            self.out.push_back(f);
        }
        for event in events {
            match event {
                HostEvent::AlreadyKept { session, seq } => {
                    self.duplicates += 1;
                    turn.lines.push(format!(
                        "host           {session:08x}/{seq} came again: already kept, acknowledged again"
                    ));
                }
                HostEvent::Secured(info) => {
                    turn.lines.push(format!(
                        "reader → host  ReaderHello serial={} model={} firmware={}: key check OK, link secured",
                        info.serial, info.model, info.firmware
                    ));
                    self.reader = Some(info);
                    turn.secured = true;
                }
                HostEvent::NeedsPairing(info) => {
                    self.refused += 1;
                    turn.lines.push(format!("host: reader {} is not paired with this host", info.serial));
                }
                HostEvent::KeyMismatch(info) => {
                    self.refused += 1;
                    turn.lines.push(format!("host: reader {} holds another pairing key", info.serial));
                }
                HostEvent::Result(inbound) => {
                    let key = (inbound.session, inbound.seq);
                    self.take(&inbound, &mut turn.lines);
                    // Recorded: now (and only now) acknowledge it, like the driver after its
                    // journal write.
                    self.kept.insert(key);
                    self.endpoint.ack(key.0, key.1);
                }
                HostEvent::Status(inbound) => self.take(&inbound, &mut turn.lines),
                HostEvent::Paired { code, .. } => {
                    turn.lines.push(format!("host           paired: staff accepted {code:06} on the reader"));
                }
                HostEvent::PairingCode { code } => {
                    turn.lines
                        .push(format!("host           pairing code {code:06}: confirm it on the reader"));
                }
                HostEvent::PairingRefused(outcome) => {
                    self.refused += 1;
                    turn.lines.push(format!("host           pairing refused by the reader: {outcome:?}"));
                }
                HostEvent::Rejected(e) => {
                    self.refused += 1;
                    turn.lines.push(format!("host refused a frame: {e:?}"));
                }
            }
        }
        turn
    }

    /// The application's part: record the message and answer it.
    fn take(&mut self, inbound: &Inbound, lines: &mut Vec<String>) {
        let session = inbound.session;
        let message = match inbound.message() {
            Ok(m) => m,
            Err(e) => {
                self.refused += 1;
                lines.push(format!("host could not decode a message: {e:?}"));
                return;
            }
        };
        // The reader's answer to the passcode provision: not a session message.
        if let Message::PasscodeResult { account, outcome } = message {
            lines.push(format!("reader → host  PasscodeResult account={account} {outcome:?}"));
            self.passcode_results.push(outcome);
            return;
        }
        let line = format!("{session:08x}/{} {}", inbound.seq, summary(&message));
        self.received.push(line.clone());
        self.messages.push(HostRecord {
            session,
            seq: inbound.seq,
            msg_type: inbound.msg_type(),
            inbound: inbound.clone(),
        });
        lines.push(format!("reader → host  {line}"));
        match message {
            // The reader's session took the pre-issued challenge.
            Message::CardDetected { .. } if self.preissue => {}
            Message::CardRemoved if self.preissue => lines.push(self.preissue_challenge()),
            Message::CardDetected { .. } => {
                let mut challenge = [0u8; 32];
                self.rng.fill_bytes(&mut challenge);
                self.challenges.insert(session, challenge);
                lines.push(match self.endpoint.send(&Message::HostChallenge { challenge }) {
                    Ok(()) => "host → reader  HostChallenge (fresh for this session)".into(),
                    Err(e) => format!("host could not send HostChallenge: {e:?}"),
                });
            }
            Message::CertificateRead { .. } => {
                let registered = self.registered;
                lines.push(match self.endpoint.send(&Message::RegistrationStatus { registered }) {
                    Ok(()) => format!("host → reader  RegistrationStatus registered={registered}"),
                    Err(e) => format!("host could not send RegistrationStatus: {e:?}"),
                });
            }
            Message::VerifiedIdentity(v) => {
                let record = self.check_identity(session, &v);
                if record.proof.is_ok() {
                    let c = match v.proof {
                        Proof::CardSignature { challenge, .. }
                        | Proof::ReaderAttestation { challenge, .. } => challenge,
                    };
                    // Single use.
                    self.preissued.retain(|p| *p != c);
                }
                lines.push(match &record.proof {
                    Ok(()) => format!(
                        "host checked   {} of the {:?} identity: OK",
                        if record.card_signed { "card signature" } else { "reader attestation" },
                        record.method
                    ),
                    Err(e) => format!("host checked   identity proof: FAILED ({e})"),
                });
                self.identities.push(record);
            }
            Message::Error { code, remedy, .. } => self.errors.push(ErrorRecord { session, code, remedy }),
            _ => {}
        }
    }

    fn check_identity(&self, session: u32, v: &VerifiedIdentity<'_>) -> IdentityRecord {
        let claimed = match v.proof {
            Proof::CardSignature { challenge, .. } | Proof::ReaderAttestation { challenge, .. } => challenge,
        };
        let issued = self
            .challenges
            .get(&session)
            .copied()
            .or_else(|| self.preissued.iter().find(|p| **p == claimed).copied());
        let (card_signed, proof) = match v.proof {
            Proof::CardSignature { challenge, signature } => {
                let result = if Some(challenge) != issued {
                    Err("challenge is not the one issued for this session".to_string())
                } else {
                    Certificate::parse(v.auth_cert).map_err(|e| format!("certificate: {e}")).and_then(|c| {
                        c.public_key
                            .verify_sha256(&challenge, signature)
                            .map_err(|e| format!("card signature: {e}"))
                    })
                };
                (true, result)
            }
            Proof::ReaderAttestation { challenge, attestation } => {
                let result = if Some(challenge) != issued {
                    Err("challenge is not the one issued for this session".to_string())
                } else {
                    let expected = reader_attestation(
                        &self.pairing,
                        &challenge,
                        v.auth_cert,
                        v.method.to_wire(),
                        v.staff_account,
                        v.verified_at,
                    );
                    if expected[..] == attestation[..] {
                        Ok(())
                    } else {
                        Err("reader attestation does not verify".to_string())
                    }
                };
                (false, result)
            }
        };
        IdentityRecord {
            session,
            method: v.method,
            card_kind: v.card_kind,
            consents: v.consents,
            staff_account: v.staff_account.map(str::to_string),
            registration: v.registration,
            cert_expiry: v.cert_expiry,
            auth_cert: v.auth_cert.to_vec(),
            card_signed,
            proof,
        }
    }
}
