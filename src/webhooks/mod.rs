//! Webhooks: every gateway event, delivered to the subscribed URLs, signed
//! to the Standard Webhooks specification, durable, retried, dead-lettered
//! and replayable.
//!
//! The dispatcher turns each event into one `webhook_deliveries` row and one
//! job on the `webhooks` queue per matching subscription (per-session ones
//! plus the global one from config); the delivery handler POSTs the signed
//! envelope `{id, type, timestamp, session_id, request_id, data}` and
//! records every attempt.
//!
//! Layout: `signing.rs` signatures; `guard.rs` which receiver URLs are
//! allowed; `dispatch.rs` events → deliveries; `deliver.rs` the queue handler.

pub mod deliver;
pub mod dispatch;
pub mod guard;
pub mod signing;

/// The queue deliveries run on.
pub const QUEUE: &str = "webhooks";

/// Whether a subscription's event filter takes `event`: exact names, `*`
/// for everything, `prefix.*` for a family (`group.*`).
pub fn matches(filters: &[String], event: &str) -> bool {
    filters.iter().any(|f| {
        f == "*"
            || f == event
            || f.strip_suffix(".*").is_some_and(|p| event.strip_prefix(p).is_some_and(|r| r.starts_with('.')))
    })
}

/// Events a subscription can name (besides `*` and `family.*`).
pub const CATALOGUE: &[&str] = &[
    "session.status",
    "session.failed",
    "session.qr",
    "session.paired",
    "session.pair_failed",
    "message.received",
    "message.sent",
    "message.reaction",
    "message.poll_vote",
    "message.status",
    "message.ack",
    "message.edited",
    "message.revoked",
    "group.updated",
    "group.participants",
    "chat.state",
    "chat.updated",
    "contact.updated",
    "label.updated",
    "chat.labels",
    "presence.update",
    "session.push_name",
];

#[cfg(test)]
mod tests {
    #[test]
    fn filters() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(super::matches(&f(&["*"]), "message.status"));
        assert!(super::matches(&f(&["message.*"]), "message.status"));
        assert!(!super::matches(&f(&["message.*"]), "messages.x"));
        assert!(!super::matches(&f(&["message.*"]), "message"));
        assert!(super::matches(&f(&["session.failed", "group.*"]), "group.updated"));
        assert!(!super::matches(&f(&["session.failed"]), "session.status"));
    }
}
