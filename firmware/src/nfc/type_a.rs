//! ISO/IEC 14443-3 / -4 Type A activation, far enough for phones (HCE, smartphone JPKI):
//! REQA/WUPA, bit-oriented anticollision and SELECT over all cascade levels, HLTA, RATS/ATS and
//! PPS. The bit-level work (splitting frames, detecting collisions) is the frontend's; this
//! module decides which bits to send.

use super::frontend::{
    frame_size_from_index, frame_size_index_for, sfgt_from_sfgi, transceive_frame, BitRate, FrontendError,
    NfcFrontend, ShortFrame, Technology, Timeout,
};
use super::iso_dep::{IsoDepParams, FSD, FWT_DELTA};
use super::type_b::BitRateCapability;

/// SEL codes of cascade levels 1, 2, 3.
pub const SEL: [u8; 3] = [0x93, 0x95, 0x97];
/// Cascade tag: the UID continues at the next level.
pub const CASCADE_TAG: u8 = 0x88;
/// Waiting time for ATQA, anticollision answers and SAK (the PICC answers after ~86 µs;
/// generous, virtual time does not care).
pub const SHORT_TIMEOUT: Timeout = Timeout::from_fc(13_560);
/// Waiting time for the ATS and the PPS response: FWT during activation (65536 / fc) + ΔFWT.
pub const ACTIVATION_TIMEOUT: Timeout = Timeout::from_fc(65_536).saturating_add(FWT_DELTA);

/// Errors of Type A activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TypeAError {
    #[error("frontend: {0}")]
    Frontend(FrontendError),
    #[error("transmission error: {0}")]
    Transmission(FrontendError),
    #[error("no Type A card answered")]
    NoCard,
    #[error("malformed ATQA")]
    MalformedAtqa,
    #[error("incomplete or inconsistent anticollision answer")]
    Anticollision,
    #[error("UID check byte mismatch")]
    BccMismatch,
    #[error("malformed SAK")]
    MalformedSak,
    #[error("more than three cascade levels")]
    TooManyCascadeLevels,
    #[error("card is not ISO/IEC 14443-4 compliant")]
    NotIsoDep,
    #[error("malformed ATS")]
    MalformedAts,
    #[error("malformed PPS response")]
    MalformedPps,
}

fn map_frontend(e: FrontendError) -> TypeAError {
    if e.is_transmission_error() {
        TypeAError::Transmission(e)
    } else {
        TypeAError::Frontend(e)
    }
}

/// Answer to request (2 bytes, LSByte first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Atqa(pub [u8; 2]);

impl Atqa {
    /// UID size announced: 4, 7 or 10 bytes (`None` for the RFU code).
    pub const fn uid_len(self) -> Option<usize> {
        match self.0[0] >> 6 {
            0 => Some(4),
            1 => Some(7),
            2 => Some(10),
            _ => None,
        }
    }

    /// Whether bit-frame anticollision is announced (exactly one of b5..b1 set).
    pub const fn bit_frame_anticollision(self) -> bool {
        (self.0[0] & 0x1F).count_ones() == 1
    }
}

/// A UID of 4, 7 or 10 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Uid {
    bytes: [u8; 10],
    len: u8,
}

impl Uid {
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// Select acknowledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sak(pub u8);

impl Sak {
    /// The UID is not complete: go to the next cascade level.
    pub const fn cascade(self) -> bool {
        self.0 & 0x04 != 0
    }
    /// The PICC is compliant with ISO/IEC 14443-4.
    pub const fn iso_dep(self) -> bool {
        self.0 & 0x20 != 0
    }
}

/// Sends REQA or WUPA; returns the ATQA (`NoCard` on timeout).
pub fn request<F: NfcFrontend>(fe: &mut F, frame: ShortFrame) -> Result<Atqa, TypeAError> {
    let mut rx = [0u8; 4];
    match fe.transceive_short_frame(frame, &mut rx, SHORT_TIMEOUT) {
        Ok(2) => Ok(Atqa([rx[0], rx[1]])),
        Ok(_) => Err(TypeAError::MalformedAtqa),
        Err(FrontendError::Timeout) => Err(TypeAError::NoCard),
        // Several cards with different ATQAs collide; the anticollision loop sorts them out.
        Err(FrontendError::Collision) => Ok(Atqa([0, 0])),
        Err(e) => Err(map_frontend(e)),
    }
}

fn get_bit(buf: &[u8], i: usize) -> bool {
    buf[i / 8] & (1 << (i % 8)) != 0
}

fn set_bit(buf: &mut [u8], i: usize, v: bool) {
    if v {
        buf[i / 8] |= 1 << (i % 8);
    } else {
        buf[i / 8] &= !(1 << (i % 8));
    }
}

/// Anticollision at one cascade level: returns the 4 UID CLn bytes and the BCC of the one
/// PICC left (choosing the `1` branch at each collision).
pub fn anticollision<F: NfcFrontend>(fe: &mut F, level: usize) -> Result<[u8; 5], TypeAError> {
    let sel = *SEL.get(level).ok_or(TypeAError::TooManyCascadeLevels)?;
    let mut uid = [0u8; 5];
    let mut known = 0usize;
    // Each round learns at least one bit; 40 bits bound the loop.
    for _ in 0..=40 {
        if known >= 40 {
            break;
        }
        let mut tx = [0u8; 7];
        tx[0] = sel;
        tx[1] = (((2 + known / 8) as u8) << 4) | (known % 8) as u8;
        let nbytes = known.div_ceil(8);
        tx[2..2 + nbytes].copy_from_slice(&uid[..nbytes]);
        let mut rx = [0u8; 6];
        let got =
            fe.transceive_bits(&tx[..2 + nbytes], 16 + known, &mut rx, SHORT_TIMEOUT).map_err(
                |e| match e {
                    FrontendError::Timeout => TypeAError::NoCard,
                    e => map_frontend(e),
                },
            )?;
        let offset = known % 8;
        let valid = got.valid_bits.min(40 - known);
        if offset + valid > rx.len() * 8 {
            return Err(TypeAError::Anticollision);
        }
        for i in 0..valid {
            set_bit(&mut uid, known + i, get_bit(&rx, offset + i));
        }
        known += valid;
        if got.collision {
            if known >= 40 {
                return Err(TypeAError::Anticollision);
            }
            debug!("type A: collision at bit {}", known);
            set_bit(&mut uid, known, true);
            known += 1;
        } else if known < 40 {
            return Err(TypeAError::Anticollision);
        }
    }
    if known < 40 {
        return Err(TypeAError::Anticollision);
    }
    if uid[0] ^ uid[1] ^ uid[2] ^ uid[3] != uid[4] {
        return Err(TypeAError::BccMismatch);
    }
    Ok(uid)
}

/// SELECT at one cascade level with the 4 UID bytes and BCC; returns the SAK.
pub fn select_level<F: NfcFrontend>(fe: &mut F, level: usize, uid_cl: &[u8; 5]) -> Result<Sak, TypeAError> {
    let sel = *SEL.get(level).ok_or(TypeAError::TooManyCascadeLevels)?;
    let tx = [sel, 0x70, uid_cl[0], uid_cl[1], uid_cl[2], uid_cl[3], uid_cl[4]];
    let mut rx = [0u8; 4];
    let answer = transceive_frame(fe, &tx, &mut rx, SHORT_TIMEOUT).map_err(map_frontend)?;
    match *answer {
        [sak] => Ok(Sak(sak)),
        _ => Err(TypeAError::MalformedSak),
    }
}

/// Anticollision and SELECT over all cascade levels; returns the complete UID and last SAK.
pub fn select<F: NfcFrontend>(fe: &mut F) -> Result<(Uid, Sak), TypeAError> {
    let mut uid = Uid { bytes: [0; 10], len: 0 };
    for level in 0..SEL.len() {
        let cl = anticollision(fe, level)?;
        let sak = select_level(fe, level, &cl)?;
        let at = uid.len as usize;
        if sak.cascade() {
            if cl[0] != CASCADE_TAG || level == SEL.len() - 1 {
                return Err(TypeAError::MalformedSak);
            }
            uid.bytes[at..at + 3].copy_from_slice(&cl[1..4]);
            uid.len += 3;
        } else {
            uid.bytes[at..at + 4].copy_from_slice(&cl[..4]);
            uid.len += 4;
            return Ok((uid, sak));
        }
    }
    Err(TypeAError::TooManyCascadeLevels)
}

/// Sends HLTA (`50 00`); the PICC does not answer, an answer is an error.
pub fn halt<F: NfcFrontend>(fe: &mut F) -> Result<(), TypeAError> {
    let mut rx = [0u8; 4];
    match fe.transceive(&[0x50, 0x00], &mut rx, SHORT_TIMEOUT) {
        Err(FrontendError::Timeout) => Ok(()),
        Ok(_) => Err(TypeAError::Transmission(FrontendError::Protocol)),
        Err(e) => Err(map_frontend(e)),
    }
}

/// Maximum number of historical bytes kept from the ATS.
pub const MAX_HISTORICAL: usize = 32;

/// A parsed answer to select (ATS), with the standard defaults for absent interface bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ats {
    pub fsci: u8,
    /// TA(1): bit rate capability (same layout as ATQB protocol info byte 1).
    pub bit_rates: BitRateCapability,
    pub fwi: u8,
    pub sfgi: u8,
    pub cid_supported: bool,
    pub nad_supported: bool,
    historical: [u8; MAX_HISTORICAL],
    historical_len: u8,
    /// Historical bytes present in the ATS, possibly more than kept.
    pub historical_total: u8,
}

impl Ats {
    /// Parses an ATS (CRC stripped). `TL` must match the frame length.
    pub fn parse(frame: &[u8]) -> Result<Self, TypeAError> {
        let mut ats = Self {
            fsci: 2,
            bit_rates: BitRateCapability(0),
            fwi: 4,
            sfgi: 0,
            cid_supported: true,
            nad_supported: false,
            historical: [0; MAX_HISTORICAL],
            historical_len: 0,
            historical_total: 0,
        };
        let (&tl, rest) = frame.split_first().ok_or(TypeAError::MalformedAts)?;
        if tl as usize != frame.len() {
            return Err(TypeAError::MalformedAts);
        }
        let Some((&t0, mut rest)) = rest.split_first() else {
            return Ok(ats);
        };
        if t0 & 0x80 != 0 {
            return Err(TypeAError::MalformedAts);
        }
        ats.fsci = t0 & 0x0F;
        let mut take = |present: bool| -> Result<Option<u8>, TypeAError> {
            if !present {
                return Ok(None);
            }
            let (&b, r) = rest.split_first().ok_or(TypeAError::MalformedAts)?;
            rest = r;
            Ok(Some(b))
        };
        if let Some(ta) = take(t0 & 0x10 != 0)? {
            ats.bit_rates = BitRateCapability(ta);
        }
        if let Some(tb) = take(t0 & 0x20 != 0)? {
            ats.fwi = tb >> 4;
            ats.sfgi = tb & 0x0F;
        }
        if let Some(tc) = take(t0 & 0x40 != 0)? {
            ats.nad_supported = tc & 0x01 != 0;
            ats.cid_supported = tc & 0x02 != 0;
        }
        let kept = rest.len().min(MAX_HISTORICAL);
        ats.historical[..kept].copy_from_slice(&rest[..kept]);
        ats.historical_len = kept as u8;
        ats.historical_total = rest.len() as u8;
        Ok(ats)
    }

    /// The historical bytes kept (at most [`MAX_HISTORICAL`]).
    pub fn historical(&self) -> &[u8] {
        &self.historical[..self.historical_len as usize]
    }

    /// FSC in bytes.
    pub const fn max_frame_size(&self) -> u16 {
        frame_size_from_index(self.fsci)
    }
}

/// Sends RATS with our FSD and `cid` (0..=14); returns the parsed ATS.
pub fn rats<F: NfcFrontend>(fe: &mut F, cid: u8) -> Result<Ats, TypeAError> {
    let param = (frame_size_index_for(FSD as u16) << 4) | (cid & 0x0F);
    let mut rx = [0u8; FSD];
    let answer = transceive_frame(fe, &[0xE0, param], &mut rx, ACTIVATION_TIMEOUT).map_err(map_frontend)?;
    Ats::parse(answer)
}

/// Sends PPS for the given bit rates (DRI = PCD → PICC, DSI = PICC → PCD).
pub fn pps<F: NfcFrontend>(
    fe: &mut F,
    cid: u8,
    pcd_to_picc: BitRate,
    picc_to_pcd: BitRate,
) -> Result<(), TypeAError> {
    let ppss = 0xD0 | (cid & 0x0F);
    let tx = [ppss, 0x11, (picc_to_pcd.code() << 2) | pcd_to_picc.code()];
    let mut rx = [0u8; 4];
    let answer = transceive_frame(fe, &tx, &mut rx, ACTIVATION_TIMEOUT).map_err(map_frontend)?;
    if *answer != [ppss] {
        return Err(TypeAError::MalformedPps);
    }
    Ok(())
}

/// Options for [`activate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ActivationConfig {
    /// Use WUPA instead of REQA.
    pub wake_up: bool,
    /// Fastest bit rate to negotiate with PPS (106 = no PPS).
    pub max_bit_rate: BitRate,
    /// CID to assign if the card supports CID; `None` to not use CID.
    pub cid: Option<u8>,
}

impl Default for ActivationConfig {
    fn default() -> Self {
        Self { wake_up: true, max_bit_rate: BitRate::Kbps106, cid: None }
    }
}

/// A Type A PICC activated for ISO/IEC 14443-4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ActivatedA {
    pub atqa: Atqa,
    pub uid: Uid,
    pub sak: Sak,
    pub ats: Ats,
    pub pcd_to_picc: BitRate,
    pub picc_to_pcd: BitRate,
    pub params: IsoDepParams,
}

/// Full Type A activation: field on, REQA/WUPA, anticollision/SELECT, RATS, optional PPS.
pub fn activate<F: NfcFrontend>(fe: &mut F, config: &ActivationConfig) -> Result<ActivatedA, TypeAError> {
    fe.configure(Technology::TypeA, BitRate::Kbps106, BitRate::Kbps106).map_err(TypeAError::Frontend)?;
    fe.field_on().map_err(TypeAError::Frontend)?;
    let frame = if config.wake_up { ShortFrame::Wupa } else { ShortFrame::Reqa };
    let atqa = request(fe, frame)?;
    let (uid, sak) = select(fe)?;
    if !sak.iso_dep() {
        return Err(TypeAError::NotIsoDep);
    }
    let wanted = config.cid.filter(|&c| c <= 14);
    let ats = rats(fe, wanted.unwrap_or(0))?;
    let cid = wanted.filter(|_| ats.cid_supported);
    let sfgt = sfgt_from_sfgi(ats.sfgi);
    if sfgt.as_fc() != 0 {
        fe.guard_time(sfgt).map_err(TypeAError::Frontend)?;
    }
    let (mut pcd_to_picc, mut picc_to_pcd) = ats.bit_rates.best(config.max_bit_rate);
    if (pcd_to_picc, picc_to_pcd) != (BitRate::Kbps106, BitRate::Kbps106) {
        match pps(fe, cid.unwrap_or(0), pcd_to_picc, picc_to_pcd) {
            Ok(()) => {
                fe.configure(Technology::TypeA, pcd_to_picc, picc_to_pcd).map_err(TypeAError::Frontend)?
            }
            Err(_e) => {
                // PPS is optional; stay at 106 kbit/s.
                warn!("type A: PPS failed ({}), staying at 106 kbit/s", _e);
                pcd_to_picc = BitRate::Kbps106;
                picc_to_pcd = BitRate::Kbps106;
            }
        }
    }
    info!("type A: activated, FSC={}", ats.max_frame_size());
    Ok(ActivatedA {
        atqa,
        uid,
        sak,
        ats,
        pcd_to_picc,
        picc_to_pcd,
        params: IsoDepParams {
            fsc: ats.max_frame_size(),
            fwi: ats.fwi,
            cid,
            nad_supported: ats.nad_supported,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nfc::frontend::{BitFrameRx, TransceiveFn};
    use std::vec::Vec;

    /// Type A PICCs at bit level: answers anticollision with collisions where UIDs differ.
    struct Field {
        cards: Vec<Vec<u8>>,
        selected: Option<usize>,
        ats: Vec<u8>,
        log: Vec<Vec<u8>>,
    }

    impl Field {
        fn new(cards: &[&[u8]]) -> Self {
            Self {
                cards: cards.iter().map(|c| c.to_vec()).collect(),
                selected: None,
                ats: vec![0x05, 0x78, 0x80, 0x70, 0x02],
                log: Vec::new(),
            }
        }

        /// The 5 bytes (CLn + BCC) card `i` answers at cascade `level`.
        fn cl(&self, i: usize, level: usize) -> Option<[u8; 5]> {
            let uid = &self.cards[i];
            let b: [u8; 4] = match (uid.len(), level) {
                (4, 0) => [uid[0], uid[1], uid[2], uid[3]],
                (7, 0) | (10, 0) => [CASCADE_TAG, uid[0], uid[1], uid[2]],
                (7, 1) => [uid[3], uid[4], uid[5], uid[6]],
                (10, 1) => [CASCADE_TAG, uid[3], uid[4], uid[5]],
                (10, 2) => [uid[6], uid[7], uid[8], uid[9]],
                _ => return None,
            };
            Some([b[0], b[1], b[2], b[3], b[0] ^ b[1] ^ b[2] ^ b[3]])
        }
    }

    impl NfcFrontend for Field {
        fn field_on(&mut self) -> Result<(), FrontendError> {
            Ok(())
        }
        fn field_off(&mut self) -> Result<(), FrontendError> {
            Ok(())
        }
        fn configure(&mut self, _: Technology, _: BitRate, _: BitRate) -> Result<(), FrontendError> {
            Ok(())
        }
        fn transceive_short_frame(
            &mut self,
            _: ShortFrame,
            rx: &mut [u8],
            _: Timeout,
        ) -> Result<usize, FrontendError> {
            rx[..2].copy_from_slice(&[0x44, 0x00]);
            Ok(2)
        }
        fn transceive_bits(
            &mut self,
            tx: &[u8],
            tx_bits: usize,
            rx: &mut [u8],
            _: Timeout,
        ) -> Result<BitFrameRx, FrontendError> {
            self.log.push(tx.to_vec());
            let level = SEL.iter().position(|&s| s == tx[0]).unwrap();
            let known = tx_bits - 16;
            let cls: Vec<[u8; 5]> = (0..self.cards.len())
                .filter_map(|i| self.cl(i, level))
                .filter(|cl| (0..known).all(|b| get_bit(cl, b) == get_bit(&tx[2..], b)))
                .collect();
            if cls.is_empty() {
                return Err(FrontendError::Timeout);
            }
            let offset = known % 8;
            rx.fill(0);
            for (i, b) in (known..40).enumerate() {
                let v = get_bit(&cls[0], b);
                if cls.iter().any(|c| get_bit(c, b) != v) {
                    return Ok(BitFrameRx { valid_bits: i, collision: true });
                }
                set_bit(rx, offset + i, v);
            }
            Ok(BitFrameRx { valid_bits: 40 - known, collision: false })
        }
        fn transceive(&mut self, tx: &[u8], rx: &mut [u8], _: Timeout) -> Result<usize, FrontendError> {
            self.log.push(tx.to_vec());
            if let Some(level) = SEL.iter().position(|&s| s == tx[0]) {
                let i = (0..self.cards.len())
                    .find(|&i| self.cl(i, level).is_some_and(|cl| cl[..] == tx[2..7]))
                    .ok_or(FrontendError::Timeout)?;
                let last = self.cl(i, level + 1).is_none();
                self.selected = Some(i);
                rx[0] = if last { 0x20 } else { 0x04 };
                return Ok(1);
            }
            match tx[0] {
                0xE0 => {
                    rx[..self.ats.len()].copy_from_slice(&self.ats);
                    Ok(self.ats.len())
                }
                p if p & 0xF0 == 0xD0 => {
                    rx[0] = p;
                    Ok(1)
                }
                _ => Err(FrontendError::Timeout),
            }
        }
    }

    #[test]
    fn ats_decoding_with_defaults_and_interface_bytes() {
        let ats = Ats::parse(&[0x05, 0x78, 0x80, 0x70, 0x02]).unwrap();
        assert_eq!(ats.fsci, 8);
        assert_eq!(ats.max_frame_size(), 256);
        assert_eq!(ats.bit_rates, BitRateCapability(0x80));
        assert_eq!((ats.fwi, ats.sfgi), (7, 0));
        assert!(ats.cid_supported && !ats.nad_supported);
        let ats = Ats::parse(&[0x01]).unwrap();
        assert_eq!((ats.fsci, ats.fwi, ats.cid_supported), (2, 4, true));
        let ats = Ats::parse(&[0x06, 0x75, 0x77, 0x81, 0x02, 0x80]).unwrap();
        assert_eq!((ats.fwi, ats.sfgi), (8, 1));
        assert_eq!(ats.historical(), &[0x80]);
        assert_eq!(ats.bit_rates.best(BitRate::Kbps848), (BitRate::Kbps848, BitRate::Kbps848));
        for bad in [&[][..], &[0x03, 0x78][..], &[0x02, 0xF8][..], &[0x03, 0x70, 0x80][..]] {
            assert!(Ats::parse(bad).is_err(), "{bad:02X?}");
        }
    }

    #[test]
    fn single_size_uid() {
        let mut f = Field::new(&[&[0x08, 0x12, 0x34, 0x56]]);
        let (uid, sak) = select(&mut f).unwrap();
        assert_eq!(uid.as_bytes(), &[0x08, 0x12, 0x34, 0x56]);
        assert!(sak.iso_dep());
        assert_eq!(f.log[0], vec![0x93, 0x20]);
    }

    #[test]
    fn double_size_uid_uses_cascade_level_2() {
        let mut f = Field::new(&[&[0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66]]);
        let act = activate(&mut f, &ActivationConfig::default()).unwrap();
        assert_eq!(act.uid.as_bytes(), &[0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66]);
        assert_eq!(act.params.fsc, 256);
        assert_eq!(act.params.fwi, 7);
        assert_eq!(act.atqa.uid_len(), Some(7));
        assert!(f.log.iter().any(|t| t[0] == 0x95));
    }

    #[test]
    fn triple_size_uid() {
        let uid = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        let mut f = Field::new(&[&uid]);
        let (got, _) = select(&mut f).unwrap();
        assert_eq!(got.as_bytes(), &uid);
    }

    #[test]
    fn collision_between_two_phones_resolves_to_one() {
        let mut f = Field::new(&[&[0x08, 0x12, 0x34, 0x56], &[0x08, 0x12, 0xB4, 0x57]]);
        let (uid, _) = select(&mut f).unwrap();
        // Bit 23 differs (0x34 vs 0xB4): the `1` branch wins.
        assert_eq!(uid.as_bytes(), &[0x08, 0x12, 0xB4, 0x57]);
        // Second round sends 23 known bits + the chosen one: NVB 0x50 (5 bytes), 0 extra bits.
        assert!(f.log.iter().any(|t| t[0] == 0x93 && t[1] == 0x50));
    }

    #[test]
    fn collision_in_a_split_byte() {
        let mut f = Field::new(&[&[0x08, 0x12, 0x34, 0x56], &[0x08, 0x12, 0x3C, 0x56]]);
        let (uid, _) = select(&mut f).unwrap();
        assert_eq!(uid.as_bytes(), &[0x08, 0x12, 0x3C, 0x56]);
        assert!(f.log.iter().any(|t| t[0] == 0x93 && t[1] == 0x44));
    }

    #[test]
    fn pps_when_ta_allows_it() {
        let mut f = Field::new(&[&[0x08, 0x12, 0x34, 0x56]]);
        f.ats = vec![0x05, 0x78, 0x33, 0x70, 0x02];
        let config =
            ActivationConfig { max_bit_rate: BitRate::Kbps424, cid: Some(1), ..ActivationConfig::default() };
        let act = activate(&mut f, &config).unwrap();
        assert_eq!(act.pcd_to_picc, BitRate::Kbps424);
        assert_eq!(act.picc_to_pcd, BitRate::Kbps424);
        assert_eq!(act.params.cid, Some(1));
        assert!(f.log.contains(&vec![0xE0, 0x81]));
        assert!(f.log.contains(&vec![0xD1, 0x11, 0x0A]));
    }

    #[test]
    fn bad_answers_are_typed_errors() {
        /// Answers every frame with `01 02 03` (through the shared `TransceiveFn`) and every
        /// bit frame with four bytes and `.0`.
        struct Bad(u8);
        fn answer(_: &[u8], rx: &mut [u8], _: Timeout) -> Result<usize, FrontendError> {
            rx[..3].copy_from_slice(&[1, 2, 3]);
            Ok(3)
        }
        impl NfcFrontend for Bad {
            fn field_on(&mut self) -> Result<(), FrontendError> {
                TransceiveFn(answer).field_on()
            }
            fn field_off(&mut self) -> Result<(), FrontendError> {
                TransceiveFn(answer).field_off()
            }
            fn configure(&mut self, t: Technology, up: BitRate, down: BitRate) -> Result<(), FrontendError> {
                TransceiveFn(answer).configure(t, up, down)
            }
            fn transceive(
                &mut self,
                tx: &[u8],
                rx: &mut [u8],
                timeout: Timeout,
            ) -> Result<usize, FrontendError> {
                TransceiveFn(answer).transceive(tx, rx, timeout)
            }
            fn transceive_bits(
                &mut self,
                _: &[u8],
                _: usize,
                rx: &mut [u8],
                _: Timeout,
            ) -> Result<BitFrameRx, FrontendError> {
                rx[..5].copy_from_slice(&[1, 2, 3, 4, self.0]);
                Ok(BitFrameRx { valid_bits: 40, collision: false })
            }
        }
        assert_eq!(select(&mut Bad(0)), Err(TypeAError::BccMismatch));
        assert_eq!(select(&mut Bad(4)), Err(TypeAError::MalformedSak));
        assert_eq!(
            request(&mut Bad(0), ShortFrame::Reqa),
            Err(TypeAError::Frontend(FrontendError::Unsupported))
        );
        assert_eq!(rats(&mut Bad(0), 0), Err(TypeAError::MalformedAts));
    }
}
