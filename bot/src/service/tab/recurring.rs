//! Recurring group expenses: `/expense 1200 split @a @b every month for
//! rent` sets one up, `/expense recurring` lists the group's, `/expense
//! stop REF` ends one (its author), and the sweep adds each period's
//! expense to the tab.
//!
//! The design decision to know: the schedule is the standing orders' own
//! ([`Schedule`], the author's time zone, the same run time and late-grace
//! rule), and each period's expense has an id derived from (recurring id,
//! period), inserted before the recurring expense moves on to the next
//! period by compare-and-swap; the group's notice is an outbox message
//! keyed by the period. So a period is added and announced once, whatever
//! restarts or races. No money moves: the tab records it.

use std::collections::HashSet;

use ledger::Amount;

use super::super::standing::run_text;
use super::super::texts::tab as texts;
use super::super::texts::with_memo;
use super::super::turn::{REF_BODY_CHARS, REF_BODY_CHARS_LONG, Turn, derive, event_key, short_ref};
use super::super::{Bot, BotError, Result};
use super::{ExpenseReply, members_max};
use crate::command::{CommandName, Memo, ShortRef};
use crate::message::{Audience, Reply};
use crate::notify::outbox_message;
use crate::recurrence::{Recurrence, Schedule};
use crate::store::tab::{Expense, ExpenseLine, RecurringExpense};
use crate::tab::TAB_EXPENSES_MAX;

/// Recurring expenses one group may have running at once.
pub const RECURRING_EXPENSES_PER_CHAT_MAX: usize = 20;
/// Due recurring expenses handled per sweep round.
pub const SWEEP_RECURRING_EXPENSES_MAX: u32 = 256;
/// Periods of one recurring expense handled per sweep round (a server
/// down for long skips many at once, each told).
pub const RECURRING_PERIODS_PER_SWEEP_MAX: u32 = 32;

impl Bot {
    /// Sets up a recurring expense with these lines (computed as for a
    /// one-off expense) and answers in the group.
    pub(super) async fn recurring_setup(
        &self,
        turn: &mut Turn<'_>,
        total: Amount,
        memo: Option<Memo>,
        lines: Vec<ExpenseLine>,
        recurrence: Recurrence,
        reply: ExpenseReply,
    ) -> Result<()> {
        let (platform, chat) = (turn.msg.platform, turn.msg.chat.id.clone());
        let max = u32::try_from(RECURRING_EXPENSES_PER_CHAT_MAX).unwrap_or(u32::MAX);
        let running = self
            .store
            .recurring_expenses_of_chat(platform, &chat, max)
            .await?;
        let id = derive("paybot.bot.expense.recurring", &event_key(turn.msg));
        // A redelivered set-up finds what it stored, even when full now.
        let retry = running.iter().any(|r| r.recurring_id == id);
        if running.len() >= RECURRING_EXPENSES_PER_CHAT_MAX && !retry {
            turn.for_sender(texts::too_many_recurring(RECURRING_EXPENSES_PER_CHAT_MAX));
            return Ok(());
        }
        let (zone, _) = self.zone_of(turn.me.user).await?;
        let schedule =
            match Schedule::starting(recurrence, zone, self.config.standing.run_at, turn.now_ms) {
                Ok(schedule) => schedule,
                Err(error) => {
                    turn.for_sender(texts::does_not_work(
                        &error.to_string(),
                        CommandName::Expense.usage(),
                    ));
                    return Ok(());
                }
            };
        let due_at_ms = schedule.run_at_ms(0).ok_or_else(|| {
            BotError::Inconsistent("a new schedule without a first run".to_owned())
        })?;
        let mut recurring = RecurringExpense {
            reference: short_ref('G', id, REF_BODY_CHARS)?,
            recurring_id: id,
            platform,
            chat,
            author: turn.me.user,
            author_label: turn.me_label(),
            total,
            memo,
            lines,
            schedule,
            next_period: 0,
            due_at_ms: Some(due_at_ms),
            created_at_ms: turn.now_ms,
            stopped_at_ms: None,
        };
        let mut stored = self.store.insert_recurring_expense(&recurring).await?;
        if stored.recurring_id != id {
            recurring.reference = short_ref('G', id, REF_BODY_CHARS_LONG)?;
            stored = self.store.insert_recurring_expense(&recurring).await?;
            if stored.recurring_id != id {
                return Err(BotError::Inconsistent(format!(
                    "recurring expense reference {} taken twice",
                    recurring.reference
                )));
            }
        }
        turn.here(texts::recurring_set(
            &stored.reference.to_string(),
            &what(&stored),
            &stored.schedule.recurrence().to_string(),
            &run_text(&stored.schedule, 0).unwrap_or_default(),
            &reply.paid_by,
            &reply.shares,
            &reply.extra(),
        ));
        Ok(())
    }

    /// `/expense recurring`: the group's recurring expenses.
    pub(in crate::service) async fn expense_recurring(&self, turn: &mut Turn<'_>) -> Result<()> {
        if !turn.in_group() {
            turn.here(texts::GROUPS_ONLY);
            return Ok(());
        }
        let max = u32::try_from(RECURRING_EXPENSES_PER_CHAT_MAX).unwrap_or(u32::MAX);
        let running = self
            .store
            .recurring_expenses_of_chat(turn.msg.platform, &turn.msg.chat.id, max)
            .await?;
        if running.is_empty() {
            turn.here(texts::NO_RECURRING);
            return Ok(());
        }
        let mut lines = vec![texts::recurring_heading(running.len())];
        for recurring in &running {
            lines.push(texts::recurring_line(
                &recurring.reference.to_string(),
                &what(recurring),
                &recurring.schedule.recurrence().to_string(),
                &recurring.author_label,
                &run_text(&recurring.schedule, recurring.next_period).unwrap_or_default(),
            ));
        }
        turn.here(lines.join("\n"));
        Ok(())
    }

    /// `/expense stop REF`: its author ends a recurring expense.
    pub(in crate::service) async fn expense_stop(
        &self,
        turn: &mut Turn<'_>,
        reference: &ShortRef,
    ) -> Result<()> {
        if !turn.in_group() {
            turn.here(texts::GROUPS_ONLY);
            return Ok(());
        }
        let found = self
            .store
            .recurring_expense(reference)
            .await?
            .filter(|r| r.platform == turn.msg.platform && r.chat == turn.msg.chat.id);
        let Some(recurring) = found else {
            turn.for_sender(texts::no_such_recurring(&reference.to_string()));
            return Ok(());
        };
        let reference = recurring.reference.to_string();
        if recurring.author != turn.me.user {
            turn.for_sender(texts::not_the_recurring_author(
                &reference,
                &recurring.author_label,
            ));
            return Ok(());
        }
        if recurring.due_at_ms.is_none()
            || !self
                .store
                .stop_recurring_expense(&recurring.reference, turn.now_ms)
                .await?
        {
            turn.for_sender(texts::recurring_already_ended(&reference));
            return Ok(());
        }
        turn.here(texts::recurring_stopped(&reference, &what(&recurring)));
        Ok(())
    }

    /// Adds the periods of recurring expenses that are due. Returns how
    /// many periods it added or skipped.
    pub(in crate::service) async fn sweep_tab_recurring(&self, now_ms: i64) -> Result<usize> {
        let due = self
            .store
            .recurring_expenses_due(now_ms, SWEEP_RECURRING_EXPENSES_MAX)
            .await?;
        let mut handled = 0;
        for recurring in due {
            let mut recurring = recurring;
            for _ in 0..RECURRING_PERIODS_PER_SWEEP_MAX {
                let reference = recurring.reference.clone();
                // One failure (the database, for a moment) holds up no
                // other: it is tried again next round.
                match self.add_period(recurring, now_ms).await {
                    Ok(Some(next)) => {
                        handled += 1;
                        match next.due_at_ms {
                            Some(due) if due <= now_ms => recurring = next,
                            _ => break,
                        }
                    }
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(recurring = %reference, %error, "a recurring expense's period failed; will retry");
                        break;
                    }
                }
            }
        }
        Ok(handled)
    }

    /// Adds (or skips, telling the group) the recurring expense's next
    /// period, then moves it on. `None`: nothing was due, it ended, or
    /// another sweep moved it first.
    async fn add_period(
        &self,
        recurring: RecurringExpense,
        now_ms: i64,
    ) -> Result<Option<RecurringExpense>> {
        let k = recurring.next_period;
        let Some(run_ms) = recurring.schedule.run_at_ms(k) else {
            // No period left: it has ended.
            self.store
                .advance_recurring_expense(&recurring.reference, k, k, None)
                .await?;
            return Ok(None);
        };
        if run_ms > now_ms {
            // A due time that fell behind the schedule.
            self.store
                .advance_recurring_expense(&recurring.reference, k, k, Some(run_ms))
                .await?;
            return Ok(None);
        }
        let reference = recurring.reference.to_string();
        let when = run_text(&recurring.schedule, k).unwrap_or_default();
        let grace_ms = i64::from(self.config.standing.late_grace_secs).saturating_mul(1_000);
        let notice = if now_ms.saturating_sub(run_ms) > grace_ms {
            // Due longer ago than the grace window (paybot was down).
            (
                "missed",
                texts::recurring_missed(&what(&recurring), &reference, &when),
            )
        } else if let Some(gone) = self.gone_from_group(&recurring).await? {
            (
                "gone",
                texts::recurring_member_gone(&what(&recurring), &reference, &when, &gone),
            )
        } else if usize::try_from(
            self.store
                .open_expense_count(recurring.platform, &recurring.chat)
                .await?,
        )
        .unwrap_or(usize::MAX)
            >= TAB_EXPENSES_MAX
        {
            (
                "full",
                texts::recurring_tab_full(&what(&recurring), &reference, TAB_EXPENSES_MAX),
            )
        } else {
            let expense = self.add_period_expense(&recurring, k, now_ms).await?;
            let next = recurring
                .schedule
                .run_at_ms(k.saturating_add(1))
                .and_then(|_| run_text(&recurring.schedule, k.saturating_add(1)));
            (
                "added",
                texts::recurring_added(
                    &what(&recurring),
                    &recurring.schedule.recurrence().to_string(),
                    &expense.reference.to_string(),
                    &reference,
                    next.as_deref(),
                ),
            )
        };
        let (kind, text) = notice;
        let reply = Reply {
            image: None,
            platform: recurring.platform,
            audience: Audience::Chat(recurring.chat.clone()),
            text,
            redacted: None,
            buttons: Vec::new(),
            deletion: None,
            document: None,
        };
        let message = outbox_message(&format!("{}:{k}:{kind}", recurring.recurring_id), &reply)?;
        self.ledger.enqueue_outbox(&[message]).await?;
        let to = k.saturating_add(1);
        let due_at_ms = recurring.schedule.run_at_ms(to);
        if !self
            .store
            .advance_recurring_expense(&recurring.reference, k, to, due_at_ms)
            .await?
        {
            return Ok(None);
        }
        Ok(Some(RecurringExpense {
            next_period: to,
            due_at_ms,
            ..recurring
        }))
    }

    /// Period `k`'s expense, stored once under its derived id.
    async fn add_period_expense(
        &self,
        recurring: &RecurringExpense,
        k: u32,
        now_ms: i64,
    ) -> Result<Expense> {
        let id = period_expense_id(recurring, k);
        let mut expense = Expense {
            reference: short_ref('E', id, REF_BODY_CHARS)?,
            expense_id: id,
            platform: recurring.platform,
            chat: recurring.chat.clone(),
            author: recurring.author,
            author_label: recurring.author_label.clone(),
            total: recurring.total,
            memo: recurring.memo.clone(),
            lines: recurring.lines.clone(),
            created_at_ms: now_ms,
            undone_at_ms: None,
        };
        let mut stored = self.store.insert_expense(&expense).await?;
        if stored.expense_id != id {
            expense.reference = short_ref('E', id, REF_BODY_CHARS_LONG)?;
            stored = self.store.insert_expense(&expense).await?;
            if stored.expense_id != id {
                return Err(BotError::Inconsistent(format!(
                    "expense reference {} taken twice",
                    expense.reference
                )));
            }
        }
        Ok(stored)
    }

    /// Who on the recurring expense is no longer a member of its group
    /// under the account it names (their account was linked to another
    /// wallet, or unlinked): their labels, or `None` when all are.
    async fn gone_from_group(&self, recurring: &RecurringExpense) -> Result<Option<String>> {
        let members = self
            .store
            .group_members(recurring.platform, &recurring.chat, members_max())
            .await?;
        let users: HashSet<_> = members.iter().map(|m| m.user).collect();
        let gone: Vec<&str> = recurring
            .lines
            .iter()
            .filter(|l| !users.contains(&l.user))
            .map(|l| l.label.as_str())
            .collect();
        Ok((!gone.is_empty()).then(|| gone.join(", ")))
    }
}

/// The expense id of a recurring expense's period `k`: derived, so the
/// period is added once whoever adds it.
fn period_expense_id(recurring: &RecurringExpense, k: u32) -> ledger::TransferId {
    derive(
        "paybot.bot.expense.period",
        &format!("{}:{k}", recurring.recurring_id),
    )
}

/// `$1,200.00 for “rent”`.
fn what(recurring: &RecurringExpense) -> String {
    format!("{}{}", recurring.total, with_memo(recurring.memo.as_ref()))
}
