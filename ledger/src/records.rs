//! Other components' row writes, committed in the writer's batch transaction
//! with the money they describe.
//!
//! The bot keeps its own records (payments waiting for a code, which chat
//! events were handled) in tables of the same database. Committing them
//! apart from the transfers they go with cost a durable commit each; a
//! [`Unit`] carries them into the group-commit writer instead, so one
//! commit makes many messages' money *and* records durable.
//!
//! The one design decision to know: a record write is **plain data**: SQL
//! text written by the component that owns the table, and its values as
//! [`SqlValue`]s. No database type crosses the ledger's API, and the ledger
//! never learns what the rows mean. A write may say how many rows it must
//! change ([`RecordWrite::expecting_rows`]: a compare-and-swap, an insert
//! that must not find its key taken); when one does not, its unit is not
//! applied at all ([`crate::SubmitError::RecordConflict`]) and the rest of
//! the batch commits without it.
//!
//! A write may also carry the same statement for many rows
//! ([`RecordWrite::combining`]): the writer then runs a batch's writes of
//! one kind as one statement instead of one each, and falls back to one
//! each when the combined statement does not change the rows it expects.

use std::fmt;

use crate::types::{NewTransfer, OutboxMessage};

/// Most record writes in one unit.
pub const UNIT_RECORDS_MAX: usize = 16;
/// Most bytes of SQL text in one record write.
pub const RECORD_SQL_BYTES_MAX: usize = 8_192;
/// Most values bound to one record write.
pub const RECORD_VALUES_MAX: usize = 64;
/// What a combined form ([`RecordWrite::combining`]) reads its rows from.
pub const ROWS_PLACEHOLDER: &str = "{rows}";

/// One value bound to a record write, typed even when absent (PostgreSQL
/// wants a NULL's type).
#[derive(Clone, PartialEq, Eq)]
pub enum SqlValue {
    /// `BIGINT`.
    Int(Option<i64>),
    /// `TEXT`.
    Text(Option<String>),
    /// `BLOB` / `BYTEA`.
    Bytes(Option<Vec<u8>>),
    /// A UUID (SQLite: a 16-byte blob; PostgreSQL: `uuid`).
    Uuid(Option<u128>),
    /// `BOOLEAN` (SQLite: 0 or 1).
    Bool(Option<bool>),
}

impl fmt::Debug for SqlValue {
    /// Values may be private (a code's keyed hash, a memo): only their kind
    /// is printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            SqlValue::Int(_) => "int",
            SqlValue::Text(_) => "text",
            SqlValue::Bytes(_) => "bytes",
            SqlValue::Uuid(_) => "uuid",
            SqlValue::Bool(_) => "bool",
        };
        f.write_str(kind)
    }
}

impl From<i64> for SqlValue {
    fn from(value: i64) -> SqlValue {
        SqlValue::Int(Some(value))
    }
}

impl From<Option<i64>> for SqlValue {
    fn from(value: Option<i64>) -> SqlValue {
        SqlValue::Int(value)
    }
}

impl From<&str> for SqlValue {
    fn from(value: &str) -> SqlValue {
        SqlValue::Text(Some(value.to_owned()))
    }
}

impl From<String> for SqlValue {
    fn from(value: String) -> SqlValue {
        SqlValue::Text(Some(value))
    }
}

impl From<Option<&str>> for SqlValue {
    fn from(value: Option<&str>) -> SqlValue {
        SqlValue::Text(value.map(str::to_owned))
    }
}

impl From<Option<String>> for SqlValue {
    fn from(value: Option<String>) -> SqlValue {
        SqlValue::Text(value)
    }
}

impl From<Vec<u8>> for SqlValue {
    fn from(value: Vec<u8>) -> SqlValue {
        SqlValue::Bytes(Some(value))
    }
}

impl From<bool> for SqlValue {
    fn from(value: bool) -> SqlValue {
        SqlValue::Bool(Some(value))
    }
}

/// One statement of another component, run in the batch transaction if and
/// only if its unit's transfers are applied.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordWrite {
    sql: String,
    values: Vec<SqlValue>,
    expect_rows: Option<u64>,
    combined: Option<&'static str>,
}

impl fmt::Debug for RecordWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordWrite")
            .field("sql", &self.sql)
            .field("values", &self.values)
            .field("expect_rows", &self.expect_rows)
            .field("combined", &self.combined)
            .finish()
    }
}

impl RecordWrite {
    /// `sql` with `$1..` bound to `values` in order. The text must run on
    /// both SQLite and PostgreSQL and must come from the component's own
    /// code, never from outside: only `values` carry outside data.
    pub fn new(sql: impl Into<String>, values: Vec<SqlValue>) -> RecordWrite {
        RecordWrite {
            sql: sql.into(),
            values,
            expect_rows: None,
            combined: None,
        }
    }

    /// The write must change exactly `rows` rows, or its unit is not
    /// applied (a compare-and-swap that lost, an insert whose key is taken).
    pub fn expecting_rows(mut self, rows: u64) -> RecordWrite {
        self.expect_rows = Some(rows);
        self
    }

    /// The same write for many rows at once: `form` reads its rows from
    /// [`ROWS_PLACEHOLDER`], a row source with one row per write and the
    /// columns `c1, c2, ..` holding each write's values in order (typed as
    /// the values are; an alias follows it: `{rows} AS r`). The form binds
    /// nothing of its own: no `$n` (the row source's are the only ones),
    /// and each write's values reach it only through `{rows}`. Each row must
    /// change at most one row of the table (say, a key per row), so that a
    /// combined statement that changed as many rows as its writes expect
    /// changed each write's own. Like `sql`, it must run on both SQLite and
    /// PostgreSQL; on SQLite an `INSERT .. SELECT` with `ON CONFLICT` needs
    /// a `WHERE` (`WHERE true`).
    ///
    /// Writes in one batch with the same form, the same expected rows (one,
    /// none or unsaid) and values of the same kinds run as one statement;
    /// the writes of one unit still run in the order given.
    pub fn combining(mut self, form: &'static str) -> RecordWrite {
        self.combined = Some(form);
        self
    }

    /// The form given to [`RecordWrite::combining`], if any.
    pub fn combined_form(&self) -> Option<&'static str> {
        self.combined
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn values(&self) -> &[SqlValue] {
        &self.values
    }

    pub fn expect_rows(&self) -> Option<u64> {
        self.expect_rows
    }

    /// Whether it is within the bounds ([`RECORD_SQL_BYTES_MAX`],
    /// [`RECORD_VALUES_MAX`]).
    pub(crate) fn within_bounds(&self) -> bool {
        !self.sql.is_empty()
            && self.sql.len() <= RECORD_SQL_BYTES_MAX
            && self.values.len() <= RECORD_VALUES_MAX
            && self.combined.is_none_or(|form| {
                form.len() <= RECORD_SQL_BYTES_MAX && form.matches(ROWS_PLACEHOLDER).count() == 1
            })
    }
}

/// What one submission commits, all or nothing: a linked group of
/// transfers (empty when only records are written), the outbox messages
/// that announce it, and the records that describe it, in the order given.
#[derive(Debug, Clone, Default)]
pub struct Unit {
    pub transfers: Vec<NewTransfer>,
    pub outbox: Vec<OutboxMessage>,
    pub records: Vec<RecordWrite>,
}

impl Unit {
    /// Only record writes: no money moves.
    pub fn records(records: Vec<RecordWrite>) -> Unit {
        Unit {
            records,
            ..Unit::default()
        }
    }
}
