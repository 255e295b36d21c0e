//! Cash-outs held for review (see `service/holds.rs`): the reservation is
//! made at the confirmation as for any cash-out, then the operation waits
//! in [`CardOpState::Held`] instead of going to the rail; approval sends it
//! on, rejection or the deadline releases the reservation.

use super::op_label;
use crate::service::texts::holds as texts;
use crate::service::{Bot, BotError, Result, Turn};
use crate::store::{CardOp, CardOpState};
use crate::trust::holds::HoldKind;
use crate::trust::{Actor, AuditEntry, AuditKind, Review};

impl Bot {
    /// "your cash-out of $20.00 to Visa •4242".
    pub(in crate::service) fn card_op_what(op: &CardOp) -> String {
        texts::cashout_what(&op.amount.to_string(), &op_label(op))
    }

    /// Puts a confirmed, reserved cash-out on hold instead of sending it.
    pub(in crate::service) async fn hold_card_op(
        &self,
        turn: &mut Turn<'_>,
        op: CardOp,
    ) -> Result<()> {
        let Review::Hold { reason } = op.review.clone() else {
            return Err(BotError::Inconsistent(format!(
                "card operation {} held without a hold review",
                op.reference
            )));
        };
        let reference = op.reference.to_string();
        let mut held = op.clone();
        held.state = CardOpState::Held;
        held.due_at_ms = Some(self.hold_due_ms(turn.now_ms));
        held.updated_at_ms = turn.now_ms;
        if !self.store.update_card_op(&held).await? {
            // Ended meanwhile (cancel, expiry): undo our reservation.
            let state = self
                .store
                .card_op(&op.reference)
                .await?
                .map_or(CardOpState::Cancelled, |o| o.state);
            if state.is_final() {
                self.release_cashout(&op).await?;
            }
            turn.private(crate::service::texts::cards::op_already(
                op.kind,
                &op.reference,
                state,
            ));
            return Ok(());
        }
        self.audit(
            AuditEntry::new(turn.now_ms, Actor::User(op.user), AuditKind::HoldOpened)
                .user(op.user)
                .subject(reference.clone())
                .detail("kind", HoldKind::CashOut.as_str())
                .detail("amount", op.amount.to_string())
                .detail("card", op_label(&op))
                .detail("reason", reason)
                .detail("due_at_ms", held.due_at_ms.unwrap_or_default()),
        )
        .await?;
        turn.private(texts::held(
            &Self::card_op_what(&op),
            &reference,
            &self.review_time(),
        ));
        Ok(())
    }

    /// Ends a held cash-out (rejected, or its deadline passed): the record
    /// first, then the reservation is released and the user told `text`.
    /// `false`: it was no longer held.
    pub(in crate::service) async fn end_held_card_op(
        &self,
        op: CardOp,
        state: CardOpState,
        text: String,
    ) -> Result<bool> {
        if op.state != CardOpState::Held {
            return Ok(false);
        }
        let mut ended = op;
        ended.state = state;
        ended.due_at_ms = None;
        ended.updated_at_ms = self.ledger.now_ms();
        if !self.store.update_card_op(&ended).await? {
            return Ok(false);
        }
        self.release_cashout(&ended).await?;
        let notice = self.notice(
            &format!("{}:hold:{}", ended.reference, state.as_str()),
            ended.platform,
            &ended.platform_user_id,
            text,
        )?;
        self.ledger.enqueue_outbox(&[notice]).await?;
        Ok(true)
    }
}
