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
//! The records are split by family (`identity`, `payment`, `card`) and
//! re-exported here, so every path stays `bot::store::...`. The SQL
//! implementation is the `paybot-store` adapter crate (SQLite and
//! PostgreSQL), so this crate needs no database driver.

use std::fmt;

use async_trait::async_trait;
use ledger::TransferId;

use crate::command::ShortRef;
use crate::message::{ChatId, EventId, Handle, Platform, PlatformUserId};

/// A record's state or kind, stored by name: the enum, `ALL` (in
/// declaration order), `as_str` (the stored name), `from_str_opt` and
/// `index` (the position in `ALL`), with
/// each name written once, next to its variant.
macro_rules! stored_names {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub fn from_str_opt(text: &str) -> Option<$name> {
                $name::ALL.into_iter().find(|s| s.as_str() == text)
            }

            /// Its position in `ALL` (for arrays of per-variant counts).
            pub fn index(self) -> usize {
                $name::ALL.iter().position(|x| *x == self).unwrap_or(0)
            }
        }
    };
}
pub(crate) use stored_names;

pub mod autopay;
mod card;
mod identity;
pub mod pay_group;
mod payment;
pub mod standing;
pub mod tab;

pub use card::{CardAdd, CardAddLinked, CardAddState, CardOp, CardOpKind, CardOpState, LinkedCard};
pub use identity::{Identity, LinkAttempt, LinkAttemptBounds, LinkCodeHash, PendingLink, SeenUser};
pub use payment::{Payee, Payment, PaymentRequest, PaymentState, RequestSide, RequestState, Split};

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
/// Which kinds of records other than payments a user has waiting for a
/// code ([`Store::codes_awaited`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CodesAwaited {
    /// A card operation or a card add.
    pub cards: bool,
    /// A standing order (or a recurring request).
    pub standing: bool,
    /// An autopay.
    pub autopays: bool,
}

/// What `/confirm` reads first ([`Store::awaiting_code`]): the payments
/// waiting for the user's code, where each one's payee account is now, and
/// which other records wait for one.
#[derive(Clone, Debug, Default)]
pub struct AwaitingCode {
    /// The user's payments in [`PaymentState::AwaitingCode`], newest first.
    pub payments: Vec<Payment>,
    /// For each of `payments` to a user ([`Payee::User`]), in the same
    /// order, the user its payee account belongs to now: `/link` or
    /// `/unlink` may have moved the account since `/pay`.
    pub payees_now: Vec<PayeeNow>,
    pub others: CodesAwaited,
}

impl AwaitingCode {
    /// What was read with the payment `reference` of its payee account
    /// (`None`: it was not read: the payment is not among `payments`, or
    /// its payee is not a user).
    pub fn payee_now(&self, reference: &ShortRef) -> Option<&PayeeNow> {
        self.payees_now.iter().find(|p| &p.reference == reference)
    }
}

/// Whose wallet a payment's payee account ([`Payee::User`]'s platform and
/// id) is part of now, read with the payment ([`Store::awaiting_code`]),
/// as [`Store::identity`] would read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayeeNow {
    /// The payment's reference.
    pub reference: ShortRef,
    /// The account's user now; `None`: no such account.
    pub user: Option<UserId>,
}

/// The first read of a new message ([`Store::open_event`]).
#[derive(Clone, Debug)]
pub enum OpenedEvent {
    /// The event was handled before: its stored outcome.
    Handled(String),
    /// Not handled before: the sender, recorded as seen.
    New(SenderSeen),
}

/// The sender of a new message, recorded as seen ([`Store::open_event`]).
#[derive(Clone, Debug)]
pub struct SenderSeen {
    pub identity: Identity,
    /// Whether this is their first contact (as [`Store::upsert_identity`]).
    pub first_contact: bool,
    /// Their verification tier as last set (`Some(None)`: never set), where
    /// it was read with them; `None`: not read.
    pub tier: Option<Option<crate::trust::Tier>>,
    /// What waits for their code, where it was read with them
    /// ([`Store::open_confirm_event`]); `None`: not read.
    pub awaiting: Option<AwaitingCode>,
    /// The payee a `/pay` mentions, where it was read with them
    /// ([`Store::open_pay_event`]); `None`: not read. Boxed: most
    /// messages have none.
    pub payee: Option<Box<PayeeSeen>>,
}

/// A payee a `/pay` mentions, read with its sender
/// ([`Store::open_pay_event`]): exactly what [`Store::see_payee`] gives
/// for a payee known and unchanged, with facts.
#[derive(Clone, Debug)]
pub struct PayeeSeen {
    pub identity: Identity,
    /// [`Store::payee_facts`] about them for the sender, by the mention's
    /// skeleton.
    pub facts: PayeeFacts,
}

impl SenderSeen {
    /// A sender recorded as seen, with nothing else read with them.
    pub fn recorded(identity: Identity, first_contact: bool) -> SenderSeen {
        SenderSeen {
            identity,
            first_contact,
            tier: None,
            awaiting: None,
            payee: None,
        }
    }
}

/// What the warnings before a payment read about its payee
/// ([`Store::payee_facts`]).
#[derive(Clone, Debug, Default)]
pub struct PayeeFacts {
    /// Identities whose handle has the payee's skeleton, most recently seen
    /// first (as [`Store::identities_with_skeleton`]).
    pub look_alikes: Vec<Identity>,
    /// Whether the payer ever completed a payment to the payee (as
    /// [`Store::has_paid_before`]).
    pub paid_before: bool,
    /// The payee's verification tier as last set (`None`: never set), as
    /// [`crate::trust::TrustStore::tier_of`] reads it: the payee's limits
    /// need it, and it comes with this read instead of one of its own.
    pub payee_tier: Option<crate::trust::Tier>,
    /// [`Store::payments_waiting`] of the payer.
    pub payer_waiting: u64,
}

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

/// A change to the bot's records that commits in the ledger's batch, in
/// the same database transaction as the money it describes (see
/// [`Store::record_write`]).
#[derive(Clone, Copy, Debug)]
pub enum RecordChange<'a> {
    /// Stores a new payment; the unit is not applied when its reference or
    /// transfer id is already taken.
    InsertPayment(&'a Payment),
    /// Writes the payment at its revision (compare-and-swap); the unit is
    /// not applied when it changed meanwhile.
    UpdatePayment(&'a Payment),
    /// Writes the request at its revision (compare-and-swap); the unit is
    /// not applied when it changed meanwhile (how `/approve` claims a
    /// request in the commit that reserves its money, and how a payment
    /// marks its request paid in the commit that moves it).
    UpdateRequest(&'a PaymentRequest),
    /// Stores a new request; the unit is not applied when its reference is
    /// already taken (how an invoice's request is written in one commit
    /// with its notice and the biller's invoice).
    InsertRequest(&'a PaymentRequest),
    /// Stores a new settlement of the group tab, in the commit of the
    /// payment it names (or, in cash, of its payee's prompt); the unit is
    /// not applied when its reference or id is taken, or when the payer's
    /// settlements with this payee in this currency that still wait, with
    /// this one, come to more than `owed_minor` (checked in the commit, so
    /// two `/settle` at once cannot both settle the whole debt).
    InsertSettlement {
        settlement: &'a tab::Settlement,
        owed_minor: i64,
    },
    /// Expires an unanswered cash settlement: the same one check-and-set
    /// on "unanswered" as its payee's answer and its payer's cancel, so
    /// exactly one of them wins; the unit is not applied when it was
    /// answered, cancelled or expired already.
    ExpireCashSettlement {
        reference: &'a crate::command::ShortRef,
        now_ms: i64,
    },
}

/// The bot's persistent state. Implementations must make each method atomic
/// on its own; the core never needs a transaction across methods (it orders
/// its writes so that a crash between two of them is repaired by a retry).
#[async_trait]
pub trait Store:
    crate::trust::TrustStore
    + crate::trust::rules::RulesStore
    + crate::trust::verification::VerificationStore
    + crate::trust::sanctions::SanctionsStore
    + crate::trust::second_factor::SecondFactorStore
    + standing::StandingStore
    + autopay::AutopayStore
    + tab::TabStore
    + tab::RecurringExpenseStore
    + tab::SettlementStore
    + pay_group::PayGroupStore
    + Send
    + Sync
    + fmt::Debug
    + 'static
{
    // -- writes committed with the ledger -----------------------------------

    /// The ledger record write that makes `change`, for the ledger to
    /// commit in its batch with the transfers it goes with
    /// ([`ledger::Ledger::commit`]). Pure: nothing is written here.
    fn record_write(&self, change: RecordChange<'_>) -> Result<ledger::RecordWrite, StoreError>;

    // -- events ----------------------------------------------------------

    /// Records the outcome of a handled event (an opaque text), which
    /// redeliveries get back; the first recorded outcome stays. The store
    /// commits it the way its database prefers (SQLite: in the ledger's
    /// batch, where it takes no write lock of its own; PostgreSQL: on its
    /// own connection, beside the ledger's writer).
    async fn finish_event(
        &self,
        platform: Platform,
        event: &EventId,
        outcome: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// The stored outcome of a handled event (see [`Store::finish_event`]),
    /// if it was handled.
    async fn event_outcome(
        &self,
        platform: Platform,
        event: &EventId,
    ) -> Result<Option<String>, StoreError>;

    /// A new message's first read: the stored outcome of its event (on
    /// `sender.platform`), else its sender recorded as seen, exactly as
    /// [`Store::event_outcome`] then [`Store::upsert_identity`] would, and
    /// the sender's tier where it reads it with them. One statement where
    /// the sender is known and unchanged.
    async fn open_event(
        &self,
        event: &EventId,
        sender: &SeenUser,
        now_ms: i64,
    ) -> Result<OpenedEvent, StoreError> {
        if let Some(outcome) = self.event_outcome(sender.platform, event).await? {
            return Ok(OpenedEvent::Handled(outcome));
        }
        let (identity, first_contact) = self.upsert_identity(sender, now_ms).await?;
        Ok(OpenedEvent::New(SenderSeen::recorded(
            identity,
            first_contact,
        )))
    }

    /// [`Store::open_event`] of a message that looks like `/confirm`, and
    /// what waits for the sender's code ([`Store::awaiting_code`]) with it:
    /// one statement where the sender is known and unchanged. Where it is
    /// not read with them, [`SenderSeen::awaiting`] is `None`.
    async fn open_confirm_event(
        &self,
        event: &EventId,
        sender: &SeenUser,
        now_ms: i64,
    ) -> Result<OpenedEvent, StoreError> {
        self.open_event(event, sender, now_ms).await
    }

    /// [`Store::open_event`] of a `/pay` that mentions `payee`, and
    /// [`Store::see_payee`]'s read of them for the sender with it: one
    /// statement where the sender and the payee are known and unchanged,
    /// and `payee` has a handle. Nothing of the payee is written here:
    /// where they are not read with the sender (new, changed, or without
    /// a handle; or the sender is), [`SenderSeen::payee`] is `None`, and
    /// `/pay` sees them itself.
    async fn open_pay_event(
        &self,
        event: &EventId,
        sender: &SeenUser,
        _payee: &SeenUser,
        _limit: u32,
        now_ms: i64,
    ) -> Result<OpenedEvent, StoreError> {
        self.open_event(event, sender, now_ms).await
    }

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

    /// Payments held for review ([`PaymentState::Held`]), longest held
    /// first, at most `limit`.
    async fn payments_held(&self, limit: u32) -> Result<Vec<Payment>, StoreError>;

    /// How many payments are in each non-final state (waiting for a code,
    /// in escrow, held), counting at most `counted_max` payments in all:
    /// the operator's metrics, read through the index of due payments.
    async fn open_payments(&self, counted_max: u32)
    -> Result<Vec<(PaymentState, u64)>, StoreError>;

    /// Payments the user made or received (as the payee user), newest
    /// first, at most `limit`.
    async fn payments_of_user(&self, user: UserId, limit: u32) -> Result<Vec<Payment>, StoreError>;
    /// The user's history, newest first, at most `limit`: the payments
    /// they made, and those made to them that they heard of (not one
    /// waiting for its code, nor one cancelled, expired, locked out or
    /// leaked before its code was used).
    async fn history_of_user(&self, user: UserId, limit: u32) -> Result<Vec<Payment>, StoreError>;

    /// Whether `payer` ever completed a payment to `payee`.
    async fn has_paid_before(&self, payer: UserId, payee: UserId) -> Result<bool, StoreError>;

    /// What `/pay` reads for one payment, in one statement:
    /// [`Store::identities_with_skeleton`], [`Store::has_paid_before`], the
    /// payee's tier ([`crate::trust::TrustStore::tier_of`]) and how many of
    /// the payer's payments wait for their code ([`PayeeFacts::payer_waiting`]).
    async fn payee_facts(
        &self,
        platform: Platform,
        skeleton: &str,
        limit: u32,
        payer: UserId,
        payee: UserId,
    ) -> Result<PayeeFacts, StoreError> {
        Ok(PayeeFacts {
            look_alikes: self
                .identities_with_skeleton(platform, skeleton, limit)
                .await?,
            paid_before: self.has_paid_before(payer, payee).await?,
            payee_tier: self.tier_of(payee).await?.map(|record| record.tier),
            payer_waiting: self.payments_waiting(payer).await?,
        })
    }

    /// A payee `/pay` names by mention: recorded as seen exactly as
    /// [`Store::upsert_identity`] records a mention (`seen.speaking` is
    /// false), and, where `seen` has a handle, [`Store::payee_facts`] about
    /// them for `payer` (look-alikes of `seen.skeleton`). One statement
    /// where the payee is known and the sighting changes nothing.
    async fn see_payee(
        &self,
        seen: &SeenUser,
        limit: u32,
        payer: UserId,
        now_ms: i64,
    ) -> Result<(Identity, Option<PayeeFacts>), StoreError> {
        let (identity, _) = self.upsert_identity(seen, now_ms).await?;
        let facts = match &seen.skeleton {
            Some(skeleton) => Some(
                self.payee_facts(seen.platform, skeleton, limit, payer, identity.user)
                    .await?,
            ),
            None => None,
        };
        Ok((identity, facts))
    }

    /// How many of `payer`'s payments wait for their code, the legs of one
    /// payment to several people ([`pay_group::PayGroupStore`]) counted
    /// once: what `/pay` bounds before it reserves more.
    async fn payments_waiting(&self, payer: UserId) -> Result<u64, StoreError> {
        let mut groups: Vec<ShortRef> = Vec::new();
        let mut singles: u64 = 0;
        for waiting in self.payments_awaiting_code(payer).await? {
            match self.pay_group(&waiting.reference).await? {
                Some(group) if !groups.contains(&group.reference) => groups.push(group.reference),
                Some(_) => {}
                None => singles = singles.saturating_add(1),
            }
        }
        let groups = u64::try_from(groups.len()).unwrap_or(u64::MAX);
        Ok(singles.saturating_add(groups))
    }

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
    /// The user's requests, both sides (made and received), at most
    /// `limit`: those still open (or approved, their payment not final)
    /// first, then the rest, newest first.
    async fn requests_of_user(
        &self,
        user: UserId,
        limit: u32,
    ) -> Result<Vec<PaymentRequest>, StoreError>;
    /// Open requests, and approved ones (their payment may have ended
    /// without paying), whose `expires_at_ms` is at or before `now_ms`, the
    /// earliest first, at most `limit`.
    async fn requests_expiring(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<PaymentRequest>, StoreError>;
    async fn requests_of_split(&self, split: &ShortRef) -> Result<Vec<PaymentRequest>, StoreError>;

    /// Requests `payer` is asked to pay and has not paid or declined
    /// (invoices from billers among them), oldest first, at most `limit`.
    async fn requests_to_pay(
        &self,
        payer: UserId,
        limit: u32,
    ) -> Result<Vec<PaymentRequest>, StoreError>;

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

    /// Whether the user has a card operation or a card add in its
    /// `AwaitingCode` state: one read, so `/confirm` reads those records
    /// only when there are some.
    async fn card_records_awaiting_code(&self, user: UserId) -> Result<bool, StoreError>;

    /// Which records other than payments the user has waiting for a code
    /// (card operations or adds, standing orders, autopays): one read, so
    /// `/confirm` reads those records only when there are some.
    async fn codes_awaited(&self, user: UserId) -> Result<CodesAwaited, StoreError>;

    /// [`Store::payments_awaiting_code`], each payee account's user now
    /// ([`Store::identity`], see [`AwaitingCode::payees_now`]) and
    /// [`Store::codes_awaited`] in one statement: what `/confirm` reads
    /// first.
    async fn awaiting_code(&self, user: UserId) -> Result<AwaitingCode, StoreError> {
        let payments = self.payments_awaiting_code(user).await?;
        let mut payees_now = Vec::new();
        for payment in &payments {
            if let Payee::User { platform, id, .. } = &payment.payee {
                payees_now.push(PayeeNow {
                    reference: payment.reference.clone(),
                    user: self.identity(*platform, id).await?.map(|i| i.user),
                });
            }
        }
        Ok(AwaitingCode {
            payments,
            payees_now,
            others: self.codes_awaited(user).await?,
        })
    }

    /// The user's operations with the rail ([`CardOpState::Sent`] or
    /// [`CardOpState::Pending`]: sent, not yet decided), oldest first.
    async fn card_ops_in_flight(&self, user: UserId) -> Result<Vec<CardOp>, StoreError>;

    /// Non-final operations whose `due_at_ms` is at or before `now_ms`,
    /// oldest due first, at most `limit`.
    async fn card_ops_due(&self, now_ms: i64, limit: u32) -> Result<Vec<CardOp>, StoreError>;

    /// Card adds held for review ([`CardAddState::Held`]), longest held
    /// first, at most `limit`.
    async fn card_adds_held(&self, limit: u32) -> Result<Vec<CardAdd>, StoreError>;

    /// Cash-outs held for review ([`CardOpState::Held`]), longest held
    /// first, at most `limit`.
    async fn card_ops_held(&self, limit: u32) -> Result<Vec<CardOp>, StoreError>;

    /// Compare-and-swap on `op.revision`, as [`Store::update_payment`].
    async fn update_card_op(&self, op: &CardOp) -> Result<bool, StoreError>;
}
