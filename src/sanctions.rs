//! `paybot sanctions load FILE`, `status` and `check NAME`: the SDN list
//! screening searches (see `bot::trust::sanctions`).
//!
//! The one decision to know: a load reads and checks both files whole
//! before the database is touched, then replaces the stored list in one
//! transaction; a malformed file is refused naming its line, and a failure
//! at any point leaves the old list as it was. Every load is audited
//! (`sanctions_loaded`, by the operator named with `--by`, else the OS
//! user).

use std::io::{Read as _, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::UNIX_EPOCH;

use anyhow::{Context, bail};
use bot::trust::audit::ACTOR_NAME_BYTES_MAX;
use bot::trust::sanctions::{
    ListDate, NameSource, SDN_FILE_BYTES_MAX, SanctionsIndex, SanctionsList, SanctionsListInfo,
    SanctionsStore, ScreenedName, parse_alt, parse_sdn,
};
use bot::trust::{Actor, AuditEntry, AuditKind, TrustStore};
use clap::{Args, Subcommand};
use paybot_store::{BOT_MIGRATIONS, SqlStore};

use crate::database::{self, Open};
use crate::settings::Settings;

/// The aliases file looked for beside `sdn.csv` when `--alt` is not given.
pub const ALT_FILE_NAME: &str = "alt.csv";

/// `paybot sanctions ...`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SanctionsArgs {
    #[command(subcommand)]
    pub command: SanctionsCommand,
}

/// What to do with the SDN list.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum SanctionsCommand {
    /// Load OFAC's SDN list from its CSV files (sdn.csv, and alt.csv
    /// beside it), replacing the stored list in one step. A malformed file
    /// is refused naming its line, and the stored list is kept.
    Load {
        /// The list's sdn.csv.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Its aliases (default: alt.csv beside FILE).
        #[arg(long, value_name = "FILE")]
        alt: Option<PathBuf>,
        /// The list's publication date, YYYY-MM-DD (default: FILE's
        /// modification date, UTC).
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = list_date)]
        date: Option<ListDate>,
        /// Who loads it, for the audit log (default: the OS user).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
    /// Show the stored list's date, counts and when it was loaded.
    Status,
    /// Screen one name against the stored list as paybot would (e.g. while
    /// reviewing a hold) and print each match with its score. Exits 0 when
    /// nothing matches, 1 when something does.
    Check {
        /// The name, e.g. "Firstname Lastname".
        #[arg(value_name = "NAME")]
        name: String,
        /// Screen it as a chat display name (the weak threshold), not as a
        /// legal or card holder name.
        #[arg(long)]
        display_name: bool,
    },
}

/// `paybot sanctions check` found a match.
pub const EXIT_MATCH: u8 = 1;

fn list_date(text: &str) -> Result<ListDate, String> {
    ListDate::parse(text).ok_or_else(|| format!("not a date as YYYY-MM-DD: {text:?}"))
}

/// Runs `args`, writing its report to `out`. `os_user`: the operator when
/// `--by` is not given.
pub async fn run(
    settings: &Settings,
    args: &SanctionsArgs,
    os_user: Option<&str>,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    match &args.command {
        SanctionsCommand::Load {
            file,
            alt,
            date,
            by,
        } => {
            let operator = operator(by.as_deref().or(os_user))?;
            let alt = alt
                .clone()
                .unwrap_or_else(|| file.with_file_name(ALT_FILE_NAME));
            let list = read_list(file, &alt, *date)?;
            let info = with_store(settings, async |store, now_ms| {
                load(store, now_ms, &list, operator, file, &alt).await
            })
            .await?;
            writeln!(out, "sanctions list loaded: {}", describe(&info))?;
        }
        SanctionsCommand::Status => {
            let info = with_store(settings, async |store, _| {
                store
                    .sanctions_list_info()
                    .await
                    .context("cannot read the sanctions list")
            })
            .await?;
            let policy = settings.trust.sanctions.policy();
            match info {
                Some(info) => writeln!(out, "sanctions list: {}", describe(&info))?,
                None => writeln!(
                    out,
                    "no sanctions list loaded: screening finds nothing until `paybot sanctions load FILE`"
                )?,
            }
            if policy.enabled {
                writeln!(
                    out,
                    "screening: on (threshold {:.2}; display names {:.2})",
                    policy.threshold.get(),
                    policy.weak_threshold.get()
                )?;
            } else {
                writeln!(out, "screening: off (trust.sanctions.enabled = false)")?;
            }
        }
        SanctionsCommand::Check { name, display_name } => {
            let source = if *display_name {
                NameSource::DisplayName
            } else {
                NameSource::LegalName
            };
            let matched = check(settings, &ScreenedName::new(source, name), out).await?;
            out.flush()?;
            if matched {
                return Ok(ExitCode::from(EXIT_MATCH));
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Screens `name` against the stored list with the configured thresholds
/// (whether screening is on or not); prints each match. Returns whether
/// anything matched.
async fn check(
    settings: &Settings,
    name: &ScreenedName,
    out: &mut impl Write,
) -> anyhow::Result<bool> {
    let stored = with_store(settings, async |store, _| {
        store
            .sanctions_list()
            .await
            .context("cannot read the sanctions list")
    })
    .await?;
    let Some((info, list)) = stored else {
        bail!("no sanctions list loaded: load one with `paybot sanctions load FILE`");
    };
    let policy = settings.trust.sanctions.policy();
    let hits = SanctionsIndex::build(info.id, &list).screen(&policy, std::slice::from_ref(name));
    for hit in &hits {
        let via = match hit.alias {
            Some(alt_num) => format!(" by alias {alt_num} {:?}", hit.matched_name),
            None => String::new(),
        };
        writeln!(
            out,
            "match: ent_num {} {:?}{via}, program {}, score {}",
            hit.ent_num,
            hit.name,
            hit.program.as_deref().unwrap_or("-"),
            hit.score
        )?;
    }
    if hits.is_empty() {
        writeln!(
            out,
            "no match at {:.2} in the list published {}",
            policy.threshold_for(name.source()).get(),
            info.published
        )?;
    }
    Ok(!hits.is_empty())
}

/// `published 2026-11-30, 5 entries, 4 aliases, loaded 2026-12-01 09:30:00
/// UTC (load 3)`.
fn describe(info: &SanctionsListInfo) -> String {
    let loaded = bot::calendar::UtcMoment::from_unix_ms(info.loaded_at_ms)
        .map_or_else(|| info.loaded_at_ms.to_string(), |t| t.to_string());
    format!(
        "published {}, {} entries, {} aliases, loaded {loaded} UTC (load {})",
        info.published, info.entries, info.aliases, info.id
    )
}

/// The operator's name for the audit log: given, bounded, printable.
fn operator(name: Option<&str>) -> anyhow::Result<Actor> {
    let name = name.map(str::trim).unwrap_or_default();
    if name.is_empty() {
        bail!("say who loads the list: --by NAME");
    }
    if name.len() > ACTOR_NAME_BYTES_MAX || name.chars().any(char::is_control) {
        bail!("--by: a name of at most {ACTOR_NAME_BYTES_MAX} bytes, printable");
    }
    Ok(Actor::Operator(name.to_owned()))
}

/// Reads and checks both files; nothing is stored yet.
fn read_list(sdn: &Path, alt: &Path, date: Option<ListDate>) -> anyhow::Result<SanctionsList> {
    if !alt.is_file() {
        bail!(
            "no aliases file {}: give its path with --alt FILE",
            alt.display()
        );
    }
    let published = match date {
        Some(date) => date,
        None => modified_date(sdn)?,
    };
    let sdn_bytes = read_bounded(sdn)?;
    let alt_bytes = read_bounded(alt)?;
    let entries = parse_sdn(&sdn.display().to_string(), &sdn_bytes)?;
    let aliases = parse_alt(&alt.display().to_string(), &alt_bytes, &entries)?;
    SanctionsList::new(published, entries, aliases)
        .with_context(|| format!("{} and {}", sdn.display(), alt.display()))
}

/// The file, refused when over [`SDN_FILE_BYTES_MAX`].
fn read_bounded(path: &Path) -> anyhow::Result<Vec<u8>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(SDN_FILE_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if u64::try_from(bytes.len()).map_or(true, |n| n > SDN_FILE_BYTES_MAX) {
        bail!("{}: over {SDN_FILE_BYTES_MAX} bytes", path.display());
    }
    Ok(bytes)
}

/// The UTC day `path` was last modified.
fn modified_date(path: &Path) -> anyhow::Result<ListDate> {
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .with_context(|| format!("cannot read the modification time of {}", path.display()))?;
    let ms = modified
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok());
    ms.and_then(ListDate::from_unix_ms).with_context(|| {
        format!(
            "{}: its modification time is not a date; give --date YYYY-MM-DD",
            path.display()
        )
    })
}

/// Opens the database (it must exist), migrates the bot's tables, runs
/// `work` on the store (with the ledger's clock) and closes both.
async fn with_store<T>(
    settings: &Settings,
    work: impl AsyncFnOnce(&SqlStore, i64) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let ledger = database::open(&settings.database, Open::MustExist).await?;
    let result = async {
        ledger
            .migrate(BOT_MIGRATIONS)
            .await
            .context("cannot migrate the database")?;
        let store = SqlStore::new(&ledger);
        let result = work(&store, ledger.now_ms()).await;
        store.close().await;
        result
    }
    .await;
    ledger.close().await;
    result
}

/// Replaces the stored list and audits the load.
async fn load(
    store: &SqlStore,
    now_ms: i64,
    list: &SanctionsList,
    operator: Actor,
    sdn: &Path,
    alt: &Path,
) -> anyhow::Result<SanctionsListInfo> {
    let info = store
        .replace_sanctions_list(list, now_ms)
        .await
        .context("cannot store the sanctions list (the stored list is unchanged)")?;
    let entry = AuditEntry::new(now_ms, operator, AuditKind::SanctionsLoaded)
        .subject(format!("sanctions_list:{}", info.id))
        .detail("published", info.published.to_string())
        .detail("entries", info.entries)
        .detail("aliases", info.aliases)
        .detail("sdn_file", sdn.display().to_string())
        .detail("alt_file", alt.display().to_string());
    store
        .append_audit(&entry)
        .await
        .context("the list is loaded, but its audit entry could not be written")?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operator_is_named_and_bounded() {
        assert_eq!(
            operator(Some(" ana ")).unwrap(),
            Actor::Operator("ana".to_owned())
        );
        assert!(operator(None).is_err());
        assert!(operator(Some("  ")).is_err());
        assert!(operator(Some(&"x".repeat(ACTOR_NAME_BYTES_MAX + 1))).is_err());
        assert!(operator(Some("a\nb")).is_err());
    }

    #[test]
    fn a_missing_alt_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let sdn = dir.path().join("sdn.csv");
        std::fs::write(&sdn, b"").unwrap();
        let err = read_list(&sdn, &dir.path().join("alt.csv"), None).unwrap_err();
        assert!(err.to_string().contains("--alt FILE"), "{err}");
    }
}
