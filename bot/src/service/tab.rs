//! The group tab: `/expense`, `/expense undo` and `/tab`; `/settle` is in
//! `tab/settle.rs`, `/tab export` in `tab/export.rs`, `/expense edit` in
//! `tab/edit.rs`.
//!
//! The design decision to know: the tab is the group's shared record and
//! moves no money; an expense is stored once under an id derived from the
//! chat event (a redelivery changes nothing), its parts computed by the
//! pure [`crate::tab`] (largest remainder, stated order), and `/tab`
//! recomputes the simplified debts from the stored lines every time, so
//! there is no running balance to drift (settlements that count enter it
//! as lines too). Members are the people who have written in the group
//! since paybot joined (`Bot::note_member`).

mod edit;
mod export;
mod history;
mod recurring;
mod settle;
mod sharing;

pub use export::{TAB_EXPORT_BYTES_MAX, TAB_EXPORT_EXPENSES_MAX, TAB_EXPORT_ROWS_MAX};
pub use history::{TAB_HISTORY_MAX, TAB_HISTORY_SETTLEMENTS_READ_MAX};
pub use recurring::{
    RECURRING_EXPENSES_PER_CHAT_MAX, RECURRING_PERIODS_PER_SWEEP_MAX, SWEEP_RECURRING_EXPENSES_MAX,
};
pub use settle::{
    CASH_SETTLE_TTL_SECS_DEFAULT, SETTLE_ASK_INTERVAL_SECS, SETTLE_GROUP_LEGS_MAX,
    SWEEP_CASH_SETTLEMENTS_MAX, TAB_SETTLEMENTS_MAX,
};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use ledger::{Amount, Currency};

use super::texts::settle as settle_texts;
use super::texts::tab as texts;
use super::texts::{minutes, with_memo};
use super::turn::{REF_BODY_CHARS, REF_BODY_CHARS_LONG, Turn, derive, event_key, short_ref};
use super::{Bot, BotError, Result};
use crate::command::{CommandName, ExpensePayer, ExpenseShares, Memo, ShortRef, TabView, Target};
use crate::message::{Audience, Reply};
use crate::message::{ChatId, Platform, PlatformUserId};
use crate::recurrence::Recurrence;
use crate::store::UserId;
use crate::store::tab::{Expense, ExpenseLine, GroupMember, SettledTotal, Settlement};
use crate::tab::{self, TAB_EXPENSES_MAX, TAB_MEMBERS_MAX, TabError};
use sharing::{item_parts, items_text, memo_with_items, sharing};

/// How long after adding an expense its author may undo it.
pub const EXPENSE_UNDO_SECS: u32 = 24 * 60 * 60;
/// Most (group, member) sightings remembered here, so a member's every
/// message does not write; the memory starts over when full.
pub const MEMBERS_CACHED_MAX: usize = 10_000;

/// The group memberships already noted by this process.
#[derive(Debug, Default)]
pub(super) struct MembersSeen(Mutex<HashSet<(Platform, ChatId, PlatformUserId)>>);

impl Bot {
    /// Notes that the sender wrote in this group (once per process and
    /// group): the tab's members are the people who did.
    pub(super) async fn note_member(&self, turn: &Turn<'_>) -> Result<()> {
        let key = (
            turn.msg.platform,
            turn.msg.chat.id.clone(),
            turn.msg.sender.id.clone(),
        );
        if self
            .members_seen
            .0
            .lock()
            .is_ok_and(|seen| seen.contains(&key))
        {
            return Ok(());
        }
        self.store
            .note_group_member(key.0, &key.1, &key.2, turn.now_ms)
            .await?;
        if let Ok(mut seen) = self.members_seen.0.lock() {
            if seen.len() >= MEMBERS_CACHED_MAX {
                seen.clear();
            }
            seen.insert(key);
        }
        Ok(())
    }

    pub(super) async fn expense(
        &self,
        turn: &mut Turn<'_>,
        expense: NewExpense,
        recurrence: Option<Recurrence>,
    ) -> Result<()> {
        let NewExpense {
            total,
            shares,
            payers,
            memo,
        } = expense;
        if !turn.in_group() {
            turn.here(texts::GROUPS_ONLY);
            return Ok(());
        }
        let (platform, chat) = (turn.msg.platform, turn.msg.chat.id.clone());
        let members = self
            .store
            .group_members(platform, &chat, members_max())
            .await?;
        let open = self.store.open_expense_count(platform, &chat).await?;
        if usize::try_from(open).unwrap_or(usize::MAX) >= TAB_EXPENSES_MAX {
            turn.for_sender(texts::too_many_expenses(TAB_EXPENSES_MAX));
            return Ok(());
        }
        let items_text = items_text(&shares);
        let memo = memo_with_items(memo, &shares);
        let (people, rule) = match sharing(turn, &members, shares, total.minor()) {
            Ok(sharing) => sharing,
            Err(refusal) => {
                turn.for_sender(refusal);
                return Ok(());
            }
        };
        let (payer_people, paid) = if payers.is_empty() {
            (vec![me_member(turn)], vec![None])
        } else {
            let targets: Vec<&Target> = payers.iter().map(|p| &p.target).collect();
            match find_all(turn, &members, &targets) {
                Ok(found) => (
                    found,
                    payers.iter().map(|p| p.amount.map(Amount::minor)).collect(),
                ),
                Err(refusal) => {
                    turn.for_sender(refusal);
                    return Ok(());
                }
            }
        };
        let currency = total.currency();
        let owed = tab::split_shares(total.minor(), &rule);
        let paid = tab::split_payers(total.minor(), &paid);
        let (owed, paid) = match (owed, paid) {
            (Ok(owed), Ok(paid)) => (owed, paid),
            (Err(error), _) | (_, Err(error)) => {
                turn.for_sender(texts::does_not_work(
                    &why(&error, currency),
                    CommandName::Expense.usage(),
                ));
                return Ok(());
            }
        };
        let mut lines = lines_of(&people, &owed.shares, &payer_people, &paid.shares);
        if items_text.is_some() {
            // Someone the rest reached with nothing (a tiny rest) is not on it.
            lines.retain(|l| l.paid_minor != 0 || l.owed_minor != 0);
        }
        let label = |m: &GroupMember| m.label();
        let unit = ledger::format_minor(1, currency);
        let owed_more: Vec<String> = owed
            .rounded_up
            .iter()
            .filter_map(|i| people.get(*i).map(label))
            .collect();
        let paid_more: Vec<String> = paid
            .rounded_up
            .iter()
            .filter_map(|i| payer_people.get(*i).map(label))
            .collect();
        let shares_text: Vec<String> = people
            .iter()
            .zip(&owed.shares)
            .filter(|(_, share)| items_text.is_none() || **share > 0)
            .map(|(m, s)| texts::part(&m.label(), &ledger::format_minor(*s, currency)))
            .collect();
        let paid_by: Vec<String> = if payer_people.len() == 1 {
            payer_people.iter().map(GroupMember::label).collect()
        } else {
            payer_people
                .iter()
                .zip(&paid.shares)
                .map(|(m, s)| texts::part(&m.label(), &ledger::format_minor(*s, currency)))
                .collect()
        };
        let items_line = match &items_text {
            Some(items) => {
                let rest = total.minor() - items.iter().map(|i| i.amount.minor()).sum::<i64>();
                let rest = (rest > 0).then(|| ledger::format_minor(rest, currency));
                Some(texts::items(&item_parts(items), rest.as_deref()))
            }
            None => None,
        };
        let rounding = texts::rounding(&unit, &owed_more, &paid_more);
        let reply = ExpenseReply {
            paid_by: paid_by.join(", "),
            shares: shares_text.join(", "),
            items: items_line,
            rounding,
        };
        if let Some(recurrence) = recurrence {
            return self
                .recurring_setup(turn, total, memo, lines, recurrence, reply)
                .await;
        }
        let id = derive("paybot.bot.expense", &event_key(turn.msg));
        let mut expense = Expense {
            reference: short_ref('E', id, REF_BODY_CHARS)?,
            expense_id: id,
            platform,
            chat,
            author: turn.me.user,
            author_label: turn.me_label(),
            total,
            memo,
            lines,
            created_at_ms: turn.now_ms,
            undone_at_ms: None,
        };
        let mut stored = self.store.insert_expense(&expense).await?;
        if stored.expense_id != id {
            expense.reference = short_ref('E', id, REF_BODY_CHARS_LONG)?;
            stored = self.store.insert_expense(&expense).await?;
            if stored.expense_id != id {
                return Err(BotError::Inconsistent(format!(
                    "expense reference {} taken twice",
                    expense.reference
                )));
            }
        }
        turn.here(texts::added(
            &stored.reference.to_string(),
            &total.to_string(),
            &with_memo(stored.memo.as_ref()),
            &reply.paid_by,
            &reply.shares,
            &reply.extra(),
            &minutes(EXPENSE_UNDO_SECS),
        ));
        Ok(())
    }

    pub(super) async fn expense_undo(
        &self,
        turn: &mut Turn<'_>,
        reference: &ShortRef,
    ) -> Result<()> {
        if !turn.in_group() {
            turn.here(texts::GROUPS_ONLY);
            return Ok(());
        }
        let found = self
            .store
            .expense(reference)
            .await?
            .filter(|e| e.platform == turn.msg.platform && e.chat == turn.msg.chat.id);
        let Some(expense) = found else {
            turn.for_sender(texts::no_such_expense(&reference.to_string()));
            return Ok(());
        };
        let reference = expense.reference.to_string();
        if expense.undone_at_ms.is_some() {
            turn.for_sender(texts::already_undone(&reference));
            return Ok(());
        }
        if expense.author != turn.me.user {
            turn.for_sender(texts::not_the_author(&reference, &expense.author_label));
            return Ok(());
        }
        let window_ms = i64::from(EXPENSE_UNDO_SECS) * 1_000;
        if turn.now_ms.saturating_sub(expense.created_at_ms) > window_ms {
            turn.for_sender(texts::too_late_to_undo(
                &reference,
                &minutes(EXPENSE_UNDO_SECS),
            ));
            return Ok(());
        }
        if !self
            .store
            .undo_expense(&expense.reference, turn.now_ms)
            .await?
        {
            turn.for_sender(texts::already_undone(&reference));
            return Ok(());
        }
        self.lapse_unfit_settlements(turn, &reference).await?;
        turn.here(texts::undone(
            &reference,
            &expense.total.to_string(),
            &with_memo(expense.memo.as_ref()),
        ));
        Ok(())
    }

    pub(super) async fn tab(&self, turn: &mut Turn<'_>, view: TabView) -> Result<()> {
        if !turn.in_group() {
            turn.here(texts::GROUPS_ONLY);
            return Ok(());
        }
        let (platform, chat) = (turn.msg.platform, turn.msg.chat.id.clone());
        if view == TabView::History {
            return self.tab_history(turn).await;
        }
        if view == TabView::Export {
            return self.tab_export(turn).await;
        }
        let now = self.tab_now(platform, &chat).await?;
        let TabNow {
            expenses,
            members,
            by_currency,
            debts: all_debts,
            ..
        } = &now;
        // Counted settlements make debts of their own once the expenses
        // they settled are undone.
        if expenses.is_empty() && all_debts.values().all(Vec::is_empty) {
            turn.here(texts::EMPTY);
            return Ok(());
        }
        let name = |user: &UserId| now.name(user);
        let several = by_currency.len() > 1;
        let mut lines = Vec::new();
        match view {
            TabView::Member(target) => {
                let Some(who) = find(turn, members, &target) else {
                    turn.for_sender(texts::not_on_tab(&target.to_string()));
                    return Ok(());
                };
                lines.push(texts::member_heading(&who.label()));
                let mut seen = false;
                for (currency, tab_lines) in by_currency {
                    let mine: Vec<&(UserId, i64, i64)> = tab_lines
                        .iter()
                        .flatten()
                        .filter(|(u, _, _)| *u == who.user)
                        .collect();
                    if mine.is_empty() {
                        continue;
                    }
                    seen = true;
                    let money = |minor: i64| ledger::format_minor(minor, *currency);
                    let paid: i64 = mine.iter().map(|l| l.1).sum();
                    let share: i64 = mine.iter().map(|l| l.2).sum();
                    let net = paid - share;
                    lines.push(match net {
                        0 => texts::member_square(&money(paid), &money(share)),
                        n => texts::member_net(&money(n.abs()), &money(paid), &money(share), n > 0),
                    });
                    let debts = all_debts.get(currency).map_or(&[][..], Vec::as_slice);
                    for debt in debts {
                        if debt.from == who.user {
                            lines.push(texts::pays(&name(&debt.to), &money(debt.amount_minor)));
                        } else if debt.to == who.user {
                            lines.push(texts::gets(&name(&debt.from), &money(debt.amount_minor)));
                        }
                    }
                }
                if !seen {
                    turn.for_sender(texts::not_on_tab(&who.label()));
                    return Ok(());
                }
            }
            TabView::Simplified | TabView::History | TabView::Export => {
                lines.push(texts::heading(expenses.len()));
                for (currency, tab_lines) in by_currency {
                    if several {
                        lines.push(texts::in_currency(currency.code()));
                    }
                    let debts = all_debts.get(currency).map_or(&[][..], Vec::as_slice);
                    if debts.is_empty() {
                        lines.push(texts::SQUARE.to_owned());
                        continue;
                    }
                    for debt in debts {
                        lines.push(texts::owes(
                            &name(&debt.from),
                            &name(&debt.to),
                            &ledger::format_minor(debt.amount_minor, *currency),
                        ));
                    }
                    let direct = tab::direct_debts(tab_lines).map_err(inconsistent)?;
                    let people: HashSet<UserId> =
                        debts.iter().flat_map(|d| [d.from, d.to]).collect();
                    lines.push(texts::simplified(direct.len(), debts.len(), people.len()));
                }
                let counted: u64 = now.settled.iter().map(|t| t.count).sum();
                let counted = usize::try_from(counted).unwrap_or(usize::MAX);
                if counted > 0 {
                    lines.push(settle_texts::settlements_counted(counted));
                }
                let owing = all_debts.values().any(|d| !d.is_empty());
                if owing {
                    // Anyone may tap it: a debtor pays their part, anyone
                    // else has the debtors asked privately.
                    turn.replies.push(Reply {
                        image: None,
                        document: None,
                        platform,
                        audience: Audience::Chat(chat),
                        text: lines.join("\n"),
                        redacted: None,
                        buttons: vec![settle::settle_button()],
                        deletion: None,
                    });
                    return Ok(());
                }
            }
        }
        turn.here(lines.join("\n"));
        Ok(())
    }

    /// The group's tab as it stands: expenses, settlements, members and
    /// the simplified debts per currency (counted settlements included).
    async fn tab_now(&self, platform: Platform, chat: &ChatId) -> Result<TabNow> {
        let limit = u32::try_from(TAB_EXPENSES_MAX).unwrap_or(u32::MAX);
        let expenses = self
            .store
            .expenses_of_chat(platform, chat, false, limit)
            .await?;
        let settlements_max = u32::try_from(TAB_SETTLEMENTS_MAX).unwrap_or(u32::MAX);
        let settlements = self
            .store
            .settlements_of_chat(platform, chat, settlements_max)
            .await?;
        let members = self
            .store
            .group_members(platform, chat, members_max())
            .await?;
        // Every counted settlement, summed in the store: never trimmed.
        let settled = self.store.counted_settlements(platform, chat).await?;
        let labels = labels_of(&members, &expenses, &settled);
        let by_currency = by_currency(&expenses, &settled);
        let mut debts = BTreeMap::new();
        for (currency, tab_lines) in &by_currency {
            debts.insert(*currency, settle(tab_lines)?);
        }
        Ok(TabNow {
            expenses,
            settlements,
            settled,
            members,
            labels,
            by_currency,
            debts,
        })
    }
}

/// An expense as `/expense` gave it.
pub(super) struct NewExpense {
    pub(super) total: Amount,
    pub(super) shares: ExpenseShares,
    /// Empty: the sender paid it all.
    pub(super) payers: Vec<ExpensePayer>,
    pub(super) memo: Option<Memo>,
}

/// What the answer to `/expense` says of its parts.
struct ExpenseReply {
    paid_by: String,
    shares: String,
    items: Option<String>,
    rounding: Option<String>,
}

impl ExpenseReply {
    /// The lines after the shares: the items, then the rounding.
    fn extra(&self) -> Vec<&str> {
        [self.items.as_deref(), self.rounding.as_deref()]
            .into_iter()
            .flatten()
            .collect()
    }
}

/// A group's tab as it stands (see [`Bot::tab_now`]).
struct TabNow {
    /// Not undone, newest first.
    expenses: Vec<Expense>,
    /// Of every state, newest first, the newest [`TAB_SETTLEMENTS_MAX`]
    /// only (what waits is among them).
    settlements: Vec<Settlement>,
    /// Every counted settlement, summed per payer, payee and currency.
    settled: Vec<SettledTotal>,
    members: Vec<GroupMember>,
    labels: HashMap<UserId, String>,
    by_currency: BTreeMap<Currency, Vec<TabLines>>,
    debts: BTreeMap<Currency, Vec<tab::Debt<UserId>>>,
}

impl TabNow {
    /// How to name a user on this tab.
    fn name(&self, user: &UserId) -> String {
        self.labels
            .get(user)
            .cloned()
            .unwrap_or_else(|| format!("#{user}"))
    }
}

fn members_max() -> u32 {
    u32::try_from(TAB_MEMBERS_MAX).unwrap_or(u32::MAX)
}

fn inconsistent(error: TabError) -> BotError {
    BotError::Inconsistent(format!("the tab: {error}"))
}

/// The simplified transfers of one currency's expenses.
fn settle(expenses: &[TabLines]) -> Result<Vec<tab::Debt<UserId>>> {
    let nets = tab::nets(expenses.iter().flatten().copied()).map_err(inconsistent)?;
    tab::simplify(&nets).map_err(inconsistent)
}

/// The sender as a member of this group.
fn me_member(turn: &Turn<'_>) -> GroupMember {
    GroupMember {
        platform_id: turn.me.id.clone(),
        user: turn.me.user,
        handle: turn.me.handle.clone(),
        display_name: turn.me.display_name.clone(),
    }
}

/// The member `target` names: by handle or platform id; the sender always.
fn find(turn: &Turn<'_>, members: &[GroupMember], target: &Target) -> Option<GroupMember> {
    let me = me_member(turn);
    members
        .iter()
        .chain([&me])
        .find(|m| match target {
            Target::Handle(handle) => m.handle.as_ref() == Some(handle),
            Target::Id(id) => m.platform_id == *id,
        })
        .cloned()
}

/// Each target as a member, in order, each user once; or the refusal.
fn find_all(
    turn: &Turn<'_>,
    members: &[GroupMember],
    targets: &[&Target],
) -> std::result::Result<Vec<GroupMember>, String> {
    let mut found: Vec<GroupMember> = Vec::with_capacity(targets.len());
    for target in targets {
        let member =
            find(turn, members, target).ok_or_else(|| texts::not_a_member(&target.to_string()))?;
        if found.iter().any(|m| m.user == member.user) {
            return Err(texts::in_twice(&member.label()));
        }
        found.push(member);
    }
    Ok(found)
}

/// One line per person: the sharers in order, then payers who do not
/// share it.
fn lines_of(
    people: &[GroupMember],
    owed: &[i64],
    payers: &[GroupMember],
    paid: &[i64],
) -> Vec<ExpenseLine> {
    let mut lines: Vec<ExpenseLine> = people
        .iter()
        .zip(owed)
        .map(|(m, owed)| ExpenseLine {
            user: m.user,
            label: m.label(),
            paid_minor: 0,
            owed_minor: *owed,
        })
        .collect();
    for (payer, amount) in payers.iter().zip(paid) {
        match lines.iter_mut().find(|l| l.user == payer.user) {
            Some(line) => line.paid_minor += amount,
            None => lines.push(ExpenseLine {
                user: payer.user,
                label: payer.label(),
                paid_minor: *amount,
                owed_minor: 0,
            }),
        }
    }
    lines
}

/// One expense as `(user, paid, owed)` lines, in minor units.
type TabLines = Vec<(UserId, i64, i64)>;

/// Each currency's expenses as `(user, paid, owed)` lines, oldest first,
/// then the settlements that count: the payer as having paid the amount,
/// the payee as owing it (so the payer's debt to them shrinks by it).
fn by_currency(
    expenses: &[Expense],
    settled: &[SettledTotal],
) -> BTreeMap<Currency, Vec<TabLines>> {
    let mut map: BTreeMap<Currency, Vec<TabLines>> = BTreeMap::new();
    for total in settled {
        let amount = total.amount.minor();
        map.entry(total.amount.currency())
            .or_default()
            .push(vec![(total.payer, amount, 0), (total.payee, 0, amount)]);
    }
    for expense in expenses.iter().rev() {
        map.entry(expense.total.currency()).or_default().push(
            expense
                .lines
                .iter()
                .map(|l| (l.user, l.paid_minor, l.owed_minor))
                .collect(),
        );
    }
    map
}

/// How to name each user: as a member now, else as last named on the tab.
fn labels_of(
    members: &[GroupMember],
    expenses: &[Expense],
    settled: &[SettledTotal],
) -> HashMap<UserId, String> {
    let mut labels: HashMap<UserId, String> = HashMap::new();
    // Newest first: the first label seen is the latest.
    for line in expenses.iter().flat_map(|e| &e.lines) {
        labels
            .entry(line.user)
            .or_insert_with(|| line.label.clone());
    }
    // Then as settlements named them (someone who has left the group).
    for total in settled {
        labels
            .entry(total.payer)
            .or_insert_with(|| total.payer_label.clone());
        labels
            .entry(total.payee)
            .or_insert_with(|| total.payee_label.clone());
    }
    for member in members {
        labels.insert(member.user, member.label());
    }
    labels
}

/// Why an expense does not work, in the currency's money.
fn why(error: &TabError, currency: Currency) -> String {
    let money = |minor: i64| ledger::format_minor(minor, currency);
    match error {
        TabError::ExactSharesMismatch {
            sum_minor,
            total_minor,
        } if sum_minor == total_minor => texts::exact_leaves_nothing(&money(*total_minor)),
        TabError::ExactSharesMismatch {
            sum_minor,
            total_minor,
        } => texts::exact_mismatch(&money(*sum_minor), &money(*total_minor)),
        TabError::PaidMismatch {
            sum_minor,
            total_minor,
        } => texts::paid_mismatch(&money(*sum_minor), &money(*total_minor)),
        TabError::ItemsExceedTotal {
            items_minor,
            total_minor,
        } => texts::items_exceed(&money(*items_minor), &money(*total_minor)),
        other => other.to_string(),
    }
}
