//! Discord's REST API through serenity's `Http` (its routes, its rate
//! limiter when talking to Discord itself), with answers read leniently as
//! JSON: paybot needs one field of them at most, and a field Discord adds
//! must not turn a sent message into an error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use serenity::builder::CreateAttachment;
use serenity::http::{Http, HttpBuilder, LightMethod, Request, Route};
use serenity::model::id::{ApplicationId, ChannelId, GuildId, InteractionId};

use crate::config::DiscordConfig;

/// How long one REST call may take, rate-limit waits included, in seconds.
pub const REST_TIMEOUT_SECS: u64 = 30;
/// DM channel ids remembered (the whole map is forgotten when full).
pub const DM_CHANNELS_CACHED_MAX: usize = 10_000;

/// Discord error codes paybot acts on.
pub(crate) mod codes {
    /// Unknown channel.
    pub(crate) const UNKNOWN_CHANNEL: i64 = 10_003;
    /// Unknown message (the original response is not there yet).
    pub(crate) const UNKNOWN_MESSAGE: i64 = 10_008;
    /// Unknown webhook (the interaction is not acknowledged yet).
    pub(crate) const UNKNOWN_WEBHOOK: i64 = 10_015;
    /// Unknown user.
    pub(crate) const UNKNOWN_USER: i64 = 10_013;
    /// Missing access (the bot is not in that server or channel).
    pub(crate) const MISSING_ACCESS: i64 = 50_001;
    /// Cannot send messages to this user (DMs closed, or no shared server).
    pub(crate) const DMS_CLOSED: i64 = 50_007;
    /// Missing permissions.
    pub(crate) const MISSING_PERMISSIONS: i64 = 50_013;
}

/// A REST call that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestError {
    /// Discord answered with an error.
    #[error("Discord answered {status} (code {code}): {message}")]
    Discord {
        status: u16,
        code: i64,
        message: String,
    },
    /// No answer: network, TLS, DNS.
    #[error("no answer from Discord: {0}")]
    Network(String),
    #[error("no answer from Discord within {REST_TIMEOUT_SECS} s")]
    Timeout,
}

impl RestError {
    /// Discord's error code, if it gave one.
    pub fn code(&self) -> Option<i64> {
        match self {
            RestError::Discord { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether sending the same thing again can never succeed: the user
    /// closed their DMs, the channel is gone, the bot may not post there,
    /// the request is malformed. Rate limits, server errors, an
    /// unauthorized token (a setting to fix) and network trouble are
    /// worth retrying.
    pub fn is_permanent(&self) -> bool {
        match self {
            RestError::Discord { status, code, .. } => {
                matches!(
                    *code,
                    codes::DMS_CLOSED
                        | codes::UNKNOWN_CHANNEL
                        | codes::UNKNOWN_USER
                        | codes::MISSING_ACCESS
                        | codes::MISSING_PERMISSIONS
                ) || matches!(*status, 400 | 403 | 404)
            }
            RestError::Network(_) | RestError::Timeout => false,
        }
    }

    /// Whether Discord does not know the interaction yet (our answer to it
    /// is still on its way): worth a few quick retries.
    pub(crate) fn is_not_acknowledged_yet(&self) -> bool {
        matches!(
            self.code(),
            Some(codes::UNKNOWN_WEBHOOK | codes::UNKNOWN_MESSAGE)
        )
    }
}

fn application_id(config: &DiscordConfig) -> ApplicationId {
    ApplicationId::new(config.application_id.0.max(1))
}

/// serenity's client for `config` (the gateway builds its own from it).
pub(crate) fn http_client(config: &DiscordConfig) -> Http {
    let builder = HttpBuilder::new(config.token.expose()).application_id(application_id(config));
    // serenity's rate limiter builds its requests for discord.com whatever
    // the proxy; another base URL (a fake in tests, a rate-limiting proxy in
    // production) goes without it.
    if config.is_discord() {
        builder.build()
    } else {
        builder
            .proxy(config.api_url.as_str().trim_end_matches('/'))
            .ratelimiter_disabled(true)
            .build()
    }
}

/// The REST client.
pub(crate) struct Rest {
    http: Arc<Http>,
    application_id: ApplicationId,
    dm_channels: Mutex<HashMap<u64, u64>>,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest")
            .field("application_id", &self.application_id)
            .finish_non_exhaustive()
    }
}

impl Rest {
    pub(crate) fn new(config: &DiscordConfig) -> Rest {
        Rest {
            http: Arc::new(http_client(config)),
            application_id: application_id(config),
            dm_channels: Mutex::new(HashMap::new()),
        }
    }

    async fn call(
        &self,
        route: Route<'_>,
        method: LightMethod,
        body: Option<&Value>,
    ) -> Result<Value, RestError> {
        let body = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        let request = Request::new(route, method).body(body);
        let limit = Duration::from_secs(REST_TIMEOUT_SECS);
        let sent = tokio::time::timeout(limit, self.http.request(request))
            .await
            .map_err(|_| RestError::Timeout)?;
        match sent {
            Ok(response) => {
                let bytes = tokio::time::timeout(limit, response.bytes())
                    .await
                    .map_err(|_| RestError::Timeout)?
                    .map_err(|e| RestError::Network(e.without_url().to_string()))?;
                Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
            }
            Err(serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(e))) => {
                Err(RestError::Discord {
                    status: e.status_code.as_u16(),
                    code: i64::try_from(e.error.code).unwrap_or(0),
                    message: e.error.message,
                })
            }
            // Without the URL: an interaction's webhook URL carries its
            // token, which is not for the log.
            Err(serenity::Error::Http(serenity::http::HttpError::Request(e))) => {
                Err(RestError::Network(e.without_url().to_string()))
            }
            Err(error) => Err(RestError::Network(error.to_string())),
        }
    }

    /// `GET /users/@me`: the bot's own user (checks the token).
    pub(crate) async fn me(&self) -> Result<Value, RestError> {
        self.call(Route::UserMe, LightMethod::Get, None).await
    }

    /// Bulk overwrite of the application's commands, globally or in one
    /// server.
    pub(crate) async fn overwrite_commands(
        &self,
        guild: Option<u64>,
        commands: &Value,
    ) -> Result<Value, RestError> {
        let route = match guild {
            Some(guild) => Route::GuildCommands {
                application_id: self.application_id,
                guild_id: GuildId::new(guild.max(1)),
            },
            None => Route::Commands {
                application_id: self.application_id,
            },
        };
        self.call(route, LightMethod::Put, Some(commands)).await
    }

    /// The first answer to an interaction (gateway mode; over the
    /// interactions endpoint it is the HTTP response).
    pub(crate) async fn callback(
        &self,
        interaction_id: u64,
        token: &str,
        response: &Value,
    ) -> Result<(), RestError> {
        let route = Route::InteractionResponse {
            interaction_id: InteractionId::new(interaction_id.max(1)),
            token,
        };
        self.call(route, LightMethod::Post, Some(response))
            .await
            .map(drop)
    }

    /// Replaces the original (deferred) response.
    pub(crate) async fn edit_original(
        &self,
        token: &str,
        message: &Value,
    ) -> Result<(), RestError> {
        let route = Route::WebhookOriginalInteractionResponse {
            application_id: self.application_id,
            token,
        };
        self.call(route, LightMethod::Patch, Some(message))
            .await
            .map(drop)
    }

    /// Removes the original (deferred) response.
    pub(crate) async fn delete_original(&self, token: &str) -> Result<(), RestError> {
        let route = Route::WebhookOriginalInteractionResponse {
            application_id: self.application_id,
            token,
        };
        self.call(route, LightMethod::Delete, None).await.map(drop)
    }

    /// Another message answering the same interaction.
    pub(crate) async fn followup(&self, token: &str, message: &Value) -> Result<(), RestError> {
        let route = Route::WebhookFollowupMessages {
            application_id: self.application_id,
            token,
        };
        self.call(route, LightMethod::Post, Some(message))
            .await
            .map(drop)
    }

    /// A message in a channel.
    pub(crate) async fn send(&self, channel: u64, message: &Value) -> Result<(), RestError> {
        let route = Route::ChannelMessages {
            channel_id: ChannelId::new(channel.max(1)),
        };
        self.call(route, LightMethod::Post, Some(message))
            .await
            .map(drop)
    }

    /// A file in a channel, as an attachment named `name` with `caption`
    /// (multipart, through serenity's builder): a picture (`qr.png`) or a
    /// CSV export.
    pub(crate) async fn send_file(
        &self,
        channel: u64,
        caption: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<(), RestError> {
        let file = CreateAttachment::bytes(bytes.to_vec(), name.to_owned());
        let body = serde_json::json!({"content": caption, "allowed_mentions": {"parse": []}});
        let limit = Duration::from_secs(REST_TIMEOUT_SECS);
        let sent = tokio::time::timeout(
            limit,
            self.http
                .send_message(ChannelId::new(channel.max(1)), vec![file], &body),
        )
        .await
        .map_err(|_| RestError::Timeout)?;
        match sent {
            Ok(_) => Ok(()),
            Err(serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(e))) => {
                Err(RestError::Discord {
                    status: e.status_code.as_u16(),
                    code: i64::try_from(e.error.code).unwrap_or(0),
                    message: e.error.message,
                })
            }
            Err(serenity::Error::Http(serenity::http::HttpError::Request(e))) => {
                Err(RestError::Network(e.without_url().to_string()))
            }
            Err(error) => Err(RestError::Network(error.to_string())),
        }
    }

    /// The DM channel with `user` (opened if needed).
    pub(crate) async fn dm_channel(&self, user: u64) -> Result<u64, RestError> {
        if let Some(channel) = self
            .dm_channels
            .lock()
            .ok()
            .and_then(|c| c.get(&user).copied())
        {
            return Ok(channel);
        }
        let body = serde_json::json!({ "recipient_id": user.to_string() });
        let channel = self
            .call(Route::UserMeDmChannels, LightMethod::Post, Some(&body))
            .await?;
        let id = channel
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| id.parse::<u64>().ok())
            .ok_or_else(|| RestError::Network("a DM channel without an id".to_owned()))?;
        if let Ok(mut cache) = self.dm_channels.lock() {
            if cache.len() >= DM_CHANNELS_CACHED_MAX {
                cache.clear();
            }
            cache.insert(user, id);
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discord(status: u16, code: i64) -> RestError {
        RestError::Discord {
            status,
            code,
            message: String::new(),
        }
    }

    #[tokio::test]
    async fn network_errors_do_not_carry_the_interaction_token() {
        // A port nobody listens on.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let config = DiscordConfig {
            token: crate::Token::parse(&"t".repeat(60)).unwrap(),
            application_id: crate::Snowflake(1_100_000_000_000_000_001),
            api_url: crate::config::parse_api_url(&url).unwrap(),
            mode: crate::Mode::Gateway,
            guild_id: None,
        };
        let rest = Rest::new(&config);
        let error = rest
            .followup(
                "SECRET-INTERACTION-TOKEN",
                &serde_json::json!({"content": "x"}),
            )
            .await
            .unwrap_err();
        assert!(matches!(error, RestError::Network(_)), "{error:?}");
        assert!(!error.to_string().contains("SECRET"), "{error}");
        assert!(!error.is_permanent());
    }

    #[test]
    fn closed_dms_are_permanent_rate_limits_are_not() {
        assert!(discord(403, codes::DMS_CLOSED).is_permanent());
        assert!(discord(404, codes::UNKNOWN_CHANNEL).is_permanent());
        assert!(!discord(429, 0).is_permanent());
        assert!(!discord(502, 0).is_permanent());
        assert!(!discord(401, 0).is_permanent());
        assert!(!RestError::Timeout.is_permanent());
        assert!(discord(404, codes::UNKNOWN_WEBHOOK).is_not_acknowledged_yet());
    }
}
