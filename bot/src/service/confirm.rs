//! `/confirm CODE [AUTHCODE]`: finds what the code belongs to (a card
//! add, a top-up or cash-out, a payment), asks the second factor where the
//! action needs it, and hands over to that family; a wrong code counts
//! against everything waiting for one.

use super::memo;
use super::pay_many::is_group_ref;
use super::second_factor::Gate;
use super::texts::pay as texts;
use super::texts::tries;
use super::turn::Turn;
use super::{Bot, Result};
use crate::command::OtpCode;
use crate::otp::Verdict;
use crate::store::{CardOpKind, Payee, PaymentState};
use crate::trust::second_factor::TotpOrRecovery;
use crate::trust::{Review, TrustAction};

impl Bot {
    pub(super) async fn confirm(
        &self,
        turn: &mut Turn<'_>,
        code: &OtpCode,
        second_factor: Option<&TotpOrRecovery>,
    ) -> Result<()> {
        if turn.seen_by_group() {
            // `catch_leaked_codes` already voided a payment this code matches.
            turn.for_sender(texts::CONFIRM_IN_PRIVATE);
            return Ok(());
        }
        // One read gives the payments waiting for a code, where each one's
        // payee account is now, and says which other records wait for
        // one; only those are read.
        // Read with the message's first read where it looked like this.
        let mut read = match memo::take_awaiting(turn.me.user) {
            Some(read) => read,
            None => self.store.awaiting_code(turn.me.user).await?,
        };
        let waiting = read.others;
        let awaiting = std::mem::take(&mut read.payments);
        let standing = if waiting.standing {
            self.store
                .standing_orders_awaiting_code(turn.me.user)
                .await?
        } else {
            Vec::new()
        };
        if let Some(order) = self.matching_standing(&standing, code) {
            let order = order.clone();
            return self
                .confirm_standing(turn, order, code, second_factor)
                .await;
        }
        let autopays = if waiting.autopays {
            self.autopays_awaiting_code(turn).await?
        } else {
            Vec::new()
        };
        if let Some(autopay) = autopays
            .iter()
            .find(|a| self.code_matches(*a, code.as_str()))
        {
            let autopay = autopay.clone();
            return self
                .confirm_autopay(turn, autopay, code, second_factor)
                .await;
        }
        let (card_ops, card_adds) = if waiting.cards {
            (
                self.store.card_ops_awaiting_code(turn.me.user).await?,
                self.store.card_adds_awaiting_code(turn.me.user).await?,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        if awaiting.is_empty()
            && card_ops.is_empty()
            && card_adds.is_empty()
            && standing.is_empty()
            && autopays.is_empty()
        {
            turn.private(texts::NOTHING_WAITING_FOR_A_CODE);
            return Ok(());
        }
        let matching_add = card_adds
            .iter()
            .find(|add| self.code_matches(*add, code.as_str()));
        if let Some(add) = matching_add {
            if self.code_verdict(add, code, turn.now_ms) == Verdict::Confirmed {
                let action = TrustAction::CardAdd { user: add.user };
                let forced = add.review == Review::SecondFactor;
                let gate = self.second_factor_gate(turn, &action, second_factor, forced);
                if gate.await? == Gate::Stopped {
                    return Ok(());
                }
            }
            return self.confirm_card_add(turn, add.clone(), code).await;
        }
        let matching_op = card_ops
            .iter()
            .find(|op| self.code_matches(*op, code.as_str()));
        if let Some(op) = matching_op {
            if op.kind == CardOpKind::CashOut
                && self.code_verdict(op, code, turn.now_ms) == Verdict::Confirmed
            {
                let action = self.cashout_action(op).await?;
                let forced = op.review == Review::SecondFactor;
                let gate = self.second_factor_gate(turn, &action, second_factor, forced);
                if gate.await? == Gate::Stopped {
                    return Ok(());
                }
            }
            return self.confirm_card_op(turn, op.clone(), code).await;
        }
        let matching = awaiting
            .iter()
            .find(|p| self.code_matches(*p, code.as_str()));
        if let Some(payment) = matching
            && is_group_ref(&payment.reference)
            && let Some(group) = self.store.pay_group(&payment.reference).await?
        {
            return self
                .confirm_pay_group(turn, group, code, second_factor)
                .await;
        }
        if let Some(payment) = matching {
            let verdict = self.code_verdict(payment, code, turn.now_ms);
            return match verdict {
                Verdict::Confirmed => {
                    let action = TrustAction::Payment {
                        payer: payment.payer,
                        payee: match &payment.payee {
                            Payee::User { user, .. } => Some(*user),
                            Payee::Unclaimed { .. } => None,
                        },
                        amount: payment.amount,
                    };
                    let forced = payment.review == Review::SecondFactor;
                    let gate = self.second_factor_gate(turn, &action, second_factor, forced);
                    if gate.await? == Gate::Stopped {
                        return Ok(());
                    }
                    let payee_now = read.payee_now(&payment.reference);
                    self.execute(turn, payment.clone(), payee_now).await
                }
                Verdict::Expired => {
                    self.expire_awaiting(payment.clone(), false).await?;
                    turn.private(texts::code_expired(&payment.reference.to_string()));
                    Ok(())
                }
                Verdict::LockedOut | Verdict::Wrong { .. } => {
                    self.end_awaiting(payment.clone(), PaymentState::LockedOut)
                        .await?;
                    turn.private(texts::locked_out(&payment.reference.to_string()));
                    Ok(())
                }
            };
        }
        // A wrong code counts against every payment waiting for one, so
        // guesses cannot be spread over several payments.
        let mut lines = Vec::new();
        for payment in awaiting {
            let verdict = self.code_verdict(&payment, code, turn.now_ms);
            match verdict {
                Verdict::Wrong { attempts_left } => {
                    if self.count_wrong_code(&payment, turn.now_ms).await? {
                        lines.push(texts::wrong_code(
                            &payment.reference.to_string(),
                            &payment.amount.to_string(),
                            &payment.payee_label,
                            &tries(attempts_left),
                        ));
                    }
                }
                Verdict::LockedOut | Verdict::Confirmed => {
                    let reference = payment.reference.clone();
                    if self.end_awaiting(payment, PaymentState::LockedOut).await? {
                        lines.push(texts::locked_out(&reference.to_string()));
                    }
                }
                Verdict::Expired => {
                    let reference = payment.reference.clone();
                    self.expire_awaiting(payment, false).await?;
                    lines.push(texts::had_expired(&reference.to_string()));
                }
            }
        }
        self.wrong_code_on_card_ops(turn, card_ops, code, &mut lines)
            .await?;
        self.wrong_code_on_card_adds(turn, card_adds, code, &mut lines)
            .await?;
        self.wrong_code_on_standing(standing, code, turn.now_ms, &mut lines)
            .await?;
        self.wrong_code_on_autopays(autopays, code, turn.now_ms, &mut lines)
            .await?;
        if lines.is_empty() {
            lines.push(texts::WRONG_CODE.to_owned());
        }
        turn.private(lines.join("\n"));
        Ok(())
    }
}
