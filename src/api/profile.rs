//! `/sessions/{id}/profile…`: this account's own profile as contacts see
//! it — display name (push name), about text, picture — read and changed.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::groups::session;
use super::messages::engine;
use crate::error::{ApiResult, Error, ErrorResponse};
use crate::http::extract::{Json, Path};
use crate::state::AppState;
use crate::wa::{PhoneNumber, PictureChange, ProfileChange};

/// WhatsApp's limits: a display name of 25 characters, an about of 139.
const MAX_PUSH_NAME: usize = 25;
const MAX_ABOUT: usize = 139;
/// Largest picture accepted; WhatsApp shows 640x640 JPEGs, far smaller.
const MAX_PICTURE_BYTES: usize = 2 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/sessions/{id}/profile", get(get_one).patch(update)).route(
        "/sessions/{id}/profile/picture",
        put(set_picture).delete(remove_picture).layer(DefaultBodyLimit::max(MAX_PICTURE_BYTES)),
    )
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"phone": "491701234567", "push_name": "Acme Support", "about": "Open 9-17, Mon-Fri",
    "picture_url": "https://pps.whatsapp.net/v/t61.24694-24/…"}))]
pub struct ProfileView {
    pub phone: String,
    pub push_name: Option<String>,
    /// Hidden when the account's privacy settings hide it from itself (rare).
    pub about: Option<String>,
    /// A short-lived URL of the picture; none when there is no picture.
    pub picture_url: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"push_name": "Acme Support", "about": "Open 9-17, Mon-Fri"}))]
pub struct UpdateProfile {
    /// The display name contacts see (1–25 characters).
    pub push_name: Option<String>,
    /// The about text (up to 139 characters; empty clears it).
    pub about: Option<String>,
}

async fn view(state: &AppState, id: &str) -> ApiResult<ProfileView> {
    let engine = engine(state, id)?;
    let stored = state.store.sessions.get(id).await?;
    let (phone, push_name) = stored.map(|s| (s.phone, s.push_name)).unwrap_or_default();
    let phone = phone.and_then(|p| PhoneNumber::parse(&p).ok()).ok_or_else(|| {
        Error::conflict("session_not_connected", format!("session {id} has no linked account yet"))
    })?;
    let own = engine.contact(&phone.to_jid()).await?;
    Ok(ProfileView {
        phone: phone.as_str().to_owned(),
        push_name: own.push_name.or(push_name),
        about: own.about,
        picture_url: own.picture_url,
    })
}

/// This account's profile as contacts see it.
#[utoipa::path(get, path = "/sessions/{id}/profile", tag = "profile",
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses((status = 200, description = "The profile", body = ProfileView),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn get_one(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<ProfileView>> {
    let id = session(&state, &id).await?;
    Ok(Json(view(&state, &id).await?))
}

fn validate(body: &UpdateProfile) -> Result<(), serde_json::Value> {
    let mut details = serde_json::Map::new();
    if body.push_name.is_none() && body.about.is_none() {
        details.insert("request".into(), json!(["give push_name, about or both"]));
    }
    if let Some(name) = &body.push_name {
        let chars = name.trim().chars().count();
        if chars == 0 || chars > MAX_PUSH_NAME {
            details.insert("push_name".into(), json!([format!("1 to {MAX_PUSH_NAME} characters")]));
        }
    }
    if body.about.as_ref().is_some_and(|a| a.chars().count() > MAX_ABOUT) {
        details.insert("about".into(), json!([format!("at most {MAX_ABOUT} characters")]));
    }
    if details.is_empty() { Ok(()) } else { Err(details.into()) }
}

/// Change the display name, the about text, or both.
#[utoipa::path(patch, path = "/sessions/{id}/profile", tag = "profile", request_body = UpdateProfile,
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses((status = 200, description = "Changed; the profile now (a new name is also a `session.push_name` event)", body = ProfileView),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 422, description = "Nothing to change, or a name or about too long", body = ErrorResponse,
            example = json!({"error": {"code": "validation_failed", "message": "the profile change is invalid",
                "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f", "details": {"push_name": ["1 to 25 characters"]}}}))),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<UpdateProfile>,
) -> ApiResult<Json<ProfileView>> {
    let id = session(&state, &id).await?;
    validate(&body).map_err(|details| Error::validation("the profile change is invalid", details))?;
    let push_name = body.push_name.map(|n| n.trim().to_owned());
    let change = ProfileChange { push_name: push_name.clone(), about: body.about, picture: None };
    engine(&state, &id)?.set_profile(&change).await?;
    if let Some(name) = &push_name {
        state.sessions.push_name_changed(&id, name).await;
    }
    Ok(Json(view(&state, &id).await?))
}

/// Set the profile picture: the request body is the JPEG itself
/// (`Content-Type: image/jpeg`; WhatsApp shows it at 640x640).
#[utoipa::path(put, path = "/sessions/{id}/profile/picture", tag = "profile",
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "A JPEG image, at most 2 MiB"),
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses((status = 200, description = "Set; the profile now", body = ProfileView),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 413, description = "Larger than 2 MiB", body = ErrorResponse),
        (status = 422, description = "Not a JPEG image", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn set_picture(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ProfileView>> {
    let id = session(&state, &id).await?;
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Error::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the picture is larger than {MAX_PICTURE_BYTES} bytes"),
        ),
        status => Error::new(status, "invalid_body", e.body_text()),
    })?;
    // Every JPEG starts with the SOI marker and a segment marker.
    if body.len() < 4 || body[..3] != [0xFF, 0xD8, 0xFF] {
        return Err(Error::validation(
            "the picture is invalid",
            json!({"picture": ["the request body must be a JPEG image"]}),
        ));
    }
    let change = ProfileChange { picture: Some(PictureChange::Set(body.to_vec())), ..Default::default() };
    engine(&state, &id)?.set_profile(&change).await?;
    Ok(Json(view(&state, &id).await?))
}

/// Remove the profile picture.
#[utoipa::path(delete, path = "/sessions/{id}/profile/picture", tag = "profile",
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses((status = 200, description = "Removed; the profile now", body = ProfileView),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn remove_picture(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ProfileView>> {
    let id = session(&state, &id).await?;
    let change = ProfileChange { picture: Some(PictureChange::Remove), ..Default::default() };
    engine(&state, &id)?.set_profile(&change).await?;
    Ok(Json(view(&state, &id).await?))
}
