//! Small value types carried inside messages. Every enum has a stable wire number; numbers
//! are never reused, and a number this build does not know is a typed error.

use crate::codec::FieldError;

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident : $field:literal { $($(#[$vm:meta])* $variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        #[repr(u8)]
        pub enum $name { $($(#[$vm])* $variant = $value),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn from_wire(v: u8) -> Result<Self, FieldError> {
                match v {
                    $($value => Ok($name::$variant),)+
                    _ => Err(FieldError::Value { field: $field, value: v }),
                }
            }
            pub const fn to_wire(self) -> u8 { self as u8 }
        }
    };
}

wire_enum! {
    /// What was placed on the reader, as told by the JPKI token info.
    CardKind: "card_kind" {
        Unknown = 0,
        /// A physical My Number card (`JPKIAPICCTOKEN2`).
        PhysicalCard = 1,
        /// Android スマホ用電子証明書 (`JPKIAPGPSETOKEN`).
        Android = 2,
        /// iPhone (`JPKIAPIOSTOKEN`).
        IPhone = 3,
        /// The 2023 PIN-less 顔認証マイナンバーカード: face or 目視 only.
        PinlessCard = 4,
    }
}

wire_enum! {
    /// How a pairing ended on the reader.
    PairOutcome: "pair_outcome" {
        /// Staff confirmed the code on the reader's keypad; the reader keeps the new key.
        Accepted = 1,
        /// Pairing mode is not open on the reader: staff open it there (see the README).
        NotOpen = 2,
        /// This opening of pairing mode has had its attempts; staff open it again.
        TooManyAttempts = 3,
        /// Staff said the codes differ (or cancelled): nothing changed on the reader.
        RejectedByStaff = 4,
        /// Nobody confirmed the code on the reader in time.
        TimedOut = 5,
    }
}

wire_enum! {
    /// What the reader did with a 目視 passcode provision or revocation.
    PasscodeOutcome: "passcode_outcome" {
        /// Stored (and written to flash where the reader has it).
        Stored = 1,
        /// The account was removed.
        Revoked = 2,
        /// All account slots are taken: revoke one first.
        StoreFull = 3,
        /// Revocation of an account the reader does not have.
        UnknownAccount = 4,
        /// An empty or over-long account name.
        BadAccount = 5,
        /// The reader could not write its flash: the change holds until it restarts.
        StorageFailed = 6,
        /// The hash uses fewer PBKDF2 iterations than the reader's minimum.
        TooFewIterations = 7,
    }
}

wire_enum! {
    /// How the holder was confirmed.
    AuthMethod: "auth_method" {
        Face = 1,
        Pin = 2,
        /// 目視: staff compared the card photo with the patient.
        Visual = 3,
        /// iPhone: the holder confirmed on the phone itself, which then signed.
        OnDevice = 4,
    }
}

impl AuthMethod {
    const fn bit(self) -> u8 {
        1 << (self as u8 - 1)
    }
}

/// A set of [`AuthMethod`]s, as offered to the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AuthModes(u8);

impl AuthModes {
    pub const EMPTY: Self = Self(0);
    pub const fn with(self, m: AuthMethod) -> Self {
        Self(self.0 | m.bit())
    }
    pub const fn contains(self, m: AuthMethod) -> bool {
        self.0 & m.bit() != 0
    }
    pub const fn bits(self) -> u8 {
        self.0
    }
    pub fn from_bits(v: u8) -> Result<Self, FieldError> {
        if v & !0b1111 != 0 {
            return Err(FieldError::Value { field: "auth_modes", value: v });
        }
        Ok(Self(v))
    }
}

wire_enum! {
    /// What the card said to a VERIFY of the PIN.
    PinResult: "pin_result" {
        Verified = 1,
        Wrong = 2,
        /// `6984`: only a municipal office can reset it.
        Locked = 3,
        /// The patient stopped at the last-try confirmation; no try was spent.
        Declined = 4,
    }
}

wire_enum! {
    /// Why a 目視 session ended.
    VisualStopReason: "visual_stop" {
        Completed = 1,
        Timeout = 2,
        Cancelled = 3,
        CardRemoved = 4,
    }
}

wire_enum! {
    FaceStage: "face_stage" {
        ReadingCardFront = 1,
        OpeningPhoto = 2,
        Capturing = 3,
        Matching = 4,
        LivenessCheck = 5,
    }
}

wire_enum! {
    FaceDecision: "face_decision" {
        Match = 1,
        NoMatch = 2,
        /// Presentation attack suspected (photo, screen).
        LivenessFailed = 3,
        /// No usable face in the frames.
        NoFace = 4,
        /// The chip photo could not be had: the card front was unreadable, or the card refused
        /// the 照合番号B read from it (no further try is spent: staff take over).
        PhotoUnavailable = 5,
    }
}

wire_enum! {
    /// One consent screen's answer.
    ConsentAnswer: "consent" {
        NotAsked = 0,
        Agreed = 1,
        Declined = 2,
        Skipped = 3,
    }
}

/// The consent screens: 薬剤情報, 特定健診情報, 診療情報, 手術情報, or one 包括同意.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Consents {
    pub medication: ConsentAnswer,
    pub health_checkup: ConsentAnswer,
    pub treatment: ConsentAnswer,
    pub surgery: ConsentAnswer,
    /// 包括同意: one answer covering all four.
    pub comprehensive: ConsentAnswer,
}

impl Default for Consents {
    fn default() -> Self {
        Self::NONE
    }
}

impl Consents {
    pub const NONE: Self = Self {
        medication: ConsentAnswer::NotAsked,
        health_checkup: ConsentAnswer::NotAsked,
        treatment: ConsentAnswer::NotAsked,
        surgery: ConsentAnswer::NotAsked,
        comprehensive: ConsentAnswer::NotAsked,
    };
    pub fn to_wire(self) -> [u8; 5] {
        [
            self.medication.to_wire(),
            self.health_checkup.to_wire(),
            self.treatment.to_wire(),
            self.surgery.to_wire(),
            self.comprehensive.to_wire(),
        ]
    }
    pub fn from_wire(b: [u8; 5]) -> Result<Self, FieldError> {
        Ok(Self {
            medication: ConsentAnswer::from_wire(b[0])?,
            health_checkup: ConsentAnswer::from_wire(b[1])?,
            treatment: ConsentAnswer::from_wire(b[2])?,
            surgery: ConsentAnswer::from_wire(b[3])?,
            comprehensive: ConsentAnswer::from_wire(b[4])?,
        })
    }
}

/// Where the auth certificate stands against its validity end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CertExpiry {
    /// Valid, with this many days left (the reader alerts at ≤ 3 months).
    DaysLeft(u16),
    /// Expired this many days ago (accepted for eligibility only within 3 months).
    DaysPast(u16),
}

impl CertExpiry {
    pub fn to_wire(self) -> (u8, u16) {
        match self {
            CertExpiry::DaysLeft(d) => (0, d),
            CertExpiry::DaysPast(d) => (1, d),
        }
    }
    pub fn from_wire(tag: u8, days: u16) -> Result<Self, FieldError> {
        match tag {
            0 => Ok(CertExpiry::DaysLeft(days)),
            1 => Ok(CertExpiry::DaysPast(days)),
            v => Err(FieldError::Value { field: "cert_expiry", value: v }),
        }
    }
}

wire_enum! {
    /// What the person at the counter should do about an error.
    Remedy: "remedy" {
        None = 0,
        /// Place the card again / hold it still.
        RetryCard = 1,
        /// Use another method (face, PIN, 目視).
        OtherMethod = 2,
        /// Ask staff for help.
        CallStaff = 3,
        /// PIN locked: reset at the municipal office (市区町村窓口).
        MunicipalOffice = 4,
        /// Certificate expired past grace: use the 資格確認書 / renew at the municipal office.
        EligibilityCertificate = 5,
        /// Check the cable and the reader's power.
        CheckConnection = 6,
        /// Re-pair the reader with this PC.
        RePair = 7,
        /// A fault the vendor must look at.
        ContactVendor = 8,
    }
}

wire_enum! {
    SelfTest: "self_test" {
        NotRun = 0,
        Passed = 1,
        Failed = 2,
    }
}

wire_enum! {
    CancelReason: "cancel_reason" {
        Staff = 1,
        Host = 2,
        Patient = 3,
        Timeout = 4,
    }
}

/// Stable numeric error codes. Numbers are never reused; a code this build does not know
/// is carried through unchanged (newer readers may add codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ErrorCode(pub u16);

impl ErrorCode {
    // 1xx: the card
    pub const CARD_REMOVED: Self = Self(101);
    pub const CARD_UNREADABLE: Self = Self(102);
    pub const NOT_A_MY_NUMBER_CARD: Self = Self(103);
    pub const CERT_EXPIRED_PAST_GRACE: Self = Self(104);
    pub const PIN_LOCKED: Self = Self(105);
    pub const PIN_WRONG: Self = Self(106);
    pub const CARD_PROTOCOL: Self = Self(107);
    pub const NOT_REGISTERED: Self = Self(108);
    // 2xx: face
    pub const FACE_NO_MATCH: Self = Self(201);
    pub const FACE_LIVENESS: Self = Self(202);
    pub const FACE_ATTEMPTS_EXHAUSTED: Self = Self(203);
    pub const CAMERA_FAULT: Self = Self(204);
    pub const CARD_FRONT_UNREADABLE: Self = Self(205);
    // 3xx: 目視
    pub const PASSCODE_WRONG: Self = Self(301);
    pub const PASSCODE_LOCKED: Self = Self(302);
    pub const UNKNOWN_STAFF_ACCOUNT: Self = Self(303);
    // 4xx: the link
    pub const NOT_PAIRED: Self = Self(401);
    pub const AUTHENTICATION_FAILED: Self = Self(402);
    pub const REPLAY: Self = Self(403);
    pub const LINK_TIMEOUT: Self = Self(404);
    pub const UNSUPPORTED_VERSION: Self = Self(405);
    pub const MALFORMED_FRAME: Self = Self(406);
    // 5xx: the session
    pub const CANCELLED: Self = Self(501);
    pub const SESSION_TIMEOUT: Self = Self(502);
    pub const BUSY: Self = Self(503);
    // 9xx
    pub const INTERNAL: Self = Self(901);

    /// The remedy a screen shows for this code.
    pub const fn remedy(self) -> Remedy {
        match self.0 {
            101 | 102 | 107 => Remedy::RetryCard,
            103 => Remedy::CallStaff,
            104 => Remedy::EligibilityCertificate,
            105 => Remedy::MunicipalOffice,
            106 | 201 | 202 | 203 | 205 => Remedy::OtherMethod,
            204 => Remedy::ContactVendor,
            108 => Remedy::CallStaff,
            301..=303 => Remedy::CallStaff,
            401..=403 => Remedy::RePair,
            404 | 406 => Remedy::CheckConnection,
            405 => Remedy::ContactVendor,
            501..=503 => Remedy::None,
            _ => Remedy::ContactVendor,
        }
    }
}

/// Reader capabilities, a bit set that newer readers may extend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Capabilities(pub u32);

impl Capabilities {
    pub const FACE: u32 = 1 << 0;
    pub const PIN_KEYPAD: u32 = 1 << 1;
    pub const VISUAL_MODE: u32 = 1 << 2;
    pub const NFC_TYPE_A: u32 = 1 << 3;
    pub const NFC_TYPE_B: u32 = 1 << 4;
    pub const DISPLAY: u32 = 1 << 5;
    pub const CAMERA: u32 = 1 << 6;
    pub const ATTESTATION: u32 = 1 << 7;
    pub const fn has(self, bit: u32) -> bool {
        self.0 & bit == bit
    }
}

/// Firmware version: semantic triple plus a build tag (e.g. a git hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FirmwareVersion<'a> {
    pub major: u8,
    pub minor: u8,
    pub patch: u8,
    pub build: &'a str,
}
