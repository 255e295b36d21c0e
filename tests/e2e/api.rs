//! The ledger HTTP API in the real binary: mounted under `/api/v1` only
//! when `api.token` is set, behind the bearer token, with JSON errors.

use serde_json::{Value, json};

use crate::support::{Server, http_get, http_post_with_headers, paybot, run};

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
    let finished = run(paybot(dir.path())
        .arg("serve")
        .env("PAYBOT_API__TOKEN", "tooshort-secret"));
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
