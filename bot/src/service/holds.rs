//! Holds for review (see [`crate::trust::holds`]): a confirmed payment the
//! policy point sent to an operator waits in [`PaymentState::Held`] with
//! its money reserved (its pending transfer was made long enough for the
//! review); an operator approves it (the money moves as on any
//! confirmation) or rejects it (the reservation is voided), and one nobody
//! decides is voided at its deadline by the sweep. Every step is audited
//! and the payer is told each time.
//!
//! The design decision to know: approving replays the payer's confirmation
//! ([`Bot::execute`]) in a turn made for the payer, so a held payment moves
//! its money, tells its payee and announces itself exactly as one that was
//! never held; what that turn would have answered goes to the payer
//! through the outbox.

use ledger::{NewTransfer, SubmitError, TransferError};

use super::texts::cards::{describe_add_state, describe_op_state};
use super::texts::holds as texts;
use super::texts::minutes;
use super::texts::pay::describe_state;
use super::turn::{Turn, derive_for_payment};
use super::{Bot, BotError, Result};
use crate::command::ShortRef;
use crate::message::{Chat, ChatId, ChatKind, EventId, Incoming, Platform, PlatformUserId, User};
use crate::store::{
    CardAdd, CardAddState, CardOp, CardOpState, Identity, Payment, PaymentState, UserId,
};
use crate::trust::holds::{
    HOLD_REASON_CHARS_MAX, HOLDS_LISTED_MAX, HoldDecision, HoldKind, HoldOutcome, HoldView,
};
use crate::trust::{Actor, AuditEntry, AuditKind, Review};

/// How long before a held payment's reservation could end in the ledger
/// its review deadline falls, at the latest.
pub const HOLD_RESERVATION_MARGIN_MS: i64 = 5 * 60 * 1_000;
/// An approval under way is finished by the sweep if it has not ended
/// after this long (its process died).
pub const APPROVAL_RETRY_MS: i64 = 60 * 1_000;

impl Bot {
    /// The review deadline of a payment held now: `hold.timeout_secs` from
    /// now (its pending transfer was made with the code's time plus that,
    /// so the reservation outlives the review).
    pub(super) fn hold_due_ms(&self, now_ms: i64) -> i64 {
        now_ms.saturating_add(i64::from(self.config.trust.holds.timeout_secs).saturating_mul(1_000))
    }

    /// A held payment's review deadline: `hold.timeout_secs` from now, but
    /// always a while before its reservation (made at `/pay` for the code's
    /// time plus the review's) could run out in the ledger.
    fn payment_hold_due_ms(&self, payment: &Payment, now_ms: i64) -> i64 {
        let reserved_secs = self
            .config
            .otp
            .ttl_secs
            .saturating_add(self.config.trust.holds.timeout_secs)
            .min(ledger::PENDING_TIMEOUT_SECS_MAX);
        let reserved_until_ms = payment
            .created_at_ms
            .saturating_add(i64::from(reserved_secs).saturating_mul(1_000))
            .saturating_sub(HOLD_RESERVATION_MARGIN_MS);
        self.hold_due_ms(now_ms).min(reserved_until_ms)
    }

    /// How long a review may take, in words.
    pub(super) fn review_time(&self) -> String {
        minutes(self.config.trust.holds.timeout_secs)
    }

    /// Puts a payment whose code was just confirmed on hold instead of
    /// paying it.
    pub(super) async fn hold_payment(&self, turn: &mut Turn<'_>, payment: Payment) -> Result<()> {
        let Review::Hold { reason } = payment.review.clone() else {
            return Err(BotError::Inconsistent(format!(
                "payment {} held without a hold review",
                payment.reference
            )));
        };
        let reference = payment.reference.to_string();
        let mut held = payment.clone();
        held.state = PaymentState::Held;
        held.due_at_ms = Some(self.payment_hold_due_ms(&payment, turn.now_ms));
        held.updated_at_ms = turn.now_ms;
        if !self.update_payment(&held).await? {
            let now = self.store.payment(&payment.reference).await?;
            let state = now.map_or(PaymentState::Held, |p| p.state);
            turn.private(super::texts::pay::already(
                &reference,
                describe_state(state),
            ));
            return Ok(());
        }
        self.audit(
            AuditEntry::new(
                turn.now_ms,
                Actor::User(payment.payer),
                AuditKind::HoldOpened,
            )
            .user(payment.payer)
            .subject(reference.clone())
            .detail("kind", HoldKind::Payment.as_str())
            .detail("amount", payment.amount.to_string())
            .detail("payee", payment.payee_label.clone())
            .detail("reason", reason)
            .detail("due_at_ms", held.due_at_ms.unwrap_or_default()),
        )
        .await?;
        let what = texts::payment_what(&payment.amount.to_string(), &payment.payee_label);
        turn.private(texts::held(&what, &reference, &self.review_time()));
        Ok(())
    }

    /// The holds waiting for an operator, oldest first, at most `limit`.
    pub async fn holds(&self, limit: u32) -> Result<Vec<HoldView>> {
        let limit = limit.min(HOLDS_LISTED_MAX);
        let payments = self.store.payments_held(limit).await?;
        let card_ops = self.store.card_ops_held(limit).await?;
        let card_adds = self.store.card_adds_held(limit).await?;
        let mut views: Vec<HoldView> = payments
            .into_iter()
            .map(|payment| HoldView {
                reason: hold_reason(&payment.review),
                id: payment.reference,
                kind: HoldKind::Payment,
                user: payment.payer,
                amount: Some(payment.amount),
                opened_at_ms: payment.updated_at_ms,
                due_at_ms: payment.due_at_ms.unwrap_or_default(),
            })
            .chain(card_ops.into_iter().map(|op| HoldView {
                reason: hold_reason(&op.review),
                id: op.reference,
                kind: HoldKind::CashOut,
                user: op.user,
                amount: Some(op.amount),
                opened_at_ms: op.updated_at_ms,
                due_at_ms: op.due_at_ms.unwrap_or_default(),
            }))
            .chain(card_adds.into_iter().map(|add| HoldView {
                reason: hold_reason(&add.review),
                id: add.reference,
                kind: HoldKind::CardLink,
                user: add.user,
                amount: None,
                opened_at_ms: add.updated_at_ms,
                due_at_ms: add.due_at_ms.unwrap_or_default(),
            }))
            .collect();
        views.sort_by_key(|view| (view.opened_at_ms, view.id.to_string()));
        views.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(views)
    }

    /// Approves or rejects the hold `id`, for `reason`, by `actor`; audited,
    /// and the user told.
    pub async fn decide_hold(
        &self,
        id: &ShortRef,
        decision: HoldDecision,
        actor: Actor,
        reason: &str,
    ) -> Result<HoldOutcome> {
        let clean = crate::text::clean_free_text(reason);
        let clean = clean.trim();
        if clean.is_empty() || clean.chars().count() > HOLD_REASON_CHARS_MAX {
            return Ok(HoldOutcome::InvalidReason);
        }
        let reason = clean.to_owned();
        let Some(payment) = self.store.payment(id).await? else {
            return self.decide_card_hold(id, decision, actor, reason).await;
        };
        if !matches!(payment.review, Review::Hold { .. }) {
            return Ok(HoldOutcome::NotFound);
        }
        if payment.state != PaymentState::Held {
            return Ok(HoldOutcome::AlreadyEnded(
                describe_state(payment.state).to_owned(),
            ));
        }
        let now_ms = self.ledger.now_ms();
        let reference = payment.reference.clone();
        let payer = payment.payer;
        let audited = |decided: &str| {
            hold_resolved(
                now_ms,
                actor.clone(),
                payer,
                &reference,
                HoldKind::Payment,
                decided,
            )
            .detail("reason", reason.clone())
        };
        match decision {
            HoldDecision::Approve => {
                // The decision is claimed first (compare-and-swap), so the
                // sweep's deadline or another operator cannot end it while
                // the money moves: a held payment with no hold review left
                // is an approval under way, which the sweep finishes if it
                // was interrupted.
                let mut claimed = payment.clone();
                claimed.review = Review::None;
                claimed.due_at_ms = Some(now_ms.saturating_add(APPROVAL_RETRY_MS));
                claimed.updated_at_ms = now_ms;
                if !self.update_payment(&claimed).await? {
                    return self.ended_as(&reference).await;
                }
                claimed.revision = claimed.revision.saturating_add(1);
                self.audit(audited("approved")).await?;
                self.approve_held(claimed, now_ms).await
            }
            HoldDecision::Reject => {
                let what = texts::payment_what(&payment.amount.to_string(), &payment.payee_label);
                let text = texts::rejected(&what, &reference.to_string());
                if self.end_held(payment, PaymentState::Rejected, text).await? {
                    self.audit(audited("rejected")).await?;
                    Ok(HoldOutcome::Rejected)
                } else {
                    self.ended_as(&reference).await
                }
            }
        }
    }

    /// What a payment hold that could not be decided became meanwhile.
    async fn ended_as(&self, reference: &ShortRef) -> Result<HoldOutcome> {
        let now = self.store.payment(reference).await?;
        Ok(HoldOutcome::AlreadyEnded(
            now.map_or("ended", |p| describe_state(p.state)).to_owned(),
        ))
    }

    /// Pays a held payment as its payer's confirmation would have, in a
    /// turn made for the payer; tells the payer through the outbox.
    pub(super) async fn approve_held(&self, payment: Payment, now_ms: i64) -> Result<HoldOutcome> {
        let reference = payment.reference.clone();
        let payment_transfer = payment.transfer_id;
        let (platform, to) = (payment.payer_platform, payment.payer_id.clone());
        self.replay_approved(
            platform,
            &to,
            &reference,
            now_ms,
            Approved::Payment(payment),
        )
        .await?;
        let state = self.store.payment(&reference).await?.map(|p| p.state);
        Ok(match state {
            Some(PaymentState::Completed | PaymentState::Escrowed) => HoldOutcome::Approved,
            Some(state) => {
                // It could not move (its reservation ended meanwhile): what
                // it used of the limits is given back.
                self.release_limits(payment_transfer, &super::limits::PAYMENT_KINDS)
                    .await?;
                HoldOutcome::AlreadyEnded(describe_state(state).to_owned())
            }
            None => HoldOutcome::NotFound,
        })
    }

    /// Runs what the user's own confirmation would have run, in a turn made
    /// for the account that started it, and tells that account through the
    /// outbox: "approved", then what the confirmation would have answered.
    async fn replay_approved(
        &self,
        platform: Platform,
        to: &PlatformUserId,
        reference: &ShortRef,
        now_ms: i64,
        approved: Approved,
    ) -> Result<()> {
        let (msg, me) = self.direct_message_of(platform, to, reference).await?;
        let mut turn = Turn {
            msg: &msg,
            me,
            now_ms,
            replies: Vec::new(),
            noted_dm: false,
            in_place: false,
            dm_closed: false,
        };
        match approved {
            Approved::Payment(payment) => self.execute(&mut turn, payment, None).await?,
            Approved::CashOut(op) => self.send_card_op(&mut turn, op).await?,
            Approved::CardLink(add) => self.link_confirmed_card_add(&mut turn, add).await?,
        }
        let mut lines = vec![texts::approved(&reference.to_string())];
        lines.extend(turn.replies.into_iter().map(|reply| reply.text));
        let notice = self.notice(
            &format!("{reference}:hold:approved"),
            platform,
            to,
            lines.join("\n"),
        )?;
        self.ledger.enqueue_outbox(&[notice]).await?;
        Ok(())
    }

    /// A message as if `id` on `platform` had written to the bot directly,
    /// with their identity: the turn an operator's approval runs in.
    async fn direct_message_of(
        &self,
        platform: Platform,
        id: &PlatformUserId,
        reference: &ShortRef,
    ) -> Result<(Incoming, Identity)> {
        let Some(me) = self.store.identity(platform, id).await? else {
            return Err(BotError::Inconsistent(format!(
                "the identity that started {reference} is gone"
            )));
        };
        let invalid = |what: &str| BotError::Inconsistent(format!("{what} of {reference}"));
        let msg = Incoming {
            platform,
            event_id: EventId::new(format!("hold-approved:{reference}"))
                .map_err(|_| invalid("event id"))?,
            chat: Chat {
                id: ChatId::new(id.as_str()).map_err(|_| invalid("chat id"))?,
                kind: ChatKind::Direct,
                title: None,
            },
            sender: User {
                id: id.clone(),
                handle: me.handle.clone(),
                display_name: me.display_name.clone(),
                is_bot: false,
            },
            text: String::new(),
            mentions: Vec::new(),
            reply_to: None,
            message_id: None,
        };
        Ok((msg, me))
    }

    /// [`Bot::decide_hold`] for a held cash-out.
    async fn decide_card_hold(
        &self,
        id: &ShortRef,
        decision: HoldDecision,
        actor: Actor,
        reason: String,
    ) -> Result<HoldOutcome> {
        let Some(op) = self.store.card_op(id).await? else {
            return self.decide_card_add_hold(id, decision, actor, reason).await;
        };
        if !matches!(op.review, Review::Hold { .. }) {
            return Ok(HoldOutcome::NotFound);
        }
        if op.state != CardOpState::Held {
            return Ok(HoldOutcome::AlreadyEnded(
                describe_op_state(op.state).to_owned(),
            ));
        }
        let now_ms = self.ledger.now_ms();
        self.audit(
            hold_resolved(
                now_ms,
                actor,
                op.user,
                &op.reference,
                HoldKind::CashOut,
                decision.as_str(),
            )
            .detail("reason", reason),
        )
        .await?;
        let reference = op.reference.clone();
        match decision {
            HoldDecision::Approve => {
                // The card may have left the wallet during the review
                // (`/card remove`, or `/unlink` by the account that linked
                // it): then it is not this wallet's to pay.
                let cards = self.store.cards_of(op.user).await?;
                if !cards.iter().any(|c| c.token.as_str() == op.token.as_str()) {
                    let text = texts::rejected(&Self::card_op_what(&op), &reference.to_string());
                    self.end_held_card_op(op, CardOpState::Cancelled, text)
                        .await?;
                    return Ok(HoldOutcome::AlreadyEnded(
                        "cancelled: the card is no longer linked".to_owned(),
                    ));
                }
                let (platform, to) = (op.platform, op.platform_user_id.clone());
                self.replay_approved(platform, &to, &reference, now_ms, Approved::CashOut(op))
                    .await?;
                let state = self
                    .store
                    .card_op(&reference)
                    .await?
                    .map_or(CardOpState::Cancelled, |o| o.state);
                Ok(match state {
                    CardOpState::Held | CardOpState::Rejected | CardOpState::HoldExpired => {
                        HoldOutcome::AlreadyEnded(describe_op_state(state).to_owned())
                    }
                    _ => HoldOutcome::Approved,
                })
            }
            HoldDecision::Reject => {
                let text = texts::rejected(&Self::card_op_what(&op), &reference.to_string());
                if self
                    .end_held_card_op(op, CardOpState::Rejected, text)
                    .await?
                {
                    Ok(HoldOutcome::Rejected)
                } else {
                    let state = self
                        .store
                        .card_op(&reference)
                        .await?
                        .map_or(CardOpState::Cancelled, |o| o.state);
                    Ok(HoldOutcome::AlreadyEnded(
                        describe_op_state(state).to_owned(),
                    ))
                }
            }
        }
    }

    /// [`Bot::decide_hold`] for a held card link.
    async fn decide_card_add_hold(
        &self,
        id: &ShortRef,
        decision: HoldDecision,
        actor: Actor,
        reason: String,
    ) -> Result<HoldOutcome> {
        let Some(add) = self.store.card_add(id).await? else {
            return Ok(HoldOutcome::NotFound);
        };
        if !matches!(add.review, Review::Hold { .. }) {
            return Ok(HoldOutcome::NotFound);
        }
        if add.state != CardAddState::Held {
            return Ok(HoldOutcome::AlreadyEnded(
                describe_add_state(add.state).to_owned(),
            ));
        }
        let now_ms = self.ledger.now_ms();
        self.audit(
            hold_resolved(
                now_ms,
                actor,
                add.user,
                &add.reference,
                HoldKind::CardLink,
                decision.as_str(),
            )
            .detail("reason", reason),
        )
        .await?;
        let reference = add.reference.clone();
        match decision {
            HoldDecision::Approve => {
                let (platform, to) = (add.platform, add.platform_user_id.clone());
                self.replay_approved(platform, &to, &reference, now_ms, Approved::CardLink(add))
                    .await?;
                let state = self
                    .store
                    .card_add(&reference)
                    .await?
                    .map_or(CardAddState::Cancelled, |a| a.state);
                Ok(match state {
                    CardAddState::Linked => HoldOutcome::Approved,
                    other => HoldOutcome::AlreadyEnded(describe_add_state(other).to_owned()),
                })
            }
            HoldDecision::Reject => {
                let text = texts::card_link_rejected(&Self::card_add_what(&add));
                if self
                    .end_held_card_add(add, CardAddState::Rejected, text)
                    .await?
                {
                    Ok(HoldOutcome::Rejected)
                } else {
                    Ok(HoldOutcome::AlreadyEnded("ended".to_owned()))
                }
            }
        }
    }

    /// Ends a held card link nobody decided by its deadline (from the
    /// sweep).
    pub(super) async fn expire_card_add_hold(&self, add: CardAdd, now_ms: i64) -> Result<bool> {
        let text = texts::card_link_timed_out(&Self::card_add_what(&add));
        let entry = hold_resolved(
            now_ms,
            Actor::System,
            add.user,
            &add.reference,
            HoldKind::CardLink,
            "timed_out",
        );
        let ended = self
            .end_held_card_add(add, CardAddState::HoldExpired, text)
            .await?;
        if ended {
            self.audit(entry).await?;
        }
        Ok(ended)
    }

    /// Ends a held cash-out nobody decided by its deadline (from the
    /// sweep).
    pub(super) async fn expire_card_hold(&self, op: CardOp, now_ms: i64) -> Result<bool> {
        let text = texts::timed_out(&Self::card_op_what(&op), &op.reference.to_string());
        let entry = hold_resolved(
            now_ms,
            Actor::System,
            op.user,
            &op.reference,
            HoldKind::CashOut,
            "timed_out",
        );
        let ended = self
            .end_held_card_op(op, CardOpState::HoldExpired, text)
            .await?;
        if ended {
            self.audit(entry).await?;
        }
        Ok(ended)
    }

    /// Voids a held payment's reservation, records `state` (rejected, or
    /// timed out) and tells the payer `text`. `false`: it was no longer
    /// held.
    async fn end_held(&self, payment: Payment, state: PaymentState, text: String) -> Result<bool> {
        if payment.state != PaymentState::Held || !matches!(payment.review, Review::Hold { .. }) {
            return Ok(false);
        }
        let reference = payment.reference.to_string();
        // The record first (compare-and-swap): an approval, the sweep or
        // another operator racing this one then fails its own and does
        // nothing, so the reservation is voided only by the one that ended
        // the hold.
        let mut ended = payment.clone();
        ended.state = state;
        ended.due_at_ms = None;
        ended.updated_at_ms = self.ledger.now_ms();
        if !self.update_payment(&ended).await? {
            return Ok(false);
        }
        let void_id = derive_for_payment(&payment, "paybot.bot.pay.hold-void");
        match self
            .ledger
            .submit(NewTransfer::void(void_id, payment.transfer_id))
            .await
        {
            // Voided now, or the ledger's own sweeper expired it first:
            // either way the money is back.
            Ok(_)
            | Err(SubmitError::Rejected {
                error: TransferError::AlreadyVoided | TransferError::AlreadyExpired,
                ..
            }) => {}
            Err(SubmitError::Rejected { error, .. }) => {
                return Err(BotError::Inconsistent(format!(
                    "held payment {reference} ended as {} but its transfer: {error}",
                    state.as_str()
                )));
            }
            Err(error) => return Err(error.into()),
        }
        // What the payment used of the payer's (and payee's) limits is
        // given back: it never moved.
        self.release_limits(payment.transfer_id, &super::limits::PAYMENT_KINDS)
            .await?;
        let notice = self.notice(
            &format!("{reference}:hold:{}", state.as_str()),
            payment.payer_platform,
            &payment.payer_id,
            text,
        )?;
        self.ledger.enqueue_outbox(&[notice]).await?;
        Ok(true)
    }

    /// Ends a hold nobody decided by its deadline (from the sweep).
    pub(super) async fn expire_hold(&self, payment: Payment, now_ms: i64) -> Result<bool> {
        let what = texts::payment_what(&payment.amount.to_string(), &payment.payee_label);
        let text = texts::timed_out(&what, &payment.reference.to_string());
        let entry = hold_resolved(
            now_ms,
            Actor::System,
            payment.payer,
            &payment.reference,
            HoldKind::Payment,
            "timed_out",
        );
        let ended = self
            .end_held(payment, PaymentState::HoldExpired, text)
            .await?;
        if ended {
            self.audit(entry).await?;
        }
        Ok(ended)
    }
}

/// The rules or screening a hold was opened for.
fn hold_reason(review: &Review) -> String {
    match review {
        Review::Hold { reason } => reason.clone(),
        Review::None | Review::SecondFactor => String::new(),
    }
}

/// What an operator's approval runs again, as its user's confirmation
/// would have.
enum Approved {
    Payment(Payment),
    CashOut(CardOp),
    CardLink(CardAdd),
}

/// The audit entry of a hold that ended: approved, rejected or timed out,
/// by `actor`.
fn hold_resolved(
    now_ms: i64,
    actor: Actor,
    user: UserId,
    reference: &ShortRef,
    kind: HoldKind,
    decision: &str,
) -> AuditEntry {
    AuditEntry::new(now_ms, actor, AuditKind::HoldResolved)
        .user(user)
        .subject(reference.to_string())
        .detail("kind", kind.as_str())
        .detail("decision", decision)
}
