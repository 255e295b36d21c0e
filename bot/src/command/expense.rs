//! The group tab's grammar: `/expense ...` and `/tab ...`.
//!
//! ```text
//! /expense TOTAL [CURRENCY] [SHARES] [paid by TARGET[:AMOUNT]...] [for MEMO]
//! /expense TOTAL [CURRENCY] [[split] TARGET...] [paid by ...] for MEMO: ITEMS
//! /expense TOTAL [CURRENCY] [[split] TARGET...] [paid by ...] items: ITEMS
//!   SHARES = (nothing: the whole group) | [split] TARGET... | TARGET[:AMOUNT]...
//!          | TARGET:N... shares | TARGET:P%...
//!   ITEMS  = ITEM[, ITEM]...[, rest [shared | split] [TARGET...]]
//!   ITEM   = TARGET... AMOUNT [WHAT]
//! /expense TOTAL [CURRENCY] [SHARES] [paid by ...] every ... [for MEMO]
//! /expense recurring | stop REF
//! /expense undo REF
//! /expense edit REF TOTAL [CURRENCY] [for MEMO]
//! /tab [TARGET | history | export]
//! /settle [TARGET [AMOUNT [CURRENCY]] [cash]]
//! /settle confirm | reject | cancel REF
//! ```

use ledger::Amount;

use super::grammar::{
    CURRENCY_CODE_RE, Words, echo, has_non_ascii_digit, is_bare_handle, is_match, is_memo_keyword,
    looks_like_target, parse_amount, parse_ref, parse_share, parse_target,
};
use super::usage::UsageProblem;
use super::{
    Command, ExpenseItem, ExpensePayer, ExpenseShares, ItemRest, Memo, ParseContext, TabView,
    Target,
};
use crate::recurrence::Recurrence;
use crate::tab::{
    EXPENSE_ITEMS_MAX, EXPENSE_PARTICIPANTS_MAX, EXPENSE_PAYERS_MAX, PERCENT_SCALE, WEIGHT_MAX,
};

/// Most characters of a percent as typed (`33.33%`).
const PERCENT_CHARS_MAX: usize = 7;

/// `/expense undo REF`, or an expense.
pub(super) fn parse_expense(
    words: &mut Words<'_>,
    ctx: &ParseContext<'_>,
) -> Result<Command, UsageProblem> {
    if words
        .peek()
        .is_some_and(|word| word.eq_ignore_ascii_case("undo"))
    {
        words.next();
        let expense = parse_ref(words.next().ok_or(UsageProblem::MissingRef)?)?;
        return Ok(Command::ExpenseUndo { expense });
    }
    if words
        .peek()
        .is_some_and(|word| word.eq_ignore_ascii_case("recurring"))
    {
        words.next();
        return Ok(Command::ExpenseRecurring);
    }
    if words
        .peek()
        .is_some_and(|word| word.eq_ignore_ascii_case("stop"))
    {
        words.next();
        let recurring = parse_ref(words.next().ok_or(UsageProblem::MissingRef)?)?;
        return Ok(Command::ExpenseStop { recurring });
    }
    if words
        .peek()
        .is_some_and(|word| word.eq_ignore_ascii_case("edit"))
    {
        words.next();
        let expense = parse_ref(words.next().ok_or(UsageProblem::MissingRef)?)?;
        let total = parse_amount(words, ctx.default_currency)?;
        let memo = match words.next() {
            None => None,
            Some(word) if is_memo_keyword(word) => {
                Some(Memo::parse(words.take_rest()).map_err(UsageProblem::Memo)?)
            }
            Some(word) => return Err(UsageProblem::Leftover(echo(word))),
        };
        return Ok(Command::ExpenseEdit {
            expense,
            total,
            memo,
        });
    }
    if words.peek().is_some_and(looks_like_target) {
        return Err(UsageProblem::TotalFirst);
    }
    let total = parse_amount(words, ctx.default_currency)?;
    let mut named: Vec<(Target, Option<&str>)> = Vec::new();
    let mut payers: Vec<ExpensePayer> = Vec::new();
    let (mut split_word, mut shares_word, mut paying) = (false, false, false);
    let mut memo = None;
    let mut itemised = None;
    let mut recurrence = None;
    while let Some(word) = words.next() {
        if is_memo_keyword(word) {
            let rest = words.take_rest();
            match items_after_colon(rest) {
                Some((before, items)) => {
                    if !before.trim().is_empty() {
                        memo = Some(Memo::parse(before).map_err(UsageProblem::Memo)?);
                    }
                    itemised = Some(parse_items(items, total)?);
                }
                None => memo = Some(Memo::parse(rest).map_err(UsageProblem::Memo)?),
            }
            break;
        }
        if Recurrence::starts_with(word) {
            if recurrence.is_some() {
                return Err(UsageProblem::Unexpected(echo(word)));
            }
            // The schedule runs to `for`, a person, `split`, `paid` or
            // `items:`: `/expense 1200 every month split @a @b for rent`.
            let mut phrase: Vec<&str> = vec![word];
            while let Some(next) = words.peek() {
                let ends = is_memo_keyword(next)
                    || looks_like_target(next)
                    || ["split", "paid", "items:"]
                        .iter()
                        .any(|w| next.eq_ignore_ascii_case(w));
                if ends {
                    break;
                }
                words.next();
                phrase.push(next);
            }
            recurrence =
                Some(Recurrence::parse(&phrase.join(" ")).map_err(UsageProblem::Schedule)?);
            continue;
        }
        if word.eq_ignore_ascii_case("items:") {
            itemised = Some(parse_items(words.take_rest(), total)?);
            break;
        }
        if word.eq_ignore_ascii_case("split") && named.is_empty() && !paying && !split_word {
            split_word = true;
            continue;
        }
        if word.eq_ignore_ascii_case("paid") && !paying {
            if !words.next().is_some_and(|w| w.eq_ignore_ascii_case("by")) {
                return Err(UsageProblem::PaidWithoutBy);
            }
            paying = true;
            continue;
        }
        if word.eq_ignore_ascii_case("shares") && !named.is_empty() && !paying && !shares_word {
            shares_word = true;
            continue;
        }
        if named.is_empty() && payers.is_empty() && is_match(&CURRENCY_CODE_RE, word) {
            return Err(UsageProblem::UnknownCurrency(echo(word)));
        }
        let (target_text, value) = match word.split_once(':') {
            Some((target, value)) => (target, Some(value)),
            None => (word, None),
        };
        if !looks_like_target(target_text) && is_bare_handle(target_text) {
            return Err(UsageProblem::BareWord(echo(target_text)));
        }
        let target = parse_target(target_text)?;
        if value == Some("") {
            return Err(UsageProblem::ShareMissingAmount(echo(&target.to_string())));
        }
        if paying {
            if payers.iter().any(|p| p.target == target) {
                return Err(UsageProblem::DuplicateParticipant(echo(
                    &target.to_string(),
                )));
            }
            if payers.len() >= EXPENSE_PAYERS_MAX {
                return Err(UsageProblem::TooManyPayers);
            }
            let amount = value
                .map(|text| parse_share(text, &target, total))
                .transpose()?;
            payers.push(ExpensePayer { target, amount });
        } else {
            if shares_word {
                // `@a:2 @b:1 shares @c`: `shares` ends the list.
                return Err(UsageProblem::Unexpected(echo(word)));
            }
            if named.iter().any(|(t, _)| *t == target) {
                return Err(UsageProblem::DuplicateParticipant(echo(
                    &target.to_string(),
                )));
            }
            if named.len() >= EXPENSE_PARTICIPANTS_MAX {
                return Err(UsageProblem::TooManySharing);
            }
            named.push((target, value));
        }
    }
    if paying && payers.is_empty() {
        return Err(UsageProblem::MissingTarget);
    }
    let shares = match itemised {
        Some((items, rest)) => itemised_shares(items, rest, named, split_word, shares_word)?,
        None => shares_of(total, named, split_word, shares_word)?,
    };
    Ok(Command::Expense {
        total,
        shares,
        payers,
        memo,
        recurrence,
    })
}

/// Which of the share forms the named people make; one form per expense.
fn shares_of(
    total: Amount,
    named: Vec<(Target, Option<&str>)>,
    split_word: bool,
    shares_word: bool,
) -> Result<ExpenseShares, UsageProblem> {
    if named.is_empty() {
        return if split_word {
            Err(UsageProblem::NoParticipants)
        } else {
            Ok(ExpenseShares::Group)
        };
    }
    let valued = named.iter().filter(|(_, v)| v.is_some()).count();
    if valued == 0 {
        return if shares_word {
            Err(UsageProblem::MixedShareForms)
        } else {
            Ok(ExpenseShares::Among(
                named.into_iter().map(|(target, _)| target).collect(),
            ))
        };
    }
    if split_word {
        return Err(UsageProblem::MixedShareForms);
    }
    let percents = named
        .iter()
        .filter(|(_, v)| v.is_some_and(|v| v.ends_with('%')))
        .count();
    if shares_word || percents > 0 {
        if valued != named.len() || (percents > 0 && (shares_word || percents != named.len())) {
            return Err(UsageProblem::MixedShareForms);
        }
        let mut parts = Vec::with_capacity(named.len());
        for (target, value) in named {
            let text = value.unwrap_or_default();
            let part = if shares_word {
                parse_weight(text)?
            } else {
                parse_percent(text)?
            };
            parts.push((target, part));
        }
        return Ok(if shares_word {
            ExpenseShares::Weights(parts)
        } else {
            ExpenseShares::Percents(parts)
        });
    }
    let mut exact = Vec::with_capacity(named.len());
    for (target, value) in named {
        let amount = value
            .map(|text| parse_share(text, &target, total))
            .transpose()?;
        exact.push((target, amount));
    }
    Ok(ExpenseShares::Exact(exact))
}

/// `dinner: @bob 18 pizza, rest` as `dinner` and the items, when what
/// follows the first colon starts like an item (a person or `rest`);
/// otherwise the colon is the memo's own.
fn items_after_colon(text: &str) -> Option<(&str, &str)> {
    let (before, after) = text.split_once(':')?;
    let first = Words::new(after).next()?;
    let first = first.split(',').next().unwrap_or_default();
    (looks_like_target(first) || first.eq_ignore_ascii_case("rest")).then_some((before, after))
}

/// `@bob 18 pizza, @carol @dave 12 wine, rest @a @b`: the items, and who
/// shares the rest if `rest` says.
fn parse_items(
    text: &str,
    total: Amount,
) -> Result<(Vec<ExpenseItem>, Option<ItemRest>), UsageProblem> {
    let mut items: Vec<ExpenseItem> = Vec::new();
    let mut rest = None;
    for segment in item_segments(text) {
        let mut words = Words::new(segment);
        let Some(first) = words.peek() else {
            // `a, , b` or a trailing comma: nothing there.
            continue;
        };
        if first.eq_ignore_ascii_case("rest") {
            words.next();
            if rest.is_some() {
                return Err(UsageProblem::RestTwice);
            }
            if words.peek().is_some_and(|w| {
                w.eq_ignore_ascii_case("shared") || w.eq_ignore_ascii_case("split")
            }) {
                words.next();
            }
            let targets = item_targets(&mut words)?;
            if let Some(word) = words.next() {
                return Err(UsageProblem::Unexpected(echo(word)));
            }
            rest = Some(if targets.is_empty() {
                ItemRest::Group
            } else {
                ItemRest::Among(targets)
            });
            continue;
        }
        let targets = item_targets(&mut words)?;
        let Some(named) = targets.first() else {
            return Err(UsageProblem::ItemWithoutPerson(echo(first)));
        };
        let is_number = |word: &str| word.chars().any(char::is_numeric);
        let amount = match words.next() {
            Some(word) if is_number(word) => parse_share(word, named, total)?,
            // `@bob carol 12`: carol without her `@`.
            Some(word) if is_bare_handle(word) && words.peek().is_some_and(is_number) => {
                return Err(UsageProblem::BareHandle(echo(word)));
            }
            _ => return Err(UsageProblem::ItemWithoutAmount(echo(&named.to_string()))),
        };
        let what = words.take_rest();
        let memo = if what.trim().is_empty() {
            None
        } else {
            Some(Memo::parse(what).map_err(UsageProblem::Memo)?)
        };
        if items.len() >= EXPENSE_ITEMS_MAX {
            return Err(UsageProblem::TooManyItems);
        }
        items.push(ExpenseItem {
            targets,
            amount,
            memo,
        });
    }
    if items.is_empty() {
        return Err(UsageProblem::NoItems);
    }
    Ok((items, rest))
}

/// The items' texts: split at each comma, except one between two digits
/// (`@bob 1,200 rent`).
fn item_segments(text: &str) -> Vec<&str> {
    let mut segments = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (at, byte) in bytes.iter().enumerate() {
        let digit = |i: Option<usize>| i.and_then(|i| bytes.get(i)).is_some_and(u8::is_ascii_digit);
        if *byte == b',' && !(digit(at.checked_sub(1)) && digit(at.checked_add(1))) {
            segments.push(text.get(start..at).unwrap_or_default());
            start = at + 1;
        }
    }
    segments.push(text.get(start..).unwrap_or_default());
    segments
}

/// The people at the start of an item (or after `rest`), each once.
fn item_targets(words: &mut Words<'_>) -> Result<Vec<Target>, UsageProblem> {
    let mut targets: Vec<Target> = Vec::new();
    while let Some(word) = words.peek() {
        if !looks_like_target(word) {
            break;
        }
        words.next();
        let target = parse_target(word)?;
        if targets.contains(&target) {
            return Err(UsageProblem::DuplicateParticipant(echo(
                &target.to_string(),
            )));
        }
        if targets.len() >= EXPENSE_PARTICIPANTS_MAX {
            return Err(UsageProblem::TooManySharing);
        }
        targets.push(target);
    }
    Ok(targets)
}

/// An itemised expense's shares: the rest shared as `rest` says, or by the
/// people named before `for` (`split @a @b`), or by the group.
fn itemised_shares(
    items: Vec<ExpenseItem>,
    rest: Option<ItemRest>,
    named: Vec<(Target, Option<&str>)>,
    split_word: bool,
    shares_word: bool,
) -> Result<ExpenseShares, UsageProblem> {
    if shares_word || named.iter().any(|(_, value)| value.is_some()) {
        return Err(UsageProblem::MixedShareForms);
    }
    let rest = match (rest, named.is_empty()) {
        (Some(_), false) => return Err(UsageProblem::RestTwice),
        (Some(rest), true) => rest,
        (None, true) if split_word => return Err(UsageProblem::NoParticipants),
        (None, true) => ItemRest::Group,
        (None, false) => ItemRest::Among(named.into_iter().map(|(target, _)| target).collect()),
    };
    Ok(ExpenseShares::Itemised { items, rest })
}

/// `2` in `@a:2 @b:1 shares`: 1 to [`WEIGHT_MAX`].
fn parse_weight(text: &str) -> Result<u32, UsageProblem> {
    if has_non_ascii_digit(text) {
        return Err(UsageProblem::NonAsciiDigits);
    }
    text.parse::<u32>()
        .ok()
        .filter(|w| text.bytes().all(|b| b.is_ascii_digit()) && (1..=WEIGHT_MAX).contains(w))
        .ok_or_else(|| UsageProblem::InvalidWeight(echo(text)))
}

/// `50%`, `12.5%`, `33.33%` in hundredths of a percent: more than 0, at
/// most 100%, at most two decimals.
fn parse_percent(text: &str) -> Result<u32, UsageProblem> {
    let invalid = || UsageProblem::InvalidPercent(echo(text));
    if has_non_ascii_digit(text) {
        return Err(UsageProblem::NonAsciiDigits);
    }
    if text.chars().count() > PERCENT_CHARS_MAX {
        return Err(invalid());
    }
    let number = text.strip_suffix('%').ok_or_else(invalid)?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 2 {
        return Err(invalid());
    }
    let whole: u32 = whole.parse().map_err(|_| invalid())?;
    let fraction: u32 = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<u32>().map_err(|_| invalid())? * 10,
        _ => fraction.parse().map_err(|_| invalid())?,
    };
    let hundredths = whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(invalid)?;
    if hundredths == 0 || hundredths > PERCENT_SCALE {
        return Err(invalid());
    }
    Ok(hundredths)
}

/// `/tab`, `/tab @bob`, `/tab history`.
pub(super) fn parse_tab(words: &mut Words<'_>) -> Result<Command, UsageProblem> {
    let view = match words.next() {
        None => TabView::Simplified,
        Some(word) if word.eq_ignore_ascii_case("history") => TabView::History,
        Some(word) if word.eq_ignore_ascii_case("export") => TabView::Export,
        Some(word) if looks_like_target(word) => TabView::Member(parse_target(word)?),
        Some(word) if is_bare_handle(word) => return Err(UsageProblem::BareHandle(echo(word))),
        Some(_) => return Err(UsageProblem::TabSubcommand),
    };
    Ok(Command::Tab { view })
}

/// `/settle`, `/settle @alice`, `/settle @alice 20 [cash]`, `/settle
/// confirm|reject|cancel REF`.
pub(super) fn parse_settle(
    words: &mut Words<'_>,
    ctx: &ParseContext<'_>,
) -> Result<Command, UsageProblem> {
    let Some(first) = words.peek() else {
        return Ok(Command::Settle {
            creditor: None,
            amount: None,
            cash: false,
        });
    };
    for (word, accept) in [("confirm", true), ("reject", false)] {
        if first.eq_ignore_ascii_case(word) {
            words.next();
            let settlement = parse_ref(words.next().ok_or(UsageProblem::MissingRef)?)?;
            return Ok(Command::SettleAnswer { settlement, accept });
        }
    }
    if first.eq_ignore_ascii_case("cancel") {
        words.next();
        let settlement = parse_ref(words.next().ok_or(UsageProblem::MissingRef)?)?;
        return Ok(Command::SettleCancel { settlement });
    }
    if !looks_like_target(first) {
        if is_bare_handle(first) {
            return Err(UsageProblem::BareHandle(echo(first)));
        }
        return Err(UsageProblem::MissingTarget);
    }
    words.next();
    let creditor = parse_target(first)?;
    let cash_next =
        |words: &Words<'_>| words.peek().is_some_and(|w| w.eq_ignore_ascii_case("cash"));
    if cash_next(words) {
        return Err(UsageProblem::CashWithoutAmount);
    }
    let amount = match words.peek() {
        None => None,
        Some(_) => Some(parse_amount(words, ctx.default_currency)?),
    };
    let cash = cash_next(words);
    if cash {
        words.next();
    }
    Ok(Command::Settle {
        creditor: Some(creditor),
        amount,
        cash,
    })
}
