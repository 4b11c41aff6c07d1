//! Command APDU builders for the My Number card, written into caller buffers.
//!
//! Every builder returns the number of bytes written, or a [`CommandError`] without touching
//! the card. Short APDUs only (the card needs nothing else for what the reader does).

use crate::apdu::{CommandApdu, CommandError};

/// Application identifiers (DF names) of the card's applets.
pub mod aid {
    /// 公的個人認証 (JPKI).
    pub const JPKI: [u8; 10] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
    /// 券面事項入力補助 (text).
    pub const TEXT: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];
    /// 券面事項確認 (surface: card face and photo).
    pub const SURFACE: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x02];
    /// 住基.
    pub const JUKI: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x01];
    /// 共通カード.
    pub const COMMON: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x01, 0x00];
}

/// Elementary file identifiers, per applet.
pub mod ef {
    /// JPKI applet.
    pub mod jpki {
        /// 署名用電子証明書 (after the sign password).
        pub const SIGN_CERT: u16 = 0x0001;
        /// CA of the sign certificate.
        pub const SIGN_CA_CERT: u16 = 0x0002;
        /// Token info: 32 bytes, space padded.
        pub const TOKEN_INFO: u16 = 0x0006;
        /// 利用者証明用電子証明書 (free on a physical card).
        pub const AUTH_CERT: u16 = 0x000A;
        /// CA of the auth certificate.
        pub const AUTH_CA_CERT: u16 = 0x000B;
        /// Auth private key (COMPUTE DIGITAL SIGNATURE).
        pub const AUTH_KEY: u16 = 0x0017;
        /// Auth PIN: 4 digits, 3 tries.
        pub const AUTH_PIN: u16 = 0x0018;
        /// Sign private key.
        pub const SIGN_KEY: u16 = 0x001A;
        /// Sign password: 6–16 of A–Z0–9, 5 tries.
        pub const SIGN_PIN: u16 = 0x001B;
    }
    /// 券面事項入力補助 (text) applet.
    pub mod text {
        /// 個人番号 (sensitive).
        pub const MY_NUMBER: u16 = 0x0001;
        /// 基本4情報: name, address, date of birth, sex.
        pub const BASIC_FOUR: u16 = 0x0002;
        /// Hashes of `0001` and `0002` and a signature over them.
        pub const INTEGRITY: u16 = 0x0003;
        /// This applet's CV certificate.
        pub const CV_CERT: u16 = 0x0004;
        /// This applet's own (challenge) public key, signed by the CV certificate's key.
        pub const APPLET_KEY: u16 = 0x0007;
        /// PIN: 4 digits, 3 tries.
        pub const PIN: u16 = 0x0011;
        /// 照合番号A.
        pub const COLLATION_A: u16 = 0x0014;
        /// 照合番号B.
        pub const COLLATION_B: u16 = 0x0015;
    }
    /// 券面事項確認 (surface) applet.
    pub mod surface {
        /// Age record (opened by the DOB key).
        pub const AGE: u16 = 0x0001;
        /// Card face: DOB, sex, key, name/address images, face photo, signature, expiry.
        pub const CARD_FACE: u16 = 0x0002;
        /// This applet's CV certificate.
        pub const CV_CERT: u16 = 0x0004;
        /// Rendered 個人番号 image (照合番号A only; sensitive).
        pub const MY_NUMBER_IMAGE: u16 = 0x0005;
        /// 照合番号B.
        pub const COLLATION_B: u16 = 0x0012;
        /// 照合番号A.
        pub const COLLATION_A: u16 = 0x0013;
    }
}

/// Data objects read with GET DATA while no DF is selected.
pub mod data_object {
    /// CV certificate at the top of the MF-level chain.
    pub const CV_CERT_F8: u16 = 0x00F8;
    /// CV certificate below it.
    pub const CV_CERT_7F21: u16 = 0x7F21;
}

/// Instruction bytes.
pub mod ins {
    pub const SELECT: u8 = 0xA4;
    pub const READ_BINARY: u8 = 0xB0;
    pub const VERIFY: u8 = 0x20;
    pub const COMPUTE_DIGITAL_SIGNATURE: u8 = 0x2A;
    pub const GET_DATA: u8 = 0xCA;
}

/// Largest command data of a short APDU.
pub const MAX_SHORT_DATA: usize = 255;
/// Largest READ BINARY offset (`P1` bit 8 is the SFI flag).
pub const MAX_READ_OFFSET: usize = 0x7FFF;
/// Length of a SHA-256 DigestInfo.
pub const SHA256_DIGEST_INFO_LEN: usize = 51;
/// The DER prefix of a SHA-256 DigestInfo (the 32-byte hash follows).
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    0x04, 0x20,
];

/// A short command with data (`CLA INS P1 P2 Lc <data> [Le]`); `le` is Ne, 256 for `Le = 00`.
fn with_data(
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
    data: &[u8],
    le: Option<u32>,
    out: &mut [u8],
) -> Result<usize, CommandError> {
    if data.is_empty() {
        return Err(CommandError::EmptyData);
    }
    CommandApdu { cla, ins, p1, p2, data, le, extended: false }.encode(out)
}

/// A short command without data (case 1 or 2).
fn no_data(cla: u8, ins: u8, p1: u8, p2: u8, le: Option<u32>, out: &mut [u8]) -> Result<usize, CommandError> {
    CommandApdu { cla, ins, p1, p2, data: &[], le, extended: false }.encode(out)
}

/// An expected length as Ne: 1..=256, where 0 and anything above mean 256 (`Le = 00`).
fn ne(le: usize) -> u32 {
    if le == 0 || le >= 256 {
        256
    } else {
        le as u32
    }
}

/// SELECT an applet by AID: `00 A4 04 0C Lc <AID>` (no FCI returned).
pub fn select_ap(aid: &[u8], out: &mut [u8]) -> Result<usize, CommandError> {
    with_data(0x00, ins::SELECT, 0x04, 0x0C, aid, None, out)
}

/// SELECT an EF of the current applet: `00 A4 02 0C 02 <EF>`.
pub fn select_ef(ef: u16, out: &mut [u8]) -> Result<usize, CommandError> {
    with_data(0x00, ins::SELECT, 0x02, 0x0C, &ef.to_be_bytes(), None, out)
}

/// READ BINARY of the current EF: `00 B0 <offset hi> <offset lo> <Le>`.
pub fn read_binary(offset: usize, le: usize, out: &mut [u8]) -> Result<usize, CommandError> {
    if offset > MAX_READ_OFFSET {
        return Err(CommandError::OffsetOutOfRange { offset });
    }
    no_data(0x00, ins::READ_BINARY, (offset >> 8) as u8, offset as u8, Some(ne(le)), out)
}

/// READ BINARY with a short EF identifier (selects the EF too): `00 B0 <80|SFI> <offset> <Le>`,
/// offset 0..=255.
pub fn read_binary_sfi(sfi: u8, offset: u8, le: usize, out: &mut [u8]) -> Result<usize, CommandError> {
    if sfi == 0 || sfi > 30 {
        return Err(CommandError::InvalidSfi { sfi });
    }
    no_data(0x00, ins::READ_BINARY, 0x80 | sfi, offset, Some(ne(le)), out)
}

/// VERIFY against the current EF's key reference: `00 20 00 80 Lc <secret>`.
///
/// `out` then holds the secret: wipe it after the exchange (the clients do).
pub fn verify(secret: &[u8], out: &mut [u8]) -> Result<usize, CommandError> {
    with_data(0x00, ins::VERIFY, 0x00, 0x80, secret, None, out)
}

/// VERIFY with no data: `00 20 00 80`, answers `63Cx` (x tries left) without spending a try,
/// `9000` when already verified, `6984` when locked.
pub fn verify_status(out: &mut [u8]) -> Result<usize, CommandError> {
    no_data(0x00, ins::VERIFY, 0x00, 0x80, None, out)
}

/// COMPUTE DIGITAL SIGNATURE with the selected JPKI key over a DigestInfo the caller built:
/// `80 2A 00 80 Lc <DigestInfo> 00`. The card adds PKCS#1 v1.5 padding.
pub fn compute_signature(digest_info: &[u8], out: &mut [u8]) -> Result<usize, CommandError> {
    with_data(0x80, ins::COMPUTE_DIGITAL_SIGNATURE, 0x00, 0x80, digest_info, Some(256), out)
}

/// COMPUTE DIGITAL SIGNATURE with the text / surface applet's own key, no PIN (proves the chip
/// is genuine): `80 2A 00 00 Lc <DigestInfo> 00`.
pub fn compute_signature_applet_key(digest_info: &[u8], out: &mut [u8]) -> Result<usize, CommandError> {
    with_data(0x80, ins::COMPUTE_DIGITAL_SIGNATURE, 0x00, 0x00, digest_info, Some(256), out)
}

/// GET DATA: `00 CA <tag hi> <tag lo> 00`.
pub fn get_data(tag: u16, out: &mut [u8]) -> Result<usize, CommandError> {
    let [p1, p2] = tag.to_be_bytes();
    no_data(0x00, ins::GET_DATA, p1, p2, Some(256), out)
}

/// GET DATA with an extended Le of 65536 (`00 CA P1 P2 00 00 00`): the CV certificate
/// objects are larger than 256 bytes and a card answers the short form with `6700`.
pub fn get_data_extended(tag: u16, out: &mut [u8]) -> Result<usize, CommandError> {
    let [p1, p2] = tag.to_be_bytes();
    CommandApdu { cla: 0x00, ins: ins::GET_DATA, p1, p2, data: &[], le: Some(65536), extended: true }
        .encode(out)
}

/// Writes `DigestInfo(SHA-256, hash)` (51 bytes) into `out`.
pub fn sha256_digest_info(hash: &[u8; 32]) -> [u8; SHA256_DIGEST_INFO_LEN] {
    let mut di = [0u8; SHA256_DIGEST_INFO_LEN];
    di[..19].copy_from_slice(&SHA256_DIGEST_INFO_PREFIX);
    di[19..].copy_from_slice(hash);
    di
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_write_the_documented_bytes() {
        let mut b = [0u8; 64];
        let n = select_ap(&aid::JPKI, &mut b).unwrap();
        assert_eq!(
            &b[..n],
            &[0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01]
        );
        let n = select_ef(ef::jpki::AUTH_CERT, &mut b).unwrap();
        assert_eq!(&b[..n], &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A]);
        let n = read_binary(0x0100, 256, &mut b).unwrap();
        assert_eq!(&b[..n], &[0x00, 0xB0, 0x01, 0x00, 0x00]);
        let n = read_binary(0x7FFF, 5, &mut b).unwrap();
        assert_eq!(&b[..n], &[0x00, 0xB0, 0x7F, 0xFF, 0x05]);
        assert_eq!(read_binary(0x8000, 5, &mut b), Err(CommandError::OffsetOutOfRange { offset: 0x8000 }));
        let n = read_binary_sfi(0x0B, 0x10, 256, &mut b).unwrap();
        assert_eq!(&b[..n], &[0x00, 0xB0, 0x8B, 0x10, 0x00]);
        assert_eq!(read_binary_sfi(31, 0, 1, &mut b), Err(CommandError::InvalidSfi { sfi: 31 }));
        let n = verify(b"1234", &mut b).unwrap();
        assert_eq!(&b[..n], &[0x00, 0x20, 0x00, 0x80, 0x04, b'1', b'2', b'3', b'4']);
        let n = verify_status(&mut b).unwrap();
        assert_eq!(&b[..n], &[0x00, 0x20, 0x00, 0x80]);
        let di = sha256_digest_info(&[0xAB; 32]);
        let n = compute_signature(&di, &mut b[..]).unwrap();
        assert_eq!(n, 57);
        assert_eq!(&b[..5], &[0x80, 0x2A, 0x00, 0x80, 0x33]);
        assert_eq!(b[56], 0x00);
        let n = compute_signature_applet_key(&di, &mut b).unwrap();
        assert_eq!(&b[..5], &[0x80, 0x2A, 0x00, 0x00, 0x33]);
        assert_eq!(n, 57);
        let n = get_data(0x7F21, &mut b).unwrap();
        assert_eq!(&b[..n], &[0x00, 0xCA, 0x7F, 0x21, 0x00]);
    }

    #[test]
    fn builders_refuse_small_buffers_and_long_data() {
        let mut small = [0u8; 6];
        assert_eq!(select_ap(&aid::TEXT, &mut small), Err(CommandError::BufferTooSmall { needed: 15 }));
        let mut b = [0u8; 300];
        assert_eq!(verify(&[b'1'; 256], &mut b), Err(CommandError::DataTooLong { len: 256 }));
        assert_eq!(verify(&[], &mut b), Err(CommandError::EmptyData));
        assert_eq!(get_data(0xF8, &mut small[..4]), Err(CommandError::BufferTooSmall { needed: 5 }));
    }
}
