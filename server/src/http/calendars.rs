//! `/api/v1/calendars`: business-hours calendars (admins edit; everyone signed in reads).
//! Bodies are the `sla check` calendar shape plus `name` and `description`.

use super::error::ApiError;
use super::{json_body, require_user};
use crate::auth::CurrentUser;
use crate::state::AppState;
use crate::store::{CalendarInput, CalendarRecord};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use promptly::account::FieldError;
use promptly::{BusinessCalendar, CalendarDefinition};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/calendars", get(list).post(create))
        .route("/calendars/{id}", get(one).put(update).delete(remove))
}

/// Takes `name` and `description` off a body; returns them and the rest.
pub(crate) fn named(
    mut body: serde_json::Value,
    errors: &mut Vec<FieldError>,
) -> (String, String, serde_json::Value) {
    let Some(obj) = body.as_object_mut() else {
        errors.push(FieldError::new("body", "must be a JSON object"));
        return (String::new(), String::new(), body);
    };
    let text = |v: Option<serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => s,
        _ => String::new(),
    };
    let name = promptly::account::validate_name(&text(obj.remove("name"))).unwrap_or_else(|m| {
        errors.push(FieldError::new("name", m));
        String::new()
    });
    let description = match obj.remove("description") {
        None | Some(serde_json::Value::Null) => Ok(String::new()),
        Some(serde_json::Value::String(s)) => promptly::account::validate_description(&s),
        Some(_) => Err(promptly::account::description_error()),
    }
    .unwrap_or_else(|m| {
        errors.push(FieldError::new("description", m));
        String::new()
    });
    (name, description, body)
}

/// Deserialises with the failing field's path (`hours.tue[1]`).
pub(crate) fn with_path<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    prefix: &str,
) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = match (prefix.is_empty(), path.as_str()) {
            (true, ".") => "body".to_string(),
            (true, p) => p.to_string(),
            (false, ".") => prefix.to_string(),
            (false, p) => format!("{prefix}.{p}"),
        };
        FieldError::new(field, e.into_inner().to_string())
    })
}

/// Validates a calendar body (the API's and the calendars page's form, once turned into JSON).
pub(crate) fn parse(body: serde_json::Value) -> Result<CalendarInput, ApiError> {
    let mut errors = Vec::new();
    let (name, description, rest) = named(body, &mut errors);
    let definition = match with_path::<CalendarDefinition>(rest, "") {
        Ok(d) => match BusinessCalendar::new(d.clone()) {
            Ok(_) => Some(d),
            Err(e) => {
                errors.push(FieldError::new(e.field, e.message));
                None
            }
        },
        Err(e) => {
            errors.push(e);
            None
        }
    };
    match definition {
        Some(definition) if errors.is_empty() => Ok(CalendarInput {
            name,
            description,
            definition,
        }),
        _ => Err(ApiError::Unprocessable { errors }),
    }
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
    Path(id): Path<i64>,
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
    let input = parse(json_body(body)?)?;
    let rec = state
        .store
        .create_calendar(&input, state.clock.now())
        .await?;
    Ok((StatusCode::CREATED, Json(rec)))
}

async fn update(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<CalendarRecord>, ApiError> {
    let input = parse(json_body(body)?)?;
    Ok(Json(
        state
            .store
            .update_calendar(id, &input, state.clock.now())
            .await?,
    ))
}

async fn remove(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_calendar(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
