//! A queue backend on isolated storage, plus helpers to run workers.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;
use wa_gateway::queue::*;
use wa_gateway::store;

use crate::support::{self, Backend, TestDb};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
    Redis,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
            Kind::Redis => "redis",
        }
    }
}

pub struct Fixture {
    pub kind: Kind,
    pub backend: Arc<dyn QueueBackend>,
    /// Where the backend lives: a database URL or a Redis URL.
    pub url: String,
    /// Redis key prefix (unique per test).
    pub prefix: String,
    _db: Option<TestDb>,
}

impl Fixture {
    pub async fn new(kind: Kind) -> Option<Self> {
        match kind {
            Kind::Sqlite | Kind::Postgres => {
                let backend = if kind == Kind::Sqlite { Backend::Sqlite } else { Backend::Postgres };
                let db = TestDb::new(backend).await?;
                let url = db.url.clone();
                let config = support::app_config(&db, "");
                let store = store::connect(&config).await.unwrap();
                store::migrate::up(store.pool()).await.unwrap();
                let backend = open(kind, &url, "").await;
                store.close().await;
                Some(Self { kind, backend, url, prefix: String::new(), _db: Some(db) })
            }
            Kind::Redis => {
                let Some(url) = support::redis_url() else {
                    eprintln!("SKIPPED: Redis suite off (WAG_TEST_REDIS_URL=off)");
                    return None;
                };
                let prefix = format!("wagtest_{}", uuid::Uuid::now_v7().simple());
                let backend = open(kind, &url, &prefix).await;
                Some(Self { kind, backend, url, prefix, _db: None })
            }
        }
    }

    /// A second, independent connection to the same queue: "another process".
    pub async fn other_process(&self) -> Arc<dyn QueueBackend> {
        open(self.kind, &self.url, &self.prefix).await
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if self.kind != Kind::Redis {
            return;
        }
        let (url, prefix) = (self.url.clone(), self.prefix.clone());
        let _ = std::thread::spawn(move || {
            let Ok(client) = redis::Client::open(url) else { return };
            let Ok(mut conn) = client.get_connection() else { return };
            let keys: Vec<String> =
                redis::cmd("KEYS").arg(format!("{{{prefix}:*")).query(&mut conn).unwrap_or_default();
            for chunk in keys.chunks(1000) {
                let _: Result<(), _> = redis::cmd("DEL").arg(chunk).query(&mut conn);
            }
        })
        .join();
    }
}

/// Opens a backend on `url`; used by fixtures and by the SIGKILL child.
pub async fn open(kind: Kind, url: &str, prefix: &str) -> Arc<dyn QueueBackend> {
    match kind {
        Kind::Sqlite => {
            let options = url
                .parse::<sqlx::sqlite::SqliteConnectOptions>()
                .unwrap()
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .unwrap();
            // As the gateway runs it: gated writes on one held connection.
            let writer = store::Writer::held_like(&pool);
            Arc::new(SqlQueue::new(pool).with_writer(store::WriteGate::serial(), writer))
        }
        Kind::Postgres => {
            let pool = sqlx::postgres::PgPoolOptions::new().max_connections(8).connect(url).await.unwrap();
            Arc::new(SqlQueue::new(pool))
        }
        Kind::Redis => {
            let client = redis::Client::open(url).unwrap();
            let conn = client.get_connection_manager().await.unwrap();
            Arc::new(RedisQueue::new(conn, prefix))
        }
    }
}

/// A handler from a closure.
pub struct FnHandler<F>(pub F);

#[async_trait]
impl<F> Handler for FnHandler<F>
where
    F: Fn(ClaimedJob) -> BoxFuture<'static, Outcome> + Send + Sync + 'static,
{
    async fn handle(&self, job: &ClaimedJob) -> Outcome {
        (self.0)(job.clone()).await
    }
}

pub fn worker_config(queue: &str, concurrency: usize) -> WorkerConfig {
    WorkerConfig {
        queue: queue.to_owned(),
        concurrency,
        batch: 32,
        lease: Duration::from_secs(10),
        poll_interval: Duration::from_millis(50),
        retry: RetryPolicy { schedule: vec![Duration::from_millis(100)], jitter: 0.0 },
        drain_timeout: Duration::from_secs(5),
    }
}

/// A running worker; stop it with `stop()`.
pub struct Running {
    pub token: CancellationToken,
    pub handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    pub async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.handle)
            .await
            .expect("worker stops")
            .unwrap()
            .unwrap();
    }
}

pub fn start<F>(backend: Arc<dyn QueueBackend>, config: WorkerConfig, handler: F) -> Running
where
    F: Fn(ClaimedJob) -> BoxFuture<'static, Outcome> + Send + Sync + 'static,
{
    let token = CancellationToken::new();
    let worker = Worker::new(backend, config, Arc::new(FnHandler(handler)));
    let handle = tokio::spawn(worker.run(token.clone()));
    Running { token, handle }
}

/// Polls `check` until it holds or `limit` passes.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}
