//! Development or production, through the binary: a deployment that talks
//! to a real platform, rail or API client serves nothing meant for
//! development (the mock chat, play money, the card simulator) unless the
//! operator allows each part by name, and then warns at every start.
//!
//! These are the attacks of issue 14's findings 1-3, tried as an outsider
//! would: `/mock/*` and the simulator on a server with a Telegram token,
//! and a top-up from a test card approved by the in-process simulator.

use serde_json::json;
use tokio::runtime::Runtime;

use super::support::{Server, http_post, paybot, run, serve, serve_fresh};
use super::telegram::{say, serve_with_telegram};
use crate::support::fake_telegram::{FakeTelegram, TOKEN, TgUser};

const WAIT_SECS: u64 = 30;

const MALLORY: TgUser = TgUser {
    id: 6_001,
    first_name: "Mallory",
    username: Some("mallory"),
};

fn mock_message(server: &Server, from: &str, text: &str) -> (u16, String) {
    let body = json!({"from": from, "chat": "dm", "text": text}).to_string();
    http_post(
        server.addr,
        "/mock/messages",
        Some("application/json"),
        &body,
    )
}

#[test]
fn a_telegram_token_with_defaults_serves_no_mock_chat_and_no_simulator() {
    let rt = Runtime::new().unwrap();
    let fake = rt.block_on(FakeTelegram::start());
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&mut serve_with_telegram(dir.path(), &fake));
    // Finding 1: the mock chat is not there to mint play money or to drive
    // a linked identity.
    let (status, _) = mock_message(&server, "mallory_m", "/start");
    assert_eq!(status, 404, "POST /mock/messages is served in production");
    assert_eq!(server.get("/mock/users/mallory_m/messages").0, 404);
    // Finding 3: no simulator, neither its routes nor as the card rail.
    assert_eq!(server.get("/simulator/totals").0, 404);
    say(&rt, &fake, &MALLORY, MALLORY.dm(), "/start");
    say(
        &rt,
        &fake,
        &MALLORY,
        MALLORY.dm(),
        "/card add 4111 1111 1111 1111 12/30",
    );
    say(&rt, &fake, &MALLORY, MALLORY.dm(), "/topup 1000000");
    rt.block_on(fake.wait_for(MALLORY.id, "Cards are not enabled", WAIT_SECS));
    for call in fake.sent_to(MALLORY.id) {
        assert!(!call.text().contains("Done"), "{}", call.text());
        assert!(!call.text().contains("play money"), "{}", call.text());
    }

    let log = server.stderr();
    assert!(
        log.contains("deployment: production (telegram.token is set)"),
        "{log}"
    );
    assert!(log.contains("mock chat: off"), "{log}");
    assert!(log.contains("cards: off"), "{log}");
    server.signal("TERM");
    let (status, log) = server.wait_for_exit();
    assert!(status.success(), "{log}");
    let verified = run(paybot(dir.path()).arg("verify"));
    assert_eq!(verified.code(), Some(0), "{}", verified.stdout);
}

#[test]
fn development_parts_asked_for_in_production_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    // The mock chat switched on by name, next to a real platform.
    let refused = run(&mut serve(
        dir.path(),
        &[
            ("PAYBOT_TELEGRAM__TOKEN", TOKEN),
            ("PAYBOT_MOCK__ENABLED", "true"),
        ],
    ));
    assert_eq!(refused.code(), Some(2), "{}", refused.stderr);
    for needle in [
        "mock.enabled",
        "PAYBOT_MOCK__ENABLED",
        "production",
        "telegram.token",
        "deployment.allow_in_production",
    ] {
        assert!(
            refused.stderr.contains(needle),
            "{needle}: {}",
            refused.stderr
        );
    }
    assert!(!refused.stderr.contains(TOKEN), "the token was printed");
    // Cards on by name with no rail: that would be the simulator.
    let refused = run(&mut serve(
        dir.path(),
        &[
            (
                "PAYBOT_API__TOKEN",
                "an-api-token-of-at-least-32-characters",
            ),
            ("PAYBOT_CARDS__ENABLED", "true"),
        ],
    ));
    assert_eq!(refused.code(), Some(2), "{}", refused.stderr);
    for needle in [
        "cards.enabled",
        "cards.rail_url",
        "api.token",
        "card_simulator",
    ] {
        assert!(
            refused.stderr.contains(needle),
            "{needle}: {}",
            refused.stderr
        );
    }
    // `paybot chat` is the mock chat: not on a production configuration.
    let refused = run(paybot(dir.path())
        .env("PAYBOT_TELEGRAM__TOKEN", TOKEN)
        .arg("chat"));
    assert_eq!(refused.code(), Some(2), "{}", refused.stderr);
    assert!(refused.stderr.contains("mock chat"), "{}", refused.stderr);
    assert!(
        !dir.path().join("data/paybot.db").exists(),
        "a refused start opened the database"
    );
}

#[test]
fn development_parts_allowed_by_name_run_and_warn_at_every_start() {
    let rt = Runtime::new().unwrap();
    let fake = rt.block_on(FakeTelegram::start());
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(serve_with_telegram(dir.path(), &fake).env(
        "PAYBOT_DEPLOYMENT__ALLOW_IN_PRODUCTION",
        "mock_chat,card_simulator",
    ));
    let (status, answer) = mock_message(&server, "dev_m", "/start");
    assert_eq!(status, 200, "{answer}");
    // Served (behind the simulator's key), where production would 404.
    assert_eq!(server.get("/simulator/totals").0, 401);
    let log = server.stderr();
    for needle in ["WARN", "the mock chat", "the card simulator", "staging"] {
        assert!(log.contains(needle), "{needle}: {log}");
    }
    // Unknown parts are refused, naming the choices.
    let refused = run(&mut serve(
        dir.path(),
        &[
            ("PAYBOT_TELEGRAM__TOKEN", TOKEN),
            ("PAYBOT_DEPLOYMENT__ALLOW_IN_PRODUCTION", "everything"),
        ],
    ));
    assert_eq!(refused.code(), Some(2), "{}", refused.stderr);
    assert!(refused.stderr.contains("mock_chat"), "{}", refused.stderr);
}

#[test]
fn development_says_so_and_play_money_has_its_own_issuance_account() {
    let (dir, server) = serve_fresh(&[]);
    let log = server.stderr();
    assert!(log.contains("deployment: development"), "{log}");
    let (status, answer) = mock_message(&server, "alice", "/start");
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("play money"), "{answer}");
    server.signal("TERM");
    let (status, log) = server.wait_for_exit();
    assert!(status.success(), "{log}");

    // The books tell play money from real money: the $100.00 came from the
    // play-money issuance account, and real issuance moved nothing.
    let rt = Runtime::new().unwrap();
    let rows: Vec<(i64, i64)> = rt.block_on(async {
        let url = format!("sqlite:{}", dir.path().join("data/paybot.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let rows = sqlx::query_as(
            "SELECT kind, credits_posted - debits_posted FROM accounts WHERE kind IN (2, 6) ORDER BY kind",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        rows
    });
    assert_eq!(
        rows,
        vec![(6, -10_000)],
        "issuance accounts (kind, balance)"
    );
}

#[test]
fn a_database_that_served_production_never_runs_development() {
    let rt = Runtime::new().unwrap();
    let fake = rt.block_on(FakeTelegram::start());
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&mut serve_with_telegram(dir.path(), &fake));
    server.signal("TERM");
    let (status, log) = server.wait_for_exit();
    assert!(status.success(), "{log}");
    // The same database from a shell without the service's token: that
    // process would be development, with play money and the simulator.
    let refused = run(paybot(dir.path()).arg("chat"));
    assert_eq!(refused.code(), Some(2), "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("has served a production deployment"),
        "{}",
        refused.stderr
    );
    let refused = run(&mut serve(dir.path(), &[]));
    assert_eq!(refused.code(), Some(2), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("database.url"),
        "{}",
        refused.stderr
    );
    // Production itself starts again on it.
    let server = Server::start(&mut serve_with_telegram(dir.path(), &fake));
    server.signal("TERM");
    let (status, log) = server.wait_for_exit();
    assert!(status.success(), "{log}");
}
