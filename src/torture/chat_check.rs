//! `paybot torture --chat`: its journal and its checker, a pure function of
//! (journal, database snapshot) that lists every broken promise of the chat
//! path.
//!
//! The one design decision to know: **what a user saw is read from the
//! journal, what happened is read from the database, and the two are tied
//! by ids the checker derives itself.** A payment's ledger transfer id is
//! derived from the `/pay` (or `/approve`) message's event id, so every
//! payment in the database must trace back to one journaled message of its
//! payer; its post, escrow hold and payee notice are found by the ids
//! derived from its reference. The answers' texts are parsed here (the code
//! and the reference in the DM, "Done: you paid", "Cancelled payment"),
//! not by the workers, so a worker's bug cannot hide a violation.
//!
//! "Told exactly once" is checked against what survives a SIGKILL: the
//! mock chat's inboxes are in memory and die with each server, so the
//! truth is the outbox. For each posted payment, exactly one outbox row
//! tells its payee (the row whose id derives from `<ref>:paid:payee`, and
//! no other row to that payee names the same payer and memo), and it is
//! marked delivered once the outbox drained after the last restart: one
//! notice, delivered at least once (a repeat after a kill, between a
//! delivery and its mark, dies with that server's inboxes and is not
//! seen here). What the last server life
//! delivered is checked as well: in the inboxes read at the end, no
//! "paid you" appears twice and none names a payment that was not posted.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::io::BufRead;
use std::path::Path;

use anyhow::Context;
use ledger::TransferId;
use serde::{Deserialize, Serialize};

use super::check::StoredKind;

/// The longest journal line, in bytes (an answer with a split's
/// notifications is well under).
pub(super) const CHAT_JOURNAL_LINE_BYTES_MAX: usize = 256 * 1024;
/// The digits of a one-time code (as `bot::otp::OTP_DIGITS`).
pub(super) const CODE_DIGITS: usize = 6;
/// The ledger code of a payment's transfers (`bot`'s `transfer_codes`).
pub(super) const CODE_PAYMENT: i64 = 1;
/// The ledger code of an escrow hold.
pub(super) const CODE_ESCROW_HOLD: i64 = 2;
/// Each memo the workers write starts with this, then the flow's number.
pub(super) const MEMO_TAG_PREFIX: &str = "tt";

/// One message the user received, as the mock chat's answer listed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heard {
    pub to: String,
    pub chat: String,
    pub text: String,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum ChatEntry {
    /// Written and flushed before the message's first attempt; every
    /// attempt sends the same event `id`.
    Send {
        msg: u64,
        flow: u64,
        from: String,
        chat: String,
        text: String,
        id: String,
    },
    /// The first definite answer: HTTP `status` (200, or a 4xx refusal)
    /// and what the message caused.
    Answer {
        msg: u64,
        attempts: u32,
        status: u16,
        deliveries: Vec<Heard>,
    },
    /// No definite answer before the worker gave up.
    GiveUp { msg: u64, attempts: u32 },
    /// What `user`'s inbox held at the end (the last server life only).
    Inbox { user: String, texts: Vec<String> },
}

/// Reads a journal: one [`ChatEntry`] per line. A last line cut short (the
/// torture client itself killed mid-write) is ignored.
pub(super) fn read_chat_journal(path: &Path) -> anyhow::Result<Vec<ChatEntry>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open the journal {}", path.display()))?;
    let mut entries = Vec::new();
    let mut lines = std::io::BufReader::new(file).lines().peekable();
    while let Some(line) = lines.next() {
        let line = line.context("cannot read the journal")?;
        if line.len() > CHAT_JOURNAL_LINE_BYTES_MAX {
            anyhow::bail!("a journal line is over {CHAT_JOURNAL_LINE_BYTES_MAX} bytes");
        }
        match serde_json::from_str(&line) {
            Ok(entry) => entries.push(entry),
            Err(_) if lines.peek().is_none() => break,
            Err(e) => return Err(e).context("a journal line is not an entry"),
        }
    }
    Ok(entries)
}

/// A payment as the bot's table holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbPayment {
    pub reference: String,
    pub transfer_id: u128,
    /// The payer's platform id (a mock user's name).
    pub payer_id: String,
    pub payee_id: Option<String>,
    pub memo: Option<String>,
    pub state: String,
}

/// A ledger transfer, with what the chat checker needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbTransfer {
    pub id: u128,
    pub kind: StoredKind,
    pub pending_id: Option<u128>,
    pub code: i64,
}

/// An outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbOutbox {
    pub id: u128,
    pub payload: String,
    pub delivered: bool,
}

/// One non-null text value of some table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextCell {
    pub table: String,
    pub column: String,
    pub text: String,
}

/// What the chat checker reads of the database, with the server stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatSnapshot {
    pub payments: Vec<DbPayment>,
    pub transfers: Vec<DbTransfer>,
    pub outbox: Vec<DbOutbox>,
    pub text_cells: Vec<TextCell>,
}

/// One broken promise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatViolation {
    /// The payer saw "Done: you paid" (or "held for them") but the payment
    /// was posted `times` times (0 or more than 1).
    ConfirmedNotPostedOnce { reference: String, times: usize },
    /// A payment was posted (or its money held in escrow) although its
    /// payer never sent its code, or saw it cancelled or locked out.
    PostedUnconfirmed { reference: String, why: String },
    /// A payment in the database that no journaled message of its payer
    /// asked for.
    PaymentWithoutMessage { reference: String },
    /// A wrong code was answered as if it confirmed a payment.
    WrongCodeConfirmed { msg: u64 },
    /// A posted payment's payee was told `times` times in the outbox (or
    /// not marked delivered at the end).
    PayeeNotToldOnce { reference: String, detail: String },
    /// In the last server life's inboxes.
    InboxTold { user: String, detail: String },
    /// A one-time code the journal saw in a DM, in clear in the database.
    CodeInClear { table: String, column: String },
    /// The ledger's own invariants, or `paybot verify`.
    Verify(String),
}

impl fmt::Display for ChatViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatViolation::ConfirmedNotPostedOnce { reference, times } => write!(
                f,
                "payment {reference}: its payer saw it confirmed, but it was posted {times} times"
            ),
            ChatViolation::PostedUnconfirmed { reference, why } => {
                write!(f, "payment {reference} was posted, but {why}")
            }
            ChatViolation::PaymentWithoutMessage { reference } => write!(
                f,
                "payment {reference} traces back to no journaled /pay or /approve of its payer"
            ),
            ChatViolation::WrongCodeConfirmed { msg } => {
                write!(
                    f,
                    "message {msg}: a wrong code was answered as a payment done"
                )
            }
            ChatViolation::PayeeNotToldOnce { reference, detail } => {
                write!(
                    f,
                    "payment {reference}: payee not told exactly once: {detail}"
                )
            }
            ChatViolation::InboxTold { user, detail } => {
                write!(f, "inbox of {user} (last server life): {detail}")
            }
            ChatViolation::CodeInClear { table, column } => {
                write!(f, "a one-time code in clear in {table}.{column}")
            }
            ChatViolation::Verify(v) => write!(f, "verify: {v}"),
        }
    }
}

/// What the checker counted, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatTally {
    /// Payments whose payer saw "Done: you paid".
    pub seen_paid: usize,
    /// Payments whose payer saw their money held for an unclaimed handle.
    pub seen_escrowed: usize,
    /// Payments whose payer saw them cancelled.
    pub seen_cancelled: usize,
    /// Payments whose payer saw them locked out by wrong codes.
    pub seen_locked_out: usize,
    /// Payments posted in the ledger.
    pub posted: usize,
    /// Escrow holds claimed by their payee.
    pub claimed: usize,
    /// Codes the journal saw in DMs (each searched for in every text cell).
    pub codes_seen: usize,
    /// Text cells searched.
    pub text_cells: usize,
}

/// The namespace-derived id, as `bot` derives its transfer and outbox ids.
pub(super) fn derived(namespace: &str, key: &str) -> u128 {
    TransferId::derive(namespace, key.as_bytes()).as_u128()
}

/// The pending transfer of the payment that `from`'s message `id` (a
/// `/pay` or an `/approve`) started, as `bot` derives it; `None` for an id
/// the mock chat would have refused.
pub(super) fn payment_asked(from: &str, id: &str) -> Option<u128> {
    let event = paybot_mock::event_id_of(from, id).ok()?;
    Some(bot::service::payment_transfer_id_of(bot::message::Platform::Mock, &event).as_u128())
}

/// The `CODE_DIGITS`-digit code after `/confirm ` in `text`, if any (a
/// redacted text has none).
pub(super) fn code_in(text: &str) -> Option<&str> {
    let rest = text.split("/confirm ").nth(1)?;
    let code = rest.get(..CODE_DIGITS)?;
    let after = rest[CODE_DIGITS..].chars().next();
    (code.bytes().all(|b| b.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit()))
        .then_some(code)
}

/// The word after `prefix` in `text`, without trailing punctuation.
pub(super) fn word_after<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = text.split(prefix).nth(1)?;
    let word = rest.split_whitespace().next()?;
    let word = word.trim_end_matches(['.', ',', ')', ';', ':']);
    (!word.is_empty()).then_some(word)
}

/// The memo tags (`tt123`) in `text`, as whole words.
pub(super) fn tags_in(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| {
            w.strip_prefix(MEMO_TAG_PREFIX)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect()
}

/// True when `text` holds `word` as a whole word (not inside a longer run
/// of letters and digits).
fn has_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w == word)
}

/// What the journal says each user saw and sent, by payment reference.
#[derive(Debug, Default)]
struct Seen {
    /// Reference → its payer, from the DM that gave its code.
    payer: HashMap<String, String>,
    /// (payer, code) → reference.
    code_ref: HashMap<(String, String), String>,
    codes: BTreeSet<String>,
    /// References whose payer sent one of their codes.
    code_sent: HashSet<String>,
    paid: BTreeSet<String>,
    escrowed: BTreeSet<String>,
    cancelled: HashSet<String>,
    locked_out: HashSet<String>,
    /// Transfer ids a `/pay` or `/approve` message of each payer asks for.
    asked: HashSet<u128>,
}

fn replies_to<'a>(from: &'a str, deliveries: &'a [Heard]) -> impl Iterator<Item = &'a str> {
    deliveries
        .iter()
        .filter(move |d| d.to == from)
        .map(|d| d.text.as_str())
}

/// Reads the journal in its order: a code names the payment whose DM gave
/// it most recently to that payer before the `/confirm` was sent (two
/// payments of one payer may get the same code, one in a million).
fn read_journal_seen(journal: &[ChatEntry], violations: &mut Vec<ChatViolation>) -> Seen {
    let mut seen = Seen::default();
    // msg → (sender, text, the payment a `/confirm` aimed at).
    type Sending<'a> = (&'a str, &'a str, Option<Option<String>>);
    let mut sends: HashMap<u64, Sending> = HashMap::new();
    for entry in journal {
        match entry {
            ChatEntry::Send {
                msg,
                from,
                text,
                id,
                ..
            } => {
                if text.starts_with("/pay ") || text.starts_with("/approve ") {
                    seen.asked.extend(payment_asked(from, id));
                }
                // Sent is enough, answered or not: the server may have
                // acted on it.
                let aim = text.strip_prefix("/confirm ").map(|code| {
                    let aim = seen.code_ref.get(&(from.clone(), code.to_owned())).cloned();
                    if let Some(reference) = &aim {
                        seen.code_sent.insert(reference.clone());
                    }
                    aim
                });
                sends.insert(*msg, (from.as_str(), text.as_str(), aim));
            }
            ChatEntry::Answer {
                msg, deliveries, ..
            } => {
                let Some((from, _, aim)) = sends.get(msg) else {
                    continue;
                };
                read_answer(&mut seen, *msg, from, aim.as_ref(), deliveries, violations);
            }
            ChatEntry::GiveUp { .. } => {}
            ChatEntry::Inbox { .. } => {}
        }
    }
    seen
}

/// What one answer told its sender `from`; `aim`: for a `/confirm`, the
/// payment its code named (`None` inside: a wrong code).
fn read_answer(
    seen: &mut Seen,
    msg: u64,
    from: &str,
    aim: Option<&Option<String>>,
    deliveries: &[Heard],
    violations: &mut Vec<ChatViolation>,
) {
    for reply in replies_to(from, deliveries) {
        if let (Some(code), Some(reference)) = (code_in(reply), word_after(reply, "/cancel ")) {
            seen.payer.insert(reference.to_owned(), from.to_owned());
            seen.code_ref
                .insert((from.to_owned(), code.to_owned()), reference.to_owned());
            seen.codes.insert(code.to_owned());
        }
        let done = reply.starts_with("Done: you paid ");
        let held = reply.starts_with("Confirmed: ") && reply.contains("is held for them");
        match aim {
            Some(Some(reference)) if done => {
                seen.paid.insert(reference.clone());
            }
            Some(Some(reference)) if held => {
                seen.escrowed.insert(reference.clone());
            }
            Some(None) if done || held => {
                violations.push(ChatViolation::WrongCodeConfirmed { msg });
            }
            _ => {}
        }
        if let Some(reference) = word_after(reply, "Cancelled payment ") {
            seen.cancelled.insert(reference.to_owned());
        }
        if reply.starts_with("Too many wrong codes")
            && let Some(reference) = word_after(reply, "payment ")
        {
            seen.locked_out.insert(reference.to_owned());
        }
    }
}

/// Every broken promise of the chat path in `db`, given what the users
/// did and saw (`journal`); and the counts for the report.
pub fn check_chat(journal: &[ChatEntry], db: &ChatSnapshot) -> (Vec<ChatViolation>, ChatTally) {
    let mut violations = Vec::new();
    let seen = read_journal_seen(journal, &mut violations);
    let by_ref: HashMap<&str, &DbPayment> = db
        .payments
        .iter()
        .map(|p| (p.reference.as_str(), p))
        .collect();
    let transfers: HashMap<u128, &DbTransfer> = db.transfers.iter().map(|t| (t.id, t)).collect();
    let mut resolutions: HashMap<u128, Vec<&DbTransfer>> = HashMap::new();
    for t in &db.transfers {
        if let Some(pending) = t.pending_id {
            resolutions.entry(pending).or_default().push(t);
        }
    }
    let posts_of = |id: u128| {
        resolutions
            .get(&id)
            .map(|r| r.iter().filter(|t| t.kind == StoredKind::Post).count())
            .unwrap_or(0)
    };
    let hold_of = |reference: &str| derived("paybot.bot.escrow.hold", reference);
    let mut tally = ChatTally {
        seen_paid: seen.paid.len(),
        seen_escrowed: seen.escrowed.len(),
        seen_cancelled: seen.cancelled.len(),
        seen_locked_out: seen.locked_out.len(),
        codes_seen: seen.codes.len(),
        text_cells: db.text_cells.len(),
        ..ChatTally::default()
    };

    // Every payment the payer saw confirmed is posted exactly once.
    for reference in &seen.paid {
        let times = by_ref
            .get(reference.as_str())
            .map(|p| posts_of(p.transfer_id))
            .unwrap_or(0);
        if times != 1 {
            violations.push(ChatViolation::ConfirmedNotPostedOnce {
                reference: reference.clone(),
                times,
            });
        }
    }
    for reference in &seen.escrowed {
        let hold = hold_of(reference);
        let held = transfers
            .get(&hold)
            .is_some_and(|t| t.kind == StoredKind::Pending && t.code == CODE_ESCROW_HOLD);
        let payment_posted = by_ref
            .get(reference.as_str())
            .is_some_and(|p| posts_of(p.transfer_id) > 0);
        if !held || payment_posted {
            violations.push(ChatViolation::ConfirmedNotPostedOnce {
                reference: reference.clone(),
                times: usize::from(held) + usize::from(payment_posted),
            });
        }
    }

    // Nothing posted that no payer confirmed; every payment traces back to
    // one message of its payer.
    for payment in &db.payments {
        let reference = payment.reference.as_str();
        if !seen.asked.contains(&payment.transfer_id) {
            violations.push(ChatViolation::PaymentWithoutMessage {
                reference: reference.to_owned(),
            });
        }
        let posted = posts_of(payment.transfer_id) > 0;
        let held = transfers.contains_key(&hold_of(reference));
        if !(posted || held) {
            continue;
        }
        tally.posted += usize::from(posted);
        let why = if !seen.code_sent.contains(reference) {
            Some("its payer never sent its code".to_owned())
        } else if seen.payer.get(reference) != Some(&payment.payer_id) {
            Some(format!(
                "its payer in the database ({}) is not who got its code",
                payment.payer_id
            ))
        } else if seen.cancelled.contains(reference) {
            Some("its payer saw it cancelled".to_owned())
        } else if seen.locked_out.contains(reference) {
            Some("its payer saw it locked out by wrong codes".to_owned())
        } else {
            None
        };
        if let Some(why) = why {
            violations.push(ChatViolation::PostedUnconfirmed {
                reference: reference.to_owned(),
                why,
            });
        }
    }
    // A posted payment transfer the bot has no record of.
    let known: HashSet<u128> = db.payments.iter().map(|p| p.transfer_id).collect();
    for t in &db.transfers {
        if t.kind == StoredKind::Post
            && let Some(pending) = t.pending_id.and_then(|p| transfers.get(&p))
            && pending.code == CODE_PAYMENT
            && !known.contains(&pending.id)
        {
            violations.push(ChatViolation::PostedUnconfirmed {
                reference: format!("(transfer {:032x})", pending.id),
                why: "the bot has no payment record of it".to_owned(),
            });
        }
    }

    check_told(db, &posts_of, &mut tally, &mut violations);
    check_inboxes(journal, db, &posts_of, &mut violations);
    check_codes(db, &seen.codes, &mut violations);
    (violations, tally)
}

/// Every payee of a posted payment told exactly once (the outbox), and
/// every claimer of an escrow hold told (the outbox, in the claim's commit).
fn check_told(
    db: &ChatSnapshot,
    posts_of: &dyn Fn(u128) -> usize,
    tally: &mut ChatTally,
    violations: &mut Vec<ChatViolation>,
) {
    let outbox: HashMap<u128, &DbOutbox> = db.outbox.iter().map(|o| (o.id, o)).collect();
    let notices: Vec<(&DbOutbox, serde_json::Value)> = db
        .outbox
        .iter()
        .filter_map(|o| Some((o, serde_json::from_str(&o.payload).ok()?)))
        .collect();
    let transfers: HashSet<u128> = db.transfers.iter().map(|t| t.id).collect();
    for payment in &db.payments {
        let reference = payment.reference.as_str();
        if transfers.contains(&derived("paybot.bot.escrow.release", reference)) {
            tally.claimed += 1;
            // Told in the commit that moved the money (the outbox), so
            // exactly once whatever crashed around it.
            let id = derived("paybot.bot.outbox", &format!("{reference}:claimed:payee"));
            let detail = match outbox.get(&id) {
                None => Some("no outbox row tells its claimer of the claim"),
                Some(row) if !row.delivered => {
                    Some("the outbox row telling its claimer was never delivered")
                }
                Some(_) => None,
            };
            if let Some(detail) = detail {
                violations.push(ChatViolation::PayeeNotToldOnce {
                    reference: reference.to_owned(),
                    detail: detail.to_owned(),
                });
            }
        }
        if posts_of(payment.transfer_id) == 0 {
            continue;
        }
        let id = derived("paybot.bot.outbox", &format!("{reference}:paid:payee"));
        let Some(row) = outbox.get(&id) else {
            violations.push(ChatViolation::PayeeNotToldOnce {
                reference: reference.to_owned(),
                detail: "no outbox row tells the payee".to_owned(),
            });
            continue;
        };
        if !row.delivered {
            violations.push(ChatViolation::PayeeNotToldOnce {
                reference: reference.to_owned(),
                detail: "its outbox row was never delivered (the outbox did not drain)".to_owned(),
            });
        }
        let to = |v: &serde_json::Value| v.get("to").and_then(|t| t.as_str()).map(str::to_owned);
        let text = |v: &serde_json::Value| {
            v.get("text")
                .and_then(|t| t.as_str())
                .unwrap_or("")
                .to_owned()
        };
        let Some((_, payload)) = notices.iter().find(|(o, _)| o.id == id) else {
            violations.push(ChatViolation::PayeeNotToldOnce {
                reference: reference.to_owned(),
                detail: "its outbox row's payload is not a chat message".to_owned(),
            });
            continue;
        };
        if payment.payee_id.is_some() && to(payload) != payment.payee_id {
            violations.push(ChatViolation::PayeeNotToldOnce {
                reference: reference.to_owned(),
                detail: format!("the notice goes to {:?}, not the payee", to(payload)),
            });
        }
        // No other row tells the same payee of the same payment.
        if let Some(tag) = payment
            .memo
            .as_deref()
            .and_then(|m| tags_in(m).first().copied())
        {
            let same = notices
                .iter()
                .filter(|(_, v)| {
                    let t = text(v);
                    to(v) == to(payload)
                        && t.contains(" paid you ")
                        && has_word(&t, tag)
                        && has_word(&t, &payment.payer_id)
                })
                .count();
            if same != 1 {
                violations.push(ChatViolation::PayeeNotToldOnce {
                    reference: reference.to_owned(),
                    detail: format!("{same} outbox rows tell the payee of it"),
                });
            }
        }
    }
}

/// The last server life's inboxes: no "paid you" twice, none for a payment
/// that was not posted to that user.
fn check_inboxes(
    journal: &[ChatEntry],
    db: &ChatSnapshot,
    posts_of: &dyn Fn(u128) -> usize,
    violations: &mut Vec<ChatViolation>,
) {
    for entry in journal {
        let ChatEntry::Inbox { user, texts } = entry else {
            continue;
        };
        let mut counted: BTreeMap<&str, usize> = BTreeMap::new();
        for text in texts.iter().filter(|t| t.contains(" paid you ")) {
            *counted.entry(text.as_str()).or_default() += 1;
            for tag in tags_in(text) {
                let posted = db.payments.iter().any(|p| {
                    p.payee_id.as_deref() == Some(user.as_str())
                        && p.memo.as_deref().is_some_and(|m| has_word(m, tag))
                        && has_word(text, &p.payer_id)
                        && posts_of(p.transfer_id) > 0
                });
                if !posted {
                    violations.push(ChatViolation::InboxTold {
                        user: user.clone(),
                        detail: format!("told of a payment ({tag}) that was not posted to them"),
                    });
                }
            }
        }
        for (text, n) in counted {
            if n > 1 {
                violations.push(ChatViolation::InboxTold {
                    user: user.clone(),
                    detail: format!("told {n} times: {text:?}"),
                });
            }
        }
    }
}

/// No code any DM gave is in any text cell, as a whole word.
fn check_codes(db: &ChatSnapshot, codes: &BTreeSet<String>, violations: &mut Vec<ChatViolation>) {
    let mut reported: BTreeSet<(&str, &str)> = BTreeSet::new();
    for cell in &db.text_cells {
        let leaked = cell
            .text
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w.len() == CODE_DIGITS && codes.contains(w));
        if leaked && reported.insert((cell.table.as_str(), cell.column.as_str())) {
            violations.push(ChatViolation::CodeInClear {
                table: cell.table.clone(),
                column: cell.column.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(msg: u64, from: &str, text: &str) -> ChatEntry {
        ChatEntry::Send {
            msg,
            flow: 1,
            from: from.to_owned(),
            chat: "dm".to_owned(),
            text: text.to_owned(),
            id: format!("e{msg}"),
        }
    }

    fn answer(msg: u64, to: &str, text: &str) -> ChatEntry {
        ChatEntry::Answer {
            msg,
            attempts: 1,
            status: 200,
            deliveries: vec![Heard {
                to: to.to_owned(),
                chat: "dm".to_owned(),
                text: text.to_owned(),
            }],
        }
    }

    /// u1 pays u2 0.10 for tt1 with code 123456, confirms, sees it done;
    /// the ledger posted it and the outbox told u2.
    fn sound() -> (Vec<ChatEntry>, ChatSnapshot) {
        let journal = vec![
            send(1, "u1", "/pay @u2 0.10 for tt1"),
            answer(
                1,
                "u1",
                "To pay @u2 $0.10 for “tt1”, send me: /confirm 123456\nThe code works once. \
                 Changed your mind? /cancel PABC",
            ),
            send(2, "u1", "/confirm 123456"),
            answer(2, "u1", "Done: you paid @u2 $0.10 for “tt1”."),
            ChatEntry::Inbox {
                user: "u2".to_owned(),
                texts: vec!["@u1 paid you $0.10 for “tt1”. /balance".to_owned()],
            },
        ];
        let transfer_id = payment_asked("u1", "e1").unwrap();
        let db = ChatSnapshot {
            payments: vec![DbPayment {
                reference: "PABC".to_owned(),
                transfer_id,
                payer_id: "u1".to_owned(),
                payee_id: Some("u2".to_owned()),
                memo: Some("tt1".to_owned()),
                state: "completed".to_owned(),
            }],
            transfers: vec![
                DbTransfer {
                    id: transfer_id,
                    kind: StoredKind::Pending,
                    pending_id: None,
                    code: CODE_PAYMENT,
                },
                DbTransfer {
                    id: 7,
                    kind: StoredKind::Post,
                    pending_id: Some(transfer_id),
                    code: CODE_PAYMENT,
                },
            ],
            outbox: vec![DbOutbox {
                id: derived("paybot.bot.outbox", "PABC:paid:payee"),
                payload: r#"{"to":"u2","text":"@u1 paid you $0.10 for “tt1”."}"#.to_owned(),
                delivered: true,
            }],
            text_cells: vec![TextCell {
                table: "bot_events".to_owned(),
                column: "outcome".to_owned(),
                text: "send me: /confirm (the code I sent you) at 1234567 a123456b".to_owned(),
            }],
        };
        (journal, db)
    }

    #[test]
    fn a_sound_history_has_no_violation() {
        let (journal, db) = sound();
        let (violations, tally) = check_chat(&journal, &db);
        assert_eq!(violations, vec![]);
        assert_eq!((tally.seen_paid, tally.posted, tally.codes_seen), (1, 1, 1));
    }

    #[test]
    fn a_confirmed_payment_not_posted_is_reported() {
        let (journal, mut db) = sound();
        db.transfers.pop();
        let (violations, _) = check_chat(&journal, &db);
        assert!(violations.contains(&ChatViolation::ConfirmedNotPostedOnce {
            reference: "PABC".to_owned(),
            times: 0
        }));
    }

    #[test]
    fn a_payment_posted_without_its_code_or_after_a_cancel_is_reported() {
        let (mut journal, db) = sound();
        journal.retain(|e| !matches!(e, ChatEntry::Send { msg: 2, .. }));
        let (violations, _) = check_chat(&journal, &db);
        assert!(violations.iter().any(|v| matches!(v,
            ChatViolation::PostedUnconfirmed { why, .. } if why.contains("never sent"))));

        let (mut journal, db) = sound();
        journal.push(send(3, "u1", "/cancel PABC"));
        journal.push(answer(
            3,
            "u1",
            "Cancelled payment PABC ($0.10). Nothing was paid.",
        ));
        let (violations, _) = check_chat(&journal, &db);
        assert!(violations.iter().any(|v| matches!(v,
            ChatViolation::PostedUnconfirmed { why, .. } if why.contains("cancelled"))));
    }

    #[test]
    fn a_payment_no_message_asked_for_is_reported() {
        let (journal, mut db) = sound();
        if let Some(p) = db.payments.first_mut() {
            p.transfer_id = 99;
        }
        let (violations, _) = check_chat(&journal, &db);
        assert!(violations.contains(&ChatViolation::PaymentWithoutMessage {
            reference: "PABC".to_owned()
        }));
    }

    #[test]
    fn a_payee_told_twice_or_never_is_reported() {
        let (journal, mut db) = sound();
        let mut again = db.outbox[0].clone();
        again.id = 5;
        db.outbox.push(again);
        let (violations, _) = check_chat(&journal, &db);
        assert!(
            violations.iter().any(|v| matches!(v,
            ChatViolation::PayeeNotToldOnce { detail, .. } if detail.starts_with("2 outbox rows")))
        );

        let (journal, mut db) = sound();
        db.outbox[0].delivered = false;
        let (violations, _) = check_chat(&journal, &db);
        assert!(violations.iter().any(|v| matches!(v,
            ChatViolation::PayeeNotToldOnce { detail, .. } if detail.contains("never delivered"))));

        let (mut journal, db) = sound();
        if let Some(ChatEntry::Inbox { texts, .. }) = journal.last_mut() {
            texts.push(texts[0].clone());
        }
        let (violations, _) = check_chat(&journal, &db);
        assert!(
            violations
                .iter()
                .any(|v| matches!(v, ChatViolation::InboxTold { .. }))
        );
    }

    #[test]
    fn a_code_in_clear_and_a_wrong_code_confirming_are_reported() {
        let (mut journal, mut db) = sound();
        db.text_cells.push(TextCell {
            table: "bot_audit_log".to_owned(),
            column: "detail".to_owned(),
            text: "{\"text\":\"/confirm 123456\"}".to_owned(),
        });
        journal.push(send(4, "u1", "/confirm 654321"));
        journal.push(answer(4, "u1", "Done: you paid @u2 $0.10."));
        let (violations, _) = check_chat(&journal, &db);
        assert!(violations.contains(&ChatViolation::CodeInClear {
            table: "bot_audit_log".to_owned(),
            column: "detail".to_owned()
        }));
        assert!(violations.contains(&ChatViolation::WrongCodeConfirmed { msg: 4 }));
    }

    #[test]
    fn a_code_given_twice_to_one_payer_names_its_latest_payment() {
        let (mut journal, mut db) = sound();
        journal.push(send(5, "u1", "/pay @u2 0.20 for tt2"));
        journal.push(answer(
            5,
            "u1",
            "To pay @u2 $0.20, send me: /confirm 123456\nChanged your mind? /cancel PDEF",
        ));
        journal.push(send(6, "u1", "/confirm 123456"));
        journal.push(answer(6, "u1", "Done: you paid @u2 $0.20 for “tt2”."));
        let transfer_id = payment_asked("u1", "e5").unwrap();
        db.payments.push(DbPayment {
            reference: "PDEF".to_owned(),
            transfer_id,
            memo: Some("tt2".to_owned()),
            ..db.payments[0].clone()
        });
        let (violations, tally) = check_chat(&journal, &db);
        assert!(violations.contains(&ChatViolation::ConfirmedNotPostedOnce {
            reference: "PDEF".to_owned(),
            times: 0
        }));
        assert!(!violations.iter().any(|v| matches!(v,
            ChatViolation::PostedUnconfirmed { reference, .. } if reference == "PABC")));
        assert_eq!(tally.seen_paid, 2);
    }

    #[test]
    fn texts_are_parsed_as_the_bot_writes_them() {
        assert_eq!(code_in("send me: /confirm 012345\nThe"), Some("012345"));
        assert_eq!(code_in("send me: /confirm (the code I sent you)"), None);
        assert_eq!(code_in("/confirm 1234567"), None);
        assert_eq!(
            word_after("Cancelled payment P7K2 ($1).", "Cancelled payment "),
            Some("P7K2")
        );
        assert_eq!(tags_in("for “tt12”. tt tt3x"), vec!["tt12"]);
    }
}
