//! `/templates…`: reusable message texts with `{{variables}}`, shared by
//! every session (send them with `{"type": "template", …}`).

use std::collections::HashMap;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::pagination::{PageParams, Paginated};
use crate::error::{ApiResult, Error, ErrorResponse};
use crate::http::extract::{Json, Path, Query};
use crate::messages::request::{MessageType, SendMessage};
use crate::state::AppState;
use crate::store::{NewTemplate, Page, Template as Stored};
use crate::templates::Template;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/templates", get(list).post(create))
        .route("/templates/{name}", get(get_one).put(replace).delete(remove))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"name": "order_shipped", "content": "Hi {{name}}, your order {{order}} ships {{when|today}}.",
    "description": "Shipping notice", "variables": ["name", "order", "when"], "required": ["name", "order"],
    "created_at": "2026-12-01T12:00:00Z", "updated_at": "2026-12-01T12:00:00Z"}))]
pub struct TemplateView {
    pub name: String,
    pub content: String,
    pub description: Option<String>,
    /// Every variable the template uses.
    pub variables: Vec<String>,
    /// The variables without a default: a send must give them.
    pub required: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Stored> for TemplateView {
    fn from(t: Stored) -> Self {
        // Stored templates were validated when written.
        let parsed = Template::parse(&t.content).ok();
        Self {
            variables: parsed.as_ref().map(|p| p.variables(false)).unwrap_or_default(),
            required: parsed.as_ref().map(|p| p.variables(true)).unwrap_or_default(),
            name: t.name,
            content: t.content,
            description: t.description,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "order_shipped", "content": "Hi {{name}}, your order {{order}} ships {{when|today}}.", "description": "Shipping notice"}))]
pub struct CreateTemplate {
    /// `a-z`, `0-9`, `_` and `-`, 1–64 characters.
    pub name: String,
    /// The text: `{{variable}}`, `{{variable|default}}`, `{{{{` for a literal `{{`.
    pub content: String,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"content": "Hello {{name}}!", "description": "Greeting"}))]
pub struct ReplaceTemplate {
    pub content: String,
    pub description: Option<String>,
}

fn check_name(name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::validation(
            "invalid template name",
            json!({"name": ["a-z, 0-9, _ and -, 1 to 64 characters"]}),
        ))
    }
}

fn check_content(content: &str, description: Option<&str>) -> ApiResult<()> {
    if content.trim().is_empty() {
        return Err(Error::validation("invalid template", json!({"content": ["required and not blank"]})));
    }
    Template::parse(content).map_err(|e| {
        Error::validation(format!("invalid template: {e}"), json!({"content": [e.to_string()]}))
    })?;
    if description.is_some_and(|d| d.chars().count() > 512) {
        return Err(Error::validation(
            "invalid template",
            json!({"description": ["at most 512 characters"]}),
        ));
    }
    Ok(())
}

pub fn template_not_found(name: &str) -> Error {
    Error::not_found("template_not_found", format!("template {name} does not exist"))
}

/// Fills in a stored template for a send; 422 naming the missing variables.
async fn render(state: &AppState, name: &str, values: &HashMap<String, String>) -> ApiResult<String> {
    let stored = state.store.templates.get(name).await?.ok_or_else(|| {
        Error::validation(
            format!("template {name} does not exist"),
            json!({"template": [format!("no template named {name}")]}),
        )
    })?;
    let template = Template::parse(&stored.content).map_err(|e| Error::Internal(e.into()))?;
    template.render(values).map_err(|e| match e {
        crate::templates::RenderError::Missing(names) => Error::validation(
            format!("missing template variables: {}", names.join(", ")),
            json!({"variables": names.iter().map(|n| format!("missing: {n}")).collect::<Vec<_>>()}),
        ),
        e @ crate::templates::RenderError::TooLong => {
            Error::validation(e.to_string(), json!({"variables": [e.to_string()]}))
        }
    })
}

/// Turns a `template` send into the message it stands for: the filled-in
/// text, or with `media` the caption of an image, video or document.
pub async fn fill(state: &AppState, mut req: SendMessage) -> ApiResult<SendMessage> {
    let bad = |field: &str, msg: &str| Error::validation(format!("{field}: {msg}"), json!({ field: [msg] }));
    if req.kind != MessageType::Template {
        if req.template.is_some() || req.variables.is_some() {
            return Err(bad("template", "template and variables go with type template"));
        }
        return Ok(req);
    }
    let name = req.template.take().ok_or_else(|| bad("template", "required for type template"))?;
    if req.text.is_some() || req.caption.is_some() {
        return Err(bad("text", "the text comes from the template: leave text and caption out"));
    }
    let mut values = HashMap::new();
    for (key, value) in req.variables.take().unwrap_or_default() {
        let value = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(bad("variables", &format!("{key} must be a string, number or boolean"))),
        };
        values.insert(key, value);
    }
    let text = render(state, &name, &values).await?;
    match &req.media {
        None => {
            req.kind = MessageType::Text;
            req.text = Some(text);
        }
        Some(media) => {
            let mime = media.mime_type.as_deref().unwrap_or_default().to_ascii_lowercase();
            req.kind = if mime.starts_with("image/") {
                MessageType::Image
            } else if mime.starts_with("video/") {
                MessageType::Video
            } else {
                MessageType::Document
            };
            req.caption = Some(text);
        }
    }
    Ok(req)
}

/// Create a template.
#[utoipa::path(post, path = "/templates", tag = "templates", request_body = CreateTemplate,
    responses(
        (status = 201, description = "Created", body = TemplateView),
        (status = 409, description = "A template with this name exists", body = ErrorResponse),
        (status = 422, description = "Invalid name or template text", body = ErrorResponse,
            example = json!({"error": {"code": "validation_failed", "message": "invalid template: `{{` at character 6 is not closed by `}}`", "request_id": "0192f0c4-6b55-7d1e-9b8e-3f1a2c4d5e6f", "details": {"content": ["`{{` at character 6 is not closed by `}}`"]}}})),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Json(body): Json<CreateTemplate>,
) -> ApiResult<(StatusCode, Json<TemplateView>)> {
    check_name(&body.name)?;
    check_content(&body.content, body.description.as_deref())?;
    let new = NewTemplate { name: body.name, content: body.content, description: body.description };
    let created = state.store.templates.create(&new).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Templates by name.
#[utoipa::path(get, path = "/templates", tag = "templates", params(PageParams),
    responses((status = 200, description = "One page, ordered by name", body = Paginated<TemplateView>)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<PageParams>,
) -> ApiResult<Json<Paginated<TemplateView>>> {
    let limit = params.limit();
    let page = match params.cursor {
        Some(after) => Page::after(after, limit),
        None => Page::first(limit),
    };
    let rows: Vec<TemplateView> =
        state.store.templates.list(&page).await?.into_iter().map(Into::into).collect();
    Ok(Json(Paginated::new(rows, limit, |t| t.name.clone())))
}

/// One template.
#[utoipa::path(get, path = "/templates/{name}", tag = "templates",
    params(("name" = String, Path, description = "Template name", example = "order_shipped")),
    responses((status = 200, description = "The template", body = TemplateView), (status = 404, description = "No such template", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<TemplateView>> {
    let found = state.store.templates.get(&name).await?.ok_or_else(|| template_not_found(&name))?;
    Ok(Json(found.into()))
}

/// Replace a template's text and description.
#[utoipa::path(put, path = "/templates/{name}", tag = "templates", request_body = ReplaceTemplate,
    params(("name" = String, Path, description = "Template name", example = "order_shipped")),
    responses((status = 200, description = "Replaced", body = TemplateView), (status = 404, description = "No such template", body = ErrorResponse),
        (status = 422, description = "Invalid template text", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn replace(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(body): Json<ReplaceTemplate>,
) -> ApiResult<Json<TemplateView>> {
    check_content(&body.content, body.description.as_deref())?;
    let updated = state
        .store
        .templates
        .update(&name, &body.content, body.description.as_deref())
        .await?
        .ok_or_else(|| template_not_found(&name))?;
    Ok(Json(updated.into()))
}

/// Delete a template; messages already queued with it are not affected.
#[utoipa::path(delete, path = "/templates/{name}", tag = "templates",
    params(("name" = String, Path, description = "Template name", example = "order_shipped")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such template", body = ErrorResponse)),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn remove(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<StatusCode> {
    if state.store.templates.delete(&name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(template_not_found(&name))
    }
}
