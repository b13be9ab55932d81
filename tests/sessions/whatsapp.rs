//! The real engine where WhatsApp cannot be reached (CI, these machines):
//! a session must say so truthfully — starting, then reconnecting with
//! backoff and the reason, then failed — without hanging, spinning or
//! leaving tasks behind, and its keys must live and die with the session.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;
use crate::support::{Backend, TestApp};

const OFFLINE: &str = "[sessions]\nreconnect_base_ms = 100\nreconnect_max_ms = 400\nreconnect_jitter = 0.0\n\
reconnect_max_attempts = 3\nbreaker_threshold = 50\nconnect_timeout_secs = 5\n";

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current().metrics().num_alive_tasks()
}

async fn wa_key_rows(app: &TestApp, session: &str) -> i64 {
    match app.state.store.pool() {
        wa_gateway::store::Pool::Sqlite(p) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM wa_keys WHERE session_id = $1")
                .bind(session)
                .fetch_one(p)
                .await
                .unwrap()
        }
        wa_gateway::store::Pool::Postgres(p) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM wa_keys WHERE session_id = $1")
                .bind(session)
                .fetch_one(p)
                .await
                .unwrap()
        }
    }
}

async fn unreachable_whatsapp_fails_honestly(backend: Backend) {
    let Some(mut app) = TestApp::spawn_with(backend, OFFLINE).await else { return };
    // No keep-alive: a pooled connection is two live tasks (client and
    // server side) that would blur the count below.
    app.client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let created = create(&app, json!({"id": "real", "engine": "whatsapp", "start": false})).await;
    assert_eq!(created["engine"], "whatsapp");
    // Count once the app's own tasks (and this client's keep-alive
    // connection) are up, so only what the engine starts is measured.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = alive_tasks();
    let res = app.authed(Method::POST, "/sessions/real/start").send().await.unwrap();
    assert_eq!(res.status(), 202);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let failed = loop {
        let s = get(&app, "real").await;
        if s["status"] == "failed" {
            break s;
        }
        assert!(tokio::time::Instant::now() < deadline, "never gave up: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let error = failed["last_error"].as_str().unwrap();
    assert!(error.contains("WhatsApp") || error.contains("timed out"), "the reason names the cause: {error}");
    assert_eq!(failed["runtime"]["reconnect_attempts"], 3);

    // The audit trail: connecting, reconnecting per failed attempt with the
    // backoff it waited, then failed — and nothing more.
    let rows = events(&app, "real").await;
    let steps = statuses(&rows);
    let names: Vec<(&str, &str)> = steps.iter().map(|(s, r)| (s.as_str(), r.as_str())).collect();
    assert_eq!(
        names,
        [
            ("starting", "start"),
            ("reconnecting", "connect_failed"),
            ("reconnecting", "connect_failed"),
            ("failed", "gave_up")
        ]
    );
    let waits: Vec<u64> = rows
        .iter()
        .filter(|r| r["details"]["retry_in_ms"].is_u64() && r["event_type"] == "session.status")
        .map(|r| r["details"]["retry_in_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(waits, [100, 200], "exponential backoff between attempts");

    // The device keys were created in our store, on our pool.
    assert!(wa_key_rows(&app, "real").await >= 1, "the key store was used");

    // Nothing is left running: every client and forwarder of the three
    // attempts ended.
    let settled = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let now = alive_tasks();
        if now <= before {
            break;
        }
        assert!(tokio::time::Instant::now() < settled, "tasks leaked: {before} before, {now} after");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A failed session can be started again, and stopping it mid-attempt is prompt.
    let res = app.authed(Method::POST, "/sessions/real/start").send().await.unwrap();
    assert_eq!(res.status(), 202);
    let stopping = tokio::time::Instant::now();
    let res = app.authed(Method::POST, "/sessions/real/stop").send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert!(stopping.elapsed() < Duration::from_secs(12), "stop took {:?}", stopping.elapsed());
    wait_status(&app, "real", "stopped").await;

    // Deleting the session deletes its keys.
    let res = app.authed(Method::DELETE, "/sessions/real").send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(wa_key_rows(&app, "real").await, 0);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_whatsapp_fails_honestly_on_sqlite() {
    unreachable_whatsapp_fails_honestly(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_whatsapp_fails_honestly_on_postgres() {
    unreachable_whatsapp_fails_honestly(Backend::Postgres).await;
}

#[tokio::test]
async fn a_pairing_code_needs_a_session_waiting_for_a_link() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, OFFLINE).await else { return };
    create(&app, json!({"id": "real", "engine": "whatsapp", "start": false})).await;
    let res = app
        .authed(Method::POST, "/sessions/real/pair-code")
        .json(&json!({"phone": "491701234567"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409, "{}", res.text().await.unwrap());
    app.stop().await.unwrap();
}
