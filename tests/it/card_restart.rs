//! Crash safety of card operations, in process: two `Bot`s on one database
//! and one rail simulator, the first dropped in the middle of an operation,
//! the second's sweep finishing it. Nothing is paid twice, nothing is lost,
//! the ledger stays sound and matches the simulator's totals.

use std::sync::Arc;

use async_trait::async_trait;
use bot::Bot;
use bot::card::{
    CardNumber, CardRail, CardToken, CardTransfer, Expiry, RailError, RailOutcome, RailReference,
};
use bot::message::{
    Chat, ChatId, ChatKind, EventId, Handle, Incoming, Platform, PlatformUserId, User,
};
use bot::otp::Pepper;
use ledger::testing::{TestBackend, TestDb};
use paybot_cards::{Acquirer, ApiKey, Simulator, VisaDirectClient};
use paybot_store::{BOT_MIGRATIONS, SqlStore};

use crate::support::cases;

/// The rail, except that the answers to pulls and pushes are lost on the
/// way back (the request reached the network; paybot saw a timeout).
#[derive(Debug)]
struct LostAnswers(VisaDirectClient);

#[async_trait]
impl CardRail for LostAnswers {
    async fn tokenize(&self, card: &CardNumber, expiry: Expiry) -> Result<CardToken, RailError> {
        self.0.tokenize(card, expiry).await
    }
    async fn pull(&self, transfer: &CardTransfer) -> Result<RailOutcome, RailError> {
        let _ = self.0.pull(transfer).await;
        Err(RailError::Transient("timed out".to_owned()))
    }
    async fn push(&self, transfer: &CardTransfer) -> Result<RailOutcome, RailError> {
        let _ = self.0.push(transfer).await;
        Err(RailError::Transient("timed out".to_owned()))
    }
    async fn reverse(&self, original: &CardTransfer) -> Result<RailOutcome, RailError> {
        self.0.reverse(original).await
    }
    async fn status(&self, reference: &RailReference) -> Result<RailOutcome, RailError> {
        self.0.status(reference).await
    }
}

fn dm_from(name: &str, event: &str, text: &str) -> Incoming {
    Incoming {
        platform: Platform::Mock,
        event_id: EventId::new(event).unwrap(),
        chat: Chat {
            id: ChatId::new(format!("dm:{name}")).unwrap(),
            kind: ChatKind::Direct,
            title: None,
        },
        sender: User {
            id: PlatformUserId::new(name).unwrap(),
            handle: Some(Handle::parse(name).unwrap()),
            display_name: name.to_owned(),
            is_bot: false,
        },
        text: text.to_owned(),
        mentions: Vec::new(),
        reply_to: None,
        message_id: None,
    }
}

async fn say(bot: &Bot, event: &str, text: &str) -> String {
    say_as(bot, "alice", event, text).await
}

async fn say_as(bot: &Bot, name: &str, event: &str, text: &str) -> String {
    let replies = bot.handle(&dm_from(name, event, text)).await;
    replies
        .iter()
        .map(|r| r.text.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

fn code_in(text: &str) -> String {
    let at = text.find("/confirm ").expect(text) + "/confirm ".len();
    text[at..at + 6].to_owned()
}

/// `/card add` and its `/confirm`: the card's link answer.
async fn link_card(bot: &Bot, event: &str, text: &str) -> String {
    let asked = say(bot, event, text).await;
    say(
        bot,
        &format!("{event}-confirm"),
        &format!("/confirm {}", code_in(&asked)),
    )
    .await
}

/// Moves the clock past a day, the shipped `new_card` rule's wait before a
/// card just linked can be cashed out to (this bot has no rules).
fn after_the_new_card_hold(db: &TestDb) {
    db.clock.advance(std::time::Duration::from_secs(86_400));
}

fn new_bot(db: &TestDb, rail: Arc<dyn CardRail>) -> Arc<Bot> {
    let store = Arc::new(SqlStore::new(&db.ledger));
    let pepper = Pepper::from_bytes((1..=32).collect()).unwrap();
    crate::support::play_money_bot(db, store, pepper, Some(rail))
}

fn client(simulator: &Simulator, key: &ApiKey) -> VisaDirectClient {
    VisaDirectClient::in_process(simulator, key.clone(), Acquirer::sandbox())
}

async fn wallet_available(db: &TestDb, bot: &Bot) -> String {
    let _ = db;
    say(
        bot,
        &format!("bal-{}", ledger::TransferId::random()),
        "/balance",
    )
    .await
}

async fn assert_books_match(db: &TestDb, simulator: &Simulator) {
    let clearing = crate::support::card_clearing(db).await;
    let net = simulator.totals().currencies["USD"].net_minor;
    assert_eq!(clearing.posted, -net);
    assert_eq!((clearing.pending_in, clearing.pending_out), (0, 0));
    assert!(db.ledger.verify().await.unwrap().is_empty());
}

async fn restart_in_a_slow_cashout(backend: TestBackend) {
    let Some(db) = TestDb::fresh(backend).await else {
        return;
    };
    db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
    let key = ApiKey::parse("restart-test-key-00001").unwrap();
    let simulator = Simulator::new(&key);

    let first = new_bot(&db, Arc::new(client(&simulator, &key)));
    say(&first, "e1", "/start").await;
    let linked = link_card(&first, "e2", "/card add 4000000000000119 12/30").await;
    assert!(linked.contains("Linked Visa •••• 0119"), "{linked}");
    after_the_new_card_hold(&db);
    let asked = say(&first, "e3", "/cashout 30").await;
    let answered = say(&first, "e4", &format!("/confirm {}", code_in(&asked))).await;
    assert!(answered.contains("taking a moment"), "{answered}");
    // The rail answered 202; paybot stops here.
    drop(first);

    let second = new_bot(&db, Arc::new(client(&simulator, &key)));
    let held = wallet_available(&db, &second).await;
    assert!(held.contains("$70.00 available ($30.00 held"), "{held}");
    db.clock.advance(std::time::Duration::from_secs(5));
    assert_eq!(second.sweep().await.unwrap(), 1);
    assert_eq!(second.sweep().await.unwrap(), 0, "finished once");
    let after = wallet_available(&db, &second).await;
    assert!(after.contains("Your balance: $70.00 available."), "{after}");
    let totals = simulator.totals().currencies["USD"].clone();
    assert_eq!((totals.pushes.count, totals.pushes.minor), (1, 3_000));
    assert_books_match(&db, &simulator).await;
    db.cleanup().await;
}

async fn restart_after_a_lost_answer(backend: TestBackend) {
    let Some(db) = TestDb::fresh(backend).await else {
        return;
    };
    db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
    let key = ApiKey::parse("restart-test-key-00002").unwrap();
    let simulator = Simulator::new(&key);

    let first = new_bot(&db, Arc::new(LostAnswers(client(&simulator, &key))));
    say(&first, "e1", "/start").await;
    link_card(&first, "e2", "/card add 4111111111111111 12/30").await;
    after_the_new_card_hold(&db);
    let asked = say(&first, "e3", "/topup 20").await;
    let answered = say(&first, "e4", &format!("/confirm {}", code_in(&asked))).await;
    assert!(answered.contains("not answering"), "{answered}");
    let asked = say(&first, "e5", "/cashout 10").await;
    let answered = say(&first, "e6", &format!("/confirm {}", code_in(&asked))).await;
    assert!(answered.contains("not answering"), "{answered}");
    // The rail moved both; paybot never heard, and stops.
    drop(first);

    let second = new_bot(&db, Arc::new(client(&simulator, &key)));
    db.clock.advance(std::time::Duration::from_secs(5));
    // Resent with the same trace numbers: recognised, answered as before.
    assert_eq!(second.sweep().await.unwrap(), 2);
    assert_eq!(second.sweep().await.unwrap(), 0);
    let after = wallet_available(&db, &second).await;
    assert!(
        after.contains("Your balance: $110.00 available."),
        "{after}"
    );
    let totals = simulator.totals().currencies["USD"].clone();
    assert_eq!((totals.pulls.count, totals.pulls.minor), (1, 2_000));
    assert_eq!((totals.pushes.count, totals.pushes.minor), (1, 1_000));
    assert_books_match(&db, &simulator).await;
    db.cleanup().await;
}

/// `/link` while a top-up is with the rail: refused, the code kept, the
/// wallets untouched; paybot restarts, the sweep books the approval to the
/// wallet it belongs to, and the same code then links (after `/link
/// confirm`), moving the top-up along with the rest.
async fn link_waits_for_a_slow_topup(backend: TestBackend) {
    let Some(db) = TestDb::fresh(backend).await else {
        return;
    };
    db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
    let key = ApiKey::parse("restart-test-key-00003").unwrap();
    let simulator = Simulator::new(&key);

    let first = new_bot(&db, Arc::new(client(&simulator, &key)));
    say(&first, "e1", "/start").await;
    link_card(&first, "e2", "/card add 4000000000000119 12/30").await;
    let asked = say(&first, "e3", "/topup 20").await;
    let answered = say(&first, "e4", &format!("/confirm {}", code_in(&asked))).await;
    assert!(answered.contains("taking a moment"), "{answered}");
    let reference = answered
        .split("top-up ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    say_as(&first, "bob", "b1", "/start").await;
    let offered = say_as(&first, "bob", "b2", "/link").await;
    let link = offered
        .split("/link ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();

    let refused = say(&first, "e5", &format!("/link {link}")).await;
    assert!(
        refused.contains(&format!("Wait until your top-up {reference} of $20.00")),
        "{refused}"
    );
    assert!(!refused.contains("Linked"), "{refused}");
    let mine = wallet_available(&db, &first).await;
    assert!(mine.contains("Your balance: $100.00 available."), "{mine}");
    drop(first);

    let second = new_bot(&db, Arc::new(client(&simulator, &key)));
    db.clock.advance(std::time::Duration::from_secs(5));
    assert_eq!(second.sweep().await.unwrap(), 1);
    let topped = wallet_available(&db, &second).await;
    assert!(
        topped.contains("Your balance: $120.00 available."),
        "{topped}"
    );
    let asked = say(&second, "e6", &format!("/link {link}")).await;
    assert!(
        asked.contains("($120.00) moves into that wallet"),
        "{asked}"
    );
    let linked = say(&second, "e7", "/link confirm").await;
    assert!(linked.contains("Linked"), "{linked}");
    assert!(linked.contains("($120.00)"), "{linked}");
    let shared = say_as(&second, "bob", "b3", "/balance").await;
    assert!(
        shared.contains("Your balance: $220.00 available."),
        "{shared}"
    );
    assert_books_match(&db, &simulator).await;
    db.cleanup().await;
}

cases!(link_waits_for_a_slow_topup {
    link_waits_for_a_slow_topup_on_sqlite(TestBackend::Sqlite),
    link_waits_for_a_slow_topup_on_postgres(TestBackend::Postgres),
});

cases!(restart_in_a_slow_cashout {
    restart_in_a_slow_cashout_on_sqlite(TestBackend::Sqlite),
    restart_in_a_slow_cashout_on_postgres(TestBackend::Postgres),
});

cases!(restart_after_a_lost_answer {
    lost_rail_answers_are_resent_once_on_sqlite(TestBackend::Sqlite),
    lost_rail_answers_are_resent_once_on_postgres(TestBackend::Postgres),
});
