//! What the bot has done since it started, as plain counters an operator's
//! metrics endpoint reads: messages handled by platform and outcome,
//! payments ended by state, card-rail calls by call and result, and the
//! outbox's deliveries with their lag.
//!
//! The one design decision to know: **the core counts, it does not
//! export**. Every figure is an atomic counter bumped where the thing
//! happens (`Bot::handle`, the payment's final record, the card rail's
//! port, the outbox dispatcher), and [`Bot::stats`](crate::Bot::stats)
//! copies them into a plain [`BotStats`] value. Turning that into any
//! wire format (Prometheus's, in the binary) is the reader's business, so
//! this crate needs no metrics or HTTP crate. Counters start at zero with
//! the process, as a Prometheus counter may.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use crate::card::{
    CardNumber, CardRail, CardToken, CardTransfer, Expiry, RailError, RailOutcome, RailReference,
};
use crate::message::Platform;
use crate::store::PaymentState;
use crate::store::stored_names;

/// Upper bounds of the outbox lag buckets, in milliseconds: a delivery
/// whose lag is at most `OUTBOX_LAG_BUCKETS_MS[i]` counts in bucket `i` and
/// every one after it (cumulative, as Prometheus's `le`).
pub const OUTBOX_LAG_BUCKETS_MS: [u64; 12] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 60_000, 300_000,
];

/// The platforms, in the order the counters keep them.
pub const PLATFORMS: [Platform; 3] = [Platform::Mock, Platform::Telegram, Platform::Discord];

fn platform_index(platform: Platform) -> usize {
    match platform {
        Platform::Mock => 0,
        Platform::Telegram => 1,
        Platform::Discord => 2,
    }
}

stored_names! {
    /// What became of one message given to `Bot::handle`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum MessageOutcome {
        /// Handled now (a refusal or usage line counts: it was answered).
        Handled = "handled",
        /// A redelivery: the first outcome was answered again.
        Replayed = "replayed",
        /// A redelivery while another worker handles it: nothing answered.
        InProgress = "in_progress",
        /// Our side failed: the user got the internal-error line.
        Failed = "failed",
    }
}

stored_names! {
    /// A method of the [`CardRail`] port.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum RailCall {
        Tokenize = "tokenize",
        Pull = "pull",
        Push = "push",
        Reverse = "reverse",
        Status = "status",
    }
}

stored_names! {
    /// What one card-rail call answered.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum RailResult {
        /// The money moved (for `tokenize`: the card was tokenized).
        Approved = "approved",
        Declined = "declined",
        Pending = "pending",
        /// The rail refused the request itself ([`RailError::Permanent`]).
        Refused = "refused",
        /// No answer: unreachable, timed out, 5xx ([`RailError::Transient`]).
        Error = "error",
    }
}

const OUTCOMES: usize = MessageOutcome::ALL.len();
const STATES: usize = PaymentState::ALL.len();
const CALLS: usize = RailCall::ALL.len();
const RESULTS: usize = RailResult::ALL.len();
const LAG_BUCKETS: usize = OUTBOX_LAG_BUCKETS_MS.len();

/// The bot's counters; shared by the bot, its card rail and its dispatcher.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    messages: [[AtomicU64; OUTCOMES]; PLATFORMS.len()],
    payments_ended: [AtomicU64; STATES],
    rail_calls: [[AtomicU64; RESULTS]; CALLS],
    pub(crate) deliveries: DeliveryCounters,
}

fn bump(counter: Option<&AtomicU64>) {
    if let Some(counter) = counter {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl Counters {
    pub(crate) fn message(&self, platform: Platform, outcome: MessageOutcome) {
        let row = self.messages.get(platform_index(platform));
        bump(row.and_then(|row| row.get(outcome.index())));
    }

    /// A payment's record reached `state`; counted when final.
    pub(crate) fn payment_recorded(&self, state: PaymentState) {
        if state.is_final() {
            bump(self.payments_ended.get(state.index()));
        }
    }

    fn rail(&self, call: RailCall, result: RailResult) {
        let row = self.rail_calls.get(call.index());
        bump(row.and_then(|row| row.get(result.index())));
    }

    pub(crate) fn snapshot(&self) -> BotStats {
        let mut messages = Vec::new();
        for (platform, row) in PLATFORMS.iter().zip(&self.messages) {
            for (outcome, counter) in MessageOutcome::ALL.iter().zip(row) {
                messages.push((*platform, *outcome, load(counter)));
            }
        }
        let payments_ended = PaymentState::ALL
            .iter()
            .zip(&self.payments_ended)
            .filter(|(state, _)| state.is_final())
            .map(|(state, counter)| (*state, load(counter)))
            .collect();
        let mut rail_calls = Vec::new();
        for (call, row) in RailCall::ALL.iter().zip(&self.rail_calls) {
            for (result, counter) in RailResult::ALL.iter().zip(row) {
                rail_calls.push((*call, *result, load(counter)));
            }
        }
        BotStats {
            messages,
            payments_ended,
            rail_calls,
            outbox_lag: self.deliveries.snapshot(),
        }
    }
}

/// The outbox dispatcher's deliveries and their lag (from the message's
/// commit to its delivery).
#[derive(Debug, Default)]
pub(crate) struct DeliveryCounters {
    /// Cumulative: bucket `i` counts lags up to `OUTBOX_LAG_BUCKETS_MS[i]`.
    buckets: [AtomicU64; LAG_BUCKETS],
    count: AtomicU64,
    sum_ms: AtomicU64,
}

impl DeliveryCounters {
    /// One message delivered `lag_ms` after it was written (a clock that
    /// went back counts as no lag).
    pub(crate) fn delivered(&self, lag_ms: i64) {
        let lag_ms = u64::try_from(lag_ms).unwrap_or(0);
        for (bound, bucket) in OUTBOX_LAG_BUCKETS_MS.iter().zip(&self.buckets) {
            if lag_ms <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ms.fetch_add(lag_ms, Ordering::Relaxed);
    }

    fn snapshot(&self) -> LagHistogram {
        LagHistogram {
            buckets: std::array::from_fn(|i| {
                let bound = OUTBOX_LAG_BUCKETS_MS.get(i).copied().unwrap_or(u64::MAX);
                (bound, self.buckets.get(i).map_or(0, load))
            }),
            count: load(&self.count),
            sum_ms: load(&self.sum_ms),
        }
    }
}

/// A histogram of durations in milliseconds, cumulative as Prometheus's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LagHistogram {
    /// `(upper bound in ms, observations at most that)`, bounds ascending.
    pub buckets: [(u64, u64); OUTBOX_LAG_BUCKETS_MS.len()],
    /// Every observation (the `+Inf` bucket).
    pub count: u64,
    pub sum_ms: u64,
}

/// A copy of the bot's counters (see [`Bot::stats`](crate::Bot::stats)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotStats {
    /// Messages given to `Bot::handle`, by platform and outcome.
    pub messages: Vec<(Platform, MessageOutcome, u64)>,
    /// Payments this process recorded in a final state, by that state.
    pub payments_ended: Vec<(PaymentState, u64)>,
    /// Calls to the card rail, by method and result.
    pub rail_calls: Vec<(RailCall, RailResult, u64)>,
    /// Outbox messages delivered, by lag from commit to delivery.
    pub outbox_lag: LagHistogram,
}

impl BotStats {
    /// The count of one platform and outcome.
    pub fn messages(&self, platform: Platform, outcome: MessageOutcome) -> u64 {
        self.messages
            .iter()
            .find(|(p, o, _)| *p == platform && *o == outcome)
            .map_or(0, |(_, _, n)| *n)
    }
}

/// The card rail as the core calls it: every call counted by method and
/// result, then passed on unchanged.
pub(crate) struct CountedRail {
    inner: Arc<dyn CardRail>,
    counters: Arc<Counters>,
}

impl CountedRail {
    pub(crate) fn wrap(inner: Arc<dyn CardRail>, counters: Arc<Counters>) -> Arc<dyn CardRail> {
        Arc::new(CountedRail { inner, counters })
    }

    fn count(
        &self,
        call: RailCall,
        answer: Result<RailOutcome, RailError>,
    ) -> Result<RailOutcome, RailError> {
        let result = match &answer {
            Ok(RailOutcome::Approved { .. }) => RailResult::Approved,
            Ok(RailOutcome::Declined { .. }) => RailResult::Declined,
            Ok(RailOutcome::Pending { .. }) => RailResult::Pending,
            Err(RailError::Permanent(_)) => RailResult::Refused,
            Err(RailError::Transient(_)) => RailResult::Error,
        };
        self.counters.rail(call, result);
        answer
    }
}

impl fmt::Debug for CountedRail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CountedRail").field(&self.inner).finish()
    }
}

#[async_trait]
impl CardRail for CountedRail {
    async fn tokenize(&self, card: &CardNumber, expiry: Expiry) -> Result<CardToken, RailError> {
        let answer = self.inner.tokenize(card, expiry).await;
        let result = match &answer {
            Ok(_) => RailResult::Approved,
            Err(RailError::Permanent(_)) => RailResult::Refused,
            Err(RailError::Transient(_)) => RailResult::Error,
        };
        self.counters.rail(RailCall::Tokenize, result);
        answer
    }

    async fn pull(&self, transfer: &CardTransfer) -> Result<RailOutcome, RailError> {
        self.count(RailCall::Pull, self.inner.pull(transfer).await)
    }

    async fn push(&self, transfer: &CardTransfer) -> Result<RailOutcome, RailError> {
        self.count(RailCall::Push, self.inner.push(transfer).await)
    }

    async fn reverse(&self, original: &CardTransfer) -> Result<RailOutcome, RailError> {
        self.count(RailCall::Reverse, self.inner.reverse(original).await)
    }

    async fn status(&self, reference: &RailReference) -> Result<RailOutcome, RailError> {
        self.count(RailCall::Status, self.inner.status(reference).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_buckets_are_cumulative_and_negative_lag_is_none() {
        let counters = DeliveryCounters::default();
        counters.delivered(5);
        counters.delivered(300);
        counters.delivered(-20);
        counters.delivered(10_000_000);
        let lag = counters.snapshot();
        assert_eq!(lag.count, 4);
        assert_eq!(lag.sum_ms, 10_000_305);
        assert_eq!(lag.buckets[0], (10, 2));
        assert_eq!(lag.buckets[4], (250, 2));
        assert_eq!(lag.buckets[5], (500, 3));
        assert_eq!(lag.buckets[LAG_BUCKETS - 1], (300_000, 3));
    }

    #[test]
    fn only_final_payment_states_are_counted() {
        let counters = Counters::default();
        counters.payment_recorded(PaymentState::AwaitingCode);
        counters.payment_recorded(PaymentState::Completed);
        counters.payment_recorded(PaymentState::Completed);
        counters.message(Platform::Telegram, MessageOutcome::Replayed);
        let stats = counters.snapshot();
        assert!(stats.payments_ended.iter().all(|(s, _)| s.is_final()));
        assert!(stats.payments_ended.contains(&(PaymentState::Completed, 2)));
        assert_eq!(
            stats.messages(Platform::Telegram, MessageOutcome::Replayed),
            1
        );
        assert_eq!(stats.messages(Platform::Mock, MessageOutcome::Replayed), 0);
    }
}
