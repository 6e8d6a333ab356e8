//! `/api/v1/tokens`: integration tokens for channels and helpdesks (admins only). A token is
//! shown once, at creation; only its hash is kept.

use super::error::ApiError;
use crate::auth::{new_api_token, CurrentUser};
use crate::state::AppState;
use crate::store::ApiToken;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use chrono::Utc;
use promptly::account::Role;
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list).post(create))
        .route("/tokens/{id}", delete(revoke))
}

#[derive(Debug, Deserialize)]
struct NewToken {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: ApiToken,
    /// The token itself; shown only now.
    pub token: String,
}

/// Validates and creates a token (shared by the API and `promptly token create`).
pub async fn create_token(
    store: &dyn crate::store::Store,
    name: &str,
    role: Option<&str>,
    now: chrono::DateTime<Utc>,
) -> Result<CreatedToken, ApiError> {
    let mut errors = Vec::new();
    let name = promptly::account::validate_name(name).unwrap_or_else(|m| {
        errors.push(promptly::account::FieldError::new("name", m));
        String::new()
    });
    let role = match role.map(str::parse::<Role>).transpose() {
        Ok(r) => r.unwrap_or(Role::Admin),
        Err(m) => {
            errors.push(promptly::account::FieldError::new("role", m));
            Role::Admin
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Unprocessable { errors });
    }
    let (token, hash) = new_api_token();
    let info = store.create_api_token(&name, role, &hash, now).await?;
    Ok(CreatedToken { info, token })
}

async fn create(
    State(state): State<AppState>,
    body: Result<Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let body: NewToken = serde_json::from_value(super::object_body(body)?)
        .map_err(|e| ApiError::field("body", e.to_string()))?;
    let created = create_token(
        state.store.as_ref(),
        &body.name,
        body.role.as_deref(),
        state.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn list(State(state): State<AppState>) -> Result<Json<Vec<ApiToken>>, ApiError> {
    Ok(Json(state.store.list_api_tokens().await?))
}

/// Revokes a token. A token cannot revoke itself: an integration that did so would lock
/// itself out mid-run (like an admin deactivating their own account); another token or an
/// admin's session revokes it.
async fn revoke(
    State(state): State<AppState>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    super::Id(id): super::Id,
) -> Result<StatusCode, ApiError> {
    if id.checked_neg() == Some(me.id) {
        return Err(ApiError::Conflict(
            "a token cannot revoke itself; use another token or the admin page.".into(),
        ));
    }
    state.store.revoke_api_token(id, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
