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

/// Counts events of one kind and says when a log line about them is due:
/// at most one per interval, carrying the count since the last one, so an
/// attacker cannot flood the log.
#[derive(Debug)]
pub struct EveryInterval {
    interval: std::time::Duration,
    state: std::sync::Mutex<(Option<std::time::Instant>, u64)>,
}

impl EveryInterval {
    pub fn new(interval: std::time::Duration) -> EveryInterval {
        EveryInterval {
            interval,
            state: std::sync::Mutex::new((None, 0)),
        }
    }

    /// Counts one event; `Some(events since the last line)` when a line is
    /// due now.
    pub fn hit(&self) -> Option<u64> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.1 = state.1.saturating_add(1);
        let due = state
            .0
            .is_none_or(|logged| logged.elapsed() >= self.interval);
        if !due {
            return None;
        }
        let count = state.1;
        *state = (Some(std::time::Instant::now()), 0);
        Some(count)
    }
}
