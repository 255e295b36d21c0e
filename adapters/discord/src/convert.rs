//! The one place where Discord's JSON meets the core: an interaction (as
//! the endpoint receives it and as the gateway's `INTERACTION_CREATE`
//! carries it) in, an [`Inbound`] out; the core's [`Reply`]s out as
//! Discord message bodies and interaction responses; and the command
//! definitions registered on start.
//!
//! Interactions are read leniently (only the fields paybot uses, unknown
//! ones ignored), so a field Discord adds tomorrow does not stop payments.
//! A slash command becomes the text the core's parser already knows:
//! `/pay user:@bob amount:12.50 memo:pizza` → `/pay <@ID> 12.50 for pizza`,
//! with the user as a resolved [`Mention`]. Users are Discord user ids,
//! never display names.

use std::collections::HashMap;

use bot::command::{CARDS_PER_USER_MAX, CommandName, HISTORY_ENTRIES_MAX, MEMO_CHARS_MAX};
use bot::message::{
    Button, Chat, ChatId, ChatKind, EventId, Handle, Incoming, Mention, Platform, PlatformUserId,
    Reply, User,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// The longest amount, code, reference or count typed in an option, in bytes.
pub const WORD_OPTION_BYTES_MAX: usize = 32;
/// The longest memo or user list option, in bytes.
pub const TEXT_OPTION_BYTES_MAX: usize = 500;
/// The longest display name passed to the core, in characters.
pub const DISPLAY_NAME_CHARS_MAX: usize = 128;
/// `custom_id` prefix of the "Pay" context menu's amount form.
pub const PAY_MODAL_PREFIX: &str = "pay:";

/// Discord's longest message content, in characters.
pub const MESSAGE_CHARS_MAX: usize = 2_000;
/// Buttons in one action row, and action rows in one message.
pub const BUTTONS_PER_ROW_MAX: usize = 5;
pub const BUTTON_ROWS_MAX: usize = 5;
/// The longest button label, in characters, and `custom_id`, in bytes.
pub const BUTTON_LABEL_CHARS_MAX: usize = 80;
pub const CUSTOM_ID_BYTES_MAX: usize = 100;
/// The longest modal title, in characters.
pub const MODAL_TITLE_CHARS_MAX: usize = 45;
/// The name of the user context-menu command.
pub const PAY_MENU_NAME: &str = "Pay";

/// Message flag: only the user who invoked the interaction sees it.
const EPHEMERAL: u64 = 1 << 6;
/// Interaction callback types.
const PONG: u8 = 1;
const CHANNEL_MESSAGE: u8 = 4;
const DEFERRED_CHANNEL_MESSAGE: u8 = 5;
const MODAL: u8 = 9;
/// Option types.
const STRING_OPTION: u8 = 3;
const INTEGER_OPTION: u8 = 4;
const BOOLEAN_OPTION: u8 = 5;
const USER_OPTION: u8 = 6;
/// Interaction contexts: a server, the bot's DM.
const CONTEXT_GUILD: u8 = 0;
const CONTEXT_BOT_DM: u8 = 1;

/// Interaction types (Discord's numbers).
const PING: u8 = 1;
const APPLICATION_COMMAND: u8 = 2;
const MESSAGE_COMPONENT: u8 = 3;
const MODAL_SUBMIT: u8 = 5;
/// Command types.
const CHAT_INPUT: u8 = 1;
const USER_COMMAND: u8 = 2;

#[derive(Debug, Deserialize)]
struct RawInteraction {
    id: Value,
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default)]
    guild_id: Option<Value>,
    #[serde(default)]
    channel_id: Option<Value>,
    #[serde(default)]
    channel: Option<RawChannel>,
    #[serde(default)]
    member: Option<RawMember>,
    #[serde(default)]
    user: Option<RawUser>,
    #[serde(default)]
    data: Option<RawData>,
}

#[derive(Debug, Deserialize)]
struct RawChannel {
    id: Value,
}

#[derive(Debug, Deserialize)]
struct RawMember {
    #[serde(default)]
    user: Option<RawUser>,
    #[serde(default)]
    nick: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct RawUser {
    id: Value,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    global_name: Option<String>,
    #[serde(default)]
    bot: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct RawData {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<u8>,
    #[serde(default)]
    options: Vec<RawOption>,
    #[serde(default)]
    resolved: Option<RawResolved>,
    #[serde(default)]
    target_id: Option<Value>,
    #[serde(default)]
    custom_id: Option<String>,
    #[serde(default)]
    components: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct RawOption {
    name: String,
    #[serde(default)]
    value: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct RawResolved {
    #[serde(default)]
    users: HashMap<String, RawUser>,
}

/// What an interaction means to paybot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// Discord checking the endpoint: answer PONG.
    Ping,
    /// A command for the core.
    Command(Box<Incoming>),
    /// The "Pay" context menu on `target`: ask for the amount (a form whose
    /// `custom_id` is `pay:<id>:<username>`).
    AskAmount { target: User },
    /// Not for paybot, or not usable; the reason is for the log and a short
    /// ephemeral answer.
    Refused(&'static str),
}

/// A snowflake given as a string (Discord's way) or a number: a 64-bit
/// unsigned integer, so at most 20 digits.
fn snowflake(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<u64>().ok().map(|n| n.to_string())
        }
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        _ => None,
    }
}

fn user_of(raw: &RawUser, nick: Option<&str>) -> Option<User> {
    let id = PlatformUserId::new(snowflake(&raw.id)?).ok()?;
    let handle = raw.username.as_deref().and_then(|u| Handle::parse(u).ok());
    let name = nick
        .or(raw.global_name.as_deref())
        .or(raw.username.as_deref())
        .unwrap_or_default();
    // Shown to others: nothing invisible, no quote mark that could close
    // the bot's, no card number.
    let display_name = bot::text::clean_display_name(name, DISPLAY_NAME_CHARS_MAX)
        .unwrap_or_else(|| format!("user {id}"));
    Some(User {
        id,
        handle,
        display_name,
        is_bot: raw.bot.unwrap_or(false),
    })
}

/// The value of the option `name`, if it was given.
fn option_value<'a>(options: &'a [RawOption], name: &str) -> Option<&'a Value> {
    options
        .iter()
        .find(|o| o.name == name)
        .and_then(|o| o.value.as_ref())
}

/// One option's value as a single word (amount, code, reference, count).
fn word(options: &[RawOption], name: &str) -> Result<Option<String>, &'static str> {
    let Some(value) = option_value(options, name) else {
        return Ok(None);
    };
    let text = match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return Err("an option of the wrong type"),
    };
    if text.is_empty()
        || text.len() > WORD_OPTION_BYTES_MAX
        || text.chars().any(char::is_whitespace)
    {
        return Err("an option that must be one word");
    }
    Ok(Some(text))
}

/// A free-text option (memo, a list of mentions), on one line.
fn text(options: &[RawOption], name: &str) -> Result<Option<String>, &'static str> {
    let Some(value) = option_value(options, name) else {
        return Ok(None);
    };
    let Value::String(s) = value else {
        return Err("an option of the wrong type");
    };
    if s.len() > TEXT_OPTION_BYTES_MAX {
        return Err("an option that is too long");
    }
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let one_line = one_line.trim();
    Ok((!one_line.is_empty()).then(|| one_line.to_owned()))
}

/// Converts one interaction (its raw JSON body).
pub fn inbound(body: &[u8]) -> Inbound {
    let Ok(raw) = serde_json::from_slice::<RawInteraction>(body) else {
        return Inbound::Refused("not an interaction");
    };
    if raw.kind == PING {
        return Inbound::Ping;
    }
    let Some(event_id) = snowflake(&raw.id).and_then(|id| EventId::new(id).ok()) else {
        return Inbound::Refused("an interaction without an id");
    };
    // In a server the invoker is `member.user`; in a DM, `user`.
    let nick = raw.member.as_ref().and_then(|m| m.nick.as_deref());
    let invoker = raw
        .member
        .as_ref()
        .and_then(|m| m.user.as_ref())
        .or(raw.user.as_ref())
        .and_then(|u| user_of(u, nick));
    let Some(sender) = invoker else {
        return Inbound::Refused("an interaction without a user");
    };
    if sender.is_bot {
        return Inbound::Refused("sent by a bot");
    }
    let channel = raw
        .channel_id
        .as_ref()
        .or(raw.channel.as_ref().map(|c| &c.id))
        .and_then(snowflake)
        .and_then(|id| ChatId::new(id).ok());
    let Some(channel) = channel else {
        return Inbound::Refused("an interaction without a channel");
    };
    let chat = Chat {
        id: channel,
        kind: if raw.guild_id.is_some() {
            ChatKind::Group
        } else {
            ChatKind::Direct
        },
        title: None,
    };
    let data = raw.data.unwrap_or_default();
    let resolved = data.resolved.unwrap_or_default();
    let built = match raw.kind {
        APPLICATION_COMMAND if data.kind.unwrap_or(CHAT_INPUT) == USER_COMMAND => {
            let target = data
                .target_id
                .as_ref()
                .and_then(snowflake)
                .and_then(|id| resolved.users.get(&id))
                .and_then(|u| user_of(u, None));
            return match target {
                Some(target) if target.is_bot => Inbound::Refused("bots cannot be paid"),
                Some(target) => Inbound::AskAmount { target },
                None => Inbound::Refused("a context menu without its user"),
            };
        }
        APPLICATION_COMMAND => slash_text(
            data.name.as_deref().unwrap_or_default(),
            &data.options,
            &resolved,
        ),
        MODAL_SUBMIT => modal_text(
            data.custom_id.as_deref().unwrap_or_default(),
            &data.components,
        ),
        MESSAGE_COMPONENT => button_text(data.custom_id.as_deref().unwrap_or_default()),
        _ => Err("an interaction type paybot does not use"),
    };
    match built {
        Ok((text, mentions)) => Inbound::Command(Box::new(Incoming {
            platform: Platform::Discord,
            event_id,
            chat,
            sender,
            text,
            mentions,
            reply_to: None,
            // Only the bot sees a slash command's options: there is no
            // message in the channel to act on.
            message_id: None,
        })),
        Err(reason) => Inbound::Refused(reason),
    }
}

type Built = Result<(String, Vec<Mention>), &'static str>;

/// A USER option as `<@ID>` plus its resolved user.
fn user_option(
    options: &[RawOption],
    name: &str,
    resolved: &RawResolved,
) -> Result<Option<(String, Mention)>, &'static str> {
    let Some(id) = option_value(options, name)
        .map(|v| snowflake(v).ok_or("a user option that is not a user id"))
        .transpose()?
    else {
        return Ok(None);
    };
    let user = resolved
        .users
        .get(&id)
        .and_then(|u| user_of(u, None))
        .ok_or("a user option Discord did not resolve")?;
    let token = format!("<@{id}>");
    Ok(Some((token.clone(), Mention { token, user })))
}

/// The resolved users whose mention `<@ID>` is in `text`.
fn mentions_in(text: &str, resolved: &RawResolved) -> Vec<Mention> {
    resolved
        .users
        .iter()
        .filter(|(id, _)| text.contains(&format!("<@{id}>")))
        .filter_map(|(id, user)| {
            user_of(user, None).map(|user| Mention {
                token: format!("<@{id}>"),
                user,
            })
        })
        .collect()
}

fn slash_text(name: &str, options: &[RawOption], resolved: &RawResolved) -> Built {
    let with_memo = |mut text: String, memo: Option<String>| {
        if let Some(memo) = memo {
            text.push_str(" for ");
            text.push_str(&memo);
        }
        text
    };
    match name {
        "pay" | "request" => {
            let (token, mention) =
                user_option(options, "user", resolved)?.ok_or("no user given")?;
            let amount = word(options, "amount")?.ok_or("no amount given")?;
            let mut mentions = vec![mention];
            let mut command = format!("/{name} {token} {amount}");
            // Several payees: `to` names more people, each with an amount
            // (`<@2> 7 <@3> 3`) or all then `each` (`<@2> <@3> each`).
            if name == "pay"
                && let Some(more) = text(options, "to")?
            {
                let words: Vec<&str> = more.split_whitespace().collect();
                if words
                    .iter()
                    .any(|w| w.eq_ignore_ascii_case("for") || w.eq_ignore_ascii_case("every"))
                {
                    return Err("a memo or schedule in the to option");
                }
                command = match words.split_last() {
                    Some((last, people)) if last.eq_ignore_ascii_case("each") => {
                        format!("/pay {token} {} {amount} each", people.join(" "))
                    }
                    _ => format!("/pay {token} {amount} {}", words.join(" ")),
                };
                mentions.extend(mentions_in(&more, resolved));
            }
            // A standing order: `/pay` with a schedule (`month on the 1st`).
            if name == "pay"
                && let Some(every) = text(options, "every")?
            {
                let every = every.trim();
                let first = every.split_whitespace().next().unwrap_or_default();
                if !bot::recurrence::Recurrence::starts_with(first) {
                    command.push_str(" every");
                }
                command.push(' ');
                command.push_str(every);
            }
            let text = with_memo(command, text(options, "memo")?);
            Ok((text, mentions))
        }
        "split" => {
            let total = word(options, "total")?.ok_or("no total given")?;
            let users = text(options, "users")?.ok_or("no users given")?;
            let mentions = mentions_in(&users, resolved);
            let text = with_memo(format!("/split {total} {users}"), text(options, "memo")?);
            Ok((text, mentions))
        }
        "confirm" => {
            let code = word(options, "code")?.ok_or("no code given")?;
            let text = match word(options, "authcode")? {
                Some(authcode) => format!("/confirm {code} {authcode}"),
                None => format!("/confirm {code}"),
            };
            Ok((text, Vec::new()))
        }
        "history" if option_value(options, "export") == Some(&Value::Bool(true)) => {
            Ok(("/history export".to_owned(), Vec::new()))
        }
        "cancel" | "undo" | "approve" | "decline" | "remind" | "history" | "help" | "link"
        | "unlink" | "2fa" => {
            let argument = ["payment", "request", "count", "command", "code", "action"]
                .iter()
                .find_map(|option| word(options, option).transpose())
                .transpose()?;
            let mut text = match argument {
                Some(argument) => format!("/{name} {argument}"),
                None => format!("/{name}"),
            };
            // `/link confirm AUTHCODE`, `/2fa confirm|off AUTHCODE`.
            if let Some(authcode) = word(options, "authcode")? {
                text.push(' ');
                text.push_str(&authcode);
            }
            Ok((text, Vec::new()))
        }
        "card" => {
            let args = text(options, "args")?.ok_or("no arguments given")?;
            Ok((format!("/card {args}"), Vec::new()))
        }
        "topup" | "cashout" => {
            let amount = word(options, "amount")?.ok_or("no amount given")?;
            let text = match word(options, "card")? {
                Some(card) => format!("/{name} {amount} card {card}"),
                None => format!("/{name} {amount}"),
            };
            Ok((text, Vec::new()))
        }
        "tz" => Ok((
            match word(options, "zone")? {
                Some(zone) => format!("/tz {zone}"),
                None => "/tz".to_owned(),
            },
            Vec::new(),
        )),
        "scheduled" => Ok((
            match text(options, "args")? {
                Some(args) => format!("/scheduled {args}"),
                None => "/scheduled".to_owned(),
            },
            Vec::new(),
        )),
        "autopay" => Ok((
            match text(options, "args")? {
                Some(args) => format!("/autopay {args}"),
                None => "/autopay".to_owned(),
            },
            Vec::new(),
        )),
        "expense" | "tab" => {
            let text = match text(options, "args")? {
                Some(args) => format!("/{name} {args}"),
                None => format!("/{name}"),
            };
            // The people named as mentions, as for `/split`.
            let mentions: Vec<Mention> = resolved
                .users
                .iter()
                .filter(|(id, _)| text.contains(&format!("<@{id}>")))
                .filter_map(|(id, user)| {
                    user_of(user, None).map(|user| Mention {
                        token: format!("<@{id}>"),
                        user,
                    })
                })
                .collect();
            Ok((text, mentions))
        }
        "settle" => {
            if let Some(answer) = word(options, "answer")? {
                let settlement = word(options, "settlement")?.ok_or("no settlement given")?;
                return Ok((format!("/settle {answer} {settlement}"), Vec::new()));
            }
            let Some((token, mention)) = user_option(options, "user", resolved)? else {
                if word(options, "amount")?.is_some() || word(options, "how")?.is_some() {
                    return Err("an amount or cash settlement names its creditor (user)");
                }
                return Ok(("/settle".to_owned(), Vec::new()));
            };
            let mut text = format!("/settle {token}");
            if let Some(amount) = word(options, "amount")? {
                text.push(' ');
                text.push_str(&amount);
            }
            if word(options, "how")?.as_deref() == Some("cash") {
                text.push_str(" cash");
            }
            Ok((text, vec![mention]))
        }
        "balance" | "start" | "cards" | "requests" => Ok((format!("/{name}"), Vec::new())),
        _ => Err("a command paybot does not have"),
    }
}

/// The "Pay" form: `pay:<user id>:<username>` and its `amount` / `memo`
/// fields.
fn modal_text(custom_id: &str, components: &[Value]) -> Built {
    let rest = custom_id
        .strip_prefix(PAY_MODAL_PREFIX)
        .ok_or("a form paybot did not send")?;
    let (id, username) = rest.split_once(':').unwrap_or((rest, ""));
    let id = snowflake(&Value::String(id.to_owned())).ok_or("a form for no user")?;
    let mut fields: HashMap<String, String> = HashMap::new();
    for row in components {
        for input in row["components"].as_array().into_iter().flatten() {
            if let (Some(name), Some(value)) =
                (input["custom_id"].as_str(), input["value"].as_str())
            {
                fields.insert(name.to_owned(), value.to_owned());
            }
        }
    }
    let options: Vec<RawOption> = fields
        .into_iter()
        .map(|(name, value)| RawOption {
            name,
            value: Some(Value::String(value)),
        })
        .collect();
    let amount = word(&options, "amount")?.ok_or("no amount given")?;
    // Named as any other user is (the same clean-up and bounds); the
    // username only counts when it is a valid handle.
    let handle = Handle::parse(username).ok();
    let raw = RawUser {
        id: Value::String(id.clone()),
        username: handle.as_ref().map(|h| h.as_str().to_owned()),
        global_name: None,
        bot: None,
    };
    let user = user_of(&raw, None).ok_or("a form for no user")?;
    let token = format!("<@{id}>");
    let mut text = format!("/pay {token} {amount}");
    if let Some(memo) = self::text(&options, "memo")? {
        text.push_str(" for ");
        text.push_str(&memo);
    }
    Ok((text, vec![Mention { token, user }]))
}

/// A button paybot sent: its `custom_id` is the command it stands for.
fn button_text(custom_id: &str) -> Built {
    let valid = custom_id.starts_with('/')
        && custom_id.len() <= 100
        && (custom_id == "/settle"
            || [
                "/cancel ",
                "/approve ",
                "/decline ",
                "/settle confirm ",
                "/settle reject ",
            ]
            .iter()
            .any(|prefix| custom_id.starts_with(prefix)));
    if valid {
        Ok((custom_id.to_owned(), Vec::new()))
    } else {
        Err("a button paybot did not send")
    }
}

/// What is needed to answer an interaction: its id and token (the token
/// authorizes answers for 15 minutes; it is never logged), and where it
/// happened.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    pub id: u64,
    pub token: String,
    /// The channel it was used in.
    pub channel: Option<ChatId>,
    /// In a server (else a DM with the bot).
    pub in_guild: bool,
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope")
            .field("id", &self.id)
            .field("channel", &self.channel)
            .field("in_guild", &self.in_guild)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct RawEnvelope {
    id: Value,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    guild_id: Option<Value>,
    #[serde(default)]
    channel_id: Option<Value>,
    #[serde(default)]
    channel: Option<RawChannel>,
}

/// The [`Envelope`] of an interaction's raw JSON.
pub fn envelope(body: &[u8]) -> Option<Envelope> {
    let raw: RawEnvelope = serde_json::from_slice(body).ok()?;
    let id = snowflake(&raw.id)?.parse().ok()?;
    let token = raw.token.filter(|t| {
        !t.is_empty()
            && t.len() <= 1_000
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    })?;
    let channel = raw
        .channel_id
        .as_ref()
        .or(raw.channel.as_ref().map(|c| &c.id))
        .and_then(snowflake)
        .and_then(|id| ChatId::new(id).ok());
    Some(Envelope {
        id,
        token,
        channel,
        in_guild: raw.guild_id.is_some_and(|g| !g.is_null()),
    })
}

/// The answer to a PING.
pub fn pong() -> Value {
    json!({ "type": PONG })
}

/// An interaction response that is a message.
pub fn respond_with(message: Value) -> Value {
    json!({ "type": CHANNEL_MESSAGE, "data": message })
}

/// "paybot is thinking…", to be completed by editing the original response.
pub fn deferred(ephemeral: bool) -> Value {
    let flags = if ephemeral { EPHEMERAL } else { 0 };
    json!({ "type": DEFERRED_CHANNEL_MESSAGE, "data": { "flags": flags } })
}

/// The form the "Pay" context menu opens: amount and memo for `target`.
pub fn amount_form(target: &User) -> Value {
    let username = target
        .handle
        .as_ref()
        .map(|h| h.as_str().to_owned())
        .unwrap_or_default();
    let mut custom_id = format!("{PAY_MODAL_PREFIX}{}:{username}", target.id);
    if custom_id.len() > CUSTOM_ID_BYTES_MAX {
        custom_id = format!("{PAY_MODAL_PREFIX}{}:", target.id);
    }
    let title: String = format!("Pay {}", target.display_name)
        .chars()
        .take(MODAL_TITLE_CHARS_MAX)
        .collect();
    json!({
        "type": MODAL,
        "data": {
            "custom_id": custom_id,
            "title": title,
            "components": [
                {"type": 1, "components": [{
                    "type": 4, "custom_id": "amount", "style": 1, "label": "Amount",
                    "placeholder": "e.g. 12.50", "required": true,
                    "min_length": 1, "max_length": WORD_OPTION_BYTES_MAX,
                }]},
                {"type": 1, "components": [{
                    "type": 4, "custom_id": "memo", "style": 1, "label": "What for? (optional)",
                    "required": false, "max_length": MEMO_CHARS_MAX,
                }]},
            ],
        },
    })
}

/// One message body: plain text that pings nobody (a memo saying
/// `@everyone` stays text), with `buttons` whose `custom_id` is the
/// command each stands for.
pub fn message(text: &str, buttons: &[Button], ephemeral: bool) -> Value {
    let mut body = serde_json::Map::new();
    body.insert("content".to_owned(), json!(text));
    body.insert("allowed_mentions".to_owned(), json!({ "parse": [] }));
    if ephemeral {
        body.insert("flags".to_owned(), json!(EPHEMERAL));
    }
    let usable: Vec<Value> = buttons
        .iter()
        .filter(|b| b.command.len() <= CUSTOM_ID_BYTES_MAX && !b.label.trim().is_empty())
        .take(BUTTONS_PER_ROW_MAX * BUTTON_ROWS_MAX)
        .map(|b| {
            let label: String = b.label.chars().take(BUTTON_LABEL_CHARS_MAX).collect();
            json!({ "type": 2, "style": 2, "label": label, "custom_id": b.command })
        })
        .collect();
    if !usable.is_empty() {
        let rows: Vec<Value> = usable
            .chunks(BUTTONS_PER_ROW_MAX)
            .map(|row| json!({ "type": 1, "components": row }))
            .collect();
        body.insert("components".to_owned(), Value::Array(rows));
    }
    Value::Object(body)
}

/// A reply as message bodies: split under [`MESSAGE_CHARS_MAX`] at line
/// breaks (within a line when one is longer), buttons on the last part.
pub fn messages(reply: &Reply, ephemeral: bool) -> Vec<Value> {
    let parts = split_text(&reply.text, MESSAGE_CHARS_MAX);
    let last = parts.len().saturating_sub(1);
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let buttons = if i == last {
                reply.buttons.as_slice()
            } else {
                &[]
            };
            message(part, buttons, ephemeral)
        })
        .collect()
}

/// `text` in parts of at most `max` characters, cut at the last line break
/// that fits, else between characters. Never an empty part.
pub fn split_text(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut parts = Vec::new();
    let mut rest = text.trim_end();
    while rest.chars().count() > max {
        let cut = rest
            .char_indices()
            .nth(max)
            .map_or(rest.len(), |(index, _)| index);
        let head = rest.get(..cut).unwrap_or(rest);
        let at = match head.rfind('\n') {
            Some(newline) if newline > 0 => newline,
            _ => cut,
        };
        let (part, tail) = rest.split_at(at);
        if !part.trim().is_empty() {
            parts.push(part.trim_end().to_owned());
        }
        rest = tail.trim_start_matches('\n');
    }
    if !rest.trim().is_empty() || parts.is_empty() {
        let last = if rest.trim().is_empty() { "…" } else { rest };
        parts.push(last.to_owned());
    }
    parts
}

/// The commands registered on start (a bulk overwrite): every core command
/// as a slash command with typed options (amounts are STRING options, read
/// as decimals by the core, never floats), and the user context-menu
/// entry "Pay".
pub fn commands() -> Value {
    let string = |name: &str, description: &str, required: bool, max: usize| {
        json!({"type": STRING_OPTION, "name": name, "description": description,
            "required": required, "max_length": max})
    };
    let user = |description: &str| json!({"type": USER_OPTION, "name": "user", "description": description, "required": true});
    let amount = string(
        "amount",
        "How much, e.g. 12.50 or 20 EUR",
        true,
        WORD_OPTION_BYTES_MAX,
    );
    let memo = string("memo", "What it is for", false, MEMO_CHARS_MAX);
    let authcode = string(
        "authcode",
        "The code your authenticator app shows, when asked for it",
        false,
        WORD_OPTION_BYTES_MAX,
    );
    let contexts = json!([CONTEXT_GUILD, CONTEXT_BOT_DM]);
    let mut all: Vec<Value> = CommandName::ALL
        .iter()
        .map(|name| {
            let (description, options) = match name {
                CommandName::Pay => (
                    "Pay someone",
                    vec![
                        user("Who to pay"),
                        amount.clone(),
                        memo.clone(),
                        string(
                            "to",
                            "More people: @carol 7 @dave 3 (each their amount), or @carol @dave each",
                            false,
                            TEXT_OPTION_BYTES_MAX,
                        ),
                        string(
                            "every",
                            "Pay on a schedule, e.g. month on the 1st, week on friday (see /scheduled)",
                            false,
                            TEXT_OPTION_BYTES_MAX,
                        ),
                    ],
                ),
                CommandName::Request => (
                    name.summary(),
                    vec![user("Who should pay you"), amount.clone(), memo.clone()],
                ),
                CommandName::Split => (
                    name.summary(),
                    vec![
                        string(
                            "total",
                            "The whole bill, e.g. 60",
                            true,
                            WORD_OPTION_BYTES_MAX,
                        ),
                        string(
                            "users",
                            "Who shares it, as mentions: @bob @carol",
                            true,
                            TEXT_OPTION_BYTES_MAX,
                        ),
                        memo.clone(),
                    ],
                ),
                CommandName::Confirm => (
                    name.summary(),
                    vec![
                        string(
                            "code",
                            "The 6-digit code I sent you",
                            true,
                            WORD_OPTION_BYTES_MAX,
                        ),
                        authcode.clone(),
                    ],
                ),
                CommandName::Undo => (
                    name.summary(),
                    vec![string(
                        "payment",
                        "Its reference, e.g. M7K2QX (default: your latest)",
                        false,
                        WORD_OPTION_BYTES_MAX,
                    )],
                ),
                CommandName::Cancel => (
                    name.summary(),
                    vec![string(
                        "payment",
                        "Its reference, e.g. P7K2QX (default: the latest)",
                        false,
                        WORD_OPTION_BYTES_MAX,
                    )],
                ),
                CommandName::Approve | CommandName::Decline => (
                    name.summary(),
                    vec![string(
                        "request",
                        "The request's reference, e.g. R4M9TQ",
                        true,
                        WORD_OPTION_BYTES_MAX,
                    )],
                ),
                CommandName::History => (
                    name.summary(),
                    vec![
                        json!({"type": INTEGER_OPTION, "name": "count",
                        "description": "How many entries", "required": false,
                        "min_value": 1, "max_value": HISTORY_ENTRIES_MAX}),
                        json!({"type": BOOLEAN_OPTION, "name": "export",
                        "description": "All of it as a CSV file, sent to your DM", "required": false}),
                    ],
                ),
                CommandName::Remind => (
                    name.summary(),
                    vec![string(
                        "request",
                        "The reference of your request, e.g. R4M9TQ (see /requests)",
                        true,
                        WORD_OPTION_BYTES_MAX,
                    )],
                ),
                CommandName::Link => (
                    name.summary(),
                    vec![
                        string(
                            "code",
                            "The link code from your other chat app, or confirm or cancel (leave out to get a code)",
                            false,
                            WORD_OPTION_BYTES_MAX,
                        ),
                        authcode.clone(),
                    ],
                ),
                CommandName::SecondFactor => (
                    name.summary(),
                    vec![
                        json!({"type": STRING_OPTION, "name": "action",
                            "description": "setup, confirm or off (leave out to see where it is)",
                            "required": false,
                            "choices": [{"name": "setup", "value": "setup"},
                                {"name": "confirm", "value": "confirm"},
                                {"name": "off", "value": "off"}]}),
                        authcode.clone(),
                    ],
                ),
                CommandName::Unlink => (
                    name.summary(),
                    vec![json!({"type": STRING_OPTION, "name": "action",
                        "description": "confirm: leave the shared wallet (leave out to see what happens)",
                        "required": false,
                        "choices": [{"name": "confirm", "value": "confirm"}]})],
                ),
                CommandName::Help => {
                    let choices: Vec<Value> = CommandName::ALL
                        .iter()
                        .map(|c| json!({"name": c.as_str(), "value": c.as_str()}))
                        .collect();
                    (
                        name.summary(),
                        vec![json!({"type": STRING_OPTION, "name": "command",
                            "description": "A command to explain", "required": false,
                            "choices": choices})],
                    )
                }
                CommandName::Card => (
                    name.summary(),
                    vec![string(
                        "args",
                        "add NUMBER MM/YY, or remove N (in a DM with me only)",
                        true,
                        TEXT_OPTION_BYTES_MAX,
                    )],
                ),
                CommandName::TopUp | CommandName::CashOut => (
                    name.summary(),
                    vec![
                        amount.clone(),
                        json!({"type": INTEGER_OPTION, "name": "card",
                            "description": "Which card, as /cards numbers them (default: 1)",
                            "required": false, "min_value": 1,
                            "max_value": CARDS_PER_USER_MAX}),
                    ],
                ),
                CommandName::TimeZone => (
                    name.summary(),
                    vec![string(
                        "zone",
                        "An IANA time zone, e.g. Europe/Paris (leave out to see yours)",
                        false,
                        WORD_OPTION_BYTES_MAX,
                    )],
                ),
                CommandName::Scheduled => (
                    name.summary(),
                    vec![string(
                        "args",
                        "pause, resume or cancel REF (leave out to list them)",
                        false,
                        TEXT_OPTION_BYTES_MAX,
                    )],
                ),
                CommandName::Autopay => (
                    name.summary(),
                    vec![string(
                        "args",
                        "@biller up to AMOUNT, or off @biller (leave out to list them)",
                        false,
                        TEXT_OPTION_BYTES_MAX,
                    )],
                ),
                CommandName::Expense => (
                    name.summary(),
                    vec![string(
                        "args",
                        "60 for dinner, 60 @bob @carol, 60 @bob:20 @carol:40, ... paid by @bob, or undo REF",
                        true,
                        TEXT_OPTION_BYTES_MAX,
                    )],
                ),
                CommandName::Tab => (
                    name.summary(),
                    vec![string(
                        "args",
                        "@handle for one person's part, history, or export for a CSV by DM (leave out for everyone)",
                        false,
                        TEXT_OPTION_BYTES_MAX,
                    )],
                ),
                CommandName::Settle => (
                    name.summary(),
                    vec![
                        json!({"type": USER_OPTION, "name": "user",
                            "description": "Whom you pay (leave out to settle your whole part)",
                            "required": false}),
                        string(
                            "amount",
                            "How much toward the tab, e.g. 20 (default: all you owe them)",
                            false,
                            WORD_OPTION_BYTES_MAX,
                        ),
                        json!({"type": STRING_OPTION, "name": "how",
                            "description": "cash: you paid outside paybot; counts once they confirm",
                            "required": false,
                            "choices": [{"name": "cash", "value": "cash"}]}),
                        json!({"type": STRING_OPTION, "name": "answer",
                            "description": "A cash settlement: confirm or reject (paid to you), cancel (yours)",
                            "required": false,
                            "choices": [{"name": "confirm", "value": "confirm"},
                                {"name": "reject", "value": "reject"},
                                {"name": "cancel", "value": "cancel"}]}),
                        string(
                            "settlement",
                            "The cash settlement's reference, e.g. T7K2QX (with answer)",
                            false,
                            WORD_OPTION_BYTES_MAX,
                        ),
                    ],
                ),
                CommandName::Balance
                | CommandName::Limits
                | CommandName::Bills
                | CommandName::Requests
                | CommandName::Start
                | CommandName::Cards => {
                    (name.summary(), Vec::new())
                }
            };
            json!({
                "type": CHAT_INPUT,
                "name": name.as_str(),
                "description": description,
                "options": options,
                "contexts": contexts,
                "integration_types": [0],
            })
        })
        .collect();
    all.push(json!({
        "type": USER_COMMAND,
        "name": PAY_MENU_NAME,
        "contexts": [CONTEXT_GUILD],
        "integration_types": [0],
    }));
    Value::Array(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn command(options: Value, resolved: Value, name: &str) -> Value {
        json!({
            "id": "1300000000000000001", "application_id": "1200000000000000000",
            "type": 2, "token": "tok", "version": 1, "locale": "en-US",
            "guild_id": "1100000000000000000", "channel_id": "1110000000000000000",
            "member": {"user": {"id": "1000000000000000001", "username": "alice",
                "global_name": "Alice A"}, "nick": null, "roles": [], "joined_at": "2024-01-01T00:00:00Z"},
            "data": {"id": "1400000000000000000", "name": name, "type": 1,
                "options": options, "resolved": resolved}
        })
    }

    fn convert(value: &Value) -> Inbound {
        inbound(value.to_string().as_bytes())
    }

    fn incoming(value: &Value) -> Incoming {
        match convert(value) {
            Inbound::Command(incoming) => *incoming,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn slash_pay_becomes_pay_text_with_a_resolved_mention() {
        let value = command(
            json!([
                {"name": "user", "type": 6, "value": "1000000000000000002"},
                {"name": "amount", "type": 3, "value": "12.50"},
                {"name": "memo", "type": 3, "value": "pizza\nnight"}
            ]),
            json!({"users": {"1000000000000000002": {"id": "1000000000000000002",
                "username": "bob", "global_name": "Bobby"}}}),
            "pay",
        );
        let msg = incoming(&value);
        assert_eq!(
            msg.text,
            "/pay <@1000000000000000002> 12.50 for pizza night"
        );
        assert_eq!(msg.event_id.as_str(), "1300000000000000001");
        assert_eq!(msg.chat.kind, ChatKind::Group);
        assert_eq!(msg.sender.id.as_str(), "1000000000000000001");
        assert_eq!(
            msg.mentions[0].user.handle.as_ref().unwrap().as_str(),
            "bob"
        );
        assert_eq!(msg.platform, Platform::Discord);
    }

    #[test]
    fn slash_pay_to_several_people() {
        let resolved = json!({"users": {
            "1000000000000000002": {"id": "1000000000000000002", "username": "bob"},
            "1000000000000000003": {"id": "1000000000000000003", "username": "carol"}}});
        for (to, expected) in [
            (
                "<@1000000000000000003> 7",
                "/pay <@1000000000000000002> 5 <@1000000000000000003> 7 for lunch",
            ),
            (
                "<@1000000000000000003> each",
                "/pay <@1000000000000000002> <@1000000000000000003> 5 each for lunch",
            ),
        ] {
            let value = command(
                json!([
                    {"name": "user", "type": 6, "value": "1000000000000000002"},
                    {"name": "amount", "type": 3, "value": "5"},
                    {"name": "to", "type": 3, "value": to},
                    {"name": "memo", "type": 3, "value": "lunch"}
                ]),
                resolved.clone(),
                "pay",
            );
            let msg = incoming(&value);
            assert_eq!(msg.text, expected);
            assert_eq!(msg.mentions.len(), 2);
        }
        let smuggled = command(
            json!([
                {"name": "user", "type": 6, "value": "1000000000000000002"},
                {"name": "amount", "type": 3, "value": "5"},
                {"name": "to", "type": 3, "value": "<@1000000000000000003> 7 every day"}
            ]),
            resolved,
            "pay",
        );
        assert!(matches!(convert(&smuggled), Inbound::Refused(_)));
        let undo = command(
            json!([{"name": "payment", "type": 3, "value": "M7K2QX"}]),
            json!({}),
            "undo",
        );
        assert_eq!(incoming(&undo).text, "/undo M7K2QX");
    }

    #[test]
    fn slash_pay_with_a_schedule_becomes_a_standing_order() {
        let resolved = json!({"users": {"1000000000000000002": {"id": "1000000000000000002",
            "username": "bob", "global_name": "Bobby"}}});
        for (every, expected) in [
            ("month on the 1st", "every month on the 1st"),
            ("every week on friday", "every week on friday"),
            ("weekly times 4", "weekly times 4"),
        ] {
            let value = command(
                json!([
                    {"name": "user", "type": 6, "value": "1000000000000000002"},
                    {"name": "amount", "type": 3, "value": "500"},
                    {"name": "memo", "type": 3, "value": "rent"},
                    {"name": "every", "type": 3, "value": every}
                ]),
                resolved.clone(),
                "pay",
            );
            assert_eq!(
                incoming(&value).text,
                format!("/pay <@1000000000000000002> 500 {expected} for rent")
            );
        }
    }

    #[test]
    fn slash_expense_and_tab_carry_their_text_and_mentions() {
        let resolved = json!({"users": {"1000000000000000002": {"id": "1000000000000000002",
            "username": "bob"}}});
        let value = command(
            json!([{"name": "args", "type": 3,
                "value": "60 <@1000000000000000002>:20 paid by <@1000000000000000002> for dinner"}]),
            resolved.clone(),
            "expense",
        );
        let msg = incoming(&value);
        assert_eq!(
            msg.text,
            "/expense 60 <@1000000000000000002>:20 paid by <@1000000000000000002> for dinner"
        );
        assert_eq!(msg.mentions.len(), 1);
        assert_eq!(
            msg.mentions[0].user.handle.as_ref().unwrap().as_str(),
            "bob"
        );
        assert_eq!(incoming(&command(json!([]), json!({}), "tab")).text, "/tab");
        let history = command(
            json!([{"name": "args", "type": 3, "value": "history"}]),
            json!({}),
            "tab",
        );
        assert_eq!(incoming(&history).text, "/tab history");
        let export = command(
            json!([{"name": "args", "type": 3, "value": "export"}]),
            json!({}),
            "tab",
        );
        assert_eq!(incoming(&export).text, "/tab export");
        // The option's help names every form.
        let tab = commands()
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "tab")
            .cloned()
            .unwrap();
        let help = tab["options"][0]["description"].as_str().unwrap();
        for form in ["@handle", "history", "export"] {
            assert!(help.contains(form), "{help}");
        }
    }

    #[test]
    fn slash_settle_carries_the_creditor_amount_and_cash() {
        let resolved = json!({"users": {"1000000000000000002": {"id": "1000000000000000002",
            "username": "bob"}}});
        assert_eq!(
            incoming(&command(json!([]), json!({}), "settle")).text,
            "/settle"
        );
        let value = command(
            json!([{"name": "user", "type": 6, "value": "1000000000000000002"},
                {"name": "amount", "type": 3, "value": "20"},
                {"name": "how", "type": 3, "value": "cash"}]),
            resolved,
            "settle",
        );
        let msg = incoming(&value);
        assert_eq!(msg.text, "/settle <@1000000000000000002> 20 cash");
        assert_eq!(msg.mentions.len(), 1);
        let answer = command(
            json!([{"name": "answer", "type": 3, "value": "reject"},
                {"name": "settlement", "type": 3, "value": "T7K2QX"}]),
            json!({}),
            "settle",
        );
        assert_eq!(incoming(&answer).text, "/settle reject T7K2QX");
        let cancel = command(
            json!([{"name": "answer", "type": 3, "value": "cancel"},
                {"name": "settlement", "type": 3, "value": "T7K2QX"}]),
            json!({}),
            "settle",
        );
        assert_eq!(incoming(&cancel).text, "/settle cancel T7K2QX");
        // An amount or cash needs the creditor: refused, never dropped.
        for option in [
            json!({"name": "amount", "type": 3, "value": "20"}),
            json!({"name": "how", "type": 3, "value": "cash"}),
        ] {
            let alone = command(json!([option]), json!({}), "settle");
            assert!(matches!(convert(&alone), Inbound::Refused(_)));
        }
    }

    #[test]
    fn options_cannot_smuggle_words() {
        let value = command(
            json!([
                {"name": "user", "type": 6, "value": "1000000000000000002"},
                {"name": "amount", "type": 3, "value": "5 <@1000000000000000003>"}
            ]),
            json!({"users": {"1000000000000000002": {"id": "1000000000000000002", "username": "bob"}}}),
            "pay",
        );
        assert!(matches!(convert(&value), Inbound::Refused(_)));
        let unresolved = command(
            json!([{"name": "user", "type": 6, "value": "1000000000000000002"},
                   {"name": "amount", "type": 3, "value": "5"}]),
            json!({}),
            "pay",
        );
        assert!(matches!(convert(&unresolved), Inbound::Refused(_)));
    }

    #[test]
    fn dm_ping_confirm_and_garbage() {
        assert_eq!(convert(&json!({"id": "1", "type": 1})), Inbound::Ping);
        let dm = json!({"id": "1300000000000000009", "type": 2, "channel_id": "1110000000000000009",
            "user": {"id": "1000000000000000001", "username": "alice"},
            "data": {"name": "confirm", "type": 1, "options": [{"name": "code", "type": 3, "value": "123456"}]}});
        let msg = incoming(&dm);
        assert_eq!(msg.chat.kind, ChatKind::Direct);
        assert_eq!(msg.text, "/confirm 123456");
        assert!(matches!(inbound(b"{not json"), Inbound::Refused(_)));
        assert!(matches!(inbound(b"[]"), Inbound::Refused(_)));
    }

    #[test]
    fn card_commands_become_their_text() {
        let card = command(
            json!([{"name": "args", "type": 3, "value": "remove 2"}]),
            json!({}),
            "card",
        );
        assert_eq!(incoming(&card).text, "/card remove 2");
        let topup = command(
            json!([{"name": "amount", "type": 3, "value": "20"},
                   {"name": "card", "type": 4, "value": 2}]),
            json!({}),
            "topup",
        );
        assert_eq!(incoming(&topup).text, "/topup 20 card 2");
        let cashout = command(
            json!([{"name": "amount", "type": 3, "value": "5.50"}]),
            json!({}),
            "cashout",
        );
        assert_eq!(incoming(&cashout).text, "/cashout 5.50");
        assert_eq!(
            incoming(&command(json!([]), json!({}), "cards")).text,
            "/cards"
        );
    }

    #[test]
    fn context_menu_asks_for_an_amount_and_the_form_pays() {
        let menu = json!({"id": "1300000000000000010", "type": 2, "guild_id": "1100000000000000000",
            "channel_id": "1110000000000000000",
            "member": {"user": {"id": "1000000000000000001", "username": "alice"}},
            "data": {"name": "Pay", "type": 2, "target_id": "1000000000000000002",
                "resolved": {"users": {"1000000000000000002": {"id": "1000000000000000002", "username": "bob"}}}}});
        match convert(&menu) {
            Inbound::AskAmount { target } => assert_eq!(target.id.as_str(), "1000000000000000002"),
            other => panic!("{other:?}"),
        }
        let form = json!({"id": "1300000000000000011", "type": 5, "guild_id": "1100000000000000000",
            "channel_id": "1110000000000000000",
            "member": {"user": {"id": "1000000000000000001", "username": "alice"}},
            "data": {"custom_id": "pay:1000000000000000002:bob", "components": [
                {"type": 1, "components": [{"type": 4, "custom_id": "amount", "value": "7"}]},
                {"type": 1, "components": [{"type": 4, "custom_id": "memo", "value": "cab"}]}]}});
        let msg = incoming(&form);
        assert_eq!(msg.text, "/pay <@1000000000000000002> 7 for cab");
        assert_eq!(
            msg.mentions[0].user.handle.as_ref().unwrap().as_str(),
            "bob"
        );
    }

    #[test]
    fn long_replies_are_split_with_buttons_on_the_last_part() {
        let line = "x".repeat(1_500);
        let reply = Reply {
            image: None,
            document: None,
            platform: Platform::Discord,
            audience: bot::message::Audience::Private(PlatformUserId::new("1").unwrap()),
            text: format!("{line}\n{line}\n{}", "y".repeat(4_100)),
            redacted: None,
            buttons: vec![Button::new("Cancel", "/cancel P7K2QX")],
            deletion: None,
        };
        let parts = messages(&reply, true);
        assert_eq!(parts.len(), 5);
        for part in &parts {
            let content = part["content"].as_str().unwrap();
            assert!((1..=MESSAGE_CHARS_MAX).contains(&content.chars().count()));
            assert_eq!(part["flags"], json!(EPHEMERAL));
            assert_eq!(part["allowed_mentions"], json!({"parse": []}));
        }
        assert!(parts[..4].iter().all(|p| p.get("components").is_none()));
        assert_eq!(
            parts[4]["components"][0]["components"][0]["custom_id"],
            json!("/cancel P7K2QX")
        );
        assert_eq!(split_text("", 10), vec!["…".to_owned()]);
        assert_eq!(split_text("héllo wörld", 5).concat(), "héllo wörld");
    }

    #[test]
    fn every_command_is_registered_as_discord_accepts_it() {
        let commands = commands();
        let commands = commands.as_array().unwrap();
        assert_eq!(commands.len(), CommandName::ALL.len() + 1);
        for command in commands {
            let name = command["name"].as_str().unwrap();
            if command["type"] == json!(CHAT_INPUT) {
                // Discord: 1 to 32 of lower-case letters, digits, `-`, `_`.
                assert!((1..=32).contains(&name.len()), "{name}");
                assert!(
                    name.chars().all(|c| c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || c == '-'
                        || c == '_'),
                    "{name}"
                );
                let description = command["description"].as_str().unwrap();
                assert!((1..=100).contains(&description.chars().count()));
                for option in command["options"].as_array().unwrap() {
                    let text = option["description"].as_str().unwrap();
                    assert!((1..=100).contains(&text.chars().count()), "{text}");
                    assert_ne!(option["type"], json!(10), "no NUMBER (f64) options");
                }
            } else {
                assert_eq!(name, PAY_MENU_NAME);
                assert!(command.get("description").is_none());
            }
        }
    }

    #[test]
    fn the_amount_form_names_the_payee_by_id() {
        let target = User {
            id: PlatformUserId::new("1000000000000000002").unwrap(),
            handle: Handle::parse("bob").ok(),
            display_name: "Bobby with a very long display name indeed".to_owned(),
            is_bot: false,
        };
        let form = amount_form(&target);
        assert_eq!(form["type"], json!(MODAL));
        assert_eq!(
            form["data"]["custom_id"],
            json!("pay:1000000000000000002:bob")
        );
        let title = form["data"]["title"].as_str().unwrap();
        assert!(title.chars().count() <= MODAL_TITLE_CHARS_MAX);
        let envelope =
            envelope(br#"{"id":"5","token":"abc.DEF_1-2","guild_id":"9","channel_id":"7"}"#)
                .unwrap();
        assert_eq!((envelope.id, envelope.in_guild), (5, true));
        assert!(
            !format!("{envelope:?}").contains("abc"),
            "the token is not shown"
        );
        assert!(envelope_of_bad_token_is_none());
    }

    fn envelope_of_bad_token_is_none() -> bool {
        envelope(br#"{"id":"5","token":"a b"}"#).is_none()
            && envelope(br#"{"id":"x","token":"ab"}"#).is_none()
    }

    #[test]
    fn ids_are_64_bit_snowflakes() {
        assert_eq!(
            snowflake(&json!("53908232506183680")).unwrap(),
            "53908232506183680"
        );
        assert_eq!(snowflake(&json!(42)).unwrap(), "42");
        // Found by the discord_interaction fuzz target: a 150-digit "id"
        // made a fallback display name longer than the bound.
        assert_eq!(snowflake(&json!("1".repeat(150))), None);
        assert_eq!(snowflake(&json!("18446744073709551616")), None);
        assert_eq!(snowflake(&json!("+5")), None);
        assert_eq!(snowflake(&json!("")), None);
        assert_eq!(snowflake(&json!(-1)), None);
    }

    #[test]
    fn buttons_only_carry_our_commands() {
        let press = |custom_id: &str| {
            json!({"id": "1300000000000000012", "type": 3, "channel_id": "1110000000000000009",
                "user": {"id": "1000000000000000001", "username": "alice"},
                "data": {"custom_id": custom_id, "component_type": 2}})
        };
        assert_eq!(incoming(&press("/cancel P7K2QX")).text, "/cancel P7K2QX");
        assert!(matches!(
            convert(&press("/confirm 123456")),
            Inbound::Refused(_)
        ));
        assert!(matches!(convert(&press("hello")), Inbound::Refused(_)));
    }
}
