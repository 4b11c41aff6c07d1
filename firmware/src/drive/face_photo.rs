//! The face engine's [`PhotoSource`] on a reader: the camera looks at the card front, the
//! card-front reader takes 照合番号B off it, [`read_chip_photo`] opens the surface applet and
//! checks everything, and the JPEG 2000 photo is decoded into the engine's frame buffer. Every
//! intermediate (the card-front frame, the digits, the record, the decoder's arena) is wiped
//! before returning.

use super::chip_photo::read_chip_photo;
use crate::face_verifier::{Camera, FrameShape, PhotoError, PhotoSource};
use shikaku_card::apdu::ApduTransport;
use shikaku_card::cv_cert::TrustAnchor;
use shikaku_card::CardError;
use shikaku_face::card_front;
use shikaku_face::image::ImageRef;
use shikaku_face::jp2;

/// The buffers the card-front read and the photo decode need besides the frame.
pub struct PhotoBuffers<'a> {
    /// Card-front scratch, at least [`card_front::scratch_len`] of the camera frame.
    pub scratch: &'a mut [u8],
    /// The surface applet's CV certificate.
    pub cert: &'a mut [u8],
    /// The card face record ([`shikaku_card::surface_ap::CARD_FACE_MAX_LEN`]).
    pub record: &'a mut [u8],
    /// The JPEG 2000 decoder's arena ([`jp2::arena_words`]).
    pub jp2_arena: &'a mut [i32],
}

pub struct CardPhoto<'a, T, C> {
    pub transport: T,
    /// The camera, pointed at the card front when the photo is asked for.
    pub camera: C,
    pub anchors: &'a [TrustAnchor<'a>],
    /// Fresh random bytes for the chip's proof; the driver sets them before each attempt.
    pub challenge: [u8; 32],
    pub buffers: PhotoBuffers<'a>,
}

impl<T: ApduTransport, C: Camera> CardPhoto<'_, T, C> {
    fn read(&mut self, out: &mut [u8]) -> Result<FrameShape, PhotoError> {
        let front = self.camera.capture(out).map_err(|_| PhotoError::CardFrontUnreadable)?;
        let view = ImageRef::new(
            front.width,
            front.height,
            front.channels,
            out.get(..front.len()).ok_or(PhotoError::TooLarge)?,
        )
        .map_err(|_| PhotoError::CardFrontUnreadable)?;
        let pin =
            card_front::read(view, self.buffers.scratch).map_err(|_| PhotoError::CardFrontUnreadable)?;
        let code = pin.to_collation_b().ok_or(PhotoError::CardFrontUnreadable)?;
        out.fill(0);
        let photo = read_chip_photo(
            &mut self.transport,
            &code,
            self.anchors,
            &self.challenge,
            self.buffers.cert,
            self.buffers.record,
        )
        .map_err(|e| match e {
            CardError::WrongPin { .. } | CardError::LastTryNotConfirmed | CardError::Locked => {
                PhotoError::CardRefused
            }
            CardError::Verify(_) => PhotoError::NotVerified,
            CardError::Transport(_) => PhotoError::CardLost,
            _ => PhotoError::NotVerified,
        })?;
        let info = jp2::info(photo).map_err(|_| PhotoError::Decode)?;
        if info.output_len() > out.len() {
            return Err(PhotoError::TooLarge);
        }
        let img = jp2::decode(photo, self.buffers.jp2_arena, &mut out[..info.output_len()])
            .map_err(|_| PhotoError::Decode)?;
        // The photo stays in `out` for the engine; the verifier wipes it after the attempt.
        let i = img.hand_over();
        Ok(FrameShape { width: i.width as usize, height: i.height as usize, channels: i.components as usize })
    }
}

impl<T: ApduTransport, C: Camera> PhotoSource for CardPhoto<'_, T, C> {
    fn photo(&mut self, out: &mut [u8]) -> Result<FrameShape, PhotoError> {
        let r = self.read(out);
        if r.is_err() {
            out.fill(0);
        }
        self.buffers.scratch.fill(0);
        self.buffers.cert.fill(0);
        self.buffers.record.fill(0);
        self.buffers.jp2_arena.fill(0);
        core::hint::black_box(&mut *self.buffers.record);
        r
    }
}
