//! `/api/v1/policies`: SLA policies, versioned once in use, and the default policy.
//! Bodies are the `sla check` policy shape plus `name`, `description` and `calendar_id`.

use super::calendars::{named, with_path};
use super::error::ApiError;
use super::{json_body, require_user};
use crate::auth::CurrentUser;
use crate::service::{reevaluate, Reevaluation};
use crate::state::AppState;
use crate::store::{PolicyInput, PolicyRecord};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Extension, Json, Router};
use promptly::account::FieldError;
use promptly::job::JobView;
use promptly::Policy;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/policies", get(list).post(create))
        .route("/policies/{id}", get(one).put(update).delete(remove))
        .route("/policies/{id}/versions", get(versions))
        .route("/jobs/{id}", get(job))
        .route(
            "/settings/default-policy",
            put(set_default).get(get_default),
        )
}

/// Validates a policy body (the API's and the policies page's form, once turned into JSON).
pub(crate) async fn parse(
    state: &AppState,
    body: serde_json::Value,
) -> Result<PolicyInput, ApiError> {
    let mut errors = Vec::new();
    let (name, description, mut rest) = named(body, &mut errors);
    let calendar_id = match rest.as_object_mut().and_then(|o| o.remove("calendar_id")) {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(id) if state.store.calendar(id).await?.is_some() => Some(id),
            _ => {
                errors.push(FieldError::new(
                    "calendar_id",
                    format!("{v} is not a calendar's id"),
                ));
                None
            }
        },
    };
    let policy = match with_path::<Policy>(rest, "") {
        Ok(p) => Some(p),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    match policy {
        Some(policy) if errors.is_empty() => Ok(PolicyInput {
            name,
            description,
            calendar_id,
            policy,
        }),
        _ => Err(ApiError::Unprocessable { errors }),
    }
}

async fn list(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
) -> Result<Json<Vec<PolicyRecord>>, ApiError> {
    require_user(user)?;
    Ok(Json(state.store.list_policies().await?))
}

async fn one(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Path(id): Path<i64>,
) -> Result<Json<PolicyRecord>, ApiError> {
    require_user(user)?;
    Ok(Json(
        state.store.policy(id).await?.ok_or(ApiError::NotFound)?,
    ))
}

async fn versions(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<PolicyRecord>>, ApiError> {
    require_user(user)?;
    let v = state.store.policy_versions(id).await?;
    if v.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(v))
}

async fn create(
    State(state): State<AppState>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<(StatusCode, Json<PolicyRecord>), ApiError> {
    let input = parse(&state, json_body(body)?).await?;
    let rec = state.store.create_policy(&input, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(rec)))
}

#[derive(Debug, Deserialize)]
struct UpdateQuery {
    #[serde(default)]
    apply_to_open: bool,
}

#[derive(Debug, Serialize)]
struct Updated {
    #[serde(flatten)]
    policy: PolicyRecord,
    /// How many open conversations were re-evaluated with this version so far (with
    /// `apply_to_open=true`).
    reevaluated: usize,
    /// For many open conversations: the background job that re-evaluates them.
    #[serde(skip_serializing_if = "Option::is_none")]
    job: Option<JobView>,
}

async fn update(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<UpdateQuery>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Updated>), ApiError> {
    let input = parse(&state, json_body(body)?).await?;
    let (rec, outcome) = save_update(&state, id, &input, q.apply_to_open).await?;
    Ok(match outcome {
        Reevaluation::Done(reevaluated) => (
            StatusCode::OK,
            Json(Updated {
                policy: rec,
                reevaluated,
                job: None,
            }),
        ),
        Reevaluation::Started(job) => (
            StatusCode::ACCEPTED,
            Json(Updated {
                policy: rec,
                reevaluated: 0,
                job: Some(job),
            }),
        ),
    })
}

/// Stores a policy change (a new version when conversations use the current one); with
/// `apply_to_open`, moves the open conversations to it and re-evaluates them. Returns the
/// new current version and the re-evaluation (all done, or a background job).
pub(crate) async fn save_update(
    state: &AppState,
    id: i64,
    input: &PolicyInput,
    apply_to_open: bool,
) -> Result<(PolicyRecord, Reevaluation), ApiError> {
    let now = state.clock.now();
    let rec = state.store.update_policy(id, input, now).await?;
    if !apply_to_open {
        return Ok((rec, Reevaluation::Done(0)));
    }
    let moved = state.store.move_open_conversations(id, rec.version).await?;
    let outcome = reevaluate(state, moved).await?;
    Ok((rec, outcome))
}

/// `GET /api/v1/jobs/{id}`: a background job's progress (admins).
pub(crate) async fn job(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<Json<JobView>, ApiError> {
    let job = state.jobs.lock().unwrap_or_else(|p| p.into_inner()).get(id);
    job.map(Json).ok_or(ApiError::NotFound)
}

async fn remove(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_policy(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct DefaultPolicy {
    policy: Option<i64>,
}

async fn get_default(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_user(user)?;
    Ok(Json(json!({"policy": state.store.default_policy().await?})))
}

async fn set_default(
    State(state): State<AppState>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body: DefaultPolicy =
        with_path(json_body(body)?, "").map_err(|e| ApiError::Unprocessable { errors: vec![e] })?;
    if let Some(id) = body.policy {
        if state.store.policy(id).await?.is_none() {
            return Err(ApiError::field(
                "policy",
                format!("{id} is not a policy's id"),
            ));
        }
    }
    state.store.set_default_policy(body.policy).await?;
    Ok(Json(json!({"policy": body.policy})))
}
