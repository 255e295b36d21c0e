//! `/settle`, `/tab export` and `/expense edit`: settling the group's tab.
//! The group-visible ones name only debts on the tab (the group's shared
//! record); never a balance, a code or a payment's history.

pub(crate) const GROUPS_ONLY: &str =
    "Settling belongs to a group's tab: use /settle in the group you share expenses with.";

/// The memo of a settlement's payment.
pub(crate) const SETTLE_MEMO: &str = "settling the tab";

pub(crate) const NOTHING_TO_SETTLE: &str = "Everyone is square: nothing to settle.";

pub(crate) const NOT_YOURSELF: &str = "You cannot settle with yourself.";

pub(crate) fn too_many_settlements(max: usize) -> String {
    format!("This group's tab holds {max} settlements, the most it can.")
}

/// The sender owes nobody; the debtors in `asked` were asked privately
/// now, those in `recently` within the last `interval` (not again).
pub(crate) fn asked(asked: &[String], recently: &[String], interval: &str) -> String {
    let recent = if recently.is_empty() {
        String::new()
    } else {
        format!(
            " {} {} asked within the last {interval} already; I ask each at most once in {interval}.",
            recently.join(", "),
            if recently.len() == 1 { "was" } else { "were" }
        )
    };
    if asked.is_empty() {
        return format!("You owe nothing here.{recent}");
    }
    format!(
        "You owe nothing here. I asked {} privately to settle their part.{recent}",
        asked.join(", ")
    )
}

/// A debtor's private ask: `debts` are lines like `@alice $20.00`;
/// `group` the group's name where the platform gives one.
pub(crate) fn ask_to_settle(asker: &str, group: Option<&str>, debts: &[String]) -> String {
    let group = group.map(|g| format!(" in “{g}”")).unwrap_or_default();
    format!(
        "{asker} asks everyone to settle the group tab{group}. You owe {}. Type /settle in that group to pay with a code, or /settle @handle AMOUNT cash there if you paid outside paybot.",
        debts.join(" and ")
    )
}

/// One of the settlements a `/settle` to several people would write no
/// longer fits (another one started meanwhile): nothing was started.
pub(crate) fn already_waiting_many(creditors: &[String]) -> String {
    format!(
        "A settlement of yours to {} is already waiting (for your code, or for an answer); finish or cancel it first, then /settle again.",
        creditors.join(" or ")
    )
}

/// After starting one currency's settlements: what is left for another
/// `/settle` (other currencies, or creditors past the most one code pays).
pub(crate) fn settle_the_rest(debts: &[String]) -> String {
    format!(
        "You also owe {}: /settle again for that (one code per currency).",
        debts.join(" and ")
    )
}

pub(crate) fn owe_nothing(to: &str) -> String {
    format!("You owe {to} nothing on the tab here.")
}

pub(crate) fn which_currency(to: &str, debts: &[String]) -> String {
    format!(
        "You owe {to} {}: say which with an amount, e.g. /settle {to} 20 EUR.",
        debts.join(" and ")
    )
}

pub(crate) fn more_than_owed(to: &str, asked: &str, owed: &str) -> String {
    format!(
        "You owe {to} {owed} on the tab here, less than {asked}. /settle {to} {owed} settles it all; pay the rest with /pay if you mean to."
    )
}

pub(crate) fn settle_in_parts(to: &str, owed: &str) -> String {
    format!(
        "You owe {to} {owed} on the tab here, more than one payment may be. Settle it in parts: /settle {to} AMOUNT."
    )
}

pub(crate) fn already_waiting(to: &str) -> String {
    format!(
        "A settlement of yours to {to} is already waiting (for your code, or for {to} to confirm it); finish or cancel it first (/settle cancel REF for a cash one)."
    )
}

/// The public line for a cash settlement.
pub(crate) fn cash_recorded(payer: &str, payee: &str, amount: &str, reference: &str) -> String {
    format!(
        "Settlement {reference}: {payer} says they paid {payee} {amount} outside paybot. It counts on the tab once {payee} confirms it."
    )
}

/// The payee's private prompt for a cash settlement.
pub(crate) fn confirm_cash(payer: &str, amount: &str, reference: &str) -> String {
    format!(
        "{payer} says they paid you {amount} outside paybot, toward your group's tab (settlement {reference}). Did you get it? /settle confirm {reference} or /settle reject {reference}."
    )
}

pub(crate) const CONFIRM_BUTTON: &str = "Yes, I got it";
pub(crate) const REJECT_BUTTON: &str = "No";
pub(crate) const SETTLE_BUTTON: &str = "Settle";

pub(crate) fn no_such_settlement(reference: &str) -> String {
    format!("There is no cash settlement {reference} waiting for your answer.")
}

pub(crate) fn already_answered(reference: &str) -> String {
    format!("Settlement {reference} was answered already.")
}

/// The payee answers a cash settlement its payer cancelled.
pub(crate) fn cancelled_before_answer(reference: &str, payer: &str) -> String {
    format!(
        "{payer} cancelled settlement {reference} before you answered: there is nothing to confirm or reject, and it does not count on the tab."
    )
}

/// The payer's notice that their cash settlement expired unanswered.
pub(crate) fn expired_to_payer(reference: &str, payee: &str, amount: &str, waited: &str) -> String {
    format!(
        "Your cash settlement {reference} of {amount} to {payee} expired: {payee} did not answer within {waited}. It does not count on the tab; /settle {payee} AMOUNT cash in the group records it again."
    )
}

/// The payee's notice that a cash settlement to them expired unanswered.
pub(crate) fn expired_to_payee(reference: &str, payer: &str, amount: &str) -> String {
    format!(
        "Cash settlement {reference} from {payer} ({amount}) expired before you answered: it does not count on the tab, and there is nothing left to confirm or reject."
    )
}

/// The payee answers (or the payer cancels) a cash settlement that expired.
pub(crate) fn expired_already(reference: &str) -> String {
    format!(
        "Settlement {reference} expired before it was answered: it does not count on the tab, and there is nothing left to confirm, reject or cancel."
    )
}

pub(crate) fn no_such_own_settlement(reference: &str) -> String {
    format!("There is no cash settlement {reference} of yours to cancel.")
}

pub(crate) fn answered_cannot_cancel(reference: &str, payee: &str) -> String {
    format!(
        "{payee} answered settlement {reference} already, so it stays as answered; a correction is a new settlement or expense."
    )
}

/// The payer's reply to `/settle cancel REF`.
pub(crate) fn cash_cancelled(reference: &str, payee: &str, amount: &str) -> String {
    format!(
        "Cancelled: your cash settlement {reference} of {amount} to {payee} no longer waits and does not count on the tab. {payee} is told."
    )
}

/// The payee's notice that the payer withdrew a cash settlement.
pub(crate) fn cancel_to_payee(reference: &str, payer: &str, amount: &str) -> String {
    format!(
        "{payer} cancelled cash settlement {reference} of {amount}: it does not count on the tab, and there is nothing left to confirm or reject."
    )
}

pub(crate) fn answered(reference: &str, payer: &str, amount: &str, accept: bool) -> String {
    if accept {
        format!("Confirmed: {payer} paid you {amount} (settlement {reference}); the tab counts it.")
    } else {
        format!("Rejected: settlement {reference} ({payer}, {amount}) does not count on the tab.")
    }
}

/// The payer's notice of the payee's answer.
pub(crate) fn answer_to_payer(reference: &str, payee: &str, amount: &str, accept: bool) -> String {
    if accept {
        format!(
            "{payee} confirmed your cash settlement {reference} of {amount}; the tab counts it."
        )
    } else {
        format!(
            "{payee} says they did not get your cash settlement {reference} of {amount}; it does not count on the tab."
        )
    }
}

/// `/tab`'s line on the settlements that count.
pub(crate) fn settlements_counted(count: usize) -> String {
    if count == 1 {
        "1 settlement counted.".to_owned()
    } else {
        format!("{count} settlements counted.")
    }
}

/// The private reply carrying `/tab export`'s CSV.
pub(crate) fn export(rows: usize, cut: bool) -> String {
    let note = if cut {
        " (the newest ones only: the file has a size limit)"
    } else {
        ""
    };
    let rows = super::plural(u32::try_from(rows).unwrap_or(u32::MAX), "row");
    format!("The group's tab as a CSV file, {rows}{note}.")
}

pub(crate) fn not_the_author_edit(reference: &str, author: &str) -> String {
    format!("Only {author}, who added expense {reference}, can edit it.")
}

pub(crate) fn too_late_to_edit(reference: &str, window: &str) -> String {
    format!(
        "Expense {reference} was added more than {window} ago, so it stays as it is; add a correcting expense instead."
    )
}

pub(crate) fn other_currency(reference: &str, currency: &str) -> String {
    format!("Expense {reference} is in {currency}; an edit keeps its currency.")
}

pub(crate) fn edited(
    old: &str,
    new: &str,
    was: &str,
    total: &str,
    memo: &str,
    shares: &str,
) -> String {
    format!(
        "Expense {old} ({was}) is now {new}: {total}{memo}, shared in the same proportions: {shares}."
    )
}

/// The payer's notice: their settlement payment waiting for its code was
/// cancelled because `expense` was undone or edited.
pub(crate) fn settlement_lapsed(reference: &str, expense: &str) -> String {
    format!(
        "Your settlement payment {reference} was cancelled before it was paid: expense {expense} on the tab was undone or edited, so it no longer matches what you owe. Nothing was paid; /tab shows what you owe now, /settle pays it."
    )
}
