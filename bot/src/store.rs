//! The bot's own state, behind a port: who is who, payments waiting for a
//! code, requests, splits, link codes, and which chat events were handled.
//!
//! Money is not here: balances and transfers live in the `ledger`, which is
//! the truth. These records say what a transfer *means* to people (who typed
//! which command, which code guards it) and carry each workflow's state.
//!
//! The design decision to know: every mutable record has a `revision`, and
//! updates are compare-and-swap on it ([`Store::update_payment`] returns
//! `false` when someone else changed the record first). Two deliveries of one
//! `/confirm`, or a confirm racing the expiry sweep, cannot both win. The
//! ledger's own idempotency (ids derived from the event or the record) makes
//! the money side safe to repeat; the revision makes the record side single.
//!
//! The SQL implementation lives in the `paybot` package (SQLite and
//! PostgreSQL), so this crate needs no database driver.

use std::fmt;

use async_trait::async_trait;
use ledger::{Amount, TransferId};

use crate::card::{Brand, CardFingerprint, CardToken, DeclineCode, Expiry, Last4, RailReference};
use crate::command::{Memo, ShortRef};
use crate::message::{ChatId, EventId, Handle, Platform, PlatformUserId};
use crate::otp::{OTP_HASH_BYTES, OtpChallenge};

/// A paybot user: one wallet (one ledger account per currency), one or more
/// platform identities.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct UserId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A store failure. The store is unavailable or broken; the caller answers
/// "try again" and logs this.
#[derive(Debug, thiserror::Error)]
#[error("bot store: {0}")]
pub struct StoreError(pub Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
        StoreError(Box::new(error))
    }

    /// A record that cannot be read back (a corrupt row).
    pub fn corrupt(what: impl Into<String>) -> StoreError {
        StoreError(what.into().into())
    }
}

impl From<ledger::LedgerError> for StoreError {
    fn from(error: ledger::LedgerError) -> StoreError {
        StoreError::new(error)
    }
}

/// A platform identity as last seen, joined to its user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub platform: Platform,
    pub id: PlatformUserId,
    pub user: UserId,
    pub handle: Option<Handle>,
    /// [`crate::identity::skeleton`] of the handle, for look-alike search.
    pub skeleton: Option<String>,
    pub display_name: String,
    /// The user has talked to the bot themselves (not only been mentioned).
    pub started: bool,
    /// The user has written to the bot in a direct chat, so the bot may
    /// message them privately (Telegram forbids a bot to open a DM).
    pub dm_open: bool,
    /// The first sighting (the identity's own message, or a mention of it),
    /// never updated: escrow for a handle is released only to an identity
    /// first seen at or after the payment (a known one that took the handle
    /// since gets nothing).
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// When the identity started using its current wallet (first seen, or
    /// its last link or unlink).
    pub user_since_ms: i64,
}

/// What a chat event tells about a user, for [`Store::upsert_identity`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenUser {
    pub platform: Platform,
    pub id: PlatformUserId,
    pub handle: Option<Handle>,
    pub skeleton: Option<String>,
    pub display_name: String,
    /// This event was sent by the user (sets [`Identity::started`]); a
    /// mention leaves it as it was.
    pub speaking: bool,
    /// This event is the user's own message in a direct chat with the bot:
    /// sets [`Identity::dm_open`] (never cleared).
    pub direct: bool,
}

/// The outcome of [`Store::claim_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventClaim {
    /// First delivery (or an earlier attempt's lease ran out): handle it.
    New,
    /// Handled already; this is the stored outcome (an opaque text the core
    /// wrote with [`Store::finish_event`]).
    Done(String),
    /// Another worker is handling it right now.
    InProgress,
}

/// Where a payment stands. Transitions (all compare-and-swap):
///
/// ```text
/// AwaitingCode --confirm--> Completed            (known payee)
///              --confirm--> Escrowed --claim--> Claimed
///                                    --timeout-> Refunded
///              --cancel / 5 wrong / leaked / timeout--> Cancelled | LockedOut | Leaked | Expired
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PaymentState {
    AwaitingCode,
    Completed,
    Escrowed,
    Claimed,
    Refunded,
    Cancelled,
    Expired,
    LockedOut,
    Leaked,
}

impl PaymentState {
    pub const ALL: [PaymentState; 9] = [
        PaymentState::AwaitingCode,
        PaymentState::Completed,
        PaymentState::Escrowed,
        PaymentState::Claimed,
        PaymentState::Refunded,
        PaymentState::Cancelled,
        PaymentState::Expired,
        PaymentState::LockedOut,
        PaymentState::Leaked,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentState::AwaitingCode => "awaiting_code",
            PaymentState::Completed => "completed",
            PaymentState::Escrowed => "escrowed",
            PaymentState::Claimed => "claimed",
            PaymentState::Refunded => "refunded",
            PaymentState::Cancelled => "cancelled",
            PaymentState::Expired => "expired",
            PaymentState::LockedOut => "locked_out",
            PaymentState::Leaked => "leaked",
        }
    }

    pub fn from_str_opt(text: &str) -> Option<PaymentState> {
        PaymentState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// No further transition is possible.
    pub fn is_final(self) -> bool {
        !matches!(self, PaymentState::AwaitingCode | PaymentState::Escrowed)
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
    pub state: PaymentState,
    /// When the current state stops holding by itself: the code's expiry
    /// while [`PaymentState::AwaitingCode`], the escrow's refund time while
    /// [`PaymentState::Escrowed`]; `None` once final.
    pub due_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub revision: i64,
}

/// Where a request stands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RequestState {
    Open,
    /// Approved: a payment (`payment`) is waiting for the payer's code.
    Approved,
    Paid,
    Declined,
}

impl RequestState {
    pub const ALL: [RequestState; 4] = [
        RequestState::Open,
        RequestState::Approved,
        RequestState::Paid,
        RequestState::Declined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Open => "open",
            RequestState::Approved => "approved",
            RequestState::Paid => "paid",
            RequestState::Declined => "declined",
        }
    }

    pub fn from_str_opt(text: &str) -> Option<RequestState> {
        RequestState::ALL.into_iter().find(|s| s.as_str() == text)
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

/// Which way money moves through the card rail.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CardOpKind {
    /// Card → wallet (a rail pull).
    TopUp,
    /// Wallet → card (a rail push).
    CashOut,
}

impl CardOpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CardOpKind::TopUp => "topup",
            CardOpKind::CashOut => "cashout",
        }
    }

    pub fn from_str_opt(text: &str) -> Option<CardOpKind> {
        [CardOpKind::TopUp, CardOpKind::CashOut]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// Where a card operation stands. Transitions (all compare-and-swap):
///
/// ```text
/// AwaitingCode --confirm--> Sent --rail 202--> Pending
///              --cancel / wrong codes / leaked / timeout--> Cancelled | LockedOut | Leaked | Expired
/// Sent | Pending --approved, ledger updated--> Completed
///                --declined, ledger updated--> Declined
/// ```
///
/// `Sent` is written before the rail is called, `Completed` and `Declined`
/// after the ledger was brought in line with the rail's answer, so a crash
/// anywhere leaves `Sent` (resend the identical request) or `Pending` (ask
/// for its status), and the ledger's derived ids make re-applying harmless.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CardOpState {
    AwaitingCode,
    Sent,
    Pending,
    Completed,
    Declined,
    Cancelled,
    Expired,
    LockedOut,
    Leaked,
}

impl CardOpState {
    pub const ALL: [CardOpState; 9] = [
        CardOpState::AwaitingCode,
        CardOpState::Sent,
        CardOpState::Pending,
        CardOpState::Completed,
        CardOpState::Declined,
        CardOpState::Cancelled,
        CardOpState::Expired,
        CardOpState::LockedOut,
        CardOpState::Leaked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CardOpState::AwaitingCode => "awaiting_code",
            CardOpState::Sent => "sent",
            CardOpState::Pending => "pending",
            CardOpState::Completed => "completed",
            CardOpState::Declined => "declined",
            CardOpState::Cancelled => "cancelled",
            CardOpState::Expired => "expired",
            CardOpState::LockedOut => "locked_out",
            CardOpState::Leaked => "leaked",
        }
    }

    pub fn from_str_opt(text: &str) -> Option<CardOpState> {
        CardOpState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// No further transition is possible.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            CardOpState::AwaitingCode | CardOpState::Sent | CardOpState::Pending
        )
    }
}

/// One `/topup` or `/cashout`: the durable record of its rail request.
#[derive(Clone, Debug)]
pub struct CardOp {
    /// What users type (`/cancel T7K2QX`). Unique.
    pub reference: ShortRef,
    /// The operation's id: the rail request's trace numbers and every
    /// ledger transfer of the operation derive from it. Unique.
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
    /// When the rail request was first made (`Sent` onwards): a resend
    /// carries the same time, so it is the same request field for field.
    pub initiated_at_ms: Option<i64>,
    /// The rail's reference of a request it has not decided yet (opaque;
    /// the column keeps its historical name).
    pub status_id: Option<RailReference>,
    /// The rail's own code of a decline (opaque; the column keeps its
    /// historical name).
    pub action_code: Option<DeclineCode>,
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

/// Where a `/card add` stands. Transitions (all compare-and-swap):
///
/// ```text
/// AwaitingCode --confirm--> Linked (the card is in `bot_cards`, same transaction)
///              --cancel / wrong codes / leaked / timeout--> Cancelled | LockedOut | Leaked | Expired
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CardAddState {
    AwaitingCode,
    Linked,
    Cancelled,
    Expired,
    LockedOut,
    Leaked,
}

impl CardAddState {
    pub const ALL: [CardAddState; 6] = [
        CardAddState::AwaitingCode,
        CardAddState::Linked,
        CardAddState::Cancelled,
        CardAddState::Expired,
        CardAddState::LockedOut,
        CardAddState::Leaked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CardAddState::AwaitingCode => "awaiting_code",
            CardAddState::Linked => "linked",
            CardAddState::Cancelled => "cancelled",
            CardAddState::Expired => "expired",
            CardAddState::LockedOut => "locked_out",
            CardAddState::Leaked => "leaked",
        }
    }

    pub fn from_str_opt(text: &str) -> Option<CardAddState> {
        CardAddState::ALL.into_iter().find(|s| s.as_str() == text)
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
    /// The code's expiry while `AwaitingCode`; `None` once final.
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

/// Which side of a request [`Store::requests_since`] counts.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RequestSide {
    /// Requests the user made (their `/request`s and split shares).
    Made,
    /// Requests made to the user.
    Received,
}

/// A `/link` code, stored as a keyed hash.
pub type LinkCodeHash = [u8; OTP_HASH_BYTES];

/// A `/link CODE` waiting for its `/link confirm`: the identity that sent
/// the code and the wallet the code belongs to. Nothing has moved yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingLink {
    pub platform: Platform,
    pub id: PlatformUserId,
    /// The identity's user when it sent the code: the wallet it would
    /// leave (its money moves to `to` on confirmation).
    pub from: UserId,
    /// The wallet the code belongs to.
    pub to: UserId,
    pub created_at_ms: i64,
    /// The confirmation is refused from this instant on.
    pub expires_at_ms: i64,
}

/// The bounds on wrong `/link` codes that [`Store::begin_link_attempt`]
/// enforces: at most `per_identity_max` from one identity within any
/// `per_identity_window_ms`, at most `global_max` from everyone together
/// within any `global_window_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkAttemptBounds {
    pub per_identity_max: u32,
    pub per_identity_window_ms: i64,
    pub global_max: u32,
    pub global_window_ms: i64,
}

/// The verdict of [`Store::begin_link_attempt`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkAttempt {
    /// Try the code. The attempt counts as a wrong code until
    /// [`Store::forget_link_attempt`] is called with this id (the code was
    /// right).
    Allowed { attempt: i64 },
    /// Too many wrong codes from this identity; one frees up at `until_ms`.
    IdentityBound { until_ms: i64 },
    /// Too many wrong codes from everyone; one frees up at `until_ms`.
    GlobalBound { until_ms: i64 },
}

/// The bot's persistent state. Implementations must make each method atomic
/// on its own; the core never needs a transaction across methods (it orders
/// its writes so that a crash between two of them is repaired by a retry).
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug + 'static {
    // -- events ----------------------------------------------------------

    /// Claims a chat event for handling. `lease_ms`: an unfinished claim
    /// older than this (its worker crashed) may be claimed again.
    async fn claim_event(
        &self,
        platform: Platform,
        event: &EventId,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<EventClaim, StoreError>;

    /// Records the outcome of a claimed event; redeliveries get it back.
    async fn finish_event(
        &self,
        platform: Platform,
        event: &EventId,
        outcome: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Gives up a claim (handling failed before changing anything), so a
    /// redelivery is handled afresh.
    async fn release_event(&self, platform: Platform, event: &EventId) -> Result<(), StoreError>;

    /// Forgets the outcomes of events finished before `before_ms` (a
    /// redelivery that late is handled afresh, and its derived ids make it
    /// change nothing). Returns how many were forgotten.
    async fn forget_events(&self, before_ms: i64) -> Result<u64, StoreError>;

    // -- identities ------------------------------------------------------

    async fn identity(
        &self,
        platform: Platform,
        id: &PlatformUserId,
    ) -> Result<Option<Identity>, StoreError>;

    /// Records a sighting: creates the identity (and a new user for it) when
    /// new, else refreshes handle, skeleton, display name and last seen, and
    /// sets `started` when `seen.speaking` and `dm_open` when `seen.direct`
    /// (neither is ever cleared). Returns the identity and whether
    /// this call is a first contact: `seen.speaking`, and `started` was false
    /// before (or the identity is new). A mention is never a first contact.
    async fn upsert_identity(
        &self,
        seen: &SeenUser,
        now_ms: i64,
    ) -> Result<(Identity, bool), StoreError>;

    /// Identities on `platform` whose current handle is `handle`, most
    /// recently seen first.
    async fn identities_with_handle(
        &self,
        platform: Platform,
        handle: &Handle,
    ) -> Result<Vec<Identity>, StoreError>;

    /// Identities on `platform` whose handle has `skeleton`, most recently
    /// seen first, at most `limit`.
    async fn identities_with_skeleton(
        &self,
        platform: Platform,
        skeleton: &str,
        limit: u32,
    ) -> Result<Vec<Identity>, StoreError>;

    /// Every identity of a user, most recently seen first.
    async fn identities_of(&self, user: UserId) -> Result<Vec<Identity>, StoreError>;

    /// Joins an identity to another user's wallet (`/link`).
    async fn move_identity(
        &self,
        platform: Platform,
        id: &PlatformUserId,
        to: UserId,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    // -- link codes ------------------------------------------------------

    /// Stores a link code for `user`, replacing that user's earlier one.
    async fn put_link_code(
        &self,
        hash: &LinkCodeHash,
        user: UserId,
        expires_at_ms: i64,
    ) -> Result<(), StoreError>;

    /// Removes the code and returns its user if it was there and not expired
    /// at `now_ms`. Single use: two concurrent takes, one winner.
    async fn take_link_code(
        &self,
        hash: &LinkCodeHash,
        now_ms: i64,
    ) -> Result<Option<UserId>, StoreError>;

    // -- link confirmations, wrong link codes, unlink --------------------

    /// Stores a `/link CODE` waiting for its confirmation, replacing the
    /// identity's earlier one.
    async fn put_pending_link(&self, link: &PendingLink) -> Result<(), StoreError>;

    /// The identity's link waiting for confirmation, if not expired at
    /// `now_ms`.
    async fn pending_link(
        &self,
        platform: Platform,
        id: &PlatformUserId,
        now_ms: i64,
    ) -> Result<Option<PendingLink>, StoreError>;

    /// Removes the identity's waiting link and returns it if it was not
    /// expired at `now_ms`. Single use: two concurrent takes, one winner.
    async fn take_pending_link(
        &self,
        platform: Platform,
        id: &PlatformUserId,
        now_ms: i64,
    ) -> Result<Option<PendingLink>, StoreError>;

    /// Before a link code is tried: counts the wrong codes of this
    /// identity and of everyone within the windows of `bounds` and, if
    /// both are under their bound, records this attempt (as wrong until
    /// [`Store::forget_link_attempt`]). Check and record are one atomic
    /// step: concurrent attempts cannot all slip under a bound. Attempts
    /// older than the longest window are forgotten.
    async fn begin_link_attempt(
        &self,
        platform: Platform,
        id: &PlatformUserId,
        now_ms: i64,
        bounds: &LinkAttemptBounds,
    ) -> Result<LinkAttempt, StoreError>;

    /// The code of `attempt` was right: it does not count as wrong.
    async fn forget_link_attempt(&self, attempt: i64) -> Result<(), StoreError>;

    /// `/unlink`: moves the identity to a new user of its own (a new,
    /// empty wallet), if it still belongs to `from`, and with it, in the
    /// same transaction, the cards of `from` that this identity linked
    /// ([`LinkedCard::added_by`]); cards linked by others or by an unknown
    /// adder stay with `from`. Returns the new user; `None` (nothing
    /// changed) when the identity is unknown or no longer `from`'s.
    async fn detach_identity(
        &self,
        platform: Platform,
        id: &PlatformUserId,
        from: UserId,
        now_ms: i64,
    ) -> Result<Option<UserId>, StoreError>;

    // -- payments --------------------------------------------------------

    /// Inserts a payment unless one with the same reference or transfer id
    /// exists; returns what is stored (the existing one, on a retry).
    async fn insert_payment(&self, payment: &Payment) -> Result<Payment, StoreError>;

    async fn payment(&self, reference: &ShortRef) -> Result<Option<Payment>, StoreError>;

    async fn payment_by_transfer(
        &self,
        transfer: TransferId,
    ) -> Result<Option<Payment>, StoreError>;

    /// The payer's payments in [`PaymentState::AwaitingCode`], newest first.
    async fn payments_awaiting_code(&self, payer: UserId) -> Result<Vec<Payment>, StoreError>;

    /// Payments in [`PaymentState::Escrowed`] for `handle` on `platform`,
    /// oldest first.
    async fn payments_escrowed_for(
        &self,
        platform: Platform,
        handle: &Handle,
    ) -> Result<Vec<Payment>, StoreError>;

    /// Non-final payments whose `due_at_ms` is at or before `now_ms`, oldest
    /// due first, at most `limit`.
    async fn payments_due(&self, now_ms: i64, limit: u32) -> Result<Vec<Payment>, StoreError>;

    /// Payments the user made or received (as the payee user), newest
    /// first, at most `limit`.
    async fn payments_of_user(&self, user: UserId, limit: u32) -> Result<Vec<Payment>, StoreError>;

    /// Whether `payer` ever completed a payment to `payee`.
    async fn has_paid_before(&self, payer: UserId, payee: UserId) -> Result<bool, StoreError>;

    /// Replaces the stored payment with `payment` (revision + 1) if its
    /// stored revision is still `payment.revision`. `false`: someone else
    /// changed it first; re-read and decide again.
    async fn update_payment(&self, payment: &Payment) -> Result<bool, StoreError>;

    // -- requests --------------------------------------------------------

    /// Inserts unless the reference exists; returns what is stored.
    async fn insert_request(&self, request: &PaymentRequest) -> Result<PaymentRequest, StoreError>;

    async fn request(&self, reference: &ShortRef) -> Result<Option<PaymentRequest>, StoreError>;

    /// Compare-and-swap on `request.revision`, as [`Store::update_payment`].
    async fn update_request(&self, request: &PaymentRequest) -> Result<bool, StoreError>;

    /// The requests a split made, in the split's order.
    async fn requests_of_split(&self, split: &ShortRef) -> Result<Vec<PaymentRequest>, StoreError>;

    // -- splits ----------------------------------------------------------

    /// Inserts unless the reference exists; returns what is stored.
    async fn insert_split(&self, split: &Split) -> Result<Split, StoreError>;

    async fn split(&self, reference: &ShortRef) -> Result<Option<Split>, StoreError>;

    /// The newest split `creator` made in `chat`, or anywhere when `chat` is
    /// `None`.
    async fn latest_split(
        &self,
        creator: UserId,
        platform: Platform,
        chat: Option<&ChatId>,
    ) -> Result<Option<Split>, StoreError>;

    // -- cards -----------------------------------------------------------

    /// Links a card, unless this user already linked one with the same
    /// fingerprint: `None` then.
    async fn insert_card(&self, card: &LinkedCard) -> Result<Option<LinkedCard>, StoreError>;

    /// The user's cards, oldest first (the order `/cards` numbers them).
    async fn cards_of(&self, user: UserId) -> Result<Vec<LinkedCard>, StoreError>;

    /// Unlinks one of the user's cards. `false`: no such card of theirs.
    async fn remove_card(&self, user: UserId, id: i64) -> Result<bool, StoreError>;

    // -- card adds -------------------------------------------------------

    /// Inserts unless one with the same reference or add id exists; returns
    /// what is stored (the existing one, on a retry).
    async fn insert_card_add(&self, add: &CardAdd) -> Result<CardAdd, StoreError>;

    async fn card_add(&self, reference: &ShortRef) -> Result<Option<CardAdd>, StoreError>;

    /// The user's adds in [`CardAddState::AwaitingCode`], newest first.
    async fn card_adds_awaiting_code(&self, user: UserId) -> Result<Vec<CardAdd>, StoreError>;

    /// Adds awaiting their code whose `due_at_ms` is at or before `now_ms`,
    /// oldest due first, at most `limit`.
    async fn card_adds_due(&self, now_ms: i64, limit: u32) -> Result<Vec<CardAdd>, StoreError>;

    /// Compare-and-swap on `add.revision`, as [`Store::update_payment`].
    async fn update_card_add(&self, add: &CardAdd) -> Result<bool, StoreError>;

    /// In one transaction: moves `add` (at its revision, awaiting its code)
    /// to [`CardAddState::Linked`] and links its card, created at `now_ms`.
    async fn link_card_add(&self, add: &CardAdd, now_ms: i64) -> Result<CardAddLinked, StoreError>;

    // -- limits ----------------------------------------------------------

    /// When the requests `user` made or received (`side`) after `since_ms`
    /// were created, oldest first, at most `limit`.
    async fn requests_since(
        &self,
        user: UserId,
        side: RequestSide,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError>;

    // -- card operations -------------------------------------------------

    /// Inserts unless one with the same reference or transfer id exists;
    /// returns what is stored (the existing one, on a retry).
    async fn insert_card_op(&self, op: &CardOp) -> Result<CardOp, StoreError>;

    async fn card_op(&self, reference: &ShortRef) -> Result<Option<CardOp>, StoreError>;

    /// The user's operations in [`CardOpState::AwaitingCode`], newest first.
    async fn card_ops_awaiting_code(&self, user: UserId) -> Result<Vec<CardOp>, StoreError>;

    /// The user's operations with the rail ([`CardOpState::Sent`] or
    /// [`CardOpState::Pending`]: sent, not yet decided), oldest first.
    async fn card_ops_in_flight(&self, user: UserId) -> Result<Vec<CardOp>, StoreError>;

    /// Non-final operations whose `due_at_ms` is at or before `now_ms`,
    /// oldest due first, at most `limit`.
    async fn card_ops_due(&self, now_ms: i64, limit: u32) -> Result<Vec<CardOp>, StoreError>;

    /// Compare-and-swap on `op.revision`, as [`Store::update_payment`].
    async fn update_card_op(&self, op: &CardOp) -> Result<bool, StoreError>;
}
