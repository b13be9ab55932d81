//! Per-session send pacing: a token bucket per session, so bulk sends go
//! out at a steady, human-like rate instead of a burst that gets the number
//! banned.
//!
//! A send takes a token; without one it is told how long to wait. Short
//! waits are slept (the job keeps its worker slot for under a second);
//! longer ones put the job back in the queue until then, so one session's
//! backlog never holds every worker slot while other sessions wait.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::config::MessagesConfig;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaceSettings {
    pub enabled: bool,
    pub per_second: f64,
    pub burst: u32,
}

impl PaceSettings {
    /// The configured defaults, overridden by the session's
    /// `metadata.pacing` (`enabled`, `per_second`, `burst`).
    pub fn for_session(config: &MessagesConfig, metadata: &Value) -> Self {
        let own = metadata.get("pacing");
        let get = |k: &str| own.and_then(|p| p.get(k));
        Self {
            enabled: get("enabled").and_then(Value::as_bool).unwrap_or(config.pacing_enabled),
            per_second: get("per_second")
                .and_then(Value::as_f64)
                .filter(|r| *r > 0.0 && r.is_finite())
                .unwrap_or(config.pacing_per_second),
            burst: get("burst")
                .and_then(Value::as_u64)
                .and_then(|b| u32::try_from(b).ok())
                .filter(|b| *b > 0)
                .unwrap_or(config.pacing_burst),
        }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Held slots kept at most; beyond it, slots long past are forgotten.
const MAX_HELD: usize = 100_000;
/// A held slot this far in the past belongs to a job that is not coming back.
const STALE_HOLD: Duration = Duration::from_secs(600);

#[derive(Default)]
pub struct Pacer {
    buckets: Mutex<HashMap<String, Bucket>>,
    /// Send slots reserved by messages put off until then, by message id.
    held: Mutex<HashMap<String, Instant>>,
}

impl Pacer {
    /// The wait before `message` may be sent: the slot it was given when it
    /// was put off before, otherwise a new one (`acquire`). A message put
    /// off keeps its slot (`hold`) instead of giving the token back: a
    /// backlog over many chats is then claimed about twice per message (to
    /// get a slot, then to send in it) instead of once per second until its
    /// turn comes, which kept the queue's writer busy with nothing but
    /// claims and put-offs.
    pub fn slot(&self, session: &str, message: &str, s: PaceSettings, now: Instant) -> Duration {
        if !s.enabled {
            return Duration::ZERO;
        }
        if let Some(at) = self.held.lock().unwrap_or_else(|e| e.into_inner()).remove(message) {
            return at.saturating_duration_since(now);
        }
        self.acquire(session, s, now)
    }

    /// Keeps `message`'s slot, `at`, for when it comes back.
    pub fn hold(&self, message: &str, at: Instant) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if held.len() >= MAX_HELD {
            let now = Instant::now();
            held.retain(|_, slot| now.saturating_duration_since(*slot) < STALE_HOLD);
        }
        held.insert(message.to_owned(), at);
    }

    /// Takes a token for one send now, returning how long to wait before
    /// sending (zero when a token was there). The token is reserved even
    /// when waiting.
    pub fn acquire(&self, session: &str, s: PaceSettings, now: Instant) -> Duration {
        if !s.enabled {
            return Duration::ZERO;
        }
        let burst = f64::from(s.burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(session.to_owned()).or_insert(Bucket { tokens: burst, at: now });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * s.per_second).min(burst);
        bucket.at = now;
        bucket.tokens -= 1.0;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / s.per_second)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: PaceSettings = PaceSettings { enabled: true, per_second: 2.0, burst: 3 };

    #[test]
    fn burst_then_steady_rate() {
        let p = Pacer::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(p.acquire("a", S, t0), Duration::ZERO);
        }
        assert_eq!(p.acquire("a", S, t0), Duration::from_millis(500));
        assert_eq!(p.acquire("a", S, t0), Duration::from_millis(1000), "reservations queue up");
        // Other sessions have their own bucket.
        assert_eq!(p.acquire("b", S, t0), Duration::ZERO);
        // Time refills: 2 s later the two reservations are paid and one token is back.
        assert_eq!(p.acquire("a", S, t0 + Duration::from_secs(2)), Duration::ZERO);
    }

    #[test]
    fn a_message_put_off_keeps_its_slot_and_the_next_gets_the_one_after() {
        let p = Pacer::default();
        let t0 = Instant::now();
        let one = PaceSettings { burst: 1, ..S };
        assert_eq!(p.slot("a", "m1", one, t0), Duration::ZERO);
        let wait = p.slot("a", "m2", one, t0);
        assert_eq!(wait, Duration::from_millis(500));
        p.hold("m2", t0 + wait);
        assert_eq!(p.slot("a", "m3", one, t0), Duration::from_millis(1000), "m2's slot stays taken");
        // m2 comes back: its own slot, no new token (m4 still queues after m3).
        assert_eq!(p.slot("a", "m2", one, t0 + Duration::from_millis(400)), Duration::from_millis(100));
        assert_eq!(p.slot("a", "m4", one, t0), Duration::from_millis(1500));
        assert_eq!(p.slot("a", "m2", one, t0), Duration::from_millis(2000), "a slot is used once");
    }

    #[test]
    fn disabled() {
        let p = Pacer::default();
        let t0 = Instant::now();
        let off = PaceSettings { enabled: false, ..S };
        for _ in 0..100 {
            assert_eq!(p.slot("c", "m", off, t0), Duration::ZERO);
        }
    }

    #[test]
    fn session_metadata_overrides_the_defaults() {
        let config = crate::config::Config::from_figment(crate::config::Config::defaults()).unwrap().messages;
        let d = PaceSettings::for_session(&config, &serde_json::json!({}));
        assert_eq!(
            (d.enabled, d.per_second, d.burst),
            (config.pacing_enabled, config.pacing_per_second, config.pacing_burst)
        );
        let o = PaceSettings::for_session(
            &config,
            &serde_json::json!({"pacing": {"enabled": false, "per_second": 5, "burst": 0}}),
        );
        assert_eq!((o.enabled, o.per_second, o.burst), (false, 5.0, config.pacing_burst));
    }
}
