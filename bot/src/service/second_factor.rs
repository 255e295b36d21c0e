//! The second factor: `/2fa` (status, setup, confirm, off), and the gate
//! the confirmations pass ([`Bot::second_factor_gate`]) with its early
//! refusal at the start of an action ([`Bot::second_factor_at_start`]).
//!
//! The design decision to know: the app's code is asked for at the
//! confirmation, after the one-time code sent by DM matched, and a missing
//! or wrong app code stops there **without** touching the one-time code:
//! the payment (cash-out, card add, link) keeps waiting with its code
//! valid, and the user sends `/confirm CODE AUTHCODE` again. Wrong app
//! codes count against the second factor's own limit
//! ([`SecondFactorPolicy::wrong_codes_max`] per
//! [`SecondFactorPolicy::wrong_codes_window_secs`], in the store), never
//! against the one-time code's tries. A user without a second factor is
//! refused at the start, before any money is reserved, above the amount
//! allowed without one, and told to enrol.
//!
//! [`SecondFactorPolicy::wrong_codes_max`]: crate::trust::second_factor::SecondFactorPolicy::wrong_codes_max
//! [`SecondFactorPolicy::wrong_codes_window_secs`]: crate::trust::second_factor::SecondFactorPolicy::wrong_codes_window_secs

use ledger::Amount;
use secrecy::SecretString;

use super::texts::minutes;
use super::texts::second_factor as texts;
use super::turn::Turn;
use super::{Bot, BotError, Result};
use crate::message::Image;
use crate::store::{CardOp, UserId};
use crate::trust::second_factor::{
    RECOVERY_CODES_COUNT, RecoveryCode, SECOND_FACTOR_SETUP_TTL_SECS, SealKey, SecondFactorAttempt,
    SecondFactorError, SecondFactorRecord, SecondFactorState, TotpCode, TotpOrRecovery, TotpSecret,
    qr_png, seal, unseal,
};
use crate::trust::{Actor, AuditEntry, AuditKind, TrustAction};

/// What the gate decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gate {
    /// Go on.
    Pass,
    /// Stop: the user was already told why and what to do.
    Stopped,
}

/// A code checked against a user's second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Right,
    /// A recovery code, now used; this many are left.
    Recovery {
        left: u32,
    },
    Wrong,
    Locked {
        until_ms: i64,
    },
}

impl From<SecondFactorError> for BotError {
    fn from(error: SecondFactorError) -> BotError {
        BotError::Inconsistent(format!("second factor: {error}"))
    }
}

impl Bot {
    /// The time on the bot's clock (the ledger's), in ms since the epoch:
    /// what codes and expiries are reckoned against.
    pub fn now_ms(&self) -> i64 {
        self.ledger.now_ms()
    }

    /// The key TOTP secrets are sealed with (see
    /// [`super::BotBuilder::second_factor_key`]); unset, derived from the
    /// OTP pepper.
    fn seal_key(&self) -> SealKey {
        SealKey::derive(self.second_factor_key.as_ref().unwrap_or(&self.pepper))
    }

    /// `true` (and the user told) when a `/2fa` command came from a group.
    fn second_factor_in_group(turn: &mut Turn<'_>) -> bool {
        if turn.in_group() {
            turn.for_sender(texts::IN_PRIVATE_ONLY);
            return true;
        }
        false
    }

    fn wrong_code_text(&self) -> String {
        let policy = &self.config.trust.second_factor;
        texts::wrong_code(
            policy.wrong_codes_max,
            &texts::window_text(policy.wrong_codes_window_secs),
        )
    }

    async fn audit_second_factor(
        &self,
        turn: &Turn<'_>,
        user: UserId,
        result: &str,
        subject: Option<&str>,
    ) -> Result<()> {
        let mut entry = AuditEntry::new(
            turn.now_ms,
            Actor::User(user),
            AuditKind::SecondFactorResult,
        )
        .user(user)
        .detail("result", result);
        if let Some(subject) = subject {
            entry = entry.subject(subject);
        }
        self.audit(entry).await?;
        Ok(())
    }

    // -- /2fa --------------------------------------------------------------

    /// `/2fa`: off, waiting for its first code, or on.
    pub(super) async fn second_factor_status(&self, turn: &mut Turn<'_>) -> Result<()> {
        if Bot::second_factor_in_group(turn) {
            return Ok(());
        }
        let user = turn.me.user;
        match self.store.second_factor(user).await? {
            None => turn.private(texts::STATUS_OFF),
            Some(record) if record.state == SecondFactorState::Pending => {
                turn.private(texts::STATUS_PENDING);
            }
            Some(record) => {
                let left = self.store.recovery_codes_left(user).await?;
                turn.private(texts::status_on(
                    record.enabled_at_ms.unwrap_or(record.created_at_ms),
                    left,
                ));
            }
        }
        Ok(())
    }

    /// `/2fa setup`: a new secret, sealed and kept pending, sent by DM as
    /// an `otpauth://` URI, a key to type and a QR code.
    pub(super) async fn second_factor_setup(&self, turn: &mut Turn<'_>) -> Result<()> {
        if Bot::second_factor_in_group(turn) {
            return Ok(());
        }
        let user = turn.me.user;
        if let Some(record) = self.store.second_factor(user).await?
            && record.state == SecondFactorState::Enabled
        {
            turn.private(texts::ALREADY_ON);
            return Ok(());
        }
        let secret = TotpSecret::generate(self.rng.as_ref());
        let sealed = seal(&self.seal_key(), user, &secret, self.rng.as_ref())?;
        let record = SecondFactorRecord {
            user,
            state: SecondFactorState::Pending,
            sealed,
            created_at_ms: turn.now_ms,
            enabled_at_ms: None,
            last_used_step: None,
        };
        if !self.store.put_pending_second_factor(&record).await? {
            turn.private(texts::ALREADY_ON);
            return Ok(());
        }
        self.audit_second_factor(turn, user, "setup_started", None)
            .await?;
        let uri = SecretString::from(secret.otpauth_uri(&turn.me_label()));
        let image = qr_png(&uri).and_then(|png| Image::png(png, texts::QR_ALT));
        let text = texts::setup(
            secrecy::ExposeSecret::expose_secret(&uri),
            &secret.grouped(),
            image.is_some(),
            &minutes(SECOND_FACTOR_SETUP_TTL_SECS),
        );
        turn.private_with(text, Some(texts::SETUP_REDACTED.to_owned()), Vec::new());
        if let Some(reply) = turn.replies.last_mut() {
            reply.image = image;
        }
        Ok(())
    }

    /// `/2fa confirm CODE`: the first code turns it on; the recovery codes
    /// are shown once.
    pub(super) async fn second_factor_confirm(
        &self,
        turn: &mut Turn<'_>,
        code: &TotpCode,
    ) -> Result<()> {
        if Bot::second_factor_in_group(turn) {
            return Ok(());
        }
        let user = turn.me.user;
        let record = match self.store.second_factor(user).await? {
            None => {
                turn.private(texts::NOTHING_TO_CONFIRM);
                return Ok(());
            }
            Some(record) if record.state == SecondFactorState::Enabled => {
                turn.private(texts::ALREADY_ON);
                return Ok(());
            }
            Some(record) => record,
        };
        let ttl_ms = i64::from(SECOND_FACTOR_SETUP_TTL_SECS).saturating_mul(1_000);
        if turn.now_ms >= record.created_at_ms.saturating_add(ttl_ms) {
            turn.private(texts::setup_expired(&minutes(SECOND_FACTOR_SETUP_TTL_SECS)));
            return Ok(());
        }
        let policy = &self.config.trust.second_factor;
        let attempt = match self
            .store
            .begin_second_factor_attempt(
                user,
                turn.now_ms,
                policy.wrong_codes_window_ms(),
                policy.wrong_codes_max,
            )
            .await?
        {
            SecondFactorAttempt::Locked { until_ms } => {
                self.audit_second_factor(turn, user, "locked", None).await?;
                turn.private(texts::locked(until_ms));
                return Ok(());
            }
            SecondFactorAttempt::Allowed { attempt } => attempt,
        };
        let secret = unseal(&self.seal_key(), user, &record.sealed)?;
        let Some(step) = secret.step_of(code, turn.now_ms)? else {
            self.audit_second_factor(turn, user, "wrong", None).await?;
            turn.private(texts::wrong_setup_code(
                policy.wrong_codes_max,
                &texts::window_text(policy.wrong_codes_window_secs),
            ));
            return Ok(());
        };
        let codes: Vec<RecoveryCode> = (0..RECOVERY_CODES_COUNT)
            .map(|_| RecoveryCode::generate(self.rng.as_ref()))
            .collect();
        let hashes: Vec<_> = codes.iter().map(|c| c.hash(&self.pepper, user)).collect();
        let enabled = self
            .store
            .enable_second_factor(user, &record.sealed.nonce, step, &hashes, turn.now_ms)
            .await?;
        self.store.forget_second_factor_attempt(attempt).await?;
        if !enabled {
            turn.private(texts::SETUP_CHANGED);
            return Ok(());
        }
        self.audit_second_factor(turn, user, "enrolled", None)
            .await?;
        let shown: Vec<String> = codes.iter().map(RecoveryCode::grouped).collect();
        turn.private_with(
            texts::enabled(&shown),
            Some(texts::ENABLED_REDACTED.to_owned()),
            Vec::new(),
        );
        Ok(())
    }

    /// `/2fa off CODE`: an app code or a recovery code turns it off.
    pub(super) async fn second_factor_off(
        &self,
        turn: &mut Turn<'_>,
        code: &TotpOrRecovery,
    ) -> Result<()> {
        if Bot::second_factor_in_group(turn) {
            return Ok(());
        }
        let user = turn.me.user;
        let record = match self.store.second_factor(user).await? {
            None => {
                turn.private(texts::NOTHING_TO_TURN_OFF);
                return Ok(());
            }
            Some(record) if record.state == SecondFactorState::Pending => {
                self.store.remove_second_factor(user).await?;
                turn.private(texts::SETUP_DROPPED);
                return Ok(());
            }
            Some(record) => record,
        };
        match self.check_second_factor(turn, &record, code, None).await? {
            Check::Right | Check::Recovery { .. } => {
                self.store.remove_second_factor(user).await?;
                self.audit_second_factor(turn, user, "removed", None)
                    .await?;
                turn.private(texts::TURNED_OFF);
            }
            Check::Wrong => turn.private(self.wrong_code_text()),
            Check::Locked { until_ms } => turn.private(texts::locked(until_ms)),
        }
        Ok(())
    }

    /// Checks `given` against the user's enabled second factor: one
    /// attempt counted in the store first (refused when locked), an app
    /// code's time step or a recovery code taken once. Every result is
    /// audited, never the code.
    async fn check_second_factor(
        &self,
        turn: &Turn<'_>,
        record: &SecondFactorRecord,
        given: &TotpOrRecovery,
        subject: Option<&str>,
    ) -> Result<Check> {
        let user = record.user;
        let policy = &self.config.trust.second_factor;
        let attempt = match self
            .store
            .begin_second_factor_attempt(
                user,
                turn.now_ms,
                policy.wrong_codes_window_ms(),
                policy.wrong_codes_max,
            )
            .await?
        {
            SecondFactorAttempt::Locked { until_ms } => {
                self.audit_second_factor(turn, user, "locked", subject)
                    .await?;
                return Ok(Check::Locked { until_ms });
            }
            SecondFactorAttempt::Allowed { attempt } => attempt,
        };
        let check = match given {
            TotpOrRecovery::Totp(code) => {
                let secret = unseal(&self.seal_key(), user, &record.sealed)?;
                match secret.step_of(code, turn.now_ms)? {
                    Some(step) if self.store.use_second_factor_step(user, step).await? => {
                        Check::Right
                    }
                    _ => Check::Wrong,
                }
            }
            TotpOrRecovery::Recovery(code) => {
                let hash = code.hash(&self.pepper, user);
                if self
                    .store
                    .use_recovery_code(user, &hash, turn.now_ms)
                    .await?
                {
                    Check::Recovery {
                        left: self.store.recovery_codes_left(user).await?,
                    }
                } else {
                    Check::Wrong
                }
            }
        };
        let result = match check {
            Check::Right => "right",
            Check::Recovery { .. } => "recovery_used",
            Check::Wrong | Check::Locked { .. } => "wrong",
        };
        if check != Check::Wrong {
            self.store.forget_second_factor_attempt(attempt).await?;
        }
        self.audit_second_factor(turn, user, result, subject)
            .await?;
        Ok(check)
    }

    // -- the gate ----------------------------------------------------------

    /// What a cash-out waiting for its code asks of the policy point.
    pub(super) async fn cashout_action(&self, op: &CardOp) -> Result<TrustAction> {
        let card_added_at_ms = self
            .store
            .cards_of(op.user)
            .await?
            .iter()
            .find(|card| card.token.as_str() == op.token.as_str())
            .map_or(op.created_at_ms, |card| card.created_at_ms);
        Ok(TrustAction::CashOut {
            user: op.user,
            amount: op.amount,
            card_added_at_ms,
        })
    }

    /// The amount above which `action` is refused to a user without a
    /// second factor, if it is refused (payments and cash-outs only).
    async fn unenrolled_limit(&self, action: &TrustAction) -> Result<Option<Amount>> {
        let (TrustAction::Payment { amount, .. } | TrustAction::CashOut { amount, .. }) = action
        else {
            return Ok(None);
        };
        if !self
            .config
            .trust
            .second_factor
            .refuses_unenrolled_at_some_tier(*amount)
        {
            // No tier refuses this amount: the tier need not be read.
            return Ok(None);
        }
        let tier = self.tier_of(action.user()).await?;
        Ok(self
            .config
            .trust
            .second_factor
            .refuse_unenrolled_above(tier, amount.currency())
            .filter(|above| amount.minor() > above.minor()))
    }

    /// Whether `action` needs an enrolled user's app code: payments above
    /// the tier's amount; every cash-out, card add and link.
    async fn code_needed(&self, action: &TrustAction) -> Result<bool> {
        Ok(match action {
            TrustAction::Payment { amount, .. }
                if !self
                    .config
                    .trust
                    .second_factor
                    .code_above_at_some_tier(*amount) =>
            {
                // No tier asks a code for this amount: the tier need not
                // be read.
                false
            }
            TrustAction::Payment { amount, .. } => {
                let tier = self.tier_of(action.user()).await?;
                self.config
                    .trust
                    .second_factor
                    .code_above(tier, amount.currency())
                    .is_some_and(|above| amount.minor() > above.minor())
            }
            TrustAction::CashOut { .. }
            | TrustAction::CardAdd { .. }
            | TrustAction::Link { .. } => true,
            TrustAction::TopUp { .. } => false,
        })
    }

    /// Whether some tier refuses `action` to a user without a second
    /// factor (its amount against every tier's threshold, no I/O): when
    /// not, whether the user has one changes nothing at the start.
    fn may_refuse_unenrolled(&self, action: &TrustAction) -> bool {
        match action {
            TrustAction::Payment { amount, .. } | TrustAction::CashOut { amount, .. } => self
                .config
                .trust
                .second_factor
                .refuses_unenrolled_at_some_tier(*amount),
            TrustAction::TopUp { .. } | TrustAction::CardAdd { .. } | TrustAction::Link { .. } => {
                false
            }
        }
    }

    /// Whether some tier asks an enrolled user's app code for `action`
    /// (no I/O; see [`Bot::code_needed`]).
    fn may_need_code(&self, action: &TrustAction) -> bool {
        match action {
            TrustAction::Payment { amount, .. } => self
                .config
                .trust
                .second_factor
                .code_above_at_some_tier(*amount),
            TrustAction::CashOut { .. }
            | TrustAction::CardAdd { .. }
            | TrustAction::Link { .. } => true,
            TrustAction::TopUp { .. } => false,
        }
    }

    async fn enabled_second_factor(&self, user: UserId) -> Result<Option<SecondFactorRecord>> {
        Ok(self
            .store
            .second_factor(user)
            .await?
            .filter(|record| record.state == SecondFactorState::Enabled))
    }

    /// At the start of `/pay` (before money is reserved), `/cashout`,
    /// `/card add` and `/link CODE`: a user without a second factor is
    /// refused above the amount allowed without one, and told to enrol.
    /// Everything else passes here (an enrolled user's code is asked for
    /// at the confirmation).
    pub(super) async fn second_factor_at_start(
        &self,
        turn: &mut Turn<'_>,
        action: &TrustAction,
    ) -> Result<Gate> {
        if !self.may_refuse_unenrolled(action) {
            // Passes whether or not the user has a second factor.
            return Ok(Gate::Pass);
        }
        if self.enabled_second_factor(action.user()).await?.is_some() {
            return Ok(Gate::Pass);
        }
        let Some(above) = self.unenrolled_limit(action).await? else {
            return Ok(Gate::Pass);
        };
        self.refuse_unenrolled(turn, action, Some(above)).await?;
        Ok(Gate::Stopped)
    }

    /// When a rule asked for the second factor ([`crate::trust::Review::SecondFactor`])
    /// and the user has none: refused now, before anything is reserved,
    /// with how to enrol.
    pub(super) async fn second_factor_for_rule_at_start(
        &self,
        turn: &mut Turn<'_>,
        action: &TrustAction,
    ) -> Result<Gate> {
        if self.enabled_second_factor(action.user()).await?.is_some() {
            return Ok(Gate::Pass);
        }
        self.refuse_unenrolled(turn, action, None).await?;
        Ok(Gate::Stopped)
    }

    async fn refuse_unenrolled(
        &self,
        turn: &mut Turn<'_>,
        action: &TrustAction,
        above: Option<Amount>,
    ) -> Result<()> {
        let user = action.user();
        let mut entry = AuditEntry::new(turn.now_ms, Actor::System, AuditKind::SecondFactorAsked)
            .user(user)
            .detail("action", action.name())
            .detail("result", "refused_not_enrolled");
        if let Some(amount) = action.amount() {
            entry = entry.detail("amount", amount.to_string());
        }
        if let Some(above) = above {
            entry = entry.detail("allowed_without_up_to", above.to_string());
        }
        self.audit(entry).await?;
        let what = action_what(action);
        turn.private(match above {
            Some(above) => texts::enrol_first(&what, &above.to_string()),
            None => texts::enrol_for_rule(&what),
        });
        Ok(())
    }

    /// Called by every confirmation (`/confirm` of a payment, cash-out or
    /// card add; `/link confirm`) after its one-time code matched and
    /// before anything moves. `given` is the app or recovery code typed
    /// after the one-time code; `forced_by_rule` is a fraud rule's
    /// [`crate::trust::Verdict::SecondFactor`].
    ///
    /// - Enrolled, and the action needs the code (or a rule asks for it):
    ///   none given → asked for it; wrong → told so (counts against the
    ///   second factor's limit); locked → told until when. The one-time
    ///   code is not touched: it stays valid until it expires.
    /// - Not enrolled: refused when a rule asks for the second factor or
    ///   the amount is above what is allowed without one (told to enrol).
    pub(super) async fn second_factor_gate(
        &self,
        turn: &mut Turn<'_>,
        action: &TrustAction,
        given: Option<&TotpOrRecovery>,
        forced_by_rule: bool,
    ) -> Result<Gate> {
        let user = action.user();
        if !forced_by_rule && !self.may_refuse_unenrolled(action) && !self.may_need_code(action) {
            // Passes whether or not the user has a second factor.
            return Ok(Gate::Pass);
        }
        let Some(record) = self.enabled_second_factor(user).await? else {
            if forced_by_rule {
                self.refuse_unenrolled(turn, action, None).await?;
                return Ok(Gate::Stopped);
            }
            if let Some(above) = self.unenrolled_limit(action).await? {
                self.refuse_unenrolled(turn, action, Some(above)).await?;
                return Ok(Gate::Stopped);
            }
            return Ok(Gate::Pass);
        };
        if !forced_by_rule && !self.code_needed(action).await? {
            return Ok(Gate::Pass);
        }
        let mut asked = AuditEntry::new(turn.now_ms, Actor::System, AuditKind::SecondFactorAsked)
            .user(user)
            .detail("action", action.name())
            .detail("forced_by_rule", forced_by_rule)
            .detail("code_given", given.is_some());
        if let Some(amount) = action.amount() {
            asked = asked.detail("amount", amount.to_string());
        }
        self.audit(asked).await?;
        let what = action_what(action);
        let Some(given) = given else {
            let example = match action {
                TrustAction::Link { .. } => texts::LINK_CONFIRM_EXAMPLE,
                _ => texts::CONFIRM_EXAMPLE,
            };
            turn.private(texts::code_needed(&what, example));
            return Ok(Gate::Stopped);
        };
        match self
            .check_second_factor(turn, &record, given, Some(action.name()))
            .await?
        {
            Check::Right => Ok(Gate::Pass),
            Check::Recovery { left } => {
                turn.private(texts::recovery_used(left));
                Ok(Gate::Pass)
            }
            Check::Wrong => {
                turn.private(self.wrong_code_text());
                Ok(Gate::Stopped)
            }
            Check::Locked { until_ms } => {
                turn.private(texts::locked(until_ms));
                Ok(Gate::Stopped)
            }
        }
    }
}

fn action_what(action: &TrustAction) -> String {
    match action {
        TrustAction::Payment { amount, .. } => texts::payment_what(&amount.to_string()),
        TrustAction::CashOut { amount, .. } => texts::cashout_what(&amount.to_string()),
        TrustAction::TopUp { amount, .. } => texts::payment_what(&amount.to_string()),
        TrustAction::CardAdd { .. } => texts::CARD_ADD_WHAT.to_owned(),
        TrustAction::Link { .. } => texts::LINK_WHAT.to_owned(),
    }
}
