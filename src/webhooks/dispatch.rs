//! Events → deliveries: one row and one queued job per matching subscription.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_util::sync::CancellationToken;

use super::{QUEUE, matches};
use crate::config::WebhooksConfig;
use crate::queue::{NewJob, Queue};
use crate::sessions::{EventHub, GatewayEvent};
use crate::store::{NewWebhookDelivery, Store, Webhook};

/// The body every receiver gets.
pub fn envelope(event: &GatewayEvent) -> Value {
    json!({
        "id": event.id,
        "type": event.event,
        "timestamp": event.timestamp,
        "session_id": event.session_id,
        "request_id": event.request_id,
        "data": event.data,
    })
}

/// Events taken from the stream at once.
const MAX_BATCH: usize = 256;
/// How long a session's subscriptions are reused before reading them again:
/// changes apply within this time.
const CACHE_TTL: Duration = Duration::from_secs(1);

/// Subscriptions per session, read at most once per `CACHE_TTL`.
#[derive(Default)]
struct Subscriptions(HashMap<String, (Instant, Arc<Vec<Webhook>>)>);

impl Subscriptions {
    async fn get(&mut self, store: &Store, session: &str) -> Arc<Vec<Webhook>> {
        if let Some((at, hooks)) = self.0.get(session)
            && at.elapsed() < CACHE_TTL
        {
            return hooks.clone();
        }
        let hooks = match store.webhooks.list(session).await {
            Ok(hooks) => Arc::new(hooks),
            Err(e) => {
                tracing::warn!(session, error = %e, "could not load webhooks");
                return Arc::new(Vec::new());
            }
        };
        if self.0.len() > 10_000 {
            self.0.clear();
        }
        self.0.insert(session.to_owned(), (Instant::now(), hooks.clone()));
        hooks
    }
}

pub struct Dispatcher {
    pub store: Store,
    pub queue: Queue,
    pub config: WebhooksConfig,
}

/// The event stream dropped `missed` events this dispatcher was too slow for.
fn skipped(missed: u64) {
    metrics::counter!("wag_webhook_events_missed_total").increment(missed);
    tracing::error!(missed, "webhook dispatch fell behind the event stream; events were skipped");
}

impl Dispatcher {
    /// Follows the event stream until `token` is cancelled, taking every
    /// event already waiting as one batch (one transaction, one queue call).
    pub async fn run(self, hub: EventHub, token: CancellationToken) -> anyhow::Result<()> {
        let mut events = hub.subscribe();
        let mut cache = Subscriptions::default();
        let requeue_after = Duration::from_secs(self.config.requeue_after_secs);
        let mut sweep =
            tokio::time::interval(requeue_after.clamp(Duration::from_secs(1), Duration::from_secs(60)));
        loop {
            let first = tokio::select! {
                () = token.cancelled() => return Ok(()),
                _ = sweep.tick(), if !requeue_after.is_zero() => {
                    if let Err(e) = self.requeue_unattempted(requeue_after).await {
                        tracing::warn!(error = %e, "could not check for unqueued webhook deliveries");
                    }
                    continue;
                }
                received = events.recv() => received,
            };
            let mut batch = Vec::new();
            match first {
                Ok(event) => batch.push(event),
                Err(RecvError::Lagged(missed)) => skipped(missed),
                Err(RecvError::Closed) => return Ok(()),
            }
            while batch.len() < MAX_BATCH {
                match events.try_recv() {
                    Ok(event) => batch.push(event),
                    Err(TryRecvError::Lagged(missed)) => skipped(missed),
                    Err(_) => break,
                }
            }
            self.dispatch_batch(&batch, &mut cache).await;
        }
    }

    async fn dispatch_batch(&self, events: &[Arc<GatewayEvent>], cache: &mut Subscriptions) {
        let mut deliveries = Vec::new();
        for event in events {
            let hooks = cache.get(&self.store, &event.session_id).await;
            let mut targets: Vec<(Option<String>, String)> = hooks
                .iter()
                .filter(|h| h.enabled && matches(&h.events.0, &event.event))
                .map(|h| (Some(h.id.clone()), h.url.clone()))
                .collect();
            if !self.config.url.is_empty() && matches(&self.config.events, &event.event) {
                targets.push((None, self.config.url.clone()));
            }
            if targets.is_empty() {
                continue;
            }
            let payload = envelope(event);
            for (webhook_id, url) in targets {
                deliveries.push(NewWebhookDelivery {
                    session_id: event.session_id.clone(),
                    webhook_id,
                    webhook_url: url,
                    event_id: event.id.clone(),
                    event_type: event.event.clone(),
                    payload: payload.clone(),
                });
            }
        }
        if deliveries.is_empty() {
            return;
        }
        let created = match self.store.deliveries.create_many(&deliveries).await {
            Ok(created) => created,
            Err(e) => {
                tracing::error!(count = deliveries.len(), error = %e, "could not record webhook deliveries");
                return;
            }
        };
        let jobs: Vec<NewJob> = created.iter().map(|d| self.job(d.id, d.webhook_id.as_deref(), 0)).collect();
        if let Err(e) = self.queue.enqueue_many(jobs).await {
            tracing::error!(count = created.len(), error = %e, "could not queue webhook deliveries");
            return;
        }
        metrics::counter!("wag_webhook_deliveries_total", "result" => "queued")
            .increment(created.len() as u64);
    }

    /// Queues again the deliveries stored more than `older_than` ago and
    /// never attempted: a crash between storing a delivery and queueing it
    /// leaves one. Job ids are per delivery, so a delivery whose job still
    /// exists is not queued twice. Returns how many were queued.
    pub async fn requeue_unattempted(&self, older_than: Duration) -> anyhow::Result<usize> {
        let before = chrono::Utc::now() - chrono::Duration::from_std(older_than)?;
        let rows = self.store.deliveries.unattempted_before(before, 500).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let jobs = rows.iter().map(|(id, hook)| self.job(*id, hook.as_deref(), 0)).collect();
        let queued = self
            .queue
            .enqueue_many(jobs)
            .await?
            .iter()
            .filter(|e| matches!(e, crate::queue::Enqueued::Created(_)))
            .count();
        if queued > 0 {
            metrics::counter!("wag_webhook_deliveries_requeued_total").increment(queued as u64);
            tracing::warn!(queued, "queued webhook deliveries that had lost their job");
        }
        Ok(queued)
    }

    fn job(&self, delivery_id: i64, webhook_id: Option<&str>, round: u32) -> NewJob {
        let lane = webhook_id.unwrap_or("global").to_owned();
        NewJob::new(QUEUE, lane, json!({"delivery_id": delivery_id}))
            .id(format!("whd_{delivery_id}_{round}"))
            .max_attempts(self.config.max_attempts)
    }

    /// Queues a delivery; `round` distinguishes replays of the same delivery.
    pub async fn enqueue(
        &self,
        delivery_id: i64,
        webhook_id: Option<&str>,
        round: u32,
    ) -> Result<(), String> {
        let lane = webhook_id.unwrap_or("global").to_owned();
        let job = NewJob::new(QUEUE, lane, json!({"delivery_id": delivery_id}))
            .id(format!("whd_{delivery_id}_{round}"))
            .max_attempts(self.config.max_attempts);
        self.queue.enqueue(job).await.map(drop).map_err(|e| e.to_string())
    }
}
