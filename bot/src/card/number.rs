//! Card numbers: parsing what a person typed into a [`CardNumber`] (digits,
//! Luhn check, [`Brand`] and its lengths), the [`Last4`] shown, and the
//! keyed [`CardFingerprint`] kept.
//!
//! The decision to know: the digits live only in a `SecretString`, zeroed
//! on drop and on every refusal; no error and no `Debug` quotes a digit.

use std::fmt;

use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretString};

use super::{CARD_DIGITS_MAX, CARD_DIGITS_MIN, CARD_FINGERPRINT_BYTES, CARD_TEXT_BYTES_MAX};
use crate::otp::{OtpHash, Pepper};

/// What the fingerprint HMAC binds a card number to, so that it can never
/// equal a payment code's hash made with the same pepper (those bind a
/// 16-byte transfer id or another label, see [`OtpHash::hash`]).
const FINGERPRINT_BINDING: &[u8] = b"paybot.card.fingerprint";

/// Why a card number was refused. The text is for the person who typed it
/// and never contains any of its digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("no card number given")]
    Empty,
    #[error("that is too long to be a card number")]
    TooLong,
    #[error(
        "a card number is digits only, optionally in groups split by single spaces or dashes (as printed on the card)"
    )]
    Malformed,
    #[error("a card number has {CARD_DIGITS_MIN} to {CARD_DIGITS_MAX} digits, not {digits}")]
    Length { digits: usize },
    #[error("that card number has a typo: its check digit does not match")]
    Checksum,
    #[error(
        "paybot takes Visa, Mastercard, American Express and Discover cards, and this is none of them"
    )]
    UnsupportedBrand,
    #[error("{brand} card numbers have {expected} digits, not {digits}")]
    BrandLength {
        brand: Brand,
        expected: &'static str,
        digits: usize,
    },
}

/// A card brand, from the number's leading digits (its IIN range).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Brand {
    /// Leading 4; 13, 16 or 19 digits.
    Visa,
    /// Leading 51–55 or 2221–2720; 16 digits.
    Mastercard,
    /// Leading 34 or 37; 15 digits.
    Amex,
    /// Leading 6011, 644–649 or 65; 16 to 19 digits.
    Discover,
}

impl Brand {
    /// Every brand paybot takes.
    pub const ALL: [Brand; 4] = [Brand::Visa, Brand::Mastercard, Brand::Amex, Brand::Discover];

    /// The brand whose range the leading digits of `digits` (ASCII digits)
    /// fall in, or `None` for any other network (JCB, UnionPay, Diners, ...).
    pub fn detect(digits: &str) -> Option<Brand> {
        let prefix = |n: usize| -> Option<u32> {
            let head = digits.get(..n)?;
            head.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| head.parse().ok())
                .flatten()
        };
        let (p1, p2, p3, p4) = (prefix(1), prefix(2), prefix(3), prefix(4));
        if p1 == Some(4) {
            Some(Brand::Visa)
        } else if matches!(p2, Some(34 | 37)) {
            Some(Brand::Amex)
        } else if matches!(p2, Some(51..=55)) || matches!(p4, Some(2221..=2720)) {
            Some(Brand::Mastercard)
        } else if p4 == Some(6011) || matches!(p3, Some(644..=649)) || p2 == Some(65) {
            Some(Brand::Discover)
        } else {
            None
        }
    }

    /// Whether a number of this brand may have `digits` digits.
    pub fn accepts_length(self, digits: usize) -> bool {
        match self {
            Brand::Visa => matches!(digits, 13 | 16 | 19),
            Brand::Mastercard => digits == 16,
            Brand::Amex => digits == 15,
            Brand::Discover => (16..=19).contains(&digits),
        }
    }

    fn lengths_text(self) -> &'static str {
        match self {
            Brand::Visa => "13, 16 or 19",
            Brand::Mastercard => "16",
            Brand::Amex => "15",
            Brand::Discover => "16 to 19",
        }
    }

    /// The stable name to store: `visa`, `mastercard`, `amex`, `discover`.
    pub fn code(self) -> &'static str {
        match self {
            Brand::Visa => "visa",
            Brand::Mastercard => "mastercard",
            Brand::Amex => "amex",
            Brand::Discover => "discover",
        }
    }

    /// Reads back [`Brand::code`].
    pub fn from_code(code: &str) -> Option<Brand> {
        Brand::ALL.into_iter().find(|brand| brand.code() == code)
    }

    /// The name people know: `Visa`, `Mastercard`, `American Express`,
    /// `Discover`.
    pub fn name(self) -> &'static str {
        match self {
            Brand::Visa => "Visa",
            Brand::Mastercard => "Mastercard",
            Brand::Amex => "American Express",
            Brand::Discover => "Discover",
        }
    }
}

impl fmt::Display for Brand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The last 4 digits of a card number: all of it paybot shows or stores.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Last4([u8; 4]);

impl Last4 {
    /// Exactly 4 ASCII digits (e.g. read back from storage).
    pub fn parse(text: &str) -> Option<Last4> {
        let bytes: [u8; 4] = text.as_bytes().try_into().ok()?;
        bytes.iter().all(u8::is_ascii_digit).then_some(Last4(bytes))
    }

    fn of(digits: &str) -> Option<Last4> {
        Last4::parse(digits.get(digits.len().checked_sub(4)?..)?)
    }
}

impl fmt::Display for Last4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0
            .iter()
            .try_for_each(|&b| fmt::Write::write_char(f, char::from(b)))
    }
}

impl fmt::Debug for Last4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Last4({self})")
    }
}

/// A full card number: 12 to 19 ASCII digits, Luhn-valid, of a [`Brand`]
/// paybot takes, with a length that brand issues. `Debug` and `Display`
/// show only the brand and the last 4 digits; the digits themselves are
/// zeroed on drop and reach only the rail, through [`CardNumber::expose`].
#[derive(Clone)]
pub struct CardNumber {
    digits: SecretString,
    brand: Brand,
    last4: Last4,
}

impl CardNumber {
    /// Parses what a person typed: digits, optionally in groups split by
    /// single spaces or dashes (`4111 1111 1111 1111`, `4111-1111-...`).
    /// Surrounding whitespace is ignored; anything else is refused, including
    /// non-ASCII digits (a full-width `４` is not a card digit).
    pub fn parse(text: &str) -> Result<CardNumber, CardError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(CardError::Empty);
        }
        if text.len() > CARD_TEXT_BYTES_MAX {
            return Err(CardError::TooLong);
        }
        let mut digits = String::with_capacity(CARD_DIGITS_MAX);
        match collect_digits(text, &mut digits).and_then(|()| check(&digits)) {
            Ok((brand, last4)) => Ok(CardNumber {
                digits: SecretString::from(digits),
                brand,
                last4,
            }),
            Err(refusal) => {
                digits.zeroize();
                Err(refusal)
            }
        }
    }

    pub fn brand(&self) -> Brand {
        self.brand
    }

    pub fn last4(&self) -> Last4 {
        self.last4
    }

    /// The digits, for the rail's request body only: never log, store,
    /// format into a message or an error.
    pub fn expose(&self) -> &str {
        self.digits.expose_secret()
    }

    /// `HMAC-SHA256(key, "paybot.card.fingerprint" || 0x00 || digits)`,
    /// with the card fingerprint key (a secret of its own, not the OTP
    /// pepper): the same card always gives the same fingerprint under one
    /// key, so a second `/card add` of it is noticed, while a stolen
    /// database without the key does not let anyone test guesses of numbers.
    pub fn fingerprint(&self, key: &Pepper) -> CardFingerprint {
        let hash = OtpHash::hash(key, FINGERPRINT_BINDING, self.expose());
        CardFingerprint(hash.to_bytes())
    }
}

/// Compares the digits (for tests of the parser; never used to look a card
/// up: that is what the fingerprint is for).
impl PartialEq for CardNumber {
    fn eq(&self, other: &CardNumber) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for CardNumber {}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({} ending {})", self.brand.code(), self.last4)
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ending {}", self.brand, self.last4)
    }
}

/// Copies the ASCII digits of `text` into `out`, allowing one space or dash
/// between two digits and nothing else.
fn collect_digits(text: &str, out: &mut String) -> Result<(), CardError> {
    let mut previous_was_digit = false;
    let mut separator_pending = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if out.len() >= CARD_DIGITS_MAX {
                // Counted, not kept: the length error names the count.
                return Err(CardError::Length {
                    digits: text.chars().filter(char::is_ascii_digit).count(),
                });
            }
            out.push(c);
            previous_was_digit = true;
            separator_pending = false;
        } else if matches!(c, ' ' | '-') && previous_was_digit {
            previous_was_digit = false;
            separator_pending = true;
        } else {
            return Err(CardError::Malformed);
        }
    }
    if separator_pending {
        return Err(CardError::Malformed);
    }
    Ok(())
}

/// Length, check digit, brand, and the brand's lengths, in that order (a
/// typo is reported as a typo, not as an unknown brand). The brand and the
/// last 4 digits of a number that passes.
fn check(digits: &str) -> Result<(Brand, Last4), CardError> {
    let count = digits.len();
    if !(CARD_DIGITS_MIN..=CARD_DIGITS_MAX).contains(&count) {
        return Err(CardError::Length { digits: count });
    }
    if !luhn_valid(digits) {
        return Err(CardError::Checksum);
    }
    let brand = Brand::detect(digits).ok_or(CardError::UnsupportedBrand)?;
    if !brand.accepts_length(count) {
        return Err(CardError::BrandLength {
            brand,
            expected: brand.lengths_text(),
            digits: count,
        });
    }
    // At least CARD_DIGITS_MIN ASCII digits, so there are 4 to take.
    let last4 = Last4::of(digits).ok_or(CardError::Malformed)?;
    Ok((brand, last4))
}

/// The Luhn (mod 10) check of a string of ASCII digits. Anything that is not
/// all ASCII digits, or is empty, fails.
pub fn luhn_valid(digits: &str) -> bool {
    if digits.is_empty() {
        return false;
    }
    let mut sum: u32 = 0;
    for (index, byte) in digits.bytes().rev().enumerate() {
        let Some(digit) = char::from(byte).to_digit(10) else {
            return false;
        };
        let doubled = if !index.is_multiple_of(2) {
            digit * 2
        } else {
            digit
        };
        sum += if doubled > 9 { doubled - 9 } else { doubled };
    }
    sum.is_multiple_of(10)
}

/// The keyed fingerprint of a card number ([`CardNumber::fingerprint`]).
/// Store it with the card (unique per user, or per deployment); compare
/// fingerprints, never numbers. `Debug` shows nothing of it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CardFingerprint([u8; CARD_FINGERPRINT_BYTES]);

impl CardFingerprint {
    pub fn to_bytes(&self) -> [u8; CARD_FINGERPRINT_BYTES] {
        self.0
    }

    /// Reads a stored fingerprint back (e.g. a database blob).
    pub fn from_bytes(bytes: &[u8]) -> Option<CardFingerprint> {
        bytes.try_into().ok().map(CardFingerprint)
    }

    /// Lower-case hex, for text columns.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads back [`CardFingerprint::to_hex`].
    pub fn from_hex(text: &str) -> Option<CardFingerprint> {
        if text.len() != CARD_FINGERPRINT_BYTES * 2 || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0_u8; CARD_FINGERPRINT_BYTES];
        for (slot, at) in bytes.iter_mut().zip((0..text.len()).step_by(2)) {
            *slot = u8::from_str_radix(text.get(at..at + 2)?, 16).ok()?;
        }
        Some(CardFingerprint(bytes))
    }
}

impl fmt::Debug for CardFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CardFingerprint(..)")
    }
}
