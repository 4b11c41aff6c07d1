//! Reference eligibility service: `shikaku-eligibility --db PATH --listen ADDR`.
//!
//! Seeds insured persons for the virtual card's personas (and the fixture test card) and people
//! without a card (資格確認書 holders, `POST /insured`) when the database holds nobody, or with
//! `--reseed`. See `shikaku_hil::eligibility` for the rules
//! and `shikaku_host::eligibility` for the API.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use shikaku_hil::eligibility::{self, seed, store::Store, Clock, Config};
use shikaku_hil::vcard;

#[derive(Parser)]
#[command(about = "Reference eligibility service (オンライン資格確認 stand-in) for shikaku tests and demos")]
struct Args {
    /// SQLite database (created if missing).
    #[arg(long)]
    db: PathBuf,
    /// Address to listen on, e.g. 127.0.0.1:8740 (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8740")]
    listen: String,
    /// Replace the insured persons with the seed even if the database has some.
    #[arg(long)]
    reseed: bool,
    /// Seed, print what was seeded, and exit without serving.
    #[arg(long)]
    seed_only: bool,
    /// Personas TOML (`[[persona]]` tables, as for shikaku-vcard) instead of the built-ins.
    #[arg(long)]
    personas: Option<PathBuf>,
    /// Extra trusted CA certificate (DER), repeatable.
    #[arg(long = "trust-ca")]
    trust_ca: Vec<PathBuf>,
    /// Challenge lifetime in seconds.
    #[arg(long, default_value_t = 300)]
    challenge_ttl: u64,
    /// Pretend the time is this (Unix milliseconds); for reproducible demos.
    #[arg(long)]
    now_ms: Option<i64>,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("shikaku-eligibility: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), String> {
    let personas = vcard::load_personas(args.personas.as_deref())?;
    let mut config = Config::default_trust()?;
    for path in &args.trust_ca {
        config.trusted_cas.push(std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    config.challenge_ttl = Duration::from_secs(args.challenge_ttl);
    if let Some(ms) = args.now_ms {
        config.clock = Clock::fixed(ms);
    }
    if args.seed_only {
        let store = Store::open(&args.db).map_err(|e| format!("opening {}: {e}", args.db.display()))?;
        let seeded = seed::seed(&store, &personas, config.clock.today(), config.clock.now_ms())?;
        for s in seeded {
            println!(
                "{:<10} cert sha256 {} | {} qualification(s) | {}",
                s.persona,
                s.cert_sha256,
                s.qualifications,
                if s.registered { "registered" } else { "not registered (初回登録)" }
            );
        }
        println!("without a card (POST /insured):");
        for (person, qualifications) in seed::cardless(config.clock.today()) {
            for q in qualifications {
                println!(
                    "  {} born {} | {} {} {}/{}/{} | {} – {}",
                    person.name,
                    person.birth_date,
                    q.insurer_number,
                    q.insurer_name,
                    q.symbol.as_deref().unwrap_or("-"),
                    q.number,
                    q.branch.as_deref().unwrap_or("-"),
                    q.qualification_date,
                    q.disqualification_date.as_deref().unwrap_or("")
                );
            }
        }
        return Ok(());
    }
    let server = eligibility::start(&args.db, &args.listen, config, &personas, args.reseed)?;
    println!("shikaku-eligibility listening on {}", server.url());
    server.wait();
    Ok(())
}
