//! `shikaku-vcard`: serves a virtual My Number card to pcscd's vpcd driver until killed.
//!
//! ```text
//! cargo run -p shikaku-hil --bin shikaku-vcard -- --list
//! cargo run -p shikaku-hil --bin shikaku-vcard -- --persona yamada [--port 35963] [--atr contact]
//! ```

use clap::Parser;
use shikaku_hil::vcard::{self, vpcd, AtrChoice};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

#[derive(Parser, Debug)]
#[command(name = "shikaku-vcard", about = "Virtual My Number card served to pcscd over vpcd")]
struct Args {
    /// Persona to serve (see --list).
    #[arg(long, default_value = "yamada")]
    persona: String,
    /// List the personas and exit.
    #[arg(long)]
    list: bool,
    /// TOML file with [[persona]] tables instead of the built-in table.
    #[arg(long)]
    personas: Option<PathBuf>,
    /// vpcd host.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// vpcd port (35963 = reader "Virtual PCD 00 00", 35964 = "… 00 01").
    #[arg(long, default_value_t = vpcd::DEFAULT_PORT)]
    port: u16,
    /// ATR: `contactless` (what a PC/SC contactless reader reports), `contact`, or hex bytes.
    #[arg(long, default_value = "contactless")]
    atr: String,
    /// Print every APDU exchanged.
    #[arg(long, short)]
    verbose: bool,
    /// Write the persona's certificates (DER) into this directory and continue.
    #[arg(long)]
    export: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    let personas = match vcard::load_personas(args.personas.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("shikaku-vcard: {e}");
            std::process::exit(2);
        }
    };
    if args.list {
        println!("personas (fixtures: {}):", vcard::fixtures_dir().display());
        for p in &personas {
            println!("  {}", p.summary());
        }
        return;
    }
    let Some(persona) = personas.iter().find(|p| p.id == args.persona) else {
        eprintln!("shikaku-vcard: no persona {:?} (try --list)", args.persona);
        std::process::exit(2);
    };
    let atr = match AtrChoice::parse(&args.atr) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("shikaku-vcard: {e}");
            std::process::exit(2);
        }
    };
    let (card, issued) = match vcard::build_at(persona, vcard::persona::Date::today(), &atr) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("shikaku-vcard: {e}");
            std::process::exit(1);
        }
    };
    if let Some(dir) = &args.export {
        let mut files = vec![
            ("auth-cert.der", issued.auth_cert.clone()),
            ("auth-ca-cert.der", issued.auth_ca_cert.clone()),
            ("sign-ca-cert.der", issued.sign_ca_cert.clone()),
        ];
        if let Some(s) = &issued.sign_cert {
            files.push(("sign-cert.der", s.clone()));
        }
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("shikaku-vcard: {}: {e}", dir.display());
            std::process::exit(1);
        }
        for (name, data) in files {
            if let Err(e) = std::fs::write(dir.join(name), data) {
                eprintln!("shikaku-vcard: {name}: {e}");
            }
        }
    }
    eprintln!("shikaku-vcard: serving {} to vpcd at {}:{}", persona.summary(), args.host, args.port);
    let cfg =
        vpcd::VpcdConfig { host: args.host, port: args.port, verbose: args.verbose, ..Default::default() };
    let stop = AtomicBool::new(false);
    vpcd::serve(&Mutex::new(card), &cfg, &stop);
}
