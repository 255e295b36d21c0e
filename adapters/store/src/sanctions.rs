//! The SDN list ([`SanctionsStore`]): replaced whole in one transaction,
//! read whole in one snapshot, on both backends (one macro, as in
//! `lib.rs`).
//!
//! A load deletes the old listings and aliases and inserts the new ones in
//! multi-row statements of [`SANCTIONS_ROWS_PER_INSERT`] rows, then records
//! the load; a failure anywhere rolls it all back, so the old list stays.
//! Two loads at once take turns (SQLite's `BEGIN IMMEDIATE`, PostgreSQL's
//! table lock, which readers pass).

use async_trait::async_trait;
use bot::store::StoreError;
use bot::trust::sanctions::{
    EntNum, ListDate, SanctionsList, SanctionsListInfo, SanctionsStore, SdnAlias, SdnEntry,
};

use crate::{Backend, Error, SqlStore, corrupt};

/// Rows per `INSERT` of a load (4 binds each: well under both backends'
/// bind limits).
pub(crate) const SANCTIONS_ROWS_PER_INSERT: usize = 500;

/// `($1, $2, $3, $4), ($5, ...)` for `rows` rows of `columns` binds.
fn placeholders(rows: usize, columns: usize) -> String {
    let mut text = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            text.push_str(", ");
        }
        text.push('(');
        for column in 0..columns {
            if column > 0 {
                text.push_str(", ");
            }
            text.push('$');
            text.push_str(&(row * columns + column + 1).to_string());
        }
        text.push(')');
    }
    text
}

fn count(n: usize, what: &str) -> Result<i64, Error> {
    i64::try_from(n).map_err(|_| Error::Refused(format!("too many {what}")))
}

macro_rules! sanctions_backend {
    ($module:ident, $db:ty, $write_begin:literal, $write_lock:expr, $read_begin:literal) => {
        pub(crate) mod $module {
            use sqlx::Row;

            use super::*;

            type Db = $db;
            type Pool = ledger::StatementPool<Db>;
            type DbRow = <Db as sqlx::Database>::Row;

            fn info_row(row: &DbRow) -> Result<SanctionsListInfo, Error> {
                let table = "bot_sanctions_lists";
                let published: String = row.try_get("published")?;
                let entries: i64 = row.try_get("entries")?;
                let aliases: i64 = row.try_get("aliases")?;
                Ok(SanctionsListInfo {
                    id: row.try_get("id")?,
                    published: ListDate::parse(&published)
                        .ok_or_else(|| corrupt(table, "published", &published))?,
                    entries: u32::try_from(entries)
                        .map_err(|_| corrupt(table, "entries", entries))?,
                    aliases: u32::try_from(aliases)
                        .map_err(|_| corrupt(table, "aliases", aliases))?,
                    loaded_at_ms: row.try_get("loaded_at_ms")?,
                })
            }

            const INFO: &str = "SELECT id, published, entries, aliases, loaded_at_ms
                 FROM bot_sanctions_lists ORDER BY id DESC LIMIT 1";

            pub(crate) async fn replace(
                pool: &Pool,
                list: &SanctionsList,
                loaded_at_ms: i64,
            ) -> Result<SanctionsListInfo, Error> {
                let mut tx = pool.begin_with($write_begin).await?;
                if let Some(lock) = $write_lock {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                sqlx::query("DELETE FROM bot_sanctions_aliases")
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM bot_sanctions_entries")
                    .execute(&mut *tx)
                    .await?;
                for chunk in list.entries().chunks(SANCTIONS_ROWS_PER_INSERT) {
                    let sql = format!(
                        "INSERT INTO bot_sanctions_entries (ent_num, name, sdn_type, program) VALUES {}",
                        placeholders(chunk.len(), 4)
                    );
                    // Only placeholders are formatted in: the values are bound.
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for entry in chunk {
                        query = query
                            .bind(entry.ent_num.get())
                            .bind(&entry.name)
                            .bind(entry.sdn_type.as_deref())
                            .bind(entry.program.as_deref());
                    }
                    query.execute(&mut *tx).await?;
                }
                for chunk in list.aliases().chunks(SANCTIONS_ROWS_PER_INSERT) {
                    let sql = format!(
                        "INSERT INTO bot_sanctions_aliases (alt_num, ent_num, alt_type, name) VALUES {}",
                        placeholders(chunk.len(), 4)
                    );
                    // Only placeholders are formatted in: the values are bound.
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for alias in chunk {
                        query = query
                            .bind(alias.alt_num)
                            .bind(alias.ent_num.get())
                            .bind(alias.alt_type.as_deref())
                            .bind(&alias.name);
                    }
                    query.execute(&mut *tx).await?;
                }
                let row = sqlx::query(
                    "INSERT INTO bot_sanctions_lists (published, entries, aliases, loaded_at_ms)
                     VALUES ($1, $2, $3, $4)
                     RETURNING id, published, entries, aliases, loaded_at_ms",
                )
                .bind(list.published().to_string())
                .bind(count(list.entries().len(), "entries")?)
                .bind(count(list.aliases().len(), "aliases")?)
                .bind(loaded_at_ms)
                .fetch_one(&mut *tx)
                .await?;
                let info = info_row(&row)?;
                tx.commit().await?;
                Ok(info)
            }

            pub(crate) async fn info(pool: &Pool) -> Result<Option<SanctionsListInfo>, Error> {
                let row = sqlx::query(INFO).fetch_optional(pool).await?;
                row.as_ref().map(info_row).transpose()
            }

            pub(crate) async fn list(
                pool: &Pool,
            ) -> Result<Option<(SanctionsListInfo, SanctionsList)>, Error> {
                let mut tx = pool.begin_with($read_begin).await?;
                let row = sqlx::query(INFO).fetch_optional(&mut *tx).await?;
                let Some(info) = row.as_ref().map(info_row).transpose()? else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                let entries = sqlx::query(
                    "SELECT ent_num, name, sdn_type, program FROM bot_sanctions_entries
                     ORDER BY ent_num",
                )
                .fetch_all(&mut *tx)
                .await?;
                let aliases = sqlx::query(
                    "SELECT alt_num, ent_num, alt_type, name FROM bot_sanctions_aliases
                     ORDER BY alt_num",
                )
                .fetch_all(&mut *tx)
                .await?;
                tx.rollback().await?;
                let ent_num = |row: &DbRow, table: &str| -> Result<EntNum, Error> {
                    let n: i64 = row.try_get("ent_num")?;
                    EntNum::new(n).ok_or_else(|| corrupt(table, "ent_num", n))
                };
                let entries = entries
                    .iter()
                    .map(|row| {
                        Ok(SdnEntry {
                            ent_num: ent_num(row, "bot_sanctions_entries")?,
                            name: row.try_get("name")?,
                            sdn_type: row.try_get("sdn_type")?,
                            program: row.try_get("program")?,
                        })
                    })
                    .collect::<Result<Vec<_>, Error>>()?;
                let aliases = aliases
                    .iter()
                    .map(|row| {
                        Ok(SdnAlias {
                            ent_num: ent_num(row, "bot_sanctions_aliases")?,
                            alt_num: row.try_get("alt_num")?,
                            alt_type: row.try_get("alt_type")?,
                            name: row.try_get("name")?,
                        })
                    })
                    .collect::<Result<Vec<_>, Error>>()?;
                let list = SanctionsList::new(info.published, entries, aliases)
                    .map_err(|e| corrupt("bot_sanctions_entries", "*", e))?;
                Ok(Some((info, list)))
            }
        }
    };
}

sanctions_backend!(
    sqlite,
    sqlx::Sqlite,
    "BEGIN IMMEDIATE",
    None::<&str>,
    "BEGIN"
);
sanctions_backend!(
    postgres,
    sqlx::Postgres,
    "BEGIN",
    Some("LOCK TABLE bot_sanctions_lists IN SHARE ROW EXCLUSIVE MODE"),
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
);

#[async_trait]
impl SanctionsStore for SqlStore {
    async fn replace_sanctions_list(
        &self,
        list: &SanctionsList,
        loaded_at_ms: i64,
    ) -> Result<SanctionsListInfo, StoreError> {
        on_backend!(self, pool => db::replace(pool, list, loaded_at_ms).await)
    }

    async fn sanctions_list_info(&self) -> Result<Option<SanctionsListInfo>, StoreError> {
        on_backend!(self, pool => db::info(pool).await)
    }

    async fn sanctions_list(
        &self,
    ) -> Result<Option<(SanctionsListInfo, SanctionsList)>, StoreError> {
        on_backend!(self, pool => db::list(pool).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_then_columns() {
        assert_eq!(placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(placeholders(1, 1), "($1)");
    }
}
