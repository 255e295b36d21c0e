//! `paybot`: chat payments on a double-entry ledger. This binary is the
//! wiring: command line, settings, logging, and the commands themselves
//! (`serve`, `migrate`, `verify`).
//!
//! The one design decision to know: **settings are loaded once, here, and
//! passed down**; no module reads the environment or a global. Exit status:
//! 0 on success, 1 when `verify` finds a broken invariant, 2 on any error
//! (bad settings, unreachable database, ...), with the reason on stderr.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use paybot::cli::{Cli, Command};
use paybot::database::Verdict;
use paybot::settings::{self, Settings};
use paybot::{admin, app, bench, database, logging, sanctions, server, torture};

/// The global allocator: mimalloc, not glibc's. Measured on chat payments
/// in 16 pairs (`bench/HISTORY.md`, the round of 1be4a84): paybot's CPU
/// a payment down by a tenth, PostgreSQL chat payments/s up by 6% on
/// average, and peak RSS about twice as high (35 to 70 MiB for 3,000).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `verify` found a broken invariant.
const EXIT_VIOLATIONS: u8 = 1;
/// Anything went wrong.
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("paybot: error: {}", render(&error));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// The error and its causes on one line, `a: b: c`, skipping a cause whose
/// text its parent already includes (many errors print their source too).
fn render(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let settings: Settings = settings::load(cli.config.as_deref())?;
    let rust_log = std::env::var("RUST_LOG").ok();
    logging::init(&settings.log, rust_log.as_deref())?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match cli.command_or_serve() {
            Command::Serve => server::serve(&settings).await.map(|()| ExitCode::SUCCESS),
            Command::Chat => app::chat(&settings).await.map(|()| ExitCode::SUCCESS),
            Command::Migrate => database::migrate(&settings.database)
                .await
                .map(|()| ExitCode::SUCCESS),
            Command::CardSim { addr } => {
                let key = settings
                    .cards
                    .api_key
                    .as_ref()
                    .context("set the simulator's API key in PAYBOT_CARDS__API_KEY")?;
                paybot_cards::serve(addr, key, async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await
                .with_context(|| format!("cannot serve the card simulator on {addr}"))?;
                Ok(ExitCode::SUCCESS)
            }
            Command::DevBiller(args) => {
                let mut stdout = std::io::stdout();
                paybot::dev_biller::run(&settings, &args, &mut stdout)
                    .await
                    .map(|()| ExitCode::SUCCESS)
            }
            Command::Bench(args) => bench::run(&settings, &args).await,
            Command::Torture(args) => torture::run(&settings, &args).await,
            Command::Sanctions(args) => {
                // The operator a load is audited as, unless `--by` names one.
                let os_user = std::env::var("USER")
                    .or_else(|_| std::env::var("LOGNAME"))
                    .ok();
                let mut stdout = std::io::stdout();
                sanctions::run(&settings, &args, os_user.as_deref(), &mut stdout).await
            }
            Command::Verify => {
                // The command's output: violations, or the all-clear line.
                let mut stdout = std::io::stdout();
                let ledger = database::verify(&settings.database, &mut stdout).await?;
                let holds = admin::verify_holds(&settings, &mut stdout).await?;
                match (ledger, holds) {
                    (Verdict::Sound, admin::HoldsVerdict::Sound) => Ok(ExitCode::SUCCESS),
                    _ => Ok(ExitCode::from(EXIT_VIOLATIONS)),
                }
            }
            Command::Admin(args) => {
                let mut stdout = std::io::stdout();
                admin::run(&settings, &args, &mut stdout)
                    .await
                    .map(|()| ExitCode::SUCCESS)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Inner {
        #[error("socket closed")]
        Closed,
    }

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        // Prints its source and also returns it from `source()`.
        #[error("database error: {0}")]
        Database(#[from] Inner),
    }

    #[test]
    fn render_skips_causes_already_printed() {
        let error =
            anyhow::Error::new(Outer::from(Inner::Closed)).context("cannot open the ledger");
        assert_eq!(
            render(&error),
            "cannot open the ledger: database error: socket closed"
        );
        let plain = anyhow::Error::new(Inner::Closed).context("a").context("b");
        assert_eq!(render(&plain), "b: a: socket closed");
    }
}
