//! `/tab history`: the group's recent expenses and settlements, newest
//! first, in the group (the tab is the group's shared record).
//!
//! The design decision to know: a settlement is listed when it counts on
//! the tab, or when it is a cash one waiting for its payee's answer
//! (marked so); one whose payment waits for its code, or that lapsed, was
//! rejected or expired, is not on the tab and not listed. Both lists are
//! read bounded and merged by time; at most [`TAB_HISTORY_MAX`] entries.

use super::super::texts::tab as texts;
use super::super::texts::with_memo;
use super::super::turn::Turn;
use super::super::{Bot, Result};
use crate::store::tab::{Expense, ExpenseLine, Settlement, SettlementKind, SettlementState};

/// Most entries (expenses and settlements) `/tab history` lists.
pub const TAB_HISTORY_MAX: u32 = 10;
/// Most of the group's newest settlements `/tab history` reads to find
/// the ones it lists (those that lapsed are skipped).
pub const TAB_HISTORY_SETTLEMENTS_READ_MAX: u32 = 100;

impl Bot {
    /// `/tab history`.
    pub(super) async fn tab_history(&self, turn: &mut Turn<'_>) -> Result<()> {
        let (platform, chat) = (turn.msg.platform, turn.msg.chat.id.clone());
        let expenses = self
            .store
            .expenses_of_chat(platform, &chat, true, TAB_HISTORY_MAX)
            .await?;
        let settlements = self
            .store
            .settlements_of_chat(platform, &chat, TAB_HISTORY_SETTLEMENTS_READ_MAX)
            .await?;
        turn.here(history_text(&expenses, &settlements));
        Ok(())
    }
}

/// Whether `/tab history` lists the settlement.
fn listed(settlement: &Settlement) -> bool {
    match settlement.state {
        SettlementState::Counted => true,
        SettlementState::Pending => settlement.kind == SettlementKind::Cash,
        SettlementState::Rejected | SettlementState::Lapsed | SettlementState::Expired => false,
    }
}

enum Entry<'a> {
    Expense(&'a Expense),
    Settlement(&'a Settlement),
}

impl Entry<'_> {
    fn at_ms(&self) -> i64 {
        match self {
            Entry::Expense(expense) => expense.created_at_ms,
            Entry::Settlement(settlement) => settlement.created_at_ms,
        }
    }
}

/// The reply: both lists (each newest first) merged by time, newest first.
fn history_text(expenses: &[Expense], settlements: &[Settlement]) -> String {
    let mut entries: Vec<Entry<'_>> = expenses.iter().map(Entry::Expense).collect();
    entries.extend(
        settlements
            .iter()
            .filter(|s| listed(s))
            .map(Entry::Settlement),
    );
    // Stable: at the same moment, expenses before settlements.
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.at_ms()));
    entries.truncate(usize::try_from(TAB_HISTORY_MAX).unwrap_or(usize::MAX));
    if entries.is_empty() {
        return texts::EMPTY.to_owned();
    }
    let shown_expenses = entries
        .iter()
        .filter(|e| matches!(e, Entry::Expense(_)))
        .count();
    let shown_settlements = entries.len().saturating_sub(shown_expenses);
    let mut lines = vec![texts::history_heading(shown_expenses, shown_settlements)];
    for entry in entries {
        lines.push(match entry {
            Entry::Expense(expense) => expense_line(expense),
            Entry::Settlement(settlement) => texts::history_settlement_line(
                &settlement.reference.to_string(),
                &date_of(settlement.created_at_ms),
                &settlement.payer_label,
                &settlement.payee_label,
                &settlement.amount.to_string(),
                settlement.kind == SettlementKind::Cash,
                settlement.state == SettlementState::Pending,
            ),
        });
    }
    lines.join("\n")
}

fn expense_line(expense: &Expense) -> String {
    let currency = expense.total.currency();
    let payers: Vec<&ExpenseLine> = expense.lines.iter().filter(|l| l.paid_minor > 0).collect();
    let paid_by: Vec<String> = if payers.len() == 1 {
        payers.iter().map(|l| l.label.clone()).collect()
    } else {
        payers
            .iter()
            .map(|l| texts::part(&l.label, &ledger::format_minor(l.paid_minor, currency)))
            .collect()
    };
    let sharing = expense.lines.iter().filter(|l| l.owed_minor > 0).count();
    texts::history_line(
        &expense.reference.to_string(),
        &date_of(expense.created_at_ms),
        &expense.total.to_string(),
        &with_memo(expense.memo.as_ref()),
        &paid_by.join(", "),
        sharing,
        expense.undone_at_ms.is_some(),
    )
}

/// A moment's date in UTC (`2026-12-04`).
fn date_of(unix_ms: i64) -> String {
    crate::recurrence::UserTimeZone::utc()
        .date_at(unix_ms)
        .map(|date| date.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use ledger::{Amount, Currency, TransferId};

    use super::*;
    use crate::command::ShortRef;
    use crate::message::{ChatId, Platform, PlatformUserId};
    use crate::store::UserId;

    const DAY_MS: i64 = 24 * 60 * 60 * 1_000;
    /// 2026-01-01 00:00 UTC.
    const T0: i64 = 1_767_225_600_000;

    fn expense(n: u128, at_ms: i64) -> Expense {
        Expense {
            reference: ShortRef::parse(&format!("E{n:06}")).unwrap(),
            expense_id: TransferId::new(n).unwrap(),
            platform: Platform::Mock,
            chat: ChatId::new("flat").unwrap(),
            author: UserId(1),
            author_label: "@alice".to_owned(),
            total: Amount::from_minor(6_000, Currency::USD).unwrap(),
            memo: None,
            lines: vec![
                ExpenseLine {
                    user: UserId(1),
                    label: "@alice".to_owned(),
                    paid_minor: 6_000,
                    owed_minor: 3_000,
                },
                ExpenseLine {
                    user: UserId(2),
                    label: "@bob".to_owned(),
                    paid_minor: 0,
                    owed_minor: 3_000,
                },
            ],
            created_at_ms: at_ms,
            undone_at_ms: None,
        }
    }

    fn settlement(n: u128, at_ms: i64, kind: SettlementKind, state: SettlementState) -> Settlement {
        Settlement {
            reference: ShortRef::parse(&format!("T{n:06}")).unwrap(),
            settlement_id: TransferId::new(n).unwrap(),
            platform: Platform::Mock,
            chat: ChatId::new("flat").unwrap(),
            payer: UserId(2),
            payer_label: "@bob".to_owned(),
            payer_platform_id: PlatformUserId::new("bob").unwrap(),
            payee: UserId(1),
            payee_label: "@alice".to_owned(),
            payee_platform_id: PlatformUserId::new("alice").unwrap(),
            amount: Amount::from_minor(1_000, Currency::USD).unwrap(),
            kind,
            payment_transfer: None,
            state,
            created_at_ms: at_ms,
            decided_at_ms: None,
        }
    }

    #[test]
    fn settlements_are_interleaved_with_expenses_by_time() {
        let expenses = [expense(2, T0 + 2 * DAY_MS), expense(1, T0)];
        let settlements = [
            settlement(
                4,
                T0 + 3 * DAY_MS,
                SettlementKind::Cash,
                SettlementState::Pending,
            ),
            settlement(
                3,
                T0 + DAY_MS,
                SettlementKind::Paid,
                SettlementState::Counted,
            ),
        ];
        let text = history_text(&expenses, &settlements);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.first().copied(),
            Some("The last 2 expenses and 2 settlements here, newest first:")
        );
        assert!(lines[1].contains("T000004 2026-01-04: @bob paid @alice $10.00 in cash"));
        assert!(lines[1].contains("waiting for @alice to confirm"));
        assert!(lines[2].contains("E000002 2026-01-03"));
        assert!(lines[3].contains("T000003 2026-01-02: @bob paid @alice $10.00 through paybot"));
        assert!(!lines[3].contains("waiting"));
        assert!(lines[4].contains("E000001 2026-01-01"));
    }

    #[test]
    fn settlements_that_are_not_on_the_tab_are_not_listed() {
        let settlements = [
            settlement(1, T0, SettlementKind::Paid, SettlementState::Pending),
            settlement(2, T0, SettlementKind::Paid, SettlementState::Lapsed),
            settlement(3, T0, SettlementKind::Cash, SettlementState::Rejected),
            settlement(4, T0, SettlementKind::Cash, SettlementState::Expired),
        ];
        assert_eq!(history_text(&[], &settlements), texts::EMPTY);
    }

    #[test]
    fn at_most_the_bound_newest_first() {
        let expenses: Vec<Expense> = (0..8)
            .map(|n| expense(100 + n, T0 + i64::try_from(n).unwrap() * DAY_MS))
            .rev()
            .collect();
        let settlements: Vec<Settlement> = (0..8)
            .map(|n| {
                let at = T0 + i64::try_from(n).unwrap() * DAY_MS + 1;
                settlement(200 + n, at, SettlementKind::Cash, SettlementState::Counted)
            })
            .rev()
            .collect();
        let text = history_text(&expenses, &settlements);
        let entries = text.lines().count() - 1;
        assert_eq!(entries, usize::try_from(TAB_HISTORY_MAX).unwrap());
        assert!(text.lines().nth(1).unwrap().contains("T000207"));
        assert!(!text.contains("E000102"), "the oldest are left out");
    }
}
