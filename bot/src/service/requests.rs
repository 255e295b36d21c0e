//! Asking for money: `/request`, `/approve`, `/decline`, the hourly limits
//! on requests made and received, and marking a request paid.
//!
//! The design decision to know: a request moves no money. `/approve` starts
//! an ordinary payment (with its code) that points back at the request, and
//! the request is marked paid when that payment completes.

use ledger::Amount;

use super::resolve::Resolved;
use super::texts::requests as texts;
use super::texts::with_memo;
use super::turn::{REF_BODY_CHARS, REF_BODY_CHARS_LONG};
use super::turn::{Turn, derive, event_key, label_of, payment_transfer_id, short_ref};
use super::{Bot, BotError, Result};
use crate::command::{Memo, ShortRef, Target};
use crate::limits;
use crate::message::{Audience, Button, Reply};
use crate::store::{Identity, PaymentRequest, PaymentState, RequestSide, RequestState, Split};

impl Bot {
    // -- requests --------------------------------------------------------------

    pub(super) async fn request(
        &self,
        turn: &mut Turn<'_>,
        payer: &Target,
        amount: Amount,
        memo: Option<Memo>,
    ) -> Result<()> {
        let payer = match self.resolve_known(turn, payer).await? {
            Ok(identity) => identity,
            Err(refusal) => {
                turn.for_sender(refusal);
                return Ok(());
            }
        };
        if payer.user == turn.me.user {
            turn.for_sender(texts::NOT_YOURSELF);
            return Ok(());
        }
        if let Some(refusal) = self
            .request_limits(turn, std::slice::from_ref(&payer))
            .await?
        {
            turn.for_sender(refusal);
            return Ok(());
        }
        let key = event_key(turn.msg);
        let request = self
            .create_request(turn, &payer, amount, memo, None, &key)
            .await?;
        turn.here(texts::asked(
            &label_of(&payer),
            &amount.to_string(),
            &with_memo(request.memo.as_ref()),
            &request.reference.to_string(),
        ));
        Ok(())
    }

    /// Whether the sender may ask each of `payers` for money now: at most
    /// `limits.requests_sent_per_hour_max` requests made and
    /// `limits.requests_received_per_hour_max` received per user in any
    /// hour, counted from the store (durable, the same for every process).
    /// `Some(refusal)`: which limit, and when it frees up.
    ///
    /// Counted, then created: two of one sender's commands handled at the
    /// same instant may pass one over the limit (the command bucket bounds
    /// how many that can be). Requests move no money.
    pub(super) async fn request_limits(
        &self,
        turn: &Turn<'_>,
        payers: &[Identity],
    ) -> Result<Option<String>> {
        let limits = &self.config.limits;
        let since = turn.now_ms.saturating_sub(limits::REQUEST_WINDOW_MS);
        let needed = u32::try_from(payers.len()).unwrap_or(u32::MAX);
        let made = self
            .store
            .requests_since(
                turn.me.user,
                RequestSide::Made,
                since,
                limits.requests_sent_per_hour_max,
            )
            .await?;
        if let Some(at) = limits::window_frees_at(&made, limits.requests_sent_per_hour_max, needed)
        {
            return Ok(Some(texts::too_many_made(
                made.len(),
                needed,
                &limits::utc_minute_text(at),
            )));
        }
        for payer in payers {
            let received = self
                .store
                .requests_since(
                    payer.user,
                    RequestSide::Received,
                    since,
                    limits.requests_received_per_hour_max,
                )
                .await?;
            if let Some(at) =
                limits::window_frees_at(&received, limits.requests_received_per_hour_max, 1)
            {
                return Ok(Some(texts::too_many_received(
                    &label_of(payer),
                    received.len(),
                    &limits::utc_minute_text(at),
                )));
            }
        }
        Ok(None)
    }

    pub(super) async fn create_request(
        &self,
        turn: &Turn<'_>,
        payer: &Identity,
        amount: Amount,
        memo: Option<Memo>,
        split: Option<&Split>,
        key: &str,
    ) -> Result<PaymentRequest> {
        let id = derive("paybot.bot.request", key);
        let mut request = PaymentRequest {
            reference: short_ref('R', id, REF_BODY_CHARS)?,
            requester: turn.me.user,
            requester_platform: turn.me.platform,
            requester_id: turn.me.id.clone(),
            requester_label: turn.me_label(),
            payer: payer.user,
            payer_platform: payer.platform,
            payer_id: payer.id.clone(),
            payer_label: label_of(payer),
            amount,
            memo,
            split: split.map(|s| s.reference.clone()),
            state: RequestState::Open,
            payment: None,
            created_at_ms: turn.now_ms,
            updated_at_ms: turn.now_ms,
            expires_at_ms: Some(
                turn.now_ms
                    .saturating_add(i64::from(self.config.request_ttl_secs).saturating_mul(1000)),
            ),
            reminders: 0,
            reminded_at_ms: None,
            revision: 0,
        };
        let mut stored = self.store.insert_request(&request).await?;
        if stored.requester != request.requester || stored.payer != request.payer {
            request.reference = short_ref('R', id, REF_BODY_CHARS_LONG)?;
            stored = self.store.insert_request(&request).await?;
        }
        let reference = &stored.reference;
        let context = match split {
            Some(split) => texts::split_context(&turn.me_label(), &split.total.to_string()),
            None => String::new(),
        };
        let bounce = Reply {
            image: None,
            document: None,
            platform: turn.msg.platform,
            audience: Audience::Private(turn.msg.sender.id.clone()),
            text: texts::payer_unreachable(&reference.to_string(), &label_of(payer)),
            redacted: None,
            buttons: Vec::new(),
            deletion: None,
        };
        let notice = self.notice_with(
            &format!("{reference}:requested:payer"),
            payer.platform,
            &payer.id,
            texts::asks_you(
                &turn.me_label(),
                &amount.to_string(),
                &with_memo(stored.memo.as_ref()),
                &context,
                &reference.to_string(),
            ),
            vec![
                Button::new(texts::APPROVE_BUTTON, format!("/approve {reference}")),
                Button::new(texts::DECLINE_BUTTON, format!("/decline {reference}")),
            ],
            Some(&bounce),
        )?;
        self.ledger.enqueue_outbox(&[notice]).await?;
        Ok(stored)
    }

    pub(super) async fn own_request(
        &self,
        turn: &mut Turn<'_>,
        reference: &ShortRef,
    ) -> Result<Option<PaymentRequest>> {
        let request = self
            .store
            .request(reference)
            .await?
            .filter(|r| r.payer == turn.me.user);
        if request.is_none() {
            turn.for_sender(texts::no_such_request(&reference.to_string()));
        }
        Ok(request)
    }

    pub(super) async fn approve(&self, turn: &mut Turn<'_>, reference: &ShortRef) -> Result<()> {
        let Some(request) = self.own_request(turn, reference).await? else {
            return Ok(());
        };
        // Past its expiry (the sweep may not have marked it yet): refused,
        // unless a payment of it is already in progress (handled below).
        let expired_at = request
            .expires_at_ms
            .filter(|_| super::inbox::is_past_expiry(&request, turn.now_ms));
        match request.state {
            RequestState::Open if expired_at.is_some() => {
                self.refuse_expired(turn, &request).await?;
                return Ok(());
            }
            RequestState::Expired => {
                self.refuse_expired(turn, &request).await?;
                return Ok(());
            }
            RequestState::Open => {}
            RequestState::Approved => {
                // Any payment not yet final (waiting for its code, held for
                // review, escrowed) is in progress: never a second one.
                let in_progress = match &request.payment {
                    Some(p) => self.store.payment(p).await?.filter(|p| !p.state.is_final()),
                    None => None,
                };
                match in_progress {
                    None if expired_at.is_some() => {
                        self.refuse_expired(turn, &request).await?;
                        return Ok(());
                    }
                    None => {}
                    // This very message handled again (its first outcome
                    // was lost in a crash): as a redelivered /pay, it finds
                    // its own payment and sends a fresh code.
                    Some(payment)
                        if payment.state == PaymentState::AwaitingCode
                            && payment.transfer_id == payment_transfer_id(turn.msg) => {}
                    // Another tap on Pay: where the code is, and how to
                    // get a new one.
                    Some(payment) if payment.state == PaymentState::AwaitingCode => {
                        turn.for_sender(texts::code_already_sent(
                            &reference.to_string(),
                            &payment.reference.to_string(),
                        ));
                        return Ok(());
                    }
                    Some(_) => {
                        turn.for_sender(texts::already_waiting(&reference.to_string()));
                        return Ok(());
                    }
                }
            }
            RequestState::Paid | RequestState::Declined => {
                turn.for_sender(texts::already(
                    &reference.to_string(),
                    request.state.as_str(),
                ));
                return Ok(());
            }
        }
        let Some(requester) = self
            .store
            .identity(request.requester_platform, &request.requester_id)
            .await?
        else {
            return Err(BotError::Inconsistent(format!(
                "request {reference} names an unknown requester"
            )));
        };
        // The request is claimed (`approved`, with the payment's
        // reference) in the commit that reserves the money.
        self.start_payment(
            turn,
            Resolved::Known(requester),
            request.amount,
            request.memo.clone(),
            Some(&request),
        )
        .await
    }

    /// `/approve` of a request past its expiry.
    async fn refuse_expired(&self, turn: &mut Turn<'_>, request: &PaymentRequest) -> Result<()> {
        let zone = self.display_zone(turn.me.user).await?;
        let at = request.expires_at_ms.unwrap_or(request.updated_at_ms);
        let at = format!(
            "{} ({})",
            super::inbox::local_minute(&zone, at),
            zone.name()
        );
        turn.for_sender(super::texts::inbox::expired_refusal(
            &request.reference.to_string(),
            &at,
        ));
        Ok(())
    }

    pub(super) async fn decline(&self, turn: &mut Turn<'_>, reference: &ShortRef) -> Result<()> {
        let Some(request) = self.own_request(turn, reference).await? else {
            return Ok(());
        };
        if matches!(
            request.state,
            RequestState::Paid | RequestState::Declined | RequestState::Expired
        ) {
            turn.for_sender(texts::already(
                &reference.to_string(),
                request.state.as_str(),
            ));
            return Ok(());
        }
        if let Some(payment) = &request.payment
            && request.state == RequestState::Approved
            && self
                .store
                .payment(payment)
                .await?
                .is_some_and(|p| !p.state.is_final())
        {
            // Its payment is in progress: it may still complete, so the
            // request is not declined under it (`/cancel` the payment).
            turn.for_sender(texts::already_waiting(&reference.to_string()));
            return Ok(());
        }
        let mut declined = request.clone();
        declined.state = RequestState::Declined;
        declined.updated_at_ms = turn.now_ms;
        if !self.store.update_request(&declined).await? {
            turn.for_sender(texts::changed_meanwhile(&reference.to_string()));
            return Ok(());
        }
        let notice = self.notice(
            &format!("{reference}:declined:requester"),
            request.requester_platform,
            &request.requester_id,
            texts::declined_to_requester(
                &turn.me_label(),
                &reference.to_string(),
                &request.amount.to_string(),
                &with_memo(request.memo.as_ref()),
            ),
        )?;
        self.ledger.enqueue_outbox(&[notice]).await?;
        turn.here(texts::declined(
            &reference.to_string(),
            &request.requester_label,
        ));
        Ok(())
    }

    pub(super) async fn mark_request_paid(
        &self,
        reference: &ShortRef,
        payment: &ShortRef,
    ) -> Result<()> {
        for _ in 0..3 {
            let Some(request) = self.store.request(reference).await? else {
                return Ok(());
            };
            match request.state {
                RequestState::Paid => return Ok(()),
                // Never overwrites a decline: the payment that completed
                // without its claim is the caller's to account for.
                RequestState::Declined => {
                    return Err(BotError::Inconsistent(format!(
                        "request {reference} was declined before its payment completed"
                    )));
                }
                // An expiry is nobody's decision: a payment that still
                // completed (started just before it) pays the request.
                RequestState::Open | RequestState::Approved | RequestState::Expired => {}
            }
            let mut paid = request.clone();
            paid.state = RequestState::Paid;
            paid.payment = Some(payment.clone());
            paid.updated_at_ms = self.ledger.now_ms();
            if self.store.update_request(&paid).await? {
                return Ok(());
            }
        }
        Err(BotError::Inconsistent(format!(
            "request {reference} keeps changing"
        )))
    }
}
