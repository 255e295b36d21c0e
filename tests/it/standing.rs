//! Standing orders run once, whoever runs the scheduler: two bots (two
//! paybot processes: each its own ledger writer and store pool) on one
//! SQLite file or one PostgreSQL database sweep at the same moment, again
//! and again, and each due period is paid exactly once; the ledger is sound
//! afterwards.

use std::sync::Arc;
use std::time::Duration;

use bot::message::{
    Chat, ChatId, ChatKind, EventId, Handle, Incoming, MessageId, Platform, PlatformUserId, User,
};
use bot::otp::{OsRandom, Pepper};
use bot::{Bot, BotConfig};
use ledger::testing::{TestBackend, TestDb};
use ledger::{Amount, Currency, Ledger};
use paybot_store::{BOT_MIGRATIONS, SqlStore};

use crate::support::cases;

/// Sweeps each process runs at the same moment.
const SWEEPS_AT_ONCE: usize = 4;

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

fn bot_on(ledger: &Ledger) -> Arc<Bot> {
    let config = BotConfig {
        mock_opening_balance: Some(Amount::from_minor(10_000, Currency::USD).unwrap()),
        ..BotConfig::default()
    };
    Bot::new(
        ledger.clone(),
        Arc::new(SqlStore::new(ledger)),
        config,
        Pepper::generate(&OsRandom),
        Arc::new(OsRandom),
    )
}

async fn say(bot: &Bot, from: &str, event: &str, text: &str) -> String {
    let replies = bot.handle(&dm(from, event, text)).await;
    replies
        .iter()
        .map(|r| r.text.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn balance_of(bot: &Bot, who: &str, event: &str) -> String {
    say(bot, who, event, "/balance").await
}

async fn each_period_is_paid_once_by_two_processes(backend: TestBackend) {
    let Some(db) = TestDb::fresh(backend).await else {
        return; // PostgreSQL absent outside CI: skipped loudly by TestDb.
    };
    db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
    let second = db.second_process().await;
    let (one, two) = (bot_on(&db.ledger), bot_on(&second));

    say(&one, "alice", "a1", "/start").await;
    say(&one, "bob", "b1", "/start").await;
    let asked = say(&one, "alice", "a2", "/pay @bob 7 every day for lunch").await;
    let code = asked
        .split(|c: char| !c.is_ascii_digit())
        .find(|word| word.len() == 6)
        .unwrap_or_else(|| panic!("no code in {asked:?}"))
        .to_owned();
    let set = say(&one, "alice", "a3", &format!("/confirm {code}")).await;
    assert!(set.contains("is set"), "{set}");

    // Three daily periods come due, one at a time; every time, both
    // processes sweep several times at once.
    for (day, expected) in [(1, "$107.00"), (2, "$114.00"), (3, "$121.00")] {
        db.clock.advance(Duration::from_secs(24 * 60 * 60));
        let sweeps = (0..SWEEPS_AT_ONCE).flat_map(|_| [Arc::clone(&one), Arc::clone(&two)]);
        let handles: Vec<_> = sweeps
            .map(|bot| tokio::spawn(async move { bot.sweep().await.map(|_| ()) }))
            .collect();
        for handle in handles {
            handle.await.unwrap().unwrap();
        }
        let balance = balance_of(&two, "bob", &format!("bob-balance-{day}")).await;
        assert!(
            balance.contains(expected),
            "day {day}: bob should have {expected}: {balance}"
        );
    }
    let alice = balance_of(&one, "alice", "alice-balance").await;
    assert!(alice.contains("$79.00"), "{alice}");
    let violations = db.ledger.verify().await.unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    second.close().await;
    db.cleanup().await;
}

cases!(each_period_is_paid_once_by_two_processes {
    standing_orders_run_once_across_two_processes_on_sqlite(TestBackend::Sqlite),
    standing_orders_run_once_across_two_processes_on_postgres(TestBackend::Postgres),
});
