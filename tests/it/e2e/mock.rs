//! The mock chat over HTTP on `paybot serve`, driven only as a new user
//! would drive it, and `paybot chat` in a terminal.

use std::io::Write;
use std::process::Stdio;

use serde_json::{Value, json};

use super::support::{Server, http_post, paybot, run, serve, serve_fresh};

struct Chat<'a> {
    server: &'a Server,
}

impl Chat<'_> {
    fn post(&self, body: &Value) -> (u16, Value) {
        let (status, text) = http_post(
            self.server.addr,
            "/mock/messages",
            Some("application/json"),
            &body.to_string(),
        );
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {status} {text:?}"));
        (status, value)
    }

    /// Sends and returns the deliveries as (to, chat, text).
    fn say(&self, from: &str, chat: &str, text: &str) -> Vec<(String, String, String)> {
        self.say_with(json!({ "from": from, "chat": chat, "text": text }))
    }

    fn say_with(&self, body: Value) -> Vec<(String, String, String)> {
        let (status, value) = self.post(&body);
        assert_eq!(status, 200, "{value}");
        value["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["to"].as_str().unwrap().to_owned(),
                    d["chat"].as_str().unwrap().to_owned(),
                    d["text"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    fn inbox(&self, user: &str) -> Vec<Value> {
        let (status, body) = self.server.get(&format!("/mock/users/{user}/messages"));
        assert_eq!(status, 200, "{body}");
        let value: Value = serde_json::from_str(&body).unwrap();
        value["messages"].as_array().unwrap().clone()
    }
}

fn code_in(deliveries: &[(String, String, String)]) -> String {
    deliveries
        .iter()
        .find_map(|(_, chat, text)| {
            let rest = text.split("/confirm ").nth(1)?;
            (chat == "dm").then(|| rest.chars().take(6).collect::<String>())
        })
        .unwrap_or_else(|| panic!("no code in {deliveries:?}"))
}

#[test]
fn a_payment_through_the_http_mock_chat_end_to_end() {
    let (dir, server) = serve_fresh(&[]);
    let chat = Chat { server: &server };

    chat.say("alice", "dm", "/start");
    chat.say("bob", "party", "/start");
    let paying = chat.say("alice", "party", "/pay @bob 20 for pizza");
    let code = code_in(&paying);
    assert!(
        paying
            .iter()
            .any(|(to, c, t)| to == "bob" && c == "party" && t.contains("sent you a DM")),
        "bob, in the group, sees that a payment is under way: {paying:?}"
    );
    for (_, c, text) in &paying {
        if c != "dm" {
            assert!(!text.contains(&code), "a code in the group: {text}");
        }
    }

    let confirm =
        json!({ "from": "alice", "chat": "dm", "text": format!("/confirm {code}"), "id": "c-1" });
    let first = chat.say_with(confirm.clone());
    assert!(
        first
            .iter()
            .any(|(to, c, t)| to == "bob" && c == "dm" && t.contains("@alice paid you $20.00")),
        "the payee's notification is part of the answer: {first:?}"
    );
    let bob_before = chat.inbox("bob").len();
    // The same event again: the same answer, nothing new for anyone.
    assert_eq!(chat.say_with(confirm), first);
    assert_eq!(chat.inbox("bob").len(), bob_before);

    let balance = chat.say("bob", "dm", "/balance");
    assert!(balance[0].2.contains("$120.00"), "{balance:?}");
    let inbox = chat.inbox("bob");
    assert!(
        inbox.first().unwrap()["text"]
            .as_str()
            .unwrap()
            .contains("sent you a DM"),
        "oldest first: {inbox:?}"
    );
    assert!(
        inbox.last().unwrap()["text"]
            .as_str()
            .unwrap()
            .contains("$120.00")
    );

    server.signal("TERM");
    let (status, log) = server.wait_for_exit();
    assert!(status.success(), "{log}");
    assert!(!log.contains(&code), "the code is in the log");
    let verified = run(paybot(dir.path()).arg("verify"));
    assert_eq!(verified.code(), Some(0), "{}", verified.stderr);
}

#[test]
fn an_event_id_is_the_senders_own() {
    let (_dir, server) = serve_fresh(&[]);
    let chat = Chat { server: &server };

    chat.say("bob", "dm", "/start");
    chat.say("alice", "dm", "/start");
    let paying =
        chat.say_with(json!({ "from": "alice", "chat": "dm", "text": "/pay @bob 5", "id": "e-1" }));
    let code = code_in(&paying);

    // Mallory sends her own message under alice's event id.
    let stolen =
        chat.say_with(json!({ "from": "mallory", "chat": "dm", "text": "/start", "id": "e-1" }));
    for (to, _, text) in &stolen {
        assert_eq!(to, "mallory", "{stolen:?}");
        assert!(
            !text.contains(&code),
            "alice's code reached mallory: {text}"
        );
    }
    assert!(
        stolen.iter().any(|(_, _, t)| t.contains("play money")),
        "mallory's own /start was handled: {stolen:?}"
    );
    for message in chat.inbox("mallory") {
        assert!(!message["text"].as_str().unwrap().contains(&code));
    }

    // Alice's redelivery answers again without the live code.
    let again =
        chat.say_with(json!({ "from": "alice", "chat": "dm", "text": "/pay @bob 5", "id": "e-1" }));
    assert!(!again.is_empty());
    for (_, _, text) in &again {
        assert!(
            !text.contains(&code),
            "a redelivery answered the code: {text}"
        );
    }
    server.signal("TERM");
    let (status, log) = server.wait_for_exit();
    assert!(status.success(), "{log}");
}

#[test]
fn bad_mock_requests_get_a_4xx_with_a_json_error() {
    let (_dir, server) = serve_fresh(&[]);
    let chat = Chat { server: &server };
    let cases = [
        (json!({ "from": "alice", "chat": "dm" }), "bad_fields"),
        (
            json!({ "from": "alice", "chat": "dm:bob", "text": "hi" }),
            "bad_chat",
        ),
        (
            json!({ "from": "alice", "chat": "a party", "text": "hi" }),
            "bad_chat",
        ),
        (
            json!({ "from": "al ice", "chat": "dm", "text": "hi" }),
            "bad_user",
        ),
        (
            json!({ "from": "paybot", "chat": "dm", "text": "hi" }),
            "bot_user",
        ),
        (
            json!({ "from": "alice", "chat": "dm", "text": "x".repeat(5_000) }),
            "bad_text",
        ),
        (
            json!({ "from": "alice", "chat": "dm", "text": "" }),
            "bad_text",
        ),
        (
            json!({ "from": "alice", "chat": "dm", "text": "hi", "id": "a b" }),
            "bad_id",
        ),
        (
            json!({ "from": "alice", "chat": "dm", "text": "hi", "extra": 1 }),
            "bad_fields",
        ),
        (
            json!({ "from": 5, "chat": "dm", "text": "hi" }),
            "bad_fields",
        ),
    ];
    for (body, code) in cases {
        let (status, value) = chat.post(&body);
        assert!((400..500).contains(&status), "{body} -> {status} {value}");
        assert_eq!(value["error"]["code"], code, "{body} -> {value}");
        assert!(
            value["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let (status, text) = http_post(
        server.addr,
        "/mock/messages",
        Some("application/json"),
        "{not json",
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("bad_json"), "{text}");
    let (status, text) = http_post(server.addr, "/mock/messages", None, "{}");
    assert_eq!(status, 415, "{text}");
    assert!(text.contains("not_json"), "{text}");
    let (status, text) = server.get("/mock/users/no%20one/messages");
    assert_eq!(status, 404, "{text}");
    assert!(text.contains("bad_user"), "{text}");
    // Nothing above changed anything: a newcomer starts from scratch.
    assert!(chat.inbox("alice").is_empty());
    assert!(!server.stderr().contains("panicked"));
}

#[test]
fn the_mock_chat_can_be_turned_off() {
    let (_dir, server) = serve_fresh(&[("PAYBOT_MOCK__ENABLED", "false")]);
    let (status, _) = http_post(
        server.addr,
        "/mock/messages",
        Some("application/json"),
        &json!({ "from": "alice", "chat": "dm", "text": "/start" }).to_string(),
    );
    assert_eq!(status, 404);
}

#[test]
fn the_otp_pepper_is_generated_once_owner_only_and_checked() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, server) = serve_fresh(&[]);
    drop(server);
    let file = dir.path().join("data/otp_pepper");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let pepper = std::fs::read_to_string(&file).unwrap();
    assert_eq!(pepper.len(), 64);
    // Reused, not regenerated.
    drop(Server::start(&mut serve(dir.path(), &[])));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), pepper);
    // Readable by others: refused, clearly.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = run(&mut serve(dir.path(), &[]));
    assert_eq!(refused.code(), Some(2));
    assert!(refused.stderr.contains("otp_pepper"), "{}", refused.stderr);
    assert!(refused.stderr.contains("chmod 600"), "{}", refused.stderr);
    // A pepper from the environment that is too short: refused at load.
    let short = run(&mut serve(dir.path(), &[("PAYBOT_OTP__PEPPER", "short")]));
    assert_eq!(short.code(), Some(2));
    assert!(short.stderr.contains("otp.pepper"), "{}", short.stderr);
    assert!(
        !short.stderr.contains("short\""),
        "the secret is echoed: {}",
        short.stderr
    );
}

#[test]
fn paybot_chat_is_a_terminal_mock_chat() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = paybot(dir.path())
        .arg("chat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(
            b":as bob\n/start\n:as alice\n/start\n:in party\n/pay @bob 5 for tea\n:dm\n:inbox bob\n:bogus\n:quit\n",
        )
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("[bob, dm] Welcome to paybot, @bob!"),
        "{stdout}"
    );
    assert!(stdout.contains("alice@party> "), "{stdout}");
    assert!(
        stdout.contains(
            "[alice, party] @alice, I sent you a DM with a code to confirm paying @bob $5.00."
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("[alice, dm] To pay @bob $5.00 for “tea”, send me: /confirm "),
        "{stdout}"
    );
    assert!(stdout.contains("unknown command :bogus"), "{stdout}");
}
