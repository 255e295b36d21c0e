//! `paybot bench`: throughput and latency of the ledger and of whole chat
//! payments, printed as figures (never asserted in tests).

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::settings::Settings;

/// `paybot bench ...`
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchCommand,
}

/// What to measure.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum BenchCommand {
    /// Transfers through the ledger's group-commit path.
    Ledger,
    /// Whole chat payments (`/pay` then `/confirm`) through the mock chat.
    Chat,
}

/// Runs the benchmark `args` names.
pub async fn run(_settings: &Settings, _args: &BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
