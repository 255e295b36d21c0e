//! The fraud and velocity rules in the core: the facts the rules judging an
//! action need, gathered from the store and the ledger, the pure
//! evaluation ([`crate::trust::rules::evaluate`]) and one audit entry per
//! rule that fired.
//!
//! The decision to know: only what [`RulesPolicy::needs`] asks for is read,
//! each read bounded; a decision whose audit entry cannot be written is an
//! error, never a silent allow.
//!
//! [`RulesPolicy::needs`]: crate::trust::rules::RulesPolicy::needs

use ledger::{Amount, Currency, HISTORY_PAGE_TRANSFERS_MAX, HistoryCursor, TransferKind};
use serde_json::Value;

use super::{Bot, BotError, transfer_codes};
use crate::store::UserId;
use crate::trust::rules::{
    Facts, Needs, NewPayee, PastPayment, RULES_LEDGER_TRANSFERS_READ_MAX,
    RULES_NEW_PAYEES_READ_MAX, RULES_PAYMENTS_READ_MAX, Received, RuleVerdict, evaluate,
};
use crate::trust::{Actor, AuditEntry, AuditKind, TrustAction};

/// A part of the same action judged before this one: an earlier payee of
/// one `/pay` to several people. The count rules (payments in the hour,
/// new payees, payments just under a threshold) see it as a payment made
/// now, so ten people paid at once count as ten payments.
#[derive(Clone, Copy, Debug)]
pub(super) struct EarlierLeg {
    pub payee: UserId,
    pub amount: Amount,
    /// The payer never paid this payee before.
    pub new_payee: bool,
}

/// Adds the earlier parts of the same action to the facts, newest first
/// (the last one judged is the newest), as payments and first-time payees
/// at `now_ms`.
fn add_earlier_legs(facts: &mut Facts, needs: &Needs, earlier: &[EarlierLeg], now_ms: i64) {
    if earlier.is_empty() {
        return;
    }
    if needs.payments_since_ms.is_some() {
        let mut payments: Vec<PastPayment> = earlier
            .iter()
            .rev()
            .map(|leg| PastPayment {
                at_ms: now_ms,
                amount: leg.amount,
                payee: Some(leg.payee),
            })
            .collect();
        payments.append(&mut facts.payments);
        facts.payments = payments;
    }
    if needs.new_payees_since_ms.is_some() {
        let mut new_payees: Vec<NewPayee> = earlier
            .iter()
            .rev()
            .filter(|leg| leg.new_payee)
            .map(|leg| NewPayee {
                payee: leg.payee,
                first_paid_at_ms: now_ms,
            })
            .collect();
        new_payees.append(&mut facts.new_payees);
        facts.new_payees = new_payees;
    }
}

impl Bot {
    /// Judges `action` by the rules at `now_ms` and audits each rule that
    /// fired (its name, condition, action and inputs). Public for the
    /// policy point and for tests; it moves no money.
    pub async fn evaluate_rules(
        &self,
        action: &TrustAction,
        now_ms: i64,
    ) -> Result<RuleVerdict, BotError> {
        self.evaluate_rules_about(action, None, now_ms).await
    }

    /// As [`Bot::evaluate_rules`], with the audit entries' subject (the
    /// payment's or card operation's reference) when there is one.
    pub async fn evaluate_rules_about(
        &self,
        action: &TrustAction,
        subject: Option<&str>,
        now_ms: i64,
    ) -> Result<RuleVerdict, BotError> {
        self.evaluate_rules_with(action, subject, now_ms, &[]).await
    }

    /// As [`Bot::evaluate_rules_about`], with the parts of the same action
    /// judged before this one counted as payments made now.
    pub(super) async fn evaluate_rules_with(
        &self,
        action: &TrustAction,
        subject: Option<&str>,
        now_ms: i64,
        earlier: &[EarlierLeg],
    ) -> Result<RuleVerdict, BotError> {
        let policy = &self.config.trust.rules;
        if policy.rules().is_empty() {
            return Ok(RuleVerdict {
                verdict: crate::trust::Verdict::Allow,
                fired: Vec::new(),
            });
        }
        let needs = policy.needs(action, now_ms);
        let mut facts = self.rule_facts(action.user(), &needs, now_ms).await?;
        add_earlier_legs(&mut facts, &needs, earlier, now_ms);
        let verdict = evaluate(policy, action, &facts);
        for fired in &verdict.fired {
            let mut entry = AuditEntry::new(now_ms, Actor::System, AuditKind::RuleFired)
                .user(action.user())
                .detail("rule", fired.rule.clone())
                .detail("condition", fired.condition.as_str())
                .detail("on", fired.on.as_str())
                .detail("action", fired.action.as_str())
                .detail("inputs", Value::Object(fired.inputs.clone()));
            if let Some(amount) = action.amount() {
                entry = entry.detail(
                    "amount",
                    crate::trust::rules::money_text(amount.minor(), amount.currency()),
                );
            }
            if let Some(subject) = subject {
                entry = entry.subject(subject);
            }
            self.audit(entry).await?;
        }
        Ok(verdict)
    }

    /// The facts `needs` asks for, about `user`.
    async fn rule_facts(
        &self,
        user: UserId,
        needs: &Needs,
        now_ms: i64,
    ) -> Result<Facts, BotError> {
        let mut facts = Facts {
            now_ms,
            ..Facts::default()
        };
        if let Some(since) = needs.payments_since_ms {
            facts.payments = self
                .store
                .payments_made_since(user, since, RULES_PAYMENTS_READ_MAX)
                .await?;
        }
        if let Some((payer, payee)) = needs.paid_before {
            facts.paid_before = self.store.has_paid_before(payer, payee).await?;
        }
        if let Some(since) = needs.new_payees_since_ms {
            facts.new_payees = self
                .store
                .payees_first_paid_since(user, since, RULES_NEW_PAYEES_READ_MAX)
                .await?;
        }
        if needs.account_since {
            // The wallet began when its oldest chat account joined it.
            facts.account_since_ms = self
                .store
                .identities_of(user)
                .await?
                .iter()
                .map(|identity| identity.user_since_ms)
                .min();
        }
        if let Some((currency, since)) = needs.received {
            facts.received = self.received_since(user, currency, since).await?;
        }
        Ok(facts)
    }

    /// What other people paid into the user's wallet in `currency` after
    /// `since_ms` (payments and escrow claims; not top-ups, which come
    /// from the user's own card, nor money moved between the user's own
    /// wallets), newest first, reading at most
    /// [`RULES_LEDGER_TRANSFERS_READ_MAX`] of the wallet's transfers.
    async fn received_since(
        &self,
        user: UserId,
        currency: Currency,
        since_ms: i64,
    ) -> Result<Vec<Received>, BotError> {
        let wallet = self.wallet(user, currency).await?;
        let mut received = Vec::new();
        let mut cursor = HistoryCursor::START;
        let mut read: u32 = 0;
        loop {
            let page = self
                .ledger
                .history(wallet, cursor, HISTORY_PAGE_TRANSFERS_MAX)
                .await?;
            for transfer in &page.transfers {
                // Newest first, stamped in commit order.
                if transfer.timestamp_ms <= since_ms {
                    return Ok(received);
                }
                let moved = matches!(transfer.kind, TransferKind::Single | TransferKind::Post);
                let from_others = matches!(
                    transfer.code,
                    transfer_codes::PAYMENT | transfer_codes::ESCROW_CLAIM
                );
                if moved
                    && from_others
                    && transfer.credit_account_id == wallet
                    && transfer.debit_account_id != wallet
                {
                    received.push(Received {
                        at_ms: transfer.timestamp_ms,
                        amount: transfer.amount,
                    });
                }
            }
            read = read.saturating_add(u32::try_from(page.transfers.len()).unwrap_or(u32::MAX));
            match page.next {
                Some(next) if read < RULES_LEDGER_TRANSFERS_READ_MAX => cursor = next,
                _ => return Ok(received),
            }
        }
    }
}
