//! Per-chat settings of an account: archived, pinned, muted. WhatsApp keeps
//! them in its app state and syncs them between the phone and linked devices.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// How long a chat stays muted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "mute", content = "until", rename_all = "snake_case")]
pub enum Mute {
    Off,
    Until(DateTime<Utc>),
    Forever,
}

impl Mute {
    /// "Muted forever" as a time: the end of year 9999, which every database
    /// and JSON client can hold.
    pub fn forever_at() -> DateTime<Utc> {
        DateTime::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The time the mute ends, None when not muted.
    pub fn until(self) -> Option<DateTime<Utc>> {
        match self {
            Mute::Off => None,
            Mute::Until(at) => Some(at),
            Mute::Forever => Some(Self::forever_at()),
        }
    }

    /// Read back from a stored end time.
    pub fn from_until(until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Self {
        match until {
            Some(at) if at >= Self::forever_at() => Mute::Forever,
            Some(at) if at > now => Mute::Until(at),
            _ => Mute::Off,
        }
    }
}

/// A change to a chat's settings; None leaves that setting as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ChatChange {
    pub archived: Option<bool>,
    pub pinned: Option<bool>,
    pub mute: Option<Mute>,
}

impl ChatChange {
    pub fn is_empty(&self) -> bool {
        self.archived.is_none() && self.pinned.is_none() && self.mute.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mute_round_trips_through_its_end_time() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let later = now + chrono::Duration::hours(8);
        for mute in [Mute::Off, Mute::Until(later), Mute::Forever] {
            assert_eq!(Mute::from_until(mute.until(), now), mute);
        }
        // A mute that ended is off.
        assert_eq!(Mute::from_until(Some(now - chrono::Duration::seconds(1)), now), Mute::Off);
        assert!(ChatChange::default().is_empty());
        assert!(!ChatChange { pinned: Some(false), ..Default::default() }.is_empty());
    }
}
