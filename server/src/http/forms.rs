//! The HTML forms' endpoints: log in, log out, and the users page. Each answers with a
//! redirect (303) back to a page, carrying a notice or field errors in the query, so the
//! forms work the same with JavaScript off and hydrated.

use super::{see_other, unavailable};
use crate::auth::{
    self, clear_cookie, cookie_value, is_secure, safe_next, start_session, token_hash, CurrentUser,
    SESSION_COOKIE,
};
use crate::services::accounts::{
    change_own_password, change_role, create_user, reset_password, set_active, set_own_timezone,
    NewUserFields, PasswordChange, PasswordReset, UserAdminError, TIMEZONE_FIELD,
};
use crate::state::AppState;
use axum::extract::{ConnectInfo, Form, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use promptly::account::Role;
use promptly::limits::{EMAIL_LEN, PASSWORD_LEN};
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Debug, Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub(super) async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let email = form.email.trim().to_lowercase();
    let mut q: Vec<(&str, &str)> = vec![("email", email.as_str()), ("next", next.as_str())];
    let mut bad = false;
    if email.is_empty() {
        q.push(("err_email", "required"));
        bad = true;
    } else if email.len() > EMAIL_LEN {
        q.retain(|(k, _)| *k != "email");
        q.push(("err_email", "too_long"));
        bad = true;
    }
    if form.password.is_empty() {
        q.push(("err_password", "required"));
        bad = true;
    } else if form.password.chars().count() > PASSWORD_LEN {
        q.push(("err_password", "too_long"));
        bad = true;
    }
    if bad {
        return see_other("/login", &q);
    }

    let store = state.store.as_ref();
    let now = state.clock.now();
    let client = crate::auth::client_ip(peer.ip(), &headers, &state.trusted_proxies);
    let user = match auth::check_password(&state, &email, &form.password, client).await {
        Ok(Ok(user)) => user,
        Ok(Err(auth::Refused::Throttled(wait))) => {
            let wait = wait.to_string();
            q.push(("error", "throttled"));
            q.push(("wait", &wait));
            return see_other("/login", &q);
        }
        Ok(Err(auth::Refused::Invalid)) => {
            tracing::info!(email = %email, ip = %peer.ip(), "failed login");
            q.push(("error", "invalid"));
            return see_other("/login", &q);
        }
        Err(e) => return unavailable(e),
    };
    let cookie = match start_session(store, user.id, is_secure(&state, &headers), now).await {
        Ok(c) => c,
        Err(e) => return unavailable(e),
    };
    let mut resp = Redirect::to(&next).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    resp
}

pub(super) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie_value(&headers, SESSION_COOKIE) {
        if let Err(e) = state.store.delete_session(&token_hash(&token)).await {
            return unavailable(e);
        }
    }
    let mut resp = see_other("/login", &[("notice", "logged_out")]);
    resp.headers_mut().insert(
        header::SET_COOKIE,
        clear_cookie(is_secure(&state, &headers)),
    );
    resp
}

fn admin_error(e: UserAdminError) -> Response {
    match e {
        UserAdminError::LastAdmin => see_other("/admin/users", &[("error", "last_admin")]),
        UserAdminError::OwnAccount => see_other("/admin/users", &[("error", "self")]),
        UserAdminError::OwnPassword => see_other("/admin/users", &[("error", "own_password")]),
        UserAdminError::NotFound => see_other("/admin/users", &[("error", "not_found")]),
        UserAdminError::Fields(_) => see_other("/admin/users", &[]),
        UserAdminError::Store(e) => unavailable(e),
    }
}

pub(super) async fn create(
    State(state): State<AppState>,
    Form(form): Form<NewUserFields>,
) -> Response {
    match create_user(state.store.as_ref(), &form, state.clock.now()).await {
        Ok(_) => see_other("/admin/users", &[("notice", "created")]),
        Err(UserAdminError::Fields(errors)) => {
            let keys: Vec<String> = errors.iter().map(|e| format!("err_{}", e.field)).collect();
            let email = if form.email.len() > EMAIL_LEN {
                ""
            } else {
                form.email.trim()
            };
            let mut q: Vec<(&str, &str)> = vec![
                ("email", email),
                ("name", form.name.as_str()),
                ("role", form.role.as_str()),
            ];
            for (k, e) in keys.iter().zip(&errors) {
                q.push((k.as_str(), e.message.as_str()));
            }
            see_other("/admin/users", &q)
        }
        Err(e) => admin_error(e),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct RoleForm {
    role: String,
}

pub(super) async fn role(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<RoleForm>,
) -> Response {
    let Ok(role) = form.role.parse::<Role>() else {
        return (StatusCode::UNPROCESSABLE_ENTITY, "Unknown role.").into_response();
    };
    match change_role(state.store.as_ref(), id, role, state.clock.now()).await {
        Ok(()) => see_other("/admin/users", &[("notice", "role")]),
        Err(e) => admin_error(e),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct TeamsForm {
    /// Comma-separated team names.
    #[serde(default)]
    teams: String,
}

pub(super) async fn teams(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<TeamsForm>,
) -> Response {
    let teams: Vec<&str> = form.teams.split(',').collect();
    match crate::services::accounts::set_teams(state.store.as_ref(), id, &teams, state.clock.now())
        .await
    {
        Ok(()) => see_other("/admin/users", &[("notice", "teams")]),
        Err(UserAdminError::Fields(_)) => see_other("/admin/users", &[("error", "teams")]),
        Err(e) => admin_error(e),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ActiveForm {
    active: bool,
}

pub(super) async fn active(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Path(id): Path<i64>,
    Form(form): Form<ActiveForm>,
) -> Response {
    let Some(Extension(actor)) = user else {
        return (StatusCode::UNAUTHORIZED, "Please log in.").into_response();
    };
    match set_active(
        state.store.as_ref(),
        &actor.0,
        id,
        form.active,
        state.clock.now(),
    )
    .await
    {
        Ok(()) => see_other(
            "/admin/users",
            &[(
                "notice",
                if form.active {
                    "activated"
                } else {
                    "deactivated"
                },
            )],
        ),
        Err(e) => admin_error(e),
    }
}

/// The users page's "reset password" form: a temporary password for user `id`.
pub(super) async fn reset(
    State(state): State<AppState>,
    Extension(CurrentUser(actor)): Extension<CurrentUser>,
    Path(id): Path<i64>,
    Form(form): Form<PasswordReset>,
) -> Response {
    match reset_password(&state, &actor, id, &form).await {
        Ok(()) => see_other("/admin/users", &[("notice", "password_reset")]),
        Err(UserAdminError::Fields(errors)) => {
            let id = id.to_string();
            let message = errors.first().map(|e| e.message.as_str()).unwrap_or("");
            see_other(
                "/admin/users",
                &[("reset", id.as_str()), ("err_reset", message)],
            )
        }
        Err(e) => admin_error(e),
    }
}

/// The account page's form: the current password, the new one twice.
#[derive(Debug, Deserialize)]
pub(super) struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
    next: Option<String>,
}

/// Changes the signed-in user's password; then back to where a forced change interrupted
/// them (`next`), or to the account page with a notice. Field errors go back to the page.
pub(super) async fn change_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    Form(form): Form<PasswordForm>,
) -> Response {
    let next = form
        .next
        .as_deref()
        .filter(|n| !n.is_empty())
        .map(|n| safe_next(Some(n)));
    let mut back: Vec<(&str, &str)> = Vec::new();
    if let Some(n) = &next {
        back.push(("next", n.as_str()));
    }
    if form.confirm_password != form.new_password {
        back.push(("err_confirm_password", "The two new passwords differ."));
        return see_other("/account", &back);
    }
    let change = PasswordChange {
        current_password: form.current_password,
        new_password: form.new_password,
    };
    let client = auth::client_ip(peer.ip(), &headers, &state.trusted_proxies);
    let session = auth::session_hash(&headers);
    match change_own_password(&state, &me, &change, session.as_deref(), client).await {
        Ok(()) => match next {
            Some(n) => Redirect::to(&n).into_response(),
            None => see_other("/account", &[("notice", "password_changed")]),
        },
        Err(UserAdminError::Fields(errors)) => {
            let keys: Vec<String> = errors.iter().map(|e| format!("err_{}", e.field)).collect();
            for (k, e) in keys.iter().zip(&errors) {
                back.push((k.as_str(), e.message.as_str()));
            }
            see_other("/account", &back)
        }
        Err(UserAdminError::Store(e)) => unavailable(e),
        Err(_) => see_other("/account", &back),
    }
}

/// The account page's time zone form: an IANA name, or empty for the browser's.
#[derive(Debug, Deserialize)]
pub(super) struct TimezoneForm {
    #[serde(default)]
    timezone: String,
}

/// Sets the signed-in user's time zone; back to the account page with a notice, or with
/// the field's error (and nothing changed).
pub(super) async fn change_timezone(
    State(state): State<AppState>,
    Extension(CurrentUser(me)): Extension<CurrentUser>,
    Form(form): Form<TimezoneForm>,
) -> Response {
    let zone = Some(form.timezone.trim()).filter(|z| !z.is_empty());
    match set_own_timezone(state.store.as_ref(), &me, zone, state.clock.now()).await {
        Ok(_) => see_other("/account", &[("notice", "timezone")]),
        Err(UserAdminError::Fields(errors)) => {
            let message = errors.first().map(|e| e.message.as_str()).unwrap_or("");
            let key = format!("err_{TIMEZONE_FIELD}");
            see_other("/account", &[(key.as_str(), message)])
        }
        Err(UserAdminError::Store(e)) => unavailable(e),
        Err(_) => see_other("/account", &[]),
    }
}
