//! A Redis with AOF (`appendfsync always`) is SIGKILLed and restarted while
//! jobs are being enqueued and worked: every job whose enqueue was
//! acknowledged still runs. Uses its own `redis-server` on a free port.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::json;
use wa_gateway::queue::*;

use crate::fixture::{eventually, start, worker_config};

struct Server {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Server {
    fn start(port: u16, dir: &std::path::Path) -> Option<Self> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        Some(Self { child, port, dir: dir.to_owned() })
    }

    async fn wait_ready(&self) {
        let url = format!("redis://127.0.0.1:{}", self.port);
        for _ in 0..200 {
            if let Ok(client) = redis::Client::open(url.as_str())
                && let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server on port {} did not start", self.port);
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        let _ = &self.dir;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aof_redis_killed_under_load_loses_no_acknowledged_job() {
    if crate::support::redis_url().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let Some(server) = Server::start(port, dir.path()) else {
        panic!("redis-server is required for this test (apt install redis-server)");
    };
    server.wait_ready().await;
    let url = format!("redis://127.0.0.1:{port}");
    let conn = redis::Client::open(url.as_str()).unwrap().get_connection_manager().await.unwrap();
    assert_eq!(check_persistence(&conn).await, Persistence::Aof);
    let backend: Arc<dyn QueueBackend> = Arc::new(RedisQueue::new(conn, "restart"));

    let handled = Arc::new(Mutex::new(HashSet::new()));
    let h = handled.clone();
    let worker = start(backend.clone(), worker_config("messages", 8), move |job| {
        h.lock().unwrap().insert(job.id.clone());
        async { Outcome::Done }.boxed()
    });

    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let (ack, producer_backend) = (acknowledged.clone(), backend.clone());
    let producer = tokio::spawn(async move {
        for chunk in 0..30 {
            let jobs: Vec<NewJob> = (0..100)
                .map(|i| {
                    NewJob::new("messages", format!("s{}", i % 4), json!({})).id(format!("job-{chunk}-{i}"))
                })
                .collect();
            // Retry a chunk until Redis acknowledges it (ids are stable, so a
            // chunk applied just before a crash is not duplicated).
            loop {
                match producer_backend.enqueue(&jobs).await {
                    Ok(out) => {
                        ack.lock().unwrap().extend(out.into_iter().map(|e| e.id().to_owned()));
                        break;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });

    assert!(eventually(Duration::from_secs(20), || acknowledged.lock().unwrap().len() >= 1000).await);
    let mut server = server;
    server.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let restarted = Server::start(port, dir.path()).unwrap();
    restarted.wait_ready().await;

    tokio::time::timeout(Duration::from_secs(60), producer).await.expect("producer finished").unwrap();
    let expected = acknowledged.lock().unwrap().clone();
    assert_eq!(expected.len(), 3000);
    let all_ran =
        eventually(Duration::from_secs(60), || handled.lock().unwrap().is_superset(&expected)).await;
    let missing = expected.difference(&handled.lock().unwrap()).count();
    assert!(all_ran, "{missing} acknowledged jobs never ran after the Redis restart");
    worker.stop().await;
    drop(restarted);
}
