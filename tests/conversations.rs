//! Runs every conversation script in `tests/conversations/` (see
//! `paybot_mock::script` for the format) against the real bot on a fresh
//! database, once on SQLite and once on PostgreSQL. After each script: the
//! ledger's invariants hold (`verify` is clean) and no group message carried
//! a code or a balance.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;

use bot::otp::{OsRandom, Pepper, SeededRandom};
use bot::{Bot, BotConfig};
use ledger::testing::{TestBackend, TestDb};
use ledger::{Amount, Currency};
use paybot::store::{BOT_MIGRATIONS, SqlStore};
use paybot_mock::MockChat;

fn scripts() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conversations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "chat"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scripts in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

async fn run_all(backend: TestBackend) {
    let mut failures = Vec::new();
    let mut ran = 0;
    for (name, text) in scripts() {
        let script = match paybot_mock::script::parse(&text) {
            Ok(script) => script,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let Some(db) = TestDb::fresh(backend).await else {
            return; // PostgreSQL absent outside CI: skipped loudly by TestDb.
        };
        db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
        let store = Arc::new(SqlStore::new(&db.ledger));
        let config = BotConfig {
            mock_opening_balance: Some(Amount::from_minor(10_000, Currency::USD).unwrap()),
            ..BotConfig::default()
        };
        let bot = Bot::new(
            db.ledger.clone(),
            store,
            config,
            Pepper::generate(&OsRandom),
            Arc::new(SeededRandom::new(7)),
        );
        let chat = MockChat::new(bot);
        let clock = Arc::clone(&db.clock);
        let outcome = paybot_mock::script::run(&chat, &script, &move |by| clock.advance(by)).await;
        match outcome {
            Ok(transcript) => {
                let leaks = transcript.leaks();
                if !leaks.is_empty() {
                    failures.push(format!(
                        "{name}: private things in a group:\n  {}",
                        leaks.join("\n  ")
                    ));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
        let violations = db.ledger.verify().await.unwrap();
        if !violations.is_empty() {
            let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
            failures.push(format!(
                "{name}: ledger invariants broken:\n  {}",
                list.join("\n  ")
            ));
        }
        ran += 1;
        db.cleanup().await;
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} conversations failed on {backend:?}:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_on_sqlite() {
    run_all(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_on_postgres() {
    run_all(TestBackend::Postgres).await;
}
