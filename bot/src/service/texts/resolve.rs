//! Naming a person: refusals when a command names nobody paybot can reach,
//! and the warnings a payer sees before confirming.

/// Someone the platform marks as a bot was named as a payee.
pub(crate) fn is_a_bot(who: &str) -> String {
    format!("{who} is a bot; bots cannot be paid.")
}

/// The bot's own handle was named as a payee.
pub(crate) fn is_me(handle: &str) -> String {
    format!("{handle} is me, a bot; bots cannot be paid.")
}

/// Nobody paybot knows goes by `target`.
pub(crate) fn not_known(target: &str) -> String {
    format!("I don't know {target} yet. Ask them to send me /start first.")
}

/// A payee's handle looks like another known one.
pub(crate) fn looks_like(handle: &str, other: &str) -> String {
    format!(
        "\u{26a0}\u{fe0f} {handle} looks like {other}, a different account. Check you have the right person."
    )
}

pub(crate) fn never_paid_before(payee: &str) -> String {
    format!("\u{26a0}\u{fe0f} You have not paid {payee} before.")
}

/// The payee has not started paybot: the money would be held for them.
pub(crate) fn unclaimed_handle(handle: &str, escrow_ttl: &str) -> String {
    format!(
        "\u{26a0}\u{fe0f} {handle} has not used paybot yet. Once you confirm, the money is held until they start paybot here, and comes back to you if they don't within {escrow_ttl}."
    )
}
