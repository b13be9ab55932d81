//! Sessions voting (`POST /sessions/{id}/messages/{pollId}/vote`) on the
//! sandbox: a vote is a message (queued, sent, idempotent), reaches the
//! poll's chat as WhatsApp's option hashes, and is counted in both the
//! voter's and the poll creator's tallies; ballots a client could not cast
//! are refused and change nothing.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::send::{CONFIG, accepted, wait_incoming, wait_message};
use crate::support::{Backend, TestApp, assert_error};

async fn vote(
    app: &TestApp,
    session: &str,
    poll: &str,
    options: &[&str],
    key: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .authed(Method::POST, &format!("/sessions/{session}/messages/{poll}/vote"))
        .json(&json!({"options": options}));
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    req.send().await.unwrap()
}

/// Votes and waits until the vote is sent; the vote's message.
async fn voted(app: &TestApp, session: &str, poll: &str, options: &[&str]) -> Value {
    let res = vote(app, session, poll, options, None).await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["type"], "poll_vote");
    wait_message(app, session, view["id"].as_str().unwrap(), "sent").await;
    view
}

/// Who chose each option, per the session's tally.
async fn choices(app: &TestApp, session: &str, poll: &str) -> Vec<(String, Vec<String>)> {
    let r = get_json(app, &format!("/sessions/{session}/messages/{poll}/poll")).await;
    r["options"]
        .as_array()
        .unwrap_or_else(|| panic!("not a tally: {r}"))
        .iter()
        .map(|o| {
            let voters =
                o["voters"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
            (o["name"].as_str().unwrap().to_owned(), voters)
        })
        .collect()
}

/// Waits until `session`'s tally of `poll` is `expected`.
async fn tally_becomes(app: &TestApp, session: &str, poll: &str, expected: &[(&str, &[&str])]) {
    let expected: Vec<(String, Vec<String>)> =
        expected.iter().map(|(n, v)| (n.to_string(), v.iter().map(|s| s.to_string()).collect())).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = choices(app, session, poll).await;
        if now == expected {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{session}'s tally stayed {now:?}, not {expected:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn sessions_vote(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, CONFIG).await else { return };
    linked(&app, "a", "491706940001").await;
    linked(&app, "b", "491706940002").await;
    let (ja, jb) = ("491706940001@s.whatsapp.net", "491706940002@s.whatsapp.net");
    let poll = json!({"to": "491706940002", "type": "poll",
        "poll": {"question": "Lunch?", "options": ["Pizza", "Sushi", "Tacos"], "selectable": 2}});
    let on_a = accepted(&app, "a", poll).await["id"].as_str().unwrap().to_owned();
    wait_message(&app, "a", &on_a, "sent").await;
    let received = wait_incoming(&app, "b", 1).await["data"][0].clone();
    assert_eq!(received["type"], "poll");
    let on_b = received["id"].as_str().unwrap().to_owned();

    // b votes on the poll it received: both tallies count it.
    let view = voted(&app, "b", &on_b, &["Sushi", "Pizza"]).await;
    assert_eq!((&view["chat"], &view["preview"]), (&json!(ja), &json!("Sushi, Pizza")));
    tally_becomes(&app, "a", &on_a, &[("Pizza", &[jb]), ("Sushi", &[jb]), ("Tacos", &[])]).await;
    tally_becomes(&app, "b", &on_b, &[("Pizza", &[jb]), ("Sushi", &[jb]), ("Tacos", &[])]).await;

    // a votes on its own poll, by its WhatsApp id.
    let wa_id = get_json(&app, &format!("/sessions/a/messages/{on_a}/poll")).await["wa_id"]
        .as_str()
        .unwrap()
        .to_owned();
    voted(&app, "a", &wa_id, &["Tacos"]).await;
    tally_becomes(&app, "a", &on_a, &[("Pizza", &[jb]), ("Sushi", &[jb]), ("Tacos", &[ja])]).await;
    tally_becomes(&app, "b", &on_b, &[("Pizza", &[jb]), ("Sushi", &[jb]), ("Tacos", &[ja])]).await;

    // b changes its mind, then takes its vote back.
    voted(&app, "b", &on_b, &["Tacos"]).await;
    tally_becomes(&app, "a", &on_a, &[("Pizza", &[]), ("Sushi", &[]), ("Tacos", &[ja, jb])]).await;
    voted(&app, "b", &on_b, &[]).await;
    tally_becomes(&app, "a", &on_a, &[("Pizza", &[]), ("Sushi", &[]), ("Tacos", &[ja])]).await;
    tally_becomes(&app, "b", &on_b, &[("Pizza", &[]), ("Sushi", &[]), ("Tacos", &[ja])]).await;

    // The same Idempotency-Key votes once; with another ballot it is refused.
    let first: Value = vote(&app, "b", &on_b, &["Pizza"], Some("k1")).await.json().await.unwrap();
    let again = vote(&app, "b", &on_b, &["Pizza"], Some("k1")).await;
    assert_eq!(again.status(), 202);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    assert_error(vote(&app, "b", &on_b, &["Sushi"], Some("k1")).await, 422, "idempotency_key_reused").await;
    wait_message(&app, "b", first["id"].as_str().unwrap(), "sent").await;
    tally_becomes(&app, "a", &on_a, &[("Pizza", &[jb]), ("Sushi", &[]), ("Tacos", &[ja])]).await;

    // Ballots no client could cast, and things that are not polls.
    let text = accepted(&app, "a", json!({"to": "491706940002", "text": "not a poll"})).await;
    for (session, target, options, status, code) in [
        ("b", on_b.as_str(), vec!["Burgers"], 422, "validation_failed"),
        ("b", on_b.as_str(), vec!["Pizza", "Pizza"], 422, "validation_failed"),
        ("b", on_b.as_str(), vec!["Pizza", "Sushi", "Tacos"], 422, "validation_failed"),
        ("a", text["id"].as_str().unwrap(), vec!["Pizza"], 409, "not_a_poll"),
        ("a", "msg_nope", vec!["Pizza"], 404, "message_not_found"),
        ("nope", on_a.as_str(), vec!["Pizza"], 404, "session_not_found"),
    ] {
        assert_error(vote(&app, session, target, &options, None).await, status, code).await;
    }
    let res = app
        .authed(Method::POST, &format!("/sessions/b/messages/{on_b}/vote"))
        .json(&json!({"options": ["Pizza"], "extra": 1}))
        .send()
        .await
        .unwrap();
    assert_error(res, 422, "validation_failed").await;
    assert_eq!(
        choices(&app, "a", &on_a).await,
        [
            ("Pizza".into(), vec![jb.to_owned()]),
            ("Sushi".into(), vec![]),
            ("Tacos".into(), vec![ja.to_owned()])
        ]
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn sessions_vote_on_sqlite() {
    sessions_vote(Backend::Sqlite).await;
}

#[tokio::test]
async fn sessions_vote_on_postgres() {
    sessions_vote(Backend::Postgres).await;
}
