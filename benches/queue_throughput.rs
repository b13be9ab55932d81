//! Queue throughput, per backend: jobs per second from enqueue to handled
//! with a trivial handler, and the time to drain a backlog.
//!
//! ```sh
//! cargo bench --bench queue_throughput                   # all backends, 20,000 jobs
//! cargo bench --bench queue_throughput -- redis 100000   # one backend, 100,000 jobs
//! ```
//!
//! PostgreSQL and Redis come from `WAG_TEST_DATABASE_URL` / `WAG_TEST_REDIS_URL`
//! (defaults as in the tests). Each run uses a fresh database or key prefix.

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::json;
use support::TempPostgres;
use tokio_util::sync::CancellationToken;
use wa_gateway::queue::*;

struct Count(Arc<AtomicUsize>);

#[async_trait]
impl Handler for Count {
    async fn handle(&self, _job: &ClaimedJob) -> Outcome {
        self.0.fetch_add(1, Ordering::Relaxed);
        Outcome::Done
    }
}

fn worker_config() -> WorkerConfig {
    WorkerConfig {
        queue: "bench".into(),
        concurrency: 64,
        batch: 128,
        lease: Duration::from_secs(30),
        poll_interval: Duration::from_millis(20),
        retry: RetryPolicy { schedule: vec![Duration::from_secs(1)], jitter: 0.0 },
        drain_timeout: Duration::from_secs(5),
    }
}

fn jobs(n: usize) -> Vec<NewJob> {
    (0..n)
        .map(|i| NewJob::new("bench", format!("session-{}", i % 16), json!({"n": i, "to": "491701234567"})))
        .collect()
}

async fn run_worker(backend: Arc<dyn QueueBackend>, expect: usize) -> Duration {
    let count = Arc::new(AtomicUsize::new(0));
    let token = CancellationToken::new();
    let worker = Worker::new(backend, worker_config(), Arc::new(Count(count.clone())));
    let started = Instant::now();
    let handle = tokio::spawn(worker.run(token.clone()));
    while count.load(Ordering::Relaxed) < expect {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = started.elapsed();
    token.cancel();
    handle.await.unwrap().unwrap();
    took
}

/// Enqueue and handle concurrently: the steady-state rate.
async fn end_to_end(backend: Arc<dyn QueueBackend>, n: usize) -> f64 {
    let producer = backend.clone();
    let started = Instant::now();
    let feed = tokio::spawn(async move {
        for chunk in jobs(n).chunks(500) {
            producer.enqueue(chunk).await.unwrap();
        }
    });
    run_worker(backend, n).await;
    feed.await.unwrap();
    n as f64 / started.elapsed().as_secs_f64()
}

/// Everything enqueued first (downtime), then drained.
async fn backlog(backend: Arc<dyn QueueBackend>, n: usize) -> (Duration, Duration) {
    let started = Instant::now();
    for chunk in jobs(n).chunks(1000) {
        backend.enqueue(chunk).await.unwrap();
    }
    let enqueue = started.elapsed();
    (enqueue, run_worker(backend, n).await)
}

async fn open(kind: &str) -> (Arc<dyn QueueBackend>, Box<dyn FnOnce() + Send>) {
    match kind {
        "redis" => {
            let url = support::redis_url();
            let prefix = format!("wagbench_{}", uuid::Uuid::now_v7().simple());
            let conn = redis::Client::open(url.as_str()).unwrap().get_connection_manager().await.unwrap();
            let queue = RedisQueue::new(conn, &prefix);
            let cleanup = move || support::drop_redis_keys(&url, &prefix);
            (Arc::new(queue), Box::new(cleanup))
        }
        "postgres" => {
            let db = TempPostgres::create().await.expect("postgres is reachable");
            let pool =
                sqlx::postgres::PgPoolOptions::new().max_connections(10).connect(&db.url).await.unwrap();
            migrate(wa_gateway::store::Pool::Postgres(pool.clone())).await;
            let cleanup = move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(db.drop());
            };
            (Arc::new(SqlQueue::new(pool)), Box::new(move || std::thread::spawn(cleanup).join().unwrap()))
        }
        _ => {
            let dir = tempfile::tempdir().unwrap();
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(dir.path().join("bench.db"))
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10));
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await
                .unwrap();
            migrate(wa_gateway::store::Pool::Sqlite(pool.clone())).await;
            (Arc::new(SqlQueue::new(pool)), Box::new(move || drop(dir)))
        }
    }
}

async fn migrate(pool: wa_gateway::store::Pool) {
    wa_gateway::store::migrate::up(&pool).await.unwrap();
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let kinds: Vec<&str> = match args.first().map(String::as_str) {
        Some(k @ ("redis" | "postgres" | "sqlite")) => vec![k],
        _ => vec!["redis", "postgres", "sqlite"],
    };
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    println!("backend   jobs  end-to-end jobs/s  backlog enqueue  backlog drain  drain jobs/s");
    for kind in kinds {
        let (backend, cleanup) = open(kind).await;
        let rate = end_to_end(backend.clone(), n).await;
        let (enqueue, drain) = backlog(backend, n).await;
        println!(
            "{kind:<8} {n:>6}  {rate:>17.0}  {:>14.2}s  {:>12.2}s  {:>12.0}",
            enqueue.as_secs_f64(),
            drain.as_secs_f64(),
            n as f64 / drain.as_secs_f64()
        );
        cleanup();
    }
}
