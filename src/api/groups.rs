//! `/sessions/{id}/groups…`: the groups an account is in, creating them,
//! changing members (with a result per member) and leaving. Settings and
//! invites are in `group_admin.rs`. Messages go to a group through the
//! normal send API with its JID as `to`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::messages::{engine, ensure_session};
use super::sessions::parse_id;
use crate::error::{ApiResult, Error, ErrorResponse};
use crate::http::extract::{Json, Path};
use crate::state::AppState;
use crate::wa::{GroupInfo, Jid, ParticipantAction};

/// Most participants per call.
const MAX_PARTICIPANTS: usize = 256;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions/{id}/groups", get(list).post(create))
        .route("/sessions/{id}/groups/{group}", get(get_one))
        .route("/sessions/{id}/groups/{group}/participants", post(participants))
        .route("/sessions/{id}/groups/{group}/leave", post(leave))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipantView {
    #[schema(example = "491701234567@s.whatsapp.net")]
    pub jid: String,
    pub admin: bool,
    /// The group's creator.
    pub super_admin: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"jid": "120363012345678901@g.us", "subject": "Team", "description": null,
    "owner": "491701234567@s.whatsapp.net", "participants": [{"jid": "491701234567@s.whatsapp.net", "admin": true, "super_admin": true}],
    "created_at": "2026-12-01T12:00:00Z", "settings": {"announce": false, "locked": false}}))]
pub struct GroupView {
    pub jid: String,
    pub subject: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub participants: Vec<ParticipantView>,
    pub created_at: Option<DateTime<Utc>>,
    pub settings: GroupSettings,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupSettings {
    /// Only admins may send messages.
    pub announce: bool,
    /// Only admins may change the subject and description.
    pub locked: bool,
}

impl From<GroupInfo> for GroupView {
    fn from(g: GroupInfo) -> Self {
        Self {
            jid: g.jid.to_string(),
            subject: g.subject,
            description: g.description,
            owner: g.owner.map(|o| o.to_string()),
            participants: g
                .participants
                .into_iter()
                .map(|p| ParticipantView {
                    jid: p.jid.to_string(),
                    admin: p.admin,
                    super_admin: p.super_admin,
                })
                .collect(),
            created_at: g.created_at,
            settings: GroupSettings { announce: g.announce, locked: g.locked },
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"subject": "Team", "participants": ["491701234567", "491709876543"]}))]
pub struct CreateGroup {
    /// 1–100 characters.
    pub subject: String,
    /// Phone numbers or JIDs.
    pub participants: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"action": "add", "participants": ["491701234567"]}))]
pub struct ParticipantsRequest {
    pub action: ParticipantAction,
    pub participants: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"jid": "491701234567@s.whatsapp.net", "status": "ok"}))]
pub struct ParticipantResultView {
    pub jid: String,
    /// `ok`, `not_found` (not on WhatsApp), `forbidden` (privacy settings) or
    /// `conflict` (already in, or not in, the group).
    pub status: String,
}

fn people(raw: &[String]) -> ApiResult<Vec<Jid>> {
    if raw.is_empty() || raw.len() > MAX_PARTICIPANTS {
        return Err(Error::validation(
            "invalid participants",
            json!({"participants": [format!("1 to {MAX_PARTICIPANTS} phone numbers or JIDs")]}),
        ));
    }
    let mut problems = serde_json::Map::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, r) in raw.iter().enumerate() {
        match Jid::parse(r) {
            Ok(j) if !j.is_group() => out.push(j),
            _ => {
                problems.insert(format!("participants[{i}]"), json!(["a phone number or a person's JID"]));
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Error::validation("invalid participants", serde_json::Value::Object(problems)))
    }
}

pub(super) fn group_jid(raw: &str) -> ApiResult<Jid> {
    Jid::parse(raw)
        .ok()
        .filter(Jid::is_group)
        .ok_or_else(|| Error::validation("invalid group", json!({"group": ["a group JID, …@g.us"]})))
}

pub(super) async fn session(state: &AppState, raw: &str) -> ApiResult<String> {
    let id = parse_id(raw)?;
    ensure_session(state, id.as_str()).await?;
    Ok(id.as_str().to_owned())
}

/// The groups this account is in.
#[utoipa::path(get, path = "/sessions/{id}/groups", tag = "groups",
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses((status = 200, description = "Groups", body = Vec<GroupView>),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn list(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Vec<GroupView>>> {
    let session = session(&state, &id).await?;
    let groups = engine(&state, &session)?.groups().await?;
    Ok(Json(groups.into_iter().map(Into::into).collect()))
}

/// Create a group with this account as its admin.
#[utoipa::path(post, path = "/sessions/{id}/groups", tag = "groups", request_body = CreateGroup,
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses((status = 201, description = "Created", body = GroupView),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 422, description = "Invalid subject or participants", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<CreateGroup>,
) -> ApiResult<(StatusCode, Json<GroupView>)> {
    let session = session(&state, &id).await?;
    let subject = body.subject.trim();
    if subject.is_empty() || subject.chars().count() > 100 {
        return Err(Error::validation("invalid subject", json!({"subject": ["1 to 100 characters"]})));
    }
    let members = people(&body.participants)?;
    let group = engine(&state, &session)?.create_group(subject, &members).await?;
    Ok((StatusCode::CREATED, Json(group.into())))
}

/// A group's subject, description and participants with their roles.
#[utoipa::path(get, path = "/sessions/{id}/groups/{group}", tag = "groups",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("group" = String, Path, description = "Group JID", example = "120363012345678901@g.us")),
    responses((status = 200, description = "The group", body = GroupView),
        (status = 404, description = "No such session or group", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    Path((id, group)): Path<(String, String)>,
) -> ApiResult<Json<GroupView>> {
    let session = session(&state, &id).await?;
    let jid = group_jid(&group)?;
    Ok(Json(engine(&state, &session)?.group(&jid).await?.into()))
}

/// Add, remove, promote or demote participants; one result per participant.
#[utoipa::path(post, path = "/sessions/{id}/groups/{group}/participants", tag = "groups", request_body = ParticipantsRequest,
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("group" = String, Path, description = "Group JID", example = "120363012345678901@g.us")),
    responses((status = 200, description = "A result per participant", body = Vec<ParticipantResultView>),
        (status = 403, description = "This account is not an admin of the group", body = ErrorResponse),
        (status = 404, description = "No such session or group", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 422, description = "Invalid participants", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn participants(
    State(state): State<AppState>,
    Path((id, group)): Path<(String, String)>,
    Json(body): Json<ParticipantsRequest>,
) -> ApiResult<Json<Vec<ParticipantResultView>>> {
    let session = session(&state, &id).await?;
    let jid = group_jid(&group)?;
    let members = people(&body.participants)?;
    let results = engine(&state, &session)?.update_participants(&jid, body.action, &members).await?;
    state.sessions.hub().publish(
        &session,
        "group.participants",
        json!({"group": jid.to_string(), "action": body.action, "results": results}),
    );
    Ok(Json(
        results
            .into_iter()
            .map(|r| ParticipantResultView { jid: r.jid.to_string(), status: r.status })
            .collect(),
    ))
}

/// Leave a group.
#[utoipa::path(post, path = "/sessions/{id}/groups/{group}/leave", tag = "groups",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("group" = String, Path, description = "Group JID", example = "120363012345678901@g.us")),
    responses((status = 204, description = "Left"),
        (status = 404, description = "No such session or group", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn leave(
    State(state): State<AppState>,
    Path((id, group)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let session = session(&state, &id).await?;
    let jid = group_jid(&group)?;
    engine(&state, &session)?.leave_group(&jid).await?;
    Ok(StatusCode::NO_CONTENT)
}
