//! The address book on the sandbox: push names heard in messages, names
//! saved through the API or on the phone; kept, listed, searched, paged and
//! announced as `contact.updated` only when something changed.

use reqwest::Method;
use serde_json::{Value, json};

use crate::calls::next_event;
use crate::helpers::*;
use crate::send::{CONFIG, wait_incoming};
use crate::support::{Backend, TestApp, assert_error};

/// `wag_contact_updates_total{source=…}` from /metrics.
async fn updates(app: &TestApp, source: &str) -> u64 {
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let needle = format!("wag_contact_updates_total{{source=\"{source}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&needle)).map_or(0, |v| v.trim().parse().unwrap())
}

async fn inbound(app: &TestApp, from: &str, push_name: &str, text: &str) {
    let res = app
        .authed(Method::POST, "/sandbox/sessions/a/inbound")
        .json(&json!({"from": from, "push_name": push_name, "text": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

async fn save(app: &TestApp, session: &str, contact: &str, body: Value) -> reqwest::Response {
    app.authed(Method::PUT, &format!("/sessions/{session}/contacts/{contact}"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn jids(page: &Value) -> Vec<&str> {
    page["data"].as_array().unwrap().iter().map(|c| c["jid"].as_str().unwrap()).collect()
}

async fn address_book(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, CONFIG).await else { return };
    let mut rx = app.state.sessions.hub().subscribe();
    linked(&app, "a", "491706700001").await;
    let (bob, carol) = ("491706700002@s.whatsapp.net", "491706700003@s.whatsapp.net");

    // A push name is learnt from a message, once; a new one replaces it.
    inbound(&app, "491706700002", "Bob", "hi").await;
    let event = next_event(&mut rx, "a", "contact.updated").await;
    assert_eq!(
        (&event["jid"], &event["push_name"], &event["changed"]),
        (&json!(bob), &json!("Bob"), &json!("push_name"))
    );
    inbound(&app, "491706700002", "Bob", "again").await;
    wait_incoming(&app, "a", 2).await;
    assert_eq!(updates(&app, "message").await, 1, "the same name twice is one change");
    inbound(&app, "491706700002", "Bobby", "renamed").await;
    assert_eq!(next_event(&mut rx, "a", "contact.updated").await["push_name"], "Bobby");
    assert_eq!(updates(&app, "message").await, 2);
    let chats = get_json(&app, "/sessions/a/chats").await;
    assert_eq!(chats["data"][0]["name"], "Bobby", "before it is saved, the push name");

    // Saved through the API: the push name stays; saving the same again
    // changes nothing and announces nothing.
    let res = save(&app, "a", "491706700002", json!({"name": " Robert Smith ", "first_name": "Rob"})).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let saved: Value = res.json().await.unwrap();
    assert_eq!(
        (&saved["jid"], &saved["name"], &saved["first_name"], &saved["push_name"]),
        (&json!(bob), &json!("Robert Smith"), &json!("Rob"), &json!("Bobby"))
    );
    let event = next_event(&mut rx, "a", "contact.updated").await;
    assert_eq!((&event["name"], &event["changed"]), (&json!("Robert Smith"), &json!("name")));
    let again: Value = save(&app, "a", bob, json!({"name": "Robert Smith", "first_name": "Rob"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["updated_at"], saved["updated_at"], "nothing was written");
    assert_eq!(updates(&app, "api").await, 1);
    // The chat list names the chat by the saved name.
    let chats = get_json(&app, "/sessions/a/chats").await;
    assert_eq!((&chats["data"][0]["chat"], &chats["data"][0]["name"]), (&json!(bob), &json!("Robert Smith")));
    let profile = get_json(&app, "/sessions/a/contacts/491706700002").await;
    assert_eq!((&profile["name"], &profile["push_name"]), (&json!("Robert Smith"), &json!("Bobby")));

    // The phone saves Carol: recorded and announced the same way.
    let res = app
        .authed(Method::POST, "/sandbox/sessions/a/contacts/491706700003")
        .json(&json!({"name": "Carol Jones"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let event = next_event(&mut rx, "a", "contact.updated").await;
    assert_eq!(
        (&event["jid"], &event["name"], &event["first_name"]),
        (&json!(carol), &json!("Carol Jones"), &Value::Null)
    );
    assert_eq!(updates(&app, "phone").await, 1);

    // Listed by JID, searched by any name (ASCII case-insensitive, the
    // wildcards literal), paged.
    assert_eq!(jids(&get_json(&app, "/sessions/a/contacts").await), [bob, carol]);
    assert_eq!(jids(&get_json(&app, "/sessions/a/contacts?search=CAROL").await), [carol]);
    assert_eq!(jids(&get_json(&app, "/sessions/a/contacts?search=bobb").await), [bob]);
    assert_eq!(jids(&get_json(&app, "/sessions/a/contacts?search=6700003").await), [carol]);
    assert!(jids(&get_json(&app, "/sessions/a/contacts?search=%25").await).is_empty());
    assert!(jids(&get_json(&app, "/sessions/a/contacts?search=Rob_rt").await).is_empty());
    let first = get_json(&app, "/sessions/a/contacts?limit=1").await;
    assert_eq!((jids(&first), &first["next_cursor"]), (vec![bob], &json!(bob)));
    let second = get_json(&app, &format!("/sessions/a/contacts?limit=1&cursor={bob}")).await;
    assert_eq!(jids(&second), [carol]);
    let last = get_json(&app, &format!("/sessions/a/contacts?limit=1&cursor={carol}")).await;
    assert_eq!((jids(&last).len(), &last["next_cursor"]), (0, &Value::Null));

    // Refusals change nothing.
    for (contact, body, status, code) in [
        ("491706700004", json!({"name": "  "}), 422, "validation_failed"),
        ("491706700004", json!({"name": "x".repeat(257)}), 422, "validation_failed"),
        ("491706700004", json!({"name": "Dan", "first_name": ""}), 422, "validation_failed"),
        ("491706700004", json!({"name": "Dan", "nick": "D"}), 422, "validation_failed"),
        ("120363000000000001@g.us", json!({"name": "A group"}), 422, "validation_failed"),
        ("9991234567", json!({"name": "Nobody"}), 422, "not_on_whatsapp"),
    ] {
        assert_error(save(&app, "a", contact, body).await, status, code).await;
    }
    assert_error(save(&app, "nope", "491706700004", json!({"name": "Dan"})).await, 404, "session_not_found")
        .await;
    // PostgreSQL cannot store a NUL character: a clear 422, not a 500.
    if backend == Backend::Postgres {
        let res = save(&app, "a", "491706700002", json!({"name": "Da\u{0}n"})).await;
        assert_error(res, 422, "invalid_text").await;
        let res = app.authed(Method::GET, "/sessions/a/contacts?search=a%00b").send().await.unwrap();
        assert_error(res, 422, "invalid_text").await;
        // Anyone can send a NUL: it is replaced, and the message, its
        // sender's name and its event are kept.
        let network = app.state.sandbox.clone().unwrap();
        let inbound: wa_gateway::engine::sandbox::Inbound = serde_json::from_value(
            json!({"from": "491706700005", "push_name": "Ev\u{0}e", "text": "hi\u{0}there"}),
        )
        .unwrap();
        network.inject("a", &inbound).await.unwrap();
        let logged = wait_incoming(&app, "a", 4).await["data"][0].clone();
        assert_eq!(logged["preview"], "hi\u{FFFD}there");
        let eve = get_json(&app, "/sessions/a/contacts?search=6700005").await;
        assert_eq!(eve["data"][0]["push_name"], "Ev\u{FFFD}e");
    }
    // Eve writes with a NUL in her name (PostgreSQL only, below).
    let known: Vec<&str> = if backend == Backend::Postgres {
        vec![bob, carol, "491706700005@s.whatsapp.net"]
    } else {
        vec![bob, carol]
    };
    let res = app
        .authed(Method::GET, &format!("/sessions/a/contacts?search={}", "x".repeat(101)))
        .send()
        .await
        .unwrap();
    assert_error(res, 422, "validation_failed").await;
    assert_eq!(jids(&get_json(&app, "/sessions/a/contacts").await), known);

    // Stopped: nothing can be saved, the book can still be read.
    app.authed(Method::POST, "/sessions/a/stop").send().await.unwrap();
    wait_status(&app, "a", "stopped").await;
    assert_error(save(&app, "a", "491706700004", json!({"name": "Dan"})).await, 409, "session_not_connected")
        .await;
    assert_eq!(jids(&get_json(&app, "/sessions/a/contacts").await), known);
    assert_eq!(updates(&app, "api").await, 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn address_book_on_sqlite() {
    address_book(Backend::Sqlite).await;
}

#[tokio::test]
async fn address_book_on_postgres() {
    address_book(Backend::Postgres).await;
}
