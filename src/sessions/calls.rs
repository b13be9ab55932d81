//! Incoming calls: the ones ringing now (so the API can reject them by
//! id), the reject policy (config, overridden by the session's metadata),
//! and what a reject announces.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::config::SessionsConfig;
use crate::wa::{CallOffer, Jid};

/// A call rings for about a minute; one still here after this was missed
/// without the engine saying so.
const RING_LIMIT: Duration = Duration::from_secs(180);
/// Ringing calls kept per session (a flood of calls cannot grow memory).
const MAX_RINGING: usize = 64;

/// The calls ringing on one session, by call id.
#[derive(Default)]
pub struct Ringing(Mutex<HashMap<String, (CallOffer, Instant)>>);

impl Ringing {
    fn calls(&self) -> std::sync::MutexGuard<'_, HashMap<String, (CallOffer, Instant)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn insert(&self, call: CallOffer, now: Instant) {
        let mut calls = self.calls();
        calls.retain(|_, (_, at)| now.duration_since(*at) < RING_LIMIT);
        if calls.len() >= MAX_RINGING
            && let Some(oldest) = calls.iter().min_by_key(|(_, (_, at))| *at).map(|(id, _)| id.clone())
        {
            calls.remove(&oldest);
        }
        calls.insert(call.id.clone(), (call, now));
    }

    pub fn remove(&self, id: &str) -> Option<CallOffer> {
        self.calls().remove(id).map(|(call, _)| call)
    }

    /// Ringing calls, oldest first.
    pub fn list(&self, now: Instant) -> Vec<CallOffer> {
        let mut calls: Vec<(CallOffer, Instant)> =
            self.calls().values().filter(|(_, at)| now.duration_since(*at) < RING_LIMIT).cloned().collect();
        calls.sort_by_key(|(_, at)| *at);
        calls.into_iter().map(|(call, _)| call).collect()
    }
}

/// What a session does with an incoming call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallPolicy {
    pub reject: bool,
    /// Texted to the caller after an automatic reject.
    pub message: Option<String>,
}

impl CallPolicy {
    /// The configured defaults, overridden by the session's
    /// `metadata.calls` (`reject`, `message`; an empty message: none).
    pub fn for_session(config: &SessionsConfig, metadata: &Value) -> Self {
        let own = metadata.get("calls");
        let message = match own.and_then(|c| c.get("message")) {
            Some(m) => m.as_str().map(str::to_owned),
            None => Some(config.reject_call_message.clone()),
        };
        Self {
            reject: own.and_then(|c| c.get("reject")).and_then(Value::as_bool).unwrap_or(config.reject_calls),
            message: message.filter(|m| !m.trim().is_empty()),
        }
    }
}

/// The `call.rejected` event's data.
pub fn rejected_event(call: &CallOffer, automatic: bool) -> Value {
    json!({"id": call.id, "from": call.from, "video": call.video, "group": call.group, "automatic": automatic})
}

/// Where the reject message goes: to the caller of a 1:1 call only (a
/// group call's caller is texted nowhere rather than in the group).
pub fn reply_chat(call: &CallOffer) -> Option<&Jid> {
    call.group.is_none().then_some(&call.from)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::wa::CallRoute;

    fn offer(id: &str) -> CallOffer {
        CallOffer {
            id: id.into(),
            from: Jid::parse("491705550001@s.whatsapp.net").unwrap(),
            video: false,
            group: None,
            timestamp: Utc::now(),
            route: CallRoute::default(),
        }
    }

    fn config(reject: bool, message: &str) -> SessionsConfig {
        let mut c: SessionsConfig = crate::config::Config::defaults().extract_inner("sessions").unwrap();
        c.reject_calls = reject;
        c.reject_call_message = message.into();
        c
    }

    #[test]
    fn metadata_overrides_the_configured_policy() {
        let off = config(false, "");
        assert_eq!(CallPolicy::for_session(&off, &json!({})), CallPolicy { reject: false, message: None });
        let on = config(true, "Please write to us instead.");
        assert_eq!(
            CallPolicy::for_session(&on, &json!({"team": "x"})),
            CallPolicy { reject: true, message: Some("Please write to us instead.".into()) }
        );
        assert_eq!(
            CallPolicy::for_session(&off, &json!({"calls": {"reject": true, "message": "Text us"}})),
            CallPolicy { reject: true, message: Some("Text us".into()) }
        );
        assert_eq!(
            CallPolicy::for_session(&on, &json!({"calls": {"reject": false, "message": " "}})),
            CallPolicy { reject: false, message: None }
        );
        // A wrong type is ignored, not a rejection of every call.
        assert!(!CallPolicy::for_session(&off, &json!({"calls": {"reject": "yes"}})).reject);
    }

    #[test]
    fn ringing_calls_expire_and_stay_bounded() {
        let ringing = Ringing::default();
        let start = Instant::now();
        ringing.insert(offer("A"), start);
        ringing.insert(offer("B"), start + Duration::from_secs(1));
        assert_eq!(
            ringing.list(start + Duration::from_secs(2)).iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["A", "B"]
        );
        assert!(ringing.list(start + RING_LIMIT).iter().all(|c| c.id == "B"), "A rang too long");
        assert_eq!(ringing.remove("B").map(|c| c.id), Some("B".into()));
        assert!(ringing.remove("B").is_none());
        for i in 0..(MAX_RINGING + 10) {
            ringing.insert(offer(&format!("C{i}")), start + Duration::from_millis(i as u64));
        }
        let now = start + Duration::from_secs(5);
        let left = ringing.list(now);
        assert_eq!(left.len(), MAX_RINGING);
        assert_eq!(left[0].id, "C10", "the oldest made room");
        assert!(reply_chat(&left[0]).is_some());
    }
}
