//! What `paybot torture --chat` (and `--standing`) reads of the database
//! directly, not through the code it checks: payments (standing orders),
//! ledger transfers, the outbox, and every text cell of every table (for
//! the search for codes in clear).
//!
//! Both backends answer the same queries in the same shapes (ids as 32 hex
//! digits, numbers as 64-bit integers), so one snapshot comes out of each.

use anyhow::Context;
use sqlx::Connection;

use super::chat_check::{ChatSnapshot, DbOutbox, DbPayment, DbTransfer, TextCell};
use super::check::StoredKind;
use super::cluster::Database;
use super::standing_check::{DbOrder, DbPosted, StandingSnapshot};

/// A connection to the run's database, either backend.
enum Db {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Db {
    async fn open(database: &Database) -> anyhow::Result<Db> {
        Ok(match database {
            Database::Sqlite { path, .. } => {
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .read_only(true);
                Db::Sqlite(
                    sqlx::SqliteConnection::connect_with(&options)
                        .await
                        .context("cannot open the SQLite database")?,
                )
            }
            Database::Postgres { url, .. } => Db::Postgres(
                sqlx::PgConnection::connect(url)
                    .await
                    .context("cannot connect to the run's PostgreSQL database")?,
            ),
        })
    }

    /// Runs `sqlite` or `pg`, whichever this backend speaks.
    async fn rows<T>(&mut self, sqlite: &str, pg: &str) -> anyhow::Result<Vec<T>>
    where
        T: Send
            + Unpin
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        Ok(match self {
            Db::Sqlite(db) => {
                sqlx::query_as(sqlx::AssertSqlSafe(sqlite.to_owned()))
                    .fetch_all(db)
                    .await?
            }
            Db::Postgres(db) => {
                sqlx::query_as(sqlx::AssertSqlSafe(pg.to_owned()))
                    .fetch_all(db)
                    .await?
            }
        })
    }

    async fn close(self) {
        let _ = match self {
            Db::Sqlite(db) => db.close().await,
            Db::Postgres(db) => db.close().await,
        };
    }
}

fn hex_id(hex: &str) -> anyhow::Result<u128> {
    u128::from_str_radix(hex, 16).with_context(|| format!("a stored id is not 16 bytes: {hex}"))
}

/// Outbox rows not yet marked delivered (read while the server runs).
pub(super) async fn undelivered(database: &Database) -> anyhow::Result<i64> {
    const SQL: &str = "SELECT count(*) FROM outbox WHERE delivered_at_ms IS NULL";
    let mut db = Db::open(database).await?;
    let rows: anyhow::Result<Vec<(i64,)>> = db.rows(SQL, SQL).await;
    db.close().await;
    Ok(rows?.first().map(|(n,)| *n).unwrap_or(0))
}

/// Everything the chat checker reads, with the server stopped.
pub(super) async fn snapshot(database: &Database) -> anyhow::Result<ChatSnapshot> {
    let mut db = Db::open(database).await?;
    let snapshot = read(&mut db).await;
    db.close().await;
    snapshot
}

async fn read(db: &mut Db) -> anyhow::Result<ChatSnapshot> {
    type PaymentRow = (
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
    );
    let payments: Vec<PaymentRow> = db
        .rows(
            "SELECT reference, hex(transfer_id), payer_id, payee_id, memo, state
             FROM bot_payments ORDER BY seq",
            "SELECT reference, replace(transfer_id::text, '-', ''), payer_id, payee_id, memo,
             state FROM bot_payments ORDER BY seq",
        )
        .await?;
    let payments = payments
        .into_iter()
        .map(|(reference, id, payer_id, payee_id, memo, state)| {
            Ok(DbPayment {
                reference,
                transfer_id: hex_id(&id)?,
                payer_id,
                payee_id,
                memo,
                state,
            })
        })
        .collect::<anyhow::Result<_>>()?;

    let transfers: Vec<(String, i64, Option<String>, i64)> = db
        .rows(
            "SELECT hex(id), kind, CASE WHEN pending_id IS NULL THEN NULL ELSE hex(pending_id) END,
             code FROM transfers ORDER BY seq",
            "SELECT replace(id::text, '-', ''), kind::bigint, replace(pending_id::text, '-', ''),
             code::bigint FROM transfers ORDER BY seq",
        )
        .await?;
    let transfers = transfers
        .into_iter()
        .map(|(id, kind, pending, code)| {
            Ok(DbTransfer {
                id: hex_id(&id)?,
                kind: StoredKind::from_db(kind).context("a stored transfer kind is unknown")?,
                pending_id: pending.as_deref().map(hex_id).transpose()?,
                code,
            })
        })
        .collect::<anyhow::Result<_>>()?;

    let outbox = read_outbox(db).await?;

    let columns: Vec<(String, String)> = db
        .rows(
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
             WHERE m.type = 'table' AND upper(p.type) LIKE '%TEXT%' ORDER BY m.name, p.cid",
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND data_type IN
             ('text', 'character varying', 'character', 'json', 'jsonb')
             ORDER BY table_name, ordinal_position",
        )
        .await?;
    let mut text_cells = Vec::new();
    for (table, column) in columns {
        // Names from the catalog: quoted, with any quote doubled.
        let t = table.replace('"', "\"\"");
        let c = column.replace('"', "\"\"");
        let sql = format!("SELECT CAST(\"{c}\" AS TEXT) FROM \"{t}\" WHERE \"{c}\" IS NOT NULL");
        let texts: Vec<(String,)> = db
            .rows(&sql, &sql)
            .await
            .with_context(|| format!("cannot read {table}.{column}"))?;
        text_cells.extend(texts.into_iter().map(|(text,)| TextCell {
            table: table.clone(),
            column: column.clone(),
            text,
        }));
    }
    Ok(ChatSnapshot {
        payments,
        transfers,
        outbox,
        text_cells,
    })
}

/// Standing orders moved on past their first period (read while the
/// servers run).
pub(super) async fn standing_moved_on(database: &Database) -> anyhow::Result<i64> {
    const SQL: &str = "SELECT count(*) FROM bot_standing_orders WHERE next_period >= 1";
    let mut db = Db::open(database).await?;
    let rows: anyhow::Result<Vec<(i64,)>> = db.rows(SQL, SQL).await;
    db.close().await;
    Ok(rows?.first().map(|(n,)| *n).unwrap_or(0))
}

/// Everything the `--standing` checker reads, with the servers stopped.
pub(super) async fn standing_snapshot(database: &Database) -> anyhow::Result<StandingSnapshot> {
    let mut db = Db::open(database).await?;
    let snapshot = read_standing(&mut db).await;
    db.close().await;
    snapshot
}

async fn read_standing(db: &mut Db) -> anyhow::Result<StandingSnapshot> {
    type OrderRow = (
        String,
        String,
        String,
        String,
        i64,
        Option<String>,
        String,
        i64,
    );
    let orders: Vec<OrderRow> = db
        .rows(
            "SELECT reference, order_id, payer_id, payee_id, amount, memo, state, next_period
             FROM bot_standing_orders ORDER BY seq",
            "SELECT reference, order_id, payer_id, payee_id, amount::bigint, memo, state,
             next_period::bigint FROM bot_standing_orders ORDER BY seq",
        )
        .await?;
    let orders = orders
        .into_iter()
        .map(
            |(reference, order_id, payer_id, payee_id, amount, memo, state, next_period)| {
                Ok(DbOrder {
                    reference,
                    order_id: hex_id(&order_id)?,
                    payer_id,
                    payee_id,
                    amount,
                    memo,
                    state,
                    next_period,
                })
            },
        )
        .collect::<anyhow::Result<_>>()?;
    let transfers: Vec<(String, i64, i64)> = db
        .rows(
            "SELECT hex(id), code, amount FROM transfers ORDER BY seq",
            "SELECT replace(id::text, '-', ''), code::bigint, amount FROM transfers ORDER BY seq",
        )
        .await?;
    let transfers = transfers
        .into_iter()
        .map(|(id, code, amount)| {
            Ok(DbPosted {
                id: hex_id(&id)?,
                code,
                amount,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let outbox = read_outbox(db).await?;
    Ok(StandingSnapshot {
        orders,
        transfers,
        outbox,
    })
}

/// Every outbox row in order; a row dropped after its last failed attempt
/// is marked delivered too, but nobody was told: it does not count as
/// delivered here.
async fn read_outbox(db: &mut Db) -> anyhow::Result<Vec<DbOutbox>> {
    let told = format!(
        "CASE WHEN delivered_at_ms IS NULL OR attempts >= {} THEN 0 ELSE 1 END",
        bot::notify::DELIVERY_ATTEMPTS_MAX
    );
    let outbox: Vec<(String, String, i64)> = db
        .rows(
            &format!("SELECT hex(id), payload, {told} FROM outbox ORDER BY seq"),
            &format!(
                "SELECT replace(id::text, '-', ''), payload, ({told})::bigint
                 FROM outbox ORDER BY seq"
            ),
        )
        .await?;
    outbox
        .into_iter()
        .map(|(id, payload, delivered)| {
            Ok(DbOutbox {
                id: hex_id(&id)?,
                payload,
                delivered: delivered != 0,
            })
        })
        .collect()
}
