//! `/pay`, `/confirm`, `/cancel`, a code posted in a group, and the states
//! a payment can be in.

use crate::store::PaymentState;

/// A payment's state, as the payer reads it.
pub(crate) fn describe_state(state: PaymentState) -> &'static str {
    match state {
        PaymentState::AwaitingCode => "waiting for your code",
        PaymentState::Completed => "paid",
        PaymentState::Escrowed => "held until they join",
        PaymentState::Claimed => "paid (claimed)",
        PaymentState::Refunded => "refunded",
        PaymentState::Cancelled => "cancelled",
        PaymentState::Expired => "expired",
        PaymentState::LockedOut => "cancelled after wrong codes",
        PaymentState::Leaked => "cancelled (code posted in a group)",
        PaymentState::Held => "under review",
        PaymentState::Rejected => "declined after review",
        PaymentState::HoldExpired => "not reviewed in time, and refunded",
        PaymentState::Reversed => "undone",
    }
}

/// A payment in a sentence: "$20.00 to @bob".
pub(crate) fn what(amount: &str, payee: &str) -> String {
    format!("{amount} to {payee}")
}

pub(crate) const WHOM: &str =
    "Whom should I pay? Name them (/pay @bob 20) or reply to their message with /pay 20.";

pub(crate) const NOT_YOURSELF: &str = "You can't pay yourself.";

pub(crate) fn too_many_waiting(waiting: usize) -> String {
    format!("You already have {waiting} payments waiting for a code. Confirm or /cancel one first.")
}

pub(crate) fn not_enough_money(available: &str, amount: &str) -> String {
    format!(
        "Not enough money for that: you have {available} available and the payment is {amount}."
    )
}

/// `state`: from [`describe_state`].
pub(crate) fn already(reference: &str, state: &str) -> String {
    format!("Payment {reference} is already {state}.")
}

/// The code, privately, with what it confirms.
pub(crate) fn code_to_confirm(
    payee: &str,
    amount: &str,
    memo: &str,
    code: &str,
    code_ttl: &str,
    reference: &str,
) -> String {
    format!(
        "To pay {payee} {amount}{memo}, send me: /confirm {code}\n\
         The code works once and expires in {code_ttl}. Never type it in a group.\n\
         Changed your mind? /cancel {reference}"
    )
}

/// [`code_to_confirm`] without the code, as a redelivery shows it.
pub(crate) fn code_to_confirm_redacted(
    payee: &str,
    amount: &str,
    memo: &str,
    reference: &str,
) -> String {
    format!(
        "To pay {payee} {amount}{memo}, send me: /confirm (the code I sent you)\n\
         Changed your mind? /cancel {reference}"
    )
}

/// The public note in a group where `/pay` was typed.
pub(crate) fn sent_you_a_code(me: &str, payee: &str, amount: &str) -> String {
    format!("{me}, I sent you a DM with a code to confirm paying {payee} {amount}.")
}

pub(crate) const CANCEL_BUTTON: &str = "Cancel";

pub(crate) const CONFIRM_IN_PRIVATE: &str =
    "Send /confirm to me in a private chat, never in a group.";

pub(crate) const NOTHING_WAITING_FOR_A_CODE: &str = "You have no payment waiting for a code.";

pub(crate) fn code_expired(reference: &str) -> String {
    format!(
        "That code has expired, so payment {reference} was cancelled and nothing was paid. Start again with /pay."
    )
}

pub(crate) fn locked_out(reference: &str) -> String {
    format!("Too many wrong codes: payment {reference} was cancelled and nothing was paid.")
}

/// `tries`: from [`super::tries`].
pub(crate) fn wrong_code(reference: &str, amount: &str, payee: &str, tries: &str) -> String {
    format!("That code is not right for payment {reference} ({amount} to {payee}). {tries} left.")
}

pub(crate) fn had_expired(reference: &str) -> String {
    format!("Payment {reference} had expired and was cancelled; nothing was paid.")
}

pub(crate) const WRONG_CODE: &str = "That code is not right.";

/// `undo_until`: until when `/undo` takes it back (`None`: it cannot), in
/// the words the payee's notice uses.
pub(crate) fn paid(payee: &str, amount: &str, memo: &str, undo_until: Option<&str>) -> String {
    let undo = undo_until
        .map(|until| super::notices::payer_can_undo_until("You", until))
        .unwrap_or_default();
    format!("Done: you paid {payee} {amount}{memo}.{undo}")
}

/// The payee has not joined: the money is held for them.
pub(crate) fn held_for_payee(
    amount: &str,
    memo: &str,
    payee: &str,
    escrow_ttl: &str,
    reference: &str,
) -> String {
    format!(
        "Confirmed: {amount}{memo} for {payee} is held for them until they start paybot here. If they don't within {escrow_ttl}, it comes back to you (/cancel {reference} to take it back sooner)."
    )
}

pub(crate) fn no_longer_confirmable(reference: &str, state: &str) -> String {
    format!("Payment {reference} can no longer be confirmed: it is {state}. Nothing more was paid.")
}

/// To the payer, through the outbox: the code ran out.
pub(crate) fn not_confirmed_in_time(amount: &str, payee: &str, code_ttl: &str) -> String {
    format!(
        "Your payment of {amount} to {payee} was not confirmed within {code_ttl} and has been cancelled; nothing was paid."
    )
}

pub(crate) fn no_such_payment(reference: &str) -> String {
    format!("You have no payment {reference}.")
}

pub(crate) const NOTHING_TO_CANCEL: &str = "You have no payment waiting to be confirmed.";

/// `what`: from [`what`].
pub(crate) fn cancelled(reference: &str, what: &str) -> String {
    format!("Cancelled payment {reference} ({what}). Nothing was paid.")
}

pub(crate) fn already_settled(reference: &str) -> String {
    format!("Payment {reference} could not be cancelled: it was already settled.")
}

pub(crate) fn cancelled_hold(reference: &str, what: &str) -> String {
    format!("Cancelled payment {reference} ({what}); the money is back in your wallet.")
}

pub(crate) fn cannot_cancel(reference: &str, state: &str) -> String {
    format!("Payment {reference} is already {state}; it cannot be cancelled.")
}

/// In the group where a code was posted.
pub(crate) fn leaked_in_group(me: &str) -> String {
    format!(
        "{me}, that was a private confirmation code, so I cancelled the payment it was for. Only ever send codes to me in a DM."
    )
}

/// To the payer whose code was posted in a group.
pub(crate) fn leaked_to_payer(reference: &str, what: &str) -> String {
    format!(
        "Your code for payment {reference} ({what}) was posted in a group, so I cancelled that payment; nothing was paid. Start again with /pay, and send the new code only here."
    )
}
