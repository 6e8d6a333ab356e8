//! The API's documentation: the OpenAPI 3.1 document at `/api/v1/openapi.json` (public) and
//! the browsable page (Swagger UI, embedded) at `/api/docs/`.
//!
//! The schemas come from the Rust types ([`from_types`]: their `utoipa::ToSchema` derives);
//! `openapi.json` beside this file still holds the paths and the schemas not derived yet,
//! none of them also derived. `server/tests/suite/openapi.rs` checks that the document lists
//! exactly the routes the router serves.

use crate::state::AppState;
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;
use utoipa_swagger_ui::SwaggerUi;

// The types whose schemas the document holds.
use crate::http::automation::ChannelInfo;
use crate::http::contracts::{
    BreakdownsView, ComplianceView, ContractList, ContractName, ContractView, CurrentPeriod,
    GroupView, MetricView, TeamDepartments,
};
use crate::http::conversations::ConversationDetail;
use crate::http::error::ErrorBody;
use crate::http::events::{EventResult, IngestReply};
use crate::http::policies::Updated;
use crate::http::rules::{RuleView, TestResult, WouldApply};
use crate::http::tokens::NewToken;
use crate::http::users::UserPatch;
use crate::services::accounts::NewUserFields;
use crate::services::policies::DefaultPolicy;
use crate::services::tokens::CreatedToken;
use crate::store::{
    ApiToken, CalendarRecord, IngestOutcome, OutboxItem, PolicyRecord, RuleRecord, TeamDepartment,
};
use promptly::account::{FieldError, Role, UserView};
use promptly::calendar::{CalendarDefinition, TimeWindow, Timezone, WeeklyHours};
use promptly::clock::{ClockState, Metric, MetricStatus, SlaState};
use promptly::compliance::{
    Band, Contract, CounterpartyKind, MetricKind, MetricResult, MetricTarget, Money, Period,
    PeriodKey, Remedies, ReviewNotice, Scope, ServiceLevelFormula, SurveyKind, SurveyResponse,
};
use promptly::conversation::{
    Channel, Contact, ConversationSummary, ConversationView, Priority, Visibility,
};
use promptly::duration::SlaDuration;
use promptly::job::JobView;
use promptly::policy::{PauseOn, Policy, WarningThreshold};
use promptly::rules::{
    Action, ConditionCheck, ConditionValue, ConversationState, Explanation, Field, FiredEvent,
    Match, Op, RuleDefinition, RuleEvent, SideEffect, Template,
};
use promptly::staffing::Positions;
use promptly::stream::StreamEvent;
use promptly::timeline::{Author, ConversationStatus};

/// The OpenAPI document as written; [`document`] adds the parts the code defines.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// The OpenAPI document, as served: the written paths with the schemas of the Rust types
/// ([`from_types`]) and the input shapes derived from them (a calendar or policy with its
/// name, a rule as written, its conditions per field and operator), so the contract cannot
/// drift from what the server accepts.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc: Value =
            serde_json::from_str(OPENAPI_JSON).expect("openapi.json is valid JSON");
        let schemas = &mut doc["components"]["schemas"];
        for (name, schema) in from_types() {
            schemas[name] = schema;
        }
        schemas["CalendarInput"] = named(
            &schemas["CalendarDefinition"],
            "A calendar definition with its name and description, in one object.",
            json!({}),
        );
        schemas["PolicyInput"] = named(
            &schemas["Policy"],
            "A policy with its name, description and calendar, in one object.",
            json!({"calendar_id": {
                "type": ["integer", "null"],
                "format": "int64",
                "description": "The calendar whose open time counts.",
            }}),
        );
        // `Action` denies unknown fields, which the derive does not carry into the variants
        // of an internally tagged enum.
        for variant in schemas["RuleAction"]["oneOf"].as_array_mut().into_iter().flatten() {
            variant["additionalProperties"] = json!(false);
        }
        schemas["RuleCondition"] = rule_condition_schema(json!(
            "One condition: `field`, `op` and (unless the op takes none) `value`, each operator with the value its field takes."
        ));
        schemas["PositiveDuration"] = to_json(promptly::duration::SlaDuration::schema(1));
        schemas["Rule"] = rule_input(&schemas["RuleDefinition"], &schemas["Match"]);
        doc
    })
}

/// The schemas of these types, each under its schema name, with the schemas they refer to.
macro_rules! schemas_of {
    ($($t:ty),* $(,)?) => {{
        let mut schemas = Vec::new();
        $(
            schemas.push((<$t as utoipa::ToSchema>::name().into_owned(), <$t as utoipa::PartialSchema>::schema()));
            <$t as utoipa::ToSchema>::schemas(&mut schemas);
        )*
        schemas
    }};
}

/// The schemas the Rust types define, from their `utoipa::ToSchema` derives (field types,
/// requiredness, enums, doc comments as descriptions): the types the handlers read and
/// answer with are the contract.
#[rustfmt::skip] // the list, grouped by area
pub fn from_types() -> Map<String, Value> {
    let schemas = schemas_of![
        // Accounts and errors.
        Role, UserView, NewUserFields, UserPatch, ApiToken, NewToken, CreatedToken, FieldError,
        ErrorBody,
        // Calendars and policies.
        TimeWindow, Timezone, WeeklyHours, CalendarDefinition, CalendarRecord, SlaDuration,
        WarningThreshold, PauseOn, Policy, PolicyRecord, Updated, JobView, DefaultPolicy,
        // Conversations, their SLA and the stream.
        Author, ConversationStatus, Channel, Visibility, Priority, Contact, SurveyKind,
        SurveyResponse, ConversationSummary, ConversationView, ConversationDetail, Metric,
        ClockState, MetricStatus, SlaState, IngestOutcome, EventResult, IngestReply, StreamEvent,
        // Rules, channels and deliveries.
        RuleEvent, FiredEvent, Field, Op, ConditionValue, Match, Template, Action, RuleDefinition,
        RuleRecord, RuleView, ConversationState, SideEffect, ConditionCheck, Explanation,
        WouldApply, TestResult, ChannelInfo, OutboxItem,
        // Contracts and staffing.
        Period, ServiceLevelFormula, MetricTarget, CounterpartyKind, Scope, Remedies, Contract,
        Band, Positions, TeamDepartment, TeamDepartments, PeriodKey, ReviewNotice, ContractView,
        CurrentPeriod, ContractList, MetricKind, MetricResult, Money, ComplianceView, ContractName,
        MetricView, BreakdownsView, GroupView,
    ];
    schemas
        .into_iter()
        .map(|(name, schema)| (name, to_json(schema)))
        .collect()
}

/// A list of stored events, in the ingest shape (`IncomingEvent`).
pub(crate) fn timeline() -> utoipa::openapi::Array {
    promptly::schema::list_of("IncomingEvent")
}

/// A body that is a record's definition with its `name`, `description` and `more` fields
/// beside the definition's own, in one object (as `services::calendars::named` reads it).
fn named(definition: &Value, description: &str, more: Value) -> Value {
    let mut schema = definition.clone();
    schema["description"] = json!(description);
    let properties = schema["properties"]
        .as_object_mut()
        .expect("a definition is an object");
    properties.insert("name".into(), to_json(promptly::schema::name()));
    properties.insert(
        "description".into(),
        to_json(promptly::schema::description()),
    );
    properties.extend(more.as_object().cloned().unwrap_or_default());
    let required = schema["required"].as_array().cloned().unwrap_or_default();
    schema["required"] = json!([vec![json!("name")], required].concat());
    schema
}

fn to_json(schema: impl serde::Serialize) -> Value {
    serde_json::to_value(schema).expect("schemas serialize")
}

/// The rule an admin writes (`POST /rules`, `PUT /rules/{id}`): the stored shape
/// (`RuleDefinition`) with its optional fields nullable, and the cross-field rules
/// `parse_rule` enforces: an action unless `stop`, `after` exactly for `sla.overdue`, and
/// only the condition fields the event knows.
fn rule_input(definition: &Value, matching: &Value) -> Value {
    use promptly::limits::{RULE_ACTIONS, RULE_CONDITIONS};
    let mut properties = definition["properties"].clone();
    properties["name"] = to_json(promptly::schema::rule_name());
    properties["enabled"] = json!({"type": ["boolean", "null"], "default": true});
    properties["stop"] = json!({"type": ["boolean", "null"], "default": false,
        "description": "When it fires, later rules do not run."});
    let mut words = matching["enum"].as_array().cloned().unwrap_or_default();
    words.push(Value::Null);
    properties["match"] = json!({"enum": words, "description": "Default `all`."});
    properties["conditions"] = json!({
        "type": ["array", "null"],
        "maxItems": RULE_CONDITIONS,
        "items": {"$ref": "#/components/schemas/RuleCondition"},
        "description": "None: the rule always matches.",
    });
    properties["actions"] = json!({
        "type": "array",
        "maxItems": RULE_ACTIONS,
        "items": {"$ref": "#/components/schemas/RuleAction"},
    });
    properties["after"] = json!({
        "description": "Only (and required) for `sla.overdue`: how long after the breach. Absent or null on other events.",
        "anyOf": [{"$ref": "#/components/schemas/PositiveDuration"}, {"type": "null"}],
    });
    let mut all_of = vec![json!({
        "if": {"required": ["event"], "properties": {"event": {"const": "sla.overdue"}}},
        "then": {"required": ["after"], "properties": {"after": {"$ref": "#/components/schemas/PositiveDuration"}}},
        "else": {"properties": {"after": {"type": "null"}}},
    })];
    all_of.extend(fields_per_event());
    json!({
        "type": "object",
        "description": "An automation rule as an admin writes it.",
        "required": ["name", "event", "actions"],
        "additionalProperties": false,
        "properties": properties,
        "anyOf": [
            {"required": ["stop"], "properties": {"stop": {"const": true}}},
            {"properties": {"actions": {"minItems": 1}}},
        ],
        "allOf": all_of,
    })
}

fn rule_condition_schema(description: Value) -> Value {
    use promptly::limits::{RULE_VALUES, RULE_VALUE_LEN};
    use promptly::rules::{Field, Op, ValueKind};
    let free_text =
        json!({"type": "string", "minLength": 1, "maxLength": RULE_VALUE_LEN, "pattern": "\\S"});
    let owner = json!({"anyOf": [
        {"enum": ["none", "anyone"]},
        to_json(promptly::schema::email()),
    ]});
    let mut variants = Vec::new();
    for field in Field::ALL {
        // Operators grouped by the value they take (and, for `owner`, e-mail or free text).
        let mut groups: Vec<((u8, bool), Vec<&str>)> = Vec::new();
        for op in field.ops() {
            let kind = match op.value_kind() {
                ValueKind::None => 0,
                ValueKind::Text => 1,
                ValueKind::List => 2,
                ValueKind::Calendar => 3,
            };
            let email =
                field == Field::Owner && matches!(op, Op::Is | Op::IsNot | Op::In | Op::NotIn);
            match groups.iter_mut().find(|(k, _)| *k == (kind, email)) {
                Some((_, ops)) => ops.push(op.as_str()),
                None => groups.push(((kind, email), vec![op.as_str()])),
            }
        }
        for ((kind, email), ops) in groups {
            let text = match field.choices() {
                Some(words) => json!({"enum": words}),
                None if email => owner.clone(),
                None => free_text.clone(),
            };
            let (value, required) = match kind {
                0 => (json!({"type": "null"}), json!(["field", "op"])),
                1 => (text, json!(["field", "op", "value"])),
                2 => (
                    json!({"type": "array", "minItems": 1, "maxItems": RULE_VALUES, "items": text}),
                    json!(["field", "op", "value"]),
                ),
                _ => (
                    json!({"type": "integer", "format": "int64", "description": "A calendar's id."}),
                    json!(["field", "op", "value"]),
                ),
            };
            variants.push(json!({
                "type": "object",
                "additionalProperties": false,
                "required": required,
                "properties": {
                    "field": {"const": field.as_str()},
                    "op": {"enum": ops},
                    "value": value,
                },
            }));
        }
    }
    json!({"description": description, "oneOf": variants})
}

/// For each rule event, the condition fields it does not know (`message.*` without a
/// message, `sla.metric` off SLA events).
fn fields_per_event() -> Vec<Value> {
    use promptly::rules::{Field, RuleEvent};
    RuleEvent::ALL
        .into_iter()
        .filter_map(|event| {
            let unknown: Vec<&str> = Field::ALL
                .into_iter()
                .filter(|f| !f.applies_to(event))
                .map(Field::as_str)
                .collect();
            (!unknown.is_empty()).then(|| {
                json!({
                    "if": {"required": ["event"], "properties": {"event": {"const": event.as_str()}}},
                    "then": {"properties": {"conditions": {"items": {
                        "properties": {"field": {"not": {"enum": unknown}}}
                    }}}},
                })
            })
        })
        .collect()
}

/// Where the API lives; the document's paths are relative to it.
const BASE: &str = "/api/v1";

/// `/openapi.json`, to be nested under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi))
}

/// The browsable page: Swagger UI, its assets embedded in the binary (nothing from a CDN),
/// at `/api/docs/`, reading [`document`] from `/api/v1/openapi.json`; `/api` leads there.
/// "Try it out" sends the browser's session cookie (and its `Origin`, so state-changing
/// calls pass the cross-site check), or the bearer token entered under "Authorize".
pub fn page_router() -> Router<AppState> {
    let config = utoipa_swagger_ui::Config::from(format!("{BASE}/openapi.json"))
        .with_credentials(true)
        .persist_authorization(true)
        .try_it_out_enabled(true)
        .display_operation_id(true);
    let ui: Router<AppState> = SwaggerUi::new(PAGE).config(config).into();
    ui.route("/api", get(|| async { Redirect::to(&format!("{PAGE}/")) }))
}

/// Where the browsable page lives.
pub const PAGE: &str = "/api/docs";

async fn openapi() -> impl IntoResponse {
    static TEXT: OnceLock<String> = OnceLock::new();
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        TEXT.get_or_init(|| document().to_string()).as_str(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One definition per schema: what the types define is not also written by hand.
    #[test]
    fn no_schema_is_both_written_and_derived() {
        let written: Value = serde_json::from_str(OPENAPI_JSON).unwrap();
        let both: Vec<String> = from_types()
            .keys()
            .filter(|name| {
                written["components"]["schemas"]
                    .get(name.as_str())
                    .is_some()
            })
            .cloned()
            .collect();
        assert!(both.is_empty(), "written and derived: {both:?}");
    }

    #[test]
    fn the_document_is_openapi_3_1() {
        assert!(document()["openapi"].as_str().unwrap().starts_with("3.1."));
    }
}
