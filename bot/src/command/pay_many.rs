//! The grammar of a payment to several people at once:
//!
//! ```text
//! /pay TARGET TARGET... AMOUNT [CURRENCY] each [for MEMO]
//! /pay TARGET AMOUNT [CURRENCY] TARGET AMOUNT... [for MEMO]
//! ```
//!
//! `parse_pay` hands over here as soon as it sees a second target; `/pay
//! @bob 5` never comes here. Every amount is in one currency: the first
//! one's (a later amount without a currency takes it).

use super::grammar::{Words, echo, looks_like_target, parse_amount, parse_memo_tail, parse_target};
use super::usage::UsageProblem;
use super::{Command, ParseContext, PayLeg, Target};

/// Most people one `/pay` pays at once. `/pay` writes two records per
/// person (the payment and its place in the group) in one ledger unit,
/// which holds at most `ledger::UNIT_RECORDS_MAX` (16) record writes.
pub const PAY_PAYEES_MAX: usize = 8;

// Every leg's records fit in the one unit `/pay` commits.
const _: () = assert!(2 * PAY_PAYEES_MAX <= ledger::UNIT_RECORDS_MAX);

/// `/pay @bob @carol 5 each`: `first` is parsed, the next word is a target.
pub(super) fn parse_each(
    first: Target,
    words: &mut Words<'_>,
    ctx: &ParseContext<'_>,
) -> Result<Command, UsageProblem> {
    let mut payees = vec![first];
    while let Some(word) = words.peek().filter(|word| looks_like_target(word)) {
        words.next();
        let target = parse_target(word)?;
        push_payee(&mut payees, target)?;
    }
    let amount = parse_amount(words, ctx.default_currency)?;
    match words.next() {
        Some(word) if word.eq_ignore_ascii_case("each") => {}
        _ => return Err(UsageProblem::MissingEach),
    }
    let memo = parse_memo_tail(words, false)?;
    let legs = payees
        .into_iter()
        .map(|payee| PayLeg { payee, amount })
        .collect();
    Ok(Command::PayMany { legs, memo })
}

/// `/pay @bob 5 @carol 7`: the first leg is parsed, the next word is a
/// target.
pub(super) fn parse_pairs(first: PayLeg, words: &mut Words<'_>) -> Result<Command, UsageProblem> {
    let currency = first.amount.currency();
    let mut payees = vec![first.payee.clone()];
    let mut legs = vec![first];
    while let Some(word) = words.peek().filter(|word| looks_like_target(word)) {
        words.next();
        let payee = parse_target(word)?;
        push_payee(&mut payees, payee.clone())?;
        let amount = parse_amount(words, currency)?;
        if amount.currency() != currency {
            return Err(UsageProblem::PayCurrencies {
                first: currency,
                other: amount.currency(),
            });
        }
        legs.push(PayLeg { payee, amount });
    }
    let memo = parse_memo_tail(words, false)?;
    Ok(Command::PayMany { legs, memo })
}

fn push_payee(payees: &mut Vec<Target>, target: Target) -> Result<(), UsageProblem> {
    if payees.contains(&target) {
        return Err(UsageProblem::DuplicateParticipant(echo(
            &target.to_string(),
        )));
    }
    if payees.len() >= PAY_PAYEES_MAX {
        return Err(UsageProblem::TooManyPayees);
    }
    payees.push(target);
    Ok(())
}
