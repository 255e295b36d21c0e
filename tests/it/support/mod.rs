//! What the tests share, compiled once: the real bot core on a fresh test
//! database (the set-up of the in-process tests), and the fakes of the
//! chat platforms' APIs that the real SDK clients talk to.

#![allow(dead_code)]

pub(crate) mod fake_discord;
pub(crate) mod fake_telegram;

use std::sync::Arc;

use bot::card::CardRail;
use bot::message::{Platform, PlatformUserId};
use bot::otp::{OsRandom, Pepper};
use bot::store::Store;
use bot::{Bot, BotConfig};
use ledger::testing::{TestBackend, TestDb};
use ledger::{Amount, Currency};
use paybot_store::{BOT_MIGRATIONS, SqlStore};

/// Tests that each run one async scenario with fixed arguments (a backend,
/// a way in) on a two-thread runtime, one named test a case:
/// `cases!(scenario { name_on_sqlite(TestBackend::Sqlite), ... })`.
macro_rules! cases {
    ($scenario:ident { $($(#[$meta:meta])* $name:ident($($arg:expr),* $(,)?)),+ $(,)? }) => {
        $(
            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $scenario($($arg),*).await;
            }
        )+
    };
}
pub(crate) use cases;

/// How many payments (at most 100) the user behind `platform`'s user
/// `user_id` has; none when that identity is unknown.
pub(crate) async fn payments_of(
    store: &SqlStore,
    platform: Platform,
    user_id: impl std::fmt::Display,
) -> usize {
    let id = PlatformUserId::new(user_id.to_string()).unwrap();
    let Some(identity) = store.identity(platform, &id).await.unwrap() else {
        return 0;
    };
    store
        .payments_of_user(identity.user, 100)
        .await
        .unwrap()
        .len()
}

/// A migrated database, its SQL store and a bot on it (mock users get
/// $100.00 of play money on `/start`; codes from the OS CSPRNG). `None`
/// when PostgreSQL is absent outside CI (skipped loudly by `TestDb`).
pub(crate) async fn bot_on(backend: TestBackend) -> Option<(TestDb, Arc<Bot>, Arc<SqlStore>)> {
    bot_with_rail_on(backend, None).await
}

/// Another bot on `db`'s database, as a second process (or the same one
/// after a restart) would be: its own memory, its own code pepper.
pub(crate) fn another_bot_on(db: &TestDb) -> Arc<Bot> {
    let store = Arc::new(SqlStore::new(&db.ledger));
    play_money_bot(db, store, Pepper::generate(&OsRandom), None)
}

/// [`bot_on`] with `rail` as the bot's card rail (none: cards off).
pub(crate) async fn bot_with_rail_on(
    backend: TestBackend,
    rail: Option<Arc<dyn CardRail>>,
) -> Option<(TestDb, Arc<Bot>, Arc<SqlStore>)> {
    let db = TestDb::fresh(backend).await?;
    db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
    let store = Arc::new(SqlStore::new(&db.ledger));
    let bot = play_money_bot(&db, Arc::clone(&store), Pepper::generate(&OsRandom), rail);
    Some((db, bot, store))
}

/// A bot on `db`'s database through `store`, codes peppered with `pepper`,
/// `rail` its card rail (none: cards off); mock users get $100.00 of play
/// money on `/start`.
pub(crate) fn play_money_bot(
    db: &TestDb,
    store: Arc<SqlStore>,
    pepper: Pepper,
    rail: Option<Arc<dyn CardRail>>,
) -> Arc<Bot> {
    let config = BotConfig {
        mock_opening_balance: Some(Amount::from_minor(10_000, Currency::USD).unwrap()),
        ..BotConfig::default()
    };
    let mut builder = Bot::builder(db.ledger.clone(), store, config, pepper, Arc::new(OsRandom));
    if let Some(rail) = rail {
        builder = builder.card_rail(rail);
    }
    builder.build()
}

/// Puts `minor` cents (USD) in the wallet of the `platform` account `id`
/// (who has talked to the bot), straight from the ledger's issuance
/// account, as an operator would fund it: play money from the mock chat
/// never reaches a wallet a Telegram or Discord account uses.
pub(crate) async fn fund(
    db: &TestDb,
    store: &SqlStore,
    platform: bot::message::Platform,
    id: &str,
    minor: i64,
) {
    use bot::store::Store as _;
    let id = bot::message::PlatformUserId::new(id).unwrap();
    let identity = store
        .identity(platform, &id)
        .await
        .unwrap()
        .expect("fund someone who has talked to the bot");
    let wallet = db
        .wallet(&format!("user:{}", identity.user.0), Currency::USD)
        .await;
    db.fund(wallet, Amount::from_minor(minor, Currency::USD).unwrap())
        .await;
}

/// The word after `marker` in `text` (a code after "/confirm ", a link
/// code after "/link ").
pub(crate) fn word_after(text: &str, marker: &str) -> String {
    let (_, rest) = text
        .split_once(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in {text:?}"));
    rest.split_whitespace().next().unwrap().to_owned()
}

/// The card-clearing account's balance (USD): what the card rail moved, as
/// the ledger saw it.
pub(crate) async fn card_clearing(db: &TestDb) -> ledger::Balance {
    db.ledger
        .open_account(&ledger::NewAccount {
            owner: ledger::OwnerRef::system(),
            kind: ledger::AccountKind::CardClearing,
            currency: Currency::USD,
        })
        .await
        .unwrap()
        .balance()
}

/// Nothing private in `text`, a message that `place` sees: no balance, no
/// code prompt, none of `secrets`.
pub(crate) fn assert_nothing_private(text: &str, place: &str, secrets: &[&str]) {
    assert!(!text.contains("balance:"), "a balance in {place}: {text}");
    assert!(
        !text.contains("/confirm "),
        "a code prompt in {place}: {text}"
    );
    for secret in secrets {
        assert!(!text.contains(secret), "{secret:?} in {place}: {text}");
    }
}

/// The ledger's invariants hold (`verify` finds nothing).
pub(crate) async fn assert_ledger_sound(db: &TestDb) {
    let violations = db.ledger.verify().await.unwrap();
    assert!(violations.is_empty(), "{violations:?}");
}
