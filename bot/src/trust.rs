//! Trust and compliance: the one policy point every payment, cash-out,
//! top-up, card link and account link passes before money moves.
//!
//! The design decision to know: a verdict is one of allow, ask for the
//! second factor, hold for review (a pending transfer: the money is
//! reserved, nothing is lost) or refuse, and every verdict is written to the
//! append-only audit log ([`audit`]). Limits are not checked here and then
//! acted on: they are allowance accounts in the ledger, debited by pending
//! transfers linked to the money movement itself, so the database enforces
//! them in the same commit ([`limits`]).
//!
//! Layout: `tier.rs` (verification tiers), `limits.rs` (rolling limits per
//! tier and currency), `rules.rs` (fraud and velocity rules as data),
//! `sanctions.rs` (the SDN list and name screening), `second_factor.rs`
//! (TOTP), `holds.rs` (review holds), `audit.rs` (the log), each with its
//! settings type; [`TrustConfig`] gathers them. The store port for all of
//! them is [`TrustStore`] and its siblings, supertraits of
//! [`crate::store::Store`].

pub mod audit;
pub mod holds;
pub mod limits;
pub mod rules;
pub mod sanctions;
pub mod second_factor;
pub mod tier;

use async_trait::async_trait;

pub use audit::{AUDIT_PAGE_MAX, Actor, AuditEntry, AuditFilter, AuditKind, AuditRecord};
pub use tier::{TIER_MAX, Tier, TierRecord};

use crate::store::{StoreError, UserId};

/// The trust settings: plain data, passed in (see each area's type).
#[derive(Debug, Clone, Default)]
pub struct TrustConfig {
    /// The tier of a user nobody has verified.
    pub default_tier: Tier,
    pub limits: limits::LimitsPolicy,
    pub rules: rules::RulesPolicy,
    pub sanctions: sanctions::SanctionsPolicy,
    pub second_factor: second_factor::SecondFactorPolicy,
    pub holds: holds::HoldPolicy,
}

/// The trust tables the core writes and reads: the audit log and each
/// user's verification tier.
#[async_trait]
pub trait TrustStore: Send + Sync {
    /// Appends one entry to the audit log and returns its id. The log is
    /// never updated or deleted (the database refuses it).
    async fn append_audit(&self, entry: &AuditEntry) -> Result<i64, StoreError>;

    /// Audit entries matching `filter`, oldest first, at most
    /// `filter.limit`.
    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError>;

    /// The user's tier as last set, if ever.
    async fn tier_of(&self, user: UserId) -> Result<Option<TierRecord>, StoreError>;

    /// Sets the user's tier (the latest call wins; the history is in the
    /// audit log).
    async fn set_tier(&self, record: &TierRecord) -> Result<(), StoreError>;
}
