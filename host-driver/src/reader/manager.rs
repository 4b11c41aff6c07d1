//! Several readers on one PC, each on its own thread with its own link and session: connect,
//! handshake, pump frames, reconnect with back-off after a pulled cable. Results already in
//! flight are re-sent by the reader and taken exactly once (the endpoint's duplicate filter,
//! seeded from the journal).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use shikaku_protocol::message::Message;

use super::{HostEndpoint, HostEvent, Keys};
use crate::os::{random, unix_ms, RandomUnavailable};
use crate::transport::{Endpoint, Transport, TransportError};

/// Something for the reader, sent by the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    TimeSync {
        unix_ms: u64,
    },
    Challenge([u8; 32]),
    RegistrationStatus {
        registered: bool,
    },
    /// Salted hash of a 目視 passcode; the passcode itself never leaves the host.
    PasscodeProvision {
        account: String,
        salt: [u8; 16],
        iterations: u32,
        hash: [u8; 32],
    },
    PasscodeRevoke {
        account: String,
    },
    Cancel,
    Diagnostics,
    /// Start pairing (staff must have opened pairing mode on the reader): `PairingCode`, then
    /// `Paired` once staff accept the code on the reader, or `PairingRefused`.
    Pair,
    /// The application has kept this result (journal written): acknowledge it to the reader.
    Ack {
        session: u32,
        seq: u32,
    },
    /// The application could not keep this result (the journal refused it): take the reader's
    /// next re-send of it again.
    NotKept {
        session: u32,
        seq: u32,
    },
}

/// What a reader thread reports.
#[derive(Debug)]
pub enum ManagerEvent {
    Connected {
        endpoint: Endpoint,
    },
    Link {
        endpoint: Endpoint,
        event: HostEvent,
    },
    Disconnected {
        endpoint: Endpoint,
        reason: String,
    },
    /// [`Command::Pair`] was refused here: the OS random generator, the only source of the
    /// pairing secret and nonce, failed. Nothing was sent to the reader.
    PairingRefused {
        endpoint: Endpoint,
        error: RandomUnavailable,
    },
}

/// One reader's thread.
pub struct ReaderHandle {
    pub endpoint: Endpoint,
    commands: Sender<Command>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ReaderHandle {
    pub fn send(&self, c: Command) -> bool {
        self.commands.send(c).is_ok()
    }
}

impl Drop for ReaderHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Spawns the thread for one reader.
pub fn spawn(
    endpoint: Endpoint,
    pairing: impl Into<Keys>,
    seen: Vec<(u32, u32)>,
    events: Sender<ManagerEvent>,
) -> ReaderHandle {
    let pairing: Keys = pairing.into();
    let (tx, rx) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (endpoint, stop) = (endpoint.clone(), stop.clone());
        std::thread::Builder::new()
            .name(format!("reader {endpoint}"))
            .spawn(move || run(endpoint, pairing, seen, events, rx, stop))
            .ok()
    };
    ReaderHandle { endpoint, commands: tx, stop, thread }
}

fn run(
    endpoint: Endpoint,
    pairing: Keys,
    seen: Vec<(u32, u32)>,
    events: Sender<ManagerEvent>,
    commands: Receiver<Command>,
    stop: Arc<AtomicBool>,
) {
    // The nonce is replaced on every connection; without the OS generator there is none.
    let mut link = HostEndpoint::new(pairing, [0; 16]);
    for (s, q) in seen {
        link.restore_seen(s, q);
    }
    let mut backoff = Duration::from_millis(200);
    while !stop.load(Ordering::SeqCst) {
        let mut transport = match endpoint.open() {
            Ok(t) => t,
            Err(e) => {
                let _ = events
                    .send(ManagerEvent::Disconnected { endpoint: endpoint.clone(), reason: e.to_string() });
                sleep_unless_stopped(&stop, backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        let nonce = match random() {
            Ok(n) => n,
            Err(e) => {
                let _ = events
                    .send(ManagerEvent::Disconnected { endpoint: endpoint.clone(), reason: e.to_string() });
                sleep_unless_stopped(&stop, backoff);
                continue;
            }
        };
        backoff = Duration::from_millis(200);
        let _ = events.send(ManagerEvent::Connected { endpoint: endpoint.clone() });
        link.connect(nonce);
        let reason = match pump(&mut *transport, &mut link, &endpoint, &events, &commands, &stop) {
            Ok(()) => break,
            Err(e) => e.to_string(),
        };
        let _ = events.send(ManagerEvent::Disconnected { endpoint: endpoint.clone(), reason });
        sleep_unless_stopped(&stop, backoff);
    }
}

fn sleep_unless_stopped(stop: &AtomicBool, d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pump(
    transport: &mut dyn Transport,
    link: &mut HostEndpoint,
    endpoint: &Endpoint,
    events: &Sender<ManagerEvent>,
    commands: &Receiver<Command>,
    stop: &AtomicBool,
) -> Result<(), TransportError> {
    let mut buf = vec![0u8; 4096];
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        loop {
            match commands.try_recv() {
                Ok(c) => apply(link, c, endpoint, events),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Ok(()),
            }
        }
        while let Some(bytes) = link.poll_transmit() {
            transport.write_all(&bytes)?;
        }
        let n = transport.read(&mut buf, Duration::from_millis(20))?;
        if n == 0 {
            continue;
        }
        for event in link.receive(&buf[..n]) {
            if let HostEvent::Secured(_) = &event {
                // A fresh clock for the reader on every connection.
                let _ = link.send(&Message::TimeSync { unix_ms: unix_ms() });
            }
            if let HostEvent::Paired { .. } = &event {
                // A new connection under the new key.
                match random() {
                    Ok(nonce) => link.connect(nonce),
                    Err(error) => tracing::error!(%endpoint, %error, "no fresh nonce: not reconnecting"),
                }
            }
            let _ = events.send(ManagerEvent::Link { endpoint: endpoint.clone(), event });
        }
    }
}

fn apply(link: &mut HostEndpoint, c: Command, endpoint: &Endpoint, events: &Sender<ManagerEvent>) {
    let r = match &c {
        Command::TimeSync { unix_ms } => link.send(&Message::TimeSync { unix_ms: *unix_ms }),
        Command::Challenge(challenge) => link.send(&Message::HostChallenge { challenge: *challenge }),
        Command::RegistrationStatus { registered } => {
            link.send(&Message::RegistrationStatus { registered: *registered })
        }
        Command::PasscodeProvision { account, salt, iterations, hash } => link
            .send(&Message::PasscodeProvision { account, salt: *salt, iterations: *iterations, hash: *hash }),
        Command::PasscodeRevoke { account } => link.send(&Message::PasscodeRevoke { account }),
        Command::Cancel => {
            link.send(&Message::Cancel { reason: shikaku_protocol::message::CancelReason::Host })
        }
        Command::Diagnostics => link.send(&Message::DiagnosticsRequest),
        // Fresh secret and nonce from the OS generator or no pairing at all: a secret from
        // anything else (the clock) could be guessed.
        Command::Pair => match (random(), random()) {
            (Ok(secret), Ok(nonce)) => {
                link.start_pairing(secret, nonce);
                Ok(())
            }
            (Err(error), _) | (_, Err(error)) => {
                tracing::error!(%endpoint, %error, "pairing refused");
                let _ = events.send(ManagerEvent::PairingRefused { endpoint: endpoint.clone(), error });
                Ok(())
            }
        },
        Command::Ack { session, seq } => {
            link.ack(*session, *seq);
            Ok(())
        }
        Command::NotKept { session, seq } => {
            link.not_kept(*session, *seq);
            Ok(())
        }
    };
    if let Err(e) = r {
        tracing::warn!(error = %e, "command for the reader not sent");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Endpoint {
        "tcp:127.0.0.1:1".parse().unwrap()
    }

    #[test]
    fn pairing_is_refused_and_reported_when_the_os_generator_fails() {
        let mut link = HostEndpoint::new(None, [0; 16]);
        let (tx, rx) = std::sync::mpsc::channel();
        crate::os::with_failing_generator(|| apply(&mut link, Command::Pair, &endpoint(), &tx));
        assert!(link.poll_transmit().is_none(), "no pairing request without the OS generator");
        match rx.try_recv() {
            Ok(ManagerEvent::PairingRefused { endpoint: e, error }) => {
                assert_eq!(e, endpoint());
                assert!(error.to_string().contains("refusing to pair"), "{error}");
            }
            other => panic!("expected PairingRefused, got {other:?}"),
        }
    }

    #[test]
    fn pairing_starts_with_a_working_generator() {
        let mut link = HostEndpoint::new(None, [0; 16]);
        let (tx, rx) = std::sync::mpsc::channel();
        apply(&mut link, Command::Pair, &endpoint(), &tx);
        assert!(link.poll_transmit().is_some(), "the pairing request is queued");
        assert!(rx.try_recv().is_err(), "nothing refused");
    }
}
