//! Reconnection under sustained failure: bounded by the schedule, the
//! breaker opens and cools down, and the session finally gives up.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use wa_gateway::sessions::Backoff;

use crate::helpers::*;
use crate::support::{Backend, TestApp};

#[tokio::test]
async fn ten_failing_sessions_do_not_spin() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, FAST).await else { return };
    let ids: Vec<String> = (0..10).map(|i| format!("down{i}")).collect();
    for id in &ids {
        create(&app, json!({"id": id, "start": false})).await;
        fault(&app, id, json!({"kind": "connect_failure"})).await;
    }
    let started = tokio::time::Instant::now();
    for id in &ids {
        let res = app.authed(Method::POST, &format!("/sessions/{id}/start")).send().await.unwrap();
        assert_eq!(res.status(), 202);
    }
    let window = Duration::from_millis(1500);
    tokio::time::sleep_until(started + window).await;
    let network = app.state.sandbox.clone().unwrap();
    let counts: Vec<u64> = ids.iter().map(|id| network.connect_attempts(id)).collect();
    let elapsed = started.elapsed();

    // The most a failing session may try in the window, from the schedule
    // itself at its shortest jitter (plus the time the starts took).
    let policy: Backoff = app.state.config.sessions.backoff();
    let bound = u64::from(policy.max_attempts_within(elapsed + Duration::from_millis(100)));
    for (id, n) in ids.iter().zip(&counts) {
        assert!(*n <= bound, "{id} made {n} attempts in {elapsed:?}; the schedule allows {bound}");
        assert!(*n >= 3, "{id} made only {n} attempts: it should still be retrying");
    }
    assert!(counts.iter().sum::<u64>() <= 10 * bound);
    let session = get(&app, "down3").await;
    assert_eq!(session["status"], "reconnecting");
    assert_eq!(session["runtime"]["breaker"], "closed");
    assert!(session["runtime"]["reconnect_attempts"].as_u64().unwrap() >= 3);
    assert!(session["runtime"]["next_retry_at"].is_string());
    assert!(session["last_error"].as_str().unwrap().contains("connection refused"));

    // Clearing the fault lets them all connect (as QR-waiting, unlinked sessions).
    for id in &ids {
        fault(&app, id, json!({"kind": "clear"})).await;
    }
    for id in &ids {
        wait_status(&app, id, "qr").await;
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_breaker_opens_cools_down_and_then_the_session_gives_up() {
    let extra = "[sessions]\nreconnect_base_ms = 50\nreconnect_jitter = 0.0\nbreaker_threshold = 2\n\
breaker_cooldown_secs = 1\nreconnect_max_attempts = 3\n";
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, extra).await else { return };
    let mut events = app.state.sessions.hub().subscribe();
    create(&app, json!({"id": "flaky", "start": false})).await;
    fault(&app, "flaky", json!({"kind": "connect_failure"})).await;
    app.authed(Method::POST, "/sessions/flaky/start").send().await.unwrap();

    // After two failures the breaker is open and the next try is a cool-down away.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let open = loop {
        let s = get(&app, "flaky").await;
        if s["runtime"]["breaker"] == "open" {
            break s;
        }
        assert!(tokio::time::Instant::now() < deadline, "breaker never opened: {s}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(open["runtime"]["reconnect_attempts"], 2);

    let failed = wait_status(&app, "flaky", "failed").await;
    assert_eq!(failed["runtime"]["reconnect_attempts"], 3);
    let rows = events_of(&app).await;
    let reasons: Vec<&str> = rows.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(reasons, ["start", "connect_failed", "breaker_open", "gave_up"]);
    let rows = crate::helpers::events(&app, "flaky").await;
    let (opened, gave_up) = (at(&rows[2]), at(&rows[3]));
    assert!((gave_up - opened).num_milliseconds() >= 990, "the probe waited for the cool-down");

    // Giving up is announced once, as session.failed.
    let mut failed_events = 0;
    while let Ok(event) = events.try_recv() {
        if event.event == "session.failed" && event.session_id == "flaky" {
            failed_events += 1;
            assert_eq!(event.data["attempts"], 3);
        }
    }
    assert_eq!(failed_events, 1);
    let attempts = app.state.sandbox.as_ref().unwrap().connect_attempts("flaky");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.state.sandbox.as_ref().unwrap().connect_attempts("flaky"),
        attempts,
        "no attempts after giving up"
    );
    app.stop().await.unwrap();

    async fn events_of(app: &TestApp) -> Vec<(String, String)> {
        statuses(&crate::helpers::events(app, "flaky").await)
    }
}

#[tokio::test]
async fn banned_and_replaced_sessions_do_not_retry() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, FAST).await else { return };
    for (id, phone, kind, status) in [
        ("ban", "491702220001", "temporary_ban", "banned"),
        ("rep", "491702220002", "stream_replaced", "replaced"),
    ] {
        linked(&app, id, phone).await;
        let before = app.state.sandbox.as_ref().unwrap().connect_attempts(id);
        fault(&app, id, json!({"kind": kind})).await;
        wait_status(&app, id, status).await;
        // The view joins the live status and the stored record, read one
        // after the other: poll until the record caught up.
        let mut s = get(&app, id).await;
        for _ in 0..100 {
            if s["desired_state"] == "stopped" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            s = get(&app, id).await;
        }
        assert_eq!(s["desired_state"], "stopped");
        assert!(s["last_error"].is_string());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(get(&app, id).await["status"], status);
        assert_eq!(app.state.sandbox.as_ref().unwrap().connect_attempts(id), before);
        assert!(app.state.store.credentials.get(id).await.unwrap().is_some(), "{status} keeps credentials");
    }
    let ban = crate::helpers::events(&app, "ban").await;
    let last = ban.last().unwrap();
    assert_eq!(last["details"]["code"], 402);
    assert!(last["details"]["expires_at"].is_string());
    app.stop().await.unwrap();
}
