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
        let thread = {
            let (reader, stop) = (reader.clone(), stop.clone());
            std::thread::spawn(move || serve(listener, reader, stop))
        };
        Ok(Self { port, reader, stop, thread: Some(thread) })
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

fn serve(listener: TcpListener, reader: Arc<Mutex<SimReader>>, stop: Arc<AtomicBool>) {
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
            let now = start.elapsed().as_millis() as u64;
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
            if !out.is_empty() && stream.write_all(&out).is_err() {
                break;
            }
        }
        if let Ok(mut r) = reader.lock() {
            r.link.disconnected();
        }
    }
}
