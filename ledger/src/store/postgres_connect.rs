//! How paybot connects to PostgreSQL: sqlx's options for a url, with a
//! decision of our own about TLS, and for a pool, with one about checking
//! idle connections.
//!
//! The decision to know: a server on this machine (a loopback address, or
//! `localhost`) is reached without TLS unless the url or `PGSSLMODE` names
//! an `sslmode`. sqlx's default, like libpq's, is `prefer`: TLS whenever
//! the server offers it, its certificate unchecked. On loopback that
//! protects nothing (what it would hide never leaves the machine, and
//! `prefer` would accept whoever holds the port) and costs CPU on both
//! sides of every statement: on the project's 2-core benchmark machine
//! about an eighth of the CPU a chat payment takes (`bench/HISTORY.md`,
//! the round of 5c339ca). Another machine keeps sqlx's default, and the ledger
//! warns that its certificate is not checked.
//!
//! A pool hands out a connection that was idle a moment ago as it is; one
//! idle for longer than [`POOL_PING_AFTER_IDLE_MS`] is pinged first (a
//! round trip), so that one the server ended meanwhile (a restart, an
//! idle timeout on the way) is replaced, not given to a statement to fail.
//! sqlx's default pings every connection it hands out: under load, a
//! round trip per read that found nothing, about a twentieth of a chat
//! payment's CPU on the benchmark machine (the same round). Single
//! statements now keep their connections between them
//! (`statement_pool.rs`), and ping those idle as long themselves.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};

use crate::POOL_ACQUIRE_TIMEOUT_SECS;
use crate::types::{LedgerError, StorageError};

/// How long a pooled PostgreSQL connection may have been idle and still be
/// handed out without a ping (see the module's docs).
pub const POOL_PING_AFTER_IDLE_MS: u64 = 1_000;

/// A PostgreSQL pool's options as paybot keeps them, for every pool it
/// opens: [`POOL_ACQUIRE_TIMEOUT_SECS`] to wait for a connection, and a
/// connection idle for longer than [`POOL_PING_AFTER_IDLE_MS`] pinged
/// before it is handed out (one that does not answer is closed and another
/// taken). The caller sets the size.
pub fn postgres_pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(POOL_ACQUIRE_TIMEOUT_SECS))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > Duration::from_millis(POOL_PING_AFTER_IDLE_MS) {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// What [`postgres_options`] made of a url, as far as TLS goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostgresTls {
    /// The url or `PGSSLMODE` names an `sslmode`: used as named.
    AsAsked,
    /// A Unix socket, where PostgreSQL offers no TLS.
    Socket,
    /// A server on this machine, no `sslmode` named: no TLS.
    OffOnThisMachine,
    /// Another machine (or an address given apart from the host name, by
    /// `hostaddr` or `PGHOSTADDR`), no `sslmode` named: sqlx's `prefer`,
    /// encrypted when the server offers TLS, its certificate unchecked.
    Unverified,
}

/// sqlx's options for the PostgreSQL `url`, with TLS off for a server on
/// this machine unless the url or `PGSSLMODE` names an `sslmode` (see the
/// module's docs), and what was decided.
///
/// # Errors
/// [`LedgerError::Storage`]: the url is not one sqlx can use.
pub fn postgres_options(url: &str) -> Result<(PgConnectOptions, PostgresTls), LedgerError> {
    options_with(url, |name| std::env::var_os(name).is_some())
        .map_err(|e| LedgerError::Storage(StorageError::new(e)))
}

/// [`postgres_options`] with the environment's variables seen through
/// `is_set`.
fn options_with(
    url: &str,
    is_set: impl Fn(&str) -> bool,
) -> Result<(PgConnectOptions, PostgresTls), sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?;
    let parsed = url::Url::parse(url).map_err(|e| sqlx::Error::Configuration(Box::new(e)))?;
    let names = |keys: &[&str]| {
        parsed
            .query_pairs()
            .any(|(key, _)| keys.contains(&key.as_ref()))
    };
    if names(&["sslmode", "ssl-mode"]) || is_set("PGSSLMODE") {
        return Ok((options, PostgresTls::AsAsked));
    }
    if options.get_socket().is_some() || options.get_host().starts_with('/') {
        return Ok((options, PostgresTls::Socket));
    }
    if names(&["hostaddr"]) || is_set("PGHOSTADDR") || !on_this_machine(options.get_host()) {
        return Ok((options, PostgresTls::Unverified));
    }
    Ok((
        options.ssl_mode(PgSslMode::Disable),
        PostgresTls::OffOnThisMachine,
    ))
}

/// `localhost`, or a loopback address (`127.0.0.0/8`, `::1`, bracketed or
/// not).
fn on_this_machine(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.eq_ignore_ascii_case("localhost")
        || IpAddr::from_str(bare).is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sslmode (sqlx's `PgSslMode` compares only through `Debug`) and
    /// the decision, for `url` with no environment variable set.
    fn decided(url: &str) -> (String, PostgresTls) {
        decided_with(url, &[])
    }

    fn decided_with(url: &str, set: &[&str]) -> (String, PostgresTls) {
        let (options, tls) = options_with(url, |name| set.contains(&name)).unwrap();
        (format!("{:?}", options.get_ssl_mode()), tls)
    }

    fn mode(mode: PgSslMode) -> String {
        format!("{mode:?}")
    }

    #[test]
    fn a_server_on_this_machine_is_reached_without_tls() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/paybot",
            "postgres://postgres@127.8.9.10/paybot",
            "postgresql://postgres@localhost/paybot",
            "postgres://postgres@LOCALHOST:5433/paybot",
            "postgres://postgres@[::1]:5432/paybot",
            "postgres://postgres:secret@127.0.0.1:5432/paybot?application_name=paybot",
        ] {
            let expected = (mode(PgSslMode::Disable), PostgresTls::OffOnThisMachine);
            assert_eq!(decided(url), expected, "{url}");
        }
    }

    #[test]
    fn an_sslmode_in_the_url_or_the_environment_is_kept() {
        for (url, named) in [
            (
                "postgres://postgres@127.0.0.1:5432/paybot?sslmode=require",
                PgSslMode::Require,
            ),
            (
                "postgres://postgres@localhost/paybot?ssl-mode=verify-full",
                PgSslMode::VerifyFull,
            ),
            (
                "postgres://postgres@db.example.com/paybot?sslmode=disable",
                PgSslMode::Disable,
            ),
            // Percent-encoded names are names too.
            (
                "postgres://postgres@127.0.0.1/paybot?%73slmode=require",
                PgSslMode::Require,
            ),
        ] {
            assert_eq!(decided(url), (mode(named), PostgresTls::AsAsked), "{url}");
        }
        let url = "postgres://postgres@127.0.0.1/paybot";
        assert_eq!(decided_with(url, &["PGSSLMODE"]).1, PostgresTls::AsAsked);
    }

    #[test]
    fn another_machine_keeps_the_default_and_is_flagged() {
        for url in [
            "postgres://postgres@db.example.com:5432/paybot",
            "postgres://postgres@10.0.0.5/paybot",
            "postgres://postgres@[2001:db8::1]/paybot",
            "postgres://postgres@localhost.example.com/paybot",
            "postgres://postgres@127.0.0.1.nip.io/paybot",
            // The address connected to is not the host named.
            "postgres://postgres@localhost/paybot?hostaddr=10.0.0.5",
        ] {
            let expected = (mode(PgSslMode::Prefer), PostgresTls::Unverified);
            assert_eq!(decided(url), expected, "{url}");
        }
        let url = "postgres://postgres@localhost/paybot";
        assert_eq!(
            decided_with(url, &["PGHOSTADDR"]).1,
            PostgresTls::Unverified
        );
    }

    #[test]
    fn a_unix_socket_is_left_as_it_is() {
        let url = "postgres://postgres@localhost/paybot?host=/var/run/postgresql";
        assert_eq!(decided(url).1, PostgresTls::Socket);
        let url = "postgres://postgres@%2Fvar%2Frun%2Fpostgresql/paybot";
        assert_eq!(decided(url).1, PostgresTls::Socket);
    }

    #[test]
    fn a_url_that_is_not_one_is_refused() {
        assert!(options_with("postgres://[not a host/paybot", |_| false).is_err());
        assert!(
            options_with("postgres://postgres@localhost/p?sslmode=sometimes", |_| {
                false
            })
            .is_err()
        );
    }
}
