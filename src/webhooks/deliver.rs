//! The `webhooks` queue handler: one signed POST per attempt, every attempt
//! recorded, `Retry-After` honoured, `410 Gone` unsubscribes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};

use super::signing::sign_all;
use crate::batch::Batcher;
use crate::config::WebhooksConfig;
use crate::net::Outbound;
use crate::queue::{ClaimedJob, Handler, Outcome};
use crate::store::{DeliveryAttempt, NewWebhookAttempt, Store, WebhookPatch};

/// Response bytes kept with an attempt.
const EXCERPT: usize = 512;
/// `Retry-After` is honoured within these bounds.
const RETRY_AFTER_MIN: Duration = Duration::from_secs(1);
const RETRY_AFTER_MAX: Duration = Duration::from_secs(3600);
/// Headers a subscription may not override.
const RESERVED: [&str; 5] = ["content-type", "webhook-id", "webhook-timestamp", "webhook-signature", "host"];

/// How long a subscription read for a delivery is reused: changes (a new
/// secret, a disabled webhook) apply within this time.
const HOOK_CACHE_TTL: Duration = Duration::from_secs(1);

/// (url, secrets, extra headers) of an enabled subscription; None: disabled.
type Target = Option<(String, String, serde_json::Value)>;
/// Targets by (session, webhook id), with when each was read.
type Targets = HashMap<(String, String), (Instant, Target)>;

pub struct DeliveryHandler {
    store: Store,
    /// No redirects; the SSRF guard unless private networks are allowed.
    client: Outbound,
    config: WebhooksConfig,
    /// Attempts are recorded in batches (one transaction for many).
    recorder: Batcher<(NewWebhookAttempt, DeliveryAttempt), Result<(), String>>,
    /// The store's `webhooks_version` and the targets read at it.
    hooks: Mutex<(u64, Targets)>,
}

struct Answer {
    status: Option<u16>,
    error: Option<String>,
    excerpt: Option<String>,
    retry_after: Option<Duration>,
}

impl DeliveryHandler {
    pub fn new(store: Store, client: Outbound, config: WebhooksConfig) -> Self {
        let s = store.clone();
        let recorder =
            Batcher::spawn("webhook_attempts", move |items: Vec<(NewWebhookAttempt, DeliveryAttempt)>| {
                let s = s.clone();
                async move {
                    let n = items.len();
                    match s.deliveries.record_attempts_logged(&items).await {
                        Ok(()) => vec![Ok(()); n],
                        Err(e) => vec![Err(e.to_string()); n],
                    }
                }
            });
        Self { store, client, config, recorder, hooks: Mutex::new((0, HashMap::new())) }
    }

    /// The subscription's target, from a cache refreshed every second;
    /// Ok(None) when it is disabled, Err(None) when it is gone.
    async fn target(&self, session: &str, hook_id: &str) -> Result<Target, Option<String>> {
        let key = (session.to_owned(), hook_id.to_owned());
        {
            let mut hooks = self.hooks.lock().expect("hook cache");
            // A change made through this gateway applies to the next delivery.
            let version = self.store.webhooks_version();
            if hooks.0 != version {
                hooks.1.clear();
                hooks.0 = version;
            }
            if let Some((at, target)) = hooks.1.get(&key)
                && at.elapsed() < HOOK_CACHE_TTL
            {
                return Ok(target.clone());
            }
        }
        let target = match self.store.webhooks.get(session, hook_id).await {
            Ok(Some(h)) if h.enabled => Some((h.url, h.secret, h.headers.0)),
            Ok(Some(_)) => None,
            Ok(None) => return Err(None),
            Err(e) => return Err(Some(e.to_string())),
        };
        let mut hooks = self.hooks.lock().expect("hook cache");
        if hooks.1.len() > 10_000 {
            hooks.1.retain(|_, (at, _)| at.elapsed() < HOOK_CACHE_TTL);
        }
        hooks.1.insert(key, (Instant::now(), target.clone()));
        Ok(target)
    }

    async fn post(
        &self,
        url: &str,
        secrets: &str,
        id: &str,
        body: Vec<u8>,
        headers: &serde_json::Value,
    ) -> Answer {
        let fail = |e: String| Answer { status: None, error: Some(e), excerpt: None, retry_after: None };
        let url = match self.client.check_url(url) {
            Ok(url) => url,
            Err(e) => return fail(e.to_string()),
        };
        let timestamp = chrono::Utc::now().timestamp();
        let signature = match sign_all(secrets, id, timestamp, &body) {
            Ok(s) => s,
            Err(e) => return fail(format!("signing: {e}")),
        };
        let mut req = self
            .client
            .client()
            .post(url)
            .timeout(Duration::from_secs(self.config.timeout_secs))
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature);
        if let Some(extra) = headers.as_object() {
            for (k, v) in extra {
                let (Ok(name), Some(Ok(value))) =
                    (HeaderName::try_from(k.as_str()), v.as_str().map(HeaderValue::from_str))
                else {
                    continue;
                };
                if !RESERVED.contains(&name.as_str()) {
                    req = req.header(name, value);
                }
            }
        }
        match req.body(body).send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let retry_after = res
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| retry_after(v, chrono::Utc::now()));
                let bytes = res.bytes().await.unwrap_or_default();
                let excerpt = String::from_utf8_lossy(&bytes[..bytes.len().min(EXCERPT)]).into_owned();
                let error =
                    (!(200..300).contains(&status)).then(|| format!("the receiver answered {status}"));
                Answer {
                    status: Some(status),
                    error,
                    excerpt: Some(excerpt).filter(|e| !e.is_empty()),
                    retry_after,
                }
            }
            Err(e) => fail(crate::net::describe(&e)),
        }
    }
}

/// A `Retry-After` value (delay seconds or an HTTP date) as a delay within
/// bounds; a date in the past means the shortest delay.
fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    let delay = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (at.with_timezone(&chrono::Utc) - now).to_std().unwrap_or(Duration::ZERO)
        }
    };
    Some(delay.clamp(RETRY_AFTER_MIN, RETRY_AFTER_MAX))
}

#[async_trait]
impl Handler for DeliveryHandler {
    async fn handle(&self, job: &ClaimedJob) -> Outcome {
        let Some(id) = job.payload.get("delivery_id").and_then(serde_json::Value::as_i64) else {
            return Outcome::dead("job without a delivery id");
        };
        let delivery = match self.store.deliveries.get(id).await {
            Ok(Some(d)) => d,
            Ok(None) => return Outcome::dead("the delivery no longer exists"),
            Err(e) => return Outcome::retry(e.to_string()),
        };
        if delivery.status == "delivered" {
            return Outcome::Done;
        }
        let (url, secrets, headers) = match &delivery.webhook_id {
            Some(hook_id) => match self.target(&delivery.session_id, hook_id).await {
                Ok(Some(target)) => target,
                Ok(None) => return self.finish(id, job, None, "the webhook is disabled").await,
                Err(None) => return self.finish(id, job, None, "the webhook was deleted").await,
                Err(Some(e)) => return Outcome::retry(e),
            },
            None => (self.config.url.clone(), self.config.secret.expose().to_owned(), serde_json::json!({})),
        };
        let body = serde_json::to_vec(&delivery.payload.0).unwrap_or_default();
        let started = Instant::now();
        let answer = self.post(&url, &secrets, &delivery.event_id, body, &headers).await;
        let latency_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        metrics::histogram!("wag_webhook_delivery_seconds").record(started.elapsed().as_secs_f64());
        let log = NewWebhookAttempt {
            delivery_id: id,
            attempt: i32::try_from(job.attempt).unwrap_or(i32::MAX),
            status_code: answer.status.map(i32::from),
            latency_ms,
            error: answer.error.clone(),
            response_excerpt: answer.excerpt.clone(),
        };
        let last = job.attempt >= job.max_attempts;
        let (status, outcome) = match (answer.status, &answer.error) {
            (Some(s), None) if (200..300).contains(&s) => ("delivered", Outcome::Done),
            (Some(410), _) => {
                // The receiver says it is gone for good: stop sending to it.
                if let Some(hook_id) = &delivery.webhook_id {
                    let patch = WebhookPatch { enabled: Some(false), ..Default::default() };
                    // The update empties the caches (`webhooks_version`).
                    let _ = self.store.webhooks.update(&delivery.session_id, hook_id, &patch).await;
                    tracing::warn!(webhook = %hook_id, "receiver answered 410 Gone; webhook disabled");
                }
                ("dead", Outcome::dead("the receiver answered 410 Gone; webhook disabled"))
            }
            (_, error) => {
                let error = error.clone().unwrap_or_else(|| "unknown error".into());
                if last {
                    ("dead", Outcome::dead(error))
                } else {
                    ("failed", Outcome::Retry { error, after: answer.retry_after })
                }
            }
        };
        let error = match &outcome {
            Outcome::Dead { error } | Outcome::Retry { error, .. } => Some(error.clone()),
            _ => None,
        };
        let record =
            DeliveryAttempt { status: status.to_owned(), status_code: answer.status.map(i32::from), error };
        // The attempt and the delivery's new state in one commit.
        match self.recorder.call((log, record)).await {
            Some(Ok(())) => {}
            Some(Err(e)) => tracing::warn!(delivery = id, error = %e, "could not record a webhook attempt"),
            None => tracing::warn!(delivery = id, "could not record a webhook attempt: the recorder stopped"),
        }
        let result = match status {
            "delivered" => "delivered",
            "dead" => "dead",
            _ => "retried",
        };
        metrics::counter!("wag_webhook_deliveries_total", "result" => result).increment(1);
        if status == "dead" {
            tracing::warn!(delivery = id, attempt = job.attempt, "webhook delivery dead-lettered");
        }
        outcome
    }
}

impl DeliveryHandler {
    async fn record(&self, id: i64, status: &str, code: Option<u16>, error: Option<&str>) {
        let attempt = DeliveryAttempt {
            status: status.to_owned(),
            status_code: code.map(i32::from),
            error: error.map(str::to_owned),
        };
        if let Err(e) = self.store.deliveries.record_attempt(id, &attempt).await {
            tracing::warn!(delivery = id, error = %e, "could not record a webhook delivery outcome");
        }
    }

    /// Dead-letters the delivery.
    async fn finish(&self, id: i64, job: &ClaimedJob, code: Option<u16>, error: &str) -> Outcome {
        self.record(id, "dead", code, Some(error)).await;
        metrics::counter!("wag_webhook_deliveries_total", "result" => "dead").increment(1);
        tracing::warn!(delivery = id, attempt = job.attempt, error, "webhook delivery dead-lettered");
        Outcome::dead(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates_within_bounds() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").unwrap().to_utc();
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(" 0 ", now), Some(RETRY_AFTER_MIN));
        assert_eq!(retry_after("999999", now), Some(RETRY_AFTER_MAX));
        assert_eq!(retry_after("Tue, 01 Dec 2026 10:05:00 GMT", now), Some(Duration::from_secs(300)));
        assert_eq!(retry_after("Tue, 01 Dec 2026 09:00:00 GMT", now), Some(RETRY_AFTER_MIN), "in the past");
        assert_eq!(retry_after("Wed, 02 Dec 2026 10:00:00 GMT", now), Some(RETRY_AFTER_MAX));
        assert_eq!(retry_after("soon", now), None);
    }
}
