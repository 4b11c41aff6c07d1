//! The face engine, one image at a time: find the face (the largest detection), its five
//! landmarks, the aligned 150×150 chip, and the 128-D descriptor — dlib's pipeline with our
//! inference. The chip photo and the live frames go through the same steps, so their
//! descriptors are comparable.
//!
//! Memory is the caller's: one f32 arena, reused by the detector and then by the embedder
//! ([`arena_len`]), and the chip buffer, which is zeroed again before [`Models::describe`]
//! returns.

use super::align::{self, AlignError};
use super::detect::{DetectError, Detection, Detector};
use super::image::{ImageRef, Point, Rect};
use super::landmarks::{LandmarkError, ShapeModel};
use super::model::{Descriptor, Model, ModelError, ARENA_F32, CHIP_BYTES};

/// Detections kept per image (the largest is used).
pub const MAX_FACES: usize = 8;

/// The three models, parsed from their weight files in external flash.
pub struct Models<'w> {
    pub detector: Detector<'w>,
    pub shape: ShapeModel<'w>,
    pub embedder: Model<'w>,
}

/// Where the face is in the image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Face {
    pub rect: Rect,
    pub confidence: f32,
    pub landmarks: [Point; 5],
    /// Faces the detector found in all (more than one: someone else is in the frame).
    pub faces_found: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EngineError {
    #[error("no face in the image")]
    NoFace,
    #[error("detection: {0}")]
    Detect(DetectError),
    #[error("landmarks: {0}")]
    Landmarks(LandmarkError),
    #[error("alignment: {0}")]
    Align(AlignError),
    #[error("embedding: {0}")]
    Embed(ModelError),
    #[error("the arena holds {got} words, {need} are needed")]
    ArenaTooSmall { need: usize, got: usize },
}

/// f32 words of arena [`Models::describe`] needs for a `width`×`height` image (0: a size the
/// detector refuses).
pub const fn arena_len(width: usize, height: usize) -> usize {
    let d = Detector::arena_len(width, height);
    if d == 0 {
        0
    } else if d > ARENA_F32 {
        d
    } else {
        ARENA_F32
    }
}

impl<'w> Models<'w> {
    /// Finds the largest face in `img` and describes it. `chip` is scratch for the aligned
    /// face and is zeroed before returning, whatever the outcome.
    pub fn describe(
        &self,
        img: ImageRef,
        arena: &mut [f32],
        chip: &mut [u8; CHIP_BYTES],
    ) -> Result<(Face, Descriptor), EngineError> {
        let need = arena_len(img.width(), img.height());
        if need == 0 {
            return Err(EngineError::Detect(DetectError::ImageSize {
                width: img.width(),
                height: img.height(),
            }));
        }
        if arena.len() < need {
            return Err(EngineError::ArenaTooSmall { need, got: arena.len() });
        }
        let result = self.describe_inner(img, arena, chip);
        chip.fill(0);
        result
    }

    fn describe_inner(
        &self,
        img: ImageRef,
        arena: &mut [f32],
        chip: &mut [u8; CHIP_BYTES],
    ) -> Result<(Face, Descriptor), EngineError> {
        let mut found: heapless::Vec<Detection, MAX_FACES> = heapless::Vec::new();
        let faces_found = self.detector.detect(img, arena, &mut found).map_err(EngineError::Detect)?;
        // The largest box, first among equals (as the reference picks it).
        let mut best: Option<Detection> = None;
        for d in &found {
            if best.is_none_or(|b| d.rect.area() > b.rect.area()) {
                best = Some(*d);
            }
        }
        let best = best.ok_or(EngineError::NoFace)?;
        let landmarks = self.shape.predict(img, best.rect).map_err(EngineError::Landmarks)?;
        align::chip(img, &landmarks, chip).map_err(EngineError::Align)?;
        let descriptor = self.embedder.embed(&chip[..], arena).map_err(EngineError::Embed)?;
        Ok((Face { rect: best.rect, confidence: best.confidence, landmarks, faces_found }, descriptor))
    }
}
