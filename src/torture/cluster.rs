//! The system under test: the database the run made, the `paybot serve`
//! child (started, SIGKILLed, restarted) and PostgreSQL's own stops.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::Rng;
use rand::rngs::StdRng;
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{oneshot, watch};
use tracing::{info, warn};

use super::check::{Snapshot, SnapshotAccount, SnapshotTransfer, StoredKind};

/// How long the server may take to log `listening on ADDR`, in seconds.
pub(super) const START_TIMEOUT_SECS: u64 = 60;
/// How long the server may take to answer `/readyz` with 200, in seconds.
pub(super) const READY_TIMEOUT_SECS: u64 = 60;
/// Tries to start the server before giving up (it exits when its database
/// is not reachable yet).
pub(super) const START_ATTEMPTS_MAX: u32 = 5;
/// Pause between two checks of `/readyz` or of PostgreSQL, in milliseconds.
pub(super) const POLL_INTERVAL_MS: u64 = 100;
/// How long PostgreSQL stays down after an immediate stop, in milliseconds.
pub(super) const PG_DOWN_MS: u64 = 1_500;
/// How long PostgreSQL may take to accept connections again, in seconds.
pub(super) const PG_START_TIMEOUT_SECS: u64 = 60;
/// How long the server may take to be ready again on its own once
/// PostgreSQL is back, in seconds; after that it is killed and restarted.
pub(super) const SERVER_RECOVERY_SECS: u64 = 30;
/// Chaos happens between these fractions of the run, in percent, so the
/// workers have a start without it and the end sees the last recovery.
const CHAOS_WINDOW_PERCENT: (u32, u32) = (5, 90);

/// The database the server under test writes to.
#[derive(Debug)]
pub(super) enum Database {
    Sqlite {
        url: String,
        path: PathBuf,
    },
    Postgres {
        url: String,
        admin_url: String,
        name: String,
    },
}

impl Database {
    pub(super) fn sqlite(folder: &Path) -> Database {
        let path = folder.join("ledger.db");
        Database::Sqlite {
            url: format!("sqlite:{}", path.display()),
            path,
        }
    }

    /// Creates `paybot_torture_<random>` on the server at `admin_url`.
    pub(super) async fn postgres(admin_url: &str) -> anyhow::Result<Database> {
        let admin_url = admin_url.trim_end_matches('/').to_owned();
        let mut admin = sqlx::PgConnection::connect(&format!("{admin_url}/postgres"))
            .await
            .context("cannot reach PostgreSQL at --pg-url")?;
        let suffix: u64 = rand::rng().random();
        let name = format!("paybot_torture_{suffix:016x}");
        // Made here from hex digits only: safe to splice.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .with_context(|| format!("cannot create the database {name}"))?;
        let _ = admin.close().await;
        info!(database = %name, "created the run's database");
        Ok(Database::Postgres {
            url: format!("{admin_url}/{name}"),
            admin_url,
            name,
        })
    }

    pub(super) fn url(&self) -> &str {
        match self {
            Database::Sqlite { url, .. } | Database::Postgres { url, .. } => url,
        }
    }

    /// Drops the run's PostgreSQL database (the SQLite file goes with the
    /// run's folder).
    pub(super) async fn drop_if_postgres(&self) {
        let Database::Postgres {
            admin_url, name, ..
        } = self
        else {
            return;
        };
        let dropped = async {
            let mut admin = sqlx::PgConnection::connect(&format!("{admin_url}/postgres")).await?;
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut admin)
                .await?;
            admin.close().await
        };
        match dropped.await {
            Ok(()) => info!(database = %name, "dropped the run's database"),
            Err(e) => warn!(database = %name, error = %e, "cannot drop the run's database"),
        }
    }

    /// Every account and transfer, read directly (the server is stopped).
    /// Each backend only reads its rows; [`snapshot_of`] builds the
    /// snapshot once for both.
    pub(super) async fn snapshot(&self) -> anyhow::Result<Snapshot> {
        const ACCOUNTS_SQL: &str = "SELECT id, currency, flags, debits_posted, credits_posted,
                debits_pending, credits_pending FROM accounts ORDER BY id";
        const TRANSFERS_SQL: &str = "SELECT id, kind, debit_account_id, credit_account_id,
                amount, currency, pending_id, timeout_secs FROM transfers ORDER BY seq";
        match self {
            Database::Sqlite { path, .. } => {
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .read_only(true);
                let mut db = sqlx::SqliteConnection::connect_with(&options)
                    .await
                    .context("cannot open the SQLite database")?;
                let accounts: Vec<AccountRow> =
                    sqlx::query_as(ACCOUNTS_SQL).fetch_all(&mut db).await?;
                type Row = (Vec<u8>, i64, i64, i64, i64, String, Option<Vec<u8>>, i64);
                let transfers: Vec<Row> = sqlx::query_as(TRANSFERS_SQL).fetch_all(&mut db).await?;
                let _ = db.close().await;
                let id = |bytes: Vec<u8>| {
                    <[u8; 16]>::try_from(bytes.as_slice())
                        .map(u128::from_be_bytes)
                        .map_err(|_| corrupt("transfer id"))
                };
                let transfers = transfers
                    .into_iter()
                    .map(
                        |(tid, kind, debit, credit, amount, currency, pending, timeout)| {
                            let pending = pending.map(id).transpose()?;
                            Ok((
                                id(tid)?,
                                kind,
                                debit,
                                credit,
                                amount,
                                currency,
                                pending,
                                timeout,
                            ))
                        },
                    )
                    .collect::<anyhow::Result<Vec<_>>>()?;
                snapshot_of(accounts, transfers)
            }
            Database::Postgres { url, .. } => {
                let mut db = sqlx::PgConnection::connect(url)
                    .await
                    .context("cannot connect to the run's PostgreSQL database")?;
                let accounts: Vec<(i64, String, i32, i64, i64, i64, i64)> =
                    sqlx::query_as(ACCOUNTS_SQL).fetch_all(&mut db).await?;
                type Row = (
                    uuid::Uuid,
                    i16,
                    i64,
                    i64,
                    i64,
                    String,
                    Option<uuid::Uuid>,
                    i64,
                );
                let transfers: Vec<Row> = sqlx::query_as(TRANSFERS_SQL).fetch_all(&mut db).await?;
                let _ = db.close().await;
                let accounts = accounts
                    .into_iter()
                    .map(|(id, currency, flags, dp, cp, dq, cq)| {
                        (id, currency, i64::from(flags), dp, cp, dq, cq)
                    })
                    .collect();
                let transfers = transfers
                    .into_iter()
                    .map(
                        |(tid, kind, debit, credit, amount, currency, pending, timeout)| {
                            let pending = pending.map(|p| p.as_u128());
                            let kind = i64::from(kind);
                            (
                                tid.as_u128(),
                                kind,
                                debit,
                                credit,
                                amount,
                                currency,
                                pending,
                                timeout,
                            )
                        },
                    )
                    .collect();
                snapshot_of(accounts, transfers)
            }
        }
    }

    /// The ledger's own invariant check on the database.
    pub(super) async fn ledger_verify(&self) -> anyhow::Result<Vec<ledger::Violation>> {
        let mut config = ledger::LedgerConfig::new(self.url());
        config.create_if_missing = false;
        let ledger = ledger::Ledger::connect(&config, std::sync::Arc::new(ledger::SystemClock))
            .await
            .context("cannot open the ledger to verify it")?;
        let verdict = ledger.verify().await;
        ledger.close().await;
        verdict.context("ledger verify failed to run")
    }
}

/// An account row, as both backends give it: id, currency, flags, then the
/// four totals.
type AccountRow = (i64, String, i64, i64, i64, i64, i64);
/// A transfer row with its ids read: id, kind, debit, credit, amount,
/// currency, pending id, timeout.
type TransferRow = (u128, i64, i64, i64, i64, String, Option<u128>, i64);

fn corrupt(what: &str) -> anyhow::Error {
    anyhow::anyhow!("a stored {what} is not one the ledger writes")
}

/// The snapshot of what a backend read.
fn snapshot_of(accounts: Vec<AccountRow>, transfers: Vec<TransferRow>) -> anyhow::Result<Snapshot> {
    let no_overdraft = i64::from(ledger::AccountFlags::NO_OVERDRAFT.bits());
    Ok(Snapshot {
        accounts: accounts
            .into_iter()
            .map(|(id, currency, flags, dp, cp, dq, cq)| SnapshotAccount {
                id,
                currency,
                no_overdraft: flags & no_overdraft != 0,
                debits_posted: dp,
                credits_posted: cp,
                debits_pending: dq,
                credits_pending: cq,
            })
            .collect(),
        transfers: transfers
            .into_iter()
            .map(
                |(id, kind, debit, credit, amount, currency, pending, timeout)| {
                    Ok(SnapshotTransfer {
                        id,
                        kind: StoredKind::from_db(kind).ok_or_else(|| corrupt("transfer kind"))?,
                        debit_account_id: debit,
                        credit_account_id: credit,
                        amount,
                        currency,
                        pending_id: pending,
                        timeout_secs: timeout,
                    })
                },
            )
            .collect::<anyhow::Result<_>>()?,
    })
}

/// `paybot serve` as a child process, restartable.
#[derive(Debug)]
pub(super) struct Server {
    exe: PathBuf,
    folder: PathBuf,
    database_url: String,
    token: String,
    child: Option<tokio::process::Child>,
    /// The base URL while the server is up (`http://127.0.0.1:PORT`).
    address: watch::Sender<Option<String>>,
    starts: u32,
    http: reqwest::Client,
    /// Settings set after the defaults above (`--chat`: the mock chat on).
    extra_env: Vec<(String, String)>,
    /// The child's working directory (default: `folder`): a second server
    /// on the same database shares the first one's, so the secrets it
    /// generates on first run (relative paths) are the same files.
    workdir: PathBuf,
}

impl Server {
    pub(super) fn new(folder: &Path, database_url: &str, token: &str) -> anyhow::Result<Server> {
        // The server runs this very build, linked (or copied) into the run's
        // folder: a rebuild of the file meanwhile must not change it.
        let own = std::env::current_exe().context("cannot find paybot's own executable")?;
        let exe = folder.join("paybot");
        if std::fs::hard_link(&own, &exe).is_err() {
            std::fs::copy(&own, &exe)
                .with_context(|| format!("cannot copy {} to {}", own.display(), exe.display()))?;
        }
        let (address, _) = watch::channel(None);
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_millis(super::workload::REQUEST_TIMEOUT_MS))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Server {
            exe,
            folder: folder.to_owned(),
            database_url: database_url.to_owned(),
            token: token.to_owned(),
            child: None,
            address,
            starts: 0,
            http,
            extra_env: Vec::new(),
            workdir: folder.to_owned(),
        })
    }

    /// Runs the child in `dir` instead of its own folder (which keeps its
    /// executable and its log).
    pub(super) fn set_workdir(&mut self, dir: &Path) {
        dir.clone_into(&mut self.workdir);
    }

    /// Sets `name` in the server's environment, after (so over) the
    /// defaults it is started with.
    pub(super) fn set_env(&mut self, name: &str, value: &str) {
        self.extra_env.push((name.to_owned(), value.to_owned()));
    }

    /// The executable the server runs (this very build, in the run's
    /// folder).
    pub(super) fn exe(&self) -> &Path {
        &self.exe
    }

    /// The base URL, `None` while the server is down.
    pub(super) fn address(&self) -> watch::Receiver<Option<String>> {
        self.address.subscribe()
    }

    /// Starts the server and waits until it is ready, retrying a start
    /// that fails (e.g. while its database is coming back).
    pub(super) async fn start(&mut self) -> anyhow::Result<()> {
        let mut last = None;
        for _ in 0..START_ATTEMPTS_MAX {
            match self.start_once().await {
                Ok(base) => {
                    self.address.send_replace(Some(base));
                    return Ok(());
                }
                Err(e) => {
                    warn!(error = %e, "the server did not start; trying again");
                    self.kill().await;
                    last = Some(e);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("the server did not start")))
    }

    async fn start_once(&mut self) -> anyhow::Result<String> {
        self.starts += 1;
        let log_path = self.folder.join("server.log");
        let mut cmd = tokio::process::Command::new(&self.exe);
        cmd.arg("serve")
            .current_dir(&self.workdir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (name, _) in std::env::vars_os() {
            if name.to_str().is_some_and(|n| n.starts_with("PAYBOT_")) {
                cmd.env_remove(name);
            }
        }
        cmd.env_remove("RUST_LOG")
            .env("PAYBOT_DATABASE__URL", &self.database_url)
            .env("PAYBOT_HTTP__ADDR", "127.0.0.1:0")
            .env("PAYBOT_API__TOKEN", &self.token)
            .env("PAYBOT_MOCK__ENABLED", "false")
            .env("PAYBOT_CARDS__ENABLED", "false")
            .env("PAYBOT_OTP__PEPPER_FILE", self.folder.join("otp_pepper"))
            .env("PAYBOT_LEDGER__SWEEP_INTERVAL_MS", "100")
            .env("PAYBOT_LOG__FILTER", "info");
        for (name, value) in &self.extra_env {
            cmd.env(name, value);
        }
        let mut child = cmd.spawn().context("cannot start paybot serve")?;
        let stderr = child
            .stderr
            .take()
            .context("the server's stderr was not captured")?;
        self.child = Some(child);

        // Copy the log to server.log and catch the `listening on` line.
        let (listening, heard) = oneshot::channel();
        let start = self.starts;
        tokio::spawn(async move {
            let mut log = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .await
                .ok();
            let mut listening = Some(listening);
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(log) = log.as_mut() {
                    let text = format!("[start {start}] {line}\n");
                    let _ = tokio::io::AsyncWriteExt::write_all(log, text.as_bytes()).await;
                }
                if let Some((_, addr)) = line.split_once("listening on ")
                    && let Some(listening) = listening.take()
                {
                    let _ = listening.send(addr.trim().to_owned());
                }
            }
        });
        let addr = tokio::time::timeout(Duration::from_secs(START_TIMEOUT_SECS), heard)
            .await
            .map_err(|_| anyhow::anyhow!("no `listening on` within {START_TIMEOUT_SECS} s"))?
            .map_err(|_| anyhow::anyhow!("the server exited before listening (see server.log)"))?;
        let base = format!("http://{addr}");
        self.wait_ready(&base, Duration::from_secs(READY_TIMEOUT_SECS))
            .await?;
        info!(start = self.starts, %base, "server ready");
        Ok(base)
    }

    /// Polls `/readyz` until it answers 200.
    async fn wait_ready(&self, base: &str, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let ready = self.http.get(format!("{base}/readyz")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{base}/readyz did not answer 200 within {} s",
                    limit.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
        }
    }

    /// SIGKILL (`Child::kill` on Unix), and reap it. The address is
    /// withdrawn first, so workers wait for the restart.
    pub(super) async fn kill(&mut self) {
        self.address.send_replace(None);
        if let Some(mut child) = self.child.take()
            && let Err(e) = child.kill().await
        {
            warn!(error = %e, "cannot kill the server");
        }
    }

    /// True once the running server answers `/readyz` with 200 within
    /// `limit`.
    async fn recovers_within(&self, limit: Duration) -> bool {
        let base = self.address.borrow().clone();
        match base {
            Some(base) => self.wait_ready(&base, limit).await.is_ok(),
            None => false,
        }
    }
}

/// Stopping and starting PostgreSQL.
#[derive(Debug, Clone)]
pub(super) struct PgControl {
    pub(super) crash_cmd: String,
    pub(super) start_cmd: String,
    /// The server, without a database name.
    pub(super) admin_url: String,
}

impl PgControl {
    async fn shell(command: &str) -> anyhow::Result<()> {
        let output = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("cannot run `{command}`"))?;
        if !output.status.success() {
            bail!(
                "`{command}` failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    async fn accepts_connections(&self) -> bool {
        let url = format!("{}/postgres", self.admin_url.trim_end_matches('/'));
        match sqlx::PgConnection::connect(&url).await {
            Ok(conn) => {
                let _ = conn.close().await;
                true
            }
            Err(_) => false,
        }
    }

    /// Stops PostgreSQL at once, keeps it down for [`PG_DOWN_MS`], starts
    /// it, and waits until it accepts connections. Starting is tried even
    /// when stopping failed.
    async fn crash(&self) -> anyhow::Result<()> {
        info!("stopping PostgreSQL (immediate)");
        let stopped = Self::shell(&self.crash_cmd).await;
        if stopped.is_ok() {
            tokio::time::sleep(Duration::from_millis(PG_DOWN_MS)).await;
        }
        let started = self.start().await;
        stopped.and(started)
    }

    async fn start(&self) -> anyhow::Result<()> {
        let started = Self::shell(&self.start_cmd).await;
        let deadline = Instant::now() + Duration::from_secs(PG_START_TIMEOUT_SECS);
        while !self.accepts_connections().await {
            if Instant::now() >= deadline {
                return Err(started.err().unwrap_or_else(|| {
                    anyhow::anyhow!("PostgreSQL did not come back in {PG_START_TIMEOUT_SECS} s")
                }));
            }
            tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
        }
        info!("PostgreSQL is up");
        Ok(())
    }

    /// Starts PostgreSQL if it does not accept connections.
    pub(super) async fn ensure_up(&self) {
        if !self.accepts_connections().await
            && let Err(e) = self.start().await
        {
            warn!(error = %e, "PostgreSQL is down and did not start");
        }
    }
}

/// Something the chaos does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Event {
    /// SIGKILL the server and start it again.
    KillServer,
    /// Stop PostgreSQL with `-m immediate` and start it again.
    StopPostgres,
}

/// When each event happens, from the workers' start, in order: uniformly
/// at random within the chaos window.
pub(super) fn schedule(
    rng: &mut StdRng,
    duration: Duration,
    crashes: u32,
    pg_crashes: u32,
) -> Vec<(Duration, Event)> {
    let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    let from = millis / 100 * u64::from(CHAOS_WINDOW_PERCENT.0);
    let to = (millis / 100 * u64::from(CHAOS_WINDOW_PERCENT.1)).max(from + 1);
    let mut events: Vec<(Duration, Event)> = (0..crashes)
        .map(|_| Event::KillServer)
        .chain((0..pg_crashes).map(|_| Event::StopPostgres))
        .map(|event| (Duration::from_millis(rng.random_range(from..to)), event))
        .collect();
    events.sort_by_key(|(at, _)| *at);
    events
}

/// What the chaos did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct ChaosCounts {
    pub(super) crashes: u32,
    pub(super) pg_restarts: u32,
}

/// Runs the schedule against the server (and PostgreSQL). Every event
/// runs, late if an earlier recovery took long.
pub(super) async fn chaos(
    server: &mut Server,
    pg: Option<&PgControl>,
    schedule: &[(Duration, Event)],
    started: Instant,
) -> anyhow::Result<ChaosCounts> {
    let mut counts = ChaosCounts::default();
    for (at, event) in schedule {
        tokio::time::sleep_until((started + *at).into()).await;
        match (event, pg) {
            (Event::KillServer, _) => {
                server.kill().await;
                counts.crashes += 1;
                info!(crash = counts.crashes, "server killed with SIGKILL");
                server.start().await?;
            }
            (Event::StopPostgres, Some(pg)) => {
                pg.crash().await?;
                counts.pg_restarts += 1;
                let limit = Duration::from_secs(SERVER_RECOVERY_SECS);
                if !server.recovers_within(limit).await {
                    warn!(
                        "the server was not ready again after PostgreSQL came back; restarting it"
                    );
                    server.kill().await;
                    counts.crashes += 1;
                    server.start().await?;
                }
            }
            (Event::StopPostgres, None) => {}
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn the_schedule_has_every_event_in_order_within_the_window() {
        let mut rng = StdRng::seed_from_u64(7);
        let events = schedule(&mut rng, Duration::from_secs(15), 3, 1);
        assert_eq!(events.len(), 4);
        assert_eq!(
            events
                .iter()
                .filter(|(_, e)| *e == Event::KillServer)
                .count(),
            3
        );
        assert!(
            events
                .windows(2)
                .all(|w| w.first().unwrap().0 <= w.last().unwrap().0)
        );
        for (at, _) in &events {
            assert!(*at >= Duration::from_millis(750) && *at < Duration::from_millis(13_500));
        }
    }
}
