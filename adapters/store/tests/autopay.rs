//! Autopays and their runs, on SQLite and PostgreSQL alike: both read back
//! as stored, an insert keeps the first copy, the queries find the active
//! autopay, the due runs and a month's autopaid sum, billers are told
//! apart, and both move on only by compare-and-swap, also in a ledger unit
//! (the second of two units from one revision is refused whole).
// Test code throughout, helpers too (see clippy.toml).
#![cfg(test)]

#[macro_use]
mod common;

use std::sync::Arc;

use bot::command::ShortRef;
use bot::message::{Platform, PlatformUserId};
use bot::otp::{OtpChallenge, OtpHash, Pepper};
use bot::store::autopay::{Autopay, AutopayRun, AutopayRunState, AutopayState, AutopayStore};
use bot::store::{Store, UserId};
use bot::trust::Review;
use common::user;
use ledger::testing::{CLOCK_START_MS, TestBackend};
use ledger::{Amount, Currency, Ledger, SubmitError, TransferId, Unit};
use paybot_store::SqlStore;
use paybot_store::bills::Biller;

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
    an_autopay_reads_back_and_keeps_its_first_copy,
    the_active_autopay_is_the_newest,
    runs_are_found_when_due_and_summed_by_month,
    a_month_is_summed_per_payer_and_payee_whichever_autopay_paid,
    both_move_on_once_in_a_ledger_unit,
    a_run_is_inserted_only_with_its_unit,
    billers_are_told_apart,
    set_ups_waiting_for_a_code_are_found_by_when_it_was_issued,
);

fn autopay(reference: &str, id: u128, payer: UserId, payee: UserId) -> Autopay {
    let pepper = Pepper::from_bytes((1..=32).collect()).unwrap();
    Autopay {
        reference: ShortRef::parse(reference).unwrap(),
        autopay_id: TransferId::new(id).unwrap(),
        payer,
        payer_platform: Platform::Mock,
        payer_id: PlatformUserId::new("alice").unwrap(),
        payee,
        payee_platform: Platform::Mock,
        payee_id: PlatformUserId::new("biller.power").unwrap(),
        payee_label: "@power".to_owned(),
        cap: Amount::from_minor(8_000, Currency::USD).unwrap(),
        challenge: OtpChallenge::new(OtpHash::hash(&pepper, b"binding", "123456"), T0),
        review: Review::SecondFactor,
        state: AutopayState::AwaitingCode,
        created_at_ms: T0,
        updated_at_ms: T0,
        revision: 0,
        series: None,
    }
}

fn run_of(request: &str, autopay: &str, payer: UserId, minor: i64, due: i64) -> AutopayRun {
    AutopayRun {
        request: ShortRef::parse(request).unwrap(),
        autopay: ShortRef::parse(autopay).unwrap(),
        payer,
        amount: Amount::from_minor(minor, Currency::USD).unwrap(),
        due_at_ms: due,
        pay_at_ms: due - 6 * 3_600_000,
        state: AutopayRunState::Scheduled,
        told: false,
        attempts: 0,
        month: None,
        next_at_ms: Some(due - DAY_MS),
        created_at_ms: T0,
        updated_at_ms: T0,
        revision: 0,
    }
}

async fn an_autopay_reads_back_and_keeps_its_first_copy(store: Arc<SqlStore>, _ledger: Ledger) {
    let (alice, power) = (user(&store, "alice").await, user(&store, "power").await);
    let first = autopay("UREAD01", 1, alice, power);
    assert!(!store.codes_awaited(alice).await.unwrap().autopays);
    let stored = store.insert_autopay(&first).await.unwrap();
    // `/confirm` reads the autopays only when this one read says some wait.
    let awaited = store.codes_awaited(alice).await.unwrap();
    assert!(awaited.autopays && !awaited.cards && !awaited.standing);
    // The same in `/confirm`'s first read, with the payments.
    assert_eq!(store.awaiting_code(alice).await.unwrap().others, awaited);
    assert!(!store.codes_awaited(power).await.unwrap().autopays);
    let again = store
        .insert_autopay(&autopay("UREAD01", 2, alice, power))
        .await
        .unwrap();
    for read in [
        stored,
        again,
        store.autopay(&first.reference).await.unwrap().unwrap(),
    ] {
        assert_eq!(read.autopay_id, first.autopay_id);
        assert_eq!(read.cap, first.cap);
        assert_eq!(read.review, first.review);
        assert_eq!(read.state, AutopayState::AwaitingCode);
        assert_eq!(read.payee_label, "@power");
        assert_eq!(
            read.challenge.hash.to_bytes(),
            first.challenge.hash.to_bytes()
        );
    }
    let run = run_of("RRUN0000001A", "UREAD01", alice, 5_000, T0 + 10 * DAY_MS);
    assert_eq!(store.insert_autopay_run(&run).await.unwrap(), run);
    let mut other = run.clone();
    other.due_at_ms += 1;
    assert_eq!(store.insert_autopay_run(&other).await.unwrap(), run);
    assert_eq!(
        store.autopay_run(&run.request).await.unwrap().as_ref(),
        Some(&run)
    );
}

async fn the_active_autopay_is_the_newest(store: Arc<SqlStore>, _ledger: Ledger) {
    let (alice, power) = (user(&store, "alice").await, user(&store, "power").await);
    assert!(store.active_autopay(alice, power).await.unwrap().is_none());
    let mut older = autopay("UOLD001", 1, alice, power);
    older.state = AutopayState::Active;
    store.insert_autopay(&older).await.unwrap();
    let mut newer = autopay("UNEW001", 2, alice, power);
    newer.state = AutopayState::Active;
    newer.created_at_ms = T0 + 1;
    store.insert_autopay(&newer).await.unwrap();
    let waiting = autopay("UWAIT01", 3, alice, power);
    store.insert_autopay(&waiting).await.unwrap();
    let mut series = autopay("USER001", 4, alice, power);
    series.state = AutopayState::Active;
    series.created_at_ms = T0 + 2;
    series.series = Some(ShortRef::parse("OSERIES").unwrap());
    let series = store.insert_autopay(&series).await.unwrap();
    assert_eq!(
        series.series.as_ref().map(ShortRef::as_str),
        Some("OSERIES")
    );
    let found = store
        .series_autopay(alice, &ShortRef::parse("OSERIES").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.reference.as_str(), "USER001");
    let mut off = series.clone();
    off.state = AutopayState::Off;
    assert!(store.update_autopay(&off).await.unwrap());
    let active = store.active_autopay(alice, power).await.unwrap().unwrap();
    assert_eq!(active.reference.as_str(), "UNEW001");
    let listed: Vec<String> = store
        .autopays_of(alice, 10)
        .await
        .unwrap()
        .iter()
        .map(|a| a.reference.to_string())
        .collect();
    assert_eq!(listed, ["UOLD001", "UWAIT01", "UNEW001"]);
    let mut off = active.clone();
    off.state = AutopayState::Off;
    assert!(store.update_autopay(&off).await.unwrap());
    assert!(!store.update_autopay(&off).await.unwrap(), "stale revision");
    let active = store.active_autopay(alice, power).await.unwrap().unwrap();
    assert_eq!(active.reference.as_str(), "UOLD001");
    assert_eq!(store.autopays_of(alice, 10).await.unwrap().len(), 2);
}

async fn runs_are_found_when_due_and_summed_by_month(store: Arc<SqlStore>, _ledger: Ledger) {
    let (alice, power) = (user(&store, "alice").await, user(&store, "power").await);
    let on = store
        .insert_autopay(&autopay("USUM001", 1, alice, power))
        .await
        .unwrap();
    let early = run_of("RRUN0000001A", "USUM001", alice, 5_000, T0 + 10 * DAY_MS);
    let late = run_of("RRUN0000002A", "USUM001", alice, 2_000, T0 + 20 * DAY_MS);
    store.insert_autopay_run(&late).await.unwrap();
    store.insert_autopay_run(&early).await.unwrap();
    let due = |at: i64| {
        let store = Arc::clone(&store);
        async move {
            store
                .autopay_runs_due(at, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.request.to_string())
                .collect::<Vec<_>>()
        }
    };
    assert!(due(T0).await.is_empty());
    assert_eq!(
        due(T0 + 30 * DAY_MS).await,
        ["RRUN0000001A", "RRUN0000002A"]
    );
    assert_eq!(store.autopaid_in_month(&on, "2026-01").await.unwrap(), 0);
    for (run, month) in [(&early, "2026-01"), (&late, "2026-01")] {
        let mut paid = run.clone();
        paid.state = AutopayRunState::Paid;
        paid.month = Some(month.to_owned());
        paid.next_at_ms = None;
        assert!(store.update_autopay_run(&paid).await.unwrap());
    }
    assert!(due(T0 + 30 * DAY_MS).await.is_empty());
    assert_eq!(
        store.autopaid_in_month(&on, "2026-01").await.unwrap(),
        7_000
    );
    assert_eq!(store.autopaid_in_month(&on, "2026-02").await.unwrap(), 0);
}

/// Issue 18 review: a new cap after a replaced autopay paid this month
/// counts what the old one paid (same payer and payee, same series), not
/// another payee's, another series' or another payer's.
async fn a_month_is_summed_per_payer_and_payee_whichever_autopay_paid(
    store: Arc<SqlStore>,
    _ledger: Ledger,
) {
    let (alice, power, water, bob) = (
        user(&store, "alice").await,
        user(&store, "power").await,
        user(&store, "water").await,
        user(&store, "bob").await,
    );
    let old = store
        .insert_autopay(&autopay("UOLD001", 1, alice, power))
        .await
        .unwrap();
    let new = store
        .insert_autopay(&autopay("UNEW001", 2, alice, power))
        .await
        .unwrap();
    let other_payee = store
        .insert_autopay(&autopay("UWAT001", 3, alice, water))
        .await
        .unwrap();
    let mut series = autopay("USER001", 4, alice, power);
    series.series = Some(ShortRef::parse("OSER001").unwrap());
    let series = store.insert_autopay(&series).await.unwrap();
    let other_payer = store
        .insert_autopay(&autopay("UBOB001", 5, bob, power))
        .await
        .unwrap();
    let paid = [
        ("RSUM0000001A", &old, alice, 8_000),
        ("RSUM0000002A", &other_payee, alice, 1_000),
        ("RSUM0000003A", &series, alice, 300),
        ("RSUM0000004A", &other_payer, bob, 20),
    ];
    for (request, autopay, payer, minor) in paid {
        let run = run_of(request, autopay.reference.as_str(), payer, minor, T0);
        let mut run = store.insert_autopay_run(&run).await.unwrap();
        run.state = AutopayRunState::Paid;
        run.month = Some("2026-01".to_owned());
        run.next_at_ms = None;
        assert!(store.update_autopay_run(&run).await.unwrap());
    }
    let sum = |a: Autopay| {
        let store = Arc::clone(&store);
        async move { store.autopaid_in_month(&a, "2026-01").await.unwrap() }
    };
    assert_eq!(sum(new.clone()).await, 8_000);
    assert_eq!(sum(old).await, 8_000);
    assert_eq!(sum(other_payee).await, 1_000);
    assert_eq!(sum(series).await, 300);
    assert_eq!(sum(other_payer).await, 20);
    let mut euros = new;
    euros.cap = Amount::from_minor(8_000, Currency::EUR).unwrap();
    assert_eq!(sum(euros).await, 0);
}

async fn both_move_on_once_in_a_ledger_unit(store: Arc<SqlStore>, ledger: Ledger) {
    let (alice, power) = (user(&store, "alice").await, user(&store, "power").await);
    let mut on = autopay("UUNIT01", 1, alice, power);
    on.state = AutopayState::Active;
    let on = store.insert_autopay(&on).await.unwrap();
    let run = run_of("RRUN0000001A", "UUNIT01", alice, 5_000, T0 + 10 * DAY_MS);
    let run = store.insert_autopay_run(&run).await.unwrap();
    let mut paid = run.clone();
    paid.state = AutopayRunState::Paid;
    paid.month = Some("2026-01".to_owned());
    paid.next_at_ms = None;
    let unit = || {
        Unit::records(vec![
            store.autopay_run_write(&paid).unwrap(),
            store.autopay_write(&on).unwrap(),
        ])
    };
    ledger.commit(unit()).await.unwrap();
    match ledger.commit(unit()).await {
        Err(SubmitError::RecordConflict { .. }) => {}
        other => panic!("expected a record conflict, got {other:?}"),
    }
    let read = store.autopay_run(&run.request).await.unwrap().unwrap();
    assert_eq!((read.state, read.revision), (AutopayRunState::Paid, 1));
    let read = store.autopay(&on.reference).await.unwrap().unwrap();
    assert_eq!(read.revision, 1);
}

/// Issue 18 review: a recurring request's run is inserted in the unit of
/// the series' compare-and-swap: a unit that loses inserts no run; one
/// that wins does, and a second insert keeps the first copy.
async fn a_run_is_inserted_only_with_its_unit(store: Arc<SqlStore>, ledger: Ledger) {
    let (alice, power) = (user(&store, "alice").await, user(&store, "power").await);
    let mut on = autopay("UINS001", 1, alice, power);
    on.state = AutopayState::Active;
    let on = store.insert_autopay(&on).await.unwrap();
    let run = run_of("RRUN0000009A", "UINS001", alice, 5_000, T0 + 10 * DAY_MS);
    let mut stale = on.clone();
    stale.revision += 1;
    let lost = Unit::records(vec![
        store.autopay_run_insert_write(&run).unwrap(),
        store.autopay_write(&stale).unwrap(),
    ]);
    match ledger.commit(lost).await {
        Err(SubmitError::RecordConflict { .. }) => {}
        other => panic!("expected a record conflict, got {other:?}"),
    }
    assert!(store.autopay_run(&run.request).await.unwrap().is_none());
    let won = || Unit::records(vec![store.autopay_run_insert_write(&run).unwrap()]);
    ledger.commit(won()).await.unwrap();
    let read = store.autopay_run(&run.request).await.unwrap().unwrap();
    assert_eq!((read.autopay.as_str(), read.revision), ("UINS001", 0));
    let mut other = run.clone();
    other.amount = Amount::from_minor(1, Currency::USD).unwrap();
    ledger
        .commit(Unit::records(vec![
            store.autopay_run_insert_write(&other).unwrap(),
        ]))
        .await
        .unwrap();
    let read = store.autopay_run(&run.request).await.unwrap().unwrap();
    assert_eq!(read.amount.minor(), 5_000);
}

async fn billers_are_told_apart(store: Arc<SqlStore>, _ledger: Ledger) {
    let (alice, power) = (user(&store, "alice").await, user(&store, "power").await);
    let biller = Biller {
        id: 0,
        name: "Power Co".to_owned(),
        handle: "power".to_owned(),
        user: power,
        webhook_url: "http://127.0.0.1:9/hook".to_owned(),
        webhook_secret: "whsec_test".to_owned(),
    };
    store.insert_biller(&biller, "digest", T0).await.unwrap();
    assert!(store.is_biller(power).await.unwrap());
    assert!(!store.is_biller(alice).await.unwrap());
}

async fn set_ups_waiting_for_a_code_are_found_by_when_it_was_issued(
    store: Arc<SqlStore>,
    _ledger: Ledger,
) {
    let (alice, power) = (user(&store, "alice").await, user(&store, "power").await);
    let old = autopay("UOLD001", 1, alice, power);
    store.insert_autopay(&old).await.unwrap();
    let mut newer = autopay("UNEW001", 2, alice, power);
    newer.challenge = OtpChallenge::new(newer.challenge.hash, T0 + 60_000);
    store.insert_autopay(&newer).await.unwrap();
    let mut on = autopay("UON0001", 3, alice, power);
    on.state = AutopayState::Active;
    store.insert_autopay(&on).await.unwrap();
    let refs = |found: Vec<Autopay>| -> Vec<String> {
        found.iter().map(|a| a.reference.to_string()).collect()
    };
    let none = store
        .autopays_awaiting_code_issued_before(T0 - 1, 10)
        .await
        .unwrap();
    assert!(none.is_empty());
    let first = store
        .autopays_awaiting_code_issued_before(T0, 10)
        .await
        .unwrap();
    assert_eq!(refs(first), ["UOLD001"]);
    let both = store
        .autopays_awaiting_code_issued_before(T0 + 60_000, 10)
        .await
        .unwrap();
    assert_eq!(refs(both), ["UOLD001", "UNEW001"]);
    let limited = store
        .autopays_awaiting_code_issued_before(T0 + 60_000, 1)
        .await
        .unwrap();
    assert_eq!(refs(limited), ["UOLD001"]);
    // Ended: no longer found.
    let mut ended = store.autopay(&old.reference).await.unwrap().unwrap();
    ended.state = AutopayState::Expired;
    assert!(store.update_autopay(&ended).await.unwrap());
    let left = store
        .autopays_awaiting_code_issued_before(T0 + 60_000, 10)
        .await
        .unwrap();
    assert_eq!(refs(left), ["UNEW001"]);
}
