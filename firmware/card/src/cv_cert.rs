//! Card-verifiable (CV) certificates of the 券面 applets and the MF-level chain.
//!
//! Layout, from the bytes of `surface-0004.bin`, `text-0004.bin` and the GET DATA objects:
//!
//! ```text
//! 7F21 <len>                         template (EF 0004); GET DATA answers its contents instead,
//!                                    preceded by a header list 4D 0A 42 10 5F20 10 5F49 820109
//!   5F4E 82 0129                     certificate body, 297 bytes, the signed data:
//!     <16 bytes>                     issuer key id (証明者鍵ID): 7 ASCII digits, 08 05, 3 ASCII
//!                                    digits of generation, 4 zero bytes, e.g. "6000023/001"
//!     <16 bytes>                     subject key id (被証明者鍵ID), same form
//!     90 03 <e>  91 82 0100 <n>      subject public key, RSA-2048
//!   5F37 82 0100 <256 bytes>         PKCS#1 v1.5 sha256WithRSA signature over the body
//! ```

use super::rsa::RsaPublicKey;
use super::{tlv, ParseError, VerifyError};

const TAG_TEMPLATE: u16 = 0x7F21;
const TAG_HEADER_LIST: u16 = 0x4D;
const TAG_BODY: u16 = 0x5F4E;
const TAG_SIGNATURE: u16 = 0x5F37;
/// Length of a key identifier.
pub const KEY_ID_LEN: usize = 16;

/// A 証明者鍵ID / 被証明者鍵ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct KeyId<'a>(pub &'a [u8; KEY_ID_LEN]);

impl<'a> KeyId<'a> {
    /// The seven ASCII digits naming the key (`b"6000023"`).
    pub fn number(&self) -> &'a [u8] {
        &self.0[..7]
    }
    /// The three ASCII digits of its generation (`b"001"`).
    pub fn generation(&self) -> &'a [u8] {
        &self.0[9..12]
    }
}

/// A parsed CV certificate, borrowing the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CvCertificate<'a> {
    /// The certificate body: what the signature covers.
    pub body: &'a [u8],
    pub issuer: KeyId<'a>,
    pub subject: KeyId<'a>,
    /// The subject's public key.
    pub public_key: RsaPublicKey<'a>,
    pub signature: &'a [u8],
}

impl<'a> CvCertificate<'a> {
    /// Parses either form: the `7F21` template (EF `0004`) or the GET DATA contents with or
    /// without the `4D` header list. Filler after the certificate is ignored.
    pub fn parse(input: &'a [u8]) -> Result<Self, ParseError> {
        let (first, _) = tlv::parse(input)?;
        let contents = match first.tag {
            TAG_TEMPLATE => first.value,
            _ => input,
        };
        let (first, after) = tlv::parse(contents)?;
        let (body, rest) = if first.tag == TAG_HEADER_LIST {
            tlv::expect(after, TAG_BODY)?
        } else if first.tag == TAG_BODY {
            (first, after)
        } else {
            return Err(ParseError::UnexpectedTag { expected: TAG_BODY, found: first.tag });
        };
        let (signature, _) = tlv::expect(rest, TAG_SIGNATURE)?;
        Self::from_parts(body.value, signature.value)
    }

    fn from_parts(body: &'a [u8], signature: &'a [u8]) -> Result<Self, ParseError> {
        let bad = ParseError::BadFieldLength { tag: TAG_BODY, len: body.len() };
        let issuer: &[u8; KEY_ID_LEN] = body.get(..KEY_ID_LEN).ok_or(bad)?.try_into().map_err(|_| bad)?;
        let subject: &[u8; KEY_ID_LEN] =
            body.get(KEY_ID_LEN..2 * KEY_ID_LEN).ok_or(bad)?.try_into().map_err(|_| bad)?;
        let public_key = RsaPublicKey::parse_card_encoding(&body[2 * KEY_ID_LEN..])?;
        Ok(Self { body, issuer: KeyId(issuer), subject: KeyId(subject), public_key, signature })
    }

    /// Checks the signature with the issuer's key (a trust anchor, or the certificate above).
    pub fn verify_with(&self, issuer_key: &RsaPublicKey<'_>) -> Result<(), VerifyError> {
        issuer_key.verify_sha256(self.body, self.signature)
    }

    /// Checks that `self` was issued by `issuer`: the key ids link, and the signature verifies
    /// with `issuer`'s key.
    pub fn verify_issued_by(&self, issuer: &CvCertificate<'_>) -> Result<(), VerifyError> {
        if self.issuer.0 != issuer.subject.0 {
            return Err(VerifyError::IssuerMismatch);
        }
        self.verify_with(&issuer.public_key)
    }
}

/// A CV root key the reader trusts, named by its 証明者鍵ID. The keys are not on the card and
/// not in the fixtures: they are provisioned with the firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TrustAnchor<'a> {
    pub key_id: &'a [u8; KEY_ID_LEN],
    pub key: RsaPublicKey<'a>,
}

/// The anchor whose id is `cert`'s issuer; [`VerifyError::UnknownIssuer`] when none is.
/// Several anchors may share an id only if they are the same key: the first one is used.
pub fn find_anchor<'k>(
    anchors: &'k [TrustAnchor<'k>],
    cert: &CvCertificate<'_>,
) -> Result<&'k TrustAnchor<'k>, VerifyError> {
    anchors.iter().find(|a| a.key_id == cert.issuer.0).ok_or(VerifyError::UnknownIssuer)
}

/// Verifies a chain top-down: `chain[0]` against the anchor named by its issuer, each next one
/// against the one before. An empty chain verifies nothing and is an error; an issuer with no
/// anchor is [`VerifyError::UnknownIssuer`], not a bad signature (nothing was checked).
pub fn verify_chain(chain: &[CvCertificate<'_>], anchors: &[TrustAnchor<'_>]) -> Result<(), VerifyError> {
    let (first, rest) =
        chain.split_first().ok_or(VerifyError::Malformed(ParseError::Missing { tag: TAG_TEMPLATE }))?;
    first.verify_with(&find_anchor(anchors, first)?.key)?;
    let mut above = first;
    for cert in rest {
        cert.verify_issued_by(above)?;
        above = cert;
    }
    Ok(())
}
