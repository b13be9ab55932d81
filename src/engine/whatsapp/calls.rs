//! Calls: the crate's call events → gateway call events, and what a reject
//! needs back (pure; tested offline with the crate's own types).
//!
//! Only a 1:1 `<offer>` and a group call's `<offer_notice>` ring; the other
//! call stanzas (pre-accept, relay, rekey, …) belong to a media session the
//! gateway never starts and map to nothing.

use whatsapp_rust::CallError;
use whatsapp_rust::wacore::types::call::{
    CallAction, CallEndedElsewhere, ElsewhereOutcome, IncomingCall, MissedCall,
};

use super::incoming::jid;
use crate::engine::{EngineError, EngineResult};
use crate::wa::{CallEnd, CallEnded, CallOffer, CallRoute, EngineEvent};

/// A ringing call; `None` for call stanzas that are not an offer or whose
/// caller is not an address the gateway models.
pub fn offer(call: &IncomingCall) -> Option<EngineEvent> {
    let (id, creator, caller_pn, video, group) = match &call.action {
        CallAction::Offer { call_id, call_creator, caller_pn, is_video, group_jid, .. } => {
            (call_id, call_creator, caller_pn.as_ref(), *is_video, group_jid.as_ref().and_then(jid))
        }
        CallAction::OfferNotice { call_id, call_creator, is_video, is_group: true } => {
            (call_id, call_creator, None, *is_video, None)
        }
        _ => return None,
    };
    // The phone-number address when WhatsApp gives one (the caller may be
    // addressed by LID), else the address the call came from.
    let from = caller_pn.and_then(jid).or_else(|| jid(creator)).or_else(|| jid(&call.from))?;
    Some(EngineEvent::Call(CallOffer {
        id: id.clone(),
        from,
        video,
        group,
        timestamp: call.timestamp,
        route: CallRoute { peer: call.from.to_string(), creator: creator.to_string() },
    }))
}

pub fn missed(call: &MissedCall) -> Option<EngineEvent> {
    Some(EngineEvent::CallEnded(CallEnded {
        id: call.call_id.clone(),
        from: jid(&call.from)?,
        reason: CallEnd::Missed,
        timestamp: call.timestamp,
    }))
}

pub fn ended_elsewhere(call: &CallEndedElsewhere) -> Option<EngineEvent> {
    let reason = match call.outcome {
        ElsewhereOutcome::Accepted => CallEnd::AnsweredElsewhere,
        _ => CallEnd::RejectedElsewhere,
    };
    Some(EngineEvent::CallEnded(CallEnded {
        id: call.call_id.clone(),
        from: jid(&call.from)?,
        reason,
        timestamp: call.timestamp,
    }))
}

/// The reject stanza's addresses, parsed back from the offer's route.
pub fn route(route: &CallRoute) -> EngineResult<(whatsapp_rust::Jid, whatsapp_rust::Jid)> {
    let parse = |s: &str| {
        s.parse::<whatsapp_rust::Jid>()
            .map_err(|_| EngineError::Invalid(format!("the call's address {s:?} is not a WhatsApp address")))
    };
    Ok((parse(&route.peer)?, parse(&route.creator)?))
}

pub fn reject_error(e: CallError) -> EngineError {
    match e {
        CallError::EmptyCallId => EngineError::Invalid("the call id is empty".into()),
        CallError::Send(
            whatsapp_rust::ClientError::NotConnected | whatsapp_rust::ClientError::NotLoggedIn,
        ) => EngineError::NotConnected,
        other => EngineError::Internal(other.to_string()),
    }
}

#[cfg(test)]
mod tests;
