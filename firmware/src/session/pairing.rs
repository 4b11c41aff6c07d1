//! Pairing mode, opened by staff on the reader itself.
//!
//! - The Staff key twice, then a staff passcode (the same accounts and back-off as 目視), opens
//!   pairing mode for [`super::Config::pairing_window`]. A reader with no staff account yet
//!   opens it on the key sequence alone: whoever is at the reader's keypad is staff then. An
//!   unpaired reader takes a pairing request without it (its first pairing).
//! - When the link has confirmed an exchange with the host, the 6-digit code is shown; staff
//!   press Yes only if the reception PC shows the same code. No, Cancel or the input timeout
//!   reject it, and nothing changes on the reader.
//! - Nothing arriving on the cable opens, extends or confirms pairing: only keys do.

use super::{Action, Instant, Key, Out, PairingStep, Screen, Session, State};

impl Session {
    /// Staff asked to pair and, where accounts exist, gave a passcode.
    pub(super) fn open_pairing(&mut self, now: Instant, out: &mut Out) {
        let until = now + self.config.pairing_window;
        out.push(Action::Pairing(PairingStep::Open { until }));
        out.push(Action::Show(Screen::PairingOpen));
        self.enter(now, State::PairingOpen, Some(self.config.pairing_window));
    }

    /// The link confirmed an exchange: show its code for staff to compare.
    pub(super) fn on_pairing_code(&mut self, now: Instant, code: u32, out: &mut Out) {
        match self.state {
            // Idle: an unpaired reader's first pairing (its gate is open without the keys).
            State::Idle | State::PairingOpen => {
                out.push(Action::Show(Screen::PairingCode { code }));
                self.enter(now, State::PairingConfirm, Some(self.config.input_timeout));
            }
            // Mid-reception, or already confirming another: nobody asked for this one.
            _ => out.push(Action::Pairing(PairingStep::Reject)),
        }
    }

    pub(super) fn pairing_key(&mut self, now: Instant, key: Key, out: &mut Out) -> bool {
        match (&self.state, key) {
            (State::PairingOpen, Key::Cancel) => {
                out.push(Action::Pairing(PairingStep::Close));
                self.return_to_idle(now, out, true);
            }
            (State::PairingConfirm, Key::Yes | Key::Enter) => {
                out.push(Action::Pairing(PairingStep::Accept));
                out.push(Action::Show(Screen::PairingDone));
                self.enter(now, State::Idle, None);
            }
            (State::PairingConfirm, Key::No | Key::Cancel) => {
                out.push(Action::Pairing(PairingStep::Reject));
                out.push(Action::Pairing(PairingStep::Close));
                self.return_to_idle(now, out, true);
            }
            _ => return false,
        }
        true
    }

    pub(super) fn pairing_timed_out(&mut self, now: Instant, out: &mut Out) {
        out.push(Action::Pairing(PairingStep::Close));
        self.return_to_idle(now, out, true);
    }
}
