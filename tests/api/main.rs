//! The HTTP API, end to end: the real gateway on port 0 over real HTTP.

#[path = "../support/mod.rs"]
mod support;

#[path = "../sessions/helpers.rs"]
#[allow(dead_code)]
mod helpers;

mod auth;
mod docs;
mod errors;
mod health;
mod metrics;
mod observability;
mod sessions;
