//! The seam between the protocol layers (ISO/IEC 14443-3/-4) and an NFC frontend chip driver.
//!
//! A frontend (ST25R3916, PN5180, a host-side simulator, a scripted test double) moves frames:
//! it switches the field, sets the technology and bit rates, appends the CRC to what it sends
//! and checks and strips the CRC of what it receives. Everything above it is sans-IO: time is
//! expressed as a number of carrier cycles handed to the frontend, never read from a clock.

/// Carrier frequency fc in Hz (13.56 MHz).
pub const FC_HZ: u32 = 13_560_000;

/// A response timeout (or guard time) in carrier cycles (1/fc, about 73.75 ns).
///
/// Carrier cycles are what the standards specify and what frontend timers count, and they keep
/// virtual-time simulations exact. Conversions to and from microseconds are provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Timeout(u32);

impl Timeout {
    /// The longest representable timeout (about 316 s).
    pub const MAX: Self = Self(u32::MAX);

    /// A timeout of `fc` carrier cycles.
    pub const fn from_fc(fc: u32) -> Self {
        Self(fc)
    }

    /// A timeout of `us` microseconds, rounded up to whole carrier cycles (saturating).
    pub const fn from_micros(us: u32) -> Self {
        let fc = (us as u64 * FC_HZ as u64).div_ceil(1_000_000);
        Self(if fc > u32::MAX as u64 { u32::MAX } else { fc as u32 })
    }

    /// The timeout in carrier cycles.
    pub const fn as_fc(self) -> u32 {
        self.0
    }

    /// The timeout in microseconds, rounded up.
    pub const fn as_micros(self) -> u32 {
        (self.0 as u64 * 1_000_000).div_ceil(FC_HZ as u64) as u32
    }

    /// `self * factor`, saturating.
    pub const fn saturating_mul(self, factor: u32) -> Self {
        Self(self.0.saturating_mul(factor))
    }

    /// `self + other`, saturating.
    pub const fn saturating_add(self, other: Self) -> Self {
        Self(self.0.saturating_add(other.0))
    }

    /// The smaller of two timeouts.
    pub const fn min(self, other: Self) -> Self {
        if self.0 < other.0 {
            self
        } else {
            other
        }
    }
}

/// The RF technology (modulation and framing) the frontend uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Technology {
    /// ISO/IEC 14443 Type A (100 % ASK, Modified Miller / Manchester with OOK subcarrier).
    TypeA,
    /// ISO/IEC 14443 Type B (10 % ASK, NRZ-L / BPSK subcarrier).
    TypeB,
}

/// An ISO/IEC 14443 bit rate, fc/128 × D.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BitRate {
    /// fc/128, about 106 kbit/s (D = 1). The activation bit rate.
    #[default]
    Kbps106,
    /// fc/64, about 212 kbit/s (D = 2).
    Kbps212,
    /// fc/32, about 424 kbit/s (D = 4).
    Kbps424,
    /// fc/16, about 848 kbit/s (D = 8).
    Kbps848,
}

impl BitRate {
    /// The divisor D (1, 2, 4 or 8).
    pub const fn divisor(self) -> u32 {
        match self {
            Self::Kbps106 => 1,
            Self::Kbps212 => 2,
            Self::Kbps424 => 4,
            Self::Kbps848 => 8,
        }
    }

    /// The 2-bit code used in ATTRIB Param 2, PPS1 (DSI/DRI) and friends: 0 = 106 ... 3 = 848.
    pub const fn code(self) -> u8 {
        match self {
            Self::Kbps106 => 0,
            Self::Kbps212 => 1,
            Self::Kbps424 => 2,
            Self::Kbps848 => 3,
        }
    }

    /// The inverse of [`BitRate::code`] (only the low two bits are used).
    pub const fn from_code(code: u8) -> Self {
        match code & 0x03 {
            0 => Self::Kbps106,
            1 => Self::Kbps212,
            2 => Self::Kbps424,
            _ => Self::Kbps848,
        }
    }

    /// One elementary time unit (one bit) in carrier cycles: 128 / D.
    pub const fn etu_fc(self) -> u32 {
        128 / self.divisor()
    }
}

/// The frame-level errors a frontend reports. All but [`FrontendError::Unsupported`] and
/// [`FrontendError::Hardware`] are transmission errors the block protocol recovers from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrontendError {
    /// Nothing (or nothing decodable) was received before the timeout expired.
    #[error("no response before the timeout")]
    Timeout,
    /// A frame was received but its CRC did not match.
    #[error("CRC error in the received frame")]
    Crc,
    /// Type A bit collision (several cards answered differently).
    #[error("collision in the received frame")]
    Collision,
    /// Framing or coding error: parity, SOF/EOF, bad bit count, residual bits.
    #[error("framing error in the received frame")]
    Framing,
    /// The frontend detected a protocol violation it cannot classify further.
    #[error("protocol error reported by the frontend")]
    Protocol,
    /// The received frame is longer than the receive buffer.
    #[error("received frame longer than the receive buffer")]
    Overflow,
    /// The frontend cannot do this (technology, bit rate or frame type).
    #[error("operation not supported by this frontend")]
    Unsupported,
    /// The chip or its bus failed; not recoverable by retransmission.
    #[error("frontend hardware or bus failure")]
    Hardware,
}

impl FrontendError {
    /// `true` for errors of a single frame on air, which ISO/IEC 14443-4 recovers from by
    /// R(NAK)/R(ACK) and retransmission; `false` for faults of the frontend itself.
    pub const fn is_transmission_error(self) -> bool {
        !matches!(self, Self::Unsupported | Self::Hardware)
    }
}

/// Type A short frames (7 data bits, no CRC, no parity on the answer's CRC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ShortFrame {
    /// REQA (`26`): wakes cards in IDLE.
    Reqa,
    /// WUPA (`52`): wakes cards in IDLE and HALT.
    Wupa,
}

impl ShortFrame {
    /// The 7-bit command code.
    pub const fn code(self) -> u8 {
        match self {
            Self::Reqa => 0x26,
            Self::Wupa => 0x52,
        }
    }
}

/// The result of a bit-oriented (Type A anticollision) exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BitFrameRx {
    /// Number of valid bits received, not counting the `tx_bits % 8` bit positions of `rx[0]`
    /// that belong to the transmitted split byte. With a collision, the bits before it.
    pub valid_bits: usize,
    /// `true` if a collision was detected right after the `valid_bits` valid bits.
    pub collision: bool,
}

/// An NFC frontend chip driver, as the ISO/IEC 14443 layers see it.
///
/// Contract for [`NfcFrontend::transceive`]: `tx` is sent as one standard frame with the CRC
/// appended by the frontend; the answer's CRC is checked and stripped, and the remaining bytes
/// are written into `rx`. Return the number of bytes written, or the typed error. `timeout` is
/// the frame waiting time counted from the end of the transmitted frame. The frontend applies
/// the technology's guard times itself.
pub trait NfcFrontend {
    /// Switches the RF field on (cards power up into IDLE).
    fn field_on(&mut self) -> Result<(), FrontendError>;

    /// Switches the RF field off (cards lose power and all state).
    fn field_off(&mut self) -> Result<(), FrontendError>;

    /// Selects the technology and the bit rates for both directions.
    fn configure(
        &mut self,
        technology: Technology,
        pcd_to_picc: BitRate,
        picc_to_pcd: BitRate,
    ) -> Result<(), FrontendError>;

    /// Sends one standard frame and receives the answer (see the trait docs).
    fn transceive(&mut self, tx: &[u8], rx: &mut [u8], timeout: Timeout) -> Result<usize, FrontendError>;

    /// Type A: sends a short frame (REQA/WUPA) and receives the 2-byte ATQA (no CRC).
    fn transceive_short_frame(
        &mut self,
        frame: ShortFrame,
        rx: &mut [u8],
        timeout: Timeout,
    ) -> Result<usize, FrontendError> {
        let _ = (frame, rx, timeout);
        Err(FrontendError::Unsupported)
    }

    /// Type A anticollision: sends the first `tx_bits` bits of `tx` without CRC (a bit-oriented
    /// frame) and receives the answer without CRC check. The first received bit lands at bit
    /// position `tx_bits % 8` of `rx[0]` (completing the split byte, as the hardware does);
    /// the bits of `rx[0]` below that position are left zero.
    fn transceive_bits(
        &mut self,
        tx: &[u8],
        tx_bits: usize,
        rx: &mut [u8],
        timeout: Timeout,
    ) -> Result<BitFrameRx, FrontendError> {
        let _ = (tx, tx_bits, rx, timeout);
        Err(FrontendError::Unsupported)
    }

    /// Waits `time` before the next transmission (start-up frame guard time after ATS/ATQB).
    /// Frontends that track guard times themselves may ignore it.
    fn guard_time(&mut self, time: Timeout) -> Result<(), FrontendError> {
        let _ = time;
        Ok(())
    }
}

impl<F: NfcFrontend + ?Sized> NfcFrontend for &mut F {
    fn field_on(&mut self) -> Result<(), FrontendError> {
        (**self).field_on()
    }
    fn field_off(&mut self) -> Result<(), FrontendError> {
        (**self).field_off()
    }
    fn configure(
        &mut self,
        technology: Technology,
        pcd_to_picc: BitRate,
        picc_to_pcd: BitRate,
    ) -> Result<(), FrontendError> {
        (**self).configure(technology, pcd_to_picc, picc_to_pcd)
    }
    fn transceive(&mut self, tx: &[u8], rx: &mut [u8], timeout: Timeout) -> Result<usize, FrontendError> {
        (**self).transceive(tx, rx, timeout)
    }
    fn transceive_short_frame(
        &mut self,
        frame: ShortFrame,
        rx: &mut [u8],
        timeout: Timeout,
    ) -> Result<usize, FrontendError> {
        (**self).transceive_short_frame(frame, rx, timeout)
    }
    fn transceive_bits(
        &mut self,
        tx: &[u8],
        tx_bits: usize,
        rx: &mut [u8],
        timeout: Timeout,
    ) -> Result<BitFrameRx, FrontendError> {
        (**self).transceive_bits(tx, tx_bits, rx, timeout)
    }
    fn guard_time(&mut self, time: Timeout) -> Result<(), FrontendError> {
        (**self).guard_time(time)
    }
}

/// A frontend that is only its `transceive`: the field and the bit rates are no-ops, short
/// and bit frames unsupported. For fuzz targets, footprint probes and tests that script the
/// air with a closure.
pub struct TransceiveFn<F>(pub F);

impl<F> NfcFrontend for TransceiveFn<F>
where
    F: FnMut(&[u8], &mut [u8], Timeout) -> Result<usize, FrontendError>,
{
    fn field_on(&mut self) -> Result<(), FrontendError> {
        Ok(())
    }
    fn field_off(&mut self) -> Result<(), FrontendError> {
        Ok(())
    }
    fn configure(&mut self, _: Technology, _: BitRate, _: BitRate) -> Result<(), FrontendError> {
        Ok(())
    }
    fn transceive(&mut self, tx: &[u8], rx: &mut [u8], timeout: Timeout) -> Result<usize, FrontendError> {
        (self.0)(tx, rx, timeout)
    }
}

/// Calls [`NfcFrontend::transceive`] and returns the received bytes. A length beyond `rx`
/// (a frontend bug) is reported as [`FrontendError::Overflow`] instead of panicking.
pub fn transceive_frame<'a, F: NfcFrontend + ?Sized>(
    fe: &mut F,
    tx: &[u8],
    rx: &'a mut [u8],
    timeout: Timeout,
) -> Result<&'a [u8], FrontendError> {
    let n = fe.transceive(tx, rx, timeout)?;
    let rx: &'a [u8] = rx;
    rx.get(..n).ok_or(FrontendError::Overflow)
}

/// Frame size for proximity coupling device / card (FSD / FSC) from its 4-bit index.
/// Indices `D`..`F` are RFU and read as 256 bytes.
pub const fn frame_size_from_index(fsi: u8) -> u16 {
    match fsi {
        0 => 16,
        1 => 24,
        2 => 32,
        3 => 40,
        4 => 48,
        5 => 64,
        6 => 96,
        7 => 128,
        8 => 256,
        9 => 512,
        10 => 1024,
        11 => 2048,
        12 => 4096,
        _ => 256,
    }
}

/// The largest index whose frame size does not exceed `size` (0 for sizes below 16).
pub const fn frame_size_index_for(size: u16) -> u8 {
    let mut i = 12u8;
    while i > 0 {
        if frame_size_from_index(i) <= size {
            return i;
        }
        i -= 1;
    }
    0
}

/// Frame waiting time from FWI: FWT = 256 × 16 × 2^FWI / fc. FWI 15 is RFU and read as 4.
pub const fn fwt_from_fwi(fwi: u8) -> Timeout {
    let fwi = if fwi > 14 { 4 } else { fwi };
    Timeout::from_fc(4096u32 << fwi)
}

/// Start-up frame guard time from SFGI: SFGT = 256 × 16 × 2^SFGI / fc; 0 means none.
/// SFGI 15 is RFU and read as 0.
pub const fn sfgt_from_sfgi(sfgi: u8) -> Timeout {
    if sfgi == 0 || sfgi > 14 {
        Timeout::from_fc(0)
    } else {
        Timeout::from_fc(4096u32 << sfgi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fwt_for_fwi_10_is_about_309_ms() {
        let fwt = fwt_from_fwi(10);
        assert_eq!(fwt.as_fc(), 4_194_304);
        assert_eq!(fwt.as_micros(), 309_315);
        assert_eq!(fwt_from_fwi(15), fwt_from_fwi(4));
        assert_eq!(fwt_from_fwi(14).as_fc(), 67_108_864);
    }

    #[test]
    fn frame_sizes() {
        assert_eq!(frame_size_from_index(8), 256);
        assert_eq!(frame_size_from_index(2), 32);
        assert_eq!(frame_size_from_index(0xF), 256);
        assert_eq!(frame_size_index_for(256), 8);
        assert_eq!(frame_size_index_for(300), 8);
        assert_eq!(frame_size_index_for(32), 2);
        assert_eq!(frame_size_index_for(10), 0);
    }

    #[test]
    fn timeout_conversions() {
        assert_eq!(Timeout::from_micros(1000).as_fc(), 13_560);
        assert_eq!(Timeout::from_micros(u32::MAX), Timeout::MAX);
        assert_eq!(BitRate::from_code(2), BitRate::Kbps424);
        assert_eq!(BitRate::Kbps848.etu_fc(), 16);
    }
}
