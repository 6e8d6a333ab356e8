//! The conversation page's forms: reply (or private note), claim, assign, unassign, status
//! and priority. Each becomes an event in the conversation's timeline, exactly as if a
//! channel had sent it, and answers 303 back to the page.

use crate::auth::CurrentUser;
use crate::services;
use crate::state::AppState;
use crate::store::ConversationRow;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use promptly::conversation::{EventBody, IncomingEvent, Priority};
use promptly::limits::MESSAGE_TEXT_LEN;
use promptly::timeline::ConversationStatus;
use serde::Deserialize;

fn back(id: i64, query: &[(&str, &str)]) -> Response {
    let q = serde_urlencoded::to_string(query).unwrap_or_default();
    let sep = if q.is_empty() { "" } else { "?" };
    Redirect::to(&format!("/conversations/{id}{sep}{q}")).into_response()
}

/// The caller (an agent or an admin: the access table keeps managers out) and the
/// conversation.
async fn actor_and_conversation(
    state: &AppState,
    user: Option<Extension<CurrentUser>>,
    id: i64,
) -> Result<(String, ConversationRow), Response> {
    let Some(Extension(CurrentUser(me))) = user else {
        return Err(Redirect::to("/login").into_response());
    };
    match state.store.conversation(id).await {
        Ok(Some(row)) => Ok((me.email, row)),
        Ok(None) => Err((StatusCode::NOT_FOUND, "No such conversation.").into_response()),
        Err(e) => {
            tracing::error!(error = %e, "loading a conversation failed");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unavailable.",
            )
                .into_response())
        }
    }
}

/// Records `body` on `conversation` as an event of its own integration.
async fn record(
    state: &AppState,
    conversation: ConversationRow,
    body: EventBody,
    notice: &str,
) -> Response {
    let id = conversation.id;
    let event = IncomingEvent {
        id: services::conversations::new_event_id("ui"),
        conversation: conversation.external_id,
        at: state.clock.now(),
        body,
    };
    match services::conversations::ingest(state, &conversation.source, &[event]).await {
        Ok(_) => back(id, &[("notice", notice)]),
        Err(e) => {
            tracing::error!(error = %e, "recording a conversation change failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unavailable; nothing was changed.",
            )
                .into_response()
        }
    }
}

/// The queue's "Take next": the conversation with the nearest deadline becomes the caller's
/// (`services::conversations::take_next`), and its page opens; when nothing waits, back to
/// the queue, which says so.
pub(super) async fn take_next(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
) -> Response {
    let Some(Extension(CurrentUser(me))) = user else {
        return Redirect::to("/login").into_response();
    };
    match services::conversations::take_next(&state, &me).await {
        Ok(Some(row)) => back(row.id, &[("notice", "taken")]),
        Ok(None) => Redirect::to("/?notice=nothing-waiting").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "taking the next conversation failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unavailable; nothing was changed.",
            )
                .into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ReplyForm {
    #[serde(default)]
    text: String,
    /// A checkbox: present ("on") for a private note.
    #[serde(default)]
    private: Option<String>,
}

pub(super) async fn reply(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Path(id): Path<i64>,
    Form(form): Form<ReplyForm>,
) -> Result<Response, Response> {
    let (me, conversation) = actor_and_conversation(&state, user, id).await?;
    let text = promptly::schema::trim(&form.text);
    if text.is_empty() {
        return Err(back(id, &[("err_text", "Write a reply first.")]));
    }
    if text.chars().count() > MESSAGE_TEXT_LEN {
        return Err(back(id, &[("err_text", "The reply is too long.")]));
    }
    let private = form.private.is_some();
    match services::conversations::reply(&state, &conversation, Some(me), text, private).await {
        Ok(r) if r.sent => Ok(back(id, &[("notice", "sent")])),
        Ok(_) => Ok(back(
            id,
            &[("notice", if private { "noted" } else { "replied" })],
        )),
        Err(e) => {
            tracing::error!(error = %e, "recording a reply failed");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unavailable; nothing was changed.",
            )
                .into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct UpdateForm {
    action: String,
    #[serde(default)]
    value: String,
}

pub(super) async fn update(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Path(id): Path<i64>,
    Form(form): Form<UpdateForm>,
) -> Result<Response, Response> {
    let (me, conversation) = actor_and_conversation(&state, user, id).await?;
    let change = |status, priority, owner| EventBody::Updated {
        status,
        priority,
        owner,
        team: None,
        labels: None,
    };
    let value = form.value.trim();
    let body = match form.action.as_str() {
        "claim" => change(None, None, Some(Some(me))),
        "unassign" => change(None, None, Some(None)),
        "assign" => match promptly::account::validate_email(value) {
            Ok(email) => change(None, None, Some(Some(email))),
            Err(m) => return Err(back(id, &[("err_owner", m.as_str())])),
        },
        "status" => {
            let status = match value {
                "open" => ConversationStatus::Open,
                "pending" => ConversationStatus::Pending,
                "snoozed" => ConversationStatus::Snoozed,
                "resolved" => ConversationStatus::Resolved,
                _ => return Err(refused("Unknown status.")),
            };
            change(Some(status), None, None)
        }
        "priority" => match Priority::parse(value) {
            Some(p) => change(None, Some(p), None),
            None => return Err(refused("Unknown priority.")),
        },
        _ => return Err(refused("Unknown action.")),
    };
    Ok(record(&state, conversation, body, "updated").await)
}

/// A form value the page never sends: 422 in words.
fn refused(words: &'static str) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, words).into_response()
}
