//! `/expense edit REF TOTAL [for MEMO]`: a new total for an expense.
//!
//! The design decision to know: an edit is the old expense taken off the
//! tab and its replacement put on, in one transaction (the old one stays
//! in `/tab history`, undone); the replacement keeps the people and the
//! proportions (each part rescaled by largest remainder, so the parts
//! still add up exactly) and the original's time, so the edit window does
//! not restart.

use ledger::Amount;

use super::super::texts::settle as settle_texts;
use super::super::texts::{minutes, with_memo};
use super::super::turn::{REF_BODY_CHARS, REF_BODY_CHARS_LONG, Turn, derive, event_key, short_ref};
use super::super::{Bot, Result};
use super::{EXPENSE_UNDO_SECS, inconsistent, texts};
use crate::command::{Memo, ShortRef};
use crate::store::tab::{Expense, ExpenseLine};
use crate::tab::{self, TabError};

impl Bot {
    pub(in crate::service) async fn expense_edit(
        &self,
        turn: &mut Turn<'_>,
        reference: &ShortRef,
        total: Amount,
        memo: Option<Memo>,
    ) -> Result<()> {
        if !turn.in_group() {
            turn.here(texts::GROUPS_ONLY);
            return Ok(());
        }
        let found = self
            .store
            .expense(reference)
            .await?
            .filter(|e| e.platform == turn.msg.platform && e.chat == turn.msg.chat.id);
        let Some(old) = found else {
            turn.for_sender(texts::no_such_expense(&reference.to_string()));
            return Ok(());
        };
        let old_ref = old.reference.to_string();
        if old.undone_at_ms.is_some() {
            turn.for_sender(texts::already_undone(&old_ref));
            return Ok(());
        }
        if old.author != turn.me.user {
            turn.for_sender(settle_texts::not_the_author_edit(
                &old_ref,
                &old.author_label,
            ));
            return Ok(());
        }
        let window_ms = i64::from(EXPENSE_UNDO_SECS) * 1_000;
        if turn.now_ms.saturating_sub(old.created_at_ms) > window_ms {
            turn.for_sender(settle_texts::too_late_to_edit(
                &old_ref,
                &minutes(EXPENSE_UNDO_SECS),
            ));
            return Ok(());
        }
        let currency = old.total.currency();
        if total.currency() != currency {
            turn.for_sender(settle_texts::other_currency(&old_ref, currency.code()));
            return Ok(());
        }
        let owed: Vec<i64> = old.lines.iter().map(|l| l.owed_minor).collect();
        let paid: Vec<i64> = old.lines.iter().map(|l| l.paid_minor).collect();
        let owed = rescale(total.minor(), &owed).map_err(inconsistent)?;
        let paid = rescale(total.minor(), &paid).map_err(inconsistent)?;
        let lines: Vec<ExpenseLine> = old
            .lines
            .iter()
            .zip(owed.iter().zip(&paid))
            .map(|(line, (owed, paid))| ExpenseLine {
                user: line.user,
                label: line.label.clone(),
                paid_minor: *paid,
                owed_minor: *owed,
            })
            .collect();
        let id = derive("paybot.bot.expense.edit", &event_key(turn.msg));
        let mut new = Expense {
            reference: short_ref('E', id, REF_BODY_CHARS)?,
            expense_id: id,
            platform: old.platform,
            chat: old.chat.clone(),
            author: old.author,
            author_label: old.author_label.clone(),
            total,
            memo: memo.or_else(|| old.memo.clone()),
            lines,
            created_at_ms: old.created_at_ms,
            undone_at_ms: None,
        };
        let mut stored = self
            .store
            .replace_expense(&old.reference, &new, turn.now_ms)
            .await?;
        if stored.is_none() {
            // Its reference taken by another expense, or the old one
            // undone meanwhile: once more under the long reference.
            new.reference = short_ref('E', id, REF_BODY_CHARS_LONG)?;
            stored = self
                .store
                .replace_expense(&old.reference, &new, turn.now_ms)
                .await?;
        }
        let Some(stored) = stored else {
            turn.for_sender(texts::already_undone(&old_ref));
            return Ok(());
        };
        self.lapse_unfit_settlements(turn, &old_ref).await?;
        let shares: Vec<String> = stored
            .lines
            .iter()
            .filter(|l| l.owed_minor > 0)
            .map(|l| texts::part(&l.label, &ledger::format_minor(l.owed_minor, currency)))
            .collect();
        turn.here(settle_texts::edited(
            &old_ref,
            &stored.reference.to_string(),
            &old.total.to_string(),
            &stored.total.to_string(),
            &with_memo(stored.memo.as_ref()),
            &shares.join(", "),
        ));
        Ok(())
    }
}

/// `total_minor` in proportion to `parts` (those at 0 stay at 0), by
/// largest remainder: the result adds up to `total_minor` exactly.
fn rescale(total_minor: i64, parts: &[i64]) -> std::result::Result<Vec<i64>, TabError> {
    let weights: Vec<u64> = parts
        .iter()
        .filter(|p| **p > 0)
        .map(|p| p.unsigned_abs())
        .collect();
    let mut allocated = tab::allocate(total_minor, &weights)?.shares.into_iter();
    Ok(parts
        .iter()
        .map(|p| {
            if *p > 0 {
                allocated.next().unwrap_or(0)
            } else {
                0
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::rescale;

    #[test]
    fn rescaling_keeps_proportions_and_adds_up() {
        assert_eq!(rescale(8000, &[3000, 3000, 0]), Ok(vec![4000, 4000, 0]));
        let parts = rescale(1000, &[2000, 2000, 2000]).unwrap_or_default();
        assert_eq!(parts.iter().sum::<i64>(), 1000);
        assert_eq!(parts, vec![334, 333, 333]);
    }
}
