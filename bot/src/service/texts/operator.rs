//! What a user is told when an operator or a verification provider acts on
//! their account.

/// To the user, privately: their verification tier changed. `name` is the
/// tier's configured name.
pub(crate) fn tier_changed(name: &str, tier: u8, raised: bool) -> String {
    if raised {
        format!("Your account is now {name} (tier {tier}). Thank you for verifying.")
    } else {
        format!(
            "Your account is now {name} (tier {tier}). If you think this is a mistake, reply here and an operator will look at it."
        )
    }
}

/// A tier without a configured name.
pub(crate) fn tier_unnamed(tier: u8) -> String {
    format!("at tier {tier}")
}
