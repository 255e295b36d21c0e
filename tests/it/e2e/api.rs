//! The ledger HTTP API in the real binary: mounted under `/api/v1` only
//! when `api.token` is set, behind the bearer token, with JSON errors.

use serde_json::{Value, json};

use super::support::{Server, http_get, http_post_with_headers, paybot, run, serve, serve_fresh};

const TOKEN: &str = "e2e-token-0123456789abcdef0123456789abcdef";

fn json_body(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

fn serve_with_token(dir: &std::path::Path, token: Option<&str>) -> Server {
    let mut cmd = paybot(dir);
    cmd.arg("serve").env("PAYBOT_MOCK__ENABLED", "false");
    if let Some(token) = token {
        cmd.env("PAYBOT_API__TOKEN", token);
    }
    Server::start(&mut cmd)
}

fn post(server: &Server, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let (status, text) = http_post_with_headers(
        server.addr,
        &format!("/api/v1{path}"),
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &auth),
        ],
        &body.to_string(),
    );
    (status, json_body(&text))
}

#[test]
fn without_a_token_the_api_is_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_token(dir.path(), None);
    assert_eq!(http_get(server.addr, "/api/v1/accounts/1").0, 404);
    let (status, _) = http_post_with_headers(
        server.addr,
        "/api/v1/transfers",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &format!("Bearer {TOKEN}")),
        ],
        "{}",
    );
    assert_eq!(status, 404);
}

#[test]
fn with_a_token_transfers_are_created_once_and_errors_have_codes() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_token(dir.path(), Some(TOKEN));

    // No token, a wrong token: 401 with a JSON error.
    let (status, body) = http_get(server.addr, "/api/v1/accounts/1");
    assert_eq!(status, 401);
    assert_eq!(json_body(&body)["error"]["code"], "unauthorized");
    let (status, body) = post(&server, "/accounts", "not-the-token", &json!({}));
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &json!("unauthorized"))
    );

    let open = |owner: &str, kind: &str| {
        let (status, body) = post(
            &server,
            "/accounts",
            TOKEN,
            &json!({"owner": owner, "kind": kind, "currency": "EUR"}),
        );
        assert_eq!(status, 200, "{body}");
        body["account"]["id"].as_i64().unwrap()
    };
    let issuance = open("system", "issuance");
    let alice = open("alice", "user_wallet");
    let bob = open("bob", "user_wallet");
    let transfer = |id: &str, debit: i64, credit: i64, amount: i64| {
        json!({"id": id, "kind": "single", "debit_account_id": debit,
               "credit_account_id": credit, "amount": amount, "currency": "EUR"})
    };
    let funding = transfer("000000000000000000000000000000f1", issuance, alice, 500);
    let (status, body) = post(&server, "/transfers", TOKEN, &funding);
    assert_eq!(
        (status, &body["status"]),
        (201, &json!("created")),
        "{body}"
    );
    let (status, body) = post(&server, "/transfers", TOKEN, &funding);
    assert_eq!((status, &body["status"]), (200, &json!("exists")), "{body}");
    let changed = transfer("000000000000000000000000000000f1", issuance, alice, 501);
    let (status, body) = post(&server, "/transfers", TOKEN, &changed);
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("exists_with_different_fields"))
    );
    let overdraft = transfer("000000000000000000000000000000f2", alice, bob, 501);
    let (status, body) = post(&server, "/transfers", TOKEN, &overdraft);
    assert_eq!(
        (status, &body["error"]["code"]),
        (422, &json!("insufficient_funds"))
    );

    let (status, text) = http_post_with_headers(
        server.addr,
        "/api/v1/transfers",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &format!("Bearer {TOKEN}")),
        ],
        "{\"id\": ",
    );
    assert_eq!(status, 400);
    assert_eq!(json_body(&text)["error"]["code"], "malformed_json");
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

#[test]
fn a_short_token_stops_the_start_without_printing_it() {
    let dir = tempfile::tempdir().unwrap();
    let finished = run(&mut serve(
        dir.path(),
        &[("PAYBOT_API__TOKEN", "tooshort-secret")],
    ));
    assert_eq!(finished.code(), Some(2), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("`api.token`"),
        "{}",
        finished.stderr
    );
    assert!(
        finished.stderr.contains("PAYBOT_API__TOKEN"),
        "{}",
        finished.stderr
    );
    assert!(
        !finished.stderr.contains("tooshort-secret"),
        "{}",
        finished.stderr
    );
}

const READ_TOKEN: &str = "e2e-read-token-0123456789abcdef0123456789";
const TRANSFER_TOKEN: &str = "e2e-transfer-token-0123456789abcdef012345";
const ISSUANCE_TOKEN: &str = "e2e-issuance-token-0123456789abcdef012345";

fn get(server: &Server, path: &str, token: &str) -> (u16, Value) {
    let (status, text) = super::support::http_get_with_headers(
        server.addr,
        &format!("/api/v1{path}"),
        &[("Authorization", &format!("Bearer {token}"))],
    );
    (status, json_body(&text))
}

#[test]
fn scoped_tokens_read_transfer_and_issue_only_what_they_may() {
    let (_dir, server) = serve_fresh(&[
        ("PAYBOT_MOCK__ENABLED", "false"),
        ("PAYBOT_API__READ_TOKEN", READ_TOKEN),
        ("PAYBOT_API__TRANSFER_TOKEN", TRANSFER_TOKEN),
        ("PAYBOT_API__ISSUANCE_TOKEN", ISSUANCE_TOKEN),
    ]);
    let open = |token: &str, owner: &str, kind: &str| {
        post(
            &server,
            "/accounts",
            token,
            &json!({"owner": owner, "kind": kind, "currency": "USD"}),
        )
    };
    let id = |(status, body): (u16, Value)| {
        assert_eq!(status, 200, "{body}");
        body["account"]["id"].as_i64().unwrap()
    };
    let issuance = id(open(ISSUANCE_TOKEN, "system", "issuance"));
    let alice = id(open(TRANSFER_TOKEN, "alice", "user_wallet"));
    let bob = id(open(TRANSFER_TOKEN, "bob", "user_wallet"));
    let transfer = |n: u32, debit: i64, credit: i64, amount: i64| {
        json!({"id": format!("{n:032x}"), "kind": "single", "debit_account_id": debit,
               "credit_account_id": credit, "amount": amount, "currency": "USD"})
    };
    let (status, body) = post(
        &server,
        "/transfers",
        ISSUANCE_TOKEN,
        &transfer(1, issuance, alice, 500),
    );
    assert_eq!(status, 201, "{body}");

    // The read-only token reads, and cannot transfer or open accounts.
    let (status, body) = get(&server, &format!("/accounts/{alice}"), READ_TOKEN);
    assert_eq!(
        (status, &body["account"]["balance"]["posted"]),
        (200, &json!(500))
    );
    let (status, body) = post(
        &server,
        "/transfers",
        READ_TOKEN,
        &transfer(2, alice, bob, 100),
    );
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("forbidden")),
        "{body}"
    );
    let (status, _) = open(READ_TOKEN, "mallory", "user_wallet");
    assert_eq!(status, 403);

    // The transfer token moves money between wallets, and cannot mint.
    let (status, body) = post(
        &server,
        "/transfers",
        TRANSFER_TOKEN,
        &transfer(3, alice, bob, 100),
    );
    assert_eq!(status, 201, "{body}");
    let mint = transfer(4, issuance, bob, 100_000_000_000);
    let (status, body) = post(&server, "/transfers", TRANSFER_TOKEN, &mint);
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("forbidden")),
        "{body}"
    );
    let (status, _) = open(TRANSFER_TOKEN, "system", "card_clearing");
    assert_eq!(status, 403);
    let (_, body) = get(&server, &format!("/accounts/{bob}"), READ_TOKEN);
    assert_eq!(body["account"]["balance"]["posted"], 100, "{body}");
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

#[test]
fn wrong_tokens_are_throttled_and_logged_without_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_token(dir.path(), Some(TOKEN));
    let guess = |n: usize| format!("guess-{n:04}-0123456789abcdef0123456789abcdef");
    let mut statuses = Vec::new();
    for n in 0..30 {
        let (status, _) = get(&server, "/accounts/1", &guess(n));
        statuses.push(status);
    }
    assert!(statuses.iter().take(10).all(|s| *s == 401), "{statuses:?}");
    assert!(statuses.iter().skip(10).all(|s| *s == 429), "{statuses:?}");
    // Throttled means throttled: even the right token waits now.
    let (status, text) = super::support::http_get_with_headers(
        server.addr,
        "/api/v1/accounts/1",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    assert_eq!(status, 429, "{text}");
    assert_eq!(json_body(&text)["error"]["code"], "too_many_attempts");

    let log = server.stderr();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("wrong token"))
        .collect();
    assert!(
        !warnings.is_empty(),
        "no warning about wrong tokens:\n{log}"
    );
    assert!(
        warnings.len() <= 2,
        "one warning per interval: {warnings:?}"
    );
    assert!(!log.contains("guess-"), "a token in the log:\n{log}");
}
