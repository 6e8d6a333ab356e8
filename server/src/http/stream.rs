//! `/api/v1/stream`: server-sent events for signed-in browsers and tokens, with a heartbeat.
//! Each change carries an `id:`; a browser that reconnects with `Last-Event-ID` first gets
//! the kept events it missed.

use super::error::ApiError;
use crate::auth::CurrentUser;
use crate::state::{AppState, Sequenced};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Extension, Router};
use futures::stream::{self, Stream, StreamExt};
use promptly::stream::StreamEvent;
use std::convert::Infallible;
use std::time::Duration;
use tokio_stream::wrappers::{BroadcastStream, IntervalStream};

pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// Where the stream is served, under the API's base (the concurrency guard counts streams
/// apart; `http::requests_beyond_the_limit_wait_then_are_told_to_retry` checks the two
/// agree).
pub const PATH: &str = "/api/v1/stream";

pub fn router() -> Router<AppState> {
    Router::new().route("/stream", get(stream_events))
}

fn to_sse(e: &StreamEvent) -> Event {
    Event::default()
        .event(e.name())
        .json_data(e)
        .unwrap_or_else(|_| Event::default().comment("unserialisable event"))
}

/// A change as its SSE message: the JSON serialised once when it was published (thousands
/// of streams send the same text).
fn sequenced(s: &Sequenced) -> Event {
    Event::default()
        .event(s.event.name())
        .data(&*s.json)
        .id(s.seq.to_string())
}

/// The server's time (its clock), which browsers compare with theirs.
fn now_text(state: &AppState) -> String {
    state
        .clock
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Live events (server-sent events)
///
/// A `text/event-stream` that stays open. Each message has an `event:` name and a JSON `data:` line whose `type` repeats the name:
///
/// - `hello`: sent once at once, `{"type": "hello", "server_time": "...", "seq": 41}`; every change numbered above `seq` follows.
/// - `heartbeat`: every 15 seconds, `{"type": "heartbeat", "server_time": "..."}`.
/// - `conversation`: a conversation was created or changed, `{"type": "conversation", "conversation": {...}}` with its SLA; these carry an `id:` (a sequence number).
/// - `notification`: a notification for the signed-in user, `{"type": "notification", "user_id": 3, "notification": {...}}` (a stream carries only its own user's); these have no `id:` and are not sent again on reconnecting (`GET /api/v1/notifications` lists them).
///
/// A client that reconnects with `Last-Event-ID` first gets the kept `conversation` events after that id, then live ones. A comment line keeps idle connections open.
///
/// The stream lasts as long as the credential that opened it: checked again at every heartbeat, it ends after logout, deactivation or the token's revocation.
#[utoipa::path(get, path = "/stream", tag = "Stream", operation_id = "stream",
    params(("Last-Event-ID" = Option<String>, Header, description = "The `id:` of the last event received; the events missed since are sent first. Anything but a whole number starts afresh.")), responses((status = 200, description = "The event stream.", body = super::docs::StreamFrame, content_type = "text/event-stream")))]
async fn stream_events(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    if user.is_none() {
        return Err(ApiError::Unauthorized);
    }
    let last_seen = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (missed, rx, complete_after) = state.subscribe_after(last_seen);
    let check_state = state.clone();
    let shutdown = state.shutdown_signal();
    let after = missed.last().map_or(complete_after, |m| m.seq);
    let hello_time = now_text(&state);
    let hello = stream::once(async move {
        Ok(to_sse(&StreamEvent::Hello {
            server_time: hello_time,
            seq: complete_after,
        }))
    });
    let me = user.as_ref().map_or(0, |Extension(CurrentUser(u))| u.id);
    let catch_up = stream::iter(missed.into_iter().map(|m| Ok(sequenced(&m))));
    let mine = BroadcastStream::new(state.personal.subscribe()).filter_map(move |r| async move {
        match r {
            Ok((user, json)) if user == me => Some(Ok(Event::default()
                .event(StreamEvent::NOTIFICATION)
                .data(&*json))),
            _ => None,
        }
    });
    // A receiver that fell behind skips what it lagged over (the browser reloads the queue
    // on a gap) rather than closing the stream; events already caught up are not repeated.
    let changes = BroadcastStream::new(rx).filter_map(move |r| async move {
        match r {
            Ok(s) if s.seq > after => Some(Ok(sequenced(&s))),
            _ => None,
        }
    });
    // The heartbeat's period is transport (a real interval); the time it carries is the
    // server's clock.
    let mut interval = tokio::time::interval(HEARTBEAT);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let beats = IntervalStream::new(interval).skip(1).map(move |_| {
        Ok(to_sse(&StreamEvent::Heartbeat {
            server_time: now_text(&state),
        }))
    });
    // The stream lasts as long as the credential that opened it: checked again at every
    // heartbeat, it ends on logout, deactivation or revocation.
    let me_checked = user.map(|Extension(CurrentUser(u))| u.id);
    let ended = async move {
        let mut every = tokio::time::interval(HEARTBEAT);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        loop {
            every.tick().await;
            match crate::auth::caller_of(&check_state, &headers).await {
                Ok(Some((u, ..))) if Some(u.id) == me_checked && u.active => {}
                // A database that is down does not end streams; the next beat asks again.
                Err(Some(_)) => {}
                _ => return,
            }
        }
    };
    let body = hello
        .chain(catch_up)
        .chain(stream::select(stream::select(changes, mine), beats))
        .take_until(futures::future::select(Box::pin(ended), Box::pin(shutdown)));
    Ok(Sse::new(body).keep_alive(KeepAlive::new().interval(Duration::from_secs(30))))
}
