//! What the session core is told: the card, the keypad, the face engine, the host, time.

use shikaku_protocol::message::{CardKind, FaceDecision};
use shikaku_protocol::Message;

use shikaku_card::secret::Pin4;

/// A key on the reader's keypad or touch screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Key {
    /// 0–9. PIN and passcode digits are never echoed.
    Digit(u8),
    Clear,
    Enter,
    Cancel,
    ChooseFace,
    ChoosePin,
    /// Ask for staff help: opens the 目視 passcode entry.
    Staff,
    Yes,
    No,
    Skip,
}

impl Key {
    /// The key of a one-byte key code (the rig's serial keypad and the board's key matrix
    /// scan): 0–9 digits, then Clear, Enter, Cancel, ChooseFace, ChoosePin, Staff, Yes, No,
    /// Skip as 10–18.
    pub const fn from_code(c: u8) -> Option<Key> {
        Some(match c {
            0..=9 => Key::Digit(c),
            10 => Key::Clear,
            11 => Key::Enter,
            12 => Key::Cancel,
            13 => Key::ChooseFace,
            14 => Key::ChoosePin,
            15 => Key::Staff,
            16 => Key::Yes,
            17 => Key::No,
            18 => Key::Skip,
            _ => return None,
        })
    }
}

/// Whether the card's PIN can be tried, from a VERIFY without data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PinState {
    TriesLeft(u8),
    /// `6984`, or `63C0` on the status query: locked, or a PIN-less card.
    Unavailable,
}

/// The answer to the last [`crate::session::CardOp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardReply<'a> {
    /// `ReadCertificate`: the certificate read after the PIN.
    Certificate {
        auth_cert: &'a [u8],
        not_after_unix_s: i64,
    },
    /// `Identify`: token kind, the auth certificate (DER) and its end of validity, PIN state.
    /// On Android the certificate is behind the PIN: `auth_cert` is then empty.
    Identified {
        kind: CardKind,
        auth_cert: &'a [u8],
        not_after_unix_s: i64,
        pin: PinState,
    },
    PinVerified,
    PinWrong {
        tries_left: u8,
    },
    PinLocked,
    /// `SignChallenge`: the 256-byte RSA signature of the auth key.
    Signed {
        signature: &'a [u8],
    },
    /// The card went silent, answered garbage, or refused; nothing more will come from it.
    Failed {
        error: CardFailure,
    },
}

/// Why a card operation failed, coarse enough for the screen and the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CardFailure {
    /// Lost the card mid-exchange (RF timeout, removed).
    Lost,
    /// Not a My Number card / no JPKI applet.
    NotMyNumberCard,
    /// The card answered something the clients refused.
    Protocol,
}

/// The face engine's answer to a [`crate::session::Action::StartFace`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FaceReply {
    pub decision: FaceDecision,
    /// Similarity in thousandths (1000 = identical).
    pub score_milli: u16,
}

/// One input to the session core.
pub enum Event<'a> {
    /// A card (or phone) answered in the field and is activated.
    CardPresent,
    CardRemoved,
    Card(CardReply<'a>),
    Key(Key),
    /// Four PIN digits are collected by the core itself from `Key::Digit`s; this event exists
    /// for readers whose PIN pad is a secure element delivering a finished PIN.
    PinEntered(Pin4),
    Face(FaceReply),
    /// The link confirmed a pairing exchange with the host: staff compare `code` with the
    /// host's screen and accept or reject it on the keypad.
    PairingCode {
        code: u32,
    },
    /// A decoded host message and whether it arrived on an authenticated (paired) link.
    Host {
        message: Message<'a>,
        authenticated: bool,
    },
    /// Time passed; the core checks its deadlines.
    Tick,
}
