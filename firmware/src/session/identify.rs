//! A card arrives: identification, the certificate-validity check and the choice of method.
//!
//! - The certificate's end of validity is judged by the rule of [`super::expiry`]: a notice
//!   when it ends within 3 months or ended within the last 3 months (grace), a refusal after
//!   that.
//! - On Android the certificate is behind the PIN: it is read, and its dates are checked,
//!   after the PIN.
//! - After the certificate check, 目視 goes to the visual check; an iPhone asks its owner
//!   itself (the reader only asks it to sign); Android types the phone's JPKI PIN on the
//!   reader; a card chooses between face and PIN, as far as each is usable.
//! - From the method choice, a PIN lock or a failed face, staff can take over (目視).

use shikaku_protocol::message::{AuthMethod, AuthModes, CardKind, ErrorCode};

use super::passcode::AfterUnlock;
use super::{Action, Instant, Key, Out, Outgoing, Phase, PinState, Screen, Session, State, Validity};

impl Session {
    pub(super) fn on_identified(
        &mut self,
        now: Instant,
        kind: CardKind,
        cert: &[u8],
        not_after: i64,
        pin: PinState,
        out: &mut Out,
    ) {
        self.ctx.kind = kind;
        self.ctx.pin = pin;
        self.ctx.cert.clear();
        if kind == CardKind::Unknown {
            self.send(out, Outgoing::CardDetected { kind });
            self.abort(now, ErrorCode::NOT_A_MY_NUMBER_CARD, out);
            return;
        }
        if cert.is_empty() && kind == CardKind::Android {
            // The certificate comes after the PIN; its dates are checked then.
            self.send(out, Outgoing::CardDetected { kind });
            self.after_cert_notice(now, out);
            return;
        }
        if self.ctx.cert.extend_from_slice(cert).is_err() || cert.is_empty() {
            self.abort(now, ErrorCode::CARD_PROTOCOL, out);
            return;
        }
        self.send(out, Outgoing::CardDetected { kind });
        self.send(out, Outgoing::CertificateRead);
        let today = self.wall(now).as_secs();
        let validity = Validity::judge(not_after, today);
        self.ctx.validity = Some(validity);
        match validity {
            Validity::Valid { .. } => self.after_cert_notice(now, out),
            Validity::ExpiringSoon { days_left } => {
                self.send(out, Outgoing::CertExpiryNotice { expiry: validity.to_wire() });
                out.push(Action::Show(Screen::CertExpiringSoon { days_left }));
                self.enter(now, State::CertNotice, Some(self.config.notice));
            }
            Validity::Grace { days_past } => {
                self.send(out, Outgoing::CertExpiryNotice { expiry: validity.to_wire() });
                out.push(Action::Show(Screen::CertExpiredGrace { days_past }));
                self.enter(now, State::CertNotice, Some(self.config.notice));
            }
            Validity::Refused { days_past } => {
                self.send(out, Outgoing::CertExpiryNotice { expiry: validity.to_wire() });
                let code = ErrorCode::CERT_EXPIRED_PAST_GRACE;
                self.send(out, Outgoing::Error { code, remedy: code.remedy() });
                self.finish(now, Screen::CertExpiredRefused { days_past }, out);
            }
        }
    }

    /// After the certificate check: 目視 goes to the visual check, else the method choice.
    pub(super) fn after_cert_notice(&mut self, now: Instant, out: &mut Out) {
        if self.staff.is_some() {
            self.visual_check(now, out);
            return;
        }
        match self.ctx.kind {
            CardKind::IPhone => {
                // The phone asks its owner; the reader only asks it to sign.
                self.send(
                    out,
                    Outgoing::AuthModesOffered { modes: AuthModes::EMPTY.with(AuthMethod::OnDevice) },
                );
                self.ctx.method = Some(AuthMethod::OnDevice);
                out.push(Action::Show(Screen::ConfirmOnPhone));
                self.sign(now, out);
            }
            CardKind::Android => {
                // The phone's JPKI PIN, typed on the reader.
                self.send(out, Outgoing::AuthModesOffered { modes: AuthModes::EMPTY.with(AuthMethod::Pin) });
                if self.ctx.pin_usable() {
                    self.start_pin_entry(now, out);
                } else {
                    self.pin_locked(now, out);
                }
            }
            _ => self.offer_methods(now, out),
        }
    }

    fn offer_methods(&mut self, now: Instant, out: &mut Out) {
        let face = self.ctx.face_usable();
        let pin = self.ctx.pin_usable();
        let mut modes = AuthModes::EMPTY;
        if face {
            modes = modes.with(AuthMethod::Face);
        }
        if pin {
            modes = modes.with(AuthMethod::Pin);
        }
        self.send(out, Outgoing::AuthModesOffered { modes });
        out.push(Action::Show(Screen::ChooseMethod { face, pin }));
        self.enter(now, State::ChooseMethod, Some(self.config.input_timeout));
    }

    /// Back from a PIN entry or a passcode entry that did not lead anywhere: the PIN lock
    /// screen, the PIN again (Android), or the method choice.
    pub(super) fn pin_locked_or_methods(&mut self, now: Instant, out: &mut Out) {
        if self.ctx.pin == PinState::Unavailable {
            self.pin_locked(now, out);
        } else if self.ctx.kind == CardKind::Android {
            self.start_pin_entry(now, out);
        } else {
            self.offer_methods(now, out);
        }
    }

    /// Keys on the certificate notice, the method choice, the PIN lock and the failed face
    /// screens. Returns whether the key was taken.
    pub(super) fn method_key(&mut self, now: Instant, key: Key, out: &mut Out) -> bool {
        match (self.phase(), key) {
            (Phase::CertNotice, Key::Enter | Key::Yes) => self.after_cert_notice(now, out),
            (Phase::ChooseMethod | Phase::PinLocked, Key::ChooseFace) if self.ctx.face_usable() => {
                self.start_face(now, out)
            }
            (Phase::ChooseMethod | Phase::FaceFailed, Key::ChoosePin) if self.ctx.pin_usable() => {
                self.start_pin_entry(now, out)
            }
            (Phase::ChooseMethod | Phase::PinLocked | Phase::FaceFailed, Key::Staff) => {
                self.start_passcode(now, AfterUnlock::CheckNow, out)
            }
            _ => return false,
        }
        true
    }
}
