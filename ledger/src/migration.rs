//! Schema migrations as data: each component's SQL for each backend.
//!
//! A [`Migration`] is plain text, so this module compiles without the SQL
//! storage engine: the bot's store crate declares its own tables with it,
//! and [`crate::Ledger::migrate`] applies them after the ledger's own, in
//! the same database.

/// A schema change, with its SQL for each backend.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Who owns the tables ("ledger", "bot", ...). Versions count per component.
    pub component: &'static str,
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// A [`Migration`] whose SQL is in two files of one name, `$dir/sqlite/$file`
/// and `$dir/postgres/$file`, `$dir` relative to the file that invokes this
/// (as for `include_str!`): `migration!("bot", 1, "users", "../migrations",
/// "0001_bot.sql")`.
#[macro_export]
macro_rules! migration {
    ($component:literal, $version:literal, $name:literal, $dir:literal, $file:literal) => {
        $crate::Migration {
            component: $component,
            version: $version,
            name: $name,
            sqlite: include_str!(concat!($dir, "/sqlite/", $file)),
            postgres: include_str!(concat!($dir, "/postgres/", $file)),
        }
    };
}

/// The ledger's own schema.
pub const LEDGER_MIGRATIONS: &[Migration] = &[
    migration!(
        "ledger",
        1,
        "accounts, transfers, pending expiries",
        "../migrations",
        "0001_ledger.sql"
    ),
    migration!(
        "ledger",
        2,
        "transactional outbox",
        "../migrations",
        "0002_outbox.sql"
    ),
    migration!(
        "ledger",
        3,
        "permanent accounts, statement-level reference checks",
        "../migrations",
        "0003_statement_checks.sql"
    ),
    migration!(
        "ledger",
        4,
        "SQLite: an account's history from entries written beside the commits",
        "../migrations",
        "0004_account_entries.sql"
    ),
];
