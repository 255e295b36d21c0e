//! Standing orders (`/pay @landlord 500 every month on the 1st`) and each
//! user's time zone: the records and their port, [`StandingStore`].
//!
//! The one decision to know: an order keeps the **next period** it has to
//! run (`next_period`, the `k` of [`Schedule::run_at_ms`]) and moves it on
//! only by compare-and-swap on `revision`, in the same ledger unit as the
//! run's transfer (whose id derives from the order and `k`). So a run is
//! made at most once, whoever races for it; money itself is only in the
//! ledger.

use async_trait::async_trait;
use jiff::civil::{Date, Time};
use ledger::{Amount, TransferId};

use super::{StoreError, UserId};
use crate::command::{Memo, ShortRef};
use crate::message::{Platform, PlatformUserId};
use crate::otp::OtpChallenge;
use crate::recurrence::{Ends, Frequency, Recurrence, Schedule, UserTimeZone};
use crate::trust::Review;

stored_names! {
    /// Where a standing order stands. Transitions (all compare-and-swap):
    ///
    /// ```text
    /// AwaitingCode --confirm--> Active <--pause / resume--> Paused
    ///              --expired / wrong codes / leaked--> Expired | LockedOut | Leaked
    /// Active | Paused --cancel--> Cancelled
    /// Active --last run--> Finished
    /// ```
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    pub enum StandingState {
        AwaitingCode = "awaiting_code",
        Active = "active",
        Paused = "paused",
        Cancelled = "cancelled",
        Finished = "finished",
        Expired = "expired",
        LockedOut = "locked_out",
        /// Its code was typed in a group.
        Leaked = "leaked",
    }
}

stored_names! {
    /// What a standing order makes each period: a payment from `payer` to
    /// `payee`, or (`/request @bob 10 every month`) a payment request from
    /// `payer` (the requester, who set it up) to `payee` (who is asked).
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    pub enum StandingKind {
        Payment = "pay",
        Request = "request",
    }
}

impl StandingState {
    /// No further transition is possible.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            StandingState::AwaitingCode | StandingState::Active | StandingState::Paused
        )
    }
}

/// One standing order: who pays whom how much on which schedule, the code
/// that confirmed it, and the next period it has to run.
#[derive(Clone, Debug)]
pub struct StandingOrder {
    /// What users type (`/scheduled cancel SXXXXXX`). Unique.
    pub reference: ShortRef,
    /// The order's own id (from the chat event that made it): its code is
    /// bound to it and each run's transfer id derives from it. Unique.
    pub order_id: TransferId,
    pub payer: UserId,
    /// The identity that made the order: where the payer is told things.
    pub payer_platform: Platform,
    pub payer_id: PlatformUserId,
    /// The payee, a known user reached through this identity.
    pub payee: UserId,
    pub payee_platform: Platform,
    pub payee_id: PlatformUserId,
    /// The payee as messages name them (`@bob`).
    pub payee_label: String,
    pub amount: Amount,
    pub memo: Option<Memo>,
    /// When it runs (rule, first date, local time, time zone).
    pub schedule: Schedule,
    /// The next period to run (`k`); runs before it were made or skipped.
    pub next_period: u32,
    /// Tries of `next_period` that found too little money.
    pub attempts: u32,
    /// The last period the payer was told about ahead of its run.
    pub told_period: Option<u32>,
    pub challenge: OtpChallenge,
    /// What the policy point asked of it when it was made.
    pub review: Review,
    pub state: StandingState,
    /// When it next needs the scheduler: its code's expiry while
    /// [`StandingState::AwaitingCode`], the next try of a run while
    /// [`StandingState::Active`]; `None` when paused or final.
    pub due_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub revision: i64,
    /// A payment each period, or a request.
    pub kind: StandingKind,
}

/// A schedule as its columns: the rule in a canonical text that
/// [`Recurrence::parse`] reads back, the first run's date (`YYYY-MM-DD`),
/// the local time as minutes after midnight, and the zone's name.
pub fn schedule_columns(schedule: &Schedule) -> (String, String, i64, String) {
    let (recurrence, first, at, zone) = schedule.parts();
    let minute = i64::from(at.hour()) * 60 + i64::from(at.minute());
    (
        rule_text(recurrence),
        first.to_string(),
        minute,
        zone.name().to_owned(),
    )
}

/// The schedule stored as [`schedule_columns`] gave it; `None`: a column
/// does not read back (a corrupt row).
pub fn schedule_from_columns(rule: &str, first: &str, minute: i64, zone: &str) -> Option<Schedule> {
    let recurrence = Recurrence::parse(rule).ok()?;
    let first: Date = first.parse().ok()?;
    let hour = i8::try_from(minute.checked_div(60)?).ok()?;
    let minute = i8::try_from(minute.checked_rem(60)?).ok()?;
    let at = Time::new(hour, minute, 0, 0).ok()?;
    let zone = UserTimeZone::parse(zone).ok()?;
    Some(Schedule::from_parts(recurrence, first, at, zone))
}

/// `every 1 months on the 31 until 2027-06-30`: every part spelt out, so
/// the stored rule never depends on how the user typed it; it parses back
/// to the same [`Recurrence`].
pub fn rule_text(recurrence: Recurrence) -> String {
    let mut text = match recurrence.frequency() {
        Frequency::Daily { every } => format!("every {every} days"),
        Frequency::Weekly { every, weekday } => match weekday {
            Some(day) => format!("every {every} weeks on {}", weekday_word(day)),
            None => format!("every {every} weeks"),
        },
        Frequency::Monthly { every, day } => match day {
            Some(day) => format!("every {every} months on the {day}"),
            None => format!("every {every} months"),
        },
    };
    match recurrence.ends() {
        Ends::Never => {}
        Ends::Until(date) => text.push_str(&format!(" until {date}")),
        Ends::Times(n) => text.push_str(&format!(" times {n}")),
    }
    text
}

fn weekday_word(day: jiff::civil::Weekday) -> &'static str {
    use jiff::civil::Weekday;
    match day {
        Weekday::Monday => "monday",
        Weekday::Tuesday => "tuesday",
        Weekday::Wednesday => "wednesday",
        Weekday::Thursday => "thursday",
        Weekday::Friday => "friday",
        Weekday::Saturday => "saturday",
        Weekday::Sunday => "sunday",
    }
}

/// A due row the store could not read back as an order: a value no
/// version of paybot writes (a hand edit, a time zone a downgraded
/// database does not know). Its `seq` finds it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableOrder {
    /// The row's insertion number.
    pub seq: i64,
    /// Its reference, when that column at least reads.
    pub reference: Option<String>,
    /// What could not be read, for the log.
    pub problem: String,
}

/// What [`StandingStore::standing_orders_due`] found: the orders, and the
/// rows among them that could not be read (each skipped, never a reason to
/// run no order at all).
#[derive(Debug, Clone, Default)]
pub struct DueOrders {
    pub orders: Vec<StandingOrder>,
    pub unreadable: Vec<UnreadableOrder>,
}

/// The standing orders and time zones, on the bot's database.
#[async_trait]
pub trait StandingStore: Send + Sync {
    /// The ledger record write that moves `order` from its stored revision
    /// to this one (compare-and-swap), committed in the ledger's batch with
    /// the run it records. Pure: nothing is written here.
    fn standing_write(&self, order: &StandingOrder) -> Result<ledger::RecordWrite, StoreError>;

    /// Inserts unless one with the same reference or order id exists;
    /// returns what is stored (the existing one, on a retry).
    async fn insert_standing_order(
        &self,
        order: &StandingOrder,
    ) -> Result<StandingOrder, StoreError>;

    async fn standing_order(
        &self,
        reference: &ShortRef,
    ) -> Result<Option<StandingOrder>, StoreError>;

    /// The payer's orders waiting for their code, newest first.
    async fn standing_orders_awaiting_code(
        &self,
        payer: UserId,
    ) -> Result<Vec<StandingOrder>, StoreError>;

    /// The payer's orders that are not final, oldest first, at most `limit`.
    async fn standing_orders_of(
        &self,
        payer: UserId,
        limit: u32,
    ) -> Result<Vec<StandingOrder>, StoreError>;

    /// Orders waiting for their code or active whose `due_at_ms` is at or
    /// before `now_ms`, oldest due first, at most `limit` rows (readable or
    /// not).
    async fn standing_orders_due(&self, now_ms: i64, limit: u32) -> Result<DueOrders, StoreError>;

    /// Puts off the row `seq` (one [`UnreadableOrder`]) until `due_at_ms`,
    /// so it neither fills the due list nor is met at every sweep.
    async fn put_off_unreadable_standing_order(
        &self,
        seq: i64,
        due_at_ms: i64,
    ) -> Result<(), StoreError>;

    /// Compare-and-swap on `order.revision`, as
    /// [`Store::update_payment`](super::Store::update_payment).
    async fn update_standing_order(&self, order: &StandingOrder) -> Result<bool, StoreError>;

    /// The user's time zone as last set with `/tz` (its IANA name).
    async fn time_zone_of(&self, user: UserId) -> Result<Option<String>, StoreError>;

    /// Sets the user's time zone (its IANA name).
    async fn set_time_zone(&self, user: UserId, zone: &str, now_ms: i64) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_reads_back_from_its_columns() {
        let zone = UserTimeZone::parse("America/New_York").unwrap_or_else(|_| UserTimeZone::utc());
        let now_ms = 1_767_225_600_000;
        for rule in [
            "every month on the 31st until 2027-06-30",
            "monthly",
            "every 3 months on the 15th times 4",
            "every other week on tuesday",
            "weekly",
            "every 10 days",
            "daily times 1",
        ] {
            let recurrence = Recurrence::parse(rule).unwrap();
            let schedule = Schedule::starting(
                recurrence,
                zone.clone(),
                Time::constant(7, 45, 0, 0),
                now_ms,
            )
            .unwrap();
            let (rule_text, first, minute, zone_name) = schedule_columns(&schedule);
            let back = schedule_from_columns(&rule_text, &first, minute, &zone_name).unwrap();
            assert_eq!(back, schedule, "{rule} stored as {rule_text}");
            assert_eq!(
                back.recurrence().to_string(),
                schedule.recurrence().to_string()
            );
        }
        assert!(schedule_from_columns("every day", "2026-02-30", 0, "UTC").is_none());
        assert!(schedule_from_columns("every day", "2026-02-03", 1_440, "UTC").is_none());
        assert!(schedule_from_columns("sometimes", "2026-02-03", 0, "UTC").is_none());
    }
}
