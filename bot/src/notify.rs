//! Messages to people other than the one who typed: the payee told they were
//! paid, the requestee asked to pay, the payer told a payment expired.
//!
//! The design decision to know: such a message is never sent directly. It is
//! written to the ledger's transactional outbox, in the same database
//! transaction as the money movement it announces (or on its own when there
//! is none), with an id derived from what it announces. A [`Dispatcher`]
//! then hands outbox messages to the adapter of their platform (a
//! [`Notifier`]) and marks each delivered. A crash between commit and send
//! loses nothing (delivered at least once); a retried event writes the same
//! id again, which the outbox keeps once (deduplicated).
//!
//! A delivery that fails for a while ([`DeliveryError::Retry`]) is tried again
//! in later rounds, at most [`DELIVERY_ATTEMPTS_MAX`] times; one that can
//! never succeed ([`DeliveryError::Undeliverable`]: the user blocked the bot,
//! or never opened a direct chat with it) is logged and dropped; if it
//! carries a bounce (the payee's "paid you", the requestee's request), the
//! person whose action it announced is told instead, through the outbox.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use ledger::{Ledger, LedgerError, OutboxMessage, TransferId};
use serde::{Deserialize, Serialize};

use crate::message::{
    Audience, Button, ChatId, Deletion, MessageId, Platform, PlatformUserId, Reply,
};

/// The outbox topic of chat messages.
pub const CHAT_TOPIC: &str = "chat";
/// Outbox messages handed out per drain round.
pub const DRAIN_BATCH_MESSAGES_MAX: u32 = 256;
/// Rounds per [`Dispatcher::drain`] call, so one call ends even when new
/// messages keep arriving.
pub const DRAIN_ROUNDS_MAX: usize = 16;
/// Recipients whose messages are being delivered at once in a drain round
/// (each recipient's messages go one after another, in order).
pub const DELIVERIES_IN_FLIGHT_MAX: usize = 32;
/// Deliveries tried per outbox message. A message whose stored attempts
/// reach this is dropped with an error log instead of tried again (a
/// dead-letter bound, so one broken message cannot be retried forever).
pub const DELIVERY_ATTEMPTS_MAX: u32 = 50;

/// An adapter's way to deliver one message. Implemented by each chat
/// adapter; the core never names a chat SDK.
#[async_trait]
pub trait Notifier: Send + Sync + fmt::Debug {
    /// Delivers `reply` (its platform is this notifier's).
    /// [`DeliveryError::Retry`] leaves the message in the outbox for the
    /// next round; [`DeliveryError::Undeliverable`] drops it.
    async fn deliver(&self, reply: &Reply) -> Result<(), DeliveryError>;
}

/// A delivery that did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Transient (the platform is down, rate limits, a timeout): the
    /// message stays in the outbox and is tried again in a later round.
    #[error("delivery failed, will retry: {0}")]
    Retry(String),
    /// Permanent (the user blocked the bot, or never opened a direct chat
    /// with it, which some platforms require): the message is logged and
    /// dropped.
    #[error("undeliverable: {0}")]
    Undeliverable(String),
}

/// The stored form of a [`Button`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredButton {
    pub(crate) label: String,
    pub(crate) command: String,
}

/// The stored form of a [`Reply`] in the outbox (and in event outcomes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredReply {
    pub(crate) platform: String,
    /// `"chat"` or `"private"`.
    pub(crate) audience: String,
    pub(crate) to: String,
    pub(crate) text: String,
    /// Never a secret, so kept in event outcomes too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) buttons: Vec<StoredButton>,
    /// Outbox only: sent instead (as a new outbox message) when this one
    /// is [`DeliveryError::Undeliverable`]: the person whose action it
    /// announced is told it did not reach its recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) bounce: Option<Box<StoredReply>>,
    /// The message to delete first (see [`Deletion`]); kept in event
    /// outcomes, so a redelivered event tries again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) deletion: Option<StoredDeletion>,
}

/// The stored form of a [`Deletion`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredDeletion {
    pub(crate) message: String,
    pub(crate) text_if_deleted: String,
}

impl StoredReply {
    /// `redact`: keep [`Reply::redacted`] instead of the text when it has one
    /// (for event outcomes, which must not keep codes).
    pub(crate) fn from_reply(reply: &Reply, redact: bool) -> StoredReply {
        let (audience, to) = match &reply.audience {
            Audience::Chat(chat) => ("chat", chat.as_str()),
            Audience::Private(user) => ("private", user.as_str()),
        };
        let mut text = match (&reply.redacted, redact) {
            (Some(redacted), true) => redacted.clone(),
            _ => reply.text.clone(),
        };
        // A file is never stored: what is kept says it went with the
        // first answer (a redelivered event gets the text without it).
        if let Some(document) = &reply.document {
            text.push_str(&format!(
                "\n(The file {} went with my first answer to this message; ask again for a new copy.)",
                document.name()
            ));
        }
        StoredReply {
            platform: reply.platform.as_str().to_owned(),
            audience: audience.to_owned(),
            to: to.to_owned(),
            text,
            buttons: reply
                .buttons
                .iter()
                .map(|b| StoredButton {
                    label: b.label.clone(),
                    command: b.command.clone(),
                })
                .collect(),
            bounce: None,
            deletion: reply.deletion.as_ref().map(|d| StoredDeletion {
                message: d.message.as_str().to_owned(),
                text_if_deleted: d.text_if_deleted.clone(),
            }),
        }
    }

    pub(crate) fn into_reply(self) -> Option<Reply> {
        let platform = Platform::from_str_opt(&self.platform)?;
        let audience = match self.audience.as_str() {
            "chat" => Audience::Chat(ChatId::new(self.to).ok()?),
            "private" => Audience::Private(PlatformUserId::new(self.to).ok()?),
            _ => return None,
        };
        Some(Reply {
            image: None,
            document: None,
            platform,
            audience,
            text: self.text,
            redacted: None,
            buttons: self
                .buttons
                .into_iter()
                .map(|b| Button {
                    label: b.label,
                    command: b.command,
                })
                .collect(),
            deletion: match self.deletion {
                Some(d) => Some(Deletion {
                    message: MessageId::new(d.message).ok()?,
                    text_if_deleted: d.text_if_deleted,
                }),
                None => None,
            },
        })
    }
}

/// The outbox message for `reply`, with an id derived from `key` (what it
/// announces, e.g. "payment P7K2QX completed, to the payee").
pub(crate) fn outbox_message(key: &str, reply: &Reply) -> Result<OutboxMessage, LedgerError> {
    outbox_message_with_bounce(key, reply, None)
}

/// [`outbox_message`], with the message to send instead if `reply` turns
/// out to be undeliverable (see [`StoredReply::bounce`]).
pub(crate) fn outbox_message_with_bounce(
    key: &str,
    reply: &Reply,
    bounce: Option<&Reply>,
) -> Result<OutboxMessage, LedgerError> {
    let id = TransferId::derive("paybot.bot.outbox", key.as_bytes()).as_u128();
    let mut stored = StoredReply::from_reply(reply, false);
    stored.bounce = bounce.map(|b| Box::new(StoredReply::from_reply(b, false)));
    let payload =
        serde_json::to_string(&stored).map_err(|_| LedgerError::InvalidOutbox("payload"))?;
    OutboxMessage::new(id, CHAT_TOPIC, payload)
}

/// The outbox message that tells [`StoredReply::bounce`]'s recipient that
/// outbox message `id` could not be delivered. Its id is derived from
/// `id`, so a second failed attempt adds nothing.
fn bounce_message(id: u128, bounce: &StoredReply) -> Result<OutboxMessage, LedgerError> {
    let bounce_id = TransferId::derive("paybot.bot.outbox.bounce", &id.to_be_bytes()).as_u128();
    let payload =
        serde_json::to_string(bounce).map_err(|_| LedgerError::InvalidOutbox("payload"))?;
    OutboxMessage::new(bounce_id, CHAT_TOPIC, payload)
}

/// Hands outbox messages to their platform's [`Notifier`].
pub struct Dispatcher {
    ledger: Ledger,
    notifiers: RwLock<HashMap<Platform, Arc<dyn Notifier>>>,
    /// One drain at a time in this process, so no message is handed out
    /// twice by it (another process may still: delivery is at least once).
    draining: tokio::sync::Mutex<()>,
    /// Marks of a round that could not be written (the database went away
    /// after its messages were handed out). The next round writes them
    /// before it reads the outbox again, so a message that reached its
    /// recipient is marked, not handed out a second time by this process.
    /// At most one round's worth: no round reads on while it is not empty.
    unwritten: tokio::sync::Mutex<Marks>,
    wake: Arc<tokio::sync::Notify>,
    /// Deliveries and their lag, read by `Bot::stats`.
    counters: Arc<crate::stats::Counters>,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher").finish_non_exhaustive()
    }
}

impl Dispatcher {
    pub fn new(ledger: Ledger) -> Dispatcher {
        Dispatcher::counted(ledger, Arc::default())
    }

    /// A dispatcher that counts its deliveries in `counters`.
    pub(crate) fn counted(ledger: Ledger, counters: Arc<crate::stats::Counters>) -> Dispatcher {
        Dispatcher {
            ledger,
            notifiers: RwLock::new(HashMap::new()),
            draining: tokio::sync::Mutex::new(()),
            unwritten: tokio::sync::Mutex::new(Marks::default()),
            wake: Arc::new(tokio::sync::Notify::new()),
            counters,
        }
    }

    /// Routes `platform`'s messages to `notifier` from now on.
    pub fn register(&self, platform: Platform, notifier: Arc<dyn Notifier>) {
        if let Ok(mut notifiers) = self.notifiers.write() {
            notifiers.insert(platform, notifier);
        }
    }

    /// Asks the background task (see [`Dispatcher::spawn`]) to drain soon.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    fn notifier(&self, platform: Platform) -> Option<Arc<dyn Notifier>> {
        self.notifiers
            .read()
            .ok()
            .and_then(|n| n.get(&platform).cloned())
    }

    /// Delivers what is waiting; returns how many messages were delivered.
    /// A message whose platform has no notifier stays in the outbox for a
    /// later round; so does one whose delivery failed with
    /// [`DeliveryError::Retry`] (its attempt counted), until it has been
    /// tried [`DELIVERY_ATTEMPTS_MAX`] times. An undeliverable message is
    /// dropped (marked delivered, not counted as delivered). At most
    /// [`DRAIN_ROUNDS_MAX`] rounds, so a call ends even when new messages
    /// keep arriving (the background task of [`Dispatcher::spawn`] goes on
    /// while there is a backlog).
    pub async fn drain(&self) -> Result<usize, LedgerError> {
        let _one = self.draining.lock().await;
        Ok(self.drain_rounds().await?.delivered)
    }

    /// [`Dispatcher::drain`], unless a drain is running already in this
    /// process (`None`): that one goes on while it finds messages.
    pub async fn try_drain(&self) -> Result<Option<usize>, LedgerError> {
        let Ok(_one) = self.draining.try_lock() else {
            return Ok(None);
        };
        Ok(Some(self.drain_rounds().await?.delivered))
    }

    /// Up to [`DRAIN_ROUNDS_MAX`] rounds; the caller holds `draining`.
    async fn drain_rounds(&self) -> Result<Drained, LedgerError> {
        let mut delivered = 0;
        for _ in 0..DRAIN_ROUNDS_MAX {
            let round = self.round().await?;
            delivered += round.delivered;
            // A full batch may have more behind it; a bounce written this
            // round is delivered in the next one.
            if !round.progress || !(round.full || round.bounced) {
                return Ok(Drained {
                    delivered,
                    backlog: false,
                });
            }
        }
        Ok(Drained {
            delivered,
            backlog: true,
        })
    }

    /// One batch: handed to the notifiers, each recipient's messages in
    /// order and up to [`DELIVERIES_IN_FLIGHT_MAX`] recipients at once,
    /// then marked in one commit per kind of mark.
    async fn round(&self) -> Result<Round, LedgerError> {
        {
            let mut unwritten = self.unwritten.lock().await;
            if !unwritten.is_empty() {
                self.write(&unwritten).await?;
                *unwritten = Marks::default();
            }
        }
        let batch = self
            .ledger
            .outbox_undelivered(DRAIN_BATCH_MESSAGES_MAX)
            .await?;
        let mut round = Round {
            full: batch.len() >= usize::try_from(DRAIN_BATCH_MESSAGES_MAX).unwrap_or(0),
            ..Round::default()
        };
        // Marked delivered: delivered, undeliverable, or dropped.
        let mut done: Vec<u128> = Vec::new();
        let mut failed: Vec<u128> = Vec::new();
        let mut bounces: Vec<OutboxMessage> = Vec::new();
        let mut queues: Vec<Queue> = Vec::new();
        let mut queue_of: HashMap<String, usize> = HashMap::new();
        for stored in &batch {
            let id = stored.message.id();
            if stored.message.topic() != CHAT_TOPIC {
                continue;
            }
            let decoded = serde_json::from_str::<StoredReply>(stored.message.payload()).ok();
            let bounce = decoded.as_ref().and_then(|d| d.bounce.clone());
            let reply = decoded.and_then(StoredReply::into_reply);
            let Some(reply) = reply else {
                tracing::error!(id, "undecodable outbox message; dropped");
                done.push(id);
                round.progress = true;
                continue;
            };
            if u32::try_from(stored.attempts).unwrap_or(0) >= DELIVERY_ATTEMPTS_MAX {
                tracing::error!(
                    id,
                    attempts = stored.attempts,
                    platform = %reply.platform,
                    "outbox message failed {DELIVERY_ATTEMPTS_MAX} times; dropped"
                );
                done.push(id);
                round.progress = true;
                continue;
            }
            let Some(notifier) = self.notifier(reply.platform) else {
                tracing::debug!(id, platform = %reply.platform, "no adapter for this platform yet");
                continue;
            };
            let pending = Pending {
                id,
                created_at_ms: stored.created_at_ms,
                attempts: stored.attempts,
                bounce,
                reply,
            };
            let recipient = recipient(&pending.reply);
            match queue_of.get(&recipient).and_then(|&i| queues.get_mut(i)) {
                Some(queue) => queue.messages.push(pending),
                None => {
                    queue_of.insert(recipient, queues.len());
                    queues.push(Queue {
                        notifier,
                        messages: vec![pending],
                    });
                }
            }
        }
        let mut queues = queues.into_iter();
        let mut in_flight = tokio::task::JoinSet::new();
        // Each task's messages, so a task that panicked (a notifier's bug)
        // counts as a failed attempt of each: its messages are dropped after
        // `DELIVERY_ATTEMPTS_MAX` instead of blocking their recipient.
        let mut tasks: HashMap<tokio::task::Id, Vec<u128>> = HashMap::new();
        loop {
            while in_flight.len() < DELIVERIES_IN_FLIGHT_MAX {
                let Some(queue) = queues.next() else { break };
                let ids: Vec<u128> = queue.messages.iter().map(|p| p.id).collect();
                let task = in_flight.spawn(queue.deliver());
                tasks.insert(task.id(), ids);
            }
            let Some(joined) = in_flight.join_next_with_id().await else {
                break;
            };
            let outcomes = match joined {
                Ok((task, outcomes)) => {
                    tasks.remove(&task);
                    outcomes
                }
                Err(error) => {
                    tracing::error!(%error, "a delivery task failed; its messages count a failed attempt");
                    failed.extend(tasks.remove(&error.id()).unwrap_or_default());
                    continue;
                }
            };
            for (pending, outcome) in outcomes {
                let id = pending.id;
                match outcome {
                    Ok(()) => {
                        done.push(id);
                        let lag_ms = self.ledger.now_ms().saturating_sub(pending.created_at_ms);
                        self.counters.deliveries.delivered(lag_ms);
                        round.delivered += 1;
                        round.progress = true;
                    }
                    Err(DeliveryError::Retry(error)) => {
                        tracing::warn!(id, %error, attempts = pending.attempts, "delivery failed; will retry");
                        failed.push(id);
                    }
                    Err(DeliveryError::Undeliverable(error)) => {
                        tracing::warn!(id, %error, platform = %pending.reply.platform, "undeliverable; dropped");
                        if let Some(bounce) = &pending.bounce {
                            bounces.push(bounce_message(id, bounce)?);
                            round.bounced = true;
                        }
                        done.push(id);
                        round.progress = true;
                    }
                }
            }
        }
        let marks = Marks {
            bounces,
            done,
            failed,
        };
        if let Err(error) = self.write(&marks).await {
            *self.unwritten.lock().await = marks;
            return Err(error);
        }
        Ok(round)
    }

    /// Writes a round's marks. Bounces are written before the originals
    /// are marked done, so a crash in between loses neither; each write
    /// may be repeated (bounce ids deduplicate, a delivered mark is a
    /// mark), so a round whose write failed half-way writes all again.
    async fn write(&self, marks: &Marks) -> Result<(), LedgerError> {
        if !marks.bounces.is_empty() {
            self.ledger.enqueue_outbox(&marks.bounces).await?;
        }
        self.ledger.outbox_delivered_many(&marks.done).await?;
        self.ledger.outbox_failed_many(&marks.failed).await
    }

    /// Drains every `interval`, and soon after each [`Dispatcher::wake`],
    /// until `shutdown` changes. While a drain leaves a backlog (its last
    /// batch was full), the next one starts at once rather than at the
    /// next tick.
    pub fn spawn(
        self: &Arc<Dispatcher>,
        interval: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let dispatcher = Arc::clone(self);
        let wake = Arc::clone(&self.wake);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut backlog = false;
            loop {
                if backlog {
                    if shutdown.has_changed().unwrap_or(true) {
                        break;
                    }
                } else {
                    tokio::select! {
                        _ = tick.tick() => {}
                        () = wake.notified() => {}
                        _ = shutdown.changed() => break,
                    }
                }
                let drained = {
                    let _one = dispatcher.draining.lock().await;
                    dispatcher.drain_rounds().await
                };
                backlog = match drained {
                    Ok(drained) => drained.backlog,
                    Err(error) => {
                        tracing::warn!(%error, "outbox drain failed; will retry");
                        false
                    }
                };
            }
        })
    }
}

/// What [`Dispatcher::drain_rounds`] did.
struct Drained {
    delivered: usize,
    /// The last round's batch was full and moved: more is likely waiting.
    backlog: bool,
}

/// What a round writes back to the outbox once its messages were handed out.
#[derive(Default)]
struct Marks {
    /// Bounces of undeliverable messages (written first).
    bounces: Vec<OutboxMessage>,
    /// Delivered, undeliverable or dropped: not handed out again.
    done: Vec<u128>,
    /// Tried and failed: one more attempt counted.
    failed: Vec<u128>,
}

impl Marks {
    fn is_empty(&self) -> bool {
        self.bounces.is_empty() && self.done.is_empty() && self.failed.is_empty()
    }
}

/// What one drain round did.
#[derive(Debug, Default)]
struct Round {
    delivered: usize,
    /// Some message left the outbox.
    progress: bool,
    /// Some bounce was written (it is delivered in the next round).
    bounced: bool,
    /// The batch was as large as asked for: more may be waiting.
    full: bool,
}

/// An outbox message to hand to its notifier.
struct Pending {
    id: u128,
    /// When it was written (ms), for the delivery lag.
    created_at_ms: i64,
    attempts: i32,
    bounce: Option<Box<StoredReply>>,
    reply: Reply,
}

/// One recipient's messages of a round, oldest first, and their notifier.
struct Queue {
    notifier: Arc<dyn Notifier>,
    messages: Vec<Pending>,
}

impl Queue {
    /// Delivers the messages one after another (a recipient sees them in
    /// the order they were written), each with its outcome.
    ///
    /// A message that must be tried again stops the queue: the recipient's
    /// later messages wait for the next round behind it (neither marked nor
    /// counted as failed), so they are never seen before it.
    async fn deliver(self) -> Vec<(Pending, Result<(), DeliveryError>)> {
        let mut outcomes = Vec::with_capacity(self.messages.len());
        for pending in self.messages {
            let outcome = self.notifier.deliver(&pending.reply).await;
            let retry = matches!(outcome, Err(DeliveryError::Retry(_)));
            outcomes.push((pending, outcome));
            if retry {
                break;
            }
        }
        outcomes
    }
}

/// Who a reply reaches: its platform and audience.
fn recipient(reply: &Reply) -> String {
    let (kind, to) = match &reply.audience {
        Audience::Chat(chat) => ("chat", chat.as_str()),
        Audience::Private(user) => ("private", user.as_str()),
    };
    format!("{}/{kind}/{to}", reply.platform.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Document;

    /// A file is never stored: a redelivered event's reply comes back
    /// without it, its text saying it went with the first answer.
    #[test]
    fn a_stored_reply_keeps_no_file_and_says_so() {
        let file = Document::csv("paybot-history-2026-12-05.csv", "a,b\n".to_owned()).unwrap();
        let reply = Reply {
            platform: Platform::Mock,
            audience: Audience::Private(PlatformUserId::new("alice").unwrap()),
            text: "Your history as a CSV file.".to_owned(),
            redacted: None,
            buttons: Vec::new(),
            deletion: None,
            image: None,
            document: Some(file),
        };
        let stored = StoredReply::from_reply(&reply, true);
        assert!(!serde_json::to_string(&stored).unwrap().contains("a,b"));
        let back = stored.into_reply().unwrap();
        assert_eq!(back.document, None);
        assert!(back.text.starts_with("Your history as a CSV file.\n"));
        assert!(back.text.contains(
            "The file paybot-history-2026-12-05.csv went with my first answer to this message"
        ));
    }
}
