//! A restart brings running sessions back by themselves; failures are
//! isolated and recorded.

use reqwest::Method;
use serde_json::json;
use wa_gateway::store::NewSession;

use crate::helpers::*;
use crate::support::{Backend, TestApp};

async fn restart_restores(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, FAST).await else { return };
    linked(&app, "a", "491703330001").await;
    linked(&app, "b", "491703330002").await;
    create(&app, json!({"id": "c"})).await;
    wait_status(&app, "c", "qr").await;
    linked(&app, "d", "491703330004").await;
    app.authed(Method::POST, "/sessions/d/stop").send().await.unwrap();
    create(&app, json!({"id": "e", "start": false})).await;
    // A session of an engine the next process will not have.
    let ghost = NewSession { id: "ghost".into(), engine: "whatsapp".into(), metadata: json!({}) };
    app.state.store.sessions.create(&ghost).await.unwrap();
    app.state.store.sessions.set_desired_state("ghost", "running").await.unwrap();

    let (db, mut config) = app.restart_parts().await;
    config.whatsapp.enabled = false;
    // Graceful shutdown recorded every running session as stopped...
    let app = TestApp::start(db, config).await;
    // ...and they come back without anyone calling /start.
    let a = wait_status(&app, "a", "connected").await;
    assert_eq!(a["phone"], "491703330001");
    wait_status(&app, "b", "connected").await;
    wait_status(&app, "c", "qr").await;
    let ghost = wait_status(&app, "ghost", "failed").await;
    assert!(ghost["last_error"].as_str().unwrap().contains("engine"));
    assert_eq!(get(&app, "d").await["status"], "stopped", "stopped by the operator: stays stopped");
    assert_eq!(get(&app, "e").await["status"], "created");

    let rows = events(&app, "a").await;
    let trail = statuses(&rows);
    let tail: Vec<(&str, &str)> =
        trail.iter().rev().take(3).rev().map(|(s, r)| (s.as_str(), r.as_str())).collect();
    assert_eq!(tail, [("stopped", "shutdown"), ("starting", "restore"), ("connected", "connected")]);
    assert!(events(&app, "ghost").await.iter().any(|r| r["event_type"] == "session.restore_failed"));

    // The restored sessions work: they still message each other.
    let engine = app.state.sessions.connected_engine("a").unwrap();
    let to = wa_gateway::wa::Jid::parse("491703330002").unwrap();
    engine.send(&to, &wa_gateway::wa::OutgoingMessage::text("after restart")).await.unwrap();
    app.stop().await.unwrap();
}

#[tokio::test]
async fn restart_restores_on_sqlite() {
    restart_restores(Backend::Sqlite).await;
}

#[tokio::test]
async fn restart_restores_on_postgres() {
    restart_restores(Backend::Postgres).await;
}

#[tokio::test]
async fn a_crash_leaves_no_session_looking_live() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, "[sessions]\nrestore_on_startup = false\n").await
    else {
        return;
    };
    create(&app, json!({"id": "z", "start": false})).await;
    // What a killed process leaves behind: a live status and nobody running it.
    let details = json!({"status": "connected", "previous": "created", "reason": "simulated"});
    let t = wa_gateway::store::Transition {
        status: "connected",
        error: None,
        event_type: "session.status",
        details: &details,
    };
    app.state.store.sessions.transition("z", &t).await.unwrap();
    let (db, config) = app.restart_parts().await;
    let app = TestApp::start(db, config).await;
    let s = wait_status(&app, "z", "stopped").await;
    assert!(s["runtime"].is_null());
    assert_eq!(statuses(&events(&app, "z").await).last().unwrap().1, "gateway_restart");
    app.stop().await.unwrap();
}
