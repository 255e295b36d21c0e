//! What one message has already read: a memo that lives exactly as long as
//! [`Bot::handle`](super::Bot::handle) handles one message.
//!
//! The design decision to know: the memo holds only facts a message reads
//! several times and nothing in the message changes, and it is never shared
//! between messages, so nothing in it can be stale beyond the message that
//! read it (another process, or an operator, changing a tier meanwhile is
//! seen by the next message, exactly as a message that read it once would
//! see it). Today that is each user's verification tier: the second factor,
//! the payer's limits and the payee's limits of one `/pay` each ask for it.
//! Code outside a message (the operator's calls, the sweep) has no memo and
//! reads the store every time, and a tier written inside a message is
//! dropped from the memo ([`forget_tier`]).
//!
//! It is a task-local value rather than a parameter so that the many
//! functions between a command and the tier read keep their signatures;
//! a spawned task does not inherit it (it reads the store).

use std::sync::{Mutex, PoisonError};

use crate::store::UserId;
use crate::trust::Tier;

/// Most tiers one message keeps (a payment asks for two users; a split for
/// a few more). Beyond it the store is read each time.
pub const TIERS_MEMO_PER_MESSAGE_MAX: usize = 16;

/// The facts one message has read.
#[derive(Debug, Default)]
pub(super) struct MessageMemo {
    tiers: Mutex<Vec<(UserId, Tier)>>,
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
