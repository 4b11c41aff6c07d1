/// Everything that can go wrong on the reader↔host link, as one typed error.
///
/// Each variant names one failure a receiver can act on; none of them carries secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    // -- frame layer --
    #[error("frame truncated: {needed} more bytes needed")]
    Truncated { needed: usize },
    #[error("no start marker at the frame's start")]
    BadMarker,
    #[error("header checksum mismatch")]
    HeaderCrc,
    #[error("frame checksum mismatch")]
    FrameCrc,
    #[error("protocol major version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("payload of {len} bytes exceeds the limit of {max}")]
    Oversized { len: usize, max: usize },
    #[error("output buffer too small")]
    BufferTooSmall,

    // -- message layer --
    #[error("unknown message type 0x{0:02x}")]
    UnknownMessageType(u8),
    #[error("malformed payload of message type 0x{0:02x}")]
    MalformedPayload(u8),
    #[error("unexpected {0} trailing bytes in the payload")]
    TrailingBytes(usize),
    #[error("text field is not UTF-8")]
    InvalidUtf8,
    #[error("field of {len} bytes exceeds its limit of {max}")]
    FieldTooLong { len: usize, max: usize },
    #[error("message type 0x{0:02x} is not sent in this direction")]
    WrongDirection(u8),
    #[error("unknown value {value} for field {field}")]
    UnknownValue { field: &'static str, value: u8 },

    // -- authenticity --
    #[error("frame must be sealed on a paired link")]
    Unauthenticated,
    #[error("sealed frame does not open: wrong key or altered bytes")]
    BadMac,
    #[error("counter {got} is not above the last accepted {last}: replayed or reordered")]
    Replay { got: u32, last: u32 },
    #[error("link is not paired")]
    NotPaired,
    #[error("pairing confirmation mismatch")]
    PairingMismatch,
    #[error("a pairing answer arrived but no pairing is in progress")]
    NoPairingInProgress,
    #[error("a second hello on one connection")]
    DuplicateHello,
    #[error("pairing refused: pairing mode is not open on the reader (staff open it at the reader)")]
    PairingNotOpen,
    #[error("pairing refused: too many attempts in this opening of pairing mode")]
    PairingAttemptsExhausted,
    #[error("the frame counter is exhausted: reconnect for fresh keys")]
    CounterExhausted,

    // -- exactly-once --
    #[error("outbox is full")]
    OutboxFull,
}
