//! `/start`, `/help`, `/balance` and `/history`.

use std::fmt::Write as _;

use crate::command::CommandName;

/// The welcome `/start` sends privately.
pub(crate) fn welcome(me: &str) -> String {
    format!(
        "Welcome to paybot, {me}! You can pay people right here in the chat.\n\
         \u{2022} /pay @bob 20 for pizza: pay someone (I DM you a code to confirm)\n\
         \u{2022} /request @bob 15: ask someone to pay you\n\
         \u{2022} /split 60 @bob @carol for dinner: split a bill\n\
         \u{2022} /balance and /history: sent to you privately\n\
         /help lists everything."
    )
}

/// Appended to the welcome when a mock user got their opening balance.
pub(crate) fn mock_opening(opening: &str) -> String {
    format!("\n\nThis is the mock chat: I put {opening} of play money in your wallet.")
}

/// Appended to the welcome of someone sent from a group by the invite.
pub(crate) const SET_UP_FROM_GROUP: &str =
    "\n\nYou're set up: go back to the group and send your command again.";

/// One currency of `/balance`: what is available.
pub(crate) fn balance_available(available: &str) -> String {
    format!("{available} available")
}

/// Appended to a balance line: money reserved by the user's own payments.
pub(crate) fn balance_held(held: &str) -> String {
    format!(" ({held} held for payments waiting for confirmation, a review or a claim)")
}

/// Appended to a balance line: money coming to the user.
pub(crate) fn balance_incoming(incoming: &str) -> String {
    format!(" (+{incoming} on its way to you)")
}

/// The `/balance` answer, its lines joined.
pub(crate) fn balance(lines: &str) -> String {
    format!("Your balance: {lines}.")
}

pub(crate) const NO_PAYMENTS_YET: &str = "No payments yet. Try /pay @someone 5.";

/// The heading of `/history`: "Your last 3 payments (times in UTC):".
pub(crate) fn history_heading(payments: &str, zone: &str) -> String {
    format!("Your last {payments} (times in {zone}):")
}

/// `/history export`: what the attached CSV file holds.
pub(crate) fn history_export(written: usize, found: usize, zone: &str) -> String {
    let left_out = if written < found {
        format!(" Only the newest {written} of {found} fit in one file; the rest were left out.")
    } else {
        String::new()
    };
    let payments = super::plural(u32::try_from(written).unwrap_or(u32::MAX), "payment");
    format!("Your history as a CSV file ({payments}, newest first, times in {zone}).{left_out}")
}

/// One payment in `/history`.
pub(crate) fn history_line(
    at: &str,
    sign: &str,
    amount: &str,
    who: &str,
    memo: &str,
    state: &str,
    reference: &str,
) -> String {
    format!("\u{2022} {at} {sign}{amount} {who}{memo} \u{2014} {state} ({reference})")
}

/// Who a payment in `/history` went to.
pub(crate) fn history_to(payee: &str) -> String {
    format!("to {payee}")
}

/// Whom a payment in `/history` came from.
pub(crate) fn history_from(payer: &str) -> String {
    format!("from {payer}")
}

/// `/help`, or `/help COMMAND` for one.
pub(crate) fn help(topic: Option<CommandName>) -> String {
    match topic {
        Some(name) => {
            let mut text = format!(
                "{}\n{}\nExample: {}",
                name.usage(),
                name.summary(),
                name.example()
            );
            for (example, what) in name.more_examples() {
                let _ = write!(text, "\nExample: {example} ({what})");
            }
            if let Some(details) = name.details() {
                text.push('\n');
                text.push_str(details);
            }
            text
        }
        None => {
            let mut text = String::from("What I can do (amounts like 20, 20.50, $20, 5 EUR):");
            for name in CommandName::ALL {
                let _ = write!(
                    text,
                    "\n{} \u{2014} {}. e.g. {}",
                    name.usage(),
                    name.summary(),
                    name.example()
                );
            }
            text
        }
    }
}
