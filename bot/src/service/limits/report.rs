//! What a user's limits stand at: one line per limit and currency, for
//! `/limits` and the operator's report. Reads only.

use ledger::{AccountId, AccountKind, Amount, Currency};

use super::texts;
use super::{LimitLine, USES_READ_MAX, allowance_owner};
use crate::limits::utc_minute_text;
use crate::service::{Bot, Result, Turn};
use crate::store::UserId;
use crate::trust::limits::LimitKind;

impl Bot {
    /// One windowed limit as it stands: used is what is in the window now
    /// (uses past their window count as returned, swept or not).
    pub(super) async fn window_line(
        &self,
        user: UserId,
        kind: LimitKind,
        limit: Amount,
        account: Option<AccountId>,
    ) -> Result<LimitLine> {
        let currency = limit.currency();
        let account = match account {
            Some(id) => self.ledger.account(id).await?,
            None => {
                let owner = allowance_owner(user, kind)?;
                self.ledger
                    .accounts_of(&owner)
                    .await?
                    .into_iter()
                    .find(|a| a.kind == AccountKind::Allowance && a.currency == currency)
            }
        };
        let now = self.ledger.now_ms();
        let (used, frees_at_ms) = match &account {
            Some(a) if a.debits_pending > 0 => {
                let uses = self.ledger.open_pending_debits(a.id, USES_READ_MAX).await?;
                let past: i64 = uses
                    .iter()
                    .filter(|t| t.expires_at_ms().is_some_and(|at| at <= now))
                    .map(|t| t.amount.minor())
                    .sum();
                let next = uses
                    .iter()
                    .filter_map(ledger::Transfer::expires_at_ms)
                    .find(|at| *at > now);
                (a.debits_pending.saturating_sub(past).max(0), next)
            }
            _ => (0, None),
        };
        // What the policy leaves; a reconciled allowance has exactly this
        // available (see the module docs).
        let left = limit.minor().saturating_sub(used).max(0);
        Ok(LimitLine {
            kind,
            currency,
            limit: limit.minor(),
            used,
            left,
            frees_at_ms,
        })
    }

    /// The balance cap as it stands (counting what is on its way in).
    pub(super) async fn balance_line(
        &self,
        user: UserId,
        currency: Currency,
        max: i64,
    ) -> Result<LimitLine> {
        let wallet = self.wallet(user, currency).await?;
        let held = self.ledger.account(wallet).await?.map_or(0, |a| {
            a.credits_posted
                .saturating_add(a.credits_pending)
                .saturating_sub(a.debits_posted)
        });
        Ok(LimitLine {
            kind: LimitKind::Balance,
            currency,
            limit: max,
            used: held,
            left: max.saturating_sub(held).max(0),
            frees_at_ms: None,
        })
    }

    /// Every limit of `user` in every currency they hold, as it stands now
    /// (for `paybot admin user` and `/limits`). Reads only. A currency their
    /// tier has no table for has no lines.
    pub async fn limits_report(&self, user: UserId) -> Result<Vec<LimitLine>> {
        let mut lines = Vec::new();
        for currency in self.currencies_of(user).await? {
            let (_, table) = self.limits_table(user, currency).await?;
            let Some(table) = table else { continue };
            for kind in LimitKind::ALL {
                let limit = table.get(kind);
                lines.push(match kind {
                    LimitKind::Balance => self.balance_line(user, currency, limit.minor()).await?,
                    LimitKind::SinglePayment => LimitLine {
                        kind,
                        currency,
                        limit: limit.minor(),
                        used: 0,
                        left: limit.minor(),
                        frees_at_ms: None,
                    },
                    _ => self.window_line(user, kind, limit, None).await?,
                });
            }
        }
        Ok(lines)
    }

    /// `/limits`: privately, per currency, each limit with what is left and
    /// when more frees up.
    pub(in crate::service) async fn limits(&self, turn: &mut Turn<'_>) -> Result<()> {
        let user = turn.me.user;
        let tier = self.tier_of(user).await?;
        let report = self.limits_report(user).await?;
        let mut out = vec![texts::heading(&self.tier_label(tier))];
        for currency in self.currencies_of(user).await? {
            let mine: Vec<&LimitLine> = report.iter().filter(|l| l.currency == currency).collect();
            if mine.is_empty() {
                out.push(texts::currency_not_offered_line(currency.code()));
                continue;
            }
            out.push(texts::currency_heading(currency.code()));
            for line in mine {
                let frees = line
                    .frees_at_ms
                    .map(|at| texts::frees_line(&utc_minute_text(at.max(turn.now_ms))))
                    .unwrap_or_default();
                out.push(texts::limit_line(
                    line.kind,
                    &ledger::format_minor(line.limit, currency),
                    &ledger::format_minor(line.left, currency),
                    &frees,
                ));
            }
        }
        turn.private(out.join("\n"));
        Ok(())
    }
}
