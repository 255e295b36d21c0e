//! The two SQL backends, SQLite and PostgreSQL.
//!
//! Both run the same statements wherever the dialects agree (`$1`
//! placeholders, `ON CONFLICT`, `CAST(SUM(..) AS BIGINT)`); the module is
//! written once as a macro and instantiated per driver, so a fix lands on
//! both. What differs is passed in: how a write transaction begins (SQLite
//! takes the database write lock up front with `BEGIN IMMEDIATE`) and how
//! accounts are locked (PostgreSQL `FOR UPDATE`, in sorted id order).

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::engine::State;
use crate::money::{Amount, Currency};
use crate::records::{ROWS_PLACEHOLDER, RecordWrite, SqlValue};
use crate::types::{
    Account, AccountFlags, AccountId, AccountKind, CurrencyTotals, Durability, HistoryCursor,
    HistoryPage, LedgerError, NewAccount, OutboxMessage, OwnerRef, StorageError,
    StoredOutboxMessage, Transfer, TransferId, TransferKind,
};
use crate::verify::Violation;
use crate::{
    BatchItem, GroupAnswer, LedgerConfig, Migration, POOL_ACQUIRE_TIMEOUT_SECS,
    SQLITE_BUSY_TIMEOUT_MS, SqliteSync,
};

mod checks;
mod postgres_connect;
mod sets;
mod statement_pool;

pub use postgres_connect::{
    POOL_PING_AFTER_IDLE_MS, PostgresTls, postgres_options, postgres_pool_options,
};
pub use statement_pool::StatementPool;

/// What the storage engine's functions fail with: the driver's own error
/// (kept whole in here, so that a batch that lost a race is recognised and
/// retried) or the ledger's. It becomes a [`LedgerError`] at the
/// [`crate::Ledger`] handle, where the driver's type is wrapped away.
#[derive(Debug)]
pub(crate) enum Error {
    Driver(sqlx::Error),
    Ledger(LedgerError),
    /// Group `group`'s record write #`record` did not change the rows it
    /// expected: the batch is rolled back and tried again without it.
    RecordConflict {
        group: usize,
        record: usize,
    },
    /// A combined record write (several groups' writes in one statement)
    /// did not change the rows they expect: the batch is rolled back and
    /// tried again with each write on its own, which finds the group.
    CombinedMismatch,
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Error {
        Error::Driver(error)
    }
}

impl From<LedgerError> for Error {
    fn from(error: LedgerError) -> Error {
        Error::Ledger(error)
    }
}

impl From<Error> for LedgerError {
    fn from(error: Error) -> LedgerError {
        match error {
            Error::Driver(e) => LedgerError::Storage(StorageError::new(e)),
            Error::Ledger(e) => e,
            Error::RecordConflict { .. } | Error::CombinedMismatch => {
                LedgerError::Corrupt("a record conflict escaped its batch".to_owned())
            }
        }
    }
}

/// Most outbox messages one statement marks delivered (or counts an
/// attempt of); more take one statement per this many, in one transaction.
const OUTBOX_MARKS_PER_STATEMENT_MAX: usize = 4_000;

/// Most page cache per SQLite connection, in KiB (SQLite's default: 2000).
const SQLITE_CACHE_KIB_MAX: u32 = 32_768;

/// WAL pages after which a commit copies the WAL back into the SQLite
/// database (SQLite's default: 1000). A backstop: the writer's passive
/// checkpoints beside the commits (`SQLITE_CHECKPOINT_EVERY_BATCHES`) leave
/// a commit little to copy.
const SQLITE_WAL_AUTOCHECKPOINT_PAGES: u32 = 4_000;

/// How often a batch is retried after losing a race with another process
/// (same transfer id inserted concurrently, deadlock, busy database).
pub(crate) const BATCH_ATTEMPTS_MAX: u32 = 5;

/// Opens a pool on the SQLite file at `path`: WAL, the configured sync
/// level, foreign keys on, a busy timeout.
pub(crate) async fn connect_sqlite(
    path: &std::path::Path,
    config: &LedgerConfig,
) -> Result<sqlite::Pool, Error> {
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(config.create_if_missing)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match config.sqlite_sync {
            SqliteSync::Full => SqliteSynchronous::Full,
            SqliteSync::Normal => SqliteSynchronous::Normal,
        })
        .foreign_keys(true)
        // Neither touches durability: a bigger page cache per connection
        // (pages are allocated as used), and the WAL copied back into the
        // database every SQLITE_WAL_AUTOCHECKPOINT_PAGES pages instead of
        // 1000, so a page rewritten by many batches is copied back once.
        .pragma("cache_size", format!("-{SQLITE_CACHE_KIB_MAX}"))
        .pragma(
            "wal_autocheckpoint",
            SQLITE_WAL_AUTOCHECKPOINT_PAGES.to_string(),
        )
        .busy_timeout(std::time::Duration::from_millis(SQLITE_BUSY_TIMEOUT_MS));
    // Single statements on one pool, transactions and the writer's
    // connection on another (`StatementPool`).
    let pool = SqlitePoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(POOL_ACQUIRE_TIMEOUT_SECS));
    let size = config.pool_connections_max.max(2);
    Ok(StatementPool::new(
        pool.clone()
            .max_connections(size)
            .connect_with(options.clone())
            .await?,
        pool.max_connections(size + writer_connections(1))
            .connect_lazy_with(options),
    ))
}

/// Opens a pool on the PostgreSQL database `config.url` names, with TLS as
/// [`postgres_options`] decides (and says what it decided) and idle
/// connections checked as [`postgres_pool_options`] does.
pub(crate) async fn connect_postgres(config: &LedgerConfig) -> Result<postgres::Pool, Error> {
    let (options, tls) = postgres_options(&config.url)?;
    match tls {
        PostgresTls::OffOnThisMachine => tracing::info!(
            "PostgreSQL on this machine: connecting without TLS \
             (name an sslmode in the database url to change that)"
        ),
        PostgresTls::Unverified => tracing::warn!(
            "PostgreSQL on another machine with no sslmode in the database url: \
             TLS only if the server offers it, and its certificate is not checked; \
             add sslmode=verify-full (and sslrootcert) to the url"
        ),
        PostgresTls::AsAsked | PostgresTls::Socket => {}
    }
    let size = config.pool_connections_max.max(2);
    Ok(StatementPool::new(
        postgres_pool_options()
            .max_connections(size)
            .connect_with(options.clone())
            .await?,
        postgres_pool_options()
            .max_connections(size + writer_connections(crate::PIPELINED_BATCHES_MAX))
            .connect_lazy_with(options),
    ))
}

/// The connections the group-commit writer keeps, on top of the configured
/// size of the pool for transactions (which stays for their other users).
fn writer_connections(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::Ledger(LedgerError::Corrupt(what.to_string()))
}

fn currency_of(code: &str) -> Result<Currency, Error> {
    Currency::from_code(code).map_err(|_| corrupt(format!("unknown currency {code:?}")))
}

/// True when a batch failed because it raced another writer and a fresh
/// attempt may succeed.
fn is_retryable(error: &sqlx::Error) -> bool {
    let Some(db) = error.as_database_error() else {
        return false;
    };
    if matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation) {
        return true;
    }
    // PostgreSQL: serialization failure, deadlock. SQLite: busy, locked.
    matches!(
        db.code().as_deref(),
        Some("40001" | "40P01" | "5" | "6" | "517" | "262")
    )
}

/// Most accounts a SQLite writer keeps between batches (see
/// [`AccountCache`]); past it the cache starts empty again.
const ACCOUNTS_CACHED_MAX: usize = 65_536;

/// The accounts as a SQLite writer's own connection last committed them,
/// so that a batch reads only the accounts it has not seen. They are valid
/// while SQLite's `data_version` of that connection is unchanged: it changes
/// when any other connection commits. The writer holds the write lock while
/// it compares, so nothing commits between the check and the batch's own
/// commit. PostgreSQL reads every account anyway: its `FOR UPDATE` is the
/// lock.
#[derive(Debug, Default)]
struct AccountCache {
    /// `data_version` when the accounts were kept.
    version: Option<i64>,
    accounts: HashMap<i64, Account>,
}

impl AccountCache {
    fn clear(&mut self) {
        self.version = None;
        self.accounts.clear();
    }

    /// The kept accounts among `ids` and the ids to read (sorted as `ids`
    /// is), after dropping everything when `version` is not the kept one.
    fn lookup(&mut self, version: i64, ids: &[i64]) -> (Vec<Account>, Vec<i64>) {
        if self.version != Some(version) {
            self.accounts.clear();
            self.version = Some(version);
        }
        let mut found = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            match self.accounts.get(id) {
                Some(account) => found.push(account.clone()),
                None => missing.push(*id),
            }
        }
        (found, missing)
    }

    /// Keeps the accounts as a batch committed them.
    fn keep(&mut self, accounts: impl Iterator<Item = Account>) {
        for account in accounts {
            if self.accounts.len() >= ACCOUNTS_CACHED_MAX
                && !self.accounts.contains_key(&account.id.0)
            {
                self.accounts.clear();
            }
            self.accounts.insert(account.id.0, account);
        }
    }
}

/// Most writes in one combined record statement.
const COMBINED_ROWS_MAX: usize = 256;

/// One statement of a round of record writes (every applied group's write
/// #k): a write on its own, or several groups' writes of one kind combined
/// (see [`RecordWrite::combining`]).
#[derive(Debug)]
enum Combined<'a> {
    One(usize, &'a RecordWrite),
    Many {
        form: &'static str,
        kinds: Vec<sets::ValueKind>,
        writes: Vec<&'a RecordWrite>,
        expect_rows: Option<u64>,
    },
}

impl<'a> Combined<'a> {
    /// The round's writes as statements, each kind where its first write
    /// was. Writes combine when they have the same form, expect the same
    /// rows (none, one or unsaid: a combined count then tells each write's
    /// own) and hold values of the same kinds; any other write, and a kind
    /// with one write, runs on its own.
    fn plan(round: &[(usize, &'a RecordWrite)]) -> Vec<Combined<'a>> {
        /// What writes share to combine: form, expected rows, value kinds.
        type Key = (&'static str, Option<u64>, Vec<sets::ValueKind>);
        /// Writes of one key (`None`: one write that runs alone).
        type Bucket<'a> = (Option<Key>, Vec<(usize, &'a RecordWrite)>);
        let mut buckets: Vec<Bucket<'a>> = Vec::new();
        for &(group, write) in round {
            let key = write
                .combined_form()
                .filter(|_| matches!(write.expect_rows(), None | Some(0 | 1)))
                .map(|form| {
                    let kinds = write.values().iter().map(sets::ValueKind::of).collect();
                    (form, write.expect_rows(), kinds)
                });
            match buckets.iter_mut().find(|(k, _)| k.is_some() && *k == key) {
                Some((_, writes)) => writes.push((group, write)),
                None => buckets.push((key, vec![(group, write)])),
            }
        }
        let mut plan = Vec::new();
        for (key, writes) in buckets {
            for chunk in writes.chunks(COMBINED_ROWS_MAX) {
                match (&key, chunk) {
                    (Some((form, expect_rows, kinds)), [_, _, ..]) => plan.push(Combined::Many {
                        form,
                        kinds: kinds.clone(),
                        writes: chunk.iter().map(|(_, w)| *w).collect(),
                        expect_rows: *expect_rows,
                    }),
                    _ => plan.extend(chunk.iter().map(|(g, w)| Combined::One(*g, w))),
                }
            }
        }
        plan
    }
}

/// What a batch needs loaded: accounts to lock, transfers to look up.
struct BatchKeys {
    ids: Vec<uuid::Uuid>,
    pending_refs: Vec<uuid::Uuid>,
}

impl BatchKeys {
    fn of(groups: &[BatchItem<'_>]) -> BatchKeys {
        let mut seen = HashSet::new();
        let mut ids = Vec::new();
        let mut pending_refs = Vec::new();
        for t in groups.iter().flat_map(|g| g.transfers) {
            if seen.insert(t.id) {
                ids.push(t.id.as_uuid());
            }
            if let Some(p) = t.pending_id() {
                pending_refs.push(p.as_uuid());
                if seen.insert(p) {
                    ids.push(p.as_uuid());
                }
            }
        }
        pending_refs.sort_unstable();
        pending_refs.dedup();
        BatchKeys { ids, pending_refs }
    }

    /// Accounts named by the batch's new transfers and by the pending
    /// transfers it resolves, sorted: locks are always taken in this order.
    fn accounts(groups: &[BatchItem<'_>], loaded: &[Transfer]) -> Vec<i64> {
        let mut set = BTreeSet::new();
        for t in groups.iter().flat_map(|g| g.transfers) {
            match &t.op {
                crate::TransferOp::Single { debit, credit, .. }
                | crate::TransferOp::Pending { debit, credit, .. } => {
                    set.insert(debit.0);
                    set.insert(credit.0);
                }
                crate::TransferOp::Post { .. }
                | crate::TransferOp::Void { .. }
                | crate::TransferOp::Expire { .. } => {}
            }
        }
        for t in loaded {
            set.insert(t.debit_account_id.0);
            set.insert(t.credit_account_id.0);
        }
        set.into_iter().collect()
    }
}

macro_rules! sql_backend {
    ($module:ident, $db:ty, $begin:literal, $sets:ident, $schema:ident, $migration_lock:literal, $durability:ident) => {
        pub(crate) mod $module {
            use sqlx::Row;

            use super::*;
            use super::sets::$sets as set;
            pub(crate) use super::$durability as durability;

            type Db = $db;
            pub(crate) type Pool = StatementPool<Db>;
            type DbRow = <Db as sqlx::Database>::Row;
            type Tx = sqlx::Transaction<'static, Db>;
            type Conn = <Db as sqlx::Database>::Connection;

            fn account_from_row(row: &DbRow) -> Result<Account, Error> {
                let kind: i16 = row.try_get("kind")?;
                let flags: i32 = row.try_get("flags")?;
                let owner: String = row.try_get("owner")?;
                let currency: String = row.try_get("currency")?;
                Ok(Account {
                    id: AccountId(row.try_get("id")?),
                    owner: OwnerRef::new(owner).map_err(|_| corrupt("account owner"))?,
                    kind: AccountKind::from_db(kind).ok_or_else(|| corrupt("account kind"))?,
                    currency: currency_of(&currency)?,
                    flags: AccountFlags::from_bits(flags).ok_or_else(|| corrupt("flags"))?,
                    debits_posted: row.try_get("debits_posted")?,
                    credits_posted: row.try_get("credits_posted")?,
                    debits_pending: row.try_get("debits_pending")?,
                    credits_pending: row.try_get("credits_pending")?,
                })
            }

            fn transfer_from_row(row: &DbRow) -> Result<Transfer, Error> {
                let kind: i16 = row.try_get("kind")?;
                let currency: String = row.try_get("currency")?;
                let amount: i64 = row.try_get("amount")?;
                let pending: Option<uuid::Uuid> = row.try_get("pending_id")?;
                let timeout: i64 = row.try_get("timeout_secs")?;
                let code: i32 = row.try_get("code")?;
                Ok(Transfer {
                    id: TransferId::from_uuid(row.try_get("id")?),
                    kind: TransferKind::from_db(kind).ok_or_else(|| corrupt("transfer kind"))?,
                    debit_account_id: AccountId(row.try_get("debit_account_id")?),
                    credit_account_id: AccountId(row.try_get("credit_account_id")?),
                    amount: Amount::from_minor(amount, currency_of(&currency)?)
                        .map_err(|_| corrupt("transfer amount"))?,
                    pending_id: pending.map(TransferId::from_uuid),
                    timeout_secs: u32::try_from(timeout).map_err(|_| corrupt("timeout"))?,
                    code: u16::try_from(code).map_err(|_| corrupt("code"))?,
                    timestamp_ms: row.try_get("timestamp_ms")?,
                })
            }

            pub(crate) async fn migrate(
                pool: &Pool,
                migrations: &[Migration],
                now_ms: i64,
            ) -> Result<(), Error> {
                for m in migrations {
                    let mut tx: Tx = pool.begin_with($begin).await?;
                    // One process migrates at a time; the others then find it done.
                    sqlx::query($migration_lock).execute(&mut *tx).await?;
                    sqlx::query(
                        "CREATE TABLE IF NOT EXISTS paybot_migrations (
                            component TEXT NOT NULL,
                            version BIGINT NOT NULL,
                            name TEXT NOT NULL,
                            applied_at_ms BIGINT NOT NULL,
                            PRIMARY KEY (component, version))",
                    )
                    .execute(&mut *tx)
                    .await?;
                    let done: Option<i64> = sqlx::query_scalar(
                        "SELECT version FROM paybot_migrations WHERE component = $1 AND version = $2",
                    )
                    .bind(m.component)
                    .bind(m.version)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if done.is_some() {
                        tx.rollback().await?;
                        continue;
                    }
                    sqlx::raw_sql(m.$schema).execute(&mut *tx).await?;
                    sqlx::query(
                        "INSERT INTO paybot_migrations (component, version, name, applied_at_ms)
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(m.component)
                    .bind(m.version)
                    .bind(m.name)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    tracing::info!(component = m.component, version = m.version, name = m.name, "applied migration");
                }
                Ok(())
            }

            /// True once the ledger's first migration has been applied.
            pub(crate) async fn is_migrated(pool: &Pool) -> Result<bool, Error> {
                let applied: Result<i64, sqlx::Error> = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM paybot_migrations WHERE component = 'ledger'",
                )
                .fetch_one(pool)
                .await;
                match applied {
                    Ok(n) => Ok(n > 0),
                    // No migrations table: nothing was ever migrated.
                    Err(sqlx::Error::Database(_)) => Ok(false),
                    Err(e) => Err(e.into()),
                }
            }

            pub(crate) async fn ping(pool: &Pool) -> Result<(), Error> {
                sqlx::query("SELECT 1").execute(pool).await?;
                Ok(())
            }

            pub(crate) async fn account_by_key(
                pool: &Pool,
                new: &NewAccount,
            ) -> Result<Option<Account>, Error> {
                let row = sqlx::query(
                    "SELECT id, owner, kind, currency, flags, debits_posted, credits_posted,
                            debits_pending, credits_pending
                     FROM accounts WHERE owner = $1 AND kind = $2 AND currency = $3",
                )
                .bind(new.owner.as_str())
                .bind(new.kind.to_db())
                .bind(new.currency.code())
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(account_from_row).transpose()
            }

            pub(crate) async fn open_account(
                pool: &Pool,
                new: &NewAccount,
                now_ms: i64,
            ) -> Result<Account, Error> {
                sqlx::query(crate::INSERT_ACCOUNT_SQL)
                    .bind(new.owner.as_str())
                    .bind(new.kind.to_db())
                    .bind(new.currency.code())
                    .bind(new.kind.default_flags().bits())
                    .bind(now_ms)
                    .execute(pool)
                    .await?;
                account_by_key(pool, new)
                    .await?
                    .ok_or_else(|| corrupt("an account opened is missing"))
            }

            pub(crate) async fn account(
                pool: &Pool,
                id: AccountId,
            ) -> Result<Option<Account>, Error> {
                let row = sqlx::query(
                    "SELECT id, owner, kind, currency, flags, debits_posted, credits_posted,
                            debits_pending, credits_pending
                     FROM accounts WHERE id = $1",
                )
                .bind(id.0)
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(account_from_row).transpose()
            }

            pub(crate) async fn accounts_of(
                pool: &Pool,
                owner: &OwnerRef,
            ) -> Result<Vec<Account>, Error> {
                let rows = sqlx::query(
                    "SELECT id, owner, kind, currency, flags, debits_posted, credits_posted,
                            debits_pending, credits_pending
                     FROM accounts WHERE owner = $1 ORDER BY id",
                )
                .bind(owner.as_str())
                .fetch_all(pool)
                .await?;
                rows.iter().map(account_from_row).collect()
            }

            pub(crate) async fn transfer(
                pool: &Pool,
                id: TransferId,
            ) -> Result<Option<Transfer>, Error> {
                let row = sqlx::query(
                    "SELECT id, kind, debit_account_id, credit_account_id, amount, currency,
                            pending_id, timeout_secs, code, timestamp_ms
                     FROM transfers WHERE id = $1",
                )
                .bind(id.as_uuid())
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(transfer_from_row).transpose()
            }

            /// The pending transfer's resolution, if any.
            pub(crate) async fn resolution_of(
                pool: &Pool,
                pending: TransferId,
            ) -> Result<Option<Transfer>, Error> {
                let row = sqlx::query(
                    "SELECT id, kind, debit_account_id, credit_account_id, amount, currency,
                            pending_id, timeout_secs, code, timestamp_ms
                     FROM transfers WHERE pending_id = $1",
                )
                .bind(pending.as_uuid())
                .fetch_optional(pool)
                .await?;
                row.as_ref().map(transfer_from_row).transpose()
            }

            /// Open pending transfers debiting `account` (not yet posted,
            /// voided or expired by the sweeper), soonest deadline first.
            pub(crate) async fn open_pending_debits(
                pool: &Pool,
                account: AccountId,
                limit: u32,
            ) -> Result<Vec<Transfer>, Error> {
                let rows = sqlx::query(set::OPEN_PENDING_DEBITS)
                .bind(account.0)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                rows.iter().map(transfer_from_row).collect()
            }

            pub(crate) async fn history(
                pool: &Pool,
                account: AccountId,
                cursor: HistoryCursor,
                limit: u32,
            ) -> Result<HistoryPage, Error> {
                let rows = sqlx::query(set::HISTORY)
                .bind(account.0)
                .bind(cursor.0)
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await?;
                let mut transfers = Vec::with_capacity(rows.len());
                let mut last_seq = None;
                for row in rows.iter().take(usize::try_from(limit).unwrap_or(usize::MAX)) {
                    transfers.push(transfer_from_row(row)?);
                    last_seq = Some(row.try_get::<i64, _>("seq")?);
                }
                let more = rows.len() > transfers.len();
                Ok(HistoryPage { transfers, next: last_seq.filter(|_| more).map(HistoryCursor) })
            }

            pub(crate) async fn currency_totals(
                pool: &Pool,
            ) -> Result<Vec<CurrencyTotals>, Error> {
                let rows = sqlx::query(
                    "SELECT currency,
                            CAST(SUM(debits_posted) AS BIGINT) AS dp,
                            CAST(SUM(credits_posted) AS BIGINT) AS cp,
                            CAST(SUM(debits_pending) AS BIGINT) AS dq,
                            CAST(SUM(credits_pending) AS BIGINT) AS cq,
                            COUNT(*) AS n
                     FROM accounts GROUP BY currency ORDER BY currency",
                )
                .fetch_all(pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        let code: String = row.try_get("currency")?;
                        Ok(CurrencyTotals {
                            currency: currency_of(&code)?,
                            debits_posted: row.try_get("dp")?,
                            credits_posted: row.try_get("cp")?,
                            debits_pending: row.try_get("dq")?,
                            credits_pending: row.try_get("cq")?,
                            accounts: row.try_get("n")?,
                        })
                    })
                    .collect()
            }

            /// Pending transfers whose deadline has passed, oldest first.
            pub(crate) async fn due_pending(
                pool: &Pool,
                now_ms: i64,
                limit: u32,
            ) -> Result<Vec<TransferId>, Error> {
                let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
                    "SELECT transfer_id FROM pending_expiries WHERE expires_at_ms <= $1
                     ORDER BY expires_at_ms LIMIT CAST($2 AS BIGINT)",
                )
                .bind(now_ms)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                Ok(ids.into_iter().map(TransferId::from_uuid).collect())
            }

            pub(crate) async fn verify(pool: &Pool) -> Result<Vec<Violation>, Error> {
                let mut found = Vec::new();
                for totals in currency_totals(pool).await? {
                    found.extend(Violation::of_currency(&totals));
                }
                for row in sqlx::query(checks::ACCOUNT_TOTALS_SQL).fetch_all(pool).await? {
                    let code: String = row.try_get("currency")?;
                    found.extend(Violation::of_account_totals(
                        AccountId(row.try_get("id")?),
                        currency_of(&code)?,
                        [
                            (row.try_get("debits_posted")?, row.try_get("exp_dp")?),
                            (row.try_get("credits_posted")?, row.try_get("exp_cp")?),
                            (row.try_get("debits_pending")?, row.try_get("exp_dq")?),
                            (row.try_get("credits_pending")?, row.try_get("exp_cq")?),
                        ],
                    ));
                }
                for row in sqlx::query(checks::OVERDRAWN_SQL).fetch_all(pool).await? {
                    let code: String = row.try_get("currency")?;
                    found.push(Violation::Overdrawn {
                        account: AccountId(row.try_get("id")?),
                        currency: code,
                        spent: row.try_get("spent")?,
                        credits_posted: row.try_get("credits_posted")?,
                    });
                }
                for row in sqlx::query(checks::MULTIPLY_RESOLVED_SQL).fetch_all(pool).await? {
                    found.push(Violation::ResolvedMoreThanOnce {
                        pending: TransferId::from_uuid(row.try_get("pending_id")?),
                        resolutions: row.try_get("n")?,
                    });
                }
                for row in sqlx::query(checks::BAD_RESOLUTION_SQL).fetch_all(pool).await? {
                    found.push(Violation::InvalidResolution {
                        transfer: TransferId::from_uuid(row.try_get("id")?),
                    });
                }
                for row in sqlx::query(checks::CURRENCY_MISMATCH_SQL).fetch_all(pool).await? {
                    found.push(Violation::TransferCurrencyMismatch {
                        transfer: TransferId::from_uuid(row.try_get("id")?),
                    });
                }
                if let Some(sql) = set::ACCOUNT_ENTRIES_CHECK {
                    let row = sqlx::query(sql).fetch_one(pool).await?;
                    let (missing, stray): (i64, i64) = (row.try_get("missing")?, row.try_get("stray")?);
                    if missing != 0 || stray != 0 {
                        found.push(Violation::HistoryEntries { missing, stray });
                    }
                }
                Ok(found)
            }

            /// A group-commit writer's own connection: taken from the pool at
            /// its first batch and, when `sticky`, kept from batch to batch
            /// (SQLite: its page cache stays warm, as no other connection
            /// writes between two batches; both: no pool round trip per
            /// batch), until [`Writer::release`] (the ledger is closing).
            /// Dropped after a failed batch, so a broken connection is
            /// replaced; and, as the pools do with theirs, pinged before a
            /// batch when it sat idle for longer than
            /// [`POOL_PING_AFTER_IDLE_MS`], so that one the server ended
            /// meanwhile (a restart, an idle timeout on the way) is replaced
            /// before a batch of payments fails on it. Under load it is never
            /// that idle, and no batch waits for a ping.
            pub(crate) struct Writer {
                pool: Pool,
                /// The kept connection and when its last batch ended.
                conn: Option<(sqlx::pool::PoolConnection<Db>, std::time::Instant)>,
                sticky: bool,
                /// What `conn` last committed of the accounts (SQLite only);
                /// goes with the connection.
                cache: AccountCache,
                /// Transfers this writer committed (at most: refused ones
                /// count too) since it last wrote the accounts' entries
                /// (SQLite only: [`set::INDEX_ACCOUNT_ENTRIES`]); starts
                /// at `entries_step`, so a new writer first indexes what an
                /// earlier process left past the mark.
                unindexed: u64,
                /// Transfers between two of its steps of entries.
                entries_step: u64,
            }

            impl Writer {
                pub(crate) fn new(pool: Pool, sticky: bool, entries_step: u64) -> Writer {
                    Writer {
                        pool,
                        conn: None,
                        sticky,
                        cache: AccountCache::default(),
                        unindexed: entries_step,
                        entries_step,
                    }
                }

                /// Gives the kept connection back to the pool.
                pub(crate) fn release(&mut self) {
                    self.conn = None;
                    self.cache.clear();
                }

                /// Applies a batch of linked groups in one database
                /// transaction. Retries the whole batch when it lost a race
                /// with another writer, and without a group whose record
                /// write found its rows changed (each such retry leaves one
                /// more group out, so they end).
                pub(crate) async fn commit_batch(
                    &mut self,
                    groups: &[BatchItem<'_>],
                    now_ms: i64,
                ) -> Result<Vec<GroupAnswer>, Error> {
                    let mut attempt = 1;
                    let mut conflicts: HashMap<usize, usize> = HashMap::new();
                    let mut combine = true;
                    self.ping_if_idle().await;
                    if let Some(step) = set::INDEX_ACCOUNT_ENTRIES
                        && self.unindexed >= self.entries_step
                    {
                        self.index_account_entries(step).await;
                    }
                    let result = loop {
                        let conn = Self::kept(&self.pool, &mut self.conn).await?;
                        match try_commit_batch(conn, &mut self.cache, groups, &conflicts, combine, now_ms)
                            .await
                        {
                            Err(Error::Driver(e))
                                if attempt < BATCH_ATTEMPTS_MAX && is_retryable(&e) =>
                            {
                                tracing::debug!(attempt, error = %e, "batch lost a race; retrying");
                                attempt += 1;
                            }
                            Err(Error::RecordConflict { group, record })
                                if group < groups.len() && !conflicts.contains_key(&group) =>
                            {
                                conflicts.insert(group, record);
                            }
                            Err(Error::CombinedMismatch) if combine => combine = false,
                            other => break other,
                        }
                    };
                    if result.is_err() || !self.sticky {
                        self.conn = None;
                        self.cache.clear();
                    } else if let Some((_, since)) = &mut self.conn {
                        *since = std::time::Instant::now();
                    }
                    if result.is_ok() {
                        let transfers = groups.iter().map(|g| g.transfers.len()).sum::<usize>();
                        self.unindexed = self
                            .unindexed
                            .saturating_add(u64::try_from(transfers).unwrap_or(u64::MAX));
                    }
                    result
                }

                /// The kept connection in `slot`, or a new one from `pool`
                /// kept there.
                async fn kept<'a>(
                    pool: &Pool,
                    slot: &'a mut Option<(sqlx::pool::PoolConnection<Db>, std::time::Instant)>,
                ) -> Result<&'a mut Conn, Error> {
                    let kept = match slot.take() {
                        Some(kept) => kept,
                        None => (pool.acquire().await?, std::time::Instant::now()),
                    };
                    Ok(&mut *slot.insert(kept).0)
                }

                /// Writes the entries of the transfers past the mark and
                /// moves it (one step: [`set::INDEX_ACCOUNT_ENTRIES`]), in a
                /// transaction of its own before the next batch's. A step
                /// that fails is logged, its connection dropped, and tried
                /// again after another step's worth of transfers (a failure
                /// that lasts, such as a full disk, is logged once a step,
                /// not once a batch): until then histories read a longer
                /// tail, and no payment waits for it.
                async fn index_account_entries(&mut self, step: [&'static str; 2]) {
                    let step = async {
                        let conn = Self::kept(&self.pool, &mut self.conn).await?;
                        let mut tx = sqlx::Connection::begin_with(conn, set::BATCH_BEGIN).await?;
                        for sql in step {
                            sqlx::query(sql).execute(&mut *tx).await?;
                        }
                        tx.commit().await?;
                        Ok::<(), Error>(())
                    };
                    let done = step.await;
                    self.unindexed = 0;
                    if let Err(error) = done {
                        tracing::warn!(
                            error = ?error,
                            step_transfers = self.entries_step,
                            "the ledger writer could not index transfers by account; \
                             trying again after another step's worth of transfers"
                        );
                        self.conn = None;
                        self.cache.clear();
                    }
                }

                /// Pings the kept connection when it sat idle too long; one
                /// that does not answer is dropped, with what it had
                /// committed of the accounts, and the pool gives another.
                async fn ping_if_idle(&mut self) {
                    let Some((conn, since)) = &mut self.conn else {
                        return;
                    };
                    if since.elapsed() <= std::time::Duration::from_millis(POOL_PING_AFTER_IDLE_MS) {
                        return;
                    }
                    match sqlx::Connection::ping(&mut **conn).await {
                        Ok(()) => *since = std::time::Instant::now(),
                        Err(error) => {
                            tracing::info!(
                                %error,
                                "the ledger writer's kept connection did not answer; taking another"
                            );
                            self.conn = None;
                            self.cache.clear();
                        }
                    }
                }
            }

            /// One attempt at a batch, in phases: read the transfers it
            /// names, lock its accounts (sorted), read the resolutions of the
            /// pending transfers it names, run the engine, write the new
            /// transfers, their deadlines, the outbox of the groups that
            /// succeeded and the account deltas (`write_batch`: one statement
            /// on PostgreSQL), run the record writes, commit.
            async fn try_commit_batch(
                conn: &mut Conn,
                cache: &mut AccountCache,
                groups: &[BatchItem<'_>],
                conflicts: &HashMap<usize, usize>,
                combine: bool,
                now_ms: i64,
            ) -> Result<Vec<GroupAnswer>, Error> {
                let keys = BatchKeys::of(groups);
                let mut tx = sqlx::Connection::begin_with(conn, set::BATCH_BEGIN).await?;
                let known = select_transfers(&mut tx, set::TRANSFERS_BY_ID, &keys.ids).await?;
                let referenced: Vec<Transfer> = known
                    .iter()
                    .filter(|t| keys.pending_refs.contains(&t.id.as_uuid()))
                    .cloned()
                    .collect();
                let account_ids = BatchKeys::accounts(groups, &referenced);
                let accounts = if set::CACHES_ACCOUNTS && !account_ids.is_empty() {
                    // Another connection that committed since this one last
                    // did (a second writer, a repair) makes every kept
                    // account stale.
                    let version: i64 = sqlx::query_scalar(set::DATA_VERSION).fetch_one(&mut *tx).await?;
                    let (mut found, missing) = cache.lookup(version, &account_ids);
                    found.extend(lock_accounts(&mut tx, &missing).await?);
                    found
                } else {
                    lock_accounts(&mut tx, &account_ids).await?
                };
                // Read after the locks: another process that resolved one of
                // these pending transfers held the same account locks.
                let resolutions = select_transfers(&mut tx, set::TRANSFERS_BY_PENDING_ID, &keys.pending_refs)
                    .await?
                    .into_iter()
                    .filter_map(|r| Some((r.pending_id?, r.kind)));
                let mut state = State::new(accounts, known, resolutions);
                let results: Vec<GroupAnswer> = groups
                    .iter()
                    .enumerate()
                    .map(|(i, g)| match conflicts.get(&i) {
                        Some(record) => Err(*record),
                        // Records alone: nothing for the engine to apply.
                        None if g.transfers.is_empty() && !g.records.is_empty() => Ok(Ok(Vec::new())),
                        None => Ok(state.apply_group(g.transfers, now_ms)),
                    })
                    .collect();
                let applied = || {
                    groups
                        .iter()
                        .enumerate()
                        .zip(&results)
                        .filter(|(_, result)| matches!(result, Ok(Ok(_))))
                        .map(|(group, _)| group)
                };
                let outbox: Vec<&OutboxMessage> = applied().flat_map(|(_, g)| g.outbox).collect();
                let deltas = state.account_deltas();
                let writes = sets::BatchWrites::new(state.new_transfers(), &outbox, now_ms, &deltas);
                let updated = set::write_batch(&mut tx, &writes).await?;
                let expected = u64::try_from(writes.accounts_changed()).unwrap_or(u64::MAX);
                if updated != expected {
                    return Err(corrupt(format!("updated {updated} of {expected} accounts' totals")));
                }
                let records: Vec<(usize, &[RecordWrite])> =
                    applied().map(|(group, g)| (group, g.records)).collect();
                write_records(&mut tx, &records, combine).await?;
                tx.commit().await?;
                if set::CACHES_ACCOUNTS {
                    // Record writes are any SQL: an account they changed
                    // would not change the data version of this connection.
                    if groups.iter().any(|g| !g.records.is_empty()) {
                        cache.clear();
                    } else {
                        cache.keep(state.into_accounts());
                    }
                }
                Ok(results)
            }

            /// Runs the applied groups' record writes: each group's in
            /// order, and (when `combine`) writes of one kind from several
            /// groups as one statement (see [`RecordWrite::combining`]). A
            /// write that changes other than the rows it expects is that
            /// group's conflict; a combined statement that does is
            /// [`Error::CombinedMismatch`] (the batch is tried again
            /// without combining, which finds the write).
            async fn write_records(
                tx: &mut Conn,
                applied: &[(usize, &[RecordWrite])],
                combine: bool,
            ) -> Result<(), Error> {
                if !combine {
                    for (group, records) in applied {
                        for (record, write) in records.iter().enumerate() {
                            write_record(tx, *group, record, write).await?;
                        }
                    }
                    return Ok(());
                }
                // Round k runs every group's write #k: a group's writes keep
                // their order; writes of different groups are independent
                // (each was made from committed state).
                let rounds = applied.iter().map(|(_, records)| records.len()).max().unwrap_or(0);
                for k in 0..rounds {
                    let round: Vec<(usize, &RecordWrite)> = applied
                        .iter()
                        .filter_map(|(group, records)| records.get(k).map(|w| (*group, w)))
                        .collect();
                    for run in Combined::plan(&round) {
                        match run {
                            Combined::One(group, write) => write_record(tx, group, k, write).await?,
                            Combined::Many { form, kinds, writes, expect_rows } => {
                                let sql = form.replacen(ROWS_PLACEHOLDER, &set::rows_source(&kinds), 1);
                                let query = set::rows(sqlx::query(sqlx::AssertSqlSafe(sql)), &writes, &kinds);
                                let done = query.execute(&mut *tx).await?;
                                let rows = u64::try_from(writes.len()).unwrap_or(u64::MAX);
                                if let Some(each) = expect_rows
                                    && done.rows_affected() != each.saturating_mul(rows)
                                {
                                    return Err(Error::CombinedMismatch);
                                }
                            }
                        }
                    }
                }
                Ok(())
            }

            /// Runs group `group`'s record write #`record` on its own.
            async fn write_record(
                tx: &mut Conn,
                group: usize,
                record: usize,
                write: &RecordWrite,
            ) -> Result<(), Error> {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(write.sql()));
                for value in write.values() {
                    query = match value {
                        SqlValue::Int(v) => query.bind(*v),
                        SqlValue::Text(v) => query.bind(v.as_deref()),
                        SqlValue::Bytes(v) => query.bind(v.as_deref()),
                        SqlValue::Uuid(v) => query.bind(v.map(uuid::Uuid::from_u128)),
                        SqlValue::Bool(v) => query.bind(*v),
                    };
                }
                let done = query.execute(&mut *tx).await?;
                if let Some(expected) = write.expect_rows()
                    && done.rows_affected() != expected
                {
                    return Err(Error::RecordConflict { group, record });
                }
                Ok(())
            }

            /// Writes outbox messages, in order, in one statement of fixed
            /// text (see `sets`); an id already written is skipped.
            pub(crate) async fn insert_outbox(
                conn: &mut <Db as sqlx::Database>::Connection,
                messages: &[&OutboxMessage],
                now_ms: i64,
            ) -> Result<(), Error> {
                if messages.is_empty() {
                    return Ok(());
                }
                set::outbox(sqlx::query(set::INSERT_OUTBOX), messages)
                    .bind(now_ms)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            /// Writes outbox messages outside any transfer.
            pub(crate) async fn enqueue_outbox(
                pool: &Pool,
                messages: &[&OutboxMessage],
                now_ms: i64,
            ) -> Result<(), Error> {
                let mut conn = pool.acquire().await?;
                insert_outbox(&mut conn, messages, now_ms).await
            }

            pub(crate) async fn outbox_undelivered(
                pool: &Pool,
                limit: u32,
            ) -> Result<Vec<StoredOutboxMessage>, Error> {
                // `LIMIT CAST(..)`, not `LIMIT $1`: SQLite plans with a
                // bound LIMIT's value, so it would compile the statement
                // again at every run (each binds it anew); a cast is
                // planned once.
                let rows = sqlx::query(
                    "SELECT seq, id, topic, payload, created_at_ms, attempts FROM outbox
                     WHERE delivered_at_ms IS NULL ORDER BY seq LIMIT CAST($1 AS BIGINT)",
                )
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        let id: uuid::Uuid = row.try_get("id")?;
                        let message = OutboxMessage::new(
                            id.as_u128(),
                            row.try_get::<String, _>("topic")?,
                            row.try_get::<String, _>("payload")?,
                        )
                        .map_err(|_| corrupt("outbox message"))?;
                        Ok(StoredOutboxMessage {
                            seq: row.try_get("seq")?,
                            message,
                            created_at_ms: row.try_get("created_at_ms")?,
                            attempts: row.try_get("attempts")?,
                        })
                    })
                    .collect()
            }

            /// Undelivered messages (at most `counted_max` counted) and
            /// when the oldest was written, through the partial index
            /// `outbox_undelivered`.
            pub(crate) async fn outbox_backlog(
                pool: &Pool,
                counted_max: u32,
            ) -> Result<(i64, Option<i64>), Error> {
                let row: (i64, Option<i64>) = sqlx::query_as(
                    "SELECT COUNT(*), MIN(created_at_ms) FROM (
                         SELECT created_at_ms FROM outbox
                         WHERE delivered_at_ms IS NULL ORDER BY seq LIMIT CAST($1 AS BIGINT)
                     ) AS waiting",
                )
                .bind(i64::from(counted_max))
                .fetch_one(pool)
                .await?;
                Ok(row)
            }

            /// Marks a message delivered, or counts a failed attempt.
            pub(crate) async fn outbox_settle(
                pool: &Pool,
                id: u128,
                delivered_at_ms: Option<i64>,
            ) -> Result<(), Error> {
                let id = uuid::Uuid::from_u128(id);
                match delivered_at_ms {
                    Some(at) => {
                        sqlx::query("UPDATE outbox SET delivered_at_ms = $1 WHERE id = $2")
                            .bind(at)
                            .bind(id)
                            .execute(pool)
                            .await?
                    }
                    None => {
                        sqlx::query("UPDATE outbox SET attempts = attempts + 1 WHERE id = $1")
                            .bind(id)
                            .execute(pool)
                            .await?
                    }
                };
                Ok(())
            }

            /// Marks messages delivered, or counts a failed attempt of
            /// each, in one commit however many: one statement of fixed
            /// text (see `sets`), so it is prepared once, whatever the count.
            pub(crate) async fn outbox_settle_many(
                pool: &Pool,
                ids: &[u128],
                delivered_at_ms: Option<i64>,
            ) -> Result<(), Error> {
                let ids: Vec<uuid::Uuid> = ids.iter().map(|id| uuid::Uuid::from_u128(*id)).collect();
                // Planned at each run (`persistent(false)`), not once: a
                // prepared statement's generic plan is made at its sixth
                // run, when a new database's outbox is a few pages, and
                // then kept; it scanned the whole outbox (every message
                // ever) for each batch of marks, until the server's next
                // ANALYZE of the table (by our reading of its plans).
                // Planning a batch's one statement costs far less than
                // that scan.
                let mark = |chunk: &[uuid::Uuid]| {
                    match delivered_at_ms {
                        Some(at) => set::uuids(sqlx::query(set::OUTBOX_DELIVERED), chunk).bind(at),
                        None => set::uuids(sqlx::query(set::OUTBOX_ATTEMPTED), chunk),
                    }
                    .persistent(false)
                };
                match ids.len() {
                    0 => {}
                    // One statement, committed on its own.
                    n if n <= OUTBOX_MARKS_PER_STATEMENT_MAX => {
                        mark(&ids).execute(pool).await?;
                    }
                    _ => {
                        let mut tx = pool.begin().await?;
                        for chunk in ids.chunks(OUTBOX_MARKS_PER_STATEMENT_MAX) {
                            mark(chunk).execute(&mut *tx).await?;
                        }
                        tx.commit().await?;
                    }
                }
                Ok(())
            }

            async fn select_transfers(
                tx: &mut Conn,
                sql: &'static str,
                ids: &[uuid::Uuid],
            ) -> Result<Vec<Transfer>, Error> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let rows = set::uuids(sqlx::query(sql), ids).fetch_all(&mut *tx).await?;
                rows.iter().map(transfer_from_row).collect()
            }

            /// Reads (PostgreSQL: and locks) accounts, in id order: every
            /// process takes row locks in the same order, so two batches
            /// cannot deadlock.
            async fn lock_accounts(tx: &mut Conn, ids: &[i64]) -> Result<Vec<Account>, Error> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let query = set::account_ids(sqlx::query(set::ACCOUNTS_BY_ID), ids);
                let rows = query.fetch_all(&mut *tx).await?;
                rows.iter().map(account_from_row).collect()
            }
        }
    };
}

sql_backend!(
    sqlite,
    sqlx::Sqlite,
    "BEGIN IMMEDIATE",
    sqlite,
    sqlite,
    "SELECT 1",
    sqlite_durability
);
sql_backend!(
    postgres,
    sqlx::Postgres,
    "BEGIN",
    postgres,
    postgres,
    "SELECT pg_advisory_xact_lock(727262656)",
    postgres_durability
);

/// Copies what the WAL holds back into the SQLite database file without
/// waiting for (or blocking) the writer: `PRAGMA wal_checkpoint(PASSIVE)` on
/// a pooled connection. Run beside the writer, so that its commits seldom
/// do this themselves (see [`SQLITE_WAL_AUTOCHECKPOINT_PAGES`]).
pub(crate) async fn sqlite_checkpoint(pool: &sqlite::Pool) -> Result<(), Error> {
    sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .execute(pool)
        .await?;
    Ok(())
}

/// SQLite's durability settings, read back from a pooled connection.
pub(crate) async fn sqlite_durability(pool: &sqlite::Pool) -> Result<Durability, Error> {
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(pool)
        .await?;
    let journal_mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await?;
    Ok(Durability::Sqlite {
        journal_mode,
        synchronous,
    })
}

/// PostgreSQL's durability settings, read back from a pooled connection.
pub(crate) async fn postgres_durability(pool: &postgres::Pool) -> Result<Durability, Error> {
    let synchronous_commit: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(pool)
        .await?;
    let fsync: String = sqlx::query_scalar("SHOW fsync").fetch_one(pool).await?;
    Ok(Durability::Postgres {
        synchronous_commit,
        fsync,
    })
}

#[cfg(test)]
mod tests {
    use super::{COMBINED_ROWS_MAX, Combined};
    use crate::records::{RecordWrite, SqlValue};

    const FORM_A: &str = "INSERT INTO a (x) SELECT r.c1 FROM {rows} AS r WHERE true";
    const FORM_B: &str = "UPDATE b SET x = r.c1 FROM {rows} AS r WHERE b.x = r.c1";

    fn write(form: Option<&'static str>, value: SqlValue, expect: Option<u64>) -> RecordWrite {
        let mut write = RecordWrite::new("SELECT $1", vec![value]);
        if let Some(rows) = expect {
            write = write.expecting_rows(rows);
        }
        match form {
            Some(form) => write.combining(form),
            None => write,
        }
    }

    /// The plan as (rows combined, or the group of a write on its own).
    fn shape(plan: &[Combined<'_>]) -> Vec<Result<usize, usize>> {
        plan.iter()
            .map(|c| match c {
                Combined::One(group, _) => Err(*group),
                Combined::Many { writes, .. } => Ok(writes.len()),
            })
            .collect()
    }

    #[test]
    fn writes_of_one_kind_combine_where_the_first_was_and_the_rest_run_alone() {
        let a = write(Some(FORM_A), SqlValue::from(1_i64), Some(1));
        let b = write(Some(FORM_B), SqlValue::from(1_i64), Some(1));
        let plain = write(None, SqlValue::from(1_i64), Some(1));
        let text = write(Some(FORM_A), SqlValue::from("x"), Some(1));
        let unsaid = write(Some(FORM_A), SqlValue::from(1_i64), None);
        let two = write(Some(FORM_A), SqlValue::from(1_i64), Some(2));
        let round = [
            (0, &a),
            (1, &plain),
            (2, &b),
            (3, &a),
            (4, &text),
            (5, &a),
            (6, &unsaid),
            (7, &two),
            (8, &two),
        ];
        assert_eq!(
            shape(&Combined::plan(&round)),
            vec![
                Ok(3),  // a, groups 0, 3, 5
                Err(1), // no form
                Err(2), // b, alone of its kind
                Err(4), // a's form, but text values
                Err(6), // a's form, rows unsaid: its own kind, alone
                Err(7), // two rows each: a count cannot tell whose
                Err(8),
            ]
        );
    }

    #[test]
    fn a_combined_statement_holds_at_most_its_bound_of_rows() {
        let a = write(Some(FORM_A), SqlValue::from(1_i64), Some(1));
        let round: Vec<(usize, &RecordWrite)> =
            (0..=COMBINED_ROWS_MAX + 1).map(|g| (g, &a)).collect();
        assert_eq!(
            shape(&Combined::plan(&round)),
            vec![Ok(COMBINED_ROWS_MAX), Ok(2)]
        );
        let last_alone: Vec<(usize, &RecordWrite)> =
            (0..=COMBINED_ROWS_MAX).map(|g| (g, &a)).collect();
        assert_eq!(
            shape(&Combined::plan(&last_alone)),
            vec![Ok(COMBINED_ROWS_MAX), Err(COMBINED_ROWS_MAX)]
        );
    }
}
