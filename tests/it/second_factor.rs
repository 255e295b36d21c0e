//! The second factor through the mock chat's HTTP API on the real bot: the
//! setup answer carries the QR code as base64 (and `[image: QR code]` in
//! its text), the inbox keeps neither the picture nor the key, and the
//! audit log records every step without a code or the key.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use bot::trust::second_factor::TotpSecret;
use bot::trust::{AuditFilter, AuditKind, TrustStore};
use ledger::testing::TestBackend;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support;

async fn call(router: &axum::Router, request: Request<Body>) -> Value {
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn say(router: &axum::Router, text: &str) -> Value {
    let request = Request::post("/mock/messages")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"from": "alice", "chat": "dm", "text": text}).to_string(),
        ))
        .unwrap();
    call(router, request).await
}

fn dm_text(answer: &Value) -> String {
    answer["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["text"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_shows_a_qr_code_and_the_audit_log_keeps_no_secret() {
    let Some((db, bot, store)) = support::bot_on(TestBackend::Sqlite).await else {
        return;
    };
    let chat = paybot_mock::MockChat::new(Arc::clone(&bot));
    let router = paybot_mock::router(Arc::clone(&chat));
    say(&router, "/start").await;
    let setup = say(&router, "/2fa setup").await;
    let delivery = &setup["deliveries"][0];
    let text = delivery["text"].as_str().unwrap();
    assert!(text.ends_with("[image: QR code]"), "{text}");
    let png = delivery["image_png_base64"].as_str().unwrap();
    // base64 of "\x89PNG\r\n\x1a\n".
    assert!(png.starts_with("iVBORw0KGgo"), "{png}");
    let key = text
        .lines()
        .find(|line| line.len() == 39 && line.split(' ').count() == 8)
        .unwrap()
        .to_owned();
    let secret = TotpSecret::from_base32(&key).unwrap();
    // The inbox keeps neither the key nor the picture.
    let request = Request::get("/mock/users/alice/messages")
        .body(Body::empty())
        .unwrap();
    let inbox = call(&router, request).await.to_string();
    assert!(!inbox.contains(&key) && !inbox.contains(&secret.base32()));
    assert!(!inbox.contains("image_png_base64"));

    let wrong = say(&router, "/2fa confirm 000000").await;
    assert!(dm_text(&wrong).contains("That is not the code"));
    let code = secret.code_at(db.ledger.now_ms()).unwrap();
    let on = dm_text(&say(&router, &format!("/2fa confirm {code}")).await);
    assert!(on.contains("Your authenticator app is on."), "{on}");
    let recovery: Vec<&str> = on
        .lines()
        .filter(|line| line.len() == 11 && line.as_bytes()[5] == b'-')
        .collect();
    assert_eq!(recovery.len(), 10, "{on}");
    let off = dm_text(&say(&router, &format!("/2fa off {}", recovery[0])).await);
    assert!(off.contains("Your authenticator app is off"), "{off}");

    let entries = store.audit_entries(&AuditFilter::default()).await.unwrap();
    let results: Vec<&str> = entries
        .iter()
        .filter(|r| r.entry.kind == AuditKind::SecondFactorResult)
        .map(|r| r.entry.details["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        results,
        [
            "setup_started",
            "wrong",
            "enrolled",
            "recovery_used",
            "removed"
        ]
    );
    let log = entries
        .iter()
        .map(|r| r.to_json().to_string())
        .collect::<String>();
    for secret_text in [key.as_str(), &secret.base32(), &code, recovery[0], "000000"] {
        assert!(!log.contains(secret_text), "{secret_text} in the audit log");
    }
    db.cleanup().await;
}
