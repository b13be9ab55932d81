//! The queue on Redis: the production backend.
//!
//! Every state change is one Lua script (in `lua/`), so it is atomic and
//! needs one round trip; the layout of keys is documented in
//! `lua/prelude.lua`. Scripts are loaded by SHA and re-sent automatically
//! after a Redis restart. Redis must persist (AOF) for queued jobs to survive
//! its own restart: see `check_persistence`.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

use super::QueueBackend;
use super::types::*;

const PRELUDE: &str = include_str!("lua/prelude.lua");

/// Jobs per enqueue or finish script call: bounds the argument list and
/// the time the script holds Redis.
const CHUNK: usize = 500;

struct Scripts {
    enqueue: Script,
    claim: Script,
    finish: Script,
    extend: Script,
    cancel: Script,
    replay: Script,
    prune: Script,
}

fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{body}"))
}

pub struct RedisQueue {
    conn: ConnectionManager,
    prefix: String,
    scripts: std::sync::Arc<Scripts>,
}

impl RedisQueue {
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        let scripts = Scripts {
            enqueue: script(include_str!("lua/enqueue.lua")),
            claim: script(include_str!("lua/claim.lua")),
            finish: script(include_str!("lua/finish.lua")),
            extend: script(include_str!("lua/extend.lua")),
            cancel: script(include_str!("lua/cancel.lua")),
            replay: script(include_str!("lua/replay.lua")),
            prune: script(include_str!("lua/prune.lua")),
        };
        Self { conn, prefix: prefix.to_owned(), scripts: std::sync::Arc::new(scripts) }
    }

    /// The hash-tagged key base of a queue.
    fn base(&self, queue: &str) -> String {
        format!("{{{}:q:{}}}", self.prefix, queue)
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        queue: &str,
        args: &[String],
    ) -> QueueResult<T> {
        let mut invocation = script.prepare_invoke();
        invocation.arg(self.base(queue)).arg(now_ms());
        for a in args {
            invocation.arg(a);
        }
        let mut conn = self.conn.clone();
        Ok(invocation.invoke_async(&mut conn).await?)
    }

    /// Finishes jobs of one queue in one script call. An attempt that no
    /// longer owned its job (its lease was lost) is logged, not an error.
    async fn finish_with(&self, queue: &str, items: &[(&ClaimedJob, &str, i64, &str)]) -> QueueResult<()> {
        let mut args = Vec::with_capacity(items.len() * 5);
        for (job, kind, at, error) in items {
            args.extend([
                job.id.clone(),
                job.attempt.to_string(),
                (*kind).to_owned(),
                at.to_string(),
                (*error).to_owned(),
            ]);
        }
        let owned: Vec<i64> = self.run(&self.scripts.finish, queue, &args).await?;
        for ((job, ..), owned) in items.iter().zip(owned) {
            if owned != 1 {
                tracing::warn!(queue = %job.queue, job_id = %job.id, attempt = job.attempt,
                    "attempt finished after its lease was lost; another attempt owns the job");
            }
        }
        Ok(())
    }

    fn record(queue: &str, mut h: HashMap<String, String>) -> Option<JobRecord> {
        let num =
            |h: &HashMap<String, String>, k: &str| h.get(k).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        let state = JobState::parse(h.get("state")?)?;
        Some(JobRecord {
            id: h.remove("id")?,
            queue: queue.to_owned(),
            ordered: h.get("ordered").is_some_and(|v| v == "1"),
            payload: serde_json::from_str(h.get("payload")?).ok()?,
            state,
            attempts: u32::try_from(num(&h, "attempts")).unwrap_or(0),
            max_attempts: u32::try_from(num(&h, "max_attempts")).unwrap_or(0),
            due_at: num(&h, "due_at"),
            last_error: h.remove("last_error").filter(|e| !e.is_empty()),
            enqueued_at: num(&h, "enqueued_at"),
            updated_at: num(&h, "updated_at"),
            lane: h.remove("lane")?,
        })
    }
}

/// Consecutive items of one queue, at most `CHUNK` per run: one script
/// call each, in the caller's order.
fn runs<T>(items: &[T], queue: impl Fn(&T) -> &String) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < items.len() {
        let mut end = start + 1;
        while end < items.len() && queue(&items[end]) == queue(&items[start]) && end - start < CHUNK {
            end += 1;
        }
        out.push(start..end);
        start = end;
    }
    out
}

/// The finish script's kind, time and error for a resolution.
fn script_args(resolution: &Resolution) -> (&'static str, i64, &str) {
    match resolution {
        Resolution::Done => ("done", 0, ""),
        Resolution::RetryAt { at, error } => ("retry", *at, error),
        Resolution::Dead { error } => ("dead", 0, error),
        Resolution::DeferTo { at } => ("defer", *at, ""),
    }
}

fn parse_i64(s: &str) -> QueueResult<i64> {
    s.parse().map_err(|_| QueueError::Backend(format!("bad number from Redis: {s}")))
}

#[async_trait]
impl QueueBackend for RedisQueue {
    async fn enqueue(&self, jobs: &[NewJob]) -> QueueResult<Vec<Enqueued>> {
        let mut out = Vec::with_capacity(jobs.len());
        // Keep the caller's order; consecutive jobs of one queue share a call.
        for run in runs(jobs, |job| &job.queue) {
            let now = now_ms();
            let mut args = Vec::with_capacity(run.len() * 7);
            for job in &jobs[run.clone()] {
                let payload = serde_json::to_string(&job.payload)
                    .map_err(|e| QueueError::Backend(format!("payload not serializable: {e}")))?;
                args.extend([
                    job.resolved_id(),
                    job.lane.clone(),
                    if job.ordered { "1" } else { "0" }.to_owned(),
                    payload,
                    job.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS).max(1).to_string(),
                    job.run_at.unwrap_or(now).to_string(),
                    job.dedupe_key.clone().unwrap_or_default(),
                ]);
            }
            let replies: Vec<String> = self.run(&self.scripts.enqueue, &jobs[run.start].queue, &args).await?;
            for reply in replies {
                match reply.split_once(':') {
                    Some(("C", id)) => out.push(Enqueued::Created(id.to_owned())),
                    Some(("E", id)) => out.push(Enqueued::Existing(id.to_owned())),
                    _ => return Err(QueueError::Backend(format!("unexpected enqueue reply {reply}"))),
                }
            }
        }
        Ok(out)
    }

    async fn claim(&self, queue: &str, max: usize, lease: Duration) -> QueueResult<Vec<ClaimedJob>> {
        let lease_until = ms_after(now_ms(), lease);
        let flat: Vec<String> =
            self.run(&self.scripts.claim, queue, &[max.to_string(), lease_until.to_string()]).await?;
        let mut jobs = Vec::with_capacity(flat.len() / 8);
        for f in flat.chunks_exact(8) {
            jobs.push(ClaimedJob {
                id: f[0].clone(),
                queue: queue.to_owned(),
                lane: f[1].clone(),
                ordered: f[7] == "1",
                payload: serde_json::from_str(&f[2])
                    .map_err(|e| QueueError::Backend(format!("stored payload is not JSON: {e}")))?,
                attempt: u32::try_from(parse_i64(&f[3])?).unwrap_or(0),
                max_attempts: u32::try_from(parse_i64(&f[4])?).unwrap_or(0),
                enqueued_at: parse_i64(&f[5])?,
                due_at: parse_i64(&f[6])?,
            });
        }
        Ok(jobs)
    }

    async fn extend(&self, job: &ClaimedJob, lease: Duration) -> QueueResult<bool> {
        let args = [job.id.clone(), job.attempt.to_string(), ms_after(now_ms(), lease).to_string()];
        let owned: i64 = self.run(&self.scripts.extend, &job.queue, &args).await?;
        Ok(owned == 1)
    }

    async fn finish(&self, job: &ClaimedJob, resolution: &Resolution) -> QueueResult<()> {
        let (kind, at, error) = script_args(resolution);
        self.finish_with(&job.queue, &[(job, kind, at, error)]).await
    }

    async fn finish_many(&self, items: &[(ClaimedJob, Resolution)]) -> QueueResult<()> {
        // One script call per queue and chunk instead of one per job: each
        // call has a fixed cost on Redis's one thread.
        for run in runs(items, |(job, _)| &job.queue) {
            let group: Vec<_> = items[run.clone()]
                .iter()
                .map(|(job, resolution)| {
                    let (kind, at, error) = script_args(resolution);
                    (job, kind, at, error)
                })
                .collect();
            self.finish_with(&items[run.start].0.queue, &group).await?;
        }
        Ok(())
    }

    async fn release(&self, job: &ClaimedJob) -> QueueResult<()> {
        self.finish_with(&job.queue, &[(job, "release", 0, "")]).await
    }

    async fn cancel(&self, queue: &str, id: &str) -> QueueResult<CancelResult> {
        let reply: String = self.run(&self.scripts.cancel, queue, &[id.to_owned()]).await?;
        Ok(match reply.as_str() {
            "cancelled" => CancelResult::Cancelled,
            "running" => CancelResult::Running,
            "finished" => CancelResult::Finished,
            _ => CancelResult::NotFound,
        })
    }

    async fn get(&self, queue: &str, id: &str) -> QueueResult<Option<JobRecord>> {
        let mut conn = self.conn.clone();
        let h: HashMap<String, String> = conn.hgetall(format!("{}:job:{id}", self.base(queue))).await?;
        Ok(if h.is_empty() { None } else { Self::record(queue, h) })
    }

    async fn dead(&self, queue: &str, limit: usize) -> QueueResult<Vec<JobRecord>> {
        let mut conn = self.conn.clone();
        let base = self.base(queue);
        let stop = isize::try_from(limit).unwrap_or(isize::MAX).saturating_sub(1);
        let ids: Vec<String> = conn.zrevrange(format!("{base}:dead"), 0, stop).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hgetall(format!("{base}:job:{id}"));
        }
        let hashes: Vec<HashMap<String, String>> = pipe.query_async(&mut conn).await?;
        Ok(hashes.into_iter().filter_map(|h| Self::record(queue, h)).collect())
    }

    async fn replay(&self, queue: &str, id: &str) -> QueueResult<bool> {
        let replayed: i64 = self.run(&self.scripts.replay, queue, &[id.to_owned()]).await?;
        Ok(replayed == 1)
    }

    async fn stats(&self, queue: &str) -> QueueResult<QueueStats> {
        let mut conn = self.conn.clone();
        let base = self.base(queue);
        let now = now_ms();
        let (ready, delayed, running, dead): (u64, u64, u64, u64) = redis::pipe()
            .zcount(format!("{base}:queued"), "-inf", now)
            .zcount(format!("{base}:queued"), format!("({now}"), "+inf")
            .zcard(format!("{base}:inflight"))
            .zcard(format!("{base}:dead"))
            .query_async(&mut conn)
            .await?;
        Ok(QueueStats { ready, delayed, running, dead })
    }

    async fn prune(&self, queue: &str, age: Duration) -> QueueResult<u64> {
        let cutoff = now_ms() - i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
        let mut total = 0u64;
        loop {
            let n: u64 = self.run(&self.scripts.prune, queue, &[cutoff.to_string()]).await?;
            total += n;
            if n < 1000 {
                return Ok(total);
            }
        }
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}

/// What Redis keeps across its own restart.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Persistence {
    /// Append-only file on: queued jobs survive a restart.
    Aof,
    /// Only RDB snapshots: jobs since the last snapshot are lost on a crash.
    SnapshotsOnly,
    /// Nothing on disk: every queued job is lost when Redis restarts.
    None,
    /// `CONFIG` is not allowed (managed Redis): cannot tell.
    Unknown,
}

impl Persistence {
    /// What an operator must be told, if anything: the startup log and
    /// `/health` both show this.
    pub fn warning(&self) -> Option<&'static str> {
        match self {
            Persistence::None => Some(
                "Redis persists nothing (appendonly no, no save points): every queued job is lost if Redis \
                 restarts; run it with --appendonly yes",
            ),
            Persistence::SnapshotsOnly => Some(
                "Redis persists only RDB snapshots: jobs queued since the last snapshot are lost if it crashes; \
                 run it with --appendonly yes",
            ),
            Persistence::Aof | Persistence::Unknown => None,
        }
    }
}

/// Reads Redis's persistence settings (`CONFIG GET appendonly`, `save`).
pub async fn check_persistence(conn: &ConnectionManager) -> Persistence {
    let mut conn = conn.clone();
    let get = |name: &'static str| redis::cmd("CONFIG").arg("GET").arg(name).clone();
    let appendonly: Result<Vec<String>, _> = get("appendonly").query_async(&mut conn).await;
    let save: Result<Vec<String>, _> = get("save").query_async(&mut conn).await;
    match (appendonly, save) {
        (Ok(a), _) if a.get(1).is_some_and(|v| v == "yes") => Persistence::Aof,
        (Ok(_), Ok(s)) if s.get(1).is_some_and(|v| !v.trim().is_empty()) => Persistence::SnapshotsOnly,
        (Ok(_), Ok(_)) => Persistence::None,
        _ => Persistence::Unknown,
    }
}
