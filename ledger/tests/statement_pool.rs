//! `ledger::StatementPool` on real databases: statements that hand their
//! connection to the next never keep a transaction waiting, never cross
//! each other's answers, never leave a waiting statement stuck when one
//! fails or is given up, and leave nothing owed on a connection when
//! dropped part-way; closing ends with statements in flight and fails
//! those waiting; a pool outlives its runtime without a panic.
// Test code throughout, helpers too (see clippy.toml).
#![cfg(test)]

use std::str::FromStr;
use std::time::Duration;

use futures::future::join_all;
use ledger::StatementPool;
use ledger::testing::{drop_postgres_database_from_drop, fresh_postgres_database};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Postgres, Row, Sqlite};

/// How long a test lets a caller wait for the pool: past it, the pool
/// answers `PoolTimedOut`, and the test fails.
const ACQUIRE_TIMEOUT_MS: u64 = 2_000;

/// A statement that keeps its connection for about a fifth of a second on
/// each backend, so that several in flight open a connection each.
const SLOW_SQLITE: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
                           WHERE x < 3000000) SELECT COUNT(*) FROM c";
const SLOW_POSTGRES: &str = "SELECT pg_sleep(0.2)";

fn sqlite_pool(dir: &tempfile::TempDir, connections: u32) -> StatementPool<Sqlite> {
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("pool.db"))
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_millis(ACQUIRE_TIMEOUT_MS));
    StatementPool::connect_lazy_with(pool, options)
}

/// A test's PostgreSQL database, dropped with this however the test ends
/// (a failed assertion too), its connections ended.
struct Database {
    admin: String,
    name: String,
}

impl Drop for Database {
    fn drop(&mut self) {
        drop_postgres_database_from_drop(&self.admin, &self.name);
    }
}

/// A pool of `connections` on a fresh PostgreSQL database, and the
/// database; `None` (said loudly) where no server is reachable outside CI.
async fn postgres_pool(connections: u32) -> Option<(StatementPool<Postgres>, Database)> {
    let (url, admin, name) = fresh_postgres_database().await?;
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_millis(ACQUIRE_TIMEOUT_MS));
    let options = PgConnectOptions::from_str(&url).unwrap();
    let pool = StatementPool::connect_lazy_with(pool, options);
    Some((pool, Database { admin, name }))
}

/// Two slow statements open both of a pool's connections for statements
/// and keep them; a transaction (begun with `$begin`) and a whole
/// connection still get one at once, not after the acquire timeout. The
/// same on both backends, with their own SQL.
macro_rules! a_transaction_is_not_kept_waiting {
    ($pool:expr, $slow:expr, $begin:expr) => {{
        let pool = $pool;
        let slow = || sqlx::query($slow).execute(&pool);
        for done in join_all([slow(), slow()]).await {
            done.unwrap();
        }
        assert_eq!(
            pool.size(),
            2,
            "both statements had a connection of their own"
        );
        let mut tx = pool.begin_with($begin).await.unwrap();
        sqlx::query("CREATE TABLE t (x BIGINT)")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        drop(pool.acquire().await.unwrap());
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(n, 0);
        pool.close().await;
    }};
}

#[tokio::test]
async fn a_transaction_is_not_kept_waiting_by_connections_kept_for_statements_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    a_transaction_is_not_kept_waiting!(sqlite_pool(&dir, 2), SLOW_SQLITE, "BEGIN IMMEDIATE");
}

#[tokio::test]
async fn a_transaction_is_not_kept_waiting_by_connections_kept_for_statements_postgres() {
    let Some((pool, _database)) = postgres_pool(2).await else {
        return;
    };
    a_transaction_is_not_kept_waiting!(pool, SLOW_POSTGRES, "BEGIN ISOLATION LEVEL SERIALIZABLE");
}

/// Many statements in flight on a few connections, each handed from one
/// statement to the next: every one reads its own answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_sharing_few_connections_each_read_their_own_answer() {
    let Some((pool, _database)) = postgres_pool(3).await else {
        return;
    };
    let tasks: Vec<_> = (0..400_i64)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let rows = sqlx::query("SELECT $1::BIGINT AS v FROM generate_series(1, 3)")
                    .bind(i)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                let one: i64 = sqlx::query_scalar("SELECT $1::BIGINT * 2")
                    .bind(i)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                (
                    i,
                    rows.iter()
                        .map(|r| r.get::<i64, _>("v"))
                        .collect::<Vec<_>>(),
                    one,
                )
            })
        })
        .collect();
    for task in tasks {
        let (i, rows, one) = task.await.unwrap();
        assert_eq!(rows, vec![i, i, i]);
        assert_eq!(one, i * 2);
    }
    assert!(
        pool.size() <= 3,
        "{} connections for statements",
        pool.size()
    );
    pool.close().await;
}

/// A statement given up before its answer came (a request's timeout, a
/// client gone): its connection owes the rest of that answer, so it is not
/// kept; the next statement, on the pool's one connection, reads its own.
#[tokio::test]
async fn a_statement_dropped_part_way_leaves_the_next_its_own_answer() {
    let Some((pool, _database)) = postgres_pool(1).await else {
        return;
    };
    let given_up = tokio::time::timeout(
        Duration::from_millis(100),
        sqlx::query("SELECT pg_sleep(0.5), 1 AS v").fetch_one(&pool),
    )
    .await;
    assert!(given_up.is_err(), "the slow statement was given up");
    let v: i64 = sqlx::query_scalar("SELECT 2::BIGINT")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(v, 2);
    assert_eq!(pool.size(), 1);
    pool.close().await;
}

/// The one connection is busy with a slow statement; two more wait for it.
/// The first waiter is given up, and the slow statement then fails: the
/// other waiter still runs, on the connection sqlx gets back, at once.
#[tokio::test]
async fn a_waiting_statement_runs_after_the_one_before_failed_and_the_one_between_was_given_up() {
    let Some((pool, _database)) = postgres_pool(1).await else {
        return;
    };
    let failing = sqlx::query(
        "DO $$ BEGIN PERFORM pg_sleep(0.3); RAISE EXCEPTION 'the slow statement fails'; END $$",
    )
    .execute(&pool);
    let given_up = tokio::time::timeout(
        Duration::from_millis(100),
        sqlx::query_scalar::<_, i64>("SELECT 1::BIGINT").fetch_one(&pool),
    );
    let waiting = async {
        // Starts after the other two are in line.
        tokio::time::sleep(Duration::from_millis(20)).await;
        tokio::time::timeout(
            Duration::from_millis(ACQUIRE_TIMEOUT_MS),
            sqlx::query_scalar::<_, i64>("SELECT 3::BIGINT").fetch_one(&pool),
        )
        .await
    };
    let (failed, given_up, waited) = tokio::join!(failing, given_up, waiting);
    assert!(
        failed
            .unwrap_err()
            .to_string()
            .contains("the slow statement fails")
    );
    assert!(given_up.is_err(), "the first waiter was given up");
    assert_eq!(
        waited.expect("the last waiter was left waiting").unwrap(),
        3
    );
    assert_eq!(pool.size(), 1);
    pool.close().await;
}

/// The pool is closed while a statement runs on its one connection and
/// another waits: the first ends as it would have, the waiting one fails at
/// once, closing ends, and a statement after it fails too.
#[tokio::test]
async fn closing_lets_the_statement_in_flight_end_and_fails_those_waiting() {
    let Some((pool, _database)) = postgres_pool(1).await else {
        return;
    };
    let in_flight =
        sqlx::query_scalar::<_, i64>("SELECT 1::BIGINT FROM pg_sleep(0.3)").fetch_one(&pool);
    let waiting = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        sqlx::query_scalar::<_, i64>("SELECT 2::BIGINT")
            .fetch_one(&pool)
            .await
    };
    let closing = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        tokio::time::timeout(Duration::from_millis(ACQUIRE_TIMEOUT_MS), pool.close()).await
    };
    let (in_flight, waiting, closed) = tokio::join!(in_flight, waiting, closing);
    assert_eq!(in_flight.unwrap(), 1);
    assert!(
        matches!(waiting, Err(sqlx::Error::PoolClosed)),
        "{waiting:?}"
    );
    assert!(
        closed.is_ok(),
        "closing waited for a connection that was kept"
    );
    let after = sqlx::query_scalar::<_, i64>("SELECT 3::BIGINT")
        .fetch_one(&pool)
        .await;
    assert!(matches!(after, Err(sqlx::Error::PoolClosed)), "{after:?}");
}

/// A pool dropped after the runtime it ran on (a store kept past its
/// server's end): its kept connections close without a panic.
#[test]
fn a_pool_dropped_after_its_runtime_closes_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pool = runtime.block_on(async {
        let pool = sqlite_pool(&dir, 2);
        let v: i64 = sqlx::query_scalar("SELECT 7")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(v, 7);
        pool
    });
    drop(runtime);
    drop(pool);
}
