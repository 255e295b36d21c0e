//! The store's part of the fraud and velocity rules (`RulesStore`), on
//! SQLite and on PostgreSQL, in a fresh, migrated database each.
// Test code throughout, helpers too (see clippy.toml).
#![cfg(test)]

mod common;

use std::sync::Arc;

use bot::command::ShortRef;
use bot::message::{Handle, Platform, PlatformUserId};
use bot::otp::{OtpChallenge, OtpHash};
use bot::store::{Payee, Payment, PaymentState, SeenUser, Store, UserId};
use bot::trust::rules::{NewPayee, RulesStore};
use common::run;
use ledger::testing::{CLOCK_START_MS, TestBackend};
use ledger::{Amount, Currency, TransferId};
use paybot_store::SqlStore;

const T0: i64 = CLOCK_START_MS;
const MIN: i64 = 60_000;

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $case() {
                super::run(super::TestBackend::Sqlite, super::$case).await
            })*
        }
        mod postgres {
            $(#[tokio::test] async fn $case() {
                super::run(super::TestBackend::Postgres, super::$case).await
            })*
        }
    };
}

conformance!(
    payments_made_since_lists_money_that_left_newest_first,
    payees_first_paid_since_are_the_new_ones,
);

async fn user(store: &SqlStore, id: &str) -> UserId {
    let seen = SeenUser {
        platform: Platform::Mock,
        id: PlatformUserId::new(id).unwrap(),
        handle: Some(Handle::parse(id).unwrap()),
        skeleton: None,
        display_name: id.to_owned(),
        speaking: true,
        direct: false,
    };
    store.upsert_identity(&seen, T0).await.unwrap().0.user
}

/// A payment of `minor` cents from `payer` to `payee` (escrow when `None`),
/// created at `at_ms`, in `state`.
fn payment(
    reference: &str,
    payer: UserId,
    payee: Option<UserId>,
    minor: i64,
    at_ms: i64,
    state: PaymentState,
) -> Payment {
    let payee = match payee {
        Some(user) => Payee::User {
            user,
            platform: Platform::Mock,
            id: PlatformUserId::new(format!("u{}", user.0)).unwrap(),
        },
        None => Payee::Unclaimed {
            platform: Platform::Mock,
            handle: Handle::parse("nobody").unwrap(),
        },
    };
    Payment {
        reference: ShortRef::parse(reference).unwrap(),
        transfer_id: TransferId::random(),
        payer,
        payer_platform: Platform::Mock,
        payer_id: PlatformUserId::new("payer").unwrap(),
        payee,
        payee_label: "@payee".to_owned(),
        amount: Amount::from_minor(minor, Currency::USD).unwrap(),
        memo: None,
        request: None,
        origin_chat: None,
        challenge: OtpChallenge::new(OtpHash::from_bytes(&[7; 32]).unwrap(), at_ms),
        review: bot::trust::Review::None,
        state,
        due_at_ms: None,
        created_at_ms: at_ms,
        updated_at_ms: at_ms,
        revision: 0,
    }
}

async fn payments_made_since_lists_money_that_left_newest_first(store: Arc<SqlStore>) {
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    let rows = [
        ("P00001", alice, Some(bob), 100, T0, PaymentState::Completed),
        ("P00002", alice, None, 200, T0 + MIN, PaymentState::Escrowed),
        (
            "P00003",
            alice,
            Some(bob),
            300,
            T0 + 2 * MIN,
            PaymentState::Claimed,
        ),
        (
            "P00004",
            alice,
            None,
            400,
            T0 + 3 * MIN,
            PaymentState::Refunded,
        ),
        // Money that never left.
        (
            "P00005",
            alice,
            Some(bob),
            500,
            T0 + 4 * MIN,
            PaymentState::AwaitingCode,
        ),
        (
            "P00006",
            alice,
            Some(bob),
            600,
            T0 + 4 * MIN,
            PaymentState::Cancelled,
        ),
        (
            "P00007",
            alice,
            Some(bob),
            700,
            T0 + 4 * MIN,
            PaymentState::Expired,
        ),
        (
            "P00008",
            alice,
            Some(bob),
            800,
            T0 + 4 * MIN,
            PaymentState::LockedOut,
        ),
        (
            "P00009",
            alice,
            Some(bob),
            900,
            T0 + 4 * MIN,
            PaymentState::Leaked,
        ),
        // Someone else's.
        (
            "P00010",
            bob,
            Some(alice),
            1_000,
            T0 + 4 * MIN,
            PaymentState::Completed,
        ),
    ];
    for (reference, payer, payee, minor, at, state) in rows {
        store
            .insert_payment(&payment(reference, payer, payee, minor, at, state))
            .await
            .unwrap();
    }
    let made = store.payments_made_since(alice, T0 - 1, 100).await.unwrap();
    let amounts: Vec<i64> = made.iter().map(|p| p.amount.minor()).collect();
    assert_eq!(amounts, [400, 300, 200, 100]);
    assert_eq!(made[0].at_ms, T0 + 3 * MIN);
    assert_eq!(made[0].payee, None);
    assert_eq!(made[1].payee, Some(bob));
    // The window excludes its start; the limit keeps the newest.
    let made = store.payments_made_since(alice, T0, 100).await.unwrap();
    assert_eq!(made.len(), 3);
    let made = store.payments_made_since(alice, T0 - 1, 2).await.unwrap();
    let amounts: Vec<i64> = made.iter().map(|p| p.amount.minor()).collect();
    assert_eq!(amounts, [400, 300]);
}

async fn payees_first_paid_since_are_the_new_ones(store: Arc<SqlStore>) {
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    let carol = user(&store, "carol").await;
    let dave = user(&store, "dave").await;
    let erin = user(&store, "erin").await;
    let rows = [
        // Bob was paid long ago and again now: not new.
        ("P00001", Some(bob), T0, PaymentState::Completed),
        ("P00002", Some(bob), T0 + 60 * MIN, PaymentState::Completed),
        // Carol first now (twice), Dave by a claim.
        (
            "P00003",
            Some(carol),
            T0 + 61 * MIN,
            PaymentState::Completed,
        ),
        (
            "P00004",
            Some(carol),
            T0 + 62 * MIN,
            PaymentState::Completed,
        ),
        ("P00005", Some(dave), T0 + 63 * MIN, PaymentState::Claimed),
        // Erin only cancelled: never paid.
        ("P00006", Some(erin), T0 + 64 * MIN, PaymentState::Cancelled),
        // Escrow nobody claimed: no payee yet.
        ("P00007", None, T0 + 65 * MIN, PaymentState::Escrowed),
    ];
    for (reference, payee, at, state) in rows {
        store
            .insert_payment(&payment(reference, alice, payee, 100, at, state))
            .await
            .unwrap();
    }
    let new = store
        .payees_first_paid_since(alice, T0 + 30 * MIN, 100)
        .await
        .unwrap();
    assert_eq!(
        new,
        [
            NewPayee {
                payee: dave,
                first_paid_at_ms: T0 + 63 * MIN
            },
            NewPayee {
                payee: carol,
                first_paid_at_ms: T0 + 61 * MIN
            },
        ]
    );
    let new = store
        .payees_first_paid_since(alice, T0 + 30 * MIN, 1)
        .await
        .unwrap();
    assert_eq!(new.len(), 1);
    let new = store
        .payees_first_paid_since(alice, T0 - 1, 100)
        .await
        .unwrap();
    assert_eq!(new.len(), 3);
    assert!(
        store
            .payees_first_paid_since(bob, T0 - 1, 100)
            .await
            .unwrap()
            .is_empty()
    );
}
