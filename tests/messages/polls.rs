//! Polls on the sandbox: a poll sent or received is kept with its options;
//! votes (the voter's whole choice, by option hash on the wire) are read,
//! logged, announced as `message.poll_vote` and counted, the latest vote of
//! each voter only; votes WhatsApp clients could not send are refused.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::calls::next_event;
use crate::helpers::*;
use crate::send::{CONFIG, accepted, wait_incoming, wait_message};
use crate::support::{Backend, TestApp, assert_error};

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.authed(Method::POST, path).json(&body).send().await.unwrap()
}

async fn vote(app: &TestApp, session: &str, poll: &str, from: &str, options: &[&str]) -> reqwest::Response {
    post(
        app,
        &format!("/sandbox/sessions/{session}/polls/{poll}/votes"),
        json!({"from": from, "options": options}),
    )
    .await
}

async fn voted(app: &TestApp, session: &str, poll: &str, from: &str, options: &[&str]) {
    let res = vote(app, session, poll, from, options).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

/// Each option's (name, votes), and the number of voters.
async fn standing(app: &TestApp, session: &str, poll: &str) -> (Vec<(String, u64)>, u64) {
    let r = get_json(app, &format!("/sessions/{session}/messages/{poll}/poll")).await;
    let options = r["options"]
        .as_array()
        .unwrap_or_else(|| panic!("not a tally: {r}"))
        .iter()
        .map(|o| (o["name"].as_str().unwrap().to_owned(), o["votes"].as_u64().unwrap()))
        .collect();
    (options, r["voters"].as_u64().unwrap())
}

fn counts(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    pairs.iter().map(|(n, c)| (n.to_string(), *c)).collect()
}

async fn a_sent_poll_counts_each_voters_latest_choice(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, CONFIG).await else { return };
    let mut rx = app.state.sessions.hub().subscribe();
    linked(&app, "a", "491706920001").await;
    let poll = json!({"to": "491706920002", "type": "poll",
        "poll": {"question": "Lunch?", "options": ["Pizza", "Sushi", "Tacos"], "selectable": 2}});
    let id = accepted(&app, "a", poll).await["id"].as_str().unwrap().to_owned();
    wait_message(&app, "a", &id, "sent").await;
    let tally = get_json(&app, &format!("/sessions/a/messages/{id}/poll")).await;
    assert_eq!(
        (&tally["question"], &tally["selectable"], &tally["voters"]),
        (&json!("Lunch?"), &json!(2), &json!(0))
    );
    assert_eq!(tally["chat"], "491706920002@s.whatsapp.net");
    let wa_id = tally["wa_id"].as_str().unwrap().to_owned();

    // Two options, given out of order: read back in the poll's order.
    voted(&app, "a", &id, "491706920002", &["Tacos", "Pizza"]).await;
    let event = next_event(&mut rx, "a", "message.poll_vote").await;
    assert_eq!(
        (
            &event["poll"]["id"],
            &event["poll"]["wa_id"],
            &event["voter"],
            &event["selected"],
            &event["retracted"]
        ),
        (
            &json!(id),
            &json!(wa_id),
            &json!("491706920002@s.whatsapp.net"),
            &json!(["Pizza", "Tacos"]),
            &json!(false)
        )
    );
    assert_eq!(standing(&app, "a", &id).await, (counts(&[("Pizza", 1), ("Sushi", 0), ("Tacos", 1)]), 1));

    // A new vote replaces the voter's earlier one; the WhatsApp id works too.
    voted(&app, "a", &wa_id, "491706920002", &["Sushi"]).await;
    next_event(&mut rx, "a", "message.poll_vote").await;
    assert_eq!(standing(&app, "a", &wa_id).await, (counts(&[("Pizza", 0), ("Sushi", 1), ("Tacos", 0)]), 1));
    let tally = get_json(&app, &format!("/sessions/a/messages/{id}/poll")).await;
    assert_eq!(tally["options"][1]["voters"], json!(["491706920002@s.whatsapp.net"]));

    // An empty vote takes it back.
    voted(&app, "a", &id, "491706920002", &[]).await;
    let event = next_event(&mut rx, "a", "message.poll_vote").await;
    assert_eq!((&event["selected"], &event["retracted"]), (&json!([]), &json!(true)));
    assert_eq!(standing(&app, "a", &id).await, (counts(&[("Pizza", 0), ("Sushi", 0), ("Tacos", 0)]), 0));

    // A vote on a poll the session does not keep cannot be named: it is
    // logged as such, never as a vote taken back.
    let removed = match app.state.store.pool() {
        wa_gateway::store::Pool::Sqlite(p) => {
            sqlx::query("DELETE FROM polls").execute(p).await.unwrap().rows_affected()
        }
        wa_gateway::store::Pool::Postgres(p) => {
            sqlx::query("DELETE FROM polls").execute(p).await.unwrap().rows_affected()
        }
    };
    assert_eq!(removed, 1);
    voted(&app, "a", &id, "491706920002", &["Pizza"]).await;
    let unknown = wait_incoming(&app, "a", 4).await["data"][0].clone();
    assert_eq!((&unknown["type"], &unknown["preview"]), (&json!("unsupported"), &Value::Null), "{unknown}");
    let res = app.authed(Method::GET, &format!("/sessions/a/messages/{id}/poll")).send().await.unwrap();
    assert_error(res, 404, "poll_not_found").await;

    // Every vote is a message in the log, its choice as the preview.
    let log = wait_incoming(&app, "a", 4).await;
    let votes: Vec<(&str, &str)> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|m| (m["type"].as_str().unwrap(), m["preview"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(votes, [("poll_vote", ""), ("poll_vote", "Sushi"), ("poll_vote", "Pizza, Tacos")], "{log}");
}

#[tokio::test]
async fn sent_polls_on_sqlite() {
    a_sent_poll_counts_each_voters_latest_choice(Backend::Sqlite).await;
}

#[tokio::test]
async fn sent_polls_on_postgres() {
    a_sent_poll_counts_each_voters_latest_choice(Backend::Postgres).await;
}

#[tokio::test]
async fn a_received_group_poll_counts_its_members_votes() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    let mut rx = app.state.sessions.hub().subscribe();
    linked(&app, "a", "491706930001").await;
    let res = post(
        &app,
        "/sessions/a/groups",
        json!({"subject": "Team", "participants": ["491706930002", "491706930003"]}),
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let gid = res.json::<Value>().await.unwrap()["jid"].as_str().unwrap().to_owned();

    let res = post(
        &app,
        "/sandbox/sessions/a/inbound",
        json!({"from": "491706930002", "group": gid, "poll": {"question": "When?", "options": ["Mon", "Tue"]}}),
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let received: Value = res.json().await.unwrap();
    assert_eq!(
        received["body"],
        json!({"type": "poll", "question": "When?", "options": ["Mon", "Tue"], "selectable": 1})
    );
    let poll = received["id"].as_str().unwrap().to_owned();
    wait_incoming(&app, "a", 1).await;
    // The poll is kept a moment after its log row.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while app.authed(Method::GET, &format!("/sessions/a/messages/{poll}/poll")).send().await.unwrap().status()
        != 200
    {
        assert!(tokio::time::Instant::now() < deadline, "the received poll was never kept");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    voted(&app, "a", &poll, "491706930003", &["Tue"]).await;
    let event = next_event(&mut rx, "a", "message.poll_vote").await;
    assert_eq!((&event["chat"], &event["voter"]), (&json!(gid), &json!("491706930003@s.whatsapp.net")));
    voted(&app, "a", &poll, "491706930002", &["Tue"]).await;
    next_event(&mut rx, "a", "message.poll_vote").await;
    assert_eq!(standing(&app, "a", &poll).await, (counts(&[("Mon", 0), ("Tue", 2)]), 2));

    // Only one option on a single-choice poll; only members vote.
    let res = vote(&app, "a", &poll, "491706930003", &["Mon", "Tue"]).await;
    assert_error(res, 422, "validation_failed").await;
    let res = vote(&app, "a", &poll, "491706930009", &["Mon"]).await;
    assert_error(res, 403, "forbidden").await;
    assert_eq!(standing(&app, "a", &poll).await, (counts(&[("Mon", 0), ("Tue", 2)]), 2));
}

#[tokio::test]
async fn votes_and_tallies_a_client_could_not_get_are_refused() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, CONFIG).await else { return };
    linked(&app, "a", "491706940001").await;
    let poll =
        json!({"to": "491706940002", "type": "poll", "poll": {"question": "?", "options": ["x", "y"]}});
    let poll = accepted(&app, "a", poll).await["id"].as_str().unwrap().to_owned();
    let text = accepted(&app, "a", json!({"to": "491706940002", "text": "hi"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_message(&app, "a", &poll, "sent").await;
    wait_message(&app, "a", &text, "sent").await;

    // Options the poll does not have, twice, or more than it allows.
    for bad in [&["z"][..], &["x", "x"], &["x", "y"]] {
        assert_error(vote(&app, "a", &poll, "491706940002", bad).await, 422, "validation_failed").await;
    }
    // Someone outside the chat, or the session itself.
    assert_error(vote(&app, "a", &poll, "491706940003", &["x"]).await, 403, "forbidden").await;
    assert_error(vote(&app, "a", &poll, "491706940001", &["x"]).await, 403, "forbidden").await;
    // Not a poll; not a message.
    assert_error(vote(&app, "a", &text, "491706940002", &["x"]).await, 404, "poll_not_found").await;
    assert_error(vote(&app, "a", "nope", "491706940002", &["x"]).await, 404, "message_not_found").await;
    let res = app.authed(Method::GET, &format!("/sessions/a/messages/{text}/poll")).send().await.unwrap();
    assert_error(res, 409, "not_a_poll").await;
    let res = app.authed(Method::GET, "/sessions/a/messages/nope/poll").send().await.unwrap();
    assert_error(res, 404, "message_not_found").await;
    // A poll still waiting to be sent has no tally yet.
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let res = post(
        &app,
        "/sessions/a/message/schedule",
        json!({"send_at": later, "message": {"to": "491706940002", "type": "poll", "poll": {"question": "?", "options": ["x", "y"]}}}),
    )
    .await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let scheduled = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let res =
        app.authed(Method::GET, &format!("/sessions/a/messages/{scheduled}/poll")).send().await.unwrap();
    assert_error(res, 409, "poll_not_sent").await;
    assert_error(vote(&app, "a", &scheduled, "491706940002", &["x"]).await, 409, "poll_not_sent").await;
    // None of it counted.
    assert_eq!(standing(&app, "a", &poll).await, (counts(&[("x", 0), ("y", 0)]), 0));
}
