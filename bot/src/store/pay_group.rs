//! Payments to several payees at once (`/pay @bob @carol 5 each`): which
//! payments are the legs of one group, and their port, [`PayGroupStore`].
//!
//! The one decision to know: each leg is an ordinary [`Payment`] (its own
//! reference, pending transfer and state, so `/history` shows each leg);
//! a group is only the list of its legs, written once in the ledger unit
//! that reserves their money ([`PayGroupStore::group_leg_write`]) and never
//! changed. What the group is now is what its legs are.
//!
//! [`Payment`]: super::Payment

use async_trait::async_trait;

use super::{StoreError, UserId};
use crate::command::ShortRef;

/// A group of payments confirmed with one code: its reference and its legs'
/// references in the order they were named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayGroup {
    pub reference: ShortRef,
    pub legs: Vec<ShortRef>,
}

/// The payment groups on the bot's database.
#[async_trait]
pub trait PayGroupStore: Send + Sync {
    /// The ledger record write that stores leg `position` of `group` (the
    /// payment `leg`); the unit is not applied when the leg is already in a
    /// group or the group has that position. Pure.
    fn group_leg_write(
        &self,
        group: &ShortRef,
        leg: &ShortRef,
        position: u32,
        payer: UserId,
        now_ms: i64,
    ) -> Result<ledger::RecordWrite, StoreError>;

    /// The group `reference` names: a group's own reference or one of its
    /// legs'. `None`: neither.
    async fn pay_group(&self, reference: &ShortRef) -> Result<Option<PayGroup>, StoreError>;
}
