//! Consents to share medical information (薬剤情報, 特定健診情報, 診療情報, 手術情報), asked once
//! the holder is confirmed (PIN + signature, face, iPhone, or staff).
//!
//! - On the intro (まとめて同意する / 個別に選ぶ / 同意しない): yes agrees comprehensively, no
//!   asks item by item, skip skips them all.
//! - Medical-information consents are not asked in the grace period after expiry, and then
//!   no answers are sent.
//! - After the answers: the registration offer if the host said the card is not registered,
//!   else the verified identity.

use shikaku_protocol::message::{ConsentAnswer, Consents};

use super::{Action, ConsentItem, Instant, Key, Out, Outgoing, Screen, Session, State};

impl Session {
    /// The holder is confirmed (PIN + signature, face, iPhone, or staff): consents next.
    pub(super) fn confirmed(&mut self, now: Instant, out: &mut Out) {
        self.ctx.verified_at = self.wall(now);
        if self.ctx.consents_allowed() {
            out.push(Action::Show(Screen::ConsentIntro));
            self.enter(now, State::ConsentIntro, Some(self.config.input_timeout));
        } else {
            self.after_consents(now, out);
        }
    }

    fn after_consents(&mut self, now: Instant, out: &mut Out) {
        if self.ctx.consents_allowed() {
            let consents = self.ctx.consents;
            self.send(out, Outgoing::ConsentAnswers { consents });
        }
        self.offer_registration(now, out);
    }

    fn show_consent(&mut self, now: Instant, index: u8, out: &mut Out) {
        let item = ConsentItem::ALL[(index as usize).min(ConsentItem::ALL.len() - 1)];
        out.push(Action::Show(Screen::Consent { item, index }));
        self.enter(now, State::Consent { index }, Some(self.config.input_timeout));
    }

    /// Keys on the consent intro and the consent questions. Returns whether the key was
    /// taken.
    pub(super) fn consent_key(&mut self, now: Instant, key: Key, out: &mut Out) -> bool {
        match (&self.state, key) {
            (State::ConsentIntro, Key::Yes) => {
                self.ctx.consents = Consents { comprehensive: ConsentAnswer::Agreed, ..Consents::NONE };
                self.after_consents(now, out);
            }
            (State::ConsentIntro, Key::No) => self.show_consent(now, 0, out),
            (State::ConsentIntro, Key::Skip) => {
                self.ctx.consents = Consents {
                    medication: ConsentAnswer::Skipped,
                    health_checkup: ConsentAnswer::Skipped,
                    treatment: ConsentAnswer::Skipped,
                    surgery: ConsentAnswer::Skipped,
                    comprehensive: ConsentAnswer::Skipped,
                };
                self.after_consents(now, out);
            }
            (&State::Consent { index }, Key::Yes | Key::No | Key::Skip) => {
                let answer = match key {
                    Key::Yes => ConsentAnswer::Agreed,
                    Key::No => ConsentAnswer::Declined,
                    _ => ConsentAnswer::Skipped,
                };
                let c = &mut self.ctx.consents;
                match index {
                    0 => c.medication = answer,
                    1 => c.health_checkup = answer,
                    2 => c.treatment = answer,
                    _ => c.surgery = answer,
                }
                let next = index + 1;
                if next as usize >= ConsentItem::ALL.len() {
                    self.after_consents(now, out);
                } else {
                    self.show_consent(now, next, out);
                }
            }
            _ => return false,
        }
        true
    }
}
