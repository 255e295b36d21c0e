//! Escrow: money paid to a handle nobody has claimed yet, held until its
//! owner starts paybot (claimed) or the hold runs out (refunded).
//!
//! The design decision to know: handles change hands, so the handle alone
//! names nobody. Only an identity paybot first saw at or after the payment
//! may claim it; one it knew before under another name gets nothing, and
//! the payer is told (see [`Bot::claim_escrow`]).

use ledger::{AccountId, AccountKind, NewTransfer, SubmitError, TransferError, TransferId};

use super::texts::escrow as texts;
use super::texts::{minutes, platform_name, with_memo};
use super::turn::{Turn, derive};
use super::{Bot, Result, transfer_codes};
use crate::store::{Payee, Payment, PaymentState};

/// The longest escrow hold, matching the ledger's longest pending timeout.
pub const ESCROW_TTL_SECS_MAX: u32 = ledger::PENDING_TIMEOUT_SECS_MAX;

impl Bot {
    // -- escrow ----------------------------------------------------------------

    /// Pays out what was held for this user's handle on this platform, if
    /// paybot first saw this identity at or after the payment was made.
    ///
    /// Handles change hands (Telegram and Discord let anyone rename), so
    /// the handle alone names nobody: an identity paybot already knew
    /// before the payment (seen speaking, or only mentioned: a mention
    /// records the identity too) had another name then, and took this one
    /// since. It gets nothing and is told nothing of the payment; the payer
    /// is told, once per such identity, and may `/cancel`. The cost of
    /// this rule: someone paybot knew under no handle, who then chose the
    /// one paid to, must be paid again directly.
    pub(super) async fn claim_escrow(&self, turn: &mut Turn<'_>) -> Result<()> {
        let Some(handle) = turn.me.handle.clone() else {
            return Ok(());
        };
        let held = self
            .store
            .payments_escrowed_for(turn.msg.platform, &handle)
            .await?;
        for payment in held {
            if payment.payer == turn.me.user {
                continue;
            }
            if turn.me.first_seen_ms < payment.created_at_ms {
                self.tell_payer_claim_refused(turn, &payment).await?;
                continue;
            }
            let reference = payment.reference.clone();
            let amount = payment.amount;
            let memo = with_memo(payment.memo.as_ref());
            let escrow = self
                .system_account(AccountKind::Escrow, amount.currency())
                .await?;
            let wallet = self.wallet(turn.me.user, amount.currency()).await?;
            let group = vec![
                NewTransfer::post(
                    derive("paybot.bot.escrow.release", &reference.to_string()),
                    hold_id(&payment),
                    None,
                )
                .with_code(transfer_codes::ESCROW_HOLD),
                escrow_claim(&payment, escrow, wallet),
            ];
            // The claimer is told through the outbox, in the commit
            // that moves the money: exactly once, even when this message
            // is handled again after a crash (the money already theirs,
            // nothing left to claim, nothing else would tell them).
            let payer = self.payer_label(&payment).await?;
            let outbox = vec![
                self.notice(
                    &format!("{reference}:claimed:payee"),
                    turn.msg.platform,
                    &turn.me.id,
                    texts::claimed_to_payee(&payer, &amount.to_string(), &memo),
                )?,
                self.notice(
                    &format!("{reference}:claimed:payer"),
                    payment.payer_platform,
                    &payment.payer_id,
                    texts::claimed_to_payer(
                        &turn.me_label(),
                        &amount.to_string(),
                        &memo,
                        &reference.to_string(),
                    ),
                )?,
            ];
            match self.ledger.submit_linked_with_outbox(group, outbox).await {
                Ok(_) => {
                    let mut claimed = payment;
                    claimed.payee = Payee::User {
                        user: turn.me.user,
                        platform: turn.me.platform,
                        id: turn.me.id.clone(),
                    };
                    claimed.state = PaymentState::Claimed;
                    claimed.due_at_ms = None;
                    claimed.updated_at_ms = turn.now_ms;
                    self.update_payment(&claimed).await?;
                }
                Err(SubmitError::Rejected { error, .. }) => {
                    // Refunded (expired) or cancelled meanwhile.
                    let state = hold_resolved_as(&error);
                    self.reconcile(payment, state).await?;
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }

    /// Tells the payer of an escrowed payment that a known user who took
    /// the payee's handle since was not given it (see `claim_escrow`).
    pub(super) async fn tell_payer_claim_refused(
        &self,
        turn: &Turn<'_>,
        payment: &Payment,
    ) -> Result<()> {
        let reference = &payment.reference;
        let handle = &payment.payee_label;
        let notice = self.notice(
            &format!(
                "{reference}:claim-refused:{}:{}",
                turn.msg.platform, turn.me.id
            ),
            payment.payer_platform,
            &payment.payer_id,
            texts::claim_refused(
                &payment.amount.to_string(),
                &with_memo(payment.memo.as_ref()),
                handle,
                &reference.to_string(),
                platform_name(turn.msg.platform),
            ),
        )?;
        self.ledger.enqueue_outbox(&[notice]).await?;
        Ok(())
    }

    pub(super) async fn refund_escrow(&self, payment: Payment) -> Result<bool> {
        match self
            .ledger
            .submit(NewTransfer::expire(hold_id(&payment)))
            .await
        {
            Ok(_) => {}
            Err(SubmitError::Rejected {
                error: TransferError::NotExpiredYet,
                ..
            }) => return Ok(false),
            Err(SubmitError::Rejected { error, .. }) => {
                let state = hold_resolved_as(&error);
                self.reconcile(payment, state).await?;
                return Ok(false);
            }
            Err(error) => return Err(error.into()),
        }
        let notice = self.notice(
            &format!("{}:refunded:payer", payment.reference),
            payment.payer_platform,
            &payment.payer_id,
            texts::refunded(
                &payment.amount.to_string(),
                &payment.payee_label,
                &minutes(self.config.escrow_ttl_secs),
                &payment.reference.to_string(),
            ),
        )?;
        self.ledger.enqueue_outbox(&[notice]).await?;
        let mut refunded = payment;
        refunded.state = PaymentState::Refunded;
        refunded.due_at_ms = None;
        refunded.updated_at_ms = self.ledger.now_ms();
        let updated = self.update_payment(&refunded).await?;
        if updated {
            self.release_limits(refunded.transfer_id, &super::limits::PAYMENT_KINDS)
                .await?;
        }
        Ok(updated)
    }
}

/// What a resolved escrow hold means for its payment (as
/// `awaiting_resolved_as` in `pay.rs` does for a payment's own pending
/// transfer): posted means claimed; anything else (voided by `/cancel`,
/// expired) gave the money back.
pub(super) fn hold_resolved_as(error: &TransferError) -> PaymentState {
    if *error == TransferError::AlreadyPosted {
        PaymentState::Claimed
    } else {
        PaymentState::Refunded
    }
}

/// The transfer paying a held payment out of `escrow` to the claimer's
/// `wallet`; its id derives from the payment's reference, so a retry is the
/// same transfer.
pub(super) fn escrow_claim(payment: &Payment, escrow: AccountId, wallet: AccountId) -> NewTransfer {
    NewTransfer::single(
        derive("paybot.bot.escrow.claim", &payment.reference.to_string()),
        escrow,
        wallet,
        payment.amount,
    )
    .with_code(transfer_codes::ESCROW_CLAIM)
}

/// The escrow hold a confirmed payment to an unclaimed handle becomes.
pub(super) fn hold_id(payment: &Payment) -> TransferId {
    derive("paybot.bot.escrow.hold", &payment.reference.to_string())
}
