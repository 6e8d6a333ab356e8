//! `/api/v1/notifications` and `/api/v1/me/notification-settings`: the signed-in person's
//! notifications (`services::notifications`), and the notification page's forms.

use super::error::ApiError;
use super::{require_user, see_other, unavailable, Api, Id, Query, Typed};
use crate::auth::CurrentUser;
use crate::services::notifications as service;
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use promptly::notify::{parse_time, NotificationKind, NotificationList, NotificationSettings};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(list))
        .route("/notifications/read", post(read))
        .route(
            "/me/notification-settings",
            get(settings).put(save_settings),
        )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// How many, newest first (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// Your notifications
///
/// The latest notifications for the signed-in person, newest first, and how many are unread: SLA warnings and breaches of their own conversations (or their team's unassigned ones), band changes of the live service level (managers and admins), and rules' `notify` actions.
#[utoipa::path(get, path = "/notifications", tag = "Notifications", operation_id = "listNotifications",
    params(ListQuery), responses((status = 200, description = "The notifications.", body = NotificationList)))]
async fn list(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Query(q): Query<ListQuery>,
) -> Api<NotificationList> {
    let me = require_user(user)?;
    Ok(Json(service::list(&state, me.id, q.limit).await?))
}

/// Which notifications to mark read.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadBody {
    /// These notifications; all of them when left out.
    #[schema(max_items = 200)]
    ids: Option<Vec<i64>>,
}

/// How many were marked read, and how many are unread now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReadAnswer {
    marked: i64,
    unread: i64,
}

/// Mark notifications read
///
/// The ones named by `ids`, or all. Another person's ids change nothing.
#[utoipa::path(post, path = "/notifications/read", tag = "Notifications", operation_id = "readNotifications",
    request_body = ReadBody, responses((status = 200, description = "Marked.", body = ReadAnswer)))]
async fn read(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Typed(body): Typed<ReadBody>,
) -> Api<ReadAnswer> {
    let me = require_user(user)?;
    if body.ids.as_ref().is_some_and(|ids| ids.len() > 200) {
        return Err(ApiError::field("ids", "at most 200 ids"));
    }
    let marked = service::mark_read(&state, me.id, body.ids.as_deref()).await?;
    let unread = service::list(&state, me.id, Some(1)).await?.unread;
    Ok(Json(ReadAnswer { marked, unread }))
}

/// Your notification settings
#[utoipa::path(get, path = "/me/notification-settings", tag = "Notifications", operation_id = "getNotificationSettings",
    responses((status = 200, description = "The settings.", body = NotificationSettings)))]
async fn settings(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
) -> Api<NotificationSettings> {
    let me = require_user(user)?;
    Ok(Json(service::settings(&state, me.id).await?))
}

/// Change your notification settings
///
/// Which kinds you get (`muted`: `warning`, `breach`, `band_changed`, `rule`), whether warnings and breaches of your teams' unassigned conversations reach you besides your own, a sound with browser notifications, and quiet hours ("22:00" to "07:00", your local time) without browser notifications or sound. Fields left out take their defaults.
#[utoipa::path(put, path = "/me/notification-settings", tag = "Notifications", operation_id = "setNotificationSettings",
    request_body = NotificationSettings, responses((status = 200, description = "The settings as saved.", body = NotificationSettings)))]
async fn save_settings(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Typed(body): Typed<NotificationSettings>,
) -> Api<NotificationSettings> {
    let me = require_user(user)?;
    if body.quiet_from.is_some() != body.quiet_to.is_some() {
        return Err(ApiError::field(
            if body.quiet_from.is_some() {
                "quiet_to"
            } else {
                "quiet_from"
            },
            "quiet hours need both a start and an end",
        ));
    }
    service::save_settings(&state, me.id, &body).await?;
    Ok(Json(body))
}

// ---------------------------------------------------------------------------------------
// The notifications page's forms
// ---------------------------------------------------------------------------------------

/// "Mark all read".
pub(super) async fn read_all_form(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
) -> Response {
    let Some(Extension(CurrentUser(me))) = user else {
        return Redirect::to("/login").into_response();
    };
    match service::mark_read(&state, me.id, None).await {
        Ok(_) => see_other("/notifications", &[("notice", "read")]),
        Err(e) => unavailable(e),
    }
}

/// Opening a notification: it is read, and its page opens.
pub(super) async fn open_form(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Id(id): Id,
) -> Response {
    let Some(Extension(CurrentUser(me))) = user else {
        return Redirect::to("/login").into_response();
    };
    match service::open(&state, me.id, id).await {
        Ok(Some(link)) if link.starts_with('/') && !link.starts_with("//") => {
            Redirect::to(&link).into_response()
        }
        Ok(_) => see_other("/notifications", &[]),
        Err(e) => unavailable(e),
    }
}

/// The settings form: a checkbox per kind wanted (`want_<kind>`), `team_unassigned`,
/// `sound`, `quiet_from` and `quiet_to` ("HH:MM" or empty).
pub(super) async fn settings_form(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let Some(Extension(CurrentUser(me))) = user else {
        return Redirect::to("/login").into_response();
    };
    let get = |k: &str| {
        fields
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.trim().to_string())
    };
    let time = |k: &str| -> Result<Option<chrono::NaiveTime>, String> {
        match get(k).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => parse_time(&v).map(Some),
        }
    };
    let (from, to) = match (time("quiet_from"), time("quiet_to")) {
        (Ok(f), Ok(t)) if f.is_some() == t.is_some() => (f, t),
        (Err(e), _) | (_, Err(e)) => return see_other("/notifications", &[("error", &e)]),
        _ => {
            return see_other(
                "/notifications",
                &[("error", "Quiet hours need both a start and an end.")],
            )
        }
    };
    let settings = NotificationSettings {
        muted: NotificationKind::ALL
            .into_iter()
            .filter(|k| get(&format!("want_{}", k.as_str())).is_none())
            .collect(),
        team_unassigned: get("team_unassigned").is_some(),
        sound: get("sound").is_some(),
        quiet_from: from,
        quiet_to: to,
    };
    match service::save_settings(&state, me.id, &settings).await {
        Ok(()) => see_other("/notifications", &[("notice", "saved")]),
        Err(e) => unavailable(e),
    }
}
