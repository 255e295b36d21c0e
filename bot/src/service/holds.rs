//! Holds for review (see [`crate::trust::holds`]): listing and deciding
//! them. The bodies land with the policy point.

use super::{Bot, Result};
use crate::command::ShortRef;
use crate::trust::Actor;
use crate::trust::holds::{HoldDecision, HoldOutcome, HoldView};

impl Bot {
    /// The holds waiting for an operator, oldest first, at most `limit`.
    pub async fn holds(&self, limit: u32) -> Result<Vec<HoldView>> {
        let _ = limit;
        Ok(Vec::new())
    }

    /// Approves or rejects the hold `id`, for `reason`, by `actor`; audited,
    /// and the user told.
    pub async fn decide_hold(
        &self,
        id: &ShortRef,
        decision: HoldDecision,
        actor: Actor,
        reason: &str,
    ) -> Result<HoldOutcome> {
        let _ = (id, decision, actor, reason);
        Ok(HoldOutcome::NotFound)
    }
}
