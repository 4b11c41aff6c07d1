//! 初回登録: the host answers the certificate with whether the card is registered for
//! insurance use; when it is not, the reader offers to register it after the holder is
//! confirmed (and after the consents), and the answer travels in the verified identity.
//!
//! The host asks the eligibility system, which takes a network round trip: a quick patient can
//! finish the consents first. The reader then waits for the answer ("please wait", at most
//! [`super::Config::registration_wait`]) instead of taking its absence for "registered" — which
//! would skip the offer and have the eligibility system refuse the unregistered card.

use super::{Action, AwaitFor, Instant, Key, Out, Screen, Session, State};

impl Session {
    /// After the consents: the registration offer for an unregistered card, else the
    /// verified identity.
    pub(super) fn offer_registration(&mut self, now: Instant, out: &mut Out) {
        match self.ctx.registered {
            Some(false) => {
                out.push(Action::Show(Screen::RegistrationOffer));
                self.enter(now, State::Registration, Some(self.config.input_timeout));
            }
            Some(true) => self.emit_identity(now, out),
            None => {
                out.push(Action::Show(Screen::WaitingForHost));
                let purpose = AwaitFor::Registration;
                self.enter(now, State::AwaitChallenge { purpose }, Some(self.config.registration_wait));
            }
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
