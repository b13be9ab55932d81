//! The guarded HTTP client.
//!
//! Hostnames are resolved by our resolver, which drops non-public
//! addresses, so the address checked is the address connected to (no DNS
//! rebinding window). URLs with a literal IP are checked directly, on the
//! first request and on every redirect.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect;

use super::guard::is_public;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the URL is not valid: {0}")]
    InvalidUrl(String),
    #[error("the URL points to a private or local address")]
    Forbidden,
    #[error("the response is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the server answered {0}")]
    Status(u16),
    #[error("request failed: {0}")]
    Network(String),
}

impl FetchError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Network(_) => true,
            FetchError::Status(code) => *code == 429 || *code >= 500,
            _ => false,
        }
    }
}

/// A downloaded body.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    /// The last path segment, when it looks like a file name.
    pub file_name: Option<String>,
}

#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    allow_private: bool,
}

struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.filter(|a| is_public(a.ip())).collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

fn literal_ip(url: &reqwest::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

impl Outbound {
    /// `allow_private` lifts the guard (for tests and trusted networks).
    pub fn new(timeout: Duration, max_redirects: usize, allow_private: bool) -> anyhow::Result<Self> {
        // Idempotent; sqlx already uses the same provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let policy = redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= max_redirects {
                attempt.error("too many redirects")
            } else if !allow_private && literal_ip(attempt.url()).is_some_and(|ip| !is_public(ip)) {
                attempt.error("redirect to a private or local address")
            } else if !matches!(attempt.url().scheme(), "http" | "https") {
                attempt.error("redirect to a non-HTTP URL")
            } else {
                attempt.follow()
            }
        });
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(policy)
            .user_agent(concat!("wa-gateway/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Self { client: builder.build()?, allow_private })
    }

    /// Checks a URL before use: http(s), a host, and not a private literal address.
    pub fn check_url(&self, raw: &str) -> Result<reqwest::Url, FetchError> {
        let url = reqwest::Url::parse(raw).map_err(|e| FetchError::InvalidUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::InvalidUrl("only http and https URLs are allowed".into()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(FetchError::InvalidUrl("the URL has no host".into()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FetchError::InvalidUrl("credentials in URLs are not allowed".into()));
        }
        if !self.allow_private && literal_ip(&url).is_some_and(|ip| !is_public(ip)) {
            return Err(FetchError::Forbidden);
        }
        Ok(url)
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Downloads `url`, refusing bodies over `max_bytes` without reading them whole.
    pub async fn fetch(&self, raw: &str, max_bytes: u64) -> Result<Fetched, FetchError> {
        let url = self.check_url(raw)?;
        let file_name = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .filter(|s| !s.is_empty() && s.contains('.'))
            .map(str::to_owned);
        let mut res = self.client.get(url).send().await.map_err(|e| classify(&e))?;
        if !res.status().is_success() {
            return Err(FetchError::Status(res.status().as_u16()));
        }
        if res.content_length().is_some_and(|n| n > max_bytes) {
            return Err(FetchError::TooLarge(max_bytes));
        }
        let content_type = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
        let mut bytes = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| classify(&e))? {
            if bytes.len() as u64 + chunk.len() as u64 > max_bytes {
                return Err(FetchError::TooLarge(max_bytes));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched { bytes, content_type, file_name })
    }
}

/// The error with its chain of causes: reqwest's own message ("error
/// sending request") hides the reason (refused, timed out, guard).
pub fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn classify(e: &reqwest::Error) -> FetchError {
    let text = describe(e);
    if text.contains("no public address") || text.contains("private or local address") {
        FetchError::Forbidden
    } else {
        FetchError::Network(text)
    }
}
