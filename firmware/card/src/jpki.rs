//! 公的個人認証 (JPKI) applet client: the 利用者証明用 certificate and its CA, the token kind,
//! the auth PIN (with the last-try rule) and signing with the auth key.

use sha2::{Digest, Sha256};

use crate::apdu::ApduTransport;

use super::commands::{aid, ef, sha256_digest_info};
use super::io::{CardIo, CardResult, SigningKey, Sizing, SIGNATURE_LEN};
use super::secret::{LastTryConfirmation, Pin4, PinStatus};

/// Largest certificate the reader accepts (the auth certificate is ~1.6 KB).
pub const MAX_CERT_LEN: usize = 2048;
/// Length of the token info record.
pub const TOKEN_INFO_LEN: usize = 32;

/// What carries the JPKI applet, from the token info (EF `0006`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CardKind {
    /// `JPKIAPICCTOKEN2`: the physical card.
    PhysicalCard,
    /// `JPKIAPGPSETOKEN`: スマホ用電子証明書 on Android.
    Android,
    /// `JPKIAPIOSTOKEN`: iPhone.
    Iphone,
    /// Anything else.
    Unknown,
}

impl CardKind {
    /// Classifies the token info record (space padded).
    pub fn from_token_info(info: &[u8]) -> Self {
        let mut label = info;
        while let [rest @ .., b' ' | 0x00] = label {
            label = rest;
        }
        match label {
            b"JPKIAPICCTOKEN2" => Self::PhysicalCard,
            b"JPKIAPGPSETOKEN" => Self::Android,
            b"JPKIAPIOSTOKEN" => Self::Iphone,
            _ => Self::Unknown,
        }
    }
}

/// The JPKI applet, selected.
pub struct Jpki<'c, 't, T> {
    io: &'c mut CardIo<'t, T>,
}

impl<'c, 't, T: ApduTransport> Jpki<'c, 't, T> {
    /// SELECT the JPKI applet.
    pub fn select(io: &'c mut CardIo<'t, T>) -> CardResult<Self, T::Error> {
        io.select_ap(&aid::JPKI)?;
        debug!("card: JPKI selected");
        Ok(Self { io })
    }

    /// The 利用者証明用電子証明書 (EF `000A`), DER, into `out`. Free on a physical card; on
    /// Android the PIN comes first (`6982` otherwise).
    pub fn read_auth_cert<'b>(&mut self, out: &'b mut [u8]) -> CardResult<&'b [u8], T::Error> {
        self.io.read_file(ef::jpki::AUTH_CERT, out, Sizing::Tlv)
    }

    /// The CA certificate of the auth certificate (EF `000B`), DER, into `out`.
    pub fn read_auth_ca_cert<'b>(&mut self, out: &'b mut [u8]) -> CardResult<&'b [u8], T::Error> {
        self.io.read_file(ef::jpki::AUTH_CA_CERT, out, Sizing::Tlv)
    }

    /// Reads the token info (EF `0006`, 32 bytes) and classifies it.
    pub fn card_kind(&mut self) -> CardResult<CardKind, T::Error> {
        let mut buf = [0u8; TOKEN_INFO_LEN];
        let info = self.io.read_file(ef::jpki::TOKEN_INFO, &mut buf, Sizing::Fixed(TOKEN_INFO_LEN))?;
        Ok(CardKind::from_token_info(info))
    }

    /// Tries left on the auth PIN (EF `0018`), without spending one.
    pub fn auth_pin_status(&mut self) -> CardResult<PinStatus, T::Error> {
        self.io.pin_status(ef::jpki::AUTH_PIN)
    }

    /// VERIFY the 4-digit auth PIN. Asks the status first: locked → `Locked` and one try left
    /// without `confirm` → `LastTryNotConfirmed`, both without sending the PIN.
    pub fn verify_auth_pin(
        &mut self,
        pin: &Pin4,
        confirm: Option<LastTryConfirmation>,
    ) -> CardResult<(), T::Error> {
        self.io.verify_secret(ef::jpki::AUTH_PIN, pin, confirm)
    }

    /// Signs `message` with the auth key: SHA-256 here, the DigestInfo to the card
    /// (SELECT EF `0017`, `80 2A 00 80 33 <DigestInfo> 00`), RSA-2048 PKCS#1 v1.5 there.
    /// Needs the auth PIN verified in this selection.
    pub fn sign_with_auth_key(
        &mut self,
        message: &[u8],
        signature: &mut [u8; SIGNATURE_LEN],
    ) -> CardResult<(), T::Error> {
        let hash: [u8; 32] = Sha256::digest(message).into();
        self.sign_hash_with_auth_key(&hash, signature)
    }

    /// Like [`sign_with_auth_key`](Self::sign_with_auth_key) for a SHA-256 hash computed by the
    /// caller.
    pub fn sign_hash_with_auth_key(
        &mut self,
        hash: &[u8; 32],
        signature: &mut [u8; SIGNATURE_LEN],
    ) -> CardResult<(), T::Error> {
        self.io.select_ef(ef::jpki::AUTH_KEY)?;
        self.io.compute_signature(SigningKey::SelectedKeyEf, &sha256_digest_info(hash), signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_kinds() {
        assert_eq!(CardKind::from_token_info(b"JPKIAPICCTOKEN2                 "), CardKind::PhysicalCard);
        assert_eq!(CardKind::from_token_info(b"JPKIAPGPSETOKEN                 "), CardKind::Android);
        assert_eq!(CardKind::from_token_info(b"JPKIAPIOSTOKEN                  "), CardKind::Iphone);
        assert_eq!(CardKind::from_token_info(b"JPKIAPIOSTOKEN"), CardKind::Iphone);
        assert_eq!(CardKind::from_token_info(b"JPKIAPICCTOKEN                  "), CardKind::Unknown);
        assert_eq!(CardKind::from_token_info(b""), CardKind::Unknown);
    }
}
