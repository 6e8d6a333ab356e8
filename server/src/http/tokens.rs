//! `/api/v1/tokens`: integration tokens for channels and helpdesks (admins only). A token is
//! shown once, at creation; only its hash is kept.

use super::error::responses;
use super::error::ApiError;
use super::{Api, Id, Typed, WithStatus};
use crate::auth::CurrentUser;
use crate::services::tokens::{create_token, CreatedToken, Grant};
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
    /// The integration it sends for: event and conversation ids are unique per source, and
    /// the tokens of one source share them (a replacement token takes its predecessor's).
    /// Absent or blank: the name. `default` is where what was sent before sources existed
    /// lives.
    #[serde(default)]
    #[schema(schema_with = promptly::schema::optional_name)]
    source: Option<String>,
    /// What the token may do. Absent (and no `role`): `["events:write"]`, posting events
    /// and no more. `admin` grants every scope.
    #[serde(default)]
    #[schema(value_type = Option<Vec<promptly::account::Scope>>, min_items = 1)]
    scopes: Option<Vec<String>>,
    /// Shorthand for a role's scopes (what a user of that role may do through the API);
    /// not together with `scopes`.
    #[serde(default)]
    #[schema(value_type = Option<promptly::account::Role>)]
    role: Option<String>,
}

/// Create an integration token
///
/// The answer holds the token itself, the only time it is shown.
#[utoipa::path(post, path = "/tokens", tag = "Tokens", operation_id = "createToken",
    request_body = NewToken, responses((status = 201, description = "The token was created.", body = crate::services::tokens::CreatedToken)))]
async fn create(
    State(state): State<AppState>,
    Typed(body): Typed<NewToken>,
) -> WithStatus<CreatedToken> {
    let grant = Grant {
        source: body.source.as_deref(),
        role: body.role.as_deref(),
        scopes: body.scopes.as_deref(),
    };
    let created = create_token(state.store.as_ref(), &body.name, grant, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// List integration tokens
///
/// All tokens, revoked ones included (without the secret).
#[utoipa::path(get, path = "/tokens", tag = "Tokens", operation_id = "listTokens",
    responses((status = 200, description = "The tokens.", body = Vec<crate::store::ApiToken>)))]
async fn list(State(state): State<AppState>) -> Api<Vec<ApiToken>> {
    Ok(Json(state.store.list_api_tokens().await?))
}

/// Revoke a token
///
/// Requests with the token get 401 from then on. A token cannot revoke itself (409).
#[utoipa::path(delete, path = "/tokens/{id}", tag = "Tokens", operation_id = "revokeToken",
    params(super::Id), responses((status = 204, description = "The token is revoked."), (status = 409, response = responses::Conflict)))]
async fn revoke(
    State(state): State<AppState>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    crate::services::tokens::revoke(state.store.as_ref(), &me, id, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
