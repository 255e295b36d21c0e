//! Test support: a fresh ledger on a real database, SQLite or PostgreSQL.
//!
//! SQLite tests get a file in a temporary directory. PostgreSQL tests get a
//! database of their own on the server named by `PAYBOT_TEST_POSTGRES_URL`
//! (default `postgres://postgres@127.0.0.1:5432`), dropped by
//! [`TestDb::cleanup`]. When that server is unreachable the test is skipped
//! with a loud message, unless `CI=true`, where it fails.

use std::io::Write;
use std::sync::Arc;

use sqlx::Connection;

use crate::{
    AccountId, AccountKind, Amount, Currency, Ledger, LedgerConfig, ManualClock, NewAccount,
    NewTransfer, Outcome, OwnerRef, SubmitError, TransferId, Unit,
};

/// The default PostgreSQL server for tests.
pub const POSTGRES_URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432";

/// Where the test clock starts: 2026-01-01T00:00:00Z.
pub const CLOCK_START_MS: i64 = 1_767_225_600_000;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

/// What a [`TestDb`] removes when it goes: the SQLite file's folder, or
/// the PostgreSQL database (dropped by [`TestDb::cleanup`], else on drop,
/// also when the test panicked or returned early).
#[derive(Debug)]
enum Guard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    /// `name` is empty once the database is dropped.
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl Drop for Guard {
    fn drop(&mut self) {
        let Guard::Postgres { admin_url, name } = self else {
            return;
        };
        if name.is_empty() {
            return;
        }
        drop_postgres_database_from_drop(admin_url, &std::mem::take(name));
    }
}

/// A ledger on a fresh, migrated database, with a frozen clock.
#[derive(Debug)]
pub struct TestDb {
    pub ledger: Ledger,
    pub clock: Arc<ManualClock>,
    /// The database url, for opening a second ledger on the same database.
    pub url: String,
    pub backend: TestBackend,
    guard: Guard,
}

/// True when PostgreSQL tests must run (`CI=true`).
pub fn postgres_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn postgres_admin_url() -> String {
    std::env::var("PAYBOT_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL_DEFAULT.to_owned())
}

/// Creates an empty PostgreSQL database for one test and returns its url and
/// the admin url, or `None` (after a loud message) when the server is
/// unreachable outside CI.
///
/// # Panics
/// When the server is unreachable and `CI=true`.
#[allow(clippy::panic)]
pub async fn fresh_postgres_database() -> Option<(String, String, String)> {
    let admin_url = postgres_admin_url();
    let mut admin = match sqlx::PgConnection::connect(&format!("{admin_url}/postgres")).await {
        Ok(conn) => conn,
        Err(e) if !postgres_required() => {
            // Straight to stderr, past libtest's capture of `eprintln!`, so
            // the skip is seen in an ordinary `cargo test` run.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: PostgreSQL test: cannot reach {admin_url} ({e}). \
                 Start PostgreSQL or set PAYBOT_TEST_POSTGRES_URL; with CI=true this fails. ***\n"
            );
            return None;
        }
        Err(e) => panic!("CI=true and PostgreSQL at {admin_url} is unreachable: {e}"),
    };
    let name = format!("paybot_test_{}", uuid::Uuid::new_v4().simple());
    // The name is generated here from hex digits only: safe to splice.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
    let _ = admin.close().await;
    Some((format!("{admin_url}/{name}"), admin_url, name))
}

/// Drops a database made by [`fresh_postgres_database`].
pub async fn drop_postgres_database(admin_url: &str, name: &str) {
    if let Ok(mut admin) = sqlx::PgConnection::connect(&format!("{admin_url}/postgres")).await {
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
        {
            eprintln!("could not drop test database {name}: {e}");
        }
        let _ = admin.close().await;
    }
}

/// [`drop_postgres_database`] from a `Drop` (which may run inside a
/// runtime): on a thread of its own, with a runtime of its own; a failure
/// is a warning on stderr.
pub fn drop_postgres_database_from_drop(admin_url: &str, name: &str) {
    let (admin, database) = (admin_url.to_owned(), name.to_owned());
    let dropped = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(drop_postgres_database(&admin, &database));
        Ok::<(), std::io::Error>(())
    })
    .join();
    if !matches!(dropped, Ok(Ok(()))) {
        let _ = writeln!(
            std::io::stderr(),
            "warning: could not drop test database {name}: {dropped:?}"
        );
    }
}

/// `$body` with `$conn` a connection of its own to the database at `$url`
/// (SQLite or PostgreSQL), closed afterwards; a failure becomes its message.
macro_rules! on_connection {
    ($url:expr, $conn:ident => $body:expr) => {{
        let text = |e: sqlx::Error| e.to_string();
        if $url.starts_with("sqlite:") {
            let mut $conn = sqlx::SqliteConnection::connect($url).await.map_err(text)?;
            let result = $body.map_err(text);
            let _ = $conn.close().await;
            result
        } else {
            let mut $conn = sqlx::PgConnection::connect($url).await.map_err(text)?;
            let result = $body.map_err(text);
            let _ = $conn.close().await;
            result
        }
    }};
}

/// Runs one statement on the database at `url` through a connection of its
/// own, as an operator with a SQL shell would: for tests that tamper with
/// rows behind the ledger's back. The rows it changed, or the database's
/// message when it refused the statement. The ledger hands out no
/// connection; this is the tests' way in.
pub async fn execute_sql(url: &str, sql: &str) -> Result<u64, String> {
    on_connection!(url, conn => sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .map(|done| done.rows_affected()))
}

/// The one integer a query such as `SELECT COUNT(*) FROM transfers` returns,
/// read through a connection of its own (see [`execute_sql`]).
pub async fn query_i64(url: &str, sql: &str) -> Result<i64, String> {
    on_connection!(url, conn => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut conn)
        .await)
}

/// A fresh PostgreSQL [`TestDb`] whose server is on this machine, by its
/// usual names in the url (`127.0.0.1`, `localhost`, `[::1]`), with the
/// server's url and the database's name: for tests of what paybot does
/// for such a server (no TLS). `None`, after a loud message, when the
/// test server is elsewhere (or, as [`TestDb::fresh`], absent outside CI).
/// The names are written out here rather than asked of
/// [`crate::postgres_options`], the code those tests check.
///
/// # Panics
/// As [`TestDb::fresh`].
#[allow(clippy::panic)]
pub async fn fresh_postgres_on_this_machine() -> Option<(TestDb, String, String)> {
    let db = TestDb::fresh(TestBackend::Postgres).await?;
    let (server, name) = db
        .url
        .rsplit_once('/')
        .map(|(server, name)| (server.to_owned(), name.to_owned()))
        .unwrap_or_else(|| panic!("a test database url without a name: {}", db.url));
    let local = ["@127.0.0.1", "@localhost", "@[::1]"]
        .iter()
        .any(|host| server.contains(host));
    if !local {
        let _ = writeln!(
            std::io::stderr(),
            "\n*** not checked: the test server {server} is not on this machine ***\n"
        );
        db.cleanup().await;
        return None;
    }
    Some((db, server, name))
}

/// How many connections to database `name` on the PostgreSQL server at
/// `server` (a url without a database) use TLS, and how many do not, as
/// the server sees them (`pg_stat_ssl`), read through a connection of its
/// own to the server's `postgres` database.
pub async fn connections_by_tls(server: &str, name: &str) -> Result<(i64, i64), String> {
    let count = |tls: bool| {
        format!(
            "SELECT COUNT(*) FROM pg_stat_ssl AS s JOIN pg_stat_activity AS a USING (pid) \
             WHERE a.datname = '{name}' AND s.ssl = {tls}"
        )
    };
    let admin = format!("{server}/postgres");
    let encrypted = query_i64(&admin, &count(true)).await?;
    let plain = query_i64(&admin, &count(false)).await?;
    Ok((encrypted, plain))
}

impl TestDb {
    /// A fresh ledger, or `None` when PostgreSQL is unavailable outside CI.
    ///
    /// # Panics
    /// When the database cannot be set up.
    #[allow(clippy::panic)]
    pub async fn fresh(backend: TestBackend) -> Option<TestDb> {
        let (url, guard) = match backend {
            TestBackend::Sqlite => {
                let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
                let url = format!("sqlite:{}", dir.path().join("ledger.db").display());
                (url, Guard::Sqlite(dir))
            }
            TestBackend::Postgres => {
                let (url, admin_url, name) = fresh_postgres_database().await?;
                (url, Guard::Postgres { admin_url, name })
            }
        };
        let clock = Arc::new(ManualClock::new(CLOCK_START_MS));
        let ledger = Ledger::connect(&LedgerConfig::new(&url), clock.clone())
            .await
            .unwrap_or_else(|e| panic!("connect {url}: {e}"));
        ledger
            .migrate(&[])
            .await
            .unwrap_or_else(|e| panic!("migrate: {e}"));
        Some(TestDb {
            ledger,
            clock,
            url,
            backend,
            guard,
        })
    }

    /// Another ledger handle on the same database, with its own writer, as a
    /// second paybot process would have. Shares the clock.
    ///
    /// # Panics
    /// When it cannot connect.
    #[allow(clippy::panic)]
    pub async fn second_process(&self) -> Ledger {
        Ledger::connect(&LedgerConfig::new(&self.url), self.clock.clone())
            .await
            .unwrap_or_else(|e| panic!("connect {}: {e}", self.url))
    }

    /// [`execute_sql`] on this test's database.
    pub async fn execute(&self, sql: &str) -> Result<u64, String> {
        execute_sql(&self.url, sql).await
    }

    /// [`query_i64`] on this test's database.
    pub async fn query_i64(&self, sql: &str) -> Result<i64, String> {
        query_i64(&self.url, sql).await
    }

    /// Closes the ledger and removes the database (a `TestDb` never cleaned
    /// up removes it when dropped: see `Guard`).
    pub async fn cleanup(mut self) {
        self.ledger.close().await;
        if let Guard::Postgres { admin_url, name } = &mut self.guard {
            drop_postgres_database(admin_url, name).await;
            name.clear();
        }
    }

    /// Opens (or finds) a wallet for `owner`.
    ///
    /// # Panics
    /// On a store error.
    #[allow(clippy::panic)]
    pub async fn wallet(&self, owner: &str, currency: Currency) -> AccountId {
        let owner = OwnerRef::new(owner).unwrap_or_else(|e| panic!("{e}"));
        self.open(owner, AccountKind::UserWallet, currency).await
    }

    /// The issuance account of `currency`, where test money comes from.
    ///
    /// # Panics
    /// On a store error.
    pub async fn issuance(&self, currency: Currency) -> AccountId {
        self.open(OwnerRef::system(), AccountKind::Issuance, currency)
            .await
    }

    #[allow(clippy::panic)]
    async fn open(&self, owner: OwnerRef, kind: AccountKind, currency: Currency) -> AccountId {
        let new = NewAccount {
            owner,
            kind,
            currency,
        };
        self.ledger
            .open_account(&new)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .id
    }

    /// Credits `minor` units to `account` from issuance.
    ///
    /// # Panics
    /// When the ledger refuses it.
    #[allow(clippy::panic)]
    pub async fn fund(&self, account: AccountId, amount: Amount) {
        let issuance = self.issuance(amount.currency()).await;
        let t = NewTransfer::single(TransferId::random(), issuance, account, amount);
        self.ledger
            .submit(t)
            .await
            .unwrap_or_else(|e| panic!("funding: {e}"));
    }

    /// Commits `units` side by side (so the writer batches them, and
    /// combines their record writes of one form) and gives their answers
    /// in order.
    ///
    /// # Panics
    /// When a commit's task panicked.
    #[allow(clippy::panic)]
    pub async fn commit_side_by_side(
        &self,
        units: Vec<Unit>,
    ) -> Vec<Result<Vec<Outcome>, SubmitError>> {
        let tasks: Vec<_> = units
            .into_iter()
            .map(|unit| {
                let ledger = self.ledger.clone();
                tokio::spawn(async move { ledger.commit(unit).await })
            })
            .collect();
        let mut answers = Vec::with_capacity(tasks.len());
        for task in tasks {
            answers.push(
                task.await
                    .unwrap_or_else(|e| panic!("a commit's task: {e}")),
            );
        }
        answers
    }
}
