//! What is wrong with a command as typed, and the one-line reply that says
//! so: [`UsageError`] and [`UsageProblem`], whose `Display` texts are the
//! usage sentences users read.
//!
//! The decision to know: quoted user input goes through `echo` (cut short,
//! nothing invisible), and secrets are never quoted at all.

use std::fmt;

use ledger::{Amount, AmountError, Currency};

use super::args::{LINK_CODE_CHARS, MemoError, SHORT_REF_CHARS_MAX, SHORT_REF_CHARS_MIN};
use super::grammar::{COMMAND_TEXT_BYTES_MAX, echo};
use super::help::CommandName;
use super::pay_many::PAY_PAYEES_MAX;
use crate::card::{CARDS_PER_USER_MAX, CardError, ExpiryError};
use crate::history::HISTORY_ENTRIES_MAX;
use crate::message::HANDLE_CHARS_MAX;
use crate::otp::OTP_DIGITS;
use crate::recurrence::RecurrenceError;
use crate::split::SPLIT_MENTIONS_MAX;
use crate::tab::{EXPENSE_ITEMS_MAX, EXPENSE_PARTICIPANTS_MAX, EXPENSE_PAYERS_MAX, WEIGHT_MAX};
use crate::trust::second_factor::TOTP_DIGITS;

/// Longest [`UsageError`] text, in characters.
pub const USAGE_ERROR_CHARS_MAX: usize = 280;
/// Most currency codes listed in an "unknown currency" error.
const CURRENCIES_LISTED_MAX: usize = 12;

// ---------------------------------------------------------------------------
// Errors.

/// A command for this bot that cannot be carried out as typed. `Display` is
/// the reply: one line of at most [`USAGE_ERROR_CHARS_MAX`] characters, with
/// the command's usage line and an example.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// `/foo`: no such command (`name` is without the `/`).
    #[error("Unknown command /{name}. Try /help.")]
    UnknownCommand { name: String },
    /// A known command, typed wrong.
    #[error("{problem}. Usage: {usage}, e.g. {example}", usage = .command.usage(), example = .command.example())]
    Invalid {
        command: CommandName,
        problem: UsageProblem,
    },
}

impl UsageError {
    /// The command the user meant, if it is one paybot knows.
    pub fn command(&self) -> Option<CommandName> {
        match self {
            UsageError::UnknownCommand { .. } => None,
            UsageError::Invalid { command, .. } => Some(*command),
        }
    }
}

/// What is wrong with a known command. Quoted user input is already cut to a
/// few characters and stripped of invisible characters; secrets (codes,
/// payloads) are never quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageProblem {
    /// The message is longer than [`COMMAND_TEXT_BYTES_MAX`].
    TooLong,
    MissingTarget,
    /// A word where an @handle was expected.
    NotATarget(String),
    /// `bob` instead of `@bob`.
    BareHandle(String),
    /// In a split after the first person: a bare word (a handle without `@`,
    /// or a memo without `for`).
    BareWord(String),
    InvalidHandle(String),
    /// `<...>` that is not `<@ID>`.
    InvalidMention(String),
    /// `/split @bob 60`.
    TotalFirst,
    /// `/pay 20 @bob`.
    TargetAfterAmount(String),
    /// `/pay @bob 20 @carol`.
    ExtraTarget(String),
    MissingAmount,
    Amount(AmountError),
    /// Digits other than 0-9 (`٢٠`, `２０`).
    NonAsciiDigits,
    /// An all-capitals three-letter word that is no known currency.
    UnknownCurrency(String),
    /// A word after the amount that is not a currency nor `for`.
    Unexpected(String),
    /// A word after the last argument.
    Leftover(String),
    /// Something after a card command's arguments; not quoted.
    LeftoverNotQuoted,
    /// `/card` without `add`, `remove` or `list`.
    CardSubcommand,
    /// `/card remove` or `card` without a valid N.
    CardIndex,
    /// After a top-up or cash-out amount, something other than `card N`.
    CardSelector,
    /// `/card add NUMBER` without `MM/YY`.
    MissingExpiry,
    Card(CardError),
    Expiry(ExpiryError),
    /// Something after a code; not quoted, it may be part of the code.
    LeftoverAfterCode,
    Memo(MemoError),
    MissingCode,
    InvalidCode,
    /// `/2fa confirm` or `/2fa off` without its code.
    MissingAuthenticatorCode,
    /// Not 6 digits nor a recovery code; not quoted.
    InvalidAuthenticatorCode,
    /// `/2fa` with something other than `setup`, `confirm` or `off`.
    SecondFactorSubcommand,
    InvalidLinkCode,
    MissingRef,
    InvalidRef(String),
    InvalidStartPayload,
    /// `/help foo`.
    UnknownTopic(String),
    NotANumber(String),
    HistoryOutOfRange,
    NoParticipants,
    TooManyParticipants,
    /// `/pay` names more than [`PAY_PAYEES_MAX`] people.
    TooManyPayees,
    /// `/pay @bob @carol 5` without `each`.
    MissingEach,
    /// `/pay @bob 5 EUR @carol 7 USD`.
    PayCurrencies {
        first: Currency,
        other: Currency,
    },
    DuplicateParticipant(String),
    /// `@bob:` without an amount.
    ShareMissingAmount(String),
    /// A share in another currency than the total.
    ShareCurrency {
        target: String,
        share: Currency,
        total: Currency,
    },
    /// Exact shares add up to more than the total.
    SharesExceedTotal {
        shares_minor: i64,
        total: Amount,
    },
    /// Exact shares use the whole total while others have no exact share.
    SharesLeaveNothing,
    /// A schedule (`every ...`) or a time zone that does not parse.
    Schedule(RecurrenceError),
    /// `/scheduled` with something other than `pause`, `resume` or `cancel`.
    ScheduledSubcommand,
    /// `/expense ... paid` without `by`.
    PaidWithoutBy,
    /// More payers than [`EXPENSE_PAYERS_MAX`].
    TooManyPayers,
    /// Two share forms in one expense (`@a:20 @b:50%`).
    MixedShareForms,
    /// Not a weight 1 to [`WEIGHT_MAX`].
    InvalidWeight(String),
    /// Not a percent like `50%` or `12.5%`.
    InvalidPercent(String),
    /// More people sharing an expense than [`EXPENSE_PARTICIPANTS_MAX`].
    TooManySharing,
    /// `/tab` with something other than an @handle or `history`.
    TabSubcommand,
    /// `/settle @alice cash` without an amount.
    CashWithoutAmount,
    /// An item of an itemised expense that names nobody (`pizza 18`).
    ItemWithoutPerson(String),
    /// An item of an itemised expense without its amount (`@bob pizza`).
    ItemWithoutAmount(String),
    /// More items than [`EXPENSE_ITEMS_MAX`].
    TooManyItems,
    /// `rest` said twice, or both `split @a` and `rest @b`.
    RestTwice,
    /// `for dinner: rest` without any item.
    NoItems,
}

impl fmt::Display for UsageProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageProblem::TooLong => {
                write!(
                    f,
                    "That message is longer than {COMMAND_TEXT_BYTES_MAX} bytes"
                )
            }
            UsageProblem::MissingTarget => f.write_str("Missing the @handle of the person"),
            UsageProblem::NotATarget(word) => {
                write!(f, "Start with the @handle of the person, not `{word}`")
            }
            UsageProblem::BareHandle(word) => write!(f, "Put @ before the handle: @{word}"),
            UsageProblem::BareWord(word) => write!(
                f,
                "Unexpected `{word}`: write @{word} for a person, or put a memo after `for`"
            ),
            UsageProblem::InvalidHandle(word) => write!(
                f,
                "`{word}` is not a handle: up to {HANDLE_CHARS_MAX} letters, digits, `_` or `.`"
            ),
            UsageProblem::InvalidMention(word) => {
                write!(f, "`{word}` is not a mention of a person")
            }
            UsageProblem::TotalFirst => f.write_str("Put the total before the @handles"),
            UsageProblem::TargetAfterAmount(word) => {
                write!(f, "Put `{word}` before the amount")
            }
            UsageProblem::ExtraTarget(word) => write!(
                f,
                "One person per payment (`{word}` is a second); use /split for several"
            ),
            UsageProblem::MissingAmount => f.write_str("Missing the amount"),
            UsageProblem::Amount(error) => write_amount_error(f, error),
            UsageProblem::NonAsciiDigits => f.write_str("Write the amount with the digits 0-9"),
            UsageProblem::UnknownCurrency(code) => write_unknown_currency(f, code),
            UsageProblem::Unexpected(word) => {
                write!(f, "Unexpected `{word}`; put a memo after `for`")
            }
            UsageProblem::Leftover(word) => write!(f, "Unexpected `{word}` at the end"),
            UsageProblem::LeftoverAfterCode => f.write_str("Unexpected text after the code"),
            UsageProblem::LeftoverNotQuoted => f.write_str("Unexpected text at the end"),
            UsageProblem::CardSubcommand => f.write_str("Say /card add, /card remove or /cards"),
            UsageProblem::CardIndex => write!(
                f,
                "Give the card's number as /cards lists it, 1 to {CARDS_PER_USER_MAX}"
            ),
            UsageProblem::CardSelector => {
                f.write_str("After the amount, name the card as `card N` (N as /cards lists it)")
            }
            UsageProblem::MissingExpiry => {
                f.write_str("Missing the card's expiry date, as MM/YY after the number")
            }
            UsageProblem::Card(error) => write!(f, "{}", capitalized(&error.to_string())),
            UsageProblem::Expiry(error) => write!(f, "{}", capitalized(&error.to_string())),
            UsageProblem::Memo(error) => write!(f, "{error}"),
            UsageProblem::MissingCode => {
                write!(
                    f,
                    "Missing the {OTP_DIGITS}-digit code sent to you privately"
                )
            }
            UsageProblem::InvalidCode => write!(
                f,
                "That is not a code: a code is exactly {OTP_DIGITS} digits 0-9"
            ),
            UsageProblem::MissingAuthenticatorCode => write!(
                f,
                "Missing the {TOTP_DIGITS}-digit code from your authenticator app"
            ),
            UsageProblem::InvalidAuthenticatorCode => write!(
                f,
                "That is not an authenticator code: {TOTP_DIGITS} digits 0-9, or a recovery code like ABCDE-FGHIJ"
            ),
            UsageProblem::SecondFactorSubcommand => {
                f.write_str("Say /2fa, /2fa setup, /2fa confirm CODE or /2fa off CODE")
            }
            UsageProblem::InvalidLinkCode => write!(
                f,
                "That is not a link code: a link code is {LINK_CODE_CHARS} letters and digits"
            ),
            UsageProblem::MissingRef => f.write_str("Missing the reference, like P7K2QX"),
            UsageProblem::InvalidRef(word) => write!(
                f,
                "`{word}` is not a reference: {SHORT_REF_CHARS_MIN} to {SHORT_REF_CHARS_MAX} letters and digits, like P7K2QX"
            ),
            UsageProblem::InvalidStartPayload => {
                f.write_str("That start link is broken; open it again")
            }
            UsageProblem::UnknownTopic(word) => write!(f, "There is no command /{word}"),
            UsageProblem::NotANumber(word) => write!(f, "`{word}` is not a number"),
            UsageProblem::HistoryOutOfRange => {
                write!(f, "Ask for 1 to {HISTORY_ENTRIES_MAX} entries")
            }
            UsageProblem::NoParticipants => f.write_str("Name at least one @handle to split with"),
            UsageProblem::TooManyParticipants => write!(
                f,
                "A split has at most {SPLIT_MENTIONS_MAX} people besides you"
            ),
            UsageProblem::TooManyPayees => {
                write!(f, "One /pay pays at most {PAY_PAYEES_MAX} people")
            }
            UsageProblem::MissingEach => write!(
                f,
                "Say `each` after the amount to pay everyone that much (use /split to share a total)"
            ),
            UsageProblem::PayCurrencies { first, other } => write!(
                f,
                "One /pay is in one currency: {} and {} are both named",
                first.code(),
                other.code()
            ),
            UsageProblem::DuplicateParticipant(target) => write!(f, "{target} is named twice"),
            UsageProblem::ShareMissingAmount(target) => {
                write!(f, "Put an amount after `{target}:`")
            }
            UsageProblem::ShareCurrency {
                target,
                share,
                total,
            } => write!(
                f,
                "The share of {target} is in {share} but the total is in {total}"
            ),
            UsageProblem::SharesExceedTotal {
                shares_minor,
                total,
            } => write!(
                f,
                "The shares add up to {}, more than the total {total}",
                ledger::format_minor(*shares_minor, total.currency())
            ),
            UsageProblem::SharesLeaveNothing => f.write_str(
                "The exact shares use up the whole total, leaving nothing for the others",
            ),
            UsageProblem::Schedule(error) => write!(f, "{}", capitalized(&error.to_string())),
            UsageProblem::ScheduledSubcommand => {
                f.write_str("Say /scheduled, or /scheduled pause, resume, skip or cancel REF")
            }
            UsageProblem::PaidWithoutBy => f.write_str("Write `paid by @handle`"),
            UsageProblem::TooManyPayers => {
                write!(f, "An expense has at most {EXPENSE_PAYERS_MAX} payers")
            }
            UsageProblem::MixedShareForms => f.write_str(
                "Use one way of sharing: names only, exact amounts, `N shares` or percents",
            ),
            UsageProblem::InvalidWeight(word) => {
                write!(f, "`{word}` is not a number of shares, 1 to {WEIGHT_MAX}")
            }
            UsageProblem::InvalidPercent(word) => {
                write!(f, "`{word}` is not a percent like 50% or 12.5%")
            }
            UsageProblem::TooManySharing => write!(
                f,
                "An expense is shared by at most {EXPENSE_PARTICIPANTS_MAX} people"
            ),
            UsageProblem::TabSubcommand => {
                f.write_str("Say /tab, /tab @handle, /tab history or /tab export")
            }
            UsageProblem::CashWithoutAmount => {
                f.write_str("Say how much you paid in cash: /settle @alice 20 cash")
            }
            UsageProblem::ItemWithoutPerson(word) => write!(
                f,
                "Start each item with the @handles it is for, then its amount (`@bob 18 pizza`), not `{word}`"
            ),
            UsageProblem::ItemWithoutAmount(target) => write!(
                f,
                "Give the item of {target} its amount right after the names (`{target} 18 pizza`)"
            ),
            UsageProblem::TooManyItems => {
                write!(f, "An expense has at most {EXPENSE_ITEMS_MAX} items")
            }
            UsageProblem::RestTwice => f.write_str(
                "Say once who shares the rest: `rest` (everyone), `rest @a @b`, or `split @a @b` before `for`",
            ),
            UsageProblem::NoItems => {
                f.write_str("List the items after the colon: `for dinner: @bob 18 pizza, rest`")
            }
        }
    }
}

/// The friendly line for an [`AmountError`]. Its texts come from user input:
/// they are quoted through [`echo`].
fn write_amount_error(f: &mut fmt::Formatter<'_>, error: &AmountError) -> fmt::Result {
    match error {
        AmountError::Empty => f.write_str("Missing the amount"),
        AmountError::TooLong => f.write_str("That amount is too long"),
        AmountError::Malformed(text) => write!(
            f,
            "`{}` is not an amount; write it like 20 or 20.50",
            echo(text)
        ),
        AmountError::AmbiguousSeparator(text) => write!(
            f,
            "`{}` is ambiguous; write 1000 or 1000.50, without thousands separators",
            echo(text)
        ),
        AmountError::NotPositive => f.write_str("The amount must be more than zero"),
        AmountError::TooManyDecimals {
            text,
            currency,
            exponent,
        } => {
            let allowed = match exponent {
                0 => "none".to_owned(),
                n => n.to_string(),
            };
            // The ledger cuts quoted text to 16 characters; count decimals
            // only when the text is whole.
            let decimals = text
                .rsplit(['.', ','])
                .next()
                .map(|fraction| fraction.chars().count())
                .filter(|_| text.chars().count() < 16 && text.contains(['.', ',']));
            // Its smallest unit (0.01 for USD), and the amount cut to it
            // (never rounded for the user: they choose).
            let exponent = usize::try_from(*exponent).unwrap_or(0);
            let smallest = match exponent {
                0 => "1".to_owned(),
                n => format!("0.{}1", "0".repeat(n - 1)),
            };
            let has = match decimals {
                Some(1) => "has 1 decimal".to_owned(),
                Some(n) => format!("has {n} decimals"),
                None => "has too many decimals".to_owned(),
            };
            write!(
                f,
                "`{}` {has}, but {currency} has {allowed} (its smallest amount is {smallest}); I never round, so ",
                echo(text)
            )?;
            let cut = decimals.and_then(|n| {
                let keep = text.chars().count().checked_sub(n - exponent.min(n))?;
                let cut: String = text.chars().take(keep).collect();
                Some(cut.trim_end_matches(['.', ',']).to_owned())
            });
            match cut {
                Some(cut) if exponent == 0 => {
                    write!(f, "write a whole number, like {}", echo(&cut))
                }
                Some(cut) => write!(f, "write at most {exponent}, like {}", echo(&cut)),
                None => write!(f, "write at most {exponent} decimals"),
            }
        }
        AmountError::TooLarge { max } => {
            write!(f, "The amount is above the limit of {}", echo(max))
        }
        AmountError::UnknownCurrency(code) => write_unknown_currency(f, &echo(code)),
        AmountError::ConflictingCurrencies(first, second) => {
            write!(f, "Two currencies given: {first} and {second}")
        }
    }
}

/// `text` with its first letter in upper case (error texts start lower
/// case).
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn write_unknown_currency(f: &mut fmt::Formatter<'_>, code: &str) -> fmt::Result {
    let known: Vec<&str> = Currency::all()
        .take(CURRENCIES_LISTED_MAX)
        .map(Currency::code)
        .collect();
    write!(f, "Unknown currency `{code}`; I know {}", known.join(", "))
}
