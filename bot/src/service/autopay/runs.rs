//! The scheduler of autopay runs, run from [`Bot::sweep`]: the payer told
//! ahead of each invoice, then the invoice paid on its due date when it
//! fits under the cap (or left for the payer, who is told why).
//!
//! The design decision to know: the payment, the run's, the autopay's and
//! the request's compare-and-swaps commit in one ledger unit; whoever
//! loses a race for it applies nothing and reads again next round.

use ledger::{NewTransfer, OutboxMessage, SubmitError, TransferError, Unit};

use super::super::limits::payment_movement;
use super::super::texts::autopay as texts;
use super::super::texts::{minutes, with_memo};
use super::super::turn::{derive, label_of};
use super::super::{Bot, Result, transfer_codes};
use super::{AUTOPAY_ATTEMPTS_MAX, AUTOPAY_RETRY_MS, SWEEP_AUTOPAY_MAX, local_text};
use crate::recurrence::UserTimeZone;
use crate::store::autopay::{Autopay, AutopayRun, AutopayRunState, AutopayState};
use crate::store::{PaymentRequest, RecordChange, RequestState};
use crate::trust::{Review, TrustAction, Verdict as TrustVerdict};

/// Whether an invoice can be autopaid now.
enum Payable {
    Yes,
    /// Paid, declined or cancelled.
    No,
    /// A payment of it by hand is in progress.
    Busy,
}

/// Whether a run fits under its autopay's cap.
enum Fit {
    /// It does; it counts in this month (`2027-01`).
    Yes(String),
    AboveCap,
    OtherCurrency,
}

impl Bot {
    /// Handles the autopay runs that are due. Returns how many it changed.
    pub(in crate::service) async fn sweep_autopay(&self, now_ms: i64) -> Result<usize> {
        let mut handled = self.sweep_autopay_setups(now_ms).await?;
        let due = self
            .store
            .autopay_runs_due(now_ms, SWEEP_AUTOPAY_MAX)
            .await?;
        for run in due {
            let request = run.request.clone();
            // One run's failure (the database, for a moment) holds up no
            // other: it is tried again next round.
            match self.autopay_step(run, now_ms).await {
                Ok(true) => handled += 1,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(request = %request, %error, "an autopay run failed; will retry");
                }
            }
        }
        Ok(handled)
    }

    /// One step of a due run: dropped, told ahead, paid, put off or left
    /// for the payer. `true` when this call changed it.
    async fn autopay_step(&self, run: AutopayRun, now_ms: i64) -> Result<bool> {
        let Some(request) = self.store.request(&run.request).await? else {
            return self
                .finish_run(run, AutopayRunState::Dropped, None, now_ms)
                .await;
        };
        if request.amount != run.amount || request.payer != run.payer {
            // Not the request this run was made for (a biller's retry with
            // other fields took its key): nothing of it is paid.
            return self
                .finish_run(run, AutopayRunState::Dropped, None, now_ms)
                .await;
        }
        match self.request_payable(&request).await? {
            Payable::Yes => {}
            // Paid, declined or cancelled: nothing left to do.
            Payable::No => {
                return self
                    .finish_run(run, AutopayRunState::Dropped, None, now_ms)
                    .await;
            }
            // Being paid by hand: looked at again later (it may end unpaid).
            Payable::Busy => {
                let mut later = run;
                later.next_at_ms = Some(now_ms.saturating_add(AUTOPAY_RETRY_MS));
                later.updated_at_ms = now_ms;
                return self.commit_run(later, Vec::new()).await;
            }
        }
        let Some(autopay) = self.store.autopay(&run.autopay).await? else {
            return self
                .finish_run(run, AutopayRunState::Dropped, None, now_ms)
                .await;
        };
        let (run, autopay) = if autopay.state == AutopayState::Active {
            (run, autopay)
        } else {
            match self.successor(&autopay).await? {
                // Moves to it with this step's commit; its cap decides.
                Some(new) => {
                    let mut moved = run;
                    moved.autopay = new.reference.clone();
                    (moved, new)
                }
                None => {
                    let text = texts::turned_off(
                        &run.request.to_string(),
                        &run.amount.to_string(),
                        &autopay.payee_label,
                    );
                    return self.leave_for_payer(run, &autopay, text, now_ms).await;
                }
            }
        };
        let (zone, _) = self.zone_of(autopay.payer).await?;
        let fit = self.autopay_fit(&autopay, &run, &zone).await?;
        let month = match fit {
            Fit::Yes(month) => month,
            Fit::AboveCap | Fit::OtherCurrency => {
                let why = match fit {
                    Fit::OtherCurrency => texts::other_currency(
                        &run.request.to_string(),
                        &run.amount.to_string(),
                        &autopay.cap.to_string(),
                        &autopay.payee_label,
                    ),
                    _ => texts::above_cap(
                        &run.request.to_string(),
                        &run.amount.to_string(),
                        &autopay.cap.to_string(),
                        &autopay.payee_label,
                    ),
                };
                return self.leave_for_payer(run, &autopay, why, now_ms).await;
            }
        };
        if now_ms < run.pay_at_ms {
            if run.told {
                // Not due yet (a due time that fell behind).
                let mut fixed = run;
                fixed.next_at_ms = Some(fixed.pay_at_ms);
                fixed.updated_at_ms = now_ms;
                return Ok(self.store.update_autopay_run(&fixed).await?);
            }
            let notice = self.notice(
                &format!("{}:autopay:ahead", run.request),
                autopay.payer_platform,
                &autopay.payer_id,
                texts::coming_up(
                    &run.request.to_string(),
                    &autopay.payee_label,
                    &run.amount.to_string(),
                    &local_text(&zone, run.pay_at_ms),
                ),
            )?;
            let mut told = run;
            told.told = true;
            told.next_at_ms = Some(told.pay_at_ms);
            told.updated_at_ms = now_ms;
            return self.commit_run(told, vec![notice]).await;
        }
        self.pay_run(run, autopay, request, month, now_ms).await
    }

    /// Whether `request` is open to be autopaid: open, or approved with no
    /// payment of it in progress (one by hand that ended unpaid).
    async fn request_payable(&self, request: &PaymentRequest) -> Result<Payable> {
        Ok(match request.state {
            RequestState::Open => Payable::Yes,
            RequestState::Approved => match &request.payment {
                Some(p) => match self.store.payment(p).await? {
                    Some(p) if !p.state.is_final() => Payable::Busy,
                    _ => Payable::Yes,
                },
                None => Payable::Yes,
            },
            RequestState::Paid | RequestState::Declined | RequestState::Expired => Payable::No,
        })
    }

    /// The payer's active autopay that replaced `old` (same payee, same
    /// series), if any: a run of `old` still pending moves to it.
    async fn successor(&self, old: &Autopay) -> Result<Option<Autopay>> {
        let found = match &old.series {
            Some(series) => self.store.series_autopay(old.payer, series).await?,
            None => self.store.active_autopay(old.payer, old.payee).await?,
        };
        Ok(found.filter(|new| {
            new.reference != old.reference
                && new.payee == old.payee
                && new.series == old.series
                && new.state == AutopayState::Active
        }))
    }

    /// Whether `run` fits under `autopay`'s cap in the calendar month of its
    /// due date on the payer's clock, with what was autopaid that month.
    async fn autopay_fit(
        &self,
        autopay: &Autopay,
        run: &AutopayRun,
        zone: &UserTimeZone,
    ) -> Result<Fit> {
        if run.amount.currency() != autopay.cap.currency() {
            return Ok(Fit::OtherCurrency);
        }
        let month = zone
            .date_at(run.due_at_ms)
            .map(|d| d.strftime("%Y-%m").to_string())
            .unwrap_or_default();
        let spent = self.store.autopaid_in_month(autopay, &month).await?;
        let total = spent.saturating_add(run.amount.minor());
        Ok(if total <= autopay.cap.minor() {
            Fit::Yes(month)
        } else {
            Fit::AboveCap
        })
    }

    /// Pays the run's invoice, in one unit with the compare-and-swaps of
    /// the run, the autopay and the request.
    async fn pay_run(
        &self,
        run: AutopayRun,
        autopay: Autopay,
        request: PaymentRequest,
        month: String,
        now_ms: i64,
    ) -> Result<bool> {
        // The account that set autopay up must still use the wallet it pays
        // from (as for standing orders).
        let payer_now = self
            .store
            .identity(autopay.payer_platform, &autopay.payer_id)
            .await?
            .map(|identity| identity.user);
        if payer_now != Some(autopay.payer) || request.payer != autopay.payer {
            return self.refused(run, &autopay, texts::MOVED, now_ms).await;
        }
        let payee_user = self
            .store
            .identity(autopay.payee_platform, &autopay.payee_id)
            .await?
            .map_or(autopay.payee, |identity| identity.user);
        let action = TrustAction::Payment {
            payer: autopay.payer,
            payee: Some(payee_user),
            amount: run.amount,
        };
        let assessment = self.assess(&action, now_ms).await?;
        if let Some(refusal) = assessment.refusal {
            return self.refused(run, &autopay, &refusal, now_ms).await;
        }
        if assessment.verdict == TrustVerdict::Hold {
            return self
                .refused(run, &autopay, texts::HELD_FOR_REVIEW, now_ms)
                .await;
        }
        if assessment.verdict == TrustVerdict::SecondFactor
            && autopay.review != Review::SecondFactor
        {
            return self
                .refused(run, &autopay, texts::SECOND_FACTOR_AT_RUN, now_ms)
                .await;
        }
        let run_id = derive(
            "paybot.bot.autopay.run",
            &format!("{}:{}", autopay.autopay_id, run.request),
        );
        let currency = run.amount.currency();
        let debit = self.wallet(autopay.payer, currency).await?;
        let credit = self.wallet(payee_user, currency).await?;
        let transfer = NewTransfer::single(run_id, debit, credit, run.amount)
            .with_code(transfer_codes::PAYMENT);
        let subject = format!("{}:{}", autopay.reference, run.request);
        let movement = payment_movement(
            run_id,
            run.amount,
            autopay.payer,
            Some((payee_user, autopay.payee_label.as_str())),
            &subject,
        );
        let mut plan = match self.plan_limits(&movement).await? {
            Ok(plan) => plan,
            Err(line) => return self.refused(run, &autopay, &line, now_ms).await,
        };
        let mut paid_run = run.clone();
        paid_run.state = AutopayRunState::Paid;
        paid_run.month = Some(month);
        paid_run.next_at_ms = None;
        paid_run.updated_at_ms = now_ms;
        // The autopay's revision moves on: a second run of it racing this
        // one counted the month without this payment, and must lose.
        let mut counted = autopay.clone();
        counted.updated_at_ms = now_ms;
        let mut paid_request = request.clone();
        paid_request.state = RequestState::Paid;
        paid_request.updated_at_ms = now_ms;
        // A biller hears of it by its webhook (the invoice is paid once its
        // request is); billers have no chat to be told in.
        let outbox = vec![self.notice(
            &format!("{}:autopay:paid:payer", run.request),
            autopay.payer_platform,
            &autopay.payer_id,
            texts::paid_payer(
                &run.request.to_string(),
                &autopay.payee_label,
                &run.amount.to_string(),
            ),
        )?];
        let mut outbox = outbox;
        if autopay.series.is_some() {
            // A recurring request's requester is a person: told, as for any
            // payment.
            let payer_label = self
                .store
                .identity(autopay.payer_platform, &autopay.payer_id)
                .await?
                .map(|i| label_of(&i))
                .unwrap_or_else(|| super::super::texts::notices::SOMEONE.to_owned());
            outbox.push(self.notice(
                &format!("{}:autopay:paid:payee", run.request),
                autopay.payee_platform,
                &autopay.payee_id,
                texts::paid_payee(
                    &payer_label,
                    &run.amount.to_string(),
                    &with_memo(request.memo.as_ref()),
                ),
            )?);
        }
        let unit = Unit {
            transfers: vec![transfer],
            outbox,
            records: vec![
                self.store.autopay_run_write(&paid_run)?,
                self.store.autopay_write(&counted)?,
                self.store
                    .record_write(RecordChange::UpdateRequest(&paid_request))?,
            ],
        };
        match self.submit_limited(&mut plan, unit).await {
            Ok(_) => Ok(true),
            Err(SubmitError::RecordConflict { .. }) => Ok(false),
            Err(SubmitError::Rejected { index, error }) => {
                if let Some(line) = self.limit_refusal(&plan, &movement, index, &error).await? {
                    return self.refused(run, &autopay, &line, now_ms).await;
                }
                if index == 0 && error == TransferError::InsufficientFunds {
                    return self.autopay_short(run, &autopay, now_ms).await;
                }
                tracing::warn!(request = %run.request, %error, "an autopay run was refused");
                self.refused(run, &autopay, texts::COULD_NOT, now_ms).await
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Too little money: tried again after [`AUTOPAY_RETRY_MS`], left for
    /// the payer after [`AUTOPAY_ATTEMPTS_MAX`] tries; told each time.
    async fn autopay_short(&self, run: AutopayRun, autopay: &Autopay, now_ms: i64) -> Result<bool> {
        let request = run.request.to_string();
        let amount = run.amount.to_string();
        if run.attempts.saturating_add(1) >= AUTOPAY_ATTEMPTS_MAX {
            let why = texts::short_gave_up(&request, &amount, &autopay.payee_label);
            return self.leave_for_payer(run, autopay, why, now_ms).await;
        }
        let retry = u32::try_from(AUTOPAY_RETRY_MS / 1_000).unwrap_or(u32::MAX);
        let notice = self.notice(
            &format!("{request}:autopay:short:{}", run.attempts),
            autopay.payer_platform,
            &autopay.payer_id,
            texts::short_will_retry(
                &request,
                &amount,
                &autopay.payee_label,
                &format!("in {}", minutes(retry)),
            ),
        )?;
        let mut later = run;
        later.attempts = later.attempts.saturating_add(1);
        later.next_at_ms = Some(now_ms.saturating_add(AUTOPAY_RETRY_MS));
        later.updated_at_ms = now_ms;
        self.commit_run(later, vec![notice]).await
    }

    /// Leaves the invoice for the payer because `why` (the policy point's
    /// or a limit's line, or one of `texts`' reasons).
    async fn refused(
        &self,
        run: AutopayRun,
        autopay: &Autopay,
        why: &str,
        now_ms: i64,
    ) -> Result<bool> {
        let text = texts::refused(
            &run.request.to_string(),
            &run.amount.to_string(),
            &autopay.payee_label,
            why,
        );
        self.leave_for_payer(run, autopay, text, now_ms).await
    }

    /// The run ends unpaid and the payer reads `text` about it.
    async fn leave_for_payer(
        &self,
        run: AutopayRun,
        autopay: &Autopay,
        text: String,
        now_ms: i64,
    ) -> Result<bool> {
        let notice = self.notice(
            &format!("{}:autopay:waiting", run.request),
            autopay.payer_platform,
            &autopay.payer_id,
            text,
        )?;
        self.finish_run(run, AutopayRunState::Waiting, Some(notice), now_ms)
            .await
    }

    /// Ends the run in `state`, with `notice` if any.
    async fn finish_run(
        &self,
        run: AutopayRun,
        state: AutopayRunState,
        notice: Option<OutboxMessage>,
        now_ms: i64,
    ) -> Result<bool> {
        let mut ended = run;
        ended.state = state;
        ended.next_at_ms = None;
        ended.updated_at_ms = now_ms;
        self.commit_run(ended, notice.into_iter().collect()).await
    }

    /// Commits `run` (compare-and-swap) with `outbox`, no money.
    async fn commit_run(&self, run: AutopayRun, outbox: Vec<OutboxMessage>) -> Result<bool> {
        let unit = Unit {
            transfers: Vec::new(),
            outbox,
            records: vec![self.store.autopay_run_write(&run)?],
        };
        match self.ledger.commit(unit).await {
            Ok(_) => Ok(true),
            Err(SubmitError::RecordConflict { .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}
