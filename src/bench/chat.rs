//! `paybot bench chat`: whole chat payments, `/pay @bob 1` in a group then
//! `/confirm CODE` in the DM, through the real bot core on a scratch
//! database, with the mock chat as the platform.
//!
//! The one design decision to know: by default (`--via in-process`) the
//! payers talk to [`Bot::handle`], the core's entry point that the mock
//! adapter calls, `--concurrency` at a time, with messages shaped exactly
//! as the mock adapter shapes them (platform `mock`, handle = id = name):
//! the core alone is measured. With `--via http` the same payments go
//! through the mock chat's HTTP API (`POST /mock/messages`), served by the
//! server `paybot serve` runs (its router, request guard and accept loop)
//! on a port of its own, `--concurrency` HTTP clients at once: the HTTP
//! layer and the mock chat are measured too. Each payer pays in a group of
//! its own there, so no answer fans out to other payers.
//!
//! Either way each message has an event id numbered in sending order, as a
//! platform's are (Telegram's `update_id`, Discord's snowflakes), and the
//! mock chat is the notifier: payees' notifications are
//! delivered to its inboxes by the outbox dispatcher, as `paybot serve`
//! runs it, through a wrapper that times them. The notification lag is
//! from the payer's answer to `/confirm` (just after the payment's commit)
//! to the payee's delivery (0 when delivered before that answer); each
//! payee is paid by one payer only, one payment at a time, so the n-th
//! notification a payee gets is for that payer's n-th payment. After the
//! last payment the outbox is drained until empty, for at most
//! [`FINAL_DRAIN_SECS_MAX`], and what is left is reported.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_trait::async_trait;
use bot::Bot;
use bot::message::{
    Audience, Chat, ChatId, ChatKind, EventId, Handle, Incoming, Mention, Platform, PlatformUserId,
    Reply, User,
};
use bot::notify::{DeliveryError, Notifier};
use bot::otp::{OsRandom, Pepper};
use bot::trust::rules::{Condition, RulesPolicy};
use clap::{Args, ValueEnum};
use ledger::{Amount, Currency, Ledger};
use paybot_store::{BOT_MIGRATIONS, SqlStore};
use serde::Deserialize;

use super::{Latencies, Scratch, Target, per_sec, progress, say, say_set_up};

/// Between the drain rounds after the last payment, when messages are
/// left (a delivery to retry), in milliseconds.
const DRAIN_PAUSE_MS: u64 = 100;
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
/// How long the drain after the last payment may go on before it gives up
/// and reports what is left in the outbox, in seconds.
pub const FINAL_DRAIN_SECS_MAX: u64 = 300;
/// The address the mock chat's HTTP server listens on with `--via http`
/// (port 0: any free port).
pub const HTTP_LISTEN_ADDR: &str = "127.0.0.1:0";
/// How long one HTTP request may take with `--via http`, in seconds.
pub const HTTP_REQUEST_TIMEOUT_SECS: u64 = 60;

/// How the payers reach the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Via {
    /// The core's entry point, in this process: the core alone.
    #[default]
    InProcess,
    /// The mock chat's HTTP API, on the server `paybot serve` runs: the
    /// HTTP layer and the mock chat too.
    Http,
}

/// `paybot bench chat`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ChatArgs {
    #[command(flatten)]
    pub target: Target,
    /// How many payments to make [default: 10000, or as many as
    /// `--duration` allows].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=PAYMENTS_MAX))]
    pub payments: Option<u64>,
    /// How the payers reach the bot: `in-process` (the core's entry point)
    /// or `http` (the mock chat's HTTP API, with one HTTP client per payer).
    #[arg(long, value_enum, default_value_t = Via::InProcess)]
    pub via: Via,
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
    let via = match args.via {
        Via::InProcess => "in process",
        Via::Http => "through the mock chat's HTTP API",
    };
    say(format!(
        "paybot bench chat: {} backend, {users} users, {} paying at once {via}, /pay @next 1 in a group then /confirm CODE in the DM",
        args.target.backend.name(),
        args.target.concurrency,
    ));
    if args.via == Via::Http
        && usize::try_from(users).unwrap_or(usize::MAX) > paybot_mock::MOCK_GROUPS_MAX
    {
        bail!(
            "--via http: at most {} payers (the mock chat's groups, one per payer)",
            paybot_mock::MOCK_GROUPS_MAX
        );
    }
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
    let lags = Arc::new(Lags::default());
    bot.dispatcher().register(
        Platform::Mock,
        Arc::new(TimedNotifier {
            inner: mock.notifier(),
            lags: Arc::clone(&lags),
        }),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let dispatcher = bot
        .dispatcher()
        .spawn(Duration::from_millis(DRAIN_INTERVAL_MS), stopped.clone());
    let (channel, server) = match args.via {
        Via::InProcess => (Channel::InProcess(Arc::clone(&bot)), None),
        Via::Http => {
            let (channel, server) = serve_mock(settings, ledger, &mock, stopped).await?;
            (channel, Some(server))
        }
    };
    let outcome = pay(args, ledger, &bot, &channel, &lags, users).await;
    stop.send_replace(true);
    let _ = dispatcher.await;
    if let Some(server) = server {
        let _ = server.await;
    }
    outcome
}

/// The mock chat's HTTP API on a port of its own, served as `paybot serve`
/// serves it (its router, request guard and accept loop).
async fn serve_mock(
    settings: &Settings,
    ledger: &Ledger,
    mock: &Arc<paybot_mock::MockChat>,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<(Channel, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(HTTP_LISTEN_ADDR)
        .await
        .with_context(|| format!("cannot listen on {HTTP_LISTEN_ADDR}"))?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let routes = crate::server::router(
        crate::server::AppState {
            ledger: ledger.clone(),
        },
        Some(Arc::clone(mock)),
    );
    let limits = crate::http::Limits::from_settings(&settings.http);
    let routes = crate::http::guard_requests(routes, &limits);
    let server = tokio::spawn(crate::http::serve(listener, routes, limits, stopped));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(HTTP_REQUEST_TIMEOUT_SECS))
        .build()
        .context("cannot build the HTTP client")?;
    let channel = Channel::Http {
        client,
        url: format!("http://{addr}/mock/messages"),
    };
    Ok((channel, server))
}

/// The payments, the drain after them and the checks.
async fn pay(
    args: &ChatArgs,
    ledger: &Ledger,
    bot: &Arc<Bot>,
    channel: &Channel,
    lags: &Arc<Lags>,
    users: u32,
) -> anyhow::Result<bool> {
    let names: Vec<String> = (0..users).map(|i| format!("payer{i:04}")).collect();
    let started = Instant::now();
    let starts = start_users(channel, &names).await?;
    say_set_up(&format!("{} users sent /start", names.len()), started);
    // A new user's wallet and limits are set up here, not in the timed
    // payments: what each one waited for is printed all the same.
    say(format!(
        "/start of each new user (wallet, limits, opening balance; {START_CHUNK_USERS} in turn per task): {}",
        starts.summary()
    ));

    let limit = args.limit();
    let deadline = args.target.deadline();
    let bar = progress(limit, "payments");
    let issued = Arc::new(AtomicU64::new(0));
    let stats_before = ledger.writer_stats();
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
            channel: channel.clone(),
            lags: Arc::clone(lags),
            name: name.clone(),
            group: match channel {
                Channel::InProcess(_) => GROUP.to_owned(),
                Channel::Http { .. } => format!("{GROUP}{index:04}"),
            },
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
    let stats = ledger.writer_stats().since(&stats_before);
    bar.finish_and_clear();
    if let Some(e) = failure {
        return Err(e.context("a payment went wrong"));
    }
    let backlog_at_end = ledger
        .outbox_backlog(u32::MAX)
        .await
        .context("cannot count the outbox")?
        .messages;
    // What is still in the outbox is delivered now (the dispatcher goes on
    // too), until it is empty or the time is up.
    let draining = Instant::now();
    let limit = Duration::from_secs(FINAL_DRAIN_SECS_MAX);
    let left = loop {
        bot.dispatcher()
            .drain()
            .await
            .context("cannot drain the outbox")?;
        let left = ledger
            .outbox_backlog(u32::MAX)
            .await
            .context("cannot count the outbox")?
            .messages;
        if left == 0 || draining.elapsed() >= limit {
            break left;
        }
        tokio::time::sleep(Duration::from_millis(DRAIN_PAUSE_MS)).await;
    };
    let drained_in = draining.elapsed();
    let (notified, before_answer, lag) = lags.result();

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
    say(format!(
        "first payment of each payer (a new user's): {}",
        tally.first_payments.summary()
    ));
    say(format!("message latency: {}", tally.messages.summary()));
    // Everything the writer committed meanwhile: money with its records,
    // and on SQLite the events' outcomes and the outbox's marks too.
    say(super::ledger::batch_line(&stats));
    say(super::ledger::commit_line(&stats));
    say(format!(
        "notifications: {notified} \"paid you\" messages delivered to payees through the outbox"
    ));
    say(format!(
        "notification lag (payer's answer to payee's delivery): {} ({before_answer} told before the payer's answer came back, counted as 0)",
        lag.summary()
    ));
    say(format!(
        "outbox backlog: {backlog_at_end} undelivered at the last payment, {left} left after draining for {:.2} s",
        drained_in.as_secs_f64()
    ));
    if left > 0 {
        say(format!(
            "outbox: gave up draining after {FINAL_DRAIN_SECS_MAX} s with {left} messages left"
        ));
    }
    say(super::peak_rss_line());

    let opening = i64::from(users).saturating_mul(OPENING_MINOR);
    let paid = i64::try_from(tally.confirmed)
        .unwrap_or(i64::MAX)
        .saturating_mul(PAYMENT_MINOR);
    let mut problems = super::check_money(ledger, opening.saturating_add(paid)).await?;
    if notified == tally.confirmed {
        say(format!(
            "every payee told: {notified} of {} payments",
            tally.confirmed
        ));
    } else {
        problems.push(format!(
            "{} payments confirmed but {notified} payees were told",
            tally.confirmed
        ));
    }
    super::check_invariants(ledger, problems).await
}

/// How many users each task of [`start_users`] starts, one after another.
const START_CHUNK_USERS: usize = 16;

/// Every user says `/start` in a DM (their wallet, limits and opening
/// balance), one task per [`START_CHUNK_USERS`] users; how long each
/// waited.
async fn start_users(channel: &Channel, names: &[String]) -> anyhow::Result<Latencies> {
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in names.chunks(START_CHUNK_USERS) {
        let channel = channel.clone();
        let chunk = chunk.to_vec();
        tasks.spawn(async move {
            let mut waited = Latencies::new();
            for name in chunk {
                let sent = Instant::now();
                let answers = channel.send(&name, None, "/start").await?;
                waited.record(sent.elapsed());
                if !answers.iter().any(|a| a.text.contains("play money")) {
                    bail!(
                        "{name}'s /start got no opening balance: {}",
                        texts(&answers)
                    );
                }
            }
            anyhow::Ok(waited)
        });
    }
    let mut waited = Latencies::new();
    while let Some(joined) = tasks.join_next().await {
        waited.merge(&joined.context("a /start panicked")??);
    }
    Ok(waited)
}

#[derive(Debug, Default)]
struct Tally {
    confirmed: u64,
    payments: Latencies,
    /// Each payer's first payment: what a new user waits for once their
    /// `/start` has set up their wallet and limits.
    first_payments: Latencies,
    messages: Latencies,
}

impl Tally {
    fn merge(&mut self, other: &Tally) {
        self.confirmed += other.confirmed;
        self.payments.merge(&other.payments);
        self.first_payments.merge(&other.first_payments);
        self.messages.merge(&other.messages);
    }
}

/// One user paying the next one round the ring, one payment at a time.
#[derive(Debug)]
struct Payer {
    channel: Channel,
    lags: Arc<Lags>,
    name: String,
    /// Where the payer says `/pay`.
    group: String,
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
                .send(Some((&self.group, &self.payee)), &pay, &mut tally)
                .await?;
            let Some(code) = code_in(&asked, &self.name) else {
                bail!(
                    "{} sent {pay:?} and got no code: {}",
                    self.name,
                    texts(&asked)
                );
            };
            let confirm = format!("/confirm {code}");
            let done = self.send(None, &confirm, &mut tally).await?;
            if !done.iter().any(|a| a.text.starts_with("Done: you paid")) {
                bail!("{}'s {confirm:?} did not pay: {}", self.name, texts(&done));
            }
            self.lags.confirmed(&self.payee, Instant::now());
            tally.payments.record(started.elapsed());
            if tally.confirmed == 0 {
                tally.first_payments.record(started.elapsed());
            }
            tally.confirmed += 1;
            self.bar.inc(1);
        }
    }

    /// `text` in `group` mentioning the payee, or in the payer's DM.
    async fn send(
        &self,
        group: Option<(&str, &str)>,
        text: &str,
        tally: &mut Tally,
    ) -> anyhow::Result<Vec<Answer>> {
        let sent = Instant::now();
        let answers = self.channel.send(&self.name, group, text).await?;
        tally.messages.record(sent.elapsed());
        Ok(answers)
    }
}

/// How the payers reach the bot (see [`Via`]).
#[derive(Debug, Clone)]
enum Channel {
    InProcess(Arc<Bot>),
    Http {
        client: reqwest::Client,
        /// `POST /mock/messages`.
        url: String,
    },
}

/// One message the bot's answer holds, wherever it came from.
#[derive(Debug, Clone)]
struct Answer {
    /// Whose DM it is in; `None` for a group.
    dm_of: Option<String>,
    text: String,
}

/// `POST /mock/messages`' answer (the part read here).
#[derive(Debug, Deserialize)]
struct SentBody {
    deliveries: Vec<DeliveryBody>,
}

#[derive(Debug, Deserialize)]
struct DeliveryBody {
    to: String,
    chat: String,
    text: String,
}

impl Channel {
    /// `text` from `name`: in `group` (its name, and the user it mentions)
    /// or in the DM.
    async fn send(
        &self,
        name: &str,
        group: Option<(&str, &str)>,
        text: &str,
    ) -> anyhow::Result<Vec<Answer>> {
        match self {
            Channel::InProcess(bot) => {
                let message = match group {
                    Some((chat, payee)) => in_group(name, chat, text, payee)?,
                    None => dm(name, text)?,
                };
                Ok(bot.handle(&message).await.iter().map(answer).collect())
            }
            Channel::Http { client, url, .. } => {
                let chat = group.map_or(paybot_mock::DM, |(chat, _)| chat);
                let response = client
                    .post(url.as_str())
                    .json(&serde_json::json!({
                        "from": name,
                        "chat": chat,
                        "text": text,
                        "id": event_text(),
                    }))
                    .send()
                    .await
                    .with_context(|| format!("{name}'s {text:?}: no answer"))?;
                let status = response.status();
                if !status.is_success() {
                    let body = response.text().await.unwrap_or_default();
                    bail!("{name}'s {text:?}: HTTP {status}: {body}");
                }
                let sent: SentBody = response
                    .json()
                    .await
                    .with_context(|| format!("{name}'s {text:?}: an answer not as documented"))?;
                Ok(sent
                    .deliveries
                    .into_iter()
                    .map(|d| Answer {
                        dm_of: (d.chat == paybot_mock::DM).then_some(d.to),
                        text: d.text,
                    })
                    .collect())
            }
        }
    }
}

/// A core reply as an [`Answer`].
fn answer(reply: &Reply) -> Answer {
    let dm_of = match &reply.audience {
        Audience::Private(id) => Some(id.as_str().to_owned()),
        Audience::Chat(chat) => chat
            .as_str()
            .strip_prefix(&format!("{}:", paybot_mock::DM))
            .map(str::to_owned),
    };
    Answer {
        dm_of,
        text: reply.text.clone(),
    }
}

/// The code in the DM answer to `payer`: the word after "/confirm ".
fn code_in(answers: &[Answer], payer: &str) -> Option<String> {
    answers
        .iter()
        .filter(|a| a.dm_of.as_deref() == Some(payer))
        .find_map(|a| {
            let (_, rest) = a.text.split_once("/confirm ")?;
            rest.split_whitespace().next().map(str::to_owned)
        })
}

fn texts(answers: &[Answer]) -> String {
    let texts: Vec<&str> = answers.iter().map(|a| a.text.as_str()).collect();
    format!("{texts:?}")
}

/// The notifications' lags: each payee's confirmed payments not yet
/// notified, and notifications that came before their payment's answer.
#[derive(Debug, Default)]
struct Lags {
    state: Mutex<LagState>,
}

#[derive(Debug, Default)]
struct LagState {
    /// Payee → answer times of payments to them not yet notified.
    confirmed: HashMap<String, VecDeque<Instant>>,
    /// Payee → times of notifications whose payment was not yet answered.
    early: HashMap<String, VecDeque<Instant>>,
    told: u64,
    /// Notifications delivered before their payer's answer came back.
    before_answer: u64,
    lags: Latencies,
}

impl Lags {
    fn with<T>(&self, f: impl FnOnce(&mut LagState) -> T) -> T {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut state)
    }

    /// A payment to `payee` was answered done at `at`.
    fn confirmed(&self, payee: &str, at: Instant) {
        self.with(|state| {
            match state.early.get_mut(payee).and_then(VecDeque::pop_front) {
                // Told before the payer's answer came back: no lag.
                Some(_) => {
                    state.before_answer += 1;
                    state.lags.record(Duration::ZERO);
                }
                None => state
                    .confirmed
                    .entry(payee.to_owned())
                    .or_default()
                    .push_back(at),
            }
        });
    }

    /// `payee` was told they were paid, now.
    fn told(&self, payee: &str) {
        let now = Instant::now();
        self.with(|state| {
            state.told += 1;
            match state.confirmed.get_mut(payee).and_then(VecDeque::pop_front) {
                Some(at) => state.lags.record(now.saturating_duration_since(at)),
                None => state
                    .early
                    .entry(payee.to_owned())
                    .or_default()
                    .push_back(now),
            }
        });
    }

    /// Payees told, how many of them before their payer's answer, and
    /// the lags.
    fn result(&self) -> (u64, u64, Latencies) {
        self.with(|state| (state.told, state.before_answer, state.lags.clone()))
    }
}

/// The mock chat's notifier, timing each payee's "paid you".
#[derive(Debug)]
struct TimedNotifier {
    inner: Arc<dyn Notifier>,
    lags: Arc<Lags>,
}

#[async_trait]
impl Notifier for TimedNotifier {
    async fn deliver(&self, reply: &Reply) -> Result<(), DeliveryError> {
        self.inner.deliver(reply).await?;
        if let Audience::Private(payee) = &reply.audience
            && reply.text.contains(" paid you ")
        {
            self.lags.told(payee.as_str());
        }
        Ok(())
    }
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

/// A fresh event id: numbered in the order messages are sent, as
/// Telegram numbers its updates and Discord its interactions (so the bot
/// derives the payment's transfer ids in that order, as it does for them;
/// see `EventId::order`). Unique within a run, and each run has a
/// database of its own.
fn event_text() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("bench-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn event_id() -> anyhow::Result<EventId> {
    Ok(EventId::new(event_text())?)
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

/// `text` from `name` in `group`, mentioning `payee`.
fn in_group(name: &str, group: &str, text: &str, payee: &str) -> anyhow::Result<Incoming> {
    Ok(Incoming {
        platform: Platform::Mock,
        event_id: event_id()?,
        chat: Chat {
            id: ChatId::new(group)?,
            kind: ChatKind::Group,
            title: Some(group.to_owned()),
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
