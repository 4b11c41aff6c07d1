//! The subcommands, each a thin layer over the library.

pub(crate) mod passcode;
pub(crate) mod pcsc;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use shikaku_host::config::Config;
use shikaku_host::keystore::KeyStore;
use shikaku_host::reader::{manager, Command, HostEvent, Keys, ManagerEvent};
use shikaku_host::smartcard::PcscService;
use shikaku_host::transport::{list_readers, Endpoint};

pub(crate) fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

pub(crate) fn readers(config: &Config) -> Result<(), String> {
    println!("shikaku readers on USB:");
    match list_readers() {
        Ok(rs) if rs.is_empty() => println!("  (none)"),
        Ok(rs) => {
            for r in rs {
                println!("  usb:{}-{}  serial {}", r.bus, r.address, r.serial.as_deref().unwrap_or("?"));
            }
        }
        Err(e) => println!("  (USB not available: {e})"),
    }
    println!("configured: {}", config.readers.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", "));
    println!("paired: {}", KeyStore::new(&config.key_dir).serials().join(", "));
    println!("generic PC/SC readers:");
    match PcscService::new().readers() {
        Ok(rs) if rs.is_empty() => println!("  (none)"),
        Ok(rs) => {
            for r in rs {
                println!("  {}{}", r.name, if r.card_present { "  [card]" } else { "" });
            }
        }
        Err(e) => println!("  ({e})"),
    }
    Ok(())
}

/// Connects to `endpoint` with the key stored for whatever serial the reader announces and
/// waits for its hello. Returns the thread, its events, the serial and whether it is paired.
pub(crate) fn connect(
    config: &Config,
    endpoint: &Endpoint,
    timeout: Duration,
) -> Result<(manager::ReaderHandle, mpsc::Receiver<ManagerEvent>, String, bool), String> {
    let (tx, rx) = mpsc::channel();
    let keys = KeyStore::new(&config.key_dir);
    let lookup = Keys::BySerial(Box::new(move |serial: &str| keys.lookup(serial)));
    let handle = manager::spawn(endpoint.clone(), lookup, Vec::new(), tx);
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(ManagerEvent::Link { event: HostEvent::Secured(info), .. }) => {
                return Ok((handle, rx, info.serial, true))
            }
            Ok(ManagerEvent::Link {
                event: HostEvent::NeedsPairing(info) | HostEvent::KeyMismatch(info),
                ..
            }) => return Ok((handle, rx, info.serial, false)),
            Ok(ManagerEvent::Disconnected { reason, .. }) if Instant::now() >= deadline => {
                return Err(format!("{endpoint}: {reason}"))
            }
            Ok(_) => {}
            Err(_) => return Err(format!("{endpoint}: no answer from the reader")),
        }
    }
}

pub(crate) fn pair(config: &Config, endpoint: &str) -> Result<(), String> {
    let endpoint: Endpoint =
        endpoint.parse().map_err(|e: shikaku_host::transport::TransportError| e.to_string())?;
    let (handle, rx, serial, _) = connect(config, &endpoint, Duration::from_secs(10))?;
    handle.send(Command::Pair);
    // The reader answers at once (or refuses: pairing mode closed). Then both ends check the
    // code: staff press Yes on the reader if it shows the PC's code, and the operator types
    // the reader's code here. Both checks are needed: a device on the cable can run one key
    // exchange with each end and forge the reader's acceptance towards the PC, but it cannot
    // make the two codes agree.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut shown = None;
    let mut operator_checked = false;
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(ManagerEvent::Link { event: HostEvent::PairingCode { code }, .. }) => {
                println!("pairing code {code:06}: press Yes on the reader if it shows the same number");
                shown = Some(code);
                let typed = read_line("type the code the reader shows: ")?;
                if typed.trim() != format!("{code:06}") {
                    return Err(format!(
                        "the reader shows another code than this PC ({code:06}): nothing was stored; \
                         press No on the reader, and check the cable for a device between PC and reader"
                    ));
                }
                operator_checked = true;
            }
            Ok(ManagerEvent::Link { event: HostEvent::Paired { key, code }, .. }) if operator_checked => {
                KeyStore::new(&config.key_dir).store(&serial, &key).map_err(|e| e.to_string())?;
                println!("paired with {serial}: the code {code:06} was confirmed on the reader and here");
                return Ok(());
            }
            Ok(ManagerEvent::Link { event: HostEvent::PairingRefused(outcome), .. }) => {
                return Err(format!("pairing refused by the reader: {}", pair_refusal(outcome)));
            }
            Ok(ManagerEvent::Link { event: HostEvent::Rejected(e), .. }) => {
                return Err(format!("pairing refused: {e}"));
            }
            Ok(ManagerEvent::PairingRefused { error, .. }) => {
                return Err(format!("pairing refused: {error}"))
            }
            _ => {}
        }
    }
    Err(match shown {
        Some(code) => {
            format!("nobody confirmed the code {code:06} on the reader in time; nothing was changed")
        }
        None => "the reader did not answer the pairing request".into(),
    })
}

/// One line from the operator (stdin), without its line end; end of input is an error.
fn read_line(prompt: &str) -> Result<String, String> {
    use std::io::{BufRead, Write};
    print!("{prompt}");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) => Err("no code was typed: nothing was stored".into()),
        Ok(_) => Ok(line.trim_end().to_owned()),
        Err(e) => Err(format!("reading the code: {e}")),
    }
}

/// What staff should do about a reader's pairing refusal.
fn pair_refusal(outcome: shikaku_protocol::message::PairOutcome) -> &'static str {
    use shikaku_protocol::message::PairOutcome::*;
    match outcome {
        NotOpen => {
            "pairing mode is not open; on the reader press the Staff key twice and enter a staff passcode \
             (a reader without staff accounts opens it on the keys alone), then run this again"
        }
        TooManyAttempts => "too many attempts in this pairing window; open pairing mode on the reader again",
        RejectedByStaff => {
            "staff said the codes differ; nothing was changed (check the cable for other devices)"
        }
        TimedOut => "nobody confirmed the code on the reader in time; nothing was changed",
        Accepted => "accepted without a valid proof",
    }
}

/// `shikaku run`: one line per event for the staff console; stops on Ctrl-C / SIGTERM.
pub(crate) fn run(config: &Config) -> Result<(), String> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    println!(
        "shikaku: running; readers: {}",
        config.readers.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ")
    );
    shikaku_host::app::run(config, &stop, |e| {
        println!("{}", describe(e));
    })
    .map_err(|e| e.to_string())
}

fn describe(e: &shikaku_host::app::AppEvent) -> String {
    use shikaku_host::app::AppEvent::*;
    match e {
        ReaderConnected { endpoint, serial } => format!("reader {serial} connected on {endpoint}"),
        ReaderNeedsPairing { endpoint, serial } => {
            format!("reader {serial} on {endpoint} is not paired with this PC: run `shikaku pair {endpoint}`")
        }
        ReaderLost { endpoint, reason } => format!("reader on {endpoint}: {reason}"),
        Reception { reader, session, outcome, face_file, references } => {
            let mut line = format!(
                "reception {reader}/{session}: {outcome}{}",
                face_file.as_deref().map(|f| format!(" → {f}")).unwrap_or_default()
            );
            // One character of a name, never the name: what staff check on the receipt computer.
            for r in references {
                let chars: String = r.chars.iter().collect();
                line += &format!("\n  {}: {chars} is outside the receipt computer's character set (written as a reference; check how it shows)", r.element);
            }
            line
        }
        Rejected { reader, session, reason } => {
            format!("reception {reader}/{session} NOT forwarded: {reason}")
        }
        Status { reader, line } => format!("{reader}: {line}"),
    }
}
