//! Settings: plain data, loaded once at start and passed in.
//!
//! Three layers, each overriding the one before: the defaults in
//! `config/paybot.toml` (compiled into the binary, so `paybot` runs from any
//! directory), the file named by `--config`, and `PAYBOT_*` environment
//! variables with `__` between levels (`PAYBOT_HTTP__ADDR`).
//!
//! The one design decision to know: **every layer is kept apart after it is
//! read**, so that any problem — a value of the wrong type, an unknown key, a
//! number out of range — is reported with the key, what is wrong with it, and
//! the exact file or environment variable it came from. Figment merges the
//! layers and deserializes; provenance is looked up in the layers themselves
//! rather than trusted to the merged tree, whose tables keep the tag of the
//! first layer that created them.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use figment::error::Kind;
use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use paybot_telegram::ConfigError;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The documented defaults, compiled in as the base layer.
pub const DEFAULTS_TOML: &str = include_str!("../config/paybot.toml");
/// Environment variables with this prefix are settings.
pub const ENV_PREFIX: &str = "PAYBOT_";
/// Separates levels in an environment variable's name: `PAYBOT_HTTP__ADDR`.
pub const ENV_LEVEL_SEPARATOR: &str = "__";

/// Allowed `database.pool_connections_max`, in connections.
pub const POOL_CONNECTIONS_RANGE: RangeInclusive<u32> = 1..=256;
/// Allowed `ledger.sweep_interval_ms`, in milliseconds.
pub const SWEEP_INTERVAL_MS_RANGE: RangeInclusive<u64> = 10..=60_000;
/// Allowed `http.shutdown_grace_secs`, in seconds.
pub const SHUTDOWN_GRACE_SECS_RANGE: RangeInclusive<u64> = 0..=600;
/// Allowed `http.header_read_timeout_secs`, in seconds.
pub const HEADER_READ_TIMEOUT_SECS_RANGE: RangeInclusive<u64> = 1..=300;
/// Allowed `http.idle_timeout_secs`, in seconds.
pub const IDLE_TIMEOUT_SECS_RANGE: RangeInclusive<u64> = 1..=3_600;
/// Allowed `http.request_timeout_secs`, in seconds.
pub const REQUEST_TIMEOUT_SECS_RANGE: RangeInclusive<u64> = 1..=600;
/// Allowed `http.connections_max`, in connections.
pub const CONNECTIONS_MAX_RANGE: RangeInclusive<usize> = 8..=1_000_000;
/// Allowed `http.requests_in_flight_max`, in requests (and below
/// `http.connections_max`).
pub const REQUESTS_IN_FLIGHT_MAX_RANGE: RangeInclusive<usize> = 1..=100_000;
/// Longest `log.filter`, in bytes.
pub const LOG_FILTER_BYTES_MAX: usize = 1_024;
/// `otp.ttl_secs`: from half a minute to an hour.
pub const OTP_TTL_SECS_RANGE: RangeInclusive<u32> = 30..=3_600;
/// `otp.attempts_max`.
pub const OTP_ATTEMPTS_RANGE: RangeInclusive<u8> = 1..=10;
/// `escrow.ttl_secs`: a minute to the ledger's longest pending timeout.
pub const ESCROW_TTL_SECS_RANGE: RangeInclusive<u32> = 60..=bot::service::ESCROW_TTL_SECS_MAX;

/// `cards.new_card_hold_secs`: none to 30 days.
pub const NEW_CARD_HOLD_SECS_RANGE: RangeInclusive<u32> = 0..=bot::service::NEW_CARD_HOLD_SECS_MAX;
/// `limits.commands_burst_max`, in commands.
pub const COMMANDS_BURST_RANGE: RangeInclusive<u32> = 1..=1_000;
/// `limits.commands_per_minute_max`, in commands a minute.
pub const COMMANDS_PER_MINUTE_RANGE: RangeInclusive<u32> = 1..=6_000;
/// `limits.requests_sent_per_hour_max` and
/// `limits.requests_received_per_hour_max`, in requests an hour.
pub const REQUESTS_PER_HOUR_RANGE: RangeInclusive<u32> = 1..=10_000;

/// Keys whose values are secrets: never echoed in an error message.
const SECRET_KEYS: &[&str] = &[
    "database.url",
    "otp.pepper",
    "telegram.token",
    "telegram.webhook_secret",
    "discord.token",
    "cards.api_key",
    "cards.fingerprint_key",
    "api.token",
    "api.read_token",
    "api.transfer_token",
    "api.issuance_token",
];

/// Everything paybot is configured with.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub ledger: LedgerSettings,
    pub log: LogSettings,
    pub bot: BotSettings,
    pub otp: OtpSettings,
    pub escrow: EscrowSettings,
    pub mock: MockSettings,
    pub telegram: TelegramSettings,
    pub discord: DiscordSettings,
    pub cards: CardsSettings,
    pub api: ApiSettings,
    pub deployment: DeploymentSettings,
    pub limits: LimitsSettings,
}

/// `[deployment]`: development or production is derived from what is
/// configured ([`crate::deployment::Deployment`]); this only lets named
/// development parts run in production.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentSettings {
    /// Development parts allowed in production (a staging server).
    #[serde(default)]
    pub allow_in_production: crate::deployment::AllowedDevParts,
}

/// `[limits]`: how fast one person can make the bot work and reach others.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSettings {
    /// Commands one chat account may send at once.
    pub commands_burst_max: u32,
    /// Commands one chat account may send per minute, on average.
    pub commands_per_minute_max: u32,
    /// Requests (a `/request`, each share of a `/split`) one wallet may
    /// make in any hour.
    pub requests_sent_per_hour_max: u32,
    /// Requests one wallet may receive, from everyone together, in any hour.
    pub requests_received_per_hour_max: u32,
}

/// `[api]`: the ledger HTTP API under `/api/v1`, served by `paybot serve`
/// only when a token is set. Every token is a secret, from the environment
/// only (`PAYBOT_API__READ_TOKEN`, ...).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// Full access, the same as `issuance_token` (the one token there was
    /// before scopes).
    #[serde(default)]
    pub token: Option<SecretString>,
    /// Scope `read`: the GET routes.
    #[serde(default)]
    pub read_token: Option<SecretString>,
    /// Scope `transfer`: also opening wallets and transfers between user
    /// wallets.
    #[serde(default)]
    pub transfer_token: Option<SecretString>,
    /// Scope `issuance`: everything, transfers touching system accounts too.
    #[serde(default)]
    pub issuance_token: Option<SecretString>,
}

impl ApiSettings {
    /// Each token key, its value and the scope it grants.
    pub fn keys(&self) -> [(&'static str, Option<&SecretString>, crate::api::Scope); 4] {
        use crate::api::Scope;
        [
            ("api.token", self.token.as_ref(), Scope::Issuance),
            ("api.read_token", self.read_token.as_ref(), Scope::Read),
            (
                "api.transfer_token",
                self.transfer_token.as_ref(),
                Scope::Transfer,
            ),
            (
                "api.issuance_token",
                self.issuance_token.as_ref(),
                Scope::Issuance,
            ),
        ]
    }

    /// The tokens with their scopes; `Ok(None)` when none is set (the API
    /// is off). An error names the key. [`Sources::settings`] has already
    /// checked them.
    pub fn tokens(
        &self,
    ) -> Result<Option<crate::api::ApiTokens>, (&'static str, crate::api::ApiTokenError)> {
        let mut tokens = Vec::new();
        for (key, token, scope) in self.keys() {
            if let Some(token) = token {
                let token =
                    crate::api::ApiToken::parse(token.expose_secret()).map_err(|e| (key, e))?;
                tokens.push((token, scope));
            }
        }
        Ok(crate::api::ApiTokens::new(tokens))
    }
}

/// `[cards]`: linked cards, top-ups and cash-outs over the card rail.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardsSettings {
    /// Offer the card commands. Unset: on in development (with the
    /// simulator when there is no `rail_url`), and in production only with
    /// a `rail_url`. See [`crate::deployment::Deployment`].
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Where the rail is (Visa, or `paybot card-sim`). Unset: a simulator
    /// inside paybot, served at `/visadirect/...` and `/simulator/totals`.
    #[serde(default)]
    pub rail_url: Option<String>,
    /// The rail's API key. Secret (`PAYBOT_CARDS__API_KEY`). Required with
    /// `rail_url`; generated at start for the in-process simulator.
    #[serde(default)]
    pub api_key: Option<SecretString>,
    /// The key card fingerprints (which spot a card linked twice) are made
    /// with: 32 to 64 bytes of text. Secret
    /// (`PAYBOT_CARDS__FINGERPRINT_KEY`). When unset, `fingerprint_key_file`
    /// holds it (generated on first run, owner-only).
    #[serde(default)]
    pub fingerprint_key: Option<SecretString>,
    pub fingerprint_key_file: PathBuf,
    /// The instant-payout fee, as a percentage of the amount (`"1.5"`).
    pub cashout_fee_percent: PercentSetting,
    /// The smallest cash-out fee (`"0.25 USD"`), for cash-outs in its
    /// currency.
    pub cashout_fee_min: AmountOrZeroSetting,
    /// How long after a card was linked cash-outs to it are refused, in
    /// seconds (0 to 30 days; 0: no wait).
    pub new_card_hold_secs: u32,
    /// `acquiringBin`, sent with every rail request: 6 to 11 digits.
    pub acquiring_bin: IdSetting,
    /// `acquirerCountryCode`: ISO 3166 numeric (`"840"`).
    pub acquirer_country_code: IdSetting,
    /// `cardAcceptor.name`: 1 to 25 printable ASCII characters.
    pub card_acceptor_name: String,
    /// `cardAcceptor.terminalId`: 1 to 8 letters, digits or `-`.
    pub terminal_id: IdSetting,
    /// `cardAcceptor.idCode`: 1 to 15 letters, digits or `-`.
    pub id_code: IdSetting,
    /// `cardAcceptor.address.country`: ISO 3166 alpha-3 (`"USA"`).
    pub country: String,
}

impl CardsSettings {
    /// The acquirer's fields, checked; the error names the key
    /// (`acquiring_bin`, ...) under `cards.`. [`Sources::settings`] has
    /// already checked them.
    pub fn acquirer(&self) -> Result<paybot_cards::Acquirer, paybot_cards::ConfigError> {
        paybot_cards::Acquirer::parse(&paybot_cards::AcquirerSettings {
            acquiring_bin: self.acquiring_bin.0.clone(),
            acquirer_country_code: self.acquirer_country_code.0.clone(),
            card_acceptor_name: self.card_acceptor_name.clone(),
            terminal_id: self.terminal_id.0.clone(),
            id_code: self.id_code.0.clone(),
            country: self.country.clone(),
        })
    }
}

/// A percentage from 0 to 100 with at most 2 decimals, written as a string
/// (`"1.5"`) or a whole number (`2`); held in basis points. Never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PercentSetting(pub u32);

impl<'de> Deserialize<'de> for PercentSetting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Whole(u32),
            // An environment variable `1.5` arrives as a float: its shortest
            // round-trip text ("1.5") is read as decimal text, exactly.
            Float(f64),
            Text(String),
        }
        let refused = || {
            serde::de::Error::custom(
                "not a percentage from 0 to 100 with at most 2 decimals; write it as a string, e.g. \"1.5\"",
            )
        };
        let bp = match Raw::deserialize(deserializer).map_err(|_| refused())? {
            Raw::Whole(n) => n.checked_mul(100),
            Raw::Float(f) => percent_basis_points(&f.to_string()),
            Raw::Text(text) => percent_basis_points(text.trim()),
        };
        bp.filter(|bp| *bp <= bot::service::FEE_BASIS_POINTS_MAX)
            .map(PercentSetting)
            .ok_or_else(refused)
    }
}

/// `"1.5"` → 150.
fn percent_basis_points(text: &str) -> Option<u32> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || whole.len() > 3
        || fraction.len() > 2
        || !digits(whole)
        || !digits(fraction)
    {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let fraction: u32 = format!("{fraction:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(fraction)
}

/// An amount with its currency, or zero (`"0"`, `"0.00 USD"`: none).
#[derive(Debug, Clone, Copy)]
pub struct AmountOrZeroSetting(pub Option<ledger::Amount>);

impl<'de> Deserialize<'de> for AmountOrZeroSetting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let number = text
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .trim_start_matches('$');
        if !number.is_empty() && number.bytes().all(|b| b == b'0' || b == b'.') {
            return Ok(AmountOrZeroSetting(None));
        }
        ledger::parse_money(&text, ledger::Currency::USD)
            .map(|a| AmountOrZeroSetting(Some(a)))
            .map_err(|e| {
                serde::de::Error::custom(format!("not an amount ({e}); e.g. \"0.25 USD\""))
            })
    }
}

/// `[bot]`: the chat core.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotSettings {
    /// The currency of amounts typed without one.
    pub default_currency: CurrencySetting,
    /// How often expired codes and unclaimed escrow are ended, in ms.
    pub sweep_interval_ms: u64,
}

/// `[otp]`: one-time confirmation codes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtpSettings {
    pub ttl_secs: u32,
    pub attempts_max: u8,
    /// The key codes are hashed with (32 to 64 bytes of text). Secret. When
    /// unset, `pepper_file` holds it (generated on first run).
    #[serde(default)]
    pub pepper: Option<SecretString>,
    pub pepper_file: PathBuf,
}

/// `[escrow]`: payments to handles nobody has claimed yet.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscrowSettings {
    pub ttl_secs: u32,
}

/// `[mock]`: the developer's chat.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockSettings {
    /// Serve the mock chat (`/mock/*`, `paybot chat`). Unset: on in
    /// development, off in production. See
    /// [`crate::deployment::Deployment`].
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Play money for each mock user's first `/start`.
    pub opening_balance: AmountSetting,
}

/// `[telegram]`: the Telegram adapter, started by `paybot serve` when a
/// token is set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramSettings {
    /// The bot's token from @BotFather. Secret (`PAYBOT_TELEGRAM__TOKEN`).
    #[serde(default)]
    pub token: Option<SecretString>,
    /// The Bot API's base URL.
    pub api_url: String,
    pub mode: TelegramMode,
    /// Webhook mode: the public https URL Telegram posts updates to.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Webhook mode: the secret Telegram sends back with each update.
    /// Secret (`PAYBOT_TELEGRAM__WEBHOOK_SECRET`).
    #[serde(default)]
    pub webhook_secret: Option<SecretString>,
}

/// How Telegram updates reach paybot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TelegramMode {
    Polling,
    Webhook,
}

impl TelegramSettings {
    /// The adapter's configuration; `Ok(None)` when no token is set (the
    /// adapter is off). [`Sources::settings`] has already checked each
    /// value, so an error here names the first bad key.
    pub fn config(
        &self,
    ) -> Result<Option<paybot_telegram::TelegramConfig>, (&'static str, ConfigError)> {
        let Some(token) = &self.token else {
            return Ok(None);
        };
        let token = paybot_telegram::Token::parse(token.expose_secret())
            .map_err(|e| ("telegram.token", e))?;
        let api_url = paybot_telegram::config::parse_api_url(&self.api_url)
            .map_err(|e| ("telegram.api_url", e))?;
        let mode = match self.mode {
            TelegramMode::Polling => paybot_telegram::Mode::Polling,
            TelegramMode::Webhook => {
                let url = self
                    .webhook_url
                    .as_deref()
                    .ok_or(("telegram.webhook_url", ConfigError::MissingForWebhook))
                    .and_then(|url| {
                        paybot_telegram::config::parse_webhook_url(url)
                            .map_err(|e| ("telegram.webhook_url", e))
                    })?;
                let secret = self
                    .webhook_secret
                    .as_ref()
                    .ok_or(("telegram.webhook_secret", ConfigError::MissingForWebhook))
                    .and_then(|secret| {
                        paybot_telegram::WebhookSecret::parse(secret.expose_secret())
                            .map_err(|e| ("telegram.webhook_secret", e))
                    })?;
                paybot_telegram::Mode::Webhook { url, secret }
            }
        };
        Ok(Some(paybot_telegram::TelegramConfig {
            token,
            api_url,
            mode,
        }))
    }
}

/// `[discord]`: the Discord adapter, started by `paybot serve` when a
/// token is set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordSettings {
    /// The bot's token from the Developer Portal. Secret
    /// (`PAYBOT_DISCORD__TOKEN`).
    #[serde(default)]
    pub token: Option<SecretString>,
    /// The application's id.
    #[serde(default)]
    pub application_id: Option<IdSetting>,
    /// The application's Ed25519 public key (64 hex digits); interactions
    /// mode checks every call with it.
    #[serde(default)]
    pub public_key: Option<String>,
    /// Discord's base URL.
    pub api_url: String,
    pub mode: DiscordMode,
    /// Register the commands in this server only, instead of globally.
    #[serde(default)]
    pub guild_id: Option<IdSetting>,
}

/// How Discord interactions reach paybot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscordMode {
    Interactions,
    Gateway,
}

/// An id or code setting (Discord ids, the card acquirer's codes), given as
/// a string or a number (an environment variable's digits arrive as a
/// number). Its own parser checks the shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdSetting(pub String);

impl<'de> Deserialize<'de> for IdSetting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = IdSetting;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an id: text or digits")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IdSetting, E> {
                Ok(IdSetting(v.to_owned()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<IdSetting, E> {
                Ok(IdSetting(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<IdSetting, E> {
                Ok(IdSetting(v.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl DiscordSettings {
    /// The adapter's configuration; `Ok(None)` when no token is set (the
    /// adapter is off). An error names the first bad key.
    pub fn config(
        &self,
    ) -> Result<Option<paybot_discord::DiscordConfig>, (&'static str, paybot_discord::ConfigError)>
    {
        use paybot_discord::ConfigError as E;
        let Some(token) = &self.token else {
            return Ok(None);
        };
        let token = paybot_discord::Token::parse(token.expose_secret())
            .map_err(|e| ("discord.token", e))?;
        let application_id = self
            .application_id
            .as_ref()
            .ok_or(("discord.application_id", E::MissingWithToken))
            .and_then(|id| {
                paybot_discord::Snowflake::parse(&id.0).map_err(|e| ("discord.application_id", e))
            })?;
        let api_url = paybot_discord::config::parse_api_url(&self.api_url)
            .map_err(|e| ("discord.api_url", e))?;
        let mode = match self.mode {
            DiscordMode::Gateway => paybot_discord::Mode::Gateway,
            DiscordMode::Interactions => {
                let key = self
                    .public_key
                    .as_deref()
                    .ok_or(("discord.public_key", E::MissingForInteractions))
                    .and_then(|key| {
                        paybot_discord::PublicKey::parse(key).map_err(|e| ("discord.public_key", e))
                    })?;
                paybot_discord::Mode::Interactions(Box::new(key))
            }
        };
        let guild_id = self
            .guild_id
            .as_ref()
            .map(|id| paybot_discord::Snowflake::parse(&id.0).map_err(|e| ("discord.guild_id", e)))
            .transpose()?;
        Ok(Some(paybot_discord::DiscordConfig {
            token,
            application_id,
            api_url,
            mode,
            guild_id,
        }))
    }
}

/// A currency code setting (`"USD"`).
#[derive(Debug, Clone, Copy)]
pub struct CurrencySetting(pub ledger::Currency);

impl<'de> Deserialize<'de> for CurrencySetting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        ledger::Currency::from_code(&code.to_ascii_uppercase())
            .map(CurrencySetting)
            .map_err(|_| {
                let known: Vec<&str> = ledger::Currency::all().map(|c| c.code()).collect();
                serde::de::Error::custom(format!(
                    "not a currency paybot knows; one of {}",
                    known.join(", ")
                ))
            })
    }
}

/// An amount with its currency (`"100.00 USD"`).
#[derive(Debug, Clone, Copy)]
pub struct AmountSetting(pub ledger::Amount);

impl<'de> Deserialize<'de> for AmountSetting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ledger::parse_money(&text, ledger::Currency::USD)
            .map(AmountSetting)
            .map_err(|e| {
                serde::de::Error::custom(format!("not an amount ({e}); e.g. \"100.00 USD\""))
            })
    }
}

/// `[database]`: where the ledger lives.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    pub sqlite_sync: SqliteSync,
    pub pool_connections_max: u32,
}

/// `[http]`: the server for health checks and webhooks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub addr: SocketAddr,
    pub shutdown_grace_secs: u64,
    /// From a request's first byte to the end of its headers, in seconds.
    pub header_read_timeout_secs: u64,
    /// How long a connection may wait for its next request, in seconds.
    pub idle_timeout_secs: u64,
    /// From a request's headers to its answer, body read included, in
    /// seconds.
    pub request_timeout_secs: u64,
    /// Open connections; at the bound the oldest idle one is closed.
    pub connections_max: usize,
    /// Requests being answered at once; more are answered 503 at once.
    pub requests_in_flight_max: usize,
}

/// `[ledger]`: the ledger's background work.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerSettings {
    pub sweep_interval_ms: u64,
}

/// `[log]`: what is logged.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// A `tracing_subscriber::EnvFilter` directive, checked at load.
    pub filter: String,
}

/// `database.sqlite_sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    Full,
    Normal,
}

impl From<SqliteSync> for ledger::SqliteSync {
    fn from(sync: SqliteSync) -> Self {
        match sync {
            SqliteSync::Full => ledger::SqliteSync::Full,
            SqliteSync::Normal => ledger::SqliteSync::Normal,
        }
    }
}

/// The database URL: a secret, because it may carry a password. Its Debug
/// and [`DatabaseUrl::redacted`] show scheme, host and path only.
pub struct DatabaseUrl(SecretString);

/// Where a database URL points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl DatabaseUrl {
    /// Accepts `sqlite:PATH`, `sqlite://PATH`, `postgres://...` and
    /// `postgresql://...`. The error never contains the URL.
    pub fn parse(url: String) -> Result<DatabaseUrl, &'static str> {
        let url = DatabaseUrl(SecretString::from(url));
        match url.kind() {
            Some(DatabaseKind::Sqlite) if url.sqlite_path().is_none() => {
                Err("a sqlite URL needs a file path: sqlite:PATH")
            }
            Some(_) => Ok(url),
            None => Err("unsupported database URL: use sqlite:PATH or postgres://HOST/DATABASE"),
        }
    }

    fn kind(&self) -> Option<DatabaseKind> {
        let url = self.0.expose_secret();
        if url.starts_with("sqlite:") {
            Some(DatabaseKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(DatabaseKind::Postgres)
        } else {
            None
        }
    }

    /// The URL itself, for handing to the ledger and nothing else.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// For a SQLite URL, the database file (as the ledger reads it: the part
    /// after `sqlite:` or `sqlite://`, up to any `?`). `None` for in-memory
    /// databases and other backends.
    pub fn sqlite_path(&self) -> Option<&Path> {
        ledger::sqlite_path(self.0.expose_secret())
    }

    /// Scheme, host and path, without user, password or query: safe to log.
    pub fn redacted(&self) -> String {
        let url = self.0.expose_secret();
        let without_query = url.split('?').next().unwrap_or(url);
        match without_query.split_once("://") {
            Some((scheme, rest)) if self.kind() == Some(DatabaseKind::Postgres) => {
                // Everything up to the last '@' is user and password.
                let host_and_path = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
                format!("{scheme}://{host_and_path}")
            }
            // SQLite URLs carry no credentials.
            _ => without_query.to_owned(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({:?})", self.redacted())
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let url = String::deserialize(deserializer)?;
        DatabaseUrl::parse(url).map_err(serde::de::Error::custom)
    }
}

/// Why the settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("config file {}: cannot read it", path.display())]
    ConfigFileUnreadable {
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },
    #[error("config file {}: not valid TOML: {message}", path.display())]
    ConfigFileSyntax { path: PathBuf, message: String },
    #[error("the built-in defaults (config/paybot.toml) are not valid TOML: {0}")]
    DefaultsSyntax(String),
    #[error("environment variable {name}: the value is not valid UTF-8")]
    EnvNotUnicode { name: String },
    #[error("{}", Problems(.0))]
    Invalid(Vec<Problem>),
}

/// One bad setting: which key, its value, where it came from, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key, e.g. `http.addr`.
    pub key: String,
    /// The value as given, or `None` when unknown or secret.
    pub value: Option<String>,
    /// e.g. `environment variable PAYBOT_HTTP__ADDR`.
    pub origin: String,
    pub problem: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "setting `{}`", self.key)?;
        if let Some(value) = &self.value {
            write!(f, " = {value}")?;
        }
        write!(f, " (from {}): {}", self.origin, self.problem)
    }
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [one] => write!(f, "invalid {one}"),
            many => {
                write!(f, "{} invalid settings:", many.len())?;
                for problem in many {
                    write!(f, "\n  - {problem}")?;
                }
                Ok(())
            }
        }
    }
}

/// Where a layer's values came from.
#[derive(Debug, Clone)]
enum Origin {
    Defaults,
    File(PathBuf),
    Env,
}

/// One source of settings, parsed and kept apart for provenance.
#[derive(Debug, Clone)]
struct Layer {
    origin: Origin,
    data: Dict,
    /// For the environment layer: each key path's variable name.
    env_names: BTreeMap<Vec<String>, String>,
}

impl Layer {
    fn get(&self, path: &[String]) -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        rest.iter().try_fold(self.data.get(first)?, |value, key| {
            value.as_dict()?.get(key)
        })
    }

    fn describe(&self, path: &[String]) -> String {
        match &self.origin {
            Origin::Defaults => "built-in defaults (config/paybot.toml)".to_owned(),
            Origin::File(path) => format!("config file {}", path.display()),
            Origin::Env => match self.env_names.get(path) {
                Some(name) => format!("environment variable {name}"),
                None => format!("environment variable {}", env_name(path)),
            },
        }
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        Metadata::named(match self.origin {
            Origin::Defaults => "built-in defaults",
            Origin::File(_) => "config file",
            Origin::Env => "environment",
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.data.clone()))
    }
}

/// The environment variable that sets `path`: `PAYBOT_HTTP__ADDR`.
fn env_name(path: &[String]) -> String {
    let upper: Vec<String> = path.iter().map(|k| k.to_ascii_uppercase()).collect();
    format!("{ENV_PREFIX}{}", upper.join(ENV_LEVEL_SEPARATOR))
}

/// The layered sources of settings, each kept apart.
#[derive(Debug)]
pub struct Sources {
    layers: Vec<Layer>,
}

impl Sources {
    /// The defaults, then `config_file` (which must exist), then the
    /// `PAYBOT_*` entries among `env` (other variables are ignored).
    pub fn new<I, K, V>(config_file: Option<&Path>, env: I) -> Result<Sources, SettingsError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let defaults = parse_toml(DEFAULTS_TOML).map_err(SettingsError::DefaultsSyntax)?;
        let mut layers = vec![Layer {
            origin: Origin::Defaults,
            data: defaults,
            env_names: BTreeMap::new(),
        }];
        if let Some(path) = config_file {
            let text = std::fs::read_to_string(path).map_err(|cause| {
                SettingsError::ConfigFileUnreadable {
                    path: path.to_owned(),
                    cause,
                }
            })?;
            let data = parse_toml(&text).map_err(|message| SettingsError::ConfigFileSyntax {
                path: path.to_owned(),
                message,
            })?;
            layers.push(Layer {
                origin: Origin::File(path.to_owned()),
                data,
                env_names: BTreeMap::new(),
            });
        }
        layers.push(env_layer(env)?);
        Ok(Sources { layers })
    }

    /// Merges the layers into [`Settings`] and checks every bound.
    pub fn settings(&self) -> Result<Settings, SettingsError> {
        let figment = self
            .layers
            .iter()
            .fold(Figment::new(), |f, layer| f.merge(layer.clone()));
        let settings: Settings = figment.extract().map_err(|e| {
            SettingsError::Invalid(e.into_iter().map(|e| self.problem_of(&e)).collect())
        })?;
        let problems = self.check_bounds(&settings);
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(SettingsError::Invalid(problems))
        }
    }

    /// The layer that gave `path` its value (the last one that sets it).
    fn layer_of(&self, path: &[String]) -> Option<(&Layer, &Value)> {
        self.layers
            .iter()
            .rev()
            .find_map(|layer| layer.get(path).map(|v| (layer, v)))
    }

    fn problem(&self, path: Vec<String>, problem: String) -> Problem {
        let key = path.join(".");
        let secret = SECRET_KEYS.contains(&key.as_str());
        let (origin, value) = match self.layer_of(&path) {
            Some((layer, value)) => (
                layer.describe(&path),
                (!secret).then(|| describe_value(value)),
            ),
            None => (
                "not set in any file or environment variable".to_owned(),
                None,
            ),
        };
        Problem {
            key,
            value,
            origin,
            problem,
        }
    }

    fn problem_of(&self, error: &figment::Error) -> Problem {
        let mut path = error.path.clone();
        let secret = SECRET_KEYS.contains(&path.join(".").as_str());
        let text = match &error.kind {
            Kind::UnknownField(field, expected) => {
                // Figment's path ends with the unknown field; serde's would not.
                if path.last() != Some(field) {
                    path.push(field.clone());
                }
                let section = match path.split_last() {
                    Some((_, [])) | None => "the top level".to_owned(),
                    Some((_, section)) => format!("[{}]", section.join(".")),
                };
                format!("no such setting; {section} has: {}", expected.join(", "))
            }
            Kind::MissingField(field) => {
                if path.last().map(String::as_str) != Some(field) {
                    path.push(field.to_string());
                }
                "missing: it has no default and no value was given".to_owned()
            }
            // Type errors echo the value they found: not for secrets.
            Kind::InvalidType(_, expected) | Kind::InvalidValue(_, expected) if secret => {
                format!("expected {expected}")
            }
            kind => kind.to_string(),
        };
        self.problem(path, text)
    }

    fn check_bounds(&self, settings: &Settings) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut check = |key: &str, ok: bool, why: String| {
            if !ok {
                let path = key.split('.').map(str::to_owned).collect();
                problems.push(self.problem(path, why));
            }
        };
        let pool = settings.database.pool_connections_max;
        check(
            "database.pool_connections_max",
            POOL_CONNECTIONS_RANGE.contains(&pool),
            range_text(&POOL_CONNECTIONS_RANGE, "connections"),
        );
        let sweep = settings.ledger.sweep_interval_ms;
        check(
            "ledger.sweep_interval_ms",
            SWEEP_INTERVAL_MS_RANGE.contains(&sweep),
            range_text(&SWEEP_INTERVAL_MS_RANGE, "milliseconds"),
        );
        let grace = settings.http.shutdown_grace_secs;
        check(
            "http.shutdown_grace_secs",
            SHUTDOWN_GRACE_SECS_RANGE.contains(&grace),
            range_text(&SHUTDOWN_GRACE_SECS_RANGE, "seconds"),
        );
        let http = &settings.http;
        check(
            "http.header_read_timeout_secs",
            HEADER_READ_TIMEOUT_SECS_RANGE.contains(&http.header_read_timeout_secs),
            range_text(&HEADER_READ_TIMEOUT_SECS_RANGE, "seconds"),
        );
        check(
            "http.idle_timeout_secs",
            IDLE_TIMEOUT_SECS_RANGE.contains(&http.idle_timeout_secs),
            range_text(&IDLE_TIMEOUT_SECS_RANGE, "seconds"),
        );
        check(
            "http.request_timeout_secs",
            REQUEST_TIMEOUT_SECS_RANGE.contains(&http.request_timeout_secs),
            range_text(&REQUEST_TIMEOUT_SECS_RANGE, "seconds"),
        );
        check(
            "http.connections_max",
            CONNECTIONS_MAX_RANGE.contains(&http.connections_max),
            range_text(&CONNECTIONS_MAX_RANGE, "connections"),
        );
        if REQUESTS_IN_FLIGHT_MAX_RANGE.contains(&http.requests_in_flight_max) {
            check(
                "http.requests_in_flight_max",
                http.requests_in_flight_max < http.connections_max,
                format!(
                    "must be below http.connections_max ({})",
                    http.connections_max
                ),
            );
        } else {
            check(
                "http.requests_in_flight_max",
                false,
                range_text(&REQUESTS_IN_FLIGHT_MAX_RANGE, "requests"),
            );
        }
        let sweep = settings.bot.sweep_interval_ms;
        check(
            "bot.sweep_interval_ms",
            SWEEP_INTERVAL_MS_RANGE.contains(&sweep),
            range_text(&SWEEP_INTERVAL_MS_RANGE, "milliseconds"),
        );
        check(
            "otp.ttl_secs",
            OTP_TTL_SECS_RANGE.contains(&settings.otp.ttl_secs),
            range_text(&OTP_TTL_SECS_RANGE, "seconds"),
        );
        check(
            "otp.attempts_max",
            OTP_ATTEMPTS_RANGE.contains(&settings.otp.attempts_max),
            range_text(&OTP_ATTEMPTS_RANGE, "tries"),
        );
        if let Some(pepper) = &settings.otp.pepper {
            let len = pepper.expose_secret().len();
            check(
                "otp.pepper",
                (bot::otp::PEPPER_BYTES_MIN..=bot::otp::PEPPER_BYTES_MAX).contains(&len),
                format!(
                    "must be {} to {} bytes of text, e.g. the output of `openssl rand -hex 32`",
                    bot::otp::PEPPER_BYTES_MIN,
                    bot::otp::PEPPER_BYTES_MAX
                ),
            );
        }
        if let Some(key) = &settings.cards.fingerprint_key {
            let len = key.expose_secret().len();
            check(
                "cards.fingerprint_key",
                (bot::otp::PEPPER_BYTES_MIN..=bot::otp::PEPPER_BYTES_MAX).contains(&len),
                format!(
                    "must be {} to {} bytes of text, e.g. the output of `openssl rand -hex 32`",
                    bot::otp::PEPPER_BYTES_MIN,
                    bot::otp::PEPPER_BYTES_MAX
                ),
            );
        }
        check(
            "escrow.ttl_secs",
            ESCROW_TTL_SECS_RANGE.contains(&settings.escrow.ttl_secs),
            range_text(&ESCROW_TTL_SECS_RANGE, "seconds"),
        );
        check(
            "cards.new_card_hold_secs",
            NEW_CARD_HOLD_SECS_RANGE.contains(&settings.cards.new_card_hold_secs),
            range_text(&NEW_CARD_HOLD_SECS_RANGE, "seconds"),
        );
        let limits = &settings.limits;
        check(
            "limits.commands_burst_max",
            COMMANDS_BURST_RANGE.contains(&limits.commands_burst_max),
            range_text(&COMMANDS_BURST_RANGE, "commands"),
        );
        check(
            "limits.commands_per_minute_max",
            COMMANDS_PER_MINUTE_RANGE.contains(&limits.commands_per_minute_max),
            range_text(&COMMANDS_PER_MINUTE_RANGE, "commands a minute"),
        );
        for (key, value) in [
            (
                "limits.requests_sent_per_hour_max",
                limits.requests_sent_per_hour_max,
            ),
            (
                "limits.requests_received_per_hour_max",
                limits.requests_received_per_hour_max,
            ),
        ] {
            check(
                key,
                REQUESTS_PER_HOUR_RANGE.contains(&value),
                range_text(&REQUESTS_PER_HOUR_RANGE, "requests an hour"),
            );
        }
        let telegram = &settings.telegram;
        if let Err(e) = paybot_telegram::config::parse_api_url(&telegram.api_url) {
            check("telegram.api_url", false, e.to_string());
        }
        if let Some(url) = &telegram.webhook_url
            && let Err(e) = paybot_telegram::config::parse_webhook_url(url)
        {
            check("telegram.webhook_url", false, e.to_string());
        }
        if let Some(secret) = &telegram.webhook_secret
            && let Err(e) = paybot_telegram::WebhookSecret::parse(secret.expose_secret())
        {
            check("telegram.webhook_secret", false, e.to_string());
        }
        if let Some(token) = &telegram.token {
            if let Err(e) = paybot_telegram::Token::parse(token.expose_secret()) {
                check("telegram.token", false, e.to_string());
            }
            if telegram.mode == TelegramMode::Webhook {
                let missing = ConfigError::MissingForWebhook.to_string();
                check(
                    "telegram.webhook_url",
                    telegram.webhook_url.is_some(),
                    missing.clone(),
                );
                check(
                    "telegram.webhook_secret",
                    telegram.webhook_secret.is_some(),
                    missing,
                );
            }
        }
        let discord = &settings.discord;
        if let Err(e) = paybot_discord::config::parse_api_url(&discord.api_url) {
            check("discord.api_url", false, e.to_string());
        }
        for (key, id) in [
            ("discord.application_id", &discord.application_id),
            ("discord.guild_id", &discord.guild_id),
        ] {
            if let Some(id) = id
                && let Err(e) = paybot_discord::Snowflake::parse(&id.0)
            {
                check(key, false, e.to_string());
            }
        }
        if let Some(key) = &discord.public_key
            && let Err(e) = paybot_discord::PublicKey::parse(key)
        {
            check("discord.public_key", false, e.to_string());
        }
        if let Some(token) = &discord.token {
            if let Err(e) = paybot_discord::Token::parse(token.expose_secret()) {
                check("discord.token", false, e.to_string());
            }
            check(
                "discord.application_id",
                discord.application_id.is_some(),
                paybot_discord::ConfigError::MissingWithToken.to_string(),
            );
            if discord.mode == DiscordMode::Interactions {
                check(
                    "discord.public_key",
                    discord.public_key.is_some(),
                    paybot_discord::ConfigError::MissingForInteractions.to_string(),
                );
            }
        }
        let cards = &settings.cards;
        if let Some(url) = &cards.rail_url {
            if let Err(e) = paybot_cards::parse_rail_url(url) {
                check("cards.rail_url", false, e.to_string());
            }
            check(
                "cards.api_key",
                cards.api_key.is_some() || cards.enabled == Some(false),
                "required with cards.rail_url: set PAYBOT_CARDS__API_KEY".to_owned(),
            );
        }
        if let Some(key) = &cards.api_key
            && let Err(e) = paybot_cards::ApiKey::parse(key.expose_secret())
        {
            check("cards.api_key", false, e.to_string());
        }
        if let Err(paybot_cards::ConfigError::BadAcquirer { key, problem }) = cards.acquirer() {
            check(&format!("cards.{key}"), false, problem.to_owned());
        }
        let api_keys = settings.api.keys();
        for (i, (key, token, _)) in api_keys.iter().enumerate() {
            let Some(token) = token else { continue };
            if let Err(e) = crate::api::ApiToken::parse(token.expose_secret()) {
                check(key, false, e.to_string());
            }
            let path: Vec<String> = key.split('.').map(str::to_owned).collect();
            let from_env = self
                .layer_of(&path)
                .is_none_or(|(layer, _)| matches!(layer.origin, Origin::Env));
            check(
                key,
                from_env,
                format!(
                    "a secret: set it with the environment variable {}, never in a file",
                    env_name(&path)
                ),
            );
            let same = api_keys.iter().take(i).find(|(_, other, _)| {
                other.is_some_and(|other| other.expose_secret() == token.expose_secret())
            });
            if let Some((other, _, _)) = same {
                check(
                    key,
                    false,
                    format!("the same token as `{other}`: give each scope its own token"),
                );
            }
        }
        if let Err(mixes) = crate::deployment::Deployment::of(settings) {
            for mix in mixes {
                check(mix.key, false, mix.to_string());
            }
        }
        let filter = &settings.log.filter;
        let filter_problem = if filter.len() > LOG_FILTER_BYTES_MAX {
            Some(format!("longer than {LOG_FILTER_BYTES_MAX} bytes"))
        } else {
            tracing_subscriber::EnvFilter::try_new(filter)
                .err()
                .map(|e| format!("not a log filter ({e}); e.g. \"info\" or \"info,ledger=debug\""))
        };
        check(
            "log.filter",
            filter_problem.is_none(),
            filter_problem.unwrap_or_default(),
        );
        problems
    }
}

fn range_text<T: fmt::Display>(range: &RangeInclusive<T>, unit: &str) -> String {
    format!(
        "must be between {} and {} {unit}",
        range.start(),
        range.end()
    )
}

/// A value as the user would have written it, for error messages.
fn describe_value(value: &Value) -> String {
    match value {
        Value::String(_, s) => format!("{s:?}"),
        Value::Char(_, c) => format!("{c:?}"),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(..) => (value.to_u128().map(|n| n.to_string()))
            .or_else(|| value.to_i128().map(|n| n.to_string()))
            .or_else(|| value.to_f64().map(|n| n.to_string()))
            .unwrap_or_else(|| "a number".to_owned()),
        Value::Empty(..) => "nothing".to_owned(),
        Value::Dict(..) => "a table".to_owned(),
        Value::Array(..) => "a list".to_owned(),
    }
}

fn parse_toml(text: &str) -> Result<Dict, String> {
    let mut profiles = Toml::string(text).data().map_err(|e| e.to_string())?;
    Ok(profiles.remove(&Profile::Default).unwrap_or_default())
}

/// The `PAYBOT_*` variables as a nested table: `PAYBOT_HTTP__ADDR=x` becomes
/// `http.addr = "x"`. Values are read as figment reads environment values
/// (`8` is a number, `true` a boolean, anything else a string).
fn env_layer<I, K, V>(env: I) -> Result<Layer, SettingsError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    let mut vars: Vec<(String, String)> = Vec::new();
    for (name, value) in env {
        let Some(name) = name.as_ref().to_str() else {
            continue;
        };
        if !name.starts_with(ENV_PREFIX) {
            continue;
        }
        let value = value
            .as_ref()
            .to_str()
            .ok_or_else(|| SettingsError::EnvNotUnicode {
                name: name.to_owned(),
            })?;
        vars.push((name.to_owned(), value.to_owned()));
    }
    vars.sort();

    let mut data = Dict::new();
    let mut env_names = BTreeMap::new();
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let path: Vec<String> = rest
            .split(ENV_LEVEL_SEPARATOR)
            .map(|k| k.trim().to_ascii_lowercase())
            .collect();
        if path.iter().any(String::is_empty) {
            continue;
        }
        let value: Value = value.parse().unwrap_or_else(|never| match never {});
        insert(&mut data, &path, value);
        env_names.insert(path, name);
    }
    Ok(Layer {
        origin: Origin::Env,
        data,
        env_names,
    })
}

/// Sets `path` in `dict`, making tables on the way (a scalar in the way is
/// replaced: the deeper key is the more specific one).
fn insert(dict: &mut Dict, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            dict.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry(first.clone())
                .or_insert_with(|| Value::from(Dict::new()));
            if entry.as_dict().is_none() {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use super::*;

    const NO_ENV: [(&str, &str); 0] = [];

    fn load<const N: usize>(
        file: Option<&Path>,
        env: [(&str, &str); N],
    ) -> Result<Settings, String> {
        Sources::new(file, env)
            .and_then(|s| s.settings())
            .map_err(|e| e.to_string())
    }

    fn file_with(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn defaults_alone_are_the_documented_values() {
        let s = load(None, NO_ENV).unwrap();
        assert_eq!(s.database.url.expose(), "sqlite:data/paybot.db");
        assert_eq!(
            s.database.url.sqlite_path(),
            Some(Path::new("data/paybot.db"))
        );
        assert_eq!(s.database.sqlite_sync, SqliteSync::Full);
        assert_eq!(s.database.pool_connections_max, 8);
        assert_eq!(s.http.addr, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
        assert_eq!(s.http.shutdown_grace_secs, 10);
        assert_eq!(s.ledger.sweep_interval_ms, 1000);
        assert_eq!(s.log.filter, "info");
    }

    #[test]
    fn file_overrides_defaults_and_env_overrides_file() {
        let file = file_with(
            "[http]\naddr = \"0.0.0.0:9000\"\n[database]\npool_connections_max = 4\n\
             sqlite_sync = \"normal\"\n",
        );
        let env = [
            ("PAYBOT_HTTP__ADDR", "127.0.0.1:0"),
            ("PAYBOT_LEDGER__SWEEP_INTERVAL_MS", "250"),
            ("PATH", "/usr/bin"),
            ("NOT_PAYBOT_HTTP__ADDR", "ignored"),
        ];
        let s = load(Some(file.path()), env).unwrap();
        assert_eq!(s.http.addr, "127.0.0.1:0".parse::<SocketAddr>().unwrap());
        assert_eq!(s.ledger.sweep_interval_ms, 250);
        assert_eq!(s.database.pool_connections_max, 4);
        assert_eq!(s.database.sqlite_sync, SqliteSync::Normal);
        // Untouched keys keep their defaults.
        assert_eq!(s.http.shutdown_grace_secs, 10);
        assert_eq!(s.log.filter, "info");
    }

    #[test]
    fn bad_env_value_names_key_value_and_variable() {
        let err = load(None, [("PAYBOT_HTTP__ADDR", "notanaddr")]).unwrap_err();
        assert!(err.contains("`http.addr`"), "{err}");
        assert!(err.contains("\"notanaddr\""), "{err}");
        assert!(
            err.contains("environment variable PAYBOT_HTTP__ADDR"),
            "{err}"
        );
        assert!(err.contains("invalid socket address"), "{err}");
    }

    #[test]
    fn bad_file_value_names_the_file() {
        let file = file_with("[database]\npool_connections_max = \"many\"\n");
        let err = load(Some(file.path()), NO_ENV).unwrap_err();
        assert!(err.contains("`database.pool_connections_max`"), "{err}");
        assert!(
            err.contains(&format!("config file {}", file.path().display())),
            "{err}"
        );
        assert!(err.contains("u32"), "{err}");
    }

    #[test]
    fn unknown_key_in_file_is_named_with_the_file() {
        let file = file_with("[http]\nadr = \"127.0.0.1:1\"\n");
        let err = load(Some(file.path()), NO_ENV).unwrap_err();
        assert!(err.contains("`http.adr`"), "{err}");
        assert!(
            err.contains(&format!("config file {}", file.path().display())),
            "{err}"
        );
        assert!(err.contains("no such setting"), "{err}");
        assert!(
            err.contains("addr, shutdown_grace_secs, header_read_timeout_secs"),
            "{err}"
        );
    }

    #[test]
    fn unknown_section_and_unknown_env_key_are_errors() {
        let file = file_with("[htp]\naddr = \"127.0.0.1:1\"\n");
        let err = load(Some(file.path()), NO_ENV).unwrap_err();
        assert!(err.contains("`htp`"), "{err}");
        assert!(err.contains("the top level has"), "{err}");

        let err = load(None, [("PAYBOT_LOG__LEVEL", "debug")]).unwrap_err();
        assert!(err.contains("`log.level`"), "{err}");
        assert!(
            err.contains("environment variable PAYBOT_LOG__LEVEL"),
            "{err}"
        );
    }

    #[test]
    fn missing_config_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.toml");
        let err = load(Some(&path), NO_ENV).unwrap_err();
        assert!(err.contains(&path.display().to_string()), "{err}");
    }

    #[test]
    fn toml_syntax_error_names_the_file() {
        let file = file_with("[http\naddr = 1\n");
        let err = load(Some(file.path()), NO_ENV).unwrap_err();
        assert!(
            err.contains(&format!("config file {}", file.path().display())),
            "{err}"
        );
        assert!(err.contains("not valid TOML"), "{err}");
    }

    #[test]
    fn bounds_are_checked_with_provenance_and_all_reported() {
        let file = file_with("[database]\npool_connections_max = 0\n");
        let env = [
            ("PAYBOT_LEDGER__SWEEP_INTERVAL_MS", "5"),
            ("PAYBOT_HTTP__SHUTDOWN_GRACE_SECS", "601"),
        ];
        let err = load(Some(file.path()), env).unwrap_err();
        assert!(err.starts_with("3 invalid settings:"), "{err}");
        assert!(
            err.contains(&format!(
                "setting `database.pool_connections_max` = 0 (from config file {}): \
                 must be between 1 and 256 connections",
                file.path().display()
            )),
            "{err}"
        );
        assert!(
            err.contains(
                "setting `ledger.sweep_interval_ms` = 5 (from environment variable \
                 PAYBOT_LEDGER__SWEEP_INTERVAL_MS): must be between 10 and 60000 milliseconds"
            ),
            "{err}"
        );
        assert!(err.contains("`http.shutdown_grace_secs` = 601"), "{err}");

        // The edges are allowed.
        let env = [
            ("PAYBOT_DATABASE__POOL_CONNECTIONS_MAX", "256"),
            ("PAYBOT_LEDGER__SWEEP_INTERVAL_MS", "10"),
            ("PAYBOT_HTTP__SHUTDOWN_GRACE_SECS", "0"),
        ];
        load(None, env).unwrap();
    }

    #[test]
    fn negative_and_huge_numbers_are_refused() {
        let err = load(None, [("PAYBOT_DATABASE__POOL_CONNECTIONS_MAX", "-1")]).unwrap_err();
        assert!(
            err.contains("`database.pool_connections_max` = -1"),
            "{err}"
        );
        let err = load(
            None,
            [("PAYBOT_DATABASE__POOL_CONNECTIONS_MAX", "99999999999")],
        )
        .unwrap_err();
        assert!(err.contains("`database.pool_connections_max`"), "{err}");
    }

    #[test]
    fn bad_enum_names_the_choices() {
        let err = load(None, [("PAYBOT_DATABASE__SQLITE_SYNC", "sometimes")]).unwrap_err();
        assert!(
            err.contains("`database.sqlite_sync` = \"sometimes\""),
            "{err}"
        );
        assert!(err.contains("`full`"), "{err}");
        assert!(err.contains("`normal`"), "{err}");
    }

    #[test]
    fn bad_log_filter_is_refused_at_load() {
        let err = load(None, [("PAYBOT_LOG__FILTER", "info,[[[")]).unwrap_err();
        assert!(err.contains("`log.filter`"), "{err}");
        assert!(err.contains("PAYBOT_LOG__FILTER"), "{err}");
    }

    #[test]
    fn cashout_fee_percent_from_the_environment_is_exact() {
        // figment reads `1.5` from the environment as a float.
        let s = load(None, [("PAYBOT_CARDS__CASHOUT_FEE_PERCENT", "1.5")]).unwrap();
        assert_eq!(s.cards.cashout_fee_percent, PercentSetting(150));
        let s = load(None, [("PAYBOT_CARDS__CASHOUT_FEE_PERCENT", "2")]).unwrap();
        assert_eq!(s.cards.cashout_fee_percent, PercentSetting(200));
        for refused in ["1.505", "101", "-1", "1e-7", "one"] {
            let err = load(None, [("PAYBOT_CARDS__CASHOUT_FEE_PERCENT", refused)]).unwrap_err();
            assert!(
                err.contains("`cards.cashout_fee_percent`"),
                "{refused}: {err}"
            );
        }
    }

    #[test]
    fn acquirer_fields_are_settings_checked_at_load() {
        let s = load(None, NO_ENV).unwrap();
        assert_eq!(s.cards.acquirer().unwrap().bin(), "408999");
        let s = load(None, [("PAYBOT_CARDS__ACQUIRING_BIN", "41234567")]).unwrap();
        assert_eq!(s.cards.acquirer().unwrap().bin(), "41234567");
        for (var, value, key) in [
            (
                "PAYBOT_CARDS__ACQUIRING_BIN",
                "40a999",
                "`cards.acquiring_bin`",
            ),
            (
                "PAYBOT_CARDS__ACQUIRER_COUNTRY_CODE",
                "US",
                "`cards.acquirer_country_code`",
            ),
            (
                "PAYBOT_CARDS__TERMINAL_ID",
                "TOO-LONG-ID",
                "`cards.terminal_id`",
            ),
            ("PAYBOT_CARDS__COUNTRY", "usa", "`cards.country`"),
        ] {
            let err = load(None, [(var, value)]).unwrap_err();
            assert!(err.contains(key), "{var}={value}: {err}");
        }
    }

    #[test]
    fn database_url_is_secret_in_debug_logs_and_errors() {
        let url = "postgres://paybot:hunter2@db.example:5432/paybot?password=hunter2";
        let s = load(None, [("PAYBOT_DATABASE__URL", url)]).unwrap();
        assert_eq!(s.database.url.expose(), url);
        assert_eq!(
            s.database.url.redacted(),
            "postgres://db.example:5432/paybot"
        );
        assert_eq!(s.database.url.sqlite_path(), None);
        let debug = format!("{s:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("db.example"), "{debug}");

        let err = load(
            None,
            [("PAYBOT_DATABASE__URL", "mysql://root:hunter2@db/x")],
        )
        .unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("`database.url` (from environment variable PAYBOT_DATABASE__URL)"));
        assert!(err.contains("unsupported database URL"), "{err}");
    }

    #[test]
    fn api_token_is_off_by_default_checked_and_never_echoed() {
        let s = load(None, NO_ENV).unwrap();
        assert!(s.api.tokens().unwrap().is_none());

        let short = "hunter2hunter2";
        let err = load(None, [("PAYBOT_API__TOKEN", short)]).unwrap_err();
        assert!(err.contains("`api.token`"), "{err}");
        assert!(err.contains("PAYBOT_API__TOKEN"), "{err}");
        assert!(err.contains("32 to 256 bytes"), "{err}");
        assert!(!err.contains(short), "{err}");

        let token = "k".repeat(40);
        let s = load(None, [("PAYBOT_API__TOKEN", token.as_str())]).unwrap();
        let tokens = s.api.tokens().unwrap().unwrap();
        assert_eq!(
            tokens.scope_of(token.as_bytes()),
            Some(crate::api::Scope::Issuance)
        );
        assert!(!format!("{s:?}").contains(&token));
    }

    #[test]
    fn api_tokens_have_scopes_come_from_the_environment_only_and_differ() {
        let (read, transfer) = ("r".repeat(40), "t".repeat(40));
        let s = load(
            None,
            [
                ("PAYBOT_API__READ_TOKEN", read.as_str()),
                ("PAYBOT_API__TRANSFER_TOKEN", transfer.as_str()),
            ],
        )
        .unwrap();
        let tokens = s.api.tokens().unwrap().unwrap();
        assert_eq!(
            tokens.scope_of(read.as_bytes()),
            Some(crate::api::Scope::Read)
        );
        assert_eq!(
            tokens.scope_of(transfer.as_bytes()),
            Some(crate::api::Scope::Transfer)
        );
        assert_eq!(tokens.scope_of(b"nope"), None);

        let file = file_with(&format!("[api]\nissuance_token = \"{read}\"\n"));
        let err = load(Some(file.path()), NO_ENV).unwrap_err();
        assert!(err.contains("`api.issuance_token`"), "{err}");
        assert!(
            err.contains("PAYBOT_API__ISSUANCE_TOKEN, never in a file"),
            "{err}"
        );
        assert!(!err.contains(&read), "{err}");

        let err = load(
            None,
            [
                ("PAYBOT_API__READ_TOKEN", read.as_str()),
                ("PAYBOT_API__ISSUANCE_TOKEN", read.as_str()),
            ],
        )
        .unwrap_err();
        assert!(err.contains("the same token as `api.read_token`"), "{err}");
        assert!(!err.contains(&read), "{err}");
    }

    #[test]
    fn http_limits_are_bounded() {
        let s = load(None, NO_ENV).unwrap();
        assert!(s.http.requests_in_flight_max < s.http.connections_max);
        let err = load(
            None,
            [
                ("PAYBOT_HTTP__HEADER_READ_TIMEOUT_SECS", "0"),
                ("PAYBOT_HTTP__CONNECTIONS_MAX", "64"),
                ("PAYBOT_HTTP__REQUESTS_IN_FLIGHT_MAX", "64"),
            ],
        )
        .unwrap_err();
        assert!(err.contains("`http.header_read_timeout_secs` = 0"), "{err}");
        assert!(
            err.contains(
                "`http.requests_in_flight_max` = 64 (from environment variable \
                 PAYBOT_HTTP__REQUESTS_IN_FLIGHT_MAX): must be below http.connections_max (64)"
            ),
            "{err}"
        );
    }

    #[test]
    fn redacted_forms() {
        let redact = |url: &str| DatabaseUrl::parse(url.to_owned()).unwrap().redacted();
        assert_eq!(redact("sqlite:data/paybot.db"), "sqlite:data/paybot.db");
        assert_eq!(redact("sqlite://data/p.db?mode=rwc"), "sqlite://data/p.db");
        assert_eq!(redact("postgresql://u@h/d"), "postgresql://h/d");
        assert_eq!(redact("postgres://h:5432/d"), "postgres://h:5432/d");
        assert_eq!(redact("postgres://u:p@ss@h/d"), "postgres://h/d");
        assert!(DatabaseUrl::parse("sqlite:".to_owned()).is_err());
        assert!(DatabaseUrl::parse("sqlite::memory:".to_owned()).is_err());
    }
}
