//! The bot under concurrency, straight through `Bot::handle` with real
//! storage: deliveries of one event racing each other, and two confirms
//! racing with the same code. Money moves once; the ledger stays sound.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use bot::message::{
    Chat, ChatId, ChatKind, EventId, Handle, Incoming, Platform, PlatformUserId, Reply, User,
};
use bot::otp::{OsRandom, Pepper};
use bot::{Bot, BotConfig};
use ledger::testing::{TestBackend, TestDb};
use ledger::{Amount, Currency};
use paybot::store::{BOT_MIGRATIONS, SqlStore};

async fn setup(backend: TestBackend) -> Option<(TestDb, Arc<Bot>)> {
    let db = TestDb::fresh(backend).await?;
    db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
    let config = BotConfig {
        mock_opening_balance: Some(Amount::from_minor(10_000, Currency::USD).unwrap()),
        ..BotConfig::default()
    };
    let bot = Bot::new(
        db.ledger.clone(),
        Arc::new(SqlStore::new(&db.ledger)),
        config,
        Pepper::generate(&OsRandom),
        Arc::new(OsRandom),
    );
    Some((db, bot))
}

fn dm(from: &str, event: &str, text: &str) -> Incoming {
    let user = User {
        id: PlatformUserId::new(from).unwrap(),
        handle: Some(Handle::parse(from).unwrap()),
        display_name: from.to_owned(),
        is_bot: false,
    };
    Incoming {
        platform: Platform::Mock,
        event_id: EventId::new(event).unwrap(),
        chat: Chat {
            id: ChatId::new(format!("dm:{from}")).unwrap(),
            kind: ChatKind::Direct,
            title: None,
        },
        sender: user,
        text: text.to_owned(),
        mentions: Vec::new(),
        reply_to: None,
    }
}

fn text_of(replies: &[Reply]) -> String {
    replies
        .iter()
        .map(|r| r.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn balance_text(bot: &Bot, user: &str, event: &str) -> String {
    text_of(&bot.handle(&dm(user, event, "/balance")).await)
}

async fn races(backend: TestBackend) {
    let Some((db, bot)) = setup(backend).await else {
        return;
    };
    bot.handle(&dm("alice", "s1", "/start")).await;
    bot.handle(&dm("bob", "s2", "/start")).await;

    // One /pay event delivered 8 times at once: one payment, one code.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let bot = Arc::clone(&bot);
        tasks.spawn(
            async move { text_of(&bot.handle(&dm("alice", "pay-1", "/pay @bob 30")).await) },
        );
    }
    let mut codes = Vec::new();
    while let Some(answer) = tasks.join_next().await {
        let answer = answer.unwrap();
        if let Some(rest) = answer.split("/confirm ").nth(1) {
            let code: String = rest.chars().take(6).collect();
            if code.chars().all(|c| c.is_ascii_digit()) {
                codes.push(code);
            }
        }
    }
    assert_eq!(
        codes.len(),
        1,
        "exactly one delivery carries the code: {codes:?}"
    );
    let code = codes.pop().unwrap();
    // A later redelivery gets the stored answer: the code is blanked out.
    let again = text_of(&bot.handle(&dm("alice", "pay-1", "/pay @bob 30")).await);
    assert!(again.contains("/confirm (the code I sent you)"), "{again}");
    assert!(!again.contains(&code), "{again}");
    assert!(
        balance_text(&bot, "alice", "b1")
            .await
            .contains("$70.00 available ($30.00 held")
    );

    // 8 different confirm events with the right code, at once: paid once.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let bot = Arc::clone(&bot);
        let text = format!("/confirm {code}");
        tasks.spawn(async move {
            text_of(
                &bot.handle(&dm("alice", &format!("confirm-{i}"), &text))
                    .await,
            )
        });
    }
    let mut done = 0;
    while let Some(answer) = tasks.join_next().await {
        let answer = answer.unwrap();
        assert!(!answer.contains("went wrong"), "{answer}");
        if answer.contains("Done: you paid @bob $30.00") {
            done += 1;
        }
    }
    assert_eq!(done, 1, "one confirm wins");
    assert!(
        balance_text(&bot, "alice", "b2")
            .await
            .contains("Your balance: $70.00 available.")
    );
    assert!(
        balance_text(&bot, "bob", "b3")
            .await
            .contains("Your balance: $130.00 available.")
    );
    bot.dispatcher().drain().await.unwrap();
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deliveries_and_confirms_pay_once_on_sqlite() {
    races(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deliveries_and_confirms_pay_once_on_postgres() {
    races(TestBackend::Postgres).await;
}
