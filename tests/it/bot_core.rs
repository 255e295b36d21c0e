//! The bot under concurrency, straight through `Bot::handle` with real
//! storage: deliveries of one event racing each other, and two confirms
//! racing with the same code. Money moves once; the ledger stays sound.
//! Also: buttons on replies and outbox messages, the DM-start requirement of
//! platforms where a bot cannot open a DM, and undeliverable messages.

use crate::support::{self, cases};

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bot::message::{
    Audience, Button, Chat, ChatId, ChatKind, EventId, Handle, Incoming, MessageId, Platform,
    PlatformUserId, Reply, User,
};
use bot::notify::{DELIVERY_ATTEMPTS_MAX, DeliveryError, Notifier};
use bot::store::{Store, UserId};
use bot::{Bot, DM_START_PAYLOAD, PlatformProfile};
use ledger::testing::{TestBackend, TestDb};
use ledger::{Amount, Currency};
use paybot_store::SqlStore;

async fn setup(backend: TestBackend) -> Option<(TestDb, Arc<Bot>)> {
    let (db, bot, _) = setup_with_store(backend).await?;
    Some((db, bot))
}

async fn setup_with_store(backend: TestBackend) -> Option<(TestDb, Arc<Bot>, Arc<SqlStore>)> {
    support::bot_on(backend).await
}

fn person(name: &str) -> User {
    User {
        id: PlatformUserId::new(name).unwrap(),
        handle: Some(Handle::parse(name).unwrap()),
        display_name: name.to_owned(),
        is_bot: false,
    }
}

fn message(platform: Platform, kind: ChatKind, from: &str, event: &str, text: &str) -> Incoming {
    let chat = match kind {
        ChatKind::Direct => format!("dm:{from}"),
        ChatKind::Group => "group:party".to_owned(),
    };
    Incoming {
        platform,
        event_id: EventId::new(event).unwrap(),
        chat: Chat {
            id: ChatId::new(chat).unwrap(),
            kind,
            title: (kind == ChatKind::Group).then(|| "party".to_owned()),
        },
        sender: person(from),
        text: text.to_owned(),
        mentions: Vec::new(),
        reply_to: None,
        message_id: Some(MessageId::new(format!("msg-{event}")).unwrap()),
    }
}

fn dm(from: &str, event: &str, text: &str) -> Incoming {
    message(Platform::Mock, ChatKind::Direct, from, event, text)
}

fn private(replies: &[Reply]) -> Vec<&Reply> {
    replies
        .iter()
        .filter(|r| matches!(r.audience, Audience::Private(_)))
        .collect()
}

/// The reference after `word ` in `text` (`/cancel P7K2QX` -> `P7K2QX`).
fn reference_after(text: &str, word: &str) -> String {
    let rest = text
        .split(word)
        .nth(1)
        .unwrap_or_else(|| panic!("no {word} in {text}"));
    rest.chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

/// A notifier that records what it is handed and answers `answer`.
#[derive(Debug)]
struct Recorder {
    answer: Mutex<Option<DeliveryError>>,
    handed: Mutex<Vec<Reply>>,
}

impl Recorder {
    fn new(answer: Option<DeliveryError>) -> Arc<Recorder> {
        Arc::new(Recorder {
            answer: Mutex::new(answer),
            handed: Mutex::new(Vec::new()),
        })
    }

    fn handed(&self) -> Vec<Reply> {
        self.handed.lock().unwrap().clone()
    }
}

#[async_trait]
impl Notifier for Recorder {
    async fn deliver(&self, reply: &Reply) -> Result<(), DeliveryError> {
        self.handed.lock().unwrap().push(reply.clone());
        match self.answer.lock().unwrap().clone() {
            Some(error) => Err(error),
            None => Ok(()),
        }
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

// -- buttons ------------------------------------------------------------------

async fn buttons(backend: TestBackend) {
    let Some((db, bot)) = setup(backend).await else {
        return;
    };
    let outbox = Recorder::new(None);
    bot.dispatcher()
        .register(Platform::Mock, Arc::<Recorder>::clone(&outbox));
    bot.handle(&dm("alice", "s1", "/start")).await;
    bot.handle(&dm("bob", "s2", "/start")).await;

    // The request notice reaches alice through the outbox with its buttons.
    bot.handle(&dm("bob", "r1", "/request @alice 5 for lunch"))
        .await;
    bot.dispatcher().drain().await.unwrap();
    let handed = outbox.handed();
    let notice = handed
        .iter()
        .find(|r| r.text.contains("asks you to pay"))
        .unwrap_or_else(|| panic!("no request notice in {handed:?}"));
    assert_eq!(
        notice.audience,
        Audience::Private(PlatformUserId::new("alice").unwrap())
    );
    let request = reference_after(&notice.text, "/approve ");
    assert!(notice.text.contains(&format!("/decline {request}")));
    assert_eq!(
        notice.buttons,
        vec![
            Button::new("Approve", format!("/approve {request}")),
            Button::new("Decline", format!("/decline {request}")),
        ]
    );

    // Approving sends the code by DM with a Cancel button, never the code.
    let approve = dm("alice", "a1", &format!("/approve {request}"));
    let replies = bot.handle(&approve).await;
    let code_dm = private(&replies)
        .into_iter()
        .find(|r| r.text.contains("/confirm "))
        .unwrap_or_else(|| panic!("no code in {replies:?}"));
    let payment = reference_after(&code_dm.text, "/cancel ");
    let cancel = vec![Button::new("Cancel", format!("/cancel {payment}"))];
    assert_eq!(code_dm.buttons, cancel);
    let code: String = code_dm
        .text
        .split("/confirm ")
        .nth(1)
        .unwrap()
        .chars()
        .take(6)
        .collect();
    assert!(code.chars().all(|c| c.is_ascii_digit()), "{code}");
    assert!(code_dm.buttons.iter().all(|b| !b.command.contains(&code)));
    // A redelivery gets the stored outcome: code blanked, button kept.
    let again = bot.handle(&approve).await;
    let stored = private(&again)
        .into_iter()
        .find(|r| r.text.contains("/confirm (the code I sent you)"))
        .unwrap_or_else(|| panic!("no stored code DM in {again:?}"));
    assert!(!stored.text.contains(&code));
    assert_eq!(stored.buttons, cancel);

    // Other replies carry no buttons.
    let balance = bot.handle(&dm("alice", "b1", "/balance")).await;
    assert!(balance.iter().all(|r| r.buttons.is_empty()));
    db.cleanup().await;
}

cases!(buttons {
    code_dm_and_request_notice_carry_buttons_on_sqlite(TestBackend::Sqlite),
    code_dm_and_request_notice_carry_buttons_on_postgres(TestBackend::Postgres),
});

// -- DM start required (Telegram) ----------------------------------------------

const INVITE: &str = "https://t.me/paybot_test_bot?start=setup";

async fn dm_start(backend: TestBackend) {
    let Some((db, bot, store)) = setup_with_store(backend).await else {
        return;
    };
    let tg = Platform::Telegram;
    bot.register_platform(PlatformProfile::new(tg).with_dm_invite(INVITE));
    // Bob has written to the bot directly; alice only ever in the group.
    bot.handle(&message(tg, ChatKind::Direct, "bob", "1", "/start"))
        .await;
    // /help in a group still answers, publicly.
    let help = bot
        .handle(&message(tg, ChatKind::Group, "alice", "2", "/help"))
        .await;
    assert!(!help.is_empty());
    assert!(
        help.iter()
            .all(|r| r.audience == Audience::Chat(ChatId::new("group:party").unwrap()))
    );
    assert!(help.iter().any(|r| r.text.contains("/pay")), "{help:?}");
    assert!(help.iter().all(|r| !r.text.contains(INVITE)));
    // Usage errors answer as before.
    let usage = bot
        .handle(&message(tg, ChatKind::Group, "alice", "3", "/pay @bob"))
        .await;
    assert_eq!(usage.len(), 1);
    assert!(!usage[0].text.contains(INVITE), "{usage:?}");

    let alice = store
        .identity(tg, &PlatformUserId::new("alice").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!alice.dm_open);
    let wallet = db
        .wallet(&format!("user:{}", alice.user.0), Currency::USD)
        .await;
    db.fund(wallet, Amount::from_minor(10_000, Currency::USD).unwrap())
        .await;

    // A command in the group: one public answer with the invite, nothing else.
    let blocked = bot
        .handle(&message(tg, ChatKind::Group, "alice", "4", "/pay @bob 5"))
        .await;
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    assert_eq!(
        blocked[0].audience,
        Audience::Chat(ChatId::new("group:party").unwrap())
    );
    assert_eq!(
        blocked[0].text,
        format!(
            "@alice, I can't message you privately yet. Open {INVITE} and press Start, then send your command again."
        )
    );
    assert!(private(&blocked).is_empty());
    assert_nothing_moved(&db, &store, alice.user, wallet).await;
    // Other commands too (a private answer could not reach her).
    let balance = bot
        .handle(&message(tg, ChatKind::Group, "alice", "5", "/balance"))
        .await;
    assert_eq!(balance.len(), 1);
    assert!(balance[0].text.contains(INVITE));
    let request = bot
        .handle(&message(
            tg,
            ChatKind::Group,
            "alice",
            "6",
            "/request @bob 5",
        ))
        .await;
    assert_eq!(request.len(), 1);
    assert!(request[0].text.contains(INVITE));
    assert_nothing_moved(&db, &store, alice.user, wallet).await;

    // The invite link's /start in a DM opens it.
    let start = bot
        .handle(&message(
            tg,
            ChatKind::Direct,
            "alice",
            "7",
            &format!("/start {DM_START_PAYLOAD}"),
        ))
        .await;
    assert!(start.iter().any(|r| r.text.contains("Welcome to paybot")
        && r.text.contains("You're set up: go back to the group")));
    let alice = store.identity(tg, &alice.id).await.unwrap().unwrap();
    assert!(alice.dm_open);

    // The same command again (a new event): the code goes by DM as usual.
    let paid = bot
        .handle(&message(tg, ChatKind::Group, "alice", "8", "/pay @bob 5"))
        .await;
    assert!(paid.iter().all(|r| !r.text.contains(INVITE)), "{paid:?}");
    assert!(paid.iter().any(
        |r| r.audience == Audience::Chat(ChatId::new("group:party").unwrap())
            && r.text.contains("I sent you a DM with a code")
    ));
    let code_dm = private(&paid);
    assert_eq!(code_dm.len(), 1, "{paid:?}");
    assert!(code_dm[0].text.contains("/confirm "));
    assert_eq!(
        store
            .payments_awaiting_code(alice.user)
            .await
            .unwrap()
            .len(),
        1
    );
    // A plain /start (no payload) says nothing about setup.
    let plain = bot
        .handle(&message(tg, ChatKind::Direct, "alice", "9", "/start"))
        .await;
    assert!(plain.iter().all(|r| !r.text.contains("You're set up")));

    // Platforms without an invite behave as before.
    let discord = bot
        .handle(&message(
            Platform::Discord,
            ChatKind::Group,
            "carol",
            "1",
            "/balance",
        ))
        .await;
    assert!(discord.iter().all(|r| !r.text.contains("privately yet")));
    assert_eq!(private(&discord).len(), 1, "{discord:?}");
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

/// Alice's funded wallet is untouched, she has no payment and no request,
/// and nobody was sent anything.
async fn assert_nothing_moved(
    db: &TestDb,
    store: &SqlStore,
    alice: UserId,
    wallet: ledger::AccountId,
) {
    let balance = db.ledger.balance(wallet).await.unwrap().unwrap();
    assert_eq!((balance.posted, balance.pending_out), (10_000, 0));
    assert!(store.payments_of_user(alice, 10).await.unwrap().is_empty());
    assert!(
        store
            .payments_awaiting_code(alice)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(db.ledger.outbox_undelivered(10).await.unwrap().is_empty());
}

cases!(dm_start {
    group_command_without_dm_asks_to_start_on_sqlite(TestBackend::Sqlite),
    group_command_without_dm_asks_to_start_on_postgres(TestBackend::Postgres),
});

// -- undeliverable messages ------------------------------------------------------

/// Bob asks alice for money: one outbox message, to alice.
async fn one_notice(backend: TestBackend) -> Option<(TestDb, Arc<Bot>)> {
    let (db, bot) = setup(backend).await?;
    bot.handle(&dm("alice", "s1", "/start")).await;
    bot.handle(&dm("bob", "s2", "/start")).await;
    bot.handle(&dm("bob", "r1", "/request @alice 5")).await;
    assert_eq!(db.ledger.outbox_undelivered(10).await.unwrap().len(), 1);
    Some((db, bot))
}

async fn undeliverable(backend: TestBackend) {
    let Some((db, bot)) = one_notice(backend).await else {
        return;
    };
    let notifier = Recorder::new(Some(DeliveryError::Undeliverable(
        "the user blocked the bot".to_owned(),
    )));
    bot.dispatcher()
        .register(Platform::Mock, Arc::<Recorder>::clone(&notifier));
    assert_eq!(bot.dispatcher().drain().await.unwrap(), 0);
    // The request could not reach alice; bob, who asked, is told instead
    // (that fails here too, and a bounce has no bounce of its own).
    let handed = notifier.handed();
    assert_eq!(handed.len(), 2, "{handed:?}");
    assert_eq!(
        handed[1].audience,
        Audience::Private(PlatformUserId::new("bob").unwrap())
    );
    assert!(handed[1].text.contains("I couldn't send your request"));
    assert!(db.ledger.outbox_undelivered(10).await.unwrap().is_empty());
    bot.dispatcher().drain().await.unwrap();
    assert_eq!(notifier.handed().len(), 2, "dropped, not handed out again");
    db.cleanup().await;
}

async fn retried(backend: TestBackend) {
    let Some((db, bot)) = one_notice(backend).await else {
        return;
    };
    let notifier = Recorder::new(Some(DeliveryError::Retry("timed out".to_owned())));
    bot.dispatcher()
        .register(Platform::Mock, Arc::<Recorder>::clone(&notifier));
    assert_eq!(bot.dispatcher().drain().await.unwrap(), 0);
    assert_eq!(notifier.handed().len(), 1);
    assert_eq!(bot.dispatcher().drain().await.unwrap(), 0);
    assert_eq!(notifier.handed().len(), 2, "handed out again next drain");
    let waiting = db.ledger.outbox_undelivered(10).await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].attempts, 2);
    // Once the platform is back, it is delivered.
    *notifier.answer.lock().unwrap() = None;
    assert_eq!(bot.dispatcher().drain().await.unwrap(), 1);
    assert_eq!(notifier.handed().len(), 3);
    assert!(db.ledger.outbox_undelivered(10).await.unwrap().is_empty());
    db.cleanup().await;
}

async fn dead_letter(backend: TestBackend) {
    let Some((db, bot)) = one_notice(backend).await else {
        return;
    };
    let notifier = Recorder::new(Some(DeliveryError::Retry("still down".to_owned())));
    bot.dispatcher()
        .register(Platform::Mock, Arc::<Recorder>::clone(&notifier));
    let max = usize::try_from(DELIVERY_ATTEMPTS_MAX).unwrap();
    for _ in 0..max {
        bot.dispatcher().drain().await.unwrap();
    }
    assert_eq!(notifier.handed().len(), max);
    assert_eq!(db.ledger.outbox_undelivered(10).await.unwrap().len(), 1);
    // Tried DELIVERY_ATTEMPTS_MAX times: dropped, not tried again.
    bot.dispatcher().drain().await.unwrap();
    assert_eq!(notifier.handed().len(), max);
    assert!(db.ledger.outbox_undelivered(10).await.unwrap().is_empty());
    db.cleanup().await;
}

/// Takes the database's outbox away while a message is being handed to
/// the platform (the first time only), so the mark that it was delivered
/// fails, as when the database restarts under the bot.
#[derive(Debug)]
struct OutageDuringDelivery {
    url: String,
    handed: Mutex<Vec<Reply>>,
}

#[async_trait]
impl Notifier for OutageDuringDelivery {
    async fn deliver(&self, reply: &Reply) -> Result<(), DeliveryError> {
        let first = {
            let mut handed = self.handed.lock().unwrap();
            handed.push(reply.clone());
            handed.len() == 1
        };
        if first {
            ledger::testing::execute_sql(&self.url, "ALTER TABLE outbox RENAME TO outbox_away")
                .await
                .unwrap();
        }
        Ok(())
    }
}

/// The database goes away after a notice reached its recipient and before
/// the outbox recorded it: once the database is back, the notice is marked
/// delivered, not handed to the platform a second time (the recipient
/// would read "bob asks you to pay" twice).
async fn mark_lost_to_an_outage(backend: TestBackend) {
    let Some((db, bot)) = one_notice(backend).await else {
        return;
    };
    let notifier = Arc::new(OutageDuringDelivery {
        url: db.url.clone(),
        handed: Mutex::new(Vec::new()),
    });
    bot.dispatcher().register(
        Platform::Mock,
        Arc::<OutageDuringDelivery>::clone(&notifier),
    );
    assert!(
        bot.dispatcher().drain().await.is_err(),
        "the mark cannot be written while the outbox is away"
    );
    assert_eq!(notifier.handed.lock().unwrap().len(), 1);
    db.execute("ALTER TABLE outbox_away RENAME TO outbox")
        .await
        .unwrap();
    bot.dispatcher().drain().await.unwrap();
    bot.dispatcher().drain().await.unwrap();
    assert_eq!(
        notifier.handed.lock().unwrap().len(),
        1,
        "delivered once, not again after the outage"
    );
    assert!(db.ledger.outbox_undelivered(10).await.unwrap().is_empty());
    db.cleanup().await;
}

/// Several people's notifications in one drain, delivered at once: each
/// recipient gets theirs in the order they were written, every one once.
async fn in_order_per_recipient(backend: TestBackend) {
    let Some((db, bot)) = setup(backend).await else {
        return;
    };
    for name in ["alice", "bob", "carol"] {
        bot.handle(&dm(name, &format!("s-{name}"), "/start")).await;
    }
    for (i, asker) in ["bob", "carol", "bob", "carol", "bob"].iter().enumerate() {
        let text = format!("/request @alice {}", i + 1);
        bot.handle(&dm(asker, &format!("r{i}"), &text)).await;
    }
    bot.handle(&dm("alice", "r-alice", "/request @bob 6")).await;
    let notifier = Recorder::new(None);
    bot.dispatcher()
        .register(Platform::Mock, Arc::<Recorder>::clone(&notifier));
    assert_eq!(bot.dispatcher().drain().await.unwrap(), 6);
    let to = |name: &str| -> Vec<String> {
        let who = Audience::Private(PlatformUserId::new(name).unwrap());
        notifier
            .handed()
            .into_iter()
            .filter(|r| r.audience == who)
            .map(|r| r.text)
            .collect()
    };
    let alice = to("alice");
    assert_eq!(alice.len(), 5, "{alice:?}");
    for (i, text) in alice.iter().enumerate() {
        assert!(text.contains(&format!("to pay ${}.00", i + 1)), "{alice:?}");
    }
    assert_eq!(to("bob").len(), 1);
    assert!(db.ledger.outbox_undelivered(10).await.unwrap().is_empty());
    assert_eq!(
        db.ledger.outbox_backlog(u32::MAX).await.unwrap().messages,
        0
    );
    assert_eq!(bot.dispatcher().drain().await.unwrap(), 0);
    assert_eq!(notifier.handed().len(), 6, "none handed out twice");
    db.cleanup().await;
}

cases!(in_order_per_recipient {
    each_recipient_is_notified_in_order_on_sqlite(TestBackend::Sqlite),
    each_recipient_is_notified_in_order_on_postgres(TestBackend::Postgres),
});

cases!(undeliverable {
    undeliverable_message_is_dropped_on_sqlite(TestBackend::Sqlite),
    undeliverable_message_is_dropped_on_postgres(TestBackend::Postgres),
});

cases!(retried {
    failed_delivery_is_retried_next_drain_on_sqlite(TestBackend::Sqlite),
    failed_delivery_is_retried_next_drain_on_postgres(TestBackend::Postgres),
});

cases!(mark_lost_to_an_outage {
    a_delivery_whose_mark_failed_is_not_repeated_on_sqlite(TestBackend::Sqlite),
    a_delivery_whose_mark_failed_is_not_repeated_on_postgres(TestBackend::Postgres),
});

cases!(dead_letter {
    delivery_gives_up_after_the_attempts_bound_on_sqlite(TestBackend::Sqlite),
    delivery_gives_up_after_the_attempts_bound_on_postgres(TestBackend::Postgres),
});

// -- cards: every identity of the wallet is told ------------------------------

/// Alice uses one wallet from Telegram and from Discord. Someone acting as
/// her Discord account links a card (with the code sent there) and cashes
/// out to it: her Telegram account is told of both, with brand and last 4
/// only, through the outbox; nothing is linked before the code.
async fn card_notices(backend: TestBackend) {
    let key = paybot_cards::ApiKey::parse("bot-core-test-key-0001").unwrap();
    let simulator = paybot_cards::Simulator::new(&key);
    let rail = Arc::new(paybot_cards::VisaDirectClient::in_process(
        &simulator,
        key,
        paybot_cards::Acquirer::sandbox(),
    ));
    let Some((db, bot, store)) = support::bot_with_rail_on(backend, Some(rail)).await else {
        return;
    };
    let telegram = Recorder::new(None);
    let discord = Recorder::new(None);
    bot.dispatcher()
        .register(Platform::Telegram, Arc::<Recorder>::clone(&telegram));
    bot.dispatcher()
        .register(Platform::Discord, Arc::<Recorder>::clone(&discord));
    let on = |platform, event: &str, text: &str| {
        message(platform, ChatKind::Direct, "alice", event, text)
    };
    bot.handle(&on(Platform::Telegram, "t1", "/start")).await;
    bot.handle(&on(Platform::Discord, "d1", "/start")).await;
    let wallet = store
        .identity(Platform::Telegram, &PlatformUserId::new("alice").unwrap())
        .await
        .unwrap()
        .unwrap()
        .user;
    store
        .move_identity(
            Platform::Discord,
            &PlatformUserId::new("alice").unwrap(),
            wallet,
            db.ledger.now_ms(),
        )
        .await
        .unwrap();

    let asked = text_of(
        &bot.handle(&on(
            Platform::Discord,
            "d2",
            "/card add 4111 1111 1111 1111 12/30",
        ))
        .await,
    );
    assert!(asked.contains("To link Visa"), "{asked}");
    let none = text_of(&bot.handle(&on(Platform::Telegram, "t2", "/cards")).await);
    assert!(none.contains("You have no card linked"), "{none}");
    let code = support::word_after(&asked, "/confirm ");
    let linked = text_of(
        &bot.handle(&on(Platform::Discord, "d3", &format!("/confirm {code}")))
            .await,
    );
    assert!(linked.contains("Linked Visa"), "{linked}");
    bot.dispatcher().drain().await.unwrap();
    let told = text_of(&telegram.handed());
    assert!(
        told.contains("A card was linked to your paybot wallet: Visa •••• 1111, from your discord account @alice."),
        "{told}"
    );
    assert!(!told.contains("4111 1111"), "{told}");

    let asked = text_of(&bot.handle(&on(Platform::Discord, "d4", "/topup 50")).await);
    let code = support::word_after(&asked, "/confirm ");
    bot.handle(&on(Platform::Discord, "d5", &format!("/confirm {code}")))
        .await;
    // A day, the shipped `new_card` rule's wait (this bot has no rules).
    db.clock.advance(std::time::Duration::from_secs(86_400));
    let asked = text_of(
        &bot.handle(&on(Platform::Discord, "d6", "/cashout 20"))
            .await,
    );
    let code = support::word_after(&asked, "/confirm ");
    let sent = text_of(
        &bot.handle(&on(Platform::Discord, "d7", &format!("/confirm {code}")))
            .await,
    );
    assert!(sent.contains("Done: sent $20.00"), "{sent}");
    bot.dispatcher().drain().await.unwrap();
    let told = text_of(&telegram.handed());
    assert!(
        told.contains("A cash-out of $20.00 from your paybot wallet to Visa •••• 1111 was confirmed from your discord account @alice"),
        "{told}"
    );
    // The account that acted hears it in its replies, not twice.
    assert!(discord.handed().is_empty(), "{:?}", discord.handed());
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

cases!(card_notices {
    other_identities_are_told_of_a_new_card_and_a_cashout_on_sqlite(TestBackend::Sqlite),
    other_identities_are_told_of_a_new_card_and_a_cashout_on_postgres(TestBackend::Postgres),
});

// -- /link across platforms; wrong link codes from everyone -------------------

fn user_as(id: &str, handle: &str) -> User {
    User {
        id: PlatformUserId::new(id).unwrap(),
        handle: Some(Handle::parse(handle).unwrap()),
        display_name: format!("{handle} (display)"),
        is_bot: false,
    }
}

/// `text` from `sender` in their direct chat with the bot on `platform`.
fn direct(platform: Platform, sender: User, event: &str, text: &str) -> Incoming {
    Incoming {
        platform,
        event_id: EventId::new(event).unwrap(),
        chat: Chat {
            id: ChatId::new(format!("dm:{}", sender.id)).unwrap(),
            kind: ChatKind::Direct,
            title: None,
        },
        sender,
        text: text.to_owned(),
        mentions: Vec::new(),
        reply_to: None,
        message_id: None,
    }
}

async fn say(bot: &Bot, platform: Platform, sender: &User, event: &str, text: &str) -> String {
    text_of(
        &bot.handle(&direct(platform, sender.clone(), event, text))
            .await,
    )
}

/// Credits `minor` cents to the wallet `identity` uses.
async fn fund(db: &TestDb, store: &SqlStore, platform: Platform, id: &str, minor: i64) {
    let identity = store
        .identity(platform, &PlatformUserId::new(id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let wallet = db
        .wallet(&format!("user:{}", identity.user.0), Currency::USD)
        .await;
    db.fund(wallet, Amount::from_minor(minor, Currency::USD).unwrap())
        .await;
}

const MOCK_LINK_REFUSED: &str =
    "The mock chat is for development; its wallets can't be linked to Telegram or Discord.";

/// Play money never reaches a wallet a real identity uses: a link between
/// the mock chat and Telegram or Discord is refused, whichever side holds
/// the code. Telegram and Discord link as usual, after a confirmation that
/// names the wallet's accounts.
async fn mock_and_real_wallets_stay_apart(backend: TestBackend) {
    let Some((db, bot, store)) = setup_with_store(backend).await else {
        return;
    };
    let (tg, dc, mock) = (Platform::Telegram, Platform::Discord, Platform::Mock);
    let alice_tg = user_as("111", "alice");
    assert!(
        say(&bot, tg, &alice_tg, "t1", "/start")
            .await
            .contains("Welcome")
    );
    fund(&db, &store, tg, "111", 5_000).await;
    let alice_mock = person("alice_m");
    assert!(
        say(&bot, mock, &alice_mock, "m1", "/start")
            .await
            .contains("play money")
    );

    // Her Telegram code, sent from the mock chat: refused.
    let offered = say(&bot, tg, &alice_tg, "t2", "/link").await;
    let code = support::word_after(&offered, "/link ");
    let refused = say(&bot, mock, &alice_mock, "m2", &format!("/link {code}")).await;
    assert!(refused.contains(MOCK_LINK_REFUSED), "{refused}");
    let confirm = say(&bot, mock, &alice_mock, "m3", "/link confirm").await;
    assert!(confirm.contains("You have no link waiting"), "{confirm}");
    // A mock code, sent from Telegram: refused.
    let offered = say(&bot, mock, &alice_mock, "m4", "/link").await;
    let code = support::word_after(&offered, "/link ");
    let refused = say(&bot, tg, &alice_tg, "t3", &format!("/link {code}")).await;
    assert!(refused.contains(MOCK_LINK_REFUSED), "{refused}");
    let confirm = say(&bot, tg, &alice_tg, "t4", "/link confirm").await;
    assert!(confirm.contains("You have no link waiting"), "{confirm}");
    // Each kept its own wallet and money.
    let tg_identity = store.identity(tg, &alice_tg.id).await.unwrap().unwrap();
    let mock_identity = store.identity(mock, &alice_mock.id).await.unwrap().unwrap();
    assert_ne!(tg_identity.user, mock_identity.user);
    assert!(
        say(&bot, tg, &alice_tg, "t5", "/balance")
            .await
            .contains("Your balance: $50.00 available.")
    );
    assert!(
        say(&bot, mock, &alice_mock, "m5", "/balance")
            .await
            .contains("Your balance: $100.00 available.")
    );

    // Telegram and Discord: the confirmation names the wallet's account
    // (platform, handle, display name), and only the confirmation links.
    let alice_dc = user_as("222", "alice_d");
    say(&bot, dc, &alice_dc, "d1", "/start").await;
    let offered = say(&bot, tg, &alice_tg, "t6", "/link").await;
    let code = support::word_after(&offered, "/link ");
    let prompt = say(&bot, dc, &alice_dc, "d2", &format!("/link {code}")).await;
    assert!(
        prompt.contains("used by: Telegram @alice (alice (display))."),
        "{prompt}"
    );
    assert!(prompt.contains("/link confirm"), "{prompt}");
    let linked = say(&bot, dc, &alice_dc, "d3", "/link confirm").await;
    assert!(
        linked.contains("Linked: this Discord account now uses the same wallet as Telegram @alice"),
        "{linked}"
    );
    assert!(
        say(&bot, dc, &alice_dc, "d4", "/balance")
            .await
            .contains("Your balance: $50.00 available.")
    );
    // The joined wallet, now with a Discord account too: still no mock link.
    let offered = say(&bot, dc, &alice_dc, "d5", "/link").await;
    let code = support::word_after(&offered, "/link ");
    let refused = say(&bot, mock, &alice_mock, "m6", &format!("/link {code}")).await;
    assert!(refused.contains(MOCK_LINK_REFUSED), "{refused}");
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

cases!(mock_and_real_wallets_stay_apart {
    mock_and_real_wallets_are_never_linked_on_sqlite(TestBackend::Sqlite),
    mock_and_real_wallets_are_never_linked_on_postgres(TestBackend::Postgres),
});

/// Many accounts guessing link codes at once: after
/// `LINK_WRONG_CODES_GLOBAL_PER_MINUTE_MAX` wrong codes in a minute, every
/// `/link CODE` is refused until the minute is over.
async fn wrong_link_codes_bounded_globally(backend: TestBackend) {
    let Some((db, bot)) = setup(backend).await else {
        return;
    };
    let global = bot::service::LINK_WRONG_CODES_GLOBAL_PER_MINUTE_MAX;
    let per_identity = bot::service::LINK_WRONG_CODES_PER_IDENTITY_PER_HOUR_MAX;
    let guessers = global / per_identity + 2;
    let (mut wrong, mut refused) = (0, 0);
    for g in 0..guessers {
        let name = format!("guesser{g}");
        for n in 0..per_identity {
            let text = format!(
                "/link AAAAAA{}{}",
                char::from(b'A' + u8::try_from(g).unwrap()),
                char::from(b'A' + u8::try_from(n).unwrap())
            );
            let answer = text_of(&bot.handle(&dm(&name, &format!("{name}-{n}"), &text)).await);
            if answer.contains("That link code is wrong or has expired.") {
                wrong += 1;
            } else if answer.contains(
                "Too many link codes are being tried right now. Try again after 00:01 UTC.",
            ) {
                refused += 1;
            } else {
                panic!("unexpected answer: {answer}");
            }
        }
    }
    assert_eq!(wrong, global);
    assert_eq!(refused, guessers * per_identity - global);
    // A minute later, a new account may try again.
    db.clock.advance(std::time::Duration::from_secs(60));
    let answer = text_of(
        &bot.handle(&dm("latecomer", "late-1", "/link AAAAAAAA"))
            .await,
    );
    assert!(
        answer.contains("That link code is wrong or has expired."),
        "{answer}"
    );
    db.cleanup().await;
}

cases!(wrong_link_codes_bounded_globally {
    wrong_link_codes_are_bounded_globally_on_sqlite(TestBackend::Sqlite),
    wrong_link_codes_are_bounded_globally_on_postgres(TestBackend::Postgres),
});

// -- escrow and renamed handles -------------------------------------------------

/// Money held for `@carol` goes to an account paybot first sees after the
/// payment, never to a known user who renamed themselves `@carol`; the
/// payer is told so they can take it back.
async fn escrow_not_for_renamed_users(backend: TestBackend) {
    let Some((db, bot, store)) = setup_with_store(backend).await else {
        return;
    };
    let tg = Platform::Telegram;
    let outbox = Recorder::new(None);
    bot.dispatcher()
        .register(tg, Arc::<Recorder>::clone(&outbox));
    let minute = std::time::Duration::from_secs(60);
    // mallory has used paybot for a while.
    say(&bot, tg, &user_as("666", "mallory"), "1", "/start").await;
    db.clock.advance(minute);
    // alice pays @carol, whom paybot has never seen: held in escrow.
    let alice = user_as("100", "alice");
    say(&bot, tg, &alice, "2", "/start").await;
    fund(&db, &store, tg, "100", 10_000).await;
    let prompt = say(&bot, tg, &alice, "3", "/pay @carol 50").await;
    let code = support::word_after(&prompt, "/confirm ");
    let reference = reference_after(&prompt, "/cancel ");
    let held = say(&bot, tg, &alice, "4", &format!("/confirm {code}")).await;
    assert!(held.contains("is held for them"), "{held}");
    db.clock.advance(minute);

    // mallory renames herself @carol and starts paybot: nothing for her,
    // and nothing said about the payment.
    let renamed = user_as("666", "carol");
    let start = say(&bot, tg, &renamed, "5", "/start").await;
    assert!(!start.contains("before you joined"), "{start}");
    assert!(!start.contains("$50.00"), "{start}");
    assert!(!start.contains("alice"), "{start}");
    assert!(
        say(&bot, tg, &renamed, "6", "/balance")
            .await
            .contains("Your balance: $0.00 available."),
    );
    // alice is told, once, and can take it back.
    say(&bot, tg, &renamed, "7", "/start").await;
    bot.dispatcher().drain().await.unwrap();
    let told: Vec<Reply> = outbox
        .handed()
        .into_iter()
        .filter(|r| r.audience == Audience::Private(alice.id.clone()))
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].text.contains(&format!("/cancel {reference}"))
            && told[0].text.contains("I did not give it to them"),
        "{told:?}"
    );

    // The same between /pay and /confirm: a payment to unclaimed @dave is
    // not paid to mallory, renamed @dave meanwhile.
    let prompt = say(&bot, tg, &alice, "8", "/pay @dave 5").await;
    let code = support::word_after(&prompt, "/confirm ");
    db.clock.advance(minute);
    let as_dave = user_as("666", "dave");
    say(&bot, tg, &as_dave, "9", "/balance").await;
    let held = say(&bot, tg, &alice, "10", &format!("/confirm {code}")).await;
    assert!(held.contains("is held for them"), "{held}");
    assert!(
        say(&bot, tg, &as_dave, "11", "/balance")
            .await
            .contains("Your balance: $0.00 available."),
    );

    // The real carol, new to paybot, gets it.
    let carol = user_as("777", "carol");
    say(&bot, tg, &carol, "12", "/start").await;
    // Told through the outbox, in the commit that gave it to them.
    let waiting = db.ledger.outbox_undelivered(50).await.unwrap();
    assert!(
        waiting.iter().any(|m| m
            .message
            .payload()
            .contains("@alice sent you $50.00 before you joined")),
        "{waiting:?}"
    );
    assert!(
        say(&bot, tg, &carol, "13", "/balance")
            .await
            .contains("Your balance: $50.00 available.")
    );
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

cases!(escrow_not_for_renamed_users {
    escrow_is_not_released_to_a_renamed_known_user_on_sqlite(TestBackend::Sqlite),
    escrow_is_not_released_to_a_renamed_known_user_on_postgres(TestBackend::Postgres),
});

// -- requests are paid once ----------------------------------------------------

/// The requests `payer` (a mock user) is asked to pay, oldest first.
async fn requests_to(store: &SqlStore, payer: &str) -> Vec<bot::store::PaymentRequest> {
    let identity = store
        .identity(Platform::Mock, &PlatformUserId::new(payer).unwrap())
        .await
        .unwrap()
        .unwrap();
    store.requests_to_pay(identity.user, 100).await.unwrap()
}

/// The six-digit code after `/confirm ` in `text`.
fn code_in(text: &str) -> String {
    text.split("/confirm ")
        .nth(1)
        .unwrap_or_else(|| panic!("no code in {text}"))
        .chars()
        .take(6)
        .collect()
}

/// Two taps on Pay at once (two events, both reading the request open):
/// one payment starts, one code is sent; the other tap is told.
async fn double_tap(backend: TestBackend) {
    let Some((db, bot, store)) = setup_with_store(backend).await else {
        return;
    };
    bot.handle(&dm("alice", "s1", "/start")).await;
    bot.handle(&dm("bob", "s2", "/start")).await;
    const REQUESTS: usize = 6;
    for i in 0..REQUESTS {
        bot.handle(&dm("bob", &format!("r{i}"), "/request @alice 1 for tea"))
            .await;
    }
    let requests = requests_to(&store, "alice").await;
    assert_eq!(requests.len(), REQUESTS);
    for (i, request) in requests.iter().enumerate() {
        let text = format!("/approve {}", request.reference);
        let first = dm("alice", &format!("a{i}"), &text);
        let second = dm("alice", &format!("b{i}"), &text);
        let (one, two) = tokio::join!(bot.handle(&first), bot.handle(&second));
        let codes = [&one, &two]
            .iter()
            .filter(|replies| text_of(replies).contains("/confirm "))
            .count();
        assert_eq!(
            codes, 1,
            "request {} double-tapped: {one:?} {two:?}",
            request.reference
        );
        // Cancelled (at most three payments wait for a code at once).
        let asked = text_of(&one) + &text_of(&two);
        let payment = reference_after(&asked, "/cancel ");
        bot.handle(&dm(
            "alice",
            &format!("c{i}"),
            &format!("/cancel {payment}"),
        ))
        .await;
    }
    assert_eq!(
        support::payments_of(&store, Platform::Mock, "alice").await,
        REQUESTS
    );
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

cases!(double_tap {
    a_request_tapped_twice_at_once_starts_one_payment_on_sqlite(TestBackend::Sqlite),
    a_request_tapped_twice_at_once_starts_one_payment_on_postgres(TestBackend::Postgres),
});

/// A request that leaves `approved` while its payment waits for the code
/// (declined, withdrawn by its biller): the code no longer pays, the money
/// goes back, the request is never marked paid over its decline. And the
/// payer cannot decline a request whose payment is in progress.
async fn request_changed_under_its_payment(backend: TestBackend) {
    let Some((db, bot, store)) = setup_with_store(backend).await else {
        return;
    };
    bot.handle(&dm("alice", "s1", "/start")).await;
    bot.handle(&dm("bob", "s2", "/start")).await;
    bot.handle(&dm("bob", "r1", "/request @alice 5 for lunch"))
        .await;
    let request = requests_to(&store, "alice").await.remove(0);
    let asked = text_of(
        &bot.handle(&dm(
            "alice",
            "a1",
            &format!("/approve {}", request.reference),
        ))
        .await,
    );
    let code = code_in(&asked);

    // Declining while the payment waits is refused: it may still complete.
    let refused = text_of(
        &bot.handle(&dm(
            "alice",
            "d1",
            &format!("/decline {}", request.reference),
        ))
        .await,
    );
    assert!(
        refused.contains("already has a payment in progress"),
        "{refused}"
    );

    // Withdrawn meanwhile (as a biller's cancel would, racing the code).
    let mut now = store.request(&request.reference).await.unwrap().unwrap();
    assert_eq!(now.state, bot::store::RequestState::Approved);
    now.state = bot::store::RequestState::Declined;
    assert!(store.update_request(&now).await.unwrap());

    let late = text_of(
        &bot.handle(&dm("alice", "c1", &format!("/confirm {code}")))
            .await,
    );
    assert!(late.contains("can no longer be confirmed"), "{late}");
    assert!(
        balance_text(&bot, "alice", "b1").await.contains("$100.00"),
        "alice paid a withdrawn request"
    );
    assert!(balance_text(&bot, "bob", "b2").await.contains("$100.00"));
    let after = store.request(&request.reference).await.unwrap().unwrap();
    assert_eq!(after.state, bot::store::RequestState::Declined);
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

cases!(request_changed_under_its_payment {
    a_code_for_a_request_withdrawn_meanwhile_pays_nothing_on_sqlite(TestBackend::Sqlite),
    a_code_for_a_request_withdrawn_meanwhile_pays_nothing_on_postgres(TestBackend::Postgres),
});

/// An invoice retried under its key with other fields (amount, payer,
/// description) sends nothing: never a second payable request.
async fn invoice_retried_with_other_fields(backend: TestBackend) {
    let Some((db, bot, store)) = setup_with_store(backend).await else {
        return;
    };
    for (who, event) in [("alice", "s1"), ("bob", "s2"), ("carol", "s3")] {
        bot.handle(&dm(who, event, "/start")).await;
    }
    let identity = |name: &'static str| {
        let store = Arc::clone(&store);
        async move {
            store
                .identity(Platform::Mock, &PlatformUserId::new(name).unwrap())
                .await
                .unwrap()
                .unwrap()
        }
    };
    let (biller, alice, bob) = (
        identity("carol").await,
        identity("alice").await,
        identity("bob").await,
    );
    let usd = |minor| Amount::from_minor(minor, Currency::USD).unwrap();
    let memo = |text: &str| bot::command::Memo::parse(text).unwrap();
    let send = |payer, minor, text: &'static str| {
        let (bot, biller) = (Arc::clone(&bot), biller.clone());
        async move {
            bot.send_invoice(
                &biller,
                &payer,
                usd(minor),
                memo(text),
                4_000_000_000_000,
                "7:INV-1",
            )
            .await
            .unwrap()
        }
    };
    let first = send(alice.clone(), 500, "Power").await.expect("sent");
    let again = send(alice.clone(), 500, "Power").await.expect("the same");
    assert_eq!(again.reference, first.reference);
    assert!(
        send(alice.clone(), 900, "Power").await.is_none(),
        "another amount"
    );
    assert!(
        send(alice.clone(), 500, "Water").await.is_none(),
        "another description"
    );
    assert!(
        send(bob.clone(), 500, "Power").await.is_none(),
        "another payer"
    );
    assert_eq!(requests_to(&store, "alice").await.len(), 1);
    assert_eq!(requests_to(&store, "alice").await[0].amount, usd(500));
    assert!(requests_to(&store, "bob").await.is_empty());
    db.cleanup().await;
}

cases!(invoice_retried_with_other_fields {
    an_invoice_retried_with_other_fields_sends_nothing_on_sqlite(TestBackend::Sqlite),
    an_invoice_retried_with_other_fields_sends_nothing_on_postgres(TestBackend::Postgres),
});

/// A request past its expiry cannot be approved even before the sweep
/// marked it (the sweep runs every second, but a request is judged by its
/// date, not by whether the sweep came by); nothing is reserved. The
/// sweep then marks it expired, both sides told once.
async fn expired_request_refused_before_the_sweep(backend: TestBackend) {
    let Some((db, bot, store)) = setup_with_store(backend).await else {
        return;
    };
    bot.handle(&dm("alice", "s1", "/start")).await;
    bot.handle(&dm("bob", "s2", "/start")).await;
    bot.handle(&dm("bob", "r1", "/request @alice 5 for lunch"))
        .await;
    let request = requests_to(&store, "alice").await.remove(0);
    let ttl = bot::BotConfig::default().request_ttl_secs;
    db.clock
        .advance(std::time::Duration::from_secs(u64::from(ttl) + 1));
    let refused = text_of(
        &bot.handle(&dm(
            "alice",
            "a1",
            &format!("/approve {}", request.reference),
        ))
        .await,
    );
    assert!(refused.contains("so it can no longer be paid"), "{refused}");
    assert!(!refused.contains("/confirm"), "{refused}");
    assert!(
        balance_text(&bot, "alice", "b1")
            .await
            .contains("$100.00 available.")
    );
    assert_eq!(bot.sweep().await.unwrap(), 1);
    assert_eq!(bot.sweep().await.unwrap(), 0, "expired once");
    let after = store.request(&request.reference).await.unwrap().unwrap();
    assert_eq!(after.state, bot::store::RequestState::Expired);
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

cases!(expired_request_refused_before_the_sweep {
    expired_request_refused_before_the_sweep_on_sqlite(TestBackend::Sqlite),
    expired_request_refused_before_the_sweep_on_postgres(TestBackend::Postgres),
});

fn group(from: &str, event: &str, text: &str) -> Incoming {
    message(Platform::Mock, ChatKind::Group, from, event, text)
}

/// Alice and Bob on a group tab where Bob owes Alice $30.00.
async fn bob_owes_alice_30(bot: &Bot) {
    bot.handle(&dm("alice", "t-s1", "/start")).await;
    bot.handle(&dm("bob", "t-s2", "/start")).await;
    bot.handle(&group("bob", "t-hi", "hi")).await;
    let added = text_of(
        &bot.handle(&group("alice", "t-e1", "/expense 60 for cab"))
            .await,
    );
    assert!(added.contains("on the tab"), "{added}");
}

/// The settlements through paybot the payer's DMs asked a code for.
fn codes_asked(replies: &[Reply]) -> usize {
    private(replies)
        .iter()
        .filter(|r| r.text.contains("/confirm "))
        .count()
}

/// Two `/settle` at once (a double tap on Settle): one payment for the
/// debt, not two.
async fn settle_double_tap(backend: TestBackend) {
    let Some((db, bot, _store)) = setup_with_store(backend).await else {
        return;
    };
    bob_owes_alice_30(&bot).await;
    for round in 0..3 {
        let first = group("bob", &format!("t-a{round}"), "/settle");
        let second = group("bob", &format!("t-b{round}"), "/settle");
        let (one, two) = tokio::join!(bot.handle(&first), bot.handle(&second));
        assert_eq!(
            codes_asked(&one) + codes_asked(&two),
            1,
            "round {round}: {one:?} {two:?}"
        );
        let asked = text_of(&one) + &text_of(&two);
        let payment = reference_after(&asked, "/cancel ");
        bot.handle(&dm(
            "bob",
            &format!("t-c{round}"),
            &format!("/cancel {payment}"),
        ))
        .await;
    }
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

cases!(settle_double_tap {
    settle_tapped_twice_at_once_starts_one_payment_on_sqlite(TestBackend::Sqlite),
    settle_tapped_twice_at_once_starts_one_payment_on_postgres(TestBackend::Postgres),
});

/// A `/settle` handled again (its outcome not stored) after the tab
/// changed pays what its settlement records, to whom it records.
async fn settle_redelivered_after_the_tab_changed(backend: TestBackend) {
    let Some((db, bot, store)) = setup_with_store(backend).await else {
        return;
    };
    bob_owes_alice_30(&bot).await;
    let first = text_of(&bot.handle(&group("bob", "t-settle", "/settle")).await);
    assert!(first.contains("$30.00"), "{first}");
    // Bob now owes $80.00; the first turn's outcome is lost.
    bot.handle(&group("alice", "t-e2", "/expense 100 for dinner"))
        .await;
    bot.outcomes_committed().await;
    store.forget_events(i64::MAX).await.unwrap();
    let again = bot.handle(&group("bob", "t-settle", "/settle")).await;
    let text = text_of(&again);
    assert!(!text.contains("$80.00"), "{text}");
    let tab = text_of(&bot.handle(&group("alice", "t-tab", "/tab")).await);
    assert!(tab.contains("@bob owes @alice $80.00"), "{tab}");
    // Its code pays $30.00, and the tab counts $30.00.
    let code = code_in(&text);
    let done = text_of(
        &bot.handle(&dm("bob", "t-confirm", &format!("/confirm {code}")))
            .await,
    );
    assert!(done.contains("$30.00"), "{done}");
    let tab = text_of(&bot.handle(&group("alice", "t-tab2", "/tab")).await);
    assert!(tab.contains("@bob owes @alice $50.00"), "{tab}");
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

cases!(settle_redelivered_after_the_tab_changed {
    a_redelivered_settle_pays_what_its_settlement_records_on_sqlite(TestBackend::Sqlite),
    a_redelivered_settle_pays_what_its_settlement_records_on_postgres(TestBackend::Postgres),
});

/// Outcomes are committed after the answer, without holding it up; once
/// `outcomes_committed` returns, every message handled has its outcome in
/// the database, so a restart (or a second process) answers a
/// redelivery from it instead of handling the message again.
async fn outcomes_are_committed_when_told(backend: TestBackend) {
    let Some((db, bot, store)) = setup_with_store(backend).await else {
        return;
    };
    bot.handle(&dm("alice", "o-start", "/start")).await;
    bot.handle(&dm("bob", "o-start2", "/start")).await;
    let asked = text_of(&bot.handle(&dm("alice", "o-pay", "/pay @bob 4")).await);
    let code = code_in(&asked);
    for n in 0..20 {
        bot.handle(&dm("bob", &format!("o-balance-{n}"), "/balance"))
            .await;
    }
    bot.outcomes_committed().await;
    for event in (0..20)
        .map(|n| format!("o-balance-{n}"))
        .chain(["o-pay".to_owned()])
    {
        let stored = store
            .event_outcome(Platform::Mock, &EventId::new(&event).unwrap())
            .await
            .unwrap();
        assert!(stored.is_some(), "{event} has no stored outcome");
    }
    // A second process on the same database answers the redelivered
    // `/pay` from it: no fresh code.
    let second = support::another_bot_on(&db);
    let again = text_of(&second.handle(&dm("alice", "o-pay", "/pay @bob 4")).await);
    assert!(again.contains("(the code I sent you)"), "{again}");
    assert!(!again.contains(&code), "{again}");
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

cases!(outcomes_are_committed_when_told {
    outcomes_are_in_the_database_once_committed_on_sqlite(TestBackend::Sqlite),
    outcomes_are_in_the_database_once_committed_on_postgres(TestBackend::Postgres),
});

/// Alice, Bob and Carol on a group tab where Bob owes Alice $30.00 and
/// Carol $20.00.
async fn bob_owes_alice_and_carol(bot: &Bot) {
    for (who, event) in [("alice", "m-s1"), ("bob", "m-s2"), ("carol", "m-s3")] {
        bot.handle(&dm(who, event, "/start")).await;
    }
    bot.handle(&group("bob", "m-hi", "hi")).await;
    bot.handle(&group("carol", "m-hi2", "hi")).await;
    for (who, event, text) in [
        ("alice", "m-e1", "/expense 30 split @bob for pizza"),
        ("carol", "m-e2", "/expense 20 split @bob for cab"),
    ] {
        let added = text_of(&bot.handle(&group(who, event, text)).await);
        assert!(added.contains("on the tab"), "{added}");
    }
}

/// Two `/settle` at once from someone who owes two people: one payment
/// group for both debts, not two; cancelled, the tab is as it was.
async fn settle_many_double_tap(backend: TestBackend) {
    let Some((db, bot, _store)) = setup_with_store(backend).await else {
        return;
    };
    bob_owes_alice_and_carol(&bot).await;
    for round in 0..3 {
        let first = group("bob", &format!("m-a{round}"), "/settle");
        let second = group("bob", &format!("m-b{round}"), "/settle");
        let (one, two) = tokio::join!(bot.handle(&first), bot.handle(&second));
        assert_eq!(
            codes_asked(&one) + codes_asked(&two),
            1,
            "round {round}: {one:?} {two:?}"
        );
        let asked = text_of(&one) + &text_of(&two);
        assert!(
            asked.contains("@alice $30.00, @carol $20.00 (total $50.00)"),
            "{asked}"
        );
        // The other tap is told its settlements wait, not "square".
        assert!(asked.contains("is already waiting"), "{asked}");
        assert!(!asked.contains("square"), "{asked}");
        let payment = reference_after(&asked, "/cancel ");
        assert!(payment.starts_with('G'), "{payment}");
        bot.handle(&dm(
            "bob",
            &format!("m-c{round}"),
            &format!("/cancel {payment}"),
        ))
        .await;
    }
    let tab = text_of(&bot.handle(&group("alice", "m-tab", "/tab")).await);
    assert!(tab.contains("@bob owes @alice $30.00"), "{tab}");
    assert!(tab.contains("@bob owes @carol $20.00"), "{tab}");
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

cases!(settle_many_double_tap {
    settle_to_two_tapped_twice_at_once_starts_one_group_on_sqlite(TestBackend::Sqlite),
    settle_to_two_tapped_twice_at_once_starts_one_group_on_postgres(TestBackend::Postgres),
});

/// A `/settle` to several people handled again (its outcome not stored)
/// after the tab changed pays what its settlements record, once.
async fn settle_many_redelivered_after_the_tab_changed(backend: TestBackend) {
    let Some((db, bot, store)) = setup_with_store(backend).await else {
        return;
    };
    bob_owes_alice_and_carol(&bot).await;
    let first = text_of(&bot.handle(&group("bob", "m-settle", "/settle")).await);
    assert!(first.contains("(total $50.00)"), "{first}");
    // Bob now owes Alice $130.00; the first turn's outcome is lost.
    bot.handle(&group("alice", "m-e3", "/expense 100 split @bob for rent"))
        .await;
    bot.outcomes_committed().await;
    store.forget_events(i64::MAX).await.unwrap();
    let again = text_of(&bot.handle(&group("bob", "m-settle", "/settle")).await);
    assert!(
        again.contains("@alice $30.00, @carol $20.00 (total $50.00)"),
        "{again}"
    );
    // The fresh code pays both, once; the tab counts both settlements.
    let code = code_in(&again);
    let done = text_of(
        &bot.handle(&dm("bob", "m-confirm", &format!("/confirm {code}")))
            .await,
    );
    assert!(
        done.contains("Done: you paid @alice $30.00, @carol $20.00"),
        "{done}"
    );
    let tab = text_of(&bot.handle(&group("alice", "m-tab", "/tab")).await);
    assert!(tab.contains("@bob owes @alice $100.00"), "{tab}");
    assert!(!tab.contains("@carol"), "{tab}");
    assert!(tab.contains("2 settlements counted"), "{tab}");
    let balance = text_of(&bot.handle(&dm("bob", "m-bal", "/balance")).await);
    assert!(balance.contains("$50.00 available"), "{balance}");
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

cases!(settle_many_redelivered_after_the_tab_changed {
    a_redelivered_settle_to_two_pays_what_its_settlements_record_on_sqlite(TestBackend::Sqlite),
    a_redelivered_settle_to_two_pays_what_its_settlements_record_on_postgres(TestBackend::Postgres),
});

/// A request approved but whose payment ended without paying (its code ran
/// out) is payable again, so past its date the sweep expires it like an open
/// one; it must not stay "approved" for ever, listed but never payable.
async fn approved_request_whose_payment_lapsed_expires(backend: TestBackend) {
    let Some((db, bot, store)) = setup_with_store(backend).await else {
        return;
    };
    bot.handle(&dm("alice", "s1", "/start")).await;
    bot.handle(&dm("bob", "s2", "/start")).await;
    bot.handle(&dm("bob", "r1", "/request @alice 5 for lunch"))
        .await;
    let request = requests_to(&store, "alice").await.remove(0);
    let approved = text_of(
        &bot.handle(&dm(
            "alice",
            "a1",
            &format!("/approve {}", request.reference),
        ))
        .await,
    );
    assert!(approved.contains("/confirm"), "{approved}");
    let ttl = bot::BotConfig::default().request_ttl_secs;
    db.clock
        .advance(std::time::Duration::from_secs(u64::from(ttl) + 1));
    // The payment's code runs out first, then the request.
    bot.sweep().await.unwrap();
    bot.sweep().await.unwrap();
    let after = store.request(&request.reference).await.unwrap().unwrap();
    assert_eq!(after.state, bot::store::RequestState::Expired);
    assert!(
        balance_text(&bot, "alice", "b1")
            .await
            .contains("$100.00 available.")
    );
    assert!(db.ledger.verify().await.unwrap().is_empty());
    db.cleanup().await;
}

cases!(approved_request_whose_payment_lapsed_expires {
    approved_request_whose_payment_lapsed_expires_on_sqlite(TestBackend::Sqlite),
    approved_request_whose_payment_lapsed_expires_on_postgres(TestBackend::Postgres),
});

mod settle_review;
