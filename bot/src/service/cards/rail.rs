//! Top-ups and cash-outs with the rail: the money a cash-out reserves,
//! posts or voids, bringing the ledger and the record in line with the
//! rail's answer, and the sweep that resends `Sent` requests, asks about
//! `Pending` ones and expires codes nobody confirmed.
//!
//! The decision to know: the ledger moves before the record says so, and
//! every ledger transfer of an operation derives its id from the
//! operation's, so applying an answer twice (a resend, a racing worker)
//! moves nothing twice.

use ledger::{
    AccountKind, Amount, NewTransfer, OutboxMessage, SubmitError, TransferError, TransferId,
};

use super::{
    CASHOUT_HOLD_SECS, RAIL_RETRY_MS, RAIL_RETRY_MS_MAX, SWEEP_CARD_OPS_MAX, card_transfer_codes,
    op_label,
};
use crate::calendar::UtcMoment;
use crate::card::{CardTransfer, RailError, RailOutcome};
use crate::service::limits::{CASHOUT_KINDS, TOPUP_KINDS, card_movement};
use crate::service::texts::cards as texts;
use crate::service::{Bot, BotError, Result, minutes};
use crate::store::{CardOp, CardOpKind, CardOpState};

/// Ledger transfer ids of an operation, derived from its id.
fn op_transfer(op: &CardOp, step: &str) -> TransferId {
    TransferId::derive(
        &format!("paybot.bot.card.{step}"),
        &op.transfer_id.as_u128().to_be_bytes(),
    )
}

/// What reserving a cash-out came to.
pub(super) enum Reserved {
    Done,
    /// Not enough money.
    Short,
    /// A limit refused it: the line to tell the user.
    Refused(String),
}

/// How a rail answer left an operation, for the message about it.
pub(super) enum Settled {
    Completed,
    Declined(String),
    Pending,
    Unknown,
}

impl Bot {
    /// Reserves a cash-out's amount and fee (idempotent), linked with its
    /// use of the cash-out limit.
    /// `notices` (to the wallet's other identities) are written with the
    /// reservation, in the same transaction.
    pub(super) async fn reserve_cashout(
        &self,
        op: &CardOp,
        notices: Vec<OutboxMessage>,
    ) -> Result<Reserved> {
        let currency = op.amount.currency();
        let wallet = self.wallet(op.user, currency).await?;
        let clearing = self
            .system_account(AccountKind::CardClearing, currency)
            .await?;
        let mut group = vec![
            NewTransfer::pending(
                op_transfer(op, "cashout.hold"),
                wallet,
                clearing,
                op.amount,
                CASHOUT_HOLD_SECS,
            )
            .with_code(card_transfer_codes::CASHOUT),
        ];
        if let Ok(fee) = Amount::from_minor(op.fee_minor, currency) {
            let fees = self.system_account(AccountKind::Fees, currency).await?;
            group.push(
                NewTransfer::pending(
                    op_transfer(op, "cashout.fee-hold"),
                    wallet,
                    fees,
                    fee,
                    CASHOUT_HOLD_SECS,
                )
                .with_code(card_transfer_codes::CASHOUT_FEE),
            );
        }
        let subject = op.reference.to_string();
        let movement = card_movement(op.kind, op.transfer_id, op.amount, op.user, &subject);
        let mut plan = match self.plan_limits(&movement).await? {
            Ok(plan) => plan,
            Err(line) => return Ok(Reserved::Refused(line)),
        };
        let unit = ledger::Unit {
            transfers: group,
            outbox: notices,
            records: Vec::new(),
        };
        match self.submit_limited(&mut plan, unit).await {
            Ok(_) => Ok(Reserved::Done),
            Err(SubmitError::Rejected { index, error }) => {
                if let Some(line) = self.limit_refusal(&plan, &movement, index, &error).await? {
                    return Ok(Reserved::Refused(line));
                }
                match error {
                    TransferError::InsufficientFunds => Ok(Reserved::Short),
                    error => Err(SubmitError::Rejected { index, error }.into()),
                }
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Posts (`post`) or voids a cash-out's reservation, whichever of its
    /// transfers exist. Already resolved the same way is fine.
    async fn resolve_cashout(&self, op: &CardOp, post: bool) -> Result<()> {
        let mut group = vec![];
        let holds = [("cashout.hold", "cashout.post", "cashout.void")];
        let fee_holds = [("cashout.fee-hold", "cashout.fee-post", "cashout.fee-void")];
        let steps = holds
            .iter()
            .chain(fee_holds.iter().filter(|_| op.fee_minor > 0));
        for (hold, post_step, void_step) in steps {
            let pending = op_transfer(op, hold);
            group.push(if post {
                NewTransfer::post(op_transfer(op, post_step), pending, None)
            } else {
                NewTransfer::void(op_transfer(op, void_step), pending)
            });
        }
        let resolved = match self.ledger.submit_linked(group).await {
            Ok(_) => Ok(()),
            Err(SubmitError::Rejected { error, .. }) => match (post, &error) {
                (true, TransferError::AlreadyPosted)
                | (false, TransferError::AlreadyVoided | TransferError::AlreadyExpired) => Ok(()),
                _ => Err(BotError::Inconsistent(format!(
                    "cash-out {} could not be {}: {error}",
                    op.reference,
                    if post { "posted" } else { "voided" }
                ))),
            },
            Err(error) => Err(error.into()),
        };
        if resolved.is_ok() && !post {
            self.release_limits(op.transfer_id, &CASHOUT_KINDS).await?;
        }
        resolved
    }

    /// Voids whatever a cash-out that never reached the rail reserved
    /// (usually nothing: the code was never confirmed).
    pub(super) async fn release_cashout(&self, op: &CardOp) -> Result<()> {
        let held = self
            .ledger
            .transfer(op_transfer(op, "cashout.hold"))
            .await?
            .is_some();
        if held {
            self.resolve_cashout(op, false).await?;
        }
        Ok(())
    }

    /// Brings the ledger and the record in line with what the rail said
    /// about `op` (in `Sent` or `Pending`).
    pub(super) async fn apply_rail_answer(
        &self,
        op: CardOp,
        answer: std::result::Result<RailOutcome, RailError>,
    ) -> Result<(CardOp, Settled)> {
        let now_ms = self.ledger.now_ms();
        let mut next = op.clone();
        next.updated_at_ms = now_ms;
        let settled = match answer {
            Ok(RailOutcome::Approved { .. }) => {
                match op.kind {
                    CardOpKind::TopUp => {
                        let currency = op.amount.currency();
                        let clearing = self
                            .system_account(AccountKind::CardClearing, currency)
                            .await?;
                        let wallet = self.wallet(op.user, currency).await?;
                        self.ledger
                            .submit(
                                NewTransfer::single(
                                    op_transfer(&op, "topup.credit"),
                                    clearing,
                                    wallet,
                                    op.amount,
                                )
                                .with_code(card_transfer_codes::TOPUP),
                            )
                            .await?;
                    }
                    CardOpKind::CashOut => self.resolve_cashout(&op, true).await?,
                }
                next.state = CardOpState::Completed;
                next.due_at_ms = None;
                Settled::Completed
            }
            Ok(RailOutcome::Declined { reason, code }) => {
                match op.kind {
                    CardOpKind::CashOut => self.resolve_cashout(&op, false).await?,
                    CardOpKind::TopUp => self.release_limits(op.transfer_id, &TOPUP_KINDS).await?,
                }
                next.state = CardOpState::Declined;
                next.decline_code = Some(code);
                next.due_at_ms = None;
                Settled::Declined(reason.user_text().to_owned())
            }
            Ok(RailOutcome::Pending { reference }) => {
                next.state = CardOpState::Pending;
                next.rail_reference = Some(reference);
                next.due_at_ms = Some(now_ms.saturating_add(retry_delay_ms(op.rail_attempts)));
                Settled::Pending
            }
            Err(RailError::Permanent(error)) if op.state == CardOpState::Pending => {
                // The rail no longer knows the pending reference: resend
                // the original request, which it recognises by its
                // transfer id (or decides afresh if it never saw it).
                tracing::warn!(%error, op = %op.reference, "card status refused; resending the request");
                next.state = CardOpState::Sent;
                next.rail_reference = None;
                next.due_at_ms = Some(now_ms.saturating_add(retry_delay_ms(op.rail_attempts)));
                Settled::Unknown
            }
            Err(RailError::Permanent(error)) => {
                tracing::warn!(%error, op = %op.reference, "card rail refused the request; nothing moved");
                match op.kind {
                    CardOpKind::CashOut => self.resolve_cashout(&op, false).await?,
                    CardOpKind::TopUp => self.release_limits(op.transfer_id, &TOPUP_KINDS).await?,
                }
                next.state = CardOpState::Declined;
                next.due_at_ms = None;
                Settled::Declined(texts::RAIL_REFUSED_REASON.to_owned())
            }
            Err(RailError::Transient(error)) => {
                tracing::warn!(%error, op = %op.reference, "card rail did not answer; will ask again");
                next.due_at_ms = Some(now_ms.saturating_add(retry_delay_ms(op.rail_attempts)));
                Settled::Unknown
            }
        };
        if self.store.update_card_op(&next).await? {
            next.revision = next.revision.saturating_add(1);
            return Ok((next, settled));
        }
        // Another worker recorded it first; the ledger moved once.
        let now = self.store.card_op(&op.reference).await?.ok_or_else(|| {
            BotError::Inconsistent(format!("card operation {} vanished", op.reference))
        })?;
        let settled = match now.state {
            CardOpState::Completed => Settled::Completed,
            CardOpState::Declined => Settled::Declined(texts::CARD_DECLINED_REASON.to_owned()),
            CardOpState::Pending => Settled::Pending,
            _ => Settled::Unknown,
        };
        Ok((now, settled))
    }

    /// Resumes due card operations: expires codes nobody confirmed, resends
    /// `Sent` requests, asks about `Pending` ones; tells the user when one
    /// is decided. Returns how many ended. An operation that fails is logged
    /// and tried again next round; it does not stop the others.
    pub(in crate::service) async fn sweep_card_ops(&self, now_ms: i64) -> Result<usize> {
        let due = self.store.card_ops_due(now_ms, SWEEP_CARD_OPS_MAX).await?;
        let mut ended = 0;
        for op in due {
            let reference = op.reference.clone();
            match self.resume_card_op(op).await {
                Ok(true) => ended += 1,
                Ok(false) => {}
                Err(error) => {
                    tracing::error!(%error, op = %reference, "cannot resume card operation");
                }
            }
        }
        Ok(ended)
    }

    async fn resume_card_op(&self, op: CardOp) -> Result<bool> {
        match op.state {
            CardOpState::AwaitingCode => {
                let notice = self.notice(
                    &format!("{}:card:expired", op.reference),
                    op.platform,
                    &op.platform_user_id,
                    texts::op_not_confirmed(
                        op.kind,
                        &op.reference,
                        &op.amount,
                        &op_label(&op),
                        &minutes(self.config.otp.ttl_secs),
                    ),
                )?;
                if self.end_card_op(op, CardOpState::Expired).await? {
                    self.ledger.enqueue_outbox(&[notice]).await?;
                    return Ok(true);
                }
                Ok(false)
            }
            CardOpState::Held => self.expire_card_hold(op, self.ledger.now_ms()).await,
            CardOpState::Sent | CardOpState::Pending => {
                let Some(rail) = self.rail() else {
                    return Ok(false);
                };
                let mut asking = op.clone();
                asking.rail_attempts = op.rail_attempts.saturating_add(1);
                let answer = match (&op.state, &op.rail_reference) {
                    (CardOpState::Pending, Some(reference)) => rail.status(reference).await,
                    _ => {
                        let transfer = card_transfer(&op)?;
                        match op.kind {
                            CardOpKind::TopUp => rail.pull(&transfer).await,
                            CardOpKind::CashOut => rail.push(&transfer).await,
                        }
                    }
                };
                let (after, settled) = self.apply_rail_answer(asking, answer).await?;
                if matches!(settled, Settled::Completed | Settled::Declined(_)) {
                    let notice = self.notice(
                        &format!("{}:card:{}", after.reference, after.state.as_str()),
                        after.platform,
                        &after.platform_user_id,
                        settled_text(&after, &settled),
                    )?;
                    self.ledger.enqueue_outbox(&[notice]).await?;
                    return Ok(true);
                }
                Ok(false)
            }
            _ => Ok(false),
        }
    }
}

/// The rail request of `op`, rebuilt field for field from its record.
pub(super) fn card_transfer(op: &CardOp) -> Result<CardTransfer> {
    let initiated_at = op
        .initiated_at_ms
        .and_then(UtcMoment::from_unix_ms)
        .ok_or_else(|| {
            BotError::Inconsistent(format!(
                "card operation {} was sent without a time",
                op.reference
            ))
        })?;
    Ok(CardTransfer::new(
        op.transfer_id,
        op.token.clone(),
        op.amount,
        initiated_at,
    ))
}

fn retry_delay_ms(attempts: u32) -> i64 {
    let shift = attempts.saturating_sub(1).min(16);
    RAIL_RETRY_MS
        .saturating_mul(1_i64 << shift)
        .min(RAIL_RETRY_MS_MAX)
}

/// What the user is told about `op` after a rail answer.
pub(super) fn settled_text(op: &CardOp, settled: &Settled) -> String {
    let label = op_label(op);
    let amount = op.amount;
    let reference = &op.reference;
    match (op.kind, settled) {
        (CardOpKind::TopUp, Settled::Completed) => texts::topup_done(&amount, &label, reference),
        (CardOpKind::CashOut, Settled::Completed) if op.fee_minor > 0 => {
            texts::cashout_done_with_fee(
                &amount,
                &label,
                reference,
                op.fee_minor,
                amount.currency(),
            )
        }
        (CardOpKind::CashOut, Settled::Completed) => {
            texts::cashout_done(&amount, &label, reference)
        }
        (CardOpKind::TopUp, Settled::Declined(reason)) => {
            texts::topup_declined(reference, &amount, &label, reason)
        }
        (CardOpKind::CashOut, Settled::Declined(reason)) => {
            texts::cashout_declined(reference, &amount, &label, reason)
        }
        (kind, Settled::Pending) => texts::op_pending(kind, reference, &amount, &label),
        (kind, Settled::Unknown) => texts::op_unknown(kind, reference, &amount, &label),
    }
}
