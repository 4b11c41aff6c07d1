//! Runs complete receptions on the simulated rig and shows what the reader shows.
//!
//! ```sh
//! cargo run --release -p shikaku-hil --bin shikaku-demo -- --out DIR [--only NAME] [--quiet]
//! ```
//!
//! For every scenario (face, PIN, PIN locked → 目視, certificate expiring / in grace / lapsed,
//! card pulled mid-read, face failing then PIN, PIN-less card, 初回登録, the patient walking
//! away, a card that is not a My Number card) it prints the
//! transcript (screens, card operations — never PIN digits —, host messages), writes every
//! screen as `DIR/<scenario>/NN-<Screen>.png` and the transcript as
//! `DIR/<scenario>/transcript.txt`, and checks the outcome: exactly one verified
//! identity, its proof verified by the host, for the successful ones; none, and the one
//! expected error, for the others.
//!
//! Then, unless `--no-chain`, the whole chain of a reception desk ([`shikaku_hil::chain`]):
//! the reference eligibility service, simulated readers on TCP (the reader images' loop over
//! the personas' virtual cards), the real `shikaku run` (its release binary, built if missing),
//! patients at the readers in parallel and a receipt computer's requests; the files stay
//! under `DIR/chain/` (`oqs/{face,req,res}`, the journal, `shikaku run`'s log). It prints each
//! reception and request against what it must end with and the layout check of every file.
//!
//! Exits non-zero if any outcome differs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use shikaku_hil::chain::{self, ChainOptions};
use shikaku_hil::render::{self, Renderer};
use shikaku_hil::rig::{self, scenarios};

#[derive(Parser)]
#[command(about = "Complete receptions on the simulated rig, with screens as PNG")]
struct Args {
    /// Directory for the screen PNGs (one folder per scenario).
    #[arg(long, default_value = "shikaku-demo-out")]
    out: PathBuf,
    /// Run only the scenarios whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// Print only the summary.
    #[arg(long)]
    quiet: bool,
    /// Do not render PNGs.
    #[arg(long)]
    no_png: bool,
    /// Skip the chain (service, readers on TCP, `shikaku run`, receipt-computer folders).
    #[arg(long)]
    no_chain: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let renderer = if args.no_png {
        None
    } else {
        match Renderer::new() {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("shikaku-demo: cannot render screens: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let mut summary = Vec::new();
    let mut failed = 0;
    for (scenario, expect) in scenarios::all() {
        if args.only.as_deref().is_some_and(|o| !scenario.name.contains(o)) {
            continue;
        }
        let outcome = match rig::run(&scenario) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("{}: rig failed: {e}", scenario.name);
                failed += 1;
                continue;
            }
        };
        let verdict = expect.check(&outcome);
        if !args.quiet {
            println!("━━ {} (persona {}) ━━", scenario.name, scenario.persona);
            for line in &outcome.transcript {
                println!("  {line}");
            }
        }
        if let Some(r) = &renderer {
            let dir = args.out.join(&scenario.name);
            if let Err(e) = std::fs::create_dir_all(&dir) {
                eprintln!("{}: {e}", dir.display());
                return ExitCode::from(2);
            }
            let transcript = dir.join("transcript.txt");
            if let Err(e) = std::fs::write(&transcript, outcome.transcript.join("\n") + "\n") {
                eprintln!("{}: {e}", transcript.display());
                return ExitCode::from(2);
            }
            for (i, (_, screen)) in outcome.screens.iter().enumerate() {
                let path = dir.join(format!("{:02}-{}.png", i, render::screen_name(screen)));
                if let Err(e) = r.save_png(screen, &path) {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            }
        }
        let result = match &outcome.identities[..] {
            [id] => format!(
                "identity by {:?} ({} proof {})",
                id.method,
                if id.card_signed { "card signature" } else { "reader attestation" },
                if id.proof.is_ok() { "verified" } else { "FAILED" }
            ),
            [] => match &outcome.errors[..] {
                [e] => format!("no identity, error E{:03} ({:?})", e.code.0, e.remedy),
                es => format!("no identity, {} errors", es.len()),
            },
            ids => format!("{} identities", ids.len()),
        };
        let ok = verdict.is_ok();
        if !ok {
            failed += 1;
        }
        let tries = outcome.pin_tries_left.map(|t| t.to_string()).unwrap_or_else(|| "-".into());
        summary.push(format!(
            "{} {:<20} {:<9} {:>2} screens {:>3} APDUs  PIN tries left {}  {}{}",
            if ok { "PASS" } else { "FAIL" },
            scenario.name,
            scenario.persona,
            outcome.screens.len(),
            outcome.apdus,
            tries,
            result,
            verdict.err().map(|e| format!("  ← {e}")).unwrap_or_default()
        ));
        if !args.quiet {
            println!();
        }
    }
    println!("━━ summary ━━");
    for s in &summary {
        println!("{s}");
    }
    if renderer.is_some() {
        println!("screens written under {}", args.out.display());
    }
    if failed > 0 {
        println!("{failed} scenario(s) did not end as expected");
    }
    let chain_ok = args.no_chain || run_chain(&args);
    if failed > 0 || !chain_ok {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The chain after the screens; whether it ended as expected.
fn run_chain(args: &Args) -> bool {
    println!();
    println!("━━ chain: eligibility service, readers on TCP, shikaku run, receipt-computer folders ━━");
    let opts = ChainOptions { progress: !args.quiet, ..ChainOptions::default() };
    let report = match chain::run(&args.out, &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("chain: {e}");
            return false;
        }
    };
    println!("━━ chain summary ━━");
    print!("{}", report.summary());
    let failures = report.failures();
    if failures.is_empty() {
        println!("chain: every reception and request ended as expected");
        true
    } else {
        println!("chain: {} problem(s):", failures.len());
        for f in &failures {
            println!("  {f}");
        }
        false
    }
}
