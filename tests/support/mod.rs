//! Shared test harness: isolated databases on both backends, and the real
//! gateway started on port 0.
//!
//! PostgreSQL and Redis are used for real. Their URLs come from
//! `WAG_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! and `WAG_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`); set either to
//! `off` to skip the suites that need it.

#![allow(dead_code)]

use std::net::SocketAddr;

use figment::providers::{Format, Toml};
use sqlx::Connection;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use wa_gateway::{AppState, Config};

pub const API_KEY: &str = "test-key-0123456789abcdefghijklmnopqrstuv";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

fn env_url(var: &str, default: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if v == "off" => None,
        Ok(v) if !v.is_empty() => Some(v),
        _ => Some(default.to_owned()),
    }
}

pub fn postgres_admin_url() -> Option<String> {
    env_url("WAG_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
}

pub fn redis_url() -> Option<String> {
    env_url("WAG_TEST_REDIS_URL", "redis://127.0.0.1:6379")
}

/// A database of its own for one test, removed when dropped.
pub struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    pg_name: Option<(String, String)>,
}

impl TestDb {
    /// `None` when the backend's suite is switched off.
    pub async fn new(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().expect("tempdir");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}/wa-gateway.db", dir.path().display());
                Some(Self { url, dir, pg_name: None })
            }
            Backend::Postgres => {
                let Some(admin) = postgres_admin_url() else {
                    eprintln!("SKIPPED: PostgreSQL suite off (WAG_TEST_DATABASE_URL=off)");
                    return None;
                };
                let name = format!("wag_test_{}", uuid::Uuid::now_v7().simple());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is required for this test: {e}"));
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let url = replace_db_name(&admin, &name);
                Some(Self { url, dir, pg_name: Some((admin, name)) })
            }
        }
    }
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg_name.take() else { return };
        // Drop runs outside async context: use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
                }
            });
        })
        .join();
    }
}

/// An HTTP client for tests (installs the TLS crypto provider reqwest needs).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// The embedded defaults plus `toml`, validated like production config.
pub fn config(toml: &str) -> Config {
    Config::from_figment(Config::defaults().merge(Toml::string(toml))).expect("valid test config")
}

/// Config for a test app on `db`, with the test API key unless `api_key` is
/// overridden in `extra`.
pub fn app_config(db: &TestDb, extra: &str) -> Config {
    let has_auth = extra.contains("[auth]");
    let auth = if has_auth { String::new() } else { format!("[auth]\napi_key = \"{API_KEY}\"\n") };
    config(&format!(
        "{auth}[storage]\ndata_dir = \"{}\"\n[database]\nurl = \"{}\"\nmax_connections = 5\n{extra}",
        db.dir.path().display(),
        db.url
    ))
}

/// The real gateway on 127.0.0.1:0.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub db: TestDb,
    stop: Option<oneshot::Sender<()>>,
    pub handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, "").await
    }

    pub async fn spawn_with(backend: Backend, extra: &str) -> Option<Self> {
        let db = TestDb::new(backend).await?;
        let config = app_config(&db, extra);
        Some(Self::start(db, config).await)
    }

    pub async fn start(db: TestDb, config: Config) -> Self {
        let state = AppState::build(config).await.expect("app state");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(wa_gateway::serve(state.clone(), listener, async move {
            let _ = stopped.await;
        }));
        Self { addr, base: format!("http://{addr}"), client: http(), state, db, stop: Some(stop), handle }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the test API key.
    pub fn authed(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path)).header("x-api-key", API_KEY)
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.handle).await.expect("server task")
    }

    /// Shuts the gateway down gracefully and hands back its database, so a
    /// test can start the gateway again on the same data ("a restart").
    pub async fn restart_parts(mut self) -> (TestDb, Config) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.handle).await.expect("server task").expect("clean shutdown");
        let config = (*self.state.config).clone();
        (self.db, config)
    }
}

/// Asserts the standard error shape and returns the body.
pub async fn assert_error(res: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(res.status().as_u16(), status, "unexpected status for expected code {code}");
    let header_id =
        res.headers().get("x-request-id").expect("x-request-id header").to_str().unwrap().to_owned();
    let content_type = res.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/json"), "content-type {content_type}");
    let body: serde_json::Value = res.json().await.expect("JSON error body");
    let error = &body["error"];
    assert_eq!(error["code"], code, "body: {body}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "body: {body}");
    assert_eq!(error["request_id"], header_id.as_str(), "body: {body}");
    body
}
