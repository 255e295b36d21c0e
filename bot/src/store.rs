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
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
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

/// A `/link` code, stored as a keyed hash.
pub type LinkCodeHash = [u8; OTP_HASH_BYTES];

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
}
