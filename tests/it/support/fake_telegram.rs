//! A fake Telegram Bot API server (axum, port 0), for running the real
//! teloxide client end to end.
//!
//! It answers as Telegram does: `POST /bot<TOKEN>/<method>` with JSON or
//! multipart parameters, method names in any case, `{"ok":true,"result":..}`
//! or `{"ok":false,"error_code":..,"description":..}`. It keeps updates for
//! `getUpdates` (long polling, `offset` confirms), refuses to DM a user who
//! never wrote to the bot privately (403, as Telegram does), records every
//! call, and can be told to fail the next call of a method (a 429 with
//! `retry_after`, say). `deleteMessage` deletes a message in a group only
//! when the bot was made an admin there ([`FakeTelegram::make_admin`]), as
//! Telegram requires; otherwise it answers Telegram's 400. Updates are built as Telegram's documentation shows
//! them, entities included.

#![allow(dead_code)]

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub(crate) const BOT_ID: i64 = 4_242;
pub(crate) const BOT_USERNAME: &str = "paybot_test_bot";
pub(crate) const TOKEN: &str = "4242:AAEfakeTokenForTestsOnly_0123456789ab";
pub(crate) const GROUP_ID: i64 = -1_001_234_567_890;
/// The longest a `getUpdates` waits here, whatever `timeout` asks, so a
/// stopping client is not held up.
const POLL_WAIT_MS_MAX: u64 = 500;

/// A Telegram user of the tests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TgUser {
    pub(crate) id: i64,
    pub(crate) first_name: &'static str,
    pub(crate) username: Option<&'static str>,
}

impl TgUser {
    pub(crate) fn json(&self) -> Value {
        let mut user = json!({"id": self.id, "is_bot": false, "first_name": self.first_name,
            "language_code": "en"});
        if let Some(username) = self.username {
            user["username"] = json!(username);
        }
        user
    }

    /// Their private chat with the bot.
    pub(crate) fn dm(&self) -> Value {
        json!({"id": self.id, "type": "private", "first_name": self.first_name})
    }
}

pub(crate) fn group() -> Value {
    json!({"id": GROUP_ID, "type": "supergroup", "title": "Flatmates"})
}

/// One call the client made.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// Lower case: `sendmessage`.
    pub(crate) method: String,
    pub(crate) params: Value,
    pub(crate) at: Instant,
    /// The status answered.
    pub(crate) status: u16,
    /// For `getUpdates`: the order in which the calls started.
    pub(crate) seq: u64,
}

impl Call {
    pub(crate) fn chat_id(&self) -> Option<i64> {
        match &self.params["chat_id"] {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }

    pub(crate) fn text(&self) -> &str {
        self.params["text"].as_str().unwrap_or_default()
    }
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    updates: Vec<Value>,
    /// Handed out by the next `getUpdates` whatever its offset: a
    /// redelivery.
    again: VecDeque<Value>,
    next_update_id: i64,
    next_message_id: i64,
    /// Users who have written to the bot privately.
    started: HashSet<i64>,
    /// Messages that exist, by (chat id, message id).
    messages: HashSet<(i64, i64)>,
    /// Messages deleted, in order.
    deleted: Vec<(i64, i64)>,
    /// Whether the bot is a group admin allowed to delete messages.
    admin: bool,
    /// (method, status, body) to answer instead, once each.
    failures: VecDeque<(String, u16, Value)>,
    /// `getUpdates` calls started so far, and the last one that handed out
    /// updates.
    poll_seq: u64,
    last_handout_seq: u64,
}

#[derive(Clone)]
pub(crate) struct FakeTelegram {
    pub(crate) url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeTelegram {
    /// Starts on 127.0.0.1 port 0, on the current tokio runtime.
    pub(crate) async fn start() -> FakeTelegram {
        let inner = Arc::new(Mutex::new(Inner {
            next_update_id: 100_000,
            next_message_id: 1,
            ..Inner::default()
        }));
        let router = Router::new()
            .route("/{bot}/{method}", post(call))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeTelegram {
            url: format!("http://{addr}"),
            inner,
        }
    }

    /// A message `from` sends in `chat`, with the entities Telegram would
    /// add (`bot_command`, `mention`) plus `extra` fields merged into the
    /// message. A message in a private chat means the user started the
    /// bot.
    pub(crate) fn message(&self, from: &TgUser, chat: Value, text: &str, extra: Value) -> Value {
        let mut inner = self.inner.lock().unwrap();
        if chat["type"] == "private" {
            inner.started.insert(from.id);
        }
        inner.next_update_id += 1;
        inner.next_message_id += 1;
        let chat_id = chat["id"].as_i64().unwrap();
        let message_id = inner.next_message_id;
        inner.messages.insert((chat_id, message_id));
        let mut message = json!({
            "message_id": inner.next_message_id,
            "from": from.json(),
            "chat": chat,
            "date": 1_700_000_000,
            "text": text,
        });
        let entities = entities_of(text);
        if !entities.is_empty() {
            message["entities"] = Value::Array(entities);
        }
        if let Some(extra) = extra.as_object() {
            for (key, value) in extra {
                message[key] = value.clone();
            }
        }
        json!({"update_id": inner.next_update_id, "message": message})
    }

    /// A press on an inline button of a message the bot sent `from`.
    pub(crate) fn button(&self, from: &TgUser, data: &str) -> Value {
        self.button_in(from, from.dm(), data)
    }

    /// `from` presses a button carrying `data` on a message of the bot's in
    /// `chat` (a group, say).
    pub(crate) fn button_in(&self, from: &TgUser, chat: Value, data: &str) -> Value {
        let mut inner = self.inner.lock().unwrap();
        inner.next_update_id += 1;
        json!({"update_id": inner.next_update_id, "callback_query": {
            "id": format!("cb{}", inner.next_update_id),
            "from": from.json(),
            "chat_instance": "-77",
            "data": data,
            "message": {"message_id": 1, "date": 1_700_000_000, "chat": chat,
                "from": {"id": BOT_ID, "is_bot": true, "first_name": "PayBot", "username": BOT_USERNAME},
                "text": "(the bot's message)"}
        }})
    }

    /// The bot becomes a group admin allowed to delete messages.
    pub(crate) fn make_admin(&self) {
        self.inner.lock().unwrap().admin = true;
    }

    /// Messages deleted so far, as (chat id, message id).
    pub(crate) fn deleted(&self) -> Vec<(i64, i64)> {
        self.inner.lock().unwrap().deleted.clone()
    }

    /// `user` blocks the bot: DMs to them are refused from now on (403).
    pub(crate) fn block(&self, user: i64) {
        self.inner.lock().unwrap().started.remove(&user);
    }

    /// Queues `update` for `getUpdates`.
    pub(crate) fn push(&self, update: Value) {
        self.inner.lock().unwrap().updates.push(update);
    }

    /// Hands `update` out once more on the next `getUpdates`, as a
    /// misbehaving network or a restarted Bot API would.
    pub(crate) fn deliver_again(&self, update: Value) {
        self.inner.lock().unwrap().again.push_back(update);
    }

    /// The next call of `method` gets this answer instead.
    pub(crate) fn fail_next(&self, method: &str, status: u16, body: Value) {
        self.inner
            .lock()
            .unwrap()
            .failures
            .push_back((method.to_ascii_lowercase(), status, body));
    }

    /// Every call of `method` (lower case) so far.
    pub(crate) fn calls(&self, method: &str) -> Vec<Call> {
        self.inner
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// Messages delivered (answered 200) to `chat`.
    pub(crate) fn sent_to(&self, chat: i64) -> Vec<Call> {
        self.calls("sendmessage")
            .into_iter()
            .filter(|c| c.status == 200 && c.chat_id() == Some(chat))
            .collect()
    }

    /// Every delivered message.
    pub(crate) fn sent(&self) -> Vec<Call> {
        self.calls("sendmessage")
            .into_iter()
            .filter(|c| c.status == 200)
            .collect()
    }

    /// Waits (at most `secs`) for a photo delivered to `chat`.
    pub(crate) async fn wait_for_photo(&self, chat: i64, secs: u64) -> Call {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(call) = self
                .calls("sendphoto")
                .into_iter()
                .find(|c| c.status == 200 && c.chat_id() == Some(chat))
            {
                return call;
            }
            assert!(
                Instant::now() <= deadline,
                "no photo to {chat} within {secs} s; photo calls: {:?}",
                self.calls("sendphoto")
                    .iter()
                    .map(|c| (c.chat_id(), c.status))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (at most `secs`) for a document (`sendDocument`) delivered to
    /// `chat`: its file name and content.
    pub(crate) async fn wait_for_document(&self, chat: i64, secs: u64) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(call) = self
                .calls("senddocument")
                .into_iter()
                .find(|c| c.status == 200 && c.chat_id() == Some(chat))
            {
                let part = call.params["document"].as_str().unwrap_or_default();
                let part = part.strip_prefix("attach://").unwrap_or("document");
                let name = call.params[format!("{part}_file_name")]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let content = call.params[part].as_str().unwrap_or_default().to_owned();
                return (name, content);
            }
            assert!(
                Instant::now() <= deadline,
                "no document to {chat} within {secs} s; document calls: {:?}",
                self.calls("senddocument")
                    .iter()
                    .map(|c| (c.chat_id(), c.status))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (at most `secs`) for a delivered message to `chat` whose text
    /// contains `needle`.
    pub(crate) async fn wait_for(&self, chat: i64, needle: &str, secs: u64) -> Call {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(call) = self
                .sent_to(chat)
                .into_iter()
                .find(|c| c.text().contains(needle))
            {
                return call;
            }
            if Instant::now() > deadline {
                let seen: Vec<String> = self
                    .sent()
                    .iter()
                    .map(|c| format!("{:?}: {}", c.chat_id(), c.text()))
                    .collect();
                panic!(
                    "no message to {chat} containing {needle:?} within {secs} s; sent:\n{}",
                    seen.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (at most `secs`) until every queued update was handed out and
    /// the client polled again afterwards: its batch has been handled.
    pub(crate) async fn wait_drained(&self, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let drained = {
                let inner = self.inner.lock().unwrap();
                let last = inner
                    .updates
                    .last()
                    .and_then(|u| u["update_id"].as_i64())
                    .unwrap_or(0);
                inner.again.is_empty()
                    && inner.calls.iter().any(|c| {
                        c.method == "getupdates"
                            && c.seq > inner.last_handout_seq
                            && c.params["offset"].as_i64().unwrap_or(0) > last
                    })
            };
            if drained {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "queued updates not handled within {secs} s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `bot_command` and `mention` entities, offsets in UTF-16 units.
fn entities_of(text: &str) -> Vec<Value> {
    let mut entities = Vec::new();
    let mut offset = 0;
    for word in text.split(' ') {
        let length = word.encode_utf16().count();
        if offset == 0 && word.starts_with('/') && length > 1 {
            entities.push(json!({"type": "bot_command", "offset": 0, "length": length}));
        } else if word.starts_with('@') && length > 1 {
            entities.push(json!({"type": "mention", "offset": offset, "length": length}));
        }
        offset += length + 1;
    }
    entities
}

fn ok(result: Value) -> (u16, Value) {
    (200, json!({"ok": true, "result": result}))
}

fn error(code: u16, description: &str) -> (u16, Value) {
    (
        code,
        json!({"ok": false, "error_code": code, "description": description}),
    )
}

/// Form fields of a `multipart/form-data` body; values that are JSON stay
/// text (as Telegram reads them).
fn multipart_fields(content_type: &str, body: &[u8]) -> Value {
    let Some(boundary) = content_type.split("boundary=").nth(1) else {
        return json!({});
    };
    let boundary = format!("--{}", boundary.trim_matches('"'));
    let text = String::from_utf8_lossy(body);
    let mut fields = serde_json::Map::new();
    for part in text.split(boundary.as_str()) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let Some(name) = head
            .split("name=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
        else {
            continue;
        };
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        if let Some(file_name) = head
            .split("filename=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
        {
            fields.insert(format!("{name}_file_name"), json!(file_name));
        }
        fields.insert(name.to_owned(), json!(value));
    }
    Value::Object(fields)
}

async fn call(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((bot, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let method = method.to_ascii_lowercase();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let params = if content_type.starts_with("multipart/form-data") {
        multipart_fields(&content_type, &body)
    } else if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).unwrap_or(json!({}))
    };
    let mut seq = 0;
    let (status, answer) = if bot != format!("bot{TOKEN}") {
        error(401, "Unauthorized")
    } else if method == "getupdates" {
        seq = {
            let mut inner = inner.lock().unwrap();
            inner.poll_seq += 1;
            inner.poll_seq
        };
        get_updates(&inner, &params, seq).await
    } else {
        answer(&inner, &method, &params)
    };
    let mut guard = inner.lock().unwrap();
    guard.calls.push(Call {
        method,
        params,
        at: Instant::now(),
        status,
        seq,
    });
    drop(guard);
    (StatusCode::from_u16(status).unwrap(), axum::Json(answer)).into_response()
}

fn answer(inner: &Mutex<Inner>, method: &str, params: &Value) -> (u16, Value) {
    let mut inner = inner.lock().unwrap();
    if inner.failures.front().is_some_and(|(m, _, _)| m == method) {
        let (_, status, body) = inner.failures.pop_front().unwrap();
        return (status, body);
    }
    match method {
        "getme" => ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "PayBot", "username": BOT_USERNAME,
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "can_connect_to_business": false,
            "has_main_web_app": false
        })),
        "setmycommands" | "deletewebhook" | "setwebhook" | "answercallbackquery" => ok(json!(true)),
        "getwebhookinfo" => ok(json!({"url": "", "has_custom_certificate": false,
            "pending_update_count": 0})),
        "deletemessage" => {
            let chat_id = match &params["chat_id"] {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            };
            let message_id = match &params["message_id"] {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            };
            let (Some(chat_id), Some(message_id)) = (chat_id, message_id) else {
                return error(400, "Bad Request: message identifier is not specified");
            };
            if !inner.messages.contains(&(chat_id, message_id)) {
                return error(400, "Bad Request: message to delete not found");
            }
            if chat_id < 0 && !inner.admin {
                return error(400, "Bad Request: message can't be deleted");
            }
            inner.messages.remove(&(chat_id, message_id));
            inner.deleted.push((chat_id, message_id));
            ok(json!(true))
        }
        "sendphoto" => {
            let chat_id = match &params["chat_id"] {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            };
            let Some(chat_id) = chat_id else {
                return error(400, "Bad Request: chat_id is empty");
            };
            // The file part, read as (lossy) text: a PNG starts "\x89PNG".
            // The client may name it `attach://PART`, the part it is in.
            let photo = params["photo"].as_str().unwrap_or_default();
            let photo = match photo.strip_prefix("attach://") {
                Some(part) => params[part].as_str().unwrap_or_default(),
                None => photo,
            };
            if !photo.contains("PNG") {
                return error(400, "Bad Request: there is no photo in the request");
            }
            if chat_id > 0 && !inner.started.contains(&chat_id) {
                return error(
                    403,
                    "Forbidden: bot can't initiate conversation with a user",
                );
            }
            inner.next_message_id += 1;
            let message_id = inner.next_message_id;
            inner.messages.insert((chat_id, message_id));
            ok(json!({
                "message_id": message_id,
                "from": {"id": BOT_ID, "is_bot": true, "first_name": "PayBot", "username": BOT_USERNAME},
                "chat": {"id": chat_id, "type": "private", "first_name": "User"},
                "date": 1_700_000_001,
                "photo": [{"file_id": "AgACAgQRCODE", "file_unique_id": "AQADqr",
                    "width": 328, "height": 328, "file_size": 1_024}],
                "caption": params["caption"].as_str().unwrap_or_default(),
            }))
        }
        "senddocument" => {
            let chat_id = match &params["chat_id"] {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            };
            let Some(chat_id) = chat_id else {
                return error(400, "Bad Request: chat_id is empty");
            };
            // The file part; the client may name it `attach://PART`.
            let field = params["document"].as_str().unwrap_or_default();
            let part = field.strip_prefix("attach://").unwrap_or("document");
            let document = params[part].as_str().unwrap_or_default();
            if document.is_empty() {
                return error(400, "Bad Request: there is no document in the request");
            }
            if chat_id > 0 && !inner.started.contains(&chat_id) {
                return error(
                    403,
                    "Forbidden: bot can't initiate conversation with a user",
                );
            }
            inner.next_message_id += 1;
            let message_id = inner.next_message_id;
            inner.messages.insert((chat_id, message_id));
            ok(json!({
                "message_id": message_id,
                "from": {"id": BOT_ID, "is_bot": true, "first_name": "PayBot", "username": BOT_USERNAME},
                "chat": {"id": chat_id, "type": "private", "first_name": "User"},
                "date": 1_700_000_001,
                "document": {"file_id": "BQACAgQDOC", "file_unique_id": "AgADdoc",
                    "file_name": params[format!("{part}_file_name")].as_str().unwrap_or("file"),
                    "file_size": document.len()},
            }))
        }
        "sendmessage" => {
            let chat_id = match &params["chat_id"] {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            };
            let Some(chat_id) = chat_id else {
                return error(400, "Bad Request: chat_id is empty");
            };
            let text = params["text"].as_str().unwrap_or_default();
            if text.is_empty() {
                return error(400, "Bad Request: message text is empty");
            }
            if text.encode_utf16().count() > 4_096 {
                return error(400, "Bad Request: message is too long");
            }
            if chat_id > 0 && !inner.started.contains(&chat_id) {
                return error(
                    403,
                    "Forbidden: bot can't initiate conversation with a user",
                );
            }
            inner.next_message_id += 1;
            let message_id = inner.next_message_id;
            inner.messages.insert((chat_id, message_id));
            let chat = if chat_id > 0 {
                json!({"id": chat_id, "type": "private", "first_name": "User"})
            } else {
                json!({"id": chat_id, "type": "supergroup", "title": "Flatmates"})
            };
            ok(json!({
                "message_id": inner.next_message_id,
                "from": {"id": BOT_ID, "is_bot": true, "first_name": "PayBot", "username": BOT_USERNAME},
                "chat": chat,
                "date": 1_700_000_001,
                "text": text,
            }))
        }
        _ => error(404, "Not Found"),
    }
}

async fn get_updates(inner: &Mutex<Inner>, params: &Value, seq: u64) -> (u16, Value) {
    let offset = params["offset"].as_i64().unwrap_or(0);
    let wait_ms = params["timeout"]
        .as_u64()
        .unwrap_or(0)
        .saturating_mul(1_000)
        .min(POLL_WAIT_MS_MAX);
    let deadline = Instant::now() + Duration::from_millis(wait_ms);
    loop {
        {
            let mut inner = inner.lock().unwrap();
            if inner
                .failures
                .front()
                .is_some_and(|(m, _, _)| m == "getupdates")
            {
                let (_, status, body) = inner.failures.pop_front().unwrap();
                return (status, body);
            }
            let mut batch: Vec<Value> = inner.again.drain(..).collect();
            batch.extend(
                inner
                    .updates
                    .iter()
                    .filter(|u| u["update_id"].as_i64().unwrap_or(0) >= offset)
                    .take(100)
                    .cloned(),
            );
            if !batch.is_empty() {
                inner.last_handout_seq = seq;
                return ok(Value::Array(batch));
            }
            if Instant::now() >= deadline {
                return ok(Value::Array(batch));
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
