//! The one place where Telegram's types meet the core's: an [`Update`] in,
//! an [`Inbound`] out; a [`Reply`] in, [`Outgoing`] Bot API messages out.
//!
//! A reply asking for a message to be deleted (a card number posted in a
//! group) also becomes a [`Delete`] (`deleteMessage`).
//!
//! Everything here is pure: no I/O, no clock. Hostile input (offsets that
//! point outside the text or inside a character, callback data we never
//! sent, oversized fields) is ignored or refused, never a panic.

use std::ops::Range;

use bot::message::{
    Audience, Chat, ChatId, ChatKind, EventId, Handle, Incoming, Mention, MessageId, Platform,
    PlatformUserId, Reply, User,
};
use teloxide::types::{
    self as tg, CallbackQuery, CallbackQueryId, InlineKeyboardButton, InlineKeyboardMarkup,
    MaybeInaccessibleMessage, Message, MessageEntityKind, MessageKind, PublicChatKind, Update,
    UpdateKind,
};

/// Telegram's longest message text, in UTF-16 code units.
pub const MESSAGE_TEXT_UTF16_MAX: usize = 4_096;
/// Telegram's longest callback data, in bytes.
pub const CALLBACK_DATA_BYTES_MAX: usize = 64;
/// The longest display name passed to the core, in characters.
pub const DISPLAY_NAME_CHARS_MAX: usize = 128;
/// The most entities looked at in one message.
pub const ENTITIES_MAX: usize = 100;

/// Who this bot is, from `getMe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotIdentity {
    pub id: u64,
    /// Without the `@`.
    pub username: String,
}

/// What an update means to paybot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// A message for the core.
    Message(Incoming),
    /// A press on one of our inline buttons: the core gets the button's
    /// command as if typed; the query must be answered so the client stops
    /// its spinner.
    Button {
        incoming: Incoming,
        query: CallbackQueryId,
    },
    /// Not for paybot; the reason is for the debug log.
    Ignored(&'static str),
}

/// Converts one update. `update_id` becomes the event id (with the bot's id,
/// so a new bot token never collides with an old bot's updates): a
/// redelivered update has the same id and never pays twice.
pub(crate) fn inbound(update: &Update, me: &BotIdentity) -> Inbound {
    let Ok(event_id) = EventId::new(format!("{}:{}", me.id, update.id.0)) else {
        return Inbound::Ignored("unusable update id");
    };
    match &update.kind {
        UpdateKind::Message(message) => match message_to_incoming(message, me, event_id) {
            Ok(incoming) => Inbound::Message(incoming),
            Err(reason) => Inbound::Ignored(reason),
        },
        UpdateKind::CallbackQuery(query) => match button_to_incoming(query, event_id) {
            Ok(incoming) => Inbound::Button {
                incoming,
                query: query.id.clone(),
            },
            Err(reason) => Inbound::Ignored(reason),
        },
        UpdateKind::EditedMessage(_) => Inbound::Ignored("edited message"),
        UpdateKind::ChannelPost(_) | UpdateKind::EditedChannelPost(_) => {
            Inbound::Ignored("channel post")
        }
        UpdateKind::Error(_) => Inbound::Ignored("update of a kind this version does not know"),
        _ => Inbound::Ignored("update kind paybot does not use"),
    }
}

fn message_to_incoming(
    message: &Message,
    me: &BotIdentity,
    event_id: EventId,
) -> Result<Incoming, &'static str> {
    let chat = chat_of(&message.chat)?;
    let from = message.from.as_ref().ok_or("no sender")?;
    if message.sender_chat.is_some() {
        // Anonymous group admins and channels posting in a group: there is
        // no person whose wallet this could be.
        return Err("sent on behalf of a chat");
    }
    if from.is_bot {
        return Err("sent by a bot");
    }
    if message.via_bot.is_some() {
        return Err("composed by an inline bot");
    }
    let MessageKind::Common(common) = &message.kind else {
        return Err("service message");
    };
    if common.forward_origin.is_some() || common.is_automatic_forward {
        // A forwarded `/pay` was typed by someone else.
        return Err("forwarded message");
    }
    if common.edit_date.is_some() {
        return Err("edited message");
    }
    let text = message.text().ok_or("not a text message")?;
    let entities = message.entities().unwrap_or_default();
    if addressed_to_other_bot(text, entities, me) {
        return Err("command for another bot");
    }
    let (text, mentions) = rewrite_text_mentions(text, entities);
    let reply_to = common
        .reply_to_message
        .as_deref()
        .filter(|replied| !is_topic_root(message, replied))
        .and_then(|replied| replied.from.as_ref())
        .and_then(|author| user_of(author).ok());
    Ok(Incoming {
        platform: Platform::Telegram,
        event_id,
        chat,
        sender: user_of(from)?,
        text,
        mentions,
        reply_to,
        message_id: Some(MessageId::new(message.id.0.to_string()).map_err(|_| "bad message id")?),
    })
}

fn button_to_incoming(query: &CallbackQuery, event_id: EventId) -> Result<Incoming, &'static str> {
    let data = query.data.as_deref().ok_or("button without data")?;
    // Our buttons carry a command ("/cancel P7K2QX"); anything else was not
    // sent by us.
    if !data.starts_with('/') || data.len() > CALLBACK_DATA_BYTES_MAX {
        return Err("button data paybot did not send");
    }
    if query.from.is_bot {
        return Err("pressed by a bot");
    }
    let sender = user_of(&query.from)?;
    let chat = match &query.message {
        Some(MaybeInaccessibleMessage::Regular(message)) => chat_of(&message.chat)?,
        Some(MaybeInaccessibleMessage::Inaccessible(message)) => chat_of(&message.chat)?,
        // Buttons are only ever on private messages: the private chat with a
        // user has the user's id.
        None => Chat {
            id: ChatId::new(sender.id.as_str()).map_err(|_| "bad chat id")?,
            kind: ChatKind::Direct,
            title: None,
        },
    };
    Ok(Incoming {
        platform: Platform::Telegram,
        event_id,
        chat,
        sender,
        text: data.to_owned(),
        mentions: Vec::new(),
        reply_to: None,
        // The pressed message is the bot's own; nothing to act on.
        message_id: None,
    })
}

fn chat_of(chat: &tg::Chat) -> Result<Chat, &'static str> {
    let (kind, title) = match &chat.kind {
        tg::ChatKind::Private(_) => (ChatKind::Direct, None),
        tg::ChatKind::Public(public) => match public.kind {
            PublicChatKind::Group | PublicChatKind::Supergroup(_) => {
                (ChatKind::Group, public.title.clone())
            }
            PublicChatKind::Channel(_) => return Err("channel"),
        },
    };
    Ok(Chat {
        id: ChatId::new(chat.id.0.to_string()).map_err(|_| "bad chat id")?,
        kind,
        title,
    })
}

/// A Telegram user as the core sees them: the numeric id is the identity;
/// the username, when there is one, a lookup key.
pub(crate) fn user_of(user: &tg::User) -> Result<User, &'static str> {
    let id = PlatformUserId::new(user.id.0.to_string()).map_err(|_| "bad user id")?;
    let handle = user.username.as_deref().and_then(|u| Handle::parse(u).ok());
    // Shown to others: nothing invisible, no quote mark that could close
    // the bot's, no card number.
    let display_name = bot::text::clean_display_name(&user.full_name(), DISPLAY_NAME_CHARS_MAX)
        .unwrap_or_else(|| format!("user {}", user.id.0));
    Ok(User {
        id,
        handle,
        display_name,
        is_bot: user.is_bot,
    })
}

/// In a forum supergroup every message of a topic "replies" to the topic's
/// first message; that is not a reply to a person.
fn is_topic_root(message: &Message, replied: &Message) -> bool {
    matches!(replied.kind, MessageKind::ForumTopicCreated(_))
        || (message.is_topic_message && message.thread_id.is_some_and(|t| t.0 == replied.id))
}

/// `/pay@OtherBot ...`: a command entity at the start naming another bot.
fn addressed_to_other_bot(text: &str, entities: &[tg::MessageEntity], me: &BotIdentity) -> bool {
    let command = entities
        .iter()
        .take(ENTITIES_MAX)
        .find(|e| e.offset == 0 && matches!(e.kind, MessageEntityKind::BotCommand))
        .and_then(|e| byte_range(text, e.offset, e.length))
        .and_then(|range| text.get(range));
    let Some(command) = command else {
        return false;
    };
    match command.split_once('@') {
        Some((_, bot)) => !bot.eq_ignore_ascii_case(&me.username),
        None => false,
    }
}

/// Rewrites each `text_mention` (a user picked from the member list, often
/// one without a username) into `<@ID>` and returns it as a [`Mention`], so
/// users without a username are payable through their stable id. Plain
/// `@username` mentions stay as typed: the core looks handles up itself.
fn rewrite_text_mentions(text: &str, entities: &[tg::MessageEntity]) -> (String, Vec<Mention>) {
    let mut spans: Vec<(Range<usize>, &tg::User)> = entities
        .iter()
        .take(ENTITIES_MAX)
        .filter_map(|e| match &e.kind {
            MessageEntityKind::TextMention { user } => {
                byte_range(text, e.offset, e.length).map(|range| (range, user))
            }
            _ => None,
        })
        .collect();
    spans.sort_by_key(|(range, _)| range.start);
    let mut out = String::with_capacity(text.len());
    let mut mentions = Vec::new();
    let mut at = 0;
    for (range, user) in spans {
        if range.start < at || range.is_empty() {
            continue; // overlapping or empty: keep the text as it is
        }
        let Ok(user) = user_of(user) else {
            continue;
        };
        let token = format!("<@{}>", user.id);
        out.push_str(text.get(at..range.start).unwrap_or_default());
        out.push_str(&token);
        at = range.end;
        mentions.push(Mention { token, user });
    }
    out.push_str(text.get(at..).unwrap_or_default());
    (out, mentions)
}

/// The byte range in `text` of a Telegram entity given in UTF-16 code
/// units; `None` when it runs past the text or splits a character.
pub(crate) fn byte_range(text: &str, offset: usize, length: usize) -> Option<Range<usize>> {
    let end = offset.checked_add(length)?;
    let mut start_byte = None;
    let mut units = 0_usize;
    for (byte, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), '\0')))
    {
        if units == offset {
            start_byte = Some(byte);
        }
        if units == end {
            return start_byte.map(|start| start..byte);
        }
        if units > end {
            return None;
        }
        units += c.len_utf16();
    }
    None
}

/// One Bot API `sendMessage`, a `sendPhoto` when `photo` is set (then
/// `text` is its caption), or a `sendDocument` when `document` is set
/// (then `text`, if not empty, is its caption).
#[derive(Clone, PartialEq)]
pub(crate) struct Outgoing {
    pub(crate) chat: tg::ChatId,
    pub(crate) text: String,
    pub(crate) buttons: Option<InlineKeyboardMarkup>,
    /// A PNG; it may show a secret (a setup QR code): Debug shows only
    /// its size.
    pub(crate) photo: Option<Vec<u8>>,
    /// A file: its name and bytes (private history, a CSV export): Debug
    /// shows only its name and size.
    pub(crate) document: Option<(String, Vec<u8>)>,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("chat", &self.chat)
            .field("text", &self.text)
            .field("buttons", &self.buttons)
            .field("photo_bytes", &self.photo.as_ref().map(Vec::len))
            .field(
                "document",
                &self
                    .document
                    .as_ref()
                    .map(|(name, bytes)| (name, bytes.len())),
            )
            .finish()
    }
}

/// One Bot API `deleteMessage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delete {
    pub(crate) chat: tg::ChatId,
    pub(crate) message: tg::MessageId,
}

/// The `deleteMessage` a reply asks for before it is sent, if any: the
/// message in the reply's chat.
pub(crate) fn delete(reply: &Reply) -> Result<Option<Delete>, OutgoingError> {
    let Some(deletion) = &reply.deletion else {
        return Ok(None);
    };
    if reply.platform != Platform::Telegram {
        return Err(OutgoingError::OtherPlatform(reply.platform));
    }
    let Audience::Chat(chat) = &reply.audience else {
        return Err(OutgoingError::BadChat(
            "a private reply deletes nothing".to_owned(),
        ));
    };
    let chat = chat
        .as_str()
        .parse::<i64>()
        .map(tg::ChatId)
        .map_err(|_| OutgoingError::BadChat(chat.as_str().to_owned()))?;
    let message = deletion
        .message
        .as_str()
        .parse::<i32>()
        .map(tg::MessageId)
        .map_err(|_| OutgoingError::BadMessage(deletion.message.as_str().to_owned()))?;
    Ok(Some(Delete { chat, message }))
}

/// Why a reply cannot become a Telegram message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OutgoingError {
    #[error("the reply is for {0}, not Telegram")]
    OtherPlatform(Platform),
    #[error("`{0}` is not a Telegram chat id")]
    BadChat(String),
    #[error("`{0}` is not a Telegram message id")]
    BadMessage(String),
}

/// The messages that carry `reply`: private replies go to the user's DM
/// (whose chat id is the user id), public ones to the chat; text longer
/// than Telegram allows is split at line or word breaks; buttons ride on
/// the last part. No parse mode: the text is sent as typed, so nothing
/// needs escaping.
pub(crate) fn outgoing(reply: &Reply) -> Result<Vec<Outgoing>, OutgoingError> {
    if reply.platform != Platform::Telegram {
        return Err(OutgoingError::OtherPlatform(reply.platform));
    }
    let to = match &reply.audience {
        Audience::Chat(chat) => chat.as_str(),
        Audience::Private(user) => user.as_str(),
    };
    let chat = to
        .parse::<i64>()
        .map(tg::ChatId)
        .map_err(|_| OutgoingError::BadChat(to.to_owned()))?;
    let buttons: Vec<InlineKeyboardButton> = reply
        .buttons
        .iter()
        .filter(|b| b.command.len() <= CALLBACK_DATA_BYTES_MAX && !b.label.is_empty())
        .map(|b| InlineKeyboardButton::callback(b.label.clone(), b.command.clone()))
        .collect();
    let mut parts: Vec<Outgoing> = split_text(&reply.text, MESSAGE_TEXT_UTF16_MAX)
        .into_iter()
        .map(|text| Outgoing {
            chat,
            text,
            buttons: None,
            photo: None,
            document: None,
        })
        .collect();
    if let Some(last) = parts.last_mut()
        && !buttons.is_empty()
    {
        last.buttons = Some(InlineKeyboardMarkup::new([buttons]));
    }
    // A picture goes after the text, as a photo in the private chat only
    // (the core never addresses one to a group).
    if let (Some(image), Audience::Private(_)) = (&reply.image, &reply.audience) {
        parts.push(Outgoing {
            chat,
            text: image.alt.clone(),
            buttons: None,
            photo: Some(image.bytes().to_vec()),
            document: None,
        });
    }
    // A file likewise, as a document in the private chat only.
    if let (Some(document), Audience::Private(_)) = (&reply.document, &reply.audience) {
        parts.push(Outgoing {
            chat,
            text: String::new(),
            buttons: None,
            photo: None,
            document: Some((document.name().to_owned(), document.bytes().to_vec())),
        });
    }
    Ok(parts)
}

/// Splits `text` into parts of at most `max_utf16` UTF-16 code units,
/// breaking after the last newline in a part, else after the last space,
/// else between characters. Blank parts are dropped (Telegram refuses
/// empty messages).
pub(crate) fn split_text(text: &str, max_utf16: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut units = 0_usize;
        let mut cut = rest.len();
        for (byte, c) in rest.char_indices() {
            if units + c.len_utf16() > max_utf16 {
                cut = byte;
                break;
            }
            units += c.len_utf16();
        }
        if cut < rest.len() {
            let head = rest.get(..cut).unwrap_or_default();
            if let Some(at) = head.rfind('\n').or_else(|| head.rfind(' '))
                && at > 0
            {
                cut = at + 1;
            }
        }
        if cut == 0 {
            break; // max_utf16 smaller than one character
        }
        let (part, tail) = rest.split_at(cut);
        let part = part.trim_end();
        if !part.trim().is_empty() {
            parts.push(part.to_owned());
        }
        rest = tail;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn me() -> BotIdentity {
        BotIdentity {
            id: 42,
            username: "paybot".to_owned(),
        }
    }

    /// From text, as updates arrive (teloxide's `UpdateKind` reads borrowed
    /// keys, which `from_value` cannot give).
    fn update(value: serde_json::Value) -> Update {
        serde_json::from_str(&value.to_string()).unwrap()
    }

    fn group_message(text: &str, extra: serde_json::Value) -> serde_json::Value {
        let mut message = json!({
            "message_id": 7,
            "date": 1_700_000_000,
            "chat": {"id": -100_123, "type": "supergroup", "title": "Flat"},
            "from": {"id": 1001, "is_bot": false, "first_name": "Alice", "username": "alice"},
            "text": text,
        });
        if let (Some(m), Some(e)) = (message.as_object_mut(), extra.as_object()) {
            m.extend(e.clone());
        }
        json!({"update_id": 5, "message": message})
    }

    fn incoming(value: serde_json::Value) -> Incoming {
        match inbound(&update(value), &me()) {
            Inbound::Message(incoming) => incoming,
            other => panic!("not a message: {other:?}"),
        }
    }

    fn ignored(value: serde_json::Value) -> &'static str {
        match inbound(&update(value), &me()) {
            Inbound::Ignored(reason) => reason,
            other => panic!("not ignored: {other:?}"),
        }
    }

    #[test]
    fn display_names_cannot_pass_for_the_bot_or_hold_a_card() {
        let from = |first: &str, last: &str| {
            let value = group_message(
                "hi",
                json!({"from": {"id": 1002, "is_bot": false, "first_name": first, "last_name": last}}),
            );
            incoming(value).sender.display_name
        };
        assert_eq!(from("Bob\u{200B}\u{3164}”", "“Smith"), "Bob' 'Smith");
        assert_eq!(from("4111.1111", "1111.1111"), "user 1002");
        assert_eq!(from("\u{3164}", "\u{200B}"), "user 1002");
    }

    #[test]
    fn group_message_becomes_incoming() {
        let msg = incoming(group_message("/pay @bob 5", json!({})));
        assert_eq!(msg.event_id.as_str(), "42:5");
        assert_eq!(msg.chat.kind, ChatKind::Group);
        assert_eq!(msg.chat.id.as_str(), "-100123");
        assert_eq!(msg.sender.id.as_str(), "1001");
        assert_eq!(msg.sender.handle.as_ref().unwrap().as_str(), "alice");
        assert_eq!(msg.text, "/pay @bob 5");
        assert!(msg.mentions.is_empty());
        assert_eq!(msg.message_id.as_ref().unwrap().as_str(), "7");
    }

    #[test]
    fn text_mention_becomes_an_id_mention() {
        // "💸 " is 3 UTF-16 units (a surrogate pair and a space).
        let text = "/pay 💸 Bob Smith 5";
        let msg = incoming(group_message(
            text,
            json!({"entities": [
                {"type": "bot_command", "offset": 0, "length": 4},
                {"type": "text_mention", "offset": 8, "length": 9,
                 "user": {"id": 2002, "is_bot": false, "first_name": "Bob", "last_name": "Smith"}}
            ]}),
        ));
        assert_eq!(msg.text, "/pay 💸 <@2002> 5");
        assert_eq!(msg.mentions.len(), 1);
        assert_eq!(msg.mentions[0].token, "<@2002>");
        assert_eq!(msg.mentions[0].user.handle, None);
        assert_eq!(msg.mentions[0].user.display_name, "Bob Smith");
    }

    #[test]
    fn hostile_entity_offsets_are_ignored() {
        for (offset, length) in [(6, 1), (5, 100), (usize::MAX, 2), (100, 0)] {
            let msg = incoming(group_message(
                "/pay 💸 x 5",
                json!({"entities": [{"type": "text_mention", "offset": offset, "length": length,
                    "user": {"id": 2002, "is_bot": false, "first_name": "Bob"}}]}),
            ));
            assert_eq!(msg.text, "/pay 💸 x 5", "{offset},{length}");
        }
    }

    #[test]
    fn reply_author_is_the_reply_target() {
        let msg = incoming(group_message(
            "/pay 5",
            json!({"reply_to_message": {
                "message_id": 6, "date": 1_700_000_000,
                "chat": {"id": -100_123, "type": "supergroup", "title": "Flat"},
                "from": {"id": 2002, "is_bot": false, "first_name": "Bob"},
                "text": "I paid for the pizza"
            }}),
        ));
        assert_eq!(msg.reply_to.unwrap().id.as_str(), "2002");
    }

    #[test]
    fn forum_topic_root_is_not_a_reply() {
        let msg = incoming(group_message(
            "/pay @bob 5",
            json!({"message_thread_id": 3, "is_topic_message": true, "reply_to_message": {
                "message_id": 3, "date": 1_700_000_000,
                "chat": {"id": -100_123, "type": "supergroup", "title": "Flat", "is_forum": true},
                "from": {"id": 2002, "is_bot": false, "first_name": "Bob"},
                "forum_topic_created": {"name": "Bills", "icon_color": 7_322_096}
            }}),
        ));
        assert_eq!(msg.reply_to, None);
    }

    #[test]
    fn commands_for_other_bots_are_ignored_ours_kept() {
        let entities = json!({"entities": [{"type": "bot_command", "offset": 0, "length": 13}]});
        assert_eq!(
            ignored(group_message("/pay@otherbot @bob 5", entities.clone())),
            "command for another bot"
        );
        let ours = json!({"entities": [{"type": "bot_command", "offset": 0, "length": 11}]});
        assert_eq!(
            incoming(group_message("/pay@PayBot @bob 5", ours)).text,
            "/pay@PayBot @bob 5"
        );
    }

    #[test]
    fn unusual_updates_are_ignored() {
        let edited = json!({"update_id": 6, "edited_message": {
            "message_id": 7, "date": 1, "edit_date": 2,
            "chat": {"id": 1001, "type": "private", "first_name": "Alice"},
            "from": {"id": 1001, "is_bot": false, "first_name": "Alice"}, "text": "/balance"}});
        assert_eq!(ignored(edited), "edited message");
        let post = json!({"update_id": 7, "channel_post": {
            "message_id": 1, "date": 1, "chat": {"id": -1_009, "type": "channel", "title": "News"},
            "sender_chat": {"id": -1_009, "type": "channel", "title": "News"}, "text": "/pay @bob 5"}});
        assert_eq!(ignored(post), "channel post");
        let photo = group_message(
            "",
            json!({"photo": [{"file_id": "a", "file_unique_id": "b",
            "width": 1, "height": 1}], "caption": "/pay @bob 5"}),
        );
        let photo = {
            let mut p = photo;
            p["message"].as_object_mut().unwrap().remove("text");
            p
        };
        assert_eq!(ignored(photo), "not a text message");
        let anonymous_admin = group_message(
            "/pay @bob 5",
            json!({"from": {"id": 1_087_968_824, "is_bot": true, "first_name": "Group",
                "username": "GroupAnonymousBot"},
                "sender_chat": {"id": -100_123, "type": "supergroup", "title": "Flat"}}),
        );
        assert_eq!(ignored(anonymous_admin), "sent on behalf of a chat");
        let forwarded = group_message(
            "/pay @bob 5",
            json!({"forward_origin": {"type": "user", "date": 1,
                "sender_user": {"id": 3003, "is_bot": false, "first_name": "Eve"}}}),
        );
        assert_eq!(ignored(forwarded), "forwarded message");
        let from_bot = group_message(
            "/pay @bob 5",
            json!({"from": {"id": 9, "is_bot": true, "first_name": "Spam", "username": "spambot"}}),
        );
        assert_eq!(ignored(from_bot), "sent by a bot");
        let joined = json!({"update_id": 8, "message": {"message_id": 1, "date": 1,
            "chat": {"id": -5, "type": "group", "title": "G"},
            "from": {"id": 1001, "is_bot": false, "first_name": "Alice"},
            "new_chat_members": [{"id": 42, "is_bot": true, "first_name": "paybot"}]}});
        assert_eq!(ignored(joined), "service message");
        let unknown = json!({"update_id": 9, "some_future_kind": {"x": 1}});
        assert!(matches!(
            inbound(&update(unknown), &me()),
            Inbound::Ignored(_)
        ));
    }

    #[test]
    fn button_press_becomes_its_command() {
        let press = json!({"update_id": 10, "callback_query": {
            "id": "77", "chat_instance": "x", "data": "/cancel P7K2QX",
            "from": {"id": 1001, "is_bot": false, "first_name": "Alice"},
            "message": {"message_id": 3, "date": 1,
                "chat": {"id": 1001, "type": "private", "first_name": "Alice"},
                "from": {"id": 42, "is_bot": true, "first_name": "paybot", "username": "paybot"},
                "text": "To pay @bob ..."}}});
        match inbound(&update(press), &me()) {
            Inbound::Button { incoming, query } => {
                assert_eq!(incoming.text, "/cancel P7K2QX");
                assert_eq!(incoming.chat.kind, ChatKind::Direct);
                assert_eq!(query.0, "77");
            }
            other => panic!("{other:?}"),
        }
        let forged = json!({"update_id": 11, "callback_query": {
            "id": "78", "chat_instance": "x", "data": "x".repeat(65),
            "from": {"id": 1001, "is_bot": false, "first_name": "Alice"}}});
        assert!(matches!(
            inbound(&update(forged), &me()),
            Inbound::Ignored(_)
        ));
    }

    #[test]
    fn long_replies_are_split_under_the_limit() {
        let line = "x".repeat(100);
        let text = vec![line.as_str(); 90].join("\n"); // 9,089 units
        let parts = split_text(&text, MESSAGE_TEXT_UTF16_MAX);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.encode_utf16().count() <= 4_096));
        assert_eq!(parts.join("\n"), text, "broken at line ends, nothing lost");
        let emoji = "💸".repeat(3_000); // 6,000 units, no break points
        let parts = split_text(&emoji, MESSAGE_TEXT_UTF16_MAX);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].chars().count(), 2_048);
        assert_eq!(parts.concat(), emoji);
        assert!(split_text("  \n ", 10).is_empty());
    }

    #[test]
    fn replies_go_to_the_dm_or_the_chat_with_buttons_last() {
        let reply = Reply {
            image: None,
            document: None,
            platform: Platform::Telegram,
            audience: Audience::Private(PlatformUserId::new("1001").unwrap()),
            text: "To pay @bob 5.00 USD, send me: /confirm 123456".to_owned(),
            redacted: None,
            buttons: vec![bot::message::Button {
                label: "Cancel".to_owned(),
                command: "/cancel P7K2QX".to_owned(),
            }],
            deletion: None,
        };
        let out = outgoing(&reply).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].chat, tg::ChatId(1001));
        let markup = serde_json::to_value(out[0].buttons.as_ref().unwrap()).unwrap();
        assert_eq!(
            markup["inline_keyboard"][0][0]["callback_data"],
            "/cancel P7K2QX"
        );
        let mut other = reply.clone();
        other.platform = Platform::Mock;
        assert!(outgoing(&other).is_err());
        let mut bad = reply;
        bad.audience = Audience::Chat(ChatId::new("general").unwrap());
        assert!(matches!(outgoing(&bad), Err(OutgoingError::BadChat(_))));
    }

    #[test]
    fn a_deletion_names_the_message_in_the_replys_chat() {
        let mut reply = Reply {
            image: None,
            document: None,
            platform: Platform::Telegram,
            audience: Audience::Chat(ChatId::new("-1001234567890").unwrap()),
            text: "please delete it".to_owned(),
            redacted: None,
            buttons: Vec::new(),
            deletion: None,
        };
        assert_eq!(delete(&reply), Ok(None));
        reply.deletion = Some(bot::message::Deletion {
            message: MessageId::new("77").unwrap(),
            text_if_deleted: "I deleted it".to_owned(),
        });
        assert_eq!(
            delete(&reply),
            Ok(Some(Delete {
                chat: tg::ChatId(-1_001_234_567_890),
                message: tg::MessageId(77),
            }))
        );
        let mut bad = reply.clone();
        bad.deletion = Some(bot::message::Deletion {
            message: MessageId::new("m7").unwrap(),
            text_if_deleted: String::new(),
        });
        assert!(matches!(delete(&bad), Err(OutgoingError::BadMessage(_))));
        let mut private = reply;
        private.audience = Audience::Private(PlatformUserId::new("1001").unwrap());
        assert!(matches!(delete(&private), Err(OutgoingError::BadChat(_))));
    }
}
