//! `ledger`: paybot's double-entry ledger, on SQLite or PostgreSQL.
//!
//! The data model is TigerBeetle's on SQL: accounts with four running totals
//! (debits/credits, posted/pending), immutable transfers with client-chosen
//! 128-bit ids that double as idempotency keys, two-phase transfers
//! (pending, then post, void or expiry, each exactly once) and linked groups
//! that commit all-or-nothing.
//!
//! The one design decision to know: **every write goes through a single
//! group-commit writer**. [`Ledger::submit`] queues a linked group on a
//! bounded channel; the writer drains up to [`BATCH_GROUPS_MAX`] groups,
//! loads and locks what they touch (accounts in sorted id order), runs them
//! through the pure state machine in `engine`, writes the new rows and
//! account deltas, and commits once. Many concurrent payments cost one
//! durable commit, and no check-then-write race exists because funds are
//! checked under the lock that the write holds.
//!
//! Each batch is committed by a task on a writer connection of its own,
//! kept from batch to batch. SQLite has one write lock, so one batch is in
//! flight (and its kept connection's page cache stays warm), and its writer
//! runs on an OS thread of its own, so that no chat task delays the next
//! statement while the lock is held. PostgreSQL has
//! up to [`PIPELINED_BATCHES_MAX`]: while one batch waits for its commit to
//! be durable, the next reads, locks and writes; batches that touch the same
//! accounts serialize on those row locks exactly as two processes' writers
//! do, and one that lost a race (the same new transfer id in both) is
//! retried whole. [`Ledger::writer_stats`] counts batches, their sizes and
//! their commit time.
//!
//! A batch costs one durable commit however many groups it holds, so the
//! writer fills it: after answering a batch it waits (at most
//! [`BATCH_REFILL_WAIT_US_MAX`]) for as many groups as it answered. Each
//! set of rows a batch writes or reads goes to one statement of fixed text,
//! prepared once per connection. On SQLite the writer keeps the accounts it
//! committed while no other connection commits (`PRAGMA data_version`), and
//! the WAL is checkpointed beside the commits, not inside them.
//!
//! The ledger knows nothing of chats, users or cards: owners are opaque
//! references and reason codes are plain numbers.
//!
//! The SQL storage engine (sqlx, both backends) is the crate's `sql`
//! feature, off by default. Without it the money types, the ledger's types,
//! the state machine and the invariant reports compile, and the [`Ledger`]
//! handle exists as a type (so the chat core can name it and stay free of
//! database drivers), but [`Ledger::connect`] answers
//! [`LedgerError::NoStorageEngine`]. No sqlx type appears in the public API
//! either way: storage failures are [`StorageError`]s, and what callers may
//! want to read from the database (its durability settings) comes through
//! methods such as [`Ledger::durability`].

// Without the storage engine no `Ledger` can be connected: the state machine
// has no caller and every storage call site is an unreachable match arm.
#![cfg_attr(not(feature = "sql"), allow(dead_code, unused_variables))]

mod engine;
mod migration;
mod money;
mod records;
#[cfg(feature = "sql")]
mod store;
mod types;
mod verify;

#[cfg(feature = "testing")]
pub mod testing;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

pub use engine::LINKED_TRANSFERS_MAX;
pub use migration::{LEDGER_MIGRATIONS, Migration};
pub use money::{
    AMOUNT_MAJOR_UNITS_MAX, AMOUNT_TEXT_BYTES_MAX, Amount, AmountError, Currency, format_minor,
    minor_to_decimal, parse_money,
};
pub use records::{
    RECORD_SQL_BYTES_MAX, RECORD_VALUES_MAX, ROWS_PLACEHOLDER, RecordWrite, SqlValue,
    UNIT_RECORDS_MAX, Unit,
};
pub use types::{
    Account, AccountFlags, AccountId, AccountKind, Balance, CurrencyTotals, Durability,
    HistoryCursor, HistoryPage, LedgerError, NewAccount, NewTransfer, OUTBOX_PAYLOAD_BYTES_MAX,
    OUTBOX_TOPIC_BYTES_MAX, OWNER_REF_BYTES_MAX, OutboxMessage, Outcome, OwnerRef,
    PENDING_TIMEOUT_SECS_MAX, StorageError, StoredOutboxMessage, Transfer, TransferError,
    TransferId, TransferKind, TransferOp,
};
pub use verify::Violation;

#[cfg(feature = "sql")]
pub use store::{
    POOL_PING_AFTER_IDLE_MS, PostgresTls, StatementPool, postgres_options, postgres_pool_options,
};

/// Most linked groups committed in one database transaction.
pub const BATCH_GROUPS_MAX: usize = 512;
/// Most batches the writer has in flight at once on PostgreSQL, each on a
/// connection of its own: while one waits for its commit to be durable, the
/// next reads, locks and writes. (SQLite has one write lock: one batch.)
pub const PIPELINED_BATCHES_MAX: usize = 2;
/// On SQLite, after how many committed batches the writer starts a passive
/// checkpoint on another connection (when none is running), so that the WAL
/// is copied back into the database beside the commits rather than inside
/// one of them.
pub const SQLITE_CHECKPOINT_EVERY_BATCHES: u64 = 32;
/// On SQLite, how many transfers the writer commits before it indexes them
/// by account in one step (ledger migration 4), in a transaction of its own
/// between two batches: each page of the accounts' entries is then
/// rewritten once a step, not once a commit. An account's history also
/// reads the transfers past the last step, about this many at most.
pub const SQLITE_ENTRIES_STEP_TRANSFERS: u64 = 8_192;
/// How long after answering a batch the writer waits, at most, for as many
/// groups as that batch held before it starts the next one, in
/// microseconds: the submitters it answered are submitting again, and a
/// batch closed before they are back commits them a commit later.
pub const BATCH_REFILL_WAIT_US_MAX: u64 = 500;
/// Most linked groups waiting for the writer; submitters wait beyond it.
pub const SUBMIT_QUEUE_GROUPS_MAX: usize = 8_192;
/// Most transfers on one history page.
pub const HISTORY_PAGE_TRANSFERS_MAX: u32 = 500;
/// Most pending transfers the sweeper expires per round.
pub const SWEEP_TRANSFERS_MAX: u32 = 1_000;
/// How long a connection waits for SQLite's write lock, in milliseconds.
pub const SQLITE_BUSY_TIMEOUT_MS: u64 = 5_000;
/// How long to wait for a free pooled connection, in seconds.
pub const POOL_ACQUIRE_TIMEOUT_SECS: u64 = 10;

/// Buckets of [`WriterStats::batch_groups`]: 1, 2-3, 4-7, ..., 256-511, 512
/// groups per committed batch (powers of two up to [`BATCH_GROUPS_MAX`]).
pub const BATCH_SIZE_BUCKETS: usize = 10;

/// Upper bounds, in microseconds, of the buckets of
/// [`WriterStats::commit_latency`] (a batch whose commit took exactly a bound
/// counts in that bound's bucket). One more bucket counts the slower ones.
pub const COMMIT_LATENCY_BOUNDS_US: [u64; 27] = [
    100, 150, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 7_500, 10_000, 15_000, 20_000,
    30_000, 50_000, 75_000, 100_000, 150_000, 200_000, 300_000, 500_000, 750_000, 1_000_000,
    2_000_000, 5_000_000,
];
/// Buckets of [`WriterStats::commit_latency`]: one per bound in
/// [`COMMIT_LATENCY_BOUNDS_US`] and one for slower commits.
pub const COMMIT_LATENCY_BUCKETS: usize = COMMIT_LATENCY_BOUNDS_US.len() + 1;

/// What the group-commit writer has done since [`Ledger::connect`]: cheap
/// counters, for benchmarks and operators. Subtract two snapshots to get
/// the figures of the time between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterStats {
    /// Database transactions committed by the writer.
    pub batches: u64,
    /// Linked groups in those transactions (applied or refused).
    pub groups: u64,
    /// Batches that failed as a whole (every submitter got the error).
    pub failed_batches: u64,
    /// Committed batches by size: bucket `i` counts batches of `2^i` to
    /// `2^(i+1) - 1` groups.
    pub batch_groups: [u64; BATCH_SIZE_BUCKETS],
    /// Time the committed batches took, from taking a connection to the
    /// database acknowledging the durable commit (retries included), summed,
    /// in microseconds.
    pub commit_us_total: u64,
    /// Committed batches by commit time (as in `commit_us_total`): bucket
    /// `i` counts commits of at most `COMMIT_LATENCY_BOUNDS_US[i]` that were
    /// slower than the bound before; the last bucket, the slower ones. Not
    /// cumulative (a Prometheus exporter sums them).
    pub commit_latency: [u64; COMMIT_LATENCY_BUCKETS],
}

impl Default for WriterStats {
    fn default() -> WriterStats {
        WriterStats {
            batches: 0,
            groups: 0,
            failed_batches: 0,
            batch_groups: [0; BATCH_SIZE_BUCKETS],
            commit_us_total: 0,
            commit_latency: [0; COMMIT_LATENCY_BUCKETS],
        }
    }
}

/// `now - then` per bucket.
fn buckets_since<const N: usize>(now: &[u64; N], then: &[u64; N]) -> [u64; N] {
    std::array::from_fn(|i| {
        let now = now.get(i).copied().unwrap_or(0);
        now.saturating_sub(then.get(i).copied().unwrap_or(0))
    })
}

impl WriterStats {
    /// The counts from `earlier` to `self`.
    pub fn since(&self, earlier: &WriterStats) -> WriterStats {
        WriterStats {
            batches: self.batches.saturating_sub(earlier.batches),
            groups: self.groups.saturating_sub(earlier.groups),
            failed_batches: self.failed_batches.saturating_sub(earlier.failed_batches),
            batch_groups: buckets_since(&self.batch_groups, &earlier.batch_groups),
            commit_us_total: self.commit_us_total.saturating_sub(earlier.commit_us_total),
            commit_latency: buckets_since(&self.commit_latency, &earlier.commit_latency),
        }
    }

    /// The smallest and largest batch size that bucket `index` counts.
    pub fn bucket_bounds(index: usize) -> (usize, usize) {
        let low = 1_usize << index.min(BATCH_SIZE_BUCKETS - 1);
        let high = low.saturating_mul(2).saturating_sub(1);
        (low, high.min(BATCH_GROUPS_MAX))
    }

    /// The commit time, in microseconds, under which a fraction `q` (0 to 1)
    /// of the committed batches fell, estimated from
    /// [`WriterStats::commit_latency`] by linear interpolation inside the
    /// bucket. `None` when no batch was committed; [`u64::MAX`] when the
    /// quantile lies in the bucket of commits slower than the last bound.
    pub fn commit_quantile_us(&self, q: f64) -> Option<u64> {
        let total: u64 = self.commit_latency.iter().sum();
        if total == 0 {
            return None;
        }
        #[allow(clippy::as_conversions, clippy::cast_precision_loss)] // an estimate
        let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
        let mut below = 0_u64;
        let mut low = 0_u64;
        for (index, &count) in self.commit_latency.iter().enumerate() {
            let Some(&high) = COMMIT_LATENCY_BOUNDS_US.get(index) else {
                return Some(u64::MAX);
            };
            #[allow(clippy::as_conversions, clippy::cast_precision_loss)]
            if count > 0 && (below + count) as f64 >= rank {
                let within = (rank - below as f64) / count as f64;
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                return Some(low + (within * (high - low) as f64) as u64);
            }
            below += count;
            low = high;
        }
        Some(u64::MAX)
    }
}

/// What waits in the outbox (see [`Ledger::outbox_backlog`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxBacklog {
    /// Messages not yet delivered (nor dropped), up to the count asked for.
    pub messages: u64,
    /// When the oldest of them was written (ms since the epoch).
    pub oldest_created_at_ms: Option<i64>,
}

/// The writer's counters, shared between the writer task and the handles.
#[derive(Debug, Default)]
struct WriterCounters {
    batches: AtomicU64,
    groups: AtomicU64,
    failed_batches: AtomicU64,
    batch_groups: [AtomicU64; BATCH_SIZE_BUCKETS],
    commit_us_total: AtomicU64,
    commit_latency: [AtomicU64; COMMIT_LATENCY_BUCKETS],
}

impl WriterCounters {
    fn committed(&self, groups: usize, took: Duration) {
        let count = u64::try_from(groups).unwrap_or(u64::MAX);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.groups.fetch_add(count, Ordering::Relaxed);
        let bucket = usize::try_from(groups.max(1).ilog2()).unwrap_or(usize::MAX);
        let bucket = bucket.min(BATCH_SIZE_BUCKETS - 1);
        if let Some(counter) = self.batch_groups.get(bucket) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.commit_us_total.fetch_add(us, Ordering::Relaxed);
        let bucket = COMMIT_LATENCY_BOUNDS_US.partition_point(|&bound| bound < us);
        if let Some(counter) = self.commit_latency.get(bucket) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn snapshot(&self) -> WriterStats {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WriterStats {
            batches: load(&self.batches),
            groups: load(&self.groups),
            failed_batches: load(&self.failed_batches),
            batch_groups: std::array::from_fn(|i| self.batch_groups.get(i).map_or(0, load)),
            commit_us_total: load(&self.commit_us_total),
            commit_latency: std::array::from_fn(|i| self.commit_latency.get(i).map_or(0, load)),
        }
    }
}

/// Where time comes from. Injected so tests can freeze and advance it.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A clock that moves only when told to. For tests and simulations.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start_ms: i64) -> ManualClock {
        ManualClock(AtomicI64::new(start_ms))
    }

    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// How SQLite syncs commits to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSync {
    /// Every commit is on disk before it is acknowledged: survives power loss.
    #[default]
    Full,
    /// Survives a crash of paybot but may lose the last commits on power loss.
    Normal,
}

/// How to reach the database.
#[derive(Clone)]
pub struct LedgerConfig {
    /// `sqlite:PATH` (or `sqlite://PATH`) or `postgres://...`. May carry a
    /// password: `Debug` does not print it.
    pub url: String,
    pub sqlite_sync: SqliteSync,
    pub pool_connections_max: u32,
    /// SQLite only: create the file when it does not exist.
    pub create_if_missing: bool,
    /// SQLite only: how many transfers the writer commits between two
    /// steps that index them by account for their history (ledger
    /// migration 4); a history reads about this many transfers past the
    /// last step. Default [`SQLITE_ENTRIES_STEP_TRANSFERS`].
    pub sqlite_entries_step_transfers: u64,
}

impl LedgerConfig {
    pub fn new(url: impl Into<String>) -> LedgerConfig {
        LedgerConfig {
            url: url.into(),
            sqlite_sync: SqliteSync::Full,
            pool_connections_max: 8,
            create_if_missing: true,
            sqlite_entries_step_transfers: SQLITE_ENTRIES_STEP_TRANSFERS,
        }
    }
}

impl fmt::Debug for LedgerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.url.split(':').next().unwrap_or_default();
        f.debug_struct("LedgerConfig")
            .field("url", &format_args!("{scheme}:[REDACTED]"))
            .field("sqlite_sync", &self.sqlite_sync)
            .field("pool_connections_max", &self.pool_connections_max)
            .field("create_if_missing", &self.create_if_missing)
            .field(
                "sqlite_entries_step_transfers",
                &self.sqlite_entries_step_transfers,
            )
            .finish()
    }
}

/// Why a submitted transfer or group did not go through.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The ledger refused it; nothing was written. `index` is the position
    /// of the refused transfer in its linked group.
    #[error("transfer #{index} refused: {error}")]
    Rejected { index: usize, error: TransferError },
    /// The store failed; the outcome is unknown. Retry with the same ids:
    /// the retry answers "exists" if the first attempt was committed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Record write #`record` of the unit did not change the rows it
    /// expected (a compare-and-swap lost, a key was taken): nothing of the
    /// unit was written, neither its transfers nor its records.
    #[error("record write #{record} found its rows changed; nothing was written")]
    RecordConflict { record: usize },
}

impl SubmitError {
    /// The ledger's refusal, if that is what this is.
    pub fn rejection(&self) -> Option<&TransferError> {
        match self {
            SubmitError::Rejected { error, .. } => Some(error),
            SubmitError::Ledger(_) | SubmitError::RecordConflict { .. } => None,
        }
    }
}

#[derive(Clone)]
enum Backend {
    #[cfg(feature = "sql")]
    Sqlite(store::sqlite::Pool),
    #[cfg(feature = "sql")]
    Postgres(store::postgres::Pool),
    /// Without a storage engine there is no backend; `connect` refuses
    /// before one would be made, so no handle holds this.
    #[cfg(not(feature = "sql"))]
    Unavailable,
}

/// Runs the same storage call on whichever backend is configured; its error
/// becomes a [`LedgerError`].
macro_rules! on_backend {
    ($backend:expr, $pool:ident => $call:expr) => {
        match $backend {
            #[cfg(feature = "sql")]
            Backend::Sqlite($pool) => {
                #[allow(unused_imports)]
                use store::sqlite as db;
                $call.map_err(LedgerError::from)
            }
            #[cfg(feature = "sql")]
            Backend::Postgres($pool) => {
                #[allow(unused_imports)]
                use store::postgres as db;
                $call.map_err(LedgerError::from)
            }
            #[cfg(not(feature = "sql"))]
            Backend::Unavailable => Err(LedgerError::NoStorageEngine),
        }
    };
}

/// The writer's handle on the database: a connection of its own.
enum BatchWriter {
    #[cfg(feature = "sql")]
    Sqlite(store::sqlite::Writer),
    #[cfg(feature = "sql")]
    Postgres(store::postgres::Writer),
    #[cfg(not(feature = "sql"))]
    Unavailable,
}

impl BatchWriter {
    fn new(backend: &Backend, entries_step: u64) -> BatchWriter {
        match backend {
            #[cfg(feature = "sql")]
            Backend::Sqlite(pool) => {
                BatchWriter::Sqlite(store::sqlite::Writer::new(pool.clone(), true, entries_step))
            }
            #[cfg(feature = "sql")]
            Backend::Postgres(pool) => BatchWriter::Postgres(store::postgres::Writer::new(
                pool.clone(),
                true,
                entries_step,
            )),
            #[cfg(not(feature = "sql"))]
            Backend::Unavailable => BatchWriter::Unavailable,
        }
    }

    /// Gives the kept connection back to the pool.
    fn release(&mut self) {
        match self {
            #[cfg(feature = "sql")]
            BatchWriter::Sqlite(w) => w.release(),
            #[cfg(feature = "sql")]
            BatchWriter::Postgres(w) => w.release(),
            #[cfg(not(feature = "sql"))]
            BatchWriter::Unavailable => {}
        }
    }

    async fn commit_batch(
        &mut self,
        groups: &[BatchItem<'_>],
        now_ms: i64,
    ) -> Result<Vec<GroupAnswer>, LedgerError> {
        match self {
            #[cfg(feature = "sql")]
            BatchWriter::Sqlite(w) => w
                .commit_batch(groups, now_ms)
                .await
                .map_err(LedgerError::from),
            #[cfg(feature = "sql")]
            BatchWriter::Postgres(w) => w
                .commit_batch(groups, now_ms)
                .await
                .map_err(LedgerError::from),
            #[cfg(not(feature = "sql"))]
            BatchWriter::Unavailable => Err(LedgerError::NoStorageEngine),
        }
    }
}

/// One linked group of a batch, with the outbox messages and record writes
/// written if (and only if) the group succeeds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchItem<'a> {
    pub(crate) transfers: &'a [NewTransfer],
    pub(crate) outbox: &'a [OutboxMessage],
    pub(crate) records: &'a [RecordWrite],
}

/// What the batch did with one group: the engine's result, or
/// `Err(record)`: record write #`record` changed other rows than it
/// expected, so the group was left out of the batch.
pub(crate) type GroupAnswer = Result<engine::GroupResult, usize>;

type GroupReply = oneshot::Sender<Result<GroupAnswer, Arc<LedgerError>>>;

struct Job {
    unit: Unit,
    reply: GroupReply,
}

struct Inner {
    backend: Backend,
    config: LedgerConfig,
    clock: Arc<dyn Clock>,
    submit: mpsc::Sender<Job>,
    counters: Arc<WriterCounters>,
    /// Set by [`Ledger::close`]: the writer gives its connections back to
    /// the pool, which waits for them before it closes.
    closing: tokio::sync::watch::Sender<bool>,
}

/// A handle to the ledger. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

impl fmt::Debug for Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match &self.inner.backend {
            #[cfg(feature = "sql")]
            Backend::Sqlite(_) => "sqlite",
            #[cfg(feature = "sql")]
            Backend::Postgres(_) => "postgres",
            #[cfg(not(feature = "sql"))]
            Backend::Unavailable => "none",
        };
        f.debug_struct("Ledger")
            .field("backend", &backend)
            .finish_non_exhaustive()
    }
}

/// Opens an account unless it is open (`$1..$5`: owner, kind, currency,
/// flags, time), on either backend.
const INSERT_ACCOUNT_SQL: &str =
    "INSERT INTO accounts (owner, kind, currency, flags, created_at_ms)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (owner, kind, currency) DO NOTHING";

impl Ledger {
    /// Connects (creating a SQLite file if missing) and starts the writer.
    /// Does not migrate: call [`Ledger::migrate`]. Without the `sql`
    /// feature: [`LedgerError::NoStorageEngine`].
    pub async fn connect(
        config: &LedgerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Ledger, LedgerError> {
        let backend = connect_backend(config).await?;
        let (submit, receiver) = mpsc::channel(SUBMIT_QUEUE_GROUPS_MAX);
        let counters = Arc::new(WriterCounters::default());
        let (closing, closing_seen) = tokio::sync::watch::channel(false);
        let writer = run_writer(
            backend.clone(),
            Arc::clone(&clock),
            receiver,
            Arc::clone(&counters),
            closing_seen,
            config.sqlite_entries_step_transfers.max(1),
        );
        match &backend {
            #[cfg(feature = "sql")]
            Backend::Sqlite(_) => spawn_writer_thread(writer)?,
            _ => drop(tokio::spawn(writer)),
        }
        Ok(Ledger {
            inner: Arc::new(Inner {
                backend,
                config: config.clone(),
                clock,
                submit,
                counters,
                closing,
            }),
        })
    }

    /// Applies the ledger's schema migrations and then `extra` (other
    /// components' tables, kept in the same database). Safe to run from
    /// several processes at once.
    pub async fn migrate(&self, extra: &[Migration]) -> Result<(), LedgerError> {
        let all: Vec<Migration> = LEDGER_MIGRATIONS.iter().chain(extra).copied().collect();
        let now = self.now_ms();
        on_backend!(&self.inner.backend, pool => db::migrate(pool, &all, now).await)
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<(), LedgerError> {
        on_backend!(&self.inner.backend, pool => db::ping(pool).await)
    }

    /// How the database makes commits durable, read back from it (SQLite's
    /// `journal_mode` and `synchronous`, PostgreSQL's `synchronous_commit`
    /// and `fsync`), for benchmarks and operators to print.
    pub async fn durability(&self) -> Result<Durability, LedgerError> {
        on_backend!(&self.inner.backend, pool => db::durability(pool).await)
    }

    /// How this ledger reached its database. Other components that keep
    /// their tables in the same database (the bot's store) open their own
    /// connections with it: the ledger hands out no connection.
    pub fn config(&self) -> &LedgerConfig {
        &self.inner.config
    }

    /// What this handle's group-commit writer has done so far.
    pub fn writer_stats(&self) -> WriterStats {
        self.inner.counters.snapshot()
    }

    /// The ledger's clock.
    pub fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// Opens the account for (owner, kind, currency), or returns the one
    /// that exists.
    ///
    /// An account that exists is read, and nothing is written. On SQLite a
    /// new one is inserted in the writer's batch transaction, as a record
    /// write of the next batch: an insert on a connection of its own waited
    /// for the writer's lock while batches kept committing, and it made the
    /// writer drop the accounts it keeps. On PostgreSQL, whose writer's batches serialize on
    /// the rows they lock, it is inserted on its own. Callers opening the
    /// same account at once get the same one.
    pub async fn open_account(&self, new: &NewAccount) -> Result<Account, LedgerError> {
        if let Some(account) = self.account_by_key(new).await? {
            return Ok(account);
        }
        let now = self.now_ms();
        if !self.writes_through_writer() {
            return on_backend!(&self.inner.backend, pool => db::open_account(pool, new, now).await);
        }
        let insert = RecordWrite::new(
            INSERT_ACCOUNT_SQL,
            vec![
                SqlValue::from(new.owner.as_str()),
                SqlValue::from(i64::from(new.kind.to_db())),
                SqlValue::from(new.currency.code()),
                SqlValue::from(i64::from(new.kind.default_flags().bits())),
                SqlValue::from(now),
            ],
        );
        match self.commit(Unit::records(vec![insert])).await {
            Ok(_) => {}
            Err(SubmitError::Ledger(error)) => return Err(error),
            // Neither can happen to a unit of one unconditional insert.
            Err(SubmitError::Rejected { .. } | SubmitError::RecordConflict { .. }) => {
                return Err(LedgerError::Corrupt(
                    "an account's insert was refused".into(),
                ));
            }
        }
        self.account_by_key(new)
            .await?
            .ok_or_else(|| LedgerError::Corrupt("an account opened is missing".into()))
    }

    /// The account for (owner, kind, currency), if it is open.
    async fn account_by_key(&self, new: &NewAccount) -> Result<Option<Account>, LedgerError> {
        on_backend!(&self.inner.backend, pool => db::account_by_key(pool, new).await)
    }

    pub async fn account(&self, id: AccountId) -> Result<Option<Account>, LedgerError> {
        on_backend!(&self.inner.backend, pool => db::account(pool, id).await)
    }

    /// Every account of one owner, oldest first.
    pub async fn accounts_of(&self, owner: &OwnerRef) -> Result<Vec<Account>, LedgerError> {
        on_backend!(&self.inner.backend, pool => db::accounts_of(pool, owner).await)
    }

    pub async fn balance(&self, id: AccountId) -> Result<Option<Balance>, LedgerError> {
        Ok(self.account(id).await?.map(|a| a.balance()))
    }

    pub async fn transfer(&self, id: TransferId) -> Result<Option<Transfer>, LedgerError> {
        on_backend!(&self.inner.backend, pool => db::transfer(pool, id).await)
    }

    /// The post, void or expiry of a pending transfer, if it has one.
    pub async fn resolution_of(
        &self,
        pending: TransferId,
    ) -> Result<Option<Transfer>, LedgerError> {
        on_backend!(&self.inner.backend, pool => db::resolution_of(pool, pending).await)
    }

    /// An account's transfers, newest first, `limit` (at most
    /// [`HISTORY_PAGE_TRANSFERS_MAX`]) at a time.
    pub async fn history(
        &self,
        account: AccountId,
        cursor: HistoryCursor,
        limit: u32,
    ) -> Result<HistoryPage, LedgerError> {
        let limit = limit.clamp(1, HISTORY_PAGE_TRANSFERS_MAX);
        on_backend!(&self.inner.backend, pool => db::history(pool, account, cursor, limit).await)
    }

    /// Open pending transfers debiting `account` (neither posted, voided
    /// nor expired yet), soonest deadline first, at most `limit` (at most
    /// [`HISTORY_PAGE_TRANSFERS_MAX`]). A deadline may already have passed
    /// when the sweeper has not run since.
    pub async fn open_pending_debits(
        &self,
        account: AccountId,
        limit: u32,
    ) -> Result<Vec<Transfer>, LedgerError> {
        let limit = limit.clamp(1, HISTORY_PAGE_TRANSFERS_MAX);
        on_backend!(&self.inner.backend, pool => db::open_pending_debits(pool, account, limit).await)
    }

    /// Sums per currency over all accounts.
    pub async fn currency_totals(&self) -> Result<Vec<CurrencyTotals>, LedgerError> {
        on_backend!(&self.inner.backend, pool => db::currency_totals(pool).await)
    }

    /// Checks every invariant; an empty list means the ledger is sound.
    /// [`LedgerError::NotMigrated`] on a database without the ledger's tables.
    pub async fn verify(&self) -> Result<Vec<Violation>, LedgerError> {
        on_backend!(&self.inner.backend, pool => async {
            if !db::is_migrated(pool).await? {
                return Err(LedgerError::NotMigrated.into());
            }
            db::verify(pool).await
        }.await)
    }

    /// Submits one transfer.
    pub async fn submit(&self, transfer: NewTransfer) -> Result<Outcome, SubmitError> {
        let mut outcomes = self.submit_linked(vec![transfer]).await?;
        outcomes
            .pop()
            .ok_or(SubmitError::Ledger(LedgerError::ShutDown))
    }

    /// Submits a linked group (at most [`LINKED_TRANSFERS_MAX`]): all of it
    /// is recorded, or none of it.
    pub async fn submit_linked(
        &self,
        group: Vec<NewTransfer>,
    ) -> Result<Vec<Outcome>, SubmitError> {
        self.submit_linked_with_outbox(group, Vec::new()).await
    }

    /// Submits a linked group and, in the same database transaction, the
    /// outbox messages that announce it: they are written if and only if the
    /// group is (including when the group already existed, so a retried event
    /// re-announces nothing twice: ids deduplicate).
    pub async fn submit_linked_with_outbox(
        &self,
        group: Vec<NewTransfer>,
        outbox: Vec<OutboxMessage>,
    ) -> Result<Vec<Outcome>, SubmitError> {
        self.commit(Unit {
            transfers: group,
            outbox,
            records: Vec::new(),
        })
        .await
    }

    /// Commits a [`Unit`]: its linked group (at most
    /// [`LINKED_TRANSFERS_MAX`]; empty when it only writes records), its
    /// outbox messages and its record writes (at most
    /// [`UNIT_RECORDS_MAX`]) in one database transaction, batched with
    /// other submitters' units: all of it, or none of it. A record write
    /// that did not change the rows it expected leaves the whole unit out
    /// ([`SubmitError::RecordConflict`]).
    pub async fn commit(&self, unit: Unit) -> Result<Vec<Outcome>, SubmitError> {
        if unit.records.len() > UNIT_RECORDS_MAX {
            return Err(LedgerError::InvalidRecord("too many record writes in one unit").into());
        }
        if !unit.records.iter().all(RecordWrite::within_bounds) {
            return Err(LedgerError::InvalidRecord("empty, too long or too many values").into());
        }
        let (reply, answer) = oneshot::channel();
        self.inner
            .submit
            .send(Job { unit, reply })
            .await
            .map_err(|_| LedgerError::ShutDown)?;
        match answer.await.map_err(|_| LedgerError::ShutDown)? {
            Ok(Ok(Ok(outcomes))) => Ok(outcomes),
            Ok(Ok(Err((index, error)))) => Err(SubmitError::Rejected { index, error }),
            Ok(Err(record)) => Err(SubmitError::RecordConflict { record }),
            Err(shared) => Err(SubmitError::Ledger(LedgerError::Batch(shared))),
        }
    }

    /// Expires pending transfers whose timeout has passed, at most
    /// [`SWEEP_TRANSFERS_MAX`] per call. Returns the ones this call expired
    /// (another process may have expired others first).
    pub async fn expire_due(&self) -> Result<Vec<Transfer>, LedgerError> {
        let now = self.now_ms();
        let due: Vec<TransferId> = on_backend!(&self.inner.backend, pool => {
            db::due_pending(pool, now, SWEEP_TRANSFERS_MAX).await
        })?;
        // Submitted together so the writer commits them in one batch.
        let mut submissions = tokio::task::JoinSet::new();
        for pending in due {
            let ledger = self.clone();
            submissions
                .spawn(async move { (pending, ledger.submit(NewTransfer::expire(pending)).await) });
        }
        let mut expired = Vec::new();
        let mut failure = None;
        while let Some(joined) = submissions.join_next().await {
            let Ok((pending, result)) = joined else {
                continue;
            };
            match result {
                Ok(Outcome::Created(t)) => expired.push(t),
                Ok(Outcome::Exists(_)) => {}
                Err(SubmitError::Rejected { error, .. }) => {
                    // Resolved meanwhile by a post, void or another sweeper.
                    tracing::debug!(%pending, %error, "not expired");
                }
                Err(SubmitError::Ledger(e)) => failure = Some(e),
                Err(SubmitError::RecordConflict { .. }) => {}
            }
        }
        match failure {
            Some(e) if expired.is_empty() => Err(e),
            Some(e) => {
                // The ones that failed stay due and are retried next round.
                tracing::warn!(error = %e, expired = expired.len(), "some expiries failed");
                Ok(expired)
            }
            None => Ok(expired),
        }
    }

    /// Runs [`Ledger::expire_due`] every `interval` until `shutdown` is
    /// dropped or sent, handing each expired transfer to `on_expired`.
    pub fn spawn_sweeper(
        &self,
        interval: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
        on_expired: impl Fn(&Transfer) + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let ledger = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.changed() => break,
                }
                match ledger.expire_due().await {
                    Ok(expired) => expired.iter().for_each(&on_expired),
                    Err(e) => tracing::warn!(error = %e, "expiry sweep failed; will retry"),
                }
            }
        })
    }

    /// Writes outbox messages that go with no transfer. Ids deduplicate.
    pub async fn enqueue_outbox(&self, messages: &[OutboxMessage]) -> Result<(), LedgerError> {
        let now = self.now_ms();
        let refs: Vec<&OutboxMessage> = messages.iter().collect();
        on_backend!(&self.inner.backend, pool => db::enqueue_outbox(pool, &refs, now).await)
    }

    /// Outbox messages not yet delivered, oldest first, at most `limit`.
    pub async fn outbox_undelivered(
        &self,
        limit: u32,
    ) -> Result<Vec<StoredOutboxMessage>, LedgerError> {
        on_backend!(&self.inner.backend, pool => db::outbox_undelivered(pool, limit).await)
    }

    /// What waits in the outbox: messages not yet delivered (at most
    /// `counted_max` counted) and when the oldest of them was written.
    pub async fn outbox_backlog(&self, counted_max: u32) -> Result<OutboxBacklog, LedgerError> {
        let (messages, oldest_created_at_ms): (i64, Option<i64>) = on_backend!(
            &self.inner.backend,
            pool => db::outbox_backlog(pool, counted_max).await
        )?;
        Ok(OutboxBacklog {
            messages: u64::try_from(messages).unwrap_or(0),
            oldest_created_at_ms,
        })
    }

    /// Records that an outbox message was delivered: it is not handed out again.
    pub async fn outbox_delivered(&self, id: u128) -> Result<(), LedgerError> {
        let now = self.now_ms();
        on_backend!(&self.inner.backend, pool => db::outbox_settle(pool, id, Some(now)).await)
    }

    /// Records a failed delivery attempt; the message stays undelivered.
    pub async fn outbox_failed(&self, id: u128) -> Result<(), LedgerError> {
        on_backend!(&self.inner.backend, pool => db::outbox_settle(pool, id, None).await)
    }

    /// Records that these outbox messages were delivered, in one commit:
    /// none of them is handed out again.
    pub async fn outbox_delivered_many(&self, ids: &[u128]) -> Result<(), LedgerError> {
        let now = self.now_ms();
        if self.writes_through_writer() {
            return self.outbox_settle_in_batch(ids, Some(now)).await;
        }
        on_backend!(&self.inner.backend, pool => db::outbox_settle_many(pool, ids, Some(now)).await)
    }

    /// Records a failed delivery attempt of each of these outbox messages,
    /// in one commit; they stay undelivered.
    pub async fn outbox_failed_many(&self, ids: &[u128]) -> Result<(), LedgerError> {
        if self.writes_through_writer() {
            return self.outbox_settle_in_batch(ids, None).await;
        }
        on_backend!(&self.inner.backend, pool => db::outbox_settle_many(pool, ids, None).await)
    }

    /// Whether writes beside the money had better go through the writer's
    /// batches: on SQLite, whose one write lock the writer holds for its
    /// batches, a write of its own would wait for it.
    fn writes_through_writer(&self) -> bool {
        match &self.inner.backend {
            #[cfg(feature = "sql")]
            Backend::Sqlite(_) => true,
            #[cfg(feature = "sql")]
            Backend::Postgres(_) => false,
            #[cfg(not(feature = "sql"))]
            Backend::Unavailable => false,
        }
    }

    /// Marks outbox messages delivered (`Some(at)`) or counts a failed
    /// attempt (`None`) in the writer's batches, as record writes of
    /// [`RECORD_VALUES_MAX`] values at most.
    async fn outbox_settle_in_batch(
        &self,
        ids: &[u128],
        delivered_at_ms: Option<i64>,
    ) -> Result<(), LedgerError> {
        let (head, first) = match delivered_at_ms {
            Some(at) => (
                "UPDATE outbox SET delivered_at_ms = $1 WHERE id IN (",
                Some(at),
            ),
            None => (
                "UPDATE outbox SET attempts = attempts + 1 WHERE id IN (",
                None,
            ),
        };
        let offset = usize::from(first.is_some());
        let records: Vec<RecordWrite> = ids
            .chunks(RECORD_VALUES_MAX - offset)
            .map(|chunk| {
                let list: Vec<String> = (1..=chunk.len())
                    .map(|i| format!("${}", i + offset))
                    .collect();
                let mut values: Vec<SqlValue> = first.map(SqlValue::from).into_iter().collect();
                values.extend(chunk.iter().map(|id| SqlValue::Uuid(Some(*id))));
                RecordWrite::new(format!("{head}{})", list.join(", ")), values)
            })
            .collect();
        for unit in records.chunks(UNIT_RECORDS_MAX) {
            self.commit(Unit::records(unit.to_vec()))
                .await
                .map_err(|error| match error {
                    SubmitError::Ledger(e) => e,
                    other => LedgerError::InvalidRecord(
                        if matches!(other, SubmitError::Rejected { .. }) {
                            "outbox marks refused"
                        } else {
                            "outbox marks conflicted"
                        },
                    ),
                })?;
        }
        Ok(())
    }

    /// Closes the connection pool. Submissions after this fail.
    pub async fn close(&self) {
        let _ = self.inner.closing.send(true);
        match &self.inner.backend {
            #[cfg(feature = "sql")]
            Backend::Sqlite(pool) => pool.close().await,
            #[cfg(feature = "sql")]
            Backend::Postgres(pool) => pool.close().await,
            #[cfg(not(feature = "sql"))]
            Backend::Unavailable => {}
        }
    }
}

/// The file a `sqlite:PATH` (or `sqlite://PATH`) url names; `None` for
/// other urls and for in-memory databases.
pub fn sqlite_path(url: &str) -> Option<&std::path::Path> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or(path);
    (!path.is_empty() && path != ":memory:").then(|| std::path::Path::new(path))
}

/// Opens the pool `config` names, on the backend its url names.
#[cfg(feature = "sql")]
async fn connect_backend(config: &LedgerConfig) -> Result<Backend, LedgerError> {
    if let Some(path) = sqlite_path(&config.url) {
        if !config.create_if_missing && !path.is_file() {
            return Err(LedgerError::NoDatabase(path.display().to_string()));
        }
        Ok(Backend::Sqlite(store::connect_sqlite(path, config).await?))
    } else if config.url.starts_with("postgres://") || config.url.starts_with("postgresql://") {
        Ok(Backend::Postgres(store::connect_postgres(config).await?))
    } else {
        Err(LedgerError::UnsupportedUrl)
    }
}

/// Without a storage engine nothing can be opened.
#[cfg(not(feature = "sql"))]
async fn connect_backend(_config: &LedgerConfig) -> Result<Backend, LedgerError> {
    Err(LedgerError::NoStorageEngine)
}

/// A batch the writer handed to a commit task, back with its outcome and
/// how long the commit took.
type Committed = (
    BatchWriter,
    Vec<Job>,
    Result<Vec<GroupAnswer>, LedgerError>,
    Duration,
);

/// The group-commit loop: one database transaction per drained batch, up
/// to [`PIPELINED_BATCHES_MAX`] of them in flight on PostgreSQL (one on
/// SQLite, which has a single write lock).
async fn run_writer(
    backend: Backend,
    clock: Arc<dyn Clock>,
    mut jobs: mpsc::Receiver<Job>,
    counters: Arc<WriterCounters>,
    mut closing: tokio::sync::watch::Receiver<bool>,
    entries_step: u64,
) {
    let mut closed = false;
    let depth = pipeline_depth(&backend);
    let mut idle: Vec<BatchWriter> = (0..depth)
        .map(|_| BatchWriter::new(&backend, entries_step))
        .collect();
    let mut in_flight: tokio::task::JoinSet<Committed> = tokio::task::JoinSet::new();
    let mut checkpoints = Checkpoints::default();
    // The groups the last commit answered, and when.
    let mut answered = (0_usize, std::time::Instant::now());
    let mut open = true;
    while open || !in_flight.is_empty() {
        let mut batch: Vec<Job> = Vec::with_capacity(BATCH_GROUPS_MAX);
        tokio::select! {
            biased;
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                match done {
                    Ok((mut writer, batch, result, took)) => {
                        if closed {
                            writer.release();
                        }
                        idle.push(writer);
                        answered = (batch.len(), std::time::Instant::now());
                        answer(&counters, batch, result, took);
                        if !closed {
                            checkpoints.after_batch(&backend);
                        }
                    }
                    Err(e) => {
                        // Its submitters were answered "shut down" as its
                        // replies were dropped; the slot gets a new writer.
                        tracing::error!(error = %e, "a batch commit task failed");
                        counters.failed_batches.fetch_add(1, Ordering::Relaxed);
                        idle.push(BatchWriter::new(&backend, entries_step));
                    }
                }
                continue;
            }
            _ = closing.changed(), if !closed => {
                // Closing (or every handle dropped): the pool waits for the
                // connections the writers keep.
                closed = true;
                idle.iter_mut().for_each(BatchWriter::release);
                continue;
            }
            received = jobs.recv_many(&mut batch, BATCH_GROUPS_MAX), if open && !idle.is_empty() => {
                if received == 0 {
                    open = false;
                    continue;
                }
            }
            else => break,
        }
        // The submitters the last commit answered are submitting again right
        // now: let them run once before this batch is closed, or it would
        // commit the first of them alone and the rest a commit later. No
        // timer: an idle ledger commits a lone transfer at once.
        // And while they are still coming back (as many as the last commit
        // answered, for at most BATCH_REFILL_WAIT_US_MAX after it), wait for
        // them: a batch costs one durable commit however many it holds.
        // Only with one batch in flight at a time (SQLite): with two
        // (PostgreSQL), a batch that commits meanwhile would be answered only
        // after this wait, and measured runs were slower in two of three.
        let refill = if depth == 1 {
            answered.0.min(BATCH_GROUPS_MAX)
        } else {
            0
        };
        let refill_by = answered.1 + Duration::from_micros(BATCH_REFILL_WAIT_US_MAX);
        loop {
            tokio::task::yield_now().await;
            while batch.len() < BATCH_GROUPS_MAX {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            if batch.len() >= refill || std::time::Instant::now() >= refill_by {
                break;
            }
        }
        let Some(mut writer) = idle.pop() else {
            // Not reached: jobs are only received with a writer idle.
            continue;
        };
        let now = clock.now_ms();
        in_flight.spawn(async move {
            let began = std::time::Instant::now();
            let groups: Vec<BatchItem<'_>> = batch
                .iter()
                .map(|j| BatchItem {
                    transfers: &j.unit.transfers,
                    outbox: &j.unit.outbox,
                    records: &j.unit.records,
                })
                .collect();
            let result = writer.commit_batch(&groups, now).await;
            drop(groups);
            (writer, batch, result, began.elapsed())
        });
    }
}

/// Runs SQLite's writer on an OS thread of its own, with a single-threaded
/// runtime, instead of as a task among the chat's. Its batch is a string of
/// statements, each a hand-off to the connection's own thread and back;
/// as a task, every hand-back waited in the runtime's queue behind the
/// tasks of every message in flight, and the one write lock was held
/// meanwhile. As a thread, the operating system runs it as soon as a
/// statement is done. (`bench chat --backend sqlite`, six runs each way,
/// alternating: 1,317 against 1,183 payments/s on average, faster in all
/// six pairs.) A SQLite connection is a thread and channels, bound to no
/// runtime, so the pool's connections serve both. PostgreSQL's writer stays
/// a task: its connections are sockets registered with the runtime that
/// opened them.
#[cfg(feature = "sql")]
fn spawn_writer_thread(
    writer: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), LedgerError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LedgerError::Storage(StorageError::new(e)))?;
    std::thread::Builder::new()
        .name(WRITER_THREAD_NAME.to_owned())
        .spawn(move || runtime.block_on(writer))
        .map_err(|e| LedgerError::Storage(StorageError::new(e)))?;
    Ok(())
}

/// The name of SQLite's writer thread (in `top -H`, `perf`, panics).
#[cfg(feature = "sql")]
const WRITER_THREAD_NAME: &str = "ledger-writer";

/// The SQLite checkpoints the writer starts beside its commits: at most one
/// running, one per [`SQLITE_CHECKPOINT_EVERY_BATCHES`] batches.
#[derive(Debug, Default)]
struct Checkpoints {
    batches: u64,
    running: Option<tokio::task::JoinHandle<()>>,
}

impl Checkpoints {
    fn after_batch(&mut self, backend: &Backend) {
        self.batches = self.batches.wrapping_add(1);
        if !self.batches.is_multiple_of(SQLITE_CHECKPOINT_EVERY_BATCHES)
            || self.running.as_ref().is_some_and(|r| !r.is_finished())
        {
            return;
        }
        match backend {
            #[cfg(feature = "sql")]
            Backend::Sqlite(pool) => {
                let pool = pool.clone();
                self.running = Some(tokio::spawn(async move {
                    if let Err(e) = store::sqlite_checkpoint(&pool).await {
                        // The commits' own checkpoints still bound the WAL.
                        tracing::debug!(error = ?e, "background checkpoint failed");
                    }
                }));
            }
            #[cfg(feature = "sql")]
            Backend::Postgres(_) => {}
            #[cfg(not(feature = "sql"))]
            Backend::Unavailable => {}
        }
    }
}

/// How many batches the writer has in flight on `backend`.
fn pipeline_depth(backend: &Backend) -> usize {
    match backend {
        #[cfg(feature = "sql")]
        Backend::Postgres(_) => PIPELINED_BATCHES_MAX,
        #[cfg(feature = "sql")]
        Backend::Sqlite(_) => 1,
        #[cfg(not(feature = "sql"))]
        Backend::Unavailable => 1,
    }
}

/// Answers every submitter of a batch and counts it.
fn answer(
    counters: &WriterCounters,
    mut batch: Vec<Job>,
    result: Result<Vec<GroupAnswer>, LedgerError>,
    took: Duration,
) {
    match result {
        Ok(results) => {
            counters.committed(batch.len(), took);
            for (job, result) in batch.drain(..).zip(results) {
                // A submitter that stopped waiting still had its group applied.
                let _ = job.reply.send(Ok(result));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, groups = batch.len(), "batch commit failed");
            counters.failed_batches.fetch_add(1, Ordering::Relaxed);
            let shared = Arc::new(e);
            for job in batch.drain(..) {
                let _ = job.reply.send(Err(Arc::clone(&shared)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_latency_lands_in_its_bucket_and_since_subtracts_it() {
        let counters = WriterCounters::default();
        counters.committed(3, Duration::from_micros(100));
        let before = counters.snapshot();
        counters.committed(64, Duration::from_micros(101));
        counters.committed(64, Duration::from_secs(60));
        let stats = counters.snapshot().since(&before);
        assert_eq!(stats.batches, 2);
        assert_eq!(stats.groups, 128);
        assert_eq!(stats.commit_us_total, 60_000_101);
        // 101 us is over the first bound (100) and within the second.
        assert_eq!(stats.commit_latency.get(1), Some(&1));
        assert_eq!(stats.commit_latency.last(), Some(&1));
        assert_eq!(stats.commit_latency.iter().sum::<u64>(), 2);
        assert_eq!(stats.commit_quantile_us(0.99), Some(u64::MAX));
        let p50 = stats.commit_quantile_us(0.5).unwrap_or(0);
        assert!((100..=150).contains(&p50), "{p50}");
        assert_eq!(before.commit_latency.first(), Some(&1));
    }

    #[test]
    fn time_ordered_ids_sort_by_creation_millisecond() {
        let first = TransferId::time_ordered();
        std::thread::sleep(Duration::from_millis(2));
        let second = TransferId::time_ordered();
        assert!(first < second);
        assert_ne!(first, TransferId::time_ordered());
        let text = first.to_string();
        assert_eq!(text.chars().nth(14), Some('7'), "UUID version 7: {text}");
    }
}
