//! Whom a command names: a mention, a platform id or a handle, resolved to
//! an identity paybot knows (or, for `/pay`, a handle nobody has claimed
//! yet), and the warnings the payer sees before confirming.
//!
//! The design decision to know: handles are lookup keys, platform ids are
//! the identity. A mention's stable id wins over its text, and a handle
//! that looks like another known one (its TR39 skeleton) is named in a
//! warning before the payer confirms.

use super::account::seen_user;
use super::memo;
use super::texts::minutes;
use super::texts::resolve as texts;
use super::turn::{Turn, label_of, label_of_user};
use super::{Bot, Result};
use crate::command::Target;
use crate::identity;
use crate::message::Handle;
use crate::store::{Identity, Payee, PayeeNow, UserId};

/// Look-alike handles fetched per warning check.
pub const CONFUSABLE_CANDIDATES_MAX: u32 = 8;

/// What a command names a person for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Someone the platform or paybot knows (a request, a split, a leg of
    /// a payment to several people).
    Known,
    /// `/pay`: a handle nobody has claimed yet is allowed (the money waits
    /// in escrow), and a mentioned payee's facts for the warnings are read
    /// with their identity (see [`Bot::payment_facts`]).
    Payment,
}

/// Which payee a command named, resolved.
pub(super) enum Resolved {
    Known(Identity),
    Unclaimed(Handle),
}

/// What one read before a payment gives ([`Bot::payment_facts`]).
pub(super) struct PaymentFacts {
    /// The payer's warnings (see [`Bot::payee_warnings`]).
    pub(super) warnings: Vec<String>,
    /// How many of the payer's payments wait for their code (a payment to
    /// several people once), where the same read gave it; `None`: not read.
    pub(super) payer_waiting: Option<usize>,
}

impl Bot {
    // -- resolving people ------------------------------------------------------

    /// The user a command names. `Err(text)`: a refusal to reply with.
    pub(super) async fn resolve(
        &self,
        turn: &Turn<'_>,
        target: &Target,
        purpose: Purpose,
    ) -> Result<std::result::Result<Resolved, String>> {
        let msg = turn.msg;
        let mention = msg.mentions.iter().find(|m| match target {
            Target::Id(id) => &m.user.id == id,
            Target::Handle(handle) => {
                m.user.handle.as_ref() == Some(handle)
                    || Handle::parse(&m.token).ok().as_ref() == Some(handle)
            }
        });
        if let Some(mention) = mention {
            if mention.user.is_bot {
                return Ok(Err(texts::is_a_bot(&label_of_user(&mention.user))));
            }
            if purpose == Purpose::Known {
                let (identity, _) = self
                    .see(&mention.user, msg.platform, false, false, turn.now_ms)
                    .await?;
                return Ok(Ok(Resolved::Known(identity)));
            }
            // Read with the message's sender where it could be.
            if let Some(identity) = memo::take_payee(msg.platform, &mention.user.id) {
                return Ok(Ok(Resolved::Known(identity)));
            }
            let seen = seen_user(&mention.user, msg.platform, false, false);
            let payer = turn.me.user;
            let (identity, facts) = self
                .store
                .see_payee(&seen, CONFUSABLE_CANDIDATES_MAX, payer, turn.now_ms)
                .await?;
            if let (Some(facts), Some(skeleton)) = (facts, &seen.skeleton) {
                memo::keep_payee_facts(payer, identity.user, skeleton, facts);
            }
            return Ok(Ok(Resolved::Known(identity)));
        }
        match target {
            Target::Id(id) => match self.store.identity(msg.platform, id).await? {
                Some(identity) => Ok(Ok(Resolved::Known(identity))),
                None => Ok(Err(not_known(target))),
            },
            Target::Handle(handle) => {
                if let Some(bot) = self.profile(msg.platform).username()
                    && Handle::parse(bot).ok().as_ref() == Some(handle)
                {
                    return Ok(Err(texts::is_me(&handle.to_string())));
                }
                let known = self
                    .store
                    .identities_with_handle(msg.platform, handle)
                    .await?;
                match known.into_iter().next() {
                    Some(identity) => Ok(Ok(Resolved::Known(identity))),
                    None if purpose == Purpose::Payment => {
                        Ok(Ok(Resolved::Unclaimed(handle.clone())))
                    }
                    None => Ok(Err(not_known(target))),
                }
            }
        }
    }

    /// A user the platform or paybot knows (requests and splits need one:
    /// the request must reach them). `Err(text)`: a refusal to reply with.
    pub(super) async fn resolve_known(
        &self,
        turn: &Turn<'_>,
        target: &Target,
    ) -> Result<std::result::Result<Identity, String>> {
        Ok(match self.resolve(turn, target, Purpose::Known).await? {
            Ok(Resolved::Known(identity)) => Ok(identity),
            // `resolve` gives no unclaimed handle when not allowed to.
            Ok(Resolved::Unclaimed(_)) => Err(not_known(target)),
            Err(refusal) => Err(refusal),
        })
    }

    /// The user `payee`'s account belongs to now (`None`: not a user's
    /// account, or no such account): as read with the payment (`read`,
    /// about the account the payment names; see
    /// [`crate::store::AwaitingCode::payees_now`]), else read here.
    pub(super) async fn payee_user_now(
        &self,
        payee: &Payee,
        read: Option<&PayeeNow>,
    ) -> Result<Option<UserId>> {
        Ok(match (payee, read) {
            (Payee::User { .. }, Some(read)) => read.user,
            (Payee::User { platform, id, .. }, None) => {
                self.store.identity(*platform, id).await?.map(|i| i.user)
            }
            (Payee::Unclaimed { .. }, _) => None,
        })
    }

    /// Warnings for the payer before they confirm: a look-alike handle, a
    /// payee they never paid, a handle nobody has claimed. A known payee's
    /// tier, where it comes with this read, is this message's read of it
    /// (see `memo.rs`): call this before the payee's limits are checked.
    pub(super) async fn payee_warnings(
        &self,
        turn: &Turn<'_>,
        payee: &Resolved,
    ) -> Result<Vec<String>> {
        Ok(self.payment_facts(turn, payee).await?.warnings)
    }

    /// [`Bot::payee_warnings`], and how many of the payer's payments wait
    /// for their code where the same read gives it (a known payee with a
    /// handle: [`crate::store::Store::payee_facts`]).
    pub(super) async fn payment_facts(
        &self,
        turn: &Turn<'_>,
        payee: &Resolved,
    ) -> Result<PaymentFacts> {
        let mut warnings = Vec::new();
        let mut payer_waiting = None;
        let handle = match payee {
            Resolved::Known(identity) => identity.handle.clone(),
            Resolved::Unclaimed(handle) => Some(handle.clone()),
        };
        let (platform, payer) = (turn.msg.platform, turn.me.user);
        let limit = CONFUSABLE_CANDIDATES_MAX;
        // Both facts in one read where both are wanted.
        let (similar, paid_before) = match (&handle, payee) {
            (Some(handle), Resolved::Known(identity)) => {
                let skeleton = identity::skeleton(handle);
                // Read with the payee's identity where a mention named them.
                let facts = match memo::take_payee_facts(payer, identity.user, &skeleton) {
                    Some(facts) => facts,
                    None => {
                        self.store
                            .payee_facts(platform, &skeleton, limit, payer, identity.user)
                            .await?
                    }
                };
                let tier = facts.payee_tier.unwrap_or(self.config.trust.default_tier);
                memo::keep_tier(identity.user, tier);
                payer_waiting = Some(usize::try_from(facts.payer_waiting).unwrap_or(usize::MAX));
                (facts.look_alikes, Some(facts.paid_before))
            }
            (Some(handle), Resolved::Unclaimed(_)) => {
                let skeleton = identity::skeleton(handle);
                let similar = self
                    .store
                    .identities_with_skeleton(platform, &skeleton, limit)
                    .await?;
                (similar, None)
            }
            (None, Resolved::Known(identity)) => {
                let paid = self.store.has_paid_before(payer, identity.user).await?;
                (Vec::new(), Some(paid))
            }
            (None, Resolved::Unclaimed(_)) => (Vec::new(), None),
        };
        if let Some(handle) = &handle
            && let Some(other) = similar
                .iter()
                .filter_map(|i| i.handle.as_ref())
                .find(|h| *h != handle)
        {
            warnings.push(texts::looks_like(&handle.to_string(), &other.to_string()));
        }
        match payee {
            Resolved::Known(identity) => {
                if paid_before == Some(false) {
                    warnings.push(texts::never_paid_before(&label_of(identity)));
                }
            }
            Resolved::Unclaimed(handle) => warnings.push(texts::unclaimed_handle(
                &handle.to_string(),
                &minutes(self.config.escrow_ttl_secs),
            )),
        }
        Ok(PaymentFacts {
            warnings,
            payer_waiting,
        })
    }
}

pub(super) fn not_known(target: &Target) -> String {
    texts::not_known(&target.to_string())
}
