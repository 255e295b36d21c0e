//! Cards: what a person types to link one, how to spot one pasted into a
//! group, and the [`CardRail`] port a card-network adapter implements.
//!
//! The design decision to know: a full card number exists only inside a
//! [`CardNumber`], whose digits are a `SecretString` handed to nothing but
//! the rail ([`CardNumber::expose`]); its `Debug` and `Display` show the brand
//! and the last 4 digits, and no error here ever quotes a digit. Once a card
//! is linked paybot keeps a [`CardToken`], its [`Brand`], [`Last4`], [`Expiry`]
//! and a [`CardFingerprint`] (a keyed hash, so the same card is not linked
//! twice). Money moves through the rail as a [`CardTransfer`] whose identity
//! is the core's 128-bit transfer id, so a request resent after a crash is
//! the same request, and the rail answers it with the first answer instead
//! of moving the money again.
//!
//! Everything here is pure: no I/O, no clock (the current month or time is
//! passed in), and no card network's vocabulary: the port speaks of
//! approvals, declines with a [`DeclineReason`] and pending requests with an
//! opaque [`RailReference`]; trace numbers, action codes and the network's
//! date format stay in the adapter (`paybot-cards` speaks Visa Direct).
//!
//! Rooms: `number.rs` (card numbers, brands, Luhn, fingerprints),
//! `detect.rs` (spotting a card number in chat text), `expiry.rs`, and
//! `rail.rs` (the port and the values that cross it).

mod detect;
mod expiry;
mod number;
mod rail;

pub use crate::calendar::{YEAR_MAX, YEAR_MIN, YearMonth};
pub use detect::{RUN_INTO_DIGITS_MAX, contains_card_number};
pub use expiry::{Expiry, ExpiryError};
pub use number::{Brand, CardError, CardFingerprint, CardNumber, Last4, luhn_valid};
pub use rail::{
    CardRail, CardToken, CardTransfer, DeclineCode, DeclineReason, RailError, RailFieldError,
    RailOutcome, RailReference,
};

/// Most cards one user may link; `/card remove N` and `card N` take 1 to
/// this.
pub const CARDS_PER_USER_MAX: u8 = 5;
/// The fewest digits of a card number (ISO/IEC 7812 allows 8; no brand
/// paybot takes issues fewer than 13, and 12 is the floor for spotting one).
pub const CARD_DIGITS_MIN: usize = 12;
/// The most digits of a card number (ISO/IEC 7812).
pub const CARD_DIGITS_MAX: usize = 19;
/// The longest card-number text [`CardNumber::parse`] looks at, in bytes:
/// 19 digits with a separator between each pair is 37, the rest is slack
/// for surrounding spaces.
pub const CARD_TEXT_BYTES_MAX: usize = 64;
/// The longest expiry text [`Expiry::parse`] looks at, in bytes (`MM/YYYY`
/// with surrounding spaces).
pub const EXPIRY_TEXT_BYTES_MAX: usize = 16;
/// How far ahead an expiry may be, in years. Cards are issued for 3 to 10
/// years; anything further is a typo.
pub const EXPIRY_YEARS_AHEAD_MAX: u16 = 20;
/// The longest [`CardToken`], in bytes.
pub const CARD_TOKEN_BYTES_MAX: usize = 64;
/// The longest [`RailReference`], in bytes.
pub const RAIL_REFERENCE_BYTES_MAX: usize = 128;
/// The longest [`DeclineCode`], in bytes.
pub const DECLINE_CODE_BYTES_MAX: usize = 16;
/// The length of a [`CardFingerprint`], in bytes (HMAC-SHA256).
pub const CARD_FINGERPRINT_BYTES: usize = 32;

#[cfg(test)]
mod tests;
