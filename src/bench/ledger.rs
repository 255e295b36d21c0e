//! `paybot bench ledger`: random transfers between user wallets through
//! [`Ledger::submit`], the group-commit path the server uses.
//!
//! The one design decision to know: each of the `--concurrency` submitters
//! has exactly one group in flight, as a chat user waiting for an answer
//! would, so the batch the writer can form is at most that many groups; the
//! figures say what batch sizes it actually formed. Transfer ids are
//! time-ordered (UUID v7, as a client should make them), so new transfers
//! append to the id index instead of dirtying a random page of it each.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use ledger::{
    AccountId, AccountKind, Amount, BATCH_SIZE_BUCKETS, COMMIT_LATENCY_BOUNDS_US, Currency, Ledger,
    NewAccount, NewTransfer, Outcome, OwnerRef, SubmitError, TransferId, WriterStats,
};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use super::{Latencies, Scratch, Target, per_sec, progress, say, say_set_up};

/// Most user wallets.
pub const ACCOUNTS_MAX: u32 = 1_000_000;
/// Most transfers in one run.
pub const TRANSFERS_MAX: u64 = 1_000_000_000;
/// Transfers when neither `--transfers` nor `--duration` is given.
pub const TRANSFERS_DEFAULT: u64 = 100_000;
/// What each wallet is funded with from issuance, in minor units ($1M):
/// enough that random transfers are almost never refused.
pub const FUNDING_MINOR: i64 = 100_000_000;
/// Largest random transfer, in minor units ($100).
pub const TRANSFER_MINOR_MAX: i64 = 10_000;
/// One in this many two-phase payments is voided instead of posted.
pub const VOID_ONE_IN: u32 = 10;
/// Timeout of the benchmark's pending transfers, in seconds.
pub const PENDING_TIMEOUT_SECS: u32 = 3_600;
/// Most accounts opened at once while setting up.
pub const OPENERS_MAX: u32 = 16;

/// `paybot bench ledger`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct LedgerArgs {
    #[command(flatten)]
    pub target: Target,
    /// How many user wallets the transfers move money between.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(2..=i64::from(ACCOUNTS_MAX)))]
    pub accounts: u32,
    /// How many transfers (two-phase: payments) to submit [default: 100000,
    /// or as many as `--duration` allows].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=TRANSFERS_MAX))]
    pub transfers: Option<u64>,
    /// Two-phase payments: a pending transfer, then its post (one in
    /// ten voided instead).
    #[arg(long)]
    pub two_phase: bool,
}

impl LedgerArgs {
    fn limit(&self) -> u64 {
        match (self.transfers, self.target.duration) {
            (Some(n), _) => n,
            (None, Some(_)) => TRANSFERS_MAX,
            (None, None) => TRANSFERS_DEFAULT,
        }
    }
}

/// What one submitter did.
#[derive(Debug, Default)]
struct Tally {
    /// Units done (transfers, or two-phase payments).
    units: u64,
    /// Transfer rows the ledger created.
    created: u64,
    /// Submissions the ledger refused (insufficient funds, ...).
    refused: u64,
    /// Money moved to posted, in minor units.
    posted_minor: i64,
    latencies: Latencies,
}

impl Tally {
    fn merge(&mut self, other: &Tally) {
        self.units += other.units;
        self.created += other.created;
        self.refused += other.refused;
        self.posted_minor += other.posted_minor;
        self.latencies.merge(&other.latencies);
    }
}

/// Runs the benchmark; true when the ledger verified sound afterwards.
pub(super) async fn run(args: &LedgerArgs) -> anyhow::Result<bool> {
    let scratch = Scratch::create(&args.target).await?;
    let result = measure(args, &scratch).await;
    scratch.remove().await;
    result
}

async fn measure(args: &LedgerArgs, scratch: &Scratch) -> anyhow::Result<bool> {
    let target = &args.target;
    say(format!(
        "paybot bench ledger: {} backend, {} wallets, {} concurrent submitters, {}",
        target.backend.name(),
        args.accounts,
        target.concurrency,
        if args.two_phase {
            "two-phase payments (pending, then post; 1 in 10 voided)"
        } else {
            "single-phase transfers"
        }
    ));
    let ledger = super::open_ledger(scratch).await?;
    let outcome = measure_on(args, &ledger).await;
    ledger.close().await;
    outcome
}

async fn measure_on(args: &LedgerArgs, ledger: &Ledger) -> anyhow::Result<bool> {
    let started = Instant::now();
    let (issuance, wallets) = open_wallets(ledger, args.accounts).await?;
    fund(ledger, issuance, &wallets, args.target.concurrency).await?;
    say_set_up(
        &format!("{} wallets opened and funded", wallets.len()),
        started,
    );

    let limit = args.limit();
    let deadline = args.target.deadline();
    let bar = match args.target.duration {
        Some(secs) if args.transfers.is_none() => super::progress(secs, "s"),
        _ => progress(
            limit,
            if args.two_phase {
                "payments"
            } else {
                "transfers"
            },
        ),
    };
    let shared = Arc::new(Shared {
        ledger: ledger.clone(),
        wallets,
        issued: AtomicU64::new(0),
        done: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        limit,
        deadline,
        two_phase: args.two_phase,
    });
    let stats_before = ledger.writer_stats();
    let start = Instant::now();
    let mut submitters = tokio::task::JoinSet::new();
    for _ in 0..args.target.concurrency {
        submitters.spawn(submitter(Arc::clone(&shared)));
    }
    let ticker = {
        let shared = Arc::clone(&shared);
        let bar = bar.clone();
        let by_time = args.target.duration.is_some() && args.transfers.is_none();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(super::PROGRESS_TICK_MS)).await;
                let done = shared.done.load(Ordering::Relaxed);
                if by_time {
                    bar.set_position(start.elapsed().as_secs());
                    bar.set_message(format!("({done} done)"));
                } else {
                    bar.set_position(done);
                }
            }
        })
    };
    let mut tally = Tally::default();
    let mut failure = None;
    while let Some(joined) = submitters.join_next().await {
        match joined.context("a submitter panicked")? {
            Ok(one) => tally.merge(&one),
            Err(e) => {
                shared.stop.store(true, Ordering::Relaxed);
                failure.get_or_insert(e);
            }
        }
    }
    let elapsed = start.elapsed();
    ticker.abort();
    bar.finish_and_clear();
    if let Some(e) = failure {
        return Err(e.context("the ledger failed during the run"));
    }
    let stats = ledger.writer_stats().since(&stats_before);
    report(args, &tally, &stats, elapsed);

    let expected_posted = i64::try_from(shared.wallets.len())
        .unwrap_or(i64::MAX)
        .saturating_mul(FUNDING_MINOR)
        .saturating_add(tally.posted_minor);
    let money = super::check_money(ledger, expected_posted).await?;
    super::check_invariants(ledger, money).await
}

/// Everything the submitters share.
#[derive(Debug)]
struct Shared {
    ledger: Ledger,
    wallets: Vec<AccountId>,
    /// Units handed out so far (may pass `limit` by the submitters' number).
    issued: AtomicU64,
    /// Units finished, for the progress bar.
    done: AtomicU64,
    /// Set when one submitter failed: the others stop too.
    stop: AtomicBool,
    limit: u64,
    deadline: Option<Instant>,
    two_phase: bool,
}

impl Shared {
    fn next_unit(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        self.issued.fetch_add(1, Ordering::Relaxed) < self.limit
    }
}

fn usd(minor: i64) -> anyhow::Result<Amount> {
    Amount::from_minor(minor, Currency::USD).context("a benchmark amount")
}

/// One submitter: one group in flight at a time until the run ends.
async fn submitter(shared: Arc<Shared>) -> anyhow::Result<Tally> {
    let mut rng = StdRng::from_os_rng();
    let mut tally = Tally::default();
    let wallets = shared.wallets.len();
    while shared.next_unit() {
        let debit_at = rng.random_range(0..wallets);
        // A different wallet: skip over the debit one.
        let credit_at = (debit_at + rng.random_range(1..wallets)) % wallets;
        let (Some(&debit), Some(&credit)) =
            (shared.wallets.get(debit_at), shared.wallets.get(credit_at))
        else {
            continue;
        };
        let minor = rng.random_range(1..=TRANSFER_MINOR_MAX);
        let amount = usd(minor)?;
        if shared.two_phase {
            let pending = NewTransfer::pending(
                TransferId::time_ordered(),
                debit,
                credit,
                amount,
                PENDING_TIMEOUT_SECS,
            );
            let pending_id = pending.id;
            if submit(&shared.ledger, pending, &mut tally).await? {
                let void = rng.random_ratio(1, VOID_ONE_IN);
                let resolve = if void {
                    NewTransfer::void(TransferId::time_ordered(), pending_id)
                } else {
                    NewTransfer::post(TransferId::time_ordered(), pending_id, None)
                };
                if submit(&shared.ledger, resolve, &mut tally).await? && !void {
                    tally.posted_minor += minor;
                }
            }
        } else {
            let transfer = NewTransfer::single(TransferId::time_ordered(), debit, credit, amount);
            if submit(&shared.ledger, transfer, &mut tally).await? {
                tally.posted_minor += minor;
            }
        }
        tally.units += 1;
        shared.done.fetch_add(1, Ordering::Relaxed);
    }
    Ok(tally)
}

/// Submits one transfer and times it; true when the ledger created it.
async fn submit(ledger: &Ledger, transfer: NewTransfer, tally: &mut Tally) -> anyhow::Result<bool> {
    let sent = Instant::now();
    let outcome = ledger.submit(transfer).await;
    tally.latencies.record(sent.elapsed());
    match outcome {
        Ok(Outcome::Created(_)) => {
            tally.created += 1;
            Ok(true)
        }
        // Fresh ids: "exists" would mean a collision or a replay.
        Ok(Outcome::Exists(t)) => anyhow::bail!("transfer {} already existed", t.id),
        Err(SubmitError::Rejected { .. }) => {
            tally.refused += 1;
            Ok(false)
        }
        Err(e @ (SubmitError::Ledger(_) | SubmitError::RecordConflict { .. })) => Err(e.into()),
    }
}

/// Opens the issuance account and `count` user wallets, a few at a time.
async fn open_wallets(ledger: &Ledger, count: u32) -> anyhow::Result<(AccountId, Vec<AccountId>)> {
    let issuance = ledger
        .open_account(&NewAccount {
            owner: OwnerRef::system(),
            kind: AccountKind::Issuance,
            currency: Currency::USD,
        })
        .await
        .context("cannot open the issuance account")?
        .id;
    let openers = OPENERS_MAX.min(count);
    let mut tasks = tokio::task::JoinSet::new();
    for first in 0..openers {
        let ledger = ledger.clone();
        tasks.spawn(async move {
            let mut opened = Vec::new();
            for i in (first..count).step_by(usize::try_from(openers).unwrap_or(1)) {
                let new = NewAccount {
                    owner: OwnerRef::new(format!("bench:{i}"))?,
                    kind: AccountKind::UserWallet,
                    currency: Currency::USD,
                };
                opened.push(ledger.open_account(&new).await?.id);
            }
            anyhow::Ok(opened)
        });
    }
    let mut wallets = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        wallets.extend(
            joined
                .context("an opener panicked")?
                .context("cannot open a wallet")?,
        );
    }
    wallets.sort_unstable();
    Ok((issuance, wallets))
}

/// Credits every wallet [`FUNDING_MINOR`] from issuance, `concurrency`
/// transfers in flight.
async fn fund(
    ledger: &Ledger,
    issuance: AccountId,
    wallets: &[AccountId],
    concurrency: u32,
) -> anyhow::Result<()> {
    let funders = usize::try_from(concurrency)
        .unwrap_or(1)
        .clamp(1, wallets.len().max(1));
    let mut tasks = tokio::task::JoinSet::new();
    for first in 0..funders {
        let ledger = ledger.clone();
        let mine: Vec<AccountId> = wallets
            .iter()
            .skip(first)
            .step_by(funders)
            .copied()
            .collect();
        tasks.spawn(async move {
            for wallet in mine {
                let t = NewTransfer::single(
                    TransferId::time_ordered(),
                    issuance,
                    wallet,
                    usd(FUNDING_MINOR)?,
                );
                ledger.submit(t).await.context("cannot fund a wallet")?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.context("a funder panicked")??;
    }
    Ok(())
}

fn report(args: &LedgerArgs, tally: &Tally, stats: &WriterStats, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    say(format!(
        "transfers: {} created, {} refused, in {secs:.2} s{}",
        tally.created,
        tally.refused,
        if args.two_phase {
            format!(" ({} two-phase payments)", tally.units)
        } else {
            String::new()
        }
    ));
    say(format!(
        "throughput: {:.0} transfers/s",
        per_sec(tally.created + tally.refused, elapsed)
    ));
    if args.two_phase {
        say(format!(
            "throughput: {:.0} two-phase payments/s",
            per_sec(tally.units, elapsed)
        ));
    }
    say(format!(
        "submit latency: {} ({} submits)",
        tally.latencies.summary(),
        tally.latencies.count()
    ));
    say(batch_line(stats));
    say(commit_line(stats));
    say(super::peak_rss_line());
}

/// `commit latency: mean A ms, p50 B ms, p99 C ms (per batch, from the
/// writer's histogram)`.
pub(super) fn commit_line(stats: &WriterStats) -> String {
    let ms = |us: u64| {
        if us == u64::MAX {
            format!(
                "over {} ms",
                COMMIT_LATENCY_BOUNDS_US.last().copied().unwrap_or(0) / 1_000
            )
        } else {
            #[allow(clippy::as_conversions, clippy::cast_precision_loss)] // display only
            let ms = us as f64 / 1_000.0;
            format!("{ms:.2} ms")
        }
    };
    match (
        stats.commit_quantile_us(0.50),
        stats.commit_quantile_us(0.99),
    ) {
        (Some(p50), Some(p99)) => format!(
            "commit latency: mean {}, p50 {}, p99 {} (per batch, from the writer's histogram)",
            ms(stats.commit_us_total / stats.batches.max(1)),
            ms(p50),
            ms(p99)
        ),
        _ => "commit latency: no batch committed".to_owned(),
    }
}

/// `batches: N committed, mean M groups, sizes 1: a, 2-3: b, ...`.
pub(super) fn batch_line(stats: &WriterStats) -> String {
    let mut line = format!("batches: {} committed", stats.batches);
    if stats.batches > 0 {
        #[allow(clippy::as_conversions, clippy::cast_precision_loss)] // display only
        let mean = stats.groups as f64 / stats.batches as f64;
        line.push_str(&format!(", mean {mean:.1} groups per commit; sizes"));
        for index in 0..BATCH_SIZE_BUCKETS {
            let count = stats.batch_groups.get(index).copied().unwrap_or(0);
            if count == 0 {
                continue;
            }
            let (low, high) = WriterStats::bucket_bounds(index);
            if low == high {
                line.push_str(&format!(" {low}: {count},"));
            } else {
                line.push_str(&format!(" {low}-{high}: {count},"));
            }
        }
        line.pop();
    }
    if stats.failed_batches > 0 {
        line.push_str(&format!("; {} FAILED", stats.failed_batches));
    }
    line
}
