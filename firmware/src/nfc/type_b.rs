//! ISO/IEC 14443-3 Type B: REQB/WUPB, ATQB, slot-MARKER anticollision, ATTRIB and HLTB.
//!
//! Commands are built into small stack buffers and exchanged through an [`NfcFrontend`];
//! answers are parsed into typed values, every malformed answer is a [`TypeBError`].

use super::frontend::{
    frame_size_from_index, frame_size_index_for, fwt_from_fwi, sfgt_from_sfgi, transceive_frame, BitRate,
    FrontendError, NfcFrontend, Technology, Timeout,
};
use super::iso_dep::{IsoDepParams, FSD};

/// REQB/WUPB command code (APf).
pub const CMD_REQB: u8 = 0x05;
/// ATTRIB command code.
pub const CMD_ATTRIB: u8 = 0x1D;
/// HLTB command code (also the first byte of an ATQB).
pub const CMD_HLTB: u8 = 0x50;
/// First byte of an ATQB.
pub const ATQB_CODE: u8 = 0x50;

/// Waiting time for an ATQB after REQB/WUPB/slot-MARKER. ISO/IEC 14443-3 bounds the PICC's
/// answer by TR0 + TR1 + SOF; we allow a generous 10 ms (virtual time does not care).
pub const ATQB_TIMEOUT: Timeout = Timeout::from_fc(135_600);

/// Errors of Type B activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TypeBError {
    /// A frontend fault that is not a transmission error.
    #[error("frontend: {0}")]
    Frontend(FrontendError),
    /// No PICC answered.
    #[error("no Type B card answered")]
    NoCard,
    /// PICCs kept colliding up to the largest number of slots.
    #[error("unresolved collision between Type B cards")]
    Collision,
    /// The ATQB was not 12 or 13 bytes starting with `50`.
    #[error("malformed ATQB ({len} bytes)")]
    MalformedAtqb { len: usize },
    /// The answer to ATTRIB was empty or carried another CID.
    #[error("malformed answer to ATTRIB")]
    MalformedAttribAnswer,
    /// The answer to HLTB was not `00`.
    #[error("malformed answer to HLTB")]
    MalformedHltbAnswer,
    /// The PICC does not claim ISO/IEC 14443-4 compliance (protocol type b1 = 0).
    #[error("card is not ISO/IEC 14443-4 compliant")]
    NotIsoDep,
    /// A transmission error (timeout, CRC, ...) during a command that needs an answer.
    #[error("transmission error: {0}")]
    Transmission(FrontendError),
}

fn map_frontend(e: FrontendError) -> TypeBError {
    if e.is_transmission_error() {
        TypeBError::Transmission(e)
    } else {
        TypeBError::Frontend(e)
    }
}

/// Number of anticollision slots announced in REQB/WUPB (the N of Param b3..b1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Slots {
    One = 0,
    Two = 1,
    Four = 2,
    Eight = 3,
    Sixteen = 4,
}

impl Slots {
    /// Number of slots.
    pub const fn count(self) -> u8 {
        1 << (self as u8)
    }

    /// The next larger slot count, if any.
    pub const fn next(self) -> Option<Self> {
        match self {
            Self::One => Some(Self::Two),
            Self::Two => Some(Self::Four),
            Self::Four => Some(Self::Eight),
            Self::Eight => Some(Self::Sixteen),
            Self::Sixteen => None,
        }
    }
}

/// REQB or WUPB with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Reqb {
    /// Application family identifier; `00` addresses all PICCs.
    pub afi: u8,
    /// `true` for WUPB (also wakes HALTed PICCs).
    pub wake_up: bool,
    /// Number of slots.
    pub slots: Slots,
    /// Announce support of the extended ATQB (Param b5).
    pub extended_atqb: bool,
}

impl Reqb {
    /// The 3-byte frame (`05 AFI PARAM`), CRC excluded.
    pub const fn encode(&self) -> [u8; 3] {
        let mut param = self.slots as u8;
        if self.wake_up {
            param |= 0x08;
        }
        if self.extended_atqb {
            param |= 0x10;
        }
        [CMD_REQB, self.afi, param]
    }
}

/// The slot-MARKER command for slot `n` (2..=16): `(n-1) << 4 | 5`.
pub const fn slot_marker(n: u8) -> u8 {
    ((n.wrapping_sub(1) & 0x0F) << 4) | 0x05
}

/// Bit rates a PICC supports, from ATQB protocol info byte 1 (or ATS TA(1), same layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BitRateCapability(pub u8);

impl BitRateCapability {
    /// b8: only the same bit rate in both directions is supported.
    pub const fn same_both_directions(self) -> bool {
        self.0 & 0x80 != 0
    }

    /// Whether the PICC can send (PICC → PCD) at `rate`; 106 kbit/s is always supported.
    pub const fn picc_to_pcd(self, rate: BitRate) -> bool {
        match rate {
            BitRate::Kbps106 => true,
            BitRate::Kbps212 => self.0 & 0x10 != 0,
            BitRate::Kbps424 => self.0 & 0x20 != 0,
            BitRate::Kbps848 => self.0 & 0x40 != 0,
        }
    }

    /// Whether the PICC can receive (PCD → PICC) at `rate`; 106 kbit/s is always supported.
    pub const fn pcd_to_picc(self, rate: BitRate) -> bool {
        match rate {
            BitRate::Kbps106 => true,
            BitRate::Kbps212 => self.0 & 0x01 != 0,
            BitRate::Kbps424 => self.0 & 0x02 != 0,
            BitRate::Kbps848 => self.0 & 0x04 != 0,
        }
    }

    /// The fastest (PCD → PICC, PICC → PCD) pair the PICC supports, each at most `limit`
    /// (respecting the same-rate restriction).
    pub fn best(self, limit: BitRate) -> (BitRate, BitRate) {
        const RATES: [BitRate; 4] = [BitRate::Kbps848, BitRate::Kbps424, BitRate::Kbps212, BitRate::Kbps106];
        let pick = |ok: &dyn Fn(BitRate) -> bool| {
            RATES.iter().copied().find(|&r| r <= limit && ok(r)).unwrap_or(BitRate::Kbps106)
        };
        if self.same_both_directions() || self.0 & 0x08 != 0 {
            // b4 set is RFU: be conservative and pick one rate both directions support.
            let r = pick(&|r| self.picc_to_pcd(r) && self.pcd_to_picc(r));
            (r, r)
        } else {
            (pick(&|r| self.pcd_to_picc(r)), pick(&|r| self.picc_to_pcd(r)))
        }
    }
}

/// ATQB protocol info (3 bytes, or 4 with the extended ATQB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ProtocolInfo {
    /// Supported bit rates (byte 1).
    pub bit_rates: BitRateCapability,
    /// Maximum frame size code FSCI (byte 2, b8..b5).
    pub fsci: u8,
    /// Protocol type (byte 2, b4..b1): b1 = ISO/IEC 14443-4 compliant, b3..b2 = minimum TR2.
    pub protocol_type: u8,
    /// Frame waiting integer FWI (byte 3, b8..b5).
    pub fwi: u8,
    /// Application data coding ADC (byte 3, b4..b3).
    pub adc: u8,
    /// Frame options FO (byte 3, b2..b1): b2 = NAD supported, b1 = CID supported.
    pub fo: u8,
    /// Start-up frame guard integer, from the extended ATQB's byte 4 (b8..b5); 0 otherwise.
    pub sfgi: u8,
}

impl ProtocolInfo {
    /// Decodes 3 or 4 protocol info bytes.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 3 && bytes.len() != 4 {
            return None;
        }
        Some(Self {
            bit_rates: BitRateCapability(bytes[0]),
            fsci: bytes[1] >> 4,
            protocol_type: bytes[1] & 0x0F,
            fwi: bytes[2] >> 4,
            adc: (bytes[2] >> 2) & 0x03,
            fo: bytes[2] & 0x03,
            sfgi: bytes.get(3).map_or(0, |b| b >> 4),
        })
    }

    /// Maximum frame size the PICC accepts (FSC), in bytes including PCB, CID and CRC.
    pub const fn max_frame_size(&self) -> u16 {
        frame_size_from_index(self.fsci)
    }

    /// Frame waiting time.
    pub const fn fwt(&self) -> Timeout {
        fwt_from_fwi(self.fwi)
    }

    /// Whether the PICC speaks ISO/IEC 14443-4.
    pub const fn iso_dep(&self) -> bool {
        self.protocol_type & 0x01 != 0
    }

    /// Whether the PICC supports CID.
    pub const fn cid_supported(&self) -> bool {
        self.fo & 0x01 != 0
    }

    /// Whether the PICC supports NAD.
    pub const fn nad_supported(&self) -> bool {
        self.fo & 0x02 != 0
    }
}

/// A parsed ATQB (`50 PUPI(4) AppData(4) ProtocolInfo(3|4)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Atqb {
    /// Pseudo-unique PICC identifier.
    pub pupi: [u8; 4],
    /// Application data (AFI, CRC_B(AID), number of applications when ADC says so).
    pub app_data: [u8; 4],
    /// Protocol info.
    pub protocol: ProtocolInfo,
}

impl Atqb {
    /// Parses an ATQB (CRC already stripped by the frontend).
    pub fn parse(frame: &[u8]) -> Result<Self, TypeBError> {
        let malformed = TypeBError::MalformedAtqb { len: frame.len() };
        if (frame.len() != 12 && frame.len() != 13) || frame[0] != ATQB_CODE {
            return Err(malformed);
        }
        let mut pupi = [0; 4];
        pupi.copy_from_slice(&frame[1..5]);
        let mut app_data = [0; 4];
        app_data.copy_from_slice(&frame[5..9]);
        let protocol = ProtocolInfo::parse(&frame[9..]).ok_or(malformed)?;
        Ok(Self { pupi, app_data, protocol })
    }
}

/// What the PCD asks for in ATTRIB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AttribParams {
    /// Param 1 (TR0/TR1 minimum, SOF/EOF suppression); 0 = defaults.
    pub param1: u8,
    /// Bit rate PCD → PICC.
    pub pcd_to_picc: BitRate,
    /// Bit rate PICC → PCD.
    pub picc_to_pcd: BitRate,
    /// Our maximum frame size index FSDI.
    pub fsdi: u8,
    /// Card identifier 0..=14 (0 if the PICC does not support CID).
    pub cid: u8,
}

impl AttribParams {
    /// Encodes ATTRIB for `pupi`, confirming the ATQB's protocol type (CRC excluded).
    pub fn encode(&self, pupi: [u8; 4], protocol_type: u8) -> [u8; 9] {
        let param2 = (self.picc_to_pcd.code() << 6) | (self.pcd_to_picc.code() << 4) | self.fsdi;
        [
            CMD_ATTRIB,
            pupi[0],
            pupi[1],
            pupi[2],
            pupi[3],
            self.param1,
            param2,
            protocol_type & 0x07,
            self.cid & 0x0F,
        ]
    }
}

/// The PICC's answer to ATTRIB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AttribAnswer {
    /// Maximum buffer length index MBLI (0 = no information).
    pub mbli: u8,
    /// The CID the PICC confirmed.
    pub cid: u8,
    /// Length of the higher-layer response that followed (ignored).
    pub higher_layer_len: usize,
}

impl AttribAnswer {
    /// Parses the answer to ATTRIB.
    pub fn parse(frame: &[u8]) -> Result<Self, TypeBError> {
        let first = *frame.first().ok_or(TypeBError::MalformedAttribAnswer)?;
        Ok(Self { mbli: first >> 4, cid: first & 0x0F, higher_layer_len: frame.len() - 1 })
    }
}

/// Sends REQB/WUPB and returns the ATQB of the PICC answering in slot 1, `Ok(None)` if none
/// answered. A collision (reported as CRC, framing or collision error) is an error.
pub fn request<F: NfcFrontend>(fe: &mut F, reqb: &Reqb) -> Result<Option<Atqb>, FrontendError> {
    let mut rx = [0u8; 16];
    match transceive_frame(fe, &reqb.encode(), &mut rx, ATQB_TIMEOUT) {
        Ok(frame) => match Atqb::parse(frame) {
            Ok(atqb) => Ok(Some(atqb)),
            Err(_) => Err(FrontendError::Protocol),
        },
        Err(FrontendError::Timeout) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sends slot-MARKER `n` (2..=16); like [`request`] for that slot.
pub fn mark_slot<F: NfcFrontend>(fe: &mut F, n: u8) -> Result<Option<Atqb>, FrontendError> {
    let mut rx = [0u8; 16];
    match transceive_frame(fe, &[slot_marker(n)], &mut rx, ATQB_TIMEOUT) {
        Ok(frame) => match Atqb::parse(frame) {
            Ok(atqb) => Ok(Some(atqb)),
            Err(_) => Err(FrontendError::Protocol),
        },
        Err(FrontendError::Timeout) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Slot-MARKER anticollision: finds one PICC. Starts with `start` slots and doubles the slot
/// count after a round that saw collisions but no clean ATQB.
pub fn find_card<F: NfcFrontend>(
    fe: &mut F,
    afi: u8,
    wake_up: bool,
    start: Slots,
) -> Result<Atqb, TypeBError> {
    let mut slots = start;
    loop {
        let reqb = Reqb { afi, wake_up, slots, extended_atqb: true };
        let mut collided = false;
        match request(fe, &reqb) {
            Ok(Some(atqb)) => return Ok(atqb),
            Ok(None) => {}
            Err(e) if e.is_transmission_error() => collided = true,
            Err(e) => return Err(TypeBError::Frontend(e)),
        }
        for n in 2..=slots.count() {
            match mark_slot(fe, n) {
                Ok(Some(atqb)) => return Ok(atqb),
                Ok(None) => {}
                Err(e) if e.is_transmission_error() => collided = true,
                Err(e) => return Err(TypeBError::Frontend(e)),
            }
        }
        if !collided {
            return Err(TypeBError::NoCard);
        }
        debug!("type B: collision with {} slots", slots.count());
        slots = slots.next().ok_or(TypeBError::Collision)?;
    }
}

/// Sends ATTRIB and parses the answer, checking the confirmed CID.
pub fn attrib<F: NfcFrontend>(
    fe: &mut F,
    atqb: &Atqb,
    params: &AttribParams,
) -> Result<AttribAnswer, TypeBError> {
    let mut rx = [0u8; 16];
    let timeout = atqb.protocol.fwt();
    let cmd = params.encode(atqb.pupi, atqb.protocol.protocol_type);
    let frame = transceive_frame(fe, &cmd, &mut rx, timeout).map_err(map_frontend)?;
    let answer = AttribAnswer::parse(frame)?;
    if answer.cid != params.cid & 0x0F {
        return Err(TypeBError::MalformedAttribAnswer);
    }
    Ok(answer)
}

/// Sends HLTB to the PICC with `pupi` (it then only answers WUPB).
pub fn halt<F: NfcFrontend>(fe: &mut F, pupi: [u8; 4], fwt: Timeout) -> Result<(), TypeBError> {
    let mut rx = [0u8; 4];
    let cmd = [CMD_HLTB, pupi[0], pupi[1], pupi[2], pupi[3]];
    let frame = transceive_frame(fe, &cmd, &mut rx, fwt).map_err(map_frontend)?;
    if *frame != [0x00] {
        return Err(TypeBError::MalformedHltbAnswer);
    }
    Ok(())
}

/// Options for [`activate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ActivationConfig {
    /// AFI to poll for (`00` = all).
    pub afi: u8,
    /// Use WUPB instead of REQB.
    pub wake_up: bool,
    /// Initial number of slots.
    pub slots: Slots,
    /// Fastest bit rate to negotiate.
    pub max_bit_rate: BitRate,
    /// CID to assign when the card supports CID (1..=14); `None` to never use CID.
    pub cid: Option<u8>,
}

impl Default for ActivationConfig {
    fn default() -> Self {
        Self { afi: 0x00, wake_up: true, slots: Slots::One, max_bit_rate: BitRate::Kbps424, cid: None }
    }
}

/// A Type B PICC activated for ISO/IEC 14443-4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ActivatedB {
    pub atqb: Atqb,
    pub attrib: AttribAnswer,
    /// Negotiated bit rate PCD → PICC.
    pub pcd_to_picc: BitRate,
    /// Negotiated bit rate PICC → PCD.
    pub picc_to_pcd: BitRate,
    /// Parameters for the block protocol.
    pub params: IsoDepParams,
}

/// Full Type B activation: field on, 106 kbit/s, WUPB/REQB with anticollision, ATTRIB at the
/// best common bit rate, then the frontend is switched to that rate.
pub fn activate<F: NfcFrontend>(fe: &mut F, config: &ActivationConfig) -> Result<ActivatedB, TypeBError> {
    fe.configure(Technology::TypeB, BitRate::Kbps106, BitRate::Kbps106).map_err(TypeBError::Frontend)?;
    fe.field_on().map_err(TypeBError::Frontend)?;
    let atqb = find_card(fe, config.afi, config.wake_up, config.slots)?;
    let protocol = atqb.protocol;
    debug!(
        "type B: ATQB fsci={} fwi={} fo={} proto={}",
        protocol.fsci, protocol.fwi, protocol.fo, protocol.protocol_type
    );
    if !protocol.iso_dep() {
        return Err(TypeBError::NotIsoDep);
    }
    let cid = match config.cid {
        Some(c) if protocol.cid_supported() && c <= 14 => Some(c),
        _ => None,
    };
    let (pcd_to_picc, picc_to_pcd) = protocol.bit_rates.best(config.max_bit_rate);
    let params = AttribParams {
        param1: 0,
        pcd_to_picc,
        picc_to_pcd,
        fsdi: frame_size_index_for(FSD as u16),
        cid: cid.unwrap_or(0),
    };
    let answer = attrib(fe, &atqb, &params)?;
    fe.configure(Technology::TypeB, pcd_to_picc, picc_to_pcd).map_err(TypeBError::Frontend)?;
    let sfgt = sfgt_from_sfgi(protocol.sfgi);
    if sfgt.as_fc() != 0 {
        fe.guard_time(sfgt).map_err(TypeBError::Frontend)?;
    }
    info!("type B: activated, FSC={}", protocol.max_frame_size());
    Ok(ActivatedB {
        atqb,
        attrib: answer,
        pcd_to_picc,
        picc_to_pcd,
        params: IsoDepParams {
            fsc: protocol.max_frame_size(),
            fwi: protocol.fwi,
            cid,
            nad_supported: protocol.nad_supported(),
        },
    })
}

/// Field-off time before a new activation attempt (ISO/IEC 14443-3 asks for at least 5.1 ms).
pub const FIELD_RESET: Timeout = Timeout::from_fc(69_156);

/// [`activate`] with up to `attempts` tries, resetting the field (which returns every PICC to
/// IDLE) between them. A lost ATQB or answer to ATTRIB is common at the edge of the field;
/// frontend faults and non-ISO-DEP cards are not retried.
pub fn activate_with_retries<F: NfcFrontend>(
    fe: &mut F,
    config: &ActivationConfig,
    attempts: u8,
) -> Result<ActivatedB, TypeBError> {
    let mut last = TypeBError::NoCard;
    for attempt in 0..attempts.max(1) {
        if attempt > 0 {
            debug!("type B: activation attempt {} after {}", attempt + 1, last);
            fe.field_off().map_err(TypeBError::Frontend)?;
            fe.guard_time(FIELD_RESET).map_err(TypeBError::Frontend)?;
        }
        match activate(fe, config) {
            Ok(card) => return Ok(card),
            Err(e @ (TypeBError::Frontend(_) | TypeBError::NotIsoDep)) => return Err(e),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nfc::testing::{ScriptedFrontend, Step};

    #[test]
    fn protocol_info_b3_81_a1_of_the_my_number_card() {
        let info = ProtocolInfo::parse(&[0xB3, 0x81, 0xA1]).unwrap();
        assert!(info.bit_rates.same_both_directions());
        assert!(info.bit_rates.pcd_to_picc(BitRate::Kbps212));
        assert!(info.bit_rates.pcd_to_picc(BitRate::Kbps424));
        assert!(!info.bit_rates.pcd_to_picc(BitRate::Kbps848));
        assert!(info.bit_rates.picc_to_pcd(BitRate::Kbps212));
        assert!(info.bit_rates.picc_to_pcd(BitRate::Kbps424));
        assert!(!info.bit_rates.picc_to_pcd(BitRate::Kbps848));
        assert_eq!(info.fsci, 8);
        assert_eq!(info.max_frame_size(), 256);
        assert_eq!(info.protocol_type, 1);
        assert!(info.iso_dep());
        assert_eq!(info.fwi, 10);
        assert_eq!(info.fwt().as_micros(), 309_315);
        assert_eq!(info.adc, 0);
        assert!(info.cid_supported());
        assert!(!info.nad_supported());
        assert_eq!(info.sfgi, 0);
        assert_eq!(info.bit_rates.best(BitRate::Kbps848), (BitRate::Kbps424, BitRate::Kbps424));
        assert_eq!(info.bit_rates.best(BitRate::Kbps212), (BitRate::Kbps212, BitRate::Kbps212));
    }

    #[test]
    fn atqb_parse_and_reject() {
        let frame = [0x50, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x00, 0xB3, 0x81, 0xA1];
        let atqb = Atqb::parse(&frame).unwrap();
        assert_eq!(atqb.pupi, [0x12, 0x34, 0x56, 0x78]);
        assert_eq!(atqb.protocol.fwi, 10);
        let mut ext = [0u8; 13];
        ext[..12].copy_from_slice(&frame);
        ext[12] = 0x70;
        assert_eq!(Atqb::parse(&ext).unwrap().protocol.sfgi, 7);
        assert_eq!(Atqb::parse(&frame[..11]), Err(TypeBError::MalformedAtqb { len: 11 }));
        let mut bad = frame;
        bad[0] = 0x51;
        assert!(Atqb::parse(&bad).is_err());
        assert!(Atqb::parse(&[]).is_err());
        assert!(Atqb::parse(&[0u8; 40]).is_err());
    }

    #[test]
    fn command_encodings() {
        let wupb = Reqb { afi: 0, wake_up: true, slots: Slots::One, extended_atqb: false };
        assert_eq!(wupb.encode(), [0x05, 0x00, 0x08]);
        let reqb = Reqb { afi: 0x10, wake_up: false, slots: Slots::Sixteen, extended_atqb: true };
        assert_eq!(reqb.encode(), [0x05, 0x10, 0x14]);
        assert_eq!(slot_marker(2), 0x15);
        assert_eq!(slot_marker(16), 0xF5);
        let p = AttribParams {
            param1: 0,
            pcd_to_picc: BitRate::Kbps424,
            picc_to_pcd: BitRate::Kbps424,
            fsdi: 8,
            cid: 1,
        };
        assert_eq!(p.encode([1, 2, 3, 4], 0x01), [0x1D, 1, 2, 3, 4, 0x00, 0xA8, 0x01, 0x01]);
        assert_eq!(AttribAnswer::parse(&[0x11]).unwrap().cid, 1);
        assert!(AttribAnswer::parse(&[]).is_err());
    }

    const ATQB: [u8; 12] = [0x50, 0xAA, 0xBB, 0xCC, 0xDD, 0x00, 0x00, 0x00, 0x00, 0xB3, 0x81, 0xA1];

    #[test]
    fn activation_of_a_my_number_card() {
        let mut fe = ScriptedFrontend::new(vec![
            Step::exchange(&[0x05, 0x00, 0x18], Ok(&ATQB)),
            Step::exchange(&[0x1D, 0xAA, 0xBB, 0xCC, 0xDD, 0x00, 0xA8, 0x01, 0x01], Ok(&[0x01])),
        ]);
        let config = ActivationConfig { cid: Some(1), ..ActivationConfig::default() };
        let act = activate(&mut fe, &config).unwrap();
        fe.finish();
        assert_eq!(act.pcd_to_picc, BitRate::Kbps424);
        assert_eq!(act.params.fsc, 256);
        assert_eq!(act.params.fwi, 10);
        assert_eq!(act.params.cid, Some(1));
        assert_eq!(fe.rates, (BitRate::Kbps424, BitRate::Kbps424));
        assert!(fe.field);
    }

    #[test]
    fn activation_retries_after_a_lost_attrib_answer() {
        let attrib = [0x1D, 0xAA, 0xBB, 0xCC, 0xDD, 0x00, 0xA8, 0x01, 0x00];
        let mut fe = ScriptedFrontend::new(vec![
            Step::exchange(&[0x05, 0x00, 0x18], Ok(&ATQB)),
            Step::exchange(&attrib, Err(FrontendError::Timeout)),
            Step::exchange(&[0x05, 0x00, 0x18], Err(FrontendError::Crc)),
            Step::exchange(&[0x05, 0x00, 0x19], Ok(&ATQB)),
            Step::exchange(&attrib, Ok(&[0x00])),
        ]);
        let act = activate_with_retries(&mut fe, &ActivationConfig::default(), 3).unwrap();
        fe.finish();
        assert_eq!(act.params.cid, None);
        let mut fe = ScriptedFrontend::new(vec![
            Step::exchange(&[0x05, 0x00, 0x18], Err(FrontendError::Timeout)),
            Step::exchange(&[0x05, 0x00, 0x18], Err(FrontendError::Hardware)),
        ]);
        assert_eq!(
            activate_with_retries(&mut fe, &ActivationConfig::default(), 5),
            Err(TypeBError::Frontend(FrontendError::Hardware))
        );
        fe.finish();
    }

    #[test]
    fn slot_marker_anticollision_resolves_two_cards() {
        let mut fe = ScriptedFrontend::new(vec![
            // 1 slot: both answer, garbled.
            Step::exchange(&[0x05, 0x00, 0x18], Err(FrontendError::Crc)),
            // 2 slots: slot 1 garbled again, slot 2 clean.
            Step::exchange(&[0x05, 0x00, 0x19], Err(FrontendError::Crc)),
            Step::exchange(&[0x15], Ok(&ATQB)),
        ]);
        let atqb = find_card(&mut fe, 0, true, Slots::One).unwrap();
        fe.finish();
        assert_eq!(atqb.pupi, [0xAA, 0xBB, 0xCC, 0xDD]);
    }

    #[test]
    fn no_card_and_garbage() {
        let mut fe =
            ScriptedFrontend::new(vec![Step::exchange(&[0x05, 0x00, 0x18], Err(FrontendError::Timeout))]);
        assert_eq!(find_card(&mut fe, 0, true, Slots::One), Err(TypeBError::NoCard));
        fe.finish();
        // An answer that is no ATQB counts as a garbled slot; with nothing else it escalates.
        let mut fe = ScriptedFrontend::new(vec![
            Step::exchange(&[0x05, 0x00, 0x19], Ok(&[0x50, 0x01])),
            Step::exchange(&[0x15], Err(FrontendError::Timeout)),
            Step::exchange(&[0x05, 0x00, 0x1A], Err(FrontendError::Timeout)),
            Step::exchange(&[0x15], Err(FrontendError::Timeout)),
            Step::exchange(&[0x25], Err(FrontendError::Timeout)),
            Step::exchange(&[0x35], Err(FrontendError::Timeout)),
        ]);
        let r = find_card(&mut fe, 0, true, Slots::Two);
        assert!(matches!(r, Err(TypeBError::NoCard)), "{r:?}");
        fe.finish();
    }

    #[test]
    fn attrib_with_wrong_cid_and_hltb() {
        let mut fe = ScriptedFrontend::new(vec![
            Step::exchange(&[0x1D, 0xAA, 0xBB, 0xCC, 0xDD, 0x00, 0x08, 0x01, 0x02], Ok(&[0x03])),
            Step::exchange(&[0x50, 0xAA, 0xBB, 0xCC, 0xDD], Ok(&[0x00])),
            Step::exchange(&[0x50, 0xAA, 0xBB, 0xCC, 0xDD], Ok(&[0x01])),
        ]);
        let atqb = Atqb::parse(&ATQB).unwrap();
        let p = AttribParams {
            param1: 0,
            pcd_to_picc: BitRate::Kbps106,
            picc_to_pcd: BitRate::Kbps106,
            fsdi: 8,
            cid: 2,
        };
        assert_eq!(attrib(&mut fe, &atqb, &p), Err(TypeBError::MalformedAttribAnswer));
        assert_eq!(halt(&mut fe, atqb.pupi, atqb.protocol.fwt()), Ok(()));
        assert_eq!(halt(&mut fe, atqb.pupi, atqb.protocol.fwt()), Err(TypeBError::MalformedHltbAnswer));
        fe.finish();
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;

    #[test]
    fn parsers_accept_any_bytes_without_panicking() {
        let mut x = 0x1234_5678_9ABC_DEF0u64;
        for len in 0..40 {
            for _ in 0..500 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                let _ = Atqb::parse(&bytes);
                let _ = AttribAnswer::parse(&bytes);
                let _ = ProtocolInfo::parse(&bytes);
                let _ = crate::nfc::type_a::Ats::parse(&bytes);
                let _ = shikaku_card::apdu::CommandApdu::parse(&bytes);
                let _ = crate::nfc::iso_dep::parse_block(&bytes, None);
                let _ = crate::nfc::iso_dep::parse_block(&bytes, Some(3));
            }
        }
    }
}
