//! The API's documentation: the OpenAPI 3.1 document at `/api/v1/openapi.json` (public) and
//! the browsable page (Swagger UI, embedded) at `/api/docs/`.
//!
//! The operations come from the handlers (`#[utoipa::path]` on each, listed in
//! [`Operations`]), completed by the access table (who may call, 401/403) and by their
//! inputs (400/413/422); the schemas come from the Rust types ([`from_types`]: their
//! `utoipa::ToSchema` derives) and the error answers from `http::error::responses`.
//! The bodies that value-based parsers read (to report every field at once: the ingest
//! events, a rule order, a dry run) have their schemas built beside their parsers, from the
//! same limits and word lists. `server/tests/suite/openapi.rs` checks that the document lists exactly
//! the routes the router serves.

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
    DrillView, GroupView, MetricView, TeamDepartments,
};
use crate::http::conversations::ConversationDetail;
use crate::http::error::ErrorBody;
use crate::http::events::{EventResult, IngestReply};
use crate::http::policies::{Updated, WhatIfAnswer};
use crate::http::rules::{RuleView, TestResult, WouldApply};
use crate::http::staffing::Staffing;
use crate::http::tokens::NewToken;
use crate::http::users::{MePatch, UserPatch};
use crate::http::{
    audit, automation, calendars, channel_accounts, contracts, conversations, events, live,
    notifications, policies, rules, staffing, stream, tokens, users,
};
use crate::services::accounts::{NewUserFields, PasswordChange, PasswordReset};
use crate::services::policies::DefaultPolicy;
use crate::services::tokens::CreatedToken;
use crate::store::{
    ApiToken, CalendarRecord, IngestOutcome, OutboxItem, PolicyRecord, RuleRecord, TeamDepartment,
};
use promptly::account::{FieldError, Role, UserView};
use promptly::calendar::{CalendarDefinition, TimeWindow, Timezone, WeeklyHours};
use promptly::clock::{ClockState, Metric, MetricStatus, SlaState};
use promptly::compliance::{
    Band, Contract, CounterpartyKind, Dimension, MetricKind, MetricResult, MetricTarget, Money,
    Period, PeriodKey, Remedies, ReviewNotice, Scope, ServiceLevelFormula, SurveyKind,
    SurveyResponse,
};
use promptly::conversation::{
    Channel, Contact, ConversationSummary, ConversationView, Priority, Visibility,
};
use promptly::duration::{SlaDuration, Target};
use promptly::job::JobView;
use promptly::policy::{PauseOn, Policy, WarningThreshold};
use promptly::rules::{
    Action, ConditionCheck, ConditionValue, ConversationState, Explanation, Field, FiredEvent,
    Match, Op, RuleDefinition, RuleEvent, SideEffect, Template,
};
use promptly::staffing::Positions;
use promptly::stream::StreamEvent;
use promptly::timeline::{Author, ConversationStatus};

/// Every operation of the API: the `#[utoipa::path]` on each handler (its path, inputs,
/// answers and words, from the types it reads and answers with).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    openapi,
    users::me,
    users::update_me,
    users::list,
    users::create,
    users::one,
    users::update,
    users::change_password,
    users::reset,
    audit::list,
    tokens::list,
    tokens::create,
    tokens::revoke,
    calendars::list,
    calendars::create,
    calendars::one,
    calendars::update,
    calendars::remove,
    policies::list,
    policies::create,
    policies::one,
    policies::update,
    policies::remove,
    policies::versions,
    policies::job,
    policies::what_if,
    policies::cancel_job,
    policies::get_default,
    policies::set_default,
    rules::list,
    rules::create,
    rules::reorder,
    rules::one,
    rules::update,
    rules::remove,
    rules::test,
    automation::channels,
    automation::set_outbound,
    automation::remove_outbound,
    automation::deliveries,
    channel_accounts::list,
    channel_accounts::create,
    channel_accounts::one,
    channel_accounts::update,
    channel_accounts::remove,
    events::ingest,
    conversations::list,
    conversations::one,
    conversations::post_message,
    conversations::take_next,
    stream::stream_events,
    contracts::list,
    contracts::create,
    contracts::show,
    contracts::update,
    contracts::remove,
    contracts::compliance,
    contracts::compliance_csv,
    contracts::conversations,
    contracts::departments,
    contracts::set_departments,
    staffing::staffing,
    live::live,
    notifications::list,
    notifications::read,
    notifications::settings,
    notifications::save_settings,
))]
struct Operations;

/// The OpenAPI document, as served: the operations of the handlers ([`Operations`]) with
/// what the access table and their inputs add (who may call, 401/403, 400/413/422), the
/// error answers of [`crate::http::error::responses`], and the schemas of the Rust types
/// ([`from_types`]), so the contract cannot drift from what the server accepts.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = about();
        let operations = <Operations as utoipa::OpenApi>::openapi();
        let mut paths = to_json(operations.paths);
        complete_operations(&mut paths);
        doc["paths"] = paths;
        let mut schemas = Map::new();
        // The types the operations name, with the types they refer to (utoipa collects them).
        let named = operations.components.map(|c| to_json(c.schemas));
        for (name, schema) in named
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default()
        {
            schemas.entry(name).or_insert(schema);
        }
        schemas.extend(from_types());
        // `Action` denies unknown fields, which the derive does not carry into the variants
        // of an internally tagged enum.
        for variant in schemas["RuleAction"]["oneOf"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            variant["additionalProperties"] = json!(false);
        }
        doc["components"]["schemas"] = Value::Object(schemas);
        doc["components"]["responses"] = crate::http::error::responses::all()
            .into_iter()
            .map(|(name, response)| (name.to_string(), to_json(response)))
            .collect::<Map<_, _>>()
            .into();
        doc
    })
}

/// What each operation's inputs and roles add: `security: []` for public operations, 401
/// for the rest and 403 when the access table names roles (and who may call, in words);
/// 422 for a query, 413 and 422 for a JSON body, 404 for an `{id}` that names no
/// record.
fn complete_operations(paths: &mut Value) {
    use crate::http::access::{route, Allow};
    for (path, item) in paths.as_object_mut().expect("paths are an object") {
        for (method, op) in item.as_object_mut().expect("a path item is an object") {
            let full = format!("{BASE}{path}");
            let route = route(&method.to_uppercase(), &full)
                .unwrap_or_else(|| panic!("{method} {full} is not in the access table"));
            let has_query = op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            let has_body = op.get("requestBody").is_some();
            let responses = op["responses"]
                .as_object_mut()
                .expect("an operation has responses");
            let mut add = |status: &str, name: &str| {
                responses
                    .entry(status)
                    .or_insert_with(|| json!({"$ref": format!("#/components/responses/{name}")}));
            };
            if route.allow != Allow::Anyone {
                add("401", "Unauthorized");
            }
            if route.allow.refuses_someone() {
                add("403", "Forbidden");
            }
            if has_query {
                add("422", "Unprocessable");
            }
            if has_body {
                add("413", "TooLarge");
                add("422", "Unprocessable");
            }
            if path.contains("{id}") {
                add("404", "NotFound");
            }
            let mut sorted: Vec<(String, Value)> = std::mem::take(responses).into_iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            responses.extend(sorted);
            // Who proves themselves how: a token with the route's scope, or a session.
            op["security"] = match route.allow {
                Allow::Anyone => json!([]),
                Allow::Tokens(scope) => json!([{"bearerAuth": [scope.as_str()]}]),
                allow => {
                    let scopes: Vec<&str> = allow.scope().iter().map(|s| s.as_str()).collect();
                    json!([{"bearerAuth": scopes}, {"sessionCookie": []}])
                }
            };
            let who = route.allow.in_words();
            let description = op["description"].as_str().unwrap_or_default();
            op["description"] = json!(match description {
                "" => who.to_string(),
                d => format!("{who} {d}"),
            }
            .trim()
            .to_string());
        }
    }
}

/// The document's title, words, servers, security schemes and tags.
fn about() -> Value {
    let scopes = promptly::account::Scope::ALL
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ");
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Promptly API",
            "version": "1",
            "summary": "SLA management for customer conversations: users, integration tokens, business-hours calendars, SLA policies, automation rules, event ingest, the queue and a live stream.",
            "description": format!("Every path is relative to `/api/v1`. Requests authenticate with an integration token (`Authorization: Bearer TOKEN`, created by an admin on the users page or with `promptly token create`) or with a signed-in browser's `promptly_session` cookie. A request with a session cookie that changes state (anything but GET, HEAD, OPTIONS) must carry this site's `Origin` (or `Referer`), else it is refused with 403 and a plain-text body; token requests are not checked.\n\nErrors are JSON: `{{\"error\": \"message\"}}`, and for invalid fields also `\"errors\": [{{\"field\": \"hours.tue[1]\", \"message\": \"...\"}}]`, where `field` is the path of the failing field in the request body. Request bodies are limited to 1 MiB (413). Timestamps are RFC 3339 in UTC.\n\nRoles: admins may do everything; agents and managers read calendars, policies, conversations and the stream; events are posted by integration tokens only (a browser session gets 403); managers and admins keep contracts; automation rules and deliveries are admins' alone (webhook URLs are often credentials). A token acts with its scopes ({scopes}; `admin` grants all); each operation's `security` names the scope a token needs. A token created without scopes may only post events. Each operation says who may call it."),
        },
        "servers": [{"url": BASE, "description": "This Promptly server"}],
        "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        "tags": [
            {"name": "Users", "description": "The signed-in user and the user accounts (admins)."},
            {"name": "Audit", "description": "The audit log: who changed which setting or account, when, before and after (admins)."},
            {"name": "Tokens", "description": "Integration tokens for channels and helpdesks (admins). A token is shown once, at creation; only its hash is kept."},
            {"name": "Calendars", "description": "Business-hours calendars: time zone, weekly windows, holidays and date overrides."},
            {"name": "Policies", "description": "SLA policies (versioned once a conversation uses them) and the default policy for new conversations."},
            {"name": "Rules", "description": "Automation rules (event, conditions, actions) in the order they run, and a dry run of one on a conversation."},
            {"name": "Compliance", "description": "SLA contracts with clients or departments (managers and admins), their compliance per period with bands, money and breakdowns (JSON and CSV), the conversations behind a number, the team → department mapping, and the staffing what-if."},
            {"name": "Channels", "description": "WhatsApp numbers, Facebook pages, Instagram accounts and X accounts connected straight to Promptly (admins): their settings (secrets masked), the webhook URL for the platform's console, and the webhooks' health."},
            {"name": "Automation", "description": "Where system messages to each channel are delivered, and the deliveries (rule webhooks and channel messages) with their attempts and failures."},
            {"name": "Events", "description": "What messaging channels and helpdesks send."},
            {"name": "Conversations", "description": "The queue and single conversations, each with its SLA evaluated now."},
            {"name": "Stream", "description": "Server-sent events for live pages and integrations."},
            {"name": "Documentation", "description": "This document."},
        ],
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An integration token: `Authorization: Bearer TOKEN`. Tokens start with `pt_`; an unknown or revoked token gets 401 `{\"error\": \"unknown or revoked token\"}`."},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "promptly_session", "description": "A signed-in browser's session (set by `POST /login`). State-changing requests must also carry this site's `Origin` or `Referer`."},
            },
        },
    })
}

/// A schema the document defines from code rather than a derive: a marker type whose
/// schema (named `$name`) is what `$build` returns.
macro_rules! schema_from {
    ($(#[$doc:meta])* $t:ident as $name:literal = $build:expr) => {
        $(#[$doc])*
        pub struct $t;
        impl $t {
            /// The schema, as the document states it (JSON Schema that utoipa's types do not
            /// model: `if`/`then`, `const`, `contentSchema`).
            pub fn json() -> Value {
                $build
            }
        }
        /// Only the name counts where a handler names this body (the document refers to it);
        /// the schema itself is [`Self::json`].
        impl utoipa::PartialSchema for $t {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::Object::new().into()
            }
        }
        impl utoipa::ToSchema for $t {
            fn name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }
        }
    };
}

schema_from!(
    /// A calendar's body: its definition with its name and description, in one object.
    CalendarInput as "CalendarInput" = named(
        &to_json(<CalendarDefinition as utoipa::PartialSchema>::schema()),
        "A calendar definition with its name and description, in one object.",
        json!({}),
    )
);
schema_from!(
    /// A policy's body: the policy with its name, description and calendar.
    PolicyInput as "PolicyInput" = named(
        &to_json(<Policy as utoipa::PartialSchema>::schema()),
        "A policy with its name, description and calendar, in one object.",
        json!({"calendar_id": {
            "type": ["integer", "null"],
            "format": "int64",
            "description": "The calendar whose open time counts.",
        }}),
    )
);
schema_from!(
    /// A what-if's body: the draft policy, the period and the scope.
    WhatIfInput as "WhatIfInput" = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["draft"],
        "properties": {
            "draft": {"$ref": "#/components/schemas/PolicyInput"},
            "from": {"oneOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}],
                "description": "The period's start: an RFC 3339 instant or a date (its midnight UTC). Default: 90 days before `to`."},
            "to": {"oneOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}],
                "description": "The period's end (excluded): an RFC 3339 instant or a date (included: up to the next midnight UTC). Default: now. After `from`, at most 400 days after it."},
            "scope": {"$ref": "#/components/schemas/ReplayScope"},
            "attainment": {"type": "array", "minItems": 1, "maxItems": 5,
                "items": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
                "description": "Attainment levels (percent) to advise targets for. Default: 80, 90, 95."},
        },
    })
);
schema_from!(
    /// The rule an admin writes.
    RuleInput as "Rule" = rule_input(
        &to_json(<RuleDefinition as utoipa::PartialSchema>::schema()),
        &to_json(<Match as utoipa::PartialSchema>::schema()),
    )
);
schema_from!(
    /// One condition of a rule, each operator with the value its field takes.
    RuleCondition as "RuleCondition" = rule_condition_schema(json!(
        "One condition: `field`, `op` and (unless the op takes none) `value`, each operator with the value its field takes."
    ))
);
schema_from!(
    /// A channel account's body: one of the kinds, each with its own settings.
    ChannelAccountBody as "ChannelAccountBody" = to_json(promptly::channels::account_body_schema())
);
schema_from!(
    /// A duration above zero.
    PositiveDuration as "PositiveDuration" = to_json(SlaDuration::schema(1))
);
schema_from!(
    /// `POST /events`: one event or a batch.
    EventsBody as "Events" = json!({"oneOf": [
        {"$ref": "#/components/schemas/IncomingEvent"},
        {"$ref": "#/components/schemas/EventBatch"},
    ]})
);
schema_from!(
    /// One server-sent event of `/stream`: its `event:` name and its JSON `data:` line.
    StreamFrame as "StreamFrame" = stream_frame()
);

schema_from!(
    /// The body of `POST /rules/order`.
    RuleOrder as "RuleOrder" = crate::services::rules::order_schema()
);
schema_from!(
    /// The body of `POST /rules/{id}/test`.
    RuleTest as "RuleTest" = rules::test_request_schema()
);

/// Each server-sent event: its name, its JSON `data:` ([`StreamEvent`]), and for
/// conversation changes an `id:`.
fn stream_frame() -> Value {
    let frame = |event: &str, id: bool| {
        let mut required = vec!["event", "data"];
        let mut properties = json!({
            "event": {"const": event},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": "#/components/schemas/StreamEvent"},
            },
        });
        if id {
            required.push("id");
            properties["id"] = json!({"type": "string", "pattern": "^[0-9]+$"});
        }
        json!({"type": "object", "required": required, "properties": properties})
    };
    json!({
        "description": "Each server-sent event: its `event:` name and its `data:` line, a JSON document.",
        "oneOf": [frame("hello", false), frame("heartbeat", false), frame("conversation", true), frame("notification", false)],
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
        Role, UserView, NewUserFields, UserPatch, MePatch, PasswordChange, PasswordReset, ApiToken,
        NewToken, CreatedToken, promptly::account::Scope, FieldError, ErrorBody,
        promptly::audit::Entity, promptly::audit::AuditEntry,
        // Calendars and policies.
        TimeWindow, Timezone, WeeklyHours, CalendarDefinition, CalendarRecord, SlaDuration, Target,
        WarningThreshold, PauseOn, Policy, PolicyRecord, Updated, JobView, DefaultPolicy,
        promptly::whatif::WhatIf, promptly::whatif::ReplayReport, promptly::whatif::TargetReport,
        promptly::whatif::TargetsReport, promptly::whatif::GroupReport, promptly::whatif::Advice,
        promptly::whatif::ReplayScope, WhatIfAnswer,
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
        MetricView, BreakdownsView, GroupView, Staffing, DrillView, Dimension,
        promptly::compliance::Board, promptly::compliance::BoardRow, promptly::compliance::LiveDay,
        promptly::compliance::IntervalLevel, promptly::compliance::IntervalLength,
        // Notifications.
        promptly::notify::NotificationKind, promptly::notify::NotificationView,
        promptly::notify::NotificationList, promptly::notify::NotificationSettings,
        notifications::ReadBody, notifications::ReadAnswer,
    ];
    let mut schemas: Map<String, Value> = schemas
        .into_iter()
        .map(|(name, schema)| (name, to_json(schema)))
        .collect();
    // Shapes the document builds from code.
    macro_rules! built { ($($t:ty),*) => { $(schemas.insert(<$t as utoipa::ToSchema>::name().into_owned(), <$t>::json());)* } }
    notify_recipients(&mut schemas);
    built!(CalendarInput, PolicyInput, WhatIfInput, RuleInput, RuleCondition, PositiveDuration, EventsBody, StreamFrame, RuleOrder, RuleTest, ChannelAccountBody);
    for (name, schema) in promptly::conversation::incoming_schemas() {
        schemas.insert(name.to_string(), schema);
    }
    schemas.insert("ArchivedEvents".into(), archived_events());
    schemas.insert(
        "StoredEvent".into(),
        json!({
            "description": "A stored event: as it was ingested, or the archive that stands for a resolved conversation's earlier events after the retention period.",
            "oneOf": [{"$ref": "#/components/schemas/IncomingEvent"},
                      {"$ref": "#/components/schemas/ArchivedEvents"}],
        }),
    );
    schemas
}

/// `promptly::conversation::EventBody::Archived` as stored and shown (never accepted).
fn archived_events() -> Value {
    let text = json!({"type": "string"});
    let instant = json!({"type": "string", "format": "date-time"});
    json!({
        "type": "object",
        "description": "Stands for a resolved conversation's earlier events once the retention purge (`PROMPTLY_RETAIN_EVENTS_DAYS`) removed them: how many, and the summary and SLA timeline they folded into. Channels cannot send it.",
        "required": ["id", "conversation", "at", "type", "events", "summary", "timeline"],
        "additionalProperties": false,
        "properties": {
            "id": text,
            "conversation": text,
            "at": {"type": "string", "format": "date-time", "description": "The earliest of the events' instants."},
            "type": {"const": "conversation.archived"},
            "events": {"type": "integer", "minimum": 1},
            "summary": {"$ref": "#/components/schemas/ConversationSummary"},
            "timeline": {"type": "array", "items": {
                "type": "object",
                "required": ["at", "kind"],
                "additionalProperties": false,
                "properties": {
                    "at": instant,
                    "kind": {"enum": ["created", "message", "status", "handover", "apply_policy"]},
                    "bot": {"type": "boolean"},
                    "author": {"$ref": "#/components/schemas/Author"},
                    "private": {"type": "boolean"},
                    "status": {"$ref": "#/components/schemas/ConversationStatus"},
                    "policy": {"type": "object"},
                },
            }},
        },
    })
}

/// A list of stored events: in the ingest shape (`IncomingEvent`), or an archive.
pub(crate) fn timeline() -> utoipa::openapi::Array {
    promptly::schema::list_of("StoredEvent")
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
    let band = promptly::rules::RuleEvent::BandChanged.as_str();
    let mut all_of = vec![
        json!({
            "if": {"required": ["event"], "properties": {"event": {"const": band}}},
            "then": {"properties": {"actions": {"items": {"properties": {
                "type": {"enum": ["notify", "webhook"]},
                "owner": {"enum": [false, null]},
            }}}}},
        }),
        json!({
            "if": {"required": ["event"], "properties": {"event": {"const": "sla.overdue"}}},
            "then": {"required": ["after"], "properties": {"after": {"$ref": "#/components/schemas/PositiveDuration"}}},
            "else": {"properties": {"after": {"type": "null"}}},
        }),
    ];
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

/// A `notify` action names exactly one of `users`, `team` and `owner` (`parse_rule`).
fn notify_recipients(schemas: &mut Map<String, Value>) {
    let Some(variants) = schemas
        .get_mut("RuleAction")
        .and_then(|a| a.get_mut("oneOf"))
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for v in variants.iter_mut() {
        let is_notify = v["properties"]["type"]["enum"] == json!(["notify"]);
        if is_notify {
            // Each may also be null (left out), as the server reads them.
            v["properties"]["owner"] = json!({"type": ["boolean", "null"], "default": false,
                "description": "The conversation's owner (conversation events only)."});
            v["properties"]["users"]["type"] = json!(["array", "null"]);
            let absent = json!({"type": "null"});
            let nobody = json!({"enum": [false, null]});
            v["oneOf"] = json!([
                {"required": ["users"], "properties": {"users": {"type": "array"}, "team": absent, "owner": nobody}},
                {"required": ["team"], "properties": {"users": absent, "team": {"type": "string"}, "owner": nobody}},
                {"required": ["owner"], "properties": {"users": absent, "team": absent, "owner": {"const": true}}},
            ]);
        }
    }
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
use super::API_BASE as BASE;

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

/// This OpenAPI document
///
/// Public: no token or session needed. A readable rendering is served at `/api`.
#[utoipa::path(get, path = "/openapi.json", tag = "Documentation", operation_id = "getOpenApi",
    responses((status = 200, description = "The OpenAPI 3.1 document.", body = serde_json::Value)))]
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

    #[test]
    fn the_document_is_openapi_3_1() {
        assert!(document()["openapi"].as_str().unwrap().starts_with("3.1."));
    }
}
