//! `/settle` by someone who owes several people on the tab: one code, one
//! linked payment group, every creditor paid or none.
//!
//! The design decision to know: each creditor is one leg of a payment
//! group (`pay_many`'s `start_group`: limits, rules and the second factor
//! as for `/pay @bob @carol`), and each leg's settlement row names that
//! leg's pending transfer and is written in the very unit that reserves the
//! money, under the same "fits what is owed" check as a single settlement.
//! The group's one `/confirm` posts every leg in one linked unit, so the
//! settlements count together or not at all; a cancelled or expired group
//! leaves them all lapsed.

use ledger::{Amount, Currency, TransferId};

use super::super::super::pay_many::{Along, Leg, leg_transfer_id};
use super::super::super::texts::settle as texts;
use super::super::super::turn::{Turn, derive, event_key, label_of};
use super::super::super::{Bot, BotError, Result};
use crate::command::Memo;
use crate::store::tab::{GroupMember, Settlement, SettlementKind, SettlementState};
use crate::store::{RecordChange, UserId};

/// Most creditors one `/settle` pays with one code (a leg writes three
/// records in the unit: its payment, its place in the group, its
/// settlement); the rest is left for another `/settle`.
pub const SETTLE_GROUP_LEGS_MAX: usize = 5;
const _: () = assert!(3 * SETTLE_GROUP_LEGS_MAX <= ledger::UNIT_RECORDS_MAX);

/// One creditor's part of a `/settle` to several people.
pub(in crate::service::tab) struct Owed {
    pub(in crate::service::tab) to: GroupMember,
    pub(in crate::service::tab) amount: Amount,
    /// What the payer owes `to` on the tab in this currency (the check
    /// every waiting settlement to `to` must fit in).
    pub(in crate::service::tab) owed_minor: i64,
}

/// Leg `index`'s settlement id for the message `key`.
fn leg_settlement_id(key: &str, index: usize) -> TransferId {
    derive("paybot.bot.settle.many", &format!("{key}#{index}"))
}

/// A debt of the sender's still to settle: currency, creditor, minor units.
pub(in crate::service::tab) type Debt = (Currency, UserId, i64);

/// Which of `mine` one `/settle` pays (one payment group is in one
/// currency): the first currency's debts, the largest first, at most
/// [`SETTLE_GROUP_LEGS_MAX`]; and what is left for the next `/settle`.
pub(in crate::service::tab) fn pick(mine: Vec<Debt>) -> (Vec<Debt>, Vec<Debt>) {
    let first = mine.first().map(|(currency, _, _)| *currency);
    let (mut these, mut rest): (Vec<Debt>, Vec<Debt>) = mine
        .into_iter()
        .partition(|(currency, _, _)| Some(*currency) == first);
    these.sort_by_key(|debt| std::cmp::Reverse(debt.2));
    if these.len() > SETTLE_GROUP_LEGS_MAX {
        rest.extend(these.split_off(SETTLE_GROUP_LEGS_MAX));
    }
    (these, rest)
}

impl Bot {
    /// The settlements an earlier try of this `/settle` stored, in leg
    /// order (empty: none, or it was not a `/settle` to several people).
    pub(in crate::service::tab) async fn stored_settle_group(
        &self,
        turn: &Turn<'_>,
    ) -> Result<Vec<Owed>> {
        let key = event_key(turn.msg);
        let mut found = Vec::new();
        for index in 0..SETTLE_GROUP_LEGS_MAX {
            let Some(stored) = self
                .stored_settlement(leg_settlement_id(&key, index))
                .await?
            else {
                break;
            };
            found.push(Owed {
                to: GroupMember {
                    platform_id: stored.payee_platform_id.clone(),
                    user: stored.payee,
                    handle: None,
                    display_name: stored.payee_label.clone(),
                },
                amount: stored.amount,
                owed_minor: stored.amount.minor(),
            });
        }
        Ok(found)
    }

    /// Starts one payment group paying every creditor in `owed` (one
    /// currency), each leg with its settlement.
    pub(in crate::service::tab) async fn settle_group(
        &self,
        turn: &mut Turn<'_>,
        owed: &[Owed],
    ) -> Result<()> {
        let key = event_key(turn.msg);
        let mut legs = Vec::new();
        let mut records = Vec::new();
        let mut creditors = Vec::new();
        for (index, part) in owed.iter().enumerate() {
            let Some(identity) = self
                .store
                .identity(turn.msg.platform, &part.to.platform_id)
                .await?
            else {
                return Err(BotError::Inconsistent(format!(
                    "a group member without an identity: {}",
                    part.to.label()
                )));
            };
            if identity.user == turn.me.user {
                // A creditor's account linked to the payer's meanwhile.
                turn.for_sender(texts::NOT_YOURSELF);
                return Ok(());
            }
            let transfer_id = leg_transfer_id(&key, index);
            let id = leg_settlement_id(&key, index);
            let settlement = Settlement {
                reference: self.settlement_reference(id).await?,
                settlement_id: id,
                platform: turn.msg.platform,
                chat: turn.msg.chat.id.clone(),
                payer: turn.me.user,
                payer_label: turn.me_label(),
                payer_platform_id: turn.me.id.clone(),
                payee: part.to.user,
                payee_label: part.to.label(),
                payee_platform_id: part.to.platform_id.clone(),
                amount: part.amount,
                kind: SettlementKind::Paid,
                payment_transfer: Some(transfer_id),
                state: SettlementState::Pending,
                created_at_ms: turn.now_ms,
                decided_at_ms: None,
            };
            records.push(self.store.record_write(RecordChange::InsertSettlement {
                settlement: &settlement,
                owed_minor: part.owed_minor,
            })?);
            creditors.push(part.to.label());
            legs.push(Leg {
                label: label_of(&identity),
                payee: identity,
                amount: part.amount,
                transfer_id,
            });
        }
        let along = Along {
            records,
            refused: texts::already_waiting_many(&creditors),
        };
        let memo = Memo::parse(texts::SETTLE_MEMO).ok();
        self.start_group(turn, legs, memo, Some(along)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::from_code("USD").unwrap()
    }

    fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    #[test]
    fn pick_pays_one_currency_largest_first() {
        let mine = vec![
            (eur(), UserId(2), 500),
            (usd(), UserId(3), 1_000),
            (eur(), UserId(4), 700),
        ];
        let (these, rest) = pick(mine);
        assert_eq!(
            these,
            vec![(eur(), UserId(4), 700), (eur(), UserId(2), 500)]
        );
        assert_eq!(rest, vec![(usd(), UserId(3), 1_000)]);
    }

    #[test]
    fn pick_leaves_creditors_past_one_code_for_later() {
        let mine: Vec<Debt> = (1..=7).map(|n| (usd(), UserId(n), n * 100)).collect();
        let (these, rest) = pick(mine);
        assert_eq!(these.len(), SETTLE_GROUP_LEGS_MAX);
        assert_eq!(these.first(), Some(&(usd(), UserId(7), 700)));
        assert_eq!(rest, vec![(usd(), UserId(2), 200), (usd(), UserId(1), 100)]);
    }

    #[test]
    fn pick_of_one_debt_is_that_debt() {
        let (these, rest) = pick(vec![(usd(), UserId(9), 3_000)]);
        assert_eq!(these, vec![(usd(), UserId(9), 3_000)]);
        assert!(rest.is_empty());
    }

    #[test]
    fn each_leg_has_its_own_settlement_id() {
        let a = leg_settlement_id("mock:flat:1", 0);
        assert_ne!(a, leg_settlement_id("mock:flat:1", 1));
        assert_ne!(a, leg_settlement_id("mock:flat:2", 0));
        assert_eq!(a, leg_settlement_id("mock:flat:1", 0));
    }
}
