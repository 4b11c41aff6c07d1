//! The chip photo for the face match, read only once everything about it checks: 照合番号B
//! (read off the card front) opens the surface applet without ever spending its last try, the
//! applet's CV certificate verifies against the provisioned roots, the card face record's
//! signature (DF28) against that certificate's key, and the chip signs a fresh challenge with
//! the record's card key (a copy of the files cannot). Then the JPEG 2000 photo (DF27) is
//! returned, borrowed from the caller's buffer, which the caller wipes after decoding.

use shikaku_card::apdu::ApduTransport;
use shikaku_card::cv_cert::{self, TrustAnchor};
use shikaku_card::io::CardIo;
use shikaku_card::secret::CollationB;
use shikaku_card::surface_ap::SurfaceAp;
use shikaku_card::CardError;

/// Buffer size for the surface applet's CV certificate.
pub const CV_CERT_BUF_LEN: usize = 1024;

/// Reads, checks and returns the chip photo (JPEG 2000 bytes inside `face_buf`).
/// `challenge` must be fresh random bytes. Errors are the card layer's: a wrong 照合番号B is
/// [`CardError::WrongPin`], one try left is [`CardError::LastTryNotConfirmed`] (nothing sent:
/// ask staff), an unknown or bad certificate or record signature a `Verify` error.
pub fn read_chip_photo<'f, T: ApduTransport>(
    transport: &mut T,
    code: &CollationB,
    anchors: &[TrustAnchor<'_>],
    challenge: &[u8],
    cert_buf: &mut [u8],
    face_buf: &'f mut [u8],
) -> Result<&'f [u8], CardError<T::Error>> {
    let mut io = CardIo::new(transport);
    let mut ap = SurfaceAp::select(&mut io)?;
    // Never the last try: a misread card front must not lock the applet.
    ap.verify_collation_b(code, None)?;
    let cert = ap.read_cv_cert(cert_buf)?;
    cv_cert::verify_chain(&[cert], anchors)?;
    let face = ap.read_card_face(face_buf)?;
    face.verify(&cert.public_key)?;
    ap.prove_genuine(challenge, &face.card_key)?;
    Ok(face.photo_jp2)
}
