//! `shikaku`: the host driver's command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

#[derive(Parser)]
#[command(name = "shikaku", version, about = "Host driver for shikaku face-authentication card readers")]
struct Args {
    /// Configuration file (TOML; missing = defaults). Env: SHIKAKU_CONFIG.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// More log output (repeat for more). Env RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the driver: readers, eligibility forwarding, receipt-computer folders, JSON API.
    Run,
    /// Lists readers: shikaku readers on USB, generic PC/SC readers, paired readers.
    Readers,
    /// Pairs with a reader in pairing mode; both show a 6-digit code to compare.
    Pair {
        /// `tcp:HOST:PORT`, `serial:PATH[@BAUD]`, `usb` or `usb:BUS-ADDR`
        endpoint: String,
    },
    /// 目視 staff passcodes: hashed here, only the salted hash goes to the readers.
    Passcode {
        #[command(subcommand)]
        action: cli::passcode::Action,
    },
    /// Reads a card or smartphone on a generic PC/SC reader.
    Pcsc {
        #[command(subcommand)]
        action: cli::pcsc::Action,
    },
    /// Walks the clinic's check sheet and says what to do; exit code 1 if anything failed.
    Doctor {
        /// Seconds to wait for each reader.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
    /// Prints the effective configuration with every default filled in.
    Config,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::init_logging(args.verbose);
    let path = args.config.unwrap_or_else(shikaku_host::config::Config::default_path);
    let config = match shikaku_host::config::Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("shikaku: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match args.command {
        Command::Run => cli::run(&config),
        Command::Readers => cli::readers(&config),
        Command::Pair { endpoint } => cli::pair(&config, &endpoint),
        Command::Passcode { action } => cli::passcode::run(&config, action),
        Command::Pcsc { action } => cli::pcsc::run(action),
        Command::Doctor { timeout } => {
            let report = shikaku_host::doctor::run(&config, std::time::Duration::from_secs(timeout));
            report.print();
            if report.failed() > 0 {
                return ExitCode::FAILURE;
            }
            Ok(())
        }
        Command::Config => toml::to_string_pretty(&config).map(|t| print!("{t}")).map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shikaku: {e}");
            ExitCode::FAILURE
        }
    }
}
