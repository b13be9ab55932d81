//! At-least-once across a real process death: a child process claims a job
//! and is SIGKILLed mid-run; the job is delivered again, same id, next attempt.
//!
//! The child is this test binary re-executed with `WAG_QUEUE_CHILD` set, which
//! turns `child_worker` into a worker that never finishes its job.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::json;
use wa_gateway::queue::*;

use crate::fixture::{Fixture, Kind, eventually, open, start, worker_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_worker() {
    let Ok(spec) = std::env::var("WAG_QUEUE_CHILD") else { return };
    let mut parts = spec.splitn(3, '|');
    let kind = match parts.next().unwrap() {
        "sqlite" => Kind::Sqlite,
        "postgres" => Kind::Postgres,
        _ => Kind::Redis,
    };
    let (url, prefix) = (parts.next().unwrap().to_owned(), parts.next().unwrap_or("").to_owned());
    let backend = open(kind, &url, &prefix).await;
    let mut config = worker_config("messages", 1);
    config.lease = Duration::from_millis(1500);
    let worker = start(backend, config, |job| {
        println!("STARTED {} {}", job.id, job.attempt);
        async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Outcome::Done
        }
        .boxed()
    });
    let _ = worker.handle.await;
}

async fn killed_mid_run_is_redelivered(kind: Kind) {
    let Some(f) = Fixture::new(kind).await else { return };
    f.backend.enqueue(&[NewJob::new("messages", "s", json!({"to": "x"})).id("msg_kill")]).await.unwrap();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "sigkill::child_worker", "--nocapture", "--test-threads", "1"])
        .env("WAG_QUEUE_CHILD", format!("{}|{}|{}", kind.name(), f.url, f.prefix))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let started = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout).lines().map_while(Result::ok).find(|l| l.contains("STARTED msg_kill 1"))
    });
    let line =
        tokio::time::timeout(Duration::from_secs(30), started).await.expect("child never started the job");
    assert!(line.unwrap().is_some(), "child exited without starting the job");
    assert_eq!(f.backend.get("messages", "msg_kill").await.unwrap().unwrap().state, JobState::Running);

    let status = Command::new("kill").args(["-KILL", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    child.wait().unwrap();

    let handled = Arc::new(Mutex::new(Vec::new()));
    let h = handled.clone();
    let worker = start(f.backend.clone(), worker_config("messages", 2), move |job| {
        h.lock().unwrap().push((job.id.clone(), job.attempt));
        async { Outcome::Done }.boxed()
    });
    // The child's lease is 1.5 s (renewed every 0.5 s until the kill).
    assert!(
        eventually(Duration::from_secs(10), || !handled.lock().unwrap().is_empty()).await,
        "never redelivered"
    );
    worker.stop().await;
    assert_eq!(*handled.lock().unwrap(), [("msg_kill".to_owned(), 2)]);
    assert_eq!(f.backend.get("messages", "msg_kill").await.unwrap().unwrap().state, JobState::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_job_of_a_sigkilled_worker_is_redelivered() {
    killed_mid_run_is_redelivered(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_job_of_a_sigkilled_worker_is_redelivered() {
    killed_mid_run_is_redelivered(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_job_of_a_sigkilled_worker_is_redelivered() {
    killed_mid_run_is_redelivered(Kind::Redis).await;
}
