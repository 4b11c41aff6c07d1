//! The card's PIN, typed on the reader's keypad.
//!
//! - A PIN travels only inside [`CardOp::VerifyPin`]; the digits are never echoed, and they
//!   are wiped as soon as they are used, cleared, or the entry is left.
//! - The core only sends a VERIFY with tries left > 1, or after the holder confirmed the last
//!   try: at one try left the complete PIN waits for an explicit yes; a no spends no try
//!   (face and 目視 stay open).
//! - A wrong PIN shows the tries left and asks again; no tries left, or a lock, leads to the
//!   PIN lock screen (face or 目視 from there).
//! - On Android the certificate is readable only after the PIN: it is read then, and its
//!   dates are checked then.

use shikaku_card::secret::Pin4;
use shikaku_protocol::message::{AuthMethod, ErrorCode, PinResult};

use super::digits::DigitEntry;
use super::Validity;
use super::{
    Action, CardOp, CardReply, Instant, Key, Out, Outgoing, Phase, PinState, Screen, Session, State,
};

impl Session {
    pub(super) fn start_pin_entry(&mut self, now: Instant, out: &mut Out) {
        out.push(Action::Show(Screen::PinEntry { entered: 0, tries_left: self.ctx.tries_left() }));
        self.enter(now, State::PinEntry { entry: DigitEntry::new() }, Some(self.config.input_timeout));
    }

    pub(super) fn pin_locked(&mut self, now: Instant, out: &mut Out) {
        let face = self.ctx.face_usable();
        out.push(Action::Show(Screen::PinLocked { face }));
        self.enter(now, State::PinLocked, Some(self.config.input_timeout));
    }

    /// A finished PIN from a secure PIN pad; taken only while the PIN is asked for.
    pub(super) fn on_pin_entered(&mut self, now: Instant, pin: Pin4, out: &mut Out) {
        if self.phase() == Phase::PinEntry {
            self.submit_pin(now, pin, false, out);
        }
    }

    /// Keys on the PIN entry and the last-try question. Returns whether the key was taken.
    pub(super) fn pin_key(&mut self, now: Instant, key: Key, out: &mut Out) -> bool {
        match (&mut self.state, key) {
            (State::PinEntry { entry }, Key::Digit(d)) if d <= 9 => {
                if entry.push(d) {
                    self.pin_complete(now, out);
                } else {
                    let entered = entry.entered();
                    out.push(Action::Show(Screen::PinEntry { entered, tries_left: self.ctx.tries_left() }));
                    self.deadline = Some(now + self.config.input_timeout);
                }
            }
            (State::PinEntry { .. }, Key::Clear) => self.start_pin_entry(now, out),
            (State::PinEntry { entry }, Key::Cancel) => {
                entry.clear();
                self.pin_locked_or_methods(now, out);
            }
            (State::PinConfirmLastTry { .. }, Key::Yes) => self.send_typed_pin(now, true, out),
            (State::PinConfirmLastTry { entry }, Key::No | Key::Cancel) => {
                // No try spent: the digits are wiped, face and 目視 stay open.
                entry.clear();
                self.send(
                    out,
                    Outgoing::PinOutcome { result: PinResult::Declined, tries_left: self.ctx.tries_left() },
                );
                self.pin_locked_or_methods(now, out);
            }
            _ => return false,
        }
        true
    }

    /// The PIN is complete: at one try left, ask first (the digits wait, wiped on any exit).
    fn pin_complete(&mut self, now: Instant, out: &mut Out) {
        if self.ctx.tries_left() <= 1 {
            out.push(Action::Show(Screen::PinConfirmLastTry));
            if let State::PinEntry { entry } = core::mem::replace(&mut self.state, State::Idle) {
                self.enter(now, State::PinConfirmLastTry { entry }, Some(self.config.input_timeout));
            }
            return;
        }
        self.send_typed_pin(now, false, out);
    }

    fn send_typed_pin(&mut self, now: Instant, confirmed: bool, out: &mut Out) {
        let pin = match &self.state {
            State::PinEntry { entry } | State::PinConfirmLastTry { entry } => entry.pin(),
            _ => None,
        };
        match pin {
            Some(pin) => self.submit_pin(now, pin, confirmed, out),
            None => self.start_pin_entry(now, out),
        }
    }

    fn submit_pin(&mut self, now: Instant, pin: Pin4, last_try_confirmed: bool, out: &mut Out) {
        self.clear_digits();
        self.send(out, Outgoing::AuthModeChosen { method: AuthMethod::Pin });
        out.push(Action::Show(Screen::Reading));
        out.push(Action::Card(CardOp::VerifyPin { pin, last_try_confirmed }));
        self.enter(now, State::VerifyingPin, Some(self.config.operation_timeout));
    }

    /// The card's answers to the VERIFY and, on Android, to the certificate read after it.
    pub(super) fn on_pin_reply(&mut self, now: Instant, reply: CardReply<'_>, out: &mut Out) {
        match (self.phase(), reply) {
            (Phase::VerifyingPin, CardReply::PinVerified) => {
                self.ctx.pin = PinState::TriesLeft(3);
                self.send(out, Outgoing::PinOutcome { result: PinResult::Verified, tries_left: 3 });
                self.ctx.method = Some(AuthMethod::Pin);
                if self.ctx.cert.is_empty() {
                    out.push(Action::Card(CardOp::ReadCertificate));
                    self.enter(now, State::ReadingCertificate, Some(self.config.operation_timeout));
                } else {
                    self.sign(now, out);
                }
            }
            (Phase::ReadingCertificate, CardReply::Certificate { auth_cert, not_after_unix_s }) => {
                if auth_cert.is_empty() || self.ctx.cert.extend_from_slice(auth_cert).is_err() {
                    self.abort(now, ErrorCode::CARD_PROTOCOL, out);
                    return;
                }
                self.send(out, Outgoing::CertificateRead);
                let validity = Validity::judge(not_after_unix_s, self.wall(now).as_secs());
                self.ctx.validity = Some(validity);
                match validity {
                    Validity::Valid { .. } => {}
                    Validity::ExpiringSoon { .. } | Validity::Grace { .. } => {
                        self.send(out, Outgoing::CertExpiryNotice { expiry: validity.to_wire() });
                    }
                    Validity::Refused { days_past } => {
                        self.send(out, Outgoing::CertExpiryNotice { expiry: validity.to_wire() });
                        let code = ErrorCode::CERT_EXPIRED_PAST_GRACE;
                        self.send(out, Outgoing::Error { code, remedy: code.remedy() });
                        self.finish(now, Screen::CertExpiredRefused { days_past }, out);
                        return;
                    }
                }
                self.sign(now, out);
            }
            (Phase::VerifyingPin, CardReply::PinWrong { tries_left }) => {
                self.ctx.pin = PinState::TriesLeft(tries_left);
                self.send(out, Outgoing::PinOutcome { result: PinResult::Wrong, tries_left });
                if tries_left == 0 {
                    self.pin_locked(now, out);
                } else {
                    out.push(Action::Show(Screen::PinWrong { tries_left }));
                    self.start_pin_entry(now, out);
                }
            }
            (Phase::VerifyingPin, CardReply::PinLocked) => {
                self.ctx.pin = PinState::Unavailable;
                self.send(out, Outgoing::PinOutcome { result: PinResult::Locked, tries_left: 0 });
                self.pin_locked(now, out);
            }
            _ => {} // late or unexpected answers are ignored; the deadline covers silence
        }
    }
}
