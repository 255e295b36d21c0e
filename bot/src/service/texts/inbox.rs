//! `/requests`, `/remind` and the expiry of requests.

/// `/requests` with nothing to show.
pub(crate) const NO_REQUESTS: &str =
    "No requests yet, made or received. Ask someone with /request @bob 15 for tickets.";

/// The heading of `/requests`; `zone`: the time zone its times are in.
pub(crate) fn heading(shown: usize, zone: &str) -> String {
    format!("Your requests ({shown} shown, open first; times in {zone}):")
}

/// One request someone asked the user to pay.
pub(crate) fn asked_you(
    requester: &str,
    amount: &str,
    memo: &str,
    state: &str,
    at: &str,
    reference: &str,
) -> String {
    format!("\u{2022} {at} {requester} asked you for {amount}{memo} \u{2014} {state} ({reference})")
}

/// One request the user made.
pub(crate) fn you_asked(
    payer: &str,
    amount: &str,
    memo: &str,
    state: &str,
    at: &str,
    reference: &str,
) -> String {
    format!("\u{2022} {at} you asked {payer} for {amount}{memo} \u{2014} {state} ({reference})")
}

/// What to do with an open request, after the list.
pub(crate) const ACT_HINT: &str =
    "Answer one with /approve REF or /decline REF; remind someone of yours with /remind REF.";

/// A request's state, in `/requests`; `until`: when an open one expires.
pub(crate) fn state_open(until: Option<&str>) -> String {
    match until {
        Some(until) => format!("open until {until}"),
        None => "open".to_owned(),
    }
}

/// `/remind` of a request the sender did not make.
pub(crate) fn not_yours(reference: &str) -> String {
    format!("You made no request {reference}: you can only remind people of your own requests.")
}

/// `/remind` of a request that is no longer open.
pub(crate) fn remind_not_open(reference: &str, state: &str) -> String {
    format!("Request {reference} is {state}: there is nothing to remind anyone of.")
}

/// `/remind` of a request whose payment is in progress.
pub(crate) fn remind_in_progress(reference: &str, payer: &str) -> String {
    format!("{payer} is paying request {reference} already (waiting for their code or a review).")
}

/// `/remind` once too often.
pub(crate) fn remind_used_up(reference: &str, reminders_max: u32) -> String {
    format!(
        "You have reminded them of request {reference} {reminders_max} times, the most I send. It stays open until it expires."
    )
}

/// `/remind` too soon after the last one.
pub(crate) fn remind_too_soon(reference: &str, from: &str) -> String {
    format!(
        "You reminded them of request {reference} recently. You can remind them again from {from}."
    )
}

/// The answer to `/remind`.
pub(crate) fn reminded(reference: &str, payer: &str, left: u32) -> String {
    let more = match left {
        0 => "that was the last reminder I send for it".to_owned(),
        1 => "you can remind them once more".to_owned(),
        n => format!("you can remind them {n} more times"),
    };
    format!("I reminded {payer} of request {reference} ({more}).")
}

/// To the payer: a reminder, before the request itself.
pub(crate) fn reminder_to_payer(requester: &str) -> String {
    format!("Reminder from {requester}: ")
}

/// `/approve` of a request past its time.
pub(crate) fn expired_refusal(reference: &str, at: &str) -> String {
    format!(
        "Request {reference} expired at {at}, so it can no longer be paid. Ask them to send a new one if you still owe it."
    )
}

/// To the requester: their request expired unanswered.
pub(crate) fn expired_to_requester(
    reference: &str,
    payer: &str,
    amount: &str,
    memo: &str,
) -> String {
    format!(
        "Your request {reference} to {payer} for {amount}{memo} expired without an answer; nothing was paid. Send a new /request if it still stands."
    )
}

/// To the payer: a request to them expired.
pub(crate) fn expired_to_payer(
    reference: &str,
    requester: &str,
    amount: &str,
    memo: &str,
) -> String {
    format!(
        "The request {reference} from {requester} for {amount}{memo} expired; you no longer need to answer it, and nothing was paid."
    )
}
