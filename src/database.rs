//! Opening the ledger from settings, and the `migrate` and `verify` commands.
//!
//! The one design decision to know: only commands that create a database
//! (`serve`, `migrate`) make a SQLite file's folder; `verify` refuses a
//! database that does not exist rather than checking a new empty one.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use ledger::{Ledger, LedgerConfig, LedgerError, SystemClock, Violation};
use tracing::{error, info};

use crate::settings::DatabaseSettings;

/// Whether opening may create the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// Create a missing SQLite file and its folder.
    CreateIfMissing,
    /// The database must exist already.
    MustExist,
}

/// Connects to the ledger the settings name. Does not migrate.
pub async fn open(db: &DatabaseSettings, mode: Open) -> anyhow::Result<Ledger> {
    let shown = db.url.redacted();
    if let (Some(path), Open::CreateIfMissing) = (db.url.sqlite_path(), mode) {
        create_parent_dir(path)?;
        create_owner_only(path)?;
    }
    let config = LedgerConfig {
        sqlite_sync: db.sqlite_sync.into(),
        pool_connections_max: db.pool_connections_max,
        create_if_missing: mode == Open::CreateIfMissing,
        ..LedgerConfig::new(db.url.expose())
    };
    info!(database = %shown, "opening the ledger");
    match Ledger::connect(&config, Arc::new(SystemClock)).await {
        Err(LedgerError::NoDatabase(path)) => {
            bail!("no database at {path} (database.url = {shown}); run `paybot migrate` first")
        }
        other => other.with_context(|| format!("cannot open the ledger at {shown}")),
    }
}

/// Creates `dir` and its missing parents, owner-only (0700) on Unix.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes the folder of a SQLite file (`./data/` by default), readable by its
/// owner only: it will hold secrets generated on first run too.
fn create_parent_dir(file: &Path) -> anyhow::Result<()> {
    let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if dir.is_dir() {
        return Ok(());
    }
    create_private_dir(dir)
        .with_context(|| format!("cannot create the database folder {}", dir.display()))?;
    info!(dir = %dir.display(), "created the database folder");
    Ok(())
}

/// Creates a missing SQLite file empty and owner-only (0600) before SQLite
/// opens it (an empty file is a new database to SQLite); SQLite gives its
/// `-wal` and `-shm` files the main file's mode. An existing file is left
/// as it is.
fn create_owner_only(file: &Path) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(file) {
        Ok(_) => {
            info!(file = %file.display(), "created the database file (owner-only)");
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => {
            Err(e).with_context(|| format!("cannot create the database file {}", file.display()))
        }
    }
}

/// `paybot migrate`.
pub async fn migrate(db: &DatabaseSettings) -> anyhow::Result<()> {
    let ledger = open(db, Open::CreateIfMissing).await?;
    let migrated = ledger
        .migrate(paybot_store::BOT_MIGRATIONS)
        .await
        .context("cannot migrate the database");
    ledger.close().await;
    migrated?;
    info!("database migrated");
    Ok(())
}

/// What `paybot verify` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Sound,
    Violated,
}

/// `paybot verify`: prints each violation on its own line to `out`.
pub async fn verify(db: &DatabaseSettings, out: &mut impl Write) -> anyhow::Result<Verdict> {
    let ledger = open(db, Open::MustExist).await?;
    let found = ledger.verify().await.context("cannot verify the ledger");
    ledger.close().await;
    report(&found?, out)
}

fn report(violations: &[Violation], out: &mut impl Write) -> anyhow::Result<Verdict> {
    if violations.is_empty() {
        writeln!(out, "ledger verified: no violations")?;
        out.flush()?;
        return Ok(Verdict::Sound);
    }
    for violation in violations {
        writeln!(out, "{violation}")?;
    }
    out.flush()?;
    error!(
        violations = violations.len(),
        "the ledger violates its invariants"
    );
    Ok(Verdict::Violated)
}

#[cfg(test)]
mod tests {
    use ledger::{AccountId, Currency};

    use super::*;

    #[test]
    fn report_prints_one_line_per_violation() {
        let violation = |account| Violation::AccountTotals {
            account: AccountId(account),
            currency: Currency::USD,
            total: "credits_posted",
            expected: 1_000,
            found: 1_005,
        };
        let mut out = Vec::new();
        assert_eq!(
            report(&[violation(3), violation(7)], &mut out).unwrap(),
            Verdict::Violated
        );
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(
            lines
                .first()
                .unwrap()
                .starts_with("account 3 (USD): credits_posted"),
            "{out}"
        );
        assert!(lines.last().unwrap().starts_with("account 7 "), "{out}");
    }

    #[test]
    fn report_of_a_sound_ledger_is_one_line() {
        let mut out = Vec::new();
        assert_eq!(report(&[], &mut out).unwrap(), Verdict::Sound);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ledger verified: no violations\n"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_database_folder_is_made_for_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data/nested/paybot.db");
        create_parent_dir(&file).unwrap();
        let mode = std::fs::metadata(dir.path().join("data/nested"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        // Idempotent, and a bare file name needs no folder.
        create_parent_dir(&file).unwrap();
        create_parent_dir(Path::new("paybot.db")).unwrap();
    }
}
