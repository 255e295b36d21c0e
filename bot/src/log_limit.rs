//! A bound on log lines about events an outsider can cause at will (a
//! refused webhook call, a wrong API token, a shed request): at most one
//! line per interval, carrying the count since the last one, so an
//! attacker cannot flood the log.
//!
//! The design decision to know: this reads the monotonic clock itself
//! rather than the ledger's injected clock, because it decides only when a
//! log line is written, never what the bot does.

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

/// How far apart refusal log lines are, at least, in seconds.
pub const REFUSAL_LOG_INTERVAL_SECS: u64 = 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count() {
        let every = EveryInterval::new(std::time::Duration::from_secs(3_600));
        assert_eq!(every.hit(), Some(1), "the first event is logged");
        assert_eq!(every.hit(), None);
        assert_eq!(every.hit(), None);
        let now = EveryInterval::new(std::time::Duration::ZERO);
        assert_eq!(now.hit(), Some(1));
        assert_eq!(now.hit(), Some(1), "a zero interval logs each");
    }
}
