//! `/api/v1/me` and `/api/v1/users`: translate to and from the account services
//! (`services::accounts`).

use super::error::responses;
use super::error::ApiError;
use super::{created, Api, Id, Typed, WithStatus};
use crate::auth::CurrentUser;
use crate::services::accounts::{
    change_own_password, change_role, create_user, reset_password, set_active, set_own_timezone,
    NewUserFields, PasswordChange, PasswordReset,
};
use crate::state::AppState;
use crate::store::User;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, patch, put};
use axum::{Extension, Json, Router};
use promptly::account::{Role, UserView};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me).patch(update_me))
        .route("/me/password", put(change_password))
        .route("/users", get(list).post(create))
        .route("/users/{id}", patch(update).get(one))
        .route("/users/{id}/password", put(reset))
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

/// A change to your own settings.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MePatch)]
pub(crate) struct MePatch {
    /// The IANA time zone the pages show times in, e.g. `Europe/Amsterdam`; null: none (the
    /// browser's, else UTC). Absent: unchanged.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<promptly::calendar::Timezone>)]
    timezone: Option<Option<String>>,
}

/// A field that is present, null or not: `Some(None)` for null, to tell it from absent.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Change your settings
///
/// Your time zone: the pages show every time in it (with its abbreviation); the API's instants stay in UTC. An unknown zone is refused (422) and nothing changes.
#[utoipa::path(patch, path = "/me", tag = "Users", operation_id = "updateMe",
    request_body = MePatch, responses((status = 200, description = "You after the change.", body = promptly::account::UserView)))]
async fn update_me(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Typed(body): Typed<MePatch>,
) -> Api<UserView> {
    let me = require_user(user)?;
    match body.timezone {
        Some(zone) => {
            let now = state.clock.now();
            Ok(Json(
                set_own_timezone(state.store.as_ref(), &me, zone.as_deref(), now).await?,
            ))
        }
        None => view(&state, me.id).await,
    }
}

/// Change your password
///
/// With the current one. Your other sessions end (this one goes on), and a forced change (after a reset, or the first admin's printed password) is lifted. Wrong current passwords are throttled as sign-ins are.
#[utoipa::path(put, path = "/me/password", tag = "Users", operation_id = "changePassword",
    request_body = PasswordChange, responses((status = 204, description = "The password is changed.")))]
async fn change_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    user: Option<Extension<CurrentUser>>,
    Typed(body): Typed<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let me = require_user(user)?;
    let client = crate::auth::client_ip(peer.ip(), &headers, &state.trusted_proxies);
    let session = crate::auth::session_hash(&headers);
    change_own_password(&state, &me, &body, session.as_deref(), client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reset a user's password
///
/// Sets a temporary password: the user's sessions end, and they must choose a new password when they next sign in. Not your own (409): change yours with `PUT /me/password`.
#[utoipa::path(put, path = "/users/{id}/password", tag = "Users", operation_id = "resetPassword",
    params(super::Id), request_body = PasswordReset, responses((status = 204, description = "The password is reset."), (status = 409, response = responses::Conflict)))]
async fn reset(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Id(id): Id,
    Typed(body): Typed<PasswordReset>,
) -> Result<StatusCode, ApiError> {
    let actor = require_user(user)?;
    reset_password(&state, &actor, id, &body).await?;
    Ok(StatusCode::NO_CONTENT)
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
    /// The teams the user works in ("take next" draws from them; from every team for a user
    /// in none). Absent or null: unchanged.
    #[schema(value_type = Option<Vec<String>>)]
    teams: Option<Vec<String>>,
}

/// Change a user's role or teams, or deactivate/activate them
///
/// Teams: at most 20, each at most 100 characters, trimmed, each once. Deactivating ends the user's sessions at once. There must remain at least one active admin, and you cannot deactivate yourself (409).
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
        change_role(state.store.as_ref(), id, role, state.clock.now()).await?;
    }
    if let Some(active) = body.active {
        set_active(state.store.as_ref(), &actor, id, active, state.clock.now()).await?;
    }
    if let Some(teams) = &body.teams {
        crate::services::accounts::set_teams(state.store.as_ref(), id, teams, state.clock.now())
            .await?;
    }
    view(&state, id).await
}
