//! The contract cases; each takes a freshly migrated store.

use chrono::{Duration, Utc};
use serde_json::json;
use wa_gateway::store::*;

// The WhatsApp key store's cases live in their own files.
pub use crate::wa_handshake::whatsapp_handshake_runs_on_our_key_store;
pub use crate::wa_keys::{
    whatsapp_keys_match_the_reference_backend, whatsapp_keys_persist_per_session_and_erase,
    whatsapp_poll_secrets_are_kept_per_poll,
};

async fn session(store: &Store, id: &str) -> Session {
    store
        .sessions
        .create(&NewSession { id: id.into(), engine: "sandbox".into(), metadata: json!({"team": id}) })
        .await
        .unwrap()
}

fn log(session: &str, message_id: &str, chat: &str, direction: Direction) -> NewMessageLog {
    NewMessageLog {
        session_id: session.into(),
        direction,
        message_id: message_id.into(),
        wa_message_id: None,
        chat_jid: chat.into(),
        message_type: "text".into(),
        content_preview: Some(format!("hello from {message_id}")),
        status: "queued".into(),
        request_id: Some("req-1".into()),
        sender_jid: None,
        batch_id: None,
        scheduled_at: None,
    }
}

pub async fn sessions_crud_and_conflicts(store: Store) {
    let created = session(&store, "alpha").await;
    assert_eq!(created.id, "alpha");
    assert_eq!(created.status, "created");
    assert_eq!(created.engine, "sandbox");
    assert_eq!(created.metadata.0, json!({"team": "alpha"}));
    assert_eq!(created.created_at, created.updated_at);
    assert!(created.phone.is_none() && created.last_seen_at.is_none());

    let again = store
        .sessions
        .create(&NewSession { id: "alpha".into(), engine: "sandbox".into(), metadata: json!({}) })
        .await;
    assert!(matches!(again, Err(StoreError::Conflict { .. })), "{again:?}");

    assert_eq!(store.sessions.get("alpha").await.unwrap(), Some(created.clone()));
    assert_eq!(store.sessions.get("missing").await.unwrap(), None);

    let connected = store.sessions.set_status("alpha", "connected").await.unwrap().unwrap();
    assert_eq!(connected.status, "connected");
    assert!(connected.updated_at > created.updated_at);
    assert!(store.sessions.set_status("missing", "connected").await.unwrap().is_none());

    let linked =
        store.sessions.set_account("alpha", Some("491701234567"), Some("Alpha")).await.unwrap().unwrap();
    assert_eq!(linked.phone.as_deref(), Some("491701234567"));
    assert_eq!(linked.push_name.as_deref(), Some("Alpha"));
    assert!(linked.last_seen_at.is_some());
    assert_eq!(linked.status, "connected");

    assert!(store.sessions.delete("alpha").await.unwrap());
    assert!(!store.sessions.delete("alpha").await.unwrap());
    assert_eq!(store.sessions.get("alpha").await.unwrap(), None);
}

pub async fn sessions_list_paginates_in_id_order(store: Store) {
    for id in ["c", "a", "e", "b", "d"] {
        session(&store, id).await;
    }
    let first = store.sessions.list(&Page::first(2)).await.unwrap();
    assert_eq!(first.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    let second = store.sessions.list(&Page::after("b".into(), 2)).await.unwrap();
    assert_eq!(second.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["c", "d"]);
    let last = store.sessions.list(&Page::after("d".into(), 2)).await.unwrap();
    assert_eq!(last.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["e"]);
    // A limit of 0 still returns a row: limits are clamped to 1..=MAX.
    assert_eq!(store.sessions.list(&Page::first(0)).await.unwrap().len(), 1);
}

pub async fn sessions_count_by_status(store: Store) {
    for id in ["a", "b", "c"] {
        session(&store, id).await;
    }
    store.sessions.set_status("b", "connected").await.unwrap();
    store.sessions.set_status("c", "connected").await.unwrap();
    let counts = store.sessions.count_by_status().await.unwrap();
    assert_eq!(counts, vec![("connected".to_owned(), 2), ("created".to_owned(), 1)]);
}

pub async fn session_delete_cascades(store: Store) {
    session(&store, "gone").await;
    session(&store, "kept").await;
    store.message_logs.insert(&log("gone", "m1", "1@s.whatsapp.net", Direction::Outgoing)).await.unwrap();
    store.message_logs.insert(&log("kept", "m1", "1@s.whatsapp.net", Direction::Outgoing)).await.unwrap();
    store
        .webhooks
        .create(&NewWebhook {
            id: "wh_gone".into(),
            session_id: "gone".into(),
            url: "https://example.com/hook".into(),
            events: vec!["*".into()],
            secret: "whsec_x".into(),
            headers: json!({}),
        })
        .await
        .unwrap();
    store.session_events.append("gone", "session.created", &json!({})).await.unwrap();

    assert!(store.sessions.delete("gone").await.unwrap());
    assert!(store.message_logs.get("gone", "m1").await.unwrap().is_none());
    assert!(store.webhooks.get("gone", "wh_gone").await.unwrap().is_none());
    assert!(store.message_logs.get("kept", "m1").await.unwrap().is_some());
    // The audit trail outlives the session on purpose.
    assert_eq!(store.session_events.list("gone", &Page::first(10)).await.unwrap().len(), 1);
}

pub async fn templates_crud(store: Store) {
    let new = NewTemplate { name: "welcome".into(), content: "Hi {{name}}".into(), description: None };
    let created = store.templates.create(&new).await.unwrap();
    assert_eq!(created.content, "Hi {{name}}");
    assert!(matches!(store.templates.create(&new).await, Err(StoreError::Conflict { .. })));
    store
        .templates
        .create(&NewTemplate { name: "bye".into(), content: "Bye".into(), description: Some("d".into()) })
        .await
        .unwrap();

    let names: Vec<String> =
        store.templates.list(&Page::first(10)).await.unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["bye", "welcome"]);
    let after: Vec<String> = store
        .templates
        .list(&Page::after("bye".into(), 10))
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(after, ["welcome"]);

    let updated =
        store.templates.update("welcome", "Hello {{name}}", Some("greeting")).await.unwrap().unwrap();
    assert_eq!(updated.content, "Hello {{name}}");
    assert_eq!(updated.description.as_deref(), Some("greeting"));
    assert_eq!(updated.created_at, created.created_at);
    assert!(updated.updated_at > created.updated_at);
    assert!(store.templates.update("nope", "x", None).await.unwrap().is_none());

    assert_eq!(store.templates.get("welcome").await.unwrap(), Some(updated));
    assert!(store.templates.delete("welcome").await.unwrap());
    assert!(!store.templates.delete("welcome").await.unwrap());
    assert!(store.templates.get("welcome").await.unwrap().is_none());
}

pub async fn message_logs_insert_get_update(store: Store) {
    session(&store, "s").await;
    let inserted = store
        .message_logs
        .insert(&log("s", "msg_1", "491701234567@s.whatsapp.net", Direction::Outgoing))
        .await
        .unwrap();
    assert_eq!(inserted.direction, "outgoing");
    assert_eq!(inserted.status, "queued");
    assert_eq!(inserted.request_id.as_deref(), Some("req-1"));

    let dup = store.message_logs.insert(&log("s", "msg_1", "x@s.whatsapp.net", Direction::Outgoing)).await;
    assert!(matches!(dup, Err(StoreError::Conflict { .. })), "{dup:?}");
    let orphan = store.message_logs.insert(&log("nobody", "msg_1", "x", Direction::Outgoing)).await;
    assert!(matches!(orphan, Err(StoreError::MissingReference)), "{orphan:?}");

    let with_wa = store.message_logs.set_wa_id("s", "msg_1", "3EB0ABC").await.unwrap().unwrap();
    assert_eq!(with_wa.wa_message_id.as_deref(), Some("3EB0ABC"));
    assert_eq!(store.message_logs.find_by_wa_id("s", "3EB0ABC").await.unwrap().unwrap().message_id, "msg_1");
    assert!(store.message_logs.find_by_wa_id("s", "OTHER").await.unwrap().is_none());
    let ids = ["OTHER".to_owned(), "3EB0ABC".to_owned(), "3EB0ABC".to_owned()];
    assert_eq!(store.message_logs.known_wa_ids("s", &ids).await.unwrap(), ["3EB0ABC"]);
    assert!(store.message_logs.known_wa_ids("other-session", &ids).await.unwrap().is_empty());
    assert!(store.message_logs.known_wa_ids("s", &[]).await.unwrap().is_empty());

    let failed = store
        .message_logs
        .set_status("s", "msg_1", "failed", Some("not on WhatsApp"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.status, "failed");
    assert_eq!(failed.error.as_deref(), Some("not on WhatsApp"));
    assert!(failed.updated_at > inserted.updated_at);
    assert!(store.message_logs.set_status("s", "nope", "sent", None).await.unwrap().is_none());
    assert_eq!(store.message_logs.get("s", "msg_1").await.unwrap(), Some(failed));
}

pub async fn message_logs_list_filters_and_pages(store: Store) {
    session(&store, "s").await;
    session(&store, "other").await;
    for i in 0..6 {
        let chat = if i % 2 == 0 { "even@s.whatsapp.net" } else { "odd@s.whatsapp.net" };
        let dir = if i < 3 { Direction::Outgoing } else { Direction::Incoming };
        store.message_logs.insert(&log("s", &format!("m{i}"), chat, dir)).await.unwrap();
    }
    store.message_logs.insert(&log("other", "x", "even@s.whatsapp.net", Direction::Outgoing)).await.unwrap();
    store.message_logs.set_status("s", "m2", "read", None).await.unwrap();

    let ids = |rows: Vec<MessageLog>| rows.into_iter().map(|r| r.message_id).collect::<Vec<_>>();
    let all = store.message_logs.list("s", &MessageLogFilter::default(), &Page::first(10)).await.unwrap();
    assert_eq!(ids(all.clone()), ["m5", "m4", "m3", "m2", "m1", "m0"]);

    let page1 = store.message_logs.list("s", &MessageLogFilter::default(), &Page::first(4)).await.unwrap();
    let cursor = page1.last().unwrap().id;
    let page2 =
        store.message_logs.list("s", &MessageLogFilter::default(), &Page::after(cursor, 4)).await.unwrap();
    assert_eq!(ids(page1), ["m5", "m4", "m3", "m2"]);
    assert_eq!(ids(page2), ["m1", "m0"]);

    let even = MessageLogFilter { chat_jid: Some("even@s.whatsapp.net".into()), ..Default::default() };
    assert_eq!(ids(store.message_logs.list("s", &even, &Page::first(10)).await.unwrap()), ["m4", "m2", "m0"]);
    let incoming = MessageLogFilter { direction: Some(Direction::Incoming), ..Default::default() };
    assert_eq!(
        ids(store.message_logs.list("s", &incoming, &Page::first(10)).await.unwrap()),
        ["m5", "m4", "m3"]
    );
    let read = MessageLogFilter { status: Some("read".into()), ..Default::default() };
    assert_eq!(ids(store.message_logs.list("s", &read, &Page::first(10)).await.unwrap()), ["m2"]);
    let combined = MessageLogFilter {
        direction: Some(Direction::Outgoing),
        chat_jid: Some("even@s.whatsapp.net".into()),
        status: Some("queued".into()),
    };
    assert_eq!(ids(store.message_logs.list("s", &combined, &Page::first(10)).await.unwrap()), ["m0"]);
}

pub async fn message_logs_retention(store: Store) {
    session(&store, "s").await;
    assert_eq!(store.message_logs.delete_before(Utc::now()).await.unwrap(), 0, "an empty log");
    let sent = |id: &str| NewMessageLog { status: "sent".into(), ..log("s", id, "c", Direction::Outgoing) };
    // Old rows with a gap in their ids (the boundary search must step over
    // it), and an old message still waiting to be sent (scheduled ahead).
    for n in 0..13 {
        store.message_logs.insert(&sent(&format!("old{n}"))).await.unwrap();
        if n == 9 {
            let scheduled = NewMessageLog {
                scheduled_at: Some(Utc::now() + Duration::days(60)),
                ..log("s", "scheduled", "c", Direction::Outgoing)
            };
            store.message_logs.insert(&scheduled).await.unwrap();
        }
    }
    let gap = "DELETE FROM message_logs WHERE message_id IN ('old3', 'old4', 'old5', 'old6', 'old7', 'old8')";
    let removed = match store.pool() {
        Pool::Sqlite(p) => sqlx::query(gap).execute(p).await.unwrap().rows_affected(),
        Pool::Postgres(p) => sqlx::query(gap).execute(p).await.unwrap().rows_affected(),
    };
    assert_eq!(removed, 6);
    let cutoff = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    for n in 0..5 {
        store.message_logs.insert(&sent(&format!("new{n}"))).await.unwrap();
    }

    assert_eq!(store.message_logs.delete_before(cutoff - Duration::hours(1)).await.unwrap(), 0);
    assert_eq!(store.message_logs.delete_before(cutoff).await.unwrap(), 7);
    assert_eq!(store.message_logs.delete_before(cutoff).await.unwrap(), 0, "nothing old is left");
    assert!(store.message_logs.get("s", "old12").await.unwrap().is_none());
    for n in 0..5 {
        assert!(store.message_logs.get("s", &format!("new{n}")).await.unwrap().is_some(), "new{n} was kept");
    }
    assert_eq!(store.message_logs.delete_before(Utc::now() + Duration::seconds(1)).await.unwrap(), 5);
    let kept = store.message_logs.get("s", "scheduled").await.unwrap().expect("a queued message is kept");
    assert_eq!(kept.status, "queued");
    // Once it has left, it ages out like any other.
    store.message_logs.mark_failed("s", "scheduled", "cancelled").await.unwrap();
    assert_eq!(store.message_logs.delete_before(Utc::now() + Duration::seconds(1)).await.unwrap(), 1);
}

pub async fn webhooks_crud_scoped_to_session(store: Store) {
    session(&store, "s").await;
    session(&store, "t").await;
    let new = |id: &str, session: &str| NewWebhook {
        id: id.into(),
        session_id: session.into(),
        url: format!("https://example.com/{id}"),
        events: vec!["message.received".into(), "session.status".into()],
        secret: format!("whsec_{id}"),
        headers: json!({"X-Tenant": "acme"}),
    };
    let created = store.webhooks.create(&new("wh_1", "s")).await.unwrap();
    assert!(created.enabled);
    assert_eq!(created.events.0, ["message.received", "session.status"]);
    assert_eq!(created.headers.0, json!({"X-Tenant": "acme"}));
    assert!(matches!(store.webhooks.create(&new("wh_1", "s")).await, Err(StoreError::Conflict { .. })));
    assert!(matches!(store.webhooks.create(&new("wh_x", "none")).await, Err(StoreError::MissingReference)));
    store.webhooks.create(&new("wh_2", "s")).await.unwrap();
    store.webhooks.create(&new("wh_3", "t")).await.unwrap();

    let listed: Vec<String> = store.webhooks.list("s").await.unwrap().into_iter().map(|w| w.id).collect();
    assert_eq!(listed, ["wh_1", "wh_2"]);
    assert!(store.webhooks.get("t", "wh_1").await.unwrap().is_none(), "another session's webhook");

    let disabled = store
        .webhooks
        .update("s", "wh_1", &WebhookPatch { enabled: Some(false), ..Default::default() })
        .await
        .unwrap()
        .unwrap();
    assert!(!disabled.enabled);
    assert_eq!(disabled.url, created.url, "fields left out of the patch keep their value");
    assert_eq!(disabled.secret, created.secret);

    let changed = store
        .webhooks
        .update(
            "s",
            "wh_1",
            &WebhookPatch {
                url: Some("https://example.org/new".into()),
                events: Some(vec!["*".into()]),
                secret: Some("whsec_rotated".into()),
                headers: Some(json!({})),
                enabled: Some(true),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.url, "https://example.org/new");
    assert_eq!(changed.events.0, ["*"]);
    assert_eq!(changed.secret, "whsec_rotated");
    assert_eq!(changed.headers.0, json!({}));
    assert!(changed.enabled);
    assert!(store.webhooks.update("t", "wh_1", &WebhookPatch::default()).await.unwrap().is_none());

    assert!(!store.webhooks.delete("t", "wh_1").await.unwrap());
    assert!(store.webhooks.delete("s", "wh_1").await.unwrap());
    assert!(store.webhooks.get("s", "wh_1").await.unwrap().is_none());
}

pub async fn deliveries_attempts_and_listing(store: Store) {
    let new = |session: &str, webhook: Option<&str>, event: &str| NewWebhookDelivery {
        session_id: session.into(),
        webhook_id: webhook.map(Into::into),
        webhook_url: "https://example.com/hook".into(),
        event_id: format!("evt_{event}"),
        event_type: "message.received".into(),
        payload: json!({"event": event}),
    };
    let d1 = store.deliveries.create(&new("s", Some("wh_1"), "1")).await.unwrap();
    assert_eq!((d1.status.as_str(), d1.attempts), ("pending", 0));
    assert_eq!(d1.payload.0, json!({"event": "1"}));
    let d2 = store.deliveries.create(&new("s", None, "2")).await.unwrap();
    let d3 = store.deliveries.create(&new("t", Some("wh_2"), "3")).await.unwrap();

    let retry = DeliveryAttempt {
        status: "pending".into(),
        status_code: Some(503),
        error: Some("unavailable".into()),
    };
    let after1 = store.deliveries.record_attempt(d1.id, &retry).await.unwrap().unwrap();
    assert_eq!(after1.attempts, 1);
    assert_eq!(after1.last_status_code, Some(503));
    assert!(after1.last_attempt_at.is_some());
    let dead = DeliveryAttempt { status: "dead".into(), status_code: None, error: Some("timeout".into()) };
    let after2 = store.deliveries.record_attempt(d1.id, &dead).await.unwrap().unwrap();
    assert_eq!((after2.status.as_str(), after2.attempts), ("dead", 2));
    assert_eq!(after2.last_status_code, None);
    assert_eq!(after2.last_error.as_deref(), Some("timeout"));
    assert!(store.deliveries.record_attempt(999_999, &dead).await.unwrap().is_none());
    assert_eq!(store.deliveries.get(d1.id).await.unwrap(), Some(after2));

    let ids = |rows: Vec<WebhookDelivery>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let all = store.deliveries.list(&DeliveryFilter::default(), &Page::first(10)).await.unwrap();
    assert_eq!(ids(all), [d3.id, d2.id, d1.id]);
    let by_session = DeliveryFilter { session_id: Some("s".into()), ..Default::default() };
    assert_eq!(ids(store.deliveries.list(&by_session, &Page::first(10)).await.unwrap()), [d2.id, d1.id]);
    assert_eq!(ids(store.deliveries.list(&by_session, &Page::after(d2.id, 10)).await.unwrap()), [d1.id]);
    let by_webhook = DeliveryFilter { webhook_id: Some("wh_2".into()), ..Default::default() };
    assert_eq!(ids(store.deliveries.list(&by_webhook, &Page::first(10)).await.unwrap()), [d3.id]);
    let dead_only = DeliveryFilter { status: Some("dead".into()), ..Default::default() };
    assert_eq!(ids(store.deliveries.list(&dead_only, &Page::first(10)).await.unwrap()), [d1.id]);
}

pub async fn session_events_append_and_list(store: Store) {
    for (i, kind) in ["session.created", "session.qr", "session.connected"].iter().enumerate() {
        let e = store.session_events.append("s", kind, &json!({"n": i})).await.unwrap();
        assert_eq!(e.event_type, *kind);
        assert_eq!(e.details.0, json!({"n": i}));
    }
    store.session_events.append("t", "session.created", &json!({})).await.unwrap();
    let events = store.session_events.list("s", &Page::first(2)).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, ["session.connected", "session.qr"]);
    let rest = store.session_events.list("s", &Page::after(events[1].id, 10)).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].event_type, "session.created");
}

/// An UPDATE that does not mention `updated_at` still moves it.
pub async fn updated_at_kept_by_trigger(store: Store) {
    let before = session(&store, "s").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let sql = "UPDATE sessions SET push_name = 'raw' WHERE id = 's'";
    match store.pool() {
        Pool::Sqlite(p) => assert_eq!(sqlx::query(sql).execute(p).await.unwrap().rows_affected(), 1),
        Pool::Postgres(p) => assert_eq!(sqlx::query(sql).execute(p).await.unwrap().rows_affected(), 1),
    }
    let after = store.sessions.get("s").await.unwrap().unwrap();
    assert_eq!(after.push_name.as_deref(), Some("raw"));
    assert!(after.updated_at > before.updated_at, "{:?} !> {:?}", after.updated_at, before.updated_at);
}

pub async fn ping_and_pool_usage(store: Store) {
    store.ping().await.unwrap();
    // sqlx returns a connection to the pool from a spawned task: give it a moment.
    let mut usage = store.pool_usage();
    for _ in 0..100 {
        if usage.0 == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        usage = store.pool_usage();
    }
    let (in_use, idle) = usage;
    assert_eq!(in_use, 0);
    assert!(idle >= 1);
    store.close().await;
    assert!(matches!(store.ping().await, Err(StoreError::Unavailable(_))));
}

pub async fn message_status_only_moves_forward(store: Store) {
    session(&store, "s").await;
    let mut new = log("s", "msg_1", "491700000001@s.whatsapp.net", Direction::Outgoing);
    new.wa_message_id = Some("3EB0AA".into());
    assert!(store.message_logs.insert_ignore(&new).await.unwrap());
    assert!(!store.message_logs.insert_ignore(&new).await.unwrap(), "a second insert is a no-op");
    // The batched form skips existing rows and inserts the rest in one go.
    let extra = log("s", "msg_9", "491700000001@s.whatsapp.net", Direction::Outgoing);
    store.message_logs.insert_many_ignore(&[new.clone(), extra]).await.unwrap();
    store.message_logs.insert_many_ignore(&[]).await.unwrap();
    assert!(store.message_logs.get("s", "msg_9").await.unwrap().is_some());
    assert_eq!(store.message_logs.count_queued("s").await.unwrap(), 2);
    let marked = store
        .message_logs
        .mark_sent_many(&[
            ("s".into(), "msg_9".into(), "3EB099".into()),
            ("s".into(), "nope".into(), "x".into()),
        ])
        .await
        .unwrap();
    assert_eq!(
        marked.iter().map(|m| m.as_ref().map(|l| l.status.as_str())).collect::<Vec<_>>(),
        [Some("sent"), None]
    );
    let advanced = store
        .message_logs
        .advance_many(&[("s".into(), "3EB099".into(), "read"), ("s".into(), "3EB099".into(), "delivered")])
        .await
        .unwrap();
    // Within a batch, steps apply in step order: delivered, then read.
    assert_eq!(advanced[0].as_ref().unwrap().status, "read");
    assert!(advanced[1].as_ref().unwrap().delivered_at.is_some());
    let late = store.message_logs.advance_many(&[("s".into(), "3EB099".into(), "delivered")]).await.unwrap();
    assert!(late[0].is_none(), "forward only across batches");
    assert_eq!(store.message_logs.get("s", "msg_9").await.unwrap().unwrap().status, "read");

    // A receipt may beat the send's own bookkeeping: it still applies.
    let delivered = store.message_logs.advance("s", "3EB0AA", "delivered").await.unwrap().unwrap();
    assert_eq!(delivered.status, "delivered");
    let sent = store.message_logs.mark_sent("s", "msg_1", "3EB0AA").await.unwrap().unwrap();
    assert_eq!(sent.status, "delivered", "marking sent never moves a message back");
    assert!(sent.sent_at.is_some() && sent.delivered_at.is_some());
    let read = store.message_logs.advance("s", "3EB0AA", "read").await.unwrap().unwrap();
    assert_eq!(read.status, "read");
    assert!(
        store.message_logs.advance("s", "3EB0AA", "delivered").await.unwrap().is_none(),
        "late delivered ignored"
    );
    assert!(store.message_logs.advance("s", "3EB0AA", "read").await.unwrap().is_none(), "repeat ignored");
    assert_eq!(store.message_logs.get("s", "msg_1").await.unwrap().unwrap().status, "read");

    // A send and its receipts recorded together: the send first, so the
    // message ends at the receipt's step with both times set.
    let mut both = log("s", "msg_3", "491700000003@s.whatsapp.net", Direction::Outgoing);
    both.wa_message_id = Some("3EB0DD".into());
    store.message_logs.insert_many_ignore(&[both]).await.unwrap();
    let (marked, moved) = store
        .message_logs
        .record_progress(
            &[("s".into(), "msg_3".into(), "3EB0DD".into())],
            &[("s".into(), "3EB0DD".into(), "delivered"), ("s".into(), "3EB0ZZ".into(), "read")],
        )
        .await
        .unwrap();
    assert_eq!(marked[0].as_ref().unwrap().status, "sent");
    let moved_row = moved[0].as_ref().unwrap();
    assert_eq!(moved_row.status, "delivered");
    assert!(moved_row.sent_at.is_some() && moved_row.delivered_at.is_some());
    assert!(moved[1].is_none(), "a receipt for an unknown id moves nothing");
    assert!(store.message_logs.advance("s", "3EB0AA", "bogus").await.unwrap().is_none());
    assert!(
        store.message_logs.mark_failed("s", "msg_1", "too late").await.unwrap().is_none(),
        "only queued fails"
    );

    let mut q = log("s", "msg_2", "491700000001@s.whatsapp.net", Direction::Outgoing);
    q.wa_message_id = Some("3EB0BB".into());
    store.message_logs.insert(&q).await.unwrap();
    let failed = store.message_logs.mark_failed("s", "msg_2", "not on WhatsApp").await.unwrap().unwrap();
    assert_eq!((failed.status.as_str(), failed.error.as_deref()), ("failed", Some("not on WhatsApp")));
    assert!(failed.failed_at.is_some());
    assert!(
        store.message_logs.mark_sent("s", "msg_2", "3EB0BB").await.unwrap().is_none(),
        "failed stays failed"
    );
    assert!(store.message_logs.advance("s", "3EB0BB", "read").await.unwrap().is_none());

    let mut incoming = log("s", "3EB0CC", "120363000000000001@g.us", Direction::Incoming);
    incoming.wa_message_id = Some("3EB0CC".into());
    incoming.status = "received".into();
    incoming.sender_jid = Some("491700000009@s.whatsapp.net".into());
    store.message_logs.insert(&incoming).await.unwrap();
    assert!(
        store.message_logs.advance("s", "3EB0CC", "read").await.unwrap().is_none(),
        "receipts are for outgoing"
    );
    let got = store.message_logs.get("s", "3EB0CC").await.unwrap().unwrap();
    assert_eq!(got.sender_jid.as_deref(), Some("491700000009@s.whatsapp.net"));
}

pub async fn idempotency_keys_reserve_once_until_expiry(store: Store) {
    use wa_gateway::store::Reservation;
    session(&store, "s").await;
    let day = std::time::Duration::from_secs(86_400);
    let r = store.idempotency.reserve("s", "k1", "hash-a", "msg_1", day).await.unwrap();
    assert_eq!(r, Reservation::New);
    let r = store.idempotency.reserve("s", "k1", "hash-b", "msg_2", day).await.unwrap();
    assert_eq!(r, Reservation::Existing { request_hash: "hash-a".into(), message_id: "msg_1".into() });
    session(&store, "t").await;
    assert_eq!(
        store.idempotency.reserve("t", "k1", "hash-b", "msg_3", day).await.unwrap(),
        Reservation::New,
        "keys are per session"
    );

    // An expired key is free again, and pruning removes expired keys.
    let r = store.idempotency.reserve("s", "k2", "h", "msg_4", std::time::Duration::ZERO).await.unwrap();
    assert_eq!(r, Reservation::New);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(store.idempotency.reserve("s", "k2", "h2", "msg_5", day).await.unwrap(), Reservation::New);
    store.idempotency.reserve("s", "k3", "h", "msg_6", std::time::Duration::ZERO).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(store.idempotency.prune().await.unwrap(), 1);
    assert!(store.sessions.delete("s").await.unwrap());
    assert_eq!(
        store.idempotency.reserve("t", "k1", "x", "y", day).await.unwrap(),
        Reservation::Existing { request_hash: "hash-b".into(), message_id: "msg_3".into() }
    );
}

pub async fn lifecycle_transitions_desired_state_and_credentials(store: Store) {
    use wa_gateway::store::Transition;
    session(&store, "a").await;
    session(&store, "b").await;
    let details = json!({"status": "connected", "reason": "test"});
    let t = Transition {
        status: "reconnecting",
        error: Some("boom"),
        event_type: "session.status",
        details: &details,
    };
    let event = store.sessions.transition("a", &t).await.unwrap().unwrap();
    assert_eq!(event.details.0, details);
    let a = store.sessions.get("a").await.unwrap().unwrap();
    assert_eq!((a.status.as_str(), a.last_error.as_deref()), ("reconnecting", Some("boom")));
    assert!(store.sessions.transition("nope", &t).await.unwrap().is_none());
    assert!(
        store.session_events.list("nope", &Page::first(10)).await.unwrap().is_empty(),
        "no audit row without a session"
    );

    assert_eq!(a.desired_state, "stopped");
    assert!(store.sessions.set_desired_state("b", "running").await.unwrap());
    let running = store.sessions.list_running(&Page::first(10)).await.unwrap();
    assert_eq!(running.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["b"]);

    assert!(store.credentials.get("a").await.unwrap().is_none());
    store.credentials.put("a", "sandbox", &json!({"phone": "1"})).await.unwrap();
    store.credentials.put("a", "sandbox", &json!({"phone": "2"})).await.unwrap();
    assert_eq!(store.credentials.get("a").await.unwrap().unwrap().data.0, json!({"phone": "2"}));
    assert!(matches!(
        store.credentials.put("ghost", "sandbox", &json!({})).await,
        Err(StoreError::MissingReference)
    ));
    assert!(store.sessions.delete("a").await.unwrap());
    assert!(store.credentials.get("a").await.unwrap().is_none(), "credentials go with the session");
}

pub async fn media_handles_follow_their_message(store: Store) {
    session(&store, "s").await;
    let logs = &store.message_logs;
    // A handle needs its message row.
    assert!(logs.put_media_handle("s", "msg_none", "h0").await.is_err());
    let incoming = NewMessageLog {
        status: "received".into(),
        ..log("s", "msg_m", "491701234567@s.whatsapp.net", Direction::Incoming)
    };
    logs.insert(&incoming).await.unwrap();
    assert_eq!(logs.media_handle("s", "msg_m").await.unwrap(), None);
    logs.put_media_handle("s", "msg_m", "h1").await.unwrap();
    logs.put_media_handle("s", "msg_m", "h2").await.unwrap();
    assert_eq!(logs.media_handle("s", "msg_m").await.unwrap().as_deref(), Some("h2"));
    assert_eq!(logs.media_handle("other", "msg_m").await.unwrap(), None);
    // Retention takes the handle with the row.
    assert_eq!(logs.delete_before(Utc::now() + Duration::seconds(1)).await.unwrap(), 1);
    assert_eq!(logs.media_handle("s", "msg_m").await.unwrap(), None);
}

/// The chat list against a reference computed here from the rows written:
/// newest message per chat, newest chat first, unread = incoming messages
/// still `received`; pages continue by cursor; other sessions stay out.
pub async fn chats_list_newest_first_with_unread_counts(store: Store) {
    session(&store, "s").await;
    session(&store, "other").await;
    assert!(store.message_logs.chats("s", &Page::first(10)).await.unwrap().is_empty());
    let mut rows = Vec::new();
    let mut seed = 7_u64;
    for i in 0..80_u32 {
        // A small LCG: chats get uneven traffic, directions and states mix.
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let chat = format!("4917{}@s.whatsapp.net", (seed >> 33) % 9);
        let incoming = (seed >> 20).is_multiple_of(3);
        let mut new = log(
            "s",
            &format!("m{i}"),
            &chat,
            if incoming { Direction::Incoming } else { Direction::Outgoing },
        );
        if incoming {
            new.status = "received".into();
        }
        let mut row = store.message_logs.insert(&new).await.unwrap();
        if incoming && (seed >> 40).is_multiple_of(2) {
            row = store.message_logs.set_status("s", &row.message_id, "read", None).await.unwrap().unwrap();
        }
        rows.push(row);
        if i.is_multiple_of(10) {
            // The other session's rows sit between ours, in a chat ours has too.
            store
                .message_logs
                .insert(&log("other", &format!("o{i}"), &chat, Direction::Incoming))
                .await
                .unwrap();
        }
    }
    let mut expected: Vec<(String, i64, i64)> = Vec::new();
    for row in rows.iter().rev() {
        if !expected.iter().any(|(chat, _, _)| *chat == row.chat_jid) {
            let unread = rows
                .iter()
                .filter(|r| r.chat_jid == row.chat_jid && r.direction == "incoming" && r.status == "received")
                .count();
            expected.push((row.chat_jid.clone(), row.id, unread as i64));
        }
    }
    assert!(expected.len() >= 7, "most of the nine chats have traffic: {expected:?}");
    assert!(expected.iter().any(|e| e.2 > 0) && expected.iter().any(|e| e.2 == 0));

    let mut listed = Vec::new();
    let mut page = Page::first(3);
    loop {
        let chats = store.message_logs.chats("s", &page).await.unwrap();
        assert!(chats.len() <= 3);
        listed.extend(chats.iter().map(|c| (c.last.chat_jid.clone(), c.last.id, c.unread)));
        match chats.last() {
            Some(last) if chats.len() == 3 => page = Page::after(last.last.id, 3),
            _ => break,
        }
    }
    assert_eq!(listed, expected);
    let newest = store.message_logs.chats("s", &Page::first(1)).await.unwrap();
    assert_eq!(newest[0].last, *rows.last().unwrap(), "the whole newest row");
    let other = store.message_logs.chats("other", &Page::first(50)).await.unwrap();
    assert!(other.iter().all(|c| c.last.session_id == "other" && c.unread == 0), "queued, not received");
}

/// A poll goes with its log row and its votes with the poll; a voter's vote
/// is replaced only by a newer one (WhatsApp may repeat or reorder them).
pub async fn polls_keep_options_and_each_voters_latest_vote(store: Store) {
    session(&store, "s").await;
    session(&store, "other").await;
    let poll = |session: &str, message_id: &str, wa: &str| NewPoll {
        session_id: session.into(),
        message_id: message_id.into(),
        wa_message_id: wa.into(),
        chat_jid: "491701234567@s.whatsapp.net".into(),
        question: "Lunch?".into(),
        options: vec!["Pizza".into(), "Sushi, with \"rice\"".into()],
        selectable: 2,
    };
    // A poll needs its message row.
    assert!(store.polls.put(&poll("s", "msg_p", "3EB0P")).await.is_err());
    let sent = NewMessageLog {
        status: "sent".into(),
        ..log("s", "msg_p", "491701234567@s.whatsapp.net", Direction::Outgoing)
    };
    store.message_logs.insert(&sent).await.unwrap();
    store.polls.put(&poll("s", "msg_p", "3EB0P")).await.unwrap();
    // Again (a retried send): no change, no error.
    store.polls.put(&NewPoll { question: "changed".into(), ..poll("s", "msg_p", "3EB0P") }).await.unwrap();
    let kept = store.polls.get("s", "msg_p").await.unwrap().unwrap();
    assert_eq!(kept.poll, poll("s", "msg_p", "3EB0P"));
    assert_eq!(store.polls.by_wa_id("s", "3EB0P").await.unwrap().unwrap().poll.message_id, "msg_p");
    assert!(store.polls.by_wa_id("other", "3EB0P").await.unwrap().is_none());
    assert!(store.polls.get("s", "msg_none").await.unwrap().is_none());

    let at = |ms: i64| chrono::DateTime::from_timestamp_millis(1_796_000_000_000 + ms).unwrap();
    let choice = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let polls = &store.polls;
    assert!(polls.vote("s", "msg_p", "b@s.whatsapp.net", &choice(&["Pizza"]), at(10)).await.unwrap());
    assert!(
        polls
            .vote("s", "msg_p", "a@s.whatsapp.net", &choice(&["Sushi, with \"rice\""]), at(20))
            .await
            .unwrap()
    );
    // b changes their mind; then a late copy of b's first vote arrives, and a repeat of the second.
    assert!(
        polls
            .vote("s", "msg_p", "b@s.whatsapp.net", &choice(&["Pizza", "Sushi, with \"rice\""]), at(30))
            .await
            .unwrap()
    );
    assert!(!polls.vote("s", "msg_p", "b@s.whatsapp.net", &choice(&["Pizza"]), at(10)).await.unwrap());
    assert!(!polls.vote("s", "msg_p", "b@s.whatsapp.net", &choice(&["Pizza"]), at(30)).await.unwrap());
    let votes: Vec<(String, Vec<String>, i64)> = polls
        .votes("s", "msg_p")
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.voter_jid, v.selected, v.voted_at.timestamp_millis() - 1_796_000_000_000))
        .collect();
    assert_eq!(
        votes,
        [
            ("a@s.whatsapp.net".to_owned(), choice(&["Sushi, with \"rice\""]), 20),
            ("b@s.whatsapp.net".to_owned(), choice(&["Pizza", "Sushi, with \"rice\""]), 30),
        ]
    );
    // A vote on a poll that is not kept has nowhere to go.
    assert!(polls.vote("s", "msg_none", "a@s.whatsapp.net", &[], at(40)).await.is_err());
    // Retention takes the poll and its votes with the message.
    assert_eq!(store.message_logs.delete_before(Utc::now() + Duration::seconds(1)).await.unwrap(), 1);
    assert!(polls.get("s", "msg_p").await.unwrap().is_none());
    assert!(polls.votes("s", "msg_p").await.unwrap().is_empty());
}

/// A change touches only the settings it names; unmuting clears the end;
/// sessions do not see each other's chats; the session takes them along.
pub async fn chat_settings_change_only_what_is_given(store: Store) {
    session(&store, "s").await;
    session(&store, "other").await;
    let chats = &store.chats;
    let (a, b) = ("491701111111@s.whatsapp.net", "120363025246125486@g.us");
    let until = chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap();
    let first = chats
        .apply("s", a, &ChatSettingsChange { archived: Some(true), ..Default::default() })
        .await
        .unwrap();
    assert_eq!((first.archived, first.pinned, first.muted_until), (true, false, None));
    let muted = chats
        .apply("s", a, &ChatSettingsChange { muted_until: Some(Some(until)), ..Default::default() })
        .await
        .unwrap();
    assert_eq!((muted.archived, muted.pinned, muted.muted_until), (true, false, Some(until)));
    let pinned =
        chats.apply("s", a, &ChatSettingsChange { pinned: Some(true), ..Default::default() }).await.unwrap();
    assert_eq!((pinned.archived, pinned.pinned, pinned.muted_until), (true, true, Some(until)));
    assert!(pinned.updated_at >= first.updated_at);
    let unmuted = chats
        .apply(
            "s",
            a,
            &ChatSettingsChange { archived: Some(false), muted_until: Some(None), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!((unmuted.archived, unmuted.pinned, unmuted.muted_until), (false, true, None));
    chats.apply("s", b, &ChatSettingsChange { pinned: Some(true), ..Default::default() }).await.unwrap();
    chats.apply("other", a, &ChatSettingsChange { pinned: Some(false), ..Default::default() }).await.unwrap();
    assert_eq!(chats.count_pinned("s").await.unwrap(), 2);
    assert_eq!(chats.count_pinned("other").await.unwrap(), 0);
    let wanted = vec![a.to_owned(), b.to_owned(), "491702222222@s.whatsapp.net".to_owned()];
    let mut found: Vec<(String, bool)> =
        chats.get_many("s", &wanted).await.unwrap().into_iter().map(|s| (s.chat_jid, s.pinned)).collect();
    found.sort();
    assert_eq!(found, [(b.to_owned(), true), (a.to_owned(), true)]);
    assert!(store.sessions.delete("s").await.unwrap());
    assert!(chats.get_many("s", &wanted).await.unwrap().is_empty());
    assert_eq!(chats.get_many("other", &wanted).await.unwrap().len(), 1);
}

/// A contact's saved name and push name change independently; a change
/// that changes nothing writes nothing and returns None; the listing is by
/// JID, searchable with wildcards taken literally, scoped to its session,
/// and the session takes its contacts along.
pub async fn contacts_change_only_when_different(store: Store) {
    session(&store, "s").await;
    session(&store, "other").await;
    let book = &store.contacts;
    let (a, b, c) =
        ("491701111111@s.whatsapp.net", "491702222222@s.whatsapp.net", "491703333333@s.whatsapp.net");
    let push = |n: &str| ContactChange::PushName(n.to_owned());
    let saved = |n: &str, f: Option<&str>| ContactChange::Saved {
        name: n.to_owned(),
        first_name: f.map(str::to_owned),
    };

    let first = book.apply("s", a, &push("Ada")).await.unwrap().expect("a new contact is a change");
    assert_eq!((first.name.as_deref(), first.push_name.as_deref()), (None, Some("Ada")));
    assert!(book.apply("s", a, &push("Ada")).await.unwrap().is_none(), "the same push name again");
    let named = book.apply("s", a, &saved("Ada Lovelace", Some("Ada"))).await.unwrap().unwrap();
    assert_eq!(
        (named.name.as_deref(), named.first_name.as_deref(), named.push_name.as_deref()),
        (Some("Ada Lovelace"), Some("Ada"), Some("Ada"))
    );
    assert!(book.apply("s", a, &saved("Ada Lovelace", Some("Ada"))).await.unwrap().is_none());
    // Dropping the first name is a change.
    let renamed = book.apply("s", a, &saved("Ada Lovelace", None)).await.unwrap().unwrap();
    assert_eq!((renamed.first_name, renamed.push_name.as_deref()), (None, Some("Ada")));
    assert_eq!(book.get("s", a).await.unwrap().unwrap().updated_at, renamed.updated_at);

    book.apply("s", c, &saved("100% Carol_", None)).await.unwrap().unwrap();
    book.apply("s", b, &push("bob")).await.unwrap().unwrap();
    book.apply("other", a, &push("Someone else")).await.unwrap().unwrap();
    let jids = |v: Vec<Contact>| v.into_iter().map(|c| c.jid).collect::<Vec<_>>();
    assert_eq!(jids(book.list("s", None, None, 10).await.unwrap()), [a, b, c]);
    assert_eq!(jids(book.list("s", None, Some(a), 1).await.unwrap()), [b]);
    assert_eq!(jids(book.list("s", Some("BOB"), None, 10).await.unwrap()), [b]);
    assert_eq!(jids(book.list("s", Some("lovelace"), None, 10).await.unwrap()), [a]);
    assert_eq!(jids(book.list("s", Some("0%"), None, 10).await.unwrap()), [c]);
    assert_eq!(jids(book.list("s", Some("l_"), None, 10).await.unwrap()), [c]);
    assert!(book.list("s", Some("a%b"), None, 10).await.unwrap().is_empty());
    assert_eq!(jids(book.list("s", Some("2222"), None, 10).await.unwrap()), [b]);
    let wanted = vec![a.to_owned(), "491709999999@s.whatsapp.net".to_owned()];
    assert_eq!(jids(book.get_many("s", &wanted).await.unwrap()), [a]);
    assert_eq!(book.saved("s").await.unwrap(), [a, c], "b only has a push name");
    assert!(store.sessions.delete("s").await.unwrap());
    assert!(book.list("s", None, None, 10).await.unwrap().is_empty());
    assert_eq!(book.get("other", a).await.unwrap().unwrap().push_name.as_deref(), Some("Someone else"));
}

/// A label is created with a name and changed a field at a time; its chats
/// are set once (again is no change), need the label to exist, are counted,
/// and go with the label; sessions do not see each other's labels.
pub async fn labels_keep_their_chats(store: Store) {
    session(&store, "s").await;
    session(&store, "other").await;
    let labels = &store.labels;
    let (c1, c2) = ("491701111111@s.whatsapp.net", "120363025246125486@g.us");
    assert!(labels.put("s", "1", None, Some(3)).await.unwrap().is_none(), "no name: not created");
    let vip = labels.put("s", "1", Some("VIP"), Some(3)).await.unwrap().unwrap();
    assert_eq!((vip.name.as_str(), vip.color, vip.chats), ("VIP", 3, 0));
    let recoloured = labels.put("s", "1", None, Some(5)).await.unwrap().unwrap();
    assert_eq!((recoloured.name.as_str(), recoloured.color), ("VIP", 5));
    let renamed = labels.put("s", "1", Some("Gold"), None).await.unwrap().unwrap();
    assert_eq!((renamed.name.as_str(), renamed.color), ("Gold", 5));
    labels.put("s", "10", Some("Ten"), None).await.unwrap().unwrap();
    labels.put("s", "2", Some("Two"), None).await.unwrap().unwrap();
    labels.put("other", "1", Some("Theirs"), None).await.unwrap().unwrap();
    let ids: Vec<String> = labels.list("s").await.unwrap().into_iter().map(|l| l.label_id).collect();
    assert_eq!(ids, ["1", "2", "10"]);

    assert!(labels.set_chat("s", "1", c1, true).await.unwrap());
    assert!(!labels.set_chat("s", "1", c1, true).await.unwrap(), "again is no change");
    assert!(labels.set_chat("s", "1", c2, true).await.unwrap());
    assert!(labels.set_chat("s", "2", c1, true).await.unwrap());
    assert!(matches!(labels.set_chat("s", "99", c1, true).await, Err(StoreError::MissingReference)));
    assert_eq!(labels.get("s", "1").await.unwrap().unwrap().chats, 2);
    assert_eq!(labels.chats("s", "1").await.unwrap(), [c2, c1]);
    let wanted = vec![c1.to_owned(), c2.to_owned()];
    let of = labels.of_chats("s", &wanted).await.unwrap();
    let pairs: Vec<(&str, &str)> = of.iter().map(|(c, l)| (c.as_str(), l.as_str())).collect();
    assert_eq!(pairs, [(c2, "1"), (c1, "1"), (c1, "2")]);
    assert!(labels.set_chat("s", "1", c2, false).await.unwrap());
    assert!(!labels.set_chat("s", "1", c2, false).await.unwrap());

    assert!(labels.delete("s", "1").await.unwrap());
    assert!(!labels.delete("s", "1").await.unwrap());
    assert!(labels.chats("s", "1").await.unwrap().is_empty(), "its chats went with it");
    assert_eq!(labels.of_chats("s", &wanted).await.unwrap().len(), 1);
    assert_eq!(labels.get("other", "1").await.unwrap().unwrap().name, "Theirs");
    assert!(store.sessions.delete("s").await.unwrap());
    assert!(labels.list("s").await.unwrap().is_empty());
}
