//! Holds for review: a payment or cash-out a rule or a screening hit sent
//! to an operator. The money is a pending transfer while held (reserved,
//! nothing lost); an operator approves or rejects it, and one nobody
//! decides is voided at its timeout and the user told.

use ledger::Amount;

use crate::command::ShortRef;
use crate::store::UserId;

/// How long a hold waits for an operator by default (72 hours).
pub const HOLD_TIMEOUT_SECS_DEFAULT: u32 = 72 * 60 * 60;
/// The longest reason an operator gives, in characters.
pub const HOLD_REASON_CHARS_MAX: usize = 200;
/// Most holds one listing returns.
pub const HOLDS_LISTED_MAX: u32 = 1_000;

/// `[trust.holds]`.
#[derive(Debug, Clone)]
pub struct HoldPolicy {
    /// How long a hold waits for a decision before it is voided.
    pub timeout_secs: u32,
}

impl Default for HoldPolicy {
    fn default() -> HoldPolicy {
        HoldPolicy {
            timeout_secs: HOLD_TIMEOUT_SECS_DEFAULT,
        }
    }
}

/// What is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldKind {
    Payment,
    CashOut,
    /// Linking a card (a sanctions match); no money is reserved.
    CardLink,
}

impl HoldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldKind::Payment => "payment",
            HoldKind::CashOut => "cash-out",
            HoldKind::CardLink => "card link",
        }
    }
}

/// A hold waiting for an operator, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldView {
    /// The held payment's or cash-out's reference: the hold's id.
    pub id: ShortRef,
    pub kind: HoldKind,
    pub user: UserId,
    /// What is reserved; none for a card link.
    pub amount: Option<Amount>,
    /// The rule or screening that held it.
    pub reason: String,
    pub opened_at_ms: i64,
    /// When it is voided if nobody decides.
    pub due_at_ms: i64,
}

/// An operator's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldDecision {
    Approve,
    Reject,
}

impl HoldDecision {
    /// As the audit log records it: `approved`, `rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldDecision::Approve => "approved",
            HoldDecision::Reject => "rejected",
        }
    }
}

/// What deciding a hold did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoldOutcome {
    /// The money moved (or the cash-out went on to the rail).
    Approved,
    /// The money went back to the user.
    Rejected,
    /// No hold has this id.
    NotFound,
    /// It was decided already, or timed out: its state now.
    AlreadyEnded(String),
    /// The reason is empty or longer than [`HOLD_REASON_CHARS_MAX`].
    InvalidReason,
}
