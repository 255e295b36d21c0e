//! Holds for review: what the user is told when a payment or cash-out
//! waits for an operator, and when it is decided. Never why in detail (the
//! operator sees the rule and its inputs); never accusing. `what` is
//! [`payment_what`] or [`cashout_what`].

/// "your payment of $20.00 to @bob".
pub(crate) fn payment_what(amount: &str, payee: &str) -> String {
    format!("your payment of {amount} to {payee}")
}

/// "your cash-out of $20.00 to Visa •4242".
pub(crate) fn cashout_what(amount: &str, card: &str) -> String {
    format!("your cash-out of {amount} to {card}")
}

/// Added to the code message of something that will be reviewed.
pub(crate) fn will_be_reviewed(review_time: &str) -> String {
    format!(
        "After you confirm, our team checks it before it goes through (at most \
         {review_time}); the money stays reserved meanwhile."
    )
}

/// On confirming something that is held.
pub(crate) fn held(what: &str, reference: &str, review_time: &str) -> String {
    format!(
        "Thanks: {what} ({reference}) is confirmed and now under review, for at most \
         {review_time}. Your money stays reserved, and I'll tell you here as soon as it \
         is decided."
    )
}

/// When an operator approved it (followed by the usual outcome line).
pub(crate) fn approved(reference: &str) -> String {
    format!("Review done: {reference} is approved.")
}

/// When an operator rejected it.
pub(crate) fn rejected(what: &str, reference: &str) -> String {
    format!(
        "After review, {what} ({reference}) can't go through. The money is back in your \
         wallet. If you think this is a mistake, contact the operator of this paybot."
    )
}

/// When nobody decided in time.
pub(crate) fn timed_out(what: &str, reference: &str) -> String {
    format!(
        "{} ({reference}) could not be reviewed in time, so it was not sent. The money is \
         back in your wallet; you can try again.",
        capitalized(what)
    )
}

/// "your new card Visa •••• 1111".
pub(crate) fn card_link_what(card: &str) -> String {
    format!("your new card {card}")
}

/// Added to the code message of a card link that will be reviewed.
pub(crate) const CARD_LINK_WILL_BE_REVIEWED: &str =
    "After you confirm, our team checks this card link before the card can be used.";

/// On confirming a card link that is held.
pub(crate) fn card_link_held(what: &str, reference: &str, review_time: &str) -> String {
    format!(
        "Thanks: linking {what} ({reference}) is confirmed and now under review, for at most \
         {review_time}. I'll tell you here as soon as it is decided."
    )
}

/// When an operator rejected a card link.
pub(crate) fn card_link_rejected(what: &str) -> String {
    format!(
        "After review, {what} can't be linked. If you think this is a mistake, contact the \
         operator of this paybot."
    )
}

/// When nobody decided a card link in time.
pub(crate) fn card_link_timed_out(what: &str) -> String {
    format!(
        "Linking {what} could not be reviewed in time, so it was not linked; you can try \
         again."
    )
}

/// A rule asked to review a top-up, where nothing of the user's can be
/// reserved meanwhile.
pub(crate) const TOPUP_NEEDS_REVIEW: &str = "This top-up can't be made right now. Try a smaller \
    amount, or contact the operator of this paybot.";

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
