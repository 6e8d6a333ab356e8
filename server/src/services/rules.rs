//! Automation rules: create, change, enable or disable, move, reorder, delete. Bodies are
//! the rule JSON of `promptly::rules`, validated against the policies and calendars that
//! exist now; a webhook secret sent back as [`MASK`] keeps the stored one.

use crate::http::error::ApiError;
use crate::services::audit;
use crate::state::AppState;
use crate::store::{RuleRecord, StoreError};
use promptly::account::FieldError;
use promptly::audit::Entity;
use promptly::rules::{parse_rule, Action, RuleDefinition};
use serde_json::Value;
use std::collections::HashSet;

/// What a webhook's secret reads as.
pub const MASK: &str = "********";

/// Puts the stored secrets back where a body sends [`MASK`]: a masked webhook keeps the
/// secret of the stored webhook with the same URL (the one at the same place in the list
/// when there are several). A masked secret with no stored webhook of that URL (a new URL,
/// or a new rule) is an error on its path: the secret must be sent again.
fn unmask(body: &mut Value, stored: &[Action], errors: &mut Vec<FieldError>) {
    let Some(actions) = body.get_mut("actions").and_then(Value::as_array_mut) else {
        return;
    };
    for (i, action) in actions.iter_mut().enumerate() {
        let Some(obj) = action.as_object_mut() else {
            continue;
        };
        if obj.get("type").and_then(Value::as_str) != Some("webhook")
            || obj.get("secret").and_then(Value::as_str) != Some(MASK)
        {
            continue;
        }
        let url = obj
            .get("url")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("");
        let same_url = |a: &Action| match a {
            Action::Webhook { url: u, secret } if u == url => Some(secret.clone()),
            _ => None,
        };
        let kept = stored
            .get(i)
            .and_then(same_url)
            .or_else(|| stored.iter().find_map(same_url));
        match kept {
            Some(secret) => {
                obj.insert("secret".into(), Value::String(secret));
            }
            // The mask names a stored secret that does not exist: like an id that names no
            // record, 404 with the field.
            None => errors.push(FieldError::missing(
                format!("actions[{i}].secret"),
                format!("{MASK:?} keeps the stored secret of a webhook with this URL; there is none, so send the secret"),
            )),
        }
    }
}

/// Validates a rule body against the policies and calendars that exist now; `stored` is the
/// rule being replaced (for masked secrets).
/// The ids of `records`.
fn ids<T>(records: Vec<T>, id: fn(&T) -> i64) -> HashSet<i64> {
    records.iter().map(id).collect()
}

pub async fn parse(
    state: &AppState,
    mut body: Value,
    stored: Option<&RuleDefinition>,
) -> Result<RuleDefinition, ApiError> {
    let mut errors = Vec::new();
    unmask(
        &mut body,
        stored.map_or(&[][..], |r| r.actions.as_slice()),
        &mut errors,
    );
    let policies = ids(state.store.list_policies().await?, |p| p.id);
    let calendars = ids(state.store.list_calendars().await?, |c| c.id);
    let parsed = parse_rule(
        &body,
        |id| policies.contains(&id),
        |id| calendars.contains(&id),
    );
    if let Err(more) = &parsed {
        errors.extend(more.iter().cloned());
    }
    // The network's part of a webhook URL: the domain checked its form (a field it refused
    // is not checked again).
    for refused in refused_urls(state, &body).await {
        if !errors.iter().any(|e| e.field == refused.field) {
            errors.push(refused);
        }
    }
    match parsed {
        Ok(rule) if errors.is_empty() => Ok(rule),
        _ => Err(ApiError::Unprocessable { errors }),
    }
}

/// The webhook URLs of a rule body that the egress guard refuses, as errors on
/// `actions[i].url` (a host that is not a public address and not allowed).
async fn refused_urls(state: &AppState, body: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(actions) = body.get("actions").and_then(Value::as_array) else {
        return errors;
    };
    for (i, action) in actions.iter().enumerate() {
        if action.get("type").and_then(Value::as_str) != Some("webhook") {
            continue;
        }
        let Some(url) = action.get("url").and_then(Value::as_str) else {
            continue;
        };
        let field = format!("actions[{i}].url");
        if let Some(e) = state.egress.guard().field_error(field, url).await {
            errors.push(e);
        }
    }
    errors
}

/// What [`order_ids`] takes, for the API document.
pub fn order_schema() -> Value {
    let ids = serde_json::json!({"type": "array", "items": {"type": "integer", "format": "int64"}});
    serde_json::json!({"oneOf": [
        {"type": "object", "required": ["ids"], "additionalProperties": false, "properties": {"ids": ids}},
        ids,
    ]})
}

/// The ids of a reorder body: `{"ids": [3, 1, 2]}` or the bare list `[3, 1, 2]`.
fn order_ids(body: &Value) -> Result<Vec<i64>, ApiError> {
    let list = match body {
        Value::Array(items) => items,
        Value::Object(obj) => {
            if let Some(key) = obj.keys().find(|k| *k != "ids") {
                return Err(ApiError::field(key, "is not a known field"));
            }
            match obj.get("ids") {
                Some(Value::Array(items)) => items,
                _ => return Err(ApiError::field("ids", "must be a list of rule ids")),
            }
        }
        _ => {
            return Err(ApiError::field(
                "body",
                "must be {\"ids\": [...]} or a list of rule ids",
            ))
        }
    };
    let mut errors = Vec::new();
    let ids: Vec<i64> = list
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let id = v.as_i64();
            if id.is_none() {
                errors.push(FieldError::new(format!("ids[{i}]"), "must be a rule id"));
            }
            id
        })
        .collect();
    if errors.is_empty() {
        Ok(ids)
    } else {
        Err(ApiError::Unprocessable { errors })
    }
}

/// Appends a rule after the last one.
pub async fn create(state: &AppState, body: Value) -> Result<RuleRecord, ApiError> {
    let rule = parse(state, body, None).await?;
    let rec = state.store.create_rule(&rule, state.clock.now()).await?;
    audit::record_id(
        state,
        Entity::Rule,
        rec.id,
        "create",
        audit::NONE,
        Some(&rec),
    )
    .await;
    Ok(rec)
}

/// Replaces a rule's definition, keeping its place.
pub async fn update(state: &AppState, id: i64, body: Value) -> Result<RuleRecord, ApiError> {
    let stored = state.store.rule(id).await?.ok_or(ApiError::NotFound)?;
    let rule = parse(state, body, Some(&stored.definition)).await?;
    let rec = state
        .store
        .update_rule(id, &rule, state.clock.now())
        .await?;
    audit::record_id(state, Entity::Rule, id, "update", Some(&stored), Some(&rec)).await;
    Ok(rec)
}

/// Turns a rule on or off.
pub async fn toggle(state: &AppState, id: i64) -> Result<RuleRecord, ApiError> {
    let before = state.store.rule(id).await?.ok_or(ApiError::NotFound)?;
    let mut definition = before.definition.clone();
    definition.enabled = !definition.enabled;
    let rec = state
        .store
        .update_rule(id, &definition, state.clock.now())
        .await?;
    let action = if definition.enabled {
        "enable"
    } else {
        "disable"
    };
    audit::record_id(state, Entity::Rule, id, action, Some(&before), Some(&rec)).await;
    Ok(rec)
}

pub async fn delete(state: &AppState, id: i64) -> Result<(), ApiError> {
    let before = state.store.rule(id).await?;
    state.store.delete_rule(id, state.clock.now()).await?;
    audit::record_id(
        state,
        Entity::Rule,
        id,
        "delete",
        before.as_ref(),
        audit::NONE,
    )
    .await;
    Ok(())
}

/// Puts the rules in the order of a body that lists every rule id once; returns them.
pub async fn reorder(state: &AppState, body: Value) -> Result<Vec<RuleRecord>, ApiError> {
    let ids = order_ids(&body)?;
    // A list that is not the current rules' ids is stale (a rule was added or removed
    // since the caller read them): a conflict with the stored rules, not a malformed body.
    match state.store.reorder_rules(&ids).await {
        Err(StoreError::Invalid {
            field: "ids",
            message,
        }) => {
            return Err(ApiError::Conflict(format!(
                "ids {message}: the rules changed; read them again"
            )))
        }
        other => other?,
    }
    let order = serde_json::json!({ "ids": ids });
    let change = audit::Change {
        entity: Entity::Rule,
        id: None,
        action: "reorder",
        before: audit::NONE,
        after: Some(&order),
    };
    audit::record(state, change).await;
    Ok(state.store.list_rules().await?)
}

/// Moves a rule one place earlier (`up`) or later; `NotFound` for an unknown rule, a
/// conflict when rules were added or removed meanwhile.
pub async fn move_one(state: &AppState, id: i64, up: bool) -> Result<(), ApiError> {
    let ids: Vec<i64> = state
        .store
        .list_rules()
        .await?
        .iter()
        .map(|r| r.id)
        .collect();
    let before = serde_json::json!({ "ids": ids });
    let order = moved(ids, id, up).ok_or(ApiError::NotFound)?;
    match state.store.reorder_rules(&order).await {
        Ok(()) => {}
        Err(StoreError::Invalid { .. }) => {
            return Err(ApiError::Conflict(
                "The rules changed meanwhile; nothing was moved.".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let after = serde_json::json!({ "ids": order });
    let change = audit::Change {
        entity: Entity::Rule,
        id: Some(id.to_string()),
        action: if up { "move_up" } else { "move_down" },
        before: Some(&before),
        after: Some(&after),
    };
    audit::record(state, change).await;
    Ok(())
}

/// The order of `ids` with `id` moved one place up or down (unchanged at the ends).
fn moved(mut ids: Vec<i64>, id: i64, up: bool) -> Option<Vec<i64>> {
    let i = ids.iter().position(|x| *x == id)?;
    let j = if up { i.checked_sub(1) } else { Some(i + 1) };
    if let Some(j) = j.filter(|j| *j < ids.len()) {
        ids.swap(i, j);
    }
    Some(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn webhook(url: &str, secret: &str) -> Action {
        Action::Webhook {
            url: url.into(),
            secret: secret.into(),
        }
    }

    #[test]
    fn a_masked_secret_keeps_the_stored_one_of_the_same_url() {
        let stored = [
            webhook("https://a.example/h", "sa"),
            webhook("https://b.example/h", "sb"),
        ];
        let mut body = json!({"actions": [
            {"type": "webhook", "url": "https://b.example/h", "secret": MASK},
            {"type": "webhook", "url": " https://a.example/h ", "secret": MASK},
            {"type": "webhook", "url": "https://a.example/h", "secret": "new"},
            {"type": "webhook", "url": "https://c.example/h", "secret": MASK},
        ]});
        let mut errors = Vec::new();
        unmask(&mut body, &stored, &mut errors);
        assert_eq!(body["actions"][0]["secret"], "sb");
        assert_eq!(body["actions"][1]["secret"], "sa");
        assert_eq!(body["actions"][2]["secret"], "new");
        assert_eq!(body["actions"][3]["secret"], MASK);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["actions[3].secret"]);
    }

    #[test]
    fn reorder_bodies() {
        assert_eq!(
            order_ids(&json!({"ids": [3, 1, 2]})).unwrap(),
            vec![3, 1, 2]
        );
        assert_eq!(order_ids(&json!([2, 1])).unwrap(), vec![2, 1]);
        for bad in [
            json!({}),
            json!({"ids": "1,2"}),
            json!({"ids": [1, "x"]}),
            json!(7),
        ] {
            assert!(
                matches!(order_ids(&bad), Err(ApiError::Unprocessable { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn moving_swaps_with_the_neighbour() {
        assert_eq!(moved(vec![1, 2, 3], 2, true), Some(vec![2, 1, 3]));
        assert_eq!(moved(vec![1, 2, 3], 2, false), Some(vec![1, 3, 2]));
        assert_eq!(moved(vec![1, 2, 3], 1, true), Some(vec![1, 2, 3]));
        assert_eq!(moved(vec![1, 2, 3], 3, false), Some(vec![1, 2, 3]));
        assert_eq!(moved(vec![1, 2, 3], 9, false), None);
    }
}
