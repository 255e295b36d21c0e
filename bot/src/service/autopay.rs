//! Autopay: `/autopay @biller up to 80` (confirmed once with a code),
//! `/autopay off @biller`, `/autopay`; each invoice from that biller gets
//! a run (`send_invoice`), which the scheduler in `autopay/runs.rs` pays on
//! its due date within the monthly cap, from [`Bot::sweep`].
//!
//! The design decision to know: a run's transfer id derives from (autopay
//! id, invoice's request), and it commits in one ledger unit with the
//! compare-and-swaps of the run, the autopay and the request. So an
//! invoice is autopaid at most once across sweeps and processes, never
//! both by hand and by autopay, and two runs of one autopay never both
//! count against the same room under the cap.

use jiff::civil::Time;
use ledger::{Amount, SubmitError, TransferId, Unit};

use super::resolve::Resolved;
use super::second_factor::Gate;
use super::texts::autopay as texts;
use super::texts::{minutes, tries};
use super::turn::{AwaitsCode, REF_BODY_CHARS, Turn, derive, event_key, label_of, short_ref};
use super::{Bot, Result};
use crate::command::{AutopayAction, AutopayFor, OtpCode, ShortRef};
use crate::otp::{self, OtpChallenge, Verdict};
use crate::recurrence::UserTimeZone;
use crate::store::autopay::{Autopay, AutopayRun, AutopayRunState, AutopayState};
use crate::store::standing::{StandingKind, StandingState};
use crate::store::{Identity, PaymentRequest, Store, StoreError};
use crate::trust::second_factor::TotpOrRecovery;
use crate::trust::{Review, TrustAction};

mod runs;

/// Autopays (active or waiting for a code) one payer may have.
pub const AUTOPAYS_PER_USER_MAX: usize = 20;
/// Tries of `/confirm` to switch an autopay on and its predecessor off in
/// one commit while runs of the predecessor keep moving it.
const AUTOPAY_SWITCH_ATTEMPTS: u32 = 5;
/// Autopay runs handled per [`Bot::sweep`] round.
pub const SWEEP_AUTOPAY_MAX: u32 = 256;
/// Autopay set-ups whose code expired unconfirmed ended per
/// [`Bot::sweep`] round.
pub const SWEEP_AUTOPAY_SETUPS_MAX: u32 = 256;
/// Tries of one run that find too little money before it is left for the
/// payer.
pub const AUTOPAY_ATTEMPTS_MAX: u32 = 3;
/// The wait between two tries of a run that found too little money, in
/// milliseconds.
pub const AUTOPAY_RETRY_MS: i64 = 2 * 60 * 60 * 1_000;
/// How long before an invoice's due instant its last try is made at the
/// latest, in milliseconds: room for every retry before it expires.
pub const AUTOPAY_LEAD_MS: i64 = AUTOPAY_RETRY_MS * 3;

#[async_trait::async_trait]
impl AwaitsCode for Autopay {
    const WHAT: &'static str = "autopay";
    fn id(&self) -> TransferId {
        self.autopay_id
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
        store.insert_autopay(self).await
    }
    async fn update(&self, store: &dyn Store) -> std::result::Result<bool, StoreError> {
        store.update_autopay(self).await
    }
}

/// `Sat 2026-01-31 06:00 UTC`: an instant on the payer's clock.
pub(super) fn local_text(zone: &UserTimeZone, at_ms: i64) -> String {
    let Some(date) = zone.date_at(at_ms) else {
        return crate::limits::utc_minute_text(at_ms);
    };
    let time = zone.time_at(at_ms).unwrap_or(Time::midnight());
    format!(
        "{} {:02}:{:02} {}",
        date.strftime("%a %Y-%m-%d"),
        time.hour(),
        time.minute(),
        zone
    )
}

/// The autopay's payee as the payer reads it: `@power`, or `@alice
/// (O7K2QXM)` for a recurring request's.
fn shown(autopay: &Autopay) -> String {
    match &autopay.series {
        Some(series) => format!("{} ({series})", autopay.payee_label),
        None => autopay.payee_label.clone(),
    }
}

impl Bot {
    /// `/autopay ...`.
    pub(super) async fn autopay(&self, turn: &mut Turn<'_>, action: AutopayAction) -> Result<()> {
        match action {
            AutopayAction::List => self.list_autopays(turn).await,
            AutopayAction::On { biller, cap } => self.autopay_on(turn, &biller, cap).await,
            AutopayAction::Off { biller } => self.autopay_off(turn, &biller).await,
        }
    }

    /// The payer's autopays still waiting for a code whose code is alive,
    /// and the active ones.
    async fn live_autopays(&self, turn: &Turn<'_>) -> Result<Vec<Autopay>> {
        let limit = u32::try_from(AUTOPAYS_PER_USER_MAX).unwrap_or(u32::MAX);
        let all = self.store.autopays_of(turn.me.user, limit).await?;
        Ok(all
            .into_iter()
            .filter(|a| {
                a.state == AutopayState::Active
                    || a.challenge.expires_at_ms(&self.config.otp) > turn.now_ms
            })
            .collect())
    }

    /// Whom a `/autopay` pays (a biller, or a recurring request's
    /// requester, with that series' reference), or why not (said to the
    /// user).
    async fn autopay_payee(
        &self,
        turn: &mut Turn<'_>,
        what: &AutopayFor,
    ) -> Result<Option<(Identity, Option<ShortRef>)>> {
        let biller = match what {
            AutopayFor::Biller(target) => target,
            AutopayFor::Series(reference) => {
                let order = self
                    .store
                    .standing_order(reference)
                    .await?
                    .filter(|o| o.kind == StandingKind::Request && o.payee == turn.me.user)
                    .filter(|o| matches!(o.state, StandingState::Active | StandingState::Paused));
                let requester = match &order {
                    Some(o) => self.store.identity(o.payer_platform, &o.payer_id).await?,
                    None => None,
                };
                let Some(requester) = requester else {
                    turn.private(texts::no_such_series(&reference.to_string()));
                    return Ok(None);
                };
                return Ok(Some((requester, Some(reference.clone()))));
            }
        };
        let identity = match self.resolve_known(turn, biller).await? {
            Ok(identity) => identity,
            Err(_) => {
                turn.private(texts::not_known(&biller.to_string()));
                return Ok(None);
            }
        };
        if identity.user == turn.me.user || !self.store.is_biller(identity.user).await? {
            turn.private(texts::not_a_biller(&label_of(&identity)));
            return Ok(None);
        }
        Ok(Some((identity, None)))
    }

    async fn autopay_on(&self, turn: &mut Turn<'_>, what: &AutopayFor, cap: Amount) -> Result<()> {
        let Some((identity, series)) = self.autopay_payee(turn, what).await? else {
            return Ok(());
        };
        let me = turn.me.clone();
        let action = TrustAction::Payment {
            payer: me.user,
            payee: Some(identity.user),
            amount: cap,
        };
        if self.second_factor_at_start(turn, &action).await? == Gate::Stopped {
            return Ok(());
        }
        if self.live_autopays(turn).await?.len() >= AUTOPAYS_PER_USER_MAX {
            turn.private(texts::too_many(AUTOPAYS_PER_USER_MAX));
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
        let autopay_id = derive("paybot.bot.autopay", &event_key(turn.msg));
        let code = otp::generate(self.rng.as_ref())?;
        let binding = autopay_id.as_u128().to_be_bytes();
        let challenge = OtpChallenge::new(code.hash(&self.pepper, &binding), turn.now_ms);
        let mut autopay = Autopay {
            reference: short_ref('U', autopay_id, REF_BODY_CHARS)?,
            autopay_id,
            payer: me.user,
            payer_platform: me.platform,
            payer_id: me.id.clone(),
            payee: identity.user,
            payee_platform: identity.platform,
            payee_id: identity.id.clone(),
            payee_label: label_of(&identity),
            cap,
            challenge,
            review,
            state: AutopayState::AwaitingCode,
            created_at_ms: turn.now_ms,
            updated_at_ms: turn.now_ms,
            revision: 0,
            series,
        };
        let stored = self.insert_referenced(&mut autopay, 'U').await?;
        if stored.state != AutopayState::AwaitingCode {
            turn.private(texts::cannot_confirm(&stored.reference.to_string()));
            return Ok(());
        }
        if stored.revision != autopay.revision
            || stored.challenge.hash.to_bytes() != challenge.hash.to_bytes()
        {
            // A retry after a crash: the first code was never seen.
            let mut renewed = stored.clone();
            renewed.set_challenge(challenge, turn.now_ms);
            self.store_renewed_code(&renewed).await?;
        }
        let biller = shown(&stored);
        let cap = stored.cap.to_string();
        let mut text = texts::code_to_confirm(
            &biller,
            &cap,
            code.expose(),
            &minutes(self.config.otp.ttl_secs),
        );
        let mut redacted = texts::code_to_confirm_redacted(&biller, &cap);
        for warning in &warnings {
            for shown in [&mut text, &mut redacted] {
                shown.push_str("\n\n");
                shown.push_str(warning);
            }
        }
        turn.private_with(text, Some(redacted), Vec::new());
        Ok(())
    }

    async fn autopay_off(&self, turn: &mut Turn<'_>, what: &AutopayFor) -> Result<()> {
        if let AutopayFor::Series(reference) = what
            && self.series_ended_off(turn, reference).await?
        {
            return Ok(());
        }
        let Some((identity, series)) = self.autopay_payee(turn, what).await? else {
            return Ok(());
        };
        let label = match &series {
            Some(series) => format!("{} ({series})", label_of(&identity)),
            None => label_of(&identity),
        };
        let mut any = false;
        for autopay in self.live_autopays(turn).await? {
            if autopay.payee != identity.user || autopay.series != series {
                continue;
            }
            any |= self.turn_off(autopay, turn.now_ms).await?;
        }
        if any {
            turn.private(texts::off(&label));
        } else {
            turn.private(texts::none_for(&label));
        }
        Ok(())
    }

    /// `/autopay off REF` of a recurring request that asked the user and
    /// has ended (cancelled, finished): any autopay still on for it is
    /// turned off, and the user told the series is over. `false`: `REF` is
    /// no such ended series (the ordinary `/autopay off` answers).
    async fn series_ended_off(&self, turn: &mut Turn<'_>, reference: &ShortRef) -> Result<bool> {
        let Some(order) = self
            .store
            .standing_order(reference)
            .await?
            .filter(|o| o.kind == StandingKind::Request && o.payee == turn.me.user)
            .filter(|o| o.state.is_final())
        else {
            return Ok(false);
        };
        let mut any = false;
        for autopay in self.live_autopays(turn).await? {
            if autopay.series.as_ref() == Some(reference) {
                any |= self.turn_off(autopay, turn.now_ms).await?;
            }
        }
        turn.private(texts::series_ended(
            &reference.to_string(),
            super::texts::standing::describe_state(order.state),
            any,
        ));
        Ok(true)
    }

    /// Ends the autopay set-ups whose code expired before anyone confirmed
    /// it (as expired payment codes are) and tells each payer. Returns how
    /// many it ended.
    pub(super) async fn sweep_autopay_setups(&self, now_ms: i64) -> Result<usize> {
        let ttl_ms = self.config.otp.ttl_ms();
        let expired = self
            .store
            .autopays_awaiting_code_issued_before(
                now_ms.saturating_sub(ttl_ms),
                SWEEP_AUTOPAY_SETUPS_MAX,
            )
            .await?;
        let mut ended = 0;
        for autopay in expired {
            let reference = autopay.reference.clone();
            // One failure (the database, for a moment) holds up no other.
            match self.expire_autopay(autopay, now_ms).await {
                Ok(true) => ended += 1,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(autopay = %reference, %error, "an autopay set-up's expiry failed; will retry");
                }
            }
        }
        Ok(ended)
    }

    /// Ends an autopay set-up whose code ran out, with the payer's notice
    /// in the same commit (so told once). `false`: it changed meanwhile.
    async fn expire_autopay(&self, autopay: Autopay, now_ms: i64) -> Result<bool> {
        let reference = autopay.reference.to_string();
        let notice = self.notice(
            &format!("{reference}:autopay:expired"),
            autopay.payer_platform,
            &autopay.payer_id,
            texts::code_ran_out(&reference, &shown(&autopay), &autopay.cap.to_string()),
        )?;
        let mut ended = autopay;
        ended.state = AutopayState::Expired;
        ended.updated_at_ms = now_ms;
        let unit = Unit {
            transfers: Vec::new(),
            outbox: vec![notice],
            records: vec![self.store.autopay_write(&ended)?],
        };
        match self.ledger.commit(unit).await {
            Ok(_) => Ok(true),
            Err(SubmitError::RecordConflict { .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    async fn list_autopays(&self, turn: &mut Turn<'_>) -> Result<()> {
        let autopays = self.live_autopays(turn).await?;
        if autopays.is_empty() {
            turn.private(texts::NONE);
            return Ok(());
        }
        let mut lines = vec![texts::LIST_HEAD.to_owned()];
        for a in &autopays {
            lines.push(texts::list_line(
                &a.reference.to_string(),
                &shown(a),
                &a.cap.to_string(),
                a.state == AutopayState::AwaitingCode,
            ));
        }
        lines.push(texts::LIST_FOOT.to_owned());
        turn.private(lines.join("\n"));
        Ok(())
    }

    /// `/bills`' lines about the user's active autopays.
    pub(super) async fn autopay_bill_lines(&self, turn: &Turn<'_>) -> Result<Vec<String>> {
        Ok(self
            .live_autopays(turn)
            .await?
            .iter()
            .filter(|a| a.state == AutopayState::Active)
            .map(|a| texts::bills_line(&a.reference.to_string(), &shown(a), &a.cap.to_string()))
            .collect())
    }

    /// `/autopay off` of one autopay: a run of it moving it meanwhile makes
    /// it read again and retry, up to [`AUTOPAY_SWITCH_ATTEMPTS`] times.
    /// `false`: it ended otherwise (or kept losing).
    async fn turn_off(&self, autopay: Autopay, now_ms: i64) -> Result<bool> {
        let mut current = autopay;
        for _ in 0..AUTOPAY_SWITCH_ATTEMPTS {
            if self
                .end_autopay(current.clone(), AutopayState::Off, now_ms)
                .await?
            {
                return Ok(true);
            }
            match self.store.autopay(&current.reference).await? {
                Some(fresh)
                    if matches!(
                        fresh.state,
                        AutopayState::Active | AutopayState::AwaitingCode
                    ) =>
                {
                    current = fresh;
                }
                _ => return Ok(false),
            }
        }
        Ok(false)
    }

    /// Records `state` (final, no money involved). `false`: it changed
    /// meanwhile.
    async fn end_autopay(
        &self,
        autopay: Autopay,
        state: AutopayState,
        now_ms: i64,
    ) -> Result<bool> {
        let mut ended = autopay;
        ended.state = state;
        ended.updated_at_ms = now_ms;
        Ok(self.store.update_autopay(&ended).await?)
    }

    /// The payer's autopays waiting for a code.
    pub(super) async fn autopays_awaiting_code(&self, turn: &Turn<'_>) -> Result<Vec<Autopay>> {
        let limit = u32::try_from(AUTOPAYS_PER_USER_MAX).unwrap_or(u32::MAX);
        Ok(self
            .store
            .autopays_of(turn.me.user, limit)
            .await?
            .into_iter()
            .filter(|a| a.state == AutopayState::AwaitingCode)
            .collect())
    }

    /// `/confirm CODE` of an autopay: it becomes active, and replaces the
    /// payer's earlier one for the same biller.
    pub(super) async fn confirm_autopay(
        &self,
        turn: &mut Turn<'_>,
        autopay: Autopay,
        code: &OtpCode,
        second_factor: Option<&TotpOrRecovery>,
    ) -> Result<()> {
        let reference = autopay.reference.to_string();
        match self.code_verdict(&autopay, code, turn.now_ms) {
            Verdict::Confirmed => {
                let action = TrustAction::Payment {
                    payer: autopay.payer,
                    payee: Some(autopay.payee),
                    amount: autopay.cap,
                };
                let forced = autopay.review == Review::SecondFactor;
                let gate = self.second_factor_gate(turn, &action, second_factor, forced);
                if gate.await? == Gate::Stopped {
                    return Ok(());
                }
                let Some((active, replaced)) = self.switch_on(autopay, turn).await? else {
                    turn.private(texts::cannot_confirm(&reference));
                    return Ok(());
                };
                let mut lines = vec![match &active.series {
                    None => texts::active(
                        &reference,
                        &active.payee_label,
                        &active.cap.to_string(),
                        &minutes(self.config.standing.notice_before_secs),
                    ),
                    Some(series) => texts::active_series(
                        &reference,
                        &series.to_string(),
                        &active.payee_label,
                        &active.cap.to_string(),
                    ),
                }];
                for earlier in replaced {
                    lines.push(texts::replaced(&shown(&earlier), &earlier.cap.to_string()));
                }
                turn.private(lines.join("\n"));
            }
            Verdict::Expired => {
                self.end_autopay(autopay, AutopayState::Expired, turn.now_ms)
                    .await?;
                turn.private(texts::code_expired(&reference));
            }
            Verdict::LockedOut | Verdict::Wrong { .. } => {
                self.end_autopay(autopay, AutopayState::LockedOut, turn.now_ms)
                    .await?;
                turn.private(texts::locked_out(&reference));
            }
        }
        Ok(())
    }

    /// Switches `autopay` on and ends the payer's active ones it replaces
    /// (same payee, same series) in one commit, so two are never on at
    /// once; a run of one of them moving it meanwhile makes it read again
    /// and retry, up to [`AUTOPAY_SWITCH_ATTEMPTS`] times. `None`: `autopay`
    /// itself changed (or kept losing), and nothing was applied.
    async fn switch_on(
        &self,
        autopay: Autopay,
        turn: &Turn<'_>,
    ) -> Result<Option<(Autopay, Vec<Autopay>)>> {
        let mut current = autopay;
        for _ in 0..AUTOPAY_SWITCH_ATTEMPTS {
            if current.state != AutopayState::AwaitingCode {
                return Ok(None);
            }
            let mut active = current.clone();
            active.state = AutopayState::Active;
            active.updated_at_ms = turn.now_ms;
            let replaced: Vec<Autopay> = self
                .live_autopays(turn)
                .await?
                .into_iter()
                .filter(|earlier| {
                    earlier.payee == active.payee
                        && earlier.series == active.series
                        && earlier.state == AutopayState::Active
                        && earlier.reference != active.reference
                })
                .collect();
            let mut records = vec![self.store.autopay_write(&active)?];
            for earlier in &replaced {
                let mut ended = earlier.clone();
                ended.state = AutopayState::Off;
                ended.updated_at_ms = turn.now_ms;
                records.push(self.store.autopay_write(&ended)?);
            }
            let unit = Unit {
                transfers: Vec::new(),
                outbox: Vec::new(),
                records,
            };
            match self.ledger.commit(unit).await {
                Ok(_) => return Ok(Some((active, replaced))),
                Err(SubmitError::RecordConflict { .. }) => {
                    match self.store.autopay(&current.reference).await? {
                        Some(fresh) => current = fresh,
                        None => return Ok(None),
                    }
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(None)
    }

    /// A wrong code counts against every autopay waiting for one too.
    pub(super) async fn wrong_code_on_autopays(
        &self,
        autopays: Vec<Autopay>,
        code: &OtpCode,
        now_ms: i64,
        lines: &mut Vec<String>,
    ) -> Result<()> {
        for autopay in autopays {
            let reference = autopay.reference.to_string();
            match self.code_verdict(&autopay, code, now_ms) {
                Verdict::Wrong { attempts_left } => {
                    if self.count_wrong_code(&autopay, now_ms).await? {
                        lines.push(texts::wrong_code(&reference, &tries(attempts_left)));
                    }
                }
                Verdict::LockedOut | Verdict::Confirmed => {
                    if self
                        .end_autopay(autopay, AutopayState::LockedOut, now_ms)
                        .await?
                    {
                        lines.push(texts::locked_out(&reference));
                    }
                }
                Verdict::Expired => {
                    self.end_autopay(autopay, AutopayState::Expired, now_ms)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// In a group: a code of one of the sender's autopays waiting for one,
    /// typed here, is leaked; that autopay is not turned on.
    pub(super) async fn catch_leaked_autopay_codes(
        &self,
        turn: &mut Turn<'_>,
        candidates: &[String],
    ) -> Result<bool> {
        let mut caught = false;
        for autopay in self.autopays_awaiting_code(turn).await? {
            if !candidates.iter().any(|c| self.code_matches(&autopay, c)) {
                continue;
            }
            caught = true;
            let reference = autopay.reference.to_string();
            if self
                .end_autopay(autopay, AutopayState::Leaked, turn.now_ms)
                .await?
            {
                turn.here(super::texts::pay::leaked_in_group(&turn.me_label()));
                turn.private(texts::leaked(&reference));
            }
        }
        Ok(caught)
    }

    /// When a run of an invoice due at `due_at_ms` is paid: the payer's
    /// run time on the due date, but never later than [`AUTOPAY_LEAD_MS`]
    /// before the due instant (every retry fits before it), nor before now.
    fn autopay_pay_at(&self, zone: &UserTimeZone, due_at_ms: i64, now_ms: i64) -> i64 {
        let latest = due_at_ms.saturating_sub(AUTOPAY_LEAD_MS);
        let on_day = zone
            .date_at(due_at_ms)
            .and_then(|date| zone.at_ms(date, self.config.standing.run_at));
        on_day.map_or(latest, |at| at.min(latest)).max(now_ms)
    }

    /// An invoice just sent (`request`, due at `due_at_ms`): when the payer
    /// has autopay on for its biller, its run, and the line the invoice
    /// gets about it.
    pub(super) async fn autopay_for_invoice(
        &self,
        request: &PaymentRequest,
        due_at_ms: i64,
        now_ms: i64,
    ) -> Result<Option<String>> {
        let Some(autopay) = self
            .store
            .active_autopay(request.payer, request.requester)
            .await?
        else {
            return Ok(None);
        };
        self.autopay_run_for(&autopay, request, due_at_ms, now_ms)
            .await
            .map(Some)
    }

    /// Makes `autopay`'s run for `request` (due at `due_at_ms`); the line
    /// the payer reads about it with the request.
    pub(super) async fn autopay_run_for(
        &self,
        autopay: &Autopay,
        request: &PaymentRequest,
        due_at_ms: i64,
        now_ms: i64,
    ) -> Result<String> {
        let (run, _) = self
            .autopay_run_plan(autopay, request, due_at_ms, now_ms)
            .await?;
        let stored = self.store.insert_autopay_run(&run).await?;
        let (zone, _) = self.zone_of(request.payer).await?;
        Ok(texts::on_invoice(
            &autopay.cap.to_string(),
            &local_text(&zone, stored.pay_at_ms),
        ))
    }

    /// The run `autopay` would get for `request`, due at `due_at_ms`, and
    /// the line telling the payer, for the caller to commit (a recurring
    /// request's run commits with the series' compare-and-swap).
    pub(in crate::service) async fn autopay_run_plan(
        &self,
        autopay: &Autopay,
        request: &PaymentRequest,
        due_at_ms: i64,
        now_ms: i64,
    ) -> Result<(AutopayRun, String)> {
        let (zone, _) = self.zone_of(request.payer).await?;
        let pay_at_ms = self.autopay_pay_at(&zone, due_at_ms, now_ms);
        let notice_ms = self.autopay_notice_ms();
        let next_at_ms = if notice_ms > 0 {
            pay_at_ms.saturating_sub(notice_ms).max(now_ms)
        } else {
            pay_at_ms
        };
        let run = AutopayRun {
            request: request.reference.clone(),
            autopay: autopay.reference.clone(),
            payer: request.payer,
            amount: request.amount,
            due_at_ms,
            pay_at_ms,
            state: AutopayRunState::Scheduled,
            told: false,
            attempts: 0,
            month: None,
            next_at_ms: Some(next_at_ms),
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            revision: 0,
        };
        let line = texts::on_invoice(&autopay.cap.to_string(), &local_text(&zone, pay_at_ms));
        Ok((run, line))
    }

    /// [`crate::service::StandingPolicy::notice_before_secs`] in
    /// milliseconds: autopay tells the payer as long ahead.
    fn autopay_notice_ms(&self) -> i64 {
        i64::from(self.config.standing.notice_before_secs).saturating_mul(1_000)
    }
}
