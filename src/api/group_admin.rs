//! Changing a group (subject, description, settings) and its invite link;
//! joining a group by invite.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, patch, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::groups::{GroupView, group_jid, session};
use super::messages::engine;
use crate::error::{ApiResult, Error, ErrorResponse};
use crate::http::extract::{Json, Path};
use crate::state::AppState;
use crate::wa::GroupChange;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions/{id}/groups/{group}", patch(update))
        .route("/sessions/{id}/groups/{group}/invite", get(invite))
        .route("/sessions/{id}/groups/{group}/invite/reset", post(reset_invite))
        .route("/sessions/{id}/groups/join", post(join))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"subject": "Team (2027)", "description": "Weekly planning", "announce": true}))]
pub struct UpdateGroup {
    /// 1–100 characters.
    pub subject: Option<String>,
    /// Up to 2,048 characters; `""` removes it.
    pub description: Option<String>,
    /// Only admins may send messages.
    pub announce: Option<bool>,
    /// Only admins may change the subject and description.
    pub locked: Option<bool>,
}

impl UpdateGroup {
    fn change(self) -> ApiResult<GroupChange> {
        let mut problems = serde_json::Map::new();
        let subject = self.subject.map(|s| s.trim().to_owned());
        if subject.as_ref().is_some_and(|s| s.is_empty() || s.chars().count() > 100) {
            problems.insert("subject".into(), json!(["1 to 100 characters"]));
        }
        if self.description.as_ref().is_some_and(|d| d.chars().count() > 2048) {
            problems.insert("description".into(), json!(["at most 2048 characters"]));
        }
        let change = GroupChange {
            subject,
            description: self.description,
            announce: self.announce,
            locked: self.locked,
        };
        if change.is_empty() {
            problems.insert(
                "request".into(),
                json!(["name at least one of subject, description, announce, locked"]),
            );
        }
        if problems.is_empty() {
            Ok(change)
        } else {
            Err(Error::validation("invalid group change", serde_json::Value::Object(problems)))
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"code": "Fq3ZbX0mQ9OeV4yHqzL2Tw", "url": "https://chat.whatsapp.com/Fq3ZbX0mQ9OeV4yHqzL2Tw"}))]
pub struct InviteView {
    pub code: String,
    pub url: String,
}

impl From<String> for InviteView {
    fn from(code: String) -> Self {
        Self { url: format!("https://chat.whatsapp.com/{code}"), code }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "Fq3ZbX0mQ9OeV4yHqzL2Tw"}))]
pub struct JoinGroup {
    /// The invite code, or the whole `https://chat.whatsapp.com/…` link.
    pub code: String,
}

/// Change a group's subject, description or settings. Settings need an
/// admin; subject and description too once the group is locked.
#[utoipa::path(patch, path = "/sessions/{id}/groups/{group}", tag = "groups", request_body = UpdateGroup,
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("group" = String, Path, description = "Group JID", example = "120363012345678901@g.us")),
    responses((status = 200, description = "The group after the change", body = GroupView),
        (status = 403, description = "Not a participant, or not an admin where one is needed", body = ErrorResponse),
        (status = 404, description = "No such session or group", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 422, description = "Invalid change", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    Path((id, group)): Path<(String, String)>,
    Json(body): Json<UpdateGroup>,
) -> ApiResult<Json<GroupView>> {
    let session = session(&state, &id).await?;
    let jid = group_jid(&group)?;
    let change = body.change()?;
    Ok(Json(engine(&state, &session)?.update_group(&jid, &change).await?.into()))
}

/// The group's invite link (admins only).
#[utoipa::path(get, path = "/sessions/{id}/groups/{group}/invite", tag = "groups",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("group" = String, Path, description = "Group JID", example = "120363012345678901@g.us")),
    responses((status = 200, description = "The invite link", body = InviteView),
        (status = 403, description = "Not an admin of the group", body = ErrorResponse),
        (status = 404, description = "No such session or group", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn invite(
    State(state): State<AppState>,
    Path((id, group)): Path<(String, String)>,
) -> ApiResult<Json<InviteView>> {
    let session = session(&state, &id).await?;
    let jid = group_jid(&group)?;
    Ok(Json(engine(&state, &session)?.group_invite(&jid, false).await?.into()))
}

/// Revoke the invite link and get a new one (admins only).
#[utoipa::path(post, path = "/sessions/{id}/groups/{group}/invite/reset", tag = "groups",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("group" = String, Path, description = "Group JID", example = "120363012345678901@g.us")),
    responses((status = 200, description = "The new invite link; the old one no longer works", body = InviteView),
        (status = 403, description = "Not an admin of the group", body = ErrorResponse),
        (status = 404, description = "No such session or group", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn reset_invite(
    State(state): State<AppState>,
    Path((id, group)): Path<(String, String)>,
) -> ApiResult<Json<InviteView>> {
    let session = session(&state, &id).await?;
    let jid = group_jid(&group)?;
    Ok(Json(engine(&state, &session)?.group_invite(&jid, true).await?.into()))
}

/// Join a group by invite code or link.
#[utoipa::path(post, path = "/sessions/{id}/groups/join", tag = "groups", request_body = JoinGroup,
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses((status = 200, description = "The group joined", body = GroupView),
        (status = 404, description = "No such session, or the code is unknown or revoked (`invite_not_found`)", body = ErrorResponse),
        (status = 409, description = "Already a member, awaiting admin approval, or not connected", body = ErrorResponse),
        (status = 422, description = "Not an invite code", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn join(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<JoinGroup>,
) -> ApiResult<Json<GroupView>> {
    let session = session(&state, &id).await?;
    let code = invite_code(&body.code).ok_or_else(|| {
        Error::validation("invalid invite", json!({"code": ["an invite code or chat.whatsapp.com link"]}))
    })?;
    Ok(Json(engine(&state, &session)?.join_group(code).await?.into()))
}

/// The code of an invite code or link; `None` when it cannot be one.
fn invite_code(raw: &str) -> Option<&str> {
    let raw = raw.trim();
    let code = raw
        .strip_prefix("https://chat.whatsapp.com/")
        .or_else(|| raw.strip_prefix("http://chat.whatsapp.com/"))
        .or_else(|| raw.strip_prefix("chat.whatsapp.com/"))
        .unwrap_or(raw);
    let ok = (10..=64).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(code)
}

#[cfg(test)]
mod tests {
    #[test]
    fn invite_codes_and_links() {
        assert_eq!(super::invite_code("Fq3ZbX0mQ9OeV4yHqzL2Tw"), Some("Fq3ZbX0mQ9OeV4yHqzL2Tw"));
        assert_eq!(
            super::invite_code(" https://chat.whatsapp.com/Fq3ZbX0mQ9OeV4yHqzL2Tw "),
            Some("Fq3ZbX0mQ9OeV4yHqzL2Tw")
        );
        assert_eq!(super::invite_code("https://evil.example/Fq3ZbX0mQ9OeV4yHqzL2Tw"), None);
        assert_eq!(super::invite_code("short"), None);
        assert_eq!(super::invite_code("has spaces in it!"), None);
    }
}
