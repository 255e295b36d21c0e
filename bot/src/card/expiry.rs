//! A card's [`Expiry`]: parsed from `MM/YY` as printed on the card, and
//! checked against the current month.
//!
//! The decision to know: the shape is checked by the pure command parser
//! ([`Expiry::parse_shape`]); the date only where the clock is
//! ([`Expiry::check_at`]), so parsing stays free of time.

use std::fmt;

use super::{EXPIRY_TEXT_BYTES_MAX, EXPIRY_YEARS_AHEAD_MAX};
use crate::calendar::YearMonth;

/// Why an expiry was refused. The text is for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpiryError {
    #[error("give the expiry date as MM/YY, like 08/29")]
    Malformed,
    #[error("the expiry month must be 01 to 12")]
    Month,
    #[error("that card expired at the end of {0}")]
    Expired(Expiry),
    #[error("an expiry more than {EXPIRY_YEARS_AHEAD_MAX} years ahead is not a card's")]
    TooFar,
}

/// A card's expiry: the card is valid through the last day of this month.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Expiry(YearMonth);

impl Expiry {
    /// Parses `MM/YY` or `MM/YYYY` (`M/YY` too), where `YY` means `20YY`,
    /// and refuses a month that is over at `now` or further ahead than
    /// [`EXPIRY_YEARS_AHEAD_MAX`] years.
    pub fn parse(text: &str, now: YearMonth) -> Result<Expiry, ExpiryError> {
        Expiry::parse_shape(text)?.check_at(now)
    }

    /// Parses `MM/YY` or `MM/YYYY` without looking at any date: what the
    /// pure command parser can check. [`Expiry::check_at`] does the rest.
    pub fn parse_shape(text: &str) -> Result<Expiry, ExpiryError> {
        let text = text.trim();
        if text.len() > EXPIRY_TEXT_BYTES_MAX {
            return Err(ExpiryError::Malformed);
        }
        let (month, year) = text.split_once('/').ok_or(ExpiryError::Malformed)?;
        let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if !(1..=2).contains(&month.len()) || !all_digits(month) {
            return Err(ExpiryError::Malformed);
        }
        if !matches!(year.len(), 2 | 4) || !all_digits(year) {
            return Err(ExpiryError::Malformed);
        }
        let month: u8 = month.parse().map_err(|_| ExpiryError::Malformed)?;
        let mut year: u16 = year.parse().map_err(|_| ExpiryError::Malformed)?;
        if !(1..=12).contains(&month) {
            return Err(ExpiryError::Month);
        }
        if year < 100 {
            year += 2000;
        }
        YearMonth::new(year, month)
            .map(Expiry)
            .ok_or(ExpiryError::Malformed)
    }

    /// Refuses an expiry that is over at `now` or further ahead than
    /// [`EXPIRY_YEARS_AHEAD_MAX`] years.
    pub fn check_at(self, now: YearMonth) -> Result<Expiry, ExpiryError> {
        if !self.is_valid_at(now) {
            return Err(ExpiryError::Expired(self));
        }
        if self.0.year() > now.year().saturating_add(EXPIRY_YEARS_AHEAD_MAX) {
            return Err(ExpiryError::TooFar);
        }
        Ok(self)
    }

    /// An expiry read back from storage (not checked against any date).
    pub fn new(year: u16, month: u8) -> Option<Expiry> {
        YearMonth::new(year, month).map(Expiry)
    }

    pub fn year(self) -> u16 {
        self.0.year()
    }

    pub fn month(self) -> u8 {
        self.0.month()
    }

    /// Whether the card is still valid in month `now` (it is through the end
    /// of its expiry month).
    pub fn is_valid_at(self, now: YearMonth) -> bool {
        now <= self.0
    }
}

/// `MM/YY`, as printed on the card.
impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}/{:02}", self.0.month(), self.0.year() % 100)
    }
}

impl fmt::Debug for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expiry({:02}/{:04})", self.0.month(), self.0.year())
    }
}
