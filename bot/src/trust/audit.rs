//! The audit log: every trust decision (limit checked, rule fired and its
//! inputs, second factor asked and its answer, screening hit, hold opened
//! and resolved, tier changed, operator action and by whom), appended to a
//! table the database refuses to update or delete.

use std::fmt;

use crate::store::UserId;

/// Most entries one read of the log returns.
pub const AUDIT_PAGE_MAX: u32 = 10_000;
/// The longest actor name (an operator's or a provider's), in bytes.
pub const ACTOR_NAME_BYTES_MAX: usize = 64;

/// Who decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// paybot's own policy (limits, rules, screening, timeouts).
    System,
    /// The user themselves (a second factor given, a hold they cancelled).
    User(UserId),
    /// An operator, by the name they gave (`paybot admin ... --by`, or the
    /// API token's name).
    Operator(String),
    /// A verification provider, by name.
    Provider(String),
}

impl Actor {
    /// As stored: `system`, `user:42`, `operator:NAME`, `provider:NAME`.
    pub fn to_text(&self) -> String {
        match self {
            Actor::System => "system".to_owned(),
            Actor::User(user) => format!("user:{user}"),
            Actor::Operator(name) => format!("operator:{name}"),
            Actor::Provider(name) => format!("provider:{name}"),
        }
    }

    pub fn parse(text: &str) -> Option<Actor> {
        if text == "system" {
            return Some(Actor::System);
        }
        let (kind, rest) = text.split_once(':')?;
        match kind {
            "user" => rest.parse().ok().map(|id| Actor::User(UserId(id))),
            "operator" if !rest.is_empty() => Some(Actor::Operator(rest.to_owned())),
            "provider" if !rest.is_empty() => Some(Actor::Provider(rest.to_owned())),
            _ => None,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// What was decided. Stored by [`AuditKind::as_str`]; the names are stable.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AuditKind {
    /// A limit was checked (its name, what was asked, what was left).
    LimitChecked,
    /// A fraud or velocity rule fired (its name, action and inputs).
    RuleFired,
    /// A second factor was asked for.
    SecondFactorAsked,
    /// A second factor was given (right or wrong), enrolled or removed.
    SecondFactorResult,
    /// A name matched the sanctions list.
    ScreeningHit,
    /// An action was held for review.
    HoldOpened,
    /// A hold was approved, rejected or timed out.
    HoldResolved,
    /// A user's tier changed.
    TierChanged,
    /// Anything else an operator did.
    OperatorAction,
    /// A verification provider's callback arrived.
    VerificationCallback,
    /// The sanctions list was replaced.
    SanctionsLoaded,
    /// A payer took back a payment with `/undo` (its reference, payees and
    /// amount).
    PaymentReversed,
}

impl AuditKind {
    pub const ALL: [AuditKind; 12] = [
        AuditKind::LimitChecked,
        AuditKind::RuleFired,
        AuditKind::SecondFactorAsked,
        AuditKind::SecondFactorResult,
        AuditKind::ScreeningHit,
        AuditKind::HoldOpened,
        AuditKind::HoldResolved,
        AuditKind::TierChanged,
        AuditKind::OperatorAction,
        AuditKind::VerificationCallback,
        AuditKind::SanctionsLoaded,
        AuditKind::PaymentReversed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::LimitChecked => "limit_checked",
            AuditKind::RuleFired => "rule_fired",
            AuditKind::SecondFactorAsked => "second_factor_asked",
            AuditKind::SecondFactorResult => "second_factor_result",
            AuditKind::ScreeningHit => "screening_hit",
            AuditKind::HoldOpened => "hold_opened",
            AuditKind::HoldResolved => "hold_resolved",
            AuditKind::TierChanged => "tier_changed",
            AuditKind::OperatorAction => "operator_action",
            AuditKind::VerificationCallback => "verification_callback",
            AuditKind::SanctionsLoaded => "sanctions_loaded",
            AuditKind::PaymentReversed => "payment_reversed",
        }
    }

    pub fn parse(text: &str) -> Option<AuditKind> {
        AuditKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// One entry to append.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub at_ms: i64,
    pub actor: Actor,
    /// The user the decision is about, if one.
    pub user: Option<UserId>,
    pub kind: AuditKind,
    /// What it is about: a payment's or card operation's reference, a
    /// hold's id, a transfer id.
    pub subject: Option<String>,
    /// The decision's inputs and result, a JSON object.
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl AuditEntry {
    pub fn new(at_ms: i64, actor: Actor, kind: AuditKind) -> AuditEntry {
        AuditEntry {
            at_ms,
            actor,
            user: None,
            kind,
            subject: None,
            details: serde_json::Map::new(),
        }
    }

    pub fn user(mut self, user: UserId) -> AuditEntry {
        self.user = Some(user);
        self
    }

    pub fn subject(mut self, subject: impl Into<String>) -> AuditEntry {
        self.subject = Some(subject.into());
        self
    }

    /// Adds one input or result to the details.
    pub fn detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> AuditEntry {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}

/// An entry as stored, with its id (the order of appending).
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    pub entry: AuditEntry,
}

impl AuditRecord {
    /// One JSON object (a line of `paybot admin audit --json`).
    pub fn to_json(&self) -> serde_json::Value {
        let entry = &self.entry;
        serde_json::json!({
            "id": self.id,
            "at_ms": entry.at_ms,
            "actor": entry.actor.to_text(),
            "user": entry.user.map(|u| u.0),
            "kind": entry.kind.as_str(),
            "subject": entry.subject,
            "details": entry.details,
        })
    }
}

/// Which entries to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditFilter {
    pub user: Option<UserId>,
    /// Only entries at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Only entries with an id above this one (paging).
    pub after_id: Option<i64>,
    pub kind: Option<AuditKind>,
    /// Only entries about this subject.
    pub subject: Option<String>,
    pub limit: u32,
}

impl Default for AuditFilter {
    fn default() -> AuditFilter {
        AuditFilter {
            user: None,
            since_ms: None,
            after_id: None,
            kind: None,
            subject: None,
            limit: AUDIT_PAGE_MAX,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_read_back() {
        for actor in [
            Actor::System,
            Actor::User(UserId(42)),
            Actor::Operator("ana".to_owned()),
            Actor::Provider("acme".to_owned()),
        ] {
            assert_eq!(Actor::parse(&actor.to_text()), Some(actor));
        }
        assert_eq!(Actor::parse("operator:"), None);
        assert_eq!(Actor::parse("user:x"), None);
    }

    #[test]
    fn kinds_read_back() {
        for kind in AuditKind::ALL {
            assert_eq!(AuditKind::parse(kind.as_str()), Some(kind));
        }
    }
}
