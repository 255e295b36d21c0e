//! `paybot torture --chat`: the bank test of the chat path. Mock users pay
//! each other through `paybot serve`'s mock chat HTTP API (`/pay` then
//! `/confirm`, `/cancel`, wrong codes and a lockout, `/request` then
//! `/approve`, `/split`, and escrow: paying a handle nobody has, who starts
//! paybot later) while the server is killed with SIGKILL at random.
//!
//! The one design decision to know: **every message is journaled (and
//! flushed) before it is sent, and sent again with the same event id until
//! it is answered**: a transport error, a 5xx, or an answer that says
//! nothing to the sender (the bot's "still in progress" for an event the
//! same server is still handling) is no answer. A restarted server knows
//! nothing of what a killed one was handling and handles it afresh. The
//! run then lets the outbox drain after the last restart, journals what the
//! users' inboxes hold, stops the server and hands the journal and a
//! database snapshot to [`check_chat`], a pure function.
//!
//! Each worker owns a few users and runs one flow at a time among them, so
//! a user's wrong codes only ever meet their own flow's payment. Other
//! users (a requester, an escrow payee) may belong to anyone.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::watch;
use tracing::{info, warn};

use super::chat_check::{
    ChatEntry, ChatTally, ChatViolation, Heard, MEMO_TAG_PREFIX, check_chat, code_in,
    read_chat_journal, word_after,
};
use super::workload::JournalWriter;
use super::{Backend, TortureArgs, chat_db, cluster};

/// One HTTP attempt's time limit, in milliseconds.
pub(super) const CHAT_REQUEST_TIMEOUT_MS: u64 = 15_000;
/// How long one message is sent again before the worker gives up on it, in
/// seconds: long enough for several restarts of the server.
pub(super) const CHAT_GIVE_UP_SECS: u64 = 150;
/// Pause before sending again after a failed attempt, in milliseconds.
pub(super) const CHAT_RETRY_BACKOFF_MS: u64 = 100;
/// Pause before sending again after an answer that said nothing to the
/// sender (an event the server is still handling), in milliseconds.
pub(super) const IN_PROGRESS_BACKOFF_MS: u64 = 1_000;
/// How long a split's payer looks in their inbox for its request, in
/// milliseconds.
pub(super) const REQUEST_NOTICE_WAIT_MS: u64 = 3_000;
/// How long the outbox may take to drain after the last restart, in
/// seconds.
pub(super) const DRAIN_WAIT_SECS_MAX: u64 = 120;
/// The largest payment, in cents (small: tier 0's daily limit is $299.99).
pub(super) const PAYMENT_CENTS_MAX: u32 = 20;
/// Wrong codes allowed before a payment is locked out (the default
/// `otp.attempts_max`).
pub(super) const WRONG_CODES_LOCKOUT: u32 = 5;
/// Most users of one run.
pub const CHAT_USERS_MAX: u32 = 1_000;
/// Users each worker needs at least (a split's creator and two payers).
pub(super) const USERS_PER_WORKER_MIN: u32 = 3;
/// The default number of mock users.
pub const CHAT_USERS_DEFAULT: u32 = 24;

/// The server's settings for the run, over the defaults: the mock chat on
/// (allowed beside the API token that makes the server a production one),
/// and the per-account bounds a test's traffic trips by design off or
/// raised (commands per minute, requests per hour, and the two fraud rules
/// `bench chat` also leaves out). Everything the checker checks is on.
pub(super) const SERVER_ENV: &[(&str, &str)] = &[
    ("PAYBOT_MOCK__ENABLED", "true"),
    ("PAYBOT_DEPLOYMENT__ALLOW_IN_PRODUCTION", "mock_chat"),
    ("PAYBOT_LIMITS__COMMANDS_BURST_MAX", "1000"),
    ("PAYBOT_LIMITS__COMMANDS_PER_MINUTE_MAX", "6000"),
    ("PAYBOT_LIMITS__REQUESTS_SENT_PER_HOUR_MAX", "10000"),
    ("PAYBOT_LIMITS__REQUESTS_RECEIVED_PER_HOUR_MAX", "10000"),
    ("PAYBOT_TRUST__RULES__RULE__VELOCITY__ENABLED", "false"),
    (
        "PAYBOT_TRUST__RULES__RULE__NEW_PAYEES_BURST__ENABLED",
        "false",
    ),
];

/// What one chat run counted, besides the checker's tally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatCounts {
    pub messages: u64,
    pub answered: u64,
    pub gave_up: u64,
    /// Attempts beyond each message's first.
    pub resent: u64,
    pub flows: u64,
    pub crashes: u32,
    pub pg_restarts: u32,
    /// Seconds the outbox took to drain after the last restart; `None`:
    /// it did not within [`DRAIN_WAIT_SECS_MAX`].
    pub drain_secs: Option<u64>,
}

#[derive(Debug, Default)]
struct ChatStats {
    next_msg: AtomicU64,
    next_flow: AtomicU64,
    messages: AtomicU64,
    answered: AtomicU64,
    gave_up: AtomicU64,
    resent: AtomicU64,
}

/// The mock chat's HTTP client: sends until answered, across restarts.
#[derive(Debug, Clone)]
pub(super) struct ChatClient {
    http: reqwest::Client,
    address: watch::Receiver<Option<String>>,
}

/// The end of sending one message.
pub(super) enum Sent {
    Answered {
        status: u16,
        deliveries: Vec<Heard>,
        attempts: u32,
    },
    GaveUp {
        attempts: u32,
    },
}

impl ChatClient {
    pub(super) fn new(address: watch::Receiver<Option<String>>) -> anyhow::Result<ChatClient> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_millis(CHAT_REQUEST_TIMEOUT_MS))
            .tcp_nodelay(true)
            .build()
            .context("cannot build the HTTP client")?;
        Ok(ChatClient { http, address })
    }

    async fn base(&self, deadline: Instant) -> Option<String> {
        let mut address = self.address.clone();
        let wait = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait, address.wait_for(Option::is_some)).await {
            Ok(Ok(base)) => base.clone(),
            _ => None,
        }
    }

    /// Sends `body` (with its event id) until the sender is answered.
    pub(super) async fn send(&self, from: &str, body: &Value) -> Sent {
        let deadline = Instant::now() + Duration::from_secs(CHAT_GIVE_UP_SECS);
        let mut attempts = 0;
        loop {
            if Instant::now() >= deadline {
                return Sent::GaveUp { attempts };
            }
            let Some(base) = self.base(deadline).await else {
                return Sent::GaveUp { attempts };
            };
            attempts += 1;
            let answer = self
                .http
                .post(format!("{base}/mock/messages"))
                .json(body)
                .send()
                .await;
            let backoff = match answer {
                Ok(response) => {
                    let status = response.status();
                    // A body cut off by a crash is no answer.
                    match response.json::<Value>().await {
                        Ok(value) if status.is_success() => {
                            let deliveries: Vec<Heard> = value
                                .get("deliveries")
                                .cloned()
                                .and_then(|d| serde_json::from_value(d).ok())
                                .unwrap_or_default();
                            if deliveries.iter().any(|d| d.to == from) {
                                return Sent::Answered {
                                    status: status.as_u16(),
                                    deliveries,
                                    attempts,
                                };
                            }
                            IN_PROGRESS_BACKOFF_MS
                        }
                        Ok(_) if status.is_client_error() => {
                            return Sent::Answered {
                                status: status.as_u16(),
                                deliveries: Vec::new(),
                                attempts,
                            };
                        }
                        _ => CHAT_RETRY_BACKOFF_MS,
                    }
                }
                Err(_) => CHAT_RETRY_BACKOFF_MS,
            };
            tokio::time::sleep(Duration::from_millis(backoff)).await;
        }
    }

    /// `user`'s inbox, `None` while the server cannot answer.
    async fn inbox(&self, user: &str) -> Option<Vec<String>> {
        let base = self.address.borrow().clone()?;
        let value: Value = self
            .http
            .get(format!("{base}/mock/users/{user}/messages"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        Some(
            value
                .get("messages")?
                .as_array()?
                .iter()
                .filter_map(|m| m.get("text")?.as_str().map(str::to_owned))
                .collect(),
        )
    }
}

/// One worker's users and what it shares with the others.
struct Worker {
    rng: StdRng,
    client: ChatClient,
    journal: Arc<JournalWriter>,
    stats: Arc<ChatStats>,
    stop: Arc<AtomicBool>,
    /// The users this worker's flows pay from.
    own: Vec<String>,
    everyone: Arc<Vec<String>>,
    group: String,
    flow: u64,
}

/// What a `/pay` or `/approve` answer gave the payer.
struct Issued {
    reference: String,
    code: Option<String>,
}

fn user_name(i: u32) -> String {
    format!("u{i}")
}

fn amount(cents: u32) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

impl Worker {
    /// Journals, sends until answered, journals the answer; the
    /// deliveries, or `None` if it gave up.
    async fn say(
        &mut self,
        from: &str,
        chat: &str,
        text: &str,
    ) -> anyhow::Result<Option<Vec<Heard>>> {
        let msg = self.stats.next_msg.fetch_add(1, Ordering::Relaxed);
        // An event id belongs to its sender; `msg` is unique in the run.
        let id = format!("ev{msg}");
        self.journal.write_line(&ChatEntry::Send {
            msg,
            flow: self.flow,
            from: from.to_owned(),
            chat: chat.to_owned(),
            text: text.to_owned(),
            id: id.clone(),
        })?;
        self.stats.messages.fetch_add(1, Ordering::Relaxed);
        let body = json!({ "from": from, "chat": chat, "text": text, "id": id });
        match self.client.send(from, &body).await {
            Sent::Answered {
                status,
                deliveries,
                attempts,
            } => {
                self.stats
                    .resent
                    .fetch_add(u64::from(attempts.saturating_sub(1)), Ordering::Relaxed);
                self.stats.answered.fetch_add(1, Ordering::Relaxed);
                self.journal.write_line(&ChatEntry::Answer {
                    msg,
                    attempts,
                    status,
                    deliveries: deliveries.clone(),
                })?;
                Ok(Some(deliveries))
            }
            Sent::GaveUp { attempts } => {
                self.stats
                    .resent
                    .fetch_add(u64::from(attempts.saturating_sub(1)), Ordering::Relaxed);
                self.stats.gave_up.fetch_add(1, Ordering::Relaxed);
                self.journal
                    .write_line(&ChatEntry::GiveUp { msg, attempts })?;
                Ok(None)
            }
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn tag(&self) -> String {
        format!("{MEMO_TAG_PREFIX}{}", self.flow)
    }

    fn cents(&mut self) -> u32 {
        self.rng.random_range(1..=PAYMENT_CENTS_MAX)
    }

    fn pick_own(&mut self) -> String {
        self.own.choose(&mut self.rng).cloned().unwrap_or_default()
    }

    fn pick_other(&mut self, not: &str) -> String {
        loop {
            let other = self
                .everyone
                .choose(&mut self.rng)
                .cloned()
                .unwrap_or_default();
            if other != not {
                return other;
            }
        }
    }

    /// Sends a command that asks for a code (`/pay`, `/approve`) and reads
    /// the reference and the code from the DM answer.
    async fn ask_code(
        &mut self,
        from: &str,
        chat: &str,
        text: &str,
    ) -> anyhow::Result<Option<Issued>> {
        let Some(deliveries) = self.say(from, chat, text).await? else {
            return Ok(None);
        };
        Ok(deliveries.iter().filter(|d| d.to == from).find_map(|d| {
            let reference = word_after(&d.text, "/cancel ")?;
            Some(Issued {
                reference: reference.to_owned(),
                code: code_in(&d.text).map(str::to_owned),
            })
        }))
    }

    /// After a code was issued: `wrong` wrong codes, then the right one
    /// (unless `cancel`); a payment whose code was never seen (its answer
    /// was lost to a crash) is cancelled.
    async fn settle(
        &mut self,
        payer: &str,
        issued: Issued,
        wrong: u32,
        cancel: bool,
    ) -> anyhow::Result<()> {
        let Some(code) = issued.code else {
            self.say(payer, "dm", &format!("/cancel {}", issued.reference))
                .await?;
            return Ok(());
        };
        let right: u32 = code.parse().unwrap_or(0);
        for i in 0..wrong {
            if self.stopping() {
                return Ok(());
            }
            let bad = (right + 1 + i) % 1_000_000;
            self.say(payer, "dm", &format!("/confirm {bad:06}")).await?;
        }
        if self.stopping() {
            return Ok(());
        }
        if cancel {
            self.say(payer, "dm", &format!("/cancel {}", issued.reference))
                .await?;
        } else {
            self.say(payer, "dm", &format!("/confirm {code}")).await?;
        }
        Ok(())
    }

    async fn run(mut self) -> anyhow::Result<()> {
        while !self.stopping() {
            self.flow = self.stats.next_flow.fetch_add(1, Ordering::Relaxed);
            let roll = self.rng.random_range(0..100u32);
            match roll {
                0..35 => self.pay(0, false).await?,
                35..45 => {
                    let wrong = self.rng.random_range(1..WRONG_CODES_LOCKOUT);
                    self.pay(wrong, false).await?;
                }
                45..55 => self.pay(0, true).await?,
                55..60 => self.pay(WRONG_CODES_LOCKOUT, false).await?,
                60..75 => self.request().await?,
                75..87 => self.split().await?,
                _ => self.escrow().await?,
            }
        }
        Ok(())
    }

    async fn pay(&mut self, wrong: u32, cancel: bool) -> anyhow::Result<()> {
        let payer = self.pick_own();
        let payee = self.pick_other(&payer);
        let chat = if self.rng.random_bool(0.5) {
            self.group.clone()
        } else {
            "dm".to_owned()
        };
        let text = format!("/pay @{payee} {} for {}", amount(self.cents()), self.tag());
        if let Some(issued) = self.ask_code(&payer, &chat, &text).await? {
            self.settle(&payer, issued, wrong, cancel).await?;
        }
        Ok(())
    }

    async fn request(&mut self) -> anyhow::Result<()> {
        let payer = self.pick_own();
        let requester = self.pick_other(&payer);
        let text = format!(
            "/request @{payer} {} for {}",
            amount(self.cents()),
            self.tag()
        );
        let Some(deliveries) = self.say(&requester, "dm", &text).await? else {
            return Ok(());
        };
        let reference = deliveries
            .iter()
            .filter(|d| d.to == requester)
            .find_map(|d| word_after(&d.text, "(request ").map(str::to_owned));
        if let Some(reference) = reference
            && !self.stopping()
        {
            self.approve(&payer, &reference).await?;
        }
        Ok(())
    }

    async fn approve(&mut self, payer: &str, reference: &str) -> anyhow::Result<()> {
        let text = format!("/approve {reference}");
        if let Some(issued) = self.ask_code(payer, "dm", &text).await?
            && !self.stopping()
        {
            self.settle(payer, issued, 0, false).await?;
        }
        Ok(())
    }

    async fn split(&mut self) -> anyhow::Result<()> {
        let mut people = self.own.clone();
        rand::seq::SliceRandom::shuffle(people.as_mut_slice(), &mut self.rng);
        let [creator, first, second, ..] = people.as_slice() else {
            return Ok(());
        };
        let (creator, first, second) = (creator.clone(), first.clone(), second.clone());
        let total = 3 * self.cents();
        let tag = self.tag();
        let group = self.group.clone();
        let text = format!("/split {} @{first} @{second} for {tag}", amount(total));
        let Some(deliveries) = self.say(&creator, &group, &text).await? else {
            return Ok(());
        };
        for payer in [first, second] {
            if self.stopping() {
                break;
            }
            let asked = |texts: &mut dyn Iterator<Item = &str>| {
                texts
                    .filter(|t| t.contains(&tag))
                    .find_map(|t| word_after(t, "/approve ").map(str::to_owned))
            };
            let mut reference = asked(
                &mut deliveries
                    .iter()
                    .filter(|d| d.to == payer)
                    .map(|d| d.text.as_str()),
            );
            let deadline = Instant::now() + Duration::from_millis(REQUEST_NOTICE_WAIT_MS);
            while reference.is_none() && Instant::now() < deadline {
                if let Some(inbox) = self.client.inbox(&payer).await {
                    reference = asked(&mut inbox.iter().map(String::as_str));
                }
                if reference.is_none() {
                    tokio::time::sleep(Duration::from_millis(CHAT_RETRY_BACKOFF_MS)).await;
                }
            }
            if let Some(reference) = reference {
                self.approve(&payer, &reference).await?;
            }
        }
        Ok(())
    }

    async fn escrow(&mut self) -> anyhow::Result<()> {
        let payer = self.pick_own();
        // A handle nobody has used: the money is held for it.
        let newcomer = format!("fresh{}", self.flow);
        let text = format!(
            "/pay @{newcomer} {} for {}",
            amount(self.cents()),
            self.tag()
        );
        let Some(issued) = self.ask_code(&payer, "dm", &text).await? else {
            return Ok(());
        };
        let confirmed = issued.code.is_some();
        self.settle(&payer, issued, 0, false).await?;
        if confirmed && !self.stopping() {
            self.say(&newcomer, "dm", "/start").await?;
        }
        Ok(())
    }
}

impl JournalWriter {
    /// Writes one chat entry (one line, flushed).
    pub(super) fn write_line(&self, entry: &ChatEntry) -> anyhow::Result<()> {
        self.write_raw(&serde_json::to_vec(entry).context("cannot encode a journal entry")?)
    }
}

/// Runs the chat bank test on `database`; the counts, the checker's tally
/// and the violations.
pub(super) async fn run_on(
    args: &TortureArgs,
    seed: u64,
    folder: &Path,
    journal_path: &Path,
    database: &cluster::Database,
) -> anyhow::Result<(ChatCounts, ChatTally, Vec<ChatViolation>)> {
    let users = args.users;
    if users < USERS_PER_WORKER_MIN * args.workers {
        anyhow::bail!(
            "--users must be at least {USERS_PER_WORKER_MIN} per worker ({} for {} workers)",
            USERS_PER_WORKER_MIN * args.workers,
            args.workers
        );
    }
    let token = super::random_token();
    let pg = (args.backend == Backend::Postgres).then(|| cluster::PgControl {
        crash_cmd: args.pg_crash_cmd.clone(),
        start_cmd: args.pg_start_cmd.clone(),
        admin_url: args.pg_url.clone(),
    });
    let mut server = cluster::Server::new(folder, database.url(), &token)?;
    for (name, value) in SERVER_ENV {
        server.set_env(name, value);
    }
    server.start().await?;

    let journal = Arc::new(JournalWriter::create(journal_path)?);
    let client = ChatClient::new(server.address())?;
    let stats = Arc::new(ChatStats::default());
    let everyone: Arc<Vec<String>> = Arc::new((0..users).map(user_name).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let mut rng = StdRng::seed_from_u64(seed);

    // Everyone starts paybot (and gets the mock chat's play money) first.
    let mut workers: Vec<Worker> = (0..args.workers)
        .map(|w| {
            let own = (0..users)
                .filter(|u| u % args.workers == w)
                .map(user_name)
                .collect();
            Worker {
                rng: StdRng::seed_from_u64(seed ^ u64::from(w).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                client: client.clone(),
                journal: Arc::clone(&journal),
                stats: Arc::clone(&stats),
                stop: Arc::clone(&stop),
                own,
                everyone: Arc::clone(&everyone),
                group: format!("g{w}"),
                flow: 0,
            }
        })
        .collect();
    for worker in &mut workers {
        worker.flow = stats.next_flow.fetch_add(1, Ordering::Relaxed);
        for user in worker.own.clone() {
            worker.say(&user, "dm", "/start").await?;
            let group = worker.group.clone();
            worker.say(&user, &group, "/balance").await?;
        }
    }
    info!(users, "mock users started");

    let duration = Duration::from_secs(args.duration_secs);
    let schedule = cluster::schedule(
        &mut rng,
        duration,
        args.crashes,
        if pg.is_some() { args.pg_crashes } else { 0 },
    );
    let started = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    for worker in workers {
        running.spawn(worker.run());
    }
    let chaos = cluster::chaos(&mut server, pg.as_ref(), &schedule, started).await;
    if chaos.is_ok() {
        tokio::time::sleep(duration.saturating_sub(started.elapsed())).await;
    }
    stop.store(true, Ordering::Relaxed);
    while let Some(joined) = running.join_next().await {
        joined
            .context("a worker panicked")?
            .context("a worker failed")?;
    }
    if let Some(pg) = &pg {
        pg.ensure_up().await;
    }
    let chaos = match chaos {
        Ok(chaos) => chaos,
        Err(e) => {
            server.kill().await;
            return Err(e);
        }
    };

    // The outbox drains after the last restart; then what the last life
    // delivered, as each user's inbox holds it.
    let drain_started = Instant::now();
    let mut drain_secs = None;
    while drain_started.elapsed() < Duration::from_secs(DRAIN_WAIT_SECS_MAX) {
        match chat_db::undelivered(database).await {
            Ok(0) => {
                drain_secs = Some(drain_started.elapsed().as_secs());
                break;
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "cannot count the outbox's undelivered rows"),
        }
        tokio::time::sleep(Duration::from_millis(cluster::POLL_INTERVAL_MS)).await;
    }
    let flows = stats.next_flow.load(Ordering::Relaxed);
    let mut inboxes: Vec<String> = everyone.iter().cloned().collect();
    inboxes.extend((0..flows).map(|f| format!("fresh{f}")));
    for user in inboxes {
        if let Some(texts) = client.inbox(&user).await
            && !texts.is_empty()
        {
            journal.write_line(&ChatEntry::Inbox { user, texts })?;
        }
    }
    server.kill().await;

    let entries = read_chat_journal(journal_path)?;
    let snapshot = chat_db::snapshot(database).await?;
    let (mut violations, tally) = check_chat(&entries, &snapshot);
    violations.extend(
        database
            .ledger_verify()
            .await?
            .into_iter()
            .map(|v| ChatViolation::Verify(v.to_string())),
    );
    violations.extend(paybot_verify(server.exe(), folder, database.url()).await?);
    let counts = ChatCounts {
        messages: stats.messages.load(Ordering::Relaxed),
        answered: stats.answered.load(Ordering::Relaxed),
        gave_up: stats.gave_up.load(Ordering::Relaxed),
        resent: stats.resent.load(Ordering::Relaxed),
        flows,
        crashes: chaos.crashes,
        pg_restarts: chaos.pg_restarts,
        drain_secs,
    };
    Ok((counts, tally, violations))
}

/// `paybot verify` on the run's database: the ledger's invariants and the
/// audit record of every held transfer, as an operator runs it.
pub(super) async fn paybot_verify(
    exe: &Path,
    folder: &Path,
    database_url: &str,
) -> anyhow::Result<Vec<ChatViolation>> {
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("verify").current_dir(folder);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("PAYBOT_")) {
            cmd.env_remove(name);
        }
    }
    let output = cmd
        .env_remove("RUST_LOG")
        .env("PAYBOT_DATABASE__URL", database_url)
        .env("PAYBOT_OTP__PEPPER_FILE", folder.join("otp_pepper"))
        .env("PAYBOT_LOG__FILTER", "warn")
        .output()
        .await
        .context("cannot run paybot verify")?;
    if output.status.success() {
        return Ok(Vec::new());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut found: Vec<ChatViolation> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| ChatViolation::Verify(l.to_owned()))
        .collect();
    if found.is_empty() {
        found.push(ChatViolation::Verify(format!(
            "paybot verify exited {}: {}",
            output.status,
            stderr.trim()
        )));
    }
    Ok(found)
}

/// The report: one `name: value` per line, then the violations.
pub fn print_chat_report(
    out: &mut impl Write,
    counts: &ChatCounts,
    tally: &ChatTally,
    violations: &[ChatViolation],
) -> std::io::Result<()> {
    writeln!(out, "flows: {}", counts.flows)?;
    writeln!(out, "messages: {}", counts.messages)?;
    writeln!(
        out,
        "answered: {} (resent attempts: {})",
        counts.answered, counts.resent
    )?;
    writeln!(out, "gave up: {}", counts.gave_up)?;
    writeln!(out, "seen paid: {}", tally.seen_paid)?;
    writeln!(out, "seen held in escrow: {}", tally.seen_escrowed)?;
    writeln!(out, "seen cancelled: {}", tally.seen_cancelled)?;
    writeln!(out, "seen locked out: {}", tally.seen_locked_out)?;
    writeln!(out, "posted: {}", tally.posted)?;
    writeln!(out, "escrow claimed: {}", tally.claimed)?;
    writeln!(out, "crashes: {}", counts.crashes)?;
    writeln!(out, "pg restarts: {}", counts.pg_restarts)?;
    match counts.drain_secs {
        Some(secs) => writeln!(out, "outbox drained: yes ({secs} s after the last restart)")?,
        None => writeln!(out, "outbox drained: no (within {DRAIN_WAIT_SECS_MAX} s)")?,
    }
    writeln!(
        out,
        "codes searched for: {} (in {} text cells)",
        tally.codes_seen, tally.text_cells
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_written_as_the_bot_reads_them() {
        assert_eq!(amount(7), "0.07");
        assert_eq!(amount(120), "1.20");
    }
}
