//! Validation: [`parse_rule`] turns a rule's JSON into a [`RuleDefinition`], reporting every
//! problem with the path of the offending part, and compiles each condition for evaluation.

use super::model::*;
use crate::account::{validate_email, FieldError};
use crate::conversation::Priority;
use crate::duration::SlaDuration;
use crate::limits::{
    LABEL_LEN, RULE_ACTIONS, RULE_CONDITIONS, RULE_NAME_LEN, RULE_VALUES, RULE_VALUE_LEN,
    SECRET_LEN, TEAM_LEN, TEMPLATE_LEN, URL_LEN,
};
use crate::schema::trim;
use serde_json::{Map, Value};
use std::fmt;

const RULE_KEYS: &[&str] = &[
    "name",
    "enabled",
    "event",
    "after",
    "match",
    "conditions",
    "actions",
    "stop",
];

/// Validates a rule's JSON. `known_policy` and `known_calendar` say whether an id exists.
/// Every problem is reported, each with the path of the offending part.
pub fn parse_rule(
    json: &Value,
    known_policy: impl Fn(i64) -> bool,
    known_calendar: impl Fn(i64) -> bool,
) -> Result<RuleDefinition, Vec<FieldError>> {
    let Some(obj) = json.as_object() else {
        return Err(vec![FieldError::new("", "a rule must be a JSON object")]);
    };
    let mut errors = Vec::new();
    for key in obj.keys() {
        if !RULE_KEYS.contains(&key.as_str()) {
            errors.push(FieldError::new(key.as_str(), "is not a known field"));
        }
    }
    let name = match obj.get("name") {
        Some(Value::String(s)) if trim(s).is_empty() => {
            errors.push(FieldError::new("name", "is required"));
            String::new()
        }
        Some(Value::String(s)) if trim(s).chars().count() > RULE_NAME_LEN => {
            errors.push(FieldError::new(
                "name",
                format!("must be at most {RULE_NAME_LEN} characters"),
            ));
            String::new()
        }
        Some(Value::String(s)) => trim(s).to_string(),
        None | Some(Value::Null) => {
            errors.push(FieldError::new("name", "is required"));
            String::new()
        }
        Some(_) => {
            errors.push(FieldError::new("name", "must be a string"));
            String::new()
        }
    };
    let enabled = boolean(obj, "enabled", "", true, &mut errors);
    let stop = boolean(obj, "stop", "", false, &mut errors);
    let matching = match obj.get("match") {
        None | Some(Value::Null) => Match::All,
        Some(Value::String(s)) if s == "all" => Match::All,
        Some(Value::String(s)) if s == "any" => Match::Any,
        Some(_) => {
            errors.push(FieldError::new("match", "must be \"all\" or \"any\""));
            Match::All
        }
    };
    let events = || {
        RuleEvent::ALL
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let event = match obj.get("event") {
        Some(Value::String(s)) => RuleEvent::parse(s).or_else(|| {
            errors.push(FieldError::new(
                "event",
                format!("{s:?} is not one of: {}", events()),
            ));
            None
        }),
        None | Some(Value::Null) => {
            errors.push(FieldError::new("event", "is required"));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(
                "event",
                format!("must be one of: {}", events()),
            ));
            None
        }
    };
    let after = match obj.get("after").filter(|v| !v.is_null()) {
        None => {
            if event == Some(RuleEvent::SlaOverdue) {
                errors.push(FieldError::new(
                    "after",
                    "is required for sla.overdue rules (how long after the breach, e.g. \"30m\")",
                ));
            }
            None
        }
        Some(_) if event.is_some_and(|e| e != RuleEvent::SlaOverdue) => {
            errors.push(FieldError::new(
                "after",
                "only sla.overdue rules have an after",
            ));
            None
        }
        Some(v) => match serde_json::from_value::<SlaDuration>(v.clone()) {
            Ok(d) if d.as_secs() > 0 => Some(d),
            Ok(_) => {
                errors.push(FieldError::new("after", "must be longer than zero"));
                None
            }
            Err(e) => {
                errors.push(FieldError::new("after", e.to_string()));
                None
            }
        },
    };
    let conditions = parse_list(
        obj.get("conditions"),
        "conditions",
        RULE_CONDITIONS,
        &mut errors,
        |c, path, errors| parse_condition(c, path, event, &known_calendar, errors),
    );
    let actions = parse_list(
        obj.get("actions"),
        "actions",
        RULE_ACTIONS,
        &mut errors,
        |a, path, errors| parse_action(a, path, event, &known_policy, errors),
    );
    let no_actions = match obj.get("actions") {
        Some(Value::Array(items)) => items.is_empty(),
        Some(Value::Null) | None => true,
        Some(_) => false,
    };
    if no_actions && !stop {
        errors.push(FieldError::new(
            "actions",
            "a rule needs at least one action (or \"stop\": true)",
        ));
    }
    match event {
        Some(event) if errors.is_empty() => Ok(RuleDefinition {
            name,
            enabled,
            event,
            after,
            matching,
            conditions,
            actions,
            stop,
        }),
        _ => Err(errors),
    }
}

fn boolean(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    default: bool,
    errors: &mut Vec<FieldError>,
) -> bool {
    match obj.get(key) {
        None | Some(Value::Null) => default,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.push(FieldError::new(join(path, key), "must be true or false"));
            default
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn parse_condition(
    value: &Value,
    path: &str,
    event: Option<RuleEvent>,
    known_calendar: &impl Fn(i64) -> bool,
    errors: &mut Vec<FieldError>,
) -> Option<Condition> {
    let Some(obj) = value.as_object() else {
        errors.push(FieldError::new(
            path,
            "must be an object with field, op and value",
        ));
        return None;
    };
    for key in obj.keys() {
        if !["field", "op", "value"].contains(&key.as_str()) {
            errors.push(FieldError::new(
                format!("{path}.{key}"),
                "is not a known field",
            ));
        }
    }
    let fpath = format!("{path}.field");
    let field = required_string(obj.get("field"), &fpath, errors, |s| {
        Field::parse(s)
            .ok_or_else(|| format!("{s:?} is not a field; use one of: {}", list(&Field::ALL)))
    });
    let opath = format!("{path}.op");
    let op = required_string(obj.get("op"), &opath, errors, |s| {
        Op::parse(s)
            .ok_or_else(|| format!("{s:?} is not an operator; use one of: {}", list(&Op::ALL)))
    });
    let field = field?;
    if let Some(event) = event.filter(|e| !field.applies_to(*e)) {
        let only = RuleEvent::ALL
            .into_iter()
            .filter(|e| field.applies_to(*e))
            .map(RuleEvent::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        errors.push(FieldError::new(
            &fpath,
            format!("{field} is not known on {event} rules, only on rules for: {only}"),
        ));
    }
    let op = op?;
    if !field.ops().contains(&op) {
        errors.push(FieldError::new(
            &opath,
            format!(
                "{op} does not apply to {field}; use one of: {}",
                list(field.ops())
            ),
        ));
        return None;
    }
    let vpath = format!("{path}.value");
    let raw = obj.get("value").filter(|v| !v.is_null());
    let value = match op.value_kind() {
        ValueKind::None => {
            if raw.is_some() {
                errors.push(FieldError::new(&vpath, format!("{op} takes no value")));
                return None;
            }
            None
        }
        ValueKind::Text => match raw {
            None => {
                errors.push(FieldError::new(&vpath, "is required"));
                return None;
            }
            Some(Value::String(s)) => Some(ConditionValue::Text(text_value(s, &vpath, errors)?)),
            Some(_) => {
                errors.push(FieldError::new(&vpath, format!("{op} takes a string")));
                return None;
            }
        },
        ValueKind::List => match raw {
            None => {
                errors.push(FieldError::new(&vpath, "is required"));
                return None;
            }
            Some(Value::Array(items)) if items.is_empty() => {
                errors.push(FieldError::new(&vpath, "needs at least one value"));
                return None;
            }
            Some(Value::Array(items)) if items.len() > RULE_VALUES => {
                errors.push(FieldError::new(
                    &vpath,
                    format!("at most {RULE_VALUES} values"),
                ));
                return None;
            }
            Some(Value::Array(items)) => {
                let before = errors.len();
                let mut out = Vec::with_capacity(items.len());
                for (j, item) in items.iter().enumerate() {
                    let ipath = format!("{vpath}[{j}]");
                    match item {
                        Value::String(s) => {
                            if let Some(s) = text_value(s, &ipath, errors) {
                                out.push(s);
                            }
                        }
                        _ => errors.push(FieldError::new(ipath, "must be a string")),
                    }
                }
                if errors.len() > before {
                    return None;
                }
                Some(ConditionValue::List(out))
            }
            Some(_) => {
                errors.push(FieldError::new(
                    &vpath,
                    format!("{op} takes a list of strings"),
                ));
                return None;
            }
        },
        ValueKind::Calendar => match raw.map(|v| (v, v.as_i64())) {
            None => {
                errors.push(FieldError::new(&vpath, "is required (a calendar id)"));
                return None;
            }
            Some((_, Some(id))) if known_calendar(id) => Some(ConditionValue::Calendar(id)),
            Some((_, Some(id))) => {
                errors.push(FieldError::missing(
                    &vpath,
                    format!("calendar {id} does not exist"),
                ));
                return None;
            }
            Some(_) => {
                errors.push(FieldError::new(
                    &vpath,
                    "must be a calendar id (a whole number)",
                ));
                return None;
            }
        },
    };
    let test = compile(field, op, value.as_ref(), &vpath, errors)?;
    Some(Condition {
        field,
        op,
        value,
        test,
    })
}

/// Parses the list at `key` (absent or null: empty) of at most `max` items, each with
/// `item` at its path `key[i]`; records why a value that is no such list is refused.
fn parse_list<T>(
    value: Option<&Value>,
    key: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
    mut item: impl FnMut(&Value, &str, &mut Vec<FieldError>) -> Option<T>,
) -> Vec<T> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if items.len() > max => {
            errors.push(FieldError::new(key, format!("at most {max} {key}")));
            Vec::new()
        }
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| item(v, &format!("{key}[{i}]"), errors))
            .collect(),
        Some(_) => {
            errors.push(FieldError::new(key, format!("must be a list of {key}")));
            Vec::new()
        }
    }
}

/// Parses the required string at `path` with `parse`; records "is required", "must be a
/// string", or the message `parse` refuses the string with.
fn required_string<T>(
    value: Option<&Value>,
    path: &str,
    errors: &mut Vec<FieldError>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    match value {
        Some(Value::String(s)) => parse(s)
            .map_err(|message| errors.push(FieldError::new(path, message)))
            .ok(),
        None | Some(Value::Null) => {
            errors.push(FieldError::new(path, "is required"));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(path, "must be a string"));
            None
        }
    }
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn text_value(raw: &str, path: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    // The length counts what was sent, as the API's `maxLength` does.
    let s = raw.trim();
    if s.is_empty() {
        errors.push(FieldError::new(path, "must not be empty"));
        None
    } else if raw.chars().count() > RULE_VALUE_LEN {
        errors.push(FieldError::new(
            path,
            format!("must be at most {RULE_VALUE_LEN} characters"),
        ));
        None
    } else {
        Some(s.to_string())
    }
}

/// Compiles a checked (field, op, value) into its test, or reports a value that does not
/// fit the field (an unknown priority, an owner that is not an e-mail).
fn compile(
    field: Field,
    op: Op,
    value: Option<&ConditionValue>,
    vpath: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Test> {
    // Each text with its path: a single value is the value, a list item is `value[j]`.
    let texts: Vec<(String, &str)> = match value {
        Some(ConditionValue::Text(s)) => vec![(vpath.to_string(), s.as_str())],
        Some(ConditionValue::List(items)) => items
            .iter()
            .enumerate()
            .map(|(j, s)| (format!("{vpath}[{j}]"), s.as_str()))
            .collect(),
        _ => Vec::new(),
    };
    let first = || lowercase(texts.first().map_or("", |t| t.1));
    let test = match field {
        Field::Channel
        | Field::Visibility
        | Field::Priority
        | Field::Status
        | Field::MessageAuthor
        | Field::SlaMetric
        | Field::Band
        | Field::BandFrom => {
            let choices = field.choices().unwrap_or_default();
            let mut mask = 0u16;
            let mut ok = true;
            for (path, s) in &texts {
                let wanted = lowercase(s);
                match choices.iter().position(|c| *c == wanted) {
                    Some(i) => mask |= 1 << i,
                    None => {
                        ok = false;
                        errors.push(FieldError::new(
                            path,
                            format!("{s:?} is not a {field}; use one of: {}", choices.join(", ")),
                        ));
                    }
                }
            }
            if !ok {
                return None;
            }
            Test::Enum {
                mask,
                negate: op.negates(),
            }
        }
        Field::Team | Field::Owner | Field::ContactEmail | Field::ContactName | Field::Contract => {
            match op {
                Op::Is | Op::IsNot | Op::In | Op::NotIn => {
                    let mut values = Vec::with_capacity(texts.len());
                    let (mut when_set, mut when_unset) = (false, false);
                    let mut ok = true;
                    for (path, s) in &texts {
                        let v = lowercase(s);
                        if field == Field::Owner {
                            match v.as_str() {
                                "none" => when_unset = true,
                                "anyone" => when_set = true,
                                _ => match validate_email(&v) {
                                    Ok(email) => values.push(email),
                                    Err(_) => {
                                        ok = false;
                                        errors.push(FieldError::new(
                                            path,
                                            format!(
                                            "{s:?} is not an agent's e-mail, \"none\" or \"anyone\""
                                        ),
                                        ));
                                    }
                                },
                            }
                        } else {
                            values.push(v);
                        }
                    }
                    if !ok {
                        return None;
                    }
                    Test::OneOf {
                        values,
                        when_set,
                        when_unset,
                        negate: op.negates(),
                    }
                }
                Op::IsSet | Op::IsNotSet => Test::OneOf {
                    values: Vec::new(),
                    when_set: op == Op::IsSet,
                    when_unset: op == Op::IsNotSet,
                    negate: false,
                },
                Op::Contains => Test::Contains(first()),
                Op::StartsWith => Test::StartsWith(first()),
                Op::EndsWith if field == Field::ContactEmail && !first().contains('@') => {
                    Test::Domain(first())
                }
                Op::EndsWith => Test::EndsWith(first()),
                _ => return None,
            }
        }
        Field::Labels => match op {
            Op::Contains | Op::ContainsAny | Op::NotIn => Test::Labels {
                values: texts.iter().map(|(_, s)| lowercase(s)).collect(),
                none_of: op == Op::NotIn,
            },
            Op::IsSet => Test::HasLabels(true),
            Op::IsNotSet => Test::HasLabels(false),
            _ => return None,
        },
        Field::MessageText => Test::Words(texts.iter().map(|(_, s)| normalize_words(s)).collect()),
        Field::BusinessHours => match value {
            Some(ConditionValue::Calendar(id)) => Test::BusinessHours {
                calendar: *id,
                open: op == Op::Open,
            },
            _ => return None,
        },
    };
    Some(test)
}

fn parse_action(
    value: &Value,
    path: &str,
    event: Option<RuleEvent>,
    known_policy: &impl Fn(i64) -> bool,
    errors: &mut Vec<FieldError>,
) -> Option<Action> {
    let action = parse_action_fields(value, path, event, known_policy, errors)?;
    if event.is_some_and(RuleEvent::is_band) && !action.fits_band_events() {
        let what = if matches!(action, Action::Notify { .. }) {
            "owner: a band change has no conversation to own; notify users or a team"
        } else {
            "type: a band change has no conversation; use notify or webhook"
        };
        let (field, message) = what.split_once(": ").unwrap_or(("type", what));
        errors.push(FieldError::new(format!("{path}.{field}"), message));
        return None;
    }
    Some(action)
}

/// A template's text, refused when it uses a placeholder `event` does not have.
fn template_for(
    text: &str,
    path: String,
    event: Option<RuleEvent>,
    errors: &mut Vec<FieldError>,
) -> Option<Template> {
    match Template::parse(text) {
        Ok(template) => {
            let missing: Vec<String> = match event {
                Some(event) => template
                    .placeholders()
                    .filter(|p| !p.applies_to(event))
                    .map(|p| format!("{{{{{}}}}}", p.as_str()))
                    .collect(),
                None => Vec::new(),
            };
            if missing.is_empty() {
                Some(template)
            } else {
                errors.push(FieldError::new(
                    path,
                    format!(
                        "{} has no value on {} rules",
                        missing.join(", "),
                        event.map_or("", RuleEvent::as_str)
                    ),
                ));
                None
            }
        }
        Err(message) => {
            errors.push(FieldError::new(path, message));
            None
        }
    }
}

fn parse_action_fields(
    value: &Value,
    path: &str,
    event: Option<RuleEvent>,
    known_policy: &impl Fn(i64) -> bool,
    errors: &mut Vec<FieldError>,
) -> Option<Action> {
    let Some(obj) = value.as_object() else {
        errors.push(FieldError::new(path, "must be an object with a type"));
        return None;
    };
    let tpath = format!("{path}.type");
    let kind = required_string(obj.get("type"), &tpath, errors, |s| {
        let types = Action::TYPES;
        types
            .into_iter()
            .find(|t| *t == s)
            .ok_or_else(|| format!("{s:?} is not an action; use one of: {}", types.join(", ")))
    })?;
    let keys: &[&str] = match kind {
        "apply_policy" => &["policy"],
        "set_priority" => &["priority"],
        "add_label" | "remove_label" => &["label"],
        "assign_team" => &["team"],
        "assign_owner" => &["owner"],
        "send_message" => &["template"],
        "webhook" => &["url", "secret"],
        "notify" => &["users", "team", "owner", "text"],
        _ => &[],
    };
    for key in obj.keys() {
        if key != "type" && !keys.contains(&key.as_str()) {
            errors.push(FieldError::new(
                format!("{path}.{key}"),
                format!("is not a field of a {kind} action"),
            ));
        }
    }
    let string = |key: &str, max: usize, errors: &mut Vec<FieldError>| -> Option<String> {
        required_string(obj.get(key), &format!("{path}.{key}"), errors, |s| {
            if trim(s).is_empty() {
                Err("must not be empty".to_string())
            } else if s.chars().count() > max {
                Err(format!("must be at most {max} characters"))
            } else {
                Ok(s.to_string())
            }
        })
    };
    match kind {
        "apply_policy" => {
            let ppath = format!("{path}.policy");
            match obj.get("policy").map(|v| (v, v.as_i64())) {
                Some((_, Some(id))) if known_policy(id) => Some(Action::ApplyPolicy { policy: id }),
                Some((_, Some(id))) => {
                    errors.push(FieldError::missing(
                        ppath,
                        format!("policy {id} does not exist"),
                    ));
                    None
                }
                None | Some((Value::Null, _)) => {
                    errors.push(FieldError::new(ppath, "is required"));
                    None
                }
                Some(_) => {
                    errors.push(FieldError::new(
                        ppath,
                        "must be a policy id (a whole number)",
                    ));
                    None
                }
            }
        }
        "set_priority" => {
            let text = string("priority", RULE_VALUE_LEN, errors)?;
            match Priority::parse(&lowercase(&text)) {
                Some(priority) => Some(Action::SetPriority { priority }),
                None => {
                    errors.push(FieldError::new(
                        format!("{path}.priority"),
                        format!(
                            "{text:?} is not a priority; use one of: {}",
                            PRIORITIES.join(", ")
                        ),
                    ));
                    None
                }
            }
        }
        "add_label" | "remove_label" => {
            let label = trim(&string("label", LABEL_LEN, errors)?).to_string();
            Some(if kind == "add_label" {
                Action::AddLabel { label }
            } else {
                Action::RemoveLabel { label }
            })
        }
        "assign_team" => Some(Action::AssignTeam {
            team: trim(&string("team", TEAM_LEN, errors)?).to_string(),
        }),
        "assign_owner" => {
            let text = string("owner", RULE_VALUE_LEN, errors)?;
            match validate_email(&text) {
                Ok(owner) => Some(Action::AssignOwner { owner }),
                Err(_) => {
                    errors.push(FieldError::new(
                        format!("{path}.owner"),
                        "must be an agent's e-mail",
                    ));
                    None
                }
            }
        }
        "remove_owner" => Some(Action::RemoveOwner),
        "send_message" => {
            let text = string("template", TEMPLATE_LEN, errors)?;
            template_for(&text, format!("{path}.template"), event, errors)
                .map(|template| Action::SendMessage { template })
        }
        "notify" => {
            let text = string("text", TEMPLATE_LEN, errors)
                .and_then(|t| template_for(&t, format!("{path}.text"), event, errors));
            // `"owner": false` names nobody, as leaving it out does.
            let given = ["users", "team", "owner"]
                .into_iter()
                .filter(|k| {
                    obj.get(*k)
                        .is_some_and(|v| !v.is_null() && *v != Value::Bool(false))
                })
                .count();
            if given != 1 {
                errors.push(FieldError::new(
                    path,
                    "needs exactly one of users (a list of agents' e-mails), team (a team's name) or owner (true)",
                ));
                return None;
            }
            let mut users = Vec::new();
            let mut team = None;
            let mut owner = false;
            if let Some(v) = obj.get("users").filter(|v| !v.is_null()) {
                let upath = format!("{path}.users");
                match v.as_array() {
                    Some(items) if items.is_empty() => {
                        errors.push(FieldError::new(&upath, "needs at least one e-mail"));
                        return None;
                    }
                    Some(items) if items.len() > RULE_VALUES => {
                        errors.push(FieldError::new(
                            &upath,
                            format!("at most {RULE_VALUES} e-mails"),
                        ));
                        return None;
                    }
                    Some(items) => {
                        for (j, item) in items.iter().enumerate() {
                            match item.as_str().map(validate_email) {
                                Some(Ok(email)) => {
                                    if !users.contains(&email) {
                                        users.push(email)
                                    }
                                }
                                _ => errors.push(FieldError::new(
                                    format!("{upath}[{j}]"),
                                    "must be an agent's e-mail",
                                )),
                            }
                        }
                    }
                    None => {
                        errors.push(FieldError::new(&upath, "must be a list of e-mails"));
                        return None;
                    }
                }
            }
            if obj.get("team").is_some_and(|v| !v.is_null()) {
                team = Some(trim(&string("team", TEAM_LEN, errors)?).to_string());
            }
            match obj.get("owner") {
                None | Some(Value::Null) | Some(Value::Bool(false)) => {}
                Some(Value::Bool(true)) => owner = true,
                Some(_) => {
                    errors.push(FieldError::new(
                        format!("{path}.owner"),
                        "must be true or false",
                    ));
                    return None;
                }
            }
            Some(Action::Notify {
                users,
                team,
                owner,
                text: text?,
            })
        }
        "webhook" => {
            let url = string("url", URL_LEN, errors).map(|u| crate::schema::trim(&u).to_string());
            let url = url.filter(|u| {
                let ok = is_http_url(u);
                if !ok {
                    errors.push(FieldError::new(
                        format!("{path}.url"),
                        "must be an http:// or https:// URL",
                    ));
                }
                ok
            });
            let secret = string("secret", SECRET_LEN, errors);
            Some(Action::Webhook {
                url: url?,
                secret: secret?,
            })
        }
        _ => None,
    }
}

/// What the API document says a webhook URL is: a subset of what [`is_http_url`] takes
/// (http or https, a host name of letters, digits and dashes, a port, a printable path).
pub const URL_PATTERN: &str = r"^\s*[hH][tT][tT][pP][sS]?://[a-zA-Z][a-zA-Z0-9-]*(\.[a-zA-Z][a-zA-Z0-9-]*)*(:[0-9]{1,4})?(/[!-~]*)?\s*$";

/// An absolute http(s) URL with a host and no whitespace.
pub(crate) fn is_http_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let Some(rest) = rest else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty()
        && !host.starts_with(':')
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;
    use serde_json::json;

    fn paths(v: Value) -> Vec<String> {
        parse(v).unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn the_issue_example_parses_and_round_trips() {
        let text = json!({"name": "BigCorp urgent", "enabled": true, "event": "conversation.created", "match": "all",
            "conditions": [{"field": "contact.email", "op": "ends_with", "value": "@bigcorp.com"},
                           {"field": "priority", "op": "is", "value": "urgent"}],
            "actions": [{"type": "apply_policy", "policy": 12}], "stop": false});
        let r = rule(text.clone());
        assert_eq!(r.name, "BigCorp urgent");
        assert_eq!(r.event, RuleEvent::ConversationCreated);
        assert_eq!(r.matching, Match::All);
        assert_eq!(r.conditions.len(), 2);
        assert_eq!(r.actions, vec![Action::ApplyPolicy { policy: 12 }]);
        assert_eq!(serde_json::to_value(&r).unwrap(), text);
        let back: RuleDefinition = serde_json::from_value(text).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn defaults_and_every_action_round_trip() {
        let r = rule(
            json!({"name": " Late ", "event": "sla.overdue", "after": "30m", "actions": [
            {"type": "apply_policy", "policy": 7},
            {"type": "set_priority", "priority": "high"},
            {"type": "add_label", "label": " late "},
            {"type": "remove_label", "label": "new"},
            {"type": "assign_team", "team": "Escalations"},
            {"type": "assign_owner", "owner": "Lead@X.io"},
            {"type": "remove_owner"},
            {"type": "send_message", "template": "Hi {{contact.name}}"},
            {"type": "webhook", "url": "https://hooks.example/sla", "secret": "s3cret"}]}),
        );
        assert_eq!(r.name, "Late");
        assert!(r.enabled);
        assert!(!r.stop);
        assert_eq!(r.matching, Match::All);
        assert_eq!(r.after, SlaDuration::from_minutes(30));
        assert_eq!(
            r.actions[2],
            Action::AddLabel {
                label: "late".into()
            }
        );
        assert_eq!(
            r.actions[5],
            Action::AssignOwner {
                owner: "lead@x.io".into()
            }
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["after"], "30m");
        assert_eq!(v["actions"][6], json!({"type": "remove_owner"}));
        assert_eq!(
            v["actions"][8],
            json!({"type": "webhook", "url": "https://hooks.example/sla", "secret": "s3cret"})
        );
        let back: RuleDefinition = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
        let no_after = serde_json::to_value(one(cond("channel", "is", json!("sms")))).unwrap();
        assert!(no_after.get("after").is_none());
    }

    #[test]
    fn validation_names_every_offending_part() {
        let p = paths(json!({"name": "x", "event": "conversation.created",
            "conditions": [{"field": "mood", "op": "is", "value": "happy"},
                           {"field": "priority", "op": "contains", "value": "urg"}],
            "actions": [{"type": "apply_policy", "policy": 99}]}));
        assert_eq!(
            p,
            vec![
                "conditions[0].field",
                "conditions[1].op",
                "actions[0].policy"
            ]
        );
        let p = paths(
            json!({"name": "x", "event": "sla.overdue", "actions": [{"type": "remove_owner"}]}),
        );
        assert_eq!(p, vec!["after"]);
        let p = paths(json!({"event": "deleted", "colour": 1, "match": "most",
                             "enabled": "yes", "actions": []}));
        assert_eq!(
            p,
            vec!["colour", "name", "enabled", "match", "event", "actions"]
        );
        let p = paths(json!({"name": "x".repeat(201), "event": "message.created",
                             "conditions": {}, "actions": "none"}));
        assert_eq!(p, vec!["name", "conditions", "actions"]);
        assert_eq!(paths(json!([1])), vec![""]);
        let errs = parse(json!({"name": "x", "event": "message.created",
            "conditions": [{"field": "priority", "op": "contains", "value": "u"}],
            "actions": [{"type": "remove_owner"}]}))
        .unwrap_err();
        assert!(
            errs[0].message.contains("is, is_not, in, not_in"),
            "{errs:?}"
        );
    }

    #[test]
    fn after_belongs_to_overdue_rules_only_and_is_positive() {
        let base = |after: Value, event: &str| json!({"name": "x", "event": event, "after": after, "actions": [{"type": "remove_owner"}]});
        assert_eq!(paths(base(json!("30m"), "sla.breached")), vec!["after"]);
        assert_eq!(paths(base(json!("0s"), "sla.overdue")), vec!["after"]);
        assert_eq!(paths(base(json!("soon"), "sla.overdue")), vec!["after"]);
        assert_eq!(paths(base(json!(-5), "sla.overdue")), vec!["after"]);
        assert_eq!(
            rule(base(json!(7200), "sla.overdue")).after,
            SlaDuration::from_hours(2)
        );
        assert_eq!(
            rule(base(json!("2h"), "sla.overdue")).after,
            SlaDuration::from_hours(2)
        );
        // null is the same as absent.
        assert!(rule(base(Value::Null, "sla.breached")).after.is_none());
    }

    #[test]
    fn values_must_fit_their_op_and_field() {
        let bad = |c: Value| {
            paths(
                json!({"name": "x", "event": "message.created", "conditions": [c],
                         "actions": [{"type": "remove_owner"}]}),
            )
        };
        // Each condition and the one path it is refused at.
        for (path, conditions) in [
            (
                "conditions[0].value",
                vec![
                    cond("priority", "in", json!("urgent")),
                    cond("priority", "in", json!([])),
                    cond("team", "is_set", json!("x")),
                    cond("team", "is", Value::Null),
                    cond("team", "is", json!("  ")),
                    cond("channel", "is", json!("fax")),
                    cond("visibility", "is", json!("secret")),
                    cond("status", "is", json!("closed")),
                    cond("message.author", "is", json!("robot")),
                    cond("owner", "is", json!("someone")),
                    cond("message.text", "contains", json!(["a"])),
                    cond("business_hours", "open", json!(4)),
                    cond("business_hours", "open", json!("3")),
                ],
            ),
            (
                "conditions[0].value[1]",
                vec![
                    cond("priority", "in", json!(["high", "urgentest"])),
                    cond("owner", "in", json!(["none", "bob"])),
                ],
            ),
            (
                "conditions[0].op",
                vec![
                    cond("labels", "is", json!("vip")),
                    cond("business_hours", "is", json!(3)),
                    cond("channel", "equals", json!("sms")),
                ],
            ),
            (
                "conditions[0].negate",
                vec![json!({"field": "channel", "op": "is", "value": "sms", "negate": true})],
            ),
        ] {
            for c in conditions {
                assert_eq!(bad(c.clone()), vec![path], "{c}");
            }
        }
        assert_eq!(
            bad(cond("priority", "in", json!(["high", "urgentest", 3]))),
            vec!["conditions[0].value[2]"],
            "shape errors first; the enum is checked once the shape is right"
        );
        assert_eq!(bad(json!({"op": "is_set"})), vec!["conditions[0].field"]);
        assert_eq!(bad(json!("channel is sms")), vec!["conditions[0]"]);
        // Enum values ignore case and spaces; the value is kept as written.
        let r = one(cond("priority", "is", json!(" Urgent ")));
        assert_eq!(
            r.conditions[0].value,
            Some(ConditionValue::Text("Urgent".into()))
        );
        assert!(
            one(cond("business_hours", "closed", json!(3))).conditions[0]
                .value
                .is_some()
        );
    }

    #[test]
    fn fields_are_refused_on_events_that_do_not_have_them() {
        let on = |event: &str, c: Value| {
            parse(json!({"name": "x", "event": event, "conditions": [c],
                         "actions": [{"type": "remove_owner"}]}))
        };
        let e = on(
            "conversation.created",
            cond("sla.metric", "is", json!("first_response")),
        )
        .unwrap_err();
        assert_eq!(e[0].field, "conditions[0].field");
        assert!(
            e[0].message
                .ends_with("only on rules for: sla.warning, sla.breached, sla.overdue"),
            "{e:?}"
        );
        let e = on(
            "conversation.updated",
            cond("message.text", "contains", json!("hi")),
        )
        .unwrap_err();
        assert_eq!(e[0].field, "conditions[0].field");
        assert!(on("sla.breached", cond("message.author", "is", json!("agent"))).is_err());
        assert!(on(
            "sla.breached",
            cond("sla.metric", "is", json!("resolution"))
        )
        .is_ok());
        assert!(on(
            "conversation.created",
            cond("message.text", "contains", json!("hi"))
        )
        .is_ok());
    }

    #[test]
    fn actions_are_validated_with_their_paths() {
        let p = paths(json!({"name": "x", "event": "message.created", "actions": [
            {"type": "apply_policy", "policy": "12"},
            {"type": "set_priority", "priority": "asap"},
            {"type": "add_label", "label": ""},
            {"type": "assign_owner", "owner": "bob"},
            {"type": "send_message", "template": "Hi {{contact.nickname}} {{ticket}}"},
            {"type": "send_message", "template": "Hi {{contact.name"},
            {"type": "send_message", "template": "  "},
            {"type": "webhook", "url": "ftp://x.io/hook", "secret": ""},
            {"type": "webhook", "url": "https:///nohost", "secret": "s"},
            {"type": "webhook", "secret": "s"},
            {"type": "remove_owner", "owner": "a@x.io"},
            {"type": "escalate"},
            {"policy": 12},
            {"type": "apply_policy"}]}));
        assert_eq!(
            p,
            vec![
                "actions[0].policy",
                "actions[1].priority",
                "actions[2].label",
                "actions[3].owner",
                "actions[4].template",
                "actions[5].template",
                "actions[6].template",
                "actions[7].url",
                "actions[7].secret",
                "actions[8].url",
                "actions[9].url",
                "actions[10].owner",
                "actions[11].type",
                "actions[12].type",
                "actions[13].policy",
            ]
        );
        let e = parse(json!({"name": "x", "event": "message.created", "actions": [
            {"type": "send_message", "template": "Hi {{contact.nickname}} {{ticket}}"}]}))
        .unwrap_err();
        assert!(
            e[0].message
                .starts_with("{{contact.nickname}}, {{ticket}} are not known"),
            "{e:?}"
        );
        assert!(e[0].message.contains("{{sla.due_in}}"));
        // No actions is only sensible for a rule that stops later rules.
        assert!(parse(json!({"name": "x", "event": "message.created", "stop": true})).is_ok());
        assert_eq!(
            paths(json!({"name": "x", "event": "message.created", "actions": []})),
            vec!["actions"]
        );
        let hook = rule(json!({"name": "x", "event": "message.created", "actions": [
            {"type": "webhook", "url": "HTTP://hooks.example:8080/a?b=c", "secret": "s"}]}));
        assert_eq!(hook.actions.len(), 1);
    }

    #[test]
    fn deserializing_a_bad_rule_says_why() {
        let err = serde_json::from_value::<RuleDefinition>(
            json!({"name": "", "event": "message.created", "actions": [{"type": "remove_owner"}]}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("name: is required"), "{err}");
        // Deserializing does not know which policies exist.
        let r: RuleDefinition =
            serde_json::from_value(json!({"name": "x", "event": "message.created",
            "actions": [{"type": "apply_policy", "policy": 999}]}))
            .unwrap();
        assert_eq!(r.actions, vec![Action::ApplyPolicy { policy: 999 }]);
    }
}
