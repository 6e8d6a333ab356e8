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
    #[error("change your own password on your account page, with your current one")]
    OwnPassword,
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
            UserAdminError::LastAdmin
            | UserAdminError::OwnAccount
            | UserAdminError::OwnPassword => ApiError::Conflict(format!("{e}.")),
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
                must_change_password: false,
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

/// A signed-in user's change of their own password.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
pub struct PasswordChange {
    #[serde(default)]
    #[schema(required = true, schema_with = promptly::schema::password)]
    pub current_password: String,
    #[serde(default)]
    #[schema(required = true, schema_with = promptly::schema::password)]
    pub new_password: String,
}

/// An admin's reset of another user's password: a temporary one, which the user must
/// replace at their next sign-in.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
pub struct PasswordReset {
    #[serde(default)]
    #[schema(required = true, schema_with = promptly::schema::password)]
    pub password: String,
}

/// Changes `me`'s password, given the current one (checked and throttled as a sign-in from
/// `client` is); ends their other sessions, keeps `keep_session` (the hash of the one that
/// asked), and lifts a forced change.
pub async fn change_own_password(
    state: &crate::state::AppState,
    me: &UserView,
    change: &PasswordChange,
    keep_session: Option<&str>,
    client: std::net::IpAddr,
) -> Result<(), UserAdminError> {
    let mut errors = Vec::new();
    if let Err(m) = promptly::account::validate_new_password(&change.new_password) {
        errors.push(FieldError::new("new_password", m));
    } else if change.new_password == change.current_password {
        errors.push(FieldError::new(
            "new_password",
            "The new password must differ from the current one.",
        ));
    }
    if change.current_password.is_empty() {
        errors.push(FieldError::new(
            "current_password",
            "Current password is required.",
        ));
    }
    if !errors.is_empty() {
        return Err(UserAdminError::Fields(errors));
    }
    match crate::auth::check_password(state, &me.email, &change.current_password, client).await? {
        Ok(user) if user.id == me.id => {}
        Ok(_) | Err(crate::auth::Refused::Invalid) => {
            return Err(UserAdminError::Fields(vec![FieldError::new(
                "current_password",
                "This is not your current password.",
            )]))
        }
        Err(crate::auth::Refused::Throttled(wait)) => {
            return Err(UserAdminError::Fields(vec![FieldError::new(
                "current_password",
                format!("Too many wrong passwords; try again in {wait} seconds."),
            )]))
        }
    }
    let hash = crate::auth::hash_new_password(state, &change.new_password).await?;
    state
        .store
        .set_user_password(me.id, &hash, false, keep_session)
        .await?;
    Ok(())
}

/// Sets a temporary password for user `id` (not the admin's own: they change theirs with
/// their current one); the user's sessions end and they must choose a new password at their
/// next sign-in.
pub async fn reset_password(
    state: &crate::state::AppState,
    actor: &UserView,
    id: i64,
    reset: &PasswordReset,
) -> Result<(), UserAdminError> {
    if id == actor.id {
        return Err(UserAdminError::OwnPassword);
    }
    promptly::account::validate_new_password(&reset.password)
        .map_err(|m| UserAdminError::Fields(vec![FieldError::new("password", m)]))?;
    let hash = crate::auth::hash_new_password(state, &reset.password).await?;
    state.store.set_user_password(id, &hash, true, None).await?;
    Ok(())
}
