//! Standing orders: `/pay @landlord 500 every month on the 1st for rent`
//! (confirmed once with a code), `/tz`, `/scheduled [pause|resume|cancel
//! REF]`, and the scheduler that runs them from [`Bot::sweep`].
//!
//! The design decision to know: a run is the order's period `k`, and its
//! ledger transfer's id derives from (order id, `k`). The run commits in
//! one ledger unit with the order's compare-and-swap to period `k + 1` and
//! the notices that announce it, so a run happens at most once whatever
//! races for it (a second sweep, a second process, a restart after a
//! crash): the loser's unit is not applied at all. Every run is an ordinary
//! payment to the policy point and the limits, asked afresh each time.

use jiff::civil::Time;
use ledger::{Amount, TransferId};

use super::resolve::Resolved;
use super::second_factor::Gate;
use super::texts::standing as texts;
use super::texts::{minutes, tries, with_memo};
use super::turn::{AwaitsCode, REF_BODY_CHARS, Turn, derive, event_key, label_of, short_ref};
use super::{Bot, Result};
use crate::command::{Memo, OtpCode, ShortRef, StandingAction, Target};
use crate::message::Button;
use crate::otp::{self, OtpChallenge, Verdict};
use crate::recurrence::{Recurrence, Schedule, UserTimeZone};
use crate::store::standing::{StandingKind, StandingOrder, StandingState};
use crate::store::{Store, StoreError, UserId};
use crate::trust::second_factor::TotpOrRecovery;
use crate::trust::{Review, TrustAction};

mod scheduler;
mod series;
use scheduler::next_text;

/// Standing orders one payer may have waiting for a code at once.
pub const AWAITING_STANDING_PER_USER_MAX: usize = 3;
/// Standing orders (not final) one payer may have: what `/scheduled` lists.
pub const STANDING_ORDERS_PER_USER_MAX: usize = 20;
/// Due standing orders handled per [`Bot::sweep`] round.
pub const SWEEP_STANDING_MAX: u32 = 256;
/// Periods of one order handled per sweep round (a server down for long
/// skips many at once, each told).
pub const STANDING_PERIODS_PER_SWEEP_MAX: u32 = 32;
/// Tries of one run that find too little money before it is skipped.
pub const RUN_ATTEMPTS_MAX: u32 = 3;
/// The wait between two tries of a run that found too little money, in
/// milliseconds.
pub const RUN_RETRY_MS: i64 = 6 * 60 * 60 * 1_000;
/// How long a standing order whose stored row cannot be read is put off
/// before the scheduler looks at it again, in milliseconds.
pub const UNREADABLE_RETRY_MS: i64 = 60 * 60 * 1_000;
/// How often `/scheduled ACTION REF` is applied again after the scheduler
/// changed the order between its read and its write.
pub(super) const STANDING_ACTION_ATTEMPTS_MAX: u32 = 3;

/// How standing orders run: plain data, from the settings.
#[derive(Debug, Clone)]
pub struct StandingPolicy {
    /// The time zone of a user who never set one with `/tz`.
    pub default_zone: UserTimeZone,
    /// The local time of day every run is due at.
    pub run_at: Time,
    /// How late a run may still be made (a server that was down at its
    /// time), in seconds; later, it is skipped and both sides told.
    pub late_grace_secs: u32,
    /// How long before each run the payer is told of it (with Skip and
    /// Cancel buttons), in seconds; 0: not told.
    pub notice_before_secs: u32,
}

impl Default for StandingPolicy {
    fn default() -> StandingPolicy {
        StandingPolicy {
            default_zone: UserTimeZone::utc(),
            run_at: Time::constant(9, 0, 0, 0),
            late_grace_secs: 24 * 60 * 60,
            notice_before_secs: 24 * 60 * 60,
        }
    }
}

#[async_trait::async_trait]
impl AwaitsCode for StandingOrder {
    const WHAT: &'static str = "standing order";
    fn id(&self) -> TransferId {
        self.order_id
    }
    fn challenge(&self) -> &OtpChallenge {
        &self.challenge
    }
    fn set_reference(&mut self, reference: ShortRef) {
        self.reference = reference;
    }
    fn set_challenge(&mut self, challenge: OtpChallenge, now_ms: i64) {
        self.challenge = challenge;
        self.updated_at_ms = now_ms;
    }
    async fn insert(&self, store: &dyn Store) -> std::result::Result<Self, StoreError> {
        store.insert_standing_order(self).await
    }
    async fn update(&self, store: &dyn Store) -> std::result::Result<bool, StoreError> {
        store.update_standing_order(self).await
    }
}

/// The local date, time and zone of run `k`: `Sat 2026-01-31 09:00 UTC`.
pub(super) fn run_text(schedule: &Schedule, k: u32) -> Option<String> {
    let date = schedule.run_date(k)?;
    let (_, _, at, zone) = schedule.parts();
    Some(format!(
        "{} {:02}:{:02} {}",
        date.strftime("%a %Y-%m-%d"),
        at.hour(),
        at.minute(),
        zone
    ))
}

/// The order's first period whose run is still ahead at `now_ms` (none
/// before its `next_period`); `None`: it has no run left.
fn first_period(order: &StandingOrder, now_ms: i64) -> Option<u32> {
    let k = order
        .schedule
        .period_at_or_after(now_ms.saturating_add(1))?;
    Some(k.max(order.next_period))
}

/// The ledger transfer id of the order's run `period`: derived, so a run
/// is posted at most once whoever makes it (and a checker can find it).
pub fn run_transfer_id(order_id: TransferId, period: u32) -> TransferId {
    derive("paybot.bot.standing.run", &format!("{order_id}:{period}"))
}

/// `@bob $20.00 for “rent”`.
fn what(order: &StandingOrder) -> String {
    format!(
        "{} {}{}",
        order.payee_label,
        order.amount,
        with_memo(order.memo.as_ref())
    )
}

impl Bot {
    /// The user's time zone: as set with `/tz`, else the default.
    pub(super) async fn zone_of(&self, user: UserId) -> Result<(UserTimeZone, bool)> {
        let stored = self.store.time_zone_of(user).await?;
        Ok(
            match stored.and_then(|name| UserTimeZone::parse(&name).ok()) {
                Some(zone) => (zone, false),
                None => (self.config.standing.default_zone.clone(), true),
            },
        )
    }

    /// `/tz [ZONE]`.
    pub(super) async fn time_zone(
        &self,
        turn: &mut Turn<'_>,
        zone: Option<UserTimeZone>,
    ) -> Result<()> {
        match zone {
            None => {
                let (zone, default) = self.zone_of(turn.me.user).await?;
                turn.private(texts::time_zone_is(zone.name(), default));
            }
            Some(zone) => {
                self.store
                    .set_time_zone(turn.me.user, zone.name(), turn.now_ms)
                    .await?;
                turn.private(texts::time_zone_set(zone.name()));
            }
        }
        Ok(())
    }

    /// `/pay TARGET AMOUNT every ...`: the order, waiting for its code.
    pub(super) async fn pay_scheduled(
        &self,
        turn: &mut Turn<'_>,
        payee: &Target,
        amount: Amount,
        recurrence: Recurrence,
        memo: Option<Memo>,
    ) -> Result<()> {
        let identity = match self.resolve_known(turn, payee).await? {
            Ok(identity) => identity,
            Err(_) => {
                turn.private(texts::payee_not_known(&payee.to_string()));
                return Ok(());
            }
        };
        let me = turn.me.clone();
        if identity.user == me.user {
            turn.for_sender(super::texts::pay::NOT_YOURSELF);
            return Ok(());
        }
        let action = TrustAction::Payment {
            payer: me.user,
            payee: Some(identity.user),
            amount,
        };
        if self.second_factor_at_start(turn, &action).await? == Gate::Stopped {
            return Ok(());
        }
        let awaiting = self.store.standing_orders_awaiting_code(me.user).await?;
        if awaiting.len() >= AWAITING_STANDING_PER_USER_MAX {
            turn.private(texts::too_many_waiting(awaiting.len()));
            return Ok(());
        }
        let limit = u32::try_from(STANDING_ORDERS_PER_USER_MAX).unwrap_or(u32::MAX);
        let open = self.store.standing_orders_of(me.user, limit).await?;
        if open.len() >= STANDING_ORDERS_PER_USER_MAX {
            turn.private(texts::too_many_orders(STANDING_ORDERS_PER_USER_MAX));
            return Ok(());
        }
        let assessment = self.assess(&action, turn.now_ms).await?;
        if let Some(refusal) = &assessment.refusal {
            turn.private(refusal.clone());
            return Ok(());
        }
        let review = assessment.review();
        match review {
            Review::Hold { .. } => {
                turn.private(texts::NOT_FOR_REVIEW);
                return Ok(());
            }
            Review::SecondFactor
                if self.second_factor_for_rule_at_start(turn, &action).await? == Gate::Stopped =>
            {
                return Ok(());
            }
            _ => {}
        }
        let warnings = self
            .payee_warnings(turn, &Resolved::Known(identity.clone()))
            .await?;
        let (zone, _) = self.zone_of(me.user).await?;
        let schedule =
            match Schedule::starting(recurrence, zone, self.config.standing.run_at, turn.now_ms) {
                Ok(schedule) => schedule,
                Err(error) => {
                    turn.private(error.to_string());
                    return Ok(());
                }
            };
        let order_id = derive("paybot.bot.standing", &event_key(turn.msg));
        let code = otp::generate(self.rng.as_ref())?;
        let binding = order_id.as_u128().to_be_bytes();
        let challenge = OtpChallenge::new(code.hash(&self.pepper, &binding), turn.now_ms);
        let mut order = StandingOrder {
            reference: short_ref('O', order_id, REF_BODY_CHARS)?,
            order_id,
            payer: me.user,
            payer_platform: me.platform,
            payer_id: me.id.clone(),
            payee: identity.user,
            payee_platform: identity.platform,
            payee_id: identity.id.clone(),
            payee_label: label_of(&identity),
            amount,
            memo,
            schedule,
            next_period: 0,
            attempts: 0,
            told_period: None,
            challenge,
            review,
            state: StandingState::AwaitingCode,
            due_at_ms: Some(challenge.expires_at_ms(&self.config.otp)),
            created_at_ms: turn.now_ms,
            updated_at_ms: turn.now_ms,
            revision: 0,
            kind: StandingKind::Payment,
        };
        let stored = self.insert_referenced(&mut order, 'O').await?;
        if stored.state != StandingState::AwaitingCode {
            turn.private(texts::cannot(
                stored.kind,
                &stored.reference.to_string(),
                texts::describe_state(stored.state),
            ));
            return Ok(());
        }
        if stored.revision != order.revision
            || stored.challenge.hash.to_bytes() != challenge.hash.to_bytes()
        {
            // A retry after a crash: the first code was never seen. The new
            // one has its own lifetime: the order ends at its expiry, not
            // at the first code's.
            let mut renewed = stored.clone();
            renewed.set_challenge(challenge, turn.now_ms);
            renewed.due_at_ms = Some(challenge.expires_at_ms(&self.config.otp));
            self.store_renewed_code(&renewed).await?;
        }
        let reference = stored.reference.to_string();
        let rule = stored.schedule.recurrence().to_string();
        // The first run still ahead (a retry may come after the one the
        // order was made for).
        let first = first_period(&stored, turn.now_ms)
            .and_then(|k| run_text(&stored.schedule, k))
            .unwrap_or_default();
        let mut text = texts::code_to_confirm(
            &what(&stored),
            &rule,
            &first,
            code.expose(),
            &minutes(self.config.otp.ttl_secs),
            &reference,
        );
        let mut redacted = texts::code_to_confirm_redacted(&what(&stored), &rule, &reference);
        // As for a one-off payment: a look-alike handle, a payee never paid.
        for warning in &warnings {
            for shown in [&mut text, &mut redacted] {
                shown.push_str("\n\n");
                shown.push_str(warning);
            }
        }
        let cancel = Button::new(
            texts::CANCEL_BUTTON,
            format!("/scheduled cancel {reference}"),
        );
        turn.private_with(text, Some(redacted), vec![cancel]);
        Ok(())
    }

    /// The standing order among `orders` that `code` is for, if any.
    pub(super) fn matching_standing<'o>(
        &self,
        orders: &'o [StandingOrder],
        code: &OtpCode,
    ) -> Option<&'o StandingOrder> {
        orders.iter().find(|o| self.code_matches(*o, code.as_str()))
    }

    /// `/confirm CODE` of a standing order: it becomes active.
    pub(super) async fn confirm_standing(
        &self,
        turn: &mut Turn<'_>,
        order: StandingOrder,
        code: &OtpCode,
        second_factor: Option<&TotpOrRecovery>,
    ) -> Result<()> {
        let reference = order.reference.to_string();
        match self.code_verdict(&order, code, turn.now_ms) {
            Verdict::Confirmed => {
                let action = TrustAction::Payment {
                    payer: order.payer,
                    payee: Some(order.payee),
                    amount: order.amount,
                };
                let forced = order.review == Review::SecondFactor;
                let gate = self.second_factor_gate(turn, &action, second_factor, forced);
                if gate.await? == Gate::Stopped {
                    return Ok(());
                }
                // Runs whose time passed before the confirmation (a code
                // renewed after a crash, confirmed late) are not made: the
                // first is the next one ahead.
                let Some(first) = first_period(&order, turn.now_ms) else {
                    let kind = order.kind;
                    self.end_standing(order, StandingState::Finished, turn.now_ms)
                        .await?;
                    turn.private(texts::cannot(
                        kind,
                        &reference,
                        texts::describe_state(StandingState::Finished),
                    ));
                    return Ok(());
                };
                let mut active = order.clone();
                active.state = StandingState::Active;
                active.next_period = first;
                active.due_at_ms = self.due_of(&active);
                active.updated_at_ms = turn.now_ms;
                if !self.store.update_standing_order(&active).await? {
                    let now = self.store.standing_order(&order.reference).await?;
                    let state = now.map_or(StandingState::Active, |o| o.state);
                    turn.private(texts::cannot(
                        order.kind,
                        &reference,
                        texts::describe_state(state),
                    ));
                    return Ok(());
                }
                turn.private(texts::active(
                    &reference,
                    &active.payee_label,
                    &active.amount.to_string(),
                    &with_memo(active.memo.as_ref()),
                    &active.schedule.recurrence().to_string(),
                    &run_text(&active.schedule, first).unwrap_or_default(),
                ));
            }
            Verdict::Expired => {
                self.end_standing(order, StandingState::Expired, turn.now_ms)
                    .await?;
                turn.private(texts::code_expired(&reference));
            }
            Verdict::LockedOut | Verdict::Wrong { .. } => {
                self.end_standing(order, StandingState::LockedOut, turn.now_ms)
                    .await?;
                turn.private(texts::locked_out(&reference));
            }
        }
        Ok(())
    }

    /// A wrong code counts against every standing order waiting for one
    /// too; adds what the payer is told to `lines`.
    pub(super) async fn wrong_code_on_standing(
        &self,
        orders: Vec<StandingOrder>,
        code: &OtpCode,
        now_ms: i64,
        lines: &mut Vec<String>,
    ) -> Result<()> {
        for order in orders {
            let reference = order.reference.to_string();
            match self.code_verdict(&order, code, now_ms) {
                Verdict::Wrong { attempts_left } => {
                    if self.count_wrong_code(&order, now_ms).await? {
                        lines.push(texts::wrong_code(&reference, &tries(attempts_left)));
                    }
                }
                Verdict::LockedOut | Verdict::Confirmed => {
                    if self
                        .end_standing(order, StandingState::LockedOut, now_ms)
                        .await?
                    {
                        lines.push(texts::locked_out(&reference));
                    }
                }
                Verdict::Expired => {
                    self.end_standing(order, StandingState::Expired, now_ms)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// In a group: a code of one of the sender's standing orders waiting
    /// for one, typed here, is leaked; that order is not set up. `true` if
    /// one was.
    pub(super) async fn catch_leaked_standing_codes(
        &self,
        turn: &mut Turn<'_>,
        candidates: &[String],
    ) -> Result<bool> {
        let waiting = self
            .store
            .standing_orders_awaiting_code(turn.me.user)
            .await?;
        let mut caught = false;
        for order in waiting {
            if !candidates.iter().any(|c| self.code_matches(&order, c)) {
                continue;
            }
            caught = true;
            let reference = order.reference.to_string();
            if self
                .end_standing(order, StandingState::Leaked, turn.now_ms)
                .await?
            {
                turn.here(super::texts::pay::leaked_in_group(&turn.me_label()));
                turn.private(texts::leaked(&reference));
            }
        }
        Ok(caught)
    }

    /// Records `state` (final, no money involved). `false`: it changed
    /// meanwhile.
    async fn end_standing(
        &self,
        order: StandingOrder,
        state: StandingState,
        now_ms: i64,
    ) -> Result<bool> {
        let mut ended = order;
        ended.state = state;
        ended.due_at_ms = None;
        ended.updated_at_ms = now_ms;
        Ok(self.store.update_standing_order(&ended).await?)
    }

    /// `/scheduled [pause|resume|cancel REF]`.
    pub(super) async fn scheduled(
        &self,
        turn: &mut Turn<'_>,
        action: Option<(StandingAction, ShortRef)>,
    ) -> Result<()> {
        let Some((action, reference)) = action else {
            return self.list_scheduled(turn).await;
        };
        let order = self
            .store
            .standing_order(&reference)
            .await?
            .filter(|o| o.payer == turn.me.user);
        let Some(order) = order else {
            turn.private(texts::no_such_order(&reference.to_string()));
            return Ok(());
        };
        // The scheduler may write the order between this read and the
        // write below (a run, a notice): read it again and apply the action
        // to what is there now, a bounded number of times.
        let mut order = order;
        for _ in 0..STANDING_ACTION_ATTEMPTS_MAX {
            let (changed, reply) = match self.standing_action(action, &order, turn.now_ms) {
                Ok(change) => change,
                Err(refusal) => {
                    turn.private(refusal);
                    return Ok(());
                }
            };
            if self.store.update_standing_order(&changed).await? {
                turn.private(reply);
                return Ok(());
            }
            match self.store.standing_order(&order.reference).await? {
                Some(now) => order = now,
                None => break,
            }
        }
        let reference = order.reference.to_string();
        turn.private(texts::cannot(
            order.kind,
            &reference,
            texts::describe_state(order.state),
        ));
        Ok(())
    }

    /// What `action` makes of `order` and the payer's reply, or why not.
    fn standing_action(
        &self,
        action: StandingAction,
        order: &StandingOrder,
        now_ms: i64,
    ) -> std::result::Result<(StandingOrder, String), String> {
        let reference = order.reference.to_string();
        let mut changed = order.clone();
        changed.updated_at_ms = now_ms;
        let reply = match (action, order.state) {
            (StandingAction::Pause, StandingState::Active) => {
                changed.state = StandingState::Paused;
                changed.due_at_ms = None;
                texts::paused(order.kind, &reference)
            }
            (StandingAction::Resume, StandingState::Paused) => {
                // Periods that fell in the pause are not made up, and a run
                // skipped before the pause stays skipped.
                match changed.schedule.period_at_or_after(now_ms) {
                    Some(k) => {
                        let k = k.max(order.next_period);
                        changed.state = StandingState::Active;
                        changed.next_period = k;
                        changed.attempts = 0;
                        changed.due_at_ms = self.due_of(&changed);
                        texts::resumed(
                            order.kind,
                            &reference,
                            &run_text(&changed.schedule, k).unwrap_or_default(),
                        )
                    }
                    None => {
                        changed.state = StandingState::Finished;
                        changed.due_at_ms = None;
                        texts::resumed_finished(order.kind, &reference)
                    }
                }
            }
            (StandingAction::Skip { due }, StandingState::Active) => {
                let k = order.next_period;
                if let Some(due) = due
                    && order.schedule.run_date(k) != Some(due)
                {
                    // A late or repeated tap: that run is made or skipped.
                    return Err(texts::skip_not_next(
                        order.kind,
                        &reference,
                        &due.to_string(),
                        &next_text(order),
                    ));
                }
                changed = self.advance(order, now_ms);
                texts::skipped_by_you(
                    order.kind,
                    &reference,
                    &run_text(&order.schedule, k).unwrap_or_default(),
                    &next_text(&changed),
                )
            }
            (
                StandingAction::Cancel,
                StandingState::Active | StandingState::Paused | StandingState::AwaitingCode,
            ) => {
                changed.state = StandingState::Cancelled;
                changed.due_at_ms = None;
                texts::cancelled(order.kind, &reference)
            }
            (_, state) => {
                return Err(texts::cannot(
                    order.kind,
                    &reference,
                    texts::describe_state(state),
                ));
            }
        };
        Ok((changed, reply))
    }

    async fn list_scheduled(&self, turn: &mut Turn<'_>) -> Result<()> {
        let limit = u32::try_from(STANDING_ORDERS_PER_USER_MAX).unwrap_or(u32::MAX);
        let orders = self.store.standing_orders_of(turn.me.user, limit).await?;
        if orders.is_empty() {
            turn.private(texts::NONE);
            return Ok(());
        }
        let mut lines = vec![texts::list_head(orders.len())];
        for order in &orders {
            let line = match order.kind {
                StandingKind::Payment => texts::list_line,
                StandingKind::Request => texts::series_list_line,
            };
            let next = match order.state {
                StandingState::Paused => texts::PAUSED.to_owned(),
                StandingState::AwaitingCode => texts::WAITING_FOR_CODE.to_owned(),
                _ => texts::next_run(
                    &run_text(&order.schedule, order.next_period).unwrap_or_default(),
                ),
            };
            lines.push(line(
                &order.reference.to_string(),
                &order.amount.to_string(),
                &order.payee_label,
                &with_memo(order.memo.as_ref()),
                &order.schedule.recurrence().to_string(),
                &next,
            ));
        }
        lines.push(texts::list_foot());
        turn.private(lines.join("\n"));
        Ok(())
    }
}
