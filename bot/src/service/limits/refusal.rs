//! What a user refused by a limit is told (one line: which limit, what is
//! left, when it frees up, their tier), and the audit entry of every such
//! refusal.

use ledger::TransferError;

use super::texts;
use super::{LimitPlan, Movement};
use crate::limits::utc_minute_text;
use crate::service::{Bot, Result};
use crate::store::UserId;
use crate::trust::limits::LimitKind;
use crate::trust::{Actor, AuditEntry, AuditKind};

impl Bot {
    /// The line for a linked submit of [`LimitPlan::group`] refused at
    /// `index` with `error`, when a limit refused it (audited); `None` when
    /// it was something else (the movement's own funds, ...).
    pub(in crate::service) async fn limit_refusal(
        &self,
        plan: &LimitPlan,
        movement: &Movement<'_>,
        index: usize,
        error: &TransferError,
    ) -> Result<Option<String>> {
        let asked = movement.amount.to_string();
        let currency = movement.amount.currency();
        if index < plan.moves {
            let (0, TransferError::CreditBalanceExceeded, Some((holder, max))) =
                (index, error, plan.balance_max)
            else {
                return Ok(None);
            };
            self.audit_refusal(movement, holder, Some(LimitKind::Balance), Some(max), None)
                .await?;
            return Ok(Some(match movement.payee {
                Some((_, label)) if holder != movement.user => {
                    texts::over_their_limit(label, LimitKind::Balance, &asked)
                }
                _ => {
                    let line = self.balance_line(holder, currency, max).await?;
                    let tier = self.tier_of(holder).await?;
                    texts::over_your_limit(
                        LimitKind::Balance,
                        &ledger::format_minor(max, currency),
                        &asked,
                        &ledger::format_minor(line.left, currency),
                        "",
                        &self.tier_label(tier),
                    )
                }
            }));
        }
        let Some(used) = index.checked_sub(plan.moves).and_then(|i| plan.uses.get(i)) else {
            return Ok(None);
        };
        if *error != TransferError::InsufficientFunds {
            return Ok(None);
        }
        let line = self
            .window_line(used.user, used.kind, used.limit, Some(used.account))
            .await?;
        self.audit_refusal(
            movement,
            used.user,
            Some(used.kind),
            Some(line.left),
            line.frees_at_ms,
        )
        .await?;
        if used.user != movement.user
            && let Some((_, label)) = movement.payee
        {
            return Ok(Some(texts::over_their_limit(label, used.kind, &asked)));
        }
        let frees = line
            .frees_at_ms
            .map(|at| texts::frees_from(&utc_minute_text(at)))
            .unwrap_or_default();
        let tier = self.tier_of(used.user).await?;
        Ok(Some(texts::over_your_limit(
            used.kind,
            &used.limit.to_string(),
            &asked,
            &ledger::format_minor(line.left, currency),
            &frees,
            &self.tier_label(tier),
        )))
    }

    /// Audits a movement a limit refused: which limit, what was asked,
    /// what was left and when it frees up.
    pub(super) async fn audit_refusal(
        &self,
        movement: &Movement<'_>,
        user: UserId,
        kind: Option<LimitKind>,
        left: Option<i64>,
        frees_at_ms: Option<i64>,
    ) -> Result<()> {
        let currency = movement.amount.currency();
        let mut entry =
            AuditEntry::new(self.ledger.now_ms(), Actor::System, AuditKind::LimitChecked)
                .user(user)
                .subject(movement.subject)
                .detail("limit", kind.map_or("no_table", LimitKind::name))
                .detail("currency", currency.code())
                .detail("asked", movement.amount.to_string())
                .detail("result", "refused");
        if let Some(left) = left {
            entry = entry.detail("left", ledger::format_minor(left, currency));
        }
        if let Some(at) = frees_at_ms {
            entry = entry.detail("frees_at_ms", at);
        }
        self.audit(entry).await?;
        Ok(())
    }
}
