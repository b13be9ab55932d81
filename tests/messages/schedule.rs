//! Scheduled messages: durable across a restart, on time, cancellable.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::send::{CONFIG, wait_message};
use crate::support::{Backend, TestApp, assert_error};

async fn schedule(app: &TestApp, session: &str, body: Value) -> reqwest::Response {
    app.authed(Method::POST, &format!("/sessions/{session}/message/schedule"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

async fn survives_a_restart_fires_on_time_and_cancelled_never_fires(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, CONFIG).await else { return };
    linked(&app, "a", "491709000001").await;
    let due = Utc::now() + chrono::Duration::seconds(3);
    let due_text = due.to_rfc3339();
    let res =
        schedule(&app, "a", json!({"send_at": due_text, "message": {"to": "491709000002", "text": "later"}}))
            .await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let kept: Value = res.json().await.unwrap();
    assert_eq!(kept["status"], "queued");
    assert_eq!(time(&kept["scheduled_at"]).timestamp_millis(), due.timestamp_millis());
    let res =
        schedule(&app, "a", json!({"send_at": due_text, "message": {"to": "491709000003", "text": "never"}}))
            .await;
    let dropped: Value = res.json().await.unwrap();

    let pending = get_json(&app, "/sessions/a/message/schedule").await;
    assert_eq!(pending["data"].as_array().unwrap().len(), 2);
    let path = format!("/sessions/a/message/schedule/{}", dropped["id"].as_str().unwrap());
    assert_eq!(app.authed(Method::DELETE, &path).send().await.unwrap().status(), 204);
    assert_error(app.authed(Method::DELETE, &path).send().await.unwrap(), 409, "already_sent").await;
    let pending = get_json(&app, "/sessions/a/message/schedule").await;
    assert_eq!(pending["data"].as_array().unwrap().len(), 1);
    assert_eq!(pending["data"][0]["id"], kept["id"]);

    // A restart before the time: the message is still sent, on time.
    let (db, config) = app.restart_parts().await;
    let app = TestApp::start(db, config).await;
    wait_status(&app, "a", "connected").await;
    let id = kept["id"].as_str().unwrap();
    let sent = wait_message(&app, "a", id, "sent").await;
    let sent_at = time(&sent["steps"]["sent"]);
    assert!(sent_at >= due, "sent at {sent_at}, before its time {due}");
    assert!(sent_at - due < chrono::Duration::milliseconds(1500), "sent at {sent_at}, due {due}");

    tokio::time::sleep(Duration::from_millis(500)).await;
    let cancelled =
        get_json(&app, &format!("/sessions/a/messages/{}", dropped["id"].as_str().unwrap())).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["sent_at"].is_null(), "a cancelled message never fires: {cancelled}");
    assert_eq!(get_json(&app, "/sessions/a/message/schedule").await["data"].as_array().unwrap().len(), 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn scheduled_messages_on_sqlite() {
    survives_a_restart_fires_on_time_and_cancelled_never_fires(Backend::Sqlite).await;
}

#[tokio::test]
async fn scheduled_messages_on_postgres() {
    survives_a_restart_fires_on_time_and_cancelled_never_fires(Backend::Postgres).await;
}

#[tokio::test]
async fn bad_schedules_get_clear_errors() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    create(&app, json!({"id": "a", "start": false})).await;
    let msg = json!({"to": "491709000002", "text": "x"});
    let past = schedule(&app, "a", json!({"send_at": "2020-01-01T00:00:00Z", "message": msg})).await;
    let err = assert_error(past, 422, "validation_failed").await;
    assert_eq!(err["error"]["details"]["send_at"], json!(["is in the past"]));
    let zone = schedule(
        &app,
        "a",
        json!({"local_time": "2030-01-01T09:00", "timezone": "Nowhere/City", "message": msg}),
    )
    .await;
    assert_error(zone, 422, "validation_failed").await;
    let bad_msg = schedule(
        &app,
        "a",
        json!({"send_at": (Utc::now() + chrono::Duration::hours(1)).to_rfc3339(), "message": {"to": "1"}}),
    )
    .await;
    assert_error(bad_msg, 422, "validation_failed").await;
    // A local time in a zone is accepted and shown as the instant it means.
    let local = schedule(
        &app,
        "a",
        json!({"local_time": "2027-07-01T09:00", "timezone": "Europe/Berlin", "message": msg}),
    )
    .await;
    assert_eq!(local.status(), 202);
    let local: Value = local.json().await.unwrap();
    assert_eq!(time(&local["scheduled_at"]), "2027-07-01T07:00:00Z".parse::<DateTime<Utc>>().unwrap());
    // Only scheduled messages are cancelled here.
    let now = app.authed(Method::POST, "/sessions/a/message").json(&msg).send().await.unwrap();
    let now: Value = now.json().await.unwrap();
    let res = app
        .authed(Method::DELETE, &format!("/sessions/a/message/schedule/{}", now["id"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_error(res, 409, "not_scheduled").await;
    let res = app.authed(Method::DELETE, "/sessions/a/message/schedule/msg_missing").send().await.unwrap();
    assert_error(res, 404, "message_not_found").await;
    app.stop().await.unwrap();
}

/// A retried schedule request with the same Idempotency-Key schedules once.
#[tokio::test]
async fn a_retried_schedule_with_the_same_idempotency_key_schedules_once() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    linked(&app, "a", "491708300001").await;
    let at = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let body = json!({"send_at": at, "message": {"to": "491708300002", "text": "later"}});
    let post = |key: &'static str, body: Value| {
        app.authed(Method::POST, "/sessions/a/message/schedule")
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first: Value = post("sched-1", body.clone()).await.unwrap().json().await.unwrap();
    let again = post("sched-1", body.clone()).await.unwrap();
    assert_eq!(again.status(), 202);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    let pending = get_json(&app, "/sessions/a/message/schedule").await;
    assert_eq!(pending["data"].as_array().unwrap().len(), 1, "scheduled once: {pending}");
    let other = json!({"send_at": at, "message": {"to": "491708300002", "text": "other"}});
    assert_error(post("sched-1", other).await.unwrap(), 422, "idempotency_key_reused").await;
    app.stop().await.unwrap();
}
