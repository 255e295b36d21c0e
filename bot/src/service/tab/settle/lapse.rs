//! A settlement waiting for its payer's code when the tab changes under
//! it (an expense undone or edited).
//!
//! The design decision to know: a waiting settlement's amount was checked
//! against what was owed when it was written; an undo or an edit does not
//! go through the ledger's commit, so it cannot re-check it there.
//! Instead, right after the change, every settlement through paybot still
//! waiting for its code whose payer now owes its payee less than their
//! waiting settlements come to has its payment cancelled (a payment to
//! several people: the whole of it, all or nothing as always), and the
//! payer is told privately. Nothing was paid, so nothing moves; the payer
//! settles again what they owe now.

use std::collections::BTreeSet;

use super::super::super::pay_many::LEG_REF_KIND;
use super::super::super::texts::settle as texts;
use super::super::super::turn::Turn;
use super::super::super::{Bot, Result};
use crate::store::PaymentState;
use crate::store::tab::{SettlementKind, SettlementState};

impl Bot {
    /// After `expense` (a reference) of this group's tab was undone or
    /// edited: cancels the waiting settlement payments that no longer fit
    /// what their payers owe, each payer told privately.
    pub(in crate::service::tab) async fn lapse_unfit_settlements(
        &self,
        turn: &Turn<'_>,
        expense: &str,
    ) -> Result<()> {
        let now = self.tab_now(turn.msg.platform, &turn.msg.chat.id).await?;
        let mut ended: BTreeSet<String> = BTreeSet::new();
        let mut notices = Vec::new();
        for settlement in &now.settlements {
            if settlement.state != SettlementState::Pending
                || settlement.kind != SettlementKind::Paid
            {
                continue;
            }
            let currency = settlement.amount.currency();
            let owed = now
                .debts
                .get(&currency)
                .and_then(|debts| {
                    debts
                        .iter()
                        .find(|d| d.from == settlement.payer && d.to == settlement.payee)
                })
                .map_or(0, |d| d.amount_minor);
            if now.pending(settlement.payer, settlement.payee, currency) <= owed {
                continue;
            }
            let Some(transfer) = settlement.payment_transfer else {
                continue;
            };
            let Some(payment) = self.store.payment_by_transfer(transfer).await? else {
                continue;
            };
            if payment.state != PaymentState::AwaitingCode {
                continue;
            }
            // A leg of a payment to several people ends with its group.
            let (reference, legs) = if payment.reference.as_str().starts_with(LEG_REF_KIND) {
                let group = self.store.pay_group(&payment.reference).await?;
                let legs = match &group {
                    Some(group) => self.group_legs(group, payment.payer).await?,
                    None => None,
                };
                match (group, legs) {
                    (Some(group), Some(legs)) => (group.reference.to_string(), legs),
                    _ => (payment.reference.to_string(), vec![payment]),
                }
            } else {
                (payment.reference.to_string(), vec![payment])
            };
            if !ended.insert(reference.clone()) {
                continue;
            }
            let mut cancelled = false;
            for leg in legs {
                if leg.state == PaymentState::AwaitingCode {
                    cancelled |= self.end_awaiting(leg, PaymentState::Cancelled).await?;
                }
            }
            if cancelled {
                notices.push(self.notice(
                    &format!("{reference}:tab-changed"),
                    settlement.platform,
                    &settlement.payer_platform_id,
                    texts::settlement_lapsed(&reference, expense),
                )?);
            }
        }
        self.ledger.enqueue_outbox(&notices).await?;
        Ok(())
    }
}
