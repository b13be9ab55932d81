//! Repairs what lost receipts and crashes leave in the message log.
//!
//! - **Stuck at `sent`.** WhatsApp never confirmed delivery (the receipt was
//!   lost, or the recipient's phone never got the message). After
//!   `messages.resend_after_secs` the message is sent again, up to
//!   `messages.max_resends` times, with the same WhatsApp id: the
//!   recipient's client treats it as the same message, and the sender gets
//!   its receipts again. The resend is queued in the chat's lane, so it keeps
//!   the chat's order with later messages.
//! - **Orphaned `queued` rows.** With the Redis queue, a crash after a
//!   message's row was written but before its job was queued leaves a row
//!   that will never be sent (a database queue commits both at once); the
//!   client never saw a 202 for it (the answer waits for both). Such a row
//!   (no job after `ORPHAN_AFTER`) is marked failed, so it stops counting as
//!   queued.
//!
//! Both need the message's job: a resend reuses its payload, which the queue
//! keeps for `queue.retention_secs` after the job finished.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::QUEUE;
use super::tracker::status_event;
use crate::config::MessagesConfig;
use crate::queue::{Enqueued, NewJob, Queue};
use crate::sessions::EventHub;
use crate::store::Store;

/// A queued row older than this without a job is an orphan.
pub const ORPHAN_AFTER: Duration = Duration::from_secs(600);
/// Rows looked at per sweep and kind.
const SWEEP_LIMIT: i64 = 500;

pub struct Repair {
    pub store: Store,
    pub queue: Queue,
    pub hub: EventHub,
    pub config: MessagesConfig,
}

impl Repair {
    /// Sweeps every minute (sooner when `resend_after_secs` is shorter)
    /// until `token` is cancelled.
    pub async fn run(self, token: CancellationToken) -> anyhow::Result<()> {
        let resend_after = Duration::from_secs(self.config.resend_after_secs);
        let period = if resend_after.is_zero() { Duration::from_secs(60) } else { resend_after };
        let mut tick = tokio::time::interval(period.clamp(Duration::from_secs(1), Duration::from_secs(60)));
        let mut orphan_cursor = 0;
        loop {
            tokio::select! {
                () = token.cancelled() => return Ok(()),
                _ = tick.tick() => {}
            }
            if !resend_after.is_zero()
                && let Err(e) = self.resend_stuck(resend_after).await
            {
                tracing::warn!(error = %e, "could not resend stuck messages");
            }
            match self.fail_orphans(ORPHAN_AFTER, orphan_cursor).await {
                Ok((_, next)) => orphan_cursor = next,
                Err(e) => tracing::warn!(error = %e, "could not check for orphaned messages"),
            }
        }
    }

    /// Queues a resend of each message at `sent` for longer than
    /// `older_than`; returns how many were queued.
    pub async fn resend_stuck(&self, older_than: Duration) -> anyhow::Result<usize> {
        let before = chrono::Utc::now() - chrono::Duration::from_std(older_than)?;
        let max = i32::try_from(self.config.max_resends).unwrap_or(i32::MAX);
        let rows = self.store.message_logs.stale_outgoing("sent", before, max, 0, SWEEP_LIMIT).await?;
        let mut queued = 0;
        for (_, session, message_id) in rows {
            // Counted first: a message whose job is gone is not looked at again
            // before its next turn, and never more than `max_resends` times.
            self.store.message_logs.count_resend(&session, &message_id).await?;
            let Some(job) = self.queue.get(QUEUE, &message_id).await? else {
                tracing::info!(session, message_id, "no resend: the message's job is no longer kept");
                continue;
            };
            let mut payload = job.payload;
            payload["resend"] = serde_json::Value::Bool(true);
            let resend = NewJob::new(QUEUE, job.lane, payload)
                .id(format!("{message_id}~resend~{}", uuid::Uuid::now_v7().simple()))
                .ordered()
                .max_attempts(self.config.max_attempts);
            if let Enqueued::Created(_) = self.queue.enqueue(resend).await? {
                queued += 1;
            }
        }
        if queued > 0 {
            metrics::counter!("wag_message_resends_total").increment(queued as u64);
            tracing::info!(queued, "resending messages without a delivery receipt");
        }
        Ok(queued)
    }

    /// Marks failed the queued rows older than `older_than` that have no job,
    /// looking at rows after `cursor`; returns (how many, the next cursor).
    pub async fn fail_orphans(&self, older_than: Duration, cursor: i64) -> anyhow::Result<(usize, i64)> {
        let before = chrono::Utc::now() - chrono::Duration::from_std(older_than)?;
        let rows =
            self.store.message_logs.stale_outgoing("queued", before, i32::MAX, cursor, SWEEP_LIMIT).await?;
        // Next time: after the rows seen now, or from the start when done.
        let next = if rows.len() < SWEEP_LIMIT as usize { 0 } else { rows.last().map_or(0, |r| r.0) };
        let mut failed = 0;
        for (_, session, message_id) in rows {
            if self.queue.get(QUEUE, &message_id).await?.is_some() {
                continue; // waiting its turn (a disconnected session, pacing)
            }
            let reason = "never queued: the gateway stopped before accepting it (no 202 was sent)";
            if let Some(log) = self.store.message_logs.mark_failed(&session, &message_id, reason).await? {
                failed += 1;
                self.hub.publish_with(&session, "message.status", status_event(&log), log.request_id.clone());
            }
        }
        if failed > 0 {
            metrics::counter!("wag_message_orphans_total").increment(failed as u64);
            tracing::warn!(failed, "marked orphaned messages failed");
        }
        Ok((failed, next))
    }
}
