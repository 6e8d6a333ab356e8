//! `/api/v1/calendars`: business-hours calendars (admins edit; everyone signed in reads).
//! Bodies are the `sla check` calendar shape plus `name` and `description`.

use super::error::ApiError;
use super::require_user;
use crate::auth::CurrentUser;
use crate::services;
use crate::state::AppState;
use crate::store::CalendarRecord;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/calendars", get(list).post(create))
        .route("/calendars/{id}", get(one).put(update).delete(remove))
}

async fn list(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
) -> Result<Json<Vec<CalendarRecord>>, ApiError> {
    require_user(user)?;
    Ok(Json(state.store.list_calendars().await?))
}

async fn one(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    super::Id(id): super::Id,
) -> Result<Json<CalendarRecord>, ApiError> {
    require_user(user)?;
    Ok(Json(
        state.store.calendar(id).await?.ok_or(ApiError::NotFound)?,
    ))
}

async fn create(
    State(state): State<AppState>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<(StatusCode, Json<CalendarRecord>), ApiError> {
    let rec = services::calendars::create(&state, super::object_body(body)?).await?;
    Ok((StatusCode::CREATED, Json(rec)))
}

async fn update(
    State(state): State<AppState>,
    super::Id(id): super::Id,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<CalendarRecord>, ApiError> {
    Ok(Json(
        services::calendars::update(&state, id, super::object_body(body)?).await?,
    ))
}

async fn remove(
    State(state): State<AppState>,
    super::Id(id): super::Id,
) -> Result<StatusCode, ApiError> {
    services::calendars::delete(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
