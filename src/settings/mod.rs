//! Settings: plain data, loaded once at start and passed in.
//!
//! Three layers, each overriding the one before, merged by figment's own
//! providers: the defaults in `config/paybot.toml` (compiled into the
//! binary, so `paybot` runs from any directory), the file named by
//! `--config`, and `PAYBOT_*` environment variables with `__` between levels
//! (`PAYBOT_HTTP__ADDR`).
//!
//! The one design decision to know: **a value is parsed once, where it is
//! read**. Each section deserializes straight into its types (the adapters'
//! own for `[telegram]`, `[discord]` and the card rail, bounded numbers,
//! secret types), so what the wiring receives needs no second parse. A
//! problem is reported with the key, what is wrong, and the file or
//! environment variable the value came from, found in figment's metadata.
//! So that every problem is reported at once rather than the first, a
//! refused value is replaced by its default (or removed) and the rest read
//! again; the rules that tie keys together are then checked on what was
//! read, skipping those that read a replaced value.

mod bounds;
mod core;
mod server;
#[cfg(test)]
pub(crate) mod tests;
pub mod trust;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use figment::error::Kind;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};
use paybot_discord::config::DiscordSettings;
use paybot_telegram::config::TelegramSettings;
use serde::Deserialize;

pub use bounds::{
    CASH_SETTLE_TTL_SECS_RANGE, COMMANDS_BURST_RANGE, COMMANDS_PER_MINUTE_RANGE,
    CONNECTIONS_MAX_RANGE, ESCROW_TTL_SECS_RANGE, HEADER_READ_TIMEOUT_SECS_RANGE,
    IDLE_TIMEOUT_SECS_RANGE, LATE_GRACE_SECS_RANGE, LOG_FILTER_BYTES_MAX, NOTICE_BEFORE_SECS_RANGE,
    OTP_ATTEMPTS_RANGE, OTP_TTL_SECS_RANGE, POOL_CONNECTIONS_RANGE, REQUEST_TIMEOUT_SECS_RANGE,
    REQUEST_TTL_SECS_RANGE, REQUESTS_IN_FLIGHT_MAX_RANGE, REQUESTS_PER_HOUR_RANGE,
    SHUTDOWN_GRACE_SECS_RANGE, SWEEP_INTERVAL_MS_RANGE, UNDO_WINDOW_SECS_RANGE,
    VERIFICATION_TOLERANCE_SECS_RANGE,
};
pub use core::{
    AmountOrZeroSetting, AmountSetting, BotSettings, CardsSettings, CurrencySetting,
    EscrowSettings, LimitsSettings, MockSettings, OtpSettings, PercentSetting, ScheduledSettings,
    TimeOfDaySetting, TimeZoneSetting,
};
pub use server::{
    ApiSettings, ApiTokenSetting, DatabaseKind, DatabaseSettings, DatabaseUrl, DeploymentSettings,
    HttpSettings, LedgerSettings, LogSettings, MetricsSettings, SqliteSync,
};

/// The documented defaults, compiled in as the base layer.
pub const DEFAULTS_TOML: &str = include_str!("../../config/paybot.toml");
/// Environment variables with this prefix are settings.
pub const ENV_PREFIX: &str = "PAYBOT_";
/// Separates levels in an environment variable's name: `PAYBOT_HTTP__ADDR`.
pub const ENV_LEVEL_SEPARATOR: &str = "__";
/// The most problems one load reports (each refused value is read again
/// without it, at most this many times).
pub const SETTINGS_PROBLEMS_MAX: usize = 64;

/// Keys whose values are secrets: never echoed in an error message.
const SECRET_KEYS: &[&str] = &[
    "database.url",
    "otp.pepper",
    "telegram.token",
    "telegram.webhook_secret",
    "discord.token",
    "cards.api_key",
    "cards.fingerprint_key",
    "trust.second_factor.key",
    "api.token",
    "api.read_token",
    "api.transfer_token",
    "api.issuance_token",
    "api.operator_token",
    "metrics.token",
    "trust.verification.secret",
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
    pub scheduled: ScheduledSettings,
    pub mock: MockSettings,
    pub telegram: TelegramSettings,
    pub discord: DiscordSettings,
    pub cards: CardsSettings,
    pub api: ApiSettings,
    pub metrics: MetricsSettings,
    pub deployment: DeploymentSettings,
    pub limits: LimitsSettings,
    pub trust: trust::TrustSettings,
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

/// The settings from the defaults, `config_file` (which must exist) and
/// this process's `PAYBOT_*` environment variables.
pub fn load(config_file: Option<&Path>) -> Result<Settings, SettingsError> {
    // figment reads the environment lossily; a value that is not UTF-8 is
    // refused instead.
    for (name, value) in std::env::vars_os() {
        if let Some(name) = name.to_str()
            && name.starts_with(ENV_PREFIX)
            && value.to_str().is_none()
        {
            return Err(SettingsError::EnvNotUnicode {
                name: name.to_owned(),
            });
        }
    }
    read(&layers(config_file, env())?)
}

/// The settings from the defaults and `toml`, the text of a settings file,
/// without the environment: for tests and tools that carry their own
/// settings (a conversation script's `#!` lines).
pub fn from_toml(toml: &str) -> Result<Settings, SettingsError> {
    let layer = Toml::string(toml);
    layer.data().map_err(|e| SettingsError::ConfigFileSyntax {
        path: PathBuf::from("(settings text)"),
        message: e.to_string(),
    })?;
    let defaults = Toml::string(DEFAULTS_TOML);
    defaults
        .data()
        .map_err(|e| SettingsError::DefaultsSyntax(e.to_string()))?;
    read(&Figment::from(defaults).merge(layer))
}

/// The `PAYBOT_*` environment variables, `__` between levels.
fn env() -> Env {
    Env::prefixed(ENV_PREFIX).split(ENV_LEVEL_SEPARATOR)
}

/// The three layers, merged: the defaults, `config_file`, `env`. The file is
/// read here once so that a missing or malformed one is its own error
/// (figment would skip a missing file).
fn layers(config_file: Option<&Path>, env: Env) -> Result<Figment, SettingsError> {
    let defaults = Toml::string(DEFAULTS_TOML);
    defaults
        .data()
        .map_err(|e| SettingsError::DefaultsSyntax(e.to_string()))?;
    let mut figment = Figment::from(defaults);
    if let Some(path) = config_file {
        std::fs::File::open(path).map_err(|cause| SettingsError::ConfigFileUnreadable {
            path: path.to_owned(),
            cause,
        })?;
        let file = Toml::file_exact(path);
        file.data().map_err(|e| SettingsError::ConfigFileSyntax {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        figment = figment.merge(file);
    }
    Ok(figment.merge(env))
}

/// Reads [`Settings`] from the merged layers, reporting every problem.
fn read(figment: &Figment) -> Result<Settings, SettingsError> {
    let reader = Reader {
        figment,
        defaults: Figment::from(Toml::string(DEFAULTS_TOML)),
        env_name: env().metadata().name,
    };
    let mut data = Provider::data(figment)
        .map_err(|errors| {
            let problems = reader.problems_of(errors).into_iter();
            SettingsError::Invalid(problems.map(|(_, problem)| problem).collect())
        })?
        .remove(&Profile::Default)
        .unwrap_or_default();
    let mut problems = Vec::new();
    let mut replaced = BTreeSet::new();
    let settings = loop {
        let errors = match Figment::from(Serialized::defaults(&data)).extract::<Settings>() {
            Ok(settings) => break Some(settings),
            Err(errors) => errors,
        };
        let mut progress = false;
        for (path, problem) in reader.problems_of(errors) {
            let key = path.join(".");
            if path.is_empty() {
                problems.push(problem);
            } else if replaced.insert(key.clone()) {
                problems.push(problem);
                let default = reader.defaults.find_value(&key).ok();
                progress |= replace(&mut data, &path, default);
            }
        }
        if !progress || problems.len() >= SETTINGS_PROBLEMS_MAX {
            break None;
        }
    };
    if let Some(settings) = &settings {
        let untouched = |keys: &[&str]| {
            !keys.iter().any(|key| {
                replaced.iter().any(|r| {
                    key == r
                        || key.starts_with(&format!("{r}."))
                        || r.starts_with(&format!("{key}."))
                })
            })
        };
        problems.extend(reader.across(settings, untouched));
    }
    match settings {
        Some(settings) if problems.is_empty() => Ok(settings),
        _ => Err(SettingsError::Invalid(problems)),
    }
}

/// Sets (or, with no value, removes) `path` in `dict`; whether that
/// changed anything.
fn replace(dict: &mut Dict, path: &[String], value: Option<Value>) -> bool {
    match path {
        [] => false,
        [last] => match value {
            Some(value) => dict.insert(last.clone(), value.clone()).as_ref() != Some(&value),
            None => dict.remove(last).is_some(),
        },
        [first, rest @ ..] => match dict.get_mut(first) {
            Some(Value::Dict(_, inner)) => replace(inner, rest, value),
            _ => false,
        },
    }
}

/// Reads problems against the merged layers, for their provenance.
struct Reader<'a> {
    figment: &'a Figment,
    defaults: Figment,
    /// The name figment gives the environment's metadata.
    env_name: std::borrow::Cow<'static, str>,
}

impl Reader<'_> {
    /// Figment's errors as problems, each with its key's path (empty when
    /// the error is about no key).
    fn problems_of(&self, errors: figment::Error) -> Vec<(Vec<String>, Problem)> {
        errors.into_iter().map(|e| self.problem_of(&e)).collect()
    }

    fn problem_of(&self, error: &figment::Error) -> (Vec<String>, Problem) {
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
        let problem = self.problem(&path.join("."), text);
        (path, problem)
    }

    /// The problem `problem` with `key`, its value (unless secret) and where
    /// it came from.
    fn problem(&self, key: &str, problem: String) -> Problem {
        let secret = SECRET_KEYS.contains(&key);
        let found = self.figment.find_value(key).ok();
        let origin = match self.figment.find_metadata(key) {
            Some(metadata) if found.is_some() => self.origin(metadata, key),
            _ => "not set in any file or environment variable".to_owned(),
        };
        Problem {
            key: key.to_owned(),
            value: found
                .filter(|_| !secret)
                .map(|value| describe_value(&value)),
            origin,
            problem,
        }
    }

    /// `config file PATH`, `environment variable NAME` or the defaults.
    fn origin(&self, metadata: &Metadata, key: &str) -> String {
        match &metadata.source {
            Some(Source::File(path)) => format!("config file {}", path.display()),
            _ if metadata.name == self.env_name => {
                format!("environment variable {}", env_name(key))
            }
            _ => "built-in defaults (config/paybot.toml)".to_owned(),
        }
    }

    /// The rules that tie keys together, on settings each of whose values
    /// is already parsed; a rule reading a replaced value is skipped.
    fn across(&self, settings: &Settings, untouched: impl Fn(&[&str]) -> bool) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut check = |keys: &[&str], key: &str, ok: bool, why: String| {
            if !ok && untouched(keys) {
                problems.push(self.problem(key, why));
            }
        };
        let http = &settings.http;
        check(
            &["http.requests_in_flight_max", "http.connections_max"],
            "http.requests_in_flight_max",
            http.requests_in_flight_max < http.connections_max,
            format!(
                "must be below http.connections_max ({})",
                http.connections_max
            ),
        );
        for (key, e) in settings.telegram.missing() {
            check(
                &["telegram"],
                &format!("telegram.{key}"),
                false,
                e.to_string(),
            );
        }
        for (key, e) in settings.discord.missing() {
            check(
                &["discord"],
                &format!("discord.{key}"),
                false,
                e.to_string(),
            );
        }
        let sanctions = &settings.trust.sanctions;
        check(
            &[
                "trust.sanctions.threshold",
                "trust.sanctions.weak_threshold",
            ],
            "trust.sanctions.weak_threshold",
            sanctions.weak_threshold >= sanctions.threshold,
            format!(
                "must be at least trust.sanctions.threshold ({})",
                sanctions.threshold.get()
            ),
        );
        let cards = &settings.cards;
        check(
            &["cards.rail_url", "cards.api_key", "cards.enabled"],
            "cards.api_key",
            cards.rail_url.is_none() || cards.api_key.is_some() || cards.enabled == Some(false),
            "required with cards.rail_url: set PAYBOT_CARDS__API_KEY".to_owned(),
        );
        let api_keys = settings.api.keys();
        for (i, (key, token, _)) in api_keys.iter().enumerate() {
            let Some(token) = token else { continue };
            let from_env = self
                .figment
                .find_metadata(key)
                .is_none_or(|metadata| metadata.name == self.env_name);
            check(
                &["api"],
                key,
                from_env,
                format!(
                    "a secret: set it with the environment variable {}, never in a file",
                    env_name(key)
                ),
            );
            let same = api_keys
                .iter()
                .take(i)
                .find(|(_, other, _)| other.is_some_and(|other| other.same_as(token)));
            if let Some((other, _, _)) = same {
                check(
                    &["api"],
                    key,
                    false,
                    format!("the same token as `{other}`: give each scope its own token"),
                );
            }
        }
        if let Some(token) = &settings.metrics.token {
            let key = "metrics.token";
            let from_env = self
                .figment
                .find_metadata(key)
                .is_none_or(|metadata| metadata.name == self.env_name);
            check(
                &[key],
                key,
                from_env,
                format!(
                    "a secret: set it with the environment variable {}, never in a file",
                    env_name(key)
                ),
            );
            let same = api_keys
                .iter()
                .find(|(_, other, _)| other.is_some_and(|other| other.same_as(token)));
            if let Some((other, _, _)) = same {
                check(
                    &[key, "api"],
                    key,
                    false,
                    format!("the same token as `{other}`: give scraping its own token"),
                );
            }
        }
        if let Some(listen) = settings.metrics.listen {
            check(
                &["metrics.listen", "http.addr"],
                "metrics.listen",
                listen != settings.http.addr || listen.port() == 0,
                "must differ from http.addr (the main listener serves /metrics behind a token)"
                    .to_owned(),
            );
        }
        let secret_key = "trust.verification.secret";
        if settings.trust.verification.secret.is_some() {
            let from_env = self
                .figment
                .find_metadata(secret_key)
                .is_none_or(|metadata| metadata.name == self.env_name);
            check(
                &[secret_key],
                secret_key,
                from_env,
                format!(
                    "a secret: set it with the environment variable {}, never in a file",
                    env_name(secret_key)
                ),
            );
        }
        let trust = &settings.trust;
        check(
            &["trust.default_tier", "trust.limits"],
            "trust.default_tier",
            trust.default_tier <= trust.policy().highest_tier(),
            format!(
                "must be one of the tiers of trust.limits.tiers (0 to {})",
                trust.policy().highest_tier()
            ),
        );
        if let Err(mixes) = crate::deployment::Deployment::of(settings) {
            let read = [
                "telegram.token",
                "discord.token",
                "api",
                "cards.rail_url",
                "cards.enabled",
                "mock.enabled",
                "deployment",
            ];
            for mix in mixes {
                check(&read, mix.key, false, mix.to_string());
            }
        }
        problems
    }
}

/// The environment variable that sets `key`: `PAYBOT_HTTP__ADDR`.
fn env_name(key: &str) -> String {
    let upper: Vec<String> = key.split('.').map(str::to_ascii_uppercase).collect();
    format!("{ENV_PREFIX}{}", upper.join(ENV_LEVEL_SEPARATOR))
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
