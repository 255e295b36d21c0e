//! The adapter's settings, parsed, so a bad value fails at start naming its
//! key: a bot token, snowflake ids, the application's Ed25519 public key, an
//! API URL.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
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
#[derive(Clone)]
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

/// The application's public key, which signs every interaction call.
#[derive(Clone)]
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
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
