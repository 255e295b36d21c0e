//! `paybot bench chat`: whole chat payments, `/pay @bob 1` in a group then
//! `/confirm CODE` in the DM, through the real bot core on a scratch
//! database, with the mock chat as the platform.
//!
//! The one design decision to know: the payers talk to [`Bot::handle`], the
//! core's entry point that the mock adapter calls, `--concurrency` at a
//! time, with messages shaped exactly as the mock adapter shapes them
//! (platform `mock`, handle = id = name). The adapter's own
//! [`MockChat::send`](paybot_mock::MockChat::send) takes one message at a
//! time (its answer lists what that one message caused), so going through
//! it would measure one user, not a chat full of them. The mock chat is
//! still the notifier: payees' notifications are delivered to its inboxes
//! by the outbox dispatcher, as `paybot serve` runs it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bot::Bot;
use bot::message::{
    Audience, Chat, ChatId, ChatKind, EventId, Handle, Incoming, Mention, Platform, PlatformUserId,
    Reply, User,
};
use bot::otp::{OsRandom, Pepper};
use bot::trust::rules::{Condition, RulesPolicy};
use clap::Args;
use ledger::{Amount, Currency, Ledger};
use paybot_store::{BOT_MIGRATIONS, SqlStore};

use super::{Latencies, Scratch, Target, per_sec, progress, say, say_set_up};
use crate::settings::Settings;

/// Most payments in one run.
pub const PAYMENTS_MAX: u64 = 100_000_000;
/// Payments when neither `--payments` nor `--duration` is given.
pub const PAYMENTS_DEFAULT: u64 = 10_000;
/// Each payment, in minor units ($1.00).
pub const PAYMENT_MINOR: i64 = 100;
/// Each user's opening balance, in minor units ($1,000,000): payments go
/// round a ring, so nobody runs dry.
pub const OPENING_MINOR: i64 = 100_000_000;
/// The group the payments are made in.
pub const GROUP: &str = "bench";
/// How often the outbox dispatcher drains during the run, in milliseconds
/// (as `paybot serve`, woken after each message too).
pub const DRAIN_INTERVAL_MS: u64 = crate::server::OUTBOX_POLL_INTERVAL_MS;

/// `paybot bench chat`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ChatArgs {
    #[command(flatten)]
    pub target: Target,
    /// How many payments to make [default: 10000, or as many as
    /// `--duration` allows].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=PAYMENTS_MAX))]
    pub payments: Option<u64>,
}

impl ChatArgs {
    fn limit(&self) -> u64 {
        match (self.payments, self.target.duration) {
            (Some(n), _) => n,
            (None, Some(_)) => PAYMENTS_MAX,
            (None, None) => PAYMENTS_DEFAULT,
        }
    }
}

/// Runs the benchmark; true when the ledger verified sound afterwards.
pub(super) async fn run(settings: &Settings, args: &ChatArgs) -> anyhow::Result<bool> {
    let scratch = Scratch::create(&args.target).await?;
    let result = measure(settings, args, &scratch).await;
    scratch.remove().await;
    result
}

async fn measure(settings: &Settings, args: &ChatArgs, scratch: &Scratch) -> anyhow::Result<bool> {
    // Two users at least: somebody to pay.
    let users = args.target.concurrency.max(2);
    say(format!(
        "paybot bench chat: {} backend, {users} users, {} paying at once, /pay @next 1 in a group then /confirm CODE in the DM",
        args.target.backend.name(),
        args.target.concurrency,
    ));
    let ledger = super::open_ledger(scratch).await?;
    let store = SqlStore::new(&ledger);
    let outcome = measure_on(settings, args, &ledger, &store, users).await;
    store.close().await;
    ledger.close().await;
    outcome
}

async fn measure_on(
    settings: &Settings,
    args: &ChatArgs,
    ledger: &Ledger,
    store: &SqlStore,
    users: u32,
) -> anyhow::Result<bool> {
    ledger
        .migrate(BOT_MIGRATIONS)
        .await
        .context("cannot migrate the bot's tables")?;
    // A scratch database of its own: play money is what it pays with,
    // whatever the deployment.
    let deployment = crate::app::deployment(settings)?;
    let mut config = crate::app::bot_config(settings, &deployment);
    config.mock_opening_balance = Some(Amount::from_minor(OPENING_MINOR, Currency::USD)?);
    // A benchmark user sends commands back to back by design: the command
    // bucket would measure the limit, not the payments.
    config.limits.commands_burst_max = u32::MAX;
    config.limits.commands_per_minute_max = u32::MAX;
    // Nor the verification-tier limits: every bench user's tier may move
    // as much as a currency can hold (the allowances are still used, so
    // their cost is measured).
    let unlimited = Amount::from_minor(Currency::USD.max_minor(), Currency::USD)?;
    config.trust.limits = config.trust.limits.clone().with_table(
        config.trust.default_tier,
        bot::trust::limits::CurrencyLimits::all(unlimited),
    );
    // Nor the two rules a benchmark's traffic trips by design (each payer
    // pays hundreds of times an hour, to ever new payees): they would
    // refuse, or ask a second factor nobody has. The other rules are still
    // judged on every payment, so their reads are measured.
    let judged: Vec<_> = config
        .trust
        .rules
        .rules()
        .iter()
        .filter(|rule| {
            !matches!(
                rule.condition,
                Condition::PaymentsPerHour { .. } | Condition::NewPayeesBurst { .. }
            )
        })
        .cloned()
        .collect();
    config.trust.rules =
        RulesPolicy::new(judged).map_err(|e| anyhow::anyhow!("the bench's rules: {e}"))?;
    let bot = Bot::new(
        ledger.clone(),
        Arc::new(store.clone()),
        config,
        Pepper::generate(&OsRandom),
        Arc::new(OsRandom),
    );
    let mock = paybot_mock::MockChat::new(Arc::clone(&bot));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let dispatcher = bot
        .dispatcher()
        .spawn(Duration::from_millis(DRAIN_INTERVAL_MS), stopped);

    let names: Vec<String> = (0..users).map(|i| format!("payer{i:04}")).collect();
    let started = Instant::now();
    start_users(&bot, &names).await?;
    say_set_up(&format!("{} users sent /start", names.len()), started);

    let limit = args.limit();
    let deadline = args.target.deadline();
    let bar = progress(limit, "payments");
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut payers = tokio::task::JoinSet::new();
    for (index, name) in names
        .iter()
        .enumerate()
        .take(usize::try_from(args.target.concurrency).unwrap_or(1))
    {
        let payee = names
            .get((index + 1) % names.len())
            .cloned()
            .context("no payee")?;
        let payer = Payer {
            bot: Arc::clone(&bot),
            name: name.clone(),
            payee,
            issued: Arc::clone(&issued),
            limit,
            deadline,
            bar: bar.clone(),
        };
        payers.spawn(payer.run());
    }
    let mut tally = Tally::default();
    let mut failure = None;
    while let Some(joined) = payers.join_next().await {
        match joined.context("a payer panicked")? {
            Ok(one) => tally.merge(&one),
            Err(e) => {
                issued.store(limit, Ordering::Relaxed);
                failure.get_or_insert(e);
            }
        }
    }
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    stop.send_replace(true);
    let _ = dispatcher.await;
    if let Some(e) = failure {
        return Err(e.context("a payment went wrong"));
    }
    // What is still in the outbox is delivered now, as the dispatcher would.
    bot.dispatcher()
        .drain()
        .await
        .context("cannot drain the outbox")?;
    let notified = names
        .iter()
        .map(|name| {
            mock.messages_of(name)
                .map(|inbox| {
                    inbox
                        .iter()
                        .filter(|d| d.text.contains(" paid you "))
                        .count()
                })
                .unwrap_or(0)
        })
        .sum::<usize>();

    let secs = elapsed.as_secs_f64();
    say(format!(
        "payments: {} confirmed in {secs:.2} s ({} messages to the bot)",
        tally.confirmed,
        tally.messages.count()
    ));
    say(format!(
        "throughput: {:.0} confirmed payments/s",
        per_sec(tally.confirmed, elapsed)
    ));
    say(format!(
        "payment latency (/pay to done): {}",
        tally.payments.summary()
    ));
    say(format!("message latency: {}", tally.messages.summary()));
    say(format!(
        "notifications: {notified} \"paid you\" messages delivered to payees through the outbox"
    ));
    say(super::peak_rss_line());

    let opening = i64::from(users).saturating_mul(OPENING_MINOR);
    let paid = i64::try_from(tally.confirmed)
        .unwrap_or(i64::MAX)
        .saturating_mul(PAYMENT_MINOR);
    let mut problems = super::check_money(ledger, opening.saturating_add(paid)).await?;
    let confirmed = usize::try_from(tally.confirmed).unwrap_or(usize::MAX);
    if notified != confirmed {
        problems.push(format!(
            "{confirmed} payments confirmed but {notified} payees were told"
        ));
    }
    super::check_invariants(ledger, problems).await
}

/// Every user says `/start` in a DM (the opening balance), a few at a time.
async fn start_users(bot: &Arc<Bot>, names: &[String]) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in names.chunks(16) {
        let bot = Arc::clone(bot);
        let chunk = chunk.to_vec();
        tasks.spawn(async move {
            for name in chunk {
                let replies = bot.handle(&dm(&name, "/start")?).await;
                if !replies.iter().any(|r| r.text.contains("play money")) {
                    bail!(
                        "{name}'s /start got no opening balance: {}",
                        texts(&replies)
                    );
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.context("a /start panicked")??;
    }
    Ok(())
}

#[derive(Debug, Default)]
struct Tally {
    confirmed: u64,
    payments: Latencies,
    messages: Latencies,
}

impl Tally {
    fn merge(&mut self, other: &Tally) {
        self.confirmed += other.confirmed;
        self.payments.merge(&other.payments);
        self.messages.merge(&other.messages);
    }
}

/// One user paying the next one round the ring, one payment at a time.
#[derive(Debug)]
struct Payer {
    bot: Arc<Bot>,
    name: String,
    payee: String,
    issued: Arc<AtomicU64>,
    limit: u64,
    deadline: Option<Instant>,
    bar: indicatif::ProgressBar,
}

impl Payer {
    async fn run(self) -> anyhow::Result<Tally> {
        let mut tally = Tally::default();
        let pay = format!("/pay @{} 1", self.payee);
        loop {
            if self.deadline.is_some_and(|d| Instant::now() >= d)
                || self.issued.fetch_add(1, Ordering::Relaxed) >= self.limit
            {
                return Ok(tally);
            }
            let started = Instant::now();
            let asked = self
                .send(&group(&self.name, &pay, &self.payee)?, &mut tally)
                .await;
            let Some(code) = code_in(&asked, &self.name) else {
                bail!(
                    "{} sent {pay:?} and got no code: {}",
                    self.name,
                    texts(&asked)
                );
            };
            let confirm = format!("/confirm {code}");
            let done = self.send(&dm(&self.name, &confirm)?, &mut tally).await;
            if !done.iter().any(|r| r.text.starts_with("Done: you paid")) {
                bail!("{}'s {confirm:?} did not pay: {}", self.name, texts(&done));
            }
            tally.payments.record(started.elapsed());
            tally.confirmed += 1;
            self.bar.inc(1);
        }
    }

    async fn send(&self, message: &Incoming, tally: &mut Tally) -> Vec<Reply> {
        let sent = Instant::now();
        let replies = self.bot.handle(message).await;
        tally.messages.record(sent.elapsed());
        replies
    }
}

/// The code in the private reply to `payer`: the word after "/confirm ".
fn code_in(replies: &[Reply], payer: &str) -> Option<String> {
    replies
        .iter()
        .filter(|r| matches!(&r.audience, Audience::Private(id) if id.as_str() == payer))
        .find_map(|r| {
            let (_, rest) = r.text.split_once("/confirm ")?;
            rest.split_whitespace().next().map(str::to_owned)
        })
}

fn texts(replies: &[Reply]) -> String {
    let texts: Vec<&str> = replies.iter().map(|r| r.text.as_str()).collect();
    format!("{texts:?}")
}

/// A mock user, as the mock adapter describes one.
fn user(name: &str) -> anyhow::Result<User> {
    Ok(User {
        id: PlatformUserId::new(name)?,
        handle: Some(Handle::parse(name)?),
        display_name: name.to_owned(),
        is_bot: false,
    })
}

fn event_id() -> anyhow::Result<EventId> {
    Ok(EventId::new(format!(
        "bench-{}",
        ledger::TransferId::random()
    ))?)
}

/// `text` from `name` in their DM with the bot.
fn dm(name: &str, text: &str) -> anyhow::Result<Incoming> {
    Ok(Incoming {
        platform: Platform::Mock,
        event_id: event_id()?,
        chat: Chat {
            id: ChatId::new(format!("{}:{name}", paybot_mock::DM))?,
            kind: ChatKind::Direct,
            title: None,
        },
        sender: user(name)?,
        text: text.to_owned(),
        mentions: Vec::new(),
        reply_to: None,
        message_id: None,
    })
}

/// `text` from `name` in the benchmark's group, mentioning `payee`.
fn group(name: &str, text: &str, payee: &str) -> anyhow::Result<Incoming> {
    Ok(Incoming {
        platform: Platform::Mock,
        event_id: event_id()?,
        chat: Chat {
            id: ChatId::new(GROUP)?,
            kind: ChatKind::Group,
            title: Some(GROUP.to_owned()),
        },
        sender: user(name)?,
        text: text.to_owned(),
        mentions: vec![Mention {
            token: format!("@{payee}"),
            user: user(payee)?,
        }],
        reply_to: None,
        message_id: None,
    })
}
