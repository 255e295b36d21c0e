//! The fake Discord against the real serenity 0.12.5 client: REST through
//! `HttpBuilder::proxy`, the gateway through a `Client` built on that
//! `Http`, the interactions endpoint's signature check, and the interaction
//! payloads as serenity's models read them.

use crate::support::fake_discord;

use std::time::Duration;

use fake_discord::{
    APPLICATION_ID, CHANNEL_ID, DcUser, FakeDiscord, GUILD_ID, Place, STRING, SigningKey, TOKEN,
    USER, dm_channel_id,
};
use serde_json::{Value, json};
use serenity::all::{
    ApplicationId, ChannelId, Command, CommandInteraction, CommandOptionType, CommandType,
    CreateCommand, CreateCommandOption, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage, EditInteractionResponse,
    GatewayIntents, GuildId, Http, HttpBuilder, Interaction, Ready, ResolvedValue, UserId,
};
use serenity::client::{ClientBuilder, Context, EventHandler};
use serenity::http::HttpError;
use serenity::interactions_endpoint::Verifier;
use tokio::sync::mpsc;

const ALICE: DcUser = DcUser {
    id: 1_100_000_000_000_000_011,
    username: "alice",
    global_name: Some("Alice"),
};
const BOB: DcUser = DcUser {
    id: 1_100_000_000_000_000_012,
    username: "bob",
    global_name: Some("Bob"),
};

fn http(fake: &FakeDiscord) -> Http {
    HttpBuilder::new(TOKEN)
        .proxy(fake.url.as_str())
        .ratelimiter_disabled(true)
        .application_id(ApplicationId::new(APPLICATION_ID))
        .build()
}

/// The status and Discord's JSON error code of a failed request.
fn discord_error<T: std::fmt::Debug>(result: serenity::Result<T>) -> (u16, isize) {
    match result {
        Err(serenity::Error::Http(HttpError::UnsuccessfulRequest(response))) => {
            (response.status_code.as_u16(), response.error.code)
        }
        other => panic!("expected a Discord error, got {other:?}"),
    }
}

#[tokio::test]
async fn rest_through_the_proxied_http() {
    let fake = FakeDiscord::start().await;
    fake.add_user(&ALICE);
    let http = http(&fake);

    let me = http.get_current_user().await.unwrap();
    assert_eq!(me.id.get(), fake_discord::BOT_ID);
    assert!(me.bot);
    let app = http.get_current_application_info().await.unwrap();
    assert_eq!(app.id.get(), APPLICATION_ID);
    assert_eq!(app.verify_key, fake.signing_key.public_key_hex());
    assert_eq!(http.get_gateway().await.unwrap().url, fake.gateway_url);
    assert_eq!(http.get_bot_gateway().await.unwrap().shards, 1);
    let call = &fake.calls("/users/@me")[0];
    assert_eq!(
        call.authorization.as_deref(),
        Some(format!("Bot {TOKEN}").as_str())
    );

    // A DM: open the channel, then send.
    let dm = UserId::new(ALICE.id)
        .create_dm_channel(&http)
        .await
        .unwrap();
    assert_eq!(dm.id.get(), dm_channel_id(ALICE.id));
    assert_eq!(dm.recipient.name, "alice");
    let sent = dm.id.say(&http, "hello Alice").await.unwrap();
    assert_eq!(sent.content, "hello Alice");
    assert_eq!(sent.channel_id, dm.id);
    assert_eq!(fake.dms_to(ALICE.id)[0].content(), "hello Alice");
    fake.wait_for_dm(ALICE.id, "hello", 1).await;

    // Bob accepts no DMs: opening works, sending is 403 / 50007.
    fake.close_dms(BOB.id);
    let bob_dm = UserId::new(BOB.id).create_dm_channel(&http).await.unwrap();
    assert_eq!(
        discord_error(bob_dm.id.say(&http, "hi Bob").await),
        (403, 50007)
    );
    assert!(fake.dms_to(BOB.id).is_empty());
    assert_eq!(
        fake.calls("/channels/").last().unwrap().error_code(),
        Some(50007)
    );

    // A user id is no channel id.
    assert_eq!(
        discord_error(ChannelId::new(BOB.id).say(&http, "hi").await),
        (404, 10003)
    );
    // In the guild channel, a 429 scripted once, then it goes through.
    fake.fail_next(
        "POST",
        "/channels/",
        429,
        json!({"message": "You are being rate limited.", "retry_after": 0.25, "global": false}),
    );
    let channel = ChannelId::new(CHANNEL_ID);
    assert_eq!(discord_error(channel.say(&http, "pay day").await).0, 429);
    channel.say(&http, "pay day").await.unwrap();
    assert_eq!(fake.sent_to(CHANNEL_ID).len(), 1);
    // serenity checks the length itself; the raw route reaches the fake.
    let too_long = json!({"content": "x".repeat(2_001)});
    assert_eq!(
        discord_error(http.send_message(channel, vec![], &too_long).await),
        (400, 50035)
    );
    let empty = json!({"content": ""});
    assert_eq!(
        discord_error(http.send_message(channel, vec![], &empty).await),
        (400, 50006)
    );

    // A wrong token.
    let stranger = HttpBuilder::new("not-the-token")
        .proxy(fake.url.as_str())
        .ratelimiter_disabled(true)
        .build();
    assert_eq!(discord_error(stranger.get_current_user().await).0, 401);
}

#[tokio::test]
async fn commands_are_overwritten_and_echoed() {
    let fake = FakeDiscord::start().await;
    let http = http(&fake);
    let pay = CreateCommand::new("pay")
        .description("Pay someone")
        .add_option(
            CreateCommandOption::new(CommandOptionType::User, "to", "Who gets paid").required(true),
        )
        .add_option(
            CreateCommandOption::new(CommandOptionType::String, "amount", "How much")
                .required(true),
        );
    let context_menu = CreateCommand::new("Pay this user").kind(CommandType::User);
    let global = Command::set_global_commands(&http, vec![pay.clone(), context_menu])
        .await
        .unwrap();
    assert_eq!(global.len(), 2);
    assert_eq!(global[0].name, "pay");
    assert_eq!(global[0].application_id.get(), APPLICATION_ID);
    assert_eq!(global[1].kind, CommandType::User);
    assert_eq!(fake.commands(None).len(), 2);
    let body = &fake.calls("/applications/")[0].body;
    assert_eq!(body[0]["options"][0]["type"], 6);
    // Built interactions carry the registered id.
    let ix = fake.user_command(Place::Dm, &ALICE, "Pay this user", &BOB);
    assert_eq!(ix["data"]["id"], json!(global[1].id.to_string()));

    // Overwriting keeps the id of a command of the same name.
    let again = Command::set_global_commands(&http, vec![pay.clone()])
        .await
        .unwrap();
    assert_eq!(again[0].id, global[0].id);
    assert_eq!(fake.commands(None).len(), 1);

    let guild = GuildId::new(GUILD_ID)
        .set_commands(&http, vec![pay])
        .await
        .unwrap();
    assert_eq!(guild[0].guild_id, Some(GuildId::new(GUILD_ID)));
    assert_eq!(fake.commands(Some(GUILD_ID)).len(), 1);

    // Discord refuses a slash command with upper case in its name.
    let bad = CreateCommand::new("Pay").description("Pay someone");
    assert_eq!(
        discord_error(Command::set_global_commands(&http, vec![bad]).await),
        (400, 50035)
    );
    // A guild command of the same name wins.
    let ix = fake.slash_command(Place::Guild, &ALICE, "pay", &[]);
    assert_eq!(ix["data"]["id"], json!(guild[0].id.to_string()));
}

#[tokio::test]
async fn interaction_responses_over_rest() {
    let fake = FakeDiscord::start().await;
    let http = http(&fake);
    let ix = fake.slash_command(
        Place::Guild,
        &ALICE,
        "pay",
        &[("to", USER, BOB.json()), ("amount", STRING, json!("20"))],
    );
    let command: CommandInteraction = serde_json::from_value(ix.clone()).unwrap();

    // Nothing to edit or follow up before the interaction is acknowledged.
    assert_eq!(
        discord_error(
            command
                .edit_response(&http, EditInteractionResponse::new().content("early"))
                .await
        ),
        (404, 10008)
    );
    assert_eq!(
        discord_error(
            command
                .create_followup(&http, CreateInteractionResponseFollowup::new().content("x"))
                .await
        ),
        (404, 10015)
    );

    command.defer(&http).await.unwrap();
    assert_eq!(discord_error(command.defer(&http).await), (400, 40060));
    let edited = command
        .edit_response(
            &http,
            EditInteractionResponse::new().content("Paid Bob $20"),
        )
        .await
        .unwrap();
    assert_eq!(edited.content, "Paid Bob $20");
    assert_eq!(edited.channel_id.get(), CHANNEL_ID);
    let followup = command
        .create_followup(
            &http,
            CreateInteractionResponseFollowup::new()
                .content("receipt")
                .ephemeral(true),
        )
        .await
        .unwrap();
    assert_eq!(followup.content, "receipt");

    let responses = fake.responses_to(&ix);
    let ok: Vec<&str> = responses
        .iter()
        .filter(|c| c.ok())
        .map(|c| c.method.as_str())
        .collect();
    assert_eq!(ok, ["POST", "PATCH", "POST"]);
    assert_eq!(responses.iter().filter(|c| !c.ok()).count(), 3);
    let callback = fake.wait_for_callback(&ix, 1).await;
    assert_eq!(callback.body["type"], 5);

    // An interaction Discord never sent.
    let mut unknown = ix.clone();
    unknown["id"] = json!("1");
    let unknown: CommandInteraction = serde_json::from_value(unknown).unwrap();
    assert_eq!(discord_error(unknown.defer(&http).await), (404, 10062));
}

#[derive(Debug)]
enum Seen {
    Ready(Box<Ready>),
    Command(Box<CommandInteraction>),
}

struct Handler(mpsc::UnboundedSender<Seen>);

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        let _ = self.0.send(Seen::Ready(Box::new(ready)));
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        if let Interaction::Command(command) = interaction {
            command
                .create_response(
                    &ctx.http,
                    CreateInteractionResponse::Message(
                        CreateInteractionResponseMessage::new().content("pong"),
                    ),
                )
                .await
                .unwrap();
            let _ = self.0.send(Seen::Command(Box::new(command)));
        }
    }
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("no event from serenity within 5 s")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_client_gets_ready_and_interactions() {
    let fake = FakeDiscord::start().await;
    fake.set_heartbeat_interval(100);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut client = ClientBuilder::new_with_http(http(&fake), GatewayIntents::non_privileged())
        .event_handler(Handler(tx))
        .await
        .unwrap();
    let shards = client.shard_manager.clone();
    let running = tokio::spawn(async move { client.start().await });

    let Seen::Ready(ready) = next(&mut rx).await else {
        panic!("READY first");
    };
    assert_eq!(ready.user.name, fake_discord::BOT_USERNAME);
    assert_eq!(ready.application.id.get(), APPLICATION_ID);
    let identify = fake.wait_ready(1).await;
    assert_eq!(identify["token"], json!(format!("Bot {TOKEN}")));
    assert_eq!(identify["compress"], json!(true));
    assert_eq!(identify["shard"], json!([0, 1]));
    assert_eq!(
        identify["intents"].as_u64(),
        Some(GatewayIntents::non_privileged().bits())
    );
    let connections = fake.gateway_connections();
    assert_eq!(connections.len(), 1);
    assert_eq!(connections[0].uri, "/?v=10");
    // The client asked for the gateway through REST first.
    assert_eq!(fake.calls("/gateway").len(), 1);

    let ix = fake.slash_command(
        Place::Guild,
        &ALICE,
        "pay",
        &[("to", USER, BOB.json()), ("amount", STRING, json!("20"))],
    );
    assert_eq!(fake.dispatch_interaction(&ix), 1);
    let Seen::Command(command) = next(&mut rx).await else {
        panic!("a command");
    };
    assert_eq!(command.data.name, "pay");
    assert_eq!(command.user.id.get(), ALICE.id);
    let callback = fake.wait_for_callback(&ix, 2).await;
    assert_eq!(callback.content(), "pong");

    // The READY and the interaction went out as sequence 1 and 2.
    let dispatches: Vec<Value> = fake
        .gateway_frames()
        .into_iter()
        .filter(|f| !f.from_client && f.op() == Some(0))
        .map(|f| json!([f.payload["s"], f.payload["t"]]))
        .collect();
    assert_eq!(
        dispatches,
        [json!([1, "READY"]), json!([2, "INTERACTION_CREATE"])]
    );
    // serenity heartbeats (one interval after IDENTIFY) with the last
    // sequence, and gets its ACK.
    let heartbeat = fake
        .wait_for_frame(|f| f.from_client && f.op() == Some(1), 2)
        .await;
    assert!(heartbeat.payload["d"].as_u64().is_some());
    fake.wait_for_frame(|f| !f.from_client && f.op() == Some(11), 1)
        .await;

    shards.shutdown_all().await;
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[test]
fn signatures_verify_as_discord_signatures() {
    let key = SigningKey::generate();
    let body = br#"{"type":1,"id":"1","application_id":"2","token":"t","version":1}"#;
    let timestamp = "1700000000";
    let signature = key.sign(timestamp, body);
    assert_eq!(signature.len(), 128);
    assert_eq!(key.public_key_hex().len(), 64);

    let verifier = Verifier::try_new(key.public_key_bytes()).unwrap();
    assert!(verifier.verify(&signature, timestamp, body).is_ok());
    assert!(
        Verifier::new(&key.public_key_hex())
            .verify(&signature, timestamp, body)
            .is_ok()
    );
    assert!(verifier.verify(&signature, "1700000001", body).is_err());
    assert!(verifier.verify(&signature, timestamp, b"{}").is_err());
    let other = SigningKey::generate();
    assert!(
        Verifier::try_new(other.public_key_bytes())
            .unwrap()
            .verify(&signature, timestamp, body)
            .is_err()
    );
    let (signature, timestamp) = key.sign_now(body);
    assert!(verifier.verify(&signature, &timestamp, body).is_ok());
}

#[tokio::test]
async fn payloads_read_as_serenity_interactions() {
    let fake = FakeDiscord::start().await;
    let parse = |v: &Value| serde_json::from_value::<Interaction>(v.clone()).unwrap();

    let Interaction::Ping(ping) = parse(&fake.ping()) else {
        panic!("a ping");
    };
    assert_eq!(ping.application_id.get(), APPLICATION_ID);

    // A slash command in the guild channel.
    let ix = fake.slash_command(
        Place::Guild,
        &ALICE,
        "pay",
        &[
            ("to", USER, json!(BOB.id.to_string())),
            ("amount", STRING, json!("20")),
        ],
    );
    assert!(ix.get("user").is_none());
    let Interaction::Command(command) = parse(&ix) else {
        panic!("a command");
    };
    assert_eq!(command.guild_id, Some(GuildId::new(GUILD_ID)));
    assert_eq!(command.channel_id.get(), CHANNEL_ID);
    assert_eq!(command.member.as_ref().unwrap().user.id.get(), ALICE.id);
    assert_eq!(command.user.id.get(), ALICE.id);
    assert_eq!(command.data.kind, CommandType::ChatInput);
    let options = command.data.options();
    assert_eq!(options[0].name, "to");
    let ResolvedValue::User(to, member) = &options[0].value else {
        panic!("a user option");
    };
    assert_eq!(to.id.get(), BOB.id);
    assert!(member.is_some());
    assert!(matches!(options[1].value, ResolvedValue::String("20")));

    // The same in a DM: `user`, no guild.
    fake.add_user(&BOB);
    let ix = fake.slash_command(Place::Dm, &ALICE, "pay", &[("to", USER, json!(BOB.id))]);
    assert!(ix.get("member").is_none() && ix.get("guild_id").is_none());
    let Interaction::Command(command) = parse(&ix) else {
        panic!("a command");
    };
    assert_eq!(command.guild_id, None);
    assert_eq!(command.user.id.get(), ALICE.id);
    assert_eq!(command.channel_id.get(), ALICE.dm_channel_id());
    let options = command.data.options();
    let ResolvedValue::User(to, None) = &options[0].value else {
        panic!("a user option without member");
    };
    assert_eq!(to.name, "bob");

    // A user context-menu command.
    let ix = fake.user_command(Place::Guild, &ALICE, "Pay this user", &BOB);
    let Interaction::Command(command) = parse(&ix) else {
        panic!("a command");
    };
    assert_eq!(command.data.kind, CommandType::User);
    assert_eq!(command.data.target_id.unwrap().get(), BOB.id);
    assert_eq!(
        command.data.resolved.users[&UserId::new(BOB.id)].name,
        "bob"
    );

    // A modal submission.
    let ix = fake.modal_submit(Place::Dm, &ALICE, "confirm:42", &[("code", "123456")]);
    let Interaction::Modal(modal) = parse(&ix) else {
        panic!("a modal");
    };
    assert_eq!(modal.data.custom_id, "confirm:42");
    let serenity::all::ActionRowComponent::InputText(input) =
        &modal.data.components[0].components[0]
    else {
        panic!("a text input");
    };
    assert_eq!(input.value.as_deref(), Some("123456"));

    // A button press.
    let Interaction::Component(press) = parse(&fake.button(Place::Guild, &BOB, "decline:42"))
    else {
        panic!("a component");
    };
    assert_eq!(press.data.custom_id, "decline:42");
    assert_eq!(press.user.id.get(), BOB.id);
}
