//! Cards: what a person types to link one, how to spot one pasted into a
//! group, and the [`CardRail`] port a card-network adapter implements.
//!
//! The design decision to know: a full card number exists only inside a
//! [`CardNumber`], whose digits are a `SecretString` handed to nothing but
//! the rail ([`CardNumber::expose`]); its `Debug` and `Display` show the brand
//! and the last 4 digits, and no error here ever quotes a digit. Once a card
//! is linked paybot keeps a [`CardToken`], its [`Brand`], [`Last4`], [`Expiry`]
//! and a [`CardFingerprint`] (a keyed hash, so the same card is not linked
//! twice). Money moves through the rail as a [`FundsTransfer`] whose trace
//! numbers are derived from the core's 128-bit transfer id, so a request
//! resent after a crash is the same request, and the network answers it with
//! the first answer instead of moving the money again.
//!
//! Everything here is pure: no I/O, no clock (the current month or time is
//! passed in), and no card network's own types; those stay in the adapter
//! (`paybot-cards` speaks Visa Direct's JSON).

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use ledger::{Amount, TransferId};
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::otp::{OtpHash, Pepper};

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
/// The longest [`StatusId`] (the rail's part), in bytes.
pub const STATUS_ID_BYTES_MAX: usize = 64;
/// Digits of a [`SystemsTraceAuditNumber`].
pub const STAN_DIGITS: usize = 6;
/// Characters of a [`RetrievalReferenceNumber`].
pub const RRN_CHARS: usize = 12;
/// The longest [`ApprovalCode`], in characters (ISO 8583 field 38).
pub const APPROVAL_CODE_CHARS_MAX: usize = 6;
/// The length of a [`CardFingerprint`], in bytes (HMAC-SHA256).
pub const CARD_FINGERPRINT_BYTES: usize = 32;
/// The earliest year a [`YearMonth`] or [`UtcDateTime`] holds.
pub const YEAR_MIN: u16 = 1970;
/// The latest year a [`YearMonth`] or [`UtcDateTime`] holds.
pub const YEAR_MAX: u16 = 9999;

/// What the fingerprint HMAC binds a card number to, so that it can never
/// equal a payment code's hash made with the same pepper (those bind a
/// 16-byte transfer id or another label, see [`OtpHash::hash`]).
const FINGERPRINT_BINDING: &[u8] = b"paybot.card.fingerprint";
/// Domain labels of the trace-number derivation (see [`TraceNumbers`]).
const TRACE_DOMAIN_TRANSFER: &[u8] = b"paybot.card.trace.transfer";
const TRACE_DOMAIN_REVERSAL: &[u8] = b"paybot.card.trace.reversal";
/// `10^STAN_DIGITS - 1`: trace numbers run 000001..=999999 (000000 is the
/// value a forgotten field has).
const STAN_VALUES_COUNT: u64 = 999_999;
/// `10^RRN_CHARS`.
const RRN_VALUES_COUNT: u64 = 1_000_000_000_000;
const _: () = assert!(STAN_DIGITS == 6 && RRN_CHARS == 12);

// ---------------------------------------------------------------------------
// Card numbers

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

// ---------------------------------------------------------------------------
// Spotting a card number in chat text

/// Most characters between two digit groups of one number: a space, a
/// punctuation separator, a space (`4111 - 1111`).
const SEPARATOR_GAP_CHARS_MAX: usize = 3;

/// A punctuation character that people put between the digit groups of a
/// card number: dashes (any width), dots, underscores, commas, slashes and
/// middle dots or bullets (after NFKC, so full-width forms are these too).
fn is_separator_mark(c: char) -> bool {
    matches!(
        c,
        '-' | '.'
            | '_'
            | ','
            | '/'
            | '\u{00B7}'
            | '\u{2010}'..='\u{2015}'
            | '\u{2022}'
            | '\u{2024}'..='\u{2027}'
            | '\u{2212}'
            | '\u{2219}'
            | '\u{30FB}'
    )
}

/// Whether the characters between two digit groups join them into one
/// number: one whitespace character, or one separator mark with at most
/// one whitespace character on each side (`4111 1111`, `4111.1111`,
/// `4111_1111`, `4111 - 1111`). Two spaces, or two marks, do not.
fn joins_groups(gap: &[char]) -> bool {
    match gap {
        [c] => c.is_whitespace() || is_separator_mark(*c),
        [a, b] => {
            (a.is_whitespace() && is_separator_mark(*b))
                || (is_separator_mark(*a) && b.is_whitespace())
        }
        [a, b, c] => a.is_whitespace() && is_separator_mark(*b) && c.is_whitespace(),
        _ => false,
    }
}

/// Characters that are skipped when looking for digits: whatever is not
/// seen ([`crate::text::is_invisible`], a zero-width space between two
/// digits, say) and combining marks drawn over a digit.
fn is_skipped(c: char) -> bool {
    crate::text::is_invisible(c) || unicode_normalization::char::is_combining_mark(c)
}

/// Whether `text` contains something that is probably a card number: a run
/// of [`CARD_DIGITS_MIN`] to [`CARD_DIGITS_MAX`] digits, in groups split by
/// single spaces or separator marks (dashes, dots, underscores, ..., see
/// `joins_groups`), that passes the Luhn check. Used to refuse a command
/// that holds one, to warn about (and, where the platform allows, delete) a
/// group message, and to withhold a reply; it never says which digits it
/// saw.
///
/// Decisions: the text is NFKC-normalised first, so full-width digits and
/// marks count, and invisible characters and combining marks are skipped,
/// so `4111\u{200B}1111...` is seen as typed. A candidate is made of whole
/// digit groups (`4111 1111 1111 1111 20` finds the card and ignores the
/// trailing `20`), never a slice of a group, so a long number (an order id,
/// a hash) is not searched for a lucky 16-digit window. Any Luhn-valid
/// candidate counts, whatever its brand: a false alarm costs one refusal
/// or warning, a miss leaves a card number in a group or in storage.
/// One exception: a single group of 17 to [`RUN_INTO_DIGITS_MAX`] digits
/// is also searched at its two ends (a prefix or suffix of 15 or 16
/// digits), because that is how a card number typed straight into its
/// expiry or CVV, or after a stray digit, looks (`41111111111111111225`);
/// longer groups are ids or hashes and are not searched.
/// Amounts (`20`, `1,000.50`) and 6-digit codes are far too short. The
/// text is bounded upstream by `MESSAGE_TEXT_BYTES_MAX`; the work is linear
/// in it (each group starts at most one candidate of at most 19 digits,
/// plus at most 4 windows at a group's ends).
pub fn contains_card_number(text: &str) -> bool {
    let mut normal: String = text.nfkc().filter(|c| !is_skipped(*c)).collect();
    let mut groups = digit_groups(&normal);
    normal.zeroize();
    let run_into = groups
        .iter()
        .any(|group| ends_hold_a_card_number(&group.digits));
    let found = run_into
        || groups.iter().enumerate().any(|(start, _)| {
            let mut candidate = String::with_capacity(CARD_DIGITS_MAX);
            let mut hit = false;
            for group in groups.iter().skip(start) {
                if group.joined_to_previous || candidate.is_empty() {
                    candidate.push_str(&group.digits);
                } else {
                    break;
                }
                if candidate.len() > CARD_DIGITS_MAX {
                    break;
                }
                if candidate.len() >= CARD_DIGITS_MIN && luhn_valid(&candidate) {
                    hit = true;
                    break;
                }
            }
            candidate.zeroize();
            hit
        });
    groups.iter_mut().for_each(|group| group.digits.zeroize());
    found
}

/// The longest single digit group whose ends are searched for a card
/// number run into other digits: a 19-digit number and a 4-digit expiry.
pub const RUN_INTO_DIGITS_MAX: usize = CARD_DIGITS_MAX + 4;
/// The card number lengths searched for at a group's ends: the common
/// ones (Amex 15, Visa, Mastercard and most others 16). Fewer windows,
/// fewer false alarms on ordinary long numbers.
const RUN_INTO_CARD_DIGITS: [usize; 2] = [15, 16];

/// Whether `digits` (a group of 17 to [`RUN_INTO_DIGITS_MAX`] digits)
/// starts or ends with a Luhn-valid card number of a common length.
fn ends_hold_a_card_number(digits: &str) -> bool {
    let len = digits.len();
    if len <= 16 || len > RUN_INTO_DIGITS_MAX {
        return false;
    }
    RUN_INTO_CARD_DIGITS.iter().any(|&window| {
        let prefix = digits.get(..window);
        let suffix = digits.get(len - window..);
        prefix.is_some_and(luhn_valid) || suffix.is_some_and(luhn_valid)
    })
}

/// A maximal run of ASCII digits, and whether the characters before it
/// join it to the run before (`joins_groups`).
struct DigitGroup {
    digits: String,
    joined_to_previous: bool,
}

fn digit_groups(text: &str) -> Vec<DigitGroup> {
    let mut groups: Vec<DigitGroup> = Vec::new();
    let mut current = String::new();
    let mut joined = false;
    // The characters since the previous group ended (one more than can
    // join, so a longer gap is seen as too long).
    let mut gap: Vec<char> = Vec::with_capacity(SEPARATOR_GAP_CHARS_MAX + 1);
    let mut gap_too_long = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if current.is_empty() {
                joined = !groups.is_empty() && !gap_too_long && joins_groups(&gap);
            }
            current.push(c);
        } else {
            if !current.is_empty() {
                groups.push(DigitGroup {
                    digits: std::mem::take(&mut current),
                    joined_to_previous: joined,
                });
                gap.clear();
                gap_too_long = false;
            }
            if gap.len() < SEPARATOR_GAP_CHARS_MAX {
                gap.push(c);
            } else {
                gap_too_long = true;
            }
        }
    }
    if !current.is_empty() {
        groups.push(DigitGroup {
            digits: current,
            joined_to_previous: joined,
        });
    }
    groups
}

// ---------------------------------------------------------------------------
// Dates

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
        UtcDateTime::from_unix_ms(unix_ms).map(UtcDateTime::year_month)
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
/// [`YEAR_MAX`]: the time a rail request was first made (Visa's
/// `localTransactionDateTime`). Keeps the milliseconds it was made from, so
/// it can be stored and rebuilt exactly for a resend.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UtcDateTime {
    unix_ms: i64,
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

impl UtcDateTime {
    /// `None` before 1970 or after [`YEAR_MAX`].
    pub fn from_unix_ms(unix_ms: i64) -> Option<UtcDateTime> {
        const MS_PER_DAY: i64 = 86_400_000;
        if unix_ms < 0 {
            return None;
        }
        let days = unix_ms.div_euclid(MS_PER_DAY);
        let ms_of_day = unix_ms.rem_euclid(MS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let secs = ms_of_day / 1_000;
        let year = u16::try_from(year).ok().filter(|y| *y <= YEAR_MAX)?;
        Some(UtcDateTime {
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
}

/// `YYYY-MM-DDThh:mm:ss`, the form Visa's `localTransactionDateTime` takes.
impl fmt::Display for UtcDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

impl fmt::Debug for UtcDateTime {
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
        if self.0.year > now.year.saturating_add(EXPIRY_YEARS_AHEAD_MAX) {
            return Err(ExpiryError::TooFar);
        }
        Ok(self)
    }

    /// An expiry read back from storage (not checked against any date).
    pub fn new(year: u16, month: u8) -> Option<Expiry> {
        YearMonth::new(year, month).map(Expiry)
    }

    pub fn year(self) -> u16 {
        self.0.year
    }

    pub fn month(self) -> u8 {
        self.0.month
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
        write!(f, "{:02}/{:02}", self.0.month, self.0.year % 100)
    }
}

impl fmt::Debug for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expiry({:02}/{:04})", self.0.month, self.0.year)
    }
}

// ---------------------------------------------------------------------------
// The rail's values

/// A value from (or for) the rail that does not have its shape. Names the
/// field, never quotes the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {field}")]
pub struct RailFieldError {
    pub field: &'static str,
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The rail's stand-in for a card number: what paybot stores and sends for
/// a pull or push. 1 to [`CARD_TOKEN_BYTES_MAX`] ASCII letters, digits, `-`
/// or `_`. A network token may itself look like a card number, so `Debug`
/// shows only its last 4 characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CardToken(String);

impl CardToken {
    pub fn new(text: &str) -> Result<CardToken, RailFieldError> {
        let ok =
            (1..=CARD_TOKEN_BYTES_MAX).contains(&text.len()) && text.bytes().all(is_token_char);
        ok.then(|| CardToken(text.to_owned()))
            .ok_or(RailFieldError {
                field: "card token",
            })
    }

    /// For the rail's request body and for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CardToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tail = self
            .0
            .get(self.0.len().saturating_sub(4)..)
            .unwrap_or_default();
        write!(f, "CardToken(..{tail})")
    }
}

macro_rules! ascii_field {
    ($(#[$doc:meta])* $name:ident, $field:literal, |$b:ident| $char_ok:expr, $lengths:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn new(text: &str) -> Result<$name, RailFieldError> {
                let ok = ($lengths).contains(&text.len()) && text.bytes().all(|$b| $char_ok);
                ok.then(|| $name(text.to_owned()))
                    .ok_or(RailFieldError { field: $field })
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

ascii_field!(
    /// ISO 8583 field 11: [`STAN_DIGITS`] ASCII digits.
    SystemsTraceAuditNumber,
    "systems trace audit number",
    |b| b.is_ascii_digit(),
    STAN_DIGITS..=STAN_DIGITS
);
ascii_field!(
    /// ISO 8583 field 37: [`RRN_CHARS`] ASCII letters or digits.
    RetrievalReferenceNumber,
    "retrieval reference number",
    |b| b.is_ascii_alphanumeric(),
    RRN_CHARS..=RRN_CHARS
);
ascii_field!(
    /// ISO 8583 field 38, the issuer's authorisation code: 1 to
    /// [`APPROVAL_CODE_CHARS_MAX`] ASCII letters or digits.
    ApprovalCode,
    "approval code",
    |b| b.is_ascii_alphanumeric(),
    1..=APPROVAL_CODE_CHARS_MAX
);

/// ISO 8583 field 39, the network's answer: two ASCII letters or digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActionCode([u8; 2]);

impl ActionCode {
    pub const APPROVED: ActionCode = ActionCode(*b"00");
    pub const DO_NOT_HONOR: ActionCode = ActionCode(*b"05");
    pub const INVALID_CARD: ActionCode = ActionCode(*b"14");
    pub const INSUFFICIENT_FUNDS: ActionCode = ActionCode(*b"51");
    pub const EXPIRED_CARD: ActionCode = ActionCode(*b"54");
    pub const SUSPECTED_FRAUD: ActionCode = ActionCode(*b"59");
    pub const OVER_LIMIT: ActionCode = ActionCode(*b"61");

    pub fn new(text: &str) -> Result<ActionCode, RailFieldError> {
        let bytes: Option<[u8; 2]> = text.as_bytes().try_into().ok();
        bytes
            .filter(|bytes| bytes.iter().all(u8::is_ascii_alphanumeric))
            .map(ActionCode)
            .ok_or(RailFieldError {
                field: "action code",
            })
    }
}

impl fmt::Display for ActionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0
            .iter()
            .try_for_each(|&b| fmt::Write::write_char(f, char::from(b)))
    }
}

impl fmt::Debug for ActionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActionCode({self})")
    }
}

/// Why the card's issuer said no, in words for the card's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeclineReason {
    /// 05: the issuer declined without a reason.
    DoNotHonor,
    /// 14: the card number is not one the issuer knows.
    InvalidCard,
    /// 51.
    InsufficientFunds,
    /// 54.
    ExpiredCard,
    /// 59.
    SuspectedFraud,
    /// 61: over the card's amount limit.
    OverLimit,
    /// Any other action code.
    Other,
}

impl DeclineReason {
    /// The reason an ISO 8583 action code (field 39) gives for a decline.
    pub fn from_action_code(code: ActionCode) -> DeclineReason {
        match code {
            ActionCode::DO_NOT_HONOR => DeclineReason::DoNotHonor,
            ActionCode::INVALID_CARD => DeclineReason::InvalidCard,
            ActionCode::INSUFFICIENT_FUNDS => DeclineReason::InsufficientFunds,
            ActionCode::EXPIRED_CARD => DeclineReason::ExpiredCard,
            ActionCode::SUSPECTED_FRAUD => DeclineReason::SuspectedFraud,
            ActionCode::OVER_LIMIT => DeclineReason::OverLimit,
            _ => DeclineReason::Other,
        }
    }

    /// One sentence for the card's owner (private chat only).
    pub fn user_text(self) -> &'static str {
        match self {
            DeclineReason::DoNotHonor => {
                "your bank declined the card; ask your bank why, or use another card"
            }
            DeclineReason::InvalidCard => "your bank does not recognise this card",
            DeclineReason::InsufficientFunds => "the card does not have enough funds",
            DeclineReason::ExpiredCard => "the card has expired",
            DeclineReason::SuspectedFraud => {
                "your bank declined it as possible fraud; please contact your bank"
            }
            DeclineReason::OverLimit => "that is over the card's limit; try a smaller amount",
            DeclineReason::Other => "the card was declined",
        }
    }
}

impl fmt::Display for DeclineReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.user_text())
    }
}

/// The kind of rail request: which endpoint, and where a status is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RailOperation {
    /// Card → wallet (top-up).
    Pull,
    /// Wallet → card (cash-out).
    Push,
    /// Undoing an approved pull.
    Reversal,
}

impl RailOperation {
    pub const ALL: [RailOperation; 3] = [
        RailOperation::Pull,
        RailOperation::Push,
        RailOperation::Reversal,
    ];

    /// `pull`, `push`, `reversal`: the stable name to store.
    pub fn code(self) -> &'static str {
        match self {
            RailOperation::Pull => "pull",
            RailOperation::Push => "push",
            RailOperation::Reversal => "reversal",
        }
    }

    pub fn from_code(code: &str) -> Option<RailOperation> {
        RailOperation::ALL.into_iter().find(|op| op.code() == code)
    }
}

/// Where to ask about a request the rail accepted but has not decided
/// (HTTP 202): the operation it was, the rail's id for it (1 to
/// [`STATUS_ID_BYTES_MAX`] ASCII letters, digits, `-`, `_`), and the
/// request's retrieval reference number (echoed in the eventual approval).
/// Stored as its `Display` form, `pull:ID:RRN`, and read back with
/// `FromStr`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct StatusId {
    operation: RailOperation,
    id: String,
    retrieval_reference: RetrievalReferenceNumber,
}

impl StatusId {
    pub fn new(
        operation: RailOperation,
        id: &str,
        retrieval_reference: RetrievalReferenceNumber,
    ) -> Result<StatusId, RailFieldError> {
        let ok = (1..=STATUS_ID_BYTES_MAX).contains(&id.len()) && id.bytes().all(is_token_char);
        ok.then(|| StatusId {
            operation,
            id: id.to_owned(),
            retrieval_reference,
        })
        .ok_or(RailFieldError { field: "status id" })
    }

    pub fn operation(&self) -> RailOperation {
        self.operation
    }

    /// The rail's id, safe to put in a URL path as is.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn retrieval_reference(&self) -> &RetrievalReferenceNumber {
        &self.retrieval_reference
    }
}

impl fmt::Display for StatusId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.operation.code(),
            self.id,
            self.retrieval_reference
        )
    }
}

impl fmt::Debug for StatusId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusId({self})")
    }
}

impl FromStr for StatusId {
    type Err = RailFieldError;
    fn from_str(text: &str) -> Result<StatusId, RailFieldError> {
        let refused = RailFieldError { field: "status id" };
        let mut parts = text.split(':');
        let (Some(operation), Some(id), Some(rrn), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(refused);
        };
        let operation = RailOperation::from_code(operation).ok_or(refused)?;
        StatusId::new(operation, id, RetrievalReferenceNumber::new(rrn)?)
    }
}

/// The trace numbers that identify one rail request to the network: the
/// systems trace audit number and the retrieval reference number. With the
/// acquirer's BIN they are how the network recognises a resend.
///
/// Derived, never drawn: `SHA-256(domain || 0x00 || transfer id, 16 bytes
/// big-endian)`, whose first 8 bytes (big-endian, mod 999 999, plus 1) give
/// the STAN, `000001` to `999999`, and whose next 8 bytes (mod 10^12) give
/// the RRN, 12 digits. So the same transfer id always gives the same
/// numbers: a request resent after a crash carries the numbers of the
/// first. Two different transfers share both numbers with probability
/// about 10^-18.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TraceNumbers {
    stan: SystemsTraceAuditNumber,
    rrn: RetrievalReferenceNumber,
}

impl TraceNumbers {
    fn derive(domain: &[u8], id: TransferId) -> TraceNumbers {
        let mut hasher = Sha256::new();
        hasher.update(domain);
        hasher.update([0x00]);
        hasher.update(id.as_u128().to_be_bytes());
        let digest: [u8; 32] = hasher.finalize().into();
        let mut first = [0_u8; 8];
        let mut second = [0_u8; 8];
        first
            .iter_mut()
            .zip(digest.iter())
            .for_each(|(slot, b)| *slot = *b);
        second
            .iter_mut()
            .zip(digest.iter().skip(8))
            .for_each(|(slot, b)| *slot = *b);
        let stan = u64::from_be_bytes(first) % STAN_VALUES_COUNT + 1;
        let rrn = u64::from_be_bytes(second) % RRN_VALUES_COUNT;
        TraceNumbers {
            stan: SystemsTraceAuditNumber(format!("{stan:06}")),
            rrn: RetrievalReferenceNumber(format!("{rrn:012}")),
        }
    }

    pub fn stan(&self) -> &SystemsTraceAuditNumber {
        &self.stan
    }

    pub fn rrn(&self) -> &RetrievalReferenceNumber {
        &self.rrn
    }
}

/// One pull (card → wallet) or push (wallet → card) as the core asks the
/// rail for it, and the original of a reversal.
///
/// Its identity is the core's transfer id: the [`TraceNumbers`] are derived
/// from it, and `initiated_at` is the time of the first attempt (store it
/// with the request, so that a resend is the same request, field for field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundsTransfer {
    transfer_id: TransferId,
    trace: TraceNumbers,
    token: CardToken,
    amount: Amount,
    initiated_at: UtcDateTime,
}

impl FundsTransfer {
    pub fn new(
        transfer_id: TransferId,
        token: CardToken,
        amount: Amount,
        initiated_at: UtcDateTime,
    ) -> FundsTransfer {
        FundsTransfer {
            transfer_id,
            trace: TraceNumbers::derive(TRACE_DOMAIN_TRANSFER, transfer_id),
            token,
            amount,
            initiated_at,
        }
    }

    pub fn transfer_id(&self) -> TransferId {
        self.transfer_id
    }

    pub fn trace(&self) -> &TraceNumbers {
        &self.trace
    }

    /// The trace numbers of the reversal of this transfer: derived from the
    /// same transfer id in another domain, so a pull has exactly one
    /// reversal request, and resending it is recognised too.
    pub fn reversal_trace(&self) -> TraceNumbers {
        TraceNumbers::derive(TRACE_DOMAIN_REVERSAL, self.transfer_id)
    }

    pub fn token(&self) -> &CardToken {
        &self.token
    }

    pub fn amount(&self) -> Amount {
        self.amount
    }

    pub fn initiated_at(&self) -> UtcDateTime {
        self.initiated_at
    }
}

/// What the rail decided about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RailOutcome {
    /// The money moved. Decided by the action code alone (00); a network
    /// may leave the approval code out (some push approvals do).
    Approved {
        approval_code: Option<ApprovalCode>,
        retrieval_reference: RetrievalReferenceNumber,
    },
    /// The money did not move, and will not for this request.
    Declined {
        action_code: ActionCode,
        reason: DeclineReason,
    },
    /// Accepted, not yet decided: ask again with [`CardRail::status`] (or
    /// resend the same request, which answers the same).
    Pending { status_id: StatusId },
}

/// A rail call that produced no decision. The text is for the log and never
/// holds a card number or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RailError {
    /// The rail could not be reached or failed (timeout, connection, 5xx):
    /// whether the money moved is unknown. Resend the same
    /// [`FundsTransfer`] (same trace numbers, so it cannot move twice) or
    /// ask for its status later; never make a new one.
    #[error("card rail unavailable, try again with the same request: {0}")]
    Transient(String),
    /// The rail refused the request itself (bad key, bad request, unknown
    /// status id, same trace numbers with other fields): sending it again
    /// will not help. Nothing moved.
    #[error("card rail refused the request: {0}")]
    Permanent(String),
}

/// The port to a card network: linking a card, moving money between a card
/// and the wallet, and asking about a slow request. Implemented by
/// `paybot-cards` (an HTTP client shaped like Visa Direct, and its
/// simulator); the core never sees the network's own types.
///
/// Every money-moving call is idempotent by the [`FundsTransfer`]'s trace
/// numbers: calling it again with the same transfer returns the first
/// decision (or the current one, if it was pending), never a second
/// movement.
#[async_trait]
pub trait CardRail: Send + Sync + fmt::Debug {
    /// Trades a card number and expiry for a token. The number goes to the
    /// rail and nowhere else.
    async fn tokenize(&self, card: &CardNumber, expiry: Expiry) -> Result<CardToken, RailError>;

    /// Pulls `transfer.amount()` from the card into paybot (a top-up).
    async fn pull(&self, transfer: &FundsTransfer) -> Result<RailOutcome, RailError>;

    /// Pushes `transfer.amount()` from paybot to the card (a cash-out).
    async fn push(&self, transfer: &FundsTransfer) -> Result<RailOutcome, RailError>;

    /// Reverses an approved pull in full (`original` is that pull, as it
    /// was sent). A pull is reversed at most once.
    async fn reverse(&self, original: &FundsTransfer) -> Result<RailOutcome, RailError>;

    /// The decision on a request that was [`RailOutcome::Pending`].
    async fn status(&self, status_id: &StatusId) -> Result<RailOutcome, RailError>;
}

#[cfg(test)]
mod tests;
