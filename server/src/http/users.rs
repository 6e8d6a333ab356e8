//! `/api/v1/me` and `/api/v1/users`: translate to and from the account services
//! (`services::accounts`).

use super::error::responses;
use super::error::ApiError;
use super::{created, Api, Id, Typed, WithStatus};
use crate::auth::CurrentUser;
use crate::services::accounts::{change_role, create_user, set_active, NewUserFields};
use crate::state::AppState;
use crate::store::User;
use axum::extract::State;
use axum::routing::{get, patch};
use axum::{Extension, Json, Router};
use promptly::account::{Role, UserView};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me))
        .route("/users", get(list).post(create))
        .route("/users/{id}", patch(update).get(one))
}

use super::require_user;

/// Who is asking
///
/// The signed-in user, or for a token a pseudo-user with a negative `id`, `email` `token:NAME` and the token's role.
#[utoipa::path(get, path = "/me", tag = "Users", operation_id = "getMe",
    responses((status = 200, description = "The user or token.", body = promptly::account::UserView)))]
async fn me(user: Option<Extension<CurrentUser>>) -> Api<UserView> {
    Ok(Json(require_user(user)?))
}

/// List users
///
/// All users, ordered by e-mail.
#[utoipa::path(get, path = "/users", tag = "Users", operation_id = "listUsers",
    responses((status = 200, description = "The users.", body = Vec<promptly::account::UserView>)))]
async fn list(State(state): State<AppState>) -> Api<Vec<UserView>> {
    let users = state.store.list_users().await?;
    Ok(Json(users.iter().map(User::view).collect()))
}

/// One user
#[utoipa::path(get, path = "/users/{id}", tag = "Users", operation_id = "getUser",
    params(super::Id), responses((status = 200, description = "The user.", body = promptly::account::UserView)))]
async fn one(State(state): State<AppState>, Id(id): Id) -> Api<UserView> {
    view(&state, id).await
}

/// The user with this id as the API shows it.
async fn view(state: &AppState, id: i64) -> Api<UserView> {
    let u = state
        .store
        .user_by_id(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(u.view()))
}

/// Create a user
///
/// The e-mail must be unique; the password 8 to 128 characters.
#[utoipa::path(post, path = "/users", tag = "Users", operation_id = "createUser",
    request_body = crate::services::accounts::NewUserFields, responses((status = 201, description = "The user was created.", body = promptly::account::UserView), (status = 409, response = responses::Taken)))]
async fn create(
    State(state): State<AppState>,
    Typed(body): Typed<NewUserFields>,
) -> WithStatus<UserView> {
    let u = create_user(state.store.as_ref(), &body, state.clock.now()).await?;
    created(u.view())
}

/// A change to a user: either or both.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct UserPatch {
    /// Absent or null: unchanged.
    #[schema(value_type = Option<promptly::account::Role>)]
    role: Option<String>,
    /// Absent or null: unchanged.
    active: Option<bool>,
}

/// Change a user's role or deactivate/activate them
///
/// Deactivating ends the user's sessions at once. There must remain at least one active admin, and you cannot deactivate yourself (409).
#[utoipa::path(patch, path = "/users/{id}", tag = "Users", operation_id = "updateUser",
    params(super::Id), request_body = UserPatch, responses((status = 200, description = "The user after the change.", body = promptly::account::UserView), (status = 409, response = responses::Conflict)))]
async fn update(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Id(id): Id,
    Typed(body): Typed<UserPatch>,
) -> Api<UserView> {
    let actor = require_user(user)?;
    let role = body
        .role
        .as_deref()
        .map(str::parse::<Role>)
        .transpose()
        .map_err(|m| ApiError::field("role", m))?;
    if let Some(role) = role {
        change_role(state.store.as_ref(), id, role).await?;
    }
    if let Some(active) = body.active {
        set_active(state.store.as_ref(), &actor, id, active).await?;
    }
    view(&state, id).await
}
