//! The group tab's records (`/expense`, `/tab`) and their port,
//! [`TabStore`]: who has used paybot in which group, and each group's
//! expenses with one line per person.
//!
//! The one decision to know: an expense is written once, with its lines,
//! in one transaction, under an id derived from the chat event that added
//! it (a redelivery finds it, never adds it twice); later it changes only by
//! being undone (`undone_at_ms` set once). No money moves: the tab is a
//! record of who owes whom, in the group's own view.

use async_trait::async_trait;
use ledger::{Amount, TransferId};

use super::{StoreError, UserId};
use crate::command::{Memo, ShortRef};
use crate::message::{ChatId, Handle, Platform, PlatformUserId};
use crate::recurrence::Schedule;

/// Someone who has used paybot in a group, as last seen there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMember {
    pub platform_id: PlatformUserId,
    pub user: UserId,
    pub handle: Option<Handle>,
    pub display_name: String,
}

impl GroupMember {
    /// How messages name them: `@handle`, else their display name.
    pub fn label(&self) -> String {
        match &self.handle {
            Some(handle) => handle.to_string(),
            None => self.display_name.clone(),
        }
    }
}

/// One person's part of an expense: what they paid and what they owe, in
/// the expense's currency's minor units (one of them may be 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpenseLine {
    pub user: UserId,
    /// As named when the expense was added (`@bob`).
    pub label: String,
    pub paid_minor: i64,
    pub owed_minor: i64,
}

/// An expense on a group's tab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expense {
    /// What users type (`/expense undo E7K2QX`). Unique.
    pub reference: ShortRef,
    /// Derived from the chat event that added it. Unique.
    pub expense_id: TransferId,
    pub platform: Platform,
    pub chat: ChatId,
    pub author: UserId,
    pub author_label: String,
    pub total: Amount,
    pub memo: Option<Memo>,
    /// In the order the reply named them; paid and owed each add up to
    /// the total.
    pub lines: Vec<ExpenseLine>,
    pub created_at_ms: i64,
    pub undone_at_ms: Option<i64>,
}

/// The group tab on the bot's database.
#[async_trait]
pub trait TabStore: Send + Sync {
    /// Notes that `id` (the user `user`) wrote in the group `chat`.
    async fn note_group_member(
        &self,
        platform: Platform,
        chat: &ChatId,
        id: &PlatformUserId,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// The people who have used paybot in `chat`, first seen first, at
    /// most `limit`.
    async fn group_members(
        &self,
        platform: Platform,
        chat: &ChatId,
        limit: u32,
    ) -> Result<Vec<GroupMember>, StoreError>;

    /// Stores `expense` with its lines unless one with its reference or id
    /// exists; returns what is stored under its reference (the one a
    /// retry stored first, or another expense that holds the reference).
    async fn insert_expense(&self, expense: &Expense) -> Result<Expense, StoreError>;

    async fn expense(&self, reference: &ShortRef) -> Result<Option<Expense>, StoreError>;

    /// The group's expenses, newest first, at most `limit`; undone ones
    /// only with `with_undone`.
    async fn expenses_of_chat(
        &self,
        platform: Platform,
        chat: &ChatId,
        with_undone: bool,
        limit: u32,
    ) -> Result<Vec<Expense>, StoreError>;

    /// How many of the group's expenses are not undone.
    async fn open_expense_count(
        &self,
        platform: Platform,
        chat: &ChatId,
    ) -> Result<u64, StoreError>;

    /// Marks the expense undone at `now_ms`; `false` if it already was.
    async fn undo_expense(&self, reference: &ShortRef, now_ms: i64) -> Result<bool, StoreError>;
}

/// A recurring group expense (`/expense 1200 split @a @b every month for
/// rent`): the same expense, with the same lines, added to the group's tab
/// on each period of its schedule (the author's time zone). No money moves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecurringExpense {
    /// What users type (`/expense stop G7K2QX`). Unique.
    pub reference: ShortRef,
    /// Derived from the chat event that set it up. Unique. Each period's
    /// expense id derives from it and the period.
    pub recurring_id: TransferId,
    pub platform: Platform,
    pub chat: ChatId,
    pub author: UserId,
    pub author_label: String,
    pub total: Amount,
    pub memo: Option<Memo>,
    /// Each period's expense lines, as computed when it was set up.
    pub lines: Vec<ExpenseLine>,
    pub schedule: Schedule,
    /// The next period to add (the `k` of [`Schedule::run_at_ms`]).
    pub next_period: u32,
    /// When that period is due; `None` once it has ended (stopped, or no
    /// period left).
    pub due_at_ms: Option<i64>,
    pub created_at_ms: i64,
    /// When its author stopped it, if they did.
    pub stopped_at_ms: Option<i64>,
}

/// Recurring group expenses on the bot's database (migration 29).
///
/// The one decision to know: a recurring expense moves from one period to
/// the next only by compare-and-swap on `next_period`; each period's
/// expense is inserted under an id derived from (recurring id, period)
/// before that, so a period is added once whatever races or restarts.
#[async_trait]
pub trait RecurringExpenseStore: Send + Sync {
    /// Stores it with its lines unless one with its reference or id
    /// exists; returns what is stored under its reference (as
    /// [`TabStore::insert_expense`]).
    async fn insert_recurring_expense(
        &self,
        recurring: &RecurringExpense,
    ) -> Result<RecurringExpense, StoreError>;

    async fn recurring_expense(
        &self,
        reference: &ShortRef,
    ) -> Result<Option<RecurringExpense>, StoreError>;

    /// The group's recurring expenses that have not ended, oldest first,
    /// at most `limit`.
    async fn recurring_expenses_of_chat(
        &self,
        platform: Platform,
        chat: &ChatId,
        limit: u32,
    ) -> Result<Vec<RecurringExpense>, StoreError>;

    /// Recurring expenses due at or before `now_ms`, earliest first, at
    /// most `limit`.
    async fn recurring_expenses_due(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<RecurringExpense>, StoreError>;

    /// Moves it from period `from` to `to`, due at `due_at_ms` (`None`:
    /// ended); `false` (nothing changed) if its next period is not `from`
    /// or it has ended.
    async fn advance_recurring_expense(
        &self,
        reference: &ShortRef,
        from: u32,
        to: u32,
        due_at_ms: Option<i64>,
    ) -> Result<bool, StoreError>;

    /// Ends it, stopped at `now_ms`; `false` if it had already ended.
    async fn stop_recurring_expense(
        &self,
        reference: &ShortRef,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
}

/// How a settlement was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettlementKind {
    /// Through paybot: a payment (code, limits, ledger transfer).
    Paid,
    /// Outside paybot, recorded by the payer; counts once the payee
    /// confirms it.
    Cash,
}

impl SettlementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SettlementKind::Paid => "paid",
            SettlementKind::Cash => "cash",
        }
    }

    pub fn from_str_opt(text: &str) -> Option<SettlementKind> {
        [SettlementKind::Paid, SettlementKind::Cash]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// Where a settlement stands. A paid one's state is its payment's, read
/// with it (so it counts in the very commit that moves the money); a cash
/// one's is the payee's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettlementState {
    /// Its payment waits for its code (or a review), or the payee has not
    /// answered yet.
    Pending,
    /// Counts on the tab: paid, or confirmed by the payee.
    Counted,
    /// The payee said it did not happen (cash only).
    Rejected,
    /// Its payment ended without moving money (cancelled, expired, ...),
    /// or never started (refused before any money was reserved); or, in
    /// cash, its payer cancelled it before the payee answered.
    Lapsed,
    /// In cash: its payee did not answer within the time a cash
    /// settlement waits (`cash_settle_ttl_secs`); it never counts.
    Expired,
}

impl SettlementState {
    pub fn as_str(self) -> &'static str {
        match self {
            SettlementState::Pending => "pending",
            SettlementState::Counted => "counted",
            SettlementState::Rejected => "rejected",
            SettlementState::Lapsed => "lapsed",
            SettlementState::Expired => "expired",
        }
    }
}

/// A settlement on a group's tab: `payer` paid `payee` `amount` toward it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    /// What users type (`/settle confirm T7K2QX`). Unique.
    pub reference: ShortRef,
    /// Derived from the chat event that made it. Unique.
    pub settlement_id: TransferId,
    pub platform: Platform,
    pub chat: ChatId,
    pub payer: UserId,
    pub payer_label: String,
    /// Where the payer is told things.
    pub payer_platform_id: PlatformUserId,
    pub payee: UserId,
    pub payee_label: String,
    /// Where the payee is told things.
    pub payee_platform_id: PlatformUserId,
    pub amount: Amount,
    pub kind: SettlementKind,
    /// A paid settlement's payment's pending transfer.
    pub payment_transfer: Option<TransferId>,
    /// As read (see [`SettlementState`]); writes ignore it but for a cash
    /// one's answer.
    pub state: SettlementState,
    pub created_at_ms: i64,
    pub decided_at_ms: Option<i64>,
}

/// What `payer` settled with `payee` on a group's tab in one currency,
/// counted settlements only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettledTotal {
    pub payer: UserId,
    /// As last named by one of these settlements.
    pub payer_label: String,
    pub payee: UserId,
    pub payee_label: String,
    pub amount: Amount,
    /// How many settlements.
    pub count: u64,
}

/// The settlements of the group tab on the bot's database.
#[async_trait]
pub trait SettlementStore: Send + Sync {
    /// Stores `settlement` (pending) unless one with its id exists; returns
    /// what is stored under its id, or `None` when its reference belongs
    /// to another settlement.
    async fn insert_settlement(
        &self,
        settlement: &Settlement,
    ) -> Result<Option<Settlement>, StoreError>;

    async fn settlement(&self, reference: &ShortRef) -> Result<Option<Settlement>, StoreError>;

    /// The group's settlements, newest first, at most `limit`, with their
    /// states.
    async fn settlements_of_chat(
        &self,
        platform: Platform,
        chat: &ChatId,
        limit: u32,
    ) -> Result<Vec<Settlement>, StoreError>;

    /// What every counted settlement of the group comes to, per payer,
    /// payee and currency (however many there are: the tab's debts take
    /// them all).
    async fn counted_settlements(
        &self,
        platform: Platform,
        chat: &ChatId,
    ) -> Result<Vec<SettledTotal>, StoreError>;

    /// Records the payee's answer to a pending cash settlement; `false` if
    /// it was answered already.
    async fn answer_cash_settlement(
        &self,
        reference: &ShortRef,
        accept: bool,
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Withdraws `payer`'s cash settlement while its payee has not
    /// answered (it lapses); `false` if it was answered or withdrawn
    /// already, or is not `payer`'s.
    async fn cancel_cash_settlement(
        &self,
        reference: &ShortRef,
        payer: UserId,
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Cash settlements still unanswered that were made at or before
    /// `made_by_ms`, oldest first, at most `limit` (the sweep expires them
    /// with [`crate::store::RecordChange::ExpireCashSettlement`]).
    async fn cash_settlements_unanswered(
        &self,
        made_by_ms: i64,
        limit: u32,
    ) -> Result<Vec<Settlement>, StoreError>;

    /// Notes that `debtor` is asked now (`now_ms`) to settle the tab of
    /// `chat`, unless they were asked there after `asked_after_ms` (one
    /// check-and-set): `true` when they are to be asked now.
    async fn note_settle_ask(
        &self,
        platform: Platform,
        chat: &ChatId,
        debtor: UserId,
        now_ms: i64,
        asked_after_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Marks the expense `old` undone and stores `new` (its edit) in one
    /// transaction: `Some(stored)` with the stored new expense (also when a
    /// retry finds it stored already), `None` when `old` was undone
    /// meanwhile, or the new reference is taken.
    async fn replace_expense(
        &self,
        old: &ShortRef,
        new: &Expense,
        now_ms: i64,
    ) -> Result<Option<Expense>, StoreError>;
}
