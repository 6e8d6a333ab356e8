//! `/api/v1/conversations`: the queue (sorted by the nearest deadline) and one conversation
//! with its timeline, each with its SLA evaluated now.

use super::error::ApiError;
use super::require_user;
use super::Api;
use super::Query;
use crate::auth::CurrentUser;
use crate::catalog::SlaCatalog;
use crate::services::conversations::{conversation_detail, conversation_views, find};
use crate::state::AppState;
use crate::store::ConversationFilter;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use promptly::account::UserView;
use promptly::conversation::{Channel, ConversationView, IncomingEvent};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/conversations", get(list))
        .route("/conversations/{id}", get(one))
        .route("/conversations/{id}/messages", post(post_message))
        .route("/conversations/take-next", post(take_next))
}

/// Take next
///
/// Assigns the signed-in user the unassigned open conversation with the nearest deadline: at an equal deadline an urgent one first, then a direct one before a public one, then the oldest. Atomic: agents pressing it at once never get the same conversation, on one server or several. The assignment is a `conversation.updated` event on the conversation's timeline. The caller's teams (`teams` on `PATCH /users/{id}`) are those it draws from; a user in none draws from every team. A token has nobody to assign.
#[utoipa::path(post, path = "/conversations/take-next", tag = "Conversations", operation_id = "takeNextConversation",
    responses((status = 200, description = "The conversation, now the caller's, its SLA evaluated now.", body = promptly::conversation::ConversationSummary), (status = 204, description = "Nothing is waiting.")))]
async fn take_next(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let me = require_user(user)?;
    let Some(row) = crate::services::conversations::take_next(&state, &me).await? else {
        return Ok(axum::http::StatusCode::NO_CONTENT.into_response());
    };
    let now = state.clock.now();
    let mut catalog = SlaCatalog::cached(&state, now).await?;
    let view = conversation_views(state.store.as_ref(), &mut catalog, vec![row], now)
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    Ok(Json(view).into_response())
}

/// An agent's reply or private note.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct NewMessage {
    #[schema(schema_with = promptly::schema::message_text)]
    text: String,
    /// A note only agents see: not sent, and it does not stop the clock.
    #[serde(default)]
    private: bool,
    /// Who wrote it, for a token (a session's user is the author).
    #[serde(default)]
    #[schema(schema_with = promptly::schema::optional_email)]
    agent_email: Option<String>,
}

/// Reply to a conversation
///
/// The reply is recorded at once (a public one stops the clock, as any agent message) and, when a channel account brought the conversation (a WhatsApp number), sent to the customer through it: a delivery under `/deliveries`, retried on network errors, 5xx and 429, failed for good on other 4xx with the platform's words on the timeline. The author is the signed-in user, or `agent_email` for a token. Agents, managers and admins; tokens with `conversations:write`.
#[utoipa::path(post, path = "/conversations/{id}/messages", tag = "Conversations", operation_id = "postConversationMessage",
    params(("id" = String, Path, description = "Promptly's numeric id, or the conversation id the caller's integration gave it.")),
    request_body = NewMessage, responses((status = 201, description = "Recorded (and sent when `sent`).", body = crate::services::conversations::Reply), (status = 404, response = super::error::responses::NotFound), (status = 409, response = super::error::responses::Ambiguous)))]
async fn post_message(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    crate::auth::Source(source): crate::auth::Source,
    Path(id): Path<String>,
    super::Typed(body): super::Typed<NewMessage>,
) -> super::WithStatus<crate::services::conversations::Reply> {
    let me = require_user(user)?;
    let author = if me.id < 0 {
        // A token: the agent it speaks for, if it says.
        match body.agent_email.as_deref() {
            Some(e) => Some(
                promptly::account::validate_email(e)
                    .map_err(|m| ApiError::field("agent_email", m))?,
            ),
            None => None,
        }
    } else {
        Some(me.email)
    };
    let row = find(state.store.as_ref(), source.as_deref(), &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let reply =
        crate::services::conversations::reply(&state, &row, author, &body.text, body.private)
            .await?;
    Ok((axum::http::StatusCode::CREATED, Json(reply)))
}

/// Query of the queue: `status=open,pending`, `policy=3`, `channel=whatsapp`, `team=billing`,
/// `owner=me|none|someone@x.io`, `breached=true`, `limit=200`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// Comma-separated statuses: open, pending, snoozed, resolved (default: all).
    #[param(
        pattern = r"^\s*((open|pending|snoozed|resolved)\s*(,\s*(open|pending|snoozed|resolved)\s*)*)?$",
        example = "open,pending"
    )]
    pub status: Option<String>,
    /// Only conversations on this policy.
    pub policy: Option<i64>,
    /// Only this channel.
    #[param(value_type = Option<Channel>)]
    pub channel: Option<String>,
    /// Only this team.
    pub team: Option<String>,
    /// `me` (the caller's e-mail), `none` (unassigned) or an owner's e-mail.
    #[param(example = "me")]
    pub owner: Option<String>,
    /// `true`: only conversations whose most urgent deadline has passed.
    pub breached: Option<bool>,
    /// How many at most.
    #[param(schema_with = promptly::schema::conversations_page)]
    pub limit: Option<i64>,
    /// How many of the first conversations (in this order) to skip: the next page starts at
    /// the previous page's offset plus its limit.
    #[param(schema_with = promptly::schema::queue_offset)]
    pub offset: Option<i64>,
}

impl QueueQuery {
    pub fn filter(
        &self,
        me: &UserView,
        now: DateTime<Utc>,
    ) -> Result<ConversationFilter, ApiError> {
        let statuses = match &self.status {
            None => Vec::new(),
            Some(s) => s
                .split(',')
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .map(|s| match s.as_str() {
                    "open" | "pending" | "snoozed" | "resolved" => Ok(s),
                    _ => Err(ApiError::field(
                        "status",
                        format!("{s:?} is not one of: open, pending, snoozed, resolved"),
                    )),
                })
                .collect::<Result<_, _>>()?,
        };
        if let Some(c) = &self.channel {
            if Channel::parse(c).is_none() {
                return Err(ApiError::field(
                    "channel",
                    format!("{c:?} is not a channel"),
                ));
            }
        }
        let owner = self.owner.as_deref().map(|o| match o {
            "none" => None,
            "me" => Some(me.email.clone()),
            other => Some(other.trim().to_lowercase()),
        });
        Ok(ConversationFilter {
            statuses,
            policy_id: self.policy,
            channel: self.channel.clone(),
            team: self.team.clone(),
            owner,
            due_before: self.breached.filter(|b| *b).map(|_| now),
            limit: promptly::limits::CONVERSATIONS_PAGE
                .limit(self.limit)
                .map_err(|m| ApiError::field("limit", m))?,
            offset: match self.offset {
                None => 0,
                Some(n) if (0..=promptly::limits::QUEUE_OFFSET_MAX).contains(&n) => n,
                Some(_) => {
                    return Err(ApiError::field(
                        "offset",
                        format!("must be from 0 to {}", promptly::limits::QUEUE_OFFSET_MAX),
                    ))
                }
            },
        })
    }
}

/// The queue: conversations matching `q`, most urgent first, evaluated at `now`.
pub async fn queue(
    state: &AppState,
    me: &UserView,
    q: &QueueQuery,
    now: DateTime<Utc>,
) -> Result<Vec<ConversationView>, ApiError> {
    let filter = q.filter(me, now)?;
    let store = state.store.as_ref();
    let rows = store.list_conversations(&filter).await?;
    let mut catalog = SlaCatalog::cached(state, now).await?;
    Ok(conversation_views(store, &mut catalog, rows, now).await?)
}

/// The queue
///
/// Conversations matching the filters, most urgent first (nearest deadline; none last), each with its SLA evaluated now.
#[utoipa::path(get, path = "/conversations", tag = "Conversations", operation_id = "listConversations",
    params(QueueQuery), responses((status = 200, description = "The conversations.", body = Vec<promptly::conversation::ConversationSummary>)))]
async fn list(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Query(q): Query<QueueQuery>,
) -> Api<Vec<ConversationView>> {
    let me = require_user(user)?;
    Ok(Json(queue(&state, &me, &q, state.clock.now()).await?))
}

/// A conversation with its events.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ConversationDetail {
    #[serde(flatten)]
    conversation: ConversationView,
    /// The conversation's events as stored (after validation and defaults), ordered by `at`.
    #[schema(schema_with = super::docs::timeline)]
    timeline: Vec<IncomingEvent>,
}

/// One conversation with its timeline
#[utoipa::path(get, path = "/conversations/{id}", tag = "Conversations", operation_id = "getConversation",
    params(("id" = String, Path, description = "Promptly's numeric id, or the conversation id (`external_id`) that the caller's integration gave it (a token's `source`). A person's session looks across integrations: an id that several of them use is a 409 naming them.")), responses((status = 200, description = "The conversation, its SLA evaluated now, and all its events ordered by `at`.", body = ConversationDetail), (status = 409, response = super::error::responses::Ambiguous)))]
async fn one(
    State(state): State<AppState>,
    crate::auth::Source(source): crate::auth::Source,
    Path(id): Path<String>,
) -> Api<ConversationDetail> {
    let store = state.store.as_ref();
    let row = find(store, source.as_deref(), &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let now = state.clock.now();
    let mut catalog = SlaCatalog::cached(&state, now).await?;
    let (conversation, timeline) = conversation_detail(store, &mut catalog, row, now).await?;
    Ok(Json(ConversationDetail {
        conversation,
        timeline,
    }))
}
