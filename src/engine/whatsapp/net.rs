//! The network adapters whatsapp-rust asks for: an HTTP client (version
//! lookup, media upload and download) on reqwest, and a WebSocket transport
//! factory around the crate's own. Both remember the last failure so a
//! failed connection attempt can say why (the crate's run loop only logs it).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use whatsapp_rust::transport::{TokioWebSocketTransportFactory, Transport, TransportEvent, TransportFactory};
use whatsapp_rust::wacore::net::{HttpClient, HttpRequest, HttpResponse};

/// The last network failure seen by either adapter of one session.
#[derive(Clone, Default)]
pub struct LastError(Arc<Mutex<Option<String>>>);

impl LastError {
    pub fn set(&self, what: &str, e: &dyn std::fmt::Display) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("{what}: {e}"));
    }

    pub fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// reqwest behind the crate's `HttpClient`. Statuses are returned, never
/// turned into errors: the crate reads 401/404 to refresh media auth.
pub struct Http {
    client: reqwest::Client,
    last_error: LastError,
}

impl Http {
    pub fn new(timeout: Duration, last_error: LastError) -> anyhow::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()?;
        Ok(Self { client, last_error })
    }
}

#[async_trait]
impl HttpClient for Http {
    async fn execute(&self, request: HttpRequest) -> anyhow::Result<HttpResponse> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())?;
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = request.body {
            builder = builder.body(body.to_vec());
        }
        let result = async {
            let response = builder.send().await?;
            let status_code = response.status().as_u16();
            Ok::<_, reqwest::Error>(HttpResponse { status_code, body: response.bytes().await?.to_vec() })
        }
        .await;
        result.map_err(|e| {
            self.last_error.set("HTTP request to WhatsApp failed", &crate::net::describe(&e));
            e.into()
        })
    }
}

/// The crate's WebSocket transport, recording why a connection failed.
pub struct Socket {
    inner: TokioWebSocketTransportFactory,
    last_error: LastError,
}

impl Socket {
    pub fn new(last_error: LastError) -> Self {
        Self { inner: TokioWebSocketTransportFactory::new(), last_error }
    }
}

#[async_trait]
impl TransportFactory for Socket {
    async fn create_transport(
        &self,
    ) -> anyhow::Result<(Arc<dyn Transport>, whatsapp_rust::async_channel::Receiver<TransportEvent>)> {
        self.inner.create_transport().await.inspect_err(|e| {
            self.last_error.set("WebSocket connection to WhatsApp failed", &format!("{e:#}"));
        })
    }
}
