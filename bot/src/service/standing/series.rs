//! Recurring requests: `/request @bob 10 every month for gym` is a standing
//! order of kind [`StandingKind::Request`] whose every period sends bob an
//! ordinary payment request, listed, paused, resumed and cancelled with
//! `/scheduled` like any standing order.
//!
//! The design decision to know: period `k`'s request has a reference
//! derived from (order id, `k`), inserted keeping the first copy, and its
//! notices have ids derived from it; the order moves to `k + 1` by
//! compare-and-swap in one ledger unit with those notices. So a period
//! asks once, whoever races for it.

use ledger::Amount;

use super::super::texts::requests as request_texts;
use super::super::texts::standing as texts;
use super::super::texts::with_memo;
use super::super::turn::short_ref;
use super::super::turn::{REF_BODY_CHARS, REF_BODY_CHARS_LONG, Turn, derive, event_key, label_of};
use super::super::{Bot, Result};
use super::{STANDING_ORDERS_PER_USER_MAX, run_text};
use crate::command::{Memo, ShortRef, Target};
use crate::message::Button;
use crate::otp::{self, OtpChallenge};
use crate::recurrence::{Recurrence, Schedule};
use crate::store::standing::{StandingKind, StandingOrder, StandingState};
use crate::store::{PaymentRequest, RequestState};
use crate::trust::Review;

impl Bot {
    /// `/request TARGET AMOUNT every ...`: the series, active at once (a
    /// request moves no money, so no code).
    pub(in crate::service) async fn request_scheduled(
        &self,
        turn: &mut Turn<'_>,
        payer: &Target,
        amount: Amount,
        recurrence: Recurrence,
        memo: Option<Memo>,
    ) -> Result<()> {
        let payer = match self.resolve_known(turn, payer).await? {
            Ok(identity) => identity,
            Err(refusal) => {
                turn.for_sender(refusal);
                return Ok(());
            }
        };
        let me = turn.me.clone();
        if payer.user == me.user {
            turn.for_sender(request_texts::NOT_YOURSELF);
            return Ok(());
        }
        if let Some(refusal) = self
            .request_limits(turn, std::slice::from_ref(&payer))
            .await?
        {
            turn.for_sender(refusal);
            return Ok(());
        }
        let limit = u32::try_from(STANDING_ORDERS_PER_USER_MAX).unwrap_or(u32::MAX);
        let open = self.store.standing_orders_of(me.user, limit).await?;
        if open.len() >= STANDING_ORDERS_PER_USER_MAX {
            turn.private(texts::too_many_orders(STANDING_ORDERS_PER_USER_MAX));
            return Ok(());
        }
        let (zone, _) = self.zone_of(me.user).await?;
        let schedule =
            match Schedule::starting(recurrence, zone, self.config.standing.run_at, turn.now_ms) {
                Ok(schedule) => schedule,
                Err(error) => {
                    turn.private(error.to_string());
                    return Ok(());
                }
            };
        let order_id = derive("paybot.bot.standing.series", &event_key(turn.msg));
        // A series waits for no code; its challenge is one nobody was given.
        let unseen = otp::generate(self.rng.as_ref())?;
        let binding = order_id.as_u128().to_be_bytes();
        let challenge = OtpChallenge::new(unseen.hash(&self.pepper, &binding), turn.now_ms);
        let mut order = StandingOrder {
            reference: short_ref('O', order_id, REF_BODY_CHARS)?,
            order_id,
            payer: me.user,
            payer_platform: me.platform,
            payer_id: me.id.clone(),
            payee: payer.user,
            payee_platform: payer.platform,
            payee_id: payer.id.clone(),
            payee_label: label_of(&payer),
            amount,
            memo,
            next_period: 0,
            attempts: 0,
            told_period: None,
            challenge,
            review: Review::None,
            state: StandingState::Active,
            due_at_ms: schedule.run_at_ms(0),
            schedule,
            created_at_ms: turn.now_ms,
            updated_at_ms: turn.now_ms,
            revision: 0,
            kind: StandingKind::Request,
        };
        let stored = self.insert_referenced(&mut order, 'O').await?;
        turn.here(texts::series_set(
            &stored.reference.to_string(),
            &stored.payee_label,
            &stored.amount.to_string(),
            &with_memo(stored.memo.as_ref()),
            &stored.schedule.recurrence().to_string(),
            &run_text(&stored.schedule, 0).unwrap_or_default(),
        ));
        Ok(())
    }

    /// Whether period `next_period`'s request of a recurring request was
    /// already made (its commit, which moves the series on and tells the
    /// one asked, may have failed after it).
    pub(super) async fn series_request_made(&self, order: &StandingOrder) -> Result<bool> {
        let reference = series_request_ref(order)?;
        Ok(self
            .store
            .request(&reference)
            .await?
            .is_some_and(|made| made.requester == order.payer))
    }

    /// Sends period `next_period`'s request of a recurring request and
    /// moves the series on.
    pub(super) async fn ask_period(
        &self,
        order: StandingOrder,
        now_ms: i64,
    ) -> Result<Option<StandingOrder>> {
        let k = order.next_period;
        let payer_user = self
            .store
            .identity(order.payee_platform, &order.payee_id)
            .await?
            .map_or(order.payee, |identity| identity.user);
        let requester_label = self.payer_name(&order).await?;
        let request = PaymentRequest {
            reference: series_request_ref(&order)?,
            requester: order.payer,
            requester_platform: order.payer_platform,
            requester_id: order.payer_id.clone(),
            requester_label: requester_label.clone(),
            payer: payer_user,
            payer_platform: order.payee_platform,
            payer_id: order.payee_id.clone(),
            payer_label: order.payee_label.clone(),
            amount: order.amount,
            memo: order.memo.clone(),
            split: None,
            state: RequestState::Open,
            payment: None,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            expires_at_ms: None,
            reminders: 0,
            reminded_at_ms: None,
            revision: 0,
        };
        let stored = self.store.insert_request(&request).await?;
        let advanced = self.advance(&order, now_ms);
        if stored.requester != request.requester || stored.payer != request.payer {
            // Another request holds this reference (vanishingly rare): this
            // period is not asked, the series goes on.
            tracing::warn!(order = %order.reference, period = k, "a recurring request's reference was taken");
            return self.commit_records(advanced, Vec::new()).await;
        }
        let reference = stored.reference.to_string();
        let series = order.reference.to_string();
        let rule = order.schedule.recurrence().to_string();
        let mut asked = request_texts::asks_you(
            &requester_label,
            &order.amount.to_string(),
            &with_memo(stored.memo.as_ref()),
            &texts::series_context(&series, &rule),
            &reference,
        );
        // The one asked may pay this series by autopay: the run commits with
        // the series' compare-and-swap, so a series paused or cancelled
        // meanwhile leaves no run to pay its request.
        let mut records = Vec::new();
        if let Some(autopay) = self
            .store
            .series_autopay(payer_user, &order.reference)
            .await?
        {
            let due_ms = order.schedule.run_at_ms(k).unwrap_or(now_ms);
            let (run, line) = self
                .autopay_run_plan(&autopay, &stored, due_ms, now_ms)
                .await?;
            records.push(self.store.autopay_run_insert_write(&run)?);
            asked.push('\n');
            asked.push_str(&line);
        }
        let outbox = vec![
            self.notice_with(
                &format!("{reference}:requested:payer"),
                order.payee_platform,
                &order.payee_id,
                asked,
                vec![
                    Button::new(
                        request_texts::APPROVE_BUTTON,
                        format!("/approve {reference}"),
                    ),
                    Button::new(
                        request_texts::DECLINE_BUTTON,
                        format!("/decline {reference}"),
                    ),
                ],
                None,
            )?,
            self.notice(
                &format!("{reference}:requested:requester"),
                order.payer_platform,
                &order.payer_id,
                texts::series_asked(
                    &series,
                    &order.payee_label,
                    &order.amount.to_string(),
                    &texts::series_next(
                        (advanced.state == StandingState::Active)
                            .then(|| run_text(&advanced.schedule, advanced.next_period))
                            .flatten()
                            .as_deref(),
                    ),
                ),
            )?,
        ];
        self.commit_records_with(advanced, outbox, records).await
    }
}

/// The reference of period `next_period`'s request of a recurring request:
/// derived from the series and the period, so a retry makes the same one.
fn series_request_ref(order: &StandingOrder) -> Result<ShortRef> {
    let id = derive(
        "paybot.bot.standing.series.request",
        &format!("{}:{}", order.order_id, order.next_period),
    );
    short_ref('R', id, REF_BODY_CHARS_LONG)
}
