//! A webhook receiver on 127.0.0.1:0 that verifies every request with the
//! `standardwebhooks` crate and can be told to fail.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;

#[derive(Default)]
pub struct Inbox {
    /// Verified envelopes, in arrival order.
    pub events: Vec<Value>,
    /// Requests whose signature did not verify.
    pub rejected: usize,
    /// Answer this status to the next N requests.
    pub fail_next: usize,
    pub fail_status: u16,
    pub calls: usize,
    pub headers: Vec<HeaderMap>,
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    pub inbox: Arc<Mutex<Inbox>>,
    secret: Arc<Mutex<String>>,
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let secret = r.secret.lock().unwrap().clone();
    let verified = standardwebhooks::Webhook::new(&secret).and_then(|w| w.verify(&body, &headers));
    let mut inbox = r.inbox.lock().unwrap();
    inbox.calls += 1;
    inbox.headers.push(headers);
    if inbox.fail_next > 0 {
        inbox.fail_next -= 1;
        return StatusCode::from_u16(inbox.fail_status).unwrap();
    }
    match verified {
        Ok(()) => {
            inbox.events.push(serde_json::from_slice(&body).unwrap());
            StatusCode::NO_CONTENT
        }
        Err(_) => {
            inbox.rejected += 1;
            StatusCode::UNAUTHORIZED
        }
    }
}

impl Receiver {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let r =
            Receiver { addr: listener.local_addr().unwrap(), inbox: Arc::default(), secret: Arc::default() };
        let app = axum::Router::new().route("/hook", post(hook)).with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn set_secret(&self, secret: &str) {
        *self.secret.lock().unwrap() = secret.to_owned();
    }

    pub fn fail(&self, n: usize, status: u16) {
        let mut inbox = self.inbox.lock().unwrap();
        inbox.fail_next = n;
        inbox.fail_status = status;
    }

    pub fn events_of(&self, kind: &str) -> Vec<Value> {
        self.inbox.lock().unwrap().events.iter().filter(|e| e["type"] == kind).cloned().collect()
    }
}
