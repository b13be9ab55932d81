//! Health endpoints for orchestrators and humans: liveness, readiness with a
//! check per dependency, and a summary with version, uptime and memory.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{Error, ErrorResponse};
use crate::http::extract::Json;
use crate::state::{AppState, REDIS_TIMEOUT};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(summary))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Live {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: 200 while the process runs.
#[utoipa::path(get, path = "/health/live", tag = "health",
    responses((status = 200, description = "The process is alive", body = Live, example = json!({"status": "ok"}))))]
pub async fn live() -> Json<Live> {
    Json(Live { status: "ok" })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Check {
    /// `ok` or `error`.
    #[schema(example = "ok")]
    pub status: &'static str,
    #[schema(example = 1)]
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    #[schema(example = "ok")]
    pub status: &'static str,
    pub checks: BTreeMap<&'static str, Check>,
}

/// Readiness: every dependency answers. 503 names the failing checks.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = Ready,
            example = json!({"status": "ok", "checks": {"database": {"status": "ok", "latency_ms": 1}}})),
        (status = 503, description = "A dependency is failing, or the gateway is shutting down", body = ErrorResponse,
            example = json!({"error": {"code": "not_ready", "message": "failing checks: redis", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f",
                "details": {"checks": {"database": {"status": "ok", "latency_ms": 1}, "redis": {"status": "error", "latency_ms": 3000, "error": "timed out"}}}}}))))]
pub async fn ready(State(state): State<AppState>) -> Response {
    let mut checks = BTreeMap::new();
    let (db, redis, queue) = tokio::join!(check_database(&state), check_redis(&state), check_queue(&state));
    checks.insert("database", db);
    checks.insert("queue", queue);
    if let Some(redis) = redis {
        checks.insert("redis", redis);
    }
    let failing: Vec<&str> = checks.iter().filter(|(_, c)| c.status != "ok").map(|(k, _)| *k).collect();
    if state.supervisor.is_shutting_down() {
        return Error::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "the gateway is shutting down")
            .into_response();
    }
    if failing.is_empty() {
        return Json(Ready { status: "ok", checks }).into_response();
    }
    let details = serde_json::json!({ "checks": checks });
    Error::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
        format!("failing checks: {}", failing.join(", ")),
    )
    .with_details(details)
    .into_response()
}

async fn check_database(state: &AppState) -> Check {
    probe(state.store.ping()).await
}

/// One round trip to wherever jobs are kept (Redis or the database).
async fn check_queue(state: &AppState) -> Check {
    probe(async { state.queue.stats(crate::queue::QUEUES[0]).await.map(drop) }).await
}

async fn check_redis(state: &AppState) -> Option<Check> {
    let mut conn = state.redis.clone()?;
    Some(probe(async move { redis::cmd("PING").query_async::<String>(&mut conn).await.map(drop) }).await)
}

/// Runs one dependency check, bounded by `REDIS_TIMEOUT`, and times it.
async fn probe<E: std::fmt::Display>(check_fn: impl std::future::Future<Output = Result<(), E>>) -> Check {
    let started = Instant::now();
    let error = match tokio::time::timeout(REDIS_TIMEOUT, check_fn).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("timed out".to_owned()),
    };
    check(started, error)
}

fn check(started: Instant, error: Option<String>) -> Check {
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Check { status: if error.is_none() { "ok" } else { "error" }, latency_ms, error }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Summary {
    #[schema(example = "ok")]
    pub status: &'static str,
    #[schema(example = "0.1.0")]
    pub version: &'static str,
    #[schema(example = 3600)]
    pub uptime_secs: u64,
    /// Resident memory of the process, when the platform reports it.
    #[schema(example = 25165824)]
    pub memory_rss_bytes: Option<u64>,
    /// `sqlite` or `postgres`.
    #[schema(example = "sqlite")]
    pub database: &'static str,
    /// Sessions by status.
    pub sessions: BTreeMap<String, i64>,
    pub queue: QueueSummary,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueSummary {
    /// `redis`, `postgres` or `sqlite`.
    #[schema(example = "redis")]
    pub backend: &'static str,
    /// What Redis keeps across a restart: `aof`, `snapshots_only`, `none`
    /// (queued jobs would be lost) or `unknown`; absent without Redis.
    #[schema(value_type = Option<String>, example = "aof")]
    pub redis_persistence: Option<crate::queue::Persistence>,
    /// Set when the configuration can lose accepted jobs.
    pub warning: Option<&'static str>,
}

/// Summary: version, uptime, memory and sessions by status.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "Gateway summary", body = Summary,
        example = json!({"status": "ok", "version": "0.1.0", "uptime_secs": 3600, "memory_rss_bytes": 25165824,
            "database": "sqlite", "sessions": {"connected": 2}, "queue": {"backend": "sqlite", "redis_persistence": null, "warning": null}}))))]
pub async fn summary(State(state): State<AppState>) -> Result<Json<Summary>, Error> {
    let sessions = state.store.sessions.count_by_status().await?.into_iter().collect();
    Ok(Json(Summary {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        uptime_secs: state.started_at.elapsed().as_secs(),
        memory_rss_bytes: rss_bytes(),
        database: match state.store.kind {
            crate::config::DatabaseKind::Sqlite => "sqlite",
            crate::config::DatabaseKind::Postgres => "postgres",
        },
        sessions,
        queue: QueueSummary {
            backend: state.queue.name(),
            redis_persistence: state.redis_persistence.clone(),
            warning: state.redis_persistence.as_ref().and_then(|p| p.warning()),
        },
    }))
}

/// Resident set size from /proc (Linux); `None` elsewhere.
pub(crate) fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_rss_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(super::rss_bytes().unwrap() > 1024 * 1024);
        }
    }
}
