//! `paybot-discord`: Discord slash commands through serenity, over the HTTP
//! interactions endpoint (Ed25519 signature and timestamp checked) and over
//! the gateway.
//!
//! The design decision to know: serenity types stop in this crate, and
//! every interaction, however it arrived, goes through the one conversion
//! module ([`convert`]) as raw JSON, read leniently, and then through
//! [`Discord::interact`]: convert, let the core act (once per interaction
//! id), answer. Users are identified by Discord user ids, never by display
//! names.
//!
//! Discord wants an answer to an interaction within 3 seconds. The core
//! gets [`RESPONSE_BUDGET_MS`] of that; if it needs longer, the answer is
//! "thinking…" (deferred, ephemeral in a server) and the original response
//! is edited once the core is done. Private replies to the person who typed
//! are ephemeral messages in a server (the adapter's platform profile says
//! so, `PlatformProfile::with_private_in_place`, so the core neither
//! announces DMs nor treats a code in a slash command as leaked: slash
//! options are seen by the bot only); messages to other people are DMs
//! through the outbox.

pub mod config;
pub mod convert;
mod endpoint;
mod gateway;
pub mod rest;
pub mod verify;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use bot::PlatformProfile;
use bot::answered::AnsweredEvents;
use bot::message::{Audience, Incoming, Platform, PlatformUserId, Reply};
use bot::notify::{DeliveryError, Notifier};
use serde_json::Value;

pub use config::{ConfigError, DiscordConfig, Mode, PublicKey, Snowflake, Token};
pub use convert::{Envelope, Inbound};
pub use endpoint::{
    INTERACTION_BODY_BYTES_MAX, INTERACTION_BODY_READ_SECS_MAX, INTERACTION_BODY_READS_MAX,
    INTERACTIONS_PATH,
};
pub use gateway::Gateway;
pub use rest::RestError;
pub use verify::{Rejected, RequestVerifier};

/// How long the core may take before the answer is deferred, in
/// milliseconds (Discord's deadline is 3 s, with the network on top).
pub const RESPONSE_BUDGET_MS: u64 = 2_000;
/// Tries of an edit or follow-up that Discord refuses because it has not
/// seen our first answer yet (it is on its way), and the pause between
/// them, in milliseconds (growing linearly).
pub const WEBHOOK_ATTEMPTS_MAX: u32 = 8;
pub const WEBHOOK_RETRY_MS: u64 = 250;
/// Waits between tries to register the commands when Discord was
/// unreachable at start, doubling from the first to the last, in
/// milliseconds.
pub const REGISTER_RETRY_MS_MIN: u64 = 1_000;
pub const REGISTER_RETRY_MS_MAX: u64 = 60_000;

/// What a user sees when an interaction cannot be used.
const REFUSED_TEXT: &str = "Sorry, I can't use that. /help lists what I understand.";
/// The answer when the core had nothing to say.
const NOTHING_TEXT: &str = "Nothing to do.";
/// The answer to an interaction this process already answered.
const ALREADY_TEXT: &str = "I already answered that.";

/// Why the adapter could not start. Each names the setting to look at.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("Discord refused the bot token (discord.token): {0}")]
    TokenRejected(RestError),
    #[error("cannot reach Discord at {url} (discord.api_url): {error}")]
    Unreachable { url: String, error: RestError },
    #[error(
        "Discord refused the commands for application {application_id} (discord.application_id{guild}): {error}"
    )]
    Commands {
        application_id: Snowflake,
        guild: &'static str,
        error: RestError,
    },
    #[error(
        "the token belongs to bot {bot}, not to application {application_id} (discord.application_id)"
    )]
    WrongApplication {
        bot: String,
        application_id: Snowflake,
    },
}

/// Work to do after the first answer to an interaction has reached
/// Discord: follow-ups, or completing a deferred answer.
pub type Continuation = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The first answer to an interaction, and what comes after it.
pub struct Answer {
    /// The interaction response (PONG, a message, a deferral, a form).
    pub response: Value,
    /// To run once `response` is sent.
    pub then: Option<Continuation>,
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answer")
            .field("response", &self.response)
            .field("then", &self.then.is_some())
            .finish()
    }
}

impl Answer {
    fn now(response: Value) -> Answer {
        Answer {
            response,
            then: None,
        }
    }
}

/// The running Discord adapter.
pub struct Discord {
    core: Arc<bot::Bot>,
    rest: rest::Rest,
    config: DiscordConfig,
    answered: AnsweredEvents,
}

impl fmt::Debug for Discord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Discord")
            .field("application_id", &self.config.application_id)
            .field("mode", &self.config.mode.name())
            .finish_non_exhaustive()
    }
}

/// The replies of one interaction, sorted by where they go.
#[derive(Default)]
struct Sorted {
    /// To the person who typed, privately.
    mine: Vec<Value>,
    /// To the channel it was typed in.
    here: Vec<Value>,
    /// Anywhere else (other users' DMs, other channels).
    elsewhere: Vec<Reply>,
    /// Files for the person who typed (a setup QR code, a CSV export):
    /// sent to their DM as attachments after the text.
    files: Vec<(PlatformUserId, Attached)>,
}

/// A file a reply carries, as Discord sends it: an attachment with a
/// caption. Debug shows only its name and size.
#[derive(Clone)]
struct Attached {
    caption: String,
    name: String,
    bytes: Vec<u8>,
}

impl fmt::Debug for Attached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attached")
            .field("name", &self.name)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// The files `reply` carries: its picture (as `qr.png`, captioned with
/// what it shows), then its document (captioned with its name).
fn attached(reply: &Reply) -> Vec<Attached> {
    let image = reply.image.iter().map(|image| Attached {
        caption: image.alt.clone(),
        name: "qr.png".to_owned(),
        bytes: image.bytes().to_vec(),
    });
    let document = reply.document.iter().map(|document| Attached {
        caption: document.name().to_owned(),
        name: document.name().to_owned(),
        bytes: document.bytes().to_vec(),
    });
    image.chain(document).collect()
}

/// Discord as the core sees it: private replies to the person who typed
/// are shown in place (ephemeral), and `username` once Discord told it.
fn profile(username: Option<&str>) -> PlatformProfile {
    let profile = PlatformProfile::new(Platform::Discord).with_private_in_place();
    match username {
        Some(username) => profile.with_username(username),
        None => profile,
    }
}

impl Discord {
    /// Checks the token (`GET /users/@me`: it must be the application's
    /// bot), registers the commands (bulk overwrite, globally or in
    /// `discord.guild_id`), and becomes the core's notifier for Discord.
    /// The interactions route or the gateway is started by the caller
    /// ([`Discord::router`], [`Gateway::spawn`]).
    ///
    /// A token Discord refuses, or one of another application, stops the
    /// start. In interactions mode, Discord being unreachable does not: the
    /// endpoint answers interactions without Discord's API, so paybot
    /// serves them and registers the commands in the background once
    /// Discord answers (the gateway has nothing to serve without it).
    pub async fn start(
        core: Arc<bot::Bot>,
        config: &DiscordConfig,
    ) -> Result<Arc<Discord>, StartError> {
        // The username comes with the token check; until then, none.
        core.register_platform(profile(None));
        let discord = Arc::new(Discord {
            core: Arc::clone(&core),
            rest: rest::Rest::new(config),
            config: config.clone(),
            answered: AnsweredEvents::default(),
        });
        match discord.register().await {
            Ok(()) => {}
            Err(StartError::Unreachable { url, error })
                if matches!(config.mode, Mode::Interactions(_)) =>
            {
                tracing::warn!(
                    %url,
                    %error,
                    "cannot reach Discord; serving interactions, and registering the commands once it answers"
                );
                discord.spawn_registration();
            }
            Err(error) => return Err(error),
        }
        let notifier = DiscordNotifier(Arc::downgrade(&discord));
        core.dispatcher()
            .register(Platform::Discord, Arc::new(notifier));
        tracing::info!(
            application = %config.application_id,
            mode = config.mode.name(),
            commands = if config.guild_id.is_some() { "guild" } else { "global" },
            "discord adapter started"
        );
        Ok(discord)
    }

    /// The token check and the commands' bulk overwrite.
    async fn register(&self) -> Result<(), StartError> {
        let config = &self.config;
        let unreachable = |error: RestError| StartError::Unreachable {
            url: config.api_url.to_string(),
            error,
        };
        let me = self.rest.me().await.map_err(|error| match &error {
            RestError::Discord { status: 401, .. } => StartError::TokenRejected(error),
            _ if !error.is_permanent() => unreachable(error),
            _ => StartError::TokenRejected(error),
        })?;
        let bot_id = me.get("id").and_then(Value::as_str).unwrap_or_default();
        if bot_id != config.application_id.to_string() {
            return Err(StartError::WrongApplication {
                bot: bot_id.to_owned(),
                application_id: config.application_id,
            });
        }
        let guild = config.guild_id.map(|g| g.0);
        self.rest
            .overwrite_commands(guild, &convert::commands())
            .await
            .map_err(|error| {
                if error.is_permanent() || matches!(error, RestError::Discord { status: 401, .. }) {
                    StartError::Commands {
                        application_id: config.application_id,
                        guild: if guild.is_some() {
                            ", discord.guild_id"
                        } else {
                            ""
                        },
                        error,
                    }
                } else {
                    unreachable(error)
                }
            })?;
        if let Some(username) = me.get("username").and_then(Value::as_str) {
            self.core.register_platform(profile(Some(username)));
        }
        tracing::info!("discord commands registered");
        Ok(())
    }

    /// [`Discord::register`] again and again (waits doubling from
    /// [`REGISTER_RETRY_MS_MIN`] to [`REGISTER_RETRY_MS_MAX`]) until it
    /// succeeds or Discord refuses for good.
    fn spawn_registration(self: &Arc<Discord>) {
        let discord = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut wait_ms = REGISTER_RETRY_MS_MIN;
            loop {
                tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                let Some(discord) = discord.upgrade() else {
                    return;
                };
                match discord.register().await {
                    Ok(()) => return,
                    Err(StartError::Unreachable { error, .. }) => {
                        tracing::warn!(%error, retry_in_ms = wait_ms, "still cannot reach Discord");
                    }
                    Err(error) => {
                        tracing::error!(%error, "Discord refused the registration; the commands are not registered");
                        return;
                    }
                }
                wait_ms = wait_ms.saturating_mul(2).min(REGISTER_RETRY_MS_MAX);
            }
        });
    }

    /// The route of interactions mode (`POST /discord/interactions`), to
    /// merge into paybot's server.
    pub fn router(self: &Arc<Discord>, key: &PublicKey) -> axum::Router {
        endpoint::router(Arc::clone(self), key)
    }

    /// Answers one interaction (its raw JSON, already authenticated).
    pub async fn interact(self: &Arc<Discord>, body: &[u8]) -> Answer {
        let incoming = match convert::inbound(body) {
            Inbound::Ping => return Answer::now(convert::pong()),
            Inbound::Refused(reason) => {
                tracing::info!(reason, "discord interaction refused");
                return Answer::now(convert::respond_with(convert::message(
                    REFUSED_TEXT,
                    &[],
                    true,
                )));
            }
            Inbound::AskAmount { target } => return Answer::now(convert::amount_form(&target)),
            Inbound::Command(incoming) => Arc::<Incoming>::from(incoming),
        };
        let Some(envelope) = convert::envelope(body) else {
            tracing::info!("discord interaction without a token; ignored");
            return Answer::now(convert::respond_with(convert::message(
                REFUSED_TEXT,
                &[],
                true,
            )));
        };
        if !self.answered.first(&incoming.event_id) {
            tracing::info!(interaction = envelope.id, "discord interaction seen again");
            return Answer::now(convert::respond_with(convert::message(
                ALREADY_TEXT,
                &[],
                true,
            )));
        }
        let core = Arc::clone(&self.core);
        let handled = Arc::clone(&incoming);
        // Its own task, so it goes on if the answer is deferred.
        let mut handling = tokio::spawn(async move { core.handle(&handled).await });
        let budget = Duration::from_millis(RESPONSE_BUDGET_MS);
        match tokio::time::timeout(budget, &mut handling).await {
            Ok(joined) => self.answer_now(
                envelope,
                &incoming,
                joined.unwrap_or_else(|e| {
                    tracing::error!(error = %e, "handling a discord interaction failed");
                    vec![internal_error(&incoming)]
                }),
            ),
            Err(_) => {
                tracing::info!(
                    interaction = envelope.id,
                    budget_ms = RESPONSE_BUDGET_MS,
                    "deferring the answer"
                );
                let discord = Arc::clone(self);
                let ephemeral = envelope.in_guild;
                let then: Continuation = Box::pin(async move {
                    let replies = handling.await.unwrap_or_else(|e| {
                        tracing::error!(error = %e, "handling a discord interaction failed");
                        vec![internal_error(&incoming)]
                    });
                    discord
                        .complete_deferred(&envelope, &incoming, replies)
                        .await;
                });
                Answer {
                    response: convert::deferred(ephemeral),
                    then: Some(then),
                }
            }
        }
    }

    fn sort(&self, envelope: &Envelope, incoming: &Incoming, replies: Vec<Reply>) -> Sorted {
        let mut sorted = Sorted::default();
        for reply in replies {
            match &reply.audience {
                Audience::Private(user) if *user == incoming.sender.id => {
                    sorted
                        .mine
                        .extend(convert::messages(&reply, envelope.in_guild));
                    for file in attached(&reply) {
                        sorted.files.push((user.clone(), file));
                    }
                }
                Audience::Chat(chat) if Some(chat) == envelope.channel.as_ref() => {
                    sorted.here.extend(convert::messages(&reply, false));
                }
                _ => sorted.elsewhere.push(reply),
            }
        }
        sorted
    }

    /// The core answered in time: the first message is the response, the
    /// rest follow.
    fn answer_now(
        self: &Arc<Discord>,
        envelope: Envelope,
        incoming: &Incoming,
        replies: Vec<Reply>,
    ) -> Answer {
        let mut sorted = self.sort(&envelope, incoming, replies);
        let first = if sorted.mine.is_empty() {
            if sorted.here.is_empty() {
                convert::message(NOTHING_TEXT, &[], envelope.in_guild)
            } else {
                sorted.here.remove(0)
            }
        } else {
            sorted.mine.remove(0)
        };
        let rest_empty = sorted.mine.is_empty()
            && sorted.here.is_empty()
            && sorted.elsewhere.is_empty()
            && sorted.files.is_empty();
        let then: Option<Continuation> = if rest_empty {
            None
        } else {
            let discord = Arc::clone(self);
            Some(Box::pin(async move {
                discord.follow_up(&envelope, sorted).await;
            }))
        };
        Answer {
            response: convert::respond_with(first),
            then,
        }
    }

    /// The core answered after the deferral: edit the "thinking…" message
    /// into the first private reply (or remove it when there is none), and
    /// send the rest.
    async fn complete_deferred(
        &self,
        envelope: &Envelope,
        incoming: &Incoming,
        replies: Vec<Reply>,
    ) {
        let mut sorted = self.sort(envelope, incoming, replies);
        let token = envelope.token.clone();
        if sorted.mine.is_empty() {
            if sorted.here.is_empty() {
                let done = convert::message(NOTHING_TEXT, &[], envelope.in_guild);
                self.webhook("edit the original response", || {
                    self.rest.edit_original(&token, &done)
                })
                .await;
            } else {
                self.webhook("remove the original response", || {
                    self.rest.delete_original(&token)
                })
                .await;
            }
        } else {
            let first = sorted.mine.remove(0);
            self.webhook("edit the original response", || {
                self.rest.edit_original(&token, &first)
            })
            .await;
        }
        self.follow_up(envelope, sorted).await;
    }

    async fn follow_up(&self, envelope: &Envelope, sorted: Sorted) {
        let token = envelope.token.clone();
        for message in sorted.mine.iter().chain(&sorted.here) {
            self.webhook("send a follow-up", || self.rest.followup(&token, message))
                .await;
        }
        for reply in &sorted.elsewhere {
            if let Err(error) = self.deliver(reply).await {
                tracing::warn!(%error, "cannot send a reply");
            }
        }
        for (user, file) in &sorted.files {
            if let Err(error) = self.send_file(user, file).await {
                tracing::warn!(%error, name = %file.name, "cannot send a file");
            }
        }
    }

    /// A file to `user`'s DM, as an attachment.
    async fn send_file(&self, user: &PlatformUserId, file: &Attached) -> Result<(), DeliveryError> {
        let classify = |error: RestError| {
            if error.is_permanent() {
                DeliveryError::Undeliverable(error.to_string())
            } else {
                DeliveryError::Retry(error.to_string())
            }
        };
        let user = user
            .as_str()
            .parse::<u64>()
            .map_err(|_| DeliveryError::Undeliverable(format!("not a Discord user id: {user}")))?;
        let channel = self.rest.dm_channel(user).await.map_err(classify)?;
        self.rest
            .send_file(channel, &file.caption, &file.name, &file.bytes)
            .await
            .map_err(classify)
    }

    /// An interaction-webhook call, tried again while Discord has not seen
    /// the first answer yet, or is briefly unavailable.
    async fn webhook<F, Fut>(&self, what: &'static str, call: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(), RestError>>,
    {
        for attempt in 1..=WEBHOOK_ATTEMPTS_MAX {
            match call().await {
                Ok(()) => return,
                Err(error)
                    if attempt < WEBHOOK_ATTEMPTS_MAX
                        && (error.is_not_acknowledged_yet() || !error.is_permanent()) =>
                {
                    tracing::debug!(%error, attempt, "cannot {what} yet; trying again");
                    let pause = WEBHOOK_RETRY_MS.saturating_mul(u64::from(attempt));
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot {what}");
                    return;
                }
            }
        }
    }

    /// Sends one reply outside an interaction: a DM to a user, or a
    /// message in a channel.
    pub async fn deliver(&self, reply: &Reply) -> Result<(), DeliveryError> {
        let classify = |error: RestError| {
            if error.is_permanent() {
                DeliveryError::Undeliverable(error.to_string())
            } else {
                DeliveryError::Retry(error.to_string())
            }
        };
        let channel = match &reply.audience {
            Audience::Private(user) => {
                let user = user.as_str().parse::<u64>().map_err(|_| {
                    DeliveryError::Undeliverable(format!("not a Discord user id: {user}"))
                })?;
                self.rest.dm_channel(user).await.map_err(classify)?
            }
            Audience::Chat(chat) => chat.as_str().parse::<u64>().map_err(|_| {
                DeliveryError::Undeliverable(format!("not a Discord channel id: {chat}"))
            })?,
        };
        for message in convert::messages(reply, false) {
            self.rest.send(channel, &message).await.map_err(classify)?;
        }
        if let Audience::Private(_) = &reply.audience {
            for file in attached(reply) {
                self.rest
                    .send_file(channel, &file.caption, &file.name, &file.bytes)
                    .await
                    .map_err(classify)?;
            }
        }
        Ok(())
    }
}

fn internal_error(incoming: &Incoming) -> Reply {
    Reply {
        image: None,
        document: None,
        platform: Platform::Discord,
        audience: Audience::Private(incoming.sender.id.clone()),
        text: bot::service::INTERNAL_ERROR_TEXT.to_owned(),
        redacted: None,
        buttons: Vec::new(),
        deletion: None,
    }
}

/// Delivers the core's outbox messages for Discord.
#[derive(Debug)]
struct DiscordNotifier(Weak<Discord>);

#[async_trait]
impl Notifier for DiscordNotifier {
    async fn deliver(&self, reply: &Reply) -> Result<(), DeliveryError> {
        let discord = self
            .0
            .upgrade()
            .ok_or_else(|| DeliveryError::Retry("the discord adapter stopped".to_owned()))?;
        discord.deliver(reply).await
    }
}
