//! The logs of a busy run never contain the API key, webhook signing
//! secrets or custom webhook header values, even at debug level and with
//! failing deliveries; and lines carry the request and session they belong
//! to.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::binary::Gateway;

const KEY: &str = "log-capture-key-Z9y8X7w6V5u4T3s2R1q0";
const SECRET: &str = "whsec_c2VjcmV0LXNpZ25pbmcta2V5LWZvci10aGUtbG9nLXRlc3Q=";
const ROTATED: &str = "whsec_cm90YXRlZC1zaWduaW5nLWtleS1mb3ItdGhlLWxvZy10ZXN0";
const HEADER_VALUE: &str = "hdr-value-that-is-a-credential-42";

/// A receiver that always answers 500, so deliveries retry and log errors.
async fn failing_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\nconnection: close\r\n\r\nboom").await;
            });
        }
    });
    format!("http://{addr}/hook")
}

async fn call(req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state").display().to_string();
    let receiver = failing_receiver().await;
    let gw = tokio::task::spawn_blocking(move || {
        Gateway::start(&[
            ("API_KEY", KEY),
            ("WAG_STORAGE__DATA_DIR", &data),
            ("WAG_LOG__LEVEL", "debug"),
            ("WAG_WEBHOOKS__ALLOW_PRIVATE_NETWORKS", "true"),
            ("WAG_WEBHOOKS__RETRY_SCHEDULE_SECS", "[1]"),
            ("WAG_WEBHOOKS__RETRY_JITTER", "0.0"),
            ("WAG_WEBHOOKS__MAX_ATTEMPTS", "2"),
            ("WAG_SANDBOX__DELIVERED_AFTER_MS", "10"),
        ])
    })
    .await
    .unwrap();
    let c = crate::support::http();
    let authed = |m: reqwest::Method, p: &str| c.request(m, gw.url(p)).header("x-api-key", KEY);

    let hook = json!({"url": receiver, "secret": SECRET, "headers": {"X-Partner-Token": HEADER_VALUE}});
    let (status, created) =
        call(authed(reqwest::Method::POST, "/sessions").json(&json!({"id": "logs", "webhooks": [hook]})))
            .await;
    assert_eq!(status, 201, "{created}");
    let hook_id = created["webhooks"][0]["id"].as_str().unwrap().to_owned();
    // A bearer token, and a wrong key, are not logged either.
    let (status, _) = call(c.get(gw.url("/sessions/logs")).bearer_auth(KEY)).await;
    assert_eq!(status, 200);
    let (status, _) = call(c.get(gw.url("/sessions")).header("x-api-key", format!("{KEY}-wrong"))).await;
    assert_eq!(status, 401);
    for _ in 0..100 {
        let (status, _) = call(
            authed(reqwest::Method::POST, "/sandbox/sessions/logs/link")
                .json(&json!({"phone": "491707800001"})),
        )
        .await;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, sent) = call(
        authed(reqwest::Method::POST, "/sessions/logs/message")
            .json(&json!({"to": "491707800002", "text": "hello"})),
    )
    .await;
    assert_eq!(status, 202, "{sent}");
    let (status, _) = call(
        authed(reqwest::Method::PATCH, &format!("/sessions/logs/webhooks/{hook_id}"))
            .json(&json!({"secret": format!("{ROTATED} {SECRET}")})),
    )
    .await;
    assert_eq!(status, 200);
    // Let deliveries fail and retry a few times.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, page) =
            call(authed(reqwest::Method::GET, "/sessions/logs/webhooks/deliveries?status=dead")).await;
        if page["data"].as_array().is_some_and(|d| !d.is_empty()) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no delivery died: {page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    gw.signal("TERM");
    let mut gw = gw;
    let code = tokio::task::spawn_blocking(move || {
        let code = gw.wait(Duration::from_secs(30));
        (code, gw.drain_lines())
    })
    .await
    .unwrap();
    let (code, lines) = code;
    assert_eq!(code, Some(0));
    assert!(lines.len() > 50, "a debug run logs plenty: {} lines", lines.len());
    let base64_part = SECRET.trim_start_matches("whsec_");
    for line in &lines {
        for (what, secret) in [
            ("API key", KEY),
            ("webhook secret", base64_part),
            ("rotated secret", ROTATED),
            ("header value", HEADER_VALUE),
        ] {
            assert!(!line.contains(secret), "the {what} leaked into the log: {line}");
        }
    }
    // Context: request lines carry their request id; session work names the session.
    let parsed: Vec<Value> = lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(
        parsed.iter().any(|l| l["message"] == "request finished" && l["span"]["request_id"].is_string()),
        "request lines carry request_id"
    );
    assert!(
        parsed
            .iter()
            .any(|l| l["message"] == "session status" && l["session"] == "logs" && l["to"] == "connected"),
        "session transitions are logged with the session id"
    );
}
