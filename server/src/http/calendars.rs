//! `/api/v1/calendars`: business-hours calendars (admins edit; everyone signed in reads).
//! Bodies are the `sla check` calendar shape plus `name` and `description`.

use super::error::responses;
use super::error::ApiError;
use super::{created, found, Api, Id, Object, WithStatus};
use crate::services;
use crate::state::AppState;
use crate::store::CalendarRecord;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/calendars", get(list).post(create))
        .route("/calendars/{id}", get(one).put(update).delete(remove))
}

/// List calendars
///
/// Ordered by name, then id. Any signed-in role.
#[utoipa::path(get, path = "/calendars", tag = "Calendars", operation_id = "listCalendars",
    responses((status = 200, description = "The calendars.", body = Vec<crate::store::CalendarRecord>)))]
async fn list(State(state): State<AppState>) -> Api<Vec<CalendarRecord>> {
    Ok(Json(state.store.list_calendars().await?))
}

/// One calendar
#[utoipa::path(get, path = "/calendars/{id}", tag = "Calendars", operation_id = "getCalendar",
    params(super::Id), responses((status = 200, description = "The calendar.", body = crate::store::CalendarRecord)))]
async fn one(State(state): State<AppState>, Id(id): Id) -> Api<CalendarRecord> {
    found(state.store.calendar(id).await?)
}

/// Create a calendar
///
/// The body is the `sla check` calendar shape plus `name` and `description`.
#[utoipa::path(post, path = "/calendars", tag = "Calendars", operation_id = "createCalendar",
    request_body = super::docs::CalendarInput, responses((status = 201, description = "The calendar was created.", body = crate::store::CalendarRecord)))]
async fn create(State(state): State<AppState>, Object(body): Object) -> WithStatus<CalendarRecord> {
    created(services::calendars::create(&state, body).await?)
}

/// Replace a calendar
///
/// Same body as creation.
#[utoipa::path(put, path = "/calendars/{id}", tag = "Calendars", operation_id = "updateCalendar",
    params(super::Id), request_body = super::docs::CalendarInput, responses((status = 200, description = "The calendar after the change.", body = crate::store::CalendarRecord)))]
async fn update(
    State(state): State<AppState>,
    Id(id): Id,
    Object(body): Object,
) -> Api<CalendarRecord> {
    Ok(Json(services::calendars::update(&state, id, body).await?))
}

/// Delete a calendar
///
/// Refused (409) while the current version of a policy uses it.
#[utoipa::path(delete, path = "/calendars/{id}", tag = "Calendars", operation_id = "deleteCalendar",
    params(super::Id), responses((status = 204, description = "The calendar is deleted."), (status = 409, response = responses::Conflict)))]
async fn remove(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    services::calendars::delete(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
