//! The rules page's forms: the builder (create, edit), enable/disable, move up/down and
//! delete. The builder's rows become the rule JSON of `/api/v1/rules` and are validated by
//! the API's own `rules::parse` (so masked webhook secrets keep the stored ones), then each
//! form answers 303 back to `/rules` with a notice. The builder posts to the page's own URL
//! (`/rules`, `/rules?edit=ID`): a failed save answers 422 with the page rendered from what
//! was typed and the field errors (`err_conditions[1].op`, `http::form_echo`), so long
//! templates survive and the page works the same with JavaScript off and hydrated.

use super::admin_forms::push_error;
use super::error::ApiError;
use super::form_echo::Editing;
use super::rules::MASK;
use super::{see_other, unavailable};
use crate::services;
use crate::state::AppState;
use axum::extract::{Form, Path, Query, State};
use axum::response::Response;
use promptly::account::FieldError;
use promptly::rules::{Op, RuleEvent, ValueKind};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const PAGE: &str = "/rules";

/// One condition row of the builder: `c{i}_field`, `c{i}_op`, `c{i}_value` (several values
/// from a multiple select are joined with commas).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ConditionRow {
    pub field: String,
    pub op: String,
    pub value: String,
}

/// One action row: `a{i}_type` and the inputs its type needs (`a{i}_policy`,
/// `a{i}_priority`, `a{i}_text` for a label, team or owner, `a{i}_template`, `a{i}_url`,
/// `a{i}_secret`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ActionRow {
    pub kind: String,
    /// A notify action's recipients: `owner`, `team` or `users` (named in `text`).
    pub to: String,
    pub policy: String,
    pub priority: String,
    pub text: String,
    pub template: String,
    pub url: String,
    pub secret: String,
}

/// The builder as posted; rows without a field (conditions) or a type (actions) are empty
/// and ignored.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RuleForm {
    pub name: String,
    pub enabled: bool,
    pub event: String,
    pub after: String,
    pub matching: String,
    pub stop: bool,
    pub conditions: Vec<ConditionRow>,
    pub actions: Vec<ActionRow>,
}

/// `c12_op` → (12, "op").
fn row_key(key: &str, prefix: char) -> Option<(usize, &str)> {
    let rest = key.strip_prefix(prefix)?;
    let (n, part) = rest.split_once('_')?;
    Some((n.parse().ok()?, part))
}

impl RuleForm {
    pub(crate) fn from_pairs(pairs: &[(String, String)]) -> Self {
        let mut f = RuleForm::default();
        let mut conditions: BTreeMap<usize, ConditionRow> = BTreeMap::new();
        let mut actions: BTreeMap<usize, ActionRow> = BTreeMap::new();
        for (k, v) in pairs {
            match k.as_str() {
                "name" => f.name = v.clone(),
                "enabled" => f.enabled = true,
                "event" => f.event = v.clone(),
                "after" => f.after = v.clone(),
                "match" => f.matching = v.clone(),
                "stop" => f.stop = true,
                _ => {
                    if let Some((i, part)) = row_key(k, 'c') {
                        let row = conditions.entry(i).or_default();
                        match part {
                            "field" => row.field = v.clone(),
                            "op" => row.op = v.clone(),
                            "value" if row.value.is_empty() => row.value = v.clone(),
                            "value" if !v.is_empty() => {
                                row.value.push_str(", ");
                                row.value.push_str(v);
                            }
                            _ => {}
                        }
                    } else if let Some((i, part)) = row_key(k, 'a') {
                        let row = actions.entry(i).or_default();
                        let slot = match part {
                            "type" => &mut row.kind,
                            "to" => &mut row.to,
                            "policy" => &mut row.policy,
                            "priority" => &mut row.priority,
                            "text" => &mut row.text,
                            "template" => &mut row.template,
                            "url" => &mut row.url,
                            "secret" => &mut row.secret,
                            _ => continue,
                        };
                        *slot = v.clone();
                    }
                }
            }
        }
        f.conditions = conditions
            .into_values()
            .filter(|c| !c.field.trim().is_empty())
            .collect();
        f.actions = actions
            .into_values()
            .filter(|a| !a.kind.trim().is_empty())
            .collect();
        f
    }

    /// What was typed, for the page to show again after an error: the non-empty rows
    /// renumbered from 0 (so row `i` is `conditions[i]` of the errors). A new secret is not
    /// sent back in a URL; the mask is.
    pub(crate) fn values(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("name".to_string(), self.name.clone()),
            ("event".into(), self.event.clone()),
            ("after".into(), self.after.clone()),
            ("match".into(), self.matching.clone()),
        ];
        if self.enabled {
            v.push(("enabled".into(), "on".into()));
        }
        if self.stop {
            v.push(("stop".into(), "on".into()));
        }
        for (i, c) in self.conditions.iter().enumerate() {
            v.push((format!("c{i}_field"), c.field.clone()));
            v.push((format!("c{i}_op"), c.op.clone()));
            v.push((format!("c{i}_value"), c.value.clone()));
        }
        for (i, a) in self.actions.iter().enumerate() {
            let secret = if a.secret == MASK { MASK } else { "" };
            for (part, value) in [
                ("type", a.kind.as_str()),
                ("to", &a.to),
                ("policy", &a.policy),
                ("priority", &a.priority),
                ("text", &a.text),
                ("template", &a.template),
                ("url", &a.url),
                ("secret", secret),
            ] {
                if !value.is_empty() {
                    v.push((format!("a{i}_{part}"), value.to_string()));
                }
            }
        }
        v
    }

    /// The builder as the API's rule body; what does not parse goes to the shared
    /// validation as typed, which explains what is wrong with it.
    pub(crate) fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("name".into(), json!(self.name));
        body.insert("enabled".into(), json!(self.enabled));
        body.insert("event".into(), json!(self.event.trim()));
        // `after` means something only for sla.overdue; elsewhere it is ignored.
        if self.event.trim() == RuleEvent::SlaOverdue.as_str() {
            let after = self.after.trim();
            body.insert(
                "after".into(),
                if after.is_empty() {
                    Value::Null
                } else {
                    json!(after)
                },
            );
        }
        body.insert(
            "match".into(),
            json!(if self.matching.is_empty() {
                "all"
            } else {
                self.matching.as_str()
            }),
        );
        let conditions: Vec<Value> = self.conditions.iter().map(condition_body).collect();
        body.insert("conditions".into(), Value::Array(conditions));
        let actions: Vec<Value> = self.actions.iter().map(action_body).collect();
        body.insert("actions".into(), Value::Array(actions));
        body.insert("stop".into(), json!(self.stop));
        Value::Object(body)
    }
}

/// "a, b ,c" → ["a", "b", "c"].
fn list(text: &str) -> Vec<Value> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Value::String(s.to_string()))
        .collect()
}

fn condition_body(c: &ConditionRow) -> Value {
    let mut obj = Map::new();
    obj.insert("field".into(), json!(c.field.trim()));
    obj.insert("op".into(), json!(c.op.trim()));
    let value = c.value.trim();
    let kind = Op::parse(c.op.trim()).map(Op::value_kind);
    let v = match kind {
        Some(ValueKind::None) => None,
        Some(ValueKind::List) => Some(Value::Array(list(value))),
        Some(ValueKind::Calendar) => Some(
            value
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| json!(value)),
        ),
        Some(ValueKind::Text) => Some(json!(value)),
        None => (!value.is_empty()).then(|| json!(value)),
    };
    if let Some(v) = v {
        obj.insert("value".into(), v);
    }
    Value::Object(obj)
}

fn action_body(a: &ActionRow) -> Value {
    let kind = a.kind.trim();
    let mut obj = Map::new();
    obj.insert("type".into(), json!(kind));
    match kind {
        "apply_policy" => {
            let p = a.policy.trim();
            let v = if p.is_empty() {
                Value::Null
            } else {
                p.parse::<i64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| json!(p))
            };
            obj.insert("policy".into(), v);
        }
        "set_priority" => {
            obj.insert("priority".into(), json!(a.priority.trim()));
        }
        "add_label" | "remove_label" => {
            obj.insert("label".into(), json!(a.text));
        }
        "assign_team" => {
            obj.insert("team".into(), json!(a.text));
        }
        "assign_owner" => {
            obj.insert("owner".into(), json!(a.text));
        }
        "send_message" => {
            obj.insert("template".into(), json!(a.template));
        }
        "webhook" => {
            obj.insert("url".into(), json!(a.url.trim()));
            obj.insert("secret".into(), json!(a.secret));
        }
        "notify" => {
            match a.to.trim() {
                "team" => obj.insert("team".into(), json!(a.text)),
                "users" => obj.insert(
                    "users".into(),
                    json!(a
                        .text
                        .split([',', ' ', ';'])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()),
                ),
                _ => obj.insert("owner".into(), json!(true)),
            };
            obj.insert("text".into(), json!(a.template));
        }
        _ => {}
    }
    Value::Object(obj)
}

/// A validation error's path as the query key it comes back in: `err_<path>`, and
/// `err_form` for the rule as a whole.
fn error_key(e: &FieldError) -> String {
    if e.field.is_empty() {
        "err_form".into()
    } else {
        format!("err_{}", e.field)
    }
}

/// The page again (422) at the URL the form posted to, with what was typed and the errors.
fn back_with_errors(edit: Option<i64>, form: &RuleForm, errors: &[FieldError]) -> Response {
    let mut shown = vec![("form".to_string(), "1".to_string())];
    shown.extend(form.values());
    for e in errors {
        push_error(&mut shown, error_key(e), e.message.clone());
    }
    let path = edit.map_or(PAGE.to_string(), |id| format!("{PAGE}?edit={id}"));
    super::form_echo::show_again(path, shown)
}

async fn save(state: &AppState, id: Option<i64>, form: RuleForm) -> Response {
    let saved = match id {
        None => services::rules::create(state, form.body()).await,
        Some(id) => services::rules::update(state, id, form.body()).await,
    };
    match saved {
        Ok(rec) if id.is_none() => see_other(
            PAGE,
            &[("notice", "created"), ("name", &rec.definition.name)],
        ),
        Ok(rec) => see_other(
            PAGE,
            &[
                ("notice", "updated"),
                ("name", &rec.definition.name),
                ("edit", &rec.id.to_string()),
            ],
        ),
        Err(ApiError::Unprocessable { errors }) => back_with_errors(id, &form, &errors),
        Err(ApiError::NotFound) => see_other(PAGE, &[("error", "not_found")]),
        Err(e) => unavailable(e),
    }
}

pub(super) async fn save_rule(
    State(state): State<AppState>,
    Query(editing): Query<Editing>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    save(&state, editing.edit, RuleForm::from_pairs(&pairs)).await
}

pub(super) async fn toggle_rule(State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    match services::rules::toggle(&state, id).await {
        Ok(rec) => see_other(
            PAGE,
            &[
                (
                    "notice",
                    if rec.definition.enabled {
                        "enabled"
                    } else {
                        "disabled"
                    },
                ),
                ("name", &rec.definition.name),
            ],
        ),
        Err(ApiError::NotFound) => see_other(PAGE, &[("error", "not_found")]),
        Err(e) => unavailable(e),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct MoveForm {
    /// `up` (earlier) or `down` (later).
    #[serde(default)]
    dir: String,
}

pub(super) async fn move_rule(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<MoveForm>,
) -> Response {
    let up = match form.dir.as_str() {
        "up" => true,
        "down" => false,
        _ => return see_other(PAGE, &[("error", "bad_move")]),
    };
    match services::rules::move_one(&state, id, up).await {
        Ok(()) => see_other(PAGE, &[("notice", "moved"), ("id", &id.to_string())]),
        Err(ApiError::NotFound) => see_other(PAGE, &[("error", "not_found")]),
        // A rule created or deleted meanwhile: the list changed under us.
        Err(ApiError::Conflict(_)) => see_other(PAGE, &[("error", "changed")]),
        Err(e) => unavailable(e),
    }
}

pub(super) async fn delete_rule(State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    match services::rules::delete(&state, id).await {
        Ok(()) => see_other(PAGE, &[("notice", "deleted")]),
        Err(ApiError::NotFound) => see_other(PAGE, &[("error", "not_found")]),
        Err(e) => unavailable(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::form_pairs as pairs;

    #[test]
    fn the_builder_becomes_the_api_body_ignoring_empty_rows() {
        let f = RuleForm::from_pairs(&pairs(&[
            ("name", "BigCorp"),
            ("enabled", "on"),
            ("event", "conversation.created"),
            ("after", "30m"),
            ("match", "all"),
            ("c0_field", "contact.email"),
            ("c0_op", "ends_with"),
            ("c0_value", "@bigcorp.com"),
            ("c1_field", ""),
            ("c1_op", "is"),
            ("c2_field", "priority"),
            ("c2_op", "in"),
            ("c2_value", "high"),
            ("c2_value", "urgent"),
            ("c3_field", "owner"),
            ("c3_op", "is_set"),
            ("c3_value", "leftover"),
            ("a0_type", "apply_policy"),
            ("a0_policy", "12"),
            ("a0_text", "ignored"),
            ("a1_type", ""),
            ("a2_type", "webhook"),
            ("a2_url", " https://h.example/x "),
            ("a2_secret", "s3cret"),
        ]));
        let body = f.body();
        assert_eq!(
            body,
            json!({"name": "BigCorp", "enabled": true, "event": "conversation.created",
                   "match": "all", "stop": false,
                   "conditions": [
                       {"field": "contact.email", "op": "ends_with", "value": "@bigcorp.com"},
                       {"field": "priority", "op": "in", "value": ["high", "urgent"]},
                       {"field": "owner", "op": "is_set"}],
                   "actions": [{"type": "apply_policy", "policy": 12},
                               {"type": "webhook", "url": "https://h.example/x", "secret": "s3cret"}]})
        );
        let values = f.values();
        assert!(values.contains(&("c1_field".into(), "priority".into())));
        assert!(values.contains(&("a1_type".into(), "webhook".into())));
        assert!(
            !values.iter().any(|(_, v)| v == "s3cret"),
            "a typed secret is not put in a URL"
        );
    }

    #[test]
    fn after_is_only_sent_for_overdue_rules() {
        let f = RuleForm::from_pairs(&pairs(&[("event", "sla.overdue"), ("after", "2h")]));
        assert_eq!(f.body()["after"], json!("2h"));
        let f = RuleForm::from_pairs(&pairs(&[("event", "sla.overdue")]));
        assert_eq!(f.body()["after"], Value::Null);
    }
}
