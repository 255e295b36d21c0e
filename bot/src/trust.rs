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
pub mod operator;
pub mod rules;
pub mod sanctions;
pub mod second_factor;
pub mod tier;
pub mod verification;

use async_trait::async_trait;

pub use audit::{AUDIT_PAGE_MAX, Actor, AuditEntry, AuditFilter, AuditKind, AuditRecord};
pub use tier::{TIER_MAX, Tier, TierRecord};

use ledger::Amount;

use crate::store::{StoreError, UserId};

/// What is asked of the policy point: one money movement or account change,
/// before it happens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustAction {
    /// A chat payment (`/pay`, an approved request, a split share). The
    /// payee is `None` when it goes to escrow for someone not yet known.
    Payment {
        payer: UserId,
        payee: Option<UserId>,
        amount: Amount,
    },
    /// Money out to a linked card; `card_added_at_ms` is when that card
    /// was linked.
    CashOut {
        user: UserId,
        amount: Amount,
        card_added_at_ms: i64,
    },
    /// Money in from a linked card.
    TopUp { user: UserId, amount: Amount },
    /// Linking a new card.
    CardAdd { user: UserId },
    /// Linking another chat account to the wallet (`/link`).
    Link { user: UserId },
}

impl TrustAction {
    /// The user who asks.
    pub fn user(&self) -> UserId {
        match self {
            TrustAction::Payment { payer: user, .. }
            | TrustAction::CashOut { user, .. }
            | TrustAction::TopUp { user, .. }
            | TrustAction::CardAdd { user }
            | TrustAction::Link { user } => *user,
        }
    }

    /// Its name in settings and in the audit log.
    pub fn name(&self) -> &'static str {
        match self {
            TrustAction::Payment { .. } => "payment",
            TrustAction::CashOut { .. } => "cashout",
            TrustAction::TopUp { .. } => "topup",
            TrustAction::CardAdd { .. } => "card_add",
            TrustAction::Link { .. } => "link",
        }
    }

    /// The amount it moves, if it moves money.
    pub fn amount(&self) -> Option<Amount> {
        match self {
            TrustAction::Payment { amount, .. }
            | TrustAction::CashOut { amount, .. }
            | TrustAction::TopUp { amount, .. } => Some(*amount),
            TrustAction::CardAdd { .. } | TrustAction::Link { .. } => None,
        }
    }
}

/// What the policy point asked of one payment or cash-out beyond its
/// one-time code, decided when it was started and kept with it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Review {
    /// Nothing more.
    #[default]
    None,
    /// The user's second factor too.
    SecondFactor,
    /// Held for an operator after the code, for `reason` (the rules or
    /// screening that asked for it).
    Hold { reason: String },
}

impl Review {
    /// As stored: empty, `second_factor` or `hold:REASON`.
    pub fn to_text(&self) -> String {
        match self {
            Review::None => String::new(),
            Review::SecondFactor => "second_factor".to_owned(),
            Review::Hold { reason } => format!("hold:{reason}"),
        }
    }

    pub fn parse(text: &str) -> Option<Review> {
        match text {
            "" => Some(Review::None),
            "second_factor" => Some(Review::SecondFactor),
            _ => text.strip_prefix("hold:").map(|reason| Review::Hold {
                reason: reason.to_owned(),
            }),
        }
    }
}

/// The policy point's answer, from the mildest to the strictest; when
/// several checks answer, the strictest wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Allow,
    /// Go on only with the user's second factor (TOTP).
    SecondFactor,
    /// Reserve the money and wait for an operator.
    Hold,
    Refuse,
}

impl Verdict {
    /// As in settings and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::SecondFactor => "second_factor",
            Verdict::Hold => "hold",
            Verdict::Refuse => "refuse",
        }
    }
}

/// The trust settings: plain data, passed in (see each area's type).
#[derive(Debug, Clone)]
pub struct TrustConfig {
    /// The tier of a user nobody has verified.
    pub default_tier: Tier,
    pub limits: limits::LimitsPolicy,
    pub rules: rules::RulesPolicy,
    pub sanctions: sanctions::SanctionsPolicy,
    pub second_factor: second_factor::SecondFactorPolicy,
    pub holds: holds::HoldPolicy,
}

impl Default for TrustConfig {
    fn default() -> TrustConfig {
        TrustConfig {
            default_tier: Tier::ZERO,
            limits: limits::LimitsPolicy::default(),
            rules: rules::RulesPolicy::default(),
            sanctions: sanctions::SanctionsPolicy::default(),
            second_factor: second_factor::SecondFactorPolicy::default(),
            holds: holds::HoldPolicy::default(),
        }
    }
}

impl TrustConfig {
    /// The highest tier configured (`[trust.limits.tiers.N]`; tier 0
    /// when none is).
    pub fn highest_tier(&self) -> Tier {
        self.limits
            .tiers()
            .iter()
            .map(|t| t.tier)
            .max()
            .unwrap_or(Tier::ZERO)
    }

    /// The configured name of `tier`, if it is configured.
    pub fn tier_name(&self, tier: Tier) -> Option<String> {
        self.limits
            .tiers()
            .iter()
            .find(|t| t.tier == tier)
            .map(|t| t.name.to_string())
    }
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
