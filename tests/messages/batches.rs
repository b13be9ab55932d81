//! Batches: up to 100 messages under one id, all or nothing, paced, followed together.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::support::{Backend, TestApp, assert_error};

/// Pacing on (200/s, burst 20), so the batch is spread out by the limiter.
const PACED: &str = "[sessions]\nreconnect_base_ms = 100\n[sandbox]\ndelivered_after_ms = 20\nread_after_ms = 10000\n\
[messages]\npacing_enabled = true\npacing_per_second = 200.0\npacing_burst = 20\npacing_jitter_ms = 0\n\
[queue]\nretry_schedule_secs = [1]\npoll_interval_ms = 20\n";

async fn post_batch(app: &TestApp, session: &str, messages: Vec<Value>) -> reqwest::Response {
    app.authed(Method::POST, &format!("/sessions/{session}/message/batch"))
        .json(&json!({ "messages": messages }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_hundred_message_batch_is_delivered_under_pacing() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, PACED).await else { return };
    linked(&app, "a", "491708000001").await;
    let messages: Vec<Value> =
        (0..100).map(|i| json!({"to": format!("49170810{i:05}"), "text": format!("hello {i}")})).collect();
    let res = post_batch(&app, "a", messages).await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let batch: Value = res.json().await.unwrap();
    let id = batch["batch_id"].as_str().unwrap();
    assert!(id.starts_with("bat_"));
    assert_eq!(batch["total"], 100);
    assert_eq!(batch["messages"][7]["preview"], "hello 7", "in the order given");
    assert_eq!(batch["messages"][7]["batch_id"], id);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let done = loop {
        let now = get_json(&app, &format!("/sessions/a/message/batch/{id}")).await;
        if now["counts"]["delivered"] == 100 {
            break now;
        }
        assert!(tokio::time::Instant::now() < deadline, "batch not delivered: {}", now["counts"]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done["total"], 100);
    assert!(done["messages"].as_array().unwrap().iter().all(|m| m["status"] == "delivered"));
    // Pacing spread the sends: 100 at 200/s after a burst of 20 takes ≥ 0.4 s.
    let sent: Vec<chrono::DateTime<chrono::Utc>> = done["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["sent_at"].as_str().unwrap().parse().unwrap())
        .collect();
    let span = *sent.iter().max().unwrap() - *sent.iter().min().unwrap();
    assert!(span >= chrono::Duration::milliseconds(350), "sends were not paced: {span}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_batch_is_validated_all_or_nothing() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, PACED).await else { return };
    create(&app, json!({"id": "a", "start": false})).await;
    let res = post_batch(
        &app,
        "a",
        vec![
            json!({"to": "491708000002", "text": "fine"}),
            json!({"to": "12", "text": "bad"}),
            json!({"to": "491708000003"}),
        ],
    )
    .await;
    let err = assert_error(res, 422, "validation_failed").await;
    let details = &err["error"]["details"];
    assert!(details["messages[1].to"].is_array(), "{details}");
    assert!(details["messages[2].text"].is_array(), "{details}");
    assert!(details.get("messages[0].to").is_none(), "{details}");
    let log = get_json(&app, "/sessions/a/messages").await;
    assert_eq!(log["data"].as_array().unwrap().len(), 0, "nothing was queued");

    assert_error(post_batch(&app, "a", vec![]).await, 422, "validation_failed").await;
    let too_many: Vec<Value> = (0..101).map(|_| json!({"to": "491708000002", "text": "x"})).collect();
    assert_error(post_batch(&app, "a", too_many).await, 422, "validation_failed").await;
    assert_error(
        post_batch(&app, "nope", vec![json!({"to": "491708000002", "text": "x"})]).await,
        404,
        "session_not_found",
    )
    .await;
    let res = app.authed(Method::GET, "/sessions/a/message/batch/bat_missing").send().await.unwrap();
    assert_error(res, 404, "batch_not_found").await;
    app.stop().await.unwrap();
}

/// A retried batch POST (same Idempotency-Key, same body) answers with the
/// same batch and queues nothing twice; a different body under the key is
/// refused.
#[tokio::test]
async fn a_retried_batch_with_the_same_idempotency_key_sends_once() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, crate::send::CONFIG).await else { return };
    linked(&app, "a", "491708200001").await;
    linked(&app, "b", "491708200002").await;
    let body = json!({"messages": [
        {"to": "491708200002", "text": "first"},
        {"to": "491708200002", "text": "second"},
        {"to": "491708200002", "text": "third"},
    ]});
    let post = |key: &'static str, body: Value| {
        app.authed(Method::POST, "/sessions/a/message/batch")
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first: Value = post("order-77", body.clone()).await.unwrap().json().await.unwrap();
    let batch_id = first["batch_id"].as_str().unwrap().to_owned();
    let again = post("order-77", body.clone()).await.unwrap();
    assert_eq!(again.status(), 202);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["batch_id"], batch_id.as_str(), "the same batch answers");
    let ids = |v: &Value| {
        let mut ids: Vec<String> =
            v["messages"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&again), ids(&first));
    crate::send::wait_incoming(&app, "b", 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = get_json(&app, "/sessions/b/messages?direction=incoming").await;
    assert_eq!(received["data"].as_array().unwrap().len(), 3, "each message arrived once: {received}");

    // The same key with another body is refused; another key is another batch.
    let other = json!({"messages": [{"to": "491708200002", "text": "different"}]});
    assert_error(post("order-77", other.clone()).await.unwrap(), 422, "idempotency_key_reused").await;
    let fresh: Value = post("order-78", other).await.unwrap().json().await.unwrap();
    assert_ne!(fresh["batch_id"], batch_id.as_str());
    // The same key on a single send is a different request, not this batch.
    let res = app
        .authed(Method::POST, "/sessions/a/message")
        .header("Idempotency-Key", "order-77")
        .json(&json!({"to": "491708200002", "text": "single"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);

    // Batch message ids derive from the batch id, so a retry names the same
    // messages (and re-queues only those a dead first attempt never wrote).
    let partial = json!({"messages": [
        {"to": "491708200002", "text": "p1"},
        {"to": "491708200002", "text": "p2"},
    ]});
    let done: Value = post("order-79", partial.clone()).await.unwrap().json().await.unwrap();
    let pid = done["batch_id"].as_str().unwrap().to_owned();
    let second_id = wa_gateway::messages::ids::batch_message_id(&pid, 1);
    assert!(ids(&done).contains(&second_id), "batch message ids are derived from the batch");
    let replay: Value = post("order-79", partial).await.unwrap().json().await.unwrap();
    assert_eq!(replay["total"], 2, "{replay}");
    app.stop().await.unwrap();
}
