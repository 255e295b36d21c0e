//! Splitting a bill: `/split` and `/split status`.
//!
//! The design decision to know: a split is a set of requests, one per
//! person, each answered on its own; the creator's own share is what is
//! left after the exact shares and moves no money.

use ledger::Amount;

use super::texts::splits as texts;
use super::texts::with_memo;
use super::turn::REF_BODY_CHARS;
use super::turn::{Turn, derive, event_key, label_of, short_ref};
use super::{Bot, Result};
use crate::command::{CommandName, Memo, ShortRef, SplitShare};
use crate::split;
use crate::store::{Identity, RequestState, Split};

impl Bot {
    // -- splits ----------------------------------------------------------------

    pub(super) async fn split(
        &self,
        turn: &mut Turn<'_>,
        total: Amount,
        shares: &[SplitShare],
        memo: Option<Memo>,
    ) -> Result<()> {
        let mut people: Vec<Identity> = Vec::with_capacity(shares.len());
        for share in shares {
            let identity = match self.resolve_known(turn, &share.target).await? {
                Ok(identity) => identity,
                Err(refusal) => {
                    turn.for_sender(refusal);
                    return Ok(());
                }
            };
            if identity.user == turn.me.user {
                turn.for_sender(texts::LEAVE_YOURSELF_OUT);
                return Ok(());
            }
            if people.iter().any(|p| p.user == identity.user) {
                turn.for_sender(texts::in_twice(&label_of(&identity)));
                return Ok(());
            }
            people.push(identity);
        }
        if let Some(refusal) = self.request_limits(turn, &people).await? {
            turn.for_sender(refusal);
            return Ok(());
        }
        let mut exact = vec![None];
        exact.extend(shares.iter().map(|s| s.amount.map(Amount::minor)));
        let minors = match split::with_exact_shares(total.minor(), &exact) {
            Ok(minors) => minors,
            Err(error) => {
                turn.for_sender(texts::does_not_work(
                    &why(&error, total.currency(), exact.iter().any(Option::is_some)),
                    CommandName::Split.usage(),
                ));
                return Ok(());
            }
        };
        let mut amounts = Vec::with_capacity(minors.len());
        for minor in &minors {
            amounts.push(Amount::from_minor(*minor, total.currency()).ok());
        }
        let creator_share = amounts.first().copied().flatten();
        let Some(creator_share) = creator_share else {
            turn.for_sender(texts::OWN_SHARE_NOTHING);
            return Ok(());
        };
        let key = event_key(turn.msg);
        let id = derive("paybot.bot.split", &key);
        let split = Split {
            reference: short_ref('S', id, REF_BODY_CHARS)?,
            creator: turn.me.user,
            platform: turn.msg.platform,
            chat: turn.msg.chat.id.clone(),
            total,
            creator_share,
            memo: memo.clone(),
            created_at_ms: turn.now_ms,
        };
        let split = self.store.insert_split(&split).await?;
        let mut lines = vec![texts::own_share(
            &turn.me_label(),
            &creator_share.to_string(),
        )];
        for (index, (person, amount)) in people.iter().zip(amounts.iter().skip(1)).enumerate() {
            let Some(amount) = amount else {
                continue;
            };
            self.create_request(
                turn,
                person,
                *amount,
                memo.clone(),
                Some(&split),
                &format!("{key}:{index}"),
            )
            .await?;
            lines.push(texts::share(&label_of(person), &amount.to_string()));
        }
        turn.here(texts::created(
            &split.reference.to_string(),
            &total.to_string(),
            &with_memo(memo.as_ref()),
            &lines.join(", "),
        ));
        Ok(())
    }

    pub(super) async fn split_status(
        &self,
        turn: &mut Turn<'_>,
        reference: Option<ShortRef>,
    ) -> Result<()> {
        let split = match &reference {
            Some(reference) => self.store.split(reference).await?,
            None => {
                self.store
                    .latest_split(turn.me.user, turn.msg.platform, Some(&turn.msg.chat.id))
                    .await?
            }
        };
        let Some(split) = split else {
            turn.for_sender(match reference {
                Some(reference) => texts::no_such_split(&reference.to_string()),
                None => texts::NO_SPLIT_HERE.to_owned(),
            });
            return Ok(());
        };
        let requests = self.store.requests_of_split(&split.reference).await?;
        let member =
            split.creator == turn.me.user || requests.iter().any(|r| r.payer == turn.me.user);
        if !member {
            turn.for_sender(texts::members_only(&split.reference.to_string()));
            return Ok(());
        }
        let mut paid_minor = split.creator_share.minor();
        let mut lines = Vec::new();
        for request in &requests {
            if request.state == RequestState::Paid {
                paid_minor = paid_minor.saturating_add(request.amount.minor());
            }
            lines.push(texts::status_line(
                &request.payer_label,
                &request.amount.to_string(),
                texts::request_state(request.state),
            ));
        }
        turn.here(texts::status(
            &split.reference.to_string(),
            &split.total.to_string(),
            &with_memo(split.memo.as_ref()),
            &ledger::format_minor(paid_minor, split.total.currency()),
            &lines.join("\n"),
        ));
        Ok(())
    }
}

/// Why a split does not work, in the split's currency: too few cents
/// (units) for everyone to get one is said in money, not minor units.
/// `exact`: some shares were given as amounts.
fn why(error: &split::SplitError, currency: ledger::Currency, exact: bool) -> String {
    let money = |minor: i64| ledger::format_minor(minor, currency);
    match error {
        split::SplitError::TotalTooSmall {
            total_minor,
            participants,
        } => texts::too_few_units(&money(*total_minor), *participants, &money(1)),
        split::SplitError::RestTooSmall { rest_minor, open } if !exact => {
            texts::too_few_units(&money(*rest_minor), *open, &money(1))
        }
        split::SplitError::RestTooSmall { rest_minor, open } => {
            texts::too_few_units_left(&money(*rest_minor), *open, &money(1))
        }
        other => other.to_string(),
    }
}
