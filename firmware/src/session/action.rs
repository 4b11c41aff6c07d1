//! What the session core asks the world to do.

use shikaku_protocol::message::{
    AuthMethod, AuthModes, CardKind, CertExpiry, Consents, ErrorCode, FaceDecision, FaceStage, PinResult,
    Remedy, VisualStopReason,
};

use super::screen::Screen;
use super::visual::AccountId;
use shikaku_card::secret::Pin4;
use shikaku_protocol::message::PasscodeOutcome;
use shikaku_protocol::Instant;

/// One card operation; the driver runs it with the applet clients and answers with
/// [`crate::session::Event::Card`].
#[derive(Debug)]
pub enum CardOp {
    /// SELECT JPKI, read token info, the auth certificate and the PIN status.
    Identify,
    /// VERIFY the auth PIN. The core only sends this with tries left > 1, or after the holder
    /// confirmed the last try (`last_try_confirmed`).
    VerifyPin { pin: Pin4, last_try_confirmed: bool },
    /// Read the auth certificate within the current selection: on Android it is readable only
    /// after the PIN (`6982` before).
    ReadCertificate,
    /// Sign the host's challenge with the auth key (after `PinVerified`, or on an iPhone,
    /// which asks its owner itself).
    SignChallenge { challenge: [u8; 32] },
}

/// A message for the host. Small and owned; the verified identity and the certificate are
/// built from the session's own buffers by [`crate::session::Session::host_message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Outgoing {
    CardDetected { kind: CardKind },
    CardRemoved,
    CertificateRead,
    CertExpiryNotice { expiry: CertExpiry },
    AuthModesOffered { modes: AuthModes },
    AuthModeChosen { method: AuthMethod },
    PinOutcome { result: PinResult, tries_left: u8 },
    FaceProgress { stage: FaceStage, attempt: u8 },
    FaceOutcome { decision: FaceDecision, score_milli: u16, attempts: u8 },
    VisualModeStarted,
    VisualModeStopped { reason: VisualStopReason },
    VisualUnlockFailed { failures: u8, locked_for_ms: u32 },
    ConsentAnswers { consents: Consents },
    VerifiedIdentity,
    Error { code: ErrorCode, remedy: Remedy },
}

/// A host message with the session and sequence number it goes out under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ToHost {
    pub session: u32,
    pub seq: u32,
    pub message: Outgoing,
}

/// What the driver does with the link's pairing gate (`ReaderEndpoint`'s pairing methods).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PairingStep {
    /// Staff opened pairing mode on the reader: take pairing requests until `until`.
    Open { until: Instant },
    /// Staff confirmed the code on the keypad: keep the new key (and persist it).
    Accept,
    /// Staff said the codes differ, or a code came when no pairing was wanted.
    Reject,
    /// Pairing mode ends (cancel or timeout); an unconfirmed exchange is dropped.
    Close,
}

#[derive(Debug)]
pub enum Action {
    Card(CardOp),
    Show(Screen),
    Send(ToHost),
    /// Start one face attempt (capture several frames, match, liveness).
    StartFace {
        attempt: u8,
    },
    /// Wipe every image, embedding and photo buffer now.
    WipeFace,
    Pairing(PairingStep),
    /// What became of a passcode provision or revocation; `Stored` and `Revoked` also mean
    /// the accounts changed and are to be kept across restarts.
    PasscodeResult {
        account: AccountId,
        outcome: PasscodeOutcome,
    },
    /// The passcode failure count changed: keep it across restarts, so a reboot does not reset
    /// the back-off or the lock.
    SaveLockout {
        failures: u8,
    },
}
