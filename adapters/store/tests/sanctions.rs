//! The SDN list's store ([`SanctionsStore`]) on SQLite and PostgreSQL, fed
//! from the synthetic fixture in `tests/fixtures/sdn/` (invented names).
#![cfg(test)]

mod common;

use std::sync::Arc;

use bot::trust::sanctions::{
    EntNum, ListDate, SanctionsList, SanctionsStore, SdnAlias, parse_alt, parse_sdn,
};
use common::run;
use ledger::testing::{CLOCK_START_MS, TestBackend};
use paybot_store::SqlStore;

const T0: i64 = CLOCK_START_MS;

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $case() {
                super::run(super::TestBackend::Sqlite, super::$case).await
            })*
        }
        mod postgres {
            $(#[tokio::test] async fn $case() {
                super::run(super::TestBackend::Postgres, super::$case).await
            })*
        }
    };
}

conformance!(
    nothing_is_loaded_at_first,
    the_fixture_loads_with_its_aliases,
    a_reload_replaces_the_list,
    a_malformed_file_is_refused_with_its_line_and_the_old_list_kept,
    a_load_that_fails_in_the_database_keeps_the_old_list,
);

fn fixture(dir: &str, date: &str) -> SanctionsList {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/sdn/");
    let sdn = std::fs::read(format!("{root}{dir}sdn.csv")).unwrap();
    let alt = std::fs::read(format!("{root}{dir}alt.csv")).unwrap();
    let entries = parse_sdn("sdn.csv", &sdn).unwrap();
    let aliases = parse_alt("alt.csv", &alt, &entries).unwrap();
    SanctionsList::new(ListDate::parse(date).unwrap(), entries, aliases).unwrap()
}

fn ents(list: &SanctionsList) -> Vec<i64> {
    list.entries().iter().map(|e| e.ent_num.get()).collect()
}

async fn nothing_is_loaded_at_first(store: Arc<SqlStore>) {
    assert_eq!(store.sanctions_list_info().await.unwrap(), None);
    assert_eq!(store.sanctions_list().await.unwrap(), None);
}

async fn the_fixture_loads_with_its_aliases(store: Arc<SqlStore>) {
    let list = fixture("", "2026-11-30");
    let info = store.replace_sanctions_list(&list, T0).await.unwrap();
    assert_eq!(info.published.to_string(), "2026-11-30");
    assert_eq!((info.entries, info.aliases), (5, 4));
    assert_eq!(info.loaded_at_ms, T0);
    assert_eq!(
        store.sanctions_list_info().await.unwrap(),
        Some(info.clone())
    );

    let (read_info, read) = store.sanctions_list().await.unwrap().unwrap();
    assert_eq!(read_info, info);
    assert_eq!(read, list, "read back as loaded, field by field");
    let quill = read.entries().first().unwrap();
    assert_eq!(quill.name, "QUILLFEATHER, Bartholomew Zephyr");
    assert_eq!(quill.program.as_deref(), Some("FICTION-A"));
    let company = read.entries().get(2).unwrap();
    assert_eq!(company.sdn_type, None, "an entity's -0- type is null");
    let countess: Vec<&SdnAlias> = read
        .aliases()
        .iter()
        .filter(|a| a.ent_num.get() == 9002)
        .collect();
    assert_eq!(countess.len(), 2);
    assert_eq!(countess.first().unwrap().name, "THE MARMALADE COUNTESS");
}

async fn a_reload_replaces_the_list(store: Arc<SqlStore>) {
    let first = store
        .replace_sanctions_list(&fixture("", "2026-11-30"), T0)
        .await
        .unwrap();
    let second = store
        .replace_sanctions_list(&fixture("reload/", "2026-12-02"), T0 + 1_000)
        .await
        .unwrap();
    assert!(second.id > first.id, "each load has a new id");
    assert_eq!((second.entries, second.aliases), (3, 1));
    assert_eq!(second.published.to_string(), "2026-12-02");
    let (info, list) = store.sanctions_list().await.unwrap().unwrap();
    assert_eq!(info, second);
    assert_eq!(
        ents(&list),
        vec![9001, 9006, 9007],
        "nothing of the old list left"
    );
    let aliases: Vec<i64> = list.aliases().iter().map(|a| a.alt_num).collect();
    assert_eq!(aliases, vec![19010]);
}

async fn a_malformed_file_is_refused_with_its_line_and_the_old_list_kept(store: Arc<SqlStore>) {
    let kept = store
        .replace_sanctions_list(&fixture("", "2026-11-30"), T0)
        .await
        .unwrap();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/sdn/");
    let bytes = std::fs::read(format!("{root}malformed/sdn.csv")).unwrap();
    let error = parse_sdn("malformed/sdn.csv", &bytes).unwrap_err();
    assert_eq!(
        error.to_string(),
        "malformed/sdn.csv line 3: 11 fields, expected 12"
    );
    // Nothing was stored: the old list is whole.
    assert_eq!(store.sanctions_list_info().await.unwrap(), Some(kept));
    let (_, list) = store.sanctions_list().await.unwrap().unwrap();
    assert_eq!(list.entries().len(), 5);
}

async fn a_load_that_fails_in_the_database_keeps_the_old_list(store: Arc<SqlStore>) {
    let old = fixture("", "2026-11-30");
    let kept = store.replace_sanctions_list(&old, T0).await.unwrap();
    // An alias number the database refuses (CHECK alt_num > 0), after the
    // old rows were deleted and the new listings inserted in the same
    // transaction.
    let new = fixture("reload/", "2026-12-02");
    let mut aliases = new.aliases().to_vec();
    aliases.push(SdnAlias {
        ent_num: EntNum::new(9007).unwrap(),
        alt_num: -5,
        alt_type: None,
        name: "NIMBUSCROFT".to_owned(),
    });
    let bad = SanctionsList::new(new.published(), new.entries().to_vec(), aliases).unwrap();
    assert!(store.replace_sanctions_list(&bad, T0 + 1).await.is_err());
    assert_eq!(store.sanctions_list_info().await.unwrap(), Some(kept));
    let (_, list) = store.sanctions_list().await.unwrap().unwrap();
    assert_eq!(list, old);
}
