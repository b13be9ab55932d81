//! The queue's vocabulary: jobs going in, jobs coming out, their states.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// Milliseconds since the Unix epoch: the queue's only clock unit, identical
/// in SQL columns and Redis scores.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub fn ms_after(base: i64, d: Duration) -> i64 {
    base.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub fn to_datetime(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue backend unavailable: {0}")]
    Unavailable(String),
    #[error("queue backend error: {0}")]
    Backend(String),
}

pub type QueueResult<T> = Result<T, QueueError>;

impl From<sqlx::Error> for QueueError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                QueueError::Unavailable(e.to_string())
            }
            other => QueueError::Backend(other.to_string()),
        }
    }
}

impl From<::redis::RedisError> for QueueError {
    fn from(e: ::redis::RedisError) -> Self {
        if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_connection_refusal() {
            QueueError::Unavailable(e.to_string())
        } else {
            QueueError::Backend(e.to_string())
        }
    }
}

/// A job to add.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Stable id; reusing it makes the enqueue idempotent. Generated when None.
    pub id: Option<String>,
    pub queue: String,
    /// Fairness and ordering group, e.g. the session id.
    pub lane: String,
    /// Run this lane's jobs one at a time, in enqueue order. All jobs of a
    /// queue are ordered or all are not (`Queue` refuses a mix).
    pub ordered: bool,
    pub payload: Value,
    /// Not before this time (ms); None = now.
    pub run_at: Option<i64>,
    /// Attempts before dead-lettering; None = the worker's retry policy.
    pub max_attempts: Option<u32>,
    /// Refuses a second active (queued or running) job with the same key.
    pub dedupe_key: Option<String>,
}

impl NewJob {
    pub fn new(queue: impl Into<String>, lane: impl Into<String>, payload: Value) -> Self {
        Self {
            id: None,
            queue: queue.into(),
            lane: lane.into(),
            ordered: false,
            payload,
            run_at: None,
            max_attempts: None,
            dedupe_key: None,
        }
    }

    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    pub fn ordered(mut self) -> Self {
        self.ordered = true;
        self
    }

    pub fn run_at(mut self, ms: i64) -> Self {
        self.run_at = Some(ms);
        self
    }

    pub fn delay(self, d: Duration) -> Self {
        self.run_at(ms_after(now_ms(), d))
    }

    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = Some(n);
        self
    }

    pub fn dedupe(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }

    pub(crate) fn resolved_id(&self) -> String {
        self.id.clone().unwrap_or_else(|| format!("job_{}", uuid::Uuid::now_v7().simple()))
    }
}

/// Attempts used when neither the job nor the caller says.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;

/// The result of adding one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    Created(String),
    /// Already there (same id, or same dedupe key while active): nothing added.
    Existing(String),
}

impl Enqueued {
    pub fn id(&self) -> &str {
        match self {
            Enqueued::Created(id) | Enqueued::Existing(id) => id,
        }
    }
}

/// A job handed to a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub id: String,
    pub queue: String,
    pub lane: String,
    /// Whether the lane runs one job at a time.
    pub ordered: bool,
    pub payload: Value,
    /// This attempt's number, starting at 1.
    pub attempt: u32,
    pub max_attempts: u32,
    /// When the job was enqueued (ms).
    pub enqueued_at: i64,
    /// When it was due to run (ms); `now - due_at` is the queueing delay.
    pub due_at: i64,
}

/// How an attempt ended, as the handler sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    /// Try again, after `after` or the retry schedule's next delay.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// Give up now.
    Dead {
        error: String,
    },
    /// Not now, and not a failure: run again after `after` without
    /// counting this attempt (rate limits, pacing).
    Defer {
        after: Duration,
    },
}

impl Outcome {
    pub fn retry(error: impl Into<String>) -> Self {
        Outcome::Retry { error: error.into(), after: None }
    }

    pub fn dead(error: impl Into<String>) -> Self {
        Outcome::Dead { error: error.into() }
    }
}

/// How an attempt ended, as the backend records it (the worker applies the
/// retry policy to turn an `Outcome` into this).
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    Done,
    RetryAt {
        at: i64,
        error: String,
    },
    Dead {
        error: String,
    },
    /// Back to the queue until `at`, the attempt uncounted.
    DeferTo {
        at: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting; `run_at` may be in the future (scheduled or retrying).
    Queued,
    Running,
    Done,
    Dead,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "done" => JobState::Done,
            "dead" => JobState::Dead,
            "cancelled" => JobState::Cancelled,
            _ => return None,
        })
    }
}

/// Everything known about a job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRecord {
    pub id: String,
    pub queue: String,
    pub lane: String,
    pub ordered: bool,
    pub payload: Value,
    pub state: JobState,
    pub attempts: u32,
    pub max_attempts: u32,
    /// When it runs next (queued) or was due (otherwise), ms.
    pub due_at: i64,
    pub last_error: Option<String>,
    pub enqueued_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelResult {
    Cancelled,
    /// Already started: it can no longer be cancelled.
    Running,
    /// Already done, dead or cancelled.
    Finished,
    NotFound,
}

/// A queue's size, for metrics and health.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// Queued and due now.
    pub ready: u64,
    /// Queued for later (scheduled or waiting for a retry).
    pub delayed: u64,
    pub running: u64,
    pub dead: u64,
}
