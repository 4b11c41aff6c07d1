//! On-target tests for the Cortex-M4 under QEMU (`mps2-an386`), in the embedded-test style:
//! each test is a plain function run in turn on the real target (alignment, endianness,
//! stack, FPU-enabled Cortex-M4), results printed through semihosting, the exit status tells
//! the host. Only what needs no hardware: the protocol's sealed link (ChaCha20-Poly1305), the passcode hash,
//! SHA-256, the session core, the rig's wire codec and the stack painting.
//!
//! `qemu-system-arm -machine mps2-an386 -nographic -semihosting-config enable=on,target=native
//! -kernel shikaku-selftest` (scripts/qemu.sh test runs it).
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use sha2::{Digest, Sha256};
use shikaku_firmware::session::{Config, Event, Phase, Session};
use shikaku_image_core::wire;
use shikaku_protocol::auth::{LinkKeys, PairingKey};
use shikaku_protocol::frame::Frame;
use shikaku_protocol::link::{Link, Role};
use shikaku_protocol::message::Message;
use shikaku_protocol::{passcode, Instant};

type Test = (&'static str, fn() -> Result<(), &'static str>);

const TESTS: &[Test] = &[
    ("sha256_known_answer", sha256_known_answer),
    ("link_mac_roundtrip_and_tamper", link_mac_roundtrip_and_tamper),
    ("passcode_hash", passcode_hash),
    ("session_starts_idle_and_ticks", session_starts_idle_and_ticks),
    ("wire_codec_roundtrip", wire_codec_roundtrip),
    ("stack_is_painted_and_measured", stack_is_painted_and_measured),
];

fn check(ok: bool, what: &'static str) -> Result<(), &'static str> {
    if ok {
        Ok(())
    } else {
        Err(what)
    }
}

fn sha256_known_answer() -> Result<(), &'static str> {
    let d = Sha256::digest(b"abc");
    check(d[..4] == [0xba, 0x78, 0x16, 0xbf] && d[28..] == [0xf2, 0x00, 0x15, 0xad], "SHA-256(abc)")
}

fn link_mac_roundtrip_and_tamper() -> Result<(), &'static str> {
    let key = PairingKey([7; 32]);
    let keys = LinkKeys::derive(&key, &[1; 16], &[2; 16]);
    let mut reader = Link::new(Role::Reader);
    let mut host = Link::new(Role::Host);
    reader.secure(&keys);
    host.secure(&keys);
    let mut buf = [0u8; 256];
    let msg = Message::TimeSync { unix_ms: 1_763_700_000_000 };
    let n = host.encode(&mut buf, 3, 9, &msg).map_err(|_| "encode")?;
    // Opening decrypts in place: each attempt gets its own copy of the sealed frame.
    let sent = buf;
    check(buf[17..17 + 8] != 1_763_700_000_000u64.to_le_bytes(), "payload encrypted")?;
    let mut copy = sent;
    let frame = Frame::new_checked(&mut copy[..n]).map_err(|_| "frame")?;
    let rx = reader.decode(frame).map_err(|_| "decode")?;
    check(rx.authenticated && rx.message == msg, "message")?;
    // A second copy of the same frame is a replay; a flipped payload bit fails the tag or CRC.
    let mut copy = sent;
    let frame = Frame::new_checked(&mut copy[..n]).map_err(|_| "frame")?;
    check(reader.decode(frame).is_err(), "replay refused")?;
    let n = host.encode(&mut buf, 3, 10, &msg).map_err(|_| "encode")?;
    buf[18] ^= 1;
    let refused = match Frame::new_checked(&mut buf[..n]) {
        Err(_) => true,
        Ok(f) => reader.decode(f).is_err(),
    };
    check(refused, "tampered frame refused")
}

fn passcode_hash() -> Result<(), &'static str> {
    let salt = [9u8; 16];
    let h = passcode::hash(b"4821", &salt, 100);
    check(
        passcode::matches(b"4821", &salt, 100, &h) && !passcode::matches(b"4822", &salt, 100, &h),
        "passcode",
    )
}

fn session_starts_idle_and_ticks() -> Result<(), &'static str> {
    let mut s = Session::new(Config::default(), PairingKey([1; 32]), 77);
    check(s.phase() == Phase::Idle, "idle at boot")?;
    let _ = s.handle(Instant::from_millis(10), Event::Tick);
    let _ = s.handle(Instant::from_millis(20), Event::Tick);
    check(s.phase() == Phase::Idle && !s.clock_synced(), "still idle without a host")
}

fn wire_codec_roundtrip() -> Result<(), &'static str> {
    let mut bytes = [0u8; 32];
    let mut n = 0;
    wire::encode(wire::TRANSCEIVE, &[&[1, 2], &[3]], |b| {
        bytes[n..n + b.len()].copy_from_slice(b);
        n += b.len();
    });
    let mut d = wire::Deframer::new();
    let mut got = None;
    for &b in [0x00, 0x42].iter().chain(&bytes[..n]) {
        if let Some(f) = d.push(b) {
            got = Some(f);
        }
    }
    let (kind, len) = got.ok_or("no frame")?;
    check(kind == wire::TRANSCEIVE && d.payload(len) == [1, 2, 3], "payload")
}

extern "C" {
    static mut _stack_end: u32;
    static mut _stack_start: u32;
}

fn stack_is_painted_and_measured() -> Result<(), &'static str> {
    let bottom = core::ptr::addr_of!(_stack_end) as usize;
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let sp = cortex_m::register::msp::read() as usize;
    check(bottom < sp && sp <= top, "SP inside the stack region")?;
    // Paint a window below us, use some stack, and see the mark move.
    let low = sp - 8192;
    let mut p = low;
    while p < sp - 1024 {
        // SAFETY: unused stack below the current frame.
        unsafe { core::ptr::write_volatile(p as *mut u32, 0xCCCC_CCCC) };
        p += 4;
    }
    use_stack(2048);
    let mut first = low;
    // SAFETY: reading the window just painted.
    while first < sp && unsafe { core::ptr::read_volatile(first as *const u32) } == 0xCCCC_CCCC {
        first += 4;
    }
    check(first > low && first < sp - 1024, "high-water mark inside the window")
}

#[inline(never)]
fn use_stack(n: usize) -> u8 {
    let mut a = [0u8; 4096];
    for (i, x) in a.iter_mut().enumerate().take(n) {
        *x = i as u8;
    }
    core::hint::black_box(&mut a);
    a[n / 2]
}

#[entry]
fn main() -> ! {
    let mut failed = 0;
    for (name, t) in TESTS {
        match t() {
            Ok(()) => hprintln!("test {} ... ok", name),
            Err(why) => {
                failed += 1;
                hprintln!("test {} ... FAILED: {}", name, why);
            }
        }
    }
    hprintln!("{} tests, {} failed", TESTS.len(), failed);
    debug::exit(if failed == 0 { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
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
