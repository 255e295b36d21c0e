//! Logging: `tracing` events to standard error, filtered by `log.filter`
//! unless `RUST_LOG` is set.

use std::io::IsTerminal;

use anyhow::{Context, anyhow};
use tracing_subscriber::EnvFilter;

use crate::settings::LogSettings;

/// Installs the global subscriber. `rust_log` is the `RUST_LOG` variable,
/// passed in by `main`; when set and not empty it replaces `log.filter`.
pub fn init(log: &LogSettings, rust_log: Option<&str>) -> anyhow::Result<()> {
    let filter = match rust_log.map(str::trim).filter(|r| !r.is_empty()) {
        Some(directives) => EnvFilter::try_new(directives)
            .with_context(|| format!("RUST_LOG={directives:?} is not a valid log filter"))?,
        // Checked when the settings were loaded.
        None => EnvFilter::try_new(&log.filter).context("log.filter")?,
    };
    let stderr = std::io::stderr();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(stderr.is_terminal())
        .with_writer(std::io::stderr)
        .try_init()
        .map_err(|e| anyhow!(e).context("cannot install the logger"))
}

/// Re-exported from the core, where the adapters use it too.
pub use bot::log_limit::EveryInterval;
