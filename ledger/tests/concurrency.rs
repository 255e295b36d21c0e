//! 32 concurrent tasks each submit 500 random transfers (single and
//! two-phase) among 100 tightly funded wallets, through the group-commit
//! writer. Afterwards: the ledger verifies clean (every currency sums to zero,
//! totals equal the sum of transfers, no wallet overdrawn, every pending
//! resolved at most once), no money was created or lost, and every
//! acknowledged transfer is a row, exactly once.
// Test code throughout, helpers too (see clippy.toml).
#![cfg(test)]
#![allow(clippy::as_conversions)]

use std::collections::HashSet;

use ledger::testing::{TestBackend, TestDb};
use ledger::{
    Amount, Currency, NewTransfer, Outcome, SubmitError, TransferId, TransferKind, WriterStats,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TASKS: usize = 32;
const TRANSFERS_PER_TASK: usize = 500;
const ACCOUNTS: usize = 100;
const OPENING_MINOR: i64 = 1_000;

fn usd(minor: i64) -> Amount {
    Amount::from_minor(minor, Currency::USD).unwrap()
}

async fn count_transfers(db: &TestDb) -> i64 {
    db.query_i64("SELECT COUNT(*) FROM transfers")
        .await
        .unwrap()
}

async fn random_transfers(backend: TestBackend) {
    let Some(db) = TestDb::fresh(backend).await else {
        return;
    };
    let mut wallets = Vec::new();
    for i in 0..ACCOUNTS {
        let wallet = db.wallet(&format!("user{i}"), Currency::USD).await;
        db.fund(wallet, usd(OPENING_MINOR)).await;
        wallets.push(wallet);
    }
    let rows_before = count_transfers(&db).await;

    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let ledger = db.ledger.clone();
        let wallets = wallets.clone();
        tasks.spawn(async move {
            let mut rng = StdRng::seed_from_u64(task as u64);
            let mut created = Vec::new();
            let mut refused = 0_usize;
            for _ in 0..TRANSFERS_PER_TASK {
                let from = wallets[rng.random_range(0..ACCOUNTS)];
                let to = wallets[rng.random_range(0..ACCOUNTS)];
                let amount = usd(rng.random_range(1..=400));
                let two_phase = rng.random_bool(0.3);
                let t = if two_phase {
                    NewTransfer::pending(TransferId::random(), from, to, amount, 60)
                } else {
                    NewTransfer::single(TransferId::random(), from, to, amount)
                };
                match ledger.submit(t).await {
                    Ok(Outcome::Created(t)) => {
                        created.push(t.id);
                        if two_phase {
                            let resolve = if rng.random_bool(0.5) {
                                NewTransfer::post(TransferId::random(), t.id, None)
                            } else {
                                NewTransfer::void(TransferId::random(), t.id)
                            };
                            match ledger.submit(resolve).await {
                                Ok(Outcome::Created(r)) => created.push(r.id),
                                other => panic!("resolving an open pending failed: {other:?}"),
                            }
                        }
                    }
                    Ok(Outcome::Exists(_)) => panic!("random ids never repeat"),
                    Err(SubmitError::Rejected { .. }) => refused += 1,
                    Err(e) => panic!("store error: {e}"),
                }
            }
            (created, refused)
        });
    }
    let mut created = Vec::new();
    let mut refused = 0;
    for (ids, r) in tasks.join_all().await {
        created.extend(ids);
        refused += r;
    }

    let violations = db.ledger.verify().await.unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    // Tight balances: many transfers must have been refused, many accepted.
    assert!(
        refused > 0 && !created.is_empty(),
        "refused {refused}, created {}",
        created.len()
    );

    let mut total = 0;
    for wallet in &wallets {
        let balance = db.ledger.balance(*wallet).await.unwrap().unwrap();
        assert!(
            balance.available() >= 0 && balance.posted >= 0,
            "{wallet}: {balance:?}"
        );
        assert_eq!(balance.pending_out, 0, "every pending was resolved");
        total += balance.posted;
    }
    assert_eq!(
        total,
        OPENING_MINOR * ACCOUNTS as i64,
        "money was created or lost"
    );

    // Every acknowledged transfer is a row, once; and nothing else was written.
    let unique: HashSet<_> = created.iter().collect();
    assert_eq!(unique.len(), created.len());
    let rows = count_transfers(&db).await - rows_before;
    assert_eq!(rows, created.len() as i64);
    for id in created.iter().step_by(97) {
        let t = db
            .ledger
            .transfer(*id)
            .await
            .unwrap()
            .expect("acknowledged transfer is stored");
        assert!(matches!(
            t.kind,
            TransferKind::Single | TransferKind::Pending | TransferKind::Post | TransferKind::Void
        ));
    }
    eprintln!(
        "{backend:?}: {} transfers recorded, {refused} refused by the ledger's rules",
        created.len()
    );
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_random_transfers_stay_balanced() {
    random_transfers(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_random_transfers_stay_balanced() {
    random_transfers(TestBackend::Postgres).await;
}

/// The writer's counters see every group once, in batches no larger than
/// the groups submitted, and every batch in one size bucket.
async fn writer_stats_count_every_group(backend: TestBackend) {
    let Some(db) = TestDb::fresh(backend).await else {
        return;
    };
    let from = db.wallet("payer", Currency::USD).await;
    let to = db.wallet("payee", Currency::USD).await;
    db.fund(from, usd(10_000)).await;
    let before = db.ledger.writer_stats();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let ledger = db.ledger.clone();
        tasks.spawn(async move {
            let t = NewTransfer::single(TransferId::random(), from, to, usd(1));
            ledger.submit(t).await.unwrap();
        });
    }
    // One refused group counts too.
    let refused = NewTransfer::single(TransferId::random(), from, to, usd(1_000_000));
    assert!(db.ledger.submit(refused).await.is_err());
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap();
    }
    let stats = db.ledger.writer_stats().since(&before);
    assert_eq!(stats.groups, 51);
    assert!((1..=51).contains(&stats.batches), "{stats:?}");
    assert_eq!(stats.batch_groups.iter().sum::<u64>(), stats.batches);
    assert_eq!(stats.failed_batches, 0);
    // Every committed batch's commit time is counted once, and a durable
    // commit takes some time.
    assert_eq!(stats.commit_latency.iter().sum::<u64>(), stats.batches);
    assert!(stats.commit_us_total > 0, "{stats:?}");
    let p50 = stats.commit_quantile_us(0.5).unwrap();
    let p99 = stats.commit_quantile_us(0.99).unwrap();
    assert!(p50 <= p99, "{stats:?}");
    assert_eq!(WriterStats::default().commit_quantile_us(0.5), None);
    assert_eq!(
        db.ledger.balance(to).await.unwrap().unwrap().available(),
        50
    );
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_stats_count_every_group_on_sqlite() {
    writer_stats_count_every_group(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_stats_count_every_group_on_postgres() {
    writer_stats_count_every_group(TestBackend::Postgres).await;
}

/// How long a test waits for a commit it expects before it fails.
const COMMIT_SEEN_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// SQLite's group-commit writer runs on a thread of its own: a transfer is
/// committed while the only thread of the runtime that opened the ledger
/// (and submitted it) is busy, as a chat's runtime is under load; its
/// submitter is answered when that thread is free again. (PostgreSQL's
/// writer is a task of that runtime: see the README, "Tried this round
/// and not kept".)
#[test]
fn sqlite_writer_commits_while_the_runtime_that_opened_it_is_busy() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let Some(db) = TestDb::fresh(TestBackend::Sqlite).await else {
            return;
        };
        let from = db.wallet("payer", Currency::USD).await;
        let to = db.wallet("payee", Currency::USD).await;
        db.fund(from, usd(500)).await;
        let rows_before = count_transfers(&db).await;
        let id = TransferId::random();
        let ledger = db.ledger.clone();
        let submitted = tokio::spawn(async move {
            ledger
                .submit(NewTransfer::single(id, from, to, usd(200)))
                .await
        });
        // The submitter queues its transfer and waits for the answer.
        tokio::task::yield_now().await;
        // This runtime's one thread now waits, blocked, for another
        // runtime on another thread to read the transfer's row.
        let url = db.url.clone();
        let seen = std::thread::spawn(move || {
            let reader = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            reader.block_on(async {
                let began = std::time::Instant::now();
                while began.elapsed() < COMMIT_SEEN_WITHIN {
                    let rows = ledger::testing::query_i64(&url, "SELECT COUNT(*) FROM transfers");
                    if rows.await == Ok(rows_before + 1) {
                        return true;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                false
            })
        })
        .join()
        .unwrap();
        assert!(
            seen,
            "not committed within {COMMIT_SEEN_WITHIN:?} while the runtime that opened \
             the ledger was busy"
        );
        match submitted.await.unwrap() {
            Ok(Outcome::Created(t)) => assert_eq!(t.id, id),
            other => panic!("the submitter was answered {other:?}"),
        }
        assert_eq!(
            db.ledger.balance(to).await.unwrap().unwrap().available(),
            200
        );
        db.cleanup().await;
    });
}

/// Closing a PostgreSQL ledger closes every connection it opened, the
/// writer's kept ones too (they go back to the pool once their batches
/// are answered).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_postgres_ledger_leaves_no_connection_open() {
    let Some(db) = TestDb::fresh(TestBackend::Postgres).await else {
        return;
    };
    let from = db.wallet("payer", Currency::USD).await;
    let to = db.wallet("payee", Currency::USD).await;
    db.fund(from, usd(500)).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let ledger = db.ledger.clone();
        tasks.spawn(async move {
            let t = NewTransfer::single(TransferId::random(), from, to, usd(1));
            ledger.submit(t).await
        });
    }
    while let Some(joined) = tasks.join_next().await {
        assert!(matches!(joined.unwrap(), Ok(Outcome::Created(_))));
    }
    let others = "SELECT COUNT(*) FROM pg_stat_activity \
                  WHERE datname = current_database() AND pid <> pg_backend_pid()";
    assert!(
        db.query_i64(others).await.unwrap() >= 2,
        "the writer's and the reads'"
    );
    db.ledger.close().await;
    assert_eq!(
        ledger::testing::query_i64(&db.url, others).await,
        Ok(0),
        "connections left open after close"
    );
    let late = NewTransfer::single(TransferId::random(), from, to, usd(1));
    assert!(
        db.ledger.submit(late).await.is_err(),
        "a closed ledger takes no transfer"
    );
    db.cleanup().await;
}
