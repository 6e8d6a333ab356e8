//! `POST /api/v1/events`: what messaging channels and helpdesks send. One event or
//! `{"events": [...]}` (up to 1,000); a batch with an invalid event is refused whole.

use super::error::ApiError;
use super::{Api, JsonBody};
use crate::services;
use crate::state::AppState;
use crate::store::IngestOutcome;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use promptly::limits::EVENT_BATCH;
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/events", post(ingest))
}

/// What became of one event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct EventResult {
    /// The event's id.
    id: String,
    #[serde(flatten)]
    outcome: IngestOutcome,
}

/// What became of a batch's events, in its order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct IngestReply {
    accepted: usize,
    duplicates: usize,
    results: Vec<EventResult>,
}

/// Send conversation events
///
/// One event, or `{"events": [...]}` with 1 to 1,000 events. A batch with an invalid event is refused whole, with every problem's path (`events[3].channel`). An event's `at` must lie within the server's window around its time (by default 7 days before to 5 minutes after; `PROMPTLY_EVENT_WINDOW_BACK` and `_AHEAD`), else 422 naming `events[i].at`. A conversation keeps a bounded number of events and of survey answers: past either, its events get 422 naming `events[i].conversation` and the channel starts a new conversation. Event and conversation ids are the sending integration's own (its token's `source`; tokens of one source share them): an event whose `id` the source sent before is acknowledged as a duplicate and ignored, and a `conversation` id the source has not used is a new conversation, created with the default policy. Integration tokens with `events:write`.
#[utoipa::path(post, path = "/events", tag = "Events", operation_id = "ingestEvents",
    request_body = super::docs::EventsBody, responses((status = 200, description = "What happened to each event, in the request's order.", body = IngestReply)))]
async fn ingest(
    State(state): State<AppState>,
    crate::auth::Source(source): crate::auth::Source,
    JsonBody(body): JsonBody,
) -> Api<IngestReply> {
    let now = state.clock.now();
    let (items, prefix): (Vec<&serde_json::Value>, bool) = match body.get("events") {
        Some(serde_json::Value::Array(items)) => (items.iter().collect(), true),
        Some(_) => return Err(ApiError::field("events", "must be a list of events")),
        None => (vec![&body], false),
    };
    if items.is_empty() {
        return Err(ApiError::field("events", "must hold at least one event"));
    }
    if items.len() > EVENT_BATCH {
        return Err(ApiError::field(
            "events",
            format!("at most {EVENT_BATCH} events per request"),
        ));
    }
    let events = services::conversations::read_events(&state, &items, prefix, now)
        .map_err(|errors| ApiError::Unprocessable { errors })?;
    // Only tokens may post (the access table); one without a source would send as the
    // default integration.
    let source = source.as_deref();
    let source = source.unwrap_or(promptly::conversation::DEFAULT_SOURCE);
    let outcomes = services::conversations::ingest(&state, source, &events)
        .await
        .map_err(|e| match e {
            // A single event's fields have no `events[0].` in front.
            crate::store::StoreError::Refused(mut errors) if !prefix => {
                for e in &mut errors {
                    e.field = e.field.trim_start_matches("events[0].").to_string();
                }
                ApiError::Unprocessable { errors }
            }
            e => e.into(),
        })?;
    let accepted = outcomes
        .iter()
        .filter(|o| matches!(o, IngestOutcome::Accepted { .. }))
        .count();
    Ok(Json(IngestReply {
        accepted,
        duplicates: outcomes.len() - accepted,
        results: events
            .into_iter()
            .zip(outcomes)
            .map(|(e, outcome)| EventResult { id: e.id, outcome })
            .collect(),
    }))
}
