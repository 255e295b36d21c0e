//! Escrow: money held for a handle until its owner starts paybot.

/// To the payer: the payee started paybot and took the money.
pub(crate) fn claimed_to_payer(payee: &str, amount: &str, memo: &str, reference: &str) -> String {
    format!(
        "{payee} started paybot and received the {amount}{memo} you sent (payment {reference})."
    )
}

/// To the payee, privately: what was held for them is theirs now.
pub(crate) fn claimed_to_payee(payer: &str, amount: &str, memo: &str) -> String {
    format!("{payer} sent you {amount}{memo} before you joined; it is in your wallet now.")
}

/// To the payer: someone paybot knew under another name took the handle.
pub(crate) fn claim_refused(
    amount: &str,
    memo: &str,
    handle: &str,
    reference: &str,
    platform: &str,
) -> String {
    format!(
        "Your {amount}{memo} for {handle} (payment {reference}) is still held. {handle} on {platform} is now used by an account paybot knew under another name before your payment, so I did not give it to them. If they are the person you meant, /cancel {reference} and pay them directly; otherwise the money comes back to you when the hold ends, or at once with /cancel {reference}."
    )
}

/// To the payer: nobody claimed the money in time.
pub(crate) fn refunded(amount: &str, payee: &str, escrow_ttl: &str, reference: &str) -> String {
    format!(
        "Nobody claimed the {amount} you sent to {payee} within {escrow_ttl}, so it is back in your wallet (payment {reference})."
    )
}
