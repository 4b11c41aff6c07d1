//! The store on a RAM flash with the board's geometry: 32-byte words each programmable once
//! between erases, writes that may only clear bits, erase counts per sector, and a power cut
//! after the N-th word program or sector erase (the cut word is half programmed and may be
//! programmed again, the cut sector half erased, and nothing after the cut reaches the flash).

use super::*;
use crate::ram::{RamFlash, SECTOR, SECTORS, WORD};

const RANGE: Range<u32> = 0..(SECTOR * SECTORS) as u32;

fn open(flash: RamFlash) -> Store<RamFlash> {
    Store::new(flash, RANGE).expect("the test range is valid")
}

fn account(name: &str, n: u8) -> PasscodeRecord {
    PasscodeRecord {
        account: heapless::String::try_from(name).expect("short name"),
        salt: [n; 16],
        iterations: 1000 + u32::from(n),
        hash: [n ^ 0x5a; 32],
    }
}

/// A pending result as an owned value: session, seq, message type, payload.
type Entry = (u32, u32, u8, Vec<u8>);

/// The pending results as owned values, in the order the store gives them.
fn pending(s: &mut Store<RamFlash>) -> Result<Vec<Entry>, StoreError> {
    let mut all = Vec::new();
    s.for_each_pending(|p| all.push((p.session, p.seq, p.msg_type, p.payload.to_vec())))?;
    Ok(all)
}

fn payload(seed: u32, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(31).wrapping_add(seed.wrapping_mul(7)) as u8).collect()
}

fn push(s: &mut Store<RamFlash>, session: u32, seq: u32, body: &[u8]) -> Result<(), StoreError> {
    s.push_pending(&PendingRef { session, seq, msg_type: 0x40 | (seq as u8 & 0xf), payload: body })
}

fn entry(session: u32, seq: u32, body: &[u8]) -> Entry {
    (session, seq, 0x40 | (seq as u8 & 0xf), body.to_vec())
}

/// Everything that is not the record under test, read back whole.
#[derive(Debug, PartialEq)]
struct Snapshot {
    key: Option<[u8; 32]>,
    passcodes: Vec<PasscodeRecord>,
    lockout: Lockout,
    pending: Vec<Entry>,
}

fn snapshot(s: &mut Store<RamFlash>) -> Snapshot {
    Snapshot {
        key: s.pairing_key().expect("key reads"),
        passcodes: s.passcodes().expect("passcodes read").to_vec(),
        lockout: s.lockout().expect("lockout reads"),
        pending: pending(s).expect("pending reads"),
    }
}

#[test]
fn a_fresh_store_reads_as_defaults() {
    let mut s = open(RamFlash::new());
    assert_eq!(
        snapshot(&mut s),
        Snapshot { key: None, passcodes: vec![], lockout: Lockout { failures: 0 }, pending: vec![] }
    );
}

#[test]
fn every_record_survives_a_reboot() {
    let mut s = open(RamFlash::new());
    s.set_pairing_key(Some(&[0x3c; 32])).unwrap();
    let accounts = [account("staff-01", 1), account("受付", 2), account(&"x".repeat(32), 3)];
    s.set_passcodes(&accounts).unwrap();
    s.set_lockout(Lockout { failures: 3 }).unwrap();
    let big = payload(1, MAX_PAYLOAD);
    push(&mut s, 7, 1, &big).unwrap();
    push(&mut s, 7, 2, &[]).unwrap();
    let before = snapshot(&mut s);
    let mut s = open(s.into_flash().rebooted());
    assert_eq!(snapshot(&mut s), before);
    assert_eq!(before.key, Some([0x3c; 32]));
    assert_eq!(before.passcodes, accounts);
    assert_eq!(before.lockout, Lockout { failures: 3 });
    assert_eq!(before.pending, vec![entry(7, 1, &big), entry(7, 2, &[])]);
}

#[test]
fn the_pairing_key_and_the_passcodes_can_be_forgotten() {
    let mut s = open(RamFlash::new());
    s.set_pairing_key(Some(&[1; 32])).unwrap();
    s.set_passcodes(&[account("a", 1)]).unwrap();
    s.set_pairing_key(None).unwrap();
    s.set_passcodes(&[]).unwrap();
    let mut s = open(s.into_flash().rebooted());
    assert_eq!(s.pairing_key().unwrap(), None);
    assert!(s.passcodes().unwrap().is_empty());
}

#[test]
fn pending_results_come_back_in_push_order_and_any_one_can_be_removed() {
    let mut s = open(RamFlash::new());
    let bodies: Vec<Vec<u8>> = (0..8).map(|i| payload(i, 100 * i as usize)).collect();
    for (i, b) in bodies.iter().enumerate() {
        push(&mut s, 1, i as u32, b).unwrap();
    }
    assert_eq!(push(&mut s, 1, 99, &[1]), Err(StoreError::OutboxFull));
    // Not the oldest: the fourth and the last.
    assert!(s.remove_pending(1, 3).unwrap());
    assert!(s.remove_pending(1, 7).unwrap());
    assert!(!s.remove_pending(1, 3).unwrap(), "already gone");
    assert!(!s.remove_pending(2, 0).unwrap(), "never there");
    // New ones go after the ones still there, whatever slot they take.
    push(&mut s, 2, 0, &[9]).unwrap();
    push(&mut s, 2, 1, &[8]).unwrap();
    let mut want: Vec<_> = [0, 1, 2, 4, 5, 6].iter().map(|&i| entry(1, i, &bodies[i as usize])).collect();
    want.push(entry(2, 0, &[9]));
    want.push(entry(2, 1, &[8]));
    assert_eq!(pending(&mut s).unwrap(), want);
    let mut s = open(s.into_flash().rebooted());
    assert_eq!(pending(&mut s).unwrap(), want);
    for (session, seq, _, _) in &want {
        assert!(s.remove_pending(*session, *seq).unwrap());
    }
    assert!(pending(&mut s).unwrap().is_empty());
}

#[test]
fn pushing_the_same_result_again_replaces_it_in_its_place() {
    let mut s = open(RamFlash::new());
    push(&mut s, 1, 1, &[1]).unwrap();
    push(&mut s, 1, 2, &[2]).unwrap();
    push(&mut s, 1, 1, &[3, 3]).unwrap();
    assert_eq!(pending(&mut s).unwrap(), vec![entry(1, 1, &[3, 3]), entry(1, 2, &[2])]);
}

#[test]
fn oversized_inputs_are_refused_with_a_typed_error() {
    let mut s = open(RamFlash::new());
    let big = payload(0, MAX_PAYLOAD + 1);
    assert_eq!(push(&mut s, 1, 1, &big), Err(StoreError::PayloadTooLarge));
    let nine: Vec<_> = (0..9).map(|i| account("s", i)).collect();
    assert_eq!(s.set_passcodes(&nine), Err(StoreError::TooManyPasscodes));
    s.set_passcodes(&nine[..8]).unwrap();
    assert_eq!(s.passcodes().unwrap().len(), 8);
    assert!(pending(&mut s).unwrap().is_empty());
}

#[test]
fn a_range_that_cannot_hold_the_store_is_refused() {
    let s = SECTOR as u32;
    for bad in [0..s, 1..2 * s + 1, 0..2 * s + 4, 0..(SECTORS as u32 + 1) * s] {
        assert!(matches!(Store::new(RamFlash::new(), bad.clone()), Err(StoreError::BadRange)), "{bad:?}");
    }
    assert!(Store::new(RamFlash::new(), s..3 * s).is_ok());
}

#[test]
fn the_working_buffer_holds_no_secret_after_an_operation() {
    let mut s = open(RamFlash::new());
    let key = [0xa5; 32];
    s.set_pairing_key(Some(&key)).unwrap();
    assert!(s.buf.0.iter().all(|&b| b == 0), "after the write");
    assert_eq!(s.pairing_key().unwrap(), Some(key));
    assert!(s.buf.0.iter().all(|&b| b == 0), "after the read");
    s.set_passcodes(&[account("a", 7)]).unwrap();
    assert_eq!(s.passcodes().unwrap().len(), 1);
    assert!(s.buf.0.iter().all(|&b| b == 0), "after the passcodes");
}

#[test]
fn the_store_keeps_working_after_ten_times_its_size_was_written_and_wears_every_sector_evenly() {
    let mut s = open(RamFlash::new());
    let accounts = [account("staff-01", 1), account("staff-02", 2)];
    s.set_passcodes(&accounts).unwrap();
    let size = (SECTOR * SECTORS) as u64;
    let mut round = 0u32;
    while s.flash.words_written * WORD as u64 <= 10 * size {
        round += 1;
        let key = [round as u8; 32];
        s.set_pairing_key(Some(&key)).unwrap();
        s.set_lockout(Lockout { failures: round as u8 }).unwrap();
        let body = payload(round, 1000 + (round as usize * 37) % 2000);
        push(&mut s, round, 0, &body).unwrap();
        // Keep up to four results outstanding, dropping the oldest.
        if round > 4 {
            assert!(s.remove_pending(round - 4, 0).unwrap(), "round {round}");
        }
        assert_eq!(s.pairing_key().unwrap(), Some(key), "round {round}");
        assert_eq!(pending(&mut s).unwrap().last(), Some(&entry(round, 0, &body)));
    }
    let mut s = open(s.into_flash().rebooted());
    assert_eq!(s.passcodes().unwrap().as_slice(), &accounts);
    assert_eq!(s.lockout().unwrap(), Lockout { failures: round as u8 });
    let seqs: Vec<u32> = pending(&mut s).unwrap().iter().map(|e| e.0).collect();
    assert_eq!(seqs, (round - 3..=round).collect::<Vec<_>>());
    let erases = &s.flash.erases;
    let (min, max) = (erases.iter().min().unwrap(), erases.iter().max().unwrap());
    assert!(*min >= 5 && max - min <= 1, "erases per sector: {erases:?}");
}

/// What the cut operation did, as seen after the reboot.
#[derive(Debug, PartialEq)]
enum Seen {
    Old,
    New,
}

/// Cuts the power at every step of `op` on `base` in turn (the N-th word program or sector
/// erase, N = 0, 1, …) until `op` completes. After each cut the store is reopened on the same
/// flash: `seen` must find the old or the new state (and panics on anything else), and the
/// operation done again must then succeed. Returns how many cuts left the old and the new
/// state, and whether any cut fell in an erase (a sector being reclaimed).
fn cut_everywhere(
    base: &RamFlash,
    op: impl Fn(&mut Store<RamFlash>) -> Result<(), StoreError>,
    seen: impl Fn(&mut Store<RamFlash>) -> Seen,
) -> (usize, usize, bool) {
    let (mut old, mut new, mut cut_in_erase) = (0, 0, false);
    for n in 0.. {
        let mut flash = base.clone();
        flash.budget = Some(n);
        let mut s = open(flash);
        let result = op(&mut s);
        let flash = s.into_flash();
        if !flash.cut {
            result.unwrap_or_else(|e| panic!("uncut operation failed: {e}"));
            assert_eq!(seen(&mut open(flash.rebooted())), Seen::New, "uncut");
            return (old, new, cut_in_erase);
        }
        assert!(result.is_err(), "cut {n}: the operation cannot have succeeded");
        cut_in_erase |= flash.erases != base.erases
            || flash
                .bytes
                .chunks(SECTOR)
                .zip(base.bytes.chunks(SECTOR))
                .any(|(a, b)| a.iter().zip(b).any(|(x, y)| x & !y != 0));
        let mut s = open(flash.rebooted());
        match seen(&mut s) {
            Seen::Old => old += 1,
            Seen::New => new += 1,
        }
        op(&mut s).unwrap_or_else(|e| panic!("cut {n}: the operation again after reboot: {e}"));
        assert_eq!(seen(&mut s), Seen::New, "cut {n}: done again");
        assert_eq!(seen(&mut open(s.into_flash().rebooted())), Seen::New, "cut {n}: reboot");
    }
    unreachable!()
}

/// A store holding a bit of everything, then after each of `fills` rounds of more writes
/// (so that the cut operations meet a sector about to be reclaimed at some fill levels): the
/// flash after 0, 1, … `fills` rounds.
fn busy_stores(fills: u32) -> Vec<RamFlash> {
    let mut s = open(RamFlash::new());
    s.set_passcodes(&[account("staff-01", 1), account("staff-02", 2)]).unwrap();
    s.set_lockout(Lockout { failures: 2 }).unwrap();
    push(&mut s, 1, 1, &payload(1, 3000)).unwrap();
    push(&mut s, 1, 2, &payload(2, 10)).unwrap();
    push(&mut s, 1, 3, &payload(3, 2000)).unwrap();
    s.set_pairing_key(Some(&[0x11; 32])).unwrap();
    let mut states = vec![s.flash.clone()];
    for i in 0..fills {
        push(&mut s, 9, i, &payload(i, 2500)).unwrap();
        assert!(s.remove_pending(9, i).unwrap());
        s.set_pairing_key(Some(&[i as u8; 32])).unwrap();
        states.push(s.flash.clone());
        // Small steps too, so that a small write meets a full sector at some level.
        for f in 0..8 {
            s.set_lockout(Lockout { failures: f }).unwrap();
            states.push(s.flash.clone());
        }
    }
    states
}

/// The store with no sector reclaimed yet, and the first two fill levels at which `op`
/// reclaims a sector.
fn stores_to_cut(op: &dyn Fn(&mut Store<RamFlash>) -> Result<(), StoreError>) -> Vec<RamFlash> {
    let states = busy_stores(40);
    let mut picked = vec![states[0].clone()];
    for base in states {
        if picked.len() == 3 {
            break;
        }
        let mut s = open(base.clone());
        op(&mut s).unwrap();
        if s.flash.erases != base.erases {
            picked.push(base);
        }
    }
    // Too few is caught after the cuts: no cut fell in a reclaim.
    picked
}

fn check_power_cuts(
    op: impl Fn(&mut Store<RamFlash>) -> Result<(), StoreError>,
    seen: impl Fn(&mut Store<RamFlash>, &Snapshot) -> Seen,
) {
    let mut any_erase_cut = false;
    for (fill, base) in stores_to_cut(&op).into_iter().enumerate() {
        let before = snapshot(&mut open(base.clone()));
        let (old, new, erase_cut) = cut_everywhere(&base, &op, |s| seen(s, &before));
        assert!(old > 0, "fill {fill}: no cut left the old state");
        assert!(old + new > 0, "fill {fill}: no cut at all");
        any_erase_cut |= erase_cut;
    }
    assert!(any_erase_cut, "no cut fell while a sector was being reclaimed");
}

#[test]
fn a_power_cut_during_a_key_write_leaves_the_old_or_the_new_key() {
    let new_key = [0x77; 32];
    check_power_cuts(
        |s| s.set_pairing_key(Some(&new_key)),
        |s, before| {
            let now = snapshot(s);
            let others = Snapshot { key: before.key, ..now };
            assert_eq!(&others, before, "the other records");
            match now.key {
                k if k == before.key => Seen::Old,
                Some(k) if k == new_key => Seen::New,
                k => panic!("key is neither old nor new: {k:?}"),
            }
        },
    );
}

#[test]
fn a_power_cut_while_pushing_a_result_leaves_the_outbox_without_or_with_it() {
    let body = payload(42, MAX_PAYLOAD);
    check_power_cuts(
        |s| push(s, 5, 6, &body),
        |s, before| {
            let now = snapshot(s);
            let mut with = before.pending.clone();
            with.push(entry(5, 6, &body));
            assert_eq!(Snapshot { pending: before.pending.clone(), ..now }, *before);
            match now.pending {
                p if p == before.pending => Seen::Old,
                p if p == with => Seen::New,
                p => panic!("outbox is neither before nor after: {} entries", p.len()),
            }
        },
    );
}

#[test]
fn a_power_cut_while_removing_a_result_leaves_it_there_or_gone() {
    check_power_cuts(
        |s| s.remove_pending(1, 2).map(|_| ()),
        |s, before| {
            let now = snapshot(s);
            let without: Vec<_> = before.pending.iter().filter(|e| (e.0, e.1) != (1, 2)).cloned().collect();
            assert_eq!(Snapshot { pending: before.pending.clone(), ..now }, *before);
            match now.pending {
                p if p == before.pending => Seen::Old,
                p if p == without => Seen::New,
                p => panic!("outbox is neither before nor after: {} entries", p.len()),
            }
        },
    );
}

#[test]
fn a_power_cut_while_replacing_the_passcodes_leaves_the_old_or_the_new_list() {
    let new = [account("staff-09", 9)];
    check_power_cuts(
        |s| s.set_passcodes(&new),
        |s, before| {
            let now = snapshot(s);
            assert_eq!(Snapshot { passcodes: before.passcodes.clone(), ..now }, *before);
            match now.passcodes {
                p if p == before.passcodes => Seen::Old,
                p if p == new => Seen::New,
                p => panic!("passcodes are neither old nor new: {p:?}"),
            }
        },
    );
}

/// A tiny deterministic generator for the garbage tests.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Every operation on `s`: each may fail with a typed error but none may panic; afterwards an
/// erase gives back a working store.
fn exercise(mut s: Store<RamFlash>) {
    let _ = s.pairing_key();
    let _ = s.passcodes();
    let _ = s.lockout();
    let _ = pending(&mut s);
    let _ = s.set_pairing_key(Some(&[1; 32]));
    let _ = push(&mut s, 1, 1, &[1, 2, 3]);
    let _ = s.remove_pending(1, 1);
    s.erase_all().unwrap();
    s.set_pairing_key(Some(&[2; 32])).unwrap();
    assert_eq!(s.pairing_key().unwrap(), Some([2; 32]));
}

#[test]
fn a_region_full_of_garbage_gives_typed_errors_or_recovers_never_a_panic() {
    for seed in 1..=20u64 {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut flash = RamFlash::new();
        for b in &mut flash.bytes {
            *b = xorshift(&mut state) as u8;
        }
        flash.programmed.fill(true);
        exercise(open(flash));
    }
}

#[test]
fn bit_flips_in_a_used_store_give_typed_errors_or_recover_never_a_panic() {
    let base = busy_stores(12).pop().unwrap();
    let used: Vec<usize> = (0..base.bytes.len()).filter(|&i| base.bytes[i] != 0xff).collect();
    assert!(used.len() > 1000);
    let mut state = 7u64;
    for _ in 0..300 {
        let mut flash = base.rebooted();
        for _ in 0..1 + xorshift(&mut state) % 4 {
            let at = used[xorshift(&mut state) as usize % used.len()];
            flash.bytes[at] ^= 1 << (xorshift(&mut state) % 8);
        }
        exercise(open(flash));
    }
}

#[test]
fn a_damaged_newest_key_falls_back_to_the_one_before_never_to_garbage() {
    let mut s = open(RamFlash::new());
    s.set_pairing_key(Some(&[0x11; 32])).unwrap();
    s.set_pairing_key(Some(&[0x22; 32])).unwrap();
    let mut flash = s.into_flash().rebooted();
    let newest = flash.bytes.windows(32).rposition(|w| w == [0x22; 32]).expect("stored in clear");
    flash.bytes[newest + 5] ^= 0x10;
    let mut s = open(flash);
    assert_eq!(s.pairing_key().unwrap(), Some([0x11; 32]));
}

#[test]
fn a_record_of_an_unknown_version_is_a_typed_error_and_leaves_the_others() {
    let mut s = open(RamFlash::new());
    s.set_pairing_key(Some(&[0x33; 32])).unwrap();
    push(&mut s, 1, 1, &[1]).unwrap();
    s.put(KEY_LOCKOUT, &Put::Raw(&[FORMAT_VERSION + 1, 4])).unwrap();
    s.put(KEY_PASSCODES, &Put::Raw(&[FORMAT_VERSION, 200])).unwrap();
    let mut s = open(s.into_flash().rebooted());
    assert_eq!(s.lockout(), Err(StoreError::UnsupportedVersion(FORMAT_VERSION + 1)));
    assert_eq!(s.passcodes(), Err(StoreError::Malformed));
    assert_eq!(s.pairing_key().unwrap(), Some([0x33; 32]));
    assert_eq!(pending(&mut s).unwrap(), vec![entry(1, 1, &[1])]);
    // Writing the record anew repairs it.
    s.set_lockout(Lockout { failures: 1 }).unwrap();
    assert_eq!(s.lockout(), Ok(Lockout { failures: 1 }));
}
