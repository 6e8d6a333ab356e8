//! SLA policies: create, change (a new version once a conversation uses the current one,
//! optionally applied to the open conversations), delete, and the default policy.

use super::calendars::{named, with_path};
use crate::http::error::ApiError;
use crate::services::audit;
use crate::services::conversations::{reevaluate, Reevaluation};
use crate::state::AppState;
use crate::store::{PolicyInput, PolicyRecord};
use promptly::account::FieldError;
use promptly::audit::Entity;
use promptly::Policy;
use serde::Deserialize;

/// Validates a policy body (the API's and the policies page's form, once turned into JSON).
pub async fn parse(state: &AppState, body: serde_json::Value) -> Result<PolicyInput, ApiError> {
    let mut errors = Vec::new();
    let (name, description, mut rest) = named(body, &mut errors);
    let calendar_id = match rest.as_object_mut().and_then(|o| o.remove("calendar_id")) {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(id) if state.store.calendar(id).await?.is_some() => Some(id),
            _ => {
                errors.push(FieldError::missing(
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

/// Creates a policy (version 1) from an API body.
pub async fn create(state: &AppState, body: serde_json::Value) -> Result<PolicyRecord, ApiError> {
    let input = parse(state, body).await?;
    let rec = state.store.create_policy(&input, state.clock.now()).await?;
    audit::record_id(
        state,
        Entity::Policy,
        rec.id,
        "create",
        audit::NONE,
        Some(&rec),
    )
    .await;
    Ok(rec)
}

/// Changes a policy from an API body; see [`save_update`].
pub async fn update(
    state: &AppState,
    id: i64,
    body: serde_json::Value,
    apply_to_open: bool,
) -> Result<(PolicyRecord, Reevaluation), ApiError> {
    let input = parse(state, body).await?;
    save_update(state, id, &input, apply_to_open).await
}

/// Stores a policy change (a new version when conversations use the current one); with
/// `apply_to_open`, moves the open conversations to it and re-evaluates them. Returns the
/// new current version and the re-evaluation (all done, or a background job).
async fn save_update(
    state: &AppState,
    id: i64,
    input: &PolicyInput,
    apply_to_open: bool,
) -> Result<(PolicyRecord, Reevaluation), ApiError> {
    let now = state.clock.now();
    let before = state.store.policy(id).await?;
    let rec = state.store.update_policy(id, input, now).await?;
    audit::record_id(
        state,
        Entity::Policy,
        id,
        "update",
        before.as_ref(),
        Some(&rec),
    )
    .await;
    if !apply_to_open {
        return Ok((rec, Reevaluation::Done(0)));
    }
    let moved = state.store.move_open_conversations(id, rec.version).await?;
    let outcome = reevaluate(state, moved).await?;
    Ok((rec, outcome))
}

/// Deletes a policy (409 while it is the default).
pub async fn delete(state: &AppState, id: i64) -> Result<(), ApiError> {
    let before = state.store.policy(id).await?;
    state.store.delete_policy(id).await?;
    audit::record_id(
        state,
        Entity::Policy,
        id,
        "delete",
        before.as_ref(),
        audit::NONE,
    )
    .await;
    Ok(())
}

/// The default policy: the one a conversation gets when no rule or event names one.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DefaultPolicy {
    /// Required, `null` included: an empty body does not clear the default by accident.
    #[serde(deserialize_with = "Option::deserialize")]
    #[schema(required = true)]
    pub policy: Option<i64>,
}

/// Sets (`{"policy": id}`) or clears (`{"policy": null}`) the default policy; returns it.
pub async fn set_default(
    state: &AppState,
    body: serde_json::Value,
) -> Result<Option<i64>, ApiError> {
    let body: DefaultPolicy =
        with_path(body, "").map_err(|e| ApiError::Unprocessable { errors: vec![e] })?;
    if let Some(id) = body.policy {
        if state.store.policy(id).await?.is_none() {
            return Err(ApiError::Unprocessable {
                errors: vec![FieldError::missing(
                    "policy",
                    format!("{id} is not a policy's id"),
                )],
            });
        }
    }
    let before = state.store.default_policy().await?;
    state.store.set_default_policy(body.policy).await?;
    let change = audit::Change {
        entity: Entity::DefaultPolicy,
        id: None,
        action: "update",
        before: Some(&serde_json::json!({ "policy": before })),
        after: Some(&serde_json::json!({ "policy": body.policy })),
    };
    audit::record(state, change).await;
    Ok(body.policy)
}
