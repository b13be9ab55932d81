//! Reconnection policy: exponential backoff with jitter, a give-up limit,
//! and a per-session circuit breaker. Pure, so its schedule is unit-tested.

use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    /// Fraction (0–0.5) each delay varies by, both ways.
    pub jitter: f64,
    /// Consecutive failures before giving up; 0 = never.
    pub max_attempts: u32,
    pub breaker_threshold: u32,
    pub breaker_cooldown: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Attempts follow the backoff schedule.
    Closed,
    /// Too many consecutive failures: waiting out the cool-down.
    Open,
    /// The cool-down passed: one probe attempt is under way.
    HalfOpen,
}

/// What to do after the n-th consecutive failure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    Retry {
        after: Duration,
    },
    /// The breaker opens: try once more after the cool-down.
    Cooldown {
        after: Duration,
    },
    GiveUp,
}

impl Backoff {
    /// The delay before the next attempt after `failures` consecutive
    /// failures (≥ 1), before jitter: base · 2^(failures−1), capped at max.
    pub fn nominal(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        self.base.saturating_mul(1u32 << exp).min(self.max)
    }

    /// `unit` is a uniform sample from [0, 1): the caller's randomness, so
    /// tests can pin it.
    pub fn next(&self, failures: u32, unit: f64) -> Next {
        if self.max_attempts > 0 && failures >= self.max_attempts {
            return Next::GiveUp;
        }
        if failures >= self.breaker_threshold {
            return Next::Cooldown { after: self.breaker_cooldown };
        }
        let factor = 1.0 + self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        Next::Retry { after: self.nominal(failures).mul_f64(factor) }
    }

    /// The most attempts a permanently failing session can make within
    /// `window` (counting the first, immediate one), whatever the jitter.
    pub fn max_attempts_within(&self, window: Duration) -> u32 {
        let mut elapsed = Duration::ZERO;
        let mut attempts = 1;
        loop {
            let failures = attempts;
            let wait = match self.next(failures, 0.0) {
                Next::GiveUp => return attempts,
                Next::Retry { after } | Next::Cooldown { after } => after,
            };
            elapsed += wait;
            if elapsed > window {
                return attempts;
            }
            attempts += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Backoff {
        Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            jitter: 0.2,
            max_attempts: 8,
            breaker_threshold: 6,
            breaker_cooldown: Duration::from_secs(30),
        }
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let p = policy();
        let ms: Vec<u128> = (1..=6).map(|f| p.nominal(f).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.nominal(200), p.max, "no overflow for huge counts");
    }

    #[test]
    fn jitter_stays_within_its_fraction_and_delays_still_grow() {
        let p = policy();
        assert_eq!(p.next(1, 0.0), Next::Retry { after: Duration::from_millis(80) });
        assert_eq!(p.next(1, 0.5), Next::Retry { after: Duration::from_millis(100) });
        let Next::Retry { after: hi } = p.next(1, 0.999_999) else { panic!() };
        assert!(hi <= Duration::from_millis(120));
        // Worst case: the smallest next delay still exceeds the largest previous one.
        let Next::Retry { after: lo2 } = p.next(2, 0.0) else { panic!() };
        assert!(lo2 > hi);
    }

    #[test]
    fn breaker_opens_at_threshold_and_gives_up_at_max() {
        let p = policy();
        assert!(matches!(p.next(5, 0.5), Next::Retry { .. }));
        assert_eq!(p.next(6, 0.5), Next::Cooldown { after: Duration::from_secs(30) });
        assert_eq!(p.next(7, 0.5), Next::Cooldown { after: Duration::from_secs(30) });
        assert_eq!(p.next(8, 0.5), Next::GiveUp);
        let forever = Backoff { max_attempts: 0, ..p };
        assert!(matches!(forever.next(10_000, 0.5), Next::Cooldown { .. }));
    }

    #[test]
    fn attempts_within_a_window_are_bounded_by_the_schedule() {
        let p = Backoff { max_attempts: 0, breaker_threshold: 100, ..policy() };
        // Attempts at 0, 80, 240, 560 ms; the next would be at 1,200 (minimum delays, full negative jitter).
        assert_eq!(p.max_attempts_within(Duration::from_millis(1000)), 4);
        assert_eq!(p.max_attempts_within(Duration::ZERO), 1);
    }
}
