//! Accounts, transfers and the errors the ledger answers with.

use std::fmt;

use crate::money::{Amount, Currency};

/// The longest account owner reference, in bytes.
pub const OWNER_REF_BYTES_MAX: usize = 128;

/// The longest timeout of a pending transfer, in seconds (30 days).
pub const PENDING_TIMEOUT_SECS_MAX: u32 = 30 * 24 * 60 * 60;

/// An account's id, assigned by the store when the account is created.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct AccountId(pub i64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The low half of a 128-bit id.
const LOW_64_BITS: u128 = (1 << 64) - 1;

/// A transfer's 128-bit id, chosen by the client. It is the idempotency key:
/// submitting the same id twice never moves money twice.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransferId(u128);

impl TransferId {
    /// Zero is reserved: it is what a forgotten id looks like.
    pub fn new(value: u128) -> Option<TransferId> {
        (value != 0).then_some(TransferId(value))
    }

    /// A fresh random id (UUID v4).
    pub fn random() -> TransferId {
        TransferId(uuid::Uuid::new_v4().as_u128())
    }

    /// A fresh id that sorts after the ids made before it (UUID v7: the
    /// Unix time in milliseconds, then 74 random bits). New ids land at
    /// the right edge of the transfers' id index instead of on a random page
    /// of it, so a batch of them dirties a few index pages, not one each:
    /// prefer it to [`TransferId::random`] for ids made at submission time.
    pub fn time_ordered() -> TransferId {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let ms = u64::try_from(since.as_millis()).unwrap_or(u64::MAX) & ((1 << 48) - 1);
        let random = uuid::Uuid::new_v4().as_u128();
        // 48 bits of time, version 7, 12 random bits, variant 0b10, 62 random bits.
        let bits = (u128::from(ms) << 80)
            | (0x7 << 76)
            | (random & (0xfff << 64))
            | (0b10 << 62)
            | (random & ((1 << 62) - 1));
        TransferId(bits)
    }

    /// A stable id derived from a namespace and a name, for ids that must be
    /// the same every time the same event is seen (a chat platform's event
    /// id, the expiry of a given pending transfer). UUID v5 (SHA-1).
    pub fn derive(namespace: &str, name: &[u8]) -> TransferId {
        let ns = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, namespace.as_bytes());
        TransferId(uuid::Uuid::new_v5(&ns, name).as_u128())
    }

    /// [`TransferId::derive`] for a name that comes with its place in an
    /// order (a chat platform's event number: Telegram's `update_id`,
    /// Discord's snowflake): `order` is the high 64 bits, the name's hash
    /// the low 64. Ids derived from later events sort after earlier ones,
    /// so a batch of them goes to the right edge of the transfers' id index
    /// instead of one random page each. Stable as [`TransferId::derive`]
    /// is: the same order and name give the same id.
    ///
    /// Two names with the same `order` differ in 64 bits of hash, so it is
    /// no uniqueness key: a platform's event number is shared only by the
    /// few events that reuse it, not by billions.
    pub fn derive_ordered(order: u64, namespace: &str, name: &[u8]) -> TransferId {
        TransferId::derive_beside(TransferId(u128::from(order) << 64), namespace, name)
    }

    /// [`TransferId::derive`] for an id that belongs to `anchor` (the post
    /// or void of a pending transfer, a limit's use by a movement): the
    /// high 64 bits are `anchor`'s, the name's hash the low 64, so it is
    /// stored beside `anchor` in the id index. Where `anchor` was derived
    /// in order ([`TransferId::derive_ordered`]), so is this.
    pub fn derive_beside(anchor: TransferId, namespace: &str, name: &[u8]) -> TransferId {
        let low = TransferId::derive(namespace, name).0 & LOW_64_BITS;
        // Zero is reserved: the high half may be zero (an order of 0), and
        // a hash's low half is zero once in 2^64.
        TransferId((anchor.0 & !LOW_64_BITS) | low.max(1))
    }

    pub fn as_u128(self) -> u128 {
        self.0
    }

    pub(crate) fn as_uuid(self) -> uuid::Uuid {
        uuid::Uuid::from_u128(self.0)
    }

    pub(crate) fn from_uuid(id: uuid::Uuid) -> TransferId {
        TransferId(id.as_u128())
    }
}

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", uuid::Uuid::from_u128(self.0))
    }
}

impl fmt::Debug for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransferId({self})")
    }
}

impl std::str::FromStr for TransferId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(TransferId(uuid::Uuid::parse_str(s)?.as_u128()))
    }
}

/// What an account is for.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum AccountKind {
    /// A person's wallet. Never overdrawn.
    UserWallet,
    /// Where real money is created and destroyed (the ledger API's
    /// issuance). Its balance is the negative of all real money issued.
    Issuance,
    /// The counterpart of money entering or leaving through the card rail.
    CardClearing,
    /// Fees earned.
    Fees,
    /// Money held for someone who has not claimed it yet.
    Escrow,
    /// Where play money comes from: the mock chat's opening balances in
    /// development. Kept apart from [`AccountKind::Issuance`] so play money
    /// can always be told from real money in the books.
    PlayIssuance,
    /// What is left of one rolling limit of one owner (TigerBeetle's
    /// rate-limiting recipe): credited with the limit from
    /// [`AccountKind::AllowanceSource`], debited by a pending transfer per
    /// use whose timeout is the window, so the allowance comes back by
    /// itself when the window passes. Never overdrawn. Not money.
    Allowance,
    /// The counterpart of every allowance of one currency. Not money.
    AllowanceSource,
}

impl AccountKind {
    pub(crate) fn to_db(self) -> i16 {
        match self {
            AccountKind::UserWallet => 1,
            AccountKind::Issuance => 2,
            AccountKind::CardClearing => 3,
            AccountKind::Fees => 4,
            AccountKind::Escrow => 5,
            AccountKind::PlayIssuance => 6,
            AccountKind::Allowance => 7,
            AccountKind::AllowanceSource => 8,
        }
    }

    pub(crate) fn from_db(value: i16) -> Option<AccountKind> {
        Some(match value {
            1 => AccountKind::UserWallet,
            2 => AccountKind::Issuance,
            3 => AccountKind::CardClearing,
            4 => AccountKind::Fees,
            5 => AccountKind::Escrow,
            6 => AccountKind::PlayIssuance,
            7 => AccountKind::Allowance,
            8 => AccountKind::AllowanceSource,
            _ => return None,
        })
    }

    /// The flags an account of this kind is created with.
    pub fn default_flags(self) -> AccountFlags {
        match self {
            AccountKind::UserWallet | AccountKind::Escrow | AccountKind::Allowance => {
                AccountFlags::NO_OVERDRAFT
            }
            AccountKind::Issuance
            | AccountKind::PlayIssuance
            | AccountKind::CardClearing
            | AccountKind::Fees
            | AccountKind::AllowanceSource => AccountFlags::NONE,
        }
    }
}

/// Account flags, stored as a bit set.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct AccountFlags(u16);

impl AccountFlags {
    pub const NONE: AccountFlags = AccountFlags(0);
    /// Debits (posted and pending) may never exceed posted credits.
    pub const NO_OVERDRAFT: AccountFlags = AccountFlags(1);

    pub fn no_overdraft(self) -> bool {
        self.0 & Self::NO_OVERDRAFT.0 != 0
    }

    /// The flags as the `accounts.flags` column stores them.
    pub fn bits(self) -> i32 {
        i32::from(self.0)
    }

    pub(crate) fn from_bits(bits: i32) -> Option<AccountFlags> {
        u16::try_from(bits)
            .ok()
            .filter(|b| b & !1 == 0)
            .map(AccountFlags)
    }
}

/// An account owner's reference: opaque to the ledger ("user:42",
/// "system"). At most [`OWNER_REF_BYTES_MAX`] bytes, not empty.
#[derive(Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct OwnerRef(String);

impl OwnerRef {
    pub fn new(value: impl Into<String>) -> Result<OwnerRef, LedgerError> {
        let value = value.into();
        if value.is_empty() || value.len() > OWNER_REF_BYTES_MAX {
            return Err(LedgerError::InvalidOwner);
        }
        Ok(OwnerRef(value))
    }

    /// The owner of system accounts.
    pub fn system() -> OwnerRef {
        OwnerRef("system".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The account to open. Opening is idempotent per (owner, kind, currency).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAccount {
    pub owner: OwnerRef,
    pub kind: AccountKind,
    pub currency: Currency,
}

/// An account with its four running totals, in minor units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub owner: OwnerRef,
    pub kind: AccountKind,
    pub currency: Currency,
    pub flags: AccountFlags,
    pub debits_posted: i64,
    pub credits_posted: i64,
    pub debits_pending: i64,
    pub credits_pending: i64,
}

impl Account {
    /// The balance of a credit-normal account (a wallet): what it holds.
    pub fn balance(&self) -> Balance {
        Balance {
            currency: self.currency,
            posted: self.credits_posted - self.debits_posted,
            pending_out: self.debits_pending,
            pending_in: self.credits_pending,
        }
    }
}

/// A wallet's balance, in minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Balance {
    pub currency: Currency,
    /// Credits minus debits, posted only.
    pub posted: i64,
    /// Reserved by pending outgoing transfers.
    pub pending_out: i64,
    /// Promised by pending incoming transfers (not yet spendable).
    pub pending_in: i64,
}

impl Balance {
    /// What may be spent now: posted minus what is reserved.
    pub fn available(&self) -> i64 {
        self.posted - self.pending_out
    }
}

/// What a transfer does.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TransferKind {
    /// Moves money at once.
    Single,
    /// Reserves money until posted, voided or expired.
    Pending,
    /// Posts (part of) a pending transfer.
    Post,
    /// Voids a pending transfer.
    Void,
    /// Written by the sweeper when a pending transfer timed out.
    Expire,
}

impl TransferKind {
    pub(crate) fn to_db(self) -> i16 {
        match self {
            TransferKind::Single => 0,
            TransferKind::Pending => 1,
            TransferKind::Post => 2,
            TransferKind::Void => 3,
            TransferKind::Expire => 4,
        }
    }

    pub(crate) fn from_db(value: i16) -> Option<TransferKind> {
        Some(match value {
            0 => TransferKind::Single,
            1 => TransferKind::Pending,
            2 => TransferKind::Post,
            3 => TransferKind::Void,
            4 => TransferKind::Expire,
            _ => return None,
        })
    }

    /// True for the kinds that resolve a pending transfer.
    pub fn resolves_pending(self) -> bool {
        matches!(
            self,
            TransferKind::Post | TransferKind::Void | TransferKind::Expire
        )
    }
}

/// A transfer to submit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTransfer {
    pub id: TransferId,
    pub op: TransferOp,
    /// The client's reason code (payment, split share, top-up, ...). The
    /// ledger stores it and compares it on retries, nothing more.
    pub code: u16,
    /// A condition, not a field: for a single or pending transfer, refuse
    /// it ([`TransferError::CreditBalanceExceeded`]) if the credit
    /// account's posted credits plus pending credits minus posted debits
    /// would then exceed this many minor units. Checked under the same lock
    /// as no-overdraft; not stored, so not compared on retries.
    pub credit_balance_max: Option<i64>,
}

/// The operation a [`NewTransfer`] asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferOp {
    Single {
        debit: AccountId,
        credit: AccountId,
        amount: Amount,
    },
    Pending {
        debit: AccountId,
        credit: AccountId,
        amount: Amount,
        timeout_secs: u32,
    },
    /// Posts `amount` (all of it when `None`); the rest is released.
    Post {
        pending_id: TransferId,
        amount: Option<Amount>,
    },
    Void {
        pending_id: TransferId,
    },
    /// Expires a pending transfer whose timeout has passed.
    Expire {
        pending_id: TransferId,
    },
}

impl NewTransfer {
    pub fn single(id: TransferId, debit: AccountId, credit: AccountId, amount: Amount) -> Self {
        NewTransfer {
            id,
            op: TransferOp::Single {
                debit,
                credit,
                amount,
            },
            code: 0,
            credit_balance_max: None,
        }
    }

    pub fn pending(
        id: TransferId,
        debit: AccountId,
        credit: AccountId,
        amount: Amount,
        timeout_secs: u32,
    ) -> Self {
        NewTransfer {
            id,
            op: TransferOp::Pending {
                debit,
                credit,
                amount,
                timeout_secs,
            },
            code: 0,
            credit_balance_max: None,
        }
    }

    pub fn post(id: TransferId, pending_id: TransferId, amount: Option<Amount>) -> Self {
        NewTransfer {
            id,
            op: TransferOp::Post { pending_id, amount },
            code: 0,
            credit_balance_max: None,
        }
    }

    pub fn void(id: TransferId, pending_id: TransferId) -> Self {
        NewTransfer {
            id,
            op: TransferOp::Void { pending_id },
            code: 0,
            credit_balance_max: None,
        }
    }

    /// The expiry of `pending_id`, with the id every process derives for it,
    /// so two sweepers racing on one pending transfer write one row.
    pub fn expire(pending_id: TransferId) -> Self {
        NewTransfer {
            id: TransferId::derive("paybot.ledger.expire", &pending_id.as_u128().to_be_bytes()),
            op: TransferOp::Expire { pending_id },
            code: 0,
            credit_balance_max: None,
        }
    }

    pub fn with_code(mut self, code: u16) -> Self {
        self.code = code;
        self
    }

    /// Refuses a single or pending transfer that would take the credit
    /// account's balance, counting what is pending in, over `max_minor`
    /// (see [`NewTransfer::credit_balance_max`]).
    pub fn with_credit_balance_max(mut self, max_minor: i64) -> Self {
        self.credit_balance_max = Some(max_minor);
        self
    }

    pub fn kind(&self) -> TransferKind {
        match self.op {
            TransferOp::Single { .. } => TransferKind::Single,
            TransferOp::Pending { .. } => TransferKind::Pending,
            TransferOp::Post { .. } => TransferKind::Post,
            TransferOp::Void { .. } => TransferKind::Void,
            TransferOp::Expire { .. } => TransferKind::Expire,
        }
    }

    pub(crate) fn pending_id(&self) -> Option<TransferId> {
        match self.op {
            TransferOp::Post { pending_id, .. }
            | TransferOp::Void { pending_id }
            | TransferOp::Expire { pending_id } => Some(pending_id),
            TransferOp::Single { .. } | TransferOp::Pending { .. } => None,
        }
    }
}

/// A transfer as recorded. Immutable once written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub id: TransferId,
    pub kind: TransferKind,
    pub debit_account_id: AccountId,
    pub credit_account_id: AccountId,
    /// For a post, what was posted; for a void or expiry, what was released.
    pub amount: Amount,
    /// The pending transfer a post, void or expiry resolves.
    pub pending_id: Option<TransferId>,
    /// For a pending transfer, how long it may stay pending.
    pub timeout_secs: u32,
    pub code: u16,
    /// When the ledger recorded it, milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
}

impl Transfer {
    /// For a pending transfer, when it expires (ms since the Unix epoch).
    pub fn expires_at_ms(&self) -> Option<i64> {
        (self.kind == TransferKind::Pending).then(|| {
            self.timestamp_ms
                .saturating_add(i64::from(self.timeout_secs) * 1000)
        })
    }
}

/// The longest outbox topic, in bytes.
pub const OUTBOX_TOPIC_BYTES_MAX: usize = 64;
/// The longest outbox payload, in bytes.
pub const OUTBOX_PAYLOAD_BYTES_MAX: usize = 16 * 1024;

/// A message to deliver after the transaction that wrote it commits (the
/// transactional outbox). The ledger stores it and hands it back; what it
/// means is the submitter's business. `id` deduplicates: writing the same id
/// twice (a retried event) keeps one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxMessage {
    id: u128,
    topic: String,
    payload: String,
}

impl OutboxMessage {
    pub fn new(
        id: u128,
        topic: impl Into<String>,
        payload: impl Into<String>,
    ) -> Result<OutboxMessage, LedgerError> {
        let (topic, payload) = (topic.into(), payload.into());
        if topic.is_empty() || topic.len() > OUTBOX_TOPIC_BYTES_MAX {
            return Err(LedgerError::InvalidOutbox("topic"));
        }
        if payload.len() > OUTBOX_PAYLOAD_BYTES_MAX {
            return Err(LedgerError::InvalidOutbox("payload"));
        }
        Ok(OutboxMessage { id, topic, payload })
    }

    pub fn id(&self) -> u128 {
        self.id
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub fn payload(&self) -> &str {
        &self.payload
    }
}

/// An outbox message as stored, waiting for delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredOutboxMessage {
    /// Order of writing; deliver in this order.
    pub seq: i64,
    pub message: OutboxMessage,
    pub created_at_ms: i64,
    /// Failed delivery attempts so far.
    pub attempts: i32,
}

/// The success of one submitted transfer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded now.
    Created(Transfer),
    /// A transfer with this id and the same fields was recorded before;
    /// nothing was done again.
    Exists(Transfer),
}

impl Outcome {
    pub fn transfer(&self) -> &Transfer {
        match self {
            Outcome::Created(t) | Outcome::Exists(t) => t,
        }
    }
}

/// Why the ledger refused one transfer. Nothing was written for it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error("a transfer with this id exists with a different {field}")]
    ExistsWithDifferentField { field: &'static str },
    #[error("account {0} does not exist")]
    UnknownAccount(AccountId),
    #[error("debit and credit are the same account")]
    SameAccount,
    #[error("the accounts' currencies differ from each other or from the amount")]
    CurrencyMismatch,
    #[error("insufficient funds")]
    InsufficientFunds,
    #[error("the credit account's balance would exceed the transfer's maximum")]
    CreditBalanceExceeded,
    #[error("an account total would overflow")]
    Overflow,
    #[error("pending transfer {0} does not exist")]
    PendingNotFound(TransferId),
    #[error("transfer {0} is not a pending transfer")]
    NotPending(TransferId),
    #[error("the pending transfer was already posted")]
    AlreadyPosted,
    #[error("the pending transfer was already voided")]
    AlreadyVoided,
    #[error("the pending transfer has expired")]
    AlreadyExpired,
    #[error("the pending transfer has not expired yet")]
    NotExpiredYet,
    #[error("the amount exceeds the pending amount")]
    ExceedsPendingAmount,
    #[error("the timeout must be between 1 and {PENDING_TIMEOUT_SECS_MAX} seconds")]
    InvalidTimeout,
    #[error("another transfer in the same linked batch failed (#{0})")]
    LinkedEventFailed(usize),
    #[error("a linked batch must hold between 1 and {max} transfers")]
    InvalidBatchSize { max: usize },
    #[error("two transfers in one linked batch share an id")]
    DuplicateIdInBatch,
}

/// A failure of the store itself (database unreachable, corrupt row). The
/// outcome of the transfers in flight is unknown: retry with the same ids.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database failed: unreachable, timed out, or it refused a
    /// statement.
    #[error(transparent)]
    Storage(StorageError),
    /// The batch this transfer was committed in failed as a whole.
    #[error("{0}")]
    Batch(std::sync::Arc<LedgerError>),
    #[error("a stored row is invalid: {0}")]
    Corrupt(String),
    #[error("the owner reference must be 1 to {OWNER_REF_BYTES_MAX} bytes")]
    InvalidOwner,
    #[error("the ledger is shut down")]
    ShutDown,
    #[error("unsupported database url (use sqlite:PATH or postgres://...)")]
    UnsupportedUrl,
    #[error("invalid outbox message: {0} too long or empty")]
    InvalidOutbox(&'static str),
    #[error("invalid record write: {0}")]
    InvalidRecord(&'static str),
    #[error("no database at {0}")]
    NoDatabase(String),
    /// This build of the ledger has no storage engine (the crate's `sql`
    /// feature is off), so it cannot connect to any database.
    #[error("this build has no storage engine: enable the ledger crate's `sql` feature")]
    NoStorageEngine,
    #[error("the database has no ledger tables yet: run `paybot migrate` first")]
    NotMigrated,
}

/// A failure reported by the database or its driver. It carries the
/// driver's error as an opaque source: its text and its chain of causes, not
/// its type, so no driver type enters the ledger's public API.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StorageError(Box<dyn std::error::Error + Send + Sync + 'static>);

impl StorageError {
    /// Wraps a driver's error. Only the storage engine makes these.
    #[cfg(feature = "sql")]
    pub(crate) fn new(source: impl std::error::Error + Send + Sync + 'static) -> StorageError {
        StorageError(Box::new(source))
    }
}

/// Per-currency sums over all accounts. Each pair is equal in a healthy ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyTotals {
    pub currency: Currency,
    pub debits_posted: i64,
    pub credits_posted: i64,
    pub debits_pending: i64,
    pub credits_pending: i64,
    pub accounts: i64,
}

/// One page of an account's history, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    pub transfers: Vec<Transfer>,
    /// Pass this back to get the next (older) page; `None` at the end.
    pub next: Option<HistoryCursor>,
}

/// Where a history page starts. Opaque to callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryCursor(pub(crate) i64);

impl HistoryCursor {
    /// The newest end of the history.
    pub const START: HistoryCursor = HistoryCursor(i64::MAX);

    pub fn as_i64(self) -> i64 {
        self.0
    }

    pub fn from_i64(value: i64) -> HistoryCursor {
        HistoryCursor(value)
    }
}

/// How the database makes commits durable, as read back from it (see
/// [`crate::Ledger::durability`]): the settings themselves, for a caller to
/// print or judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Durability {
    /// `PRAGMA journal_mode` and `PRAGMA synchronous` (0 OFF, 1 NORMAL,
    /// 2 FULL, 3 EXTRA).
    Sqlite {
        journal_mode: String,
        synchronous: i64,
    },
    /// `SHOW synchronous_commit` and `SHOW fsync`.
    Postgres {
        synchronous_commit: String,
        fsync: String,
    },
}

#[cfg(test)]
mod tests {
    use super::TransferId;

    #[test]
    fn ids_derived_in_order_sort_by_their_order_and_stay_stable() {
        let ids: Vec<TransferId> = (990..1010)
            .map(|n| TransferId::derive_ordered(n, "pay", format!("event:{n}").as_bytes()))
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert_eq!(
            TransferId::derive_ordered(1000, "pay", b"event:1000"),
            ids[10],
            "the same event gives the same id"
        );
        // Same order, another name or namespace: another id.
        let a = TransferId::derive_ordered(7, "pay", b"alice:7");
        assert_ne!(a, TransferId::derive_ordered(7, "pay", b"bob:7"));
        assert_ne!(a, TransferId::derive_ordered(7, "request", b"alice:7"));
        assert_ne!(TransferId::derive_ordered(0, "pay", b"x0").as_u128(), 0);
    }

    #[test]
    fn an_id_derived_beside_its_anchor_sorts_next_to_it() {
        let anchor = TransferId::derive_ordered(5_000, "pay", b"event:5000");
        let post = TransferId::derive_beside(anchor, "pay.post", b"P7K2QX");
        assert_ne!(post, anchor);
        assert_eq!(post.as_u128() >> 64, anchor.as_u128() >> 64);
        assert_eq!(
            post,
            TransferId::derive_beside(anchor, "pay.post", b"P7K2QX")
        );
        let next = TransferId::derive_ordered(5_001, "pay", b"event:5001");
        assert!(
            post < next,
            "{post:?} sorts before the next event's {next:?}"
        );
        assert_ne!(
            post,
            TransferId::derive_beside(anchor, "pay.void", b"P7K2QX")
        );
    }
}
