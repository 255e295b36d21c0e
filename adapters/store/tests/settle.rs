//! The group tab's settlements and an expense's edit, on SQLite and
//! PostgreSQL alike: a settlement is stored once under its id; a paid one
//! whose payment does not exist has lapsed; a cash one is pending until its
//! payee answers, once; an edit undoes the old expense and stores its
//! replacement together, once.
// Test code throughout, helpers too (see clippy.toml).
#![cfg(test)]

use std::sync::Arc;

use bot::command::ShortRef;
use bot::message::{ChatId, Platform, PlatformUserId};
use bot::store::tab::{
    Expense, ExpenseLine, Settlement, SettlementKind, SettlementState, SettlementStore, TabStore,
};
use bot::store::{SeenUser, Store, UserId};
use ledger::testing::{CLOCK_START_MS, TestBackend, TestDb};
use ledger::{Amount, Currency, TransferId};
use paybot_store::{BOT_MIGRATIONS, SqlStore};

const T0: i64 = CLOCK_START_MS;

async fn run(backend: TestBackend, case: impl AsyncFnOnce(Arc<SqlStore>)) {
    let Some(db) = TestDb::fresh(backend).await else {
        return;
    };
    db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
    let store = Arc::new(SqlStore::new(&db.ledger));
    case(store).await;
    db.cleanup().await;
}

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

conformance!(
    settlements_are_stored_once_with_their_state,
    a_cash_settlement_is_answered_once,
    an_edit_replaces_the_expense_once,
);

async fn user(store: &SqlStore, id: &str) -> UserId {
    let seen = SeenUser {
        platform: Platform::Mock,
        id: PlatformUserId::new(id).unwrap(),
        handle: None,
        skeleton: None,
        display_name: id.to_owned(),
        speaking: true,
        direct: true,
    };
    store.upsert_identity(&seen, T0).await.unwrap().0.user
}

fn settlement(payer: UserId, payee: UserId, n: u128, kind: SettlementKind) -> Settlement {
    Settlement {
        reference: ShortRef::parse(&format!("T{n:06}")).unwrap(),
        settlement_id: TransferId::new(n).unwrap(),
        platform: Platform::Mock,
        chat: ChatId::new("flat").unwrap(),
        payer,
        payer_label: "bob".to_owned(),
        payer_platform_id: PlatformUserId::new("bob").unwrap(),
        payee,
        payee_label: "alice".to_owned(),
        payee_platform_id: PlatformUserId::new("alice").unwrap(),
        amount: Amount::from_minor(2_000, Currency::USD).unwrap(),
        kind,
        payment_transfer: (kind == SettlementKind::Paid)
            .then(|| TransferId::new(n + 1000).unwrap()),
        state: SettlementState::Pending,
        created_at_ms: T0,
        decided_at_ms: None,
    }
}

async fn settlements_are_stored_once_with_their_state(store: Arc<SqlStore>) {
    let (alice, bob) = (user(&store, "alice").await, user(&store, "bob").await);
    let paid = settlement(bob, alice, 1, SettlementKind::Paid);
    let stored = store.insert_settlement(&paid).await.unwrap().unwrap();
    // No payment under its transfer: it never started, so it lapsed.
    assert_eq!(stored.state, SettlementState::Lapsed);
    assert_eq!(stored.payment_transfer, paid.payment_transfer);
    assert_eq!(stored.amount, paid.amount);
    // The same id again: the first one, unchanged.
    let mut again = paid.clone();
    again.amount = Amount::from_minor(1, Currency::USD).unwrap();
    let stored_again = store.insert_settlement(&again).await.unwrap().unwrap();
    assert_eq!(stored_again.amount, paid.amount);
    // Another id under a taken reference: nothing stored.
    let mut other = settlement(bob, alice, 2, SettlementKind::Cash);
    other.reference = paid.reference.clone();
    assert_eq!(store.insert_settlement(&other).await.unwrap(), None);
    let cash = settlement(bob, alice, 3, SettlementKind::Cash);
    store.insert_settlement(&cash).await.unwrap().unwrap();
    let all = store
        .settlements_of_chat(Platform::Mock, &ChatId::new("flat").unwrap(), 10)
        .await
        .unwrap();
    let refs: Vec<&str> = all.iter().map(|s| s.reference.as_str()).collect();
    assert_eq!(refs, ["T000003", "T000001"], "newest first");
    assert_eq!(all[0].state, SettlementState::Pending);
}

async fn a_cash_settlement_is_answered_once(store: Arc<SqlStore>) {
    let (alice, bob) = (user(&store, "alice").await, user(&store, "bob").await);
    let cash = settlement(bob, alice, 4, SettlementKind::Cash);
    store.insert_settlement(&cash).await.unwrap().unwrap();
    assert!(
        store
            .answer_cash_settlement(&cash.reference, true, T0 + 1)
            .await
            .unwrap()
    );
    assert!(
        !store
            .answer_cash_settlement(&cash.reference, false, T0 + 2)
            .await
            .unwrap(),
        "answered once"
    );
    let stored = store.settlement(&cash.reference).await.unwrap().unwrap();
    assert_eq!(stored.state, SettlementState::Counted);
    assert_eq!(stored.decided_at_ms, Some(T0 + 1));
    // A paid settlement has no answer to give.
    let paid = settlement(bob, alice, 5, SettlementKind::Paid);
    store.insert_settlement(&paid).await.unwrap().unwrap();
    assert!(
        !store
            .answer_cash_settlement(&paid.reference, true, T0)
            .await
            .unwrap()
    );
}

fn expense(author: UserId, other: UserId, n: u128, total: i64) -> Expense {
    Expense {
        reference: ShortRef::parse(&format!("E{n:06}")).unwrap(),
        expense_id: TransferId::new(n).unwrap(),
        platform: Platform::Mock,
        chat: ChatId::new("flat").unwrap(),
        author,
        author_label: "alice".to_owned(),
        total: Amount::from_minor(total, Currency::USD).unwrap(),
        memo: None,
        lines: vec![
            ExpenseLine {
                user: author,
                label: "alice".to_owned(),
                paid_minor: total,
                owed_minor: total / 2,
            },
            ExpenseLine {
                user: other,
                label: "bob".to_owned(),
                paid_minor: 0,
                owed_minor: total - total / 2,
            },
        ],
        created_at_ms: T0,
        undone_at_ms: None,
    }
}

async fn an_edit_replaces_the_expense_once(store: Arc<SqlStore>) {
    let (alice, bob) = (user(&store, "alice").await, user(&store, "bob").await);
    let old = expense(alice, bob, 10, 6_000);
    store.insert_expense(&old).await.unwrap();
    let new = expense(alice, bob, 11, 8_000);
    let stored = store
        .replace_expense(&old.reference, &new, T0 + 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.total, new.total);
    assert_eq!(stored.lines, new.lines);
    // The same edit again (a redelivery): the stored replacement.
    let again = store
        .replace_expense(&old.reference, &new, T0 + 6)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.reference, new.reference);
    // Another edit of the old one: it is undone already.
    let late = expense(alice, bob, 12, 9_000);
    assert_eq!(
        store
            .replace_expense(&old.reference, &late, T0 + 7)
            .await
            .unwrap(),
        None
    );
    let open = store
        .expenses_of_chat(Platform::Mock, &ChatId::new("flat").unwrap(), false, 10)
        .await
        .unwrap();
    let refs: Vec<&str> = open.iter().map(|e| e.reference.as_str()).collect();
    assert_eq!(refs, ["E000011"]);
    let old_now = store.expense(&old.reference).await.unwrap().unwrap();
    assert_eq!(old_now.undone_at_ms, Some(T0 + 5));
}
