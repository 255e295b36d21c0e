//! When a standing order runs: a [`Recurrence`] parsed from chat text
//! ("every month on the 31st until 2027-06-30"), a user's [`UserTimeZone`],
//! and the [`Schedule`] that turns both into the instant of each run.
//!
//! The decision to know: a run is named by its **period number** `k` (0, 1,
//! 2, ...), and the `k`-th run's instant is a pure function of the order's
//! first date, its rule, its local time of day, its time zone and `k`; never
//! "the last run plus a month". So a missed run, a restart or a clock that
//! jumps cannot shift or double the later ones, and a ledger transfer id
//! derived from (order, `k`) makes each run happen at most once.
//!
//! Calendar rules:
//! - a monthly day past the end of a shorter month runs on that month's last
//!   day (the 31st runs on 30 April and on 28 or 29 February), and the next
//!   month is back on its day;
//! - a local time that a daylight-saving change skips runs at the same
//!   distance after the change (02:30 on a spring-forward night runs at
//!   03:30); a local time that happens twice runs at the first one;
//! - time zones come from the IANA database bundled into the binary (jiff's
//!   `tzdb-bundle-always`), so every host computes the same instants.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;

/// The longest gap between two runs of a daily rule, in days.
pub const EVERY_DAYS_MAX: u16 = 366;
/// The longest gap between two runs of a weekly rule, in weeks.
pub const EVERY_WEEKS_MAX: u16 = 52;
/// The longest gap between two runs of a monthly rule, in months.
pub const EVERY_MONTHS_MAX: u16 = 12;
/// The most runs an order may ask for with `times N`.
pub const RUNS_MAX: u32 = 1_000;
/// How far ahead of its first run an order may run, in years: `until` or
/// `times N` past it is refused, and an open-ended order stops there.
pub const HORIZON_YEARS_MAX: i16 = 10;
/// The longest recurrence phrase parsed, in bytes.
pub const RECURRENCE_TEXT_BYTES_MAX: usize = 128;
/// The longest time-zone name accepted, in bytes (IANA names are shorter).
pub const TIME_ZONE_NAME_BYTES_MAX: usize = 64;

/// How often an order runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frequency {
    /// Every `every` days.
    Daily { every: u16 },
    /// Every `every` weeks on `weekday` (`None`: the weekday of the day the
    /// order was made).
    Weekly {
        every: u16,
        weekday: Option<Weekday>,
    },
    /// Every `every` months on `day` (1 to 31; `None`: the day of the month
    /// the order was made). A day past the month's end is its last day.
    Monthly { every: u16, day: Option<u8> },
}

/// When an order stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ends {
    /// At [`HORIZON_YEARS_MAX`] after the first run, or when cancelled.
    Never,
    /// After the last run on or before this date (the order's time zone).
    Until(Date),
    /// After this many runs.
    Times(u32),
}

/// A parsed recurrence: how often and until when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recurrence {
    frequency: Frequency,
    ends: Ends,
}

/// Why a recurrence phrase or a time zone was refused; `Display` is the
/// line the user reads.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecurrenceError {
    #[error(
        "say how often, e.g. `every month on the 1st`, `every week on friday`, `every 2 weeks` or `every day`"
    )]
    Unrecognised,
    #[error("`{0}` is not something I understand in a schedule")]
    UnexpectedWord(String),
    #[error("every {0}: the gap must be a whole number from 1 to {1}")]
    Interval(String, u16),
    #[error("`{0}` is not a day of the month (1st to 31st)")]
    DayOfMonth(String),
    #[error("`{0}` is not a day of the week")]
    Weekday(String),
    #[error("`{0}` is not a date: write it as YYYY-MM-DD, e.g. 2027-06-30")]
    Date(String),
    #[error("`times` needs a whole number of runs from 1 to {RUNS_MAX}")]
    Times,
    #[error("give `until` or `times`, not both")]
    TwoEnds,
    #[error("that schedule is too long: at most {RECURRENCE_TEXT_BYTES_MAX} characters")]
    TooLong,
    #[error("the order would end before its first run ({0})")]
    EndsBeforeStart(String),
    #[error("an order can run for at most {HORIZON_YEARS_MAX} years")]
    TooFar,
    #[error("`{0}` is not a time zone I know: use a name like Europe/Paris or America/New_York")]
    TimeZone(String),
}

impl Recurrence {
    /// Parses a phrase such as `every month on the 1st`, `every 2 weeks on
    /// fri until 2027-06-30`, `weekly`, `every friday`, `every day times 10`.
    /// Case and extra spaces do not matter.
    pub fn parse(text: &str) -> Result<Recurrence, RecurrenceError> {
        if text.len() > RECURRENCE_TEXT_BYTES_MAX {
            return Err(RecurrenceError::TooLong);
        }
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        let mut rest = words.as_slice();
        let frequency = parse_frequency(&mut rest)?;
        let ends = parse_ends(&mut rest)?;
        match rest.first() {
            None => Ok(Recurrence { frequency, ends }),
            Some(word) => Err(RecurrenceError::UnexpectedWord((*word).to_owned())),
        }
    }

    /// Whether `word` can start a recurrence phrase (`every`, `daily`,
    /// `weekly`, `monthly`): how the command grammar tells a schedule from a
    /// memo-less one-off payment.
    pub fn starts_with(word: &str) -> bool {
        matches!(
            word.to_lowercase().as_str(),
            "every" | "daily" | "weekly" | "monthly"
        )
    }

    /// How often.
    pub fn frequency(&self) -> Frequency {
        self.frequency
    }

    /// When it stops.
    pub fn ends(&self) -> Ends {
        self.ends
    }
}

fn take<'a>(rest: &mut &[&'a str]) -> Option<&'a str> {
    let (first, tail) = rest.split_first()?;
    *rest = tail;
    Some(first)
}

fn peek<'a>(rest: &[&'a str]) -> Option<&'a str> {
    rest.first().copied()
}

fn parse_frequency(rest: &mut &[&str]) -> Result<Frequency, RecurrenceError> {
    let unit_of = |word: &str| match word {
        "day" | "days" => Some(Unit::Day),
        "week" | "weeks" => Some(Unit::Week),
        "month" | "months" => Some(Unit::Month),
        _ => None,
    };
    let (every, unit) = match take(rest) {
        Some("daily") => (1, Unit::Day),
        Some("weekly") => (1, Unit::Week),
        Some("monthly") => (1, Unit::Month),
        Some("every") => match take(rest) {
            Some("other") => match take(rest).and_then(unit_of) {
                Some(unit) => (2, unit),
                None => return Err(RecurrenceError::Unrecognised),
            },
            Some(word) if word.bytes().all(|b| b.is_ascii_digit()) => {
                let unit = take(rest)
                    .and_then(unit_of)
                    .ok_or(RecurrenceError::Unrecognised)?;
                let max = unit.every_max();
                let every = word
                    .parse::<u16>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| {
                        RecurrenceError::Interval(format!("{word} {}", unit.plural()), max)
                    })?;
                (every, unit)
            }
            Some(word) => match (unit_of(word), weekday_of(word)) {
                (Some(unit), _) => (1, unit),
                // `every friday`: weekly on that day.
                (None, Some(weekday)) => {
                    return Ok(Frequency::Weekly {
                        every: 1,
                        weekday: Some(weekday),
                    });
                }
                (None, None) => return Err(RecurrenceError::UnexpectedWord(word.to_owned())),
            },
            None => return Err(RecurrenceError::Unrecognised),
        },
        _ => return Err(RecurrenceError::Unrecognised),
    };
    if peek(rest) != Some("on") {
        return Ok(match unit {
            Unit::Day => Frequency::Daily { every },
            Unit::Week => Frequency::Weekly {
                every,
                weekday: None,
            },
            Unit::Month => Frequency::Monthly { every, day: None },
        });
    }
    take(rest);
    match unit {
        Unit::Day => Err(RecurrenceError::UnexpectedWord("on".to_owned())),
        Unit::Week => {
            let word = take(rest).ok_or(RecurrenceError::Weekday(String::new()))?;
            let weekday =
                weekday_of(word).ok_or_else(|| RecurrenceError::Weekday(word.to_owned()))?;
            Ok(Frequency::Weekly {
                every,
                weekday: Some(weekday),
            })
        }
        Unit::Month => {
            if peek(rest) == Some("the") {
                take(rest);
            }
            let word = take(rest).ok_or(RecurrenceError::DayOfMonth(String::new()))?;
            let day = if word == "last" {
                if peek(rest) == Some("day") {
                    take(rest);
                }
                31
            } else {
                day_of_month(word).ok_or_else(|| RecurrenceError::DayOfMonth(word.to_owned()))?
            };
            Ok(Frequency::Monthly {
                every,
                day: Some(day),
            })
        }
    }
}

fn parse_ends(rest: &mut &[&str]) -> Result<Ends, RecurrenceError> {
    let mut ends = Ends::Never;
    while let Some(word) = peek(rest) {
        let next = match word {
            "until" => {
                take(rest);
                let text = take(rest).unwrap_or_default();
                Ends::Until(parse_date(text).ok_or_else(|| RecurrenceError::Date(text.to_owned()))?)
            }
            "times" => {
                take(rest);
                Ends::Times(parse_times(take(rest))?)
            }
            // `12 times`
            _ if word.bytes().all(|b| b.is_ascii_digit()) && rest.get(1) == Some(&"times") => {
                let count = parse_times(take(rest))?;
                take(rest);
                Ends::Times(count)
            }
            _ => break,
        };
        if ends != Ends::Never {
            return Err(RecurrenceError::TwoEnds);
        }
        ends = next;
    }
    Ok(ends)
}

fn parse_times(word: Option<&str>) -> Result<u32, RecurrenceError> {
    word.and_then(|w| w.parse::<u32>().ok())
        .filter(|n| (1..=RUNS_MAX).contains(n))
        .ok_or(RecurrenceError::Times)
}

/// `YYYY-MM-DD` only: the one form nobody reads two ways.
pub fn parse_iso_date(text: &str) -> Option<Date> {
    parse_date(text)
}

fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || !digits(year, 4) || !digits(month, 2) || !digits(day, 2) {
        return None;
    }
    Date::new(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?).ok()
}

#[derive(Clone, Copy)]
enum Unit {
    Day,
    Week,
    Month,
}

impl Unit {
    fn every_max(self) -> u16 {
        match self {
            Unit::Day => EVERY_DAYS_MAX,
            Unit::Week => EVERY_WEEKS_MAX,
            Unit::Month => EVERY_MONTHS_MAX,
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Unit::Day => "days",
            Unit::Week => "weeks",
            Unit::Month => "months",
        }
    }
}

fn weekday_of(word: &str) -> Option<Weekday> {
    let word = word
        .strip_suffix('s')
        .filter(|w| w.ends_with("day"))
        .unwrap_or(word);
    Some(match word {
        "monday" | "mon" => Weekday::Monday,
        "tuesday" | "tue" | "tues" => Weekday::Tuesday,
        "wednesday" | "wed" => Weekday::Wednesday,
        "thursday" | "thu" | "thur" | "thurs" => Weekday::Thursday,
        "friday" | "fri" => Weekday::Friday,
        "saturday" | "sat" => Weekday::Saturday,
        "sunday" | "sun" => Weekday::Sunday,
        _ => return None,
    })
}

/// `1`, `1st`, `2nd`, `3rd`, `4th`, ... `31st`, with the right suffix only.
fn day_of_month(word: &str) -> Option<u8> {
    let digits_end = word
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(word.len());
    let (digits, suffix) = word.split_at(digits_end);
    let day: u8 = digits.parse().ok().filter(|d| (1..=31).contains(d))?;
    (suffix.is_empty() || suffix == ordinal_suffix(day)).then_some(day)
}

fn ordinal_suffix(n: u8) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

fn weekday_name(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Monday => "Monday",
        Weekday::Tuesday => "Tuesday",
        Weekday::Wednesday => "Wednesday",
        Weekday::Thursday => "Thursday",
        Weekday::Friday => "Friday",
        Weekday::Saturday => "Saturday",
        Weekday::Sunday => "Sunday",
    }
}

impl fmt::Display for Recurrence {
    /// `every month on the 31st (the last day in shorter months) until
    /// 2027-06-30`, as the confirmation and `/scheduled` show it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let every = |f: &mut fmt::Formatter<'_>, n: u16, unit: &str| match n {
            1 => write!(f, "every {unit}"),
            2 => write!(f, "every other {unit}"),
            n => write!(f, "every {n} {unit}s"),
        };
        match self.frequency {
            Frequency::Daily { every: n } => every(f, n, "day")?,
            Frequency::Weekly { every: n, weekday } => {
                every(f, n, "week")?;
                if let Some(weekday) = weekday {
                    write!(f, " on {}", weekday_name(weekday))?;
                }
            }
            Frequency::Monthly { every: n, day } => {
                every(f, n, "month")?;
                match day {
                    Some(31) => write!(f, " on the last day")?,
                    Some(day) if day > 28 => write!(
                        f,
                        " on the {day}{} (the last day in shorter months)",
                        ordinal_suffix(day)
                    )?,
                    Some(day) => write!(f, " on the {day}{}", ordinal_suffix(day))?,
                    None => {}
                }
            }
        }
        match self.ends {
            Ends::Never => Ok(()),
            Ends::Until(date) => write!(f, " until {date}"),
            Ends::Times(1) => write!(f, ", once"),
            Ends::Times(n) => write!(f, ", {n} times"),
        }
    }
}

/// A user's time zone: an IANA name such as `Europe/Paris`, checked against
/// the bundled database.
#[derive(Clone, PartialEq, Eq)]
pub struct UserTimeZone {
    name: String,
    zone: TimeZone,
}

impl UserTimeZone {
    /// `Europe/Paris`, `america/new_york` (the database's spelling is
    /// kept), `UTC`. Fixed offsets and POSIX rules are refused: a named zone
    /// follows its daylight-saving changes.
    pub fn parse(text: &str) -> Result<UserTimeZone, RecurrenceError> {
        let text = text.trim();
        let refuse =
            || RecurrenceError::TimeZone(text.chars().take(TIME_ZONE_NAME_BYTES_MAX).collect());
        if text.is_empty() || text.len() > TIME_ZONE_NAME_BYTES_MAX || !text.is_ascii() {
            return Err(refuse());
        }
        let zone = TimeZone::get(text).map_err(|_| refuse())?;
        let name = zone.iana_name().ok_or_else(refuse)?.to_owned();
        Ok(UserTimeZone { name, zone })
    }

    /// Coordinated Universal Time.
    pub fn utc() -> UserTimeZone {
        UserTimeZone {
            name: "UTC".to_owned(),
            zone: TimeZone::UTC,
        }
    }

    /// The database's name, e.g. `Europe/Paris`: what is stored.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The local date at a Unix time in milliseconds.
    pub fn date_at(&self, at_ms: i64) -> Option<Date> {
        Some(
            self.zone
                .to_datetime(Timestamp::from_millisecond(at_ms).ok()?)
                .date(),
        )
    }

    /// The local time of day at a Unix time in milliseconds.
    pub fn time_at(&self, at_ms: i64) -> Option<Time> {
        Some(
            self.zone
                .to_datetime(Timestamp::from_millisecond(at_ms).ok()?)
                .time(),
        )
    }

    /// The Unix time in milliseconds of a local date and time (a time a
    /// daylight-saving change skips is taken as the zone's rules say).
    pub fn at_ms(&self, date: Date, time: Time) -> Option<i64> {
        Some(
            self.zone
                .to_timestamp(date.to_datetime(time))
                .ok()?
                .as_millisecond(),
        )
    }
}

impl fmt::Debug for UserTimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UserTimeZone").field(&self.name).finish()
    }
}

impl fmt::Display for UserTimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// A recurrence fixed in time: its first run's local date, the local time of
/// day it runs at, and its time zone. What a standing order stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    frequency: Frequency,
    ends: Ends,
    first: Date,
    at: Time,
    zone: UserTimeZone,
}

impl Schedule {
    /// The schedule of `recurrence` made at `now_ms`: its first run is the
    /// first date the rule names whose run (at `at`, local) is after
    /// `now_ms`. A rule without a weekday or day of month takes today's.
    pub fn starting(
        recurrence: Recurrence,
        zone: UserTimeZone,
        at: Time,
        now_ms: i64,
    ) -> Result<Schedule, RecurrenceError> {
        let today = zone.date_at(now_ms).ok_or(RecurrenceError::TooFar)?;
        let frequency = match recurrence.frequency {
            Frequency::Weekly {
                every,
                weekday: None,
            } => Frequency::Weekly {
                every,
                weekday: Some(today.weekday()),
            },
            Frequency::Monthly { every, day: None } => Frequency::Monthly {
                every,
                day: u8::try_from(today.day()).ok(),
            },
            other => other,
        };
        // The first run: today's match if its time is still ahead, else the
        // next date the rule names (one day, week or month on, whatever the
        // gap: `every 3 months on the 1st` made on 4 December starts on 1
        // January).
        let mut candidate = Schedule {
            frequency,
            ends: Ends::Never,
            first: first_on_or_after(frequency, today).ok_or(RecurrenceError::TooFar)?,
            at,
            zone,
        };
        if candidate.run_at_ms(0).is_none_or(|run| run <= now_ms) {
            let step = match frequency {
                Frequency::Daily { .. } => candidate.first.tomorrow().ok(),
                Frequency::Weekly { .. } => {
                    candidate.first.checked_add(jiff::Span::new().weeks(1)).ok()
                }
                Frequency::Monthly { .. } => candidate
                    .first
                    .first_of_month()
                    .checked_add(jiff::Span::new().months(1))
                    .ok(),
            };
            candidate.first = step
                .and_then(|from| first_on_or_after(frequency, from))
                .ok_or(RecurrenceError::TooFar)?;
        }
        candidate.ends = recurrence.ends;
        if let Ends::Until(until) = recurrence.ends {
            if until < candidate.first {
                return Err(RecurrenceError::EndsBeforeStart(
                    candidate.first.to_string(),
                ));
            }
            if candidate.horizon().is_none_or(|horizon| until > horizon) {
                return Err(RecurrenceError::TooFar);
            }
        }
        if let Ends::Times(n) = recurrence.ends
            && candidate.run_date(n.saturating_sub(1)).is_none()
        {
            return Err(RecurrenceError::TooFar);
        }
        Ok(candidate)
    }

    /// A stored schedule, as [`Schedule::parts`] gave it.
    pub fn from_parts(
        recurrence: Recurrence,
        first: Date,
        at: Time,
        zone: UserTimeZone,
    ) -> Schedule {
        Schedule {
            frequency: recurrence.frequency,
            ends: recurrence.ends,
            first,
            at,
            zone,
        }
    }

    /// What to store: the rule (weekday and day filled in), the first run's
    /// date, the local time and the zone.
    pub fn parts(&self) -> (Recurrence, Date, Time, &UserTimeZone) {
        let recurrence = Recurrence {
            frequency: self.frequency,
            ends: self.ends,
        };
        (recurrence, self.first, self.at, &self.zone)
    }

    /// The rule as the user reads it.
    pub fn recurrence(&self) -> Recurrence {
        Recurrence {
            frequency: self.frequency,
            ends: self.ends,
        }
    }

    /// The time zone the schedule runs in.
    pub fn zone(&self) -> &UserTimeZone {
        &self.zone
    }

    fn horizon(&self) -> Option<Date> {
        self.first
            .checked_add(jiff::Span::new().years(HORIZON_YEARS_MAX))
            .ok()
    }

    /// The local date of run `k`, if the order has a run `k`.
    pub fn run_date(&self, k: u32) -> Option<Date> {
        let date = match self.frequency {
            Frequency::Daily { every } => self
                .first
                .checked_add(
                    jiff::Span::new()
                        .try_days(i64::from(every) * i64::from(k))
                        .ok()?,
                )
                .ok()?,
            Frequency::Weekly { every, .. } => self
                .first
                .checked_add(
                    jiff::Span::new()
                        .try_weeks(i64::from(every) * i64::from(k))
                        .ok()?,
                )
                .ok()?,
            Frequency::Monthly { every, day } => {
                let month = self
                    .first
                    .first_of_month()
                    .checked_add(
                        jiff::Span::new()
                            .try_months(i64::from(every) * i64::from(k))
                            .ok()?,
                    )
                    .ok()?;
                let day = i8::try_from(day.unwrap_or(1))
                    .ok()?
                    .min(month.days_in_month());
                Date::new(month.year(), month.month(), day).ok()?
            }
        };
        let within = match self.ends {
            Ends::Never => self.horizon().is_some_and(|horizon| date <= horizon),
            Ends::Until(until) => date <= until,
            // `times N` stops at the horizon too.
            Ends::Times(n) => k < n && self.horizon().is_some_and(|horizon| date <= horizon),
        };
        within.then_some(date)
    }

    /// The Unix time in milliseconds of run `k`, if the order has a run `k`.
    pub fn run_at_ms(&self, k: u32) -> Option<i64> {
        let date = self.run_date(k)?;
        let local = date.to_datetime(self.at);
        Some(self.zone.zone.to_timestamp(local).ok()?.as_millisecond())
    }

    /// The first period whose run is at or after `at_ms` (`None`: the order
    /// has no run left). Runs are strictly increasing in `k`, so this is a
    /// binary search, never a walk from the first run.
    pub fn period_at_or_after(&self, at_ms: i64) -> Option<u32> {
        let (mut low, mut high) = (0u32, self.periods_bound());
        // Invariant: every period below `low` runs before `at_ms`; `high` is
        // past the answer (or past the last run).
        while low < high {
            let mid = low + (high - low) / 2;
            match self.run_at_ms(mid) {
                Some(run) if run < at_ms => low = mid + 1,
                _ => high = mid,
            }
        }
        self.run_at_ms(low).map(|_| low)
    }

    /// One past the largest period any order can have.
    fn periods_bound(&self) -> u32 {
        match self.ends {
            Ends::Times(n) => n,
            // A daily order over the horizon, with room.
            _ => u32::try_from(i64::from(HORIZON_YEARS_MAX) * 367 + 1).unwrap_or(u32::MAX),
        }
    }
}

/// The first date on or after `from` that `frequency` names (its weekday, or
/// its day of the month, clamped to the month's end).
fn first_on_or_after(frequency: Frequency, from: Date) -> Option<Date> {
    match frequency {
        Frequency::Daily { .. } => Some(from),
        Frequency::Weekly { weekday, .. } => match weekday {
            Some(weekday) if from.weekday() != weekday => from.nth_weekday(1, weekday).ok(),
            _ => Some(from),
        },
        Frequency::Monthly { day, .. } => {
            let in_month = |month: Date| {
                let day = i8::try_from(day.unwrap_or(1))
                    .ok()?
                    .min(month.days_in_month());
                Date::new(month.year(), month.month(), day).ok()
            };
            let this = in_month(from.first_of_month())?;
            if this >= from {
                Some(this)
            } else {
                in_month(
                    from.first_of_month()
                        .checked_add(jiff::Span::new().months(1))
                        .ok()?,
                )
            }
        }
    }
}

#[cfg(test)]
mod tests;
