//! Events → deliveries: one row and one queued job per matching subscription.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{QUEUE, matches};
use crate::config::WebhooksConfig;
use crate::queue::{NewJob, Queue};
use crate::sessions::{DurableEvents, GatewayEvent};
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

/// Subscriptions per session, read at most once per `CACHE_TTL`, and the
/// store's `webhooks_version` they were read at: a change made through this
/// gateway empties the cache at once.
#[derive(Default)]
struct Subscriptions(HashMap<String, (Instant, Arc<Vec<Webhook>>)>, u64);

impl Subscriptions {
    /// An error, not "no subscriptions": a batch must not be dispatched to
    /// nobody because the database was busy for a moment.
    async fn get(&mut self, store: &Store, session: &str) -> crate::store::StoreResult<Arc<Vec<Webhook>>> {
        let version = store.webhooks_version();
        if version != self.1 {
            self.0.clear();
            self.1 = version;
        }
        if let Some((at, hooks)) = self.0.get(session)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(hooks.clone());
        }
        let hooks = Arc::new(store.webhooks.list(session).await?);
        if self.0.len() > 10_000 {
            self.0.clear();
        }
        self.0.insert(session.to_owned(), (Instant::now(), hooks.clone()));
        Ok(hooks)
    }
}

pub struct Dispatcher {
    pub store: Store,
    pub queue: Queue,
    pub config: WebhooksConfig,
}

/// Waits between attempts at recording a batch: a batch is retried until it
/// is stored, never dropped.
const RETRY_MIN: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Waits after a failed step of a batch, longer each time (up to
/// `RETRY_MAX`): the database or Redis being away for a while delays
/// webhooks instead of losing them.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Self(RETRY_MIN)
    }

    async fn failed(&mut self, what: &str, count: usize, error: impl std::fmt::Display) {
        metrics::counter!("wag_webhook_dispatch_retries_total").increment(1);
        tracing::warn!(count, %error, retry_in_ms = self.0.as_millis() as u64, "could not {what}; retrying");
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(RETRY_MAX);
    }
}

/// Runs `write` until it succeeds (see [`Backoff`]).
async fn persist<T, E, F, Fut>(what: &str, count: usize, write: F) -> T
where
    E: std::fmt::Display,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut backoff = Backoff::new();
    loop {
        match write().await {
            Ok(done) => return done,
            Err(e) => backoff.failed(what, count, e).await,
        }
    }
}

impl Dispatcher {
    /// Takes the hub's every event, batching whatever is already waiting
    /// (one transaction, one queue call per batch), until `finish` is
    /// cancelled; then records what is left and returns. `finish` comes
    /// last in shutdown, after the sessions have closed, so the events of
    /// the drain itself (sends finishing, sessions stopping) are kept too.
    pub async fn run(self, mut events: DurableEvents, finish: CancellationToken) -> anyhow::Result<()> {
        let mut cache = Subscriptions::default();
        let requeue_after = Duration::from_secs(self.config.requeue_after_secs);
        let mut sweep =
            tokio::time::interval(requeue_after.clamp(Duration::from_secs(1), Duration::from_secs(60)));
        // One sweep after a long batch, not one per tick missed meanwhile.
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let first = tokio::select! {
                // In this order: the sweep is not starved by a steady
                // stream, and finishing waits until the stream is empty.
                biased;
                _ = sweep.tick(), if !requeue_after.is_zero() => {
                    if let Err(e) = self.requeue_unattempted(requeue_after).await {
                        tracing::warn!(error = %e, "could not check for unqueued webhook deliveries");
                    }
                    continue;
                }
                received = events.recv() => received,
                () = finish.cancelled() => None,
            };
            let mut batch: Vec<_> = first.into_iter().collect();
            while batch.len() < MAX_BATCH {
                match events.try_recv() {
                    Ok(event) => batch.push(event),
                    Err(_) => break,
                }
            }
            if batch.is_empty() {
                // Finishing, nothing left: later events (none are expected)
                // are not waited for.
                return Ok(());
            }
            metrics::gauge!("wag_event_backlog").decrement(batch.len() as f64);
            self.dispatch_batch(&batch, &mut cache).await;
        }
    }

    /// Records the batch's deliveries and queues them, retrying until both
    /// are done: an event taken from the stream exists nowhere else.
    async fn dispatch_batch(&self, events: &[Arc<GatewayEvent>], cache: &mut Subscriptions) {
        let started = Instant::now();
        let mut backoff = Backoff::new();
        let deliveries = loop {
            match self.deliveries(events, cache).await {
                Ok(deliveries) => break deliveries,
                Err(e) => backoff.failed("load webhook subscriptions", events.len(), e).await,
            }
        };
        if deliveries.is_empty() {
            return;
        }
        let created = persist("record webhook deliveries", deliveries.len(), || {
            self.store.deliveries.create_many(&deliveries)
        })
        .await;
        let jobs = || created.iter().map(|(id, hook)| self.job(*id, hook.as_deref(), 0)).collect();
        // Job ids are per delivery: queueing a batch again after a partial
        // failure adds only the jobs that are missing.
        persist("queue webhook deliveries", created.len(), || self.queue.enqueue_many(jobs())).await;
        metrics::counter!("wag_webhook_deliveries_total", "result" => "queued")
            .increment(created.len() as u64);
        metrics::histogram!("wag_webhook_dispatch_seconds").record(started.elapsed().as_secs_f64());
    }

    /// A delivery per event and matching subscription.
    async fn deliveries(
        &self,
        events: &[Arc<GatewayEvent>],
        cache: &mut Subscriptions,
    ) -> crate::store::StoreResult<Vec<NewWebhookDelivery>> {
        let mut deliveries = Vec::new();
        for event in events {
            let hooks = cache.get(&self.store, &event.session_id).await?;
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
        Ok(deliveries)
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
