//! The real bot core on a fresh test database: the set-up that the
//! in-process tests share (`bot_core.rs`, `telegram.rs`).

#![allow(dead_code)]

use std::sync::Arc;

use bot::otp::{OsRandom, Pepper};
use bot::{Bot, BotConfig};
use ledger::testing::{TestBackend, TestDb};
use ledger::{Amount, Currency};
use paybot::store::{BOT_MIGRATIONS, SqlStore};

/// A migrated database, its SQL store and a bot on it (mock users get
/// $100.00 of play money on `/start`; codes from the OS CSPRNG). `None`
/// when PostgreSQL is absent outside CI (skipped loudly by `TestDb`).
pub(crate) async fn bot_on(backend: TestBackend) -> Option<(TestDb, Arc<Bot>, Arc<SqlStore>)> {
    let db = TestDb::fresh(backend).await?;
    db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
    let config = BotConfig {
        mock_opening_balance: Some(Amount::from_minor(10_000, Currency::USD).unwrap()),
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

/// The word after `marker` in `text` (a code after "/confirm ", a link
/// code after "/link ").
pub(crate) fn word_after(text: &str, marker: &str) -> String {
    let (_, rest) = text
        .split_once(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in {text:?}"));
    rest.split_whitespace().next().unwrap().to_owned()
}
