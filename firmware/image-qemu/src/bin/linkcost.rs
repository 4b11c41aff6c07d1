//! The cost of sealing and opening link frames on the Cortex-M4 under QEMU: instructions per
//! frame, counted with QEMU's `-icount shift=0` (one instruction = 1 ns of virtual time, and
//! SysTick runs on the 25 MHz core clock, so one tick = 40 instructions), for the frames a
//! reception sends (a 32-byte status, a 1.6 KB verified identity, the 3 KB maximum), split into
//! the AEAD alone (ChaCha20-Poly1305 over header and payload) and the whole frame (encode,
//! CRCs, seal; deframe, open, decode). Printed through semihosting as `linkcost|…` lines;
//! `scripts/link-cost.sh` runs it and writes the table.
//!
//! `qemu-system-arm -machine mps2-an386 -icount shift=0 -nographic -semihosting-config
//! enable=on,target=native -kernel shikaku-linkcost`
#![no_std]
#![no_main]

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use shikaku_protocol::auth::{LinkKeys, Opener, PairingKey, Sealer};
use shikaku_protocol::frame::{Frame, Seal, HEADER_LEN};
use shikaku_protocol::link::{Link, Role};
use shikaku_protocol::message::{
    AuthMethod, CardKind, CertExpiry, Consents, Message, Proof, VerifiedIdentity,
};
use shikaku_protocol::{MAX_FRAME, MAX_PAYLOAD};

/// Instructions per SysTick tick at `-icount shift=0` with the 25 MHz core clock.
const INSN_PER_TICK: u32 = 40;
const ROUNDS: u32 = 8;

static mut FRAME: [u8; MAX_FRAME] = [0; MAX_FRAME];
static mut COPY: [u8; MAX_FRAME] = [0; MAX_FRAME];

fn ticks(syst: &SYST, f: impl FnOnce()) -> u32 {
    let start = SYST::get_current();
    f();
    let end = SYST::get_current();
    let _ = syst;
    // A down-counter from 0xFFFFFF; one measurement stays well inside one period.
    start.wrapping_sub(end) & 0x00FF_FFFF
}

#[entry]
fn main() -> ! {
    let Some(mut cp) = cortex_m::Peripherals::take() else { loop {} };
    cp.SYST.set_clock_source(SystClkSource::Core);
    cp.SYST.set_reload(0x00FF_FFFF);
    cp.SYST.clear_current();
    cp.SYST.enable_counter();
    let syst = &cp.SYST;

    // Calibration: a loop of exactly two instructions per turn (subs, bne), 100 000 turns.
    let cal = ticks(syst, || {
        // SAFETY: only r0 is used, declared as clobbered.
        unsafe {
            core::arch::asm!("2:", "subs {0}, #1", "bne 2b", inout(reg) 100_000u32 => _, options(nomem, nostack));
        }
    });
    hprintln!("linkcost|calibration|200000|{}", cal * INSN_PER_TICK);

    let keys = LinkKeys::derive(&PairingKey([7; 32]), &[1; 16], &[2; 16]);
    // SAFETY: single-threaded, no interrupts touch these buffers.
    let (frame, copy) = unsafe { (&mut *core::ptr::addr_of_mut!(FRAME), &mut *core::ptr::addr_of_mut!(COPY)) };

    let cert = [0x30u8; 1590];
    let sig = [0x5Au8; 256];
    let identity = Message::VerifiedIdentity(VerifiedIdentity {
        auth_cert: &cert,
        proof: Proof::CardSignature { challenge: [1; 32], signature: &sig },
        method: AuthMethod::Pin,
        card_kind: CardKind::PhysicalCard,
        consents: Consents::NONE,
        staff_account: None,
        registration: false,
        cert_expiry: CertExpiry::DaysLeft(300),
        card_detected_at: 1,
        verified_at: 2,
    });
    let big = [0x42u8; MAX_PAYLOAD - 3];
    let max = Message::CertificateRead { auth_cert: &big[..MAX_PAYLOAD - 3] };
    let status = Message::PinOutcome { result: shikaku_protocol::message::PinResult::Verified, tries_left: 3 };
    let cases: [(&str, Message<'_>); 3] = [("status", status), ("identity", identity), ("max", max)];

    for (name, msg) in cases {
        let mut payload_len = 0;
        // The AEAD alone: seal and open the payload in place.
        let mut seal_t = 0;
        let mut open_t = 0;
        for _ in 0..ROUNDS {
            let n = msg.encode(&mut copy[HEADER_LEN..]).unwrap_or(0);
            payload_len = n;
            let mut sealer = Sealer::new(keys.reader_to_host);
            let mut opener = Opener::new(keys.reader_to_host);
            let mut tag = [0u8; 16];
            let (head, rest) = copy.split_at_mut(HEADER_LEN);
            let mut counter = 0;
            seal_t += ticks(syst, || counter = sealer.seal(head, &mut rest[..n], &mut tag).unwrap_or(0));
            open_t += ticks(syst, || {
                let _ = opener.open(head, &mut rest[..n], counter, &tag);
            });
        }
        // The whole frame: encode + seal; check + open + decode.
        let mut tx_t = 0;
        let mut rx_t = 0;
        let mut ok = true;
        for _ in 0..ROUNDS {
            let mut reader = Link::new(Role::Reader);
            let mut host = Link::new(Role::Host);
            reader.secure(&keys);
            host.secure(&keys);
            let mut len = 0;
            tx_t += ticks(syst, || len = reader.encode(frame, 1, 2, &msg).unwrap_or(0));
            rx_t += ticks(syst, || {
                ok &= Frame::new_checked(&mut frame[..len]).and_then(|f| host.decode(f)).is_ok_and(|r| r.message == msg);
            });
        }
        let per = |t: u32| t * INSN_PER_TICK / ROUNDS;
        hprintln!(
            "linkcost|{}|{}|{}|{}|{}|{}|{}",
            name,
            payload_len,
            per(seal_t),
            per(open_t),
            per(tx_t),
            per(rx_t),
            if ok { "ok" } else { "FAILED" }
        );
    }
    hprintln!("linkcost|sizes|Link {} B, Sealer {} B, Opener {} B", core::mem::size_of::<Link>(), core::mem::size_of::<Sealer>(), core::mem::size_of::<Opener>());
    // One 目視 passcode check against one account: PBKDF2-HMAC-SHA256 at the reader's minimum.
    let mut h = [0u8; 32];
    let t = ticks(syst, || h = shikaku_protocol::passcode::hash(b"4821", &[7; 16], shikaku_protocol::passcode::DEFAULT_ITERATIONS));
    hprintln!("linkcost|passcode|{}|{}", shikaku_protocol::passcode::DEFAULT_ITERATIONS, t * INSN_PER_TICK);
    debug::exit(debug::EXIT_SUCCESS);
    loop {}
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    debug::exit(debug::EXIT_FAILURE);
    loop {}
}
