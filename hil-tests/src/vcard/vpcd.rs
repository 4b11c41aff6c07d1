//! vpcd client: serves a [`SmartCard`] to pcscd's virtual reader driver (`vsmartcard-vpcd`).
//!
//! Wire format (both directions): 2-byte big-endian length + payload. A 1-byte payload from vpcd
//! is a control code — `00` power off, `01` power on, `02` reset (no answer), `04` get ATR
//! (answered with the ATR); anything longer is a C-APDU answered with the R-APDU.
//!
//! The card connects to vpcd (default `127.0.0.1:35963`, reader "Virtual PCD 00 00"; port
//! 35964 is the second reader). If vpcd is not there yet or goes away, the client keeps
//! reconnecting until stopped; malformed input never panics (a zero-length frame is ignored, an
//! unknown control code is ignored, a malformed APDU gets `6700` from the card).

use crate::SmartCard;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub const DEFAULT_PORT: u16 = 35963;

#[derive(Clone, Debug)]
pub struct VpcdConfig {
    pub host: String,
    pub port: u16,
    /// Pause between connection attempts.
    pub retry: Duration,
    /// Print every frame to stderr.
    pub verbose: bool,
}

impl Default for VpcdConfig {
    fn default() -> Self {
        VpcdConfig {
            host: "127.0.0.1".into(),
            port: DEFAULT_PORT,
            retry: Duration::from_millis(250),
            verbose: false,
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect::<Vec<_>>().join(" ")
}

/// Frame decoder: accumulates bytes and yields complete payloads.
#[derive(Default)]
pub struct FrameBuffer {
    buf: Vec<u8>,
}

impl FrameBuffer {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete payload, if any (zero-length frames are returned as empty payloads).
    pub fn next_frame(&mut self) -> Option<Vec<u8>> {
        if self.buf.len() < 2 {
            return None;
        }
        let n = usize::from(u16::from_be_bytes([self.buf[0], self.buf[1]]));
        if self.buf.len() < 2 + n {
            return None;
        }
        let payload = self.buf[2..2 + n].to_vec();
        self.buf.drain(..2 + n);
        Some(payload)
    }
}

/// Encodes one frame (payloads longer than 65535 bytes are truncated to an error status).
pub fn encode_frame(payload: &[u8]) -> Vec<u8> {
    let payload = if payload.len() > 0xFFFF { &[0x6F, 0x00][..] } else { payload };
    let mut out = (payload.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// What to send back for one payload from vpcd (`None`: no answer).
pub fn answer<C: SmartCard + ?Sized>(card: &mut C, payload: &[u8], verbose: bool) -> Option<Vec<u8>> {
    match payload {
        [] => None,
        [0x00] | [0x01] | [0x02] => {
            if verbose {
                eprintln!(
                    "vpcd: control {:02X} ({})",
                    payload[0],
                    ["power off", "power on", "reset"][usize::from(payload[0])]
                );
            }
            card.reset();
            None
        }
        [0x04] => Some(card.atr().to_vec()),
        [other] => {
            if verbose {
                eprintln!("vpcd: unknown control {other:02X} ignored");
            }
            None
        }
        apdu => {
            let r = card.process_apdu(apdu);
            if verbose {
                eprintln!("> {}\n< {}", hex(apdu), hex(&r));
            }
            Some(r)
        }
    }
}

fn resolve(cfg: &VpcdConfig) -> io::Result<SocketAddr> {
    (cfg.host.as_str(), cfg.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))
}

/// Serves one connection until it closes or `stop` is set.
fn serve_connection<C: SmartCard + ?Sized>(
    mut stream: TcpStream,
    card: &Mutex<C>,
    stop: &AtomicBool,
    verbose: bool,
) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_millis(100)))?;
    stream.set_nodelay(true)?;
    let mut frames = FrameBuffer::default();
    let mut chunk = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => frames.push(&chunk[..n]),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        while let Some(payload) = frames.next_frame() {
            let reply = {
                let mut card = card.lock().unwrap_or_else(|e| e.into_inner());
                answer(&mut *card, &payload, verbose)
            };
            if let Some(reply) = reply {
                stream.write_all(&encode_frame(&reply))?;
            }
        }
    }
    Ok(())
}

/// Connects to vpcd and serves `card` until `stop` is set, reconnecting whenever vpcd is absent
/// or drops the connection (the card is reset as if it left the field).
pub fn serve<C: SmartCard + ?Sized>(card: &Mutex<C>, cfg: &VpcdConfig, stop: &AtomicBool) {
    let mut announced_wait = false;
    while !stop.load(Ordering::Relaxed) {
        let stream = resolve(cfg).and_then(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(1)));
        match stream {
            Ok(stream) => {
                announced_wait = false;
                if cfg.verbose {
                    eprintln!("vpcd: connected to {}:{}", cfg.host, cfg.port);
                }
                if let Err(e) = serve_connection(stream, card, stop, cfg.verbose) {
                    if cfg.verbose {
                        eprintln!("vpcd: connection error: {e}");
                    }
                }
                card.lock().unwrap_or_else(|e| e.into_inner()).reset();
                if cfg.verbose && !stop.load(Ordering::Relaxed) {
                    eprintln!("vpcd: disconnected, reconnecting");
                }
            }
            Err(e) => {
                if cfg.verbose && !announced_wait {
                    eprintln!("vpcd: cannot connect to {}:{} ({e}); retrying", cfg.host, cfg.port);
                    announced_wait = true;
                }
            }
        }
        std::thread::sleep(cfg.retry);
    }
}

/// A card served in a background thread (for tests). Dropping it stops the server.
pub struct CardServer<C: SmartCard + Send + 'static> {
    pub card: Arc<Mutex<C>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl<C: SmartCard + Send + 'static> CardServer<C> {
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl<C: SmartCard + Send + 'static> Drop for CardServer<C> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Spawns a thread serving `card` to vpcd.
pub fn spawn<C: SmartCard + Send + 'static>(card: C, cfg: VpcdConfig) -> CardServer<C> {
    let card = Arc::new(Mutex::new(card));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let card = card.clone();
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("vcard-vpcd".into())
            .spawn(move || serve(&*card, &cfg, &stop))
            .expect("spawning the vpcd thread")
    };
    CardServer { card, stop, thread: Some(thread) }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo(Vec<u8>, u32);
    impl SmartCard for Echo {
        fn atr(&self) -> &[u8] {
            &self.0
        }
        fn reset(&mut self) {
            self.1 += 1;
        }
        fn process_apdu(&mut self, c: &[u8]) -> Vec<u8> {
            let mut r = c.to_vec();
            r.extend_from_slice(&[0x90, 0x00]);
            r
        }
    }

    #[test]
    fn frames_split_and_join() {
        let mut f = FrameBuffer::default();
        f.push(&[0x00]);
        assert!(f.next_frame().is_none());
        f.push(&[0x01, 0x04, 0x00, 0x00, 0x00]);
        assert_eq!(f.next_frame(), Some(vec![0x04]));
        assert_eq!(f.next_frame(), Some(vec![]));
        assert!(f.next_frame().is_none());
        assert_eq!(encode_frame(&[1, 2]), [0, 2, 1, 2]);
    }

    #[test]
    fn controls_and_apdus() {
        let mut c = Echo(vec![0x3B, 0x00], 0);
        assert_eq!(answer(&mut c, &[0x04], false), Some(vec![0x3B, 0x00]));
        assert_eq!(answer(&mut c, &[0x01], false), None);
        assert_eq!(answer(&mut c, &[0x09], false), None);
        assert_eq!(answer(&mut c, &[], false), None);
        assert_eq!(c.1, 1);
        assert_eq!(answer(&mut c, &[0, 0xA4, 0, 0], false), Some(vec![0, 0xA4, 0, 0, 0x90, 0]));
    }

    #[test]
    fn talks_to_a_fake_vpcd_and_reconnects() {
        use std::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cfg = VpcdConfig { port, retry: Duration::from_millis(20), ..Default::default() };
        let server = spawn(Echo(vec![0x3B, 0x80], 0), cfg);
        for round in 0..2 {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(&encode_frame(&[0x01])).unwrap();
            s.write_all(&encode_frame(&[0x04])).unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).unwrap();
            assert_eq!(buf, [0, 2, 0x3B, 0x80], "round {round}");
            // Malformed: a 2-byte payload is passed to the card like an APDU.
            s.write_all(&encode_frame(&[0x00, 0xB0, 0x00, 0x00])).unwrap();
            let mut buf = [0u8; 8];
            s.read_exact(&mut buf).unwrap();
            assert_eq!(buf, [0, 6, 0x00, 0xB0, 0x00, 0x00, 0x90, 0x00]);
            drop(s);
        }
        drop(server);
    }
}
