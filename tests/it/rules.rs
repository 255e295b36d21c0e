//! The fraud and velocity rules on a real store and ledger: payments made
//! through the bot are the facts (`Bot::evaluate_rules`), and every rule
//! that fires is in the audit log with its inputs.

use std::sync::Arc;
use std::time::Duration;

use bot::message::{
    Chat, ChatId, ChatKind, EventId, Handle, Incoming, Platform, PlatformUserId, User,
};
use bot::otp::{OsRandom, Pepper};
use bot::store::{Store, UserId};
use bot::trust::rules::{ActionKind, Condition, PerCurrency, Rule, RuleName, RulesPolicy};
use bot::trust::{AuditFilter, AuditKind, TrustAction, TrustConfig, TrustStore, Verdict};
use bot::{Bot, BotConfig};
use ledger::testing::{TestBackend, TestDb};
use ledger::{Amount, Currency};
use paybot_store::{BOT_MIGRATIONS, SqlStore};

use crate::support::{cases, word_after};

fn usd(major: i64) -> Amount {
    Amount::from_minor(major * 100, Currency::USD).unwrap()
}

fn rule(name: &str, condition: Condition, action: Verdict, on: &[ActionKind]) -> Rule {
    Rule::new(RuleName::new(name).unwrap(), condition, action, on.to_vec()).unwrap()
}

fn figures(major: i64) -> PerCurrency {
    PerCurrency::new(vec![usd(major)]).unwrap()
}

/// A bot on a fresh database with these rules; mock users get $100.00.
async fn bot_with_rules(
    backend: TestBackend,
    rules: Vec<Rule>,
) -> Option<(TestDb, Arc<Bot>, Arc<SqlStore>)> {
    let db = TestDb::fresh(backend).await?;
    db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
    let config = BotConfig {
        mock_opening_balance: Some(usd(100)),
        trust: TrustConfig {
            rules: RulesPolicy::new(rules).unwrap(),
            ..TrustConfig::default()
        },
        ..BotConfig::default()
    };
    let store = Arc::new(SqlStore::new(&db.ledger));
    let bot = Bot::new(
        db.ledger.clone(),
        Arc::<SqlStore>::clone(&store),
        config,
        Pepper::generate(&OsRandom),
        Arc::new(OsRandom),
    );
    Some((db, bot, store))
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
        message_id: None,
    }
}

/// Sends one message and returns the replies' text.
async fn say(bot: &Bot, from: &str, text: &str) -> String {
    let event = format!("{from}-{}", next_event());
    let replies = bot.handle(&dm(from, &event, text)).await;
    replies
        .iter()
        .map(|r| r.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A number unique per call, for event ids.
fn next_event() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

/// `from` pays `to` `amount` through the bot, code and all.
async fn pay(bot: &Bot, from: &str, to: &str, amount: &str) {
    let asked = say(bot, from, &format!("/pay @{to} {amount}")).await;
    let code = word_after(&asked, "/confirm ");
    let done = say(bot, from, &format!("/confirm {code}")).await;
    assert!(
        done.contains("Paid") || done.contains("paid") || done.contains("Sent"),
        "{done}"
    );
}

async fn user(store: &SqlStore, name: &str) -> UserId {
    store
        .identity(Platform::Mock, &PlatformUserId::new(name).unwrap())
        .await
        .unwrap()
        .unwrap()
        .user
}

async fn rule_audits(
    store: &SqlStore,
    user: UserId,
) -> Vec<serde_json::Map<String, serde_json::Value>> {
    store
        .audit_entries(&AuditFilter {
            user: Some(user),
            kind: Some(AuditKind::RuleFired),
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.entry.details)
        .collect()
}

async fn payments_are_the_facts(backend: TestBackend) {
    let rules = vec![
        rule(
            "velocity",
            Condition::PaymentsPerHour { max: 3 },
            Verdict::Refuse,
            &[ActionKind::Payment],
        ),
        rule(
            "first_large",
            Condition::FirstPaymentToPayee { above: figures(20) },
            Verdict::SecondFactor,
            &[ActionKind::Payment],
        ),
        rule(
            "new_payees",
            Condition::NewPayeesBurst {
                count: 3,
                within_hours: 1,
            },
            Verdict::Hold,
            &[ActionKind::Payment],
        ),
        rule(
            "structuring",
            Condition::Structuring {
                count: 2,
                within_percent: 10,
                threshold: figures(10),
            },
            Verdict::Hold,
            &[ActionKind::Payment],
        ),
    ];
    let Some((db, bot, store)) = bot_with_rules(backend, rules).await else {
        return;
    };
    for name in ["alice", "bob", "carol", "dave"] {
        say(&bot, name, "/start").await;
    }
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    let dave = user(&store, "dave").await;
    pay(&bot, "alice", "bob", "9.50").await;
    pay(&bot, "alice", "carol", "2").await;

    // A large first payment to Dave: second factor; to Bob, paid before:
    // nothing. A third new payee in the hour: held.
    let now = db.ledger.now_ms();
    let to_dave = TrustAction::Payment {
        payer: alice,
        payee: Some(dave),
        amount: usd(25),
    };
    let verdict = bot.evaluate_rules(&to_dave, now).await.unwrap();
    let fired: Vec<&str> = verdict.fired.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(fired, ["first_large", "new_payees"]);
    assert_eq!(verdict.verdict, Verdict::Hold);
    assert_eq!(verdict.fired[1].inputs["new_payees"], 3);
    let to_bob = TrustAction::Payment {
        payer: alice,
        payee: Some(bob),
        amount: usd(25),
    };
    let verdict = bot.evaluate_rules(&to_bob, now).await.unwrap();
    assert_eq!(verdict.verdict, Verdict::Allow, "{verdict:?}");

    // A second payment just under 10.00 within 24 h: structuring.
    let under = TrustAction::Payment {
        payer: alice,
        payee: Some(bob),
        amount: Amount::from_minor(950, Currency::USD).unwrap(),
    };
    let verdict = bot.evaluate_rules(&under, now).await.unwrap();
    assert_eq!(verdict.verdict, Verdict::Hold);
    assert_eq!(verdict.fired[0].rule, "structuring");
    assert_eq!(verdict.fired[0].inputs["payments_just_under_24h"], 2);

    // A third payment in the hour makes the fourth refused, with the time
    // the first leaves the hour.
    pay(&bot, "alice", "bob", "1").await;
    let verdict = bot.evaluate_rules(&to_bob, now).await.unwrap();
    assert_eq!(verdict.verdict, Verdict::Refuse);
    let velocity = verdict.deciding().unwrap();
    assert_eq!(velocity.rule, "velocity");
    assert_eq!(velocity.inputs["payments_last_hour"], 3);
    assert_eq!(velocity.inputs["retry_at_ms"], now + 3_600_000);

    // An hour later, all of it is forgotten but structuring's 24 h.
    db.clock.advance(Duration::from_secs(3_600));
    let later = db.ledger.now_ms();
    assert_eq!(
        bot.evaluate_rules(&to_bob, later).await.unwrap().verdict,
        Verdict::Allow
    );
    assert_eq!(
        bot.evaluate_rules(&under, later).await.unwrap().verdict,
        Verdict::Hold
    );

    // The operator sees each rule that fired, with its inputs.
    let audits = rule_audits(&store, alice).await;
    let rules: Vec<&str> = audits.iter().map(|d| d["rule"].as_str().unwrap()).collect();
    assert_eq!(
        rules,
        [
            "first_large",
            "new_payees",
            "structuring",
            "velocity",
            "structuring"
        ]
    );
    assert_eq!(audits[0]["action"], "second_factor");
    assert_eq!(audits[0]["condition"], "first_payment_to_payee");
    assert_eq!(audits[0]["on"], "payment");
    assert_eq!(audits[0]["amount"], "25.00 USD");
    assert_eq!(audits[0]["inputs"]["above"], "20.00 USD");
    assert_eq!(audits[0]["inputs"]["payee"], dave.0);
    db.cleanup().await;
}

async fn money_in_and_out_are_the_facts(backend: TestBackend) {
    let rules = vec![
        rule(
            "pass_through",
            Condition::PassThrough {
                within_mins: 30,
                percent: 80,
                received_at_least: figures(50),
            },
            Verdict::Hold,
            &[ActionKind::CashOut],
        ),
        rule(
            "new_account",
            Condition::NewAccount {
                younger_than_days: 7,
                above: figures(150),
            },
            Verdict::Hold,
            &[ActionKind::CashOut, ActionKind::Payment],
        ),
        rule(
            "new_card",
            Condition::NewCard { within_hours: 24 },
            Verdict::Refuse,
            &[ActionKind::CashOut],
        ),
    ];
    let Some((db, bot, store)) = bot_with_rules(backend, rules).await else {
        return;
    };
    let start = db.ledger.now_ms();
    say(&bot, "alice", "/start").await;
    say(&bot, "bob", "/start").await;
    say(&bot, "carol", "/start").await;
    let alice = user(&store, "alice").await;
    db.clock.advance(Duration::from_secs(3_600));
    // Alice's own opening money is no pass-through: 80 of it out is fine.
    let card_added = start - 2 * 86_400_000;
    let out = |minor: i64| TrustAction::CashOut {
        user: alice,
        amount: Amount::from_minor(minor, Currency::USD).unwrap(),
        card_added_at_ms: card_added,
    };
    let now = db.ledger.now_ms();
    assert_eq!(
        bot.evaluate_rules(&out(8_000), now).await.unwrap().verdict,
        Verdict::Allow
    );
    // Bob and Carol pay her 60 + 40; 80 of it out within 30 minutes: held.
    pay(&bot, "bob", "alice", "60").await;
    db.clock.advance(Duration::from_secs(10 * 60));
    pay(&bot, "carol", "alice", "40").await;
    let now = db.ledger.now_ms();
    let verdict = bot.evaluate_rules(&out(8_000), now).await.unwrap();
    assert_eq!(verdict.verdict, Verdict::Hold);
    assert_eq!(verdict.fired[0].rule, "pass_through");
    assert_eq!(verdict.fired[0].inputs["received"], "100.00 USD");
    assert_eq!(
        bot.evaluate_rules(&out(7_999), now).await.unwrap().verdict,
        Verdict::Allow
    );
    // 21 minutes on, Bob's 60 is out of the window: 40 came in, under 50.
    db.clock.advance(Duration::from_secs(21 * 60));
    let now = db.ledger.now_ms();
    assert_eq!(
        bot.evaluate_rules(&out(8_000), now).await.unwrap().verdict,
        Verdict::Allow
    );

    // The wallet began when Alice started: younger than 7 days, 150.01 out
    // is held; after 7 days it is not.
    let verdict = bot.evaluate_rules(&out(15_001), now).await.unwrap();
    assert_eq!(verdict.verdict, Verdict::Hold);
    assert_eq!(verdict.fired[0].rule, "new_account");
    assert_eq!(verdict.fired[0].inputs["account_since_ms"], start);
    db.clock.advance(Duration::from_secs(7 * 86_400));
    let now = db.ledger.now_ms();
    assert_eq!(
        bot.evaluate_rules(&out(15_001), now).await.unwrap().verdict,
        Verdict::Allow
    );

    // A card linked an hour ago: refused until 24 h after.
    let fresh_card = TrustAction::CashOut {
        user: alice,
        amount: usd(1),
        card_added_at_ms: now - 3_600_000,
    };
    let verdict = bot.evaluate_rules(&fresh_card, now).await.unwrap();
    assert_eq!(verdict.verdict, Verdict::Refuse);
    assert_eq!(
        verdict.fired[0].inputs["possible_from_ms"],
        now - 3_600_000 + 86_400_000
    );

    // Euros have no figures: nothing fires but the card's wait.
    let euros = TrustAction::CashOut {
        user: alice,
        amount: Amount::from_minor(1_000_000, Currency::EUR).unwrap(),
        card_added_at_ms: card_added,
    };
    assert_eq!(
        bot.evaluate_rules(&euros, now).await.unwrap().verdict,
        Verdict::Allow
    );
    let audits = rule_audits(&store, alice).await;
    let rules: Vec<&str> = audits.iter().map(|d| d["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, ["pass_through", "new_account", "new_card"]);
    assert_eq!(audits[0]["on"], "cashout");
    db.cleanup().await;
}

cases!(payments_are_the_facts {
    payments_are_the_facts_on_sqlite(TestBackend::Sqlite),
    payments_are_the_facts_on_postgres(TestBackend::Postgres),
});

cases!(money_in_and_out_are_the_facts {
    money_in_and_out_are_the_facts_on_sqlite(TestBackend::Sqlite),
    money_in_and_out_are_the_facts_on_postgres(TestBackend::Postgres),
});
