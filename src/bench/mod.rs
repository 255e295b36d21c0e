//! `paybot bench`: throughput and latency of the ledger (`bench ledger`) and
//! of whole chat payments (`bench chat`), printed as figures, never asserted
//! in tests.
//!
//! The one design decision to know: **a benchmark runs on a scratch database
//! it creates and drops, with durable commits, and ends with the ledger's
//! invariant check**. Speed bought by losing money or durability is not
//! speed: the run says how commits are made durable (SQLite
//! `synchronous=FULL`, PostgreSQL `synchronous_commit` and `fsync`), and
//! exits 1 when the ledger is not sound afterwards, whatever the figures.

pub mod chat;
pub mod ledger;

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::settings::Settings;

pub use self::chat::ChatArgs;
pub use self::ledger::LedgerArgs;

/// The PostgreSQL server benchmarks make their scratch database on.
pub const POSTGRES_URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432";
/// Most concurrent submitters (or chat users paying at once).
pub const CONCURRENCY_MAX: u32 = 4_096;
/// Longest `--duration`, in seconds.
pub const DURATION_SECS_MAX: u64 = 24 * 60 * 60;
/// How often the progress bar is redrawn, in milliseconds.
pub const PROGRESS_TICK_MS: u64 = 200;
/// Exit status when the ledger is not sound after the run.
pub const EXIT_VIOLATIONS: u8 = 1;

/// `paybot bench ...`
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchCommand,
}

/// What to measure.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum BenchCommand {
    /// Transfers through the ledger's group-commit path.
    Ledger(LedgerArgs),
    /// Whole chat payments (`/pay` then `/confirm`) through the mock chat.
    Chat(ChatArgs),
}

/// Which database to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// A SQLite file in a temporary folder (WAL, synchronous=FULL).
    Sqlite,
    /// A scratch database on the PostgreSQL server `--url` names.
    Postgres,
}

impl Backend {
    /// As typed on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Settings every benchmark shares.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct Target {
    /// The database to measure.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    pub backend: Backend,
    /// The PostgreSQL server (`--backend postgres`): a scratch database is
    /// created on it and dropped at the end.
    #[arg(long, value_name = "URL", default_value = POSTGRES_URL_DEFAULT)]
    pub url: String,
    /// How many submitters run at once, each with one request in flight.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=i64::from(CONCURRENCY_MAX)))]
    pub concurrency: u32,
    /// Stop after this many seconds (the count given, if any, may stop it
    /// first).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=DURATION_SECS_MAX))]
    pub duration: Option<u64>,
}

impl Target {
    /// When a `--duration` run stops (none without one).
    fn deadline(&self) -> Option<Instant> {
        self.duration
            .map(|secs| Instant::now() + Duration::from_secs(secs))
    }
}

/// Runs the benchmark `args` names. Exit status 0 when the ledger verified
/// sound afterwards, [`EXIT_VIOLATIONS`] when it did not.
pub async fn run(settings: &Settings, args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let sound = match &args.what {
        BenchCommand::Ledger(args) => ledger::run(args).await?,
        BenchCommand::Chat(args) => chat::run(settings, args).await?,
    };
    Ok(if sound {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VIOLATIONS)
    })
}

/// Prints one line of the report on stdout.
fn say(line: impl AsRef<str>) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (`| head`) must not stop the run or its clean-up.
    let _ = writeln!(out, "{}", line.as_ref());
    let _ = out.flush();
}

/// The report's set-up line: what was done before measuring, and how long
/// it took.
fn say_set_up(done: &str, started: Instant) {
    say(format!(
        "set-up: {done} in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
}

/// A database made for one run, removed by [`Scratch::remove`].
#[derive(Debug)]
struct Scratch {
    url: String,
    kind: ScratchKind,
}

#[derive(Debug)]
enum ScratchKind {
    Sqlite(tempfile::TempDir),
    Postgres { server: String, name: String },
}

impl Scratch {
    async fn create(target: &Target) -> anyhow::Result<Scratch> {
        match target.backend {
            Backend::Sqlite => {
                let dir = tempfile::Builder::new()
                    .prefix("paybot-bench-")
                    .tempdir()
                    .context("cannot make a temporary folder for the SQLite file")?;
                let url = format!("sqlite:{}", dir.path().join("bench.db").display());
                Ok(Scratch {
                    url,
                    kind: ScratchKind::Sqlite(dir),
                })
            }
            Backend::Postgres => {
                // Hex digits only: safe to splice into the SQL below.
                let name = format!(
                    "paybot_bench_{:032x}",
                    ::ledger::TransferId::random().as_u128()
                );
                let mut admin = postgres_admin(&target.url).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .with_context(|| format!("cannot create the scratch database {name}"))?;
                let _ = sqlx::Connection::close(admin).await;
                let mut url = url::Url::parse(&target.url).context("--url")?;
                url.set_path(&format!("/{name}"));
                Ok(Scratch {
                    url: url.to_string(),
                    kind: ScratchKind::Postgres {
                        server: target.url.clone(),
                        name,
                    },
                })
            }
        }
    }

    /// Where the scratch database is, without any password.
    fn shown(&self) -> String {
        match &self.kind {
            ScratchKind::Sqlite(dir) => dir.path().join("bench.db").display().to_string(),
            ScratchKind::Postgres { server, name } => match url::Url::parse(server) {
                Ok(mut url) => {
                    let _ = url.set_password(None);
                    url.set_path(&format!("/{name}"));
                    url.to_string()
                }
                Err(_) => name.clone(),
            },
        }
    }

    async fn remove(self) {
        match self.kind {
            ScratchKind::Sqlite(dir) => {
                if let Err(e) = dir.close() {
                    tracing::warn!(error = %e, "cannot remove the scratch SQLite folder");
                }
            }
            ScratchKind::Postgres { server, name } => {
                let dropped = async {
                    let mut admin = postgres_admin(&server).await?;
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut admin)
                        .await?;
                    anyhow::Ok(())
                };
                if let Err(e) = dropped.await {
                    tracing::warn!(error = %e, database = %name, "cannot drop the scratch database");
                }
            }
        }
    }
}

async fn postgres_admin(server: &str) -> anyhow::Result<sqlx::PgConnection> {
    let shown = url::Url::parse(server)
        .map(|mut u| {
            let _ = u.set_password(None);
            u.to_string()
        })
        .context("--url must be a postgres:// URL")?;
    <sqlx::PgConnection as sqlx::Connection>::connect(server)
        .await
        .with_context(|| format!("cannot reach PostgreSQL at {shown}"))
}

/// Opens the ledger on a scratch database, migrated, and says how durable
/// its commits are.
async fn open_ledger(scratch: &Scratch) -> anyhow::Result<::ledger::Ledger> {
    let mut config = ::ledger::LedgerConfig::new(&scratch.url);
    config.sqlite_sync = ::ledger::SqliteSync::Full;
    let ledger = ::ledger::Ledger::connect(&config, Arc::new(::ledger::SystemClock))
        .await
        .with_context(|| format!("cannot open the ledger at {}", scratch.shown()))?;
    ledger
        .migrate(&[])
        .await
        .context("cannot migrate the scratch database")?;
    say(format!("database: {}", scratch.shown()));
    say(durability(&ledger).await?);
    Ok(ledger)
}

/// One line: how the database makes commits durable, read from it.
async fn durability(ledger: &::ledger::Ledger) -> anyhow::Result<String> {
    Ok(match ledger.durability().await? {
        ::ledger::Durability::Sqlite {
            journal_mode: journal,
            synchronous,
        } => {
            // 2 is FULL, 3 EXTRA: the WAL is fsynced at every commit.
            let (name, durable) = match synchronous {
                0 => ("OFF", false),
                1 => ("NORMAL", false),
                2 => ("FULL", true),
                _ => ("EXTRA", true),
            };
            format!(
                "durability: SQLite journal_mode={journal} synchronous={name}: {}",
                if durable {
                    "durable (every commit is fsynced before it is acknowledged)"
                } else {
                    "NOT durable"
                }
            )
        }
        ::ledger::Durability::Postgres {
            synchronous_commit: commit,
            fsync,
        } => {
            let durable = commit != "off" && commit != "local" && fsync == "on";
            format!(
                "durability: PostgreSQL synchronous_commit={commit} fsync={fsync}: {}",
                if durable {
                    "durable (every commit's WAL is flushed before it is acknowledged)"
                } else {
                    "NOT durable"
                }
            )
        }
    })
}

/// The ledger's invariant check, printed; true when sound. `extra` are
/// violations the benchmark found itself (money it expected to see).
async fn check_invariants(ledger: &::ledger::Ledger, extra: Vec<String>) -> anyhow::Result<bool> {
    let found = ledger.verify().await.context("cannot verify the ledger")?;
    let mut problems: Vec<String> = found.iter().map(ToString::to_string).collect();
    problems.extend(extra);
    if problems.is_empty() {
        say(
            "invariants: OK (ledger verified: no violations; every acknowledged transfer accounted for)",
        );
        return Ok(true);
    }
    say(format!(
        "invariants: FAILED ({} violations)",
        problems.len()
    ));
    for problem in &problems {
        say(format!("  violation: {problem}"));
    }
    Ok(false)
}

/// The ledger's USD totals against the money the run moved: nothing lost,
/// created or left pending. Returns what does not match.
async fn check_money(
    ledger: &::ledger::Ledger,
    expected_posted: i64,
) -> anyhow::Result<Vec<String>> {
    let totals = ledger
        .currency_totals()
        .await
        .context("cannot read the ledger's totals")?;
    let Some(usd) = totals
        .iter()
        .find(|t| t.currency == ::ledger::Currency::USD)
    else {
        return Ok(vec!["no USD accounts after the run".to_owned()]);
    };
    // Limit allowances are not money: every transfer of theirs has the
    // currency's allowance source on one side, so its totals say what to
    // leave out (allowance credits and reductions, posted; uses, pending).
    let source = ledger
        .open_account(&::ledger::NewAccount {
            owner: ::ledger::OwnerRef::system(),
            kind: ::ledger::AccountKind::AllowanceSource,
            currency: ::ledger::Currency::USD,
        })
        .await
        .context("cannot read the allowance source")?;
    let money_posted = usd
        .debits_posted
        .saturating_sub(source.debits_posted)
        .saturating_sub(source.credits_posted);
    let money_pending = usd.debits_pending.saturating_sub(source.credits_pending);
    let mut problems = Vec::new();
    if money_posted != expected_posted {
        problems.push(format!(
            "USD debits posted {money_posted} (limit allowances left out) but the acknowledged transfers account for {expected_posted}"
        ));
    }
    if money_pending != 0 {
        problems.push(format!(
            "USD {money_pending} still pending after every payment was resolved"
        ));
    }
    Ok(problems)
}

/// The process's peak resident set size (`VmHWM`), in KiB, where Linux
/// tells it.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn peak_rss_line() -> String {
    match peak_rss_kib() {
        Some(kib) => format!("peak RSS: {:.1} MiB", mib(kib)),
        None => "peak RSS: unknown (no /proc/self/status)".to_owned(),
    }
}

#[allow(clippy::as_conversions, clippy::cast_precision_loss)] // display only
fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[allow(clippy::as_conversions, clippy::cast_precision_loss)] // display only
fn per_sec(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
fn progress(length: u64, unit: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
    let template = format!("{{elapsed_precise}} [{{wide_bar}}] {{pos}}/{{len}} {unit} {{msg}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(PROGRESS_TICK_MS));
    bar
}

/// Latencies, in microseconds, in buckets of at most 1/64 (1.6 %) of their
/// value: exact below 128 µs. Fixed memory however long the run.
#[derive(Debug, Clone)]
pub struct Latencies {
    counts: Vec<u64>,
    total: u64,
    max_us: u64,
}

/// Values below this are kept exactly.
const EXACT_US: u64 = 128;
/// Sub-buckets per power of two above [`EXACT_US`].
const SUB_BUCKETS: u64 = 64;
/// Powers of two covered above [`EXACT_US`] (to 2^46 µs, over two years).
const OCTAVES: u64 = 40;

impl Default for Latencies {
    fn default() -> Latencies {
        Latencies::new()
    }
}

impl Latencies {
    pub fn new() -> Latencies {
        let buckets = EXACT_US + OCTAVES * SUB_BUCKETS;
        Latencies {
            counts: vec![0; usize::try_from(buckets).unwrap_or(0)],
            total: 0,
            max_us: 0,
        }
    }

    fn index(us: u64) -> u64 {
        if us < EXACT_US {
            return us;
        }
        // `us` is in [2^k, 2^(k+1)) with k >= 7; keep its top 7 bits.
        let k = u64::from(us.ilog2());
        let shift = k - 6;
        let sub = (us >> shift) - SUB_BUCKETS;
        (EXACT_US + (k - 7) * SUB_BUCKETS + sub).min(EXACT_US + OCTAVES * SUB_BUCKETS - 1)
    }

    /// The largest value bucket `index` holds.
    fn upper(index: u64) -> u64 {
        if index < EXACT_US {
            return index;
        }
        let k = (index - EXACT_US) / SUB_BUCKETS + 7;
        let sub = (index - EXACT_US) % SUB_BUCKETS;
        let shift = k - 6;
        ((SUB_BUCKETS + sub + 1) << shift) - 1
    }

    pub fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let index = usize::try_from(Latencies::index(us)).unwrap_or(usize::MAX);
        if let Some(count) = self.counts.get_mut(index) {
            *count += 1;
        }
        self.total += 1;
        self.max_us = self.max_us.max(us);
    }

    pub fn merge(&mut self, other: &Latencies) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max_us = self.max_us.max(other.max_us);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The latency that `quantile` (0 to 1) of the values do not exceed
    /// (nearest rank; at most 1.6 % above the true value), in µs.
    pub fn quantile_us(&self, quantile: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = rank_of(quantile, self.total);
        let mut seen = 0;
        for (index, count) in (0_u64..).zip(&self.counts) {
            seen += count;
            if seen >= rank {
                return Latencies::upper(index).min(self.max_us);
            }
        }
        self.max_us
    }

    /// `p50 1.23 ms, p99 ..., p999 ..., max ...`.
    pub fn summary(&self) -> String {
        let mut line = String::new();
        for (name, q) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)] {
            let _ = write!(line, "{name} {}, ", millis(self.quantile_us(q)));
        }
        let _ = write!(line, "max {}", millis(self.max_us));
        line
    }
}

/// The 1-based nearest rank of `quantile` among `total` values.
#[allow(
    clippy::as_conversions,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)] // `quantile` is clamped to [0, 1], so the product is within [0, total]
fn rank_of(quantile: f64, total: u64) -> u64 {
    let rank = (quantile.clamp(0.0, 1.0) * total as f64).ceil() as u64;
    rank.clamp(1, total)
}

#[allow(clippy::as_conversions, clippy::cast_precision_loss)] // display only
fn millis(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(values_us: impl IntoIterator<Item = u64>) -> Latencies {
        let mut latencies = Latencies::new();
        for us in values_us {
            latencies.record(Duration::from_micros(us));
        }
        latencies
    }

    #[test]
    fn small_latencies_are_exact() {
        let latencies = of(1..=100);
        assert_eq!(latencies.count(), 100);
        assert_eq!(latencies.quantile_us(0.5), 50);
        assert_eq!(latencies.quantile_us(0.99), 99);
        assert_eq!(latencies.quantile_us(1.0), 100);
    }

    #[test]
    fn large_latencies_are_within_two_percent_and_never_below() {
        for us in [128, 129, 1_000, 12_345, 999_999, 3_600_000_000] {
            let latencies = of([us]);
            let reported = latencies.quantile_us(0.5);
            assert!(reported >= us, "{us} reported as {reported}");
            let bucket_top = Latencies::upper(Latencies::index(us));
            assert!(bucket_top >= us, "{us}: bucket tops at {bucket_top}");
            assert!(
                bucket_top - us <= us / 60,
                "{us}: bucket tops at {bucket_top}"
            );
        }
    }

    #[test]
    fn percentiles_rank_the_tail() {
        // 989 fast, 10 slow, 1 very slow: the 990th and 999th are slow.
        let values = std::iter::repeat_n(1_000, 989)
            .chain(std::iter::repeat_n(20_000, 10))
            .chain([500_000]);
        let latencies = of(values);
        assert!(latencies.quantile_us(0.5) < 1_020);
        assert!((20_000..20_400).contains(&latencies.quantile_us(0.99)));
        assert!((20_000..20_400).contains(&latencies.quantile_us(0.999)));
        assert_eq!(latencies.quantile_us(1.0), 500_000);
        assert!(latencies.summary().ends_with("max 500.00 ms"));
    }

    #[test]
    fn merged_latencies_count_both() {
        let mut a = of([10, 20]);
        a.merge(&of([30_000]));
        assert_eq!(a.count(), 3);
        assert_eq!(a.quantile_us(1.0), 30_000);
        assert_eq!(of([]).quantile_us(0.99), 0);
    }

    #[test]
    fn peak_rss_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss_kib().unwrap() > 0);
        }
    }
}
