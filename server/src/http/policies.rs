//! `/api/v1/policies`: SLA policies, versioned once in use, and the default policy.
//! Bodies are the `sla check` policy shape plus `name`, `description` and `calendar_id`.

use super::error::ApiError;
use super::require_user;
use crate::auth::CurrentUser;
use crate::services;
use crate::services::conversations::Reevaluation;
use crate::state::AppState;
use crate::store::PolicyRecord;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Extension, Json, Router};
use promptly::job::JobView;
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
    super::Id(id): super::Id,
) -> Result<Json<PolicyRecord>, ApiError> {
    require_user(user)?;
    Ok(Json(
        state.store.policy(id).await?.ok_or(ApiError::NotFound)?,
    ))
}

async fn versions(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    super::Id(id): super::Id,
) -> Result<Json<Vec<PolicyRecord>>, ApiError> {
    require_user(user)?;
    // A deleted policy is gone from the API, versions and all (conversations keep theirs).
    state.store.policy(id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(state.store.policy_versions(id).await?))
}

async fn create(
    State(state): State<AppState>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<(StatusCode, Json<PolicyRecord>), ApiError> {
    let rec = services::policies::create(&state, super::object_body(body)?).await?;
    Ok((StatusCode::CREATED, Json(rec)))
}

#[derive(Debug, Deserialize)]
struct UpdateQuery {
    #[serde(default)]
    apply_to_open: bool,
}

/// A policy's new version, and how its open conversations are re-evaluated.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = PolicyUpdated)]
pub(crate) struct Updated {
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
    super::Id(id): super::Id,
    Query(q): Query<UpdateQuery>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Updated>), ApiError> {
    let (rec, outcome) =
        services::policies::update(&state, id, super::object_body(body)?, q.apply_to_open).await?;
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
    super::Id(id): super::Id,
) -> Result<StatusCode, ApiError> {
    services::policies::delete(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
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
    let policy = services::policies::set_default(&state, super::object_body(body)?).await?;
    Ok(Json(json!({ "policy": policy })))
}
