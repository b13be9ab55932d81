//! Messaging: the durable send pipeline, delivery-status tracking and the
//! message log.
//!
//! A send request is validated into a [`SendJob`] (plain JSON, so it can
//! wait in any queue backend), logged as `queued`, and queued on the
//! `messages` queue in the lane of its chat (one chat's messages leave in
//! order). The [`SendHandler`] paces each session, resolves media, sends
//! through the session's engine with a WhatsApp id derived from the message
//! id (a re-run after a crash is the same message to WhatsApp), and records
//! `sent` or `failed`. Receipts and incoming messages arrive through the
//! [`Tracker`], which moves statuses forward only.
//!
//! Layout: `request.rs` the API body and its validation; `job.rs` the queued
//! form and its conversion to the engine's message; `outgoing.rs` a new
//! message's log row and job; `send.rs` the handler;
//! `pacing.rs` per-session rate limits; `tracker.rs` receipts and incoming
//! messages; `polls.rs` polls, votes and their tally; `chat_settings.rs`
//! archived, pinned and muted chats; `labels.rs` labels on chats; `writer.rs` group commit of log rows
//! and jobs; `repair.rs` resends of messages stuck at `sent` and orphaned
//! rows; `ids.rs` message ids.

pub mod chat_settings;
pub mod ids;
pub mod job;
pub mod labels;
pub mod outgoing;
pub mod pacing;
pub mod polls;
pub mod repair;
pub mod request;
pub mod send;
pub mod tracker;
pub mod writer;

pub use job::{Draft, SendJob};
pub use send::SendHandler;
pub use tracker::Tracker;
pub use writer::LogWriter;

/// The queue sends run on.
pub const QUEUE: &str = "messages";
