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

/// The public answer to `/expense`; `extra`: lines after the shares (the
/// items, the rounding).
pub(crate) fn added(
    reference: &str,
    total: &str,
    memo: &str,
    paid_by: &str,
    shares: &str,
    extra: &[&str],
    undo_window: &str,
) -> String {
    let mut text = format!(
        "Expense {reference} on the tab: {total}{memo}, paid by {paid_by}. Shares: {shares}."
    );
    for line in extra {
        text.push('\n');
        text.push_str(line);
    }
    text.push_str(&format!(
        "\n/tab shows who owes whom; /expense undo {reference} takes it off (its author, within {undo_window})."
    ));
    text
}

/// One item of an itemised expense: `pizza $18.00 (@bob)`.
pub(crate) fn item(what: Option<&str>, amount: &str, who: &str) -> String {
    match what {
        Some(what) => format!("{what} {amount} ({who})"),
        None => format!("{amount} ({who})"),
    }
}

/// The items line of an itemised expense's reply; `rest` is what they
/// leave of the total, shared equally.
pub(crate) fn items(items: &[String], rest: Option<&str>) -> String {
    let mut text = format!("Items: {}", items.join(", "));
    match rest {
        Some(rest) => text.push_str(&format!("; the rest, {rest}, shared equally.")),
        None => text.push('.'),
    }
    text
}

pub(crate) fn items_exceed(items: &str, total: &str) -> String {
    format!("the items add up to {items}, more than the total {total}")
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

/// The public answer to `/expense ... every ...`; `what` is the total and
/// memo, `extra` as for [`added`].
pub(crate) fn recurring_set(
    reference: &str,
    what: &str,
    rule: &str,
    first: &str,
    paid_by: &str,
    shares: &str,
    extra: &[&str],
) -> String {
    let mut text = format!(
        "Recurring expense {reference}: {what}, {rule}, added to the tab each time (first on {first}), paid by {paid_by}. Shares: {shares}."
    );
    for line in extra {
        text.push('\n');
        text.push_str(line);
    }
    text.push_str(&format!(
        "\nNo money moves. /expense recurring lists them; /expense stop {reference} ends it (its author)."
    ));
    text
}

pub(crate) fn too_many_recurring(max: usize) -> String {
    format!(
        "This group has {max} recurring expenses, the most it can; end one with /expense stop REF first."
    )
}

/// The group told that a period was added: `rent $1,200.00 (every month, E7K2QX)`.
pub(crate) fn recurring_added(
    what: &str,
    rule: &str,
    expense: &str,
    recurring: &str,
    next: Option<&str>,
) -> String {
    let next = match next {
        Some(next) => format!(" Next: {next}."),
        None => " That was the last one.".to_owned(),
    };
    format!(
        "Added to the tab: {what} ({rule}, {expense}; recurring {recurring}).{next} /expense undo {expense} takes this one off (its author)."
    )
}

/// A period not added because paybot was down past the grace window.
pub(crate) fn recurring_missed(what: &str, recurring: &str, when: &str) -> String {
    format!(
        "Recurring expense {recurring} ({what}) was due {when}, too long ago while I was away, so that one was not added; the next ones will be."
    )
}

/// A period not added because someone on it is no longer in the group.
pub(crate) fn recurring_member_gone(what: &str, recurring: &str, when: &str, who: &str) -> String {
    format!(
        "Recurring expense {recurring} ({what}) due {when} was not added: {who} is no longer known in this group under the account it names. Its author can /expense stop {recurring} and set it up again."
    )
}

/// A period not added because the tab is full.
pub(crate) fn recurring_tab_full(what: &str, recurring: &str, max: usize) -> String {
    format!(
        "Recurring expense {recurring} ({what}) was not added this time: the tab holds {max} expenses, the most it can."
    )
}

pub(crate) const NO_RECURRING: &str =
    "No recurring expenses here. Add one with /expense 1200 split @a @b every month for rent.";

pub(crate) fn recurring_heading(count: usize) -> String {
    if count == 1 {
        "1 recurring expense here:".to_owned()
    } else {
        format!("{count} recurring expenses here:")
    }
}

/// `• G7K2QX: $1,200.00 for “rent”, every month, by @alice; next Fri 2027-01-01 09:00 UTC`.
pub(crate) fn recurring_line(
    reference: &str,
    what: &str,
    rule: &str,
    author: &str,
    next: &str,
) -> String {
    format!("• {reference}: {what}, {rule}, by {author}; next {next}")
}

pub(crate) fn no_such_recurring(reference: &str) -> String {
    format!("There is no recurring expense {reference} in this group.")
}

pub(crate) fn not_the_recurring_author(reference: &str, author: &str) -> String {
    format!("Only {author}, who set up recurring expense {reference}, can stop it.")
}

pub(crate) fn recurring_already_ended(reference: &str) -> String {
    format!("Recurring expense {reference} has already ended.")
}

pub(crate) fn recurring_stopped(reference: &str, what: &str) -> String {
    format!(
        "Recurring expense {reference} ({what}) is stopped: nothing more is added. What it already added stays on the tab."
    )
}
