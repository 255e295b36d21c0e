//! Payment groups ([`PayGroupStore`], migration 25) on both backends (one
//! macro, as in `lib.rs`): a row per leg, inserted in the ledger unit that
//! reserves the legs' money, then only read.

use async_trait::async_trait;
use bot::command::ShortRef;
use bot::store::pay_group::{PayGroup, PayGroupStore};
use bot::store::{StoreError, UserId};
use ledger::{RecordWrite, SqlValue};

use crate::{Backend, Error, SqlStore, corrupt};

const TABLE: &str = "bot_pay_groups";

/// One leg; a leg already in a group, or a position already taken, inserts
/// nothing (and the unit it is in is not applied).
const INSERT_SQL: &str = "INSERT INTO bot_pay_groups (leg_reference, group_reference, position, \
     payer, created_at_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";

/// The legs of the group that `$1` names (its own reference or a leg's).
const SELECT_SQL: &str = "SELECT group_reference, leg_reference FROM bot_pay_groups \
     WHERE group_reference = (SELECT group_reference FROM bot_pay_groups \
     WHERE leg_reference = $1 OR group_reference = $1 LIMIT 1) ORDER BY position";

macro_rules! pay_group_backend {
    ($module:ident, $db:ty) => {
        pub(crate) mod $module {
            use sqlx::Row;

            use super::*;

            type Pool = ledger::StatementPool<$db>;

            pub(crate) async fn group(
                pool: &Pool,
                reference: &ShortRef,
            ) -> Result<Option<PayGroup>, Error> {
                let rows = sqlx::query(SELECT_SQL)
                    .bind(reference.as_str())
                    .fetch_all(pool)
                    .await?;
                let mut group: Option<PayGroup> = None;
                for row in &rows {
                    let parse = |column: &str| -> Result<ShortRef, Error> {
                        let text: String =
                            row.try_get(column).map_err(|e| corrupt(TABLE, column, e))?;
                        ShortRef::parse(&text).map_err(|_| corrupt(TABLE, column, "bad"))
                    };
                    let leg = parse("leg_reference")?;
                    match &mut group {
                        Some(group) => group.legs.push(leg),
                        None => {
                            group = Some(PayGroup {
                                reference: parse("group_reference")?,
                                legs: vec![leg],
                            })
                        }
                    }
                }
                Ok(group)
            }
        }
    };
}

pay_group_backend!(sqlite, sqlx::Sqlite);
pay_group_backend!(postgres, sqlx::Postgres);

#[async_trait]
impl PayGroupStore for SqlStore {
    fn group_leg_write(
        &self,
        group: &ShortRef,
        leg: &ShortRef,
        position: u32,
        payer: UserId,
        now_ms: i64,
    ) -> Result<RecordWrite, StoreError> {
        let values = vec![
            SqlValue::from(leg.as_str().to_owned()),
            SqlValue::from(group.as_str().to_owned()),
            SqlValue::from(i64::from(position)),
            SqlValue::from(payer.0),
            SqlValue::from(now_ms),
        ];
        Ok(RecordWrite::new(INSERT_SQL, values).expecting_rows(1))
    }

    async fn pay_group(&self, reference: &ShortRef) -> Result<Option<PayGroup>, StoreError> {
        let result: Result<_, Error> = match &self.backend {
            Backend::Sqlite(pool) => sqlite::group(pool, reference).await,
            Backend::Postgres(pool) => postgres::group(pool, reference).await,
            Backend::Missing(why) => Err(Error::Refused(why.clone())),
        };
        result.map_err(StoreError::from)
    }
}
