//! The second factor's tables, on SQLite and PostgreSQL alike: a pending
//! enrolment never replaces an enabled one, a time step and a recovery code
//! are each taken once (also under concurrency), and wrong codes are
//! bounded per user over a rolling window.
// Test code throughout, helpers too (see clippy.toml).
#![cfg(test)]

#[macro_use]
mod common;

use std::sync::Arc;

use bot::store::UserId;
use bot::trust::second_factor::{
    SealedSecret, SecondFactorAttempt, SecondFactorRecord, SecondFactorState, SecondFactorStore,
};
use ledger::testing::{CLOCK_START_MS, TestBackend};
use paybot_store::SqlStore;

use common::{run, user};

const T0: i64 = CLOCK_START_MS;
const WINDOW_MS: i64 = 15 * 60 * 1_000;

conformance!(
    enrolment_is_pending_then_enabled_and_never_replaced,
    a_time_step_is_taken_once,
    recovery_codes_are_taken_once,
    wrong_codes_are_bounded_per_user,
    concurrent_attempts_stay_within_the_bound,
    removing_forgets_secret_and_codes,
);

fn pending(user: UserId, nonce: u8, at_ms: i64) -> SecondFactorRecord {
    SecondFactorRecord {
        user,
        state: SecondFactorState::Pending,
        sealed: SealedSecret {
            nonce: vec![nonce; 24],
            ciphertext: vec![nonce.wrapping_add(1); 36],
        },
        created_at_ms: at_ms,
        enabled_at_ms: None,
        last_used_step: None,
    }
}

fn hashes(n: u8) -> Vec<[u8; 32]> {
    (0..n).map(|i| [i; 32]).collect()
}

async fn enabled(store: &SqlStore, id: &str) -> UserId {
    let user = user(store, id).await;
    assert!(
        store
            .put_pending_second_factor(&pending(user, 1, T0))
            .await
            .unwrap()
    );
    assert!(
        store
            .enable_second_factor(user, &[1; 24], 100, &hashes(10), T0 + 1)
            .await
            .unwrap()
    );
    user
}

async fn enrolment_is_pending_then_enabled_and_never_replaced(store: Arc<SqlStore>) {
    let alice = user(&store, "alice").await;
    assert_eq!(store.second_factor(alice).await.unwrap(), None);
    assert!(
        store
            .put_pending_second_factor(&pending(alice, 1, T0))
            .await
            .unwrap()
    );
    // A second setup replaces the pending one.
    assert!(
        store
            .put_pending_second_factor(&pending(alice, 2, T0 + 5))
            .await
            .unwrap()
    );
    let record = store.second_factor(alice).await.unwrap().unwrap();
    assert_eq!(record, pending(alice, 2, T0 + 5));
    // Confirming the replaced one does nothing.
    assert!(
        !store
            .enable_second_factor(alice, &[1; 24], 7, &hashes(10), T0 + 9)
            .await
            .unwrap()
    );
    assert!(
        store
            .enable_second_factor(alice, &[2; 24], 7, &hashes(10), T0 + 9)
            .await
            .unwrap()
    );
    let record = store.second_factor(alice).await.unwrap().unwrap();
    assert_eq!(record.state, SecondFactorState::Enabled);
    assert_eq!(record.enabled_at_ms, Some(T0 + 9));
    assert_eq!(record.last_used_step, Some(7));
    assert_eq!(store.recovery_codes_left(alice).await.unwrap(), 10);
    // Once enabled, a new setup is refused and changes nothing.
    assert!(
        !store
            .put_pending_second_factor(&pending(alice, 3, T0 + 10))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .second_factor(alice)
            .await
            .unwrap()
            .unwrap()
            .sealed
            .nonce,
        vec![2; 24]
    );
    assert!(
        !store
            .enable_second_factor(alice, &[2; 24], 8, &hashes(2), T0 + 11)
            .await
            .unwrap()
    );
    assert_eq!(store.recovery_codes_left(alice).await.unwrap(), 10);
}

async fn a_time_step_is_taken_once(store: Arc<SqlStore>) {
    let alice = enabled(&store, "alice").await;
    // Step 100 was the confirming code's.
    assert!(!store.use_second_factor_step(alice, 100).await.unwrap());
    assert!(store.use_second_factor_step(alice, 101).await.unwrap());
    assert!(!store.use_second_factor_step(alice, 101).await.unwrap());
    // An earlier step after a later one: refused too.
    assert!(!store.use_second_factor_step(alice, 99).await.unwrap());
    // Concurrent uses of one step: one wins.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.use_second_factor_step(alice, 102).await
        }));
    }
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap().unwrap());
    }
    assert_eq!(won, 1);
    // A user without a second factor has no step to take.
    let bob = user(&store, "bob").await;
    assert!(!store.use_second_factor_step(bob, 5).await.unwrap());
}

async fn recovery_codes_are_taken_once(store: Arc<SqlStore>) {
    let alice = enabled(&store, "alice").await;
    let bob = enabled(&store, "bob").await;
    assert!(
        store
            .use_recovery_code(alice, &[3; 32], T0 + 2)
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_recovery_code(alice, &[3; 32], T0 + 3)
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_recovery_code(alice, &[99; 32], T0 + 3)
            .await
            .unwrap()
    );
    assert_eq!(store.recovery_codes_left(alice).await.unwrap(), 9);
    // Bob's codes are his own, even with the same hash.
    assert_eq!(store.recovery_codes_left(bob).await.unwrap(), 10);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.use_recovery_code(alice, &[4; 32], T0 + 4).await
        }));
    }
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap().unwrap());
    }
    assert_eq!(won, 1);
    assert_eq!(store.recovery_codes_left(alice).await.unwrap(), 8);
}

async fn wrong_codes_are_bounded_per_user(store: Arc<SqlStore>) {
    let alice = enabled(&store, "alice").await;
    let bob = enabled(&store, "bob").await;
    let mut right = None;
    for i in 0..5 {
        match store
            .begin_second_factor_attempt(alice, T0 + i * 1_000, WINDOW_MS, 5)
            .await
            .unwrap()
        {
            SecondFactorAttempt::Allowed { attempt } => right = right.or(Some(attempt)),
            locked => panic!("attempt {i}: {locked:?}"),
        }
    }
    // A right code does not count.
    store
        .forget_second_factor_attempt(right.unwrap())
        .await
        .unwrap();
    assert!(matches!(
        store
            .begin_second_factor_attempt(alice, T0 + 10_000, WINDOW_MS, 5)
            .await
            .unwrap(),
        SecondFactorAttempt::Allowed { .. }
    ));
    // Five wrong ones now (1s .. 4s and 10s): locked until the oldest
    // leaves the window.
    assert_eq!(
        store
            .begin_second_factor_attempt(alice, T0 + 11_000, WINDOW_MS, 5)
            .await
            .unwrap(),
        SecondFactorAttempt::Locked {
            until_ms: T0 + 1_000 + WINDOW_MS
        }
    );
    // Bob is not held up.
    assert!(matches!(
        store
            .begin_second_factor_attempt(bob, T0 + 11_000, WINDOW_MS, 5)
            .await
            .unwrap(),
        SecondFactorAttempt::Allowed { .. }
    ));
    assert!(matches!(
        store
            .begin_second_factor_attempt(alice, T0 + 1_000 + WINDOW_MS, WINDOW_MS, 5)
            .await
            .unwrap(),
        SecondFactorAttempt::Allowed { .. }
    ));
}

async fn concurrent_attempts_stay_within_the_bound(store: Arc<SqlStore>) {
    let alice = enabled(&store, "alice").await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .begin_second_factor_attempt(alice, T0 + 5, WINDOW_MS, 5)
                .await
        }));
    }
    let mut allowed = 0;
    for task in tasks {
        if let SecondFactorAttempt::Allowed { .. } = task.await.unwrap().unwrap() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5);
}

async fn removing_forgets_secret_and_codes(store: Arc<SqlStore>) {
    let alice = enabled(&store, "alice").await;
    assert!(store.remove_second_factor(alice).await.unwrap());
    assert_eq!(store.second_factor(alice).await.unwrap(), None);
    assert_eq!(store.recovery_codes_left(alice).await.unwrap(), 0);
    assert!(!store.remove_second_factor(alice).await.unwrap());
    // Enrolling again starts afresh.
    assert!(
        store
            .put_pending_second_factor(&pending(alice, 5, T0 + 20))
            .await
            .unwrap()
    );
}
