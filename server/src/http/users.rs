//! Users: the admin operations (shared by the JSON API and the users page's forms) and
//! `/api/v1/me`, `/api/v1/users`.

use super::error::ApiError;
use crate::auth::{hash_password, CurrentUser};
use crate::state::AppState;
use crate::store::{NewUser, Store, StoreError, User};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Extension, Json, Router};
use chrono::Utc;
use promptly::account::{validate_new_user, FieldError, Role, UserView};
use serde::Deserialize;

/// Why an admin operation on users was refused.
#[derive(Debug, thiserror::Error)]
pub enum UserAdminError {
    #[error("invalid fields")]
    Fields(Vec<FieldError>),
    #[error("there must remain at least one active admin")]
    LastAdmin,
    #[error("you cannot deactivate yourself")]
    OwnAccount,
    #[error("user not found")]
    NotFound,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for UserAdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => UserAdminError::NotFound,
            StoreError::Conflict { field } => UserAdminError::Fields(vec![FieldError::taken(
                field,
                "A user with this e-mail already exists.",
            )]),
            other => UserAdminError::Store(other),
        }
    }
}

impl From<UserAdminError> for ApiError {
    fn from(e: UserAdminError) -> Self {
        match e {
            UserAdminError::Fields(errors) => ApiError::Unprocessable { errors },
            UserAdminError::LastAdmin | UserAdminError::OwnAccount => {
                ApiError::Conflict(format!("{e}."))
            }
            UserAdminError::NotFound => ApiError::NotFound,
            UserAdminError::Store(s) => s.into(),
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct NewUserFields {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub password: String,
}

pub async fn create_user(
    store: &dyn Store,
    f: &NewUserFields,
    now: chrono::DateTime<Utc>,
) -> Result<User, UserAdminError> {
    let (email, name, role) = validate_new_user(&f.email, &f.name, &f.role, &f.password)
        .map_err(UserAdminError::Fields)?;
    let password_hash = hash_password(f.password.clone()).await.map_err(|e| {
        UserAdminError::Store(StoreError::Database(sqlx::Error::Protocol(e.to_string())))
    })?;
    Ok(store
        .create_user(
            NewUser {
                email,
                name,
                role,
                password_hash,
            },
            now,
        )
        .await?)
}

/// Would this change leave no active admin?
async fn removes_last_admin(store: &dyn Store, target: &User) -> Result<bool, StoreError> {
    Ok(target.role == Role::Admin && target.active && store.count_active_admins().await? <= 1)
}

pub async fn change_role(store: &dyn Store, id: i64, role: Role) -> Result<(), UserAdminError> {
    let target = store
        .user_by_id(id)
        .await?
        .ok_or(UserAdminError::NotFound)?;
    if role != Role::Admin && removes_last_admin(store, &target).await? {
        return Err(UserAdminError::LastAdmin);
    }
    store.set_user_role(id, role).await?;
    Ok(())
}

pub async fn set_active(
    store: &dyn Store,
    actor: &UserView,
    id: i64,
    active: bool,
) -> Result<(), UserAdminError> {
    let target = store
        .user_by_id(id)
        .await?
        .ok_or(UserAdminError::NotFound)?;
    if !active && target.id == actor.id {
        return Err(UserAdminError::OwnAccount);
    }
    if !active && removes_last_admin(store, &target).await? {
        return Err(UserAdminError::LastAdmin);
    }
    store.set_user_active(id, active).await?;
    Ok(())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me))
        .route("/users", get(list).post(create))
        .route("/users/{id}", patch(update).get(one))
}

use super::require_user;

async fn me(user: Option<Extension<CurrentUser>>) -> Result<Json<UserView>, ApiError> {
    Ok(Json(require_user(user)?))
}

async fn list(State(state): State<AppState>) -> Result<Json<Vec<UserView>>, ApiError> {
    let users = state.store.list_users().await?;
    Ok(Json(users.iter().map(User::view).collect()))
}

async fn one(
    State(state): State<AppState>,
    super::Id(id): super::Id,
) -> Result<Json<UserView>, ApiError> {
    let u = state
        .store
        .user_by_id(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(u.view()))
}

async fn create(
    State(state): State<AppState>,
    body: Result<Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let body: NewUserFields = serde_json::from_value(super::object_body(body)?)
        .map_err(|e| ApiError::field("body", e.to_string()))?;
    let u = create_user(state.store.as_ref(), &body, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(u.view())))
}

#[derive(Debug, Deserialize)]
struct UserPatch {
    role: Option<String>,
    active: Option<bool>,
}

async fn update(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    super::Id(id): super::Id,
    body: Result<Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<UserView>, ApiError> {
    let body: UserPatch = serde_json::from_value(super::object_body(body)?)
        .map_err(|e| ApiError::field("body", e.to_string()))?;
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
    let u = state
        .store
        .user_by_id(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(u.view()))
}
