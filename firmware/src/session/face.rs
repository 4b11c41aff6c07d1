//! The seam to the face engine. The core asks for attempts ([`super::Action::StartFace`]) and
//! wipes ([`super::Action::WipeFace`]); a driver calls the verifier and feeds the answer back
//! as [`super::Event::Face`]. The engine reads the card front and the chip photo itself.

use super::FaceReply;

pub trait FaceVerifier {
    /// One attempt: capture several live frames, match against the chip photo, check
    /// liveness. Never returns or keeps an image outside the engine.
    fn verify(&mut self, attempt: u8) -> FaceReply;
    /// Wipes every image, embedding and photo buffer.
    fn wipe(&mut self);
}
