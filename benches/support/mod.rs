//! What the benchmarks share: a throwaway PostgreSQL database and the
//! Redis URL, both from the same variables as the tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::Connection;

/// A webhook receiver on 127.0.0.1:0 answering 204 and counting the
/// deliveries: (its URL, the count).
#[allow(dead_code)] // session_restore sends no webhooks
pub async fn counting_receiver() -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, count)
}

/// The Redis the benchmarks use (`WAG_TEST_REDIS_URL`).
#[allow(dead_code)] // session_restore uses no Redis
pub fn redis_url() -> String {
    std::env::var("WAG_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Deletes every key whose name holds `prefix` (a run's unique key prefix):
/// a benchmark leaves Redis as it found it, so the next run's lookups do
/// not pay for a keyspace grown by earlier runs.
#[allow(dead_code)] // session_restore uses no Redis
pub fn drop_redis_keys(url: &str, prefix: &str) {
    let Ok(mut c) = redis::Client::open(url).and_then(|c| c.get_connection()) else { return };
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("*{prefix}*")).query(&mut c).unwrap_or_default();
    for chunk in keys.chunks(1000) {
        let _: redis::RedisResult<()> = redis::cmd("DEL").arg(chunk).query(&mut c);
    }
}

/// A fresh database on the server of `WAG_TEST_DATABASE_URL`, dropped by
/// [`TempPostgres::drop`].
pub struct TempPostgres {
    admin: String,
    name: String,
    pub url: String,
}

impl TempPostgres {
    /// None when the server cannot be reached.
    pub async fn create() -> Option<Self> {
        let admin = std::env::var("WAG_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
        let name = format!("wag_bench_{}", uuid::Uuid::now_v7().simple());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
        Some(Self { admin, name, url })
    }

    pub async fn drop(self) {
        let mut conn = sqlx::PgConnection::connect(&self.admin).await.unwrap();
        let sql = format!("DROP DATABASE {} WITH (FORCE)", self.name);
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
    }
}
