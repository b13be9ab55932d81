//! The connection the gated writes run on: SQLite's one held connection, or
//! PostgreSQL's pool.
//!
//! On SQLite the gated writes (see `gate.rs`) take turns on one connection.
//! A connection that starts a transaction after another connection wrote
//! drops its whole page cache (SQLite cannot know which pages changed), so
//! writes spread over a pool re-read every index page they touch from the
//! OS (`perf`: page-cache reads, `malloc_consolidate` and cache truncation
//! were a fifth of the writer threads' time); on one connection each turn
//! starts with the previous one's pages warm. It used to be a pool of one,
//! but sqlx returns every released connection to its pool
//! in a spawned task that pings it first, and the next turn's acquire waits
//! for that task to be scheduled and for the ping to cross to the
//! connection's thread and back: on a busy two-core runtime an acquire,
//! `SELECT 1` and release took 180 µs against 31 µs on a held connection,
//! paid once per gated write while every other writer waited. Held here,
//! the next turn finds the connection at once.
//!
//! The ping also "flushed" work a cancelled holder left behind; on one
//! connection that needs no flush: a dropped sqlx `Transaction` queues its
//! ROLLBACK on the connection's thread, ahead of anything the next holder
//! sends. A holder that cannot leave the connection clean (a transaction
//! sqlx does not know about, see `script.rs`) [discards](WriterConn::discard)
//! it; closing the connection rolls the transaction back and the next
//! acquire opens a fresh one.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{ConnectOptions, Connection, Database, Pool};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Where gated writes get their connection.
pub enum Writer<DB: Database> {
    /// Any connection of a pool (PostgreSQL, which has row locks).
    Pool(Pool<DB>),
    /// One connection, opened on first use and kept.
    Held(Arc<Held<DB>>),
}

impl<DB: Database> Clone for Writer<DB> {
    fn clone(&self) -> Self {
        match self {
            Self::Pool(p) => Self::Pool(p.clone()),
            Self::Held(h) => Self::Held(h.clone()),
        }
    }
}

/// The held connection and how to open it again.
pub struct Held<DB: Database> {
    slot: Arc<Mutex<Slot<DB>>>,
    options: <DB::Connection as Connection>::Options,
    acquire_timeout: Duration,
}

struct Slot<DB: Database> {
    conn: Option<DB::Connection>,
    closed: bool,
}

impl<DB: Database> Writer<DB> {
    /// One held connection opened like `pool`'s, with its acquire timeout.
    /// Nothing connects until the first write.
    pub fn held_like(pool: &Pool<DB>) -> Self {
        Self::Held(Arc::new(Held {
            slot: Arc::new(Mutex::new(Slot { conn: None, closed: false })),
            options: (*pool.connect_options()).clone(),
            acquire_timeout: pool.options().get_acquire_timeout(),
        }))
    }

    /// The connection, exclusively until the returned guard drops. Waits at
    /// most the pool's acquire timeout (then `PoolTimedOut`, as a pool would).
    pub async fn acquire(&self) -> Result<WriterConn<DB>, sqlx::Error> {
        match self {
            Self::Pool(pool) => Ok(WriterConn(Inner::Pooled(pool.acquire().await?))),
            Self::Held(held) => {
                let mut slot = tokio::time::timeout(held.acquire_timeout, held.slot.clone().lock_owned())
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)?;
                if slot.closed {
                    return Err(sqlx::Error::PoolClosed);
                }
                if slot.conn.is_none() {
                    slot.conn = Some(held.options.connect().await?);
                }
                Ok(WriterConn(Inner::Held(slot)))
            }
        }
    }

    /// Closes the connection (waiting for its holder) and refuses later
    /// acquires; a pool is closed by whoever owns it.
    pub async fn close(&self) {
        if let Self::Held(held) = self {
            let mut slot = held.slot.lock().await;
            slot.closed = true;
            if let Some(conn) = slot.conn.take()
                && let Err(e) = conn.close().await
            {
                tracing::warn!(error = %e, "closing the writer connection failed");
            }
        }
    }
}

/// The writer's connection while it is held.
pub struct WriterConn<DB: Database>(Inner<DB>);

enum Inner<DB: Database> {
    Pooled(PoolConnection<DB>),
    Held(OwnedMutexGuard<Slot<DB>>),
}

impl<DB: Database> WriterConn<DB> {
    /// Closes the connection instead of handing it on: for a holder that
    /// may have left it mid-transaction. Closing rolls the transaction back;
    /// the pool, or the next acquire, opens a new connection.
    pub fn discard(self) {
        match self.0 {
            Inner::Pooled(conn) => drop(conn.detach()),
            Inner::Held(mut slot) => drop(slot.conn.take()),
        }
    }
}

impl<DB: Database> Deref for WriterConn<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        match &self.0 {
            Inner::Pooled(conn) => conn,
            Inner::Held(slot) => slot.conn.as_ref().expect("a held writer connection is open while held"),
        }
    }
}

impl<DB: Database> DerefMut for WriterConn<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        match &mut self.0 {
            Inner::Pooled(conn) => conn,
            Inner::Held(slot) => slot.conn.as_mut().expect("a held writer connection is open while held"),
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Sqlite;
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    use super::*;

    async fn setup(dir: &tempfile::TempDir) -> (Pool<Sqlite>, Writer<Sqlite>) {
        let options = SqliteConnectOptions::new().filename(dir.path().join("t.db")).create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_millis(200))
            .connect_with(options)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (v TEXT NOT NULL)").execute(&pool).await.unwrap();
        let writer = Writer::held_like(&pool);
        (pool, writer)
    }

    async fn count(pool: &Pool<Sqlite>) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM t").fetch_one(pool).await.unwrap()
    }

    #[tokio::test]
    async fn the_held_connection_is_the_same_one_from_turn_to_turn() {
        let dir = tempfile::tempdir().unwrap();
        let (_pool, writer) = setup(&dir).await;
        // A temporary table lives only on the connection that made it.
        let mut conn = writer.acquire().await.unwrap();
        sqlx::query("CREATE TEMP TABLE mine (x)").execute(&mut *conn).await.unwrap();
        drop(conn);
        let mut conn = writer.acquire().await.unwrap();
        sqlx::query("SELECT * FROM mine").fetch_all(&mut *conn).await.expect("the same connection");
    }

    #[tokio::test]
    async fn a_dropped_transaction_is_rolled_back_before_the_next_holder_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (pool, writer) = setup(&dir).await;
        {
            let mut conn = writer.acquire().await.unwrap();
            let mut tx = conn.begin().await.unwrap();
            sqlx::query("INSERT INTO t VALUES ('lost')").execute(&mut *tx).await.unwrap();
            // Dropped without commit, as a cancelled write would be.
        }
        let mut conn = writer.acquire().await.unwrap();
        let mut tx = conn.begin().await.expect("no transaction left open");
        sqlx::query("INSERT INTO t VALUES ('kept')").execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        drop(conn);
        assert_eq!(count(&pool).await, 1);
    }

    #[tokio::test]
    async fn a_discarded_connection_rolls_back_and_a_new_one_opens() {
        let dir = tempfile::tempdir().unwrap();
        let (pool, writer) = setup(&dir).await;
        let mut conn = writer.acquire().await.unwrap();
        sqlx::query("CREATE TEMP TABLE mine (x)").execute(&mut *conn).await.unwrap();
        // A transaction sqlx does not know about.
        sqlx::query("BEGIN IMMEDIATE; INSERT INTO t VALUES ('lost')").execute(&mut *conn).await.unwrap();
        conn.discard();
        let mut conn = writer.acquire().await.unwrap();
        assert!(sqlx::query("SELECT * FROM mine").fetch_all(&mut *conn).await.is_err(), "a new connection");
        sqlx::query("INSERT INTO t VALUES ('kept')")
            .execute(&mut *conn)
            .await
            .expect("the lock was released");
        drop(conn);
        assert_eq!(count(&pool).await, 1);
    }

    #[tokio::test]
    async fn a_second_holder_waits_then_times_out_like_a_pool() {
        let dir = tempfile::tempdir().unwrap();
        let (_pool, writer) = setup(&dir).await;
        let held = writer.acquire().await.unwrap();
        let err = writer.acquire().await.err().expect("the connection is held");
        assert!(matches!(err, sqlx::Error::PoolTimedOut), "{err:?}");
        drop(held);
        writer.acquire().await.expect("free again");
    }

    #[tokio::test]
    async fn a_closed_writer_refuses_to_reconnect() {
        let dir = tempfile::tempdir().unwrap();
        let (_pool, writer) = setup(&dir).await;
        drop(writer.acquire().await.unwrap());
        writer.close().await;
        assert!(matches!(writer.acquire().await, Err(sqlx::Error::PoolClosed)));
    }
}
