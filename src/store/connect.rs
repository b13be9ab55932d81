//! Building the pool from configuration.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::ConnectOptions;
use sqlx::pool::PoolOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

use super::{Pool, Store};
use crate::config::{Config, DatabaseKind};

/// Slow statements are logged at WARN so pool starvation has a visible cause.
const SLOW_STATEMENT: Duration = Duration::from_secs(1);

/// Opens the configured database (creating the SQLite file and its data
/// directory when needed) and returns the store. Does not migrate.
pub async fn connect(config: &Config) -> anyhow::Result<Store> {
    let db = &config.database;
    let url = config.database_url();
    match config.database_kind() {
        DatabaseKind::Sqlite => {
            let options = SqliteConnectOptions::from_str(url.expose())
                .with_context(|| format!("database.url {url} is not a valid SQLite URL"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(db.acquire_timeout_secs))
                // The default page cache (2 MiB) makes a busy queue re-read
                // its index pages from the OS on every claim; the cache only
                // grows as pages are used.
                .pragma("cache_size", "-16384")
                // A multi-row statement keeps a statement journal (to undo
                // itself alone on a constraint error); past 64 KiB SQLite
                // spills it to a temporary file, which a 150-message accept
                // batch did on every commit (`perf`: pwrite in subjournalPage).
                .pragma("temp_store", "memory")
                // Checkpoints run in the background (`checkpoint.rs`), not in
                // the commit that fills the WAL; this is only the safety net
                // for a process that does not run the checkpointer.
                .pragma("wal_autocheckpoint", "20000")
                // The connection's thread hands rows over through a channel
                // of this many; past it, the thread waits until the awaiting
                // task is scheduled and drains it. sqlx's default (50) is
                // below a busy batch's RETURNING rows (up to 256 accepted
                // jobs, a receipt batch's rows), which made the one writer
                // idle inside its turn on a busy runtime.
                .row_buffer_size(1024)
                .log_slow_statements(tracing::log::LevelFilter::Warn, SLOW_STATEMENT);
            if let Some(dir) = options.get_filename().parent() {
                ensure_private_dir(dir)?;
            }
            let pool = pool_options(config)
                .connect_with(options)
                .await
                .with_context(|| format!("cannot open SQLite database {url}"))?;
            Ok(Store::new(Pool::Sqlite(pool)))
        }
        DatabaseKind::Postgres => {
            let options = PgConnectOptions::from_str(url.expose())
                .with_context(|| format!("database.url {url} is not a valid PostgreSQL URL"))?
                .application_name("wa-gateway")
                // Prepared statements are reused for the life of a connection,
                // and after five runs PostgreSQL may switch one to a generic
                // plan costed while the message log was still small (a fresh
                // gateway); custom plans cost a little planning per statement
                // and follow the table's real size. A precaution: on its own
                // it did not change the messaging benchmark (the slow receipt
                // batches came from stale statistics, see `advance_many`).
                .options([("plan_cache_mode", "force_custom_plan")])
                .log_slow_statements(tracing::log::LevelFilter::Warn, SLOW_STATEMENT);
            let pool = pool_options(config)
                .connect_with(options)
                .await
                .with_context(|| format!("cannot connect to PostgreSQL at {url}"))?;
            Ok(Store::new(Pool::Postgres(pool)))
        }
    }
}

fn pool_options<DB: sqlx::Database>(config: &Config) -> PoolOptions<DB> {
    let db = &config.database;
    PoolOptions::<DB>::new()
        .max_connections(db.max_connections)
        .min_connections(db.min_connections)
        .acquire_timeout(Duration::from_secs(db.acquire_timeout_secs))
        .idle_timeout(Duration::from_secs(db.idle_timeout_secs))
        // A connection that broke while idle is replaced, not handed out; but
        // a ping on every acquire costs a round trip per statement under
        // load, so only connections idle for a while are checked.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for < IDLE_BEFORE_PING {
                    return Ok(true);
                }
                Ok(sqlx::Connection::ping(conn).await.is_ok())
            })
        })
}

/// A pooled connection idle for longer than this is pinged before use.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(10);

/// Creates `dir` (and parents) readable by the gateway's user only: it holds
/// WhatsApp session keys.
pub fn ensure_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot restrict permissions of {}", dir.display()))?;
        }
    }
    Ok(())
}
