//! A simulated reader device on TCP: [`SimReader`] behind a listening socket, serving one
//! host connection at a time (QEMU's serial port behaves the same way). For CLI, manager and
//! doctor tests.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use shikaku_firmware::session::Event;

use crate::sim_reader::SimReader;

pub struct SimDevice {
    pub port: u16,
    pub reader: Arc<Mutex<SimReader>>,
    /// Pull the cable once: drop the connection right after this many writes to the host
    /// (counted from when it is set), losing whatever the host had in flight.
    pub cut_after_writes: Arc<Mutex<Option<usize>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SimDevice {
    pub fn spawn(reader: SimReader) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let reader = Arc::new(Mutex::new(reader));
        let stop = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(Mutex::new(None));
        let thread = {
            let (reader, stop, cut) = (reader.clone(), stop.clone(), cut.clone());
            std::thread::spawn(move || serve(listener, reader, stop, cut))
        };
        Ok(Self { port, reader, cut_after_writes: cut, stop, thread: Some(thread) })
    }

    pub fn endpoint(&self) -> String {
        format!("tcp:127.0.0.1:{}", self.port)
    }
}

impl Drop for SimDevice {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    listener: TcpListener,
    reader: Arc<Mutex<SimReader>>,
    stop: Arc<AtomicBool>,
    cut: Arc<Mutex<Option<usize>>>,
) {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        let mut stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(_) => return,
        };
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_millis(10)));
        while !stop.load(Ordering::SeqCst) {
            let now = shikaku_protocol::Instant::from_millis(start.elapsed().as_millis() as u64);
            let got = match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => Some(n),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
                Err(_) => break,
            };
            let out = {
                let Ok(mut r) = reader.lock() else { return };
                if let Some(n) = got {
                    r.receive(now, &buf[..n]);
                }
                r.event(now, Event::Tick);
                r.transmit(now)
            };
            if !out.is_empty() {
                if stream.write_all(&out).is_err() {
                    break;
                }
                if let Ok(mut c) = cut.lock() {
                    match *c {
                        Some(0) | Some(1) => {
                            *c = None;
                            break;
                        }
                        Some(n) => *c = Some(n - 1),
                        None => {}
                    }
                }
            }
        }
        if let Ok(mut r) = reader.lock() {
            r.link.disconnected();
        }
    }
}
