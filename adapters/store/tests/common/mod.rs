//! What the store's conformance test files share: each case on a fresh,
//! migrated database of its own, once per backend, and a user to act as.
// Each test binary includes this module and uses a part of it.
#![allow(dead_code, unused_macros)]

use std::sync::Arc;

use bot::message::{Platform, PlatformUserId};
use bot::store::{SeenUser, Store, UserId};
use ledger::testing::{CLOCK_START_MS, TestBackend, TestDb};
use paybot_store::{BOT_MIGRATIONS, SqlStore};

/// A fresh database of `backend`, migrated, and the store on it; `None`
/// when PostgreSQL is absent outside CI (skipped loudly by `TestDb`).
pub(crate) async fn fresh(backend: TestBackend) -> Option<(TestDb, Arc<SqlStore>)> {
    let db = TestDb::fresh(backend).await?;
    db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
    let store = Arc::new(SqlStore::new(&db.ledger));
    Some((db, store))
}

/// Runs `case` with a store on a [`fresh`] database, dropped afterwards.
pub(crate) async fn run(backend: TestBackend, case: impl AsyncFnOnce(Arc<SqlStore>)) {
    let Some((db, store)) = fresh(backend).await else {
        return;
    };
    case(store).await;
    db.cleanup().await;
}

/// A user on the mock platform, seen speaking in a DM at the test clock's
/// start.
pub(crate) async fn user(store: &SqlStore, id: &str) -> UserId {
    let seen = SeenUser {
        platform: Platform::Mock,
        id: PlatformUserId::new(id).unwrap(),
        handle: None,
        skeleton: None,
        display_name: id.to_owned(),
        speaking: true,
        direct: true,
    };
    store
        .upsert_identity(&seen, CLOCK_START_MS)
        .await
        .unwrap()
        .0
        .user
}

/// Each case as two tests, `sqlite::case` and `postgres::case`, each run by
/// the including file's `run` on a runtime with 4 workers.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $case() {
                super::run(super::TestBackend::Sqlite, super::$case).await
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $case() {
                super::run(super::TestBackend::Postgres, super::$case).await
            })*
        }
    };
}
