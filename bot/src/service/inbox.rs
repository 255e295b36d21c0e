//! The requests inbox: `/requests` (what the user was asked and what they
//! asked, open first), `/remind REF` (the requester sends an open request
//! to its payer again, bounded), and the expiry of requests left open
//! (both sides told), swept with the payments.
//!
//! The design decision to know: a request's expiry is a date stored with
//! it (`expires_at_ms`), set only for `/request` and the shares of a
//! `/split`; invoices (their own due date) and the requests of a recurring
//! request have none, so this never ends them. A request past its date is
//! refused by `/approve` even before the sweep marked it, and the sweep's
//! mark and its two notices are one commit (compare-and-swap on the
//! request), so both sides are told once.

use ledger::{RecordWrite, SubmitError, Unit};

use super::texts::inbox as texts;
use super::texts::requests as request_texts;
use super::texts::with_memo;
use super::turn::Turn;
use super::{Bot, Result};
use crate::command::ShortRef;
use crate::message::Button;
use crate::recurrence::UserTimeZone;
use crate::store::{PaymentRequest, PaymentState, RecordChange, RequestState, UserId};

/// Most requests `/requests` lists.
pub const REQUESTS_LISTED_MAX: u32 = 20;
/// Most reminders (`/remind`) one request gets.
pub const REQUEST_REMINDERS_MAX: u32 = 3;
/// Least time between two reminders of one request, in seconds.
pub const REMIND_INTERVAL_SECS: u32 = 60 * 60;
/// How long a request stays open when no setting says (7 days), in
/// seconds.
pub const REQUEST_TTL_SECS_DEFAULT: u32 = 7 * 24 * 60 * 60;
/// Expired requests ended per [`Bot::sweep`] round.
pub const SWEEP_REQUESTS_MAX: u32 = 256;

/// Whether `request` is past its expiry at `now_ms` (an open one, or an
/// approved one whose payment ended without paying: payable again, so
/// expiring too).
pub(super) fn is_past_expiry(request: &PaymentRequest, now_ms: i64) -> bool {
    matches!(request.state, RequestState::Open | RequestState::Approved)
        && request.expires_at_ms.is_some_and(|at| at <= now_ms)
}

/// `YYYY-MM-DD hh:mm` in `zone`.
pub(super) fn local_minute(zone: &UserTimeZone, at_ms: i64) -> String {
    match (zone.date_at(at_ms), zone.time_at(at_ms)) {
        (Some(date), Some(time)) => format!("{date} {:02}:{:02}", time.hour(), time.minute()),
        _ => "an unknown time".to_owned(),
    }
}

impl Bot {
    /// The zone a user's dates are shown in: theirs if they set one with
    /// `/tz`, else UTC (never a guess: the texts name it).
    pub(super) async fn display_zone(&self, user: UserId) -> Result<UserTimeZone> {
        let stored = self.store.time_zone_of(user).await?;
        Ok(stored
            .and_then(|name| UserTimeZone::parse(&name).ok())
            .unwrap_or_else(UserTimeZone::utc))
    }

    /// `/requests`, privately.
    pub(super) async fn requests_inbox(&self, turn: &mut Turn<'_>) -> Result<()> {
        let me = turn.me.user;
        let requests = self.store.requests_of_user(me, REQUESTS_LISTED_MAX).await?;
        if requests.is_empty() {
            turn.private(texts::NO_REQUESTS);
            return Ok(());
        }
        let zone = self.display_zone(me).await?;
        let mut lines = vec![texts::heading(requests.len(), zone.name())];
        let mut open = false;
        for request in &requests {
            let state = if is_past_expiry(request, turn.now_ms) {
                RequestState::Expired.as_str().to_owned()
            } else {
                match request.state {
                    RequestState::Open => {
                        open = true;
                        texts::state_open(
                            request
                                .expires_at_ms
                                .map(|at| local_minute(&zone, at))
                                .as_deref(),
                        )
                    }
                    // Its payment may have ended without paying: then it
                    // is open again.
                    RequestState::Approved => {
                        let paying = match &request.payment {
                            Some(p) => self
                                .store
                                .payment(p)
                                .await?
                                .is_some_and(|p| !p.state.is_final()),
                            None => false,
                        };
                        if paying {
                            "being paid".to_owned()
                        } else {
                            open = true;
                            texts::state_open(
                                request
                                    .expires_at_ms
                                    .map(|at| local_minute(&zone, at))
                                    .as_deref(),
                            )
                        }
                    }
                    other => other.as_str().to_owned(),
                }
            };
            let at = local_minute(&zone, request.created_at_ms);
            let amount = request.amount.to_string();
            let memo = with_memo(request.memo.as_ref());
            let reference = request.reference.to_string();
            lines.push(if request.payer == me {
                texts::asked_you(
                    &request.requester_label,
                    &amount,
                    &memo,
                    &state,
                    &at,
                    &reference,
                )
            } else {
                texts::you_asked(
                    &request.payer_label,
                    &amount,
                    &memo,
                    &state,
                    &at,
                    &reference,
                )
            });
        }
        if open {
            lines.push(texts::ACT_HINT.to_owned());
        }
        turn.private(lines.join("\n"));
        Ok(())
    }

    /// `/remind REF`: the requester sends an open request to its payer
    /// again, at most [`REQUEST_REMINDERS_MAX`] times and not within
    /// [`REMIND_INTERVAL_SECS`] of the last. The count and the notice are
    /// one commit.
    pub(super) async fn remind(&self, turn: &mut Turn<'_>, reference: &ShortRef) -> Result<()> {
        let Some(request) = self
            .store
            .request(reference)
            .await?
            .filter(|r| r.requester == turn.me.user)
        else {
            turn.private(texts::not_yours(&reference.to_string()));
            return Ok(());
        };
        let shown = reference.to_string();
        if is_past_expiry(&request, turn.now_ms) {
            turn.private(texts::remind_not_open(
                &shown,
                RequestState::Expired.as_str(),
            ));
            return Ok(());
        }
        match request.state {
            RequestState::Open => {}
            RequestState::Approved => {
                let in_progress = match &request.payment {
                    Some(p) => self
                        .store
                        .payment(p)
                        .await?
                        .is_some_and(|p| !p.state.is_final()),
                    None => false,
                };
                if in_progress {
                    turn.private(texts::remind_in_progress(&shown, &request.payer_label));
                    return Ok(());
                }
            }
            other => {
                turn.private(texts::remind_not_open(&shown, other.as_str()));
                return Ok(());
            }
        }
        if request.reminders >= REQUEST_REMINDERS_MAX {
            turn.private(texts::remind_used_up(&shown, REQUEST_REMINDERS_MAX));
            return Ok(());
        }
        let interval_ms = i64::from(REMIND_INTERVAL_SECS).saturating_mul(1_000);
        if let Some(last) = request.reminded_at_ms
            && turn.now_ms < last.saturating_add(interval_ms)
        {
            let zone = self.display_zone(turn.me.user).await?;
            let from = format!(
                "{} ({})",
                local_minute(&zone, last.saturating_add(interval_ms)),
                zone.name()
            );
            turn.private(texts::remind_too_soon(&shown, &from));
            return Ok(());
        }
        let mut reminded = request.clone();
        reminded.reminders = request.reminders.saturating_add(1);
        reminded.reminded_at_ms = Some(turn.now_ms);
        reminded.updated_at_ms = turn.now_ms;
        let mut text = texts::reminder_to_payer(&turn.me_label());
        text.push_str(&request_texts::asks_you(
            &turn.me_label(),
            &request.amount.to_string(),
            &with_memo(request.memo.as_ref()),
            "",
            &shown,
        ));
        let notice = self.notice_with(
            &format!("{shown}:reminder:{}", reminded.reminders),
            request.payer_platform,
            &request.payer_id,
            text,
            vec![
                Button::new(request_texts::APPROVE_BUTTON, format!("/approve {shown}")),
                Button::new(request_texts::DECLINE_BUTTON, format!("/decline {shown}")),
            ],
            None,
        )?;
        let records = vec![
            self.store
                .record_write(RecordChange::UpdateRequest(&reminded))?,
        ];
        if !self.commit_request_change(records, vec![notice]).await? {
            turn.private(request_texts::changed_meanwhile(&shown));
            return Ok(());
        }
        turn.private(texts::reminded(
            &shown,
            &request.payer_label,
            REQUEST_REMINDERS_MAX.saturating_sub(reminded.reminders),
        ));
        Ok(())
    }

    /// `records` and `outbox` in one commit; `false` when a record's
    /// compare-and-swap found it changed (then nothing was written).
    async fn commit_request_change(
        &self,
        records: Vec<RecordWrite>,
        outbox: Vec<ledger::OutboxMessage>,
    ) -> Result<bool> {
        let unit = Unit {
            transfers: Vec::new(),
            outbox,
            records,
        };
        match self.ledger.commit(unit).await {
            Ok(_) => Ok(true),
            Err(SubmitError::RecordConflict { .. }) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    /// Marks open requests past their expiry expired, both sides told (in
    /// the same commit). Returns how many it ended.
    pub(super) async fn sweep_requests(&self, now_ms: i64) -> Result<usize> {
        let due = self
            .store
            .requests_expiring(now_ms, SWEEP_REQUESTS_MAX)
            .await?;
        let mut ended = 0;
        // One request that keeps failing must not stop the others: each
        // is tried on its own, and a failure is tried again next round.
        for request in due {
            match self.expire_request(&request, now_ms).await {
                Ok(true) => ended += 1,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(request = %request.reference, %error, "a request's expiry failed; will retry");
                }
            }
        }
        Ok(ended)
    }

    async fn expire_request(&self, request: &PaymentRequest, now_ms: i64) -> Result<bool> {
        // An approved request expires only when its payment ended without
        // paying (payable again); one still being paid, or paid, is left to
        // its payment (which marks it paid or open again).
        if request.state == RequestState::Approved {
            let lapsed = match &request.payment {
                Some(p) => self.store.payment(p).await?.is_none_or(|p| {
                    p.state.is_final() && !matches!(p.state, PaymentState::Completed)
                }),
                None => true,
            };
            if !lapsed {
                return Ok(false);
            }
        }
        let mut expired = request.clone();
        expired.state = RequestState::Expired;
        expired.updated_at_ms = now_ms;
        let reference = request.reference.to_string();
        let amount = request.amount.to_string();
        let memo = with_memo(request.memo.as_ref());
        let outbox = vec![
            self.notice(
                &format!("{reference}:expired:requester"),
                request.requester_platform,
                &request.requester_id,
                texts::expired_to_requester(&reference, &request.payer_label, &amount, &memo),
            )?,
            self.notice(
                &format!("{reference}:expired:payer"),
                request.payer_platform,
                &request.payer_id,
                texts::expired_to_payer(&reference, &request.requester_label, &amount, &memo),
            )?,
        ];
        let records = vec![
            self.store
                .record_write(RecordChange::UpdateRequest(&expired))?,
        ];
        self.commit_request_change(records, outbox).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::CommandName;

    /// `/help remind` states the bounds the code keeps.
    #[test]
    fn remind_help_states_the_bounds() {
        let details = CommandName::Remind.details().unwrap_or_default();
        assert!(
            details.contains(&format!("at most {REQUEST_REMINDERS_MAX} times")),
            "{details}"
        );
        assert_eq!(REMIND_INTERVAL_SECS, 60 * 60);
        assert!(details.contains("at most once an hour"), "{details}");
    }

    #[test]
    fn local_minute_is_in_the_zone() {
        let zone = UserTimeZone::utc();
        assert_eq!(local_minute(&zone, 0), "1970-01-01 00:00");
        let paris = UserTimeZone::parse("Europe/Paris").unwrap_or_else(|_| UserTimeZone::utc());
        assert_eq!(local_minute(&paris, 0), "1970-01-01 01:00");
    }
}
