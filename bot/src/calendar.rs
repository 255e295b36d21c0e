//! The UTC calendar of the core's millisecond clock: a [`YearMonth`] (the
//! unit of card expiry, and of "now" when checking one) and a [`UtcMoment`]
//! (a Unix time in milliseconds broken down to the second, for texts that
//! name a time and for the time a card-rail request was first made).
//!
//! The decision to know: pure arithmetic (Howard Hinnant's
//! `civil_from_days`), no clock and no time-zone database; only years
//! [`YEAR_MIN`] to [`YEAR_MAX`] are held, and anything outside is `None`,
//! never a wrapped or clamped date.

use std::fmt;

/// The earliest year a [`YearMonth`] or [`UtcMoment`] holds.
pub const YEAR_MIN: u16 = 1970;
/// The latest year a [`YearMonth`] or [`UtcMoment`] holds.
pub const YEAR_MAX: u16 = 9999;

/// A calendar month (UTC): the unit of card expiry, and of "now" when
/// checking one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct YearMonth {
    year: u16,
    month: u8,
}

impl YearMonth {
    /// `None` unless `YEAR_MIN <= year <= YEAR_MAX` and `1 <= month <= 12`.
    pub fn new(year: u16, month: u8) -> Option<YearMonth> {
        ((YEAR_MIN..=YEAR_MAX).contains(&year) && (1..=12).contains(&month))
            .then_some(YearMonth { year, month })
    }

    /// The UTC month of a Unix time in milliseconds (the core's clock).
    pub fn from_unix_ms(unix_ms: i64) -> Option<YearMonth> {
        UtcMoment::from_unix_ms(unix_ms).map(UtcMoment::year_month)
    }

    pub fn year(self) -> u16 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }
}

impl fmt::Debug for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// A moment in UTC, to the second, between 1970 and the end of
/// [`YEAR_MAX`]. Keeps the milliseconds it was made from, so it can be
/// stored and rebuilt exactly (a card-rail request resent after a crash
/// carries the time of the first attempt).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UtcMoment {
    unix_ms: i64,
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

impl UtcMoment {
    /// `None` before 1970 or after [`YEAR_MAX`].
    pub fn from_unix_ms(unix_ms: i64) -> Option<UtcMoment> {
        const MS_PER_DAY: i64 = 86_400_000;
        if unix_ms < 0 {
            return None;
        }
        let days = unix_ms.div_euclid(MS_PER_DAY);
        let ms_of_day = unix_ms.rem_euclid(MS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let secs = ms_of_day / 1_000;
        let year = u16::try_from(year).ok().filter(|y| *y <= YEAR_MAX)?;
        Some(UtcMoment {
            unix_ms,
            year,
            month: u8::try_from(month).ok()?,
            day: u8::try_from(day).ok()?,
            hour: u8::try_from(secs / 3_600).ok()?,
            minute: u8::try_from(secs % 3_600 / 60).ok()?,
            second: u8::try_from(secs % 60).ok()?,
        })
    }

    pub fn unix_ms(self) -> i64 {
        self.unix_ms
    }

    pub fn year_month(self) -> YearMonth {
        YearMonth {
            year: self.year,
            month: self.month,
        }
    }

    pub fn year(self) -> u16 {
        self.year
    }

    /// 1 to 12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// 1 to 31.
    pub fn day(self) -> u8 {
        self.day
    }

    /// 0 to 23.
    pub fn hour(self) -> u8 {
        self.hour
    }

    /// 0 to 59.
    pub fn minute(self) -> u8 {
        self.minute
    }

    /// 0 to 59.
    pub fn second(self) -> u8 {
        self.second
    }
}

/// `YYYY-MM-DDThh:mm:ss` (ISO 8601, UTC, without the zone letter).
impl fmt::Display for UtcMoment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

impl fmt::Debug for UtcMoment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}Z")
    }
}

/// Year, month (1–12), day (1–31) of a count of days since 1970-01-01
/// (Howard Hinnant's `civil_from_days`), for `days >= 0`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
