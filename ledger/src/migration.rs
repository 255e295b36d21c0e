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

/// The ledger's own schema.
pub const LEDGER_MIGRATIONS: &[Migration] = &[
    Migration {
        component: "ledger",
        version: 1,
        name: "accounts, transfers, pending expiries",
        sqlite: include_str!("../migrations/sqlite/0001_ledger.sql"),
        postgres: include_str!("../migrations/postgres/0001_ledger.sql"),
    },
    Migration {
        component: "ledger",
        version: 2,
        name: "transactional outbox",
        sqlite: include_str!("../migrations/sqlite/0002_outbox.sql"),
        postgres: include_str!("../migrations/postgres/0002_outbox.sql"),
    },
];
