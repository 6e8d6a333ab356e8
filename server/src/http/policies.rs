//! `/api/v1/policies`: SLA policies, versioned once in use, and the default policy.
//! Bodies are the `sla check` policy shape plus `name`, `description` and `calendar_id`.

use super::error::responses;
use super::error::ApiError;
use super::Query;
use super::{created, found, Api, Id, Object, WithStatus};
use crate::services;
use crate::services::conversations::Reevaluation;
use crate::state::AppState;
use crate::store::PolicyRecord;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use promptly::job::JobView;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/policies", get(list).post(create))
        .route("/policies/{id}", get(one).put(update).delete(remove))
        .route("/policies/{id}/versions", get(versions))
        .route("/policies/{id}/what-if", post(what_if))
        .route("/jobs/{id}", get(job).delete(cancel_job))
        .route(
            "/settings/default-policy",
            put(set_default).get(get_default),
        )
}

/// List policies
///
/// The current version of each policy not deleted, ordered by name, then id.
#[utoipa::path(get, path = "/policies", tag = "Policies", operation_id = "listPolicies",
    responses((status = 200, description = "The policies.", body = Vec<crate::store::PolicyRecord>)))]
async fn list(State(state): State<AppState>) -> Api<Vec<PolicyRecord>> {
    Ok(Json(state.store.list_policies().await?))
}

/// One policy (its current version)
#[utoipa::path(get, path = "/policies/{id}", tag = "Policies", operation_id = "getPolicy",
    params(super::Id), responses((status = 200, description = "The policy.", body = crate::store::PolicyRecord)))]
async fn one(State(state): State<AppState>, Id(id): Id) -> Api<PolicyRecord> {
    found(state.store.policy(id).await?)
}

/// All versions of a policy
///
/// Oldest first, also for a deleted policy.
#[utoipa::path(get, path = "/policies/{id}/versions", tag = "Policies", operation_id = "listPolicyVersions",
    params(super::Id), responses((status = 200, description = "The versions.", body = Vec<crate::store::PolicyRecord>)))]
async fn versions(State(state): State<AppState>, Id(id): Id) -> Api<Vec<PolicyRecord>> {
    // A deleted policy is gone from the API, versions and all (conversations keep theirs).
    state.store.policy(id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(state.store.policy_versions(id).await?))
}

/// Create a policy
///
/// The body is the `sla check` policy shape plus `name`, `description` and `calendar_id`. Creates version 1.
#[utoipa::path(post, path = "/policies", tag = "Policies", operation_id = "createPolicy",
    request_body = super::docs::PolicyInput, responses((status = 201, description = "The policy was created.", body = crate::store::PolicyRecord), (status = 404, response = responses::MissingReference)))]
async fn create(State(state): State<AppState>, Object(body): Object) -> WithStatus<PolicyRecord> {
    created(services::policies::create(&state, body).await?)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct UpdateQuery {
    /// Move open (not resolved) conversations on any version of this policy to the new
    /// version.
    #[serde(default)]
    #[param(default = false)]
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

/// Change a policy
///
/// When a conversation uses the current version, a new version is added; otherwise the current version is replaced. Conversations keep their version unless `apply_to_open=true` moves the open ones to the new version (and re-evaluates them).
#[utoipa::path(put, path = "/policies/{id}", tag = "Policies", operation_id = "updatePolicy",
    params(UpdateQuery, super::Id), request_body = super::docs::PolicyInput, responses((status = 200, description = "The new current version, and how many open conversations moved to it and were re-evaluated.", body = Updated), (status = 202, description = "With `apply_to_open=true` and more than 500 open conversations: the new current version; the open conversations moved to it and are re-evaluated by a background job, whose progress `job` reports and `GET /jobs/{id}` follows.", body = Updated), (status = 404, response = responses::MissingReference)))]
async fn update(
    State(state): State<AppState>,
    Id(id): Id,
    Query(q): Query<UpdateQuery>,
    Object(body): Object,
) -> WithStatus<Updated> {
    let (rec, outcome) = services::policies::update(&state, id, body, q.apply_to_open).await?;
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

// `GET /api/v1/jobs/{id}`: a background job's progress (admins).
/// A background job's progress
///
/// Jobs of the server that started them, kept an hour after they finish (behind a load balancer, ask the same server).
#[utoipa::path(get, path = "/jobs/{id}", tag = "Policies", operation_id = "getJob",
    params(super::Id), responses((status = 200, description = "The job.", body = promptly::job::JobView)))]
pub(crate) async fn job(State(state): State<AppState>, Id(id): Id) -> Api<JobView> {
    let id = u64::try_from(id).map_err(|_| ApiError::NotFound)?;
    let job = state.jobs().get(id);
    job.map(Json).ok_or(ApiError::NotFound)
}

/// A what-if's answer, or the job computing it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(crate) enum WhatIfAnswer {
    Done(Box<promptly::whatif::WhatIf>),
    Running { job: JobView },
}

/// Replay a period under a draft policy
///
/// Replays the conversations of this policy created in `[from, to)` (default: the last 90 days) under `draft` (a body of `POST /policies`, refused with the same 422) and under the policy's current version, side by side: attainment, met, breached, warnings, median and p90 time used per target, in total and per channel, team, priority and visibility; the conversations whose outcome changes; and target advice (the smallest target meeting each `attainment` level, default 80, 90, 95 %, over finished cycles, in counted seconds of the draft's rules). Stored outcomes never change. Answers 200 within a few seconds, else 202 with a job whose `result` holds the answer when finished (`GET /jobs/{id}`; `DELETE /jobs/{id}` stops it).
#[utoipa::path(post, path = "/policies/{id}/what-if", tag = "Policies", operation_id = "policyWhatIf",
    params(super::Id), request_body = super::docs::WhatIfInput,
    responses((status = 200, description = "The replay under both policies.", body = promptly::whatif::WhatIf),
              (status = 202, description = "Still replaying: the job (`GET /jobs/{id}`), whose `result` is the answer once `finished`.", body = WhatIfAnswer),
              (status = 404, response = responses::MissingReference)))]
async fn what_if(
    State(state): State<AppState>,
    Id(id): Id,
    Object(body): Object,
) -> WithStatus<WhatIfAnswer> {
    Ok(match services::whatif::what_if(&state, id, body).await? {
        services::whatif::WhatIfOutcome::Done(answer) => {
            (StatusCode::OK, Json(WhatIfAnswer::Done(answer)))
        }
        services::whatif::WhatIfOutcome::Running(job) => {
            (StatusCode::ACCEPTED, Json(WhatIfAnswer::Running { job }))
        }
    })
}

/// Stop a background job
///
/// The job stops at its next step and reports `cancelled`; a finished job is left as it is.
#[utoipa::path(delete, path = "/jobs/{id}", tag = "Policies", operation_id = "cancelJob",
    params(super::Id), responses((status = 200, description = "The job.", body = promptly::job::JobView)))]
pub(crate) async fn cancel_job(State(state): State<AppState>, Id(id): Id) -> Api<JobView> {
    let id = u64::try_from(id).map_err(|_| ApiError::NotFound)?;
    let job = state.jobs().cancel(id);
    job.map(Json).ok_or(ApiError::NotFound)
}

/// Delete a policy
///
/// Conversations keep their version. Refused (409) while it is the default policy.
#[utoipa::path(delete, path = "/policies/{id}", tag = "Policies", operation_id = "deletePolicy",
    params(super::Id), responses((status = 204, description = "The policy is deleted."), (status = 409, response = responses::Conflict)))]
async fn remove(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    services::policies::delete(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The default policy
///
/// The policy new conversations start with, or `null`.
#[utoipa::path(get, path = "/settings/default-policy", tag = "Policies", operation_id = "getDefaultPolicy",
    responses((status = 200, description = "The default policy's id.", body = crate::services::policies::DefaultPolicy)))]
async fn get_default(State(state): State<AppState>) -> Api<serde_json::Value> {
    Ok(Json(json!({"policy": state.store.default_policy().await?})))
}

/// Set the default policy
///
/// `null` removes the default.
#[utoipa::path(put, path = "/settings/default-policy", tag = "Policies", operation_id = "setDefaultPolicy",
    request_body = crate::services::policies::DefaultPolicy, responses((status = 200, description = "The default policy now.", body = crate::services::policies::DefaultPolicy), (status = 404, response = responses::MissingReference)))]
async fn set_default(
    State(state): State<AppState>,
    Object(body): Object,
) -> Api<serde_json::Value> {
    let policy = services::policies::set_default(&state, body).await?;
    Ok(Json(json!({ "policy": policy })))
}
