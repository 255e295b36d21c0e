//! Payments, requests and splits: what a transfer means to the people in it.
//!
//! The one decision to know: each record names its ledger transfer and a
//! state whose transitions are compare-and-swap on `revision` (see the
//! [`Store`](super::Store) port); money itself is only in the ledger.

use ledger::{Amount, TransferId};

#[cfg(doc)]
use super::Store;
use super::UserId;
use crate::command::{Memo, ShortRef};
use crate::message::{ChatId, Handle, Platform, PlatformUserId};
use crate::otp::OtpChallenge;
use crate::trust::Review;

stored_names! {
    /// Where a payment stands. Transitions (all compare-and-swap):
    ///
    /// ```text
    /// AwaitingCode --confirm--> Completed            (known payee)
    ///              --confirm--> Escrowed --claim--> Claimed
    ///                                    --timeout-> Refunded
    ///              --cancel / 5 wrong / leaked / timeout--> Cancelled | LockedOut | Leaked | Expired
    ///              --confirm, held for review--> Held --approve--> Completed | Escrowed
    ///                                                 --reject--> Rejected
    ///                                                 --timeout-> HoldExpired
    /// Completed --undo, within the window--> Reversed
    /// ```
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    pub enum PaymentState {
        AwaitingCode = "awaiting_code",
        Completed = "completed",
        Escrowed = "escrowed",
        Claimed = "claimed",
        Refunded = "refunded",
        Cancelled = "cancelled",
        Expired = "expired",
        LockedOut = "locked_out",
        Leaked = "leaked",
        /// Confirmed, and waiting for an operator's review; the money is
        /// reserved.
        Held = "held",
        /// An operator rejected it after review; the money went back.
        Rejected = "rejected",
        /// Nobody reviewed it in time; the money went back.
        HoldExpired = "hold_expired",
        /// Completed, then taken back by its payer with `/undo` (a
        /// reversing transfer from the payee).
        Reversed = "reversed",
    }
}

impl PaymentState {
    /// No further transition is possible.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            PaymentState::AwaitingCode | PaymentState::Escrowed | PaymentState::Held
        )
    }
}

/// Who receives a payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payee {
    /// A user paybot knows, reached through this identity.
    User {
        user: UserId,
        platform: Platform,
        id: PlatformUserId,
    },
    /// A handle no one has claimed yet on `platform`: paid into escrow.
    Unclaimed { platform: Platform, handle: Handle },
}

impl Payee {
    pub fn user(&self) -> Option<UserId> {
        match self {
            Payee::User { user, .. } => Some(*user),
            Payee::Unclaimed { .. } => None,
        }
    }
}

/// One `/pay` (or an approved request): the pending transfer it created, the
/// code that guards it, and where it stands.
#[derive(Clone, Debug)]
pub struct Payment {
    /// What users type (`/cancel P7K2QX`). Unique.
    pub reference: ShortRef,
    /// The pending transfer the code guards (payer → payee wallet, or payer
    /// → escrow). Unique.
    pub transfer_id: TransferId,
    pub payer: UserId,
    /// The identity that typed the command: where the payer is told things.
    pub payer_platform: Platform,
    pub payer_id: PlatformUserId,
    /// Set when an unclaimed payee's user appears (claim) or at once.
    pub payee: Payee,
    /// Display form of the payee for messages (`@bob`, or a display name).
    pub payee_label: String,
    pub amount: Amount,
    pub memo: Option<Memo>,
    /// The request this payment pays, if any.
    pub request: Option<ShortRef>,
    /// The group chat the payment was typed in (announced there when done).
    pub origin_chat: Option<ChatId>,
    pub challenge: OtpChallenge,
    /// What the policy point asked of it beyond the code.
    pub review: Review,
    pub state: PaymentState,
    /// When the current state stops holding by itself: the code's expiry
    /// while [`PaymentState::AwaitingCode`], the escrow's refund time while
    /// [`PaymentState::Escrowed`], the review's deadline while
    /// [`PaymentState::Held`]; `None` once final.
    pub due_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub revision: i64,
}

stored_names! {
    /// Where a request stands.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    pub enum RequestState {
        Open = "open",
        /// Claimed by the payment `payment` (in the commit that reserved
        /// its money). While that payment is not final the request cannot
        /// be paid again, declined or withdrawn; once it ended without
        /// moving money the request is payable (and withdrawable) again.
        Approved = "approved",
        Paid = "paid",
        Declined = "declined",
        /// Left open past its `expires_at_ms`: it can no longer be paid.
        Expired = "expired",
    }
}

/// `/request @bob 20` or one share of a split: `payer` is asked to pay
/// `requester`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentRequest {
    pub reference: ShortRef,
    pub requester: UserId,
    pub requester_platform: Platform,
    pub requester_id: PlatformUserId,
    pub requester_label: String,
    pub payer: UserId,
    pub payer_platform: Platform,
    pub payer_id: PlatformUserId,
    pub payer_label: String,
    pub amount: Amount,
    pub memo: Option<Memo>,
    pub split: Option<ShortRef>,
    pub state: RequestState,
    /// The payment started by `/approve` (the latest one).
    pub payment: Option<ShortRef>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// When an open request expires (both sides told); `None`: never (an
    /// invoice has its own due date, a recurring request's period its
    /// own life).
    pub expires_at_ms: Option<i64>,
    /// How often the requester reminded the payer (`/remind`), and when
    /// last.
    pub reminders: u32,
    pub reminded_at_ms: Option<i64>,
    pub revision: i64,
}

/// A `/split`: the requests it made are found by their `split` field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    pub reference: ShortRef,
    pub creator: UserId,
    pub platform: Platform,
    pub chat: ChatId,
    pub total: Amount,
    /// The creator's own share, which nobody owes.
    pub creator_share: Amount,
    pub memo: Option<Memo>,
    pub created_at_ms: i64,
}

/// Which side of a request [`Store::requests_since`] counts.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RequestSide {
    /// Requests the user made (their `/request`s and split shares).
    Made,
    /// Requests made to the user.
    Received,
}
