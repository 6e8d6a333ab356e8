//! Contracts and the team → department mapping: create, change, delete, set. A change of
//! the mapping or of a contract's terms is seen by the compliance pages at once.

use crate::http::error::ApiError;
use crate::services::audit;
use crate::state::AppState;
use crate::store::{ContractRecord, TeamDepartment};
use promptly::account::FieldError;
use promptly::audit::Entity;
use promptly::compliance::Contract;
use promptly::limits::TEAM_LEN;
use serde_json::Value;

/// Validates a contract and checks that the policies its scope names exist.
pub async fn parse(state: &AppState, body: Value) -> Result<Contract, ApiError> {
    let contract =
        Contract::from_json(body).map_err(|errors| ApiError::Unprocessable { errors })?;
    let mut errors = Vec::new();
    for (i, id) in contract.scope.policies.iter().enumerate() {
        if state.store.policy(*id).await?.is_none() {
            errors.push(FieldError::missing(
                format!("scope.policies[{i}]"),
                format!("there is no policy {id}"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(contract)
    } else {
        Err(ApiError::Unprocessable { errors })
    }
}

/// Validates a mapping: `teams[i].team` and `.department` non-empty, at most `TEAM_LEN`
/// characters, each team once.
pub fn parse_departments(body: &Value) -> Result<Vec<TeamDepartment>, ApiError> {
    let Some(items) = body.get("teams").and_then(Value::as_array) else {
        return Err(ApiError::field(
            "teams",
            "must be a list of {team, department}",
        ));
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let text = |field: &str, errors: &mut Vec<FieldError>| -> String {
            match item.get(field).and_then(Value::as_str).map(str::trim) {
                Some(s) if !s.is_empty() && s.chars().count() <= TEAM_LEN => s.to_string(),
                _ => {
                    errors.push(FieldError::new(
                        format!("teams[{i}].{field}"),
                        format!("must be a non-empty text of at most {TEAM_LEN} characters"),
                    ));
                    String::new()
                }
            }
        };
        let team = text("team", &mut errors);
        let department = text("department", &mut errors);
        if !team.is_empty() && !seen.insert(crate::store::facts::key(&team)) {
            // Taken by an earlier entry: alone, 409 with the field, as for an e-mail that
            // another user has.
            errors.push(FieldError::taken(
                format!("teams[{i}].team"),
                "is listed twice",
            ));
        }
        out.push(TeamDepartment { team, department });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::Unprocessable { errors })
    }
}

/// Creates a contract from an API body.
pub async fn create(state: &AppState, body: Value) -> Result<ContractRecord, ApiError> {
    let contract = parse(state, body).await?;
    let rec = state
        .store
        .create_contract(&contract, state.clock.now())
        .await?;
    audit::record_id(
        state,
        Entity::Contract,
        rec.id,
        "create",
        audit::NONE,
        Some(&rec),
    )
    .await;
    crate::reports::sync_rollups_soon(state);
    Ok(rec)
}

/// Replaces a contract's terms.
pub async fn update(state: &AppState, id: i64, body: Value) -> Result<ContractRecord, ApiError> {
    let Some(before) = state.store.contract(id).await? else {
        return Err(ApiError::NotFound);
    };
    let contract = parse(state, body).await?;
    let rec = state
        .store
        .update_contract(id, &contract, state.clock.now())
        .await?;
    audit::record_id(
        state,
        Entity::Contract,
        id,
        "update",
        Some(&before),
        Some(&rec),
    )
    .await;
    crate::reports::sync_rollups_soon(state);
    Ok(rec)
}

pub async fn delete(state: &AppState, id: i64) -> Result<(), ApiError> {
    let before = state.store.contract(id).await?;
    state.store.delete_contract(id, state.clock.now()).await?;
    audit::record_id(
        state,
        Entity::Contract,
        id,
        "delete",
        before.as_ref(),
        audit::NONE,
    )
    .await;
    crate::reports::sync_rollups_soon(state);
    Ok(())
}

/// Replaces the whole team → department mapping (`{"teams": [{team, department}]}`);
/// returns it as stored. The compliance breakdowns by department change at once.
pub async fn set_departments(
    state: &AppState,
    body: Value,
) -> Result<Vec<TeamDepartment>, ApiError> {
    let mapping = parse_departments(&body)?;
    let before = state.store.team_departments().await?;
    state.store.set_team_departments(&mapping).await?;
    state.compliance.bump();
    let after = state.store.team_departments().await?;
    let change = audit::Change {
        entity: Entity::Departments,
        id: None,
        action: "update",
        // The shape `PUT /departments` takes.
        before: Some(&serde_json::json!({ "teams": before })),
        after: Some(&serde_json::json!({ "teams": after })),
    };
    audit::record(state, change).await;
    Ok(after)
}
