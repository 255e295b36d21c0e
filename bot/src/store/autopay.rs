//! Autopay for a biller with a monthly cap (`/autopay @biller up to 80`):
//! the records and their port, [`AutopayStore`].
//!
//! The one decision to know: each invoice that arrives while an autopay is
//! on gets an [`AutopayRun`] (keyed by the invoice's request reference, so
//! a resent invoice makes none twice). A run is paid in one ledger unit
//! with three compare-and-swaps: the run (to `paid`, with the month it
//! counts in), the autopay (its revision moves on, so two runs of one
//! autopay never count against the cap at once) and the request (to
//! `paid`, so a payment by hand and the autopay never both pay it).

use async_trait::async_trait;
use ledger::{Amount, TransferId};

use super::{StoreError, UserId};
use crate::command::ShortRef;
use crate::message::{Platform, PlatformUserId};
use crate::otp::OtpChallenge;
use crate::trust::Review;

stored_names! {
    /// Where an autopay stands. Transitions (all compare-and-swap):
    ///
    /// ```text
    /// AwaitingCode --confirm--> Active --/autopay off, or a newer one--> Off
    ///              --expired / wrong codes / leaked--> Expired | LockedOut | Leaked
    /// ```
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    pub enum AutopayState {
        AwaitingCode = "awaiting_code",
        Active = "active",
        Off = "off",
        Expired = "expired",
        LockedOut = "locked_out",
        /// Its code was typed in a group.
        Leaked = "leaked",
    }
}

/// One autopay: the payer pays the payee's invoices by themselves, within
/// `cap` per calendar month (the payer's time zone, by due date).
#[derive(Clone, Debug)]
pub struct Autopay {
    /// What users see (`U7K2QXM`). Unique.
    pub reference: ShortRef,
    /// The autopay's own id (from the chat event that made it): its code is
    /// bound to it and each run's transfer id derives from it. Unique.
    pub autopay_id: TransferId,
    pub payer: UserId,
    /// The identity that set it up: where the payer is told things.
    pub payer_platform: Platform,
    pub payer_id: PlatformUserId,
    /// The biller (its user), reached through this identity.
    pub payee: UserId,
    pub payee_platform: Platform,
    pub payee_id: PlatformUserId,
    /// The biller as invoices name it (`@power`).
    pub payee_label: String,
    /// The most paid by it per calendar month; invoices in another currency
    /// are never paid by it.
    pub cap: Amount,
    pub challenge: OtpChallenge,
    /// What the policy point asked of it (for `cap`) when it was set up.
    pub review: Review,
    pub state: AutopayState,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub revision: i64,
    /// The recurring request (`O...`) whose requests it pays; `None`: the
    /// payee's invoices.
    pub series: Option<ShortRef>,
}

stored_names! {
    /// Where one invoice's autopay stands. `Scheduled` is the only state
    /// that is not final.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    pub enum AutopayRunState {
        Scheduled = "scheduled",
        Paid = "paid",
        /// Left for the payer to pay by hand (above the cap, not enough
        /// money, refused); they were told why.
        Waiting = "waiting",
        /// Nothing to do: the invoice was paid, declined, cancelled or
        /// expired meanwhile, or the autopay was turned off.
        Dropped = "dropped",
    }
}

/// One invoice an autopay is to pay on its due date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutopayRun {
    /// The invoice's request (`/approve REF`). Unique.
    pub request: ShortRef,
    /// The autopay that pays it.
    pub autopay: ShortRef,
    pub payer: UserId,
    pub amount: Amount,
    /// The invoice's due date.
    pub due_at_ms: i64,
    /// When it is paid (a little before its due date).
    pub pay_at_ms: i64,
    pub state: AutopayRunState,
    /// Whether the payer was told ahead of it.
    pub told: bool,
    /// Tries that found too little money.
    pub attempts: u32,
    /// The calendar month it counts in once paid (`2027-01`).
    pub month: Option<String>,
    /// When it next needs the scheduler; `None` once final.
    pub next_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub revision: i64,
}

/// Autopays and their runs, on the bot's database.
#[async_trait]
pub trait AutopayStore: Send + Sync {
    /// The ledger record write that moves `autopay` from its stored
    /// revision to this one (compare-and-swap). Pure.
    fn autopay_write(&self, autopay: &Autopay) -> Result<ledger::RecordWrite, StoreError>;

    /// The ledger record write that moves `run` from its stored revision to
    /// this one (compare-and-swap). Pure.
    fn autopay_run_write(&self, run: &AutopayRun) -> Result<ledger::RecordWrite, StoreError>;

    /// The ledger record write that inserts `run` unless its request has a
    /// run already (which it then keeps). Pure.
    fn autopay_run_insert_write(&self, run: &AutopayRun)
    -> Result<ledger::RecordWrite, StoreError>;

    /// Inserts unless one with the same reference or id exists; returns
    /// what is stored.
    async fn insert_autopay(&self, autopay: &Autopay) -> Result<Autopay, StoreError>;

    async fn autopay(&self, reference: &ShortRef) -> Result<Option<Autopay>, StoreError>;

    /// The payer's autopays waiting for a code or active, oldest first, at
    /// most `limit`.
    async fn autopays_of(&self, payer: UserId, limit: u32) -> Result<Vec<Autopay>, StoreError>;

    /// The payer's newest active autopay for the requests of the
    /// recurring request `series`.
    async fn series_autopay(
        &self,
        payer: UserId,
        series: &ShortRef,
    ) -> Result<Option<Autopay>, StoreError>;

    /// The payer's newest active autopay for `payee`'s invoices.
    async fn active_autopay(
        &self,
        payer: UserId,
        payee: UserId,
    ) -> Result<Option<Autopay>, StoreError>;

    /// Compare-and-swap on `autopay.revision`.
    async fn update_autopay(&self, autopay: &Autopay) -> Result<bool, StoreError>;

    /// Inserts unless the request has a run; returns what is stored.
    async fn insert_autopay_run(&self, run: &AutopayRun) -> Result<AutopayRun, StoreError>;

    async fn autopay_run(&self, request: &ShortRef) -> Result<Option<AutopayRun>, StoreError>;

    /// Scheduled runs whose `next_at_ms` is at or before `now_ms`, oldest
    /// first, at most `limit`.
    async fn autopay_runs_due(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<AutopayRun>, StoreError>;

    /// Autopays (of any payer) still waiting for a code issued at or
    /// before `issued_before_ms`, oldest code first, at most `limit`: the
    /// set-ups whose code expired unconfirmed, for the sweep to end.
    async fn autopays_awaiting_code_issued_before(
        &self,
        issued_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<Autopay>, StoreError>;

    /// Compare-and-swap on `run.revision`.
    async fn update_autopay_run(&self, run: &AutopayRun) -> Result<bool, StoreError>;

    /// What the payer of `autopay` had autopaid to its payee (for the same
    /// series, if it has one) in its cap's currency for runs counted in
    /// `month`, in minor units, whichever of their autopays paid them: a
    /// new cap counts what a replaced one paid that month.
    async fn autopaid_in_month(&self, autopay: &Autopay, month: &str) -> Result<i64, StoreError>;

    /// Whether `user` is a registered biller's user.
    async fn is_biller(&self, user: UserId) -> Result<bool, StoreError>;
}
