//! The admin page for automation rules: the rules in the order they run (enable/disable,
//! move up/down, delete with a confirm step), the builder to create and edit one, and on the
//! edit view a dry run against a conversation.
//!
//! Forms post to the server (`POST /rules`, `/rules/{id}`, `/rules/{id}/toggle`,
//! `/rules/{id}/move`, `/rules/{id}/delete`), which validates them as the JSON API does and
//! redirects back here with a notice, or with what was typed and the field errors
//! (`err_conditions[1].op`) in the query. Without JavaScript the builder shows the rule's rows
//! and two empty ones of each kind (empty rows are ignored); hydrated it adds rows on demand,
//! offers only the operators of the chosen field, and picks values from their choices. The dry
//! run is a GET form (`?edit=..&test=..&metric=..`): it changes nothing.

use crate::api::{get_rules, DryRun, RuleItem, RulesData};
use crate::components::editor::{editor_form, saved_notice, EditorForm, EditorPage};
use crate::components::form::{field_error, options, FieldErrors};
use crate::components::notice::notices;
use crate::components::table::{confirm_delete, list_table};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;
use promptly::conversation::Priority;
use promptly::limits;
use promptly::rules::{
    Action, Condition, ConditionValue, Field, Match, Op, Placeholder, RuleDefinition, RuleEvent,
    SideEffect, ValueKind,
};
use serde_json::Value;

/// Empty rows the builder offers without JavaScript.
const SPARE_ROWS: usize = 2;
const METRICS: [(&str, &str); 3] = [
    ("first_response", "First response"),
    ("next_response", "Next response"),
    ("resolution", "Resolution"),
];

fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "created" => "Rule created.",
        "updated" => "Rule saved.",
        "enabled" => "Rule enabled.",
        "disabled" => "Rule disabled.",
        "moved" => "Rule moved.",
        "deleted" => "Rule deleted.",
        _ => return None,
    })
}

fn error(code: &str) -> &'static str {
    match code {
        "not_found" => "That rule does not exist.",
        "changed" => "The rules changed meanwhile; nothing was moved. Please try again.",
        _ => "Something went wrong.",
    }
}

fn op_words(op: Op) -> String {
    op.as_str().replace('_', " ")
}

fn action_words(kind: &str) -> &'static str {
    match kind {
        "apply_policy" => "Apply policy",
        "set_priority" => "Set priority",
        "add_label" => "Add label",
        "remove_label" => "Remove label",
        "assign_team" => "Assign team",
        "assign_owner" => "Assign owner",
        "remove_owner" => "Remove owner",
        "send_message" => "Send message",
        "webhook" => "Call webhook",
        "notify" => "Notify people",
        _ => "Unknown action",
    }
}

fn name_of(list: &[(i64, String)], id: i64) -> String {
    list.iter()
        .find(|(i, _)| *i == id)
        .map(|(_, n)| n.clone())
        .unwrap_or_else(|| format!("#{id} (deleted)"))
}

fn value_text(v: &ConditionValue, calendars: &[(i64, String)]) -> String {
    match v {
        ConditionValue::Text(s) => format!("“{s}”"),
        ConditionValue::List(l) => format!("“{}”", l.join("”, “")),
        ConditionValue::Calendar(id) => name_of(calendars, *id),
    }
}

/// "contact.email ends with “@bigcorp.com”".
fn condition_text(
    field: Field,
    op: Op,
    value: Option<&ConditionValue>,
    calendars: &[(i64, String)],
) -> String {
    match value {
        Some(v) => format!("{field} {} {}", op_words(op), value_text(v, calendars)),
        None => format!("{field} {}", op_words(op)),
    }
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        format!("{}…", s.chars().take(n).collect::<String>())
    } else {
        s.to_string()
    }
}

/// "apply policy Premium", "send message “Sorry…”".
fn action_text(a: &Action, policies: &[(i64, String)]) -> String {
    match a {
        Action::ApplyPolicy { policy } => format!("apply policy {}", name_of(policies, *policy)),
        Action::SetPriority { priority } => format!("set priority {}", priority.as_str()),
        Action::AddLabel { label } => format!("add label “{label}”"),
        Action::RemoveLabel { label } => format!("remove label “{label}”"),
        Action::AssignTeam { team } => format!("assign team “{team}”"),
        Action::AssignOwner { owner } => format!("assign owner {owner}"),
        Action::RemoveOwner => "remove owner".into(),
        Action::SendMessage { template } => {
            format!("send message “{}”", cut(template.as_str(), 60))
        }
        Action::Webhook { url, .. } => format!("call webhook {url}"),
        Action::Notify {
            users,
            team,
            owner,
            text,
        } => {
            let to = if *owner {
                "the owner".to_string()
            } else if let Some(team) = team {
                format!("team “{team}”")
            } else {
                users.join(", ")
            };
            format!("notify {to}: “{}”", cut(text.as_str(), 60))
        }
    }
}

fn event_text(d: &RuleDefinition) -> String {
    match (d.event, d.after) {
        (RuleEvent::SlaOverdue, Some(after)) => format!("sla.overdue after {after}"),
        (e, _) => e.to_string(),
    }
}

/// The rule in one line: "When a and b → x; y".
fn summary(d: &RuleDefinition, policies: &[(i64, String)], calendars: &[(i64, String)]) -> String {
    let join = if d.matching == Match::All {
        " and "
    } else {
        " or "
    };
    let when = if d.conditions.is_empty() {
        "Always".to_string()
    } else {
        let parts: Vec<String> = d
            .conditions
            .iter()
            .map(|c: &Condition| condition_text(c.field, c.op, c.value.as_ref(), calendars))
            .collect();
        format!("When {}", parts.join(join))
    };
    let then: Vec<String> = d.actions.iter().map(|a| action_text(a, policies)).collect();
    let stop = if d.stop { " · then stop" } else { "" };
    format!("{when} → {}{stop}", then.join("; "))
}

// ---------------------------------------------------------------------------------------
// What the builder shows
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq)]
struct CondRow {
    field: String,
    op: String,
    value: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct ActRow {
    kind: String,
    /// A notify action's recipients: `owner`, `team` or `users` (named in `text`).
    to: String,
    policy: String,
    priority: String,
    text: String,
    template: String,
    url: String,
    secret: String,
}

/// The typed values after an error, the rule being edited, or a new rule's defaults.
#[derive(Debug, Clone)]
struct Fields {
    name: String,
    enabled: bool,
    event: String,
    after: String,
    matching: String,
    stop: bool,
    conditions: Vec<CondRow>,
    actions: Vec<ActRow>,
}

impl Fields {
    fn new_rule() -> Self {
        Fields {
            name: String::new(),
            enabled: true,
            event: RuleEvent::ConversationCreated.as_str().into(),
            after: String::new(),
            matching: "all".into(),
            stop: false,
            conditions: Vec::new(),
            actions: Vec::new(),
        }
    }

    fn from_rule(d: &RuleDefinition) -> Self {
        let conditions = d
            .conditions
            .iter()
            .map(|c| CondRow {
                field: c.field.as_str().into(),
                op: c.op.as_str().into(),
                value: match &c.value {
                    None => String::new(),
                    Some(ConditionValue::Text(s)) => s.clone(),
                    Some(ConditionValue::List(l)) => l.join(", "),
                    Some(ConditionValue::Calendar(id)) => id.to_string(),
                },
            })
            .collect();
        let actions = d
            .actions
            .iter()
            .map(|a| {
                let kind = match a {
                    Action::ApplyPolicy { .. } => "apply_policy",
                    Action::SetPriority { .. } => "set_priority",
                    Action::AddLabel { .. } => "add_label",
                    Action::RemoveLabel { .. } => "remove_label",
                    Action::AssignTeam { .. } => "assign_team",
                    Action::AssignOwner { .. } => "assign_owner",
                    Action::RemoveOwner => "remove_owner",
                    Action::SendMessage { .. } => "send_message",
                    Action::Webhook { .. } => "webhook",
                    Action::Notify { .. } => "notify",
                };
                let mut r = ActRow {
                    kind: kind.into(),
                    ..ActRow::default()
                };
                match a {
                    Action::ApplyPolicy { policy } => r.policy = policy.to_string(),
                    Action::SetPriority { priority } => r.priority = priority.as_str().into(),
                    Action::AddLabel { label: text }
                    | Action::RemoveLabel { label: text }
                    | Action::AssignTeam { team: text }
                    | Action::AssignOwner { owner: text } => r.text = text.clone(),
                    Action::RemoveOwner => {}
                    Action::SendMessage { template } => r.template = template.as_str().into(),
                    Action::Webhook { url, secret } => {
                        r.url = url.clone();
                        r.secret = secret.clone();
                    }
                    Action::Notify {
                        users,
                        team,
                        owner,
                        text,
                    } => {
                        r.template = text.as_str().into();
                        (r.to, r.text) = if *owner {
                            ("owner".into(), String::new())
                        } else if let Some(team) = team {
                            ("team".into(), team.clone())
                        } else {
                            ("users".into(), users.join(", "))
                        };
                    }
                }
                r
            })
            .collect();
        Fields {
            name: d.name.clone(),
            enabled: d.enabled,
            event: d.event.as_str().into(),
            after: d.after.map(|a| a.to_string()).unwrap_or_default(),
            matching: if d.matching == Match::Any {
                "any".into()
            } else {
                "all".into()
            },
            stop: d.stop,
            conditions,
            actions,
        }
    }

    fn from_query(q: &ParamsMap) -> Self {
        let get = |k: &str| q.get(k).unwrap_or_default();
        let conditions = query_rows(q, "c", "field", |field, get| CondRow {
            field,
            op: get("op"),
            value: get("value"),
        });
        let actions = query_rows(q, "a", "type", |kind, get| ActRow {
            kind,
            to: get("to"),
            policy: get("policy"),
            priority: get("priority"),
            text: get("text"),
            template: get("template"),
            url: get("url"),
            secret: get("secret"),
        });
        Fields {
            name: get("name"),
            enabled: q.get("enabled").is_some(),
            event: get("event"),
            after: get("after"),
            matching: get("match"),
            stop: q.get("stop").is_some(),
            conditions,
            actions,
        }
    }
}

/// The builder's rows as the query has them: `{prefix}{i}_{key}` for row `i`, as long as
/// row `i` has its `first` key; `row` makes a row from that key's value and a reader of the
/// row's other keys.
fn query_rows<R>(
    q: &ParamsMap,
    prefix: &str,
    first: &str,
    row: impl Fn(String, &dyn Fn(&str) -> String) -> R,
) -> Vec<R> {
    (0..)
        .map_while(|i| {
            let get = |k: &str| q.get(&format!("{prefix}{i}_{k}")).unwrap_or_default();
            q.get(&format!("{prefix}{i}_{first}")).map(|v| row(v, &get))
        })
        .collect()
}

fn row_errors(errors: Vec<(String, String)>) -> impl IntoView {
    errors
        .into_iter()
        .map(|(path, m)| view! { <p class="field-error" data-field=path>{m}</p> })
        .collect_view()
}

// ---------------------------------------------------------------------------------------
// The page
// ---------------------------------------------------------------------------------------

/// The page inside its guard (see [`crate::components::guard::SectionPage`]).
#[component]
pub fn RulesPage() -> impl IntoView {
    let q = use_query_map();
    let key = Memo::new(move |_| {
        q.with(|q| {
            let rule = q.get("edit").and_then(|v| v.parse::<i64>().ok());
            (rule, q.get("test"), q.get("metric"), q.to_query_string())
        })
    });
    let data = Resource::new(
        move || key.get(),
        |(rule, test, metric, _)| get_rules(rule, test, metric),
    );
    view! {
        <EditorPage class="rules" loading="Loading rules…" data body=|data, query, _zone| view! { <RulesBody data query/> }.into_any()>
            <h1>"Rules"</h1>
            <p class="muted">"Rules run in this order on each event; a rule that fires with “stop” ends the walk."</p>
        </EditorPage>
    }
}

#[component]
fn RulesBody(data: RulesData, query: ParamsMap) -> impl IntoView {
    let flash = saved_notice(&query, notice);
    let failure = query.get("error").map(|c| error(&c));
    let (editing, fields, errors) = editor_form(
        &query,
        &data.rules,
        |r| r.id,
        Fields::from_query,
        |r| Fields::from_rule(&r.definition),
        Fields::new_rule,
    );
    let confirm = query.get("delete").and_then(|v| v.parse::<i64>().ok());
    let dry_run = editing.as_ref().map(|r| {
        view! {
            <DryRunSection
                id=r.id
                conversation=query.get("test").unwrap_or_default()
                metric=query.get("metric").unwrap_or_default()
                result=data.dry_run.clone()
                policies=data.policies.clone()
                calendars=data.calendars.clone()
            />
        }
    });
    view! {
        {notices(flash, failure)}
        <RuleTable rules=data.rules.clone() policies=data.policies.clone() calendars=data.calendars.clone() confirm/>
        <div class="rule-editor">
            <RuleForm fields errors edit=editing.map(|r| (r.id, r.definition.name)) policies=data.policies.clone() calendars=data.calendars.clone()/>
            {dry_run}
        </div>
    }
    .into_any()
}

#[component]
fn RuleTable(
    rules: Vec<RuleItem>,
    policies: Vec<(i64, String)>,
    calendars: Vec<(i64, String)>,
    confirm: Option<i64>,
) -> impl IntoView {
    let last = rules.len().saturating_sub(1);
    let head = view! { <th>"#"</th><th>"Name"</th><th>"Event"</th><th>"State"</th><th>"Fired today"</th><th>"Conditions → actions"</th><th></th> };
    list_table(
        rules.into_iter().enumerate().collect(),
        "No automation rules yet. Without rules, the default policy applies to every conversation.",
        "grid rules-table",
        head,
        |(i, r)| {
            let id = r.id;
            let d = &r.definition;
            let name = d.name.clone();
            let delete_cell = confirm_delete(
                "/rules",
                id,
                format!("Delete “{name}”? "),
                confirm == Some(id),
            );
            let toggle = if d.enabled { "Disable" } else { "Enable" };
            view! {
                <tr data-name=d.name.clone() data-id=id class:disabled=!d.enabled>
                    <td class="position">{i + 1}</td>
                    <td><strong>{d.name.clone()}</strong></td>
                    <td><code>{event_text(d)}</code></td>
                    <td>{if d.enabled { view! { <span class="tag on">"Enabled"</span> } } else { view! { <span class="tag off">"Disabled"</span> } }}</td>
                    <td class="fired" title="Fired since 00:00 UTC">{r.fired_today}</td>
                    <td class="summary">{summary(d, &policies, &calendars)}</td>
                    <td class="row-actions">
                        <a href=format!("/rules?edit={id}")>"Edit"</a>
                        <form method="post" action=format!("/rules/{id}/toggle") class="inline">
                            <button type="submit">{toggle}</button>
                        </form>
                        <form method="post" action=format!("/rules/{id}/move") class="inline">
                            <input type="hidden" name="dir" value="up"/>
                            <button type="submit" disabled=i == 0 title="Run earlier">"Up"</button>
                        </form>
                        <form method="post" action=format!("/rules/{id}/move") class="inline">
                            <input type="hidden" name="dir" value="down"/>
                            <button type="submit" disabled=i == last title="Run later">"Down"</button>
                        </form>
                        {delete_cell}
                    </td>
                </tr>
            }
        },
    )
}

// ---------------------------------------------------------------------------------------
// The builder
// ---------------------------------------------------------------------------------------

#[component]
fn RuleForm(
    fields: Fields,
    errors: FieldErrors,
    edit: Option<(i64, String)>,
    policies: Vec<(i64, String)>,
    calendars: Vec<(i64, String)>,
) -> impl IntoView {
    // Set once the WebAssembly app runs: the server renders the plain form, the browser
    // then narrows the pickers.
    let js = RwSignal::new(false);
    Effect::new(move |_| js.set(true));
    let policies = StoredValue::new(policies);
    let calendars = StoredValue::new(calendars);
    let errors = StoredValue::new(errors);

    let mut conditions = fields.conditions.clone();
    conditions.extend(std::iter::repeat_n(CondRow::default(), SPARE_ROWS));
    let cond_rows = RwSignal::new(conditions.into_iter().enumerate().collect::<Vec<_>>());
    let mut actions = fields.actions.clone();
    actions.extend(std::iter::repeat_n(ActRow::default(), SPARE_ROWS));
    let act_rows = RwSignal::new(actions.into_iter().enumerate().collect::<Vec<_>>());
    let add_condition = move |_| {
        cond_rows.update(|rows| {
            let next = rows.last().map_or(0, |(i, _)| i + 1);
            rows.push((next, CondRow::default()));
        })
    };
    let add_action = move |_| {
        act_rows.update(|rows| {
            let next = rows.last().map_or(0, |(i, _)| i + 1);
            rows.push((next, ActRow::default()));
        })
    };

    let invalid = move |f: &str| errors.with_value(|e| e.get(f).map(|_| "true"));
    let events = options(RuleEvent::ALL.iter().map(|e| e.as_str()), &fields.event);
    let calendar_hint = calendars.with_value(|cals| {
        (!cals.is_empty()).then(|| {
            let list: Vec<String> = cals.iter().map(|(id, n)| format!("{id} = {n}")).collect();
            format!("Calendars: {}.", list.join(", "))
        })
    });
    let placeholders: Vec<String> = Placeholder::ALL
        .iter()
        .map(|p| format!("{{{{{}}}}}", p.as_str()))
        .collect();
    let placeholders = StoredValue::new(placeholders.join(", "));
    view! {
        <EditorForm path="/rules" class="rule-form" noun="rule" edit version=None form_error=errors.with_value(|e| e.get("form"))>
            <label>"Name"
                <input type="text" name="name" value=fields.name.clone() maxlength=limits::RULE_NAME_LEN aria-invalid=invalid("name")/>
            </label>
            {errors.with_value(|e| field_error(e, "name"))}
            <label class="check">
                <input type="checkbox" name="enabled" checked=fields.enabled/>" Enabled"
            </label>
            <div class="rule-when">
                <label>"Event"
                    <select name="event" aria-invalid=invalid("event")>{events}</select>
                </label>
                <label>"After"
                    <input type="text" name="after" value=fields.after.clone() placeholder="30m" size="8" aria-invalid=invalid("after")/>
                </label>
                <label>"Match"
                    <select name="match" aria-invalid=invalid("match")>
                        <option value="all" selected=fields.matching != "any">"all conditions"</option>
                        <option value="any" selected=fields.matching == "any">"any condition"</option>
                    </select>
                </label>
            </div>
            <p class="muted small">"“After” only applies to sla.overdue: how long a clock has been breached before the rule runs (e.g. 30m, 2h); it is ignored for other events."</p>
            {errors.with_value(|e| field_error(e, "event"))}
            {errors.with_value(|e| field_error(e, "after"))}
            {errors.with_value(|e| field_error(e, "match"))}
            <fieldset class="rule-conditions">
                <legend>"Conditions"</legend>
                <p class="muted small">
                    "Leave a row's field empty to ignore it; no conditions always match. Lists (in, not in, contains any) take values separated by commas; business_hours takes a calendar id. "
                    {calendar_hint}
                </p>
                {errors.with_value(|e| field_error(e, "conditions"))}
                <For each=move || cond_rows.get() key=|(i, _)| *i let((i, row))>
                    <ConditionRow index=i row errors=errors.with_value(|e| e.row("conditions", i)) js calendars=calendars.get_value()/>
                </For>
                {move || js.get().then(|| view! { <button type="button" class="add-row" on:click=add_condition>"Add condition"</button> })}
            </fieldset>
            <fieldset class="rule-actions">
                <legend>"Actions"</legend>
                <p class="muted small">"Leave a row's type empty to ignore it. Actions run in order; a later one wins."</p>
                {errors.with_value(|e| field_error(e, "actions"))}
                <For each=move || act_rows.get() key=|(i, _)| *i let((i, row))>
                    <ActionRow index=i row errors=errors.with_value(|e| e.row("actions", i)) policies=policies.get_value() placeholders=placeholders.get_value()/>
                </For>
                {move || js.get().then(|| view! { <button type="button" class="add-row" on:click=add_action>"Add action"</button> })}
            </fieldset>
            <label class="check">
                <input type="checkbox" name="stop" checked=fields.stop/>" Stop processing later rules when this one fires"
            </label>
            {errors.with_value(|e| field_error(e, "stop"))}
        </EditorForm>
    }
    .into_any()
}

#[component]
fn ConditionRow(
    index: usize,
    row: CondRow,
    errors: Vec<(String, String)>,
    js: RwSignal<bool>,
    calendars: Vec<(i64, String)>,
) -> impl IntoView {
    let n = index + 1;
    let field = RwSignal::new(row.field.clone());
    let op = RwSignal::new(row.op.clone());
    let value = RwSignal::new(row.value.clone());
    let invalid = (!errors.is_empty()).then_some("true");
    let field_options = options(Field::ALL.iter().map(|f| f.as_str()), &row.field);
    let on_field = move |ev| {
        let v = event_target_value(&ev);
        if let Some(f) = Field::parse(&v) {
            let current = op.get_untracked();
            if !f.ops().iter().any(|o| o.as_str() == current) {
                op.set(f.ops()[0].as_str().to_string());
            }
        }
        field.set(v);
    };
    // Hydrated: only the ops of the chosen field.
    let op_options = move || {
        let ops: Vec<Op> = match (js.get(), Field::parse(&field.get())) {
            (true, Some(f)) => f.ops().to_vec(),
            _ => Op::ALL.to_vec(),
        };
        let current = op.get_untracked();
        ops.into_iter()
            .map(|o| {
                let v = o.as_str();
                view! { <option value=v selected=current == v>{op_words(o)}</option> }
            })
            .collect_view()
    };
    let value_name = format!("c{index}_value");
    let value_label = format!("Condition {n} value");
    let calendars = StoredValue::new(calendars);
    let value_control = move || {
        let name = value_name.clone();
        let label = value_label.clone();
        let current = value.get_untracked();
        let f = Field::parse(&field.get());
        let kind = Op::parse(&op.get()).map(Op::value_kind);
        if !js.get() {
            return view! { <input type="text" name=name value=current aria-label=label placeholder="value" on:input=move |ev| value.set(event_target_value(&ev))/> }.into_any();
        }
        let chosen: Vec<String> = current.split(',').map(|s| s.trim().to_string()).collect();
        match (kind, f.and_then(Field::choices)) {
            (Some(ValueKind::None), _) => {
                view! { <span class="muted small no-value">"no value"</span> }.into_any()
            }
            (Some(ValueKind::Text), Some(choices)) => {
                let options = choices
                    .iter()
                    .map(|c| view! { <option value=*c selected=chosen.iter().any(|x| x == c)>{*c}</option> })
                    .collect_view();
                view! { <select name=name aria-label=label on:change=move |ev| value.set(event_target_value(&ev))>{options}</select> }.into_any()
            }
            (Some(ValueKind::List), Some(choices)) => {
                let options = choices
                    .iter()
                    .map(|c| view! { <option value=*c selected=chosen.iter().any(|x| x == c)>{*c}</option> })
                    .collect_view();
                view! { <select name=name multiple aria-label=label size="3">{options}</select> }
                    .into_any()
            }
            (Some(ValueKind::Calendar), _) => {
                let options = calendars.with_value(|cals| {
                    cals.iter()
                        .map(|(id, n)| {
                            let v = id.to_string();
                            let sel = v == current;
                            view! { <option value=v selected=sel>{n.clone()}</option> }
                        })
                        .collect_view()
                });
                view! { <select name=name aria-label=label on:change=move |ev| value.set(event_target_value(&ev))>{options}</select> }.into_any()
            }
            _ => {
                let hint = if kind == Some(ValueKind::List) {
                    "values, separated by commas"
                } else {
                    "value"
                };
                view! { <input type="text" name=name value=current aria-label=label placeholder=hint on:input=move |ev| value.set(event_target_value(&ev))/> }.into_any()
            }
        }
    };
    view! {
        <div class="rule-row condition-row" data-row=index>
            <select name=format!("c{index}_field") aria-label=format!("Condition {n} field") aria-invalid=invalid on:change=on_field>
                <option value="" selected=row.field.is_empty()>"— field —"</option>
                {field_options}
            </select>
            <select name=format!("c{index}_op") aria-label=format!("Condition {n} operator") aria-invalid=invalid on:change=move |ev| op.set(event_target_value(&ev))>
                <option value="" selected=row.op.is_empty()>"— operator —"</option>
                {op_options}
            </select>
            {value_control}
            {row_errors(errors)}
        </div>
    }
}

#[component]
fn ActionRow(
    index: usize,
    row: ActRow,
    errors: Vec<(String, String)>,
    policies: Vec<(i64, String)>,
    placeholders: String,
) -> impl IntoView {
    let n = index + 1;
    let name = |part: &str| format!("a{index}_{part}");
    let label = |part: &str| format!("Action {n} {part}");
    let invalid = (!errors.is_empty()).then_some("true");
    let types = Action::TYPES
        .iter()
        .map(|t| view! { <option value=*t selected=row.kind == *t>{action_words(t)}</option> })
        .collect_view();
    let policy_options = policies
        .iter()
        .map(|(id, p)| {
            let v = id.to_string();
            let sel = v == row.policy;
            view! { <option value=v selected=sel>{p.clone()}</option> }
        })
        .collect_view();
    let priorities = options(Priority::ALL.iter().map(|p| p.as_str()), &row.priority);
    // Each input is shown for the types that need it (CSS `:has` on the type select, so
    // this works without JavaScript too; browsers without `:has` show them all).
    view! {
        <div class="rule-row action-row" data-row=index>
            <select name=name("type") class="a-type" aria-label=label("type") aria-invalid=invalid>
                <option value="" selected=row.kind.is_empty()>"— action —"</option>
                {types}
            </select>
            <label class="act-field need-policy">"Policy "
                <select name=name("policy") aria-label=label("policy")>
                    <option value="" selected=row.policy.is_empty()>"— policy —"</option>
                    {policy_options}
                </select>
            </label>
            <label class="act-field need-priority">"Priority "
                <select name=name("priority") aria-label=label("priority")>{priorities}</select>
            </label>
            <label class="act-field need-to">"Notify "
                <select name=name("to") aria-label=label("notify whom")>
                    <option value="owner" selected=row.to == "owner">"the conversation's owner"</option>
                    <option value="team" selected=row.to == "team">"a team's members"</option>
                    <option value="users" selected=row.to == "users">"these agents (e-mails)"</option>
                </select>
            </label>
            <label class="act-field need-text">"Label, team or e-mails "
                <input type="text" name=name("text") value=row.text.clone() aria-label=label("label, team or e-mails")/>
            </label>
            <label class="act-field need-template">"Message "
                <textarea name=name("template") rows="3" aria-label=label("message")>{row.template.clone()}</textarea>
                <span class="muted small">{format!("Placeholders: {placeholders}")}</span>
            </label>
            <label class="act-field need-url">"Webhook URL "
                <input type="url" name=name("url") value=row.url.clone() placeholder="https://" aria-label=label("webhook URL")/>
            </label>
            <label class="act-field need-secret">"Secret "
                <input type="password" name=name("secret") value=row.secret.clone() autocomplete="new-password" aria-label=label("secret")/>
                <span class="muted small">"“********” keeps the stored secret."</span>
            </label>
            {row_errors(errors)}
        </div>
    }
}

// ---------------------------------------------------------------------------------------
// The dry run
// ---------------------------------------------------------------------------------------

fn seen_text(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::String(s) => format!("“{s}”"),
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                .collect();
            if parts.is_empty() {
                "nothing".into()
            } else {
                parts.join(", ")
            }
        }
        other => other.to_string(),
    }
}

#[component]
fn DryRunSection(
    id: i64,
    conversation: String,
    metric: String,
    result: Option<Result<DryRun, String>>,
    policies: Vec<(i64, String)>,
    calendars: Vec<(i64, String)>,
) -> impl IntoView {
    let metrics = METRICS
        .iter()
        .map(|(v, l)| view! { <option value=*v selected=metric == *v>{*l}</option> })
        .collect_view();
    let outcome = result.map(|r| match r {
        Err(m) => view! { <p class="error" role="alert">{m}</p> }.into_any(),
        Ok(d) => view! { <DryRunResult run=d policies calendars/> }.into_any(),
    });
    view! {
        <section class="card dry-run">
            <h2>"Test against conversation"</h2>
            <p class="muted small">"A dry run on a stored conversation as it is now; nothing changes."</p>
            <form method="get" action="/rules" class="dry-run-form">
                <input type="hidden" name="edit" value=id/>
                <label>"Conversation"
                    <input type="text" name="test" value=conversation placeholder="Promptly id or sender id"/>
                </label>
                <label>"Metric (sla.* rules)"
                    <select name="metric">{metrics}</select>
                </label>
                <button type="submit">"Test"</button>
            </form>
            {outcome}
        </section>
    }
}

#[component]
fn DryRunResult(
    run: DryRun,
    policies: Vec<(i64, String)>,
    calendars: Vec<(i64, String)>,
) -> impl IntoView {
    let e = &run.explanation;
    let rows = e
        .conditions
        .iter()
        .map(|c| {
            let text = condition_text(c.field, c.op, c.value.as_ref(), &calendars);
            view! {
                <tr class:matched=c.matched class:unmatched=!c.matched>
                    <td>{text}</td>
                    <td>{seen_text(&c.seen)}</td>
                    <td class="verdict">{if c.matched { "yes" } else { "no" }}</td>
                </tr>
            }
        })
        .collect_view();
    let conditions = if e.conditions.is_empty() {
        view! { <p class="muted">"No conditions: they always match."</p> }.into_any()
    } else {
        view! {
            <table class="grid dry-run-conditions">
                <thead><tr><th>"Condition"</th><th>"Saw"</th><th>"Matched"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    let mut why = Vec::new();
    if !e.listens {
        why.push(format!("it does not listen to {}", e.event.kind()));
    }
    if !e.conditions_match {
        why.push("the conditions do not match".to_string());
    }
    let verdict = if e.would_fire {
        "It would fire.".to_string()
    } else {
        format!("It would not fire: {}.", why.join(" and "))
    };
    let disabled = (!e.enabled)
        .then(|| view! { <p class="muted">"The rule is disabled, so it does not run now; this is what it would do enabled."</p> });
    let actions = e
        .actions
        .iter()
        .map(|a| view! { <li>{action_text(a, &policies)}</li> })
        .collect_view();
    let effects = run
        .effects
        .iter()
        .map(|x| match x {
            SideEffect::SendMessage { text, .. } => {
                view! { <li>{format!("Message to the customer: “{text}”")}</li> }.into_any()
            }
            SideEffect::Webhook { url, .. } => {
                view! { <li>{format!("Signed POST to {url}")}</li> }.into_any()
            }
            SideEffect::Notify {
                users, team, text, ..
            } => {
                let to = team
                    .as_ref()
                    .map_or_else(|| users.join(", "), |t| format!("team {t}"));
                view! { <li>{format!("Notification to {to}: “{text}”")}</li> }.into_any()
            }
        })
        .collect_view();
    let s = &run.state;
    let after = format!(
        "Priority {} · owner {} · team {} · labels {} · policy {}",
        s.priority.as_str(),
        s.owner.clone().unwrap_or_else(|| "none".into()),
        s.team.clone().unwrap_or_else(|| "none".into()),
        if s.labels.is_empty() {
            "none".to_string()
        } else {
            s.labels.join(", ")
        },
        s.policy
            .map(|p| name_of(&policies, p))
            .unwrap_or_else(|| "none".into()),
    );
    view! {
        <div class="dry-run-result" data-testid="dry-run">
            <p>{format!("Conversation #{} · event {}", run.conversation, e.event.kind())}</p>
            {conditions}
            <p class="dry-run-verdict" data-fires=e.would_fire.to_string()><strong>{verdict}</strong></p>
            {disabled}
            {e.would_fire.then(|| view! {
                <h3>"Actions"</h3>
                <ul>{actions}</ul>
                <h3>"Afterwards"</h3>
                <p>{after}</p>
                {(!run.effects.is_empty()).then(|| view! { <h3>"It would send"</h3><ul>{effects}</ul> })}
                {e.stop.then(|| view! { <p class="muted">"Later rules would not run (stop)."</p> })}
            })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(v: Value) -> RuleDefinition {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_rule_reads_as_one_line() {
        let r = rule(json!({"name": "BigCorp", "event": "conversation.created",
            "conditions": [{"field": "contact.email", "op": "ends_with", "value": "@bigcorp.com"},
                           {"field": "priority", "op": "in", "value": ["high", "urgent"]}],
            "actions": [{"type": "apply_policy", "policy": 3}, {"type": "remove_owner"}], "stop": true}));
        assert_eq!(
            summary(&r, &[(3, "Premium".into())], &[]),
            "When contact.email ends with “@bigcorp.com” and priority in “high”, “urgent” → apply policy Premium; remove owner · then stop"
        );
        let r = rule(json!({"name": "x", "event": "sla.overdue", "after": "30m",
            "actions": [{"type": "send_message", "template": "Sorry {{contact.name}}"}]}));
        assert_eq!(event_text(&r), "sla.overdue after 30m");
        assert_eq!(
            summary(&r, &[], &[]),
            "Always → send message “Sorry {{contact.name}}”"
        );
    }

    #[test]
    fn the_builder_shows_a_rule_as_rows() {
        let r = rule(
            json!({"name": "x", "event": "message.created", "match": "any",
            "conditions": [{"field": "labels", "op": "contains_any", "value": ["a", "b"]}],
            "actions": [{"type": "webhook", "url": "https://h.example", "secret": "********"}]}),
        );
        let f = Fields::from_rule(&r);
        assert_eq!(f.matching, "any");
        assert_eq!(f.conditions[0].value, "a, b");
        assert_eq!(f.actions[0].kind, "webhook");
        assert_eq!(f.actions[0].secret, "********");
    }
}
