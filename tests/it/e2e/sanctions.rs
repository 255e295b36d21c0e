//! `paybot sanctions load|status` through the binary, on SQLite and
//! PostgreSQL, with the synthetic SDN fixture (invented names): a load, a
//! malformed file refused naming its line with the old list kept, a reload
//! that replaces it, and each load in the audit log with its operator.

use std::path::Path;
use std::sync::Arc;

use bot::trust::{AuditFilter, AuditKind, TrustStore as _};
use ledger::{Ledger, LedgerConfig, SystemClock};
use paybot_store::SqlStore;

use super::support::{PgDatabase, paybot, run};

fn fixture(file: &str) -> String {
    format!("{}/tests/fixtures/sdn/{file}", env!("CARGO_MANIFEST_DIR"))
}

async fn load_refuse_reload(dir: &Path, url: &str) {
    let paybot = |args: &[&str]| {
        let mut cmd = paybot(dir);
        cmd.args(args).env("PAYBOT_DATABASE__URL", url);
        run(&mut cmd)
    };
    let migrated = paybot(&["migrate"]);
    assert_eq!(migrated.code(), Some(0), "{migrated:?}");

    let status = paybot(&["sanctions", "status"]);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(
        status.stdout.starts_with("no sanctions list loaded"),
        "{}",
        status.stdout
    );

    let sdn = fixture("sdn.csv");
    let loaded = paybot(&[
        "sanctions",
        "load",
        &sdn,
        "--date",
        "2026-11-30",
        "--by",
        "ana",
    ]);
    assert_eq!(loaded.code(), Some(0), "{loaded:?}");
    assert!(
        loaded.stdout.starts_with(
            "sanctions list loaded: published 2026-11-30, 5 entries, 4 aliases, loaded "
        ),
        "{}",
        loaded.stdout
    );

    // A name checked as screening would: an alias, reordered; a near miss.
    let matched = paybot(&["sanctions", "check", "Ottilie Vantablum"]);
    assert_eq!(matched.code(), Some(1), "{matched:?}");
    assert!(
        matched.stdout.starts_with(
            "match: ent_num 9002 \"VANTABLOOM, Ottoline\" by alias 19003 \"VANTABLUM, Ottilie\""
        ),
        "{}",
        matched.stdout
    );
    let clean = paybot(&["sanctions", "check", "Ottoline Brown"]);
    assert_eq!(clean.code(), Some(0), "{clean:?}");
    assert_eq!(
        clean.stdout.trim(),
        "no match at 0.88 in the list published 2026-11-30"
    );

    // A malformed file: refused, its line named, the old list kept.
    let bad = fixture("malformed/sdn.csv");
    let refused = paybot(&[
        "sanctions",
        "load",
        &bad,
        "--date",
        "2026-12-01",
        "--by",
        "ana",
    ]);
    assert_eq!(refused.code(), Some(2), "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("malformed/sdn.csv line 3: 11 fields, expected 12"),
        "{}",
        refused.stderr
    );
    let status = paybot(&["sanctions", "status"]);
    assert!(
        status
            .stdout
            .starts_with("sanctions list: published 2026-11-30, 5 entries, 4 aliases"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("screening: on (threshold 0.88; display names 0.95)"),
        "{}",
        status.stdout
    );

    // A reload replaces it; alt.csv is taken from beside sdn.csv.
    let reload = fixture("reload/sdn.csv");
    let reloaded = paybot(&[
        "sanctions",
        "load",
        &reload,
        "--date",
        "2026-12-02",
        "--by",
        "bo",
    ]);
    assert_eq!(reloaded.code(), Some(0), "{reloaded:?}");
    assert!(
        reloaded
            .stdout
            .contains("published 2026-12-02, 3 entries, 1 aliases"),
        "{}",
        reloaded.stdout
    );

    // Each load audited, by whom; the refused one changed nothing.
    let ledger = Ledger::connect(&LedgerConfig::new(url), Arc::new(SystemClock))
        .await
        .unwrap();
    let store = SqlStore::new(&ledger);
    let filter = AuditFilter {
        kind: Some(AuditKind::SanctionsLoaded),
        ..AuditFilter::default()
    };
    let loads = store.audit_entries(&filter).await.unwrap();
    let actors: Vec<String> = loads.iter().map(|r| r.entry.actor.to_text()).collect();
    assert_eq!(actors, vec!["operator:ana", "operator:bo"]);
    let last = loads.last().unwrap().to_json();
    assert_eq!(last["details"]["entries"], 3);
    assert_eq!(last["details"]["published"], "2026-12-02");
    store.close().await;
    ledger.close().await;
}

#[tokio::test]
async fn sqlite_sanctions_load_refuse_reload() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("db/ledger.db").display());
    load_refuse_reload(dir.path(), &url).await;
}

#[tokio::test]
async fn postgres_sanctions_load_refuse_reload() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    load_refuse_reload(dir.path(), &db.url).await;
}

#[test]
fn a_load_without_aliases_beside_it_names_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let sdn = dir.path().join("sdn.csv");
    std::fs::copy(fixture("sdn.csv"), &sdn).unwrap();
    let out = run(paybot(dir.path())
        .args(["sanctions", "load"])
        .arg(&sdn)
        .args(["--by", "ana"]));
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("--alt FILE"), "{}", out.stderr);
}
