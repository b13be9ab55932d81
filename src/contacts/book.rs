//! The account's address book as the gateway learns it: names saved through
//! the API or on the phone, and the push names people's messages carry.
//! Every real change is kept (`contacts` table) and announced as
//! `contact.updated`; a repeat of what is known is neither.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::sessions::EventHub;
use crate::store::{Contact, ContactChange, Store, StoreResult};

/// A contact as the API and events show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"jid": "491701234567@s.whatsapp.net", "name": "Ada Lovelace", "first_name": "Ada",
    "push_name": "Ada L.", "updated_at": "2026-12-07T21:30:00Z"}))]
pub struct KnownContact {
    pub jid: String,
    /// The name saved in the account's address book.
    pub name: Option<String>,
    pub first_name: Option<String>,
    /// The name the person chose for themselves.
    pub push_name: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl From<Contact> for KnownContact {
    fn from(c: Contact) -> Self {
        Self {
            jid: c.jid,
            name: c.name,
            first_name: c.first_name,
            push_name: c.push_name,
            updated_at: c.updated_at,
        }
    }
}

/// Where a change came from (a metric label).
#[derive(Debug, Clone, Copy)]
pub enum Source {
    Api,
    Phone,
    Message,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Phone => "phone",
            Source::Message => "message",
        }
    }
}

/// Records `change`; announces the contact when it changed. The contact
/// as it now is (None only when a repeat found no row, which cannot
/// happen after the first write).
pub async fn apply(
    store: &Store,
    hub: &EventHub,
    session_id: &str,
    jid: &str,
    change: &ContactChange,
    (source, request_id): (Source, Option<String>),
) -> StoreResult<Option<KnownContact>> {
    let Some(changed) = store.contacts.apply(session_id, jid, change).await? else {
        return Ok(store.contacts.get(session_id, jid).await?.map(KnownContact::from));
    };
    metrics::counter!("wag_contact_updates_total", "source" => source.label()).increment(1);
    let view = KnownContact::from(changed);
    let mut data = serde_json::to_value(&view).unwrap_or_default();
    data["changed"] = match change {
        ContactChange::Saved { .. } => "name",
        ContactChange::PushName(_) => "push_name",
    }
    .into();
    hub.publish_with(session_id, "contact.updated", data, request_id);
    Ok(Some(view))
}

/// Most (session, person) push names remembered before the memory starts over.
const MAX_REMEMBERED: usize = 100_000;
/// How long a remembered name is trusted: a session deleted and created
/// again under the same id has lost its rows, and is filled again after this.
const REMEMBER_FOR: Duration = Duration::from_secs(600);

/// The push names last recorded, so that the messages of someone whose
/// name did not change cost no database write.
#[derive(Default)]
pub struct PushNames {
    known: Mutex<HashMap<(String, String), (Instant, String)>>,
}

impl PushNames {
    /// Notes `push_name` for `jid` from one of their messages.
    pub async fn note(&self, store: &Store, hub: &EventHub, session_id: &str, jid: &str, push_name: &str) {
        let key = (session_id.to_owned(), jid.to_owned());
        let fresh = |(at, known): &(Instant, String)| known == push_name && at.elapsed() < REMEMBER_FOR;
        if self.known.lock().expect("push names").get(&key).is_some_and(fresh) {
            return;
        }
        let change = ContactChange::PushName(push_name.to_owned());
        match apply(store, hub, session_id, jid, &change, (Source::Message, None)).await {
            Ok(_) => {
                let mut known = self.known.lock().expect("push names");
                if known.len() >= MAX_REMEMBERED {
                    known.clear();
                }
                known.insert(key, (Instant::now(), push_name.to_owned()));
            }
            Err(e) => tracing::warn!(session = session_id, error = %e, "could not record a push name"),
        }
    }
}
