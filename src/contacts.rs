//! What the gateway remembers about contacts: the answers to "is this
//! number on WhatsApp", per session, for a TTL. Checking the same numbers
//! again and again is what gets senders flagged, so repeats are answered
//! here; events that prove an answer (a message from the number, a send
//! refused as not on WhatsApp) update it at once. Their names are in
//! `book.rs`.

pub mod book;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::wa::{NumberCheck, PhoneNumber};

/// Answers of `check_numbers`, per session and number, for `ttl`.
pub struct CheckCache {
    ttl: Duration,
    entries: Mutex<HashMap<(String, String), (Instant, NumberCheck)>>,
}

impl CheckCache {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(HashMap::new()) }
    }

    pub fn get(&self, session: &str, phone: &str) -> Option<NumberCheck> {
        let entries = self.entries.lock().expect("check cache");
        entries
            .get(&(session.to_owned(), phone.to_owned()))
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, c)| c.clone())
    }

    pub fn put(&self, session: &str, checks: &[NumberCheck]) {
        let mut entries = self.entries.lock().expect("check cache");
        if entries.len() > 100_000 {
            entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
        }
        for c in checks {
            entries.insert((session.to_owned(), c.phone.clone()), (Instant::now(), c.clone()));
        }
    }

    /// Forgets a session's answers (it was logged out or deleted).
    pub fn forget(&self, session: &str) {
        self.entries.lock().expect("check cache").retain(|(s, _), _| s != session);
    }

    /// Records what an event proved: a message from a number means it is on
    /// WhatsApp, a send refused as "not on WhatsApp" means it is not. Newer
    /// than any cached answer, so it replaces it.
    pub fn learn(&self, session: &str, phone: &PhoneNumber, exists: bool) {
        let check =
            NumberCheck { phone: phone.as_str().to_owned(), exists, jid: exists.then(|| phone.to_jid()) };
        self.put(session, std::slice::from_ref(&check));
    }
}
