//! 初回登録: the host answers the certificate with whether the card is registered for
//! insurance use; when it is not, the reader offers to register it after the holder is
//! confirmed (and after the consents), and the answer travels in the verified identity.

use super::{Action, Instant, Key, Out, Screen, Session, State};

impl Session {
    /// After the consents: the registration offer for an unregistered card, else the
    /// verified identity.
    pub(super) fn offer_registration(&mut self, now: Instant, out: &mut Out) {
        if self.ctx.registered == Some(false) {
            out.push(Action::Show(Screen::RegistrationOffer));
            self.enter(now, State::Registration, Some(self.config.input_timeout));
        } else {
            self.emit_identity(now, out);
        }
    }

    /// Keys on the registration offer. Returns whether the key was taken.
    pub(super) fn registration_key(&mut self, now: Instant, key: Key, out: &mut Out) -> bool {
        match key {
            Key::Yes | Key::No => {
                self.ctx.registration = key == Key::Yes;
                self.emit_identity(now, out);
                true
            }
            _ => false,
        }
    }
}
