//! The adapter's settings, parsed: a token that looks like a Bot API token,
//! URLs that are URLs, a webhook secret Telegram accepts.
//!
//! The one decision to know: [`TelegramSettings`] (the `[telegram]` section)
//! deserializes straight into these types, so each value is parsed once,
//! where it is read, and a bad one fails at start naming its key; what is
//! left to [`TelegramSettings::config`] is assembling them, and the rules
//! that tie keys together (webhook mode needs its URL and secret).

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use url::Url;

/// The shortest webhook secret accepted, in characters. Telegram allows 1;
/// the secret is what keeps forged updates out, so paybot asks for more.
pub const WEBHOOK_SECRET_CHARS_MIN: usize = 16;
/// Telegram's longest webhook secret, in characters.
pub const WEBHOOK_SECRET_CHARS_MAX: usize = 256;
/// The longest token accepted, in bytes.
pub const TOKEN_BYTES_MAX: usize = 160;
/// The shortest secret part of a token (after `:`), in characters.
/// Telegram's are 35.
pub const TOKEN_SECRET_CHARS_MIN: usize = 20;
/// Telegram's own API, the default `telegram.api_url`.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";

/// Why a Telegram setting is refused. `Display` is the message for the
/// operator; it never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "not a bot token: it looks like 123456789:AAE... (the bot's number, `:`, then at least {TOKEN_SECRET_CHARS_MIN} letters, digits, `_` or `-`), as @BotFather gives it"
    )]
    BadToken,
    #[error("not an http:// or https:// URL with a host: {0}")]
    BadApiUrl(String),
    #[error("Telegram only calls https:// webhook URLs with a host: {0}")]
    BadWebhookUrl(String),
    #[error(
        "must be {WEBHOOK_SECRET_CHARS_MIN} to {WEBHOOK_SECRET_CHARS_MAX} letters, digits, `_` or `-`, e.g. the output of `openssl rand -hex 32`"
    )]
    BadWebhookSecret,
    #[error("is required when telegram.mode = \"webhook\"")]
    MissingForWebhook,
}

/// A Bot API token. Secret: `Debug` shows only the bot's number.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Token {
    secret: SecretString,
    bot_id: u64,
}

impl Token {
    pub fn parse(text: &str) -> Result<Token, ConfigError> {
        let text = text.trim();
        if text.len() > TOKEN_BYTES_MAX {
            return Err(ConfigError::BadToken);
        }
        let (id, secret) = text.split_once(':').ok_or(ConfigError::BadToken)?;
        let bot_id = (!id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()))
            .then(|| id.parse::<u64>().ok())
            .flatten()
            .ok_or(ConfigError::BadToken)?;
        let secret_ok = secret.len() >= TOKEN_SECRET_CHARS_MIN
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !secret_ok {
            return Err(ConfigError::BadToken);
        }
        Ok(Token {
            secret: SecretString::from(text.to_owned()),
            bot_id,
        })
    }

    /// The bot's number, the part before `:`.
    pub fn bot_id(&self) -> u64 {
        self.bot_id
    }

    pub(crate) fn expose(&self) -> String {
        self.secret.expose_secret().to_owned()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({}:[REDACTED])", self.bot_id)
    }
}

impl TryFrom<String> for Token {
    type Error = ConfigError;
    fn try_from(text: String) -> Result<Token, ConfigError> {
        Token::parse(&text)
    }
}

/// The secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token` with each
/// webhook call.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct WebhookSecret(SecretString);

impl WebhookSecret {
    pub fn parse(text: &str) -> Result<WebhookSecret, ConfigError> {
        let ok = (WEBHOOK_SECRET_CHARS_MIN..=WEBHOOK_SECRET_CHARS_MAX).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(WebhookSecret(SecretString::from(text.to_owned())))
        } else {
            Err(ConfigError::BadWebhookSecret)
        }
    }

    pub(crate) fn expose(&self) -> String {
        self.0.expose_secret().to_owned()
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([REDACTED])")
    }
}

impl TryFrom<String> for WebhookSecret {
    type Error = ConfigError;
    fn try_from(text: String) -> Result<WebhookSecret, ConfigError> {
        WebhookSecret::parse(&text)
    }
}

/// `telegram.api_url`: where the Bot API is (Telegram's, a local Bot API
/// server, or a test's fake).
pub fn parse_api_url(text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|e| ConfigError::BadApiUrl(e.to_string()))?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.query().is_none()
        && url.fragment().is_none();
    if ok {
        Ok(url)
    } else {
        Err(ConfigError::BadApiUrl(
            "use scheme://host[:port][/path], without a query".to_owned(),
        ))
    }
}

/// `telegram.webhook_url`: the public https URL Telegram posts updates to
/// (paybot serves them at `/telegram/webhook`; a proxy may map the path).
pub fn parse_webhook_url(text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|e| ConfigError::BadWebhookUrl(e.to_string()))?;
    if url.scheme() == "https" && url.host().is_some() && url.fragment().is_none() {
        Ok(url)
    } else {
        Err(ConfigError::BadWebhookUrl(url.to_string()))
    }
}

/// How updates arrive.
#[derive(Debug, Clone)]
pub enum Mode {
    /// paybot asks Telegram (`getUpdates`); works behind NAT.
    Polling,
    /// Telegram posts each update to `url`, with `secret` in a header.
    Webhook { url: Url, secret: WebhookSecret },
}

impl Mode {
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Polling => "polling",
            Mode::Webhook { .. } => "webhook",
        }
    }
}

/// Everything the adapter needs.
#[derive(Debug, Clone)]
pub struct TelegramConfig {
    pub token: Token,
    pub api_url: Url,
    pub mode: Mode,
}

/// `telegram.mode`, as the settings spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModeSetting {
    Polling,
    Webhook,
}

/// The `[telegram]` settings, each value parsed as it is read. The adapter
/// starts (with `paybot serve`) when a token is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramSettings {
    /// The bot's token from @BotFather. Secret (`PAYBOT_TELEGRAM__TOKEN`).
    #[serde(default)]
    pub token: Option<Token>,
    /// The Bot API's base URL.
    #[serde(deserialize_with = "api_url")]
    pub api_url: Url,
    pub mode: ModeSetting,
    /// Webhook mode: the public https URL Telegram posts updates to.
    #[serde(default, deserialize_with = "webhook_url")]
    pub webhook_url: Option<Url>,
    /// Webhook mode: the secret Telegram sends back with each update.
    /// Secret (`PAYBOT_TELEGRAM__WEBHOOK_SECRET`).
    #[serde(default)]
    pub webhook_secret: Option<WebhookSecret>,
}

impl TelegramSettings {
    /// The adapter's configuration; `Ok(None)` when no token is set (the
    /// adapter is off). An error names the key (`webhook_url`, ...) that
    /// webhook mode is missing.
    pub fn config(&self) -> Result<Option<TelegramConfig>, (&'static str, ConfigError)> {
        let Some(token) = &self.token else {
            return Ok(None);
        };
        let mode = match self.mode {
            ModeSetting::Polling => Mode::Polling,
            ModeSetting::Webhook => Mode::Webhook {
                url: self
                    .webhook_url
                    .clone()
                    .ok_or(("webhook_url", ConfigError::MissingForWebhook))?,
                secret: self
                    .webhook_secret
                    .clone()
                    .ok_or(("webhook_secret", ConfigError::MissingForWebhook))?,
            },
        };
        Ok(Some(TelegramConfig {
            token: token.clone(),
            api_url: self.api_url.clone(),
            mode,
        }))
    }

    /// Every key the token and the mode need and do not have (what
    /// [`TelegramSettings::config`] refuses first).
    pub fn missing(&self) -> Vec<(&'static str, ConfigError)> {
        let mut missing = Vec::new();
        if self.token.is_some() && self.mode == ModeSetting::Webhook {
            if self.webhook_url.is_none() {
                missing.push(("webhook_url", ConfigError::MissingForWebhook));
            }
            if self.webhook_secret.is_none() {
                missing.push(("webhook_secret", ConfigError::MissingForWebhook));
            }
        }
        missing
    }

    /// Whether a webhook setting is given (with no token, it does nothing).
    pub fn webhook_given(&self) -> bool {
        self.webhook_url.is_some() || self.webhook_secret.is_some()
    }
}

fn api_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Url, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_api_url(&text).map_err(serde::de::Error::custom)
}

fn webhook_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Url>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_webhook_url(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_look_like_botfather_tokens() {
        let token = Token::parse("123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11").unwrap();
        assert_eq!(token.bot_id(), 123_456);
        assert_eq!(format!("{token:?}"), "Token(123456:[REDACTED])");
        for bad in [
            "",
            "no-colon",
            ":ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
            "12a:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
            "123456:short",
            "123456:ABC DEF1234ghIkl zyx57W2v1u123ew11",
            "123456:ABC/DEF1234ghIkl-zyx57W2v1u123ew11",
        ] {
            assert_eq!(
                Token::parse(bad).unwrap_err(),
                ConfigError::BadToken,
                "{bad}"
            );
        }
    }

    #[test]
    fn urls_and_secrets_are_checked() {
        assert!(parse_api_url("http://127.0.0.1:8081").is_ok());
        assert!(parse_api_url(DEFAULT_API_URL).is_ok());
        assert!(parse_api_url("ftp://x").is_err());
        assert!(parse_api_url("api.telegram.org").is_err());
        assert!(parse_webhook_url("https://pay.example.com/telegram/webhook").is_ok());
        assert!(parse_webhook_url("http://pay.example.com/telegram/webhook").is_err());
        assert!(WebhookSecret::parse("0123456789abcdef_-XYZ").is_ok());
        assert!(WebhookSecret::parse("short").is_err());
        assert!(WebhookSecret::parse("has spaces in it, sixteen+").is_err());
        assert!(WebhookSecret::parse(&"a".repeat(257)).is_err());
        let secret = WebhookSecret::parse("0123456789abcdef").unwrap();
        assert!(!format!("{secret:?}").contains("0123"));
    }
}
