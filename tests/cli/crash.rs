//! An accepted message survives the process being killed: SIGKILL right
//! after the 202s, restart on the same data, and every message ends `sent`
//! (or further) or `failed` with a reason. None stays queued, none vanishes.

use std::time::Duration;

use serde_json::{Value, json};

use crate::binary::Gateway;
use crate::support::{API_KEY, http};

async fn start(data: String) -> Gateway {
    tokio::task::spawn_blocking(move || {
        Gateway::start(&[
            ("API_KEY", API_KEY),
            ("WAG_STORAGE__DATA_DIR", &data),
            // Slow pacing so most messages are still queued at the kill.
            ("WAG_MESSAGES__PACING_PER_SECOND", "20"),
            ("WAG_MESSAGES__PACING_BURST", "1"),
            ("WAG_MESSAGES__PACING_JITTER_MS", "0"),
            ("WAG_QUEUE__LEASE_SECS", "2"),
            ("WAG_QUEUE__POLL_INTERVAL_MS", "20"),
            ("WAG_SANDBOX__DELIVERED_AFTER_MS", "10"),
        ])
    })
    .await
    .unwrap()
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client.request(method, url).header("x-api-key", API_KEY);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_messages_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state").display().to_string();
    let client = http();
    let gw = start(data.clone()).await;
    let (status, _) =
        call(&client, reqwest::Method::POST, gw.url("/sessions"), Some(json!({"id": "shop"}))).await;
    assert_eq!(status, 201);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, s) = call(&client, reqwest::Method::GET, gw.url("/sessions/shop"), None).await;
        if s["status"] == "qr" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never waited for a QR scan: {s}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let link = json!({"phone": "491701230000"});
    let (status, s) =
        call(&client, reqwest::Method::POST, gw.url("/sandbox/sessions/shop/link"), Some(link)).await;
    assert_eq!((status, s["status"].as_str()), (200, Some("connected")));

    let mut accepted = Vec::new();
    for i in 0..40 {
        let to = if i % 10 == 9 { format!("9991230000{i:02}") } else { format!("4917012300{i:02}") };
        let (status, m) = call(
            &client,
            reqwest::Method::POST,
            gw.url("/sessions/shop/message"),
            Some(json!({"to": to, "text": format!("order {i}")})),
        )
        .await;
        assert_eq!(status, 202, "{m}");
        accepted.push((m["id"].as_str().unwrap().to_owned(), to.starts_with("999")));
    }
    gw.signal("KILL");
    drop(gw);

    // Same data directory, new process: the session is restored and the queue drains.
    let gw = start(data).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut pending = accepted.clone();
    let mut unsent_at_kill = 0;
    while !pending.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "still queued after restart: {pending:?}");
        let mut still = Vec::new();
        for (id, bad) in pending {
            let (status, m) = call(
                &client,
                reqwest::Method::GET,
                gw.url(&format!("/sessions/shop/messages/{id}/status")),
                None,
            )
            .await;
            assert_eq!(status, 200, "message {id} vanished: {m}");
            match (m["status"].as_str().unwrap(), bad) {
                ("queued", _) => still.push((id, bad)),
                ("failed", true) => assert!(m["error"].as_str().unwrap().contains("not on WhatsApp"), "{m}"),
                (s, false) if ["sent", "delivered", "read"].contains(&s) => {}
                (s, _) => panic!("message {id} ended {s}: {m}"),
            }
        }
        if unsent_at_kill == 0 {
            unsent_at_kill = still.len();
        }
        pending = still;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(unsent_at_kill > 0, "the kill came too late to prove anything");
}
