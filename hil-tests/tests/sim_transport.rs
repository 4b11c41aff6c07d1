//! The firmware's card transport (Type B activation, ISO/IEC 14443-4, ISO 7816-4) against the
//! simulated PICC, error-free and with 1 %, 5 % and 20 % of frames lost or corrupted.

use shikaku_card::apdu::ApduTransport;
use shikaku_firmware::nfc::frontend::{BitRate, FrontendError, NfcFrontend, Timeout};
use shikaku_firmware::nfc::iso7816::ApduError;
use shikaku_firmware::nfc::iso_dep::{IsoDep, IsoDepConfig, IsoDepError};
use shikaku_firmware::nfc::type_b::{self, ActivationConfig};
use shikaku_hil::sim_frontend::{Direction, FaultConfig, SimCardConfig, SimFrontend, WtxConfig};
use shikaku_hil::SmartCard;

/// A tiny card: `INS 01` echoes its data; READ BINARY (`B0`) reads a 3 KB file (short with
/// P1P2 offset, or extended for all of it); `INS C8` answers `61xx` and serves the file through
/// GET RESPONSE; `INS CC` insists on the exact Le (`6Cxx`); `INS 2A` returns a 256-byte
/// "signature" (made slow in some tests).
struct TinyCard {
    file: Vec<u8>,
    pending: Vec<u8>,
    resets: u32,
}

impl TinyCard {
    fn new() -> Self {
        Self { file: (0..3000u32).map(|i| (i * 7 + i / 251) as u8).collect(), pending: Vec::new(), resets: 0 }
    }
}

fn with_sw(mut data: Vec<u8>, sw: u16) -> Vec<u8> {
    data.extend_from_slice(&sw.to_be_bytes());
    data
}

impl SmartCard for TinyCard {
    fn atr(&self) -> &[u8] {
        &[0x3B, 0x80, 0x80, 0x01, 0x01]
    }

    fn reset(&mut self) {
        self.resets += 1;
        self.pending.clear();
    }

    fn process_apdu(&mut self, c: &[u8]) -> Vec<u8> {
        if c.len() < 4 {
            return with_sw(vec![], 0x6700);
        }
        match c[1] {
            0x01 => {
                let data = match c.len() {
                    4 | 5 => vec![],
                    n if c[4] == 0 && n >= 7 => {
                        let lc = u16::from_be_bytes([c[5], c[6]]) as usize;
                        c[7..7 + lc].to_vec()
                    }
                    _ => c[5..5 + c[4] as usize].to_vec(),
                };
                with_sw(data, 0x9000)
            }
            0xB0 => {
                let off = u16::from_be_bytes([c[2], c[3]]) as usize;
                let le = match c.len() {
                    5 => {
                        if c[4] == 0 {
                            256
                        } else {
                            c[4] as usize
                        }
                    }
                    7 => match u16::from_be_bytes([c[5], c[6]]) {
                        0 => 65536,
                        n => n as usize,
                    },
                    _ => return with_sw(vec![], 0x6700),
                };
                if off > self.file.len() {
                    return with_sw(vec![], 0x6B00);
                }
                let end = (off + le).min(self.file.len());
                with_sw(self.file[off..end].to_vec(), 0x9000)
            }
            0xC8 => {
                self.pending = self.file.clone();
                with_sw(vec![], 0x6100)
            }
            0xC0 => {
                let le = if c[4] == 0 { 256 } else { c[4] as usize };
                let n = le.min(self.pending.len());
                let chunk: Vec<u8> = self.pending.drain(..n).collect();
                let sw = match self.pending.len() {
                    0 => 0x9000,
                    r if r >= 256 => 0x6100,
                    r => 0x6100 | r as u16,
                };
                with_sw(chunk, sw)
            }
            0x2A => with_sw(vec![0x5A; 256], 0x9000),
            0xCC => {
                if c.len() == 5 && c[4] == 0x10 {
                    with_sw(vec![0xAB; 16], 0x9000)
                } else {
                    with_sw(vec![], 0x6C10)
                }
            }
            _ => with_sw(vec![], 0x6D00),
        }
    }
}

type Link = IsoDep<SimFrontend<TinyCard>>;

fn activate(sim: SimFrontend<TinyCard>, cid: Option<u8>, config: IsoDepConfig) -> Link {
    let mut sim = sim;
    let act = type_b::activate(&mut sim, &ActivationConfig { cid, ..ActivationConfig::default() })
        .expect("activation");
    IsoDep::with_config(sim, act.params, config)
}

fn read_all_extended(link: &mut Link) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let n = link.transceive(&[0x00, 0xB0, 0x00, 0x00, 0x00, 0x0B, 0xB8], &mut buf).expect("extended read");
    buf.truncate(n);
    buf
}

fn read_certificate_short(link: &mut Link) -> Vec<u8> {
    // 1.6 KB the way the applet clients read it: short READ BINARY, 256 bytes at a time.
    let mut out = Vec::new();
    let mut buf = [0u8; 258];
    while out.len() < 1600 {
        let off = out.len() as u16;
        let le = (1600 - out.len()).min(256) as u8;
        let n =
            link.transceive(&[0x00, 0xB0, (off >> 8) as u8, off as u8, le], &mut buf).expect("short read");
        assert_eq!(&buf[n - 2..n], &[0x90, 0x00]);
        out.extend_from_slice(&buf[..n - 2]);
    }
    out
}

/// The test card's ECHO command for `len` bytes of patterned data, and that data.
fn echo_command(len: usize) -> (Vec<u8>, Vec<u8>) {
    let data: Vec<u8> = (0..len).map(|i| (i * 13) as u8).collect();
    let mut cmd = vec![0x00, 0x01, 0x00, 0x00];
    if len <= 255 {
        cmd.push(len as u8);
    } else {
        cmd.extend_from_slice(&[0x00, (len >> 8) as u8, len as u8]);
    }
    cmd.extend_from_slice(&data);
    (cmd, data)
}

fn echo(link: &mut Link, len: usize) {
    let (cmd, data) = echo_command(len);
    let mut buf = vec![0u8; len + 2];
    let n = link.transceive(&cmd, &mut buf).expect("echo");
    assert_eq!(&buf[..n - 2], &data[..]);
    assert_eq!(&buf[n - 2..n], &[0x90, 0x00]);
}

fn workload(link: &mut Link) {
    let file = TinyCard::new().file;
    for len in [0, 1, 100, 250, 251, 252, 253, 254, 600, 1500] {
        echo(link, len);
    }
    let mut all = read_all_extended(link);
    assert_eq!(all.split_off(3000), vec![0x90, 0x00]);
    assert_eq!(all, file);
    assert_eq!(read_certificate_short(link), file[..1600]);
}

#[test]
fn activation_decodes_b3_81_a1_and_switches_to_424() {
    let mut sim = SimFrontend::new(TinyCard::new());
    let act = type_b::activate(&mut sim, &ActivationConfig { cid: Some(1), ..ActivationConfig::default() })
        .unwrap();
    assert_eq!(act.atqb.protocol.max_frame_size(), 256);
    assert_eq!(act.atqb.protocol.fwi, 10);
    assert!(act.atqb.protocol.cid_supported());
    assert_eq!(act.params.cid, Some(1));
    assert_eq!((act.pcd_to_picc, act.picc_to_pcd), (BitRate::Kbps424, BitRate::Kbps424));
    assert_eq!(sim.bit_rates(), (BitRate::Kbps424, BitRate::Kbps424));
    assert_eq!(sim.attrib_params(), Some((1, 256)));
    assert!(sim.is_active());
}

#[test]
fn error_free_workload_with_fsc_256_and_cid() {
    let mut link = activate(SimFrontend::new(TinyCard::new()), Some(1), IsoDepConfig::default());
    workload(&mut link);
    let c = *link.frontend().counters();
    assert_eq!(c.dropped + c.corrupted + c.timeouts + c.crc_errors, 0);
    assert_eq!(link.stats().transmission_errors, 0);
    // The 3000-byte answer alone takes 12 chained I-blocks of 252 bytes (CID costs one).
    assert!(c.picc_frames > 30, "{c:?}");
    link.deselect().unwrap();
    assert!(!link.frontend().is_active());
}

#[test]
fn error_free_workload_with_small_fsc_32() {
    let config = SimCardConfig { protocol_info: [0xB3, 0x21, 0xA1], ..SimCardConfig::default() };
    let sim = SimFrontend::with_config(TinyCard::new(), config, FaultConfig::default());
    let mut link = activate(sim, None, IsoDepConfig::default());
    assert_eq!(link.params().fsc, 32);
    assert_eq!(link.max_inf(), 29);
    workload(&mut link);
}

#[test]
fn get_response_and_wrong_le_through_the_stack() {
    let mut link = activate(SimFrontend::new(TinyCard::new()), None, IsoDepConfig::default());
    let mut buf = vec![0u8; 4096];
    let n = link.transceive(&[0x00, 0xC8, 0, 0, 0], &mut buf).unwrap();
    assert_eq!(n, 3002);
    assert_eq!(&buf[..3000], &TinyCard::new().file[..]);
    let n = link.transceive(&[0x00, 0xCC, 0, 0, 0], &mut buf).unwrap();
    assert_eq!(&buf[..n], &[&[0xAB; 16][..], &[0x90, 0x00]].concat()[..]);
    // Too small a buffer is a typed error, and the link survives it.
    let mut small = [0u8; 1000];
    assert_eq!(link.transceive(&[0x00, 0xC8, 0, 0, 0], &mut small), Err(ApduError::Overflow));
    assert_eq!(
        link.transceive(&[0x00, 0xB0, 0x00, 0x00, 0x00, 0x0B, 0xB8], &mut small),
        Err(ApduError::Overflow)
    );
    echo(&mut link, 10);
}

#[test]
fn waiting_time_extension_when_the_card_is_slow() {
    let config =
        SimCardConfig { wtx: Some(WtxConfig { wtxm: 4, rounds: 2, every: 3 }), ..SimCardConfig::default() };
    let mut sim = SimFrontend::with_config(TinyCard::new(), config, FaultConfig::default());
    sim.record(true);
    let mut link = activate(sim, Some(2), IsoDepConfig::default());
    workload(&mut link);
    let sim = link.frontend();
    assert!(sim.counters().wtx_requests >= 8, "{:?}", sim.counters());
    // Every S(WTX) response went out with FWT × 4 (+ ΔFWT) as its timeout.
    let fwt = shikaku_firmware::nfc::frontend::fwt_from_fwi(10);
    let wtx_timeouts: Vec<_> = sim
        .log()
        .iter()
        .filter(|f| f.direction == Direction::PcdToPicc && f.bytes[0] & 0xF7 == 0xF2)
        .map(|f| f.timeout.unwrap())
        .collect();
    assert_eq!(wtx_timeouts.len() as u64, sim.counters().wtx_requests);
    assert!(wtx_timeouts
        .iter()
        .all(|t| t.as_fc() == fwt.as_fc() * 4 + shikaku_firmware::nfc::iso_dep::FWT_DELTA.as_fc()));
}

fn faulty_run(seed: u64, rate_ppm: u32, retries: u8) -> (u64, u64) {
    let sim = SimFrontend::with_config(
        TinyCard::new(),
        SimCardConfig::default(),
        FaultConfig::rate(seed, rate_ppm),
    );
    let config = IsoDepConfig { max_retries: retries, ..IsoDepConfig::default() };
    let mut link = activate(sim, Some(1), config);
    for _ in 0..3 {
        workload(&mut link);
    }
    let c = *link.frontend().counters();
    (c.dropped + c.corrupted, c.pcd_frames + c.picc_frames)
}

#[test]
fn one_percent_errors_complete() {
    for seed in 1..=5 {
        let (faults, frames) = faulty_run(seed, 10_000, 3);
        assert!(faults > 0, "seed {seed}: no faults in {frames} frames");
    }
}

#[test]
fn five_percent_errors_complete() {
    for seed in 1..=5 {
        let (faults, frames) = faulty_run(seed, 50_000, 4);
        assert!(faults * 100 > frames * 2, "seed {seed}: {faults}/{frames}");
    }
}

#[test]
fn twenty_percent_errors_complete_with_more_retries() {
    for seed in 1..=5 {
        let (faults, frames) = faulty_run(seed, 200_000, 10);
        assert!(faults * 100 > frames * 15, "seed {seed}: {faults}/{frames}");
    }
}

#[test]
fn pinned_faults_hit_exactly_those_frames() {
    let mut sim = SimFrontend::new(TinyCard::new());
    sim.record(true);
    let mut link = activate(sim, None, IsoDepConfig::default());
    let first = link.frontend().frame_index();
    // Lose the first I-block, corrupt the answer to the R(NAK), lose the next answer.
    link.frontend_mut().faults_mut().drop_frames = vec![first, first + 4];
    link.frontend_mut().faults_mut().corrupt_frames = vec![first + 2];
    echo(&mut link, 20);
    let sim = link.frontend();
    let log: Vec<_> = sim.log().iter().filter(|f| f.index >= first).collect();
    let pcd: Vec<u8> =
        log.iter().filter(|f| f.direction == Direction::PcdToPicc).map(|f| f.bytes[0]).collect();
    // I(0) lost ; R(NAK)(0) → R(ACK)(1) corrupted ; R(NAK)(0) → R(ACK)(1) lost ;
    // R(NAK)(0) → R(ACK)(1) ; I(0) → I(0).
    assert_eq!(pcd, vec![0x02, 0xB2, 0xB2, 0xB2, 0x02]);
    assert_eq!(sim.counters().dropped, 2);
    assert_eq!(sim.counters().corrupted, 1);
}

#[test]
fn card_removed_mid_session_is_a_typed_error_and_recovers() {
    let mut link = activate(SimFrontend::new(TinyCard::new()), None, IsoDepConfig::default());
    echo(&mut link, 5);
    link.frontend_mut().set_card_present(false);
    let mut buf = [0u8; 64];
    let err = link.transceive(&[0x00, 0x01, 0, 0, 1, 0x42], &mut buf).unwrap_err();
    assert_eq!(err, ApduError::Transport(IsoDepError::NoResponse(FrontendError::Timeout)));
    assert_eq!(
        link.transceive(&[0x00, 0x01, 0, 0, 1, 0x42], &mut buf),
        Err(ApduError::Transport(IsoDepError::NotActive))
    );
    // Put it back: power-cycle the field, activate again, carry on.
    let sim = link.frontend_mut();
    sim.set_card_present(true);
    sim.field_off().unwrap();
    let act = type_b::activate(sim, &ActivationConfig::default()).unwrap();
    link.reactivate(act.params);
    echo(&mut link, 300);
    assert!(link.frontend().card().resets >= 2);
}

#[test]
fn halted_card_answers_only_wupb() {
    let mut sim = SimFrontend::new(TinyCard::new());
    let act = type_b::activate(&mut sim, &ActivationConfig::default()).unwrap();
    IsoDep::new(&mut sim, act.params).deselect().unwrap();
    let reqb = ActivationConfig { wake_up: false, ..ActivationConfig::default() };
    assert!(type_b::activate(&mut sim, &reqb).is_err());
    assert!(type_b::activate(&mut sim, &ActivationConfig::default()).is_ok());
}

/// Like `workload`, but a transport error ends it with `Err`; wrong data still panics.
fn try_workload(link: &mut Link) -> Result<(), ApduError<IsoDepError>> {
    let file = TinyCard::new().file;
    let mut buf = vec![0u8; 4096];
    for len in [1usize, 300, 1500] {
        let (cmd, data) = echo_command(len);
        let n = link.transceive(&cmd, &mut buf)?;
        assert_eq!(&buf[..n - 2], &data[..], "echo of {len} bytes came back wrong");
    }
    let n = link.transceive(&[0x00, 0xB0, 0x00, 0x00, 0x00, 0x0B, 0xB8], &mut buf)?;
    assert_eq!(&buf[..n - 2], &file[..], "3 KB read came back wrong");
    let n = link.transceive(&[0x00, 0xC8, 0, 0, 0], &mut buf)?;
    assert_eq!(&buf[..n - 2], &file[..], "GET RESPONSE reassembly came back wrong");
    Ok(())
}

/// Seeds × rates with the default retry limit: every run either completes with the right
/// bytes or stops at the retry limit (never wrong data, never a protocol desync, never a
/// panic), and after an error a field reset and re-activation bring the link back.
#[test]
fn fault_sweep_never_yields_wrong_data() {
    let mut summary = Vec::new();
    for rate_ppm in [10_000u32, 50_000, 100_000, 200_000, 300_000] {
        let (mut ok, mut failed) = (0, 0);
        for seed in 0..40u64 {
            let sim = SimFrontend::with_config(
                TinyCard::new(),
                SimCardConfig::default(),
                FaultConfig::rate(seed * 7919 + rate_ppm as u64, rate_ppm),
            );
            let mut link = activate(sim, Some(1), IsoDepConfig::default());
            match try_workload(&mut link) {
                Ok(()) => ok += 1,
                Err(e) => {
                    eprintln!("rate {rate_ppm} seed {seed}: {e:?} {:?}", link.stats());
                    // Loss and corruption alone must never desynchronise the block numbers:
                    // the only way out is the retry limit.
                    assert!(
                        matches!(
                            e,
                            ApduError::Transport(
                                IsoDepError::NoResponse(_) | IsoDepError::RetransmissionLimit
                            )
                        ),
                        "rate {rate_ppm} seed {seed}: {e:?}"
                    );
                    failed += 1;
                    // Recover: field off, no faults, activate, work.
                    let sim = link.frontend_mut();
                    sim.faults_mut().rate_ppm = 0;
                    sim.field_off().unwrap();
                    let act = type_b::activate(sim, &ActivationConfig::default()).unwrap();
                    link.reactivate(act.params);
                    try_workload(&mut link).expect("after re-activation");
                }
            }
        }
        summary.push((rate_ppm / 10_000, ok, failed));
    }
    println!("rate % / completed / typed error (40 seeds, max_retries 3): {summary:?}");
    // At 1 % the default limit always suffices.
    assert_eq!(summary[0].2, 0, "{summary:?}");
}

#[test]
fn presence_check_notices_the_card_leaving() {
    let mut link = activate(SimFrontend::new(TinyCard::new()), Some(3), IsoDepConfig::default());
    assert_eq!(link.presence_check(), Ok(true));
    echo(&mut link, 40);
    assert_eq!(link.presence_check(), Ok(true));
    echo(&mut link, 40);
    link.frontend_mut().set_card_present(false);
    assert_eq!(link.presence_check(), Ok(false));
    assert!(!link.is_active());
}

const SIGN: [u8; 5] = [0x80, 0x2A, 0x00, 0x80, 0x00];

fn slow_sim(processing_ms: u32, auto_wtx: bool) -> SimFrontend<TinyCard> {
    let config = SimCardConfig {
        slow_commands: vec![(0x2A, Timeout::from_micros(processing_ms * 1000))],
        auto_wtx,
        ..SimCardConfig::default()
    };
    let mut sim = SimFrontend::with_config(TinyCard::new(), config, FaultConfig::default());
    sim.record(true);
    sim
}

#[test]
fn slow_card_asks_for_time_with_wtx() {
    let mut link = activate(slow_sim(800, true), None, IsoDepConfig::default());
    let t0 = link.frontend().now();
    let mut buf = [0u8; 300];
    let n = link.transceive(&SIGN, &mut buf).unwrap();
    assert_eq!(n, 258);
    let sim = link.frontend();
    assert_eq!(sim.counters().wtx_requests, 1);
    assert_eq!(sim.counters().timeouts, 0);
    // 800 ms over FWT(10) ≈ 309 ms: WTXM 3, echoed by the PCD.
    assert!(sim.log().iter().any(|f| f.direction == Direction::PcdToPicc && f.bytes == [0xF2, 3]));
    let elapsed = sim.now().as_micros() - t0.as_micros();
    assert!((800_000..820_000).contains(&elapsed), "{elapsed} µs");
}

#[test]
fn slow_card_without_wtx_answers_after_one_timeout() {
    // 400 ms > FWT + ΔFWT: the PCD times out once, its R(NAK) falls on a busy card, and the
    // answer arrives while the PCD waits for the answer to the R(NAK).
    let mut link = activate(slow_sim(400, false), None, IsoDepConfig::default());
    let mut buf = [0u8; 300];
    assert_eq!(link.transceive(&SIGN, &mut buf).unwrap(), 258);
    assert_eq!(link.stats().transmission_errors, 1);
    assert_eq!(link.frontend().counters().wtx_requests, 0);
    echo(&mut link, 10);
}

#[test]
fn card_slower_than_all_retries_is_a_typed_error() {
    let mut link = activate(slow_sim(3000, false), None, IsoDepConfig::default());
    let mut buf = [0u8; 300];
    assert_eq!(
        link.transceive(&SIGN, &mut buf),
        Err(ApduError::Transport(IsoDepError::NoResponse(FrontendError::Timeout)))
    );
    // A field reset clears the stuck card.
    let sim = link.frontend_mut();
    sim.field_off().unwrap();
    let act = type_b::activate(sim, &ActivationConfig::default()).unwrap();
    link.reactivate(act.params);
    echo(&mut link, 10);
}

#[test]
fn activation_under_frame_errors_succeeds_with_field_reset_retries() {
    for seed in 0..30 {
        let faults = FaultConfig { during_activation: true, ..FaultConfig::rate(seed, 200_000) };
        let mut sim = SimFrontend::with_config(TinyCard::new(), SimCardConfig::default(), faults);
        let act = type_b::activate_with_retries(&mut sim, &ActivationConfig::default(), 10)
            .unwrap_or_else(|e| panic!("seed {seed}: {e:?}"));
        let config = IsoDepConfig { max_retries: 10, ..IsoDepConfig::default() };
        let mut link = IsoDep::with_config(sim, act.params, config);
        echo(&mut link, 600);
    }
}
