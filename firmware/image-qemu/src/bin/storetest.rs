//! The persistent store ([`shikaku_store`]) on the QEMU image's emulated flash (a file on the
//! host through semihosting), run once per "boot" by `hil-tests/tests/qemu_store.rs`. The
//! command is the last word of the semihosting command line
//! (`-semihosting-config enable=on,target=native,arg=storetest,arg=COMMAND`):
//!
//! * `write`: stores the pairing key, the lock-out counter and three pending results;
//! * `read`: reads them back, prints them and exits 0 only when they are what `write` stored
//!   (the key may be any churned one, see below) and the outbox holds no stray entry;
//! * `churn`: rewrites the key and pushes/removes a fourth result round after round, printing
//!   `round N` after each, until QEMU is killed (a power cut somewhere in a write).
//!
//! Exit status through semihosting: 0 = as expected, 1 = not.
#![no_std]
#![no_main]

#[path = "../flash.rs"]
mod flash;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprint, hprintln, nr, syscall1};
use shikaku_store::{Lockout, PendingRef, Store, StoreError};

use flash::SemihostFlash;

const KEY: [u8; 32] = [0x3c; 32];
const SESSION: u32 = 7;
const LENGTHS: [usize; 3] = [100, 1000, 3072];
const CHURN_SESSION: u32 = 100;

fn payload(seq: u32, len: usize) -> impl Iterator<Item = u8> {
    (0..len).map(move |i| (i as u32).wrapping_mul(13).wrapping_add(seq) as u8)
}

/// The command: the last word of the semihosting command line.
fn command(buf: &mut [u8; 128]) -> &[u8] {
    let mut block = [buf.as_mut_ptr() as usize, buf.len()];
    // SAFETY: SYS_GET_CMDLINE writes at most `len` bytes into our buffer and the length it
    // wrote back into the block, which is ours and mutable.
    let failed = unsafe { syscall1(nr::GET_CMDLINE, block.as_mut_ptr() as usize) } != 0;
    if failed {
        return &[];
    }
    let line = &buf[..block[1].min(buf.len())];
    let line = line.split(|&b| b == 0).next().unwrap_or(&[]);
    line.split(|&b| b == b' ').rfind(|w| !w.is_empty()).unwrap_or(&[])
}

fn write(store: &mut Store<SemihostFlash>) -> Result<bool, StoreError> {
    store.set_pairing_key(Some(&KEY))?;
    store.set_lockout(Lockout { failures: 3 })?;
    let mut body = [0u8; 3072];
    for (i, &len) in LENGTHS.iter().enumerate() {
        let seq = i as u32 + 1;
        for (b, v) in body.iter_mut().zip(payload(seq, len)) {
            *b = v;
        }
        store.push_pending(&PendingRef {
            session: SESSION,
            seq,
            msg_type: 0x30 + seq as u8,
            payload: &body[..len],
        })?;
    }
    hprintln!("wrote key, lockout 3, 3 pending");
    Ok(true)
}

fn read(store: &mut Store<SemihostFlash>) -> Result<bool, StoreError> {
    let mut ok = true;
    match store.pairing_key()? {
        // `write`'s key, or one of `churn`'s (a whole key, never a mix).
        Some(k) if k.iter().all(|&b| b == k[0]) => hprintln!("key {:02x} x32", k[0]),
        Some(_) => {
            hprintln!("key mixed");
            ok = false;
        }
        None => {
            hprintln!("key none");
            ok = false;
        }
    }
    let lockout = store.lockout()?;
    hprintln!("lockout {}", lockout.failures);
    ok &= lockout.failures == 3;
    let mut next = 1u32;
    let mut churned = 0;
    store.for_each_pending(|p| {
        let sum = p.payload.iter().fold(0u32, |s, &b| s.wrapping_mul(31).wrapping_add(b as u32));
        hprintln!(
            "pending session {} seq {} type {:#04x} len {} sum {:08x}",
            p.session,
            p.seq,
            p.msg_type,
            p.payload.len(),
            sum
        );
        if p.session == SESSION {
            let len = LENGTHS.get(next as usize - 1).copied().unwrap_or(0);
            ok &= p.seq == next
                && p.msg_type == 0x30 + next as u8
                && p.payload.len() == len
                && p.payload.iter().copied().eq(payload(next, len));
            next += 1;
        } else if p.session == CHURN_SESSION {
            churned += 1;
            ok &= p.payload.len() == 2000 && p.payload.iter().copied().eq(payload(p.seq, 2000));
        } else {
            ok = false;
        }
    })?;
    // The three written ones in order; of the churn, the last pushed and perhaps the one
    // before it (cut between the push and the removal).
    ok &= next == 4 && churned <= 2;
    hprintln!("pending written {} churned {}", next - 1, churned);
    Ok(ok)
}

fn churn(store: &mut Store<SemihostFlash>) -> Result<bool, StoreError> {
    let mut body = [0u8; 2000];
    let mut round = 0u32;
    // Go on from where the last run stopped: the round after the newest churned result.
    store.for_each_pending(|p| {
        if p.session == CHURN_SESSION {
            round = round.max(p.seq);
        }
    })?;
    loop {
        round += 1;
        store.set_pairing_key(Some(&[round as u8; 32]))?;
        for (b, v) in body.iter_mut().zip(payload(round, 2000)) {
            *b = v;
        }
        store.push_pending(&PendingRef {
            session: CHURN_SESSION,
            seq: round,
            msg_type: 0x50,
            payload: &body,
        })?;
        store.remove_pending(CHURN_SESSION, round.wrapping_sub(1))?;
        hprintln!("round {}", round);
    }
}

#[entry]
fn main() -> ! {
    let mut line = [0u8; 128];
    let cmd = command(&mut line);
    let result = SemihostFlash::open()
        .map_err(|e| hprintln!("flash: {:?}", e))
        .and_then(|f| Store::new(f, 0..flash::CAPACITY as u32).map_err(|e| hprintln!("store: {}", e)))
        .and_then(|mut store| {
            let run = match cmd {
                b"write" => write(&mut store),
                b"read" => read(&mut store),
                b"churn" => churn(&mut store),
                _ => {
                    hprint!("unknown command: ");
                    for &b in cmd {
                        hprint!("{}", b as char);
                    }
                    hprintln!("");
                    Ok(false)
                }
            };
            run.map_err(|e| hprintln!("store: {}", e))
        });
    let ok = result == Ok(true);
    hprintln!("storetest {}", if ok { "ok" } else { "FAILED" });
    debug::exit(if ok { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
