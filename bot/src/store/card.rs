//! Cards: linked cards, card operations through the rail, and `/card add`
//! waiting for its code.
//!
//! The one decision to know: no record holds a card number, only the rail's
//! token, what is shown (brand, last 4, expiry) and the keyed fingerprint;
//! an operation is written `Sent` before the rail is called, so a crash
//! leaves a request to resend, never one lost.

use ledger::{Amount, TransferId};

#[cfg(doc)]
use super::Store;
use super::UserId;
use crate::card::{Brand, CardFingerprint, CardToken, DeclineCode, Expiry, Last4, RailReference};
use crate::command::ShortRef;
use crate::message::{Platform, PlatformUserId};
use crate::otp::OtpChallenge;
use crate::trust::Review;

/// A card linked to a wallet. Never its number: the rail's token, what is
/// shown (brand, last 4, expiry) and the keyed fingerprint that stops the
/// same card being linked twice by one user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedCard {
    /// Assigned by the store (ignored by [`Store::insert_card`]).
    pub id: i64,
    pub user: UserId,
    pub token: CardToken,
    pub brand: Brand,
    pub last4: Last4,
    pub expiry: Expiry,
    pub fingerprint: CardFingerprint,
    pub created_at_ms: i64,
    /// The identity that confirmed the card's `/card add`: the card goes
    /// with it when it leaves a shared wallet (`/unlink`). `None` for cards
    /// linked before this was recorded (adder unknown: they stay with the
    /// wallet).
    pub added_by: Option<(Platform, PlatformUserId)>,
}

stored_names! {
    /// Which way money moves through the card rail.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    pub enum CardOpKind {
        /// Card → wallet (a rail pull).
        TopUp = "topup",
        /// Wallet → card (a rail push).
        CashOut = "cashout",
    }
}

stored_names! {
    /// Where a card operation stands. Transitions (all compare-and-swap):
    ///
    /// ```text
    /// AwaitingCode --confirm--> Sent --rail 202--> Pending
    ///              --cancel / wrong codes / leaked / timeout--> Cancelled | LockedOut | Leaked | Expired
    /// Sent | Pending --approved, ledger updated--> Completed
    ///                --declined, ledger updated--> Declined
    /// AwaitingCode --confirm, reserved, held for review--> Held --approve--> Sent
    ///                                                           --reject--> Rejected
    ///                                                           --timeout-> HoldExpired
    /// ```
    ///
    /// `Sent` is written before the rail is called, `Completed` and `Declined`
    /// after the ledger was brought in line with the rail's answer, so a crash
    /// anywhere leaves `Sent` (resend the identical request) or `Pending` (ask
    /// for its status), and the ledger's derived ids make re-applying harmless.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    pub enum CardOpState {
        AwaitingCode = "awaiting_code",
        Sent = "sent",
        Pending = "pending",
        Completed = "completed",
        Declined = "declined",
        Cancelled = "cancelled",
        Expired = "expired",
        LockedOut = "locked_out",
        Leaked = "leaked",
        /// A cash-out confirmed and reserved, waiting for an operator's
        /// review before it goes to the rail.
        Held = "held",
        /// Rejected after review; the reservation was released.
        Rejected = "rejected",
        /// Nobody reviewed it in time; the reservation was released.
        HoldExpired = "hold_expired",
    }
}

impl CardOpState {
    /// No further transition is possible.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            CardOpState::AwaitingCode
                | CardOpState::Sent
                | CardOpState::Pending
                | CardOpState::Held
        )
    }
}

/// One `/topup` or `/cashout`: the durable record of its rail request.
#[derive(Clone, Debug)]
pub struct CardOp {
    /// What users type (`/cancel T7K2QX`). Unique.
    pub reference: ShortRef,
    /// The operation's id: whatever the rail needs to recognise a resend,
    /// and every ledger transfer of the operation, derive from it. Unique.
    pub transfer_id: TransferId,
    pub kind: CardOpKind,
    pub user: UserId,
    /// The identity that typed the command: where the user is told things.
    pub platform: Platform,
    pub platform_user_id: PlatformUserId,
    /// The card, as it was when the operation started (a card removed
    /// later does not orphan a request in flight).
    pub token: CardToken,
    pub brand: Brand,
    pub last4: Last4,
    /// What moves through the rail.
    pub amount: Amount,
    /// Cash-out only: the instant-payout fee, in the amount's currency
    /// (zero minor units: none).
    pub fee_minor: i64,
    pub challenge: OtpChallenge,
    pub state: CardOpState,
    /// What the policy point asked of it beyond the code.
    pub review: Review,
    /// When the rail request was first made (`Sent` onwards): a resend
    /// carries the same time, so it is the same request field for field.
    pub initiated_at_ms: Option<i64>,
    /// The rail's reference of a request it has not decided yet (opaque;
    /// stored in the column `status_id`).
    pub rail_reference: Option<RailReference>,
    /// The rail's own code of a decline (opaque; stored in the column
    /// `action_code`).
    pub decline_code: Option<DeclineCode>,
    /// Rail calls made for this operation (resends and status queries).
    pub rail_attempts: u32,
    /// When the sweeper should look again: the code's expiry while
    /// `AwaitingCode`, the next resend or status query while `Sent` or
    /// `Pending`; `None` once final.
    pub due_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub revision: i64,
}

stored_names! {
    /// Where a `/card add` stands. Transitions (all compare-and-swap):
    ///
    /// ```text
    /// AwaitingCode --confirm--> Linked (the card is in `bot_cards`, same transaction)
    ///              --confirm, held for review--> Held --approve--> Linked
    ///                                                 --reject / timeout--> Rejected | HoldExpired
    ///              --cancel / wrong codes / leaked / timeout--> Cancelled | LockedOut | Leaked | Expired
    /// ```
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    pub enum CardAddState {
        AwaitingCode = "awaiting_code",
        Linked = "linked",
        Cancelled = "cancelled",
        Expired = "expired",
        LockedOut = "locked_out",
        Leaked = "leaked",
        /// Confirmed, and waiting for an operator's review before it is
        /// linked.
        Held = "held",
        /// Not linked after review.
        Rejected = "rejected",
        /// Nobody reviewed it in time; not linked.
        HoldExpired = "hold_expired",
    }
}

/// One `/card add` waiting for (or past) its code. It holds what a linked
/// card holds (the rail's token, brand, last 4, expiry, keyed fingerprint),
/// never the number: the card was tokenized before the code was sent, so
/// the number lived only in memory, for the one message that carried it.
#[derive(Clone, Debug)]
pub struct CardAdd {
    /// What users type (`/cancel A7K2QXM`). Unique.
    pub reference: ShortRef,
    /// The code's binding (derived from the chat event). Unique.
    pub add_id: TransferId,
    pub user: UserId,
    /// The identity that typed the command: where the user is told things.
    pub platform: Platform,
    pub platform_user_id: PlatformUserId,
    pub token: CardToken,
    pub brand: Brand,
    pub last4: Last4,
    pub expiry: Expiry,
    pub fingerprint: CardFingerprint,
    pub challenge: OtpChallenge,
    pub state: CardAddState,
    /// What the policy point asked of it beyond the code.
    pub review: Review,
    /// The code's expiry while `AwaitingCode`, the review's deadline while
    /// `Held`; `None` once final.
    pub due_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub revision: i64,
}

/// The outcome of [`Store::link_card_add`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CardAddLinked {
    /// The add is `Linked` and this card is in the user's cards.
    Linked(LinkedCard),
    /// The user already has a card with this fingerprint; the add is
    /// `Linked` all the same (it did what it was for).
    AlreadyLinked,
    /// The add was no longer at the given revision (cancelled, expired,
    /// or linked by a concurrent confirm): nothing changed.
    Changed,
}
