//! `/tab export`: the group's expenses and settlements as a CSV file, sent
//! to the asker privately.
//!
//! The design decision to know: one row per person and entry (an expense's
//! line; a settlement's payer, who paid it, and payee, who is owed it back),
//! so summing `paid - owed` per member over the rows that count gives the
//! tab's nets. Bounded twice: at most [`TAB_EXPORT_ROWS_MAX`] rows and
//! [`TAB_EXPORT_BYTES_MAX`] bytes, newest first.

use super::super::BotError;
use super::super::texts::settle as texts;
use super::super::turn::Turn;
use super::super::{Bot, Result};
use super::TAB_SETTLEMENTS_MAX;
use crate::message::{DOCUMENT_BYTES_MAX, Document};
use crate::store::tab::{Expense, Settlement, SettlementKind, SettlementState};

/// Most CSV rows `/tab export` sends.
pub const TAB_EXPORT_ROWS_MAX: usize = 5_000;
/// Most expenses `/tab export` reads.
pub const TAB_EXPORT_EXPENSES_MAX: u32 = 5_000;
/// Most bytes of the CSV file `/tab export` sends: the bound of any file
/// a reply carries.
pub const TAB_EXPORT_BYTES_MAX: usize = DOCUMENT_BYTES_MAX;

const HEADER: &str = "date,type,reference,currency,amount,memo,member,paid,owed,state";

impl Bot {
    pub(super) async fn tab_export(&self, turn: &mut Turn<'_>) -> Result<()> {
        let (platform, chat) = (turn.msg.platform, turn.msg.chat.id.clone());
        let expenses = self
            .store
            .expenses_of_chat(platform, &chat, true, TAB_EXPORT_EXPENSES_MAX)
            .await?;
        let settlements_max = u32::try_from(TAB_SETTLEMENTS_MAX).unwrap_or(u32::MAX);
        let settlements = self
            .store
            .settlements_of_chat(platform, &chat, settlements_max)
            .await?;
        // Others' settlements only once they count: whether someone's
        // payment waits for its code or lapsed is theirs to know.
        let me = turn.me.user;
        let settlements: Vec<Settlement> = settlements
            .into_iter()
            .filter(|s| s.state == SettlementState::Counted || s.payer == me || s.payee == me)
            .collect();
        let (csv, rows, cut) = csv_of(&expenses, &settlements);
        let day = date_of(turn.now_ms);
        let Some(file) = Document::csv(format!("paybot-tab-{day}.csv"), csv) else {
            return Err(BotError::Inconsistent(
                "a tab export over its bounds".to_owned(),
            ));
        };
        turn.private_document(texts::export(rows, cut), file);
        Ok(())
    }
}

/// The CSV text, its row count (the header aside) and whether rows were
/// left out.
fn csv_of(expenses: &[Expense], settlements: &[Settlement]) -> (String, usize, bool) {
    // (time, rows of one entry), newest first.
    let mut entries: Vec<(i64, Vec<String>)> = Vec::new();
    for expense in expenses {
        let currency = expense.total.currency();
        let state = if expense.undone_at_ms.is_some() {
            "undone"
        } else {
            "on the tab"
        };
        let rows = expense
            .lines
            .iter()
            .map(|line| {
                row(&[
                    &date_of(expense.created_at_ms),
                    "expense",
                    expense.reference.as_str(),
                    currency.code(),
                    &plain(expense.total.minor(), currency),
                    expense.memo.as_ref().map_or("", |m| m.as_str()),
                    &line.label,
                    &plain(line.paid_minor, currency),
                    &plain(line.owed_minor, currency),
                    state,
                ])
            })
            .collect();
        entries.push((expense.created_at_ms, rows));
    }
    for s in settlements {
        let currency = s.amount.currency();
        let amount = plain(s.amount.minor(), currency);
        let zero = plain(0, currency);
        let kind = match s.kind {
            SettlementKind::Paid => "settlement",
            SettlementKind::Cash => "settlement in cash",
        };
        let date = date_of(s.created_at_ms);
        let rows = [
            (&s.payer_label, &amount, &zero),
            (&s.payee_label, &zero, &amount),
        ]
        .into_iter()
        .map(|(who, paid, owed)| {
            row(&[
                &date,
                kind,
                s.reference.as_str(),
                currency.code(),
                &amount,
                "",
                who,
                paid,
                owed,
                s.state.as_str(),
            ])
        })
        .collect();
        entries.push((s.created_at_ms, rows));
    }
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    // The last line break included.
    let budget = TAB_EXPORT_BYTES_MAX.saturating_sub(1);
    let mut csv = String::from(HEADER);
    let (mut rows, mut cut) = (0, false);
    'entries: for (_, entry) in entries {
        let bytes: usize = entry.iter().map(|r| r.len() + 1).sum();
        if rows + entry.len() > TAB_EXPORT_ROWS_MAX || csv.len() + bytes > budget {
            cut = true;
            break 'entries;
        }
        for line in entry {
            csv.push('\n');
            csv.push_str(&line);
            rows += 1;
        }
    }
    csv.push('\n');
    (csv, rows, cut)
}

/// One CSV line: fields quoted where needed, and text a spreadsheet would
/// run as a formula (`=`, `+`, `-`, `@` first) made plain text.
fn row(fields: &[&str]) -> String {
    fields
        .iter()
        .map(|field| {
            let guarded = if field.starts_with(['=', '+', '-', '@', '\t', '\r'])
                && field.parse::<f64>().is_err()
            {
                format!("'{field}")
            } else {
                (*field).to_owned()
            };
            if guarded.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", guarded.replace('"', "\"\""))
            } else {
                guarded
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Minor units as a plain decimal (`1234` USD is `12.34`), no symbol.
fn plain(minor: i64, currency: ledger::Currency) -> String {
    let exponent = currency.exponent();
    if exponent == 0 {
        return minor.to_string();
    }
    let scale = 10_i64.checked_pow(exponent).unwrap_or(1);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let scale = scale.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = usize::try_from(exponent).unwrap_or(0)
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
    use super::{plain, row};

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(
            row(&["a", "b,c", "say \"hi\""]),
            "a,\"b,c\",\"say \"\"hi\"\"\""
        );
        assert_eq!(row(&["=SUM(A1)", "@bob", "-1.50"]), "'=SUM(A1),'@bob,-1.50");
    }

    #[test]
    fn amounts_are_plain_decimals() {
        assert_eq!(plain(1234, ledger::Currency::USD), "12.34");
        assert_eq!(plain(5, ledger::Currency::USD), "0.05");
    }
}
