//! `/split` and `/split status`.

use crate::store::RequestState;

pub(crate) const LEAVE_YOURSELF_OUT: &str =
    "Leave yourself out of the list: your share is what's left.";

pub(crate) fn in_twice(who: &str) -> String {
    format!("{who} is in the split twice.")
}

/// The shares do not add up; `usage` is the command's usage line.
pub(crate) fn does_not_work(error: &str, usage: &str) -> String {
    format!("That split does not work: {error}. Usage: {usage}")
}

/// A total with fewer cents (units) than people: `smallest` is $0.01.
pub(crate) fn too_few_units(total: &str, people: usize, smallest: &str) -> String {
    format!(
        "{total} cannot be shared by {people} people (you included): every share must be at least {smallest}, and I never round one down to nothing; use a larger total or fewer people"
    )
}

/// What the exact shares leave is fewer cents (units) than the people
/// without one.
pub(crate) fn too_few_units_left(rest: &str, people: usize, smallest: &str) -> String {
    format!(
        "the exact shares leave {rest} for the {people} people without one (you included), and every share must be at least {smallest}; give smaller exact shares or a larger total"
    )
}

pub(crate) const OWN_SHARE_NOTHING: &str =
    "Your own share would be nothing; give fewer exact shares or a larger total.";

/// The creator's share in the split's summary.
pub(crate) fn own_share(me: &str, share: &str) -> String {
    format!("{me} (you) {share}")
}

/// One person's share in the split's summary.
pub(crate) fn share(who: &str, amount: &str) -> String {
    format!("{who} {amount}")
}

/// The public answer to `/split`, its shares joined.
pub(crate) fn created(reference: &str, total: &str, memo: &str, shares: &str) -> String {
    format!(
        "Split {reference} of {total}{memo}: {shares}. I've asked each person privately; /split status {reference} shows who has paid."
    )
}

pub(crate) fn no_such_split(reference: &str) -> String {
    format!("There is no split {reference}.")
}

pub(crate) const NO_SPLIT_HERE: &str = "You have not split a bill in this chat yet.";

pub(crate) fn members_only(reference: &str) -> String {
    format!("Only the people in split {reference} can see it.")
}

/// Where one person's request of a split stands.
pub(crate) fn request_state(state: RequestState) -> &'static str {
    match state {
        RequestState::Paid => "paid",
        RequestState::Approved => "paying (waiting for their code)",
        RequestState::Open => "not paid yet",
        RequestState::Declined => "declined",
        RequestState::Expired => "expired",
    }
}

/// One person's line in `/split status`.
pub(crate) fn status_line(who: &str, amount: &str, state: &str) -> String {
    format!("\u{2022} {who} {amount}: {state}")
}

/// `/split status`, its lines joined.
pub(crate) fn status(
    reference: &str,
    total: &str,
    memo: &str,
    settled: &str,
    lines: &str,
) -> String {
    format!(
        "Split {reference} of {total}{memo}: {settled} of {total} settled (your own share included).\n{lines}"
    )
}
