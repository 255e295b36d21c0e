//! The grammar: the regexes, compiled once, and [`parse`], the one pure
//! function from a message's text to a [`Command`] or a [`UsageError`].
//!
//! The decision to know: a regex that failed to compile matches nothing, so
//! the parser fails closed instead of panicking; nothing typed after a
//! secret (a code, a card number) is ever quoted back.

use std::sync::LazyLock;

use ledger::{Amount, AmountError, Currency};
use regex::Regex;

use super::args::{
    LINK_CODE_ALPHABET, LINK_CODE_CHARS, LinkCode, Memo, OtpCode, SHORT_REF_CHARS_MAX,
    SHORT_REF_CHARS_MIN, START_PAYLOAD_BYTES_MAX, ShortRef, StartPayload,
};
use super::help::CommandName;
use super::usage::{UsageError, UsageProblem};
use super::{Command, PayLeg, SplitShare, Target};
use crate::card::{CARDS_PER_USER_MAX, CardError, CardNumber, Expiry};
use crate::history::HISTORY_ENTRIES_MAX;
use crate::message::{Handle, PlatformUserId};
use crate::otp::OTP_DIGITS;
use crate::recurrence::{Recurrence, UserTimeZone};
use crate::split::SPLIT_MENTIONS_MAX;
use crate::text;
use crate::trust::second_factor::{TotpCode, TotpOrRecovery};

/// The longest command message parsed, in bytes. Longer commands for this
/// bot are refused before any work is done on their arguments.
pub const COMMAND_TEXT_BYTES_MAX: usize = 1_024;
/// The longest command name (`pay` in `/pay`), in bytes (Telegram's limit).
pub const COMMAND_NAME_BYTES_MAX: usize = 32;
/// The longest bot username after `/pay@`, in bytes (Telegram's limit).
pub const BOT_USERNAME_BYTES_MAX: usize = 32;
/// Longest platform id inside a `<@ID>` mention, in bytes.
pub const MENTION_ID_BYTES_MAX: usize = 64;
/// Most characters of user input quoted back in an error.
pub(super) const ECHO_CHARS_MAX: usize = 24;

// ---------------------------------------------------------------------------
// Regexes, compiled once. A pattern that failed to compile (impossible for
// these literals; a unit test forces each one) matches nothing, so the parser
// fails closed instead of panicking.

fn compile(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

pub(super) fn is_match(regex: &LazyLock<Option<Regex>>, text: &str) -> bool {
    LazyLock::force(regex)
        .as_ref()
        .is_some_and(|regex| regex.is_match(text))
}

/// `/name` or `/name@bot`, the whole first word.
pub(super) static HEAD_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(&format!(
        r"^/([A-Za-z0-9_]{{1,{COMMAND_NAME_BYTES_MAX}}})(?:@([A-Za-z0-9_]{{1,{BOT_USERNAME_BYTES_MAX}}}))?$"
    ))
});
/// A mention by platform id: `<@123>`, or Discord's nickname form `<@!123>`.
pub(super) static MENTION_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(&format!(
        r"^<@!?([0-9A-Za-z_.-]{{1,{MENTION_ID_BYTES_MAX}}})>$"
    ))
});
pub(super) static OTP_CODE_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(&format!(r"^[0-9]{{{OTP_DIGITS}}}$")));
/// Applied to the upper-cased text.
pub(super) static LINK_CODE_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(&format!(r"^[{LINK_CODE_ALPHABET}]{{{LINK_CODE_CHARS}}}$")));
pub(super) static SHORT_REF_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(&format!(
        r"^[A-Za-z0-9]{{{SHORT_REF_CHARS_MIN},{SHORT_REF_CHARS_MAX}}}$"
    ))
});
pub(super) static START_PAYLOAD_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(&format!(r"^[A-Za-z0-9_-]{{1,{START_PAYLOAD_BYTES_MAX}}}$")));
pub(super) static NUMBER_RE: LazyLock<Option<Regex>> = LazyLock::new(|| compile(r"^[0-9]+$"));
/// What an ISO 4217 code looks like, known or not.
pub(super) static CURRENCY_CODE_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(r"^[A-Z]{3}$"));

// ---------------------------------------------------------------------------
// The parser.

/// What [`parse`] needs to know besides the text.
#[derive(Debug, Clone, Copy)]
pub struct ParseContext<'a> {
    /// This bot's username, with or without `@`. `/pay@Name` is ours only
    /// when `Name` equals it, ignoring case; with `None` no `@Name` is ours.
    pub bot_username: Option<&'a str>,
    /// The currency of an amount written without symbol or code.
    pub default_currency: Currency,
}

/// Parses one chat message.
///
/// - `Ok(None)`: not a command for this bot (does not start with `/name`, or
///   is `/name@OtherBot`). Such text gets no reply in a group, and a
///   pointer to `/help` in a direct chat.
/// - `Ok(Some(command))`: a well-formed command.
/// - `Err(error)`: a command for this bot that is unknown or malformed;
///   `error.to_string()` is the one-line reply.
pub fn parse(text: &str, ctx: &ParseContext<'_>) -> Result<Option<Command>, UsageError> {
    let text = text.trim_start();
    if !text.starts_with('/') {
        return Ok(None);
    }
    // The first word is found without a regex; a first word longer than
    // `/name@bot` can be is not a command, whatever follows.
    let head = text.split(char::is_whitespace).next().unwrap_or_default();
    let Some((name, bot)) = parse_head(head) else {
        return Ok(None);
    };
    if let Some(bot) = bot
        && !is_this_bot(bot, ctx.bot_username)
    {
        return Ok(None);
    }
    let Some(command) = CommandName::from_word(name) else {
        return Err(UsageError::UnknownCommand { name: echo(name) });
    };
    if text.len() > COMMAND_TEXT_BYTES_MAX {
        return Err(UsageError::Invalid {
            command,
            problem: UsageProblem::TooLong,
        });
    }
    let mut words = Words::new(text.get(head.len()..).unwrap_or_default());
    parse_arguments(command, &mut words, ctx)
        .and_then(|parsed| finish(command, &mut words).map(|()| parsed))
        .map(Some)
        .map_err(|problem| UsageError::Invalid { command, problem })
}

/// Splits `/name@bot` into `name` and `bot`; `None` if it is not that shape.
fn parse_head(head: &str) -> Option<(&str, Option<&str>)> {
    if head.len() > 2 + COMMAND_NAME_BYTES_MAX + BOT_USERNAME_BYTES_MAX {
        return None;
    }
    let captures = LazyLock::force(&HEAD_RE).as_ref()?.captures(head)?;
    let name = captures.get(1)?.as_str();
    let bot = captures.get(2).map(|bot| bot.as_str());
    Some((name, bot))
}

fn is_this_bot(addressed: &str, ours: Option<&str>) -> bool {
    ours.map(|ours| ours.strip_prefix('@').unwrap_or(ours))
        .is_some_and(|ours| ours.eq_ignore_ascii_case(addressed))
}

/// Whitespace-separated words of the arguments, and the raw rest (for memos).
#[derive(Debug, Clone)]
pub(super) struct Words<'a> {
    rest: &'a str,
}

impl<'a> Words<'a> {
    pub(super) fn new(text: &'a str) -> Words<'a> {
        Words { rest: text }
    }

    pub(super) fn peek(&self) -> Option<&'a str> {
        self.clone().next()
    }

    /// The next word unless it is the memo keyword `for`.
    fn peek_argument(&self) -> Option<&'a str> {
        self.peek().filter(|word| !is_memo_keyword(word))
    }

    /// Everything not yet consumed, as typed.
    pub(super) fn take_rest(&mut self) -> &'a str {
        std::mem::take(&mut self.rest)
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let text = self.rest.trim_start();
        let end = text.find(char::is_whitespace).unwrap_or(text.len());
        let (word, rest) = text.split_at_checked(end)?;
        self.rest = rest;
        Some(word).filter(|word| !word.is_empty())
    }
}

pub(super) fn is_memo_keyword(word: &str) -> bool {
    word.eq_ignore_ascii_case("for")
}

fn parse_arguments(
    command: CommandName,
    words: &mut Words<'_>,
    ctx: &ParseContext<'_>,
) -> Result<Command, UsageProblem> {
    Ok(match command {
        CommandName::Start => Command::Start {
            payload: words
                .next()
                .map(|word| {
                    StartPayload::parse(word).map_err(|_| UsageProblem::InvalidStartPayload)
                })
                .transpose()?,
        },
        CommandName::Help => Command::Help {
            topic: words
                .next()
                .map(|word| {
                    CommandName::from_word(word).ok_or_else(|| {
                        UsageProblem::UnknownTopic(echo(word.strip_prefix('/').unwrap_or(word)))
                    })
                })
                .transpose()?,
        },
        CommandName::Balance => Command::Balance,
        CommandName::Limits => Command::Limits,
        CommandName::Pay => parse_pay(words, ctx)?,
        CommandName::Confirm => {
            let word = words.next().ok_or(UsageProblem::MissingCode)?;
            Command::Confirm {
                code: OtpCode::parse(word).map_err(|_| UsageProblem::InvalidCode)?,
                second_factor: words.next().map(parse_second_factor).transpose()?,
            }
        }
        CommandName::Cancel => Command::Cancel {
            payment: words.next().map(parse_ref).transpose()?,
        },
        CommandName::Request => parse_request(words, ctx)?,
        CommandName::Approve => Command::Approve {
            request: parse_ref(words.next().ok_or(UsageProblem::MissingRef)?)?,
        },
        CommandName::Decline => Command::Decline {
            request: parse_ref(words.next().ok_or(UsageProblem::MissingRef)?)?,
        },
        CommandName::Split => parse_split(words, ctx)?,
        CommandName::Bills => Command::Bills,
        CommandName::History => match words.peek() {
            Some(word) if word.eq_ignore_ascii_case("export") => {
                words.next();
                Command::HistoryExport
            }
            _ => Command::History {
                limit: words.next().map(parse_history_limit).transpose()?,
            },
        },
        CommandName::Requests => Command::Requests,
        CommandName::Remind => Command::Remind {
            request: parse_ref(words.next().ok_or(UsageProblem::MissingRef)?)?,
        },
        CommandName::Link => match words.next() {
            None => Command::Link { code: None },
            Some(word) if word.eq_ignore_ascii_case("confirm") => Command::LinkConfirm {
                second_factor: words.next().map(parse_second_factor).transpose()?,
            },
            Some(word) if word.eq_ignore_ascii_case("cancel") => Command::LinkCancel,
            Some(word) => Command::Link {
                code: Some(LinkCode::parse(word).map_err(|_| UsageProblem::InvalidLinkCode)?),
            },
        },
        CommandName::Unlink => {
            // Anything but `confirm` is left for `finish` to refuse.
            let confirm = words
                .peek()
                .is_some_and(|word| word.eq_ignore_ascii_case("confirm"));
            if confirm {
                words.next();
            }
            Command::Unlink { confirm }
        }
        CommandName::Card => parse_card(words)?,
        CommandName::Cards => Command::Cards,
        CommandName::TopUp => Command::TopUp {
            amount: parse_amount(words, ctx.default_currency)?,
            card: parse_card_selector(words)?,
        },
        CommandName::CashOut => Command::CashOut {
            amount: parse_amount(words, ctx.default_currency)?,
            card: parse_card_selector(words)?,
        },
        CommandName::SecondFactor => parse_second_factor_command(words)?,
        CommandName::TimeZone => Command::TimeZone {
            zone: words
                .next()
                .map(|word| UserTimeZone::parse(word).map_err(UsageProblem::Schedule))
                .transpose()?,
        },
        CommandName::Scheduled => super::recurring::parse_scheduled(words)?,
        CommandName::Autopay => super::recurring::parse_autopay(words, ctx)?,
        CommandName::Expense => super::expense::parse_expense(words, ctx)?,
        CommandName::Tab => super::expense::parse_tab(words)?,
        CommandName::Settle => super::expense::parse_settle(words, ctx)?,
        CommandName::Undo => Command::Undo {
            payment: words.next().map(parse_ref).transpose()?,
        },
    })
}

/// `/2fa`, `/2fa setup`, `/2fa confirm AUTHCODE`, `/2fa off AUTHCODE`.
/// Codes are never quoted back.
fn parse_second_factor_command(words: &mut Words<'_>) -> Result<Command, UsageProblem> {
    let Some(sub) = words.next() else {
        return Ok(Command::SecondFactorStatus);
    };
    if sub.eq_ignore_ascii_case("setup") {
        return Ok(Command::SecondFactorSetup);
    }
    if sub.eq_ignore_ascii_case("status") {
        return Ok(Command::SecondFactorStatus);
    }
    if sub.eq_ignore_ascii_case("confirm") {
        let word = words.next().ok_or(UsageProblem::MissingAuthenticatorCode)?;
        let code = TotpCode::parse(word).ok_or(UsageProblem::InvalidAuthenticatorCode)?;
        return Ok(Command::SecondFactorConfirm { code });
    }
    if sub.eq_ignore_ascii_case("off") {
        let word = words.next().ok_or(UsageProblem::MissingAuthenticatorCode)?;
        return Ok(Command::SecondFactorOff {
            code: parse_second_factor(word)?,
        });
    }
    Err(UsageProblem::SecondFactorSubcommand)
}

/// An authenticator code or a recovery code; never quoted back.
fn parse_second_factor(word: &str) -> Result<TotpOrRecovery, UsageProblem> {
    TotpOrRecovery::parse(word).ok_or(UsageProblem::InvalidAuthenticatorCode)
}

/// `/card add NUMBER MM/YY`, `/card remove N`, `/card list`. Nothing typed
/// here is ever quoted back: it may hold a card number.
fn parse_card(words: &mut Words<'_>) -> Result<Command, UsageProblem> {
    let sub = words.next().ok_or(UsageProblem::CardSubcommand)?;
    if sub.eq_ignore_ascii_case("list") {
        return Ok(Command::Cards);
    }
    if sub.eq_ignore_ascii_case("remove") {
        let word = words.next().ok_or(UsageProblem::CardIndex)?;
        return Ok(Command::CardRemove {
            index: parse_card_index(word)?,
        });
    }
    if !sub.eq_ignore_ascii_case("add") {
        return Err(UsageProblem::CardSubcommand);
    }
    // The number may be typed in groups (`4111 1111 1111 1111`): every word
    // but the last is the number, the last is the expiry.
    let rest: Vec<&str> = words.by_ref().collect();
    let Some((expiry, number)) = rest.split_last() else {
        return Err(UsageProblem::Card(CardError::Empty));
    };
    if !expiry.contains('/') {
        return Err(UsageProblem::MissingExpiry);
    }
    if number.is_empty() {
        return Err(UsageProblem::Card(CardError::Empty));
    }
    let card = CardNumber::parse(&number.join(" ")).map_err(UsageProblem::Card)?;
    let expiry = Expiry::parse_shape(expiry).map_err(UsageProblem::Expiry)?;
    Ok(Command::CardAdd { card, expiry })
}

fn parse_card_index(word: &str) -> Result<u8, UsageProblem> {
    if !is_match(&NUMBER_RE, word) {
        return Err(UsageProblem::CardIndex);
    }
    word.parse::<u8>()
        .ok()
        .filter(|n| (1..=CARDS_PER_USER_MAX).contains(n))
        .ok_or(UsageProblem::CardIndex)
}

/// After a top-up or cash-out amount: nothing, or `card N`.
fn parse_card_selector(words: &mut Words<'_>) -> Result<Option<u8>, UsageProblem> {
    let Some(word) = words.next() else {
        return Ok(None);
    };
    if !word.eq_ignore_ascii_case("card") {
        return Err(UsageProblem::CardSelector);
    }
    let index = words.next().ok_or(UsageProblem::CardSelector)?;
    parse_card_index(index).map(Some)
}

/// Refuses leftover words (mini-redis's `finish`). Words after a secret are
/// not quoted back: they may be (part of) the secret.
fn finish(command: CommandName, words: &mut Words<'_>) -> Result<(), UsageProblem> {
    match words.next() {
        None => Ok(()),
        Some(_)
            if matches!(
                command,
                CommandName::Confirm | CommandName::Link | CommandName::SecondFactor
            ) =>
        {
            Err(UsageProblem::LeftoverAfterCode)
        }
        // Card commands never quote what was typed: it may be a card number.
        Some(_)
            if matches!(
                command,
                CommandName::Card | CommandName::Cards | CommandName::TopUp | CommandName::CashOut
            ) =>
        {
            Err(UsageProblem::LeftoverNotQuoted)
        }
        Some(word) => Err(UsageProblem::Leftover(echo(word))),
    }
}

fn parse_pay(words: &mut Words<'_>, ctx: &ParseContext<'_>) -> Result<Command, UsageProblem> {
    let first = words.peek_argument().ok_or(UsageProblem::MissingAmount)?;
    let payee = if looks_like_target(first) {
        words.next();
        Some(parse_target(first)?)
    } else {
        None
    };
    if let Some(first) = &payee
        && words.peek().is_some_and(looks_like_target)
    {
        return super::pay_many::parse_each(first.clone(), words, ctx);
    }
    let amount = match parse_amount(words, ctx.default_currency) {
        Ok(amount) => amount,
        // `/pay bob 20`: a handle without `@`, not an amount.
        Err(_) if payee.is_none() && is_bare_handle(first) => {
            return Err(UsageProblem::BareHandle(echo(first)));
        }
        Err(problem) => return Err(problem),
    };
    if let Some(payee) = &payee
        && words.peek().is_some_and(looks_like_target)
    {
        let first = PayLeg {
            payee: payee.clone(),
            amount,
        };
        return super::pay_many::parse_pairs(first, words);
    }
    if let Some(word) = words.peek()
        && Recurrence::starts_with(word)
    {
        let payee = payee.ok_or(UsageProblem::MissingTarget)?;
        let mut phrase: Vec<&str> = Vec::new();
        while let Some(word) = words.peek_argument() {
            words.next();
            phrase.push(word);
        }
        let recurrence = Recurrence::parse(&phrase.join(" ")).map_err(UsageProblem::Schedule)?;
        let memo = parse_memo_tail(words, false)?;
        return Ok(Command::PayScheduled {
            payee,
            amount,
            recurrence,
            memo,
        });
    }
    let memo = parse_memo_tail(words, payee.is_none())?;
    Ok(Command::Pay {
        payee,
        amount,
        memo,
    })
}

fn parse_request(words: &mut Words<'_>, ctx: &ParseContext<'_>) -> Result<Command, UsageProblem> {
    let first = words.peek_argument().ok_or(UsageProblem::MissingTarget)?;
    words.next();
    let payer = parse_target(first)?;
    let amount = parse_amount(words, ctx.default_currency)?;
    if let Some(word) = words.peek()
        && Recurrence::starts_with(word)
    {
        let mut phrase: Vec<&str> = Vec::new();
        while let Some(word) = words.peek_argument() {
            words.next();
            phrase.push(word);
        }
        let recurrence = Recurrence::parse(&phrase.join(" ")).map_err(UsageProblem::Schedule)?;
        let memo = parse_memo_tail(words, false)?;
        return Ok(Command::RequestScheduled {
            payer,
            amount,
            recurrence,
            memo,
        });
    }
    let memo = parse_memo_tail(words, false)?;
    Ok(Command::Request {
        payer,
        amount,
        memo,
    })
}

fn parse_split(words: &mut Words<'_>, ctx: &ParseContext<'_>) -> Result<Command, UsageProblem> {
    if words
        .peek()
        .is_some_and(|word| word.eq_ignore_ascii_case("status"))
    {
        words.next();
        return Ok(Command::SplitStatus {
            split: words.next().map(parse_ref).transpose()?,
        });
    }
    if words.peek().is_some_and(looks_like_target) {
        return Err(UsageProblem::TotalFirst);
    }
    let total = parse_amount(words, ctx.default_currency)?;
    let mut shares: Vec<SplitShare> = Vec::new();
    let mut memo = None;
    while let Some(word) = words.next() {
        if is_memo_keyword(word) {
            memo = Some(Memo::parse(words.take_rest()).map_err(UsageProblem::Memo)?);
            break;
        }
        if shares.is_empty() && is_match(&CURRENCY_CODE_RE, word) {
            return Err(UsageProblem::UnknownCurrency(echo(word)));
        }
        let (target_text, amount_text) = match word.split_once(':') {
            Some((target, amount)) => (target, Some(amount)),
            None => (word, None),
        };
        if !shares.is_empty() && !looks_like_target(target_text) && is_bare_handle(target_text) {
            return Err(UsageProblem::BareWord(echo(target_text)));
        }
        let target = parse_target(target_text)?;
        if shares.iter().any(|share| share.target == target) {
            return Err(UsageProblem::DuplicateParticipant(echo(
                &target.to_string(),
            )));
        }
        if shares.len() >= SPLIT_MENTIONS_MAX {
            return Err(UsageProblem::TooManyParticipants);
        }
        let amount = amount_text
            .map(|text| parse_share(text, &target, total))
            .transpose()?;
        shares.push(SplitShare { target, amount });
    }
    check_shares(total, &shares)?;
    Ok(Command::Split {
        total,
        shares,
        memo,
    })
}

/// What can be checked about the shares without the store: someone is named,
/// exact shares fit in the total, and people without an exact share are left
/// something to pay. How the rest is divided is the core's business.
fn check_shares(total: Amount, shares: &[SplitShare]) -> Result<(), UsageProblem> {
    if shares.is_empty() {
        return Err(UsageProblem::NoParticipants);
    }
    let exact_minor = shares
        .iter()
        .filter_map(|share| share.amount)
        .map(Amount::minor)
        .fold(0_i64, i64::saturating_add);
    let open = shares.iter().any(|share| share.amount.is_none());
    if exact_minor > total.minor() {
        return Err(UsageProblem::SharesExceedTotal {
            shares_minor: exact_minor,
            total,
        });
    }
    if open && exact_minor == total.minor() {
        return Err(UsageProblem::SharesLeaveNothing);
    }
    Ok(())
}

pub(super) fn parse_share(
    text: &str,
    target: &Target,
    total: Amount,
) -> Result<Amount, UsageProblem> {
    if text.is_empty() {
        return Err(UsageProblem::ShareMissingAmount(echo(&target.to_string())));
    }
    if has_non_ascii_digit(text) {
        return Err(UsageProblem::NonAsciiDigits);
    }
    let amount = ledger::parse_money(text, total.currency()).map_err(UsageProblem::Amount)?;
    if amount.currency() != total.currency() {
        return Err(UsageProblem::ShareCurrency {
            target: echo(&target.to_string()),
            share: amount.currency(),
            total: total.currency(),
        });
    }
    Ok(amount)
}

/// An amount: one word (`20`, `$20`, `20usd`), optionally preceded or
/// followed by a currency word (`usd 20`, `$ 20`, `20 USD`).
pub(super) fn parse_amount(
    words: &mut Words<'_>,
    default: Currency,
) -> Result<Amount, UsageProblem> {
    let first = words.peek_argument().ok_or(UsageProblem::MissingAmount)?;
    words.next();
    let mut text = String::from(first);
    let mut number = first;
    if is_currency_word(first) {
        number = words.peek_argument().ok_or(UsageProblem::MissingAmount)?;
        words.next();
        text.push(' ');
        text.push_str(number);
    }
    if let Some(code) = words.peek_argument()
        && Currency::from_code(code).is_ok()
    {
        words.next();
        text.push(' ');
        text.push_str(code);
    }
    if has_non_ascii_digit(number) {
        return Err(UsageProblem::NonAsciiDigits);
    }
    // `abc`, `NaN`: not an amount (the ledger would call it a currency).
    if !number.bytes().any(|b| b.is_ascii_digit()) {
        return Err(UsageProblem::Amount(AmountError::Malformed(
            number.chars().take(ECHO_CHARS_MAX).collect(),
        )));
    }
    ledger::parse_money(&text, default).map_err(UsageProblem::Amount)
}

fn is_currency_word(word: &str) -> bool {
    Currency::from_code(word).is_ok() || Currency::from_symbol(word).is_some()
}

pub(super) fn has_non_ascii_digit(text: &str) -> bool {
    text.chars().any(|c| c.is_numeric() && !c.is_ascii_digit())
}

/// After the amount: nothing, or `for MEMO`.
pub(super) fn parse_memo_tail(
    words: &mut Words<'_>,
    reply_form: bool,
) -> Result<Option<Memo>, UsageProblem> {
    let Some(word) = words.next() else {
        return Ok(None);
    };
    if is_memo_keyword(word) {
        return Memo::parse(words.take_rest())
            .map(Some)
            .map_err(UsageProblem::Memo);
    }
    Err(if looks_like_target(word) && reply_form {
        UsageProblem::TargetAfterAmount(echo(word))
    } else if looks_like_target(word) {
        UsageProblem::ExtraTarget(echo(word))
    } else if is_match(&CURRENCY_CODE_RE, word) {
        UsageProblem::UnknownCurrency(echo(word))
    } else {
        UsageProblem::Unexpected(echo(word))
    })
}

pub(super) fn looks_like_target(word: &str) -> bool {
    word.starts_with('@') || word.starts_with('<')
}

/// `bob`: would be a valid handle with `@` in front, and is not a currency.
pub(super) fn is_bare_handle(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_alphabetic)
        && !is_currency_word(word)
        && Handle::parse(word).is_ok()
}

pub(super) fn parse_target(word: &str) -> Result<Target, UsageProblem> {
    if word.starts_with('@') {
        return Handle::parse(word)
            .map(Target::Handle)
            .map_err(|_| UsageProblem::InvalidHandle(echo(word)));
    }
    if word.starts_with('<') {
        return LazyLock::force(&MENTION_RE)
            .as_ref()
            .and_then(|regex| regex.captures(word))
            .and_then(|captures| captures.get(1))
            .and_then(|id| PlatformUserId::new(id.as_str()).ok())
            .map(Target::Id)
            .ok_or_else(|| UsageProblem::InvalidMention(echo(word)));
    }
    if is_bare_handle(word) {
        return Err(UsageProblem::BareHandle(echo(word)));
    }
    Err(UsageProblem::NotATarget(echo(word)))
}

pub(super) fn parse_ref(word: &str) -> Result<ShortRef, UsageProblem> {
    ShortRef::parse(word).map_err(|_| UsageProblem::InvalidRef(echo(word)))
}

fn parse_history_limit(word: &str) -> Result<u8, UsageProblem> {
    if !is_match(&NUMBER_RE, word) {
        return Err(UsageProblem::NotANumber(echo(word)));
    }
    word.parse::<u8>()
        .ok()
        .filter(|limit| (1..=HISTORY_ENTRIES_MAX).contains(limit))
        .ok_or(UsageProblem::HistoryOutOfRange)
}

/// User input quoted in an error: at most [`ECHO_CHARS_MAX`] characters,
/// invisible and line-breaking characters replaced, backticks made quotes.
pub(super) fn echo(text: &str) -> String {
    let mut quoted: String = text
        .chars()
        .take(ECHO_CHARS_MAX)
        .map(|c| match c {
            '`' => '\'',
            c if text::is_invisible(c) || c.is_whitespace() => '?',
            c => c,
        })
        .collect();
    if text.chars().nth(ECHO_CHARS_MAX).is_some() {
        quoted.push('…');
    }
    quoted
}
