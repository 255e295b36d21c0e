//! The adapter's settings, parsed, so a bad value fails at start naming its
//! key: a bot token, snowflake ids, the application's Ed25519 public key, an
//! API URL.
//!
//! The one decision to know: [`DiscordSettings`] (the `[discord]` section)
//! deserializes straight into these types, so each value is parsed once,
//! where it is read; [`DiscordSettings::config`] only assembles them and
//! applies the rules that tie keys together (a token needs the application
//! id; interactions mode needs the public key).

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use serenity::interactions_endpoint::Verifier;
use url::Url;

/// Discord's own API, the default `discord.api_url`.
pub const DEFAULT_API_URL: &str = "https://discord.com";
/// The shortest and longest bot token accepted, in bytes.
pub const TOKEN_BYTES_MIN: usize = 50;
pub const TOKEN_BYTES_MAX: usize = 100;

/// Why a Discord setting is refused. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "not a bot token: {TOKEN_BYTES_MIN} to {TOKEN_BYTES_MAX} letters, digits, `.`, `_` or `-`, as the Developer Portal's Bot page gives it (without \"Bot \")"
    )]
    BadToken,
    #[error("not a Discord id: a number of 17 to 20 digits")]
    BadId,
    #[error(
        "not an Ed25519 public key: 64 hex digits, as the Developer Portal's General Information page shows it"
    )]
    BadPublicKey,
    #[error("not an http:// or https:// URL with a host (e.g. https://discord.com)")]
    BadApiUrl,
    #[error("required when discord.token is set")]
    MissingWithToken,
    #[error(
        "required in interactions mode (or set discord.mode = \"gateway\"): the Developer Portal's General Information page shows it"
    )]
    MissingForInteractions,
}

/// The bot token. Secret: `Debug` hides it.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Token(SecretString);

impl Token {
    pub fn parse(text: &str) -> Result<Token, ConfigError> {
        let text = text.trim();
        let text = text.strip_prefix("Bot ").unwrap_or(text);
        let ok = (TOKEN_BYTES_MIN..=TOKEN_BYTES_MAX).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Token(SecretString::from(text.to_owned())))
        } else {
            Err(ConfigError::BadToken)
        }
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([REDACTED])")
    }
}

impl TryFrom<String> for Token {
    type Error = ConfigError;
    fn try_from(text: String) -> Result<Token, ConfigError> {
        Token::parse(&text)
    }
}

/// A snowflake: an application, guild, user or channel id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Snowflake(pub u64);

impl Snowflake {
    pub fn parse(text: &str) -> Result<Snowflake, ConfigError> {
        let text = text.trim();
        let ok = (17..=20).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| text.parse().ok())
            .flatten()
            .map(Snowflake)
            .ok_or(ConfigError::BadId)
    }
}

impl fmt::Display for Snowflake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Text or a number: an environment variable's digits arrive as a number.
impl<'de> Deserialize<'de> for Snowflake {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Snowflake;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Discord id")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Snowflake, E> {
                Snowflake::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Snowflake, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Snowflake, E> {
                self.visit_str(&v.to_string())
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The application's public key, which signs every interaction call.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct PublicKey {
    bytes: [u8; 32],
    verifier: Verifier,
}

impl PublicKey {
    pub fn parse(hex: &str) -> Result<PublicKey, ConfigError> {
        let hex = hex.trim();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ConfigError::BadPublicKey);
        }
        let mut bytes = [0_u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            let pair = hex.get(2 * i..2 * i + 2).ok_or(ConfigError::BadPublicKey)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| ConfigError::BadPublicKey)?;
        }
        // Not every 32 bytes are a point on the curve.
        let verifier = Verifier::try_new(bytes).map_err(|_| ConfigError::BadPublicKey)?;
        Ok(PublicKey { bytes, verifier })
    }

    pub(crate) fn verifier(&self) -> Verifier {
        self.verifier.clone()
    }
}

impl TryFrom<String> for PublicKey {
    type Error = ConfigError;
    fn try_from(hex: String) -> Result<PublicKey, ConfigError> {
        PublicKey::parse(&hex)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex: String = self.bytes.iter().map(|b| format!("{b:02x}")).collect();
        write!(f, "PublicKey({hex})")
    }
}

/// `discord.api_url`: Discord, or a test's fake.
pub fn parse_api_url(text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|_| ConfigError::BadApiUrl)?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.query().is_none()
        && url.fragment().is_none();
    if ok {
        Ok(url)
    } else {
        Err(ConfigError::BadApiUrl)
    }
}

/// How interactions reach paybot.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Discord POSTs each interaction to `/discord/interactions`, signed
    /// with the application's key (checked with this public key).
    Interactions(Box<PublicKey>),
    /// paybot holds a gateway connection and receives interactions as
    /// `INTERACTION_CREATE` events (no public URL needed).
    Gateway,
}

impl Mode {
    /// `interactions` or `gateway`, as `discord.mode` spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Interactions(_) => "interactions",
            Mode::Gateway => "gateway",
        }
    }
}

/// Everything the adapter needs, checked.
#[derive(Debug, Clone)]
pub struct DiscordConfig {
    pub token: Token,
    pub application_id: Snowflake,
    /// `https://discord.com`, or a fake's base URL in tests.
    pub api_url: Url,
    pub mode: Mode,
    /// Register the commands in this server only (they appear at once)
    /// instead of globally.
    pub guild_id: Option<Snowflake>,
}

impl DiscordConfig {
    /// Whether requests go to Discord itself (and so through serenity's
    /// rate limiter) rather than to another base URL.
    pub fn is_discord(&self) -> bool {
        self.api_url.as_str().trim_end_matches('/') == DEFAULT_API_URL
    }
}

/// `discord.mode`, as the settings spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModeSetting {
    Interactions,
    Gateway,
}

/// The `[discord]` settings, each value parsed as it is read. The adapter
/// starts (with `paybot serve`) when a token is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordSettings {
    /// The bot's token from the Developer Portal. Secret
    /// (`PAYBOT_DISCORD__TOKEN`).
    #[serde(default)]
    pub token: Option<Token>,
    /// The application's id.
    #[serde(default)]
    pub application_id: Option<Snowflake>,
    /// The application's Ed25519 public key (64 hex digits); interactions
    /// mode checks every call with it.
    #[serde(default)]
    pub public_key: Option<PublicKey>,
    /// Discord's base URL.
    #[serde(deserialize_with = "api_url")]
    pub api_url: Url,
    pub mode: ModeSetting,
    /// Register the commands in this server only, instead of globally.
    #[serde(default)]
    pub guild_id: Option<Snowflake>,
}

impl DiscordSettings {
    /// The adapter's configuration; `Ok(None)` when no token is set (the
    /// adapter is off). An error names the key (`application_id`, ...) the
    /// token or the mode needs.
    pub fn config(&self) -> Result<Option<DiscordConfig>, (&'static str, ConfigError)> {
        let Some(token) = &self.token else {
            return Ok(None);
        };
        let application_id = self
            .application_id
            .ok_or(("application_id", ConfigError::MissingWithToken))?;
        let mode = match self.mode {
            ModeSetting::Gateway => Mode::Gateway,
            ModeSetting::Interactions => Mode::Interactions(Box::new(
                self.public_key
                    .clone()
                    .ok_or(("public_key", ConfigError::MissingForInteractions))?,
            )),
        };
        Ok(Some(DiscordConfig {
            token: token.clone(),
            application_id,
            api_url: self.api_url.clone(),
            mode,
            guild_id: self.guild_id,
        }))
    }

    /// Every key the token and the mode need and do not have (what
    /// [`DiscordSettings::config`] refuses first).
    pub fn missing(&self) -> Vec<(&'static str, ConfigError)> {
        let mut missing = Vec::new();
        if self.token.is_some() {
            if self.application_id.is_none() {
                missing.push(("application_id", ConfigError::MissingWithToken));
            }
            if self.mode == ModeSetting::Interactions && self.public_key.is_none() {
                missing.push(("public_key", ConfigError::MissingForInteractions));
            }
        }
        missing
    }

    /// Whether an application setting is given (with no token, it does
    /// nothing).
    pub fn application_given(&self) -> bool {
        self.application_id.is_some() || self.public_key.is_some()
    }
}

fn api_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Url, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_api_url(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_parsed_or_refused() {
        let token = "MTA5ODc2NTQzMjEwOTg3NjU0Mw.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB";
        assert!(Token::parse(token).is_ok());
        assert!(Token::parse(&format!("Bot {token}")).is_ok());
        assert_eq!(
            format!("{:?}", Token::parse(token).unwrap()),
            "Token([REDACTED])"
        );
        assert!(Token::parse("short").is_err());
        assert!(Token::parse(&format!("{token} x")).is_err());
        assert_eq!(
            Snowflake::parse("1098765432109876543").unwrap().0,
            1_098_765_432_109_876_543
        );
        assert!(Snowflake::parse("12").is_err());
        assert!(Snowflake::parse("abc45678901234567").is_err());
        assert!(PublicKey::parse(&"zz".repeat(32)).is_err());
        assert!(PublicKey::parse("abcd").is_err());
        assert!(parse_api_url("http://127.0.0.1:9").is_ok());
        assert!(parse_api_url("discord.com").is_err());
    }
}
