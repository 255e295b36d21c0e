//! Bill pay in process, on both backends, with the clock frozen: the
//! biller's API (the real router, called in process), the chat (the real
//! core), and the worker's rounds (`paybot::bills::sync_invoices`) run by
//! hand. What the review of a held payment does to its invoice, a
//! redelivered `/approve`, a crash in the middle of sending an invoice, and
//! invoices beyond one round's window.

use crate::support::cases;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bot::message::{
    Chat, ChatId, ChatKind, EventId, Handle, Incoming, MessageId, Platform, PlatformUserId, Reply,
    User,
};
use bot::otp::{OsRandom, Pepper};
use bot::store::{RequestState, Store};
use bot::trust::holds::{HoldDecision, HoldOutcome};
use bot::trust::{Actor, TrustConfig};
use bot::{Bot, BotConfig};
use ledger::testing::{TestBackend, TestDb};
use ledger::{Amount, Currency};
use paybot::api::billers::BillerApi;
use paybot_store::{BOT_MIGRATIONS, SqlStore};
use serde_json::{Value, json};
use tower::ServiceExt;

/// A rule that holds every payment above $50 of a young wallet for
/// review.
const HOLD_ABOVE_50: &str = "[trust.rules.rule.young_payment]\ncondition = \"new_account\"\nyounger_than_days = 30\nabove = { usd = \"50\" }\naction = \"hold\"\non = [\"payment\"]";

/// The pepper every bot of a test shares (a second process on the same
/// database checks the first one's codes).
fn pepper() -> Pepper {
    Pepper::from_bytes((1..=32).collect()).unwrap()
}

/// The sealer of webhook secrets every test shares.
fn sealer() -> paybot::bills::WebhookSealer {
    paybot::bills::WebhookSealer::new(&pepper())
}

fn bot_of(db: &TestDb, store: &Arc<SqlStore>, trust: &TrustConfig) -> Arc<Bot> {
    let config = BotConfig {
        mock_opening_balance: Some(Amount::from_minor(10_000, Currency::USD).unwrap()),
        trust: trust.clone(),
        ..BotConfig::default()
    };
    Bot::builder(
        db.ledger.clone(),
        Arc::<SqlStore>::clone(store),
        config,
        pepper(),
        Arc::new(OsRandom),
    )
    .build()
}

struct World {
    db: TestDb,
    store: Arc<SqlStore>,
    bot: Arc<Bot>,
    trust: TrustConfig,
    token: String,
    webhook_secret: String,
    biller_id: i64,
}

async fn world(backend: TestBackend, settings: &str) -> Option<World> {
    let db = TestDb::fresh(backend).await?;
    db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
    let store = Arc::new(SqlStore::new(&db.ledger));
    let trust = paybot::settings::from_toml(settings)
        .unwrap()
        .trust
        .policy();
    let bot = bot_of(&db, &store, &trust);
    bot.handle(&dm("alice", "start-alice", "/start")).await;
    let registered = paybot::bills::register(
        &store,
        &sealer(),
        "City Power",
        &Handle::parse("citypower").unwrap(),
        &url::Url::parse("http://127.0.0.1:9/hook").unwrap(),
        true,
        bot.now_ms(),
    )
    .await
    .unwrap();
    Some(World {
        db,
        store,
        bot,
        trust,
        token: registered.token,
        webhook_secret: registered.webhook_secret,
        biller_id: registered.id,
    })
}

fn dm(from: &str, event: &str, text: &str) -> Incoming {
    Incoming {
        platform: Platform::Mock,
        event_id: EventId::new(event).unwrap(),
        chat: Chat {
            id: ChatId::new(format!("dm:{from}")).unwrap(),
            kind: ChatKind::Direct,
            title: None,
        },
        sender: User {
            id: PlatformUserId::new(from).unwrap(),
            handle: Some(Handle::parse(from).unwrap()),
            display_name: from.to_owned(),
            is_bot: false,
        },
        text: text.to_owned(),
        mentions: Vec::new(),
        reply_to: None,
        message_id: Some(MessageId::new(format!("msg-{event}")).unwrap()),
    }
}

fn text_of(replies: &[Reply]) -> String {
    replies
        .iter()
        .map(|r| r.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The six digits after `/confirm ` in `text`.
fn code_in(text: &str) -> String {
    text.split("/confirm ")
        .nth(1)
        .unwrap_or_else(|| panic!("no code in {text}"))
        .chars()
        .take(6)
        .collect()
}

impl World {
    async fn say(&self, event: &str, text: &str) -> String {
        text_of(&self.bot.handle(&dm("alice", event, text)).await)
    }

    /// Calls the biller API as the biller.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let api = BillerApi {
            store: (*self.store).clone(),
            bot: Arc::clone(&self.bot),
            throttle: Arc::default(),
        };
        let router = paybot::api::router(None, None, Some(api));
        let request = Request::builder()
            .method(method)
            .uri(format!("/api/v1/billers/me/invoices{path}"))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .body(Body::from(body.map(|b| b.to_string()).unwrap_or_default()))
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    /// Sends an invoice of `minor` cents to alice, due in an hour.
    async fn send(&self, reference: &str, minor: i64) -> (StatusCode, Value) {
        let body = self.invoice_body(reference, minor);
        self.call("POST", "", Some(body)).await
    }

    fn invoice_body(&self, reference: &str, minor: i64) -> Value {
        json!({
            "reference": reference,
            "platform": "mock",
            "user_id": "alice",
            "amount": minor,
            "currency": "USD",
            "due_at": self.bot.now_ms() / 1_000 + 3_600,
            "description": "Electricity, November",
        })
    }

    async fn state_of(&self, reference: &str) -> String {
        let (status, invoice) = self.call("GET", &format!("/{reference}"), None).await;
        assert_eq!(status, StatusCode::OK, "{invoice}");
        invoice["state"].as_str().unwrap().to_owned()
    }

    /// One round of the worker's invoice pass.
    async fn round(&self) {
        paybot::bills::sync_invoices(&self.store, self.bot.now_ms())
            .await
            .unwrap();
    }

    /// Alice starts paying the invoice with chat reference `request`
    /// (event `event`); answers the code.
    async fn approve(&self, event: &str, request: &str) -> String {
        let asked = self.say(event, &format!("/approve {request}")).await;
        code_in(&asked)
    }

    async fn balance(&self) -> String {
        self.say(&format!("balance-{}", self.bot.now_ms()), "/balance")
            .await
    }

    async fn invoice_notices(&self) -> i64 {
        self.db
            .query_i64("SELECT COUNT(*) FROM outbox WHERE payload LIKE '%Invoice from%'")
            .await
            .unwrap()
    }
}

/// The held payment of an invoice: its review approves it (the invoice
/// is paid), refuses it or lets it run out (the invoice is payable again,
/// never stuck: the user pays it once more; a biller can cancel it, and
/// past its due date it expires).
async fn held_invoice_payment(backend: TestBackend) {
    let Some(w) = world(backend, HOLD_ABOVE_50).await else {
        return;
    };
    // Approved by the review: paid, and the invoice with it.
    let (status, sent) = w.send("INV-1", 6_000).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let request = sent["chat_reference"].as_str().unwrap().to_owned();
    let code = w.approve("ap-1", &request).await;
    let held = w.say("cf-1", &format!("/confirm {code}")).await;
    assert!(held.contains("under review"), "{held}");
    w.round().await;
    assert_eq!(w.state_of("INV-1").await, "open");
    let holds = w.bot.holds(10).await.unwrap();
    let payment = holds[0].id.clone();
    let outcome = w
        .bot
        .decide_hold(
            &payment,
            HoldDecision::Approve,
            Actor::Operator("ops".to_owned()),
            "known biller",
        )
        .await
        .unwrap();
    assert_eq!(outcome, HoldOutcome::Approved);
    w.round().await;
    assert_eq!(w.state_of("INV-1").await, "paid");
    assert!(w.balance().await.contains("$40.00"));

    // Refused by the review: the money is back and the invoice is still
    // hers to pay (listed, payable), not stuck behind the refused payment.
    let (_, sent) = w.send("INV-2", 7_000).await;
    let request = sent["chat_reference"].as_str().unwrap().to_owned();
    // Funds for the second invoice.
    let wallet = {
        let alice = w
            .store
            .identity(Platform::Mock, &PlatformUserId::new("alice").unwrap())
            .await
            .unwrap()
            .unwrap();
        w.db.wallet(&format!("user:{}", alice.user.0), Currency::USD)
            .await
    };
    w.db.fund(wallet, Amount::from_minor(20_000, Currency::USD).unwrap())
        .await;
    let code = w.approve("ap-2", &request).await;
    let held = w.say("cf-2", &format!("/confirm {code}")).await;
    assert!(held.contains("under review"), "{held}");
    let payment = w.bot.holds(10).await.unwrap()[0].id.clone();
    let outcome = w
        .bot
        .decide_hold(
            &payment,
            HoldDecision::Reject,
            Actor::Operator("ops".to_owned()),
            "unusual",
        )
        .await
        .unwrap();
    assert_eq!(outcome, HoldOutcome::Rejected);
    w.round().await;
    assert_eq!(w.state_of("INV-2").await, "open");
    let bills = w.say("bills-2", "/bills").await;
    assert!(bills.contains(&format!("/approve {request}")), "{bills}");
    let stored = w
        .store
        .request(&bot::command::ShortRef::parse(&request).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, RequestState::Approved);
    // Payable again: a new code (then cancelled).
    let asked = w.say("ap-2b", &format!("/approve {request}")).await;
    assert!(asked.contains("/confirm "), "{asked}");
    let payment = asked
        .split("/cancel ")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect::<String>();
    let cancelled = w.say("cancel-2b", &format!("/cancel {payment}")).await;
    assert!(cancelled.contains("ancel"), "{cancelled}");
    // The biller can withdraw it now.
    let (status, cancelled) = w.call("POST", "/INV-2/cancel", None).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["state"], "cancelled");

    // Nobody decided: the hold runs out, the invoice is payable again, and
    // past its due date it expires.
    let (_, sent) = w.send("INV-3", 8_000).await;
    let request = sent["chat_reference"].as_str().unwrap().to_owned();
    let code = w.approve("ap-3", &request).await;
    let held = w.say("cf-3", &format!("/confirm {code}")).await;
    assert!(held.contains("under review"), "{held}");
    w.db.clock.advance(Duration::from_secs(3 * 86_400 + 60));
    w.bot.sweep().await.unwrap();
    assert!(w.bot.holds(10).await.unwrap().is_empty());
    let stored = w
        .store
        .request(&bot::command::ShortRef::parse(&request).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, RequestState::Approved);
    w.round().await;
    assert_eq!(w.state_of("INV-3").await, "expired");
    crate::support::assert_ledger_sound(&w.db).await;
    w.db.cleanup().await;
}

cases!(held_invoice_payment {
    a_held_invoice_payment_approved_refused_or_timed_out_leaves_the_invoice_right_on_sqlite(TestBackend::Sqlite),
    a_held_invoice_payment_approved_refused_or_timed_out_leaves_the_invoice_right_on_postgres(TestBackend::Postgres),
});

/// `/approve` handled again after its outcome was lost (a crash before
/// the outcome was kept; the platform redelivers): a fresh code, as for a
/// redelivered `/pay`; a new tap on Pay while the code waits says where
/// the code is, and the fresh code pays once.
async fn approve_redelivered(backend: TestBackend) {
    let Some(w) = world(backend, "").await else {
        return;
    };
    let (_, sent) = w.send("INV-1", 2_500).await;
    let request = sent["chat_reference"].as_str().unwrap().to_owned();
    let first = w.approve("ap-1", &request).await;
    // Another tap on Pay (a new event) while that code waits: told the
    // code was sent and how to use or cancel it.
    let again = w.say("ap-tap", &format!("/approve {request}")).await;
    assert!(again.contains("I sent you a code"), "{again}");
    assert!(again.contains("/cancel P"), "{again}");
    assert!(!again.contains(&first), "{again}");
    // The crash: the outcome of ap-1 is lost; a second process gets the
    // redelivery.
    w.bot.outcomes_committed().await;
    w.db.execute("DELETE FROM bot_events").await.unwrap();
    let second = bot_of(&w.db, &w.store, &w.trust);
    let redelivered = text_of(
        &second
            .handle(&dm("alice", "ap-1", &format!("/approve {request}")))
            .await,
    );
    assert!(
        redelivered.contains("/confirm "),
        "no fresh code: {redelivered}"
    );
    let fresh = code_in(&redelivered);
    let paid = text_of(
        &second
            .handle(&dm("alice", "cf-1", &format!("/confirm {fresh}")))
            .await,
    );
    assert!(paid.contains("Done: you paid @citypower $25.00"), "{paid}");
    w.round().await;
    assert_eq!(w.state_of("INV-1").await, "paid");
    assert!(w.balance().await.contains("$75.00"));
    crate::support::assert_ledger_sound(&w.db).await;
    w.db.cleanup().await;
}

cases!(approve_redelivered {
    a_redelivered_approve_gets_a_fresh_code_on_sqlite(TestBackend::Sqlite),
    a_redelivered_approve_gets_a_fresh_code_on_postgres(TestBackend::Postgres),
});

/// A crash between the invoice's request and its invoice row (as an
/// earlier version could leave it: the request written, the invoice not):
/// the biller's retry adopts the request, the user is told once, and the
/// invoice follows it. Sending is now one unit: an invoice row that cannot
/// be written leaves no request and no notice behind.
async fn invoice_crash(backend: TestBackend) {
    let Some(w) = world(backend, "").await else {
        return;
    };
    let biller = w.store.biller(w.biller_id).await.unwrap().unwrap();
    let me = w
        .store
        .identity(
            Platform::Mock,
            &PlatformUserId::new(format!("biller.{}", biller.handle)).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    let alice = w
        .store
        .identity(Platform::Mock, &PlatformUserId::new("alice").unwrap())
        .await
        .unwrap()
        .unwrap();
    let body = w.invoice_body("INV-1", 1_500);
    let due_at_ms = body["due_at"].as_i64().unwrap() * 1_000;
    let usd = Amount::from_minor(1_500, Currency::USD).unwrap();
    let memo = bot::command::Memo::parse("Electricity, November").unwrap();
    // The first write by hand: the request and its notice, no invoice row.
    let orphan = w
        .bot
        .send_invoice(
            &me,
            &alice,
            usd,
            memo.clone(),
            due_at_ms,
            &format!("{}:INV-1", w.biller_id),
        )
        .await
        .unwrap()
        .expect("the orphan request");
    // The retry adopts it.
    let (status, sent) = w.call("POST", "", Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["chat_reference"], orphan.reference.to_string());
    assert_eq!(w.invoice_notices().await, 1, "told once");
    let (status, again) = w.call("POST", "", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let code = w.approve("ap-1", &orphan.reference.to_string()).await;
    w.say("cf-1", &format!("/confirm {code}")).await;
    w.round().await;
    assert_eq!(w.state_of("INV-1").await, "paid");

    // One unit: when the invoice row cannot be written (here: its key is
    // taken), neither the request nor its notice is.
    let taken = paybot_store::bills::Invoice {
        biller_id: w.biller_id,
        reference: "INV-1".to_owned(),
        request_ref: "Rxxxxxxxxxx".to_owned(),
        platform: "mock".to_owned(),
        platform_user_id: "alice".to_owned(),
        amount_minor: 900,
        currency: "USD".to_owned(),
        due_at_ms,
        description: "Water".to_owned(),
        state: "open".to_owned(),
        created_at_ms: 1,
        updated_at_ms: 1,
    };
    let before = w.invoice_notices().await;
    let written = w.store.invoice_write(&taken);
    let outcome = w
        .bot
        .send_invoice_with(
            &me,
            &alice,
            Amount::from_minor(900, Currency::USD).unwrap(),
            bot::command::Memo::parse("Water").unwrap(),
            due_at_ms,
            &format!("{}:INV-9", w.biller_id),
            vec![written],
        )
        .await;
    assert!(
        !matches!(outcome, Ok(Some(_))),
        "sent without its invoice: {outcome:?}"
    );
    assert_eq!(
        w.invoice_notices().await,
        before,
        "a notice without its invoice"
    );
    let requests = w.store.requests_to_pay(alice.user, 100).await.unwrap();
    assert!(
        requests.is_empty(),
        "a request without its invoice: {requests:?}"
    );
    w.db.cleanup().await;
}

cases!(invoice_crash {
    a_crash_while_sending_an_invoice_leaves_nothing_payable_behind_on_sqlite(TestBackend::Sqlite),
    a_crash_while_sending_an_invoice_leaves_nothing_payable_behind_on_postgres(TestBackend::Postgres),
});

/// More open invoices than one round looks at: the one that was paid is
/// still followed (the window holds only invoices that have something to
/// follow, and the rest come next round).
async fn many_open_invoices(backend: TestBackend) {
    let Some(w) = world(backend, "").await else {
        return;
    };
    for n in 0..3 {
        let (status, _) = w.send(&format!("EARLY-{n}"), 100).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    w.db.clock.advance(Duration::from_secs(60));
    let (_, sent) = w.send("LATE", 200).await;
    let request = sent["chat_reference"].as_str().unwrap().to_owned();
    let code = w.approve("ap-1", &request).await;
    w.say("cf-1", &format!("/confirm {code}")).await;
    paybot::bills::sync_invoices_at_most(&w.store, w.bot.now_ms(), 2)
        .await
        .unwrap();
    assert_eq!(w.state_of("LATE").await, "paid");
    for n in 0..3 {
        assert_eq!(w.state_of(&format!("EARLY-{n}")).await, "open");
    }
    w.db.cleanup().await;
}

cases!(many_open_invoices {
    an_invoice_beyond_one_rounds_window_is_still_settled_on_sqlite(TestBackend::Sqlite),
    an_invoice_beyond_one_rounds_window_is_still_settled_on_postgres(TestBackend::Postgres),
});

/// Webhook secrets are sealed at rest: the secret `biller-add` printed is
/// nowhere in the database, yet opens for its biller (and only for it);
/// one an earlier version stored in clear is sealed at start.
async fn sealed_webhook_secrets(backend: TestBackend) {
    use secrecy::ExposeSecret;
    let Some(w) = world(backend, "").await else {
        return;
    };
    let body = w.webhook_secret.trim_start_matches("whsec_");
    assert!(body.len() >= 32, "{}", w.webhook_secret.len());
    let in_clear = format!("SELECT COUNT(*) FROM bot_billers WHERE webhook_secret LIKE '%{body}%'");
    assert_eq!(
        w.db.query_i64(&in_clear).await.unwrap(),
        0,
        "stored in clear"
    );
    let biller = w.store.biller(w.biller_id).await.unwrap().unwrap();
    assert!(biller.webhook_secret.starts_with("sealed:v1:"));
    let opened = sealer().open("citypower", &biller.webhook_secret).unwrap();
    assert_eq!(opened.expose_secret(), w.webhook_secret);
    assert!(
        sealer().open("waterco", &biller.webhook_secret).is_err(),
        "opened for another biller"
    );
    let other_key =
        paybot::bills::WebhookSealer::new(&Pepper::from_bytes((2..=33).collect()).unwrap());
    assert!(other_key.open("citypower", &biller.webhook_secret).is_err());

    // An earlier version's clear secret: sealed at start, the same secret.
    let legacy = paybot_store::bills::Biller {
        id: 0,
        name: "Water Co".to_owned(),
        handle: "waterco".to_owned(),
        user: biller.user,
        webhook_url: "http://127.0.0.1:9/hook".to_owned(),
        webhook_secret: "whsec_legacy0123456789abcdef0123456789".to_owned(),
    };
    let id = w
        .store
        .insert_biller(&legacy, "legacy-token-digest", w.bot.now_ms())
        .await
        .unwrap()
        .unwrap();
    let sealed = paybot::bills::seal_clear_secrets(&w.store, &sealer())
        .await
        .unwrap();
    assert_eq!(sealed, 1);
    assert_eq!(
        paybot::bills::seal_clear_secrets(&w.store, &sealer())
            .await
            .unwrap(),
        0
    );
    let clear = "SELECT COUNT(*) FROM bot_billers WHERE webhook_secret LIKE '%legacy0123%'";
    assert_eq!(w.db.query_i64(clear).await.unwrap(), 0, "left in clear");
    let stored = w.store.biller(id).await.unwrap().unwrap().webhook_secret;
    assert_eq!(
        sealer().open("waterco", &stored).unwrap().expose_secret(),
        legacy.webhook_secret
    );
    w.db.cleanup().await;
}

cases!(sealed_webhook_secrets {
    webhook_secrets_are_sealed_at_rest_on_sqlite(TestBackend::Sqlite),
    webhook_secrets_are_sealed_at_rest_on_postgres(TestBackend::Postgres),
});
