//! A cash settlement nobody answered expires: the sweep marks it after
//! `cash_settle_ttl_secs`, and both sides are told privately.
//!
//! The design decision to know: expiring is the same one check-and-set on
//! "unanswered" as the payee's answer and the payer's cancel, written in
//! one ledger commit with both notices (outbox), so of an expiry racing an
//! answer exactly one wins, and an expiry is never without its notices.

use ledger::{SubmitError, Unit};

use super::super::super::texts::minutes;
use super::super::super::texts::settle as texts;
use super::super::super::{Bot, Result};
use crate::store::RecordChange;
use crate::store::tab::Settlement;

/// How long a cash settlement waits for its payee's answer unless
/// `bot.cash_settle_ttl_secs` says otherwise.
pub const CASH_SETTLE_TTL_SECS_DEFAULT: u32 = 7 * 24 * 60 * 60;
/// Unanswered cash settlements expired per sweep round (the rest next
/// round).
pub const SWEEP_CASH_SETTLEMENTS_MAX: u32 = 256;

impl Bot {
    /// Expires the cash settlements unanswered for longer than
    /// `cash_settle_ttl_secs`. Returns how many it expired.
    pub(in crate::service) async fn sweep_cash_settlements(&self, now_ms: i64) -> Result<usize> {
        let ttl_ms = i64::from(self.config.cash_settle_ttl_secs).saturating_mul(1_000);
        let due = self
            .store
            .cash_settlements_unanswered(now_ms.saturating_sub(ttl_ms), SWEEP_CASH_SETTLEMENTS_MAX)
            .await?;
        let mut ended = 0;
        // One that keeps failing must not stop the others: each is tried
        // on its own, and a failure is tried again next round.
        for settlement in due {
            match self.expire_cash_settlement(&settlement, now_ms).await {
                Ok(true) => ended += 1,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(settlement = %settlement.reference, %error, "a cash settlement's expiry failed; will retry");
                }
            }
        }
        Ok(ended)
    }

    /// `false`: answered or cancelled meanwhile (that one won).
    async fn expire_cash_settlement(&self, settlement: &Settlement, now_ms: i64) -> Result<bool> {
        let reference = settlement.reference.to_string();
        let amount = settlement.amount.to_string();
        let waited = minutes(self.config.cash_settle_ttl_secs);
        let outbox = vec![
            self.notice(
                &format!("{reference}:cash:expired:payer"),
                settlement.platform,
                &settlement.payer_platform_id,
                texts::expired_to_payer(&reference, &settlement.payee_label, &amount, &waited),
            )?,
            self.notice(
                &format!("{reference}:cash:expired:payee"),
                settlement.platform,
                &settlement.payee_platform_id,
                texts::expired_to_payee(&reference, &settlement.payer_label, &amount),
            )?,
        ];
        let record = self
            .store
            .record_write(RecordChange::ExpireCashSettlement {
                reference: &settlement.reference,
                now_ms,
            })?;
        let unit = Unit {
            transfers: Vec::new(),
            outbox,
            records: vec![record],
        };
        match self.ledger.commit(unit).await {
            Ok(_) => Ok(true),
            Err(SubmitError::RecordConflict { .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}
