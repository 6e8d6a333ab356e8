//! Calendars: create, change, delete. The JSON API, the calendars page's forms and the demo
//! seed all call these with the API's body shape.

use crate::http::error::ApiError;
use crate::services::audit;
use crate::state::AppState;
use crate::store::{CalendarInput, CalendarRecord};
use promptly::account::FieldError;
use promptly::audit::Entity;
use promptly::{BusinessCalendar, CalendarDefinition};

/// Takes `name` and `description` off a body; returns them and the rest.
pub fn named(
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
pub fn with_path<T: serde::de::DeserializeOwned>(
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
pub fn parse(body: serde_json::Value) -> Result<CalendarInput, ApiError> {
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

/// Creates a calendar from an API body.
pub async fn create(state: &AppState, body: serde_json::Value) -> Result<CalendarRecord, ApiError> {
    let input = parse(body)?;
    let rec = state
        .store
        .create_calendar(&input, state.clock.now())
        .await?;
    audit::record_id(
        state,
        Entity::Calendar,
        rec.id,
        "create",
        audit::NONE,
        Some(&rec),
    )
    .await;
    Ok(rec)
}

/// Replaces a calendar's name, description and hours.
pub async fn update(
    state: &AppState,
    id: i64,
    body: serde_json::Value,
) -> Result<CalendarRecord, ApiError> {
    let input = parse(body)?;
    let before = state.store.calendar(id).await?;
    let rec = state
        .store
        .update_calendar(id, &input, state.clock.now())
        .await?;
    audit::record_id(
        state,
        Entity::Calendar,
        id,
        "update",
        before.as_ref(),
        Some(&rec),
    )
    .await;
    Ok(rec)
}

/// Deletes a calendar no policy's current version uses (409 otherwise).
pub async fn delete(state: &AppState, id: i64) -> Result<(), ApiError> {
    let before = state.store.calendar(id).await?;
    state.store.delete_calendar(id).await?;
    audit::record_id(
        state,
        Entity::Calendar,
        id,
        "delete",
        before.as_ref(),
        audit::NONE,
    )
    .await;
    Ok(())
}
