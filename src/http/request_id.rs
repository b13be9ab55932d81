//! Request ids, and the last stop of every response on its way out.
//!
//! The outermost middleware: it accepts a well-formed `X-Request-ID` or mints
//! a UUIDv7, makes it visible to handlers (extension) and logs (span), echoes
//! it, renders every error response in the gateway's JSON shape with the id
//! inside, and writes the access-log line.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::error::{PendingError, for_bare_status, render};

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-supplied id kept; longer ones are replaced.
pub const MAX_LEN: usize = 128;

/// The id of the request being served; also handed to jobs and webhooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub Arc<str>);

impl RequestId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string().into())
    }

    /// A client's id is kept only if short and made of safe characters, so
    /// it cannot inject into logs or headers.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = !raw.is_empty()
            && raw.len() <= MAX_LEN
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
        ok.then(|| Self(raw.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which access-log lines to write: every `every`-th successful request
/// (client and server errors always). High-volume senders would otherwise
/// spend more on log lines than on requests.
#[derive(Clone)]
pub struct Sampling {
    every: u64,
    seen: Arc<std::sync::atomic::AtomicU64>,
}

impl Sampling {
    pub fn every(n: u32) -> Self {
        Self { every: u64::from(n.max(1)), seen: Arc::default() }
    }

    fn keep(&self, status: axum::http::StatusCode) -> bool {
        status.is_client_error()
            || status.is_server_error()
            || self.seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed).is_multiple_of(self.every)
    }
}

pub async fn middleware(
    axum::extract::State(sampling): axum::extract::State<Sampling>,
    mut req: Request,
    next: Next,
) -> Response {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(RequestId::parse)
        .unwrap_or_else(RequestId::generate);
    req.extensions_mut().insert(id.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %id.as_str(),
        method = %req.method(),
        path = %req.uri().path(),
    );
    let started = std::time::Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    res = normalize_error(res, &id);
    let logged = sampling.keep(res.status());
    span.in_scope(|| {
        if !logged {
            return;
        }
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let status = res.status().as_u16();
        if res.status().is_server_error() {
            tracing::warn!(status, latency_ms, "request finished");
        } else {
            tracing::info!(status, latency_ms, "request finished");
        }
    });
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        res.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    res
}

/// Gives an error response the standard body: ours (pending) or one made
/// from the status for responses produced by axum or tower layers.
fn normalize_error(mut res: Response, id: &RequestId) -> Response {
    if let Some(pending) = res.extensions_mut().remove::<PendingError>() {
        return keep_headers(res, render(pending.status, pending.body, Some(id.as_str())));
    }
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&res) {
        return res;
    }
    keep_headers(res, render(status, for_bare_status(status), Some(id.as_str())))
}

fn is_json(res: &Response<Body>) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Carries over headers such as `Allow`, `Retry-After` or `WWW-Authenticate`.
fn keep_headers(original: Response, mut rendered: Response) -> Response {
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rendered.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rendered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_safe_ids_only() {
        assert!(RequestId::parse("abc-123_X.y:z").is_some());
        assert!(RequestId::parse("").is_none());
        assert!(RequestId::parse("has space").is_none());
        assert!(RequestId::parse("line\nbreak").is_none());
        assert!(RequestId::parse(&"a".repeat(MAX_LEN)).is_some());
        assert!(RequestId::parse(&"a".repeat(MAX_LEN + 1)).is_none());
    }

    #[test]
    fn generated_ids_are_uuid_v7() {
        let id = RequestId::generate();
        let parsed = uuid::Uuid::parse_str(id.as_str()).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
    }
}

#[cfg(test)]
mod sampling_tests {
    use axum::http::StatusCode;

    #[test]
    fn one_success_in_n_and_every_error() {
        let s = super::Sampling::every(3);
        let kept: Vec<bool> = (0..6).map(|_| s.keep(StatusCode::OK)).collect();
        assert_eq!(kept, [true, false, false, true, false, false]);
        assert!(s.keep(StatusCode::NOT_FOUND) && s.keep(StatusCode::BAD_GATEWAY));
        let all = super::Sampling::every(1);
        assert!((0..5).all(|_| all.keep(StatusCode::CREATED)));
    }
}
