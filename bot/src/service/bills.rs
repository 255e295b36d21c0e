//! Bill pay's chat side: an invoice from a biller reaches its payer as a
//! payment request from the biller's user, with Pay and Decline buttons.
//!
//! The design decision to know: an invoice *is* a payment request, so
//! paying it is the ordinary `/approve` flow (the code by DM, limits, the
//! trust policy point and its second factor), and the request is marked
//! paid exactly once when that payment completes. What the biller sees
//! (its invoice's state, its webhooks) is the binary's, read from the
//! request; `bot` knows no HTTP.

use ledger::{Amount, RecordWrite, SubmitError, Unit};

use super::turn::{REF_BODY_CHARS_LONG, Turn, derive, label_of, short_ref};
use super::{Bot, Result};
use crate::command::{Memo, ShortRef};
use crate::message::Button;
use crate::store::{Identity, PaymentRequest, RecordChange, RequestState};

/// The Pay button's label on an invoice.
pub const INVOICE_PAY_BUTTON: &str = "Pay";
/// The Decline button's label on an invoice.
pub const INVOICE_DECLINE_BUTTON: &str = "Decline";

fn invoice_text(biller: &str, amount: &str, memo: &str, due: &str, reference: &str) -> String {
    format!(
        "Invoice from {biller}: {amount} for {memo}, due {due}.\n/approve {reference} to pay (I'll send you a code), or /decline {reference}."
    )
}

/// Requests `/bills` lists at most.
pub(super) const BILLS_LISTED_MAX: u32 = 20;

impl Bot {
    /// `/bills`: what the user is asked to pay (invoices and requests),
    /// privately, each with the commands that pay or decline it.
    pub(super) async fn bills(&self, turn: &mut Turn<'_>) -> Result<()> {
        let open = self
            .store
            .requests_to_pay(turn.me.user, BILLS_LISTED_MAX)
            .await?;
        let autopays = self.autopay_bill_lines(turn).await?;
        if open.is_empty() && autopays.is_empty() {
            turn.private("Nothing is waiting for you to pay.");
            return Ok(());
        }
        let mut lines = Vec::new();
        if open.is_empty() {
            lines.push("Nothing is waiting for you to pay.".to_owned());
        } else {
            lines.push("Waiting for you to pay:".to_owned());
        }
        for request in &open {
            let memo = request
                .memo
                .as_ref()
                .map(|m| format!(" for {}", m.as_str()))
                .unwrap_or_default();
            lines.push(format!(
                "{} {}{memo} from {}: /approve {} or /decline {}",
                request.reference,
                request.amount,
                request.requester_label,
                request.reference,
                request.reference
            ));
        }
        lines.extend(autopays);
        turn.private(lines.join("\n"));
        Ok(())
    }

    /// The chat reference of the invoice request sent under `key` (see
    /// [`Bot::send_invoice`]): known before it is sent, so the caller can
    /// write its own record of the invoice in the same commit.
    pub fn invoice_reference(key: &str) -> Result<ShortRef> {
        // The long reference: a biller with many invoices would meet
        // collisions among 6-character ones, each a permanent conflict.
        short_ref('R', derive("paybot.bot.invoice", key), REF_BODY_CHARS_LONG)
    }

    /// Sends `payer` an invoice from `biller` (an identity of the biller's
    /// user on the payer's platform): a payment request whose reference
    /// derives from `key` (the same key gives the same request, so a
    /// retried call sends nothing twice), with Pay and Decline buttons.
    /// `due_at_ms` is the due date (shown in UTC). `None` (nothing sent)
    /// when this key's request exists with other fields (payer, amount,
    /// description): the caller answers a conflict.
    pub async fn send_invoice(
        &self,
        biller: &Identity,
        payer: &Identity,
        amount: Amount,
        description: Memo,
        due_at_ms: i64,
        key: &str,
    ) -> Result<Option<PaymentRequest>> {
        self.send_invoice_with(
            biller,
            payer,
            amount,
            description,
            due_at_ms,
            key,
            Vec::new(),
        )
        .await
    }

    /// [`Bot::send_invoice`], with `records` (the caller's own record of
    /// the invoice) written in one commit with the request and its notice:
    /// a crash leaves all of them or none, never a payable request that
    /// its biller has no record of. `None` (nothing sent) also when a
    /// write of `records` was refused (its key taken): the caller reads
    /// what is stored.
    #[allow(clippy::too_many_arguments)]
    pub async fn send_invoice_with(
        &self,
        biller: &Identity,
        payer: &Identity,
        amount: Amount,
        description: Memo,
        due_at_ms: i64,
        key: &str,
        records: Vec<RecordWrite>,
    ) -> Result<Option<PaymentRequest>> {
        let now_ms = self.ledger.now_ms();
        let request = PaymentRequest {
            reference: Self::invoice_reference(key)?,
            requester: biller.user,
            requester_platform: biller.platform,
            requester_id: biller.id.clone(),
            requester_label: label_of(biller),
            payer: payer.user,
            payer_platform: payer.platform,
            payer_id: payer.id.clone(),
            payer_label: label_of(payer),
            amount,
            memo: Some(description),
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
        let reference = request.reference.to_string();
        let memo = request.memo.as_ref().map(Memo::as_str).unwrap_or_default();
        let mut text = invoice_text(
            &label_of(biller),
            &amount.to_string(),
            memo,
            &crate::limits::utc_minute_text(due_at_ms),
            &reference,
        );
        // The payer's autopay for this biller makes its run first: a crash
        // after it and before the commit below leaves a run whose request
        // never came (dropped when due), never a request autopay forgot. A
        // run pays only a request of its own amount and payer, so one made
        // for a retry with other fields pays nothing.
        let conflicting = self
            .store
            .request(&request.reference)
            .await?
            .is_some_and(|stored| !same_invoice(&stored, &request));
        if conflicting {
            return Ok(None);
        }
        if let Some(line) = self
            .autopay_for_invoice(&request, due_at_ms, now_ms)
            .await?
        {
            text.push('\n');
            text.push_str(&line);
        }
        let notice = self.notice_with(
            &format!("{reference}:invoice:payer"),
            payer.platform,
            &payer.id,
            text,
            vec![
                Button::new(INVOICE_PAY_BUTTON, format!("/approve {reference}")),
                Button::new(INVOICE_DECLINE_BUTTON, format!("/decline {reference}")),
            ],
            None,
        )?;
        // The request, its notice and the caller's records: one commit.
        let mut writes = vec![
            self.store
                .record_write(RecordChange::InsertRequest(&request))?,
        ];
        writes.extend(records);
        let unit = Unit {
            transfers: Vec::new(),
            outbox: vec![notice.clone()],
            records: writes,
        };
        match self.ledger.commit(unit).await {
            Ok(_) => return Ok(Some(request)),
            Err(SubmitError::RecordConflict { .. }) => {}
            Err(error) => return Err(error.into()),
        }
        // Something was there already: this key's request (a retry, or a
        // request an earlier version wrote without its invoice: adopted),
        // or a record of the caller's.
        let Some(stored) = self.store.request(&request.reference).await? else {
            return Ok(None);
        };
        if !same_invoice(&stored, &request) {
            // This key's request was sent with other fields (a retry that
            // changed them): never a second payable request.
            return Ok(None);
        }
        // Its notice again (kept once: the outbox deduplicates on its
        // key), in case an earlier version stopped before sending it.
        self.ledger.enqueue_outbox(&[notice]).await?;
        Ok(Some(stored))
    }
}

/// Whether `stored` is the invoice request `request` (a retry of the same
/// call), not one sent under its key with other fields.
fn same_invoice(stored: &PaymentRequest, request: &PaymentRequest) -> bool {
    stored.requester == request.requester
        && stored.payer == request.payer
        && stored.payer_platform == request.payer_platform
        && stored.payer_id == request.payer_id
        && stored.amount == request.amount
        && stored.memo == request.memo
        && stored.split.is_none()
}
