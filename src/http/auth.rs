//! API-key authentication that fails closed.
//!
//! The key is accepted from `X-API-Key` or `Authorization: Bearer`. Both the
//! configured and the presented key are hashed with SHA-256 first and the
//! digests compared in constant time, so neither the content nor the length
//! of the key leaks through timing.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Secret;
use crate::error::Error;

/// The configured key, kept only as its digest.
#[derive(Clone)]
pub struct ApiKey {
    digest: Option<[u8; 32]>,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey").field("configured", &self.digest.is_some()).finish()
    }
}

impl ApiKey {
    pub fn new(key: &Secret) -> Self {
        let digest = (!key.is_empty()).then(|| digest(key.expose().as_bytes()));
        Self { digest }
    }

    pub fn is_configured(&self) -> bool {
        self.digest.is_some()
    }

    /// Constant-time comparison with the configured key (false if none).
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.digest.as_ref().is_some_and(|expected| digest(presented).ct_eq(expected).into())
    }

    /// Checks a request's headers.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), Error> {
        if !self.is_configured() {
            return Err(Error::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "auth_not_configured",
                "no API key is configured on the gateway; set API_KEY",
            ));
        }
        let Some(presented) = presented_key(headers) else {
            return Err(Error::new(
                StatusCode::UNAUTHORIZED,
                "missing_api_key",
                "send the API key in X-API-Key or Authorization: Bearer",
            ));
        };
        if self.matches(presented) {
            Ok(())
        } else {
            Err(Error::new(StatusCode::UNAUTHORIZED, "invalid_api_key", "the API key is not valid"))
        }
    }
}

/// SHA-256, so secrets of any length compare in constant time.
fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn presented_key(headers: &HeaderMap) -> Option<&[u8]> {
    if let Some(v) = headers.get("x-api-key") {
        return Some(v.as_bytes());
    }
    bearer(headers)
}

/// The credential of an `Authorization: Bearer …` header.
pub fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let auth = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = auth.split_at_checked(7)?;
    scheme.eq_ignore_ascii_case(b"bearer ").then_some(rest)
}

pub async fn require_api_key(State(key): State<ApiKey>, req: Request, next: Next) -> Response {
    match key.check(req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => {
            let unauthorized = e.status() == StatusCode::UNAUTHORIZED;
            let mut res = e.into_response();
            if unauthorized {
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            }
            res
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn code(result: Result<(), Error>) -> &'static str {
        match result {
            Ok(()) => "ok",
            Err(Error::Api { code, .. }) => code,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn fails_closed_without_a_key() {
        let key = ApiKey::new(&Secret::default());
        assert_eq!(code(key.check(&headers(&[("x-api-key", KEY)]))), "auth_not_configured");
    }

    #[test]
    fn accepts_both_header_forms() {
        let key = ApiKey::new(&Secret::new(KEY));
        assert_eq!(code(key.check(&headers(&[("x-api-key", KEY)]))), "ok");
        let bearer = format!("Bearer {KEY}");
        assert_eq!(code(key.check(&headers(&[("authorization", &bearer)]))), "ok");
        let lower = format!("bearer {KEY}");
        assert_eq!(code(key.check(&headers(&[("authorization", &lower)]))), "ok");
    }

    #[test]
    fn rejects_missing_wrong_and_prefix_keys() {
        let key = ApiKey::new(&Secret::new(KEY));
        assert_eq!(code(key.check(&HeaderMap::new())), "missing_api_key");
        assert_eq!(code(key.check(&headers(&[("x-api-key", "nope")]))), "invalid_api_key");
        assert_eq!(code(key.check(&headers(&[("x-api-key", &KEY[..KEY.len() - 1])]))), "invalid_api_key");
        let basic = format!("Basic {KEY}");
        assert_eq!(code(key.check(&headers(&[("authorization", &basic)]))), "missing_api_key");
        assert!(!format!("{key:?}").contains(KEY));
    }
}
