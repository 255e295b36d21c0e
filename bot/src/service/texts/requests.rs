//! `/request`, `/approve`, `/decline` and the hourly limits on requests.

pub(crate) const NOT_YOURSELF: &str = "You can't ask yourself for money.";

/// The public answer to `/request`.
pub(crate) fn asked(payer: &str, amount: &str, memo: &str, reference: &str) -> String {
    format!(
        "Asked {payer} for {amount}{memo} (request {reference}). I'll tell you when they answer."
    )
}

/// The sender asked too often; `needed` is how many requests this command
/// would make (a split makes several).
pub(crate) fn too_many_made(made: usize, needed: u32, from: &str) -> String {
    let more = if needed > 1 {
        format!(" (this would make {needed} more)")
    } else {
        String::new()
    };
    format!(
        "You have asked for money {made} times in the last hour, the most I allow{more}. You can ask again from {from}. Nothing was sent."
    )
}

/// The payer was asked too often.
pub(crate) fn too_many_received(payer: &str, received: usize, from: &str) -> String {
    format!(
        "{payer} has been asked for money {received} times in the last hour, the most I pass on. You can ask them from {from}. Nothing was sent."
    )
}

/// Appended to a request that is someone's share of a split.
pub(crate) fn split_context(creator: &str, total: &str) -> String {
    format!(" as your share of {creator}'s split of {total}")
}

/// To the requester: the request cannot reach the payer.
pub(crate) fn payer_unreachable(reference: &str, payer: &str) -> String {
    format!(
        "I couldn't send your request {reference} to {payer}: they don't accept direct messages from me. It stays open; they can still answer it with /approve {reference}."
    )
}

/// To the payer: someone asks them for money.
pub(crate) fn asks_you(
    requester: &str,
    amount: &str,
    memo: &str,
    context: &str,
    reference: &str,
) -> String {
    format!(
        "{requester} asks you to pay {amount}{memo}{context}.\n/approve {reference} to pay (I'll send you a code), or /decline {reference}."
    )
}

pub(crate) const APPROVE_BUTTON: &str = "Approve";
pub(crate) const DECLINE_BUTTON: &str = "Decline";

pub(crate) fn no_such_request(reference: &str) -> String {
    format!("You have no request {reference}.")
}

pub(crate) fn already_waiting(reference: &str) -> String {
    format!(
        "Request {reference} already has a payment in progress (waiting for your code or for review); it cannot be paid or declined twice."
    )
}

/// Pay tapped again while the payment it started waits for its code.
pub(crate) fn code_already_sent(reference: &str, payment: &str) -> String {
    format!(
        "I sent you a code for request {reference} already (payment {payment}): confirm with it here. Lost it? /cancel {payment}, then /approve {reference} again for a new one."
    )
}

/// `state`: the request's state, as the store names it ("paid").
pub(crate) fn already(reference: &str, state: &str) -> String {
    format!("Request {reference} is already {state}.")
}

pub(crate) fn changed_meanwhile(reference: &str) -> String {
    format!("Request {reference} changed meanwhile; try again.")
}

/// To the requester: the payer declined.
pub(crate) fn declined_to_requester(
    payer: &str,
    reference: &str,
    amount: &str,
    memo: &str,
) -> String {
    format!("{payer} declined your request {reference} for {amount}{memo}.")
}

/// The answer to `/decline`.
pub(crate) fn declined(reference: &str, requester: &str) -> String {
    format!("Declined request {reference} from {requester}.")
}
