//! The grammar of recurring payments' commands: `/autopay` and
//! `/scheduled` (the `every ...` forms of `/pay` and `/request` are read by
//! `recurrence`).

use super::ShortRef;
use super::grammar::{
    ParseContext, Words, looks_like_target, parse_amount, parse_ref, parse_target,
};
use super::usage::UsageProblem;
use super::{AutopayAction, AutopayFor, Command, StandingAction};

/// `/autopay`, `/autopay TARGET [up to] AMOUNT`, `/autopay off TARGET`.
pub(super) fn parse_autopay(
    words: &mut Words<'_>,
    ctx: &ParseContext<'_>,
) -> Result<Command, UsageProblem> {
    let Some(first) = words.next() else {
        return Ok(Command::Autopay {
            action: AutopayAction::List,
        });
    };
    if first.eq_ignore_ascii_case("off") || first.eq_ignore_ascii_case("stop") {
        let word = words.next().ok_or(UsageProblem::MissingTarget)?;
        let biller = parse_autopay_for(word)?;
        return Ok(Command::Autopay {
            action: AutopayAction::Off { biller },
        });
    }
    let biller = parse_autopay_for(first)?;
    if words.peek().is_some_and(|w| w.eq_ignore_ascii_case("up")) {
        words.next();
        match words.next() {
            Some(word) if word.eq_ignore_ascii_case("to") => {}
            _ => return Err(UsageProblem::MissingAmount),
        }
    }
    let cap = parse_amount(words, ctx.default_currency)?;
    Ok(Command::Autopay {
        action: AutopayAction::On { biller, cap },
    })
}

/// `@biller` or a recurring request's reference (`O7K2QXM`).
fn parse_autopay_for(word: &str) -> Result<AutopayFor, UsageProblem> {
    if looks_like_target(word) {
        return parse_target(word).map(AutopayFor::Biller);
    }
    match ShortRef::parse(word) {
        Ok(reference) if reference.as_str().starts_with('O') => Ok(AutopayFor::Series(reference)),
        _ => Err(UsageProblem::MissingTarget),
    }
}

/// `/scheduled`, `/scheduled pause|resume|skip|cancel REF`, `/scheduled skip
/// REF [on] DATE`.
pub(super) fn parse_scheduled(words: &mut Words<'_>) -> Result<Command, UsageProblem> {
    let Some(word) = words.next() else {
        return Ok(Command::Scheduled { action: None });
    };
    let action = match word.to_ascii_lowercase().as_str() {
        "pause" => StandingAction::Pause,
        "resume" => StandingAction::Resume,
        "skip" => StandingAction::Skip { due: None },
        "cancel" | "stop" => StandingAction::Cancel,
        _ => return Err(UsageProblem::ScheduledSubcommand),
    };
    let reference = parse_ref(words.next().ok_or(UsageProblem::MissingRef)?)?;
    // `/scheduled skip REF on 2027-01-01` (or without `on`): that run only.
    // paybot writes the `on`: a reference ending in digits right before a
    // date could read as a card number. Anything else after the reference
    // is left for `finish` to refuse.
    let mut after = words.clone();
    let on = after
        .peek()
        .is_some_and(|word| word.eq_ignore_ascii_case("on"));
    if on {
        after.next();
    }
    let action = match (
        action,
        after.peek().and_then(crate::recurrence::parse_iso_date),
    ) {
        (StandingAction::Skip { .. }, Some(due)) => {
            after.next();
            *words = after;
            StandingAction::Skip { due: Some(due) }
        }
        (action, _) => action,
    };
    Ok(Command::Scheduled {
        action: Some((action, reference)),
    })
}
