//! Polling helpers: sessions change state asynchronously.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::TestApp;

/// Fast reconnection and receipts so tests take milliseconds, not minutes.
pub const FAST: &str = "[sessions]\nreconnect_base_ms = 100\nreconnect_max_ms = 2000\nreconnect_jitter = 0.2\n\
reconnect_max_attempts = 0\nbreaker_threshold = 50\n[sandbox]\ndelivered_after_ms = 20\nread_after_ms = 60\n";

/// GET with the API key, as JSON.
pub async fn get_json(app: &TestApp, path: &str) -> Value {
    app.authed(Method::GET, path).send().await.unwrap().json().await.unwrap()
}

pub async fn get(app: &TestApp, id: &str) -> Value {
    let res = app.authed(Method::GET, &format!("/sessions/{id}")).send().await.unwrap();
    assert!(res.status().is_success(), "GET /sessions/{id}: {}", res.status());
    res.json().await.unwrap()
}

/// Polls until the session's status is `status`, failing after 10 s.
pub async fn wait_status(app: &TestApp, id: &str, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let session = get(app, id).await;
        if session["status"] == status {
            return session;
        }
        assert!(tokio::time::Instant::now() < deadline, "{id} never became {status}; last seen: {session}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub async fn create(app: &TestApp, body: Value) -> Value {
    let res = app.authed(Method::POST, "/sessions").json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

/// Creates, starts and links a session to `phone`; returns it connected.
pub async fn linked(app: &TestApp, id: &str, phone: &str) -> Value {
    create(app, json!({"id": id})).await;
    wait_status(app, id, "qr").await;
    let res = app
        .authed(Method::POST, &format!("/sandbox/sessions/{id}/link"))
        .json(&json!({"phone": phone}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    wait_status(app, id, "connected").await
}

pub async fn fault(app: &TestApp, id: &str, body: Value) {
    let res =
        app.authed(Method::POST, &format!("/sandbox/sessions/{id}/fault")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
}

/// The session's audit rows, oldest first.
pub async fn events(app: &TestApp, id: &str) -> Vec<Value> {
    let res = app.authed(Method::GET, &format!("/sessions/{id}/events?limit=500")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    let mut rows = page["data"].as_array().unwrap().clone();
    rows.reverse();
    rows
}

pub fn at(row: &Value) -> DateTime<Utc> {
    row["created_at"].as_str().unwrap().parse().unwrap()
}

/// (status, reason) of each status row, oldest first.
pub fn statuses(rows: &[Value]) -> Vec<(String, String)> {
    rows.iter()
        .filter(|r| r["event_type"] == "session.status")
        .map(|r| {
            (
                r["details"]["status"].as_str().unwrap().to_owned(),
                r["details"]["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}
