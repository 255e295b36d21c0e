//! `paybot torture`: the bank test, after Jepsen's.

use std::process::ExitCode;

use clap::Args;

use crate::settings::Settings;

/// `paybot torture ...`
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct TortureArgs {}

/// Runs the bank test.
pub async fn run(_settings: &Settings, _args: &TortureArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
