//! `/metrics` on the real binary: off by default, behind its token on the
//! main listener, on a listener of its own when asked, and counts that move
//! after a conversation on the mock chat (both backends).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::support::{
    PgDatabase, Server, http_get, http_get_with_headers, http_post, serve, serve_fresh,
};

const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef0123456789";
const OPERATOR_TOKEN: &str = "operator-token-0123456789abcdef0123456789";
/// How long the outbox may take to tell the payee (the dispatcher is woken
/// by the confirmation; it also polls every second).
const DELIVERY_WAIT_SECS: u64 = 20;

/// One sample's value in a Prometheus text body: `name{labels} value`,
/// labels in the order paybot writes them; 0 when
/// absent.
fn sample(body: &str, series: &str) -> f64 {
    body.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse::<f64>().unwrap())
        })
        .unwrap_or(0.0)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn scrape(addr: SocketAddr, token: &str) -> String {
    let auth = bearer(token);
    let (status, body) = http_get_with_headers(addr, "/metrics", &[("Authorization", &auth)]);
    assert_eq!(status, 200, "{body}");
    body
}

/// Sends one mock chat message; the deliveries' texts.
fn say(server: &Server, body: Value) -> Vec<String> {
    let (status, text) = http_post(
        server.addr,
        "/mock/messages",
        Some("application/json"),
        &body.to_string(),
    );
    assert_eq!(status, 200, "{text}");
    let value: Value = serde_json::from_str(&text).unwrap();
    value["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["text"].as_str().unwrap().to_owned())
        .collect()
}

/// The address the metrics listener logged.
fn metrics_addr(server: &Server) -> SocketAddr {
    let log = server.stderr();
    let line = log
        .lines()
        .find(|line| line.contains("metrics: serving /metrics on "))
        .unwrap_or_else(|| panic!("no metrics listener in the log:\n{log}"));
    let (_, addr) = line.split_once(" on ").unwrap();
    addr.trim().parse().unwrap()
}

#[test]
fn metrics_are_off_by_default() {
    let (_dir, server) = serve_fresh(&[]);
    let (status, _) = server.get("/metrics");
    assert_eq!(status, 404, "no token, no listener: no /metrics");
    assert!(!server.stderr().contains("metrics: serving"));
}

#[test]
fn the_metrics_listener_without_a_token_serves_only_metrics_and_only_there() {
    let (_dir, server) = serve_fresh(&[("PAYBOT_METRICS__LISTEN", "127.0.0.1:0")]);
    let own = metrics_addr(&server);
    assert_ne!(own, server.addr);
    let (status, body) = http_get(own, "/metrics");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("# TYPE paybot_messages_total counter"),
        "{body}"
    );
    assert_eq!(http_get(own, "/mock/users/alice/messages").0, 404);
    assert_eq!(http_get(own, "/healthz").0, 404);
    assert_eq!(server.get("/metrics").0, 404, "the main listener has none");
}

#[tokio::test]
async fn sqlite_a_scrape_after_a_conversation_sees_the_counts_move() {
    let (_dir, server) = serve_fresh(&[
        ("PAYBOT_METRICS__TOKEN", METRICS_TOKEN),
        ("PAYBOT_METRICS__LISTEN", "127.0.0.1:0"),
    ]);
    conversation_moves_the_counts(&server);
}

#[tokio::test]
async fn postgres_a_scrape_after_a_conversation_sees_the_counts_move() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&mut serve(
        dir.path(),
        &[
            ("PAYBOT_DATABASE__URL", db.url.as_str()),
            ("PAYBOT_METRICS__TOKEN", METRICS_TOKEN),
            ("PAYBOT_METRICS__LISTEN", "127.0.0.1:0"),
        ],
    ));
    conversation_moves_the_counts(&server);
    drop(server);
}

fn conversation_moves_the_counts(server: &Server) {
    // No token, a wrong one, another scheme: refused.
    assert_eq!(server.get("/metrics").0, 401);
    let wrong = bearer("wrong-token-0123456789abcdef0123456789abc");
    let refused = http_get_with_headers(server.addr, "/metrics", &[("Authorization", &wrong)]);
    assert_eq!(refused.0, 401);
    let basic = format!("Basic {METRICS_TOKEN}");
    let refused = http_get_with_headers(server.addr, "/metrics", &[("Authorization", &basic)]);
    assert_eq!(refused.0, 401);
    // The own listener asks for the token too, since one is set.
    let own = metrics_addr(server);
    assert_eq!(http_get(own, "/metrics").0, 401);

    let before = scrape(server.addr, METRICS_TOKEN);
    let handled = r#"paybot_messages_total{platform="mock",outcome="handled"}"#;
    let replayed = r#"paybot_messages_total{platform="mock",outcome="replayed"}"#;
    let completed = r#"paybot_payments_ended_total{state="completed"}"#;
    let awaiting = r#"paybot_payments_open{state="awaiting_code"}"#;
    assert_eq!(sample(&before, handled), 0.0, "{before}");
    assert_eq!(sample(&before, completed), 0.0);
    assert!(before.contains("paybot_metrics_database_up 1"), "{before}");
    assert!(before.contains("# TYPE paybot_ledger_batch_groups histogram"));
    assert!(before.contains("# TYPE paybot_outbox_delivery_lag_seconds histogram"));
    assert!(before.contains(r#"paybot_card_rail_calls_total{call="pull",result="approved"} 0"#));
    assert!(before.contains("process_resident_memory_bytes"), "{before}");

    say(
        server,
        json!({ "from": "alice", "chat": "dm", "text": "/start" }),
    );
    say(
        server,
        json!({ "from": "bob", "chat": "dm", "text": "/start" }),
    );
    let paying = say(
        server,
        json!({ "from": "alice", "chat": "dm", "text": "/pay @bob 5 for tea" }),
    );
    let code: String = paying
        .iter()
        .find_map(|text| text.split("/confirm ").nth(1))
        .unwrap_or_else(|| panic!("no code in {paying:?}"))
        .chars()
        .take(6)
        .collect();
    let waiting = scrape(server.addr, METRICS_TOKEN);
    assert_eq!(sample(&waiting, awaiting), 1.0, "{waiting}");

    let confirm =
        json!({ "from": "alice", "chat": "dm", "text": format!("/confirm {code}"), "id": "m-1" });
    say(server, confirm.clone());
    say(server, confirm);

    let deadline = Instant::now() + Duration::from_secs(DELIVERY_WAIT_SECS);
    let after = loop {
        let body = scrape(server.addr, METRICS_TOKEN);
        if sample(&body, "paybot_outbox_delivery_lag_seconds_count") >= 1.0 {
            break body;
        }
        assert!(Instant::now() < deadline, "bob was never told:\n{body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(sample(&after, handled), 4.0, "{after}");
    assert_eq!(sample(&after, replayed), 1.0, "{after}");
    assert_eq!(sample(&after, completed), 1.0, "{after}");
    assert_eq!(sample(&after, awaiting), 0.0, "{after}");
    assert!(
        sample(&after, "paybot_ledger_batches_total")
            > sample(&before, "paybot_ledger_batches_total"),
        "{after}"
    );
    assert!(sample(&after, "paybot_ledger_batch_groups_count") >= 1.0);
    assert!(
        sample(&after, "paybot_ledger_commit_seconds_count")
            > sample(&before, "paybot_ledger_commit_seconds_count"),
        "the commits of the conversation are timed"
    );
    assert!(sample(&after, "paybot_ledger_commit_seconds_sum") > 0.0);
    assert!(sample(&after, r#"paybot_ledger_batch_groups_bucket{le="+Inf"}"#) >= 1.0);
    // The own listener serves the same figures, with the token.
    let own_body = scrape(own, METRICS_TOKEN);
    assert_eq!(sample(&own_body, completed), 1.0, "{own_body}");
    assert!(
        !server.stderr().contains(METRICS_TOKEN),
        "the token in the log"
    );
}

#[test]
fn the_operator_token_scrapes_the_main_listener_and_a_ledger_token_does_not() {
    let read = "read-token-0123456789abcdef0123456789abcd";
    let (_dir, server) = serve_fresh(&[
        ("PAYBOT_API__OPERATOR_TOKEN", OPERATOR_TOKEN),
        ("PAYBOT_API__READ_TOKEN", read),
        // A staging server: the mock chat in production, as the operator
        // tests run it.
        ("PAYBOT_DEPLOYMENT__ALLOW_IN_PRODUCTION", "mock_chat"),
    ]);
    let body = scrape(server.addr, OPERATOR_TOKEN);
    assert!(body.contains("paybot_messages_total"), "{body}");
    let auth = bearer(read);
    let refused = http_get_with_headers(server.addr, "/metrics", &[("Authorization", &auth)]);
    assert_eq!(refused.0, 401, "a ledger token does not scrape");
}

/// Texts `from` got in the DM in answer to `text`.
fn dm(server: &Server, from: &str, text: &str) -> String {
    say(server, json!({ "from": from, "chat": "dm", "text": text })).join("\n")
}

/// `command`, then `/confirm` with the code it sent.
fn confirmed(server: &Server, from: &str, command: &str) -> String {
    let prompt = dm(server, from, command);
    let code = super::support::word_after(&prompt, "/confirm ");
    dm(server, from, &format!("/confirm {code}"))
}

#[test]
fn card_rail_calls_are_counted_by_call_and_result() {
    let (_dir, server) = serve_fresh(&[("PAYBOT_METRICS__LISTEN", "127.0.0.1:0")]);
    let own = metrics_addr(&server);
    // December, three years on: always in the future.
    let year = 1970
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 31_556_952;
    let expiry = format!("12/{:02}", (year + 3) % 100);
    dm(&server, "alice", "/start");
    confirmed(
        &server,
        "alice",
        &format!("/card add 4111111111111111 {expiry}"),
    );
    let topup = confirmed(&server, "alice", "/topup 20");
    assert!(topup.contains("Done: added $20.00"), "{topup}");
    confirmed(
        &server,
        "alice",
        &format!("/card add 4000000000000002 {expiry}"),
    );
    let declined = confirmed(&server, "alice", "/topup 5 card 2");
    assert!(declined.contains("was declined"), "{declined}");

    let (status, body) = http_get(own, "/metrics");
    assert_eq!(status, 200, "{body}");
    let calls = |call: &str, result: &str| {
        sample(
            &body,
            &format!(r#"paybot_card_rail_calls_total{{call="{call}",result="{result}"}}"#),
        )
    };
    assert_eq!(calls("tokenize", "approved"), 2.0, "{body}");
    assert_eq!(calls("pull", "approved"), 1.0, "{body}");
    assert_eq!(calls("pull", "declined"), 1.0, "{body}");
    assert_eq!(calls("push", "approved"), 0.0, "{body}");
}

#[test]
fn wrong_metrics_tokens_are_throttled() {
    let (_dir, server) = serve_fresh(&[("PAYBOT_METRICS__TOKEN", METRICS_TOKEN)]);
    let wrong = bearer("wrong-token-0123456789abcdef0123456789abc");
    for _ in 0..paybot::api::AUTH_FAILURES_PER_ADDRESS_MAX {
        let refused = http_get_with_headers(server.addr, "/metrics", &[("Authorization", &wrong)]);
        assert_eq!(refused.0, 401);
    }
    let auth = bearer(METRICS_TOKEN);
    let throttled = http_get_with_headers(server.addr, "/metrics", &[("Authorization", &auth)]);
    assert_eq!(throttled.0, 429, "{}", throttled.1);
    assert!(throttled.1.contains("too many requests with a wrong token"));
}
