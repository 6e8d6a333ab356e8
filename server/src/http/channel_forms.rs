//! The Channels page's forms: add or change an account (`POST /channels`,
//! `/channels?edit={id}`), delete one, send a test message. Each form becomes the JSON body of
//! `/api/v1/channel-accounts` and goes to the same service (`services::channels`); the
//! answer is 303 back to the page with a notice, or 422 with the page showing what was
//! typed and the field errors (`http::form_echo`).

use super::admin_forms::save_failed;
use super::error::ApiError;
use super::form_echo::Editing;
use super::{see_other, unavailable};
use crate::services::channels::{self, Tested};
use crate::state::AppState;
use axum::extract::{Form, Path, Query, State};
use axum::response::Response;
use promptly::account::FieldError;
use serde_json::{json, Map, Value};

const PAGE: &str = "/channels";

/// The form's fields (`kind`, `name`, `settings.<name>`) as the API's body.
fn body_of(fields: &[(String, String)]) -> Value {
    let mut settings = Map::new();
    let mut body = Map::new();
    for (k, v) in fields {
        match k.strip_prefix("settings.") {
            Some(name) => {
                settings.insert(name.to_string(), json!(v));
            }
            None if k == "kind" || k == "name" => {
                body.insert(k.clone(), json!(v));
            }
            None => {}
        }
    }
    body.insert("settings".into(), Value::Object(settings));
    Value::Object(body)
}

/// An API error's field as the form's: the form's fields have the API's paths.
fn form_field(e: &FieldError) -> (String, String) {
    let known = e.field == "kind" || e.field == "name" || e.field.starts_with("settings.");
    let key = if known { e.field.as_str() } else { "form" };
    (format!("err_{key}"), e.message.clone())
}

/// Adds an account, or changes the one `edit` names.
pub(super) async fn save(
    State(state): State<AppState>,
    Query(Editing { edit: id }): Query<Editing>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let body = body_of(&fields);
    let saved = match id {
        None => channels::create(&state, &body).await,
        Some(id) => channels::update(&state, id, &body).await,
    };
    match saved {
        Ok(rec) => see_other(
            PAGE,
            &[
                ("notice", if id.is_some() { "updated" } else { "created" }),
                ("name", rec.definition.name.as_str()),
            ],
        ),
        Err(e) => {
            let typed: Vec<(&str, String)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            save_failed(PAGE, id, typed, e, form_field)
        }
    }
}

pub(super) async fn delete(State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    match state.store.channel_account(id).await {
        Ok(Some(_)) => {}
        Ok(None) => return see_other(PAGE, &[("error", "not_found")]),
        Err(e) => return unavailable(e),
    }
    match channels::delete(&state, id).await {
        Ok(()) => see_other(PAGE, &[("notice", "deleted")]),
        Err(ApiError::NotFound) => see_other(PAGE, &[("error", "not_found")]),
        Err(e) => unavailable(e),
    }
}

/// "Send a test message": a signed sample through the account's own webhook.
pub(super) async fn test(State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    match channels::send_test(&state, id).await {
        Ok(Tested::Arrived(conversation)) => {
            let id = conversation.map(|c| c.to_string()).unwrap_or_default();
            see_other(PAGE, &[("notice", "tested"), ("conversation", &id)])
        }
        Ok(Tested::Refused(401)) => see_other(PAGE, &[("error", "test_signature")]),
        Ok(Tested::Refused(_)) => see_other(PAGE, &[("error", "test_refused")]),
        Err(ApiError::NotFound) => see_other(PAGE, &[("error", "not_found")]),
        Err(e) => unavailable(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::form_pairs;

    #[test]
    fn the_form_is_the_apis_body() {
        let fields = form_pairs(&[
            ("kind", "whatsapp"),
            ("name", "Support line"),
            ("settings.phone_number_id", "123"),
            ("settings.app_secret", "********"),
            ("other", "ignored"),
        ]);
        assert_eq!(
            body_of(&fields),
            json!({"kind": "whatsapp", "name": "Support line",
                   "settings": {"phone_number_id": "123", "app_secret": "********"}})
        );
        let e = FieldError::new("settings.app_secret", "is required");
        assert_eq!(
            form_field(&e),
            ("err_settings.app_secret".into(), "is required".into())
        );
        assert_eq!(
            form_field(&FieldError::new("settings", "must be an object")).0,
            "err_form"
        );
    }
}
