//! The proof and the verified identity.
//!
//! - The host's challenge is signed by the card's auth key (after the PIN is verified, or on
//!   an iPhone, which asks its owner itself); face and 目視 are attested by the reader with
//!   the pairing key instead.
//! - Without the challenge yet, the session waits for it (up to the operation timeout), for
//!   the signature or for the identity.
//! - One verified identity at most per session, and none after an abort; it ends the session.

use shikaku_protocol::auth::reader_attestation;
use shikaku_protocol::message::{AuthMethod, CardKind, ErrorCode};

use super::{Action, CardOp, Instant, Out, Outgoing, Screen, Session, State, Validity, SIGNATURE_LEN};

/// What a session waiting for the host's challenge does once it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AwaitFor {
    Signature,
    Identity,
    /// The host's answer on registration ([`Session::offer_registration`]); a challenge
    /// arriving meanwhile is kept, and the wait goes on.
    Registration,
}

impl Session {
    /// Asks the card to sign the host's challenge, or waits for the challenge first.
    pub(super) fn sign(&mut self, now: Instant, out: &mut Out) {
        match self.ctx.challenge {
            Some(challenge) => {
                out.push(Action::Card(CardOp::SignChallenge { challenge }));
                self.enter(now, State::Signing, Some(self.config.operation_timeout));
            }
            None => self.await_challenge(now, AwaitFor::Signature, out),
        }
    }

    fn await_challenge(&mut self, now: Instant, purpose: AwaitFor, out: &mut Out) {
        out.push(Action::Show(Screen::WaitingForHost));
        self.enter(now, State::AwaitChallenge { purpose }, Some(self.config.operation_timeout));
    }

    /// The challenge came while the session was waiting for it.
    pub(super) fn challenge_arrived(&mut self, now: Instant, purpose: AwaitFor, out: &mut Out) {
        match purpose {
            AwaitFor::Signature => self.sign(now, out),
            AwaitFor::Identity => self.emit_identity(now, out),
            AwaitFor::Registration => {}
        }
    }

    pub(super) fn on_signed(&mut self, now: Instant, signature: &[u8], out: &mut Out) {
        if signature.len() != SIGNATURE_LEN {
            self.abort(now, ErrorCode::CARD_PROTOCOL, out);
            return;
        }
        self.ctx.signature.clear();
        let _ = self.ctx.signature.extend_from_slice(signature);
        if self.ctx.kind == CardKind::IPhone {
            self.ctx.method = Some(AuthMethod::OnDevice);
        }
        self.confirmed(now, out);
    }

    pub(super) fn emit_identity(&mut self, now: Instant, out: &mut Out) {
        let Some(challenge) = self.ctx.challenge else {
            self.await_challenge(now, AwaitFor::Identity, out);
            return;
        };
        if self.ctx.identity_sent {
            return;
        }
        let method = self.ctx.method.unwrap_or(AuthMethod::Visual);
        if matches!(method, AuthMethod::Face | AuthMethod::Visual) {
            let staff =
                if method == AuthMethod::Visual { self.staff.as_ref().map(|s| s.as_str()) } else { None };
            self.ctx.attestation = reader_attestation(
                &self.pairing_key,
                &challenge,
                &self.ctx.cert,
                method.to_wire(),
                staff,
                self.ctx.verified_at.as_millis(),
            );
        }
        self.ctx.identity_sent = true;
        self.send(out, Outgoing::VerifiedIdentity);
        let renewal_needed =
            matches!(self.ctx.validity, Some(Validity::ExpiringSoon { .. } | Validity::Grace { .. }));
        self.finish(now, Screen::Done { method, renewal_needed }, out);
    }
}
