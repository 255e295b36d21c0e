//! The time-driven work of [`Bot::sweep`]: payments whose code or escrow
//! hold ran out, forgetting old event outcomes, and the task that runs the
//! sweep on a timer.
//!
//! The design decision to know: the sweep only repeats what a command
//! would do (expire, refund) with the same derived transfer ids, so running
//! it twice, or in two processes at once, moves no money twice.

use std::sync::Arc;
use std::time::Duration;

use super::{Bot, Result};
use crate::store::PaymentState;

/// How long a handled event's outcome is kept for redeliveries. Platforms
/// redeliver within hours (Telegram keeps updates 24 hours).
pub const EVENT_RETENTION_MS: i64 = 7 * 24 * 60 * 60 * 1_000;
/// How often [`Bot::sweep`] forgets old event outcomes.
pub const EVENT_FORGET_INTERVAL_MS: i64 = 10 * 60 * 1_000;
/// Due payments handled per [`Bot::sweep`] round.
pub const SWEEP_PAYMENTS_MAX: u32 = 256;

impl Bot {
    /// Ends the payments that are due: a code that expired (voided by
    /// expiry, payer told), an escrow hold nobody claimed (refunded, payer
    /// told), a hold for review nobody decided (voided, payer told). Returns how many it ended.
    pub(super) async fn sweep_payments(&self, now_ms: i64) -> Result<usize> {
        let due = self.store.payments_due(now_ms, SWEEP_PAYMENTS_MAX).await?;
        let mut ended = 0;
        for payment in due {
            let done = match payment.state {
                PaymentState::AwaitingCode => self.expire_awaiting(payment, true).await?,
                PaymentState::Escrowed => self.refund_escrow(payment).await?,
                // A hold's deadline; or an approval whose process died
                // before the money moved: finished now.
                PaymentState::Held => match payment.review {
                    crate::trust::Review::Hold { .. } => self.expire_hold(payment, now_ms).await?,
                    _ => {
                        self.approve_held(payment, now_ms).await?;
                        true
                    }
                },
                _ => false,
            };
            if done {
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// Forgets event outcomes older than [`EVENT_RETENTION_MS`], at most
    /// once per [`EVENT_FORGET_INTERVAL_MS`].
    pub(super) async fn forget_old_events(&self, now_ms: i64) -> Result<()> {
        let last = self
            .events_forgotten_at_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        if now_ms.saturating_sub(last) >= EVENT_FORGET_INTERVAL_MS {
            self.events_forgotten_at_ms
                .store(now_ms, std::sync::atomic::Ordering::Relaxed);
            let forgotten = self
                .store
                .forget_events(now_ms.saturating_sub(EVENT_RETENTION_MS))
                .await?;
            if forgotten > 0 {
                tracing::debug!(forgotten, "forgot old event outcomes");
            }
        }
        Ok(())
    }

    /// Runs [`Bot::sweep`] every `interval` until `shutdown` changes.
    pub fn spawn_sweeper(
        self: &Arc<Bot>,
        interval: Duration,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let bot = Arc::clone(self);
        crate::periodic::spawn_periodic("bot sweep", interval, None, shutdown, move || {
            let bot = Arc::clone(&bot);
            async move { bot.sweep().await }
        })
    }
}
