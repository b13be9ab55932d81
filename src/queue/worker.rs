//! The worker loop: claims jobs, runs the handler with a renewed lease,
//! applies the retry policy, and drains on shutdown.
//!
//! One worker serves one queue with up to `concurrency` jobs at a time. It
//! never fails on a backend error (Redis restarting, the database briefly
//! away): it logs, backs off and carries on; jobs it held are redelivered
//! after their lease if it could not record them.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::FutureExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::QueueBackend;
use super::types::*;
use crate::batch::Batcher;
use crate::store::GateClass;

/// Runs one job attempt. Must be idempotent per `job.id`: delivery is
/// at-least-once.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn handle(&self, job: &ClaimedJob) -> Outcome;
}

/// When to retry, and when to give up.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Delay before attempt 2, 3, …; the last entry repeats.
    pub schedule: Vec<Duration>,
    /// ± this fraction of each delay, so retries of a burst spread out.
    pub jitter: f64,
}

impl RetryPolicy {
    /// Turns a handler's outcome into what the backend records.
    pub fn resolve(&self, job: &ClaimedJob, outcome: Outcome, now: i64) -> Resolution {
        match outcome {
            Outcome::Done => Resolution::Done,
            Outcome::Dead { error } => Resolution::Dead { error },
            Outcome::Defer { after } => Resolution::DeferTo { at: ms_after(now, after) },
            Outcome::Retry { error, .. } if job.attempt >= job.max_attempts => {
                Resolution::Dead { error: format!("{error} (gave up after {} attempts)", job.attempt) }
            }
            Outcome::Retry { error, after } => {
                let delay = after.unwrap_or_else(|| self.jittered(self.delay(job.attempt), job));
                Resolution::RetryAt { at: ms_after(now, delay), error }
            }
        }
    }

    /// The scheduled delay after attempt `attempt` (1-based) failed.
    pub fn delay(&self, attempt: u32) -> Duration {
        let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        self.schedule.get(index).or(self.schedule.last()).copied().unwrap_or(Duration::from_secs(1))
    }

    fn jittered(&self, delay: Duration, job: &ClaimedJob) -> Duration {
        if self.jitter <= 0.0 {
            return delay;
        }
        // A per-process random hasher gives each (job, attempt) its own offset
        // without a random-number dependency.
        let hash = std::collections::hash_map::RandomState::new().hash_one((&job.id, job.attempt));
        let unit = (hash % 2001) as f64 / 1000.0 - 1.0; // -1.0 ..= 1.0
        delay.mul_f64((1.0 + unit * self.jitter).max(0.0))
    }
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub queue: String,
    /// Jobs run at the same time.
    pub concurrency: usize,
    /// Most jobs claimed per round trip.
    pub batch: usize,
    /// How long a claimed job is ours without renewal; renewed every third.
    pub lease: Duration,
    /// Pause between claims when the queue is empty.
    pub poll_interval: Duration,
    pub retry: RetryPolicy,
    /// On shutdown, how long running jobs may finish before being released.
    pub drain_timeout: Duration,
}

pub struct Worker {
    backend: Arc<dyn QueueBackend>,
    config: WorkerConfig,
    handler: Arc<dyn Handler>,
}

/// Longest pause after consecutive backend errors.
const MAX_ERROR_BACKOFF: Duration = Duration::from_secs(5);

impl Worker {
    pub fn new(backend: Arc<dyn QueueBackend>, config: WorkerConfig, handler: Arc<dyn Handler>) -> Self {
        Self { backend, config, handler }
    }

    /// Runs until `token` is cancelled, then drains.
    pub async fn run(self, token: CancellationToken) -> anyhow::Result<()> {
        let cfg = &self.config;
        let slots = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
        let mut tasks: JoinSet<()> = JoinSet::new();
        let mut active: HashMap<tokio::task::Id, ClaimedJob> = HashMap::new();
        let mut backoff = cfg.poll_interval;
        let queue_label = cfg.queue.clone();
        let finisher = finisher(self.backend.clone());
        tracing::info!(queue = %cfg.queue, backend = self.backend.name(), concurrency = cfg.concurrency, "worker started");

        loop {
            while let Some(done) = tasks.try_join_next_with_id() {
                forget(&mut active, done);
            }
            metrics::gauge!("wag_queue_in_flight", "queue" => queue_label.clone()).set(active.len() as f64);
            if token.is_cancelled() {
                break;
            }
            let free = slots.available_permits();
            if free == 0 {
                tokio::select! {
                    () = token.cancelled() => break,
                    Some(done) = tasks.join_next_with_id() => forget(&mut active, done),
                }
                continue;
            }
            match self.backend.claim(&cfg.queue, free.min(cfg.batch.max(1)), cfg.lease).await {
                Ok(jobs) if jobs.is_empty() => {
                    backoff = cfg.poll_interval;
                    tokio::select! {
                        () = token.cancelled() => break,
                        () = tokio::time::sleep(cfg.poll_interval) => {}
                        Some(done) = tasks.join_next_with_id() => forget(&mut active, done),
                    }
                }
                Ok(jobs) => {
                    backoff = cfg.poll_interval;
                    for job in jobs {
                        let permit =
                            slots.clone().try_acquire_owned().expect("claimed no more than free slots");
                        let handle = tasks.spawn(run_one(
                            self.backend.clone(),
                            finisher.clone(),
                            self.handler.clone(),
                            cfg.retry.clone(),
                            cfg.lease,
                            job.clone(),
                            permit,
                        ));
                        active.insert(handle.id(), job);
                    }
                }
                Err(e) => {
                    metrics::counter!("wag_queue_backend_errors_total", "queue" => queue_label.clone())
                        .increment(1);
                    tracing::warn!(queue = %cfg.queue, error = %e, retry_in_ms = backoff.as_millis() as u64, "claim failed");
                    tokio::select! {
                        () = token.cancelled() => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_ERROR_BACKOFF);
                }
            }
        }
        self.drain(tasks, active).await;
        Ok(())
    }

    /// Lets running jobs finish within `drain_timeout`, then releases the rest.
    async fn drain(&self, mut tasks: JoinSet<()>, mut active: HashMap<tokio::task::Id, ClaimedJob>) {
        let running = active.len();
        if running > 0 {
            tracing::info!(queue = %self.config.queue, running, "draining worker");
        }
        let deadline = tokio::time::sleep(self.config.drain_timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                done = tasks.join_next_with_id() => match done {
                    Some(done) => forget(&mut active, done),
                    None => break,
                },
                () = &mut deadline => {
                    tasks.abort_all();
                    while tasks.join_next().await.is_some() {}
                    for job in active.values() {
                        match self.backend.release(job).await {
                            Ok(()) => tracing::info!(queue = %job.queue, job_id = %job.id, "released unfinished job"),
                            Err(e) => tracing::warn!(queue = %job.queue, job_id = %job.id, error = %e,
                                "could not release job; it will be redelivered after its lease"),
                        }
                    }
                    break;
                }
            }
        }
        metrics::gauge!("wag_queue_in_flight", "queue" => self.config.queue.clone()).set(0.0);
    }
}

fn forget(
    active: &mut HashMap<tokio::task::Id, ClaimedJob>,
    done: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
) {
    match done {
        Ok((id, ())) => {
            active.remove(&id);
        }
        Err(e) => {
            active.remove(&e.id());
        }
    }
}

/// Ends of attempts are recorded in batches: under load one transaction
/// records many jobs instead of one commit each. Recording must survive a
/// brief backend outage; if it cannot, the leases expire and the jobs run
/// again (at-least-once).
fn finisher(backend: Arc<dyn QueueBackend>) -> Batcher<(ClaimedJob, Resolution), ()> {
    let gate = backend.write_gate();
    Batcher::spawn_gated(
        "queue_finish",
        gate,
        GateClass::Background,
        move |items: Vec<(ClaimedJob, Resolution)>| {
            let backend = backend.clone();
            async move {
                let n = items.len();
                if let Err(e) = backend.finish_many(&items).await {
                    // Retried in a task of its own: the pauses must not hold the
                    // writer turn this batch holds.
                    tracing::warn!(jobs = n, error = %e, "recording job results failed; retrying");
                    tokio::spawn(async move {
                        let mut pause = Duration::from_millis(50);
                        for attempt in 2..=6 {
                            tokio::time::sleep(pause).await;
                            pause *= 2;
                            match backend.finish_many(&items).await {
                                Ok(()) => return,
                                Err(e) if attempt < 6 => {
                                    tracing::warn!(jobs = n, error = %e, "recording job results failed; retrying")
                                }
                                Err(e) => tracing::error!(jobs = n, error = %e,
                                "could not record job results; they will run again after their lease"),
                            }
                        }
                    });
                }
                vec![(); n]
            }
        },
    )
}

async fn run_one(
    backend: Arc<dyn QueueBackend>,
    finisher: Batcher<(ClaimedJob, Resolution), ()>,
    handler: Arc<dyn Handler>,
    retry: RetryPolicy,
    lease: Duration,
    job: ClaimedJob,
    _slot: OwnedSemaphorePermit,
) {
    let queue = job.queue.clone();
    let waited = (now_ms() - job.due_at).max(0) as f64 / 1000.0;
    metrics::histogram!("wag_queue_wait_seconds", "queue" => queue.clone()).record(waited);
    let started = Instant::now();

    let result = {
        let work = AssertUnwindSafe(handler.handle(&job)).catch_unwind();
        tokio::pin!(work);
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + lease / 3, lease / 3);
        loop {
            tokio::select! {
                result = &mut work => break result,
                _ = renew.tick() => match backend.extend(&job, lease).await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(queue = %queue, job_id = %job.id, "lease lost while running"),
                    Err(e) => tracing::warn!(queue = %queue, job_id = %job.id, error = %e, "lease renewal failed"),
                },
            }
        }
    };
    let outcome = result.unwrap_or_else(|_| {
        tracing::error!(queue = %queue, job_id = %job.id, "job handler panicked");
        Outcome::retry("the handler panicked")
    });
    metrics::histogram!("wag_queue_run_seconds", "queue" => queue.clone())
        .record(started.elapsed().as_secs_f64());
    let resolution = retry.resolve(&job, outcome, now_ms());
    let result_label = match &resolution {
        Resolution::Done => "done",
        Resolution::RetryAt { .. } => "retried",
        Resolution::Dead { .. } => "dead",
        Resolution::DeferTo { .. } => "deferred",
    };
    metrics::counter!("wag_queue_jobs_total", "queue" => queue.clone(), "result" => result_label)
        .increment(1);
    match &resolution {
        Resolution::Dead { error } => {
            tracing::warn!(queue = %queue, job_id = %job.id, attempt = job.attempt, error = %error, "job dead-lettered")
        }
        Resolution::RetryAt { error, at } => {
            tracing::info!(queue = %queue, job_id = %job.id, attempt = job.attempt,
            error = %error, retry_in_ms = at - now_ms(), "job will be retried")
        }
        Resolution::Done | Resolution::DeferTo { .. } => {}
    }

    // The slot is held until the result is recorded, so a drained worker
    // leaves nothing unrecorded.
    finisher.call((job, resolution)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(attempt: u32, max: u32) -> ClaimedJob {
        ClaimedJob {
            id: "j".into(),
            queue: "q".into(),
            lane: "l".into(),
            ordered: false,
            payload: serde_json::Value::Null,
            attempt,
            max_attempts: max,
            enqueued_at: 0,
            due_at: 0,
        }
    }

    fn policy(jitter: f64) -> RetryPolicy {
        RetryPolicy { schedule: vec![Duration::from_secs(5), Duration::from_secs(60)], jitter }
    }

    #[test]
    fn retries_follow_the_schedule_then_the_last_step_repeats() {
        let p = policy(0.0);
        let at = |attempt| match p.resolve(&job(attempt, 10), Outcome::retry("x"), 1_000) {
            Resolution::RetryAt { at, .. } => at,
            other => panic!("{other:?}"),
        };
        assert_eq!(at(1), 6_000);
        assert_eq!(at(2), 61_000);
        assert_eq!(at(7), 61_000);
    }

    #[test]
    fn the_last_attempt_dead_letters_with_the_error() {
        let r = policy(0.0).resolve(&job(3, 3), Outcome::retry("upstream 503"), 0);
        assert!(matches!(r, Resolution::Dead { ref error } if error.contains("upstream 503")), "{r:?}");
        assert_eq!(
            policy(0.0).resolve(&job(1, 3), Outcome::dead("bad"), 0),
            Resolution::Dead { error: "bad".into() }
        );
        assert_eq!(policy(0.0).resolve(&job(1, 3), Outcome::Done, 0), Resolution::Done);
    }

    #[test]
    fn an_explicit_delay_wins_and_jitter_stays_in_bounds() {
        let r = policy(0.5).resolve(
            &job(1, 5),
            Outcome::Retry { error: "x".into(), after: Some(Duration::from_millis(250)) },
            0,
        );
        assert_eq!(r, Resolution::RetryAt { at: 250, error: "x".into() });
        for attempt in 1..50 {
            match policy(0.2).resolve(&job(attempt.min(1), 100), Outcome::retry("x"), 0) {
                Resolution::RetryAt { at, .. } => assert!((4_000..=6_000).contains(&at), "{at}"),
                other => panic!("{other:?}"),
            }
        }
    }
}
