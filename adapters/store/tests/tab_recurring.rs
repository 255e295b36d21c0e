//! Recurring group expenses on SQLite and PostgreSQL alike: stored once
//! (with their lines and schedule) under their id and reference; listed
//! per group while they run; found when due; moved from period to period
//! only by compare-and-swap on the period (so a period is added once);
//! stopped once, after which nothing moves them.
// Test code throughout, helpers too (see clippy.toml).
#![cfg(test)]

#[macro_use]
mod common;

use std::sync::Arc;

use bot::command::{Memo, ShortRef};
use bot::message::{ChatId, Platform};
use bot::recurrence::{Recurrence, Schedule, UserTimeZone};
use bot::store::UserId;
use bot::store::tab::{ExpenseLine, RecurringExpense, RecurringExpenseStore};
use jiff::civil::Time;
use ledger::testing::{CLOCK_START_MS, TestBackend};
use ledger::{Amount, Currency, TransferId};
use paybot_store::SqlStore;

use common::{run, user};

const T0: i64 = CLOCK_START_MS;
const DAY_MS: i64 = 24 * 60 * 60 * 1_000;

conformance!(
    a_recurring_expense_is_stored_once_with_its_lines_and_schedule,
    periods_move_on_only_by_compare_and_swap,
    a_recurring_expense_is_stopped_once,
);

fn recurring(author: UserId, other: UserId, n: u128, chat: &str) -> RecurringExpense {
    let schedule = Schedule::starting(
        Recurrence::parse("every month on the 1st").unwrap(),
        UserTimeZone::parse("Europe/Paris").unwrap(),
        Time::constant(9, 0, 0, 0),
        T0,
    )
    .unwrap();
    RecurringExpense {
        reference: ShortRef::parse(&format!("G{n:06}")).unwrap(),
        recurring_id: TransferId::new(n).unwrap(),
        platform: Platform::Mock,
        chat: ChatId::new(chat).unwrap(),
        author,
        author_label: "alice".to_owned(),
        total: Amount::from_minor(120_000, Currency::USD).unwrap(),
        memo: Memo::parse("rent").ok(),
        due_at_ms: schedule.run_at_ms(0),
        schedule,
        lines: vec![
            ExpenseLine {
                user: author,
                label: "alice".to_owned(),
                paid_minor: 120_000,
                owed_minor: 60_000,
            },
            ExpenseLine {
                user: other,
                label: "bob".to_owned(),
                paid_minor: 0,
                owed_minor: 60_000,
            },
        ],
        next_period: 0,
        created_at_ms: T0,
        stopped_at_ms: None,
    }
}

async fn a_recurring_expense_is_stored_once_with_its_lines_and_schedule(store: Arc<SqlStore>) {
    let (alice, bob) = (user(&store, "alice").await, user(&store, "bob").await);
    let first = recurring(alice, bob, 1, "flat");
    let stored = store.insert_recurring_expense(&first).await.unwrap();
    assert_eq!(
        stored, first,
        "read back as written, schedule and lines too"
    );
    // A retry (same id, same reference) stores nothing new.
    assert_eq!(store.insert_recurring_expense(&first).await.unwrap(), first);
    // Another under the same reference: what holds the reference comes
    // back, so the caller can pick a longer one.
    let mut clash = recurring(alice, bob, 2, "flat");
    clash.reference = first.reference.clone();
    let found = store.insert_recurring_expense(&clash).await.unwrap();
    assert_eq!(found.recurring_id, first.recurring_id);
    let other_group = recurring(alice, bob, 3, "office");
    store.insert_recurring_expense(&other_group).await.unwrap();
    let flat = store
        .recurring_expenses_of_chat(Platform::Mock, &ChatId::new("flat").unwrap(), 10)
        .await
        .unwrap();
    assert_eq!(flat, vec![first.clone()], "each group sees its own");
    assert_eq!(
        store.recurring_expense(&first.reference).await.unwrap(),
        Some(first)
    );
}

async fn periods_move_on_only_by_compare_and_swap(store: Arc<SqlStore>) {
    let (alice, bob) = (user(&store, "alice").await, user(&store, "bob").await);
    let r = recurring(alice, bob, 1, "flat");
    store.insert_recurring_expense(&r).await.unwrap();
    let due_ms = r.due_at_ms.unwrap();
    assert!(
        store
            .recurring_expenses_due(due_ms - 1, 10)
            .await
            .unwrap()
            .is_empty(),
        "not due before its time"
    );
    let due = store.recurring_expenses_due(due_ms, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let next_ms = r.schedule.run_at_ms(1).unwrap();
    assert!(next_ms > due_ms + 27 * DAY_MS);
    assert!(
        store
            .advance_recurring_expense(&r.reference, 0, 1, Some(next_ms))
            .await
            .unwrap()
    );
    // A second sweep that read period 0 loses: nothing moves twice.
    assert!(
        !store
            .advance_recurring_expense(&r.reference, 0, 1, Some(next_ms))
            .await
            .unwrap()
    );
    let now = store
        .recurring_expense(&r.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((now.next_period, now.due_at_ms), (1, Some(next_ms)));
    assert!(
        store
            .recurring_expenses_due(next_ms - 1, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // No period left: it ends, and is no longer listed nor due.
    assert!(
        store
            .advance_recurring_expense(&r.reference, 1, 1, None)
            .await
            .unwrap()
    );
    assert!(
        store
            .recurring_expenses_of_chat(Platform::Mock, &ChatId::new("flat").unwrap(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .advance_recurring_expense(&r.reference, 1, 2, Some(next_ms))
            .await
            .unwrap(),
        "an ended one never moves again"
    );
}

async fn a_recurring_expense_is_stopped_once(store: Arc<SqlStore>) {
    let (alice, bob) = (user(&store, "alice").await, user(&store, "bob").await);
    let r = recurring(alice, bob, 1, "flat");
    store.insert_recurring_expense(&r).await.unwrap();
    assert!(
        store
            .stop_recurring_expense(&r.reference, T0 + 5)
            .await
            .unwrap()
    );
    assert!(
        !store
            .stop_recurring_expense(&r.reference, T0 + 6)
            .await
            .unwrap()
    );
    let now = store
        .recurring_expense(&r.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((now.due_at_ms, now.stopped_at_ms), (None, Some(T0 + 5)));
    assert!(
        store
            .recurring_expenses_due(i64::MAX / 2, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .advance_recurring_expense(&r.reference, 0, 1, Some(T0))
            .await
            .unwrap(),
        "a stopped one is never moved on"
    );
}
