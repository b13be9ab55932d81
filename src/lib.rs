//! wa-gateway: a self-hosted, multi-session WhatsApp HTTP gateway.
//!
//! Layout:
//! - `config`    typed configuration, loaded and validated once;
//! - `http`      request ids, error rendering, auth, extractors;
//! - `api`       one file per resource, each with its `router()`;
//! - `store`     repositories over PostgreSQL or the embedded SQLite;
//! - `wa`        the gateway's WhatsApp vocabulary (ids, messages, events);
//! - `engine`    the engine seam and the sandbox network;
//! - `sessions`  the session registry, lifecycle, reconnection and restore;
//! - `net`       outbound HTTP behind the SSRF guard;
//! - `media`     uploaded files, typed by their bytes, kept privately;
//! - `messages`  the send pipeline, delivery statuses and the message log;
//! - `webhooks`  signed, durable, retried delivery of every event;
//! - `templates` message templates and their small, safe language;
//! - `shutdown`  the supervisor owning every background task;
//! - `state`     `AppState`, handed to every handler;
//! - `cli`       the `wa-gateway` command line.
//!
//! [`run`] starts the whole gateway on a listener the caller bound, so tests
//! run the real thing on port 0.

#![forbid(unsafe_code)]
// whatsapp-rust's `Profile::set_push_name` future nests deeper than the
// default query limit (128) allows the compiler to lay out.
#![recursion_limit = "256"]

/// mimalloc instead of the system allocator: request handling allocates and
/// frees many small buffers across worker threads, where glibc's malloc
/// (`_int_malloc`, `malloc_consolidate`) was among the top symbols under load.
/// Declared in the library so the gateway, its tests and its benchmarks
/// all measure the same allocator. Built without transparent huge pages
/// (`no_thp`): with them, peak RSS under the messaging benchmark grew from
/// 73 to 110–120 MB; without, 82 MB at the same speed.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod api;
pub mod batch;
pub mod cli;
pub mod config;
pub mod contacts;
pub mod engine;
pub mod error;
pub mod http;
pub mod ids;
pub mod media;
pub mod messages;
pub mod metrics;
pub mod net;
pub mod queue;
pub mod sessions;
pub mod shutdown;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod templates;
pub mod wa;
pub mod webhooks;

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;

pub use config::Config;
pub use state::AppState;

/// Builds the state and serves until `shutdown` resolves, then drains.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = AppState::build(config).await?;
    serve(state, listener, shutdown).await
}

/// Serves an already built state. Shutdown order: stop accepting and finish
/// in-flight requests, stop background tasks, run close hooks, close the
/// pool; all within `shutdown.timeout_secs`.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr().context("listener has no address")?;
    let supervisor = state.supervisor.clone();
    let bound = state.config.shutdown_timeout();
    let store = state.store.clone();

    let token = supervisor.token();
    supervisor.spawn(
        "queue-maintenance",
        queue::maintain(
            state.queue.clone(),
            std::time::Duration::from_secs(state.config.queue.retention_secs),
            token.clone(),
        ),
    );
    if let Some(checkpointer) = store.checkpointer(token.clone()) {
        supervisor.spawn("sqlite-checkpoint", checkpointer);
    }
    tokio::spawn({
        let token = token.clone();
        async move {
            tokio::select! {
                () = shutdown => token.cancel(),
                () = token.cancelled() => {}
            }
        }
    });

    // Registered before the sessions' close hook, so it runs after it.
    start_webhook_dispatch(&state);
    start_sessions(&state);
    start_messaging(&state);
    start_webhooks(&state)?;

    let app = api::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(token.clone().cancelled_owned());
    let mut server = tokio::spawn(server.into_future());
    tracing::info!(%addr, "listening");

    let early = tokio::select! {
        () = token.cancelled() => None,
        result = &mut server => Some(result),
    };
    // The server can finish in the same instant the token fires (graceful
    // shutdown completes at once when idle); then it is done and must not be
    // awaited again below.
    let server_done = early.is_some();
    if let Some(result) = early {
        supervisor.trigger();
        result.context("server task panicked")?.context("server failed")?;
    }
    tracing::info!(bound_secs = bound.as_secs(), "shutting down");

    let drain = async {
        if !server_done && let Err(e) = server.await {
            tracing::error!(error = ?e, "server task failed while draining");
        }
        supervisor.drain().await;
        store.close().await;
    };
    match tokio::time::timeout(bound, drain).await {
        Ok(()) => {
            tracing::info!("shutdown complete");
            Ok(())
        }
        Err(_) => anyhow::bail!("shutdown did not finish within {}s", bound.as_secs()),
    }
}

/// Marks sessions left live by a crash as stopped, then restores the ones
/// that should run, in the background so the API is up meanwhile. Sessions
/// are closed by a shutdown hook, after the job workers have drained.
fn start_sessions(state: &AppState) {
    let sessions = state.sessions.clone();
    let bound = state.config.shutdown_timeout() / 2;
    state.supervisor.on_shutdown("sessions", move || async move { sessions.close(bound).await });
    let sessions = state.sessions.clone();
    let restore = state.config.sessions.restore_on_startup;
    tokio::spawn(async move {
        if let Err(e) = sessions.reset_stale().await {
            tracing::error!(error = %e, "could not reset stale session states");
        }
        if restore && let Err(e) = sessions.restore().await {
            tracing::error!(error = %e, "session restore failed");
        }
    });
}

/// The send worker and the message-log housekeeping.
fn start_messaging(state: &AppState) {
    let config = &state.config;
    let handler = messages::SendHandler {
        store: state.store.clone(),
        writer: state.log_writer.clone(),
        sessions: state.sessions.clone(),
        hub: state.sessions.hub().clone(),
        pacer: state.pacer.clone(),
        outbound: state.outbound.clone(),
        media: state.media.clone(),
        config: config.messages.clone(),
        checks: state.contact_checks.clone(),
    };
    let worker = queue::Worker::new(
        state.queue.backend().clone(),
        config.queue.worker(messages::QUEUE, config.messages.concurrency),
        std::sync::Arc::new(handler),
    );
    let token = state.supervisor.token();
    state.supervisor.spawn("messages-worker", worker.run(token.clone()));
    let repair = messages::repair::Repair {
        store: state.store.clone(),
        queue: state.queue.clone(),
        hub: state.sessions.hub().clone(),
        config: config.messages.clone(),
    };
    state.supervisor.spawn("message-repair", repair.run(token.clone()));
    let store = state.store.clone();
    let media = state.media.clone();
    let retention_days = config.messages.retention_days;
    state.supervisor.spawn("message-log-retention", async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = token.cancelled() => return Ok(()),
            }
            if retention_days > 0 {
                let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(retention_days));
                match store.message_logs.delete_before(cutoff).await {
                    Ok(n) if n > 0 => tracing::info!(deleted = n, "message log retention"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "message log retention failed"),
                }
            }
            if let Err(e) = store.idempotency.prune().await {
                tracing::warn!(error = %e, "pruning idempotency keys failed");
            }
            match media.prune().await {
                Ok(n) if n > 0 => tracing::info!(removed = n, "expired uploads removed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pruning uploads failed"),
            }
        }
    });
}

/// The webhook dispatcher (events → deliveries). It outlives the other
/// background tasks: its close hook runs last, once the workers have
/// drained and the sessions have closed, and stores the events they
/// published on the way out before the pool closes.
fn start_webhook_dispatch(state: &AppState) {
    let Some(events) = state.sessions.hub().take_durable() else {
        tracing::error!("the event stream's durable end was already taken; webhooks are not dispatched");
        return;
    };
    let dispatcher = webhooks::dispatch::Dispatcher {
        store: state.store.clone(),
        queue: state.queue.clone(),
        config: state.config.webhooks.clone(),
    };
    let finish = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(dispatcher.run(events, finish.clone()));
    state.supervisor.on_shutdown("webhook-dispatch", move || async move {
        finish.cancel();
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = ?e, "webhook dispatch failed"),
            Err(e) => tracing::error!(error = ?e, "webhook dispatch panicked"),
        }
    });
}

/// The webhook delivery worker.
fn start_webhooks(state: &AppState) -> anyhow::Result<()> {
    let config = &state.config;
    let token = state.supervisor.token();
    let handler = webhooks::deliver::DeliveryHandler::new(
        state.store.clone(),
        state.webhook_client.clone(),
        config.webhooks.clone(),
    );
    let mut worker_config = config.queue.worker(webhooks::QUEUE, config.webhooks.concurrency);
    worker_config.retry = queue::RetryPolicy {
        schedule: config
            .webhooks
            .retry_schedule_secs
            .iter()
            .map(|s| std::time::Duration::from_secs(*s))
            .collect(),
        jitter: config.webhooks.retry_jitter,
    };
    let worker =
        queue::Worker::new(state.queue.backend().clone(), worker_config, std::sync::Arc::new(handler));
    state.supervisor.spawn("webhooks-worker", worker.run(token));
    Ok(())
}
