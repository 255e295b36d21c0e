//! The store's own connection pool, opened from the ledger's url and
//! options.
//!
//! The one decision to know: the options are the ledger's (WAL and the
//! configured `synchronous` on SQLite, foreign keys, the same busy and
//! acquire timeouts and pool size), so a statement here behaves as it would
//! on the ledger's connections; only the pool is separate, because the
//! ledger hands out none.

use std::time::Duration;

use ledger::{
    LedgerConfig, POOL_ACQUIRE_TIMEOUT_SECS, SQLITE_BUSY_TIMEOUT_MS, SqliteSync, StatementPool,
    sqlite_path,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::Backend;

/// A pool on the database `config` names; it connects on first use.
pub(crate) fn open(config: &LedgerConfig) -> Backend {
    let acquire = Duration::from_secs(POOL_ACQUIRE_TIMEOUT_SECS);
    let connections = config.pool_connections_max.max(2);
    if let Some(path) = sqlite_path(&config.url) {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(config.create_if_missing)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match config.sqlite_sync {
                SqliteSync::Full => SqliteSynchronous::Full,
                SqliteSync::Normal => SqliteSynchronous::Normal,
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_millis(SQLITE_BUSY_TIMEOUT_MS));
        let pool = SqlitePoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(acquire);
        return Backend::Sqlite(StatementPool::connect_lazy_with(pool, options));
    }
    if config.url.starts_with("postgres://") || config.url.starts_with("postgresql://") {
        // The ledger's own options, TLS and idle checks as for its pool.
        return match ledger::postgres_options(&config.url) {
            Ok((options, _)) => {
                let pool = ledger::postgres_pool_options().max_connections(connections);
                Backend::Postgres(StatementPool::connect_lazy_with(pool, options))
            }
            Err(e) => Backend::Missing(format!("cannot use the database url: {e}")),
        };
    }
    Backend::Missing("unsupported database url".to_owned())
}
