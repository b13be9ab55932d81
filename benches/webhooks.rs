//! Webhook delivery throughput: events published inside the gateway until a
//! local receiver has them all (signed, recorded, through the queue), next
//! to a bare reqwest loop posting the same bodies to the same receiver with
//! the same concurrency, in one run.
//!
//! ```sh
//! cargo bench --bench webhooks                    # SQLite, then PostgreSQL + Redis; 5,000 events
//! cargo bench --bench webhooks -- postgres 20000
//! ```

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use figment::providers::{Format, Toml};
use serde_json::json;
use support::TempPostgres;
use wa_gateway::store::NewSession;
use wa_gateway::{AppState, Config};

const CONCURRENCY: usize = 16;

async fn bench(setup: &str, n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().display().to_string();
    let mut temp_db = None;
    let (db_url, redis_url) = match setup {
        "postgres" => {
            let Some(db) = TempPostgres::create().await else {
                println!("postgres: not reachable, skipped");
                return;
            };
            let url = db.url.clone();
            temp_db = Some(db);
            (url, support::redis_url())
        }
        _ => (format!("sqlite://{data_dir}/bench.db"), String::new()),
    };
    let (url, count) = support::counting_receiver().await;
    let toml = format!(
        "[storage]\ndata_dir = \"{data_dir}\"\n[database]\nurl = \"{db_url}\"\nmax_connections = 16\n[redis]\nurl = \"{redis_url}\"\n\
         key_prefix = \"wagbench{}\"\n[webhooks]\nallow_private_networks = true\nconcurrency = {CONCURRENCY}\n\
         [queue]\npoll_interval_ms = 10\nbatch = 64\n[log]\nlevel = \"warn\"\n",
        uuid::Uuid::now_v7().simple()
    );
    let config = Config::from_figment(Config::defaults().merge(Toml::string(&toml))).unwrap();
    let state = AppState::build(config).await.unwrap();

    // The bare loop first: same receiver, same concurrency, a body of the same size.
    let body = serde_json::to_vec(
        &json!({"id": "evt_x", "type": "message.status", "data": {"status": "read", "n": 0}}),
    )
    .unwrap();
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, url, body, next) = (client.clone(), url.clone(), body.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n {
                client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let bare = n as f64 / started.elapsed().as_secs_f64();
    count.store(0, Ordering::Relaxed);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(wa_gateway::serve(state.clone(), listener, async move {
        let _ = stopped.await;
    }));
    let session = NewSession { id: "bench".into(), engine: "sandbox".into(), metadata: json!({}) };
    state.store.sessions.create(&session).await.unwrap();
    let hook = wa_gateway::store::NewWebhook {
        id: "wh_bench".into(),
        session_id: "bench".into(),
        url,
        events: vec!["*".into()],
        secret: wa_gateway::webhooks::signing::Secret::generate(),
        headers: json!({}),
    };
    state.store.webhooks.create(&hook).await.unwrap();
    let started = Instant::now();
    for i in 0..n {
        state.sessions.hub().publish("bench", "message.status", json!({"status": "read", "n": i}));
    }
    while count.load(Ordering::Relaxed) < n {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if started.elapsed() > Duration::from_secs(600) {
            println!("{setup}: only {} of {n} delivered after 10 min", count.load(Ordering::Relaxed));
            break;
        }
    }
    let gateway = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!(
        "{setup:>8}: {n} events, {CONCURRENCY} in flight | bare reqwest loop {bare:>6.0} req/s | gateway deliveries {gateway:>6.0}/s = {:.0} %",
        gateway / bare * 100.0
    );
    let _ = stop.send(());
    let _ = server.await;
    if let Some(db) = temp_db {
        db.drop().await;
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let setups = match args.first().map(String::as_str) {
        Some(k @ ("postgres" | "sqlite")) => vec![k.to_owned()],
        _ => vec!["sqlite".to_owned(), "postgres".to_owned()],
    };
    let n = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(5000);
    for setup in setups {
        bench(&setup, n).await;
    }
}
