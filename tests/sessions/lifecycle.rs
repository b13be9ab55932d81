//! The walk the issue asks for: create → QR → link → connected → network
//! fault → reconnection with growing delays → logged out for good.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::support::{Backend, TestApp, assert_error};

fn decode_png_qr(png_bytes: &[u8]) -> String {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes)).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buf).unwrap();
    assert_eq!(frame.color_type, png::ColorType::Grayscale);
    let (w, h) = (frame.width as usize, frame.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "exactly one QR code in the PNG");
    grids[0].decode().unwrap().1
}

async fn walk(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, FAST).await else { return };
    let created = create(&app, json!({"id": "walk"})).await;
    assert_eq!(created["desired_state"], "running");
    let waiting = wait_status(&app, "walk", "qr").await;
    assert_eq!(waiting["runtime"]["breaker"], "closed");

    // The PNG decodes back to exactly the payload the JSON format reports.
    let res = app.authed(Method::GET, "/sessions/walk/qr").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let from_png = decode_png_qr(&res.bytes().await.unwrap());
    let json: Value = get_json(&app, "/sessions/walk/qr?format=json").await;
    assert_eq!(json["qr"], from_png.as_str());
    assert!(
        from_png.starts_with("2@") && from_png.split(',').count() == 4,
        "WhatsApp-shaped payload: {from_png}"
    );
    assert!(json["image"].as_str().unwrap().starts_with("data:image/png;base64,"));
    let svg = app.authed(Method::GET, "/sessions/walk/qr?format=svg").send().await.unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("<svg"));
    let text = app.authed(Method::GET, "/sessions/walk/qr?format=text").send().await.unwrap();
    assert!(text.text().await.unwrap().contains('█'));
    let bad = app.authed(Method::GET, "/sessions/walk/qr?format=gif").send().await.unwrap();
    assert_error(bad, 400, "invalid_query").await;

    // The phone scans: connected, with the account recorded.
    let res = app
        .authed(Method::POST, "/sandbox/sessions/walk/link")
        .json(&json!({"phone": "+49 170 1234567"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let connected = wait_status(&app, "walk", "connected").await;
    assert_eq!(connected["phone"], "491701234567");
    assert!(connected["runtime"]["connected_since"].is_string());
    let res = app.authed(Method::GET, "/sessions/walk/qr").send().await.unwrap();
    let body = assert_error(res, 409, "qr_not_available").await;
    assert_eq!(body["error"]["details"]["status"], "connected");
    assert!(
        app.state.store.credentials.get("walk").await.unwrap().is_some(),
        "credentials kept in the store"
    );

    // The network drops and the next three attempts fail: the session
    // retries immediately, then after ~100, ~200 and ~400 ms.
    fault(&app, "walk", json!({"kind": "disconnect", "fail_connects": 3})).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let back = wait_status(&app, "walk", "connected").await;
    assert_eq!(back["runtime"]["reconnects"], 1);
    assert_eq!(back["runtime"]["reconnect_attempts"], 0);
    let rows = events(&app, "walk").await;
    let lost =
        rows.iter().position(|r| r["details"]["reason"] == "connection_lost").expect("connection_lost row");
    let failed: Vec<&Value> =
        rows[lost..].iter().filter(|r| r["details"]["reason"] == "connect_failed").collect();
    assert_eq!(failed.len(), 3, "three failed attempts: {rows:#?}");
    let reconnected =
        rows[lost..].iter().find(|r| r["details"]["reason"] == "reconnected").expect("reconnected row");
    let planned: Vec<u64> = failed.iter().map(|r| r["details"]["retry_in_ms"].as_u64().unwrap()).collect();
    for (i, ms) in planned.iter().enumerate() {
        let nominal = 100u64 << i;
        assert!(
            (nominal * 8 / 10..=nominal * 12 / 10).contains(ms),
            "retry {i} planned {ms} ms, nominal {nominal}"
        );
    }
    // Observed gaps between attempts grow, and none is shorter than planned.
    let times = [at(failed[0]), at(failed[1]), at(failed[2]), at(reconnected)];
    let gaps: Vec<i64> = times.windows(2).map(|w| (w[1] - w[0]).num_milliseconds()).collect();
    for (gap, ms) in gaps.iter().zip(&planned) {
        assert!(*gap + 30 >= *ms as i64, "gap {gap} ms shorter than the planned {ms} ms");
    }
    // Observed gaps include database writes; on a loaded machine neighbours
    // may blur, but 4x the base delay always shows.
    assert!(gaps[2] > gaps[0], "delays must grow: {gaps:?}");
    assert!(planned[0] < planned[1] && planned[1] < planned[2], "planned delays grow: {planned:?}");
    assert_eq!(rows[lost]["details"]["retry_in_ms"], 0, "the first retry after a drop is immediate");

    // The phone removes the device: logged out, credentials erased, no retries.
    let attempts = app.state.sandbox.as_ref().unwrap().connect_attempts("walk");
    fault(&app, "walk", json!({"kind": "logged_out"})).await;
    let out = wait_status(&app, "walk", "logged_out").await;
    assert_eq!(out["desired_state"], "stopped");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(get(&app, "walk").await["status"], "logged_out");
    assert_eq!(
        app.state.sandbox.as_ref().unwrap().connect_attempts("walk"),
        attempts,
        "no reconnection after logout"
    );
    assert!(app.state.store.credentials.get("walk").await.unwrap().is_none());

    let all = statuses(&events(&app, "walk").await);
    let path: Vec<&str> = all.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        path,
        [
            "starting",
            "qr",
            "connected",
            "reconnecting",
            "reconnecting",
            "reconnecting",
            "reconnecting",
            "connected",
            "logged_out"
        ]
    );
    // Starting again shows a new QR code: the link is gone.
    let res = app.authed(Method::POST, "/sessions/walk/start").send().await.unwrap();
    assert_eq!(res.status(), 202);
    wait_status(&app, "walk", "qr").await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn walk_on_sqlite() {
    walk(Backend::Sqlite).await;
}

#[tokio::test]
async fn walk_on_postgres() {
    walk(Backend::Postgres).await;
}

#[tokio::test]
async fn stop_start_logout_and_delete() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, FAST).await else { return };
    linked(&app, "s1", "491701110001").await;

    let res = app.authed(Method::POST, "/sessions/s1/stop").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let stopped: Value = res.json().await.unwrap();
    assert_eq!(stopped["status"], "stopped");
    assert_eq!(stopped["desired_state"], "stopped");
    assert!(app.state.store.credentials.get("s1").await.unwrap().is_some(), "stop keeps credentials");

    // Linked sessions come back without a QR code, and start is idempotent.
    for _ in 0..2 {
        let res = app.authed(Method::POST, "/sessions/s1/start").send().await.unwrap();
        assert_eq!(res.status(), 202);
    }
    wait_status(&app, "s1", "connected").await;
    assert_eq!(app.state.sessions.running(), 1);

    let res = app.authed(Method::POST, "/sessions/s1/logout").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "logged_out");
    assert!(app.state.store.credentials.get("s1").await.unwrap().is_none());

    linked(&app, "s2", "491701110002").await;
    let res = app.authed(Method::DELETE, "/sessions/s2").send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert!(app.state.store.credentials.get("s2").await.unwrap().is_none());
    assert_error(app.authed(Method::GET, "/sessions/s2").send().await.unwrap(), 404, "session_not_found")
        .await;
    // The number is free again for another session.
    linked(&app, "s3", "491701110002").await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn lifecycle_errors_have_stable_codes() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, FAST).await else { return };
    create(&app, json!({"id": "idle", "start": false})).await;
    let body = assert_error(
        app.authed(Method::GET, "/sessions/idle/qr").send().await.unwrap(),
        409,
        "qr_not_available",
    )
    .await;
    assert_eq!(body["error"]["details"]["status"], "created");
    let res = app
        .authed(Method::POST, "/sessions/idle/pair-code")
        .json(&json!({"phone": "491701234567"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 409, "not_awaiting_link").await;
    assert_error(
        app.authed(Method::GET, "/sessions/nope/qr").send().await.unwrap(),
        404,
        "session_not_found",
    )
    .await;
    assert_error(
        app.authed(Method::POST, "/sessions/nope/start").send().await.unwrap(),
        404,
        "session_not_found",
    )
    .await;
    assert_error(
        app.authed(Method::POST, "/sessions/nope/stop").send().await.unwrap(),
        404,
        "session_not_found",
    )
    .await;
    assert_error(
        app.authed(Method::GET, "/sessions/nope/events").send().await.unwrap(),
        404,
        "session_not_found",
    )
    .await;
    assert_error(
        app.authed(Method::GET, "/sessions/idle/events?cursor=abc").send().await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    let res = app
        .authed(Method::POST, "/sessions")
        .json(&json!({"id": "tg", "engine": "telegram"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 422, "validation_failed").await;
    let res = app
        .authed(Method::POST, "/sandbox/sessions/idle/fault")
        .json(&json!({"kind": "meteor"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 422, "validation_failed").await;
    let res = app
        .authed(Method::POST, "/sandbox/sessions/idle/link")
        .json(&json!({"phone": "12"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 422, "validation_failed").await;
    let res = app
        .authed(Method::POST, "/sandbox/sessions/idle/inbound")
        .json(&json!({"from": "491701234567", "text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 409, "session_not_connected").await;
    // Generated ids, and webhooks validated before anything is stored.
    let res = app
        .authed(Method::POST, "/sessions")
        .json(&json!({"start": false, "webhooks": [{"url": "ftp://example.com/x"}]}))
        .send()
        .await
        .unwrap();
    assert_error(res, 422, "invalid_webhook_url").await;
    let res = app
        .authed(Method::POST, "/sessions")
        .json(&json!({"start": false, "webhooks": [{"url": "http://169.254.169.254/latest"}]}))
        .send()
        .await
        .unwrap();
    assert_error(res, 422, "webhook_url_forbidden").await;
    assert_eq!(app.state.store.sessions.list(&wa_gateway::store::Page::first(10)).await.unwrap().len(), 1);
    let made = create(
        &app,
        json!({"start": false, "webhooks": [{"url": "https://example.com/hook", "events": ["message.received"]}]}),
    )
    .await;
    assert!(made["id"].as_str().unwrap().starts_with("ses_"));
    assert!(made["webhooks"][0]["secret"].as_str().unwrap().starts_with("whsec_"));
    let hooks = app.state.store.webhooks.list(made["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].events.0, ["message.received"]);
    // Unauthenticated control calls are refused like every other route.
    let res = app
        .client
        .post(app.url("/sandbox/sessions/idle/fault"))
        .json(&json!({"kind": "clear"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "missing_api_key").await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn disabled_engines_refuse_their_sessions() {
    let extra = "[sandbox]\nenabled = false\n[whatsapp]\nenabled = false\n";
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, extra).await else { return };
    let res = app.authed(Method::POST, "/sessions").json(&json!({"id": "x"})).send().await.unwrap();
    assert_error(res, 422, "engine_unavailable").await;
    let res = app
        .authed(Method::POST, "/sessions")
        .json(&json!({"id": "y", "engine": "whatsapp"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 422, "engine_unavailable").await;
    let res = app
        .authed(Method::POST, "/sandbox/sessions/x/fault")
        .json(&json!({"kind": "clear"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "sandbox_disabled").await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_session_subsystem_exports_metrics() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, FAST).await else { return };
    linked(&app, "metered", "491708880001").await;
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for needle in [
        "wag_sessions_running ",
        "wag_session_transitions_total{status=\"connected\"}",
        "wag_session_connect_attempts_total{engine=\"sandbox\",outcome=\"ok\"}",
        "wag_events_published_total{event=\"session.status\"}",
        "wag_sessions{status=\"connected\"}",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
    app.stop().await.unwrap();
}
