//! Accounts: create a user, change a role, activate or deactivate; the rules that keep an
//! active admin and keep admins from locking themselves out. The JSON API, the users page's
//! forms, `promptly user create` and the tests call these.

use crate::auth::hash_password;
use crate::http::error::ApiError;
use crate::services::audit;
use crate::store::{NewUser, Store, StoreError, User};
use chrono::Utc;
use promptly::account::{validate_new_user, FieldError, Role, UserView};
use promptly::audit::Entity;
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
    let user = store
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
        .await?;
    log_user(store, now, user.id, "create", None, Some(&user.view())).await;
    Ok(user)
}

/// Records a change to user `id` in the audit log.
async fn log_user(
    store: &dyn Store,
    now: chrono::DateTime<Utc>,
    id: i64,
    action: &str,
    before: Option<&UserView>,
    after: Option<&UserView>,
) {
    let change = audit::Change {
        entity: Entity::User,
        id: Some(id.to_string()),
        action,
        before,
        after,
    };
    audit::append(store, now, change).await;
}

/// The user as the API shows it now (for the audit log's before and after).
async fn view_of(store: &dyn Store, id: i64) -> Result<UserView, UserAdminError> {
    Ok(store
        .user_by_id(id)
        .await?
        .ok_or(UserAdminError::NotFound)?
        .view())
}

/// Changes a user's role; the store refuses to take the last active admin away
/// (`LastAdmin`), checked in the same transaction as the change.
pub async fn change_role(
    store: &dyn Store,
    id: i64,
    role: Role,
    now: chrono::DateTime<Utc>,
) -> Result<(), UserAdminError> {
    let before = view_of(store, id).await?;
    store.set_user_role(id, role).await?;
    let after = view_of(store, id).await?;
    log_user(store, now, id, "role", Some(&before), Some(&after)).await;
    Ok(())
}

/// Replaces the teams user `id` works in ([`promptly::account::validate_teams`]; a field
/// error on `teams` otherwise).
pub async fn set_teams<S: AsRef<str>>(
    store: &dyn Store,
    id: i64,
    teams: &[S],
    now: chrono::DateTime<Utc>,
) -> Result<(), UserAdminError> {
    let teams = promptly::account::validate_teams(teams)
        .map_err(|m| UserAdminError::Fields(vec![FieldError::new("teams", m)]))?;
    let before = view_of(store, id).await?;
    store.set_user_teams(id, &teams).await?;
    let after = view_of(store, id).await?;
    log_user(store, now, id, "teams", Some(&before), Some(&after)).await;
    Ok(())
}

/// The field of `PATCH /me`, of the account page's form and of their errors.
pub const TIMEZONE_FIELD: &str = "timezone";

/// Sets (an IANA name, [`promptly::local_time::parse_zone`]; a field error on `timezone`
/// otherwise, and nothing changes) or clears (`None`) the time zone `me` reads times in.
/// Returns the user after the change.
pub async fn set_own_timezone(
    store: &dyn Store,
    me: &UserView,
    timezone: Option<&str>,
    now: chrono::DateTime<Utc>,
) -> Result<UserView, UserAdminError> {
    let zone = timezone
        .map(promptly::local_time::parse_zone)
        .transpose()
        .map_err(|m| UserAdminError::Fields(vec![FieldError::new(TIMEZONE_FIELD, m)]))?;
    let before = view_of(store, me.id).await?;
    store
        .set_user_timezone(me.id, zone.as_ref().map(|z| z.name()))
        .await?;
    let after = view_of(store, me.id).await?;
    if before != after {
        log_user(store, now, me.id, "timezone", Some(&before), Some(&after)).await;
    }
    Ok(after)
}

pub async fn set_active(
    store: &dyn Store,
    actor: &UserView,
    id: i64,
    active: bool,
    now: chrono::DateTime<Utc>,
) -> Result<(), UserAdminError> {
    if !active && id == actor.id {
        return Err(UserAdminError::OwnAccount);
    }
    let before = view_of(store, id).await?;
    store.set_user_active(id, active).await?;
    let after = view_of(store, id).await?;
    let action = if active { "activate" } else { "deactivate" };
    log_user(store, now, id, action, Some(&before), Some(&after)).await;
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
    let now = state.clock.now();
    log_user(
        state.store.as_ref(),
        now,
        me.id,
        "change_password",
        None,
        None,
    )
    .await;
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
    let store = state.store.as_ref();
    let before = view_of(store, id).await?;
    let hash = crate::auth::hash_new_password(state, &reset.password).await?;
    store.set_user_password(id, &hash, true, None).await?;
    let after = view_of(store, id).await?;
    let now = state.clock.now();
    log_user(
        store,
        now,
        id,
        "reset_password",
        Some(&before),
        Some(&after),
    )
    .await;
    Ok(())
}
