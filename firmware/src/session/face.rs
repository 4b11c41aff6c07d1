//! Face: the holder's face against the photo on the chip.
//!
//! The seam to the face engine: the core asks for attempts ([`super::Action::StartFace`]) and
//! wipes ([`super::Action::WipeFace`]); a driver calls the verifier and feeds the answer back
//! as [`super::Event::Face`]. The engine reads the card front and the chip photo itself.
//!
//! The flow:
//! - face needs the photo on the chip: physical cards only;
//! - every outcome wipes the face buffers; a match confirms the holder;
//! - a mismatch tries again, up to [`super::Config::face_max_attempts`] attempts in one
//!   reception; after the last, or when the card front or the card refused the photo
//!   (another attempt cannot get it), PIN or staff (目視) now.

use shikaku_protocol::message::{AuthMethod, FaceDecision, FaceStage};

use super::{Action, FaceReply, Instant, Out, Outgoing, Phase, Screen, Session, State};

pub trait FaceVerifier {
    /// One attempt: capture several live frames, match against the chip photo, check
    /// liveness. Never returns or keeps an image outside the engine.
    fn verify(&mut self, attempt: u8) -> FaceReply;
    /// Wipes every image, embedding and photo buffer.
    fn wipe(&mut self);
}

impl Session {
    pub(super) fn start_face(&mut self, now: Instant, out: &mut Out) {
        self.ctx.face_attempts = self.ctx.face_attempts.saturating_add(1);
        let attempt = self.ctx.face_attempts;
        if attempt == 1 {
            self.send(out, Outgoing::AuthModeChosen { method: AuthMethod::Face });
        }
        self.send(out, Outgoing::FaceProgress { stage: FaceStage::Capturing, attempt });
        out.push(Action::Show(Screen::FaceInProgress { attempt, max: self.config.face_max_attempts }));
        out.push(Action::StartFace { attempt });
        self.enter(now, State::Face, Some(self.config.operation_timeout));
    }

    pub(super) fn on_face(&mut self, now: Instant, reply: FaceReply, out: &mut Out) {
        if self.phase() != Phase::Face {
            return;
        }
        let attempts = self.ctx.face_attempts;
        self.send(
            out,
            Outgoing::FaceOutcome { decision: reply.decision, score_milli: reply.score_milli, attempts },
        );
        out.push(Action::WipeFace);
        if reply.decision == FaceDecision::Match {
            self.ctx.method = Some(AuthMethod::Face);
            self.confirmed(now, out);
        } else if attempts >= self.config.face_max_attempts
            || reply.decision == FaceDecision::PhotoUnavailable
        {
            // Another attempt cannot get a photo the card front or the card refused: PIN or
            // staff (目視) now.
            let pin = self.ctx.pin_usable();
            out.push(Action::Show(Screen::FaceFailed { pin }));
            self.enter(now, State::FaceFailed, Some(self.config.input_timeout));
        } else {
            out.push(Action::Show(Screen::FaceRetry {
                attempt: attempts,
                max: self.config.face_max_attempts,
            }));
            self.start_face(now, out);
        }
    }
}
