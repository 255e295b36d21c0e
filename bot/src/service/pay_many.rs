//! Paying several people at once: `/pay @bob @carol 5 each` and `/pay @bob
//! 5 @carol 7`, their one `/confirm` and their `/cancel`.
//!
//! The design decision to know: each leg is an ordinary payment (its own
//! `M` reference, pending transfer, challenge and state), so history,
//! expiry, a leaked code and the sweeper treat it like any other; what
//! makes them one is that they are written together and moved together.
//! `/pay` reserves every leg's money in one linked ledger unit with the
//! legs' records and the group's rows (`PayGroupStore`), so one refused leg
//! (limit, not enough money) reserves nothing; `/confirm` posts every leg
//! in one linked unit with each leg's compare-and-swap, so one leg that
//! changed meanwhile (cancelled, expired) posts nothing. One code guards
//! them all: each leg's challenge is that code bound to its own transfer.
//! The single-payee path (`pay.rs`) is untouched: `/pay @bob 5` never
//! comes here.

use ledger::{Amount, NewTransfer, SubmitError, TransferError, TransferId, Unit};

use super::limits::{LimitPlan, Movement, payment_movement};
use super::resolve::{Purpose, Resolved};
use super::rules::EarlierLeg;
use super::second_factor::Gate;
use super::texts::pay::{CANCEL_BUTTON, describe_state};
use super::texts::pay_many as texts;
use super::texts::{minutes, with_memo};
use super::turn::{
    AwaitsCode, REF_BODY_CHARS, Turn, derive, derive_beside, event_key, label_of, short_ref,
};
use super::{Bot, BotError, Result, transfer_codes};
use crate::command::{Memo, OtpCode, PayLeg, ShortRef};
use crate::message::{Audience, Button, Reply};
use crate::notify::outbox_message;
use crate::otp::{self, OtpChallenge, Verdict};
use crate::store::pay_group::PayGroup;
use crate::store::{Identity, Payee, Payment, PaymentState, RecordChange, UserId};
use crate::trust::second_factor::TotpOrRecovery;
use crate::trust::{Review, TrustAction, Verdict as TrustVerdict};

/// The first letter of a leg's reference: a payment that is part of a group.
pub(super) const LEG_REF_KIND: char = 'M';
/// The first letter of a group's reference.
pub(super) const GROUP_REF_KIND: char = 'G';

/// Payment groups one payer may have waiting for a code at once (a group
/// counts once, a single payment too).
pub const AWAITING_GROUPS_PER_USER_MAX: usize = 3;

/// One leg as `/pay` (or `/settle`) prepares it.
pub(super) struct Leg {
    pub(super) payee: Identity,
    pub(super) label: String,
    pub(super) amount: Amount,
    pub(super) transfer_id: TransferId,
}

/// Records that go with a group's legs (a settlement per leg, `/settle`),
/// written in the unit that reserves the money; when they no longer fit
/// (a conflicting record that is not this message's earlier try), the
/// group is not started and the sender is told `refused`.
pub(super) struct Along {
    pub(super) records: Vec<ledger::RecordWrite>,
    pub(super) refused: String,
}

/// Leg `index`'s pending transfer for the message `key`.
pub(super) fn leg_transfer_id(key: &str, index: usize) -> TransferId {
    derive("paybot.bot.pay.many", &format!("{key}#{index}"))
}

/// Whether `reference` names a leg of a payment group or a group.
pub(super) fn is_group_ref(reference: &ShortRef) -> bool {
    reference
        .as_str()
        .starts_with([LEG_REF_KIND, GROUP_REF_KIND])
}

/// "@bob $5.00, @carol $7.00".
fn legs_text(legs: &[Payment]) -> String {
    let pairs: Vec<(String, String)> = legs
        .iter()
        .map(|leg| (leg.payee_label.clone(), leg.amount.to_string()))
        .collect();
    texts::legs_line(&pairs)
}

/// The legs' amounts added up; `None` when they overflow or differ in
/// currency (the parser guarantees one currency).
fn total_of(amounts: impl IntoIterator<Item = Amount>) -> Option<Amount> {
    let mut currency = None;
    let mut minor: i64 = 0;
    for amount in amounts {
        if *currency.get_or_insert(amount.currency()) != amount.currency() {
            return None;
        }
        minor = minor.checked_add(amount.minor())?;
    }
    Amount::from_minor(minor, currency?).ok()
}

impl Bot {
    /// `/pay @bob @carol 5 each` and `/pay @bob 5 @carol 7`.
    pub(super) async fn pay_many(
        &self,
        turn: &mut Turn<'_>,
        wanted: Vec<PayLeg>,
        memo: Option<Memo>,
    ) -> Result<()> {
        let me = turn.me.clone();
        let key = event_key(turn.msg);
        let mut legs: Vec<Leg> = Vec::new();
        for (index, leg) in wanted.iter().enumerate() {
            let identity = match self.resolve(turn, &leg.payee, Purpose::Known).await? {
                Ok(Resolved::Known(identity)) => identity,
                Ok(Resolved::Unclaimed(handle)) => {
                    turn.for_sender(texts::not_joined(&handle.to_string()));
                    return Ok(());
                }
                Err(refusal) => {
                    turn.for_sender(refusal);
                    return Ok(());
                }
            };
            let label = label_of(&identity);
            if identity.user == me.user {
                turn.for_sender(super::texts::pay::NOT_YOURSELF);
                return Ok(());
            }
            if legs.iter().any(|l| l.payee.user == identity.user) {
                turn.for_sender(texts::named_twice(&label));
                return Ok(());
            }
            legs.push(Leg {
                payee: identity,
                label,
                amount: leg.amount,
                transfer_id: leg_transfer_id(&key, index),
            });
        }
        self.start_group(turn, legs, memo, None).await
    }

    /// Reserves every leg's money in one linked unit with the legs' and
    /// the group's records (and `along`'s), and sends the payer one code.
    pub(super) async fn start_group(
        &self,
        turn: &mut Turn<'_>,
        legs: Vec<Leg>,
        memo: Option<Memo>,
        along: Option<Along>,
    ) -> Result<()> {
        let me = turn.me.clone();
        let key = event_key(turn.msg);
        let mut warnings: Vec<String> = Vec::new();
        for leg in &legs {
            warnings.extend(
                self.payee_warnings(turn, &Resolved::Known(leg.payee.clone()))
                    .await?,
            );
        }
        let Some(total) = total_of(legs.iter().map(|l| l.amount)) else {
            turn.for_sender(texts::TOTAL_TOO_LARGE);
            return Ok(());
        };
        let Some(first) = legs.first() else {
            return Err(BotError::Inconsistent(
                "a payment group of no one".to_owned(),
            ));
        };
        // An earlier try of this message stored its group (its outcome was
        // lost): it resumes with a fresh code, judged once already; the
        // checks below would count the group itself against it.
        if self
            .store
            .payment_by_transfer(first.transfer_id)
            .await?
            .is_some()
        {
            let code = otp::generate(self.rng.as_ref())?;
            let Some(payments) = self.renew_group_code(turn, &legs, &code).await? else {
                return Ok(());
            };
            let group_ref = short_ref(
                GROUP_REF_KIND,
                derive("paybot.bot.pay.group", &key),
                REF_BODY_CHARS,
            )?;
            self.send_group_code(
                turn,
                &payments,
                total,
                memo.as_ref(),
                &code,
                &group_ref,
                &warnings,
            );
            return Ok(());
        }
        // The policy point judges the total, once per payee (rules about a
        // counterparty see each); the strictest answer wins.
        let whole = TrustAction::Payment {
            payer: me.user,
            payee: Some(first.payee.user),
            amount: total,
        };
        if self.second_factor_at_start(turn, &whole).await? == Gate::Stopped {
            return Ok(());
        }
        if self.groups_awaiting_code(me.user).await? >= AWAITING_GROUPS_PER_USER_MAX {
            turn.private(super::texts::pay::too_many_waiting(
                AWAITING_GROUPS_PER_USER_MAX,
            ));
            return Ok(());
        }
        // Each payee is judged with the ones before it counted as payments
        // made now: the count rules see every payment of the group.
        let mut verdict = TrustVerdict::Allow;
        let mut earlier: Vec<EarlierLeg> = Vec::new();
        for leg in &legs {
            let action = TrustAction::Payment {
                payer: me.user,
                payee: Some(leg.payee.user),
                amount: total,
            };
            let assessment = self.assess_with(&action, turn.now_ms, &earlier).await?;
            if let Some(refusal) = &assessment.refusal {
                turn.private(texts::leg_refused(&leg.label, refusal));
                return Ok(());
            }
            verdict = verdict.max(assessment.verdict);
            earlier.push(EarlierLeg {
                payee: leg.payee.user,
                amount: leg.amount,
                new_payee: !self.store.has_paid_before(me.user, leg.payee.user).await?,
            });
        }
        if verdict >= TrustVerdict::Hold {
            turn.private(texts::REVIEW_NEEDED);
            return Ok(());
        }
        let review = if verdict == TrustVerdict::SecondFactor {
            if self.second_factor_for_rule_at_start(turn, &whole).await? == Gate::Stopped {
                return Ok(());
            }
            Review::SecondFactor
        } else {
            Review::None
        };
        // The limits: the single-payment limit on the total, the windowed
        // ones by each leg's use (their sum is the total), the payee's per
        // payee.
        let group_id = derive("paybot.bot.pay.group", &key);
        let group_subject = group_id.to_string();
        let mut whole_movement = payment_movement(group_id, total, me.user, None, &group_subject);
        whole_movement.kinds = &[];
        whole_movement.balance_of = None;
        if let Err(refusal) = self.plan_limits(&whole_movement).await? {
            turn.private(refusal);
            return Ok(());
        }
        let subjects: Vec<String> = legs.iter().map(|l| l.transfer_id.to_string()).collect();
        let mut movements: Vec<Movement<'_>> = Vec::new();
        for (leg, subject) in legs.iter().zip(&subjects) {
            let mut movement = payment_movement(
                leg.transfer_id,
                leg.amount,
                me.user,
                Some((leg.payee.user, leg.label.as_str())),
                subject,
            );
            movement.single = false;
            movements.push(movement);
        }
        let mut plans: Vec<LimitPlan> = Vec::new();
        for (leg, movement) in legs.iter().zip(&movements) {
            match self.plan_limits(movement).await? {
                Ok(plan) => plans.push(plan),
                Err(refusal) => {
                    turn.private(texts::leg_refused(&leg.label, &refusal));
                    return Ok(());
                }
            }
        }
        let code = otp::generate(self.rng.as_ref())?;
        let group_ref = short_ref(GROUP_REF_KIND, group_id, REF_BODY_CHARS)?;
        let timeout_secs = self.config.otp.ttl_secs;
        let currency = total.currency();
        let debit = self.wallet(me.user, currency).await?;
        let mut transfers: Vec<NewTransfer> = Vec::new();
        let mut starts: Vec<usize> = Vec::new();
        let mut records = Vec::new();
        let mut payments: Vec<Payment> = Vec::new();
        for (position, (leg, plan)) in legs.iter().zip(plans.iter_mut()).enumerate() {
            let credit = self.wallet(leg.payee.user, currency).await?;
            let pending =
                NewTransfer::pending(leg.transfer_id, debit, credit, leg.amount, timeout_secs)
                    .with_code(transfer_codes::PAYMENT);
            starts.push(transfers.len());
            transfers.extend(plan.group(vec![pending]));
            let binding = leg.transfer_id.as_u128().to_be_bytes();
            let challenge = OtpChallenge::new(code.hash(&self.pepper, &binding), turn.now_ms);
            let due_at_ms = challenge.expires_at_ms(&self.config.otp).max(
                turn.now_ms
                    .saturating_add(i64::from(timeout_secs).saturating_mul(1_000)),
            );
            let payment = Payment {
                reference: short_ref(LEG_REF_KIND, leg.transfer_id, REF_BODY_CHARS)?,
                transfer_id: leg.transfer_id,
                payer: me.user,
                payer_platform: me.platform,
                payer_id: me.id.clone(),
                payee: Payee::User {
                    user: leg.payee.user,
                    platform: leg.payee.platform,
                    id: leg.payee.id.clone(),
                },
                payee_label: leg.label.clone(),
                amount: leg.amount,
                memo: memo.clone(),
                request: None,
                origin_chat: turn.in_group().then(|| turn.msg.chat.id.clone()),
                challenge,
                review: review.clone(),
                state: PaymentState::AwaitingCode,
                due_at_ms: Some(due_at_ms),
                created_at_ms: turn.now_ms,
                updated_at_ms: turn.now_ms,
                revision: 0,
            };
            records.push(
                self.store
                    .record_write(RecordChange::InsertPayment(&payment))?,
            );
            let position = u32::try_from(position).unwrap_or(u32::MAX);
            records.push(self.store.group_leg_write(
                &group_ref,
                &payment.reference,
                position,
                me.user,
                turn.now_ms,
            )?);
            payments.push(payment);
        }
        let refused = along.map(|along| {
            records.extend(along.records);
            along.refused
        });
        let unit = Unit {
            transfers,
            outbox: Vec::new(),
            records,
        };
        // As `submit_limited`, for several plans in one unit: an allowance
        // that refused while some of its uses were past their window (not
        // yet swept) has them expired, and the unit is committed again.
        let mut retries_left: usize = plans.iter().map(Bot::uses_count).sum();
        let committed = loop {
            let result = self.ledger.commit(unit.clone()).await;
            let Err(SubmitError::Rejected {
                index,
                error: TransferError::InsufficientFunds,
            }) = &result
            else {
                break result;
            };
            let at = starts.iter().rposition(|start| start <= index);
            let Some((start, plan)) = at.and_then(|at| Some((starts.get(at)?, plans.get(at)?)))
            else {
                break result;
            };
            let offset = index.saturating_sub(*start);
            if retries_left == 0 || !self.expire_refused_use(plan, offset).await {
                break result;
            }
            retries_left -= 1;
        };
        match committed {
            Ok(_) => {}
            Err(SubmitError::RecordConflict { .. }) => {
                // What goes along no longer fits (unless this message's
                // earlier try wrote it): nothing was reserved.
                if let Some(refused) = refused
                    && let Some(first) = payments.first()
                    && self
                        .store
                        .payment_by_transfer(first.transfer_id)
                        .await?
                        .is_none()
                {
                    turn.here(refused);
                    return Ok(());
                }
                // An earlier try of this message committed meanwhile: its
                // code was never seen; this one replaces it.
                let Some(stored) = self.renew_group_code(turn, &legs, &code).await? else {
                    return Ok(());
                };
                payments = stored;
            }
            Err(SubmitError::Rejected { index, error }) => {
                let at = starts
                    .iter()
                    .rposition(|start| *start <= index)
                    .unwrap_or(0);
                let start = starts.get(at).copied().unwrap_or(0);
                let (Some(leg), Some(plan), Some(movement)) =
                    (legs.get(at), plans.get(at), movements.get(at))
                else {
                    return Err(SubmitError::Rejected { index, error }.into());
                };
                if index == start && error == TransferError::InsufficientFunds {
                    let available = self
                        .ledger
                        .balance(debit)
                        .await?
                        .map(|b| b.available())
                        .unwrap_or(0);
                    turn.private(texts::not_enough_money(
                        &ledger::format_minor(available, currency),
                        &total.to_string(),
                    ));
                    return Ok(());
                }
                let offset = index.saturating_sub(start);
                if let Some(refusal) = self.limit_refusal(plan, movement, offset, &error).await? {
                    turn.private(texts::leg_refused(&leg.label, &refusal));
                    return Ok(());
                }
                return Err(SubmitError::Rejected { index, error }.into());
            }
            Err(error) => return Err(error.into()),
        }
        self.send_group_code(
            turn,
            &payments,
            total,
            memo.as_ref(),
            &code,
            &group_ref,
            &warnings,
        );
        Ok(())
    }

    /// The payer's code for `payments` (one group), privately; in a group,
    /// the group hears only that a DM was sent.
    #[allow(clippy::too_many_arguments)]
    fn send_group_code(
        &self,
        turn: &mut Turn<'_>,
        payments: &[Payment],
        total: Amount,
        memo: Option<&Memo>,
        code: &otp::OtpSecret,
        group_ref: &ShortRef,
        warnings: &[String],
    ) {
        let legs_line = legs_text(payments);
        let total_text = total.to_string();
        let memo_text = with_memo(memo);
        let reference_text = group_ref.to_string();
        let mut text = texts::code_to_confirm(
            &legs_line,
            &total_text,
            &memo_text,
            code.expose(),
            &minutes(self.config.otp.ttl_secs),
            &reference_text,
        );
        let mut redacted =
            texts::code_to_confirm_redacted(&legs_line, &total_text, &memo_text, &reference_text);
        for warning in warnings {
            text.push_str("\n\n");
            text.push_str(warning);
            redacted.push_str("\n\n");
            redacted.push_str(warning);
        }
        if turn.seen_by_group() {
            turn.noted_dm = true;
            let note = texts::sent_you_a_code(&turn.me_label(), payments.len(), &total_text);
            turn.here(note);
        }
        let cancel = Button::new(CANCEL_BUTTON, format!("/cancel {group_ref}"));
        turn.private_with(text, Some(redacted), vec![cancel]);
    }

    /// After an earlier try of the same `/pay` committed: gives its legs
    /// `code` and returns them as stored. `None`: they are no longer
    /// waiting for one (the payer has been told).
    async fn renew_group_code(
        &self,
        turn: &mut Turn<'_>,
        legs: &[Leg],
        code: &otp::OtpSecret,
    ) -> Result<Option<Vec<Payment>>> {
        let mut renewed_legs = Vec::new();
        for leg in legs {
            let reference = short_ref(LEG_REF_KIND, leg.transfer_id, REF_BODY_CHARS)?;
            let Some(stored) = self.store.payment(&reference).await? else {
                return Err(BotError::Inconsistent(format!(
                    "payment group leg {reference} is neither new nor stored"
                )));
            };
            if stored.transfer_id != leg.transfer_id {
                return Err(BotError::Inconsistent(format!(
                    "payment reference {reference} is taken"
                )));
            }
            if stored.state != PaymentState::AwaitingCode {
                turn.private(super::texts::pay::already(
                    &stored.reference.to_string(),
                    describe_state(stored.state),
                ));
                return Ok(None);
            }
            let binding = leg.transfer_id.as_u128().to_be_bytes();
            let challenge = OtpChallenge::new(code.hash(&self.pepper, &binding), turn.now_ms);
            let mut renewed = stored;
            renewed.set_challenge(challenge, turn.now_ms);
            self.store_renewed_code(&renewed).await?;
            renewed_legs.push(renewed);
        }
        Ok(Some(renewed_legs))
    }

    /// How many groups and single payments `payer` has waiting for a code.
    pub(super) async fn groups_awaiting_code(&self, payer: UserId) -> Result<usize> {
        let waiting = self.store.payments_waiting(payer).await?;
        Ok(usize::try_from(waiting).unwrap_or(usize::MAX))
    }

    /// The payer's legs of `group`, in order. `None`: not theirs.
    pub(super) async fn group_legs(
        &self,
        group: &PayGroup,
        payer: UserId,
    ) -> Result<Option<Vec<Payment>>> {
        let mut legs = Vec::new();
        for reference in &group.legs {
            match self.store.payment(reference).await? {
                Some(leg) if leg.payer == payer => legs.push(leg),
                _ => return Ok(None),
            }
        }
        Ok((!legs.is_empty()).then_some(legs))
    }

    /// Ends every leg still waiting for its code with `state`.
    async fn end_group(&self, legs: &[Payment], state: PaymentState) -> Result<()> {
        for leg in legs {
            if leg.state == PaymentState::AwaitingCode {
                self.end_awaiting(leg.clone(), state).await?;
            }
        }
        Ok(())
    }

    /// `/confirm` with the code of a group's leg.
    pub(super) async fn confirm_pay_group(
        &self,
        turn: &mut Turn<'_>,
        group: PayGroup,
        code: &OtpCode,
        second_factor: Option<&TotpOrRecovery>,
    ) -> Result<()> {
        let reference = group.reference.to_string();
        let Some(legs) = self.group_legs(&group, turn.me.user).await? else {
            turn.private(super::texts::pay::NOTHING_WAITING_FOR_A_CODE);
            return Ok(());
        };
        if let Some(changed) = legs
            .iter()
            .find(|leg| leg.state != PaymentState::AwaitingCode)
        {
            let leg = format!("to {}", changed.payee_label);
            let state = describe_state(changed.state);
            self.end_group(&legs, PaymentState::Cancelled).await?;
            turn.private(texts::no_longer_confirmable(&reference, &leg, state));
            return Ok(());
        }
        let Some(first) = legs.first() else {
            return Ok(());
        };
        match self.code_verdict(first, code, turn.now_ms) {
            Verdict::Confirmed => {
                let Some(total) = total_of(legs.iter().map(|l| l.amount)) else {
                    return Err(BotError::Inconsistent("a group's total".to_owned()));
                };
                let action = TrustAction::Payment {
                    payer: first.payer,
                    payee: first.payee.user(),
                    amount: total,
                };
                let forced = first.review == Review::SecondFactor;
                let gate = self.second_factor_gate(turn, &action, second_factor, forced);
                if gate.await? == Gate::Stopped {
                    return Ok(());
                }
                self.execute_group(turn, &group, legs, total).await
            }
            Verdict::Expired => {
                for leg in legs {
                    self.expire_awaiting(leg, false).await?;
                }
                turn.private(texts::code_expired(&reference));
                Ok(())
            }
            Verdict::LockedOut | Verdict::Wrong { .. } => {
                self.end_group(&legs, PaymentState::LockedOut).await?;
                turn.private(texts::locked_out(&reference));
                Ok(())
            }
        }
    }

    /// Posts every leg in one linked unit with their records and notices.
    async fn execute_group(
        &self,
        turn: &mut Turn<'_>,
        group: &PayGroup,
        legs: Vec<Payment>,
        total: Amount,
    ) -> Result<()> {
        let mut transfers = Vec::new();
        let mut outbox = Vec::new();
        let mut done_legs = Vec::new();
        for leg in &legs {
            let Payee::User { user, platform, id } = &leg.payee else {
                return Err(BotError::Inconsistent(format!(
                    "payment group leg {} has no known payee",
                    leg.reference
                )));
            };
            let reference = leg.reference.to_string();
            transfers.push(
                NewTransfer::post(
                    derive_beside(leg.transfer_id, "paybot.bot.pay.post", &reference),
                    leg.transfer_id,
                    None,
                )
                .with_code(transfer_codes::PAYMENT),
            );
            // The payee's account may have joined another wallet since:
            // the money follows the account (as in `execute`).
            let mut to = *user;
            if let Some(now) = self.store.identity(*platform, id).await?
                && now.user != *user
            {
                transfers.push(
                    NewTransfer::single(
                        derive_beside(leg.transfer_id, "paybot.bot.pay.forward", &reference),
                        self.wallet(*user, leg.amount.currency()).await?,
                        self.wallet(now.user, leg.amount.currency()).await?,
                        leg.amount,
                    )
                    .with_code(transfer_codes::LINK_MERGE),
                );
                to = now.user;
            }
            outbox.push(self.payee_notice(turn, leg, *platform, id).await?);
            let mut done = leg.clone();
            done.payee = Payee::User {
                user: to,
                platform: *platform,
                id: id.clone(),
            };
            done.state = PaymentState::Completed;
            done.due_at_ms = None;
            done.updated_at_ms = turn.now_ms;
            done_legs.push(done);
        }
        let payees = legs
            .iter()
            .map(|leg| leg.payee_label.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        if let Some(first) = legs.first()
            && let Some(chat) = &first.origin_chat
        {
            let reply = Reply {
                image: None,
                document: None,
                platform: first.payer_platform,
                audience: Audience::Chat(chat.clone()),
                text: format!(
                    "{}{}",
                    texts::confirmed_in_group(&group.reference.to_string(), &payees),
                    self.undo_until(first, turn.now_ms)
                        .map(|until| super::texts::notices::can_be_undone_until(&until))
                        .unwrap_or_default()
                ),
                redacted: None,
                buttons: Vec::new(),
                deletion: None,
            };
            outbox.push(outbox_message(
                &format!("{}:paid:chat", group.reference),
                &reply,
            )?);
        }
        let mut records = Vec::new();
        for done in &done_legs {
            records.push(self.store.record_write(RecordChange::UpdatePayment(done))?);
        }
        let unit = Unit {
            transfers,
            outbox,
            records,
        };
        let reference = group.reference.to_string();
        match self.ledger.commit(unit).await {
            Ok(_) => {
                for _ in &done_legs {
                    self.counters.payment_recorded(PaymentState::Completed);
                }
                let memo = with_memo(legs.first().and_then(|l| l.memo.as_ref()));
                turn.private(texts::paid(
                    &legs_text(&legs),
                    &total.to_string(),
                    &memo,
                    &reference,
                ));
                Ok(())
            }
            Err(SubmitError::RecordConflict { .. } | SubmitError::Rejected { .. }) => {
                // A leg changed meanwhile (cancelled, expired, confirmed by
                // another message): nothing moved here.
                let Some(now) = self.group_legs(group, turn.me.user).await? else {
                    return Ok(());
                };
                if now.iter().all(|l| l.state == PaymentState::Completed) {
                    turn.private(super::texts::pay::already(&reference, "paid"));
                    return Ok(());
                }
                let changed = now
                    .iter()
                    .find(|l| l.state != PaymentState::AwaitingCode)
                    .map(|l| (format!("to {}", l.payee_label), describe_state(l.state)));
                self.end_group(&now, PaymentState::Cancelled).await?;
                turn.private(match changed {
                    Some((leg, state)) => texts::no_longer_confirmable(&reference, &leg, state),
                    // The ledger ended a reservation before its record said so.
                    None => texts::ran_out(&reference),
                });
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// `/cancel GREF` (or a leg's reference): every leg still waiting.
    pub(super) async fn cancel_pay_group(
        &self,
        turn: &mut Turn<'_>,
        group: PayGroup,
    ) -> Result<()> {
        let reference = group.reference.to_string();
        let Some(legs) = self.group_legs(&group, turn.me.user).await? else {
            turn.for_sender(super::texts::pay::no_such_payment(&reference));
            return Ok(());
        };
        if let Some(other) = legs
            .iter()
            .find(|leg| leg.state != PaymentState::AwaitingCode)
        {
            let state = describe_state(other.state);
            self.end_group(&legs, PaymentState::Cancelled).await?;
            turn.for_sender(texts::cannot_cancel(&reference, state));
            return Ok(());
        }
        self.end_group(&legs, PaymentState::Cancelled).await?;
        turn.here(texts::cancelled(&reference, &legs_text(&legs)));
        Ok(())
    }
}
