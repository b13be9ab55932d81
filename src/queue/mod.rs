//! The durable job queue: one interface over Redis, PostgreSQL and SQLite.
//!
//! Design (the same on every backend):
//! - A job belongs to a queue (`messages`, `webhooks`, …) and a **lane** (a
//!   session, a webhook endpoint). Workers serve lanes round-robin, least
//!   recently served first, so one lane's backlog cannot starve another's
//!   single job.
//! - An **ordered** lane runs one job at a time in enqueue order; a job
//!   waiting for its retry keeps its place at the head (one chat's messages
//!   never overtake each other). Unordered lanes run jobs in parallel by due
//!   time.
//! - A claimed job holds a **lease**. A worker that dies (SIGKILL, crash,
//!   lost network) stops renewing it; when it expires the job is claimed
//!   again. Delivery is therefore at-least-once, and every job has a stable
//!   id (caller-chosen or generated) so handlers can be idempotent. A lost
//!   lease counts as an attempt, so a job that kills its worker every time
//!   still ends dead-lettered.
//! - Handlers answer done, retry (optionally after a delay) or dead; retries
//!   follow the configured schedule up to `max_attempts`, then the job is
//!   dead-lettered with its last error. Dead jobs can be listed and replayed.
//! - Scheduled jobs (a `run_at` in the future) can be cancelled until they
//!   start. An optional dedupe key refuses a second active job with that key.
//!
//! Layout: `types.rs` (jobs, states, outcomes), `sql.rs` (PostgreSQL and
//! SQLite), `redis.rs` (Redis), `worker.rs` (the worker loop and retry
//! policy).

mod redis;
mod sql;
mod types;
pub mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

pub use self::redis::{Persistence, RedisQueue, check_persistence};
pub use sql::SqlQueue;
pub use types::*;
pub use worker::{Handler, RetryPolicy, Worker, WorkerConfig};

use crate::config::{Config, QueueBackendKind};
use crate::store::{Pool, Store, Writer};

/// What a queue backend must do. Every method is atomic on its own; times
/// are milliseconds since the Unix epoch.
#[async_trait]
pub trait QueueBackend: Send + Sync {
    /// Adds jobs. A job whose id exists, or whose dedupe key belongs to an
    /// active job, is not added again: the existing id is returned.
    async fn enqueue(&self, jobs: &[NewJob]) -> QueueResult<Vec<Enqueued>>;
    /// Adds jobs together with `rows` that must exist before they run. The
    /// SQL backends commit both in one transaction (all or nothing); a
    /// queue elsewhere (Redis) writes the rows first and takes them back
    /// (`Companion::undo`) when the jobs could not be added.
    async fn enqueue_with(&self, jobs: &[NewJob], rows: &dyn Companion) -> QueueResult<Vec<Enqueued>> {
        rows.write().await.map_err(QueueError::Backend)?;
        match self.enqueue(jobs).await {
            Ok(out) => Ok(out),
            Err(e) => {
                rows.undo().await;
                Err(e)
            }
        }
    }
    /// Claims up to `max` due jobs, lanes served round-robin, each leased
    /// until `now + lease`. First requeues jobs whose lease has expired.
    async fn claim(&self, queue: &str, max: usize, lease: Duration) -> QueueResult<Vec<ClaimedJob>>;
    /// Extends a running job's lease; false when the job is no longer ours.
    async fn extend(&self, job: &ClaimedJob, lease: Duration) -> QueueResult<bool>;
    /// Records the end of an attempt.
    async fn finish(&self, job: &ClaimedJob, resolution: &Resolution) -> QueueResult<()>;
    /// Records the ends of several attempts; the SQL backends do it in one
    /// transaction. Safe to repeat: an attempt already recorded is ignored.
    async fn finish_many(&self, items: &[(ClaimedJob, Resolution)]) -> QueueResult<()> {
        for (job, resolution) in items {
            self.finish(job, resolution).await?;
        }
        Ok(())
    }
    /// Puts a running job back without counting the attempt (shutdown).
    async fn release(&self, job: &ClaimedJob) -> QueueResult<()>;
    async fn cancel(&self, queue: &str, id: &str) -> QueueResult<CancelResult>;
    async fn get(&self, queue: &str, id: &str) -> QueueResult<Option<JobRecord>>;
    /// Dead jobs, newest first.
    async fn dead(&self, queue: &str, limit: usize) -> QueueResult<Vec<JobRecord>>;
    /// Moves a dead job back to the queue with a fresh attempt budget.
    async fn replay(&self, queue: &str, id: &str) -> QueueResult<bool>;
    async fn stats(&self, queue: &str) -> QueueResult<QueueStats>;
    /// Forgets finished (done, cancelled) jobs older than `age`.
    async fn prune(&self, queue: &str, age: Duration) -> QueueResult<u64>;
    /// `redis`, `postgres` or `sqlite`.
    fn name(&self) -> &'static str;
    /// The gate its writes queue at (open unless they share SQLite's writer).
    fn write_gate(&self) -> crate::store::WriteGate {
        crate::store::WriteGate::open()
    }
}

/// Rows written with a batch of jobs (an accepted message's log row with
/// its send job), so a job never runs without its row and a row is never
/// left waiting for a job that was not added.
#[async_trait]
pub trait Companion: Send + Sync {
    /// Appends the rows' statements, each ending in `;`, to the script the
    /// SQLite queue runs in its transaction before the jobs' statements
    /// (one hand-off to SQLite's connection thread for all of them).
    fn push_sqlite(&self, script: &mut sqlx::QueryBuilder<sqlx::Sqlite>);
    /// Inside the PostgreSQL queue's transaction, before the jobs.
    async fn write_postgres(&self, conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error>;
    /// On their own, when the queue is not in the same database.
    async fn write(&self) -> Result<(), String>;
    /// After `write`, when the jobs could not be added.
    async fn undo(&self);
}

/// The queues the gateway runs; maintenance (metrics, pruning) covers these.
pub const QUEUES: &[&str] = &["messages", "webhooks"];

/// The queue as the rest of the gateway sees it: cheap to clone.
#[derive(Clone)]
pub struct Queue {
    backend: Arc<dyn QueueBackend>,
    default_max_attempts: u32,
    /// Whether each queue's jobs are ordered, from its first job on (see
    /// [`Self::checked`]).
    kinds: Arc<Mutex<HashMap<String, bool>>>,
}

impl Queue {
    pub fn new(backend: Arc<dyn QueueBackend>) -> Self {
        Self::with_attempts(backend, DEFAULT_MAX_ATTEMPTS)
    }

    fn with_attempts(backend: Arc<dyn QueueBackend>, default_max_attempts: u32) -> Self {
        Self { backend, default_max_attempts, kinds: Arc::default() }
    }

    /// Picks the backend: Redis when configured (unless `queue.backend =
    /// "database"`), otherwise the database the gateway already uses.
    pub fn from_config(
        config: &Config,
        store: &Store,
        redis: Option<&::redis::aio::ConnectionManager>,
    ) -> anyhow::Result<Self> {
        let backend: Arc<dyn QueueBackend> = match (config.queue.backend, redis) {
            (QueueBackendKind::Redis, None) => {
                anyhow::bail!("queue.backend is \"redis\" but redis.url is not set")
            }
            (QueueBackendKind::Auto | QueueBackendKind::Redis, Some(conn)) => {
                Arc::new(RedisQueue::new(conn.clone(), &config.redis.key_prefix))
            }
            (QueueBackendKind::Database, _) | (QueueBackendKind::Auto, None) => match store.pool() {
                Pool::Sqlite(p) => {
                    let writer = store.sqlite_writer().cloned().unwrap_or_else(|| Writer::Pool(p.clone()));
                    Arc::new(SqlQueue::new(p.clone()).with_writer(store.write_gate(), writer))
                }
                Pool::Postgres(p) => Arc::new(SqlQueue::new(p.clone())),
            },
        };
        Ok(Self::with_attempts(backend, config.queue.max_attempts))
    }

    pub fn backend(&self) -> &Arc<dyn QueueBackend> {
        &self.backend
    }

    /// Adds a job; it is durable when this returns.
    pub async fn enqueue(&self, job: NewJob) -> QueueResult<Enqueued> {
        let mut out = self.enqueue_many(vec![job]).await?;
        out.pop().ok_or_else(|| QueueError::Backend("enqueue returned nothing".into()))
    }

    /// Adds jobs in one transaction (SQL) or a few script calls (Redis).
    pub async fn enqueue_many(&self, jobs: Vec<NewJob>) -> QueueResult<Vec<Enqueued>> {
        self.backend.enqueue(&self.checked(jobs)?).await
    }

    /// Adds jobs with the rows they need (see [`QueueBackend::enqueue_with`]).
    pub async fn enqueue_many_with(
        &self,
        jobs: Vec<NewJob>,
        rows: &dyn Companion,
    ) -> QueueResult<Vec<Enqueued>> {
        self.backend.enqueue_with(&self.checked(jobs)?, rows).await
    }

    /// Jobs without their own attempt budget get the configured one. A
    /// queue's jobs are all ordered or all not: the database backends keep
    /// unordered lanes' jobs in an index of their own, where an ordered job
    /// sent to an unordered lane would never be found (a programming error,
    /// refused here rather than lost there).
    fn checked(&self, mut jobs: Vec<NewJob>) -> QueueResult<Vec<NewJob>> {
        let mut kinds = self.kinds.lock().unwrap_or_else(|e| e.into_inner());
        for job in &mut jobs {
            job.max_attempts.get_or_insert(self.default_max_attempts);
            // Looked up before inserting: no key copied per job on the send path.
            let kind = match kinds.get(&job.queue) {
                Some(&kind) => kind,
                None => *kinds.entry(job.queue.clone()).or_insert(job.ordered),
            };
            if kind != job.ordered {
                let (is, was) = if job.ordered { ("ordered", "unordered") } else { ("unordered", "ordered") };
                return Err(QueueError::Backend(format!(
                    "job {:?} is {is} but queue {:?} runs {was} jobs",
                    job.id, job.queue
                )));
            }
        }
        Ok(jobs)
    }

    pub async fn cancel(&self, queue: &str, id: &str) -> QueueResult<CancelResult> {
        self.backend.cancel(queue, id).await
    }

    pub async fn get(&self, queue: &str, id: &str) -> QueueResult<Option<JobRecord>> {
        self.backend.get(queue, id).await
    }

    pub async fn dead(&self, queue: &str, limit: usize) -> QueueResult<Vec<JobRecord>> {
        self.backend.dead(queue, limit).await
    }

    pub async fn replay(&self, queue: &str, id: &str) -> QueueResult<bool> {
        self.backend.replay(queue, id).await
    }

    pub async fn stats(&self, queue: &str) -> QueueResult<QueueStats> {
        self.backend.stats(queue).await
    }

    pub fn name(&self) -> &'static str {
        self.backend.name()
    }
}

/// Samples queue sizes into metrics every few seconds and prunes finished
/// jobs past their retention, until `token` is cancelled.
pub async fn maintain(
    queue: Queue,
    retention: Duration,
    token: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut rounds: u64 = 0;
    loop {
        tokio::select! {
            () = token.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        for name in QUEUES {
            match queue.stats(name).await {
                Ok(s) => {
                    for (state, n) in
                        [("ready", s.ready), ("delayed", s.delayed), ("running", s.running), ("dead", s.dead)]
                    {
                        metrics::gauge!("wag_queue_jobs", "queue" => *name, "state" => state).set(n as f64);
                    }
                }
                Err(e) => tracing::warn!(queue = name, error = %e, "queue stats unavailable"),
            }
            // Pruning is cheap but not urgent: once a minute.
            if rounds.is_multiple_of(12) {
                match queue.backend.prune(name, retention).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(queue = name, pruned = n, "pruned finished jobs"),
                    Err(e) => tracing::warn!(queue = name, error = %e, "pruning failed"),
                }
            }
        }
        rounds += 1;
    }
}
