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
        let text = match (&reply.redacted, redact) {
            (Some(redacted), true) => redacted.clone(),
            _ => reply.text.clone(),
        };
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
    /// dropped (marked delivered, not counted as delivered).
    pub async fn drain(&self) -> Result<usize, LedgerError> {
        let _one = self.draining.lock().await;
        let mut delivered = 0;
        for _ in 0..DRAIN_ROUNDS_MAX {
            let batch = self
                .ledger
                .outbox_undelivered(DRAIN_BATCH_MESSAGES_MAX)
                .await?;
            let mut progress = false;
            // A bounce written this round is delivered in the next one.
            let mut bounced = false;
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
                    self.ledger.outbox_delivered(id).await?;
                    continue;
                };
                if u32::try_from(stored.attempts).unwrap_or(0) >= DELIVERY_ATTEMPTS_MAX {
                    tracing::error!(
                        id,
                        attempts = stored.attempts,
                        platform = %reply.platform,
                        "outbox message failed {DELIVERY_ATTEMPTS_MAX} times; dropped"
                    );
                    self.ledger.outbox_delivered(id).await?;
                    progress = true;
                    continue;
                }
                let Some(notifier) = self.notifier(reply.platform) else {
                    tracing::debug!(id, platform = %reply.platform, "no adapter for this platform yet");
                    continue;
                };
                match notifier.deliver(&reply).await {
                    Ok(()) => {
                        self.ledger.outbox_delivered(id).await?;
                        let lag_ms = self.ledger.now_ms().saturating_sub(stored.created_at_ms);
                        self.counters.deliveries.delivered(lag_ms);
                        delivered += 1;
                        progress = true;
                    }
                    Err(DeliveryError::Retry(error)) => {
                        tracing::warn!(id, %error, attempts = stored.attempts, "delivery failed; will retry");
                        self.ledger.outbox_failed(id).await?;
                    }
                    Err(DeliveryError::Undeliverable(error)) => {
                        tracing::warn!(id, %error, platform = %reply.platform, "undeliverable; dropped");
                        if let Some(bounce) = bounce {
                            // Written before the original is marked done, so
                            // a crash in between loses neither.
                            self.ledger
                                .enqueue_outbox(&[bounce_message(id, &bounce)?])
                                .await?;
                            bounced = true;
                        }
                        self.ledger.outbox_delivered(id).await?;
                        progress = true;
                    }
                }
            }
            let full = batch.len() >= usize::try_from(DRAIN_BATCH_MESSAGES_MAX).unwrap_or(0);
            if !progress || !(full || bounced) {
                break;
            }
        }
        Ok(delivered)
    }

    /// Drains every `interval`, and soon after each [`Dispatcher::wake`],
    /// until `shutdown` changes.
    pub fn spawn(
        self: &Arc<Dispatcher>,
        interval: Duration,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let dispatcher = Arc::clone(self);
        let wake = Some(Arc::clone(&self.wake));
        crate::periodic::spawn_periodic("outbox drain", interval, wake, shutdown, move || {
            let dispatcher = Arc::clone(&dispatcher);
            async move { dispatcher.drain().await }
        })
    }
}
