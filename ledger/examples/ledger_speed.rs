//! A quick group-commit throughput probe inside the ledger crate, for
//! iterating on the writer without building the whole binary (`paybot
//! bench ledger` is the real benchmark):
//!
//! ```text
//! cargo run --release -p ledger --features testing --example ledger_speed -- \
//!     sqlite|postgres [TRANSFERS] [CONCURRENCY] [ACCOUNTS] [random|ordered]
//! ```
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ledger::testing::{TestBackend, TestDb};
use ledger::{Amount, Currency, NewTransfer, TransferId};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.into());
    let backend = match arg(0, "sqlite").as_str() {
        "postgres" => TestBackend::Postgres,
        _ => TestBackend::Sqlite,
    };
    let transfers: u64 = arg(1, "50000").parse().unwrap();
    let concurrency: u64 = arg(2, "64").parse().unwrap();
    let accounts: usize = arg(3, "1000").parse().unwrap();
    let ordered = arg(4, "random") == "ordered";
    let db = TestDb::fresh(backend).await.expect("database");
    let mut wallets = Vec::new();
    for i in 0..accounts {
        let w = db.wallet(&format!("w{i}"), Currency::USD).await;
        db.fund(w, Amount::from_minor(100_000_000, Currency::USD).unwrap())
            .await;
        wallets.push(w);
    }
    let wallets = Arc::new(wallets);
    let issued = Arc::new(AtomicU64::new(0));
    let before = db.ledger.writer_stats();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (ledger, wallets, issued) = (db.ledger.clone(), wallets.clone(), issued.clone());
        tasks.spawn(async move {
            let mut rng = StdRng::from_os_rng();
            while issued.fetch_add(1, Ordering::Relaxed) < transfers {
                let d = rng.random_range(0..wallets.len());
                let c = (d + rng.random_range(1..wallets.len())) % wallets.len();
                let id = if ordered {
                    TransferId::time_ordered()
                } else {
                    TransferId::random()
                };
                let amount =
                    Amount::from_minor(rng.random_range(1..10_000), Currency::USD).unwrap();
                ledger
                    .submit(NewTransfer::single(id, wallets[d], wallets[c], amount))
                    .await
                    .unwrap();
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let secs = start.elapsed().as_secs_f64();
    let stats = db.ledger.writer_stats().since(&before);
    #[allow(clippy::cast_precision_loss, clippy::as_conversions)]
    {
        println!(
            "{:.0} transfers/s, {} batches, mean {:.1} groups, commit p50 {:?} p99 {:?}, mean commit {:.2} ms",
            transfers as f64 / secs,
            stats.batches,
            stats.groups as f64 / stats.batches.max(1) as f64,
            stats.commit_quantile_us(0.50),
            stats.commit_quantile_us(0.99),
            stats.commit_us_total as f64 / stats.batches.max(1) as f64 / 1000.0,
        );
    }
    let violations = db.ledger.verify().await.unwrap();
    println!("violations: {}", violations.len());
    db.cleanup().await;
}
