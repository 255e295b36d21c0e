//! The Telegram adapter end to end: the real teloxide client against a fake
//! Telegram Bot API (`tests/it/support/fake_telegram.rs`, axum on port 0), the
//! real bot core and storage, in polling and in webhook mode.
//!
//! Each test is what a Telegram user would see: who gets which message,
//! what the group sees (never a code or a balance), what the money did.

use crate::support::{self, fake_telegram};

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use bot::message::{Platform, PlatformUserId};
use bot::store::Store;
use bot::trust::{AuditFilter, AuditKind, TrustStore};
use fake_telegram::{BOT_USERNAME, FakeTelegram, GROUP_ID, TOKEN, TgUser, group};
use ledger::testing::{TestBackend, TestDb};
use paybot_store::SqlStore;
use paybot_telegram::config::{parse_api_url, parse_webhook_url};
use paybot_telegram::{
    Mode, SECRET_HEADER, Telegram, TelegramConfig, Token, WEBHOOK_PATH, WebhookSecret,
};
use serde_json::{Value, json};
use tokio::sync::watch;
use tower::ServiceExt;

use support::{cases, word_after};

/// How long a test waits for one expected message, in seconds. Telegram's
/// rate (one message per second per chat) is respected by the client, so
/// a busy DM takes a few seconds.
const WAIT_SECS: u64 = 30;
const SECRET: &str = "test-webhook-secret-0123456789";

const ALICE: TgUser = TgUser {
    id: 1_001,
    first_name: "Alice",
    username: Some("alice"),
};
const BOB: TgUser = TgUser {
    id: 1_002,
    first_name: "Bob",
    username: Some("bob"),
};
/// No username: payable only through a `text_mention`.
const CAROL: TgUser = TgUser {
    id: 1_003,
    first_name: "Carol",
    username: None,
};
/// Never opens a private chat with the bot.
const DAVE: TgUser = TgUser {
    id: 1_004,
    first_name: "Dave",
    username: Some("dave"),
};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Via {
    Polling,
    Webhook,
}

struct Harness {
    fake: FakeTelegram,
    db: TestDb,
    store: Arc<SqlStore>,
    webhook: Router,
    via: Via,
    _stop: watch::Sender<bool>,
}

impl Harness {
    async fn start(backend: TestBackend, via: Via) -> Option<Harness> {
        let (db, bot, store) = support::bot_on(backend).await?;
        let fake = FakeTelegram::start().await;
        let mode = match via {
            Via::Polling => Mode::Polling,
            Via::Webhook => Mode::Webhook {
                url: parse_webhook_url("https://paybot.example/telegram/webhook").unwrap(),
                secret: WebhookSecret::parse(SECRET).unwrap(),
            },
        };
        let config = TelegramConfig {
            token: Token::parse(TOKEN).unwrap(),
            api_url: parse_api_url(&fake.url).unwrap(),
            mode: mode.clone(),
        };
        let telegram = Telegram::start(Arc::clone(&bot), &config).await.unwrap();
        let (stop, stopped) = watch::channel(false);
        bot.dispatcher()
            .spawn(Duration::from_millis(50), stopped.clone());
        let webhook = match &mode {
            Mode::Webhook { secret, .. } => telegram.webhook_router(secret),
            Mode::Polling => {
                telegram.spawn_polling(stopped);
                Router::new()
            }
        };
        Some(Harness {
            fake,
            db,
            store,
            webhook,
            via,
            _stop: stop,
        })
    }

    /// Telegram delivers `update`: to the next poll, or posted to the
    /// webhook with the right secret. Returns once it was handled.
    async fn deliver(&self, update: &Value) {
        match self.via {
            Via::Polling => {
                self.fake.push(update.clone());
                self.fake.wait_drained(WAIT_SECS).await;
            }
            Via::Webhook => assert_eq!(self.post(update, Some(SECRET)).await, 200),
        }
    }

    /// A webhook call as Telegram makes it, with `secret` in the header.
    async fn post(&self, update: &Value, secret: Option<&str>) -> u16 {
        let mut request = Request::post(WEBHOOK_PATH).header("content-type", "application/json");
        if let Some(secret) = secret {
            request = request.header(SECRET_HEADER, secret);
        }
        let request = request.body(Body::from(update.to_string())).unwrap();
        let response = self.webhook.clone().oneshot(request).await.unwrap();
        response.status().as_u16()
    }

    /// `from` says `text` in `chat`; returns the update.
    async fn say(&self, from: &TgUser, chat: Value, text: &str) -> Value {
        self.say_with(from, chat, text, json!({})).await
    }

    async fn say_with(&self, from: &TgUser, chat: Value, text: &str, extra: Value) -> Value {
        let update = self.fake.message(from, chat, text, extra);
        self.deliver(&update).await;
        update
    }

    /// `who` opens a private chat with the bot (`/start`).
    async fn start_dm(&self, who: &TgUser) {
        self.say(who, who.dm(), "/start").await;
        self.fake
            .wait_for(who.id, "Welcome to paybot", WAIT_SECS)
            .await;
    }

    /// Puts $100.00 in `who`'s wallet, straight from the ledger's
    /// issuance account (play money from the mock chat never reaches a
    /// wallet a Telegram account uses).
    async fn fund(&self, who: &TgUser) {
        support::fund(
            &self.db,
            &self.store,
            Platform::Telegram,
            &who.id.to_string(),
            10_000,
        )
        .await;
        self.say(who, who.dm(), "/balance").await;
        self.fake
            .wait_for(who.id, "$100.00 available", WAIT_SECS)
            .await;
    }

    /// The code in `who`'s newest DM asking to confirm a payment.
    async fn code_for(&self, who: &TgUser, needle: &str) -> (String, fake_telegram::Call) {
        let call = self.fake.wait_for(who.id, needle, WAIT_SECS).await;
        (word_after(call.text(), "/confirm "), call)
    }

    /// Waits for `who`'s balance to be `amount` (asked with `/balance`).
    async fn balance_is(&self, who: &TgUser, amount: &str) {
        self.say(who, who.dm(), "/balance").await;
        self.fake
            .wait_for(who.id, &format!("Your balance: {amount}"), WAIT_SECS)
            .await;
    }

    async fn payments_of(&self, who: &TgUser) -> usize {
        support::payments_of(&self.store, Platform::Telegram, who.id).await
    }

    /// The CSV file `user` got by DM (`sendDocument`): its name starts with
    /// `prefix`, its first line is `header`, and no document went anywhere
    /// else. Returns its content.
    async fn csv_in_dm(&self, user: &TgUser, prefix: &str, header: &str) -> String {
        let (name, content) = self.fake.wait_for_document(user.id, WAIT_SECS).await;
        assert!(name.starts_with(prefix) && name.ends_with(".csv"), "{name}");
        assert!(content.starts_with(&format!("{header}\n")), "{content}");
        assert!(
            self.fake
                .calls("senddocument")
                .iter()
                .all(|c| c.chat_id() == Some(user.id)),
            "a document went elsewhere than user {}'s DM",
            user.id
        );
        content
    }

    /// Nothing private in the group: no code, no balance, no link code.
    fn assert_group_clean(&self, secrets: &[&str]) {
        for call in self.fake.sent_to(GROUP_ID) {
            support::assert_nothing_private(call.text(), "the group", secrets);
        }
    }

    async fn assert_ledger_sound(&self) {
        support::assert_ledger_sound(&self.db).await;
    }
}

/// Pay in a group, code by DM only, confirm in the DM, payee told by DM,
/// the group sees that it was confirmed; balances move.
async fn pay_in_group_confirm_in_dm(backend: TestBackend, via: Via) {
    let Some(h) = Harness::start(backend, via).await else {
        return;
    };
    h.start_dm(&ALICE).await;
    h.start_dm(&BOB).await;
    h.fund(&ALICE).await;

    h.say(&ALICE, group(), "/pay @bob 5 for pizza").await;
    let (code, prompt) = h.code_for(&ALICE, "To pay @bob $5.00").await;
    assert_eq!(code.len(), 6);
    // One tap cancels; the code itself is always typed.
    let buttons = &prompt.params["reply_markup"]["inline_keyboard"][0];
    assert_eq!(buttons[0]["text"], "Cancel");
    assert!(
        buttons[0]["callback_data"]
            .as_str()
            .unwrap()
            .starts_with("/cancel P")
    );
    assert!(!prompt.params["reply_markup"].to_string().contains(&code));
    h.fake
        .wait_for(GROUP_ID, "@alice, I sent you a DM", WAIT_SECS)
        .await;

    h.say(&ALICE, ALICE.dm(), &format!("/confirm {code}")).await;
    h.fake
        .wait_for(BOB.id, "@alice paid you $5.00", WAIT_SECS)
        .await;
    h.fake.wait_for(GROUP_ID, "is confirmed", WAIT_SECS).await;
    h.balance_is(&ALICE, "$95.00 available").await;
    h.balance_is(&BOB, "$5.00 available").await;
    h.assert_group_clean(&[&code, "95.00", "available"]);
    h.assert_ledger_sound().await;
}

cases!(pay_in_group_confirm_in_dm {
    polling_pay_in_group_confirm_in_dm_sqlite(TestBackend::Sqlite, Via::Polling),
    polling_pay_in_group_confirm_in_dm_postgres(TestBackend::Postgres, Via::Polling),
    webhook_pay_in_group_confirm_in_dm_sqlite(TestBackend::Sqlite, Via::Webhook),
});

/// Reply-to payments, a payee without a username (`text_mention`),
/// `/pay@thisbot`, and `/pay@otherbot` (ignored); a Cancel button press.
async fn ways_to_name_the_payee(via: Via) {
    let Some(h) = Harness::start(TestBackend::Sqlite, via).await else {
        return;
    };
    h.start_dm(&ALICE).await;
    h.start_dm(&CAROL).await;
    h.fund(&ALICE).await;

    let bobs = h
        .fake
        .message(&BOB, group(), "pizza is here, 3 each", json!({}));
    h.deliver(&bobs).await;
    h.say_with(
        &ALICE,
        group(),
        "/pay 3",
        json!({"reply_to_message": bobs["message"].clone()}),
    )
    .await;
    h.code_for(&ALICE, "To pay @bob $3.00").await;

    h.say_with(
        &ALICE,
        group(),
        "/pay Carol 2",
        json!({"entities": [
            {"type": "bot_command", "offset": 0, "length": 4},
            {"type": "text_mention", "offset": 5, "length": 5, "user": CAROL.json()}
        ]}),
    )
    .await;
    let (_, prompt) = h.code_for(&ALICE, "To pay Carol $2.00").await;

    h.say(&ALICE, group(), &format!("/pay@{BOT_USERNAME} @bob 1"))
        .await;
    h.code_for(&ALICE, "To pay @bob $1.00").await;

    // Replying to a bot's message: bots cannot be paid (told to the payer
    // alone, by DM).
    let bots = json!({"message_id": 77, "date": 1_700_000_000, "chat": group(),
        "from": {"id": 999, "is_bot": true, "first_name": "Weather", "username": "weatherbot"},
        "text": "Sunny, 21°C"});
    h.say_with(&ALICE, group(), "/pay 6", json!({"reply_to_message": bots}))
        .await;
    h.fake
        .wait_for(
            ALICE.id,
            "@weatherbot is a bot; bots cannot be paid.",
            WAIT_SECS,
        )
        .await;

    let before = h.fake.sent().len();
    h.say(&ALICE, group(), "/pay@otherbot @bob 4").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        h.fake.sent().len(),
        before,
        "a command for another bot got an answer"
    );
    assert_eq!(h.payments_of(&ALICE).await, 3);

    // The Cancel button on Carol's payment.
    let cancel = prompt.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        .as_str()
        .unwrap()
        .to_owned();
    let press = h.fake.button(&ALICE, &cancel);
    h.deliver(&press).await;
    h.fake
        .wait_for(ALICE.id, "Cancelled payment", WAIT_SECS)
        .await;
    assert_eq!(h.fake.calls("answercallbackquery").len(), 1);
    h.assert_group_clean(&[]);
    h.assert_ledger_sound().await;
}

cases!(ways_to_name_the_payee {
    polling_ways_to_name_the_payee(Via::Polling),
    webhook_ways_to_name_the_payee(Via::Webhook),
});

/// The same update twice (polled again, or posted again) makes one payment
/// and one code.
async fn redelivered_update_pays_once(via: Via) {
    let Some(h) = Harness::start(TestBackend::Sqlite, via).await else {
        return;
    };
    h.start_dm(&ALICE).await;
    h.start_dm(&BOB).await;
    h.fund(&ALICE).await;

    let pay = h.say(&ALICE, group(), "/pay @bob 7").await;
    let (code, _) = h.code_for(&ALICE, "To pay @bob $7.00").await;
    match via {
        Via::Polling => {
            h.fake.deliver_again(pay.clone());
            h.fake.wait_drained(WAIT_SECS).await;
        }
        Via::Webhook => assert_eq!(h.post(&pay, Some(SECRET)).await, 200),
    }
    h.say(&ALICE, ALICE.dm(), &format!("/confirm {code}")).await;
    h.fake
        .wait_for(BOB.id, "@alice paid you $7.00", WAIT_SECS)
        .await;
    // Once more after it completed.
    match via {
        Via::Polling => {
            h.fake.deliver_again(pay);
            h.fake.wait_drained(WAIT_SECS).await;
        }
        Via::Webhook => assert_eq!(h.post(&pay, Some(SECRET)).await, 200),
    }
    h.balance_is(&ALICE, "$93.00 available").await;
    let prompts = h
        .fake
        .sent_to(ALICE.id)
        .iter()
        .filter(|c| c.text().contains("To pay @bob $7.00"))
        .count();
    assert_eq!(prompts, 1, "one code for one payment");
    assert_eq!(h.payments_of(&ALICE).await, 1);
    h.assert_ledger_sound().await;
}

cases!(redelivered_update_pays_once {
    polling_redelivered_update_pays_once(Via::Polling),
    webhook_redelivered_update_pays_once(Via::Webhook),
});

/// Without the secret, or with a wrong one: 401, and the update is not
/// looked at (no reply, the user not even recorded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_refuses_a_missing_or_wrong_secret() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Webhook).await else {
        return;
    };
    let start = h.fake.message(&ALICE, ALICE.dm(), "/start", json!({}));
    assert_eq!(h.post(&start, None).await, 401);
    assert_eq!(
        h.post(&start, Some("test-webhook-secret-0123456788")).await,
        401
    );
    assert_eq!(h.post(&start, Some("")).await, 401);
    assert_eq!(h.post(&start, Some(&format!("{SECRET}x"))).await, 401);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(h.fake.calls("sendmessage").is_empty());
    let alice = PlatformUserId::new(ALICE.id.to_string()).unwrap();
    assert_eq!(
        h.store.identity(Platform::Telegram, &alice).await.unwrap(),
        None
    );
    // The same update with the right secret is answered.
    assert_eq!(h.post(&start, Some(SECRET)).await, 200);
    h.fake
        .wait_for(ALICE.id, "Welcome to paybot", WAIT_SECS)
        .await;
    // Not an update at all: refused, nothing sent.
    let garbage = json!({"hello": "world"});
    assert_eq!(h.post(&garbage, Some(SECRET)).await, 400);
}

/// Telegram forbids a bot to open a DM: a payer who never started the bot
/// gets a deep link in the group and nothing is created; starting through
/// the link registers them.
async fn never_started_payer_gets_a_deep_link(via: Via) {
    let Some(h) = Harness::start(TestBackend::Sqlite, via).await else {
        return;
    };
    h.start_dm(&BOB).await;
    h.say(&DAVE, group(), "/pay @bob 1").await;
    let link = format!("https://t.me/{BOT_USERNAME}?start=setup");
    let note = h.fake.wait_for(GROUP_ID, &link, WAIT_SECS).await;
    assert!(note.text().starts_with("@dave"), "{}", note.text());
    let dms_to_dave = h.fake.calls("sendmessage");
    assert!(
        dms_to_dave.iter().all(|c| c.chat_id() != Some(DAVE.id)),
        "tried to DM someone who never started the bot"
    );
    assert_eq!(h.payments_of(&DAVE).await, 0);
    assert!(h.db.ledger.verify().await.unwrap().is_empty());

    // Dave follows the link: Telegram sends `/start setup` in his DM.
    h.say(&DAVE, DAVE.dm(), "/start setup").await;
    h.fake.wait_for(DAVE.id, "You're set up", WAIT_SECS).await;
    h.say(&DAVE, group(), "/pay @bob 1").await;
    // Now he gets private answers (he has no money yet).
    h.fake
        .wait_for(DAVE.id, "Not enough money", WAIT_SECS)
        .await;
    h.assert_ledger_sound().await;
}

cases!(never_started_payer_gets_a_deep_link {
    polling_never_started_payer_gets_a_deep_link(Via::Polling),
    webhook_never_started_payer_gets_a_deep_link(Via::Webhook),
});

/// The group tab through the real client: members are whoever wrote in
/// the group, `/expense` and `/tab` answer there, and need no private chat
/// first (Dave never opened one).
async fn group_tab(backend: TestBackend) {
    let Some(h) = Harness::start(backend, Via::Polling).await else {
        return;
    };
    h.start_dm(&ALICE).await;
    // Handled before the expense: the help text comes back first.
    h.say(&DAVE, group(), "/help tab").await;
    h.fake
        .wait_for(GROUP_ID, "Who owes whom in this group", WAIT_SECS)
        .await;
    h.say(&ALICE, group(), "/expense 30 for pizza").await;
    h.fake
        .wait_for(
            GROUP_ID,
            "$30.00 for \u{201c}pizza\u{201d}, paid by @alice. Shares: @alice $15.00, @dave $15.00.",
            WAIT_SECS,
        )
        .await;
    h.say(&DAVE, group(), "/tab").await;
    h.fake
        .wait_for(GROUP_ID, "\u{2022} @dave owes @alice $15.00", WAIT_SECS)
        .await;
    let link = format!("https://t.me/{BOT_USERNAME}?start=setup");
    assert!(
        h.fake
            .sent_to(GROUP_ID)
            .iter()
            .all(|c| !c.text().contains(&link)),
        "the tab asked for a private chat"
    );
    h.assert_group_clean(&["available"]);
    h.assert_ledger_sound().await;
}

cases!(group_tab {
    group_tab_sqlite(TestBackend::Sqlite),
    group_tab_postgres(TestBackend::Postgres),
});

/// Settling the tab through the real client: `/tab` carries a Settle
/// button, the debtor's press on it is an ordinary payment (code by DM,
/// money moves, creditor told), and a cash settlement counts once the
/// creditor presses Confirm in their DM.
async fn group_settle(backend: TestBackend) {
    let Some(h) = Harness::start(backend, Via::Polling).await else {
        return;
    };
    h.start_dm(&ALICE).await;
    h.start_dm(&BOB).await;
    h.start_dm(&CAROL).await;
    h.fund(&BOB).await;
    h.say(&BOB, group(), "hi").await;
    h.say(&CAROL, group(), "hi").await;
    h.say(&ALICE, group(), "/expense 30 for pizza").await;
    h.fake
        .wait_for(GROUP_ID, "Shares: @alice $10.00", WAIT_SECS)
        .await;
    h.say(&ALICE, group(), "/tab").await;
    let tab = h
        .fake
        .wait_for(GROUP_ID, "\u{2022} @bob owes @alice $10.00", WAIT_SECS)
        .await;
    let button = &tab.params["reply_markup"]["inline_keyboard"][0][0];
    assert_eq!(button["text"], "Settle");
    assert_eq!(button["callback_data"], "/settle");

    // Bob, who owes, presses it in the group: the press is his `/settle`,
    // so the ask with its code reaches him privately.
    let press = h.fake.button_in(&BOB, group(), "/settle");
    h.deliver(&press).await;
    let (code, ask) = h.code_for(&BOB, "To pay @alice $10.00").await;
    assert!(
        ask.text().contains("for \u{201c}settling the tab\u{201d}"),
        "{}",
        ask.text()
    );
    h.fake
        .wait_for(GROUP_ID, "@bob, I sent you a DM with a code", WAIT_SECS)
        .await;
    assert_eq!(h.fake.calls("answercallbackquery").len(), 1);
    h.say(&BOB, BOB.dm(), &format!("/confirm {code}")).await;
    h.fake
        .wait_for(ALICE.id, "@bob paid you $10.00", WAIT_SECS)
        .await;
    h.balance_is(&BOB, "$90.00 available").await;

    h.say(&CAROL, group(), "/settle @alice 10 cash").await;
    let prompt = h
        .fake
        .wait_for(ALICE.id, "Carol says they paid you $10.00", WAIT_SECS)
        .await;
    let confirm = prompt.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(confirm.starts_with("/settle confirm T"), "{confirm}");
    let press = h.fake.button(&ALICE, &confirm);
    h.deliver(&press).await;
    h.fake
        .wait_for(CAROL.id, "@alice confirmed your cash settlement", WAIT_SECS)
        .await;
    h.say(&BOB, group(), "/tab").await;
    h.fake
        .wait_for(GROUP_ID, "2 settlements counted.", WAIT_SECS)
        .await;
    h.assert_group_clean(&[&code, "90.00", "available"]);
    h.assert_ledger_sound().await;
}

cases!(group_settle {
    group_settle_sqlite(TestBackend::Sqlite),
    group_settle_postgres(TestBackend::Postgres),
});

/// A 429 from Telegram: the message is sent again after `retry_after`, and
/// arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_message_is_retried_after_retry_after() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Polling).await else {
        return;
    };
    h.fake.fail_next(
        "sendMessage",
        429,
        json!({"ok": false, "error_code": 429,
            "description": "Too Many Requests: retry after 2",
            "parameters": {"retry_after": 2}}),
    );
    h.start_dm(&ALICE).await;
    let attempts: Vec<_> = h
        .fake
        .calls("sendmessage")
        .into_iter()
        .filter(|c| c.chat_id() == Some(ALICE.id))
        .collect();
    assert_eq!(attempts.len(), 2, "one refused, one delivered");
    assert_eq!(attempts[0].status, 429);
    assert_eq!(attempts[1].status, 200);
    assert_eq!(attempts[0].text(), attempts[1].text());
    let waited = attempts[1].at.duration_since(attempts[0].at);
    assert!(waited >= Duration::from_secs(2), "retried after {waited:?}");
    let welcomes = h
        .fake
        .sent_to(ALICE.id)
        .iter()
        .filter(|c| c.text().contains("Welcome"))
        .count();
    assert_eq!(welcomes, 1);
}

/// On start: the command menu with every command and its description; the
/// webhook set with its secret (webhook mode) or removed (polling).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_registers_the_menu_and_the_webhook() {
    let Some(polling) = Harness::start(TestBackend::Sqlite, Via::Polling).await else {
        return;
    };
    let menu = polling.fake.calls("setmycommands");
    assert_eq!(menu.len(), 1);
    let commands = menu[0].params["commands"].as_array().unwrap();
    let names: Vec<&str> = commands
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    for name in [
        "pay", "confirm", "cancel", "request", "split", "balance", "history", "link", "help",
        "start", "2fa",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert!(
        commands
            .iter()
            .all(|c| !c["description"].as_str().unwrap().is_empty())
    );
    assert_eq!(polling.fake.calls("deletewebhook").len(), 1);
    assert!(polling.fake.calls("setwebhook").is_empty());

    let Some(webhook) = Harness::start(TestBackend::Sqlite, Via::Webhook).await else {
        return;
    };
    let set = webhook.fake.calls("setwebhook");
    assert_eq!(set.len(), 1);
    assert_eq!(
        set[0].params["url"],
        "https://paybot.example/telegram/webhook"
    );
    assert_eq!(set[0].params["secret_token"], SECRET);
    assert!(webhook.fake.calls("getupdates").is_empty());
}

/// A request's notice carries Approve / Decline buttons; Decline works with
/// one tap and the requester is told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_can_be_declined_with_a_button() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Polling).await else {
        return;
    };
    h.start_dm(&ALICE).await;
    h.start_dm(&BOB).await;
    h.say(&BOB, group(), "/request @alice 4 for the taxi").await;
    let notice = h
        .fake
        .wait_for(ALICE.id, "@bob asks you to pay $4.00", WAIT_SECS)
        .await;
    let row = &notice.params["reply_markup"]["inline_keyboard"][0];
    assert_eq!(row[0]["text"], "Approve");
    assert_eq!(row[1]["text"], "Decline");
    let decline = row[1]["callback_data"].as_str().unwrap().to_owned();
    assert!(decline.starts_with("/decline R"), "{decline}");
    let press = h.fake.button(&ALICE, &decline);
    h.deliver(&press).await;
    h.fake
        .wait_for(BOB.id, "@alice declined your request", WAIT_SECS)
        .await;
    h.assert_group_clean(&[]);
}

/// A user who started the bot and later blocked it: a private answer cannot
/// be delivered, so the group is told, without the private text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_user_is_told_in_the_group() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Polling).await else {
        return;
    };
    h.start_dm(&ALICE).await;
    h.fake.block(ALICE.id);
    h.say(&ALICE, group(), "/balance").await;
    h.fake
        .wait_for(
            GROUP_ID,
            "@alice, I couldn't message you privately",
            WAIT_SECS,
        )
        .await;
    let refused = h
        .fake
        .calls("sendmessage")
        .into_iter()
        .filter(|c| c.chat_id() == Some(ALICE.id) && c.status == 403)
        .count();
    assert_eq!(refused, 1, "the private answer was tried once");
    h.assert_group_clean(&[]);
}

/// A card number posted in the group: while the bot is not an admin,
/// `deleteMessage` is refused and the group is asked to delete it; once it
/// is an admin allowed to delete, the message is deleted and the group is
/// told so. No digit of the card reaches any chat either way, and the
/// poster need not have opened a DM with the bot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_number_in_group_is_deleted_when_the_bot_may() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Polling).await else {
        return;
    };
    let first = h
        .say(
            &DAVE,
            group(),
            "my card 4111 1111 1111 1111 exp 12/30, anyone?",
        )
        .await;
    h.fake
        .wait_for(
            GROUP_ID,
            "@dave, that message looks like it contains a card number. Please delete it now",
            WAIT_SECS,
        )
        .await;
    let refused = h.fake.calls("deletemessage");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].status, 400);
    assert_eq!(refused[0].chat_id(), Some(GROUP_ID));
    assert_eq!(
        refused[0].params["message_id"].as_i64(),
        first["message"]["message_id"].as_i64()
    );
    assert!(h.fake.deleted().is_empty());

    h.fake.make_admin();
    let second = h
        .say(&BOB, group(), "/card add 5555555555554444 12/30")
        .await;
    h.fake
        .wait_for(
            GROUP_ID,
            "@bob, that message looked like it contained a card number, so I deleted it",
            WAIT_SECS,
        )
        .await;
    assert_eq!(
        h.fake.deleted(),
        vec![(GROUP_ID, second["message"]["message_id"].as_i64().unwrap())]
    );
    assert!(
        !h.fake.sent().iter().any(|c| c.text().contains("Linked")
            || c.text().contains("Please delete it now") && c.text().contains("@bob")),
        "the second warning must say it was deleted, and nothing else happened"
    );
    for call in h.fake.sent() {
        let digits: String = call.text().chars().filter(char::is_ascii_digit).collect();
        for card in ["4111111111111111", "5555555555554444", "1111", "4444"] {
            assert!(!digits.contains(card), "card digits sent: {}", call.text());
        }
    }
    h.assert_ledger_sound().await;
}

/// `/2fa setup` in a DM sends the key as an `otpauth://` link and as a QR
/// code photo (`sendPhoto`); the app's first code turns it on. In the group
/// it is refused and nothing secret (no link, no photo) goes there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_factor_setup_sends_a_qr_code_photo() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Polling).await else {
        return;
    };
    h.start_dm(&ALICE).await;
    h.say(&ALICE, group(), "/2fa setup").await;
    h.fake
        .wait_for(ALICE.id, "in a private chat with me", WAIT_SECS)
        .await;
    h.fake
        .wait_for(GROUP_ID, "@alice, I sent you a DM.", WAIT_SECS)
        .await;
    h.say(&ALICE, ALICE.dm(), "/2fa setup").await;
    let setup = h
        .fake
        .wait_for(ALICE.id, "otpauth://totp/paybot:", WAIT_SECS)
        .await;
    let photo = h.fake.wait_for_photo(ALICE.id, WAIT_SECS).await;
    assert_eq!(photo.params["caption"], "QR code");
    assert!(
        h.fake
            .calls("sendphoto")
            .iter()
            .all(|c| c.chat_id() == Some(ALICE.id))
    );
    h.assert_group_clean(&["otpauth", "secret="]);
    // The key as shown (8 groups of 4) is what the app holds.
    let key: String = setup
        .text()
        .lines()
        .find(|line| line.len() == 39 && line.split(' ').count() == 8)
        .expect("the key in groups of four")
        .to_owned();
    let secret = bot::trust::second_factor::TotpSecret::from_base32(&key).unwrap();
    assert!(
        setup
            .text()
            .contains(&format!("secret={}", secret.base32()))
    );
    let code = secret.code_at(h.db.ledger.now_ms()).unwrap();
    h.say(&ALICE, ALICE.dm(), &format!("/2fa confirm {code}"))
        .await;
    h.fake
        .wait_for(ALICE.id, "Your authenticator app is on.", WAIT_SECS)
        .await;
}

/// The requests inbox through Telegram: `/requests` in the group answers
/// privately (the group hears only that), `/remind` reaches the payer, and
/// a usage error in the group goes to its sender by DM with a short public
/// pointer; a member who never opened a private chat still gets the usage
/// line in the group (nothing could reach them privately).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_inbox_and_usage_errors_in_private() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Polling).await else {
        return;
    };
    h.start_dm(&ALICE).await;
    h.start_dm(&BOB).await;
    h.say(&ALICE, group(), "/request @bob 6 for the tickets")
        .await;
    let notice = h
        .fake
        .wait_for(BOB.id, "@alice asks you to pay $6.00", WAIT_SECS)
        .await;
    let reference = notice
        .text()
        .split_whitespace()
        .find(|w| w.starts_with('R') && w.len() >= 7)
        .unwrap()
        .trim_end_matches(['.', ','])
        .to_owned();
    h.say(&BOB, group(), "/requests").await;
    h.fake
        .wait_for(GROUP_ID, "@bob, I sent you a DM.", WAIT_SECS)
        .await;
    h.fake
        .wait_for(
            BOB.id,
            "@alice asked you for $6.00 for \u{201c}the tickets\u{201d} \u{2014} open until",
            WAIT_SECS,
        )
        .await;
    h.say(&ALICE, ALICE.dm(), &format!("/remind {reference}"))
        .await;
    h.fake
        .wait_for(BOB.id, "Reminder from @alice", WAIT_SECS)
        .await;
    // A usage error in the group: detail by DM, a pointer in the group.
    h.say(&ALICE, group(), "/remind").await;
    h.fake
        .wait_for(ALICE.id, "Usage: /remind REF", WAIT_SECS)
        .await;
    h.fake
        .wait_for(GROUP_ID, "@alice, I sent you a DM.", WAIT_SECS)
        .await;
    assert!(
        h.fake
            .sent_to(GROUP_ID)
            .iter()
            .all(|c| !c.text().contains("Usage: /remind")),
        "the usage line reached the group"
    );
    // Dave never opened a private chat: the line stays in the group.
    h.say(&DAVE, group(), "/remind").await;
    h.fake
        .wait_for(GROUP_ID, "Usage: /remind REF", WAIT_SECS)
        .await;
    h.assert_group_clean(&[]);
}

/// Paying two people at once through the real client: one code by DM with
/// both payees and the total and a Cancel button for the whole payment, one
/// `/confirm`, both payees told; then `/undo` takes it back from both.
async fn pay_several_people_then_undo(backend: TestBackend) {
    const ERIN: TgUser = TgUser {
        id: 1_005,
        first_name: "Erin",
        username: Some("erin"),
    };
    let Some(h) = Harness::start(backend, Via::Polling).await else {
        return;
    };
    h.start_dm(&ALICE).await;
    h.start_dm(&BOB).await;
    h.start_dm(&ERIN).await;
    h.fund(&ALICE).await;

    h.say(&ALICE, group(), "/pay @bob @erin 5 each for lunch")
        .await;
    let (code, prompt) = h
        .code_for(&ALICE, "To pay @bob $5.00, @erin $5.00 (total $10.00)")
        .await;
    let buttons = &prompt.params["reply_markup"]["inline_keyboard"][0];
    assert!(
        buttons[0]["callback_data"]
            .as_str()
            .unwrap()
            .starts_with("/cancel G")
    );
    h.fake
        .wait_for(GROUP_ID, "confirm paying 2 people $10.00 in all", WAIT_SECS)
        .await;
    h.say(&ALICE, ALICE.dm(), &format!("/confirm {code}")).await;
    h.fake
        .wait_for(BOB.id, "@alice paid you $5.00", WAIT_SECS)
        .await;
    h.fake
        .wait_for(ERIN.id, "@alice paid you $5.00", WAIT_SECS)
        .await;
    h.fake.wait_for(GROUP_ID, "is confirmed", WAIT_SECS).await;
    h.balance_is(&ALICE, "$90.00 available").await;

    h.say(&ALICE, ALICE.dm(), "/undo").await;
    h.fake
        .wait_for(ALICE.id, "$10.00 is back in your wallet", WAIT_SECS)
        .await;
    h.fake
        .wait_for(BOB.id, "@alice undid their payment of $5.00", WAIT_SECS)
        .await;
    h.fake
        .wait_for(ERIN.id, "@alice undid their payment of $5.00", WAIT_SECS)
        .await;
    h.balance_is(&ALICE, "$100.00 available").await;
    h.balance_is(&ERIN, "$0.00 available").await;
    // The operator sees the undo in the audit log: who, which payment.
    let alice = h
        .store
        .identity(
            Platform::Telegram,
            &PlatformUserId::new(ALICE.id.to_string()).unwrap(),
        )
        .await
        .unwrap()
        .unwrap()
        .user;
    let undos = h
        .store
        .audit_entries(&AuditFilter {
            user: Some(alice),
            kind: Some(AuditKind::PaymentReversed),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(undos.len(), 1);
    assert!(undos[0].entry.subject.as_deref().unwrap().starts_with('G'));
    assert_eq!(undos[0].entry.details["amount"], "$10.00");
    h.assert_group_clean(&[&code, "available"]);
    h.assert_ledger_sound().await;
}

cases!(pay_several_people_then_undo {
    pay_several_people_then_undo_sqlite(TestBackend::Sqlite),
    pay_several_people_then_undo_postgres(TestBackend::Postgres),
});

/// A refusal meant for the sender of a group command (paying oneself, a
/// reference that is not theirs) reaches them by DM; the group gets only
/// the short pointer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_in_a_group_go_to_the_sender_by_dm() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Polling).await else {
        return;
    };
    h.start_dm(&ALICE).await;
    h.start_dm(&BOB).await;
    h.say(&BOB, group(), "hi").await;
    h.say(&ALICE, group(), "/pay @alice 5").await;
    h.fake
        .wait_for(ALICE.id, "You can't pay yourself.", WAIT_SECS)
        .await;
    h.fake
        .wait_for(GROUP_ID, "@alice, I sent you a DM.", WAIT_SECS)
        .await;
    h.say(&ALICE, group(), "/cancel PZZZZZZ").await;
    h.fake
        .wait_for(ALICE.id, "You have no payment PZZZZZZ.", WAIT_SECS)
        .await;
    let group_texts: Vec<String> = h
        .fake
        .sent_to(GROUP_ID)
        .iter()
        .map(|c| c.text().to_owned())
        .collect();
    assert!(
        group_texts
            .iter()
            .all(|t| !t.contains("yourself") && !t.contains("PZZZZZZ")),
        "a refusal reached the group: {group_texts:?}"
    );
    h.assert_group_clean(&[]);
}

/// `/tab export` in a group sends the group's tab as a CSV file
/// (`sendDocument`) to the asker's DM; the group sees only the pointer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tab_export_is_a_csv_document_in_the_dm() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Polling).await else {
        return;
    };
    h.start_dm(&ALICE).await;
    h.say(&DAVE, group(), "hi").await;
    h.say(&ALICE, group(), "/expense 30 for pizza").await;
    h.fake
        .wait_for(GROUP_ID, "Shares: @alice $15.00, @dave $15.00.", WAIT_SECS)
        .await;
    h.say(&ALICE, group(), "/tab export").await;
    h.fake
        .wait_for(
            ALICE.id,
            "The group's tab as a CSV file, 2 rows.",
            WAIT_SECS,
        )
        .await;
    let content = h
        .csv_in_dm(
            &ALICE,
            "paybot-tab-",
            "date,type,reference,currency,amount,memo,member,paid,owed,state",
        )
        .await;
    assert!(
        content.contains(",expense,E")
            && content.contains(",USD,30.00,pizza,'@dave,0.00,15.00,on the tab"),
        "{content}"
    );
    h.fake
        .wait_for(GROUP_ID, "@alice, I sent you a DM.", WAIT_SECS)
        .await;
    assert!(
        h.fake
            .sent_to(GROUP_ID)
            .iter()
            .all(|c| !c.text().contains("CSV") && !c.text().contains("rows")),
        "the export's line reached the group"
    );
    h.assert_group_clean(&["paybot-tab-", "owed,state"]);
}

/// `/history export` sends the CSV as a file (`sendDocument`, multipart)
/// to the sender's DM, asked in a group or not; the group sees no row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_export_is_a_csv_document_in_the_dm() {
    let Some(h) = Harness::start(TestBackend::Sqlite, Via::Polling).await else {
        return;
    };
    h.start_dm(&ALICE).await;
    h.start_dm(&BOB).await;
    h.fund(&ALICE).await;
    h.say(&ALICE, ALICE.dm(), "/pay @bob 5 for =pizza, drinks")
        .await;
    let (code, _) = h.code_for(&ALICE, "To pay @bob $5.00").await;
    h.say(&ALICE, ALICE.dm(), &format!("/confirm {code}")).await;
    h.fake
        .wait_for(BOB.id, "@alice paid you $5.00", WAIT_SECS)
        .await;
    h.say(&ALICE, group(), "/history export").await;
    h.fake
        .wait_for(
            ALICE.id,
            "Your history as a CSV file (1 payment,",
            WAIT_SECS,
        )
        .await;
    let content = h
        .csv_in_dm(
            &ALICE,
            "paybot-history-",
            "date,direction,counterparty,amount,currency,memo,state,reference",
        )
        .await;
    assert!(
        content.contains(",sent,'@bob,5.00,USD,\"'=pizza, drinks\",completed,P"),
        "{content}"
    );
    h.fake
        .wait_for(GROUP_ID, "@alice, I sent you a DM.", WAIT_SECS)
        .await;
    h.assert_group_clean(&["pizza", "5.00"]);
}
