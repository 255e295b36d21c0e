//! Messages to people other than the sender, and the public "paid" line.

/// To the payer: the payee's notice cannot reach them.
pub(crate) fn payee_unreachable(payee: &str, reference: &str) -> String {
    format!(
        "I couldn't tell {payee} about your payment {reference}: they don't accept direct messages from me. The money is in their wallet all the same."
    )
}

/// To the payee: they were paid.
pub(crate) fn paid_you(payer: &str, amount: &str, memo: &str) -> String {
    format!("{payer} paid you {amount}{memo}. /balance shows your balance.")
}

/// In the group where `/pay` was typed.
pub(crate) fn payment_confirmed(reference: &str, payee: &str) -> String {
    format!("\u{2705} Payment {reference} to {payee} is confirmed.")
}

/// A payer paybot no longer knows.
pub(crate) const SOMEONE: &str = "Someone";
