//! No event is lost on its way to a delivery row: not in a burst larger
//! than the in-process stream's buffer, not in a graceful shutdown.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use wa_gateway::store::Pool;

use crate::helpers::*;
use crate::receiver::Receiver;
use crate::support::{Backend, TestApp};

/// One delivery at a time: the test is about the rows, not the POSTs.
const CONFIG: &str = "[webhooks]\nallow_private_networks = true\nconcurrency = 1\n";

/// More than the broadcast stream's 16,384-event buffer.
const BURST: usize = 20_000;

/// (delivery rows, distinct events among them) of the test's event type.
async fn stored(pool: &Pool) -> (i64, i64) {
    let sql =
        "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM webhook_deliveries WHERE event_type = 'message.ack'";
    match pool {
        Pool::Sqlite(p) => sqlx::query_as(sql).fetch_one(p).await.unwrap(),
        Pool::Postgres(p) => sqlx::query_as(sql).fetch_one(p).await.unwrap(),
    }
}

/// Subscribes `rx` to session `s`'s `message.ack` events.
async fn subscribe(app: &TestApp, rx: &Receiver) {
    let res = app
        .authed(Method::POST, "/sessions/s/webhooks")
        .json(&json!({"url": rx.url(), "events": ["message.ack"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

async fn subscribed(backend: Backend) -> Option<(TestApp, Receiver)> {
    let app = TestApp::spawn_with(backend, CONFIG).await?;
    let rx = Receiver::start().await;
    create(&app, json!({"id": "s", "start": false})).await;
    subscribe(&app, &rx).await;
    Some((app, rx))
}

/// Published without yielding: the dispatcher cannot run meanwhile, so
/// the whole burst is waiting when it does.
fn burst(app: &TestApp, n: usize) {
    let hub = app.state.sessions.hub();
    for i in 0..n {
        hub.publish("s", "message.ack", json!({"n": i}));
    }
}

async fn a_burst_larger_than_the_buffer_loses_nothing(backend: Backend) {
    let Some((app, _rx)) = subscribed(backend).await else { return };
    burst(&app, BURST);
    let pool = app.state.store.pool().clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut last = (0, 0);
    while last.0 < BURST as i64 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        last = stored(&pool).await;
    }
    assert_eq!(last, (BURST as i64, BURST as i64), "every event once, none lost");
}

#[tokio::test]
async fn a_burst_larger_than_the_buffer_loses_nothing_on_sqlite() {
    a_burst_larger_than_the_buffer_loses_nothing(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_burst_larger_than_the_buffer_loses_nothing_on_postgres() {
    a_burst_larger_than_the_buffer_loses_nothing(Backend::Postgres).await;
}

/// A subscription applies to the next event even when the dispatcher read
/// the session's subscriptions (none) a moment before: its cache is for
/// other instances' changes, not this one's.
#[tokio::test]
async fn a_new_subscription_gets_the_very_next_event() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    let rx = Receiver::start().await;
    create(&app, json!({"id": "s", "start": false})).await;
    let hub = app.state.sessions.hub();
    hub.publish("s", "message.ack", json!({"before": true}));
    // The dispatcher takes it at once and caches "no subscriptions" for a
    // second; the subscription and the next event come within that second.
    tokio::time::sleep(Duration::from_millis(200)).await;
    subscribe(&app, &rx).await;
    hub.publish("s", "message.ack", json!({"after": true}));
    let pool = app.state.store.pool().clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while stored(&pool).await.0 < 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stored(&pool).await, (1, 1), "the event after the subscription, not the one before");
}

/// Events published just before a graceful shutdown are stored before the
/// process lets go of its database, and delivered after the restart.
#[tokio::test]
async fn events_published_as_shutdown_begins_are_kept() {
    let Some((app, _rx)) = subscribed(Backend::Sqlite).await else { return };
    burst(&app, 2_000);
    let (db, config) = app.restart_parts().await;
    let app = TestApp::start(db, config).await;
    assert_eq!(stored(app.state.store.pool()).await, (2_000, 2_000));
}
