//! Delivery, signatures, retries, dead letters, replay, guard.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::receiver::Receiver;
use crate::support::{Backend, TestApp, assert_error};

/// Local receivers need the private-network guard lifted; retries are fast.
const CONFIG: &str = "[webhooks]\nallow_private_networks = true\nretry_schedule_secs = [1]\nretry_jitter = 0.0\nmax_attempts = 3\n\
[queue]\npoll_interval_ms = 20\n[messages]\npacing_enabled = false\n[sandbox]\ndelivered_after_ms = 20\nread_after_ms = 40\n";

async fn subscribe(app: &TestApp, session: &str, body: Value) -> Value {
    let res =
        app.authed(Method::POST, &format!("/sessions/{session}/webhooks")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

async fn eventually(mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "condition not met in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The deliveries page once its newest delivery is recorded delivered, or
/// after 15 s (the caller's assertion then shows what it was).
async fn delivery_settled(app: &TestApp) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let page = get_json(app, "/sessions/s/webhooks/deliveries").await;
        if page["data"][0]["status"] == "delivered" || tokio::time::Instant::now() >= deadline {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One delivery once it reaches `status` (or after 15 s, for the assertion
/// to report): the receiver has an event a moment before its record moves.
async fn delivery_done(app: &TestApp, id: impl std::fmt::Display, status: &str) -> Value {
    let path = format!("/sessions/s/webhooks/deliveries/{id}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let one = get_json(app, &path).await;
        if one["status"] == status || tokio::time::Instant::now() >= deadline {
            return one;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn signed_events_arrive(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, CONFIG).await else { return };
    let rx = Receiver::start().await;
    create(&app, json!({"id": "s", "start": false})).await;
    let hook = subscribe(
        &app,
        "s",
        json!({"url": rx.url(), "events": ["session.*", "message.*"], "headers": {"x-tenant": "acme"}}),
    )
    .await;
    let secret = hook["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    rx.set_secret(secret);

    app.authed(Method::POST, "/sessions/s/start").send().await.unwrap();
    wait_status(&app, "s", "qr").await;
    app.authed(Method::POST, "/sandbox/sessions/s/link")
        .json(&json!({"phone": "491701112223"}))
        .send()
        .await
        .unwrap();
    let sent: Value = app
        .authed(Method::POST, "/sessions/s/message")
        .header("x-request-id", "req-webhook-1")
        .json(&json!({"to": "491709998887", "text": "hi"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    eventually(|| rx.events_of("message.status").iter().any(|e| e["data"]["status"] == "read")).await;

    {
        let inbox = rx.inbox.lock().unwrap();
        assert_eq!(inbox.rejected, 0, "every signature verified with the standardwebhooks crate");
        assert!(inbox.headers.iter().all(|h| h["x-tenant"] == "acme"));
        // Deliveries run in parallel; the time-ordered event ids give the order.
        let mut status_changes: Vec<&Value> =
            inbox.events.iter().filter(|e| e["type"] == "session.status").collect();
        status_changes.sort_by_key(|e| e["id"].as_str().unwrap().to_owned());
        let statuses: Vec<&str> =
            status_changes.iter().map(|e| e["data"]["status"].as_str().unwrap()).collect();
        assert_eq!(&statuses[..3], ["starting", "qr", "connected"]);
        let status_events: Vec<&Value> =
            inbox.events.iter().filter(|e| e["type"] == "message.status").collect();
        assert!(status_events.iter().all(|e| e["data"]["id"] == sent["id"] && e["session_id"] == "s"));
        assert!(
            status_events.iter().all(|e| e["request_id"] == "req-webhook-1"),
            "the request that caused them"
        );
        let env = &status_events[0];
        for key in ["id", "type", "timestamp", "session_id", "data"] {
            assert!(!env[key].is_null(), "envelope lacks {key}: {env}");
        }
    }

    // The deliveries are listed as delivered, with their attempt.
    let page = get_json(&app, "/sessions/s/webhooks/deliveries?status=delivered").await;
    let first = &page["data"][0];
    assert_eq!(first["attempts"], 1);
    let one = get_json(&app, &format!("/sessions/s/webhooks/deliveries/{}", first["id"])).await;
    assert_eq!(one["attempt_log"][0]["status_code"], 204);
    assert_eq!(one["payload"]["id"], first["event_id"]);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn signed_events_arrive_on_sqlite() {
    signed_events_arrive(Backend::Sqlite).await;
}

#[tokio::test]
async fn signed_events_arrive_on_postgres() {
    signed_events_arrive(Backend::Postgres).await;
}

#[tokio::test]
async fn failures_retry_then_dead_letter_and_replay() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    let rx = Receiver::start().await;
    create(&app, json!({"id": "s", "start": false})).await;
    let hook = subscribe(&app, "s", json!({"url": rx.url(), "events": ["session.status"]})).await;
    rx.set_secret(hook["secret"].as_str().unwrap());

    // Two failures, then success on attempt 3.
    rx.fail(2, 500);
    app.state.sessions.hub().publish("s", "session.status", json!({"status": "probe-1"}));
    eventually(|| rx.events_of("session.status").len() == 1).await;
    // The receiver has the event a moment before the gateway records the answer.
    let page = delivery_settled(&app).await;
    let d = &page["data"][0];
    assert_eq!((d["status"].as_str(), d["attempts"].as_i64()), (Some("delivered"), Some(3)));
    let one = get_json(&app, &format!("/sessions/s/webhooks/deliveries/{}", d["id"])).await;
    let codes: Vec<i64> =
        one["attempt_log"].as_array().unwrap().iter().map(|a| a["status_code"].as_i64().unwrap()).collect();
    assert_eq!(codes, [500, 500, 204]);

    // Always failing: dead after max_attempts (3).
    rx.fail(100, 503);
    app.state.sessions.hub().publish("s", "session.status", json!({"status": "probe-2"}));
    let page = loop {
        let page = get_json(&app, "/sessions/s/webhooks/deliveries?status=dead").await;
        if !page["data"].as_array().unwrap().is_empty() {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let dead = &page["data"][0];
    assert_eq!(dead["attempts"], 3);
    assert!(dead["last_error"].as_str().unwrap().contains("503"));

    // The receiver recovers: a replay of the range delivers it.
    rx.fail(0, 200);
    let res = app
        .authed(Method::POST, "/sessions/s/webhooks/deliveries/replay")
        .json(&json!({"from": "2020-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(res.json::<Value>().await.unwrap()["replayed"], 1);
    eventually(|| rx.events_of("session.status").iter().any(|e| e["data"]["status"] == "probe-2")).await;
    let again = delivery_done(&app, &dead["id"], "delivered").await;
    assert_eq!(again["status"], "delivered");
    let res = app
        .authed(Method::POST, &format!("/sessions/s/webhooks/deliveries/{}/retry", dead["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202, "a delivered one can be sent again on request");
    eventually(|| {
        rx.events_of("session.status").iter().filter(|e| e["data"]["status"] == "probe-2").count() == 2
    })
    .await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn gone_receivers_are_disabled_and_filters_apply() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    let rx = Receiver::start().await;
    create(&app, json!({"id": "s", "start": false})).await;
    let hook = subscribe(&app, "s", json!({"url": rx.url(), "events": ["session.failed"]})).await;
    rx.set_secret(hook["secret"].as_str().unwrap());
    app.state.sessions.hub().publish("s", "session.status", json!({}));
    app.state.sessions.hub().publish("s", "session.failed", json!({"attempts": 3}));
    eventually(|| !rx.events_of("session.failed").is_empty()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(rx.events_of("session.status").is_empty(), "not subscribed to it");

    rx.fail(1, 410);
    app.state.sessions.hub().publish("s", "session.failed", json!({"attempts": 4}));
    let id = hook["id"].as_str().unwrap();
    let mut disabled = false;
    for _ in 0..300 {
        let h = get_json(&app, &format!("/sessions/s/webhooks/{id}")).await;
        if h["enabled"] == false {
            disabled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(disabled, "410 Gone disables the webhook");
    let res = app
        .authed(Method::PATCH, &format!("/sessions/s/webhooks/{id}"))
        .json(&json!({"enabled": true, "events": ["*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let h: Value = res.json().await.unwrap();
    assert_eq!((h["enabled"].as_bool(), h["events"][0].as_str()), (Some(true), Some("*")));
    assert!(h.get("secret").is_none(), "the secret is shown only on creation");
    let res = app.authed(Method::DELETE, &format!("/sessions/s/webhooks/{id}")).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_error(
        app.authed(Method::GET, &format!("/sessions/s/webhooks/{id}")).send().await.unwrap(),
        404,
        "webhook_not_found",
    )
    .await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_guard_refuses_private_receivers_at_subscription_and_delivery() {
    // The default: no private networks.
    let Some(app) =
        TestApp::spawn_with(Backend::Sqlite, "[webhooks]\nretry_schedule_secs = [1]\nmax_attempts = 1\n")
            .await
    else {
        return;
    };
    let rx = Receiver::start().await;
    create(&app, json!({"id": "s", "start": false})).await;
    for url in [
        "http://127.0.0.1/h",
        "http://2130706433/h",
        "http://0x7f.1/h",
        "http://10.1.2.3/h",
        "http://[::1]/h",
        "http://169.254.169.254/h",
    ] {
        let res =
            app.authed(Method::POST, "/sessions/s/webhooks").json(&json!({"url": url})).send().await.unwrap();
        assert_error(res, 422, "webhook_url_forbidden").await;
    }
    let res = app
        .authed(Method::POST, "/sessions/s/webhooks")
        .json(&json!({"url": "gopher://example.com/"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 422, "invalid_webhook_url").await;
    let res = app
        .authed(Method::POST, "/sessions/s/webhooks")
        .json(&json!({"url": "https://example.com/h", "events": ["nonsense"]}))
        .send()
        .await
        .unwrap();
    assert_error(res, 422, "validation_failed").await;

    // A hostname is accepted at subscription; it resolves to 127.0.0.1, so delivery refuses it.
    let url = format!("http://localhost:{}/hook", rx.addr.port());
    subscribe(&app, "s", json!({"url": url})).await;
    app.state.sessions.hub().publish("s", "session.status", json!({}));
    let page = loop {
        let page = get_json(&app, "/sessions/s/webhooks/deliveries?status=dead").await;
        if !page["data"].as_array().unwrap().is_empty() {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    assert!(page["data"][0]["last_error"].as_str().unwrap().contains("no public address"), "{page}");
    assert_eq!(rx.inbox.lock().unwrap().calls, 0, "the receiver was never reached");
    app.stop().await.unwrap();
}

/// A crash between storing a delivery and queueing it leaves a pending row
/// without a job; the dispatcher's sweep queues it, exactly once.
#[tokio::test]
async fn a_delivery_that_lost_its_job_is_queued_again() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    let rx = Receiver::start().await;
    create(&app, json!({"id": "s", "start": false})).await;
    let hook = subscribe(&app, "s", json!({"url": rx.url(), "events": ["*"]})).await;
    rx.set_secret(hook["secret"].as_str().unwrap());
    // The row as the dispatcher writes it, but no job (the crash).
    let event_id = "evt_lost_job";
    let row = wa_gateway::store::NewWebhookDelivery {
        session_id: "s".into(),
        webhook_id: Some(hook["id"].as_str().unwrap().to_owned()),
        webhook_url: rx.url(),
        event_id: event_id.into(),
        event_type: "session.status".into(),
        payload: json!({"id": event_id, "type": "session.status", "session_id": "s", "data": {}}),
    };
    let stored = app.state.store.deliveries.create_many(&[row]).await.unwrap();
    let dispatcher = wa_gateway::webhooks::dispatch::Dispatcher {
        store: app.state.store.clone(),
        queue: app.state.queue.clone(),
        config: app.state.config.webhooks.clone(),
    };
    // Younger than the threshold: left alone.
    assert_eq!(dispatcher.requeue_unattempted(Duration::from_secs(300)).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // (Other events of the session may arrive meanwhile; only this one matters.)
    assert!(!rx.events_of("session.status").iter().any(|e| e["id"] == event_id), "nothing queued it yet");

    assert_eq!(dispatcher.requeue_unattempted(Duration::ZERO).await.unwrap(), 1);
    // Its job exists now: a second sweep does not queue it again.
    assert_eq!(dispatcher.requeue_unattempted(Duration::ZERO).await.unwrap(), 0);
    eventually(|| rx.events_of("session.status").iter().any(|e| e["id"] == event_id)).await;
    let one = delivery_done(&app, stored[0].0, "delivered").await;
    assert_eq!(one["status"], "delivered");
    assert_eq!(one["attempts"], 1);
    app.stop().await.unwrap();
}
