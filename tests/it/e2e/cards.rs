//! Cards through the real binary: a card conversation over the mock chat's
//! HTTP API on `paybot serve` with the in-process rail simulator (link,
//! top-up, cash-out with its fee, a decline, a slow approval resolved by
//! the sweep, a card number posted in a group and deleted), the
//! simulator's totals against the card-clearing account, `paybot verify`,
//! and no card number in any log line at debug level. Then `paybot
//! card-sim` standalone with `paybot serve` pointed at it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ledger::{AccountKind, Currency, Ledger, LedgerConfig, NewAccount, OwnerRef, SystemClock};
use serde_json::{Value, json};

use super::support::{Server, http_get_with_headers, http_post, paybot, run, word_after};
use super::telegram::serve_with_telegram;
use crate::support::fake_telegram::{FakeTelegram, TgUser};

/// How long a test waits for paybot to answer over Telegram, in seconds.
const WAIT_SECS: u64 = 30;
const API_KEY: &str = "e2e-cards-simulator-key-0001";
/// How long the sweep may take to resolve a slow (202) request: the core
/// asks again after `bot::service::RAIL_RETRY_MS`.
const SLOW_RESOLVE_SECS: u64 = 30;
/// Every test card the conversation types.
const CARDS: [&str; 3] = ["4111111111111111", "4000000000000002", "4000000000000119"];

struct Chat<'a> {
    server: &'a Server,
}

impl Chat<'_> {
    /// Sends and returns the whole answer (`message`, `deliveries`,
    /// `deleted`).
    fn send(&self, from: &str, chat: &str, text: &str) -> Value {
        let body = json!({ "from": from, "chat": chat, "text": text });
        let (status, text) = http_post(
            self.server.addr,
            "/mock/messages",
            Some("application/json"),
            &body.to_string(),
        );
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Sends and returns the texts `from` received in the DM.
    fn dm(&self, from: &str, text: &str) -> String {
        let answer = self.send(from, "dm", text);
        answer["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["to"] == from && d["chat"] == "dm")
            .map(|d| d["text"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `/topup` or `/cashout`, then `/confirm` with the code sent; the
    /// answer to the confirm.
    fn confirmed(&self, from: &str, command: &str) -> String {
        let prompt = self.dm(from, command);
        let code = word_after(&prompt, "/confirm ");
        self.dm(from, &format!("/confirm {code}"))
    }

    fn inbox(&self, user: &str) -> Vec<String> {
        let (status, body) = self.server.get(&format!("/mock/users/{user}/messages"));
        assert_eq!(status, 200, "{body}");
        let value: Value = serde_json::from_str(&body).unwrap();
        value["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Waits for a message to `user` containing `needle` (the sweep
    /// delivers it on its own time).
    fn wait_for(&self, user: &str, needle: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(text) = self.inbox(user).into_iter().find(|t| t.contains(needle)) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no message to {user} containing {needle:?} within {secs} s: {:?}",
                self.inbox(user)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `12/YY` three years from now: always in the future, never too far.
fn future_expiry() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let year = 1970 + secs / 31_556_952;
    format!("12/{:02}", (year + 3) % 100)
}

/// `GET /simulator/totals` at `addr`: the net minor units of USD.
fn simulator_net_usd(addr: SocketAddr) -> (i64, Value) {
    let (status, body) =
        http_get_with_headers(addr, "/simulator/totals", &[("x-api-key", API_KEY)]);
    assert_eq!(status, 200, "{body}");
    let totals: Value = serde_json::from_str(&body).unwrap();
    let net = totals["currencies"]["USD"]["net_minor"].as_i64().unwrap();
    (net, totals)
}

/// The posted balance of the USD card-clearing account in the SQLite file.
async fn clearing_posted_usd(dir: &Path) -> i64 {
    let url = format!("sqlite:{}", dir.join("data/paybot.db").display());
    let ledger = Ledger::connect(&LedgerConfig::new(&url), Arc::new(SystemClock))
        .await
        .unwrap();
    let clearing = ledger
        .open_account(&NewAccount {
            owner: OwnerRef::system(),
            kind: AccountKind::CardClearing,
            currency: Currency::USD,
        })
        .await
        .unwrap();
    ledger.close().await;
    clearing.balance().posted
}

/// Lines of `log` that hold one of [`CARDS`], whole or in groups of 4
/// with spaces or dashes between them.
fn card_numbers_in(log: &str) -> Vec<String> {
    let mut forms = Vec::new();
    for card in CARDS {
        let groups: Vec<&str> = (0..4).map(|i| &card[i * 4..i * 4 + 4]).collect();
        forms.push(card.to_owned());
        forms.push(groups.join(" "));
        forms.push(groups.join("-"));
    }
    log.lines()
        .filter(|line| forms.iter().any(|form| line.contains(form.as_str())))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cards_over_the_mock_chat_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        paybot(dir.path())
            .arg("serve")
            .env("RUST_LOG", "debug")
            .env("PAYBOT_CARDS__API_KEY", API_KEY)
            .env("PAYBOT_CARDS__CASHOUT_FEE_PERCENT", "2")
            .env("PAYBOT_CARDS__CASHOUT_FEE_MIN", "0.25 USD")
            // No wait before cashing out to a new card (this test runs on
            // the real clock; the wait, the `new_card` rule, is tested in
            // the test below).
            .env("PAYBOT_TRUST__RULES__RULE__NEW_CARD__ENABLED", "false")
            .env("PAYBOT_BOT__SWEEP_INTERVAL_MS", "100"),
    );
    let chat = Chat { server: &server };
    let expiry = future_expiry();

    assert!(chat.dm("alice", "/start").contains("$100.00 of play money"));
    let asked = chat.dm("alice", &format!("/card add {} {expiry}", CARDS[0]));
    assert!(asked.contains("To link Visa"), "{asked}");
    let linked = chat.dm(
        "alice",
        &format!("/confirm {}", word_after(&asked, "/confirm ")),
    );
    assert!(
        linked.contains("Linked Visa \u{2022}\u{2022}\u{2022}\u{2022} 1111"),
        "{linked}"
    );

    let topup = chat.confirmed("alice", "/topup 20");
    assert!(
        topup.contains("Done: added $20.00 to your wallet"),
        "{topup}"
    );
    let cashout = chat.confirmed("alice", "/cashout 10");
    assert!(cashout.contains("Done: sent $10.00"), "{cashout}");
    assert!(cashout.contains("fee $0.25"), "{cashout}");
    assert!(
        chat.dm("alice", "/balance").contains("$109.75 available"),
        "100 + 20 - 10 - 0.25"
    );

    chat.confirmed("alice", &format!("/card add {} {expiry}", CARDS[1]));
    let declined = chat.confirmed("alice", "/topup 5 card 2");
    assert!(declined.contains("was declined"), "{declined}");
    assert!(declined.contains("Nothing was charged"), "{declined}");

    chat.confirmed("alice", &format!("/card add {} {expiry}", CARDS[2]));
    let slow = chat.confirmed("alice", "/topup 7 card 3");
    assert!(slow.contains("taking a moment"), "{slow}");
    chat.wait_for(
        "alice",
        "Done: added $7.00 to your wallet from Visa \u{2022}\u{2022}\u{2022}\u{2022} 0119",
        SLOW_RESOLVE_SECS,
    );
    assert!(chat.dm("alice", "/balance").contains("$116.75 available"));

    // A card number in a group: deleted, and the group told so.
    chat.send("bob", "party", "hi all");
    let posted = chat.send(
        "alice",
        "party",
        &format!("pay me back to {}", "4111-1111-1111-1111"),
    );
    let message = posted["message"].as_str().unwrap();
    assert_eq!(posted["deleted"], json!([message]), "{posted}");
    let warned = posted["deliveries"].as_array().unwrap();
    assert!(
        warned
            .iter()
            .any(|d| d["to"] == "bob" && d["text"].as_str().unwrap().contains("so I deleted it")),
        "{posted}"
    );
    let (status, body) = server.get("/mock/chats/party/messages");
    assert_eq!(status, 200, "{body}");
    let history: Value = serde_json::from_str(&body).unwrap();
    let gone = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == message)
        .unwrap();
    assert_eq!(gone["deleted"], true, "{history}");
    assert_eq!(gone["text"], "", "{history}");
    assert!(!body.contains("1111"), "{body}");

    // The rail's record of money moved matches the clearing account.
    let (net, totals) = simulator_net_usd(server.addr);
    assert_eq!(net, 2_000 - 1_000 + 700, "{totals}");
    assert_eq!(totals["currencies"]["USD"]["pulls"]["count"], 2, "{totals}");

    server.signal("TERM");
    let (status, log) = server.wait_for_exit();
    assert!(status.success(), "{status:?}\n{log}");
    assert!(log.contains("DEBUG"), "the log ran at debug level");
    assert_eq!(clearing_posted_usd(dir.path()).await, -net);
    let verified = run(paybot(dir.path()).arg("verify"));
    assert_eq!(verified.code(), Some(0), "{verified:?}");
    let leaked = card_numbers_in(&log);
    assert!(
        leaked.is_empty(),
        "card numbers in the log:\n{}",
        leaked.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paybot_uses_a_standalone_card_sim() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Server::start(
        paybot(dir.path())
            .args(["card-sim", "--addr", "127.0.0.1:0"])
            .env("PAYBOT_CARDS__API_KEY", API_KEY),
    );
    // A rail URL makes this production, where the mock chat never runs
    // beside a card rail: driven from Telegram, as a real deployment is.
    let telegram = FakeTelegram::start().await;
    let server = Server::start(
        serve_with_telegram(dir.path(), &telegram)
            .env("PAYBOT_CARDS__API_KEY", API_KEY)
            .env("PAYBOT_CARDS__RAIL_URL", format!("http://{}", sim.addr)),
    );
    let alice = TgUser {
        id: 7_001,
        first_name: "Alice",
        username: Some("alice"),
    };
    let say = |text: &str| {
        telegram.push(telegram.message(&alice, alice.dm(), text, json!({})));
        telegram.wait_drained(WAIT_SECS)
    };
    // `command`, then /confirm with the code it sent; the answer to that.
    let confirmed = |command: String, prompt: &'static str, answer: &'static str| {
        let say = &say;
        let telegram = &telegram;
        async move {
            say(&command).await;
            let asked = telegram.wait_for(alice.id, prompt, WAIT_SECS).await;
            let code = word_after(asked.text(), "/confirm ");
            say(&format!("/confirm {code}")).await;
            telegram
                .wait_for(alice.id, answer, WAIT_SECS)
                .await
                .text()
                .to_owned()
        }
    };

    say("/start").await;
    let linked = confirmed(
        format!("/card add {} {}", CARDS[0], future_expiry()),
        "To link Visa",
        "Linked Visa",
    )
    .await;
    assert!(linked.contains("(24 h after it was added)"), "{linked}");
    let topup = confirmed("/topup 20".to_owned(), "To add $20.00", "Done: added").await;
    assert!(topup.contains("Done: added $20.00"), "{topup}");
    // With the shipped `new_card` rule, a new card is not cashed out to for
    // a day.
    say("/cashout 5").await;
    let refused = telegram
        .wait_for(
            alice.id,
            "Cash-outs to a new card are possible from",
            WAIT_SECS,
        )
        .await;
    assert!(!refused.text().contains("/confirm"), "{}", refused.text());

    let (net, totals) = simulator_net_usd(sim.addr);
    assert_eq!(net, 2_000, "{totals}");
    assert_eq!(totals["currencies"]["USD"]["pulls"]["count"], 1, "{totals}");
    // No simulator inside paybot when it is pointed at a rail.
    let (status, _) =
        http_get_with_headers(server.addr, "/simulator/totals", &[("x-api-key", API_KEY)]);
    assert_eq!(status, 404);

    server.signal("TERM");
    let (status, log) = server.wait_for_exit();
    assert!(status.success(), "{status:?}\n{log}");
    assert_eq!(clearing_posted_usd(dir.path()).await, -2_000);
    let verified = run(paybot(dir.path()).arg("verify"));
    assert_eq!(verified.code(), Some(0), "{verified:?}");
    sim.signal("INT");
    let (status, sim_log) = sim.wait_for_exit();
    assert!(status.success(), "{status:?}\n{sim_log}");
    assert!(card_numbers_in(&sim_log).is_empty(), "{sim_log}");
}
