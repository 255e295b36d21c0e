//! The mock chat's HTTP API in process (its router on the real bot and
//! SQLite), attacked as an outsider would: another sender's event id, a
//! redelivery read for its code, and a flood of new users and groups.

use crate::support;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use ledger::testing::{TestBackend, TestDb};
use paybot_mock::{MockChat, MockLimits};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Mock {
    _db: TestDb,
    chat: Arc<MockChat>,
    router: Router,
}

impl Mock {
    async fn new(limits: MockLimits) -> Mock {
        let (db, bot, _store) = support::bot_on(TestBackend::Sqlite).await.unwrap();
        let chat = MockChat::with_limits(bot, limits);
        let router = paybot_mock::router(Arc::clone(&chat));
        Mock {
            _db: db,
            chat,
            router,
        }
    }

    async fn call(&self, request: Request<Body>) -> (u16, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {status} {bytes:?}"));
        (status, value)
    }

    async fn post(&self, body: Value) -> (u16, Value) {
        let request = Request::post("/mock/messages")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.call(request).await
    }

    /// Sends and expects a 200; the answer.
    async fn say(&self, body: Value) -> Value {
        let (status, value) = self.post(body).await;
        assert_eq!(status, 200, "{value}");
        value
    }

    async fn inbox(&self, user: &str) -> Vec<Value> {
        let request = Request::get(format!("/mock/users/{user}/messages"))
            .body(Body::empty())
            .unwrap();
        let (status, value) = self.call(request).await;
        assert_eq!(status, 200, "{value}");
        value["messages"].as_array().unwrap().clone()
    }
}

/// The texts of an answer's deliveries to `to`.
fn texts_to(answer: &Value, to: &str) -> Vec<String> {
    answer["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["to"] == to)
        .map(|d| d["text"].as_str().unwrap().to_owned())
        .collect()
}

fn code_in(answer: &Value, to: &str) -> String {
    texts_to(answer, to)
        .iter()
        .find(|t| t.contains("/confirm "))
        .map(|t| support::word_after(t, "/confirm "))
        .unwrap_or_else(|| panic!("no code for {to} in {answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_id_belongs_to_its_sender() {
    let mock = Mock::new(MockLimits::default()).await;
    mock.say(json!({"from": "bob", "chat": "dm", "text": "/start"}))
        .await;
    mock.say(json!({"from": "alice", "chat": "dm", "text": "/start"}))
        .await;
    let first = mock
        .say(json!({"from": "alice", "chat": "dm", "text": "/pay @bob 5", "id": "e1"}))
        .await;
    let code = code_in(&first, "alice");

    // Mallory sends her own message with alice's event id.
    let stolen = mock
        .say(json!({"from": "mallory", "chat": "dm", "text": "/balance", "id": "e1"}))
        .await;
    let text = stolen.to_string();
    assert!(
        !text.contains(&code),
        "alice's code reached mallory: {text}"
    );
    assert!(
        texts_to(&stolen, "alice").is_empty(),
        "alice's answer went to mallory: {text}"
    );
    assert_ne!(stolen["message"], first["message"], "{text}");
    // And her own message was handled, not dropped.
    assert!(
        texts_to(&stolen, "mallory")
            .iter()
            .any(|t| t.contains("Your balance")),
        "{text}"
    );
    assert!(!texts_to(&stolen, "mallory").is_empty(), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivery_answers_without_a_live_code() {
    let mock = Mock::new(MockLimits::default()).await;
    mock.say(json!({"from": "bob", "chat": "dm", "text": "/start"}))
        .await;
    mock.say(json!({"from": "alice", "chat": "dm", "text": "/start"}))
        .await;
    let pay = json!({"from": "alice", "chat": "dm", "text": "/pay @bob 5", "id": "p1"});
    let first = mock.say(pay.clone()).await;
    let code = code_in(&first, "alice");
    let inbox_before = mock.inbox("alice").await.len();

    let again = mock.say(pay).await;
    let text = again.to_string();
    assert!(
        !text.contains(&code),
        "a redelivery answered the code: {text}"
    );
    assert_eq!(again["message"], first["message"], "{text}");
    assert!(
        texts_to(&again, "alice")
            .iter()
            .any(|t| t.contains("the code I sent you")),
        "{text}"
    );
    // The redelivery added nothing to anyone's messages.
    assert_eq!(mock.inbox("alice").await.len(), inbox_before);

    // The same id with other text is no redelivery: refused, nothing done.
    let (status, refused) = mock
        .post(json!({"from": "alice", "chat": "dm", "text": "/balance", "id": "p1"}))
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "id_reused", "{refused}");
    assert_eq!(mock.inbox("alice").await.len(), inbox_before);

    // The code still works once.
    let confirmed = mock
        .say(json!({"from": "alice", "chat": "dm", "text": format!("/confirm {code}")}))
        .await;
    assert!(confirmed.to_string().contains("Done: you paid @bob"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_groups_are_bounded() {
    let limits = MockLimits {
        users_max: 3,
        groups_max: 2,
        group_members_max: 2,
        ..MockLimits::default()
    };
    let mock = Mock::new(limits).await;
    for user in ["u1", "u2", "u3"] {
        mock.say(json!({"from": user, "chat": "dm", "text": "hi"}))
            .await;
    }
    let (status, refused) = mock
        .post(json!({"from": "u4", "chat": "dm", "text": "hi"}))
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "too_many_users", "{refused}");
    // Known users keep working.
    mock.say(json!({"from": "u1", "chat": "dm", "text": "/start"}))
        .await;

    mock.say(json!({"from": "u1", "chat": "g1", "text": "hi"}))
        .await;
    mock.say(json!({"from": "u1", "chat": "g2", "text": "hi"}))
        .await;
    let (status, refused) = mock
        .post(json!({"from": "u1", "chat": "g3", "text": "hi"}))
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "too_many_groups", "{refused}");
    assert_eq!(mock.chat.group_names(), vec!["g1", "g2"]);

    mock.say(json!({"from": "u2", "chat": "g1", "text": "hi"}))
        .await;
    let (status, refused) = mock
        .post(json!({"from": "u3", "chat": "g1", "text": "hi"}))
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "too_many_members", "{refused}");
    // Members keep talking.
    mock.say(json!({"from": "u2", "chat": "g1", "text": "still here"}))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_messages_are_bounded() {
    let limits = MockLimits {
        inbox_messages_max: 3,
        inbox_messages_total_max: 5,
        chat_messages_max: 4,
        chat_messages_total_max: 6,
        ..MockLimits::default()
    };
    let mock = Mock::new(limits).await;
    for i in 0..5 {
        mock.say(json!({"from": "u1", "chat": "dm", "text": format!("/help {}", if i % 2 == 0 { "pay" } else { "balance" })}))
            .await;
    }
    // Each user keeps the newest few.
    let inbox = mock.inbox("u1").await;
    assert_eq!(inbox.len(), 3, "{inbox:?}");
    assert!(inbox[2]["text"].as_str().unwrap().contains("/pay"));
    for _ in 0..3 {
        mock.say(json!({"from": "u2", "chat": "dm", "text": "/help balance"}))
            .await;
    }
    // All inboxes together keep the newest few: u1 lost its oldest.
    assert_eq!(mock.inbox("u2").await.len(), 3);
    assert_eq!(mock.inbox("u1").await.len(), 2);

    for i in 0..5 {
        mock.say(json!({"from": "u1", "chat": "g1", "text": format!("line {i}")}))
            .await;
    }
    let g1 = mock.chat.chat_messages("g1").unwrap();
    assert_eq!(g1.len(), 4);
    assert_eq!(g1[3].text, "line 4");
    for i in 0..3 {
        mock.say(json!({"from": "u1", "chat": "g2", "text": format!("other {i}")}))
            .await;
    }
    assert_eq!(mock.chat.chat_messages("g2").unwrap().len(), 3);
    assert_eq!(mock.chat.chat_messages("g1").unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_talking_at_once_each_get_their_own_answers_and_every_payee_is_told() {
    let mock = Mock::new(MockLimits::default()).await;
    let names: Vec<String> = (0..8).map(|i| format!("user{i}")).collect();
    let payee = |i: usize| names[(i + 1) % names.len()].clone();
    for name in &names {
        mock.say(json!({"from": name, "chat": "dm", "text": "/start"}))
            .await;
    }
    // Everyone pays the next one at the same moment, each in a group.
    let asked = futures::future::join_all(names.iter().enumerate().map(|(i, name)| {
        mock.say(
            json!({"from": name, "chat": format!("g{i}"), "text": format!("/pay @{} 1", payee(i))}),
        )
    }))
    .await;
    let mut confirms = Vec::new();
    for (name, answer) in names.iter().zip(&asked) {
        // Each code reaches its payer only.
        let code = code_in(answer, name);
        for other in names.iter().filter(|n| *n != name) {
            assert!(
                texts_to(answer, other)
                    .iter()
                    .all(|t| !t.contains("/confirm ")),
                "{answer}"
            );
        }
        confirms.push(json!({"from": name, "chat": "dm", "text": format!("/confirm {code}")}));
    }
    let done = futures::future::join_all(confirms.into_iter().map(|c| mock.say(c))).await;
    for (name, answer) in names.iter().zip(&done) {
        assert!(
            texts_to(answer, name)
                .iter()
                .any(|t| t.starts_with("Done: you paid")),
            "{answer}"
        );
    }
    // Whatever the answers held, each payee is told once in the end.
    mock.chat.tick().await.unwrap();
    for (i, _) in names.iter().enumerate() {
        let inbox = mock.inbox(&payee(i)).await;
        let told = inbox
            .iter()
            .filter(|m| m["text"].as_str().unwrap().contains(" paid you "))
            .count();
        assert_eq!(told, 1, "{inbox:?}");
    }
}

/// `/history export` in a group: the group hears only "I sent you a DM";
/// the sender's answer carries the CSV as a `file` (name, media type,
/// content). Their inbox keeps the file's name, never its rows; a
/// redelivery of the same message answers without the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_export_is_a_file_for_the_sender_only() {
    let mock = Mock::new(MockLimits::default()).await;
    mock.say(json!({"from": "bob", "chat": "dm", "text": "/start"}))
        .await;
    mock.say(json!({"from": "alice", "chat": "dm", "text": "/start"}))
        .await;
    mock.say(json!({"from": "bob", "chat": "party", "text": "hi"}))
        .await;
    let pay = mock
        .say(json!({"from": "alice", "chat": "dm", "text": "/pay @bob 5 for lunch"}))
        .await;
    let code = code_in(&pay, "alice");
    mock.say(json!({"from": "alice", "chat": "dm", "text": format!("/confirm {code}")}))
        .await;
    let export = json!({"from": "alice", "chat": "party", "text": "/history export", "id": "x1"});
    let answer = mock.say(export.clone()).await;
    let deliveries = answer["deliveries"].as_array().unwrap();
    let with_file: Vec<&Value> = deliveries
        .iter()
        .filter(|d| d.get("file").is_some())
        .collect();
    let [file] = with_file.as_slice() else {
        panic!("one delivery with a file expected: {answer}");
    };
    assert_eq!(file["to"], "alice", "{answer}");
    assert_eq!(file["chat"], "dm", "{answer}");
    let name = file["file"]["name"].as_str().unwrap();
    assert!(
        name.starts_with("paybot-history-") && name.ends_with(".csv"),
        "{name}"
    );
    assert_eq!(file["file"]["media_type"], "text/csv");
    let content = file["file"]["content"].as_str().unwrap();
    assert!(
        content.starts_with("date,direction,counterparty,amount,currency,memo,state,reference\n"),
        "{content}"
    );
    assert!(
        content.contains(",sent,'@bob,5.00,USD,lunch,completed,P"),
        "{content}"
    );
    for group in deliveries.iter().filter(|d| d["chat"] == "party") {
        let text = group["text"].as_str().unwrap();
        assert_eq!(text, "@alice, I sent you a DM.", "{answer}");
    }
    let kept = mock.inbox("alice").await;
    let kept_text = Value::Array(kept).to_string();
    assert!(
        kept_text.contains(&format!("[file: {name}]")),
        "{kept_text}"
    );
    assert!(!kept_text.contains("lunch,completed"), "{kept_text}");

    let again = mock.say(export).await;
    let text = again.to_string();
    assert_eq!(again["message"], answer["message"], "{text}");
    assert!(
        !text.contains("\"file\""),
        "a redelivery sent the file again: {text}"
    );
    assert!(!text.contains("lunch,completed"), "{text}");
}
