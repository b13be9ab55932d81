//! Incoming voice and video calls, as engines report them. The gateway
//! carries no call media: it announces calls and can reject them (on a
//! business number a call nobody can take is better declined at once,
//! with a message saying where to write instead).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Jid;

/// A call ringing on this account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallOffer {
    /// WhatsApp's call id.
    pub id: String,
    /// Who is calling (their phone-number address when WhatsApp gives it).
    pub from: Jid,
    pub video: bool,
    /// Set for a group call.
    pub group: Option<Jid>,
    pub timestamp: DateTime<Utc>,
    /// What the engine needs to reject this call (the addresses as
    /// WhatsApp routed them); not part of events.
    #[serde(skip)]
    pub route: CallRoute,
}

/// The call's addresses as the engine received them, kept verbatim: the
/// reject stanza must name exactly these (they may be LID addresses the
/// gateway's `Jid` does not model).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallRoute {
    pub peer: String,
    pub creator: String,
}

/// Why a call stopped ringing without this gateway rejecting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallEnd {
    /// The caller gave up, or it rang while the account was offline.
    Missed,
    /// Another device of this account (the phone) took it.
    AnsweredElsewhere,
    /// Another device of this account declined it.
    RejectedElsewhere,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallEnded {
    pub id: String,
    pub from: Jid,
    pub reason: CallEnd,
    pub timestamp: DateTime<Utc>,
}
