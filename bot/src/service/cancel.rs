//! `/cancel [REF]`: the sender's own payment waiting for its code, or a
//! card operation of theirs waiting for one; anything else is refused with
//! what it is now.

use ledger::{NewTransfer, SubmitError};

use super::escrow::{hold_id, hold_resolved_as};
use super::limits::PAYMENT_KINDS;
use super::pay_many::is_group_ref;
use super::texts::pay::{self as texts, describe_state};
use super::turn::{Turn, derive};
use super::{Bot, Result};
use crate::command::ShortRef;
use crate::store::PaymentState;

impl Bot {
    pub(super) async fn cancel(
        &self,
        turn: &mut Turn<'_>,
        reference: Option<ShortRef>,
    ) -> Result<()> {
        if let Some(reference) = &reference
            && is_group_ref(reference)
            && let Some(group) = self.store.pay_group(reference).await?
        {
            return self.cancel_pay_group(turn, group).await;
        }
        let card_op = match &reference {
            Some(reference) => self
                .store
                .card_op(reference)
                .await?
                .filter(|op| op.user == turn.me.user),
            None => None,
        };
        if let Some(op) = card_op {
            return self.cancel_card_op(turn, op).await;
        }
        let card_add = match &reference {
            Some(reference) => self
                .store
                .card_add(reference)
                .await?
                .filter(|add| add.user == turn.me.user),
            None => None,
        };
        if let Some(add) = card_add {
            return self.cancel_card_add(turn, add).await;
        }
        // A bare /cancel with no payment waiting: the card operation, else
        // the card link, waiting for a code.
        if reference.is_none()
            && self
                .store
                .payments_awaiting_code(turn.me.user)
                .await?
                .is_empty()
        {
            let ops = self.store.card_ops_awaiting_code(turn.me.user).await?;
            if let Some(op) = ops.into_iter().next() {
                return self.cancel_card_op(turn, op).await;
            }
            let adds = self.store.card_adds_awaiting_code(turn.me.user).await?;
            if let Some(add) = adds.into_iter().next() {
                return self.cancel_card_add(turn, add).await;
            }
        }
        let payment = match &reference {
            Some(reference) => self
                .store
                .payment(reference)
                .await?
                .filter(|p| p.payer == turn.me.user),
            None => self
                .store
                .payments_awaiting_code(turn.me.user)
                .await?
                .into_iter()
                .next(),
        };
        let Some(payment) = payment else {
            turn.for_sender(match reference {
                Some(reference) => texts::no_such_payment(&reference.to_string()),
                None => texts::NOTHING_TO_CANCEL.to_owned(),
            });
            return Ok(());
        };
        if is_group_ref(&payment.reference)
            && let Some(group) = self.store.pay_group(&payment.reference).await?
        {
            return self.cancel_pay_group(turn, group).await;
        }
        let reference = payment.reference.clone();
        let what = texts::what(&payment.amount.to_string(), &payment.payee_label);
        match payment.state {
            PaymentState::AwaitingCode => {
                if self.end_awaiting(payment, PaymentState::Cancelled).await? {
                    turn.here(texts::cancelled(&reference.to_string(), &what));
                } else {
                    turn.for_sender(texts::already_settled(&reference.to_string()));
                }
            }
            PaymentState::Escrowed => {
                let void = NewTransfer::void(
                    derive("paybot.bot.escrow.cancel", &reference.to_string()),
                    hold_id(&payment),
                );
                match self.ledger.submit(void).await {
                    Ok(_) => {
                        self.release_limits(payment.transfer_id, &PAYMENT_KINDS)
                            .await?;
                        self.reconcile(payment, PaymentState::Refunded).await?;
                        turn.here(texts::cancelled_hold(&reference.to_string(), &what));
                    }
                    Err(SubmitError::Rejected { error, .. }) => {
                        let state = hold_resolved_as(&error);
                        self.reconcile(payment, state).await?;
                        turn.for_sender(texts::already(
                            &reference.to_string(),
                            describe_state(state),
                        ));
                    }
                    Err(error) => return Err(error.into()),
                }
            }
            state => turn.for_sender(texts::cannot_cancel(
                &reference.to_string(),
                describe_state(state),
            )),
        }
        Ok(())
    }
}
