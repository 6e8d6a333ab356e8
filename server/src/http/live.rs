//! `GET /api/v1/live`: today's service level per interval, for everyone, each team, each
//! channel and each contract with a service-level metric (managers and admins).

use super::error::ApiError;
use super::{Api, Query};
use crate::services;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use promptly::compliance::{Board, IntervalLength};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/live", get(live))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct LiveQuery {
    /// Interval length in minutes: 15, 30 or 60.
    #[param(value_type = Option<IntervalLength>, default = 30)]
    interval: Option<String>,
}

/// Today's service level, live
///
/// "X % answered within Y" so far today (the day and its intervals in the time zone of the default policy's calendar, UTC without one), per interval, for everyone, each team, each channel (Y, target and formula of the first contract with a service-level metric, else 5 minutes and 80 %) and each such contract (its own, over its scope); a contact still waiting past Y counts as missed. With the band and its action, what waits now, the longest wait, today's breaches and the agents with open conversations.
#[utoipa::path(get, path = "/live", tag = "Compliance", operation_id = "getLive",
    params(LiveQuery), responses((status = 200, description = "The wallboard.", body = Board)))]
async fn live(State(state): State<AppState>, Query(q): Query<LiveQuery>) -> Api<Board> {
    let interval = match q.interval.as_deref() {
        None | Some("") => IntervalLength::Min30,
        Some(text) => text
            .parse::<IntervalLength>()
            .map_err(|e| ApiError::field("interval", e.to_string()))?,
    };
    Ok(Json(services::live::board(&state, interval).await?))
}
