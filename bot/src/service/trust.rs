//! The policy point ([`Bot::assess`]) and its plumbing: the audit log and
//! each user's tier.
//!
//! The design decision to know: every action that moves money or changes
//! who controls a wallet asks [`Bot::assess`] once, before anything is
//! reserved, and keeps the answer ([`Review`]) with its record; the limits
//! are not among the questions because they are enforced by the ledger in
//! the same commit as the money (see `limits.rs`).

use super::memo;
use super::texts::rules::rule_refusal_text;
use super::{Bot, Result};
use crate::store::UserId;
use crate::trust::sanctions::{NameSource, SanctionsHit, ScreenedName};
use crate::trust::{AuditEntry, Review, Tier, TrustAction, Verdict};

/// The reason a hold for a sanctions match names (rules name themselves).
pub(super) const SANCTIONS_REASON: &str = "sanctions_screening";

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
        self.assess_with(action, now_ms, &[]).await
    }

    /// As [`Bot::assess`], for one part of an action with several (a payee
    /// of `/pay @bob @carol 5 each`): the count rules also see the parts
    /// judged before it.
    pub(super) async fn assess_with(
        &self,
        action: &TrustAction,
        now_ms: i64,
        earlier: &[super::rules::EarlierLeg],
    ) -> Result<Assessment> {
        let rules = self
            .evaluate_rules_with(action, None, now_ms, earlier)
            .await?;
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
        if self.screens(action) {
            let hits = self.screen_user(action.user()).await?;
            if !hits.is_empty() {
                // A match is never decided here, either way: an operator
                // looks (the hits are in the audit log), and the hold says
                // so even when a rule holds the action too.
                if assessment.verdict < Verdict::Hold {
                    assessment.verdict = Verdict::Hold;
                    assessment.reason = SANCTIONS_REASON.to_owned();
                } else if assessment.verdict == Verdict::Hold {
                    assessment.reason = format!("{}, {SANCTIONS_REASON}", assessment.reason);
                }
            }
        }
        Ok(assessment)
    }

    /// Whether `action` is screened against the sanctions list: money out
    /// to a card, and linking a card (verification screens the legal name
    /// given, see `operator.rs`).
    fn screens(&self, action: &TrustAction) -> bool {
        matches!(
            action,
            TrustAction::CashOut { .. } | TrustAction::CardAdd { .. }
        )
    }

    /// Screens every name paybot knows of `user`: the legal name given at
    /// verification (strong) and the display names of their chat accounts
    /// (weak). Each hit is audited.
    pub(super) async fn screen_user(&self, user: UserId) -> Result<Vec<SanctionsHit>> {
        let mut names = self.known_names(user).await?;
        if let Some(legal) = self.store.legal_name_of(user).await? {
            names.push(ScreenedName::new(NameSource::LegalName, &legal));
        }
        self.screen_sanctions(user, &names).await
    }

    /// Appends `entry` to the audit log. A decision whose entry cannot be
    /// written is not acted on: the caller propagates the error.
    pub(super) async fn audit(&self, entry: AuditEntry) -> Result<i64> {
        Ok(self.store.append_audit(&entry).await?)
    }

    /// The user's verification tier: as last set, else the default. Read
    /// once per message (see `memo.rs`).
    pub(super) async fn tier_of(&self, user: UserId) -> Result<Tier> {
        if let Some(tier) = memo::tier(user) {
            return Ok(tier);
        }
        let tier = self
            .store
            .tier_of(user)
            .await?
            .map_or(self.config.trust.default_tier, |record| record.tier);
        memo::keep_tier(user, tier);
        Ok(tier)
    }
}
