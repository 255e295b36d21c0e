//! The scheduler of standing orders, run from [`Bot::sweep`]: each due
//! order's next period made (or skipped, or put off while money is short),
//! and the payer told ahead of each run.
//!
//! The design decision to know: a period's transfer, the order's
//! compare-and-swap to the next period and the notices commit in one
//! ledger unit, so a period is made at most once whoever races for it.

use ledger::{NewTransfer, SubmitError, TransferError, Unit};

use super::super::limits::payment_movement;
use super::super::texts::standing as texts;
use super::super::texts::{minutes, with_memo};
use super::super::turn::label_of;
use super::super::{Bot, Result, transfer_codes};
use super::{
    RUN_ATTEMPTS_MAX, RUN_RETRY_MS, STANDING_PERIODS_PER_SWEEP_MAX, SWEEP_STANDING_MAX,
    UNREADABLE_RETRY_MS,
};
use super::{run_text, what};
use crate::message::Button;
use crate::store::standing::{StandingKind, StandingOrder, StandingState};
use crate::trust::{Review, TrustAction, Verdict as TrustVerdict};

/// Why a run was skipped.
enum Skip {
    /// Too little money, after every try.
    Short,
    /// Due longer ago than the grace window.
    Missed,
    /// The policy point or a limit refused it: the line the payer reads.
    Refused(String),
}

impl Bot {
    /// Runs the standing orders that are due and ends those whose code
    /// ran out. Returns how many runs it made or skipped.
    pub(in crate::service) async fn sweep_standing(&self, now_ms: i64) -> Result<usize> {
        let found = self
            .store
            .standing_orders_due(now_ms, SWEEP_STANDING_MAX)
            .await?;
        // A row that cannot be read is logged and put off; the others run.
        for row in found.unreadable {
            let reference = row.reference.as_deref().unwrap_or("?");
            tracing::error!(seq = row.seq, order = reference, problem = %row.problem,
                "a standing order cannot be read; skipped, looked at again later");
            let until = now_ms.saturating_add(UNREADABLE_RETRY_MS);
            if let Err(error) = self
                .store
                .put_off_unreadable_standing_order(row.seq, until)
                .await
            {
                tracing::warn!(seq = row.seq, %error, "cannot put off an unreadable standing order");
            }
        }
        let due = found.orders;
        let mut handled = 0;
        for order in due {
            match order.state {
                StandingState::AwaitingCode => {
                    // Told, as a one-off payment's payer is; with the state
                    // change, so once. One order's failure holds up no other.
                    let reference = order.reference.clone();
                    if let Err(error) = self.expire_standing(order, now_ms).await {
                        tracing::warn!(order = %reference, %error, "a standing order's expiry failed; will retry");
                    }
                }
                StandingState::Active => {
                    let mut order = order;
                    for _ in 0..STANDING_PERIODS_PER_SWEEP_MAX {
                        let reference = order.reference.clone();
                        // One order's failure (the database, for a moment)
                        // holds up no other: it is tried again next round.
                        let next = match self.run_period(order, now_ms).await {
                            Ok(next) => next,
                            Err(error) => {
                                tracing::warn!(order = %reference, %error, "a standing order's run failed; will retry");
                                None
                            }
                        };
                        let Some(next) = next else {
                            break;
                        };
                        handled += 1;
                        let again = next.state == StandingState::Active
                            && next.due_at_ms.is_some_and(|due| due <= now_ms);
                        if !again {
                            break;
                        }
                        order = next;
                    }
                }
                _ => {}
            }
        }
        Ok(handled)
    }

    /// Makes (or skips, or puts off) the order's next period. Returns the
    /// order as it now stands when this call changed it; `None` when there
    /// was nothing to do or someone else changed it first.
    async fn run_period(&self, order: StandingOrder, now_ms: i64) -> Result<Option<StandingOrder>> {
        let k = order.next_period;
        let Some(run_ms) = order.schedule.run_at_ms(k) else {
            self.end_standing(order, StandingState::Finished, now_ms)
                .await?;
            return Ok(None);
        };
        if run_ms > now_ms {
            let notice_ms = self.notice_ms_of(&order);
            if notice_ms > 0
                && order.told_period != Some(k)
                && now_ms >= run_ms.saturating_sub(notice_ms)
            {
                return self.tell_ahead(order, run_ms, now_ms).await;
            }
            // Not due yet (a due time that fell behind the schedule).
            let mut fixed = order;
            fixed.due_at_ms = self.due_of(&fixed);
            fixed.updated_at_ms = now_ms;
            self.store.update_standing_order(&fixed).await?;
            return Ok(None);
        }
        // The account that set the order up must still use the wallet it
        // pays from: after a /link or /unlink moved it, nothing more is paid
        // from the old wallet (whose accounts never asked for it), and the
        // moved account could not see the order to stop it.
        let payer_now = self
            .store
            .identity(order.payer_platform, &order.payer_id)
            .await?
            .map(|identity| identity.user);
        if payer_now != Some(order.payer) {
            return self.end_moved(order, now_ms).await;
        }
        // A period due longer ago than the grace window (paybot was down)
        // is skipped and both sides told, a recurring request's as a
        // standing order's.
        let grace_ms = i64::from(self.config.standing.late_grace_secs).saturating_mul(1_000);
        // A recurring request's period whose request was already made (its
        // commit failed after it) is asked all the same: skipping it would
        // leave that request open with nobody told of it.
        if order.attempts == 0
            && now_ms.saturating_sub(run_ms) > grace_ms
            && !(order.kind == StandingKind::Request && self.series_request_made(&order).await?)
        {
            return self.skip_period(order, Skip::Missed, now_ms).await;
        }
        if order.kind == StandingKind::Request {
            return self.ask_period(order, now_ms).await;
        }
        let payee_user = self
            .store
            .identity(order.payee_platform, &order.payee_id)
            .await?
            .map_or(order.payee, |identity| identity.user);
        if payee_user == order.payer {
            let why = texts::TO_YOURSELF.to_owned();
            return self.skip_period(order, Skip::Refused(why), now_ms).await;
        }
        let action = TrustAction::Payment {
            payer: order.payer,
            payee: Some(payee_user),
            amount: order.amount,
        };
        let assessment = self.assess(&action, now_ms).await?;
        if let Some(refusal) = assessment.refusal {
            return self
                .skip_period(order, Skip::Refused(refusal), now_ms)
                .await;
        }
        if assessment.verdict == TrustVerdict::Hold {
            let why = texts::HELD_FOR_REVIEW.to_owned();
            return self.skip_period(order, Skip::Refused(why), now_ms).await;
        }
        // A rule that asks for the second factor now (and did not when the
        // payer set the order up with it) cannot be answered by a run: this
        // run is skipped and the payer told, never paid past the rule.
        if assessment.verdict == TrustVerdict::SecondFactor && order.review != Review::SecondFactor
        {
            let why = texts::SECOND_FACTOR_AT_RUN.to_owned();
            return self.skip_period(order, Skip::Refused(why), now_ms).await;
        }
        let run_id = super::run_transfer_id(order.order_id, k);
        let currency = order.amount.currency();
        let debit = self.wallet(order.payer, currency).await?;
        let credit = self.wallet(payee_user, currency).await?;
        let transfer = NewTransfer::single(run_id, debit, credit, order.amount)
            .with_code(transfer_codes::PAYMENT);
        let subject = format!("{}:{k}", order.reference);
        let movement = payment_movement(
            run_id,
            order.amount,
            order.payer,
            Some((payee_user, order.payee_label.as_str())),
            &subject,
        );
        let mut plan = match self.plan_limits(&movement).await? {
            Ok(plan) => plan,
            Err(line) => return self.skip_period(order, Skip::Refused(line), now_ms).await,
        };
        let advanced = self.advance(&order, now_ms);
        let reference = order.reference.to_string();
        let next = next_text(&advanced);
        let memo = with_memo(order.memo.as_ref());
        let payer_label = self.payer_name(&order).await?;
        let outbox = vec![
            self.notice(
                &format!("{reference}:run:{k}:payee"),
                order.payee_platform,
                &order.payee_id,
                texts::paid_payee(&payer_label, &order.amount.to_string(), &memo),
            )?,
            self.notice(
                &format!("{reference}:run:{k}:payer"),
                order.payer_platform,
                &order.payer_id,
                texts::paid_payer(
                    &reference,
                    &order.payee_label,
                    &order.amount.to_string(),
                    &memo,
                    &next,
                ),
            )?,
        ];
        let unit = Unit {
            transfers: vec![transfer],
            outbox,
            records: vec![self.store.standing_write(&advanced)?],
        };
        match self.submit_limited(&mut plan, unit).await {
            Ok(_) => Ok(Some(stored(advanced))),
            Err(SubmitError::RecordConflict { .. }) => Ok(None),
            Err(SubmitError::Rejected { index, error }) => {
                if let Some(line) = self.limit_refusal(&plan, &movement, index, &error).await? {
                    return self.skip_period(order, Skip::Refused(line), now_ms).await;
                }
                if index == 0 && error == TransferError::InsufficientFunds {
                    return self.short_of_money(order, now_ms).await;
                }
                // Anything else the ledger refuses (an account closed to
                // it, ...) will not change by trying again: skipped, told.
                tracing::warn!(order = %order.reference, period = k, %error, "a standing order's run was refused");
                let why = texts::COULD_NOT.to_owned();
                self.skip_period(order, Skip::Refused(why), now_ms).await
            }
            Err(error) => Err(error.into()),
        }
    }

    /// A run that found too little money: tried again after
    /// [`RUN_RETRY_MS`], skipped after [`RUN_ATTEMPTS_MAX`] tries.
    async fn short_of_money(
        &self,
        order: StandingOrder,
        now_ms: i64,
    ) -> Result<Option<StandingOrder>> {
        if order.attempts.saturating_add(1) >= RUN_ATTEMPTS_MAX {
            return self.skip_period(order, Skip::Short, now_ms).await;
        }
        let k = order.next_period;
        let mut later = order.clone();
        later.attempts = order.attempts.saturating_add(1);
        let retry_ms = now_ms.saturating_add(RUN_RETRY_MS);
        later.due_at_ms = Some(retry_ms);
        later.updated_at_ms = now_ms;
        let reference = order.reference.to_string();
        let retry = u32::try_from(RUN_RETRY_MS / 1_000).unwrap_or(u32::MAX);
        let notice = self.notice(
            &format!("{reference}:run:{k}:short:{}", order.attempts),
            order.payer_platform,
            &order.payer_id,
            texts::short_will_retry(
                &reference,
                &order.payee_label,
                &order.amount.to_string(),
                &format!("in {}", minutes(retry)),
            ),
        )?;
        self.commit_records(later, vec![notice]).await
    }

    /// Skips the order's next period and tells the payer (and, when the
    /// payee was expecting it, the payee: that it was skipped, and why only
    /// when paybot is the reason).
    async fn skip_period(
        &self,
        order: StandingOrder,
        why: Skip,
        now_ms: i64,
    ) -> Result<Option<StandingOrder>> {
        let k = order.next_period;
        let advanced = self.advance(&order, now_ms);
        let reference = order.reference.to_string();
        let amount = order.amount.to_string();
        let next = next_text(&advanced);
        let memo = with_memo(order.memo.as_ref());
        let payer_label = self.payer_name(&order).await?;
        let (payer_text, payee_why) = match why {
            // A recurring request's period: its requester told it was not
            // sent, the one it would have asked that nothing is asked.
            Skip::Missed if order.kind == StandingKind::Request => {
                let outbox = vec![
                    self.notice(
                        &format!("{reference}:run:{k}:skipped:payer"),
                        order.payer_platform,
                        &order.payer_id,
                        texts::series_missed_requester(
                            &reference,
                            &order.payee_label,
                            &amount,
                            &run_text(&order.schedule, k).unwrap_or_default(),
                            &next,
                        ),
                    )?,
                    self.notice(
                        &format!("{reference}:run:{k}:skipped:payee"),
                        order.payee_platform,
                        &order.payee_id,
                        texts::series_missed_payer(&payer_label, &amount, &memo),
                    )?,
                ];
                return self.commit_records(advanced, outbox).await;
            }
            Skip::Short => (
                texts::skipped_short_payer(&reference, &order.payee_label, &amount, &next),
                // Told, but not why: the payer's balance is the payer's.
                Some(None),
            ),
            Skip::Missed => (
                texts::skipped_missed_payer(
                    &reference,
                    &order.payee_label,
                    &amount,
                    &run_text(&order.schedule, k).unwrap_or_default(),
                    &next,
                ),
                Some(Some(texts::WHY_MISSED)),
            ),
            Skip::Refused(line) => (
                texts::skipped_refused_payer(&reference, &order.payee_label, &amount, &line, &next),
                None,
            ),
        };
        let mut outbox = vec![self.notice(
            &format!("{reference}:run:{k}:skipped:payer"),
            order.payer_platform,
            &order.payer_id,
            payer_text,
        )?];
        if let Some(why) = payee_why {
            outbox.push(self.notice(
                &format!("{reference}:run:{k}:skipped:payee"),
                order.payee_platform,
                &order.payee_id,
                texts::skipped_payee(&payer_label, &amount, &memo, why),
            )?);
        }
        self.commit_records(advanced, outbox).await
    }

    /// Tells the payer privately of the coming run `next_period` (with
    /// Skip and Cancel buttons); the order is then due at the run itself.
    async fn tell_ahead(
        &self,
        order: StandingOrder,
        run_ms: i64,
        now_ms: i64,
    ) -> Result<Option<StandingOrder>> {
        let k = order.next_period;
        let reference = order.reference.to_string();
        let mut told = order.clone();
        told.told_period = Some(k);
        told.due_at_ms = Some(run_ms);
        told.updated_at_ms = now_ms;
        // The run's date rides with Skip: a late or repeated tap skips
        // nothing but this run.
        let due = order
            .schedule
            .run_date(k)
            .map(|d| d.to_string())
            .unwrap_or_default();
        let buttons = vec![
            Button::new(texts::SKIP_BUTTON, texts::skip_command(&reference, &due)),
            Button::new(
                texts::CANCEL_BUTTON,
                format!("/scheduled cancel {reference}"),
            ),
        ];
        let notice = self.notice_with(
            &format!("{reference}:ahead:{k}"),
            order.payer_platform,
            &order.payer_id,
            texts::coming_up(
                &reference,
                &what(&order),
                &run_text(&order.schedule, k).unwrap_or_default(),
                &due,
            ),
            buttons,
            None,
        )?;
        self.commit_records(told, vec![notice]).await
    }

    /// [`StandingPolicy::notice_before_secs`] in milliseconds for an
    /// order of payments; a recurring request is not announced ahead.
    fn notice_ms_of(&self, order: &StandingOrder) -> i64 {
        match order.kind {
            StandingKind::Payment => {
                i64::from(self.config.standing.notice_before_secs).saturating_mul(1_000)
            }
            StandingKind::Request => 0,
        }
    }

    /// When an active order next needs the scheduler: the payer's notice
    /// ahead of its next run (unless told already), else the run.
    pub(super) fn due_of(&self, order: &StandingOrder) -> Option<i64> {
        let k = order.next_period;
        let run_ms = order.schedule.run_at_ms(k)?;
        let notice_ms = self.notice_ms_of(order);
        if notice_ms > 0 && order.told_period != Some(k) {
            Some(run_ms.saturating_sub(notice_ms))
        } else {
            Some(run_ms)
        }
    }

    /// The order after its period `next_period` (made or skipped): the next
    /// one due, or finished.
    pub(super) fn advance(&self, order: &StandingOrder, now_ms: i64) -> StandingOrder {
        let mut next = order.clone();
        next.next_period = order.next_period.saturating_add(1);
        next.attempts = 0;
        next.updated_at_ms = now_ms;
        next.due_at_ms = self.due_of(&next);
        if next.due_at_ms.is_none() {
            next.state = StandingState::Finished;
        }
        next
    }

    /// Commits `order` (compare-and-swap) with `outbox`, no money.
    pub(super) async fn commit_records(
        &self,
        order: StandingOrder,
        outbox: Vec<ledger::OutboxMessage>,
    ) -> Result<Option<StandingOrder>> {
        self.commit_records_with(order, outbox, Vec::new()).await
    }

    /// [`Bot::commit_records`] with `extra` records in the same unit,
    /// applied only if the order's compare-and-swap is.
    pub(super) async fn commit_records_with(
        &self,
        order: StandingOrder,
        outbox: Vec<ledger::OutboxMessage>,
        extra: Vec<ledger::RecordWrite>,
    ) -> Result<Option<StandingOrder>> {
        let mut records = vec![self.store.standing_write(&order)?];
        records.extend(extra);
        let unit = Unit {
            transfers: Vec::new(),
            outbox,
            records,
        };
        match self.ledger.commit(unit).await {
            Ok(_) => Ok(Some(stored(order))),
            Err(SubmitError::RecordConflict { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Cancels an order whose payer's account moved to another wallet (or
    /// was unlinked), and tells both sides privately.
    async fn end_moved(&self, order: StandingOrder, now_ms: i64) -> Result<Option<StandingOrder>> {
        let reference = order.reference.to_string();
        let payer_label = self.payer_name(&order).await?;
        let shown = match order.kind {
            StandingKind::Payment => what(&order),
            StandingKind::Request => format!(
                "{} for {}{}",
                order.payee_label,
                order.amount,
                with_memo(order.memo.as_ref())
            ),
        };
        let outbox = vec![
            self.notice(
                &format!("{reference}:moved:payer"),
                order.payer_platform,
                &order.payer_id,
                texts::ended_account_moved(order.kind, &reference, &shown),
            )?,
            self.notice(
                &format!("{reference}:moved:payee"),
                order.payee_platform,
                &order.payee_id,
                texts::ended_for_payee(order.kind, &payer_label, &reference),
            )?,
        ];
        let mut ended = order;
        ended.state = StandingState::Cancelled;
        ended.due_at_ms = None;
        ended.updated_at_ms = now_ms;
        self.commit_records(ended, outbox).await?;
        Ok(None)
    }

    /// Ends an order whose code ran out and tells its payer.
    async fn expire_standing(&self, order: StandingOrder, now_ms: i64) -> Result<()> {
        let reference = order.reference.to_string();
        let notice = self.notice(
            &format!("{reference}:expired"),
            order.payer_platform,
            &order.payer_id,
            texts::code_ran_out(&reference, &what(&order)),
        )?;
        let mut ended = order;
        ended.state = StandingState::Expired;
        ended.due_at_ms = None;
        ended.updated_at_ms = now_ms;
        self.commit_records(ended, vec![notice]).await?;
        Ok(())
    }

    /// How the payee is told who pays them.
    pub(super) async fn payer_name(&self, order: &StandingOrder) -> Result<String> {
        Ok(self
            .store
            .identity(order.payer_platform, &order.payer_id)
            .await?
            .map(|i| label_of(&i))
            .unwrap_or_else(|| super::super::texts::notices::SOMEONE.to_owned()))
    }
}

/// `order` as its compare-and-swap left it stored: one revision on.
fn stored(mut order: StandingOrder) -> StandingOrder {
    order.revision = order.revision.saturating_add(1);
    order
}

/// "Next payment: ..." or "That was its last payment." (a recurring
/// request's: "Next request: ...").
pub(super) fn next_text(order: &StandingOrder) -> String {
    let when = match order.state {
        StandingState::Active => run_text(&order.schedule, order.next_period),
        _ => None,
    };
    match order.kind {
        StandingKind::Payment => texts::next_sentence(when.as_deref()),
        StandingKind::Request => texts::series_next(when.as_deref()),
    }
}
