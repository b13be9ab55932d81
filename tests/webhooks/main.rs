//! Webhooks end to end: a real local receiver, signatures verified with an
//! independent Standard Webhooks implementation, retries, dead letters,
//! replays and the URL guard.

#[path = "../support/mod.rs"]
mod support;

#[path = "../sessions/helpers.rs"]
#[allow(dead_code)]
mod helpers;

mod burst;
mod delivery;
mod receiver;
