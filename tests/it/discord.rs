//! The Discord adapter end to end: interactions signed in the test with a
//! generated Ed25519 key and posted to the real `/discord/interactions`
//! route, or dispatched by a fake Discord's gateway to serenity's real
//! client; answers, edits, follow-ups and DMs go through serenity's HTTP
//! client to the fake's REST API (`tests/it/support/fake_discord.rs`, port 0);
//! the real bot core and storage behind.
//!
//! Each test is what a Discord user would see: what only they see
//! (ephemeral), what the channel sees (never a code or a balance), who
//! gets a DM, what the money did.

use crate::support::{self, fake_discord};

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use bot::message::{Platform, PlatformUserId};
use bot::store::Store;
use fake_discord::{
    APPLICATION_ID, BOOLEAN, CHANNEL_ID, DcUser, FakeDiscord, GUILD_ID, Place, STRING, SigningKey,
    TOKEN, USER,
};
use ledger::testing::{TestBackend, TestDb};
use paybot_discord::config::parse_api_url;
use paybot_discord::{
    Discord, DiscordConfig, Gateway, INTERACTIONS_PATH, Mode, PublicKey, Snowflake, Token,
};
use paybot_mock::{MockChat, Outgoing};
use paybot_store::SqlStore;
use serde_json::{Value, json};
use tokio::sync::watch;
use tower::ServiceExt;

use support::{cases, word_after};

/// How long a test waits for one expected request, in seconds.
const WAIT_SECS: u64 = 10;
/// Message flag: ephemeral.
const EPHEMERAL: u64 = 64;

const ALICE: DcUser = DcUser {
    id: 1_000_000_000_000_000_001,
    username: "alice",
    global_name: Some("Alice"),
};
const BOB: DcUser = DcUser {
    id: 1_000_000_000_000_000_002,
    username: "bob",
    global_name: Some("Bobby"),
};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Via {
    /// Signed calls to `POST /discord/interactions`.
    Endpoint,
    /// `INTERACTION_CREATE` on the gateway.
    Gateway,
}

struct Harness {
    fake: FakeDiscord,
    db: TestDb,
    store: Arc<SqlStore>,
    mock: Arc<MockChat>,
    endpoint: Router,
    via: Via,
    /// Tokens of the interactions used in the server channel.
    guild_tokens: std::sync::Mutex<Vec<String>>,
    _stop: watch::Sender<bool>,
}

/// The first answer to an interaction: its type and message.
#[derive(Debug, Clone)]
struct Response(Value);

impl Response {
    fn kind(&self) -> u64 {
        self.0["type"].as_u64().unwrap_or(0)
    }

    fn content(&self) -> &str {
        self.0["data"]["content"].as_str().unwrap_or_default()
    }

    fn ephemeral(&self) -> bool {
        self.0["data"]["flags"].as_u64().unwrap_or(0) & EPHEMERAL == EPHEMERAL
    }
}

fn config(fake: &FakeDiscord, mode: Mode) -> DiscordConfig {
    DiscordConfig {
        token: Token::parse(TOKEN).unwrap(),
        application_id: Snowflake(APPLICATION_ID),
        api_url: parse_api_url(&fake.url).unwrap(),
        mode,
        guild_id: Some(Snowflake(GUILD_ID)),
    }
}

impl Harness {
    async fn start(backend: TestBackend, via: Via) -> Option<Harness> {
        let (db, bot, store) = support::bot_on(backend).await?;
        let mock = MockChat::new(Arc::clone(&bot));
        let fake = FakeDiscord::start().await;
        let key = PublicKey::parse(&fake.signing_key.public_key_hex()).unwrap();
        let mode = match via {
            Via::Endpoint => Mode::Interactions(Box::new(key.clone())),
            Via::Gateway => Mode::Gateway,
        };
        let discord = Discord::start(Arc::clone(&bot), &config(&fake, mode))
            .await
            .unwrap();
        let (stop, stopped) = watch::channel(false);
        bot.dispatcher()
            .spawn(Duration::from_millis(50), stopped.clone());
        let endpoint = match via {
            Via::Endpoint => discord.router(&key),
            Via::Gateway => {
                Gateway::spawn(&discord, stopped);
                fake.wait_ready(WAIT_SECS).await;
                Router::new()
            }
        };
        Some(Harness {
            fake,
            db,
            store,
            mock,
            endpoint,
            via,
            guild_tokens: std::sync::Mutex::new(Vec::new()),
            _stop: stop,
        })
    }

    /// Posts `body` to the endpoint with these headers; status and body.
    async fn post_raw(&self, body: &[u8], headers: &[(&str, &str)]) -> (u16, Vec<u8>) {
        let mut request =
            Request::post(INTERACTIONS_PATH).header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::from(body.to_vec())).unwrap();
        let response = self.endpoint.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, bytes.to_vec())
    }

    /// Posts `interaction` as Discord does (signed now with the
    /// application's key); the fake then takes the answer as Discord would.
    async fn post(&self, interaction: &Value) -> Response {
        self.note_place(interaction);
        let response = self.post_signed(interaction).await;
        if interaction["type"] != json!(1) {
            self.fake.acknowledge(interaction, &response.0);
        }
        response
    }

    /// Posts `interaction` signed now with the application's key; the
    /// answer (not passed on to the fake).
    async fn post_signed(&self, interaction: &Value) -> Response {
        let body = interaction.to_string();
        let (signature, timestamp) = self.fake.signing_key.sign_now(body.as_bytes());
        let (status, bytes) = self
            .post_raw(
                body.as_bytes(),
                &[
                    ("x-signature-ed25519", &signature),
                    ("x-signature-timestamp", &timestamp),
                ],
            )
            .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
        Response(serde_json::from_slice(&bytes).unwrap())
    }

    fn note_place(&self, interaction: &Value) {
        if interaction["guild_id"].is_string() {
            let token = interaction["token"].as_str().unwrap().to_owned();
            self.guild_tokens.lock().unwrap().push(token);
        }
    }

    /// Discord delivers `interaction` (endpoint or gateway); the answer.
    async fn send(&self, interaction: &Value) -> Response {
        match self.via {
            Via::Endpoint => self.post(interaction).await,
            Via::Gateway => {
                self.note_place(interaction);
                assert!(self.fake.dispatch_interaction(interaction) > 0);
                let call = self.fake.wait_for_callback(interaction, WAIT_SECS).await;
                Response(call.body)
            }
        }
    }

    /// `user` runs slash command `name` in `place`.
    async fn run(
        &self,
        place: Place,
        user: &DcUser,
        name: &str,
        options: &[(&str, u8, Value)],
    ) -> Response {
        let interaction = self.fake.slash_command(place, user, name, options);
        self.send(&interaction).await
    }

    /// `/pay user amount memo?` in `place`.
    async fn pay(&self, place: Place, from: &DcUser, to: &DcUser, amount: &str) -> Response {
        self.fake.add_user(to);
        self.run(
            place,
            from,
            "pay",
            &[
                ("user", USER, json!(to.id.to_string())),
                ("amount", STRING, json!(amount)),
            ],
        )
        .await
    }

    async fn confirm(&self, place: Place, who: &DcUser, code: &str) -> Response {
        self.run(place, who, "confirm", &[("code", STRING, json!(code))])
            .await
    }

    async fn balance(&self, who: &DcUser) -> String {
        let response = self.run(Place::Dm, who, "balance", &[]).await;
        response.content().to_owned()
    }

    /// Puts $100.00 in `who`'s wallet, straight from the ledger's
    /// issuance account (play money from the mock chat never reaches a
    /// wallet a Discord account uses).
    async fn fund(&self, who: &DcUser) {
        assert!(self.balance(who).await.contains("Your balance"));
        support::fund(
            &self.db,
            &self.store,
            Platform::Discord,
            &who.id.to_string(),
            10_000,
        )
        .await;
        assert!(self.balance(who).await.contains("$100.00 available"));
    }

    async fn mock_says(&self, from: &str, text: &str) -> Vec<String> {
        self.mock
            .send(&Outgoing {
                from: from.to_owned(),
                chat: "dm".to_owned(),
                text: text.to_owned(),
                ..Outgoing::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.text)
            .collect()
    }

    async fn payments_of(&self, who: &DcUser) -> usize {
        support::payments_of(&self.store, Platform::Discord, who.id).await
    }

    /// Alice has started paybot and Bob has used it in the server: both
    /// are members of its tab.
    async fn alice_and_bob_on_the_tab(&self) {
        self.run(Place::Dm, &ALICE, "start", &[]).await;
        self.fake.add_user(&ALICE);
        self.fake.add_user(&BOB);
        self.run(Place::Guild, &BOB, "tab", &[]).await;
    }

    /// The CSV file `user` got by DM: one file, its name starting with
    /// `prefix`, its first line `header`, and no file sent anywhere else.
    /// Returns its content.
    async fn csv_in_dm(&self, user: &DcUser, prefix: &str, header: &str) -> String {
        let file = self.fake.wait_for_dm(user.id, prefix, WAIT_SECS).await;
        let [(name, content)] = file.files.as_slice() else {
            panic!("one file expected: {:?}", file.files);
        };
        assert!(name.starts_with(prefix) && name.ends_with(".csv"), "{name}");
        assert!(content.starts_with(&format!("{header}\n")), "{content}");
        assert!(
            self.fake
                .all_calls()
                .iter()
                .filter(|c| !c.files.is_empty())
                .all(|c| c.route() == format!("/channels/{}/messages", user.dm_channel_id())),
            "a file went elsewhere than the DM of user {}",
            user.id
        );
        content.clone()
    }

    /// Nothing private where the channel sees it: no code, no balance in
    /// a channel message or a public (non-ephemeral) answer to an
    /// interaction used in the server.
    fn assert_channel_clean(&self, secrets: &[&str]) {
        let calls = self.fake.all_calls();
        let flags = |body: &Value| {
            body["flags"]
                .as_u64()
                .or_else(|| body["data"]["flags"].as_u64())
                .unwrap_or(0)
        };
        // Interaction tokens: used in the server? answered ephemerally?
        let token_of = |route: &str| -> Option<String> {
            let parts: Vec<&str> = route.split('/').collect();
            match parts.as_slice() {
                ["", "interactions", _, token, "callback"] => Some((*token).to_owned()),
                ["", "webhooks", _, token, ..] => Some((*token).to_owned()),
                _ => None,
            }
        };
        let guild_tokens = self.guild_tokens.lock().unwrap().clone();
        let ephemeral_callbacks: Vec<String> = calls
            .iter()
            .filter(|c| c.route().ends_with("/callback") && flags(&c.body) & EPHEMERAL != 0)
            .filter_map(|c| token_of(c.route()))
            .collect();
        for call in calls.iter().filter(|c| c.ok()) {
            let public = match token_of(call.route()) {
                Some(token) => {
                    let edit = call.route().ends_with("/messages/@original");
                    guild_tokens.contains(&token)
                        && flags(&call.body) & EPHEMERAL == 0
                        && !(edit && ephemeral_callbacks.contains(&token))
                }
                None => call.route() == format!("/channels/{CHANNEL_ID}/messages"),
            };
            if !public {
                continue;
            }
            support::assert_nothing_private(call.content(), "public", secrets);
        }
    }

    async fn assert_ledger_sound(&self) {
        support::assert_ledger_sound(&self.db).await;
    }
}

/// `/pay` in a server: the code only the payer sees, `/confirm` (its
/// option is seen by paybot only), the payee's DM, the channel's line.
async fn pay_and_confirm(backend: TestBackend, via: Via) {
    let Some(h) = Harness::start(backend, via).await else {
        return;
    };
    h.fund(&ALICE).await;
    h.run(Place::Dm, &BOB, "start", &[]).await;

    let prompt = h
        .run(
            Place::Guild,
            &ALICE,
            "pay",
            &[
                ("user", USER, BOB.json()),
                ("amount", STRING, json!("5")),
                ("memo", STRING, json!("pizza")),
            ],
        )
        .await;
    assert_eq!(prompt.kind(), 4);
    assert!(prompt.ephemeral(), "the code is for the payer only");
    assert!(
        prompt.content().contains("To pay @bob $5.00 for “pizza”"),
        "{}",
        prompt.content()
    );
    assert!(
        !prompt.content().contains("I sent you a DM"),
        "nothing is sent by DM: the answer is in place"
    );
    let code = word_after(prompt.content(), "/confirm ");
    assert_eq!(code.len(), 6);
    let button = &prompt.0["data"]["components"][0]["components"][0];
    assert_eq!(button["label"], "Cancel");
    assert!(
        button["custom_id"]
            .as_str()
            .unwrap()
            .starts_with("/cancel P")
    );
    assert_eq!(prompt.0["data"]["allowed_mentions"], json!({"parse": []}));

    // Typed as a slash command in the channel: only paybot sees the option.
    let done = h.confirm(Place::Guild, &ALICE, &code).await;
    assert!(done.ephemeral());
    assert!(
        done.content().contains("Done: you paid @bob $5.00"),
        "{}",
        done.content()
    );
    h.fake
        .wait_for_dm(BOB.id, "@alice paid you $5.00 for “pizza”", WAIT_SECS)
        .await;
    h.fake
        .wait_for_message(CHANNEL_ID, "is confirmed", WAIT_SECS)
        .await;
    assert!(h.balance(&ALICE).await.contains("$95.00 available"));
    assert!(h.balance(&BOB).await.contains("$5.00 available"));
    assert_eq!(h.payments_of(&ALICE).await, 1);
    h.assert_channel_clean(&[&code, "95.00", "available"]);
    h.assert_ledger_sound().await;
}

cases!(pay_and_confirm {
    endpoint_pay_and_confirm_sqlite(TestBackend::Sqlite, Via::Endpoint),
    endpoint_pay_and_confirm_postgres(TestBackend::Postgres, Via::Endpoint),
    gateway_pay_and_confirm_sqlite(TestBackend::Sqlite, Via::Gateway),
});

/// Discord checks an endpoint with a PING; the commands are registered in
/// the server on start, `/pay`'s amount a STRING, plus the "Pay" menu.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_is_answered_and_commands_are_registered() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Endpoint).await else {
        return;
    };
    let pong = h.post(&h.fake.ping()).await;
    assert_eq!(pong.0, json!({"type": 1}));

    let commands = h.fake.commands(Some(GUILD_ID));
    let names: Vec<&str> = commands
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for name in [
        "pay", "request", "split", "confirm", "cancel", "balance", "history", "help", "link", "Pay",
    ] {
        assert!(names.contains(&name), "{name} not registered: {names:?}");
    }
    let pay = commands.iter().find(|c| c["name"] == "pay").unwrap();
    let option = |name: &str| {
        pay["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(option("user")["type"], json!(USER));
    assert_eq!(option("amount")["type"], json!(STRING));
    assert_eq!(option("amount")["required"], json!(true));
    assert_eq!(option("memo")["required"], json!(false));
    let menu = commands.iter().find(|c| c["name"] == "Pay").unwrap();
    assert_eq!(menu["type"], json!(2));
    // The overwrite was one PUT, with the bot's token.
    let puts = h.fake.calls(&format!(
        "/applications/{APPLICATION_ID}/guilds/{GUILD_ID}/commands"
    ));
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].method, "PUT");
}

/// A bad signature, a changed body, a stale or future timestamp, missing
/// headers: 401, and nothing happens (the user is not even recorded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_or_stale_calls_are_401_and_change_nothing() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Endpoint).await else {
        return;
    };
    h.fake.add_user(&BOB);
    let interaction = h.fake.slash_command(
        Place::Guild,
        &ALICE,
        "pay",
        &[
            ("user", USER, json!(BOB.id.to_string())),
            ("amount", STRING, json!("5")),
        ],
    );
    let body = interaction.to_string();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let key = &h.fake.signing_key;
    let other = SigningKey::generate();
    let stale = (now - 301).to_string();
    let future = (now + 120).to_string();
    let fresh = now.to_string();
    let changed = body.replace("\"5\"", "\"500\"");
    assert_ne!(changed, body);
    let ping = h.fake.ping().to_string();
    type Case<'a> = (&'a str, Vec<u8>, Vec<(&'a str, String)>);
    let cases: Vec<Case> = vec![
        (
            "another key",
            body.clone().into_bytes(),
            vec![
                ("x-signature-ed25519", other.sign(&fresh, body.as_bytes())),
                ("x-signature-timestamp", fresh.clone()),
            ],
        ),
        (
            "a changed body",
            changed.clone().into_bytes(),
            vec![
                ("x-signature-ed25519", key.sign(&fresh, body.as_bytes())),
                ("x-signature-timestamp", fresh.clone()),
            ],
        ),
        (
            "a stale timestamp",
            body.clone().into_bytes(),
            vec![
                ("x-signature-ed25519", key.sign(&stale, body.as_bytes())),
                ("x-signature-timestamp", stale.clone()),
            ],
        ),
        (
            "a timestamp in the future",
            body.clone().into_bytes(),
            vec![
                ("x-signature-ed25519", key.sign(&future, body.as_bytes())),
                ("x-signature-timestamp", future.clone()),
            ],
        ),
        (
            "another timestamp than signed",
            body.clone().into_bytes(),
            vec![
                ("x-signature-ed25519", key.sign(&stale, body.as_bytes())),
                ("x-signature-timestamp", fresh.clone()),
            ],
        ),
        ("no headers", body.clone().into_bytes(), vec![]),
        (
            "a garbage signature",
            body.clone().into_bytes(),
            vec![
                ("x-signature-ed25519", "zz".repeat(64)),
                ("x-signature-timestamp", fresh.clone()),
            ],
        ),
        (
            "an unsigned PING",
            ping.clone().into_bytes(),
            vec![
                ("x-signature-ed25519", other.sign(&fresh, ping.as_bytes())),
                ("x-signature-timestamp", fresh.clone()),
            ],
        ),
    ];
    let before = h.fake.all_calls().len();
    for (what, body, headers) in &cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (status, _) = h.post_raw(body, &headers).await;
        assert_eq!(status, 401, "{what}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.fake.all_calls().len(), before, "no call to Discord");
    let alice = PlatformUserId::new(ALICE.id.to_string()).unwrap();
    assert!(
        h.store
            .identity(Platform::Discord, &alice)
            .await
            .unwrap()
            .is_none(),
        "nothing was recorded"
    );
    // The same call, signed as Discord signs it, is accepted.
    let (status, _) = h
        .post_raw(
            body.as_bytes(),
            &[
                ("x-signature-ed25519", &key.sign(&fresh, body.as_bytes())),
                ("x-signature-timestamp", &fresh),
            ],
        )
        .await;
    assert_eq!(status, 200);
}

/// Discord (or an attacker replaying a captured call within its 5
/// minutes) sends the same interaction twice: one code, one payment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_interaction_twice_pays_once() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Endpoint).await else {
        return;
    };
    h.fund(&ALICE).await;
    h.run(Place::Dm, &BOB, "start", &[]).await;
    h.fake.add_user(&BOB);
    let pay = h.fake.slash_command(
        Place::Guild,
        &ALICE,
        "pay",
        &[
            ("user", USER, json!(BOB.id.to_string())),
            ("amount", STRING, json!("5")),
        ],
    );
    let first = h.post(&pay).await;
    let code = word_after(first.content(), "/confirm ");
    let again = h.post(&pay).await;
    assert!(
        !again.content().contains("/confirm "),
        "{}",
        again.content()
    );
    assert_eq!(h.payments_of(&ALICE).await, 1);

    let confirm = h.fake.slash_command(
        Place::Dm,
        &ALICE,
        "confirm",
        &[("code", STRING, json!(code))],
    );
    assert!(h.post(&confirm).await.content().contains("Done: you paid"));
    let replay = h.post(&confirm).await;
    assert!(!replay.content().contains("Done"), "{}", replay.content());
    assert!(h.balance(&ALICE).await.contains("$95.00 available"));
    assert!(h.balance(&BOB).await.contains("$5.00 available"));
    h.fake
        .wait_for_dm(BOB.id, "@alice paid you $5.00", WAIT_SECS)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        h.fake
            .dms_to(BOB.id)
            .iter()
            .filter(|c| c.content().contains("paid you"))
            .count(),
        1,
        "Bob is told once"
    );
    h.assert_ledger_sound().await;
}

/// The core takes longer than Discord's deadline (its database is busy):
/// the answer is "thinking…" (ephemeral), then the original is edited.
/// Bob is new to paybot, so his first command writes (his identity) and
/// waits for the database; a known user's `/balance` writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_answer_is_deferred_then_edited() {
    use sqlx::Connection as _;
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Endpoint).await else {
        return;
    };
    // Another writer holds the database for 3 s (the busy timeout is 5 s).
    let mut blocker = sqlx::SqliteConnection::connect(&h.db.url).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
    });
    let interaction = h.fake.slash_command(Place::Guild, &BOB, "balance", &[]);
    let answer = h.post(&interaction).await;
    assert_eq!(answer.kind(), 5, "deferred: {:?}", answer.0);
    assert!(answer.ephemeral());
    let edit = h
        .fake
        .wait_for(
            |c| {
                c.method == "PATCH"
                    && c.route().ends_with("/messages/@original")
                    && c.ok()
                    && c.content().contains("Your balance")
            },
            WAIT_SECS,
        )
        .await;
    assert!(
        edit.route()
            .contains(interaction["token"].as_str().unwrap())
    );
    release.await.unwrap();
    h.assert_channel_clean(&["Your balance"]);
}

/// The payee's DMs are closed (Discord error 50007): the payment goes
/// through, the payer is told privately, the channel sees nothing private.
/// A request to someone with closed DMs: the requester is told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_dms_are_reported_to_the_invoker() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Endpoint).await else {
        return;
    };
    h.fund(&ALICE).await;
    h.run(Place::Dm, &BOB, "start", &[]).await;
    h.fake.close_dms(BOB.id);
    let prompt = h.pay(Place::Guild, &ALICE, &BOB, "4").await;
    let code = word_after(prompt.content(), "/confirm ");
    h.confirm(Place::Guild, &ALICE, &code).await;
    h.fake
        .wait_for_dm(
            ALICE.id,
            "I couldn't tell @bob about your payment",
            WAIT_SECS,
        )
        .await;
    let refused = h
        .fake
        .wait_for(|c| c.error_code() == Some(50_007), WAIT_SECS)
        .await;
    assert!(refused.content().contains("paid you"));
    assert!(h.balance(&BOB).await.contains("$4.00 available"));

    h.run(
        Place::Guild,
        &ALICE,
        "request",
        &[
            ("user", USER, BOB.json()),
            ("amount", STRING, json!("3")),
            ("memo", STRING, json!("cab")),
        ],
    )
    .await;
    h.fake
        .wait_for_dm(ALICE.id, "I couldn't send your request", WAIT_SECS)
        .await;
    h.assert_channel_clean(&[&code, "available"]);
    h.assert_ledger_sound().await;
}

/// Right-click a user, "Pay": a form asks for the amount; submitting it
/// starts the payment like `/pay`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pay_menu_asks_for_an_amount() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Endpoint).await else {
        return;
    };
    h.fund(&ALICE).await;
    h.run(Place::Dm, &BOB, "start", &[]).await;
    let menu = h.fake.user_command(Place::Guild, &ALICE, "Pay", &BOB);
    let form = h.post(&menu).await;
    assert_eq!(form.kind(), 9, "a modal: {:?}", form.0);
    let custom_id = form.0["data"]["custom_id"].as_str().unwrap().to_owned();
    assert_eq!(custom_id, format!("pay:{}:bob", BOB.id));
    let submit = h.fake.modal_submit(
        Place::Guild,
        &ALICE,
        &custom_id,
        &[("amount", "7.25"), ("memo", "cab")],
    );
    let prompt = h.post(&submit).await;
    assert!(prompt.ephemeral());
    assert!(
        prompt.content().contains("To pay @bob $7.25 for “cab”"),
        "{}",
        prompt.content()
    );
    // The Cancel button works too.
    let cancel = prompt.0["data"]["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let press = h.fake.button(Place::Guild, &ALICE, &cancel);
    let cancelled = h.post(&press).await;
    assert!(
        cancelled.content().contains("Cancelled payment"),
        "{}",
        cancelled.content()
    );
    assert!(h.balance(&ALICE).await.contains("$100.00 available"));
    h.assert_ledger_sound().await;
}

/// Bad input gets a clear, private answer and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_answered_privately_and_changes_nothing() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Endpoint).await else {
        return;
    };
    h.fund(&ALICE).await;
    h.run(Place::Dm, &BOB, "start", &[]).await;
    let too_precise = h.pay(Place::Dm, &ALICE, &BOB, "5.001").await;
    assert!(
        too_precise.content().contains("decimal"),
        "{}",
        too_precise.content()
    );
    let wrong = h.confirm(Place::Dm, &ALICE, "123456").await;
    assert!(
        wrong.content().contains("no payment waiting"),
        "{}",
        wrong.content()
    );
    // A user Discord did not resolve, an amount with extra words.
    let smuggled = h
        .run(
            Place::Guild,
            &ALICE,
            "pay",
            &[
                ("user", USER, BOB.json()),
                ("amount", STRING, json!("5 @carol")),
            ],
        )
        .await;
    assert!(smuggled.ephemeral());
    assert!(smuggled.content().contains("can't use that"));
    let bot_target = h.fake.user_command(
        Place::Guild,
        &ALICE,
        "Pay",
        &DcUser {
            id: APPLICATION_ID,
            username: "PayBot",
            global_name: None,
        },
    );
    // The fake marks its own bot user as a bot only in `bot_user()`; a
    // context menu on a user flagged `bot` is refused by the conversion.
    let mut bot_target = bot_target;
    bot_target["data"]["resolved"]["users"][APPLICATION_ID.to_string()]["bot"] = json!(true);
    let refused = h.post(&bot_target).await;
    assert_eq!(refused.kind(), 4);
    assert!(refused.content().contains("can't use that"));
    assert_eq!(h.payments_of(&ALICE).await, 0);
    assert!(h.balance(&ALICE).await.contains("$100.00 available"));
    h.assert_ledger_sound().await;
}

/// Play money stays in the mock chat: a Discord account and a mock chat
/// account are never linked, whichever side made the code, and each keeps
/// its own balance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mock_and_a_discord_identity_are_never_linked() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Endpoint).await else {
        return;
    };
    h.fund(&ALICE).await;
    h.mock_says("alice_m", "/start").await;
    let refused = bot::service::MOCK_LINK_REFUSED_TEXT;

    // Her Discord code, sent from the mock chat.
    let response = h.run(Place::Dm, &ALICE, "link", &[]).await;
    let code = word_after(response.content(), "/link ");
    let answer = h
        .mock_says("alice_m", &format!("/link {code}"))
        .await
        .join("\n");
    assert!(answer.contains(refused), "{answer}");
    // A mock code, sent from Discord.
    let answer = h.mock_says("alice_m", "/link").await.join("\n");
    let code = word_after(&answer, "/link ");
    let response = h
        .run(Place::Dm, &ALICE, "link", &[("code", STRING, json!(code))])
        .await;
    assert!(response.content().contains(refused), "{response:?}");
    let response = h
        .run(
            Place::Dm,
            &ALICE,
            "link",
            &[("code", STRING, json!("confirm"))],
        )
        .await;
    assert!(
        response.content().contains("no link waiting"),
        "{response:?}"
    );

    assert!(h.balance(&ALICE).await.contains("$100.00 available"));
    let mock_balance = h.mock_says("alice_m", "/balance").await.join("\n");
    assert!(mock_balance.contains("$100.00 available"), "{mock_balance}");
    h.assert_ledger_sound().await;
}

/// Discord's API does not answer when paybot starts (interactions mode):
/// the endpoint serves anyway, and the commands are registered once it
/// answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactions_are_served_while_discord_is_unreachable_at_start() {
    let Some((_db, bot, _store)) = support::bot_on(TestBackend::Sqlite).await else {
        return;
    };
    let fake = FakeDiscord::start().await;
    fake.fail_next(
        "GET",
        "/users/@me",
        502,
        json!({"message": "Bad Gateway", "code": 0}),
    );
    let key = PublicKey::parse(&fake.signing_key.public_key_hex()).unwrap();
    let mode = Mode::Interactions(Box::new(key.clone()));
    let discord = Discord::start(Arc::clone(&bot), &config(&fake, mode))
        .await
        .unwrap();
    assert!(fake.commands(Some(GUILD_ID)).is_empty());
    let endpoint = discord.router(&key);
    let body = fake.ping().to_string();
    let (signature, timestamp) = fake.signing_key.sign_now(body.as_bytes());
    let request = Request::post(INTERACTIONS_PATH)
        .header("x-signature-ed25519", signature)
        .header("x-signature-timestamp", timestamp)
        .body(Body::from(body))
        .unwrap();
    let response = endpoint.oneshot(request).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    fake.wait_for(|c| c.method == "PUT" && c.ok(), WAIT_SECS)
        .await;
    assert_eq!(
        fake.commands(Some(GUILD_ID)).len(),
        bot::command::CommandName::ALL.len() + 1
    );
    // A token Discord refuses still stops the start.
    fake.fail_next(
        "GET",
        "/users/@me",
        401,
        json!({"message": "401: Unauthorized", "code": 0}),
    );
    let mode = Mode::Interactions(Box::new(key));
    let refused = Discord::start(bot, &config(&fake, mode)).await.unwrap_err();
    assert!(
        refused.to_string().contains("refused the bot token"),
        "{refused}"
    );
}

/// Interactions exactly as Discord's documentation prints them (its
/// example APPLICATION_COMMAND, with paybot's command names): understood,
/// with the invoker taken from `member.user` by id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactions_shaped_as_discords_documentation_are_understood() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Endpoint).await else {
        return;
    };
    let documented = |name: &str, options: Value, resolved: Value| {
        json!({
            "type": 2,
            "token": "A_UNIQUE_TOKEN",
            "member": {
                "user": {
                    "id": "53908232506183680",
                    "username": "Mason",
                    "avatar": "a_d5efa99b3eeaa7dd43acca82f5692432",
                    "discriminator": "1337",
                    "public_flags": 131141
                },
                "roles": ["539082325061836999"],
                "premium_since": null,
                "permissions": "2147483647",
                "pending": false,
                "nick": null,
                "mute": false,
                "joined_at": "2017-03-13T19:19:14.040000+00:00",
                "is_pending": false,
                "deaf": false
            },
            "id": format!("7860087297152123{}", name.len()),
            "guild_id": "290926798626357999",
            "app_permissions": "442368",
            "guild_locale": "en-US",
            "locale": "en-US",
            "data": {
                "options": options,
                "type": 1,
                "name": name,
                "id": "771825006014889984",
                "resolved": resolved
            },
            "channel_id": "645027906669510667"
        })
    };
    let balance = h
        .post_signed(&documented("balance", json!([]), json!({})))
        .await;
    assert!(balance.ephemeral());
    assert!(
        balance.content().contains("Your balance: $0.00"),
        "{}",
        balance.content()
    );
    let mason = PlatformUserId::new("53908232506183680").unwrap();
    let identity = h.store.identity(Platform::Discord, &mason).await.unwrap();
    assert_eq!(identity.unwrap().handle.unwrap().as_str(), "mason");

    let unknown = h
        .post_signed(&documented(
            "cardsearch",
            json!([{"type": 3, "name": "cardname", "value": "The Gitrog Monster"}]),
            json!({}),
        ))
        .await;
    assert!(unknown.ephemeral());
    assert!(unknown.content().contains("can't use that"));

    // /pay with nothing in the wallet: a clear, private refusal.
    let pay = h
        .post_signed(&documented(
            "pay",
            json!([
                {"type": 6, "name": "user", "value": "80351110224678912"},
                {"type": 3, "name": "amount", "value": "20"}
            ]),
            json!({"users": {"80351110224678912": {
                "id": "80351110224678912", "username": "Nelly",
                "discriminator": "1337", "avatar": "8342729096ea3675442027381ff50dfe"
            }}}),
        ))
        .await;
    assert!(pay.ephemeral());
    assert!(!pay.content().contains("/confirm "), "{}", pay.content());
    h.assert_ledger_sound().await;
}

/// The itemised and recurring forms of `/expense` come through Discord's
/// one `args` text option like any other: the items and shares in the
/// answer, the recurring expense set up and listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expense_forms_pass_through_the_args_option() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Endpoint).await else {
        return;
    };
    h.alice_and_bob_on_the_tab().await;
    let args = |text: &str| [("args", STRING, json!(text))];
    let items = h
        .run(
            Place::Guild,
            &ALICE,
            "expense",
            &args("10 for drinks: @bob 6 beer, rest"),
        )
        .await;
    assert!(
        items
            .content()
            .contains("Shares: @bob $8.00, @alice $2.00."),
        "{}",
        items.content()
    );
    assert!(
        items
            .content()
            .contains("Items: beer $6.00 (@bob); the rest, $4.00, shared equally."),
        "{}",
        items.content()
    );
    let every = h
        .run(
            Place::Guild,
            &ALICE,
            "expense",
            &args("1200 split @alice @bob every month for rent"),
        )
        .await;
    assert!(
        every.content().starts_with("Recurring expense G"),
        "{}",
        every.content()
    );
    let listed = h
        .run(Place::Guild, &BOB, "expense", &args("recurring"))
        .await;
    assert!(
        listed.content().contains("1 recurring expense here"),
        "{}",
        listed.content()
    );
    h.assert_ledger_sound().await;
}

/// The group tab settled from Discord: `/tab` carries a Settle button; the
/// debtor's press on it is an ordinary payment (the code only they see,
/// `/confirm`, the creditor's DM); `/settle` with its options records a
/// cash settlement the creditor confirms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tab_is_settled_with_the_button_and_options() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Endpoint).await else {
        return;
    };
    h.fund(&BOB).await;
    h.alice_and_bob_on_the_tab().await;
    let added = h
        .run(
            Place::Guild,
            &ALICE,
            "expense",
            &[("args", STRING, json!("40 for pizza"))],
        )
        .await;
    assert!(
        added
            .content()
            .contains("Shares: @alice $20.00, @bob $20.00"),
        "{}",
        added.content()
    );
    let tab = h.run(Place::Guild, &ALICE, "tab", &[]).await;
    assert!(
        tab.content().contains("@bob owes @alice $20.00"),
        "{}",
        tab.content()
    );
    let button = &tab.0["data"]["components"][0]["components"][0];
    assert_eq!(button["label"], "Settle");
    assert_eq!(button["custom_id"], "/settle");

    // Bob pays half with the options, then the rest with the button.
    let part = h
        .run(
            Place::Guild,
            &BOB,
            "settle",
            &[("user", USER, ALICE.json()), ("amount", STRING, json!("5"))],
        )
        .await;
    assert!(part.ephemeral(), "the code is for the payer only");
    let code = word_after(part.content(), "/confirm ");
    assert!(
        h.confirm(Place::Dm, &BOB, &code)
            .await
            .content()
            .contains("Done: you paid @alice $5.00")
    );
    let press = h.fake.button(Place::Guild, &BOB, "/settle");
    let prompt = h.post(&press).await;
    assert!(prompt.ephemeral());
    assert!(
        prompt
            .content()
            .contains("To pay @alice $15.00 for “settling the tab”"),
        "{}",
        prompt.content()
    );
    let code_rest = word_after(prompt.content(), "/confirm ");
    h.confirm(Place::Dm, &BOB, &code_rest).await;
    h.fake
        .wait_for_dm(ALICE.id, "@bob paid you $15.00", WAIT_SECS)
        .await;
    assert!(h.balance(&BOB).await.contains("$80.00 available"));
    let square = h.run(Place::Guild, &ALICE, "tab", &[]).await;
    assert!(
        square.content().contains("Everyone is square."),
        "{}",
        square.content()
    );
    h.assert_channel_clean(&[&code, &code_rest, "80.00", "available"]);
    h.assert_ledger_sound().await;
}

/// The requests inbox and the history export through Discord: `/requests`
/// and `/history export:true` answer ephemerally in the channel, `/remind`
/// reaches the payer by DM, and a usage error (a malformed reference) is
/// ephemeral too, never a channel message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_inbox_export_and_usage_errors_are_ephemeral() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Endpoint).await else {
        return;
    };
    h.fund(&ALICE).await;
    h.run(Place::Dm, &BOB, "start", &[]).await;
    h.fake.add_user(&BOB);
    let asked = h
        .run(
            Place::Guild,
            &ALICE,
            "request",
            &[
                ("user", USER, BOB.json()),
                ("amount", STRING, json!("6")),
                ("memo", STRING, json!("tickets")),
            ],
        )
        .await;
    let reference = word_after(asked.content(), "(request ")
        .trim_end_matches(['.', ')'])
        .to_owned();
    assert!(reference.starts_with('R'), "{}", asked.content());
    let inbox = h.run(Place::Guild, &BOB, "requests", &[]).await;
    assert!(inbox.ephemeral());
    assert!(
        inbox
            .content()
            .contains("@alice asked you for $6.00 for “tickets” — open until"),
        "{}",
        inbox.content()
    );
    let reminded = h
        .run(
            Place::Guild,
            &ALICE,
            "remind",
            &[("request", STRING, json!(reference))],
        )
        .await;
    assert!(reminded.ephemeral());
    assert!(
        reminded.content().contains("I reminded @bob"),
        "{}",
        reminded.content()
    );
    h.fake
        .wait_for_dm(BOB.id, "Reminder from @alice", WAIT_SECS)
        .await;
    let usage = h
        .run(
            Place::Guild,
            &ALICE,
            "remind",
            &[("request", STRING, json!("R!"))],
        )
        .await;
    assert!(usage.ephemeral(), "a usage error is for its sender only");
    assert!(
        usage.content().contains("Usage: /remind REF"),
        "{}",
        usage.content()
    );
    h.pay(Place::Dm, &ALICE, &BOB, "2").await;
    let export = h
        .run(
            Place::Guild,
            &ALICE,
            "history",
            &[("export", BOOLEAN, json!(true))],
        )
        .await;
    assert!(export.ephemeral());
    assert!(
        export
            .content()
            .contains("Your history as a CSV file (1 payment,"),
        "{}",
        export.content()
    );
    // The CSV itself is a file in the sender's DM, never in the channel.
    let content = h
        .csv_in_dm(
            &ALICE,
            "paybot-history-",
            "date,direction,counterparty,amount,currency,memo,state,reference",
        )
        .await;
    assert!(
        content.contains(",sent,'@bob,2.00,USD,,awaiting_code,"),
        "{content}"
    );
    h.assert_channel_clean(&["Usage", "awaiting_code"]);
    h.assert_ledger_sound().await;
}

/// `/tab export` in the server: the answer there is ephemeral, the CSV a
/// file in the asker's DM; nothing of it reaches the channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tab_export_is_a_file_in_the_dm() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Endpoint).await else {
        return;
    };
    h.alice_and_bob_on_the_tab().await;
    let added = h
        .run(
            Place::Guild,
            &ALICE,
            "expense",
            &[("args", STRING, json!("30 for pizza"))],
        )
        .await;
    assert!(
        added
            .content()
            .contains("Shares: @alice $15.00, @bob $15.00."),
        "{}",
        added.content()
    );
    let export = h
        .run(
            Place::Guild,
            &ALICE,
            "tab",
            &[("args", STRING, json!("export"))],
        )
        .await;
    assert!(export.ephemeral(), "{}", export.content());
    assert!(
        export
            .content()
            .contains("The group's tab as a CSV file, 2 rows."),
        "{}",
        export.content()
    );
    let content = h
        .csv_in_dm(
            &ALICE,
            "paybot-tab-",
            "date,type,reference,currency,amount,memo,member,paid,owed,state",
        )
        .await;
    assert!(
        content.contains(",USD,30.00,pizza,'@bob,0.00,15.00,on the tab"),
        "{content}"
    );
    h.assert_channel_clean(&["CSV file", "owed,state", "paybot-tab-"]);
    h.assert_ledger_sound().await;
}

/// `/pay` to two people through the `to` option (a STRING of mentions and
/// amounts): one code in place for the whole payment, one `/confirm`, both
/// payees told by DM; `/undo` takes it back from both.
async fn pay_several_people_then_undo(backend: TestBackend) {
    const CAROL: DcUser = DcUser {
        id: 1_000_000_000_000_000_003,
        username: "carol",
        global_name: Some("Carol"),
    };
    let Some(h) = Harness::start(backend, Via::Endpoint).await else {
        return;
    };
    h.fund(&ALICE).await;
    h.run(Place::Dm, &BOB, "start", &[]).await;
    h.fake.add_user(&CAROL);
    h.run(Place::Dm, &CAROL, "start", &[]).await;

    let prompt = h
        .run(
            Place::Guild,
            &ALICE,
            "pay",
            &[
                ("user", USER, BOB.json()),
                ("amount", STRING, json!("5")),
                ("to", STRING, json!(format!("<@{}> 7", CAROL.id))),
                ("memo", STRING, json!("lunch")),
            ],
        )
        .await;
    assert!(prompt.ephemeral(), "the code is for the payer only");
    assert!(
        prompt
            .content()
            .contains("To pay @bob $5.00, @carol $7.00 (total $12.00) for “lunch”"),
        "{}",
        prompt.content()
    );
    let code = word_after(prompt.content(), "/confirm ");
    let done = h.confirm(Place::Guild, &ALICE, &code).await;
    assert!(
        done.content()
            .contains("Done: you paid @bob $5.00, @carol $7.00"),
        "{}",
        done.content()
    );
    h.fake
        .wait_for_dm(BOB.id, "@alice paid you $5.00 for “lunch”", WAIT_SECS)
        .await;
    h.fake
        .wait_for_dm(CAROL.id, "@alice paid you $7.00 for “lunch”", WAIT_SECS)
        .await;
    assert!(h.balance(&ALICE).await.contains("$88.00 available"));

    let undone = h.run(Place::Dm, &ALICE, "undo", &[]).await;
    assert!(
        undone.content().contains("$12.00 is back in your wallet"),
        "{}",
        undone.content()
    );
    h.fake
        .wait_for_dm(CAROL.id, "@alice undid their payment of $7.00", WAIT_SECS)
        .await;
    assert!(h.balance(&ALICE).await.contains("$100.00 available"));
    assert!(h.balance(&CAROL).await.contains("$0.00 available"));
    h.assert_channel_clean(&[&code, "available"]);
    h.assert_ledger_sound().await;
}

cases!(pay_several_people_then_undo {
    pay_several_people_then_undo_sqlite(TestBackend::Sqlite),
    pay_several_people_then_undo_postgres(TestBackend::Postgres),
});

/// A refusal meant for the sender of a command in a server (paying
/// oneself, a split naming its own author) is ephemeral: only they see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_in_a_server_are_ephemeral() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Endpoint).await else {
        return;
    };
    h.fund(&ALICE).await;
    let myself = h.pay(Place::Guild, &ALICE, &ALICE, "5").await;
    assert!(myself.ephemeral(), "a refusal is for its sender only");
    assert!(
        myself.content().contains("You can't pay yourself."),
        "{}",
        myself.content()
    );
    h.assert_channel_clean(&["yourself"]);
    assert_eq!(h.payments_of(&ALICE).await, 0);
    h.assert_ledger_sound().await;
}
