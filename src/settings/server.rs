//! The server's sections: `[database]`, `[http]`, `[ledger]`, `[log]`,
//! `[api]` and `[deployment]`, each value parsed into its type as it is
//! read.
//!
//! The one decision to know: values that may hold a secret (the database
//! URL, the API tokens) are secret types from the moment they are read;
//! their Debug shows no secret, and a refused one is never echoed.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

use super::bounds::{
    Connections, HeaderReadTimeout, IdleTimeout, LOG_FILTER_BYTES_MAX, PoolConnections,
    RequestTimeout, RequestsInFlight, ShutdownGrace, SweepInterval, within,
};
use crate::api::{ApiToken, ApiTokens, Grant, Scope};

/// `[database]`: where the ledger lives.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    pub sqlite_sync: SqliteSync,
    #[serde(deserialize_with = "within::<_, PoolConnections>")]
    pub pool_connections_max: u32,
}

/// `[http]`: the server for health checks and webhooks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub addr: SocketAddr,
    #[serde(deserialize_with = "within::<_, ShutdownGrace>")]
    pub shutdown_grace_secs: u64,
    /// From a request's first byte to the end of its headers, in seconds.
    #[serde(deserialize_with = "within::<_, HeaderReadTimeout>")]
    pub header_read_timeout_secs: u64,
    /// How long a connection may wait for its next request, in seconds.
    #[serde(deserialize_with = "within::<_, IdleTimeout>")]
    pub idle_timeout_secs: u64,
    /// From a request's headers to its answer, body read included, in
    /// seconds.
    #[serde(deserialize_with = "within::<_, RequestTimeout>")]
    pub request_timeout_secs: u64,
    /// Open connections; at the bound the oldest idle one is closed.
    #[serde(deserialize_with = "within::<_, Connections>")]
    pub connections_max: usize,
    /// Requests being answered at once; more are answered 503 at once.
    /// Below `connections_max` (checked when the settings are loaded).
    #[serde(deserialize_with = "within::<_, RequestsInFlight>")]
    pub requests_in_flight_max: usize,
}

/// `[ledger]`: the ledger's background work.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerSettings {
    #[serde(deserialize_with = "within::<_, SweepInterval>")]
    pub sweep_interval_ms: u64,
}

/// `[log]`: what is logged.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// A `tracing_subscriber::EnvFilter` directive, checked as it is read.
    #[serde(deserialize_with = "log_filter")]
    pub filter: String,
}

fn log_filter<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let filter = String::deserialize(deserializer)?;
    if filter.len() > LOG_FILTER_BYTES_MAX {
        return Err(serde::de::Error::custom(format!(
            "longer than {LOG_FILTER_BYTES_MAX} bytes"
        )));
    }
    match tracing_subscriber::EnvFilter::try_new(&filter) {
        Ok(_) => Ok(filter),
        Err(e) => Err(serde::de::Error::custom(format!(
            "not a log filter ({e}); e.g. \"info\" or \"info,ledger=debug\""
        ))),
    }
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
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let url = String::deserialize(deserializer)?;
        DatabaseUrl::parse(url).map_err(serde::de::Error::custom)
    }
}

/// `[api]`: the ledger HTTP API under `/api/v1`, served by `paybot serve`
/// only when a token is set. Every token is a secret, from the environment
/// only (`PAYBOT_API__READ_TOKEN`, ...; checked when the settings are
/// loaded, as is that each scope has its own token).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// Full access, the same as `issuance_token` (the one token there was
    /// before scopes).
    #[serde(default)]
    pub token: Option<ApiTokenSetting>,
    /// Scope `read`: the GET routes.
    #[serde(default)]
    pub read_token: Option<ApiTokenSetting>,
    /// Scope `transfer`: also opening wallets and transfers between user
    /// wallets.
    #[serde(default)]
    pub transfer_token: Option<ApiTokenSetting>,
    /// Scope `issuance`: everything, transfers touching system accounts too.
    #[serde(default)]
    pub issuance_token: Option<ApiTokenSetting>,
    /// Scope `operator`: the operator's routes (`/api/v1/admin/...`) and
    /// nothing of the ledger's; a ledger token reaches none of them.
    #[serde(default)]
    pub operator_token: Option<ApiTokenSetting>,
    /// Who the operator token acts as in the audit log (`operator:NAME`).
    #[serde(deserialize_with = "crate::settings::trust::actor_name")]
    pub operator_name: bot::trust::operator::ActorName,
}

impl ApiSettings {
    /// Each token key, its value and what it grants.
    pub fn keys(&self) -> [(&'static str, Option<&ApiTokenSetting>, Grant); 5] {
        [
            ("api.token", self.token.as_ref(), Scope::Issuance.into()),
            (
                "api.read_token",
                self.read_token.as_ref(),
                Scope::Read.into(),
            ),
            (
                "api.transfer_token",
                self.transfer_token.as_ref(),
                Scope::Transfer.into(),
            ),
            (
                "api.issuance_token",
                self.issuance_token.as_ref(),
                Scope::Issuance.into(),
            ),
            (
                "api.operator_token",
                self.operator_token.as_ref(),
                Grant::Operator,
            ),
        ]
    }

    /// The tokens with their scopes; `None` when none is set (the API is
    /// off). Each was parsed as it was read.
    pub fn tokens(&self) -> Option<ApiTokens> {
        let tokens = self
            .keys()
            .into_iter()
            .filter_map(|(_, token, scope)| Some((token?.token.clone(), scope)))
            .collect();
        ApiTokens::new(tokens)
    }
}

/// An API token as read: the parsed token, and its text, kept secret only
/// to tell two settings holding the same token apart.
#[derive(Clone)]
pub struct ApiTokenSetting {
    token: ApiToken,
    text: SecretString,
}

impl ApiTokenSetting {
    /// The parsed token (only its digest).
    pub fn token(&self) -> &ApiToken {
        &self.token
    }

    /// Whether `other` is the same token.
    pub fn same_as(&self, other: &ApiTokenSetting) -> bool {
        self.token.matches(other.text.expose_secret().as_bytes())
    }
}

impl fmt::Debug for ApiTokenSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken([REDACTED])")
    }
}

impl<'de> Deserialize<'de> for ApiTokenSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = SecretString::deserialize(deserializer)?;
        let token = ApiToken::parse(text.expose_secret()).map_err(serde::de::Error::custom)?;
        Ok(ApiTokenSetting { token, text })
    }
}

/// `[metrics]`: `/metrics` for an operator's Prometheus (see
/// [`crate::metrics`]). Off unless set: on the main listener only behind a
/// token (`metrics.token`, or `api.operator_token`), and on a listener of
/// its own when `listen` is set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// The metrics listener's address (only `/metrics` there); none: off.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// The scrape token: reaches `/metrics` and nothing else. A secret,
    /// from the environment only (`PAYBOT_METRICS__TOKEN`).
    #[serde(default)]
    pub token: Option<ApiTokenSetting>,
}

impl MetricsSettings {
    /// The tokens `/metrics` answers on the main listener: the scrape
    /// token and the operator's (whose holder sees more already). Empty:
    /// `/metrics` is not served there.
    pub fn main_listener_tokens(&self, api: &ApiSettings) -> Vec<ApiToken> {
        [self.token.as_ref(), api.operator_token.as_ref()]
            .into_iter()
            .flatten()
            .map(|setting| setting.token().clone())
            .collect()
    }

    /// The tokens `/metrics` answers on its own listener: the scrape token
    /// when set; empty (anyone who reaches the address) otherwise.
    pub fn own_listener_tokens(&self) -> Vec<ApiToken> {
        self.token.iter().map(|s| s.token().clone()).collect()
    }
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
