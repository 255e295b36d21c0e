//! Top-ups and cash-outs up to the rail: `/topup` and `/cashout` (checks,
//! the record and its code), `/confirm` of the code (or a wrong one), and
//! the confirmed operation's reservation, `Sent` record and rail call.
//!
//! The decision to know: the operation is recorded `Sent`, with the time it
//! is sent with, before the rail is called, so a crash from there on leaves
//! a request the sweep resends identically (see `rail.rs`).

use ledger::Amount;

use super::rail::{Reserved, card_transfer, settled_text};
use super::{
    AWAITING_CARD_OPS_PER_USER_MAX, CARDS_OFF_TEXT, RAIL_RETRY_MS, card_label, op_label, this_month,
};
use crate::command::OtpCode;
use crate::otp::{self, OtpChallenge, Verdict};
use crate::service::limits::{TOPUP_KINDS, card_movement};
use crate::service::texts::cards as texts;
use crate::service::texts::holds as hold_texts;
use crate::service::{
    AwaitsCode, Bot, REF_BODY_CHARS, Result, Turn, derive, event_key, short_ref, tries,
};
use crate::store::{CardOp, CardOpKind, CardOpState};
use crate::trust::{Review, TrustAction};

impl Bot {
    /// Starts a top-up or cash-out: checks, then the record and its code.
    pub(in crate::service) async fn start_card_op(
        &self,
        turn: &mut Turn<'_>,
        kind: CardOpKind,
        amount: Amount,
        index: Option<u8>,
    ) -> Result<()> {
        if self.rail().is_none() {
            turn.private(CARDS_OFF_TEXT);
            return Ok(());
        }
        let cards = self.store.cards_of(turn.me.user).await?;
        if cards.is_empty() {
            turn.private(texts::NO_CARD_TO_USE_TEXT);
            return Ok(());
        }
        let Some(card) = cards.get(usize::from(index.unwrap_or(1)).saturating_sub(1)) else {
            turn.private(texts::no_card_n(index.unwrap_or(1)));
            return Ok(());
        };
        let label = card_label(card.brand, card.last4);
        if !card.expiry.is_valid_at(this_month(turn.now_ms)?) {
            turn.private(texts::card_expired(&label, card.expiry));
            return Ok(());
        }
        if kind == CardOpKind::CashOut {
            let action = crate::trust::TrustAction::CashOut {
                user: turn.me.user,
                amount,
                card_added_at_ms: card.created_at_ms,
            };
            if self.second_factor_at_start(turn, &action).await?
                == super::super::second_factor::Gate::Stopped
            {
                return Ok(());
            }
        }
        let awaiting = self.store.card_ops_awaiting_code(turn.me.user).await?;
        if awaiting.len() >= AWAITING_CARD_OPS_PER_USER_MAX {
            turn.private(texts::too_many_awaiting_ops(awaiting.len()));
            return Ok(());
        }
        let fee_minor = match kind {
            CardOpKind::TopUp => 0,
            CardOpKind::CashOut => self.config.cards.cashout_fee_minor(amount),
        };
        let total_minor = amount.minor().saturating_add(fee_minor);
        let currency = amount.currency();
        if kind == CardOpKind::CashOut {
            let wallet = self.wallet(turn.me.user, currency).await?;
            let available = self
                .ledger
                .balance(wallet)
                .await?
                .map_or(0, |b| b.available());
            if available < total_minor {
                turn.private(texts::not_enough_for_cashout(
                    available,
                    total_minor,
                    currency,
                    fee_minor > 0,
                ));
                return Ok(());
            }
        }
        let action = match kind {
            CardOpKind::TopUp => TrustAction::TopUp {
                user: turn.me.user,
                amount,
            },
            CardOpKind::CashOut => TrustAction::CashOut {
                user: turn.me.user,
                amount,
                card_added_at_ms: card.created_at_ms,
            },
        };
        let assessment = self.assess(&action, turn.now_ms).await?;
        if let Some(refusal) = &assessment.refusal {
            turn.private(refusal.clone());
            return Ok(());
        }
        let review = assessment.review();
        if kind == CardOpKind::TopUp && matches!(review, Review::Hold { .. }) {
            // Nothing of the user's can be reserved while a top-up waits.
            turn.private(hold_texts::TOPUP_NEEDS_REVIEW);
            return Ok(());
        }
        if review == Review::SecondFactor
            && self.second_factor_for_rule_at_start(turn, &action).await?
                == super::super::second_factor::Gate::Stopped
        {
            return Ok(());
        }
        let held = matches!(review, Review::Hold { .. });
        let transfer_id = derive("paybot.bot.card.op", &event_key(turn.msg));
        let subject = transfer_id.to_string();
        let movement = card_movement(kind, transfer_id, amount, turn.me.user, &subject);
        if let Some(refusal) = self.limits_precheck(&movement).await? {
            turn.private(refusal);
            return Ok(());
        }
        let letter = match kind {
            CardOpKind::TopUp => 'T',
            CardOpKind::CashOut => 'C',
        };
        let code = otp::generate(self.rng.as_ref())?;
        let binding = transfer_id.as_u128().to_be_bytes();
        let challenge = OtpChallenge::new(code.hash(&self.pepper, &binding), turn.now_ms);
        let mut op = CardOp {
            reference: short_ref(letter, transfer_id, REF_BODY_CHARS)?,
            transfer_id,
            kind,
            user: turn.me.user,
            platform: turn.me.platform,
            platform_user_id: turn.me.id.clone(),
            token: card.token.clone(),
            brand: card.brand,
            last4: card.last4,
            amount,
            fee_minor,
            challenge,
            state: CardOpState::AwaitingCode,
            review,
            initiated_at_ms: None,
            rail_reference: None,
            decline_code: None,
            rail_attempts: 0,
            due_at_ms: Some(challenge.expires_at_ms(&self.config.otp)),
            created_at_ms: turn.now_ms,
            updated_at_ms: turn.now_ms,
            revision: 0,
        };
        let stored = self.insert_referenced(&mut op, letter).await?;
        if stored.state != CardOpState::AwaitingCode {
            turn.private(texts::op_already(kind, &stored.reference, stored.state));
            return Ok(());
        }
        if stored.challenge.hash.to_bytes() != challenge.hash.to_bytes() {
            // A retry after a crash: the first code was never seen.
            let mut renewed = stored.clone();
            renewed.set_challenge(challenge, turn.now_ms);
            self.store_renewed_code(&renewed).await?;
        }
        let reference = stored.reference.clone();
        let what = match kind {
            CardOpKind::TopUp => texts::topup_what(&amount, &label),
            CardOpKind::CashOut if fee_minor > 0 => {
                texts::cashout_what_with_fee(&amount, &label, fee_minor, total_minor, currency)
            }
            CardOpKind::CashOut => texts::cashout_what(&amount, &label),
        };
        self.send_card_code(turn, &what, &code, &reference);
        if held {
            turn.private(hold_texts::will_be_reviewed(&self.review_time()));
        }
        Ok(())
    }

    /// `/confirm` of a card operation's code: the verdict, then the work.
    pub(in crate::service) async fn confirm_card_op(
        &self,
        turn: &mut Turn<'_>,
        op: CardOp,
        code: &OtpCode,
    ) -> Result<()> {
        let verdict = self.code_verdict(&op, code, turn.now_ms);
        match verdict {
            Verdict::Confirmed => {
                // The card may have left the wallet since the code was
                // sent (`/card remove`, or `/unlink` by the account that
                // linked it): then it is not this wallet's to charge.
                let cards = self.store.cards_of(op.user).await?;
                if !cards.iter().any(|c| c.token.as_str() == op.token.as_str()) {
                    let reference = op.reference.clone();
                    let (kind, label) = (op.kind, op_label(&op));
                    self.end_card_op(op, CardOpState::Cancelled).await?;
                    turn.private(texts::op_no_longer_linked(&label, kind, &reference));
                    return Ok(());
                }
                self.execute_card_op(turn, op).await
            }
            Verdict::Expired => {
                let reference = op.reference.clone();
                let kind = op.kind;
                self.end_card_op(op, CardOpState::Expired).await?;
                turn.private(texts::op_code_expired(kind, &reference));
                Ok(())
            }
            Verdict::LockedOut | Verdict::Wrong { .. } => {
                let reference = op.reference.clone();
                self.end_card_op(op, CardOpState::LockedOut).await?;
                turn.private(texts::op_locked_out(&reference));
                Ok(())
            }
        }
    }

    /// A wrong code counts against every card operation waiting for one,
    /// as against every payment.
    pub(in crate::service) async fn wrong_code_on_card_ops(
        &self,
        turn: &Turn<'_>,
        ops: Vec<CardOp>,
        code: &OtpCode,
        lines: &mut Vec<String>,
    ) -> Result<()> {
        for op in ops {
            let verdict = self.code_verdict(&op, code, turn.now_ms);
            let reference = op.reference.clone();
            match verdict {
                Verdict::Wrong { attempts_left } => {
                    if self.count_wrong_code(&op, turn.now_ms).await? {
                        lines.push(texts::op_wrong_code(
                            op.kind,
                            &reference,
                            &op.amount,
                            &tries(attempts_left),
                        ));
                    }
                }
                Verdict::LockedOut | Verdict::Confirmed => {
                    if self.end_card_op(op, CardOpState::LockedOut).await? {
                        lines.push(texts::op_locked_out(&reference));
                    }
                }
                Verdict::Expired => {
                    self.end_card_op(op, CardOpState::Expired).await?;
                    lines.push(texts::op_expired_line(&reference));
                }
            }
        }
        Ok(())
    }

    /// Ends an operation still waiting for its code (a cash-out's
    /// reservation, if a crashed confirm made one, is voided). `false`: it
    /// was no longer waiting.
    pub(in crate::service) async fn end_card_op(
        &self,
        op: CardOp,
        state: CardOpState,
    ) -> Result<bool> {
        if op.state != CardOpState::AwaitingCode {
            return Ok(false);
        }
        let kind = op.kind;
        let mut ended = op;
        ended.state = state;
        ended.due_at_ms = None;
        ended.updated_at_ms = self.ledger.now_ms();
        // The record first: a confirm racing this one then fails its own
        // compare-and-swap and releases what it reserved.
        if !self.store.update_card_op(&ended).await? {
            return Ok(false);
        }
        match kind {
            CardOpKind::CashOut => self.release_cashout(&ended).await?,
            CardOpKind::TopUp => {
                self.release_limits(ended.transfer_id, &TOPUP_KINDS).await?;
            }
        }
        Ok(true)
    }

    /// Moves a confirmed operation on: reserve (cash-out), record `Sent`,
    /// call the rail, apply its answer.
    pub(super) async fn execute_card_op(&self, turn: &mut Turn<'_>, op: CardOp) -> Result<()> {
        if self.rail().is_none() {
            turn.private(CARDS_OFF_TEXT);
            return Ok(());
        }
        let reference = op.reference.clone();
        let notices = match op.kind {
            CardOpKind::TopUp => Vec::new(),
            CardOpKind::CashOut => {
                self.to_other_identities(
                    op.user,
                    op.platform,
                    &op.platform_user_id,
                    &format!("{reference}:cashout:confirmed"),
                    &texts::cashout_confirmed_notice(
                        &op.amount,
                        &op_label(&op),
                        &op.platform,
                        &turn.me_label(),
                        &reference,
                    ),
                )
                .await?
            }
        };
        let reserved = match op.kind {
            CardOpKind::CashOut => self.reserve_cashout(&op, notices).await?,
            CardOpKind::TopUp => match self.reserve_topup_limits(&op).await? {
                Some(line) => Reserved::Refused(line),
                None => Reserved::Done,
            },
        };
        if let Reserved::Refused(line) = reserved {
            self.end_card_op(op, CardOpState::Cancelled).await?;
            turn.private(line);
            return Ok(());
        }
        if matches!(reserved, Reserved::Short) {
            let wallet = self.wallet(op.user, op.amount.currency()).await?;
            let available = self
                .ledger
                .balance(wallet)
                .await?
                .map_or(0, |b| b.available());
            self.end_card_op(op.clone(), CardOpState::Cancelled).await?;
            turn.private(texts::cashout_short(
                &reference,
                available,
                op.amount.minor().saturating_add(op.fee_minor),
                op.amount.currency(),
            ));
            return Ok(());
        }
        if op.state == CardOpState::AwaitingCode && matches!(op.review, Review::Hold { .. }) {
            return self.hold_card_op(turn, op).await;
        }
        self.send_card_op(turn, op).await
    }

    /// Sends a confirmed (and, for a cash-out, reserved) operation to the
    /// rail: records it `Sent`, calls the rail, applies its answer.
    pub(in crate::service) async fn send_card_op(
        &self,
        turn: &mut Turn<'_>,
        op: CardOp,
    ) -> Result<()> {
        let Some(rail) = self.rail() else {
            turn.private(CARDS_OFF_TEXT);
            return Ok(());
        };
        let reference = op.reference.clone();
        let mut sent = op.clone();
        sent.state = CardOpState::Sent;
        sent.initiated_at_ms = Some(turn.now_ms);
        sent.rail_attempts = 1;
        // If we crash from here on, the sweep resends this very request.
        sent.due_at_ms = Some(turn.now_ms.saturating_add(RAIL_RETRY_MS));
        sent.updated_at_ms = turn.now_ms;
        if !self.store.update_card_op(&sent).await? {
            let state = self
                .store
                .card_op(&reference)
                .await?
                .map_or(CardOpState::Cancelled, |o| o.state);
            if op.kind == CardOpKind::CashOut
                && state.is_final()
                && state != CardOpState::Completed
                && state != CardOpState::Declined
            {
                // Ended meanwhile (cancel, expiry): undo our reservation.
                self.release_cashout(&op).await?;
            }
            if op.kind == CardOpKind::TopUp && state.is_final() && state != CardOpState::Completed {
                self.release_limits(op.transfer_id, &TOPUP_KINDS).await?;
            }
            turn.private(texts::op_already(op.kind, &reference, state));
            return Ok(());
        }
        sent.revision = sent.revision.saturating_add(1);
        let transfer = card_transfer(&sent)?;
        let answer = match sent.kind {
            CardOpKind::TopUp => rail.pull(&transfer).await,
            CardOpKind::CashOut => rail.push(&transfer).await,
        };
        let (op, settled) = self.apply_rail_answer(sent, answer).await?;
        turn.private(settled_text(&op, &settled));
        Ok(())
    }
}
