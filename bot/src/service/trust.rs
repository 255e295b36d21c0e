//! The policy point ([`Bot::assess`]) and its plumbing: the audit log and
//! each user's tier.
//!
//! The design decision to know: every action that moves money or changes
//! who controls a wallet asks [`Bot::assess`] once, before anything is
//! reserved, and keeps the answer ([`Review`]) with its record; the limits
//! are not among the questions because they are enforced by the ledger in
//! the same commit as the money (see `limits.rs`).

use super::texts::rules::rule_refusal_text;
use super::{Bot, Result};
use crate::store::UserId;
use crate::trust::{AuditEntry, Review, Tier, TrustAction, Verdict};

/// What the policy point decided about one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Assessment {
    pub(super) verdict: Verdict,
    /// The rules or screening behind a verdict other than allow, for the
    /// operator (comma separated names).
    pub(super) reason: String,
    /// For [`Verdict::Refuse`]: the one line the user is told.
    pub(super) refusal: Option<String>,
}

impl Assessment {
    pub(super) fn allow() -> Assessment {
        Assessment {
            verdict: Verdict::Allow,
            reason: String::new(),
            refusal: None,
        }
    }

    /// What to keep with the record (refusals never get one).
    pub(super) fn review(&self) -> Review {
        match self.verdict {
            Verdict::Allow | Verdict::Refuse => Review::None,
            Verdict::SecondFactor => Review::SecondFactor,
            Verdict::Hold => Review::Hold {
                reason: self.reason.clone(),
            },
        }
    }
}

impl Bot {
    /// The policy point: the fraud rules and, where they apply, sanctions
    /// screening, combined so the strictest answer wins. Each rule that
    /// fired and each screening hit is audited where it is found, with its
    /// inputs; what follows from the verdict (a hold opened, a second
    /// factor asked) is audited where it happens.
    pub(super) async fn assess(&self, action: &TrustAction, now_ms: i64) -> Result<Assessment> {
        let rules = self.evaluate_rules(action, now_ms).await?;
        let mut assessment = Assessment::allow();
        assessment.verdict = rules.verdict;
        assessment.reason = rules
            .fired
            .iter()
            .filter(|fired| fired.action == rules.verdict)
            .map(|fired| fired.rule.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        if rules.verdict == Verdict::Refuse {
            assessment.refusal = rules.deciding().map(rule_refusal_text);
        }
        Ok(assessment)
    }

    /// Appends `entry` to the audit log. A decision whose entry cannot be
    /// written is not acted on: the caller propagates the error.
    pub(super) async fn audit(&self, entry: AuditEntry) -> Result<i64> {
        Ok(self.store.append_audit(&entry).await?)
    }

    /// The user's verification tier: as last set, else the default.
    #[allow(dead_code)] // read by the limits (issue 16), merged next
    pub(super) async fn tier_of(&self, user: UserId) -> Result<Tier> {
        Ok(self
            .store
            .tier_of(user)
            .await?
            .map_or(self.config.trust.default_tier, |record| record.tier))
    }
}
