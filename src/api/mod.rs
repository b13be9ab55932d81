//! The HTTP API: one module per resource, each exposing `router()`; this file
//! only merges them and applies the layers every route shares.
//!
//! Layers, outermost first: request id + error rendering + access log,
//! HTTP metrics, panic catcher, timeout, body limit; protected routes add
//! the API key.

mod batches;
mod calls;
mod chat_settings;
mod chats;
mod contacts;
mod docs;
mod group_admin;
mod groups;
pub(crate) mod health;
mod labels;
mod media;
mod messages;
mod metrics;
mod pagination;
mod polls;
mod profile;
mod sandbox;
mod schedule;
mod session_control;
mod sessions;
mod status;
mod templates;
mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use crate::error::Error;
use crate::http::{auth, request_id};
use crate::state::AppState;

pub use docs::openapi;

/// The complete application router.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .merge(sessions::router())
        .merge(session_control::router())
        .merge(sandbox::router())
        .merge(messages::router(state.config.messages.max_request_bytes))
        .merge(webhooks::router())
        .merge(templates::router())
        .merge(contacts::router())
        .merge(groups::router())
        .merge(group_admin::router())
        .merge(chats::router())
        .merge(chat_settings::router())
        .merge(labels::router())
        .merge(calls::router())
        .merge(polls::router())
        .merge(profile::router())
        .merge(media::router(state.config.media.max_bytes))
        .merge(schedule::router(state.config.messages.max_request_bytes))
        .merge(batches::router(state.config.messages.max_request_bytes))
        .merge(status::router(state.config.messages.max_request_bytes))
        .route_layer(middleware::from_fn_with_state(state.api_key.clone(), auth::require_api_key));
    let public = Router::new().merge(health::router()).merge(metrics::router()).merge(docs::router());

    Router::new()
        .merge(public)
        .merge(protected)
        .fallback(not_found)
        .with_state(state.clone())
        .layer(DefaultBodyLimit::max(state.config.server.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, state.config.request_timeout()))
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn(crate::metrics::track_http))
        .layer(middleware::from_fn_with_state(
            request_id::Sampling::every(state.config.log.request_sample),
            request_id::middleware,
        ))
}

async fn not_found() -> Error {
    Error::not_found("not_found", "no route matches this path")
}
