//! Messaging end to end on the sandbox: the send pipeline, delivery
//! statuses, idempotency, media, pacing and the message log.

#[path = "../support/mod.rs"]
mod support;

#[path = "../sessions/helpers.rs"]
#[allow(dead_code)]
mod helpers;

mod address_book;
mod batches;
mod calls;
mod chat_settings;
mod chats;
mod contacts;
mod group_admin;
mod groups;
mod labels;
mod log;
mod media;
mod poll_votes;
mod polls;
mod profile;
mod repair;
mod schedule;
mod send;
mod status;
mod templates;
mod uploads;
