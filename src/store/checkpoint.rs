//! WAL checkpoints for SQLite, off the writers' critical path.
//!
//! By default SQLite checkpoints inside the commit that takes the WAL past
//! 1,000 pages: that commit copies the whole WAL into the database file
//! while every other writer waits. Measured on the accept path's tables
//! (14 messages per commit, 2 cores): a commit takes 0.65 ms without
//! checkpoints and 1.8–3.4 ms on average with them, more than the inserts
//! it commits. So the gateway turns automatic checkpoints off and runs
//! them here: a PASSIVE checkpoint every `EVERY` on a connection of its
//! own copies what it can while writers go on, on the other core. Only a
//! checkpoint that reaches the end of the WAL lets the next writer start
//! it over from the beginning (otherwise it grows without bound under
//! continuous writes), so once the WAL is past `RESTART_FRAMES` the
//! checkpointer catches up beside the writers and then takes one writer
//! turn to copy the last few commits (`catch_up`).

use std::time::{Duration, Instant};

use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;

use super::WriteGate;

/// Between two checkpoints.
const EVERY: Duration = Duration::from_millis(250);
/// WAL length (pages) past which a checkpoint takes a writer turn to finish.
const RESTART_FRAMES: i64 = 4_000;

/// Extra passes beside the writers before a finishing one, at most.
const MAX_PASSES: usize = 4;
/// A pass this short left little behind: finish now.
const SHORT_PASS: Duration = Duration::from_millis(3);

/// What `PRAGMA wal_checkpoint` reports: (busy, WAL frames, frames copied).
type Report = (i64, i64, i64);

/// Checkpoints until `token` is cancelled.
pub async fn run(pool: SqlitePool, gate: WriteGate, token: CancellationToken) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = token.cancelled() => return Ok(()),
        }
        match catch_up(&pool, &gate).await {
            Ok(_) => {}
            Err(_) if pool.is_closed() => return Ok(()),
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }
}

/// Copies beside the writers; if the WAL is long, copies again while each
/// pass still had much to copy (each copies only what was committed during
/// the last), then finishes in a writer turn. Measured under the messaging
/// benchmark: a pass takes about 28 ms, and a turn that finished right
/// after the first pass stalled the writers for as long.
async fn catch_up(pool: &SqlitePool, gate: &WriteGate) -> Result<Report, sqlx::Error> {
    let started = Instant::now();
    let report = checkpoint(pool, gate, false).await?;
    if report.1 <= RESTART_FRAMES {
        return Ok(report);
    }
    let mut took = started.elapsed();
    for _ in 0..MAX_PASSES {
        if took <= SHORT_PASS {
            break;
        }
        let started = Instant::now();
        checkpoint(pool, gate, false).await?;
        took = started.elapsed();
    }
    checkpoint(pool, gate, true).await
}

/// One PASSIVE checkpoint, inside a writer turn when `finish`.
pub async fn checkpoint(pool: &SqlitePool, gate: &WriteGate, finish: bool) -> Result<Report, sqlx::Error> {
    let started = Instant::now();
    let mode = if finish { "finish" } else { "passive" };
    let _turn = if finish { gate.background().await } else { None };
    let report: Report = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(pool).await?;
    metrics::counter!("wag_sqlite_checkpoints_total", "mode" => mode).increment(1);
    metrics::histogram!("wag_sqlite_checkpoint_seconds", "mode" => mode)
        .record(started.elapsed().as_secs_f64());
    metrics::gauge!("wag_sqlite_wal_frames").set(report.1 as f64);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

    use super::*;

    #[tokio::test]
    async fn catching_up_lets_the_next_writer_start_the_wal_over() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("t.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("wal_autocheckpoint", "0");
        let pool = SqlitePoolOptions::new().max_connections(2).connect_with(options).await.unwrap();
        let gate = WriteGate::serial();
        sqlx::query("CREATE TABLE t (b BLOB)").execute(&pool).await.unwrap();
        // About 6,000 pages of WAL, past RESTART_FRAMES.
        for _ in 0..240 {
            sqlx::query("INSERT INTO t VALUES (zeroblob(100000))").execute(&pool).await.unwrap();
        }
        let (_, frames, _) = catch_up(&pool, &gate).await.unwrap();
        assert!(frames > RESTART_FRAMES, "the WAL was long: {frames} frames");
        sqlx::query("INSERT INTO t VALUES (1)").execute(&pool).await.unwrap();
        let (_, frames, _) = checkpoint(&pool, &gate, false).await.unwrap();
        assert!(frames < 10, "the write after a finished checkpoint started the WAL over: {frames} frames");

        // A short WAL is copied beside the writers and left as it is.
        for _ in 0..5 {
            sqlx::query("INSERT INTO t VALUES (2)").execute(&pool).await.unwrap();
        }
        let (_, frames, copied) = catch_up(&pool, &gate).await.unwrap();
        assert!(frames < RESTART_FRAMES && copied == frames, "{frames} frames, {copied} copied");
    }
}
