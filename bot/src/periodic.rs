//! The one loop behind the bot's background tasks (the sweep, the outbox
//! dispatcher): a round every `interval`, an early round when woken, a clean
//! stop when shutdown is signalled. A failed round is logged and retried at
//! the next tick.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// Runs `round` every `interval` (and soon after each `wake`) until
/// `shutdown` changes. `what` names the task in the log.
pub(crate) fn spawn_periodic<F, Fut, T, E>(
    what: &'static str,
    interval: Duration,
    wake: Option<Arc<Notify>>,
    mut shutdown: watch::Receiver<bool>,
    mut round: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, E>> + Send,
    E: Display,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let woken = async {
                match &wake {
                    Some(wake) => wake.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tick.tick() => {}
                () = woken => {}
                _ = shutdown.changed() => break,
            }
            if let Err(error) = round().await {
                tracing::warn!(%error, "{what} failed; will retry");
            }
        }
    })
}
