//! Criterion benchmark of the automation rules: one event against 200 rules.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use promptly::conversation::{Channel, ConversationSummary, IncomingEvent};
use promptly::rules::{evaluate, parse_rule, FiredEvent, RuleContext, RuleDefinition};
use promptly::Author;
use serde_json::json;

/// 200 rules of the kinds a busy support team keeps: routing by e-mail domain, channel and
/// priority, keyword triage on messages, business-hours checks, SLA escalations.
fn rules() -> Vec<(i64, RuleDefinition)> {
    let channels = Channel::NAMES;
    (0..200)
        .map(|i| {
            let value = match i % 5 {
                0 => json!({"name": format!("domain {i}"), "event": "message.created", "match": "all",
                    "conditions": [{"field": "contact.email", "op": "ends_with", "value": format!("@client{i}.com")},
                                   {"field": "priority", "op": "in", "value": ["high", "urgent"]}],
                    "actions": [{"type": "assign_team", "team": format!("team {i}")}]}),
                1 => json!({"name": format!("words {i}"), "event": "message.created", "match": "any",
                    "conditions": [{"field": "message.text", "op": "contains_any", "value": [format!("refund{i}"), "cancel", "lawyer"]},
                                   {"field": "labels", "op": "contains", "value": format!("vip{i}")}],
                    "actions": [{"type": "add_label", "label": "escalate"}]}),
                2 => json!({"name": format!("channel {i}"), "event": "message.created", "match": "all",
                    "conditions": [{"field": "channel", "op": "is", "value": channels[i % channels.len()]},
                                   {"field": "owner", "op": "is_not_set"},
                                   {"field": "business_hours", "op": "closed", "value": 1}],
                    "actions": [{"type": "send_message", "template": "Hi {{contact.name}}, we are closed; we answer within {{sla.due_in}}."}]}),
                3 => json!({"name": format!("team {i}"), "event": "message.created", "match": "all",
                    "conditions": [{"field": "team", "op": "is", "value": format!("team {i}")},
                                   {"field": "message.author", "op": "is", "value": "customer"}],
                    "actions": [{"type": "set_priority", "priority": "high"}]}),
                _ => json!({"name": format!("name {i}"), "event": "message.created", "match": "all",
                    "conditions": [{"field": "contact.name", "op": "starts_with", "value": format!("Zed{i}")}],
                    "actions": [{"type": "remove_owner"}]}),
            };
            (i as i64, parse_rule(&value, |_| true, |_| true).expect("a valid rule"))
        })
        .collect()
}

fn conversation() -> ConversationSummary {
    let e: IncomingEvent = serde_json::from_value(json!({"id": "e1", "type": "conversation.created",
        "conversation": "c", "at": "2026-11-24T10:00:00Z", "channel": "whatsapp", "visibility": "direct", "priority": "high",
        "labels": ["vip", "billing"], "team": "support",
        "contact": {"name": "Maria Lopez", "email": "maria@client0.com"}}))
    .unwrap();
    promptly::conversation::fold(&[e]).unwrap().0
}

fn bench(c: &mut Criterion) {
    let rules = rules();
    let summary = conversation();
    let text = "Hello, I would like to cancel my order and get a refund, it has been two weeks!";
    let closed = |_: i64| Some(false);
    c.bench_function("evaluate one message.created against 200 rules", |b| {
        b.iter(|| {
            let ctx = RuleContext::new(black_box(&summary))
                .with_message(Author::Customer, black_box(text))
                .with_business_hours(&closed);
            let out = evaluate(black_box(&rules), &FiredEvent::MessageCreated, &ctx);
            black_box(out.fired.len())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
