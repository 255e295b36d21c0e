//! The operator's actions on a user (see [`crate::trust::operator`]):
//! finding the user an operator names, setting their verification tier,
//! the report `paybot admin user` shows, and the verification provider's
//! callback, which sets a tier the same way.
//!
//! The design decision to know: a tier change is audited first, then
//! stored, then announced to the user through the outbox under an id made
//! from its audit entry; a decision whose audit entry cannot be written is
//! not made.

use super::texts::operator as texts;
use super::trust::SANCTIONS_REASON;
use super::{Bot, Result};
use crate::store::{Identity, UserId};
use crate::trust::holds::HOLDS_LISTED_MAX;
use crate::trust::operator::{
    AMBIGUOUS_USERS_LISTED_MAX, ActorName, OperatorReason, OperatorRefusal, PLATFORMS,
    REPORT_AUDIT_ENTRIES_MAX, TierChange, UserReport, UserTarget,
};
use crate::trust::sanctions::{NameSource, ScreenedName};
use crate::trust::verification::{
    VERIFICATION_CLAIM_LEASE_MS, VerificationClaim, VerificationEvent, VerificationResult,
};
use crate::trust::{Actor, AuditEntry, AuditKind, Tier, TierRecord};

/// An operator's action: done, or refused with the reason (nothing
/// changed).
pub type Refusable<T> = std::result::Result<T, OperatorRefusal>;

/// What a verification callback did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// Acted on now.
    Applied(VerificationResult),
    /// Acted on before: the stored result, as answered then (JSON text).
    Replayed(String),
    /// Another body was sent before under this event id: nothing done.
    OtherBody,
    /// Another delivery of this event is being handled right now.
    InProgress,
    /// Not done (nothing changed; a retry is handled afresh).
    Refused(OperatorRefusal),
}

impl Bot {
    /// The identity `target` names: by platform id, or by handle when
    /// exactly one wallet has it.
    pub async fn resolve_target(&self, target: &UserTarget) -> Result<Refusable<Identity>> {
        let unknown = || Ok(Err(OperatorRefusal::UnknownUser(target.to_string())));
        let found = match target {
            UserTarget::Id { platform, id } => {
                return match self.store.identity(*platform, id).await? {
                    Some(identity) => Ok(Ok(identity)),
                    None => unknown(),
                };
            }
            UserTarget::Handle {
                platform: Some(platform),
                handle,
            } => self.store.identities_with_handle(*platform, handle).await?,
            UserTarget::Handle {
                platform: None,
                handle,
            } => {
                let mut all = Vec::new();
                for platform in PLATFORMS {
                    all.extend(self.store.identities_with_handle(platform, handle).await?);
                }
                all
            }
        };
        let mut users: Vec<UserId> = found.iter().map(|i| i.user).collect();
        users.sort();
        users.dedup();
        if users.len() > 1 {
            return Ok(Err(OperatorRefusal::AmbiguousHandle {
                target: target.to_string(),
                candidates: found
                    .iter()
                    .take(AMBIGUOUS_USERS_LISTED_MAX)
                    .map(|i| format!("{}:{}", i.platform, i.id))
                    .collect(),
            }));
        }
        match found.into_iter().max_by_key(|i| i.last_seen_ms) {
            Some(identity) => Ok(Ok(identity)),
            None => unknown(),
        }
    }

    /// Sets the verification tier of the user `target` names, for `reason`,
    /// by `actor`: audited ([`AuditKind::TierChanged`]), stored, and the
    /// user told privately when the tier is not the one they had.
    pub async fn set_tier(
        &self,
        target: &UserTarget,
        tier: Tier,
        reason: &OperatorReason,
        actor: Actor,
    ) -> Result<Refusable<TierChange>> {
        if let Err(refusal) = self.tier_configured(tier) {
            return Ok(Err(refusal));
        }
        let identity = match self.resolve_target(target).await? {
            Ok(identity) => identity,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let change = self
            .apply_tier(&identity, tier, reason, actor, None)
            .await?;
        Ok(Ok(change))
    }

    fn tier_configured(&self, tier: Tier) -> Refusable<()> {
        let highest = self.config.trust.highest_tier();
        if tier > highest {
            return Err(OperatorRefusal::TierNotConfigured { tier, highest });
        }
        Ok(())
    }

    /// Audits, stores and announces a tier change for `identity`'s user.
    /// `subject`: what caused it (a provider's event id).
    async fn apply_tier(
        &self,
        identity: &Identity,
        tier: Tier,
        reason: &OperatorReason,
        actor: Actor,
        subject: Option<&str>,
    ) -> Result<TierChange> {
        let user = identity.user;
        let from = self.tier_of(user).await?;
        let now_ms = self.ledger.now_ms();
        let mut entry = AuditEntry::new(now_ms, actor.clone(), AuditKind::TierChanged)
            .user(user)
            .detail("from", from.get())
            .detail("to", tier.get())
            .detail("reason", reason.as_str())
            .detail("actor", actor.to_text())
            .detail("identity", format!("{}:{}", identity.platform, identity.id));
        if let Some(subject) = subject {
            entry = entry.subject(subject);
        }
        let audit_id = self.audit(entry).await?;
        self.store
            .set_tier(&TierRecord {
                user,
                tier,
                reason: reason.as_str().to_owned(),
                actor,
                set_at_ms: now_ms,
            })
            .await?;
        super::memo::forget_tier(user);
        // The new tier's allowances take effect now (not at the user's
        // next payment).
        self.reconcile_limits(user).await?;
        let told = from != tier;
        if told {
            let name = self
                .config
                .trust
                .tier_name(tier)
                .unwrap_or_else(|| texts::tier_unnamed(tier.get()));
            let notice = self.notice(
                &format!("tier:{user}:{audit_id}"),
                identity.platform,
                &identity.id,
                texts::tier_changed(&name, tier.get(), tier > from),
            )?;
            self.ledger.enqueue_outbox(&[notice]).await?;
        }
        Ok(TierChange {
            user,
            from,
            to: tier,
            audit_id,
            told,
        })
    }

    /// What an operator sees of the user `target` names.
    pub async fn user_report(&self, target: &UserTarget) -> Result<Refusable<UserReport>> {
        let identity = match self.resolve_target(target).await? {
            Ok(identity) => identity,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let user = identity.user;
        let tier_set = self.store.tier_of(user).await?;
        let tier = tier_set
            .as_ref()
            .map_or(self.config.trust.default_tier, |record| record.tier);
        let holds = self
            .holds(HOLDS_LISTED_MAX)
            .await?
            .into_iter()
            .filter(|hold| hold.user == user)
            .collect();
        Ok(Ok(UserReport {
            user,
            identities: self.store.identities_of(user).await?,
            tier,
            tier_name: self.config.trust.tier_name(tier),
            tier_set,
            legal_name: self.store.legal_name_of(user).await?,
            recent_audit: self
                .store
                .recent_audit_of(user, REPORT_AUDIT_ENTRIES_MAX)
                .await?,
            holds,
            limits: self.limits_report(user).await?,
        }))
    }

    /// A verification provider's callback, its signature already checked:
    /// sets the tier (as [`Bot::set_tier`], by [`Actor::Provider`]) and
    /// keeps the legal name, once per event id.
    pub async fn verification_callback(
        &self,
        event: &VerificationEvent,
        provider: &ActorName,
    ) -> Result<CallbackOutcome> {
        let now_ms = self.ledger.now_ms();
        if let Err(refusal) = self.tier_configured(event.tier) {
            self.audit_refused_callback(event, provider, &refusal, now_ms)
                .await?;
            return Ok(CallbackOutcome::Refused(refusal));
        }
        let claim = self
            .store
            .claim_verification_event(
                event,
                provider.as_str(),
                now_ms,
                VERIFICATION_CLAIM_LEASE_MS,
            )
            .await?;
        match claim {
            VerificationClaim::New => {}
            VerificationClaim::Done(stored) => return Ok(CallbackOutcome::Replayed(stored)),
            VerificationClaim::OtherBody => return Ok(CallbackOutcome::OtherBody),
            VerificationClaim::InProgress => return Ok(CallbackOutcome::InProgress),
        }
        let identity = match self.resolve_target(&event.target).await? {
            Ok(identity) => identity,
            Err(refusal) => {
                self.store
                    .release_verification_event(&event.event_id)
                    .await?;
                self.audit_refused_callback(event, provider, &refusal, now_ms)
                    .await?;
                return Ok(CallbackOutcome::Refused(refusal));
            }
        };
        let actor = Actor::Provider(provider.as_str().to_owned());
        // The legal name is screened before the tier moves: a match holds
        // the verification for an operator, who sets the tier (or not)
        // with `paybot admin tier` after looking.
        let hits = match &event.legal_name {
            Some(name) => {
                let legal = ScreenedName::new(NameSource::LegalName, name.as_str());
                self.screen_sanctions(identity.user, &[legal]).await?
            }
            None => Vec::new(),
        };
        // Only a raise waits: a lower tier (a provider revoking) applies
        // at once whatever the screening says.
        let current = self.tier_of(identity.user).await?;
        let held = !hits.is_empty() && event.tier > current;
        let (previous_tier, tier, told) = if held {
            self.audit(
                AuditEntry::new(now_ms, actor, AuditKind::HoldOpened)
                    .user(identity.user)
                    .subject(event.event_id.as_str())
                    .detail("kind", "verification")
                    .detail("tier_asked", event.tier.get())
                    .detail("tier_kept", current.get())
                    .detail("reason", SANCTIONS_REASON)
                    .detail("matches", hits.len()),
            )
            .await?;
            (current, current, false)
        } else {
            let change = self
                .apply_tier(
                    &identity,
                    event.tier,
                    &event.reason,
                    actor,
                    Some(event.event_id.as_str()),
                )
                .await?;
            (change.from, change.to, change.told)
        };
        if let Some(name) = &event.legal_name {
            self.store
                .set_legal_name(
                    identity.user,
                    name,
                    provider.as_str(),
                    &event.event_id,
                    now_ms,
                )
                .await?;
        }
        let result = VerificationResult {
            event_id: event.event_id.as_str().to_owned(),
            platform: identity.platform.as_str().to_owned(),
            user_id: identity.id.as_str().to_owned(),
            previous_tier: previous_tier.get(),
            tier: tier.get(),
            told,
            held,
        };
        let text = serde_json::to_string(&result)
            .map_err(|e| super::BotError::Inconsistent(format!("verification result: {e}")))?;
        self.store
            .finish_verification_event(&event.event_id, identity.user, &text, now_ms)
            .await?;
        Ok(CallbackOutcome::Applied(result))
    }

    async fn audit_refused_callback(
        &self,
        event: &VerificationEvent,
        provider: &ActorName,
        refusal: &OperatorRefusal,
        now_ms: i64,
    ) -> Result<i64> {
        self.audit(
            AuditEntry::new(
                now_ms,
                Actor::Provider(provider.as_str().to_owned()),
                AuditKind::VerificationCallback,
            )
            .subject(event.event_id.as_str())
            .detail("target", event.target.to_string())
            .detail("tier", event.tier.get())
            .detail("result", "refused")
            .detail("why", refusal.to_string()),
        )
        .await
    }
}

impl Bot {
    /// Audit entries matching `filter`, oldest first (see
    /// [`crate::trust::TrustStore::audit_entries`]): for the operator's
    /// readers, which page with `after_id`.
    pub async fn audit_log(
        &self,
        filter: &crate::trust::AuditFilter,
    ) -> Result<Vec<crate::trust::AuditRecord>> {
        Ok(self.store.audit_entries(filter).await?)
    }

    /// The trust settings in force (tier names, the default tier).
    pub fn trust_config(&self) -> &crate::trust::TrustConfig {
        &self.config.trust
    }
}
