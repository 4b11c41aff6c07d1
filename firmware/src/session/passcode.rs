//! 目視 (visual identity check by staff): the staff passcode unlocks it, then staff compare
//! the holder with the card.
//!
//! - The staff key opens the passcode entry, from automatic mode (the unlock then waits for
//!   the card) or once a card is identified (PIN locked, face failed, or at the method
//!   choice: the card is checked at once).
//! - Passcodes are checked by the [`super::PasscodeStore`] (hashes provisioned over the
//!   paired link only), with its back-off and lock; the digits are wiped at once.
//! - A 目視 unlock lasts one session or a timeout, then the reader is back in automatic mode.

use shikaku_card::secret::wipe;
use shikaku_protocol::message::{AuthMethod, ErrorCode, VisualStopReason};

use super::digits::DigitEntry;
use super::{visual, Action, Duration, Instant, Key, Out, Outgoing, Screen, Session, State, Unlock};

/// Where a passcode unlock leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AfterUnlock {
    /// From automatic mode: wait for the card.
    AwaitCard,
    /// A card is already identified (PIN locked, face failed): check it now.
    CheckNow,
    /// Staff pressed the Staff key twice: the passcode opens pairing mode (see `pairing`).
    OpenPairing,
}

impl AfterUnlock {
    /// The entry screen with `entered` dots.
    fn screen(self, entered: u8) -> Screen {
        match self {
            AfterUnlock::OpenPairing => Screen::PairingPasscode { entered },
            _ => Screen::PasscodeEntry { entered },
        }
    }
}

impl Session {
    /// Keys in automatic mode, on the passcode entry, while 目視 waits for the card, and on
    /// the visual check. Returns whether the key was taken.
    pub(super) fn visual_key(&mut self, now: Instant, key: Key, out: &mut Out) -> bool {
        match (&mut self.state, key) {
            (State::Idle, Key::Staff) => {
                self.new_context();
                self.start_passcode(now, AfterUnlock::AwaitCard, out);
            }
            // The Staff key again before any digit: this passcode is for pairing instead.
            (State::PasscodeEntry { entry, after }, Key::Staff)
                if *after == AfterUnlock::AwaitCard && entry.entered() == 0 =>
            {
                if self.passcodes.accounts() == 0 {
                    self.open_pairing(now, out);
                } else {
                    *after = AfterUnlock::OpenPairing;
                    out.push(Action::Show(Screen::PairingPasscode { entered: 0 }));
                    self.deadline = Some(now + self.config.input_timeout);
                }
            }
            (State::PasscodeEntry { entry, after }, Key::Digit(d)) if d <= 9 => {
                if entry.push(d) {
                    self.check_passcode(now, out);
                } else {
                    let screen = after.screen(entry.entered());
                    out.push(Action::Show(screen));
                    self.deadline = Some(now + self.config.input_timeout);
                }
            }
            (State::PasscodeEntry { entry, after }, Key::Clear) => {
                entry.clear();
                out.push(Action::Show(after.screen(0)));
            }
            (State::PasscodeEntry { entry, after }, Key::Cancel) => {
                entry.clear();
                match *after {
                    AfterUnlock::AwaitCard | AfterUnlock::OpenPairing => self.return_to_idle(now, out, true),
                    AfterUnlock::CheckNow => self.pin_locked_or_methods(now, out),
                }
            }
            // Nothing else on the passcode entry: not even Cancel ends the session.
            (State::PasscodeEntry { .. }, _) => {}
            (State::VisualArmed, Key::Cancel) => {
                self.send(out, Outgoing::VisualModeStopped { reason: VisualStopReason::Cancelled });
                self.staff = None;
                self.return_to_idle(now, out, true);
            }
            (State::VisualCheck, Key::Yes | Key::Enter) => {
                self.ctx.method = Some(AuthMethod::Visual);
                self.send(out, Outgoing::AuthModeChosen { method: AuthMethod::Visual });
                self.confirmed(now, out);
            }
            (State::VisualCheck, Key::No | Key::Cancel) => {
                self.abort(now, ErrorCode::CANCELLED, out);
            }
            _ => return false,
        }
        true
    }

    pub(super) fn start_passcode(&mut self, now: Instant, after: AfterUnlock, out: &mut Out) {
        if self.passcodes.is_locked() {
            out.push(Action::Show(Screen::PasscodeLocked));
            self.back_from_passcode(now, after, out);
            return;
        }
        out.push(Action::Show(Screen::PasscodeEntry { entered: 0 }));
        self.enter(
            now,
            State::PasscodeEntry { entry: DigitEntry::new(), after },
            Some(self.config.input_timeout),
        );
    }

    fn back_from_passcode(&mut self, now: Instant, after: AfterUnlock, out: &mut Out) {
        match after {
            AfterUnlock::AwaitCard | AfterUnlock::OpenPairing => {
                self.enter(now, State::Idle, None);
            }
            AfterUnlock::CheckNow => self.pin_locked_or_methods(now, out),
        }
    }

    fn check_passcode(&mut self, now: Instant, out: &mut Out) {
        let State::PasscodeEntry { entry, after } = &mut self.state else { return };
        let after = *after;
        let mut digits = entry.ascii();
        entry.clear();
        let result = self.passcodes.check(&digits, now);
        wipe(&mut digits);
        if !matches!(result, Unlock::BackingOff { .. }) {
            out.push(Action::SaveLockout { failures: self.passcodes.failures() });
        }
        match result {
            Unlock::Granted(_) if after == AfterUnlock::OpenPairing => self.open_pairing(now, out),
            Unlock::Granted(account) => {
                self.ctx.staff = Some(account.clone());
                self.staff = Some(account);
                self.send(out, Outgoing::VisualModeStarted);
                match after {
                    AfterUnlock::AwaitCard => {
                        out.push(Action::Show(Screen::VisualPlaceCard));
                        self.enter(now, State::VisualArmed, Some(self.config.visual_armed_timeout));
                    }
                    AfterUnlock::CheckNow => self.visual_check(now, out),
                    AfterUnlock::OpenPairing => {}
                }
            }
            Unlock::Denied { failures, locked_for } => {
                let locked_for_ms = locked_for.as_millis();
                self.send(
                    out,
                    Outgoing::VisualUnlockFailed { failures, locked_for_ms: locked_for_ms as u32 },
                );
                if locked_for > Duration::ZERO {
                    out.push(Action::Show(Screen::PasscodeBackoff { wait_s: (locked_for_ms / 1000) as u16 }));
                } else {
                    out.push(Action::Show(after.screen(0)));
                }
                self.deadline = Some(now + self.config.input_timeout);
            }
            Unlock::BackingOff { wait } => {
                let wait_s = wait.as_millis().div_ceil(1000) as u16;
                out.push(Action::Show(Screen::PasscodeBackoff { wait_s }));
            }
            Unlock::Locked => {
                self.send(
                    out,
                    Outgoing::VisualUnlockFailed { failures: visual::LOCK_AFTER, locked_for_ms: u32::MAX },
                );
                out.push(Action::Show(Screen::PasscodeLocked));
                self.back_from_passcode(now, after, out);
            }
        }
    }

    /// 目視 unlocked with a card on the reader: staff compare the holder with the card.
    pub(super) fn visual_check(&mut self, now: Instant, out: &mut Out) {
        out.push(Action::Show(Screen::VisualCheck));
        self.enter(now, State::VisualCheck, Some(self.config.input_timeout));
    }

    /// 目視 waited for the card too long: back to automatic mode by itself.
    pub(super) fn visual_timed_out(&mut self, now: Instant, out: &mut Out) {
        self.send(out, Outgoing::VisualModeStopped { reason: VisualStopReason::Timeout });
        self.staff = None;
        self.return_to_idle(now, out, true);
    }
}
