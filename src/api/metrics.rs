//! `GET /metrics`: Prometheus text format. Unprotected by the API key (as
//! scrapers expect) unless `metrics.token` is set, then it needs
//! `Authorization: Bearer <token>`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::Error;
use crate::http::auth;
use crate::state::AppState;

/// Session statuses reported so far, so vanished ones can be zeroed.
static SEEN_STATUSES: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses(
        (status = 200, description = "Prometheus text exposition format", content_type = "text/plain",
            body = String, example = "# TYPE wag_http_requests_total counter\nwag_http_requests_total{method=\"GET\",route=\"/sessions\",status=\"2xx\"} 3\n"),
        (status = 401, description = "`metrics.token` is set and was not sent", body = crate::error::ErrorResponse),
    ))]
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = &state.metrics_token;
    if token.is_configured() && !auth::bearer(&headers).is_some_and(|sent| token.matches(sent)) {
        return Error::new(
            StatusCode::UNAUTHORIZED,
            "invalid_metrics_token",
            "send metrics.token as a Bearer token",
        )
        .into_response();
    }
    sample(&state).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], crate::metrics::handle().render())
        .into_response()
}

/// Gauges read at scrape time rather than maintained continuously.
async fn sample(state: &AppState) {
    let (in_use, idle) = state.store.pool_usage();
    metrics::gauge!("wag_db_pool_connections", "state" => "in_use").set(f64::from(in_use));
    metrics::gauge!("wag_db_pool_connections", "state" => "idle").set(f64::from(idle));
    if let Ok(counts) = state.store.sessions.count_by_status().await {
        // A status nobody is in any more must read 0, not its last value.
        let mut seen = SEEN_STATUSES.lock().unwrap_or_else(|e| e.into_inner());
        for status in seen.iter() {
            if !counts.iter().any(|(s, _)| s == status) {
                metrics::gauge!("wag_sessions", "status" => status.clone()).set(0.0);
            }
        }
        for (status, n) in counts {
            metrics::gauge!("wag_sessions", "status" => status.clone()).set(n as f64);
            seen.insert(status);
        }
    }
    if let Some(rss) = crate::api::health::rss_bytes() {
        metrics::gauge!("wag_process_resident_memory_bytes").set(rss as f64);
    }
    // Linux only, like RSS: sockets and files held (a leak shows here first).
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        metrics::gauge!("wag_process_open_fds").set(fds.count() as f64);
    }
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        metrics::gauge!("wag_process_threads").set(tasks.count() as f64);
    }
    metrics::gauge!("wag_uptime_seconds").set(state.started_at.elapsed().as_secs_f64());
}
