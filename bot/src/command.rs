//! The command grammar: the text of one chat message in, a [`Command`] out.
//!
//! [`parse`] is one pure function (no I/O, no clock, no store). It returns
//! `Ok(None)` for text that is not a command for this bot (it gets no reply),
//! `Ok(Some(command))`, or a [`UsageError`] whose `Display` is one short line
//! for the chat user: what is wrong, the usage line and one real example.
//!
//! The design decision to know: everything that must be valid is parsed here
//! into its own type (an [`Amount`], a [`Handle`], an [`OtpCode`], a
//! [`ShortRef`], a [`Memo`], ...), so the core never handles raw text. What
//! needs the store (does `@bob` exist, does `P7K2QX` belong to the sender) is
//! left to the core.
//!
//! The grammar, in short (words are separated by any whitespace; the command
//! name is case-insensitive and may carry this bot's `@username`):
//!
//! ```text
//! /start [PAYLOAD]            /help [COMMAND]          /balance
//! /pay TARGET AMOUNT [CURRENCY] [for MEMO]   (alias /send)
//! /pay AMOUNT [CURRENCY] [for MEMO]          (as a reply to the payee)
//! /confirm CODE               /cancel [REF]
//! /request TARGET AMOUNT [CURRENCY] [for MEMO]
//! /approve REF                /decline REF
//! /split TOTAL [CURRENCY] TARGET[:AMOUNT]... [for MEMO]
//! /split status [REF]         /history [N]
//! /link [CODE | confirm | cancel]                    /unlink [confirm]
//! /card add NUMBER MM/YY      /card remove N           /cards   (alias /card list)
//! /topup AMOUNT [CURRENCY] [card N]                  /cashout AMOUNT [CURRENCY] [card N]
//! TARGET = @handle | <@ID> | <@!ID>
//! ```

use std::fmt;
use std::sync::LazyLock;

use ledger::{Amount, AmountError, Currency};
use regex::Regex;

use crate::card::{self, CardError, CardNumber, Expiry, ExpiryError};
use crate::message::{HANDLE_CHARS_MAX, Handle, PlatformUserId};
use crate::otp::OTP_DIGITS;
use crate::text;

/// The longest command message parsed, in bytes. Longer commands for this
/// bot are refused before any work is done on their arguments.
pub const COMMAND_TEXT_BYTES_MAX: usize = 1_024;
/// The longest command name (`pay` in `/pay`), in bytes (Telegram's limit).
pub const COMMAND_NAME_BYTES_MAX: usize = 32;
/// The longest bot username after `/pay@`, in bytes (Telegram's limit).
pub const BOT_USERNAME_BYTES_MAX: usize = 32;
/// The longest memo, in characters, after clean-up. Longer is refused, never cut.
pub const MEMO_CHARS_MAX: usize = 140;
/// Most people in one split, not counting the sender.
pub const SPLIT_MENTIONS_MAX: usize = 20;
/// Most entries `/history N` may ask for.
pub const HISTORY_ENTRIES_MAX: u8 = 50;
/// Characters in an account-link code.
pub const LINK_CODE_CHARS: usize = 8;
/// The characters of a link code: upper case letters and digits without the
/// look-alikes `I`, `O`, `0` and `1`.
pub const LINK_CODE_ALPHABET: &str = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Shortest payment/request/split reference, in characters.
pub const SHORT_REF_CHARS_MIN: usize = 4;
/// Longest payment/request/split reference, in characters.
pub const SHORT_REF_CHARS_MAX: usize = 12;
/// Longest `/start` deep-link payload, in bytes (Telegram's limit).
pub const START_PAYLOAD_BYTES_MAX: usize = 64;
/// Longest platform id inside a `<@ID>` mention, in bytes.
pub const MENTION_ID_BYTES_MAX: usize = 64;
/// Most cards one user may link; `/card remove N` and `card N` take 1 to
/// this.
pub const CARDS_PER_USER_MAX: u8 = 5;
/// Longest [`UsageError`] text, in characters.
pub const USAGE_ERROR_CHARS_MAX: usize = 280;

/// Most characters of user input quoted back in an error.
const ECHO_CHARS_MAX: usize = 24;
/// Most currency codes listed in an "unknown currency" error.
const CURRENCIES_LISTED_MAX: usize = 12;

// ---------------------------------------------------------------------------
// Regexes, compiled once. A pattern that failed to compile (impossible for
// these literals; a unit test forces each one) matches nothing, so the parser
// fails closed instead of panicking.

fn compile(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

fn is_match(regex: &LazyLock<Option<Regex>>, text: &str) -> bool {
    LazyLock::force(regex)
        .as_ref()
        .is_some_and(|regex| regex.is_match(text))
}

/// `/name` or `/name@bot`, the whole first word.
static HEAD_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(&format!(
        r"^/([A-Za-z0-9_]{{1,{COMMAND_NAME_BYTES_MAX}}})(?:@([A-Za-z0-9_]{{1,{BOT_USERNAME_BYTES_MAX}}}))?$"
    ))
});
/// A mention by platform id: `<@123>`, or Discord's nickname form `<@!123>`.
static MENTION_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(&format!(
        r"^<@!?([0-9A-Za-z_.-]{{1,{MENTION_ID_BYTES_MAX}}})>$"
    ))
});
static OTP_CODE_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(&format!(r"^[0-9]{{{OTP_DIGITS}}}$")));
/// Applied to the upper-cased text.
static LINK_CODE_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(&format!(r"^[{LINK_CODE_ALPHABET}]{{{LINK_CODE_CHARS}}}$")));
static SHORT_REF_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(&format!(
        r"^[A-Za-z0-9]{{{SHORT_REF_CHARS_MIN},{SHORT_REF_CHARS_MAX}}}$"
    ))
});
static START_PAYLOAD_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(&format!(r"^[A-Za-z0-9_-]{{1,{START_PAYLOAD_BYTES_MAX}}}$")));
static NUMBER_RE: LazyLock<Option<Regex>> = LazyLock::new(|| compile(r"^[0-9]+$"));
/// What an ISO 4217 code looks like, known or not.
static CURRENCY_CODE_RE: LazyLock<Option<Regex>> = LazyLock::new(|| compile(r"^[A-Z]{3}$"));

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
///   is `/name@OtherBot`). Such text gets no reply.
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
struct Words<'a> {
    rest: &'a str,
}

impl<'a> Words<'a> {
    fn new(text: &'a str) -> Words<'a> {
        Words { rest: text }
    }

    fn peek(&self) -> Option<&'a str> {
        self.clone().next()
    }

    /// The next word unless it is the memo keyword `for`.
    fn peek_argument(&self) -> Option<&'a str> {
        self.peek().filter(|word| !is_memo_keyword(word))
    }

    /// Everything not yet consumed, as typed.
    fn take_rest(&mut self) -> &'a str {
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

fn is_memo_keyword(word: &str) -> bool {
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
        CommandName::Pay => parse_pay(words, ctx)?,
        CommandName::Confirm => {
            let word = words.next().ok_or(UsageProblem::MissingCode)?;
            Command::Confirm {
                code: OtpCode::parse(word).map_err(|_| UsageProblem::InvalidCode)?,
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
        CommandName::History => Command::History {
            limit: words.next().map(parse_history_limit).transpose()?,
        },
        CommandName::Link => match words.next() {
            None => Command::Link { code: None },
            Some(word) if word.eq_ignore_ascii_case("confirm") => Command::LinkConfirm,
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
    })
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
        Some(_) if matches!(command, CommandName::Confirm | CommandName::Link) => {
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
    let amount = match parse_amount(words, ctx.default_currency) {
        Ok(amount) => amount,
        // `/pay bob 20`: a handle without `@`, not an amount.
        Err(_) if payee.is_none() && is_bare_handle(first) => {
            return Err(UsageProblem::BareHandle(echo(first)));
        }
        Err(problem) => return Err(problem),
    };
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

fn parse_share(text: &str, target: &Target, total: Amount) -> Result<Amount, UsageProblem> {
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
fn parse_amount(words: &mut Words<'_>, default: Currency) -> Result<Amount, UsageProblem> {
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

fn has_non_ascii_digit(text: &str) -> bool {
    text.chars().any(|c| c.is_numeric() && !c.is_ascii_digit())
}

/// After the amount: nothing, or `for MEMO`.
fn parse_memo_tail(words: &mut Words<'_>, reply_form: bool) -> Result<Option<Memo>, UsageProblem> {
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

fn looks_like_target(word: &str) -> bool {
    word.starts_with('@') || word.starts_with('<')
}

/// `bob`: would be a valid handle with `@` in front, and is not a currency.
fn is_bare_handle(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_alphabetic)
        && !is_currency_word(word)
        && Handle::parse(word).is_ok()
}

fn parse_target(word: &str) -> Result<Target, UsageProblem> {
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

fn parse_ref(word: &str) -> Result<ShortRef, UsageProblem> {
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
fn echo(text: &str) -> String {
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

// ---------------------------------------------------------------------------
// Commands.

/// Every command paybot understands. Built only by [`parse`] in practice;
/// every field is already valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/start [PAYLOAD]`; the payload comes from a deep link.
    Start { payload: Option<StartPayload> },
    /// `/help [COMMAND]`.
    Help { topic: Option<CommandName> },
    /// `/balance`.
    Balance,
    /// `/pay TARGET AMOUNT ...`, or `/pay AMOUNT ...` as a reply to the payee
    /// (`payee: None`: the core takes the author of the replied-to message).
    Pay {
        payee: Option<Target>,
        amount: Amount,
        memo: Option<Memo>,
    },
    /// `/confirm CODE`.
    Confirm { code: OtpCode },
    /// `/cancel [REF]`; without a reference, the sender's pending payment.
    Cancel { payment: Option<ShortRef> },
    /// `/request TARGET AMOUNT ...`: ask `payer` to pay the sender.
    Request {
        payer: Target,
        amount: Amount,
        memo: Option<Memo>,
    },
    /// `/approve REF`: pay a request.
    Approve { request: ShortRef },
    /// `/decline REF`: turn a request down.
    Decline { request: ShortRef },
    /// `/split TOTAL [CURRENCY] TARGET[:AMOUNT]... [for MEMO]`.
    ///
    /// Parsed guarantees: 1 to [`SPLIT_MENTIONS_MAX`] shares, no target
    /// twice, every exact share in the total's currency, exact shares adding
    /// up to at most the total, and to less than the total when some share
    /// is not exact.
    Split {
        total: Amount,
        shares: Vec<SplitShare>,
        memo: Option<Memo>,
    },
    /// `/split status [REF]`.
    SplitStatus { split: Option<ShortRef> },
    /// `/history [N]`, N in `1..=HISTORY_ENTRIES_MAX`.
    History { limit: Option<u8> },
    /// `/link [CODE]`: without a code, make one for this wallet; with one,
    /// ask to confirm joining the wallet it belongs to.
    Link { code: Option<LinkCode> },
    /// `/link confirm`: join the wallet of the code sent before.
    LinkConfirm,
    /// `/link cancel`: drop the link waiting for confirmation.
    LinkCancel,
    /// `/unlink [confirm]`: leave a shared wallet for a new, empty one;
    /// without `confirm`, only say what that would do.
    Unlink { confirm: bool },
    /// `/card add NUMBER MM/YY`. The expiry's shape is checked; whether it
    /// is in the future is the core's check (it has the clock).
    CardAdd { card: CardNumber, expiry: Expiry },
    /// `/card remove N`, N in `1..=CARDS_PER_USER_MAX` as `/cards` numbers
    /// them.
    CardRemove { index: u8 },
    /// `/cards` or `/card list`.
    Cards,
    /// `/topup AMOUNT [card N]`: card → wallet.
    TopUp { amount: Amount, card: Option<u8> },
    /// `/cashout AMOUNT [card N]`: wallet → card.
    CashOut { amount: Amount, card: Option<u8> },
}

impl Command {
    /// The command as named in menus and usage lines.
    pub fn name(&self) -> CommandName {
        match self {
            Command::Start { .. } => CommandName::Start,
            Command::Help { .. } => CommandName::Help,
            Command::Balance => CommandName::Balance,
            Command::Pay { .. } => CommandName::Pay,
            Command::Confirm { .. } => CommandName::Confirm,
            Command::Cancel { .. } => CommandName::Cancel,
            Command::Request { .. } => CommandName::Request,
            Command::Approve { .. } => CommandName::Approve,
            Command::Decline { .. } => CommandName::Decline,
            Command::Split { .. } | Command::SplitStatus { .. } => CommandName::Split,
            Command::History { .. } => CommandName::History,
            Command::Link { .. } | Command::LinkConfirm | Command::LinkCancel => CommandName::Link,
            Command::Unlink { .. } => CommandName::Unlink,
            Command::CardAdd { .. } | Command::CardRemove { .. } => CommandName::Card,
            Command::Cards => CommandName::Cards,
            Command::TopUp { .. } => CommandName::TopUp,
            Command::CashOut { .. } => CommandName::CashOut,
        }
    }
}

/// One person in a split, with an exact share or `None` for "an equal part
/// of the rest".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitShare {
    pub target: Target,
    pub amount: Option<Amount>,
}

/// A person named in a command.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// `@bob`, normalised; the core looks the handle up.
    Handle(Handle),
    /// `<@123>` or `<@!123>`: a mention by platform id (Discord; and users
    /// without a handle, whose mentions adapters rewrite to this form).
    Id(PlatformUserId),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Handle(handle) => write!(f, "{handle}"),
            Target::Id(id) => write!(f, "<@{id}>"),
        }
    }
}

/// The names of the commands, for help, menus and usage errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CommandName {
    Start,
    Help,
    Balance,
    Pay,
    Confirm,
    Cancel,
    Request,
    Approve,
    Decline,
    Split,
    History,
    Link,
    Unlink,
    Card,
    Cards,
    TopUp,
    CashOut,
}

impl CommandName {
    /// Every command, in menu order.
    pub const ALL: [CommandName; 17] = [
        CommandName::Pay,
        CommandName::Confirm,
        CommandName::Cancel,
        CommandName::Request,
        CommandName::Approve,
        CommandName::Decline,
        CommandName::Split,
        CommandName::Balance,
        CommandName::History,
        CommandName::TopUp,
        CommandName::CashOut,
        CommandName::Cards,
        CommandName::Card,
        CommandName::Link,
        CommandName::Unlink,
        CommandName::Help,
        CommandName::Start,
    ];

    /// The word after `/`, lower case: `pay`.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandName::Start => "start",
            CommandName::Help => "help",
            CommandName::Balance => "balance",
            CommandName::Pay => "pay",
            CommandName::Confirm => "confirm",
            CommandName::Cancel => "cancel",
            CommandName::Request => "request",
            CommandName::Approve => "approve",
            CommandName::Decline => "decline",
            CommandName::Split => "split",
            CommandName::History => "history",
            CommandName::Link => "link",
            CommandName::Unlink => "unlink",
            CommandName::Card => "card",
            CommandName::Cards => "cards",
            CommandName::TopUp => "topup",
            CommandName::CashOut => "cashout",
        }
    }

    /// A command by its word or alias, any case, with or without the `/`:
    /// `pay`, `/PAY`, `send`.
    pub fn from_word(word: &str) -> Option<CommandName> {
        let word = word.strip_prefix('/').unwrap_or(word);
        if word.eq_ignore_ascii_case("send") {
            return Some(CommandName::Pay);
        }
        CommandName::ALL
            .into_iter()
            .find(|name| name.as_str().eq_ignore_ascii_case(word))
    }

    /// The usage line.
    pub fn usage(self) -> &'static str {
        match self {
            CommandName::Start => "/start",
            CommandName::Help => "/help [COMMAND]",
            CommandName::Balance => "/balance",
            CommandName::Pay => "/pay @handle AMOUNT [CURRENCY] [for MEMO]",
            CommandName::Confirm => "/confirm CODE",
            CommandName::Cancel => "/cancel [REF]",
            CommandName::Request => "/request @handle AMOUNT [CURRENCY] [for MEMO]",
            CommandName::Approve => "/approve REF",
            CommandName::Decline => "/decline REF",
            CommandName::Split => {
                "/split TOTAL [CURRENCY] @handle[:AMOUNT]... [for MEMO] or /split status [REF]"
            }
            CommandName::History => "/history [N]",
            CommandName::Link => "/link [CODE | confirm | cancel]",
            CommandName::Unlink => "/unlink [confirm]",
            CommandName::Card => "/card add NUMBER MM/YY or /card remove N",
            CommandName::Cards => "/cards",
            CommandName::TopUp => "/topup AMOUNT [card N]",
            CommandName::CashOut => "/cashout AMOUNT [card N]",
        }
    }

    /// One real example; it parses.
    pub fn example(self) -> &'static str {
        match self {
            CommandName::Start => "/start",
            CommandName::Help => "/help pay",
            CommandName::Balance => "/balance",
            CommandName::Pay => "/pay @bob 20 for pizza",
            CommandName::Confirm => "/confirm 493817",
            CommandName::Cancel => "/cancel P7K2QX",
            CommandName::Request => "/request @alice 15 for tickets",
            CommandName::Approve => "/approve R3D8KM",
            CommandName::Decline => "/decline R3D8KM",
            CommandName::Split => "/split 60 @bob @carol:25 for dinner",
            CommandName::History => "/history 10",
            CommandName::Link => "/link HX4N9TQW",
            CommandName::Unlink => "/unlink",
            CommandName::Card => "/card remove 2",
            CommandName::Cards => "/cards",
            CommandName::TopUp => "/topup 20",
            CommandName::CashOut => "/cashout 15 card 2",
        }
    }

    /// A one-line description for command menus, at most 60 characters.
    pub fn summary(self) -> &'static str {
        match self {
            CommandName::Start => "What paybot does and how to begin",
            CommandName::Help => "How to use a command",
            CommandName::Balance => "Your balance, sent to you privately",
            CommandName::Pay => "Pay someone: name an @handle or reply to them",
            CommandName::Confirm => "Confirm a payment with the code sent to you",
            CommandName::Cancel => "Cancel a payment that is not confirmed yet",
            CommandName::Request => "Ask someone to pay you",
            CommandName::Approve => "Pay a request someone sent you",
            CommandName::Decline => "Turn down a request someone sent you",
            CommandName::Split => "Split a bill between several people",
            CommandName::History => "Your recent payments, sent to you privately",
            CommandName::Link => "Use one wallet from several chat accounts",
            CommandName::Unlink => "Stop sharing a wallet: this account gets its own",
            CommandName::Card => "Link or remove a card (in a private chat only)",
            CommandName::Cards => "Your linked cards, privately",
            CommandName::TopUp => "Add money to your wallet from a linked card",
            CommandName::CashOut => "Send money from your wallet to a linked card",
        }
    }
}

impl fmt::Display for CommandName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}", self.as_str())
    }
}

// ---------------------------------------------------------------------------
// Argument types.

/// A 6-digit one-time confirmation code. A secret: its `Debug` hides the
/// digits and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpCode(String);

/// Why text is not an [`OtpCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a code is exactly {OTP_DIGITS} digits 0-9")]
pub struct InvalidOtpCode;

impl OtpCode {
    /// Exactly [`OTP_DIGITS`] ASCII digits, nothing else.
    pub fn parse(text: &str) -> Result<OtpCode, InvalidOtpCode> {
        if is_match(&OTP_CODE_RE, text) {
            Ok(OtpCode(text.to_owned()))
        } else {
            Err(InvalidOtpCode)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode(******)")
    }
}

/// An account-link code: [`LINK_CODE_CHARS`] characters of
/// [`LINK_CODE_ALPHABET`], typed in any case, held in upper case. A secret:
/// its `Debug` hides it and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkCode(String);

/// Why text is not a [`LinkCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a link code is {LINK_CODE_CHARS} letters and digits")]
pub struct InvalidLinkCode;

impl LinkCode {
    pub fn parse(text: &str) -> Result<LinkCode, InvalidLinkCode> {
        if text.len() != LINK_CODE_CHARS {
            return Err(InvalidLinkCode);
        }
        let upper = text.to_ascii_uppercase();
        if is_match(&LINK_CODE_RE, &upper) {
            Ok(LinkCode(upper))
        } else {
            Err(InvalidLinkCode)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LinkCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkCode(********)")
    }
}

/// A payment, request or split reference as shown to users (`P7K2QX`):
/// [`SHORT_REF_CHARS_MIN`] to [`SHORT_REF_CHARS_MAX`] ASCII letters and
/// digits, held in upper case.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShortRef(String);

/// Why text is not a [`ShortRef`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a reference is {SHORT_REF_CHARS_MIN} to {SHORT_REF_CHARS_MAX} letters and digits")]
pub struct InvalidShortRef;

impl ShortRef {
    pub fn parse(text: &str) -> Result<ShortRef, InvalidShortRef> {
        if is_match(&SHORT_REF_RE, text) {
            Ok(ShortRef(text.to_ascii_uppercase()))
        } else {
            Err(InvalidShortRef)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ShortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShortRef({})", self.0)
    }
}

/// The payload of `/start PAYLOAD` from a deep link: 1 to
/// [`START_PAYLOAD_BYTES_MAX`] of `A-Z a-z 0-9 _ -`. It may carry a token, so
/// its `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct StartPayload(String);

/// Why text is not a [`StartPayload`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a start payload is 1 to {START_PAYLOAD_BYTES_MAX} of A-Z, a-z, 0-9, `_` and `-`")]
pub struct InvalidStartPayload;

impl StartPayload {
    pub fn parse(text: &str) -> Result<StartPayload, InvalidStartPayload> {
        if is_match(&START_PAYLOAD_RE, text) {
            Ok(StartPayload(text.to_owned()))
        } else {
            Err(InvalidStartPayload)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for StartPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StartPayload({} bytes)", self.0.len())
    }
}

/// A payment's note (`pizza` in `/pay @bob 20 for pizza`): 1 to
/// [`MEMO_CHARS_MAX`] characters on one line, cleaned by
/// [`text::clean_free_text`] (nothing invisible, no double quote mark that
/// could close the bot's “ ” around it), and never holding what looks like
/// a card number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Memo(String);

/// Why text is not a [`Memo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MemoError {
    #[error("The memo after `for` is empty")]
    Empty,
    #[error("The memo is {chars} characters long; the limit is {MEMO_CHARS_MAX}")]
    TooLong { chars: usize },
    /// Says nothing of the digits.
    #[error("The memo looks like it holds a card number, which I never keep or pass on")]
    CardNumber,
}

/// What a stored memo that holds a card number is shown as (memos stored
/// before they were refused).
pub const MEMO_WITHHELD_TEXT: &str = "memo withheld: it looked like a card number";

impl Memo {
    /// Cleans up what was typed after `for` ([`text::clean_free_text`]:
    /// whitespace runs become one space, invisible characters go, double
    /// quote marks become `'`, the ends are trimmed). Then it must be 1 to
    /// [`MEMO_CHARS_MAX`] characters (longer is refused, never cut) and hold
    /// nothing that looks like a card number.
    pub fn parse(text: &str) -> Result<Memo, MemoError> {
        // Bounded before any work: a command is at most
        // `COMMAND_TEXT_BYTES_MAX` bytes, a stored memo far less.
        let clean = text::clean_free_text(text);
        match clean.chars().count() {
            0 => Err(MemoError::Empty),
            chars if chars > MEMO_CHARS_MAX => Err(MemoError::TooLong { chars }),
            _ if card::contains_card_number(&clean) => Err(MemoError::CardNumber),
            _ => Ok(Memo(clean)),
        }
    }

    /// Reads a memo back from storage. One stored before card numbers were
    /// refused in memos comes back as [`MEMO_WITHHELD_TEXT`], so what holds
    /// it can still be shown; `None` when it is no memo at all.
    pub fn from_stored(text: &str) -> Option<Memo> {
        match Memo::parse(text) {
            Ok(memo) => Some(memo),
            Err(MemoError::CardNumber) => Some(Memo(MEMO_WITHHELD_TEXT.to_owned())),
            Err(MemoError::Empty | MemoError::TooLong { .. }) => None,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Memo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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
            match decimals {
                Some(1) => write!(
                    f,
                    "`{}` has 1 decimal; {currency} has {allowed}",
                    echo(text)
                ),
                Some(n) => write!(
                    f,
                    "`{}` has {n} decimals; {currency} has {allowed}",
                    echo(text)
                ),
                None => write!(
                    f,
                    "`{}` has too many decimals; {currency} has {allowed}",
                    echo(text)
                ),
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

#[cfg(test)]
mod tests;
