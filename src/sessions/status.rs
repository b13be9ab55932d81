//! The session status vocabulary and what each state allows.
//!
//! ```text
//! created ─start─▶ starting ─▶ qr ─pair-code─▶ pairing
//!                     │         │                 │
//!                     │         └──── linked ─────┴─▶ connected ◀─┐
//!                     └──────── has credentials ──────▶ │          │
//!                                                       ▼          │
//!                      network drop / failed attempt: reconnecting ┘
//!                                  attempts exhausted: failed
//! any running state ─stop─▶ stopped      ─logout / phone removed device─▶ logged_out
//! banned (temporary ban)   replaced (another client took the connection)
//! ```
//! `logged_out`, `banned`, `replaced` and `failed` never retry by themselves;
//! `POST /sessions/{id}/start` begins again.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Exists, never started.
    Created,
    /// Opening the connection.
    Starting,
    /// Waiting for a QR scan (`GET /sessions/{id}/qr`).
    Qr,
    /// Waiting for the pairing code to be typed on the phone.
    Pairing,
    /// Logged in; messages flow.
    Connected,
    /// The connection dropped or an attempt failed; the next attempt is scheduled.
    Reconnecting,
    /// Stopped by the operator (or by shutdown); credentials kept.
    Stopped,
    /// Unlinked: by logout or from the phone. Credentials erased.
    LoggedOut,
    /// WhatsApp banned the account for a while.
    Banned,
    /// Another client took over the connection.
    Replaced,
    /// Reconnection gave up after `sessions.reconnect_max_attempts`.
    Failed,
}

impl Status {
    pub const ALL: [Status; 11] = [
        Status::Created,
        Status::Starting,
        Status::Qr,
        Status::Pairing,
        Status::Connected,
        Status::Reconnecting,
        Status::Stopped,
        Status::LoggedOut,
        Status::Banned,
        Status::Replaced,
        Status::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Starting => "starting",
            Status::Qr => "qr",
            Status::Pairing => "pairing",
            Status::Connected => "connected",
            Status::Reconnecting => "reconnecting",
            Status::Stopped => "stopped",
            Status::LoggedOut => "logged_out",
            Status::Banned => "banned",
            Status::Replaced => "replaced",
            Status::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// A session in this state has a live task working on it.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            Status::Starting | Status::Qr | Status::Pairing | Status::Connected | Status::Reconnecting
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(Status::parse("working"), None);
        assert!(Status::Reconnecting.is_live());
        assert!(!Status::LoggedOut.is_live());
    }
}
