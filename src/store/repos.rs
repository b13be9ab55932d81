//! The repository seam: what the rest of the gateway may ask of storage.
//!
//! Each trait is implemented once per backend (see `backend.rs`); callers
//! hold `Arc<dyn …Repo>` and never learn which database is underneath.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use super::models::*;

#[async_trait]
pub trait SessionRepo: Send + Sync {
    /// Fails with `StoreError::Conflict` when the id exists.
    async fn create(&self, new: &NewSession) -> StoreResult<Session>;
    async fn get(&self, id: &str) -> StoreResult<Option<Session>>;
    /// Ordered by id.
    async fn list(&self, page: &Page<String>) -> StoreResult<Vec<Session>>;
    async fn set_status(&self, id: &str, status: &str) -> StoreResult<Option<Session>>;
    /// Records the linked account (after pairing) and marks the session seen.
    async fn set_account(
        &self,
        id: &str,
        phone: Option<&str>,
        push_name: Option<&str>,
    ) -> StoreResult<Option<Session>>;
    /// Sets the status and last error and appends the audit row, atomically.
    /// `None` when the session does not exist.
    async fn transition(&self, id: &str, t: &Transition<'_>) -> StoreResult<Option<SessionEvent>>;
    /// `running` or `stopped`: what restore at startup should do.
    async fn set_desired_state(&self, id: &str, desired: &str) -> StoreResult<bool>;
    /// Sessions whose desired state is `running`, ordered by id.
    async fn list_running(&self, page: &Page<String>) -> StoreResult<Vec<Session>>;
    /// Marks activity on the connection.
    async fn touch_seen(&self, id: &str) -> StoreResult<()>;
    /// Deletes the session and, by cascade, its message logs and webhooks.
    async fn delete(&self, id: &str) -> StoreResult<bool>;
    async fn count_by_status(&self) -> StoreResult<Vec<(String, i64)>>;
}

#[async_trait]
pub trait TemplateRepo: Send + Sync {
    async fn create(&self, new: &NewTemplate) -> StoreResult<Template>;
    async fn get(&self, name: &str) -> StoreResult<Option<Template>>;
    /// Ordered by name.
    async fn list(&self, page: &Page<String>) -> StoreResult<Vec<Template>>;
    async fn update(
        &self,
        name: &str,
        content: &str,
        description: Option<&str>,
    ) -> StoreResult<Option<Template>>;
    async fn delete(&self, name: &str) -> StoreResult<bool>;
}

#[async_trait]
pub trait MessageLogRepo: Send + Sync {
    /// Fails with `Conflict` when `(session_id, message_id)` exists.
    async fn insert(&self, new: &NewMessageLog) -> StoreResult<MessageLog>;
    async fn get(&self, session_id: &str, message_id: &str) -> StoreResult<Option<MessageLog>>;
    async fn find_by_wa_id(&self, session_id: &str, wa_message_id: &str) -> StoreResult<Option<MessageLog>>;
    /// Which of `wa_message_ids` the log of `session_id` holds (any order;
    /// one query per 500 ids).
    async fn known_wa_ids(&self, session_id: &str, wa_message_ids: &[String]) -> StoreResult<Vec<String>>;
    async fn set_status(
        &self,
        session_id: &str,
        message_id: &str,
        status: &str,
        error: Option<&str>,
    ) -> StoreResult<Option<MessageLog>>;
    async fn set_wa_id(
        &self,
        session_id: &str,
        message_id: &str,
        wa_message_id: &str,
    ) -> StoreResult<Option<MessageLog>>;
    /// Newest first; `page.after` is the id of the last row already seen.
    async fn list(
        &self,
        session_id: &str,
        filter: &MessageLogFilter,
        page: &Page<i64>,
    ) -> StoreResult<Vec<MessageLog>>;
    /// Inserts unless `(session_id, message_id)` exists; true when inserted.
    async fn insert_ignore(&self, new: &NewMessageLog) -> StoreResult<bool>;
    /// Records the send: `queued` becomes `sent` (a receipt that came first
    /// is kept), the WhatsApp id and `sent_at` are set. Not after `failed`.
    async fn mark_sent(
        &self,
        session_id: &str,
        message_id: &str,
        wa_message_id: &str,
    ) -> StoreResult<Option<MessageLog>>;
    /// `queued` becomes `failed` with the reason.
    async fn mark_failed(
        &self,
        session_id: &str,
        message_id: &str,
        error: &str,
    ) -> StoreResult<Option<MessageLog>>;
    /// Applies a receipt (`delivered`, `read`, `played`) to the outgoing
    /// message with this WhatsApp id, only if it moves the status forward.
    /// `None` when nothing changed.
    async fn advance(
        &self,
        session_id: &str,
        wa_message_id: &str,
        step: &str,
    ) -> StoreResult<Option<MessageLog>>;
    /// Batched forms for group commit: one transaction for many rows.
    /// `insert_ignore` for each row; returns how many were inserted.
    async fn insert_many_ignore(&self, rows: &[NewMessageLog]) -> StoreResult<u64>;
    /// `mark_sent` for each `(session_id, message_id, wa_message_id)`.
    async fn mark_sent_many(&self, rows: &[(String, String, String)])
    -> StoreResult<Vec<Option<MessageLog>>>;
    /// `advance` for each `(session_id, wa_message_id, step)`, applied in
    /// step order (delivered, read, played) whatever the order given.
    async fn advance_many(
        &self,
        rows: &[(String, String, &'static str)],
    ) -> StoreResult<Vec<Option<MessageLog>>>;
    /// `mark_sent_many(sent)` then `advance_many(receipts)` in one
    /// transaction: a message's progress usually arrives together.
    async fn record_progress(
        &self,
        sent: &[(String, String, String)],
        receipts: &[(String, String, &'static str)],
    ) -> StoreResult<(Vec<Option<MessageLog>>, Vec<Option<MessageLog>>)>;
    /// One row per chat: its newest message and how many received messages
    /// are not read yet. Newest chat first; `page.after` is the row id of
    /// the newest message of the last chat already seen.
    async fn chats(&self, session_id: &str, page: &Page<i64>) -> StoreResult<Vec<ChatSummary>>;
    /// Received messages of a chat not marked read yet, oldest first:
    /// (WhatsApp id, sender in groups).
    async fn unread(
        &self,
        session_id: &str,
        chat_jid: &str,
        limit: i64,
    ) -> StoreResult<Vec<(String, Option<String>)>>;
    /// Marks these received messages of a chat read; how many changed.
    async fn mark_read(&self, session_id: &str, chat_jid: &str, wa_ids: &[String]) -> StoreResult<u64>;
    /// Remembers how to download a received message's media (its log row
    /// must exist); replaces an earlier handle.
    async fn put_media_handle(&self, session_id: &str, message_id: &str, handle: &str) -> StoreResult<()>;
    async fn media_handle(&self, session_id: &str, message_id: &str) -> StoreResult<Option<String>>;
    /// Outgoing rows in `status` (`queued` or `sent`: no other status is
    /// waiting) since before `before` and sent again fewer
    /// than `max_resends` times, with `id > after_id`, in id order:
    /// (id, session_id, message_id).
    async fn stale_outgoing(
        &self,
        status: &str,
        before: DateTime<Utc>,
        max_resends: i32,
        after_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<(i64, String, String)>>;
    /// The messages of a batch, in the order they were given.
    async fn list_batch(&self, session_id: &str, batch_id: &str) -> StoreResult<Vec<MessageLog>>;
    /// A session's scheduled messages not sent yet, in id order.
    async fn list_scheduled(&self, session_id: &str, page: &Page<i64>) -> StoreResult<Vec<MessageLog>>;
    /// Counts one more resend (and restarts the row's clock).
    async fn count_resend(&self, session_id: &str, message_id: &str) -> StoreResult<()>;
    /// Outgoing messages of a session waiting to be sent.
    async fn count_queued(&self, session_id: &str) -> StoreResult<i64>;
    /// Retention: removes logs created before `cutoff` except those of
    /// messages not sent yet (`queued`), returns how many.
    async fn delete_before(&self, cutoff: DateTime<Utc>) -> StoreResult<u64>;
}

#[async_trait]
pub trait WebhookRepo: Send + Sync {
    async fn create(&self, new: &NewWebhook) -> StoreResult<Webhook>;
    async fn get(&self, session_id: &str, id: &str) -> StoreResult<Option<Webhook>>;
    /// Ordered by creation.
    async fn list(&self, session_id: &str) -> StoreResult<Vec<Webhook>>;
    async fn update(&self, session_id: &str, id: &str, patch: &WebhookPatch) -> StoreResult<Option<Webhook>>;
    async fn delete(&self, session_id: &str, id: &str) -> StoreResult<bool>;
}

#[async_trait]
pub trait WebhookDeliveryRepo: Send + Sync {
    async fn create(&self, new: &NewWebhookDelivery) -> StoreResult<WebhookDelivery>;
    async fn get(&self, id: i64) -> StoreResult<Option<WebhookDelivery>>;
    /// Counts the attempt and records its outcome.
    async fn record_attempt(
        &self,
        id: i64,
        attempt: &DeliveryAttempt,
    ) -> StoreResult<Option<WebhookDelivery>>;
    /// Newest first.
    async fn list(&self, filter: &DeliveryFilter, page: &Page<i64>) -> StoreResult<Vec<WebhookDelivery>>;
    /// Many deliveries in one transaction; (id, webhook id) of each, in no
    /// particular order.
    async fn create_many(&self, new: &[NewWebhookDelivery]) -> StoreResult<Vec<(i64, Option<String>)>>;
    /// Stores attempts and applies their outcomes (as `record_attempt`), all
    /// in one transaction.
    async fn record_attempts_logged(&self, items: &[(NewWebhookAttempt, DeliveryAttempt)])
    -> StoreResult<()>;
    /// Oldest first.
    async fn attempts(&self, delivery_id: i64) -> StoreResult<Vec<WebhookAttempt>>;
    /// Back to `pending` for a replay; false when the delivery does not exist.
    async fn reset(&self, id: i64) -> StoreResult<bool>;
    /// (id, webhook id) of pending deliveries never attempted and created
    /// before `before`, oldest first.
    async fn unattempted_before(
        &self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<(i64, Option<String>)>>;
    /// Ids of a session's dead deliveries created in `[from, to)`, oldest first.
    async fn dead_between(
        &self,
        session_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<i64>>;
}

#[async_trait]
pub trait SessionEventRepo: Send + Sync {
    async fn append(
        &self,
        session_id: &str,
        event_type: &str,
        details: &serde_json::Value,
    ) -> StoreResult<SessionEvent>;
    /// Newest first.
    async fn list(&self, session_id: &str, page: &Page<i64>) -> StoreResult<Vec<SessionEvent>>;
}

/// Idempotency keys of send requests.
#[async_trait]
pub trait IdempotencyRepo: Send + Sync {
    /// Claims `key` for `message_id` unless a live (unexpired) claim exists.
    async fn reserve(
        &self,
        session_id: &str,
        key: &str,
        request_hash: &str,
        message_id: &str,
        ttl: std::time::Duration,
    ) -> StoreResult<Reservation>;
    /// Removes expired keys; returns how many.
    async fn prune(&self) -> StoreResult<u64>;
}

/// Engine credentials, one row per linked session.
#[async_trait]
pub trait CredentialRepo: Send + Sync {
    async fn get(&self, session_id: &str) -> StoreResult<Option<Credentials>>;
    /// Inserts or replaces. Fails with `MissingReference` for an unknown session.
    async fn put(&self, session_id: &str, engine: &str, data: &serde_json::Value) -> StoreResult<()>;
    async fn delete(&self, session_id: &str) -> StoreResult<bool>;
}

/// Liveness of the database itself, for `/health/ready`.
#[async_trait]
pub trait Probe: Send + Sync {
    async fn ping(&self) -> StoreResult<()>;
}
