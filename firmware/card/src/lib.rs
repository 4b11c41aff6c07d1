//! The My Number card layer of shikaku (no_std, no heap): APDU types, the applet clients and
//! the parsers of what the card returns. The reader's firmware and the host driver's PC/SC path
//! both use it.
//!
//! Layers, bottom up, each with its own error type:
//!
//! | module | what | error |
//! |---|---|---|
//! | [`apdu`] | one command APDU type (parse, short and extended encoding), status words, the [`ApduTransport`] seam | [`CommandError`] |
//! | [`commands`] | APDU builders writing into caller buffers; AIDs and EF ids | [`CommandError`] |
//! | [`tlv`], [`der`], [`cv_cert`], [`date`] | zero-copy parsers of what the card returns | [`ParseError`] |
//! | [`rsa`] | RSA-2048 PKCS#1 v1.5 / SHA-256 verification, fixed size, no heap | [`VerifyError`] |
//! | [`io`] | SELECT / READ BINARY / VERIFY / GET DATA over an [`ApduTransport`] | [`CardError`] |
//! | [`jpki`], [`text_ap`], [`surface_ap`] | the applet clients | [`CardError`] |
//!
//! Nothing here allocates; every parser takes the bytes the card returned and answers borrowed
//! views into them, or a typed error. Secrets (PINs, 照合番号) live in [`secret`] types that only
//! ever get written into an APDU buffer, which is wiped after the exchange.
//!
//! An applet handle ([`jpki::Jpki`], [`text_ap::TextAp`], [`surface_ap::SurfaceAp`]) borrows
//! the [`CardIo`] mutably, so only one applet is selected at a time in the type system as on
//! the card (selecting another applet clears the verified state of the one left).
//!
//! # Flows
//!
//! Face photo for the face match (surface applet), per the design brief:
//!
//! 1. build [`secret::CollationB`] from the digits read off the card front;
//! 2. [`surface_ap::SurfaceAp::select`], [`collation_b_status`], [`verify_collation_b`]
//!    (never spends the last try without a [`LastTryConfirmation`]);
//! 3. [`read_cv_cert`]: its subject key signs the records (check the certificate itself with
//!    [`cv_cert::verify_chain`] against the provisioned CV roots);
//! 4. [`read_card_face`], then [`CardFace::verify`] with that key **before** using the photo;
//! 5. [`prove_genuine`] with a fresh random challenge and [`CardFace::card_key`]: the chip is
//!    present, not a copy of its files.
//!
//! Eligibility with PIN (JPKI): [`jpki::Jpki::auth_pin_status`], `verify_auth_pin`, then
//! `read_auth_cert` and `sign_with_auth_key`; the certificate checks with
//! [`der::Certificate::verify_issued_by`], and its `not_after` ([`DateTime::unix_seconds`])
//! feeds the session's 3-month validity rule.
//!
//! [`ApduTransport`]: crate::apdu::ApduTransport
//! [`collation_b_status`]: surface_ap::SurfaceAp::collation_b_status
//! [`verify_collation_b`]: surface_ap::SurfaceAp::verify_collation_b
//! [`read_cv_cert`]: surface_ap::SurfaceAp::read_cv_cert
//! [`read_card_face`]: surface_ap::SurfaceAp::read_card_face
//! [`CardFace::verify`]: surface_ap::CardFace::verify
//! [`CardFace::card_key`]: surface_ap::CardFace::card_key
//! [`prove_genuine`]: surface_ap::SurfaceAp::prove_genuine

#![cfg_attr(not(test), no_std)]

// The test doubles of `testing` allocate; nothing else in the crate does.
#[cfg(feature = "testing")]
extern crate std;

#[macro_use]
extern crate shikaku_fmt;
shikaku_fmt::check_features!();

pub mod apdu;
pub mod calendar;
pub mod commands;
pub mod cv_cert;
pub mod date;
pub mod der;
pub mod io;
pub mod jpki;
pub mod rsa;
pub mod secret;
pub mod surface_ap;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text_ap;
pub mod tlv;

use apdu::StatusWord;
pub use apdu::{ApduTransport, CommandError};

pub use date::{Date, DateTime};
pub use io::CardIo;
pub use rsa::RsaPublicKey;
pub use secret::{LastTryConfirmation, Pin4, PinStatus};

/// Bytes from the card do not have the expected structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ParseError {
    /// The input ends inside a tag, a length or a value.
    #[error("truncated data")]
    Truncated,
    /// A length field is malformed (indefinite, too many bytes, non-minimal where DER requires).
    #[error("malformed length")]
    BadLength,
    /// A tag other than the one the layout requires.
    #[error("unexpected tag {found:#06x}, expected {expected:#06x}")]
    UnexpectedTag { expected: u16, found: u16 },
    /// A required element is missing.
    #[error("missing element {tag:#06x}")]
    Missing { tag: u16 },
    /// A value has the wrong size for its field.
    #[error("field {tag:#06x} has length {len}")]
    BadFieldLength { tag: u16, len: usize },
    /// Text that must be UTF-8 (name, address) is not.
    #[error("invalid UTF-8 in {tag:#06x}")]
    InvalidUtf8 { tag: u16 },
    /// A date or time that is not a valid calendar value.
    #[error("invalid date")]
    InvalidDate,
    /// A value outside what the layout allows (e.g. an offset table that points elsewhere).
    #[error("invalid value in {tag:#06x}")]
    InvalidValue { tag: u16 },
    /// Bytes after the end of a structure where none are allowed.
    #[error("trailing data")]
    TrailingData,
}

/// A signature did not verify, or could not be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VerifyError {
    /// The key is not an RSA key this code supports (modulus > 2048 bits, even, or empty
    /// exponent).
    #[error("unsupported RSA key")]
    UnsupportedKey,
    /// The signature is not as long as the modulus, or not smaller than it.
    #[error("signature has the wrong size for the key")]
    SignatureSize,
    /// The signature does not match the data under this key.
    #[error("signature invalid")]
    BadSignature,
    /// Data does not match the hash a signed record holds for it.
    #[error("data does not match its signed hash")]
    DigestMismatch,
    /// A certificate names a signature algorithm other than sha256WithRSAEncryption.
    #[error("unsupported signature algorithm")]
    UnsupportedAlgorithm,
    /// No trusted key is known for the issuer a certificate names: nothing was checked.
    #[error("no trust anchor for the issuer")]
    UnknownIssuer,
    /// The issuer named in a certificate is not the subject of the key offered to check it.
    #[error("issuer does not match the signer")]
    IssuerMismatch,
    /// Data needed for the check did not parse.
    #[error("malformed signed data: {0}")]
    Malformed(#[from] ParseError),
}

/// What the applet clients answer when something goes wrong. `E` is the transport's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CardError<E> {
    /// The transport below failed; the card may or may not have seen the command.
    #[error("transport error")]
    Transport(E),
    /// The response is shorter than a status word.
    #[error("response shorter than a status word")]
    ResponseTooShort,
    /// The response data has a length the command cannot produce.
    #[error("response data has unexpected length {len}")]
    UnexpectedResponseLength { len: usize },
    /// `6A82`: no such file or application on this card.
    #[error("file or application not found (6A82)")]
    NotFound,
    /// `6982`: the file needs a PIN or 照合番号 first.
    #[error("security status not satisfied (6982)")]
    SecurityStatusNotSatisfied,
    /// `6984` (or `63C0` on a status query): the PIN is locked. Only the municipal office
    /// (市区町村窓口) can reset it; offer face or 目視 instead.
    #[error("PIN locked: reset at the municipal office (6984)")]
    Locked,
    /// `63Cx` after a VERIFY with data: wrong PIN or 照合番号, `tries_left` left.
    #[error("wrong PIN, {tries_left} tries left")]
    WrongPin { tries_left: u8 },
    /// Refused locally before sending: only one try is left and the caller did not pass a
    /// [`LastTryConfirmation`]. Nothing was sent to the card.
    #[error("one try left: confirmation required before VERIFY")]
    LastTryNotConfirmed,
    /// `6B00`: READ BINARY offset past the end of the file.
    #[error("offset past end of file (6B00)")]
    WrongOffset,
    /// `6700`: wrong length.
    #[error("wrong length (6700)")]
    WrongLength,
    /// `6A86`: incorrect P1/P2.
    #[error("incorrect P1/P2 (6A86)")]
    IncorrectP1P2,
    /// `6986`: no current EF.
    #[error("no current EF (6986)")]
    NoCurrentEf,
    /// `6881`: only logical channel 0 is supported.
    #[error("logical channel not supported (6881)")]
    LogicalChannelNotSupported,
    /// `6D00` / `6E00`: the applet does not know this command.
    #[error("instruction or class not supported")]
    NotSupported(StatusWord),
    /// Any other status word.
    #[error("unexpected status word")]
    UnexpectedStatus(StatusWord),
    /// A file is larger than the buffer the caller provided.
    #[error("file larger than the buffer ({capacity} bytes)")]
    BufferTooSmall { capacity: usize },
    /// A command could not be built.
    #[error("command: {0}")]
    Command(#[from] CommandError),
    /// The card answered bytes that do not parse.
    #[error("malformed card data: {0}")]
    Parse(#[from] ParseError),
    /// A signature from the card did not verify.
    #[error("verification: {0}")]
    Verify(#[from] VerifyError),
}

impl<E> CardError<E> {
    /// Maps a non-success status word to its error. `9000` maps to `UnexpectedStatus` too:
    /// callers only ask for errors of failed exchanges.
    pub fn from_status(sw: StatusWord) -> Self {
        match sw {
            StatusWord::FILE_NOT_FOUND => Self::NotFound,
            StatusWord::SECURITY_STATUS_NOT_SATISFIED => Self::SecurityStatusNotSatisfied,
            StatusWord::AUTH_METHOD_BLOCKED => Self::Locked,
            StatusWord::WRONG_OFFSET => Self::WrongOffset,
            StatusWord::WRONG_LENGTH => Self::WrongLength,
            StatusWord::INCORRECT_P1P2 => Self::IncorrectP1P2,
            StatusWord::NO_CURRENT_EF => Self::NoCurrentEf,
            StatusWord::LOGICAL_CHANNEL_NOT_SUPPORTED => Self::LogicalChannelNotSupported,
            StatusWord::INS_NOT_SUPPORTED | StatusWord::CLA_NOT_SUPPORTED => Self::NotSupported(sw),
            _ => match sw.tries_left() {
                Some(tries_left) => Self::WrongPin { tries_left },
                None => Self::UnexpectedStatus(sw),
            },
        }
    }

    /// What staff should do about this error, in one line, for the reader's display and the
    /// host's log.
    pub fn remedy(&self) -> &'static str {
        match self {
            Self::Locked => {
                "PIN locked: the holder must reset it at the municipal office; use face or visual check now"
            }
            Self::WrongPin { tries_left: 0 } => "wrong PIN and no try left: locked, the holder must reset it at the municipal office; use face or visual check now",
            Self::WrongPin { .. } => "wrong PIN: ask the holder to retry, or use face or visual check",
            Self::LastTryNotConfirmed => {
                "one PIN try left: confirm with the holder before the last try, or use face or visual check"
            }
            Self::SecurityStatusNotSatisfied => "the card needs a PIN or collation number first",
            Self::NotFound => "not a My Number card, or this applet is missing: check the card",
            Self::Transport(_) | Self::ResponseTooShort => {
                "card link lost: ask the holder to place the card again"
            }
            _ => "card answered unexpectedly: place the card again; if it persists, report the error code",
        }
    }
}
