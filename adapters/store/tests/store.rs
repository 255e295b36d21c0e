//! The bot store's conformance suite: every case runs, unchanged, on SQLite
//! (`sqlite::case`) and on PostgreSQL (`postgres::case`), against
//! `paybot_store::SqlStore` in a fresh, migrated database.
// Test code throughout, helpers too (see clippy.toml).
#![cfg(test)]
#![allow(clippy::as_conversions)]

use std::sync::Arc;

use bot::card::{CardNumber, CardToken, DeclineCode, Expiry, RailReference};
use bot::command::{Memo, ShortRef};
use bot::message::{ChatId, EventId, Handle, Platform, PlatformUserId};
use bot::otp::{OtpChallenge, OtpHash, Pepper};
use bot::store::pay_group::PayGroupStore;
use bot::store::{
    CardAdd, CardAddLinked, CardAddState, CardOp, CardOpKind, CardOpState, Identity, LinkAttempt,
    LinkAttemptBounds, LinkedCard, OpenedEvent, Payee, PayeeNow, Payment, PaymentRequest,
    PaymentState, PendingLink, RecordChange, RequestSide, RequestState, SeenUser, SenderSeen,
    Split, Store, UserId,
};
use bot::trust::{Actor, Review, Tier, TierRecord, TrustStore};
use ledger::testing::{CLOCK_START_MS, TestBackend, TestDb};
use ledger::{Amount, Currency, NewTransfer, SubmitError, TransferId, Unit};
use paybot_store::{BOT_MIGRATIONS, DUE_STATES, PAID_STATES, SqlStore};

const T0: i64 = CLOCK_START_MS;

/// A PostgreSQL server on this machine is reached without TLS by every pool
/// paybot keeps on it, the ledger's and the store's: nothing TLS would
/// protect leaves the machine, and it costs CPU on both sides of every
/// statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_stores_connections_to_this_machine_use_no_tls() {
    let Some((db, server, name)) = ledger::testing::fresh_postgres_on_this_machine().await else {
        return;
    };
    db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
    let store = SqlStore::new(&db.ledger);
    user(&store, "alice").await;
    let (encrypted, plain) = ledger::testing::connections_by_tls(&server, &name)
        .await
        .unwrap();
    assert_eq!(encrypted, 0, "connections to this machine use TLS");
    assert!(
        plain >= 2,
        "{plain} connections: the ledger's and the store's pools hold some"
    );
    db.cleanup().await;
}

async fn run(backend: TestBackend, case: impl AsyncFnOnce(&TestDb, Arc<SqlStore>)) {
    let Some(db) = TestDb::fresh(backend).await else {
        return;
    };
    db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
    let store = Arc::new(SqlStore::new(&db.ledger));
    case(&db, store).await;
    db.cleanup().await;
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $case() {
                super::run(super::TestBackend::Sqlite, super::cases::$case).await
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $case() {
                super::run(super::TestBackend::Postgres, super::cases::$case).await
            })*
        }
    };
}

conformance!(
    held_payments_and_cash_outs_are_listed_and_due,
    open_payments_are_counted_by_state_and_bounded,
    migrating_twice_is_harmless,
    event_outcome_commits_with_the_ledger_and_the_first_stays,
    old_finished_events_are_forgotten,
    payment_insert_commits_with_its_transfer_or_not_at_all,
    payment_update_in_a_unit_is_compare_and_swap,
    payments_and_requests_written_side_by_side_read_back_as_written,
    concurrent_units_updating_one_payment_have_one_winner,
    new_identity_gets_a_new_user,
    first_contact_is_the_first_time_speaking,
    dm_open_is_set_by_a_direct_message_and_kept,
    refresh_updates_handle_name_and_last_seen,
    handle_lookup_is_per_platform_and_newest_first,
    skeleton_lookup_is_limited,
    move_identity_joins_another_wallet,
    move_unknown_identity_is_an_error,
    concurrent_first_sightings_make_one_user,
    link_code_is_single_use,
    link_code_expires,
    new_link_code_replaces_the_users_earlier_one,
    link_code_of_another_user_is_not_taken_over,
    concurrent_link_code_takes_have_one_winner,
    pending_link_waits_and_is_taken_once,
    pending_link_expires_and_is_replaced,
    concurrent_pending_link_takes_have_one_winner,
    link_attempts_are_bounded_per_identity,
    link_attempts_are_bounded_globally,
    right_link_codes_do_not_count,
    concurrent_link_attempts_stay_within_the_bound,
    detach_identity_gives_a_new_empty_user,
    detach_identity_takes_the_cards_it_linked,
    card_with_half_an_adder_is_an_error_not_a_panic,
    payment_round_trips_every_field,
    insert_payment_is_idempotent,
    update_payment_is_compare_and_swap,
    concurrent_payment_updates_have_one_winner,
    escrowed_payment_is_claimed_by_user,
    payments_due_oldest_first_without_final_states,
    payments_awaiting_code_newest_first,
    payments_escrowed_for_a_handle_oldest_first,
    payments_of_user_as_payer_or_payee,
    has_paid_before_counts_delivered_payments,
    request_round_trip_idempotency_and_compare_and_swap,
    requests_of_split_in_insertion_order,
    requests_of_user_open_first_both_sides,
    requests_expiring_only_open_ones_past_their_date,
    history_of_user_hides_what_the_payee_never_saw,
    split_insert_and_latest,
    corrupt_currency_is_an_error_not_a_panic,
    corrupt_state_platform_and_handle_are_errors,
    cards_are_linked_once_per_user_listed_and_removed,
    card_op_round_trips_idempotent_and_compare_and_swap,
    card_ops_due_and_awaiting,
    card_ops_in_flight_are_sent_or_pending,
    card_add_round_trips_idempotent_and_compare_and_swap,
    card_add_links_its_card_once,
    card_adds_due_and_awaiting,
    card_records_awaiting_code_sees_ops_and_adds_of_that_user_only,
    requests_since_counts_each_side_in_the_window,
    open_event_gives_the_outcome_or_the_sender_seen,
    open_confirm_event_gives_what_awaits_the_code_too,
    awaiting_code_is_both_reads_in_one,
    payee_facts_are_both_reads_in_one,
    see_payee_is_the_sighting_and_the_facts_in_one,
    open_pay_event_reads_a_known_payee_with_the_sender,
    payee_facts_give_the_payees_tier,
    awaiting_code_gives_where_each_payee_account_is_now,
    payee_facts_count_the_payers_waiting_payments_a_group_once,
);

fn card_add(reference: &str, user: UserId, number: &str, created_at_ms: i64) -> CardAdd {
    let linked = card(user, number, created_at_ms);
    CardAdd {
        reference: r(reference),
        add_id: TransferId::random(),
        user,
        platform: Platform::Telegram,
        platform_user_id: pid("alice"),
        token: linked.token,
        brand: linked.brand,
        last4: linked.last4,
        expiry: linked.expiry,
        fingerprint: linked.fingerprint,
        challenge: OtpChallenge::new(OtpHash::from_bytes(&hash(4)).unwrap(), created_at_ms),
        review: Review::None,
        state: CardAddState::AwaitingCode,
        due_at_ms: Some(created_at_ms + 300_000),
        created_at_ms,
        updated_at_ms: created_at_ms,
        revision: 0,
    }
}

fn card(user: UserId, number: &str, at_ms: i64) -> LinkedCard {
    let number = CardNumber::parse(number).unwrap();
    let pepper = Pepper::from_bytes((1..=32).collect()).unwrap();
    LinkedCard {
        id: 0,
        user,
        token: CardToken::new(&format!("tok_{}", number.last4())).unwrap(),
        brand: number.brand(),
        last4: number.last4(),
        expiry: Expiry::new(2030, 12).unwrap(),
        fingerprint: number.fingerprint(&pepper),
        created_at_ms: at_ms,
        added_by: None,
    }
}

fn card_op(reference: &str, user: UserId, kind: CardOpKind, created_at_ms: i64) -> CardOp {
    let number = CardNumber::parse("4111111111111111").unwrap();
    CardOp {
        reference: r(reference),
        transfer_id: TransferId::random(),
        kind,
        user,
        platform: Platform::Mock,
        platform_user_id: pid("alice"),
        token: CardToken::new("tok_sim_000000000001").unwrap(),
        brand: number.brand(),
        last4: number.last4(),
        amount: usd(2_000),
        fee_minor: 0,
        challenge: OtpChallenge::new(OtpHash::from_bytes(&hash(3)).unwrap(), created_at_ms),
        state: CardOpState::AwaitingCode,
        review: Review::None,
        initiated_at_ms: None,
        rail_reference: None,
        decline_code: None,
        rail_attempts: 0,
        due_at_ms: Some(created_at_ms + 300_000),
        created_at_ms,
        updated_at_ms: created_at_ms,
        revision: 0,
    }
}

// -- fixtures ---------------------------------------------------------------

fn usd(minor: i64) -> Amount {
    Amount::from_minor(minor, Currency::USD).unwrap()
}

fn r(text: &str) -> ShortRef {
    ShortRef::parse(text).unwrap()
}

fn pid(text: &str) -> PlatformUserId {
    PlatformUserId::new(text).unwrap()
}

fn ev(text: &str) -> EventId {
    EventId::new(text).unwrap()
}

fn handle(text: &str) -> Handle {
    Handle::parse(text).unwrap()
}

fn chat(text: &str) -> ChatId {
    ChatId::new(text).unwrap()
}

fn hash(byte: u8) -> [u8; 32] {
    [byte; 32]
}

fn seen(platform: Platform, id: &str, handle_text: Option<&str>, speaking: bool) -> SeenUser {
    SeenUser {
        platform,
        id: pid(id),
        handle: handle_text.map(handle),
        skeleton: handle_text.map(|h| format!("sk:{h}")),
        display_name: format!("{id} display"),
        speaking,
        direct: false,
    }
}

/// A user with one mock identity `id`, handle `id`, who has spoken.
async fn user(store: &SqlStore, id: &str) -> UserId {
    let (identity, _) = store
        .upsert_identity(&seen(Platform::Mock, id, Some(id), true), T0)
        .await
        .unwrap();
    identity.user
}

fn payment(reference: &str, payer: UserId, payee: UserId, minor: i64) -> Payment {
    Payment {
        reference: r(reference),
        transfer_id: TransferId::random(),
        payer,
        payer_platform: Platform::Mock,
        payer_id: pid("payer"),
        payee: Payee::User {
            user: payee,
            platform: Platform::Mock,
            id: pid("payee"),
        },
        payee_label: "@payee".to_owned(),
        amount: usd(minor),
        memo: None,
        request: None,
        origin_chat: None,
        challenge: OtpChallenge::new(OtpHash::from_bytes(&hash(7)).unwrap(), T0),
        review: Review::None,
        state: PaymentState::AwaitingCode,
        due_at_ms: Some(T0 + 300_000),
        created_at_ms: T0,
        updated_at_ms: T0,
        revision: 0,
    }
}

fn escrow_payment(reference: &str, payer: UserId, to: &str, created_at_ms: i64) -> Payment {
    Payment {
        payee: Payee::Unclaimed {
            platform: Platform::Mock,
            handle: handle(to),
        },
        payee_label: format!("@{to}"),
        state: PaymentState::Escrowed,
        due_at_ms: Some(created_at_ms + 86_400_000),
        created_at_ms,
        updated_at_ms: created_at_ms,
        ..payment(reference, payer, payer, 500)
    }
}

fn request(
    reference: &str,
    requester: UserId,
    payer: UserId,
    split: Option<&str>,
) -> PaymentRequest {
    PaymentRequest {
        reference: r(reference),
        requester,
        requester_platform: Platform::Mock,
        requester_id: pid("requester"),
        requester_label: "@requester".to_owned(),
        payer,
        payer_platform: Platform::Discord,
        payer_id: pid("payer"),
        payer_label: "@payer".to_owned(),
        amount: usd(2_000),
        memo: Some(Memo::parse("dinner").unwrap()),
        split: split.map(r),
        state: RequestState::Open,
        payment: None,
        created_at_ms: T0,
        updated_at_ms: T0,
        expires_at_ms: Some(T0 + 1_000),
        reminders: 0,
        reminded_at_ms: None,
        revision: 0,
    }
}

fn split(reference: &str, creator: UserId, in_chat: &str, created_at_ms: i64) -> Split {
    Split {
        reference: r(reference),
        creator,
        platform: Platform::Telegram,
        chat: chat(in_chat),
        total: usd(6_000),
        creator_share: usd(2_000),
        memo: Some(Memo::parse("dinner").unwrap()),
        created_at_ms,
    }
}

/// Every field of two payments is equal (`Payment` has no `PartialEq`: its
/// hash compares only in constant time).
fn assert_same_payment(a: &Payment, b: &Payment) {
    assert_eq!(a.reference, b.reference);
    assert_eq!(a.transfer_id, b.transfer_id);
    assert_eq!(a.payer, b.payer);
    assert_eq!(a.payer_platform, b.payer_platform);
    assert_eq!(a.payer_id, b.payer_id);
    assert_eq!(a.payee, b.payee);
    assert_eq!(a.payee_label, b.payee_label);
    assert_eq!(a.amount, b.amount);
    assert_eq!(a.memo, b.memo);
    assert_eq!(a.request, b.request);
    assert_eq!(a.origin_chat, b.origin_chat);
    assert_eq!(a.challenge.hash.to_bytes(), b.challenge.hash.to_bytes());
    assert_eq!(a.challenge.issued_at_ms, b.challenge.issued_at_ms);
    assert_eq!(a.challenge.failed_attempts, b.challenge.failed_attempts);
    assert_eq!(a.state, b.state);
    assert_eq!(a.review, b.review);
    assert_eq!(a.due_at_ms, b.due_at_ms);
    assert_eq!(a.created_at_ms, b.created_at_ms);
    assert_eq!(a.updated_at_ms, b.updated_at_ms);
    assert_eq!(a.revision, b.revision);
}

fn refs(payments: &[Payment]) -> Vec<&str> {
    payments.iter().map(|p| p.reference.as_str()).collect()
}

/// Gives `bob` (handle `bob`) what `payee_facts` reads for `alice`: a
/// look-alike `bob2` (seen at `T0 + 2`), a completed payment and one
/// waiting for its code (references `{prefix}001` and `{prefix}002`),
/// and tier 2.
async fn give_payee_facts(store: &SqlStore, alice: UserId, bob: UserId, prefix: &str) {
    store
        .upsert_identity(&seen(Platform::Mock, "bob2", Some("bob"), false), T0 + 2)
        .await
        .unwrap();
    let done = format!("{prefix}001");
    store
        .insert_payment(&payment(&done, alice, bob, 100))
        .await
        .unwrap();
    let completed = Payment {
        state: PaymentState::Completed,
        due_at_ms: None,
        ..store.payment(&r(&done)).await.unwrap().unwrap()
    };
    assert!(store.update_payment(&completed).await.unwrap());
    store
        .insert_payment(&payment(&format!("{prefix}002"), alice, bob, 100))
        .await
        .unwrap();
    store
        .set_tier(&TierRecord {
            user: bob,
            tier: Tier::new(2).unwrap(),
            reason: "checked".to_owned(),
            actor: Actor::System,
            set_at_ms: T0,
        })
        .await
        .unwrap();
}

fn ids(identities: &[Identity]) -> Vec<&str> {
    identities.iter().map(|i| i.id.as_str()).collect()
}

/// Runs a statement with no binds on the test's database, through a
/// connection of its own.
async fn execute(db: &TestDb, sql: &'static str) {
    db.execute(sql).await.unwrap();
}

#[test]
fn due_states_are_the_non_final_states() {
    let non_final: Vec<PaymentState> = PaymentState::ALL
        .into_iter()
        .filter(|s| !s.is_final())
        .collect();
    assert_eq!(non_final, DUE_STATES.to_vec());
    let names: Vec<&str> = DUE_STATES.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        ["awaiting_code", "escrowed", "held"],
        "the SQL of payments_due names these"
    );
    let paid: Vec<&str> = PAID_STATES.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        paid,
        ["completed", "claimed"],
        "the SQL of has_paid_before names these"
    );
}

mod cases {
    use super::*;

    pub(crate) async fn migrating_twice_is_harmless(db: &TestDb, store: Arc<SqlStore>) {
        db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
        let alice = user(&store, "alice").await;
        db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
        assert_eq!(store.identities_of(alice).await.unwrap().len(), 1);
    }

    async fn finish(_db: &TestDb, store: &SqlStore, p: Platform, e: &str, outcome: &str, at: i64) {
        store.finish_event(p, &ev(e), outcome, at).await.unwrap();
    }

    pub(crate) async fn event_outcome_commits_with_the_ledger_and_the_first_stays(
        db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let e = ev("update-1");
        assert_eq!(
            store.event_outcome(Platform::Telegram, &e).await.unwrap(),
            None
        );
        finish(
            db,
            &store,
            Platform::Telegram,
            "update-1",
            "paid P7K2QX",
            T0,
        )
        .await;
        assert_eq!(
            store.event_outcome(Platform::Telegram, &e).await.unwrap(),
            Some("paid P7K2QX".to_owned())
        );
        // The same id on another platform is another event.
        assert_eq!(
            store.event_outcome(Platform::Discord, &e).await.unwrap(),
            None
        );
        // A second outcome (a late second worker) does not overwrite it.
        finish(db, &store, Platform::Telegram, "update-1", "other", T0 + 1).await;
        assert_eq!(
            store.event_outcome(Platform::Telegram, &e).await.unwrap(),
            Some("paid P7K2QX".to_owned())
        );
    }

    pub(crate) async fn old_finished_events_are_forgotten(db: &TestDb, store: Arc<SqlStore>) {
        let p = Platform::Mock;
        for (e, at) in [("old", T0), ("new", T0 + 10)] {
            finish(db, &store, p, e, e, at).await;
        }
        assert_eq!(store.forget_events(T0 + 5).await.unwrap(), 1);
        // The old one is handled afresh; the newer one stays.
        assert_eq!(store.event_outcome(p, &ev("old")).await.unwrap(), None);
        assert_eq!(
            store.event_outcome(p, &ev("new")).await.unwrap(),
            Some("new".to_owned())
        );
    }

    /// Two funded wallets and a pending transfer of `minor` between them.
    async fn reservation(db: &TestDb, minor: i64) -> NewTransfer {
        let payer = db.wallet("user:1", Currency::USD).await;
        let payee = db.wallet("user:2", Currency::USD).await;
        db.fund(payer, usd(1_000)).await;
        NewTransfer::pending(TransferId::random(), payer, payee, usd(minor), 300)
    }

    pub(crate) async fn payment_insert_commits_with_its_transfer_or_not_at_all(
        db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        // Refused money: neither the transfer nor the record is written.
        let too_much = reservation(db, 5_000).await;
        let refused = Payment {
            transfer_id: too_much.id,
            ..payment("UNIT01", alice, bob, 5_000)
        };
        let insert = store
            .record_write(RecordChange::InsertPayment(&refused))
            .unwrap();
        let unit = Unit {
            transfers: vec![too_much.clone()],
            outbox: Vec::new(),
            records: vec![insert],
        };
        let answer = db.ledger.commit(unit).await;
        assert!(
            matches!(answer, Err(SubmitError::Rejected { .. })),
            "{answer:?}"
        );
        assert!(store.payment(&r("UNIT01")).await.unwrap().is_none());
        // Money that fits: both, in one commit.
        let fits = reservation(db, 500).await;
        let paid = Payment {
            transfer_id: fits.id,
            ..payment("UNIT02", alice, bob, 500)
        };
        let insert = store
            .record_write(RecordChange::InsertPayment(&paid))
            .unwrap();
        let unit = Unit {
            transfers: vec![fits.clone()],
            outbox: Vec::new(),
            records: vec![insert.clone()],
        };
        db.ledger.commit(unit).await.unwrap();
        assert_same_payment(&store.payment(&r("UNIT02")).await.unwrap().unwrap(), &paid);
        assert!(db.ledger.transfer(fits.id).await.unwrap().is_some());
        // The reference taken: the unit is a conflict and its other
        // transfer is not written either.
        let other = reservation(db, 100).await;
        let unit = Unit {
            transfers: vec![other.clone()],
            outbox: Vec::new(),
            records: vec![insert],
        };
        let answer = db.ledger.commit(unit).await;
        assert!(
            matches!(answer, Err(SubmitError::RecordConflict { record: 0 })),
            "{answer:?}"
        );
        assert!(db.ledger.transfer(other.id).await.unwrap().is_none());
        assert!(db.ledger.verify().await.unwrap().is_empty());
    }

    pub(crate) async fn payment_update_in_a_unit_is_compare_and_swap(
        db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let stored = store
            .insert_payment(&payment("CAS002", alice, bob, 2_000))
            .await
            .unwrap();
        let wrong = Payment {
            challenge: stored.challenge.after_wrong(),
            ..stored.clone()
        };
        let write = store
            .record_write(RecordChange::UpdatePayment(&wrong))
            .unwrap();
        db.ledger.commit(Unit::records(vec![write])).await.unwrap();
        // The same revision again, with money: a conflict, nothing moves.
        let confirmed = Payment {
            state: PaymentState::Completed,
            due_at_ms: None,
            ..stored.clone()
        };
        let money = reservation(db, 100).await;
        let write = store
            .record_write(RecordChange::UpdatePayment(&confirmed))
            .unwrap();
        let unit = Unit {
            transfers: vec![money.clone()],
            outbox: Vec::new(),
            records: vec![write],
        };
        let answer = db.ledger.commit(unit).await;
        assert!(
            matches!(answer, Err(SubmitError::RecordConflict { .. })),
            "{answer:?}"
        );
        assert!(db.ledger.transfer(money.id).await.unwrap().is_none());
        let now = store.payment(&r("CAS002")).await.unwrap().unwrap();
        assert_eq!(now.revision, 1);
        assert_eq!(now.challenge.failed_attempts, 1);
        assert_eq!(now.state, PaymentState::AwaitingCode);
    }

    /// Commits units side by side (the writer batches them, and combines
    /// their record writes of one form) and expects each to be applied.
    async fn commit_side_by_side(db: &TestDb, units: Vec<Unit>) {
        for answer in db.commit_side_by_side(units).await {
            answer.unwrap();
        }
    }

    pub(crate) async fn payments_and_requests_written_side_by_side_read_back_as_written(
        db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        // Every shape of row at once: a user payee or a handle not yet
        // known, a memo or none, a chat or none.
        let payments: Vec<Payment> = (0..24_i64)
            .map(|i| {
                let reference = format!("SIDE{i:02}");
                let base = if i % 3 == 0 {
                    escrow_payment(&reference, alice, "carol", T0 + i)
                } else {
                    payment(&reference, alice, bob, 100 + i)
                };
                Payment {
                    memo: (i % 2 == 0).then(|| Memo::parse(&format!("lunch \"{i}\"")).unwrap()),
                    origin_chat: (i % 4 == 1).then(|| chat("group-1")),
                    ..base
                }
            })
            .collect();
        // One unit per change.
        let units = |changes: Vec<RecordChange<'_>>| {
            changes
                .into_iter()
                .map(|change| Unit::records(vec![store.record_write(change).unwrap()]))
                .collect::<Vec<_>>()
        };
        let inserts = payments.iter().map(RecordChange::InsertPayment).collect();
        commit_side_by_side(db, units(inserts)).await;
        for p in &payments {
            assert_same_payment(&store.payment(&p.reference).await.unwrap().unwrap(), p);
        }
        // Each updated at its revision: a wrong code, or confirmed.
        let updated: Vec<Payment> = payments
            .iter()
            .enumerate()
            .map(|(i, p)| match i % 2 {
                0 => Payment {
                    challenge: p.challenge.after_wrong(),
                    updated_at_ms: T0 + 60_000,
                    ..p.clone()
                },
                _ => Payment {
                    state: PaymentState::Completed,
                    due_at_ms: None,
                    updated_at_ms: T0 + 60_000,
                    ..p.clone()
                },
            })
            .collect();
        let updates = updated.iter().map(RecordChange::UpdatePayment).collect();
        commit_side_by_side(db, units(updates)).await;
        for p in &updated {
            let now = store.payment(&p.reference).await.unwrap().unwrap();
            assert_same_payment(
                &now,
                &Payment {
                    revision: 1,
                    ..p.clone()
                },
            );
        }
        // Requests the same way: written, then each declined.
        let requests: Vec<PaymentRequest> = (0..12)
            .map(|i| {
                let split = (i % 2 == 0).then_some("SPLIT1");
                request(&format!("REQS{i:02}"), alice, bob, split)
            })
            .collect();
        let inserts = requests.iter().map(RecordChange::InsertRequest).collect();
        commit_side_by_side(db, units(inserts)).await;
        for q in &requests {
            assert_eq!(store.request(&q.reference).await.unwrap().as_ref(), Some(q));
        }
        let declined: Vec<PaymentRequest> = requests
            .iter()
            .map(|q| PaymentRequest {
                state: RequestState::Declined,
                updated_at_ms: T0 + 1,
                ..q.clone()
            })
            .collect();
        let updates = declined.iter().map(RecordChange::UpdateRequest).collect();
        commit_side_by_side(db, units(updates)).await;
        for q in &declined {
            let now = store.request(&q.reference).await.unwrap().unwrap();
            assert_eq!(
                now,
                PaymentRequest {
                    revision: 1,
                    ..q.clone()
                }
            );
        }
    }

    pub(crate) async fn concurrent_units_updating_one_payment_have_one_winner(
        db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let stored = store
            .insert_payment(&payment("RACE02", alice, bob, 2_000))
            .await
            .unwrap();
        let payer = db.wallet("user:1", Currency::USD).await;
        let payee = db.wallet("user:2", Currency::USD).await;
        db.fund(payer, usd(1_000)).await;
        // Eight units at once (most land in one batch), each moving $1 and
        // completing the same payment at the same revision.
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let done = Payment {
                    state: PaymentState::Completed,
                    due_at_ms: None,
                    ..stored.clone()
                };
                let write = store
                    .record_write(RecordChange::UpdatePayment(&done))
                    .unwrap();
                let unit = Unit {
                    transfers: vec![NewTransfer::single(
                        TransferId::random(),
                        payer,
                        payee,
                        usd(100),
                    )],
                    outbox: Vec::new(),
                    records: vec![write],
                };
                let ledger = db.ledger.clone();
                tokio::spawn(async move { ledger.commit(unit).await })
            })
            .collect();
        let mut wins = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => wins += 1,
                Err(SubmitError::RecordConflict { record: 0 }) => {}
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(wins, 1);
        let after = store.payment(&r("RACE02")).await.unwrap().unwrap();
        assert_eq!((after.revision, after.state), (1, PaymentState::Completed));
        // Only the winner's dollar moved.
        let balance = db.ledger.balance(payee).await.unwrap().unwrap();
        assert_eq!(balance.posted, 100);
        assert!(db.ledger.verify().await.unwrap().is_empty());
    }

    pub(crate) async fn new_identity_gets_a_new_user(_db: &TestDb, store: Arc<SqlStore>) {
        assert_eq!(
            store.identity(Platform::Mock, &pid("alice")).await.unwrap(),
            None
        );
        let (alice, _) = store
            .upsert_identity(&seen(Platform::Mock, "alice", Some("Alice"), true), T0)
            .await
            .unwrap();
        let (bob, _) = store
            .upsert_identity(&seen(Platform::Mock, "bob", None, true), T0 + 1)
            .await
            .unwrap();
        // The same platform id on another platform is another person.
        let (alice_tg, _) = store
            .upsert_identity(&seen(Platform::Telegram, "alice", Some("alice"), true), T0)
            .await
            .unwrap();
        assert_ne!(alice.user, bob.user);
        assert_ne!(alice.user, alice_tg.user);
        assert_eq!(alice.platform, Platform::Mock);
        assert_eq!(alice.id, pid("alice"));
        assert_eq!(alice.handle, Some(handle("alice")));
        assert_eq!(alice.skeleton.as_deref(), Some("sk:Alice"));
        assert_eq!(alice.display_name, "alice display");
        assert_eq!((alice.first_seen_ms, alice.last_seen_ms), (T0, T0));
        assert_eq!(bob.handle, None);
        assert_eq!(bob.skeleton, None);
        let read = store.identity(Platform::Mock, &pid("alice")).await.unwrap();
        assert_eq!(read, Some(alice.clone()));
        assert_eq!(store.identities_of(alice.user).await.unwrap(), vec![alice]);
    }

    pub(crate) async fn first_contact_is_the_first_time_speaking(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        // Mentioned first: known, not started, not a contact.
        let mentioned = seen(Platform::Telegram, "100", Some("bob"), false);
        let (bob, first) = store.upsert_identity(&mentioned, T0).await.unwrap();
        assert!(!bob.started);
        assert!(!first);
        let (again, first) = store.upsert_identity(&mentioned, T0 + 1).await.unwrap();
        assert!(!again.started && !first);
        assert_eq!(again.user, bob.user);
        // Then speaks: the first contact, once.
        let speaking = seen(Platform::Telegram, "100", Some("bob"), true);
        let (spoke, first) = store.upsert_identity(&speaking, T0 + 2).await.unwrap();
        assert!(spoke.started && first);
        assert_eq!(spoke.user, bob.user);
        let (spoke_again, first) = store.upsert_identity(&speaking, T0 + 3).await.unwrap();
        assert!(spoke_again.started && !first);
        // A mention later does not unset `started`.
        let (mentioned_again, first) = store.upsert_identity(&mentioned, T0 + 4).await.unwrap();
        assert!(mentioned_again.started && !first);
        // Speaking at the very first sighting is a first contact.
        let carol = seen(Platform::Telegram, "200", Some("carol"), true);
        let (carol, first) = store.upsert_identity(&carol, T0).await.unwrap();
        assert!(carol.started && first);
    }

    pub(crate) async fn dm_open_is_set_by_a_direct_message_and_kept(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let p = Platform::Telegram;
        let direct = |id: &str, handle_text: &str| SeenUser {
            direct: true,
            ..seen(p, id, Some(handle_text), true)
        };
        // Mentioned, then speaking in a group: known and started, DM closed.
        let (mentioned, _) = store
            .upsert_identity(&seen(p, "300", Some("dana"), false), T0)
            .await
            .unwrap();
        assert!(!mentioned.dm_open);
        let (in_group, first) = store
            .upsert_identity(&seen(p, "300", Some("dana"), true), T0 + 1)
            .await
            .unwrap();
        assert!(in_group.started && first);
        assert!(!in_group.dm_open, "a group message does not open the DM");
        // A message in a direct chat opens it; it is not a second first contact.
        let (opened, first) = store
            .upsert_identity(&direct("300", "dana"), T0 + 2)
            .await
            .unwrap();
        assert!(opened.dm_open && opened.started && !first);
        assert_eq!(opened.user, mentioned.user);
        // Later group messages and mentions keep it open.
        let (later, _) = store
            .upsert_identity(&seen(p, "300", Some("dana"), true), T0 + 3)
            .await
            .unwrap();
        assert!(later.dm_open);
        let (mentioned_later, _) = store
            .upsert_identity(&seen(p, "300", Some("dana"), false), T0 + 4)
            .await
            .unwrap();
        assert!(mentioned_later.dm_open);
        let read = store.identity(p, &pid("300")).await.unwrap().unwrap();
        assert!(read.dm_open);
        // A first sighting in a direct chat opens it at once.
        let (erin, first) = store
            .upsert_identity(&direct("301", "erin"), T0)
            .await
            .unwrap();
        assert!(erin.dm_open && erin.started && first);
        // Per identity: another identity stays closed.
        let (other, _) = store
            .upsert_identity(&seen(p, "302", Some("fay"), true), T0)
            .await
            .unwrap();
        assert!(!other.dm_open);
        let found = store
            .identities_with_handle(p, &handle("dana"))
            .await
            .unwrap();
        assert_eq!(found, vec![read]);
    }

    pub(crate) async fn refresh_updates_handle_name_and_last_seen(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let (bob, _) = store
            .upsert_identity(&seen(Platform::Discord, "snow1", Some("bob"), true), T0)
            .await
            .unwrap();
        let renamed = SeenUser {
            display_name: "Robert".to_owned(),
            ..seen(Platform::Discord, "snow1", Some("robert"), false)
        };
        let (robert, first) = store.upsert_identity(&renamed, T0 + 10).await.unwrap();
        assert!(!first);
        assert_eq!(robert.user, bob.user);
        assert_eq!(robert.handle, Some(handle("robert")));
        assert_eq!(robert.skeleton.as_deref(), Some("sk:robert"));
        assert_eq!(robert.display_name, "Robert");
        assert_eq!((robert.first_seen_ms, robert.last_seen_ms), (T0, T0 + 10));
        assert!(robert.started, "started survives a mention");
        assert!(
            store
                .identities_with_handle(Platform::Discord, &handle("bob"))
                .await
                .unwrap()
                .is_empty()
        );
        let found = store
            .identities_with_handle(Platform::Discord, &handle("robert"))
            .await;
        assert_eq!(found.unwrap(), vec![robert.clone()]);
        // A late, older event does not move last seen back.
        let (late, _) = store.upsert_identity(&renamed, T0 + 5).await.unwrap();
        assert_eq!(late.last_seen_ms, T0 + 10);
        // The handle can be dropped.
        let (bare, _) = store
            .upsert_identity(&seen(Platform::Discord, "snow1", None, false), T0 + 20)
            .await
            .unwrap();
        assert_eq!((bare.handle, bare.skeleton), (None, None));
    }

    pub(crate) async fn handle_lookup_is_per_platform_and_newest_first(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        // Two identities once had the handle `bob`; the newest sighting first.
        for (id, at) in [("old", T0), ("new", T0 + 100), ("mid", T0 + 50)] {
            store
                .upsert_identity(&seen(Platform::Telegram, id, Some("bob"), false), at)
                .await
                .unwrap();
        }
        store
            .upsert_identity(
                &seen(Platform::Discord, "elsewhere", Some("bob"), false),
                T0 + 200,
            )
            .await
            .unwrap();
        let found = store
            .identities_with_handle(Platform::Telegram, &handle("@BOB"))
            .await;
        assert_eq!(ids(&found.unwrap()), ["new", "mid", "old"]);
        let none = store
            .identities_with_handle(Platform::Mock, &handle("bob"))
            .await;
        assert!(none.unwrap().is_empty());
    }

    pub(crate) async fn skeleton_lookup_is_limited(_db: &TestDb, store: Arc<SqlStore>) {
        for (i, id) in ["a", "b", "c", "d"].into_iter().enumerate() {
            let sighting = SeenUser {
                skeleton: Some("b0b".to_owned()),
                ..seen(Platform::Mock, id, Some(&format!("bob{id}")), false)
            };
            store
                .upsert_identity(&sighting, T0 + i as i64)
                .await
                .unwrap();
        }
        let two = store
            .identities_with_skeleton(Platform::Mock, "b0b", 2)
            .await
            .unwrap();
        assert_eq!(ids(&two), ["d", "c"]);
        let all = store
            .identities_with_skeleton(Platform::Mock, "b0b", 10)
            .await
            .unwrap();
        assert_eq!(ids(&all), ["d", "c", "b", "a"]);
        assert!(
            store
                .identities_with_skeleton(Platform::Mock, "zzz", 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .identities_with_skeleton(Platform::Telegram, "b0b", 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub(crate) async fn move_identity_joins_another_wallet(_db: &TestDb, store: Arc<SqlStore>) {
        let (alice_tg, _) = store
            .upsert_identity(&seen(Platform::Telegram, "1", Some("alice"), true), T0)
            .await
            .unwrap();
        let (alice_dc, _) = store
            .upsert_identity(&seen(Platform::Discord, "9", Some("alice"), true), T0 + 5)
            .await
            .unwrap();
        assert_ne!(alice_tg.user, alice_dc.user);
        store
            .move_identity(Platform::Discord, &pid("9"), alice_tg.user, T0 + 6)
            .await
            .unwrap();
        let both = store.identities_of(alice_tg.user).await.unwrap();
        assert_eq!(ids(&both), ["9", "1"], "most recently seen first");
        assert!(both.iter().all(|i| i.user == alice_tg.user));
        assert!(store.identities_of(alice_dc.user).await.unwrap().is_empty());
        let moved = store
            .identity(Platform::Discord, &pid("9"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(moved.user, alice_tg.user);
        // Later sightings keep the new user.
        let (seen_again, _) = store
            .upsert_identity(&seen(Platform::Discord, "9", Some("alice"), true), T0 + 7)
            .await
            .unwrap();
        assert_eq!(seen_again.user, alice_tg.user);
    }

    pub(crate) async fn move_unknown_identity_is_an_error(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let moved = store
            .move_identity(Platform::Mock, &pid("ghost"), alice, T0)
            .await;
        assert!(moved.is_err());
    }

    pub(crate) async fn concurrent_first_sightings_make_one_user(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let sighting = seen(Platform::Telegram, "555", Some("dan"), i % 2 == 0);
                    store.upsert_identity(&sighting, T0 + i).await.unwrap()
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        let user = results[0].0.user;
        assert!(results.iter().all(|(i, _)| i.user == user));
        let firsts = results.iter().filter(|(_, first)| *first).count();
        assert_eq!(firsts, 1, "one first contact");
        assert_eq!(store.identities_of(user).await.unwrap().len(), 1);
    }

    pub(crate) async fn link_code_is_single_use(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        store
            .put_link_code(&hash(1), alice, T0 + 600_000)
            .await
            .unwrap();
        assert_eq!(store.take_link_code(&hash(2), T0).await.unwrap(), None);
        assert_eq!(
            store.take_link_code(&hash(1), T0).await.unwrap(),
            Some(alice)
        );
        assert_eq!(store.take_link_code(&hash(1), T0).await.unwrap(), None);
    }

    pub(crate) async fn link_code_expires(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let expires = T0 + 600_000;
        store.put_link_code(&hash(1), alice, expires).await.unwrap();
        store.put_link_code(&hash(2), bob, expires).await.unwrap();
        assert_eq!(
            store.take_link_code(&hash(1), expires - 1).await.unwrap(),
            Some(alice)
        );
        // At its expiry the code is refused, and gone.
        assert_eq!(store.take_link_code(&hash(2), expires).await.unwrap(), None);
        store
            .put_link_code(&hash(2), bob, expires + 1)
            .await
            .unwrap();
        assert_eq!(
            store.take_link_code(&hash(2), expires).await.unwrap(),
            Some(bob)
        );
    }

    pub(crate) async fn new_link_code_replaces_the_users_earlier_one(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        store
            .put_link_code(&hash(1), alice, T0 + 600_000)
            .await
            .unwrap();
        store
            .put_link_code(&hash(2), alice, T0 + 900_000)
            .await
            .unwrap();
        assert_eq!(store.take_link_code(&hash(1), T0).await.unwrap(), None);
        assert_eq!(
            store.take_link_code(&hash(2), T0 + 700_000).await.unwrap(),
            Some(alice)
        );
        // Putting the same code again just moves its expiry.
        store.put_link_code(&hash(3), alice, T0 + 1).await.unwrap();
        store
            .put_link_code(&hash(3), alice, T0 + 100)
            .await
            .unwrap();
        assert_eq!(
            store.take_link_code(&hash(3), T0 + 50).await.unwrap(),
            Some(alice)
        );
    }

    pub(crate) async fn link_code_of_another_user_is_not_taken_over(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let mallory = user(&store, "mallory").await;
        store
            .put_link_code(&hash(1), alice, T0 + 600_000)
            .await
            .unwrap();
        let collision = store.put_link_code(&hash(1), mallory, T0 + 600_000).await;
        assert!(collision.is_err());
        assert_eq!(
            store.take_link_code(&hash(1), T0).await.unwrap(),
            Some(alice)
        );
    }

    pub(crate) async fn concurrent_link_code_takes_have_one_winner(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        store
            .put_link_code(&hash(9), alice, T0 + 600_000)
            .await
            .unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.take_link_code(&hash(9), T0).await.unwrap() })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            if let Some(user) = task.await.unwrap() {
                assert_eq!(user, alice);
                winners += 1;
            }
        }
        assert_eq!(winners, 1);
    }

    fn pending(id: &str, from: UserId, to: UserId, at_ms: i64) -> PendingLink {
        PendingLink {
            platform: Platform::Mock,
            id: pid(id),
            from,
            to,
            created_at_ms: at_ms,
            expires_at_ms: at_ms + 300_000,
        }
    }

    pub(crate) async fn pending_link_waits_and_is_taken_once(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let vic = user(&store, "vic").await;
        let link = pending("vic", vic, alice, T0);
        store.put_pending_link(&link).await.unwrap();
        // Another identity has none; the platform is part of the key.
        assert_eq!(
            store
                .pending_link(Platform::Mock, &pid("alice"), T0)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .pending_link(Platform::Telegram, &pid("vic"), T0)
                .await
                .unwrap(),
            None
        );
        // Looking does not use it up; taking does.
        for _ in 0..2 {
            assert_eq!(
                store
                    .pending_link(Platform::Mock, &pid("vic"), T0 + 1)
                    .await
                    .unwrap(),
                Some(link.clone())
            );
        }
        assert_eq!(
            store
                .take_pending_link(Platform::Mock, &pid("vic"), T0 + 1)
                .await
                .unwrap(),
            Some(link)
        );
        assert_eq!(
            store
                .take_pending_link(Platform::Mock, &pid("vic"), T0 + 1)
                .await
                .unwrap(),
            None
        );
    }

    pub(crate) async fn pending_link_expires_and_is_replaced(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let vic = user(&store, "vic").await;
        let first = pending("vic", vic, alice, T0);
        store.put_pending_link(&first).await.unwrap();
        let expires = first.expires_at_ms;
        assert!(
            store
                .pending_link(Platform::Mock, &pid("vic"), expires)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .take_pending_link(Platform::Mock, &pid("vic"), expires)
                .await
                .unwrap()
                .is_none()
        );
        // A newer code replaces the identity's earlier one.
        store.put_pending_link(&first).await.unwrap();
        let second = pending("vic", vic, bob, T0 + 10);
        store.put_pending_link(&second).await.unwrap();
        assert_eq!(
            store
                .take_pending_link(Platform::Mock, &pid("vic"), T0 + 20)
                .await
                .unwrap(),
            Some(second)
        );
    }

    pub(crate) async fn concurrent_pending_link_takes_have_one_winner(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let vic = user(&store, "vic").await;
        store
            .put_pending_link(&pending("vic", vic, alice, T0))
            .await
            .unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    store
                        .take_pending_link(Platform::Mock, &pid("vic"), T0)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            if task.await.unwrap().is_some() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1);
    }

    const BOUNDS: LinkAttemptBounds = LinkAttemptBounds {
        per_identity_max: 3,
        per_identity_window_ms: 3_600_000,
        global_max: 5,
        global_window_ms: 60_000,
    };

    async fn attempt(store: &SqlStore, id: &str, at_ms: i64) -> LinkAttempt {
        store
            .begin_link_attempt(Platform::Mock, &pid(id), at_ms, &BOUNDS)
            .await
            .unwrap()
    }

    fn allowed(verdict: LinkAttempt) -> bool {
        matches!(verdict, LinkAttempt::Allowed { .. })
    }

    pub(crate) async fn link_attempts_are_bounded_per_identity(_db: &TestDb, store: Arc<SqlStore>) {
        // Three wrong codes, spread so the global bound never applies.
        assert!(allowed(attempt(&store, "eve", T0).await));
        assert!(allowed(attempt(&store, "eve", T0 + 120_000).await));
        assert!(allowed(attempt(&store, "eve", T0 + 240_000).await));
        assert_eq!(
            attempt(&store, "eve", T0 + 300_000).await,
            LinkAttempt::IdentityBound {
                until_ms: T0 + 3_600_000
            }
        );
        // Others are not held up; the same id on another platform is
        // another identity.
        assert!(allowed(attempt(&store, "bob", T0 + 300_000).await));
        assert!(allowed(
            store
                .begin_link_attempt(Platform::Telegram, &pid("eve"), T0 + 300_000, &BOUNDS)
                .await
                .unwrap()
        ));
        // An hour after the first, one try frees up.
        assert_eq!(
            attempt(&store, "eve", T0 + 3_599_999).await,
            LinkAttempt::IdentityBound {
                until_ms: T0 + 3_600_000
            }
        );
        assert!(allowed(attempt(&store, "eve", T0 + 3_600_000).await));
        assert_eq!(
            attempt(&store, "eve", T0 + 3_600_000).await,
            LinkAttempt::IdentityBound {
                until_ms: T0 + 120_000 + 3_600_000
            }
        );
    }

    pub(crate) async fn link_attempts_are_bounded_globally(_db: &TestDb, store: Arc<SqlStore>) {
        for (n, at_ms) in [T0, T0 + 10_000, T0 + 20_000, T0 + 30_000, T0 + 40_000]
            .into_iter()
            .enumerate()
        {
            assert!(allowed(attempt(&store, &format!("g{n}"), at_ms).await));
        }
        assert_eq!(
            attempt(&store, "newcomer", T0 + 50_000).await,
            LinkAttempt::GlobalBound {
                until_ms: T0 + 60_000
            }
        );
        assert!(allowed(attempt(&store, "newcomer", T0 + 60_000).await));
        assert_eq!(
            attempt(&store, "other", T0 + 60_000).await,
            LinkAttempt::GlobalBound {
                until_ms: T0 + 70_000
            }
        );
    }

    pub(crate) async fn right_link_codes_do_not_count(_db: &TestDb, store: Arc<SqlStore>) {
        for n in 0..10 {
            let LinkAttempt::Allowed { attempt: id } = attempt(&store, "alice", T0 + n).await
            else {
                panic!("refused after {n} right codes");
            };
            store.forget_link_attempt(id).await.unwrap();
        }
    }

    pub(crate) async fn concurrent_link_attempts_stay_within_the_bound(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { attempt(&store, "eve", T0).await })
            })
            .collect();
        let mut allowed_count = 0;
        for task in tasks {
            if allowed(task.await.unwrap()) {
                allowed_count += 1;
            }
        }
        assert_eq!(allowed_count, BOUNDS.per_identity_max);
    }

    pub(crate) async fn detach_identity_gives_a_new_empty_user(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        store
            .upsert_identity(
                &seen(Platform::Telegram, "alice_tg", Some("alice"), true),
                T0,
            )
            .await
            .unwrap();
        store
            .move_identity(Platform::Telegram, &pid("alice_tg"), alice, T0)
            .await
            .unwrap();
        assert_eq!(store.identities_of(alice).await.unwrap().len(), 2);
        // Only from the user it belongs to.
        let bob = user(&store, "bob").await;
        assert_eq!(
            store
                .detach_identity(Platform::Telegram, &pid("alice_tg"), bob, T0 + 1)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .detach_identity(Platform::Telegram, &pid("nobody"), alice, T0 + 1)
                .await
                .unwrap(),
            None
        );
        let new = store
            .detach_identity(Platform::Telegram, &pid("alice_tg"), alice, T0 + 1)
            .await
            .unwrap()
            .unwrap();
        assert!(new != alice && new != bob);
        assert_eq!(ids(&store.identities_of(alice).await.unwrap()), ["alice"]);
        assert_eq!(ids(&store.identities_of(new).await.unwrap()), ["alice_tg"]);
        // Done once: a second detach from alice finds it gone.
        assert_eq!(
            store
                .detach_identity(Platform::Telegram, &pid("alice_tg"), alice, T0 + 2)
                .await
                .unwrap(),
            None
        );
        let identity = store
            .identity(Platform::Telegram, &pid("alice_tg"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(identity.user, new);
        assert_eq!(identity.first_seen_ms, T0);
    }

    pub(crate) async fn detach_identity_takes_the_cards_it_linked(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        // alice's mock account and her Telegram account share a wallet.
        let alice = user(&store, "alice").await;
        store
            .upsert_identity(&seen(Platform::Telegram, "alice_tg", None, true), T0)
            .await
            .unwrap();
        store
            .move_identity(Platform::Telegram, &pid("alice_tg"), alice, T0)
            .await
            .unwrap();
        // Linked by the Telegram account: goes with it.
        let mut by_tg = card_add("A00001", alice, "4111111111111111", T0);
        by_tg.platform_user_id = pid("alice_tg");
        let by_tg = store.insert_card_add(&by_tg).await.unwrap();
        let CardAddLinked::Linked(tg_card) = store.link_card_add(&by_tg, T0 + 1).await.unwrap()
        else {
            panic!("not linked");
        };
        // Linked by the mock account: stays.
        let mut by_mock = card_add("A00002", alice, "4000000000000002", T0);
        by_mock.platform = Platform::Mock;
        by_mock.platform_user_id = pid("alice");
        let by_mock = store.insert_card_add(&by_mock).await.unwrap();
        let CardAddLinked::Linked(mock_card) = store.link_card_add(&by_mock, T0 + 2).await.unwrap()
        else {
            panic!("not linked");
        };
        assert_eq!(mock_card.added_by, Some((Platform::Mock, pid("alice"))));
        // Linked before the adder was recorded: stays.
        let old = store
            .insert_card(&card(alice, "5555555555554444", T0 + 3))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(old.added_by, None);
        // The same id on another platform is another identity: stays.
        let mut lookalike = card(alice, "4000000000000119", T0 + 4);
        lookalike.added_by = Some((Platform::Discord, pid("alice_tg")));
        let lookalike = store.insert_card(&lookalike).await.unwrap().unwrap();
        // A card the Telegram account linked to another wallet: not moved.
        let bob = user(&store, "bob").await;
        let mut elsewhere = card(bob, "4111111111111111", T0 + 5);
        elsewhere.added_by = Some((Platform::Telegram, pid("alice_tg")));
        let elsewhere = store.insert_card(&elsewhere).await.unwrap().unwrap();

        // A refused detach (not alice's any more) moves no card.
        assert_eq!(
            store
                .detach_identity(Platform::Telegram, &pid("alice_tg"), bob, T0 + 10)
                .await
                .unwrap(),
            None
        );
        assert_eq!(store.cards_of(alice).await.unwrap().len(), 4);
        assert_eq!(store.cards_of(bob).await.unwrap(), vec![elsewhere.clone()]);

        let new = store
            .detach_identity(Platform::Telegram, &pid("alice_tg"), alice, T0 + 10)
            .await
            .unwrap()
            .unwrap();
        let mut moved = tg_card.clone();
        moved.user = new;
        assert_eq!(store.cards_of(new).await.unwrap(), vec![moved]);
        let mut kept_old = old.clone();
        kept_old.user = alice;
        assert_eq!(
            store.cards_of(alice).await.unwrap(),
            vec![mock_card, kept_old, lookalike]
        );
        assert_eq!(store.cards_of(bob).await.unwrap(), vec![elsewhere]);
        // The same card can be linked again to the wallet it left.
        let again = store
            .insert_card_add(&card_add("A00003", alice, "4111111111111111", T0 + 20))
            .await
            .unwrap();
        assert!(matches!(
            store.link_card_add(&again, T0 + 21).await.unwrap(),
            CardAddLinked::Linked(_)
        ));
        // Done once: a second detach from alice changes nothing.
        assert_eq!(
            store
                .detach_identity(Platform::Telegram, &pid("alice_tg"), alice, T0 + 30)
                .await
                .unwrap(),
            None
        );
        assert_eq!(store.cards_of(new).await.unwrap().len(), 1);
        assert_eq!(store.cards_of(alice).await.unwrap().len(), 4);
    }

    pub(crate) async fn card_with_half_an_adder_is_an_error_not_a_panic(
        db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        store
            .insert_card(&card(alice, "4111111111111111", T0))
            .await
            .unwrap()
            .unwrap();
        execute(db, "UPDATE bot_cards SET added_by_platform = 'telegram'").await;
        assert!(store.cards_of(alice).await.is_err());
        execute(
            db,
            "UPDATE bot_cards SET added_by_platform = 'pigeon', added_by_id = 'alice'",
        )
        .await;
        assert!(store.cards_of(alice).await.is_err());
    }

    pub(crate) async fn payment_round_trips_every_field(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let full = Payment {
            memo: Some(Memo::parse("pizza 🍕").unwrap()),
            request: Some(r("RQ1234")),
            origin_chat: Some(chat("-100200")),
            challenge: OtpChallenge {
                hash: OtpHash::from_bytes(&[0xAB; 32]).unwrap(),
                issued_at_ms: T0 - 5,
                failed_attempts: 3,
            },
            amount: Amount::from_minor(Currency::USD.max_minor(), Currency::USD).unwrap(),
            payer_platform: Platform::Telegram,
            ..payment("FULL01", alice, bob, 1)
        };
        let stored = store.insert_payment(&full).await.unwrap();
        assert_same_payment(&stored, &full);
        let read = store.payment(&r("full01")).await.unwrap().unwrap();
        assert_same_payment(&read, &full);
        let by_transfer = store
            .payment_by_transfer(full.transfer_id)
            .await
            .unwrap()
            .unwrap();
        assert_same_payment(&by_transfer, &full);

        let sparse = Payment {
            amount: Amount::from_minor(1_000, Currency::JPY).unwrap(),
            due_at_ms: None,
            state: PaymentState::Cancelled,
            ..escrow_payment("SPARSE", alice, "nobody", T0)
        };
        let stored = store.insert_payment(&sparse).await.unwrap();
        assert_same_payment(&stored, &sparse);
        assert!(store.payment(&r("NONE00")).await.unwrap().is_none());
        assert!(
            store
                .payment_by_transfer(TransferId::random())
                .await
                .unwrap()
                .is_none()
        );
    }

    pub(crate) async fn insert_payment_is_idempotent(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let first = payment("PAY001", alice, bob, 2_000);
        store.insert_payment(&first).await.unwrap();
        // A retry with other fields returns what is stored.
        let retry = Payment {
            amount: usd(9_999),
            transfer_id: TransferId::random(),
            ..first.clone()
        };
        assert_same_payment(&store.insert_payment(&retry).await.unwrap(), &first);
        // Another reference for the same transfer returns the stored one too.
        let same_transfer = Payment {
            reference: r("PAY002"),
            ..first.clone()
        };
        assert_same_payment(&store.insert_payment(&same_transfer).await.unwrap(), &first);
        assert!(store.payment(&r("PAY002")).await.unwrap().is_none());
        assert_eq!(store.payments_of_user(alice, 10).await.unwrap().len(), 1);
    }

    pub(crate) async fn update_payment_is_compare_and_swap(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let stored = store
            .insert_payment(&payment("CAS001", alice, bob, 2_000))
            .await
            .unwrap();
        let wrong = Payment {
            challenge: stored.challenge.after_wrong(),
            updated_at_ms: T0 + 1,
            ..stored.clone()
        };
        let confirmed = Payment {
            state: PaymentState::Completed,
            due_at_ms: None,
            updated_at_ms: T0 + 1,
            ..stored.clone()
        };
        assert!(store.update_payment(&wrong).await.unwrap());
        // The same revision again: someone else changed it first.
        assert!(!store.update_payment(&confirmed).await.unwrap());
        let now = store.payment(&r("CAS001")).await.unwrap().unwrap();
        assert_eq!(now.revision, 1);
        assert_eq!(now.challenge.failed_attempts, 1);
        assert_eq!(now.state, PaymentState::AwaitingCode);
        // Re-read, decide again, succeed.
        let confirmed = Payment {
            state: PaymentState::Completed,
            due_at_ms: None,
            ..now
        };
        assert!(store.update_payment(&confirmed).await.unwrap());
        let done = store.payment(&r("CAS001")).await.unwrap().unwrap();
        assert_same_payment(
            &done,
            &Payment {
                revision: 2,
                ..confirmed
            },
        );
        // An unknown payment is never updated.
        let unknown = payment("NOPE01", alice, bob, 1);
        assert!(!store.update_payment(&unknown).await.unwrap());
    }

    pub(crate) async fn concurrent_payment_updates_have_one_winner(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let stored = store
            .insert_payment(&payment("RACE01", alice, bob, 2_000))
            .await
            .unwrap();
        let tasks: Vec<_> = [PaymentState::Completed, PaymentState::Expired]
            .into_iter()
            .cycle()
            .take(8)
            .map(|state| {
                let store = Arc::clone(&store);
                let update = Payment {
                    state,
                    due_at_ms: None,
                    ..stored.clone()
                };
                tokio::spawn(async move { store.update_payment(&update).await.unwrap() })
            })
            .collect();
        let mut wins = 0;
        for task in tasks {
            wins += usize::from(task.await.unwrap());
        }
        assert_eq!(wins, 1);
        let after = store.payment(&r("RACE01")).await.unwrap().unwrap();
        assert_eq!(after.revision, 1);
        assert!(after.state.is_final());
    }

    pub(crate) async fn escrowed_payment_is_claimed_by_user(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let escrowed = store
            .insert_payment(&escrow_payment("ESC001", alice, "newbie", T0))
            .await
            .unwrap();
        let found = store
            .payments_escrowed_for(Platform::Mock, &handle("newbie"))
            .await
            .unwrap();
        assert_eq!(refs(&found), ["ESC001"]);
        let newbie = user(&store, "newbie").await;
        let claimed = Payment {
            payee: Payee::User {
                user: newbie,
                platform: Platform::Mock,
                id: pid("newbie"),
            },
            state: PaymentState::Claimed,
            due_at_ms: None,
            ..escrowed
        };
        assert!(store.update_payment(&claimed).await.unwrap());
        let read = store.payment(&r("ESC001")).await.unwrap().unwrap();
        assert_eq!(read.payee.user(), Some(newbie));
        assert!(
            store
                .payments_escrowed_for(Platform::Mock, &handle("newbie"))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.has_paid_before(alice, newbie).await.unwrap());
        assert_eq!(
            refs(&store.payments_of_user(newbie, 10).await.unwrap()),
            ["ESC001"]
        );
    }

    /// A record's review reads back; held payments and cash-outs are
    /// listed longest held first, and are due at their review deadline.
    pub(crate) async fn open_payments_are_counted_by_state_and_bounded(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        assert!(store.open_payments(100).await.unwrap().is_empty());
        for reference in ["OPENA1", "OPENA2", "OPENA3"] {
            store
                .insert_payment(&payment(reference, alice, bob, 100))
                .await
                .unwrap();
        }
        store
            .insert_payment(&escrow_payment("OPENE1", alice, "carol", T0))
            .await
            .unwrap();
        let mut done = store.payment(&r("OPENA3")).await.unwrap().unwrap();
        done.state = PaymentState::Completed;
        done.due_at_ms = None;
        assert!(store.update_payment(&done).await.unwrap());
        let mut counts = store.open_payments(100).await.unwrap();
        counts.sort_by_key(|(state, _)| state.as_str());
        assert_eq!(
            counts,
            [(PaymentState::AwaitingCode, 2), (PaymentState::Escrowed, 1)],
            "final states are not counted"
        );
        let bounded: u64 = store
            .open_payments(2)
            .await
            .unwrap()
            .iter()
            .map(|(_, n)| n)
            .sum();
        assert_eq!(bounded, 2, "at most counted_max payments are counted");
    }

    pub(crate) async fn held_payments_and_cash_outs_are_listed_and_due(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let hold = Review::Hold {
            reason: "pass-through".to_owned(),
        };
        let second = Payment {
            review: Review::SecondFactor,
            ..payment("SECOND", alice, bob, 100)
        };
        store.insert_payment(&second).await.unwrap();
        let back = store.payment(&r("SECOND")).await.unwrap().unwrap();
        assert_eq!(back.review, Review::SecondFactor);
        for (reference, updated) in [("HELDB2", T0 + 20), ("HELDA1", T0 + 10)] {
            let held = Payment {
                review: hold.clone(),
                ..payment(reference, alice, bob, 100)
            };
            store.insert_payment(&held).await.unwrap();
            let mut now = store.payment(&r(reference)).await.unwrap().unwrap();
            now.state = PaymentState::Held;
            now.due_at_ms = Some(updated + 1_000);
            now.updated_at_ms = updated;
            assert!(store.update_payment(&now).await.unwrap());
        }
        let held = store.payments_held(10).await.unwrap();
        assert_eq!(refs(&held), ["HELDA1", "HELDB2"]);
        assert_eq!(held[0].review, hold);
        assert_eq!(refs(&store.payments_held(1).await.unwrap()), ["HELDA1"]);
        let due = store.payments_due(T0 + 1_010, 10).await.unwrap();
        assert!(refs(&due).contains(&"HELDA1"));
        assert!(!refs(&due).contains(&"HELDB2"));

        let op = CardOp {
            review: hold.clone(),
            ..card_op("COHELD", alice, CardOpKind::CashOut, T0)
        };
        store.insert_card_op(&op).await.unwrap();
        assert!(store.card_ops_held(10).await.unwrap().is_empty());
        let mut now = store.card_op(&r("COHELD")).await.unwrap().unwrap();
        assert_eq!(now.review, hold);
        now.state = CardOpState::Held;
        now.due_at_ms = Some(T0 + 5_000);
        assert!(store.update_card_op(&now).await.unwrap());
        let held_ops = store.card_ops_held(10).await.unwrap();
        assert_eq!(held_ops.len(), 1);
        assert_eq!(held_ops[0].state, CardOpState::Held);
        let due_ops = store.card_ops_due(T0 + 5_000, 10).await.unwrap();
        assert!(due_ops.iter().any(|o| o.reference.as_str() == "COHELD"));
    }

    pub(crate) async fn payments_due_oldest_first_without_final_states(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let at = |reference: &str, state: PaymentState, due: Option<i64>| Payment {
            state,
            due_at_ms: due,
            ..payment(reference, alice, bob, 100)
        };
        for p in [
            at("DUE003", PaymentState::AwaitingCode, Some(T0 + 30)),
            at("DUE001", PaymentState::AwaitingCode, Some(T0 + 10)),
            Payment {
                due_at_ms: Some(T0 + 40),
                ..escrow_payment("DUE002", alice, "carol", T0)
            },
            at("LATER1", PaymentState::AwaitingCode, Some(T0 + 1_000)),
            at("DONE01", PaymentState::Completed, Some(T0)),
            at("GONE01", PaymentState::Expired, Some(T0)),
            at("NODUE1", PaymentState::Cancelled, None),
        ] {
            store.insert_payment(&p).await.unwrap();
        }
        // An update moves the due time (the escrow's refund time, here).
        let mut escrow = store.payment(&r("DUE002")).await.unwrap().unwrap();
        escrow.due_at_ms = Some(T0 + 20);
        assert!(store.update_payment(&escrow).await.unwrap());

        let due = store.payments_due(T0 + 30, 100).await.unwrap();
        assert_eq!(
            refs(&due),
            ["DUE001", "DUE002", "DUE003"],
            "at or before now, oldest first"
        );
        let two = store.payments_due(T0 + 30, 2).await.unwrap();
        assert_eq!(refs(&two), ["DUE001", "DUE002"]);
        assert!(store.payments_due(T0 + 9, 100).await.unwrap().is_empty());
        let all = store.payments_due(T0 + 10_000, 100).await.unwrap();
        assert_eq!(refs(&all), ["DUE001", "DUE002", "DUE003", "LATER1"]);
    }

    pub(crate) async fn payments_awaiting_code_newest_first(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        for (reference, payer, state, created) in [
            ("AWA001", alice, PaymentState::AwaitingCode, T0),
            ("AWA002", alice, PaymentState::AwaitingCode, T0 + 5),
            ("AWA003", alice, PaymentState::Completed, T0 + 9),
            ("BOB001", bob, PaymentState::AwaitingCode, T0 + 9),
            ("AWA004", alice, PaymentState::AwaitingCode, T0 + 5),
        ] {
            let p = Payment {
                state,
                created_at_ms: created,
                ..payment(reference, payer, bob, 100)
            };
            store.insert_payment(&p).await.unwrap();
        }
        let awaiting = store.payments_awaiting_code(alice).await.unwrap();
        assert_eq!(
            refs(&awaiting),
            ["AWA004", "AWA002", "AWA001"],
            "ties: newest insert first"
        );
        assert_eq!(
            refs(&store.payments_awaiting_code(bob).await.unwrap()),
            ["BOB001"]
        );
    }

    pub(crate) async fn payments_escrowed_for_a_handle_oldest_first(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        for p in [
            escrow_payment("ESC002", alice, "newbie", T0 + 2),
            escrow_payment("ESC001", alice, "newbie", T0 + 1),
            escrow_payment("OTHER1", alice, "someone", T0),
            Payment {
                state: PaymentState::Refunded,
                due_at_ms: None,
                ..escrow_payment("REFUND", alice, "newbie", T0)
            },
            Payment {
                payee: Payee::Unclaimed {
                    platform: Platform::Telegram,
                    handle: handle("newbie"),
                },
                ..escrow_payment("TELEGR", alice, "newbie", T0)
            },
        ] {
            store.insert_payment(&p).await.unwrap();
        }
        let found = store
            .payments_escrowed_for(Platform::Mock, &handle("@NewBie"))
            .await
            .unwrap();
        assert_eq!(refs(&found), ["ESC001", "ESC002"]);
        let telegram = store
            .payments_escrowed_for(Platform::Telegram, &handle("newbie"))
            .await;
        assert_eq!(refs(&telegram.unwrap()), ["TELEGR"]);
    }

    pub(crate) async fn payments_of_user_as_payer_or_payee(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let carol = user(&store, "carol").await;
        for (reference, payer, payee, created) in [
            ("HIS001", alice, bob, T0),
            ("HIS002", bob, alice, T0 + 1),
            ("HIS003", carol, bob, T0 + 2),
            ("HIS004", alice, carol, T0 + 3),
        ] {
            let p = Payment {
                created_at_ms: created,
                ..payment(reference, payer, payee, 100)
            };
            store.insert_payment(&p).await.unwrap();
        }
        let history = store.payments_of_user(alice, 10).await.unwrap();
        assert_eq!(refs(&history), ["HIS004", "HIS002", "HIS001"]);
        assert_eq!(
            refs(&store.payments_of_user(alice, 2).await.unwrap()),
            ["HIS004", "HIS002"]
        );
        let bobs = store.payments_of_user(bob, 10).await.unwrap();
        assert_eq!(refs(&bobs), ["HIS003", "HIS002", "HIS001"]);
    }

    pub(crate) async fn has_paid_before_counts_delivered_payments(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let carol = user(&store, "carol").await;
        store
            .insert_payment(&payment("PEN001", alice, bob, 100))
            .await
            .unwrap();
        let voided = Payment {
            state: PaymentState::LockedOut,
            due_at_ms: None,
            ..payment("VOID01", alice, carol, 100)
        };
        store.insert_payment(&voided).await.unwrap();
        assert!(
            !store.has_paid_before(alice, bob).await.unwrap(),
            "not yet confirmed"
        );
        assert!(
            !store.has_paid_before(alice, carol).await.unwrap(),
            "voided"
        );
        let pending = store.payment(&r("PEN001")).await.unwrap().unwrap();
        let completed = Payment {
            state: PaymentState::Completed,
            due_at_ms: None,
            ..pending
        };
        assert!(store.update_payment(&completed).await.unwrap());
        assert!(store.has_paid_before(alice, bob).await.unwrap());
        assert!(
            !store.has_paid_before(bob, alice).await.unwrap(),
            "one direction only"
        );
    }

    pub(crate) async fn request_round_trip_idempotency_and_compare_and_swap(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let asked = request("REQ001", alice, bob, None);
        assert_eq!(store.insert_request(&asked).await.unwrap(), asked);
        assert_eq!(
            store.request(&r("req001")).await.unwrap(),
            Some(asked.clone())
        );
        let retry = PaymentRequest {
            amount: usd(1),
            memo: None,
            ..asked.clone()
        };
        assert_eq!(
            store.insert_request(&retry).await.unwrap(),
            asked,
            "the stored one"
        );
        assert_eq!(store.request(&r("NONE00")).await.unwrap(), None);

        let approved = PaymentRequest {
            state: RequestState::Approved,
            payment: Some(r("PAY001")),
            updated_at_ms: T0 + 1,
            ..asked.clone()
        };
        let declined = PaymentRequest {
            state: RequestState::Declined,
            ..asked.clone()
        };
        assert!(store.update_request(&approved).await.unwrap());
        assert!(
            !store.update_request(&declined).await.unwrap(),
            "same revision"
        );
        let read = store.request(&r("REQ001")).await.unwrap().unwrap();
        assert_eq!(
            read,
            PaymentRequest {
                revision: 1,
                ..approved
            }
        );
        let paid = PaymentRequest {
            state: RequestState::Paid,
            ..read
        };
        assert!(store.update_request(&paid).await.unwrap());
        assert_eq!(
            store.request(&r("REQ001")).await.unwrap().unwrap().revision,
            2
        );
    }

    pub(crate) async fn requests_of_user_open_first_both_sides(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let carol = user(&store, "carol").await;
        for (reference, requester, payer, created, state) in [
            ("INB001", alice, bob, T0, RequestState::Open),
            ("INB002", bob, alice, T0 + 1, RequestState::Paid),
            ("INB003", carol, alice, T0 + 2, RequestState::Open),
            ("INB004", carol, bob, T0 + 3, RequestState::Open),
            ("INB005", alice, carol, T0 + 4, RequestState::Expired),
        ] {
            let request = PaymentRequest {
                created_at_ms: created,
                state,
                ..request(reference, requester, payer, None)
            };
            store.insert_request(&request).await.unwrap();
        }
        let listed = store.requests_of_user(alice, 10).await.unwrap();
        let refs: Vec<&str> = listed.iter().map(|r| r.reference.as_str()).collect();
        assert_eq!(refs, ["INB003", "INB001", "INB005", "INB002"]);
        let two = store.requests_of_user(alice, 2).await.unwrap();
        assert_eq!(two.len(), 2, "bounded");
        assert_eq!(
            store.request(&r("INB005")).await.unwrap().unwrap().state,
            RequestState::Expired,
            "the state round-trips"
        );
    }

    pub(crate) async fn requests_expiring_only_open_ones_past_their_date(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        for (reference, expires, state) in [
            ("EXP001", Some(T0 + 10), RequestState::Open),
            ("EXP002", Some(T0 + 5), RequestState::Open),
            ("EXP003", None, RequestState::Open),
            ("EXP004", Some(T0 + 1), RequestState::Declined),
            ("EXP005", Some(T0 + 100), RequestState::Open),
            // Approved: its payment may have ended unpaid; the core looks.
            ("EXP006", Some(T0 + 7), RequestState::Approved),
        ] {
            let request = PaymentRequest {
                expires_at_ms: expires,
                state,
                reminders: 2,
                reminded_at_ms: Some(T0 + 3),
                ..request(reference, alice, bob, None)
            };
            store.insert_request(&request).await.unwrap();
        }
        let due = store.requests_expiring(T0 + 10, 10).await.unwrap();
        let refs: Vec<&str> = due.iter().map(|r| r.reference.as_str()).collect();
        assert_eq!(
            refs,
            ["EXP002", "EXP006", "EXP001"],
            "earliest first, open or approved only"
        );
        assert_eq!(due[0].reminders, 2);
        assert_eq!(due[0].reminded_at_ms, Some(T0 + 3));
        assert_eq!(store.requests_expiring(T0 + 10, 1).await.unwrap().len(), 1);
    }

    pub(crate) async fn history_of_user_hides_what_the_payee_never_saw(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        for (reference, created, state) in [
            ("HID001", T0, PaymentState::Completed),
            ("HID002", T0 + 1, PaymentState::Cancelled),
            ("HID003", T0 + 2, PaymentState::AwaitingCode),
            ("HID004", T0 + 3, PaymentState::Expired),
            ("HID005", T0 + 4, PaymentState::Escrowed),
            // Held for review, and how a review ends: only the payer was
            // ever told; the payee must not learn of the hold.
            ("HID006", T0 + 5, PaymentState::Held),
            ("HID007", T0 + 6, PaymentState::Rejected),
            ("HID008", T0 + 7, PaymentState::HoldExpired),
        ] {
            let p = Payment {
                created_at_ms: created,
                state,
                ..payment(reference, alice, bob, 100)
            };
            store.insert_payment(&p).await.unwrap();
        }
        let payer = store.history_of_user(alice, 10).await.unwrap();
        assert_eq!(payer.len(), 8, "the payer sees all of theirs");
        let payee = store.history_of_user(bob, 10).await.unwrap();
        assert_eq!(refs(&payee), ["HID005", "HID001"]);
    }

    pub(crate) async fn requests_of_split_in_insertion_order(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let carol = user(&store, "carol").await;
        store
            .insert_split(&split("SPL001", alice, "group", T0))
            .await
            .unwrap();
        // References out of alphabetical order, same creation time.
        for (reference, payer, in_split) in [
            ("ZZZ001", bob, Some("SPL001")),
            ("AAA001", carol, Some("SPL001")),
            ("LONE01", bob, None),
            ("MMM001", bob, Some("SPL002")),
            ("BBB001", carol, Some("SPL001")),
        ] {
            store
                .insert_request(&request(reference, alice, payer, in_split))
                .await
                .unwrap();
        }
        // A retried insert does not move a request to the end.
        store
            .insert_request(&request("ZZZ001", alice, bob, Some("SPL001")))
            .await
            .unwrap();
        let shares = store.requests_of_split(&r("SPL001")).await.unwrap();
        let order: Vec<&str> = shares.iter().map(|s| s.reference.as_str()).collect();
        assert_eq!(order, ["ZZZ001", "AAA001", "BBB001"]);
        assert!(shares.iter().all(|s| s.split == Some(r("SPL001"))));
        assert!(
            store
                .requests_of_split(&r("NONE00"))
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub(crate) async fn split_insert_and_latest(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let first = split("SPL001", alice, "group-a", T0);
        assert_eq!(store.insert_split(&first).await.unwrap(), first);
        let retry = Split {
            total: usd(1),
            ..first.clone()
        };
        assert_eq!(
            store.insert_split(&retry).await.unwrap(),
            first,
            "the stored one"
        );
        assert_eq!(
            store.split(&r("spl001")).await.unwrap(),
            Some(first.clone())
        );
        assert_eq!(store.split(&r("NONE00")).await.unwrap(), None);

        let second = Split {
            memo: None,
            ..split("SPL002", alice, "group-b", T0 + 10)
        };
        let third = split("SPL003", alice, "group-a", T0 + 5);
        store.insert_split(&second).await.unwrap();
        store.insert_split(&third).await.unwrap();
        let tg = Platform::Telegram;
        let in_a = store
            .latest_split(alice, tg, Some(&chat("group-a")))
            .await
            .unwrap();
        assert_eq!(in_a, Some(third));
        let anywhere = store.latest_split(alice, tg, None).await.unwrap();
        assert_eq!(anywhere, Some(second));
        assert_eq!(
            store
                .latest_split(alice, Platform::Discord, None)
                .await
                .unwrap(),
            None
        );
        assert_eq!(store.latest_split(bob, tg, None).await.unwrap(), None);
        let nowhere = store
            .latest_split(alice, tg, Some(&chat("group-z")))
            .await
            .unwrap();
        assert_eq!(nowhere, None);
        // Mixed currencies cannot be stored in one split.
        let mixed = Split {
            creator_share: Amount::from_minor(100, Currency::EUR).unwrap(),
            ..split("SPL004", alice, "group-a", T0)
        };
        assert!(store.insert_split(&mixed).await.is_err());
    }

    pub(crate) async fn corrupt_currency_is_an_error_not_a_panic(
        db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        store
            .insert_payment(&payment("BAD001", alice, bob, 100))
            .await
            .unwrap();
        execute(
            db,
            "UPDATE bot_payments SET currency = 'ZZZ' WHERE reference = 'BAD001'",
        )
        .await;
        let error = store.payment(&r("BAD001")).await.unwrap_err().to_string();
        assert!(error.contains("bot_payments.currency"), "{error}");
        assert!(error.contains("ZZZ"), "{error}");
        // Lists that meet the row fail the same way.
        assert!(store.payments_of_user(alice, 10).await.is_err());
        assert!(store.payments_due(T0 + 1_000_000, 10).await.is_err());

        store
            .insert_split(&split("SPL001", alice, "group", T0))
            .await
            .unwrap();
        execute(db, "UPDATE bot_splits SET currency = 'usd!'").await;
        let error = store.split(&r("SPL001")).await.unwrap_err().to_string();
        assert!(error.contains("bot_splits.currency"), "{error}");
    }

    pub(crate) async fn corrupt_state_platform_and_handle_are_errors(
        db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        store
            .insert_request(&request("REQ001", alice, bob, None))
            .await
            .unwrap();
        execute(db, "UPDATE bot_requests SET state = 'haunted'").await;
        let error = store.request(&r("REQ001")).await.unwrap_err().to_string();
        assert!(error.contains("bot_requests.state"), "{error}");

        store
            .insert_payment(&payment("PAY001", alice, bob, 100))
            .await
            .unwrap();
        execute(db, "UPDATE bot_payments SET state = 'limbo'").await;
        let error = store.payment(&r("PAY001")).await.unwrap_err().to_string();
        assert!(error.contains("bot_payments.state"), "{error}");

        execute(
            db,
            "UPDATE bot_identities SET handle = 'not a handle!' WHERE platform_id = 'bob'",
        )
        .await;
        let error = store
            .identity(Platform::Mock, &pid("bob"))
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("bot_identities.handle"), "{error}");
        let error = store.identities_of(bob).await.unwrap_err().to_string();
        assert!(error.contains("bot_identities.handle"), "{error}");

        execute(
            db,
            "UPDATE bot_identities SET platform = 'myspace' WHERE platform_id = 'alice'",
        )
        .await;
        let error = store.identities_of(alice).await.unwrap_err().to_string();
        assert!(error.contains("bot_identities.platform"), "{error}");
    }

    pub(crate) async fn cards_are_linked_once_per_user_listed_and_removed(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let visa = store
            .insert_card(&card(alice, "4111111111111111", T0))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(visa.token.as_str(), "tok_1111");
        assert_eq!(visa.expiry, Expiry::new(2030, 12).unwrap());
        assert!(visa.id > 0);
        // The same card again for the same user: refused, whatever the time.
        assert!(
            store
                .insert_card(&card(alice, "4111111111111111", T0 + 5))
                .await
                .unwrap()
                .is_none()
        );
        // Another user may link it.
        assert!(
            store
                .insert_card(&card(bob, "4111111111111111", T0))
                .await
                .unwrap()
                .is_some()
        );
        let master = store
            .insert_card(&card(alice, "5555555555554444", T0 + 1))
            .await
            .unwrap()
            .unwrap();
        let listed = store.cards_of(alice).await.unwrap();
        assert_eq!(listed, vec![visa.clone(), master.clone()]);
        assert!(!store.remove_card(bob, visa.id).await.unwrap(), "not bob's");
        assert!(store.remove_card(alice, visa.id).await.unwrap());
        assert!(!store.remove_card(alice, visa.id).await.unwrap());
        assert_eq!(store.cards_of(alice).await.unwrap(), vec![master]);
    }

    pub(crate) async fn card_op_round_trips_idempotent_and_compare_and_swap(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let mut op = card_op("C00001", alice, CardOpKind::CashOut, T0);
        op.fee_minor = 25;
        let stored = store.insert_card_op(&op).await.unwrap();
        assert_eq!(stored.transfer_id, op.transfer_id);
        // A retry with another reference but the same transfer id.
        let mut again = op.clone();
        again.reference = r("C00002");
        let existing = store.insert_card_op(&again).await.unwrap();
        assert_eq!(existing.reference.as_str(), "C00001");

        let mut sent = stored.clone();
        sent.state = CardOpState::Pending;
        sent.initiated_at_ms = Some(T0 + 7);
        // The rail's texts, as the card adapter makes them (a status id
        // `push:ID:RRN`, an action code).
        sent.rail_reference = Some(RailReference::new("push:st_9:000000000123").unwrap());
        sent.decline_code = Some(DeclineCode::new("05").unwrap());
        sent.rail_attempts = 2;
        assert!(store.update_card_op(&sent).await.unwrap());
        assert!(
            !store.update_card_op(&sent).await.unwrap(),
            "stale revision"
        );
        let read = store.card_op(&r("C00001")).await.unwrap().unwrap();
        assert_eq!(read.revision, 1);
        assert_eq!(read.kind, CardOpKind::CashOut);
        assert_eq!(read.state, CardOpState::Pending);
        assert_eq!(read.initiated_at_ms, Some(T0 + 7));
        assert_eq!(read.rail_reference, sent.rail_reference);
        assert_eq!(read.decline_code, sent.decline_code);
        assert_eq!((read.rail_attempts, read.fee_minor), (2, 25));
        assert_eq!(read.token, op.token);
        assert_eq!(read.amount, op.amount);
    }

    pub(crate) async fn card_ops_due_and_awaiting(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let first = store
            .insert_card_op(&card_op("T00001", alice, CardOpKind::TopUp, T0))
            .await
            .unwrap();
        let second = store
            .insert_card_op(&card_op("T00002", alice, CardOpKind::TopUp, T0 + 10))
            .await
            .unwrap();
        let awaiting = store.card_ops_awaiting_code(alice).await.unwrap();
        let refs: Vec<&str> = awaiting.iter().map(|o| o.reference.as_str()).collect();
        assert_eq!(refs, vec!["T00002", "T00001"]);
        let mut done = first.clone();
        done.state = CardOpState::Completed;
        done.due_at_ms = None;
        assert!(store.update_card_op(&done).await.unwrap());
        let mut sent = second.clone();
        sent.state = CardOpState::Sent;
        sent.due_at_ms = Some(T0 + 20);
        assert!(store.update_card_op(&sent).await.unwrap());
        assert!(store.card_ops_due(T0 + 19, 10).await.unwrap().is_empty());
        let due = store.card_ops_due(T0 + 20, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].reference.as_str(), "T00002");
        assert!(
            store
                .card_ops_awaiting_code(alice)
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub(crate) async fn card_ops_in_flight_are_sent_or_pending(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        for (n, state) in [
            CardOpState::Pending,
            CardOpState::AwaitingCode,
            CardOpState::Sent,
            CardOpState::Completed,
            CardOpState::Declined,
        ]
        .into_iter()
        .enumerate()
        {
            let at = T0 + i64::try_from(n).unwrap();
            let op = store
                .insert_card_op(&card_op(&format!("T0000{n}"), alice, CardOpKind::TopUp, at))
                .await
                .unwrap();
            if state != CardOpState::AwaitingCode {
                let mut moved = op.clone();
                moved.state = state;
                assert!(store.update_card_op(&moved).await.unwrap());
            }
        }
        let mut bobs = card_op("C00009", bob, CardOpKind::CashOut, T0);
        bobs.state = CardOpState::Sent;
        store.insert_card_op(&bobs).await.unwrap();

        let in_flight = store.card_ops_in_flight(alice).await.unwrap();
        let refs: Vec<&str> = in_flight.iter().map(|o| o.reference.as_str()).collect();
        assert_eq!(
            refs,
            vec!["T00000", "T00002"],
            "sent or pending, oldest first"
        );
        let bobs: Vec<String> = store
            .card_ops_in_flight(bob)
            .await
            .unwrap()
            .iter()
            .map(|o| o.reference.to_string())
            .collect();
        assert_eq!(bobs, vec!["C00009"]);
        let mut done = in_flight[0].clone();
        done.state = CardOpState::Completed;
        assert!(store.update_card_op(&done).await.unwrap());
        assert_eq!(store.card_ops_in_flight(alice).await.unwrap().len(), 1);
    }

    pub(crate) async fn card_add_round_trips_idempotent_and_compare_and_swap(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let add = card_add("A00001", alice, "4111111111111111", T0);
        let stored = store.insert_card_add(&add).await.unwrap();
        assert_eq!(stored.add_id, add.add_id);
        assert_eq!(stored.platform, Platform::Telegram);
        assert_eq!(stored.token, add.token);
        assert_eq!((stored.brand, stored.last4), (add.brand, add.last4));
        assert_eq!(stored.expiry, add.expiry);
        assert_eq!(stored.fingerprint, add.fingerprint);
        assert_eq!(stored.due_at_ms, Some(T0 + 300_000));
        // A retry with another reference but the same id.
        let mut again = add.clone();
        again.reference = r("A00002");
        let existing = store.insert_card_add(&again).await.unwrap();
        assert_eq!(existing.reference.as_str(), "A00001");

        let mut wrong = stored.clone();
        wrong.challenge = stored.challenge.after_wrong();
        assert!(store.update_card_add(&wrong).await.unwrap());
        assert!(
            !store.update_card_add(&wrong).await.unwrap(),
            "stale revision"
        );
        let read = store.card_add(&r("A00001")).await.unwrap().unwrap();
        assert_eq!((read.revision, read.challenge.failed_attempts), (1, 1));
        assert!(store.card_add(&r("A00009")).await.unwrap().is_none());
    }

    pub(crate) async fn card_add_links_its_card_once(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let add = store
            .insert_card_add(&card_add("A00001", alice, "4111111111111111", T0))
            .await
            .unwrap();
        assert!(store.cards_of(alice).await.unwrap().is_empty(), "not yet");
        let CardAddLinked::Linked(card) = store.link_card_add(&add, T0 + 60_000).await.unwrap()
        else {
            panic!("not linked");
        };
        // The card's age counts from the link, not from the /card add.
        assert_eq!(card.created_at_ms, T0 + 60_000);
        assert_eq!(card.token, add.token);
        // The identity that confirmed the add is recorded as its adder.
        assert_eq!(card.added_by, Some((Platform::Telegram, pid("alice"))));
        assert_eq!(store.cards_of(alice).await.unwrap(), vec![card]);
        let read = store.card_add(&add.reference).await.unwrap().unwrap();
        assert_eq!((read.state, read.due_at_ms), (CardAddState::Linked, None));
        // The same record again (a racing confirm): nothing changes.
        assert_eq!(
            store.link_card_add(&add, T0 + 61_000).await.unwrap(),
            CardAddLinked::Changed
        );
        // Another add of the same card: marked linked, no second card.
        let twice = store
            .insert_card_add(&card_add("A00002", alice, "4111111111111111", T0))
            .await
            .unwrap();
        assert_eq!(
            store.link_card_add(&twice, T0 + 62_000).await.unwrap(),
            CardAddLinked::AlreadyLinked
        );
        assert_eq!(store.cards_of(alice).await.unwrap().len(), 1);
        // A cancelled add links nothing.
        let cancelled = store
            .insert_card_add(&card_add("A00003", alice, "5555555555554444", T0))
            .await
            .unwrap();
        let mut ended = cancelled.clone();
        ended.state = CardAddState::Cancelled;
        assert!(store.update_card_add(&ended).await.unwrap());
        assert_eq!(
            store.link_card_add(&cancelled, T0 + 63_000).await.unwrap(),
            CardAddLinked::Changed
        );
        assert_eq!(store.cards_of(alice).await.unwrap().len(), 1);
    }

    pub(crate) async fn card_adds_due_and_awaiting(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let first = store
            .insert_card_add(&card_add("A00001", alice, "4111111111111111", T0))
            .await
            .unwrap();
        store
            .insert_card_add(&card_add("A00002", alice, "5555555555554444", T0 + 10))
            .await
            .unwrap();
        store
            .insert_card_add(&card_add("A00003", bob, "4111111111111111", T0 + 20))
            .await
            .unwrap();
        let awaiting = store.card_adds_awaiting_code(alice).await.unwrap();
        let refs: Vec<&str> = awaiting.iter().map(|a| a.reference.as_str()).collect();
        assert_eq!(refs, vec!["A00002", "A00001"], "newest first, hers only");
        assert!(
            store
                .card_adds_due(T0 + 299_999, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let due = store.card_adds_due(T0 + 300_010, 10).await.unwrap();
        let refs: Vec<&str> = due.iter().map(|a| a.reference.as_str()).collect();
        assert_eq!(refs, vec!["A00001", "A00002"], "oldest due first");
        assert_eq!(store.card_adds_due(T0 + 400_000, 1).await.unwrap().len(), 1);
        let mut expired = first.clone();
        expired.state = CardAddState::Expired;
        expired.due_at_ms = None;
        assert!(store.update_card_add(&expired).await.unwrap());
        assert_eq!(
            store.card_adds_due(T0 + 400_000, 10).await.unwrap().len(),
            2
        );
        assert_eq!(store.card_adds_awaiting_code(alice).await.unwrap().len(), 1);
    }

    pub(crate) async fn card_records_awaiting_code_sees_ops_and_adds_of_that_user_only(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        assert!(!store.card_records_awaiting_code(alice).await.unwrap());
        assert_eq!(
            store.codes_awaited(alice).await.unwrap(),
            bot::store::CodesAwaited::default()
        );
        let add = store
            .insert_card_add(&card_add("A00001", alice, "4111111111111111", T0))
            .await
            .unwrap();
        assert!(store.card_records_awaiting_code(alice).await.unwrap());
        assert!(store.codes_awaited(alice).await.unwrap().cards);
        assert!(
            !store.card_records_awaiting_code(bob).await.unwrap(),
            "hers only"
        );
        let mut expired = add.clone();
        expired.state = CardAddState::Expired;
        expired.due_at_ms = None;
        assert!(store.update_card_add(&expired).await.unwrap());
        assert!(!store.card_records_awaiting_code(alice).await.unwrap());
        assert_eq!(
            store.codes_awaited(alice).await.unwrap(),
            bot::store::CodesAwaited::default()
        );
        let op = store
            .insert_card_op(&card_op("T00001", alice, CardOpKind::TopUp, T0))
            .await
            .unwrap();
        assert!(store.card_records_awaiting_code(alice).await.unwrap());
        assert!(store.codes_awaited(alice).await.unwrap().cards);
        let mut done = op.clone();
        done.state = CardOpState::Completed;
        done.due_at_ms = None;
        assert!(store.update_card_op(&done).await.unwrap());
        assert!(!store.card_records_awaiting_code(alice).await.unwrap());
        assert_eq!(
            store.codes_awaited(alice).await.unwrap(),
            bot::store::CodesAwaited::default()
        );
    }

    pub(crate) async fn requests_since_counts_each_side_in_the_window(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let carol = user(&store, "carol").await;
        for (n, (requester, payer, at)) in [
            (alice, bob, T0),
            (alice, carol, T0 + 10),
            (alice, bob, T0 + 20),
            (carol, bob, T0 + 30),
        ]
        .into_iter()
        .enumerate()
        {
            let mut made = request(&format!("R0000{n}"), requester, payer, None);
            made.created_at_ms = at;
            store.insert_request(&made).await.unwrap();
        }
        let since = |user, side, since_ms, limit| {
            let store = Arc::clone(&store);
            async move {
                store
                    .requests_since(user, side, since_ms, limit)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            since(alice, RequestSide::Made, T0 - 1, 10).await,
            vec![T0, T0 + 10, T0 + 20]
        );
        // After `since_ms`, not at it; oldest first; at most `limit`.
        assert_eq!(
            since(alice, RequestSide::Made, T0, 10).await,
            vec![T0 + 10, T0 + 20]
        );
        assert_eq!(
            since(alice, RequestSide::Made, T0 - 1, 2).await,
            vec![T0, T0 + 10]
        );
        assert_eq!(
            since(bob, RequestSide::Received, T0 - 1, 10).await,
            vec![T0, T0 + 20, T0 + 30]
        );
        assert!(since(bob, RequestSide::Made, T0 - 1, 10).await.is_empty());
        assert!(
            since(alice, RequestSide::Received, T0 - 1, 10)
                .await
                .is_empty()
        );
    }

    /// `open_event` answers as `event_outcome` then `upsert_identity` would.
    pub(crate) async fn open_event_gives_the_outcome_or_the_sender_seen(
        db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let p = Platform::Mock;
        let speaking = seen(p, "dana", Some("dana"), true);
        // Someone new: seen, with their first contact.
        let OpenedEvent::New(SenderSeen {
            identity: sender,
            first_contact,
            ..
        }) = store.open_event(&ev("m1"), &speaking, T0).await.unwrap()
        else {
            panic!("a new event");
        };
        assert!(first_contact);
        assert!(sender.started);
        assert_eq!(
            store.identity(p, &pid("dana")).await.unwrap(),
            Some(sender.clone())
        );
        // Known and unchanged: the same identity, no first contact.
        let OpenedEvent::New(SenderSeen {
            identity: again,
            first_contact,
            tier,
            awaiting,
            payee,
        }) = store
            .open_event(&ev("m2"), &speaking, T0 + 1)
            .await
            .unwrap()
        else {
            panic!("a new event");
        };
        assert!(!first_contact);
        assert_eq!(again.user, sender.user);
        assert!(awaiting.is_none(), "read by open_confirm_event only");
        assert!(payee.is_none(), "read by open_pay_event only");
        // Their tier comes with them: never set, then as set.
        assert_eq!(tier, Some(None));
        let three = Tier::new(3).unwrap();
        store
            .set_tier(&TierRecord {
                user: sender.user,
                tier: three,
                reason: "checked".to_owned(),
                actor: Actor::System,
                set_at_ms: T0,
            })
            .await
            .unwrap();
        let OpenedEvent::New(SenderSeen { tier, .. }) = store
            .open_event(&ev("m2b"), &speaking, T0 + 1)
            .await
            .unwrap()
        else {
            panic!("a new event");
        };
        assert_eq!(tier, Some(Some(three)));
        // A changed handle is recorded.
        let renamed = seen(p, "dana", Some("dana2"), true);
        let OpenedEvent::New(SenderSeen {
            identity: renamed, ..
        }) = store.open_event(&ev("m3"), &renamed, T0 + 2).await.unwrap()
        else {
            panic!("a new event");
        };
        assert_eq!(renamed.handle, Some(handle("dana2")));
        assert_eq!(renamed.user, sender.user);
        // A handled event gives its outcome back, whoever sends it again.
        finish(db, &store, p, "m1", "paid", T0 + 3).await;
        let replay = store
            .open_event(&ev("m1"), &speaking, T0 + 4)
            .await
            .unwrap();
        assert!(matches!(replay, OpenedEvent::Handled(ref o) if o == "paid"));
        // Of a sender never recorded too; nothing of them is recorded then.
        let stranger = seen(p, "erin", Some("erin"), true);
        let replay = store
            .open_event(&ev("m1"), &stranger, T0 + 5)
            .await
            .unwrap();
        assert!(matches!(replay, OpenedEvent::Handled(ref o) if o == "paid"));
        assert_eq!(store.identity(p, &pid("erin")).await.unwrap(), None);
        // The same event id on another platform is another event.
        let elsewhere = seen(Platform::Telegram, "dana", Some("dana"), true);
        assert!(matches!(
            store
                .open_event(&ev("m1"), &elsewhere, T0 + 6)
                .await
                .unwrap(),
            OpenedEvent::New(SenderSeen {
                first_contact: true,
                ..
            })
        ));
        // Someone only mentioned before speaks: their first contact.
        store
            .upsert_identity(&seen(p, "fay", Some("fay"), false), T0)
            .await
            .unwrap();
        assert!(matches!(
            store
                .open_event(&ev("m4"), &seen(p, "fay", Some("fay"), true), T0 + 7)
                .await
                .unwrap(),
            OpenedEvent::New(SenderSeen {
                first_contact: true,
                ..
            })
        ));
    }

    /// `open_confirm_event` is `open_event` and, for a sender known and
    /// unchanged, `awaiting_code` of them.
    pub(crate) async fn open_confirm_event_gives_what_awaits_the_code_too(
        db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let p = Platform::Mock;
        let bob = user(&store, "bob").await;
        let speaking = seen(p, "dana", Some("dana"), true);
        // Someone new: seen, with their first contact; nothing read with them.
        let OpenedEvent::New(SenderSeen {
            identity: dana,
            first_contact: true,
            awaiting: None,
            ..
        }) = store
            .open_confirm_event(&ev("c1"), &speaking, T0)
            .await
            .unwrap()
        else {
            panic!("a new sender");
        };
        assert_eq!(
            store.identity(p, &pid("dana")).await.unwrap(),
            Some(dana.clone())
        );
        let same_as_apart = async |event: &str, at: i64| {
            let OpenedEvent::New(SenderSeen {
                identity,
                first_contact: false,
                tier: Some(None),
                awaiting: Some(awaiting),
                payee: None,
            }) = store
                .open_confirm_event(&ev(event), &speaking, at)
                .await
                .unwrap()
            else {
                panic!("a known sender, read with what awaits their code");
            };
            assert_eq!(identity, dana);
            let apart = store.awaiting_code(dana.user).await.unwrap();
            assert_eq!(format!("{awaiting:?}"), format!("{apart:?}"));
            awaiting
        };
        // Nothing waits.
        let none = same_as_apart("c2", T0 + 1).await;
        assert!(none.payments.is_empty());
        assert_eq!(none.others, bot::store::CodesAwaited::default());
        // Two payments and a card add wait; another's and a completed one
        // do not count.
        for (reference, payer, state, created) in [
            ("DAN001", dana.user, PaymentState::AwaitingCode, T0),
            ("DAN002", dana.user, PaymentState::AwaitingCode, T0 + 5),
            ("DAN003", dana.user, PaymentState::Completed, T0 + 9),
            ("BOB001", bob, PaymentState::AwaitingCode, T0 + 9),
        ] {
            let record = Payment {
                state,
                created_at_ms: created,
                payee: Payee::User {
                    user: bob,
                    platform: p,
                    id: pid("bob"),
                },
                ..payment(reference, payer, bob, 100)
            };
            store.insert_payment(&record).await.unwrap();
        }
        store
            .insert_card_add(&card_add("A00003", dana.user, "4111111111111111", T0))
            .await
            .unwrap();
        let two = same_as_apart("c3", T0 + 2).await;
        assert_eq!(refs(&two.payments), ["DAN002", "DAN001"]);
        assert_eq!(two.payees_now.len(), 2);
        assert!(two.payees_now.iter().all(|now| now.user == Some(bob)));
        assert!(two.others.cards);
        // A changed sender is recorded; what awaits is left to its own read.
        let renamed = seen(p, "dana", Some("dana2"), true);
        let OpenedEvent::New(SenderSeen {
            identity,
            awaiting: None,
            ..
        }) = store
            .open_confirm_event(&ev("c4"), &renamed, T0 + 3)
            .await
            .unwrap()
        else {
            panic!("a new event");
        };
        assert_eq!(identity.handle, Some(handle("dana2")));
        // A handled event gives its outcome back.
        finish(db, &store, p, "c3", "confirmed", T0 + 4).await;
        let replay = store
            .open_confirm_event(&ev("c3"), &renamed, T0 + 5)
            .await
            .unwrap();
        assert!(matches!(replay, OpenedEvent::Handled(ref o) if o == "confirmed"));
    }

    /// `awaiting_code` is `payments_awaiting_code` and `codes_awaited`.
    pub(crate) async fn awaiting_code_is_both_reads_in_one(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let none = store.awaiting_code(alice).await.unwrap();
        assert!(none.payments.is_empty());
        assert_eq!(none.others, bot::store::CodesAwaited::default());
        // A card add only: its flag, no payment.
        store
            .insert_card_add(&card_add("A00002", alice, "4111111111111111", T0))
            .await
            .unwrap();
        let card_only = store.awaiting_code(alice).await.unwrap();
        assert!(card_only.payments.is_empty());
        assert!(card_only.others.cards);
        for (reference, payer, state, created) in [
            ("AWA001", alice, PaymentState::AwaitingCode, T0),
            ("AWA002", alice, PaymentState::AwaitingCode, T0 + 5),
            ("AWA003", alice, PaymentState::Completed, T0 + 9),
            ("BOB001", bob, PaymentState::AwaitingCode, T0 + 9),
            ("AWA004", alice, PaymentState::AwaitingCode, T0 + 5),
        ] {
            let p = Payment {
                state,
                created_at_ms: created,
                ..payment(reference, payer, bob, 100)
            };
            store.insert_payment(&p).await.unwrap();
        }
        let both = store.awaiting_code(alice).await.unwrap();
        assert_eq!(refs(&both.payments), ["AWA004", "AWA002", "AWA001"]);
        let apart = store.payments_awaiting_code(alice).await.unwrap();
        assert_eq!(format!("{:?}", both.payments), format!("{apart:?}"));
        assert_eq!(both.others, store.codes_awaited(alice).await.unwrap());
        assert!(both.others.cards);
        let bobs = store.awaiting_code(bob).await.unwrap();
        assert_eq!(refs(&bobs.payments), ["BOB001"]);
        assert_eq!(
            bobs.others,
            bot::store::CodesAwaited::default(),
            "hers only"
        );
    }

    /// `payee_facts` is `identities_with_skeleton` and `has_paid_before`.
    pub(crate) async fn payee_facts_are_both_reads_in_one(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let p = Platform::Mock;
        let facts = store.payee_facts(p, "b0b", 8, alice, bob).await.unwrap();
        assert!(facts.look_alikes.is_empty());
        assert!(!facts.paid_before);
        for (i, id) in ["a", "b", "c", "d"].into_iter().enumerate() {
            let sighting = SeenUser {
                skeleton: Some("b0b".to_owned()),
                ..seen(p, id, Some(&format!("bob{id}")), false)
            };
            store
                .upsert_identity(&sighting, T0 + i as i64)
                .await
                .unwrap();
        }
        let two = store.payee_facts(p, "b0b", 2, alice, bob).await.unwrap();
        assert_eq!(ids(&two.look_alikes), ["d", "c"]);
        assert!(!two.paid_before);
        let pending = payment("PAY001", alice, bob, 100);
        store.insert_payment(&pending).await.unwrap();
        let completed = Payment {
            state: PaymentState::Completed,
            due_at_ms: None,
            ..store.payment(&r("PAY001")).await.unwrap().unwrap()
        };
        assert!(store.update_payment(&completed).await.unwrap());
        let all = store.payee_facts(p, "b0b", 10, alice, bob).await.unwrap();
        assert_eq!(ids(&all.look_alikes), ["d", "c", "b", "a"]);
        assert!(all.paid_before);
        // No look-alike: the answer still comes back.
        let alone = store.payee_facts(p, "zzz", 10, alice, bob).await.unwrap();
        assert!(alone.look_alikes.is_empty());
        assert!(alone.paid_before);
        let reverse = store.payee_facts(p, "b0b", 10, bob, alice).await.unwrap();
        assert!(!reverse.paid_before, "one direction only");
        assert_eq!(
            reverse.look_alikes,
            store.identities_with_skeleton(p, "b0b", 10).await.unwrap()
        );
    }

    /// `see_payee` is `upsert_identity` of a mention then `payee_facts`
    /// about the user that gives: a payee known and unchanged, new,
    /// renamed, or without a handle (no facts).
    pub(crate) async fn see_payee_is_the_sighting_and_the_facts_in_one(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let p = Platform::Mock;
        let facts_of = async |payee: UserId, skeleton: &str| {
            let facts = store
                .payee_facts(p, skeleton, 8, alice, payee)
                .await
                .unwrap();
            format!("{facts:?}")
        };
        // Known and unchanged: the same identity, nothing written.
        let bob_seen = store.identity(p, &pid("bob")).await.unwrap().unwrap();
        let mention = seen(p, "bob", Some("bob"), false);
        let (identity, facts) = store.see_payee(&mention, 8, alice, T0 + 1).await.unwrap();
        assert_eq!(identity, bob_seen);
        assert_eq!(
            format!("{:?}", facts.unwrap()),
            facts_of(bob, "sk:bob").await
        );
        // Look-alikes, a completed payment, a waiting one and a tier: as
        // `payee_facts` reads them.
        give_payee_facts(&store, alice, bob, "SEE").await;
        let (identity, facts) = store.see_payee(&mention, 8, alice, T0 + 3).await.unwrap();
        assert_eq!(identity, bob_seen);
        let facts = facts.unwrap();
        assert!(facts.paid_before);
        assert_eq!(facts.payer_waiting, 1);
        assert_eq!(facts.payee_tier, Some(Tier::new(2).unwrap()));
        assert_eq!(ids(&facts.look_alikes), ["bob2", "bob"]);
        assert_eq!(format!("{facts:?}"), facts_of(bob, "sk:bob").await);
        let (_, reverse) = store
            .see_payee(&seen(p, "alice", Some("alice"), false), 8, bob, T0 + 3)
            .await
            .unwrap();
        assert!(!reverse.unwrap().paid_before, "one direction only");
        // New: recorded (a mention is not a first contact), a user of its own.
        let carol_mention = seen(p, "carol", Some("carol"), false);
        let (carol, facts) = store
            .see_payee(&carol_mention, 8, alice, T0 + 4)
            .await
            .unwrap();
        assert_eq!(
            store.identity(p, &pid("carol")).await.unwrap(),
            Some(carol.clone())
        );
        assert!(!carol.started);
        assert_ne!(carol.user, bob);
        let facts = facts.unwrap();
        assert!(!facts.paid_before);
        assert_eq!(ids(&facts.look_alikes), ["carol"]);
        // Renamed: the new handle recorded, the facts by its skeleton.
        let renamed = seen(p, "bob", Some("robert"), false);
        let (identity, facts) = store.see_payee(&renamed, 8, alice, T0 + 5).await.unwrap();
        assert_eq!(identity.handle, Some(handle("robert")));
        assert_eq!(identity.user, bob);
        assert_eq!(
            store.identity(p, &pid("bob")).await.unwrap(),
            Some(identity)
        );
        let facts = facts.unwrap();
        assert!(facts.paid_before);
        assert_eq!(ids(&facts.look_alikes), ["bob"]);
        // No handle: seen, and no facts to read by a skeleton.
        let (identity, facts) = store
            .see_payee(&seen(p, "dave", None, false), 8, alice, T0 + 6)
            .await
            .unwrap();
        assert_eq!(identity.handle, None);
        assert!(facts.is_none());
    }

    /// `open_pay_event` is `open_event` and, for a sender and a payee
    /// both known and unchanged, `see_payee` of the payee for the sender;
    /// a payee new, changed or without a handle is not read, and nothing
    /// of them is written.
    pub(crate) async fn open_pay_event_reads_a_known_payee_with_the_sender(
        db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let p = Platform::Mock;
        let speaking = seen(p, "alice", Some("alice"), true);
        let mention = seen(p, "bob", Some("bob"), false);
        let open = async |event: &str, sender: &SeenUser, payee: &SeenUser, at: i64| match store
            .open_pay_event(&ev(event), sender, payee, 8, at)
            .await
            .unwrap()
        {
            OpenedEvent::New(sender) => sender,
            OpenedEvent::Handled(outcome) => panic!("a new event, not {outcome:?}"),
        };
        // Both known and unchanged: the payee as `see_payee` gives them.
        let sender = open("p1", &speaking, &mention, T0 + 1).await;
        assert_eq!(sender.identity.user, alice);
        assert!(!sender.first_contact);
        assert_eq!(sender.tier, Some(None));
        let payee = sender.payee.expect("read with the sender");
        let (bob_seen, facts) = store.see_payee(&mention, 8, alice, T0 + 1).await.unwrap();
        assert_eq!(payee.identity, bob_seen);
        assert_eq!(
            format!("{:?}", payee.facts),
            format!("{:?}", facts.unwrap())
        );
        // Look-alikes, a completed payment, a waiting one and a tier: as
        // `see_payee` reads them, for this sender.
        give_payee_facts(&store, alice, bob, "OPE").await;
        let payee = open("p2", &speaking, &mention, T0 + 3)
            .await
            .payee
            .expect("read with the sender");
        assert!(payee.facts.paid_before);
        assert_eq!(payee.facts.payer_waiting, 1);
        assert_eq!(payee.facts.payee_tier, Some(Tier::new(2).unwrap()));
        assert_eq!(ids(&payee.facts.look_alikes), ["bob2", "bob"]);
        let (_, facts) = store.see_payee(&mention, 8, alice, T0 + 3).await.unwrap();
        assert_eq!(
            format!("{:?}", payee.facts),
            format!("{:?}", facts.unwrap())
        );
        // The facts are the sender's: bob paying alice never paid her.
        let bob_speaking = seen(p, "bob", Some("bob"), true);
        let alice_mention = seen(p, "alice", Some("alice"), false);
        let payee = open("p3", &bob_speaking, &alice_mention, T0 + 3)
            .await
            .payee
            .expect("read with the sender");
        assert_eq!(payee.identity.user, alice);
        assert!(!payee.facts.paid_before);
        assert_eq!(payee.facts.payer_waiting, 0);
        // A payee never seen: not read, and not recorded here.
        let carol = seen(p, "carol", Some("carol"), false);
        let sender = open("p4", &speaking, &carol, T0 + 4).await;
        assert_eq!(sender.identity.user, alice);
        assert!(sender.payee.is_none());
        assert_eq!(store.identity(p, &pid("carol")).await.unwrap(), None);
        // A payee renamed: not read, and not written here.
        let renamed = seen(p, "bob", Some("robert"), false);
        assert!(
            open("p5", &speaking, &renamed, T0 + 5)
                .await
                .payee
                .is_none()
        );
        assert_eq!(
            store
                .identity(p, &pid("bob"))
                .await
                .unwrap()
                .unwrap()
                .handle,
            Some(handle("bob"))
        );
        // A payee without a handle: nothing to read the facts by.
        let no_handle = seen(p, "bob", None, false);
        assert!(
            open("p6", &speaking, &no_handle, T0 + 6)
                .await
                .payee
                .is_none()
        );
        // A sender new or changed: recorded as `open_event` records them,
        // and the payee left to `/pay`.
        let dana = seen(p, "dana", Some("dana"), true);
        let sender = open("p7", &dana, &mention, T0 + 7).await;
        assert!(sender.first_contact);
        assert!(sender.payee.is_none());
        assert_eq!(
            store.identity(p, &pid("dana")).await.unwrap(),
            Some(sender.identity)
        );
        let alice_renamed = seen(p, "alice", Some("alicia"), true);
        let sender = open("p8", &alice_renamed, &mention, T0 + 8).await;
        assert_eq!(sender.identity.handle, Some(handle("alicia")));
        assert!(sender.payee.is_none());
        // A handled event gives its outcome back, and reads nothing else.
        finish(db, &store, p, "p1", "paid", T0 + 9).await;
        let replay = store
            .open_pay_event(&ev("p1"), &alice_renamed, &mention, 8, T0 + 10)
            .await
            .unwrap();
        assert!(matches!(replay, OpenedEvent::Handled(ref o) if o == "paid"));
    }

    /// `payee_facts` gives the payee's tier as `tier_of` reads it, with
    /// look-alikes or without, and never another user's.
    pub(crate) async fn payee_facts_give_the_payees_tier(_db: &TestDb, store: Arc<SqlStore>) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let p = Platform::Mock;
        let set = async |user: UserId, tier: u8| {
            store
                .set_tier(&TierRecord {
                    user,
                    tier: Tier::new(tier).unwrap(),
                    reason: "checked".to_owned(),
                    actor: Actor::System,
                    set_at_ms: T0,
                })
                .await
                .unwrap();
        };
        // Never set: none, with look-alikes or without.
        let alone = store.payee_facts(p, "zzz", 8, alice, bob).await.unwrap();
        assert_eq!(alone.payee_tier, None);
        let bobs = store.payee_facts(p, "sk:bob", 8, alice, bob).await.unwrap();
        assert_eq!(ids(&bobs.look_alikes), ["bob"]);
        assert_eq!(bobs.payee_tier, None);
        // The payer's tier is not the payee's.
        set(alice, 2).await;
        let facts = store.payee_facts(p, "sk:bob", 8, alice, bob).await.unwrap();
        assert_eq!(facts.payee_tier, None);
        // As set, on every row: several look-alikes, or none.
        set(bob, 3).await;
        store
            .upsert_identity(&seen(p, "b0b", Some("b0b"), false), T0 + 1)
            .await
            .unwrap();
        store
            .upsert_identity(
                &SeenUser {
                    skeleton: Some("sk:bob".to_owned()),
                    ..seen(p, "b0b", Some("b0b"), false)
                },
                T0 + 2,
            )
            .await
            .unwrap();
        for skeleton in ["sk:bob", "zzz"] {
            let facts = store.payee_facts(p, skeleton, 8, alice, bob).await.unwrap();
            assert_eq!(facts.payee_tier, Tier::new(3), "{skeleton}");
            assert_eq!(
                facts.payee_tier,
                store.tier_of(bob).await.unwrap().map(|record| record.tier)
            );
        }
        let both = store.payee_facts(p, "sk:bob", 8, alice, bob).await.unwrap();
        assert_eq!(ids(&both.look_alikes), ["b0b", "bob"]);
        // Set again: the latest.
        set(bob, 1).await;
        let facts = store.payee_facts(p, "sk:bob", 8, alice, bob).await.unwrap();
        assert_eq!(facts.payee_tier, Tier::new(1));
        let reverse = store.payee_facts(p, "sk:bob", 8, bob, alice).await.unwrap();
        assert_eq!(reverse.payee_tier, Tier::new(2));
    }

    /// `awaiting_code` gives, for each payment to a user, whose wallet its
    /// payee account is part of now, as `identity` reads it: after a
    /// `/link` (`move_identity`) the new one.
    pub(crate) async fn awaiting_code_gives_where_each_payee_account_is_now(
        _db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let payee = user(&store, "payee").await;
        let carol = user(&store, "carol").await;
        let none = store.awaiting_code(alice).await.unwrap();
        assert!(none.payees_now.is_empty());
        // To the account `payee`, to an account never seen, to a handle
        // nobody has claimed (not listed: not a user), and one not waiting.
        let to_payee = payment("AWN001", alice, payee, 100);
        let to_stranger = Payment {
            payee: Payee::User {
                user: payee,
                platform: Platform::Mock,
                id: pid("stranger"),
            },
            created_at_ms: T0 + 1,
            ..payment("AWN002", alice, payee, 100)
        };
        let to_handle = Payment {
            state: PaymentState::AwaitingCode,
            created_at_ms: T0 + 2,
            ..escrow_payment("AWN003", alice, "dave", T0 + 2)
        };
        let done = Payment {
            state: PaymentState::Completed,
            due_at_ms: None,
            ..payment("AWN004", alice, payee, 100)
        };
        for p in [&to_payee, &to_stranger, &to_handle, &done] {
            store.insert_payment(p).await.unwrap();
        }
        let now = |user: Option<UserId>, reference: &str| PayeeNow {
            reference: r(reference),
            user,
        };
        let read = store.awaiting_code(alice).await.unwrap();
        assert_eq!(refs(&read.payments), ["AWN003", "AWN002", "AWN001"]);
        assert_eq!(
            read.payees_now,
            [now(None, "AWN002"), now(Some(payee), "AWN001")]
        );
        assert_eq!(
            read.payee_now(&r("AWN001")),
            Some(&now(Some(payee), "AWN001"))
        );
        assert_eq!(read.payee_now(&r("AWN003")), None, "not a user");
        assert_eq!(read.payee_now(&r("AWN004")), None, "not waiting");
        // The account joins carol's wallet: the next read says so.
        store
            .move_identity(Platform::Mock, &pid("payee"), carol, T0 + 3)
            .await
            .unwrap();
        let moved = store.awaiting_code(alice).await.unwrap();
        assert_eq!(
            moved.payee_now(&r("AWN001")),
            Some(&now(Some(carol), "AWN001"))
        );
        let read_apart = store
            .identity(Platform::Mock, &pid("payee"))
            .await
            .unwrap()
            .map(|i| i.user);
        assert_eq!(read_apart, Some(carol));
        // The account seen since: its user.
        let stranger = user(&store, "stranger").await;
        let seen_since = store.awaiting_code(alice).await.unwrap();
        assert_eq!(
            seen_since.payee_now(&r("AWN002")),
            Some(&now(Some(stranger), "AWN002"))
        );
        // The rest of the read is as before.
        assert_eq!(
            format!("{:?}", seen_since.payments),
            format!("{:?}", store.payments_awaiting_code(alice).await.unwrap())
        );
        assert!(
            store
                .awaiting_code(payee)
                .await
                .unwrap()
                .payees_now
                .is_empty()
        );
    }

    /// `payee_facts` counts the payer's payments waiting for their code,
    /// the legs of one payment to several people once, as the bot counts
    /// them from `payments_awaiting_code` and `pay_group`.
    pub(crate) async fn payee_facts_count_the_payers_waiting_payments_a_group_once(
        db: &TestDb,
        store: Arc<SqlStore>,
    ) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let p = Platform::Mock;
        let waiting = async || {
            let facts = store.payee_facts(p, "zzz", 8, alice, bob).await.unwrap();
            let with_look_alike = store.payee_facts(p, "sk:bob", 8, alice, bob).await.unwrap();
            assert_eq!(with_look_alike.payer_waiting, facts.payer_waiting);
            assert_eq!(
                store.payments_waiting(alice).await.unwrap(),
                facts.payer_waiting
            );
            facts.payer_waiting
        };
        // What the bot counts from the two reads it replaces.
        let counted_apart = async || {
            let mut groups = Vec::new();
            let mut singles = 0_u64;
            for payment in store.payments_awaiting_code(alice).await.unwrap() {
                match store.pay_group(&payment.reference).await.unwrap() {
                    Some(group) if !groups.contains(&group.reference) => {
                        groups.push(group.reference)
                    }
                    Some(_) => {}
                    None => singles += 1,
                }
            }
            singles + groups.len() as u64
        };
        assert_eq!(waiting().await, 0);
        let complete = async |reference: &str| {
            let stored = store.payment(&r(reference)).await.unwrap().unwrap();
            let done = Payment {
                state: PaymentState::Completed,
                due_at_ms: None,
                ..stored
            };
            assert!(store.update_payment(&done).await.unwrap());
        };
        // Two single payments (one done), bob's own, and three groups: two
        // legs waiting, one leg waiting, one leg done.
        for (reference, payer) in [
            ("SIN001", alice),
            ("SIN002", alice),
            ("BOB001", bob),
            ("MLG001", alice),
            ("MLG002", alice),
            ("MLG003", alice),
            ("MLG004", alice),
        ] {
            store
                .insert_payment(&payment(reference, payer, bob, 100))
                .await
                .unwrap();
        }
        complete("SIN002").await;
        let mut records = Vec::new();
        for (group, leg, position) in [
            ("GRP001", "MLG001", 0),
            ("GRP001", "MLG002", 1),
            ("GRP002", "MLG003", 0),
            ("GRP003", "MLG004", 0),
        ] {
            records.push(
                store
                    .group_leg_write(&r(group), &r(leg), position, alice, T0)
                    .unwrap(),
            );
        }
        let unit = Unit {
            transfers: vec![reservation(db, 100).await],
            outbox: Vec::new(),
            records,
        };
        db.ledger.commit(unit).await.unwrap();
        complete("MLG004").await;
        // SIN001, GRP001 (two legs, once), GRP002.
        assert_eq!(waiting().await, 3);
        assert_eq!(counted_apart().await, 3);
        // One leg of GRP001 done: the group still waits, once.
        complete("MLG001").await;
        assert_eq!(waiting().await, 3);
        assert_eq!(counted_apart().await, 3);
        complete("MLG002").await;
        complete("SIN001").await;
        assert_eq!(waiting().await, 1);
        assert_eq!(counted_apart().await, 1);
        // Bob's, as his.
        let bobs = store.payee_facts(p, "zzz", 8, bob, alice).await.unwrap();
        assert_eq!(bobs.payer_waiting, 1);
    }
}
