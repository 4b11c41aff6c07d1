//! `shikaku passcode set|revoke ACCOUNT`: the passcode is hashed here with a fresh salt; only
//! the salted hash is sent, and nothing is stored on the PC.

use std::io::BufRead;
use std::time::{Duration, Instant};

use clap::Subcommand;
use shikaku_host::config::Config;
use shikaku_host::reader::{Command, HostEvent, ManagerEvent};
use shikaku_host::transport::Endpoint;
use shikaku_protocol::message::PasscodeOutcome;
use shikaku_protocol::passcode;
use shikaku_protocol::Message;

#[derive(Subcommand)]
pub(crate) enum Action {
    /// Sets ACCOUNT's 4-digit passcode on the readers (asked twice; stdin when not a terminal).
    Set {
        account: String,
        /// Only this reader (default: every configured reader).
        #[arg(long)]
        reader: Option<String>,
        #[arg(long, default_value_t = passcode::DEFAULT_ITERATIONS)]
        iterations: u32,
    },
    /// Removes ACCOUNT from the readers.
    Revoke {
        account: String,
        #[arg(long)]
        reader: Option<String>,
    },
}

fn read_passcode(prompt: &str) -> Result<String, String> {
    let line = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        rpassword::prompt_password(prompt).map_err(|e| e.to_string())?
    } else {
        let mut l = String::new();
        std::io::stdin().lock().read_line(&mut l).map_err(|e| e.to_string())?;
        l
    };
    Ok(line.trim().to_owned())
}

/// Checks a passcode: exactly four digits, not all the same, not a straight run.
pub(crate) fn check(p: &str) -> Result<(), String> {
    let d: Vec<u8> = p.bytes().collect();
    if d.len() != 4 || !d.iter().all(u8::is_ascii_digit) {
        return Err("the passcode must be exactly 4 digits".into());
    }
    if d.iter().all(|&x| x == d[0]) {
        return Err("the passcode must not be four equal digits".into());
    }
    let up = d.windows(2).all(|w| w[1] == w[0] + 1);
    let down = d.windows(2).all(|w| w[0] == w[1] + 1);
    if up || down {
        return Err("the passcode must not be a straight run like 1234".into());
    }
    Ok(())
}

fn targets(config: &Config, reader: Option<String>) -> Result<Vec<Endpoint>, String> {
    match reader {
        Some(r) => Ok(vec![r.parse().map_err(|e: shikaku_host::transport::TransportError| e.to_string())?]),
        None => Ok(config.readers.clone()),
    }
}

fn deliver(config: &Config, endpoints: &[Endpoint], command: Command) -> Result<(), String> {
    for endpoint in endpoints {
        let (handle, rx, serial, paired) = super::connect(config, endpoint, Duration::from_secs(10))?;
        if !paired {
            return Err(format!("{serial} is not paired with this PC: run `shikaku pair {endpoint}` first"));
        }
        // `connect` returned on the hello: the link is secured (and encrypted). The reader
        // answers the provision or revocation with what it did.
        if !handle.send(command.clone()) {
            return Err(format!("{serial}: the paired link went away"));
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut outcome = None;
        while outcome.is_none() && Instant::now() < deadline {
            if let Ok(ManagerEvent::Link { event: HostEvent::Status(m), .. }) =
                rx.recv_timeout(Duration::from_millis(100))
            {
                if let Ok(Message::PasscodeResult { account, outcome: o }) = m.message() {
                    if account == command_account(&command) {
                        outcome = Some(o);
                    }
                }
            }
        }
        let Some(outcome) = outcome else {
            return Err(format!("{serial}: the reader did not answer; nothing is known to have changed"));
        };
        report(&serial, outcome)?;
    }
    Ok(())
}

fn command_account(command: &Command) -> &str {
    match command {
        Command::PasscodeProvision { account, .. } | Command::PasscodeRevoke { account } => account,
        _ => "",
    }
}

/// Says exactly what the reader did; anything but a change kept is an error.
fn report(serial: &str, outcome: PasscodeOutcome) -> Result<(), String> {
    use PasscodeOutcome::*;
    match outcome {
        Stored => {
            println!("{serial}: passcode stored");
            Ok(())
        }
        Revoked => {
            println!("{serial}: account removed");
            Ok(())
        }
        StoreFull => Err(format!("{serial}: all 8 staff accounts are taken; revoke one first")),
        UnknownAccount => Err(format!("{serial}: the reader has no such account")),
        BadAccount => Err(format!("{serial}: the reader refused the account id (1 to 32 bytes)")),
        TooFewIterations => Err(format!(
            "{serial}: the reader refused the hash: at least {} iterations are required",
            passcode::DEFAULT_ITERATIONS
        )),
        StorageFailed => Err(format!(
            "{serial}: the reader took the change but could not write its flash: it is lost at the next restart"
        )),
    }
}

pub(crate) fn run(config: &Config, action: Action) -> Result<(), String> {
    match action {
        Action::Set { account, reader, iterations } => {
            if account.is_empty() || account.len() > 32 {
                return Err("the account id must be 1 to 32 bytes".into());
            }
            let first = read_passcode(&format!("passcode for {account}: "))?;
            check(&first)?;
            let again = read_passcode("again: ")?;
            if again != first {
                return Err("the two entries differ".into());
            }
            let salt: [u8; 16] = shikaku_host::os::random().map_err(|e| e.to_string())?;
            let hash = passcode::hash(first.as_bytes(), &salt, iterations);
            drop(first);
            let endpoints = targets(config, reader)?;
            deliver(config, &endpoints, Command::PasscodeProvision { account, salt, iterations, hash })
        }
        Action::Revoke { account, reader } => {
            let endpoints = targets(config, reader)?;
            deliver(config, &endpoints, Command::PasscodeRevoke { account })
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn weak_passcodes_are_refused() {
        for bad in ["123", "12345", "abcd", "1111", "1234", "9876", "4321"] {
            assert!(super::check(bad).is_err(), "{bad}");
        }
        for good in ["4821", "0007", "1357", "2024"] {
            assert!(super::check(good).is_ok(), "{good}");
        }
    }
}
