//! Pooled connections whose single statements hand their connection
//! straight to the next.
//!
//! The decision to know: sqlx gives a connection back to its pool only
//! after a ping (a round trip), after every statement run on `&Pool`. On
//! PostgreSQL that is a second message to the server and a second wake-up
//! of its process for each read: on the project's 2-core benchmark machine
//! 10–16% of the CPU a chat payment takes, side by side
//! (`bench/HISTORY.md`, the round of 5f08c40). Here single statements have a pool of their own, whose
//! connections they keep: a statement that ran to its end hands its
//! connection to the first statement waiting, or keeps it for the next,
//! with no ping. Nothing is owed on such a connection: the statement read
//! its answer to the end, and sqlx's next statement on it first drains
//! whatever might still be due (its `wait_until_ready`) all the same.
//!
//! A statement that failed, or whose future was dropped part-way, drops its
//! connection, which sqlx pings on the way back and closes if broken, as
//! before. A kept connection idle for longer than
//! [`POOL_PING_AFTER_IDLE_MS`] is pinged before a statement gets it, as the
//! pools' own are (`postgres_pool_options`), so one the server ended
//! meanwhile is replaced. Transactions and whole connections come from a
//! second sqlx pool of the same options, so that a kept connection never
//! keeps them waiting: up to twice the pool size in all.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use sqlx::pool::PoolConnection;
use sqlx::{
    Connection, Database, Either, Error, Execute, Executor, SqlSafeStr, SqlStr, Transaction,
};
use tokio::sync::oneshot;

use super::POOL_PING_AFTER_IDLE_MS;

/// Single statements on connections they keep (see the module's docs), and
/// transactions and whole connections on a pool of their own. Cheap to
/// clone: clones share both pools and the kept connections.
pub struct StatementPool<DB: Database> {
    statements: sqlx::Pool<DB>,
    others: sqlx::Pool<DB>,
    kept: Arc<Mutex<Kept<DB>>>,
}

/// The statements' connections: those kept idle, the statements waiting
/// for one, and how many are the statements' in all.
struct Kept<DB: Database> {
    /// Last kept last: the warmest connection is taken first. None while a
    /// statement waits (a finished statement hands its connection on
    /// first).
    idle: Vec<(PoolConnection<DB>, Instant)>,
    /// Statements waiting for a connection, first come first served. At
    /// most one per statement in flight; one given up leaves its closed
    /// sender behind, skipped then.
    waiting: VecDeque<oneshot::Sender<Handed<DB>>>,
    /// Connections taken from the statements' pool and not given back:
    /// kept, in a statement's hands, or being opened for one. At most that
    /// pool's size; a statement waits only while it is reached.
    owned: u32,
}

/// What a waiting statement is handed.
enum Handed<DB: Database> {
    /// The connection of a statement that just finished.
    Connection(PoolConnection<DB>),
    /// Room to take a connection from the statements' pool (counted in
    /// `owned` already): one of the statements' connections went back to
    /// it.
    Room,
}

impl<DB: Database> Clone for StatementPool<DB> {
    fn clone(&self) -> Self {
        StatementPool {
            statements: self.statements.clone(),
            others: self.others.clone(),
            kept: Arc::clone(&self.kept),
        }
    }
}

impl<DB: Database> fmt::Debug for StatementPool<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kept = self.lock();
        f.debug_struct("StatementPool")
            .field("statements", &self.statements)
            .field("others", &self.others)
            .field("kept", &kept.idle.len())
            .field("owned", &kept.owned)
            .finish()
    }
}

impl<DB: Database> Drop for Kept<DB> {
    fn drop(&mut self) {
        // sqlx gives a dropped connection back on a task of the runtime;
        // with none left (a store dropped after its runtime), the
        // connection is closed here instead of panicking for want of one.
        if tokio::runtime::Handle::try_current().is_err() {
            for (conn, _) in self.idle.drain(..) {
                drop(conn.detach());
            }
        }
    }
}

impl<DB: Database> StatementPool<DB> {
    /// `statements` for single statements, `others` for transactions and
    /// whole connections: two pools of the same options.
    pub fn new(statements: sqlx::Pool<DB>, others: sqlx::Pool<DB>) -> Self {
        StatementPool {
            statements,
            others,
            kept: Arc::new(Mutex::new(Kept {
                idle: Vec::new(),
                waiting: VecDeque::new(),
                owned: 0,
            })),
        }
    }

    /// Both pools made from `pool` and `options`, each opening its
    /// connections as they are needed.
    pub fn connect_lazy_with(
        pool: sqlx::pool::PoolOptions<DB>,
        options: <DB::Connection as Connection>::Options,
    ) -> Self {
        StatementPool::new(
            pool.clone().connect_lazy_with(options.clone()),
            pool.connect_lazy_with(options),
        )
    }

    /// The state is changed only under the lock, one step at a time, and
    /// nothing under it panics: a poisoned lock is taken as it is.
    fn lock(&self) -> MutexGuard<'_, Kept<DB>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection for one statement: the last one kept, else a new one
    /// while the statements' pool has room, else the first that a
    /// finished statement hands over.
    async fn take(&self) -> Result<Taken<'_, DB>, Error> {
        loop {
            let next = {
                let mut kept = self.lock();
                if self.statements.is_closed() {
                    return Err(Error::PoolClosed);
                }
                if let Some(idle) = kept.idle.pop() {
                    Next::Kept(idle)
                } else if kept.owned < self.statements.options().get_max_connections() {
                    kept.owned += 1;
                    Next::Room
                } else {
                    let (sender, handed) = oneshot::channel();
                    kept.waiting.retain(|waiting| !waiting.is_closed());
                    kept.waiting.push_back(sender);
                    Next::Wait(Waiter { handed, pool: self })
                }
            };
            let (conn, since) = match next {
                Next::Kept((conn, since)) => (Taken::new(self, conn), since),
                Next::Room => return self.open().await,
                Next::Wait(mut waiter) => match (&mut waiter.handed).await {
                    // What it was handed is out of the channel: the
                    // waiter's drop finds nothing to pass on.
                    Ok(Handed::Connection(conn)) => return Ok(Taken::new(self, conn)),
                    Ok(Handed::Room) => return self.open().await,
                    // Not sent: the pool closed.
                    Err(_) => continue,
                },
            };
            if since.elapsed() <= Duration::from_millis(POOL_PING_AFTER_IDLE_MS) {
                return Ok(conn);
            }
            let mut conn = conn;
            match conn.connection()?.ping().await {
                Ok(()) => return Ok(conn),
                // Dropped: sqlx closes it, and its room goes to the next.
                Err(error) => tracing::debug!(%error, "a kept connection did not answer"),
            }
        }
    }

    /// A connection from the statements' pool, in room already counted.
    async fn open(&self) -> Result<Taken<'_, DB>, Error> {
        let room = Room(Some(self));
        let conn = self.statements.acquire().await?;
        room.taken();
        Ok(Taken::new(self, conn))
    }

    /// A statement ran to its end: its connection goes to the first
    /// statement waiting, else is kept; once the pool is closed, back to
    /// sqlx, which closes it.
    fn keep(&self, conn: PoolConnection<DB>) {
        let mut kept = self.lock();
        if self.statements.is_closed() {
            kept.owned = kept.owned.saturating_sub(1);
            drop(kept);
            drop(conn);
            return;
        }
        let mut handed = Handed::Connection(conn);
        while let Some(waiting) = kept.waiting.pop_front() {
            match waiting.send(handed) {
                Ok(()) => return,
                // That statement was given up.
                Err(back) => handed = back,
            }
        }
        match handed {
            Handed::Connection(conn) => kept.idle.push((conn, Instant::now())),
            Handed::Room => kept.owned = kept.owned.saturating_sub(1),
        }
    }

    /// One of the statements' connections went back to their pool (a
    /// failed or given-up statement, a kept one that did not answer, an
    /// open that failed): its room goes to the first statement waiting.
    fn released(&self) {
        let mut kept = self.lock();
        while let Some(waiting) = kept.waiting.pop_front() {
            if waiting.send(Handed::Room).is_ok() {
                return;
            }
        }
        kept.owned = kept.owned.saturating_sub(1);
    }

    /// A connection of its own for the caller.
    pub async fn acquire(&self) -> Result<PoolConnection<DB>, Error> {
        self.others.acquire().await
    }

    /// A transaction.
    pub async fn begin(&self) -> Result<Transaction<'static, DB>, Error> {
        self.others.begin().await
    }

    /// A transaction begun with `statement`.
    pub async fn begin_with(
        &self,
        statement: impl SqlSafeStr,
    ) -> Result<Transaction<'static, DB>, Error> {
        self.others.begin_with(statement).await
    }

    /// Closes both pools (see [`sqlx::Pool::close`]) and the kept
    /// connections; statements waiting, and those after, fail with
    /// [`Error::PoolClosed`], and one that finishes meanwhile gives its
    /// connection back to be closed.
    pub async fn close(&self) {
        // Marked closed first (sqlx does so when `close` is called), so
        // that nothing is kept or waits after the lists are emptied here.
        let statements = self.statements.close();
        let others = self.others.close();
        let (idle, waiting) = {
            let mut kept = self.lock();
            let idle: Vec<_> = kept.idle.drain(..).collect();
            kept.owned = kept
                .owned
                .saturating_sub(u32::try_from(idle.len()).unwrap_or(u32::MAX));
            (idle, std::mem::take(&mut kept.waiting))
        };
        drop(idle);
        drop(waiting);
        statements.await;
        others.await;
    }

    /// How many connections both pools hold, kept ones included.
    pub fn size(&self) -> u32 {
        self.statements.size() + self.others.size()
    }
}

/// What [`StatementPool::take`] found.
enum Next<'a, DB: Database> {
    Kept((PoolConnection<DB>, Instant)),
    Room,
    Wait(Waiter<'a, DB>),
}

/// A statement's connection: kept after the statement ran to its end
/// ([`StatementPool::keep`]); dropped otherwise, back to the statements'
/// pool, which sqlx pings on the way and closes if broken.
struct Taken<'a, DB: Database> {
    conn: Option<PoolConnection<DB>>,
    pool: &'a StatementPool<DB>,
}

impl<'a, DB: Database> Taken<'a, DB> {
    fn new(pool: &'a StatementPool<DB>, conn: PoolConnection<DB>) -> Self {
        Taken {
            conn: Some(conn),
            pool,
        }
    }

    /// Its connection. It holds one until [`Taken::keep`] (which consumes
    /// it) or its drop, so the error is not reached; an error rather than
    /// a panic in a library.
    fn connection(&mut self) -> Result<&mut DB::Connection, Error> {
        self.conn.as_deref_mut().ok_or(Error::PoolClosed)
    }

    fn keep(mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.keep(conn);
        }
    }
}

impl<DB: Database> Drop for Taken<'_, DB> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(conn);
            self.pool.released();
        }
    }
}

/// Room counted for a connection being opened; given back if the open
/// fails or is given up.
struct Room<'a, DB: Database>(Option<&'a StatementPool<DB>>);

impl<DB: Database> Room<'_, DB> {
    fn taken(mut self) {
        self.0 = None;
    }
}

impl<DB: Database> Drop for Room<'_, DB> {
    fn drop(&mut self) {
        if let Some(pool) = self.0 {
            pool.released();
        }
    }
}

/// A statement waiting to be handed a connection or room. Given up (its
/// future dropped), whatever was handed to it and not taken goes on.
struct Waiter<'a, DB: Database> {
    handed: oneshot::Receiver<Handed<DB>>,
    pool: &'a StatementPool<DB>,
}

impl<DB: Database> Drop for Waiter<'_, DB> {
    fn drop(&mut self) {
        self.handed.close();
        match self.handed.try_recv() {
            Ok(Handed::Connection(conn)) => self.pool.keep(conn),
            Ok(Handed::Room) => self.pool.released(),
            Err(_) => {}
        }
    }
}

impl<'p, DB> Executor<'p> for &'p StatementPool<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    type Database = DB;

    /// Read to the end before the first item is given: what paybot reads
    /// this way is a statement's rows, which its callers collect anyway.
    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, DB>,
    {
        stream::once(async move {
            let mut conn = self.take().await?;
            let all: Vec<_> = conn.connection()?.fetch_many(query).try_collect().await?;
            conn.keep();
            Ok::<_, Error>(all)
        })
        .flat_map(|all| match all {
            Ok(all) => stream::iter(all.into_iter().map(Ok)).left_stream(),
            Err(error) => stream::once(async move { Err(error) }).right_stream(),
        })
        .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, DB>,
    {
        Box::pin(async move {
            let mut conn = self.take().await?;
            let row = conn.connection()?.fetch_optional(query).await?;
            conn.keep();
            Ok(row)
        })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement, Error>>
    where
        'p: 'e,
    {
        Box::pin(async move {
            let mut conn = self.take().await?;
            let statement = conn.connection()?.prepare_with(sql, parameters).await?;
            conn.keep();
            Ok(statement)
        })
    }
}
