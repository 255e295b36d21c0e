//! Verification-tier limits under concurrency, on a real SQLite file and a
//! real PostgreSQL database: 64 payments at once to one payee whose limit
//! fits exactly 10 of them, and exactly 10 go through (the allowance, or
//! the balance condition, is checked in the same commit as the payment),
//! with the ledger sound afterwards.

use std::sync::Arc;

use bot::message::{
    Audience, Chat, ChatId, ChatKind, EventId, Handle, Incoming, MessageId, Platform,
    PlatformUserId, User,
};
use bot::otp::{OsRandom, Pepper};
use bot::store::Store as _;
use bot::trust::limits::{CurrencyLimits, LimitKind, LimitsPolicy};
use bot::trust::{AuditFilter, AuditKind, Tier, TrustConfig, TrustStore as _};
use bot::{Bot, BotConfig};
use ledger::testing::{TestBackend, TestDb};
use ledger::{Amount, Currency, OwnerRef};
use paybot_store::{BOT_MIGRATIONS, SqlStore};

use crate::support::cases;

/// Payments made at once.
const CONCURRENT_PAYMENTS: usize = 64;
/// How many of them the payee's limit fits.
const FITS: usize = 10;
/// Each payment, in cents.
const PAYMENT_MINOR: i64 = 100;
/// Every user's play money, in cents.
const OPENING_MINOR: i64 = 10_000;

fn usd(minor: i64) -> Amount {
    Amount::from_minor(minor, Currency::USD).unwrap()
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
        message_id: Some(MessageId::new(format!("msg-{event}")).unwrap()),
    }
}

/// Which of the payee's limits is the one that fits exactly [`FITS`].
#[derive(Clone, Copy, Debug)]
enum Binding {
    /// Received in 30 days: an allowance account, used by pending transfers.
    Received,
    /// The balance held: the payment's own credit-balance condition.
    Balance,
}

async fn sixty_four_payments_ten_fit(backend: TestBackend, binding: Binding) {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn")
        .try_init();
    let Some(db) = TestDb::fresh(backend).await else {
        return; // PostgreSQL absent outside CI: skipped loudly by TestDb.
    };
    db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
    let fits = i64::try_from(FITS).unwrap() * PAYMENT_MINOR;
    let roomy = CurrencyLimits::all(usd(1_000_000));
    let table = match binding {
        Binding::Received => roomy.with(LimitKind::Received30d, usd(fits)),
        Binding::Balance => roomy.with(LimitKind::Balance, usd(OPENING_MINOR + fits)),
    };
    let config = BotConfig {
        mock_opening_balance: Some(usd(OPENING_MINOR)),
        trust: TrustConfig {
            limits: LimitsPolicy::default().with_table(Tier::ZERO, table),
            ..TrustConfig::default()
        },
        ..BotConfig::default()
    };
    let store = Arc::new(SqlStore::new(&db.ledger));
    let bot: Arc<Bot> = Bot::new(
        db.ledger.clone(),
        Arc::<SqlStore>::clone(&store),
        config,
        Pepper::generate(&OsRandom),
        Arc::new(OsRandom),
    );
    bot.handle(&dm("bob", "start-bob", "/start")).await;
    let payers: Vec<String> = (0..CONCURRENT_PAYMENTS)
        .map(|i| format!("payer{i:02}"))
        .collect();
    for payer in &payers {
        bot.handle(&dm(payer, &format!("start-{payer}"), "/start"))
            .await;
    }

    let mut tasks = tokio::task::JoinSet::new();
    for payer in payers {
        let bot = Arc::clone(&bot);
        tasks.spawn(async move {
            let replies = bot
                .handle(&dm(&payer, &format!("pay-{payer}"), "/pay @bob 1"))
                .await;
            replies
                .into_iter()
                .filter(|r| matches!(r.audience, Audience::Private(_)))
                .map(|r| r.text)
                .collect::<Vec<String>>()
                .join("\n")
        });
    }
    let mut through = 0;
    let mut refused = 0;
    let mut other = Vec::new();
    while let Some(answer) = tasks.join_next().await {
        let answer = answer.unwrap();
        if answer.contains("/confirm ") {
            through += 1;
        } else if answer.contains("@bob can't receive $1.00 right now") {
            refused += 1;
        } else {
            other.push(answer);
        }
    }
    assert!(
        other.is_empty(),
        "{binding:?}: unexpected answers: {other:#?}"
    );
    assert_eq!(through, FITS, "{binding:?}: payments through");
    assert_eq!(refused, CONCURRENT_PAYMENTS - FITS, "{binding:?}: refused");

    // The ledger agrees: bob has exactly what fits on its way to him.
    let bob_id = PlatformUserId::new("bob").unwrap();
    let bob = store
        .identity(Platform::Mock, &bob_id)
        .await
        .unwrap()
        .unwrap();
    let wallet = db
        .wallet(&format!("user:{}", bob.user.0), Currency::USD)
        .await;
    let balance = db.ledger.balance(wallet).await.unwrap().unwrap();
    assert_eq!(balance.pending_in, fits, "{binding:?}");
    let violations = db.ledger.verify().await.unwrap();
    assert!(violations.is_empty(), "{binding:?}: {violations:?}");

    // Each refusal is in the audit log, about bob, naming the limit.
    let entries = store
        .audit_entries(&AuditFilter {
            user: Some(bob.user),
            since_ms: None,
            after_id: None,
            kind: Some(AuditKind::LimitChecked),
            subject: None,
            limit: 1_000,
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), CONCURRENT_PAYMENTS - FITS, "{binding:?}");
    let named = match binding {
        Binding::Received => "received_30d",
        Binding::Balance => "balance",
    };
    assert!(
        entries
            .iter()
            .all(|e| e.entry.details.get("limit").and_then(|v| v.as_str()) == Some(named)),
        "{binding:?}"
    );
    db.cleanup().await;
}

async fn received_limit(backend: TestBackend) {
    sixty_four_payments_ten_fit(backend, Binding::Received).await;
}

async fn balance_limit(backend: TestBackend) {
    sixty_four_payments_ten_fit(backend, Binding::Balance).await;
}

cases!(received_limit {
    received_limit_lets_exactly_ten_of_64_through_on_sqlite(TestBackend::Sqlite),
    received_limit_lets_exactly_ten_of_64_through_on_postgres(TestBackend::Postgres),
});

cases!(balance_limit {
    balance_limit_lets_exactly_ten_of_64_through_on_sqlite(TestBackend::Sqlite),
    balance_limit_lets_exactly_ten_of_64_through_on_postgres(TestBackend::Postgres),
});

/// A bot with $1,000 of play money for everyone and `limits`, on `db`,
/// with bob and alice started; alice's user id.
async fn bob_and_alice(
    db: &TestDb,
    limits: LimitsPolicy,
) -> (Arc<Bot>, Arc<SqlStore>, bot::store::UserId) {
    let config = BotConfig {
        mock_opening_balance: Some(usd(100_000)),
        trust: TrustConfig {
            limits,
            ..TrustConfig::default()
        },
        ..BotConfig::default()
    };
    let store = Arc::new(SqlStore::new(&db.ledger));
    let bot: Arc<Bot> = Bot::new(
        db.ledger.clone(),
        Arc::<SqlStore>::clone(&store),
        config,
        Pepper::generate(&OsRandom),
        Arc::new(OsRandom),
    );
    bot.handle(&dm("bob", "s-bob", "/start")).await;
    bot.handle(&dm("alice", "s-alice", "/start")).await;
    let alice = store
        .identity(Platform::Mock, &PlatformUserId::new("alice").unwrap())
        .await
        .unwrap()
        .unwrap()
        .user;
    (bot, store, alice)
}

/// A tier change takes effect at once, up and down: the allowance is
/// reconciled to the new limit, what is in use stays in use.
async fn tier_change_reconciles(backend: TestBackend) {
    use bot::trust::limits::LimitKind::Sent24h;
    use bot::trust::{Actor, TierRecord};
    let Some(db) = TestDb::fresh(backend).await else {
        return;
    };
    db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
    let roomy = CurrencyLimits::all(usd(1_000_000));
    let verified = Tier::new(1).unwrap();
    let limits = LimitsPolicy::default()
        .with_table(Tier::ZERO, roomy.with(Sent24h, usd(5_000)))
        .with_table(verified, roomy.with(Sent24h, usd(20_000)));
    let (bot, store, alice) = bob_and_alice(&db, limits).await;
    let text = |replies: Vec<bot::message::Reply>| {
        replies
            .into_iter()
            .map(|r| r.text)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let sent_left = |bot: Arc<Bot>| async move {
        let report = bot.limits_report(alice).await.unwrap();
        let line = report.iter().find(|l| l.kind == Sent24h).unwrap().clone();
        (line.used, line.left)
    };
    let asked = text(bot.handle(&dm("alice", "p1", "/pay @bob 40")).await);
    assert!(asked.contains("/confirm "), "{asked}");
    assert_eq!(sent_left(Arc::clone(&bot)).await, (4_000, 1_000));

    let set = |tier| TierRecord {
        user: alice,
        tier,
        reason: "documents checked".to_owned(),
        actor: Actor::Operator("ops".to_owned()),
        set_at_ms: db.ledger.now_ms(),
    };
    store.set_tier(&set(verified)).await.unwrap();
    bot.reconcile_limits(alice).await.unwrap();
    assert_eq!(sent_left(Arc::clone(&bot)).await, (4_000, 16_000));
    let asked = text(bot.handle(&dm("alice", "p2", "/pay @bob 150")).await);
    assert!(asked.contains("/confirm "), "{asked}");

    // Down again: $190 in use against a $50 limit leaves nothing.
    store.set_tier(&set(Tier::ZERO)).await.unwrap();
    bot.reconcile_limits(alice).await.unwrap();
    assert_eq!(sent_left(Arc::clone(&bot)).await, (19_000, 0));
    let refused = text(bot.handle(&dm("alice", "p3", "/pay @bob 1")).await);
    assert!(
        refused.contains("payments you send in 24 hours ($50.00 for unverified wallets)")
            && refused.contains("$0.00 is left"),
        "{refused}"
    );
    // A day on, the uses have aged out and the lower limit holds exactly.
    db.clock
        .advance(std::time::Duration::from_secs(24 * 60 * 60));
    assert_eq!(sent_left(Arc::clone(&bot)).await, (0, 5_000));
    let over = text(bot.handle(&dm("alice", "p4", "/pay @bob 50.01")).await);
    assert!(over.contains("$50.00 is left"), "{over}");
    let asked = text(bot.handle(&dm("alice", "p5", "/pay @bob 50")).await);
    assert!(asked.contains("/confirm "), "{asked}");
    let violations = db.ledger.verify().await.unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    db.cleanup().await;
}

cases!(tier_change_reconciles {
    tier_change_takes_effect_up_and_down_on_sqlite(TestBackend::Sqlite),
    tier_change_takes_effect_up_and_down_on_postgres(TestBackend::Postgres),
});

/// A payment made by a paybot from before limit uses were stored beside
/// their payment (their ids derived from the payment's id alone), cancelled
/// after the upgrade: what it used of the limit is given back all the same.
async fn pre_upgrade_use_released(backend: TestBackend) {
    use bot::trust::limits::LimitKind::Sent24h;
    use ledger::{NewTransfer, TransferId};
    let Some(db) = TestDb::fresh(backend).await else {
        return;
    };
    db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
    let roomy = CurrencyLimits::all(usd(1_000_000));
    let limits = LimitsPolicy::default().with_table(Tier::ZERO, roomy.with(Sent24h, usd(5_000)));
    let (bot, _store, alice) = bob_and_alice(&db, limits).await;
    let sent = || async {
        let report = bot.limits_report(alice).await.unwrap();
        let line = report.iter().find(|l| l.kind == Sent24h).unwrap().clone();
        (line.used, line.left)
    };
    let asked: String = bot
        .handle(&dm("alice", "p1", "/pay @bob 40"))
        .await
        .into_iter()
        .map(|r| r.text)
        .collect();
    let reference = asked
        .split("/cancel ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no /cancel in {asked}"))
        .to_owned();
    assert_eq!(sent().await, (4_000, 1_000));

    // The use as the older paybot made it: same accounts, same amount,
    // same window, under the id it derived.
    let payment =
        bot::service::payment_transfer_id_of(Platform::Mock, &EventId::new("p1").unwrap());
    let namespace = format!("paybot.bot.limits.use.{}", Sent24h.name());
    let name = payment.as_u128().to_be_bytes();
    let current = db
        .ledger
        .transfer(TransferId::derive_beside(payment, &namespace, &name))
        .await
        .unwrap()
        .expect("the payment's use of the 24-hour limit");
    db.ledger
        .submit(NewTransfer::void(TransferId::random(), current.id))
        .await
        .unwrap();
    let legacy = TransferId::derive(&namespace, &name);
    db.ledger
        .submit(
            NewTransfer::pending(
                legacy,
                current.debit_account_id,
                current.credit_account_id,
                current.amount,
                current.timeout_secs,
            )
            .with_code(bot::service::limit_transfer_codes::USE),
        )
        .await
        .unwrap();
    assert_eq!(sent().await, (4_000, 1_000), "still in use before /cancel");

    let cancelled: String = bot
        .handle(&dm("alice", "c1", &format!("/cancel {reference}")))
        .await
        .into_iter()
        .map(|r| r.text)
        .collect();
    assert!(cancelled.contains("Cancelled"), "{cancelled}");
    assert_eq!(sent().await, (0, 5_000), "the whole limit is back");
    let violations = db.ledger.verify().await.unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    db.cleanup().await;
}

cases!(pre_upgrade_use_released {
    a_payment_from_before_the_upgrade_gives_its_limit_back_when_cancelled_on_sqlite(TestBackend::Sqlite),
    a_payment_from_before_the_upgrade_gives_its_limit_back_when_cancelled_on_postgres(TestBackend::Postgres),
});

/// `/start` sets up the new user's windowed limits in their currency (each
/// allowance opened and credited with their tier's limit), so their first
/// payment waits for no set-up; a second `/start` moves nothing.
async fn start_sets_up_limits(backend: TestBackend) {
    let Some(db) = TestDb::fresh(backend).await else {
        return;
    };
    db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
    let table = CurrencyLimits::all(usd(1_000_000))
        .with(LimitKind::Sent24h, usd(5_000))
        .with(LimitKind::Received30d, usd(70_000));
    let limits = LimitsPolicy::default().with_table(Tier::ZERO, table);
    let (bot, _store, alice) = bob_and_alice(&db, limits.clone()).await;
    let windowed: Vec<LimitKind> = LimitKind::windowed().collect();
    assert_eq!(windowed.len(), 6);
    let allowances = || async {
        let mut found = Vec::new();
        for kind in &windowed {
            let owner = OwnerRef::new(format!("allowance:{}:{}", alice.0, kind.name())).unwrap();
            let accounts = db.ledger.accounts_of(&owner).await.unwrap();
            found.push((*kind, accounts));
        }
        found
    };
    for (kind, accounts) in allowances().await {
        assert_eq!(accounts.len(), 1, "{kind}: {accounts:?}");
        let account = &accounts[0];
        assert_eq!(account.currency, Currency::USD, "{kind}");
        assert_eq!(
            account.credits_posted - account.debits_posted,
            table.get(kind).minor(),
            "{kind}: credited with the tier's limit at /start"
        );
        assert_eq!(account.debits_pending, 0, "{kind}");
    }
    let before = allowances().await;
    bot.handle(&dm("alice", "s-alice-again", "/start")).await;
    assert_eq!(
        format!("{before:?}"),
        format!("{:?}", allowances().await),
        "a second /start moves nothing"
    );
    // Nor does one to a paybot started afresh (nothing remembered): each
    // allowance is read and found at its limit.
    let (restarted, _, _) = bob_and_alice(&db, limits).await;
    restarted
        .handle(&dm("alice", "s-alice-restarted", "/start"))
        .await;
    assert_eq!(
        format!("{before:?}"),
        format!("{:?}", allowances().await),
        "a /start after a restart moves nothing"
    );
    let violations = db.ledger.verify().await.unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    db.cleanup().await;
}

cases!(start_sets_up_limits {
    start_sets_up_the_new_users_limits_on_sqlite(TestBackend::Sqlite),
    start_sets_up_the_new_users_limits_on_postgres(TestBackend::Postgres),
});
