//! The minimal host side of the rig: the reception PC's end of the paired link.
//!
//! It speaks real protocol frames over the rig's byte pipe: a [`Link`] secured with the
//! connection's [`LinkKeys`], acknowledgements for every result and a [`DuplicateFilter`] so a
//! retransmitted result is processed once. It answers `CardDetected` with a fresh
//! `HostChallenge`, `CertificateRead` with `RegistrationStatus`, and checks every
//! `VerifiedIdentity`: the card's signature over the challenge with the certificate's public
//! key (PIN, iPhone), or the reader attestation with the pairing key (face, 目視).

use std::collections::HashMap;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use shikaku_firmware::card::der::Certificate;
use shikaku_protocol::auth::{reader_attestation, LinkKeys, PairingKey};
use shikaku_protocol::deframer::Deframer;
use shikaku_protocol::message::{
    AuthMethod, CardKind, CertExpiry, Consents, ErrorCode, Proof, Remedy, VerifiedIdentity,
};
use shikaku_protocol::reliable::{Delivery, DuplicateFilter};
use shikaku_protocol::{Frame, Link, Message, Role, MAX_FRAME};

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

/// An error the reader reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorRecord {
    pub session: u32,
    pub code: ErrorCode,
    pub remedy: Remedy,
}

pub struct Host {
    link: Link,
    deframer: Box<Deframer<MAX_FRAME>>,
    filter: DuplicateFilter<8>,
    pairing: PairingKey,
    rng: ChaCha20Rng,
    seq: u32,
    /// Answer to `CertificateRead`.
    pub registered: bool,
    challenges: HashMap<u32, [u8; 32]>,
    /// Every message taken in, one line each (`session/seq name details`).
    pub received: Vec<String>,
    pub identities: Vec<IdentityRecord>,
    pub errors: Vec<ErrorRecord>,
    /// Frames refused by the link (MAC, direction) or the deframer.
    pub refused: u32,
    /// Results that arrived again and were only acknowledged.
    pub duplicates: u32,
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
    pub fn new(keys: &LinkKeys, pairing: PairingKey, registered: bool, seed: u64) -> Self {
        let mut link = Link::new(Role::Host);
        link.secure(keys);
        Self {
            link,
            deframer: Box::new(Deframer::new()),
            filter: DuplicateFilter::new(),
            pairing,
            rng: ChaCha20Rng::seed_from_u64(seed),
            seq: 0,
            registered,
            challenges: HashMap::new(),
            received: Vec::new(),
            identities: Vec::new(),
            errors: Vec::new(),
            refused: 0,
            duplicates: 0,
        }
    }

    /// Encodes a host message as one frame.
    pub fn frame(&mut self, session: u32, msg: &Message<'_>) -> Vec<u8> {
        let mut buf = vec![0u8; MAX_FRAME];
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let n = self.link.encode(&mut buf, session, seq, msg).expect("host message encodes");
        buf.truncate(n);
        buf
    }

    /// Takes bytes from the pipe; returns the frames to send back and one transcript line per
    /// message taken in.
    pub fn receive(&mut self, bytes: &[u8]) -> (Vec<Vec<u8>>, Vec<String>) {
        let mut frames = Vec::new();
        let mut rest = bytes;
        loop {
            let n = self.deframer.push(rest);
            rest = &rest[n..];
            while let Some(f) = self.deframer.next_frame() {
                match f {
                    Ok(f) => frames.push(f.as_bytes().to_vec()),
                    Err(_) => self.refused += 1,
                }
            }
            if rest.is_empty() {
                break;
            }
        }
        let mut out = Vec::new();
        let mut lines = Vec::new();
        for bytes in frames {
            let frame = Frame::new_unchecked(&bytes[..]);
            let received = match self.link.decode(&frame) {
                Ok(r) => r,
                Err(e) => {
                    self.refused += 1;
                    lines.push(format!("host refused a frame: {e:?}"));
                    continue;
                }
            };
            let (session, seq) = (received.header.session, received.header.seq);
            if !received.authenticated {
                self.refused += 1;
                lines.push(format!("host refused unauthenticated {}", summary(&received.message)));
                continue;
            }
            if let Message::Ack { .. } = received.message {
                continue;
            }
            if received.message.is_result() {
                out.push(self.frame(session, &Message::Ack { session, seq }));
                if self.filter.check(session, seq) == Delivery::Duplicate {
                    self.duplicates += 1;
                    continue;
                }
            }
            let line = format!("{session:08x}/{seq} {}", summary(&received.message));
            self.received.push(line.clone());
            lines.push(format!("reader → host  {line}"));
            match received.message {
                Message::CardDetected { .. } => {
                    let mut challenge = [0u8; 32];
                    self.rng.fill_bytes(&mut challenge);
                    self.challenges.insert(session, challenge);
                    out.push(self.frame(session, &Message::HostChallenge { challenge }));
                    lines.push("host → reader  HostChallenge (fresh for this session)".into());
                }
                Message::CertificateRead { .. } => {
                    let registered = self.registered;
                    out.push(self.frame(session, &Message::RegistrationStatus { registered }));
                    lines.push(format!("host → reader  RegistrationStatus registered={registered}"));
                }
                Message::VerifiedIdentity(v) => {
                    let record = self.check_identity(session, &v);
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
                Message::Error { code, remedy, .. } => {
                    self.errors.push(ErrorRecord { session, code, remedy })
                }
                _ => {}
            }
        }
        (out, lines)
    }

    fn check_identity(&self, session: u32, v: &VerifiedIdentity<'_>) -> IdentityRecord {
        let issued = self.challenges.get(&session).copied();
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
