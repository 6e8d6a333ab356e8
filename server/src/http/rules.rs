//! `/api/v1/rules`: automation rules in the order they run (admins edit; everyone signed in
//! reads), their order, and a dry run of one rule against a stored conversation.
//!
//! Bodies are the rule JSON of `promptly::rules` (validated by `parse_rule`, every problem
//! with its path, e.g. `conditions[1].op`). A webhook's secret is never shown: reads carry
//! [`MASK`] instead, and a write that sends [`MASK`] back keeps the stored secret.

use super::error::responses;
use super::error::ApiError;
use super::{created, Api, Id, JsonBody, Object, WithStatus};
use crate::auth::PublicOrigin;
use crate::catalog::SlaCatalog;
use crate::services;
use crate::services::conversations::conversation_detail;
use crate::state::AppState;
use crate::store::RuleRecord;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use promptly::account::FieldError;
use promptly::conversation::{EventBody, IncomingEvent};
use promptly::rules::{
    apply_actions, explain, Action, ActionEnv, Applied, ConversationState, Explanation, Fired,
    FiredEvent, RuleContext, RuleEvent, SideEffect, SlaFacts,
};
use promptly::timeline::Author;
use promptly::Metric;
use serde::Serialize;
use serde_json::{json, Value};

pub use crate::services::rules::MASK;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/rules", get(list).post(create))
        .route("/rules/order", post(reorder))
        .route("/rules/{id}", get(one).put(update).delete(remove))
        .route("/rules/{id}/test", post(test))
}

/// A rule as the API shows it: its secrets masked, and how often it fired today.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = RuleRecord)]
pub struct RuleView {
    #[serde(flatten)]
    pub rule: RuleRecord,
    /// How many times it fired since 00:00 UTC today.
    pub fired_today: i64,
}

/// Replaces every webhook secret by [`MASK`] (an empty one stays empty).
pub(crate) fn mask_actions(actions: &mut [Action]) {
    for a in actions {
        if let Action::Webhook { secret, .. } = a {
            if !secret.is_empty() {
                *secret = MASK.to_string();
            }
        }
    }
}

fn masked(mut rule: RuleRecord) -> RuleRecord {
    mask_actions(&mut rule.definition.actions);
    rule
}

/// The start of today in UTC, from which `fired_today` counts.
fn start_of_day(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
}

pub(crate) async fn views(
    state: &AppState,
    rules: Vec<RuleRecord>,
) -> Result<Vec<RuleView>, ApiError> {
    let counts = state
        .store
        .rule_fire_counts(start_of_day(state.clock.now()))
        .await?;
    Ok(rules
        .into_iter()
        .map(|r| RuleView {
            fired_today: counts.get(&r.id).copied().unwrap_or(0),
            rule: masked(r),
        })
        .collect())
}

async fn view(state: &AppState, rule: RuleRecord) -> Result<RuleView, ApiError> {
    Ok(views(state, vec![rule]).await?.remove(0))
}

/// List rules
///
/// Every rule in the order they run (position, then id), each with `fired_today`: how many times it fired since 00:00 UTC today. Webhook secrets read as `********`.
#[utoipa::path(get, path = "/rules", tag = "Rules", operation_id = "listRules",
    responses((status = 200, description = "The rules, in order.", body = Vec<RuleView>)))]
async fn list(State(state): State<AppState>) -> Api<Vec<RuleView>> {
    let rules = state.store.list_rules().await?;
    Ok(Json(views(&state, rules).await?))
}

/// One rule
#[utoipa::path(get, path = "/rules/{id}", tag = "Rules", operation_id = "getRule",
    params(super::Id), responses((status = 200, description = "The rule.", body = RuleView)))]
async fn one(State(state): State<AppState>, Id(id): Id) -> Api<RuleView> {
    let rule = state.store.rule(id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(view(&state, rule).await?))
}

/// Create a rule
///
/// The rule goes after the last one. Every problem is reported with its path (`conditions[1].op`, `actions[0].policy`; an empty path is the body itself); policies and calendars must exist. A webhook secret of `********` is refused here: a new rule has no stored secret to keep.
#[utoipa::path(post, path = "/rules", tag = "Rules", operation_id = "createRule",
    request_body = super::docs::RuleInput, responses((status = 201, description = "The rule was created.", body = RuleView), (status = 404, response = responses::MissingReference)))]
async fn create(State(state): State<AppState>, Object(body): Object) -> WithStatus<RuleView> {
    let rec = services::rules::create(&state, body).await?;
    created(view(&state, rec).await?)
}

/// Change a rule
///
/// Replaces the rule's definition; it keeps its place in the order. A webhook whose `secret` is `********` (as reads show it) keeps the stored secret of the rule's webhook with the same URL; for a new URL the secret must be sent (else 422 on `actions[i].secret`).
#[utoipa::path(put, path = "/rules/{id}", tag = "Rules", operation_id = "updateRule",
    params(super::Id), request_body = super::docs::RuleInput, responses((status = 200, description = "The rule as changed.", body = RuleView), (status = 404, response = responses::MissingReference)))]
async fn update(State(state): State<AppState>, Id(id): Id, Object(body): Object) -> Api<RuleView> {
    let rec = services::rules::update(&state, id, body).await?;
    Ok(Json(view(&state, rec).await?))
}

/// Delete a rule
///
/// The rules after it keep their order.
#[utoipa::path(delete, path = "/rules/{id}", tag = "Rules", operation_id = "deleteRule",
    params(super::Id), responses((status = 204, description = "The rule is deleted.")))]
async fn remove(State(state): State<AppState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    services::rules::delete(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reorder the rules
///
/// The body lists every rule's id exactly once, in the new order: `{"ids": [3, 1, 2]}` or the bare list `[3, 1, 2]`. Positions become 0, 1, 2, ... in one transaction. A list that is not exactly the current rules' ids is refused (409) and nothing moves.
#[utoipa::path(post, path = "/rules/order", tag = "Rules", operation_id = "reorderRules",
    request_body = super::docs::RuleOrder, responses((status = 200, description = "The rules in their new order.", body = Vec<RuleView>), (status = 409, response = responses::Stale)))]
async fn reorder(State(state): State<AppState>, JsonBody(body): JsonBody) -> Api<Vec<RuleView>> {
    let rules = services::rules::reorder(&state, body).await?;
    Ok(Json(views(&state, rules).await?))
}

/// A dry run's body: the conversation (Promptly's id or the sender's) and, for `sla.*`
/// rules, the clock the event is about.
struct TestRequest {
    conversation: String,
    metric: Metric,
}

/// What [`test_request`] takes, for the API document.
pub(crate) fn test_request_schema() -> Value {
    json!({
        "type": "object",
        "required": ["conversation"],
        "additionalProperties": false,
        "properties": {
            "conversation": {
                "description": "Promptly's id of the conversation, or the sender's id for it.",
                "oneOf": [
                    {"type": "string", "minLength": 1, "pattern": "\\S"},
                    {"type": "integer", "format": "int64"},
                ],
            },
            "metric": {
                "description": "The clock an `sla.*` event is about (default `first_response`).",
                "oneOf": [{"$ref": "#/components/schemas/Metric"}, {"type": "null"}],
            },
        },
    })
}

fn test_request(body: Value) -> Result<TestRequest, ApiError> {
    let Value::Object(obj) = body else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    let mut errors = Vec::new();
    for key in obj.keys() {
        if key != "conversation" && key != "metric" {
            errors.push(FieldError::new(key.as_str(), "is not a known field"));
        }
    }
    let conversation = match obj.get("conversation") {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) if n.is_i64() => Some(n.to_string()),
        _ => {
            errors.push(FieldError::new(
                "conversation",
                "is required: the conversation's id or the sender's id for it",
            ));
            None
        }
    };
    let metric = match obj.get("metric") {
        None | Some(Value::Null) => Some(Metric::FirstResponse),
        Some(v) => match serde_json::from_value::<Metric>(v.clone()) {
            Ok(m) => Some(m),
            Err(_) => {
                errors.push(FieldError::new(
                    "metric",
                    "must be first_response, next_response or resolution",
                ));
                None
            }
        },
    };
    match (conversation, metric) {
        (Some(conversation), Some(metric)) if errors.is_empty() => Ok(TestRequest {
            conversation,
            metric,
        }),
        _ => Err(ApiError::Unprocessable { errors }),
    }
}

/// What the rule's actions would do to the conversation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct WouldApply {
    pub state: ConversationState,
    pub effects: Vec<SideEffect>,
}

/// A dry run's answer (the API's body, and what the rules page shows).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = RuleTestResult)]
pub(crate) struct TestResult {
    pub rule: i64,
    /// Promptly's id of the conversation.
    pub conversation: i64,
    pub explanation: Explanation,
    pub would_apply: WouldApply,
}

/// The message an event with a message is explained with: for `message.created` the
/// conversation's latest public message, for `conversation.created` its first.
fn trigger_message(events: &[IncomingEvent], kind: RuleEvent) -> Option<(Author, &str)> {
    let mut public = events.iter().filter_map(|e| match &e.body {
        EventBody::Message {
            author,
            private: false,
            text,
            ..
        } => Some((*author, text.as_str())),
        _ => None,
    });
    match kind {
        RuleEvent::MessageCreated => public.next_back(),
        RuleEvent::ConversationCreated => public.next(),
        _ => None,
    }
}

/// Dry-run a rule on a conversation
///
/// Explains what the rule would do for its event on a stored conversation as it is now, changing nothing: every condition with the value it saw and whether it matched, whether the rule would fire (a disabled rule is explained as if enabled), and the conversation after its actions with the messages and webhooks it would send (secrets masked). `message.*` conditions see the conversation's latest public message for `message.created` rules and its first for `conversation.created` rules; `business_hours` is answered from the calendar now; `sla.*` rules are explained for `metric` (default `first_response`). Links in messages start with the server's public URL (`PROMPTLY_PUBLIC_URL`), or are relative when it is not set.
#[utoipa::path(post, path = "/rules/{id}/test", tag = "Rules", operation_id = "testRule",
    params(super::Id), request_body = super::docs::RuleTest, responses((status = 200, description = "The explanation.", body = TestResult)))]
async fn test(
    State(state): State<AppState>,
    origin: Option<Extension<PublicOrigin>>,
    crate::auth::Source(source): crate::auth::Source,
    Id(id): Id,
    Object(body): Object,
) -> Api<TestResult> {
    let rule = state.store.rule(id).await?.ok_or(ApiError::NotFound)?;
    let req = test_request(body)?;
    let link_base = origin
        .as_ref()
        .and_then(|Extension(PublicOrigin(o))| o.clone())
        .unwrap_or_default();
    Ok(Json(
        dry_run(
            &state,
            &rule,
            (source.as_deref(), &req.conversation),
            req.metric,
            &link_base,
        )
        .await?,
    ))
}

/// The dry run of `rule` on a stored conversation (Promptly's id, or the id its integration
/// gave it: the caller's `source`, any for a person), evaluated now, changing nothing; secrets are masked. `NotFound`
/// when there is no such conversation. Shared by `POST /api/v1/rules/{id}/test` and the
/// rules page.
pub(crate) async fn dry_run(
    state: &AppState,
    rule: &RuleRecord,
    (source, conversation): (Option<&str>, &str),
    metric: Metric,
    link_base: &str,
) -> Result<TestResult, ApiError> {
    let store = state.store.as_ref();
    let row = services::conversations::find(store, source, conversation)
        .await?
        .ok_or(ApiError::NotFound)?;
    let now = state.clock.now();
    let mut catalog = SlaCatalog::cached(state, now).await?;
    let (conversation, events) = conversation_detail(store, &mut catalog, row, now).await?;

    let definition = &rule.definition;
    let event = FiredEvent::for_rule(definition, metric);
    let open_now = |calendar: i64| catalog.calendar(calendar).map(|c| c.is_open_at(now));
    let mut ctx = RuleContext::new(&conversation.summary).with_business_hours(&open_now);
    if let Some((author, text)) = trigger_message(&events, definition.event) {
        ctx = ctx.with_message(author, text);
    }
    let mut explanation = explain(definition, &event, &ctx);
    mask_actions(&mut explanation.actions);

    let env = ActionEnv {
        conversation_id: conversation.id,
        conversation: &conversation.summary,
        link_base,
        event,
        at: now,
        sla: SlaFacts::pick(&conversation.sla, &event),
    };
    let fired = [Fired {
        id: rule.id,
        rule: definition,
    }];
    let fired: &[Fired<'_>] = if explanation.would_fire { &fired } else { &[] };
    let Applied {
        state: after,
        mut effects,
    } = apply_actions(&ConversationState::of_view(&conversation), fired, &env);
    for e in &mut effects {
        if let SideEffect::Webhook { secret, .. } = e {
            if !secret.is_empty() {
                *secret = MASK.to_string();
            }
        }
    }
    Ok(TestResult {
        rule: rule.id,
        conversation: conversation.id,
        explanation,
        would_apply: WouldApply {
            state: after,
            effects,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn today_starts_at_midnight_utc() {
        let t = DateTime::parse_from_rfc3339("2026-11-24T17:45:12Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(start_of_day(t).to_rfc3339(), "2026-11-24T00:00:00+00:00");
    }

    #[test]
    fn the_trigger_message_is_the_first_or_latest_public_one() {
        let events: Vec<IncomingEvent> = [
            json!({"id": "1", "type": "message.created", "conversation": "c", "at": "2026-11-24T10:00:00Z", "author": "customer", "text": "first"}),
            json!({"id": "2", "type": "message.created", "conversation": "c", "at": "2026-11-24T10:01:00Z", "author": "agent", "text": "note", "private": true}),
            json!({"id": "3", "type": "message.created", "conversation": "c", "at": "2026-11-24T10:02:00Z", "author": "agent", "text": "latest"}),
        ]
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
        assert_eq!(
            trigger_message(&events, RuleEvent::ConversationCreated),
            Some((Author::Customer, "first"))
        );
        assert_eq!(
            trigger_message(&events, RuleEvent::MessageCreated),
            Some((Author::Agent, "latest"))
        );
        assert_eq!(trigger_message(&events, RuleEvent::SlaBreached), None);
    }
}
