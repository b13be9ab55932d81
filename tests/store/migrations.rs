//! Migrations are reversible on both backends.

use crate::support::{Backend, TestDb};
use wa_gateway::store::{self, NewSession, StoreError};

async fn round_trip(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let config = crate::support::app_config(&db, "");
    let store = store::connect(&config).await.unwrap();
    let pool = store.pool();

    let pending = store::migrate::status(pool).await.unwrap();
    assert!(!pending.is_empty());
    assert!(pending.iter().all(|m| !m.applied));

    store::migrate::up(pool).await.unwrap();
    assert!(store::migrate::status(pool).await.unwrap().iter().all(|m| m.applied));
    let new = NewSession { id: "s".into(), engine: "sandbox".into(), metadata: serde_json::json!({}) };
    store.sessions.create(&new).await.unwrap();
    store.session_events.append("s", "session.status", &serde_json::json!({})).await.unwrap();

    // Newest first: one step removes only the newest migration's tables.
    let status = store::migrate::status(pool).await.unwrap();
    let newest = status.iter().map(|m| m.version).max().unwrap();
    let reverted = store::migrate::down(pool, 1).await.unwrap();
    assert_eq!(reverted, [newest]);
    let after = store::migrate::status(pool).await.unwrap();
    assert!(!after.iter().find(|m| m.version == newest).unwrap().applied);
    assert_eq!(after.iter().filter(|m| m.applied).count(), status.len() - 1);
    let kept = store.session_events.list("s", &store::Page::first(10)).await.unwrap();
    assert_eq!(kept.len(), 1, "older tables untouched");

    // The rest: every table is gone.
    let rest = store::migrate::down(pool, status.len()).await.unwrap();
    assert_eq!(rest.len(), status.len() - 1);
    assert!(matches!(
        store.session_events.list("s", &store::Page::first(10)).await,
        Err(StoreError::Other(_))
    ));

    store::migrate::up(pool).await.unwrap();
    assert!(store::migrate::status(pool).await.unwrap().iter().all(|m| m.applied));
    assert!(store.sessions.get("s").await.unwrap().is_none(), "fresh tables after the round trip");
    store.sessions.create(&new).await.unwrap();

    // More steps than migrations reverts everything, and is not an error.
    let all = store::migrate::down(pool, 100).await.unwrap();
    assert_eq!(all.len(), status.len());
    store.close().await;
}

#[tokio::test]
async fn sqlite_down_up_round_trip() {
    round_trip(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_down_up_round_trip() {
    round_trip(Backend::Postgres).await;
}
