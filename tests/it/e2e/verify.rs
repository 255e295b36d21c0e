//! `paybot migrate` and `paybot verify` on SQLite and PostgreSQL: a sound
//! ledger passes; a hand-edited account total is caught and named.

use std::path::Path;
use std::sync::Arc;

use ledger::{
    AccountId, AccountKind, Amount, Currency, Ledger, LedgerConfig, NewAccount, NewTransfer,
    OwnerRef, SystemClock, TransferId,
};

use super::support::{PgDatabase, paybot, run};

/// Opens an issuance account and a wallet, moves 10.00 USD between them
/// through the ledger, then corrupts the wallet's `credits_posted` by hand.
/// Returns the wallet's id.
async fn pay_then_tamper(url: &str) -> AccountId {
    let ledger = Ledger::connect(&LedgerConfig::new(url), Arc::new(SystemClock))
        .await
        .unwrap();
    let open = |owner: OwnerRef, kind| NewAccount {
        owner,
        kind,
        currency: Currency::USD,
    };
    let issuance = open(OwnerRef::system(), AccountKind::Issuance);
    let issuance = ledger.open_account(&issuance).await.unwrap();
    let wallet = open(
        OwnerRef::new("user:alice").unwrap(),
        AccountKind::UserWallet,
    );
    let wallet = ledger.open_account(&wallet).await.unwrap();
    let amount = Amount::from_minor(1_000, Currency::USD).unwrap();
    ledger
        .submit(NewTransfer::single(
            TransferId::random(),
            issuance.id,
            wallet.id,
            amount,
        ))
        .await
        .unwrap();
    assert!(
        ledger.verify().await.unwrap().is_empty(),
        "sound before the edit"
    );

    let tamper = format!(
        "UPDATE accounts SET credits_posted = credits_posted + 5 WHERE id = {}",
        wallet.id.0
    );
    // An integer id formatted in: nothing to inject.
    let edited = ledger::testing::execute_sql(url, &tamper).await.unwrap();
    assert_eq!(edited, 1);
    ledger.close().await;
    wallet.id
}

/// The whole scenario against one database URL.
async fn migrate_verify_tamper_verify(dir: &Path, url: &str) {
    let migrated = run(paybot(dir).arg("migrate").env("PAYBOT_DATABASE__URL", url));
    assert_eq!(migrated.code(), Some(0), "{migrated:?}");

    let sound = run(paybot(dir).arg("verify").env("PAYBOT_DATABASE__URL", url));
    assert_eq!(sound.code(), Some(0), "{sound:?}");
    assert_eq!(sound.stdout.trim(), "ledger verified: no violations");

    let wallet = pay_then_tamper(url).await;

    let broken = run(paybot(dir).arg("verify").env("PAYBOT_DATABASE__URL", url));
    assert_eq!(broken.code(), Some(1), "{broken:?}");
    let line = broken
        .stdout
        .lines()
        .find(|l| l.starts_with(&format!("account {wallet} ")))
        .unwrap_or_else(|| panic!("no line names account {wallet}:\n{}", broken.stdout));
    assert!(line.contains("credits_posted"), "{line}");
    assert!(line.contains("expected $10.00"), "{line}");
    assert!(line.contains("found $10.05"), "{line}");
    assert!(
        !broken.stdout.contains("no violations"),
        "{}",
        broken.stdout
    );
}

#[tokio::test]
async fn sqlite_migrate_verify_then_a_hand_edit_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("db/ledger.db").display());
    migrate_verify_tamper_verify(dir.path(), &url).await;
}

#[tokio::test]
async fn postgres_migrate_verify_then_a_hand_edit_is_caught() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    migrate_verify_tamper_verify(dir.path(), &db.url).await;
}

#[test]
fn verify_refuses_a_database_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(paybot(dir.path()).arg("verify"));
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(
        out.stderr.contains("no database at data/paybot.db"),
        "{}",
        out.stderr
    );
    assert!(!dir.path().join("data").exists(), "verify creates nothing");
}
