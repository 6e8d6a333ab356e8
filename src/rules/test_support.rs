//! Helpers shared by the rules' unit tests: a sample conversation and quick rule builders.

use super::*;
use crate::account::FieldError;
use crate::conversation::{Channel, Contact, ConversationSummary, Priority, Visibility};
use crate::instant;
use crate::timeline::ConversationStatus;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

pub(super) fn t(text: &str) -> DateTime<Utc> {
    instant::parse_rfc3339(text).unwrap()
}

pub(super) fn summary() -> ConversationSummary {
    ConversationSummary {
        channel: Channel::Email,
        visibility: Visibility::Direct,
        contact: Contact {
            name: Some("Ann Lee".into()),
            email: Some("Ann@BigCorp.com".into()),
            handle: Some("@ann".into()),
        },
        priority: Priority::Urgent,
        labels: vec!["VIP".into(), "billing".into()],
        team: Some("Support".into()),
        owner: None,
        status: ConversationStatus::Open,
        bot: false,
        created_at: t("2026-11-24T09:00:00Z"),
        last_message: None,
        last_author: None,
        last_message_at: None,
        surveys: Vec::new(),
        left_at: None,
    }
}

pub(super) fn parse(v: Value) -> Result<RuleDefinition, Vec<FieldError>> {
    parse_rule(&v, |id| id == 12 || id == 7, |id| id == 3)
}

pub(super) fn rule(v: Value) -> RuleDefinition {
    parse(v).unwrap()
}

/// A message.created rule with one condition.
pub(super) fn one(condition: Value) -> RuleDefinition {
    rule(
        json!({"name": "r", "event": "message.created", "conditions": [condition],
                "actions": [{"type": "add_label", "label": "x"}]}),
    )
}

/// Whether `condition` holds on `ctx` for a message.created event.
pub(super) fn holds(condition: Value, ctx: &RuleContext) -> bool {
    one(condition).conditions_match(&FiredEvent::MessageCreated, ctx)
}

pub(super) fn cond(field: &str, op: &str, value: Value) -> Value {
    if value.is_null() {
        json!({"field": field, "op": op})
    } else {
        json!({"field": field, "op": op, "value": value})
    }
}
