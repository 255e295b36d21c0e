//! What standing orders (`/pay ... every month`, `/scheduled`) and `/tz`
//! say.

use crate::store::standing::StandingKind;

pub(crate) fn time_zone_is(zone: &str, default: bool) -> String {
    if default {
        format!(
            "Your time zone is {zone} (the default). Set yours with /tz, e.g. /tz Europe/Paris."
        )
    } else {
        format!("Your time zone is {zone}. Change it with /tz, e.g. /tz Europe/Paris.")
    }
}

pub(crate) fn time_zone_set(zone: &str) -> String {
    format!(
        "Your time zone is now {zone}. Standing orders you make from now on run on its clock; \
         the ones you have keep the zone they were made in."
    )
}

pub(crate) fn payee_not_known(payee: &str) -> String {
    format!(
        "I can only set up a standing order to someone who uses paybot: {payee} has not started a chat with me yet."
    )
}

pub(crate) fn too_many_waiting(waiting: usize) -> String {
    format!(
        "You already have {waiting} standing orders waiting for a code. Confirm or /scheduled cancel one first."
    )
}

pub(crate) fn too_many_orders(max: usize) -> String {
    format!(
        "You have {max} standing orders, the most I keep for one person. /scheduled cancel one first."
    )
}

pub(crate) const NOT_FOR_REVIEW: &str = "I can't set up that standing order: its payments would need a review first. Pay it once with /pay instead.";

/// The code, privately, with the order it confirms.
/// `what`: `@bob $20.00 for “rent”`.
pub(crate) fn code_to_confirm(
    what: &str,
    rule: &str,
    first: &str,
    code: &str,
    code_ttl: &str,
    reference: &str,
) -> String {
    format!(
        "To pay {what} {rule} (first on {first}), send me: /confirm {code}\n\
         The code works once and expires in {code_ttl}. Never type it in a group.\n\
         Changed your mind? /scheduled cancel {reference}"
    )
}

pub(crate) fn code_to_confirm_redacted(what: &str, rule: &str, reference: &str) -> String {
    format!(
        "To pay {what} {rule}, send me: /confirm (the code I sent you)\n\
         Changed your mind? /scheduled cancel {reference}"
    )
}

pub(crate) const CANCEL_BUTTON: &str = "Cancel";
pub(crate) const SKIP_BUTTON: &str = "Skip this one";

/// The command that skips the run due on `date` (`YYYY-MM-DD`): what the
/// notice suggests and its Skip button sends. The `on` keeps a reference
/// that ends in digits apart from the date: joined by a space, the two
/// could read as a card number, and the button's command be refused.
pub(crate) fn skip_command(reference: &str, date: &str) -> String {
    format!("/scheduled skip {reference} on {date}")
}

/// Ahead of a run, privately. `what`: `@bob $20.00 for “rent”`.
pub(crate) fn coming_up(reference: &str, what: &str, when: &str, date: &str) -> String {
    let skip = skip_command(reference, date);
    format!(
        "Standing order {reference}: I'll pay {what} on {when}. \
         To skip this one: {skip}; to stop it: /scheduled cancel {reference}."
    )
}

/// What users call a standing order of `kind`: `Standing order` or
/// `Recurring request`.
pub(crate) fn title(kind: StandingKind) -> &'static str {
    match kind {
        StandingKind::Payment => "Standing order",
        StandingKind::Request => "Recurring request",
    }
}

/// What one period of an order of `kind` makes: `payment` or `request`.
fn run_word(kind: StandingKind) -> &'static str {
    match kind {
        StandingKind::Payment => "payment",
        StandingKind::Request => "request",
    }
}

/// `/scheduled skip REF DATE` for a run that is no longer the next one.
pub(crate) fn skip_not_next(kind: StandingKind, reference: &str, due: &str, next: &str) -> String {
    let (title, run) = (title(kind), run_word(kind));
    format!(
        "{title} {reference}: the {run} due {due} is no longer the next one \
         (already made or skipped), so nothing is skipped. {next}"
    )
}

pub(crate) fn skipped_by_you(
    kind: StandingKind,
    reference: &str,
    when: &str,
    next: &str,
) -> String {
    let (title, run) = (title(kind), run_word(kind));
    format!("{title} {reference}: the {run} due {when} is skipped. {next}")
}

pub(crate) fn active(
    reference: &str,
    payee: &str,
    amount: &str,
    memo: &str,
    rule: &str,
    first: &str,
) -> String {
    format!(
        "Standing order {reference} is set: {amount} to {payee}{memo}, {rule}. \
         First payment: {first}. See it with /scheduled."
    )
}

pub(crate) fn code_expired(reference: &str) -> String {
    format!("That code expired: standing order {reference} was not set up. Make it again.")
}

pub(crate) fn locked_out(reference: &str) -> String {
    format!("Too many wrong codes: standing order {reference} was not set up.")
}

pub(crate) fn leaked(reference: &str) -> String {
    format!(
        "You typed the code of standing order {reference} in a group, so it is not set up. \
         Make it again, and confirm it only here."
    )
}

pub(crate) const COULD_NOT: &str = "It could not be made.";
pub(crate) const TO_YOURSELF: &str = "Its payee's account is now part of your own wallet.";

pub(crate) fn wrong_code(reference: &str, tries: &str) -> String {
    format!("Wrong code for standing order {reference}; {tries} left.")
}

pub(crate) const NONE: &str =
    "You have no standing orders. Make one like /pay @bob 20 every month on the 1st for rent.";

pub(crate) fn list_head(count: usize) -> String {
    if count == 1 {
        "Your standing order:".to_owned()
    } else {
        format!("Your {count} standing orders:")
    }
}

pub(crate) fn list_line(
    reference: &str,
    amount: &str,
    payee: &str,
    memo: &str,
    rule: &str,
    next: &str,
) -> String {
    format!("{reference}: {amount} to {payee}{memo}, {rule}; {next}")
}

pub(crate) fn next_run(when: &str) -> String {
    format!("next {when}")
}

pub(crate) const PAUSED: &str = "paused (/scheduled resume REF)";
pub(crate) const WAITING_FOR_CODE: &str = "waiting for its code";

pub(crate) fn list_foot() -> String {
    "Pause, resume or cancel one with /scheduled pause|resume|cancel REF.".to_owned()
}

pub(crate) fn no_such_order(reference: &str) -> String {
    format!("You have no standing order {reference}.")
}

pub(crate) fn paused(kind: StandingKind, reference: &str) -> String {
    let (title, run) = (title(kind), run_word(kind));
    format!("{title} {reference} is paused: no {run}s until you /scheduled resume {reference}.")
}

pub(crate) fn resumed(kind: StandingKind, reference: &str, next: &str) -> String {
    let (title, run) = (title(kind), run_word(kind));
    format!("{title} {reference} runs again. Next {run}: {next}.")
}

pub(crate) fn resumed_finished(kind: StandingKind, reference: &str) -> String {
    let (title, run) = (title(kind), run_word(kind));
    format!("{title} {reference} has no {run} left to make: it is finished.")
}

pub(crate) fn cancelled(kind: StandingKind, reference: &str) -> String {
    let (title, run) = (title(kind), run_word(kind));
    format!("{title} {reference} is cancelled: no more {run}s.")
}

pub(crate) fn cannot(kind: StandingKind, reference: &str, state: &str) -> String {
    format!("{} {reference} is {state}.", title(kind))
}

pub(crate) fn describe_state(state: crate::store::standing::StandingState) -> &'static str {
    use crate::store::standing::StandingState;
    match state {
        StandingState::AwaitingCode => "waiting for its code",
        StandingState::Active => "already running",
        StandingState::Paused => "already paused",
        StandingState::Cancelled => "cancelled",
        StandingState::Finished => "finished",
        StandingState::Expired => "not set up (its code expired)",
        StandingState::LockedOut => "not set up (too many wrong codes)",
        StandingState::Leaked => "not set up (its code was typed in a group)",
    }
}

// -- runs ----------------------------------------------------------------------

pub(crate) fn paid_payer(
    reference: &str,
    payee: &str,
    amount: &str,
    memo: &str,
    next: &str,
) -> String {
    format!("Standing order {reference}: you paid {payee} {amount}{memo}. {next}")
}

pub(crate) fn paid_payee(payer: &str, amount: &str, memo: &str) -> String {
    format!("{payer} paid you {amount}{memo} (a standing order).")
}

pub(crate) fn next_sentence(when: Option<&str>) -> String {
    match when {
        Some(when) => format!("Next payment: {when}."),
        None => "That was its last payment.".to_owned(),
    }
}

pub(crate) fn short_will_retry(reference: &str, payee: &str, amount: &str, retry: &str) -> String {
    format!(
        "Standing order {reference}: not enough money to pay {payee} {amount}. \
         I'll try again {retry}; top up before then."
    )
}

pub(crate) fn skipped_short_payer(
    reference: &str,
    payee: &str,
    amount: &str,
    next: &str,
) -> String {
    format!(
        "Standing order {reference}: still not enough money, so this payment of {amount} to {payee} \
         was skipped. {next}"
    )
}

/// What the payee learns of a skipped run: that it was skipped, and why
/// only when the reason is paybot's own (never the payer's balance).
pub(crate) fn skipped_payee(payer: &str, amount: &str, memo: &str, why: Option<&str>) -> String {
    match why {
        Some(why) => format!(
            "{payer}'s standing payment of {amount}{memo} to you was skipped this time ({why})."
        ),
        None => {
            format!("{payer}'s standing payment of {amount}{memo} to you was skipped this time.")
        }
    }
}

pub(crate) const WHY_MISSED: &str = "paybot was down when it was due";

pub(crate) fn skipped_missed_payer(
    reference: &str,
    payee: &str,
    amount: &str,
    due: &str,
    next: &str,
) -> String {
    format!(
        "Standing order {reference}: the payment of {amount} to {payee} due {due} was skipped, \
         because paybot was down then and came back too late. {next}"
    )
}

pub(crate) fn skipped_refused_payer(
    reference: &str,
    payee: &str,
    amount: &str,
    why: &str,
    next: &str,
) -> String {
    format!(
        "Standing order {reference}: this payment of {amount} to {payee} was skipped. {why} {next}"
    )
}

/// An order whose payer's account now uses another wallet (or none).
pub(crate) fn ended_account_moved(kind: StandingKind, reference: &str, what: &str) -> String {
    match kind {
        StandingKind::Payment => format!(
            "Standing order {reference} to pay {what} is cancelled: this account now belongs to \
             another wallet, and the order paid from the old one. Nothing more will be paid; \
             set it up again with /pay if you still want it."
        ),
        StandingKind::Request => format!(
            "Recurring request {reference} asking {what} is cancelled: this account now belongs \
             to another wallet, and the request was paid into the old one. Nothing more will be \
             asked; set it up again with /request if you still want it."
        ),
    }
}

/// The payee's side of [`ended_account_moved`] (for a recurring request:
/// the one it asked).
pub(crate) fn ended_for_payee(kind: StandingKind, payer: &str, reference: &str) -> String {
    match kind {
        StandingKind::Payment => format!(
            "{payer}'s standing order {reference} to you has ended; no more payments will come from it."
        ),
        StandingKind::Request => {
            format!("{payer}'s recurring request {reference} has ended; it will not ask you again.")
        }
    }
}

/// An order whose code was not used in time.
pub(crate) fn code_ran_out(reference: &str, what: &str) -> String {
    format!(
        "Standing order {reference} to pay {what} was not confirmed in time and is cancelled; \
         nothing will be paid. Set it up again with /pay if you still want it."
    )
}

pub(crate) const SECOND_FACTOR_AT_RUN: &str = "A security check asks for your second factor for this payment, \
     which a standing order cannot give: pay this one yourself with /pay if you meant it.";

pub(crate) const HELD_FOR_REVIEW: &str =
    "A payment like it needs a review first, which a standing order cannot wait for.";

pub(crate) fn series_set(
    reference: &str,
    payer: &str,
    amount: &str,
    memo: &str,
    rule: &str,
    first: &str,
) -> String {
    format!(
        "Recurring request {reference} is set: I'll ask {payer} for {amount}{memo}, {rule}. First request: {first}. Stop it with /scheduled cancel {reference}."
    )
}

/// What the person asked reads after the request itself.
pub(crate) fn series_context(reference: &str, rule: &str) -> String {
    format!(" (recurring request {reference}, {rule})")
}

pub(crate) fn series_asked(reference: &str, payer: &str, amount: &str, next: &str) -> String {
    format!("Recurring request {reference}: I asked {payer} for {amount}. {next}")
}

pub(crate) fn series_list_line(
    reference: &str,
    amount: &str,
    payer: &str,
    memo: &str,
    rule: &str,
    next: &str,
) -> String {
    format!("{reference}: ask {payer} for {amount}{memo}, {rule}; {next}")
}

/// A period of a recurring request that was not asked because paybot was
/// down at its time and came back past the grace window: its requester's
/// side.
pub(crate) fn series_missed_requester(
    reference: &str,
    payer: &str,
    amount: &str,
    due: &str,
    next: &str,
) -> String {
    format!(
        "Recurring request {reference}: the request to {payer} for {amount} due {due} was not sent, \
         because paybot was down then and came back too late. {next}"
    )
}

/// [`series_missed_requester`]: the side of the one it would have asked.
pub(crate) fn series_missed_payer(requester: &str, amount: &str, memo: &str) -> String {
    format!(
        "{requester}'s recurring request of {amount}{memo} was skipped this time \
         (paybot was down when it was due); nothing is asked of you for it."
    )
}

pub(crate) fn series_next(when: Option<&str>) -> String {
    match when {
        Some(when) => format!("Next request: {when}."),
        None => "That was its last request.".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::contains_card_number;

    /// A reference ending in digits next to a date must not read as a card
    /// number: the Skip button's command would be refused as one, and the
    /// notice withheld.
    #[test]
    fn a_skip_never_looks_like_a_card_number() {
        for n in 0..10_000 {
            let reference = format!("OV{n:05}");
            for date in ["2026-03-22", "2027-01-01", "2030-12-31"] {
                let skip = skip_command(&reference, date);
                assert!(!contains_card_number(&skip), "{skip}");
                let notice = coming_up(&reference, "@bob $5.00", "Sun 2026-03-22 09:00 UTC", date);
                assert!(!contains_card_number(&notice), "{notice}");
            }
        }
    }
}
