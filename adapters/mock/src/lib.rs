//! `paybot-mock`: the developer's chat, with no tokens and no network.
//!
//! In-process for tests ([`MockChat::send`], and conversation scripts as
//! data files, see [`script`]), `paybot chat` in a terminal ([`repl`]), and
//! an HTTP API on the paybot server ([`router`]). The design decision to
//! know: mock users are platform `mock` with handle = name = platform id,
//! and everything goes through the same `bot` core as real platforms; the
//! mock only plays the chat service: it turns a line into an
//! [`Incoming`](bot::message::Incoming) and keeps every user's inbox.
//!
//! Group membership is implicit: whoever speaks in a group is in it, and a
//! message to the group reaches every member (the sender included). Each
//! group also keeps what its members see in it, users' messages included
//! ([`MockChat::chat_messages`]), so a message the bot deletes (a card
//! number) is seen to vanish; the mock bot may always delete. An
//! `@name` in the text is a platform mention when `name` has spoken before
//! (the platform knows them); otherwise it stays a bare handle, so paying
//! someone who never used the chat exercises the escrow path.

pub mod http;
pub mod repl;
pub mod script;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bot::Bot;
use bot::message::{
    Audience, Chat, ChatId, ChatKind, EventId, Handle, Incoming, MESSAGE_TEXT_BYTES_MAX, Mention,
    MessageId, Platform, PlatformUserId, Reply, User,
};
use bot::notify::{DeliveryError, Notifier};
use serde::Serialize;

pub use http::router;
pub use repl::repl;

/// The bot's own name in the mock chat (`/pay@paybot`, and a bot user that
/// cannot be paid).
pub const MOCK_BOT_NAME: &str = "paybot";
/// What `chat` is for a direct (one-to-one) chat with the bot.
pub const DM: &str = "dm";
/// The longest group name, in characters.
pub const GROUP_NAME_CHARS_MAX: usize = 64;
/// Outcomes kept for redelivered event ids (oldest forgotten first).
pub const REMEMBERED_EVENTS_MAX: usize = 10_000;
/// Messages kept per user inbox (oldest dropped first).
pub const INBOX_MESSAGES_MAX: usize = 10_000;
/// Messages kept per group's history (oldest dropped first).
pub const CHAT_MESSAGES_MAX: usize = 10_000;

/// One message a user received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// The user's name.
    pub to: String,
    /// [`DM`] or the group's name.
    pub chat: String,
    pub text: String,
}

/// One message as the members of a group see it in the group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Posted {
    /// The message's id (`m17`).
    pub id: String,
    /// Who wrote it: a user's name, or [`MOCK_BOT_NAME`].
    pub from: String,
    /// Empty once deleted: the mock keeps nothing of a deleted message.
    pub text: String,
    pub deleted: bool,
}

/// What one sent message caused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sent {
    /// The id the message got (`m17`); the same on a redelivery.
    pub message: String,
    /// Replies in the chat, DMs, and notifications to other users.
    pub deliveries: Vec<Delivery>,
    /// Ids of messages the bot deleted (the sent one, if it held a card
    /// number and was posted in a group).
    pub deleted: Vec<String>,
}

/// Why a mock message was refused. `Display` is the message for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MockError {
    #[error("`from` must be a user name: 1 to 32 letters, digits, `_` or `.`")]
    BadUser,
    #[error("`from` cannot be `{MOCK_BOT_NAME}`: that is the bot")]
    BotUser,
    #[error(
        "`chat` must be \"dm\" or a group name: 1 to {GROUP_NAME_CHARS_MAX} letters, digits, `_`, `-` or `.`"
    )]
    BadChat,
    #[error("`text` must be 1 to {MESSAGE_TEXT_BYTES_MAX} bytes")]
    BadText,
    #[error("`id` must be 1 to 128 printable characters without spaces")]
    BadId,
    #[error("`reply_to` must be a user name")]
    BadReplyTo,
    #[error("no group of that name has any message")]
    NoSuchChat,
}

impl MockError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            MockError::BadUser => "bad_user",
            MockError::BotUser => "bot_user",
            MockError::BadChat => "bad_chat",
            MockError::BadText => "bad_text",
            MockError::BadId => "bad_id",
            MockError::BadReplyTo => "bad_reply_to",
            MockError::NoSuchChat => "no_such_chat",
        }
    }
}

/// One message to send, as a client gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outgoing {
    pub from: String,
    pub chat: String,
    pub text: String,
    /// The event id; the same id again is a redelivery. `None`: a fresh one.
    pub id: Option<String>,
    /// The author of the message this one replies to (for `/pay 5` as a
    /// reply).
    pub reply_to: Option<String>,
}

#[derive(Default)]
struct State {
    /// Each user's messages, oldest first.
    inboxes: HashMap<String, VecDeque<Delivery>>,
    /// Group name → members.
    groups: HashMap<String, BTreeSet<String>>,
    /// Users who have spoken.
    known: BTreeSet<String>,
    /// Group name → what its members see in it, oldest first.
    chats: HashMap<String, VecDeque<Posted>>,
    /// The number of the last message id given out.
    last_message: u64,
    /// Event id → what the first delivery caused.
    outcomes: HashMap<String, Sent>,
    outcome_order: VecDeque<String>,
    /// Deliveries made since the current `send` started.
    collecting: Vec<Delivery>,
    /// Messages deleted since the current `send` started.
    deleting: Vec<String>,
}

impl State {
    fn post(&mut self, group: &str, posted: Posted) {
        let history = self.chats.entry(group.to_owned()).or_default();
        history.push_back(posted);
        if history.len() > CHAT_MESSAGES_MAX {
            history.pop_front();
        }
    }

    /// Deletes message `id` of `group`: `false` when there is no such
    /// message (or it is gone already).
    fn delete(&mut self, group: &str, id: &str) -> bool {
        let Some(posted) = self
            .chats
            .get_mut(group)
            .and_then(|history| history.iter_mut().find(|p| p.id == id && !p.deleted))
        else {
            return false;
        };
        posted.deleted = true;
        posted.text.clear();
        self.deleting.push(id.to_owned());
        true
    }
}

/// The mock chat service.
pub struct MockChat {
    bot: Arc<Bot>,
    state: Mutex<State>,
    /// One message at a time, so each answer lists exactly what it caused.
    turn: tokio::sync::Mutex<()>,
}

impl fmt::Debug for MockChat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockChat").finish_non_exhaustive()
    }
}

/// Delivers the bot's outbox messages for the mock platform.
#[derive(Debug)]
struct MockNotifier(std::sync::Weak<MockChat>);

#[async_trait]
impl Notifier for MockNotifier {
    async fn deliver(&self, reply: &Reply) -> Result<(), DeliveryError> {
        let chat = self
            .0
            .upgrade()
            .ok_or_else(|| DeliveryError::Retry("the mock chat is gone".to_owned()))?;
        chat.deliver(reply);
        Ok(())
    }
}

fn valid_group(name: &str) -> bool {
    (1..=GROUP_NAME_CHARS_MAX).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn mock_user(name: &Handle) -> Result<User, MockError> {
    Ok(User {
        id: PlatformUserId::new(name.as_str()).map_err(|_| MockError::BadUser)?,
        handle: Some(name.clone()),
        display_name: name.as_str().to_owned(),
        is_bot: name.as_str() == MOCK_BOT_NAME,
    })
}

impl MockChat {
    /// A mock chat in front of `bot`; registers itself as the mock
    /// platform's notifier.
    pub fn new(bot: Arc<Bot>) -> Arc<MockChat> {
        bot.set_username(Platform::Mock, MOCK_BOT_NAME);
        let chat = Arc::new(MockChat {
            bot: Arc::clone(&bot),
            state: Mutex::new(State::default()),
            turn: tokio::sync::Mutex::new(()),
        });
        bot.dispatcher().register(
            Platform::Mock,
            Arc::new(MockNotifier(Arc::downgrade(&chat))),
        );
        chat
    }

    pub fn bot(&self) -> &Arc<Bot> {
        &self.bot
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        // A poisoned lock still holds consistent inboxes: each change is one push.
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut state)
    }

    /// Sends one message as `out.from` and returns everything it caused:
    /// replies in the chat, DMs, and notifications to other users.
    pub async fn send(&self, out: &Outgoing) -> Result<Vec<Delivery>, MockError> {
        Ok(self.send_message(out).await?.deliveries)
    }

    /// [`MockChat::send`], with the message's id and what was deleted.
    pub async fn send_message(&self, out: &Outgoing) -> Result<Sent, MockError> {
        let from = Handle::parse(&out.from).map_err(|_| MockError::BadUser)?;
        if from.as_str() == MOCK_BOT_NAME {
            return Err(MockError::BotUser);
        }
        let group = match out.chat.as_str() {
            DM => None,
            name if valid_group(name) => Some(name.to_owned()),
            _ => return Err(MockError::BadChat),
        };
        if out.text.is_empty() || out.text.len() > MESSAGE_TEXT_BYTES_MAX {
            return Err(MockError::BadText);
        }
        let event_id = match &out.id {
            Some(id) => EventId::new(id.clone()).map_err(|_| MockError::BadId)?,
            None => EventId::new(format!("mock-{}", ledger::TransferId::random()))
                .map_err(|_| MockError::BadId)?,
        };
        let reply_to = match &out.reply_to {
            Some(name) => Some(
                Handle::parse(name)
                    .map_err(|_| MockError::BadReplyTo)
                    .and_then(|h| mock_user(&h))?,
            ),
            None => None,
        };
        let sender = mock_user(&from)?;
        let chat = match &group {
            Some(name) => Chat {
                id: ChatId::new(name.clone()).map_err(|_| MockError::BadChat)?,
                kind: ChatKind::Group,
                title: Some(name.clone()),
            },
            None => Chat {
                id: ChatId::new(format!("{DM}:{}", from.as_str()))
                    .map_err(|_| MockError::BadChat)?,
                kind: ChatKind::Direct,
                title: None,
            },
        };

        let _turn = self.turn.lock().await;
        let (mentions, remembered, message) = self.with_state(|state| {
            state.known.insert(from.as_str().to_owned());
            if let Some(name) = &group {
                state
                    .groups
                    .entry(name.clone())
                    .or_default()
                    .insert(from.as_str().to_owned());
            }
            let mentions = mentions_in(&out.text, &state.known);
            let remembered = state.outcomes.get(event_id.as_str()).cloned();
            state.collecting.clear();
            state.deleting.clear();
            let message = match &remembered {
                // A redelivery is the same message, not a new one.
                Some(first) => first.message.clone(),
                None => {
                    state.last_message = state.last_message.saturating_add(1);
                    let message = format!("m{}", state.last_message);
                    if let Some(name) = &group {
                        state.post(
                            name,
                            Posted {
                                id: message.clone(),
                                from: from.as_str().to_owned(),
                                text: out.text.clone(),
                                deleted: false,
                            },
                        );
                    }
                    message
                }
            };
            (mentions, remembered, message)
        });
        let incoming = Incoming {
            platform: Platform::Mock,
            event_id: event_id.clone(),
            chat,
            sender,
            text: out.text.clone(),
            mentions,
            reply_to,
            message_id: Some(MessageId::new(message.clone()).map_err(|_| MockError::BadId)?),
        };
        let replies = self.bot.handle(&incoming).await;
        if let Some(first) = remembered {
            // A redelivery: the bot changed nothing; answer as the first time.
            return Ok(first);
        }
        for reply in &replies {
            self.deliver(reply);
        }
        if let Err(error) = self.bot.dispatcher().drain().await {
            tracing::warn!(%error, "mock: outbox drain failed; notifications follow later");
        }
        Ok(self.with_state(|state| {
            let caused = Sent {
                message,
                deliveries: std::mem::take(&mut state.collecting),
                deleted: std::mem::take(&mut state.deleting),
            };
            state
                .outcomes
                .insert(event_id.as_str().to_owned(), caused.clone());
            state.outcome_order.push_back(event_id.as_str().to_owned());
            while state.outcome_order.len() > REMEMBERED_EVENTS_MAX {
                if let Some(old) = state.outcome_order.pop_front() {
                    state.outcomes.remove(&old);
                }
            }
            caused
        }))
    }

    /// Lets time-driven work happen now: the bot's sweep (expired codes,
    /// unclaimed escrow) and the delivery of what it caused, which it
    /// returns.
    pub async fn tick(&self) -> Result<Vec<Delivery>, bot::service::BotError> {
        let _turn = self.turn.lock().await;
        self.with_state(|state| {
            state.collecting.clear();
            state.deleting.clear();
        });
        self.bot.sweep().await?;
        self.bot.dispatcher().drain().await?;
        Ok(self.with_state(|state| std::mem::take(&mut state.collecting)))
    }

    /// Everything `name` has received so far, oldest first.
    pub fn messages_of(&self, name: &str) -> Result<Vec<Delivery>, MockError> {
        let name = Handle::parse(name).map_err(|_| MockError::BadUser)?;
        Ok(self.with_state(|state| {
            state
                .inboxes
                .get(name.as_str())
                .map(|inbox| inbox.iter().cloned().collect())
                .unwrap_or_default()
        }))
    }

    /// What the members of `group` see in it, oldest first: users'
    /// messages and the bot's, deleted ones marked (their text gone).
    pub fn chat_messages(&self, group: &str) -> Result<Vec<Posted>, MockError> {
        self.with_state(|state| {
            state
                .chats
                .get(group)
                .map(|history| history.iter().cloned().collect())
                .ok_or(MockError::NoSuchChat)
        })
    }

    /// The groups that have a message, by name.
    pub fn group_names(&self) -> Vec<String> {
        self.with_state(|state| {
            let mut names: Vec<String> = state.chats.keys().cloned().collect();
            names.sort();
            names
        })
    }

    /// Puts a reply into the inboxes of whoever it reaches, after deleting
    /// the message it asks to delete (always allowed here).
    fn deliver(&self, reply: &Reply) {
        if reply.platform != Platform::Mock {
            return;
        }
        self.with_state(|state| {
            let deleted = match (&reply.deletion, &reply.audience) {
                (Some(deletion), Audience::Chat(chat)) => {
                    state.delete(chat.as_str(), deletion.message.as_str())
                }
                _ => false,
            };
            let text = reply.text_after_deletion(deleted).to_owned();
            let deliveries: Vec<Delivery> = match &reply.audience {
                Audience::Private(user) => vec![Delivery {
                    to: user.as_str().to_owned(),
                    chat: DM.to_owned(),
                    text,
                }],
                Audience::Chat(chat) => match chat.as_str().strip_prefix("dm:") {
                    Some(user) => vec![Delivery {
                        to: user.to_owned(),
                        chat: DM.to_owned(),
                        text,
                    }],
                    None => {
                        state.last_message = state.last_message.saturating_add(1);
                        let id = format!("m{}", state.last_message);
                        state.post(
                            chat.as_str(),
                            Posted {
                                id,
                                from: MOCK_BOT_NAME.to_owned(),
                                text: text.clone(),
                                deleted: false,
                            },
                        );
                        state
                            .groups
                            .get(chat.as_str())
                            .map(|members| {
                                members
                                    .iter()
                                    .map(|member| Delivery {
                                        to: member.clone(),
                                        chat: chat.as_str().to_owned(),
                                        text: text.clone(),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default()
                    }
                },
            };
            for delivery in deliveries {
                let inbox = state.inboxes.entry(delivery.to.clone()).or_default();
                inbox.push_back(delivery.clone());
                if inbox.len() > INBOX_MESSAGES_MAX {
                    inbox.pop_front();
                }
                state.collecting.push(delivery);
            }
        });
    }
}

/// `@name` words in `text` naming users the mock knows (and the bot).
fn mentions_in(text: &str, known: &BTreeSet<String>) -> Vec<Mention> {
    let mut mentions: Vec<Mention> = Vec::new();
    for word in text.split(|c: char| c.is_whitespace()) {
        let Some(rest) = word.strip_prefix('@') else {
            continue;
        };
        // `@bob:12.50` in a split: the name ends at the colon.
        let name = rest.split(':').next().unwrap_or(rest);
        let Ok(handle) = Handle::parse(name) else {
            continue;
        };
        if !known.contains(handle.as_str()) && handle.as_str() != MOCK_BOT_NAME {
            continue;
        }
        if mentions
            .iter()
            .any(|m| m.user.handle.as_ref() == Some(&handle))
        {
            continue;
        }
        if let Ok(user) = mock_user(&handle) {
            mentions.push(Mention {
                token: format!("@{name}"),
                user,
            });
        }
    }
    mentions
}
