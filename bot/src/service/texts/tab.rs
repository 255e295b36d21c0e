//! `/expense` and `/tab`: the group's shared record of who paid what and
//! who owes whom. These texts may be shown in the group; none of them holds
//! a wallet balance, a code or a payment.

pub(crate) const GROUPS_ONLY: &str =
    "The tab belongs to a group: use /expense and /tab in the group you share expenses with.";

pub(crate) const ALONE: &str = "I know nobody else in this group yet. Name the people who share it (they need to have written here since I joined), or ask them to say hi first.";

pub(crate) fn not_a_member(who: &str) -> String {
    format!("{who} has not used paybot in this group yet; they can write anything here first.")
}

pub(crate) fn in_twice(who: &str) -> String {
    format!("{who} is named twice (one person, two names).")
}

pub(crate) fn too_many_expenses(max: usize) -> String {
    format!(
        "This group's tab holds {max} expenses, the most it can; undo some with /expense undo REF first."
    )
}

/// An expense that does not work as given; `why` starts lower case.
pub(crate) fn does_not_work(why: &str, usage: &str) -> String {
    format!("That expense does not work: {why}. Usage: {usage}")
}

pub(crate) fn exact_mismatch(sum: &str, total: &str) -> String {
    format!("the exact shares add up to {sum}, not the total {total}")
}

pub(crate) fn exact_leaves_nothing(total: &str) -> String {
    format!("the exact shares use up the whole {total}, leaving nothing for the people without one")
}

pub(crate) fn paid_mismatch(sum: &str, total: &str) -> String {
    format!("the amounts paid add up to {sum}, not the total {total}")
}

/// `@alice $20.00`: a part in a list.
pub(crate) fn part(who: &str, amount: &str) -> String {
    format!("{who} {amount}")
}

/// The public answer to `/expense`.
pub(crate) fn added(
    reference: &str,
    total: &str,
    memo: &str,
    paid_by: &str,
    shares: &str,
    rounding: Option<&str>,
    undo_window: &str,
) -> String {
    let mut text = format!(
        "Expense {reference} on the tab: {total}{memo}, paid by {paid_by}. Shares: {shares}."
    );
    if let Some(rounding) = rounding {
        text.push('\n');
        text.push_str(rounding);
    }
    text.push_str(&format!(
        "\n/tab shows who owes whom; /expense undo {reference} takes it off (its author, within {undo_window})."
    ));
    text
}

/// How the shares were rounded: `unit` is one minor unit (`$0.01`).
pub(crate) fn rounding(unit: &str, owed_more: &[String], paid_more: &[String]) -> Option<String> {
    let mut parts = Vec::new();
    if !owed_more.is_empty() {
        parts.push(format!("{unit} more for {}", owed_more.join(", ")));
    }
    if !paid_more.is_empty() {
        parts.push(format!("{unit} more paid by {}", paid_more.join(", ")));
    }
    (!parts.is_empty()).then(|| {
        format!(
            "Rounding: {} (the odd units go to the largest remainders, ties in the order named).",
            parts.join("; ")
        )
    })
}

pub(crate) fn no_such_expense(reference: &str) -> String {
    format!("There is no expense {reference} in this group.")
}

pub(crate) fn already_undone(reference: &str) -> String {
    format!("Expense {reference} is already off the tab.")
}

pub(crate) fn not_the_author(reference: &str, author: &str) -> String {
    format!("Only {author}, who added expense {reference}, can undo it.")
}

pub(crate) fn too_late_to_undo(reference: &str, window: &str) -> String {
    format!(
        "Expense {reference} was added more than {window} ago, so it stays on the tab; add a correcting expense instead."
    )
}

pub(crate) fn undone(reference: &str, total: &str, memo: &str) -> String {
    format!("Expense {reference} ({total}{memo}) is off the tab.")
}

pub(crate) const EMPTY: &str =
    "Nothing on the tab here yet. Add an expense with /expense 60 for dinner.";

pub(crate) const SQUARE: &str = "Everyone is square.";

/// The heading of `/tab`.
pub(crate) fn heading(expenses: usize) -> String {
    if expenses == 1 {
        "The tab here (1 expense):".to_owned()
    } else {
        format!("The tab here ({expenses} expenses):")
    }
}

/// A currency's heading when the tab holds several.
pub(crate) fn in_currency(code: &str) -> String {
    format!("In {code}:")
}

/// One simplified transfer.
pub(crate) fn owes(from: &str, to: &str, amount: &str) -> String {
    format!("\u{2022} {from} owes {to} {amount}")
}

/// What simplification did, for one currency.
pub(crate) fn simplified(direct: usize, transfers: usize, people: usize) -> String {
    if direct <= transfers {
        format!(
            "Already as simple as it gets: {}.",
            count(transfers, "transfer", "transfers")
        )
    } else {
        format!(
            "Simplified: {} between pairs became {} (at most one fewer than the {} people involved); everyone's total is unchanged.",
            count(direct, "debt", "debts"),
            count(transfers, "transfer", "transfers"),
            people
        )
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

pub(crate) fn member_heading(who: &str) -> String {
    format!("{who} on the tab here:")
}

pub(crate) fn member_net(net: &str, paid: &str, share: &str, owed_to: bool) -> String {
    if owed_to {
        format!("\u{2022} is owed {net} in all (paid {paid}, share {share})")
    } else {
        format!("\u{2022} owes {net} in all (paid {paid}, share {share})")
    }
}

pub(crate) fn member_square(paid: &str, share: &str) -> String {
    format!("\u{2022} is square (paid {paid}, share {share})")
}

pub(crate) fn pays(to: &str, amount: &str) -> String {
    format!("  \u{2022} pays {to} {amount}")
}

pub(crate) fn gets(from: &str, amount: &str) -> String {
    format!("  \u{2022} gets {amount} from {from}")
}

pub(crate) fn not_on_tab(who: &str) -> String {
    format!("{who} is not on the tab here.")
}

pub(crate) fn history_heading(expenses: usize, settlements: usize) -> String {
    let what = match (expenses, settlements) {
        (e, 0) => count(e, "expense", "expenses"),
        (0, s) => count(s, "settlement", "settlements"),
        (e, s) => format!(
            "{} and {}",
            count(e, "expense", "expenses"),
            count(s, "settlement", "settlements")
        ),
    };
    format!("The last {what} here, newest first:")
}

/// `/tab history`'s line for a settlement that counts, or a cash one
/// waiting for its payee's answer.
pub(crate) fn history_settlement_line(
    reference: &str,
    date: &str,
    payer: &str,
    payee: &str,
    amount: &str,
    cash: bool,
    waiting: bool,
) -> String {
    let how = if cash { "in cash" } else { "through paybot" };
    let waiting = if waiting {
        format!(" (waiting for {payee} to confirm)")
    } else {
        String::new()
    };
    format!(
        "\u{2022} {reference} {date}: {payer} paid {payee} {amount} {how}, settling the tab{waiting}"
    )
}

pub(crate) fn history_line(
    reference: &str,
    date: &str,
    total: &str,
    memo: &str,
    paid_by: &str,
    people: usize,
    undone: bool,
) -> String {
    let undone = if undone { " (undone)" } else { "" };
    format!(
        "\u{2022} {reference} {date}: {total}{memo}, paid by {paid_by}, shared by {}{undone}",
        count(people, "person", "people")
    )
}
