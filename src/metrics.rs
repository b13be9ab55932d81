//! Prometheus metrics: the process-wide recorder, HTTP request metrics, and
//! gauges sampled when `/metrics` is scraped.
//!
//! Subsystems record with the `metrics` macros (`wag_queue_*` in the queue,
//! `wag_http_*` here); this module installs one recorder per process and
//! renders the text format. HTTP metrics are labelled by route pattern
//! (`/sessions/{id}`), never by raw path, so cardinality stays bounded.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// How a metric is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every metric the gateway exports, with its help text. A test checks that
/// every `wag_` name recorded in the code is listed here (so each has a
/// `# HELP` line, which `promtool check metrics` demands) and that the
/// Grafana dashboard uses no other name.
pub const CATALOGUE: &[(&str, Kind, &str)] = &[
    ("wag_build_info", Kind::Gauge, "Always 1; the version label names the running build."),
    ("wag_uptime_seconds", Kind::Gauge, "Seconds since the process started."),
    ("wag_process_resident_memory_bytes", Kind::Gauge, "Resident memory of the process."),
    ("wag_process_open_fds", Kind::Gauge, "Open file descriptors (sockets included)."),
    ("wag_process_threads", Kind::Gauge, "OS threads of the process."),
    ("wag_http_requests_total", Kind::Counter, "HTTP requests by route pattern, method and status class."),
    (
        "wag_http_request_duration_seconds",
        Kind::Histogram,
        "HTTP request latency by route pattern and method.",
    ),
    ("wag_db_pool_connections", Kind::Gauge, "Database pool connections by state (in_use, idle)."),
    ("wag_sessions", Kind::Gauge, "Sessions by stored status."),
    ("wag_sessions_running", Kind::Gauge, "Sessions with a live task in this process."),
    ("wag_session_transitions_total", Kind::Counter, "Session status changes by new status."),
    ("wag_session_connect_attempts_total", Kind::Counter, "Connection attempts by engine and outcome."),
    ("wag_session_reconnects_total", Kind::Counter, "Connections re-established after a loss."),
    ("wag_session_restore_seconds", Kind::Histogram, "Time to restore the running sessions at startup."),
    ("wag_events_published_total", Kind::Counter, "Gateway events published, by event type."),
    (
        "wag_messages_total",
        Kind::Counter,
        "Outgoing messages by result (queued, sent, failed, cancelled, …).",
    ),
    ("wag_messages_received_total", Kind::Counter, "Incoming messages logged, by type (text, image, …)."),
    ("wag_message_receipts_total", Kind::Counter, "Receipts applied to outgoing messages, by status."),
    ("wag_message_send_seconds", Kind::Histogram, "Time WhatsApp took to accept a send."),
    ("wag_message_resends_total", Kind::Counter, "Messages stuck at sent and queued again."),
    (
        "wag_message_orphans_total",
        Kind::Counter,
        "Queued messages without a job, failed by the repair sweep.",
    ),
    (
        "wag_idempotent_replays_total",
        Kind::Counter,
        "Sends answered from an earlier request with the same Idempotency-Key.",
    ),
    (
        "wag_sqlite_checkpoints_total",
        Kind::Counter,
        "SQLite WAL checkpoints run in the background, by mode (passive: beside writers; finish: in a writer turn, to let the WAL start over).",
    ),
    (
        "wag_sqlite_checkpoint_seconds",
        Kind::Histogram,
        "Duration of a background SQLite WAL checkpoint, by mode.",
    ),
    ("wag_sqlite_wal_frames", Kind::Gauge, "Pages in the SQLite WAL at the last checkpoint."),
    (
        "wag_db_write_gate_wait_seconds",
        Kind::Histogram,
        "Time a write waited for its turn at the SQLite writer gate, by class (intake, background).",
    ),
    ("wag_write_batch_size", Kind::Histogram, "Rows per group-committed write batch, by kind."),
    (
        "wag_write_batch_duration_seconds",
        Kind::Histogram,
        "Time to write one group-committed batch (its callers wait this long), by kind.",
    ),
    ("wag_media_uploads_total", Kind::Counter, "Media files uploaded."),
    ("wag_contact_checks_total", Kind::Counter, "Numbers checked, by source (engine or cache)."),
    ("wag_label_changes_total", Kind::Counter, "Label changes recorded, by source (api, phone)."),
    ("wag_contact_updates_total", Kind::Counter, "Contacts' names changed, by source (api, phone, message)."),
    (
        "wag_calls_total",
        Kind::Counter,
        "Incoming calls by outcome (received, rejected, reject_failed, missed, answered_elsewhere, rejected_elsewhere).",
    ),
    (
        "wag_poll_votes_total",
        Kind::Counter,
        "Poll votes received, by outcome (recorded, stale, unknown_poll, failed).",
    ),
    (
        "wag_poll_votes_read_total",
        Kind::Counter,
        "Poll votes the WhatsApp engine decrypted (read) or could not (unreadable).",
    ),
    ("wag_queue_jobs", Kind::Gauge, "Jobs by queue and state (queued, running, dead, …)."),
    ("wag_queue_jobs_total", Kind::Counter, "Finished job attempts by queue and result."),
    ("wag_queue_in_flight", Kind::Gauge, "Jobs running now, by queue."),
    ("wag_queue_wait_seconds", Kind::Histogram, "Time from a job being due to it starting, by queue."),
    ("wag_queue_run_seconds", Kind::Histogram, "Job run time, by queue."),
    ("wag_queue_backend_errors_total", Kind::Counter, "Queue backend errors, by queue."),
    (
        "wag_webhook_deliveries_total",
        Kind::Counter,
        "Webhook delivery attempts by result (delivered, retry, dead, …).",
    ),
    ("wag_webhook_delivery_seconds", Kind::Histogram, "Webhook receiver response time."),
    (
        "wag_webhook_deliveries_requeued_total",
        Kind::Counter,
        "Deliveries queued again after their job was lost.",
    ),
    ("wag_event_backlog", Kind::Gauge, "Events published and not yet taken by the webhook dispatcher."),
    (
        "wag_webhook_dispatch_seconds",
        Kind::Histogram,
        "Time to turn one batch of events into stored and queued deliveries.",
    ),
    (
        "wag_webhook_dispatch_retries_total",
        Kind::Counter,
        "Failed attempts at storing or queueing a batch of deliveries (each is retried).",
    ),
];

/// Registers the help text of every metric with the recorder.
fn describe() {
    for &(name, kind, help) in CATALOGUE {
        match kind {
            Kind::Counter => metrics::describe_counter!(name, help),
            Kind::Gauge => metrics::describe_gauge!(name, help),
            Kind::Histogram => metrics::describe_histogram!(name, help),
        }
    }
}

/// Latency buckets in seconds: 1 ms to 30 s.
const LATENCY_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Queue wait buckets in seconds: 10 ms to 1 day.
const WAIT_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0, 3600.0, 86400.0];

/// The process's recorder handle, installing the recorder on first use.
/// Tests start several gateways in one process; they share it.
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full("wag_queue_run_seconds".into()), LATENCY_BUCKETS)
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full("wag_queue_wait_seconds".into()), WAIT_BUCKETS)
                })
                .expect("static bucket lists are non-empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
            }
            describe();
            metrics::gauge!("wag_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            handle
        })
        .clone()
}

/// Records every request's count and latency by route pattern.
pub async fn track_http(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let res = next.run(req).await;
    let class = match res.status().as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::counter!("wag_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => class)
        .increment(1);
    metrics::histogram!("wag_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    res
}
