//! `/pay` to several people at once and `/undo`.

/// The legs in a sentence: "@bob $5.00, @carol $7.00".
pub(crate) fn legs_line(legs: &[(String, String)]) -> String {
    legs.iter()
        .map(|(payee, amount)| format!("{payee} {amount}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The code, privately, with every payee and amount and the total.
pub(crate) fn code_to_confirm(
    legs: &str,
    total: &str,
    memo: &str,
    code: &str,
    code_ttl: &str,
    reference: &str,
) -> String {
    format!(
        "To pay {legs} (total {total}){memo}, send me: /confirm {code}\n\
         One code for all of them: everyone is paid, or no one.\n\
         The code works once and expires in {code_ttl}. Never type it in a group.\n\
         Changed your mind? /cancel {reference}"
    )
}

/// [`code_to_confirm`] without the code, as a redelivery shows it.
pub(crate) fn code_to_confirm_redacted(
    legs: &str,
    total: &str,
    memo: &str,
    reference: &str,
) -> String {
    format!(
        "To pay {legs} (total {total}){memo}, send me: /confirm (the code I sent you)\n\
         Changed your mind? /cancel {reference}"
    )
}

/// The public note in a group where `/pay` was typed.
pub(crate) fn sent_you_a_code(me: &str, count: usize, total: &str) -> String {
    format!("{me}, I sent you a DM with a code to confirm paying {count} people {total} in all.")
}

pub(crate) fn named_twice(payee: &str) -> String {
    format!("{payee} is named twice (two names for one person?). Name each person once.")
}

pub(crate) fn not_joined(payee: &str) -> String {
    format!(
        "{payee} has not started paybot yet, so I can't include them in a payment to several people. Pay them on their own (/pay {payee} AMOUNT): the money waits for them."
    )
}

pub(crate) const TOTAL_TOO_LARGE: &str = "Those amounts add up to more than I can handle.";

pub(crate) const REVIEW_NEEDED: &str = "A payment to several people cannot wait for a review. Pay each person on their own and I will tell you if one needs a review.";

/// Nothing reserved: one leg was refused; `why` says why.
pub(crate) fn leg_refused(payee: &str, why: &str) -> String {
    format!("Nothing was paid: the payment to {payee} cannot go through. {why}")
}

pub(crate) fn not_enough_money(available: &str, total: &str) -> String {
    format!(
        "Not enough money for that: you have {available} available and the payments add up to {total}. Nothing was paid."
    )
}

pub(crate) fn paid(legs: &str, total: &str, memo: &str, reference: &str) -> String {
    format!(
        "Done: you paid {legs} (total {total}){memo}. Payment {reference}; /undo {reference} takes it back for a few minutes."
    )
}

/// In the group where `/pay` was typed.
pub(crate) fn confirmed_in_group(reference: &str, payees: &str) -> String {
    format!("\u{2705} Payment {reference} to {payees} is confirmed.")
}

/// A leg changed since the code was sent (cancelled, expired, ...).
pub(crate) fn no_longer_confirmable(reference: &str, leg: &str, state: &str) -> String {
    format!(
        "Payment {reference} can no longer be confirmed: its part {leg} is {state}. Nothing was paid, and the rest is cancelled."
    )
}

/// A reservation ran out in the ledger before its record said so.
pub(crate) fn ran_out(reference: &str) -> String {
    format!("Payment {reference} can no longer be confirmed: it ran out. Nothing was paid.")
}

pub(crate) fn cancelled(reference: &str, legs: &str) -> String {
    format!("Cancelled payment {reference} ({legs}). Nothing was paid.")
}

pub(crate) fn cannot_cancel(reference: &str, state: &str) -> String {
    format!("Payment {reference} can't be cancelled: it is {state}.")
}

pub(crate) fn code_expired(reference: &str) -> String {
    format!(
        "That code has expired, so payment {reference} was cancelled and nothing was paid. Start again with /pay."
    )
}

pub(crate) fn locked_out(reference: &str) -> String {
    format!("Too many wrong codes: payment {reference} was cancelled and nothing was paid.")
}

// -- /undo ---------------------------------------------------------------------

pub(crate) const NOTHING_TO_UNDO: &str =
    "You have no recent payment to undo. Name one: /undo REF (its reference is in /history).";

pub(crate) const UNDO_OFF: &str =
    "Payments can't be undone here: ask the payee to send the money back.";

pub(crate) fn not_yours(reference: &str) -> String {
    format!("Payment {reference} is not yours to undo: only its payer can undo it.")
}

pub(crate) fn already_undone(reference: &str) -> String {
    format!("Payment {reference} is already undone.")
}

pub(crate) fn window_passed(reference: &str, window: &str) -> String {
    format!(
        "Payment {reference} can no longer be undone: that is only possible within {window} of confirming it. Ask the payee to send it back."
    )
}

pub(crate) fn not_undoable(reference: &str, state: &str) -> String {
    format!("Payment {reference} can't be undone: it is {state}.")
}

pub(crate) fn escrow_not_undoable(reference: &str) -> String {
    format!(
        "Payment {reference} is held until they join; /cancel {reference} takes it back instead."
    )
}

pub(crate) fn request_not_undoable(reference: &str) -> String {
    format!(
        "Payment {reference} paid a request, so it can't be undone: ask them to send the money back."
    )
}

pub(crate) fn payee_spent_it(reference: &str, payee: &str, amount: &str) -> String {
    format!(
        "Payment {reference} can't be undone: {payee} no longer has the {amount} in their wallet. Nothing was taken back; ask them to send it back."
    )
}

pub(crate) fn over_balance_limit(reference: &str, limit: &str) -> String {
    format!(
        "Payment {reference} can't be undone: it would take your balance above your limit of {limit}. Nothing was taken back."
    )
}

/// To the payer.
pub(crate) fn undone(reference: &str, legs: &str, total: &str) -> String {
    format!(
        "Undone: payment {reference} ({legs}); {total} is back in your wallet and they were told."
    )
}

/// To a payee, through the outbox.
pub(crate) fn undone_payee(payer: &str, amount: &str, memo: &str, reference: &str) -> String {
    format!("{payer} undid their payment of {amount}{memo} ({reference}): it went back to them.")
}
