//! `paybot torture --standing`: the crash test of standing orders. Mock
//! users set up daily standing orders through `paybot serve`'s mock chat
//! HTTP API (each confirmed with the code from its DM); the orders' first
//! run comes due on the servers' own clock; and while the runs are being
//! made the servers are killed with SIGKILL at random and started again.
//! With `--servers 2` two `paybot serve` processes run the same orders on
//! the one database all along. At the end [`check_standing`] wants every
//! due run posted exactly once, nothing else posted, payer and payee told,
//! and `verify` clean.
//!
//! The one design decision to know: **nothing fakes the time**. The run
//! starts its servers with `scheduled.run_at` (a plain setting, minutes
//! only) set to the first whole minute at least [`SETUP_SECS_MIN`] ahead of
//! the wall clock, in UTC; the orders are set up before it (none is killed
//! then), so their first run is that minute, and the chaos happens around
//! it. A run therefore waits for that minute: up to a minute more than the
//! setup needs.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tracing::{info, warn};

use super::chat::{ChatClient, SERVER_ENV, Sent, paybot_verify};
use super::chat_check::{code_in, word_after};
use super::standing_check::{
    StandingEntry, StandingTally, StandingViolation, check_standing, read_standing_journal,
};
use super::workload::JournalWriter;
use super::{TortureArgs, chat_db, cluster};

/// How far ahead of the wall clock the orders' run time is at least, in
/// seconds: the servers' start and the setup fit in it.
pub(super) const SETUP_SECS_MIN: i64 = 20;
/// Standing orders each user sets up (at most the codes one payer may
/// have waiting, and set up one after the other).
pub const ORDERS_PER_USER: u32 = 3;
/// Most `paybot serve` processes on the one database.
pub const SERVERS_MAX: u32 = 4;
/// How long before the run time the first kill may come, in milliseconds.
const CHAOS_LEAD_MS: u64 = 500;
/// The largest order, in cents.
const ORDER_CENTS_MAX: i64 = 50;
/// How long the runs and their notices may take after the last restart, in
/// seconds.
const SETTLE_WAIT_SECS_MAX: u64 = 120;
/// The memo tag of each order: `so` and its number.
const TAG_PREFIX: &str = "so";

/// What one `--standing` run counted, besides the checker's tally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StandingCounts {
    pub servers: u32,
    /// The run time, `YYYY-MM-DD HH:MM UTC`.
    pub run_at: String,
    pub messages: u64,
    pub gave_up: u64,
    pub crashes: u32,
    /// Seconds from the run time until every due order had moved on and
    /// the outbox was drained; `None`: not within the wait.
    pub settled_secs: Option<u64>,
}

/// The first whole minute at least [`SETUP_SECS_MIN`] after `now_secs`
/// (Unix seconds): its Unix second, `HH:MM` and `YYYY-MM-DD HH:MM UTC`.
fn plan_run_time(now_secs: i64) -> anyhow::Result<(i64, String, String)> {
    let earliest = now_secs.saturating_add(SETUP_SECS_MIN);
    let minute = earliest.div_euclid(60).saturating_add(1).saturating_mul(60);
    let at = jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::from_second(minute).context("the run time is out of range")?);
    Ok((
        minute,
        format!("{:02}:{:02}", at.hour(), at.minute()),
        format!("{} {:02}:{:02} UTC", at.date(), at.hour(), at.minute()),
    ))
}

/// One order to set up: payee, amount in cents, memo tag.
struct Planned {
    payee: String,
    cents: i64,
    tag: String,
}

/// A payer and the orders they set up.
type Share = Vec<(String, Vec<Planned>)>;

/// The servers' chat clients; message `n` goes to server `n % len`, so a
/// `/pay` and its `/confirm` may reach different processes.
#[derive(Clone)]
struct Clients {
    clients: Vec<ChatClient>,
    journal: Arc<JournalWriter>,
    next_msg: Arc<AtomicU64>,
    gave_up: Arc<AtomicU64>,
}

impl Clients {
    /// Sends `text` as `from` in its DM until answered; the texts to
    /// `from`, or `None` when it gave up.
    async fn say(&self, from: &str, text: &str) -> Option<Vec<String>> {
        let msg = self.next_msg.fetch_add(1, Ordering::Relaxed);
        let index = usize::try_from(msg).unwrap_or(0) % self.clients.len().max(1);
        let client = self.clients.get(index)?;
        let body = json!({ "from": from, "chat": "dm", "text": text, "id": format!("st{msg}") });
        match client.send(from, &body).await {
            Sent::Answered { deliveries, .. } => Some(
                deliveries
                    .into_iter()
                    .filter(|d| d.to == from)
                    .map(|d| d.text)
                    .collect(),
            ),
            Sent::GaveUp { .. } => {
                self.gave_up.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    fn journal(&self, entry: &StandingEntry) -> anyhow::Result<()> {
        self.journal
            .write_raw(&serde_json::to_vec(entry).context("cannot encode a journal entry")?)
    }

    /// One user's `/start` and orders, one after the other.
    async fn set_up(self, users: Share, first_run: String) -> anyhow::Result<()> {
        for (payer, orders) in users {
            for Planned { payee, cents, tag } in orders {
                self.journal(&StandingEntry::Asked {
                    tag: tag.clone(),
                    payer: payer.clone(),
                    payee: payee.clone(),
                    cents,
                })?;
                let text = format!(
                    "/pay @{payee} {}.{:02} every day for {tag}",
                    cents / 100,
                    cents % 100
                );
                let asked = self.say(&payer, &text).await.unwrap_or_default();
                let reference = asked
                    .iter()
                    .find_map(|t| word_after(t, "/scheduled cancel ").map(str::to_owned));
                let code = asked.iter().find_map(|t| code_in(t).map(str::to_owned));
                let (mut set, mut due) = (false, false);
                if let Some(code) = code {
                    let answer = self
                        .say(&payer, &format!("/confirm {code}"))
                        .await
                        .unwrap_or_default();
                    set = answer.iter().any(|t| t.contains(" is set"));
                    due = answer
                        .iter()
                        .any(|t| t.contains("First payment: ") && t.contains(&first_run));
                }
                self.journal(&StandingEntry::Order {
                    tag,
                    reference,
                    set,
                    due,
                })?;
            }
        }
        Ok(())
    }
}

/// Runs the standing-order crash test on `database`; the counts, the
/// checker's tally and the violations.
pub(super) async fn run_on(
    args: &TortureArgs,
    seed: u64,
    folder: &Path,
    journal_path: &Path,
    database: &cluster::Database,
) -> anyhow::Result<(StandingCounts, StandingTally, Vec<StandingViolation>)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let now_secs = jiff::Timestamp::now().as_second();
    let (run_secs, run_at, first_run) = plan_run_time(now_secs)?;
    let run_instant = Instant::now()
        + Duration::from_secs(u64::try_from(run_secs.saturating_sub(now_secs)).unwrap_or(0));
    info!(%first_run, "the orders' first run");

    let token = super::random_token();
    let mut servers = Vec::new();
    for i in 0..args.servers {
        let own = if i == 0 {
            folder.to_owned()
        } else {
            let own = folder.join(format!("server{}", i + 1));
            std::fs::create_dir_all(&own)
                .with_context(|| format!("cannot create {}", own.display()))?;
            own
        };
        let mut server = cluster::Server::new(&own, database.url(), &token)?;
        server.set_workdir(folder);
        for (name, value) in SERVER_ENV {
            server.set_env(name, value);
        }
        let pepper = folder.join("otp_pepper");
        server.set_env("PAYBOT_OTP__PEPPER_FILE", &pepper.display().to_string());
        server.set_env("PAYBOT_SCHEDULED__RUN_AT", &run_at);
        server.set_env("PAYBOT_SCHEDULED__DEFAULT_TIME_ZONE", "UTC");
        server.set_env("PAYBOT_BOT__SWEEP_INTERVAL_MS", "200");
        // One after the other: the first migrates the fresh database.
        server.start().await?;
        servers.push(server);
    }

    let journal = Arc::new(JournalWriter::create(journal_path)?);
    let clients = Clients {
        clients: servers
            .iter()
            .map(|s| ChatClient::new(s.address()))
            .collect::<anyhow::Result<_>>()?,
        journal: Arc::clone(&journal),
        next_msg: Arc::new(AtomicU64::new(0)),
        gave_up: Arc::new(AtomicU64::new(0)),
    };

    // Each user pays others; the workers share the users out.
    let users: Vec<String> = (0..args.users).map(|u| format!("u{u}")).collect();
    let mut shares: Vec<Share> = (0..args.workers).map(|_| Vec::new()).collect();
    let mut tag = 0u64;
    for (u, payer) in users.iter().enumerate() {
        let mut orders = Vec::new();
        for _ in 0..ORDERS_PER_USER {
            let payee = loop {
                let other = rng.random_range(0..users.len());
                if other != u {
                    break users.get(other).cloned().unwrap_or_default();
                }
            };
            tag += 1;
            orders.push(Planned {
                payee,
                cents: rng.random_range(1..=ORDER_CENTS_MAX),
                tag: format!("{TAG_PREFIX}{tag}"),
            });
        }
        let worker = u % shares.len().max(1);
        if let Some(share) = shares.get_mut(worker) {
            share.push((payer.clone(), orders));
        }
    }
    // Every user starts paybot first, so every payee is known.
    for user in &users {
        clients.say(user, "/start").await;
    }
    let mut setup = tokio::task::JoinSet::new();
    for share in shares {
        setup.spawn(clients.clone().set_up(share, first_run.clone()));
    }
    while let Some(joined) = setup.join_next().await {
        joined.context("a setup worker panicked")??;
    }
    if Instant::now() >= run_instant {
        warn!("the setup ended after the run time: the late orders' first run is tomorrow");
    }
    info!(users = users.len(), "standing orders set up");

    // The chaos: kills around the run time, each of one server or of all.
    let window_ms = args.duration_secs.saturating_mul(1_000);
    let mut events: Vec<u64> = (0..args.crashes)
        .map(|_| rng.random_range(0..window_ms.saturating_add(CHAOS_LEAD_MS).max(1)))
        .collect();
    events.sort_unstable();
    let mut crashes = 0u32;
    let lead = run_instant
        .checked_sub(Duration::from_millis(CHAOS_LEAD_MS))
        .unwrap_or(run_instant);
    for at in events {
        tokio::time::sleep_until((lead + Duration::from_millis(at)).into()).await;
        let all = servers.len() == 1 || rng.random_bool(1.0 / 3.0);
        let one = rng.random_range(0..servers.len().max(1));
        for (i, server) in servers.iter_mut().enumerate() {
            if all || i == one {
                server.kill().await;
                crashes += 1;
            }
        }
        info!(crashes, all, "server(s) killed with SIGKILL");
        for (i, server) in servers.iter_mut().enumerate() {
            if all || i == one {
                server.start().await?;
            }
        }
    }
    tokio::time::sleep_until(run_instant.into()).await;

    // The runs and their notices settle after the last restart.
    let entries = read_standing_journal(journal_path)?;
    let due = entries
        .iter()
        .filter(|e| matches!(e, StandingEntry::Order { due: true, .. }))
        .count();
    let due = i64::try_from(due).unwrap_or(i64::MAX);
    let mut settled_secs = None;
    let settle_started = Instant::now();
    while settle_started.elapsed() < Duration::from_secs(SETTLE_WAIT_SECS_MAX) {
        let moved = chat_db::standing_moved_on(database).await;
        let undelivered = chat_db::undelivered(database).await;
        match (moved, undelivered) {
            (Ok(moved), Ok(0)) if moved >= due => {
                settled_secs = Some(run_instant.elapsed().as_secs());
                break;
            }
            (Err(e), _) | (_, Err(e)) => warn!(error = %e, "cannot read the orders' progress"),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(cluster::POLL_INTERVAL_MS)).await;
    }
    for server in &mut servers {
        server.kill().await;
    }

    let snapshot = chat_db::standing_snapshot(database).await?;
    let (mut violations, tally) = check_standing(&entries, &snapshot);
    violations.extend(
        database
            .ledger_verify()
            .await?
            .into_iter()
            .map(|v| StandingViolation::Verify(v.to_string())),
    );
    if let Some(server) = servers.first() {
        violations.extend(
            paybot_verify(server.exe(), folder, database.url())
                .await?
                .into_iter()
                .map(|v| StandingViolation::Verify(v.to_string())),
        );
    }
    let counts = StandingCounts {
        servers: args.servers,
        run_at: first_run,
        messages: clients.next_msg.load(Ordering::Relaxed),
        gave_up: clients.gave_up.load(Ordering::Relaxed),
        crashes,
        settled_secs,
    };
    Ok((counts, tally, violations))
}

/// The report: one `name: value` per line, then the violations.
pub fn print_standing_report(
    out: &mut impl Write,
    counts: &StandingCounts,
    tally: &StandingTally,
    violations: &[StandingViolation],
) -> std::io::Result<()> {
    writeln!(out, "servers: {}", counts.servers)?;
    writeln!(out, "run time: {}", counts.run_at)?;
    writeln!(out, "messages: {}", counts.messages)?;
    writeln!(out, "gave up: {}", counts.gave_up)?;
    writeln!(out, "orders set up: {}", tally.orders_set)?;
    writeln!(out, "runs due: {}", tally.runs_due)?;
    writeln!(out, "runs posted: {}", tally.runs_posted)?;
    writeln!(out, "crashes: {}", counts.crashes)?;
    match counts.settled_secs {
        Some(secs) => writeln!(out, "settled: yes ({secs} s after the run time)")?,
        None => writeln!(out, "settled: no (within {SETTLE_WAIT_SECS_MAX} s)")?,
    }
    if violations.is_empty() {
        writeln!(out, "violations: none")?;
    } else {
        writeln!(out, "violations: {}", violations.len())?;
        for violation in violations {
            writeln!(out, "  {violation}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_time_is_a_whole_minute_far_enough_ahead() {
        // 2026-12-04 22:30:50 UTC: 20 s on is 22:31:10, so 22:32.
        let now = 1_796_423_450;
        let (at, hh_mm, text) = plan_run_time(now).unwrap();
        assert_eq!(at % 60, 0);
        assert!(at - now >= SETUP_SECS_MIN && at - now < SETUP_SECS_MIN + 60);
        assert_eq!(hh_mm, "22:32");
        assert_eq!(text, "2026-12-04 22:32 UTC");
    }
}
