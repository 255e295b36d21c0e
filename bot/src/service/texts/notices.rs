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

/// After the payee's notice: the payer may still take it back.
pub(crate) fn payer_can_undo_until(payer: &str, until: &str) -> String {
    format!(" {payer} can undo it with /undo until {until}.")
}

/// After the group's "confirmed" line.
pub(crate) fn can_be_undone_until(until: &str) -> String {
    format!(" It can be undone until {until}.")
}

/// In the group where `/pay` was typed, after `/undo`.
pub(crate) fn payment_undone(reference: &str, payees: &str) -> String {
    format!("\u{21a9} Payment {reference} to {payees} was undone: the money went back.")
}

/// A payer paybot no longer knows.
pub(crate) const SOMEONE: &str = "Someone";
