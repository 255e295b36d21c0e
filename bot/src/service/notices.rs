//! Messages to people other than the sender: outbox notices (privately,
//! to one user) and the public "paid" line in the group where `/pay` was
//! typed.
//!
//! The design decision to know: these go through the ledger's outbox,
//! written in the same transaction as the money they announce, with ids
//! derived from what they announce; so a crash loses none and a retry
//! sends none twice.

use ledger::OutboxMessage;

use super::texts::notices as texts;
use super::texts::with_memo;
use super::turn::{Turn, label_of};
use super::{Bot, Result};
use crate::message::{Audience, Button, Platform, PlatformUserId, Reply};
use crate::notify::{outbox_message, outbox_message_with_bounce};
use crate::store::Payment;

impl Bot {
    // -- messages to others ----------------------------------------------------

    /// An outbox message to one user, privately.
    pub(super) fn notice(
        &self,
        key: &str,
        platform: Platform,
        to: &PlatformUserId,
        text: String,
    ) -> Result<OutboxMessage> {
        self.notice_with(key, platform, to, text, Vec::new(), None)
    }

    /// [`Bot::notice`] with buttons, and `bounce`: what to tell someone
    /// else instead (the person whose action it announces) if the platform
    /// says the message can never reach `to`.
    pub(super) fn notice_with(
        &self,
        key: &str,
        platform: Platform,
        to: &PlatformUserId,
        text: String,
        buttons: Vec<Button>,
        bounce: Option<&Reply>,
    ) -> Result<OutboxMessage> {
        let reply = Reply {
            image: None,
            document: None,
            platform,
            audience: Audience::Private(to.clone()),
            text,
            redacted: None,
            buttons,
            deletion: None,
        };
        Ok(outbox_message_with_bounce(key, &reply, bounce)?)
    }

    /// The payee's "paid you" notice for a payment the payer is confirming
    /// in `turn`; if it cannot reach the payee, the payer is told.
    pub(super) async fn payee_notice(
        &self,
        turn: &Turn<'_>,
        payment: &Payment,
        platform: Platform,
        to: &PlatformUserId,
    ) -> Result<OutboxMessage> {
        let bounce = Reply {
            image: None,
            document: None,
            platform: turn.msg.platform,
            audience: Audience::Private(turn.msg.sender.id.clone()),
            text: texts::payee_unreachable(&payment.payee_label, &payment.reference.to_string()),
            redacted: None,
            buttons: Vec::new(),
            deletion: None,
        };
        let payer = self.payer_label_in(turn, payment).await?;
        let mut text = texts::paid_you(
            &payer,
            &payment.amount.to_string(),
            &with_memo(payment.memo.as_ref()),
        );
        if let Some(until) = self.undo_until(payment, turn.now_ms) {
            text.push_str(&texts::payer_can_undo_until(&payer, &until));
        }
        self.notice_with(
            &format!("{}:paid:payee", payment.reference),
            platform,
            to,
            text,
            Vec::new(),
            Some(&bounce),
        )
    }

    /// The public "paid" line in the group where `/pay` was typed.
    pub(super) fn announcement(
        &self,
        payment: &Payment,
        payee: &str,
        confirmed_at_ms: i64,
    ) -> Result<Option<OutboxMessage>> {
        let Some(chat) = &payment.origin_chat else {
            return Ok(None);
        };
        let reply = Reply {
            image: None,
            document: None,
            platform: payment.payer_platform,
            audience: Audience::Chat(chat.clone()),
            text: format!(
                "{}{}",
                texts::payment_confirmed(&payment.reference.to_string(), payee),
                self.undo_until(payment, confirmed_at_ms)
                    .map(|until| texts::can_be_undone_until(&until))
                    .unwrap_or_default()
            ),
            redacted: None,
            buttons: Vec::new(),
            deletion: None,
        };
        Ok(Some(outbox_message(
            &format!("{}:paid:chat", payment.reference),
            &reply,
        )?))
    }

    /// Until when the payer may `/undo` `payment` confirmed at
    /// `confirmed_at_ms` (a minute, rounded down, in UTC); `None` when
    /// `/undo` is off or cannot take it back (it paid a request).
    pub(super) fn undo_until(&self, payment: &Payment, confirmed_at_ms: i64) -> Option<String> {
        let window_secs = self.config.undo_window_secs;
        if window_secs == 0 || payment.request.is_some() {
            return None;
        }
        let until = confirmed_at_ms.saturating_add(i64::from(window_secs).saturating_mul(1_000));
        let minute_ms: i64 = 60_000;
        Some(crate::limits::utc_minute_text(
            until.div_euclid(minute_ms).saturating_mul(minute_ms),
        ))
    }

    /// [`Bot::payer_label`], from the identity `turn` has already seen
    /// when the payer is the one sending it (as when they confirm).
    pub(super) async fn payer_label_in(
        &self,
        turn: &Turn<'_>,
        payment: &Payment,
    ) -> Result<String> {
        if payment.payer_platform == turn.me.platform && payment.payer_id == turn.me.id {
            return Ok(label_of(&turn.me));
        }
        self.payer_label(payment).await
    }

    pub(super) async fn payer_label(&self, payment: &Payment) -> Result<String> {
        Ok(self
            .store
            .identity(payment.payer_platform, &payment.payer_id)
            .await?
            .map(|i| label_of(&i))
            .unwrap_or_else(|| texts::SOMEONE.to_owned()))
    }
}
