//! Sanctions screening through the real core and store: the names a user
//! is known by screened against a list loaded from the synthetic fixture
//! (invented names), every hit audited, the index rebuilt when the list is
//! replaced; nothing found with screening off or no list loaded.

use std::sync::Arc;

use bot::message::{Platform, PlatformUserId};
use bot::otp::{OsRandom, Pepper};
use bot::store::{SeenUser, Store as _, UserId};
use bot::trust::sanctions::{
    ListDate, NameSource, SanctionsList, SanctionsStore as _, ScreenedName, parse_alt, parse_sdn,
};
use bot::trust::{AuditFilter, AuditKind, TrustStore as _};
use bot::{Bot, BotConfig};
use ledger::testing::{TestBackend, TestDb};
use paybot_store::{BOT_MIGRATIONS, SqlStore};

async fn setup(backend: TestBackend, enabled: bool) -> Option<(TestDb, Arc<Bot>, Arc<SqlStore>)> {
    let db = TestDb::fresh(backend).await?;
    db.ledger.migrate(BOT_MIGRATIONS).await.unwrap();
    let mut config = BotConfig::default();
    config.trust.sanctions.enabled = enabled;
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

pub(crate) async fn load(store: &SqlStore, dir: &str, at_ms: i64) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sdn/");
    let sdn = std::fs::read(format!("{root}{dir}sdn.csv")).unwrap();
    let alt = std::fs::read(format!("{root}{dir}alt.csv")).unwrap();
    let entries = parse_sdn("sdn.csv", &sdn).unwrap();
    let aliases = parse_alt("alt.csv", &alt, &entries).unwrap();
    let list = SanctionsList::new(ListDate::new(2026, 11, 30).unwrap(), entries, aliases).unwrap();
    store.replace_sanctions_list(&list, at_ms).await.unwrap();
}

/// A user known on the mock platform by `display_name`.
async fn user(store: &SqlStore, id: &str, display_name: &str) -> UserId {
    let seen = SeenUser {
        platform: Platform::Mock,
        id: PlatformUserId::new(id).unwrap(),
        handle: None,
        skeleton: None,
        display_name: display_name.to_owned(),
        speaking: true,
        direct: true,
    };
    store.upsert_identity(&seen, 1_000).await.unwrap().0.user
}

fn legal(name: &str) -> ScreenedName {
    ScreenedName::new(NameSource::LegalName, name)
}

async fn hits_audited(store: &SqlStore, user: UserId) -> Vec<serde_json::Value> {
    let filter = AuditFilter {
        user: Some(user),
        kind: Some(AuditKind::ScreeningHit),
        ..AuditFilter::default()
    };
    store
        .audit_entries(&filter)
        .await
        .unwrap()
        .iter()
        .map(|record| record.to_json())
        .collect()
}

async fn screening_hits_are_returned_and_audited(backend: TestBackend) {
    let Some((db, bot, store)) = setup(backend, true).await else {
        return;
    };
    load(&store, "", 5_000).await;
    let ana = user(&store, "ana", "Ottoline Vantabloom").await;

    let known = bot.known_names(ana).await.unwrap();
    assert_eq!(
        known,
        vec![ScreenedName::new(
            NameSource::DisplayName,
            "Ottoline Vantabloom"
        )]
    );
    let hits = bot.screen_sanctions(ana, &known).await.unwrap();
    assert_eq!(hits.len(), 1);
    let hit = hits.first().unwrap();
    assert_eq!(hit.ent_num.get(), 9002);
    assert_eq!(hit.name, "VANTABLOOM, Ottoline");

    // An alias, as a legal name.
    let hits = bot
        .screen_sanctions(ana, &[legal("The Marmalade Countess")])
        .await
        .unwrap();
    assert_eq!(hits.first().unwrap().alias, Some(19002));

    let audited = hits_audited(&store, ana).await;
    assert_eq!(audited.len(), 2, "{audited:?}");
    let first = audited.first().unwrap();
    assert_eq!(first["subject"], "sdn:9002");
    assert_eq!(first["actor"], "system");
    assert_eq!(first["details"]["source"], "display_name");
    assert_eq!(first["details"]["screened_name"], "Ottoline Vantabloom");
    assert_eq!(first["details"]["listed_name"], "VANTABLOOM, Ottoline");
    assert_eq!(first["details"]["threshold"], "0.950");
    let second = audited.get(1).unwrap();
    assert_eq!(second["details"]["matched_name"], "THE MARMALADE COUNTESS");
    assert_eq!(second["details"]["alt_num"], 19002);

    // A name on no list: nothing found, nothing audited.
    let clean = user(&store, "bo", "Bo Peep").await;
    let none = bot
        .screen_sanctions(clean, &[legal("Margaret Honeywell")])
        .await
        .unwrap();
    assert!(none.is_empty());
    assert!(hits_audited(&store, clean).await.is_empty());
    db.cleanup().await;
}

async fn a_reloaded_list_is_screened_at_once(backend: TestBackend) {
    let Some((db, bot, store)) = setup(backend, true).await else {
        return;
    };
    let ana = user(&store, "ana", "Ana").await;
    let names = [legal("Ottoline Vantabloom"), legal("Wendeline Pepperholt")];
    // No list yet: nothing found.
    assert!(bot.screen_sanctions(ana, &names).await.unwrap().is_empty());

    load(&store, "", 5_000).await;
    let hits = bot.screen_sanctions(ana, &names).await.unwrap();
    let ents: Vec<i64> = hits.iter().map(|h| h.ent_num.get()).collect();
    assert_eq!(ents, vec![9002]);

    load(&store, "reload/", 6_000).await;
    let hits = bot.screen_sanctions(ana, &names).await.unwrap();
    let ents: Vec<i64> = hits.iter().map(|h| h.ent_num.get()).collect();
    assert_eq!(ents, vec![9006], "the cached index follows the new list");
    db.cleanup().await;
}

async fn screening_off_finds_nothing(backend: TestBackend) {
    let Some((db, bot, store)) = setup(backend, false).await else {
        return;
    };
    load(&store, "", 5_000).await;
    let ana = user(&store, "ana", "Ana").await;
    let hits = bot
        .screen_sanctions(ana, &[legal("Ottoline Vantabloom")])
        .await
        .unwrap();
    assert!(hits.is_empty());
    db.cleanup().await;
}

macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $case() {
                super::$case(super::TestBackend::Sqlite).await
            })*
        }
        mod postgres {
            $(#[tokio::test] async fn $case() {
                super::$case(super::TestBackend::Postgres).await
            })*
        }
    };
}

both_backends!(
    screening_hits_are_returned_and_audited,
    a_reloaded_list_is_screened_at_once,
    screening_off_finds_nothing,
);
