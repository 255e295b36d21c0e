//! `paybot-telegram`: Telegram through teloxide (long polling, or a webhook
//! mounted in paybot's axum server).
//!
//! The design decision to know: teloxide types stop in this crate, and all
//! conversion happens in one private module (`convert`); neither the `bot`
//! core nor this crate's public API has a teloxide type. Every update,
//! whichever way it arrived, goes through `Telegram::process`: convert,
//! hand to the core (which does each event id once), send the replies. Messages to other people come from the core's
//! outbox through [`Telegram`]'s notifier. The API base URL is a setting, so
//! tests run the real teloxide client against a local fake Bot API.
//!
//! A reply that asks for a message to be deleted (a card number posted in a
//! group) is best effort: Telegram lets a bot delete other people's group
//! messages only when it is an admin allowed to delete messages. The
//! adapter tries `deleteMessage` first and sends the reply's text for
//! whichever happened (deleted, or "please delete it").
//!
//! Telegram forbids a bot to open a private chat, so the adapter's
//! platform profile (`PlatformProfile::with_dm_invite`, handed to the core
//! with `Bot::register_platform`) makes the core answer a group command
//! from someone who never wrote to the bot privately with a
//! `https://t.me/<bot>?start=setup` link instead of acting on it.

pub mod config;
mod convert;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod webhook;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use bot::PlatformProfile;
use bot::answered::AnsweredEvents;
use bot::command::CommandName;
use bot::message::{Audience, ChatKind, Incoming, Platform, Reply};
use bot::notify::{DeliveryError, Notifier};
use teloxide::adaptors::Throttle;
use teloxide::adaptors::throttle::Limits;
use teloxide::payloads::{
    GetUpdatesSetters as _, SendDocumentSetters as _, SendMessageSetters as _,
    SendPhotoSetters as _, SetWebhookSetters as _,
};
use teloxide::requests::{Request as _, Requester as _};
use teloxide::types::{AllowedUpdate, BotCommand, InputFile, LinkPreviewOptions, Update};
use teloxide::{ApiError, RequestError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{ConfigError, Mode, TelegramConfig, Token, WebhookSecret};
use convert::Inbound;
pub use convert::{
    BotIdentity, CALLBACK_DATA_BYTES_MAX, DISPLAY_NAME_CHARS_MAX, ENTITIES_MAX,
    MESSAGE_TEXT_UTF16_MAX,
};
pub use webhook::{SECRET_HEADER, WEBHOOK_BODY_BYTES_MAX, WEBHOOK_PATH};

/// How long `getUpdates` waits for an update before answering empty, in
/// seconds (long polling).
pub const POLL_TIMEOUT_SECS: u32 = 25;
/// Updates asked for per `getUpdates`.
pub const POLL_BATCH_UPDATES_MAX: u8 = 100;
/// Waits after a failed `getUpdates`, doubling from the first to the last,
/// in milliseconds.
pub const POLL_BACKOFF_MS_MIN: u64 = 250;
pub const POLL_BACKOFF_MS_MAX: u64 = 30_000;
/// How long one message may take to send, waits for Telegram's
/// `retry_after` included, in seconds.
pub const SEND_TIMEOUT_SECS: u64 = 120;
/// Times a send follows a group's move to a supergroup.
pub const CHAT_MIGRATIONS_FOLLOWED_MAX: usize = 2;

/// The updates paybot asks Telegram for.
const ALLOWED_UPDATES: [AllowedUpdate; 2] = [AllowedUpdate::Message, AllowedUpdate::CallbackQuery];

/// The Bot API client: teloxide's, throttled to Telegram's documented
/// rates (per chat, per group, overall), retrying after a 429's
/// `retry_after`.
type Api = Throttle<teloxide::Bot>;

/// Why the adapter could not start. Each names the setting to look at.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("Telegram refused the bot token (telegram.token): {0}")]
    TokenRejected(String),
    #[error("cannot reach the Telegram Bot API at {url} (telegram.api_url): {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the Telegram Bot API at {url} refused {method}: {reason}")]
    Refused {
        url: String,
        method: &'static str,
        reason: String,
    },
    #[error("getMe answered a bot username that is not one (`{0}`)")]
    BadUsername(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// The running Telegram adapter.
pub struct Telegram {
    core: Arc<bot::Bot>,
    api: Api,
    me: BotIdentity,
    invite_url: String,
    /// Updates Telegram sends again (a webhook retried, a poll answered
    /// twice) are answered once; after a restart the core gives back the
    /// stored outcome (codes blanked), since the first answer may never
    /// have gone out.
    answered: AnsweredEvents,
}

impl fmt::Debug for Telegram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telegram")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

fn start_error(url: &url::Url, method: &'static str, error: RequestError) -> StartError {
    let url = url.to_string();
    match error {
        RequestError::Api(ApiError::InvalidToken) => StartError::TokenRejected(error.to_string()),
        RequestError::Api(ApiError::Unknown(text)) if text.starts_with("Unauthorized") => {
            StartError::TokenRejected(text)
        }
        RequestError::Network(_) | RequestError::Io(_) => StartError::Unreachable {
            url,
            reason: error.to_string(),
        },
        other => StartError::Refused {
            url,
            method,
            reason: other.to_string(),
        },
    }
}

/// Whether Telegram will never take this message, however often it is sent
/// (the user blocked the bot, the chat is gone, the request is malformed).
fn is_permanent(error: &RequestError) -> bool {
    match error {
        RequestError::Api(ApiError::Unknown(text)) => {
            text.starts_with("Bad Request") || text.starts_with("Forbidden")
        }
        RequestError::Api(ApiError::InvalidToken | ApiError::TerminatedByOtherGetUpdates) => false,
        // Every other known API error is Telegram refusing this request.
        RequestError::Api(_) => true,
        _ => false,
    }
}

fn delivery_error(error: RequestError) -> DeliveryError {
    if is_permanent(&error) {
        DeliveryError::Undeliverable(error.to_string())
    } else {
        DeliveryError::Retry(error.to_string())
    }
}

/// The command menu: every command with its one-line description.
fn menu() -> Vec<BotCommand> {
    CommandName::ALL
        .iter()
        .map(|name| BotCommand::new(name.as_str(), name.summary()))
        .collect()
}

impl Telegram {
    /// Connects: `getMe` (the token is checked here), the command menu
    /// (`setMyCommands`), the webhook set or removed for the mode; then
    /// registers as the core's notifier for Telegram. Polling, or the
    /// webhook route, is started by the caller ([`Telegram::spawn_polling`],
    /// [`Telegram::webhook_router`]).
    pub async fn start(
        core: Arc<bot::Bot>,
        config: &TelegramConfig,
    ) -> Result<Arc<Telegram>, StartError> {
        let client = teloxide::net::default_reqwest_settings()
            .build()
            .map_err(|e| StartError::Client(e.to_string()))?;
        let raw = teloxide::Bot::with_client(config.token.expose(), client)
            .set_api_url(config.api_url.clone());
        let me = raw
            .get_me()
            .await
            .map_err(|e| start_error(&config.api_url, "getMe", e))?;
        let username = me.user.username.clone().unwrap_or_default();
        let valid = (1..=bot::command::BOT_USERNAME_BYTES_MAX).contains(&username.len())
            && username
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(StartError::BadUsername(username));
        }
        let me = BotIdentity {
            id: me.user.id.0,
            username,
        };
        // The menu is a convenience: without it commands still work.
        if let Err(error) = raw.set_my_commands(menu()).await {
            tracing::warn!(%error, "setMyCommands failed; the command menu is not updated");
        }
        match &config.mode {
            Mode::Polling => {
                // A webhook left from an earlier run would make getUpdates
                // fail (409); the polling loop logs that and keeps trying.
                if let Err(error) = raw.delete_webhook().await {
                    tracing::warn!(%error, "deleteWebhook failed");
                }
            }
            Mode::Webhook { url, secret } => {
                raw.set_webhook(url.clone())
                    .secret_token(secret.expose())
                    .allowed_updates(ALLOWED_UPDATES)
                    .await
                    .map_err(|e| start_error(&config.api_url, "setWebhook", e))?;
            }
        }
        let invite_url = format!(
            "https://t.me/{}?start={}",
            me.username,
            bot::DM_START_PAYLOAD
        );
        core.register_platform(
            PlatformProfile::new(Platform::Telegram)
                .with_username(me.username.clone())
                .with_dm_invite(invite_url.clone()),
        );
        let api = Throttle::new_spawn(raw, Limits::default());
        let telegram = Arc::new(Telegram {
            core,
            api,
            me,
            invite_url,
            answered: AnsweredEvents::default(),
        });
        let notifier = TelegramNotifier(Arc::downgrade(&telegram));
        telegram
            .core
            .dispatcher()
            .register(Platform::Telegram, Arc::new(notifier));
        tracing::info!(bot = %telegram.me.username, mode = config.mode.name(), "telegram adapter started");
        Ok(telegram)
    }

    /// Who the bot is (from `getMe`).
    pub fn me(&self) -> &BotIdentity {
        &self.me
    }

    /// The link that opens the bot's private chat and registers the user.
    pub fn invite_url(&self) -> &str {
        &self.invite_url
    }

    /// Handles one update end to end: convert, let the core act (once per
    /// update id), send the replies.
    pub(crate) async fn process(&self, update: &Update) {
        match convert::inbound(update, &self.me) {
            Inbound::Ignored(reason) => {
                tracing::debug!(update = update.id.0, reason, "telegram update ignored");
            }
            Inbound::Message(incoming) => self.answer(&incoming).await,
            Inbound::Button { incoming, query } => {
                // First, so the user's client stops its spinner.
                if let Err(error) = self.api.answer_callback_query(query).await {
                    tracing::warn!(%error, "cannot answer a button press");
                }
                self.answer(&incoming).await;
            }
        }
    }

    async fn answer(&self, incoming: &Incoming) {
        if !self.answered.first(&incoming.event_id) {
            tracing::debug!(event = %incoming.event_id, "telegram update seen again; already answered");
            return;
        }
        let replies = self.core.handle(incoming).await;
        for reply in &replies {
            let reply = self.delete_first(reply).await;
            let reply = &reply;
            match self.deliver(reply).await {
                Ok(()) => {}
                Err(DeliveryError::Undeliverable(error))
                    if matches!(reply.audience, Audience::Private(_))
                        && incoming.chat.kind == ChatKind::Group =>
                {
                    // The user blocked the bot or never opened its chat: say
                    // so where they are, without the private text.
                    tracing::info!(%error, "cannot send a private reply; telling the group");
                    let label = match &incoming.sender.handle {
                        Some(handle) => handle.to_string(),
                        None => incoming.sender.display_name.clone(),
                    };
                    let note = Reply {
                        image: None,
                        document: None,
                        platform: Platform::Telegram,
                        audience: Audience::Chat(incoming.chat.id.clone()),
                        text: format!(
                            "{label}, I couldn't message you privately. Open {} and press Start, then try again.",
                            self.invite_url
                        ),
                        redacted: None,
                        buttons: Vec::new(),
                        deletion: None,
                    };
                    if let Err(error) = self.deliver(&note).await {
                        tracing::warn!(%error, "cannot send the note to the group");
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, event = %incoming.event_id, "cannot send a reply");
                }
            }
        }
    }

    /// Carries out `reply`'s deletion, if it asks for one, and returns the
    /// reply to send: its text for a message deleted, or for one still
    /// there. A refusal (the bot is not an admin allowed to delete) is
    /// logged without anything of the message.
    async fn delete_first(&self, reply: &Reply) -> Reply {
        let deleted = match convert::delete(reply) {
            Ok(None) => return reply.clone(),
            Ok(Some(delete)) => {
                let limit = Duration::from_secs(SEND_TIMEOUT_SECS);
                match tokio::time::timeout(
                    limit,
                    self.api.delete_message(delete.chat, delete.message).send(),
                )
                .await
                {
                    Ok(Ok(_)) => {
                        tracing::info!(
                            chat = delete.chat.0,
                            "deleted a message holding a card number"
                        );
                        true
                    }
                    Ok(Err(error)) => {
                        tracing::warn!(
                            chat = delete.chat.0,
                            %error,
                            "cannot delete a message holding a card number (is the bot a group admin allowed to delete messages?); its author is asked to"
                        );
                        false
                    }
                    Err(_) => {
                        tracing::warn!(
                            chat = delete.chat.0,
                            "no answer to deleteMessage within {SEND_TIMEOUT_SECS} s; its author is asked to delete it"
                        );
                        false
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot ask Telegram to delete a message");
                false
            }
        };
        Reply {
            image: None,
            document: None,
            text: reply.text_after_deletion(deleted).to_owned(),
            deletion: None,
            ..reply.clone()
        }
    }

    /// Sends one reply (in several messages when it is long).
    pub async fn deliver(&self, reply: &Reply) -> Result<(), DeliveryError> {
        let parts =
            convert::outgoing(reply).map_err(|e| DeliveryError::Undeliverable(e.to_string()))?;
        for part in &parts {
            self.send(part).await?;
        }
        Ok(())
    }

    async fn send(&self, out: &convert::Outgoing) -> Result<(), DeliveryError> {
        let no_preview = LinkPreviewOptions {
            is_disabled: true,
            url: None,
            prefer_small_media: false,
            prefer_large_media: false,
            show_above_text: false,
        };
        let mut chat = out.chat;
        for _ in 0..=CHAT_MIGRATIONS_FOLLOWED_MAX {
            let limit = Duration::from_secs(SEND_TIMEOUT_SECS);
            let sent = match (&out.photo, &out.document) {
                (_, Some((name, bytes))) => {
                    let file = InputFile::memory(bytes.clone()).file_name(name.clone());
                    let mut request = self.api.send_document(chat, file);
                    if !out.text.is_empty() {
                        request = request.caption(out.text.clone());
                    }
                    tokio::time::timeout(limit, request.send())
                        .await
                        .map(|answer| answer.map(|_| ()))
                }
                (Some(png), None) => {
                    let photo = InputFile::memory(png.clone()).file_name("qr.png");
                    let request = self.api.send_photo(chat, photo).caption(out.text.clone());
                    tokio::time::timeout(limit, request.send())
                        .await
                        .map(|answer| answer.map(|_| ()))
                }
                (None, None) => {
                    let mut request = self
                        .api
                        .send_message(chat, out.text.clone())
                        .link_preview_options(no_preview.clone());
                    if let Some(buttons) = &out.buttons {
                        request = request.reply_markup(buttons.clone());
                    }
                    tokio::time::timeout(limit, request.send())
                        .await
                        .map(|answer| answer.map(|_| ()))
                }
            };
            match sent {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(RequestError::MigrateToChatId(to))) => {
                    tracing::info!(from = chat.0, to = to.0, "group moved to a supergroup");
                    chat = to;
                }
                // Telegram said ok but the message it echoed is not one
                // this teloxide reads: it was sent; sending it again would
                // repeat it.
                Ok(Err(RequestError::InvalidJson { raw, .. })) if answered_ok(&raw) => {
                    return Ok(());
                }
                Ok(Err(error)) => return Err(delivery_error(error)),
                Err(_) => {
                    return Err(DeliveryError::Retry(format!(
                        "no answer within {SEND_TIMEOUT_SECS} s"
                    )));
                }
            }
        }
        Err(DeliveryError::Undeliverable(
            "the group kept moving to new chats".to_owned(),
        ))
    }

    /// Long polling until `shutdown` changes. An update's offset is
    /// confirmed (by the next `getUpdates`) only after it was handled and
    /// answered, so a crash redelivers it and the core's event ids keep it
    /// from acting twice.
    pub fn spawn_polling(
        self: &Arc<Telegram>,
        mut shutdown: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let telegram = Arc::clone(self);
        tokio::spawn(async move {
            let mut offset: Option<i32> = None;
            let mut backoff_ms = POLL_BACKOFF_MS_MIN;
            loop {
                let mut request = telegram
                    .api
                    .get_updates()
                    .timeout(POLL_TIMEOUT_SECS)
                    .limit(POLL_BATCH_UPDATES_MAX)
                    .allowed_updates(ALLOWED_UPDATES);
                if let Some(offset) = offset {
                    request = request.offset(offset);
                }
                let polled = tokio::select! {
                    polled = request.send() => polled,
                    _ = shutdown.wait_for(|stop| *stop) => break,
                };
                match polled {
                    Ok(updates) => {
                        backoff_ms = POLL_BACKOFF_MS_MIN;
                        // Never backwards: an update handed out again (by a
                        // misbehaving server) must not re-open older ones.
                        if let Some(last) = updates.iter().map(|u| u.id.0).max() {
                            offset = offset.max(Some(next_offset(last)));
                        }
                        telegram.process_batch(updates).await;
                        continue;
                    }
                    Err(RequestError::InvalidJson { raw, source }) => {
                        // Updates this teloxide cannot read at all: skip
                        // them rather than ask for them forever.
                        tracing::error!(error = %source, "unreadable getUpdates answer; skipping its updates");
                        if let Some(last) = last_update_id(&raw) {
                            offset = offset.max(Some(next_offset(last)));
                            continue;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, retry_in_ms = backoff_ms, "getUpdates failed");
                    }
                }
                let pause = tokio::time::sleep(Duration::from_millis(backoff_ms));
                tokio::select! {
                    () = pause => {}
                    _ = shutdown.wait_for(|stop| *stop) => break,
                }
                backoff_ms = backoff_ms.saturating_mul(2).min(POLL_BACKOFF_MS_MAX);
            }
            tracing::info!("telegram polling stopped");
        })
    }

    /// One batch: updates of one chat in order, chats side by side.
    async fn process_batch(self: &Arc<Telegram>, updates: Vec<Update>) {
        let mut by_chat: BTreeMap<i64, Vec<Update>> = BTreeMap::new();
        for update in updates {
            let key = update
                .chat()
                .map(|chat| chat.id.0)
                .or_else(|| update.from().and_then(|u| i64::try_from(u.id.0).ok()))
                .unwrap_or(0);
            by_chat.entry(key).or_default().push(update);
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (_, updates) in by_chat {
            let telegram = Arc::clone(self);
            tasks.spawn(async move {
                for update in &updates {
                    telegram.process(update).await;
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            if let Err(error) = done {
                tracing::error!(%error, "a telegram update task failed");
            }
        }
    }

    /// The routes of webhook mode (`POST /telegram/webhook`), to merge into
    /// paybot's server.
    pub fn webhook_router(self: &Arc<Telegram>, secret: &WebhookSecret) -> axum::Router {
        webhook::router(Arc::clone(self), secret)
    }
}

fn next_offset(last: u32) -> i32 {
    i32::try_from(last).unwrap_or(i32::MAX).saturating_add(1)
}

/// Whether a raw Bot API answer says `"ok": true`.
fn answered_ok(raw: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| v.get("ok")?.as_bool())
        .unwrap_or(false)
}

/// The highest `update_id` in a raw `getUpdates` answer.
fn last_update_id(raw: &str) -> Option<u32> {
    let value: serde_json::Value = serde_json::from_str(raw).ok()?;
    value
        .get("result")?
        .as_array()?
        .iter()
        .filter_map(|u| u.get("update_id")?.as_u64())
        .filter_map(|id| u32::try_from(id).ok())
        .max()
}

/// Delivers the core's outbox messages for Telegram.
#[derive(Debug)]
struct TelegramNotifier(Weak<Telegram>);

#[async_trait]
impl Notifier for TelegramNotifier {
    async fn deliver(&self, reply: &Reply) -> Result<(), DeliveryError> {
        let telegram = self
            .0
            .upgrade()
            .ok_or_else(|| DeliveryError::Retry("the telegram adapter stopped".to_owned()))?;
        telegram.deliver(reply).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_lists_every_command_with_a_short_description() {
        let menu = menu();
        assert_eq!(menu.len(), CommandName::ALL.len());
        for command in &menu {
            // Telegram: 1 to 32 of lower-case letters, digits and `_`.
            assert!((1..=32).contains(&command.command.len()));
            assert!(
                command
                    .command
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            );
            assert!((1..=256).contains(&command.description.len()));
        }
    }

    #[test]
    fn unreadable_batches_are_skipped_past_their_last_id() {
        let raw = r#"{"ok":true,"result":[{"update_id":7,"x":1},{"update_id":9}]}"#;
        assert_eq!(last_update_id(raw), Some(9));
        assert_eq!(next_offset(9), 10);
        assert_eq!(next_offset(u32::MAX), i32::MAX);
        assert_eq!(last_update_id("not json"), None);
        assert!(answered_ok(r#"{"ok":true,"result":true}"#));
        assert!(!answered_ok(r#"{"ok":false,"error_code":400}"#));
    }

    #[test]
    fn blocked_users_are_permanent_network_errors_are_not() {
        assert!(is_permanent(&RequestError::Api(ApiError::BotBlocked)));
        assert!(is_permanent(&RequestError::Api(ApiError::Unknown(
            "Forbidden: bot can't initiate conversation with a user".to_owned()
        ))));
        assert!(!is_permanent(&RequestError::Api(ApiError::Unknown(
            "Internal Server Error".to_owned()
        ))));
        assert!(!is_permanent(&RequestError::RetryAfter(
            teloxide::types::Seconds::from_seconds(3)
        )));
    }
}
