//! `shikaku pcsc`: generic PC/SC readers (smartphone マイナ保険証, a card on a plain NFC reader).

use std::time::Duration;

use clap::Subcommand;
use shikaku_card::secret::Pin4;
use shikaku_host::smartcard::{read_identity, PcscService, PinSource};

#[derive(Subcommand)]
pub(crate) enum Action {
    /// Lists readers and whether a card is present.
    List,
    /// Waits for a card, then reads kind and auth certificate (and signs with --pin).
    Read {
        /// Reader name (default: the first with a card).
        reader: Option<String>,
        /// Ask for the PIN on this PC and have the card sign a test challenge.
        #[arg(long)]
        pin: bool,
        /// Seconds to wait for a card.
        #[arg(long, default_value_t = 30)]
        wait: u64,
        /// Write the auth certificate (DER) here.
        #[arg(long)]
        cert_out: Option<std::path::PathBuf>,
    },
}

pub(crate) fn run(action: Action) -> Result<(), String> {
    let mut svc = PcscService::new();
    match action {
        Action::List => {
            for r in svc.readers().map_err(|e| e.to_string())? {
                println!("{}{}", r.name, if r.card_present { "  [card]" } else { "" });
            }
            Ok(())
        }
        Action::Read { reader, pin, wait, cert_out } => {
            let name = match reader {
                Some(r) => r,
                None => svc
                    .readers()
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .find(|r| r.card_present)
                    .or_else(|| svc.readers().ok().and_then(|r| r.into_iter().next()))
                    .map(|r| r.name)
                    .ok_or("no PC/SC reader")?,
            };
            if !svc.wait_for_card(&name, Duration::from_secs(wait)).map_err(|e| e.to_string())? {
                return Err(format!("no card on {name} within {wait}s"));
            }
            let mut card = svc.connect(&name).map_err(|e| e.to_string())?;
            let source = if pin {
                let typed = rpassword::prompt_password("PIN (4 digits): ").map_err(|e| e.to_string())?;
                let pin = Pin4::from_ascii(typed.trim().as_bytes()).ok_or("the PIN is 4 digits")?;
                PinSource::Typed { pin, confirm_last_try: false }
            } else {
                PinSource::None
            };
            let challenge: [u8; 32] = shikaku_host::os::random().map_err(|e| e.to_string())?;
            let r = read_identity(&mut card, source, &challenge).map_err(|e| e.to_string())?;
            println!("reader: {name}");
            println!("kind: {:?}", r.kind);
            println!("auth certificate: {} bytes", r.auth_cert.len());
            if let Some(t) = r.tries_left {
                println!("PIN tries left before this read: {t}");
            }
            if let Some(sig) = &r.signature {
                println!("signature over a fresh challenge: {} bytes", sig.len());
            }
            if let Some(path) = cert_out {
                std::fs::write(&path, &r.auth_cert).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            Ok(())
        }
    }
}
