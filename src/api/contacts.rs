//! `/sessions/{id}/contacts…`: whether numbers are on WhatsApp (cached, so
//! repeated checks do not reach WhatsApp and get numbers flagged), profiles,
//! blocking, and the address book (names saved and push names heard, from
//! `contacts::book`).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::IntoParams;
use utoipa::ToSchema;

use super::groups::session;
use super::messages::{engine, ensure_session};
use super::pagination::{Paginated, page_limit};
use super::sessions::parse_id;
use crate::contacts::book::{self, KnownContact, Source};
use crate::error::{ApiResult, Error, ErrorResponse};
use crate::http::extract::{Json, Path, Query};
use crate::http::request_id::RequestId;
use crate::state::AppState;
use crate::store::ContactChange;
use crate::wa::{Jid, NumberCheck, PhoneNumber};

/// Most numbers per check.
const MAX_NUMBERS: usize = 50;
/// Longest name saved, in characters.
const MAX_NAME: usize = 256;
/// Longest search text, in characters.
const MAX_SEARCH: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions/{id}/contacts/check", post(check))
        .route("/sessions/{id}/contacts/blocked", get(blocked))
        .route("/sessions/{id}/contacts", get(list))
        .route("/sessions/{id}/contacts/{contact}", get(profile).put(save))
        .route("/sessions/{id}/contacts/{contact}/block", post(block).delete(unblock))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"numbers": ["491701234567", "+49 170 9999999"]}))]
pub struct CheckRequest {
    /// 1–50 phone numbers with country code.
    pub numbers: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"phone": "491701234567", "exists": true, "jid": "491701234567@s.whatsapp.net", "cached": false}))]
pub struct CheckView {
    pub phone: String,
    pub exists: bool,
    /// The account to send to, when it exists.
    #[schema(value_type = Option<String>)]
    pub jid: Option<String>,
    /// Answered from the cache (`contacts.check_cache_secs`).
    pub cached: bool,
}

/// Check whether numbers are on WhatsApp.
#[utoipa::path(post, path = "/sessions/{id}/contacts/check", tag = "contacts", request_body = CheckRequest,
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses((status = 200, description = "One answer per number, in order", body = Vec<CheckView>),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 422, description = "No numbers, more than 50, or an invalid one", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn check(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<CheckRequest>,
) -> ApiResult<Json<Vec<CheckView>>> {
    let id = parse_id(&id)?;
    let session = id.as_str();
    ensure_session(&state, session).await?;
    if body.numbers.is_empty() || body.numbers.len() > MAX_NUMBERS {
        return Err(Error::validation(
            "invalid numbers",
            json!({"numbers": [format!("1 to {MAX_NUMBERS} numbers")]}),
        ));
    }
    let mut phones = Vec::with_capacity(body.numbers.len());
    let mut problems = serde_json::Map::new();
    for (i, raw) in body.numbers.iter().enumerate() {
        match PhoneNumber::parse(raw) {
            Ok(p) => phones.push(p),
            Err(e) => {
                problems.insert(format!("numbers[{i}]"), json!([format!("phone number {e}")]));
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::validation("invalid numbers", serde_json::Value::Object(problems)));
    }
    let cache = &state.contact_checks;
    let missing: Vec<PhoneNumber> =
        phones.iter().filter(|p| cache.get(session, p.as_str()).is_none()).cloned().collect();
    metrics::counter!("wag_contact_checks_total", "source" => "cache")
        .increment((phones.len() - missing.len()) as u64);
    if !missing.is_empty() {
        let answers = engine(&state, session)?.check_numbers(&missing).await?;
        metrics::counter!("wag_contact_checks_total", "source" => "engine").increment(missing.len() as u64);
        cache.put(session, &answers);
    }
    let views = phones
        .iter()
        .map(|p| {
            let cached = !missing.contains(p);
            let answer = cache.get(session, p.as_str()).unwrap_or(NumberCheck {
                phone: p.as_str().to_owned(),
                exists: false,
                jid: None,
            });
            CheckView {
                phone: answer.phone,
                exists: answer.exists,
                jid: answer.jid.map(|j| j.to_string()),
                cached,
            }
        })
        .collect();
    Ok(Json(views))
}

pub(super) fn contact_jid(raw: &str) -> ApiResult<Jid> {
    Jid::parse(raw).ok().filter(|j| !j.is_group()).ok_or_else(|| {
        Error::validation("invalid contact", json!({"contact": ["a phone number or a person's JID"]}))
    })
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"jid": "491701234567@s.whatsapp.net", "name": null, "push_name": "Ada", "blocked": false,
    "about": "Hey there! I am using WhatsApp.", "picture_url": "https://pps.whatsapp.net/v/t61/…"}))]
pub struct ContactView {
    pub jid: String,
    /// The name saved in the account's address book.
    pub name: Option<String>,
    /// The name the person chose.
    pub push_name: Option<String>,
    pub blocked: bool,
    /// The "about" text, when their privacy settings show it.
    pub about: Option<String>,
    /// A short-lived URL of the profile picture, when visible.
    pub picture_url: Option<String>,
}

/// A contact's profile.
#[utoipa::path(get, path = "/sessions/{id}/contacts/{contact}", tag = "contacts",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("contact" = String, Path, description = "Phone number or JID", example = "491701234567")),
    responses((status = 200, description = "The profile", body = ContactView),
        (status = 404, description = "No such session, or the number is not on WhatsApp", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn profile(
    State(state): State<AppState>,
    Path((id, contact)): Path<(String, String)>,
) -> ApiResult<Json<ContactView>> {
    let id = parse_id(&id)?;
    ensure_session(&state, id.as_str()).await?;
    let jid = contact_jid(&contact)?;
    let info = engine(&state, id.as_str())?.contact(&jid).await?;
    // WhatsApp does not say how the account saved someone: the address book
    // the gateway keeps does.
    let known = state.store.contacts.get(id.as_str(), &info.jid.to_string()).await?;
    let (name, push_name) = known.map_or((None, None), |c| (c.name, c.push_name));
    Ok(Json(ContactView {
        jid: info.jid.to_string(),
        name: name.or(info.name),
        push_name: info.push_name.or(push_name),
        blocked: info.blocked,
        about: info.about,
        picture_url: info.picture_url,
    }))
}

/// Everyone this account blocked.
#[utoipa::path(get, path = "/sessions/{id}/contacts/blocked", tag = "contacts",
    params(("id" = String, Path, description = "Session id", example = "sales")),
    responses((status = 200, description = "Blocked JIDs, sorted", body = Vec<String>,
            example = json!(["491709876543@s.whatsapp.net"])),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn blocked(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Vec<String>>> {
    let id = parse_id(&id)?;
    ensure_session(&state, id.as_str()).await?;
    let list = engine(&state, id.as_str())?.blocklist().await?;
    Ok(Json(list.iter().map(ToString::to_string).collect()))
}

async fn set_blocked(state: &AppState, id: &str, contact: &str, blocked: bool) -> ApiResult<StatusCode> {
    let id = parse_id(id)?;
    ensure_session(state, id.as_str()).await?;
    let jid = contact_jid(contact)?;
    engine(state, id.as_str())?.set_blocked(&jid, blocked).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Block a contact: their messages stop reaching this account.
#[utoipa::path(post, path = "/sessions/{id}/contacts/{contact}/block", tag = "contacts",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("contact" = String, Path, description = "Phone number or JID", example = "491701234567")),
    responses((status = 204, description = "Blocked"), (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn block(
    State(state): State<AppState>,
    Path((id, contact)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    set_blocked(&state, &id, &contact, true).await
}

/// Unblock a contact.
#[utoipa::path(delete, path = "/sessions/{id}/contacts/{contact}/block", tag = "contacts",
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("contact" = String, Path, description = "Phone number or JID", example = "491701234567")),
    responses((status = 204, description = "Unblocked"), (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn unblock(
    State(state): State<AppState>,
    Path((id, contact)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    set_blocked(&state, &id, &contact, false).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only contacts whose JID, saved name or push name contains this
    /// (case-insensitive for ASCII letters).
    #[param(example = "ada")]
    pub search: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500, example = 50)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The contacts the session knows: everyone saved in its address book
/// (through this API or on the phone) and everyone whose message carried a
/// name, ordered by JID.
#[utoipa::path(get, path = "/sessions/{id}/contacts", tag = "contacts",
    params(("id" = String, Path, description = "Session id", example = "sales"), ListParams),
    responses((status = 200, description = "Contacts", body = Paginated<KnownContact>),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 422, description = "Search text too long", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<Paginated<KnownContact>>> {
    let session = session(&state, &id).await?;
    let search = params.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if search.is_some_and(|s| s.chars().count() > MAX_SEARCH) {
        return Err(Error::validation(
            "invalid search",
            json!({"search": [format!("at most {MAX_SEARCH} characters")]}),
        ));
    }
    let limit = page_limit(params.limit);
    let rows = state.store.contacts.list(&session, search, params.cursor.as_deref(), limit).await?;
    let data: Vec<KnownContact> = rows.into_iter().map(KnownContact::from).collect();
    Ok(Json(Paginated::new(data, limit, |c| c.jid.clone())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Ada Lovelace", "first_name": "Ada"}))]
pub struct SaveRequest {
    /// The full name to save, 1–256 characters.
    pub name: String,
    /// A shorter name, 1–256 characters.
    pub first_name: Option<String>,
}

impl SaveRequest {
    pub(super) fn validate(self) -> ApiResult<(String, Option<String>)> {
        let mut problems = serde_json::Map::new();
        let mut check = |field: &str, value: &str| {
            let n = value.trim().chars().count();
            if n == 0 || n > MAX_NAME {
                problems.insert(field.to_owned(), json!([format!("1 to {MAX_NAME} characters")]));
            }
        };
        check("name", &self.name);
        if let Some(first) = &self.first_name {
            check("first_name", first);
        }
        if !problems.is_empty() {
            return Err(Error::validation("invalid contact name", serde_json::Value::Object(problems)));
        }
        Ok((self.name.trim().to_owned(), self.first_name.map(|f| f.trim().to_owned())))
    }
}

/// Save someone in the account's address book, or rename them. WhatsApp
/// syncs the name to the account's phone and other devices.
#[utoipa::path(put, path = "/sessions/{id}/contacts/{contact}", tag = "contacts", request_body = SaveRequest,
    params(("id" = String, Path, description = "Session id", example = "sales"),
        ("contact" = String, Path, description = "Phone number or JID", example = "491701234567")),
    responses((status = 200, description = "Saved; the contact now", body = KnownContact),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is not connected", body = ErrorResponse),
        (status = 422, description = "Invalid contact or name, or not on WhatsApp", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn save(
    State(state): State<AppState>,
    Path((id, contact)): Path<(String, String)>,
    request_id: Option<axum::Extension<RequestId>>,
    Json(body): Json<SaveRequest>,
) -> ApiResult<Json<KnownContact>> {
    let session = session(&state, &id).await?;
    let jid = contact_jid(&contact)?;
    let (name, first_name) = body.validate()?;
    engine(&state, &session)?.save_contact(&jid, &name, first_name.as_deref()).await?;
    let change = ContactChange::Saved { name, first_name };
    let source = (Source::Api, request_id.map(|r| r.0.0.to_string()));
    let saved =
        book::apply(&state.store, state.sessions.hub(), &session, &jid.to_string(), &change, source).await?;
    saved
        .map(Json)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("the saved contact could not be read back")))
}
