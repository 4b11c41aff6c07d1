//! The face match as the session sees it ([`FaceVerifier`]): one attempt gets the chip photo
//! (from the card, through [`PhotoSource`]), describes it, captures several live frames,
//! describes each, checks liveness across them, and decides on the median distance.
//!
//! Every image, descriptor and intermediate lives in the caller's [`Buffers`] or in this
//! struct, and all of it is zeroed after each attempt and on [`FaceVerifier::wipe`]: nothing
//! outlives the attempt, let alone the session.

use crate::session::{FaceReply, FaceVerifier};
use shikaku_face::engine::{Face, Models};
use shikaku_face::image::ImageRef;
use shikaku_face::model::format::DESCRIPTOR_LEN;
use shikaku_face::model::{distance, Descriptor, CHIP_BYTES, THRESHOLD};
use shikaku_protocol::message::FaceDecision;

/// Most live frames per attempt.
pub const MAX_FRAMES: usize = 8;

/// The size of an image in a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FrameShape {
    pub width: usize,
    pub height: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
}

impl FrameShape {
    /// Bytes of the image (saturating: a nonsense shape from a driver never fits a buffer).
    pub fn len(&self) -> usize {
        self.width.saturating_mul(self.height).saturating_mul(self.channels)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CameraError {
    #[error("the camera gave no frame")]
    NoFrame,
    #[error("the frame does not fit the buffer")]
    TooLarge,
}

/// The camera: one frame per call into the buffer given.
pub trait Camera {
    fn capture(&mut self, frame: &mut [u8]) -> Result<FrameShape, CameraError>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PhotoError {
    #[error("the card front could not be read")]
    CardFrontUnreadable,
    #[error("the card refused the 照合番号B read from the card front")]
    CardRefused,
    #[error("the card's certificate or record did not verify")]
    NotVerified,
    #[error("the card left the field")]
    CardLost,
    #[error("the photo did not decode")]
    Decode,
    #[error("the photo does not fit the buffer")]
    TooLarge,
}

/// The holder's chip photo, decoded into the buffer given (see `drive::chip_photo` for the
/// checks it must pass first).
pub trait PhotoSource {
    fn photo(&mut self, out: &mut [u8]) -> Result<FrameShape, PhotoError>;
}

/// What liveness concluded over the frames of one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LiveVerdict {
    Live,
    Attack,
    /// Not enough to tell (too few frames, no motion): not accepted.
    Undecided,
}

/// Presentation-attack detection fed frame by frame.
pub trait Liveness {
    fn reset(&mut self);
    fn push(&mut self, frame: ImageRef<'_>, face: &Face);
    fn verdict(&self) -> LiveVerdict;
    /// Zeroes whatever it kept of the frames.
    fn wipe(&mut self);
}

/// The caller's memory: a frame (the largest camera frame or chip photo), the engine's arena
/// (see [`super::engine::arena_len`]) and the chip.
pub struct Buffers<'b> {
    pub frame: &'b mut [u8],
    pub arena: &'b mut [f32],
    pub chip: &'b mut [u8; CHIP_BYTES],
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    /// Live frames captured per attempt (at most [`MAX_FRAMES`]).
    pub frames: u8,
    /// Frames with a face needed to decide at all.
    pub min_faces: u8,
    pub threshold: f32,
}

impl Default for Config {
    fn default() -> Self {
        Config { frames: 6, min_faces: 3, threshold: THRESHOLD }
    }
}

pub struct EngineVerifier<'w, 'b, C, P, L> {
    models: &'w Models<'w>,
    camera: C,
    photo: P,
    liveness: L,
    buf: Buffers<'b>,
    config: Config,
    reference: Descriptor,
    distances: [f32; MAX_FRAMES],
}

/// The image a camera or photo source wrote at the start of `frame`, if its shape fits.
fn view(frame: &[u8], shape: FrameShape) -> Option<ImageRef<'_>> {
    ImageRef::new(shape.width, shape.height, shape.channels, frame.get(..shape.len())?).ok()
}

/// Similarity in thousandths for the host: 1000 at distance 0, 0 at distance 1 or more.
fn score_milli(d: f32) -> u16 {
    let s = (1.0 - d) * 1000.0;
    if s <= 0.0 {
        0
    } else if s >= 1000.0 {
        1000
    } else {
        s as u16
    }
}

impl<'w, 'b, C: Camera, P: PhotoSource, L: Liveness> EngineVerifier<'w, 'b, C, P, L> {
    pub fn new(
        models: &'w Models<'w>,
        camera: C,
        photo: P,
        liveness: L,
        buf: Buffers<'b>,
        config: Config,
    ) -> Self {
        EngineVerifier {
            models,
            camera,
            photo,
            liveness,
            buf,
            config,
            reference: [0.0; DESCRIPTOR_LEN],
            distances: [0.0; MAX_FRAMES],
        }
    }

    /// The camera, the photo source and liveness, for the driver (and tests) to reach.
    pub fn parts(&mut self) -> (&mut C, &mut P, &mut L) {
        (&mut self.camera, &mut self.photo, &mut self.liveness)
    }

    /// The buffers, read-only: for tests that check the wipe.
    pub fn buffers(&self) -> (&[u8], &[f32], &[u8; CHIP_BYTES]) {
        (self.buf.frame, self.buf.arena, self.buf.chip)
    }

    /// The reference descriptor and the per-frame distances, read-only: for the wipe tests.
    pub fn kept(&self) -> (&Descriptor, &[f32; MAX_FRAMES]) {
        (&self.reference, &self.distances)
    }

    fn reply(decision: FaceDecision, score_milli: u16) -> FaceReply {
        FaceReply { decision, score_milli }
    }

    fn attempt(&mut self) -> FaceReply {
        // A shape that does not fit the frame, or an arena too small for it (the engine says
        // so), is no photo to compare with.
        let Some(img) = self.photo.photo(self.buf.frame).ok().and_then(|s| view(self.buf.frame, s)) else {
            return Self::reply(FaceDecision::PhotoUnavailable, 0);
        };
        match self.models.describe(img, self.buf.arena, self.buf.chip) {
            Ok((_, d)) => self.reference = d,
            // A chip photo without a findable face: nothing to compare with.
            Err(_) => return Self::reply(FaceDecision::PhotoUnavailable, 0),
        }
        self.buf.frame.fill(0);

        self.liveness.reset();
        let frames = (self.config.frames as usize).min(MAX_FRAMES);
        let mut n = 0;
        for _ in 0..frames {
            let Some(img) = self.camera.capture(self.buf.frame).ok().and_then(|s| view(self.buf.frame, s))
            else {
                continue;
            };
            if let Ok((face, d)) = self.models.describe(img, self.buf.arena, self.buf.chip) {
                self.distances[n] = distance(&self.reference, &d);
                n += 1;
                self.liveness.push(img, &face);
            }
        }
        if n < self.config.min_faces.max(1) as usize {
            return Self::reply(FaceDecision::NoFace, 0);
        }
        let ds = &mut self.distances[..n];
        ds.sort_unstable_by(f32::total_cmp);
        let median = if n % 2 == 1 { ds[n / 2] } else { (ds[n / 2 - 1] + ds[n / 2]) / 2.0 };
        let score = score_milli(median);
        match self.liveness.verdict() {
            LiveVerdict::Live if median < self.config.threshold => Self::reply(FaceDecision::Match, score),
            LiveVerdict::Live => Self::reply(FaceDecision::NoMatch, score),
            LiveVerdict::Attack | LiveVerdict::Undecided => Self::reply(FaceDecision::LivenessFailed, score),
        }
    }

    fn wipe_all(&mut self) {
        self.buf.frame.fill(0);
        shikaku_face::model::wipe(self.buf.arena);
        self.buf.chip.fill(0);
        shikaku_face::model::wipe(&mut self.reference);
        shikaku_face::model::wipe(&mut self.distances);
        self.liveness.wipe();
        core::hint::black_box(&mut *self.buf.frame);
        core::hint::black_box(&mut *self.buf.chip);
    }
}

impl<C: Camera, P: PhotoSource, L: Liveness> FaceVerifier for EngineVerifier<'_, '_, C, P, L> {
    fn verify(&mut self, _attempt: u8) -> FaceReply {
        let reply = self.attempt();
        // Nothing of this attempt is kept for the next: the photo is read again.
        self.wipe_all();
        reply
    }

    fn wipe(&mut self) {
        self.wipe_all();
    }
}

/// The firmware's own liveness check ([`super::liveness`]) behind the verifier's seam.
impl Liveness for shikaku_face::liveness::LivenessCheck {
    fn reset(&mut self) {
        shikaku_face::liveness::LivenessCheck::reset(self);
    }
    fn push(&mut self, frame: ImageRef<'_>, face: &Face) {
        // A frame it refuses (size change, box off the frame) simply does not count.
        let _ = shikaku_face::liveness::LivenessCheck::push(self, frame, face.rect, Some(&face.landmarks));
    }
    fn verdict(&self) -> LiveVerdict {
        use shikaku_face::liveness::Verdict;
        match shikaku_face::liveness::LivenessCheck::verdict(self) {
            Verdict::Live { .. } => LiveVerdict::Live,
            Verdict::Attack { .. } => LiveVerdict::Attack,
            Verdict::Pending { .. } | Verdict::NeedMotion { .. } => LiveVerdict::Undecided,
        }
    }
    fn wipe(&mut self) {
        shikaku_face::liveness::LivenessCheck::reset(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_shape_that_does_not_fit_is_no_image() {
        let frame = [0u8; 12];
        let fits = FrameShape { width: 2, height: 2, channels: 3 };
        assert!(view(&frame, fits).is_some());
        assert!(view(&frame, FrameShape { width: 3, ..fits }).is_none());
        assert!(view(&frame, FrameShape { channels: 2, ..fits }).is_none());
        let huge = FrameShape { width: usize::MAX, height: 2, channels: 3 };
        assert_eq!(huge.len(), usize::MAX);
        assert!(view(&frame, huge).is_none());
    }

    #[test]
    fn scores_are_clamped_thousandths() {
        assert_eq!(score_milli(0.0), 1000);
        assert_eq!(score_milli(0.25), 750);
        assert_eq!(score_milli(1.5), 0);
        assert_eq!(score_milli(f32::NAN), 0);
    }
}
