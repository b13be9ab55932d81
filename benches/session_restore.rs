//! Session restore and idle memory: the time to bring back N linked sandbox
//! sessions at startup (each to `connected`), and resident memory per idle
//! connected session.
//!
//! ```sh
//! cargo bench --bench session_restore                  # SQLite and PostgreSQL, 1,000 sessions
//! cargo bench --bench session_restore -- sqlite 5000   # one backend, 5,000 sessions
//! ```
//!
//! PostgreSQL comes from `WAG_TEST_DATABASE_URL` (default as in the tests);
//! each run uses a fresh database or data directory.

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use figment::providers::{Format, Toml};
use serde_json::json;
use support::TempPostgres;
use wa_gateway::store::NewSession;
use wa_gateway::{AppState, Config};

/// Resident set size from /proc (Linux), in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn config(data_dir: &str, url: &str) -> Config {
    let toml = format!(
        "[storage]\ndata_dir = \"{data_dir}\"\n[database]\nurl = \"{url}\"\nmax_connections = 10\n\
         [sessions]\nrestore_on_startup = false\n[log]\nlevel = \"warn\"\n"
    );
    Config::from_figment(Config::defaults().merge(Toml::string(&toml))).expect("bench config")
}

async fn seed(state: &AppState, n: usize) {
    let store = &state.store;
    for i in 0..n {
        let id = format!("s{i:05}");
        let new = NewSession { id: id.clone(), engine: "sandbox".into(), metadata: json!({}) };
        store.sessions.create(&new).await.unwrap();
        let phone = format!("4917{:08}", i);
        store
            .credentials
            .put(&id, "sandbox", &json!({"phone": phone, "push_name": id, "device": 1}))
            .await
            .unwrap();
        store.sessions.set_desired_state(&id, "running").await.unwrap();
    }
}

async fn bench(backend: &str, n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().display().to_string();
    let (url, temp_db) = match backend {
        "postgres" => {
            let Some(db) = TempPostgres::create().await else {
                println!("postgres: not reachable, skipped");
                return;
            };
            (db.url.clone(), Some(db))
        }
        _ => (format!("sqlite://{data_dir}/bench.db"), None),
    };

    // Seed with one gateway, then measure a fresh one: a real restart.
    let seeding = AppState::build(config(&data_dir, &url)).await.unwrap();
    seed(&seeding, n).await;
    seeding.store.close().await;
    drop(seeding);

    let state = AppState::build(config(&data_dir, &url)).await.unwrap();
    let before = rss();
    let started = Instant::now();
    let report = state.sessions.restore().await.unwrap();
    let took = started.elapsed();
    assert_eq!(report.connected, n, "every session connected: {report:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss();
    let per = after.saturating_sub(before) as f64 / n as f64;
    println!(
        "{backend:>8}: restored {n} sessions in {:>6.0} ms ({:>6.0} sessions/s); RSS {:.1} MiB -> {:.1} MiB, {:.1} KiB per idle session",
        took.as_secs_f64() * 1000.0,
        n as f64 / took.as_secs_f64(),
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        per / 1024.0,
    );
    state.sessions.close(Duration::from_secs(10)).await;
    state.store.close().await;
    if let Some(db) = temp_db {
        db.drop().await;
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let backends = match args.first().map(String::as_str) {
        Some(k @ ("postgres" | "sqlite")) => vec![k.to_owned()],
        _ => vec!["sqlite".to_owned(), "postgres".to_owned()],
    };
    let n = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(1000);
    for backend in backends {
        bench(&backend, n).await;
    }
}
