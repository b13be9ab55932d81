//! Events → deliveries: one row and one queued job per matching subscription.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::{QUEUE, matches};
use crate::config::WebhooksConfig;
use crate::queue::{NewJob, Queue};
use crate::sessions::{EventHub, GatewayEvent};
use crate::store::{NewWebhookDelivery, Store};

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

pub struct Dispatcher {
    pub store: Store,
    pub queue: Queue,
    pub config: WebhooksConfig,
}

impl Dispatcher {
    /// Follows the event stream until `token` is cancelled.
    pub async fn run(self, hub: EventHub, token: CancellationToken) -> anyhow::Result<()> {
        let mut events = hub.subscribe();
        loop {
            let event = tokio::select! {
                () = token.cancelled() => return Ok(()),
                received = events.recv() => received,
            };
            match event {
                Ok(event) => self.dispatch(&event).await,
                Err(RecvError::Lagged(missed)) => {
                    metrics::counter!("wag_webhook_events_missed_total").increment(missed);
                    tracing::error!(
                        missed,
                        "webhook dispatch fell behind the event stream; events were skipped"
                    );
                }
                Err(RecvError::Closed) => return Ok(()),
            }
        }
    }

    /// Creates the deliveries of one event. Failures are logged per target:
    /// one receiver's problem never blocks another's.
    pub async fn dispatch(&self, event: &Arc<GatewayEvent>) {
        let mut targets: Vec<(Option<String>, String)> = Vec::new();
        match self.store.webhooks.list(&event.session_id).await {
            Ok(hooks) => targets.extend(
                hooks
                    .into_iter()
                    .filter(|h| h.enabled && matches(&h.events.0, &event.event))
                    .map(|h| (Some(h.id), h.url)),
            ),
            Err(e) => tracing::warn!(session = %event.session_id, error = %e, "could not load webhooks"),
        }
        if !self.config.url.is_empty() && matches(&self.config.events, &event.event) {
            targets.push((None, self.config.url.clone()));
        }
        if targets.is_empty() {
            return;
        }
        let payload = envelope(event);
        for (webhook_id, url) in targets {
            let new = NewWebhookDelivery {
                session_id: event.session_id.clone(),
                webhook_id: webhook_id.clone(),
                webhook_url: url,
                event_id: event.id.clone(),
                event_type: event.event.clone(),
                payload: payload.clone(),
            };
            let delivery = match self.store.deliveries.create(&new).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(event = %event.id, error = %e, "could not record a webhook delivery");
                    continue;
                }
            };
            if let Err(e) = self.enqueue(delivery.id, webhook_id.as_deref(), 0).await {
                tracing::warn!(delivery = delivery.id, error = %e, "could not queue a webhook delivery");
            }
            metrics::counter!("wag_webhook_deliveries_total", "result" => "queued").increment(1);
        }
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
