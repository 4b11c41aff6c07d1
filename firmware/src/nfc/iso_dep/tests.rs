//! Block protocol tests against a scripted PICC. The `scenario_*` tests follow the protocol
//! scenarios of ISO/IEC 14443-4 Annex B (error-free operation, then error handling); each
//! script lists the exact frames on air (CRC excluded). Notation in the comments:
//! `I(bn)`, `I(bn)c` chained, `R(ACK)(bn)`, `R(NAK)(bn)`, `x` = lost or corrupted.

use super::*;
use crate::nfc::frontend::FrontendError::{Crc, Timeout as Lost};
use crate::nfc::testing::{ScriptedFrontend, Step};
use std::vec::Vec;

const CMD: [u8; 5] = [0x00, 0xB0, 0x00, 0x00, 0x00];
const RESP: [u8; 4] = [0xCA, 0xFE, 0x90, 0x00];

fn params(fsc: u16, cid: Option<u8>) -> IsoDepParams {
    IsoDepParams { fsc, fwi: 10, cid, nad_supported: false }
}

fn link(steps: Vec<Step>) -> IsoDep<ScriptedFrontend> {
    IsoDep::new(ScriptedFrontend::new(steps), params(256, None))
}

fn fwt() -> Timeout {
    fwt_from_fwi(10).saturating_add(FWT_DELTA)
}

/// `pcb` followed by `inf`.
fn blk(pcb: u8, inf: &[u8]) -> Vec<u8> {
    let mut v = vec![pcb];
    v.extend_from_slice(inf);
    v
}

fn ok(frame: &[u8]) -> Result<&[u8], FrontendError> {
    Ok(frame)
}

fn step(tx: &[u8], rx: Result<&[u8], FrontendError>) -> Step {
    Step::exchange(tx, rx)
}

fn run(l: &mut IsoDep<ScriptedFrontend>, cmd: &[u8]) -> Result<Vec<u8>, IsoDepError> {
    let mut buf = [0u8; 8192];
    let n = l.exchange(cmd, &mut buf)?;
    Ok(buf[..n].to_vec())
}

#[test]
fn scenario_1_exchange_of_i_blocks() {
    // I(0) → I(0), I(1) → I(1): block numbers toggle on both sides.
    let mut l = link(vec![
        step(&blk(0x02, &CMD), ok(&blk(0x02, &RESP))),
        step(&blk(0x03, &CMD), ok(&blk(0x03, &RESP))),
        step(&blk(0x02, &CMD), ok(&blk(0x02, &RESP))),
    ]);
    for _ in 0..3 {
        assert_eq!(run(&mut l, &CMD).unwrap(), RESP);
    }
    l.frontend().finish();
    assert!(l.frontend().timeouts.iter().all(|&t| t == fwt()));
}

#[test]
fn scenario_2_request_for_waiting_time_extension() {
    // I(0) → S(WTX)(3) ; S(WTX)(3) → I(0). Only the block after S(WTX) gets FWT × 3.
    let mut l = link(vec![
        step(&blk(0x02, &CMD), ok(&[0xF2, 0x03])).with_timeout(fwt()),
        step(&[0xF2, 0x03], ok(&blk(0x02, &RESP)))
            .with_timeout(fwt_from_fwi(10).saturating_mul(3).saturating_add(FWT_DELTA)),
        step(&blk(0x03, &CMD), ok(&blk(0x03, &RESP))).with_timeout(fwt()),
    ]);
    assert_eq!(run(&mut l, &CMD).unwrap(), RESP);
    assert_eq!(run(&mut l, &CMD).unwrap(), RESP);
    l.frontend().finish();
    assert_eq!(l.stats().wtx, 1);
}

#[test]
fn scenario_2_wtx_is_capped_at_fwt_max_and_power_bits_ignored() {
    // WTXM 59 with power-level bits set: FWT(10) × 59 exceeds FWT(14), so FWT(14) is used.
    let mut l = link(vec![
        step(&blk(0x02, &CMD), ok(&[0xF2, 0xC0 | 59])),
        step(&[0xF2, 59], ok(&blk(0x02, &RESP))).with_timeout(FWT_MAX.saturating_add(FWT_DELTA)),
    ]);
    assert_eq!(run(&mut l, &CMD).unwrap(), RESP);
    l.frontend().finish();
}

#[test]
fn scenario_3_deselect() {
    let mut l = link(vec![step(&blk(0x02, &CMD), ok(&blk(0x02, &RESP))), step(&[0xC2], ok(&[0xC2]))]);
    assert_eq!(run(&mut l, &CMD).unwrap(), RESP);
    l.deselect().unwrap();
    l.frontend().finish();
    assert!(!l.is_active());
    assert_eq!(run(&mut l, &CMD), Err(IsoDepError::NotActive));
}

#[test]
fn scenario_4_chaining_pcd_to_picc() {
    // FSC 16: 13 bytes of INF per block. I(0)c → R(ACK)(0) ; I(1)c → R(ACK)(1) ; I(0) → I(0).
    let cmd: Vec<u8> = (0..30).collect();
    let mut l = IsoDep::new(
        ScriptedFrontend::new(vec![
            step(&blk(0x12, &cmd[..13]), ok(&[0xA2])),
            step(&blk(0x13, &cmd[13..26]), ok(&[0xA3])),
            step(&blk(0x02, &cmd[26..]), ok(&blk(0x02, &RESP))),
        ]),
        params(16, None),
    );
    assert_eq!(run(&mut l, &cmd).unwrap(), RESP);
    l.frontend().finish();
    assert!(l.block_number());
}

#[test]
fn scenario_4_chaining_picc_to_pcd() {
    // I(0) → I(0)c ; R(ACK)(1) → I(1)c ; R(ACK)(0) → I(0).
    let mut l = link(vec![
        step(&blk(0x02, &CMD), ok(&blk(0x12, b"abc"))),
        step(&[0xA3], ok(&blk(0x13, b"def"))),
        step(&[0xA2], ok(&blk(0x02, &[b'g', 0x90, 0x00]))),
    ]);
    assert_eq!(run(&mut l, &CMD).unwrap(), b"abcdefg\x90\x00");
    l.frontend().finish();
    assert!(l.block_number());
}

#[test]
fn scenario_5_start_of_protocol_first_i_block_lost() {
    // I(0)x ; R(NAK)(0) → R(ACK)(1) (PICC still at block number 1) ; I(0) → I(0).
    let mut l = link(vec![
        step(&blk(0x02, &CMD), Err(Lost)),
        step(&[0xB2], ok(&[0xA3])),
        step(&blk(0x02, &CMD), ok(&blk(0x02, &RESP))),
    ]);
    assert_eq!(run(&mut l, &CMD).unwrap(), RESP);
    l.frontend().finish();
    assert_eq!(l.stats().retransmissions, 1);
}

#[test]
fn scenario_6_exchange_of_i_blocks_pcd_block_corrupted() {
    // After a first good exchange: I(1) corrupted, the PICC stays silent ; R(NAK)(1) → R(ACK)(0)
    // ; I(1) → I(1).
    let mut l = link(vec![
        step(&blk(0x02, &CMD), ok(&blk(0x02, &RESP))),
        step(&blk(0x03, &CMD), Err(Lost)),
        step(&[0xB3], ok(&[0xA2])),
        step(&blk(0x03, &CMD), ok(&blk(0x03, &RESP))),
    ]);
    assert_eq!(run(&mut l, &CMD).unwrap(), RESP);
    assert_eq!(run(&mut l, &CMD).unwrap(), RESP);
    l.frontend().finish();
}

#[test]
fn scenario_7_exchange_of_i_blocks_picc_response_lost() {
    // I(0) → I(0)x ; R(NAK)(0) → I(0) (the PICC re-sends its last block, Rule 11).
    let mut l = link(vec![step(&blk(0x02, &CMD), Err(Lost)), step(&[0xB2], ok(&blk(0x02, &RESP)))]);
    assert_eq!(run(&mut l, &CMD).unwrap(), RESP);
    l.frontend().finish();
    assert_eq!(l.stats().transmission_errors, 1);
}

#[test]
fn scenario_7b_picc_response_with_crc_error() {
    let mut l = link(vec![
        step(&blk(0x02, &CMD), Err(Crc)),
        step(&[0xB2], Err(Crc)),
        step(&[0xB2], ok(&blk(0x02, &RESP))),
    ]);
    assert_eq!(run(&mut l, &CMD).unwrap(), RESP);
    l.frontend().finish();
    assert_eq!(l.stats().transmission_errors, 2);
}

#[test]
fn scenario_8_waiting_time_extension_request_lost() {
    // I(0) → S(WTX)x ; R(NAK)(0) → S(WTX) again (Rule 11) ; S(WTX) → I(0).
    let mut l = link(vec![
        step(&blk(0x02, &CMD), Err(Lost)),
        step(&[0xB2], ok(&[0xF2, 0x02])),
        step(&[0xF2, 0x02], ok(&blk(0x02, &RESP))),
    ]);
    assert_eq!(run(&mut l, &CMD).unwrap(), RESP);
    l.frontend().finish();
}

#[test]
fn scenario_9_waiting_time_extension_response_lost() {
    // I(0) → S(WTX) ; S(WTX)x, the PICC hears nothing and stays silent: the PCD times out after
    // the extended FWT ; R(NAK)(0) → S(WTX) again ; S(WTX) → I(0).
    let ext = fwt_from_fwi(10).saturating_mul(2).saturating_add(FWT_DELTA);
    let mut l = link(vec![
        step(&blk(0x02, &CMD), ok(&[0xF2, 0x02])),
        step(&[0xF2, 0x02], Err(Lost)).with_timeout(ext),
        step(&[0xB2], ok(&[0xF2, 0x02])).with_timeout(fwt()),
        step(&[0xF2, 0x02], ok(&blk(0x02, &RESP))).with_timeout(ext),
    ]);
    assert_eq!(run(&mut l, &CMD).unwrap(), RESP);
    l.frontend().finish();
}

#[test]
fn scenario_10_deselect_lost_and_repeated() {
    // S(DESELECT)x ; S(DESELECT) → S(DESELECT) (Rule 8).
    let mut l = link(vec![step(&[0xC2], Err(Lost)), step(&[0xC2], ok(&[0xC2]))]);
    l.deselect().unwrap();
    l.frontend().finish();
}

#[test]
fn scenario_10b_deselect_never_answered() {
    let mut l = link((0..4).map(|_| step(&[0xC2], Err(Lost))).collect());
    assert_eq!(l.deselect(), Err(IsoDepError::NoResponse(Lost)));
    l.frontend().finish();
    assert!(!l.is_active());
}

#[test]
fn scenario_11_pcd_chaining_i_block_lost() {
    // I(0)c x ; R(NAK)(0) → R(ACK)(1) ; I(0)c → R(ACK)(0) ; I(1) → I(1).
    let cmd: Vec<u8> = (0..20).collect();
    let mut l = IsoDep::new(
        ScriptedFrontend::new(vec![
            step(&blk(0x12, &cmd[..13]), Err(Lost)),
            step(&[0xB2], ok(&[0xA3])),
            step(&blk(0x12, &cmd[..13]), ok(&[0xA2])),
            step(&blk(0x03, &cmd[13..]), ok(&blk(0x03, &RESP))),
        ]),
        params(16, None),
    );
    assert_eq!(run(&mut l, &cmd).unwrap(), RESP);
    l.frontend().finish();
}

#[test]
fn scenario_12_pcd_chaining_ack_lost() {
    // I(0)c → R(ACK)(0)x ; R(NAK)(0) → R(ACK)(0) (re-sent) ; I(1) → I(1).
    let cmd: Vec<u8> = (0..20).collect();
    let mut l = IsoDep::new(
        ScriptedFrontend::new(vec![
            step(&blk(0x12, &cmd[..13]), Err(Lost)),
            step(&[0xB2], ok(&[0xA2])),
            step(&blk(0x03, &cmd[13..]), ok(&blk(0x03, &RESP))),
        ]),
        params(16, None),
    );
    assert_eq!(run(&mut l, &cmd).unwrap(), RESP);
    l.frontend().finish();
}

#[test]
fn scenario_13_picc_chaining_i_block_corrupted() {
    // I(0) → I(0)c ; R(ACK)(1) → I(1)c with CRC error ; R(ACK)(1) (Rule 5, not R(NAK))
    // → I(1)c again (Rule 11) ; R(ACK)(0) → I(0).
    let mut l = link(vec![
        step(&blk(0x02, &CMD), ok(&blk(0x12, b"ab"))),
        step(&[0xA3], Err(Crc)),
        step(&[0xA3], ok(&blk(0x13, b"cd"))),
        step(&[0xA2], ok(&blk(0x02, &[0x90, 0x00]))),
    ]);
    assert_eq!(run(&mut l, &CMD).unwrap(), b"abcd\x90\x00");
    l.frontend().finish();
}

#[test]
fn scenario_14_picc_chaining_ack_lost() {
    // I(0) → I(0)c ; R(ACK)(1)x, the PICC hears nothing ; R(ACK)(1) → I(1)c (Rule 13) ;
    // R(ACK)(0) → I(0).
    let mut l = link(vec![
        step(&blk(0x02, &CMD), ok(&blk(0x12, b"ab"))),
        step(&[0xA3], Err(Lost)),
        step(&[0xA3], ok(&blk(0x13, b"cd"))),
        step(&[0xA2], ok(&blk(0x02, &[0x90, 0x00]))),
    ]);
    assert_eq!(run(&mut l, &CMD).unwrap(), b"abcd\x90\x00");
    l.frontend().finish();
}

#[test]
fn scenario_15_first_chained_response_lost() {
    // I(0) → I(0)c x: not yet in PICC chaining, so R(NAK)(0) → I(0)c again ; R(ACK)(1) → I(1).
    let mut l = link(vec![
        step(&blk(0x02, &CMD), Err(Lost)),
        step(&[0xB2], ok(&blk(0x12, b"ab"))),
        step(&[0xA3], ok(&blk(0x03, &[0x90, 0x00]))),
    ]);
    assert_eq!(run(&mut l, &CMD).unwrap(), b"ab\x90\x00");
    l.frontend().finish();
}

#[test]
fn scenario_16_wtx_during_picc_chaining() {
    let mut l = link(vec![
        step(&blk(0x02, &CMD), ok(&blk(0x12, b"ab"))),
        step(&[0xA3], ok(&[0xF2, 0x01])),
        step(&[0xF2, 0x01], ok(&blk(0x03, &[0x90, 0x00]))),
    ]);
    assert_eq!(run(&mut l, &CMD).unwrap(), b"ab\x90\x00");
    l.frontend().finish();
}

#[test]
fn cid_is_sent_and_checked() {
    // CID 1: every block carries it; a block for CID 2 is invalid → R(NAK) with CID. The
    // PICC's power-level bits (0x40) in the CID byte are ignored.
    let mut l = IsoDep::new(
        ScriptedFrontend::new(vec![
            step(&[0x0A, 0x01, 0x00, 0xB0, 0, 0, 0], ok(&[0x0A, 0x02, 0x90, 0x00])),
            step(&[0xBA, 0x01], ok(&[0x0A, 0x41, 0x90, 0x00])),
            step(&[0x0B, 0x01, 0x00, 0xB0, 0, 0, 0], ok(&[0xFA, 0x01, 0x01])),
            step(&[0xFA, 0x01, 0x01], ok(&[0x0B, 0x01, 0x90, 0x00])),
            step(&[0xCA, 0x01], ok(&[0xCA, 0x01])),
        ]),
        params(256, Some(1)),
    );
    assert_eq!(run(&mut l, &CMD).unwrap(), [0x90, 0x00]);
    assert_eq!(l.stats().invalid_blocks, 1);
    assert_eq!(run(&mut l, &CMD).unwrap(), [0x90, 0x00]);
    l.deselect().unwrap();
    l.frontend().finish();
}

#[test]
fn missing_cid_is_invalid() {
    let mut l = IsoDep::new(
        ScriptedFrontend::new(vec![
            step(&[0x0A, 0x03, 0x00, 0xB0, 0, 0, 0], ok(&[0x02, 0x90, 0x00])),
            step(&[0xBA, 0x03], ok(&[0x0A, 0x03, 0x90, 0x00])),
        ]),
        params(256, Some(3)),
    );
    assert_eq!(run(&mut l, &CMD).unwrap(), [0x90, 0x00]);
    l.frontend().finish();
}

#[test]
fn nad_in_picc_block_is_skipped() {
    let mut l = link(vec![step(&blk(0x02, &CMD), ok(&[0x06, 0x21, 0x90, 0x00]))]);
    assert_eq!(run(&mut l, &CMD).unwrap(), [0x90, 0x00]);
}

#[test]
fn invalid_blocks_get_r_nak_then_give_up() {
    // Garbage PCB, R(NAK) from the PICC, WTXM 0, wrong block number: all invalid → R(NAK).
    let mut l = link(vec![
        step(&blk(0x02, &CMD), ok(&[0x42])),
        step(&[0xB2], ok(&[0xB2])),
        step(&[0xB2], ok(&[0xF2, 0x00])),
        step(&[0xB2], ok(&blk(0x03, &RESP))),
    ]);
    assert_eq!(run(&mut l, &CMD), Err(IsoDepError::Protocol(ProtocolError::BlockNumber)));
    l.frontend().finish();
    assert!(!l.is_active());
    assert_eq!(run(&mut l, &CMD), Err(IsoDepError::NotActive));
    // Re-activation starts over at block number 0.
    l.reactivate(params(256, None));
    assert!(!l.block_number());
}

#[test]
fn timeouts_exhaust_the_retry_limit() {
    let mut l = link(vec![
        step(&blk(0x02, &CMD), Err(Lost)),
        step(&[0xB2], Err(Lost)),
        step(&[0xB2], Err(Lost)),
        step(&[0xB2], Err(Lost)),
    ]);
    assert_eq!(run(&mut l, &CMD), Err(IsoDepError::NoResponse(Lost)));
    l.frontend().finish();
}

#[test]
fn retry_limit_is_configurable() {
    let mut steps = vec![step(&blk(0x02, &CMD), Err(Lost))];
    steps.extend((0..6).map(|_| step(&[0xB2], Err(Crc))));
    steps.push(step(&[0xB2], ok(&blk(0x02, &RESP))));
    let config = IsoDepConfig { max_retries: 7, ..IsoDepConfig::default() };
    let mut l = IsoDep::with_config(ScriptedFrontend::new(steps), params(256, None), config);
    assert_eq!(run(&mut l, &CMD).unwrap(), RESP);
    l.frontend().finish();
}

#[test]
fn endless_retransmission_requests_are_cut_off() {
    let mut steps = vec![step(&blk(0x02, &CMD), ok(&[0xA3]))];
    steps.extend((0..3).map(|_| step(&blk(0x02, &CMD), ok(&[0xA3]))));
    let mut l = link(steps);
    assert_eq!(run(&mut l, &CMD), Err(IsoDepError::RetransmissionLimit));
    l.frontend().finish();
}

#[test]
fn endless_wtx_is_cut_off_by_the_request_count() {
    // FWI 0: 64 extensions of WTXM 1 grant about 0.25 s, well inside the budget; the 65th
    // S(WTX) is one too many.
    let mut steps = vec![step(&blk(0x02, &CMD), ok(&[0xF2, 0x01]))];
    steps.extend((0..MAX_WTX).map(|_| step(&[0xF2, 0x01], ok(&[0xF2, 0x01]))));
    let fast = IsoDepParams { fwi: 0, ..params(256, None) };
    let mut l = IsoDep::new(ScriptedFrontend::new(steps), fast);
    assert_eq!(run(&mut l, &CMD), Err(IsoDepError::WtxLimit));
    l.frontend().finish();
    assert!(!l.is_active());
}

/// The largest extension one S(WTX) can grant: FWT(14) + ΔFWT.
fn max_extension() -> Timeout {
    FWT_MAX.saturating_add(FWT_DELTA)
}

#[test]
fn a_card_repeating_maximal_wtx_fails_the_exchange_once_the_budget_is_spent() {
    // I(0) → S(WTX)(59) ; S(WTX)(59) granted FWT(14) → S(WTX)(59) again: a second maximal
    // extension would pass 5 s, so it is not answered and the exchange fails.
    let mut l = link(vec![
        step(&blk(0x02, &CMD), ok(&[0xF2, 59])).with_timeout(fwt()),
        step(&[0xF2, 59], ok(&[0xF2, 59])).with_timeout(max_extension()),
    ]);
    assert_eq!(run(&mut l, &CMD), Err(IsoDepError::WtxLimit));
    l.frontend().finish();
    assert!(!l.is_active(), "a stalling card is given up");
    assert_eq!(run(&mut l, &CMD), Err(IsoDepError::NotActive));
}

#[test]
fn a_card_asking_for_a_few_wtx_within_the_budget_still_answers() {
    // FWI 10: three S(WTX) of WTXM 4 grant 3 × (4 × FWT + ΔFWT) ≈ 3.7 s, and the answer comes.
    let wtx4 = fwt_from_fwi(10).saturating_mul(4).saturating_add(FWT_DELTA);
    let mut l = link(vec![
        step(&blk(0x02, &CMD), ok(&[0xF2, 4])).with_timeout(fwt()),
        step(&[0xF2, 4], ok(&[0xF2, 4])).with_timeout(wtx4),
        step(&[0xF2, 4], ok(&[0xF2, 4])).with_timeout(wtx4),
        step(&[0xF2, 4], ok(&blk(0x02, &RESP))).with_timeout(wtx4),
        // The budget is per exchange: the next one starts afresh.
        step(&blk(0x03, &CMD), ok(&[0xF2, 59])).with_timeout(fwt()),
        step(&[0xF2, 59], ok(&blk(0x03, &RESP))).with_timeout(max_extension()),
    ]);
    assert_eq!(run(&mut l, &CMD).unwrap(), RESP);
    assert_eq!(run(&mut l, &CMD).unwrap(), RESP);
    l.frontend().finish();
    assert_eq!(l.stats().wtx, 4);
    assert!(l.is_active());
}

#[test]
fn a_card_with_fwi_14_gets_its_one_wtx() {
    // FWT(14) × 1 is already the cap: one S(WTX) is granted in full, a second one is refused.
    let slow = IsoDepParams { fwi: 14, ..params(256, None) };
    let script = |second: &[u8]| {
        vec![
            step(&blk(0x02, &CMD), ok(&[0xF2, 1])).with_timeout(max_extension()),
            step(&[0xF2, 1], ok(second)).with_timeout(max_extension()),
        ]
    };
    let mut l = IsoDep::new(ScriptedFrontend::new(script(&blk(0x02, &RESP))), slow);
    assert_eq!(run(&mut l, &CMD).unwrap(), RESP);
    l.frontend().finish();
    let mut l = IsoDep::new(ScriptedFrontend::new(script(&[0xF2, 1])), slow);
    assert_eq!(run(&mut l, &CMD), Err(IsoDepError::WtxLimit));
    l.frontend().finish();
}

#[test]
fn the_wtx_budget_is_configurable() {
    let config = IsoDepConfig { wtx_budget: Timeout::from_micros(1_000_000), ..IsoDepConfig::default() };
    let steps = vec![step(&blk(0x02, &CMD), ok(&[0xF2, 2])), step(&[0xF2, 2], ok(&[0xF2, 2]))];
    // 2 × (2 × 309 ms + ΔFWT) > 1 s.
    let mut l = IsoDep::with_config(ScriptedFrontend::new(steps), params(256, None), config);
    assert_eq!(run(&mut l, &CMD), Err(IsoDepError::WtxLimit));
    l.frontend().finish();
}

proptest::proptest! {
    /// Whatever FWI and WTXM a card that only ever asks for more time uses, the exchange fails
    /// with `WtxLimit` after waiting at most the first block's FWT and the WTX budget.
    #[test]
    fn a_card_that_only_asks_for_more_time_waits_at_most_fwt_and_the_budget(
        fwi in 0u8..=14,
        wtxm in 1u8..=59,
    ) {
        let picc = crate::nfc::testing::WtxStaller::new(wtxm);
        let mut l = IsoDep::new(picc, IsoDepParams { fwi, ..params(256, None) });
        let mut buf = [0u8; 64];
        proptest::prop_assert_eq!(l.exchange(&CMD, &mut buf), Err(IsoDepError::WtxLimit));
        let waited = l.frontend().total_fc();
        let first = fwt_from_fwi(fwi).saturating_add(FWT_DELTA).as_fc() as u64;
        proptest::prop_assert!(
            waited <= first + WTX_BUDGET.as_fc() as u64,
            "waited {} ms", waited / 13_560
        );
        proptest::prop_assert!(l.frontend().timeouts.len() <= 1 + MAX_WTX as usize);
        proptest::prop_assert!(!l.is_active());
    }
}

#[test]
fn hardware_fault_is_not_retried() {
    let mut l = link(vec![step(&blk(0x02, &CMD), Err(FrontendError::Hardware))]);
    assert_eq!(run(&mut l, &CMD), Err(IsoDepError::Frontend(FrontendError::Hardware)));
}

#[test]
fn response_overflow_drains_the_chain_and_keeps_the_link() {
    let mut l = link(vec![
        step(&blk(0x02, &CMD), ok(&blk(0x12, &[1; 200]))),
        step(&[0xA3], ok(&blk(0x03, &[2, 0x90, 0x00]))),
        step(&blk(0x02, &CMD), ok(&blk(0x02, &RESP))),
    ]);
    let mut small = [0u8; 100];
    assert_eq!(l.exchange(&CMD, &mut small), Err(IsoDepError::ResponseOverflow));
    assert!(l.is_active());
    assert_eq!(run(&mut l, &CMD).unwrap(), RESP);
    l.frontend().finish();
}

#[test]
fn parse_block_rejects_malformed_frames() {
    assert_eq!(parse_block(&[], None), Err(ProtocolError::Empty));
    assert_eq!(parse_block(&[0x0A], Some(1)), Err(ProtocolError::BadLength));
    assert_eq!(parse_block(&[0x06], None), Err(ProtocolError::BadLength));
    assert_eq!(parse_block(&[0xA2, 0x00], None), Err(ProtocolError::BadLength));
    assert_eq!(parse_block(&[0xF2], None), Err(ProtocolError::BadLength));
    assert_eq!(parse_block(&[0xF2, 60], None), Err(ProtocolError::BadWtxm));
    assert_eq!(parse_block(&[0xC2, 0x00], None), Err(ProtocolError::BadLength));
    assert_eq!(parse_block(&[0xE2], None), Err(ProtocolError::BadPcb(0xE2)));
    assert_eq!(parse_block(&[0x00], None), Err(ProtocolError::BadPcb(0x00)));
    assert_eq!(parse_block(&[0x22], None), Err(ProtocolError::BadPcb(0x22)));
    assert_eq!(parse_block(&[0x82], None), Err(ProtocolError::BadPcb(0x82)));
    assert_eq!(parse_block(&[0x0A, 0x05], Some(5)), Ok(Block::I { chaining: false, bn: false, inf: &[] }));
    assert_eq!(parse_block(&[0x0A, 0x35], Some(5)), Err(ProtocolError::CidMismatch));
    assert_eq!(parse_block(&[0xB3], None), Ok(Block::Nak { bn: true }));
    // A CID byte of 0 is tolerated when no CID is used.
    assert_eq!(parse_block(&[0xAA, 0x00], None), Ok(Block::Ack { bn: false }));
    assert_eq!(parse_block(&[0xAA, 0x01], None), Err(ProtocolError::CidMismatch));
    // Every possible 1- and 2-byte frame parses or fails without panicking.
    for a in 0..=255u8 {
        let _ = parse_block(&[a], None);
        for b in 0..=255u8 {
            let _ = parse_block(&[a, b], None);
            let _ = parse_block(&[a, b], Some(b & 0x0F));
        }
    }
}

/// The exact frames of a chained exchange: `cmd` in I-blocks of `fsc`, `resp` in I-blocks of
/// `picc_inf` bytes, starting at PCD block number `bn`.
fn chained_script(cmd: &[u8], resp: &[u8], fsc: usize, picc_inf: usize, mut bn: u8) -> Vec<Step> {
    let mut steps = Vec::new();
    let pcd_inf = fsc - 3;
    let pcd_chunks: Vec<&[u8]> = cmd.chunks(pcd_inf).collect();
    let resp_chunks: Vec<&[u8]> = resp.chunks(picc_inf).collect();
    for (i, c) in pcd_chunks.iter().enumerate() {
        let last = i + 1 == pcd_chunks.len();
        let pcb = if last { 0x02 } else { 0x12 } | bn;
        let reply = if last {
            let chain = if resp_chunks.len() > 1 { 0x10 } else { 0 };
            blk(0x02 | chain | bn, resp_chunks[0])
        } else {
            vec![0xA2 | bn]
        };
        steps.push(Step::exchange(&blk(pcb, c), Ok(&reply)));
        bn ^= 1;
    }
    for (i, c) in resp_chunks.iter().enumerate().skip(1) {
        let chain = if i + 1 < resp_chunks.len() { 0x10 } else { 0 };
        steps.push(Step::exchange(&[0xA2 | bn], Ok(&blk(0x02 | chain | bn, c))));
        bn ^= 1;
    }
    steps
}

fn big(len: usize, seed: u8) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
    v.extend_from_slice(&[0x90, 0x00]);
    v
}

#[test]
fn chaining_certificate_sized_response_fsc_256() {
    // A 1.6 KB certificate read as one extended READ BINARY: 253 bytes per PICC block.
    let resp = big(1600, 1);
    let cmd = [0x00, 0xB0, 0x00, 0x00, 0x00, 0x06, 0x40];
    let mut l = link(chained_script(&cmd, &resp, 256, 253, 0));
    assert_eq!(run(&mut l, &cmd).unwrap(), resp);
    l.frontend().finish();
    assert_eq!(l.frontend().done, 7);
}

#[test]
fn chaining_face_record_sized_response_fsc_256() {
    let resp = big(3000, 2);
    let cmd = [0x00, 0xB0, 0x00, 0x00, 0x00, 0x0B, 0xB8];
    let mut l = link(chained_script(&cmd, &resp, 256, 253, 0));
    assert_eq!(run(&mut l, &cmd).unwrap(), resp);
    l.frontend().finish();
}

#[test]
fn chaining_both_directions_with_small_fsc_32() {
    // A 600-byte command (e.g. an extended-length signature input) in 29-byte blocks, and a
    // 3 KB answer in small PICC blocks.
    let cmd = big(600, 3);
    let resp = big(3000, 4);
    let mut l = IsoDep::new(ScriptedFrontend::new(chained_script(&cmd, &resp, 32, 29, 0)), params(32, None));
    assert_eq!(l.max_inf(), 29);
    assert_eq!(run(&mut l, &cmd).unwrap(), resp);
    l.frontend().finish();
    // A second exchange continues with the toggled block number.
    let cert = big(1600, 5);
    let bn = l.block_number() as u8;
    *l.frontend_mut() = ScriptedFrontend::new(chained_script(&CMD, &cert, 32, 29, bn));
    assert_eq!(run(&mut l, &CMD).unwrap(), cert);
    l.frontend().finish();
}

#[test]
fn fsc_larger_than_our_buffer_is_clamped() {
    let l = IsoDep::new(ScriptedFrontend::new(vec![]), params(4096, Some(2)));
    assert_eq!(l.max_inf(), FSD - 2 - 2);
}

#[test]
fn apdu_transport_handles_get_response_over_iso_dep() {
    // 61xx over T=CL: the APDU layer fetches the rest and reassembles.
    let mut l = link(vec![
        step(&blk(0x02, &CMD), ok(&blk(0x02, &[1, 2, 0x61, 0x02]))),
        step(&blk(0x03, &[0x00, 0xC0, 0x00, 0x00, 0x02]), ok(&blk(0x03, &[3, 4, 0x90, 0x00]))),
    ]);
    let mut buf = [0u8; 16];
    let n = ApduTransport::transceive(&mut l, &CMD, &mut buf).unwrap();
    assert_eq!(&buf[..n], &[1, 2, 3, 4, 0x90, 0x00]);
    l.frontend().finish();
    let mut tiny = [0u8; 3];
    let mut l = link(vec![step(&blk(0x02, &CMD), ok(&blk(0x02, &RESP)))]);
    assert_eq!(ApduTransport::transceive(&mut l, &CMD, &mut tiny), Err(ApduError::Overflow));
}

#[test]
fn presence_check_with_r_nak() {
    let mut l = link(vec![
        step(&[0xB2], ok(&[0xA3])),
        step(&blk(0x02, &CMD), ok(&blk(0x02, &RESP))),
        step(&[0xB3], Err(Crc)),
        step(&[0xB3], ok(&[0xA2])),
        step(&[0xB3], Err(Lost)),
        step(&[0xB3], Err(Lost)),
        step(&[0xB3], Err(Lost)),
        step(&[0xB3], Err(Lost)),
    ]);
    assert_eq!(l.presence_check(), Ok(true));
    assert_eq!(run(&mut l, &CMD).unwrap(), RESP);
    assert_eq!(l.presence_check(), Ok(true));
    assert_eq!(l.presence_check(), Ok(false));
    l.frontend().finish();
    assert_eq!(l.presence_check(), Err(IsoDepError::NotActive));
}

#[test]
fn ram_footprint_of_the_link() {
    // Two frame buffers of FSD plus the protocol and exchange state, whatever the frontend.
    let size = size_of::<IsoDep<()>>();
    assert!(size <= 2 * FSD + 128, "{size}");
}

/// A PICC answering with random frames and errors (biased towards plausible PCBs).
struct RandomPicc(u64);

impl RandomPicc {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl NfcFrontend for RandomPicc {
    fn field_on(&mut self) -> Result<(), FrontendError> {
        Ok(())
    }
    fn field_off(&mut self) -> Result<(), FrontendError> {
        Ok(())
    }
    fn configure(
        &mut self,
        _: crate::nfc::Technology,
        _: crate::nfc::BitRate,
        _: crate::nfc::BitRate,
    ) -> Result<(), FrontendError> {
        Ok(())
    }
    fn transceive(&mut self, _tx: &[u8], rx: &mut [u8], _: Timeout) -> Result<usize, FrontendError> {
        let r = self.next();
        match r % 8 {
            0 => return Err(Lost),
            1 => return Err(Crc),
            _ => {}
        }
        const PCBS: [u8; 12] = [0x02, 0x03, 0x12, 0x13, 0xA2, 0xA3, 0xB2, 0xF2, 0xC2, 0x0A, 0x06, 0x00];
        let len = (r >> 8) as usize % 300;
        for b in rx.iter_mut().take(len) {
            *b = self.next() as u8;
        }
        if len > 0 && !(r >> 20).is_multiple_of(4) {
            rx[0] = PCBS[(r >> 24) as usize % PCBS.len()];
        }
        // Sometimes claim more bytes than the buffer holds (a broken driver).
        if (r >> 40).is_multiple_of(97) {
            return Ok(rx.len() + 1);
        }
        if len > rx.len() {
            return Err(FrontendError::Overflow);
        }
        Ok(len)
    }
}

#[test]
fn random_picc_never_panics_and_always_terminates() {
    for seed in 0..200u64 {
        let mut l =
            IsoDep::new(RandomPicc(seed), params(if seed.is_multiple_of(2) { 32 } else { 256 }, None));
        let mut buf = [0u8; 600];
        let cmd: Vec<u8> = (0..(seed as usize * 7) % 700).map(|i| i as u8).collect();
        for _ in 0..20 {
            if l.exchange(&cmd, &mut buf).is_err() && !l.is_active() {
                l.reactivate(params(64, if seed.is_multiple_of(3) { Some(1) } else { None }));
            }
            let _ = l.presence_check();
            if !l.is_active() {
                l.reactivate(params(64, None));
            }
            let _ = ApduTransport::transceive(&mut l, &CMD, &mut buf);
            if !l.is_active() {
                l.reactivate(params(16, None));
            }
            let _ = l.deselect();
            l.reactivate(params(256, Some(2)));
        }
    }
}

#[test]
fn sans_io_core_drives_an_exchange_step_by_step() {
    // The same chained exchange as scenario 4, driven by hand as an async driver would.
    let mut core = IsoDepCore::new(params(16, None), IsoDepConfig::default());
    let cmd: Vec<u8> = (0..20).collect();
    let mut resp = [0u8; 16];
    core.begin(&cmd).unwrap();
    let (tx, rx, timeout) = core.io();
    assert_eq!(tx, &blk(0x12, &cmd[..13])[..]);
    assert_eq!(timeout, fwt());
    rx[0] = 0xA2;
    assert_eq!(core.on_received(Ok(1), &cmd, &mut resp), Ok(Poll::Transmit));
    let (tx, rx, _) = core.io();
    assert_eq!(tx, &blk(0x03, &cmd[13..])[..]);
    rx[..3].copy_from_slice(&[0x03, 0x90, 0x00]);
    assert_eq!(core.on_received(Ok(3), &cmd, &mut resp), Ok(Poll::Done(2)));
    assert_eq!(&resp[..2], &[0x90, 0x00]);
    // Out of order use is a typed error, not a panic.
    assert_eq!(core.on_received(Ok(0), &cmd, &mut resp), Err(IsoDepError::Misuse));
    core.begin(&cmd).unwrap();
    assert_eq!(core.on_received(Ok(0), &cmd[..3], &mut resp), Err(IsoDepError::Misuse));
}
