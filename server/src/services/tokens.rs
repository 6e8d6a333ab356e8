//! Integration tokens: create one (shown once; only its hash is kept) and revoke one. The
//! JSON API, the users page's forms, `promptly token create`, the bench and the tests call
//! these.

use crate::auth::new_api_token;
use crate::http::error::ApiError;
use crate::store::{ApiToken, Store};
use chrono::Utc;
use promptly::account::Role;
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: ApiToken,
    /// The token itself (`pt_` and 43 characters); shown only now.
    pub token: String,
}

/// A token's role when none is asked for: the least that can post events and read the
/// queue. An integration never becomes an admin unless asked to.
pub const DEFAULT_TOKEN_ROLE: Role = Role::Agent;

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
        Ok(r) => r.unwrap_or(DEFAULT_TOKEN_ROLE),
        Err(m) => {
            errors.push(promptly::account::FieldError::new("role", m));
            DEFAULT_TOKEN_ROLE
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Unprocessable { errors });
    }
    let (token, hash) = new_api_token();
    let info = store.create_api_token(&name, role, &hash, now).await?;
    Ok(CreatedToken { info, token })
}

/// Revokes token `id` for `caller`. A token cannot revoke itself: an integration that did
/// so would lock itself out mid-run (like an admin deactivating their own account); another
/// token or an admin's session revokes it. A token caller's id is minus its token's id.
pub async fn revoke(
    store: &dyn Store,
    caller: &promptly::account::UserView,
    id: i64,
    now: chrono::DateTime<Utc>,
) -> Result<(), ApiError> {
    if id.checked_neg() == Some(caller.id) {
        return Err(ApiError::Conflict(
            "a token cannot revoke itself; use another token or the admin page.".into(),
        ));
    }
    Ok(store.revoke_api_token(id, now).await?)
}
