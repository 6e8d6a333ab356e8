//! Integration tokens: create one (shown once; only its hash is kept) and revoke one. The
//! JSON API, the users page's forms, `promptly token create`, the bench and the tests call
//! these.

use crate::auth::new_api_token;
use crate::http::error::ApiError;
use crate::services::audit;
use crate::store::{ApiToken, Store};
use chrono::Utc;
use promptly::account::{FieldError, Role, Scope, Scopes};
use promptly::audit::Entity;
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: ApiToken,
    /// The token itself (`pt_` and 43 characters); shown only now.
    pub token: String,
}

/// What a new token may do, as its creator asked: a role's scopes (the shorthand), a list
/// of scopes, or neither ([`Scopes::DEFAULT`]: post events, no more; never admin).
#[derive(Debug, Clone, Default)]
pub struct Grant<'a> {
    /// The integration's id namespace; `None` or blank: the token's name.
    pub source: Option<&'a str>,
    pub role: Option<&'a str>,
    /// `None`: not asked for; `Some(empty)`: refused (a token needs at least one).
    pub scopes: Option<&'a [String]>,
}

/// Validates and creates a token (shared by the API, the users page's form and
/// `promptly token create`).
pub async fn create_token(
    store: &dyn crate::store::Store,
    name: &str,
    grant: Grant<'_>,
    now: chrono::DateTime<Utc>,
) -> Result<CreatedToken, ApiError> {
    let mut errors = Vec::new();
    let name = promptly::account::validate_name(name).unwrap_or_else(|m| {
        errors.push(FieldError::new("name", m));
        String::new()
    });
    let source = match grant.source.filter(|s| !s.trim().is_empty()) {
        Some(s) => promptly::account::validate_name(s).unwrap_or_else(|m| {
            errors.push(FieldError::new("source", m));
            String::new()
        }),
        None => name.clone(),
    };
    let role = match grant
        .role
        .filter(|r| !r.trim().is_empty())
        .map(str::parse::<Role>)
    {
        Some(Ok(r)) => Some(r),
        Some(Err(m)) => {
            errors.push(FieldError::new("role", m));
            None
        }
        None => None,
    };
    let scopes = match (
        grant.scopes,
        grant.role.is_some_and(|r| !r.trim().is_empty()),
    ) {
        (Some(list), true) if !list.is_empty() => {
            errors.push(FieldError::new(
                "scopes",
                "give scopes or a role (which stands for its scopes), not both",
            ));
            Scopes::DEFAULT
        }
        (Some([]), false) => {
            errors.push(FieldError::new(
                "scopes",
                "a token needs at least one scope",
            ));
            Scopes::DEFAULT
        }
        (Some(list), false) => {
            let mut parsed = Vec::new();
            for (i, s) in list.iter().enumerate() {
                match s.parse::<Scope>() {
                    Ok(scope) => parsed.push(scope),
                    Err(m) => errors.push(FieldError::new(format!("scopes[{i}]"), m)),
                }
            }
            Scopes::of(parsed)
        }
        _ => role.map(Scopes::of_role).unwrap_or(Scopes::DEFAULT),
    };
    if !errors.is_empty() {
        return Err(ApiError::Unprocessable { errors });
    }
    let (token, hash) = new_api_token();
    let info = store
        .create_api_token(&name, &source, scopes, &hash, now)
        .await?;
    log(store, now, info.id, "create", None, Some(&info)).await;
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
    store.revoke_api_token(id, now).await?;
    let after = store
        .list_api_tokens()
        .await?
        .into_iter()
        .find(|t| t.id == id);
    log(store, now, id, "revoke", None, after.as_ref()).await;
    Ok(())
}

/// Records a change to token `id` in the audit log (the token itself is never kept).
async fn log(
    store: &dyn Store,
    now: chrono::DateTime<Utc>,
    id: i64,
    action: &str,
    before: Option<&ApiToken>,
    after: Option<&ApiToken>,
) {
    let change = audit::Change {
        entity: Entity::Token,
        id: Some(id.to_string()),
        action,
        before,
        after,
    };
    audit::append(store, now, change).await;
}
