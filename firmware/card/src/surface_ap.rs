//! 券面事項確認 (surface) applet client: open with 照合番号B, read the card face record with the
//! face photo, verify its signature, and prove the chip genuine with the applet's own key.
//!
//! The card face record (EF `0002`), from the bytes of `surface-0002.bin`:
//!
//! ```text
//! FF20 82 <len>
//!   DF21 12  <9 × u16>     offsets of DF22..DF2A from the start of the file
//!   DF22 08  生年月日 YYYYMMDD        ┐
//!   DF23 01  性別 (ISO 5218 digit)    │ segment 1
//!   DF24 82 0109  card key 90 03 <e> 91 82 0100 <n>  ┘
//!   DF25 <n> 氏名 image (PNG)         ┐ segment 2
//!   DF26 <n> 住所 image (PNG)         ┘
//!   DF27 <n> 顔写真 (JPEG 2000)         segment 3
//!   DF28 82 0100 signature
//!   DF29 08  有効期限 YYYYMMDD
//!   DF2A <n> セキュリティコード image (PNG)
//! ```
//!
//! DF28 is RSA-2048 PKCS#1 v1.5 by the key of this applet's CV certificate (EF `0004`, the
//! subject key), over a DigestInfo naming SHA-256 whose octet string is 96 bytes: the SHA-256
//! of each segment, each segment being its elements encoded (tag, length, value) back to back.
//! The card key in DF24 is *not* the signer: it answers challenges (`80 2A 00 00`).

use core::fmt;

use sha2::{Digest, Sha256};

use crate::apdu::ApduTransport;

use super::commands::{aid, ef, sha256_digest_info};
use super::cv_cert::CvCertificate;
use super::date::Date;
use super::io::{CardIo, CardResult, SigningKey, Sizing, SIGNATURE_LEN};
use super::rsa::RsaPublicKey;
use super::secret::{CollationB, LastTryConfirmation, PinStatus};
use super::text_ap::{check_offsets, Sex};
use super::{tlv, ParseError, VerifyError};

const TAG_FACE: u16 = 0xFF20;
const TAG_OFFSETS: u16 = 0xDF21;
const TAG_DOB: u16 = 0xDF22;
const TAG_SEX: u16 = 0xDF23;
const TAG_CARD_KEY: u16 = 0xDF24;
const TAG_NAME_IMAGE: u16 = 0xDF25;
const TAG_ADDRESS_IMAGE: u16 = 0xDF26;
const TAG_PHOTO: u16 = 0xDF27;
const TAG_SIGNATURE: u16 = 0xDF28;
const TAG_EXPIRY: u16 = 0xDF29;
const TAG_SECURITY_CODE_IMAGE: u16 = 0xDF2A;
const TAG_AGE: u16 = 0xFF10;
const TAG_AGE_DOB: u16 = 0xDF11;
const TAG_AGE_CARD_KEY: u16 = 0xDF12;
const TAG_AGE_SIGNATURE: u16 = 0xDF13;

/// Buffer size that holds a card face record.
pub const CARD_FACE_MAX_LEN: usize = 8192;

/// The card face record, borrowed. `Debug` prints no images.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CardFace<'a> {
    pub date_of_birth: Date,
    pub sex: Sex,
    /// The card's own key (DF24): checks challenge signatures, once this record verified.
    pub card_key: RsaPublicKey<'a>,
    /// 氏名 rendered as PNG (DF25).
    pub name_png: &'a [u8],
    /// 住所 rendered as PNG (DF26).
    pub address_png: &'a [u8],
    /// 顔写真, JPEG 2000 (DF27).
    pub photo_jp2: &'a [u8],
    /// DF28.
    pub signature: &'a [u8],
    /// 有効期限 (DF29).
    pub expiry: Date,
    /// セキュリティコード rendered as PNG (DF2A).
    pub security_code_png: &'a [u8],
    /// The three signed segments: DF22–DF24, DF25–DF26, DF27, each as encoded.
    pub signed_segments: [&'a [u8]; 3],
}

impl<'a> CardFace<'a> {
    /// Parses the record of EF `0002`; filler after it is ignored. Does not check the
    /// signature: call [`verify`](Self::verify) before using anything in it.
    pub fn parse(file: &'a [u8]) -> Result<Self, ParseError> {
        let (record, _filler) = tlv::expect(file, TAG_FACE)?;
        let mut body = record.value;
        let offsets = tlv::take(&mut body, TAG_OFFSETS)?;
        check_offsets(file, offsets.value, TAG_DOB, 9)?;

        let segment_start = body;
        let dob = tlv::take(&mut body, TAG_DOB)?;
        let sex = tlv::take(&mut body, TAG_SEX)?;
        let card_key = tlv::take(&mut body, TAG_CARD_KEY)?;
        let seg1 = &segment_start[..segment_start.len() - body.len()];

        let segment_start = body;
        let name_png = tlv::take(&mut body, TAG_NAME_IMAGE)?;
        let address_png = tlv::take(&mut body, TAG_ADDRESS_IMAGE)?;
        let seg2 = &segment_start[..segment_start.len() - body.len()];

        let photo = tlv::take(&mut body, TAG_PHOTO)?;
        let signature = tlv::take(&mut body, TAG_SIGNATURE)?;
        let expiry = tlv::take(&mut body, TAG_EXPIRY)?;
        let security_code_png = tlv::take(&mut body, TAG_SECURITY_CODE_IMAGE)?;
        if !body.is_empty() {
            return Err(ParseError::TrailingData);
        }
        Ok(Self {
            date_of_birth: Date::parse_yyyymmdd(dob.value)?,
            sex: Sex::parse(TAG_SEX, sex.value)?,
            card_key: RsaPublicKey::parse_card_encoding(card_key.value)?,
            name_png: name_png.value,
            address_png: address_png.value,
            photo_jp2: photo.value,
            signature: signature.value,
            expiry: Date::parse_yyyymmdd(expiry.value)?,
            security_code_png: security_code_png.value,
            signed_segments: [seg1, seg2, photo.raw],
        })
    }

    /// The 96 bytes the signature's DigestInfo carries: SHA-256 of each signed segment.
    pub fn signed_digest(&self) -> [u8; 96] {
        let mut out = [0u8; 96];
        for (chunk, segment) in out.chunks_exact_mut(32).zip(self.signed_segments) {
            chunk.copy_from_slice(&Sha256::digest(segment));
        }
        out
    }

    /// Checks DF28 with the applet's issuer key: the subject key of its CV certificate
    /// (EF `0004`), itself checked against the CA.
    pub fn verify(&self, issuer_key: &RsaPublicKey<'_>) -> Result<(), VerifyError> {
        issuer_key.verify_sha256_digest_info(&self.signed_digest(), self.signature)
    }
}

impl fmt::Debug for CardFace<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardFace")
            .field("date_of_birth", &self.date_of_birth)
            .field("sex", &self.sex)
            .field("expiry", &self.expiry)
            .field("photo_jp2_len", &self.photo_jp2.len())
            .finish_non_exhaustive()
    }
}

/// The age record (EF `0001`, opened by the era DOB `YYMMDD` alone), from `surface-0001.bin`:
/// `FF10 { DF11 DOB YYYYMMDD, DF12 card key, DF13 signature }`, DF13 being PKCS#1 v1.5
/// sha256WithRSA over DF11..DF12 as encoded, by the applet's CV certificate key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AgeRecord<'a> {
    pub date_of_birth: Date,
    pub card_key: RsaPublicKey<'a>,
    /// DF11 and DF12 as encoded.
    pub signed: &'a [u8],
    pub signature: &'a [u8],
}

impl<'a> AgeRecord<'a> {
    /// Parses EF `0001`; filler after it is ignored.
    pub fn parse(file: &'a [u8]) -> Result<Self, ParseError> {
        let (record, _filler) = tlv::expect(file, TAG_AGE)?;
        let mut body = record.value;
        let start = body;
        let dob = tlv::take(&mut body, TAG_AGE_DOB)?;
        let key = tlv::take(&mut body, TAG_AGE_CARD_KEY)?;
        let signed = &start[..start.len() - body.len()];
        let signature = tlv::take(&mut body, TAG_AGE_SIGNATURE)?.value;
        if !body.is_empty() {
            return Err(ParseError::TrailingData);
        }
        Ok(Self {
            date_of_birth: Date::parse_yyyymmdd(dob.value)?,
            card_key: RsaPublicKey::parse_card_encoding(key.value)?,
            signed,
            signature,
        })
    }

    /// Checks DF13 with the applet's CV certificate key.
    pub fn verify(&self, issuer_key: &RsaPublicKey<'_>) -> Result<(), VerifyError> {
        issuer_key.verify_sha256(self.signed, self.signature)
    }
}

/// What the JPEG 2000 header says about the face photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Jp2Header {
    pub width: u32,
    pub height: u32,
    pub components: u16,
    /// Bits per component (from the `ihdr` BPC byte: value + 1; 255 = varies).
    pub bits_per_component: u8,
}

const JP2_SIGNATURE: [u8; 12] = [0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A];

/// Walks JP2 boxes (`len u32, type [u8; 4]`); answers the contents of the first `kind` box.
fn find_box<'a>(mut input: &'a [u8], kind: &[u8; 4]) -> Result<&'a [u8], ParseError> {
    let bad = ParseError::InvalidValue { tag: TAG_PHOTO };
    while input.len() >= 8 {
        let len = u32::from_be_bytes([input[0], input[1], input[2], input[3]]) as usize;
        let (header, len) = match len {
            0 => (8, input.len()),
            1 => {
                let xl = input.get(8..16).ok_or(bad)?;
                let mut v = [0u8; 8];
                v.copy_from_slice(xl);
                (16, usize::try_from(u64::from_be_bytes(v)).map_err(|_| bad)?)
            }
            l => (8, l),
        };
        if len < header || len > input.len() {
            return Err(bad);
        }
        if &input[4..8] == kind {
            return Ok(&input[header..len]);
        }
        input = &input[len..];
    }
    Err(bad)
}

impl Jp2Header {
    /// Reads the image header box (`jp2h` → `ihdr`) of a JP2 file.
    pub fn parse(jp2: &[u8]) -> Result<Self, ParseError> {
        if !jp2.starts_with(&JP2_SIGNATURE) {
            return Err(ParseError::InvalidValue { tag: TAG_PHOTO });
        }
        let ihdr = find_box(find_box(jp2, b"jp2h")?, b"ihdr")?;
        let h: &[u8; 14] = ihdr
            .get(..14)
            .and_then(|s| s.try_into().ok())
            .ok_or(ParseError::InvalidValue { tag: TAG_PHOTO })?;
        Ok(Self {
            height: u32::from_be_bytes([h[0], h[1], h[2], h[3]]),
            width: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
            components: u16::from_be_bytes([h[8], h[9]]),
            bits_per_component: if h[10] == 0xFF { 0xFF } else { (h[10] & 0x7F) + 1 },
        })
    }
}

/// Has the selected text or surface applet sign SHA-256(`challenge`) with its own key
/// (`80 2A 00 00 33 <DigestInfo> 00`, no PIN) and checks the signature with `applet_key`, the
/// card key from a record whose own signature verified. `challenge` must be fresh random
/// bytes, or a recorded answer passes.
pub fn prove_genuine<T: ApduTransport>(
    io: &mut CardIo<'_, T>,
    challenge: &[u8],
    applet_key: &RsaPublicKey<'_>,
    signature: &mut [u8; SIGNATURE_LEN],
) -> CardResult<(), T::Error> {
    let hash: [u8; 32] = Sha256::digest(challenge).into();
    io.compute_signature(SigningKey::AppletKey, &sha256_digest_info(&hash), signature)?;
    applet_key.verify_sha256_digest_info(&hash, signature)?;
    Ok(())
}

/// The 券面事項確認 applet, selected.
pub struct SurfaceAp<'c, 't, T> {
    io: &'c mut CardIo<'t, T>,
}

impl<'c, 't, T: ApduTransport> SurfaceAp<'c, 't, T> {
    /// SELECT the surface applet.
    pub fn select(io: &'c mut CardIo<'t, T>) -> CardResult<Self, T::Error> {
        io.select_ap(&aid::SURFACE)?;
        debug!("card: surface AP selected");
        Ok(Self { io })
    }

    /// Tries left on 照合番号B (EF `0012`), without spending one.
    pub fn collation_b_status(&mut self) -> CardResult<PinStatus, T::Error> {
        self.io.pin_status(ef::surface::COLLATION_B)
    }

    /// Opens the applet with 照合番号B (EF `0012`), with the last-try rule.
    pub fn verify_collation_b(
        &mut self,
        code: &CollationB,
        confirm: Option<LastTryConfirmation>,
    ) -> CardResult<(), T::Error> {
        self.io.verify_secret(ef::surface::COLLATION_B, code, confirm)
    }

    /// Reads and parses the card face (EF `0002`) into `buf` (see [`CARD_FACE_MAX_LEN`]).
    /// Not verified yet: see [`CardFace::verify`].
    pub fn read_card_face<'b>(&mut self, buf: &'b mut [u8]) -> CardResult<CardFace<'b>, T::Error> {
        let file = self.io.read_file(ef::surface::CARD_FACE, buf, Sizing::Tlv)?;
        Ok(CardFace::parse(file)?)
    }

    /// This applet's CV certificate (EF `0004`) into `buf`; its subject key signs the records.
    pub fn read_cv_cert<'b>(&mut self, buf: &'b mut [u8]) -> CardResult<CvCertificate<'b>, T::Error> {
        let file = self.io.read_file(ef::surface::CV_CERT, buf, Sizing::Tlv)?;
        Ok(CvCertificate::parse(file)?)
    }

    /// Chip genuineness: see [`prove_genuine`]. `card_key` is [`CardFace::card_key`] of a
    /// verified record.
    pub fn prove_genuine(
        &mut self,
        challenge: &[u8],
        card_key: &RsaPublicKey<'_>,
    ) -> CardResult<(), T::Error> {
        let mut signature = [0u8; SIGNATURE_LEN];
        prove_genuine(self.io, challenge, card_key, &mut signature)
    }
}
