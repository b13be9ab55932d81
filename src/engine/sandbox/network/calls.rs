//! The sandbox's calls: someone rings a session (`POST
//! /sandbox/sessions/{id}/calls`), and the call rings until the session
//! rejects it, the caller hangs up (missed), or the "phone" answers it.
//! The control API shows how each call ended, as the caller saw it.

use serde::Serialize;

use super::*;

/// Calls kept per network; finished ones are forgotten first beyond it.
const CALLS_KEPT: usize = 1024;

/// `POST /sandbox/sessions/{id}/calls`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"from": "491709876543", "video": false}))]
pub struct CallRequest {
    /// Who calls.
    #[schema(value_type = String, example = "491709876543")]
    pub from: PhoneNumber,
    #[serde(default)]
    pub video: bool,
}

/// What happened to a call, from the caller's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    Ringing,
    /// The session declined it.
    Rejected,
    /// The caller hung up before anyone answered.
    Missed,
    /// The account's phone answered it.
    Answered,
}

/// How the caller gives up or the phone picks up: `POST …/calls/{callId}/end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallEndKind {
    /// The caller hangs up: the session sees a missed call.
    HangUp,
    /// The account's phone answers: the session sees it answered elsewhere.
    AnswerOnPhone,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"how": "hang_up"}))]
pub struct EndCall {
    pub how: CallEndKind,
}

/// A sandbox call as the control API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": "5A1C0FFEE0DDF00D5A1C0FFEE0DDF00D", "session_id": "sales", "from": "491709876543@s.whatsapp.net", "video": false, "state": "ringing"}))]
pub struct SandboxCall {
    pub id: String,
    pub session_id: String,
    #[schema(value_type = String)]
    pub from: Jid,
    pub video: bool,
    pub state: CallState,
}

impl SandboxNetwork {
    /// Someone calls the session: it sees `Call` now.
    pub async fn ring(&self, session: &str, req: &CallRequest) -> EngineResult<SandboxCall> {
        if req.from.as_str().starts_with("999") {
            return Err(EngineError::NotOnWhatsApp(req.from.to_string()));
        }
        let (events, call, offer) = {
            let mut world = self.world();
            let (me, _) = Self::online(&world, session)?;
            if me == req.from {
                return Err(EngineError::Invalid("an account cannot call itself".into()));
            }
            let slot = Self::slot(&mut world, session)?;
            // WhatsApp does not ring for a blocked caller.
            if slot.blocked.contains(&req.from.to_jid()) {
                return Err(EngineError::Forbidden(format!("{} is blocked", req.from)));
            }
            let events = slot.events.clone();
            let call = SandboxCall {
                id: ids::call_id(),
                session_id: session.to_owned(),
                from: req.from.to_jid(),
                video: req.video,
                state: CallState::Ringing,
            };
            let offer = CallOffer {
                id: call.id.clone(),
                from: call.from.clone(),
                video: call.video,
                group: None,
                timestamp: Utc::now(),
                route: CallRoute { peer: call.from.to_string(), creator: call.from.to_string() },
            };
            if world.calls.len() >= CALLS_KEPT {
                let done: Vec<String> = world
                    .calls
                    .iter()
                    .filter(|(_, c)| c.state != CallState::Ringing)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in done.into_iter().take(CALLS_KEPT / 2) {
                    world.calls.remove(&id);
                }
            }
            if world.calls.len() >= CALLS_KEPT {
                return Err(EngineError::Conflict("too many calls are ringing in the sandbox".into()));
            }
            world.calls.insert(call.id.clone(), call.clone());
            (events, call, offer)
        };
        let _ = events.send(EngineEvent::Call(offer)).await;
        Ok(call)
    }

    pub fn call(&self, session: &str, id: &str) -> EngineResult<SandboxCall> {
        let world = self.world();
        world.calls.get(id).filter(|c| c.session_id == session).cloned().ok_or_else(|| not_found("call"))
    }

    /// The caller hangs up, or the account's phone answers.
    pub async fn end_call(&self, session: &str, id: &str, how: CallEndKind) -> EngineResult<SandboxCall> {
        let (events, call) = {
            let mut world = self.world();
            let call = world
                .calls
                .get_mut(id)
                .filter(|c| c.session_id == session)
                .ok_or_else(|| not_found("call"))?;
            if call.state != CallState::Ringing {
                return Err(EngineError::Conflict("the call is not ringing".into()));
            }
            call.state = match how {
                CallEndKind::HangUp => CallState::Missed,
                CallEndKind::AnswerOnPhone => CallState::Answered,
            };
            let call = call.clone();
            (world.slots.get(session).map(|s| s.events.clone()), call)
        };
        if let Some(events) = events {
            let reason = match how {
                CallEndKind::HangUp => CallEnd::Missed,
                CallEndKind::AnswerOnPhone => CallEnd::AnsweredElsewhere,
            };
            let ended =
                CallEnded { id: call.id.clone(), from: call.from.clone(), reason, timestamp: Utc::now() };
            let _ = events.send(EngineEvent::CallEnded(ended)).await;
        }
        Ok(call)
    }

    /// The session declines a ringing call.
    pub(crate) fn reject_call(&self, session: &str, offer: &CallOffer) -> EngineResult<()> {
        let mut world = self.world();
        Self::online(&world, session)?;
        match world.calls.get_mut(&offer.id).filter(|c| c.session_id == session) {
            Some(call) if call.state == CallState::Ringing => {
                call.state = CallState::Rejected;
                Ok(())
            }
            _ => Err(not_found("call")),
        }
    }
}
