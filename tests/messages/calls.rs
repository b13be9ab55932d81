//! Incoming calls on the sandbox: announced, listed while ringing, rejected
//! on request or at once by policy (with a message to the caller), ended
//! by the caller or the phone; every step as an event.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use wa_gateway::sessions::GatewayEvent;

use crate::helpers::*;
use crate::send::CONFIG;
use crate::support::{Backend, TestApp, assert_error};

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.authed(Method::POST, path).json(&body).send().await.unwrap()
}

async fn ring(app: &TestApp, session: &str, from: &str, video: bool) -> String {
    let res =
        post(app, &format!("/sandbox/sessions/{session}/calls"), json!({"from": from, "video": video})).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let call: Value = res.json().await.unwrap();
    assert_eq!(call["state"], "ringing");
    call["id"].as_str().unwrap().to_owned()
}

/// How the caller saw the call end.
async fn caller_sees(app: &TestApp, session: &str, call: &str) -> String {
    let call = get_json(app, &format!("/sandbox/sessions/{session}/calls/{call}")).await;
    call["state"].as_str().unwrap().to_owned()
}

/// The next event of `session` named `name`.
pub async fn next_event(rx: &mut broadcast::Receiver<Arc<GatewayEvent>>, session: &str, name: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let e = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {name} event"))
            .unwrap();
        if e.session_id == session && e.event == name {
            return e.data.clone();
        }
    }
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn calls_ring_until_rejected_or_ended() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    let mut rx = app.state.sessions.hub().subscribe();
    linked(&app, "a", "491706910001").await;

    let first = ring(&app, "a", "491706910002", true).await;
    let received = next_event(&mut rx, "a", "call.received").await;
    assert_eq!(
        (&received["id"], &received["from"], &received["video"], &received["group"]),
        (&json!(first), &json!("491706910002@s.whatsapp.net"), &json!(true), &Value::Null)
    );
    assert!(received.get("route").is_none(), "engine routing stays inside: {received}");
    let second = ring(&app, "a", "491706910003", false).await;
    next_event(&mut rx, "a", "call.received").await;
    assert_eq!(ids(&get_json(&app, "/sessions/a/calls").await), [first.as_str(), second.as_str()]);

    // Rejected on request: the caller sees it declined.
    let res = post(&app, &format!("/sessions/a/calls/{first}/reject"), json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["from"], "491706910002@s.whatsapp.net");
    assert_eq!(caller_sees(&app, "a", &first).await, "rejected");
    let rejected = next_event(&mut rx, "a", "call.rejected").await;
    assert_eq!((&rejected["id"], &rejected["automatic"]), (&json!(first), &json!(false)));
    let again = post(&app, &format!("/sessions/a/calls/{first}/reject"), json!({})).await;
    assert_error(again, 404, "call_not_found").await;

    // The caller hangs up: missed; it can no longer be rejected.
    let res = post(&app, &format!("/sandbox/sessions/a/calls/{second}/end"), json!({"how": "hang_up"})).await;
    assert_eq!(res.status(), 200);
    let ended = next_event(&mut rx, "a", "call.ended").await;
    assert_eq!((&ended["id"], &ended["reason"]), (&json!(second), &json!("missed")));
    assert_eq!(ids(&get_json(&app, "/sessions/a/calls").await), Vec::<&str>::new());
    let late = post(&app, &format!("/sessions/a/calls/{second}/reject"), json!({})).await;
    assert_error(late, 404, "call_not_found").await;
    assert_eq!(caller_sees(&app, "a", &second).await, "missed");

    // The phone answers a third one.
    let third = ring(&app, "a", "491706910004", false).await;
    let res =
        post(&app, &format!("/sandbox/sessions/a/calls/{third}/end"), json!({"how": "answer_on_phone"}))
            .await;
    assert_eq!(res.status(), 200);
    assert_eq!(next_event(&mut rx, "a", "call.ended").await["reason"], "answered_elsewhere");
    let twice =
        post(&app, &format!("/sandbox/sessions/a/calls/{third}/end"), json!({"how": "hang_up"})).await;
    assert_error(twice, 409, "conflict").await;

    // Failures.
    let res = post(&app, "/sandbox/sessions/a/calls", json!({"from": "9991234567"})).await;
    assert_error(res, 422, "not_on_whatsapp").await;
    let res = post(&app, "/sandbox/sessions/a/calls", json!({"from": "491706910001"})).await;
    assert_error(res, 422, "validation_failed").await;
    let res = app.authed(Method::GET, "/sandbox/sessions/a/calls/NOPE").send().await.unwrap();
    assert_error(res, 404, "call_not_found").await;
    assert_error(
        app.authed(Method::GET, "/sessions/nope/calls").send().await.unwrap(),
        404,
        "session_not_found",
    )
    .await;
    app.authed(Method::POST, "/sessions/a/stop").send().await.unwrap();
    wait_status(&app, "a", "stopped").await;
    assert_error(
        app.authed(Method::GET, "/sessions/a/calls").send().await.unwrap(),
        409,
        "session_not_connected",
    )
    .await;
    let res = post(&app, "/sandbox/sessions/a/calls", json!({"from": "491706910002"})).await;
    assert_error(res, 409, "session_not_connected").await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_session_that_rejects_calls_declines_at_once_and_texts_the_caller() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    let mut rx = app.state.sessions.hub().subscribe();
    let metadata = json!({"calls": {"reject": true, "message": "We cannot take calls here. Please write!"}});
    create(&app, json!({"id": "b", "metadata": metadata})).await;
    wait_status(&app, "b", "qr").await;
    let res = post(&app, "/sandbox/sessions/b/link", json!({"phone": "491706920001"})).await;
    assert_eq!(res.status(), 200);
    // Another session keeps the default: calls ring.
    linked(&app, "c", "491706920009").await;

    let call = ring(&app, "b", "491706920002", false).await;
    let rejected = next_event(&mut rx, "b", "call.rejected").await;
    assert_eq!((&rejected["id"], &rejected["automatic"]), (&json!(call), &json!(true)));
    assert_eq!(caller_sees(&app, "b", &call).await, "rejected");
    assert_eq!(ids(&get_json(&app, "/sessions/b/calls").await), Vec::<&str>::new(), "nothing left ringing");

    // The message goes through the pipeline: logged, sent, delivered (and
    // read 40 ms later, possibly between two looks).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let message = loop {
        let log = get_json(&app, "/sessions/b/messages?direction=outgoing").await;
        let arrived = |m: &&Value| m["status"] == "delivered" || m["status"] == "read";
        if let Some(m) = log["data"].as_array().unwrap().first().filter(arrived) {
            break m.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "the reject message was not delivered: {log}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(message["chat"], "491706920002@s.whatsapp.net");
    assert_eq!(message["preview"], "We cannot take calls here. Please write!");

    let kept = ring(&app, "c", "491706920002", false).await;
    next_event(&mut rx, "c", "call.received").await;
    assert_eq!(ids(&get_json(&app, "/sessions/c/calls").await), [kept.as_str()]);
    assert_eq!(caller_sees(&app, "c", &kept).await, "ringing");
    app.stop().await.unwrap();
}
