//! The OpenAPI document (generated from the handlers' annotations) and
//! Swagger UI at `/docs`, served from assets vendored into the binary so it
//! works without internet.

use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{
    batches, calls, chat_settings, chats, contacts, group_admin, groups, health, labels, media, messages,
    metrics, pagination, polls, profile, sandbox, schedule, session_control, sessions, status, templates,
    webhooks,
};
use crate::error::{ErrorBody, ErrorResponse};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "wa-gateway",
        description = "Self-hosted, multi-session WhatsApp HTTP gateway.\n\nEvery error has the shape \
            `{\"error\": {\"code\", \"message\", \"request_id\", \"details\"}}`; clients branch on `code`. \
            Every response carries `X-Request-ID`.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        health::live, health::ready, health::summary, metrics::scrape,
        sessions::create, sessions::list, sessions::get_one, sessions::delete,
        session_control::start, session_control::stop, session_control::logout, session_control::qr_code,
        session_control::pair_code, session_control::events,
        sandbox::link, sandbox::inbound, sandbox::fault, sandbox::ring, sandbox::call, sandbox::end_call, sandbox::vote, sandbox::phone_changes_chat,
        sandbox::phone_saves_contact, sandbox::phone_edits_label, sandbox::phone_labels_chat,
        calls::list, calls::reject, profile::get_one, profile::update, profile::set_picture, profile::remove_picture,
        messages::send, messages::list, messages::get_one, messages::status, messages::edit, messages::revoke,
        messages::mark_read, polls::poll, polls::vote, status::post_status, batches::create, batches::get_one,
        schedule::create, schedule::list, schedule::cancel, media::upload, media::get_one, media::send, media::download,
        contacts::check, contacts::profile, contacts::block, contacts::unblock, contacts::blocked,
        contacts::list, contacts::save,
        groups::list, groups::create, groups::get_one, groups::participants, groups::leave,
        group_admin::update, group_admin::invite, group_admin::reset_invite, group_admin::join,
        chats::list, chats::read, chats::typing, chats::presence, chat_settings::get_one, chat_settings::update,
        labels::list, labels::get_one, labels::create, labels::update, labels::remove, labels::chats,
        labels::label_chat, labels::unlabel_chat,
        webhooks::create, webhooks::list, webhooks::get_one, webhooks::update, webhooks::remove,
        webhooks::deliveries, webhooks::delivery, webhooks::retry, webhooks::replay,
        templates::create, templates::list, templates::get_one, templates::replace, templates::remove,
    ),
    components(schemas(ErrorResponse, ErrorBody, sessions::SessionView, sessions::CreateSession,
        sessions::Engine, sessions::WebhookSpec, sessions::WebhookCreated, pagination::Paginated<sessions::SessionView>,
        crate::sessions::Runtime, crate::sessions::Status, crate::sessions::BreakerState,
        session_control::QrView, session_control::PairCodeRequest, session_control::PairCodeView,
        session_control::SessionEventView, pagination::Paginated<session_control::SessionEventView>,
        crate::engine::sandbox::LinkRequest, crate::engine::sandbox::Inbound, crate::engine::sandbox::InboundMedia,
        crate::engine::sandbox::InboundPoll, crate::engine::sandbox::VoteRequest,
        crate::engine::sandbox::Fault, crate::engine::sandbox::FaultKind,
        crate::engine::sandbox::CallRequest, crate::engine::sandbox::SandboxCall, crate::engine::sandbox::CallState,
        crate::engine::sandbox::EndCall, crate::engine::sandbox::CallEndKind, calls::CallView, profile::ProfileView, profile::UpdateProfile,
        chat_settings::ChatUpdate, crate::messages::chat_settings::ChatSettingsView,
        labels::LabelRequest, crate::messages::labels::LabelView, sandbox::PhoneLabel, sandbox::PhoneChatLabel,
        crate::messages::polls::PollResults, crate::messages::polls::OptionTally, polls::VoteRequest,
        status::StatusRequest, status::StatusType, status::StatusFont,
        messages::MessageView, messages::StatusView, messages::EditRequest, messages::ReadRequest,
        pagination::Paginated<messages::MessageView>,
        crate::messages::request::SendMessage, crate::messages::request::MessageType, crate::messages::request::MediaInput,
        crate::messages::request::LocationInput, crate::messages::request::ContactInput,
        crate::messages::request::ReactionInput, crate::messages::request::PollInput,
        webhooks::WebhookView, webhooks::WebhookUpdate, webhooks::DeliveryView, webhooks::AttemptView,
        webhooks::ReplayRequest, webhooks::ReplayView, pagination::Paginated<webhooks::DeliveryView>,
        batches::BatchRequest, batches::BatchView, schedule::ScheduleRequest,
        contacts::CheckRequest, contacts::CheckView, contacts::ContactView, contacts::SaveRequest,
        crate::contacts::book::KnownContact, pagination::Paginated<crate::contacts::book::KnownContact>,
        groups::GroupView, groups::ParticipantView, groups::CreateGroup, groups::ParticipantsRequest,
        groups::ParticipantResultView, groups::GroupSettings, crate::wa::ParticipantAction,
        group_admin::UpdateGroup, group_admin::InviteView, group_admin::JoinGroup,
        chats::ChatView, chats::ReadView, chats::TypingRequest, chats::Presence, chats::PresenceRequest,
        pagination::Paginated<chats::ChatView>, crate::wa::ChatState,
        crate::media::MediaInfo, media::UploadForm, media::SendForm,
        templates::TemplateView, templates::CreateTemplate, templates::ReplaceTemplate,
        pagination::Paginated<templates::TemplateView>)),
    modifiers(&Security),
    tags(
        (name = "health", description = "Liveness, readiness and summary; no API key needed"),
        (name = "sessions", description = "WhatsApp sessions (accounts) linked to the gateway"),
        (name = "messages", description = "Send messages (queued, durable, idempotent) and follow their delivery"),
        (name = "webhooks", description = "Signed (Standard Webhooks), durable, retried event delivery"),
        (name = "templates", description = "Reusable message texts with {{variables}}"),
        (name = "groups", description = "Groups: list, create, members, settings, invites, join, leave"),
        (name = "chats", description = "Chats from the message log (unread counts), marking read, typing, presence"),
        (name = "labels", description = "Labels (lists) and the chats they are on"),
        (name = "profile", description = "This account's own profile: display name, about text, picture"),
        (name = "calls", description = "Incoming calls: ringing calls, rejecting them (automatically or on request)"),
        (name = "contacts", description = "Numbers on WhatsApp (cached), profiles, blocking"),
        (name = "media", description = "File uploads, typed by their bytes, sent by media_id"),
        (name = "sandbox", description = "The simulated WhatsApp network: play the phone, the contacts and the faults"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document served at `/openapi.json` and printed by `wa-gateway openapi`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    // Handlers of different resources share names (`create`, `list`, …);
    // operation ids must be unique, so they carry the resource's tag.
    for item in doc.paths.paths.values_mut() {
        let ops = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
        for op in ops.into_iter().flatten() {
            if let (Some(id), Some(tag)) = (&op.operation_id, op.tags.as_ref().and_then(|t| t.first())) {
                op.operation_id = Some(format!("{tag}_{id}"));
            }
        }
    }
    doc
}

pub fn router() -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", openapi()))
}
