//! The group tab's settlements and an expense's edit, on SQLite and
//! PostgreSQL alike: a settlement is stored once under its id; a paid one
//! whose payment does not exist has lapsed; a cash one is pending until its
//! payee answers (or its payer cancels it, or it expires unanswered), once;
//! an edit undoes the old expense and stores its
//! replacement together, once.
// Test code throughout, helpers too (see clippy.toml).
#![cfg(test)]

#[macro_use]
mod common;

use std::sync::Arc;

use bot::command::ShortRef;
use bot::message::{ChatId, Platform, PlatformUserId};
use bot::store::RecordChange;
use bot::store::tab::{
    Expense, ExpenseLine, Settlement, SettlementKind, SettlementState, SettlementStore, TabStore,
};
use bot::store::{Store, UserId};
use ledger::testing::{CLOCK_START_MS, TestBackend};
use ledger::{Amount, Currency, Ledger, SubmitError, TransferId, Unit};
use paybot_store::SqlStore;

use common::{run, user};

const T0: i64 = CLOCK_START_MS;

/// Like [`run`], with the ledger the store's record writes commit through.
async fn run_with_ledger(backend: TestBackend, case: impl AsyncFnOnce(Arc<SqlStore>, &Ledger)) {
    let Some((db, store)) = common::fresh(backend).await else {
        return;
    };
    case(store, &db.ledger).await;
    db.cleanup().await;
}

mod with_ledger {
    mod sqlite {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn a_settlement_commits_only_within_what_is_owed() {
            super::super::run_with_ledger(
                super::super::TestBackend::Sqlite,
                super::super::a_settlement_commits_only_within_what_is_owed,
            )
            .await
        }
    }
    mod postgres {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn a_settlement_commits_only_within_what_is_owed() {
            super::super::run_with_ledger(
                super::super::TestBackend::Postgres,
                super::super::a_settlement_commits_only_within_what_is_owed,
            )
            .await
        }
    }
    mod sqlite_expiry {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn an_unanswered_cash_settlement_expires_once() {
            super::super::run_with_ledger(
                super::super::TestBackend::Sqlite,
                super::super::an_unanswered_cash_settlement_expires_once,
            )
            .await
        }
    }
    mod sqlite_expiry_race {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn expiry_and_cancel_at_once_leave_one_outcome() {
            super::super::run_with_ledger(
                super::super::TestBackend::Sqlite,
                super::super::expiry_and_cancel_at_once_leave_one_outcome,
            )
            .await
        }
    }
    mod postgres_expiry_race {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn expiry_and_cancel_at_once_leave_one_outcome() {
            super::super::run_with_ledger(
                super::super::TestBackend::Postgres,
                super::super::expiry_and_cancel_at_once_leave_one_outcome,
            )
            .await
        }
    }
    mod postgres_expiry {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn an_unanswered_cash_settlement_expires_once() {
            super::super::run_with_ledger(
                super::super::TestBackend::Postgres,
                super::super::an_unanswered_cash_settlement_expires_once,
            )
            .await
        }
    }
}

conformance!(
    counted_settlements_are_summed_however_many,
    settlements_are_stored_once_with_their_state,
    a_cash_settlement_is_answered_once,
    a_cash_settlement_is_cancelled_by_its_payer_while_unanswered,
    an_edit_replaces_the_expense_once,
    a_debtor_is_asked_once_per_window,
);

/// The Settle ask's check-and-set: once per group and debtor within the
/// window since the last ask; other groups and debtors apart.
async fn a_debtor_is_asked_once_per_window(store: Arc<SqlStore>) {
    let bob = user(&store, "bob").await;
    let carol = user(&store, "carol").await;
    let flat = ChatId::new("group:flat").unwrap();
    let other = ChatId::new("group:other").unwrap();
    let hour = 3_600_000;
    let ask = |chat: &ChatId, who: UserId, now: i64| {
        let (store, chat) = (Arc::clone(&store), chat.clone());
        async move {
            store
                .note_settle_ask(Platform::Mock, &chat, who, now, now - hour)
                .await
                .unwrap()
        }
    };
    assert!(ask(&flat, bob, 10 * hour - 1_000).await);
    assert!(!ask(&flat, bob, 10 * hour + 1_000).await, "2 s later");
    assert!(ask(&flat, carol, 10 * hour + 1_000).await);
    assert!(ask(&other, bob, 10 * hour + 1_000).await);
    assert!(!ask(&flat, bob, 11 * hour - 2_000).await);
    assert!(ask(&flat, bob, 11 * hour - 1_000).await, "an hour after");
    assert!(!ask(&flat, bob, 11 * hour).await);
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

/// `/settle cancel`: only the payer, only while unanswered; a cancel
/// racing the payee's answer leaves exactly one of them.
async fn a_cash_settlement_is_cancelled_by_its_payer_while_unanswered(store: Arc<SqlStore>) {
    let (alice, bob) = (user(&store, "alice").await, user(&store, "bob").await);
    let cash = settlement(bob, alice, 6, SettlementKind::Cash);
    store.insert_settlement(&cash).await.unwrap().unwrap();
    assert!(
        !store
            .cancel_cash_settlement(&cash.reference, alice, T0 + 1)
            .await
            .unwrap(),
        "not the payee's to cancel"
    );
    assert!(
        store
            .cancel_cash_settlement(&cash.reference, bob, T0 + 1)
            .await
            .unwrap()
    );
    let stored = store.settlement(&cash.reference).await.unwrap().unwrap();
    assert_eq!(stored.state, SettlementState::Lapsed);
    assert_eq!(stored.decided_at_ms, Some(T0 + 1));
    assert!(
        !store
            .answer_cash_settlement(&cash.reference, true, T0 + 2)
            .await
            .unwrap(),
        "a cancelled one cannot be confirmed"
    );
    assert!(
        !store
            .cancel_cash_settlement(&cash.reference, bob, T0 + 3)
            .await
            .unwrap(),
        "cancelled once"
    );
    // Answered first: it stays answered.
    let answered = settlement(bob, alice, 7, SettlementKind::Cash);
    store.insert_settlement(&answered).await.unwrap().unwrap();
    assert!(
        store
            .answer_cash_settlement(&answered.reference, false, T0 + 1)
            .await
            .unwrap()
    );
    assert!(
        !store
            .cancel_cash_settlement(&answered.reference, bob, T0 + 2)
            .await
            .unwrap()
    );
    let stored = store
        .settlement(&answered.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, SettlementState::Rejected);
    // A paid settlement is cancelled through its payment, not here.
    let paid = settlement(bob, alice, 8, SettlementKind::Paid);
    store.insert_settlement(&paid).await.unwrap().unwrap();
    assert!(
        !store
            .cancel_cash_settlement(&paid.reference, bob, T0)
            .await
            .unwrap()
    );
    // Racing: exactly one of cancel and confirm wins, whichever it is.
    for n in 10..20 {
        let raced = settlement(bob, alice, n, SettlementKind::Cash);
        store.insert_settlement(&raced).await.unwrap().unwrap();
        let (cancel_store, answer_store) = (Arc::clone(&store), Arc::clone(&store));
        let (cancel_ref, answer_ref) = (raced.reference.clone(), raced.reference.clone());
        let cancel = tokio::spawn(async move {
            cancel_store
                .cancel_cash_settlement(&cancel_ref, bob, T0 + 1)
                .await
                .unwrap()
        });
        let answer = tokio::spawn(async move {
            answer_store
                .answer_cash_settlement(&answer_ref, true, T0 + 1)
                .await
                .unwrap()
        });
        let (cancelled, confirmed) = (cancel.await.unwrap(), answer.await.unwrap());
        assert!(cancelled != confirmed, "exactly one wins");
        let state = store
            .settlement(&raced.reference)
            .await
            .unwrap()
            .unwrap()
            .state;
        let expected = if cancelled {
            SettlementState::Lapsed
        } else {
            SettlementState::Counted
        };
        assert_eq!(state, expected);
    }
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

/// S2: "not more than owed" is checked in the commit that writes the
/// settlement, so two `/settle` of the whole debt cannot both be written.
async fn a_settlement_commits_only_within_what_is_owed(store: Arc<SqlStore>, ledger: &Ledger) {
    let (alice, bob) = (user(&store, "alice").await, user(&store, "bob").await);
    let owed_minor = 3_000;
    let write = |s: &Settlement| {
        store
            .record_write(RecordChange::InsertSettlement {
                settlement: s,
                owed_minor,
            })
            .unwrap()
    };
    let first = settlement(bob, alice, 11, SettlementKind::Cash);
    ledger
        .commit(Unit::records(vec![write(&first)]))
        .await
        .unwrap();
    let stored = store.settlement(&first.reference).await.unwrap().unwrap();
    assert_eq!(stored.state, SettlementState::Pending);
    // A second one while the first waits: 20 + 20 is more than 30.
    let second = settlement(bob, alice, 12, SettlementKind::Cash);
    let answer = ledger.commit(Unit::records(vec![write(&second)])).await;
    assert!(
        matches!(answer, Err(SubmitError::RecordConflict { .. })),
        "{answer:?}"
    );
    assert!(store.settlement(&second.reference).await.unwrap().is_none());
    // Once the first is rejected, it no longer holds the debt.
    store
        .answer_cash_settlement(&first.reference, false, T0 + 1)
        .await
        .unwrap();
    ledger
        .commit(Unit::records(vec![write(&second)]))
        .await
        .unwrap();
    assert!(store.settlement(&second.reference).await.unwrap().is_some());
}

/// S3: the tab's debts take every counted settlement, summed per payer,
/// payee and currency, however many settlements the group has.
async fn counted_settlements_are_summed_however_many(store: Arc<SqlStore>) {
    let (alice, bob) = (user(&store, "alice").await, user(&store, "bob").await);
    let chat = ChatId::new("flat").unwrap();
    for n in 100..103 {
        let cash = settlement(bob, alice, n, SettlementKind::Cash);
        store.insert_settlement(&cash).await.unwrap().unwrap();
        store
            .answer_cash_settlement(&cash.reference, n != 102, T0 + 1)
            .await
            .unwrap();
    }
    // Waiting, and a paid one whose payment never started: not counted.
    let waiting = settlement(bob, alice, 103, SettlementKind::Cash);
    store.insert_settlement(&waiting).await.unwrap().unwrap();
    let paid = settlement(alice, bob, 104, SettlementKind::Paid);
    store.insert_settlement(&paid).await.unwrap().unwrap();
    // However few settlements a list would show.
    assert_eq!(
        store
            .settlements_of_chat(Platform::Mock, &chat, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    let totals = store
        .counted_settlements(Platform::Mock, &chat)
        .await
        .unwrap();
    assert_eq!(totals.len(), 1, "{totals:?}");
    assert_eq!(totals[0].payer, bob);
    assert_eq!(totals[0].payee, alice);
    assert_eq!(totals[0].payee_label, "alice");
    assert_eq!(
        totals[0].amount,
        Amount::from_minor(4_000, Currency::USD).unwrap()
    );
    assert_eq!(totals[0].count, 2);
}

/// S4: an unanswered cash settlement is found by age and expired by one
/// check-and-set on "unanswered" in a ledger commit: once, never after an
/// answer or a cancel, and of an expiry racing a confirm exactly one wins.
async fn an_unanswered_cash_settlement_expires_once(store: Arc<SqlStore>, ledger: &Ledger) {
    let (alice, bob) = (user(&store, "alice").await, user(&store, "bob").await);
    let expire = |s: &Settlement, now_ms: i64| {
        store
            .record_write(RecordChange::ExpireCashSettlement {
                reference: &s.reference,
                now_ms,
            })
            .unwrap()
    };
    let old = settlement(bob, alice, 30, SettlementKind::Cash);
    store.insert_settlement(&old).await.unwrap().unwrap();
    let mut young = settlement(bob, alice, 31, SettlementKind::Cash);
    young.created_at_ms = T0 + 10_000;
    store.insert_settlement(&young).await.unwrap().unwrap();
    let paid = settlement(bob, alice, 32, SettlementKind::Paid);
    store.insert_settlement(&paid).await.unwrap().unwrap();
    // Only cash ones, unanswered, made by then.
    let due = store.cash_settlements_unanswered(T0, 10).await.unwrap();
    let due: Vec<&ShortRef> = due.iter().map(|s| &s.reference).collect();
    assert_eq!(due, vec![&old.reference]);
    ledger
        .commit(Unit::records(vec![expire(&old, T0 + 1)]))
        .await
        .unwrap();
    let stored = store.settlement(&old.reference).await.unwrap().unwrap();
    assert_eq!(stored.state, SettlementState::Expired);
    assert_eq!(stored.decided_at_ms, Some(T0 + 1));
    assert!(
        store
            .cash_settlements_unanswered(T0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Once: a second expiry, a late confirm and a cancel change nothing.
    let again = ledger
        .commit(Unit::records(vec![expire(&old, T0 + 2)]))
        .await;
    assert!(
        matches!(again, Err(SubmitError::RecordConflict { .. })),
        "{again:?}"
    );
    assert!(
        !store
            .answer_cash_settlement(&old.reference, true, T0 + 2)
            .await
            .unwrap()
    );
    assert!(
        !store
            .cancel_cash_settlement(&old.reference, bob, T0 + 2)
            .await
            .unwrap()
    );
    let stored = store.settlement(&old.reference).await.unwrap().unwrap();
    assert_eq!(stored.state, SettlementState::Expired);
    // Answered first: no expiry.
    store
        .answer_cash_settlement(&young.reference, true, T0 + 3)
        .await
        .unwrap();
    let late = ledger
        .commit(Unit::records(vec![expire(&young, T0 + 4)]))
        .await;
    assert!(
        matches!(late, Err(SubmitError::RecordConflict { .. })),
        "{late:?}"
    );
    let stored = store.settlement(&young.reference).await.unwrap().unwrap();
    assert_eq!(stored.state, SettlementState::Counted);
    // A paid settlement never expires this way.
    let never = ledger
        .commit(Unit::records(vec![expire(&paid, T0 + 4)]))
        .await;
    assert!(
        matches!(never, Err(SubmitError::RecordConflict { .. })),
        "{never:?}"
    );
    // Racing: exactly one of the expiry and the confirm wins.
    for n in 40..50 {
        let raced = settlement(bob, alice, n, SettlementKind::Cash);
        store.insert_settlement(&raced).await.unwrap().unwrap();
        let write = expire(&raced, T0 + 5);
        let answer_store = Arc::clone(&store);
        let answer_ref = raced.reference.clone();
        let answer = tokio::spawn(async move {
            answer_store
                .answer_cash_settlement(&answer_ref, true, T0 + 5)
                .await
                .unwrap()
        });
        let expired = ledger.commit(Unit::records(vec![write])).await;
        let confirmed = answer.await.unwrap();
        let expired = match expired {
            Ok(_) => true,
            Err(SubmitError::RecordConflict { .. }) => false,
            Err(other) => panic!("{other:?}"),
        };
        assert!(expired != confirmed, "exactly one wins");
        let state = store
            .settlement(&raced.reference)
            .await
            .unwrap()
            .unwrap()
            .state;
        let expected = if expired {
            SettlementState::Expired
        } else {
            SettlementState::Counted
        };
        assert_eq!(state, expected);
    }
}

/// The sweep's expiry and the payer's cancel at the same moment: exactly
/// one of them wins, and the settlement ends as the winner says.
async fn expiry_and_cancel_at_once_leave_one_outcome(store: Arc<SqlStore>, ledger: &Ledger) {
    let (alice, bob) = (user(&store, "alice").await, user(&store, "bob").await);
    for n in 40..48 {
        let cash = settlement(bob, alice, n, SettlementKind::Cash);
        store.insert_settlement(&cash).await.unwrap().unwrap();
        let expire = store
            .record_write(RecordChange::ExpireCashSettlement {
                reference: &cash.reference,
                now_ms: T0 + 1,
            })
            .unwrap();
        let (expired, cancelled) = tokio::join!(
            ledger.commit(Unit::records(vec![expire])),
            store.cancel_cash_settlement(&cash.reference, bob, T0 + 1)
        );
        let cancelled = cancelled.unwrap();
        let expired = match expired {
            Ok(_) => true,
            Err(SubmitError::RecordConflict { .. }) => false,
            Err(other) => panic!("{other:?}"),
        };
        assert!(expired != cancelled, "round {n}: one wins");
        let stored = store.settlement(&cash.reference).await.unwrap().unwrap();
        let want = if expired {
            SettlementState::Expired
        } else {
            SettlementState::Lapsed
        };
        assert_eq!(stored.state, want, "round {n}");
    }
}
