//! The workers: wallets, payments, two-phase payments, linked splits and
//! probes, each request journaled before it is sent and retried with the
//! same ids until it is answered.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::check::{Entry, Probe, WireTransfer};

/// One HTTP attempt's time limit, in milliseconds.
pub(super) const REQUEST_TIMEOUT_MS: u64 = 10_000;
/// How long one request is retried before it is journaled as unknown, in
/// seconds.
pub(super) const REQUEST_GIVE_UP_SECS: u64 = 180;
/// Pause before retrying a failed attempt, in milliseconds.
pub(super) const RETRY_BACKOFF_MS: u64 = 50;
/// The currencies of the run.
pub(super) const CURRENCIES: [&str; 2] = ["USD", "EUR"];
/// Wallets per currency.
pub(super) const WALLETS_PER_CURRENCY: usize = 8;
/// Each wallet's opening balance, in minor units.
pub(super) const WALLET_OPENING_MINOR: i64 = 100_000;
/// The largest payment or reservation, in minor units: a quarter of an
/// opening balance, so wallets run dry now and then and refusals happen.
pub(super) const PAYMENT_MINOR_MAX: i64 = 25_000;
/// The largest top-up from issuance, in minor units.
pub(super) const TOPUP_MINOR_MAX: i64 = 20_000;
/// The largest share of a linked split, in minor units.
pub(super) const SPLIT_SHARE_MINOR_MAX: i64 = 8_000;
/// Most payees of a linked split.
pub(super) const SPLIT_PAYEES_MAX: usize = 4;
/// A pending transfer's timeout when it is meant to be resolved, in seconds.
pub(super) const PENDING_TIMEOUT_LONG_SECS: u32 = 3_600;
/// A pending transfer's timeout when it races the sweeper, in seconds.
pub(super) const PENDING_TIMEOUT_SHORT_SECS: u32 = 1;
/// The longest wait before resolving a short pending transfer, in ms.
pub(super) const RACE_DELAY_MS_MAX: u64 = 2_000;

/// The journal file: one JSON entry per line, each written whole with one
/// `write` and flushed before the call returns.
#[derive(Debug)]
pub(super) struct JournalWriter {
    file: Mutex<std::fs::File>,
}

impl JournalWriter {
    pub(super) fn create(path: &Path) -> anyhow::Result<JournalWriter> {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create the journal {}", path.display()))?;
        Ok(JournalWriter {
            file: Mutex::new(file),
        })
    }

    pub(super) fn write(&self, entry: &Entry) -> anyhow::Result<()> {
        self.write_raw(&serde_json::to_vec(entry).context("cannot encode a journal entry")?)
    }

    /// Writes `encoded` (one entry, without its newline) as one line.
    pub(super) fn write_raw(&self, encoded: &[u8]) -> anyhow::Result<()> {
        let mut line = Vec::with_capacity(encoded.len() + 1);
        line.extend_from_slice(encoded);
        line.push(b'\n');
        let mut file = self
            .file
            .lock()
            .map_err(|_| anyhow::anyhow!("the journal lock is poisoned"))?;
        file.write_all(&line)
            .and_then(|()| file.flush())
            .context("cannot write the journal")
    }
}

/// What the workers counted.
#[derive(Debug, Default)]
pub(super) struct Stats {
    next_req: AtomicU64,
    pub(super) requests: AtomicU64,
    pub(super) acknowledged: AtomicU64,
    pub(super) acknowledged_exists: AtomicU64,
    pub(super) refused: AtomicU64,
    pub(super) unknown: AtomicU64,
    pub(super) retried: AtomicU64,
    pub(super) duplicates: AtomicU64,
    pub(super) conflicts: AtomicU64,
}

/// An answer to a request.
#[derive(Debug, Clone)]
pub(super) enum Answer {
    /// 200/201: `created` or `exists`, with the body.
    Acknowledged { exists: bool, body: Value },
    /// 4xx with this error code.
    Refused { code: String },
}

impl Answer {
    /// `exists`, `created`, or the error code.
    fn text(&self) -> String {
        match self {
            Answer::Acknowledged { exists: true, .. } => "exists".to_owned(),
            Answer::Acknowledged { exists: false, .. } => "created".to_owned(),
            Answer::Refused { code } => code.clone(),
        }
    }
}

/// The API client: posts until answered, across restarts.
#[derive(Debug, Clone)]
pub(super) struct Client {
    http: reqwest::Client,
    address: watch::Receiver<Option<String>>,
    token: Arc<str>,
}

impl Client {
    pub(super) fn new(
        address: watch::Receiver<Option<String>>,
        token: &str,
    ) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_millis(REQUEST_TIMEOUT_MS))
            .tcp_nodelay(true)
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Client {
            http,
            address,
            token: Arc::from(token),
        })
    }

    /// POSTs `body` to `path` until an answer comes (a success, or a 4xx
    /// with an error code), retrying everything else (no server, a dropped
    /// connection, a timeout, 5xx) with the same body. `None` after
    /// [`REQUEST_GIVE_UP_SECS`]. Also returns the number of attempts.
    pub(super) async fn post(&self, path: &str, body: &Value) -> (Option<Answer>, u32) {
        let deadline = Instant::now() + Duration::from_secs(REQUEST_GIVE_UP_SECS);
        let mut attempts = 0;
        let mut address = self.address.clone();
        loop {
            let now = Instant::now();
            if now >= deadline {
                return (None, attempts);
            }
            let base = match tokio::time::timeout(deadline - now, address.wait_for(Option::is_some))
                .await
            {
                Ok(Ok(base)) => base.clone().unwrap_or_default(),
                Ok(Err(_)) | Err(_) => return (None, attempts),
            };
            attempts += 1;
            if let Some(answer) = self.attempt(&format!("{base}{path}"), body).await {
                return (Some(answer), attempts);
            }
            tokio::time::sleep(Duration::from_millis(RETRY_BACKOFF_MS)).await;
        }
    }

    async fn attempt(&self, url: &str, body: &Value) -> Option<Answer> {
        let response = self
            .http
            .post(url)
            .bearer_auth(&*self.token)
            .json(body)
            .send()
            .await
            .ok()?;
        let status = response.status();
        // A body cut off by a crash is no answer: retry.
        let body: Value = response.json().await.ok()?;
        if status.is_success() {
            let exists = body.get("status").and_then(Value::as_str) == Some("exists");
            return Some(Answer::Acknowledged { exists, body });
        }
        if status.is_client_error() {
            let code = body
                .pointer("/error/code")
                .and_then(Value::as_str)
                .unwrap_or("no_code");
            return Some(Answer::Refused {
                code: code.to_owned(),
            });
        }
        None
    }
}

/// One currency's accounts.
#[derive(Debug, Clone)]
pub(super) struct CurrencyAccounts {
    pub(super) code: &'static str,
    pub(super) issuance: i64,
    pub(super) wallets: Vec<i64>,
}

/// The accounts the workers use.
#[derive(Debug, Clone)]
pub(super) struct Setup {
    currencies: Vec<CurrencyAccounts>,
}

impl Setup {
    pub(super) fn accounts(&self) -> usize {
        self.currencies.iter().map(|c| c.wallets.len() + 1).sum()
    }
}

/// Journals and sends requests, keeping the counts.
#[derive(Debug, Clone)]
pub(super) struct Sender {
    client: Client,
    journal: Arc<JournalWriter>,
    stats: Arc<Stats>,
}

/// What became of a request.
#[derive(Debug, Clone)]
pub(super) struct Sent {
    req: u64,
    answer: Option<Answer>,
}

impl Sent {
    fn acknowledged(&self) -> bool {
        matches!(self.answer, Some(Answer::Acknowledged { .. }))
    }
}

impl Sender {
    /// Journals the transfers, then sends them (a linked group when more
    /// than one) until answered, then journals the answer.
    async fn send(&self, transfers: Vec<WireTransfer>) -> anyhow::Result<Sent> {
        let req = self.stats.next_req.fetch_add(1, Ordering::Relaxed);
        let linked = transfers.len() > 1;
        let body = match transfers.as_slice() {
            [one] => serde_json::to_value(one)?,
            many => json!({ "transfers": many }),
        };
        self.journal.write(&Entry::Send {
            req,
            linked,
            transfers,
        })?;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let (answer, attempts) = self.client.post("/api/v1/transfers", &body).await;
        self.stats
            .retried
            .fetch_add(u64::from(attempts.saturating_sub(1)), Ordering::Relaxed);
        let entry = match &answer {
            Some(Answer::Acknowledged { exists, .. }) => {
                self.stats.acknowledged.fetch_add(1, Ordering::Relaxed);
                if *exists {
                    self.stats
                        .acknowledged_exists
                        .fetch_add(1, Ordering::Relaxed);
                }
                Entry::Ack {
                    req,
                    status: if *exists { "exists" } else { "created" }.to_owned(),
                    attempts,
                }
            }
            Some(Answer::Refused { code }) => {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                Entry::Refused {
                    req,
                    code: code.clone(),
                    attempts,
                }
            }
            None => {
                self.stats.unknown.fetch_add(1, Ordering::Relaxed);
                Entry::Unknown { req, attempts }
            }
        };
        self.journal.write(&entry)?;
        Ok(Sent { req, answer })
    }

    /// Sends acknowledged request `req`'s `transfers` again as a probe and
    /// journals the answer.
    async fn probe(
        &self,
        req: u64,
        probe: Probe,
        transfers: &[WireTransfer],
    ) -> anyhow::Result<()> {
        let body = match transfers {
            [one] => serde_json::to_value(one)?,
            many => json!({ "transfers": many }),
        };
        let (answer, _) = self.client.post("/api/v1/transfers", &body).await;
        let Some(answer) = answer else {
            return Ok(());
        };
        let counter = match probe {
            Probe::Duplicate => &self.stats.duplicates,
            Probe::Conflict => &self.stats.conflicts,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.journal.write(&Entry::Probe {
            req,
            probe,
            answer: answer.text(),
        })
    }
}

/// Opens the issuance account and the wallets of each currency, and funds
/// every wallet (journaled like any transfer).
pub(super) async fn setup(
    client: &Client,
    journal: &Arc<JournalWriter>,
    stats: &Arc<Stats>,
) -> anyhow::Result<Setup> {
    let open = |owner: String, kind: &'static str, currency: &'static str| async move {
        let body = json!({ "owner": owner, "kind": kind, "currency": currency });
        match client.post("/api/v1/accounts", &body).await.0 {
            Some(Answer::Acknowledged { body, .. }) => body
                .pointer("/account/id")
                .and_then(Value::as_i64)
                .context("the account answer has no id"),
            Some(Answer::Refused { code }) => anyhow::bail!("opening {owner} was refused: {code}"),
            None => anyhow::bail!("opening {owner} got no answer"),
        }
    };
    let sender = Sender {
        client: client.clone(),
        journal: Arc::clone(journal),
        stats: Arc::clone(stats),
    };
    let mut currencies = Vec::new();
    for code in CURRENCIES {
        let issuance = open("torture:issuance".to_owned(), "issuance", code).await?;
        let mut wallets = Vec::new();
        for n in 0..WALLETS_PER_CURRENCY {
            let wallet = open(format!("torture:wallet:{n}"), "user_wallet", code).await?;
            let funding = single(issuance, wallet, WALLET_OPENING_MINOR, code);
            let sent = sender.send(vec![funding]).await?;
            anyhow::ensure!(sent.acknowledged(), "funding wallet {wallet} failed");
            wallets.push(wallet);
        }
        currencies.push(CurrencyAccounts {
            code,
            issuance,
            wallets,
        });
    }
    Ok(Setup { currencies })
}

/// A new transfer id: a UUID v4 from the operating system's randomness,
/// not from the seeded workload, so no two requests can share one.
fn fresh_id() -> String {
    format!("{:032x}", uuid::Uuid::new_v4().as_u128())
}

fn single(debit: i64, credit: i64, amount: i64, currency: &str) -> WireTransfer {
    WireTransfer {
        id: fresh_id(),
        kind: "single".to_owned(),
        debit_account_id: Some(debit),
        credit_account_id: Some(credit),
        amount: Some(amount),
        currency: Some(currency.to_owned()),
        timeout_secs: None,
        pending_id: None,
    }
}

fn pending(
    debit: i64,
    credit: i64,
    amount: i64,
    currency: &str,
    timeout_secs: u32,
) -> WireTransfer {
    WireTransfer {
        kind: "pending".to_owned(),
        timeout_secs: Some(timeout_secs),
        ..single(debit, credit, amount, currency)
    }
}

fn resolution(kind: &str, of: &WireTransfer) -> WireTransfer {
    WireTransfer {
        id: fresh_id(),
        kind: kind.to_owned(),
        debit_account_id: None,
        credit_account_id: None,
        amount: None,
        currency: None,
        timeout_secs: None,
        pending_id: Some(of.id.clone()),
    }
}

/// Two different wallets of one currency.
fn two_wallets(rng: &mut StdRng, wallets: &[i64]) -> Option<(i64, i64)> {
    let mut picked = wallets.choose_multiple(rng, 2);
    Some((*picked.next()?, *picked.next()?))
}

/// One worker: random operations until `stop`, each finished (answered)
/// before the next starts.
pub(super) async fn worker(
    seed: u64,
    client: Client,
    journal: Arc<JournalWriter>,
    setup: Setup,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let sender = Sender {
        client,
        journal,
        stats,
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut last_acknowledged: Option<(u64, Vec<WireTransfer>)> = None;
    while !stop.load(Ordering::Relaxed) {
        let Some(currency) = setup.currencies.choose(&mut rng) else {
            return Ok(());
        };
        let code = currency.code;
        let Some((payer, payee)) = two_wallets(&mut rng, &currency.wallets) else {
            return Ok(());
        };
        let roll = rng.random_range(0..100);
        let transfers = match roll {
            // A payment.
            0..45 => {
                let amount = rng.random_range(1..=PAYMENT_MINOR_MAX);
                vec![single(payer, payee, amount, code)]
            }
            // A top-up from issuance.
            45..50 => {
                let amount = rng.random_range(1..=TOPUP_MINOR_MAX);
                vec![single(currency.issuance, payee, amount, code)]
            }
            // A two-phase payment.
            50..75 => {
                let amount = rng.random_range(1..=PAYMENT_MINOR_MAX);
                let timeout = if rng.random_bool(0.2) {
                    PENDING_TIMEOUT_SHORT_SECS
                } else {
                    PENDING_TIMEOUT_LONG_SECS
                };
                vec![pending(payer, payee, amount, code, timeout)]
            }
            // A split: the payer pays several wallets, all or nothing.
            75..90 => {
                let payees = rng.random_range(2..=SPLIT_PAYEES_MAX);
                let mut group = Vec::new();
                for payee in currency.wallets.choose_multiple(&mut rng, payees + 1) {
                    if *payee != payer && group.len() < payees {
                        let share = rng.random_range(1..=SPLIT_SHARE_MINOR_MAX);
                        group.push(single(payer, *payee, share, code));
                    }
                }
                group
            }
            // A reservation linked with a fee-like payment.
            90..95 => {
                let amount = rng.random_range(1..=PAYMENT_MINOR_MAX);
                let fee = rng.random_range(1..=SPLIT_SHARE_MINOR_MAX);
                vec![
                    pending(payer, payee, amount, code, PENDING_TIMEOUT_LONG_SECS),
                    single(payer, currency.issuance, fee, code),
                ]
            }
            // Probes of the last acknowledged request.
            _ => {
                if let Some((req, transfers)) = &last_acknowledged {
                    sender.probe(*req, Probe::Duplicate, transfers).await?;
                    if let Some(first) = transfers.first()
                        && let Some(amount) = first.amount
                    {
                        let changed = WireTransfer {
                            amount: Some(amount + 1),
                            ..first.clone()
                        };
                        sender.probe(*req, Probe::Conflict, &[changed]).await?;
                    }
                }
                continue;
            }
        };
        if transfers.is_empty() {
            continue;
        }
        let sent = sender.send(transfers.clone()).await?;
        if !sent.acknowledged() {
            continue;
        }
        last_acknowledged = Some((sent.req, transfers.clone()));
        for reserved in transfers.iter().filter(|t| t.kind == "pending") {
            resolve(&sender, &mut rng, reserved).await?;
        }
    }
    Ok(())
}

/// Posts (all or part), voids or abandons an acknowledged pending transfer;
/// a short one first waits, to race the sweeper's expiry.
async fn resolve(sender: &Sender, rng: &mut StdRng, reserved: &WireTransfer) -> anyhow::Result<()> {
    if reserved.timeout_secs == Some(PENDING_TIMEOUT_SHORT_SECS) {
        let delay = rng.random_range(0..=RACE_DELAY_MS_MAX);
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let roll = rng.random_range(0..100);
    let transfer = match roll {
        // Abandoned: stays pending (or expires).
        0..10 => return Ok(()),
        10..55 => resolution("post", reserved),
        55..75 => {
            let amount = reserved.amount.unwrap_or(1);
            let mut post = resolution("post", reserved);
            if amount > 1 {
                post.amount = Some(rng.random_range(1..amount));
                post.currency = reserved.currency.clone();
            }
            post
        }
        _ => resolution("void", reserved),
    };
    sender.send(vec![transfer]).await.map(|_| ())
}
