//! Bill pay through the real binary: the test is the biller. It registers
//! with `paybot admin biller-add`, sends invoices through the biller API,
//! and receives its webhooks on a local port (axum), answering 500 to the
//! first one and 200 after; the user pays, declines through the mock chat,
//! and turns autopay on: an invoice within its cap is paid by itself after
//! a notice (its signed webhook arrives), one above it waits for her.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::support::{Finished, PgDatabase, Server, http_call, http_post, paybot, run, serve};

/// How long a webhook or a chat message may take to arrive.
const WAIT_SECS: u64 = 20;

fn json_body(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

/// What the biller's endpoint received: (signature header, body).
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// The biller's webhook endpoint: answers 500 to the first delivery and
/// 200 to every other, and keeps what it got.
fn webhook_endpoint() -> (SocketAddr, Received) {
    let received: Received = Arc::default();
    let kept = Arc::clone(&received);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = axum::Router::new().route(
                "/hook",
                axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                    let kept = Arc::clone(&kept);
                    async move {
                        let signature = headers
                            .get("Paybot-Signature")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned();
                        let mut kept = kept.lock().unwrap();
                        kept.push((signature, String::from_utf8_lossy(&body).into_owned()));
                        if kept.len() == 1 {
                            StatusCode::INTERNAL_SERVER_ERROR
                        } else {
                            StatusCode::OK
                        }
                    }
                }),
            );
            axum::serve(listener, app).await.unwrap();
        });
    });
    (rx.recv().unwrap(), received)
}

/// Checks `Paybot-Signature: t=..,v1=..` with the test's own HMAC code.
fn verify_signature(secret: &str, header: &str, body: &str) {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.to_owned()),
            Some(("v1", value)) => v1 = Some(value.to_owned()),
            _ => {}
        }
    }
    let (t, v1) = (t.expect("a timestamp"), v1.expect("a v1 signature"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let t_secs: u64 = t.parse().unwrap();
    assert!(now.abs_diff(t_secs) < 300, "stale timestamp {t}");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, expected, "a bad signature on {body}");
}

/// Waits until the endpoint holds an event of `kind`; answers every
/// delivery of it (a retried event comes again with its id).
fn wait_for_event(received: &Received, kind: &str) -> Vec<(String, Value)> {
    let deadline = Instant::now() + Duration::from_secs(WAIT_SECS);
    loop {
        let got: Vec<(String, Value)> = received
            .lock()
            .unwrap()
            .iter()
            .map(|(sig, body)| (sig.clone(), json_body(body)))
            .filter(|(_, body)| body["type"] == kind)
            .collect();
        if !got.is_empty() {
            return got;
        }
        assert!(Instant::now() < deadline, "no {kind} webhook arrived");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Chat<'a> {
    server: &'a Server,
}

impl Chat<'_> {
    /// Sends and returns the texts delivered to `from` in their DM.
    fn say(&self, from: &str, text: &str) -> Vec<String> {
        let body = json!({ "from": from, "chat": "dm", "text": text });
        let (status, text) = http_post(
            self.server.addr,
            "/mock/messages",
            Some("application/json"),
            &body.to_string(),
        );
        assert_eq!(status, 200, "{text}");
        json_body(&text)["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|d| d["text"].as_str().map(str::to_owned))
            .collect()
    }

    /// Waits for a message to `user` containing `needle`.
    fn wait_for(&self, user: &str, needle: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(WAIT_SECS);
        loop {
            let (status, body) = self.server.get(&format!("/mock/users/{user}/messages"));
            assert_eq!(status, 200, "{body}");
            let found = json_body(&body)["messages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["text"].as_str().is_some_and(|t| t.contains(needle)))
                .cloned();
            if let Some(message) = found {
                return message;
            }
            assert!(
                Instant::now() < deadline,
                "{user} never got {needle:?}: {body}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The biller's API.
struct Biller<'a> {
    server: &'a Server,
    token: String,
}

impl Biller<'_> {
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let auth = format!("Bearer {}", self.token);
        let body = body.map(Value::to_string).unwrap_or_default();
        let (status, text) = http_call(
            self.server.addr,
            method,
            &format!("/api/v1/billers/me/invoices{path}"),
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            &body,
        );
        (status, json_body(&text))
    }

    fn send(&self, reference: &str, amount: i64, due_in_secs: u64) -> (u16, Value) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let invoice = json!({
            "reference": reference,
            "platform": "mock",
            "user_id": "alice",
            "amount": amount,
            "currency": "USD",
            // Whole minutes, so a resend within the test has the same due date.
            "due_at": (now + due_in_secs) / 60 * 60 + 60,
            "description": "Electricity, November",
        });
        self.call("POST", "", Some(&invoice))
    }
}

fn register(dir: &std::path::Path, vars: &[(&str, &str)], url: &str) -> (String, String) {
    let mut cmd = paybot(dir);
    cmd.envs(vars.iter().copied());
    cmd.args([
        "admin",
        "biller-add",
        "--name",
        "City Power",
        "--handle",
        "@citypower",
        "--webhook-url",
        url,
    ]);
    let finished: Finished = run(&mut cmd);
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    let line = |prefix: &str| {
        finished
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {}", finished.stdout))
            .to_owned()
    };
    (line("token: "), line("webhook secret: "))
}

fn chat_reference(text: &str) -> String {
    text.split("/approve ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no /approve in {text}"))
        .to_owned()
}

/// The payment reference after `/cancel ` in a code DM.
fn payment_reference(text: &str) -> String {
    text.split("/cancel ")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect()
        })
        .unwrap_or_else(|| panic!("no /cancel in {text}"))
}

#[test]
fn a_biller_invoices_a_chat_user_who_pays_and_the_signed_webhook_is_retried_until_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    the_biller_flow(dir.path(), &[]);
}

#[tokio::test]
async fn postgres_a_biller_invoices_a_chat_user_who_pays_declines_or_lets_it_expire() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    the_biller_flow(dir.path(), &[("PAYBOT_DATABASE__URL", db.url.as_str())]);
}

/// How long before an autopaid invoice's run its payer is told, in
/// seconds (`scheduled.notice_before_secs` of the server under test).
const AUTOPAY_NOTICE_SECS: u64 = 4;
/// How long after it is sent the autopaid invoice is paid, in seconds.
const AUTOPAY_IN_SECS: u64 = 8;

/// Invoice, pay (the webhook retried after a 500), decline, cancel,
/// expire, autopay within and above its cap: on the database `vars` name.
fn the_biller_flow(dir: &std::path::Path, vars: &[(&str, &str)]) {
    let (hook, received) = webhook_endpoint();
    // Runs at 23:59 on the payer's clock (UTC): an invoice's run is then
    // at the last moment that leaves room for every retry before its due
    // instant, which the autopay part below sets a few seconds ahead.
    let notice = AUTOPAY_NOTICE_SECS.to_string();
    let mut serve_vars = vars.to_vec();
    serve_vars.extend([
        ("PAYBOT_SCHEDULED__RUN_AT", "23:59"),
        ("PAYBOT_SCHEDULED__NOTICE_BEFORE_SECS", notice.as_str()),
    ]);
    let server = Server::start(&mut serve(dir, &serve_vars));
    let chat = Chat { server: &server };
    chat.say("alice", "/start");
    let (token, secret) = register(dir, vars, &format!("http://{hook}/hook"));
    let biller = Biller {
        server: &server,
        token,
    };

    // No one speaks as the biller in the mock chat: its id is reserved.
    let body = json!({ "from": "biller.citypower", "chat": "dm", "text": "/pay @alice 5" });
    let (status, refused) = http_post(
        server.addr,
        "/mock/messages",
        Some("application/json"),
        &body.to_string(),
    );
    assert_eq!(status, 422, "{refused}");
    assert!(refused.contains("reserved_user"), "{refused}");

    // No token, a wrong one: refused.
    let wrong = Biller {
        server: &server,
        token: "pbb_wrong".to_owned(),
    };
    assert_eq!(wrong.call("GET", "/INV-1", None).0, 401);

    let (status, sent) = biller.send("INV-1", 4250, 3_600);
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["state"], "open");
    // The same reference and fields: the same invoice, nothing sent twice.
    let (status, again) = biller.send("INV-1", 4250, 3_600);
    assert_eq!((status, &again), (200, &sent));
    // Other fields: refused.
    let (status, conflict) = biller.send("INV-1", 9_999, 3_600);
    assert_eq!(
        (status, conflict["error"]["code"].as_str()),
        (409, Some("invoice_exists_with_different_fields")),
        "{conflict}"
    );

    // Alice gets it privately; the text names the commands (the mock chat
    // shows no buttons).
    let invoice = chat.wait_for("alice", "Invoice from @citypower: $42.50");
    assert!(
        invoice["text"].as_str().unwrap().contains(" UTC"),
        "{invoice}"
    );
    let reference = chat_reference(invoice["text"].as_str().unwrap());
    assert_eq!(sent["chat_reference"], reference.as_str());

    // She pays it like any payment: a code by DM, then /confirm.
    let asked = chat.say("alice", &format!("/approve {reference}"));
    let code: String = asked
        .iter()
        .find_map(|t| t.split("/confirm ").nth(1))
        .unwrap_or_else(|| panic!("no code in {asked:?}"))
        .chars()
        .take(6)
        .collect();
    chat.say("alice", &format!("/confirm {code}"));

    // The webhook: refused once with 500, delivered again, both signed,
    // one event id.
    let deadline = Instant::now() + Duration::from_secs(WAIT_SECS);
    let paid = loop {
        let paid = wait_for_event(&received, "invoice.paid");
        if paid.len() >= 2 || Instant::now() > deadline {
            break paid;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(paid.len(), 2, "{paid:?}");
    for (signature, body) in &paid {
        verify_signature(&secret, signature, &body.to_string());
        assert_eq!(body["data"]["invoice"]["reference"], "INV-1");
        assert_eq!(body["data"]["invoice"]["state"], "paid");
        assert_eq!(body["data"]["invoice"]["amount"], 4250);
    }
    assert_eq!(paid[0].1["id"], paid[1].1["id"]);
    let (status, now) = biller.call("GET", "/INV-1", None);
    assert_eq!(
        (status, now["state"].as_str()),
        (200, Some("paid")),
        "{now}"
    );
    // Paid is final: it cannot be cancelled.
    let (status, refused) = biller.call("POST", "/INV-1/cancel", None);
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("invoice_not_open")),
        "{refused}"
    );

    // Declined in the chat.
    let (status, _) = biller.send("INV-2", 1_000, 3_600);
    assert_eq!(status, 201);
    let second = chat.wait_for("alice", "$10.00 for Electricity");
    let reference = chat_reference(second["text"].as_str().unwrap());
    // `/bills` lists it, with the commands that pay or decline it.
    let bills = chat.say("alice", "/bills").join("\n");
    assert!(
        bills.contains(&format!("/approve {reference} or /decline {reference}"))
            && bills.contains("$10.00 for Electricity, November from @citypower"),
        "{bills}"
    );
    chat.say("alice", &format!("/decline {reference}"));
    let declined = wait_for_event(&received, "invoice.declined");
    verify_signature(&secret, &declined[0].0, &declined[0].1.to_string());
    assert_eq!(biller.call("GET", "/INV-2", None).1["state"], "declined");

    // Cancelled by the biller: the user can no longer pay it.
    let (status, _) = biller.send("INV-3", 2_000, 3_600);
    assert_eq!(status, 201);
    let third = chat.wait_for("alice", "$20.00 for Electricity");
    let reference = chat_reference(third["text"].as_str().unwrap());
    let (status, cancelled) = biller.call("POST", "/INV-3/cancel", None);
    assert_eq!(
        (status, cancelled["state"].as_str()),
        (200, Some("cancelled"))
    );
    wait_for_event(&received, "invoice.cancelled");
    let late = chat.say("alice", &format!("/approve {reference}"));
    assert!(
        late.iter().all(|t| !t.contains("/confirm")),
        "a cancelled invoice was payable: {late:?}"
    );

    // Expired: due in two seconds, never paid; the user can no longer pay.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let soon = json!({
        "reference": "INV-4", "platform": "mock", "handle": "@alice", "amount": 500,
        "currency": "USD", "due_at": now + 2, "description": "Late fee",
    });
    let (status, _) = biller.call("POST", "", Some(&soon));
    assert_eq!(status, 201);
    let fourth = chat.wait_for("alice", "$5.00 for Late fee");
    let reference = chat_reference(fourth["text"].as_str().unwrap());
    let expired = wait_for_event(&received, "invoice.expired");
    assert_eq!(expired[0].1["data"]["invoice"]["reference"], "INV-4");
    assert_eq!(biller.call("GET", "/INV-4", None).1["state"], "expired");
    let late = chat.say("alice", &format!("/approve {reference}"));
    assert!(
        late.iter().all(|t| !t.contains("/confirm")),
        "an expired invoice was payable: {late:?}"
    );

    // Tapped Pay, then the payment was cancelled: nothing moved, so the
    // biller can still cancel it, and the user can no longer pay it.
    let (status, _) = biller.send("INV-5", 3_000, 3_600);
    assert_eq!(status, 201);
    let fifth = chat.wait_for("alice", "$30.00 for Electricity");
    let reference = chat_reference(fifth["text"].as_str().unwrap());
    let asked = chat
        .say("alice", &format!("/approve {reference}"))
        .join("\n");
    let payment = payment_reference(&asked);
    chat.say("alice", &format!("/cancel {payment}"));
    let (status, cancelled) = biller.call("POST", "/INV-5/cancel", None);
    assert_eq!(
        (status, cancelled["state"].as_str()),
        (200, Some("cancelled")),
        "{cancelled}"
    );
    let late = chat.say("alice", &format!("/approve {reference}"));
    assert!(
        late.iter().all(|t| !t.contains("/confirm")),
        "a cancelled invoice was payable: {late:?}"
    );

    // The same, left to expire: it expires.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let soon = json!({
        "reference": "INV-6", "platform": "mock", "handle": "@alice", "amount": 600,
        "currency": "USD", "due_at": now + 3, "description": "Water",
    });
    let (status, _) = biller.call("POST", "", Some(&soon));
    assert_eq!(status, 201);
    let sixth = chat.wait_for("alice", "$6.00 for Water");
    let reference = chat_reference(sixth["text"].as_str().unwrap());
    let asked = chat
        .say("alice", &format!("/approve {reference}"))
        .join("\n");
    chat.say("alice", &format!("/cancel {}", payment_reference(&asked)));
    let deadline = Instant::now() + Duration::from_secs(WAIT_SECS);
    while biller.call("GET", "/INV-6", None).1["state"] != "expired" {
        assert!(Instant::now() < deadline, "INV-6 never expired");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Its event follows the state change (delivered in the same round,
    // just after): waited for, not assumed there.
    let deadline = Instant::now() + Duration::from_secs(WAIT_SECS);
    loop {
        let expired = wait_for_event(&received, "invoice.expired");
        if expired
            .iter()
            .any(|(_, body)| body["data"]["invoice"]["reference"] == "INV-6")
        {
            break;
        }
        assert!(Instant::now() < deadline, "no INV-6 event: {expired:?}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // An unknown invoice.
    let (status, missing) = biller.call("GET", "/INV-404", None);
    assert_eq!(
        (status, missing["error"]["code"].as_str()),
        (404, Some("invoice_not_found"))
    );

    autopay_within_and_above_the_cap(&chat, &biller, &received, &secret);
}

/// Alice turns autopay on for the biller up to $20 a month: an invoice
/// within the cap is paid by itself on its run after a notice (its signed
/// `invoice.paid` webhook arrives); one above the cap waits for her, open,
/// and she is told why.
fn autopay_within_and_above_the_cap(
    chat: &Chat<'_>,
    biller: &Biller<'_>,
    received: &Received,
    secret: &str,
) {
    let asked = chat.say("alice", "/autopay @citypower up to 20").join("\n");
    let code: String = asked
        .split("/confirm ")
        .nth(1)
        .unwrap_or_else(|| panic!("no code in {asked}"))
        .chars()
        .take(6)
        .collect();
    let on = chat.say("alice", &format!("/confirm {code}")).join("\n");
    assert!(on.contains("is on") && on.contains("$20.00"), "{on}");

    // Its run is AUTOPAY_IN_SECS from now: the latest moment that leaves
    // room for every retry before the due instant.
    let lead_secs = u64::try_from(bot::service::AUTOPAY_LEAD_MS / 1_000).unwrap();
    let invoice = |reference: &str, amount: i64| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let body = json!({
            "reference": reference, "platform": "mock", "user_id": "alice",
            "amount": amount, "currency": "USD",
            "due_at": now + lead_secs + AUTOPAY_IN_SECS,
            "description": "Gas",
        });
        let (status, sent) = biller.call("POST", "", Some(&body));
        assert_eq!(status, 201, "{sent}");
    };

    invoice("INV-7", 1_500);
    let seventh = chat.wait_for("alice", "$15.00 for Gas");
    let text = seventh["text"].as_str().unwrap();
    assert!(text.contains("Autopay is on for these"), "{text}");
    let reference = chat_reference(text);
    // Told ahead, then paid: in that order, each once.
    chat.wait_for("alice", &format!("Autopay paid {reference}: $15.00"));
    let (_, body) = chat.server.get("/mock/users/alice/messages");
    let texts: Vec<String> = json_body(&body)["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str().map(str::to_owned))
        .collect();
    let ahead: Vec<usize> = (0..texts.len())
        .filter(|&i| texts[i].contains(&format!("I'll pay invoice {reference} from @citypower")))
        .collect();
    let paid: Vec<usize> = (0..texts.len())
        .filter(|&i| texts[i].contains(&format!("Autopay paid {reference}")))
        .collect();
    assert_eq!((ahead.len(), paid.len()), (1, 1), "{texts:#?}");
    assert!(ahead[0] < paid[0], "{texts:#?}");
    // The biller hears of it by its signed webhook.
    let deadline = Instant::now() + Duration::from_secs(WAIT_SECS);
    let event = loop {
        let paid = wait_for_event(received, "invoice.paid");
        if let Some(event) = paid
            .into_iter()
            .find(|(_, body)| body["data"]["invoice"]["reference"] == "INV-7")
        {
            break event;
        }
        assert!(Instant::now() < deadline, "no invoice.paid for INV-7");
        std::thread::sleep(Duration::from_millis(50));
    };
    verify_signature(secret, &event.0, &event.1.to_string());
    assert_eq!(event.1["data"]["invoice"]["amount"], 1_500);
    assert_eq!(biller.call("GET", "/INV-7", None).1["state"], "paid");

    // Above the cap: left for her, open, and she is told why.
    invoice("INV-8", 3_000);
    let eighth = chat.wait_for("alice", "$30.00 for Gas");
    let reference = chat_reference(eighth["text"].as_str().unwrap());
    chat.wait_for(
        "alice",
        &format!("Invoice {reference} ($30.00) is above your autopay cap of $20.00"),
    );
    // Past its run: still open, never paid.
    std::thread::sleep(Duration::from_secs(AUTOPAY_IN_SECS));
    assert_eq!(biller.call("GET", "/INV-8", None).1["state"], "open");
    let bills = chat.say("alice", "/bills").join("\n");
    assert!(bills.contains(&format!("/approve {reference}")), "{bills}");
    let paid = received.lock().unwrap().clone();
    assert!(
        paid.iter()
            .all(|(_, body)| json_body(body)["data"]["invoice"]["reference"] != "INV-8"),
        "{paid:?}"
    );
}

/// `paybot dev-biller` is development only: refused on a production
/// configuration before it opens the database.
#[test]
fn the_dev_biller_is_refused_in_production() {
    let dir = tempfile::tempdir().unwrap();
    let refused = run(paybot(dir.path())
        .env(
            "PAYBOT_TELEGRAM__TOKEN",
            crate::support::fake_telegram::TOKEN,
        )
        .arg("dev-biller"));
    assert_eq!(refused.code(), Some(2), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("for development") && refused.stderr.contains("telegram.token"),
        "{}",
        refused.stderr
    );
    assert!(
        !dir.path().join("data/paybot.db").exists(),
        "a refused dev biller opened the database"
    );
}

/// The developer's biller: registered, an invoice to a mock user through
/// the running server, and the webhook of its payment received on a local
/// port and printed with its verified signature; no network beyond this
/// machine.
#[test]
fn the_dev_biller_invoices_a_mock_user_and_prints_the_verified_webhook() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&mut serve(dir.path(), &[]));
    let chat = Chat { server: &server };
    chat.say("alice", "/start");
    let mut child = paybot(dir.path())
        .args([
            "dev-biller",
            "--server",
            &format!("http://{}", server.addr),
            "--to",
            "alice",
            "--amount",
            "1250",
            "--events",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let mut wait_for = |needle: &str| -> String {
        let deadline = Instant::now() + Duration::from_secs(WAIT_SECS);
        loop {
            if let Some(line) = lines.iter().find(|l: &&String| l.contains(needle)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(_) => panic!("no {needle:?} from the dev biller: {lines:?}"),
            }
        }
    };
    let asked = wait_for("pay it in the mock chat as alice: /approve ");
    let reference = chat_reference(&asked);
    let invoice = chat.wait_for("alice", "Invoice from @devbiller: $12.50");
    assert!(invoice["text"].as_str().unwrap().contains(&reference));
    let asked = chat.say("alice", &format!("/approve {reference}"));
    let code: String = asked
        .iter()
        .find_map(|t| t.split("/confirm ").nth(1))
        .unwrap_or_else(|| panic!("no code in {asked:?}"))
        .chars()
        .take(6)
        .collect();
    chat.say("alice", &format!("/confirm {code}"));
    let received = wait_for("webhook invoice.paid");
    assert!(received.contains("state=paid"), "{received}");
    assert!(received.contains("signature ok"), "{received}");
    // It stops after the one event asked for.
    let deadline = Instant::now() + Duration::from_secs(WAIT_SECS);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the dev biller did not stop after its event");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}
