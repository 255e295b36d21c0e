//! `/link`, `/link CODE`, `/link confirm`, `/link cancel` and `/unlink`,
//! and how accounts and cards are named in them.
//!
//! The design decision to know: a display name quoted to others is
//! cleaned first ([`clean_name`]): no control or invisible characters, so
//! a name cannot fake a line of the bot's message.

use std::fmt::Write as _;

use super::super::link::MINUTE_MS;
use super::platform_name;
use crate::service::{LINK_NAME_CHARS_MAX, card_label};
use crate::store::{Identity, LinkedCard};

/// The refusal of a link between the mock chat and a real platform.
pub const MOCK_LINK_REFUSED_TEXT: &str =
    "The mock chat is for development; its wallets can't be linked to Telegram or Discord.";

pub(crate) const NO_PENDING_LINK_TEXT: &str = "You have no link waiting for confirmation. Send /link CODE here first, with a code from /link in your other chat app.";

/// A display name as quoted to others: no control or invisible formatting
/// characters (a name cannot fake a line of the bot's message), at most
/// [`LINK_NAME_CHARS_MAX`] characters.
pub(crate) fn clean_name(name: &str) -> String {
    // The core's invisible characters, and the line and paragraph
    // separators (whitespace, but they would start a new line).
    let invisible = |c: char| crate::text::is_invisible(c) || matches!(c, '\u{2028}' | '\u{2029}');
    let mut clean: String = name
        .chars()
        .filter(|c| !invisible(*c))
        .take(LINK_NAME_CHARS_MAX)
        .collect();
    if name.chars().filter(|c| !invisible(*c)).count() > LINK_NAME_CHARS_MAX {
        clean.push('\u{2026}');
    }
    clean
}

/// `Telegram @alice (Alice Smith)`: the platform, the handle, and the
/// display name when it says more than the handle.
pub(crate) fn identity_name(identity: &Identity) -> String {
    let platform = platform_name(identity.platform);
    let display = clean_name(&identity.display_name);
    match &identity.handle {
        Some(handle) if display.is_empty() || display.eq_ignore_ascii_case(handle.as_str()) => {
            format!("{platform} {handle}")
        }
        Some(handle) => format!("{platform} {handle} ({display})"),
        None if display.is_empty() => format!("{platform} account {}", identity.id),
        None => format!("{platform} {display}"),
    }
}

pub(crate) fn names(identities: &[&Identity]) -> String {
    identities
        .iter()
        .map(|i| identity_name(i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `HH:MM UTC` of an instant in ms since the epoch.
pub(crate) fn clock_time(at_ms: i64) -> String {
    let minute_of_day = at_ms.div_euclid(MINUTE_MS).rem_euclid(24 * 60);
    format!("{:02}:{:02} UTC", minute_of_day / 60, minute_of_day % 60)
}

/// `Visa •••• 1111, Mastercard •••• 4444`.
pub(crate) fn card_list(cards: &[&LinkedCard]) -> String {
    cards
        .iter()
        .map(|card| card_label(card.brand, card.last4))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What `/unlink` does with the wallet's cards: the ones this account
/// linked go with it, the others stay; cards whose adder is unknown
/// (linked before that was recorded) stay too. Empty without cards.
pub(crate) fn cards_text(going: &[&LinkedCard], staying: &[&LinkedCard]) -> String {
    let mut text = String::new();
    if !going.is_empty() {
        let verb = if going.len() == 1 { "goes" } else { "go" };
        let _ = write!(text, "\n{} {verb} with you", card_list(going));
        text.push_str(if staying.is_empty() { "." } else { "; " });
    }
    if !staying.is_empty() {
        let _ = write!(
            text,
            "{} {}.",
            if going.is_empty() {
                "\nThe shared wallet keeps"
            } else {
                "the wallet keeps"
            },
            card_list(staying)
        );
    }
    if staying.iter().any(|card| card.added_by.is_none()) {
        text.push_str(" Cards linked before paybot recorded who linked them stay with the shared wallet; to take one along, /card remove it there and /card add it again after unlinking.");
    }
    text
}

pub(crate) const CODE_IN_GROUP: &str = "Link codes are private, so I cancelled that one. Run /link again and send the new code to me in a DM.";

/// The ends of "finish this first, then ..." refusals.
pub(crate) const THEN_SEND_CODE_AGAIN: &str = "send the link code again.";
pub(crate) const THEN_RUN_LINK_AGAIN: &str = "run /link again in your other chat app.";
pub(crate) const THEN_CONFIRM_AGAIN: &str = "send /link confirm again.";
pub(crate) const THEN_UNLINK_CONFIRM_AGAIN: &str = "send /unlink confirm again.";
pub(crate) const THEN_UNLINK_AGAIN: &str = "send /unlink again.";

/// `then`: one of the `THEN_` ends.
pub(crate) fn payments_in_progress(then: &str) -> String {
    format!("Finish or /cancel your payments in progress first, then {then}")
}

pub(crate) fn too_many_wrong_codes_here(until: &str) -> String {
    format!("Too many wrong link codes from this account. Try again after {until}.")
}

pub(crate) fn too_many_codes_everywhere(until: &str) -> String {
    format!("Too many link codes are being tried right now. Try again after {until}.")
}

pub(crate) const WRONG_CODE: &str =
    "That link code is wrong or has expired. Run /link again in your other chat app.";

pub(crate) const ALREADY_THAT_WALLET: &str = "This account already uses that wallet.";

pub(crate) const NO_ACCOUNTS_LEFT: &str =
    "That link code's wallet has no accounts any more. Run /link again in your other chat app.";

pub(crate) const EMPTY_WALLET_MOVES_NOTHING: &str =
    "this account's wallet is empty, so no money moves";

pub(crate) fn balance_moves(amounts: &str) -> String {
    format!("your balance here ({amounts}) moves into that wallet")
}

/// What `/link CODE` shows before `/link confirm`.
pub(crate) fn link_offer(accounts: &str, platform: &str, money: &str, confirm_ttl: &str) -> String {
    format!(
        "This link code belongs to the paybot wallet used by: {accounts}.\n\
         If you confirm, this {platform} account joins that wallet: {money}, payments to this account go there, and whoever uses those accounts can spend it. /unlink undoes the link later, but the money stays in that wallet.\n\
         To go ahead, send /link confirm within {confirm_ttl}. If you don't know all of those accounts, send /link cancel: someone may be trying to get your money."
    )
}

pub(crate) const CONFIRM_BUTTON: &str = "Confirm";
pub(crate) const CANCEL_BUTTON: &str = "Cancel";
pub(crate) const UNLINK_BUTTON: &str = "Unlink";

/// The link code, privately.
pub(crate) fn link_code(code: &str, code_ttl: &str) -> String {
    format!(
        "To use this wallet from another chat app, send this to paybot there, in a private chat: /link {code}\n\
         It works once, for {code_ttl}. Whoever sends it joins this wallet and can spend from it: never give it to anyone, and never post it in a group."
    )
}

/// [`link_code`] without the code, as a redelivery shows it.
pub(crate) const LINK_CODE_REDACTED: &str =
    "To use this wallet from another chat app, send the link code I sent you to paybot there.";

pub(crate) const WALLET_CHANGED_SINCE_CODE: &str = "This account's wallet changed since you sent the link code, so I dropped it. Run /link again in your other chat app.";

pub(crate) const NOTHING_LINKED_NO_ACCOUNTS: &str =
    "That wallet has no accounts any more, so nothing was linked.";

pub(crate) fn new_accounts_since(accounts: &str) -> String {
    format!(
        "The wallet that code belongs to has new accounts since I showed it to you ({accounts}), so nothing was linked. If you still want to, ask for a new code and send /link CODE again to see who uses it now."
    )
}

/// To every account of the wallet joined; `moved`: the balances that
/// moved in, if any.
pub(crate) fn joined_notice(platform: &str, who: &str, moved: Option<&str>) -> String {
    let mut notice = format!(
        "The {platform} account {who} now uses your paybot wallet: it can spend this wallet's money, and payments to it come here."
    );
    if let Some(moved) = moved {
        let _ = write!(notice, " Its balance ({moved}) moved in.");
    }
    notice.push_str(" If you don't know that account, contact the operator right away.");
    notice
}

/// The answer to `/link confirm`.
pub(crate) fn linked(platform: &str, accounts: &str, moved: Option<&str>) -> String {
    let mut text =
        format!("Linked: this {platform} account now uses the same wallet as {accounts}.");
    if let Some(moved) = moved {
        let _ = write!(text, " I moved this account's balance ({moved}) into it.");
    }
    text.push_str(" /unlink undoes the link (the money stays in that wallet).");
    text
}

pub(crate) const LINK_CANCELLED: &str = "Cancelled: this account keeps its own wallet.";

pub(crate) const NOTHING_TO_UNLINK: &str =
    "This account does not share its wallet with another account, so there is nothing to unlink.";

/// What `/unlink` would do; `cards`: from [`cards_text`].
pub(crate) fn unlink_offer(accounts: &str, platform: &str, money: &str, cards: &str) -> String {
    let mut text = format!(
        "This account shares its wallet with {accounts}.\n\
         If you unlink it, this {platform} account gets a new wallet of its own, empty. The money ({money}) stays in the shared wallet, with those accounts. Payments to this account come to its new wallet from then on; payments it started that are still open finish with the shared wallet."
    );
    text.push_str(cards);
    text.push_str("\nTo go ahead, send /unlink confirm.");
    text
}

/// To the accounts left behind; `cards`: the cards that went along.
pub(crate) fn left_notice(platform: &str, who: &str, cards: Option<&str>) -> String {
    let mut notice = format!(
        "The {platform} account {who} left your shared paybot wallet (/unlink): it can no longer spend this wallet's money, and payments to it no longer come here. The money stays here."
    );
    if let Some(cards) = cards {
        let _ = write!(
            notice,
            " The cards it linked went with it: {cards}; this wallet can no longer use them."
        );
    }
    notice
}

pub(crate) const WALLET_CHANGED_MEANWHILE: &str =
    "This account's wallet changed meanwhile, so nothing was unlinked. Try again.";

/// The answer to `/unlink confirm`; `cards`: the cards that came along.
pub(crate) fn unlinked(platform: &str, money: &str, accounts: &str, cards: Option<&str>) -> String {
    let mut text = format!(
        "Unlinked: this {platform} account now has a wallet of its own, empty. The {money} stayed in the wallet of {accounts}."
    );
    if let Some(cards) = cards {
        let _ = write!(text, " {cards} came with you: /cards lists them.");
    }
    text
}

/// `then`: one of the `THEN_` ends.
pub(crate) fn shares_its_wallet(accounts: &str, then: &str) -> String {
    format!(
        "This account shares its wallet with {accounts}. Send /unlink first (the money stays with them, and this account gets an empty wallet of its own), then {then}"
    )
}

#[cfg(test)]
mod tests {
    use super::super::super::link::HOUR_MS;
    use super::*;

    #[test]
    fn clock_time_is_utc_hours_and_minutes() {
        assert_eq!(clock_time(1_767_225_600_000), "00:00 UTC");
        assert_eq!(
            clock_time(1_767_225_600_000 + HOUR_MS + 10 * MINUTE_MS),
            "01:10 UTC"
        );
        assert_eq!(clock_time(1_767_225_600_000 - MINUTE_MS), "23:59 UTC");
    }

    #[test]
    fn names_cannot_fake_lines() {
        assert_eq!(clean_name("Ali\nce\u{200b}\u{202e}"), "Alice");
        let long = "x".repeat(LINK_NAME_CHARS_MAX + 5);
        assert_eq!(clean_name(&long).chars().count(), LINK_NAME_CHARS_MAX + 1);
    }
}
