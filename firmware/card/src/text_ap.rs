//! 券面事項入力補助 (text) applet client and its records: 基本4情報 (EF `0002`) and, marked
//! sensitive, the 個人番号 (EF `0001`).
//!
//! ```text
//! FF20 <len>                      基本4情報
//!   DF21 08  <4 × u16>            offsets of DF22..DF25 from the start of the file
//!   DF22 <n> 氏名 (UTF-8)
//!   DF23 <n> 住所 (UTF-8)
//!   DF24 08  生年月日 YYYYMMDD
//!   DF25 01  性別 (ISO 5218 digit)
//! ```

use core::fmt;

use sha2::{Digest, Sha256};

use crate::apdu::ApduTransport;

use super::commands::{aid, ef};
use super::cv_cert::CvCertificate;
use super::date::Date;
use super::io::{CardIo, CardResult, Sizing, SIGNATURE_LEN};
use super::rsa::RsaPublicKey;
use super::secret::{wipe, CollationB, LastTryConfirmation, Pin4, PinStatus};
use super::{tlv, ParseError, VerifyError};

const TAG_BASIC_FOUR: u16 = 0xFF20;
const TAG_OFFSETS: u16 = 0xDF21;
const TAG_NAME: u16 = 0xDF22;
const TAG_ADDRESS: u16 = 0xDF23;
const TAG_DOB: u16 = 0xDF24;
const TAG_SEX: u16 = 0xDF25;
const TAG_MY_NUMBER: u16 = 0xFF10;
const TAG_INTEGRITY: u16 = 0xFF30;
const TAG_MY_NUMBER_HASH: u16 = 0xDF31;
const TAG_BASIC_FOUR_HASH: u16 = 0xDF32;
const TAG_INTEGRITY_SIGNATURE: u16 = 0xDF33;
const TAG_APPLET_KEY_RECORD: u16 = 0xFF50;
const TAG_APPLET_KEY: u16 = 0xDF51;
const TAG_APPLET_KEY_SIGNATURE: u16 = 0xDF52;

/// Buffer size that holds any 基本4情報 record (name and address are bounded by the card).
pub const BASIC_FOUR_MAX_LEN: usize = 1024;

/// 性別, ISO 5218.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Sex {
    NotKnown,
    Male,
    Female,
    NotApplicable,
}

impl Sex {
    pub(crate) fn parse(tag: u16, value: &[u8]) -> Result<Self, ParseError> {
        match value {
            b"0" => Ok(Self::NotKnown),
            b"1" => Ok(Self::Male),
            b"2" => Ok(Self::Female),
            b"9" => Ok(Self::NotApplicable),
            [_] => Err(ParseError::InvalidValue { tag }),
            _ => Err(ParseError::BadFieldLength { tag, len: value.len() }),
        }
    }
}

/// Checks an offset table (`DF21`): `count` big-endian u16 offsets from the start of `file`,
/// the i-th pointing at the element tagged `first_tag + i`.
pub(crate) fn check_offsets(file: &[u8], table: &[u8], first_tag: u16, count: u16) -> Result<(), ParseError> {
    if table.len() != usize::from(count) * 2 {
        return Err(ParseError::BadFieldLength { tag: TAG_OFFSETS, len: table.len() });
    }
    for (i, pair) in (0..count).zip(table.chunks_exact(2)) {
        let offset = usize::from(u16::from_be_bytes([pair[0], pair[1]]));
        let at = file.get(offset..).ok_or(ParseError::InvalidValue { tag: TAG_OFFSETS })?;
        match tlv::header(at) {
            Ok((tag, _, _)) if tag == first_tag + i => {}
            _ => return Err(ParseError::InvalidValue { tag: TAG_OFFSETS }),
        }
    }
    Ok(())
}

fn utf8(tag: u16, value: &[u8]) -> Result<&str, ParseError> {
    core::str::from_utf8(value).map_err(|_| ParseError::InvalidUtf8 { tag })
}

/// 基本4情報, borrowed from the record. `Debug` does not print name or address.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BasicFour<'a> {
    /// 氏名, UTF-8 as the card stores it (異体字 that UTF-8 cannot carry are the card's
    /// problem, never replaced here).
    pub name: &'a str,
    /// 住所, UTF-8.
    pub address: &'a str,
    pub date_of_birth: Date,
    pub sex: Sex,
}

impl<'a> BasicFour<'a> {
    /// Parses the record of EF `0002`; filler after it is ignored.
    pub fn parse(file: &'a [u8]) -> Result<Self, ParseError> {
        let (record, _filler) = tlv::expect(file, TAG_BASIC_FOUR)?;
        let mut body = record.value;
        let offsets = tlv::take(&mut body, TAG_OFFSETS)?;
        check_offsets(file, offsets.value, TAG_NAME, 4)?;
        let name = tlv::take(&mut body, TAG_NAME)?;
        let address = tlv::take(&mut body, TAG_ADDRESS)?;
        let dob = tlv::take(&mut body, TAG_DOB)?;
        let sex = tlv::take(&mut body, TAG_SEX)?;
        Ok(Self {
            name: utf8(TAG_NAME, name.value)?,
            address: utf8(TAG_ADDRESS, address.value)?,
            date_of_birth: Date::parse_yyyymmdd(dob.value)?,
            sex: Sex::parse(TAG_SEX, sex.value)?,
        })
    }
}

impl fmt::Debug for BasicFour<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicFour")
            .field("name", &"<redacted>")
            .field("address", &"<redacted>")
            .field("date_of_birth", &self.date_of_birth)
            .field("sex", &self.sex)
            .finish()
    }
}

/// **SENSITIVE**: a 個人番号 (My Number). Its use is restricted by law (番号法); the reader
/// never needs it for eligibility. Wiped on drop, `Debug` prints no digits, no `Clone`.
pub struct MyNumber([u8; 12]);

impl MyNumber {
    /// Parses EF `0001` (`FF10 0C <12 digits>`, filler after it) and checks the check digit.
    pub fn parse(file: &[u8]) -> Result<Self, ParseError> {
        let (t, _filler) = tlv::expect(file, TAG_MY_NUMBER)?;
        let digits: [u8; 12] = t
            .value
            .try_into()
            .map_err(|_| ParseError::BadFieldLength { tag: TAG_MY_NUMBER, len: t.value.len() })?;
        let valid = digits.iter().all(u8::is_ascii_digit) && check_digit(&digits) == digits[11] - b'0';
        if !valid {
            return Err(ParseError::InvalidValue { tag: TAG_MY_NUMBER });
        }
        Ok(Self(digits))
    }

    /// **SENSITIVE**: the twelve ASCII digits. Never log or display them.
    pub fn expose_sensitive_digits(&self) -> &[u8; 12] {
        &self.0
    }
}

/// The 個人番号 check digit of the first eleven digits.
fn check_digit(digits: &[u8; 12]) -> u8 {
    let sum: u32 = (1..=11u32)
        .map(|n| {
            let p = u32::from(digits[11 - n as usize] - b'0');
            let q = if n <= 6 { n + 1 } else { n - 5 };
            p * q
        })
        .sum();
    match sum % 11 {
        0 | 1 => 0,
        r => (11 - r) as u8,
    }
}

impl Drop for MyNumber {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

impl fmt::Debug for MyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MyNumber(<redacted>)")
    }
}

fn hash32(t: tlv::Tlv<'_>) -> Result<&[u8; 32], ParseError> {
    t.value.try_into().map_err(|_| ParseError::BadFieldLength { tag: t.tag, len: t.value.len() })
}

/// The integrity record (EF `0003`), from the bytes of `text-0003.bin`:
///
/// ```text
/// FF30 <len>
///   DF31 20  SHA-256 of EF 0001 as stored (個人番号 TLV and its filler)
///   DF32 20  SHA-256 of the 基本4情報 elements DF22..DF25 as encoded (FF20 header and DF21
///            offsets excluded)
///   DF33 82 0100  PKCS#1 v1.5 sha256WithRSA over DF31..DF32 as encoded, by this applet's CV
///            certificate key (EF 0004)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct IntegrityRecord<'a> {
    pub my_number_hash: &'a [u8; 32],
    pub basic_four_hash: &'a [u8; 32],
    /// DF31 and DF32 as encoded: what the signature covers.
    pub signed: &'a [u8],
    pub signature: &'a [u8],
}

impl<'a> IntegrityRecord<'a> {
    /// Parses EF `0003`; filler after it is ignored.
    pub fn parse(file: &'a [u8]) -> Result<Self, ParseError> {
        let (record, _filler) = tlv::expect(file, TAG_INTEGRITY)?;
        let mut body = record.value;
        let start = body;
        let my_number_hash = hash32(tlv::take(&mut body, TAG_MY_NUMBER_HASH)?)?;
        let basic_four_hash = hash32(tlv::take(&mut body, TAG_BASIC_FOUR_HASH)?)?;
        let signed = &start[..start.len() - body.len()];
        let signature = tlv::take(&mut body, TAG_INTEGRITY_SIGNATURE)?.value;
        if !body.is_empty() {
            return Err(ParseError::TrailingData);
        }
        Ok(Self { my_number_hash, basic_four_hash, signed, signature })
    }

    /// Checks DF33 with the applet's CV certificate key.
    pub fn verify(&self, issuer_key: &RsaPublicKey<'_>) -> Result<(), VerifyError> {
        issuer_key.verify_sha256(self.signed, self.signature)
    }

    /// Checks a 基本4情報 file (EF `0002`) against DF32.
    pub fn check_basic_four(&self, file: &[u8]) -> Result<(), VerifyError> {
        let (record, _filler) = tlv::expect(file, TAG_BASIC_FOUR)?;
        let mut elements = record.value;
        tlv::take(&mut elements, TAG_OFFSETS)?;
        digest_matches(elements, self.basic_four_hash)
    }

    /// Checks the 個人番号 file (EF `0001`, as read: filler included) against DF31.
    pub fn check_my_number_file(&self, file: &[u8]) -> Result<(), VerifyError> {
        digest_matches(file, self.my_number_hash)
    }
}

fn digest_matches(data: &[u8], expected: &[u8; 32]) -> Result<(), VerifyError> {
    if Sha256::digest(data).as_slice() == expected {
        Ok(())
    } else {
        Err(VerifyError::DigestMismatch)
    }
}

/// The applet's own public key (EF `0007`, `text-0007.bin`): `FF50 { DF51 <90/91 key>,
/// DF52 <signature> }`, DF52 being PKCS#1 v1.5 sha256WithRSA over DF51 as encoded, by this
/// applet's CV certificate key. The key checks the genuineness challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AppletKeyRecord<'a> {
    pub applet_key: RsaPublicKey<'a>,
    /// DF51 as encoded.
    pub signed: &'a [u8],
    pub signature: &'a [u8],
}

impl<'a> AppletKeyRecord<'a> {
    /// Parses EF `0007`; filler after it is ignored.
    pub fn parse(file: &'a [u8]) -> Result<Self, ParseError> {
        let (record, _filler) = tlv::expect(file, TAG_APPLET_KEY_RECORD)?;
        let mut body = record.value;
        let key = tlv::take(&mut body, TAG_APPLET_KEY)?;
        let signature = tlv::take(&mut body, TAG_APPLET_KEY_SIGNATURE)?.value;
        if !body.is_empty() {
            return Err(ParseError::TrailingData);
        }
        Ok(Self { applet_key: RsaPublicKey::parse_card_encoding(key.value)?, signed: key.raw, signature })
    }

    /// Checks DF52 with the applet's CV certificate key.
    pub fn verify(&self, issuer_key: &RsaPublicKey<'_>) -> Result<(), VerifyError> {
        issuer_key.verify_sha256(self.signed, self.signature)
    }
}

/// The 券面事項入力補助 applet, selected.
pub struct TextAp<'c, 't, T> {
    io: &'c mut CardIo<'t, T>,
}

impl<'c, 't, T: ApduTransport> TextAp<'c, 't, T> {
    /// SELECT the text applet.
    pub fn select(io: &'c mut CardIo<'t, T>) -> CardResult<Self, T::Error> {
        io.select_ap(&aid::TEXT)?;
        debug!("card: text AP selected");
        Ok(Self { io })
    }

    /// Tries left on the PIN (EF `0011`), without spending one.
    pub fn pin_status(&mut self) -> CardResult<PinStatus, T::Error> {
        self.io.pin_status(ef::text::PIN)
    }

    /// Opens the applet with the 4-digit PIN (EF `0011`), with the last-try rule.
    pub fn verify_pin(
        &mut self,
        pin: &Pin4,
        confirm: Option<LastTryConfirmation>,
    ) -> CardResult<(), T::Error> {
        self.io.verify_secret(ef::text::PIN, pin, confirm)
    }

    /// Opens the applet with 照合番号B (EF `0015`), with the last-try rule.
    pub fn verify_collation_b(
        &mut self,
        code: &CollationB,
        confirm: Option<LastTryConfirmation>,
    ) -> CardResult<(), T::Error> {
        self.io.verify_secret(ef::text::COLLATION_B, code, confirm)
    }

    /// Reads and parses 基本4情報 (EF `0002`) into `buf` (see [`BASIC_FOUR_MAX_LEN`]).
    pub fn read_basic_four<'b>(&mut self, buf: &'b mut [u8]) -> CardResult<BasicFour<'b>, T::Error> {
        let file = self.io.read_file(ef::text::BASIC_FOUR, buf, Sizing::Tlv)?;
        Ok(BasicFour::parse(file)?)
    }

    /// **SENSITIVE**: reads the 個人番号 (EF `0001`), checking it against the integrity record
    /// first when one is given. The read buffer is wiped before returning; only the
    /// [`MyNumber`] holds the digits.
    pub fn read_my_number_sensitive(
        &mut self,
        integrity: Option<&IntegrityRecord<'_>>,
    ) -> CardResult<MyNumber, T::Error> {
        let mut buf = [0u8; 64];
        let result = self.io.read_file(ef::text::MY_NUMBER, &mut buf, Sizing::UntilEnd).and_then(|file| {
            if let Some(integrity) = integrity {
                integrity.check_my_number_file(file)?;
            }
            Ok(MyNumber::parse(file)?)
        });
        wipe(&mut buf);
        result
    }

    /// The integrity record (EF `0003`) into `buf`.
    pub fn read_integrity_record<'b>(
        &mut self,
        buf: &'b mut [u8],
    ) -> CardResult<IntegrityRecord<'b>, T::Error> {
        let file = self.io.read_file(ef::text::INTEGRITY, buf, Sizing::Tlv)?;
        Ok(IntegrityRecord::parse(file)?)
    }

    /// The applet's own key record (EF `0007`) into `buf`.
    pub fn read_applet_key_record<'b>(
        &mut self,
        buf: &'b mut [u8],
    ) -> CardResult<AppletKeyRecord<'b>, T::Error> {
        let file = self.io.read_file(ef::text::APPLET_KEY, buf, Sizing::Tlv)?;
        Ok(AppletKeyRecord::parse(file)?)
    }

    /// This applet's CV certificate (EF `0004`) into `buf`.
    pub fn read_cv_cert<'b>(&mut self, buf: &'b mut [u8]) -> CardResult<CvCertificate<'b>, T::Error> {
        let file = self.io.read_file(ef::text::CV_CERT, buf, Sizing::Tlv)?;
        Ok(CvCertificate::parse(file)?)
    }

    /// Has the applet sign `challenge` with its own key (no PIN) and checks the signature with
    /// `applet_key` ([`AppletKeyRecord::applet_key`] of a verified record): see [`surface_ap::prove_genuine`](super::surface_ap::prove_genuine).
    pub fn prove_genuine(
        &mut self,
        challenge: &[u8],
        applet_key: &RsaPublicKey<'_>,
    ) -> CardResult<(), T::Error> {
        let mut signature = [0u8; SIGNATURE_LEN];
        super::surface_ap::prove_genuine(self.io, challenge, applet_key, &mut signature)
    }
}
