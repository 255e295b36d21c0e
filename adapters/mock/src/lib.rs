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
//!
//! Anyone who can reach the mock can speak as anyone in it, so it keeps to
//! two rules of its own. An event id belongs to its sender: the core sees
//! `<sender>:<id>`, so the same id from someone else is a new message,
//! never another's cached answer. And what it keeps is bounded
//! ([`MockLimits`]): users, groups, members per group, messages per inbox
//! and per group and in all (the oldest go first), remembered answers. A
//! new user, group or member over its bound is refused with a 4xx
//! (refused, not evicted: evicting would silently change who is in a group
//! and who a mention names); old messages are dropped, oldest first. No
//! remembered answer and no inbox holds a live one-time code: they keep
//! the core's redacted text (see [`bot::message::Reply::redacted`]); only
//! the answer to the message that asked for it carries the code.

pub mod http;
pub mod repl;
pub mod script;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bot::message::{
    Audience, Chat, ChatId, ChatKind, EventId, Handle, Incoming, MESSAGE_TEXT_BYTES_MAX, Mention,
    MessageId, Platform, PlatformUserId, Reply, User,
};
use bot::notify::{DeliveryError, Notifier};
use bot::{Bot, PlatformProfile};
use serde::Serialize;

pub use http::router;
pub use repl::repl;

/// The bot's own name in the mock chat (`/pay@paybot`, and a bot user that
/// cannot be paid).
pub const MOCK_BOT_NAME: &str = "paybot";
/// The prefix of the user ids paybot reserves for billers' identities: no
/// one speaks as a biller in the mock chat (a biller acts only through its
/// API, with its token).
pub const RESERVED_USER_PREFIX: &str = "biller.";
/// What `chat` is for a direct (one-to-one) chat with the bot.
pub const DM: &str = "dm";
/// The longest group name, in characters.
pub const GROUP_NAME_CHARS_MAX: usize = 64;
/// The longest event id a client may give, in characters (the core sees it
/// as `<sender>:<id>`).
pub const EVENT_ID_CHARS_MAX: usize = 64;
/// Most users the mock holds (who spoke, or received a message).
pub const MOCK_USERS_MAX: usize = 10_000;
/// Most groups the mock holds.
pub const MOCK_GROUPS_MAX: usize = 1_000;
/// Most members of one group.
pub const MOCK_GROUP_MEMBERS_MAX: usize = 200;
/// Answers kept for redelivered event ids (oldest forgotten first).
pub const REMEMBERED_EVENTS_MAX: usize = 10_000;
/// Deliveries kept in all remembered answers together (oldest answers
/// forgotten first).
pub const REMEMBERED_DELIVERIES_MAX: usize = 50_000;
/// Messages kept per user inbox (oldest dropped first).
pub const INBOX_MESSAGES_MAX: usize = 10_000;
/// Messages kept in all inboxes together (oldest dropped first).
pub const INBOX_MESSAGES_TOTAL_MAX: usize = 100_000;
/// Messages kept per group's history (oldest dropped first).
pub const CHAT_MESSAGES_MAX: usize = 1_000;
/// Messages kept in all groups' histories together (oldest dropped first).
pub const CHAT_MESSAGES_TOTAL_MAX: usize = 20_000;

/// The bounds of what the mock keeps; [`MockLimits::default`] is the
/// constants above. Tests give small ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MockLimits {
    pub users_max: usize,
    pub groups_max: usize,
    pub group_members_max: usize,
    pub remembered_events_max: usize,
    pub remembered_deliveries_max: usize,
    pub inbox_messages_max: usize,
    pub inbox_messages_total_max: usize,
    pub chat_messages_max: usize,
    pub chat_messages_total_max: usize,
}

impl Default for MockLimits {
    fn default() -> MockLimits {
        MockLimits {
            users_max: MOCK_USERS_MAX,
            groups_max: MOCK_GROUPS_MAX,
            group_members_max: MOCK_GROUP_MEMBERS_MAX,
            remembered_events_max: REMEMBERED_EVENTS_MAX,
            remembered_deliveries_max: REMEMBERED_DELIVERIES_MAX,
            inbox_messages_max: INBOX_MESSAGES_MAX,
            inbox_messages_total_max: INBOX_MESSAGES_TOTAL_MAX,
            chat_messages_max: CHAT_MESSAGES_MAX,
            chat_messages_total_max: CHAT_MESSAGES_TOTAL_MAX,
        }
    }
}

/// One message a user received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// The user's name.
    pub to: String,
    /// [`DM`] or the group's name.
    pub chat: String,
    pub text: String,
    /// A picture sent with the message (a setup QR code), a PNG in
    /// base64; the text then ends with `[image: ALT]`. Only in the answer
    /// to the message that caused it: an inbox never keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_png_base64: Option<String>,
    /// A file sent with the message (a CSV export), privately only; the
    /// text then ends with `[file: NAME]` and the file's content. Only in
    /// the answer to the message that caused it: an inbox keeps the
    /// `[file: NAME]` line, never the content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<DeliveredFile>,
}

/// A file as the mock chat delivers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveredFile {
    /// Its name (`paybot-history-2026-12-05.csv`).
    pub name: String,
    /// Its media type (`text/csv`).
    pub media_type: String,
    /// Its content, as text (a CSV is text).
    pub content: String,
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
    #[error("`from` cannot start with `{RESERVED_USER_PREFIX}`: those names are billers'")]
    ReservedUser,
    #[error(
        "`chat` must be \"dm\" or a group name: 1 to {GROUP_NAME_CHARS_MAX} letters, digits, `_`, `-` or `.`"
    )]
    BadChat,
    #[error("`text` must be 1 to {MESSAGE_TEXT_BYTES_MAX} bytes")]
    BadText,
    #[error("`id` must be 1 to {EVENT_ID_CHARS_MAX} printable characters without spaces")]
    BadId,
    #[error("`id` was used before by this sender for another message")]
    IdReused,
    #[error("the mock chat holds its most users ({0}); restart paybot to start over")]
    TooManyUsers(usize),
    #[error("the mock chat holds its most groups ({0}); use an existing group")]
    TooManyGroups(usize),
    #[error("this group has its most members ({0})")]
    TooManyMembers(usize),
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
            MockError::ReservedUser => "reserved_user",
            MockError::BadChat => "bad_chat",
            MockError::BadText => "bad_text",
            MockError::BadId => "bad_id",
            MockError::IdReused => "id_reused",
            MockError::TooManyUsers(_) => "too_many_users",
            MockError::TooManyGroups(_) => "too_many_groups",
            MockError::TooManyMembers(_) => "too_many_members",
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
    /// The event id; the same id again from the same sender is a
    /// redelivery. `None`: a fresh one.
    pub id: Option<String>,
    /// The author of the message this one replies to (for `/pay 5` as a
    /// reply).
    pub reply_to: Option<String>,
}

/// Items kept per key (a user's inbox, a group's history), oldest first:
/// at most `per_key_max` per key and `total_max` in all, the oldest
/// dropped first.
struct Kept<T> {
    by_key: HashMap<String, VecDeque<(u64, T)>>,
    /// Every kept item's key and number, oldest first (with some already
    /// dropped from their key's list; never more than `total_max`).
    order: VecDeque<(String, u64)>,
    next: u64,
    per_key_max: usize,
    total_max: usize,
}

impl<T> Kept<T> {
    fn new(per_key_max: usize, total_max: usize) -> Kept<T> {
        Kept {
            by_key: HashMap::new(),
            order: VecDeque::new(),
            next: 0,
            per_key_max,
            total_max,
        }
    }

    fn push(&mut self, key: &str, item: T) {
        let number = self.next;
        self.next = self.next.saturating_add(1);
        let list = self.by_key.entry(key.to_owned()).or_default();
        list.push_back((number, item));
        if list.len() > self.per_key_max {
            list.pop_front();
        }
        self.order.push_back((key.to_owned(), number));
        while self.order.len() > self.total_max {
            let Some((key, number)) = self.order.pop_front() else {
                break;
            };
            // The oldest item of all is the oldest of its key, unless that
            // key's own bound dropped it already.
            if let Some(list) = self.by_key.get_mut(&key)
                && list.front().is_some_and(|(n, _)| *n == number)
            {
                list.pop_front();
            }
        }
    }

    fn has(&self, key: &str) -> bool {
        self.by_key.contains_key(key)
    }

    fn keys(&self) -> usize {
        self.by_key.len()
    }

    fn items(&self, key: &str) -> Option<impl Iterator<Item = &T>> {
        self.by_key.get(key).map(|list| list.iter().map(|(_, t)| t))
    }

    fn items_mut(&mut self, key: &str) -> Option<impl Iterator<Item = &mut T>> {
        self.by_key
            .get_mut(key)
            .map(|list| list.iter_mut().map(|(_, t)| t))
    }
}

/// What the first delivery of an event caused, as kept for a redelivery:
/// the deliveries with the core's redacted texts (no live code).
#[derive(Clone)]
struct Remembered {
    /// What the message was (chat, text, reply), to tell a redelivery from
    /// another message under a used id.
    fingerprint: u64,
    sent: Sent,
}

struct State {
    limits: MockLimits,
    /// Each user's messages, oldest first (the core's redacted texts).
    inboxes: Kept<Delivery>,
    /// Group name → members.
    groups: HashMap<String, BTreeSet<String>>,
    /// Users who have spoken.
    known: BTreeSet<String>,
    /// Group name → what its members see in it, oldest first.
    chats: Kept<Posted>,
    /// The number of the last message id given out.
    last_message: u64,
    /// `<sender>:<id>` → what the first delivery caused.
    outcomes: HashMap<String, Remembered>,
    outcome_order: VecDeque<String>,
    /// Deliveries in all `outcomes`.
    outcome_deliveries: usize,
    /// Each sender with a message being handled → its turn (removed
    /// when nobody holds or awaits it).
    turns: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
    /// Messages being handled (and [`MockChat::tick`]s).
    in_flight: usize,
    /// Whether another message was handled at the same time as the ones
    /// in flight: then nobody can tell which caused a notification.
    overlapped: bool,
    /// Notifications delivered while one message alone is in flight.
    notices: Collected,
}

/// Deliveries and deletions, for an answer.
#[derive(Debug, Default)]
struct Collected {
    /// As sent.
    deliveries: Vec<Delivery>,
    /// The same, with the core's redacted texts.
    redacted: Vec<Delivery>,
    deleted: Vec<String>,
}

impl Collected {
    fn append(&mut self, mut other: Collected) {
        self.deliveries.append(&mut other.deliveries);
        self.redacted.append(&mut other.redacted);
        self.deleted.append(&mut other.deleted);
    }
}

impl State {
    fn new(limits: MockLimits) -> State {
        State {
            limits,
            inboxes: Kept::new(limits.inbox_messages_max, limits.inbox_messages_total_max),
            groups: HashMap::new(),
            known: BTreeSet::new(),
            chats: Kept::new(limits.chat_messages_max, limits.chat_messages_total_max),
            last_message: 0,
            outcomes: HashMap::new(),
            outcome_order: VecDeque::new(),
            outcome_deliveries: 0,
            turns: HashMap::new(),
            in_flight: 0,
            overlapped: false,
            notices: Collected::default(),
        }
    }

    /// A message (or a tick) starts being handled.
    fn open_window(&mut self) {
        if self.in_flight == 0 {
            self.notices = Collected::default();
            self.overlapped = false;
        } else {
            self.overlapped = true;
        }
        self.in_flight = self.in_flight.saturating_add(1);
    }

    /// It ends: the notifications delivered meanwhile, when it was alone.
    fn close_window(&mut self) -> Option<Collected> {
        self.in_flight = self.in_flight.saturating_sub(1);
        (!self.overlapped).then(|| std::mem::take(&mut self.notices))
    }

    /// Whether one message alone is being handled (so what is delivered
    /// now is its doing).
    fn alone(&self) -> bool {
        self.in_flight == 1 && !self.overlapped
    }

    /// Refuses a new user, group or member over its bound; changes nothing.
    fn admit(&self, from: &str, group: Option<&str>) -> Result<(), MockError> {
        let limits = &self.limits;
        if !self.known.contains(from) && self.known.len() >= limits.users_max {
            return Err(MockError::TooManyUsers(limits.users_max));
        }
        if let Some(group) = group {
            match self.groups.get(group) {
                None if self.groups.len() >= limits.groups_max => {
                    return Err(MockError::TooManyGroups(limits.groups_max));
                }
                Some(members)
                    if !members.contains(from) && members.len() >= limits.group_members_max =>
                {
                    return Err(MockError::TooManyMembers(limits.group_members_max));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn remember(&mut self, event: String, remembered: Remembered) {
        self.outcome_deliveries = self
            .outcome_deliveries
            .saturating_add(remembered.sent.deliveries.len());
        if let Some(old) = self.outcomes.insert(event.clone(), remembered) {
            self.outcome_deliveries = self
                .outcome_deliveries
                .saturating_sub(old.sent.deliveries.len());
        } else {
            self.outcome_order.push_back(event);
        }
        while self.outcome_order.len() > self.limits.remembered_events_max
            || (self.outcome_deliveries > self.limits.remembered_deliveries_max
                && self.outcome_order.len() > 1)
        {
            let Some(old) = self.outcome_order.pop_front() else {
                break;
            };
            if let Some(old) = self.outcomes.remove(&old) {
                self.outcome_deliveries = self
                    .outcome_deliveries
                    .saturating_sub(old.sent.deliveries.len());
            }
        }
    }

    fn post(&mut self, group: &str, posted: Posted) {
        // Only groups the mock holds (whoever posted first was admitted).
        if self.groups.contains_key(group) {
            self.chats.push(group, posted);
        }
    }

    /// Deletes message `id` of `group`: `false` when there is no such
    /// message (or it is gone already).
    fn delete(&mut self, group: &str, id: &str) -> bool {
        let Some(posted) = self
            .chats
            .items_mut(group)
            .and_then(|mut history| history.find(|p| p.id == id && !p.deleted))
        else {
            return false;
        };
        posted.deleted = true;
        posted.text.clear();
        true
    }
}

impl State {
    /// Puts a reply into the inboxes of whoever it reaches, after deleting
    /// the message it asks to delete (always allowed here).
    fn deliver(&mut self, reply: &Reply) -> Collected {
        let mut collected = Collected::default();
        if reply.platform != Platform::Mock {
            return collected;
        }
        let state = self;
        let deleted = match (&reply.deletion, &reply.audience) {
            (Some(deletion), Audience::Chat(chat)) => {
                let deleted = state.delete(chat.as_str(), deletion.message.as_str());
                if deleted {
                    collected.deleted.push(deletion.message.as_str().to_owned());
                }
                deleted
            }
            _ => false,
        };
        let mut text = reply.text_after_deletion(deleted).to_owned();
        // What may be kept: a reply holding a secret says which text
        // to keep instead.
        let kept = reply.redacted.clone().unwrap_or_else(|| text.clone());
        // A picture shows in transcripts by its description; its bytes
        // go only to the live answer, never to a kept inbox.
        let image = reply.image.as_ref().map(|image| {
            text.push_str(&format!("\n[image: {}]", image.alt));
            base64::engine::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                image.bytes(),
            )
        });
        // A file shows in transcripts by its name and content; an inbox
        // keeps only its name. Only ever to one user privately.
        let mut kept = kept;
        let file = match (&reply.document, &reply.audience) {
            (Some(document), Audience::Private(_)) => {
                let content = String::from_utf8_lossy(document.bytes()).into_owned();
                text.push_str(&format!("\n[file: {}]\n{content}", document.name()));
                kept.push_str(&format!("\n[file: {}]", document.name()));
                Some(DeliveredFile {
                    name: document.name().to_owned(),
                    media_type: document.media_type().to_owned(),
                    content,
                })
            }
            _ => None,
        };
        let deliveries: Vec<Delivery> = match &reply.audience {
            Audience::Private(user) => vec![Delivery {
                to: user.as_str().to_owned(),
                chat: DM.to_owned(),
                text,
                image_png_base64: image,
                file,
            }],
            Audience::Chat(chat) => match chat.as_str().strip_prefix("dm:") {
                Some(user) => vec![Delivery {
                    to: user.to_owned(),
                    chat: DM.to_owned(),
                    text,
                    image_png_base64: image,
                    file: None,
                }],
                None => {
                    state.last_message = state.last_message.saturating_add(1);
                    let id = format!("m{}", state.last_message);
                    state.post(
                        chat.as_str(),
                        Posted {
                            id,
                            from: MOCK_BOT_NAME.to_owned(),
                            text: kept.clone(),
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
                                    // Never a picture or a file in a group.
                                    image_png_base64: None,
                                    file: None,
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                }
            },
        };
        for delivery in deliveries {
            let redacted = Delivery {
                text: kept.clone(),
                image_png_base64: None,
                file: None,
                ..delivery.clone()
            };
            if state.inboxes.has(&delivery.to) || state.inboxes.keys() < state.limits.users_max {
                state.inboxes.push(&delivery.to, redacted.clone());
            } else {
                tracing::warn!(
                    "mock: an inbox for one more user is over the bound; message not kept"
                );
            }
            collected.redacted.push(redacted);
            collected.deliveries.push(delivery);
        }
        collected
    }
}

fn fingerprint(out: &Outgoing) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    (&out.chat, &out.text, &out.reply_to).hash(&mut hasher);
    hasher.finish()
}

/// The mock chat service.
///
/// Each user's messages are handled one at a time, in order; different
/// users' messages at once (as on a real platform). An answer lists the
/// message's own replies, and the notifications to others delivered while
/// it was handled when no other message was handled at the same time (any
/// client sending one message at a time sees everything its message
/// caused); when several are, a notification is in its recipient's inbox
/// only, since nobody can tell which message caused it.
pub struct MockChat {
    bot: Arc<Bot>,
    state: Mutex<State>,
    /// Messages hold it shared; [`MockChat::tick`] alone.
    ticking: tokio::sync::RwLock<()>,
}

/// A message being handled (see [`State::open_window`]); closed when
/// dropped, so a cancelled request does not count as in flight forever.
struct Window<'a> {
    chat: &'a MockChat,
    open: bool,
}

impl<'a> Window<'a> {
    fn open(chat: &'a MockChat) -> Window<'a> {
        chat.with_state(State::open_window);
        Window { chat, open: true }
    }

    fn close(mut self) -> Option<Collected> {
        self.open = false;
        self.chat.with_state(State::close_window)
    }
}

impl Drop for Window<'_> {
    fn drop(&mut self) {
        if self.open {
            self.chat.with_state(State::close_window);
        }
    }
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
        let delivered = chat.with_state(|state| {
            let delivered = state.deliver(reply);
            if state.alone() {
                state.notices.append(delivered);
            }
        });
        Ok(delivered)
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
    /// A mock chat in front of `bot` with the default [`MockLimits`];
    /// registers itself as the mock platform's notifier.
    pub fn new(bot: Arc<Bot>) -> Arc<MockChat> {
        MockChat::with_limits(bot, MockLimits::default())
    }

    /// [`MockChat::new`] with other bounds.
    pub fn with_limits(bot: Arc<Bot>, limits: MockLimits) -> Arc<MockChat> {
        bot.register_platform(PlatformProfile::new(Platform::Mock).with_username(MOCK_BOT_NAME));
        let chat = Arc::new(MockChat {
            bot: Arc::clone(&bot),
            state: Mutex::new(State::new(limits)),
            ticking: tokio::sync::RwLock::new(()),
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

    /// The notifier that delivers the bot's outbox messages to this mock
    /// chat (registered by [`MockChat::new`]); for a caller that wraps it,
    /// such as a benchmark timing deliveries.
    pub fn notifier(self: &Arc<MockChat>) -> Arc<dyn Notifier> {
        Arc::new(MockNotifier(Arc::downgrade(self)))
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
    ///
    /// The same `id` again from the same sender, for the same message, is a
    /// redelivery: the bot changes nothing and the answer is the first
    /// one's, with the core's redacted texts (no live code); unless the
    /// first answer said nothing (the core's "still in progress" for an
    /// event a crashed process had claimed), when what the core says now
    /// is the answer. The same `id`
    /// for another message is refused ([`MockError::IdReused`]); from
    /// another sender it is another event altogether.
    pub async fn send_message(&self, out: &Outgoing) -> Result<Sent, MockError> {
        let from = Handle::parse(&out.from).map_err(|_| MockError::BadUser)?;
        if from.as_str() == MOCK_BOT_NAME {
            return Err(MockError::BotUser);
        }
        if from.as_str().starts_with(RESERVED_USER_PREFIX) {
            return Err(MockError::ReservedUser);
        }
        let group = match out.chat.as_str() {
            DM => None,
            name if valid_group(name) => Some(name.to_owned()),
            _ => return Err(MockError::BadChat),
        };
        if out.text.is_empty() || out.text.len() > MESSAGE_TEXT_BYTES_MAX {
            return Err(MockError::BadText);
        }
        let id = match &out.id {
            Some(id) if valid_event_id(id) => id.clone(),
            Some(_) => return Err(MockError::BadId),
            None => format!("mock-{}", ledger::TransferId::random()),
        };
        let event_id = event_id_of(from.as_str(), &id)?;
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
        let fingerprint = fingerprint(out);

        let turn = self.with_state(|state| {
            Arc::clone(state.turns.entry(from.as_str().to_owned()).or_default())
        });
        let sent = {
            let _shared = self.ticking.read().await;
            let _mine = turn.lock().await;
            self.send_in_turn(
                out,
                &from,
                group,
                chat,
                event_id,
                reply_to,
                sender,
                fingerprint,
            )
            .await
        };
        self.with_state(|state| {
            // Nobody else holds or awaits it: the map and `turn` only.
            if Arc::strong_count(&turn) <= 2 {
                state.turns.remove(from.as_str());
            }
        });
        sent
    }

    /// [`MockChat::send_message`], its sender's turn held.
    #[allow(clippy::too_many_arguments)]
    async fn send_in_turn(
        &self,
        out: &Outgoing,
        from: &Handle,
        group: Option<String>,
        chat: Chat,
        event_id: EventId,
        reply_to: Option<User>,
        sender: User,
        fingerprint: u64,
    ) -> Result<Sent, MockError> {
        let (mentions, remembered, message) = self.with_state(|state| {
            let remembered = state.outcomes.get(event_id.as_str()).cloned();
            match &remembered {
                Some(first) if first.fingerprint != fingerprint => {
                    return Err(MockError::IdReused);
                }
                Some(_) => {}
                None => state.admit(from.as_str(), group.as_deref())?,
            }
            state.known.insert(from.as_str().to_owned());
            if let Some(name) = &group {
                state
                    .groups
                    .entry(name.clone())
                    .or_default()
                    .insert(from.as_str().to_owned());
            }
            let mentions = mentions_in(&out.text, &state.known);
            let message = match &remembered {
                // A redelivery is the same message, not a new one.
                Some(first) => first.sent.message.clone(),
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
            Ok((mentions, remembered, message))
        })?;
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
        let window = Window::open(self);
        let replies = self.bot.handle(&incoming).await;
        match remembered {
            // A first answer that said nothing (the core's "still in
            // progress" for an event a crashed process had claimed) is no
            // answer: what the core says now is delivered as the first.
            Some(first) if first.sent.deliveries.is_empty() && !replies.is_empty() => {}
            // A redelivery: the bot changed nothing; answer as the first
            // time, without its secrets.
            Some(first) => return Ok(first.sent),
            None => {}
        }
        let mut collected = Collected::default();
        for reply in &replies {
            collected.append(self.with_state(|state| state.deliver(reply)));
        }
        // Alone, its notifications are delivered before it is answered
        // (waiting for a drain in progress). Otherwise a drain in progress
        // goes on while it finds messages, and the bot woke the
        // background one: no need to wait.
        let drained = if self.with_state(|state| state.alone()) {
            self.bot.dispatcher().drain().await.map(Some)
        } else {
            self.bot.dispatcher().try_drain().await
        };
        if let Err(error) = drained {
            tracing::warn!(%error, "mock: outbox drain failed; notifications follow later");
        }
        if let Some(notices) = window.close() {
            collected.append(notices);
        }
        Ok(self.with_state(|state| {
            let caused = Sent {
                message: message.clone(),
                deliveries: collected.deliveries,
                deleted: collected.deleted.clone(),
            };
            let kept = Sent {
                message,
                deliveries: collected.redacted,
                deleted: collected.deleted,
            };
            state.remember(
                event_id.as_str().to_owned(),
                Remembered {
                    fingerprint,
                    sent: kept,
                },
            );
            caused
        }))
    }

    /// Lets time-driven work happen now: the bot's sweep (expired codes,
    /// unclaimed escrow) and the delivery of what it caused, which it
    /// returns.
    pub async fn tick(&self) -> Result<Vec<Delivery>, bot::service::BotError> {
        let _alone = self.ticking.write().await;
        let window = Window::open(self);
        self.bot.sweep().await?;
        self.bot.dispatcher().drain().await?;
        Ok(window
            .close()
            .map(|notices| notices.deliveries)
            .unwrap_or_default())
    }

    /// Everything `name` has received so far (the newest
    /// [`INBOX_MESSAGES_MAX`]), oldest first, with the core's redacted
    /// texts: no live code.
    pub fn messages_of(&self, name: &str) -> Result<Vec<Delivery>, MockError> {
        let name = Handle::parse(name).map_err(|_| MockError::BadUser)?;
        Ok(self.with_state(|state| {
            state
                .inboxes
                .items(name.as_str())
                .map(|inbox| inbox.cloned().collect())
                .unwrap_or_default()
        }))
    }

    /// What the members of `group` see in it, oldest first: users'
    /// messages and the bot's, deleted ones marked (their text gone).
    pub fn chat_messages(&self, group: &str) -> Result<Vec<Posted>, MockError> {
        self.with_state(|state| {
            state
                .chats
                .items(group)
                .map(|history| history.cloned().collect())
                .ok_or(MockError::NoSuchChat)
        })
    }

    /// The groups that have a message, by name.
    pub fn group_names(&self) -> Vec<String> {
        self.with_state(|state| {
            let mut names: Vec<String> = state.chats.by_key.keys().cloned().collect();
            names.sort();
            names
        })
    }
}

/// The core's event id of the message `id` that `sender` (a handle) sent
/// through the mock chat. Handles hold no `:`, so `<sender>:<id>` names one
/// sender's event.
pub fn event_id_of(sender: &str, id: &str) -> Result<EventId, MockError> {
    EventId::new(format!("{sender}:{id}")).map_err(|_| MockError::BadId)
}

/// An event id a client may give: 1 to [`EVENT_ID_CHARS_MAX`] printable
/// characters, no whitespace.
fn valid_event_id(id: &str) -> bool {
    (1..=EVENT_ID_CHARS_MAX).contains(&id.chars().count())
        && id.chars().all(|c| !c.is_control() && !c.is_whitespace())
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
