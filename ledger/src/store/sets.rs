//! A batch's sets of rows, each passed to one statement whose text never
//! changes: SQLite gets the set as one JSON array (read with `json_each`),
//! PostgreSQL as one array per column (`UNNEST`, `= ANY`).
//!
//! The one design decision to know: the text is fixed, so each statement is
//! prepared once per connection and kept (sqlx's statement cache), however
//! many rows a batch has. The old `VALUES ($1, ..), ..` lists had one text per
//! row count, each parsed and planned again at every batch, and one
//! statement per chunk of binds. Both backends take the same rows in the same
//! order; what a batch writes is unchanged.
//!
//! What a batch writes once its engine has run ([`BatchWrites`]) goes in
//! one call, `write_batch`: SQLite runs a statement per set (each is a
//! call into the library, no round trip); PostgreSQL runs them as one
//! statement of data-modifying `WITH` parts, one round trip while the
//! batch holds its accounts' locks instead of five.

use std::collections::HashSet;

use crate::engine::Deltas;
use crate::records::{RecordWrite, SqlValue};
use crate::types::{AccountId, OutboxMessage, Transfer, TransferId};

/// What a batch writes once its engine has run, before its record writes:
/// the new transfers, the deadlines they open and close, the outbox of the
/// groups that succeeded and the accounts' deltas.
pub(crate) struct BatchWrites<'a> {
    /// The new transfers, in order.
    transfers: &'a [Transfer],
    /// Deadlines of the new pending transfers that are still open when the
    /// batch ends.
    opened: Vec<(TransferId, i64)>,
    /// Pending transfers the new ones resolve: their deadlines go.
    closed: Vec<uuid::Uuid>,
    /// Outbox messages, in order, written at `now_ms`.
    outbox: &'a [&'a OutboxMessage],
    now_ms: i64,
    deltas: &'a [(AccountId, Deltas)],
}

impl<'a> BatchWrites<'a> {
    pub(crate) fn new(
        transfers: &'a [Transfer],
        outbox: &'a [&'a OutboxMessage],
        now_ms: i64,
        deltas: &'a [(AccountId, Deltas)],
    ) -> BatchWrites<'a> {
        let closed: Vec<uuid::Uuid> = transfers
            .iter()
            .filter_map(|t| t.pending_id.map(TransferId::as_uuid))
            .collect();
        // A pending transfer resolved in the batch that made it never gets
        // a deadline: PostgreSQL's one statement could not delete a row it
        // inserts itself (its parts see the rows as they were before it).
        let resolved_here: HashSet<uuid::Uuid> = closed.iter().copied().collect();
        let opened = transfers
            .iter()
            .filter(|t| !resolved_here.contains(&t.id.as_uuid()))
            .filter_map(|t| Some((t.id, t.expires_at_ms()?)))
            .collect();
        BatchWrites {
            transfers,
            opened,
            closed,
            outbox,
            now_ms,
            deltas,
        }
    }

    /// Accounts whose totals the batch changes (what `write_batch` must
    /// report as updated).
    pub(crate) fn accounts_changed(&self) -> usize {
        self.deltas.len()
    }

    fn is_empty(&self) -> bool {
        self.transfers.is_empty()
            && self.closed.is_empty()
            && self.outbox.is_empty()
            && self.deltas.is_empty()
    }
}

/// The kind of a record write's value: a combined statement's column is
/// typed by it (see [`RecordWrite::combining`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum ValueKind {
    Int,
    Text,
    Bytes,
    Uuid,
    Bool,
}

impl ValueKind {
    pub(crate) fn of(value: &SqlValue) -> ValueKind {
        match value {
            SqlValue::Int(_) => ValueKind::Int,
            SqlValue::Text(_) => ValueKind::Text,
            SqlValue::Bytes(_) => ValueKind::Bytes,
            SqlValue::Uuid(_) => ValueKind::Uuid,
            SqlValue::Bool(_) => ValueKind::Bool,
        }
    }
}

/// The columns `transfer_from_row` reads, in the order `INSERT`s write them.
macro_rules! transfer_columns {
    () => {
        "id, kind, debit_account_id, credit_account_id, amount, currency, pending_id, \
         timeout_secs, code, timestamp_ms"
    };
}

/// PostgreSQL: inserts outbox messages in order, skipping an id already
/// written; the parameters name the arrays of [`postgres::outbox`] (ids,
/// topics, payloads) and the messages' time. Alone ([`postgres::INSERT_OUTBOX`])
/// and as a part of [`postgres::WRITE_BATCH`].
macro_rules! insert_outbox_sql {
    ($ids:literal, $topics:literal, $payloads:literal, $at:literal) => {
        concat!(
            "INSERT INTO outbox (id, topic, payload, created_at_ms) SELECT id, topic, payload, ",
            $at,
            " FROM UNNEST(",
            $ids,
            "::uuid[], ",
            $topics,
            "::text[], ",
            $payloads,
            "::text[]) WITH ORDINALITY AS m(id, topic, payload, n) ORDER BY n \
             ON CONFLICT (id) DO NOTHING"
        )
    };
}

/// The columns `account_from_row` reads.
macro_rules! account_columns {
    () => {
        "id, owner, kind, currency, flags, debits_posted, credits_posted, debits_pending, \
         credits_pending"
    };
}

/// SQLite: each set is one JSON array bound as text; ids as hex strings
/// (`unhex` makes the 16-byte blobs the tables hold), numbers as JSON
/// integers (exact over all of `i64`).
pub(crate) mod sqlite {
    use std::fmt::Write as _;

    use super::{
        AccountId, BatchWrites, Deltas, RecordWrite, SqlValue, Transfer, TransferId, ValueKind,
    };

    type Query = sqlx::query::Query<'static, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

    /// The writer keeps the accounts it committed between batches, while
    /// [`DATA_VERSION`] says no other connection committed.
    pub(crate) const CACHES_ACCOUNTS: bool = true;
    /// Changes when another connection commits to the database.
    pub(crate) const DATA_VERSION: &str = "PRAGMA data_version";
    /// How a batch's transaction begins: with the database's write lock.
    pub(crate) const BATCH_BEGIN: &str = "BEGIN IMMEDIATE";

    /// An account's history is read from `account_entries`, which the
    /// writer fills in steps, not from indexes of `transfers` that every
    /// commit would write (ledger migration 4). One step, in one
    /// transaction: the entries of every transfer past the mark, in key
    /// order, then the mark moved to the last transfer. Under the write
    /// lock, so no transfer commits between the two.
    pub(crate) const INDEX_ACCOUNT_ENTRIES: Option<[&str; 2]> = Some([
        "INSERT INTO account_entries (account_id, seq) \
         SELECT account_id, seq FROM ( \
             SELECT debit_account_id AS account_id, seq FROM transfers \
             WHERE seq > (SELECT seq FROM account_entries_mark) \
             UNION ALL \
             SELECT credit_account_id, seq FROM transfers \
             WHERE seq > (SELECT seq FROM account_entries_mark) \
         ) ORDER BY account_id, seq",
        "UPDATE account_entries_mark SET seq = COALESCE((SELECT MAX(seq) FROM transfers), seq)",
    ]);
    /// `paybot verify`: transfers up to the mark without both entries
    /// (`missing`), and entries naming no transfer of their account or
    /// past the mark (`stray`).
    pub(crate) const ACCOUNT_ENTRIES_CHECK: Option<&str> = Some(
        "SELECT \
           (SELECT COUNT(*) FROM transfers t \
            WHERE t.seq <= (SELECT seq FROM account_entries_mark) \
              AND (NOT EXISTS (SELECT 1 FROM account_entries e \
                               WHERE e.account_id = t.debit_account_id AND e.seq = t.seq) \
                   OR NOT EXISTS (SELECT 1 FROM account_entries e \
                                  WHERE e.account_id = t.credit_account_id AND e.seq = t.seq))) \
           AS missing, \
           (SELECT COUNT(*) FROM account_entries e \
            WHERE e.seq > (SELECT seq FROM account_entries_mark) \
               OR NOT EXISTS (SELECT 1 FROM transfers t WHERE t.seq = e.seq \
                              AND e.account_id IN (t.debit_account_id, t.credit_account_id))) \
           AS stray",
    );
    /// An account's transfers before a cursor, newest first: its entries
    /// (at most the page's length of them, read backwards), and the
    /// transfers past the mark that name it. One statement, so both are
    /// read at one moment: none is seen twice or missed. Binds the account,
    /// the cursor's `seq` and the page's length.
    pub(crate) const HISTORY: &str = concat!(
        "SELECT t.seq, ",
        transfer_columns!(),
        " FROM ( \
             SELECT seq FROM ( \
                 SELECT seq FROM account_entries WHERE account_id = $1 AND seq < $2 \
                 ORDER BY seq DESC LIMIT CAST($3 AS BIGINT)) \
             UNION ALL \
             SELECT seq FROM transfers \
             WHERE seq > (SELECT seq FROM account_entries_mark) AND seq < $2 \
               AND (debit_account_id = $1 OR credit_account_id = $1) \
         ) AS s JOIN transfers t ON t.seq = s.seq \
         ORDER BY t.seq DESC LIMIT CAST($3 AS BIGINT)"
    );
    /// Open pending transfers debiting an account, soonest deadline first:
    /// found through its entries and the transfers past the mark. Binds
    /// the account and the most to return.
    pub(crate) const OPEN_PENDING_DEBITS: &str = concat!(
        "SELECT ",
        transfer_columns!(),
        " FROM ( \
             SELECT seq FROM account_entries WHERE account_id = $1 \
             UNION ALL \
             SELECT seq FROM transfers \
             WHERE seq > (SELECT seq FROM account_entries_mark) AND debit_account_id = $1 \
         ) AS s JOIN transfers t ON t.seq = s.seq \
         JOIN pending_expiries e ON e.transfer_id = t.id \
         WHERE t.debit_account_id = $1 \
         ORDER BY e.expires_at_ms, t.seq LIMIT CAST($2 AS BIGINT)"
    );

    /// Transfers by id; binds [`uuids`].
    pub(crate) const TRANSFERS_BY_ID: &str = concat!(
        "SELECT ",
        transfer_columns!(),
        " FROM transfers WHERE id IN (SELECT unhex(value) FROM json_each($1))"
    );
    /// The resolutions of pending transfers; binds [`uuids`].
    pub(crate) const TRANSFERS_BY_PENDING_ID: &str = concat!(
        "SELECT ",
        transfer_columns!(),
        " FROM transfers WHERE pending_id IN (SELECT unhex(value) FROM json_each($1))"
    );
    /// Accounts by id, in id order (SQLite's write lock is the batch's
    /// `BEGIN IMMEDIATE`); binds [`account_ids`].
    pub(crate) const ACCOUNTS_BY_ID: &str = concat!(
        "SELECT ",
        account_columns!(),
        " FROM accounts WHERE id IN (SELECT value FROM json_each($1)) ORDER BY id"
    );
    /// New transfers, in order; binds [`transfers`].
    pub(crate) const INSERT_TRANSFERS: &str = concat!(
        "INSERT INTO transfers (",
        transfer_columns!(),
        ") SELECT unhex(value ->> 0), value ->> 1, value ->> 2, value ->> 3, value ->> 4, \
         value ->> 5, unhex(value ->> 6), value ->> 7, value ->> 8, value ->> 9 \
         FROM json_each($1) ORDER BY key"
    );
    /// New open pending transfers' deadlines; binds [`expiries`].
    pub(crate) const INSERT_EXPIRIES: &str = "INSERT INTO pending_expiries (transfer_id, expires_at_ms) \
         SELECT unhex(value ->> 0), value ->> 1 FROM json_each($1) ORDER BY key";
    /// Deadlines of pending transfers now resolved; binds [`uuids`].
    pub(crate) const DELETE_EXPIRIES: &str = "DELETE FROM pending_expiries \
         WHERE transfer_id IN (SELECT unhex(value) FROM json_each($1))";
    /// Adds deltas to accounts' totals; binds [`totals`].
    pub(crate) const UPDATE_TOTALS: &str = "UPDATE accounts SET \
         debits_posted = accounts.debits_posted + (d.value ->> 1), \
         credits_posted = accounts.credits_posted + (d.value ->> 2), \
         debits_pending = accounts.debits_pending + (d.value ->> 3), \
         credits_pending = accounts.credits_pending + (d.value ->> 4) \
         FROM json_each($1) AS d WHERE accounts.id = (d.value ->> 0)";

    /// Runs a batch's writes, a statement per set that has rows; returns
    /// how many accounts' totals it updated.
    pub(crate) async fn write_batch(
        conn: &mut sqlx::SqliteConnection,
        writes: &BatchWrites<'_>,
    ) -> Result<u64, sqlx::Error> {
        if !writes.transfers.is_empty() {
            transfers(sqlx::query(INSERT_TRANSFERS), writes.transfers)
                .execute(&mut *conn)
                .await?;
        }
        if !writes.opened.is_empty() {
            expiries(sqlx::query(INSERT_EXPIRIES), &writes.opened)
                .execute(&mut *conn)
                .await?;
        }
        if !writes.closed.is_empty() {
            uuids(sqlx::query(DELETE_EXPIRIES), &writes.closed)
                .execute(&mut *conn)
                .await?;
        }
        if !writes.outbox.is_empty() {
            outbox(sqlx::query(INSERT_OUTBOX), writes.outbox)
                .bind(writes.now_ms)
                .execute(&mut *conn)
                .await?;
        }
        if writes.deltas.is_empty() {
            return Ok(0);
        }
        let updated = totals(sqlx::query(UPDATE_TOTALS), writes.deltas)
            .execute(&mut *conn)
            .await?;
        Ok(updated.rows_affected())
    }

    fn push_uuid(json: &mut String, id: uuid::Uuid) {
        let _ = write!(json, "\"{}\"", id.simple());
    }

    /// A JSON string: the text between quotes, with `"`, `\` and control
    /// characters escaped.
    fn push_text(json: &mut String, text: &str) {
        json.push('"');
        for c in text.chars() {
            match c {
                '"' => json.push_str("\\\""),
                '\\' => json.push_str("\\\\"),
                c if u32::from(c) < 0x20 => {
                    let _ = write!(json, "\\u{:04x}", u32::from(c));
                }
                c => json.push(c),
            }
        }
        json.push('"');
    }

    /// Binds `items` as one JSON array, each item written by `push`.
    fn bind_array<T>(query: Query, items: &[T], push: impl Fn(&mut String, &T)) -> Query {
        let mut json = String::with_capacity(items.len().saturating_mul(64).saturating_add(2));
        json.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            push(&mut json, item);
        }
        json.push(']');
        query.bind(json)
    }

    /// `["<hex>", ...]`.
    pub(crate) fn uuids(query: Query, ids: &[uuid::Uuid]) -> Query {
        bind_array(query, ids, |json, id| push_uuid(json, *id))
    }

    /// `[1, 2, ...]`.
    pub(crate) fn account_ids(query: Query, ids: &[i64]) -> Query {
        bind_array(query, ids, |json, id| {
            let _ = write!(json, "{id}");
        })
    }

    /// One array per transfer, its columns in `transfer_columns!` order.
    pub(crate) fn transfers(query: Query, transfers: &[Transfer]) -> Query {
        bind_array(query, transfers, |json, t| {
            json.push('[');
            push_uuid(json, t.id.as_uuid());
            let _ = write!(
                json,
                ",{},{},{},{},",
                t.kind.to_db(),
                t.debit_account_id.0,
                t.credit_account_id.0,
                t.amount.minor()
            );
            push_text(json, t.amount.currency().code());
            json.push(',');
            match t.pending_id {
                Some(p) => push_uuid(json, p.as_uuid()),
                None => json.push_str("null"),
            }
            let _ = write!(json, ",{},{},{}]", t.timeout_secs, t.code, t.timestamp_ms);
        })
    }

    /// New outbox messages, in order, `$2` their time; binds [`outbox`].
    pub(crate) const INSERT_OUTBOX: &str = "INSERT INTO outbox (id, topic, payload, created_at_ms) \
         SELECT unhex(value ->> 0), value ->> 1, value ->> 2, $2 FROM json_each($1) \
         WHERE true ORDER BY key ON CONFLICT (id) DO NOTHING";

    /// Marks outbox messages (`$1`, [`uuids`]) delivered at `$2`.
    pub(crate) const OUTBOX_DELIVERED: &str = "UPDATE outbox SET delivered_at_ms = $2 \
         WHERE id IN (SELECT unhex(value) FROM json_each($1))";
    /// Counts a failed delivery attempt of outbox messages (`$1`, [`uuids`]).
    pub(crate) const OUTBOX_ATTEMPTED: &str = "UPDATE outbox SET attempts = attempts + 1 \
         WHERE id IN (SELECT unhex(value) FROM json_each($1))";

    /// `[["<hex>", topic, payload], ...]`.
    pub(crate) fn outbox(query: Query, messages: &[&crate::types::OutboxMessage]) -> Query {
        bind_array(query, messages, |json, m| {
            json.push('[');
            push_uuid(json, uuid::Uuid::from_u128(m.id()));
            json.push(',');
            push_text(json, m.topic());
            json.push(',');
            push_text(json, m.payload());
            json.push(']');
        })
    }

    /// A combined record write's rows (`$1`, bound by [`rows`]): columns
    /// `c1..` typed by `kinds`, blobs carried as hex.
    pub(crate) fn rows_source(kinds: &[ValueKind]) -> String {
        let mut sql = String::from("(SELECT ");
        for (i, kind) in kinds.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let _ = match kind {
                ValueKind::Bytes | ValueKind::Uuid => {
                    write!(sql, "unhex(value ->> {i}) AS c{}", i + 1)
                }
                ValueKind::Int | ValueKind::Text | ValueKind::Bool => {
                    write!(sql, "value ->> {i} AS c{}", i + 1)
                }
            };
        }
        sql.push_str(" FROM json_each($1))");
        sql
    }

    /// One array per write, its values in order (their kinds are the
    /// JSON's own).
    pub(crate) fn rows(query: Query, writes: &[&RecordWrite], _kinds: &[ValueKind]) -> Query {
        bind_array(query, writes, |json, write| {
            json.push('[');
            for (i, value) in write.values().iter().enumerate() {
                if i > 0 {
                    json.push(',');
                }
                match value {
                    SqlValue::Int(Some(v)) => {
                        let _ = write!(json, "{v}");
                    }
                    SqlValue::Text(Some(v)) => push_text(json, v),
                    SqlValue::Bytes(Some(v)) => {
                        json.push('"');
                        for byte in v {
                            let _ = write!(json, "{byte:02x}");
                        }
                        json.push('"');
                    }
                    SqlValue::Uuid(Some(v)) => push_uuid(json, uuid::Uuid::from_u128(*v)),
                    SqlValue::Bool(Some(v)) => json.push_str(if *v { "1" } else { "0" }),
                    SqlValue::Int(None)
                    | SqlValue::Text(None)
                    | SqlValue::Bytes(None)
                    | SqlValue::Uuid(None)
                    | SqlValue::Bool(None) => json.push_str("null"),
                }
            }
            json.push(']');
        })
    }

    /// `[["<hex>", expires_at_ms], ...]`.
    pub(crate) fn expiries(query: Query, expiries: &[(TransferId, i64)]) -> Query {
        bind_array(query, expiries, |json, (id, at)| {
            json.push('[');
            push_uuid(json, id.as_uuid());
            let _ = write!(json, ",{at}]");
        })
    }

    /// `[[account, dp, cp, dq, cq], ...]`.
    pub(crate) fn totals(query: Query, deltas: &[(AccountId, Deltas)]) -> Query {
        bind_array(query, deltas, |json, (id, d)| {
            let _ = write!(
                json,
                "[{},{},{},{},{}]",
                id.0, d.debits_posted, d.credits_posted, d.debits_pending, d.credits_pending
            );
        })
    }
}

/// PostgreSQL: each set is one array per column.
pub(crate) mod postgres {
    use std::fmt::Write as _;

    use super::{
        AccountId, BatchWrites, Deltas, RecordWrite, SqlValue, Transfer, TransferId, ValueKind,
    };

    type Query = sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments>;

    /// Every batch reads its accounts: `FOR UPDATE` is how it locks them.
    pub(crate) const CACHES_ACCOUNTS: bool = false;
    /// Not used: see [`CACHES_ACCOUNTS`].
    pub(crate) const DATA_VERSION: &str = "SELECT 0::int8";
    /// How a batch's transaction begins: with its statements planned to
    /// use the indexes. After a prepared statement's fifth run PostgreSQL
    /// may plan it once for any values, and keep that plan until the
    /// table is next analyzed. Made while the tables were small (a new
    /// database, before any `ANALYZE`: autovacuum may be off, or not have
    /// run yet), that plan reads the whole table, and every later batch
    /// reads more rows than the last: `transfers` by id, `accounts` to
    /// lock them, the bot's payments to update them. Every statement of a
    /// batch looks up or writes rows by key, so an index is always the
    /// right plan; planning each run for its values instead
    /// (`plan_cache_mode`) cost more than it saved.
    pub(crate) const BATCH_BEGIN: &str = "BEGIN; SET LOCAL enable_seqscan = off";

    /// None: an account's history is read through `transfers_by_debit`
    /// and `transfers_by_credit`, which each commit keeps (by our reading
    /// PostgreSQL's WAL logs an index insert as a small record, not its
    /// page).
    pub(crate) const INDEX_ACCOUNT_ENTRIES: Option<[&str; 2]> = None;
    /// No entries to check: see [`INDEX_ACCOUNT_ENTRIES`].
    pub(crate) const ACCOUNT_ENTRIES_CHECK: Option<&str> = None;
    /// An account's transfers before a cursor, newest first. Binds the
    /// account, the cursor's `seq` and the page's length.
    pub(crate) const HISTORY: &str = concat!(
        "SELECT seq, ",
        transfer_columns!(),
        " FROM transfers \
         WHERE (debit_account_id = $1 OR credit_account_id = $1) AND seq < $2 \
         ORDER BY seq DESC LIMIT CAST($3 AS BIGINT)"
    );
    /// Open pending transfers debiting an account, soonest deadline first.
    /// Binds the account and the most to return.
    pub(crate) const OPEN_PENDING_DEBITS: &str = "SELECT t.id, t.kind, t.debit_account_id, t.credit_account_id, t.amount, \
                t.currency, t.pending_id, t.timeout_secs, t.code, t.timestamp_ms \
         FROM pending_expiries e JOIN transfers t ON t.id = e.transfer_id \
         WHERE t.debit_account_id = $1 \
         ORDER BY e.expires_at_ms, t.seq LIMIT CAST($2 AS BIGINT)";

    /// Transfers by id; binds [`uuids`].
    pub(crate) const TRANSFERS_BY_ID: &str = concat!(
        "SELECT ",
        transfer_columns!(),
        " FROM transfers WHERE id = ANY($1)"
    );
    /// The resolutions of pending transfers; binds [`uuids`].
    pub(crate) const TRANSFERS_BY_PENDING_ID: &str = concat!(
        "SELECT ",
        transfer_columns!(),
        " FROM transfers WHERE pending_id = ANY($1)"
    );
    /// Accounts by id, locked in id order (so two batches cannot
    /// deadlock); binds [`account_ids`].
    pub(crate) const ACCOUNTS_BY_ID: &str = concat!(
        "SELECT ",
        account_columns!(),
        " FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE"
    );
    /// A batch's writes in one statement (see [`write_batch`]): its parts
    /// see the tables as they were before it, so no part reads what
    /// another writes (a deadline both opened and closed by the batch is
    /// left out of [`BatchWrites`]'s `opened`); each part with no rows
    /// does nothing. New transfers in order (`$1..$10`, [`transfers`]),
    /// new deadlines (`$11, $12`, [`expiries`]), deadlines of resolved
    /// transfers (`$13`), outbox messages in order at `$17` (`$14..$16`,
    /// [`outbox`]), the accounts' deltas (`$18..$22`, [`totals`]); it
    /// returns how many accounts it updated.
    pub(crate) const WRITE_BATCH: &str = concat!(
        "WITH new_transfers AS (INSERT INTO transfers (",
        transfer_columns!(),
        ") SELECT id, kind, dr, cr, amount, currency, pending_id, timeout_secs, code, \
         timestamp_ms FROM UNNEST($1::uuid[], $2::int2[], $3::int8[], $4::int8[], \
         $5::int8[], $6::text[], $7::uuid[], $8::int8[], $9::int4[], $10::int8[]) \
         WITH ORDINALITY AS t(id, kind, dr, cr, amount, currency, pending_id, timeout_secs, \
         code, timestamp_ms, n) ORDER BY n), \
         opened AS (INSERT INTO pending_expiries (transfer_id, expires_at_ms) \
         SELECT * FROM UNNEST($11::uuid[], $12::int8[])), \
         closed AS (DELETE FROM pending_expiries WHERE transfer_id = ANY($13::uuid[])), \
         messages AS (",
        insert_outbox_sql!("$14", "$15", "$16", "$17::int8"),
        "), \
         totals AS (UPDATE accounts SET \
         debits_posted = accounts.debits_posted + d.dp, \
         credits_posted = accounts.credits_posted + d.cp, \
         debits_pending = accounts.debits_pending + d.dq, \
         credits_pending = accounts.credits_pending + d.cq \
         FROM UNNEST($18::int8[], $19::int8[], $20::int8[], $21::int8[], $22::int8[]) \
         AS d(id, dp, cp, dq, cq) WHERE accounts.id = d.id RETURNING 1) \
         SELECT COUNT(*) FROM totals"
    );

    /// Runs a batch's writes as one statement ([`WRITE_BATCH`]), none when
    /// there is nothing to write; returns how many accounts' totals it
    /// updated.
    pub(crate) async fn write_batch(
        conn: &mut sqlx::PgConnection,
        writes: &BatchWrites<'_>,
    ) -> Result<u64, sqlx::Error> {
        if writes.is_empty() {
            return Ok(0);
        }
        let query = transfers(sqlx::query(WRITE_BATCH), writes.transfers);
        let query = expiries(query, &writes.opened);
        let query = uuids(query, &writes.closed);
        let query = outbox(query, writes.outbox).bind(writes.now_ms);
        let row = totals(query, writes.deltas).fetch_one(&mut *conn).await?;
        let updated: i64 = sqlx::Row::try_get(&row, 0)?;
        Ok(u64::try_from(updated).unwrap_or(0))
    }

    /// New outbox messages, in order, `$4` their time; binds [`outbox`].
    pub(crate) const INSERT_OUTBOX: &str = insert_outbox_sql!("$1", "$2", "$3", "$4");

    /// Marks outbox messages (`$1`, [`uuids`]) delivered at `$2`.
    pub(crate) const OUTBOX_DELIVERED: &str =
        "UPDATE outbox SET delivered_at_ms = $2 WHERE id = ANY($1)";
    /// Counts a failed delivery attempt of outbox messages (`$1`, [`uuids`]).
    pub(crate) const OUTBOX_ATTEMPTED: &str =
        "UPDATE outbox SET attempts = attempts + 1 WHERE id = ANY($1)";

    /// A `uuid[]` of ids, a `text[]` of topics and one of payloads.
    pub(crate) fn outbox(query: Query, messages: &[&crate::types::OutboxMessage]) -> Query {
        query
            .bind(
                messages
                    .iter()
                    .map(|m| uuid::Uuid::from_u128(m.id()))
                    .collect::<Vec<_>>(),
            )
            .bind(
                messages
                    .iter()
                    .map(|m| m.topic().to_owned())
                    .collect::<Vec<String>>(),
            )
            .bind(
                messages
                    .iter()
                    .map(|m| m.payload().to_owned())
                    .collect::<Vec<String>>(),
            )
    }

    /// A combined record write's rows (one array per column, bound by
    /// [`rows`]): columns `c1..` typed by `kinds`.
    pub(crate) fn rows_source(kinds: &[ValueKind]) -> String {
        let mut sql = String::from("(SELECT * FROM UNNEST(");
        for (i, kind) in kinds.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let array = match kind {
                ValueKind::Int => "int8[]",
                ValueKind::Text => "text[]",
                ValueKind::Bytes => "bytea[]",
                ValueKind::Uuid => "uuid[]",
                ValueKind::Bool => "bool[]",
            };
            let _ = write!(sql, "${}::{array}", i + 1);
        }
        sql.push_str(") AS u(");
        for i in 0..kinds.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            let _ = write!(sql, "c{}", i + 1);
        }
        sql.push_str("))");
        sql
    }

    /// One array per column of `kinds`; every write's values are of those
    /// kinds (a value of another kind is bound as NULL; the caller checks
    /// first).
    pub(crate) fn rows(mut query: Query, writes: &[&RecordWrite], kinds: &[ValueKind]) -> Query {
        for (i, kind) in kinds.iter().enumerate() {
            query = match kind {
                ValueKind::Int => query.bind(column(writes, i, |v| match v {
                    SqlValue::Int(v) => *v,
                    _ => None,
                })),
                ValueKind::Text => query.bind(column(writes, i, |v| match v {
                    SqlValue::Text(v) => v.clone(),
                    _ => None,
                })),
                ValueKind::Bytes => query.bind(column(writes, i, |v| match v {
                    SqlValue::Bytes(v) => v.clone(),
                    _ => None,
                })),
                ValueKind::Uuid => query.bind(column(writes, i, |v| match v {
                    SqlValue::Uuid(v) => v.map(uuid::Uuid::from_u128),
                    _ => None,
                })),
                ValueKind::Bool => query.bind(column(writes, i, |v| match v {
                    SqlValue::Bool(v) => *v,
                    _ => None,
                })),
            };
        }
        query
    }

    /// Value #`i` of each write, as `pick` reads it.
    fn column<T>(
        writes: &[&RecordWrite],
        i: usize,
        pick: impl Fn(&SqlValue) -> Option<T>,
    ) -> Vec<Option<T>> {
        writes
            .iter()
            .map(|w| w.values().get(i).and_then(&pick))
            .collect()
    }

    /// One `uuid[]`.
    pub(crate) fn uuids(query: Query, ids: &[uuid::Uuid]) -> Query {
        query.bind(ids.to_vec())
    }

    /// One `int8[]`.
    pub(crate) fn account_ids(query: Query, ids: &[i64]) -> Query {
        query.bind(ids.to_vec())
    }

    /// One array per column, in `transfer_columns!` order.
    pub(crate) fn transfers(query: Query, transfers: &[Transfer]) -> Query {
        let column = |f: &dyn Fn(&Transfer) -> i64| transfers.iter().map(f).collect::<Vec<i64>>();
        query
            .bind(transfers.iter().map(|t| t.id.as_uuid()).collect::<Vec<_>>())
            .bind(
                transfers
                    .iter()
                    .map(|t| t.kind.to_db())
                    .collect::<Vec<i16>>(),
            )
            .bind(column(&|t| t.debit_account_id.0))
            .bind(column(&|t| t.credit_account_id.0))
            .bind(column(&|t| t.amount.minor()))
            .bind(
                transfers
                    .iter()
                    .map(|t| t.amount.currency().code())
                    .collect::<Vec<&'static str>>(),
            )
            .bind(
                transfers
                    .iter()
                    .map(|t| t.pending_id.map(TransferId::as_uuid))
                    .collect::<Vec<_>>(),
            )
            .bind(column(&|t| i64::from(t.timeout_secs)))
            .bind(
                transfers
                    .iter()
                    .map(|t| i32::from(t.code))
                    .collect::<Vec<i32>>(),
            )
            .bind(column(&|t| t.timestamp_ms))
    }

    /// A `uuid[]` of transfer ids and an `int8[]` of deadlines.
    pub(crate) fn expiries(query: Query, expiries: &[(TransferId, i64)]) -> Query {
        query
            .bind(
                expiries
                    .iter()
                    .map(|(id, _)| id.as_uuid())
                    .collect::<Vec<_>>(),
            )
            .bind(expiries.iter().map(|(_, at)| *at).collect::<Vec<i64>>())
    }

    /// Five `int8[]`: account ids and the four deltas.
    pub(crate) fn totals(query: Query, deltas: &[(AccountId, Deltas)]) -> Query {
        let column =
            |f: &dyn Fn(&(AccountId, Deltas)) -> i64| deltas.iter().map(f).collect::<Vec<i64>>();
        query
            .bind(column(&|(id, _)| id.0))
            .bind(column(&|(_, d)| d.debits_posted))
            .bind(column(&|(_, d)| d.credits_posted))
            .bind(column(&|(_, d)| d.debits_pending))
            .bind(column(&|(_, d)| d.credits_pending))
    }
}
