//! `paybot serve` with a Telegram token, against the fake Bot API: the
//! adapter starts from environment variables alone, polls, answers, pays;
//! webhook mode checks its secret over real HTTP; bad settings stop the
//! start with a message naming the key (and never the secret).

use std::process::Command;

use serde_json::{Value, json};
use tokio::runtime::Runtime;

use super::support::{Server, http_post_with_headers, paybot, run, serve, serve_fresh, word_after};
use crate::support::fake_telegram::{BOT_USERNAME, FakeTelegram, GROUP_ID, TOKEN, TgUser, group};

const WAIT_SECS: u64 = 30;
const SECRET: &str = "e2e-webhook-secret-abcdef0123456789";

const ALICE: TgUser = TgUser {
    id: 5_001,
    first_name: "Alice",
    username: Some("alice"),
};
const BOB: TgUser = TgUser {
    id: 5_002,
    first_name: "Bob",
    username: Some("bob"),
};

/// A user's message, queued for the next poll; waits until it was handled.
pub(crate) fn say(rt: &Runtime, fake: &FakeTelegram, from: &TgUser, chat: Value, text: &str) {
    fake.push(fake.message(from, chat, text, json!({})));
    rt.block_on(fake.wait_drained(WAIT_SECS));
}

/// `paybot serve` in `dir` with the Telegram token, polling `fake`.
pub(crate) fn serve_with_telegram(dir: &std::path::Path, fake: &FakeTelegram) -> Command {
    let mut cmd = paybot(dir);
    cmd.env("PAYBOT_TELEGRAM__TOKEN", TOKEN)
        .env("PAYBOT_TELEGRAM__API_URL", &fake.url)
        .arg("serve");
    cmd
}

#[test]
fn serve_polls_telegram_and_a_group_payment_completes() {
    let rt = Runtime::new().unwrap();
    let fake = rt.block_on(FakeTelegram::start());
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        serve_with_telegram(dir.path(), &fake)
            .env("PAYBOT_DEPLOYMENT__ALLOW_IN_PRODUCTION", "card_simulator"),
    );
    assert_eq!(fake.calls("getme").len(), 1);
    assert_eq!(fake.calls("setmycommands").len(), 1);

    say(&rt, &fake, &ALICE, ALICE.dm(), "/start");
    say(&rt, &fake, &BOB, BOB.dm(), "/start");
    rt.block_on(fake.wait_for(BOB.id, "Welcome to paybot", WAIT_SECS));
    // Money for Alice: a top-up from a test card, on a staging server that
    // allows the card simulator (the mock chat's play money can never
    // reach a Telegram wallet).
    say(
        &rt,
        &fake,
        &ALICE,
        ALICE.dm(),
        "/card add 4111 1111 1111 1111 12/30",
    );
    let prompt = rt.block_on(fake.wait_for(ALICE.id, "To link Visa", WAIT_SECS));
    let code = word_after(prompt.text(), "/confirm ");
    say(&rt, &fake, &ALICE, ALICE.dm(), &format!("/confirm {code}"));
    say(&rt, &fake, &ALICE, ALICE.dm(), "/topup 100");
    let prompt = rt.block_on(fake.wait_for(ALICE.id, "To add $100.00", WAIT_SECS));
    let code = word_after(prompt.text(), "/confirm ");
    say(&rt, &fake, &ALICE, ALICE.dm(), &format!("/confirm {code}"));
    rt.block_on(fake.wait_for(ALICE.id, "Done: added $100.00", WAIT_SECS));

    say(
        &rt,
        &fake,
        &ALICE,
        group(),
        &format!("/pay@{BOT_USERNAME} @bob 12.50 for tickets"),
    );
    let prompt = rt.block_on(fake.wait_for(ALICE.id, "To pay @bob $12.50", WAIT_SECS));
    let code = word_after(prompt.text(), "/confirm ");
    say(&rt, &fake, &ALICE, ALICE.dm(), &format!("/confirm {code}"));
    rt.block_on(fake.wait_for(BOB.id, "@alice paid you $12.50", WAIT_SECS));
    rt.block_on(fake.wait_for(GROUP_ID, "is confirmed", WAIT_SECS));
    for call in fake.sent_to(GROUP_ID) {
        assert!(!call.text().contains(&code), "the code in the group");
    }
    say(&rt, &fake, &ALICE, ALICE.dm(), "/balance");
    rt.block_on(fake.wait_for(ALICE.id, "Your balance: $87.50 available", WAIT_SECS));

    server.signal("TERM");
    let (status, log) = server.wait_for_exit();
    assert!(status.success(), "{log}");
    assert!(log.contains("telegram polling stopped"), "{log}");
    assert!(!log.contains(TOKEN), "the token was logged");
    let verified = run(paybot(dir.path()).arg("verify"));
    assert_eq!(verified.code(), Some(0), "{}", verified.stdout);
}

#[test]
fn serve_in_webhook_mode_checks_the_secret() {
    let rt = Runtime::new().unwrap();
    let fake = rt.block_on(FakeTelegram::start());
    let (_dir, server) = serve_fresh(&[
        ("PAYBOT_TELEGRAM__TOKEN", TOKEN),
        ("PAYBOT_TELEGRAM__API_URL", &fake.url),
        ("PAYBOT_TELEGRAM__MODE", "webhook"),
        (
            "PAYBOT_TELEGRAM__WEBHOOK_URL",
            "https://pay.example/telegram/webhook",
        ),
        ("PAYBOT_TELEGRAM__WEBHOOK_SECRET", SECRET),
    ]);
    let set = fake.calls("setwebhook");
    assert_eq!(set.len(), 1);
    assert_eq!(set[0].params["secret_token"], SECRET);
    assert!(
        fake.calls("getupdates").is_empty(),
        "polled in webhook mode"
    );

    let update = fake
        .message(&ALICE, ALICE.dm(), "/start", json!({}))
        .to_string();
    let post = |secret: Option<&str>| {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(secret) = secret {
            headers.push(("X-Telegram-Bot-Api-Secret-Token", secret));
        }
        http_post_with_headers(server.addr, "/telegram/webhook", &headers, &update).0
    };
    assert_eq!(post(None), 401);
    assert_eq!(post(Some("e2e-webhook-secret-abcdef012345678X")), 401);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        fake.calls("sendmessage").is_empty(),
        "answered a forged update"
    );
    assert_eq!(post(Some(SECRET)), 200);
    rt.block_on(fake.wait_for(ALICE.id, "Welcome to paybot", WAIT_SECS));
    // Posted again (Telegram retries when unsure): answered once.
    assert_eq!(post(Some(SECRET)), 200);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(fake.sent_to(ALICE.id).len(), 1);

    server.signal("TERM");
    let (status, log) = server.wait_for_exit();
    assert!(status.success(), "{log}");
    assert!(!log.contains(SECRET), "the webhook secret was logged");
}

#[test]
fn bad_telegram_settings_stop_the_start_and_name_the_key() {
    let rt = Runtime::new().unwrap();
    let fake = rt.block_on(FakeTelegram::start());
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("PAYBOT_TELEGRAM__TOKEN", "not-a-token-secret-value")],
            "setting `telegram.token`",
        ),
        (
            &[
                ("PAYBOT_TELEGRAM__TOKEN", TOKEN),
                ("PAYBOT_TELEGRAM__API_URL", "telegram.example"),
            ],
            "setting `telegram.api_url`",
        ),
        (
            &[
                ("PAYBOT_TELEGRAM__TOKEN", TOKEN),
                ("PAYBOT_TELEGRAM__MODE", "webhook"),
            ],
            "setting `telegram.webhook_url`",
        ),
        (
            &[
                ("PAYBOT_TELEGRAM__TOKEN", TOKEN),
                ("PAYBOT_TELEGRAM__MODE", "webhook"),
                (
                    "PAYBOT_TELEGRAM__WEBHOOK_URL",
                    "https://pay.example/telegram/webhook",
                ),
                ("PAYBOT_TELEGRAM__WEBHOOK_SECRET", "short"),
            ],
            "setting `telegram.webhook_secret`",
        ),
        (
            &[
                ("PAYBOT_TELEGRAM__TOKEN", TOKEN),
                ("PAYBOT_TELEGRAM__MODE", "push"),
            ],
            "setting `telegram.mode`",
        ),
    ];
    for (env, expected) in cases {
        let mut cmd = paybot(dir.path());
        for (name, value) in env {
            cmd.env(name, value);
        }
        let finished = run(cmd.arg("serve"));
        assert_eq!(finished.code(), Some(2), "{env:?}: {}", finished.stderr);
        assert!(
            finished.stderr.contains(expected),
            "{env:?}: {}",
            finished.stderr
        );
        assert!(!finished.stderr.contains("not-a-token-secret-value"));
        assert!(!finished.stderr.contains(TOKEN));
    }
    // Well-formed, but not this bot's token: Telegram (the fake) refuses it.
    let wrong = "4242:AAEsomeOtherTokenThatIsWrong_0000000";
    let finished = run(&mut serve(
        dir.path(),
        &[
            ("PAYBOT_TELEGRAM__TOKEN", wrong),
            ("PAYBOT_TELEGRAM__API_URL", &fake.url),
        ],
    ));
    assert_ne!(finished.code(), Some(0));
    assert!(
        finished.stderr.contains("Telegram refused the bot token"),
        "{}",
        finished.stderr
    );
    assert!(!finished.stderr.contains(wrong));
}
