//! The dry run: [`explain`] shows, for one rule on one conversation, what each condition
//! asked, what it saw and whether it matched, and what the rule would do.

use super::eval::RuleContext;
use super::model::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How much of a message text an explanation shows.
const SEEN_TEXT_CHARS: usize = 200;

/// One condition in a dry run: what it asked, what it saw, whether it matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConditionCheck {
    pub field: Field,
    pub op: Op,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ConditionValue>,
    /// The conversation's value (`null` when it has none; for `business_hours` "open" or
    /// "closed", `null` for an unknown calendar).
    #[schema(schema_with = crate::schema::any)]
    pub seen: Value,
    pub matched: bool,
}

/// A rule's dry run against one conversation (`POST /api/v1/rules/{id}/test`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = RuleExplanation)]
pub struct Explanation {
    pub event: FiredEvent,
    /// Whether the rule runs at all; the dry run explains a disabled rule as if enabled.
    pub enabled: bool,
    /// Whether the rule listens to `event` (and its overdue level).
    pub listens: bool,
    #[serde(rename = "match")]
    pub matching: Match,
    pub conditions: Vec<ConditionCheck>,
    pub conditions_match: bool,
    /// `listens` and `conditions_match` (whatever `enabled` says).
    pub would_fire: bool,
    /// The actions it would take (empty unless it would fire).
    pub actions: Vec<Action>,
    /// Whether it would stop later rules.
    pub stop: bool,
}

/// Explains `rule` for `event` on the conversation of `ctx`, changing nothing. Every
/// condition is checked and shown, also past the one that decided.
pub fn explain(rule: &RuleDefinition, event: &FiredEvent, ctx: &RuleContext<'_>) -> Explanation {
    let conditions: Vec<ConditionCheck> = rule
        .conditions
        .iter()
        .map(|c| ConditionCheck {
            field: c.field,
            op: c.op,
            value: c.value.clone(),
            seen: ctx.seen(c.field, c, event),
            matched: c.matches(event, ctx),
        })
        .collect();
    let conditions_match = conditions.is_empty()
        || match rule.matching {
            Match::All => conditions.iter().all(|c| c.matched),
            Match::Any => conditions.iter().any(|c| c.matched),
        };
    let listens = rule.listens_to(event);
    let would_fire = listens && conditions_match;
    Explanation {
        event: *event,
        enabled: rule.enabled,
        listens,
        matching: rule.matching,
        conditions,
        conditions_match,
        would_fire,
        actions: if would_fire {
            rule.actions.clone()
        } else {
            Vec::new()
        },
        stop: would_fire && rule.stop,
    }
}

impl RuleContext<'_> {
    /// The value a condition on `field` saw, as written in the conversation, for the dry run.
    fn seen(&self, field: Field, condition: &Condition, event: &FiredEvent) -> Value {
        let c = self.conversation;
        let text = |s: &Option<String>| {
            s.as_deref()
                .filter(|s| !s.trim().is_empty())
                .map_or(Value::Null, |s| Value::String(s.to_string()))
        };
        let word = |i: Option<usize>| match (i, field.choices()) {
            (Some(i), Some(choices)) => Value::String(choices[i].to_string()),
            _ => Value::Null,
        };
        match field {
            Field::Channel
            | Field::Visibility
            | Field::Priority
            | Field::Status
            | Field::MessageAuthor
            | Field::SlaMetric => word(self.enum_index(field, event)),
            Field::Team => text(&c.team),
            Field::Owner => text(&c.owner),
            Field::ContactEmail => text(&c.contact.email),
            Field::ContactName => text(&c.contact.name),
            Field::Labels => Value::from(c.labels.clone()),
            Field::MessageText => self.message.map_or(Value::Null, |m| {
                let mut shown: String = m.text.chars().take(SEEN_TEXT_CHARS).collect();
                if m.text.chars().nth(SEEN_TEXT_CHARS).is_some() {
                    shown.push('…');
                }
                Value::String(shown)
            }),
            Field::BusinessHours => match &condition.value {
                Some(ConditionValue::Calendar(id)) => match (self.business_hours)(*id) {
                    Some(true) => Value::from("open"),
                    Some(false) => Value::from("closed"),
                    None => Value::Null,
                },
                _ => Value::Null,
            },
            // A conversation has no band: band rules fire on the live service level.
            Field::Band | Field::BandFrom | Field::Contract => Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::Priority;
    use crate::rules::test_support::*;
    use crate::timeline::Author;
    use serde_json::json;

    #[test]
    fn explain_shows_each_condition_what_it_saw_and_the_actions() {
        let s = summary();
        let open = |_: i64| Some(false);
        let ctx = RuleContext::new(&s)
            .with_message(Author::Customer, "Refund now")
            .with_business_hours(&open);
        let r = rule(
            json!({"name": "x", "event": "message.created", "match": "all", "enabled": false,
            "stop": true,
            "conditions": [cond("contact.email", "ends_with", json!("bigcorp.com")),
                           cond("labels", "contains", json!("vip")),
                           cond("owner", "is", json!("anyone")),
                           cond("message.text", "contains", json!("refund")),
                           cond("business_hours", "closed", json!(3))],
            "actions": [{"type": "set_priority", "priority": "high"}]}),
        );
        let e = explain(&r, &FiredEvent::MessageCreated, &ctx);
        let matched: Vec<bool> = e.conditions.iter().map(|c| c.matched).collect();
        assert_eq!(matched, vec![true, true, false, true, true]);
        let seen: Vec<&Value> = e.conditions.iter().map(|c| &c.seen).collect();
        assert_eq!(
            seen,
            vec![
                &json!("Ann@BigCorp.com"),
                &json!(["VIP", "billing"]),
                &Value::Null,
                &json!("Refund now"),
                &json!("closed"),
            ]
        );
        assert!(!e.enabled);
        assert!(e.listens);
        assert!(!e.conditions_match);
        assert!(!e.would_fire);
        assert!(e.actions.is_empty());
        assert!(!e.stop);
        let any = RuleDefinition {
            matching: Match::Any,
            ..r.clone()
        };
        let e = explain(&any, &FiredEvent::MessageCreated, &ctx);
        assert!(e.would_fire, "a disabled rule is explained as if enabled");
        assert!(e.stop);
        assert_eq!(
            e.actions,
            vec![Action::SetPriority {
                priority: Priority::High
            }]
        );
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Explanation>(&text).unwrap(), e);
        let e = explain(&any, &FiredEvent::ConversationUpdated, &ctx);
        assert!(!e.listens);
        assert!(!e.would_fire);
        // Long texts are cut in what the dry run shows.
        let long = "a ".repeat(300);
        let ctx = RuleContext::new(&s).with_message(Author::Customer, &long);
        let e = explain(&r, &FiredEvent::MessageCreated, &ctx);
        assert_eq!(e.conditions[3].seen.as_str().unwrap().chars().count(), 201);
    }
}
