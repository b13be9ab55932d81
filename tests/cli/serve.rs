use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::binary::Gateway;
use crate::support::{self, API_KEY, Backend, TestDb};

fn get(url: &str) -> (u16, serde_json::Value) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let res = crate::support::http().get(url).send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    })
}

#[test]
fn only_an_api_key_gives_a_ready_gateway_on_embedded_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    let data_str = data.display().to_string();
    let gw = Gateway::start(&[("API_KEY", API_KEY), ("WAG_STORAGE__DATA_DIR", &data_str)]);
    let (status, body) = get(&gw.url("/health/ready"));
    assert_eq!(status, 200, "{body}");
    let (_, summary) = get(&gw.url("/health"));
    assert_eq!(summary["database"], "sqlite");
    assert!(data.join("wa-gateway.db").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "the data directory holds session keys");
    }
    let logs = gw.drain_lines().join("\n");
    assert!(!logs.contains(API_KEY), "the API key appeared in the log");
}

#[tokio::test]
async fn database_url_and_redis_url_switch_to_postgres_and_redis() {
    let Some(redis) = support::redis_url() else { return };
    let Some(db) = TestDb::new(Backend::Postgres).await else { return };
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || {
        let gw = Gateway::start(&[("API_KEY", API_KEY), ("DATABASE_URL", &url), ("REDIS_URL", &redis)]);
        let (status, body) = get(&gw.url("/health/ready"));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["checks"]["redis"]["status"], "ok");
        let (_, summary) = get(&gw.url("/health"));
        assert_eq!(summary["database"], "postgres");
    })
    .await
    .unwrap();
    drop(db);
}

/// Sends the head and part of the body of a POST, leaving the request in flight.
fn start_slow_create(addr: std::net::SocketAddr, body: &str, sent: usize) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "POST /sessions HTTP/1.1\r\nhost: gw\r\nx-api-key: {API_KEY}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body.as_bytes()[..sent]).unwrap();
    stream.flush().unwrap();
    stream
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let mut gw = Gateway::start(&[("API_KEY", API_KEY), ("WAG_STORAGE__DATA_DIR", &data)]);
    let body = r#"{"id": "survivor"}"#;
    let mut stream = start_slow_create(gw.addr, body, 5);
    std::thread::sleep(Duration::from_millis(300));

    gw.signal("TERM");
    std::thread::sleep(Duration::from_millis(500));
    assert!(gw.child.try_wait().unwrap().is_none(), "exited with a request in flight");
    assert!(TcpStream::connect(gw.addr).is_err(), "still accepting connections after SIGTERM");

    stream.write_all(&body.as_bytes()[5..]).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    assert!(response.contains("\"id\":\"survivor\""), "{response}");

    assert_eq!(gw.wait(Duration::from_secs(10)), Some(0));
    let logs = gw.drain_lines().join("\n");
    assert!(logs.contains("shutdown complete"), "{logs}");
}

#[test]
fn shutdown_is_bounded_when_a_request_never_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let mut gw = Gateway::start(&[
        ("API_KEY", API_KEY),
        ("WAG_STORAGE__DATA_DIR", &data),
        ("WAG_SHUTDOWN__TIMEOUT_SECS", "2"),
        ("WAG_QUEUE__DRAIN_TIMEOUT_SECS", "1"),
    ]);
    let _stuck = start_slow_create(gw.addr, r#"{"id": "never"}"#, 3);
    std::thread::sleep(Duration::from_millis(300));
    let started = std::time::Instant::now();
    gw.signal("INT");
    let code = gw.wait(Duration::from_secs(10));
    assert_eq!(code, Some(1), "a forced shutdown is not a clean exit");
    assert!(started.elapsed() < Duration::from_secs(6), "took {:?}", started.elapsed());
}
