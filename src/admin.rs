//! `paybot admin`: the operator's commands on the configured database
//! (tiers, a user's report, the audit log, holds for review), and the
//! check `paybot verify` makes of holds.
//!
//! The one decision to know: these commands build the bot with no platform
//! and nothing of development ([`crate::app::operator_bot`]), call the same
//! core methods the HTTP API's operator routes call, and record the
//! operator by the name they give (`--by`, else the login name) as
//! `operator:NAME` in the audit log. Messages to users go through the
//! outbox, which the running server delivers.

pub mod query;

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, bail};
use bot::Bot;
use bot::command::ShortRef;
use bot::trust::holds::{HOLDS_LISTED_MAX, HoldDecision, HoldOutcome, HoldView};
use bot::trust::operator::{ActorName, OperatorReason, UserReport, UserTarget};
use bot::trust::{AUDIT_PAGE_MAX, Actor, AuditFilter, AuditKind, AuditRecord, Tier};
use clap::{Args, Subcommand};

use crate::database::{self, Open};
use crate::settings::Settings;
use query::{moment, parse_since};

/// `paybot admin ...`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// A user as the operator names them.
fn target(text: &str) -> Result<UserTarget, String> {
    UserTarget::parse(text).map_err(|e| e.to_string())
}

fn reason(text: &str) -> Result<OperatorReason, String> {
    OperatorReason::parse(text).map_err(|e| e.to_string())
}

fn tier(text: &str) -> Result<Tier, String> {
    text.parse::<u8>()
        .ok()
        .and_then(Tier::new)
        .ok_or_else(|| format!("a tier is 0 to {}", bot::trust::TIER_MAX))
}

fn actor_name(text: &str) -> Result<ActorName, String> {
    ActorName::parse(text).map_err(|e| e.to_string())
}

fn kind(text: &str) -> Result<AuditKind, String> {
    AuditKind::parse(text).ok_or_else(|| {
        let kinds: Vec<&str> = AuditKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("one of {}", kinds.join(", "))
    })
}

fn handle(text: &str) -> Result<bot::message::Handle, String> {
    bot::message::Handle::parse(text).map_err(|e| e.to_string())
}

fn webhook_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| e.to_string())?;
    if matches!(url.scheme(), "http" | "https") {
        Ok(url)
    } else {
        Err("an http or https URL".to_owned())
    }
}

fn hold_id(text: &str) -> Result<ShortRef, String> {
    ShortRef::parse(text).map_err(|e| e.to_string())
}

/// The operator's commands. A user is named `@handle`, `PLATFORM:@handle`
/// or `PLATFORM:ID` (e.g. `telegram:12345`).
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum AdminCommand {
    /// Set a user's verification tier (they are told privately).
    Tier {
        #[arg(value_name = "@HANDLE|PLATFORM:ID", value_parser = target)]
        user: UserTarget,
        #[arg(value_name = "TIER", value_parser = tier)]
        tier: Tier,
        /// Why (1 to 200 characters; kept in the audit log).
        #[arg(long, value_parser = reason)]
        reason: OperatorReason,
        /// Who you are in the audit log (default: your login name, $USER).
        #[arg(long, value_name = "NAME", env = "USER", value_parser = actor_name)]
        by: ActorName,
    },
    /// Show a user: accounts, tier (when and why set), holds, recent audit
    /// entries.
    User {
        #[arg(value_name = "@HANDLE|PLATFORM:ID", value_parser = target)]
        user: UserTarget,
    },
    /// Read the audit log, oldest first.
    Audit {
        /// Only entries about this user.
        #[arg(long, value_name = "@HANDLE|PLATFORM:ID", value_parser = target)]
        user: Option<UserTarget>,
        /// Only entries since: a duration back (30m, 24h, 7d) or a UTC date
        /// (2026-12-03) or date and time (2026-12-03T18:00Z).
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// Only entries of this kind (tier_changed, hold_opened, ...).
        #[arg(long, value_parser = kind)]
        kind: Option<AuditKind>,
        /// JSON lines, one entry per line (the whole log, page by page).
        #[arg(long)]
        json: bool,
    },
    /// List the holds waiting for a decision.
    Holds,
    /// Register a biller (bill pay): a user with HANDLE on every platform
    /// (its wallet), an API token and a webhook signing secret, both
    /// printed once and never again.
    BillerAdd {
        /// What users see it called, e.g. "City Power".
        #[arg(long)]
        name: String,
        /// Its handle on every platform, e.g. @citypower.
        #[arg(long, value_parser = handle)]
        handle: bot::message::Handle,
        /// Where its webhooks are POSTed.
        #[arg(long, value_parser = webhook_url)]
        webhook_url: url::Url,
    },
    /// Approve a held payment or cash-out: the money moves.
    Approve {
        #[arg(value_name = "ID", value_parser = hold_id)]
        id: ShortRef,
        #[arg(long, value_parser = reason)]
        reason: OperatorReason,
        #[arg(long, value_name = "NAME", env = "USER", value_parser = actor_name)]
        by: ActorName,
    },
    /// Reject a held payment or cash-out: the money goes back.
    Reject {
        #[arg(value_name = "ID", value_parser = hold_id)]
        id: ShortRef,
        #[arg(long, value_parser = reason)]
        reason: OperatorReason,
        #[arg(long, value_name = "NAME", env = "USER", value_parser = actor_name)]
        by: ActorName,
    },
}

/// Runs `args` against the configured database, writing to `out`.
pub async fn run(
    settings: &Settings,
    args: &AdminArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let ledger = database::open(&settings.database, Open::MustExist).await?;
    // As `serve` does at start (safe beside a running server): a newer
    // binary's tables exist before its commands use them.
    let migrated = ledger
        .migrate(paybot_store::BOT_MIGRATIONS)
        .await
        .context("cannot migrate the database");
    if let Err(e) = migrated {
        ledger.close().await;
        return Err(e);
    }
    if let AdminCommand::BillerAdd {
        name,
        handle,
        webhook_url,
    } = &args.command
    {
        let store = paybot_store::SqlStore::new(&ledger);
        // Development: the settings name no real platform or key (a
        // production deployment, mixed or not, gets no mock identity).
        let development =
            crate::deployment::Deployment::of(settings).is_ok_and(|d| !d.is_production());
        // The key the server opens the secret with (created on first use,
        // as the server would).
        let sealer =
            crate::app::load_second_factor_key(&settings.trust.second_factor, &bot::otp::OsRandom)
                .map(|key| crate::bills::WebhookSealer::new(&key));
        let registered = match sealer {
            Ok(sealer) => {
                crate::bills::register(
                    &store,
                    &sealer,
                    name,
                    handle,
                    webhook_url,
                    development,
                    ledger.now_ms(),
                )
                .await
            }
            Err(e) => Err(e),
        };
        store.close().await;
        ledger.close().await;
        let registered = registered?;
        writeln!(
            out,
            "biller {} @{} registered; shown once, keep them now:\ntoken: {}\nwebhook secret: {}",
            registered.id,
            handle.as_str(),
            registered.token,
            registered.webhook_secret
        )?;
        return Ok(());
    }
    let ran = match crate::app::operator_bot(settings, &ledger).await {
        Ok((store, bot)) => {
            let ran = command(&bot, &args.command, out).await;
            store.close().await;
            ran
        }
        Err(e) => Err(e),
    };
    ledger.close().await;
    ran
}

async fn command(
    bot: &Arc<Bot>,
    command: &AdminCommand,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match command {
        AdminCommand::Tier {
            user,
            tier,
            reason,
            by,
        } => {
            let actor = Actor::Operator(by.as_str().to_owned());
            let change = bot
                .set_tier(user, *tier, reason, actor)
                .await
                .context("cannot set the tier")?
                .map_err(anyhow::Error::new)?;
            let name = bot
                .trust_config()
                .tier_name(change.to)
                .unwrap_or_else(|| "unnamed".to_owned());
            let told = if change.told {
                "the user is told privately"
            } else {
                "unchanged, the user is not told"
            };
            writeln!(
                out,
                "{user} (user {}): tier {} -> {} ({name}); audit entry #{}; {told}",
                change.user, change.from, change.to, change.audit_id
            )?;
        }
        AdminCommand::User { user } => {
            let report = bot
                .user_report(user)
                .await
                .context("cannot read the user")?
                .map_err(anyhow::Error::new)?;
            write_report(&report, out)?;
        }
        AdminCommand::Audit {
            user,
            since,
            kind,
            json,
        } => {
            let user = match user {
                Some(target) => Some(
                    bot.resolve_target(target)
                        .await
                        .context("cannot read the user")?
                        .map_err(anyhow::Error::new)?
                        .user,
                ),
                None => None,
            };
            let since_ms = since
                .as_deref()
                .map(|text| parse_since(text, bot.now_ms()))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--since: {e}"))?;
            let filter = AuditFilter {
                user,
                since_ms,
                kind: *kind,
                ..AuditFilter::default()
            };
            export_audit(bot, filter, *json, out).await?;
        }
        AdminCommand::BillerAdd { .. } => {
            bail!("biller-add runs on the store, before the operator's bot is built")
        }
        AdminCommand::Holds => {
            let holds = bot
                .holds(HOLDS_LISTED_MAX)
                .await
                .context("cannot list the holds")?;
            write_holds(&holds, out)?;
        }
        AdminCommand::Approve { id, reason, by } => {
            decide(bot, id, HoldDecision::Approve, reason, by, out).await?;
        }
        AdminCommand::Reject { id, reason, by } => {
            decide(bot, id, HoldDecision::Reject, reason, by, out).await?;
        }
    }
    out.flush()?;
    Ok(())
}

async fn decide(
    bot: &Bot,
    id: &ShortRef,
    decision: HoldDecision,
    reason: &OperatorReason,
    by: &ActorName,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let actor = Actor::Operator(by.as_str().to_owned());
    let outcome = bot
        .decide_hold(id, decision, actor, reason.as_str())
        .await
        .context("cannot decide the hold")?;
    match outcome {
        HoldOutcome::Approved => writeln!(out, "hold {id} approved: the money moves")?,
        HoldOutcome::Rejected => writeln!(out, "hold {id} rejected: the money went back")?,
        HoldOutcome::NotFound => {
            bail!("no hold {id} is waiting (`paybot admin holds` lists them)")
        }
        HoldOutcome::AlreadyEnded(state) => bail!("hold {id} is {state} already"),
        HoldOutcome::InvalidReason => bail!(
            "the reason must be 1 to {} characters",
            bot::trust::holds::HOLD_REASON_CHARS_MAX
        ),
    }
    Ok(())
}

/// Every entry `filter` matches, page by page (`after_id`), so any size
/// exports: JSON lines with `json`, else a table.
async fn export_audit(
    bot: &Bot,
    mut filter: AuditFilter,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    filter.limit = AUDIT_PAGE_MAX;
    let mut any = false;
    loop {
        let page = bot
            .audit_log(&filter)
            .await
            .context("cannot read the audit log")?;
        for record in &page {
            if json {
                writeln!(out, "{}", record.to_json())?;
            } else {
                if !any {
                    writeln!(
                        out,
                        "{:>7}  {:<20}  {:<22}  {:<24}  {:>6}  subject / details",
                        "id", "at (UTC)", "kind", "actor", "user"
                    )?;
                }
                writeln!(out, "{}", audit_line(record))?;
            }
            any = true;
        }
        let full = u32::try_from(page.len()).is_ok_and(|n| n >= filter.limit);
        match page.last() {
            Some(last) if full => filter.after_id = Some(last.id),
            _ => break,
        }
    }
    if !any && !json {
        writeln!(out, "no audit entries match")?;
    }
    Ok(())
}

/// One entry as a table row.
fn audit_line(record: &AuditRecord) -> String {
    let entry = &record.entry;
    let user = entry.user.map(|u| u.to_string()).unwrap_or_default();
    let subject = entry.subject.as_deref().unwrap_or("-");
    format!(
        "{:>7}  {:<20}  {:<22}  {:<24}  {:>6}  {subject} {}",
        record.id,
        moment(entry.at_ms),
        entry.kind.as_str(),
        entry.actor.to_text(),
        user,
        serde_json::Value::Object(entry.details.clone())
    )
}

fn write_holds(holds: &[HoldView], out: &mut impl Write) -> std::io::Result<()> {
    if holds.is_empty() {
        return writeln!(out, "no holds waiting");
    }
    for hold in holds {
        writeln!(
            out,
            "{}  {:<8}  user {:>6}  {:>14}  opened {}  voided {} unless decided  {}",
            hold.id,
            hold.kind.as_str(),
            hold.user.0,
            hold.amount
                .map_or_else(|| "-".to_owned(), |a| a.to_string()),
            moment(hold.opened_at_ms),
            moment(hold.due_at_ms),
            hold.reason
        )?;
    }
    Ok(())
}

fn write_report(report: &UserReport, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "user {}", report.user)?;
    for identity in &report.identities {
        let handle = identity
            .handle
            .as_ref()
            .map(|h| format!(" {h}"))
            .unwrap_or_default();
        writeln!(
            out,
            "  account {}:{}{} \"{}\", last seen {}",
            identity.platform,
            identity.id,
            handle,
            identity.display_name,
            moment(identity.last_seen_ms)
        )?;
    }
    let name = report.tier_name.as_deref().unwrap_or("unnamed");
    match &report.tier_set {
        Some(set) => writeln!(
            out,
            "tier: {} ({name}), set {} by {}: {}",
            report.tier,
            moment(set.set_at_ms),
            set.actor,
            set.reason
        )?,
        None => writeln!(
            out,
            "tier: {} ({name}), the default: never set",
            report.tier
        )?,
    }
    if let Some(legal_name) = &report.legal_name {
        writeln!(out, "legal name (from verification): {legal_name}")?;
    }
    if report.limits.is_empty() {
        writeln!(out, "limits: none in use (no wallet currency yet)")?;
    } else {
        writeln!(out, "limits (left of limit; frees up):")?;
        for line in &report.limits {
            let money = |minor: i64| ledger::format_minor(minor, line.currency);
            let frees = line.frees_at_ms.map_or_else(|| "-".to_owned(), moment);
            writeln!(
                out,
                "  {:<14} {} left of {} ({} used); frees {frees}",
                line.kind.name(),
                money(line.left),
                money(line.limit),
                money(line.used)
            )?;
        }
    }
    if report.holds.is_empty() {
        writeln!(out, "holds: none")?;
    } else {
        writeln!(out, "holds:")?;
        write_holds(&report.holds, out)?;
    }
    if report.recent_audit.is_empty() {
        writeln!(out, "recent audit entries: none")?;
    } else {
        writeln!(out, "recent audit entries (newest first):")?;
        for record in &report.recent_audit {
            writeln!(out, "{}", audit_line(record))?;
        }
    }
    Ok(())
}

/// What [`verify_holds`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldsVerdict {
    Sound,
    Violated,
}

/// `paybot verify`'s check that every held transfer has its audit record:
/// a `hold_opened` entry whose subject is the hold's id. Prints one line
/// per hold without one; nothing when there are no holds.
pub async fn verify_holds(
    settings: &Settings,
    out: &mut impl Write,
) -> anyhow::Result<HoldsVerdict> {
    let ledger = database::open(&settings.database, Open::MustExist).await?;
    let checked = match crate::app::operator_bot(settings, &ledger).await {
        Ok((store, bot)) => {
            let checked = holds_audited(&bot, out).await;
            store.close().await;
            checked
        }
        Err(e) => Err(e),
    };
    ledger.close().await;
    checked
}

/// The check itself, on a built bot.
pub async fn holds_audited(bot: &Bot, out: &mut impl Write) -> anyhow::Result<HoldsVerdict> {
    let holds = bot
        .holds(HOLDS_LISTED_MAX)
        .await
        .context("cannot list the holds")?;
    let mut missing = 0_usize;
    for hold in &holds {
        let filter = AuditFilter {
            user: Some(hold.user),
            kind: Some(AuditKind::HoldOpened),
            subject: Some(hold.id.as_str().to_owned()),
            limit: 1,
            ..AuditFilter::default()
        };
        let found = bot
            .audit_log(&filter)
            .await
            .context("cannot read the audit log")?;
        if found.is_empty() {
            missing += 1;
            writeln!(
                out,
                "hold {} (user {}, {}): no hold_opened entry in the audit log",
                hold.id,
                hold.user,
                hold.amount
                    .map_or_else(|| "-".to_owned(), |a| a.to_string())
            )?;
        }
    }
    if holds.is_empty() {
        return Ok(HoldsVerdict::Sound);
    }
    if missing == 0 {
        writeln!(
            out,
            "holds verified: {} waiting, each with its audit record",
            holds.len()
        )?;
        return Ok(HoldsVerdict::Sound);
    }
    out.flush()?;
    Ok(HoldsVerdict::Violated)
}
