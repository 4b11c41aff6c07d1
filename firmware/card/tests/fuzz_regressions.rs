//! Inputs the fuzz targets (`firmware/fuzz`) found to crash, kept as regression tests.

use shikaku_card::rsa::{RsaPublicKey, MAX_MODULUS_LEN};
use shikaku_card::VerifyError;

/// `card_parsers`: a certificate whose RSA modulus is 257 bytes (no leading zero) made
/// `verify_sha256_digest_info` slice its 256-byte buffer past the end before any size check
/// (a panic on the reader, and on the host checking a card signature with the certificate's
/// key). It is an unsupported key.
#[test]
fn a_modulus_longer_than_supported_is_refused_not_sliced_past() {
    let modulus = [0xC5u8; MAX_MODULUS_LEN + 1];
    let key = RsaPublicKey::new(&modulus, &[0x01, 0x00, 0x01]);
    assert_eq!(key.verify_sha256(b"message", &[0x5A; MAX_MODULUS_LEN + 1]), Err(VerifyError::UnsupportedKey));
    assert_eq!(key.verify_sha256(b"message", &[0x5A; MAX_MODULUS_LEN]), Err(VerifyError::UnsupportedKey));
    assert_eq!(key.verify_sha256_digest_info(&[0; 32], &[]), Err(VerifyError::UnsupportedKey));
    // With leading zeros stripped, 0x00 + 256 bytes is a 2048-bit key as before.
    let mut padded = [0xC5u8; MAX_MODULUS_LEN + 1];
    padded[0] = 0;
    let key = RsaPublicKey::new(&padded, &[0x01, 0x00, 0x01]);
    assert_eq!(key.len(), MAX_MODULUS_LEN);
    assert_eq!(key.verify_sha256(b"message", &[0x5A; MAX_MODULUS_LEN]), Err(VerifyError::BadSignature));
}
