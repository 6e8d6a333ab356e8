//! `/api/v1/tokens`: integration tokens for channels and helpdesks (admins only). A token is
//! shown once, at creation; only its hash is kept.

use super::error::ApiError;
use crate::auth::CurrentUser;
use crate::services::tokens::{create_token, CreatedToken};
use crate::state::AppState;
use crate::store::ApiToken;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list).post(create))
        .route("/tokens/{id}", delete(revoke))
}

/// A new integration token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct NewToken {
    #[serde(default)]
    #[schema(required = true, schema_with = promptly::schema::name)]
    name: String,
    /// Default (absent or null) `admin`.
    #[serde(default)]
    #[schema(value_type = Option<promptly::account::Role>)]
    role: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    body: Result<Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let body: NewToken = super::typed_body(body)?;
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

async fn revoke(
    State(state): State<AppState>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    super::Id(id): super::Id,
) -> Result<StatusCode, ApiError> {
    crate::services::tokens::revoke(state.store.as_ref(), &me, id, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
