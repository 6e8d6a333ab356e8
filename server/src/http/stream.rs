//! `/api/v1/stream`: server-sent events for signed-in browsers, with a heartbeat.

use super::error::ApiError;
use crate::auth::CurrentUser;
use crate::state::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Extension, Router};
use futures::stream::{self, Stream, StreamExt};
use promptly::stream::StreamEvent;
use std::convert::Infallible;
use std::time::Duration;
use tokio_stream::wrappers::{BroadcastStream, IntervalStream};

pub const HEARTBEAT: Duration = Duration::from_secs(15);

pub fn router() -> Router<AppState> {
    Router::new().route("/stream", get(stream_events))
}

fn to_sse(e: &StreamEvent) -> Event {
    Event::default()
        .event(e.name())
        .json_data(e)
        .unwrap_or_else(|_| Event::default().comment("unserialisable event"))
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn stream_events(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    if user.is_none() {
        return Err(ApiError::Unauthorized);
    }
    let hello = stream::once(async {
        Ok(to_sse(&StreamEvent::Hello {
            server_time: now_text(),
        }))
    });
    // A receiver that fell behind skips what it missed rather than closing the stream.
    let changes = BroadcastStream::new(state.events.subscribe())
        .filter_map(|r| async move { r.ok().map(|e| Ok(to_sse(&e))) });
    let mut interval = tokio::time::interval(HEARTBEAT);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let beats = IntervalStream::new(interval).skip(1).map(|_| {
        Ok(to_sse(&StreamEvent::Heartbeat {
            server_time: now_text(),
        }))
    });
    let body = hello.chain(stream::select(changes, beats));
    Ok(Sse::new(body).keep_alive(KeepAlive::new().interval(Duration::from_secs(30))))
}
