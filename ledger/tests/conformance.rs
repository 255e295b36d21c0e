//! The ledger conformance suite: every case runs, unchanged, on SQLite
//! (`sqlite::case`) and on PostgreSQL (`postgres::case`).
// Test code throughout, helpers too (see clippy.toml).
#![cfg(test)]
#![allow(clippy::as_conversions)]

use std::time::Duration;

use ledger::testing::{TestBackend, TestDb, connections_by_tls};
use ledger::{
    Amount, Clock, Currency, HistoryCursor, NewTransfer, Outcome, RecordWrite, SqlValue,
    SubmitError, TransferError, TransferId, TransferKind, Unit, Violation,
};

fn usd(minor: i64) -> Amount {
    Amount::from_minor(minor, Currency::USD).unwrap()
}

fn id() -> TransferId {
    TransferId::random()
}

/// The ids of `account`'s first history page of `limit`, newest first.
async fn newest_first(
    ledger: &ledger::Ledger,
    account: ledger::AccountId,
    limit: u32,
) -> Vec<TransferId> {
    let page = ledger
        .history(account, HistoryCursor::START, limit)
        .await
        .unwrap();
    page.transfers.iter().map(|t| t.id).collect()
}

/// Pays `to` from `from` once for each amount, one after another, through
/// `ledger`; the transfers' ids in order.
async fn pay_one_by_one(
    ledger: &ledger::Ledger,
    from: ledger::AccountId,
    to: ledger::AccountId,
    minors: impl IntoIterator<Item = i64>,
) -> Vec<TransferId> {
    let mut ids = Vec::new();
    for minor in minors {
        let t = NewTransfer::single(id(), from, to, usd(minor));
        ids.push(t.id);
        ledger.submit(t).await.unwrap();
    }
    ids
}

fn rejection(result: Result<impl std::fmt::Debug, SubmitError>) -> TransferError {
    match result {
        Err(SubmitError::Rejected { error, .. }) => error,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

async fn run(backend: TestBackend, case: impl AsyncFnOnce(&TestDb)) {
    let Some(db) = TestDb::fresh(backend).await else {
        return;
    };
    case(&db).await;
    db.cleanup().await;
}

/// A test's PostgreSQL database goes however the test ends: one whose
/// `TestDb` was never cleaned up (the test panicked or returned early) is
/// dropped with it, its connections ended.
#[tokio::test]
async fn a_test_database_not_cleaned_up_is_dropped_with_its_test_db() {
    let Some(db) = TestDb::fresh(TestBackend::Postgres).await else {
        return;
    };
    let wallet = db.wallet("alice", Currency::USD).await;
    db.fund(wallet, usd(100)).await;
    let (server, name) = db.url.rsplit_once('/').unwrap();
    let (server, name) = (server.to_owned(), name.to_owned());
    drop(db);
    let left = ledger::testing::query_i64(
        &format!("{server}/postgres"),
        &format!("SELECT COUNT(*) FROM pg_database WHERE datname = '{name}'"),
    )
    .await
    .unwrap();
    assert_eq!(left, 0, "{name} is left behind");
}

/// A PostgreSQL server on this machine is reached without TLS: nothing it
/// would protect leaves the machine, and it costs CPU on both sides of
/// every statement. A url that names an `sslmode` gets what it names.
#[tokio::test]
async fn a_server_on_this_machine_is_reached_without_tls_unless_the_url_asks() {
    let Some((db, server, name)) = ledger::testing::fresh_postgres_on_this_machine().await else {
        return;
    };
    let wallet = db.wallet("alice", Currency::USD).await;
    db.fund(wallet, usd(100)).await;
    let (encrypted, plain) = connections_by_tls(&server, &name).await.unwrap();
    assert_eq!(
        encrypted, 0,
        "the ledger's connections to this machine use TLS"
    );
    assert!(plain > 0, "the ledger holds no connection to {name}");

    let offered = ledger::testing::query_i64(
        &format!("{server}/postgres"),
        "SELECT CAST(CASE WHEN current_setting('ssl') = 'on' THEN 1 ELSE 0 END AS BIGINT)",
    )
    .await
    .unwrap();
    if offered == 1 {
        let config = ledger::LedgerConfig::new(format!("{}?sslmode=require", db.url));
        let clock = std::sync::Arc::new(ledger::ManualClock::new(ledger::testing::CLOCK_START_MS));
        let asked = ledger::Ledger::connect(&config, clock).await.unwrap();
        asked.ping().await.unwrap();
        let (encrypted, _) = connections_by_tls(&server, &name).await.unwrap();
        assert!(encrypted > 0, "sslmode=require was not honoured");
        asked.close().await;
    } else {
        eprintln!("*** sslmode=require not checked: {server} offers no TLS ***");
    }
    assert_eq!(db.ledger.verify().await.unwrap(), Vec::<Violation>::new());
    db.cleanup().await;
}

/// Ledger migration 4 on a SQLite database made before it: every transfer
/// already there gets its two history entries, the mark covers them all,
/// and histories read as before.
#[tokio::test]
async fn migration_4_indexes_the_transfers_a_sqlite_database_already_has() {
    let Some(db) = TestDb::fresh(TestBackend::Sqlite).await else {
        return;
    };
    let alice = db.wallet("alice", Currency::USD).await;
    let bob = db.wallet("bob", Currency::USD).await;
    db.fund(alice, usd(1_000)).await;
    let mut paid = pay_one_by_one(&db.ledger, alice, bob, 1..=5).await;
    // The schema as ledger migration 3 left it.
    db.execute(
        "DROP TABLE account_entries; DROP TABLE account_entries_mark; \
         CREATE INDEX transfers_by_debit ON transfers (debit_account_id, seq); \
         CREATE INDEX transfers_by_credit ON transfers (credit_account_id, seq); \
         DELETE FROM paybot_migrations WHERE component = 'ledger' AND version = 4",
    )
    .await
    .unwrap();

    let upgraded = db.second_process().await;
    upgraded.migrate(&[]).await.unwrap();
    let transfers = db
        .query_i64("SELECT COUNT(*) FROM transfers")
        .await
        .unwrap();
    assert_eq!(transfers, 6);
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM account_entries")
            .await
            .unwrap(),
        2 * transfers
    );
    let (mark, last) = cases::mark_and_last(&db).await;
    assert_eq!(mark, last);
    let indexes = db
        .query_i64(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' \
             AND name IN ('transfers_by_debit', 'transfers_by_credit')",
        )
        .await
        .unwrap();
    assert_eq!(indexes, 0, "the indexes every commit wrote are gone");
    paid.reverse();
    assert_eq!(newest_first(&upgraded, bob, 10).await, paid);
    assert_eq!(upgraded.verify().await.unwrap(), Vec::<Violation>::new());
    upgraded.close().await;
    db.cleanup().await;
}

/// On SQLite a step of history entries that fails leaves payments alone:
/// they commit, histories read them past the mark, and the step tried a
/// step's worth of transfers later (here 2) catches up once it can.
#[tokio::test]
async fn payments_commit_while_history_entries_cannot_be_written_and_catch_up() {
    let Some(db) = TestDb::fresh(TestBackend::Sqlite).await else {
        return;
    };
    let config = ledger::LedgerConfig {
        sqlite_entries_step_transfers: 2,
        ..ledger::LedgerConfig::new(&db.url)
    };
    let writer = ledger::Ledger::connect(&config, db.clock.clone())
        .await
        .unwrap();
    let alice = db.wallet("alice", Currency::USD).await;
    let bob = db.wallet("bob", Currency::USD).await;
    db.fund(alice, usd(1_000)).await;
    db.execute(
        "CREATE TRIGGER entries_refused BEFORE INSERT ON account_entries \
         BEGIN SELECT RAISE(ABORT, 'disk full, say'); END",
    )
    .await
    .unwrap();
    let (stuck, _) = cases::mark_and_last(&db).await;
    let mut paid = pay_one_by_one(&writer, alice, bob, 1..=6).await;
    let (mark, last) = cases::mark_and_last(&db).await;
    assert_eq!(mark, stuck, "no step got through");
    assert!(last >= mark + 6);
    paid.reverse();
    assert_eq!(newest_first(&db.ledger, bob, 10).await, paid);

    db.execute("DROP TRIGGER entries_refused").await.unwrap();
    writer
        .submit(NewTransfer::single(id(), alice, bob, usd(7)))
        .await
        .unwrap();
    let (mark, last) = cases::mark_and_last(&db).await;
    assert_eq!(mark, last - 1, "the next step indexed all before its batch");
    assert_eq!(db.ledger.verify().await.unwrap(), Vec::<Violation>::new());
    writer.close().await;
    db.cleanup().await;
}

/// Ends every connection to the test's PostgreSQL database, as a restart
/// or an idle timeout on the way would, then waits until the ones kept count
/// as idle (`POOL_PING_AFTER_IDLE_MS`). A real wait: idleness is measured
/// on `std::time::Instant`, which no test clock reaches.
async fn end_every_connection_and_sit_idle(db: &TestDb) {
    let (server, name) = db.url.rsplit_once('/').unwrap();
    let ended = ledger::testing::query_i64(
        &format!("{server}/postgres"),
        &format!(
            "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}') AS ended"
        ),
    )
    .await
    .unwrap();
    assert!(ended > 0, "no connection to {name} to end");
    tokio::time::sleep(Duration::from_millis(ledger::POOL_PING_AFTER_IDLE_MS + 250)).await;
}

/// A pooled connection the server ended while it sat idle is not handed
/// out: idle for longer than `POOL_PING_AFTER_IDLE_MS`, it is pinged
/// first, and reads go on, on a new connection.
#[tokio::test]
async fn a_connection_the_server_ended_while_idle_is_replaced() {
    run(TestBackend::Postgres, async |db| {
        let wallet = db.wallet("alice", Currency::USD).await;
        db.fund(wallet, usd(100)).await;
        end_every_connection_and_sit_idle(db).await;
        for _ in 0..8 {
            db.ledger.ping().await.unwrap();
            let balance = db.ledger.balance(wallet).await.unwrap().unwrap();
            assert_eq!(balance.available(), 100);
        }
    })
    .await;
}

/// The connections the group-commit writers keep from batch to batch are
/// held apart from the pool, so its ping does not reach them: a payment
/// made after the server ended them while the ledger sat idle (a restart, an
/// idle timeout, a proxy) is committed all the same, on a new connection,
/// and none is refused.
#[tokio::test]
async fn a_transfer_after_the_server_ended_the_writers_idle_connections_is_committed() {
    run(TestBackend::Postgres, async |db| {
        let (alice, bob) = alice_funded_and_bob(db, 10_000).await;
        // Both writers (PostgreSQL pipelines two batches) take a connection of
        // their own and keep it.
        let units = (0..64).map(|_| one_cent(alice, bob)).collect();
        for answer in db.commit_side_by_side(units).await {
            answer.unwrap();
        }
        end_every_connection_and_sit_idle(db).await;
        for i in 0..4 {
            let answer = db
                .ledger
                .submit(NewTransfer::single(id(), alice, bob, usd(1)))
                .await;
            assert!(answer.is_ok(), "payment {i} after the restart: {answer:?}");
        }
        let units = (0..64).map(|_| one_cent(alice, bob)).collect();
        for answer in db.commit_side_by_side(units).await {
            assert!(
                answer.is_ok(),
                "a payment side by side after the restart: {answer:?}"
            );
        }
        assert_eq!(balance(db, alice).await, (10_000 - 132, 10_000 - 132));
        assert_eq!(balance(db, bob).await, (132, 132));
        assert_sound(db).await;
    })
    .await;
}

/// A unit of one transfer of 1 cent.
fn one_cent(from: ledger::AccountId, to: ledger::AccountId) -> Unit {
    Unit {
        transfers: vec![NewTransfer::single(id(), from, to, usd(1))],
        ..Unit::default()
    }
}

/// Alice's and Bob's USD wallets, Alice's funded with `funding_minor`.
async fn alice_funded_and_bob(
    db: &TestDb,
    funding_minor: i64,
) -> (ledger::AccountId, ledger::AccountId) {
    let alice = db.wallet("alice", Currency::USD).await;
    let bob = db.wallet("bob", Currency::USD).await;
    db.fund(alice, usd(funding_minor)).await;
    (alice, bob)
}

/// Available and posted balance of a wallet.
async fn balance(db: &TestDb, account: ledger::AccountId) -> (i64, i64) {
    let b = db.ledger.balance(account).await.unwrap().unwrap();
    (b.available(), b.posted)
}

async fn assert_sound(db: &TestDb) {
    let violations = db.ledger.verify().await.unwrap();
    assert!(violations.is_empty(), "violations: {violations:?}");
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $case() {
                super::run(super::TestBackend::Sqlite, super::cases::$case).await
            })*
        }
        mod postgres {
            $(#[tokio::test] async fn $case() {
                super::run(super::TestBackend::Postgres, super::cases::$case).await
            })*
        }
    };
}

conformance!(
    single_transfer_moves_money,
    same_id_same_fields_is_exists_and_moves_nothing,
    same_id_different_fields_names_the_field,
    insufficient_funds_writes_nothing,
    unknown_account_is_refused,
    currency_mismatch_is_refused,
    same_account_on_both_sides_is_refused,
    pending_reserves_then_post_moves,
    partial_post_releases_the_rest,
    post_above_pending_amount_is_refused,
    void_releases_and_blocks_later_post,
    resolved_pending_cannot_be_resolved_again,
    retrying_a_post_answers_exists,
    pending_expires_after_its_timeout,
    invalid_timeout_is_refused,
    linked_group_is_all_or_nothing,
    linked_group_can_create_and_post_a_pending,
    duplicate_ids_in_a_group_are_refused,
    history_pages_newest_first,
    history_reads_indexed_and_recent_transfers_at_one_moment,
    open_account_is_idempotent,
    accounts_opened_at_once_are_one_each_and_an_open_one_writes_nothing,
    currency_totals_balance,
    verify_names_a_broken_account,
    transfers_are_immutable,
    rows_naming_what_does_not_exist_are_refused_and_accounts_stay,
    racing_post_and_void_resolve_once,
    two_processes_never_resolve_a_pending_twice,
    a_second_process_spending_first_is_seen,
    retry_of_an_acknowledged_transfer_never_applies_twice,
    outbox_is_written_with_its_group_and_only_then,
    record_writes_commit_with_their_group_and_a_conflict_leaves_it_out,
    record_writes_of_one_kind_combine_and_a_conflict_still_leaves_its_unit_out,
    rows_of_a_refused_unit_are_not_written_and_its_batch_commits,
    outbox_messages_are_handed_out_until_delivered,
    outbox_marks_many_at_once_and_counts_the_backlog,
    credit_balance_max_refuses_what_would_go_over,
    open_pending_debits_by_deadline,
    allowance_returns_when_its_window_passes,
);

mod cases {
    use super::*;
    use ledger::OutboxMessage;

    pub(crate) async fn credit_balance_max_refuses_what_would_go_over(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 10_000).await;
        db.fund(bob, usd(300)).await;
        // Bob holds 300; at most 1,000: 700 more fits, 701 does not.
        let over = NewTransfer::single(id(), alice, bob, usd(701)).with_credit_balance_max(1_000);
        assert_eq!(
            rejection(db.ledger.submit(over.clone()).await),
            TransferError::CreditBalanceExceeded
        );
        assert_eq!(db.ledger.transfer(over.id).await.unwrap(), None);
        // Pending credits count: 400 promised leaves room for 300.
        db.ledger
            .submit(
                NewTransfer::pending(id(), alice, bob, usd(400), 60).with_credit_balance_max(1_000),
            )
            .await
            .unwrap();
        let t = NewTransfer::pending(id(), alice, bob, usd(301), 60).with_credit_balance_max(1_000);
        assert_eq!(
            rejection(db.ledger.submit(t).await),
            TransferError::CreditBalanceExceeded
        );
        // In a linked group, the refusal names its index and nothing moves.
        let group = vec![
            NewTransfer::single(id(), alice, bob, usd(100)),
            NewTransfer::single(id(), alice, bob, usd(201)).with_credit_balance_max(1_000),
        ];
        match db.ledger.submit_linked(group).await {
            Err(SubmitError::Rejected { index: 1, error }) => {
                assert_eq!(error, TransferError::CreditBalanceExceeded)
            }
            other => panic!("expected #1 refused, got {other:?}"),
        }
        let exact = NewTransfer::single(id(), alice, bob, usd(300)).with_credit_balance_max(1_000);
        db.ledger.submit(exact.clone()).await.unwrap();
        // A retry is "exists", whatever the condition says now.
        let retry = db.ledger.submit(exact).await.unwrap();
        assert!(matches!(retry, Outcome::Exists(_)));
        // Debits make room again.
        db.ledger
            .submit(NewTransfer::single(id(), bob, alice, usd(100)))
            .await
            .unwrap();
        db.ledger
            .submit(NewTransfer::single(id(), alice, bob, usd(100)).with_credit_balance_max(1_000))
            .await
            .unwrap();
        assert_eq!(balance(db, bob).await, (600, 600));
        assert_sound(db).await;
    }

    pub(crate) async fn open_pending_debits_by_deadline(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 10_000).await;
        let long = NewTransfer::pending(id(), alice, bob, usd(100), 600);
        let short = NewTransfer::pending(id(), alice, bob, usd(200), 60);
        let voided = NewTransfer::pending(id(), alice, bob, usd(300), 30);
        let incoming = NewTransfer::pending(id(), bob, alice, usd(1), 10);
        db.fund(bob, usd(10)).await;
        for t in [&long, &short, &voided, &incoming] {
            db.ledger.submit(t.clone()).await.unwrap();
        }
        db.ledger
            .submit(NewTransfer::void(id(), voided.id))
            .await
            .unwrap();
        let open = db.ledger.open_pending_debits(alice, 10).await.unwrap();
        let ids: Vec<TransferId> = open.iter().map(|t| t.id).collect();
        assert_eq!(ids, vec![short.id, long.id], "soonest first, open only");
        let now = db.clock.now_ms();
        assert_eq!(open[0].expires_at_ms(), Some(now + 60_000));
        let first = db.ledger.open_pending_debits(alice, 1).await.unwrap();
        assert_eq!(first.len(), 1);
        // Expired by the sweeper: gone.
        db.clock.advance(Duration::from_secs(61));
        db.ledger.expire_due().await.unwrap();
        let open = db.ledger.open_pending_debits(alice, 10).await.unwrap();
        assert_eq!(open.iter().map(|t| t.id).collect::<Vec<_>>(), vec![long.id]);
        assert!(
            db.ledger
                .open_pending_debits(bob, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_sound(db).await;
    }

    pub(crate) async fn allowance_returns_when_its_window_passes(db: &TestDb) {
        use ledger::{AccountKind, NewAccount, OwnerRef};
        let open = |owner: OwnerRef, kind| NewAccount {
            owner,
            kind,
            currency: Currency::USD,
        };
        let allowance = db
            .ledger
            .open_account(&open(
                OwnerRef::new("allowance:1:sent_24h").unwrap(),
                AccountKind::Allowance,
            ))
            .await
            .unwrap();
        assert!(allowance.flags.no_overdraft());
        let source = db
            .ledger
            .open_account(&open(OwnerRef::system(), AccountKind::AllowanceSource))
            .await
            .unwrap();
        assert!(!source.flags.no_overdraft());
        db.ledger
            .submit(NewTransfer::single(id(), source.id, allowance.id, usd(500)))
            .await
            .unwrap();
        let use_ = |minor| NewTransfer::pending(id(), allowance.id, source.id, usd(minor), 3_600);
        db.ledger.submit(use_(300)).await.unwrap();
        assert_eq!(
            rejection(db.ledger.submit(use_(201)).await),
            TransferError::InsufficientFunds
        );
        db.clock.advance(Duration::from_secs(3_600));
        db.ledger.expire_due().await.unwrap();
        db.ledger.submit(use_(500)).await.unwrap();
        assert_sound(db).await;
    }

    pub(crate) async fn outbox_is_written_with_its_group_and_only_then(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 1_000).await;
        let note = |id: u128, text: &str| OutboxMessage::new(id, "notify", text).unwrap();
        // Refused: the message is not written.
        let too_much = vec![NewTransfer::single(id(), alice, bob, usd(5_000))];
        let refused = db
            .ledger
            .submit_linked_with_outbox(too_much, vec![note(1, "no")])
            .await;
        assert!(matches!(refused, Err(SubmitError::Rejected { .. })));
        assert!(db.ledger.outbox_undelivered(10).await.unwrap().is_empty());
        // Accepted: written once, also when the same event is submitted again.
        let pay = vec![NewTransfer::single(id(), alice, bob, usd(100))];
        for _ in 0..2 {
            db.ledger
                .submit_linked_with_outbox(pay.clone(), vec![note(2, "bob got $1.00")])
                .await
                .unwrap();
        }
        let waiting = db.ledger.outbox_undelivered(10).await.unwrap();
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].message, note(2, "bob got $1.00"));
        assert_eq!(balance(db, bob).await, (100, 100));
    }

    pub(crate) async fn record_writes_commit_with_their_group_and_a_conflict_leaves_it_out(
        db: &TestDb,
    ) {
        let (alice, bob) = alice_funded_and_bob(db, 1_000).await;
        let note = OutboxMessage::new(7, "notify", "seven").unwrap();
        db.ledger
            .enqueue_outbox(std::slice::from_ref(&note))
            .await
            .unwrap();
        // A record write another component would make: here, one of the
        // ledger's own tables, counting attempts on message 7.
        let bump = |expected: Option<u64>| {
            let write = RecordWrite::new(
                "UPDATE outbox SET attempts = attempts + 1 WHERE id = $1",
                vec![SqlValue::Uuid(Some(7))],
            );
            match expected {
                Some(rows) => write.expecting_rows(rows),
                None => write,
            }
        };
        let attempts = |db: &'_ TestDb| {
            let ledger = db.ledger.clone();
            async move { ledger.outbox_undelivered(10).await.unwrap()[0].attempts }
        };
        let unit = |transfers: Vec<NewTransfer>, records: Vec<RecordWrite>| Unit {
            transfers,
            outbox: Vec::new(),
            records,
        };
        // Refused money: the record is not written.
        let too_much = NewTransfer::single(id(), alice, bob, usd(5_000));
        let refused = db
            .ledger
            .commit(unit(vec![too_much], vec![bump(None)]))
            .await;
        assert!(matches!(refused, Err(SubmitError::Rejected { .. })));
        assert_eq!(attempts(db).await, 0);
        // Applied money: written in the same commit.
        let pay = NewTransfer::single(id(), alice, bob, usd(100));
        db.ledger
            .commit(unit(vec![pay], vec![bump(Some(1))]))
            .await
            .unwrap();
        assert_eq!(attempts(db).await, 1);
        // Records alone.
        db.ledger
            .commit(Unit::records(vec![bump(Some(1))]))
            .await
            .unwrap();
        assert_eq!(attempts(db).await, 2);
        // A write that does not change the rows it expects: nothing of its
        // unit is written, while the units batched with it are.
        let conflicted = NewTransfer::single(id(), alice, bob, usd(100));
        let beside = NewTransfer::single(id(), alice, bob, usd(200));
        let (a, b) = tokio::join!(
            db.ledger.commit(unit(
                vec![conflicted.clone()],
                vec![bump(None), bump(Some(2))]
            )),
            db.ledger
                .commit(unit(vec![beside.clone()], vec![bump(Some(1))])),
        );
        assert!(
            matches!(a, Err(SubmitError::RecordConflict { record: 1 })),
            "{a:?}"
        );
        b.unwrap();
        assert!(db.ledger.transfer(conflicted.id).await.unwrap().is_none());
        assert!(db.ledger.transfer(beside.id).await.unwrap().is_some());
        assert_eq!(attempts(db).await, 3);
        assert_eq!(balance(db, bob).await, (300, 300));
        // Out of bounds: refused before it reaches the writer.
        let empty = RecordWrite::new("", Vec::new());
        let invalid = db.ledger.commit(Unit::records(vec![empty])).await;
        assert!(
            matches!(invalid, Err(SubmitError::Ledger(_))),
            "{invalid:?}"
        );
        assert_sound(db).await;
    }

    pub(crate) async fn record_writes_of_one_kind_combine_and_a_conflict_still_leaves_its_unit_out(
        db: &TestDb,
    ) {
        // The outbox stands in for another component's table. The combined
        // forms write the topic "combined", so the test sees which ran.
        const INSERT: &str = "INSERT INTO outbox (id, topic, payload, created_at_ms)
             VALUES ($1, 'single', $2, $3) ON CONFLICT DO NOTHING";
        const INSERT_ROWS: &str = "INSERT INTO outbox (id, topic, payload, created_at_ms)
             SELECT r.c1, 'combined', r.c2, r.c3 FROM {rows} AS r WHERE true
             ON CONFLICT DO NOTHING";
        const BUMP: &str = "UPDATE outbox SET attempts = attempts + 1 WHERE id = $1";
        const BUMP_ROWS: &str = "UPDATE outbox SET attempts = outbox.attempts + 1
             FROM {rows} AS r WHERE outbox.id = r.c1";
        let insert = |id: u128| {
            RecordWrite::new(
                INSERT,
                vec![
                    SqlValue::Uuid(Some(id)),
                    SqlValue::from(format!("message {id}")),
                    SqlValue::from(1_i64),
                ],
            )
            .expecting_rows(1)
            .combining(INSERT_ROWS)
        };
        let bump = |id: u128| {
            RecordWrite::new(BUMP, vec![SqlValue::Uuid(Some(id))])
                .expecting_rows(1)
                .combining(BUMP_ROWS)
        };
        // Each unit writes its message, then bumps it: a unit's writes run
        // in order, whatever is combined.
        let units = (1..=32)
            .map(|i| Unit::records(vec![insert(i), bump(i)]))
            .collect();
        for answer in db.commit_side_by_side(units).await {
            answer.unwrap();
        }
        let written = db.ledger.outbox_undelivered(100).await.unwrap();
        assert_eq!(written.len(), 32);
        assert!(
            written.iter().any(|m| m.message.topic() == "combined"),
            "32 units side by side: some writes combined"
        );
        assert_eq!(
            outbox_attempts(db).await,
            (1..=32).map(|i| (i, 1)).collect::<Vec<_>>()
        );
        // One unit among them bumps a message that is not there: it alone is
        // left out, money and all; the others commit.
        let (alice, bob) = alice_funded_and_bob(db, 10_000).await;
        let pay = |id: u128| Unit {
            transfers: vec![NewTransfer::single(
                TransferId::random(),
                alice,
                bob,
                usd(10),
            )],
            outbox: Vec::new(),
            records: vec![bump(id)],
        };
        let mut units: Vec<Unit> = (1..=16).map(pay).collect();
        units.insert(8, pay(999));
        let answers = db.commit_side_by_side(units).await;
        for (i, answer) in answers.iter().enumerate() {
            if i == 8 {
                assert!(
                    matches!(answer, Err(SubmitError::RecordConflict { record: 0 })),
                    "{answer:?}"
                );
            } else {
                assert!(answer.is_ok(), "{answer:?}");
            }
        }
        assert_eq!(balance(db, bob).await, (160, 160));
        assert_eq!(
            outbox_attempts(db).await,
            (1..=32)
                .map(|i| (i, if i <= 16 { 2 } else { 1 }))
                .collect::<Vec<_>>()
        );
        // Two units writing the same new message: one of them does.
        let answers = db
            .commit_side_by_side(vec![
                Unit::records(vec![insert(500)]),
                Unit::records(vec![insert(500)]),
            ])
            .await;
        let conflicts = answers
            .iter()
            .filter(|a| matches!(a, Err(SubmitError::RecordConflict { record: 0 })))
            .count();
        assert_eq!(
            (conflicts, answers.iter().filter(|a| a.is_ok()).count()),
            (1, 1)
        );
        assert_eq!(db.ledger.outbox_undelivered(100).await.unwrap().len(), 33);
        assert_sound(db).await;
    }

    pub(crate) async fn rows_of_a_refused_unit_are_not_written_and_its_batch_commits(db: &TestDb) {
        // Each unit pays Bob, tells him (an outbox message of its own) and
        // counts an attempt on a message of its own (the outbox standing in
        // for another component's table); units 3 and 9 ask for more than
        // Alice has. A refused unit's records and messages must never
        // commit, nor keep the others in its batch from committing.
        let (alice, bob) = alice_funded_and_bob(db, 1_000).await;
        let counters: Vec<OutboxMessage> = (1..=12)
            .map(|i| OutboxMessage::new(i, "count", format!("counter {i}")).unwrap())
            .collect();
        db.ledger.enqueue_outbox(&counters).await.unwrap();
        let refused = [3_u128, 9];
        let told = |round: u128, i: u128| 1_000 * round + i;
        let unit = |round: u128, i: u128| {
            let minor = if refused.contains(&i) { 5_000 } else { 10 };
            Unit {
                transfers: vec![NewTransfer::single(id(), alice, bob, usd(minor))],
                outbox: vec![
                    OutboxMessage::new(told(round, i), "notify", "bob got $0.10").unwrap(),
                ],
                records: vec![
                    RecordWrite::new(
                        "UPDATE outbox SET attempts = attempts + 1 WHERE id = $1",
                        vec![SqlValue::Uuid(Some(i))],
                    )
                    .expecting_rows(1),
                ],
            }
        };
        for round in 1..=2_u128 {
            let answers = db
                .commit_side_by_side((1..=12).map(|i| unit(round, i)).collect())
                .await;
            for (i, answer) in (1..=12).zip(&answers) {
                if refused.contains(&i) {
                    assert!(
                        matches!(answer, Err(SubmitError::Rejected { .. })),
                        "unit {i}: {answer:?}"
                    );
                } else {
                    assert!(answer.is_ok(), "unit {i}: {answer:?}");
                }
            }
            let written = outbox_attempts(db).await;
            let counted = (1..=12).map(|i| {
                let n = if refused.contains(&i) { 0 } else { round };
                (i, i32::try_from(n).unwrap())
            });
            let told_bob = (1..=round)
                .flat_map(|r| (1..=12).map(move |i| (r, i)))
                .filter(|(_, i)| !refused.contains(i))
                .map(|(r, i)| (told(r, i), 0));
            let expected: Vec<(u128, i32)> = counted.chain(told_bob).collect();
            assert_eq!(written, expected, "round {round}");
            let paid = 100 * i64::try_from(round).unwrap();
            assert_eq!(balance(db, bob).await, (paid, paid));
        }
        assert_sound(db).await;
    }

    /// Every undelivered outbox message's id and attempts, by id.
    async fn outbox_attempts(db: &TestDb) -> Vec<(u128, i32)> {
        let mut all: Vec<(u128, i32)> = db
            .ledger
            .outbox_undelivered(100)
            .await
            .unwrap()
            .iter()
            .map(|m| (m.message.id(), m.attempts))
            .collect();
        all.sort_unstable();
        all
    }

    pub(crate) async fn outbox_messages_are_handed_out_until_delivered(db: &TestDb) {
        let messages: Vec<_> = (1..=3)
            .map(|i| OutboxMessage::new(i, "notify", format!("message {i}")).unwrap())
            .collect();
        db.ledger.enqueue_outbox(&messages).await.unwrap();
        db.ledger.enqueue_outbox(&messages[..1]).await.unwrap();
        let waiting = db.ledger.outbox_undelivered(10).await.unwrap();
        let ids: Vec<u128> = waiting.iter().map(|m| m.message.id()).collect();
        assert_eq!(ids, vec![1, 2, 3], "oldest first, no duplicate");
        let backlog = db.ledger.outbox_backlog(100).await.unwrap();
        assert_eq!(backlog.messages, 3);
        assert_eq!(backlog.oldest_created_at_ms, Some(waiting[0].created_at_ms));
        assert_eq!(
            db.ledger.outbox_backlog(2).await.unwrap().messages,
            2,
            "bounded"
        );
        db.ledger.outbox_failed(1).await.unwrap();
        db.ledger.outbox_delivered(2).await.unwrap();
        assert_eq!(db.ledger.outbox_backlog(100).await.unwrap().messages, 2);
        let waiting = db.ledger.outbox_undelivered(10).await.unwrap();
        let left: Vec<(u128, i32)> = waiting
            .iter()
            .map(|m| (m.message.id(), m.attempts))
            .collect();
        assert_eq!(left, vec![(1, 1), (3, 0)]);
        db.ledger.outbox_delivered(1).await.unwrap();
        db.ledger.outbox_delivered(3).await.unwrap();
        let empty = db.ledger.outbox_backlog(100).await.unwrap();
        assert_eq!((empty.messages, empty.oldest_created_at_ms), (0, None));
        assert!(OutboxMessage::new(4, "", "x").is_err());
        assert!(
            OutboxMessage::new(4, "t", "x".repeat(ledger::OUTBOX_PAYLOAD_BYTES_MAX + 1)).is_err()
        );
    }

    pub(crate) async fn outbox_marks_many_at_once_and_counts_the_backlog(db: &TestDb) {
        let messages: Vec<_> = (1..=5)
            .map(|i| OutboxMessage::new(i, "notify", format!("message {i}")).unwrap())
            .collect();
        db.ledger.enqueue_outbox(&messages).await.unwrap();
        assert_eq!(
            db.ledger.outbox_backlog(u32::MAX).await.unwrap().messages,
            5
        );
        db.ledger.outbox_delivered_many(&[1, 3, 4]).await.unwrap();
        db.ledger.outbox_failed_many(&[2, 5]).await.unwrap();
        db.ledger.outbox_failed_many(&[5]).await.unwrap();
        db.ledger.outbox_delivered_many(&[]).await.unwrap();
        let waiting = db.ledger.outbox_undelivered(10).await.unwrap();
        let left: Vec<(u128, i32)> = waiting
            .iter()
            .map(|m| (m.message.id(), m.attempts))
            .collect();
        assert_eq!(left, vec![(2, 1), (5, 2)]);
        assert_eq!(
            db.ledger.outbox_backlog(u32::MAX).await.unwrap().messages,
            2
        );
        // Marked again (a mark after a lost answer): nothing changes.
        db.ledger.outbox_delivered_many(&[1, 2, 5]).await.unwrap();
        assert_eq!(
            db.ledger.outbox_backlog(u32::MAX).await.unwrap().messages,
            0
        );
        assert!(db.ledger.outbox_undelivered(10).await.unwrap().is_empty());
        // More than one statement marks (4,000): all of them, in one commit.
        let many: Vec<_> = (100..4_200)
            .map(|i| OutboxMessage::new(i, "notify", format!("message {i}")).unwrap())
            .collect();
        db.ledger.enqueue_outbox(&many).await.unwrap();
        let ids: Vec<u128> = many.iter().map(OutboxMessage::id).collect();
        db.ledger.outbox_failed_many(&ids).await.unwrap();
        assert_eq!(
            db.ledger.outbox_undelivered(1).await.unwrap()[0].attempts,
            1
        );
        db.ledger.outbox_delivered_many(&ids).await.unwrap();
        assert_eq!(
            db.ledger.outbox_backlog(u32::MAX).await.unwrap().messages,
            0
        );
    }

    pub(crate) async fn single_transfer_moves_money(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 10_000).await;
        let t = NewTransfer::single(id(), alice, bob, usd(2_050)).with_code(7);
        let outcome = db.ledger.submit(t.clone()).await.unwrap();
        let Outcome::Created(recorded) = outcome else {
            panic!("not created: {outcome:?}")
        };
        assert_eq!(recorded.amount, usd(2_050));
        assert_eq!(recorded.code, 7);
        assert_eq!(recorded.timestamp_ms, db.clock.now_ms());
        assert_eq!(balance(db, alice).await, (7_950, 7_950));
        assert_eq!(balance(db, bob).await, (2_050, 2_050));
        assert_eq!(db.ledger.transfer(t.id).await.unwrap(), Some(recorded));
        assert_sound(db).await;
    }

    pub(crate) async fn same_id_same_fields_is_exists_and_moves_nothing(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 1_000).await;
        let t = NewTransfer::single(id(), alice, bob, usd(300));
        let first = db.ledger.submit(t.clone()).await.unwrap();
        let second = db.ledger.submit(t).await.unwrap();
        assert!(matches!(second, Outcome::Exists(ref e) if e == first.transfer()));
        assert_eq!(balance(db, bob).await, (300, 300));
        assert_sound(db).await;
    }

    pub(crate) async fn same_id_different_fields_names_the_field(db: &TestDb) {
        let alice = db.wallet("alice", Currency::USD).await;
        let bob = db.wallet("bob", Currency::USD).await;
        let carol = db.wallet("carol", Currency::USD).await;
        db.fund(alice, usd(1_000)).await;
        let tid = id();
        db.ledger
            .submit(NewTransfer::single(tid, alice, bob, usd(300)))
            .await
            .unwrap();
        let cases = [
            (NewTransfer::single(tid, alice, bob, usd(301)), "amount"),
            (
                NewTransfer::single(tid, alice, carol, usd(300)),
                "credit_account_id",
            ),
            (
                NewTransfer::single(tid, carol, bob, usd(300)),
                "debit_account_id",
            ),
            (
                NewTransfer::single(tid, alice, bob, usd(300)).with_code(9),
                "code",
            ),
            (NewTransfer::pending(tid, alice, bob, usd(300), 60), "kind"),
        ];
        for (t, field) in cases {
            let error = rejection(db.ledger.submit(t).await);
            assert_eq!(error, TransferError::ExistsWithDifferentField { field });
        }
        assert_eq!(balance(db, bob).await, (300, 300));
        assert_sound(db).await;
    }

    pub(crate) async fn insufficient_funds_writes_nothing(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 500).await;
        let t = NewTransfer::single(id(), alice, bob, usd(501));
        assert_eq!(
            rejection(db.ledger.submit(t.clone()).await),
            TransferError::InsufficientFunds
        );
        assert_eq!(db.ledger.transfer(t.id).await.unwrap(), None);
        // Reserved funds count: a pending of 400 leaves 100 to spend.
        db.ledger
            .submit(NewTransfer::pending(id(), alice, bob, usd(400), 60))
            .await
            .unwrap();
        let t = NewTransfer::single(id(), alice, bob, usd(101));
        assert_eq!(
            rejection(db.ledger.submit(t).await),
            TransferError::InsufficientFunds
        );
        db.ledger
            .submit(NewTransfer::single(id(), alice, bob, usd(100)))
            .await
            .unwrap();
        assert_eq!(balance(db, alice).await, (0, 400));
        assert_sound(db).await;
    }

    pub(crate) async fn unknown_account_is_refused(db: &TestDb) {
        let alice = db.wallet("alice", Currency::USD).await;
        db.fund(alice, usd(500)).await;
        let ghost = ledger::AccountId(999_999);
        let t = NewTransfer::single(id(), alice, ghost, usd(1));
        assert_eq!(
            rejection(db.ledger.submit(t).await),
            TransferError::UnknownAccount(ghost)
        );
        let t = NewTransfer::single(id(), ghost, alice, usd(1));
        assert_eq!(
            rejection(db.ledger.submit(t).await),
            TransferError::UnknownAccount(ghost)
        );
        assert_sound(db).await;
    }

    pub(crate) async fn currency_mismatch_is_refused(db: &TestDb) {
        let alice = db.wallet("alice", Currency::USD).await;
        let bob_eur = db.wallet("bob", Currency::EUR).await;
        db.fund(alice, usd(500)).await;
        let t = NewTransfer::single(id(), alice, bob_eur, usd(100));
        assert_eq!(
            rejection(db.ledger.submit(t).await),
            TransferError::CurrencyMismatch
        );
        let bob = db.wallet("bob", Currency::USD).await;
        let eur = Amount::from_minor(100, Currency::EUR).unwrap();
        let t = NewTransfer::single(id(), alice, bob, eur);
        assert_eq!(
            rejection(db.ledger.submit(t).await),
            TransferError::CurrencyMismatch
        );
        assert_eq!(balance(db, alice).await, (500, 500));
    }

    pub(crate) async fn same_account_on_both_sides_is_refused(db: &TestDb) {
        let alice = db.wallet("alice", Currency::USD).await;
        db.fund(alice, usd(500)).await;
        let t = NewTransfer::single(id(), alice, alice, usd(100));
        assert_eq!(
            rejection(db.ledger.submit(t).await),
            TransferError::SameAccount
        );
    }

    pub(crate) async fn pending_reserves_then_post_moves(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 1_000).await;
        let pid = id();
        db.ledger
            .submit(NewTransfer::pending(pid, alice, bob, usd(600), 300))
            .await
            .unwrap();
        assert_eq!(balance(db, alice).await, (400, 1_000));
        let b = db.ledger.balance(bob).await.unwrap().unwrap();
        assert_eq!((b.available(), b.pending_in), (0, 600));
        let post = db
            .ledger
            .submit(NewTransfer::post(id(), pid, None))
            .await
            .unwrap();
        assert_eq!(post.transfer().kind, TransferKind::Post);
        assert_eq!(post.transfer().amount, usd(600));
        assert_eq!(balance(db, alice).await, (400, 400));
        assert_eq!(balance(db, bob).await, (600, 600));
        let resolution = db.ledger.resolution_of(pid).await.unwrap().unwrap();
        assert_eq!(resolution.id, post.transfer().id);
        assert_sound(db).await;
    }

    pub(crate) async fn partial_post_releases_the_rest(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 1_000).await;
        let pid = id();
        db.ledger
            .submit(NewTransfer::pending(pid, alice, bob, usd(600), 300))
            .await
            .unwrap();
        db.ledger
            .submit(NewTransfer::post(id(), pid, Some(usd(250))))
            .await
            .unwrap();
        assert_eq!(balance(db, alice).await, (750, 750));
        assert_eq!(balance(db, bob).await, (250, 250));
        let b = db.ledger.balance(bob).await.unwrap().unwrap();
        assert_eq!(b.pending_in, 0);
        assert_sound(db).await;
    }

    pub(crate) async fn post_above_pending_amount_is_refused(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 1_000).await;
        let pid = id();
        db.ledger
            .submit(NewTransfer::pending(pid, alice, bob, usd(600), 300))
            .await
            .unwrap();
        let error = rejection(
            db.ledger
                .submit(NewTransfer::post(id(), pid, Some(usd(601))))
                .await,
        );
        assert_eq!(error, TransferError::ExceedsPendingAmount);
        let error = rejection(db.ledger.submit(NewTransfer::post(id(), id(), None)).await);
        assert!(matches!(error, TransferError::PendingNotFound(_)));
        let single = id();
        db.ledger
            .submit(NewTransfer::single(single, alice, bob, usd(1)))
            .await
            .unwrap();
        let error = rejection(db.ledger.submit(NewTransfer::void(id(), single)).await);
        assert_eq!(error, TransferError::NotPending(single));
        assert_eq!(balance(db, alice).await, (399, 999));
        assert_sound(db).await;
    }

    pub(crate) async fn void_releases_and_blocks_later_post(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 1_000).await;
        let pid = id();
        db.ledger
            .submit(NewTransfer::pending(pid, alice, bob, usd(600), 300))
            .await
            .unwrap();
        db.ledger
            .submit(NewTransfer::void(id(), pid))
            .await
            .unwrap();
        assert_eq!(balance(db, alice).await, (1_000, 1_000));
        assert_eq!(balance(db, bob).await, (0, 0));
        let error = rejection(db.ledger.submit(NewTransfer::post(id(), pid, None)).await);
        assert_eq!(error, TransferError::AlreadyVoided);
        assert_sound(db).await;
    }

    pub(crate) async fn resolved_pending_cannot_be_resolved_again(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 1_000).await;
        let pid = id();
        db.ledger
            .submit(NewTransfer::pending(pid, alice, bob, usd(100), 300))
            .await
            .unwrap();
        db.ledger
            .submit(NewTransfer::post(id(), pid, None))
            .await
            .unwrap();
        let error = rejection(db.ledger.submit(NewTransfer::post(id(), pid, None)).await);
        assert_eq!(error, TransferError::AlreadyPosted);
        let error = rejection(db.ledger.submit(NewTransfer::void(id(), pid)).await);
        assert_eq!(error, TransferError::AlreadyPosted);
        assert_eq!(balance(db, bob).await, (100, 100));
        assert_sound(db).await;
    }

    pub(crate) async fn retrying_a_post_answers_exists(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 1_000).await;
        let pid = id();
        db.ledger
            .submit(NewTransfer::pending(pid, alice, bob, usd(100), 300))
            .await
            .unwrap();
        let post = NewTransfer::post(id(), pid, None);
        assert!(matches!(
            db.ledger.submit(post.clone()).await,
            Ok(Outcome::Created(_))
        ));
        assert!(matches!(
            db.ledger.submit(post.clone()).await,
            Ok(Outcome::Exists(_))
        ));
        let partial = NewTransfer::post(post.id, pid, Some(usd(50)));
        let error = rejection(db.ledger.submit(partial).await);
        assert_eq!(
            error,
            TransferError::ExistsWithDifferentField { field: "amount" }
        );
        assert_eq!(balance(db, bob).await, (100, 100));
    }

    pub(crate) async fn pending_expires_after_its_timeout(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 1_000).await;
        let pid = id();
        db.ledger
            .submit(NewTransfer::pending(pid, alice, bob, usd(600), 300))
            .await
            .unwrap();
        let early = rejection(db.ledger.submit(NewTransfer::expire(pid)).await);
        assert_eq!(early, TransferError::NotExpiredYet);
        db.clock.advance(Duration::from_secs(299));
        assert!(db.ledger.expire_due().await.unwrap().is_empty());
        db.clock.advance(Duration::from_secs(1));
        // Past the deadline a post is refused even before the sweeper runs.
        let error = rejection(db.ledger.submit(NewTransfer::post(id(), pid, None)).await);
        assert_eq!(error, TransferError::AlreadyExpired);
        let expired = db.ledger.expire_due().await.unwrap();
        assert_eq!(expired.len(), 1);
        assert_eq!(
            (expired[0].kind, expired[0].pending_id),
            (TransferKind::Expire, Some(pid))
        );
        assert!(db.ledger.expire_due().await.unwrap().is_empty());
        assert_eq!(balance(db, alice).await, (1_000, 1_000));
        let error = rejection(db.ledger.submit(NewTransfer::void(id(), pid)).await);
        assert_eq!(error, TransferError::AlreadyExpired);
        assert_sound(db).await;
    }

    pub(crate) async fn invalid_timeout_is_refused(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 1_000).await;
        for timeout in [0, ledger::PENDING_TIMEOUT_SECS_MAX + 1] {
            let t = NewTransfer::pending(id(), alice, bob, usd(1), timeout);
            assert_eq!(
                rejection(db.ledger.submit(t).await),
                TransferError::InvalidTimeout
            );
        }
    }

    pub(crate) async fn linked_group_is_all_or_nothing(db: &TestDb) {
        let alice = db.wallet("alice", Currency::USD).await;
        let bob = db.wallet("bob", Currency::USD).await;
        let carol = db.wallet("carol", Currency::USD).await;
        db.fund(alice, usd(1_000)).await;
        let first = NewTransfer::single(id(), alice, bob, usd(600));
        let second = NewTransfer::single(id(), alice, carol, usd(600));
        let result = db.ledger.submit_linked(vec![first.clone(), second]).await;
        match result {
            Err(SubmitError::Rejected {
                index: 1,
                error: TransferError::InsufficientFunds,
            }) => {}
            other => panic!("expected the second to fail: {other:?}"),
        }
        assert_eq!(db.ledger.transfer(first.id).await.unwrap(), None);
        assert_eq!(balance(db, alice).await, (1_000, 1_000));
        let third = NewTransfer::single(id(), alice, carol, usd(400));
        let outcomes = db.ledger.submit_linked(vec![first, third]).await.unwrap();
        assert_eq!(outcomes.len(), 2);
        assert_eq!(balance(db, alice).await, (0, 0));
        assert_eq!(balance(db, carol).await, (400, 400));
        assert_sound(db).await;
    }

    pub(crate) async fn linked_group_can_create_and_post_a_pending(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 1_000).await;
        let pid = id();
        let group = vec![
            NewTransfer::pending(pid, alice, bob, usd(700), 60),
            NewTransfer::post(id(), pid, Some(usd(500))),
        ];
        db.ledger.submit_linked(group).await.unwrap();
        assert_eq!(balance(db, alice).await, (500, 500));
        assert_eq!(balance(db, bob).await, (500, 500));
        // Posted in the batch that made it: no deadline is left behind for
        // the sweeper, and nothing shows it as still open.
        assert!(
            db.ledger
                .open_pending_debits(alice, 10)
                .await
                .unwrap()
                .is_empty()
        );
        db.clock.advance(Duration::from_secs(61));
        assert!(db.ledger.expire_due().await.unwrap().is_empty());
        assert_eq!(balance(db, alice).await, (500, 500));
        assert_sound(db).await;
    }

    pub(crate) async fn duplicate_ids_in_a_group_are_refused(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 1_000).await;
        let t = NewTransfer::single(id(), alice, bob, usd(1));
        let error = rejection(db.ledger.submit_linked(vec![t.clone(), t]).await);
        assert_eq!(error, TransferError::DuplicateIdInBatch);
        let error = rejection(db.ledger.submit_linked(vec![]).await);
        assert!(matches!(error, TransferError::InvalidBatchSize { .. }));
        assert_eq!(balance(db, bob).await, (0, 0));
    }

    pub(crate) async fn history_pages_newest_first(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 1_000).await;
        let ids = pay_one_by_one(&db.ledger, alice, bob, 1..=4).await;
        // Alice's history also holds her funding: five in all.
        let page1 = db
            .ledger
            .history(alice, HistoryCursor::START, 2)
            .await
            .unwrap();
        let page2 = db
            .ledger
            .history(alice, page1.next.unwrap(), 2)
            .await
            .unwrap();
        let page3 = db
            .ledger
            .history(alice, page2.next.unwrap(), 2)
            .await
            .unwrap();
        let seen: Vec<_> = [&page1, &page2, &page3]
            .iter()
            .flat_map(|p| p.transfers.iter().map(|t| t.id))
            .collect();
        assert_eq!(seen.len(), 5);
        assert_eq!(&seen[..4], &[ids[3], ids[2], ids[1], ids[0]]);
        assert_eq!(page3.next, None);
        let bobs = db
            .ledger
            .history(bob, HistoryCursor::START, 10)
            .await
            .unwrap();
        assert_eq!(bobs.transfers.len(), 4);
        assert_eq!(bobs.next, None);
    }

    /// SQLite: the last transfer the history entries cover, and the last
    /// transfer.
    pub(crate) async fn mark_and_last(db: &TestDb) -> (i64, i64) {
        let mark = db
            .query_i64("SELECT seq FROM account_entries_mark")
            .await
            .unwrap();
        let last = db
            .query_i64("SELECT MAX(seq) FROM transfers")
            .await
            .unwrap();
        (mark, last)
    }

    /// On SQLite an account's history comes from entries the writer makes
    /// every few thousand transfers (here every 3) and from the transfers
    /// past its last step (ledger migration 4): pages that cross from one
    /// to the other repeat none and miss none, pending debits are found on
    /// both sides, and a writer opened later indexes what an earlier one
    /// left. On PostgreSQL the same history, through its indexes.
    pub(crate) async fn history_reads_indexed_and_recent_transfers_at_one_moment(db: &TestDb) {
        let config = ledger::LedgerConfig {
            sqlite_entries_step_transfers: 3,
            ..ledger::LedgerConfig::new(&db.url)
        };
        let open = || async {
            ledger::Ledger::connect(&config, db.clock.clone())
                .await
                .unwrap()
        };
        let writer = open().await;
        let (alice, bob) = alice_funded_and_bob(db, 1_000).await;
        let mut paid = pay_one_by_one(&writer, alice, bob, 1..=10).await;
        let early = NewTransfer::pending(id(), alice, bob, usd(50), 600);
        writer.submit(early.clone()).await.unwrap();
        paid.extend(pay_one_by_one(&writer, bob, alice, 11..=13).await);
        let late = NewTransfer::pending(id(), alice, bob, usd(60), 60);
        writer.submit(late.clone()).await.unwrap();
        if db.backend == TestBackend::Sqlite {
            let (mark, last) = mark_and_last(db).await;
            assert!(
                mark > 5 && mark < last,
                "indexed up to {mark} of {last}: the pages below must cross the mark"
            );
        }

        // Alice: her funding, ten payments out, three in, two pending.
        let mut seen = Vec::new();
        let mut cursor = HistoryCursor::START;
        loop {
            let page = db.ledger.history(alice, cursor, 4).await.unwrap();
            assert!(page.transfers.len() <= 4);
            seen.extend(page.transfers.iter().map(|t| t.id));
            match page.next {
                Some(next) => cursor = next,
                None => break,
            }
        }
        let mut newest_first: Vec<TransferId> = paid.clone();
        newest_first.insert(10, early.id);
        newest_first.push(late.id);
        newest_first.reverse();
        assert_eq!(&seen[..15], &newest_first[..], "newest first, each once");
        assert_eq!(seen.len(), 16, "and her funding last");
        let bobs = db
            .ledger
            .history(bob, HistoryCursor::START, 100)
            .await
            .unwrap();
        assert_eq!(bobs.transfers.len(), 15);
        let open_ids: Vec<TransferId> = db
            .ledger
            .open_pending_debits(alice, 10)
            .await
            .unwrap()
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(open_ids, vec![late.id, early.id], "soonest deadline first");
        writer.close().await;

        // A writer opened later first indexes what this one left.
        let later = open().await;
        let t = NewTransfer::single(id(), bob, alice, usd(1));
        later.submit(t.clone()).await.unwrap();
        if db.backend == TestBackend::Sqlite {
            let (mark, last) = mark_and_last(db).await;
            assert_eq!(mark, last - 1, "all but the new transfer indexed");
            let entries = db
                .query_i64("SELECT COUNT(*) FROM account_entries")
                .await
                .unwrap();
            let below = db
                .query_i64(&format!(
                    "SELECT COUNT(*) FROM transfers WHERE seq <= {mark}"
                ))
                .await
                .unwrap();
            assert_eq!(entries, 2 * below, "two entries for each transfer indexed");
        }
        assert_eq!(super::newest_first(&db.ledger, bob, 1).await, vec![t.id]);
        later.close().await;
        assert_sound(db).await;

        if db.backend == TestBackend::Sqlite {
            // `paybot verify` sees entries that no longer match.
            db.execute(
                "DELETE FROM account_entries WHERE seq = (SELECT MIN(seq) FROM account_entries)",
            )
            .await
            .unwrap();
            db.execute("INSERT INTO account_entries (account_id, seq) VALUES (1, 1000000)")
                .await
                .unwrap();
            assert_eq!(
                db.ledger.verify().await.unwrap(),
                vec![Violation::HistoryEntries {
                    missing: 1,
                    stray: 1
                }]
            );
        }
    }

    pub(crate) async fn open_account_is_idempotent(db: &TestDb) {
        let a = db.wallet("alice", Currency::USD).await;
        let b = db.wallet("alice", Currency::USD).await;
        let c = db.wallet("alice", Currency::EUR).await;
        assert_eq!(a, b);
        assert_ne!(a, c);
        let accounts = db
            .ledger
            .accounts_of(&ledger::OwnerRef::new("alice").unwrap())
            .await
            .unwrap();
        assert_eq!(accounts.len(), 2);
        assert!(accounts.iter().all(|a| a.flags.no_overdraft()));
    }

    pub(crate) async fn accounts_opened_at_once_are_one_each_and_an_open_one_writes_nothing(
        db: &TestDb,
    ) {
        use ledger::{AccountKind, NewAccount, OwnerRef};
        let wanted = |i: usize| NewAccount {
            owner: OwnerRef::new(format!("user:{}", i % 4)).unwrap(),
            kind: if i.is_multiple_of(2) {
                AccountKind::UserWallet
            } else {
                AccountKind::Allowance
            },
            currency: Currency::USD,
        };
        // Money moving meanwhile: the writer is busy while accounts open.
        let payer = db.wallet("payer", Currency::USD).await;
        let payee = db.wallet("payee", Currency::USD).await;
        db.fund(payer, usd(1_000)).await;
        let before = db.ledger.writer_stats();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..32_usize {
            let ledger = db.ledger.clone();
            tasks.spawn(async move {
                if i.is_multiple_of(8) {
                    let t = NewTransfer::single(TransferId::random(), payer, payee, usd(1));
                    ledger.submit(t).await.unwrap();
                }
                let new = wanted(i);
                (i % 4, ledger.open_account(&new).await.unwrap())
            });
        }
        let mut opened: Vec<Option<ledger::Account>> = vec![None; 4];
        while let Some(joined) = tasks.join_next().await {
            let (key, account) = joined.unwrap();
            let first = opened[key].get_or_insert_with(|| account.clone());
            assert_eq!(first.id, account.id, "one account per key");
            assert!(account.flags.no_overdraft());
        }
        let opened: Vec<ledger::Account> = opened.into_iter().map(Option::unwrap).collect();
        for (key, account) in opened.iter().enumerate() {
            let new = wanted(key);
            assert_eq!(
                (&account.owner, account.kind, account.currency),
                (&new.owner, new.kind, new.currency)
            );
            let all = db.ledger.accounts_of(&new.owner).await.unwrap();
            assert_eq!(all.len(), 1, "{all:?}");
        }
        // On SQLite the new ones were written in the writer's batches, with
        // the money (an insert of its own would wait for the writer's lock);
        // PostgreSQL inserts them on their own.
        let opening = db.ledger.writer_stats().since(&before);
        match db.backend {
            TestBackend::Sqlite => assert!(opening.groups >= 4 + 4, "{opening:?}"),
            TestBackend::Postgres => assert_eq!(opening.groups, 4, "{opening:?}"),
        }
        assert_eq!(opening.failed_batches, 0);
        // An account that is open is read: nothing goes to the writer.
        let before = db.ledger.writer_stats();
        for (key, account) in opened.iter().enumerate() {
            let again = db.ledger.open_account(&wanted(key)).await.unwrap();
            assert_eq!(again.id, account.id);
        }
        assert_eq!(db.ledger.writer_stats().since(&before).groups, 0);
        assert_eq!(
            db.ledger.balance(payee).await.unwrap().unwrap().available(),
            4
        );
        assert_sound(db).await;
    }

    pub(crate) async fn currency_totals_balance(db: &TestDb) {
        let alice = db.wallet("alice", Currency::USD).await;
        let bob = db.wallet("bob", Currency::USD).await;
        let yen = db.wallet("alice", Currency::JPY).await;
        db.fund(alice, usd(1_000)).await;
        db.fund(yen, Amount::from_minor(500, Currency::JPY).unwrap())
            .await;
        db.ledger
            .submit(NewTransfer::pending(id(), alice, bob, usd(100), 60))
            .await
            .unwrap();
        let totals = db.ledger.currency_totals().await.unwrap();
        assert_eq!(totals.len(), 2);
        for t in &totals {
            assert_eq!(t.debits_posted, t.credits_posted, "{t:?}");
            assert_eq!(t.debits_pending, t.credits_pending, "{t:?}");
        }
        let usd_totals = totals.iter().find(|t| t.currency == Currency::USD).unwrap();
        assert_eq!(
            (usd_totals.credits_posted, usd_totals.debits_pending),
            (1_000, 100)
        );
    }

    pub(crate) async fn verify_names_a_broken_account(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 1_000).await;
        db.ledger
            .submit(NewTransfer::single(id(), alice, bob, usd(100)))
            .await
            .unwrap();
        assert_sound(db).await;
        // An integer id formatted in: nothing to inject.
        let sql = format!(
            "UPDATE accounts SET credits_posted = credits_posted + 5 WHERE id = {}",
            bob.0
        );
        db.execute(&sql).await.unwrap();
        let violations = db.ledger.verify().await.unwrap();
        assert!(violations.contains(&Violation::AccountTotals {
            account: bob,
            currency: Currency::USD,
            total: "credits_posted",
            expected: 100,
            found: 105,
        }));
        assert!(
            violations
                .iter()
                .any(|v| matches!(v, Violation::CurrencyUnbalanced { .. }))
        );
        let text = violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(text.contains(&format!("account {bob} (USD)")), "{text}");
    }

    pub(crate) async fn transfers_are_immutable(db: &TestDb) {
        let alice = db.wallet("alice", Currency::USD).await;
        db.fund(alice, usd(1_000)).await;
        let update = "UPDATE transfers SET amount = amount + 1";
        let delete = "DELETE FROM transfers";
        for sql in [update, delete] {
            let result = db.execute(sql).await;
            let error = result.expect_err("changing history must fail");
            assert!(error.contains("immutable"), "{error}");
        }
        assert_sound(db).await;
    }

    /// A transfer id as the backend's SQL literal.
    fn id_literal(db: &TestDb, id: TransferId) -> String {
        match db.backend {
            TestBackend::Sqlite => format!("X'{:032x}'", id.as_u128()),
            TestBackend::Postgres => format!("'{:032x}'::uuid", id.as_u128()),
        }
    }

    /// Rows written behind the engine's back that name an account or a
    /// transfer that does not exist are refused by the database itself,
    /// and an account a transfer names cannot be deleted or renumbered:
    /// nothing changes and the ledger stays sound.
    pub(crate) async fn rows_naming_what_does_not_exist_are_refused_and_accounts_stay(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 1_000).await;
        let pending = id();
        db.ledger
            .submit(NewTransfer::pending(pending, alice, bob, usd(100), 60))
            .await
            .unwrap();
        let count = "SELECT (SELECT COUNT(*) FROM accounts) * 1000000 \
             + (SELECT COUNT(*) FROM transfers) * 1000 + (SELECT COUNT(*) FROM pending_expiries)";
        let before = db.query_i64(count).await.unwrap();
        let nowhere = db
            .query_i64("SELECT MAX(id) + 1000 FROM accounts")
            .await
            .unwrap();
        // Integers and ids formatted in: nothing to inject.
        let transfer = |kind: i16, debit: i64, credit: i64, pending_id: Option<TransferId>| {
            let pending_id = pending_id.map_or("NULL".to_owned(), |p| id_literal(db, p));
            format!(
                "INSERT INTO transfers (id, kind, debit_account_id, credit_account_id, amount, \
                 currency, pending_id, timeout_secs, code, timestamp_ms) \
                 VALUES ({}, {kind}, {debit}, {credit}, 5, 'USD', {pending_id}, 0, 0, 0)",
                id_literal(db, id())
            )
        };
        let refused_inserts = [
            (
                "an unknown debit account",
                transfer(0, nowhere, bob.0, None),
            ),
            (
                "an unknown credit account",
                transfer(0, alice.0, nowhere, None),
            ),
            (
                "an unknown pending transfer",
                transfer(3, alice.0, bob.0, Some(id())),
            ),
            (
                "a deadline of an unknown transfer",
                format!(
                    "INSERT INTO pending_expiries (transfer_id, expires_at_ms) VALUES ({}, 0)",
                    id_literal(db, id())
                ),
            ),
        ];
        for (what, sql) in refused_inserts {
            let error = db.execute(&sql).await.expect_err(what);
            assert!(
                error.to_lowercase().contains("foreign key"),
                "{what}: {error}"
            );
        }
        let changes = [
            format!("DELETE FROM accounts WHERE id = {}", alice.0),
            format!("UPDATE accounts SET id = {nowhere} WHERE id = {}", bob.0),
        ];
        for sql in changes {
            db.execute(&sql).await.expect_err(&sql);
        }
        assert_eq!(db.query_i64(count).await.unwrap(), before);
        assert_eq!(balance(db, alice).await, (900, 1_000));
        // The engine resolves the pending transfer as before.
        db.ledger
            .submit(NewTransfer::post(id(), pending, None))
            .await
            .unwrap();
        assert_eq!(balance(db, bob).await, (100, 100));
        assert_sound(db).await;
    }

    pub(crate) async fn racing_post_and_void_resolve_once(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 100_000).await;
        for _ in 0..20 {
            let pid = id();
            db.ledger
                .submit(NewTransfer::pending(pid, alice, bob, usd(100), 60))
                .await
                .unwrap();
            let (post, void) = tokio::join!(
                db.ledger.submit(NewTransfer::post(id(), pid, None)),
                db.ledger.submit(NewTransfer::void(id(), pid)),
            );
            assert_eq!(
                post.is_ok() as u8 + void.is_ok() as u8,
                1,
                "{post:?} {void:?}"
            );
        }
        assert_sound(db).await;
    }

    pub(crate) async fn a_second_process_spending_first_is_seen(db: &TestDb) {
        let other = db.second_process().await;
        let (alice, bob) = alice_funded_and_bob(db, 100).await;
        // This process's writer has seen Alice's balance (100)...
        db.ledger
            .submit(NewTransfer::single(id(), alice, bob, usd(10)))
            .await
            .unwrap();
        // ...then the other process spends 60 of the 90 left...
        other
            .submit(NewTransfer::single(id(), alice, bob, usd(60)))
            .await
            .unwrap();
        // ...so 60 more would overdraw her, and 30 fits exactly.
        let over = db
            .ledger
            .submit(NewTransfer::single(id(), alice, bob, usd(60)))
            .await;
        assert_eq!(rejection(over), TransferError::InsufficientFunds);
        db.ledger
            .submit(NewTransfer::single(id(), alice, bob, usd(30)))
            .await
            .unwrap();
        assert_eq!(balance(db, alice).await, (0, 0));
        assert_eq!(balance(db, bob).await, (100, 100));
        other.close().await;
        assert_sound(db).await;
    }

    pub(crate) async fn two_processes_never_resolve_a_pending_twice(db: &TestDb) {
        let other = db.second_process().await;
        let (alice, bob) = alice_funded_and_bob(db, 100_000).await;
        let mut pendings = Vec::new();
        for _ in 0..30 {
            let pid = id();
            db.ledger
                .submit(NewTransfer::pending(pid, alice, bob, usd(100), 60))
                .await
                .unwrap();
            pendings.push(pid);
        }
        // Both processes post every pending with their own ids, concurrently.
        let one = async {
            let mut wins = 0;
            for pid in &pendings {
                wins += db
                    .ledger
                    .submit(NewTransfer::post(id(), *pid, None))
                    .await
                    .is_ok() as u32;
            }
            wins
        };
        let two = async {
            let mut wins = 0;
            for pid in pendings.iter().rev() {
                wins += other
                    .submit(NewTransfer::post(id(), *pid, None))
                    .await
                    .is_ok() as u32;
            }
            wins
        };
        let (a, b) = tokio::join!(one, two);
        assert_eq!(a + b, 30);
        assert_eq!(balance(db, bob).await, (3_000, 3_000));
        // And both sweep the same expired pendings: each expires once.
        for _ in 0..10 {
            db.ledger
                .submit(NewTransfer::pending(id(), alice, bob, usd(1), 1))
                .await
                .unwrap();
        }
        db.clock.advance(Duration::from_secs(2));
        let (x, y) = tokio::join!(db.ledger.expire_due(), other.expire_due());
        assert_eq!(x.unwrap().len() + y.unwrap().len(), 10);
        other.close().await;
        assert_sound(db).await;
    }

    pub(crate) async fn retry_of_an_acknowledged_transfer_never_applies_twice(db: &TestDb) {
        let (alice, bob) = alice_funded_and_bob(db, 1_000).await;
        let t = NewTransfer::single(id(), alice, bob, usd(10));
        // The same transfer submitted many times at once, as retries would be.
        let mut attempts = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let (ledger, t) = (db.ledger.clone(), t.clone());
            attempts.spawn(async move { ledger.submit(t).await });
        }
        let results = attempts.join_all().await;
        let created = results
            .iter()
            .filter(|r| matches!(r, Ok(Outcome::Created(_))))
            .count();
        let exists = results
            .iter()
            .filter(|r| matches!(r, Ok(Outcome::Exists(_))))
            .count();
        assert_eq!((created, exists), (1, 15));
        assert_eq!(balance(db, bob).await, (10, 10));
    }
}
