//! Currencies and amounts.
//!
//! Inside paybot an amount is an `i64` count of minor units plus a [`Currency`]
//! that knows its exponent. Decimals exist only at the edges: [`Amount::parse`]
//! and [`parse_money`] turn what a person typed into minor units (or a typed
//! error, never a silent rounding), and [`Amount`]'s `Display` renders them back.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// The largest amount of one transfer, in major units of its currency
/// (one billion dollars, euros, yen, ...). Anything above is refused.
pub const AMOUNT_MAJOR_UNITS_MAX: i64 = 1_000_000_000;

/// The longest amount text the parser looks at, in bytes. Longer input is
/// refused before any work is done on it.
pub const AMOUNT_TEXT_BYTES_MAX: usize = 64;

/// What the registry knows about one currency.
#[derive(Debug, PartialEq, Eq)]
struct CurrencyInfo {
    code: &'static str,
    exponent: u32,
    symbol: Option<&'static str>,
}

const fn info(code: &'static str, exponent: u32, symbol: Option<&'static str>) -> CurrencyInfo {
    CurrencyInfo {
        code,
        exponent,
        symbol,
    }
}

static USD: CurrencyInfo = info("USD", 2, Some("$"));
static EUR: CurrencyInfo = info("EUR", 2, Some("€"));
static GBP: CurrencyInfo = info("GBP", 2, Some("£"));
static JPY: CurrencyInfo = info("JPY", 0, Some("¥"));

/// Every currency paybot handles. ISO 4217 codes and exponents.
static CURRENCIES: &[&CurrencyInfo] = &[
    &USD,
    &EUR,
    &GBP,
    &JPY,
    &info("CHF", 2, None),
    &info("CAD", 2, None),
    &info("AUD", 2, None),
    &info("INR", 2, Some("₹")),
    &info("KRW", 0, Some("₩")),
    &info("BHD", 3, None),
];

/// A currency from the registry: an ISO 4217 code and its exponent.
///
/// Only registered currencies can be constructed, so holding a `Currency`
/// proves the code is known.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(&'static CurrencyInfo);

impl std::hash::Hash for CurrencyInfo {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.code.hash(state);
    }
}

impl Currency {
    pub const USD: Currency = Currency(&USD);
    pub const EUR: Currency = Currency(&EUR);
    pub const GBP: Currency = Currency(&GBP);
    pub const JPY: Currency = Currency(&JPY);

    /// Looks up an ISO code, case-insensitively (`"usd"`, `"EUR"`).
    pub fn from_code(code: &str) -> Result<Currency, AmountError> {
        CURRENCIES
            .iter()
            .find(|c| c.code.eq_ignore_ascii_case(code))
            .map(|c| Currency(c))
            .ok_or_else(|| AmountError::UnknownCurrency(truncate_for_error(code)))
    }

    /// Looks up a currency symbol (`"$"`, `"€"`).
    pub fn from_symbol(symbol: &str) -> Option<Currency> {
        CURRENCIES
            .iter()
            .find(|c| c.symbol == Some(symbol))
            .map(|c| Currency(c))
    }

    /// All registered currencies.
    pub fn all() -> impl Iterator<Item = Currency> {
        CURRENCIES.iter().map(|c| Currency(c))
    }

    /// The ISO 4217 code, upper case.
    pub fn code(self) -> &'static str {
        self.0.code
    }

    /// Number of decimal places of the minor unit (2 for USD, 0 for JPY).
    pub fn exponent(self) -> u32 {
        self.0.exponent
    }

    /// The largest amount of one transfer in this currency, in minor units.
    pub fn max_minor(self) -> i64 {
        AMOUNT_MAJOR_UNITS_MAX.saturating_mul(10_i64.saturating_pow(self.exponent()))
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

/// Why a piece of text or a number is not a valid amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("no amount given")]
    Empty,
    #[error("the amount is too long")]
    TooLong,
    #[error("`{0}` is not an amount: use digits and an optional decimal point, like 20 or 20.50")]
    Malformed(String),
    #[error("`{0}` is ambiguous: write 1000 or 1000.50 (or 1,000.50 with a decimal point)")]
    AmbiguousSeparator(String),
    #[error("the amount must be more than zero")]
    NotPositive,
    #[error("{currency} has {exponent} decimal places; `{text}` has more")]
    TooManyDecimals {
        text: String,
        currency: Currency,
        exponent: u32,
    },
    #[error("the amount is above the limit of {max}")]
    TooLarge { max: String },
    #[error("unknown currency `{0}`")]
    UnknownCurrency(String),
    #[error("two different currencies given: {0} and {1}")]
    ConflictingCurrencies(Currency, Currency),
}

fn truncate_for_error(text: &str) -> String {
    text.chars().take(16).collect()
}

/// A positive amount of money: minor units of one currency, at most
/// [`Currency::max_minor`]. The field is private: every `Amount` is valid.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Amount {
    minor: i64,
    currency: Currency,
}

impl PartialOrd for Currency {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Currency {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.code().cmp(other.code())
    }
}

impl Amount {
    /// An amount from minor units; refuses zero, negatives and the oversized.
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Amount, AmountError> {
        if minor <= 0 {
            return Err(AmountError::NotPositive);
        }
        if minor > currency.max_minor() {
            return Err(too_large(currency));
        }
        Ok(Amount { minor, currency })
    }

    /// Parses a plain decimal number of `currency` (`"20"`, `"20.5"`,
    /// `"20,50"`). No symbols or codes: see [`parse_money`] for those.
    pub fn parse(text: &str, currency: Currency) -> Result<Amount, AmountError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(AmountError::Empty);
        }
        if text.len() > AMOUNT_TEXT_BYTES_MAX {
            return Err(AmountError::TooLong);
        }
        let normalized = normalize_decimal(text)?;
        let decimal = Decimal::from_str_exact(&normalized).map_err(|_| AmountError::TooLarge {
            max: max_text(currency),
        })?;
        Amount::from_decimal(decimal, currency, text)
    }

    fn from_decimal(
        decimal: Decimal,
        currency: Currency,
        text: &str,
    ) -> Result<Amount, AmountError> {
        if decimal.is_sign_negative() || decimal.is_zero() {
            return Err(AmountError::NotPositive);
        }
        let decimal = decimal.normalize();
        if decimal.scale() > currency.exponent() {
            return Err(AmountError::TooManyDecimals {
                text: truncate_for_error(text),
                currency,
                exponent: currency.exponent(),
            });
        }
        let mut scaled = decimal;
        scaled.rescale(currency.exponent());
        if scaled.scale() != currency.exponent() {
            return Err(too_large(currency));
        }
        let minor = i64::try_from(scaled.mantissa()).map_err(|_| too_large(currency))?;
        Amount::from_minor(minor, currency)
    }

    /// Minor units, always positive.
    pub fn minor(self) -> i64 {
        self.minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    /// The amount as an exact decimal in major units.
    pub fn to_decimal(self) -> Decimal {
        minor_to_decimal(self.minor, self.currency)
    }
}

fn too_large(currency: Currency) -> AmountError {
    AmountError::TooLarge {
        max: max_text(currency),
    }
}

fn max_text(currency: Currency) -> String {
    format_minor(currency.max_minor(), currency)
}

/// Accepts ASCII digits with at most one decimal separator (`.`, or `,` when
/// it cannot be a thousands separator) and returns them with a `.` separator.
fn normalize_decimal(text: &str) -> Result<String, AmountError> {
    if text.starts_with('-') {
        return Err(AmountError::NotPositive);
    }
    let ungrouped;
    let text = match thousands_grouped(text) {
        Some(plain) => {
            ungrouped = plain;
            ungrouped.as_str()
        }
        None => text,
    };
    let dots = text.matches('.').count();
    let commas = text.matches(',').count();
    let separator = match (dots, commas) {
        (0, 0) => None,
        (1, 0) => Some('.'),
        (0, 1) => {
            let after = text.rsplit(',').next().map_or(0, str::len);
            // "20,50" is twenty and a half; "1,000" could be a thousand.
            if after == 3 {
                return Err(AmountError::AmbiguousSeparator(truncate_for_error(text)));
            }
            Some(',')
        }
        _ if commas > 0 => return Err(AmountError::AmbiguousSeparator(truncate_for_error(text))),
        _ => return Err(AmountError::Malformed(truncate_for_error(text))),
    };
    let (whole, fraction) = match separator {
        Some(sep) => text.split_once(sep).unwrap_or((text, "")),
        None => (text, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let well_formed = !whole.is_empty()
        && all_digits(whole)
        && all_digits(fraction)
        && (separator.is_none() || !fraction.is_empty());
    if !well_formed {
        return Err(AmountError::Malformed(truncate_for_error(text)));
    }
    if fraction.is_empty() {
        Ok(whole.to_owned())
    } else {
        Ok(format!("{whole}.{fraction}"))
    }
}

/// `1,000.50` or `1,000,000` (as paybot writes amounts) without its
/// commas; `None` unless the commas can only group thousands: groups of
/// three digits after a first of one to three, and either a `.` after
/// them or more than one comma (`1,000` alone stays ambiguous: a thousand,
/// or one in a decimal-comma locale).
fn thousands_grouped(text: &str) -> Option<String> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let commas = whole.matches(',').count();
    if commas == 0 || (fraction.is_none() && commas < 2) {
        return None;
    }
    let mut groups = whole.split(',');
    let first = groups.next()?;
    let digits = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(first, 1, 3) || !groups.all(|g| digits(g, 3, 3)) {
        return None;
    }
    let mut plain: String = whole.chars().filter(|&c| c != ',').collect();
    if let Some(fraction) = fraction {
        plain.push('.');
        plain.push_str(fraction);
    }
    Some(plain)
}

/// Parses money as people type it in a chat: `"20"`, `"20.5"`, `"$20.50"`,
/// `"20 USD"`, `"usd 20"`, `"€5"`, `"5 eur"`, `"20,50 EUR"`. Without a symbol
/// or code the amount is in `default`.
pub fn parse_money(text: &str, default: Currency) -> Result<Amount, AmountError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AmountError::Empty);
    }
    if text.len() > AMOUNT_TEXT_BYTES_MAX {
        return Err(AmountError::TooLong);
    }
    let mut currency: Option<Currency> = None;
    let mut set = |c: Currency| -> Result<(), AmountError> {
        match currency {
            Some(existing) if existing != c => Err(AmountError::ConflictingCurrencies(existing, c)),
            _ => {
                currency = Some(c);
                Ok(())
            }
        }
    };
    let mut rest = text;
    // A leading minus sign before a symbol ("-$5") is still a negative amount.
    let negative = rest.starts_with('-');
    if negative {
        rest = rest.trim_start_matches('-');
    }
    if let Some(first) = rest.chars().next()
        && let Some(c) = Currency::from_symbol(first.encode_utf8(&mut [0; 4]))
    {
        set(c)?;
        rest = rest.get(first.len_utf8()..).unwrap_or("").trim_start();
    }
    // An ISO code before or after the number, with or without a space.
    let leading_alpha = rest
        .find(|ch: char| !ch.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    if leading_alpha > 0 {
        let (code, tail) = rest.split_at(leading_alpha);
        set(Currency::from_code(code)?)?;
        rest = tail.trim_start();
    }
    let trailing_alpha = rest.len()
        - rest
            .chars()
            .rev()
            .take_while(char::is_ascii_alphabetic)
            .map(char::len_utf8)
            .sum::<usize>();
    if trailing_alpha < rest.len() {
        let (number, code) = rest.split_at(trailing_alpha);
        set(Currency::from_code(code)?)?;
        rest = number.trim_end();
    }
    // A symbol after the number, as much of Europe writes it: "20€", "20 $".
    if let Some(last) = rest.chars().next_back()
        && let Some(c) = Currency::from_symbol(last.encode_utf8(&mut [0; 4]))
    {
        set(c)?;
        rest = rest
            .get(..rest.len() - last.len_utf8())
            .unwrap_or("")
            .trim_end();
    }
    if negative {
        return Err(AmountError::NotPositive);
    }
    Amount::parse(rest, currency.unwrap_or(default))
}

/// Converts signed minor units to an exact decimal in major units.
pub fn minor_to_decimal(minor: i64, currency: Currency) -> Decimal {
    Decimal::new(minor, currency.exponent())
}

/// Renders signed minor units as people read them: `$20.50`, `-€3.00`,
/// `¥500`, `12.345 BHD`, with thousands grouped by commas
/// (`$1,000,000,000.00`) so a large amount cannot be misread.
pub fn format_minor(minor: i64, currency: Currency) -> String {
    let decimal = minor_to_decimal(minor, currency);
    let magnitude = grouped(&decimal.abs().to_string());
    let sign = if minor < 0 { "-" } else { "" };
    match currency.0.symbol {
        Some(symbol) => format!("{sign}{symbol}{magnitude}"),
        None => format!("{sign}{magnitude} {}", currency.code()),
    }
}

/// `1234567.89` -> `1,234,567.89`: the whole part in groups of three.
fn grouped(plain: &str) -> String {
    let (whole, fraction) = match plain.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (plain, None),
    };
    let mut out = String::with_capacity(plain.len() + whole.len() / 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_minor(self.minor, self.currency))
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal(), self.currency.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(text: &str) -> Result<i64, AmountError> {
        parse_money(text, Currency::USD).map(Amount::minor)
    }

    #[test]
    fn accepts_what_people_type() {
        assert_eq!(usd("20"), Ok(2000));
        assert_eq!(usd("20.5"), Ok(2050));
        assert_eq!(usd("20.50"), Ok(2050));
        assert_eq!(usd("$20"), Ok(2000));
        assert_eq!(usd("$ 20.01"), Ok(2001));
        assert_eq!(usd("20 USD"), Ok(2000));
        assert_eq!(usd("20usd"), Ok(2000));
        assert_eq!(usd("0.01"), Ok(1));
        let eur = parse_money("€5", Currency::USD).unwrap();
        assert_eq!((eur.minor(), eur.currency()), (500, Currency::EUR));
        let eur = parse_money("5 eur", Currency::USD).unwrap();
        assert_eq!((eur.minor(), eur.currency()), (500, Currency::EUR));
        let eur = parse_money("20,50 EUR", Currency::USD).unwrap();
        assert_eq!((eur.minor(), eur.currency()), (2050, Currency::EUR));
        let eur = parse_money("20,50€", Currency::USD).unwrap();
        assert_eq!((eur.minor(), eur.currency()), (2050, Currency::EUR));
        assert_eq!(usd("20 $"), Ok(2000));
        let yen = parse_money("¥500", Currency::USD).unwrap();
        assert_eq!((yen.minor(), yen.currency()), (500, Currency::JPY));
    }

    #[test]
    fn refuses_bad_amounts_with_a_reason() {
        assert_eq!(usd("0"), Err(AmountError::NotPositive));
        assert_eq!(usd("0.00"), Err(AmountError::NotPositive));
        assert_eq!(usd("-5"), Err(AmountError::NotPositive));
        assert_eq!(usd("-$5"), Err(AmountError::NotPositive));
        assert!(matches!(
            usd("20.505"),
            Err(AmountError::TooManyDecimals { .. })
        ));
        assert!(matches!(
            parse_money("5.5 JPY", Currency::USD),
            Err(AmountError::TooManyDecimals { .. })
        ));
        assert!(matches!(usd("NaN"), Err(AmountError::UnknownCurrency(_))));
        assert!(matches!(usd("inf"), Err(AmountError::UnknownCurrency(_))));
        assert!(matches!(usd("1e3"), Err(AmountError::Malformed(_))));
        assert!(matches!(
            usd("1,000"),
            Err(AmountError::AmbiguousSeparator(_))
        ));
        assert!(matches!(
            usd("1.000,50"),
            Err(AmountError::AmbiguousSeparator(_))
        ));
        assert!(matches!(usd("١٢"), Err(AmountError::Malformed(_))));
        assert!(matches!(usd("２０"), Err(AmountError::Malformed(_))));
        assert!(matches!(usd("20."), Err(AmountError::Malformed(_))));
        assert!(matches!(usd(".5"), Err(AmountError::Malformed(_))));
        assert!(matches!(usd("+5"), Err(AmountError::Malformed(_))));
        assert!(matches!(
            usd("1000000001"),
            Err(AmountError::TooLarge { .. })
        ));
        assert!(matches!(
            usd("99999999999999999999999999999999"),
            Err(AmountError::TooLarge { .. })
        ));
        assert!(matches!(usd(&"9".repeat(200)), Err(AmountError::TooLong)));
        assert!(matches!(usd("5 XYZ"), Err(AmountError::UnknownCurrency(_))));
        assert!(matches!(
            usd("$5 EUR"),
            Err(AmountError::ConflictingCurrencies(..))
        ));
        assert_eq!(usd(""), Err(AmountError::Empty));
        assert_eq!(usd("$"), Err(AmountError::Empty));
    }

    #[test]
    fn the_limit_itself_is_allowed() {
        assert_eq!(usd("1000000000"), Ok(100_000_000_000));
        assert_eq!(usd("1000000000.00"), Ok(100_000_000_000));
        assert!(matches!(
            usd("1000000000.01"),
            Err(AmountError::TooLarge { .. })
        ));
    }

    #[test]
    fn trailing_zeros_beyond_the_exponent_are_exact_not_rounded() {
        assert_eq!(usd("20.500"), Ok(2050));
        assert_eq!(
            parse_money("7.0 JPY", Currency::USD).map(Amount::minor),
            Ok(7)
        );
    }

    #[test]
    fn thousands_groups_are_read_only_where_unambiguous() {
        assert_eq!(usd("$1,000.50"), Ok(100_050));
        assert_eq!(usd("1,000,000"), Ok(100_000_000));
        assert_eq!(usd("$1,000,000,000.00"), Ok(100_000_000_000));
        assert_eq!(usd("20,50"), Ok(2050));
        assert!(matches!(
            usd("1,000"),
            Err(AmountError::AmbiguousSeparator(_))
        ));
        for bad in ["1,00,000", "1,0000.00", ",100.00", "1,000,00", "12,34.5"] {
            assert!(usd(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(format_minor(2050, Currency::USD), "$20.50");
        assert_eq!(format_minor(-300, Currency::EUR), "-€3.00");
        assert_eq!(format_minor(500, Currency::JPY), "¥500");
        let bhd = Currency::from_code("bhd").unwrap();
        assert_eq!(format_minor(12_345, bhd), "12.345 BHD");
        assert_eq!(
            format_minor(100_000_000_000, Currency::USD),
            "$1,000,000,000.00"
        );
        assert_eq!(format_minor(-123_456, Currency::USD), "-$1,234.56");
        assert_eq!(format_minor(100_000, Currency::USD), "$1,000.00");
        assert_eq!(format_minor(99_999, Currency::USD), "$999.99");
        assert_eq!(format_minor(1_234_567, Currency::JPY), "¥1,234,567");
        assert_eq!(format_minor(1_234_567, bhd), "1,234.567 BHD");
        assert_eq!(
            Amount::from_minor(1, Currency::USD).unwrap().to_string(),
            "$0.01"
        );
    }

    #[test]
    fn parse_then_format_round_trips() {
        for text in ["0.01", "1", "20.5", "999999999.99", "1000", "1234567.8"] {
            let amount = Amount::parse(text, Currency::USD).unwrap();
            let again = parse_money(&amount.to_string(), Currency::EUR).unwrap();
            assert_eq!(amount, again);
        }
    }
}
