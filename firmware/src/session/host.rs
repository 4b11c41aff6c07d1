//! Host messages, in and out.
//!
//! - The challenge, the registration status, the time sync and a cancel are taken only from
//!   the paired (authenticated) link; so are passcode hashes (the [`super::PasscodeStore`]
//!   refuses them otherwise).
//! - A challenge that comes before the card waits for the next card's session; one session
//!   keeps the first challenge it gets.
//! - Each [`super::Action::Send`] must be encoded (see [`Session::host_message`]) before the
//!   next event is handled: the message borrows the session's buffers.

use shikaku_protocol::message::{
    AuthMethod, ErrorCode, Message, PasscodeOutcome, Proof, VerifiedIdentity, VisualStopReason,
};

use super::visual::{AccountId, ProvisionError};
use super::{Action, AwaitFor, Instant, Out, Outgoing, Phase, Session, State, ToHost, Validity};

impl Session {
    fn passcode_result(&mut self, account: &str, outcome: PasscodeOutcome, out: &mut Out) {
        // An over-long name was refused as BadAccount; echo what fits.
        let mut id = AccountId::new();
        for c in account.chars() {
            if id.push(c).is_err() {
                break;
            }
        }
        out.push(Action::PasscodeResult { account: id, outcome });
    }

    /// Builds the protocol message for a [`ToHost`] from the session's buffers.
    #[must_use]
    pub fn host_message(&self, out: &ToHost) -> Message<'_> {
        match out.message {
            Outgoing::CardDetected { kind } => Message::CardDetected { kind },
            Outgoing::CardRemoved => Message::CardRemoved,
            Outgoing::CertificateRead => Message::CertificateRead { auth_cert: &self.ctx.cert },
            Outgoing::CertExpiryNotice { expiry } => Message::CertExpiryNotice { expiry },
            Outgoing::AuthModesOffered { modes } => Message::AuthModesOffered { modes },
            Outgoing::AuthModeChosen { method } => Message::AuthModeChosen { method },
            Outgoing::PinOutcome { result, tries_left } => Message::PinOutcome { result, tries_left },
            Outgoing::FaceProgress { stage, attempt } => Message::FaceProgress { stage, attempt },
            Outgoing::FaceOutcome { decision, score_milli, attempts } => {
                Message::FaceOutcome { decision, score_milli, attempts }
            }
            Outgoing::VisualModeStarted => Message::VisualModeStarted {
                staff_account: self.staff.as_ref().map(|s| s.as_str()).unwrap_or(""),
            },
            Outgoing::VisualModeStopped { reason } => Message::VisualModeStopped { reason },
            Outgoing::VisualUnlockFailed { failures, locked_for_ms } => {
                Message::VisualUnlockFailed { failures, locked_for_ms }
            }
            Outgoing::ConsentAnswers { consents } => Message::ConsentAnswers { consents },
            Outgoing::VerifiedIdentity => {
                let c = &self.ctx;
                let challenge = c.challenge.unwrap_or([0; 32]);
                let method = c.method.unwrap_or(AuthMethod::Visual);
                let proof = match method {
                    AuthMethod::Pin | AuthMethod::OnDevice => {
                        Proof::CardSignature { challenge, signature: &c.signature }
                    }
                    AuthMethod::Face | AuthMethod::Visual => {
                        Proof::ReaderAttestation { challenge, attestation: &c.attestation }
                    }
                };
                Message::VerifiedIdentity(VerifiedIdentity {
                    auth_cert: &c.cert,
                    proof,
                    method,
                    card_kind: c.kind,
                    consents: c.consents,
                    staff_account: if method == AuthMethod::Visual {
                        c.staff.as_ref().map(|s| s.as_str())
                    } else {
                        None
                    },
                    registration: c.registration,
                    cert_expiry: c
                        .validity
                        .map(Validity::to_wire)
                        .unwrap_or(shikaku_protocol::message::CertExpiry::DaysLeft(0)),
                    card_detected_at: c.detected_at.as_millis(),
                    verified_at: c.verified_at.as_millis(),
                })
            }
            Outgoing::Error { code, remedy } => Message::Error { code, remedy, detail: "" },
        }
    }

    pub(super) fn on_host(&mut self, now: Instant, message: Message<'_>, authenticated: bool, out: &mut Out) {
        match message {
            Message::HostChallenge { challenge } if authenticated => match self.state {
                State::Idle | State::VisualArmed | State::PasscodeEntry { .. } => {
                    self.pending_challenge = Some(challenge);
                }
                _ if self.ctx.challenge.is_none() => {
                    self.ctx.challenge = Some(challenge);
                    if let State::AwaitChallenge { purpose } = self.state {
                        self.challenge_arrived(now, purpose, out);
                    }
                }
                _ => {}
            },
            Message::RegistrationStatus { registered } if authenticated && self.phase() != Phase::Idle => {
                self.ctx.registered = Some(registered);
                if let State::AwaitChallenge { purpose: AwaitFor::Registration } = self.state {
                    self.offer_registration(now, out);
                }
            }
            Message::TimeSync { unix_ms } if authenticated => {
                self.clock_offset_ms = (unix_ms as i64).saturating_sub(now.as_millis() as i64);
                self.clock_synced = true;
            }
            Message::PasscodeProvision { account, salt, iterations, hash } => {
                let outcome = match self.passcodes.provision(account, salt, iterations, hash, authenticated) {
                    Ok(()) => PasscodeOutcome::Stored,
                    Err(ProvisionError::Full) => PasscodeOutcome::StoreFull,
                    Err(ProvisionError::BadAccount) => PasscodeOutcome::BadAccount,
                    Err(ProvisionError::TooFewIterations) => PasscodeOutcome::TooFewIterations,
                    Err(ProvisionError::Unauthenticated) => return,
                };
                self.passcode_result(account, outcome, out);
            }
            Message::PasscodeRevoke { account } => {
                let outcome = match self.passcodes.revoke(account, authenticated) {
                    Ok(true) => PasscodeOutcome::Revoked,
                    Ok(false) => PasscodeOutcome::UnknownAccount,
                    Err(_) => return,
                };
                self.passcode_result(account, outcome, out);
            }
            Message::Cancel { .. } if authenticated => match self.state {
                State::Idle => {}
                State::VisualArmed | State::PasscodeEntry { .. } => {
                    if self.staff.is_some() {
                        self.send(out, Outgoing::VisualModeStopped { reason: VisualStopReason::Cancelled });
                    }
                    self.return_to_idle(now, out, true);
                }
                _ => self.abort(now, ErrorCode::CANCELLED, out),
            },
            _ => {}
        }
    }
}
