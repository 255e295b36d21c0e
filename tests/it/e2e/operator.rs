//! The operator's surfaces in the real binary: `paybot admin` (tier, user,
//! audit, holds, approve, reject) on the server's database, the operator's
//! API routes behind their own token, and the verification provider's
//! signed callback.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::support::{Finished, Server, http_call, http_post, paybot, run, serve};

const OPERATOR_TOKEN: &str = "operator-token-0123456789abcdef0123456789";
const READ_TOKEN: &str = "read-token-0123456789abcdef0123456789abcd";
const TRANSFER_TOKEN: &str = "transfer-token-0123456789abcdef0123456789";
const SECRET: &str = "callback-secret-0123456789abcdef0123456789";
/// How long a message written to the outbox may take to reach the mock
/// chat (the server's dispatcher polls every second).
const DELIVERY_WAIT_SECS: u64 = 20;

fn json_body(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

/// A user on the mock chat: their `/start` in a DM.
fn start(server: &Server, user: &str) {
    let body = json!({ "from": user, "chat": "dm", "text": "/start" });
    let (status, text) = http_post(
        server.addr,
        "/mock/messages",
        Some("application/json"),
        &body.to_string(),
    );
    assert_eq!(status, 200, "{text}");
}

/// Waits until a message to `user` contains `needle`; panics after
/// [`DELIVERY_WAIT_SECS`].
fn wait_for_message(server: &Server, user: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(DELIVERY_WAIT_SECS);
    loop {
        let (status, body) = server.get(&format!("/mock/users/{user}/messages"));
        assert_eq!(status, 200, "{body}");
        let found = json_body(&body)["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["text"].as_str())
            .find(|t| t.contains(needle))
            .map(str::to_owned);
        if let Some(text) = found {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{user} never got {needle:?}: {body}\n{}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `paybot admin ARGS` in `dir` with `vars`.
fn admin(dir: &std::path::Path, vars: &[(&str, &str)], args: &[&str]) -> Finished {
    let mut cmd = paybot(dir);
    cmd.arg("admin").args(args).envs(vars.iter().copied());
    run(&mut cmd)
}

fn ok(finished: Finished) -> String {
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    finished.stdout
}

fn audit_lines(stdout: &str) -> Vec<Value> {
    stdout.lines().map(json_body).collect()
}

#[test]
fn a_tier_set_with_the_cli_is_audited_shown_and_told_to_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&mut serve(dir.path(), &[]));
    start(&server, "alice");
    start(&server, "bob");

    let set = ok(admin(
        dir.path(),
        &[],
        &[
            "tier",
            "mock:alice",
            "1",
            "--reason",
            "passport  checked",
            "--by",
            "ana",
        ],
    ));
    assert!(set.contains("tier 0 -> 1 (verified)"), "{set}");
    assert!(set.contains("the user is told privately"), "{set}");
    let told = wait_for_message(&server, "alice", "Your account is now verified (tier 1)");
    assert!(
        !told.contains("passport"),
        "the reason is the operator's: {told}"
    );

    // `--by` defaults to the login name.
    let lowered = ok(admin(
        dir.path(),
        &[("USER", "zoe")],
        &["tier", "@bob", "0", "--reason", "re-check"],
    ));
    assert!(
        lowered.contains("unchanged, the user is not told"),
        "{lowered}"
    );

    let report = ok(admin(dir.path(), &[], &["user", "@alice"]));
    for needle in [
        "account mock:alice @alice",
        "tier: 1 (verified), set ",
        "by operator:ana: passport checked",
        "holds: none",
        "tier_changed",
    ] {
        assert!(report.contains(needle), "{needle}: {report}");
    }

    let exported = ok(admin(dir.path(), &[], &["audit", "--json"]));
    let entries = audit_lines(&exported);
    assert_eq!(entries.len(), 2, "{exported}");
    let alice = entries
        .iter()
        .find(|e| e["actor"] == "operator:ana")
        .unwrap_or_else(|| panic!("{exported}"));
    assert_eq!(alice["kind"], "tier_changed");
    assert_eq!(alice["details"]["from"], 0);
    assert_eq!(alice["details"]["to"], 1);
    assert_eq!(alice["details"]["reason"], "passport checked");
    assert_eq!(alice["details"]["identity"], "mock:alice");
    let bob = entries
        .iter()
        .find(|e| e["actor"] == "operator:zoe")
        .unwrap();
    assert_ne!(bob["user"], alice["user"]);

    let filtered = ok(admin(
        dir.path(),
        &[],
        &[
            "audit",
            "--json",
            "--user",
            "@bob",
            "--since",
            "1h",
            "--kind",
            "tier_changed",
        ],
    ));
    assert_eq!(audit_lines(&filtered).len(), 1, "{filtered}");
    let future = ok(admin(dir.path(), &[], &["audit", "--since", "2999-01-01"]));
    assert_eq!(future.trim(), "no audit entries match");
    let table = ok(admin(dir.path(), &[], &["audit", "--user", "mock:alice"]));
    assert!(
        table.contains("tier_changed") && table.contains("operator:ana"),
        "{table}"
    );

    // Refusals say what is wrong and change nothing.
    let unknown = admin(
        dir.path(),
        &[],
        &["tier", "mock:nobody", "1", "--reason", "x", "--by", "ana"],
    );
    assert_eq!(unknown.code(), Some(2), "{unknown:?}");
    assert!(
        unknown.stderr.contains("no user mock:nobody"),
        "{}",
        unknown.stderr
    );
    let unconfigured = admin(
        dir.path(),
        &[],
        &["tier", "@alice", "5", "--reason", "x", "--by", "ana"],
    );
    assert_eq!(unconfigured.code(), Some(2));
    assert!(
        unconfigured.stderr.contains("tier 5 is not configured"),
        "{}",
        unconfigured.stderr
    );
    let long = "x".repeat(201);
    let too_long = admin(
        dir.path(),
        &[],
        &["tier", "@alice", "1", "--reason", &long, "--by", "ana"],
    );
    assert_eq!(too_long.code(), Some(2));
    assert!(
        too_long.stderr.contains("the limit is 200"),
        "{}",
        too_long.stderr
    );
    assert_eq!(
        audit_lines(&ok(admin(dir.path(), &[], &["audit", "--json"]))).len(),
        2
    );

    // Holds: none yet; deciding an unknown one says so.
    assert_eq!(
        ok(admin(dir.path(), &[], &["holds"])).trim(),
        "no holds waiting"
    );
    for decision in ["approve", "reject"] {
        let out = admin(
            dir.path(),
            &[],
            &[
                decision,
                "ABC234",
                "--reason",
                "looked at it",
                "--by",
                "ana",
            ],
        );
        assert_eq!(out.code(), Some(2), "{out:?}");
        assert!(out.stderr.contains("no hold ABC234"), "{}", out.stderr);
    }

    // No secret: the verification callback is off.
    let (status, body) = http_post(
        server.addr,
        "/api/v1/verification/callback",
        Some("application/json"),
        "{}",
    );
    assert_eq!(status, 404, "{body}");

    server.signal("TERM");
    let (status, log) = server.wait_for_exit();
    assert!(status.success(), "{log}");
    let verified = run(paybot(dir.path()).arg("verify"));
    assert_eq!(verified.code(), Some(0), "{verified:?}");
}

fn call(
    server: &Server,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Authorization", auth.as_str())];
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    let text = body.map(Value::to_string).unwrap_or_default();
    let (status, text) = http_call(
        server.addr,
        method,
        &format!("/api/v1{path}"),
        &headers,
        &text,
    );
    (status, json_body(&text))
}

#[test]
fn the_operator_api_has_its_own_token_and_scope() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&mut serve(
        dir.path(),
        &[
            ("PAYBOT_API__OPERATOR_TOKEN", OPERATOR_TOKEN),
            ("PAYBOT_API__OPERATOR_NAME", "ops-desk"),
            ("PAYBOT_API__READ_TOKEN", READ_TOKEN),
            ("PAYBOT_API__TRANSFER_TOKEN", TRANSFER_TOKEN),
            // A staging server: its mock chat makes the users.
            ("PAYBOT_DEPLOYMENT__ALLOW_IN_PRODUCTION", "mock_chat"),
        ],
    ));
    start(&server, "alice");

    // Ledger tokens reach no operator route; the operator's no ledger route.
    for token in [READ_TOKEN, TRANSFER_TOKEN] {
        let (status, body) = call(&server, "GET", "/admin/holds", token, None);
        assert_eq!(
            (status, &body["error"]["code"]),
            (403, &json!("forbidden")),
            "{body}"
        );
        let (status, body) = call(
            &server,
            "PUT",
            "/admin/users/mock/alice/tier",
            token,
            Some(&json!({"tier": 1, "reason": "x"})),
        );
        assert_eq!(status, 403, "{body}");
    }
    let (status, body) = call(
        &server,
        "POST",
        "/transfers",
        OPERATOR_TOKEN,
        Some(
            &json!({"id": format!("{:032x}", 7), "kind": "single", "debit_account_id": 1,
                     "credit_account_id": 2, "amount": 100, "currency": "USD"}),
        ),
    );
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("forbidden")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("operator"),
        "{body}"
    );
    let (status, _) = call(&server, "GET", "/accounts/1", OPERATOR_TOKEN, None);
    assert_eq!(status, 403);
    let (status, body) = call(&server, "GET", "/admin/holds", "wrong-token", None);
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &json!("unauthorized"))
    );

    let (status, body) = call(&server, "GET", "/admin/holds", OPERATOR_TOKEN, None);
    assert_eq!((status, &body), (200, &json!({"holds": []})));

    let (status, body) = call(
        &server,
        "PUT",
        "/admin/users/mock/alice/tier",
        OPERATOR_TOKEN,
        Some(&json!({"tier": 2, "reason": "enhanced checks done"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["previous_tier"], &body["tier"], &body["told"]),
        (&json!(0), &json!(2), &json!(true))
    );
    wait_for_message(&server, "alice", "Your account is now enhanced (tier 2)");

    let (status, report) = call(
        &server,
        "GET",
        "/admin/users/mock/alice",
        OPERATOR_TOKEN,
        None,
    );
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["tier"], 2);
    assert_eq!(report["tier_name"], "enhanced");
    assert_eq!(report["tier_set"]["actor"], "operator:ops-desk");
    assert_eq!(report["tier_set"]["reason"], "enhanced checks done");
    assert_eq!(report["identities"][0]["handle"], "alice");
    assert_eq!(report["recent_audit"][0]["kind"], "tier_changed");
    let (status, by_handle) = call(
        &server,
        "GET",
        "/admin/users/mock/@alice",
        OPERATOR_TOKEN,
        None,
    );
    assert_eq!((status, &by_handle["user"]), (200, &report["user"]));

    let (status, page) = call(
        &server,
        "GET",
        "/admin/audit?user=mock:alice&kind=tier_changed&since=24h&limit=1",
        OPERATOR_TOKEN,
        None,
    );
    assert_eq!(status, 200, "{page}");
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["details"]["to"], 2);
    let after = page["next_after"].as_i64().unwrap();
    let (_, rest) = call(
        &server,
        "GET",
        &format!("/admin/audit?after={after}"),
        OPERATOR_TOKEN,
        None,
    );
    assert_eq!(rest["entries"], json!([]));
    assert_eq!(rest["next_after"], Value::Null);

    // Refusals, each with its stable code.
    let cases: [(&str, &str, Option<Value>, u16, &str); 8] = [
        (
            "PUT",
            "/admin/users/mock/nobody/tier",
            Some(json!({"tier": 1, "reason": "x"})),
            404,
            "unknown_user",
        ),
        (
            "PUT",
            "/admin/users/mock/alice/tier",
            Some(json!({"tier": 7, "reason": "x"})),
            422,
            "tier_not_configured",
        ),
        (
            "PUT",
            "/admin/users/mock/alice/tier",
            Some(json!({"tier": 1, "reason": " "})),
            400,
            "invalid_field",
        ),
        (
            "PUT",
            "/admin/users/mock/alice/tier",
            Some(json!({"tier": 1})),
            400,
            "malformed_json",
        ),
        ("GET", "/admin/users/icq/alice", None, 400, "invalid_id"),
        (
            "GET",
            "/admin/audit?kind=nonsense",
            None,
            400,
            "invalid_field",
        ),
        (
            "POST",
            "/admin/holds/ABC234/approve",
            Some(json!({"reason": "fine"})),
            404,
            "hold_not_found",
        ),
        (
            "POST",
            "/admin/holds/ABC234/reject",
            Some(json!({})),
            400,
            "malformed_json",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (got, answer) = call(&server, method, path, OPERATOR_TOKEN, body.as_ref());
        assert_eq!(
            (got, &answer["error"]["code"]),
            (status, &json!(code)),
            "{method} {path}: {answer}"
        );
    }
    let (_, audit) = call(&server, "GET", "/admin/audit", OPERATOR_TOKEN, None);
    assert_eq!(
        audit["entries"].as_array().unwrap().len(),
        1,
        "refusals change nothing"
    );
}

/// `t=UNIX,v1=HEX` for `body` at `timestamp`, as a provider computes it.
fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={timestamp},v1={hex}")
}

fn now_secs() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn callback(server: &Server, signature: Option<&str>, body: &str) -> (u16, String) {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(signature) = signature {
        headers.push(("Paybot-Signature", signature));
    }
    http_call(
        server.addr,
        "POST",
        "/api/v1/verification/callback",
        &headers,
        body,
    )
}

#[test]
fn the_verification_callback_is_signed_fresh_and_acted_on_once() {
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        ("PAYBOT_TRUST__VERIFICATION__SECRET", SECRET),
        ("PAYBOT_TRUST__VERIFICATION__PROVIDER_NAME", "acme-kyc"),
    ];
    let server = Server::start(&mut serve(dir.path(), &vars));
    start(&server, "alice");

    let body = json!({
        "event_id": "evt_1001", "platform": "mock", "user_id": "alice", "tier": 1,
        "legal_name": "Alice Liddell", "status": "approved",
    })
    .to_string();
    let now = now_secs();

    // Unsigned, wrongly signed, too old or too far ahead: 401, nothing done.
    let old = signature(SECRET, now - 301, &body);
    let ahead = signature(SECRET, now + 301, &body);
    let wrong = signature("another-secret-0123456789abcdef0123456789", now, &body);
    let tampered = signature(SECRET, now, &body.replace("\"tier\":1", "\"tier\":2"));
    for sig in [
        None,
        Some(old.as_str()),
        Some(ahead.as_str()),
        Some(wrong.as_str()),
        Some(tampered.as_str()),
        Some("t=1,v1=00"),
    ] {
        let (status, answer) = callback(&server, sig, &body);
        assert_eq!(status, 401, "{sig:?}: {answer}");
        assert_eq!(json_body(&answer)["error"]["code"], "invalid_signature");
    }

    let good = signature(SECRET, now, &body);
    let (status, first) = callback(&server, Some(&good), &body);
    assert_eq!(status, 200, "{first}");
    let first_value = json_body(&first);
    assert_eq!(first_value["tier"], 1);
    assert_eq!(first_value["previous_tier"], 0);
    assert_eq!(first_value["event_id"], "evt_1001");
    wait_for_message(&server, "alice", "Your account is now verified (tier 1)");

    // The same event again (a provider's retry, or a replay inside the
    // window): the same answer, nothing done twice.
    let (status, again) = callback(&server, Some(&good), &body);
    assert_eq!((status, json_body(&again)), (200, first_value.clone()));
    let resigned = signature(SECRET, now + 1, &body);
    let (status, again) = callback(&server, Some(&resigned), &body);
    assert_eq!((status, json_body(&again)), (200, first_value));

    // Another body under the same event id: refused.
    let other = body.replace("\"tier\":1", "\"tier\":2");
    let (status, answer) = callback(&server, Some(&signature(SECRET, now, &other)), &other);
    assert_eq!(status, 409, "{answer}");
    assert_eq!(json_body(&answer)["error"]["code"], "event_id_reused");

    // An unknown user: 404, and the provider may send it again later.
    let stranger = json!({"event_id": "evt_1002", "platform": "mock", "user_id": "carol",
                          "tier": 1, "reason": "documents checked"})
    .to_string();
    let (status, answer) = callback(&server, Some(&signature(SECRET, now, &stranger)), &stranger);
    assert_eq!(
        (status, json_body(&answer)["error"]["code"].clone()),
        (404, json!("unknown_user"))
    );
    start(&server, "carol");
    let (status, answer) = callback(&server, Some(&signature(SECRET, now, &stranger)), &stranger);
    assert_eq!(status, 200, "{answer}");

    let exported = ok(admin(
        dir.path(),
        &vars,
        &[
            "audit",
            "--json",
            "--kind",
            "tier_changed",
            "--user",
            "mock:alice",
        ],
    ));
    let entries = audit_lines(&exported);
    assert_eq!(
        entries.len(),
        1,
        "one tier change for the event: {exported}"
    );
    assert_eq!(entries[0]["actor"], "provider:acme-kyc");
    assert_eq!(entries[0]["subject"], "evt_1001");
    assert_eq!(entries[0]["details"]["reason"], "verification approved");

    let refused = ok(admin(
        dir.path(),
        &vars,
        &["audit", "--json", "--kind", "verification_callback"],
    ));
    let refused = audit_lines(&refused);
    assert_eq!(refused.len(), 1, "the unknown user's callback: {refused:?}");
    assert_eq!(refused[0]["subject"], "evt_1002");
    assert_eq!(refused[0]["details"]["result"], "refused");

    let report = ok(admin(dir.path(), &vars, &["user", "mock:alice"]));
    assert!(report.contains("tier: 1 (verified)"), "{report}");
    assert!(report.contains("by provider:acme-kyc"), "{report}");
    assert!(
        report.contains("legal name (from verification): Alice Liddell"),
        "{report}"
    );
    assert!(
        !server.stderr().contains(SECRET),
        "the secret is in the log"
    );
}

#[test]
fn the_callback_secret_comes_from_the_environment_only() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("paybot.toml");
    std::fs::write(
        &file,
        format!("[trust.verification]\nsecret = \"{SECRET}\"\n"),
    )
    .unwrap();
    let out = run(paybot(dir.path()).arg("--config").arg(&file).arg("verify"));
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(
        out.stderr.contains("PAYBOT_TRUST__VERIFICATION__SECRET"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(SECRET), "{}", out.stderr);
}
