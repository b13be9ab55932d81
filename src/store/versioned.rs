//! Subscriptions with a change counter. The webhook dispatcher caches a
//! session's subscriptions for a second; without this, a webhook created
//! just after an event of its session missed that second's events (a
//! session's first QR code, the first message sent after subscribing).
//! Changes made through this process bump the counter and the caches start
//! over; another gateway instance's changes still apply within the second.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use super::{NewWebhook, StoreResult, Webhook, WebhookPatch, WebhookRepo};

pub struct Versioned {
    inner: Arc<dyn WebhookRepo>,
    version: Arc<AtomicU64>,
}

impl Versioned {
    pub fn new(inner: Arc<dyn WebhookRepo>, version: Arc<AtomicU64>) -> Self {
        Self { inner, version }
    }

    fn bump<T>(&self, result: StoreResult<T>) -> StoreResult<T> {
        // Bumped after the write either way: a failed write may still have
        // committed, and a needless cache refill costs one query.
        self.version.fetch_add(1, Ordering::Release);
        result
    }
}

#[async_trait]
impl WebhookRepo for Versioned {
    async fn create(&self, new: &NewWebhook) -> StoreResult<Webhook> {
        let result = self.inner.create(new).await;
        self.bump(result)
    }

    async fn get(&self, session_id: &str, id: &str) -> StoreResult<Option<Webhook>> {
        self.inner.get(session_id, id).await
    }

    async fn list(&self, session_id: &str) -> StoreResult<Vec<Webhook>> {
        self.inner.list(session_id).await
    }

    async fn update(&self, session_id: &str, id: &str, patch: &WebhookPatch) -> StoreResult<Option<Webhook>> {
        let result = self.inner.update(session_id, id, patch).await;
        self.bump(result)
    }

    async fn delete(&self, session_id: &str, id: &str) -> StoreResult<bool> {
        let result = self.inner.delete(session_id, id).await;
        self.bump(result)
    }
}
