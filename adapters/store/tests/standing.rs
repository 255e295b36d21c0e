//! Standing orders and time zones, on SQLite and PostgreSQL alike: an order
//! reads back as stored (its schedule with its zone and end), an insert
//! keeps the first copy, the queries find what the scheduler and
//! `/scheduled` need, and an order moves on only by compare-and-swap, also
//! when the write commits in a ledger unit with a run (the second run of
//! the same period is refused whole).
// Test code throughout, helpers too (see clippy.toml).
#![cfg(test)]

#[macro_use]
mod common;

use std::sync::Arc;

use bot::command::{Memo, ShortRef};
use bot::message::{Platform, PlatformUserId};
use bot::otp::{OtpChallenge, OtpHash, Pepper};
use bot::recurrence::{Recurrence, Schedule, UserTimeZone};
use bot::store::standing::{StandingOrder, StandingState, StandingStore};
use bot::store::{Store, UserId};
use bot::trust::Review;
use common::user;
use jiff::civil::Time;
use ledger::testing::{CLOCK_START_MS, TestBackend};
use ledger::{Amount, Currency, Ledger, SubmitError, TransferId, Unit};
use paybot_store::SqlStore;

const T0: i64 = CLOCK_START_MS;
const DAY_MS: i64 = 24 * 60 * 60 * 1_000;

async fn run(backend: TestBackend, case: impl AsyncFnOnce(Arc<SqlStore>, Ledger)) {
    let Some((db, store)) = common::fresh(backend).await else {
        return;
    };
    case(store, db.ledger.clone()).await;
    db.cleanup().await;
}

conformance!(
    an_order_reads_back_as_stored,
    an_insert_keeps_the_first_copy,
    the_queries_find_what_is_waiting_due_and_open,
    an_order_moves_on_by_compare_and_swap,
    a_period_commits_once_with_its_run,
    time_zones_are_set_and_replaced,
);

fn order(reference: &str, id: u128, payer: UserId, payee: UserId, rule: &str) -> StandingOrder {
    let pepper = Pepper::from_bytes((1..=32).collect()).unwrap();
    let schedule = Schedule::starting(
        Recurrence::parse(rule).unwrap(),
        UserTimeZone::parse("Europe/Paris").unwrap(),
        Time::constant(9, 30, 0, 0),
        T0,
    )
    .unwrap();
    StandingOrder {
        reference: ShortRef::parse(reference).unwrap(),
        order_id: TransferId::new(id).unwrap(),
        payer,
        payer_platform: Platform::Mock,
        payer_id: PlatformUserId::new("alice").unwrap(),
        payee,
        payee_platform: Platform::Mock,
        payee_id: PlatformUserId::new("bob").unwrap(),
        payee_label: "@bob".to_owned(),
        amount: Amount::from_minor(50_000, Currency::EUR).unwrap(),
        memo: Memo::from_stored("rent"),
        schedule,
        next_period: 0,
        attempts: 0,
        told_period: None,
        challenge: OtpChallenge::new(OtpHash::hash(&pepper, b"binding", "123456"), T0),
        review: Review::SecondFactor,
        state: StandingState::AwaitingCode,
        due_at_ms: Some(T0 + 300_000),
        created_at_ms: T0,
        updated_at_ms: T0,
        revision: 0,
        kind: bot::store::standing::StandingKind::Payment,
    }
}

fn same(a: &StandingOrder, b: &StandingOrder) {
    assert_eq!(a.reference, b.reference);
    assert_eq!(a.order_id, b.order_id);
    assert_eq!((a.payer, a.payee), (b.payer, b.payee));
    assert_eq!(a.payee_label, b.payee_label);
    assert_eq!(a.amount, b.amount);
    assert_eq!(a.memo, b.memo);
    assert_eq!(a.schedule, b.schedule);
    assert_eq!((a.next_period, a.attempts), (b.next_period, b.attempts));
    assert_eq!(a.told_period, b.told_period);
    assert_eq!(a.challenge.hash.to_bytes(), b.challenge.hash.to_bytes());
    assert_eq!(a.review, b.review);
    assert_eq!(a.state, b.state);
    assert_eq!(a.due_at_ms, b.due_at_ms);
    assert_eq!(a.revision, b.revision);
}

async fn an_order_reads_back_as_stored(store: Arc<SqlStore>, _ledger: Ledger) {
    let (alice, bob) = (user(&store, "alice").await, user(&store, "bob").await);
    for (i, rule) in (100u128..).zip([
        "every month on the 31st until 2027-06-30",
        "every 2 weeks on friday times 12",
        "every day",
    ]) {
        let reference = format!("OABCDE{i}");
        let mine = order(&reference, i, alice, bob, rule);
        let stored = store.insert_standing_order(&mine).await.unwrap();
        same(&stored, &mine);
        let read = store
            .standing_order(&mine.reference)
            .await
            .unwrap()
            .unwrap();
        same(&read, &mine);
        // The schedule names the same instants after the round trip.
        for k in [0, 1, 5] {
            assert_eq!(read.schedule.run_at_ms(k), mine.schedule.run_at_ms(k));
        }
        assert_eq!(read.schedule.zone().name(), "Europe/Paris");
    }
}

async fn an_insert_keeps_the_first_copy(store: Arc<SqlStore>, _ledger: Ledger) {
    let (alice, bob) = (user(&store, "alice").await, user(&store, "bob").await);
    let first = order("OFIRST1", 1, alice, bob, "every day");
    store.insert_standing_order(&first).await.unwrap();
    // The same order again (a retry): the stored one comes back.
    let mut again = first.clone();
    again.amount = Amount::from_minor(1, Currency::EUR).unwrap();
    let stored = store.insert_standing_order(&again).await.unwrap();
    assert_eq!(stored.amount, first.amount);
    // Another order whose reference is taken: the holder comes back, and
    // nothing of the newcomer is stored.
    let other = order("OFIRST1", 2, alice, bob, "every week");
    let stored = store.insert_standing_order(&other).await.unwrap();
    assert_eq!(stored.order_id, first.order_id);
}

async fn the_queries_find_what_is_waiting_due_and_open(store: Arc<SqlStore>, _ledger: Ledger) {
    let (alice, bob) = (user(&store, "alice").await, user(&store, "bob").await);
    assert!(!store.codes_awaited(alice).await.unwrap().standing);
    let waiting = order("OWAIT01", 1, alice, bob, "every day");
    store.insert_standing_order(&waiting).await.unwrap();
    // `/confirm` reads the orders only when this one read says some wait.
    let awaited = store.codes_awaited(alice).await.unwrap();
    assert!(awaited.standing && !awaited.cards && !awaited.autopays);
    // The same in `/confirm`'s first read, with the payments.
    assert_eq!(store.awaiting_code(alice).await.unwrap().others, awaited);
    assert!(
        !store.codes_awaited(bob).await.unwrap().standing,
        "hers only"
    );
    let mut active = order("OACTV01", 2, alice, bob, "every day");
    active.state = StandingState::Active;
    active.due_at_ms = Some(T0 + DAY_MS);
    store.insert_standing_order(&active).await.unwrap();
    let mut paused = order("OPAUS01", 3, alice, bob, "every day");
    paused.state = StandingState::Paused;
    paused.due_at_ms = None;
    store.insert_standing_order(&paused).await.unwrap();
    let mut done = order("ODONE01", 4, alice, bob, "every day");
    done.state = StandingState::Cancelled;
    done.due_at_ms = None;
    store.insert_standing_order(&done).await.unwrap();
    let mut bobs = order("OBOBS01", 5, bob, alice, "every day");
    bobs.state = StandingState::Active;
    bobs.due_at_ms = Some(T0 + 2 * DAY_MS);
    store.insert_standing_order(&bobs).await.unwrap();

    let refs = |orders: Vec<StandingOrder>| -> Vec<String> {
        orders.iter().map(|o| o.reference.to_string()).collect()
    };
    assert_eq!(
        refs(store.standing_orders_awaiting_code(alice).await.unwrap()),
        ["OWAIT01"]
    );
    assert_eq!(
        refs(store.standing_orders_of(alice, 10).await.unwrap()),
        ["OWAIT01", "OACTV01", "OPAUS01"]
    );
    assert_eq!(
        refs(store.standing_orders_of(alice, 1).await.unwrap()).len(),
        1
    );
    // Due: by due time, waiting codes and active runs only.
    assert_eq!(
        refs(store.standing_orders_due(T0, 10).await.unwrap().orders),
        Vec::<String>::new()
    );
    assert_eq!(
        refs(
            store
                .standing_orders_due(T0 + DAY_MS, 10)
                .await
                .unwrap()
                .orders
        ),
        ["OWAIT01", "OACTV01"]
    );
    assert_eq!(
        refs(
            store
                .standing_orders_due(T0 + 3 * DAY_MS, 10)
                .await
                .unwrap()
                .orders
        ),
        ["OWAIT01", "OACTV01", "OBOBS01"]
    );
    assert_eq!(
        refs(
            store
                .standing_orders_due(T0 + 3 * DAY_MS, 2)
                .await
                .unwrap()
                .orders
        ),
        ["OWAIT01", "OACTV01"]
    );
}

async fn an_order_moves_on_by_compare_and_swap(store: Arc<SqlStore>, _ledger: Ledger) {
    let (alice, bob) = (user(&store, "alice").await, user(&store, "bob").await);
    let waiting = store
        .insert_standing_order(&order("OCASX01", 1, alice, bob, "every day"))
        .await
        .unwrap();
    let mut active = waiting.clone();
    active.state = StandingState::Active;
    active.next_period = 3;
    active.told_period = Some(3);
    active.due_at_ms = Some(T0 + DAY_MS);
    assert!(store.update_standing_order(&active).await.unwrap());
    // The same revision again: someone else moved it first.
    let mut stale = waiting.clone();
    stale.state = StandingState::Cancelled;
    assert!(!store.update_standing_order(&stale).await.unwrap());
    let read = store
        .standing_order(&waiting.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.state, StandingState::Active);
    assert_eq!(read.next_period, 3);
    assert_eq!(read.told_period, Some(3));
    assert_eq!(read.revision, 1);
}

async fn a_period_commits_once_with_its_run(store: Arc<SqlStore>, ledger: Ledger) {
    let (alice, bob) = (user(&store, "alice").await, user(&store, "bob").await);
    let mut active = order("ORUNS01", 1, alice, bob, "every day");
    active.state = StandingState::Active;
    let active = store.insert_standing_order(&active).await.unwrap();
    let mut next = active.clone();
    next.next_period = 1;
    // Two workers build the same move from the same revision: the first
    // unit commits, the second is refused whole.
    let unit = || Unit::records(vec![store.standing_write(&next).unwrap()]);
    ledger.commit(unit()).await.unwrap();
    match ledger.commit(unit()).await {
        Err(SubmitError::RecordConflict { .. }) => {}
        other => panic!("expected a record conflict, got {other:?}"),
    }
    let read = store
        .standing_order(&active.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((read.next_period, read.revision), (1, 1));
}

async fn time_zones_are_set_and_replaced(store: Arc<SqlStore>, _ledger: Ledger) {
    let alice = user(&store, "alice").await;
    assert_eq!(store.time_zone_of(alice).await.unwrap(), None);
    store
        .set_time_zone(alice, "Europe/Paris", T0)
        .await
        .unwrap();
    assert_eq!(
        store.time_zone_of(alice).await.unwrap().as_deref(),
        Some("Europe/Paris")
    );
    store
        .set_time_zone(alice, "America/New_York", T0 + 1)
        .await
        .unwrap();
    assert_eq!(
        store.time_zone_of(alice).await.unwrap().as_deref(),
        Some("America/New_York")
    );
}
