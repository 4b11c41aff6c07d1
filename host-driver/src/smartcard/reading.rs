//! Reading a マイナ保険証 on a generic reader with the firmware's applet clients: kind, auth
//! certificate, and (with a PIN typed on the PC) a signature over the eligibility challenge.

use sha2::{Digest, Sha256};
use shikaku_card::apdu::ApduTransport;
use shikaku_card::io::CardIo;
use shikaku_card::jpki::{CardKind, Jpki, MAX_CERT_LEN};
use shikaku_card::secret::{Pin4, PinStatus};
use shikaku_card::CardError;

/// Where the PIN comes from.
pub enum PinSource {
    /// Certificate only (no PIN, no signature): e.g. to check registration first.
    None,
    /// Typed on the PC. `confirm_last_try` is the holder's explicit yes for the last try.
    Typed { pin: Pin4, confirm_last_try: bool },
}

/// What was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardReading {
    pub kind: CardKind,
    pub auth_cert: Vec<u8>,
    /// Tries left before the PIN was used (`None`: verified already / unknown).
    pub tries_left: Option<u8>,
    /// RSA-2048 PKCS#1 v1.5 signature over SHA-256(challenge), when a PIN was given.
    pub signature: Option<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError<E: std::fmt::Debug> {
    #[error("card: {0:?} — {1}")]
    Card(CardError<E>, &'static str),
    #[error("the PIN is locked: reset at the municipal office; use face or a staff check")]
    Locked,
    #[error("one PIN try left: the holder must confirm before the last try")]
    LastTryNotConfirmed,
    #[error("wrong PIN, {0} tries left")]
    WrongPin(u8),
}

impl<E: std::fmt::Debug> From<CardError<E>> for ReadError<E> {
    fn from(e: CardError<E>) -> Self {
        match e {
            CardError::Locked => ReadError::Locked,
            CardError::LastTryNotConfirmed => ReadError::LastTryNotConfirmed,
            CardError::WrongPin { tries_left } => ReadError::WrongPin(tries_left),
            other => {
                let remedy = other.remedy();
                ReadError::Card(other, remedy)
            }
        }
    }
}

/// Reads the card in one JPKI selection (the PIN's verified state holds for the signature).
pub fn read_identity<T: ApduTransport>(
    transport: &mut T,
    pin: PinSource,
    challenge: &[u8; 32],
) -> Result<CardReading, ReadError<T::Error>>
where
    T::Error: std::fmt::Debug,
{
    let mut io = CardIo::new(transport);
    let mut jpki = Jpki::select(&mut io)?;
    let kind = jpki.card_kind()?;
    let status = jpki.auth_pin_status()?;
    let tries_left = status.tries_left();
    let mut cert_buf = vec![0u8; MAX_CERT_LEN];
    let signature = match pin {
        PinSource::None => None,
        PinSource::Typed { pin, confirm_last_try } => {
            let confirm = if confirm_last_try { status.confirm_last_try() } else { None };
            if status == PinStatus::Locked {
                return Err(ReadError::Locked);
            }
            jpki.verify_auth_pin(&pin, confirm)?;
            let mut sig = [0u8; 256];
            let hash: [u8; 32] = Sha256::digest(challenge).into();
            jpki.sign_hash_with_auth_key(&hash, &mut sig)?;
            Some(sig.to_vec())
        }
    };
    // On Android the certificate is readable only after the PIN.
    let cert = jpki.read_auth_cert(&mut cert_buf)?.to_vec();
    Ok(CardReading { kind, auth_cert: cert, tries_left, signature })
}
