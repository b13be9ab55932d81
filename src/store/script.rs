//! SQLite transactions run as one script: several statements in one hand-off.
//!
//! sqlx runs every SQLite statement on the connection's own thread and
//! hands each one over and back (about 100 µs a round trip on two busy
//! cores, more than the statement itself). The accept path (log rows, jobs,
//! lanes, lane refresh) used six such round trips per batch inside the
//! single writer's turn. sqlx runs a text of several `;`-separated
//! statements in one hand-off, binding `?` arguments in order across them;
//! `BEGIN IMMEDIATE` opens the script, and the caller commits once it has
//! looked at what the statements returned.
//!
//! sqlx does not know about a transaction begun in a script, so this guard
//! owns the connection until COMMIT or ROLLBACK: when dropped (an error, or
//! the future cancelled) without either, it closes the connection instead
//! of handing it on mid-transaction, and SQLite rolls back.

use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, QueryBuilder, Sqlite, SqliteConnection};

use super::writer::{Writer, WriterConn};

/// An open transaction begun by a script.
pub(crate) struct ScriptTx {
    conn: Option<WriterConn<Sqlite>>,
}

impl ScriptTx {
    /// Runs `script` (which must begin with `BEGIN IMMEDIATE;`) and returns
    /// every row its statements returned, in order.
    pub async fn run<T>(
        writer: &Writer<Sqlite>,
        script: &mut QueryBuilder<Sqlite>,
    ) -> Result<(Self, Vec<T>), sqlx::Error>
    where
        T: for<'r> FromRow<'r, SqliteRow> + Send + Unpin,
    {
        // The guard holds the connection from the start: a cancelled run
        // may have begun the transaction.
        let mut tx = Self { conn: Some(writer.acquire().await?) };
        let result = script.build_query_as::<T>().fetch_all(tx.conn()).await;
        match result {
            Ok(rows) => Ok((tx, rows)),
            Err(e) => {
                tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Runs `script`, a whole transaction from `BEGIN IMMEDIATE;` to
    /// `COMMIT;`, in one hand-off; returns the rows its statements returned.
    /// A failing statement stops the script and rolls everything back.
    pub async fn run_committed<T>(
        writer: &Writer<Sqlite>,
        script: &mut QueryBuilder<Sqlite>,
    ) -> Result<Vec<T>, sqlx::Error>
    where
        T: for<'r> FromRow<'r, SqliteRow> + Send + Unpin,
    {
        let (mut tx, rows) = Self::run(writer, script).await?;
        // Committed by the script: the connection is clean.
        tx.conn.take();
        Ok(rows)
    }

    /// The connection, for statements inside the transaction.
    pub fn conn(&mut self) -> &mut SqliteConnection {
        self.conn.as_mut().expect("an open script transaction has its connection")
    }

    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        match sqlx::query("COMMIT").execute(self.conn()).await {
            Ok(_) => {
                self.conn.take();
                Ok(())
            }
            Err(e) => {
                self.rollback().await;
                Err(e)
            }
        }
    }

    /// Rolls back; a connection that cannot is closed (see `Drop`). A
    /// script that failed before BEGIN, or a statement error that already
    /// ended the transaction, makes ROLLBACK fail harmlessly: "no
    /// transaction is active" means the connection is clean.
    pub async fn rollback(&mut self) {
        let Some(conn) = self.conn.as_mut() else { return };
        match sqlx::query("ROLLBACK").execute(&mut **conn).await {
            Ok(_) => {
                self.conn.take();
            }
            Err(e) if e.to_string().contains("no transaction is active") => {
                self.conn.take();
            }
            Err(e) => {
                tracing::warn!(error = %e, "rollback of a script transaction failed; closing its connection")
            }
        }
    }
}

impl Drop for ScriptTx {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Never handed on with a transaction open: closed, it rolls
            // back, and a replacement opens.
            conn.discard();
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    use sqlx::Pool;

    use super::*;

    /// A pool to read with, and the held writer (one connection, so every
    /// script runs on the connection the last one left).
    async fn setup(dir: &tempfile::TempDir) -> (Pool<Sqlite>, Writer<Sqlite>) {
        let options = SqliteConnectOptions::new().filename(dir.path().join("t.db")).create_if_missing(true);
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap();
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)").execute(&pool).await.unwrap();
        let writer = Writer::held_like(&pool);
        (pool, writer)
    }

    async fn values(pool: &Pool<Sqlite>) -> Vec<String> {
        sqlx::query_scalar("SELECT v FROM t ORDER BY id").fetch_all(pool).await.unwrap()
    }

    fn script(values: &[&str]) -> QueryBuilder<Sqlite> {
        let mut q = QueryBuilder::new("BEGIN IMMEDIATE;\n");
        for v in values {
            q.push("INSERT INTO t (v) VALUES (").push_bind(v.to_string()).push(") RETURNING v;\n");
        }
        q
    }

    #[tokio::test]
    async fn arguments_bind_across_statements_and_rows_come_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (pool, writer) = setup(&dir).await;
        let (tx, rows) = ScriptTx::run::<(String,)>(&writer, &mut script(&["a", "b", "c"])).await.unwrap();
        assert_eq!(rows, [("a".into(),), ("b".into(),), ("c".into(),)]);
        tx.commit().await.unwrap();
        assert_eq!(values(&pool).await, ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn a_failing_statement_rolls_back_the_statements_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let (pool, writer) = setup(&dir).await;
        let mut failing = script(&["a"]);
        failing.push("INSERT INTO t (v) VALUES (NULL);\n");
        assert!(ScriptTx::run::<(String,)>(&writer, &mut failing).await.is_err());
        assert!(values(&pool).await.is_empty(), "the first insert was rolled back");
        // The writer's connection is clean: a new transaction begins on it.
        let (tx, _) = ScriptTx::run::<(String,)>(&writer, &mut script(&["b"])).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(values(&pool).await, ["b"]);
    }

    #[tokio::test]
    async fn a_script_that_commits_itself_leaves_a_clean_connection() {
        let dir = tempfile::tempdir().unwrap();
        let (pool, writer) = setup(&dir).await;
        let mut whole = script(&["a", "b"]);
        whole.push("COMMIT;\n");
        let rows = ScriptTx::run_committed::<(String,)>(&writer, &mut whole).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(values(&pool).await, ["a", "b"]);
        let mut failing = script(&["c"]);
        failing.push("INSERT INTO t (v) VALUES (NULL);\nCOMMIT;\n");
        assert!(ScriptTx::run_committed::<(String,)>(&writer, &mut failing).await.is_err());
        assert_eq!(values(&pool).await, ["a", "b"], "the failed script left nothing behind");
        let mut next = script(&["d"]);
        next.push("COMMIT;\n");
        ScriptTx::run_committed::<(String,)>(&writer, &mut next).await.unwrap();
        assert_eq!(values(&pool).await, ["a", "b", "d"]);
    }

    #[tokio::test]
    async fn an_uncommitted_script_never_reaches_the_next_writer_open() {
        let dir = tempfile::tempdir().unwrap();
        let (pool, writer) = setup(&dir).await;
        let (tx, _) = ScriptTx::run::<(String,)>(&writer, &mut script(&["a"])).await.unwrap();
        drop(tx);
        assert!(values(&pool).await.is_empty(), "dropped without commit: rolled back");
        let (tx, _) = ScriptTx::run::<(String,)>(&writer, &mut script(&["b"])).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(values(&pool).await, ["b"]);
    }
}
