//! `paybot torture`: the bank test, after Jepsen's. It runs `paybot serve`
//! as a child, sends transfers through its ledger HTTP API from several
//! workers while killing the server with SIGKILL (and, on PostgreSQL,
//! stopping the database server with `-m immediate`), retries every request
//! in flight with the same ids, and at the end checks, against the database
//! itself, that no money was lost, created or applied twice.
//!
//! The one design decision to know: **the journal is the truth of what the
//! client did, and the checker is a pure function of the journal and a
//! database snapshot**. Every request's transfers are written to the journal
//! (and flushed to the kernel) before the first attempt is sent, and its
//! final answer after; the server's own memory plays no part. [`check`]
//! takes the parsed journal and a [`Snapshot`] read with the server stopped,
//! so a unit test can hand it a corrupted history and see each violation
//! reported.
//!
//! Module layout: the arguments and the run (here), the journal and the
//! checker (`check`), the server child and the chaos (`cluster`), the
//! workers (`workload`).

mod chat;
mod chat_check;
mod chat_db;
mod check;
mod cluster;
mod standing;
mod standing_check;
mod workload;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use rand::{Rng, SeedableRng};
use tracing::{info, warn};

pub use chat::{CHAT_USERS_DEFAULT, CHAT_USERS_MAX, ChatCounts, print_chat_report};
pub use chat_check::{ChatEntry, ChatSnapshot, ChatTally, ChatViolation, check_chat};
pub use check::{
    EXPECTED_REFUSALS, Entry, JOURNAL_LINE_BYTES_MAX, Probe, Snapshot, SnapshotAccount,
    SnapshotTransfer, StoredKind, Violation, WireTransfer, check, read_journal,
};
pub use standing::{ORDERS_PER_USER, SERVERS_MAX, print_standing_report};
pub use standing_check::{
    StandingEntry, StandingSnapshot, StandingTally, StandingViolation, check_standing,
};

use crate::settings::Settings;

/// The default command that stops PostgreSQL at once (no checkpoint, as a
/// power cut would), run with `sh -c`.
pub const PG_CRASH_CMD_DEFAULT: &str =
    "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main stop -m immediate";
/// The default command that starts PostgreSQL again, run with `sh -c`.
pub const PG_START_CMD_DEFAULT: &str =
    "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";
/// The default PostgreSQL server the run makes its own database on.
pub const PG_URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432";
/// The longest run, in seconds (a day).
pub const DURATION_SECS_MAX: u64 = 86_400;
/// Most SIGKILLs of the server in one run.
pub const CRASHES_MAX: u32 = 1_000;
/// Most concurrent workers.
pub const WORKERS_MAX: u32 = 256;
/// Exit status when the checker found a violation.
const EXIT_VIOLATIONS: u8 = 1;

/// Which database the server under test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// A SQLite file in the run's temporary folder.
    Sqlite,
    /// A fresh database on the PostgreSQL server at `--pg-url`, dropped at
    /// the end.
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// `paybot torture ...`
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct TortureArgs {
    /// The database backend of the server under test.
    #[arg(long, value_enum)]
    pub backend: Backend,
    /// How long the workers send transfers, in seconds.
    #[arg(long = "duration", value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=DURATION_SECS_MAX))]
    pub duration_secs: u64,
    /// How many times the server is killed with SIGKILL and restarted.
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(CRASHES_MAX)))]
    pub crashes: u32,
    /// How many workers send transfers at once.
    #[arg(long, value_name = "W", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(WORKERS_MAX)))]
    pub workers: u32,
    /// The seed of the workload and of the crash times (default: random;
    /// printed, so a run can be repeated).
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Where to write the journal (default: in the run's temporary folder,
    /// removed after a clean run).
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// PostgreSQL only: the server to make the run's database on, without a
    /// database name.
    #[arg(long, value_name = "URL", default_value = PG_URL_DEFAULT)]
    pub pg_url: String,
    /// PostgreSQL only: how many times the database server is stopped with
    /// `--pg-crash-cmd` and started again with `--pg-start-cmd`.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(CRASHES_MAX)))]
    pub pg_crashes: u32,
    /// PostgreSQL only: the shell command that stops the database server.
    #[arg(long, value_name = "CMD", default_value = PG_CRASH_CMD_DEFAULT)]
    pub pg_crash_cmd: String,
    /// PostgreSQL only: the shell command that starts it again.
    #[arg(long, value_name = "CMD", default_value = PG_START_CMD_DEFAULT)]
    pub pg_start_cmd: String,
    /// Test the chat path instead of the ledger API: mock users pay each
    /// other through the server's mock chat (`/pay`, `/confirm`, `/cancel`,
    /// wrong codes, `/request`, `/split`, escrow) while it is killed.
    #[arg(long)]
    pub chat: bool,
    /// Test standing orders instead: mock users set up daily orders
    /// through the mock chat, their first run comes due (`scheduled.run_at`
    /// set to a minute just ahead), and the servers are killed while the
    /// runs are made (`--duration`: how long after the run time the kills
    /// may come; `--workers`: who set the orders up at once).
    #[arg(long, conflicts_with = "chat")]
    pub standing: bool,
    /// `--standing` only: how many `paybot serve` processes run the orders
    /// at once on the one database.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(standing::SERVERS_MAX)))]
    pub servers: u32,
    /// `--chat` only: how many mock users (at least 3 per worker).
    #[arg(long, value_name = "N", default_value_t = CHAT_USERS_DEFAULT,
          value_parser = clap::value_parser!(u32).range(3..=i64::from(CHAT_USERS_MAX)))]
    pub users: u32,
}

/// What a run counted, besides the violations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests sent (each one transfer or a linked group).
    pub requests: u64,
    /// Requests answered `created` or `exists` (a retry's `exists` counts).
    pub acknowledged: u64,
    /// Of those, answered `exists` (a retry of one committed before a crash).
    pub acknowledged_exists: u64,
    /// Requests the ledger refused (insufficient funds, expired, ...).
    pub refused: u64,
    /// Requests given up on with no answer.
    pub unknown: u64,
    /// Attempts beyond each request's first.
    pub retried: u64,
    /// Acknowledged requests sent again on purpose (answer: `exists`).
    pub duplicates_probed: u64,
    /// Acknowledged ids sent again with another amount (answer: conflict).
    pub conflicts_probed: u64,
    /// SIGKILLs of the server.
    pub crashes: u32,
    /// Immediate stops and restarts of PostgreSQL.
    pub pg_restarts: u32,
    /// Transfers in the database at the end.
    pub transfers_in_db: u64,
    /// Of those, expiries the server's sweeper wrote.
    pub expired_in_db: u64,
}

/// Runs the bank test; exit 0 when no violation was found, 1 otherwise.
/// The server's settings are made here (a fresh database, a random API
/// token, no chat adapters), not taken from `_settings`.
pub async fn run(_settings: &Settings, args: &TortureArgs) -> anyhow::Result<ExitCode> {
    let seed = args.seed.unwrap_or_else(|| rand::rng().random());
    let folder = RunFolder::create()?;
    let journal_path = args
        .journal
        .clone()
        .unwrap_or_else(|| folder.path.join("journal.jsonl"));
    let mut stdout = std::io::stdout();
    if args.standing {
        writeln!(
            stdout,
            "paybot torture --standing: backend {}, {} servers, {} users, {} crashes within {} s \
             of the run time, seed {seed}",
            args.backend.name(),
            args.servers,
            args.users,
            args.crashes,
            args.duration_secs
        )?;
    } else if args.chat {
        writeln!(
            stdout,
            "paybot torture --chat: backend {}, {} s, {} workers, {} users, {} crashes, seed {seed}",
            args.backend.name(),
            args.duration_secs,
            args.workers,
            args.users,
            args.crashes
        )?;
    } else {
        writeln!(
            stdout,
            "paybot torture: backend {}, {} s, {} workers, {} crashes, seed {seed}",
            args.backend.name(),
            args.duration_secs,
            args.workers,
            args.crashes
        )?;
    }
    writeln!(stdout, "folder: {}", folder.path.display())?;
    writeln!(stdout, "journal: {}", journal_path.display())?;

    let database = match args.backend {
        Backend::Sqlite => cluster::Database::sqlite(&folder.path),
        Backend::Postgres => cluster::Database::postgres(&args.pg_url).await?,
    };
    let clean = if args.standing {
        let started = Instant::now();
        let outcome = standing::run_on(args, seed, &folder.path, &journal_path, &database).await;
        database.drop_if_postgres().await;
        let (counts, tally, violations) = outcome?;
        print_standing_report(&mut stdout, &counts, &tally, &violations)?;
        writeln!(stdout, "took: {} s", started.elapsed().as_secs())?;
        violations.is_empty()
    } else if args.chat {
        let started = Instant::now();
        let outcome = chat::run_on(args, seed, &folder.path, &journal_path, &database).await;
        database.drop_if_postgres().await;
        let (counts, tally, violations) = outcome?;
        print_chat_report(&mut stdout, &counts, &tally, &violations)?;
        writeln!(stdout, "took: {} s", started.elapsed().as_secs())?;
        violations.is_empty()
    } else {
        let outcome = run_on(args, seed, &folder.path, &journal_path, &database).await;
        database.drop_if_postgres().await;
        let (counts, violations) = outcome?;
        print_report(&mut stdout, &counts, &violations)?;
        violations.is_empty()
    };
    if clean {
        if args.journal.is_none() {
            folder.remove();
        }
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(
            stdout,
            "kept for inspection: {} (server logs, journal)",
            folder.path.display()
        )?;
        Ok(ExitCode::from(EXIT_VIOLATIONS))
    }
}

async fn run_on(
    args: &TortureArgs,
    seed: u64,
    folder: &Path,
    journal_path: &Path,
    database: &cluster::Database,
) -> anyhow::Result<(Counts, Vec<Violation>)> {
    let token = random_token();
    let pg = (args.backend == Backend::Postgres).then(|| cluster::PgControl {
        crash_cmd: args.pg_crash_cmd.clone(),
        start_cmd: args.pg_start_cmd.clone(),
        admin_url: args.pg_url.clone(),
    });
    let mut server = cluster::Server::new(folder, database.url(), &token)?;
    server.start().await?;

    let journal = Arc::new(workload::JournalWriter::create(journal_path)?);
    let client = workload::Client::new(server.address(), &token)?;
    let stats = Arc::new(workload::Stats::default());
    let setup = workload::setup(&client, &journal, &stats).await?;
    info!(accounts = setup.accounts(), "wallets opened and funded");

    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let duration = Duration::from_secs(args.duration_secs);
    let schedule = cluster::schedule(
        &mut rng,
        duration,
        args.crashes,
        if pg.is_some() { args.pg_crashes } else { 0 },
    );
    let started = Instant::now();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..args.workers {
        let worker_seed = seed ^ u64::from(worker).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        workers.spawn(workload::worker(
            worker_seed,
            client.clone(),
            Arc::clone(&journal),
            setup.clone(),
            Arc::clone(&stats),
            Arc::clone(&stop),
        ));
    }

    let chaos = cluster::chaos(&mut server, pg.as_ref(), &schedule, started).await;
    let remaining = duration.saturating_sub(started.elapsed());
    if chaos.is_ok() {
        tokio::time::sleep(remaining).await;
    }
    stop.store(true, Ordering::Relaxed);
    while let Some(joined) = workers.join_next().await {
        joined
            .context("a worker panicked")?
            .context("a worker failed")?;
    }
    server.kill().await;
    let chaos = chaos?;
    if let Some(pg) = &pg {
        // Whatever happened, leave PostgreSQL running.
        pg.ensure_up().await;
    }

    let entries = read_journal(journal_path)?;
    let snapshot = database.snapshot().await?;
    let mut violations = check(&entries, &snapshot);
    violations.extend(
        database
            .ledger_verify()
            .await?
            .into_iter()
            .map(|v| Violation::Ledger(v.to_string())),
    );
    let counts = Counts {
        requests: stats.requests.load(Ordering::Relaxed),
        acknowledged: stats.acknowledged.load(Ordering::Relaxed),
        acknowledged_exists: stats.acknowledged_exists.load(Ordering::Relaxed),
        refused: stats.refused.load(Ordering::Relaxed),
        unknown: stats.unknown.load(Ordering::Relaxed),
        retried: stats.retried.load(Ordering::Relaxed),
        duplicates_probed: stats.duplicates.load(Ordering::Relaxed),
        conflicts_probed: stats.conflicts.load(Ordering::Relaxed),
        crashes: chaos.crashes,
        pg_restarts: chaos.pg_restarts,
        transfers_in_db: u64::try_from(snapshot.transfers.len()).unwrap_or(u64::MAX),
        expired_in_db: u64::try_from(
            snapshot
                .transfers
                .iter()
                .filter(|t| t.kind == StoredKind::Expire)
                .count(),
        )
        .unwrap_or(u64::MAX),
    };
    Ok((counts, violations))
}

/// The report: one `name: value` per line, then the violations.
pub fn print_report(
    out: &mut impl Write,
    counts: &Counts,
    violations: &[Violation],
) -> std::io::Result<()> {
    writeln!(out, "requests: {}", counts.requests)?;
    writeln!(
        out,
        "acknowledged: {} (of which answered exists: {})",
        counts.acknowledged, counts.acknowledged_exists
    )?;
    writeln!(out, "refused: {}", counts.refused)?;
    writeln!(out, "unknown: {}", counts.unknown)?;
    writeln!(out, "retried: {}", counts.retried)?;
    writeln!(out, "duplicates probed: {}", counts.duplicates_probed)?;
    writeln!(out, "conflicts probed: {}", counts.conflicts_probed)?;
    writeln!(out, "crashes: {}", counts.crashes)?;
    writeln!(out, "pg restarts: {}", counts.pg_restarts)?;
    writeln!(
        out,
        "transfers in db: {} (of which expiries: {})",
        counts.transfers_in_db, counts.expired_in_db
    )?;
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

/// A random API token for the child: 64 hex digits behind a letter prefix
/// (an all-digit value would reach the settings as a number).
fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("torture-{hex}")
}

/// The run's folder: the server's working directory, its log and database.
#[derive(Debug)]
struct RunFolder {
    path: PathBuf,
}

impl RunFolder {
    fn create() -> anyhow::Result<RunFolder> {
        let suffix: u64 = rand::rng().random();
        let path = std::env::temp_dir().join(format!("paybot-torture-{suffix:016x}"));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(RunFolder { path })
    }

    fn remove(self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            warn!(folder = %self.path.display(), error = %e, "cannot remove the run folder");
        }
    }
}
