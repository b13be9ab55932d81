//! The queue on PostgreSQL or SQLite, sharing the gateway's pool.
//!
//! One SQL text serves both databases (as in the store); the macro fills in
//! the per-database row lock: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
//! several gateway processes claim different lanes concurrently, and nothing
//! on SQLite, where claims run in `BEGIN IMMEDIATE` transactions that the
//! database serializes.
//!
//! `queue_lanes.ready_at` is kept exact by `refresh_lane` after every change
//! to a lane's jobs, so claiming never scans jobs: it takes the least
//! recently served lane whose `ready_at` has passed, then that lane's head.
//! Every claim leaves a dead row version behind on PostgreSQL, and dead
//! versions at the head of a lane's index range slow every later claim until
//! they are vacuumed. Autovacuum may be off or lagging (it is off on some
//! test machines), so the backend vacuums its own two tables every
//! `VACUUM_EVERY` claims, in the background.
//!
//! Unordered lanes read their jobs through a due-time index that holds
//! only unordered jobs (`NOT ordered` in those queries lets both databases
//! use it); the queue front keeps each queue's jobs of one kind.
//!
//! Heads are read with `ORDER BY … LIMIT 1`, never `MIN()`: on a table with
//! stale statistics PostgreSQL may plan `MIN()` as a scan of the whole lane.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{
    Connection as _, Database, FromRow, PgConnection, Pool, Postgres, QueryBuilder, Sqlite, SqliteConnection,
    Transaction,
};

use super::types::*;
use super::{Companion, QueueBackend};
use crate::store::push_in;
use crate::store::{ScriptTx, WriteGate, Writer};

/// Jobs whose lease expired, requeued per claim call at most.
const REQUEUE_BATCH: i64 = 256;

/// Claims between two vacuums of the queue tables (PostgreSQL).
const VACUUM_EVERY: u64 = 1_000;

pub struct SqlQueue<DB: Database> {
    pool: Pool<DB>,
    /// The connection the gated writes use (see [`Self::with_writer`]).
    writer: Writer<DB>,
    gate: WriteGate,
    claimed: Arc<AtomicU64>,
    vacuuming: Arc<AtomicBool>,
    _db: PhantomData<DB>,
}

impl<DB: Database> SqlQueue<DB> {
    pub fn new(pool: Pool<DB>) -> Self {
        Self {
            writer: Writer::Pool(pool.clone()),
            pool,
            gate: WriteGate::open(),
            claimed: Arc::new(AtomicU64::new(0)),
            vacuuming: Arc::new(AtomicBool::new(false)),
            _db: PhantomData,
        }
    }

    /// Claims, enqueues and results take `gate` (the store's SQLite writer
    /// gate), so they queue behind the message log's writes instead of
    /// sleeping in SQLite's busy handler, and run on `writer`, the store's
    /// one writing connection (see `store/writer.rs`).
    pub fn with_writer(mut self, gate: WriteGate, writer: Writer<DB>) -> Self {
        self.gate = gate;
        self.writer = writer;
        self
    }
}

#[derive(Debug, FromRow)]
struct JobRow {
    seq: i64,
    id: String,
    queue: String,
    lane: String,
    ordered: bool,
    payload: Json<Value>,
    state: String,
    attempts: i32,
    max_attempts: i32,
    due_at: i64,
    last_error: Option<String>,
    enqueued_at: i64,
    updated_at: i64,
}

macro_rules! job_cols {
    () => {
        "seq, id, queue, lane, ordered, payload, state, attempts, max_attempts, due_at, last_error, enqueued_at, updated_at"
    };
}

fn to_u32(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

impl JobRow {
    fn claimed(self) -> ClaimedJob {
        ClaimedJob {
            id: self.id,
            queue: self.queue,
            lane: self.lane,
            ordered: self.ordered,
            payload: self.payload.0,
            attempt: to_u32(self.attempts),
            max_attempts: to_u32(self.max_attempts),
            enqueued_at: self.enqueued_at,
            due_at: self.due_at,
        }
    }

    fn record(self) -> JobRecord {
        JobRecord {
            state: JobState::parse(&self.state).unwrap_or(JobState::Dead),
            id: self.id,
            queue: self.queue,
            lane: self.lane,
            ordered: self.ordered,
            payload: self.payload.0,
            attempts: to_u32(self.attempts),
            max_attempts: to_u32(self.max_attempts),
            due_at: self.due_at,
            last_error: self.last_error,
            enqueued_at: self.enqueued_at,
            updated_at: self.updated_at,
        }
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Begins the transaction a claim or state change runs in.
#[async_trait]
trait Begin<DB: Database> {
    async fn begin(conn: &mut DB::Connection) -> Result<Transaction<'_, DB>, sqlx::Error>;
}

struct Tx;

#[async_trait]
impl Begin<Postgres> for Tx {
    async fn begin(conn: &mut PgConnection) -> Result<Transaction<'_, Postgres>, sqlx::Error> {
        conn.begin().await
    }
}

#[async_trait]
impl Begin<Sqlite> for Tx {
    async fn begin(conn: &mut SqliteConnection) -> Result<Transaction<'_, Sqlite>, sqlx::Error> {
        // IMMEDIATE takes the write lock up front: a deferred transaction
        // that reads then writes can fail with SQLITE_BUSY mid-way.
        conn.begin_with("BEGIN IMMEDIATE").await
    }
}

impl SqlQueue<Postgres> {
    /// Inserts jobs (and their lanes) in `tx`; ids or dedupe keys
    /// already taken return the existing job.
    async fn insert_jobs(tx: &mut Transaction<'_, Postgres>, jobs: &[NewJob]) -> QueueResult<Vec<Enqueued>> {
        let now = now_ms();
        let mut out = Vec::with_capacity(jobs.len());
        let mut lanes: BTreeSet<(&str, &str, bool)> = BTreeSet::new();
        for chunk in jobs.chunks(CHUNK) {
            let ids: Vec<String> = chunk.iter().map(NewJob::resolved_id).collect();
            let mut q = QueryBuilder::<Postgres>::new("");
            Self::push_insert_jobs(&mut q, chunk, &ids, now);
            let inserted: Vec<(String, String)> = q.build_query_as().fetch_all(&mut **tx).await?;
            let results = Self::sort_out(tx, chunk, ids, inserted).await?;
            for (job, result) in chunk.iter().zip(&results) {
                if matches!(result, Enqueued::Created(_)) {
                    lanes.insert((&job.queue, &job.lane, job.ordered));
                }
            }
            out.extend(results);
        }
        let lanes: Vec<_> = lanes.into_iter().collect();
        for chunk in lanes.chunks(CHUNK) {
            let mut q = QueryBuilder::<Postgres>::new("");
            Self::push_insert_lanes(&mut q, chunk);
            q.build().execute(&mut **tx).await?;
        }
        for (queue, lanes) in &by_queue(&lanes) {
            Self::refresh_lanes(tx, queue, lanes).await?;
        }
        Ok(out)
    }
}

/// Adds jobs, with a companion's rows, in one transaction.
#[async_trait]
trait Enqueue<DB: Database> {
    async fn enqueue(
        queue: &SqlQueue<DB>,
        jobs: &[NewJob],
        rows: Option<&dyn Companion>,
    ) -> QueueResult<Vec<Enqueued>>;
}

#[async_trait]
impl Enqueue<Postgres> for Tx {
    async fn enqueue(
        queue: &SqlQueue<Postgres>,
        jobs: &[NewJob],
        rows: Option<&dyn Companion>,
    ) -> QueueResult<Vec<Enqueued>> {
        let _turn = queue.gate.intake().await;
        let mut conn = queue.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        if let Some(rows) = rows {
            rows.write_postgres(&mut tx).await?;
        }
        let out = SqlQueue::<Postgres>::insert_jobs(&mut tx, jobs).await?;
        tx.commit().await?;
        Ok(out)
    }
}

#[async_trait]
impl Enqueue<Sqlite> for Tx {
    /// Everything but the commit in one script (see `script`): the rows,
    /// the jobs, their lanes and the lanes' readiness. A job that collided
    /// with an existing one is looked up before the commit.
    async fn enqueue(
        queue: &SqlQueue<Sqlite>,
        jobs: &[NewJob],
        rows: Option<&dyn Companion>,
    ) -> QueueResult<Vec<Enqueued>> {
        type Q = SqlQueue<Sqlite>;
        if jobs.is_empty() && rows.is_none() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let ids: Vec<String> = jobs.iter().map(NewJob::resolved_id).collect();
        let mut script = QueryBuilder::<Sqlite>::new("BEGIN IMMEDIATE;\n");
        if let Some(rows) = rows {
            rows.push_sqlite(&mut script);
        }
        for (chunk, ids) in jobs.chunks(CHUNK).zip(ids.chunks(CHUNK)) {
            Q::push_insert_jobs(&mut script, chunk, ids, now);
            script.push(";\n");
        }
        // Every job's lane, created or not: refreshing a lane is idempotent.
        let lanes: BTreeSet<(&str, &str, bool)> =
            jobs.iter().map(|j| (j.queue.as_str(), j.lane.as_str(), j.ordered)).collect();
        let lanes: Vec<_> = lanes.into_iter().collect();
        for chunk in lanes.chunks(CHUNK) {
            Q::push_insert_lanes(&mut script, chunk);
            script.push(";\n");
        }
        for (name, names) in &by_queue(&lanes) {
            for chunk in names.chunks(CHUNK) {
                Q::push_refresh_lanes(&mut script, name, chunk.iter().map(String::as_str));
                script.push(";\n");
            }
        }
        // Without dedupe keys a job that was not inserted collided on its
        // id, so the existing job is known without a lookup: the commit
        // goes in the script too (one hand-off for the whole batch).
        if jobs.iter().all(|j| j.dedupe_key.is_none()) {
            script.push("COMMIT;\n");
            let _turn = queue.gate.intake().await;
            let inserted = ScriptTx::run_committed::<(String, String)>(&queue.writer, &mut script).await?;
            return Ok(by_id(jobs, ids, inserted));
        }
        let _turn = queue.gate.intake().await;
        let (mut tx, inserted) = ScriptTx::run::<(String, String)>(&queue.writer, &mut script).await?;
        let out = Q::sort_out(tx.conn(), jobs, ids, inserted).await?;
        tx.commit().await?;
        Ok(out)
    }
}

/// Created or existing, for jobs without dedupe keys: one not `inserted`
/// (queue, id) already existed under its id; the same id twice in one call
/// is created once.
fn by_id(jobs: &[NewJob], ids: Vec<String>, inserted: Vec<(String, String)>) -> Vec<Enqueued> {
    let mut created: HashSet<(String, String)> = inserted.into_iter().collect();
    jobs.iter()
        .zip(ids)
        .map(|(job, id)| {
            if created.remove(&(job.queue.clone(), id.clone())) {
                Enqueued::Created(id)
            } else {
                Enqueued::Existing(id)
            }
        })
        .collect()
}

/// The common end of a batch of attempts, every job done, where a backend
/// has a faster path than the general one; None: take the general path.
#[async_trait]
trait FinishDone<DB: Database> {
    async fn finish_done(queue: &SqlQueue<DB>, items: &[(ClaimedJob, Resolution)])
    -> Option<QueueResult<()>>;
}

#[async_trait]
impl FinishDone<Postgres> for Tx {
    async fn finish_done(_: &SqlQueue<Postgres>, _: &[(ClaimedJob, Resolution)]) -> Option<QueueResult<()>> {
        None
    }
}

#[async_trait]
impl FinishDone<Sqlite> for Tx {
    /// The whole transaction (settle the jobs, refresh their ordered lanes,
    /// commit) as one script: one hand-off instead of four per batch.
    async fn finish_done(
        queue: &SqlQueue<Sqlite>,
        items: &[(ClaimedJob, Resolution)],
    ) -> Option<QueueResult<()>> {
        type Q = SqlQueue<Sqlite>;
        if items.is_empty() || !items.iter().all(|(_, r)| matches!(r, Resolution::Done)) {
            return None;
        }
        let now = now_ms();
        let mut by_queue: BTreeMap<&str, Vec<&ClaimedJob>> = BTreeMap::new();
        for (job, _) in items {
            by_queue.entry(job.queue.as_str()).or_default().push(job);
        }
        let mut script = QueryBuilder::<Sqlite>::new("BEGIN IMMEDIATE;\n");
        for (name, jobs) in &by_queue {
            for chunk in jobs.chunks(CHUNK / 2) {
                Q::push_settle_done(&mut script, name, chunk, now);
                script.push(";\n");
            }
            // A lane whose job another attempt owns is refreshed too:
            // recomputing readiness is idempotent.
            let lanes: BTreeSet<&str> = jobs.iter().filter(|j| j.ordered).map(|j| j.lane.as_str()).collect();
            let lanes: Vec<&str> = lanes.into_iter().collect();
            for chunk in lanes.chunks(CHUNK) {
                Q::push_refresh_lanes(&mut script, name, chunk.iter().copied());
                script.push(";\n");
            }
        }
        script.push("COMMIT;\n");
        let _turn = queue.gate.background().await;
        let settled = match ScriptTx::run_committed::<(String,)>(&queue.writer, &mut script).await {
            Ok(rows) => rows.into_iter().map(|(id,)| id).collect::<BTreeSet<String>>(),
            Err(e) => return Some(Err(e.into())),
        };
        for (job, _) in items.iter().filter(|(job, _)| !settled.contains(&job.id)) {
            lease_lost(job);
        }
        Some(Ok(()))
    }
}

/// An attempt ended after another one took its job over: its result is
/// not recorded.
fn lease_lost(job: &ClaimedJob) {
    tracing::warn!(queue = %job.queue, job_id = %job.id, attempt = job.attempt,
        "attempt finished after its lease was lost; another attempt owns the job");
}

/// Recomputes when lanes can next be claimed (NULL: nothing claimable);
/// followed by `WHERE queue = ? AND lane IN (…)`.
const REFRESH_LANES: &str = "UPDATE queue_lanes SET ready_at = CASE
    WHEN ordered THEN (CASE
        WHEN EXISTS (SELECT 1 FROM queue_jobs j WHERE j.queue = queue_lanes.queue AND j.lane = queue_lanes.lane
                     AND j.state = 'running') THEN NULL
        ELSE (SELECT j.due_at FROM queue_jobs j WHERE j.queue = queue_lanes.queue AND j.lane = queue_lanes.lane
              AND j.state = 'queued' ORDER BY j.order_at, j.seq LIMIT 1)
        END)
    ELSE (SELECT j.due_at FROM queue_jobs j WHERE j.queue = queue_lanes.queue AND j.lane = queue_lanes.lane
          AND NOT j.ordered AND j.state = 'queued' ORDER BY j.due_at LIMIT 1)
    END
    WHERE queue = ";

/// Rows bound per multi-row statement: far below both databases' limits on
/// bound parameters (SQLite 32,766; PostgreSQL 65,535).
const CHUNK: usize = 500;

/// Forgets lanes without work; run by `prune`, off the hot path.
const DROP_IDLE_LANES: &str = "DELETE FROM queue_lanes WHERE queue = $1 AND ready_at IS NULL
    AND NOT EXISTS (SELECT 1 FROM queue_jobs j WHERE j.queue = $1 AND j.lane = queue_lanes.lane
                    AND j.state IN ('queued', 'running'))";

/// Marks a lane served (round-robin) in the same statement as its refresh.
const SERVE_LANE: &str = "UPDATE queue_lanes SET served = $3, ready_at = CASE
    WHEN ordered THEN NULL
    ELSE (SELECT j.due_at FROM queue_jobs j WHERE j.queue = $1 AND j.lane = $2 AND NOT j.ordered
          AND j.state = 'queued' ORDER BY j.due_at LIMIT 1)
    END
    WHERE queue = $1 AND lane = $2";

/// Lane names grouped by queue (lane refreshes are per queue).
fn by_queue<'a>(lanes: &[(&'a str, &str, bool)]) -> BTreeMap<&'a str, Vec<String>> {
    let mut out: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (queue, lane, _) in lanes {
        out.entry(*queue).or_default().push((*lane).to_owned());
    }
    out
}

/// Ending an attempt of an unordered lane without requeueing it leaves the
/// lane's readiness unchanged: no lane refresh (the hot path).
fn touches_lane(job: &ClaimedJob, resolution: &Resolution) -> bool {
    job.ordered || matches!(resolution, Resolution::RetryAt { .. } | Resolution::DeferTo { .. })
}

macro_rules! impl_sql_queue {
    ($db:ty, $name:literal, $lock:literal, $vacuum:literal) => {
        impl SqlQueue<$db> {
            /// Counts claims and starts a background vacuum every `VACUUM_EVERY`.
            fn after_claims(&self, n: usize) {
                if $vacuum.is_empty() || n == 0 {
                    return;
                }
                let before = self.claimed.fetch_add(n as u64, Ordering::Relaxed);
                if before / VACUUM_EVERY == (before + n as u64) / VACUUM_EVERY {
                    return;
                }
                if self.vacuuming.swap(true, Ordering::AcqRel) {
                    return;
                }
                let (pool, flag) = (self.pool.clone(), self.vacuuming.clone());
                tokio::spawn(async move {
                    let started = std::time::Instant::now();
                    match sqlx::raw_sql($vacuum).execute(&pool).await {
                        Ok(_) => tracing::debug!(took_ms = started.elapsed().as_millis() as u64, "vacuumed queue tables"),
                        Err(e) => tracing::warn!(error = %e, "vacuuming queue tables failed"),
                    }
                    flag.store(false, Ordering::Release);
                });
            }

            /// The multi-row insert of `jobs` under `ids`, returning the
            /// `(queue, id)` of each row created; rows that collide with an
            /// existing id or an active dedupe key are skipped.
            fn push_insert_jobs(q: &mut QueryBuilder<$db>, jobs: &[NewJob], ids: &[String], now: i64) {
                q.push(
                    "INSERT INTO queue_jobs (id, queue, lane, ordered, payload, state, attempts, max_attempts, \
                     order_at, due_at, dedupe_key, enqueued_at, updated_at) ",
                );
                q.push_values(jobs.iter().zip(ids), |mut row, (job, id)| {
                    let run_at = job.run_at.unwrap_or(now);
                    let max = i64::from(job.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS).max(1));
                    row.push_bind(id.as_str())
                        .push_bind(job.queue.as_str())
                        .push_bind(job.lane.as_str())
                        .push_bind(job.ordered)
                        .push_bind(Json(&job.payload))
                        .push_bind("queued")
                        .push_bind(0_i32)
                        .push_bind(max)
                        .push_bind(run_at)
                        .push_bind(run_at)
                        .push_bind(job.dedupe_key.as_deref())
                        .push_bind(now)
                        .push_bind(now);
                });
                q.push(" ON CONFLICT DO NOTHING RETURNING queue, id");
            }

            /// What became of each of `jobs` (under `ids`), given the
            /// `(queue, id)` rows their insert returned: created, or the
            /// existing job that kept it out (looked up on `conn`, inside
            /// the insert's transaction).
            async fn sort_out(
                conn: &mut <$db as Database>::Connection,
                jobs: &[NewJob],
                ids: Vec<String>,
                inserted: Vec<(String, String)>,
            ) -> QueueResult<Vec<Enqueued>> {
                let mut created: HashSet<(String, String)> = inserted.into_iter().collect();
                let mut out = Vec::with_capacity(jobs.len());
                for (job, id) in jobs.iter().zip(ids) {
                    // The same id twice in one call: the first is created.
                    if created.remove(&(job.queue.clone(), id.clone())) {
                        out.push(Enqueued::Created(id));
                        continue;
                    }
                    let existing = sqlx::query_as::<$db, (String,)>(
                        "SELECT id FROM queue_jobs WHERE queue = $1 AND (id = $2 OR (dedupe_key = $3 \
                         AND state IN ('queued', 'running'))) ORDER BY seq DESC LIMIT 1",
                    )
                    .bind(&job.queue)
                    .bind(&id)
                    .bind(job.dedupe_key.as_deref())
                    .fetch_optional(&mut *conn)
                    .await?;
                    match existing {
                        Some((existing,)) => out.push(Enqueued::Existing(existing)),
                        None => return Err(QueueError::Backend(format!("job {id} neither inserted nor found"))),
                    }
                }
                Ok(out)
            }

            /// Adds the lanes (queue, lane, ordered) not yet known.
            fn push_insert_lanes(q: &mut QueryBuilder<$db>, lanes: &[(&str, &str, bool)]) {
                q.push("INSERT INTO queue_lanes (queue, lane, ordered, served, ready_at) ");
                q.push_values(lanes, |mut row, (queue, lane, ordered)| {
                    row.push_bind(*queue).push_bind(*lane).push_bind(*ordered).push_bind(0_i64).push_bind(None::<i64>);
                });
                q.push(" ON CONFLICT (queue, lane) DO NOTHING");
            }

            /// Recomputes the readiness of `lanes` (at most `CHUNK`) of `queue`.
            fn push_refresh_lanes<'l>(q: &mut QueryBuilder<$db>, queue: &str, lanes: impl IntoIterator<Item = &'l str>) {
                q.push(REFRESH_LANES).push_bind(queue).push(" AND lane");
                push_in(q, lanes);
            }

            /// Recomputes the readiness of `lanes` of `queue` (chunked statements).
            async fn refresh_lanes<'l>(
                tx: &mut Transaction<'_, $db>,
                queue: &str,
                lanes: impl IntoIterator<Item = &'l String>,
            ) -> Result<(), sqlx::Error> {
                let lanes: Vec<&String> = lanes.into_iter().collect();
                for chunk in lanes.chunks(CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("");
                    Self::push_refresh_lanes(&mut q, queue, chunk.iter().map(|l| l.as_str()));
                    q.build().execute(&mut **tx).await?;
                }
                Ok(())
            }

            async fn refresh_lane(tx: &mut Transaction<'_, $db>, queue: &str, lane: &str) -> Result<(), sqlx::Error> {
                Self::refresh_lanes(tx, queue, [&lane.to_owned()]).await
            }

            async fn ensure_lane(
                tx: &mut Transaction<'_, $db>,
                queue: &str,
                lane: &str,
                ordered: bool,
            ) -> Result<(), sqlx::Error> {
                sqlx::query::<$db>(
                    "INSERT INTO queue_lanes (queue, lane, ordered, served, ready_at) VALUES ($1, $2, $3, 0, NULL) \
                     ON CONFLICT (queue, lane) DO NOTHING",
                )
                .bind(queue)
                .bind(lane)
                .bind(ordered)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Requeues (or dead-letters) running jobs whose lease expired.
            async fn requeue_expired(conn: &mut <$db as Database>::Connection, queue: &str, now: i64) -> Result<(), sqlx::Error> {
                // A plain read first: the common case (nothing expired) then
                // takes no write lock.
                let any = sqlx::query_as::<$db, (i64,)>(
                    "SELECT seq FROM queue_jobs WHERE queue = $1 AND state = 'running' AND lease_until < $2 LIMIT 1",
                )
                .bind(queue)
                .bind(now)
                .fetch_optional(&mut *conn)
                .await?;
                if any.is_none() {
                    return Ok(());
                }
                let mut tx = <Tx as Begin<$db>>::begin(conn).await?;
                let expired: Vec<(i64, String)> = sqlx::query_as::<$db, (i64, String)>(concat!(
                    "SELECT seq, lane FROM queue_jobs WHERE queue = $1 AND state = 'running' AND lease_until < $2 \
                     ORDER BY lease_until LIMIT $3",
                    $lock
                ))
                .bind(queue)
                .bind(now)
                .bind(REQUEUE_BATCH)
                .fetch_all(&mut *tx)
                .await?;
                if expired.is_empty() {
                    return Ok(());
                }
                let mut lanes = BTreeSet::new();
                for (seq, lane) in expired {
                    sqlx::query::<$db>(
                        "UPDATE queue_jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END, \
                         last_error = 'lease expired: the worker stopped renewing it (crashed or lost)', \
                         lease_until = NULL, updated_at = $2 WHERE seq = $1 AND state = 'running'",
                    )
                    .bind(seq)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    lanes.insert(lane);
                }
                Self::refresh_lanes(&mut tx, queue, &lanes).await?;
                tx.commit().await
            }

            async fn claim_once(&self, queue: &str, max: usize, lease: Duration) -> Result<Vec<ClaimedJob>, sqlx::Error> {
                let _turn = self.gate.background().await;
                let now = now_ms();
                let mut conn = self.writer.acquire().await?;
                Self::requeue_expired(&mut conn, queue, now).await?;
                let lease_until = ms_after(now, lease);
                let mut tx = <Tx as Begin<$db>>::begin(&mut conn).await?;
                let mut claimed: Vec<ClaimedJob> = Vec::new();
                // An unordered lane gives up to this many jobs per visit: one
                // statement claims them all, and the quiet lane still comes
                // next (fairness is per visit, not per job).
                let per_visit = (max / 8).max(1);
                let mut rounds = 0;
                // Each round takes the least recently served ready lanes at
                // once: all ordered lanes' heads in one statement, then the
                // unordered lanes one by one while the budget lasts.
                while claimed.len() < max && rounds < max {
                    rounds += 1;
                    let lanes = sqlx::query_as::<$db, (String, bool)>(concat!(
                        "SELECT lane, ordered FROM queue_lanes WHERE queue = $1 AND ready_at <= $2 ORDER BY served LIMIT $3",
                        $lock
                    ))
                    .bind(queue)
                    .bind(now)
                    .bind(limit(max - claimed.len()))
                    .fetch_all(&mut *tx)
                    .await?;
                    if lanes.is_empty() {
                        break;
                    }
                    let ordered: Vec<&String> = lanes.iter().filter(|(_, o)| *o).map(|(l, _)| l).collect();
                    if !ordered.is_empty() {
                        let heads = self.claim_heads(&mut tx, queue, &ordered, now, lease_until).await?;
                        claimed.extend(heads);
                    }
                    for (lane, _) in lanes.iter().filter(|(_, o)| !*o) {
                        if claimed.len() >= max {
                            break;
                        }
                        let take = per_visit.min(max - claimed.len());
                        let jobs = self.claim_unordered(&mut tx, queue, lane, take, now, lease_until).await?;
                        claimed.extend(jobs);
                    }
                }
                tx.commit().await?;
                self.after_claims(claimed.len());
                Ok(claimed)
            }

            /// Claims the head of each ordered lane in `lanes` (three statements
            /// for all of them) and marks the lanes served and busy.
            async fn claim_heads(
                &self,
                tx: &mut Transaction<'_, $db>,
                queue: &str,
                lanes: &[&String],
                now: i64,
                lease_until: i64,
            ) -> Result<Vec<ClaimedJob>, sqlx::Error> {
                let mut q = QueryBuilder::<$db>::new(concat!(
                    "SELECT ", job_cols!(), " FROM queue_jobs WHERE seq IN (SELECT (SELECT h.seq FROM queue_jobs h \
                     WHERE h.queue = l.queue AND h.lane = l.lane AND h.state = 'queued' ORDER BY h.order_at, h.seq LIMIT 1) \
                     FROM queue_lanes l WHERE l.queue = "
                ));
                q.push_bind(queue).push(" AND l.lane");
                push_in(&mut q, lanes.iter().map(|l| l.as_str()));
                q.push(")").push($lock);
                let heads: Vec<JobRow> = q.build_query_as().fetch_all(&mut **tx).await?;
                let (due, _): (Vec<JobRow>, Vec<JobRow>) = heads.into_iter().partition(|j| j.due_at <= now);
                let served_lanes: BTreeSet<String> = due.iter().map(|j| j.lane.clone()).collect();
                // A lane listed as ready without a due head had a stale
                // ready_at: fix it so it is not picked again.
                let stale: Vec<&String> = lanes.iter().copied().filter(|l| !served_lanes.contains(*l)).collect();
                if !stale.is_empty() {
                    Self::refresh_lanes(tx, queue, stale).await?;
                }
                if due.is_empty() {
                    return Ok(Vec::new());
                }
                let mut q = QueryBuilder::<$db>::new("UPDATE queue_lanes SET ready_at = NULL, served = ");
                // The claim time in µs orders lanes by when they were last
                // served, across processes, without a shared counter.
                q.push_bind(chrono::Utc::now().timestamp_micros()).push(" WHERE queue = ").push_bind(queue).push(" AND lane");
                push_in(&mut q, served_lanes.iter().map(String::as_str));
                q.build().execute(&mut **tx).await?;
                Self::mark_running(tx, due, now, lease_until).await
            }

            /// Claims up to `take` due jobs of one unordered lane.
            async fn claim_unordered(
                &self,
                tx: &mut Transaction<'_, $db>,
                queue: &str,
                lane: &str,
                take: usize,
                now: i64,
                lease_until: i64,
            ) -> Result<Vec<ClaimedJob>, sqlx::Error> {
                let jobs = sqlx::query_as::<$db, JobRow>(concat!(
                    "SELECT ", job_cols!(), " FROM queue_jobs WHERE queue = $1 AND lane = $2 AND NOT ordered \
                     AND state = 'queued' AND due_at <= $3 ORDER BY due_at, seq LIMIT $4",
                    $lock
                ))
                .bind(queue)
                .bind(lane)
                .bind(now)
                .bind(limit(take))
                .fetch_all(&mut **tx)
                .await?;
                if jobs.is_empty() {
                    Self::refresh_lane(tx, queue, lane).await?;
                    return Ok(Vec::new());
                }
                let served = chrono::Utc::now().timestamp_micros();
                sqlx::query::<$db>(SERVE_LANE).bind(queue).bind(lane).bind(served).execute(&mut **tx).await?;
                Self::mark_running(tx, jobs, now, lease_until).await
            }

            /// Leases `jobs` (one statement) and returns them as claimed.
            async fn mark_running(
                tx: &mut Transaction<'_, $db>,
                jobs: Vec<JobRow>,
                now: i64,
                lease_until: i64,
            ) -> Result<Vec<ClaimedJob>, sqlx::Error> {
                let mut update = QueryBuilder::<$db>::new("UPDATE queue_jobs SET state = 'running', attempts = attempts + 1, lease_until = ");
                update.push_bind(lease_until).push(", updated_at = ").push_bind(now).push(" WHERE seq");
                push_in(&mut update, jobs.iter().map(|j| j.seq));
                update.build().execute(&mut **tx).await?;
                Ok(jobs.into_iter().map(|mut job| {
                    job.attempts += 1;
                    job.claimed()
                }).collect())
            }

            /// Marks `jobs` (one queue) done where their attempt still owns
            /// them; returns the ids it settled. The id list uses the
            /// `(queue, id)` index on both databases.
            async fn settle_done(
                tx: &mut Transaction<'_, $db>,
                queue: &str,
                jobs: &[&ClaimedJob],
                now: i64,
            ) -> Result<std::collections::HashSet<String>, sqlx::Error> {
                let mut q = QueryBuilder::<$db>::new("");
                Self::push_settle_done(&mut q, queue, jobs, now);
                let settled: Vec<(String,)> = q.build_query_as().fetch_all(&mut **tx).await?;
                Ok(settled.into_iter().map(|(id,)| id).collect())
            }

            /// Appends `settle_done`'s statement (it returns the settled ids).
            fn push_settle_done(q: &mut QueryBuilder<$db>, queue: &str, jobs: &[&ClaimedJob], now: i64) {
                q.push("UPDATE queue_jobs SET state = 'done', lease_until = NULL, updated_at = ");
                q.push_bind(now).push(" WHERE queue = ").push_bind(queue.to_owned()).push(" AND state = 'running' AND id");
                push_in(q, jobs.iter().map(|j| j.id.clone()));
                q.push(" AND attempts = CASE id");
                for job in jobs {
                    q.push(" WHEN ").push_bind(job.id.clone()).push(" THEN ").push_bind(i64::from(job.attempt));
                }
                q.push(" END RETURNING id");
            }

            fn settle_query<'q>(
                job: &'q ClaimedJob,
                resolution: Option<&'q Resolution>,
                now: i64,
            ) -> sqlx::query::Query<'q, $db, <$db as Database>::Arguments> {
                // Every statement: $1 queue, $2 id, $3 attempt, $4 now.
                let query = match resolution {
                    None => sqlx::query::<$db>(
                        "UPDATE queue_jobs SET state = 'queued', attempts = attempts - 1, lease_until = NULL, updated_at = $4 \
                         WHERE queue = $1 AND id = $2 AND state = 'running' AND attempts = $3",
                    ),
                    Some(Resolution::Done) => sqlx::query::<$db>(
                        "UPDATE queue_jobs SET state = 'done', lease_until = NULL, updated_at = $4 \
                         WHERE queue = $1 AND id = $2 AND state = 'running' AND attempts = $3",
                    ),
                    Some(Resolution::RetryAt { .. }) => sqlx::query::<$db>(
                        "UPDATE queue_jobs SET state = 'queued', due_at = $5, last_error = $6, lease_until = NULL, \
                         updated_at = $4 WHERE queue = $1 AND id = $2 AND state = 'running' AND attempts = $3",
                    ),
                    Some(Resolution::Dead { .. }) => sqlx::query::<$db>(
                        "UPDATE queue_jobs SET state = 'dead', last_error = $5, lease_until = NULL, updated_at = $4 \
                         WHERE queue = $1 AND id = $2 AND state = 'running' AND attempts = $3",
                    ),
                    Some(Resolution::DeferTo { .. }) => sqlx::query::<$db>(
                        "UPDATE queue_jobs SET state = 'queued', attempts = attempts - 1, due_at = $5, lease_until = NULL, \
                         updated_at = $4 WHERE queue = $1 AND id = $2 AND state = 'running' AND attempts = $3",
                    ),
                };
                let query = query.bind(&job.queue).bind(&job.id).bind(i64::from(job.attempt)).bind(now);
                match resolution {
                    Some(Resolution::RetryAt { at, error }) => query.bind(*at).bind(error.as_str()),
                    Some(Resolution::Dead { error }) => query.bind(error.as_str()),
                    Some(Resolution::DeferTo { at }) => query.bind(*at),
                    None | Some(Resolution::Done) => query,
                }
            }
        }

        #[async_trait]
        impl QueueBackend for SqlQueue<$db> {
            fn write_gate(&self) -> WriteGate {
                self.gate.clone()
            }

            async fn enqueue(&self, jobs: &[NewJob]) -> QueueResult<Vec<Enqueued>> {
                <Tx as Enqueue<$db>>::enqueue(self, jobs, None).await
            }

            async fn enqueue_with(&self, jobs: &[NewJob], rows: &dyn Companion) -> QueueResult<Vec<Enqueued>> {
                // One writer turn and one commit for the rows and their jobs.
                <Tx as Enqueue<$db>>::enqueue(self, jobs, Some(rows)).await
            }

            async fn claim(&self, queue: &str, max: usize, lease: Duration) -> QueueResult<Vec<ClaimedJob>> {
                // PostgreSQL may abort one of two colliding claims (deadlock
                // detection); the claim is safe to repeat.
                let mut tries = 0;
                loop {
                    match self.claim_once(queue, max, lease).await {
                        Err(sqlx::Error::Database(e))
                            if tries < 3 && matches!(e.code().as_deref(), Some("40P01" | "40001")) =>
                        {
                            tries += 1;
                        }
                        other => return Ok(other?),
                    }
                }
            }

            async fn extend(&self, job: &ClaimedJob, lease: Duration) -> QueueResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE queue_jobs SET lease_until = $4 WHERE queue = $1 AND id = $2 AND state = 'running' AND attempts = $3",
                )
                .bind(&job.queue)
                .bind(&job.id)
                .bind(i64::from(job.attempt))
                .bind(ms_after(now_ms(), lease))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn finish(&self, job: &ClaimedJob, resolution: &Resolution) -> QueueResult<()> {
                self.finish_many(&[(job.clone(), resolution.clone())]).await
            }

            async fn finish_many(&self, items: &[(ClaimedJob, Resolution)]) -> QueueResult<()> {
                if let Some(done) = <Tx as FinishDone<$db>>::finish_done(self, items).await {
                    return done;
                }
                let _turn = self.gate.background().await;
                let now = now_ms();
                let mut conn = self.writer.acquire().await?;
                let mut tx = <Tx as Begin<$db>>::begin(&mut conn).await?;
                let mut lanes: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
                let mut note_owner = |job: &ClaimedJob, resolution: &Resolution, owned: bool| {
                    if !owned {
                        lease_lost(job);
                    } else if touches_lane(job, resolution) {
                        lanes.entry(job.queue.clone()).or_default().insert(job.lane.clone());
                    }
                };
                // Finished jobs (the common result) settle in one statement
                // per queue and chunk; the rest one by one.
                let (done, other): (Vec<_>, Vec<_>) =
                    items.iter().partition(|(_, resolution)| matches!(resolution, Resolution::Done));
                let mut by_queue: std::collections::BTreeMap<&str, Vec<&ClaimedJob>> = Default::default();
                for (job, _) in &done {
                    by_queue.entry(job.queue.as_str()).or_default().push(job);
                }
                for (queue, jobs) in by_queue {
                    for chunk in jobs.chunks(CHUNK / 2) {
                        let settled = Self::settle_done(&mut tx, queue, chunk, now).await?;
                        for job in chunk {
                            note_owner(job, &Resolution::Done, settled.contains(job.id.as_str()));
                        }
                    }
                }
                for (job, resolution) in other {
                    let owned = Self::settle_query(job, Some(resolution), now).execute(&mut *tx).await?.rows_affected() > 0;
                    note_owner(job, resolution, owned);
                }
                for (queue, lanes) in &lanes {
                    Self::refresh_lanes(&mut tx, queue, lanes).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn release(&self, job: &ClaimedJob) -> QueueResult<()> {
                // Puts the job back uncounted if this attempt still owns it.
                let _turn = self.gate.background().await;
                let mut conn = self.writer.acquire().await?;
                let mut tx = <Tx as Begin<$db>>::begin(&mut conn).await?;
                let owned = Self::settle_query(job, None, now_ms()).execute(&mut *tx).await?.rows_affected() > 0;
                if owned {
                    Self::refresh_lane(&mut tx, &job.queue, &job.lane).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn cancel(&self, queue: &str, id: &str) -> QueueResult<CancelResult> {
                let mut conn = self.pool.acquire().await?;
                let mut tx = <Tx as Begin<$db>>::begin(&mut conn).await?;
                let row = sqlx::query_as::<$db, (String, String)>(concat!(
                    "SELECT state, lane FROM queue_jobs WHERE queue = $1 AND id = $2", $lock
                ))
                .bind(queue)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                let result = match row {
                    None => CancelResult::NotFound,
                    Some((state, lane)) => match JobState::parse(&state) {
                        Some(JobState::Queued) => {
                            sqlx::query::<$db>(
                                "UPDATE queue_jobs SET state = 'cancelled', updated_at = $3 WHERE queue = $1 AND id = $2",
                            )
                            .bind(queue)
                            .bind(id)
                            .bind(now_ms())
                            .execute(&mut *tx)
                            .await?;
                            Self::refresh_lane(&mut tx, queue, &lane).await?;
                            CancelResult::Cancelled
                        }
                        Some(JobState::Running) => CancelResult::Running,
                        _ => CancelResult::Finished,
                    },
                };
                tx.commit().await?;
                Ok(result)
            }

            async fn get(&self, queue: &str, id: &str) -> QueueResult<Option<JobRecord>> {
                let row = sqlx::query_as::<$db, JobRow>(concat!(
                    "SELECT ", job_cols!(), " FROM queue_jobs WHERE queue = $1 AND id = $2"
                ))
                .bind(queue)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(JobRow::record))
            }

            async fn dead(&self, queue: &str, max: usize) -> QueueResult<Vec<JobRecord>> {
                let rows = sqlx::query_as::<$db, JobRow>(concat!(
                    "SELECT ", job_cols!(), " FROM queue_jobs WHERE queue = $1 AND state = 'dead' \
                     ORDER BY updated_at DESC, seq DESC LIMIT $2"
                ))
                .bind(queue)
                .bind(limit(max))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(JobRow::record).collect())
            }

            async fn replay(&self, queue: &str, id: &str) -> QueueResult<bool> {
                let mut conn = self.pool.acquire().await?;
                let mut tx = <Tx as Begin<$db>>::begin(&mut conn).await?;
                let row = sqlx::query_as::<$db, (String, bool)>(
                    "UPDATE queue_jobs SET state = 'queued', attempts = 0, due_at = $3, lease_until = NULL, updated_at = $3 \
                     WHERE queue = $1 AND id = $2 AND state = 'dead' RETURNING lane, ordered",
                )
                .bind(queue)
                .bind(id)
                .bind(now_ms())
                .fetch_optional(&mut *tx)
                .await?;
                let replayed = row.is_some();
                if let Some((lane, ordered)) = row {
                    Self::ensure_lane(&mut tx, queue, &lane, ordered).await?;
                    Self::refresh_lane(&mut tx, queue, &lane).await?;
                }
                tx.commit().await?;
                Ok(replayed)
            }

            async fn stats(&self, queue: &str) -> QueueResult<QueueStats> {
                let (ready, delayed, running, dead) = sqlx::query_as::<$db, (i64, i64, i64, i64)>(
                    "SELECT \
                       COALESCE(SUM(CASE WHEN state = 'queued' AND due_at <= $2 THEN 1 ELSE 0 END), 0), \
                       COALESCE(SUM(CASE WHEN state = 'queued' AND due_at > $2 THEN 1 ELSE 0 END), 0), \
                       COALESCE(SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END), 0), \
                       COALESCE(SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END), 0) \
                     FROM queue_jobs WHERE queue = $1 AND state IN ('queued', 'running', 'dead')",
                )
                .bind(queue)
                .bind(now_ms())
                .fetch_one(&self.pool)
                .await?;
                Ok(QueueStats { ready: count(ready), delayed: count(delayed), running: count(running), dead: count(dead) })
            }

            async fn prune(&self, queue: &str, age: Duration) -> QueueResult<u64> {
                let cutoff = now_ms() - i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
                let done = sqlx::query::<$db>(
                    "DELETE FROM queue_jobs WHERE queue = $1 AND state IN ('done', 'cancelled') AND updated_at < $2",
                )
                .bind(queue)
                .bind(cutoff)
                .execute(&self.pool)
                .await?;
                sqlx::query::<$db>(DROP_IDLE_LANES).bind(queue).execute(&self.pool).await?;
                Ok(done.rows_affected())
            }

            fn name(&self) -> &'static str {
                $name
            }
        }
    };
}

impl_sql_queue!(Postgres, "postgres", " FOR UPDATE SKIP LOCKED", "VACUUM (ANALYZE) queue_jobs, queue_lanes");
// SQLite rewrites b-tree pages in place: no dead versions to reclaim.
impl_sql_queue!(Sqlite, "sqlite", "", "");
