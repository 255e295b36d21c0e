//! A fake Discord (REST API v10 and a gateway), for running the real
//! serenity client end to end.
//!
//! REST (axum, 127.0.0.1 port 0) answers as Discord does: JSON bodies
//! (`payload_json` of a multipart body is read), errors as
//! `{"code": N, "message": ".."}` with Discord's status and code. It knows
//! the bot's own endpoints (`/users/@me`, `/oauth2/applications/@me`,
//! `/gateway`, `/gateway/bot`), bulk overwrite of global and guild commands,
//! interaction callbacks (unknown interaction 10062, already acknowledged
//! 40060), the original response and follow-ups (webhook routes, 10015 and
//! 10008 as Discord answers them before the interaction is acknowledged),
//! opening DMs and sending messages (unknown channel 10003, empty message
//! 50006, over 2000 characters 50035, and 50007 to a user whose DMs are
//! closed). Every request is recorded; the next request matching a method
//! and path prefix can be made to fail (a 429 with `retry_after`, say).
//!
//! The gateway (tokio-tungstenite, its own port, `ws://`) says HELLO,
//! answers IDENTIFY with READY, heartbeats with ACKs, RESUME with RESUMED,
//! and dispatches events (`INTERACTION_CREATE`) to every identified
//! connection with the next sequence number of its session.
//!
//! Interactions are built as Discord's documentation shows them; the fake
//! remembers each one's id and token so it can answer callbacks as Discord
//! does. [`SigningKey`] signs bodies for the HTTP interactions endpoint as
//! Discord does (`X-Signature-Ed25519` over timestamp then body); the fake
//! has one, and `/oauth2/applications/@me` reports its `verify_key`.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ed25519_dalek::Signer as _;
use futures::{SinkExt as _, StreamExt as _};
use rand::TryRngCore as _;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{
    ErrorResponse, Request, Response as WsResponse,
};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The application, and its bot user (the same id, as for every bot made
/// since 2019).
pub(crate) const APPLICATION_ID: u64 = 1_100_000_000_000_000_001;
pub(crate) const BOT_ID: u64 = APPLICATION_ID;
pub(crate) const BOT_USERNAME: &str = "PayBot";
/// Shaped like a real one (base64 of the bot id, timestamp, HMAC).
pub(crate) const TOKEN: &str =
    "MTEwMDAwMDAwMDAwMDAwMDAwMQ.GfAkE0.fake-token-for-tests-only_0123456789abc";
pub(crate) const GUILD_ID: u64 = 1_100_000_000_000_000_100;
/// A text channel of the guild.
pub(crate) const CHANNEL_ID: u64 = 1_100_000_000_000_000_200;
pub(crate) const HEARTBEAT_INTERVAL_MS: u64 = 41_250;

/// Application command option types.
pub(crate) const SUB_COMMAND: u8 = 1;
pub(crate) const STRING: u8 = 3;
pub(crate) const INTEGER: u8 = 4;
pub(crate) const BOOLEAN: u8 = 5;
pub(crate) const USER: u8 = 6;
pub(crate) const NUMBER: u8 = 10;

/// Interaction types.
pub(crate) const PING: u8 = 1;
pub(crate) const APPLICATION_COMMAND: u8 = 2;
pub(crate) const MESSAGE_COMPONENT: u8 = 3;
pub(crate) const MODAL_SUBMIT: u8 = 5;

const MAX_CONTENT: usize = 2_000;
const TIMESTAMP: &str = "2025-06-01T12:00:00.000000+00:00";
const JOINED_AT: &str = "2024-03-01T10:00:00.000000+00:00";
const ATTACHMENT_SIZE_LIMIT: u64 = 10_485_760;

/// Permission bits (as Discord sends them: a decimal string).
fn permissions(bits: &[u32]) -> String {
    bits.iter()
        .fold(0_u64, |acc, bit| acc | (1_u64 << bit))
        .to_string()
}

/// VIEW_CHANNEL, SEND_MESSAGES, EMBED_LINKS, ATTACH_FILES,
/// READ_MESSAGE_HISTORY, USE_EXTERNAL_EMOJIS, USE_APPLICATION_COMMANDS,
/// SEND_MESSAGES_IN_THREADS.
fn guild_app_permissions() -> String {
    permissions(&[10, 11, 14, 15, 16, 18, 31, 38])
}

/// What a member without roles gets: the above plus CREATE_INSTANT_INVITE,
/// ADD_REACTIONS, CONNECT, SPEAK, CHANGE_NICKNAME.
fn member_permissions() -> String {
    permissions(&[0, 6, 10, 11, 14, 15, 16, 18, 20, 21, 26, 31, 38])
}

/// In a DM Discord gives apps ATTACH_FILES, EMBED_LINKS, MENTION_EVERYONE
/// and, in the bot's own DM, USE_EXTERNAL_EMOJIS.
fn dm_app_permissions() -> String {
    permissions(&[14, 15, 17, 18])
}

/// The id of the DM channel between the bot and `user_id`, as
/// `POST /users/@me/channels` answers it (and as DM interactions carry it).
pub(crate) fn dm_channel_id(user_id: u64) -> u64 {
    user_id ^ 0x5A5A_5A5A
}

/// A Discord user of the tests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DcUser {
    pub(crate) id: u64,
    pub(crate) username: &'static str,
    pub(crate) global_name: Option<&'static str>,
}

impl DcUser {
    /// The user object, as Discord sends it (new usernames:
    /// discriminator `"0"`).
    pub(crate) fn json(&self) -> Value {
        user_json(self.id, self.username, self.global_name, false)
    }

    pub(crate) fn dm_channel_id(&self) -> u64 {
        dm_channel_id(self.id)
    }
}

fn user_json(id: u64, username: &str, global_name: Option<&str>, bot: bool) -> Value {
    let mut user = json!({
        "id": id.to_string(),
        "username": username,
        "avatar": null,
        "discriminator": "0",
        "public_flags": 0,
        "flags": 0,
        "banner": null,
        "accent_color": null,
        "global_name": global_name,
        "avatar_decoration_data": null,
        "collectibles": null,
        "banner_color": null,
        "clan": null,
        "primary_guild": null,
    });
    if bot {
        user["bot"] = json!(true);
    }
    user
}

pub(crate) fn bot_user() -> Value {
    user_json(BOT_ID, BOT_USERNAME, None, true)
}

/// Where an interaction happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// [`CHANNEL_ID`] of [`GUILD_ID`], the app installed to the guild.
    Guild,
    /// The user's DM with the bot.
    Dm,
}

/// One request the client made.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// Upper case: `POST`.
    pub(crate) method: String,
    /// The full path: `/api/v10/channels/1/messages`.
    pub(crate) path: String,
    /// The query string, if any (serenity writes `?&wait=true`).
    pub(crate) query: String,
    /// The JSON body (`payload_json` of a multipart body); `null` if none.
    pub(crate) body: Value,
    pub(crate) authorization: Option<String>,
    pub(crate) at: Instant,
    /// The status answered.
    pub(crate) status: u16,
    /// The body answered; `null` for a 204.
    pub(crate) response: Value,
    /// The files of a multipart body: (file name, content as text).
    pub(crate) files: Vec<(String, String)>,
}

impl Call {
    /// The path without `/api/v10`: `/channels/1/messages`.
    pub(crate) fn route(&self) -> &str {
        self.path.strip_prefix("/api/v10").unwrap_or(&self.path)
    }

    fn matches(&self, prefix: &str) -> bool {
        self.path.starts_with(prefix) || self.route().starts_with(prefix)
    }

    pub(crate) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `content` of the body, or of its `data` (an interaction callback).
    pub(crate) fn content(&self) -> &str {
        self.body["content"]
            .as_str()
            .or_else(|| self.body["data"]["content"].as_str())
            .unwrap_or_default()
    }

    /// The Discord error code answered, if any.
    pub(crate) fn error_code(&self) -> Option<i64> {
        if self.ok() {
            None
        } else {
            self.response["code"].as_i64()
        }
    }
}

/// One gateway frame, either way.
#[derive(Debug, Clone)]
pub(crate) struct GatewayFrame {
    pub(crate) conn: u64,
    pub(crate) from_client: bool,
    pub(crate) payload: Value,
    pub(crate) at: Instant,
}

impl GatewayFrame {
    pub(crate) fn op(&self) -> Option<u64> {
        self.payload["op"].as_u64()
    }
}

/// A gateway connection, open or closed.
#[derive(Debug, Clone)]
pub(crate) struct GatewayConnection {
    pub(crate) id: u64,
    /// The request target of the upgrade: `/?v=10`.
    pub(crate) uri: String,
    pub(crate) open: bool,
    /// The `d` of its IDENTIFY (or RESUME), once sent.
    pub(crate) identify: Option<Value>,
    pub(crate) session_id: Option<String>,
}

#[derive(Debug)]
struct Failure {
    method: String,
    prefix: String,
    status: u16,
    body: Value,
}

/// An interaction handed out by a builder.
#[derive(Debug)]
struct Interaction {
    id: u64,
    channel_id: u64,
    /// The callback type it was acknowledged with.
    acked: Option<u64>,
    /// The original response (or, for a component, the message it is on).
    original: Option<Value>,
}

#[derive(Debug)]
struct Conn {
    tx: mpsc::UnboundedSender<Message>,
    session_id: Option<String>,
}

#[derive(Debug)]
struct Inner {
    calls: Vec<Call>,
    failures: Vec<Failure>,
    next_id: u64,
    /// Users the tests introduced (by id), for resolved data and DMs.
    users: HashMap<u64, Value>,
    /// Known channels; `Some(user)` for the DM with `user`.
    channels: HashMap<u64, Option<u64>>,
    closed_dms: HashSet<u64>,
    /// By token.
    interactions: HashMap<String, Interaction>,
    /// By guild (`None`: global), as last overwritten.
    commands: HashMap<Option<u64>, Vec<Value>>,
    gateway: Vec<GatewayConnection>,
    conns: HashMap<u64, Conn>,
    /// Session id to its last sequence number.
    sessions: HashMap<String, u64>,
    frames: Vec<GatewayFrame>,
    verify_key: String,
    gateway_url: String,
    heartbeat_interval_ms: u64,
}

impl Inner {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn user(&self, id: u64) -> Value {
        self.users
            .get(&id)
            .cloned()
            .unwrap_or_else(|| user_json(id, &format!("user{id}"), None, false))
    }

    fn send(&mut self, conn: u64, payload: Value) {
        if let Some(c) = self.conns.get(&conn) {
            let _ = c.tx.send(Message::Text(payload.to_string()));
            self.frames.push(GatewayFrame {
                conn,
                from_client: false,
                payload,
                at: Instant::now(),
            });
        }
    }

    /// Sends a dispatch on `conn` with the next sequence of its session.
    fn dispatch_on(&mut self, conn: u64, event: &str, d: &Value) -> bool {
        let Some(session) = self.conns.get(&conn).and_then(|c| c.session_id.clone()) else {
            return false;
        };
        let seq = {
            let seq = self.sessions.entry(session).or_insert(0);
            *seq += 1;
            *seq
        };
        self.send(conn, json!({"op": 0, "s": seq, "t": event, "d": d}));
        true
    }
}

/// Ed25519 key pair of an application, signing as Discord signs requests
/// to an HTTP interactions endpoint.
#[derive(Debug, Clone)]
pub(crate) struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// A fresh key from the OS's random source.
    pub(crate) fn generate() -> SigningKey {
        let mut seed = [0_u8; 32];
        rand::rngs::OsRng.try_fill_bytes(&mut seed).unwrap();
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// The application's public key as the developer portal shows it (64
    /// hex digits).
    pub(crate) fn public_key_hex(&self) -> String {
        hex(&self.public_key_bytes())
    }

    pub(crate) fn public_key_bytes(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// `X-Signature-Ed25519`: hex of the signature over the timestamp's
    /// bytes followed by the body's.
    pub(crate) fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        let mut message = Vec::with_capacity(timestamp.len() + body.len());
        message.extend_from_slice(timestamp.as_bytes());
        message.extend_from_slice(body);
        hex(&self.0.sign(&message).to_bytes())
    }

    /// `(X-Signature-Ed25519, X-Signature-Timestamp)` for `body` now.
    pub(crate) fn sign_now(&self, body: &[u8]) -> (String, String) {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            .to_string();
        (self.sign(&timestamp, body), timestamp)
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[derive(Clone, Debug)]
pub(crate) struct FakeDiscord {
    /// `http://127.0.0.1:PORT`: give it to serenity's `HttpBuilder::proxy`
    /// together with `ratelimiter_disabled(true)`: serenity 0.12.5's rate
    /// limiter builds its requests without the proxy (straight to
    /// discord.com).
    pub(crate) url: String,
    /// `ws://127.0.0.1:PORT2`, what `GET /gateway` answers.
    pub(crate) gateway_url: String,
    /// The application's key; `verify_key` of `/oauth2/applications/@me`.
    pub(crate) signing_key: SigningKey,
    inner: Arc<Mutex<Inner>>,
}

impl FakeDiscord {
    /// Starts the REST API and the gateway on 127.0.0.1, ports 0, on the
    /// current tokio runtime.
    pub(crate) async fn start() -> FakeDiscord {
        let localhost = SocketAddr::from(([127, 0, 0, 1], 0));
        let api = tokio::net::TcpListener::bind(localhost).await.unwrap();
        let gateway = tokio::net::TcpListener::bind(localhost).await.unwrap();
        let url = format!("http://{}", api.local_addr().unwrap());
        let gateway_url = format!("ws://{}", gateway.local_addr().unwrap());
        let signing_key = SigningKey::generate();
        let inner = Arc::new(Mutex::new(Inner {
            calls: Vec::new(),
            failures: Vec::new(),
            next_id: 1_300_000_000_000_000_000,
            users: HashMap::new(),
            channels: HashMap::from([(CHANNEL_ID, None)]),
            closed_dms: HashSet::new(),
            interactions: HashMap::new(),
            commands: HashMap::new(),
            gateway: Vec::new(),
            conns: HashMap::new(),
            sessions: HashMap::new(),
            frames: Vec::new(),
            verify_key: signing_key.public_key_hex(),
            gateway_url: gateway_url.clone(),
            heartbeat_interval_ms: HEARTBEAT_INTERVAL_MS,
        }));
        let router = Router::new().fallback(rest).with_state(Arc::clone(&inner));
        tokio::spawn(async move {
            let _ = axum::serve(api, router).await;
        });
        let gateway_inner = Arc::clone(&inner);
        tokio::spawn(async move {
            while let Ok((stream, _)) = gateway.accept().await {
                tokio::spawn(gateway_connection(stream, Arc::clone(&gateway_inner)));
            }
        });
        FakeDiscord {
            url,
            gateway_url,
            signing_key,
            inner,
        }
    }

    // ---- users and channels ----

    /// Makes `user` known: resolved data and DM recipients show it.
    pub(crate) fn add_user(&self, user: &DcUser) {
        self.inner
            .lock()
            .unwrap()
            .users
            .insert(user.id, user.json());
    }

    /// `user_id` accepts no DMs from the bot: sending to their DM channel
    /// answers 403 `{"code": 50007}` (opening the channel still works, as
    /// on Discord).
    pub(crate) fn close_dms(&self, user_id: u64) {
        self.inner.lock().unwrap().closed_dms.insert(user_id);
    }

    pub(crate) fn open_dms(&self, user_id: u64) {
        self.inner.lock().unwrap().closed_dms.remove(&user_id);
    }

    // ---- scripted failures and recorded calls ----

    /// The next request whose method is `method` and whose path (with or
    /// without `/api/v10`) starts with `path_prefix` gets this answer
    /// instead. A 429 also gets `Retry-After` (from `retry_after`) and
    /// `X-RateLimit-Scope` headers, and `X-RateLimit-Global` if `global`.
    pub(crate) fn fail_next(&self, method: &str, path_prefix: &str, status: u16, body: Value) {
        self.inner.lock().unwrap().failures.push(Failure {
            method: method.to_ascii_uppercase(),
            prefix: path_prefix.to_owned(),
            status,
            body,
        });
    }

    /// Every request so far whose path (with or without `/api/v10`) starts
    /// with `path_prefix`.
    pub(crate) fn calls(&self, path_prefix: &str) -> Vec<Call> {
        self.inner
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.matches(path_prefix))
            .cloned()
            .collect()
    }

    pub(crate) fn all_calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// Messages delivered (answered 200) to `channel_id` through
    /// `POST /channels/{id}/messages`.
    pub(crate) fn sent_to(&self, channel_id: u64) -> Vec<Call> {
        self.calls(&format!("/channels/{channel_id}/messages"))
            .into_iter()
            .filter(|c| c.method == "POST" && c.ok())
            .collect()
    }

    /// Messages delivered to `user_id`'s DM channel.
    pub(crate) fn dms_to(&self, user_id: u64) -> Vec<Call> {
        self.sent_to(dm_channel_id(user_id))
    }

    /// Every request answering `interaction` (a payload a builder made): its
    /// callback, edits of the original response, follow-ups; failed ones
    /// too.
    pub(crate) fn responses_to(&self, interaction: &Value) -> Vec<Call> {
        let token = interaction["token"].as_str().unwrap_or_default();
        let id = interaction["id"].as_str().unwrap_or_default();
        let callback = format!("/interactions/{id}/{token}/callback");
        let webhook = format!("/webhooks/{APPLICATION_ID}/{token}");
        self.all_calls()
            .into_iter()
            .filter(|c| c.route() == callback || c.route().starts_with(&webhook))
            .collect()
    }

    /// What Discord does with the HTTP response of an interactions
    /// endpoint: takes `response` as the interaction's callback (so the
    /// original response exists and follow-ups are accepted). Recorded as
    /// a callback call with the query `endpoint`. Returns Discord's answer
    /// status (400 if `response` is not a valid one).
    pub(crate) fn acknowledge(&self, interaction: &Value, response: &Value) -> u16 {
        let id = interaction["id"].as_str().unwrap_or_default();
        let token = interaction["token"].as_str().unwrap_or_default();
        let mut inner = self.inner.lock().unwrap();
        let answer = interaction_callback(&mut inner, id, token, "", response);
        inner.calls.push(Call {
            method: "POST".to_owned(),
            path: format!("/api/v10/interactions/{id}/{token}/callback"),
            query: "endpoint".to_owned(),
            body: response.clone(),
            authorization: None,
            at: Instant::now(),
            status: answer.status,
            response: answer.body.clone().unwrap_or(Value::Null),
            files: Vec::new(),
        });
        answer.status
    }

    /// The commands as last overwritten (with ids), globally (`None`) or in
    /// a guild.
    pub(crate) fn commands(&self, guild_id: Option<u64>) -> Vec<Value> {
        self.inner
            .lock()
            .unwrap()
            .commands
            .get(&guild_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Waits (at most `secs`) for a request `pred` accepts.
    pub(crate) async fn wait_for(&self, pred: impl Fn(&Call) -> bool, secs: u64) -> Call {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(call) = self.all_calls().into_iter().find(|c| pred(c)) {
                return call;
            }
            if Instant::now() > deadline {
                let seen: Vec<String> = self
                    .all_calls()
                    .iter()
                    .map(|c| format!("{} {} -> {}: {}", c.method, c.path, c.status, c.body))
                    .collect();
                panic!(
                    "no matching request within {secs} s; requests:\n{}",
                    seen.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits for a delivered message to `channel_id` containing `needle`.
    pub(crate) async fn wait_for_message(&self, channel_id: u64, needle: &str, secs: u64) -> Call {
        let path = format!("/api/v10/channels/{channel_id}/messages");
        self.wait_for(
            |c| c.method == "POST" && c.path == path && c.ok() && c.content().contains(needle),
            secs,
        )
        .await
    }

    /// Waits for a delivered DM to `user_id` containing `needle`.
    pub(crate) async fn wait_for_dm(&self, user_id: u64, needle: &str, secs: u64) -> Call {
        self.wait_for_message(dm_channel_id(user_id), needle, secs)
            .await
    }

    /// Waits for the (successful) callback of `interaction`.
    pub(crate) async fn wait_for_callback(&self, interaction: &Value, secs: u64) -> Call {
        let path = format!(
            "/api/v10/interactions/{}/{}/callback",
            interaction["id"].as_str().unwrap_or_default(),
            interaction["token"].as_str().unwrap_or_default()
        );
        self.wait_for(|c| c.path == path && c.ok(), secs).await
    }

    // ---- gateway ----

    /// The `heartbeat_interval` HELLO gives from now on (Discord's is
    /// 41250 ms; serenity sends its first heartbeat one interval after
    /// IDENTIFY).
    pub(crate) fn set_heartbeat_interval(&self, ms: u64) {
        self.inner.lock().unwrap().heartbeat_interval_ms = ms;
    }

    /// Waits (at most `secs`) for a gateway frame `pred` accepts.
    pub(crate) async fn wait_for_frame(
        &self,
        pred: impl Fn(&GatewayFrame) -> bool,
        secs: u64,
    ) -> GatewayFrame {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(frame) = self.gateway_frames().into_iter().find(|f| pred(f)) {
                return frame;
            }
            if Instant::now() > deadline {
                let seen: Vec<String> = self
                    .gateway_frames()
                    .iter()
                    .map(|f| {
                        format!(
                            "{} {}: {}",
                            f.conn,
                            if f.from_client { "<-" } else { "->" },
                            f.payload
                        )
                    })
                    .collect();
                panic!(
                    "no matching gateway frame within {secs} s; frames:\n{}",
                    seen.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Every gateway connection so far.
    pub(crate) fn gateway_connections(&self) -> Vec<GatewayConnection> {
        self.inner.lock().unwrap().gateway.clone()
    }

    /// Every gateway frame so far, both ways.
    pub(crate) fn gateway_frames(&self) -> Vec<GatewayFrame> {
        self.inner.lock().unwrap().frames.clone()
    }

    /// The `d` of every IDENTIFY received.
    pub(crate) fn identifies(&self) -> Vec<Value> {
        self.gateway_frames()
            .into_iter()
            .filter(|f| f.from_client && f.op() == Some(2))
            .map(|f| f.payload["d"].clone())
            .collect()
    }

    /// Waits (at most `secs`) until a connection identified and was sent
    /// READY; returns its IDENTIFY's `d`.
    pub(crate) async fn wait_ready(&self, secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let ready = {
                let inner = self.inner.lock().unwrap();
                inner
                    .gateway
                    .iter()
                    .rev()
                    .find(|c| c.open && c.session_id.is_some())
                    .and_then(|c| c.identify.clone())
            };
            if let Some(identify) = ready {
                return identify;
            }
            assert!(
                Instant::now() < deadline,
                "no gateway client identified within {secs} s; connections: {:?}",
                self.gateway_connections()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Sends dispatch `event` (op 0, `t`) with `d` to every identified
    /// connection, each with its session's next sequence number. Returns
    /// how many connections it went to.
    pub(crate) fn dispatch(&self, event: &str, d: &Value) -> usize {
        let mut inner = self.inner.lock().unwrap();
        let conns: Vec<u64> = inner.conns.keys().copied().collect();
        conns
            .into_iter()
            .filter(|conn| inner.dispatch_on(*conn, event, d))
            .count()
    }

    /// Sends `INTERACTION_CREATE` with `interaction` to every identified
    /// connection.
    pub(crate) fn dispatch_interaction(&self, interaction: &Value) -> usize {
        self.dispatch("INTERACTION_CREATE", interaction)
    }

    /// Sends a raw gateway payload (op 7 RECONNECT, op 9 INVALID_SESSION,
    /// ...) to every open connection.
    pub(crate) fn gateway_send(&self, payload: &Value) {
        let mut inner = self.inner.lock().unwrap();
        let conns: Vec<u64> = inner.conns.keys().copied().collect();
        for conn in conns {
            inner.send(conn, payload.clone());
        }
    }

    /// Closes every open connection with `code` (4000 unknown error, 4004
    /// authentication failed, ...).
    pub(crate) fn close_gateway(&self, code: u16, reason: &str) {
        let inner = self.inner.lock().unwrap();
        for conn in inner.conns.values() {
            let _ = conn.tx.send(Message::Close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: reason.to_owned().into(),
            })));
        }
    }

    // ---- interactions, as Discord's documentation shows them ----

    fn new_interaction(&self, place: Place, user: &DcUser, kind: u8, data: Value) -> Value {
        let mut inner = self.inner.lock().unwrap();
        inner.users.insert(user.id, user.json());
        let id = inner.next_id();
        let token = interaction_token(id);
        let mut interaction = json!({
            "id": id.to_string(),
            "application_id": APPLICATION_ID.to_string(),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        });
        let channel_id = match place {
            Place::Guild => {
                interaction["guild_id"] = json!(GUILD_ID.to_string());
                interaction["guild"] =
                    json!({"id": GUILD_ID.to_string(), "locale": "en-US", "features": []});
                interaction["guild_locale"] = json!("en-US");
                interaction["channel"] = json!({
                    "id": CHANNEL_ID.to_string(),
                    "type": 0,
                    "guild_id": GUILD_ID.to_string(),
                    "name": "general",
                    "position": 0,
                    "parent_id": null,
                    "topic": null,
                    "nsfw": false,
                    "rate_limit_per_user": 0,
                    "last_message_id": null,
                    "flags": 0,
                    "permissions": member_permissions(),
                });
                interaction["member"] = member_json(Some(user.json()));
                interaction["app_permissions"] = json!(guild_app_permissions());
                interaction["authorizing_integration_owners"] = json!({"0": GUILD_ID.to_string()});
                interaction["context"] = json!(0);
                CHANNEL_ID
            }
            Place::Dm => {
                let channel = dm_channel_id(user.id);
                inner.channels.insert(channel, Some(user.id));
                interaction["channel"] = json!({
                    "id": channel.to_string(),
                    "type": 1,
                    "last_message_id": null,
                    "flags": 0,
                    "recipients": [user.json()],
                });
                interaction["user"] = user.json();
                interaction["app_permissions"] = json!(dm_app_permissions());
                // Installed to a guild, used in the bot's DM: "0".
                interaction["authorizing_integration_owners"] = json!({"0": "0"});
                interaction["context"] = json!(1);
                channel
            }
        };
        interaction["channel_id"] = json!(channel_id.to_string());
        inner.interactions.insert(
            token,
            Interaction {
                id,
                channel_id,
                acked: None,
                original: None,
            },
        );
        interaction
    }

    /// A PING (`type 1`), as Discord sends to an HTTP interactions endpoint
    /// to check it.
    pub(crate) fn ping(&self) -> Value {
        let mut inner = self.inner.lock().unwrap();
        let id = inner.next_id();
        let token = interaction_token(id);
        inner.interactions.insert(
            token.clone(),
            Interaction {
                id,
                channel_id: 0,
                acked: None,
                original: None,
            },
        );
        json!({
            "id": id.to_string(),
            "application_id": APPLICATION_ID.to_string(),
            "type": PING,
            "token": token,
            "version": 1,
            "entitlements": [],
            "authorizing_integration_owners": {},
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        })
    }

    /// The id of command `name` of `kind` as last registered (guild ones
    /// first), or one derived from the name.
    fn command_id(&self, name: &str, kind: u8) -> String {
        let inner = self.inner.lock().unwrap();
        [Some(GUILD_ID), None]
            .iter()
            .filter_map(|g| inner.commands.get(g))
            .flatten()
            .find(|c| c["name"] == name && c["type"].as_u64() == Some(u64::from(kind)))
            .and_then(|c| c["id"].as_str().map(str::to_owned))
            .unwrap_or_else(|| {
                let hash = name.bytes().fold(u64::from(kind), |acc, b| {
                    acc.wrapping_mul(31).wrapping_add(u64::from(b))
                });
                (1_200_000_000_000_000_000 + hash % 100_000_000_000_000_000).to_string()
            })
    }

    /// `resolved` for these users (and, in a guild, their members, which
    /// carry no `user`).
    fn resolved(&self, place: Place, users: &[Value]) -> Value {
        let mut resolved = json!({"users": {}});
        for user in users {
            let id = user["id"].as_str().unwrap_or_default().to_owned();
            if place == Place::Guild {
                resolved["members"][&id] = member_json(None);
            }
            resolved["users"][&id] = user.clone();
        }
        resolved
    }

    /// A slash command (APPLICATION_COMMAND, `data.type` 1) `user` runs in
    /// `place`. Options are `(name, type, value)`: STRING (3) a string,
    /// INTEGER (4), NUMBER (10), BOOLEAN (5) as such; USER (6) either a
    /// user id (string or number) or a user object (`DcUser::json()`): the
    /// value sent is the id, and the user (as known to the fake, or as
    /// given) goes to `data.resolved.users` (and `members` in a guild).
    pub(crate) fn slash_command(
        &self,
        place: Place,
        user: &DcUser,
        name: &str,
        options: &[(&str, u8, Value)],
    ) -> Value {
        let mut resolved_users = Vec::new();
        let mut opts = Vec::new();
        for (opt_name, kind, value) in options {
            let value = if *kind == USER {
                let (id, user) = match value {
                    Value::Object(_) => (
                        value["id"].as_str().unwrap_or_default().to_owned(),
                        value.clone(),
                    ),
                    Value::Number(n) => {
                        let id = n.as_u64().unwrap_or_default();
                        (id.to_string(), self.inner.lock().unwrap().user(id))
                    }
                    other => {
                        let id: u64 = other.as_str().unwrap_or_default().parse().unwrap_or(0);
                        (id.to_string(), self.inner.lock().unwrap().user(id))
                    }
                };
                resolved_users.push(user);
                json!(id)
            } else {
                value.clone()
            };
            opts.push(json!({"name": opt_name, "type": kind, "value": value}));
        }
        let mut data = json!({
            "id": self.command_id(name, 1),
            "name": name,
            "type": 1,
        });
        if !opts.is_empty() {
            data["options"] = Value::Array(opts);
        }
        if !resolved_users.is_empty() {
            data["resolved"] = self.resolved(place, &resolved_users);
        }
        if place == Place::Guild {
            data["guild_id"] = json!(GUILD_ID.to_string());
        }
        self.new_interaction(place, user, APPLICATION_COMMAND, data)
    }

    /// A USER context-menu command (`data.type` 2) `user` runs on `target`.
    pub(crate) fn user_command(
        &self,
        place: Place,
        user: &DcUser,
        name: &str,
        target: &DcUser,
    ) -> Value {
        self.add_user(target);
        let mut data = json!({
            "id": self.command_id(name, 2),
            "name": name,
            "type": 2,
            "target_id": target.id.to_string(),
            "resolved": self.resolved(place, &[target.json()]),
        });
        if place == Place::Guild {
            data["guild_id"] = json!(GUILD_ID.to_string());
        }
        self.new_interaction(place, user, APPLICATION_COMMAND, data)
    }

    /// A MODAL_SUBMIT (`type 5`) of modal `custom_id`: one action row per
    /// `(text input custom_id, value)`.
    pub(crate) fn modal_submit(
        &self,
        place: Place,
        user: &DcUser,
        custom_id: &str,
        fields: &[(&str, &str)],
    ) -> Value {
        let rows: Vec<Value> = fields
            .iter()
            .map(|(id, value)| {
                json!({"type": 1, "components": [{"type": 4, "custom_id": id, "value": value}]})
            })
            .collect();
        let data = json!({"custom_id": custom_id, "components": rows});
        self.new_interaction(place, user, MODAL_SUBMIT, data)
    }

    /// A press (MESSAGE_COMPONENT, `type 3`) of button `custom_id` on a
    /// message the bot sent in `place`.
    pub(crate) fn button(&self, place: Place, user: &DcUser, custom_id: &str) -> Value {
        let data = json!({"custom_id": custom_id, "component_type": 2});
        let mut interaction = self.new_interaction(place, user, MESSAGE_COMPONENT, data);
        let mut inner = self.inner.lock().unwrap();
        let channel_id = interaction["channel_id"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .unwrap_or(0);
        let mut message = message_json(
            &mut inner,
            channel_id,
            &json!({
                "content": "(the bot's message)",
                "components": [{"type": 1, "components": [
                    {"type": 2, "style": 1, "label": "Press", "custom_id": custom_id}
                ]}]
            }),
            0,
        );
        if place == Place::Guild {
            message["guild_id"] = json!(GUILD_ID.to_string());
        }
        if let Some(ix) = interaction["token"]
            .as_str()
            .and_then(|t| inner.interactions.get_mut(t))
        {
            ix.original = Some(message.clone());
        }
        interaction["message"] = message;
        interaction
    }
}

fn interaction_token(id: u64) -> String {
    format!("aW50ZXJhY3Rpb246{id}OmZha2UtdG9rZW4tZm9yLXRlc3Rz")
}

/// A guild member; `user` is absent in `resolved.members`.
fn member_json(user: Option<Value>) -> Value {
    let mut member = json!({
        "avatar": null,
        "banner": null,
        "communication_disabled_until": null,
        "flags": 0,
        "joined_at": JOINED_AT,
        "nick": null,
        "pending": false,
        "permissions": member_permissions(),
        "premium_since": null,
        "roles": [],
        "unusual_dm_activity_until": null,
    });
    if let Some(user) = user {
        member["user"] = user;
        member["deaf"] = json!(false);
        member["mute"] = json!(false);
    }
    member
}

/// A message the bot posts in `channel_id` with `body`'s content, embeds,
/// components and flags. `kind` 0 DEFAULT, 20 CHAT_INPUT_COMMAND.
fn message_json(inner: &mut Inner, channel_id: u64, body: &Value, kind: u8) -> Value {
    let id = inner.next_id();
    json!({
        "id": id.to_string(),
        "channel_id": channel_id.to_string(),
        "author": bot_user(),
        "content": body["content"].as_str().unwrap_or_default(),
        "timestamp": TIMESTAMP,
        "edited_timestamp": null,
        "tts": body["tts"].as_bool().unwrap_or(false),
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": body.get("embeds").cloned().unwrap_or_else(|| json!([])),
        "components": body.get("components").cloned().unwrap_or_else(|| json!([])),
        "pinned": false,
        "type": kind,
        "flags": body["flags"].as_u64().unwrap_or(0),
    })
}

// ---- REST ----

struct Answer {
    status: u16,
    /// `None`: no body (204).
    body: Option<Value>,
}

fn ok(body: Value) -> Answer {
    Answer {
        status: 200,
        body: Some(body),
    }
}

fn no_content() -> Answer {
    Answer {
        status: 204,
        body: None,
    }
}

fn error(status: u16, code: u32, message: &str) -> Answer {
    Answer {
        status,
        body: Some(json!({"code": code, "message": message})),
    }
}

/// 400, code 50035 "Invalid Form Body", with Discord's `errors` tree for
/// one field (`path` dotted).
fn invalid_form(path: &str, error_code: &str, message: &str) -> Answer {
    let mut errors = json!({"_errors": [{"code": error_code, "message": message}]});
    for key in path.rsplit('.') {
        errors = json!({ key: errors });
    }
    Answer {
        status: 400,
        body: Some(json!({"code": 50035, "message": "Invalid Form Body", "errors": errors})),
    }
}

/// `None` if `body` is a message Discord accepts.
fn check_message(body: &Value) -> Option<Answer> {
    let content = body["content"].as_str().unwrap_or_default();
    if content.chars().count() > MAX_CONTENT {
        return Some(invalid_form(
            "content",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 2000 or fewer in length.",
        ));
    }
    let has = |key: &str| body[key].as_array().is_some_and(|a| !a.is_empty());
    if content.is_empty()
        && !has("embeds")
        && !has("components")
        && !has("attachments")
        && body.get("poll").is_none()
        && body.get("sticker_ids").is_none()
    {
        return Some(error(400, 50006, "Cannot send an empty message"));
    }
    None
}

/// The file parts of a multipart form: (file name, content as text).
fn multipart_files(content_type: &str, body: &[u8]) -> Vec<(String, String)> {
    let Some(boundary) = content_type.split("boundary=").nth(1) else {
        return Vec::new();
    };
    let boundary = format!("--{}", boundary.trim_matches('"'));
    let text = String::from_utf8_lossy(body);
    text.split(boundary.as_str())
        .filter_map(|part| {
            let (head, value) = part.split_once("\r\n\r\n")?;
            let name = head.split("filename=\"").nth(1)?.split('"').next()?;
            let value = value.strip_suffix("\r\n").unwrap_or(value);
            Some((name.to_owned(), value.to_owned()))
        })
        .collect()
}

/// The JSON of a request body: JSON, or `payload_json` of a multipart
/// form. `Err` if it is not JSON.
fn parse_body(content_type: &str, body: &[u8]) -> Result<Value, ()> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    if content_type.starts_with("multipart/form-data") {
        let Some(boundary) = content_type.split("boundary=").nth(1) else {
            return Err(());
        };
        let boundary = format!("--{}", boundary.trim_matches('"'));
        let text = String::from_utf8_lossy(body);
        for part in text.split(boundary.as_str()) {
            let Some((head, value)) = part.split_once("\r\n\r\n") else {
                continue;
            };
            if head.contains("name=\"payload_json\"") {
                let value = value.strip_suffix("\r\n").unwrap_or(value);
                return serde_json::from_str(value).map_err(|_| ());
            }
        }
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|_| ())
}

async fn rest(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or_default().to_owned();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let authorization = header("authorization");
    let content_type = header("content-type").unwrap_or_default();
    let parsed = parse_body(&content_type, &body);
    let files = if content_type.starts_with("multipart/form-data") {
        multipart_files(&content_type, &body)
    } else {
        Vec::new()
    };
    let mut inner = inner.lock().unwrap();
    let scripted = inner.failures.iter().position(|f| {
        f.method == method.as_str()
            && (path.starts_with(&f.prefix)
                || path
                    .strip_prefix("/api/v10")
                    .is_some_and(|r| r.starts_with(&f.prefix)))
    });
    let mut extra: Vec<(&'static str, String)> = Vec::new();
    let (answer, body) = if let Some(index) = scripted {
        let failure = inner.failures.remove(index);
        if failure.status == 429 {
            let retry_after = failure.body["retry_after"].as_f64().unwrap_or(1.0);
            extra.push(("retry-after", retry_after.to_string()));
            extra.push(("x-ratelimit-scope", "user".to_owned()));
            if failure.body["global"].as_bool() == Some(true) {
                extra.push(("x-ratelimit-global", "true".to_owned()));
            }
        }
        let answer = Answer {
            status: failure.status,
            body: Some(failure.body),
        };
        (answer, parsed.unwrap_or(Value::Null))
    } else {
        match parsed {
            Err(()) => (
                error(400, 50109, "The request body contains invalid JSON."),
                Value::Null,
            ),
            Ok(body) => {
                let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
                let answer = route(
                    &mut inner,
                    &method,
                    &segments,
                    &query,
                    authorization.as_deref(),
                    &body,
                );
                (answer, body)
            }
        }
    };
    inner.calls.push(Call {
        method: method.as_str().to_owned(),
        path,
        query,
        body,
        authorization,
        at: Instant::now(),
        status: answer.status,
        response: answer.body.clone().unwrap_or(Value::Null),
        files,
    });
    drop(inner);
    let status = StatusCode::from_u16(answer.status).unwrap();
    let mut response = match answer.body {
        Some(body) => (status, axum::Json(body)).into_response(),
        None => status.into_response(),
    };
    for (name, value) in extra {
        response.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}

fn parse_id(segment: &str) -> Option<u64> {
    segment.parse().ok()
}

fn route(
    inner: &mut Inner,
    method: &Method,
    segments: &[&str],
    query: &str,
    authorization: Option<&str>,
    body: &Value,
) -> Answer {
    let Some(rest) = segments.strip_prefix(&["api", "v10"]) else {
        return error(404, 0, "404: Not Found");
    };
    // The routes an interaction token authorizes need no bot token.
    let bot_authorized = authorization == Some(format!("Bot {TOKEN}").as_str());
    let unauthorized = || error(401, 0, "401: Unauthorized");
    let m = method.as_str();
    match rest {
        ["interactions", id, token, "callback"] => {
            if m != "POST" {
                return error(405, 0, "405: Method Not Allowed");
            }
            interaction_callback(inner, id, token, query, body)
        }
        ["webhooks", app, token] => {
            if m != "POST" {
                return error(405, 0, "405: Method Not Allowed");
            }
            followup(inner, app, token, body)
        }
        ["webhooks", app, token, "messages", "@original"] => original(inner, m, app, token, body),
        _ if !bot_authorized => unauthorized(),
        ["users", "@me"] if m == "GET" => {
            let mut me = bot_user();
            me["mfa_enabled"] = json!(false);
            me["locale"] = json!("en-US");
            me["premium_type"] = json!(0);
            me["email"] = Value::Null;
            me["verified"] = json!(true);
            ok(me)
        }
        ["oauth2", "applications", "@me"] if m == "GET" => ok(application_json(inner)),
        ["gateway"] if m == "GET" => ok(json!({"url": inner.gateway_url})),
        ["gateway", "bot"] if m == "GET" => ok(json!({
            "url": inner.gateway_url,
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0,
                "max_concurrency": 1},
        })),
        ["applications", app, "commands"] if m == "PUT" => {
            overwrite_commands(inner, app, None, body)
        }
        ["applications", app, "guilds", guild, "commands"] if m == "PUT" => {
            let Some(guild) = parse_id(guild) else {
                return error(404, 10004, "Unknown Guild");
            };
            if guild != GUILD_ID {
                return error(403, 50001, "Missing Access");
            }
            overwrite_commands(inner, app, Some(guild), body)
        }
        ["applications", app, "commands"] | ["applications", app, "guilds", _, "commands"]
            if m == "GET" =>
        {
            let guild = rest.get(3).and_then(|g| parse_id(g));
            if parse_id(app) != Some(APPLICATION_ID) {
                return error(
                    403,
                    20012,
                    "You are not authorized to perform this action on this application",
                );
            }
            ok(Value::Array(
                inner.commands.get(&guild).cloned().unwrap_or_default(),
            ))
        }
        ["users", "@me", "channels"] if m == "POST" => {
            let recipient = match &body["recipient_id"] {
                Value::String(s) => parse_id(s),
                Value::Number(n) => n.as_u64(),
                _ => None,
            };
            let Some(recipient) = recipient else {
                return invalid_form(
                    "recipient_id",
                    "NUMBER_TYPE_COERCE",
                    "Value is not snowflake.",
                );
            };
            let channel = dm_channel_id(recipient);
            inner.channels.insert(channel, Some(recipient));
            ok(json!({
                "id": channel.to_string(),
                "type": 1,
                "last_message_id": null,
                "flags": 0,
                "recipients": [inner.user(recipient)],
            }))
        }
        ["channels", channel, "messages"] if m == "POST" => {
            let Some(channel) = parse_id(channel) else {
                return error(404, 10003, "Unknown Channel");
            };
            let Some(dm_of) = inner.channels.get(&channel).copied() else {
                return error(404, 10003, "Unknown Channel");
            };
            if dm_of.is_some_and(|user| inner.closed_dms.contains(&user)) {
                return error(403, 50007, "Cannot send messages to this user");
            }
            if let Some(bad) = check_message(body) {
                return bad;
            }
            let mut message = message_json(inner, channel, body, 0);
            if dm_of.is_none() {
                message["guild_id"] = json!(GUILD_ID.to_string());
            }
            ok(message)
        }
        _ => error(404, 0, "404: Not Found"),
    }
}

fn application_json(inner: &Inner) -> Value {
    json!({
        "id": APPLICATION_ID.to_string(),
        "name": BOT_USERNAME,
        "icon": null,
        "description": "",
        "summary": "",
        "type": null,
        "hook": true,
        "bot_public": true,
        "bot_require_code_grant": false,
        "verify_key": inner.verify_key,
        "flags": 8_912_896,
        "owner": user_json(1_100_000_000_000_000_900, "owner", Some("Owner"), false),
        "team": null,
        "bot": bot_user(),
        "rpc_origins": [],
        "redirect_uris": [],
        "interactions_endpoint_url": null,
        "role_connections_verification_url": null,
        "approximate_guild_count": 1,
        "approximate_user_install_count": 0,
        "integration_types_config": {"0": {}},
        "tags": [],
    })
}

/// Discord's rules for a command's name: 1..=32 characters; for slash
/// commands lower case letters, digits, `-` and `_`.
fn valid_name(name: &str, slash: bool) -> bool {
    let len = name.chars().count();
    (1..=32).contains(&len)
        && (!slash
            || name
                .chars()
                .all(|c| c == '-' || c == '_' || (c.is_alphanumeric() && !c.is_uppercase())))
}

fn overwrite_commands(inner: &mut Inner, app: &str, guild: Option<u64>, body: &Value) -> Answer {
    if parse_id(app) != Some(APPLICATION_ID) {
        return error(
            403,
            20012,
            "You are not authorized to perform this action on this application",
        );
    }
    let Some(commands) = body.as_array() else {
        return invalid_form(
            "_",
            "ARRAY_TYPE_CONVERT",
            "Only iterables may be used in a ListType",
        );
    };
    let previous = inner.commands.get(&guild).cloned().unwrap_or_default();
    let mut out = Vec::new();
    for (index, command) in commands.iter().enumerate() {
        let kind = command["type"].as_u64().unwrap_or(1);
        let name = command["name"].as_str().unwrap_or_default();
        let slash = kind == 1;
        if !valid_name(name, slash) {
            return invalid_form(
                &format!("{index}.name"),
                "APPLICATION_COMMAND_INVALID_NAME",
                "Command name is invalid",
            );
        }
        let description = command["description"].as_str().unwrap_or_default();
        let description_len = description.chars().count();
        if (slash && !(1..=100).contains(&description_len)) || (!slash && description_len > 0) {
            return invalid_form(
                &format!("{index}.description"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            );
        }
        for (o, option) in command["options"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let name = option["name"].as_str().unwrap_or_default();
            if !valid_name(name, true) {
                return invalid_form(
                    &format!("{index}.options.{o}.name"),
                    "APPLICATION_COMMAND_INVALID_NAME",
                    "Command name is invalid",
                );
            }
            let len = option["description"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .count();
            if !(1..=100).contains(&len) {
                return invalid_form(
                    &format!("{index}.options.{o}.description"),
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                );
            }
        }
        // A command keeps its id across overwrites, as on Discord.
        let id = previous
            .iter()
            .find(|p| p["name"] == name && p["type"].as_u64() == Some(kind))
            .and_then(|p| p["id"].as_str().map(str::to_owned))
            .unwrap_or_else(|| inner.next_id().to_string());
        let mut echoed = command.clone();
        echoed["id"] = json!(id);
        echoed["application_id"] = json!(APPLICATION_ID.to_string());
        echoed["version"] = json!(inner.next_id().to_string());
        echoed["type"] = json!(kind);
        echoed["description"] = json!(description);
        for (key, default) in [
            ("default_member_permissions", Value::Null),
            ("nsfw", json!(false)),
            ("integration_types", json!([0])),
            ("contexts", Value::Null),
        ] {
            if echoed.get(key).is_none() {
                echoed[key] = default;
            }
        }
        if let Some(guild) = guild {
            echoed["guild_id"] = json!(guild.to_string());
        }
        out.push(echoed);
    }
    inner.commands.insert(guild, out.clone());
    ok(Value::Array(out))
}

fn interaction_callback(
    inner: &mut Inner,
    id: &str,
    token: &str,
    query: &str,
    body: &Value,
) -> Answer {
    let Some((ix_id, channel_id, acked)) = inner
        .interactions
        .get(token)
        .map(|ix| (ix.id, ix.channel_id, ix.acked))
    else {
        return error(404, 10062, "Unknown interaction");
    };
    if parse_id(id) != Some(ix_id) {
        return error(404, 10062, "Unknown interaction");
    }
    if acked.is_some() {
        return error(400, 40060, "Interaction has already been acknowledged.");
    }
    let kind = body["type"].as_u64().unwrap_or(0);
    let data = &body["data"];
    let original = match kind {
        1 => None,
        4 => {
            if let Some(bad) = check_message(data) {
                return bad;
            }
            Some(message_json(inner, channel_id, data, 20))
        }
        5 => {
            // "Bot is thinking...": flags LOADING (128), plus EPHEMERAL
            // (64) if asked.
            let flags = 128 | (data["flags"].as_u64().unwrap_or(0) & 64);
            Some(message_json(
                inner,
                channel_id,
                &json!({"flags": flags}),
                20,
            ))
        }
        6 | 7 => {
            let mut message = inner
                .interactions
                .get(token)
                .and_then(|ix| ix.original.clone());
            if kind == 7
                && let Some(message) = message.as_mut()
            {
                for key in ["content", "embeds", "components"] {
                    if let Some(value) = data.get(key) {
                        message[key] = value.clone();
                    }
                }
            }
            message
        }
        8 | 10 | 12 => None,
        9 => {
            if data["custom_id"].as_str().is_none_or(str::is_empty) {
                return invalid_form(
                    "data.custom_id",
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                );
            }
            if data["title"].as_str().is_none_or(str::is_empty) {
                return invalid_form("data.title", "BASE_TYPE_REQUIRED", "This field is required");
            }
            None
        }
        _ => {
            return invalid_form(
                "type",
                "BASE_TYPE_CHOICES",
                "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.",
            );
        }
    };
    if let Some(ix) = inner.interactions.get_mut(token) {
        ix.acked = Some(kind);
        if original.is_some() {
            ix.original.clone_from(&original);
        }
    }
    if query.split('&').any(|p| p == "with_response=true") {
        let mut answer = json!({"interaction": {
            "id": ix_id.to_string(),
            "type": 2,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": data["flags"].as_u64().unwrap_or(0) & 64 == 64,
        }});
        if let Some(message) = original {
            answer["resource"] = json!({"type": kind, "message": message});
        }
        return ok(answer);
    }
    no_content()
}

fn followup(inner: &mut Inner, app: &str, token: &str, body: &Value) -> Answer {
    let channel_id = match inner.interactions.get(token) {
        Some(ix) if parse_id(app) == Some(APPLICATION_ID) && ix.acked.is_some() => ix.channel_id,
        _ => return error(404, 10015, "Unknown Webhook"),
    };
    if let Some(bad) = check_message(body) {
        return bad;
    }
    let mut message = message_json(inner, channel_id, body, 0);
    message["webhook_id"] = json!(APPLICATION_ID.to_string());
    message["application_id"] = json!(APPLICATION_ID.to_string());
    ok(message)
}

fn original(inner: &mut Inner, method: &str, app: &str, token: &str, body: &Value) -> Answer {
    let Some(ix) = inner.interactions.get_mut(token) else {
        return error(404, 10015, "Unknown Webhook");
    };
    if parse_id(app) != Some(APPLICATION_ID) {
        return error(404, 10015, "Unknown Webhook");
    }
    let Some(message) = ix.original.as_mut() else {
        return error(404, 10008, "Unknown Message");
    };
    match method {
        "GET" => ok(message.clone()),
        "DELETE" => {
            ix.original = None;
            no_content()
        }
        "PATCH" => {
            if body["content"]
                .as_str()
                .is_some_and(|c| c.chars().count() > MAX_CONTENT)
            {
                return invalid_form(
                    "content",
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 2000 or fewer in length.",
                );
            }
            for key in ["content", "embeds", "components"] {
                if let Some(value) = body.get(key) {
                    message[key] = value.clone();
                }
            }
            // No longer "thinking".
            let flags = message["flags"].as_u64().unwrap_or(0) & !128;
            message["flags"] = json!(flags);
            message["edited_timestamp"] = json!(TIMESTAMP);
            let mut answer = message.clone();
            answer["webhook_id"] = json!(APPLICATION_ID.to_string());
            answer["application_id"] = json!(APPLICATION_ID.to_string());
            ok(answer)
        }
        _ => error(405, 0, "405: Method Not Allowed"),
    }
}

// ---- gateway ----

async fn gateway_connection(stream: tokio::net::TcpStream, inner: Arc<Mutex<Inner>>) {
    let mut uri = String::new();
    // tungstenite's own callback type, Err variant and all.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: WsResponse| -> Result<WsResponse, ErrorResponse> {
        uri = request.uri().to_string();
        Ok(response)
    };
    let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    let conn = {
        let mut inner = inner.lock().unwrap();
        let conn = inner.next_id();
        inner.gateway.push(GatewayConnection {
            id: conn,
            uri,
            open: true,
            identify: None,
            session_id: None,
        });
        inner.conns.insert(
            conn,
            Conn {
                tx,
                session_id: None,
            },
        );
        let interval = inner.heartbeat_interval_ms;
        inner.send(
            conn,
            json!({"op": 10, "s": null, "t": null,
                "d": {"heartbeat_interval": interval, "_trace": ["[\"fake-gateway\"]"]}}),
        );
        conn
    };
    tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            let closing = matches!(message, Message::Close(_));
            if sink.send(message).await.is_err() || closing {
                break;
            }
        }
    });
    while let Some(Ok(message)) = stream.next().await {
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Message::Close(_) => break,
            _ => continue,
        };
        let Ok(payload) = serde_json::from_str::<Value>(&text) else {
            close(&inner, conn, 4002, "Error while decoding payload.");
            continue;
        };
        gateway_frame(&inner, conn, payload);
    }
    let mut inner = inner.lock().unwrap();
    inner.conns.remove(&conn);
    if let Some(c) = inner.gateway.iter_mut().find(|c| c.id == conn) {
        c.open = false;
    }
}

fn close(inner: &Mutex<Inner>, conn: u64, code: u16, reason: &str) {
    if let Some(c) = inner.lock().unwrap().conns.get(&conn) {
        let _ = c.tx.send(Message::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_owned().into(),
        })));
    }
}

fn gateway_frame(inner: &Mutex<Inner>, conn: u64, payload: Value) {
    let op = payload["op"].as_u64();
    let d = payload["d"].clone();
    let mut guard = inner.lock().unwrap();
    guard.frames.push(GatewayFrame {
        conn,
        from_client: true,
        payload,
        at: Instant::now(),
    });
    match op {
        // Heartbeat.
        Some(1) => guard.send(conn, json!({"op": 11})),
        // Identify.
        Some(2) => {
            let token = d["token"].as_str().unwrap_or_default();
            if token != TOKEN && token != format!("Bot {TOKEN}") {
                drop(guard);
                close(inner, conn, 4004, "Authentication failed.");
                return;
            }
            let already = guard
                .conns
                .get(&conn)
                .is_some_and(|c| c.session_id.is_some());
            if already {
                drop(guard);
                close(inner, conn, 4005, "Already authenticated.");
                return;
            }
            let session_id = format!("{:032x}", guard.next_id());
            guard.sessions.insert(session_id.clone(), 0);
            if let Some(c) = guard.conns.get_mut(&conn) {
                c.session_id = Some(session_id.clone());
            }
            if let Some(c) = guard.gateway.iter_mut().find(|c| c.id == conn) {
                c.identify = Some(d.clone());
                c.session_id = Some(session_id.clone());
            }
            let mut ready = json!({
                "v": 10,
                "user_settings": {},
                "user": {
                    "id": BOT_ID.to_string(), "username": BOT_USERNAME, "discriminator": "0",
                    "global_name": null, "avatar": null, "bot": true, "verified": true,
                    "mfa_enabled": false, "flags": 0, "email": null,
                },
                "relationships": [],
                "private_channels": [],
                "presences": [],
                "guilds": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": ["us-east"],
                "session_type": "normal",
                "session_id": session_id,
                "resume_gateway_url": guard.gateway_url,
                "application": {"id": APPLICATION_ID.to_string(), "flags": 8_912_896},
                "_trace": ["[\"fake-gateway\"]"],
            });
            if d.get("shard").is_some() {
                ready["shard"] = d["shard"].clone();
            }
            guard.dispatch_on(conn, "READY", &ready);
        }
        // Resume.
        Some(6) => {
            let session = d["session_id"].as_str().unwrap_or_default().to_owned();
            let token = d["token"].as_str().unwrap_or_default();
            let valid = guard.sessions.contains_key(&session)
                && (token == TOKEN || token == format!("Bot {TOKEN}"));
            if valid {
                if let Some(c) = guard.conns.get_mut(&conn) {
                    c.session_id = Some(session.clone());
                }
                if let Some(c) = guard.gateway.iter_mut().find(|c| c.id == conn) {
                    c.identify = Some(d.clone());
                    c.session_id = Some(session);
                }
                guard.dispatch_on(conn, "RESUMED", &json!({"_trace": ["[\"fake-gateway\"]"]}));
            } else {
                guard.send(conn, json!({"op": 9, "s": null, "t": null, "d": false}));
            }
        }
        // Presence update, voice state update, request guild members,
        // request soundboard sounds: nothing to answer here.
        Some(3 | 4 | 8 | 31) => {}
        _ => {
            drop(guard);
            close(inner, conn, 4001, "Unknown opcode.");
        }
    }
}
