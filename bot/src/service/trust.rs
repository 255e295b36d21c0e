//! The policy point's plumbing: the audit log and each user's tier.

use super::{Bot, Result};
use crate::store::UserId;
use crate::trust::{AuditEntry, Tier};

// Used by the trust areas as they land (issue 16).
#[allow(dead_code)]
impl Bot {
    /// Appends `entry` to the audit log. A decision whose entry cannot be
    /// written is not acted on: the caller propagates the error.
    pub(super) async fn audit(&self, entry: AuditEntry) -> Result<i64> {
        Ok(self.store.append_audit(&entry).await?)
    }

    /// The user's verification tier: as last set, else the default.
    pub(super) async fn tier_of(&self, user: UserId) -> Result<Tier> {
        Ok(self
            .store
            .tier_of(user)
            .await?
            .map_or(self.config.trust.default_tier, |record| record.tier))
    }
}
