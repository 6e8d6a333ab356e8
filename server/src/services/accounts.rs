//! Accounts: create a user, change a role, activate or deactivate; the rules that keep an
//! active admin and keep admins from locking themselves out. The JSON API, the users page's
//! forms, `promptly user create` and the tests call these.

use crate::auth::hash_password;
use crate::http::error::ApiError;
use crate::store::{NewUser, Store, StoreError, User};
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
            StoreError::Conflict {
                field: "last_admin",
            } => UserAdminError::LastAdmin,
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

/// A new user.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
#[schema(as = NewUser)]
pub struct NewUserFields {
    #[serde(default)]
    #[schema(required = true, schema_with = promptly::schema::email)]
    pub email: String,
    #[serde(default)]
    #[schema(schema_with = promptly::schema::person_name)]
    pub name: String,
    #[serde(default)]
    #[schema(required = true, value_type = promptly::account::Role)]
    pub role: String,
    #[serde(default)]
    #[schema(required = true, schema_with = promptly::schema::password)]
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

/// Changes a user's role; the store refuses to take the last active admin away
/// (`LastAdmin`), checked in the same transaction as the change.
pub async fn change_role(store: &dyn Store, id: i64, role: Role) -> Result<(), UserAdminError> {
    store.set_user_role(id, role).await?;
    Ok(())
}

pub async fn set_active(
    store: &dyn Store,
    actor: &UserView,
    id: i64,
    active: bool,
) -> Result<(), UserAdminError> {
    if !active && id == actor.id {
        return Err(UserAdminError::OwnAccount);
    }
    store.set_user_active(id, active).await?;
    Ok(())
}
