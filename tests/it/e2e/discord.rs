//! `paybot serve` with Discord settings, against the fake Discord: the
//! adapter starts from environment variables alone (a key generated here,
//! outside the project, as the application's), answers interactions
//! signed with it over real HTTP and refuses forged, altered and stale
//! ones; gateway mode; bad settings stop the start naming the key.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::runtime::Runtime;

use super::support::{Server, http_post, http_post_with_headers, paybot, run, serve, word_after};
use crate::support::fake_discord::{
    APPLICATION_ID, CHANNEL_ID, DcUser, FakeDiscord, GUILD_ID, Place, STRING, SigningKey, TOKEN,
    USER,
};

const WAIT_SECS: u64 = 10;

const ALICE: DcUser = DcUser {
    id: 1_000_000_000_000_000_101,
    username: "alice",
    global_name: Some("Alice"),
};
const BOB: DcUser = DcUser {
    id: 1_000_000_000_000_000_102,
    username: "bob",
    global_name: None,
};

fn discord_env<'a>(fake: &'a FakeDiscord, key_hex: &'a str) -> Vec<(&'static str, String)> {
    vec![
        ("PAYBOT_DISCORD__TOKEN", TOKEN.to_owned()),
        ("PAYBOT_DISCORD__APPLICATION_ID", APPLICATION_ID.to_string()),
        ("PAYBOT_DISCORD__PUBLIC_KEY", key_hex.to_owned()),
        ("PAYBOT_DISCORD__API_URL", fake.url.clone()),
        ("PAYBOT_DISCORD__GUILD_ID", GUILD_ID.to_string()),
    ]
}

/// Posts `body` with a signature made by `key` at `timestamp`.
fn post_signed(server: &Server, key: &SigningKey, timestamp: &str, body: &str) -> (u16, String) {
    let signature = key.sign(timestamp, body.as_bytes());
    http_post_with_headers(
        server.addr,
        "/discord/interactions",
        &[
            ("Content-Type", "application/json"),
            ("X-Signature-Ed25519", &signature),
            ("X-Signature-Timestamp", timestamp),
        ],
        body,
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Discord delivers `interaction`: signed now, posted; the fake takes the
/// answer as the interaction's callback, as Discord does.
fn deliver(server: &Server, fake: &FakeDiscord, interaction: &Value) -> Value {
    let (status, body) = post_signed(
        server,
        &fake.signing_key,
        &now().to_string(),
        &interaction.to_string(),
    );
    assert_eq!(status, 200, "{body}");
    let response: Value = serde_json::from_str(&body).unwrap();
    fake.acknowledge(interaction, &response);
    response
}

fn content(response: &Value) -> String {
    response["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn serve_answers_signed_interactions_and_refuses_forged_ones() {
    let rt = Runtime::new().unwrap();
    let fake = rt.block_on(FakeDiscord::start());
    let key_hex = fake.signing_key.public_key_hex();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = paybot(dir.path());
    for (name, value) in discord_env(&fake, &key_hex) {
        cmd.env(name, value);
    }
    let server = Server::start(
        cmd.env("PAYBOT_DEPLOYMENT__ALLOW_IN_PRODUCTION", "card_simulator")
            .arg("serve"),
    );
    assert_eq!(
        fake.commands(Some(GUILD_ID)).len(),
        bot::command::CommandName::ALL.len() + 1
    );

    // Discord checks the endpoint: a PING, and a call it signed wrongly.
    let ping = fake.ping().to_string();
    let (status, pong) = post_signed(&server, &fake.signing_key, &now().to_string(), &ping);
    assert_eq!((status, pong.as_str()), (200, r#"{"type":1}"#));
    let forger = SigningKey::generate();
    assert_eq!(
        post_signed(&server, &forger, &now().to_string(), &ping).0,
        401
    );

    // Hostile copies of a real /pay: nothing happens.
    fake.add_user(&BOB);
    let pay = fake.slash_command(
        Place::Guild,
        &ALICE,
        "pay",
        &[
            ("user", USER, json!(BOB.id.to_string())),
            ("amount", STRING, json!("12.50")),
        ],
    );
    let body = pay.to_string();
    let stale = (now() - 600).to_string();
    assert_eq!(
        post_signed(&server, &fake.signing_key, &stale, &body).0,
        401
    );
    let fresh = now().to_string();
    let signature = fake.signing_key.sign(&fresh, body.as_bytes());
    let altered = body.replace("12.50", "1250");
    let (status, _) = http_post_with_headers(
        server.addr,
        "/discord/interactions",
        &[
            ("X-Signature-Ed25519", &signature),
            ("X-Signature-Timestamp", &fresh),
        ],
        &altered,
    );
    assert_eq!(status, 401);
    std::thread::sleep(Duration::from_millis(300));
    assert!(fake.calls("/webhooks").is_empty(), "answered a forged call");
    assert!(fake.calls("/channels").is_empty(), "answered a forged call");

    // Alice's money: a top-up from a test card, on a staging server that
    // allows the card simulator (the mock chat's play money can never
    // reach a Discord wallet).
    // Alice's slash command in her DM, then /confirm with the code it sent.
    let confirmed = |name: &str, option: (&str, &str)| {
        let (key, value) = option;
        let prompt = deliver(
            &server,
            &fake,
            &fake.slash_command(Place::Dm, &ALICE, name, &[(key, STRING, json!(value))]),
        );
        let code = word_after(&content(&prompt), "/confirm ");
        deliver(
            &server,
            &fake,
            &fake.slash_command(
                Place::Dm,
                &ALICE,
                "confirm",
                &[("code", STRING, json!(code))],
            ),
        )
    };
    confirmed("card", ("args", "add 4111 1111 1111 1111 12/30"));
    let done = confirmed("topup", ("amount", "100"));
    assert!(content(&done).contains("Done: added $100.00"), "{done}");
    deliver(
        &server,
        &fake,
        &fake.slash_command(Place::Dm, &BOB, "start", &[]),
    );

    let prompt = deliver(&server, &fake, &pay);
    assert_eq!(prompt["data"]["flags"], json!(64), "{prompt}");
    let code = word_after(&content(&prompt), "/confirm ");
    let done = deliver(
        &server,
        &fake,
        &fake.slash_command(
            Place::Dm,
            &ALICE,
            "confirm",
            &[("code", STRING, json!(code))],
        ),
    );
    assert!(
        content(&done).contains("Done: you paid @bob $12.50"),
        "{done}"
    );
    rt.block_on(fake.wait_for_dm(BOB.id, "@alice paid you $12.50", WAIT_SECS));
    rt.block_on(fake.wait_for_message(CHANNEL_ID, "is confirmed", WAIT_SECS));
    let balance = deliver(
        &server,
        &fake,
        &fake.slash_command(Place::Dm, &ALICE, "balance", &[]),
    );
    assert!(content(&balance).contains("$87.50 available"), "{balance}");
    for call in fake.sent_to(CHANNEL_ID) {
        assert!(!call.content().contains(&code), "the code in the channel");
    }

    server.signal("TERM");
    let (status, log) = server.wait_for_exit();
    assert!(status.success(), "{log}");
    assert!(!log.contains(TOKEN), "the token was logged");
    assert!(log.contains("discord interaction calls refused"), "{log}");
    let verified = run(paybot(dir.path()).arg("verify"));
    assert_eq!(verified.code(), Some(0), "{}", verified.stdout);
}

#[test]
fn serve_in_gateway_mode_answers_over_the_gateway() {
    let rt = Runtime::new().unwrap();
    let fake = rt.block_on(FakeDiscord::start());
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = paybot(dir.path());
    for (name, value) in discord_env(&fake, "") {
        if name != "PAYBOT_DISCORD__PUBLIC_KEY" {
            cmd.env(name, value);
        }
    }
    let server = Server::start(cmd.env("PAYBOT_DISCORD__MODE", "gateway").arg("serve"));
    let identify = rt.block_on(fake.wait_ready(WAIT_SECS));
    assert_eq!(identify["token"], json!(format!("Bot {TOKEN}")));
    let start = fake.slash_command(Place::Guild, &ALICE, "start", &[]);
    assert_eq!(fake.dispatch_interaction(&start), 1);
    let answer = rt.block_on(fake.wait_for_callback(&start, WAIT_SECS));
    assert!(
        answer.content().contains("Welcome to paybot"),
        "{:?}",
        answer.body
    );
    assert_eq!(answer.body["data"]["flags"], json!(64));
    // No interactions route in gateway mode.
    let (status, _) = http_post(
        server.addr,
        "/discord/interactions",
        Some("application/json"),
        "{}",
    );
    assert_eq!(status, 404);

    server.signal("TERM");
    let (status, log) = server.wait_for_exit();
    assert!(status.success(), "{log}");
    assert!(log.contains("discord gateway stopped"), "{log}");
}

#[test]
fn bad_discord_settings_stop_the_start_and_name_the_key() {
    let rt = Runtime::new().unwrap();
    let fake = rt.block_on(FakeDiscord::start());
    let key = fake.signing_key.public_key_hex();
    let dir = tempfile::tempdir().unwrap();
    let app = APPLICATION_ID.to_string();
    let bad_token = "not-a-discord-token-secret";
    let cases: [(&[(&str, &str)], &str); 6] = [
        (
            &[("PAYBOT_DISCORD__TOKEN", bad_token)],
            "setting `discord.token`",
        ),
        (
            &[
                ("PAYBOT_DISCORD__TOKEN", TOKEN),
                ("PAYBOT_DISCORD__PUBLIC_KEY", &key),
            ],
            "setting `discord.application_id`",
        ),
        (
            &[
                ("PAYBOT_DISCORD__TOKEN", TOKEN),
                ("PAYBOT_DISCORD__APPLICATION_ID", &app),
            ],
            "setting `discord.public_key`",
        ),
        (
            &[
                ("PAYBOT_DISCORD__TOKEN", TOKEN),
                ("PAYBOT_DISCORD__APPLICATION_ID", &app),
                ("PAYBOT_DISCORD__PUBLIC_KEY", "abcd"),
            ],
            "setting `discord.public_key`",
        ),
        (
            &[
                ("PAYBOT_DISCORD__TOKEN", TOKEN),
                ("PAYBOT_DISCORD__APPLICATION_ID", &app),
                ("PAYBOT_DISCORD__MODE", "webhook"),
            ],
            "setting `discord.mode`",
        ),
        (
            &[
                ("PAYBOT_DISCORD__TOKEN", TOKEN),
                ("PAYBOT_DISCORD__APPLICATION_ID", &app),
                ("PAYBOT_DISCORD__PUBLIC_KEY", &key),
                ("PAYBOT_DISCORD__GUILD_ID", "general"),
            ],
            "setting `discord.guild_id`",
        ),
    ];
    for (env, expected) in cases {
        let mut cmd = paybot(dir.path());
        for (name, value) in env {
            cmd.env(name, value);
        }
        let finished = run(cmd.env("PAYBOT_DISCORD__API_URL", &fake.url).arg("serve"));
        assert_eq!(finished.code(), Some(2), "{env:?}: {}", finished.stderr);
        assert!(
            finished.stderr.contains(expected),
            "{env:?}: {}",
            finished.stderr
        );
        assert!(!finished.stderr.contains(bad_token));
        assert!(!finished.stderr.contains(TOKEN));
    }
    // Well-formed, but another application's id: the token's bot is not it.
    let finished = run(&mut serve(
        dir.path(),
        &[
            ("PAYBOT_DISCORD__TOKEN", TOKEN),
            ("PAYBOT_DISCORD__APPLICATION_ID", "1100000000000000999"),
            ("PAYBOT_DISCORD__PUBLIC_KEY", &key),
            ("PAYBOT_DISCORD__API_URL", &fake.url),
        ],
    ));
    assert_ne!(finished.code(), Some(0));
    assert!(
        finished
            .stderr
            .contains("not to application 1100000000000000999"),
        "{}",
        finished.stderr
    );
    assert!(!finished.stderr.contains(TOKEN));
}
