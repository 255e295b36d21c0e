//! What one message has already read: a memo that lives exactly as long as
//! [`Bot::handle`](super::Bot::handle) handles one message.
//!
//! The design decision to know: the memo holds only facts a message reads
//! several times and nothing in the message changes, and it is never shared
//! between messages, so nothing in it can be stale beyond the message that
//! read it (another process, or an operator, changing a tier meanwhile is
//! seen by the next message, exactly as a message that read it once would
//! see it). Today that is each user's verification tier (the second factor,
//! the payer's limits and the payee's limits of one `/pay` each ask for it),
//! what `/pay` read about a payee named by mention together with their
//! identity ([`keep_payee_facts`]; the warnings take it once), that
//! identity where it was read with the message's sender
//! ([`keep_payee`]; `/pay` takes it once), and what
//! waits for a `/confirm`'s code, read with its sender ([`keep_awaiting`];
//! `/confirm` takes it once).
//! Code outside a message (the operator's calls, the sweep) has no memo and
//! reads the store every time, and a tier written inside a message is
//! dropped from the memo ([`forget_tier`]).
//!
//! It is a task-local value rather than a parameter so that the many
//! functions between a command and the tier read keep their signatures;
//! a spawned task does not inherit it (it reads the store).

use std::sync::{Mutex, PoisonError};

use crate::message::{Platform, PlatformUserId};
use crate::store::{AwaitingCode, Identity, PayeeFacts, UserId};
use crate::trust::Tier;

/// Most tiers one message keeps (a payment asks for two users; a split for
/// a few more). Beyond it the store is read each time.
pub const TIERS_MEMO_PER_MESSAGE_MAX: usize = 16;

/// The facts one message has read.
#[derive(Debug, Default)]
pub(super) struct MessageMemo {
    tiers: Mutex<Vec<(UserId, Tier)>>,
    payee_facts: Mutex<Option<PayeeRead>>,
    payee: Mutex<Option<Identity>>,
    awaiting: Mutex<Option<(UserId, AwaitingCode)>>,
}

/// What was read about one payee for one payer, by the payee's skeleton.
#[derive(Debug)]
struct PayeeRead {
    payer: UserId,
    payee: UserId,
    skeleton: String,
    facts: PayeeFacts,
}

tokio::task_local! {
    static MEMO: MessageMemo;
}

/// Runs `future` (the handling of one message) with a fresh memo.
pub(super) async fn with_memo<F: std::future::Future>(future: F) -> F::Output {
    MEMO.scope(MessageMemo::default(), future).await
}

/// The tier this message already read for `user`, if any.
pub(super) fn tier(user: UserId) -> Option<Tier> {
    MEMO.try_with(|memo| {
        let tiers = memo.tiers.lock().unwrap_or_else(PoisonError::into_inner);
        tiers
            .iter()
            .find(|(known, _)| *known == user)
            .map(|(_, tier)| *tier)
    })
    .ok()
    .flatten()
}

/// Keeps `tier` as what this message read for `user` (outside a message,
/// or with the memo full, nothing is kept).
pub(super) fn keep_tier(user: UserId, tier: Tier) {
    let _outside_a_message = MEMO.try_with(|memo| {
        let mut tiers = memo.tiers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = tiers.iter_mut().find(|(known, _)| *known == user) {
            slot.1 = tier;
        } else if tiers.len() < TIERS_MEMO_PER_MESSAGE_MAX {
            tiers.push((user, tier));
        }
    });
}

/// Drops what this message read for `user`'s tier: it was just written.
pub(super) fn forget_tier(user: UserId) {
    let _outside_a_message = MEMO.try_with(|memo| {
        let mut tiers = memo.tiers.lock().unwrap_or_else(PoisonError::into_inner);
        tiers.retain(|(known, _)| *known != user);
    });
}

/// Keeps what was read about `payee` for `payer` by `skeleton` (one such
/// read per message: a later one replaces it; outside a message nothing is
/// kept).
pub(super) fn keep_payee_facts(payer: UserId, payee: UserId, skeleton: &str, facts: PayeeFacts) {
    let _outside_a_message = MEMO.try_with(|memo| {
        let mut kept = memo
            .payee_facts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *kept = Some(PayeeRead {
            payer,
            payee,
            skeleton: skeleton.to_owned(),
            facts,
        });
    });
}

/// What this message read about `payee` for `payer` by `skeleton`, taken
/// (a second ask reads the store).
pub(super) fn take_payee_facts(payer: UserId, payee: UserId, skeleton: &str) -> Option<PayeeFacts> {
    MEMO.try_with(|memo| {
        take_if(&memo.payee_facts, |read| {
            read.payer == payer && read.payee == payee && read.skeleton == skeleton
        })
    })
    .ok()
    .flatten()
    .map(|read| read.facts)
}

/// Keeps `payee` as a `/pay`'s payee, read with the message's sender
/// (outside a message nothing is kept).
pub(super) fn keep_payee(payee: Identity) {
    let _outside_a_message = MEMO.try_with(|memo| {
        *memo.payee.lock().unwrap_or_else(PoisonError::into_inner) = Some(payee);
    });
}

/// The identity of `platform`'s user `id` as this message read it with
/// its sender, taken (a second ask reads the store).
pub(super) fn take_payee(platform: Platform, id: &PlatformUserId) -> Option<Identity> {
    MEMO.try_with(|memo| {
        take_if(&memo.payee, |known| {
            known.platform == platform && &known.id == id
        })
    })
    .ok()
    .flatten()
}

/// Keeps what waits for `user`'s code, as this message read it.
pub(super) fn keep_awaiting(user: UserId, awaiting: AwaitingCode) {
    let _outside_a_message = MEMO.try_with(|memo| {
        *memo.awaiting.lock().unwrap_or_else(PoisonError::into_inner) = Some((user, awaiting));
    });
}

/// What waits for `user`'s code as this message read it, taken (a second
/// ask reads the store).
pub(super) fn take_awaiting(user: UserId) -> Option<AwaitingCode> {
    MEMO.try_with(|memo| take_if(&memo.awaiting, |(known, _)| *known == user))
        .ok()
        .flatten()
        .map(|(_, awaiting)| awaiting)
}

/// Takes what `slot` keeps when it is what `wanted` asks for; anything
/// else stays kept.
fn take_if<T>(slot: &Mutex<Option<T>>, wanted: impl FnOnce(&T) -> bool) -> Option<T> {
    let mut kept = slot.lock().unwrap_or_else(PoisonError::into_inner);
    if kept.as_ref().is_some_and(wanted) {
        kept.take()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tier_is_kept_within_one_message_only() {
        let (alice, bob) = (UserId(1), UserId(2));
        let one = Tier::new(1).unwrap();
        with_memo(async {
            assert_eq!(tier(alice), None);
            keep_tier(alice, one);
            assert_eq!(tier(alice), Some(one));
            assert_eq!(tier(bob), None);
            forget_tier(alice);
            assert_eq!(tier(alice), None);
        })
        .await;
        with_memo(async {
            // A new message starts with nothing read.
            assert_eq!(tier(alice), None);
        })
        .await;
        // Outside a message nothing is kept.
        keep_tier(alice, one);
        assert_eq!(tier(alice), None);
    }

    #[tokio::test]
    async fn payee_facts_are_taken_once_and_only_for_the_same_read() {
        let (alice, bob, carol) = (UserId(1), UserId(2), UserId(3));
        let facts = PayeeFacts {
            paid_before: true,
            payer_waiting: 2,
            ..PayeeFacts::default()
        };
        with_memo(async {
            keep_payee_facts(alice, bob, "b0b", facts.clone());
            assert!(
                take_payee_facts(alice, carol, "b0b").is_none(),
                "another payee"
            );
            assert!(take_payee_facts(bob, bob, "b0b").is_none(), "another payer");
            assert!(
                take_payee_facts(alice, bob, "x").is_none(),
                "another skeleton"
            );
            let taken = take_payee_facts(alice, bob, "b0b").unwrap();
            assert!(taken.paid_before);
            assert_eq!(taken.payer_waiting, 2);
            assert!(take_payee_facts(alice, bob, "b0b").is_none(), "taken once");
        })
        .await;
        with_memo(async {
            assert!(
                take_payee_facts(alice, bob, "b0b").is_none(),
                "a new message"
            );
        })
        .await;
        keep_payee_facts(alice, bob, "b0b", facts);
        assert!(
            take_payee_facts(alice, bob, "b0b").is_none(),
            "outside a message"
        );
    }

    #[tokio::test]
    async fn what_awaits_a_code_is_taken_once_and_only_for_its_user() {
        let (alice, bob) = (UserId(1), UserId(2));
        with_memo(async {
            keep_awaiting(alice, AwaitingCode::default());
            assert!(take_awaiting(bob).is_none(), "another user");
            assert!(take_awaiting(alice).is_some());
            assert!(take_awaiting(alice).is_none(), "taken once");
        })
        .await;
        keep_awaiting(alice, AwaitingCode::default());
        assert!(take_awaiting(alice).is_none(), "outside a message");
    }

    #[tokio::test]
    async fn the_memo_is_bounded() {
        let zero = Tier::new(0).unwrap();
        with_memo(async {
            for i in 0..=i64::try_from(TIERS_MEMO_PER_MESSAGE_MAX).unwrap() {
                keep_tier(UserId(i), zero);
            }
            let beyond = i64::try_from(TIERS_MEMO_PER_MESSAGE_MAX).unwrap();
            assert_eq!(tier(UserId(0)), Some(zero));
            assert_eq!(tier(UserId(beyond)), None);
        })
        .await;
    }
}
