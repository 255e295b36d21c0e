//! Paying: `/pay`, a confirmed payment's money (`/confirm` itself is in
//! `confirm.rs`), `/cancel`, a code posted in a group, and
//! ending a payment that waits for its code (cancelled, locked out,
//! leaked, expired).
//!
//! The design decision to know: `/pay` only reserves the money (a pending
//! transfer whose id derives from the chat event) and sends the payer a
//! code bound to that transfer; `/confirm` posts it, or, for a payee who
//! has not joined yet, turns it into an escrow hold. A payment's record
//! follows the ledger: when the ledger refuses to resolve the transfer
//! again, the record is brought in line with what the ledger says it
//! already became.

use ledger::{AccountKind, Amount, NewTransfer, SubmitError, TransferError, Unit};

use super::escrow::{escrow_claim, hold_id};
use super::limits::{PAYMENT_KINDS, payment_movement};
use super::resolve::{Purpose, Resolved};
use super::second_factor::Gate;
use super::texts::holds as hold_texts;
use super::texts::pay::{self as texts, describe_state};
use super::texts::requests::changed_meanwhile;
use super::texts::resolve::is_a_bot;
use super::texts::{minutes, with_memo};
use super::turn::{AwaitsCode, REF_BODY_CHARS, Turn, derive_for_payment, payment_transfer_id};
use super::turn::{label_of, label_of_user, short_ref};
use super::{Bot, Result, transfer_codes};
use crate::command::{Memo, ShortRef, Target};
use crate::message::Button;
use crate::otp::{self, OtpChallenge};
use crate::store::{
    Payee, PayeeNow, Payment, PaymentRequest, PaymentState, RecordChange, RequestState,
};
use crate::trust::{Review, TrustAction};

/// Payments one payer may have waiting for a code at once.
pub const AWAITING_PAYMENTS_PER_USER_MAX: usize = 3;

impl Bot {
    // -- /pay, /confirm, /cancel ---------------------------------------------

    pub(super) async fn pay(
        &self,
        turn: &mut Turn<'_>,
        payee: Option<Target>,
        amount: Amount,
        memo: Option<Memo>,
    ) -> Result<()> {
        let resolved = match &payee {
            Some(target) => match self.resolve(turn, target, Purpose::Payment).await? {
                Ok(resolved) => resolved,
                Err(refusal) => {
                    turn.for_sender(refusal);
                    return Ok(());
                }
            },
            None => {
                let Some(author) = turn.msg.reply_to.clone() else {
                    turn.for_sender(texts::WHOM);
                    return Ok(());
                };
                if author.is_bot {
                    turn.for_sender(is_a_bot(&label_of_user(&author)));
                    return Ok(());
                }
                let (identity, _) = self
                    .see(&author, turn.msg.platform, false, false, turn.now_ms)
                    .await?;
                Resolved::Known(identity)
            }
        };
        self.start_payment(turn, resolved, amount, memo, None).await
    }

    /// Creates the pending transfer and its code; used by `/pay` and
    /// `/approve`.
    pub(super) async fn start_payment(
        &self,
        turn: &mut Turn<'_>,
        payee: Resolved,
        amount: Amount,
        memo: Option<Memo>,
        request: Option<&PaymentRequest>,
    ) -> Result<()> {
        self.start_payment_with(turn, payee, amount, memo, request, None)
            .await
    }

    /// [`Bot::start_payment`] with a record that commits with the payment
    /// or not at all (a settlement of the group tab), and what the group is
    /// told when it cannot (and this message's earlier try did not commit).
    pub(super) async fn start_payment_with(
        &self,
        turn: &mut Turn<'_>,
        payee: Resolved,
        amount: Amount,
        memo: Option<Memo>,
        request: Option<&PaymentRequest>,
        with: Option<(ledger::RecordWrite, String)>,
    ) -> Result<()> {
        let me = turn.me.clone();
        if let Resolved::Known(identity) = &payee
            && identity.user == me.user
        {
            turn.for_sender(texts::NOT_YOURSELF);
            return Ok(());
        }
        let action = TrustAction::Payment {
            payer: me.user,
            payee: match &payee {
                Resolved::Known(identity) => Some(identity.user),
                Resolved::Unclaimed(_) => None,
            },
            amount,
        };
        if self.second_factor_at_start(turn, &action).await? == Gate::Stopped {
            return Ok(());
        }
        // One read gives the warnings, the payee's tier (their limits use
        // it) and, where it can, the payer's payments waiting for a code.
        let facts = self.payment_facts(turn, &payee).await?;
        // A payment to several people waiting for its code counts once.
        let awaiting = match facts.payer_waiting {
            Some(waiting) => waiting,
            None => self.groups_awaiting_code(me.user).await?,
        };
        if awaiting >= AWAITING_PAYMENTS_PER_USER_MAX {
            turn.private(texts::too_many_waiting(awaiting));
            return Ok(());
        }
        let assessment = self.assess(&action, turn.now_ms).await?;
        if let Some(refusal) = &assessment.refusal {
            turn.private(refusal.clone());
            return Ok(());
        }
        let review = assessment.review();
        if review == Review::SecondFactor
            && self.second_factor_for_rule_at_start(turn, &action).await? == Gate::Stopped
        {
            return Ok(());
        }
        let held = matches!(review, Review::Hold { .. });
        // A payment to be reviewed keeps its money reserved through the
        // review too (see `holds.rs`).
        let timeout_secs = if held {
            self.config
                .otp
                .ttl_secs
                .saturating_add(self.config.trust.holds.timeout_secs)
                .min(ledger::PENDING_TIMEOUT_SECS_MAX)
        } else {
            self.config.otp.ttl_secs
        };
        let currency = amount.currency();
        let debit = self.wallet(me.user, currency).await?;
        let (credit, payee_record, payee_label) = match &payee {
            Resolved::Known(identity) => (
                self.wallet(identity.user, currency).await?,
                Payee::User {
                    user: identity.user,
                    platform: identity.platform,
                    id: identity.id.clone(),
                },
                label_of(identity),
            ),
            Resolved::Unclaimed(handle) => (
                self.system_account(AccountKind::Escrow, currency).await?,
                Payee::Unclaimed {
                    platform: turn.msg.platform,
                    handle: handle.clone(),
                },
                handle.to_string(),
            ),
        };
        let transfer_id = payment_transfer_id(turn.msg);
        let pending = NewTransfer::pending(transfer_id, debit, credit, amount, timeout_secs)
            .with_code(transfer_codes::PAYMENT);
        let payee_user = match &payee {
            Resolved::Known(identity) => Some((identity.user, payee_label.as_str())),
            Resolved::Unclaimed(_) => None,
        };
        let subject = transfer_id.to_string();
        let movement = payment_movement(transfer_id, amount, me.user, payee_user, &subject);
        let warnings = facts.warnings;
        let mut plan = match self.plan_limits(&movement).await? {
            Ok(plan) => plan,
            Err(refusal) => {
                turn.private(refusal);
                return Ok(());
            }
        };
        let code = otp::generate(self.rng.as_ref())?;
        let binding = transfer_id.as_u128().to_be_bytes();
        let challenge = OtpChallenge::new(code.hash(&self.pepper, &binding), turn.now_ms);
        let code_expires_at_ms = challenge.expires_at_ms(&self.config.otp);
        // The transfer runs out `timeout_secs` after the batch's time, a
        // moment after now; the sweeper ends the payment either way (see
        // `expire_awaiting`).
        let transfer_due_at_ms =
            (turn.now_ms).saturating_add(i64::from(timeout_secs).saturating_mul(1_000));
        let due_at_ms = if held {
            code_expires_at_ms
        } else {
            code_expires_at_ms.max(transfer_due_at_ms)
        };
        let mut payment = Payment {
            reference: short_ref('P', transfer_id, REF_BODY_CHARS)?,
            transfer_id,
            payer: me.user,
            payer_platform: me.platform,
            payer_id: me.id.clone(),
            payee: payee_record,
            payee_label: payee_label.clone(),
            amount,
            memo: memo.clone(),
            request: request.map(|r| r.reference.clone()),
            origin_chat: turn.in_group().then(|| turn.msg.chat.id.clone()),
            challenge,
            review,
            state: PaymentState::AwaitingCode,
            due_at_ms: Some(due_at_ms),
            created_at_ms: turn.now_ms,
            updated_at_ms: turn.now_ms,
            revision: 0,
        };
        // The reservation and the payment's record in one unit: one commit,
        // batched with other messages'. A request is claimed in the same
        // commit (compare-and-swap): of two taps on Pay, one reserves money.
        let claim = request.map(|r| {
            let mut claimed = r.clone();
            claimed.state = RequestState::Approved;
            claimed.payment = Some(payment.reference.clone());
            claimed.updated_at_ms = turn.now_ms;
            claimed
        });
        let mut records = vec![
            self.store
                .record_write(RecordChange::InsertPayment(&payment))?,
        ];
        let refused = with.map(|(record, refused)| {
            records.push(record);
            refused
        });
        if let Some(claimed) = &claim {
            records.push(
                self.store
                    .record_write(RecordChange::UpdateRequest(claimed))?,
            );
        }
        let unit = Unit {
            transfers: vec![pending.clone()],
            outbox: Vec::new(),
            records,
        };
        let mut submitted = self.submit_limited(&mut plan, unit).await;
        let together = !matches!(submitted, Err(SubmitError::RecordConflict { .. }));
        let mut earlier_try = false;
        if !together && (claim.is_some() || refused.is_some()) {
            // The request changed meanwhile (another tap claimed it, it was
            // declined or withdrawn), the settlement no longer fits, or
            // this message's earlier try committed: never a second
            // reservation without the claim or the settlement.
            if self.store.payment_by_transfer(transfer_id).await?.is_none() {
                match (&claim, refused) {
                    (Some(claimed), _) => {
                        turn.for_sender(changed_meanwhile(&claimed.reference.to_string()));
                    }
                    (None, Some(refused)) => turn.here(refused),
                    (None, None) => {}
                }
                return Ok(());
            }
            earlier_try = true;
        } else if !together {
            // Its reference is taken: by another payment, or by this one
            // from an earlier try of the same message. The transfer alone,
            // then the record the way that tells the two apart.
            let unit = Unit {
                transfers: vec![pending],
                ..Unit::default()
            };
            submitted = self.submit_limited(&mut plan, unit).await;
        }
        if let Err(SubmitError::Rejected { index, error }) = &submitted
            && let Some(refusal) = self.limit_refusal(&plan, &movement, *index, error).await?
        {
            turn.private(refusal);
            return Ok(());
        }
        match submitted {
            _ if earlier_try => {}
            Ok(outcomes) if !outcomes.is_empty() => {}
            Ok(_) => return Err(super::BotError::Inconsistent("an empty submit".to_owned())),
            Err(SubmitError::Rejected {
                error: TransferError::InsufficientFunds,
                index: 0,
            }) => {
                let available = self
                    .ledger
                    .balance(debit)
                    .await?
                    .map(|b| b.available())
                    .unwrap_or(0);
                turn.private(texts::not_enough_money(
                    &ledger::format_minor(available, currency),
                    &amount.to_string(),
                ));
                return Ok(());
            }
            Err(error) => return Err(error.into()),
        }
        let stored = if together {
            payment.clone()
        } else {
            self.insert_referenced(&mut payment, 'P').await?
        };
        if stored.state != PaymentState::AwaitingCode {
            turn.private(texts::already(
                &stored.reference.to_string(),
                describe_state(stored.state),
            ));
            return Ok(());
        }
        if stored.revision != payment.revision
            || stored.challenge.hash.to_bytes() != challenge.hash.to_bytes()
        {
            // A retry after a crash: the first code was never seen; this one
            // replaces it.
            let mut renewed = stored.clone();
            renewed.set_challenge(challenge, turn.now_ms);
            self.store_renewed_code(&renewed).await?;
        }
        let reference = stored.reference.clone();
        let amount_text = amount.to_string();
        let memo_text = with_memo(memo.as_ref());
        let reference_text = reference.to_string();
        let mut text = texts::code_to_confirm(
            &payee_label,
            &amount_text,
            &memo_text,
            code.expose(),
            &minutes(self.config.otp.ttl_secs),
            &reference_text,
        );
        let mut redacted = texts::code_to_confirm_redacted(
            &payee_label,
            &amount_text,
            &memo_text,
            &reference_text,
        );
        if held {
            let line = hold_texts::will_be_reviewed(&self.review_time());
            text.push_str("\n\n");
            text.push_str(&line);
        }
        for warning in &warnings {
            text.push_str("\n\n");
            text.push_str(warning);
            redacted.push_str("\n\n");
            redacted.push_str(warning);
        }
        if turn.seen_by_group() {
            turn.noted_dm = true;
            let note = texts::sent_you_a_code(&turn.me_label(), &payee_label, &amount_text);
            turn.here(note);
        }
        let cancel = Button::new(texts::CANCEL_BUTTON, format!("/cancel {reference}"));
        turn.private_with(text, Some(redacted), vec![cancel]);
        Ok(())
    }

    /// Moves the money of a confirmed payment and tells everyone.
    /// `payee_now`: where the payee's account was when `/confirm` read the
    /// payment (see [`crate::store::AwaitingCode::payees_now`]); `None`:
    /// not read with it, so read here.
    pub(super) async fn execute(
        &self,
        turn: &mut Turn<'_>,
        payment: Payment,
        payee_now: Option<&PayeeNow>,
    ) -> Result<()> {
        let Some(claim) = self.request_claim(turn, &payment).await? else {
            return Ok(());
        };
        if payment.state == PaymentState::AwaitingCode
            && matches!(payment.review, Review::Hold { .. })
        {
            return self.hold_payment(turn, payment).await;
        }
        let amount = payment.amount;
        let memo = with_memo(payment.memo.as_ref());
        let reference = payment.reference.clone();
        let post_id = derive_for_payment(&payment, "paybot.bot.pay.post");
        // An unclaimed payee may have shown up since /pay: someone new to
        // paybot since then, never a known user who took the name since
        // (see `claim_escrow`).
        let mut payee = payment.payee.clone();
        if let Payee::Unclaimed { platform, handle } = &payee
            && let Some(identity) = self
                .store
                .identities_with_handle(*platform, handle)
                .await?
                .into_iter()
                .find(|i| {
                    i.started && i.user != payment.payer && i.first_seen_ms >= payment.created_at_ms
                })
        {
            payee = Payee::User {
                user: identity.user,
                platform: identity.platform,
                id: identity.id.clone(),
            };
        }
        // The payee's account may have joined another wallet (/link) or
        // left one (/unlink) since /pay: the money follows the account.
        let mut forward_from = None;
        // Only a read about this payment, whose payee is still the one it names.
        let read =
            payee_now.filter(|now| now.reference == payment.reference && payee == payment.payee);
        if let Payee::User { user, platform, id } = &payee
            && let Some(now_user) = self.payee_user_now(&payee, read).await?
            && now_user != *user
        {
            forward_from = Some(*user);
            payee = Payee::User {
                user: now_user,
                platform: *platform,
                id: id.clone(),
            };
        }
        // Until when `/undo` takes it back: told to the payer as to the payee.
        let undo = self.undo_until(&payment, turn.now_ms);
        let paid_text = texts::paid(
            &payment.payee_label,
            &amount.to_string(),
            &memo,
            undo.as_deref(),
        );
        let (group, outbox, next_state, due_at_ms, text) = match (&payment.payee, &payee) {
            (Payee::User { .. }, Payee::User { user, platform, id }) => {
                let mut outbox = vec![self.payee_notice(turn, &payment, *platform, id).await?];
                outbox.extend(self.announcement(&payment, &payment.payee_label, turn.now_ms)?);
                let mut group = vec![
                    NewTransfer::post(post_id, payment.transfer_id, None)
                        .with_code(transfer_codes::PAYMENT),
                ];
                if let Some(from) = forward_from {
                    group.push(
                        NewTransfer::single(
                            derive_for_payment(&payment, "paybot.bot.pay.forward"),
                            self.wallet(from, amount.currency()).await?,
                            self.wallet(*user, amount.currency()).await?,
                            amount,
                        )
                        .with_code(transfer_codes::LINK_MERGE),
                    );
                }
                (group, outbox, PaymentState::Completed, None, paid_text)
            }
            (Payee::Unclaimed { .. }, Payee::User { user, platform, id }) => {
                let escrow = self
                    .system_account(AccountKind::Escrow, amount.currency())
                    .await?;
                let wallet = self.wallet(*user, amount.currency()).await?;
                let mut outbox = vec![self.payee_notice(turn, &payment, *platform, id).await?];
                outbox.extend(self.announcement(&payment, &payment.payee_label, turn.now_ms)?);
                (
                    vec![
                        NewTransfer::post(post_id, payment.transfer_id, None)
                            .with_code(transfer_codes::PAYMENT),
                        escrow_claim(&payment, escrow, wallet),
                    ],
                    outbox,
                    PaymentState::Completed,
                    None,
                    paid_text,
                )
            }
            (_, Payee::Unclaimed { .. }) => {
                let escrow = self
                    .system_account(AccountKind::Escrow, amount.currency())
                    .await?;
                let payer_wallet = self.wallet(payment.payer, amount.currency()).await?;
                let hold_id = hold_id(&payment);
                (
                    vec![
                        NewTransfer::void(
                            derive_for_payment(&payment, "paybot.bot.pay.to-hold"),
                            payment.transfer_id,
                        ),
                        NewTransfer::pending(
                            hold_id,
                            payer_wallet,
                            escrow,
                            amount,
                            self.config.escrow_ttl_secs,
                        )
                        .with_code(transfer_codes::ESCROW_HOLD),
                    ],
                    Vec::new(),
                    PaymentState::Escrowed,
                    Some(turn.now_ms.saturating_add(
                        i64::from(self.config.escrow_ttl_secs).saturating_mul(1_000),
                    )),
                    texts::held_for_payee(
                        &amount.to_string(),
                        &memo,
                        &payment.payee_label,
                        &minutes(self.config.escrow_ttl_secs),
                        &reference.to_string(),
                    ),
                )
            }
        };
        let mut done = payment.clone();
        done.payee = payee;
        done.state = next_state;
        done.due_at_ms = due_at_ms;
        done.updated_at_ms = turn.now_ms;
        // A completed payment's record commits with its money (an escrow
        // hold's needs the hold's deadline, known only after).
        let together = next_state == PaymentState::Completed;
        let records = if together {
            let mut records = vec![
                self.store
                    .record_write(RecordChange::UpdatePayment(&done))?,
            ];
            // The request this pays becomes paid in the same commit, only
            // if it is still claimed by this payment (compare-and-swap).
            if let Some(request) = &claim {
                let mut paid = request.clone();
                paid.state = RequestState::Paid;
                paid.updated_at_ms = turn.now_ms;
                records.push(
                    self.store
                        .record_write(RecordChange::UpdateRequest(&paid))?,
                );
            }
            records
        } else {
            Vec::new()
        };
        let unit = Unit {
            transfers: group,
            outbox,
            records,
        };
        match self.ledger.commit(unit).await {
            Ok(outcomes) => {
                if !together {
                    done.due_at_ms = match (next_state, outcomes.last()) {
                        (PaymentState::Escrowed, Some(hold)) => {
                            hold.transfer().expires_at_ms().or(due_at_ms)
                        }
                        _ => due_at_ms,
                    };
                    if !self.update_payment(&done).await? {
                        // Someone else recorded it first; the money moved once.
                        return self.already_recorded(turn, &reference, next_state).await;
                    }
                } else {
                    self.counters.payment_recorded(next_state);
                }
                if !together && let Some(request) = &payment.request {
                    self.mark_request_paid(request, &reference).await?;
                }
                turn.private(text);
                Ok(())
            }
            Err(SubmitError::RecordConflict { .. }) => {
                // Someone else changed it first (another confirmation, a
                // cancel, the sweeper, or its request meanwhile); nothing
                // moved here.
                if claim.is_some() && self.request_claim(turn, &payment).await?.is_none() {
                    return Ok(());
                }
                self.already_recorded(turn, &reference, next_state).await
            }
            Err(SubmitError::Rejected { error, .. }) => {
                let state = awaiting_resolved_as(&error, PaymentState::Cancelled);
                self.reconcile(payment, state).await?;
                turn.private(texts::no_longer_confirmable(
                    &reference.to_string(),
                    describe_state(state),
                ));
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The request `payment` pays, as stored, while it is still claimed by
    /// this payment (`approved` with its reference): `Some(None)` for a
    /// payment of no request, `Some(Some(request))` for a claimed one.
    /// `None` when the request was declined, withdrawn or claimed by another
    /// payment: a payment still waiting for its code is then voided (the
    /// money goes back) and the payer told; nothing is paid.
    async fn request_claim(
        &self,
        turn: &mut Turn<'_>,
        payment: &Payment,
    ) -> Result<Option<Option<PaymentRequest>>> {
        let Some(reference) = &payment.request else {
            return Ok(Some(None));
        };
        let request = self.store.request(reference).await?;
        if let Some(request) = request
            && request.state == RequestState::Approved
            && request.payment.as_ref() == Some(&payment.reference)
        {
            return Ok(Some(Some(request)));
        }
        let mut state = payment.state;
        if state == PaymentState::AwaitingCode {
            state = PaymentState::Cancelled;
            if !self.end_awaiting(payment.clone(), state).await? {
                state = self
                    .store
                    .payment(&payment.reference)
                    .await?
                    .map_or(state, |p| p.state);
            }
        }
        turn.private(texts::no_longer_confirmable(
            &payment.reference.to_string(),
            describe_state(state),
        ));
        Ok(None)
    }

    /// Tells the payer what became of a payment someone else recorded first.
    async fn already_recorded(
        &self,
        turn: &mut Turn<'_>,
        reference: &ShortRef,
        expected: PaymentState,
    ) -> Result<()> {
        let now = self.store.payment(reference).await?;
        let state = now.map_or(expected, |p| p.state);
        turn.private(texts::already(
            &reference.to_string(),
            describe_state(state),
        ));
        Ok(())
    }

    /// Records a state the ledger already reached (after a crash or a race).
    pub(super) async fn reconcile(&self, mut payment: Payment, state: PaymentState) -> Result<()> {
        if payment.state == state {
            return Ok(());
        }
        payment.state = state;
        payment.due_at_ms = None;
        payment.updated_at_ms = self.ledger.now_ms();
        self.update_payment(&payment).await?;
        Ok(())
    }

    /// Voids a payment still waiting for its code and records `state`
    /// (cancelled, locked out, leaked). `false`: it was no longer waiting.
    pub(super) async fn end_awaiting(&self, payment: Payment, state: PaymentState) -> Result<bool> {
        let void_id = derive_for_payment(&payment, "paybot.bot.pay.void");
        match self
            .ledger
            .submit(NewTransfer::void(void_id, payment.transfer_id))
            .await
        {
            Ok(_) => {}
            Err(SubmitError::Rejected { error, .. }) => {
                let actual = awaiting_resolved_as(&error, state);
                if actual != state {
                    let transfer_id = payment.transfer_id;
                    self.reconcile(payment, actual).await?;
                    if actual == PaymentState::Expired {
                        self.release_limits(transfer_id, &PAYMENT_KINDS).await?;
                    }
                    return Ok(false);
                }
            }
            Err(error) => return Err(error.into()),
        }
        let mut ended = payment;
        ended.state = state;
        ended.due_at_ms = None;
        ended.updated_at_ms = self.ledger.now_ms();
        self.ended_awaiting(&ended).await
    }

    /// Records a payment that ended without moving money and, if this call
    /// recorded it, gives back what it used of the limits (only then: a
    /// stale record may belong to a payment since moved to escrow).
    async fn ended_awaiting(&self, ended: &Payment) -> Result<bool> {
        let updated = self.update_payment(ended).await?;
        if updated {
            self.release_limits(ended.transfer_id, &PAYMENT_KINDS)
                .await?;
        }
        Ok(updated)
    }

    /// Expires a payment whose code ran out; tells the payer through the
    /// outbox when `notify`.
    pub(super) async fn expire_awaiting(&self, payment: Payment, notify: bool) -> Result<bool> {
        match self
            .ledger
            .submit(NewTransfer::expire(payment.transfer_id))
            .await
        {
            Ok(_) => {}
            Err(SubmitError::Rejected {
                error: TransferError::NotExpiredYet,
                ..
            }) => {
                // The code's clock and the ledger's disagree by a moment:
                // void it instead, which ends it just the same (and the
                // payer is told just the same).
                let notice = notify.then(|| self.expired_notice(&payment)).transpose()?;
                let ended = self.end_awaiting(payment, PaymentState::Expired).await?;
                if let (true, Some(notice)) = (ended, notice) {
                    self.ledger.enqueue_outbox(&[notice]).await?;
                }
                return Ok(ended);
            }
            Err(SubmitError::Rejected { error, .. }) => {
                let actual = awaiting_resolved_as(&error, PaymentState::Cancelled);
                if actual != PaymentState::Expired {
                    self.reconcile(payment, actual).await?;
                    return Ok(false);
                }
            }
            Err(error) => return Err(error.into()),
        }
        if notify {
            let notice = self.expired_notice(&payment)?;
            self.ledger.enqueue_outbox(&[notice]).await?;
        }
        let mut ended = payment;
        ended.state = PaymentState::Expired;
        ended.due_at_ms = None;
        ended.updated_at_ms = self.ledger.now_ms();
        self.ended_awaiting(&ended).await
    }

    /// The payer's notice that a payment was not confirmed in time.
    fn expired_notice(&self, payment: &Payment) -> Result<ledger::OutboxMessage> {
        self.notice(
            &format!("{}:expired:payer", payment.reference),
            payment.payer_platform,
            &payment.payer_id,
            texts::not_confirmed_in_time(
                &payment.amount.to_string(),
                &payment.payee_label,
                &minutes(self.config.otp.ttl_secs),
            ),
        )
    }

    /// In a group: a code of one of the sender's waiting payments, typed
    /// here, is leaked; that payment is voided. `true` if one was.
    pub(super) async fn catch_leaked_codes(&self, turn: &mut Turn<'_>) -> Result<bool> {
        let candidates: Vec<String> = otp::find_codes(&turn.msg.text).collect();
        if candidates.is_empty() {
            return Ok(false);
        }
        let leaked_card_ops = self.catch_leaked_card_codes(turn, &candidates).await?
            | self.catch_leaked_standing_codes(turn, &candidates).await?
            | self.catch_leaked_autopay_codes(turn, &candidates).await?;
        let awaiting = self.store.payments_awaiting_code(turn.me.user).await?;
        let mut leaked = Vec::new();
        for payment in awaiting {
            if candidates.iter().any(|c| self.code_matches(&payment, c)) {
                leaked.push(payment);
            }
        }
        if leaked.is_empty() {
            return Ok(leaked_card_ops);
        }
        for payment in leaked {
            let reference = payment.reference.clone();
            let what = texts::what(&payment.amount.to_string(), &payment.payee_label);
            if self.end_awaiting(payment, PaymentState::Leaked).await? {
                turn.here(texts::leaked_in_group(&turn.me_label()));
                turn.private(texts::leaked_to_payer(&reference.to_string(), &what));
            }
        }
        Ok(true)
    }
}

/// What a payment waiting for its code already became, when the ledger
/// refuses to resolve its pending transfer again with `error`. `voided` is
/// what a void means here (the caller's own cancellation reason, or
/// [`PaymentState::Cancelled`]).
pub(super) fn awaiting_resolved_as(error: &TransferError, voided: PaymentState) -> PaymentState {
    match error {
        TransferError::AlreadyPosted => PaymentState::Completed,
        TransferError::AlreadyVoided => voided,
        _ => PaymentState::Expired,
    }
}
